//! Residuals `r = x_orig − x_comp` of lossy float compression and their histograms.
//!
//! # API summary
//! * [`residuals_f32`]: `r` for every pair, exact in `f64`.
//! * [`check_bounds`] → [`BoundCheck`]: how many residuals lie inside the theoretical bound
//!   `|r| ≤ Quantiser32::max_abs_residual(x)` and inside the stored value's exact interval.
//! * [`UniformBins`], [`Histogram1D`], [`Histogram2D`]: numpy-compatible histograms
//!   (bins `[e_i, e_{i+1})`, the last bin closed, out-of-range counted, exact zeros of a log
//!   axis counted apart).
//! * [`log10_abs_histogram`]: histogram of `log10|r|` (r = 0 goes to [`Histogram1D::zeros`]).
//! * [`symlog`], [`symlog_inverse`], [`symlog_histogram`]: signed residuals on a symmetric-log
//!   axis, linear inside `±linthresh`.
//! * [`residual_map_point`], [`residual_map`]: the seed's 2D map
//!   `(log10(|x|+1e-12), sign(r)·log10(|r|+1e-12))`.
//! * Steps: [`histogram_peaks`], [`detect_steps`], [`median_spacing`], [`step_periodogram`],
//!   and the bundle [`analyse_steps`] → [`StepAnalysis`].
//!
//! # Why `log10|r|` shows steps
//! With `n` kept mantissa bits and round-to-nearest, an original of unbiased exponent `e`
//! has `|r| ≤ 2^(e−n−1)` and `r` spread about uniformly below that bound. On a `log10|r|`
//! axis the density of one binade's residuals grows like `|r|` up to a sharp edge at
//! `(e−n−1)·log10 2`. Values from neighbouring binades give the same shape shifted by
//! exactly one binade, so the pooled histogram is a sawtooth with a peak just below every
//! multiple of **`log10 2 ≈ 0.30103`** decades (a drop by about a factor 2 at each edge).
//! Truncation gives the same spacing (edges at `(e−n)·log10 2`).
//!
//! Measured on the real data (all flat float branches of a file pooled, `n = 10`; rerun
//! with `cargo test --test residual -- --nocapture`): the periodogram gives 0.3009
//! (development file, 6 556 non-zero residuals) and 0.3002 (held-out file, 20 860), 0.3011 /
//! 0.3003 for truncation, i.e. one binade as theory says, and not the seed's ≈ 0.28 (a ratio
//! of 1.9 would be 0.279; the periodogram has side lobes near 0.28 and 0.32 that coarse or
//! noisy peak picking can land on). The median spacing of the significant histogram peaks
//! (0.02-decade bins, 3σ) is 0.30 on the held-out file (14 peaks) but 0.34 on the
//! development file (10 peaks): with so few residuals per bin, peaks go missing and spurious
//! ones appear, which is why [`step_periodogram`] is the headline estimate of
//! [`analyse_steps`]. Over every float branch of the ROOT files (`cargo run --release
//! --example core_table`: 53 261 and 131 967 values) [`StepAnalysis::spacing`] gives 0.300 on
//! both files for round-to-nearest, 0.301 (held-out) and 0.280 (development, the side lobe)
//! for truncation.

use crate::error::{Error, Result};
use crate::quantise::Quantiser32;
use ndarray::Array2;
use serde::Serialize;

/// The offset the seed's residual map adds before taking `log10` (`|x| + 1e-12`).
pub const MAP_LOG_OFFSET: f64 = 1e-12;

/// Theoretical spacing of the residual steps in `log10|r|`: one binade, `log10 2`.
pub const STEP_SPACING_THEORY: f64 = std::f64::consts::LOG10_2;

fn check_len(what: &str, left: usize, right: usize) -> Result<()> {
    if left != right {
        return Err(Error::LengthMismatch {
            what: what.into(),
            left,
            right,
        });
    }
    Ok(())
}

fn check_finite_f32(name: &str, data: &[f32]) -> Result<()> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{name} value at index {i} is {} (residuals need finite values)",
            data[i]
        )));
    }
    Ok(())
}

fn check_finite_f64(name: &str, data: &[f64]) -> Result<()> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{name} value at index {i} is {} (a finite number is needed)",
            data[i]
        )));
    }
    Ok(())
}

/// Residuals `r_i = original_i − stored_i`, computed in `f64`.
///
/// The subtraction is exact: two `f32` values whose exponents differ by at most 29 have an
/// exact `f64` difference, which always holds for a stored value and its original (they are
/// within a factor of two). `stored` may also be any corrected value of the same original.
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length; [`Error::InvalidInput`] naming
/// the first NaN or ±Inf (a residual of a non-finite value is not defined).
///
/// ```
/// use refloat::residual::residuals_f32;
/// let r = residuals_f32(&[1.0005, -2.0], &[1.0, -2.0])?;
/// assert_eq!(r, vec![1.0005f32 as f64 - 1.0, 0.0]);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn residuals_f32(original: &[f32], stored: &[f32]) -> Result<Vec<f64>> {
    check_len("original vs stored", original.len(), stored.len())?;
    check_finite_f32("original", original)?;
    check_finite_f32("stored", stored)?;
    Ok(original
        .iter()
        .zip(stored)
        .map(|(&x, &q)| x as f64 - q as f64)
        .collect())
}

/// How many residuals respect the theoretical bounds of a quantiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoundCheck {
    /// Number of (original, stored) pairs.
    pub total: usize,
    /// Pairs with `|original − stored| ≤ quantiser.max_abs_residual(original)`.
    pub within_abs_bound: usize,
    /// Pairs whose original lies in `quantiser.interval(stored)` (0 for a `stored` that is not
    /// a stored value of the quantiser).
    pub within_interval: usize,
    /// `within_abs_bound / total` (NaN when `total == 0`).
    pub fraction_within_abs_bound: f64,
    /// `within_interval / total` (NaN when `total == 0`).
    pub fraction_within_interval: f64,
    /// Largest `|r| / bound` (≤ 1 when every residual is inside; 0 for `r = 0`, +∞ for a
    /// non-zero residual where the bound is 0).
    pub max_bound_ratio: f64,
}

impl BoundCheck {
    /// Whether every pair is inside both the absolute bound and the interval.
    pub fn all_inside(&self) -> bool {
        self.within_abs_bound == self.total && self.within_interval == self.total
    }
}

/// Checks every residual against the quantiser's theoretical bound `2^(e−n−1)` (nearest
/// modes; `2^(e−n)` for truncation, `e` the exponent of the original) and against the exact
/// interval of its stored value ([`Quantiser32::interval`]).
///
/// # Errors
/// [`Error::LengthMismatch`]; [`Error::InvalidInput`] for NaN or ±Inf.
///
/// ```
/// use refloat::quantise::{Quantiser32, RoundingMode};
/// use refloat::residual::check_bounds;
/// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
/// let x = [1.2345f32, -678.9, 3.0e-5];
/// let s: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
/// let c = check_bounds(&x, &s, &q)?;
/// assert!(c.all_inside());
/// assert!(c.max_bound_ratio <= 1.0);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn check_bounds(
    original: &[f32],
    stored: &[f32],
    quantiser: &Quantiser32,
) -> Result<BoundCheck> {
    let r = residuals_f32(original, stored)?;
    let (mut abs_ok, mut iv_ok, mut max_ratio) = (0usize, 0usize, 0.0f64);
    for ((&x, &q), &ri) in original.iter().zip(stored).zip(&r) {
        let bound = quantiser.max_abs_residual(x);
        if ri.abs() <= bound {
            abs_ok += 1;
        }
        let ratio = if ri == 0.0 { 0.0 } else { ri.abs() / bound };
        max_ratio = max_ratio.max(ratio);
        if quantiser.interval(q).is_some_and(|iv| iv.contains(x)) {
            iv_ok += 1;
        }
    }
    let total = original.len();
    let frac = |k: usize| {
        if total == 0 {
            f64::NAN
        } else {
            k as f64 / total as f64
        }
    };
    Ok(BoundCheck {
        total,
        within_abs_bound: abs_ok,
        within_interval: iv_ok,
        fraction_within_abs_bound: frac(abs_ok),
        fraction_within_interval: frac(iv_ok),
        max_bound_ratio: max_ratio,
    })
}

/// `count` equal bins over `[lo, hi]`; edges as `numpy.linspace(lo, hi, count + 1)`
/// (`lo + i·((hi − lo)/count)`, the last edge exactly `hi`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UniformBins {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Number of bins (≥ 1).
    pub count: usize,
}

impl UniformBins {
    /// # Errors
    /// [`Error::InvalidArgument`] unless `lo < hi`, both finite, and `count ≥ 1`.
    ///
    /// ```
    /// let b = refloat::residual::UniformBins::new(-1.0, 1.0, 4)?;
    /// assert_eq!(b.edges(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn new(lo: f64, hi: f64, count: usize) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) || count == 0 {
            return Err(Error::InvalidArgument(format!(
                "uniform bins need finite lo < hi and at least one bin (got lo={lo}, hi={hi}, count={count})"
            )));
        }
        Ok(Self { lo, hi, count })
    }

    /// Bins of width about `width` covering `[lo, hi]`: `count = round((hi − lo)/width)`
    /// (at least 1), so the width is exact when `hi − lo` is a multiple of it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-positive width or a bad range.
    ///
    /// ```
    /// let b = refloat::residual::UniformBins::with_width(-10.0, 2.0, 0.02)?;
    /// assert_eq!(b.count, 600);
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn with_width(lo: f64, hi: f64, width: f64) -> Result<Self> {
        if !(width.is_finite() && width > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "bin width must be positive and finite (got {width})"
            )));
        }
        let count = ((hi - lo) / width).round().max(1.0);
        if !count.is_finite() || count > 1e9 {
            return Err(Error::InvalidArgument(format!(
                "[{lo}, {hi}] in bins of {width} is not a usable binning"
            )));
        }
        Self::new(lo, hi, count as usize)
    }

    /// The `count + 1` edges, as `numpy.linspace` computes them.
    pub fn edges(&self) -> Vec<f64> {
        let step = (self.hi - self.lo) / self.count as f64;
        let mut e: Vec<f64> = (0..=self.count)
            .map(|i| i as f64 * step + self.lo)
            .collect();
        e[self.count] = self.hi;
        e
    }
}

fn check_edges(edges: &[f64]) -> Result<()> {
    if edges.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "a histogram needs at least 2 edges (got {})",
            edges.len()
        )));
    }
    if let Some(i) = edges
        .windows(2)
        .position(|w| !(w[0].is_finite() && w[1].is_finite() && w[0] < w[1]))
    {
        return Err(Error::InvalidArgument(format!(
            "histogram edges must be finite and strictly increasing (edge {i}: {} then {})",
            edges[i],
            edges[i + 1]
        )));
    }
    Ok(())
}

/// Bin of `x` on `edges` with numpy's convention: `[e_i, e_{i+1})`, the last bin closed.
/// `Err(false)` below the range, `Err(true)` above it. `x` must not be NaN.
#[inline]
fn bin_of(edges: &[f64], x: f64) -> std::result::Result<usize, bool> {
    let k = edges.len() - 1;
    if x < edges[0] {
        return Err(false);
    }
    if x > edges[k] {
        return Err(true);
    }
    let i = edges.partition_point(|&e| e <= x); // 1..=k+1
    Ok((i - 1).min(k - 1))
}

/// A 1D histogram with explicit edges.
///
/// Invariants: `edges.len() == counts.len() + 1`, edges finite and strictly increasing.
/// Bin `i` is `[edges[i], edges[i+1])`, the last bin also holds `edges[last]` (numpy's
/// rule). Values below / above the range go to `underflow` / `overflow` (±Inf included).
/// On a log axis an exact zero has no coordinate: it is counted in `zeros` and in no bin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram1D {
    /// Bin edges (axis units: e.g. `log10|r|` for [`log10_abs_histogram`]).
    pub edges: Vec<f64>,
    /// Counts per bin.
    pub counts: Vec<u64>,
    /// Values below `edges[0]`.
    pub underflow: u64,
    /// Values above the last edge.
    pub overflow: u64,
    /// Exact zeros left out of a log axis (always 0 on a linear axis).
    pub zeros: u64,
}

impl Histogram1D {
    /// An empty histogram on uniform bins.
    ///
    /// ```
    /// use refloat::residual::{Histogram1D, UniformBins};
    /// let mut h = Histogram1D::new(UniformBins::new(0.0, 1.0, 2)?);
    /// for x in [0.1, 0.5, 1.0, 2.0] { h.fill(x)?; }
    /// assert_eq!((h.counts.clone(), h.overflow), (vec![1, 2], 1));
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn new(bins: UniformBins) -> Self {
        Self {
            counts: vec![0; bins.count],
            edges: bins.edges(),
            underflow: 0,
            overflow: 0,
            zeros: 0,
        }
    }

    /// An empty histogram on explicit edges.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless there are ≥ 2 finite, strictly increasing edges.
    ///
    /// ```
    /// let h = refloat::residual::Histogram1D::with_edges(vec![0.0, 1.0, 10.0])?;
    /// assert_eq!(h.counts, vec![0, 0]);
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn with_edges(edges: Vec<f64>) -> Result<Self> {
        check_edges(&edges)?;
        Ok(Self {
            counts: vec![0; edges.len() - 1],
            edges,
            underflow: 0,
            overflow: 0,
            zeros: 0,
        })
    }

    /// A histogram of `values` on uniform bins.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first NaN.
    ///
    /// ```
    /// use refloat::residual::{Histogram1D, UniformBins};
    /// let h = Histogram1D::from_values(&[0.0, 0.25, 0.75, -1.0], UniformBins::new(0.0, 1.0, 2)?)?;
    /// assert_eq!((h.counts, h.underflow), (vec![2, 1], 1));
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn from_values(values: &[f64], bins: UniformBins) -> Result<Self> {
        if let Some(i) = values.iter().position(|v| v.is_nan()) {
            return Err(Error::InvalidInput(format!(
                "value at index {i} is NaN (cannot be histogrammed)"
            )));
        }
        let mut h = Self::new(bins);
        for &v in values {
            h.fill_unchecked(v);
        }
        Ok(h)
    }

    #[inline]
    fn fill_unchecked(&mut self, x: f64) {
        match bin_of(&self.edges, x) {
            Ok(i) => self.counts[i] += 1,
            Err(false) => self.underflow += 1,
            Err(true) => self.overflow += 1,
        }
    }

    /// Adds one value on the (linear) axis.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for NaN (nothing is counted then).
    ///
    /// ```
    /// let mut h = refloat::residual::Histogram1D::with_edges(vec![0.0, 1.0])?;
    /// h.fill(1.0)?; // the last edge belongs to the last bin
    /// assert_eq!(h.counts, vec![1]);
    /// assert!(h.fill(f64::NAN).is_err());
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn fill(&mut self, x: f64) -> Result<()> {
        if x.is_nan() {
            return Err(Error::InvalidInput("NaN cannot be histogrammed".into()));
        }
        self.fill_unchecked(x);
        Ok(())
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether there are no bins (never true for a valid histogram).
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Bin centres `(e_i + e_{i+1}) / 2`.
    ///
    /// ```
    /// let h = refloat::residual::Histogram1D::with_edges(vec![0.0, 1.0, 3.0])?;
    /// assert_eq!(h.centres(), vec![0.5, 2.0]);
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn centres(&self) -> Vec<f64> {
        self.edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
    }

    /// Counts inside the range (bins only).
    pub fn in_range(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every value seen: bins, underflow, overflow and zeros.
    ///
    /// ```
    /// use refloat::residual::log10_abs_histogram;
    /// use refloat::residual::UniformBins;
    /// let h = log10_abs_histogram(&[0.0, 1e-3, 1e9], UniformBins::new(-6.0, 0.0, 6)?)?;
    /// assert_eq!((h.in_range(), h.overflow, h.zeros, h.entries()), (1, 1, 1, 3));
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn entries(&self) -> u64 {
        self.in_range() + self.underflow + self.overflow + self.zeros
    }
}

/// Histogram of `log10|r|`; bins in decades.
///
/// `r = 0` has no logarithm: it is counted in [`Histogram1D::zeros`] and in no bin (an exact
/// residual, e.g. a value that already had ≤ n significant bits). ±Inf go to over/underflow.
///
/// # Errors
/// [`Error::InvalidInput`] for NaN.
///
/// ```
/// use refloat::residual::{log10_abs_histogram, UniformBins};
/// let h = log10_abs_histogram(&[1e-3, -1e-3, 0.0, 0.5], UniformBins::new(-4.0, 0.0, 4)?)?;
/// assert_eq!(h.counts, vec![0, 2, 0, 1]);
/// assert_eq!(h.zeros, 1);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn log10_abs_histogram(residuals: &[f64], bins: UniformBins) -> Result<Histogram1D> {
    if let Some(i) = residuals.iter().position(|v| v.is_nan()) {
        return Err(Error::InvalidInput(format!("residual at index {i} is NaN")));
    }
    let mut h = Histogram1D::new(bins);
    for &r in residuals {
        if r == 0.0 {
            h.zeros += 1;
        } else {
            h.fill_unchecked(r.abs().log10());
        }
    }
    Ok(h)
}

/// Symmetric-log coordinate of `r` with linear threshold `c > 0`:
/// `r / c` for `|r| ≤ c` (the linear part maps `[−c, c]` to `[−1, 1]`), and
/// `sign(r)·(1 + log10(|r|/c))` beyond, so each decade outside is one unit. Continuous
/// and strictly increasing; see [`symlog_inverse`].
///
/// ```
/// use refloat::residual::symlog;
/// assert_eq!(symlog(0.5e-6, 1e-6), 0.5);
/// assert!((symlog(-1e-3, 1e-6) + 4.0).abs() < 1e-12);
/// ```
#[inline]
pub fn symlog(r: f64, linthresh: f64) -> f64 {
    let a = r.abs();
    if a <= linthresh {
        r / linthresh
    } else {
        (1.0 + (a / linthresh).log10()).copysign(r)
    }
}

/// Inverse of [`symlog`]: the residual at symlog coordinate `t` (e.g. to label edges).
///
/// ```
/// use refloat::residual::{symlog, symlog_inverse};
/// let r = -3.7e-4;
/// assert!((symlog_inverse(symlog(r, 1e-6), 1e-6) - r).abs() < 1e-16);
/// ```
#[inline]
pub fn symlog_inverse(t: f64, linthresh: f64) -> f64 {
    let a = t.abs();
    if a <= 1.0 {
        t * linthresh
    } else {
        (linthresh * 10f64.powf(a - 1.0)).copysign(t)
    }
}

/// Histogram of signed residuals on the [`symlog`] axis with threshold `linthresh`; `bins`
/// are in symlog units (e.g. `UniformBins::new(-8.0, 8.0, 320)`; `±1` is `±linthresh`).
/// A natural threshold is the smallest non-zero `|r|`: residuals are multiples of an ulp,
/// so nothing but 0 lies below it.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `linthresh` is positive and finite;
/// [`Error::InvalidInput`] for NaN.
///
/// ```
/// use refloat::residual::{symlog_histogram, UniformBins};
/// let h = symlog_histogram(&[-1e-3, 0.0, 2e-7, 1e-3], 1e-6, UniformBins::new(-5.0, 5.0, 10)?)?;
/// assert_eq!(h.counts, vec![0, 1, 0, 0, 0, 2, 0, 0, 0, 1]);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn symlog_histogram(
    residuals: &[f64],
    linthresh: f64,
    bins: UniformBins,
) -> Result<Histogram1D> {
    if !(linthresh.is_finite() && linthresh > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "symlog threshold must be positive and finite (got {linthresh})"
        )));
    }
    if let Some(i) = residuals.iter().position(|v| v.is_nan()) {
        return Err(Error::InvalidInput(format!("residual at index {i} is NaN")));
    }
    let mut h = Histogram1D::new(bins);
    for &r in residuals {
        h.fill_unchecked(symlog(r, linthresh));
    }
    Ok(h)
}

/// A 2D histogram: `counts[[i, j]]` counts points with `x` in x-bin `i` and `y` in y-bin `j`
/// (numpy `histogram2d` convention per axis). Points outside either range are counted in
/// `outside`; `zeros` counts points left out because their residual was exactly 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram2D {
    /// Edges along x (`counts.nrows() + 1`).
    pub x_edges: Vec<f64>,
    /// Edges along y (`counts.ncols() + 1`).
    pub y_edges: Vec<f64>,
    /// Counts, shape `[x bins, y bins]`.
    pub counts: Array2<u64>,
    /// Points outside the x or y range.
    pub outside: u64,
    /// Points not filled because `r == 0` (see [`residual_map`]).
    pub zeros: u64,
}

impl Serialize for Histogram2D {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let rows: Vec<Vec<u64>> = self.counts.rows().into_iter().map(|r| r.to_vec()).collect();
        let mut st = s.serialize_struct("Histogram2D", 5)?;
        st.serialize_field("x_edges", &self.x_edges)?;
        st.serialize_field("y_edges", &self.y_edges)?;
        st.serialize_field("counts", &rows)?;
        st.serialize_field("outside", &self.outside)?;
        st.serialize_field("zeros", &self.zeros)?;
        st.end()
    }
}

impl Histogram2D {
    /// An empty histogram.
    ///
    /// ```
    /// use refloat::residual::{Histogram2D, UniformBins};
    /// let h = Histogram2D::new(UniformBins::new(0.0, 1.0, 2)?, UniformBins::new(0.0, 1.0, 3)?);
    /// assert_eq!(h.counts.dim(), (2, 3));
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn new(x_bins: UniformBins, y_bins: UniformBins) -> Self {
        Self {
            x_edges: x_bins.edges(),
            y_edges: y_bins.edges(),
            counts: Array2::zeros((x_bins.count, y_bins.count)),
            outside: 0,
            zeros: 0,
        }
    }

    /// Adds one point.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if either coordinate is NaN.
    ///
    /// ```
    /// use refloat::residual::{Histogram2D, UniformBins};
    /// let mut h = Histogram2D::new(UniformBins::new(0.0, 1.0, 2)?, UniformBins::new(0.0, 1.0, 2)?);
    /// h.fill(0.75, 0.25)?;
    /// h.fill(5.0, 0.5)?;
    /// assert_eq!((h.counts[[1, 0]], h.outside), (1, 1));
    /// # Ok::<(), refloat::Error>(())
    /// ```
    pub fn fill(&mut self, x: f64, y: f64) -> Result<()> {
        if x.is_nan() || y.is_nan() {
            return Err(Error::InvalidInput(format!(
                "2D histogram point ({x}, {y}) has a NaN coordinate"
            )));
        }
        match (bin_of(&self.x_edges, x), bin_of(&self.y_edges, y)) {
            (Ok(i), Ok(j)) => self.counts[[i, j]] += 1,
            _ => self.outside += 1,
        }
        Ok(())
    }

    /// Counts inside both ranges.
    pub fn in_range(&self) -> u64 {
        self.counts.sum()
    }
}

/// The seed's residual-map coordinates of an original `x` and its residual `r`:
/// `(log10(|x| + 1e-12), sign(r)·log10(|r| + 1e-12))`.
///
/// Note the sign convention this inherits: for `|r| < 1` the logarithm is negative, so a
/// positive residual gets a negative `y`. `r = 0` gives `y = 0`, the same row as `|r| = 1`.
/// The seed's bound lines are `y = ±(log10|x| − n·log10 2)` ([`crate::bounds::seed_bound_log10`]).
///
/// ```
/// let (x, y) = refloat::residual::residual_map_point(1000.0, -0.01);
/// assert!((x - 3.0).abs() < 1e-12 && (y - 2.0).abs() < 1e-9); // r < 0 plots above 0
/// ```
#[inline]
pub fn residual_map_point(x: f64, r: f64) -> (f64, f64) {
    let sign = if r > 0.0 {
        1.0
    } else if r < 0.0 {
        -1.0
    } else {
        0.0
    };
    (
        (x.abs() + MAP_LOG_OFFSET).log10(),
        sign * (r.abs() + MAP_LOG_OFFSET).log10(),
    )
}

/// 2D histogram of the seed's residual map ([`residual_map_point`]) of originals `original`
/// and their residuals. Exact zeros `r = 0` are counted in [`Histogram2D::zeros`] and **not**
/// filled: the formula would put them on the `y = 0` row, i.e. mix them with `|r| = 1`.
///
/// # Errors
/// [`Error::LengthMismatch`]; [`Error::InvalidInput`] for non-finite values.
///
/// ```
/// use refloat::residual::{residual_map, residuals_f32, UniformBins};
/// let x = [1000.3f32, 2.0];
/// let r = residuals_f32(&x, &[1000.0, 2.0])?;
/// let h = residual_map(&x, &r, UniformBins::new(-12.0, 12.0, 24)?, UniformBins::new(-12.0, 12.0, 24)?)?;
/// assert_eq!((h.in_range(), h.zeros), (1, 1));
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn residual_map(
    original: &[f32],
    residuals: &[f64],
    x_bins: UniformBins,
    y_bins: UniformBins,
) -> Result<Histogram2D> {
    check_len("original vs residuals", original.len(), residuals.len())?;
    check_finite_f32("original", original)?;
    check_finite_f64("residual", residuals)?;
    let mut h = Histogram2D::new(x_bins, y_bins);
    for (&x, &r) in original.iter().zip(residuals) {
        if r == 0.0 {
            h.zeros += 1;
            continue;
        }
        let (px, py) = residual_map_point(x as f64, r);
        h.fill(px, py)?;
    }
    Ok(h)
}

/// A local maximum of a histogram with its topographic prominence (as
/// `scipy.signal.find_peaks` / `peak_prominences` define them).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepPeak {
    /// Bin index (middle bin of a flat top, rounded down).
    pub bin: usize,
    /// Bin centre in axis units (decades of `|r|` for a `log10|r|` histogram).
    pub position: f64,
    /// Count in the peak bin.
    pub count: u64,
    /// Height above the higher of the two bases (scipy's prominence).
    pub prominence: u64,
    /// `prominence / sqrt(count + base)`, `base = count − prominence`: the prominence in
    /// units of the Poisson standard deviation of a difference of two bins.
    pub significance: f64,
}

/// All local maxima of `hist.counts` with their prominences, in bin order.
///
/// Same definition as `scipy.signal.find_peaks(counts)` (a plateau's peak is its middle,
/// rounded down; the first and last bins are never peaks) and
/// `scipy.signal.peak_prominences` without a window.
///
/// ```
/// use refloat::residual::{histogram_peaks, Histogram1D};
/// let mut h = Histogram1D::with_edges((0..=7).map(f64::from).collect())?;
/// h.counts = vec![0, 5, 1, 3, 3, 2, 9];
/// let p = histogram_peaks(&h);
/// assert_eq!(p.iter().map(|p| (p.bin, p.prominence)).collect::<Vec<_>>(), vec![(1, 4), (3, 1)]);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn histogram_peaks(hist: &Histogram1D) -> Vec<StepPeak> {
    let x = &hist.counts;
    let centres = hist.centres();
    let len = x.len();
    let mut tops: Vec<usize> = Vec::new();
    if len < 3 {
        return Vec::new();
    }
    let mut i = 1;
    while i < len - 1 {
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < len - 1 && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                tops.push((i + ahead - 1) / 2);
                i = ahead;
            }
        }
        i += 1;
    }
    tops.into_iter()
        .map(|p| {
            let h = x[p];
            let mut left_min = h;
            let mut j = p as isize;
            while j >= 0 && x[j as usize] <= h {
                left_min = left_min.min(x[j as usize]);
                j -= 1;
            }
            let mut right_min = h;
            let mut j = p;
            while j < len && x[j] <= h {
                right_min = right_min.min(x[j]);
                j += 1;
            }
            let base = left_min.max(right_min);
            let prominence = h - base;
            StepPeak {
                bin: p,
                position: centres[p],
                count: h,
                prominence,
                significance: prominence as f64 / ((h + base) as f64).sqrt(),
            }
        })
        .collect()
}

/// The significant peaks: [`histogram_peaks`] with `significance ≥ min_significance`
/// (3 is a conventional choice: a 3σ rise above the Poisson noise of the two bins).
///
/// ```
/// use refloat::residual::{detect_steps, Histogram1D};
/// let mut h = Histogram1D::with_edges((0..=6).map(f64::from).collect())?;
/// h.counts = vec![10, 100, 10, 12, 10, 10];
/// let p = detect_steps(&h, 3.0);
/// assert_eq!(p.len(), 1);
/// assert_eq!(p[0].bin, 1);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn detect_steps(hist: &Histogram1D, min_significance: f64) -> Vec<StepPeak> {
    histogram_peaks(hist)
        .into_iter()
        .filter(|p| p.significance >= min_significance)
        .collect()
}

fn median_of(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// Median of the distances between neighbouring peaks (`None` with fewer than two peaks).
/// Positions are bin centres, so each distance carries up to one bin width of quantisation
/// error; a missing peak doubles a distance and a spurious one splits it, which the median
/// tolerates only while they are a minority.
///
/// ```
/// use refloat::residual::{median_spacing, StepPeak};
/// let p = |x| StepPeak { bin: 0, position: x, count: 1, prominence: 1, significance: 1.0 };
/// assert_eq!(median_spacing(&[p(0.0), p(0.3), p(0.6), p(1.5)]), Some(0.3));
/// ```
pub fn median_spacing(peaks: &[StepPeak]) -> Option<f64> {
    median_of(
        peaks
            .windows(2)
            .map(|w| w[1].position - w[0].position)
            .collect(),
    )
}

/// The periodicity of `log10|r|` found by a Rayleigh periodogram.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepPeriodogram {
    /// Best period in decades of `|r|`.
    pub spacing: f64,
    /// Rayleigh resultant length `R = |mean_j exp(2πi·log10|r_j| / spacing)|` in `[0, 1]`
    /// (about 0.11 for an ideal one-binade sawtooth of uniform residuals).
    pub power: f64,
    /// Rayleigh statistic `Z = N·R²`; without periodicity `P(Z > z) ≈ exp(−z)` at one period.
    pub rayleigh_z: f64,
    /// Main-lobe half width in spacing, `spacing² / span` (`span` = range of `log10|r|`):
    /// periods closer than this are not resolved.
    pub resolution: f64,
    /// Probability that noise gives a peak this high anywhere in the scanned band:
    /// `min(1, M·exp(−Z))` with `M` the number of independent frequencies scanned.
    pub false_alarm: f64,
    /// The best period lies within a resolution of the scanned range's end: the envelope
    /// of `log10|r|`, not a step pattern, won (typical of branches with few values).
    pub at_limit: bool,
    /// Number of non-zero residuals used.
    pub n: usize,
}

/// Rayleigh resultant length of `values` at frequency `f` (cycles per decade).
fn rayleigh(values: &[f64], f: f64) -> f64 {
    let w = std::f64::consts::TAU * f;
    let (mut c, mut s) = (0.0, 0.0);
    for &v in values {
        let (sn, cs) = (w * v).sin_cos();
        c += cs;
        s += sn;
    }
    (c * c + s * s).sqrt() / values.len() as f64
}

/// Period of the step pattern of `log10|r|`, from the non-zero residuals directly (no
/// binning): the period `s` in `[min_spacing, max_spacing]` decades maximising the Rayleigh
/// resultant `R(s)` ([`StepPeriodogram::power`]). A sawtooth's fundamental carries the most
/// power (harmonics `s/k` fall as `1/k`); keep `max_spacing` well below the spread of
/// `log10|r|` so that the envelope does not dominate. The frequency grid is oversampled 8×
/// relative to the main-lobe width and the best cell is refined by golden-section search.
///
/// Returns `None` with fewer than two non-zero residuals or when all have the same `|r|`.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `0 < min_spacing < max_spacing` (finite);
/// [`Error::InvalidInput`] for non-finite residuals.
///
/// ```
/// use refloat::residual::step_periodogram;
/// // |r| on a lattice of one binade (factor 2) spread over 20 binades.
/// let r: Vec<f64> = (0..2000).map(|i| 2f64.powi(-(i % 20)) * (1.0 - 0.3 * ((i * 7919) % 100) as f64 / 100.0)).collect();
/// let p = step_periodogram(&r, 0.05, 1.0)?.unwrap();
/// assert!((p.spacing - 2f64.log10()).abs() < p.resolution);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn step_periodogram(
    residuals: &[f64],
    min_spacing: f64,
    max_spacing: f64,
) -> Result<Option<StepPeriodogram>> {
    if !(min_spacing.is_finite()
        && max_spacing.is_finite()
        && 0.0 < min_spacing
        && min_spacing < max_spacing)
    {
        return Err(Error::InvalidArgument(format!(
            "periodogram needs 0 < min_spacing < max_spacing (got {min_spacing}, {max_spacing})"
        )));
    }
    check_finite_f64("residual", residuals)?;
    let l: Vec<f64> = residuals
        .iter()
        .filter(|&&r| r != 0.0)
        .map(|r| r.abs().log10())
        .collect();
    if l.len() < 2 {
        return Ok(None);
    }
    let (lo, hi) = l
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = hi - lo;
    if span <= 0.0 {
        return Ok(None);
    }
    // Centre the values so that phases stay small.
    let mid = 0.5 * (lo + hi);
    let l: Vec<f64> = l.into_iter().map(|v| v - mid).collect();
    let (f_lo, f_hi) = (1.0 / max_spacing, 1.0 / min_spacing);
    let df = 1.0 / (8.0 * span);
    let steps = ((f_hi - f_lo) / df).ceil() as usize;
    // Coarse scan: for each value, advance the phasor exp(2πi f l) along the grid by one
    // complex multiplication per cell (rounding drift over a few thousand cells ~ 1e-13).
    let mut acc = vec![(0.0f64, 0.0f64); steps + 1];
    for &v in &l {
        let (s0, c0) = (std::f64::consts::TAU * f_lo * v).sin_cos();
        let (sd, cd) = (std::f64::consts::TAU * df * v).sin_cos();
        let (mut zr, mut zi) = (c0, s0);
        for a in acc.iter_mut() {
            a.0 += zr;
            a.1 += zi;
            (zr, zi) = (zr * cd - zi * sd, zr * sd + zi * cd);
        }
    }
    let (mut best_f, mut best_r) = (f_lo, -1.0);
    for (k, a) in acc.iter().enumerate() {
        let f = f_lo + k as f64 * df;
        if f > f_hi + 0.5 * df {
            break;
        }
        let r = (a.0 * a.0 + a.1 * a.1).sqrt() / l.len() as f64;
        if r > best_r {
            (best_f, best_r) = (f, r);
        }
    }
    // Golden-section refinement inside the best cell's neighbours.
    let (mut a, mut b) = ((best_f - df).max(f_lo), (best_f + df).min(f_hi));
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut rc, mut rd) = (rayleigh(&l, c), rayleigh(&l, d));
    for _ in 0..60 {
        if rc >= rd {
            b = d;
            d = c;
            rd = rc;
            c = b - g * (b - a);
            rc = rayleigh(&l, c);
        } else {
            a = c;
            c = d;
            rc = rd;
            d = a + g * (b - a);
            rd = rayleigh(&l, d);
        }
        if b - a < 1e-9 * best_f {
            break;
        }
    }
    let (f, r) = if rc >= rd { (c, rc) } else { (d, rd) };
    let (f, r) = if r >= best_r {
        (f, r)
    } else {
        (best_f, best_r)
    };
    let spacing = 1.0 / f;
    let resolution = spacing * spacing / span;
    let rayleigh_z = l.len() as f64 * r * r;
    // Independent frequencies scanned: the band over the main-lobe width 1/span.
    let trials = ((f_hi - f_lo) * span).max(1.0);
    Ok(Some(StepPeriodogram {
        spacing,
        power: r,
        rayleigh_z,
        resolution,
        false_alarm: (trials * (-rayleigh_z).exp()).min(1.0),
        at_limit: spacing + resolution >= max_spacing || spacing - resolution <= min_spacing,
        n: l.len(),
    }))
}

/// Settings of [`analyse_steps`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepOptions {
    /// Bin width of the `log10|r|` histogram in decades (default 0.02: 15 bins per binade,
    /// fine enough to resolve the edge of each step).
    pub bin_width: f64,
    /// Minimum peak significance (default 3, see [`detect_steps`]).
    pub min_significance: f64,
    /// Shortest period the periodogram considers, in decades (default 0.05).
    pub min_spacing: f64,
    /// Longest period the periodogram considers, in decades (default 1.0).
    pub max_spacing: f64,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self {
            bin_width: 0.02,
            min_significance: 3.0,
            min_spacing: 0.05,
            max_spacing: 1.0,
        }
    }
}

/// Largest periodogram false-alarm probability for which [`StepAnalysis::spacing`] reports
/// the periodogram's spacing.
pub const STEP_FALSE_ALARM: f64 = 1e-3;

/// Fewest significant histogram peaks for which [`StepAnalysis::spacing`] falls back to their
/// median spacing.
pub const STEP_MIN_PEAKS: usize = 4;

/// What [`analyse_steps`] finds in a set of residuals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepAnalysis {
    /// The `log10|r|` histogram: bins of `bin_width` from `floor(min)` to `ceil(max)` decades.
    pub histogram: Histogram1D,
    /// Its significant peaks ([`detect_steps`]).
    pub peaks: Vec<StepPeak>,
    /// [`median_spacing`] of the peaks, decades.
    pub spacing_peaks_median: Option<f64>,
    /// The periodogram estimate ([`step_periodogram`]): the headline spacing.
    pub periodogram: Option<StepPeriodogram>,
    /// What theory predicts: [`STEP_SPACING_THEORY`] = `log10 2`.
    pub theory: f64,
}

impl StepAnalysis {
    /// The headline spacing: the periodogram's when it found a step pattern (false-alarm
    /// probability below [`STEP_FALSE_ALARM`] and not at the scanned range's end), else the
    /// peaks' median when there are at least [`STEP_MIN_PEAKS`] significant peaks; `None`
    /// when neither resolves steps (typical below a few thousand values: branches of a
    /// hundred events show steps only when pooled).
    pub fn spacing(&self) -> Option<f64> {
        self.periodogram
            .filter(|p| p.false_alarm < STEP_FALSE_ALARM && !p.at_limit)
            .map(|p| p.spacing)
            .or(self
                .spacing_peaks_median
                .filter(|_| self.peaks.len() >= STEP_MIN_PEAKS))
    }
}

/// Histogram of `log10|r|`, its significant peaks and their spacing, and the periodogram
/// spacing, in one call. Zero residuals are counted in `histogram.zeros` and used nowhere else.
///
/// # Errors
/// [`Error::InvalidInput`] for non-finite residuals or when no residual is non-zero;
/// [`Error::InvalidArgument`] for bad options.
///
/// ```
/// use refloat::quantise::{Quantiser32, RoundingMode};
/// use refloat::residual::{analyse_steps, residuals_f32, StepOptions};
/// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
/// let x: Vec<f32> = (1..20_000).map(|i| 1.0001f32.powi(i * 7) * 0.01).collect();
/// let s: Vec<f32> = x.iter().map(|&v| q.quantise(v)).collect();
/// let a = analyse_steps(&residuals_f32(&x, &s)?, &StepOptions::default())?;
/// assert!((a.spacing().unwrap() - a.theory).abs() < 0.02);
/// # Ok::<(), refloat::Error>(())
/// ```
pub fn analyse_steps(residuals: &[f64], options: &StepOptions) -> Result<StepAnalysis> {
    check_finite_f64("residual", residuals)?;
    let (lo, hi) = residuals
        .iter()
        .filter(|&&r| r != 0.0)
        .map(|r| r.abs().log10())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return Err(Error::InvalidInput(format!(
            "no non-zero residual among {} values",
            residuals.len()
        )));
    }
    let (lo, mut hi) = (lo.floor(), hi.ceil());
    if hi <= lo {
        hi = lo + 1.0;
    }
    let histogram = log10_abs_histogram(
        residuals,
        UniformBins::with_width(lo, hi, options.bin_width)?,
    )?;
    let peaks = detect_steps(&histogram, options.min_significance);
    let spacing_peaks_median = median_spacing(&peaks);
    let periodogram = step_periodogram(residuals, options.min_spacing, options.max_spacing)?;
    Ok(StepAnalysis {
        histogram,
        peaks,
        spacing_peaks_median,
        periodogram,
        theory: STEP_SPACING_THEORY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Residuals without a step pattern (log-uniform over three decades) or too few of
    /// them: no headline spacing, rather than the envelope at the range limit.
    #[test]
    fn no_steps_no_spacing() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for n in [50, 300, 3000] {
            let r: Vec<f64> = (0..n).map(|_| 10f64.powf(-3.0 * uniform())).collect();
            let a = analyse_steps(&r, &StepOptions::default()).unwrap();
            assert_eq!(a.spacing(), None, "n = {n}: {:?}", a.periodogram);
        }
    }

    #[test]
    fn bins_match_numpy_rule() {
        let h = Histogram1D::from_values(
            &[0.0, 0.5, 1.0, 1.5, 2.0],
            UniformBins::new(0.0, 2.0, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(h.counts, vec![2, 3]);
        assert_eq!(h.entries(), 5);
    }

    #[test]
    fn symlog_is_monotone_and_continuous() {
        let c = 1e-6;
        assert_eq!(symlog(c, c), 1.0);
        assert_eq!(symlog(-c, c), -1.0);
        assert!((symlog(c * (1.0 + 1e-12), c) - 1.0).abs() < 1e-9);
        let mut prev = f64::NEG_INFINITY;
        for k in -200..=200 {
            let r = (k as f64 / 10.0).sinh() * 1e-8;
            let t = symlog(r, c);
            assert!(t > prev);
            prev = t;
        }
    }

    #[test]
    fn length_mismatch_is_error() {
        assert!(matches!(
            residuals_f32(&[1.0], &[]),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            residuals_f32(&[f32::NAN], &[1.0]),
            Err(Error::InvalidInput(_))
        ));
    }
}
