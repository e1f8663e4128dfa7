//! Peak resident memory of `refloat compress` and `refloat correct` on large files, for
//! `refloat bench`: each step runs as its own process (so its peak is its own), under an
//! address-space cap, on two files made from the input's real values, one ten times the
//! other. Streaming by basket keeps the peak flat as the file grows; a step that holds a
//! whole branch (`inspect`, the baseline) grows with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use refloat::io::{FloatBranch, TreeWriter};
use serde::Serialize;

/// One step measured on both files.
#[derive(Serialize, Debug, Clone)]
pub struct MemoryRow {
    /// The command line, without paths.
    pub step: String,
    /// Float values in the small and the large file.
    pub values: [u64; 2],
    /// Peak resident set size of the process on each file, bytes.
    pub peak_rss_bytes: [u64; 2],
    /// Wall time on each file, seconds.
    pub seconds: [f64; 2],
    /// `peak_rss_bytes[1] / peak_rss_bytes[0]`: about 1 when memory does not grow with the
    /// file.
    pub growth: f64,
}

/// What the memory measurement did.
#[derive(Serialize, Debug, Clone)]
pub struct MemoryReport {
    /// Address-space limit (`RLIMIT_AS`) each process ran under, bytes: the cap asked for
    /// plus what the program maps at start (`mapped_at_start_bytes`).
    pub cap_bytes: u64,
    /// Peak virtual size of `refloat --version` (shared libraries and runtime), bytes.
    pub mapped_at_start_bytes: u64,
    /// Size of the float payload of the large file (4 bytes a value).
    pub payload_bytes: u64,
    pub rows: Vec<MemoryRow>,
}

/// Environment variable naming a file into which `refloat` writes its peak resident set
/// size (bytes, `VmHWM` of `/proc/self/status`) when it exits.
pub const PEAK_ENV: &str = "REFLOAT_PEAK_RSS_FILE";

/// Writes this process's peak resident set size and peak virtual size (bytes, `VmHWM` and
/// `VmPeak` of `/proc/self/status`) to the file named by [`PEAK_ENV`], if set.
pub fn report_peak_rss() {
    let Some(path) = std::env::var_os(PEAK_ENV) else {
        return;
    };
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    if let (Some(hwm), Some(peak)) = (field("VmHWM:"), field("VmPeak:")) {
        let _ = std::fs::write(path, format!("{} {}\n", hwm * 1024, peak * 1024));
    }
}

/// Peak resident and virtual size written by a child through [`PEAK_ENV`].
fn read_peaks(path: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace().map(|t| t.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

/// Branches of the generated files: jagged, like PHYSLITE's aux variables.
const BRANCHES: [&str; 2] = ["BigAuxDyn.pt", "BigAuxDyn.eta"];

/// Writes a tree `tree` whose branches hold `values` values in all, cycling through `pool`
/// (real values) with per-entry counts cycling through `counts`.
fn make_file(path: &Path, tree: &str, pool: &[f32], counts: &[usize], values: usize) -> Result<()> {
    let per_branch = values / BRANCHES.len();
    let mut w = TreeWriter::new(path, tree);
    for (b, name) in BRANCHES.iter().enumerate() {
        let mut offsets = vec![0usize];
        let mut i = 0;
        while *offsets.last().expect("not empty") < per_branch {
            let next =
                (offsets.last().expect("not empty") + counts[i % counts.len()]).min(per_branch);
            offsets.push(next);
            i += 1;
        }
        let start = b * pool.len() / BRANCHES.len();
        let v: Vec<f32> = (0..per_branch)
            .map(|k| pool[(start + k) % pool.len()])
            .collect();
        w.add(FloatBranch::jagged(*name, v, offsets)?)?;
    }
    w.write()?;
    Ok(())
}

/// Runs `exe args` with its address space capped at `cap` bytes; returns its peak resident
/// set size (bytes) and wall time.
fn measured(exe: &Path, args: &[String], cap: u64, log: &Path) -> Result<(u64, f64)> {
    let mut cmd = Command::new(exe);
    let peak_file = log.with_extension("peak");
    let _ = std::fs::remove_file(&peak_file);
    cmd.args(args)
        .env(PEAK_ENV, &peak_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log)?));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: cap as libc::rlim_t,
                    rlim_max: cap as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let t = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } != pid {
        bail!(
            "waiting for {}: {}",
            exe.display(),
            std::io::Error::last_os_error()
        );
    }
    let seconds = t.elapsed().as_secs_f64();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let err = std::fs::read_to_string(log).unwrap_or_default();
        bail!(
            "`refloat {}` failed under a {} MiB address-space cap: {}",
            args.join(" "),
            cap >> 20,
            err.lines().last().unwrap_or("(no message)")
        );
    }
    // The child's own VmHWM: wait4's ru_maxrss would include the parent's resident set,
    // which a forked child inherits and Linux carries across exec.
    let peak = read_peaks(&peak_file).map_or(usage.ru_maxrss as u64 * 1024, |p| p.0);
    Ok((peak, seconds))
}

/// Steps of [`measure`] it reports on its progress bar: `refloat --version`, then per file
/// size writing the file and three child processes.
pub const STEPS: usize = 1 + 2 * (1 + 3);

/// Measures `read-whole` (baseline: reads each branch whole), `compress` and `correct
/// --method prior-mean` on files of `values / 10` and `values` values made from `pool`,
/// each process allowed `cap` bytes of address space beyond what the program maps at start.
/// Advances `pb` by [`STEPS`], saying which step runs.
pub fn measure(
    pool: &[f32],
    counts: &[usize],
    values: usize,
    bits: u32,
    cap: u64,
    dir: &Path,
    pb: &ProgressBar,
) -> Result<MemoryReport> {
    let pool: Vec<f32> = pool.iter().copied().filter(|x| x.is_finite()).collect();
    let counts: Vec<usize> = counts.iter().copied().filter(|&c| c > 0).collect();
    if pool.is_empty() {
        bail!("no finite values to build the memory-test files from");
    }
    let counts = if counts.is_empty() { vec![4] } else { counts };
    let exe = std::env::current_exe().context("locating the refloat executable")?;
    // The cap counts on top of what the program maps before doing anything (its shared
    // libraries: libtorch alone maps gigabytes of address space in a `torch` build).
    let start = dir.join("start.log");
    pb.set_message("memory: refloat --version (what is mapped at start)");
    measured(&exe, &["--version".to_string()], u64::MAX, &start)?;
    pb.inc(1);
    let (_, mapped) = read_peaks(&start.with_extension("peak")).unwrap_or((0, 0));
    let cap = mapped.saturating_add(cap);
    let tree = "CollectionTree";
    let sizes = [values / 10, values];
    let p = |name: String| -> PathBuf { dir.join(name) };
    let s = |p: &Path| p.to_string_lossy().into_owned();
    // (label, arguments of the command from (input, output, kept bits))
    type Arguments = fn(&str, &str, u32) -> Vec<String>;
    let steps: [(&str, Arguments); 3] = [
        (
            "read-whole (baseline: reads each branch whole)",
            |i, _, _| vec!["read-whole".into(), i.into()],
        ),
        ("compress --bits N", |i, o, b| {
            vec![
                "compress".into(),
                i.into(),
                o.into(),
                "--bits".into(),
                b.to_string(),
            ]
        }),
        ("correct --method prior-mean", |i, o, _| {
            vec![
                "correct".into(),
                i.into(),
                o.into(),
                "--method".into(),
                "prior-mean".into(),
            ]
        }),
    ];
    let mut rows: Vec<MemoryRow> = steps
        .iter()
        .map(|(name, _)| MemoryRow {
            step: name.replace('N', &bits.to_string()),
            values: [0; 2],
            peak_rss_bytes: [0; 2],
            seconds: [0.0; 2],
            growth: 0.0,
        })
        .collect();
    for (k, &n) in sizes.iter().enumerate() {
        let orig = p(format!("big{k}.root"));
        let comp = p(format!("big{k}.b{bits}.root"));
        let corr = p(format!("big{k}.corrected.root"));
        pb.set_message(format!(
            "memory: writing a file of {:.1}M values",
            n as f64 / 1e6
        ));
        make_file(&orig, tree, &pool, &counts, n)?;
        pb.inc(1);
        let n = (n / BRANCHES.len() * BRANCHES.len()) as u64;
        // read-whole reads the original, compress writes `comp`, correct reads it.
        let io = [(&orig, &orig), (&orig, &comp), (&comp, &corr)];
        for (j, (_, step)) in steps.iter().enumerate() {
            let args = step(&s(io[j].0), &s(io[j].1), bits);
            pb.set_message(format!(
                "memory: {} on {:.1}M values (own process)",
                rows[j].step,
                n as f64 / 1e6
            ));
            let (rss, secs) = measured(&exe, &args, cap, &p(format!("step{j}.log")))?;
            pb.inc(1);
            rows[j].values[k] = n;
            rows[j].peak_rss_bytes[k] = rss;
            rows[j].seconds[k] = secs;
        }
        for f in [&orig, &comp, &corr] {
            let _ = std::fs::remove_file(f);
        }
    }
    for r in &mut rows {
        r.growth = r.peak_rss_bytes[1] as f64 / r.peak_rss_bytes[0].max(1) as f64;
    }
    Ok(MemoryReport {
        cap_bytes: cap,
        mapped_at_start_bytes: mapped,
        payload_bytes: 4 * rows[0].values[1],
        rows,
    })
}

/// Prints the memory table.
pub fn print(r: &MemoryReport) {
    let Some(first) = r.rows.first() else { return };
    println!(
        "peak resident memory, each step its own process capped at {} MiB of address space beyond the {} MiB mapped at start; files of real values (2 std::vector<float> branches), float payload {} in the large one:",
        (r.cap_bytes - r.mapped_at_start_bytes) >> 20,
        r.mapped_at_start_bytes >> 20,
        super::common::human_bytes(r.payload_bytes)
    );
    let w = r.rows.iter().map(|x| x.step.len()).max().unwrap_or(10);
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    println!(
        "  {:<w$}  {:>14}  {:>14}  {:>10}",
        "step",
        format!("{:.1}M values", first.values[0] as f64 / 1e6),
        format!("{:.1}M values", first.values[1] as f64 / 1e6),
        "growth"
    );
    for row in &r.rows {
        println!(
            "  {:<w$}  {:>14}  {:>14}  {:>10.2}   ({:.1} s, {:.1} s)",
            row.step,
            mb(row.peak_rss_bytes[0]),
            mb(row.peak_rss_bytes[1]),
            row.growth,
            row.seconds[0],
            row.seconds[1]
        );
    }
}

/// Arguments of the hidden `refloat read-whole`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReadWholeArgs {
    /// ROOT file whose float branches are read.
    pub file: PathBuf,
}

/// `refloat read-whole FILE`: reads every float branch of the analysis tree whole and holds
/// them all, as a program that loads whole branches does; prints the values read.
pub fn read_whole(args: ReadWholeArgs) -> Result<()> {
    let loaded = refloat::pipeline::load(&args.file, &refloat::pipeline::Select::default())?;
    let mut held = Vec::with_capacity(loaded.selection.floats.len());
    for info in &loaded.selection.floats {
        held.push(loaded.tree.read_float(&info.name)?);
    }
    let values: usize = held.iter().map(|b| b.values.len()).sum();
    println!(
        "read {values} values of {} float branches whole",
        held.len()
    );
    Ok(())
}
