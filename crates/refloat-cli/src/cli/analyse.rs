//! `refloat analyse`: compare an original file with its compressed (or corrected) twin,
//! branch by branch: residual bounds, residual steps, distribution-shift metrics; a table on
//! the terminal, the same as JSON, and PNG figures.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use refloat::advise::{degenerate_shift, AdviseOptions, Degenerate};
use refloat::io::{self, BranchPattern, FloatBranch, FloatLayout, Skipped};
use refloat::metrics::{shift_metrics, ShiftMetrics, ShiftOptions};
use refloat::quantise::infer_mantissa_bits_f32;
use refloat::residual::{
    analyse_steps, check_bounds, residuals_f32, BoundCheck, StepAnalysis, StepOptions,
    StepPeriodogram,
};
use refloat::{Quantiser32, RoundingMode};
use serde::Serialize;

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
    /// Original ROOT file (full precision).
    pub original: PathBuf,
    /// Compressed (or corrected) ROOT file with the same tree and branches.
    pub compressed: PathBuf,
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

/// Residual summary of one branch (`r = original − compressed`, branch units).
#[derive(Serialize, Debug, Clone, Default)]
pub struct ResidualSummary {
    /// Mean residual (the bias).
    pub mean: f64,
    /// Root mean square residual.
    pub rms: f64,
    /// Largest `|r|`.
    pub max_abs: f64,
    /// Largest `|r| / |original|` over non-zero originals.
    pub max_relative: f64,
    /// Pairs with `r = 0`.
    pub zeros: usize,
}

/// The residual steps in `log10|r|`.
#[derive(Serialize, Debug, Clone)]
pub struct StepSummary {
    /// Headline spacing in decades (periodogram, else peaks' median).
    pub spacing: Option<f64>,
    /// Median spacing of the significant histogram peaks.
    pub spacing_peaks_median: Option<f64>,
    pub periodogram: Option<StepPeriodogram>,
    /// Positions of the significant peaks, `log10|r|`.
    pub peaks: Vec<f64>,
    /// Theory: one binade, `log10 2`.
    pub theory: f64,
}

impl From<&StepAnalysis> for StepSummary {
    fn from(a: &StepAnalysis) -> Self {
        StepSummary {
            spacing: a.spacing(),
            spacing_peaks_median: a.spacing_peaks_median,
            periodogram: a.periodogram,
            peaks: a.peaks.iter().map(|p| p.position).collect(),
            theory: a.theory,
        }
    }
}

/// Everything measured on one branch.
#[derive(Serialize, Debug, Clone)]
pub struct BranchReport {
    pub name: String,
    pub layout: FloatLayout,
    pub entries: usize,
    /// Values compared (finite pairs).
    pub count: usize,
    /// Pairs left out because a value is NaN or ±Inf (they must agree bit for bit).
    pub non_finite: usize,
    /// Pairs whose bits differ.
    pub changed: usize,
    /// Kept mantissa bits used for the bound checks.
    pub mantissa_bits: Option<u32>,
    pub bits_inferred: bool,
    /// Residuals against the theoretical bound and the exact interval.
    pub bounds: Option<BoundCheck>,
    pub residual: ResidualSummary,
    pub steps: Option<StepSummary>,
    pub shift: Option<ShiftMetrics>,
    /// Set for a degenerate branch (at most 16 distinct original values), which is judged by
    /// its largest relative shift: two-sample tests (KS, AUC, KL) saturate on it.
    pub degenerate: Option<Degenerate>,
    /// Why something could not be computed.
    pub notes: Vec<String>,
}

/// Pooled over all branches.
#[derive(Serialize, Debug, Clone)]
pub struct PooledReport {
    pub branches: usize,
    pub count: usize,
    pub changed: usize,
    /// Pairs inside the theoretical bound / exact interval, over branches with known bits.
    pub within_abs_bound: usize,
    pub within_interval: usize,
    pub bound_checked: usize,
    pub fraction_within_abs_bound: f64,
    pub fraction_within_interval: f64,
    pub steps: Option<StepSummary>,
}

/// The whole report (`report.json`).
#[derive(Serialize, Debug, Clone)]
pub struct Report {
    pub original: PathBuf,
    pub compressed: PathBuf,
    pub tree: String,
    pub entries: u64,
    pub mode: RoundingMode,
    pub bits_given: Option<u32>,
    pub branches: Vec<BranchReport>,
    pub pooled: PooledReport,
    pub skipped: Vec<Skipped>,
    /// Figures written, relative to the output directory.
    pub plots: Vec<String>,
}

/// A branch pair read from both files, ready for the numbers and figures.
pub struct Pair {
    pub original: FloatBranch,
    pub compressed: FloatBranch,
    /// Finite pairs only.
    pub orig_finite: Vec<f32>,
    pub comp_finite: Vec<f32>,
    pub residuals: Vec<f64>,
    pub quantiser: Option<Quantiser32>,
}

fn analyse_pair(pair: &Pair, bits_inferred: bool, mut notes: Vec<String>) -> BranchReport {
    let (o, c, r) = (&pair.orig_finite, &pair.comp_finite, &pair.residuals);
    let changed = pair
        .original
        .values
        .iter()
        .zip(&pair.compressed.values)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    let mut residual = ResidualSummary::default();
    if !r.is_empty() {
        residual.mean = r.iter().sum::<f64>() / r.len() as f64;
        residual.rms = (r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64).sqrt();
        residual.max_abs = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        residual.max_relative = o
            .iter()
            .zip(r)
            .filter(|(x, _)| **x != 0.0)
            .fold(0.0f64, |m, (x, ri)| m.max(ri.abs() / (*x as f64).abs()));
        residual.zeros = r.iter().filter(|x| **x == 0.0).count();
    }
    let bounds = pair
        .quantiser
        .as_ref()
        .and_then(|q| match check_bounds(o, c, q) {
            Ok(b) => Some(b),
            Err(e) => {
                notes.push(format!("bounds: {e}"));
                None
            }
        });
    let steps = match analyse_steps(r, &StepOptions::default()) {
        Ok(a) => Some(StepSummary::from(&a)),
        Err(e) => {
            notes.push(format!("steps: {e}"));
            None
        }
    };
    let shift = match shift_metrics(o, c, &ShiftOptions::default()) {
        Ok(m) => Some(m),
        Err(e) => {
            notes.push(format!("shift metrics: {e}"));
            None
        }
    };
    let degenerate = degenerate_shift(o, c, AdviseOptions::default().degenerate_distinct)
        .ok()
        .flatten();
    BranchReport {
        degenerate,
        name: pair.original.name.clone(),
        layout: pair.original.layout(),
        entries: pair.original.entries(),
        count: o.len(),
        non_finite: pair.original.values.len() - o.len(),
        changed,
        mantissa_bits: pair.quantiser.map(|q| q.mantissa_bits()),
        bits_inferred,
        bounds,
        residual,
        steps,
        shift,
        notes,
    }
}

/// Reads one branch from both files and checks that they line up.
fn read_pair(
    orig_tree: &io::Tree,
    comp_tree: &io::Tree,
    name: &str,
    bits: Option<u32>,
    mode: RoundingMode,
) -> Result<(Pair, bool, Vec<String>)> {
    let original = orig_tree.read_float(name)?;
    comp_tree.branch_info(name)?;
    let compressed = comp_tree.read_float(name)?;
    if let Some(why) = original.structure_mismatch(&compressed) {
        bail!(
            "{} vs {}: tree '{}': branch '{name}': {why}",
            orig_tree.path().display(),
            comp_tree.path().display(),
            orig_tree.name()
        );
    }
    let mut notes = Vec::new();
    let (mut orig_finite, mut comp_finite) = (
        Vec::with_capacity(original.values.len()),
        Vec::with_capacity(original.values.len()),
    );
    for (i, (&a, &b)) in original.values.iter().zip(&compressed.values).enumerate() {
        if a.is_finite() && b.is_finite() {
            orig_finite.push(a);
            comp_finite.push(b);
        } else if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
            bail!(
                "{} vs {}: tree '{}': branch '{name}': value {i} is {a} in the original but {b} in the other file",
                orig_tree.path().display(),
                comp_tree.path().display(),
                orig_tree.name()
            );
        }
    }
    let (quantiser, inferred) = match bits {
        Some(n) => (Some(Quantiser32::new(n, mode)?), false),
        None => match infer_mantissa_bits_f32(&compressed.values) {
            Ok(n) => (Some(Quantiser32::new(n, mode)?), true),
            Err(e) => {
                notes.push(format!("bits: {e}"));
                (None, true)
            }
        },
    };
    let residuals = residuals_f32(&orig_finite, &comp_finite)?;
    Ok((
        Pair {
            original,
            compressed,
            orig_finite,
            comp_finite,
            residuals,
            quantiser,
        },
        inferred,
        notes,
    ))
}

/// Runs `refloat analyse`.
pub fn run(args: Args) -> Result<()> {
    let mode = refloat::RoundingMode::from(args.mode);
    if let Some(b) = args.bits {
        Quantiser32::new(b, mode)?;
    }
    let loaded = common::load(&args.original, &args.select)?;
    let mut comp_file = io::open(&args.compressed)?;
    let comp_tree = comp_file.tree(loaded.tree.name())?;
    if comp_tree.entries() != loaded.tree.entries() {
        bail!(
            "{} vs {}: tree '{}' has {} entries in the original but {} in the other file",
            args.original.display(),
            args.compressed.display(),
            loaded.tree.name(),
            loaded.tree.entries(),
            comp_tree.entries()
        );
    }
    let plot_patterns: Vec<BranchPattern> = if args.no_plots {
        Vec::new()
    } else if args.plot_all {
        vec![BranchPattern::parse("*")?]
    } else if args.plot.is_empty() {
        io::parse_patterns(DEFAULT_PLOTS)?
    } else {
        io::parse_patterns(&args.plot)?
    };

    // Read both files (sequential: oxyroot), then compute per branch in parallel.
    let pb = common::progress(loaded.selection.floats.len(), "reading");
    let mut pairs = Vec::with_capacity(loaded.selection.floats.len());
    for info in &loaded.selection.floats {
        pb.set_message(info.name.clone());
        pairs.push(read_pair(
            &loaded.tree,
            &comp_tree,
            &info.name,
            args.bits,
            mode,
        )?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let pb = common::progress(pairs.len(), "analysing");
    let branches: Vec<BranchReport> = pairs
        .par_iter()
        .map(|(pair, inferred, notes)| {
            let r = analyse_pair(pair, *inferred, notes.clone());
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();

    // Pooled over all branches.
    let all_residuals: Vec<f64> = pairs
        .iter()
        .flat_map(|(p, _, _)| p.residuals.iter().copied())
        .collect();
    let bound_checked: usize = branches
        .iter()
        .filter_map(|b| b.bounds.map(|x| x.total))
        .sum();
    let within_abs_bound: usize = branches
        .iter()
        .filter_map(|b| b.bounds.map(|x| x.within_abs_bound))
        .sum();
    let within_interval: usize = branches
        .iter()
        .filter_map(|b| b.bounds.map(|x| x.within_interval))
        .sum();
    let pooled_steps = analyse_steps(&all_residuals, &StepOptions::default()).ok();
    let frac = |k: usize| {
        if bound_checked == 0 {
            f64::NAN
        } else {
            k as f64 / bound_checked as f64
        }
    };
    let pooled = PooledReport {
        branches: branches.len(),
        count: branches.iter().map(|b| b.count).sum(),
        changed: branches.iter().map(|b| b.changed).sum(),
        within_abs_bound,
        within_interval,
        bound_checked,
        fraction_within_abs_bound: frac(within_abs_bound),
        fraction_within_interval: frac(within_interval),
        steps: pooled_steps.as_ref().map(StepSummary::from),
    };

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output directory", args.out.display()))?;
    let mut report = Report {
        original: args.original.clone(),
        compressed: args.compressed.clone(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        mode,
        bits_given: args.bits,
        branches,
        pooled,
        skipped: loaded.selection.skipped.clone(),
        plots: Vec::new(),
    };

    if !args.no_plots {
        let to_plot: Vec<usize> = (0..pairs.len())
            .filter(|&i| {
                plot_patterns
                    .iter()
                    .any(|p| p.matches(&pairs[i].0.original.name))
            })
            .collect();
        let pb = common::progress(to_plot.len() + 1, "plotting");
        let files: Vec<Result<Vec<String>>> = to_plot
            .par_iter()
            .map(|&i| {
                let r = plot::branch_figures(
                    &args.out,
                    &pairs[i].0,
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
        let pooled_pair_refs: Vec<&Pair> = pairs.iter().map(|(p, _, _)| p).collect();
        report.plots.extend(plot::pooled_figures(
            &args.out,
            &pooled_pair_refs,
            pooled_steps.as_ref(),
            &report,
        )?);
        pb.finish_and_clear();
    }

    let json = args.out.join("report.json");
    common::write_json(&json, &report)?;
    print(&report, args.all_rows);
    println!("report: {}", json.display());
    if !report.plots.is_empty() {
        println!(
            "figures ({}): {}/{{{}}}",
            report.plots.len(),
            args.out.display(),
            short_list(&report.plots)
        );
    }
    Ok(())
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

/// A branch name made safe as a file name (`/` and other odd characters replaced).
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
