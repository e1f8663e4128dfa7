//! How many kept mantissa bits does a branch need? Figure 9 of the seed study
//! (`ATLAS_COMPRESSION.md`) as a sweep: round a branch at every kept-bit count, measure at each how
//! far the distribution moved and whether its histogram shows artefacts, and recommend the smallest
//! count that passes every criterion.
//!
//! * [`sweep_branch`]: the sweep of one branch's original values ([`SweepPoint`] per kept-bit
//!   count) and its recommendation ([`BranchAdvice`]).
//! * [`artefacts_against`] / [`artefacts_of_stored`]: the artefact detector. The branch's
//!   density, made smooth (each value spread over a few bins, and over its interval when only
//!   stored values are known), is histogrammed at a stated fine binning twice: as it is, and
//!   rounded onto the lattice. Their difference is the lattice's pattern (combs, aliasing,
//!   spikes), free of the sample's own noise; its χ² grows with the number of values `N`
//!   while the Poisson noise's grows as `√N`. The detector reports from which sample size a
//!   single bin stands out by [`ArtefactOptions::spike_sigma`] (a spike) or the pattern's χ²
//!   by [`ArtefactOptions::excess_sigma`] (discreteness), and flags what is visible at
//!   [`ArtefactOptions::sample_values`].
//!
//! Criteria of a kept-bit count (all must pass at it and at every larger count swept):
//! 1. statistically indistinguishable from the originals at the sample's own size: KS
//!    p-value ≥ [`AdviseOptions::significance`], the mean and standard-deviation shifts within
//!    [`AdviseOptions::z_max`] of their statistical errors. The held-out classifier AUC is
//!    reported but is no criterion: its bins sit at the pooled sample's quantiles, so it
//!    separates a point mass (a repeated vertex position, a sentinel) moved by any amount,
//!    the saturation that degenerate branches show in full;
//! 2. no artefact visible at the stated binning and sample size (above);
//! 3. the quantisation step below [`AdviseOptions::resolution_fraction`] of the user's
//!    resolution for the branch, when one is given ([`Resolution`]).
//!
//! Degenerate branches (at most [`AdviseOptions::degenerate_distinct`] distinct original
//! values: a constant such as the electron mass, a charge, a flag) make two-sample tests
//! saturate: any shift of a constant is "perfectly distinguishable". They are judged by the
//! largest relative shift of a value instead ([`AdviseOptions::degenerate_tolerance`]).
//!
//! Pure functions over slices: the file pipeline ([`crate::pipeline::advise_file`]) reads the
//! branches and supplies the compressed size of a rounded branch through a callback.

use serde::Serialize;

use crate::correct::ExactPolicy;
use crate::error::{check_len, Error, Result};
use crate::histogram::UniformBins;
use crate::metrics::{classifier_auc, common_histograms, js_divergence, kl_divergence, ks_2samp};
use crate::quantise::{Quantiser32, RoundingMode};

/// Settings of the artefact detector.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ArtefactOptions {
    /// Uniform bins of the fine histogram (default 200).
    pub bins: usize,
    /// The binning spans the central fraction of the reference values (default 0.99: from
    /// the 0.5 % to the 99.5 % quantile).
    pub central: f64,
    /// Width of the uniform kernel that makes the reference density smooth, in bins
    /// (default 2).
    pub smoothing_bins: f64,
    /// The sample size the verdict is for, in values (default 10⁶: an analysis's worth;
    /// the file's own few hundred values show no lattice).
    pub sample_values: f64,
    /// A bin off by more than this many Poisson standard deviations at `sample_values` is
    /// a spike (default 5).
    pub spike_sigma: f64,
    /// `χ²_pattern / √(2 ndf)` above this at `sample_values` flags discreteness (default 5).
    pub excess_sigma: f64,
}

impl Default for ArtefactOptions {
    fn default() -> Self {
        ArtefactOptions {
            bins: 200,
            central: 0.99,
            smoothing_bins: 2.0,
            sample_values: 1e6,
            spike_sigma: 5.0,
            excess_sigma: 5.0,
        }
    }
}

/// What the artefact detector found: the lattice's pattern in the fine histogram of a
/// smooth density, per value, and the sample size from which it stands out of the Poisson
/// noise.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Artefacts {
    /// Bins with a non-zero expected or rounded fraction (the χ²'s degrees of freedom).
    pub ndf: usize,
    /// `Σ (o − e)² / max(e, 1/sample_values)` per value, `o` and `e` the rounded and smooth
    /// bin fractions: the pattern's χ² grows as this times the number of values.
    pub chi2_per_value: f64,
    /// The largest `(o − e)² / e` of a bin with an excess (`o > e`), per value.
    pub spike_per_value: f64,
    /// Values from which the pattern's χ² exceeds [`ArtefactOptions::excess_sigma`]
    /// standard deviations of the noise's (`∞` without pattern).
    pub discrete_from: f64,
    /// Values from which the largest excess exceeds [`ArtefactOptions::spike_sigma`].
    pub spike_from: f64,
    /// `spikes`, `discrete`, both joined by `+`, or empty: what is visible at
    /// [`ArtefactOptions::sample_values`].
    pub kind: String,
}

impl Artefacts {
    /// Whether an artefact is visible at the stated sample size.
    pub fn flagged(&self) -> bool {
        !self.kind.is_empty()
    }

    /// The smallest sample (values) at which an artefact is visible.
    pub fn visible_from(&self) -> f64 {
        self.discrete_from.min(self.spike_from)
    }

    fn nothing() -> Self {
        Artefacts {
            ndf: 0,
            chi2_per_value: 0.0,
            spike_per_value: 0.0,
            discrete_from: f64::INFINITY,
            spike_from: f64::INFINITY,
            kind: String::new(),
        }
    }
}

/// Uniform bins over the central `central` fraction of the finite `values`, or `None` if
/// they span no range.
fn central_bins(values: &[f32], opts: &ArtefactOptions) -> Result<Option<UniformBins>> {
    let usable = opts.bins > 0
        && opts.central > 0.0
        && opts.central <= 1.0
        && opts.smoothing_bins > 0.0
        && opts.sample_values > 0.0;
    if !usable {
        return Err(Error::InvalidArgument(format!(
            "artefact detector needs bins > 0, a central fraction in (0, 1], positive smoothing and sample size (got {} bins, {}, {}, {})",
            opts.bins, opts.central, opts.smoothing_bins, opts.sample_values
        )));
    }
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return Ok(None);
    }
    v.sort_by(f32::total_cmp);
    let tail = (1.0 - opts.central) / 2.0;
    let at = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)] as f64;
    let (lo, hi) = (at(tail), at(1.0 - tail));
    if hi <= lo {
        return Ok(None);
    }
    UniformBins::new(lo, hi, opts.bins).map(Some)
}

/// Adds `mass` spread uniformly over `[a, b]` to the bins it overlaps (clipped to the range).
fn spread(bins: &UniformBins, into: &mut [f64], a: f64, b: f64, mass: f64) {
    let w = bins.width();
    if b <= a {
        if let Some(i) = bins.index(a) {
            into[i] += mass;
        }
        return;
    }
    let first = ((a - bins.lo) / w).floor().max(0.0);
    let last = ((b - bins.lo) / w).floor().min(bins.count as f64 - 1.0);
    if last < first {
        return;
    }
    let (first, last) = (first as usize, last as usize);
    for (i, bin) in into.iter_mut().enumerate().take(last + 1).skip(first) {
        let (e0, e1) = (bins.lo + i as f64 * w, bins.lo + (i + 1) as f64 * w);
        *bin += mass * (b.min(e1) - a.max(e0)).max(0.0) / (b - a);
    }
}

/// The smallest `f32` above a finite `x`.
fn next_up(x: f32) -> f32 {
    if x == 0.0 {
        f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() + 1)
    } else {
        f32::from_bits(x.to_bits() - 1)
    }
}

/// Lattice cells followed per smoothed value before the rest of its segment is taken as
/// continuous (the cells are then far narrower than a bin).
const MAX_CELLS: usize = 512;

/// The detector. Each reference value becomes a uniform segment `smoothing_bins` bins wide
/// (widened by its own interval when `stored` gives the lattice the reference is stored on),
/// except point masses (below), which stay points in both histograms:
/// `e` is the segments' histogram, `o` the histogram of the segments rounded by `rounding`
/// (each lattice cell's share of a segment at its stored value).
fn lattice_artefacts(
    reference: &[f32],
    stored: Option<(&Quantiser32, &ExactPolicy)>,
    rounding: &Quantiser32,
    opts: &ArtefactOptions,
) -> Result<Artefacts> {
    let Some(bins) = central_bins(reference, opts)? else {
        return Ok(Artefacts::nothing());
    };
    let h = opts.smoothing_bins * bins.width();
    let finite = reference.iter().filter(|x| x.is_finite()).count().max(1);
    let mass = 1.0 / finite as f64;
    let (mut o, mut e) = (vec![0.0; bins.count], vec![0.0; bins.count]);
    for &x in reference.iter().filter(|x| x.is_finite()) {
        // A point mass stays a point: an original the rounding leaves as it is (a value on
        // the lattice by nature, such as a half-integer pile-up), or a stored value exact by
        // nature.
        let point = match stored {
            None => rounding.quantise(x).to_bits() == x.to_bits(),
            Some((q, policy)) => policy.is_exact(x, q),
        };
        if point {
            if let Some(i) = bins.index(x as f64) {
                o[i] += mass;
                e[i] += mass;
            }
            continue;
        }
        let (mut a, mut b) = (x as f64 - h / 2.0, x as f64 + h / 2.0);
        if let Some(iv) = stored.and_then(|(q, _)| q.interval(x)) {
            a = iv.lo as f64 - h / 2.0;
            b = iv.hi as f64 + h / 2.0;
        }
        if b < bins.lo || a > bins.hi {
            continue;
        }
        spread(&bins, &mut e, a, b, mass);
        // Walk the lattice cells of [a, b] upwards, unless they are too many (then far
        // narrower than a bin: the segment counts as continuous).
        let nearest_zero = if a < 0.0 && b > 0.0 {
            0.0
        } else {
            a.abs().min(b.abs())
        };
        let finest = step_at(nearest_zero as f32, rounding.mantissa_bits());
        if (b - a) / finest > MAX_CELLS as f64 {
            spread(&bins, &mut o, a, b, mass);
            continue;
        }
        let mut t = a;
        while t < b {
            let y = rounding.quantise(t as f32);
            let Some(iv) = rounding
                .interval(y)
                .filter(|iv| y.is_finite() && iv.hi as f64 >= t)
            else {
                spread(&bins, &mut o, t, b, mass * (b - t) / (b - a));
                break;
            };
            let end = (iv.hi as f64).min(b);
            if let Some(i) = bins.index(y as f64) {
                o[i] += mass * (end - t) / (b - a);
            }
            // The next cell starts at the next float above this one's top.
            t = next_up(iv.hi) as f64;
        }
    }
    let mut a = Artefacts::nothing();
    // A bin's Poisson variance, per value, at the stated sample: at least one count's worth
    // (a lattice point on the edge of the smooth support has e ≈ 0).
    let floor = 1.0 / opts.sample_values;
    for (&ob, &eb) in o.iter().zip(&e) {
        if eb <= 0.0 && ob <= 0.0 {
            continue;
        }
        a.ndf += 1;
        let d2 = (ob - eb) * (ob - eb) / eb.max(floor);
        a.chi2_per_value += d2;
        if ob > eb {
            a.spike_per_value = a.spike_per_value.max(d2);
        }
    }
    // Pattern χ² at N values: N·chi2_per_value, against the noise's √(2 ndf); a bin's
    // excess: √(N·d2) standard deviations.
    // (At least one value: a pattern that large is visible in any sample.)
    if a.chi2_per_value > 1e-12 {
        a.discrete_from =
            (opts.excess_sigma * (2.0 * a.ndf as f64).sqrt() / a.chi2_per_value).max(1.0);
    }
    if a.spike_per_value > 1e-12 {
        a.spike_from = (opts.spike_sigma * opts.spike_sigma / a.spike_per_value).max(1.0);
    }
    let mut kinds = Vec::new();
    if a.spike_from <= opts.sample_values {
        kinds.push("spikes");
    }
    if a.discrete_from <= opts.sample_values {
        kinds.push("discrete");
    }
    a.kind = kinds.join("+");
    Ok(a)
}

/// Artefacts that rounding with `rounding` makes in a fine histogram of the originals'
/// (smoothed) density.
///
/// # Errors
/// [`Error::InvalidArgument`] for unusable options.
///
/// ```
/// use refloat_core::advise::{artefacts_against, ArtefactOptions};
/// use refloat_core::quantise::{Quantiser32, RoundingMode};
/// let x: Vec<f32> = (0..2000).map(|i| 10.0 + 5.0 * ((i as f32 + 0.5) / 2000.0)).collect();
/// let q = |n| Quantiser32::new(n, RoundingMode::Nearest).unwrap();
/// let o = ArtefactOptions::default();
/// // 6 kept bits: a comb at 200 bins in 10^6 values; 16: only aliasing, in larger samples.
/// assert!(artefacts_against(&x, &q(6), &o)?.flagged());
/// let fine = artefacts_against(&x, &q(16), &o)?;
/// assert!(!fine.flagged() && fine.visible_from() > 1e6);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn artefacts_against(
    original: &[f32],
    rounding: &Quantiser32,
    opts: &ArtefactOptions,
) -> Result<Artefacts> {
    lattice_artefacts(original, None, rounding, opts)
}

/// Artefacts of stored values without their originals: each stored value's density is
/// spread over its interval under `quantiser` (values exact by nature under `policy` stay
/// points before smoothing), then rounded back onto the lattice.
///
/// # Errors
/// [`Error::InvalidArgument`] for unusable options.
pub fn artefacts_of_stored(
    stored: &[f32],
    quantiser: &Quantiser32,
    policy: &ExactPolicy,
    opts: &ArtefactOptions,
) -> Result<Artefacts> {
    lattice_artefacts(stored, Some((quantiser, policy)), quantiser, opts)
}

/// A resolution the user gives for a branch: the quantisation step must stay below a
/// fraction of it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Resolution {
    /// In the branch's units (e.g. 0.01 for η).
    Absolute(f64),
    /// Relative to the value (e.g. 0.05 for a 5 % momentum resolution).
    Relative(f64),
}

impl std::str::FromStr for Resolution {
    type Err = Error;
    /// `0.01` (absolute) or `5%` (relative).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "resolution '{s}': expected a positive number (absolute, in the branch's units) or a percentage such as 5%"
            ))
        };
        let (text, relative) = match s.trim().strip_suffix('%') {
            Some(t) => (t, true),
            None => (s.trim(), false),
        };
        let v: f64 = text.parse().map_err(|_| bad())?;
        if !(v.is_finite() && v > 0.0) {
            return Err(bad());
        }
        Ok(if relative {
            Resolution::Relative(v / 100.0)
        } else {
            Resolution::Absolute(v)
        })
    }
}

/// Settings of [`sweep_branch`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AdviseOptions {
    /// The scheme rounding the branch.
    pub mode: RoundingMode,
    /// Smallest kept bits swept (default 4).
    pub min_bits: u32,
    /// Largest kept bits swept (default 23, everything kept).
    pub max_bits: u32,
    /// Bins of the common histograms of KL and JS (default 100, over both samples' range).
    pub histogram_bins: usize,
    /// Bins of the classifier (default 20, see [`crate::metrics::classifier_auc`]).
    pub classifier_bins: usize,
    /// Seed of the classifier's split.
    pub seed: u64,
    /// Smallest KS p-value that passes (default 0.05).
    pub significance: f64,
    /// Largest mean and standard-deviation shift that passes, in units of its statistical
    /// error (default 2).
    pub z_max: f64,
    /// The artefact detector.
    pub artefacts: ArtefactOptions,
    /// A branch with at most this many distinct original values is degenerate (default 16).
    pub degenerate_distinct: usize,
    /// Largest relative shift of a value of a degenerate branch that passes (default 1e-3).
    pub degenerate_tolerance: f64,
    /// The quantisation step must stay below this fraction of a given resolution (default
    /// 0.1).
    pub resolution_fraction: f64,
}

impl Default for AdviseOptions {
    fn default() -> Self {
        AdviseOptions {
            mode: RoundingMode::Nearest,
            min_bits: 4,
            max_bits: 23,
            histogram_bins: 100,
            classifier_bins: 20,
            seed: 0,
            significance: 0.05,
            z_max: 2.0,
            artefacts: ArtefactOptions::default(),
            degenerate_distinct: 16,
            degenerate_tolerance: 1e-3,
            resolution_fraction: 0.1,
        }
    }
}

impl AdviseOptions {
    fn check(&self) -> Result<()> {
        if self.min_bits > self.max_bits || self.max_bits > 23 {
            return Err(Error::InvalidArgument(format!(
                "kept bits swept {}..={}: need min <= max <= 23",
                self.min_bits, self.max_bits
            )));
        }
        let usable = self.significance > 0.0
            && self.significance < 1.0
            && self.z_max > 0.0
            && self.degenerate_tolerance > 0.0
            && self.resolution_fraction > 0.0
            && self.histogram_bins > 0
            && self.classifier_bins > 0;
        if !usable {
            return Err(Error::InvalidArgument(format!(
                "advise options out of range: significance {} (0..1), z_max {}, degenerate tolerance {}, resolution fraction {} (> 0), histogram bins {}, classifier bins {} (> 0)",
                self.significance, self.z_max, self.degenerate_tolerance, self.resolution_fraction,
                self.histogram_bins, self.classifier_bins
            )));
        }
        Ok(())
    }
}

/// The metrics of one kept-bit count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Kept explicit mantissa bits.
    pub mantissa_bits: u32,
    /// Values whose bits changed.
    pub changed: u64,
    /// Two-sample KS statistic and p-value (originals against rounded).
    pub ks_statistic: f64,
    pub ks_p_value: f64,
    /// `KL(original ‖ rounded)` and JS on [`AdviseOptions::histogram_bins`] common bins, nats.
    pub kl_divergence: f64,
    pub js_divergence: f64,
    /// Wasserstein-1, in the branch's units.
    pub wasserstein1: f64,
    /// `(mean_rounded − mean_original) / (σ / √n)`.
    pub mean_shift_sigma: f64,
    /// `(σ_rounded − σ_original) / (σ / √(2(n − 1)))`.
    pub std_shift_sigma: f64,
    /// Held-out AUC of the histogram classifier, and its statistical error under no shift.
    pub classifier_auc: f64,
    pub auc_error: f64,
    /// Largest `|rounded − original| / |original|` (non-zero originals).
    pub max_relative_shift: f64,
    /// Largest quantisation step of a value, absolute (branch units) and relative.
    pub max_step: f64,
    pub max_relative_step: f64,
    /// The artefact detector on the rounded values against the originals.
    pub artefacts: Artefacts,
    /// Compressed bytes of the rounded branch (the pipeline's measure; `None` if not asked).
    pub compressed_bytes: Option<u64>,
    /// Criterion 1 (or, for a degenerate branch, the relative-shift rule).
    pub indistinguishable: bool,
    /// Criterion 2.
    pub no_artefact: bool,
    /// Criterion 3 (`true` when no resolution was given).
    pub resolved: bool,
}

impl SweepPoint {
    /// Whether every criterion passes.
    pub fn passes(&self) -> bool {
        self.indistinguishable && self.no_artefact && self.resolved
    }
}

/// The sweep and recommendation of one branch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchAdvice {
    pub name: String,
    /// Finite values swept.
    pub values: u64,
    /// Distinct finite original values (counted up to `degenerate_distinct + 1`).
    pub distinct: usize,
    /// Judged by the relative shift instead of two-sample tests.
    pub degenerate: bool,
    /// The resolution the step is held against, if one was given.
    pub resolution: Option<Resolution>,
    /// One point per kept-bit count, ascending.
    pub sweep: Vec<SweepPoint>,
    /// The smallest kept bits passing every criterion there and at every larger count.
    pub recommended_bits: u32,
    /// Why the count below the recommendation fails (empty at the sweep's minimum).
    pub limited_by: String,
}

/// A degenerate branch (at most a few distinct values) and how far a rounding moved it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Degenerate {
    /// Distinct finite original values.
    pub distinct: usize,
    /// Largest `|other − original| / |original|` over finite pairs with a non-zero original.
    pub max_relative_shift: f64,
}

/// `Some` when `original` has at most `max_distinct` distinct finite values: two-sample
/// tests saturate on such a branch (any shift of a constant is "perfectly distinguishable"),
/// so it is judged by the largest relative shift of a value against its pair in `other`.
///
/// # Errors
/// [`Error::LengthMismatch`] unless the two have the same length.
///
/// ```
/// let m = vec![0.511f32; 100];
/// let rounded: Vec<f32> = m.iter().map(|&x| refloat_core::quantise::quantise_f32(x, 10,
///     refloat_core::RoundingMode::Nearest).unwrap()).collect();
/// let d = refloat_core::advise::degenerate_shift(&m, &rounded, 16)?.unwrap();
/// assert_eq!(d.distinct, 1);
/// assert!(d.max_relative_shift > 0.0 && d.max_relative_shift < 1e-3);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn degenerate_shift(
    original: &[f32],
    other: &[f32],
    max_distinct: usize,
) -> Result<Option<Degenerate>> {
    check_len("original and other values", original.len(), other.len())?;
    let distinct = distinct_up_to(original, max_distinct);
    if distinct > max_distinct {
        return Ok(None);
    }
    let max_relative_shift = original
        .iter()
        .zip(other)
        .filter(|(x, y)| x.is_finite() && y.is_finite() && **x != 0.0)
        .fold(0.0f64, |m, (&x, &y)| {
            m.max(((y as f64 - x as f64) / x as f64).abs())
        });
    Ok(Some(Degenerate {
        distinct,
        max_relative_shift,
    }))
}

/// Distinct finite values of `x`, counting stops after `cap`.
fn distinct_up_to(x: &[f32], cap: usize) -> usize {
    let mut seen: Vec<u32> = Vec::new();
    for v in x.iter().filter(|v| v.is_finite()) {
        let b = if *v == 0.0 { 0 } else { v.to_bits() };
        if !seen.contains(&b) {
            seen.push(b);
            if seen.len() > cap {
                break;
            }
        }
    }
    seen.len()
}

/// The quantisation step of a finite `x` at `n` kept bits: `2^(e − n)` for the unbiased
/// exponent `e` of `x` (subnormals at the minimum exponent).
fn step_at(x: f32, n: u32) -> f64 {
    let e = (((x.to_bits() >> 23) & 0xff) as i32).max(1) - 127;
    2f64.powi(e - n as i32)
}

/// The compressed bytes of a branch holding the given values (supplied by the pipeline).
pub type CompressedSize<'a> = dyn FnMut(&[f32]) -> Result<u64> + 'a;

/// Sweeps the original values `original` of branch `name` over the kept bits of `opts` and
/// recommends the smallest that passes. `compressed_size` gives the compressed bytes of the
/// branch holding the given (rounded) values; `None` skips the size.
///
/// # Errors
/// [`Error::InvalidInput`] with fewer than 2 finite values; [`Error::InvalidArgument`] for
/// unusable options; errors of `compressed_size`.
pub fn sweep_branch(
    name: &str,
    original: &[f32],
    resolution: Option<Resolution>,
    opts: &AdviseOptions,
    mut compressed_size: Option<&mut CompressedSize<'_>>,
) -> Result<BranchAdvice> {
    opts.check()?;
    let finite: Vec<f32> = original.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < 2 {
        return Err(Error::InvalidInput(format!(
            "branch '{name}' has {} finite values, at least 2 needed to sweep",
            finite.len()
        )));
    }
    let distinct = distinct_up_to(&finite, opts.degenerate_distinct);
    let degenerate = distinct <= opts.degenerate_distinct;
    // Sorted once: rounding is monotone under every scheme, so the rounded values of the
    // sorted originals are sorted too, and the two-sample tests take both without a sort.
    let mut finite_sorted = finite.clone();
    finite_sorted.sort_by(f32::total_cmp);
    let a: Vec<f64> = finite_sorted.iter().map(|&v| v as f64).collect();
    let n = a.len() as f64;
    let mean_a = a.iter().sum::<f64>() / n;
    let std_a = (a.iter().map(|v| (v - mean_a) * (v - mean_a)).sum::<f64>() / n).sqrt();
    let half = (n / 2.0).floor().max(1.0);
    let auc_error = ((2.0 * half + 1.0) / (12.0 * half * half)).sqrt();
    let mut sweep = Vec::new();
    let mut rounded = vec![0f32; original.len()];
    for bits in opts.min_bits..=opts.max_bits {
        let q = Quantiser32::new(bits, opts.mode)?;
        let mut changed = 0u64;
        for (r, &x) in rounded.iter_mut().zip(original) {
            *r = q.quantise(x);
            changed += u64::from(r.to_bits() != x.to_bits());
        }
        // Each finite original with its rounded value, in sorted order (an original that
        // rounds to ±Inf, BitRound's top, is left out of both).
        let mut b: Vec<f64> = Vec::with_capacity(finite_sorted.len());
        let (mut max_rel, mut max_step, mut max_rel_step) = (0.0f64, 0.0f64, 0.0f64);
        for &x in &finite_sorted {
            let r = q.quantise(x);
            if !r.is_finite() {
                continue;
            }
            b.push(r as f64);
            if x != 0.0 {
                max_rel = max_rel.max(((r as f64 - x as f64) / x as f64).abs());
                let s = step_at(x, bits);
                max_step = max_step.max(s);
                max_rel_step = max_rel_step.max(s / (x as f64).abs());
            }
        }
        let mean_b = b.iter().sum::<f64>() / b.len() as f64;
        let std_b =
            (b.iter().map(|v| (v - mean_b) * (v - mean_b)).sum::<f64>() / b.len() as f64).sqrt();
        let ks = ks_2samp(&a, &b)?;
        let (ha, hb) = common_histograms(&a, &b, opts.histogram_bins)?;
        let auc = classifier_auc(&a, &b, opts.classifier_bins, opts.seed)?;
        let sigma_mean = std_a / n.sqrt();
        let sigma_std = std_a / (2.0 * (n - 1.0)).max(1.0).sqrt();
        let ratio = |d: f64, s: f64| if d == 0.0 { 0.0 } else { d / s };
        let mean_shift_sigma = ratio(mean_b - mean_a, sigma_mean);
        let std_shift_sigma = ratio(std_b - std_a, sigma_std);
        let artefacts = if degenerate || changed == 0 {
            Artefacts::nothing()
        } else {
            artefacts_against(&finite, &q, &opts.artefacts)?
        };
        let indistinguishable = if degenerate {
            max_rel <= opts.degenerate_tolerance
        } else {
            changed == 0
                || (ks.p_value >= opts.significance
                    && mean_shift_sigma.abs() <= opts.z_max
                    && std_shift_sigma.abs() <= opts.z_max)
        };
        let resolved = match resolution {
            None => true,
            Some(Resolution::Absolute(r)) => max_step <= opts.resolution_fraction * r,
            Some(Resolution::Relative(r)) => max_rel_step <= opts.resolution_fraction * r,
        };
        let compressed_bytes = match compressed_size.as_mut() {
            Some(f) => Some(f(&rounded)?),
            None => None,
        };
        sweep.push(SweepPoint {
            mantissa_bits: bits,
            changed,
            ks_statistic: ks.statistic,
            ks_p_value: ks.p_value,
            kl_divergence: kl_divergence(&ha, &hb, 1e-10)?,
            js_divergence: js_divergence(&ha, &hb)?,
            wasserstein1: crate::metrics::wasserstein1(&a, &b)?,
            mean_shift_sigma,
            std_shift_sigma,
            classifier_auc: auc,
            auc_error,
            max_relative_shift: max_rel,
            max_step,
            max_relative_step: max_rel_step,
            no_artefact: !artefacts.flagged(),
            artefacts,
            compressed_bytes,
            indistinguishable,
            resolved,
        });
    }
    let first_pass = sweep.iter().rposition(|p| !p.passes()).map_or(0, |i| i + 1);
    let recommended_bits = sweep
        .get(first_pass)
        .map_or(opts.max_bits, |p| p.mantissa_bits);
    let limited_by = match first_pass.checked_sub(1).map(|i| &sweep[i]) {
        None => String::new(),
        Some(p) => {
            let mut why = Vec::new();
            if !p.indistinguishable {
                why.push(if degenerate {
                    format!(
                        "relative shift {:.1e} > {:.0e} at {} bits",
                        p.max_relative_shift, opts.degenerate_tolerance, p.mantissa_bits
                    )
                } else {
                    format!(
                        "distinguishable at {} bits (KS p {:.1e}, mean {:+.1} σ, std {:+.1} σ)",
                        p.mantissa_bits, p.ks_p_value, p.mean_shift_sigma, p.std_shift_sigma
                    )
                });
            }
            if !p.no_artefact {
                why.push(format!(
                    "{} at {} bits (visible from {:.1e} values)",
                    p.artefacts.kind,
                    p.mantissa_bits,
                    p.artefacts.visible_from()
                ));
            }
            if !p.resolved {
                why.push(format!("step above resolution at {} bits", p.mantissa_bits));
            }
            why.join("; ")
        }
    };
    Ok(BranchAdvice {
        name: name.to_string(),
        values: finite.len() as u64,
        distinct,
        degenerate,
        resolution,
        sweep,
        recommended_bits,
        limited_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth, deterministic sample (a Gaussian-like shape from a sum of phases).
    fn smooth(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                let v = (0..4)
                    .map(|k| (u * (k as f64 + 1.0) * 7919.0).fract())
                    .sum::<f64>();
                (50.0 + 10.0 * (v - 2.0)) as f32
            })
            .collect()
    }

    #[test]
    fn sweep_trends_are_monotonic_and_the_recommendation_passes_above() {
        let x = smooth(20_000);
        let adv = sweep_branch("x", &x, None, &AdviseOptions::default(), None).unwrap();
        assert_eq!(adv.sweep.len(), 20);
        assert!(!adv.degenerate);
        for w in adv.sweep.windows(2) {
            // More kept bits: never larger steps, shifts or distances.
            assert!(w[1].max_step <= w[0].max_step / 2.0 * 1.000001);
            assert!(w[1].max_relative_shift <= w[0].max_relative_shift);
            assert!(w[1].wasserstein1 <= w[0].wasserstein1 * 1.05 + 1e-12);
            assert!(w[1].changed <= w[0].changed);
        }
        let last = adv.sweep.last().unwrap();
        assert_eq!((last.changed, last.ks_statistic), (0, 0.0));
        let r = adv.recommended_bits;
        assert!(adv
            .sweep
            .iter()
            .filter(|p| p.mantissa_bits >= r)
            .all(SweepPoint::passes));
        // 4 kept bits on 20 000 values: a comb the detector must see.
        assert!(
            adv.sweep[0].artefacts.flagged(),
            "{:?}",
            adv.sweep[0].artefacts
        );
        assert!(r > 4 && r < 16, "recommended {r}");
    }

    #[test]
    fn a_constant_is_judged_by_its_relative_shift() {
        let x = vec![0.511f32; 500];
        let adv = sweep_branch("m", &x, None, &AdviseOptions::default(), None).unwrap();
        assert!(adv.degenerate);
        // 2^-(n+1) relative at most for nearest: ≤ 1e-3 from n = 9 on.
        for p in &adv.sweep {
            assert_eq!(p.indistinguishable, p.max_relative_shift <= 1e-3, "{p:?}");
        }
        assert!(adv.recommended_bits <= 9, "{}", adv.recommended_bits);
    }

    #[test]
    fn a_resolution_bounds_the_step() {
        let x = smooth(2000);
        let opts = AdviseOptions::default();
        let adv = sweep_branch("x", &x, Some(Resolution::Relative(0.01)), &opts, None).unwrap();
        // step ≤ 0.1 % of the value: 2^-n ≤ 1e-3, n ≥ 10.
        assert!(adv.recommended_bits >= 10);
        let p = &adv.sweep[(adv.recommended_bits - 4) as usize];
        assert!(p.max_relative_step <= 1e-3);
        assert_eq!(
            "5%".parse::<Resolution>().unwrap(),
            Resolution::Relative(0.05)
        );
        assert_eq!(
            "0.01".parse::<Resolution>().unwrap(),
            Resolution::Absolute(0.01)
        );
        assert!("-1".parse::<Resolution>().is_err() && "x%".parse::<Resolution>().is_err());
    }

    #[test]
    fn the_detector_sees_a_lattice_with_and_without_the_originals() {
        let x = smooth(5000);
        let policy = ExactPolicy::default();
        let o = ArtefactOptions::default();
        let mut last = 0.0;
        for bits in 4..=16u32 {
            let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
            let against = artefacts_against(&x, &q, &o).unwrap();
            // Finer lattices are visible only in larger samples (up to the aliasing of a
            // lattice far finer than the bins, whose phase against the bin edges varies).
            assert!(
                bits > 12 || against.visible_from() >= last,
                "{bits} bits: {against:?}"
            );
            last = against.visible_from();
            // Without the originals: the stored values' own lattice, seen alike.
            let s: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
            let stored = artefacts_of_stored(&s, &q, &policy, &o).unwrap();
            let ratio = stored.visible_from() / against.visible_from();
            assert!(
                bits > 12 || (0.2..5.0).contains(&ratio),
                "{bits} bits: {stored:?} vs {against:?}"
            );
        }
        let q = |n| Quantiser32::new(n, RoundingMode::Nearest).unwrap();
        assert!(artefacts_against(&x, &q(5), &o).unwrap().flagged());
        assert!(!artefacts_against(&x, &q(16), &o).unwrap().flagged());
        // The stated sample size decides: 10 kept bits are invisible in 100 values.
        let few = ArtefactOptions {
            sample_values: 100.0,
            ..o
        };
        assert!(!artefacts_against(&x, &q(10), &few).unwrap().flagged());
        assert!(artefacts_against(&x, &q(10), &o).unwrap().flagged());
    }

    #[test]
    fn point_masses_are_no_artefact_but_a_coarse_lattice_spikes() {
        // A smooth sample with a large point mass: rounding keeps the mass in its bin.
        let mut y = smooth(5000);
        y.extend(std::iter::repeat_n(52.125f32, 3000));
        let o = ArtefactOptions::default();
        let q = Quantiser32::new(16, RoundingMode::Nearest).unwrap();
        assert!(!artefacts_against(&y, &q, &o).unwrap().flagged());
        // A narrow peak rounded onto a lattice coarser than the bins: spikes.
        let peak: Vec<f32> = (0..5000)
            .map(|i| 100.0 + (i as f32 / 5000.0 - 0.5) * 4.0)
            .collect();
        let coarse = Quantiser32::new(5, RoundingMode::Nearest).unwrap();
        let a = artefacts_against(&peak, &coarse, &o).unwrap();
        assert!(a.kind.contains("spikes"), "{a:?}");
    }

    #[test]
    fn bad_options_are_refused() {
        let x = smooth(100);
        let opts = AdviseOptions {
            min_bits: 10,
            max_bits: 5,
            ..Default::default()
        };
        assert!(sweep_branch("x", &x, None, &opts, None).is_err());
        let e =
            sweep_branch("x", &[1.0, f32::NAN], None, &AdviseOptions::default(), None).unwrap_err();
        assert!(e.to_string().contains("'x'"), "{e}");
    }
}
