//! Pieces shared by the subcommands: tree/branch arguments, loading selected float
//! branches with a progress bar, and formatting.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use refloat::io::rewrite::Compression;
use refloat::io::{self, FloatBranch, Selection, Skipped, Tree};
pub use refloat::pipeline::Loaded;
use refloat::pipeline::{Progress, Select, Stage};

/// Which tree and which branches.
#[derive(clap::Args, Clone, Debug)]
pub struct SelectArgs {
    /// Tree to read. Default: CollectionTree (ATLAS), else Events (CMS NanoAOD), else the only
    /// tree with float branches.
    #[arg(long)]
    pub tree: Option<String>,

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

impl SelectArgs {
    /// The library's selection.
    pub fn to_select(&self) -> Select {
        Select {
            tree: self.tree.clone(),
            branches: self.branches.clone(),
        }
    }
}

/// Set by a command that draws one bar over all its steps (`bench`): [`progress`] then
/// hands out hidden bars, so that the steps' own bars do not fight with it.
static STEP_BARS_HIDDEN: AtomicBool = AtomicBool::new(false);

/// Hides the bars of [`progress`] from now on in this process (the caller draws its own,
/// with [`progress_bar`]).
pub fn hide_step_bars() {
    STEP_BARS_HIDDEN.store(true, Ordering::Relaxed);
}

/// A progress bar over `len` items on stderr; drawn only on a terminal (indicatif hides it
/// otherwise), and not at all after [`hide_step_bars`].
pub fn progress(len: usize, what: &str) -> ProgressBar {
    if STEP_BARS_HIDDEN.load(Ordering::Relaxed) {
        return ProgressBar::hidden();
    }
    progress_bar(len, what)
}

/// A progress bar over `len` items on stderr, drawn only on a terminal, whatever
/// [`hide_step_bars`] said; cleared when dropped (also on an error).
pub fn progress_bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64).with_finish(ProgressFinish::AndClear);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Progress bars for a library pipeline ([`refloat::pipeline`]): one bar per stage, over
/// its branches, named after the stage (see [`progress`]).
pub fn bars() -> impl FnMut(Progress<'_>) {
    let mut bar: Option<ProgressBar> = None;
    move |p: Progress<'_>| {
        let edge = p.branch.is_empty();
        if edge && p.done == 0 {
            bar = Some(progress(p.total, p.stage.name()));
        }
        if let Some(b) = &bar {
            b.set_position(p.done as u64);
            if !edge {
                b.set_message(p.branch.to_string());
            }
        }
        if edge && p.done == p.total {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

/// Reads every selected float branch, with a progress bar.
pub fn read_selected(tree: &Tree, selection: &Selection) -> Result<Vec<FloatBranch>> {
    Ok(refloat::pipeline::read_selected(
        tree,
        selection,
        Stage::Reading,
        &mut bars(),
    )?)
}

/// Opens `path`, its tree, and selects the float branches (an error if none is selected).
pub fn load(path: &Path, select: &SelectArgs) -> Result<Loaded> {
    Ok(refloat::pipeline::load(path, &select.to_select())?)
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
pub fn skipped_summary(skipped: &[Skipped]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in skipped {
        match counts.iter_mut().find(|(r, _)| *r == s.reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.reason.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

/// Prints the float-like branches that were not processed: a count per reason, or every
/// branch when `all`.
pub fn print_skipped(skipped: &[Skipped], all: bool, heading: &str) {
    if skipped.is_empty() {
        return;
    }
    println!("{heading} ({} branches):", skipped.len());
    let counts = skipped_summary(skipped);
    if all {
        for s in skipped {
            println!("  {}  [{}]", s.name, s.reason);
        }
    } else {
        for (reason, n) in counts.iter().take(12) {
            println!("  {n:>5}  {reason}");
        }
        let shown: usize = counts.iter().take(12).map(|(_, n)| n).sum();
        if shown < skipped.len() {
            println!("  {:>5}  other types", skipped.len() - shown);
        }
        println!("  (--list-skipped lists every branch)");
    }
}

/// Output options shared by the commands that write a ROOT file (`compress`, `correct`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OutputArgs {
    /// Compression of the rewritten baskets: zlib:N, lzma:N, lz4:N, zstd:N (N = level;
    /// without it ROOT's default level), none, or ROOT's setting (505). Default: the input
    /// file's own. Baskets of other branches are copied as stored.
    #[arg(long, value_name = "ALG:LEVEL")]
    pub compression: Option<String>,
    /// Also write the summary as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// List every branch that is left as stored, not just a count per reason.
    #[arg(long)]
    pub list_skipped: bool,
    /// Copy a record of the input that does not decode (another branch's damaged basket)
    /// and list it, instead of failing. By default every record copied byte for byte is
    /// decoded first, checksums included, and a damaged one fails the run.
    #[arg(long)]
    pub allow_damaged_copies: bool,
    /// Threads that decompress and compress baskets: 0 (default) every core, 1 one thread.
    /// The output is the same bytes whatever the count.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Write each input's output here under its own file name (every positional argument is
    /// then an input: paths or quoted globs such as 'in/*.root'), each file's JSON report
    /// beside it (NAME.json), and a summary at the end (to --json too).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// With --out-dir: a file that fails is reported and the next one is run (by default
    /// the run stops at the first failure). A failed file never leaves an output.
    #[arg(long, requires = "out_dir")]
    pub keep_going: bool,
}

/// The files a writing command works on: one input and its output, or a dataset.
pub enum Files {
    One(PathBuf, PathBuf),
    Dataset(Vec<PathBuf>, PathBuf),
}

/// The files named by the positional arguments (`INPUT OUTPUT`, or inputs with `--out-dir`).
pub fn files(paths: &[String], args: &OutputArgs) -> Result<Files> {
    match (&args.out_dir, paths) {
        (None, [input, output]) => Ok(Files::One(input.into(), output.into())),
        (None, _) => anyhow::bail!(
            "give INPUT OUTPUT, or inputs and --out-dir DIR (got {} paths)",
            paths.len()
        ),
        (Some(dir), _) => Ok(Files::Dataset(
            refloat::pipeline::dataset_inputs(paths)?,
            dir.clone(),
        )),
    }
}

/// Runs `one(input, output, args)` on the files the positional arguments name ([`files`]):
/// once, or over the dataset ([`run_dataset`]).
pub fn run_files(
    paths: &[String],
    args: &OutputArgs,
    mut one: impl FnMut(&std::path::Path, &std::path::Path, &OutputArgs) -> Result<()>,
) -> Result<()> {
    match files(paths, args)? {
        Files::One(input, output) => one(&input, &output, args),
        Files::Dataset(inputs, dir) => run_dataset(&inputs, &dir, args, one),
    }
}

/// Runs `one(input, output, args)` on every file of a dataset (through
/// [`refloat::pipeline::run_dataset`]), each file's JSON report beside its output, and
/// prints the summary; an error when a file failed.
pub fn run_dataset(
    inputs: &[PathBuf],
    dir: &std::path::Path,
    args: &OutputArgs,
    mut one: impl FnMut(&std::path::Path, &std::path::Path, &OutputArgs) -> Result<()>,
) -> Result<()> {
    let report = refloat::pipeline::run_dataset(inputs, dir, args.keep_going, |input, output| {
        println!("== {} -> {}", input.display(), output.display());
        let file_args = OutputArgs {
            json: Some(output.with_extension("json")),
            ..args.clone()
        };
        one(input, output, &file_args).map_err(file_failed)?;
        Ok(file_args.json.expect("set above"))
    })?;
    finish_dataset(
        &report,
        &format!("into {}", dir.display()),
        args.json.as_deref(),
    )
}

/// Runs `one(input, partner)` on every input (paths or globs) and its partner in `dir` (the
/// file of the same name: [`refloat::pipeline::dataset_partners`]), or alone without a
/// `dir`, through [`refloat::pipeline::run_each`]; each file's report goes in the summary
/// (`json`), printed at the end. An error when a file failed.
pub fn run_each<R: serde::Serialize>(
    paths: &[String],
    dir: Option<&std::path::Path>,
    keep_going: bool,
    json: Option<&std::path::Path>,
    mut one: impl FnMut(&std::path::Path, Option<&std::path::Path>) -> Result<R>,
) -> Result<()> {
    let inputs = refloat::pipeline::dataset_inputs(paths)?;
    let partners = refloat::pipeline::dataset_partners(&inputs, dir)?;
    let report = refloat::pipeline::run_each(&inputs, &partners, keep_going, |input, partner| {
        match partner {
            Some(p) => println!("== {} with {}", input.display(), p.display()),
            None => println!("== {}", input.display()),
        }
        one(input, partner).map_err(file_failed)
    });
    let with = dir
        .map(|d| format!("with {}", d.display()))
        .unwrap_or_default();
    finish_dataset(&report, &with, json)
}

/// One file of a dataset failed: said on stderr, and kept in the dataset's report.
fn file_failed(e: anyhow::Error) -> refloat::Error {
    eprintln!("refloat: error: {e:#}");
    e.downcast::<refloat::Error>()
        .unwrap_or_else(|e| refloat::Error::InvalidInput(format!("{e:#}")))
}

/// Prints a dataset's summary, writes it to `json`, and fails when a file did not succeed.
fn finish_dataset<R: serde::Serialize>(
    report: &refloat::pipeline::DatasetReport<R>,
    place: &str,
    json: Option<&std::path::Path>,
) -> Result<()> {
    println!(
        "dataset: {} files{}{place}: {} done, {} failed, {} not run",
        report.files.len(),
        if place.is_empty() { "" } else { " " },
        report.done,
        report.failed,
        report.not_run
    );
    for f in report.files.iter().filter(|f| f.error.is_some()) {
        println!("  failed: {}", f.input.display());
    }
    if let Some(path) = json {
        refloat::pipeline::write_report(path, report)?;
    }
    if !report.all_done() {
        anyhow::bail!(
            "{} of {} files failed{}",
            report.failed,
            report.files.len(),
            if report.not_run > 0 {
                format!(
                    " ({} not run: --keep-going runs past a failure)",
                    report.not_run
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Whether the positional arguments name one file (no glob), so that a command keeps its
/// one-file output.
pub fn one_path(paths: &[String]) -> Option<PathBuf> {
    match paths {
        [p] if !p.contains(['*', '?', '[']) => Some(PathBuf::from(p)),
        _ => None,
    }
}

impl OutputArgs {
    /// The `--compression` setting, parsed.
    pub fn compression(&self) -> Result<Option<Compression>> {
        self.compression
            .as_deref()
            .map(|c| {
                c.parse::<Compression>().map_err(|e| {
                    refloat::Error::InvalidArgument(format!("--compression {c}: {e}")).into()
                })
            })
            .transpose()
    }

    /// What `--allow-damaged-copies` asks of the rewrite.
    pub fn copies(&self) -> refloat::io::rewrite::CopyCheck {
        if self.allow_damaged_copies {
            refloat::io::rewrite::CopyCheck::Warn
        } else {
            refloat::io::rewrite::CopyCheck::Error
        }
    }
}

/// Warns about every record copied although it does not decode (`--allow-damaged-copies`).
pub fn print_damaged(written: &refloat::io::rewrite::Rewritten) {
    if !written.damaged_copies.is_empty() {
        eprintln!(
            "warning: {} damaged records of the input copied as they are (the output is damaged there too):",
            written.damaged_copies.len()
        );
        for d in &written.damaged_copies {
            eprintln!("  {d}");
        }
    }
}

/// Writes the JSON summary if asked, and lists the branches left as stored.
pub fn finish<T: serde::Serialize>(
    args: &OutputArgs,
    skipped: &[Skipped],
    floats_left_alone: &[Skipped],
    summary: &T,
) -> Result<()> {
    print_skipped(
        skipped,
        args.list_skipped,
        "left as stored (not float branches refloat can read)",
    );
    if !floats_left_alone.is_empty() {
        println!(
            "float values left as stored ({} branches: nested vectors, which Athena does not round either, and other trees'):",
            floats_left_alone.len()
        );
        let shown = if args.list_skipped {
            floats_left_alone.len()
        } else {
            floats_left_alone.len().min(8)
        };
        for f in &floats_left_alone[..shown] {
            println!("  {} ({}): {}", f.name, f.type_name, f.reason);
        }
        if shown < floats_left_alone.len() {
            println!(
                "  … and {} more (--list-skipped lists every one)",
                floats_left_alone.len() - shown
            );
        }
    }
    if let Some(json) = &args.json {
        write_json(json, summary)?;
        println!("summary written to {}", json.display());
    }
    Ok(())
}

/// A temporary file beside `path` (same directory, same extension, mode 0644), to be
/// persisted onto `path` once complete.
pub fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let suffix = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    io::temp_file_beside(path, &suffix).map_err(|e| match e {
        refloat::Error::Io { path: dir, source } => anyhow::Error::new(source).context(format!(
            "{}: cannot create a file in this directory",
            dir.display()
        )),
        e => e.into(),
    })
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

/// A rounding scheme on the command line (`--mode`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Round half away from zero on the magnitude (ATLAS CxxUtils::FloatCompressor).
    Nearest,
    /// Drop the bits, toward zero (ROOT RNTuple Real32Trunc).
    Truncate,
    /// IEEE round half to even on the kept bits (BitInformation.jl, numcodecs BitRound).
    NearestEven,
    /// CMS NanoAOD (MiniFloatConverter::reduceMantissaToNbitsRounding): no carry into the
    /// exponent, the top two codes never rounded up.
    Cms,
    /// ROOT Float16_t / Double32_t with [0,0,n]: half up, saturating at the top code.
    RootFloat16,
    /// netCDF-4 BITROUND: nearest without the overflow guard.
    Bitround,
}

impl From<Mode> for refloat::RoundingMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Nearest => refloat::RoundingMode::Nearest,
            Mode::Truncate => refloat::RoundingMode::Truncate,
            Mode::NearestEven => refloat::RoundingMode::NearestEven,
            Mode::Cms => refloat::RoundingMode::Cms,
            Mode::RootFloat16 => refloat::RoundingMode::RootFloat16,
            Mode::Bitround => refloat::RoundingMode::BitRound,
        }
    }
}
