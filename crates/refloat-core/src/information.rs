//! How much information the bits of float values carry, and how much of what the rounding
//! dropped could be predicted at all.
//!
//! Two measurements, both pure functions over slices of **original** (unrounded) values:
//!
//! * [`bitwise_information`]: the *real information* of each bit position of an `f32`
//!   (Klöwer, Razinger, Dominguez, Düben and Palmer 2021, "Compressing atmospheric data into
//!   its real information content", Nature Computational Science 1, 713; BitInformation.jl,
//!   xbitinfo). Bit position `i` counts from the most significant: `0` the sign, `1..=8` the
//!   exponent, `9..=31` the 23 explicit mantissa bits. The information of position `i` is
//!   the mutual information (in bits) between bit `i` of a value and bit `i` of its
//!   [`Neighbour`], estimated from the 2×2 table of bit pairs. Values whose mutual information
//!   does not exceed the *free entropy* `1 − H(p₁)` of a fair coin at the chosen confidence
//!   (`p₁ = ½ + z/(2√n)` with `z` the `(1 + confidence)/2` normal quantile and `n` pairs,
//!   BitInformation.jl's `binom_confidence`) are set to exactly 0. Klöwer's rule then keeps
//!   the fewest mantissa bits whose positions, counted from the sign, carry a given fraction
//!   of the total ([`BitInformation::kept_mantissa_bits_for`]).
//!
//!   Klöwer's neighbours are grid neighbours of a geophysical field. HEP events are
//!   independent, so the neighbour must be chosen: [`Neighbour::NextObject`] (the same
//!   variable of the next object of the same event: objects are pt-ordered, hence
//!   correlated), [`Neighbour::OtherVariable`] (another variable of the same object), and
//!   the control [`Neighbour::NextEvent`] (consecutive events, independent by construction:
//!   whatever survives the filter there is a false positive, at a rate near
//!   `1 − confidence` per bit position that is not constant).
//!
//! * [`dropped_bit_predictability`]: an information ceiling for corrections. For each
//!   original `x` with stored value `q = quantise(x)` and `q`'s interval of originals
//!   (see [`crate::bounds`]), the position `u ∈ [0, 1]` of `x` inside the interval,
//!   measured in magnitude from the end nearer zero, is cut into `K` sub-bins (the top
//!   `log2 K` dropped bits, near enough). A correction can only beat the interval's
//!   midpoint or prior mean by knowing something about the sub-bin. The held-out log-loss
//!   gain of a classifier that sees only stored information (features of `q`, of another
//!   variable's stored value, of the neighbour object's stored value) over the sub-bins'
//!   marginal distribution is a **lower bound** on the mutual information
//!   `I(sub-bin; features)` in bits per value: no model using those features can be shown
//!   to gain less than it, and a small gain with a small standard error bounds what this
//!   classifier could find, not what every model could. The marginal itself (how far the
//!   sub-bin distribution is from uniform) is the density slope inside intervals, which
//!   [`Method::PriorMean`](crate::correct::Method::PriorMean) already uses.
//!
//! Every function here is pure and sequential; nothing here reads files.

use crate::error::{check_len, Error, Result};
use crate::histogram::{bin_among_cuts, quantile_cuts};
use crate::quantise::Quantiser32;

/// Bit positions of an `f32`: sign, 8 exponent bits, 23 explicit mantissa bits.
pub const F32_BIT_POSITIONS: usize = 32;

/// Positions before the first mantissa bit (the sign and the 8 exponent bits).
pub const F32_SIGN_EXPONENT_BITS: usize = 9;

/// The confidence of Klöwer's significance filter used by [`bitwise_information`].
pub const DEFAULT_CONFIDENCE: f64 = 0.99;

/// Which value a value is paired with in [`bitwise_information`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Neighbour<'a> {
    /// The same variable of the next object of the same event: pairs `(k, k + 1)` inside
    /// each event. Needs offsets (a jagged branch); an event with `m` objects gives `m − 1`
    /// pairs.
    NextObject,
    /// The same object's other variable: pairs `(values[k], other[k])`. The slice must have
    /// the same length as the values (the same objects in the same order).
    OtherVariable(&'a [f32]),
    /// Consecutive events, which are independent: the control. For a flat branch the pairs
    /// are `(k, k + 1)`; for a jagged one, the leading objects of consecutive non-empty
    /// events.
    NextEvent,
}

/// The real information of each bit position of `f32` values ([`bitwise_information`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BitInformation {
    /// Information of each bit position in bits, `0` = sign, `1..=8` exponent, `9..=31`
    /// mantissa (most significant first), after the significance filter: every entry is
    /// either exactly 0 or above [`Self::threshold`]. Each lies in `[0, 1]`.
    pub bits: [f64; F32_BIT_POSITIONS],
    /// The same before the filter (the plug-in mutual information of the 2×2 table).
    pub unfiltered: [f64; F32_BIT_POSITIONS],
    /// The number of value pairs counted.
    pub pairs: usize,
    /// The filter's threshold in bits: the free entropy of a fair coin at
    /// [`Self::confidence`] and [`Self::pairs`] tosses (1 when there are no pairs).
    pub threshold: f64,
    /// The filter's confidence, in `(0, 1)`.
    pub confidence: f64,
}

impl BitInformation {
    /// The total information over all 32 positions, in bits per value.
    pub fn total(&self) -> f64 {
        self.bits.iter().sum()
    }

    /// The information of the 23 mantissa positions, in bits per value.
    pub fn mantissa(&self) -> f64 {
        self.bits[F32_SIGN_EXPONENT_BITS..].iter().sum()
    }

    /// The information of the sign and the 8 exponent positions, in bits per value.
    pub fn sign_exponent(&self) -> f64 {
        self.bits[..F32_SIGN_EXPONENT_BITS].iter().sum()
    }

    /// Klöwer's rule: the fewest kept mantissa bits (`0..=23`, bits kept, not removed) such
    /// that the positions from the sign down to the last kept mantissa bit carry at least
    /// `fraction` of [`Self::total`]. `0` when there is no information at all.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 < fraction <= 1`.
    ///
    /// ```
    /// use refloat_core::information::{bitwise_information, Neighbour};
    /// let x: Vec<f32> = (0..2000).map(|i| 100.0 + (i as f32 / 100.0).sin()).collect();
    /// let info = bitwise_information(&x, None, Neighbour::NextEvent)?;
    /// let kept = info.kept_mantissa_bits_for(0.99)?;
    /// assert!(kept < 23);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn kept_mantissa_bits_for(&self, fraction: f64) -> Result<u32> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::InvalidArgument(format!(
                "information fraction {fraction} is not in (0, 1]"
            )));
        }
        let total = self.total();
        if total <= 0.0 {
            return Ok(0);
        }
        let mut cumulative = 0.0;
        for (position, &b) in self.bits.iter().enumerate() {
            cumulative += b;
            if cumulative >= fraction * total {
                return Ok(position.saturating_sub(F32_SIGN_EXPONENT_BITS - 1) as u32);
            }
        }
        // Rounding in the sum: every position is needed.
        Ok((F32_BIT_POSITIONS - F32_SIGN_EXPONENT_BITS) as u32)
    }
}

/// Checks jagged offsets against the number of values: start at 0, never decrease, end at
/// `len`.
fn check_offsets(offsets: &[usize], len: usize) -> Result<()> {
    let ok = offsets.first() == Some(&0)
        && offsets.last() == Some(&len)
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "offsets must start at 0, never decrease and end at the number of values ({len})"
        )))
    }
}

/// The free entropy of a fair coin tossed `n` times at `confidence` (BitInformation.jl's
/// `binom_free_entropy`): `1 − H(p₁)` with `p₁ = min(1, ½ + z/(2√n))`, `z` the
/// `(1 + confidence)/2` quantile of the standard normal; 1 for `n = 0`.
///
/// ```
/// use refloat_core::information::free_entropy;
/// let h = free_entropy(1000, 0.95);
/// assert!(h > 0.0 && h < 0.01);
/// assert!(free_entropy(100_000, 0.99) < free_entropy(1000, 0.99));
/// ```
pub fn free_entropy(n: usize, confidence: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    if n == 0 {
        return 1.0;
    }
    let z = Normal::standard().inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    let p = (0.5 + z / (2.0 * (n as f64).sqrt())).min(1.0);
    1.0 - binary_entropy(p)
}

/// `−p log2 p − (1−p) log2 (1−p)`, 0 at the ends.
fn binary_entropy(p: f64) -> f64 {
    let term = |q: f64| if q > 0.0 { -q * q.log2() } else { 0.0 };
    term(p) + term(1.0 - p)
}

/// Counts of bit pairs: `counts[position][bit of a][bit of b]`.
struct PairCounts {
    counts: [[[u64; 2]; 2]; F32_BIT_POSITIONS],
    pairs: usize,
}

impl PairCounts {
    fn new() -> Self {
        PairCounts {
            counts: [[[0; 2]; 2]; F32_BIT_POSITIONS],
            pairs: 0,
        }
    }

    #[inline]
    fn add(&mut self, a: f32, b: f32) {
        let (a, b) = (a.to_bits(), b.to_bits());
        for (position, table) in self.counts.iter_mut().enumerate() {
            let shift = 31 - position;
            table[((a >> shift) & 1) as usize][((b >> shift) & 1) as usize] += 1;
        }
        self.pairs += 1;
    }

    /// The plug-in mutual information of each position's table, in bits.
    fn mutual_information(&self) -> [f64; F32_BIT_POSITIONS] {
        let mut mi = [0.0; F32_BIT_POSITIONS];
        if self.pairs == 0 {
            return mi;
        }
        let n = self.pairs as f64;
        for (out, table) in mi.iter_mut().zip(&self.counts) {
            let p = table.map(|row| row.map(|c| c as f64 / n));
            let row = [p[0][0] + p[0][1], p[1][0] + p[1][1]];
            let col = [p[0][0] + p[1][0], p[0][1] + p[1][1]];
            let mut sum = 0.0;
            for i in 0..2 {
                for j in 0..2 {
                    if p[i][j] > 0.0 {
                        sum += p[i][j] * (p[i][j] / (row[i] * col[j])).log2();
                    }
                }
            }
            // Rounding can leave a tiny negative sum for independent bits.
            *out = sum.max(0.0);
        }
        mi
    }
}

/// The real information of each bit position of `values` ([`BitInformation`]) with
/// Klöwer's significance filter at [`DEFAULT_CONFIDENCE`].
///
/// `offsets` (`entries + 1`, from 0 to `values.len()`) gives the events of a jagged branch;
/// `None` means a flat branch (one value per event). The bit patterns are used as given:
/// pass original values, not stored ones (a stored value's dropped bits are 0 and carry
/// nothing).
///
/// # Errors
/// [`Error::InvalidArgument`] for [`Neighbour::NextObject`] without offsets;
/// [`Error::InvalidInput`] for malformed offsets; [`Error::LengthMismatch`] when the
/// [`Neighbour::OtherVariable`] slice has another length.
///
/// ```
/// use refloat_core::information::{bitwise_information, Neighbour};
/// // Two events of pt-ordered objects (GeV).
/// let pt = [50.0_f32, 40.0, 31.0, 60.0, 45.0];
/// let info = bitwise_information(&pt, Some(&[0, 3, 5]), Neighbour::NextObject)?;
/// assert_eq!(info.pairs, 3);
/// assert!(bitwise_information(&pt, None, Neighbour::NextObject).is_err());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn bitwise_information(
    values: &[f32],
    offsets: Option<&[usize]>,
    neighbour: Neighbour<'_>,
) -> Result<BitInformation> {
    bitwise_information_with_confidence(values, offsets, neighbour, DEFAULT_CONFIDENCE)
}

/// [`bitwise_information`] with the significance filter's confidence chosen (`0 <
/// confidence < 1`; Klöwer uses 0.99).
///
/// # Errors
/// As [`bitwise_information`], and [`Error::InvalidArgument`] for a confidence outside
/// `(0, 1)`.
///
/// ```
/// use refloat_core::information::{bitwise_information_with_confidence, Neighbour};
/// let x: Vec<f32> = (0..1000).map(|i| 1.0 + i as f32 / 1000.0).collect();
/// let info = bitwise_information_with_confidence(&x, None, Neighbour::NextEvent, 0.999)?;
/// assert!(info.bits.iter().all(|&b| b == 0.0 || b > info.threshold));
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn bitwise_information_with_confidence(
    values: &[f32],
    offsets: Option<&[usize]>,
    neighbour: Neighbour<'_>,
    confidence: f64,
) -> Result<BitInformation> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "significance confidence {confidence} is not in (0, 1)"
        )));
    }
    if let Some(o) = offsets {
        check_offsets(o, values.len())?;
    }
    let mut counts = PairCounts::new();
    match neighbour {
        Neighbour::NextObject => {
            let offsets = offsets.ok_or_else(|| {
                Error::InvalidArgument(
                    "the next-object neighbour needs the offsets of a jagged branch".into(),
                )
            })?;
            for w in offsets.windows(2) {
                for k in w[0]..w[1].saturating_sub(1) {
                    counts.add(values[k], values[k + 1]);
                }
            }
        }
        Neighbour::OtherVariable(other) => {
            check_len(
                "values and the other variable's values",
                values.len(),
                other.len(),
            )?;
            for (&a, &b) in values.iter().zip(other) {
                counts.add(a, b);
            }
        }
        Neighbour::NextEvent => match offsets {
            None => {
                for w in values.windows(2) {
                    counts.add(w[0], w[1]);
                }
            }
            Some(offsets) => {
                let mut leading = offsets
                    .windows(2)
                    .filter(|w| w[1] > w[0])
                    .map(|w| values[w[0]]);
                if let Some(mut previous) = leading.next() {
                    for v in leading {
                        counts.add(previous, v);
                        previous = v;
                    }
                }
            }
        },
    }
    let unfiltered = counts.mutual_information();
    let threshold = free_entropy(counts.pairs, confidence);
    let bits = unfiltered.map(|mi| if mi > threshold { mi } else { 0.0 });
    Ok(BitInformation {
        bits,
        unfiltered,
        pairs: counts.pairs,
        threshold,
        confidence,
    })
}

/// Which stored information the classifier of [`dropped_bit_predictability`] sees, and how
/// finely. The classifier is a table over the product of the feature cells; each factor
/// with 0 bins is left out.
#[derive(Clone, Debug, PartialEq)]
pub struct CeilingOptions {
    /// `K`: sub-bins of the position inside the interval (the class), at least 2.
    pub sub_bins: usize,
    /// The lowest kept mantissa bits of the stored value used as a feature (`2^b` cells;
    /// 0 = none). At most the kept bits.
    pub own_low_bits: u32,
    /// Quantile bins of the stored value's magnitude (edges from the training half).
    pub magnitude_bins: usize,
    /// Quantile bins of the other variable's stored value (ignored without `other`).
    pub other_bins: usize,
    /// Quantile bins of the next object's stored value in the same event, plus one cell for
    /// "no next object" (ignored without offsets).
    pub neighbour_bins: usize,
    /// Dirichlet pseudo-counts per cell, spread as the training marginal: a cell with few
    /// training values predicts close to the marginal. `None`: chosen on each training half
    /// by its leave-one-out log-loss among `1, 2, 4, …, 4096` and `∞` (the marginal
    /// itself), so that features that do not help cost little on the held-out half.
    pub smoothing: Option<f64>,
}

impl Default for CeilingOptions {
    /// `K = 8`; the two lowest kept bits; 4 magnitude bins; 3 bins each of the other
    /// variable and the neighbour; smoothing chosen by leave-one-out.
    fn default() -> Self {
        CeilingOptions {
            sub_bins: 8,
            own_low_bits: 2,
            magnitude_bins: 4,
            other_bins: 3,
            neighbour_bins: 3,
            smoothing: None,
        }
    }
}

impl CeilingOptions {
    /// Features of the stored value alone: its lowest kept bits and its magnitude bin.
    pub fn own() -> Self {
        CeilingOptions {
            other_bins: 0,
            neighbour_bins: 0,
            ..Self::default()
        }
    }
}

/// A mean over values with its standard error, kept as sums so that parts can be pooled
/// ([`Self::merge`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanEstimate {
    /// Number of values.
    pub n: usize,
    /// Sum of the values.
    pub sum: f64,
    /// Sum of their squares.
    pub sum_sq: f64,
}

impl MeanEstimate {
    fn push(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// The standard error of the mean, `s/√n` with the sample standard deviation `s`
    /// (`+∞` for fewer than 2 values).
    pub fn se(&self) -> f64 {
        if self.n < 2 {
            return f64::INFINITY;
        }
        let n = self.n as f64;
        let var = ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        (var / n).sqrt()
    }

    /// `max(mean, 0) + z·se`: the largest mean the measurement leaves open ("nothing above
    /// this"), never below the resolution `z·se` (a negative mean, the cost of fitting
    /// useless features, does not make the statement sharper than the errors allow).
    pub fn upper_limit(&self, z: f64) -> f64 {
        self.mean().max(0.0) + z * self.se()
    }

    /// Whether the mean is above `z` standard errors.
    pub fn is_significant(&self, z: f64) -> bool {
        self.mean() > z * self.se()
    }

    /// Pools another part's values into this one.
    pub fn merge(&mut self, other: &MeanEstimate) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }
}

/// What [`dropped_bit_predictability`] measured. Gains are in bits per value, positive when
/// the first predictor is better; both are held-out (2-fold by event parity).
#[derive(Clone, Debug, PartialEq)]
pub struct Ceiling {
    /// `K`, the number of sub-bins.
    pub sub_bins: usize,
    /// Values with a defined position (finite, inexact, interval wider than one value).
    pub values: usize,
    /// Values whose stored value is the original itself (zeros, short mantissas, …) or whose
    /// interval holds one value: the position is undefined, nothing to predict.
    pub exact: usize,
    /// NaN and ±Inf originals.
    pub non_finite: usize,
    /// Sub-bin counts over all [`Self::values`] (`K` entries, nearest zero first).
    pub marginal: Vec<u64>,
    /// The held-out log-loss gain of the classifier over the training marginal: a lower
    /// bound on `I(sub-bin; features)`.
    pub classifier_gain: MeanEstimate,
    /// The held-out log-loss gain of the (smoothed) training marginal over the uniform
    /// `1/K`: how much a per-value prior (the density slope inside intervals) predicts.
    pub marginal_gain: MeanEstimate,
    /// Cells of the classifier's table.
    pub cells: usize,
}

impl Ceiling {
    /// The plug-in entropy of [`Self::marginal`] in bits (biased low for few values).
    pub fn marginal_entropy(&self) -> f64 {
        let n: u64 = self.marginal.iter().sum();
        if n == 0 {
            return 0.0;
        }
        self.marginal
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n as f64;
                -p * p.log2()
            })
            .sum()
    }

    /// `log2 K − H(marginal)`: how far the sub-bins are from uniform (plug-in, biased high
    /// by about `(K − 1)/(2 n ln 2)` bits; [`Self::marginal_gain`] is the held-out version).
    pub fn entropy_deficit(&self) -> f64 {
        (self.sub_bins as f64).log2() - self.marginal_entropy()
    }

    /// Pools another branch's measurement (same `K`) into this one: counts and gains add up,
    /// [`Self::cells`] keeps the largest.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the numbers of sub-bins differ.
    pub fn merge(&mut self, other: &Ceiling) -> Result<()> {
        if self.sub_bins != other.sub_bins {
            return Err(Error::InvalidArgument(format!(
                "cannot pool ceilings of {} and {} sub-bins",
                self.sub_bins, other.sub_bins
            )));
        }
        self.values += other.values;
        self.exact += other.exact;
        self.non_finite += other.non_finite;
        for (a, b) in self.marginal.iter_mut().zip(&other.marginal) {
            *a += b;
        }
        self.classifier_gain.merge(&other.classifier_gain);
        self.marginal_gain.merge(&other.marginal_gain);
        self.cells = self.cells.max(other.cells);
        Ok(())
    }

    /// An empty measurement of `sub_bins` sub-bins, to pool into.
    pub fn empty(sub_bins: usize) -> Self {
        Ceiling {
            sub_bins,
            values: 0,
            exact: 0,
            non_finite: 0,
            marginal: vec![0; sub_bins],
            classifier_gain: MeanEstimate::default(),
            marginal_gain: MeanEstimate::default(),
            cells: 0,
        }
    }
}

/// The pseudo-count weights tried by the leave-one-out choice of smoothing: `2^0 … 2^12`
/// and `∞` (the prior itself).
const SMOOTHING_GRID: [f64; 14] = [
    1.0,
    2.0,
    4.0,
    8.0,
    16.0,
    32.0,
    64.0,
    128.0,
    256.0,
    512.0,
    1024.0,
    2048.0,
    4096.0,
    f64::INFINITY,
];

/// How predictable the dropped bits of `originals` are from stored information, at the
/// kept bits and rounding mode of `quantiser` ([`Ceiling`]).
///
/// Each finite original `x` with a stored value `q ≠ x` whose interval holds more than one
/// value gets the class `⌊K·u⌋` (`K − 1` for `u = 1`), `u` its position in the interval
/// measured in magnitude from the end nearer zero. The features are computed from stored
/// values only (`other` and the neighbours are quantised here with the same quantiser, so
/// either originals or stored values may be passed): the lowest kept bits and magnitude
/// bin of `q`, the bin of the other variable's stored value, the bin of the next object's
/// stored value. Events (by `offsets`, or one value per event without them) are split by
/// parity; a table is trained on one half and its log-loss measured on the other, both
/// ways. The training marginal: its counts plus pseudo-counts spread uniformly, their weight
/// chosen by leave-one-out log-loss on the training half (from `1, 2, 4, …, 4096, ∞`); a
/// cell's prediction: its counts plus [`CeilingOptions::smoothing`] pseudo-counts spread as
/// the marginal. Every choice is made on the training half only, so the held-out gains stay
/// honest estimates (slightly low: a lower bound stays a lower bound).
///
/// # Errors
/// [`Error::InvalidInput`] for malformed offsets; [`Error::LengthMismatch`] when `other`
/// has another length; [`Error::InvalidArgument`] for `sub_bins < 2`, a non-positive
/// smoothing, or more low bits than the quantiser keeps.
///
/// ```
/// use refloat_core::information::{dropped_bit_predictability, CeilingOptions};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let x: Vec<f32> = (0..4000).map(|i| 1.0 + (i as f32 * 0.618).fract()).collect();
/// let q = Quantiser32::new(7, RoundingMode::Truncate)?;
/// let c = dropped_bit_predictability(&x, None, None, &q, &CeilingOptions::own())?;
/// assert_eq!(c.values + c.exact, x.len());
/// assert!(c.classifier_gain.se().is_finite());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn dropped_bit_predictability(
    originals: &[f32],
    offsets: Option<&[usize]>,
    other: Option<&[f32]>,
    quantiser: &Quantiser32,
    options: &CeilingOptions,
) -> Result<Ceiling> {
    let k = options.sub_bins;
    if k < 2 {
        return Err(Error::InvalidArgument(format!(
            "{k} sub-bins: at least 2 are needed"
        )));
    }
    if let Some(a) = options.smoothing {
        if a.is_nan() || a <= 0.0 {
            return Err(Error::InvalidArgument(format!(
                "smoothing {a} is not a positive number of pseudo-counts"
            )));
        }
    }
    if options.own_low_bits > quantiser.mantissa_bits() {
        return Err(Error::InvalidArgument(format!(
            "{} low kept bits asked for, but only {} are kept",
            options.own_low_bits,
            quantiser.mantissa_bits()
        )));
    }
    if let Some(o) = offsets {
        check_offsets(o, originals.len())?;
    }
    if let Some(o) = other {
        check_len(
            "originals and the other variable's values",
            originals.len(),
            o.len(),
        )?;
    }
    let n = originals.len();
    let mut ceiling = Ceiling::empty(k);

    // Per value: the class (None if undefined), the fold, the raw features.
    let stored: Vec<f32> = originals.iter().map(|&x| quantiser.quantise(x)).collect();
    let mut class: Vec<Option<usize>> = vec![None; n];
    for (i, (&x, &q)) in originals.iter().zip(&stored).enumerate() {
        if !x.is_finite() {
            ceiling.non_finite += 1;
            continue;
        }
        let iv = match quantiser.interval(q) {
            Some(iv) if q.to_bits() != x.to_bits() && iv.lo != iv.hi => iv,
            _ => {
                ceiling.exact += 1;
                continue;
            }
        };
        debug_assert!(iv.contains(x));
        let (lo, hi, x) = (iv.lo as f64, iv.hi as f64, x as f64);
        let u = if q.is_sign_negative() {
            (hi - x) / (hi - lo)
        } else {
            (x - lo) / (hi - lo)
        };
        let c = ((u * k as f64) as usize).min(k - 1);
        class[i] = Some(c);
        ceiling.marginal[c] += 1;
        ceiling.values += 1;
    }

    let mut fold = vec![0u8; n];
    let mut next: Vec<Option<f64>> = vec![None; n];
    match offsets {
        Some(o) => {
            for (e, w) in o.windows(2).enumerate() {
                for i in w[0]..w[1] {
                    fold[i] = (e % 2) as u8;
                    if i + 1 < w[1] {
                        next[i] = Some(stored[i + 1] as f64);
                    }
                }
            }
        }
        None => {
            for (i, f) in fold.iter_mut().enumerate() {
                *f = (i % 2) as u8;
            }
        }
    }
    let other_stored: Option<Vec<f64>> =
        other.map(|o| o.iter().map(|&y| quantiser.quantise(y) as f64).collect());

    let low_cells = 1usize << options.own_low_bits;
    let low_mask = (low_cells - 1) as u32;
    let dropped = quantiser.dropped_bits();
    let magnitude: Vec<f64> = stored.iter().map(|&q| q.abs() as f64).collect();
    let use_other = other_stored.is_some() && options.other_bins >= 2;
    let use_next = offsets.is_some() && options.neighbour_bins >= 1;
    let magnitude_cells = options.magnitude_bins.max(1);
    let other_cells = if use_other { options.other_bins } else { 1 };
    let next_cells = if use_next {
        options.neighbour_bins + 1
    } else {
        1
    };
    let cells = low_cells * magnitude_cells * other_cells * next_cells;
    ceiling.cells = cells;

    for train_fold in 0..2u8 {
        let in_train = |i: usize| fold[i] == train_fold && class[i].is_some();
        let train_of = |v: &dyn Fn(usize) -> Option<f64>| -> Vec<f64> {
            (0..n).filter(|&i| in_train(i)).filter_map(v).collect()
        };
        let magnitude_edges = quantile_cuts(train_of(&|i| Some(magnitude[i])), magnitude_cells);
        let other_edges = match (&other_stored, use_other) {
            (Some(o), true) => quantile_cuts(train_of(&|i| Some(o[i])), other_cells),
            _ => Vec::new(),
        };
        let next_edges = if use_next {
            quantile_cuts(train_of(&|i| next[i]), options.neighbour_bins)
        } else {
            Vec::new()
        };
        let cell_of = |i: usize| -> usize {
            let low = if options.own_low_bits > 0 {
                ((stored[i].to_bits() >> dropped) & low_mask) as usize
            } else {
                0
            };
            let mag = bin_among_cuts(&magnitude_edges, magnitude[i]);
            let oth = match (&other_stored, use_other) {
                (Some(o), true) => bin_among_cuts(&other_edges, o[i]),
                _ => 0,
            };
            let nxt = if use_next {
                next[i].map_or(next_cells - 1, |v| bin_among_cuts(&next_edges, v))
            } else {
                0
            };
            ((low * magnitude_cells + mag) * other_cells + oth) * next_cells + nxt
        };

        let mut marginal = vec![0.0f64; k];
        let mut table = vec![0.0f64; cells * k];
        for i in (0..n).filter(|&i| in_train(i)) {
            let c = class[i].expect("training values have a class");
            marginal[c] += 1.0;
            table[cell_of(i) * k + c] += 1.0;
        }
        // The marginal: counts plus `beta` pseudo-counts spread uniformly, `beta` chosen by
        // leave-one-out like the cells' smoothing (∞: uniform).
        let total: f64 = marginal.iter().sum();
        let uniform = 1.0 / k as f64;
        let marginal_loo = |beta: f64| -> f64 {
            if beta.is_infinite() {
                return total * (k as f64).log2();
            }
            marginal
                .iter()
                .filter(|&&m| m > 0.0)
                .map(|&m| -m * ((m - 1.0 + beta * uniform) / (total - 1.0 + beta)).log2())
                .sum()
        };
        let beta = SMOOTHING_GRID
            .into_iter()
            .map(|b| (marginal_loo(b), b))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map_or(f64::INFINITY, |(_, b)| b);
        let prior: Vec<f64> = marginal
            .iter()
            .map(|&m| {
                if beta.is_infinite() {
                    uniform
                } else {
                    (m + beta * uniform) / (total + beta)
                }
            })
            .collect();
        let row_totals: Vec<f64> = table.chunks(k).map(|row| row.iter().sum()).collect();
        // p(c | cell) with `alpha` pseudo-counts (∞: the marginal); `held_back` removes the
        // value itself from the counts (leave-one-out).
        let predict = |cell: usize, c: usize, alpha: f64, held_back: f64| -> f64 {
            if alpha.is_infinite() {
                return prior[c];
            }
            (table[cell * k + c] - held_back + alpha * prior[c])
                / (row_totals[cell] - held_back + alpha)
        };
        let alpha = options.smoothing.unwrap_or_else(|| {
            let train: Vec<(usize, usize)> = (0..n)
                .filter(|&i| in_train(i))
                .map(|i| (cell_of(i), class[i].expect("training values have a class")))
                .collect();
            let loo_loss = |alpha: f64| -> f64 {
                train
                    .iter()
                    .map(|&(cell, c)| -predict(cell, c, alpha, 1.0).log2())
                    .sum()
            };
            SMOOTHING_GRID
                .into_iter()
                .map(|a| (loo_loss(a), a))
                .min_by(|x, y| x.0.total_cmp(&y.0))
                .map_or(f64::INFINITY, |(_, a)| a)
        });
        let log2_k = (k as f64).log2();
        for i in (0..n).filter(|&i| fold[i] != train_fold) {
            let Some(c) = class[i] else { continue };
            let p_cell = predict(cell_of(i), c, alpha, 0.0);
            let loss_marginal = -prior[c].log2();
            let loss_cell = -p_cell.log2();
            ceiling.classifier_gain.push(loss_marginal - loss_cell);
            ceiling.marginal_gain.push(log2_k - loss_marginal);
        }
    }
    Ok(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SplitMix64;
    use crate::RoundingMode;

    fn uniform(rng: &mut SplitMix64) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gaussian(rng: &mut SplitMix64) -> f64 {
        let (a, b) = (uniform(rng).max(1e-300), uniform(rng));
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }

    #[test]
    fn smooth_sequence_information_sits_in_high_bits() {
        let mut rng = SplitMix64(1);
        let phi: f64 = 0.999;
        let mut y = 0.0;
        let x: Vec<f32> = (0..100_000)
            .map(|_| {
                y = phi * y + (1.0 - phi * phi).sqrt() * gaussian(&mut rng);
                (12.0 + y) as f32
            })
            .collect();
        let info = bitwise_information(&x, None, Neighbour::NextEvent).unwrap();
        let kept = info.kept_mantissa_bits_for(0.99).unwrap();
        assert!((1..=12).contains(&kept), "kept {kept}");
        // The last mantissa bits are noise: nothing survives the filter there.
        assert!(info.bits[F32_BIT_POSITIONS - 8..].iter().all(|&b| b == 0.0));
        assert!(info.bits[F32_SIGN_EXPONENT_BITS] > 0.5);
        // The same values as one event of ordered objects give the same pairs.
        let one_event = [0, x.len()];
        let same = bitwise_information(&x, Some(&one_event), Neighbour::NextObject).unwrap();
        assert_eq!(same, info);
    }

    #[test]
    fn independent_noise_has_no_information_beyond_the_filter() {
        let mut rng = SplitMix64(2);
        let x: Vec<f32> = (0..100_000)
            .map(|_| (1.0 + uniform(&mut rng)) as f32)
            .collect();
        let info = bitwise_information(&x, None, Neighbour::NextEvent).unwrap();
        assert!(info.total() < 1e-3, "total {}", info.total());
        // Sign and exponent never change: no entropy, no information, exactly.
        assert!(info.unfiltered[..F32_SIGN_EXPONENT_BITS]
            .iter()
            .all(|&b| b == 0.0));
        assert_eq!(info.pairs, x.len() - 1);
    }

    #[test]
    fn the_filter_zeroes_exactly_the_insignificant_positions() {
        let mut rng = SplitMix64(3);
        let x: Vec<f32> = (0..5000)
            .map(|_| (1.0 + uniform(&mut rng)) as f32)
            .collect();
        let info = bitwise_information(&x, None, Neighbour::NextEvent).unwrap();
        assert!((info.threshold - free_entropy(info.pairs, DEFAULT_CONFIDENCE)).abs() == 0.0);
        let mut zeroed = 0;
        for (b, u) in info.bits.iter().zip(&info.unfiltered) {
            if *u > info.threshold {
                assert_eq!(b, u);
            } else {
                assert_eq!(*b, 0.0);
                zeroed += (*u > 0.0) as usize;
            }
        }
        assert!(
            zeroed > 10,
            "noise leaves small positive MI for the filter to remove"
        );
    }

    #[test]
    fn identical_other_variable_gives_each_bits_entropy() {
        let mut rng = SplitMix64(4);
        let x: Vec<f32> = (0..20_000)
            .map(|_| (1.0 + uniform(&mut rng)) as f32)
            .collect();
        let info = bitwise_information(&x, None, Neighbour::OtherVariable(&x)).unwrap();
        for b in &info.bits[F32_SIGN_EXPONENT_BITS..] {
            assert!((b - 1.0).abs() < 0.01, "{b}");
        }
        assert_eq!(info.kept_mantissa_bits_for(1.0).unwrap(), 23);
        assert_eq!(info.kept_mantissa_bits_for(0.5).unwrap(), 12);
    }

    #[test]
    fn neighbours_and_arguments_are_checked() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        assert!(matches!(
            bitwise_information(&x, None, Neighbour::NextObject),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            bitwise_information(&x, None, Neighbour::OtherVariable(&x[..3])),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            bitwise_information(&x, Some(&[0, 2, 3]), Neighbour::NextObject),
            Err(Error::InvalidInput(_))
        ));
        assert!(bitwise_information_with_confidence(&x, None, Neighbour::NextEvent, 1.0).is_err());
        // Leading objects of non-empty events: events 0, 2, 3 → two pairs.
        let info = bitwise_information(&x, Some(&[0, 2, 2, 3, 4]), Neighbour::NextEvent).unwrap();
        assert_eq!(info.pairs, 2);
        let info = bitwise_information(&x, Some(&[0, 2, 2, 3, 4]), Neighbour::NextObject).unwrap();
        assert_eq!(info.pairs, 1);
        let none = bitwise_information(&[], None, Neighbour::NextEvent).unwrap();
        assert_eq!((none.pairs, none.total()), (0, 0.0));
        assert_eq!(none.kept_mantissa_bits_for(0.99).unwrap(), 0);
        assert!(none.kept_mantissa_bits_for(0.0).is_err());
    }

    /// Originals in [1, 2) whose sub-bin at 7 kept bits (truncation) is `s[i]`.
    fn with_sub_bins(s: &[usize], rng: &mut SplitMix64) -> Vec<f32> {
        s.iter()
            .map(|&s| {
                let code = (rng.next_u64() % 128) as f64;
                let u = (s as f64 + 0.5) / 8.0;
                (1.0 + (code + u) / 128.0) as f32
            })
            .collect()
    }

    #[test]
    fn uninformative_features_gain_nothing_beyond_the_error() {
        let mut rng = SplitMix64(5);
        let n = 20_000;
        let x: Vec<f32> = (0..n)
            .map(|_| (10.0 * (1.0 + 99.0 * uniform(&mut rng))) as f32)
            .collect();
        let y: Vec<f32> = (0..n).map(|_| gaussian(&mut rng) as f32).collect();
        let mut offsets = vec![0];
        while *offsets.last().unwrap() < n {
            let next = *offsets.last().unwrap() + 1 + (rng.next_u64() % 5) as usize;
            offsets.push(next.min(n));
        }
        for mode in [RoundingMode::Nearest, RoundingMode::Truncate] {
            let q = Quantiser32::new(7, mode).unwrap();
            let c = dropped_bit_predictability(
                &x,
                Some(&offsets),
                Some(&y),
                &q,
                &CeilingOptions::default(),
            )
            .unwrap();
            let g = c.classifier_gain;
            assert_eq!(g.n, c.values);
            assert!(g.se() < 0.01, "se {}", g.se());
            assert!(
                g.mean() < 2.0 * g.se(),
                "{mode}: gain {} ± {}",
                g.mean(),
                g.se()
            );
            assert!(g.mean() > -0.01, "{mode}: overfitting cost {}", g.mean());
            // Uniform originals: the marginal is flat within its error.
            assert!(c.marginal_gain.mean() < 2.0 * c.marginal_gain.se() + 1e-3);
        }
    }

    #[test]
    fn an_informative_feature_recovers_the_true_mutual_information() {
        let mut rng = SplitMix64(6);
        let n = 20_000;
        let s: Vec<usize> = (0..n).map(|_| (rng.next_u64() % 8) as usize).collect();
        let x = with_sub_bins(&s, &mut rng);
        let q = Quantiser32::new(7, RoundingMode::Truncate).unwrap();
        // 16 quantile bins of 8 (or 4) equally frequent values: each value gets its own.
        let options = CeilingOptions {
            own_low_bits: 0,
            magnitude_bins: 0,
            other_bins: 16,
            neighbour_bins: 0,
            ..CeilingOptions::default()
        };
        // The other variable says the sub-bin: I = H(s) = 3 bits.
        let y: Vec<f32> = s.iter().map(|&s| 1.0 + s as f32 / 8.0).collect();
        let c = dropped_bit_predictability(&x, None, Some(&y), &q, &options).unwrap();
        assert_eq!(c.values, n);
        let g = c.classifier_gain;
        assert!(g.is_significant(5.0));
        assert!((g.mean() - 3.0).abs() < 0.02, "gain {}", g.mean());
        // Only its top two bits: I = 2 bits.
        let y: Vec<f32> = s.iter().map(|&s| 1.0 + (s / 2) as f32 / 4.0).collect();
        let c = dropped_bit_predictability(&x, None, Some(&y), &q, &options).unwrap();
        assert!(
            (c.classifier_gain.mean() - 2.0).abs() < 0.02,
            "{}",
            c.classifier_gain.mean()
        );
    }

    #[test]
    fn a_steep_density_shows_in_the_marginal_and_signs_are_mirrored() {
        let mut rng = SplitMix64(7);
        // Density ∝ 1/x² on [1, 1024): steep inside each binade (0 kept bits, truncation).
        let x: Vec<f32> = (0..20_000)
            .map(|_| (1.0 / (1.0 - uniform(&mut rng) * (1.0 - 1.0 / 1024.0))) as f32)
            .collect();
        let q = Quantiser32::new(0, RoundingMode::Truncate).unwrap();
        let own = CeilingOptions {
            own_low_bits: 0,
            ..CeilingOptions::own()
        };
        let c = dropped_bit_predictability(&x, None, None, &q, &own).unwrap();
        assert!(c.marginal[0] > 2 * c.marginal[7]);
        assert!(c.entropy_deficit() > 0.1);
        assert!(c.marginal_gain.is_significant(5.0));
        let negative: Vec<f32> = x.iter().map(|v| -v).collect();
        let m = dropped_bit_predictability(&negative, None, None, &q, &own).unwrap();
        assert_eq!(m, c);
        let mut pooled = Ceiling::empty(8);
        pooled.merge(&c).unwrap();
        pooled.merge(&m).unwrap();
        assert_eq!(pooled.values, 2 * c.values);
        assert!((pooled.classifier_gain.mean() - c.classifier_gain.mean()).abs() < 1e-12);
        assert!(pooled.merge(&Ceiling::empty(4)).is_err());
    }

    #[test]
    fn exact_and_non_finite_values_are_counted_apart() {
        let x = [0.0f32, 1.0, 1.5, f32::NAN, f32::INFINITY, 1.2345, -3.3];
        let q = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
        let c = dropped_bit_predictability(&x, None, None, &q, &CeilingOptions::own()).unwrap();
        assert_eq!((c.values, c.exact, c.non_finite), (2, 3, 2));
        let all = Quantiser32::new(23, RoundingMode::Nearest).unwrap();
        let c = dropped_bit_predictability(&x, None, None, &all, &CeilingOptions::own()).unwrap();
        assert_eq!(c.values, 0);
        let bad = CeilingOptions {
            sub_bins: 1,
            ..CeilingOptions::own()
        };
        assert!(dropped_bit_predictability(&x, None, None, &q, &bad).is_err());
        assert!(
            dropped_bit_predictability(&x, None, Some(&x[..2]), &q, &CeilingOptions::own())
                .is_err()
        );
    }
}
