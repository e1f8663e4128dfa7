//! Pieces shared by the subcommands: tree/branch arguments, loading selected float
//! branches with a progress bar, and formatting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use refloat::io::{self, FloatBranch, RootFile, Selection, Tree};

/// Which tree and which branches.
#[derive(clap::Args, Clone, Debug)]
pub struct SelectArgs {
    /// Tree to read.
    #[arg(long, default_value = "CollectionTree")]
    pub tree: String,

    /// Float branches to process, by exact name or glob (`AnalysisElectronsAuxDyn.*`);
    /// repeat the flag or separate with commas. Default: every float and
    /// std::vector<float> branch of the tree.
    #[arg(
        long = "branches",
        short = 'b',
        value_name = "NAME|GLOB",
        value_delimiter = ','
    )]
    pub branches: Vec<String>,
}

/// An open file, its tree and the selected float branches.
pub struct Loaded {
    pub file: RootFile,
    pub tree: Tree,
    pub selection: Selection,
}

/// Opens `path`, its tree, and selects the float branches.
pub fn load(path: &Path, select: &SelectArgs) -> Result<Loaded> {
    let patterns = io::parse_patterns(&select.branches)?;
    let mut file = io::open(path)?;
    let tree = file.tree(&select.tree)?;
    let selection = tree.select(&patterns)?;
    if selection.floats.is_empty() {
        bail!(
            "{}: tree '{}': no float or std::vector<float> branch selected",
            path.display(),
            select.tree
        );
    }
    Ok(Loaded {
        file,
        tree,
        selection,
    })
}

/// A progress bar over `len` items on stderr; drawn only on a terminal, and only once the
/// work has taken a moment.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Reads every selected float branch, with a progress bar.
pub fn read_selected(tree: &Tree, selection: &Selection, what: &str) -> Result<Vec<FloatBranch>> {
    let pb = progress(selection.floats.len(), what);
    let mut out = Vec::with_capacity(selection.floats.len());
    for info in &selection.floats {
        pb.set_message(info.name.clone());
        out.push(tree.read_float(&info.name)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// Errors if `output` is the same file as `input` (writing would replace what is read).
pub fn refuse_same_file(input: &Path, output: &Path) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canon(input) == canon(output) {
        bail!(
            "{}: the output would replace the input; choose another output path",
            output.display()
        );
    }
    Ok(())
}

/// Bytes in human units (`1.83 MB`, decimal).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// ROOT's compression setting in words (`ZLIB level 5`).
pub fn describe_compression(setting: i32) -> String {
    let (alg, level) = (setting / 100, setting % 100);
    if setting == 0 || level == 0 {
        return "uncompressed".into();
    }
    let name = match alg {
        0 | 1 => "ZLIB",
        2 => "LZMA",
        3 => "old ROOT",
        4 => "LZ4",
        5 => "ZSTD",
        _ => "unknown algorithm",
    };
    format!("{name} level {level}")
}

/// Counts of skipped branches per reason, most frequent first.
pub fn skipped_summary(selection: &Selection) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in &selection.skipped {
        match counts.iter_mut().find(|(r, _)| *r == s.reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.reason.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

/// Prints the skipped branches: a count per reason, or every branch when `all`.
pub fn print_skipped(selection: &Selection, all: bool, not_carried_to: Option<&Path>) {
    if selection.skipped.is_empty() {
        return;
    }
    match not_carried_to {
        Some(out) => println!(
            "not carried to {} ({} branches; refloat writes only float and std::vector<float> branches):",
            out.display(),
            selection.skipped.len()
        ),
        None => println!("skipped {} branches:", selection.skipped.len()),
    }
    if all {
        for s in &selection.skipped {
            println!("  {}  [{}]", s.name, s.reason);
        }
    } else {
        for (reason, n) in skipped_summary(selection).iter().take(12) {
            println!("  {n:>5}  {reason}");
        }
        let shown: usize = skipped_summary(selection)
            .iter()
            .take(12)
            .map(|(_, n)| n)
            .sum();
        if shown < selection.skipped.len() {
            println!("  {:>5}  other types", selection.skipped.len() - shown);
        }
        println!("  (--list-skipped lists every branch)");
    }
}

/// A temporary file beside `path` (same directory, same extension, mode 0644), to be
/// persisted onto `path` once complete.
pub fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let suffix = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut builder = tempfile::Builder::new();
    builder.prefix(".refloat-").suffix(&suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot create a file in this directory", dir.display()))
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut tmp = temp_beside(path)?;
    serde_json::to_writer_pretty(&mut tmp, value)
        .with_context(|| format!("{}: writing JSON", path.display()))?;
    use std::io::Write;
    tmp.write_all(b"\n")
        .with_context(|| format!("{}: writing JSON", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Parses a `--mode` value.
pub fn parse_mode(text: &str) -> Result<refloat::RoundingMode> {
    Ok(text.parse::<refloat::RoundingMode>()?)
}
