//! The cxx bridge: refloat for C++ code that uses `rust::Slice`, `rust::Vec` and
//! `std::vector<float>` directly (namespace `refloat::bridge`, generated header
//! `refloat/src/ffi/bridge.rs.h`, wrapped by `cpp/refloat_cxx.hpp`).
//!
//! Errors become C++ exceptions (`rust::Error`, whose `what()` is the message); a panic is
//! caught here and becomes such an exception too, so nothing unwinds into C++. Slices are
//! corrected in place; nothing is copied.

use std::pin::Pin;

use cxx::CxxVector;

use super::{refloat_status, FfiError};
use crate::bounds::intervals_f32;
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use crate::triage::{correct_in_place_f32, CorrectionReport, Method};

#[cxx::bridge(namespace = "refloat::bridge")]
mod ffi {
    /// How the dropped mantissa bits were removed (same numbers as the C `refloat_rounding`).
    #[derive(Debug)]
    #[repr(u32)]
    enum Rounding {
        /// Round half away from zero on the magnitude (ATLAS `FloatCompressor`).
        Nearest = 0,
        /// Toward zero (ROOT RNTuple `Real32Trunc`).
        Truncate = 1,
        /// IEEE round half to even on the kept bits.
        NearestEven = 2,
    }

    /// The estimator used inside each interval (same numbers as the C `refloat_method`).
    #[derive(Debug)]
    #[repr(u32)]
    enum Method {
        /// Centre of the interval.
        Midpoint = 0,
        /// Uniform in the interval, from `(seed, index)` only.
        Dither = 1,
        /// Conditional mean under a density estimated from the buffer (pass a whole branch).
        PriorMean = 2,
    }

    /// What a correction did.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct CorrectionSummary {
        /// Values given a new estimate.
        corrected: usize,
        /// Values left alone as exact (0, ±1, sentinels, many trailing zero bits).
        left_exact: usize,
        /// NaN and ±Inf, left alone.
        non_finite: usize,
    }

    /// Intervals of originals: `lo[i] <= original <= hi[i]` for every original that was stored
    /// as value `i`.
    #[derive(Debug, Clone)]
    struct Intervals {
        lo: Vec<f32>,
        hi: Vec<f32>,
    }

    extern "Rust" {
        /// Quantise in place, as the compression did.
        fn quantise(data: &mut [f32], mantissa_bits: u32, mode: Rounding) -> Result<()>;

        /// Correct stored values in place; every result re-quantises to its stored value.
        /// `data` is untouched if an exception is thrown.
        fn correct(
            data: &mut [f32],
            mantissa_bits: u32,
            mode: Rounding,
            method: Method,
            seed: u64,
        ) -> Result<CorrectionSummary>;

        /// [`correct`] on a `std::vector<float>` (e.g. an xAOD aux branch's per-event vector).
        fn correct_vector(
            data: Pin<&mut CxxVector<f32>>,
            mantissa_bits: u32,
            mode: Rounding,
            method: Method,
            seed: u64,
        ) -> Result<CorrectionSummary>;

        /// Correct a whole jagged branch in place: `values` holds all events concatenated
        /// and `counts[e]` the number of values of event `e` (their sum must be
        /// `values.len()`). Dither draws value `i` from `(seed, i)` with `i` indexed over the
        /// whole branch (no two events share draws) and PriorMean's density comes from the
        /// whole branch: the result equals [`correct`] on the concatenated values.
        fn correct_events(
            values: &mut [f32],
            counts: &[u64],
            mantissa_bits: u32,
            mode: Rounding,
            method: Method,
            seed: u64,
        ) -> Result<CorrectionSummary>;

        /// The kept mantissa bits of compressed data (pass a whole branch).
        fn infer_mantissa_bits(data: &[f32]) -> Result<u32>;

        /// The interval of originals of every stored value.
        fn intervals(stored: &[f32], mantissa_bits: u32, mode: Rounding) -> Result<Intervals>;

        /// `original − stored`, computed in `f64`, rounded once to `f32`.
        fn residuals(original: &[f32], stored: &[f32]) -> Result<Vec<f32>>;

        /// The C status number (`refloat_status`) of the last exception thrown by this
        /// bridge on the calling thread (0 if the last call succeeded).
        fn last_error_status() -> i32;

        /// The library version, e.g. "0.1.0".
        fn version() -> &'static str;
    }
}

pub use ffi::{CorrectionSummary, Intervals, Method as BridgeMethod, Rounding};

/// An error crossing into C++ (becomes `rust::Error`, `what()` = the message).
type BridgeResult<T> = Result<T, String>;

thread_local! {
    /// Status of the last bridge call on this thread (see `last_error_status`).
    static LAST_STATUS: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// Run `f`, turning a refloat error or a panic into the message C++ sees (and recording
/// its C status for [`last_error_status`]).
fn boundary<T>(f: impl FnOnce() -> crate::Result<T>) -> BridgeResult<T> {
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::test_hooks::maybe_panic();
        f()
    })) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FfiError::from(e)),
        Err(payload) => Err(FfiError::new(
            refloat_status::REFLOAT_PANIC,
            format!(
                "internal error: panic inside refloat caught at the C++ boundary: {}",
                super::panic_message(payload.as_ref())
            ),
        )),
    };
    let status = outcome
        .as_ref()
        .err()
        .map_or(refloat_status::REFLOAT_OK, |e| e.status);
    LAST_STATUS.with(|s| s.set(status as i32));
    outcome.map_err(|e| e.message)
}

fn last_error_status() -> i32 {
    LAST_STATUS.with(|s| s.get())
}

fn rounding_mode(mode: Rounding) -> crate::Result<RoundingMode> {
    match mode {
        Rounding::Nearest => Ok(RoundingMode::Nearest),
        Rounding::Truncate => Ok(RoundingMode::Truncate),
        Rounding::NearestEven => Ok(RoundingMode::NearestEven),
        other => Err(crate::Error::InvalidArgument(format!(
            "rounding mode {} is not a refloat::bridge::Rounding",
            other.repr
        ))),
    }
}

fn method(method: BridgeMethod, seed: u64) -> crate::Result<Method> {
    match method {
        BridgeMethod::Midpoint => Ok(Method::Midpoint),
        BridgeMethod::Dither => Ok(Method::Dither { seed }),
        BridgeMethod::PriorMean => Ok(Method::PriorMean),
        other => Err(crate::Error::InvalidArgument(format!(
            "method {} is not a refloat::bridge::Method",
            other.repr
        ))),
    }
}

impl From<CorrectionReport> for CorrectionSummary {
    fn from(r: CorrectionReport) -> Self {
        CorrectionSummary {
            corrected: r.corrected,
            left_exact: r.left_exact,
            non_finite: r.non_finite,
        }
    }
}

fn quantise(data: &mut [f32], mantissa_bits: u32, mode: Rounding) -> BridgeResult<()> {
    boundary(|| {
        Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?.quantise_slice(data);
        Ok(())
    })
}

fn correct(
    data: &mut [f32],
    mantissa_bits: u32,
    mode: Rounding,
    method: BridgeMethod,
    seed: u64,
) -> BridgeResult<CorrectionSummary> {
    boundary(|| {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        Ok(correct_in_place_f32(data, &q, self::method(method, seed)?)?.into())
    })
}

fn correct_vector(
    data: Pin<&mut CxxVector<f32>>,
    mantissa_bits: u32,
    mode: Rounding,
    method: BridgeMethod,
    seed: u64,
) -> BridgeResult<CorrectionSummary> {
    correct(data.as_mut_slice(), mantissa_bits, mode, method, seed)
}

fn correct_events(
    values: &mut [f32],
    counts: &[u64],
    mantissa_bits: u32,
    mode: Rounding,
    method: BridgeMethod,
    seed: u64,
) -> BridgeResult<CorrectionSummary> {
    boundary(|| {
        let q = Quantiser32::new(mantissa_bits, rounding_mode(mode)?)?;
        let method = self::method(method, seed)?;
        let total = counts.iter().try_fold(0u64, |a, &c| a.checked_add(c));
        if total != Some(values.len() as u64) {
            return Err(crate::Error::LengthMismatch {
                what: "sum of counts vs values".into(),
                left: total.map_or(usize::MAX, |t| t as usize),
                right: values.len(),
            });
        }
        // the whole branch at once (it checks every value before writing any)
        Ok(correct_in_place_f32(values, &q, method)?.into())
    })
}

fn infer_mantissa_bits(data: &[f32]) -> BridgeResult<u32> {
    boundary(|| infer_mantissa_bits_f32(data))
}

fn intervals(stored: &[f32], mantissa_bits: u32, mode: Rounding) -> BridgeResult<Intervals> {
    boundary(|| {
        let mut lo = vec![0.0f32; stored.len()];
        let mut hi = vec![0.0f32; stored.len()];
        intervals_f32(
            stored,
            mantissa_bits,
            rounding_mode(mode)?,
            &mut lo,
            &mut hi,
        )?;
        Ok(Intervals { lo, hi })
    })
}

fn residuals(original: &[f32], stored: &[f32]) -> BridgeResult<Vec<f32>> {
    boundary(|| {
        if original.len() != stored.len() {
            return Err(crate::Error::LengthMismatch {
                what: "original vs stored".into(),
                left: original.len(),
                right: stored.len(),
            });
        }
        Ok(original
            .iter()
            .zip(stored)
            .map(|(&x, &q)| (x as f64 - q as f64) as f32)
            .collect())
    })
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
