//! Histograms with numpy's conventions: [`UniformBins`], [`Histogram1D`] (bins
//! `[e_i, e_{i+1})`, the last bin closed, out-of-range counted, exact zeros of a log axis
//! counted apart) and [`Histogram2D`] (numpy `histogram2d` per axis). Used by the residual
//! analysis ([`crate::residual`]) and the distribution metrics ([`crate::metrics`]).

use crate::error::{Error, Result};
use ndarray::Array2;
use serde::Serialize;

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
    /// let b = refloat_core::histogram::UniformBins::new(-1.0, 1.0, 4)?;
    /// assert_eq!(b.edges(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    /// # Ok::<(), refloat_core::Error>(())
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
    /// let b = refloat_core::histogram::UniformBins::with_width(-10.0, 2.0, 0.02)?;
    /// assert_eq!(b.count, 600);
    /// # Ok::<(), refloat_core::Error>(())
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

    /// The width of a bin, `(hi − lo) / count`.
    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / self.count as f64
    }

    /// The bin holding `x` (the last bin includes `hi`), `None` outside `[lo, hi]` or NaN.
    ///
    /// ```
    /// let b = refloat_core::histogram::UniformBins::new(0.0, 1.0, 4)?;
    /// assert_eq!((b.index(0.3), b.index(1.0), b.index(1.5)), (Some(1), Some(3), None));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    #[inline]
    pub fn index(&self, x: f64) -> Option<usize> {
        if !(x >= self.lo && x <= self.hi) {
            return None;
        }
        Some((((x - self.lo) / self.width()) as usize).min(self.count - 1))
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

pub(crate) fn check_edges(edges: &[f64]) -> Result<()> {
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
/// `Err(false)` below the range, `Err(true)` above it. `x` must not be NaN; `edges` must
/// hold at least two increasing values.
///
/// ```
/// use refloat_core::histogram::bin_of;
/// let e = [0.0, 1.0, 2.0];
/// assert_eq!((bin_of(&e, 0.5), bin_of(&e, 2.0), bin_of(&e, -1.0), bin_of(&e, 3.0)), (Ok(0), Ok(1), Err(false), Err(true)));
/// ```
#[inline]
pub fn bin_of(edges: &[f64], x: f64) -> std::result::Result<usize, bool> {
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

/// [`bin_of`], with values outside the range in the end bins.
#[inline]
pub fn bin_clamped(edges: &[f64], x: f64) -> usize {
    match bin_of(edges, x) {
        Ok(i) => i,
        Err(false) => 0,
        Err(true) => edges.len() - 2,
    }
}

/// Quantile cut points of `values` for `bins` bins: the values of sorted rank
/// `⌊j·n/bins⌋` for `j = 1 … bins − 1` (lower ranks, no interpolation), deduplicated, so
/// ties make fewer bins. Empty for `bins < 2` or no values. Bin a value among them with
/// [`bin_among_cuts`].
///
/// ```
/// use refloat_core::histogram::{bin_among_cuts, quantile_cuts};
/// let cuts = quantile_cuts(vec![4.0, 1.0, 3.0, 2.0], 2);
/// assert_eq!(cuts, vec![3.0]);
/// assert_eq!((bin_among_cuts(&cuts, 2.9), bin_among_cuts(&cuts, 3.0)), (0, 1));
/// ```
pub fn quantile_cuts(mut values: Vec<f64>, bins: usize) -> Vec<f64> {
    if bins < 2 || values.is_empty() {
        return Vec::new();
    }
    values.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..bins)
        .map(|j| values[(j * values.len() / bins).min(values.len() - 1)])
        .collect();
    cuts.dedup_by(|a, b| a.total_cmp(b).is_eq());
    cuts
}

/// The bin (`0 ..= cuts.len()`) of `v` among the interior cut points `cuts` (values equal
/// to a cut go above it; `f64::total_cmp` order), as [`quantile_cuts`] makes them.
#[inline]
pub fn bin_among_cuts(cuts: &[f64], v: f64) -> usize {
    cuts.partition_point(|e| e.total_cmp(&v).is_le())
}

/// Counts of `values` in the bins of `edges` ([`bin_of`]: `[e_i, e_{i+1})`, the last bin
/// closed); values outside the range are not counted. `edges` must hold at least two
/// increasing values.
///
/// ```
/// let c = refloat_core::histogram::counts_on_edges(&[0.5, 1.5, 2.0, 9.0], &[0.0, 1.0, 2.0]);
/// assert_eq!(c, vec![1.0, 2.0]);
/// ```
pub fn counts_on_edges(values: &[f32], edges: &[f64]) -> Vec<f64> {
    let bins = edges.len() - 1;
    let mut counts = vec![0.0; bins];
    for &v in values {
        if let Ok(i) = bin_of(edges, v as f64) {
            counts[i] += 1.0;
        }
    }
    counts
}

/// The fraction of the finite `values` in each bin of `edges` (numpy's convention, values
/// outside the range counted in the end bins); all zeros if there is no finite value.
///
/// ```
/// let p = refloat_core::histogram::probabilities_on_edges(&[0.5, 1.5, 9.0, f32::NAN], &[0.0, 1.0, 2.0]);
/// assert_eq!(p, vec![1.0 / 3.0, 2.0 / 3.0]);
/// ```
pub fn probabilities_on_edges(values: &[f32], edges: &[f64]) -> Vec<f64> {
    let mut h = vec![0.0; edges.len().saturating_sub(1)];
    if h.is_empty() {
        return h;
    }
    let mut n = 0.0;
    for &x in values.iter().filter(|x| x.is_finite()) {
        h[bin_clamped(edges, x as f64)] += 1.0;
        n += 1.0;
    }
    if n > 0.0 {
        h.iter_mut().for_each(|c| *c /= n);
    }
    h
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
    /// use refloat_core::histogram::{Histogram1D, UniformBins};
    /// let mut h = Histogram1D::new(UniformBins::new(0.0, 1.0, 2)?);
    /// for x in [0.1, 0.5, 1.0, 2.0] { h.fill(x)?; }
    /// assert_eq!((h.counts.clone(), h.overflow), (vec![1, 2], 1));
    /// # Ok::<(), refloat_core::Error>(())
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
    /// let h = refloat_core::histogram::Histogram1D::with_edges(vec![0.0, 1.0, 10.0])?;
    /// assert_eq!(h.counts, vec![0, 0]);
    /// # Ok::<(), refloat_core::Error>(())
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
    /// use refloat_core::histogram::{Histogram1D, UniformBins};
    /// let h = Histogram1D::from_values(&[0.0, 0.25, 0.75, -1.0], UniformBins::new(0.0, 1.0, 2)?)?;
    /// assert_eq!((h.counts, h.underflow), (vec![2, 1], 1));
    /// # Ok::<(), refloat_core::Error>(())
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
    pub(crate) fn fill_unchecked(&mut self, x: f64) {
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
    /// let mut h = refloat_core::histogram::Histogram1D::with_edges(vec![0.0, 1.0])?;
    /// h.fill(1.0)?; // the last edge belongs to the last bin
    /// assert_eq!(h.counts, vec![1]);
    /// assert!(h.fill(f64::NAN).is_err());
    /// # Ok::<(), refloat_core::Error>(())
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
    /// let h = refloat_core::histogram::Histogram1D::with_edges(vec![0.0, 1.0, 3.0])?;
    /// assert_eq!(h.centres(), vec![0.5, 2.0]);
    /// # Ok::<(), refloat_core::Error>(())
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
    /// use refloat_core::residual::log10_abs_histogram;
    /// use refloat_core::histogram::UniformBins;
    /// let h = log10_abs_histogram(&[0.0, 1e-3, 1e9], UniformBins::new(-6.0, 0.0, 6)?)?;
    /// assert_eq!((h.in_range(), h.overflow, h.zeros, h.entries()), (1, 1, 1, 3));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn entries(&self) -> u64 {
        self.in_range() + self.underflow + self.overflow + self.zeros
    }
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
    /// use refloat_core::histogram::{Histogram2D, UniformBins};
    /// let h = Histogram2D::new(UniformBins::new(0.0, 1.0, 2)?, UniformBins::new(0.0, 1.0, 3)?);
    /// assert_eq!(h.counts.dim(), (2, 3));
    /// # Ok::<(), refloat_core::Error>(())
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
    /// use refloat_core::histogram::{Histogram2D, UniformBins};
    /// let mut h = Histogram2D::new(UniformBins::new(0.0, 1.0, 2)?, UniformBins::new(0.0, 1.0, 2)?);
    /// h.fill(0.75, 0.25)?;
    /// h.fill(5.0, 0.5)?;
    /// assert_eq!((h.counts[[1, 0]], h.outside), (1, 1));
    /// # Ok::<(), refloat_core::Error>(())
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
