//! Bit-exact reproduction of lossy mantissa rounding.
//!
//! ATLAS (`CxxUtils::FloatCompressor`) keeps `n` of the 23 explicit mantissa bits of a
//! `float` and zeroes the other `k = 23 - n`. On the bit pattern `u` of a finite value:
//!
//! ```text
//! rounding = 1 << (k - 1)              // half of the last kept bit
//! mask     = !((1 << k) - 1)           // clears the k dropped bits
//! vmax     = 0x7F7F_FFFF - rounding    // overflow guard
//! if (u & 0x7FFF_FFFF) < vmax { u += rounding }
//! u &= mask
//! ```
//!
//! * NaN and ±Inf are returned unchanged (bit for bit, payload included).
//! * Ties (exactly half a kept step) go **away from zero**: rounding happens on the magnitude.
//! * A carry out of the mantissa moves into the exponent (1.99999 → 2.0), so a stored value
//!   can sit in the next binade.
//! * Values whose magnitude pattern is at or above `vmax` (the top half-step below
//!   `f32::MAX`) are truncated instead, so rounding never produces ±Inf: the largest finite
//!   stored value is `f32::MAX` with its dropped bits cleared.
//! * Subnormals get no special treatment: the same integer arithmetic applies, so the
//!   largest subnormals may round up to the smallest normal and tiny ones flush to ±0.
//! * `n = 23` (`52` for `f64`) keeps every bit: the quantiser is the identity.
//!
//! The other producers' schemes ([`RoundingMode`] has one variant each; `../shared/
//! ATLAS_COMPRESSION.md` cites their sources), with `k` dropped bits, `h = 1 << (k − 1)`,
//! mantissa field `M` and kept code `m = M >> k`:
//!
//! * [`RoundingMode::Truncate`] zeroes the dropped bits (toward zero, ROOT RNTuple's
//!   `Real32Trunc`).
//! * [`RoundingMode::NearestEven`] is IEEE round-half-to-even on the kept bits (a tie goes to
//!   the neighbour whose last kept bit is 0; for `n = 0` that bit is the exponent's lowest),
//!   with the same overflow guard as `Nearest` (BitInformation.jl, numcodecs `BitRound`).
//! * [`RoundingMode::Cms`] is CMSSW's `MiniFloatConverter::reduceMantissaToNbitsRounding`
//!   (NanoAOD's `precision`): if `u & h`, `m + 1` unless `m ≥ 2^n − 2`, written back into
//!   the mantissa field **without carry**, else the dropped bits are cleared. The sign and
//!   exponent are never touched, so ±Inf stay, a NaN whose payload lies only in the dropped
//!   bits becomes ±Inf, and other NaNs keep their (rounded) payload. `n = 23` is the
//!   identity (CMSSW shifts by −1 there, undefined in C++); `n = 0` truncates (CMSSW's
//!   unsigned `maxn` wraps and its increment would land in the exponent).
//! * [`RoundingMode::RootFloat16`] is ROOT's `Float16_t` / `Double32_t` with `[0,0,n]`
//!   (`TBufferFile::WriteFloat16`, read back by `ReadFloat16`): `m = (M + h) >> k`,
//!   saturating at `2^n − 1` instead of carrying; the 8-bit exponent is kept whole and the
//!   sign is `f < 0`, so −0.0 is stored as +0.0 and every NaN loses its sign (a NaN whose
//!   payload rounds to code 0 becomes +Inf). The negative values that round to code 0 of
//!   the lowest binade are stored as −0.0, which is therefore a stored value although it is
//!   not a fixed point ([`Quantiser32::is_stored`] knows). ROOT stores the code in 16 bits,
//!   so it writes at most `n = 14`; refloat computes every `n`, with `n = 23` the identity.
//! * [`RoundingMode::BitRound`] is netCDF-4's `NC_QUANTIZE_BITROUND` (`nc_def_var_quantize`;
//!   its `nsb` counts the implicit bit, `nsb = n + 1`): `u += h; u &= mask` on every
//!   pattern, with no guard: the top half-step of finite values becomes ±Inf, and NaN
//!   patterns are rounded too (the netCDF loop skips only the fill value), so a NaN can
//!   turn into ±Inf or ±0. That is all it differs from `Nearest` in.
//!
//! `f64` uses the same rules with 52 explicit mantissa bits.
//!
//! Every function here is pure; slices are processed in place.

use crate::error::{Error, Result};
use rayon::prelude::*;

/// How the dropped mantissa bits are removed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RoundingMode {
    /// Round half away from zero on the magnitude, as ATLAS's `FloatCompressor` does.
    #[default]
    Nearest,
    /// Drop the bits: round toward zero (ROOT RNTuple `Real32Trunc`).
    Truncate,
    /// IEEE round half to even on the kept bits (overflow guarded like `Nearest`).
    NearestEven,
    /// CMS `reduceMantissaToNbitsRounding` (NanoAOD): half up in magnitude, no carry into
    /// the exponent, the top two codes never rounded up.
    Cms,
    /// ROOT `Float16_t` with `[0,0,n]`: half up, saturating at the top code; sign from
    /// `f < 0` (−0.0 and NaN stored positive).
    RootFloat16,
    /// netCDF-4 `BITROUND`: `Nearest` without the overflow guard and without sparing NaN.
    #[serde(rename = "bitround")]
    BitRound,
}

impl RoundingMode {
    /// All modes, in a fixed order.
    pub const ALL: [RoundingMode; 6] = [
        Self::Nearest,
        Self::Truncate,
        Self::NearestEven,
        Self::Cms,
        Self::RootFloat16,
        Self::BitRound,
    ];

    /// The name used on the command line and in reports (`nearest`, `truncate`,
    /// `nearest-even`, `cms`, `root-float16`, `bitround`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Nearest => "nearest",
            Self::Truncate => "truncate",
            Self::NearestEven => "nearest-even",
            Self::Cms => "cms",
            Self::RootFloat16 => "root-float16",
            Self::BitRound => "bitround",
        }
    }

    /// Whether a carry out of the kept mantissa can move a value into the next binade
    /// (`Nearest`, `NearestEven`, `BitRound`); `Cms` and `RootFloat16` keep the exponent.
    pub fn carries(self) -> bool {
        matches!(self, Self::Nearest | Self::NearestEven | Self::BitRound)
    }
}

impl std::fmt::Display for RoundingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RoundingMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "nearest" => Ok(Self::Nearest),
            "truncate" => Ok(Self::Truncate),
            "nearest-even" | "nearest_even" => Ok(Self::NearestEven),
            "cms" => Ok(Self::Cms),
            "root-float16" | "root_float16" | "float16" => Ok(Self::RootFloat16),
            "bitround" => Ok(Self::BitRound),
            other => Err(Error::InvalidArgument(format!(
                "unknown rounding mode '{other}' (expected nearest, truncate, nearest-even, cms, root-float16 or bitround)"
            ))),
        }
    }
}

/// Elements per rayon task in the `par_*` functions: large enough to amortise scheduling,
/// small enough to balance over cores.
pub(crate) const PAR_CHUNK: usize = 1 << 16;

macro_rules! quantiser {
    (
        $(#[$doc:meta])*
        $name:ident, $float:ty, $bits:ty, $explicit:expr, $tyname:expr,
        $quantise:ident, $quantise_slice:ident, $par_quantise_slice:ident
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            mantissa_bits: u32,
            mode: RoundingMode,
            /// Half of the last kept bit (`0` when nothing is dropped).
            rounding: $bits,
            /// Clears the dropped bits.
            mask: $bits,
            /// Overflow guard of the nearest modes (see [`Self::vmax`]).
            vmax: $bits,
        }

        impl $name {
            /// Explicit mantissa bits of the type.
            pub const EXPLICIT_MANTISSA_BITS: u32 = $explicit;
            /// Bit pattern of the sign.
            pub const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            /// Bit pattern of +Inf (also the magnitude mask's first non-finite pattern).
            /// (All exponent bits set, mantissa zero; written as bit arithmetic because
            /// `to_bits` is `const` only from Rust 1.83 and `rust-version` is 1.80.)
            pub const INF: $bits = (!0 >> 1) & !((1 << $explicit) - 1);
            /// Largest finite magnitude pattern.
            pub const MAX_FINITE: $bits = Self::INF - 1;

            /// A quantiser keeping `mantissa_bits` explicit mantissa bits.
            ///
            /// # Errors
            /// [`Error::MantissaBitsOutOfRange`] if `mantissa_bits` exceeds the type's
            /// explicit mantissa bits.
            pub fn new(mantissa_bits: u32, mode: RoundingMode) -> Result<Self> {
                if mantissa_bits > $explicit {
                    return Err(Error::MantissaBitsOutOfRange {
                        bits: mantissa_bits,
                        max: $explicit,
                        ty: $tyname,
                    });
                }
                let dropped = $explicit - mantissa_bits;
                let rounding: $bits = if dropped == 0 { 0 } else { 1 << (dropped - 1) };
                let mask: $bits = !(((1 as $bits) << dropped) - 1);
                Ok(Self { mantissa_bits, mode, rounding, mask, vmax: Self::MAX_FINITE - rounding })
            }

            /// Kept explicit mantissa bits `n`.
            #[inline]
            pub fn mantissa_bits(&self) -> u32 {
                self.mantissa_bits
            }

            /// Dropped mantissa bits `k = explicit - n`.
            #[inline]
            pub fn dropped_bits(&self) -> u32 {
                $explicit - self.mantissa_bits
            }

            /// The rounding mode.
            #[inline]
            pub fn mode(&self) -> RoundingMode {
                self.mode
            }

            /// Mask that clears the dropped bits.
            #[inline]
            pub fn mask(&self) -> $bits {
                self.mask
            }

            /// Half of the last kept bit, as a bit-pattern increment (`0` if nothing is dropped).
            #[inline]
            pub fn rounding(&self) -> $bits {
                self.rounding
            }

            /// The overflow guard: `Nearest` truncates magnitude patterns at or above it;
            /// `NearestEven` truncates exactly those whose rounding would give ±Inf, all of
            /// which lie at or above it too. `MAX_FINITE − rounding` (the top half-step).
            #[inline]
            pub fn vmax(&self) -> $bits {
                self.vmax
            }

            /// Quantise one bit pattern.
            #[inline]
            pub fn quantise_bits(&self, u: $bits) -> $bits {
                match self.mode {
                    RoundingMode::Nearest => self.nearest_bits(u),
                    RoundingMode::Truncate => self.truncate_bits(u),
                    RoundingMode::NearestEven => self.nearest_even_bits(u),
                    RoundingMode::Cms => self.cms_bits(u),
                    RoundingMode::RootFloat16 => self.float16_bits(u),
                    RoundingMode::BitRound => u.wrapping_add(self.rounding) & self.mask,
                }
            }

            /// [`RoundingMode::NearestEven`] on one pattern (NaN and ±Inf unchanged).
            #[inline]
            pub(crate) fn nearest_even_bits(&self, u: $bits) -> $bits {
                let mag = u & !Self::SIGN;
                if mag >= Self::INF || self.rounding == 0 {
                    return u;
                }
                let kept_lsb = (mag >> self.dropped_bits()) & 1;
                let rounded = (mag + (self.rounding - 1) + kept_lsb) & self.mask;
                let rounded = if rounded >= Self::INF { mag & self.mask } else { rounded };
                (u & Self::SIGN) | rounded
            }

            /// [`RoundingMode::Nearest`] on one pattern, written without early returns so
            /// that [`Self::quantise_slice`]'s loop over it vectorises: NaN and ±Inf keep
            /// their pattern; magnitudes at or above the guard `vmax` are truncated.
            #[inline(always)]
            pub(crate) fn nearest_bits(&self, u: $bits) -> $bits {
                let mag = u & !Self::SIGN;
                let up = if mag < self.vmax { u + self.rounding } else { u };
                if mag >= Self::INF { u } else { up & self.mask }
            }

            /// [`RoundingMode::Truncate`] on one pattern (NaN and ±Inf keep their pattern).
            #[inline(always)]
            pub(crate) fn truncate_bits(&self, u: $bits) -> $bits {
                if u & !Self::SIGN >= Self::INF { u } else { u & self.mask }
            }

            /// Mask of the explicit mantissa field.
            const MANTISSA: $bits = (1 << $explicit) - 1;

            /// [`RoundingMode::Cms`] on one pattern (every pattern, NaN included).
            #[inline]
            pub(crate) fn cms_bits(&self, u: $bits) -> $bits {
                let k = self.dropped_bits();
                if self.rounding == 0 {
                    return u;
                }
                if u & self.rounding == 0 {
                    return u & self.mask;
                }
                // maxn = 2^n − 2 (0 for n <= 1: never rounded up).
                let maxn: $bits = ((1 as $bits) << self.mantissa_bits).saturating_sub(2);
                let m = (u & Self::MANTISSA) >> k;
                let m = if m < maxn { m + 1 } else { m };
                (u & !Self::MANTISSA) | (m << k)
            }

            /// [`RoundingMode::RootFloat16`] on one pattern (every pattern, NaN included).
            #[inline]
            pub(crate) fn float16_bits(&self, u: $bits) -> $bits {
                if self.rounding == 0 {
                    return u;
                }
                let k = self.dropped_bits();
                let mag = u & !Self::SIGN;
                // `f < 0`: false for −0.0 and for every NaN.
                let negative = u & Self::SIGN != 0 && mag != 0 && mag <= Self::INF;
                let top: $bits = ((1 as $bits) << self.mantissa_bits) - 1;
                let m = (((mag & Self::MANTISSA) + self.rounding) >> k).min(top);
                let sign = if negative { Self::SIGN } else { 0 };
                sign | (mag & !Self::MANTISSA) | (m << k)
            }

            /// Quantise one value.
            #[inline]
            pub fn quantise(&self, x: $float) -> $float {
                <$float>::from_bits(self.quantise_bits(x.to_bits()))
            }

            /// Whether `x` is a value this quantiser outputs: a fixed point (every NaN and ±Inf
            /// under the modes that leave them alone), or −0.0 under `RootFloat16`.
            #[inline]
            pub fn is_stored(&self, x: $float) -> bool {
                self.is_stored_bits(x.to_bits())
            }

            /// [`Self::is_stored`] on a bit pattern. Under `RootFloat16`, −0.0 is stored (the
            /// tiny negatives round to it) though it is not a fixed point (it maps to +0.0).
            #[inline]
            pub fn is_stored_bits(&self, u: $bits) -> bool {
                self.quantise_bits(u) == u
                    || (u == Self::SIGN && self.mode == RoundingMode::RootFloat16 && self.rounding != 0)
            }

            /// Quantise a slice in place (each value as [`Self::quantise`]; NaN and ±Inf
            /// unchanged).
            ///
            /// ```
            #[doc = concat!("use refloat_core::quantise::{", stringify!($name), ", RoundingMode};")]
            #[doc = concat!("let q = ", stringify!($name), "::new(10, RoundingMode::Truncate)?;")]
            #[doc = concat!("let mut v = [1.0 + 1.0 / 1500.0, -3.0, ", stringify!($float), "::NAN];")]
            /// q.quantise_slice(&mut v); // the step at n = 10 in [1, 2) is 1/1024
            /// assert_eq!(&v[..2], &[1.0, -3.0]);
            /// assert!(v[2].is_nan());
            /// # Ok::<(), refloat_core::Error>(())
            /// ```
            pub fn quantise_slice(&self, data: &mut [$float]) {
                /// One loop per mode, the mode's rule inlined: the per-value `match` on the
                /// mode would keep the compiler from vectorising the common modes.
                #[inline(always)]
                fn each(data: &mut [$float], rule: impl Fn($bits) -> $bits) {
                    for x in data.iter_mut() {
                        *x = <$float>::from_bits(rule(x.to_bits()));
                    }
                }
                match self.mode {
                    RoundingMode::Nearest => each(data, |u| self.nearest_bits(u)),
                    RoundingMode::Truncate => each(data, |u| self.truncate_bits(u)),
                    RoundingMode::NearestEven => each(data, |u| self.nearest_even_bits(u)),
                    RoundingMode::Cms => each(data, |u| self.cms_bits(u)),
                    RoundingMode::RootFloat16 => each(data, |u| self.float16_bits(u)),
                    RoundingMode::BitRound => each(data, |u| u.wrapping_add(self.rounding) & self.mask),
                }
            }

            /// Quantise a slice in place, in parallel chunks (same bits as
            /// [`Self::quantise_slice`], whatever the thread count).
            ///
            /// ```
            #[doc = concat!("use refloat_core::quantise::{", stringify!($name), ", RoundingMode};")]
            #[doc = concat!("let q = ", stringify!($name), "::new(7, RoundingMode::Nearest)?;")]
            #[doc = concat!("let data: Vec<", stringify!($float), "> = (0..200_000).map(|i| (i as ", stringify!($float), ").sin() * 1e3).collect();")]
            /// let (mut a, mut b) = (data.clone(), data);
            /// q.par_quantise_slice(&mut a);
            /// q.quantise_slice(&mut b);
            /// assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            /// # Ok::<(), refloat_core::Error>(())
            /// ```
            pub fn par_quantise_slice(&self, data: &mut [$float]) {
                data.par_chunks_mut(PAR_CHUNK).for_each(|c| self.quantise_slice(c));
            }
        }

        /// Quantise one value to `mantissa_bits` kept explicit mantissa bits (bits kept, not
        #[doc = concat!("removed) with `mode`; [`", stringify!($name), "`] quantises many values with")]
        /// one validated setting.
        ///
        /// # Errors
        /// [`Error::MantissaBitsOutOfRange`] for a bit count above the type's.
        ///
        /// ```
        #[doc = concat!("use refloat_core::quantise::{", stringify!($quantise), ", RoundingMode};")]
        /// let tie = 1.0 + 1.0 / 2048.0; // half of the last kept bit at n = 10
        #[doc = concat!("assert_eq!(", stringify!($quantise), "(tie, 10, RoundingMode::Nearest)?, 1.0 + 1.0 / 1024.0);")]
        #[doc = concat!("assert_eq!(", stringify!($quantise), "(tie, 10, RoundingMode::NearestEven)?, 1.0);")]
        #[doc = concat!("assert_eq!(", stringify!($quantise), "(-tie, 10, RoundingMode::Truncate)?, -1.0);")]
        #[doc = concat!("assert!(", stringify!($quantise), "(1.0, 99, RoundingMode::Nearest).is_err());")]
        /// # Ok::<(), refloat_core::Error>(())
        /// ```
        pub fn $quantise(x: $float, mantissa_bits: u32, mode: RoundingMode) -> Result<$float> {
            Ok($name::new(mantissa_bits, mode)?.quantise(x))
        }

        /// Quantise a slice in place.
        ///
        /// # Errors
        /// [`Error::MantissaBitsOutOfRange`]; the slice is untouched then.
        ///
        /// ```
        #[doc = concat!("use refloat_core::quantise::{", stringify!($quantise_slice), ", RoundingMode};")]
        /// let mut v = [1.2345, -0.0, 1e-3];
        #[doc = concat!(stringify!($quantise_slice), "(&mut v, 0, RoundingMode::Truncate)?;")]
        /// assert_eq!(v, [1.0, -0.0, 1.0 / 1024.0]); // n = 0: powers of two remain
        #[doc = concat!("assert!(", stringify!($quantise_slice), "(&mut v, 99, RoundingMode::Nearest).is_err());")]
        /// # Ok::<(), refloat_core::Error>(())
        /// ```
        pub fn $quantise_slice(data: &mut [$float], mantissa_bits: u32, mode: RoundingMode) -> Result<()> {
            $name::new(mantissa_bits, mode)?.quantise_slice(data);
            Ok(())
        }

        /// Quantise a slice in place with rayon; same bits as the sequential version.
        ///
        /// # Errors
        /// [`Error::MantissaBitsOutOfRange`]; the slice is untouched then.
        ///
        /// ```
        #[doc = concat!("use refloat_core::quantise::{", stringify!($par_quantise_slice), ", ", stringify!($quantise), ", RoundingMode};")]
        #[doc = concat!("let mut v: Vec<", stringify!($float), "> = (1..100_000).map(|i| 1.0 / i as ", stringify!($float), ").collect();")]
        /// let before = v.clone();
        #[doc = concat!(stringify!($par_quantise_slice), "(&mut v, 10, RoundingMode::Nearest)?;")]
        /// for (y, x) in v.iter().zip(&before) {
        #[doc = concat!("    assert_eq!(*y, ", stringify!($quantise), "(*x, 10, RoundingMode::Nearest)?);")]
        /// }
        /// # Ok::<(), refloat_core::Error>(())
        /// ```
        pub fn $par_quantise_slice(data: &mut [$float], mantissa_bits: u32, mode: RoundingMode) -> Result<()> {
            $name::new(mantissa_bits, mode)?.par_quantise_slice(data);
            Ok(())
        }
    };
}

quantiser!(
    /// Quantiser for `f32` (23 explicit mantissa bits), validated once and then infallible.
    ///
    /// ```
    /// use refloat_core::quantise::{Quantiser32, RoundingMode};
    /// let q = Quantiser32::new(10, RoundingMode::Nearest)?;
    /// assert_eq!(q.quantise(1.0 + 1.0 / 4096.0), 1.0);        // below half a step: down
    /// assert_eq!(q.quantise(1.0 + 1.0 / 2048.0), 1.0 + 1.0 / 1024.0); // tie: away from zero
    /// assert!(q.quantise(f32::NAN).is_nan());
    /// assert_eq!(q.quantise(f32::MAX), f32::from_bits(0x7F7F_E000)); // guard: never Inf
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    Quantiser32, f32, u32, 23, "f32",
    quantise_f32, quantise_slice_f32, par_quantise_slice_f32
);

quantiser!(
    /// Quantiser for `f64` (52 explicit mantissa bits), validated once and then infallible.
    ///
    /// ```
    /// use refloat_core::quantise::{Quantiser64, RoundingMode};
    /// let q = Quantiser64::new(20, RoundingMode::Truncate)?;
    /// assert_eq!(q.quantise(-1.0 - 1e-7), -1.0); // toward zero
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    Quantiser64, f64, u64, 52, "f64",
    quantise_f64, quantise_slice_f64, par_quantise_slice_f64
);

/// Number of trailing zero bits in the explicit mantissa of `x` (23 for a zero mantissa,
/// e.g. for powers of two and ±0).
#[inline]
pub fn mantissa_trailing_zeros_f32(x: f32) -> u32 {
    (x.to_bits() & 0x007F_FFFF).trailing_zeros().min(23)
}

/// The largest `n` such that every finite value of `data` is a stored value at `n` kept
/// mantissa bits, i.e. `23 -` the number of trailing zero mantissa bits common to all
/// finite values. This is how a compressed branch's bit count is recovered: the bit count
/// is not written into ATLAS files. Exact-by-nature values (0, ±1, powers of two) carry no
/// information and are fine: they only make the common count larger, never smaller.
///
/// # Errors
/// [`Error::CannotInferBits`] if `data` holds no finite value with a non-zero mantissa
/// (empty, all zeros, all powers of two or all non-finite): any `n` would fit.
///
/// ```
/// use refloat_core::quantise::{infer_mantissa_bits_f32, quantise_slice_f32, RoundingMode};
/// let mut v = vec![1.2345f32, 37.5, -0.001, 7.0e4];
/// quantise_slice_f32(&mut v, 10, RoundingMode::Nearest)?;
/// assert!(infer_mantissa_bits_f32(&v)? <= 10);
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn infer_mantissa_bits_f32(data: &[f32]) -> Result<u32> {
    let common = data
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.to_bits() & 0x007F_FFFF)
        .fold(0u32, |acc, m| acc | m);
    if common == 0 {
        return Err(Error::CannotInferBits(format!(
            "no finite value with a non-zero mantissa among {} values",
            data.len()
        )));
    }
    Ok(23 - common.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_bits_are_errors() {
        assert!(matches!(
            Quantiser32::new(24, RoundingMode::Nearest),
            Err(Error::MantissaBitsOutOfRange {
                bits: 24,
                max: 23,
                ..
            })
        ));
        assert!(Quantiser64::new(53, RoundingMode::Truncate).is_err());
        assert!(quantise_f32(1.0, 99, RoundingMode::Nearest).is_err());
    }

    #[test]
    fn constants() {
        assert_eq!(Quantiser32::SIGN, 0x8000_0000);
        assert_eq!(Quantiser64::SIGN, 0x8000_0000_0000_0000);
        assert_eq!(Quantiser32::INF, f32::INFINITY.to_bits());
        assert_eq!(Quantiser64::INF, f64::INFINITY.to_bits());
        assert_eq!(Quantiser32::MAX_FINITE, f32::MAX.to_bits());
        assert_eq!(Quantiser64::MAX_FINITE, f64::MAX.to_bits());
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        assert_eq!(q.rounding(), 1 << 12);
        assert_eq!(q.mask(), !0x1FFF);
        // Athena writes vmax as (0x7f7 << 20) | (0x000fffff ^ rounding)
        assert_eq!(q.vmax(), (0x7f7 << 20) | (0x000f_ffff ^ (1 << 12)));
    }

    #[test]
    fn full_precision_is_identity() {
        for mode in RoundingMode::ALL {
            let q = Quantiser32::new(23, mode).unwrap();
            for u in [0u32, 1, 0x3F80_0001, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7FC0_0001] {
                assert_eq!(q.quantise_bits(u), u);
            }
        }
    }

    #[test]
    fn carry_moves_into_exponent() {
        let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
        assert_eq!(q.quantise(1.999_999_9), 2.0);
        assert_eq!(q.quantise(-1.999_999_9), -2.0);
    }

    #[test]
    fn infer_bits() {
        assert_eq!(infer_mantissa_bits_f32(&[1.5, 1.25]).unwrap(), 2);
        assert!(infer_mantissa_bits_f32(&[0.0, 1.0, f32::NAN]).is_err());
        assert!(infer_mantissa_bits_f32(&[]).is_err());
    }
}
