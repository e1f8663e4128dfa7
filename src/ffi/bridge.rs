//! The cxx bridge: refloat for C++ code that uses `rust::Slice`, `rust::Vec` and
//! `std::vector<float>` directly (namespace `refloat::bridge`, generated header
//! `refloat/src/ffi/bridge.rs.h`, wrapped by `cpp/refloat_cxx.hpp`).
//!
//! Errors become C++ exceptions (`rust::Error`, whose `what()` is the message); a panic is
//! caught here and becomes such an exception too, so nothing unwinds into C++. Slices are
//! corrected in place; nothing is copied. A thin view over the same library functions as the
//! C API (`capi.rs`, `files.rs`): enums are parsed by the C API's functions, dither follows
//! the one seeding rule, residuals and file pipelines are the library's.

use std::pin::Pin;

use cxx::CxxVector;

use std::path::Path;

use super::buffers::{self, format_arg, ResolveRequest};
use super::files::{bits_arg, no_progress, FileRequest, FileTotals};
use super::options::{method as capi_method, rounding_mode};
use super::{refloat_status, FfiError};
use crate::bounds::intervals_f32;
use crate::correct::CorrectionReport;
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32};
use crate::residual::residuals_into_f32;
use crate::resolve::Resolution;

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
        /// CMS NanoAOD (`reduceMantissaToNbitsRounding`): no carry, top two codes kept.
        Cms = 3,
        /// ROOT `Float16_t` with `[0,0,n]`: saturating at the top code.
        RootFloat16 = 4,
        /// netCDF-4 `BITROUND`: no overflow guard.
        BitRound = 5,
        /// Resolve the scheme: the one the values show, else the format's producer's.
        Detect = 6,
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
        /// Values left alone as exact by nature (the four below together).
        left_exact: usize,
        /// NaN and ±Inf, left alone.
        non_finite: usize,
        /// Of `left_exact`: ±0, ±1 and other short mantissas.
        left_short_mantissa: usize,
        /// Of `left_exact`: the conventional sentinels (-999, …).
        left_sentinel: usize,
        /// Of `left_exact`: the branch's spikes.
        left_spike: usize,
        /// Of `left_exact`: values on the branch's lattice (and ambiguous CMS top codes).
        left_lattice: usize,
    }

    /// What to tell the resolver (the C `refloat_resolve_options`).
    #[derive(Debug, Clone)]
    struct ResolveOptions {
        /// Kept bits 0..=23; -1: resolved.
        mantissa_bits: i32,
        /// The scheme; `Detect`: resolved.
        mode: Rounding,
        /// "atlas", "cms", "unknown"; "": the tree's for a file, unknown for a buffer.
        format: String,
        /// The branch a buffer belongs to (its declared precision); "" for none.
        branch: String,
        /// Leave values exact by nature alone.
        leave_exact: bool,
    }

    /// Options of [`compress_file`] and [`correct_file`] (the C `refloat_file_options`
    /// without the callback).
    #[derive(Debug, Clone)]
    struct FileOptions {
        /// Tree; "": the analysis tree ("CollectionTree", else "Events", else the only tree with floats).
        tree: String,
        /// Branch names or globs; empty: every float branch.
        branches: Vec<String>,
        /// Kept bits 0..=23; -1: inferred per branch (correct only).
        mantissa_bits: i32,
        mode: Rounding,
        method: Method,
        seed: u64,
        /// "zstd:5", "none", …; "": the input's.
        compression: String,
        /// Correct: verify the written file before committing it.
        verify: bool,
        /// "atlas", "cms", "unknown"; "": the tree's.
        format: String,
        /// Correct: leave values exact by nature alone.
        leave_exact: bool,
        /// Copy a record that does not decode (counted in `damaged_copies`) instead of
        /// failing.
        allow_damaged_copies: bool,
        /// Threads that decompress and compress baskets: 0 every core, 1 one thread (the
        /// output is the same bytes).
        threads: u32,
    }

    /// What a file pipeline did (the C `refloat_file_report`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct FileReport {
        branches: u64,
        values: u64,
        changed: u64,
        corrected: u64,
        left_exact: u64,
        non_finite: u64,
        not_inferable: u64,
        verified_values: u64,
        input_bytes: u64,
        output_bytes: u64,
        left_short_mantissa: u64,
        left_sentinel: u64,
        left_spike: u64,
        left_lattice: u64,
        floats_left_alone: u64,
        damaged_copies: u64,
    }

    /// Intervals of originals: `lo[i] <= original <= hi[i]` for every original that was stored
    /// as value `i`.
    #[derive(Debug, Clone)]
    struct Intervals {
        lo: Vec<f32>,
        hi: Vec<f32>,
    }

    extern "Rust" {
        /// How a branch was rounded and what in it is exact, as the resolver decided.
        type BranchResolution;

        /// Resolve stored values on their own (pass a whole branch).
        fn resolve_buffer(data: &[f32], options: &ResolveOptions) -> Result<Box<BranchResolution>>;

        /// Resolve branch `branch` of tree `tree` ("": the analysis tree) of a ROOT file, as
        /// `refloat correct` does.
        fn resolve_file(
            path: &str,
            tree: &str,
            branch: &str,
            options: &ResolveOptions,
        ) -> Result<Box<BranchResolution>>;

        /// The default resolve options (see `refloat_resolve_options_default` in C).
        fn default_resolve_options() -> ResolveOptions;

        /// Kept bits the branch is corrected at (the largest, per value); -1: left as stored.
        fn mantissa_bits(self: &BranchResolution) -> i32;

        /// The scheme.
        fn mode(self: &BranchResolution) -> Rounding;

        /// The whole resolution as JSON (as `refloat_resolution_json`).
        fn json(self: &BranchResolution) -> String;

        /// Correct a piece of the resolved branch in place (its first value is value
        /// `first_index` of the branch): the bits `refloat correct` gives the file.
        fn correct(
            self: &BranchResolution,
            data: &mut [f32],
            method: Method,
            seed: u64,
            branch: &str,
            first_index: u64,
        ) -> Result<CorrectionSummary>;

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

        /// Correct a piece of branch `branch` in place under the one seeding rule: Dither
        /// draws value `i` from `(seed mixed with branch, first_index + i)`, `first_index`
        /// being the index of `data[0]` in the whole branch (entries flattened). Same bits as
        /// `refloat correct --method dither:SEED` and `refloat_correct_branch_f32`.
        fn correct_branch(
            data: &mut [f32],
            mantissa_bits: u32,
            mode: Rounding,
            method: Method,
            seed: u64,
            branch: &str,
            first_index: u64,
        ) -> Result<CorrectionSummary>;

        /// Correct a whole jagged branch `branch` in place: `values` holds all events
        /// concatenated and `counts[e]` the number of values of event `e` (their sum must be
        /// `values.len()`). Dither follows the one seeding rule with the index over the whole
        /// branch, and PriorMean's density comes from the whole branch: the result equals
        /// [`correct_branch`] on the concatenated values from index 0.
        fn correct_events(
            values: &mut [f32],
            counts: &[u64],
            mantissa_bits: u32,
            mode: Rounding,
            method: Method,
            seed: u64,
            branch: &str,
        ) -> Result<CorrectionSummary>;

        /// The default file options (see `refloat_file_options_default` in C).
        fn default_file_options() -> FileOptions;

        /// Compress a ROOT file into a drop-in copy (see `refloat_compress_file`).
        fn compress_file(input: &str, output: &str, options: &FileOptions) -> Result<FileReport>;

        /// Correct a compressed ROOT file into a verified drop-in copy (see
        /// `refloat_correct_file`).
        fn correct_file(input: &str, output: &str, options: &FileOptions) -> Result<FileReport>;

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

pub use ffi::{
    CorrectionSummary, FileOptions, FileReport, Intervals, Method as BridgeMethod, ResolveOptions,
    Rounding,
};

/// An error crossing into C++ (becomes `rust::Error`, `what()` = the message).
pub(super) type BridgeResult<T> = Result<T, String>;

thread_local! {
    /// Status of the last bridge call on this thread (see `last_error_status`).
    static LAST_STATUS: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// Run `f`, turning an error or a panic into the message C++ sees (and recording its C
/// status for [`last_error_status`]).
pub(super) fn boundary<T>(f: impl FnOnce() -> Result<T, FfiError>) -> BridgeResult<T> {
    let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::test_hooks::maybe_panic();
        f()
    })) {
        Ok(r) => r,
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

/// The C API's parsing of the shared enums (same numbers).
fn quantiser(mantissa_bits: u32, mode: Rounding) -> Result<Quantiser32, FfiError> {
    Ok(Quantiser32::new(mantissa_bits, rounding_mode(mode.repr)?)?)
}

impl From<CorrectionReport> for CorrectionSummary {
    fn from(r: CorrectionReport) -> Self {
        CorrectionSummary {
            corrected: r.corrected,
            left_exact: r.left_exact,
            non_finite: r.non_finite,
            left_short_mantissa: r.exact.short_mantissa,
            left_sentinel: r.exact.sentinel,
            left_spike: r.exact.spike,
            left_lattice: r.exact.lattice,
        }
    }
}

/// A resolution, for C++.
pub struct BranchResolution(Resolution);

fn resolve_request<'a>(
    o: &'a ResolveOptions,
    branch: Option<&'a str>,
) -> Result<ResolveRequest<'a>, FfiError> {
    Ok(ResolveRequest {
        bits: bits_arg(o.mantissa_bits, "mantissa_bits")?,
        mode: o.mode.repr,
        format: format_arg(Some(&o.format))?,
        branch: branch.unwrap_or(&o.branch),
        leave_exact: o.leave_exact,
    })
}

fn resolve_buffer(data: &[f32], options: &ResolveOptions) -> BridgeResult<Box<BranchResolution>> {
    boundary(|| {
        let req = resolve_request(options, None)?;
        Ok(Box::new(BranchResolution(buffers::resolve_buffer(
            data, &req,
        )?)))
    })
}

fn resolve_file(
    path: &str,
    tree: &str,
    branch: &str,
    options: &ResolveOptions,
) -> BridgeResult<Box<BranchResolution>> {
    boundary(|| {
        let req = resolve_request(options, Some(branch))?;
        let tree = (!tree.is_empty()).then_some(tree);
        Ok(Box::new(BranchResolution(buffers::resolve_branch(
            Path::new(path),
            tree,
            &req,
        )?)))
    })
}

fn default_resolve_options() -> ResolveOptions {
    ResolveOptions {
        mantissa_bits: -1,
        mode: Rounding::Detect,
        format: String::new(),
        branch: String::new(),
        leave_exact: true,
    }
}

impl BranchResolution {
    fn mantissa_bits(&self) -> i32 {
        self.0.bits.map_or(-1, |b| b as i32)
    }

    fn mode(&self) -> Rounding {
        Rounding {
            repr: super::options::rounding_number(self.0.mode),
        }
    }

    fn json(&self) -> String {
        self.0.to_json().unwrap_or_default()
    }

    fn correct(
        &self,
        data: &mut [f32],
        method: BridgeMethod,
        seed: u64,
        branch: &str,
        first_index: u64,
    ) -> BridgeResult<CorrectionSummary> {
        boundary(|| {
            let m = capi_method(method.repr, seed)?;
            Ok(buffers::correct_buffer(data, &self.0, m, branch, first_index)?.into())
        })
    }
}

fn quantise(data: &mut [f32], mantissa_bits: u32, mode: Rounding) -> BridgeResult<()> {
    boundary(|| {
        quantiser(mantissa_bits, mode)?.quantise_slice(data);
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
    correct_branch(data, mantissa_bits, mode, method, seed, "", 0)
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

fn correct_branch(
    data: &mut [f32],
    mantissa_bits: u32,
    mode: Rounding,
    method: BridgeMethod,
    seed: u64,
    branch: &str,
    first_index: u64,
) -> BridgeResult<CorrectionSummary> {
    boundary(|| {
        let m = capi_method(method.repr, seed)?;
        let req = ResolveRequest {
            bits: Some(mantissa_bits),
            mode: mode.repr,
            format: None,
            branch,
            leave_exact: true,
        };
        Ok(buffers::correct_resolving(data, &req, m, first_index)?.into())
    })
}

fn correct_events(
    values: &mut [f32],
    counts: &[u64],
    mantissa_bits: u32,
    mode: Rounding,
    method: BridgeMethod,
    seed: u64,
    branch: &str,
) -> BridgeResult<CorrectionSummary> {
    let total = counts.iter().try_fold(0u64, |a, &c| a.checked_add(c));
    if total != Some(values.len() as u64) {
        return boundary(|| {
            Err(crate::Error::LengthMismatch {
                what: "sum of counts vs values".into(),
                left: total.map_or(usize::MAX, |t| t as usize),
                right: values.len(),
            }
            .into())
        });
    }
    // the whole branch at once (it checks every value before writing any)
    correct_branch(values, mantissa_bits, mode, method, seed, branch, 0)
}

fn default_file_options() -> FileOptions {
    FileOptions {
        tree: String::new(),
        branches: Vec::new(),
        mantissa_bits: -1,
        mode: Rounding::Detect,
        method: BridgeMethod::Midpoint,
        seed: 0,
        compression: String::new(),
        verify: true,
        format: String::new(),
        leave_exact: true,
        allow_damaged_copies: false,
        threads: 0,
    }
}

fn file_request(o: &FileOptions) -> Result<FileRequest, FfiError> {
    let bits = bits_arg(o.mantissa_bits, "mantissa_bits")?;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(FileRequest {
        tree: non_empty(&o.tree),
        branches: o.branches.clone(),
        bits,
        mode: o.mode.repr,
        method: o.method.repr,
        seed: o.seed,
        compression: non_empty(&o.compression),
        verify: o.verify,
        format: format_arg(Some(&o.format))?,
        leave_exact: o.leave_exact,
        allow_damaged_copies: o.allow_damaged_copies,
        threads: o.threads as usize,
    })
}

impl From<FileTotals> for FileReport {
    fn from(t: FileTotals) -> Self {
        FileReport {
            branches: t.branches,
            values: t.values,
            changed: t.changed,
            corrected: t.corrected,
            left_exact: t.left_exact,
            non_finite: t.non_finite,
            not_inferable: t.not_inferable,
            verified_values: t.verified_values,
            input_bytes: t.input_bytes,
            output_bytes: t.output_bytes,
            left_short_mantissa: t.left_short_mantissa,
            left_sentinel: t.left_sentinel,
            left_spike: t.left_spike,
            left_lattice: t.left_lattice,
            floats_left_alone: t.floats_left_alone,
            damaged_copies: t.damaged_copies,
        }
    }
}

fn compress_file(input: &str, output: &str, options: &FileOptions) -> BridgeResult<FileReport> {
    boundary(|| {
        let r = file_request(options)?;
        Ok(
            r.compress(Path::new(input), Path::new(output), &mut no_progress)?
                .into(),
        )
    })
}

fn correct_file(input: &str, output: &str, options: &FileOptions) -> BridgeResult<FileReport> {
    boundary(|| {
        let r = file_request(options)?;
        Ok(
            r.correct(Path::new(input), Path::new(output), &mut no_progress)?
                .into(),
        )
    })
}

fn infer_mantissa_bits(data: &[f32]) -> BridgeResult<u32> {
    boundary(|| Ok(infer_mantissa_bits_f32(data)?))
}

fn intervals(stored: &[f32], mantissa_bits: u32, mode: Rounding) -> BridgeResult<Intervals> {
    boundary(|| {
        let mut lo = vec![0.0f32; stored.len()];
        let mut hi = vec![0.0f32; stored.len()];
        intervals_f32(
            stored,
            mantissa_bits,
            rounding_mode(mode.repr)?,
            &mut lo,
            &mut hi,
        )?;
        Ok(Intervals { lo, hi })
    })
}

fn residuals(original: &[f32], stored: &[f32]) -> BridgeResult<Vec<f32>> {
    boundary(|| {
        let mut out = vec![0.0f32; stored.len()];
        residuals_into_f32(original, stored, &mut out)?;
        Ok(out)
    })
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
