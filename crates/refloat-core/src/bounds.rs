//! The exact set of originals behind each stored value, and the theoretical residual bounds.
//!
//! For a stored value `q` (a fixed point of a [`Quantiser32`] / [`Quantiser64`]) the
//! originals that quantise to `q` are a contiguous run of bit patterns of one sign,
//! returned as an [`Interval`] whose ends are both **included** (they are originals).
//! In real numbers, with `h` half a kept step:
//!
//! * `Nearest` (ATLAS): `[q − h, q + h)` in magnitude: the lower tie rounds away from zero
//!   to `q` and belongs to it, the upper tie does not. Just above a power of two the lower
//!   half-width is `h/2` (the binade below is twice as fine).
//! * `Truncate`: `[q, q + 2h)` in magnitude.
//! * `NearestEven`: both ties belong to `q` when its last kept bit is even, neither when odd.
//! * `BitRound`: as `Nearest`, but above the top stored value's upper tie lies ±Inf.
//! * `Cms` (no carry), in kept steps of the code `m` within its binade: code 0 → `[0, ½)`,
//!   `1 … 2^n−3` → `[m−½, m+½)`, `2^n−2` → `[m−½, m+1)`, `2^n−1` → `[m, m+1)`.
//! * `RootFloat16` (saturating): code 0 → `[0, ½)`, `2^n−1` → `[m−½, m+1)`, others
//!   `[m−½, m+½)`; +0.0 also stands for −0.0, and −0.0 for the tiny negatives only.
//! * At the top of the range the overflow guard adds every larger finite magnitude to the
//!   largest stored value; NaN and ±Inf map only to themselves.
//!
//! A correction is safe exactly when it stays inside the interval: `quantise(corrected)
//! == stored` bit for bit.

use crate::error::{Error, Result};
use crate::quantise::{Quantiser32, Quantiser64, RoundingMode};

/// A closed interval of floats: both ends are included; `lo <= hi` numerically
/// (for negative stored values `lo` is the original of largest magnitude).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval<T> {
    /// Smallest original (numerically).
    pub lo: T,
    /// Largest original (numerically).
    pub hi: T,
}

/// `2^p` as an `f64`, exact for every representable power `-1074..=1023` (subnormals
/// included). `2f64.powi(p)` is not: for `p` well below −1023 it returns 0 (its intermediate
/// `2^|p|` overflows), which made the `f64` residual bound 0 for tiny values.
#[inline]
fn exact_pow2(p: i32) -> f64 {
    debug_assert!((-1074..=1023).contains(&p), "2^{p} is not a finite f64");
    if p >= -1022 {
        f64::from_bits(((p + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (p + 1074))
    }
}

macro_rules! interval_impl {
    ($quantiser:ident, $float:ty, $bits:ty, $interval_fn:ident, $intervals_fn:ident,
     $max_residual_fn:ident, $min_exp:expr, $explicit:expr) => {
        impl Interval<$float> {
            /// Whether `x` lies in the interval (ends included). NaN is never inside.
            #[inline]
            pub fn contains(&self, x: $float) -> bool {
                self.lo <= x && x <= self.hi
            }

            /// `hi − lo`, computed in `f64`.
            #[inline]
            pub fn width(&self) -> f64 {
                self.hi as f64 - self.lo as f64
            }

            /// The centre `(lo + hi) / 2`, computed in `f64`.
            #[inline]
            pub fn centre(&self) -> f64 {
                0.5 * (self.lo as f64 + self.hi as f64)
            }

            /// `x` clamped into the interval.
            #[inline]
            pub fn clamp(&self, x: $float) -> $float {
                x.max(self.lo).min(self.hi)
            }
        }

        impl $quantiser {
            /// The largest kept code, `2^n − 1`.
            #[inline]
            pub(crate) fn code_mask(&self) -> $bits {
                ((1 as $bits) << self.mantissa_bits()) - 1
            }

            /// Magnitude patterns `[lo, hi]` that quantise to the magnitude pattern `q`, which
            /// must be a finite stored magnitude.
            #[inline]
            fn magnitude_range(&self, q: $bits) -> ($bits, $bits) {
                let h = self.rounding();
                if h == 0 {
                    return (q, q);
                }
                let step = h << 1;
                let top = Self::MAX_FINITE & self.mask();
                let (lo, hi) = match self.mode() {
                    RoundingMode::Truncate => (q, q + (step - 1)),
                    RoundingMode::Nearest => {
                        // Rounded branch: magnitudes below vmax; truncated branch: at or above.
                        let vmax = self.vmax();
                        let a_lo = q.saturating_sub(h);
                        let a_hi = (q + (h - 1)).min(vmax.wrapping_sub(1));
                        let b_lo = q.max(vmax);
                        let b_hi = q + (step - 1);
                        let a = (a_lo < vmax && a_lo <= a_hi).then_some((a_lo, a_hi));
                        let b = (b_lo <= b_hi && b_lo <= Self::MAX_FINITE).then_some((b_lo, b_hi));
                        match (a, b) {
                            (Some(a), Some(b)) => (a.0.min(b.0), a.1.max(b.1)),
                            (Some(a), None) => a,
                            (None, Some(b)) => b,
                            (None, None) => (q, q),
                        }
                    }
                    RoundingMode::NearestEven => {
                        if (q >> self.dropped_bits()) & 1 == 0 {
                            (q.saturating_sub(h), q + h)
                        } else {
                            (q - h + 1, q + (h - 1))
                        }
                    }
                    // No guard: above the top stored value's upper tie lies ±Inf.
                    RoundingMode::BitRound => return (q.saturating_sub(h), q + (h - 1)),
                    // No carry: every interval stays inside its binade.
                    RoundingMode::Cms => {
                        let m = (q >> self.dropped_bits()) & self.code_mask();
                        let maxn = ((1 as $bits) << self.mantissa_bits()).saturating_sub(2);
                        let lo = if m >= 1 && m - 1 < maxn { q - h } else { q };
                        let hi = if m < maxn { q + (h - 1) } else { q + (step - 1) };
                        (lo, hi)
                    }
                    RoundingMode::RootFloat16 => {
                        let m = (q >> self.dropped_bits()) & self.code_mask();
                        let lo = if m >= 1 { q - h } else { q };
                        let hi = if m == self.code_mask() { q + (step - 1) } else { q + (h - 1) };
                        (lo, hi)
                    }
                };
                let hi = if q == top {
                    Self::MAX_FINITE
                } else {
                    hi.min(Self::MAX_FINITE)
                };
                (lo, hi)
            }

            /// The originals that quantise to `stored`, or `None` if `stored` is not a stored
            /// value of this quantiser (its dropped bits are not zero). NaN and ±Inf give the
            /// one-point interval `[stored, stored]`.
            ///
            /// ```
            /// use refloat_core::quantise::{Quantiser32, RoundingMode};
            /// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
            /// let iv = q.interval(1.5).unwrap();
            /// assert_eq!(iv.lo, 1.5 - 1.0 / 2048.0);          // lower tie belongs to 1.5
            /// assert!(iv.hi < 1.5 + 1.0 / 2048.0);           // upper tie does not
            /// assert_eq!(q.quantise(iv.lo), 1.5);
            /// assert_eq!(q.quantise(iv.hi), 1.5);
            /// assert!(q.interval(1.5 + f32::EPSILON).is_none());
            /// # Ok::<(), refloat_core::Error>(())
            /// ```
            #[inline]
            pub fn interval(&self, stored: $float) -> Option<Interval<$float>> {
                if !self.is_stored(stored) {
                    return None;
                }
                Some(self.interval_of_stored(stored))
            }

            /// [`Self::interval`] for a value already known to be stored (not re-checked).
            #[inline]
            pub(crate) fn interval_of_stored(&self, stored: $float) -> Interval<$float> {
                let u = stored.to_bits();
                let mag = u & !Self::SIGN;
                if mag >= Self::INF {
                    return Interval {
                        lo: stored,
                        hi: stored,
                    };
                }
                if u == Self::SIGN && self.mode() == RoundingMode::RootFloat16 && self.rounding() != 0 {
                    // −0.0 stands for the tiny negatives; −0.0 itself is stored as +0.0.
                    let (_, widest) = self.magnitude_range(0);
                    return Interval {
                        lo: <$float>::from_bits(Self::SIGN | widest),
                        hi: <$float>::from_bits(Self::SIGN | 1),
                    };
                }
                let (lo, hi) = self.magnitude_range(mag);
                let sign = u & Self::SIGN;
                if sign == 0 {
                    Interval {
                        lo: <$float>::from_bits(lo),
                        hi: <$float>::from_bits(hi),
                    }
                } else {
                    Interval {
                        lo: <$float>::from_bits(sign | hi),
                        hi: <$float>::from_bits(sign | lo),
                    }
                }
            }

            /// Like [`Self::interval`], with an error naming the value and its index.
            pub fn interval_at(&self, stored: $float, index: usize) -> Result<Interval<$float>> {
                self.interval(stored).ok_or(Error::NotQuantised {
                    index,
                    value: stored as f64,
                    mantissa_bits: self.mantissa_bits(),
                    mode: self.mode().name(),
                })
            }

            /// An upper bound on `|original − stored|` for the original `x`, in `x`'s units:
            /// `2^(e−n−1)` for the nearest modes, `2^(e−n)` (never reached) for truncation,
            /// with `e` the unbiased exponent of `x` (subnormals counted at the minimum
            /// exponent) and `n` the kept bits; `0` for ±0, NaN, ±Inf and `n` = all bits.
            ///
            /// The truncation bound `2^(e−n)` is returned where a mode truncates instead of
            /// rounding: the overflow-guard region of `Nearest` and `NearestEven` (magnitude
            /// pattern `≥ vmax`, the top half-step below the largest finite value), the top two
            /// codes of `Cms` and the saturated top code of `RootFloat16`. Under `BitRound` the
            /// top half-step rounds to ±Inf: the bound covers finite results only.
            ///
            /// ```
            #[doc = concat!("use refloat_core::quantise::{", stringify!($quantiser), ", RoundingMode};")]
            #[doc = concat!("let q = ", stringify!($quantiser), "::new(10, RoundingMode::Nearest)?;")]
            /// let x = 1.2345;
            /// assert_eq!(q.max_abs_residual(x), 2f64.powi(-11)); // e = 0: half of 2^-10
            /// assert!((x as f64 - q.quantise(x) as f64).abs() <= q.max_abs_residual(x));
            #[doc = concat!("let e = ", stringify!($quantiser), "::new(10, RoundingMode::NearestEven)?;")]
            #[doc = concat!("let top = ", stringify!($float), "::MAX_EXP - 1; // unbiased exponent of MAX")]
            #[doc = concat!("assert_eq!(e.max_abs_residual(", stringify!($float), "::MAX), 2f64.powi(top - 10)); // guard: truncated")]
            /// # Ok::<(), refloat_core::Error>(())
            /// ```
            #[inline]
            pub fn max_abs_residual(&self, x: $float) -> f64 {
                if !x.is_finite() || x == 0.0 {
                    return 0.0;
                }
                let mag = x.to_bits() & !Self::SIGN;
                let biased = (mag >> $explicit) as i32;
                let e = if biased == 0 {
                    $min_exp
                } else {
                    biased + $min_exp - 1
                };
                let n = self.mantissa_bits() as i32;
                if self.rounding() == 0 {
                    return 0.0;
                }
                let k = self.dropped_bits();
                let code = (mag >> k) & self.code_mask();
                let full_step = match self.mode() {
                    RoundingMode::Truncate => true,
                    // Both nearest modes truncate what would round up to ±Inf; `vmax` is the
                    // first pattern of the top half-step (a superset of NearestEven's region).
                    RoundingMode::Nearest | RoundingMode::NearestEven => mag >= self.vmax(),
                    // Finite results only: the top half-step rounds to ±Inf.
                    RoundingMode::BitRound => false,
                    // The top two codes (all codes for n <= 1) are truncated.
                    RoundingMode::Cms => code + 2 >= ((1 as $bits) << n),
                    // Saturated at the top code.
                    RoundingMode::RootFloat16 => {
                        ((mag & (((1 as $bits) << $explicit) - 1)) + self.rounding()) >> k
                            > self.code_mask()
                    }
                };
                if full_step {
                    exact_pow2(e - n)
                } else {
                    exact_pow2(e - n - 1)
                }
            }
        }

        /// The originals that quantise to `stored` at `mantissa_bits` kept bits with `mode`:
        /// a closed interval (both ends are originals), in the values' units.
        ///
        /// # Errors
        /// [`Error::MantissaBitsOutOfRange`], or [`Error::NotQuantised`] if `stored` is not
        /// a stored value (index 0 is reported).
        ///
        /// ```
        #[doc = concat!("use refloat_core::bounds::", stringify!($interval_fn), ";")]
        /// use refloat_core::RoundingMode;
        #[doc = concat!("let iv = ", stringify!($interval_fn), "(1.0, 10, RoundingMode::Truncate)?;")]
        /// assert_eq!(iv.lo, 1.0); // truncation: [q, q + step)
        /// assert!(iv.hi < 1.0 + 1.0 / 1024.0 && iv.width() > 0.99 / 1024.0);
        #[doc = concat!("assert!(", stringify!($interval_fn), "(1.0 + 1.0 / 4096.0, 10, RoundingMode::Truncate).is_err());")]
        /// # Ok::<(), refloat_core::Error>(())
        /// ```
        pub fn $interval_fn(
            stored: $float,
            mantissa_bits: u32,
            mode: RoundingMode,
        ) -> Result<Interval<$float>> {
            $quantiser::new(mantissa_bits, mode)?.interval_at(stored, 0)
        }

        /// Intervals of a slice of stored values, written into `lo` and `hi` (element `i` is
        /// the interval of `stored[i]`; `lo[i] <= stored[i] <= hi[i]`).
        ///
        /// # Errors
        /// [`Error::LengthMismatch`] if the outputs are not as long as `stored`;
        /// [`Error::NotQuantised`] naming the first offending index. Outputs are written only
        /// when the whole call succeeds.
        ///
        /// ```
        #[doc = concat!("use refloat_core::bounds::", stringify!($intervals_fn), ";")]
        /// use refloat_core::{Error, RoundingMode};
        /// let stored = [1.5, -2.0, 0.0];
        /// let (mut lo, mut hi) = ([0.0; 3], [0.0; 3]);
        #[doc = concat!(stringify!($intervals_fn), "(&stored, 10, RoundingMode::Nearest, &mut lo, &mut hi)?;")]
        /// assert_eq!(lo[0], 1.5 - 1.0 / 2048.0); // the lower tie rounds up to 1.5
        /// assert!(lo[1] < -2.0 && hi[1] <= -2.0 + 1.0 / 2048.0);
        /// assert!(lo[2] == 0.0 && hi[2] > 0.0); // +0 collects the tiny positives
        /// let bad = [1.5, 1.0 + 1.0 / 4096.0];
        #[doc = concat!("let e = ", stringify!($intervals_fn), "(&bad, 10, RoundingMode::Nearest, &mut lo[..2], &mut hi[..2]);")]
        /// assert!(matches!(e, Err(Error::NotQuantised { index: 1, .. })));
        /// assert_eq!(lo[0], 1.5 - 1.0 / 2048.0); // untouched on error
        /// # Ok::<(), refloat_core::Error>(())
        /// ```
        pub fn $intervals_fn(
            stored: &[$float],
            mantissa_bits: u32,
            mode: RoundingMode,
            lo: &mut [$float],
            hi: &mut [$float],
        ) -> Result<()> {
            let q = $quantiser::new(mantissa_bits, mode)?;
            for (what, len) in [
                ("lo output vs stored", lo.len()),
                ("hi output vs stored", hi.len()),
            ] {
                crate::error::check_len(what, len, stored.len())?;
            }
            if let Some(i) = stored.iter().position(|&s| !q.is_stored(s)) {
                return Err(q.interval_at(stored[i], i).unwrap_err());
            }
            for (i, &s) in stored.iter().enumerate() {
                let iv = q.interval(s).expect("checked above");
                lo[i] = iv.lo;
                hi[i] = iv.hi;
            }
            Ok(())
        }
    };
}

interval_impl!(
    Quantiser32,
    f32,
    u32,
    interval_f32,
    intervals_f32,
    max_abs_residual_f32,
    -126,
    23
);
interval_impl!(
    Quantiser64,
    f64,
    u64,
    interval_f64,
    intervals_f64,
    max_abs_residual_f64,
    -1022,
    52
);

/// The upper bound line of the triaging rule (`ATLAS_COMPRESSION.md`) in `(log10|x|, signed
/// log10|r|)` space, in decades: `y_upper = log10|x| − n·log10 2` for `n = mantissa_bits` kept
/// bits. A slope-1 line; the exact rounding bound `|r| ≤ 2^(e−n−1) ≤ |x|·2^(−n−1)` sits one binade
/// (0.301) or more below it for round-to-nearest. [`triage_bound_lines_log10`] gives both signs.
///
/// ```
/// use refloat_core::bounds::triage_bound_log10;
/// let y = triage_bound_log10(3.0, 10); // |x| = 1000, 10 kept bits
/// assert!((y - (3.0 - 10.0 * 2f64.log10())).abs() < 1e-15);
/// assert!((y - (1000.0f64 / 1024.0).log10()).abs() < 1e-12); // |x|·2^-n
/// ```
#[inline]
pub fn triage_bound_log10(log10_abs_x: f64, mantissa_bits: u32) -> f64 {
    log10_abs_x - mantissa_bits as f64 * std::f64::consts::LOG10_2
}

/// Both bound lines of the triaging rule at `log10_abs_x`, as `(y_lower, y_upper)` in decades, for
/// the signed-log residual map `(log10|x|, sign(r)·log10|r|)`:
/// `y_upper = log10|x| − n·log10 2` ([`triage_bound_log10`]) and `y_lower = −y_upper`
/// (ATLAS_COMPRESSION.md's `±(log10|x| − n·log10 2)`: slopes +1 and −1). Invariant: `y_lower ==
/// −y_upper` bit for bit.
///
/// ```
/// use refloat_core::bounds::{triage_bound_lines_log10, triage_bound_log10};
/// let (lower, upper) = triage_bound_lines_log10(2.0, 7);
/// assert_eq!(upper, triage_bound_log10(2.0, 7));
/// assert_eq!(lower, -upper);
/// assert!((lower - (7.0 * 2f64.log10() - 2.0)).abs() < 1e-15);
/// ```
#[inline]
pub fn triage_bound_lines_log10(log10_abs_x: f64, mantissa_bits: u32) -> (f64, f64) {
    let upper = triage_bound_log10(log10_abs_x, mantissa_bits);
    (-upper, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_interval_is_asymmetric_above_power_of_two() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let iv = q.interval(2.0).unwrap();
        assert_eq!(iv.lo, 2.0 - 1.0 / 2048.0); // h/2 below, the binade below is finer
        assert_eq!(iv.hi, f32::from_bits(2.0f32.to_bits() + (1 << 12) - 1));
    }

    #[test]
    fn negative_values_mirror() {
        for mode in RoundingMode::ALL {
            let q = Quantiser32::new(7, mode).unwrap();
            let p = q.interval(3.0).unwrap();
            let n = q.interval(-3.0).unwrap();
            assert_eq!((n.lo, n.hi), (-p.hi, -p.lo));
        }
    }

    #[test]
    fn top_of_range_collects_guarded_values() {
        for mode in RoundingMode::ALL {
            let q = Quantiser32::new(10, mode).unwrap();
            let top = q.quantise(f32::MAX);
            if mode == RoundingMode::BitRound {
                // No guard: the top half-step rounds to Inf.
                assert_eq!(top, f32::INFINITY);
                let below = q.quantise(f32::from_bits(0x7F7F_E000));
                assert!(q.interval(below).unwrap().hi < f32::MAX);
                continue;
            }
            assert!(top.is_finite());
            assert_eq!(q.interval(top).unwrap().hi, f32::MAX);
        }
    }

    #[test]
    fn non_finite_intervals_are_points() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        let iv = q.interval(f32::INFINITY).unwrap();
        assert_eq!((iv.lo, iv.hi), (f32::INFINITY, f32::INFINITY));
    }

    #[test]
    fn seed_bound_lines_have_both_signs() {
        for n in [0u32, 7, 10, 23] {
            for lx in [-12.0, -3.5, 0.0, 2.0, 38.0] {
                let (lower, upper) = triage_bound_lines_log10(lx, n);
                let want = lx - n as f64 * 2f64.log10();
                assert!((upper - want).abs() < 1e-12, "{lx} {n}");
                assert!((lower + want).abs() < 1e-12, "{lx} {n}");
                assert_eq!(lower.to_bits(), (-upper).to_bits());
            }
            // Slopes +1 and -1 in log10|x|.
            let (l0, u0) = triage_bound_lines_log10(1.0, n);
            let (l1, u1) = triage_bound_lines_log10(2.0, n);
            assert!((u1 - u0 - 1.0).abs() < 1e-12 && (l1 - l0 + 1.0).abs() < 1e-12);
        }
        // On the map, a residual |r| = |x|·2^-n sits exactly on the line of its sign.
        let (x, n) = (1234.5f64, 10u32);
        let r = x * 2f64.powi(-(n as i32));
        let (lower, upper) = triage_bound_lines_log10(x.log10(), n);
        assert!((r.log10() - upper).abs() < 1e-12);
        assert!((-r.log10() - lower).abs() < 1e-12);
    }

    #[test]
    fn tiny_f64_residual_bound_is_not_zero() {
        // 2f64.powi(-1030) returns 0; the bound must not.
        let q = Quantiser64::new(7, RoundingMode::Nearest).unwrap();
        let x = f64::from_bits(f64::MIN_POSITIVE.to_bits() - 1);
        assert_eq!(q.max_abs_residual(x), f64::from_bits(1u64 << (1074 - 1030)));
        let t = Quantiser64::new(51, RoundingMode::Truncate).unwrap();
        assert_eq!(t.max_abs_residual(f64::from_bits(1)), f64::from_bits(2));
    }

    #[test]
    fn not_stored_is_error() {
        let e = interval_f32(1.0 + f32::EPSILON, 10, RoundingMode::Nearest).unwrap_err();
        assert!(matches!(e, Error::NotQuantised { .. }), "{e}");
    }
}
