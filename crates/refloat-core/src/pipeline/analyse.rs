//! [`analyse_file`](super::analyse_file): an original file against its rounded (or
//! corrected) twin, branch by branch: residuals against the theoretical bound and the exact
//! interval, the residual steps in `log10|r|`, the distribution-shift metrics; pooled over
//! every branch too. The `refloat analyse` command, the C API (`refloat_analyse_file`) and
//! Python (`refloat.analyse_file`) print, write or return this report.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{load, Progress, ProgressFn, Select, Stage};
use crate::advise::{degenerate_shift, AdviseOptions, Degenerate};
use crate::error::{Error, Result};
use crate::io::{self, FloatBranch, FloatLayout, Skipped};
use crate::metrics::{shift_metrics, ShiftMetrics, ShiftOptions};
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use crate::residual::{
    analyse_steps, check_bounds, residuals_f32, BoundCheck, StepAnalysis, StepOptions,
    StepPeriodogram,
};

/// Options of [`analyse_file`].
#[derive(Clone, Debug)]
pub struct AnalyseOptions {
    /// The tree and float branches compared.
    pub select: Select,
    /// Kept mantissa bits of the rounding (`None`: each branch's largest apparent bits in the
    /// second file; give them when it is a corrected file).
    pub bits: Option<u32>,
    /// The rounding the bound checks use.
    pub mode: RoundingMode,
}

impl Default for AnalyseOptions {
    fn default() -> Self {
        AnalyseOptions {
            select: Select::default(),
            bits: None,
            mode: RoundingMode::Nearest,
        }
    }
}

/// Residual summary of one branch (`r = original − other`, branch units).
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
    /// Headline spacing in decades (periodogram, else the peaks' median).
    pub spacing: Option<f64>,
    /// Median spacing of the significant histogram peaks.
    pub spacing_peaks_median: Option<f64>,
    /// The periodogram's peak, where it is significant.
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
pub struct AnalysedBranch {
    /// Branch name.
    pub name: String,
    /// `float`, `std::vector<float>` or a counted array.
    pub layout: FloatLayout,
    /// Entries of the tree.
    pub entries: usize,
    /// Values compared (finite pairs).
    pub count: usize,
    /// Pairs left out because a value is NaN or ±Inf (they must agree bit for bit).
    pub non_finite: usize,
    /// Pairs whose bits differ.
    pub changed: usize,
    /// Kept mantissa bits used for the bound checks.
    pub mantissa_bits: Option<u32>,
    /// Whether those bits were inferred (else given).
    pub bits_inferred: bool,
    /// Residuals against the theoretical bound and the exact interval.
    pub bounds: Option<BoundCheck>,
    /// The residuals' mean, RMS and extremes.
    pub residual: ResidualSummary,
    /// The residual steps.
    pub steps: Option<StepSummary>,
    /// Distribution-shift metrics of the second file's values against the original's.
    pub shift: Option<ShiftMetrics>,
    /// Set for a degenerate branch (few distinct original values), which is judged by its
    /// largest relative shift: two-sample tests (KS, AUC, KL) saturate on it.
    pub degenerate: Option<Degenerate>,
    /// Why something could not be computed.
    pub notes: Vec<String>,
}

/// Pooled over all branches.
#[derive(Serialize, Debug, Clone)]
pub struct PooledAnalysis {
    /// Branches analysed.
    pub branches: usize,
    /// Values compared.
    pub count: usize,
    /// Values whose bits differ.
    pub changed: usize,
    /// Pairs inside the theoretical bound, over branches with known bits.
    pub within_abs_bound: usize,
    /// Pairs inside the exact interval of their stored value.
    pub within_interval: usize,
    /// Pairs the bounds were checked on.
    pub bound_checked: usize,
    /// `within_abs_bound / bound_checked` (NaN when nothing was checked).
    pub fraction_within_abs_bound: f64,
    /// `within_interval / bound_checked`.
    pub fraction_within_interval: f64,
    /// The steps of every branch's residuals pooled.
    pub steps: Option<StepSummary>,
}

/// What [`analyse_file`] returns (the command's `report.json`).
#[derive(Serialize, Debug, Clone)]
pub struct AnalyseReport {
    /// The original file.
    pub original: PathBuf,
    /// The rounded or corrected file.
    pub compressed: PathBuf,
    /// The tree compared.
    pub tree: String,
    /// Its entries.
    pub entries: u64,
    /// The rounding of the bound checks.
    pub mode: RoundingMode,
    /// The kept bits given, if any.
    pub bits_given: Option<u32>,
    /// One row per branch, in the tree's order.
    pub branches: Vec<AnalysedBranch>,
    /// Every branch pooled.
    pub pooled: PooledAnalysis,
    /// Float-like branches not analysed, and why.
    pub skipped: Vec<Skipped>,
    /// Figures a front door drew from it, relative to its output directory.
    pub plots: Vec<String>,
}

impl AnalyseReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidInput(format!("analyse report: {e}")))
    }

    /// Writes [`to_json`](Self::to_json) to `path`, atomically (a temporary file beside it,
    /// renamed once written).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        super::write_json_atomically(path, self.to_json()?)
    }
}

/// A branch read from both files, ready for the numbers and the figures.
pub struct Pair {
    /// The original branch.
    pub original: FloatBranch,
    /// The same branch of the second file.
    pub compressed: FloatBranch,
    /// Finite pairs only: original values.
    pub orig_finite: Vec<f32>,
    /// Finite pairs only: the second file's values.
    pub comp_finite: Vec<f32>,
    /// `original − other` of the finite pairs, exact in `f64`.
    pub residuals: Vec<f64>,
    /// The rounding of the bound checks, where the bits are known.
    pub quantiser: Option<Quantiser32>,
    /// Whether the bits were inferred.
    pub bits_inferred: bool,
    /// Why something could not be computed.
    pub notes: Vec<String>,
}

/// Both files' selected branches, read and lined up (same tree, entries and structure; NaN
/// and ±Inf equal bit for bit), with the tree's name and entries and the skipped branches.
pub struct Pairs {
    /// One per selected float branch, in the tree's order.
    pub pairs: Vec<Pair>,
    /// The tree compared.
    pub tree: String,
    /// Its entries.
    pub entries: u64,
    /// Float-like branches not analysed, and why.
    pub skipped: Vec<Skipped>,
}

/// Reads the selected float branches of both files ([`Pairs`]).
pub fn read_pairs(
    original: &Path,
    compressed: &Path,
    options: &AnalyseOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<Pairs> {
    if let Some(b) = options.bits {
        Quantiser32::new(b, options.mode)?;
    }
    let loaded = load(original, &options.select)?;
    let mut comp_file = io::open(compressed)?;
    let comp_tree = comp_file.tree(loaded.tree.name())?;
    if comp_tree.entries() != loaded.tree.entries() {
        return Err(Error::InvalidInput(format!(
            "{} vs {}: tree '{}' has {} entries in the original but {} in the other file",
            original.display(),
            compressed.display(),
            loaded.tree.name(),
            loaded.tree.entries(),
            comp_tree.entries()
        )));
    }
    let total = loaded.selection.floats.len();
    let mut pairs = Vec::with_capacity(total);
    for (i, info) in loaded.selection.floats.iter().enumerate() {
        progress(Progress {
            stage: Stage::Reading,
            done: i,
            total,
            branch: &info.name,
        });
        pairs.push(read_pair(
            &loaded.tree,
            &comp_tree,
            &info.name,
            options.bits,
            options.mode,
        )?);
    }
    progress(Progress {
        stage: Stage::Reading,
        done: total,
        total,
        branch: "",
    });
    Ok(Pairs {
        pairs,
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        skipped: loaded.selection.skipped.clone(),
    })
}

/// The report of [`Pairs`] read by [`read_pairs`] (per branch in parallel), and the step
/// analysis of every branch's residuals pooled (its summary is in the report; figures use it
/// whole).
pub fn analyse_pairs(
    original: &Path,
    compressed: &Path,
    options: &AnalyseOptions,
    pairs: &Pairs,
) -> (AnalyseReport, Option<StepAnalysis>) {
    let branches: Vec<AnalysedBranch> = pairs.pairs.par_iter().map(analyse_pair).collect();
    let all_residuals: Vec<f64> = pairs
        .pairs
        .iter()
        .flat_map(|p| p.residuals.iter().copied())
        .collect();
    let sum = |f: fn(&BoundCheck) -> usize| -> usize {
        branches
            .iter()
            .filter_map(|b| b.bounds.as_ref().map(f))
            .sum()
    };
    let bound_checked = sum(|x| x.total);
    let within_abs_bound = sum(|x| x.within_abs_bound);
    let within_interval = sum(|x| x.within_interval);
    let pooled_steps = analyse_steps(&all_residuals, &StepOptions::default()).ok();
    let frac = |k: usize| {
        if bound_checked == 0 {
            f64::NAN
        } else {
            k as f64 / bound_checked as f64
        }
    };
    let pooled = PooledAnalysis {
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
    let report = AnalyseReport {
        original: original.to_path_buf(),
        compressed: compressed.to_path_buf(),
        tree: pairs.tree.clone(),
        entries: pairs.entries,
        mode: options.mode,
        bits_given: options.bits,
        branches,
        pooled,
        skipped: pairs.skipped.clone(),
        plots: Vec::new(),
    };
    (report, pooled_steps)
}

/// Compares `original` with its rounded or corrected twin `compressed`, branch by branch
/// (the selected float branches of the same tree; entries and jagged structure must agree).
pub fn analyse_file(
    original: &Path,
    compressed: &Path,
    options: &AnalyseOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<AnalyseReport> {
    let pairs = read_pairs(original, compressed, options, progress)?;
    Ok(analyse_pairs(original, compressed, options, &pairs).0)
}

fn analyse_pair(pair: &Pair) -> AnalysedBranch {
    let mut notes = pair.notes.clone();
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
    AnalysedBranch {
        degenerate,
        name: pair.original.name.clone(),
        layout: pair.original.layout(),
        entries: pair.original.entries(),
        count: o.len(),
        non_finite: pair.original.values.len() - o.len(),
        changed,
        mantissa_bits: pair.quantiser.map(|q| q.mantissa_bits()),
        bits_inferred: pair.bits_inferred,
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
) -> Result<Pair> {
    let original = orig_tree.read_float(name)?;
    comp_tree.branch_info(name)?;
    let compressed = comp_tree.read_float(name)?;
    let mismatch = |why: String| {
        Error::InvalidInput(format!(
            "{} vs {}: tree '{}': branch '{name}': {why}",
            orig_tree.path().display(),
            comp_tree.path().display(),
            orig_tree.name()
        ))
    };
    if let Some(why) = original.structure_mismatch(&compressed) {
        return Err(mismatch(why));
    }
    let mut notes = Vec::new();
    let n = original.values.len();
    let (mut orig_finite, mut comp_finite) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, (&a, &b)) in original.values.iter().zip(&compressed.values).enumerate() {
        if a.is_finite() && b.is_finite() {
            orig_finite.push(a);
            comp_finite.push(b);
        } else if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
            return Err(mismatch(format!(
                "value {i} is {a} in the original but {b} in the other file"
            )));
        }
    }
    let (quantiser, bits_inferred) = match bits {
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
    Ok(Pair {
        original,
        compressed,
        orig_finite,
        comp_finite,
        residuals,
        quantiser,
        bits_inferred,
        notes,
    })
}
