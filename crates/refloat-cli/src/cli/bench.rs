//! `refloat bench`: whole-file throughput of `compress` and `correct --method midpoint`,
//! each next to the time to just read and write the same branches unchanged (the I/O
//! floor), as a ratio.
//!
//! Then the peak resident memory of `compress` and `correct` as separate processes on a
//! large file and one a tenth of its size (see [`super::memory`]).
//!
//! To add a measurement (model throughput, peak memory, …) push a [`Row`] in [`run`]: a
//! row names its baseline row, and the table prints the ratio to it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use indicatif::ProgressBar;
use refloat::correct::{self, Method};
use refloat::io::rewrite::{rewrite_floats, CopyCheck, RewriteOptions};
use refloat::pipeline::{
    compress_file, correct_file, verify_file, CompressOptions, CorrectOptions, Correction,
    VerifyOptions,
};
use refloat::Quantiser32;
use serde::Serialize;

use super::common::{self, SelectArgs};

/// Arguments of `refloat bench`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat bench ../shared/data/PHYSLITE_example.root
  refloat bench ../shared/data/PHYSLITE_example.root --bits 7 --repeat 10 --json bench.json")]
pub struct Args {
    /// ROOT file with full-precision floats.
    pub file: PathBuf,
    /// Kept mantissa bits for the compress step.
    #[arg(long, default_value_t = 10)]
    pub bits: u32,
    /// Rounding of the compress step.
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Timed runs per measurement, after one untimed warm-up run (the best and the median
    /// are reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Threads of the file rows (the floors included): 0 (default) every core, 1 one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Values in the large file of the peak-memory measurement (a tenth in the small one),
    /// made from the input's values; 0 skips it.
    #[arg(long, default_value_t = 10_000_000)]
    pub memory_values: usize,
    /// Address-space cap (RLIMIT_AS) of each process in the peak-memory measurement, MiB,
    /// beyond what the program maps at start (its shared libraries).
    #[arg(long, default_value_t = 1024)]
    pub memory_cap_mib: u64,
    /// Also measure these models' inference throughput (1k, 64k, 1M values; one CPU core,
    /// and CUDA when libtorch sees a GPU) next to prior-mean on one thread (see `refloat
    /// train`); repeat the flag for several models.
    #[cfg(feature = "torch")]
    #[arg(long, value_name = "MODEL.pt")]
    pub model: Vec<PathBuf>,
    /// Seconds each model measurement runs for at least (after its warm-up calls).
    #[cfg(feature = "torch")]
    #[arg(long, default_value_t = 0.5)]
    pub model_seconds: f64,
}

/// One measurement.
#[derive(Serialize, Debug, Clone)]
pub struct Row {
    /// What was timed.
    pub name: String,
    /// Best of the runs, seconds.
    pub best_s: f64,
    /// Median of the runs, seconds.
    pub median_s: f64,
    /// Float values processed per run.
    pub values: usize,
    /// Index of the row this one is compared with (`best_s / baseline.best_s`).
    pub baseline: Option<usize>,
    /// `best_s / baseline.best_s`.
    pub ratio: Option<f64>,
}

/// Everything `bench` measured.
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub file: PathBuf,
    pub tree: String,
    pub branches: usize,
    pub values: usize,
    pub repeat: usize,
    pub threads: usize,
    pub rows: Vec<Row>,
    /// Peak resident memory of compress / correct as the file grows.
    pub memory: Option<super::memory::MemoryReport>,
    /// Model inference throughput next to prior-mean (`--model`; empty without it).
    pub models: Vec<ModelRow>,
}

/// One model (or prior-mean) throughput measurement.
#[derive(Serialize, Debug, Clone)]
pub struct ModelRow {
    /// The model file (`None` for prior-mean).
    pub model: Option<PathBuf>,
    /// `model:<kind>` or `prior-mean`.
    pub method: String,
    /// `cpu` (one core) or `cuda:N`.
    pub device: String,
    /// Values per call.
    pub batch: usize,
    /// Values corrected per second.
    pub values_per_second: f64,
    /// `values_per_second` over prior-mean's at the same batch.
    pub vs_prior_mean: f64,
}

/// Runs `f` once untimed, then `repeat` times timed (at least once); returns the best and
/// the median time, seconds. Each run advances `pb` by one.
fn time_runs(
    pb: &ProgressBar,
    what: &str,
    repeat: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(f64, f64)> {
    pb.set_message(format!("{what}: warm-up"));
    f()?; // warm-up: page cache, allocator, rayon's threads
    pb.inc(1);
    let runs = repeat.max(1);
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        pb.set_message(format!("{what}: run {}/{runs}", i + 1));
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
        pb.inc(1);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[0], refloat::stats::quantile_sorted(&times, 0.5)))
}

/// Stream every selected float branch of `input` into a drop-in copy, unchanged: the I/O
/// floor of `compress` and `correct` (with `copies` `Off`: the other records copied without
/// decoding them).
fn copy_unchanged(
    input: &std::path::Path,
    output: &std::path::Path,
    select: &SelectArgs,
    copies: CopyCheck,
    threads: usize,
) -> Result<()> {
    let loaded = common::load(input, select)?;
    rewrite_floats(
        input,
        output,
        &RewriteOptions {
            tree: loaded.tree.name().to_string(),
            branches: loaded
                .selection
                .floats
                .iter()
                .map(|b| b.name.clone())
                .collect(),
            compression: None,
            verify_written: false,
            copies,
            threads,
        },
        |_| Ok(()),
    )?;
    Ok(())
}

/// Runs `refloat bench`.
pub fn run(args: Args) -> Result<()> {
    let mode = refloat::RoundingMode::from(args.mode);
    let quantiser = Quantiser32::new(args.bits, mode)?;
    // One bar over every step (the steps' own bars stay hidden): eight timed measurements of
    // 1 + repeat runs, reading the input, and the memory measurement's child processes.
    let repeat_runs = 1 + args.repeat.max(1);
    let memory_steps = if args.memory_values > 0 {
        super::memory::STEPS
    } else {
        0
    };
    common::hide_step_bars();
    let pb = common::progress_bar(1 + 8 * repeat_runs + memory_steps, "bench");
    pb.set_message("reading the selected branches");
    let loaded = common::load(&args.file, &args.select)?;
    let originals = common::read_selected(&loaded.tree, &loaded.selection)?;
    pb.inc(1);
    let values: usize = originals.iter().map(|b| b.values.len()).sum();
    let tmp = tempfile::tempdir()?;
    let comp_path = tmp.path().join("compressed.root");
    let copy_path = tmp.path().join("copy.root");
    let corr_path = tmp.path().join("corrected.root");
    let repeat = args.repeat;
    let mut rows: Vec<Row> = Vec::new();
    let push =
        |rows: &mut Vec<Row>, name: String, (best, median): (f64, f64), baseline: Option<usize>| {
            let ratio = baseline.map(|b: usize| best / rows[b].best_s);
            rows.push(Row {
                name,
                best_s: best,
                median_s: median,
                values,
                baseline,
                ratio,
            });
            rows.len() - 1
        };

    let floor = time_runs(&pb, "I/O floor (input)", repeat, || {
        copy_unchanged(
            &args.file,
            &copy_path,
            &args.select,
            CopyCheck::Off,
            args.threads,
        )
    })?;
    let floor_orig = push(
        &mut rows,
        "I/O floor: stream + rewrite unchanged (input)".into(),
        floor,
        None,
    );
    let checked = time_runs(&pb, "I/O floor, copies decoded", repeat, || {
        copy_unchanged(
            &args.file,
            &copy_path,
            &args.select,
            CopyCheck::Error,
            args.threads,
        )
    })?;
    push(
        &mut rows,
        "same, every copied record decoded (damage check, on by default)".into(),
        checked,
        Some(floor_orig),
    );

    let copts = CompressOptions {
        select: args.select.to_select(),
        quantiser,
        bits: Vec::new(),
        compression: None,
        measure_sizes: false,
        copies: Default::default(),
        threads: args.threads,
    };
    let t = time_runs(&pb, "compress", repeat, || {
        compress_file(&args.file, &comp_path, &copts, &mut |_| {})?;
        Ok(())
    })?;
    push(
        &mut rows,
        format!("compress --bits {} --mode {}", args.bits, mode),
        t,
        Some(floor_orig),
    );

    let floor = time_runs(&pb, "I/O floor (compressed)", repeat, || {
        copy_unchanged(
            &comp_path,
            &copy_path,
            &args.select,
            CopyCheck::Off,
            args.threads,
        )
    })?;
    let floor_comp = push(
        &mut rows,
        "I/O floor: stream + rewrite unchanged (compressed)".into(),
        floor,
        None,
    );

    let mut kopts = CorrectOptions {
        select: args.select.to_select(),
        bits: None,
        mode: Some(mode),
        compression: None,
        verify: true,
        threads: args.threads,
        ..CorrectOptions::default()
    };
    let midpoint = Correction::Method(Method::Midpoint);
    let t = time_runs(&pb, "correct --method midpoint", repeat, || {
        correct_file(&comp_path, &corr_path, midpoint, &kopts, &mut |_| {})?;
        Ok(())
    })?;
    push(
        &mut rows,
        "correct --method midpoint (bits inferred, verified)".into(),
        t,
        Some(floor_comp),
    );
    kopts.verify = false;
    let t = time_runs(&pb, "correct, unverified", repeat, || {
        correct_file(&comp_path, &corr_path, midpoint, &kopts, &mut |_| {})?;
        Ok(())
    })?;
    push(
        &mut rows,
        "  … without the verification while writing".into(),
        t,
        Some(floor_comp),
    );
    let vopts = VerifyOptions {
        select: args.select.to_select(),
        bits: None,
        mode: Some(mode),
        ..VerifyOptions::default()
    };
    let t = time_runs(&pb, "verify (re-read)", repeat, || {
        verify_file(&comp_path, &corr_path, &vopts, &mut |_| {})?;
        Ok(())
    })?;
    push(
        &mut rows,
        "  refloat verify: re-reads both files".into(),
        t,
        Some(floor_comp),
    );

    // The numerics alone, in memory, against the same floor.
    let mut work: Vec<Vec<f32>> = originals.iter().map(|b| b.values.clone()).collect();
    let t = time_runs(&pb, "quantise in memory", repeat, || {
        for (w, o) in work.iter_mut().zip(&originals) {
            w.copy_from_slice(&o.values);
            quantiser.par_quantise_slice(w);
        }
        Ok(())
    })?;
    push(
        &mut rows,
        "  quantise only (in memory)".into(),
        t,
        Some(floor_orig),
    );
    let stored = work.clone();
    let t = time_runs(&pb, "midpoint in memory", repeat, || {
        for (w, s) in work.iter_mut().zip(&stored) {
            w.copy_from_slice(s);
            correct::par_correct_in_place_f32(w, &quantiser, Method::Midpoint)?;
        }
        Ok(())
    })?;
    push(
        &mut rows,
        "  midpoint correction only (in memory)".into(),
        t,
        Some(floor_comp),
    );

    let memory = if args.memory_values > 0 {
        let pool: Vec<f32> = originals
            .iter()
            .flat_map(|b| b.values.iter().copied())
            .collect();
        let counts = originals
            .iter()
            .find(|b| b.offsets.is_some())
            .map(|b| b.counts())
            .unwrap_or_default();
        Some(super::memory::measure(
            &pool,
            &counts,
            args.memory_values,
            args.bits,
            args.memory_cap_mib << 20,
            tmp.path(),
            &pb,
        )?)
    } else {
        None
    };
    pb.finish_and_clear();
    let report = Report {
        file: args.file.clone(),
        tree: loaded.tree.name().to_string(),
        branches: originals.len(),
        values,
        repeat,
        threads: match args.threads {
            0 => rayon::current_num_threads(),
            n => n,
        },
        rows,
        memory,
        models: Vec::new(),
    };
    print(&report);
    if let Some(m) = &report.memory {
        super::memory::print(m);
    }
    #[allow(unused_mut)]
    let mut report = report;
    #[cfg(feature = "torch")]
    for model in &args.model {
        let rows = super::evaluate::model_bench(
            &args.file,
            args.select.tree.as_deref(),
            model,
            args.model_seconds,
        )?;
        for r in &rows {
            let prior = rows
                .iter()
                .find(|p| p.method == "prior-mean" && p.batch == r.batch)
                .map_or(f64::NAN, |p| p.values_per_second);
            report.models.push(ModelRow {
                model: (r.method != "prior-mean").then(|| model.clone()),
                method: r.method.clone(),
                device: r.device.clone(),
                batch: r.batch,
                values_per_second: r.values_per_second,
                vs_prior_mean: r.values_per_second / prior,
            });
        }
    }
    if let Some(json) = &args.json {
        common::write_json(json, &report)?;
        println!("written to {}", json.display());
    }
    Ok(())
}

fn print(r: &Report) {
    println!(
        "refloat bench: {} tree '{}': {} float branches, {} values ({} of floats); best of {} runs, {} threads",
        r.file.display(),
        r.tree,
        r.branches,
        r.values,
        common::human_bytes(4 * r.values as u64),
        r.repeat,
        r.threads
    );
    let w = r
        .rows
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(10);
    println!(
        "  {:<w$}  {:>10}  {:>10}  {:>12}  {:>12}",
        "step", "best [ms]", "median", "Mvalues/s", "x I/O floor"
    );
    for row in &r.rows {
        let ratio = row
            .ratio
            .map(|x| format!("{x:.3}"))
            .unwrap_or_else(|| "1 (floor)".into());
        println!(
            "  {:<w$}  {:>10.2}  {:>10.2}  {:>12.1}  {:>12}",
            row.name,
            1e3 * row.best_s,
            1e3 * row.median_s,
            row.values as f64 / row.best_s / 1e6,
            ratio
        );
    }
}
