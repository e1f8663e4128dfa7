//! Which rounding scheme, and how many kept bits, produced a branch: inferred from the stored
//! values alone, with a confidence, and "cannot tell" when the data does not decide.
//!
//! **Kept bits.** A value stored with `n` kept bits has at least `23 − n` trailing zero
//! mantissa bits; its *apparent* bits `23 − trailing zeros` are `n` with chance ½, `n − 1`
//! with chance ¼, and so on. A branch's bits are the largest apparent bits. Which values
//! are exact by nature, whether a branch mixes precisions and what to do with a branch of
//! few values is [`crate::resolve`]'s to decide; detection takes the precisions it is given
//! ([`Detector::finish_with_clusters`]).
//!
//! **Scheme.** Within a binade, a stored code `m` occurs in proportion to the width of its
//! interval of originals (for a density that is smooth over a few codes):
//!
//! | scheme | code 0 | codes `2^n−2`, `2^n−1` |
//! |---|---|---|
//! | truncation | 1 | 1, 1 |
//! | ATLAS carry (`nearest`, `nearest-even`, `bitround`) | ¾ | 1, 1 |
//! | CMS | ½ | 1.5, 1 |
//! | ROOT `Float16_t` | ½ | 1, 1.5 |
//!
//! Per binade, code 0 is compared with codes 1 and 2 (a binomial), and the top two codes with
//! the two below them (a multinomial), the density at the compared codes extrapolated
//! linearly from their neighbours so that a sloping spectrum is no evidence; summed over
//! binades, each scheme's log-likelihood gives a posterior, under a uniform prior or one that
//! favours the format's producer. A binade is
//! left out of the code-0 test when its code 0 is a spike (a sentinel or an exact value such
//! as ±1, which are powers of two and so code 0), and out of either test when the density is
//! not smooth there: codes 1 and 2, or `2^n−4` and `2^n−3`, differ beyond Poisson noise, or
//! the codes hold over ten times their share of the binade (a narrow peak at a binade edge,
//! as a vertex coordinate near 0.5 mm has).
//! The three carry schemes give the same frequencies: they are reported as `nearest`.

use crate::quantise::RoundingMode;

/// The schemes detection tells apart (the carry schemes are one candidate, `Nearest`).
pub const CANDIDATES: [RoundingMode; 4] = [
    RoundingMode::Truncate,
    RoundingMode::Nearest,
    RoundingMode::Cms,
    RoundingMode::RootFloat16,
];

/// The posterior a scheme needs before detection names it.
pub const CONFIDENT: f64 = 0.95;

/// The fewest kept bits a second precision of a mixed branch may have ([`crate::resolve`]):
/// fewer form a coarse lattice (weights such as 1.25 or 0.875, sentinels), which is exact by
/// nature and left alone, not a precision to correct at.
pub const MIN_CLUSTER_BITS: u32 = 5;

/// Prior weight of the scheme a file's format is known to use ([`Detector::finish_with_prior`]).
pub const EXPECTED_PRIOR: f64 = 0.99;

/// The evidence values (codes 0–2 and the top four) detection needs before it names a
/// scheme: fewer are too easily dominated by a few repeated values (weights, sentinels),
/// which are not independent draws from a smooth density.
pub const MIN_EVIDENCE: usize = 100;

/// Fewest kept bits at which the code frequencies are read (codes 0–2 and the top four must
/// be distinct).
pub const MIN_BITS_FOR_SCHEME: u32 = 3;

/// What the stored values of one branch say about how they were rounded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// Kept bits of the branch (the largest cluster); `None` when no finite value has a
    /// non-zero mantissa (all zeros, powers of two or non-finite: any bit count fits).
    pub bits: Option<u32>,
    /// Kept bits of each precision the branch mixes, largest first (one entry when it does
    /// not mix; empty when `bits` is `None`).
    pub bit_clusters: Vec<u32>,
    /// The scheme whose posterior reaches [`CONFIDENT`] on at least [`MIN_EVIDENCE`] values;
    /// `None`: cannot tell.
    pub mode: Option<RoundingMode>,
    /// Posterior of each of [`CANDIDATES`], in that order (uniform when there is no evidence).
    pub posterior: Vec<(RoundingMode, f64)>,
    /// Values the scheme evidence rests on (codes 0–2 and the top four codes, all binades).
    pub evidence_values: usize,
}

impl Detection {
    /// The most probable scheme (even when not confident) and its posterior.
    pub fn best(&self) -> (RoundingMode, f64) {
        self.posterior
            .iter()
            .copied()
            .fold((RoundingMode::Nearest, f64::MIN), |a, b| {
                if b.1 > a.1 {
                    b
                } else {
                    a
                }
            })
    }

    /// Whether the branch mixes bit counts.
    pub fn mixed(&self) -> bool {
        self.bit_clusters.len() > 1
    }

    /// The kept bits of one stored value: the smallest cluster that holds its apparent bits
    /// (the branch's bits when it does not mix; `None` when `bits` is `None`).
    pub fn bits_of(&self, x: f32) -> Option<u32> {
        let apparent = apparent_bits(x);
        self.bit_clusters
            .iter()
            .rev()
            .copied()
            .find(|&b| apparent <= b)
            .or(self.bits)
    }

    /// One line for reports: `10 bits, cms (p = 0.99)`, `10 bits, cannot tell (best cms,
    /// p = 0.61, 143 values)`, `20+8 bits (mixed), …`.
    pub fn describe(&self) -> String {
        let bits = match self.bits {
            None => return "no value with a non-zero mantissa: bits and scheme unknown".into(),
            Some(23) => return "23 bits: full precision".into(),
            Some(_) if self.mixed() => format!(
                "{} bits (mixed)",
                self.bit_clusters
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            Some(b) => format!("{b} bits"),
        };
        let (best, p) = self.best();
        match self.mode {
            Some(m) => format!("{bits}, {m} (p = {p:.3}, {} values)", self.evidence_values),
            None => format!(
                "{bits}, cannot tell the scheme (best {best}, p = {p:.2}, {} values)",
                self.evidence_values
            ),
        }
    }
}

/// `23 −` the trailing zero mantissa bits of `x` (0 for a zero mantissa).
#[inline]
pub fn apparent_bits(x: f32) -> u32 {
    23 - crate::quantise::mantissa_trailing_zeros_f32(x)
}

/// Interval widths (in kept steps) of codes 0, and of `2^n−4 … 2^n−1`, under each candidate.
fn widths(mode: RoundingMode) -> (f64, [f64; 4]) {
    match mode {
        RoundingMode::Truncate => (1.0, [1.0; 4]),
        RoundingMode::Cms => (0.5, [1.0, 1.0, 1.5, 1.0]),
        RoundingMode::RootFloat16 => (0.5, [1.0, 1.0, 1.0, 1.5]),
        _ => (0.75, [1.0; 4]),
    }
}

/// Code counts of one (kept bits, apparent bits, biased exponent) cell: codes 0, 1, 2 and
/// the top four codes.
type Cell = ([u64; 3], [u64; 4]);

/// Detection fed a branch a chunk at a time, in memory that does not grow with the branch
/// (a histogram of apparent bits, and code counts only for the codes that carry evidence).
#[derive(Clone, Debug)]
pub struct Detector {
    apparent: [u64; 24],
    cells: std::collections::BTreeMap<(u8, u8, u8), Cell>,
    /// Powers of two (a zero mantissa) per biased exponent: code 0 whatever the bits.
    powers: Vec<u64>,
    /// Finite non-zero values per biased exponent.
    binade_totals: Vec<u64>,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

/// One non-zero cell of a [`Detector`] as written: its three indices and its counts.
type CellParts = (u8, u8, u8, [u64; 3], [u64; 4]);

/// A [`Detector`] as it is written and read back: only its non-zero counts.
#[derive(serde::Serialize, serde::Deserialize)]
struct DetectorParts {
    apparent: Vec<u64>,
    cells: Vec<CellParts>,
    powers: Vec<(u8, u64)>,
    binade_totals: Vec<(u8, u64)>,
}

impl serde::Serialize for Detector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let sparse = |v: &[u64]| -> Vec<(u8, u64)> {
            v.iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (i as u8, *c))
                .collect()
        };
        let mut cells: Vec<_> = self
            .cells
            .iter()
            .map(|(&(n, a, e), &(lo, hi))| (n, a, e, lo, hi))
            .collect();
        cells.sort_unstable_by_key(|c| (c.0, c.1, c.2));
        DetectorParts {
            apparent: self.apparent.to_vec(),
            cells,
            powers: sparse(&self.powers),
            binade_totals: sparse(&self.binade_totals),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Detector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let p = DetectorParts::deserialize(d)?;
        let mut out = Detector::new();
        if p.apparent.len() != 24 {
            return Err(serde::de::Error::custom(
                "a detector has 24 apparent-bit counts",
            ));
        }
        out.apparent.copy_from_slice(&p.apparent);
        for (n, a, e, lo, hi) in p.cells {
            out.cells.insert((n, a, e), (lo, hi));
        }
        for (e, c) in p.powers {
            out.powers[e as usize] = c;
        }
        for (e, c) in p.binade_totals {
            out.binade_totals[e as usize] = c;
        }
        Ok(out)
    }
}

impl Detector {
    /// An empty detector.
    pub fn new() -> Self {
        Detector {
            apparent: [0; 24],
            cells: Default::default(),
            powers: vec![0; 256],
            binade_totals: vec![0; 256],
        }
    }

    /// Take in what `other` saw of the same branch (another chunk of it): the result is the
    /// detector of both chunks' values.
    pub fn merge(&mut self, other: &Detector) {
        for (a, b) in self.apparent.iter_mut().zip(&other.apparent) {
            *a += b;
        }
        for (k, (lo, hi)) in &other.cells {
            let c = self.cells.entry(*k).or_default();
            (0..3).for_each(|j| c.0[j] += lo[j]);
            (0..4).for_each(|j| c.1[j] += hi[j]);
        }
        for (a, b) in self.powers.iter_mut().zip(&other.powers) {
            *a += b;
        }
        for (a, b) in self.binade_totals.iter_mut().zip(&other.binade_totals) {
            *a += b;
        }
    }

    /// Take in more values of the branch (any order, any chunking).
    pub fn add(&mut self, data: &[f32]) {
        for &x in data {
            let u = x.to_bits() & 0x7FFF_FFFF;
            if u >= 0x7F80_0000 || u == 0 {
                continue;
            }
            self.binade_totals[(u >> 23) as usize] += 1;
            if u & 0x007F_FFFF == 0 {
                // Code 0 at every bit count (a power of two).
                self.powers[(u >> 23) as usize] += 1;
                continue;
            }
            let a = apparent_bits(x);
            self.apparent[a as usize] += 1;
            self.add_codes(u, a);
        }
    }

    /// The codes part of [`Detector::add`] for one finite, non-zero magnitude `mag` with
    /// `a` apparent bits; the counts per apparent bits and per binade are then set by
    /// [`Detector::set_totals`] (what [`crate::resolve::Evidence`] does, which counts them
    /// itself).
    #[inline(always)]
    pub(crate) fn add_codes(&mut self, mag: u32, a: u32) {
        let (mantissa, exponent) = (mag & 0x007F_FFFF, mag >> 23);
        if mantissa == 0 || exponent == 0 {
            return; // a power of two (code 0 at any bits), or subnormal: no binade to read
        }
        // The value is stored at any n >= a; record its code wherever it is one of the
        // evidence codes. Codes grow with n, so stop once it is neither low nor high.
        for n in a.max(MIN_BITS_FOR_SCHEME)..23 {
            let code = mantissa >> (23 - n);
            let top = (1u32 << n) - 1;
            if code > 2 && code + 3 < top {
                break;
            }
            let key = (n as u8, a as u8, exponent as u8);
            if code <= 2 {
                self.cells.entry(key).or_default().0[code as usize] += 1;
            } else {
                self.cells.entry(key).or_default().1[(code + 3 - top) as usize] += 1;
            }
        }
    }

    /// Set the counts per apparent bits, per binade and of powers of two from `cells`, the
    /// finite non-zero values per (apparent bits `a` < 24, biased exponent `e`) at
    /// `cells[a * 256 + e]` (`a` = 0: a zero mantissa).
    pub(crate) fn set_totals(&mut self, cells: &[u64]) {
        debug_assert_eq!(cells.len(), 24 * 256);
        self.apparent = [0; 24];
        self.binade_totals.fill(0);
        for (a, row) in cells.chunks(256).enumerate() {
            for (e, &c) in row.iter().enumerate() {
                self.binade_totals[e] += c;
                if a > 0 {
                    self.apparent[a] += c;
                }
            }
        }
        self.powers.copy_from_slice(&cells[..256]);
    }

    /// The largest apparent bits of the values added (`None`: no value has a non-zero
    /// mantissa).
    pub fn apparent_bits(&self) -> Option<u32> {
        (1..=23u32).rev().find(|&b| self.apparent[b as usize] > 0)
    }

    /// The detection from everything added so far, under a uniform prior over
    /// [`CANDIDATES`], with the branch's bits the largest apparent bits.
    pub fn finish(&self) -> Detection {
        self.finish_with_clusters(None, self.apparent_bits().into_iter().collect())
    }

    /// The detection from everything added so far; `expected` (the scheme the file's format
    /// is known to use, e.g. CMS's for NanoAOD) gets prior weight [`EXPECTED_PRIOR`], so that
    /// only clear evidence names another scheme.
    /// `clusters` are the precisions of the branch, largest first ([`crate::resolve`]; one
    /// entry unless it mixes precisions, empty when no value has a non-zero mantissa): each
    /// value's codes count at its own precision.
    pub fn finish_with_clusters(
        &self,
        expected: Option<RoundingMode>,
        clusters: Vec<u32>,
    ) -> Detection {
        let bit_clusters = clusters;
        let bits = bit_clusters.first().copied();
        let mut detection = Detection {
            bits,
            bit_clusters: bit_clusters.clone(),
            mode: None,
            posterior: CANDIDATES.iter().map(|&m| (m, 0.25)).collect(),
            evidence_values: 0,
        };
        if bits.is_none() || bits == Some(23) {
            return detection;
        }
        // Each value counts at its cluster's bits: apparent bits in (next cluster, cluster].
        let mut per_binade: std::collections::BTreeMap<(u8, u8), Cell> = Default::default();
        for (i, &n) in bit_clusters.iter().enumerate() {
            let below = bit_clusters.get(i + 1).copied().unwrap_or(0);
            for (&(cn, a, e), (low, high)) in &self.cells {
                if u32::from(cn) == n && u32::from(a) > below && u32::from(a) <= n {
                    let cell = per_binade.entry((cn, e)).or_default();
                    (0..3).for_each(|j| cell.0[j] += low[j]);
                    (0..4).for_each(|j| cell.1[j] += high[j]);
                }
            }
        }
        // Powers of two are code 0 at any bits: counted with the branch's main precision.
        let main = bit_clusters[0];
        if main >= MIN_BITS_FOR_SCHEME {
            for (e, &count) in self.powers.iter().enumerate().filter(|(_, &c)| c > 0) {
                per_binade.entry((main as u8, e as u8)).or_default().0[0] += count;
            }
        }
        // Counts `a` and `b` that a smooth density makes equal, up to Poisson noise.
        let alike = |a: u64, b: u64| (a.abs_diff(b) as f64) <= 3.0 * ((a + b) as f64).sqrt() + 2.0;
        // Codes that hold far more than their share of the binade: the density peaks there.
        let crowded = |n: u8, e: u8, codes: u64, held: u64| {
            let share = codes as f64 / (1u64 << n) as f64;
            held as f64 > 10.0 * share * self.binade_totals[e as usize] as f64 + 5.0
        };
        // Per binade, the cells that enter the likelihood: codes 0–2, and the top four.
        let mut bottoms: Vec<[u64; 3]> = Vec::new();
        let mut tops: Vec<[u64; 4]> = Vec::new();
        for (&(n, e), (bottom, top)) in &per_binade {
            // A spike at code 0 (sentinels, ±1, exact powers of two: a value with more than
            // twice the neighbours' mean, beyond noise) says nothing of rounding, nor do codes
            // where the density is not smooth (codes 1 and 2 unlike, or a peak).
            let (c0, c12) = (bottom[0] as f64, (bottom[1] + bottom[2]) as f64);
            let spike = c0 > c12 + 3.0 * c12.sqrt() + 3.0;
            if c12 >= 4.0
                && !spike
                && alike(bottom[1], bottom[2])
                && !crowded(n, e, 3, bottom.iter().sum())
            {
                bottoms.push(*bottom);
            }
            if top[0] + top[1] >= 4 && alike(top[0], top[1]) && !crowded(n, e, 4, top.iter().sum())
            {
                tops.push(*top);
            }
        }
        detection.evidence_values =
            (bottoms.iter().flatten().sum::<u64>() + tops.iter().flatten().sum::<u64>()) as usize;
        // The density at a code, extrapolated linearly from its two neighbours on one side
        // (so a sloping spectrum is no evidence), at least a quarter of their mean.
        let extrapolate = |near: u64, far: u64, steps: f64| {
            let (near, far) = (near as f64, far as f64);
            (near + steps * (near - far)).max(0.125 * (near + far))
        };
        // `count · ln p`, with 0 · ln 0 = 0 and p floored (an extrapolated density can be 0).
        let term = |count: u64, p: f64| {
            if count == 0 {
                0.0
            } else {
                count as f64 * p.max(1e-12).ln()
            }
        };
        let log_likelihood = |mode: RoundingMode| {
            let (w0, wt) = widths(mode);
            let low: f64 = bottoms
                .iter()
                .map(|c| {
                    let d = [extrapolate(c[1], c[2], 1.0), c[1] as f64, c[2] as f64];
                    let p0 = w0 * d[0] / (w0 * d[0] + d[1] + d[2]);
                    term(c[0], p0) + term(c[1] + c[2], 1.0 - p0)
                })
                .sum();
            let high: f64 = tops
                .iter()
                .map(|c| {
                    let d = [
                        c[0] as f64,
                        c[1] as f64,
                        extrapolate(c[1], c[0], 1.0),
                        extrapolate(c[1], c[0], 2.0),
                    ];
                    let sum: f64 = (0..4).map(|i| wt[i] * d[i]).sum();
                    (0..4).map(|i| term(c[i], wt[i] * d[i] / sum)).sum::<f64>()
                })
                .sum();
            low + high
        };
        let log_prior = |m: RoundingMode| match expected {
            None => 0.0,
            Some(e) if e == m || (m == RoundingMode::Nearest && e.carries()) => EXPECTED_PRIOR.ln(),
            Some(_) => ((1.0 - EXPECTED_PRIOR) / 3.0).ln(),
        };
        let ll: Vec<f64> = CANDIDATES
            .iter()
            .map(|&m| log_likelihood(m) + log_prior(m))
            .collect();
        let max = ll.iter().copied().fold(f64::MIN, f64::max);
        let z: f64 = ll.iter().map(|l| (l - max).exp()).sum();
        detection.posterior = CANDIDATES
            .iter()
            .zip(&ll)
            .map(|(&m, l)| (m, (l - max).exp() / z))
            .collect();
        let (best, p) = detection.best();
        if p >= CONFIDENT && detection.evidence_values >= MIN_EVIDENCE {
            detection.mode = Some(best);
        }
        detection
    }
}

/// Detect the kept bits and the scheme of a branch from its stored values.
///
/// ```
/// use refloat_core::detect::detect_f32;
/// use refloat_core::{quantise::quantise_slice_f32, RoundingMode};
/// // A smooth density, 200 k values, CMS rounding at 6 kept bits.
/// let mut v: Vec<f32> =
///     (0..200_000).map(|i| (1.0 + (i as f64 * 0.618_034).fract() * 7.0) as f32).collect();
/// quantise_slice_f32(&mut v, 6, RoundingMode::Cms)?;
/// let d = detect_f32(&v);
/// assert_eq!(d.bits, Some(6));
/// assert_eq!(d.mode, Some(RoundingMode::Cms), "{}", d.describe());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn detect_f32(data: &[f32]) -> Detection {
    let mut d = Detector::new();
    d.add(data);
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantise::quantise_slice_f32;

    fn smooth(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let u = (i as f64 * 0.618_033_988_75).fract();
                (5.0 * (-u.ln())) as f32 + 0.1 // exponential, a falling spectrum
            })
            .collect()
    }

    #[test]
    fn each_scheme_is_told_apart_on_plenty_of_values() {
        for mode in CANDIDATES {
            for bits in [4, 7] {
                let mut v = smooth(400_000);
                quantise_slice_f32(&mut v, bits, mode).unwrap();
                let d = detect_f32(&v);
                assert_eq!(d.bits, Some(bits), "{mode} {bits}: {}", d.describe());
                assert_eq!(d.mode, Some(mode), "{mode} {bits}: {}", d.describe());
            }
        }
    }

    #[test]
    fn few_values_cannot_tell() {
        let mut v = smooth(300);
        quantise_slice_f32(&mut v, 10, RoundingMode::Cms).unwrap();
        let d = detect_f32(&v);
        assert_eq!(d.bits, Some(10));
        assert_eq!(d.mode, None, "{}", d.describe());
        assert!(d.describe().contains("cannot tell"));
    }

    #[test]
    fn no_mantissa_no_bits() {
        let d = detect_f32(&[0.0, 1.0, -2.0, f32::NAN]);
        assert_eq!(d.bits, None);
        assert_eq!(d.mode, None);
    }
}
