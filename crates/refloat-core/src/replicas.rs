//! Rounding replicas: does the rounding move a result, for an analyst who holds only the
//! stored (compressed) values?
//!
//! Replica `r` of a branch is the stored values with each one replaced by a uniform draw
//! inside its interval of originals: exactly the dither correction
//! ([`Method::Dither`](crate::correct::Method::Dither)) with the per-replica seed
//! [`replica_seed`]`(seed, r)`, under the one seeding rule
//! ([`dither_stream_seed`](crate::correct::dither_stream_seed)) of the branch. So replica `r`
//! of a file is, bit for bit, `refloat correct --method dither:<replica_seed(seed, r)>` of
//! that file. Values exact by nature (±0, ±1, sentinels: [`ExactPolicy::default`]) stay as
//! stored, and every replica value re-quantises to its stored value (checked).
//!
//! A statistic is run over the replicas one at a time, reusing one buffer
//! ([`for_each_replica`]); its spread over the replicas says how much the rounding can move
//! it: [`histogram_spread`] (per bin), [`statistic_spread`] (a scalar), [`branch_spread`]
//! (both, for a branch's histogram, mean and standard deviation in one pass). Where the
//! originals are known, [`coverage`] checks how often the original histogram lies inside the
//! replicas' mean ± 1σ and ± 2σ.

use serde::Serialize;

use crate::correct::{verify_requantises_f32, Corrector, ExactPolicy, Method};
use crate::error::{check_len, Error, Result};
use crate::histogram::{bin_of, check_edges};
use crate::quantise::Quantiser32;
use crate::resolve::Resolution;
use crate::stats::{quantile_sorted, splitmix64_mix};

/// Nominal coverage of mean ± 1σ for a normal distribution (68.27 %).
pub const NOMINAL_1SIGMA: f64 = 0.682_689_492_137_085_9;
/// Nominal coverage of mean ± 2σ for a normal distribution (95.45 %).
pub const NOMINAL_2SIGMA: f64 = 0.954_499_736_103_641_6;

/// **The one rule** for the dither seed of replica `replica` under the user's `seed`:
/// `splitmix64_mix(seed ^ (replica + 1) · 0x9E3779B97F4A7C15)` (SplitMix64's finaliser of
/// the seed mixed with the golden-ratio increment times `replica + 1`). Replica `r` of a
/// branch is the dither correction with this seed, so it equals
/// `refloat correct --method dither:<replica_seed(seed, r)>` bit for bit.
///
/// ```
/// use refloat_core::replicas::replica_seed;
/// assert_eq!(replica_seed(42, 3), replica_seed(42, 3));
/// assert_ne!(replica_seed(42, 0), replica_seed(42, 1));
/// assert_ne!(replica_seed(42, 0), replica_seed(43, 0));
/// ```
#[inline]
pub fn replica_seed(seed: u64, replica: u32) -> u64 {
    splitmix64_mix(seed ^ (replica as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Something that draws replica `r` of a buffer of stored values.
pub trait ReplicaSource {
    /// Writes replica `replica` of `stored` into `out` (same length). Every value of a
    /// replica must re-quantise to its stored value.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::NotQuantised`] (a value that is not a stored
    /// value), or [`Error::InvalidInput`] if a drawn value left its interval.
    fn replica_into(&self, stored: &[f32], replica: u32, out: &mut [f32]) -> Result<()>;
}

/// Dither replicas of one branch stored with one quantiser: replica `r` of `stored` (the
/// whole branch, entries flattened, from index 0) is the dither correction with seed
/// [`replica_seed`]`(seed, r)` under the seeding rule of `branch`.
#[derive(Clone, Debug)]
pub struct DitherReplicas {
    quantiser: Quantiser32,
    seed: u64,
    branch: String,
}

impl DitherReplicas {
    /// Replicas of branch `branch` (full name; empty: the replica seed is used as given)
    /// stored with `quantiser`, under the user's `seed`.
    ///
    /// ```
    /// use refloat_core::replicas::{DitherReplicas, ReplicaSource};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
    /// let stored: Vec<f32> = (1..100).map(|i| q.quantise(i as f32 * 0.37)).collect();
    /// let source = DitherReplicas::new(q, 42, "AnalysisJetsAuxDyn.pt");
    /// let mut replica = vec![0.0; stored.len()];
    /// source.replica_into(&stored, 0, &mut replica)?;
    /// assert!(replica.iter().zip(&stored).all(|(r, s)| q.quantise(*r) == *s));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn new(quantiser: Quantiser32, seed: u64, branch: &str) -> Self {
        DitherReplicas {
            quantiser,
            seed,
            branch: branch.to_string(),
        }
    }

    /// The correction method of replica `replica` (before the branch's seeding rule):
    /// `Dither { seed: replica_seed(seed, replica) }`.
    pub fn method(&self, replica: u32) -> Method {
        Method::Dither {
            seed: replica_seed(self.seed, replica),
        }
    }
}

impl ReplicaSource for DitherReplicas {
    fn replica_into(&self, stored: &[f32], replica: u32, out: &mut [f32]) -> Result<()> {
        check_len("replica vs stored", out.len(), stored.len())?;
        out.copy_from_slice(stored);
        Corrector::for_branch(
            self.quantiser,
            self.method(replica),
            &self.branch,
            ExactPolicy::default(),
            &[],
        )
        .correct_in_place(out, 0)?;
        verify_requantises_f32(out, stored, &self.quantiser)
    }
}

/// Dither replicas of one branch under its resolution (what [`crate::pipeline::correct_file`]
/// corrects it under, [`crate::resolve`]): replica `r` is the branch as
/// `correct_file(.., Method::Dither { seed: replica_seed(seed, r) }, ..)` writes it, exact
/// values and per-value precisions included. A branch the resolution leaves as stored has
/// every replica equal to it.
#[derive(Clone, Debug)]
pub struct ResolvedReplicas {
    resolution: Resolution,
    seed: u64,
    branch: String,
}

impl ResolvedReplicas {
    /// Replicas of branch `branch` (full name; empty: the replica seed as given) under
    /// `resolution` and the user's `seed`.
    ///
    /// ```
    /// use refloat_core::replicas::{ReplicaSource, ResolvedReplicas};
    /// use refloat_core::resolve::{resolve_f32, Format, Given};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
    /// let mut stored: Vec<f32> = (1..1000).map(|i| q.quantise(i as f32 * 0.37)).collect();
    /// stored.extend([-99.0f32; 10]); // a sentinel, representable at 7 bits
    /// let r = resolve_f32(&stored, &Given { bits: Some(7), ..Given::default() }, Format::Atlas);
    /// let source = ResolvedReplicas::new(r, 42, "AnalysisJetsAuxDyn.pt");
    /// let mut replica = vec![0.0; stored.len()];
    /// source.replica_into(&stored, 0, &mut replica)?;
    /// assert!(replica.iter().zip(&stored).all(|(r, s)| q.quantise(*r) == *s));
    /// assert_eq!(replica[stored.len() - 1], -99.0); // stays
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn new(resolution: Resolution, seed: u64, branch: &str) -> Self {
        ResolvedReplicas {
            resolution,
            seed,
            branch: branch.to_string(),
        }
    }

    /// The resolution the replicas are drawn under.
    pub fn resolution(&self) -> &Resolution {
        &self.resolution
    }
}

impl ReplicaSource for ResolvedReplicas {
    fn replica_into(&self, stored: &[f32], replica: u32, out: &mut [f32]) -> Result<()> {
        check_len("replica vs stored", out.len(), stored.len())?;
        out.copy_from_slice(stored);
        let method = Method::Dither {
            seed: replica_seed(self.seed, replica),
        };
        if let Some(c) = self.resolution.corrector(method, &self.branch, stored)? {
            if self.resolution.bits != Some(23) {
                c.correct_in_place(out, 0)?;
                c.check(out, stored).map_err(|e| {
                    Error::InvalidInput(format!(
                        "branch '{}': replica {replica}: invariant broken: {e}",
                        self.branch
                    ))
                })?;
            }
        }
        Ok(())
    }
}

fn check_replicas(n: u32) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidArgument(
            "the number of replicas must be at least 1 (got 0)".into(),
        ));
    }
    Ok(())
}

/// Runs `visit(r, replica)` for replicas `r = 0..n` of `stored`, one at a time in one reused
/// buffer (memory: one copy of the branch, whatever `n`).
///
/// # Errors
/// [`Error::InvalidArgument`] for `n = 0`; the source's errors; the first error of `visit`
/// (which stops the loop).
///
/// ```
/// use refloat_core::replicas::{for_each_replica, DitherReplicas};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
/// let stored: Vec<f32> = (1..1000).map(|i| q.quantise(i as f32 * 0.0137)).collect();
/// let mut sums = Vec::new();
/// for_each_replica(&stored, 10, &DitherReplicas::new(q, 1, "x"), |_, values| {
///     sums.push(values.iter().map(|&v| v as f64).sum::<f64>());
///     Ok(())
/// })?;
/// assert_eq!(sums.len(), 10);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn for_each_replica(
    stored: &[f32],
    n: u32,
    source: &dyn ReplicaSource,
    mut visit: impl FnMut(u32, &[f32]) -> Result<()>,
) -> Result<()> {
    check_replicas(n)?;
    let mut buffer = vec![0.0f32; stored.len()];
    for r in 0..n {
        source.replica_into(stored, r, &mut buffer)?;
        visit(r, &buffer)?;
    }
    Ok(())
}

/// Counts of the finite `values` in each bin of `edges` (numpy's convention: `[e_i, e_{i+1})`,
/// the last bin closed); values outside the range are not counted. `edges` must hold at
/// least two increasing values.
///
/// ```
/// let c = refloat_core::replicas::counts_on_edges(&[0.5, 1.5, 2.0, 9.0, f32::NAN], &[0.0, 1.0, 2.0]);
/// assert_eq!(c, vec![1.0, 2.0]);
/// ```
pub fn counts_on_edges(values: &[f32], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len().saturating_sub(1)];
    if counts.is_empty() {
        return counts;
    }
    for &x in values.iter().filter(|x| x.is_finite()) {
        if let Ok(i) = bin_of(edges, x as f64) {
            counts[i] += 1.0;
        }
    }
    counts
}

/// The mean of the finite values (NaN if there is none).
pub fn finite_mean(values: &[f32]) -> f64 {
    let (s, n) = values
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), &x| (s + x as f64, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// The (population) standard deviation of the finite values (NaN if there is none).
pub fn finite_std(values: &[f32]) -> f64 {
    let m = finite_mean(values);
    let (s, n) = values
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), &x| {
            (s + (x as f64 - m).powi(2), n + 1)
        });
    if n == 0 {
        f64::NAN
    } else {
        (s / n as f64).sqrt()
    }
}

/// Mean and sample standard deviation (`n − 1`; 0 for a single value) of `v`.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The spread over replicas of a histogram of a branch, per bin.
///
/// Invariants: `edges.len() == nominal.len() + 1`, and `mean`, `std`, `q16`, `q84` have one
/// value per bin. Counts are of finite values inside the range (no under/overflow bins).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramSpread {
    /// Bin edges (numpy's convention, the last bin closed).
    pub edges: Vec<f64>,
    /// Number of replicas.
    pub replicas: u32,
    /// Counts of the stored values.
    pub nominal: Vec<f64>,
    /// Mean count over the replicas.
    pub mean: Vec<f64>,
    /// Sample standard deviation (`n − 1`) of the count over the replicas; 0 for one replica.
    pub std: Vec<f64>,
    /// 15.87 % quantile of the count over the replicas (linear interpolation).
    pub q16: Vec<f64>,
    /// 84.13 % quantile of the count over the replicas.
    pub q84: Vec<f64>,
}

impl HistogramSpread {
    /// From the replicas' counts, `counts[r][bin]`.
    fn from_counts(edges: Vec<f64>, nominal: Vec<f64>, counts: &[Vec<f64>]) -> Self {
        let bins = nominal.len();
        let mut out = HistogramSpread {
            edges,
            replicas: counts.len() as u32,
            nominal,
            mean: Vec::with_capacity(bins),
            std: Vec::with_capacity(bins),
            q16: Vec::with_capacity(bins),
            q84: Vec::with_capacity(bins),
        };
        let mut column = Vec::with_capacity(counts.len());
        for b in 0..bins {
            column.clear();
            column.extend(counts.iter().map(|c| c[b]));
            let (m, s) = mean_std(&column);
            column.sort_unstable_by(f64::total_cmp);
            out.mean.push(m);
            out.std.push(s);
            out.q16.push(quantile_sorted(
                &column,
                1.0 - NOMINAL_1SIGMA.mul_add(0.5, 0.5),
            ));
            out.q84
                .push(quantile_sorted(&column, NOMINAL_1SIGMA.mul_add(0.5, 0.5)));
        }
        out
    }

    /// The bin with the largest relative spread `std / mean` among bins with a non-zero
    /// mean, and that ratio; `None` if every bin is empty.
    pub fn max_relative_spread(&self) -> Option<(usize, f64)> {
        self.std
            .iter()
            .zip(&self.mean)
            .enumerate()
            .filter(|(_, (_, &m))| m > 0.0)
            .map(|(i, (&s, &m))| (i, s / m))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// The spread over replicas of a scalar statistic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StatisticSpread {
    /// Number of replicas.
    pub replicas: u32,
    /// The statistic of the stored values.
    pub nominal: f64,
    /// Mean over the replicas.
    pub mean: f64,
    /// Sample standard deviation (`n − 1`) over the replicas; 0 for one replica.
    pub std: f64,
    /// Smallest value over the replicas.
    pub min: f64,
    /// Largest value over the replicas.
    pub max: f64,
}

impl StatisticSpread {
    fn from_values(nominal: f64, v: &[f64]) -> Self {
        let (mean, std) = mean_std(v);
        StatisticSpread {
            replicas: v.len() as u32,
            nominal,
            mean,
            std,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The histogram of `stored` on `edges` over `n` replicas from `source`.
///
/// # Errors
/// [`Error::InvalidArgument`] for `n = 0` or edges that are not finite and strictly
/// increasing (at least 2); the source's errors.
///
/// ```
/// use refloat_core::replicas::{histogram_spread, DitherReplicas};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
/// let stored: Vec<f32> = (1..2000).map(|i| q.quantise(i as f32 * 0.0137)).collect();
/// let h = histogram_spread(&stored, &[0.0, 5.03, 10.05, 30.0], 20, &DitherReplicas::new(q, 1, "x"))?;
/// assert_eq!(h.nominal.len(), 3);
/// assert!(h.std.iter().any(|&s| s > 0.0)); // values near the edges move across them
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn histogram_spread(
    stored: &[f32],
    edges: &[f64],
    n: u32,
    source: &dyn ReplicaSource,
) -> Result<HistogramSpread> {
    Ok(branch_spread(stored, edges, n, source)?.histogram)
}

/// The spread of `statistic` (e.g. a mean, a fitted parameter) over `n` replicas of
/// `stored` from `source`; `nominal` is the statistic of `stored` itself.
///
/// # Errors
/// [`Error::InvalidArgument`] for `n = 0`; the source's errors.
///
/// ```
/// use refloat_core::replicas::{finite_mean, statistic_spread, DitherReplicas};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
/// let stored: Vec<f32> = (1..2000).map(|i| q.quantise(i as f32 * 0.0137)).collect();
/// let s = statistic_spread(&stored, 20, &DitherReplicas::new(q, 1, "x"), finite_mean)?;
/// assert!(s.std > 0.0 && s.min <= s.mean && s.mean <= s.max);
/// assert!((s.mean - s.nominal).abs() < 1e-3 * s.nominal);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn statistic_spread(
    stored: &[f32],
    n: u32,
    source: &dyn ReplicaSource,
    statistic: impl Fn(&[f32]) -> f64,
) -> Result<StatisticSpread> {
    let mut v = Vec::with_capacity(n as usize);
    for_each_replica(stored, n, source, |_, replica| {
        v.push(statistic(replica));
        Ok(())
    })?;
    Ok(StatisticSpread::from_values(statistic(stored), &v))
}

/// What rounding can do to a branch's histogram, mean and standard deviation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchSpread {
    /// The histogram's spread.
    pub histogram: HistogramSpread,
    /// The spread of the mean of the finite values ([`finite_mean`]).
    pub mean: StatisticSpread,
    /// The spread of their standard deviation ([`finite_std`]).
    pub std: StatisticSpread,
}

/// [`histogram_spread`], and the spreads of the mean and standard deviation, in one pass
/// over the replicas.
///
/// # Errors
/// As [`histogram_spread`].
pub fn branch_spread(
    stored: &[f32],
    edges: &[f64],
    n: u32,
    source: &dyn ReplicaSource,
) -> Result<BranchSpread> {
    check_replicas(n)?;
    check_edges(edges)?;
    let mut counts = Vec::with_capacity(n as usize);
    let (mut means, mut stds) = (Vec::new(), Vec::new());
    for_each_replica(stored, n, source, |_, replica| {
        counts.push(counts_on_edges(replica, edges));
        means.push(finite_mean(replica));
        stds.push(finite_std(replica));
        Ok(())
    })?;
    Ok(BranchSpread {
        histogram: HistogramSpread::from_counts(
            edges.to_vec(),
            counts_on_edges(stored, edges),
            &counts,
        ),
        mean: StatisticSpread::from_values(finite_mean(stored), &means),
        std: StatisticSpread::from_values(finite_std(stored), &stds),
    })
}

/// How often the original histogram lies inside the replicas' mean ± 1σ and ± 2σ, over the
/// bins where the rounding matters (replica std > 0, or original count ≠ stored count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Bins where the rounding matters (the denominator of the rates).
    pub bins: usize,
    /// Of those, bins whose original count is within the replicas' mean ± 1σ.
    pub within_1sigma: usize,
    /// Of those, bins whose original count is within the replicas' mean ± 2σ.
    pub within_2sigma: usize,
    /// Bins left out: zero replica spread and original count = stored count.
    pub unaffected: usize,
}

impl Coverage {
    /// `within_1sigma / bins` (nominal [`NOMINAL_1SIGMA`]); NaN without bins.
    pub fn rate_1sigma(&self) -> f64 {
        self.within_1sigma as f64 / self.bins as f64
    }

    /// `within_2sigma / bins` (nominal [`NOMINAL_2SIGMA`]); NaN without bins.
    pub fn rate_2sigma(&self) -> f64 {
        self.within_2sigma as f64 / self.bins as f64
    }
}

impl std::ops::Add for Coverage {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Coverage {
            bins: self.bins + o.bins,
            within_1sigma: self.within_1sigma + o.within_1sigma,
            within_2sigma: self.within_2sigma + o.within_2sigma,
            unaffected: self.unaffected + o.unaffected,
        }
    }
}

impl Coverage {
    /// The coverage of the `original` counts by a histogram spread (same bins).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the bin counts differ.
    pub fn of_counts(original: &[f64], spread: &HistogramSpread) -> Result<Self> {
        check_len(
            "original vs replica bins",
            original.len(),
            spread.nominal.len(),
        )?;
        let mut c = Coverage::default();
        for (b, &o) in original.iter().enumerate() {
            let (m, s) = (spread.mean[b], spread.std[b]);
            if s == 0.0 && o == spread.nominal[b] {
                c.unaffected += 1;
                continue;
            }
            c.bins += 1;
            c.within_1sigma += ((o - m).abs() <= s) as usize;
            c.within_2sigma += ((o - m).abs() <= 2.0 * s) as usize;
        }
        Ok(c)
    }
}

/// Validation where the originals are known: the histogram of `original` on `edges` against
/// the spread of `n` replicas of `stored` (the `original` values rounded) from `source`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `original` and `stored` differ in length; as
/// [`histogram_spread`] otherwise.
///
/// ```
/// use refloat_core::replicas::{coverage, DitherReplicas};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(5, RoundingMode::Nearest)?;
/// let original: Vec<f32> = (0..20_000).map(|i| ((i as f32) * 0.618).fract() * 10.0).collect();
/// let stored: Vec<f32> = original.iter().map(|&x| q.quantise(x)).collect();
/// let edges: Vec<f64> = (0..=40).map(|i| 0.25 * i as f64 + 0.01).collect();
/// let c = coverage(&original, &stored, &edges, 30, &DitherReplicas::new(q, 7, "x"))?;
/// assert!(c.bins > 0 && c.rate_2sigma() > c.rate_1sigma());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn coverage(
    original: &[f32],
    stored: &[f32],
    edges: &[f64],
    n: u32,
    source: &dyn ReplicaSource,
) -> Result<Coverage> {
    check_len("original vs stored", original.len(), stored.len())?;
    let spread = histogram_spread(stored, edges, n, source)?;
    Coverage::of_counts(&counts_on_edges(original, edges), &spread)
}

/// Where the uniform bins of a branch lie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinRange {
    /// Between the 1 % and 99 % quantiles of the finite stored values (the tails, where a
    /// few values spread over a wide range, left out).
    #[default]
    Central,
    /// Between the smallest and largest finite stored value.
    Full,
}

impl std::str::FromStr for BinRange {
    type Err = Error;
    /// `central` or `full`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "central" => Ok(BinRange::Central),
            "full" => Ok(BinRange::Full),
            _ => Err(Error::InvalidArgument(format!(
                "unknown bin range '{s}' (expected central or full)"
            ))),
        }
    }
}

/// The binning of a branch's histogram: `bins` uniform bins over `range` of its stored
/// values, or given edges.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Binning {
    /// `bins` uniform bins over the range of each branch's stored values.
    Uniform { bins: usize, range: BinRange },
    /// The same edges for every branch.
    Edges(Vec<f64>),
}

impl Default for Binning {
    /// 20 uniform bins over the central range.
    fn default() -> Self {
        Binning::Uniform {
            bins: 20,
            range: BinRange::Central,
        }
    }
}

impl Binning {
    /// The edges for a branch with stored values `stored`; `Ok(None)` when the range is empty
    /// (no finite value, or all in the range equal).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero bins or bad given edges.
    ///
    /// ```
    /// use refloat_core::replicas::{BinRange, Binning};
    /// let b = Binning::Uniform { bins: 2, range: BinRange::Full };
    /// assert_eq!(b.edges_for(&[1.0, 3.0, f32::NAN, 2.0])?, Some(vec![1.0, 2.0, 3.0]));
    /// assert_eq!(b.edges_for(&[1.0, 1.0])?, None);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn edges_for(&self, stored: &[f32]) -> Result<Option<Vec<f64>>> {
        match self {
            Binning::Edges(e) => {
                check_edges(e)?;
                Ok(Some(e.clone()))
            }
            &Binning::Uniform { bins, range } => {
                if bins == 0 {
                    return Err(Error::InvalidArgument(
                        "a histogram needs at least 1 bin (got 0)".into(),
                    ));
                }
                let mut v: Vec<f64> = stored
                    .iter()
                    .filter(|x| x.is_finite())
                    .map(|&x| x as f64)
                    .collect();
                if v.is_empty() {
                    return Ok(None);
                }
                v.sort_unstable_by(f64::total_cmp);
                let (lo, hi) = match range {
                    BinRange::Full => (v[0], v[v.len() - 1]),
                    BinRange::Central => (quantile_sorted(&v, 0.01), quantile_sorted(&v, 0.99)),
                };
                if lo >= hi {
                    return Ok(None);
                }
                Ok(Some(
                    crate::histogram::UniformBins::new(lo, hi, bins)?.edges(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correct::correct_at_f32;
    use crate::correct::BranchPosition;
    use crate::RoundingMode;

    fn stored_branch(q: &Quantiser32) -> (Vec<f32>, Vec<f32>) {
        let original: Vec<f32> = (0..5000)
            .map(|i| {
                let u = ((i as f64 * 0.618_033_988_7).fract() + 1e-6) as f32;
                match i % 50 {
                    0 => 0.0,
                    1 => -1.0,
                    _ => -(1.0 - u).ln() * 40.0 + 5.0,
                }
            })
            .collect();
        let stored = original.iter().map(|&x| q.quantise(x)).collect();
        (original, stored)
    }

    #[test]
    fn replicas_requantise_and_replica_0_is_the_dither_correction() {
        let q = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
        let (_, stored) = stored_branch(&q);
        let source = DitherReplicas::new(q, 11, "AnalysisJetsAuxDyn.pt");
        let mut seen = Vec::new();
        for_each_replica(&stored, 5, &source, |r, v| {
            verify_requantises_f32(v, &stored, &q)?;
            // exact values stay as stored
            for (x, s) in v.iter().zip(&stored) {
                if *s == 0.0 || *s == -1.0 {
                    assert_eq!(x.to_bits(), s.to_bits());
                }
            }
            let mut expect = stored.clone();
            let m = Method::Dither {
                seed: replica_seed(11, r),
            };
            correct_at_f32(
                &mut expect,
                &q,
                m,
                BranchPosition {
                    branch: "AnalysisJetsAuxDyn.pt",
                    first_index: 0,
                },
            )?;
            assert_eq!(
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                expect.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "replica {r}"
            );
            seen.push(v.to_vec());
            Ok(())
        })
        .unwrap();
        assert_ne!(seen[0], seen[1]);
        assert_ne!(seen[0], stored);
    }

    #[test]
    fn spread_is_zero_when_edges_sit_between_intervals() {
        // Two (non-exact) values stored at 6 kept bits, edges outside both intervals of
        // originals: no replica value can cross an edge.
        let q = Quantiser32::new(6, RoundingMode::Nearest).unwrap();
        let (a, b) = (q.quantise(1.3), q.quantise(1.7));
        assert!(!ExactPolicy::default().is_exact(a, &q) && !ExactPolicy::default().is_exact(b, &q));
        let stored: Vec<f32> = (0..100).map(|i| if i % 2 == 0 { a } else { b }).collect();
        let i4 = q.interval(a).unwrap();
        let i6 = q.interval(b).unwrap();
        let edges = [
            i4.lo as f64 - 0.1,
            (i4.hi as f64 + i6.lo as f64) / 2.0,
            i6.hi as f64 + 0.1,
        ];
        assert!(edges[1] > i4.hi as f64 && edges[1] < i6.lo as f64);
        let h = histogram_spread(&stored, &edges, 20, &DitherReplicas::new(q, 3, "b")).unwrap();
        assert_eq!(h.std, vec![0.0, 0.0]);
        assert_eq!(h.mean, h.nominal);
        assert_eq!(h.nominal, vec![50.0, 50.0]);
        assert_eq!(
            (h.q16.clone(), h.q84.clone()),
            (h.mean.clone(), h.mean.clone())
        );
        // an edge inside 4's interval moves counts
        let inside = [edges[0], a as f64 + 0.1 * i4.width(), edges[2]];
        let h = histogram_spread(&stored, &inside, 20, &DitherReplicas::new(q, 3, "b")).unwrap();
        assert!(h.std[0] > 0.0 && h.q16[0] < h.q84[0], "{h:?}");
        assert!(h.max_relative_spread().is_some());
    }

    #[test]
    fn statistic_spread_and_coverage() {
        let q = Quantiser32::new(6, RoundingMode::Nearest).unwrap();
        let (original, stored) = stored_branch(&q);
        let source = DitherReplicas::new(q, 5, "x");
        let s = statistic_spread(&stored, 30, &source, finite_mean).unwrap();
        assert_eq!(s.replicas, 30);
        assert!(s.std > 0.0 && s.min < s.max);
        // the original mean lies within a few replica σ of the replica mean
        let o = finite_mean(&original);
        assert!((o - s.mean).abs() < 6.0 * s.std, "{o} {s:?}");
        let edges = Binning::default().edges_for(&stored).unwrap().unwrap();
        let c = coverage(&original, &stored, &edges, 30, &source).unwrap();
        assert!(c.bins + c.unaffected == 20 && c.bins > 10, "{c:?}");
        assert!(c.rate_1sigma() > 0.4 && c.rate_2sigma() > 0.8, "{c:?}");
        // a source that does not move anything covers no affected bin
        struct Same;
        impl ReplicaSource for Same {
            fn replica_into(&self, s: &[f32], _: u32, out: &mut [f32]) -> Result<()> {
                out.copy_from_slice(s);
                Ok(())
            }
        }
        let c0 = coverage(&original, &stored, &edges, 30, &Same).unwrap();
        assert_eq!((c0.within_1sigma, c0.within_2sigma), (0, 0));
        let b = branch_spread(&stored, &edges, 30, &source).unwrap();
        assert_eq!(b.mean.mean, s.mean);
        assert_eq!(b.histogram.replicas, 30);
    }

    #[test]
    fn bad_input_is_named() {
        let q = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
        let (original, stored) = stored_branch(&q);
        let src = DitherReplicas::new(q, 1, "x");
        let msg = |e: Error| e.to_string();
        let e = histogram_spread(&stored, &[0.0, 1.0], 0, &src).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)) && msg(e).contains("replicas"));
        let e = histogram_spread(&stored, &[0.0, f64::NAN, 2.0], 3, &src).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)) && msg(e).contains("finite"));
        let e = histogram_spread(&stored, &[0.0, 2.0, 1.0], 3, &src).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)) && msg(e).contains("increasing"));
        let e = coverage(&original[1..], &stored, &[0.0, 1.0], 3, &src).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }) && msg(e).contains("original vs stored"));
        let e = statistic_spread(&stored, 0, &src, finite_mean).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        let e = statistic_spread(&original, 2, &src, finite_mean).unwrap_err();
        assert!(matches!(e, Error::NotQuantised { .. }), "{e}");
        let mut short = vec![0.0; 3];
        let e = src.replica_into(&stored, 0, &mut short).unwrap_err();
        assert!(matches!(e, Error::LengthMismatch { .. }));
        let e = Binning::Uniform {
            bins: 0,
            range: BinRange::Full,
        }
        .edges_for(&stored)
        .unwrap_err();
        assert!(msg(e).contains("at least 1 bin"));
        assert!("sideways".parse::<BinRange>().is_err());
    }
}
