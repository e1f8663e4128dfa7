//! `refloat analyse`: compare an original file with its compressed (or corrected) twin,
//! branch by branch: residual bounds, residual steps, distribution-shift metrics; a table on
//! the terminal, the same as JSON, and PNG figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use refloat::io::{self, BranchPattern};
use refloat::metrics::ShiftMetrics;
use refloat::pipeline::{
    analyse_pairs, read_pairs, AnalyseOptions, AnalyseReport as Report, Pair, Stage,
};

use super::common::{self, SelectArgs};
use super::plot;

/// Branches plotted by default (those present in the selection).
pub const DEFAULT_PLOTS: &[&str] = &[
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
    "AnalysisElectronsAuxDyn.pt",
    "AnalysisPhotonsAuxDyn.pt",
    "AnalysisMuonsAuxDyn.pt",
];

/// Arguments of `refloat analyse`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat compress ../shared/data/PHYSLITE_example.root /tmp/comp.root --bits 10
  refloat analyse ../shared/data/PHYSLITE_example.root /tmp/comp.root --out /tmp/refloat-report
  refloat analyse orig.root corrected.root --bits 10 --branches 'AnalysisJetsAuxDyn.*' --plot 'AnalysisJetsAuxDyn.*'

Writes OUT/report.json and, per plotted branch, OUT/NAME.{values,abs_residual,signed_residual,residual_map}.png,
plus OUT/all.{abs_residual,signed_residual,residual_map}.png pooled over every analysed branch.")]
pub struct Args {
    /// Original ROOT file (full precision), then its compressed (or corrected) twin with the
    /// same tree and branches. With --stored-dir: every original (paths or quoted globs such
    /// as 'orig/*.root').
    #[arg(required = true, value_name = "ORIGINAL COMPRESSED")]
    pub paths: Vec<String>,
    /// Compare each original with the file of the same name in this directory (as
    /// `compress --out-dir` writes them); each file's report and figures go to OUT/NAME/ and
    /// the dataset's summary to OUT/dataset.json.
    #[arg(long, value_name = "DIR")]
    pub stored_dir: Option<PathBuf>,
    /// With --stored-dir: a file that fails is reported and the next one is analysed (by
    /// default the run stops at the first failure).
    #[arg(long, requires = "stored_dir")]
    pub keep_going: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Directory for report.json and the figures (created if missing).
    #[arg(long, default_value = "refloat-report")]
    pub out: PathBuf,
    /// Kept mantissa bits of the compression (default: inferred per branch from the
    /// compressed values; give it when the second file is a corrected one).
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding of the compression (for the bound checks).
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    /// Branches to plot, by name or glob (default: jets pt/eta/phi, electrons, photons and
    /// muons pt, where selected).
    #[arg(long = "plot", value_name = "NAME|GLOB", value_delimiter = ',')]
    pub plot: Vec<String>,
    /// Plot every analysed branch.
    #[arg(long, conflicts_with = "plot")]
    pub plot_all: bool,
    /// No figures, only the table and JSON.
    #[arg(long, conflicts_with_all = ["plot", "plot_all"])]
    pub no_plots: bool,
    /// Print every branch in the table (default: the first 40 and the pooled line).
    #[arg(long)]
    pub all_rows: bool,
}

/// Runs `refloat analyse`.
pub fn run(args: Args) -> Result<()> {
    if let Some(dir) = &args.stored_dir {
        std::fs::create_dir_all(&args.out).with_context(|| {
            format!("{}: cannot create the output directory", args.out.display())
        })?;
        let summary = args.out.join("dataset.json");
        return common::run_each(
            &args.paths,
            Some(dir),
            args.keep_going,
            Some(&summary),
            |original, stored| {
                let stem = original.file_stem().unwrap_or_default();
                let out = args.out.join(stem);
                analyse_one(&args, original, stored.expect("a partner per file"), &out)
            },
        )
        .map(|()| println!("summary: {}", summary.display()));
    }
    let [original, compressed] = args.paths.as_slice() else {
        anyhow::bail!(
            "give ORIGINAL COMPRESSED, or originals and --stored-dir DIR (got {} paths)",
            args.paths.len()
        );
    };
    analyse_one(&args, Path::new(original), Path::new(compressed), &args.out).map(|_| ())
}

/// One original and its twin: the report and figures in `out`.
fn analyse_one(args: &Args, original: &Path, compressed: &Path, out: &Path) -> Result<Report> {
    let options = AnalyseOptions {
        select: args.select.to_select(),
        bits: args.bits,
        mode: refloat::RoundingMode::from(args.mode),
    };
    let plot_patterns: Vec<BranchPattern> = if args.no_plots {
        Vec::new()
    } else if args.plot_all {
        vec![BranchPattern::parse("*")?]
    } else if args.plot.is_empty() {
        io::parse_patterns(DEFAULT_PLOTS)?
    } else {
        io::parse_patterns(&args.plot)?
    };

    // The library reads both files and computes the report; the figures are drawn here.
    let mut bar: Option<indicatif::ProgressBar> = None;
    let pairs = read_pairs(original, compressed, &options, &mut |p| {
        if p.stage == Stage::Reading {
            let pb = bar.get_or_insert_with(|| common::progress(p.total, "reading"));
            pb.set_position(p.done as u64);
            pb.set_message(p.branch.to_string());
        }
    })?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let (mut report, pooled_steps) = analyse_pairs(original, compressed, &options, &pairs);
    let pairs = pairs.pairs;

    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output directory", out.display()))?;

    if !args.no_plots {
        let to_plot: Vec<usize> = (0..pairs.len())
            .filter(|&i| {
                plot_patterns
                    .iter()
                    .any(|p| p.matches(&pairs[i].original.name))
            })
            .collect();
        let pb = common::progress(to_plot.len() + 1, "plotting");
        let files: Vec<Result<Vec<String>>> = to_plot
            .par_iter()
            .map(|&i| {
                let r = plot::branch_figures(
                    out,
                    &pairs[i],
                    &report.branches[i],
                    &report.original,
                    &report.compressed,
                );
                pb.inc(1);
                r
            })
            .collect();
        for f in files {
            report.plots.extend(f?);
        }
        let pooled_pair_refs: Vec<&Pair> = pairs.iter().collect();
        report.plots.extend(plot::pooled_figures(
            out,
            &pooled_pair_refs,
            pooled_steps.as_ref(),
            &report,
        )?);
        pb.finish_and_clear();
    }

    let json = out.join("report.json");
    common::write_json(&json, &report)?;
    print(&report, args.all_rows);
    println!("report: {}", json.display());
    if !report.plots.is_empty() {
        println!(
            "figures ({}): {}/{{{}}}",
            report.plots.len(),
            out.display(),
            short_list(&report.plots)
        );
    }
    Ok(report)
}

fn short_list(names: &[String]) -> String {
    if names.len() <= 4 {
        names.join(",")
    } else {
        format!("{},{},…,{}", names[0], names[1], names[names.len() - 1])
    }
}

fn fmt_opt(x: Option<f64>, width: usize, prec: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:>width$.prec$}"),
        _ => format!("{:>width$}", "-"),
    }
}

fn fmt_sci(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:>width$.2e}"),
        _ => format!("{:>width$}", "-"),
    }
}

/// The moments of the other file against the original's, for the table (from the
/// [`ShiftMetrics`] moments that report.json carries).
#[derive(Clone, Copy, Debug)]
struct MomentShift {
    /// `(mean' − mean) / std` (the original's std).
    mean_shift: f64,
    /// `std' / std`.
    std_ratio: f64,
    /// `skewness' − skewness`.
    skewness_diff: f64,
    /// `kurtosis' − kurtosis` (excess kurtosis).
    kurtosis_diff: f64,
}

impl MomentShift {
    fn of(m: &ShiftMetrics) -> Self {
        let (a, b) = (&m.original, &m.other);
        MomentShift {
            mean_shift: (b.mean - a.mean) / a.std,
            std_ratio: b.std / a.std,
            skewness_diff: b.skewness - a.skewness,
            kurtosis_diff: b.kurtosis - a.kurtosis,
        }
    }
}

fn print(r: &Report, all_rows: bool) {
    println!(
        "analyse: {} vs {} (tree '{}', {} entries, {} float branches, {} rounding)",
        r.original.display(),
        r.compressed.display(),
        r.tree,
        r.entries,
        r.branches.len(),
        r.mode
    );
    let w = r
        .branches
        .iter()
        .map(|b| b.name.len())
        .max()
        .unwrap_or(6)
        .clamp(6, 56);
    println!(
        "{:<w$} {:>7} {:>4} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "branch",
        "values",
        "bits",
        "in bound",
        "step",
        "KL",
        "JS",
        "W1",
        "MMD2",
        "KS p",
        "AUC",
        "dmean",
        "std",
        "dskew",
        "dkurt"
    );
    println!(
        "{:<w$} {:>7} {:>4} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "", "", "", "[%]", "[dex]", "[nats]", "[nats]", "[units]", "", "", "", "[std]", "ratio-1", "", ""
    );
    let shown = if all_rows {
        r.branches.len()
    } else {
        r.branches.len().min(40)
    };
    for b in &r.branches[..shown] {
        let mut name = b.name.clone();
        if name.len() > w {
            name = format!("…{}", &name[name.len() - (w - 1)..]);
        }
        let s = b.shift.as_ref();
        let m = s.map(MomentShift::of);
        // name, values, bits, in bound, step: the columns every row has.
        let lead = format!(
            "{:<w$} {:>7} {:>4} {} {}",
            name,
            b.count,
            b.mantissa_bits
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            fmt_opt(b.bounds.map(|x| 100.0 * x.fraction_within_abs_bound), 8, 2),
            fmt_opt(b.steps.as_ref().and_then(|x| x.spacing), 7, 3),
        );
        if let Some(d) = &b.degenerate {
            println!(
                "{lead}  degenerate ({} distinct values): largest relative shift {:.1e} (two-sample tests saturate here)",
                d.distinct, d.max_relative_shift
            );
            continue;
        }
        println!(
            "{lead} {} {} {} {} {} {} {} {} {} {}",
            fmt_sci(s.map(|x| x.kl_divergence), 9),
            fmt_sci(s.map(|x| x.js_divergence), 9),
            fmt_sci(s.map(|x| x.wasserstein1), 9),
            fmt_sci(s.map(|x| x.mmd.mmd2), 9),
            fmt_opt(s.map(|x| x.ks.p_value), 7, 3),
            fmt_opt(s.map(|x| x.classifier_auc), 6, 3),
            fmt_sci(m.map(|x| x.mean_shift), 9),
            fmt_sci(m.map(|x| x.std_ratio - 1.0), 9),
            fmt_sci(m.map(|x| x.skewness_diff), 9),
            fmt_sci(m.map(|x| x.kurtosis_diff), 9),
        );
    }
    if shown < r.branches.len() {
        println!(
            "… {} more branches (--all-rows, or see report.json)",
            r.branches.len() - shown
        );
    }
    println!(
        "moments of the other file vs the original's: dmean = (mean' - mean) / std, std = std'/std - 1, dskew = skew' - skew, dkurt = kurt' - kurt (excess); report.json has each file's moments"
    );
    let unresolved = r
        .branches
        .iter()
        .filter(|b| b.steps.as_ref().and_then(|x| x.spacing).is_none())
        .count();
    if unresolved > 0 {
        println!(
            "step '-': no step pattern resolved in {unresolved} branches (too few residuals for the periodogram); the pooled spacing is the one to quote"
        );
    }
    let p = &r.pooled;
    println!(
        "pooled: {} values in {} branches, {} changed; inside the theoretical bound: {:.4} %, inside the exact interval: {:.4} %; residual step spacing {} dex (theory {:.3})",
        p.count,
        p.branches,
        p.changed,
        100.0 * p.fraction_within_abs_bound,
        100.0 * p.fraction_within_interval,
        fmt_opt(p.steps.as_ref().and_then(|s| s.spacing), 0, 3).trim(),
        std::f64::consts::LOG10_2
    );
    let with_shift: Vec<&ShiftMetrics> = r
        .branches
        .iter()
        .filter(|b| b.degenerate.is_none())
        .filter_map(|b| b.shift.as_ref())
        .collect();
    let degenerate = r.branches.iter().filter(|b| b.degenerate.is_some()).count();
    if !with_shift.is_empty() {
        let median = |v: Vec<f64>| refloat::stats::median(&v).unwrap_or(f64::NAN);
        println!(
            "  median over the {} non-degenerate branches ({degenerate} degenerate ones are judged by their relative shift): KL {:.2e} nats, JS {:.2e} nats, KS p {:.3}, AUC {:.3}",
            with_shift.len(),
            median(with_shift.iter().map(|m| m.kl_divergence).collect()),
            median(with_shift.iter().map(|m| m.js_divergence).collect()),
            median(with_shift.iter().map(|m| m.ks.p_value).collect()),
            median(with_shift.iter().map(|m| m.classifier_auc).collect()),
        );
    }
}
