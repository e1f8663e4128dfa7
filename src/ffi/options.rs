//! The C API's option types and their parsing, below both the C functions ([`super::capi`])
//! and the file pipelines ([`super::files`]): the `refloat_rounding` and `refloat_method`
//! enums, their ABI integers and the core types they map to, and the totals a file pipeline
//! reports (`refloat_file_report`). No functions of the C API itself.

use super::FfiError;
use crate::correct::Method;
use crate::quantise::RoundingMode;

/// How the dropped mantissa bits were removed when the data was stored.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum refloat_rounding {
    /// Round half away from zero on the magnitude: ATLAS `CxxUtils::FloatCompressor`.
    REFLOAT_NEAREST = 0,
    /// Drop the bits, toward zero: ROOT RNTuple `Real32Trunc`.
    REFLOAT_TRUNCATE = 1,
    /// IEEE round half to even on the kept bits (never rounds to infinity).
    REFLOAT_NEAREST_EVEN = 2,
    /// CMS `MiniFloatConverter::reduceMantissaToNbitsRounding` (NanoAOD): half up, no carry
    /// into the exponent, the top two codes never rounded up.
    REFLOAT_CMS = 3,
    /// ROOT `Float16_t` / `Double32_t` with `[0,0,n]`: half up, saturating at the top code;
    /// the sign is `f < 0` (−0.0 is stored as +0.0).
    REFLOAT_ROOT_FLOAT16 = 4,
    /// netCDF-4 `NC_QUANTIZE_BITROUND`: half away from zero with no overflow guard (the top
    /// half-step becomes Inf) and NaN payloads rounded too.
    REFLOAT_BITROUND = 5,
    /// File correction only: detect each branch's scheme from its values, and where they
    /// cannot tell, take the format's (CMS for NanoAOD's `Events`, ATLAS nearest otherwise).
    REFLOAT_DETECT = 6,
}

/// The estimator a correction uses inside each value's interval of originals.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum refloat_method {
    /// The centre of the interval (best for truncated data: mean squared error / ~4).
    REFLOAT_MIDPOINT = 0,
    /// Uniform inside the interval, from `(seed, index)` only: restores a smooth distribution.
    REFLOAT_DITHER = 1,
    /// The conditional mean under a locally linear density estimated from the buffer itself;
    /// pass a whole branch (not one event) so the density is meaningful.
    REFLOAT_PRIOR_MEAN = 2,
}

/// A `refloat_rounding` as it crosses the ABI: a plain integer, so that an out-of-range
/// value from C is an error, not undefined behaviour. (The header spells it
/// `refloat_rounding`; see cbindgen.toml.)
pub type RoundingArg = u32;
/// A `refloat_method` as it crosses the ABI (the header spells it `refloat_method`).
pub type MethodArg = u32;

/// The `refloat_rounding` value `mode`, or an error naming the valid ones.
pub(crate) fn rounding_mode(mode: RoundingArg) -> Result<RoundingMode, FfiError> {
    match mode {
        0 => Ok(RoundingMode::Nearest),
        1 => Ok(RoundingMode::Truncate),
        2 => Ok(RoundingMode::NearestEven),
        3 => Ok(RoundingMode::Cms),
        4 => Ok(RoundingMode::RootFloat16),
        5 => Ok(RoundingMode::BitRound),
        6 => Err(FfiError::invalid_argument(
            "rounding mode REFLOAT_DETECT is only for correcting files: name the rounding here",
        )),
        other => Err(FfiError::invalid_argument(format!(
            "rounding mode {other} is not a refloat_rounding (0 = REFLOAT_NEAREST, 1 = REFLOAT_TRUNCATE, 2 = REFLOAT_NEAREST_EVEN, 3 = REFLOAT_CMS, 4 = REFLOAT_ROOT_FLOAT16, 5 = REFLOAT_BITROUND)"
        ))),
    }
}

/// The `refloat_rounding` number of `mode` (the inverse of [`rounding_mode`]).
pub(crate) fn rounding_number(mode: RoundingMode) -> RoundingArg {
    match mode {
        RoundingMode::Nearest => 0,
        RoundingMode::Truncate => 1,
        RoundingMode::NearestEven => 2,
        RoundingMode::Cms => 3,
        RoundingMode::RootFloat16 => 4,
        RoundingMode::BitRound => 5,
    }
}

/// The `refloat_method` value `method` (dither with `seed`), or an error naming the valid ones.
pub(crate) fn method(method: MethodArg, seed: u64) -> Result<Method, FfiError> {
    match method {
        0 => Ok(Method::Midpoint),
        1 => Ok(Method::Dither { seed }),
        2 => Ok(Method::PriorMean),
        other => Err(FfiError::invalid_argument(format!(
            "method {other} is not a refloat_method (0 = REFLOAT_MIDPOINT, 1 = REFLOAT_DITHER, 2 = REFLOAT_PRIOR_MEAN)"
        ))),
    }
}

/// What `refloat_compress_file` or `refloat_correct_file` did (correct-only fields are 0
/// after a compression).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct refloat_file_report {
    /// Float branches processed.
    pub branches: u64,
    /// Values in them.
    pub values: u64,
    /// Values whose bits changed.
    pub changed: u64,
    /// Values given a new estimate.
    pub corrected: u64,
    /// Values left alone as exact by nature (the sum of the four `left_*` below).
    pub left_exact: u64,
    /// NaN and ±Inf, left alone.
    pub non_finite: u64,
    /// Branches left as stored (their bits cannot be told; copied unchanged).
    pub not_inferable: u64,
    /// Values checked to re-quantise to the stored ones as they were written.
    pub verified_values: u64,
    /// Input and output file sizes in bytes.
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// Of `left_exact`: ±0, ±1 and other values with a very short mantissa.
    pub left_short_mantissa: u64,
    /// Of `left_exact`: the conventional sentinels (-999, …).
    pub left_sentinel: u64,
    /// Of `left_exact`: the branches' spikes.
    pub left_spike: u64,
    /// Of `left_exact`: values on a branch's lattice (and ambiguous CMS top codes).
    pub left_lattice: u64,
    /// Float branches of the file left as stored: nested vectors (`vector<vector<float>>`,
    /// which Athena does not round either) and the float branches of other trees.
    pub floats_left_alone: u64,
    /// Records copied although their payload does not decode (`allow_damaged_copies`).
    pub damaged_copies: u64,
}
