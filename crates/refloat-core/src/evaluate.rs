//! How close a correction gets to the originals, when they are known: the numbers behind
//! `refloat evaluate` and the README's accuracy tables, with **one binning convention**.
//!
//! Per branch ([`score_branch`]): squared errors of the estimate and of the stored values,
//! the error in units of the interval width, KL and JS divergence of [`FINE_BINS`]-bin
//! histograms over the common range of original and estimate
//! ([`crate::metrics::common_histograms`]), Wasserstein-1 of those histograms and exact
//! (unbinned), the positions of originals and estimates inside their intervals, and the values
//! that break the invariant (must be none). Over branches ([`summarise`]): the pooled MSE in
//! interval units, medians of the per-branch ratios, and the KL of the pooled position
//! histograms ([`POSITION_BINS`] bins over `[0, 1]`).

use serde::Serialize;

use crate::correct::{count_outside_interval, ExactPolicy};
use crate::error::{Error, Result};
use crate::histogram::{Histogram1D, UniformBins};
use crate::metrics::{
    common_histograms, js_divergence, kl_divergence, wasserstein1, wasserstein1_histograms,
};
use crate::quantise::Quantiser32;
use crate::stats::median;

/// Bins of the per-branch histograms behind KL, JS and binned W1: equal bins over the common
/// range of the original and the estimate.
pub const FINE_BINS: usize = 4096;

/// Bins of the pooled histogram of the position of a value inside its interval,
/// `(x − lo) / (hi − lo)` in `[0, 1]`: where the quantisation itself shows.
pub const POSITION_BINS: usize = 32;

/// Floor of empty bins of the estimate in `KL(original ‖ estimate)`.
pub const KL_EPSILON: f64 = 1e-10;

/// One estimate of one branch, scored against the originals.
#[derive(Clone, Debug, Serialize)]
pub struct BranchScore {
    /// Values scored (finite original, stored and estimate).
    pub values: usize,
    /// `Σ (estimate − original)²`.
    pub se_estimate: f64,
    /// `Σ (stored − original)²`.
    pub se_stored: f64,
    /// `Σ ((estimate − original) / w)²` over values with an interval of width `w > 0`.
    pub se_estimate_width: f64,
    /// `Σ ((stored − original) / w)²` over the same values.
    pub se_stored_width: f64,
    /// Mean `|estimate − original| / w` over the values a correction may move (not exact).
    pub mean_abs_error_over_width: f64,
    /// `KL(original ‖ estimate)`, nats, [`FINE_BINS`] bins (`NaN` if not computable).
    pub kl: f64,
    /// JS divergence of the same histograms, nats.
    pub js: f64,
    /// Wasserstein-1 of the same histograms, in the branch's unit.
    pub wasserstein1_binned: f64,
    /// Wasserstein-1 of the stored values' histograms against the original's (same binning
    /// convention), for ratios.
    pub wasserstein1_binned_stored: f64,
    /// Exact (unbinned) Wasserstein-1 of the estimate, and of the stored values.
    pub wasserstein1: f64,
    pub wasserstein1_stored: f64,
    /// Values that do not re-quantise to their stored value (must be 0).
    pub invariant_violations: usize,
    /// Bootstrap standard deviation of [`Self::mse_relative`] over resamples of the values
    /// ([`BOOTSTRAP_RESAMPLES`], seeded: the same inputs give the same number); `NaN` when
    /// it is not defined.
    pub mse_relative_sigma: f64,
    /// Positions inside the interval of the originals and of the estimates.
    #[serde(skip)]
    pub positions_original: Vec<f64>,
    #[serde(skip)]
    pub positions_estimate: Vec<f64>,
}

impl BranchScore {
    /// `Σ (estimate − original)² / Σ (stored − original)²`: 1 = no better than stored
    /// (`NaN` when the stored values are exact).
    pub fn mse_relative(&self) -> f64 {
        if self.se_stored > 0.0 {
            self.se_estimate / self.se_stored
        } else {
            f64::NAN
        }
    }

    /// Binned W1 of the estimate over that of the stored values (`NaN` if the latter is 0).
    pub fn wasserstein1_binned_relative(&self) -> f64 {
        ratio(self.wasserstein1_binned, self.wasserstein1_binned_stored)
    }

    /// Exact W1 of the estimate over that of the stored values (`NaN` if the latter is 0).
    pub fn wasserstein1_relative(&self) -> f64 {
        ratio(self.wasserstein1, self.wasserstein1_stored)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Scores `estimate` of one branch against its `original` values, `stored` being what the
/// quantiser `q` made of them. Non-finite values are left out.
///
/// # Errors
/// [`Error::LengthMismatch`] if the three slices differ in length.
///
/// ```
/// use refloat_core::{evaluate::score_branch, Quantiser32, RoundingMode};
/// let q = Quantiser32::new(4, RoundingMode::Truncate)?;
/// let orig: Vec<f32> = (1..200).map(|i| 1.0 + i as f32 / 200.0).collect();
/// let stored: Vec<f32> = orig.iter().map(|&x| q.quantise(x)).collect();
/// let mid: Vec<f32> = stored.iter().map(|&s| q.interval(s).unwrap().centre() as f32).collect();
/// let s = score_branch(&orig, &stored, &mid, &q)?;
/// assert!(s.mse_relative() < 0.5); // the midpoint of truncated data: MSE / 4
/// assert_eq!(s.invariant_violations, 0);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn score_branch(
    original: &[f32],
    stored: &[f32],
    estimate: &[f32],
    q: &Quantiser32,
) -> Result<BranchScore> {
    if original.len() != stored.len() || estimate.len() != stored.len() {
        return Err(Error::LengthMismatch {
            what: "original, stored and estimate".into(),
            left: original.len(),
            right: if estimate.len() != stored.len() {
                estimate.len()
            } else {
                stored.len()
            },
        });
    }
    let policy = ExactPolicy::default();
    let mut s = BranchScore {
        values: 0,
        se_estimate: 0.0,
        se_stored: 0.0,
        se_estimate_width: 0.0,
        se_stored_width: 0.0,
        mean_abs_error_over_width: f64::NAN,
        kl: f64::NAN,
        js: f64::NAN,
        wasserstein1_binned: f64::NAN,
        wasserstein1_binned_stored: f64::NAN,
        wasserstein1: f64::NAN,
        wasserstein1_stored: f64::NAN,
        invariant_violations: count_outside_interval(estimate, stored, q),
        mse_relative_sigma: f64::NAN,
        positions_original: Vec::new(),
        positions_estimate: Vec::new(),
    };
    let (mut o64, mut e64, mut s64) = (Vec::new(), Vec::new(), Vec::new());
    let (mut se_e, mut se_s) = (Vec::new(), Vec::new());
    let (mut abs_sum, mut abs_n) = (0.0, 0usize);
    for ((&o, &st), &e) in original.iter().zip(stored).zip(estimate) {
        if !(o.is_finite() && st.is_finite() && e.is_finite()) {
            continue;
        }
        s.values += 1;
        let (de, ds) = (e as f64 - o as f64, st as f64 - o as f64);
        s.se_estimate += de * de;
        s.se_stored += ds * ds;
        se_e.push(de * de);
        se_s.push(ds * ds);
        o64.push(o as f64);
        e64.push(e as f64);
        s64.push(st as f64);
        if let Some(iv) = q.interval(st) {
            let w = iv.width();
            if w > 0.0 {
                s.se_estimate_width += (de / w).powi(2);
                s.se_stored_width += (ds / w).powi(2);
                let lo = iv.lo as f64;
                s.positions_original.push((o as f64 - lo) / w);
                s.positions_estimate.push((e as f64 - lo) / w);
                if !policy.is_exact(st, q) {
                    abs_sum += de.abs() / w;
                    abs_n += 1;
                }
            }
        }
    }
    if abs_n > 0 {
        s.mean_abs_error_over_width = abs_sum / abs_n as f64;
    }
    s.mse_relative_sigma = bootstrap_ratio_sigma(&se_e, &se_s, BOOTSTRAP_RESAMPLES, 0x5EED);
    if let Ok((ho, he)) = common_histograms(&o64, &e64, FINE_BINS) {
        s.kl = kl_divergence(&ho, &he, KL_EPSILON).unwrap_or(f64::NAN);
        s.js = js_divergence(&ho, &he).unwrap_or(f64::NAN);
        s.wasserstein1_binned = wasserstein1_histograms(&ho, &he).unwrap_or(f64::NAN);
    }
    if let Ok((ho, hs)) = common_histograms(&o64, &s64, FINE_BINS) {
        s.wasserstein1_binned_stored = wasserstein1_histograms(&ho, &hs).unwrap_or(f64::NAN);
    }
    if !o64.is_empty() {
        s.wasserstein1 = wasserstein1(&o64, &e64).unwrap_or(f64::NAN);
        s.wasserstein1_stored = wasserstein1(&o64, &s64).unwrap_or(f64::NAN);
    }
    Ok(s)
}

/// Resamples of [`bootstrap_ratio_sigma`] in [`score_branch`].
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// Bootstrap standard deviation of `Σ num / Σ den` over `resamples` resamples (with
/// replacement, seeded) of the index pairs `(num[i], den[i])`: the statistical uncertainty of
/// a ratio of sums, such as an MSE relative to the stored values'. `NaN` for fewer than two
/// pairs, unequal lengths, or when a resample's denominator is zero.
///
/// ```
/// use refloat_core::evaluate::bootstrap_ratio_sigma;
/// let den = vec![1.0; 400];
/// let num: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect(); // ratio 0.5
/// let s = bootstrap_ratio_sigma(&num, &den, 400, 1);
/// assert!((s - 0.025).abs() < 0.005, "{s}"); // sqrt(0.25 / 400)
/// assert!(bootstrap_ratio_sigma(&[1.0], &[1.0], 100, 1).is_nan());
/// ```
pub fn bootstrap_ratio_sigma(num: &[f64], den: &[f64], resamples: usize, seed: u64) -> f64 {
    let n = num.len();
    if n < 2 || den.len() != n || resamples < 2 {
        return f64::NAN;
    }
    let mut rng = crate::stats::SplitMix64(seed);
    let (mut sum, mut sum2) = (0.0f64, 0.0f64);
    for _ in 0..resamples {
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let i = ((rng.next_u64() as u128 * n as u128) >> 64) as usize;
            a += num[i];
            b += den[i];
        }
        if b == 0.0 {
            return f64::NAN;
        }
        let r = a / b;
        sum += r;
        sum2 += r * r;
    }
    let k = resamples as f64;
    ((sum2 - sum * sum / k) / (k - 1.0)).max(0.0).sqrt()
}

/// One estimator over many branches: the columns of the README's accuracy table.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Branches and values scored.
    pub branches: usize,
    pub values: usize,
    /// `Σ ((e − o)/w)² / Σ ((s − o)/w)²` pooled over every value.
    pub pooled_mse_relative_width: f64,
    /// Median over branches of [`BranchScore::mse_relative`].
    pub median_mse_relative: f64,
    /// Median over branches of `KL(original ‖ estimate)`.
    pub median_kl: f64,
    /// `KL` of the pooled position histograms (originals ‖ estimates), [`POSITION_BINS`] bins.
    pub position_kl: f64,
    /// Median over branches of the binned and the exact W1 ratios to the stored values'.
    pub median_wasserstein1_binned_relative: f64,
    pub median_wasserstein1_relative: f64,
    /// Values that broke the invariant, over all branches (must be 0).
    pub invariant_violations: usize,
}

/// Summarises the scores of one estimator over branches.
pub fn summarise(scores: &[BranchScore]) -> Summary {
    let finite = |v: Vec<f64>| -> f64 {
        let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
        median(&v).unwrap_or(f64::NAN)
    };
    let (num, den) = scores.iter().fold((0.0, 0.0), |(n, d), s| {
        (n + s.se_estimate_width, d + s.se_stored_width)
    });
    let positions = |f: fn(&BranchScore) -> &Vec<f64>| -> Vec<f64> {
        scores.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    let position_kl = (|| -> Result<f64> {
        let bins = UniformBins::new(0.0, 1.0, POSITION_BINS)?;
        let ho = Histogram1D::from_values(&positions(|s| &s.positions_original), bins)?;
        let he = Histogram1D::from_values(&positions(|s| &s.positions_estimate), bins)?;
        kl_divergence(&ho, &he, KL_EPSILON)
    })()
    .unwrap_or(f64::NAN);
    Summary {
        branches: scores.len(),
        values: scores.iter().map(|s| s.values).sum(),
        pooled_mse_relative_width: ratio(num, den),
        median_mse_relative: finite(scores.iter().map(BranchScore::mse_relative).collect()),
        median_kl: finite(scores.iter().map(|s| s.kl).collect()),
        position_kl,
        median_wasserstein1_binned_relative: finite(
            scores
                .iter()
                .map(BranchScore::wasserstein1_binned_relative)
                .collect(),
        ),
        median_wasserstein1_relative: finite(
            scores
                .iter()
                .map(BranchScore::wasserstein1_relative)
                .collect(),
        ),
        invariant_violations: scores.iter().map(|s| s.invariant_violations).sum(),
    }
}
