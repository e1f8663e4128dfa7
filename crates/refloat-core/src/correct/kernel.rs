//! The slice loops behind [`Corrector::correct_in_place`]: one loop per (scheme, method),
//! written without branches so that the compiler vectorises it, with the exact-value policy
//! as a mask.
//!
//! Each block of [`BLOCK`] values is checked (every value a stored value of the scheme) and
//! copied to a buffer on the stack, then corrected from that copy while it is in L1: the
//! buffer is read once from memory and written once. A value whose interval the loop does
//! not compute (±0 under `RootFloat16`, and the top of the range, where the overflow guard
//! and the clamp to the largest finite value apply) is flagged and redone by the reference
//! [`Corrector::estimate`]. The estimate itself is the reference's own arithmetic on the same
//! interval, so every value comes out with the same bits as [`Corrector::estimate`]; the
//! exhaustive tests check this for every stored pattern at several bit counts.
//!
//! If a block holds a value that is not stored, the blocks already corrected are
//! re-quantised, which restores them bit for bit (the invariant), and the error names the
//! value: the caller's buffer is as it was.

use super::draw::{dither_in, pair_bits, word_uniform};
use super::exact::ExactCounts;
use super::exact::{ListedTable, SENTINELS};
use super::{CorrectionReport, Corrector, Method};
use crate::{Error, Quantiser32, Result, RoundingMode};

/// Most slots a dense table holds per sign: [`Lookup`]'s, and those
/// [`distinct_stored`](super::distinct_stored) counts in an array before it sorts instead.
pub(super) const DENSE_CODES: u64 = 1 << 24;

const SIGN: u32 = 0x8000_0000;
const INF: u32 = 0x7F80_0000;
const MAX_FINITE: u32 = INF - 1;

/// Values per block (16 KiB of `f32`: the block and its copy stay in L1).
pub(super) const BLOCK: usize = 4096;

/// A quantiser's constants, as the loops use them.
#[derive(Clone, Copy)]
struct Params<'a> {
    /// Half a step (`2^(k−1)`) and a step, as pattern increments.
    h: u32,
    step: u32,
    k: u32,
    /// The mask that clears the dropped bits, and `Nearest`'s overflow guard.
    mask: u32,
    vmax: u32,
    /// The largest code, `2^n − 1`, and CMS's largest code rounded up to, `2^n − 2`.
    code_mask: u32,
    cms_maxn: u32,
    /// Magnitudes below `lim` have the interval the loop computes.
    lim: u32,
    /// Exact values: a non-zero value is exact iff `exact_any` and `u & exact_low == 0`.
    exact_low: u32,
    exact_any: bool,
    /// The policy's sentinels and spikes: `listed.get(u) == u` iff `u` is one of them.
    listed: &'a ListedTable,
    /// Magnitude patterns below this may be on the policy's lattice (0: no lattice).
    lattice_limit: u32,
    /// The mantissa of the policy's ambiguous CMS top codes (an impossible one: none).
    top_code: u32,
}

impl<'a> Params<'a> {
    fn new(c: &'a Corrector) -> Self {
        let q = &c.quantiser;
        let (h, k) = (q.rounding(), q.dropped_bits());
        let step = h << 1;
        let top = MAX_FINITE & q.mask();
        // Round-to-nearest: the guard truncates from vmax on; below it, the interval of a
        // magnitude q is [q − h, q + h − 1] while q + step <= vmax.
        let lim = match q.mode() {
            RoundingMode::Nearest => q.vmax().wrapping_sub(step).wrapping_add(1).min(top),
            _ => top,
        };
        let max_bits = c.policy.max_explicit_bits;
        let thr = (23u32.saturating_sub(max_bits)).max(k + 2);
        let exact_any = max_bits <= 23 && thr <= 23;
        Params {
            h,
            step,
            k,
            mask: q.mask(),
            vmax: q.vmax(),
            code_mask: q.code_mask(),
            cms_maxn: (1u32 << q.mantissa_bits()).saturating_sub(2),
            lim,
            exact_low: if exact_any { (1u32 << thr) - 1 } else { 0 },
            exact_any,
            listed: &c.listed,
            lattice_limit: c.policy.lattice.map_or(0, |l| {
                l.magnitude_limit(c.policy.lattice_bits.unwrap_or(q.mantissa_bits()))
            }),
            top_code: c.policy.top_code_mantissa(),
        }
    }
}

/// A producer's scheme: its rule (for the stored check) and its intervals.
trait Scheme: Copy {
    /// −0.0 is a stored value with a real interval (`RootFloat16`, whose loops always drop
    /// bits: nothing dropped never reaches them).
    const NEGZERO: bool = false;
    fn quantise(q: &Quantiser32, p: &Params, u: u32) -> u32;
    /// Whether `u` is a stored value (a fixed point of the rule, or −0.0 under
    /// `RootFloat16`).
    #[inline(always)]
    fn stored(q: &Quantiser32, p: &Params, u: u32) -> bool {
        Self::quantise(q, p, u) == u || (Self::NEGZERO && u == SIGN)
    }
    /// [`Self::stored`] for a finite `u`: under every scheme a finite value is stored iff its
    /// dropped bits are zero (`RootFloat16`'s −0.0 among them). Cheap, so that the loops
    /// check finite values with it and leave the rule itself to the rare non-finite ones.
    #[inline(always)]
    fn stored_finite(p: &Params, u: u32) -> bool {
        u & !p.mask == 0
    }
    /// `[lo, hi]` magnitude patterns of the stored magnitude `mag`, for `0 < mag < lim`
    /// (any bits elsewhere: the loop discards them).
    fn range(p: &Params, mag: u32) -> (u32, u32);
}

#[derive(Clone, Copy)]
struct Nearest;
#[derive(Clone, Copy)]
struct Truncate;
#[derive(Clone, Copy)]
struct NearestEven;
#[derive(Clone, Copy)]
struct BitRound;
#[derive(Clone, Copy)]
struct Cms;
#[derive(Clone, Copy)]
struct RootFloat16;

impl Scheme for Nearest {
    /// A fixed point: ±Inf, NaN, or dropped bits all zero (rounding them cannot carry).
    #[inline(always)]
    fn stored(_: &Quantiser32, p: &Params, u: u32) -> bool {
        u & !SIGN >= INF || u & !p.mask == 0
    }
    #[inline(always)]
    fn quantise(_: &Quantiser32, p: &Params, u: u32) -> u32 {
        // `Quantiser32::nearest_bits`, written out: the compiler vectorises the loop with it.
        let mag = u & !SIGN;
        let up = if mag < p.vmax { u.wrapping_add(p.h) } else { u };
        if mag >= INF {
            u
        } else {
            up & p.mask
        }
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        (mag.wrapping_sub(p.h), mag.wrapping_add(p.h - 1))
    }
}

impl Scheme for Truncate {
    /// A fixed point: ±Inf, NaN, or dropped bits all zero (rounding them cannot carry).
    #[inline(always)]
    fn stored(_: &Quantiser32, p: &Params, u: u32) -> bool {
        u & !SIGN >= INF || u & !p.mask == 0
    }
    #[inline(always)]
    fn quantise(q: &Quantiser32, _: &Params, u: u32) -> u32 {
        q.truncate_bits(u)
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        (mag, mag.wrapping_add(p.step - 1))
    }
}

impl Scheme for NearestEven {
    /// A fixed point: ±Inf, NaN, or dropped bits all zero (rounding them cannot carry).
    #[inline(always)]
    fn stored(_: &Quantiser32, p: &Params, u: u32) -> bool {
        u & !SIGN >= INF || u & !p.mask == 0
    }
    #[inline(always)]
    fn quantise(q: &Quantiser32, _: &Params, u: u32) -> u32 {
        q.nearest_even_bits(u)
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        // Even codes own both ties, odd codes neither.
        let odd = (mag >> p.k) & 1;
        (
            mag.wrapping_sub(p.h).wrapping_add(odd),
            mag.wrapping_add(p.h).wrapping_sub(odd),
        )
    }
}

impl Scheme for BitRound {
    #[inline(always)]
    fn quantise(q: &Quantiser32, _: &Params, u: u32) -> u32 {
        u.wrapping_add(q.rounding()) & q.mask()
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        (mag.wrapping_sub(p.h), mag.wrapping_add(p.h - 1))
    }
}

impl Scheme for Cms {
    #[inline(always)]
    fn quantise(q: &Quantiser32, _: &Params, u: u32) -> u32 {
        q.cms_bits(u)
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        // No carry: code 0 owns no lower half-step, and the top codes are never rounded up
        // to (the code below them owns its whole upper step). As masked adds, so that the
        // loop spends one vector operation on each.
        let m = (mag >> p.k) & p.code_mask;
        let down = if m.wrapping_sub(1) < p.cms_maxn {
            p.h
        } else {
            0
        };
        let up = if m >= p.cms_maxn { p.h } else { 0 };
        (
            mag.wrapping_sub(down),
            mag.wrapping_add(p.h - 1).wrapping_add(up),
        )
    }
}

impl Scheme for RootFloat16 {
    const NEGZERO: bool = true;
    #[inline(always)]
    fn quantise(q: &Quantiser32, _: &Params, u: u32) -> u32 {
        q.float16_bits(u)
    }
    #[inline(always)]
    fn range(p: &Params, mag: u32) -> (u32, u32) {
        // Code 0 owns no lower half-step; the top code saturates (owns its whole step).
        let m = (mag >> p.k) & p.code_mask;
        let down = if m != 0 { p.h } else { 0 };
        let up = if m == p.code_mask { p.h } else { 0 };
        (
            mag.wrapping_sub(down),
            mag.wrapping_add(p.h - 1).wrapping_add(up),
        )
    }
}

/// A method's estimate for the stored value `u` of sign `sign` and magnitude interval
/// `[lo, hi]`, as a bit pattern inside the interval.
trait Estimate: Copy {
    /// Whether the estimate needs `[lo, hi]` inside one binade (or the subnormals and the
    /// first binade), where values are linear in their patterns.
    const LINEAR: bool;
    /// Whether the estimate draws on the stream of [`Self::seed`] (one random word a value).
    const RANDOM: bool = false;
    fn seed(&self) -> u64 {
        0
    }
    /// `word`: the value's random word (see [`super::draw::index_bits`]) when [`Self::RANDOM`].
    fn estimate(&self, u: u32, sign: u32, lo: u32, hi: u32, word: u32) -> u32;
    /// Whether [`Self::estimate`] knows the stored value `u`.
    #[inline(always)]
    fn knows(&self, _u: u32) -> bool {
        true
    }
}

#[derive(Clone, Copy)]
struct Midpoint;
#[derive(Clone, Copy)]
struct Dither(u64);
#[derive(Clone, Copy)]
struct PriorMean<'a>(&'a Lookup);

/// The interval `[lo, hi]` of a value of sign `sign`, from its magnitude patterns, as `f32`s.
#[inline(always)]
fn signed(sign: u32, lo: u32, hi: u32) -> (f32, f32) {
    let (lo, hi) = if sign == 0 {
        (lo, hi)
    } else {
        (sign | hi, sign | lo)
    };
    (f32::from_bits(lo), f32::from_bits(hi))
}

impl Estimate for Midpoint {
    const LINEAR: bool = true;
    /// Where values are linear in patterns, the reference's `f64` centre rounded to `f32` is
    /// the middle pattern, ties to the even one.
    #[inline(always)]
    fn estimate(&self, _: u32, sign: u32, lo: u32, hi: u32, _: u32) -> u32 {
        let s = lo.wrapping_add(hi);
        let r = s >> 1;
        sign | (r + (s & r & 1))
    }
}

impl Estimate for Dither {
    const LINEAR: bool = false;
    const RANDOM: bool = true;
    fn seed(&self) -> u64 {
        self.0
    }
    #[inline(always)]
    fn estimate(&self, _: u32, sign: u32, lo: u32, hi: u32, word: u32) -> u32 {
        let (lo, hi) = signed(sign, lo, hi);
        dither_in(lo, hi, word_uniform(word)).to_bits()
    }
}

impl Estimate for PriorMean<'_> {
    const LINEAR: bool = false;
    #[inline(always)]
    fn estimate(&self, u: u32, _: u32, _: u32, _: u32, _: u32) -> u32 {
        self.0.get(u)
    }
    #[inline(always)]
    fn knows(&self, u: u32) -> bool {
        self.0.get(u) != Lookup::UNKNOWN
    }
}

/// Prior-mean's estimates, by stored value: one slot per kept code between the smallest and
/// the largest code of each sign that the prior was estimated from.
#[derive(Clone, Debug)]
pub(super) struct Lookup {
    k: u32,
    /// Per sign: the first code, the number of codes, and where its slots start in `table`.
    first: [u32; 2],
    len: [u32; 2],
    start: [u32; 2],
    /// Estimates (bit patterns): the positive codes, one [`Self::UNKNOWN`] slot, the negative
    /// codes, one more [`Self::UNKNOWN`]. Codes the prior did not see hold `UNKNOWN` too.
    table: Vec<u32>,
}

impl Lookup {
    /// A slot without an estimate (a NaN pattern, which no estimate is).
    const UNKNOWN: u32 = u32::MAX;

    /// The estimates of `c` (a prior-mean corrector) for the stored values `stored`; `None`
    /// when their codes span more than [`DENSE_CODES`] slots per sign.
    pub(super) fn new(c: &Corrector, stored: &[u32]) -> Option<Self> {
        let k = c.quantiser.dropped_bits();
        let code = |u: u32| (u & !SIGN) >> k;
        let mut first = [u32::MAX; 2];
        let mut last = [0u32; 2];
        for &u in stored {
            let s = (u >> 31) as usize;
            first[s] = first[s].min(code(u));
            last[s] = last[s].max(code(u));
        }
        let len = [0, 1].map(|s| {
            if first[s] <= last[s] {
                last[s] - first[s] + 1
            } else {
                0
            }
        });
        if len[0].max(len[1]) as u64 > DENSE_CODES {
            return None;
        }
        let start = [0, len[0] + 1];
        let mut table = vec![Self::UNKNOWN; (len[0] + len[1] + 2) as usize];
        for &u in stored {
            let s = (u >> 31) as usize;
            table[(start[s] + code(u) - first[s]) as usize] =
                c.estimate_stored(f32::from_bits(u), 0).to_bits();
        }
        Some(Lookup {
            k,
            first,
            len,
            start,
            table,
        })
    }

    /// The estimate of the stored value `u`, or [`Self::UNKNOWN`] (any pattern).
    #[inline(always)]
    fn get(&self, u: u32) -> u32 {
        // Selects, not indexing by the sign: the loop then needs one gather, not four.
        let neg = u & SIGN != 0;
        let pick = |a: [u32; 2]| if neg { a[1] } else { a[0] };
        let i = ((u & !SIGN) >> self.k)
            .wrapping_sub(pick(self.first))
            .min(pick(self.len));
        let slot = (pick(self.start) + i) as usize;
        debug_assert!(slot < self.table.len());
        // SAFETY: `i <= len[s]`, and sign `s`'s slots are `start[s] ..= start[s] + len[s]`,
        // inside `table` by construction in `new`. (Unchecked so that the loop vectorises,
        // with gathers.)
        unsafe { *self.table.get_unchecked(slot) }
    }
}

/// Whether the loop's interval and estimate hold for the stored value `u`.
#[inline(always)]
fn fast<S: Scheme, E: Estimate>(p: &Params, e: &E, u: u32) -> bool {
    let mag = u & !SIGN;
    let (lo, hi) = S::range(p, mag);
    mag != 0 && mag < p.lim && (!E::LINEAR || lo >> 23 == hi >> 23 || hi >> 23 <= 1) && e.knows(u)
}

/// Whether the stored value with pattern `u` is left alone as exact by the rules the loop
/// applies itself: ±0 and short mantissas (finite values only).
#[inline(always)]
fn exact<S: Scheme>(p: &Params, u: u32) -> bool {
    if u & !SIGN == 0 {
        !(S::NEGZERO && u != 0)
    } else {
        p.exact_any && u & p.exact_low == 0
    }
}

/// Whether `u` is one of the policy's sentinels or spikes.
#[inline(always)]
fn listed(p: &Params, u: u32) -> bool {
    p.listed.get(u) == u
}

/// Whether `u` may be exact by a rule the loop leaves to the reference: on the lattice, an
/// ambiguous top code, or hashing to a slot two listed patterns share.
#[inline(always)]
fn maybe_exact(p: &Params, u: u32) -> bool {
    u & !SIGN < p.lattice_limit
        || p.listed.get(u) == ListedTable::COLLIDED
        || u & 0x007F_FFFF == p.top_code
}

/// A value's mark in [`correct_block`]: finite and one of the policy's sentinels or spikes.
const LISTED: u8 = 1;
/// A value's mark in [`correct_block`]: corrected, but not by the loop (its interval or
/// estimate is not the loop's, or it may be exact by a rule the loop leaves to the reference).
const SLOW: u8 = 2;

/// Counts of one block, whether any value needs the reference, whether any is not stored.
#[derive(Default)]
struct Tally {
    corrected: u32,
    exact: u32,
    /// Of `exact`, the values that are sentinels or spikes.
    listed: u32,
    slow: bool,
    bad: bool,
    /// A NaN or ±Inf was seen: whether it is stored is left to the rule, after the loop.
    non_finite: bool,
}

/// Correct `src` into `dst` (same length) and check that every value of `src` is stored;
/// `words` holds each value's random word when the estimate is [`Estimate::RANDOM`] (and is
/// not read otherwise), and each value's [`LISTED`] and [`SLOW`] marks into `marks`. Values
/// marked slow get garbage in `dst`.
#[inline(always)]
fn correct_block<S: Scheme, E: Estimate>(
    p: &Params,
    e: E,
    src: &[f32],
    dst: &mut [f32],
    words: &[u32],
    marks: &mut [u8],
) -> Tally {
    let mut t = Tally::default();
    let (n, dst, marks) = (src.len(), &mut dst[..src.len()], &mut marks[..src.len()]);
    let words = if E::RANDOM { &words[..n] } else { &[] };
    for i in 0..n {
        let u = src[i].to_bits();
        let word = if E::RANDOM { u32::from_le(words[i]) } else { 0 };
        let mag = u & !SIGN;
        let sign = u & SIGN;
        let finite = mag < INF;
        let short = exact::<S>(p, u);
        let listed = listed(p, u) & !short;
        let exact = short | listed;
        let (lo, hi) = S::range(p, mag);
        let estimate = e.estimate(u, sign, lo, hi, word);
        let change = finite & !exact;
        let slow = change & (!fast::<S, E>(p, &e, u) | maybe_exact(p, u));
        t.slow |= slow;
        t.listed += (finite & listed) as u32;
        marks[i] = (u8::from(finite & listed) * LISTED) | (u8::from(slow) * SLOW);
        t.bad |= finite & !S::stored_finite(p, u);
        t.non_finite |= !finite;
        dst[i] = f32::from_bits(if change { estimate } else { u });
        t.corrected += change as u32;
        t.exact += (finite & exact) as u32;
    }
    t
}

/// The random words of the values `first .. first + len` of the stream `seed`
/// ([`super::draw::index_bits`]), one [`pair_bits`] per two values: filled into `pairs` (stored
/// little-endian, so that its `u32` halves are the words in index order), and returned.
#[inline(always)]
fn random_words(pairs: &mut [u64; BLOCK / 2 + 1], seed: u64, first: u64, len: usize) -> &[u32] {
    if len == 0 {
        return &[];
    }
    let p0 = first >> 1;
    let n = (((first + len as u64 - 1) >> 1) - p0 + 1) as usize;
    for (j, w) in pairs[..n].iter_mut().enumerate() {
        *w = pair_bits(seed, p0 + j as u64).to_le();
    }
    // SAFETY: `n <= BLOCK / 2 + 1` words of `u64` are `2n` initialised, aligned `u32`s.
    let words = unsafe { std::slice::from_raw_parts(pairs.as_ptr().cast::<u32>(), 2 * n) };
    &words[(first & 1) as usize..][..len]
}

/// The whole slice, block by block; `Err` leaves `data` as it was.
#[inline(always)]
fn correct_slice<S: Scheme, E: Estimate>(
    c: &Corrector,
    e: E,
    data: &mut [f32],
    offset: u64,
) -> Result<CorrectionReport> {
    let p = Params::new(c);
    let mut out = [0f32; BLOCK];
    let mut marks_buf = [0u8; BLOCK];
    let mut pairs = [0u64; BLOCK / 2 + 1];
    let mut report = CorrectionReport::default();
    let len = data.len();
    for start in (0..len).step_by(BLOCK) {
        let block = &mut data[start..(start + BLOCK).min(len)];
        let out = &mut out[..block.len()];
        let first = offset + start as u64;
        let words = if E::RANDOM {
            random_words(&mut pairs, e.seed(), first, block.len())
        } else {
            &[]
        };
        let mut t = correct_block::<S, E>(&p, e, block, out, words, &mut marks_buf);
        let marks = &marks_buf[..block.len()];
        if t.non_finite {
            // NaN payloads are rounded by some schemes: the rule says which are stored.
            t.bad |= block.iter().any(|x| {
                let u = x.to_bits();
                u & !SIGN >= INF && !S::stored(&c.quantiser, &p, u)
            });
        }
        if t.bad {
            let err = not_stored(c, block, first);
            c.quantiser.quantise_slice(&mut data[..start]);
            return Err(err);
        }
        let mut counts = ExactCounts::default();
        if t.slow {
            redo_slow(c, &p, block, out, marks, first, &mut t, &mut counts);
        }
        if t.listed > 0 {
            count_listed(c, block, marks, &mut counts);
        }
        block.copy_from_slice(out);
        let (corrected, left_exact) = (t.corrected as usize, t.exact as usize);
        counts.short_mantissa = left_exact - counts.sentinel - counts.spike - counts.lattice;
        report = report
            + CorrectionReport {
                corrected,
                left_exact,
                non_finite: block.len() - corrected - left_exact,
                exact: counts,
            };
    }
    Ok(report)
}

/// The values of a block marked [`SLOW`], redone by the per-value reference: a few per block
/// at most (all the lattice's low binades, in a branch that has one), found by their marks
/// 32 at a time. Not generic: one copy serves every loop.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn redo_slow(
    c: &Corrector,
    p: &Params,
    block: &[f32],
    out: &mut [f32],
    marks: &[u8],
    first: u64,
    t: &mut Tally,
    counts: &mut ExactCounts,
) {
    for (j, ((o, b), m)) in out
        .chunks_mut(32)
        .zip(block.chunks(32))
        .zip(marks.chunks(32))
        .enumerate()
    {
        if !m.iter().fold(false, |a, &k| a | (k & SLOW != 0)) {
            continue;
        }
        for (i, ((d, &x), &k)) in o.iter_mut().zip(b).zip(m).enumerate() {
            if k & SLOW == 0 {
                continue;
            }
            if maybe_exact(p, x.to_bits()) {
                if let Some(rule) = c.policy.extra_rule(x, &c.quantiser) {
                    *d = x;
                    t.corrected -= 1;
                    t.exact += 1;
                    counts.add(rule);
                    continue;
                }
            }
            *d = c.estimate(x, first + (32 * j + i) as u64);
        }
    }
}

/// Which of a block's values marked [`LISTED`] are sentinels and which spikes.
#[inline(never)]
fn count_listed(c: &Corrector, block: &[f32], marks: &[u8], counts: &mut ExactCounts) {
    for (b, m) in block.chunks(32).zip(marks.chunks(32)) {
        if !m.iter().fold(false, |a, &k| a | (k & LISTED != 0)) {
            continue;
        }
        for (x, &k) in b.iter().zip(m) {
            if k & LISTED == 0 {
                continue;
            }
            if c.policy.sentinels && SENTINELS.iter().any(|s| s.to_bits() == x.to_bits()) {
                counts.sentinel += 1;
            } else {
                counts.spike += 1;
            }
        }
    }
}

/// The error naming the first value of `block` that is not stored.
fn not_stored(c: &Corrector, block: &[f32], first: u64) -> Error {
    let i = block
        .iter()
        .position(|&x| !c.quantiser.is_stored(x))
        .expect("a block that failed its check holds a value that is not stored");
    c.quantiser
        .interval_at(block[i], first as usize + i)
        .expect_err("not stored")
}

macro_rules! dispatch {
    ($c:expr, $e:expr, $data:expr, $offset:expr) => {
        match $c.quantiser.mode() {
            RoundingMode::Nearest => correct_slice::<Nearest, _>($c, $e, $data, $offset),
            RoundingMode::Truncate => correct_slice::<Truncate, _>($c, $e, $data, $offset),
            RoundingMode::NearestEven => correct_slice::<NearestEven, _>($c, $e, $data, $offset),
            RoundingMode::BitRound => correct_slice::<BitRound, _>($c, $e, $data, $offset),
            RoundingMode::Cms => correct_slice::<Cms, _>($c, $e, $data, $offset),
            RoundingMode::RootFloat16 => correct_slice::<RootFloat16, _>($c, $e, $data, $offset),
        }
    };
}

/// The loop for `c`'s scheme and method.
macro_rules! by_method {
    ($c:expr, $data:expr, $offset:expr) => {
        match (&$c.method, &$c.lookup) {
            (Method::Midpoint, _) => dispatch!($c, Midpoint, $data, $offset),
            (Method::Dither { seed }, _) => dispatch!($c, Dither(*seed), $data, $offset),
            (Method::PriorMean, Some(lookup)) => dispatch!($c, PriorMean(lookup), $data, $offset),
            (Method::PriorMean, None) => $c.correct_reference($data, $offset),
        }
    };
}

/// [`by_method!`] for the vector builds, which prior-mean never reaches (it runs the baseline
/// build, see [`correct_in_place`]): its loops are not compiled there.
macro_rules! by_vector_method {
    ($c:expr, $data:expr, $offset:expr) => {
        match &$c.method {
            Method::Midpoint => dispatch!($c, Midpoint, $data, $offset),
            Method::Dither { seed } => dispatch!($c, Dither(*seed), $data, $offset),
            Method::PriorMean => portable($c, $data, $offset),
        }
    };
}

/// The loop compiled for the baseline instruction set.
fn portable(c: &Corrector, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
    by_method!(c, data, offset)
}

/// [`portable`] compiled with AVX2 (the same arithmetic, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(c: &Corrector, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
    by_vector_method!(c, data, offset)
}

/// [`portable`] compiled with AVX-512 (64-bit multiplies and conversions in vectors).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw")]
unsafe fn avx512(c: &Corrector, data: &mut [f32], offset: u64) -> Result<CorrectionReport> {
    by_vector_method!(c, data, offset)
}

/// Correct `data` in place (see [`Corrector::correct_in_place`]).
pub(super) fn correct_in_place(
    c: &Corrector,
    data: &mut [f32],
    offset: u64,
) -> Result<CorrectionReport> {
    if c.quantiser.rounding() == 0 {
        // Nothing dropped: every interval is a point and every estimate the value itself.
        return c.correct_reference(data, offset);
    }
    if c.method == Method::PriorMean {
        // The estimate is a table lookup: the vector gathers of AVX2 and AVX-512 are slower
        // on some processors (AMD Zen 4) than the baseline build's loads.
        return portable(c, data, offset);
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512bw")
    {
        // SAFETY: the CPU has these features, checked just above.
        return unsafe { avx512(c, data, offset) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { avx2(c, data, offset) };
    }
    portable(c, data, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correct::ExactPolicy;

    #[test]
    fn random_words_are_the_streams_words() {
        let mut pairs = [0u64; BLOCK / 2 + 1];
        for first in [0u64, 1, 2, 7, 1 << 40, (1 << 40) + 1] {
            for len in [0, 1, 2, 3, BLOCK - 1, BLOCK] {
                let words: Vec<u32> = random_words(&mut pairs, 5, first, len)
                    .iter()
                    .map(|&w| u32::from_le(w))
                    .collect();
                let stream: Vec<u32> = (first..first + len as u64)
                    .map(|i| crate::correct::index_bits(5, i))
                    .collect();
                assert_eq!(words, stream, "first {first} len {len}");
            }
        }
    }

    /// Stored values of a smooth branch with zeros and ±1 among them, over several blocks.
    fn stored(q: &Quantiser32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| match i % 50 {
                0 => 0.0,
                1 => -1.0,
                2 => q.quantise(f32::NAN),
                _ => q.quantise(((i as f32) * 0.37).sin() * 300.0 + 2.0),
            })
            .collect()
    }

    /// A value that is not stored, anywhere in the slice (first block, last block, past a
    /// parallel chunk), gives the error naming it and leaves the whole slice as it was, in
    /// the serial and the parallel loop, for every scheme and method.
    #[test]
    fn not_stored_leaves_the_slice_untouched() {
        for mode in RoundingMode::ALL {
            let q = Quantiser32::new(8, mode).unwrap();
            for len in [100, 3 * BLOCK + 17, crate::quantise::PAR_CHUNK * 2 + 5] {
                let data = stored(&q, len);
                for method in [
                    Method::Midpoint,
                    Method::Dither { seed: 1 },
                    Method::PriorMean,
                ] {
                    let c = Corrector::new(q, method, ExactPolicy::default(), &data);
                    for at in [3, len / 2 + 1, len - 1] {
                        let mut v = data.clone();
                        v[at] = f32::from_bits(v[at].to_bits() | 1);
                        let before = v.clone();
                        for par in [false, true] {
                            let e = if par {
                                c.par_correct_in_place(&mut v, 10)
                            } else {
                                c.correct_in_place(&mut v, 10)
                            }
                            .unwrap_err();
                            assert!(
                                matches!(e, Error::NotQuantised { index, .. } if index == at + 10),
                                "{mode} {method} len {len} at {at}: {e}"
                            );
                            assert!(
                                v.iter()
                                    .zip(&before)
                                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                                "{mode} {method} len {len} at {at} par {par}: slice changed"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The loop, the parallel loop and the reference agree on bits and counts.
    #[test]
    fn loops_agree_with_the_reference() {
        for mode in RoundingMode::ALL {
            for n in [0, 5, 10, 22, 23] {
                let q = Quantiser32::new(n, mode).unwrap();
                let data = stored(&q, crate::quantise::PAR_CHUNK + 3 * BLOCK + 1);
                for method in [
                    Method::Midpoint,
                    Method::Dither { seed: 9 },
                    Method::PriorMean,
                ] {
                    let c = Corrector::new(q, method, ExactPolicy::default(), &data);
                    let (mut a, mut b, mut r) = (data.clone(), data.clone(), data.clone());
                    let ra = c.correct_in_place(&mut a, 7).unwrap();
                    let rb = c.par_correct_in_place(&mut b, 7).unwrap();
                    let rr = c.correct_reference(&mut r, 7).unwrap();
                    assert_eq!((ra, rb), (rr, rr), "{mode} n {n} {method}");
                    for (i, ((a, b), r)) in a.iter().zip(&b).zip(&r).enumerate() {
                        assert!(
                            a.to_bits() == r.to_bits() && b.to_bits() == r.to_bits(),
                            "{mode} n {n} {method} at {i}: {a} {b} {r}"
                        );
                    }
                    assert!(
                        rr.corrected > 0
                            && rr.left_exact > 0
                            && (rr.non_finite > 0 || q.quantise(f32::NAN).is_finite()),
                        "{mode} n {n} {method}: {rr:?}"
                    );
                }
            }
        }
    }

    /// The three builds of the loop (baseline, AVX2, AVX-512) give the same bits, on the
    /// processors that have them.
    #[test]
    fn instruction_sets_agree() {
        for mode in RoundingMode::ALL {
            let q = Quantiser32::new(9, mode).unwrap();
            let data = stored(&q, 3 * BLOCK + 5);
            for method in [
                Method::Midpoint,
                Method::Dither { seed: 4 },
                Method::PriorMean,
            ] {
                let c = Corrector::new(q, method, ExactPolicy::default(), &data);
                let mut want = data.clone();
                let r = portable(&c, &mut want, 3).unwrap();
                #[cfg(target_arch = "x86_64")]
                {
                    type Build = fn(&Corrector, &mut [f32], u64) -> Result<CorrectionReport>;
                    let mut builds: Vec<Build> = vec![];
                    if std::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        builds.push(|c, d, o| unsafe { avx2(c, d, o) });
                    }
                    if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512dq")
                        && std::is_x86_feature_detected!("avx512vl")
                        && std::is_x86_feature_detected!("avx512bw")
                    {
                        // SAFETY: the CPU has these features.
                        builds.push(|c, d, o| unsafe { avx512(c, d, o) });
                    }
                    for build in builds {
                        let mut v = data.clone();
                        assert_eq!(build(&c, &mut v, 3).unwrap(), r);
                        assert!(v.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
                    }
                }
            }
        }
    }
}
