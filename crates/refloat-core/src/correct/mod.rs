//! Corrections of compressed values: estimators of the original inside its interval.
//!
//! Every estimator here maps a stored value `q` to a value inside `q`'s interval of
//! originals (see [`crate::bounds`]), so that **`quantise(corrected) == q`, bit for bit**.
//! The estimate is computed in `f64`, rounded to `f32` and clamped into the closed `f32`
//! interval; nothing can leave it.
//!
//! | method | estimate | useful for |
//! |---|---|---|
//! | [`Method::Midpoint`] | centre of the interval | `Truncate` data (MSE ÷ ~4); identity for `Nearest` away from powers of two |
//! | [`Method::Dither`] | uniform in the interval, seeded per index | restoring a smooth distribution (MSE ×~2 for `Nearest`) |
//! | [`Method::PriorMean`] | `E[x | q]` under a locally linear density estimated from the data | `Nearest` data: moves toward the denser side |
//!
//! **Exact values are left alone.** Some stored values are very likely the original itself:
//! ±0, charges ±1, sentinels such as −1, and other values with a very short mantissa
//! ([`ExactPolicy`]). Moving them would make a branch worse
//! (and turn an analysis's `== 0` test false), so corrections skip them.
//!
//! [`triage_rule_f32`] is the bound-based triaging rule of `ATLAS_COMPRESSION.md`, implemented as
//! written; it needs the original values, so it is an analysis of residuals, not a correction.

use crate::bounds::{triage_bound_lines_log10, Interval};
use crate::error::{Error, Result};
use crate::quantise::{Quantiser32, PAR_CHUNK};
use rayon::prelude::*;

mod draw;
mod exact;
mod kernel;

pub use draw::{dither_in, index_bits, pair_bits, unit_uniform, word_uniform};
use exact::ListedTable;
pub use exact::{ExactCounts, ExactPolicy, ExactRule, Lattice, SENTINELS};
use kernel::DENSE_CODES;
use std::sync::Arc;

/// An estimator of the original value inside its interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The centre of the interval of originals.
    Midpoint,
    /// Uniform inside the interval; value `i` uses a random number derived from
    /// `(seed, i)` only, so results do not depend on threading or chunking.
    Dither { seed: u64 },
    /// The conditional mean of the original given the stored value, under a density that is
    /// linear across the interval, its slope taken from a kernel density estimate of the
    /// branch's own (stored) values.
    PriorMean,
}

impl Method {
    /// The name used on the command line (`midpoint`, `dither`, `prior-mean`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Midpoint => "midpoint",
            Method::Dither { .. } => "dither",
            Method::PriorMean => "prior-mean",
        }
    }

    /// This method for the values of branch `branch`, under the one seeding rule
    /// ([`dither_stream_seed`]): `Dither`'s seed becomes the branch's stream seed; other
    /// methods are returned unchanged. An empty name leaves the seed as given.
    ///
    /// ```
    /// use refloat_core::correct::Method;
    /// let m = Method::Dither { seed: 7 };
    /// assert_eq!(m.for_branch("Jets.pt"), m.for_branch("Jets.pt"));
    /// assert_ne!(m.for_branch("Jets.pt"), m.for_branch("Jets.eta"));
    /// assert_eq!(m.for_branch(""), m);
    /// assert_eq!(Method::Midpoint.for_branch("Jets.pt"), Method::Midpoint);
    /// ```
    pub fn for_branch(self, branch: &str) -> Method {
        match self {
            Method::Dither { seed } => Method::Dither {
                seed: dither_stream_seed(seed, branch),
            },
            other => other,
        }
    }
}

/// **The one seeding rule** of [`Method::Dither`], used by every front door (the `refloat`
/// command, the C API, the cxx bridge, the C++ headers, the ROOT macro, RDataFrame and
/// Python): the random number of a value is
/// `unit_uniform(dither_stream_seed(user_seed, branch), index)`, where `index` is the value's
/// position in the whole branch across the file (entries flattened, from 0). The same file,
/// branch and seed therefore give the same bits however the branch is chunked, threaded or
/// split into events.
///
/// The stream seed mixes the user's seed with a stable hash (FNV-1a, rotated by 17) of the
/// branch name, so that the variables of one object (its `pt` and `eta`, same index) get
/// independent draws. An empty name gives the seed unchanged.
pub fn dither_stream_seed(seed: u64, branch: &str) -> u64 {
    if branch.is_empty() {
        return seed;
    }
    let hash = branch.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    seed ^ hash.rotate_left(17)
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    /// `midpoint`, `dither` (seed 0), `dither:SEED`, `prior-mean`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "midpoint" => Ok(Method::Midpoint),
            "dither" => Ok(Method::Dither { seed: 0 }),
            "prior-mean" | "prior_mean" => Ok(Method::PriorMean),
            _ => match s.strip_prefix("dither:").map(str::parse::<u64>) {
                Some(Ok(seed)) => Ok(Method::Dither { seed }),
                _ => Err(Error::InvalidArgument(format!(
                    "unknown correction method '{s}' (expected midpoint, dither, dither:SEED or prior-mean)"
                ))),
            },
        }
    }
}

/// What a correction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CorrectionReport {
    /// Values given a new estimate (it may equal the stored value).
    pub corrected: usize,
    /// Values left alone as exact ([`ExactPolicy`]): `exact.total()`.
    pub left_exact: usize,
    /// NaN and ±Inf, left alone.
    pub non_finite: usize,
    /// The values left alone as exact, per rule.
    pub exact: ExactCounts,
}

impl std::ops::Add for CorrectionReport {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        CorrectionReport {
            corrected: self.corrected + o.corrected,
            left_exact: self.left_exact + o.left_exact,
            non_finite: self.non_finite + o.non_finite,
            exact: self.exact + o.exact,
        }
    }
}

/// A fully specified correction: quantiser, method and exact-value policy.
#[derive(Clone, Debug)]
pub struct Corrector {
    quantiser: Quantiser32,
    method: Method,
    policy: ExactPolicy,
    /// The policy's sentinels and spikes as the slice loops look them up.
    listed: Arc<ListedTable>,
    prior: Option<DensityPrior>,
    /// Prior-mean's estimate of every stored value the prior was estimated from.
    lookup: Option<kernel::Lookup>,
}

/// The table of the default policy's sentinels (built once: per-event calls reuse it).
fn listed_table(policy: &ExactPolicy) -> Arc<ListedTable> {
    static DEFAULT: std::sync::OnceLock<Arc<ListedTable>> = std::sync::OnceLock::new();
    static NONE: std::sync::OnceLock<Arc<ListedTable>> = std::sync::OnceLock::new();
    match (policy.sentinels, policy.spikes.is_empty()) {
        (true, true) => DEFAULT
            .get_or_init(|| Arc::new(ListedTable::new(&policy.listed())))
            .clone(),
        (false, true) => NONE.get_or_init(|| Arc::new(ListedTable::new(&[]))).clone(),
        _ => Arc::new(ListedTable::new(&policy.listed())),
    }
}

impl Corrector {
    /// A corrector for data stored by `quantiser`. For [`Method::PriorMean`] the density is
    /// estimated from `data`, which must be the stored values the corrector will be applied to
    /// (or a representative sample of them); other methods ignore `data`.
    ///
    /// ```
    /// use refloat_core::correct::{Corrector, ExactPolicy, Method};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(10, RoundingMode::Truncate)?;
    /// let stored = [q.quantise(3.14159), q.quantise(-2.71828)];
    /// let c = Corrector::new(q, Method::Midpoint, ExactPolicy::default(), &stored);
    /// let x = c.estimate(stored[0], 0);
    /// assert_eq!(q.quantise(x), stored[0]); // stays in its interval
    /// assert!((x - 3.14159).abs() < (stored[0] - 3.14159).abs());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn new(quantiser: Quantiser32, method: Method, policy: ExactPolicy, data: &[f32]) -> Self {
        let prior =
            (method == Method::PriorMean).then(|| DensityPrior::new(&quantiser, &policy, data));
        let mut c = Corrector {
            quantiser,
            method,
            listed: listed_table(&policy),
            policy,
            prior,
            lookup: None,
        };
        c.lookup = c
            .prior
            .as_ref()
            .and_then(|p| kernel::Lookup::new(&c, &p.stored));
        c
    }

    /// A [`Method::PriorMean`] corrector under a density estimated elsewhere (see
    /// [`DensityPrior::from_counts`]): each value's estimate depends on that density and the
    /// value alone, not on the other values corrected with it.
    pub fn with_prior(quantiser: Quantiser32, policy: ExactPolicy, prior: DensityPrior) -> Self {
        let mut c = Corrector {
            quantiser,
            method: Method::PriorMean,
            listed: listed_table(&policy),
            policy,
            prior: Some(prior),
            lookup: None,
        };
        c.lookup = c
            .prior
            .as_ref()
            .and_then(|p| kernel::Lookup::new(&c, &p.stored));
        c
    }

    /// The values this corrector leaves alone.
    pub fn policy(&self) -> &ExactPolicy {
        &self.policy
    }

    /// The quantiser the values were stored with.
    pub fn quantiser(&self) -> &Quantiser32 {
        &self.quantiser
    }

    /// The density prior-mean uses (`None` for the other methods).
    pub fn prior(&self) -> Option<&DensityPrior> {
        self.prior.as_ref()
    }

    /// [`Self::new`] for the values of branch `branch`: the method under the one seeding rule
    /// ([`Method::for_branch`]). Apply it with each value's index in the whole branch.
    pub fn for_branch(
        quantiser: Quantiser32,
        method: Method,
        branch: &str,
        policy: ExactPolicy,
        data: &[f32],
    ) -> Self {
        Self::new(quantiser, method.for_branch(branch), policy, data)
    }

    /// The estimate for stored value `q` at index `index` (the index seeds `Dither`).
    /// Non-stored values, non-finite values and exact values come back unchanged.
    #[inline]
    pub fn estimate(&self, q: f32, index: u64) -> f32 {
        if !q.is_finite()
            || self.policy.is_exact(q, &self.quantiser)
            || !self.quantiser.is_stored(q)
        {
            return q;
        }
        self.estimate_stored(q, index)
    }

    /// [`Self::estimate`] for a finite, non-exact stored value (not re-checked).
    #[inline]
    fn estimate_stored(&self, q: f32, index: u64) -> f32 {
        let iv = self.quantiser.interval_of_stored(q);
        let x = match self.method {
            Method::Midpoint => iv.centre(),
            Method::Dither { seed } => return dither_in(iv.lo, iv.hi, unit_uniform(seed, index)),
            Method::PriorMean => self
                .prior
                .as_ref()
                .map_or(iv.centre(), |p| p.conditional_mean(&iv)),
        };
        iv.clamp(x as f32)
    }

    /// Correct `data` in place; `offset` is the index of `data[0]` in the whole branch
    /// (it only matters for `Dither`, whose value `i` depends on `(seed, offset + i)`, so a
    /// branch corrected in pieces gets the same bits as in one call). Invariant: every
    /// corrected value re-quantises to its stored value; exact and non-finite values are
    /// left alone.
    ///
    /// # Errors
    /// [`Error::NotQuantised`] naming the first value that is not a stored value; `data` is
    /// untouched then.
    ///
    /// ```
    /// use refloat_core::correct::{verify_requantises_f32, Corrector, ExactPolicy, Method};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
    /// let stored: Vec<f32> = (1..100).map(|i| q.quantise(i as f32 * 0.137)).collect();
    /// let c = Corrector::new(q, Method::Dither { seed: 3 }, ExactPolicy::default(), &stored);
    /// let mut whole = stored.clone();
    /// c.correct_in_place(&mut whole, 0)?;
    /// let mut pieces = stored.clone();
    /// let (a, b) = pieces.split_at_mut(40);
    /// c.correct_in_place(a, 0)?;
    /// c.correct_in_place(b, 40)?; // offset: same bits as one call
    /// assert_eq!(whole, pieces);
    /// verify_requantises_f32(&whole, &stored, &q)?;
    /// assert!(c.correct_in_place(&mut [1.0 + f32::EPSILON], 0).is_err()); // not stored
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn correct_in_place(&self, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
        kernel::correct_in_place(self, data, offset)
    }

    /// Parallel twin of [`Self::correct_in_place`]; same bits. Slices of up to one chunk
    /// (64 Ki values) are corrected on the calling thread.
    ///
    /// # Errors
    /// As [`Self::correct_in_place`].
    pub fn par_correct_in_place(&self, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
        if data.len() <= PAR_CHUNK {
            return self.correct_in_place(data, offset);
        }
        let results: Vec<Result<CorrectionReport>> = data
            .par_chunks_mut(PAR_CHUNK)
            .enumerate()
            .map(|(c, chunk)| self.correct_in_place(chunk, offset + (c * PAR_CHUNK) as u64))
            .collect();
        if results.iter().all(Result::is_ok) {
            return Ok(results
                .into_iter()
                .flatten()
                .fold(Default::default(), |a, b| a + b));
        }
        // A chunk that failed restored itself; re-quantising restores the others (the
        // invariant), so the caller's buffer is as it was.
        data.par_chunks_mut(PAR_CHUNK)
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .for_each(|(chunk, _)| self.quantiser.quantise_slice(chunk));
        Err(results
            .into_iter()
            .find_map(Result::err)
            .expect("a chunk failed"))
    }

    /// The reference of [`Self::correct_in_place`]: every value through [`Self::estimate`]
    /// after a check of the whole slice. The slice loops must give the same bits.
    ///
    /// # Errors
    /// As [`Self::correct_in_place`].
    pub fn correct_reference(&self, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
        if let Some(i) = data.iter().position(|&q| !self.quantiser.is_stored(q)) {
            return Err(self
                .quantiser
                .interval_at(data[i], offset as usize + i)
                .unwrap_err());
        }
        let mut report = CorrectionReport::default();
        for (i, x) in data.iter_mut().enumerate() {
            if !x.is_finite() {
                report.non_finite += 1;
            } else if let Some(rule) = self.policy.rule(*x, &self.quantiser) {
                report.left_exact += 1;
                report.exact.add(rule);
            } else {
                *x = self.estimate_stored(*x, offset + i as u64);
                report.corrected += 1;
            }
        }
        Ok(report)
    }
}

/// Correct stored values in place with `method`, leaving exact values alone
/// ([`ExactPolicy::default`]).
///
/// # Errors
/// [`Error::NotQuantised`] if a value is not a stored value of `quantiser`; `data` is
/// untouched then.
///
/// ```
/// use refloat_core::{correct::{correct_in_place_f32, Method}, Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Truncate)?;
/// let original = [1234.567f32, -0.0421, 0.0, -1.0];
/// let mut data = original;
/// q.quantise_slice(&mut data);
/// let stored = data;
/// let report = correct_in_place_f32(&mut data, &q, Method::Midpoint)?;
/// assert_eq!(report.left_exact, 2); // 0 and -1 stay as they are
/// for (c, s) in data.iter().zip(&stored) {
///     assert_eq!(q.quantise(*c).to_bits(), s.to_bits()); // the invariant
/// }
/// assert!((data[0] - original[0]).abs() < (stored[0] - original[0]).abs());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn correct_in_place_f32(
    data: &mut [f32],
    quantiser: &Quantiser32,
    method: Method,
) -> Result<CorrectionReport> {
    Corrector::new(*quantiser, method, ExactPolicy::default(), data).correct_in_place(data, 0)
}

/// Where a buffer sits in its branch, for the one seeding rule ([`dither_stream_seed`]):
/// the branch's name and the index of the buffer's first value in the whole branch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BranchPosition<'a> {
    /// Full branch name (`AnalysisJetsAuxDyn.pt`); empty: the seed is used as given.
    pub branch: &'a str,
    /// Index of the first value among all values of the branch (entries flattened).
    pub first_index: u64,
}

/// [`correct_in_place_f32`] for a piece of a branch: `Dither` draws value `i` of `data` from
/// `(dither_stream_seed(seed, at.branch), at.first_index + i)`, so a branch corrected event
/// by event, chunk by chunk or in one call gets the same bits. `PriorMean`'s density comes
/// from `data` itself (pass the whole branch for a meaningful one).
///
/// # Errors
/// As [`correct_in_place_f32`].
///
/// ```
/// use refloat_core::correct::{correct_at_f32, BranchPosition, Method};
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(7, RoundingMode::Nearest)?;
/// let stored: Vec<f32> = (1..50).map(|i| q.quantise(i as f32 * 0.37)).collect();
/// let m = Method::Dither { seed: 42 };
/// let mut whole = stored.clone();
/// correct_at_f32(&mut whole, &q, m, BranchPosition { branch: "Jets.pt", first_index: 0 })?;
/// let mut pieces = stored.clone();
/// let (a, b) = pieces.split_at_mut(20);
/// correct_at_f32(a, &q, m, BranchPosition { branch: "Jets.pt", first_index: 0 })?;
/// correct_at_f32(b, &q, m, BranchPosition { branch: "Jets.pt", first_index: 20 })?;
/// assert_eq!(whole, pieces);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn correct_at_f32(
    data: &mut [f32],
    quantiser: &Quantiser32,
    method: Method,
    at: BranchPosition<'_>,
) -> Result<CorrectionReport> {
    Corrector::for_branch(*quantiser, method, at.branch, ExactPolicy::default(), data)
        .correct_in_place(data, at.first_index)
}

/// Parallel twin of [`correct_in_place_f32`]; same bits.
///
/// # Errors
/// As [`correct_in_place_f32`].
pub fn par_correct_in_place_f32(
    data: &mut [f32],
    quantiser: &Quantiser32,
    method: Method,
) -> Result<CorrectionReport> {
    Corrector::new(*quantiser, method, ExactPolicy::default(), data).par_correct_in_place(data, 0)
}

/// Check the invariant: every `corrected[i]` re-quantises to `stored[i]`, bit for bit.
///
/// # Errors
/// [`Error::LengthMismatch`], or [`Error::InvalidInput`] naming the first index that breaks
/// the invariant and the values involved.
///
/// ```
/// use refloat_core::correct::verify_requantises_f32;
/// use refloat_core::{Error, Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
/// let stored = [1.5f32, -2.0];
/// verify_requantises_f32(&[1.5004, -2.0003], &stored, &q)?; // inside both intervals
/// let e = verify_requantises_f32(&[1.5, -2.01], &stored, &q).unwrap_err();
/// assert!(matches!(e, Error::InvalidInput(ref m) if m.contains("index 1")), "{e}");
/// assert!(matches!(
///     verify_requantises_f32(&[1.5], &stored, &q),
///     Err(Error::LengthMismatch { .. })
/// ));
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn verify_requantises_f32(
    corrected: &[f32],
    stored: &[f32],
    quantiser: &Quantiser32,
) -> Result<()> {
    crate::error::check_len("corrected vs stored", corrected.len(), stored.len())?;
    match corrected
        .iter()
        .zip(stored)
        .position(|(c, s)| quantiser.quantise(*c).to_bits() != s.to_bits())
    {
        None => Ok(()),
        Some(i) => Err(Error::InvalidInput(format!(
            "corrected value {:e} at index {i} re-quantises to {:e}, not to the stored {:e}",
            corrected[i],
            quantiser.quantise(corrected[i]),
            stored[i]
        ))),
    }
}

/// The density of the originals around each stored value, estimated from stored data.
///
/// Points are the interval centres of the non-exact finite stored values (centres, not the
/// stored values, so that truncated data is not biased by half a step). At a point `m` the
/// log-slope `β = f′/f` comes from a Gaussian kernel estimate with an adaptive bandwidth:
/// `h` is half the span of the `K` neighbours on each side (`K = clamp(√N, 8, 256)`), and at
/// least four interval widths. The value's own point is left out.
#[derive(Clone, Debug)]
pub struct DensityPrior {
    /// The distinct points (sorted), how many of the estimation's values sit at each (as
    /// `f64`, a factor of the kernel sums) and how many sit below each.
    centres: Vec<f64>,
    counts: Vec<f64>,
    below: Vec<u64>,
    /// All points, duplicates included.
    total: u64,
    k: usize,
    /// The log-slope at each distinct point, for its own half-width: a stored value seen in
    /// `data` costs a binary search instead of a kernel sum.
    slopes: Vec<f64>,
    /// The distinct stored values behind the points (bit patterns), as counted.
    pub(crate) stored: Vec<u32>,
}

/// The distinct finite stored values of `data` whose dropped bits are zero (every scheme's
/// finite stored values, and only they) and that `policy` does not call exact, as bit
/// patterns with their counts, in pattern order. Counted in an array indexed by the kept
/// code when the codes present span at most [`DENSE_CODES`] slots per sign and not many
/// more slots than values, else sorted.
fn distinct_stored(quantiser: &Quantiser32, policy: &ExactPolicy, data: &[f32]) -> Vec<(u32, u64)> {
    const SIGN: u32 = 0x8000_0000;
    let k = quantiser.dropped_bits();
    let low = !quantiser.mask();
    let counted = |u: u32| u & !SIGN < 0x7F80_0000 && u & low == 0;
    // The range of codes per sign: every code when there are few (n <= 12), else the range
    // present (codes of values not counted are pushed out of it).
    let (mut lo, mut hi) = ([0u32; 2], [u32::MAX >> (k + 1); 2]);
    if hi[0] as u64 >= DENSE_CODES / 8 {
        (lo, hi) = ([u32::MAX; 2], [0u32; 2]);
        for &x in data {
            // Written without indexing by the sign, so that the loop vectorises.
            let u = x.to_bits();
            let c = (u & !SIGN) >> k;
            let (pos, neg) = (counted(u) && u < SIGN, counted(u) && u >= SIGN);
            lo[0] = lo[0].min(if pos { c } else { u32::MAX });
            hi[0] = hi[0].max(if pos { c } else { 0 });
            lo[1] = lo[1].min(if neg { c } else { u32::MAX });
            hi[1] = hi[1].max(if neg { c } else { 0 });
        }
    }
    let span = |s: usize| {
        if lo[s] <= hi[s] {
            (hi[s] - lo[s]) as u64 + 1
        } else {
            0
        }
    };
    let mut runs: Vec<(u32, u64)> = Vec::new();
    // The array pays for its slots: worth it unless the values are far fewer (a small buffer).
    let slots = span(0) + span(1);
    if span(0).max(span(1)) <= DENSE_CODES
        && data.len() < u32::MAX as usize
        && slots <= 16 * data.len() as u64
    {
        // Slot 0 collects the values not counted; sign s's codes start at start[s].
        let start = [1, 1 + span(0) as usize];
        let mut counts = vec![0u32; start[1] + span(1) as usize];
        for &x in data {
            let u = x.to_bits();
            let s = (u >> 31) as usize;
            let c = ((u & !SIGN) >> k).wrapping_sub(lo[s]) as usize;
            counts[if counted(u) { start[s] + c } else { 0 }] += 1;
        }
        for s in [0usize, 1] {
            let slots = &counts[start[s]..start[s] + span(s) as usize];
            for (c, &n) in slots.iter().enumerate().filter(|p| *p.1 > 0) {
                runs.push(((s as u32) << 31 | (lo[s] + c as u32) << k, n as u64));
            }
        }
    } else {
        let mut v: Vec<u32> = data
            .iter()
            .map(|x| x.to_bits())
            .filter(|&u| counted(u))
            .collect();
        v.sort_unstable();
        for u in v {
            match runs.last_mut() {
                Some((p, n)) if *p == u => *n += 1,
                _ => runs.push((u, 1)),
            }
        }
    }
    runs.retain(|&(u, _)| !policy.is_exact(f32::from_bits(u), quantiser));
    runs
}

impl DensityPrior {
    /// Estimate from the stored values `data` (non-stored, exact and non-finite values are
    /// ignored). Cost: one pass counting the distinct stored values, and one kernel sum per
    /// distinct value, in parallel.
    ///
    /// ```
    /// use refloat_core::correct::{DensityPrior, ExactPolicy};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(6, RoundingMode::Nearest)?;
    /// // A density falling like exp(−x): many more small values than large ones.
    /// let data: Vec<f32> = (1..5000)
    ///     .map(|i| q.quantise(-(1.0 - i as f32 / 5000.0).ln()))
    ///     .collect();
    /// let prior = DensityPrior::new(&q, &ExactPolicy::ZEROS_ONLY, &data);
    /// let iv = q.interval(q.quantise(1.5)).unwrap();
    /// assert!(prior.log_slope(iv.centre(), 0.5 * iv.width()) < 0.0);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn new(quantiser: &Quantiser32, policy: &ExactPolicy, data: &[f32]) -> Self {
        Self::from_runs(quantiser, distinct_stored(quantiser, policy, data))
    }

    /// The prior [`Self::new`] estimates from data whose distinct stored values (bit
    /// patterns) and their counts are `counts`, as [`Self::stored_counts`] gives them: a
    /// density estimated once (on a model's training events, say) and applied to other
    /// values, one event at a time if need be, with the same result. Values `policy` calls
    /// exact are dropped, as [`Self::new`] drops them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first pattern that is not a finite stored value of
    /// `quantiser` (its dropped bits set, NaN or ±∞), a count of zero, or patterns not
    /// strictly increasing.
    ///
    /// ```
    /// use refloat_core::correct::{DensityPrior, ExactPolicy};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(6, RoundingMode::Nearest)?;
    /// let data: Vec<f32> = (1..2000).map(|i| q.quantise(-(1.0 - i as f32 / 2000.0).ln())).collect();
    /// let p = DensityPrior::new(&q, &ExactPolicy::default(), &data);
    /// let again = DensityPrior::from_counts(&q, &ExactPolicy::default(), &p.stored_counts())?;
    /// let iv = q.interval(q.quantise(1.5)).unwrap();
    /// assert_eq!(p.conditional_mean(&iv), again.conditional_mean(&iv));
    /// assert!(DensityPrior::from_counts(&q, &ExactPolicy::default(), &[(1.0f32.to_bits() | 1, 3)]).is_err());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn from_counts(
        quantiser: &Quantiser32,
        policy: &ExactPolicy,
        counts: &[(u32, u64)],
    ) -> Result<Self> {
        let low = !quantiser.mask();
        let mut previous: Option<u32> = None;
        for &(u, n) in counts {
            let what = if u & 0x7FFF_FFFF >= 0x7F80_0000 {
                Some("is not finite")
            } else if u & low != 0 {
                Some("has dropped bits set")
            } else if n == 0 {
                Some("has a count of zero")
            } else if previous.is_some_and(|p| p >= u) {
                Some("does not follow the previous pattern in increasing order")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(Error::InvalidInput(format!(
                    "density prior: stored value 0x{u:08x} {what} ({} kept mantissa bits)",
                    quantiser.mantissa_bits()
                )));
            }
            previous = Some(u);
        }
        let runs = counts
            .iter()
            .copied()
            .filter(|&(u, _)| !policy.is_exact(f32::from_bits(u), quantiser))
            .collect();
        Ok(Self::from_runs(quantiser, runs))
    }

    /// The distinct stored values (bit patterns, increasing) the density was estimated from,
    /// with how many values sat at each: what [`Self::from_counts`] takes back.
    pub fn stored_counts(&self) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self
            .stored
            .iter()
            .zip(&self.counts)
            .map(|(&u, &n)| (u, n as u64))
            .collect();
        v.sort_unstable();
        v
    }

    /// The prior of the distinct stored values `runs` (pattern, count) that `policy` keeps.
    fn from_runs(quantiser: &Quantiser32, runs: Vec<(u32, u64)>) -> Self {
        // (centre, half-width, count, stored pattern), sorted by centre.
        let mut points: Vec<(f64, f64, u64, u32)> = runs
            .into_iter()
            .map(|(u, n)| {
                let iv = quantiser.interval_of_stored(f32::from_bits(u));
                (iv.centre(), 0.5 * iv.width(), n, u)
            })
            .collect();
        points.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let below: Vec<u64> = points
            .iter()
            .scan(0u64, |acc, p| {
                let b = *acc;
                *acc += p.2;
                Some(b)
            })
            .collect();
        let total = points.iter().map(|p| p.2).sum::<u64>();
        let mut prior = DensityPrior {
            centres: points.iter().map(|p| p.0).collect(),
            counts: points.iter().map(|p| p.2 as f64).collect(),
            below,
            total,
            k: ((total as f64).sqrt() as usize).clamp(8, 256),
            slopes: Vec::new(),
            stored: points.iter().map(|p| p.3).collect(),
        };
        prior.slopes = points
            .par_iter()
            .map(|&(m, w, _, _)| prior.log_slope(m, w))
            .collect();
        prior
    }

    /// The point of rank `r` among all points (duplicates included, `r < total`).
    fn centre_at_rank(&self, r: u64) -> f64 {
        self.centres[self.below.partition_point(|&b| b <= r) - 1]
    }

    /// The density's log-slope `f′/f` at `m`, in 1/(units of `m`), for an interval of
    /// half-width `w` (which sets the least bandwidth, `8w`); 0 where there are no neighbours.
    ///
    /// ```
    /// use refloat_core::correct::{DensityPrior, ExactPolicy};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(8, RoundingMode::Nearest)?;
    /// // Samples of f(x) = exp(−x) by inverse CDF: the log-slope is −1 everywhere.
    /// let data: Vec<f32> = (1..20_000)
    ///     .map(|i| q.quantise(-(1.0 - i as f32 / 20_000.0).ln()))
    ///     .collect();
    /// let prior = DensityPrior::new(&q, &ExactPolicy::ZEROS_ONLY, &data);
    /// let iv = q.interval(q.quantise(2.0 + 1.0 / 64.0)).unwrap();
    /// let beta = prior.log_slope(iv.centre(), 0.5 * iv.width());
    /// assert!((beta + 1.0).abs() < 0.1, "{beta}");
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn log_slope(&self, m: f64, w: f64) -> f64 {
        let c = &self.centres;
        if self.total < 3 {
            return 0.0;
        }
        let i = c.partition_point(|&x| x < m);
        let rank = self.below.get(i).copied().unwrap_or(self.total);
        let left = self.centre_at_rank(rank.saturating_sub(self.k as u64));
        let right = self.centre_at_rank((rank + self.k as u64).min(self.total - 1));
        let h = (0.5 * (right - left)).max(8.0 * w);
        if h.is_nan() || h <= 0.0 || h.is_infinite() {
            return 0.0;
        }
        let (from, to) = (
            c.partition_point(|&x| x < m - 4.0 * h),
            c.partition_point(|&x| x <= m + 4.0 * h),
        );
        let (mut s0, mut s1) = (0.0, 0.0);
        for (&x, &n) in c[from..to].iter().zip(&self.counts[from..to]) {
            let d = (x - m) / h;
            let k = n * (-0.5 * d * d).exp();
            s0 += k;
            s1 += k * d;
        }
        // Leave the value's own point out: it sits at m (d = 0, weight 1).
        let s0 = s0 - 1.0;
        if s0 < 0.5 {
            return 0.0;
        }
        s1 / (s0 * h)
    }

    /// `E[x | x ∈ iv]` for a density linear across the interval with slope [`Self::log_slope`]
    /// at the centre: `centre + β·w²/3` for half-width `w`, within a third of the half-width
    /// of the centre (β is clamped to ±1/w so that the density stays ≥ 0). It lies inside `iv`.
    ///
    /// ```
    /// use refloat_core::correct::{DensityPrior, ExactPolicy};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(4, RoundingMode::Nearest)?;
    /// let data: Vec<f32> = (1..20_000)
    ///     .map(|i| q.quantise(-(1.0 - i as f32 / 20_000.0).ln()))
    ///     .collect();
    /// let prior = DensityPrior::new(&q, &ExactPolicy::ZEROS_ONLY, &data);
    /// let iv = q.interval(q.quantise(2.3)).unwrap();
    /// let (m, w) = (iv.centre(), 0.5 * iv.width());
    /// let mean = prior.conditional_mean(&iv);
    /// assert!(mean < m && mean >= m - w / 3.0); // toward the denser side, smaller x
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn conditional_mean(&self, iv: &Interval<f32>) -> f64 {
        let m = iv.centre();
        let w = 0.5 * iv.width();
        if w == 0.0 {
            return m;
        }
        let beta = self.cached_log_slope(m, w).clamp(-1.0 / w, 1.0 / w);
        m + beta * w * w / 3.0
    }

    /// [`Self::log_slope`] from the table: exact at a stored value of the estimation data;
    /// between two of them (a value the data did not hold, e.g. when the prior was built
    /// from a sample), linearly interpolated, which is well inside the estimate's own
    /// precision since the kernel spans hundreds of points; computed outside their range.
    fn cached_log_slope(&self, m: f64, w: f64) -> f64 {
        let (c, slopes) = (&self.centres, &self.slopes);
        let i = c.partition_point(|&x| x < m);
        match (i.checked_sub(1), c.get(i)) {
            (_, Some(&b)) if b == m => slopes[i],
            (Some(j), Some(&b)) => slopes[j] + (slopes[i] - slopes[j]) * (m - c[j]) / (b - c[j]),
            _ => self.log_slope(m, w),
        }
    }
}

/// What [`triage_rule_f32`] did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TriageOutcome {
    /// `x_reconstructed = x_compressed + r_corrected`, as written on the slide.
    pub reconstructed: Vec<f32>,
    /// How many values the rule changed (`r_corrected ≠ 0`).
    pub fired: usize,
    /// How many reconstructed values no longer re-quantise to the stored value.
    pub outside_interval: usize,
}

/// The triaging rule of `ATLAS_COMPRESSION.md`, implemented as written:
///
/// ```text
/// r_corrected = −r  if r > 0 and |s(−r) − y_lower| < ε
///             = −r  if r < 0 and |y_upper − s(−r)| < ε
///             =  0  otherwise;          x_reconstructed = x_compressed + r_corrected
/// ```
///
/// Interpretation: comparisons are made in the signed-log space of the residual map,
/// `s(v) = sign(v)·log10(|v| + 1e−12)`, with its bound lines evaluated at the stored
/// value, `y_upper = log10(|x_comp| + 1e−12) − n·log10 2 = −y_lower`. The rule needs the
/// residual `r = x_orig − x_comp`, i.e. the original: it is an analysis of which residuals sit
/// on the bound lines, not a correction that can run on a compressed file. Where it fires,
/// the reconstructed value is `x_comp − r`, the original reflected through the stored value,
/// so its error is `2|r|` instead of `|r|`. Round-to-nearest keeps `|r| ≤ |x|·2^(−n−1)`, a
/// factor 2 (0.301 in log10) below the rule's line, so with `ε < 0.301` it never fires on
/// `Nearest` data.
///
/// `quantiser` gives `n` (and is used to count values that left their interval); the lines
/// are [`triage_bound_lines_log10`]. `epsilon` is in decades (log10 units).
///
/// # Errors
/// [`Error::LengthMismatch`] if the slices differ in length.
///
/// ```
/// use refloat_core::correct::triage_rule_f32;
/// use refloat_core::{Quantiser32, RoundingMode};
/// let q = Quantiser32::new(10, RoundingMode::Truncate)?;
/// // |x_comp| = 4096: the lines are at ±log10(4096·2^-10) = ±log10 4.
/// let original = [4099.96f32, 4097.0];
/// let stored = [q.quantise(original[0]), q.quantise(original[1])];
/// let out = triage_rule_f32(&original, &stored, &q, 0.01)?;
/// assert_eq!(out.fired, 1); // r = 3.96 sits on the line, r = 1 does not
/// assert_eq!(out.reconstructed[1], stored[1]);
/// assert_eq!(out.outside_interval, 1); // x_comp − r left the interval
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn triage_rule_f32(
    original: &[f32],
    stored: &[f32],
    quantiser: &Quantiser32,
    epsilon: f64,
) -> Result<TriageOutcome> {
    crate::error::check_len("original vs stored", original.len(), stored.len())?;
    let slog = |v: f64| v.signum() * (v.abs() + 1e-12).log10();
    let n = quantiser.mantissa_bits();
    let mut out = TriageOutcome {
        reconstructed: Vec::with_capacity(stored.len()),
        ..Default::default()
    };
    for (&xo, &xc) in original.iter().zip(stored) {
        let r = xo as f64 - xc as f64;
        let (y_lower, y_upper) = triage_bound_lines_log10((xc.abs() as f64 + 1e-12).log10(), n);
        let fire = (r > 0.0 && (slog(-r) - y_lower).abs() < epsilon)
            || (r < 0.0 && (y_upper - slog(-r)).abs() < epsilon);
        let rec = if fire { (xc as f64 - r) as f32 } else { xc };
        out.fired += fire as usize;
        out.reconstructed.push(rec);
    }
    out.outside_interval = count_outside_interval(&out.reconstructed, stored, quantiser);
    Ok(out)
}

/// Count of values of `reconstructed` that do not re-quantise to `stored` under `quantiser`.
pub fn count_outside_interval(
    reconstructed: &[f32],
    stored: &[f32],
    quantiser: &Quantiser32,
) -> usize {
    reconstructed
        .iter()
        .zip(stored)
        .filter(|(c, s)| quantiser.quantise(**c).to_bits() != s.to_bits())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoundingMode;

    #[test]
    fn method_parsing() {
        assert_eq!("midpoint".parse::<Method>().unwrap(), Method::Midpoint);
        assert_eq!(
            "dither:7".parse::<Method>().unwrap(),
            Method::Dither { seed: 7 }
        );
        assert_eq!("prior-mean".parse::<Method>().unwrap(), Method::PriorMean);
        assert!("bogus".parse::<Method>().is_err());
    }

    #[test]
    fn prior_from_counts_corrects_one_value_as_the_whole_sample_does() {
        let q = Quantiser32::new(8, RoundingMode::Nearest).unwrap();
        let p = ExactPolicy::default();
        let data: Vec<f32> = (1..5000)
            .map(|i| {
                q.quantise(-(1.0 - i as f32 / 5000.0).ln() * if i % 3 == 0 { -1.0 } else { 1.0 })
            })
            .collect();
        let whole = Corrector::new(q, Method::PriorMean, p.clone(), &data);
        let counts = whole.prior().unwrap().stored_counts();
        assert!(counts.windows(2).all(|w| w[0].0 < w[1].0));
        let counted = data.iter().filter(|&&x| !p.is_exact(x, &q)).count();
        assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), counted as u64);
        assert!(counted > 4500);
        let again = Corrector::with_prior(
            q,
            p.clone(),
            DensityPrior::from_counts(&q, &p, &counts).unwrap(),
        );
        let mut a = data.clone();
        whole.correct_in_place(&mut a, 0).unwrap();
        // value by value under the recorded density: the same bits
        for (i, (&s, &x)) in data.iter().zip(&a).enumerate() {
            let mut one = [s];
            again.correct_in_place(&mut one, 0).unwrap();
            assert_eq!(one[0].to_bits(), x.to_bits(), "value {i}");
        }
        // bad patterns are named
        let bad = |runs: &[(u32, u64)], what: &str| {
            let e = DensityPrior::from_counts(&q, &p, runs)
                .unwrap_err()
                .to_string();
            assert!(e.contains(what), "{e}");
        };
        bad(&[(f32::NAN.to_bits(), 1)], "is not finite");
        bad(&[(1.0f32.to_bits() | 1, 1)], "dropped bits set");
        bad(&[(1.0f32.to_bits(), 0)], "count of zero");
        bad(
            &[(2.0f32.to_bits(), 1), (1.0f32.to_bits(), 1)],
            "increasing order",
        );
    }

    #[test]
    fn not_quantised_input_is_rejected_untouched() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let mut data = [1.0f32, 1.0 + f32::EPSILON];
        let e = correct_in_place_f32(&mut data, &q, Method::Midpoint).unwrap_err();
        assert!(matches!(e, Error::NotQuantised { index: 1, .. }), "{e}");
        assert_eq!(data, [1.0, 1.0 + f32::EPSILON]);
    }

    #[test]
    fn exact_values_are_left_alone() {
        let q = Quantiser32::new(10, RoundingMode::Truncate).unwrap();
        let p = ExactPolicy::default();
        for x in [0.0f32, -0.0, 1.0, -1.0, 0.5, 2.0, 1.5, -0.75, 1.75] {
            assert!(p.is_exact(x, &q), "{x}");
        }
        assert!(!p.is_exact(q.quantise(1.2345), &q));
        assert!(!ExactPolicy::ZEROS_ONLY.is_exact(1.0, &q));
        assert!(ExactPolicy::ZEROS_ONLY.is_exact(0.0, &q));
    }

    #[test]
    fn uniform_is_in_unit_interval_and_varies() {
        let v: Vec<f64> = (0..1000).map(|i| unit_uniform(42, i) as f64).collect();
        assert!(v.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert_ne!(unit_uniform(1, 0), unit_uniform(2, 0));
    }

    #[test]
    fn the_two_words_of_a_pair_are_uncorrelated_uniforms() {
        // One hash serves indices 2j and 2j + 1: its halves must behave as independent draws.
        let n = 200_000u64;
        let (mut se, mut so, mut seo, mut see, mut soo) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for j in 0..n {
            let (e, o) = (
                unit_uniform(3, 2 * j) as f64,
                unit_uniform(3, 2 * j + 1) as f64,
            );
            (se, so, seo, see, soo) = (se + e, so + o, seo + e * o, see + e * e, soo + o * o);
        }
        let nf = n as f64;
        let (me, mo) = (se / nf, so / nf);
        let cov = seo / nf - me * mo;
        let corr = cov / ((see / nf - me * me) * (soo / nf - mo * mo)).sqrt();
        // 5 standard errors of a correlation of independent draws (1/sqrt(n)).
        assert!(corr.abs() < 5.0 / nf.sqrt(), "corr {corr}");
        assert!(
            (me - 0.5).abs() < 0.005 && (mo - 0.5).abs() < 0.005,
            "{me} {mo}"
        );
        assert!((see / nf - me * me - 1.0 / 12.0).abs() < 0.002, "variance");
    }

    #[test]
    fn triage_rule_fires_on_each_sign_line() {
        // Truncate, n = 10, |x_comp| = 4096 (step 4): the lines sit at ±log10(4) = ±0.602.
        let q = Quantiser32::new(10, RoundingMode::Truncate).unwrap();
        let (lower, upper) = triage_bound_lines_log10(4096f64.log10(), 10);
        assert!((upper - 4f64.log10()).abs() < 1e-12 && lower == -upper);
        // r = +3.96 > 0: s(−r) = −log10(3.96) ≈ −0.598, on the NEGATIVE line (1.2 decades
        // from the positive one). r = −3.96: s(−r) ≈ +0.598, on the positive line.
        // r = ±1: 0.6 decades off either line, never fires.
        let orig = [4099.96f32, -4099.96, 4097.0, -4097.0];
        let stored: Vec<f32> = orig.iter().map(|&x| q.quantise(x)).collect();
        assert_eq!(stored, [4096.0, -4096.0, 4096.0, -4096.0]);
        let r0 = orig[0] as f64 - 4096.0;
        let s_neg_r0 = -(r0 + 1e-12).log10();
        assert!((s_neg_r0 - lower).abs() < 0.01 && (s_neg_r0 - upper).abs() > 1.0);
        let out = triage_rule_f32(&orig, &stored, &q, 0.01).unwrap();
        assert_eq!(out.fired, 2);
        assert_eq!(out.reconstructed[0], (4096.0 - r0) as f32); // reflected through x_comp
        assert_eq!(out.reconstructed[1], -(4096.0 - r0) as f32);
        assert_eq!(&out.reconstructed[2..], &stored[2..]);
        assert_eq!(out.outside_interval, 2); // the reflection leaves the interval
    }

    #[test]
    fn triage_rule_never_fires_on_nearest_with_small_epsilon() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let orig: Vec<f32> = (1..2000)
            .map(|i| (i as f32 * 0.7371).sin() * 100.0)
            .collect();
        let stored: Vec<f32> = orig.iter().map(|&x| q.quantise(x)).collect();
        let out = triage_rule_f32(&orig, &stored, &q, 0.25).unwrap();
        assert_eq!(out.fired, 0);
        assert_eq!(out.reconstructed, stored);
    }
}
