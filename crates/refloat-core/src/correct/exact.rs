//! Which stored values are exact by nature: the original itself, left alone by every
//! correction at every front door.
//!
//! A stored value is exact ([`ExactPolicy::rule`]) when it is
//!
//! | rule | values | why |
//! |---|---|---|
//! | [`ExactRule::Zero`] | ±0 | nothing to round |
//! | [`ExactRule::ShortMantissa`] | at most `max_explicit_bits` explicit mantissa bits, and 2 more trailing zeros than the rounding cleared | ±1, ±0.5, −2, 2^k: charges, flags, defaults |
//! | [`ExactRule::Sentinel`] | one of [`SENTINELS`] | the conventional defaults (−999, −99, −9999, ±100, …) |
//! | [`ExactRule::Spike`] | a value the branch's own statistics flag ([`crate::resolve`]) | saturation values, per-branch defaults, constants (a particle's mass), discrete quantities (k/255 weights, jet areas) |
//! | [`ExactRule::Lattice`] | a multiple of the branch's lattice step, where the step is coarser than the kept step ([`Lattice`]) | hardware steps (L1 pt in 0.5 GeV), integers (counts, degrees of freedom) |
//! | [`ExactRule::TopCode`] | under CMS's rule, a value whose mantissa is all ones in the branch's apparent bits `m`, when the branch is corrected at more bits than `m` | at `m` bits it would be CMS's top code, whose interval lies only above it: correcting it at more bits could move it below |
//!
//! The first three need nothing but the value; spikes and the lattice are found from a whole
//! branch by [`crate::resolve`] and carried here, so that a buffer corrected one event at a
//! time leaves the same values alone as the file pipeline.

use crate::quantise::Quantiser32;

/// The conventional default values of analysis formats, always exact: `±(10^j − 1)` for
/// `j = 2…7` (−99, −999, −9999, …) and `±10^j` for `j = 2…7`.
pub const SENTINELS: [f32; 24] = [
    99.0,
    999.0,
    9999.0,
    99999.0,
    999999.0,
    9999999.0,
    100.0,
    1000.0,
    10000.0,
    100000.0,
    1000000.0,
    10000000.0,
    -99.0,
    -999.0,
    -9999.0,
    -99999.0,
    -999999.0,
    -9999999.0,
    -100.0,
    -1000.0,
    -10000.0,
    -100000.0,
    -1000000.0,
    -10000000.0,
];

/// Why a stored value is left alone (see the module's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExactRule {
    Zero,
    ShortMantissa,
    Sentinel,
    Spike,
    Lattice,
    TopCode,
}

impl ExactRule {
    /// Every rule.
    pub const ALL: [ExactRule; 6] = [
        ExactRule::Zero,
        ExactRule::ShortMantissa,
        ExactRule::Sentinel,
        ExactRule::Spike,
        ExactRule::Lattice,
        ExactRule::TopCode,
    ];

    /// The name used in reports (`zero`, `short-mantissa`, `sentinel`, `spike`, `lattice`).
    pub fn name(self) -> &'static str {
        match self {
            ExactRule::Zero => "zero",
            ExactRule::ShortMantissa => "short-mantissa",
            ExactRule::Sentinel => "sentinel",
            ExactRule::Spike => "spike",
            ExactRule::Lattice => "lattice",
            ExactRule::TopCode => "top-code",
        }
    }
}

/// Values left alone, per rule. ±0 and short mantissas are counted together
/// (`short_mantissa`): the slice loops tell them apart only at a cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExactCounts {
    /// ±0 and values with a short mantissa ([`ExactRule::Zero`], [`ExactRule::ShortMantissa`]).
    pub short_mantissa: usize,
    pub sentinel: usize,
    pub spike: usize,
    /// On the lattice, or ambiguous top codes ([`ExactRule::TopCode`]).
    pub lattice: usize,
}

impl ExactCounts {
    /// All values left alone.
    pub fn total(&self) -> usize {
        self.short_mantissa + self.sentinel + self.spike + self.lattice
    }

    /// One more value left alone under `rule`.
    pub fn add(&mut self, rule: ExactRule) {
        match rule {
            ExactRule::Zero | ExactRule::ShortMantissa => self.short_mantissa += 1,
            ExactRule::Sentinel => self.sentinel += 1,
            ExactRule::Spike => self.spike += 1,
            ExactRule::Lattice | ExactRule::TopCode => self.lattice += 1,
        }
    }
}

impl std::ops::Add for ExactCounts {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        ExactCounts {
            short_mantissa: self.short_mantissa + o.short_mantissa,
            sentinel: self.sentinel + o.sentinel,
            spike: self.spike + o.spike,
            lattice: self.lattice + o.lattice,
        }
    }
}

/// A branch whose values (some or all) lie on the multiples of `2^step_log2`: a value on it
/// is exact where the step is at least `2^min_gap` kept steps (there, a continuous value lands
/// on the lattice only by chance, `2^−gap`). `min_gap` is 1 for a branch that mixes lattice
/// values and continuous ones, and [`Lattice::ALWAYS`] for a branch whose values are all on
/// it and were never rounded coarser than it (integers such as a track's degrees of freedom:
/// every multiple is then exact, whatever the kept bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lattice {
    /// `log2` of the step (−1: 0.5, 0: integers).
    pub step_log2: i32,
    /// Fewest bits by which the step must exceed the kept step of a value (1, or
    /// [`Lattice::ALWAYS`]).
    pub min_gap: i32,
}

impl Lattice {
    /// `min_gap` of a lattice every value of which is exact.
    pub const ALWAYS: i32 = -1024;

    /// Whether the finite, non-zero stored value `q` (stored with `bits` kept bits) is on the
    /// lattice where the lattice is at least `min_gap` bits coarser than its kept step.
    #[inline]
    pub fn holds(&self, q: f32, bits: u32) -> bool {
        let u = q.to_bits() & 0x7FFF_FFFF;
        if u == 0 || u >= 0x7F80_0000 {
            return false;
        }
        let biased = (u >> 23) as i32;
        // Unbiased exponent of the value and of its lowest set bit (subnormals: E = 1).
        let (e, significand) = if biased == 0 {
            (-126, u & 0x007F_FFFF)
        } else {
            (biased - 127, (u & 0x007F_FFFF) | 0x0080_0000)
        };
        let lowest = e - 23 + significand.trailing_zeros() as i32;
        let gap = self.step_log2 - (e - bits as i32);
        lowest >= self.step_log2 && gap >= self.min_gap
    }

    /// The largest magnitude pattern that can be on the lattice with the gap (a cheap
    /// prefilter: values at or above it never are).
    pub(crate) fn magnitude_limit(&self, bits: u32) -> u32 {
        // gap >= min_gap  <=>  e <= step_log2 + bits − min_gap.
        let e_max = self.step_log2 + bits as i32 - self.min_gap;
        let biased = (e_max + 127 + 1).clamp(0, 255) as u32;
        biased << 23
    }
}

/// Which stored values are taken to be exact and left alone (see the module's table).
///
/// A continuous variable's stored value has a short mantissa with chance
/// `2^−(23 − max_explicit_bits − k)` for `k = 23 − n` dropped bits (0.4 % at `n = 10`, 3 % at
/// `n = 7`); it equals a sentinel, a spike or a lattice point with a chance as small; leaving
/// such a value alone costs only the gain its correction would have brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactPolicy {
    /// Explicit mantissa bits a short-mantissa exact value may use (default 2; above 23: only
    /// ±0 is exact).
    pub max_explicit_bits: u32,
    /// Whether [`SENTINELS`] are exact (default `true`).
    pub sentinels: bool,
    /// Stored values a branch's statistics flag as spikes (bit patterns, sorted).
    pub spikes: Vec<u32>,
    /// The branch's lattice, if it has one.
    pub lattice: Option<Lattice>,
    /// Kept bits the lattice's gap is judged at (a mixed branch's largest precision, where
    /// its lattice was found); `None`: each value's own.
    pub lattice_bits: Option<u32>,
    /// Under CMS's rule, the branch's apparent bits when it is corrected at more bits
    /// ([`ExactRule::TopCode`]).
    pub top_code_bits: Option<u32>,
}

impl Default for ExactPolicy {
    fn default() -> Self {
        ExactPolicy {
            max_explicit_bits: 2,
            sentinels: true,
            spikes: Vec::new(),
            lattice: None,
            lattice_bits: None,
            top_code_bits: None,
        }
    }
}

impl ExactPolicy {
    /// Only ±0 is exact (for branches known to be continuous).
    pub const ZEROS_ONLY: ExactPolicy = ExactPolicy {
        max_explicit_bits: u32::MAX,
        sentinels: false,
        spikes: Vec::new(),
        lattice: None,
        lattice_bits: None,
        top_code_bits: None,
    };

    /// This policy with the spikes `spikes` (any order, duplicates allowed) and `lattice`.
    pub fn with_branch(mut self, spikes: &[f32], lattice: Option<Lattice>) -> Self {
        self.spikes = spikes.iter().map(|x| x.to_bits()).collect();
        self.spikes.sort_unstable();
        self.spikes.dedup();
        self.lattice = lattice;
        self
    }

    /// Whether only ±0 is exact.
    pub fn zeros_only(&self) -> bool {
        self.max_explicit_bits > 23
            && !self.sentinels
            && self.spikes.is_empty()
            && self.lattice.is_none()
            && self.top_code_bits.is_none()
    }

    /// The mantissa pattern of [`ExactRule::TopCode`] values (an impossible one when there
    /// is none).
    #[inline]
    pub(crate) fn top_code_mantissa(&self) -> u32 {
        match self.top_code_bits {
            Some(m) if (1..23).contains(&m) => (0x007F_FFFF >> (23 - m)) << (23 - m),
            _ => u32::MAX,
        }
    }

    /// Why the stored value `q` (under `quantiser`) is exact, or `None` if it is corrected.
    /// Non-finite values are never exact (they are left alone for another reason).
    ///
    /// ```
    /// use refloat_core::correct::{ExactPolicy, ExactRule, Lattice};
    /// use refloat_core::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(8, RoundingMode::Cms)?;
    /// let p = ExactPolicy::default()
    ///     .with_branch(&[1022.0], Some(Lattice { step_log2: -1, min_gap: 1 }));
    /// assert_eq!(p.rule(-0.0, &q), Some(ExactRule::Zero));
    /// assert_eq!(p.rule(-1.0, &q), Some(ExactRule::ShortMantissa));
    /// assert_eq!(p.rule(-999.0, &q), Some(ExactRule::Sentinel));
    /// assert_eq!(p.rule(1022.0, &q), Some(ExactRule::Spike));
    /// assert_eq!(p.rule(30.5, &q), Some(ExactRule::Lattice)); // 0.5 GeV steps, kept step 1/8
    /// assert_eq!(p.rule(30.625, &q), None);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    #[inline]
    pub fn rule(&self, q: f32, quantiser: &Quantiser32) -> Option<ExactRule> {
        if !q.is_finite() {
            return None;
        }
        if q == 0.0 {
            // Under ROOT's Float16_t, −0.0 stands for the tiny negatives (−0.0 itself is
            // written as +0.0), so it is corrected like any other stored value.
            let corrected = q.is_sign_negative()
                && quantiser.mode() == crate::RoundingMode::RootFloat16
                && quantiser.dropped_bits() > 0;
            return (!corrected).then_some(ExactRule::Zero);
        }
        if self.max_explicit_bits <= 23 {
            let tz = crate::quantise::mantissa_trailing_zeros_f32(q);
            if tz >= 23 - self.max_explicit_bits && tz >= quantiser.dropped_bits() + 2 {
                return Some(ExactRule::ShortMantissa);
            }
        }
        self.extra_rule(q, quantiser)
    }

    /// [`Self::rule`] restricted to the sentinels, spikes and the lattice (finite, non-zero
    /// `q`).
    #[inline]
    pub(crate) fn extra_rule(&self, q: f32, quantiser: &Quantiser32) -> Option<ExactRule> {
        if self.sentinels && SENTINELS.iter().any(|s| s.to_bits() == q.to_bits()) {
            return Some(ExactRule::Sentinel);
        }
        if self.spikes.binary_search(&q.to_bits()).is_ok() {
            return Some(ExactRule::Spike);
        }
        if let Some(l) = self.lattice {
            if l.holds(q, self.lattice_bits.unwrap_or(quantiser.mantissa_bits())) {
                return Some(ExactRule::Lattice);
            }
        }
        (q.to_bits() & 0x007F_FFFF == self.top_code_mantissa()
            && quantiser.mode() == crate::RoundingMode::Cms)
            .then_some(ExactRule::TopCode)
    }

    /// Whether the stored value `q` is taken as exact under `quantiser`.
    #[inline]
    pub fn is_exact(&self, q: f32, quantiser: &Quantiser32) -> bool {
        self.rule(q, quantiser).is_some()
    }

    /// The patterns of the sentinels and spikes, for the slice loops' table.
    pub(crate) fn listed(&self) -> Vec<u32> {
        let mut v: Vec<u32> = if self.sentinels {
            SENTINELS.iter().map(|s| s.to_bits()).collect()
        } else {
            Vec::new()
        };
        v.extend(&self.spikes);
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The sentinels and spikes of a policy as a table the slice loops look values up in with
/// one gather: `slots[hash(u)] == u` exactly for the listed patterns, found by trying
/// multipliers until the patterns fall into distinct slots (a listed pattern that still
/// collides is marked [`ListedTable::COLLIDED`], and values hashing there are checked by the
/// reference). At least four slots per pattern (2048 at least: 8 KiB).
#[derive(Clone, Debug)]
pub(crate) struct ListedTable {
    pub(crate) multiplier: u32,
    shift: u32,
    slots: Vec<u32>,
}

impl ListedTable {
    /// An empty slot: a NaN pattern, which no finite value has.
    pub(crate) const EMPTY: u32 = 0x7FFF_FFFF;
    /// A slot two listed patterns share: values hashing there go to the reference.
    pub(crate) const COLLIDED: u32 = 0x7FFF_FFFE;

    /// The table of `listed` (bit patterns, distinct).
    pub(crate) fn new(listed: &[u32]) -> Self {
        let log2 = (4 * listed.len())
            .next_power_of_two()
            .trailing_zeros()
            .clamp(11, 20);
        let shift = 32 - log2;
        let mut slots = vec![Self::EMPTY; 1 << log2];
        let mut multiplier = 0x9E37_79B1u32;
        for attempt in 0..64u32 {
            multiplier = 0x9E37_79B1u32.wrapping_add(attempt.wrapping_mul(0x6A09_E667)) | 1;
            slots.fill(Self::EMPTY);
            let mut clean = true;
            for &u in listed {
                let s = &mut slots[(u.wrapping_mul(multiplier) >> shift) as usize];
                if *s == Self::EMPTY {
                    *s = u;
                } else {
                    *s = Self::COLLIDED;
                    clean = false;
                }
            }
            if clean {
                break;
            }
        }
        ListedTable {
            multiplier,
            shift,
            slots,
        }
    }

    /// The slot's content for pattern `u`.
    #[inline(always)]
    pub(crate) fn get(&self, u: u32) -> u32 {
        let i = (u.wrapping_mul(self.multiplier) >> self.shift) as usize;
        debug_assert!(i < self.slots.len());
        // SAFETY: `i` has `32 − shift` bits, and the table has `2^(32 − shift)` slots.
        unsafe { *self.slots.get_unchecked(i) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoundingMode;

    #[test]
    fn sentinels_are_exact_at_every_bit_count_that_stores_them() {
        for bits in 9..=23 {
            let q = Quantiser32::new(bits, RoundingMode::Cms).unwrap();
            assert_eq!(
                ExactPolicy::default().rule(-999.0, &q),
                Some(ExactRule::Sentinel)
            );
        }
        assert!(!ExactPolicy::ZEROS_ONLY
            .is_exact(-999.0, &Quantiser32::new(10, RoundingMode::Cms).unwrap()));
    }

    #[test]
    fn lattice_holds_only_where_it_is_coarser_than_the_kept_step() {
        let l = Lattice {
            step_log2: -1,
            min_gap: 1,
        };
        // 8 kept bits: in [16, 32) the kept step is 1/16, in [128, 256) it is 1/2.
        assert!(l.holds(30.5, 8) && l.holds(16.0, 8) && !l.holds(30.25, 8));
        assert!(!l.holds(200.5, 8), "gap 0: not informative under min_gap 1");
        assert!(Lattice {
            step_log2: -1,
            min_gap: 0
        }
        .holds(200.5, 8));
        let all = Lattice {
            step_log2: 0,
            min_gap: Lattice::ALWAYS,
        };
        assert!(all.holds(50.0, 10) && all.holds(1e6, 10) && !all.holds(50.5, 10));
        assert!(!l.holds(f32::NAN, 8) && !l.holds(0.0, 8));
        let limit = l.magnitude_limit(8);
        for x in [16.0f32, 30.5, 127.5, 128.0, 200.5, 1e6] {
            if l.holds(x, 8) {
                assert!(x.to_bits() < limit, "{x}");
            }
        }
    }

    #[test]
    fn the_listed_table_finds_exactly_the_listed_patterns() {
        let p = ExactPolicy::default().with_branch(&[0.99609375, 1022.0, 2044.0, 255.5], None);
        let listed = p.listed();
        let t = ListedTable::new(&listed);
        for &u in &listed {
            let got = t.get(u);
            assert!(got == u || got == ListedTable::COLLIDED);
        }
        let hits = (0..2_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761)) & 0x7F7F_FFFF)
            .filter(|u| t.get(*u) == *u && listed.binary_search(u).is_err())
            .count();
        assert_eq!(hits, 0);
    }
}
