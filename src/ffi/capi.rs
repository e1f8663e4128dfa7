//! The `refloat_*` C functions. Each body is one [`ffi_panic_boundary!`]; pointers go through
//! the `try_*` macros; outputs are written only after every check has passed.

use std::ffi::{c_char, c_int};

use super::{check_disjoint, refloat_status, FfiError};
use crate::bounds::{intervals_f32, intervals_f64};
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32, Quantiser64, RoundingMode};
use crate::triage::{correct_in_place_f32, verify_requantises_f32, CorrectionReport, Method};

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

/// What a correction did (filled by `refloat_correct_report_f32`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct refloat_correction_report {
    /// Values given a new estimate (the estimate may equal the stored value).
    pub corrected: usize,
    /// Values left alone because they are very likely exact (0, ±1, sentinels, values with
    /// many more trailing zero mantissa bits than the compression removed).
    pub left_exact: usize,
    /// NaN and ±Inf, left alone.
    pub non_finite: usize,
}

impl From<CorrectionReport> for refloat_correction_report {
    fn from(r: CorrectionReport) -> Self {
        refloat_correction_report {
            corrected: r.corrected,
            left_exact: r.left_exact,
            non_finite: r.non_finite,
        }
    }
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
        other => Err(FfiError::invalid_argument(format!(
            "rounding mode {other} is not a refloat_rounding (0 = REFLOAT_NEAREST, 1 = REFLOAT_TRUNCATE, 2 = REFLOAT_NEAREST_EVEN)"
        ))),
    }
}

fn method(method: MethodArg, seed: u64) -> Result<Method, FfiError> {
    match method {
        0 => Ok(Method::Midpoint),
        1 => Ok(Method::Dither { seed }),
        2 => Ok(Method::PriorMean),
        other => Err(FfiError::invalid_argument(format!(
            "method {other} is not a refloat_method (0 = REFLOAT_MIDPOINT, 1 = REFLOAT_DITHER, 2 = REFLOAT_PRIOR_MEAN)"
        ))),
    }
}

/// `original − stored`, computed in `double` and rounded once to `float`.
#[inline]
fn residual(original: f32, stored: f32) -> f32 {
    (original as f64 - stored as f64) as f32
}

/// Quantise `data[0..len]` in place to `mantissa_bits` kept explicit mantissa bits
/// (0..=23), as the compression did: bit-exact with ATLAS `CxxUtils::FloatCompressor` for
/// `REFLOAT_NEAREST`. NaN and ±Inf are left unchanged; the result is never infinite.
///
/// Returns `REFLOAT_OK`, or `REFLOAT_NULL_PARAMETER`, `REFLOAT_MANTISSA_BITS_OUT_OF_RANGE`,
/// `REFLOAT_INVALID_ARGUMENT`; `data` is untouched on error.
///
/// ```c
/// float v[3] = {1.2345f, -37.5f, 1e-3f};
/// if (refloat_quantise_f32(v, 3, 10, REFLOAT_NEAREST) != REFLOAT_OK)
///     fprintf(stderr, "%s\n", refloat_last_error());
/// ```
///
/// # Safety
/// `data` must point to `len` writable `float`s (or be NULL with `len` 0).
#[no_mangle]
pub extern "C" fn refloat_quantise_f32(
    data: *mut f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
) -> c_int {
    ffi_panic_boundary! {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        let data = try_slice_mut!(data, len);
        q.quantise_slice(data);
        Ok(())
    }
}

/// Quantise `data[0..len]` in place to `mantissa_bits` kept explicit mantissa bits (0..=52)
/// of a `double`. Same rules and errors as `refloat_quantise_f32`.
///
/// # Safety
/// `data` must point to `len` writable `double`s (or be NULL with `len` 0).
#[no_mangle]
pub extern "C" fn refloat_quantise_f64(
    data: *mut f64,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
) -> c_int {
    ffi_panic_boundary! {
        let q = Quantiser64::new(mantissa_bits, rounding_mode(mode)?)?;
        let data = try_slice_mut!(data, len);
        q.quantise_slice(data);
        Ok(())
    }
}

/// The checks shared by `refloat_interval_f32` / `_f64` (NULL, alignment, no overlap), then
/// `fill(stored, lo, hi)`.
fn write_intervals<T>(
    stored: *const T,
    len: usize,
    lo: *mut T,
    hi: *mut T,
    fill: impl FnOnce(&[T], &mut [T], &mut [T]) -> crate::Result<()>,
) -> Result<(), FfiError> {
    let stored_s = try_slice!(stored, len);
    check_disjoint((lo.cast_const(), len, "lo"), (hi.cast_const(), len, "hi"))?;
    check_disjoint((stored, len, "stored"), (lo.cast_const(), len, "lo"))?;
    check_disjoint((stored, len, "stored"), (hi.cast_const(), len, "hi"))?;
    let lo = try_slice_mut!(lo, len);
    let hi = try_slice_mut!(hi, len);
    fill(stored_s, lo, hi)?;
    Ok(())
}

/// For each stored value `stored[i]`, write the closed interval `[lo[i], hi[i]]` of all
/// originals that quantise to it (both ends included; `lo <= hi` numerically). A correction
/// is safe exactly when it stays inside. NaN and ±Inf give `lo = hi = stored`.
///
/// `lo` and `hi` each hold `len` floats and must not overlap `stored` or each other.
/// Returns `REFLOAT_NOT_QUANTISED` (naming the first offending index) if a value is not a
/// stored value at these settings; `lo` and `hi` are written only on success.
///
/// # Safety
/// `stored`, `lo` and `hi` must each point to `len` `float`s (`lo`, `hi` writable), or be NULL with `len` 0.
#[no_mangle]
pub extern "C" fn refloat_interval_f32(
    stored: *const f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
    lo: *mut f32,
    hi: *mut f32,
) -> c_int {
    ffi_panic_boundary! {
        let mode = rounding_mode(mode)?;
        write_intervals(stored, len, lo, hi, |s, l, h| intervals_f32(s, mantissa_bits, mode, l, h))
    }
}

/// `double` twin of `refloat_interval_f32` (0..=52 kept bits).
///
/// # Safety
/// `stored`, `lo` and `hi` must each point to `len` `double`s (`lo`, `hi` writable), or be NULL with `len` 0.
#[no_mangle]
pub extern "C" fn refloat_interval_f64(
    stored: *const f64,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
    lo: *mut f64,
    hi: *mut f64,
) -> c_int {
    ffi_panic_boundary! {
        let mode = rounding_mode(mode)?;
        write_intervals(stored, len, lo, hi, |s, l, h| intervals_f64(s, mantissa_bits, mode, l, h))
    }
}

/// Write the residuals `residual[i] = original[i] − stored[i]`, computed in `double` and
/// rounded once to `float`. `residual` must not overlap the inputs.
///
/// # Safety
/// `original`, `stored` and `residual` must each point to `len` `float`s (`residual` writable), or be NULL with `len` 0.
#[no_mangle]
pub extern "C" fn refloat_residual_f32(
    original: *const f32,
    stored: *const f32,
    len: usize,
    residual: *mut f32,
) -> c_int {
    ffi_panic_boundary! {
        let original_s = try_slice!(original, len);
        let stored_s = try_slice!(stored, len);
        check_disjoint((original, len, "original"), (residual.cast_const(), len, "residual"))?;
        check_disjoint((stored, len, "stored"), (residual.cast_const(), len, "residual"))?;
        let out = try_slice_mut!(residual, len);
        for ((r, &x), &q) in out.iter_mut().zip(original_s).zip(stored_s) {
            *r = self::residual(x, q);
        }
        Ok(())
    }
}

/// Correct stored values in place: replace each by an estimate of its original inside its
/// interval (see `refloat_method`), so that **re-quantising the result gives back the stored
/// value, bit for bit**. Exact-looking values (0, ±1, sentinels) and NaN/±Inf are left
/// alone. `seed` is used only by `REFLOAT_DITHER` (value `i` depends only on `seed` and `i`:
/// give each branch its own seed, e.g. a hash of its name, or the values at the same index of
/// two branches sit at the same relative position inside their intervals).
///
/// `mantissa_bits` and `mode` must be those the data was stored with (see
/// `refloat_infer_mantissa_bits_f32`, and infer from a whole branch, not one event). Returns
/// `REFLOAT_NOT_QUANTISED` naming the first value that cannot have been stored with them;
/// `data` is untouched on any error.
///
/// ```c
/// /* one event's std::vector<float> of a branch stored with 10 bits, rounding to nearest */
/// int rc = refloat_correct_f32(v.data(), v.size(), 10, REFLOAT_NEAREST, REFLOAT_MIDPOINT, 0);
/// ```
///
/// # Safety
/// `data` must point to `len` writable `float`s (or be NULL with `len` 0).
#[no_mangle]
pub extern "C" fn refloat_correct_f32(
    data: *mut f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
    method: MethodArg,
    seed: u64,
) -> c_int {
    ffi_panic_boundary! {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        let method = self::method(method, seed)?;
        let data = try_slice_mut!(data, len);
        correct_in_place_f32(data, &q, method)?;
        Ok(())
    }
}

/// `refloat_correct_f32`, also filling `*report` (on success only) with what was done.
///
/// # Safety
/// `data` must point to `len` writable `float`s (or be NULL with `len` 0); `report` to a writable `refloat_correction_report`.
#[no_mangle]
pub extern "C" fn refloat_correct_report_f32(
    data: *mut f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
    method: MethodArg,
    seed: u64,
    report: *mut refloat_correction_report,
) -> c_int {
    ffi_panic_boundary! {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        let method = self::method(method, seed)?;
        check_disjoint((data.cast_const(), len, "data"), (report.cast_const(), 1, "report"))?;
        let report = try_mut_from_ptr!(report);
        let data_s = try_slice_mut!(data, len);
        *report = correct_in_place_f32(data_s, &q, method)?.into();
        Ok(())
    }
}

/// Check the invariant: every `corrected[i]` re-quantises to `stored[i]`, bit for bit.
/// Returns `REFLOAT_INVALID_INPUT` naming the first index that breaks it.
///
/// # Safety
/// `corrected` and `stored` must each point to `len` `float`s (or be NULL with `len` 0).
#[no_mangle]
pub extern "C" fn refloat_verify_f32(
    corrected: *const f32,
    stored: *const f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
) -> c_int {
    ffi_panic_boundary! {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        let corrected = try_slice!(corrected, len);
        let stored = try_slice!(stored, len);
        verify_requantises_f32(corrected, stored, &q)?;
        Ok(())
    }
}

/// Infer the kept mantissa bits of compressed data: the largest `n` at which every finite
/// value is a stored value (23 − the trailing zero mantissa bits common to all). ATLAS files
/// do not record the bit count. Pass a whole branch: a few values can share extra zero bits
/// by chance and give too small an `n`.
///
/// Writes `*mantissa_bits` on success only; `REFLOAT_CANNOT_INFER_BITS` if no finite value
/// has a non-zero mantissa (empty, all zeros, powers of two or non-finite).
///
/// # Safety
/// `data` must point to `len` `float`s (or be NULL with `len` 0); `mantissa_bits` to a writable `uint32_t`.
#[no_mangle]
pub extern "C" fn refloat_infer_mantissa_bits_f32(
    data: *const f32,
    len: usize,
    mantissa_bits: *mut u32,
) -> c_int {
    ffi_panic_boundary! {
        let data_s = try_slice!(data, len);
        check_disjoint((data, len, "data"), (mantissa_bits.cast_const(), 1, "mantissa_bits"))?;
        let out = try_mut_from_ptr!(mantissa_bits);
        *out = infer_mantissa_bits_f32(data_s)?;
        Ok(())
    }
}

/// The message of the last failed refloat call on the calling thread ("" if that call
/// succeeded; each status-returning call resets it). Owned by the library: valid until the
/// next refloat call on this thread; never NULL, never to be freed.
#[no_mangle]
pub extern "C" fn refloat_last_error() -> *const c_char {
    ffi_panic_boundary_or! { c"".as_ptr();
        super::last_error_ptr()
    }
}

/// A static description of a status code ("unknown status" for a number that is not one).
/// Never NULL, never to be freed.
#[no_mangle]
pub extern "C" fn refloat_status_str(status: c_int) -> *const c_char {
    ffi_panic_boundary_or! { c"unknown status".as_ptr();
        refloat_status::from_code(status).map_or(c"unknown status".as_ptr(), |s| s.description().as_ptr())
    }
}

/// The library version, e.g. "0.1.0" (static, never to be freed).
#[no_mangle]
pub extern "C" fn refloat_version() -> *const c_char {
    ffi_panic_boundary_or! { c"".as_ptr();
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}
