//! The `refloat_*` C functions. Each body is one [`ffi_panic_boundary!`]; pointers go through
//! the `try_*` macros; outputs are written only after every check has passed.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

use super::buffers::{correct_resolving, format_arg, resolve_buffer, ResolveRequest};
use super::files::{self, bits_arg, FileRequest, FileTotals};
use super::options::*;
use super::{c_str, c_str_opt, check_disjoint, refloat_status, FfiError};
use crate::bounds::{intervals_f32, intervals_f64};
use crate::correct::{verify_requantises_f32, CorrectionReport};
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32, Quantiser64};
use crate::replicas::{histogram_spread, replica_seed, ReplicaSource, ResolvedReplicas};
use crate::residual::residuals_into_f32;

/// What a correction did (filled by `refloat_correct_report_f32`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct refloat_correction_report {
    /// Values given a new estimate (the estimate may equal the stored value).
    pub corrected: usize,
    /// Values left alone because they are exact by nature (the sum of the four below).
    pub left_exact: usize,
    /// NaN and ±Inf, left alone.
    pub non_finite: usize,
    /// Of `left_exact`: ±0, ±1 and other values with a very short mantissa.
    pub left_short_mantissa: usize,
    /// Of `left_exact`: the conventional sentinels (-999, -99, -9999, ±100, …).
    pub left_sentinel: usize,
    /// Of `left_exact`: the branch's spikes (values far more frequent than their neighbours).
    pub left_spike: usize,
    /// Of `left_exact`: values on the branch's lattice (and ambiguous CMS top codes).
    pub left_lattice: usize,
}

impl From<CorrectionReport> for refloat_correction_report {
    fn from(r: CorrectionReport) -> Self {
        refloat_correction_report {
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
/// rounded once to `float`. `residual` must not overlap the inputs. Returns
/// `REFLOAT_INVALID_INPUT` naming the first NaN or ±Inf (a residual needs finite values);
/// `residual` is written only on success.
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
        residuals_into_f32(original_s, stored_s, out)?;
        Ok(())
    }
}

/// Correct stored values in place: replace each by an estimate of its original inside its
/// interval (see `refloat_method`), so that **re-quantising the result gives back the stored
/// value, bit for bit**. Values exact by nature are left alone: ±0, ±1 and other short
/// mantissas, the conventional sentinels (-999, …), and the spikes and lattice the buffer's
/// own statistics show (the resolver's rules, as for a file: pass a whole branch, or resolve
/// one once with `refloat_resolve_file` and use `refloat_correct_resolved_f32`). NaN/±Inf are
/// left alone. `seed` is used only by `REFLOAT_DITHER` (value `i` depends only on `seed` and
/// `i`; see `refloat_correct_branch_f32` for the seeding rule with a branch name).
///
/// `mantissa_bits` must be those the data was stored with; `mode` the scheme, or
/// `REFLOAT_DETECT` for the one the values show (ATLAS's `REFLOAT_NEAREST` where they cannot
/// tell). Returns `REFLOAT_NOT_QUANTISED` naming the first value that cannot have been
/// stored with them; `data` is untouched on any error.
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
        let method = self::method(method, seed)?;
        let data = try_slice_mut!(data, len);
        correct_resolving(data, &buffer_request(mantissa_bits, mode, ""), method, 0)?;
        Ok(())
    }
}

/// The request of a buffer correction with given bits.
fn buffer_request(bits: u32, mode: RoundingArg, branch: &str) -> ResolveRequest<'_> {
    ResolveRequest {
        bits: Some(bits),
        mode,
        format: None,
        branch,
        leave_exact: true,
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
        let method = self::method(method, seed)?;
        check_disjoint((data.cast_const(), len, "data"), (report.cast_const(), 1, "report"))?;
        let report = try_mut_from_ptr!(report);
        let data_s = try_slice_mut!(data, len);
        *report = correct_resolving(data_s, &buffer_request(mantissa_bits, mode, ""), method, 0)?.into();
        Ok(())
    }
}

/// `refloat_correct_report_f32` for a piece of a named branch, under refloat's one seeding
/// rule: with `REFLOAT_DITHER`, value `i` of `data` draws its random number from
/// `(seed mixed with branch, first_index + i)`, where `first_index` is the index of `data[0]`
/// among all values of the branch across the file (entries flattened, from 0). Correcting a
/// branch event by event (passing each event's offset), in chunks or in one call gives the
/// same dither draws as `refloat correct --method dither:SEED` on the file; the values left
/// alone are those this buffer's statistics show (for the file's, resolve the branch once
/// with `refloat_resolve_file` and use `refloat_correct_resolved_f32`). `branch` NULL or ""
/// uses the seed as given (`refloat_correct_f32`'s rule). `report` may be NULL.
///
/// ```c
/// uint64_t first = 0;                       /* values of the branch before this event */
/// for (each event) {
///     refloat_correct_branch_f32(v, n, 10, REFLOAT_NEAREST, REFLOAT_DITHER, 42,
///                                "AnalysisJetsAuxDyn.pt", first, NULL);
///     first += n;
/// }
/// ```
///
/// # Safety
/// `data` must point to `len` writable `float`s (or be NULL with `len` 0); `branch` NULL or a
/// NUL-terminated string; `report` NULL or a writable `refloat_correction_report`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn refloat_correct_branch_f32(
    data: *mut f32,
    len: usize,
    mantissa_bits: u32,
    mode: RoundingArg,
    method: MethodArg,
    seed: u64,
    branch: *const c_char,
    first_index: u64,
    report: *mut refloat_correction_report,
) -> c_int {
    ffi_panic_boundary! {
        let method = self::method(method, seed)?;
        // SAFETY: the caller's contract (NULL or NUL-terminated).
        let branch = unsafe { c_str_opt(branch, "branch")? }.unwrap_or("");
        check_disjoint((data.cast_const(), len, "data"), (report.cast_const(), usize::from(!report.is_null()), "report"))?;
        let data_s = try_slice_mut!(data, len);
        let r = correct_resolving(data_s, &buffer_request(mantissa_bits, mode, branch), method, first_index)?;
        if !report.is_null() {
            let report = try_mut_from_ptr!(report);
            *report = r.into();
        }
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

// ---- replicas ------------------------------------------------------------------------

/// The quantiser of a replica call: `mantissa_bits` given (0..=23), or `-1` to infer them
/// from `stored` (pass a whole branch).
fn replica_source(
    stored: &[f32],
    mantissa_bits: i32,
    mode: RoundingArg,
    seed: u64,
    branch: &str,
) -> Result<ResolvedReplicas, FfiError> {
    let req = ResolveRequest {
        bits: bits_arg(mantissa_bits, "mantissa_bits")?,
        mode,
        format: None,
        branch,
        leave_exact: true,
    };
    let r = resolve_buffer(stored, &req)?;
    if r.bits.is_none() {
        return Err(crate::Error::CannotInferBits(format!(
            "{} (give the kept bits)",
            r.note.as_deref().unwrap_or("the kept bits cannot be told")
        ))
        .into());
    }
    Ok(ResolvedReplicas::new(r, seed, branch))
}

/// Write replica `replica` of the stored values `stored[0..len]` into `out[0..len]`: each
/// value drawn uniformly inside its interval of originals, exactly the dither correction
/// with seed `replica_seed(seed, replica)` under refloat's one seeding rule for `branch`
/// (NULL or "": the seed as given). `stored` is a whole branch, entries flattened, from
/// index 0: replica `r` then equals the branch as
/// `refloat correct --method dither:<replica_seed(seed, r)>` writes it. Exact values (0, ±1,
/// sentinels) are copied; every replica value re-quantises to its stored value (checked).
///
/// `mantissa_bits`: 0..=23, or -1 to infer them from `stored`. Returns `REFLOAT_OK`, or
/// `REFLOAT_NULL_PARAMETER`, `REFLOAT_MANTISSA_BITS_OUT_OF_RANGE`, `REFLOAT_INVALID_ARGUMENT`
/// (bad mode, overlapping buffers), `REFLOAT_NOT_QUANTISED`, `REFLOAT_CANNOT_INFER_BITS`;
/// `out` is written only on success.
///
/// ```c
/// float replica[n];
/// for (uint32_t r = 0; r < 50; ++r) {
///     refloat_replica_f32(pt, n, -1, REFLOAT_NEAREST, 42, r, "AnalysisJetsAuxDyn.pt", replica);
///     /* fill this replica's histogram from replica[0..n] */
/// }
/// ```
///
/// # Safety
/// `stored` must point to `len` `float`s and `out` to `len` writable `float`s (each NULL only
/// with `len` 0), not overlapping; `branch` NULL or a NUL-terminated string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn refloat_replica_f32(
    stored: *const f32,
    len: usize,
    mantissa_bits: i32,
    mode: RoundingArg,
    seed: u64,
    replica: u32,
    branch: *const c_char,
    out: *mut f32,
) -> c_int {
    ffi_panic_boundary! {
        let stored_s = try_slice!(stored, len);
        // SAFETY: the caller's contract (NULL or NUL-terminated).
        let branch = unsafe { c_str_opt(branch, "branch")? }.unwrap_or("");
        check_disjoint((stored, len, "stored"), (out.cast_const(), len, "out"))?;
        let out = try_slice_mut!(out, len);
        let source = replica_source(stored_s, mantissa_bits, mode, seed, branch)?;
        let mut values = vec![0.0f32; len];
        source.replica_into(stored_s, replica, &mut values)?;
        out.copy_from_slice(&values);
        Ok(())
    }
}

/// The dither seed of replica `replica` under the user's `seed` (refloat's one rule,
/// `splitmix64_mix(seed ^ (replica + 1) * 0x9E3779B97F4A7C15)`): replica `r` of a file is
/// `refloat correct --method dither:<refloat_replica_seed(seed, r)>` of it.
#[no_mangle]
pub extern "C" fn refloat_replica_seed(seed: u64, replica: u32) -> u64 {
    ffi_panic_boundary_or! { 0;
        replica_seed(seed, replica)
    }
}

/// The spread of a histogram of the stored values `stored[0..len]` over `n_replicas`
/// replicas (`refloat_replica_f32` with `r = 0..n_replicas`), on the `n_edges` edges
/// `edges` (finite, strictly increasing; bins `[e_i, e_i+1)`, the last closed; values outside
/// not counted). Writes per bin (`n_edges - 1` doubles each): `nominal` (counts of the stored
/// values), `mean` and `std` (sample standard deviation) of the count over the replicas.
/// Memory: one replica at a time.
///
/// Returns as `refloat_replica_f32`, and `REFLOAT_INVALID_ARGUMENT` for `n_replicas` 0 or bad
/// edges; the outputs are written only on success.
///
/// # Safety
/// `stored` must point to `len` `float`s, `edges` to `n_edges` `double`s, `nominal`, `mean`
/// and `std` each to `n_edges - 1` writable `double`s (none overlapping); `branch` NULL or a
/// NUL-terminated string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn refloat_histogram_spread_f32(
    stored: *const f32,
    len: usize,
    mantissa_bits: i32,
    mode: RoundingArg,
    seed: u64,
    branch: *const c_char,
    n_replicas: u32,
    edges: *const f64,
    n_edges: usize,
    nominal: *mut f64,
    mean: *mut f64,
    std: *mut f64,
) -> c_int {
    ffi_panic_boundary! {
        let stored_s = try_slice!(stored, len);
        let edges_s = try_slice!(edges, n_edges);
        // SAFETY: the caller's contract (NULL or NUL-terminated).
        let branch = unsafe { c_str_opt(branch, "branch")? }.unwrap_or("");
        let bins = n_edges.saturating_sub(1);
        let outs = [(nominal.cast_const(), "nominal"), (mean.cast_const(), "mean"), (std.cast_const(), "std")];
        for (i, &(a, an)) in outs.iter().enumerate() {
            check_disjoint((stored, len, "stored"), (a, bins, an))?;
            check_disjoint((edges, n_edges, "edges"), (a, bins, an))?;
            for &(b, bn) in &outs[i + 1..] {
                check_disjoint((a, bins, an), (b, bins, bn))?;
            }
        }
        let nominal = try_slice_mut!(nominal, bins);
        let mean = try_slice_mut!(mean, bins);
        let std = try_slice_mut!(std, bins);
        let source = replica_source(stored_s, mantissa_bits, mode, seed, branch)?;
        let h = histogram_spread(stored_s, edges_s, n_replicas, &source)?;
        nominal.copy_from_slice(&h.nominal);
        mean.copy_from_slice(&h.mean);
        std.copy_from_slice(&h.std);
        Ok(())
    }
}

// ---- files ---------------------------------------------------------------------------

/// Progress of a file pipeline: `done` of `total` branches of `stage` ("scanning", "rounding",
/// "correcting", "verifying") are finished and `branch` is being worked on ("" at the start
/// and the end of a stage). Called on the calling thread; the strings are valid during the
/// call only. `user` is `refloat_file_options.progress_user`.
pub type refloat_progress_fn = Option<
    extern "C" fn(
        stage: *const c_char,
        done: usize,
        total: usize,
        branch: *const c_char,
        user: *mut c_void,
    ),
>;

/// Options of `refloat_compress_file` and `refloat_correct_file`. Start from
/// `refloat_file_options_default()` and set what differs.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct refloat_file_options {
    /// Tree name; NULL or "": the file's analysis tree ("CollectionTree", else "Events", else
    /// the only tree with float branches).
    pub tree: *const c_char,
    /// Comma-separated branch names or globs ("AnalysisJetsAuxDyn.*"); NULL or "": every
    /// float and std::vector<float> branch of the tree.
    pub branches: *const c_char,
    /// Kept explicit mantissa bits, 0..=23. Compress: required. Correct: -1 (default)
    /// resolves them per branch (as `refloat correct` does).
    pub mantissa_bits: i32,
    /// The rounding the file is (to be) stored with. `REFLOAT_DETECT` (default): correct
    /// resolves it per branch (the values', else the format's producer's); compress uses the
    /// format's producer's (ATLAS's for CollectionTree, CMS's for Events).
    pub mode: RoundingArg,
    /// Correct only: the estimator.
    pub method: MethodArg,
    /// Correct only: the user's dither seed (mixed with each branch's name, see
    /// `refloat_correct_branch_f32`).
    pub seed: u64,
    /// Output compression ("zstd:5", "zlib:1", "lzma:9", "lz4:4", "none"); NULL or "": the
    /// input's.
    pub compression: *const c_char,
    /// Correct only: non-zero checks every value as it is written (against its stored
    /// value, and read back from the bytes written) before the output is committed
    /// (default 1).
    pub verify: c_int,
    /// Progress callback, or NULL.
    pub progress: refloat_progress_fn,
    /// Passed to `progress` as is.
    pub progress_user: *mut c_void,
    /// Whose defaults apply: "atlas", "cms" or "unknown"; NULL or "" (default): the tree's.
    pub format: *const c_char,
    /// Correct only: non-zero (default) leaves values exact by nature alone; 0: only ±0.
    pub leave_exact: c_int,
    /// 0 (default): a record copied byte for byte (another branch's basket, an object) whose
    /// compressed payload does not decode, checksums included, fails the call and nothing is
    /// written. Non-zero: it is copied anyway and counted in the report's `damaged_copies`.
    pub allow_damaged_copies: c_int,
    /// Threads that decompress and compress baskets: 0 (default) every core, 1 the calling
    /// thread alone. The output file is the same bytes whatever the count.
    pub threads: u32,
}

/// The default file options, those of the `refloat` command: the analysis tree
/// ("CollectionTree", else "Events"), every float branch, bits and scheme resolved per branch
/// (-1, `REFLOAT_DETECT`: the values', else the format's producer's), `REFLOAT_MIDPOINT`,
/// seed 0, the input's compression, verify on, no progress callback, the tree's format,
/// values exact by nature left alone, a copied record that does not decode an error.
#[no_mangle]
pub extern "C" fn refloat_file_options_default() -> refloat_file_options {
    refloat_file_options {
        tree: std::ptr::null(),
        branches: std::ptr::null(),
        mantissa_bits: -1,
        mode: refloat_rounding::REFLOAT_DETECT as RoundingArg,
        method: refloat_method::REFLOAT_MIDPOINT as MethodArg,
        seed: 0,
        compression: std::ptr::null(),
        verify: 1,
        progress: None,
        progress_user: std::ptr::null_mut(),
        format: std::ptr::null(),
        leave_exact: 1,
        allow_damaged_copies: 0,
        threads: 0,
    }
}

/// The request a C options struct describes.
///
/// # Safety
/// The strings of `o` are NULL or NUL-terminated.
unsafe fn file_request(o: &refloat_file_options) -> Result<FileRequest, FfiError> {
    // SAFETY (all three): the caller's contract.
    let tree = unsafe { c_str_opt(o.tree, "options.tree")? }.map(String::from);
    let branches = unsafe { c_str_opt(o.branches, "options.branches")? }
        .map(|b| {
            b.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let compression = unsafe { c_str_opt(o.compression, "options.compression")? }.map(String::from);
    let format = format_arg(unsafe { c_str_opt(o.format, "options.format")? })?;
    let bits = bits_arg(o.mantissa_bits, "options.mantissa_bits")?;
    Ok(FileRequest {
        tree,
        branches,
        bits,
        mode: o.mode,
        method: o.method,
        seed: o.seed,
        compression,
        verify: o.verify != 0,
        format,
        leave_exact: o.leave_exact != 0,
        allow_damaged_copies: o.allow_damaged_copies != 0,
        threads: o.threads as usize,
    })
}

/// The request of a C options struct (an error for NULL), and the struct.
fn options_request<'a>(
    options: *const refloat_file_options,
) -> Result<(FileRequest, &'a refloat_file_options), FfiError> {
    if options.is_null() {
        return Err(FfiError::new(
            refloat_status::REFLOAT_NULL_PARAMETER,
            "options is NULL (start from refloat_file_options_default())",
        ));
    }
    // SAFETY: non-NULL; the caller promises a valid refloat_file_options.
    let o = unsafe { &*options };
    // SAFETY: its strings are the caller's contract.
    Ok((unsafe { file_request(o)? }, o))
}

/// The progress callback of `o`, fed the pipeline's progress.
fn forwarder(o: &refloat_file_options) -> impl FnMut(crate::pipeline::Progress<'_>) {
    let (callback, user) = (o.progress, o.progress_user);
    move |p: crate::pipeline::Progress<'_>| {
        if let Some(f) = callback {
            let stage = CString::new(p.stage.name()).unwrap_or_default();
            let branch = CString::new(p.branch).unwrap_or_default();
            f(stage.as_ptr(), p.done, p.total, branch.as_ptr(), user);
        }
    }
}

/// Runs a file pipeline for C: paths and options checked, progress forwarded, report written
/// on success only.
fn run_file(
    input: *const c_char,
    output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
    run: impl FnOnce(
        &FileRequest,
        &Path,
        &Path,
        &mut crate::pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError>,
) -> Result<(), FfiError> {
    // SAFETY: the caller's contract (NUL-terminated strings).
    let input = unsafe { c_str(input, "input")? };
    let output = unsafe { c_str(output, "output")? };
    let (request, o) = options_request(options)?;
    let totals = run(
        &request,
        Path::new(input),
        Path::new(output),
        &mut forwarder(o),
    )?;
    if !report.is_null() {
        let report = try_mut_from_ptr!(report);
        *report = totals;
    }
    Ok(())
}

/// Compress a ROOT file like the producer did: write `output`, a drop-in copy of `input`
/// whose selected float branches are rounded to `options->mantissa_bits` kept bits with
/// `options->mode` (every other branch and object copied as stored). The output appears only
/// when complete: on any error there is none, and an existing file there is untouched.
/// `report` may be NULL; it is written on success only.
///
/// ```c
/// refloat_file_options o = refloat_file_options_default();
/// o.mantissa_bits = 10;
/// if (refloat_compress_file("in.root", "comp.root", &o, NULL) != REFLOAT_OK)
///     fprintf(stderr, "%s\n", refloat_last_error());
/// ```
///
/// # Safety
/// `input` and `output` must be NUL-terminated paths; `options` a valid
/// `refloat_file_options` (its strings NULL or NUL-terminated); `report` NULL or writable.
#[no_mangle]
pub extern "C" fn refloat_compress_file(
    input: *const c_char,
    output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        run_file(input, output, options, report, |r, i, o, p| r.compress(i, o, p))
    }
}

/// What `refloat_compress_files` or `refloat_correct_files` did: files done, failed and not
/// run (after a failure that stopped the run).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct refloat_dataset_report {
    pub done: u64,
    pub failed: u64,
    pub not_run: u64,
}

/// The paths `inputs[0..n_inputs]` a dataset call names.
fn input_paths(
    inputs: *const *const c_char,
    n_inputs: usize,
) -> Result<Vec<std::path::PathBuf>, FfiError> {
    let names = try_slice!(inputs, n_inputs);
    names
        .iter()
        .enumerate()
        // SAFETY: the caller's contract (NUL-terminated strings).
        .map(|(i, &p)| unsafe { c_str(p, &format!("inputs[{i}]")) }.map(Into::into))
        .collect()
}

/// A file pipeline over many inputs into `out_dir` (`pipeline::dataset_outputs`), the options
/// read once ([`run_each_file`]).
fn run_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    out_dir: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
    run: impl Fn(
        &FileRequest,
        &Path,
        &Path,
        &mut crate::pipeline::ProgressFn<'_>,
    ) -> Result<FileTotals, FfiError>,
) -> Result<(), FfiError> {
    let inputs = input_paths(inputs, n_inputs)?;
    // SAFETY: the caller's contract (a NUL-terminated path).
    let out_dir = unsafe { c_str(out_dir, "out_dir")? };
    let options = options_request(options)?;
    let outputs = crate::pipeline::dataset_outputs(&inputs, Path::new(out_dir))?;
    let outputs: Vec<_> = outputs.into_iter().map(Some).collect();
    let (done, first) = run_each_file(&inputs, &outputs, options, keep_going, |r, i, o, p| {
        run(r, i, o.expect("an output per file"), p)
    });
    dataset_done(&done, first, report)
}

/// A pipeline that writes nothing over many inputs, each with the file of its name in `dir`
/// when given (`pipeline::dataset_partners`), the dataset's report (each file's inside it)
/// written as JSON to `json_output` when not NULL.
#[allow(clippy::too_many_arguments)]
fn run_reading_files<R: serde::Serialize>(
    inputs: *const *const c_char,
    n_inputs: usize,
    dir: Option<*const c_char>,
    json_output: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
    run: impl Fn(
        &FileRequest,
        &Path,
        Option<&Path>,
        &mut crate::pipeline::ProgressFn<'_>,
    ) -> Result<R, FfiError>,
) -> Result<(), FfiError> {
    let inputs = input_paths(inputs, n_inputs)?;
    // SAFETY: the caller's contract (NUL-terminated paths; the JSON path may be NULL).
    let json = unsafe { c_str_opt(json_output, "json_output")? };
    let dir = match dir {
        // SAFETY: as above.
        Some(d) => Some(Path::new(unsafe { c_str(d, "dir")? })),
        None => None,
    };
    let options = options_request(options)?;
    let partners = crate::pipeline::dataset_partners(&inputs, dir)?;
    let (done, first) = run_each_file(&inputs, &partners, options, keep_going, run);
    if let Some(path) = json.filter(|p| !p.is_empty()) {
        crate::pipeline::write_report(Path::new(path), &done)?;
    }
    dataset_done(&done, first, report)
}

/// `run(request, input, partner)` on every input (`pipeline::run_each`), under the options
/// read once (`options_request`); the dataset's report and its first failure.
fn run_each_file<R>(
    inputs: &[std::path::PathBuf],
    partners: &[Option<std::path::PathBuf>],
    (request, o): (FileRequest, &refloat_file_options),
    keep_going: c_int,
    run: impl Fn(
        &FileRequest,
        &Path,
        Option<&Path>,
        &mut crate::pipeline::ProgressFn<'_>,
    ) -> Result<R, FfiError>,
) -> (crate::pipeline::DatasetReport<R>, Option<FfiError>) {
    let mut forward = forwarder(o);
    let mut first: Option<FfiError> = None;
    let done = crate::pipeline::run_each(inputs, partners, keep_going != 0, |i, partner| {
        run(&request, i, partner, &mut forward).map_err(|e| {
            let message = e.message.clone();
            first.get_or_insert(e);
            crate::Error::InvalidInput(message)
        })
    });
    (done, first)
}

/// Fills `report` with what a dataset call did, and turns its first failure into the call's
/// error, counting the others.
fn dataset_done<R>(
    done: &crate::pipeline::DatasetReport<R>,
    first: Option<FfiError>,
    report: *mut refloat_dataset_report,
) -> Result<(), FfiError> {
    if !report.is_null() {
        let report = try_mut_from_ptr!(report);
        *report = refloat_dataset_report {
            done: done.done as u64,
            failed: done.failed as u64,
            not_run: done.not_run as u64,
        };
    }
    match first {
        None => Ok(()),
        Some(e) => Err(FfiError::new(
            e.status,
            format!(
                "{} of {} files failed{}; the first: {}",
                done.failed,
                done.files.len(),
                if done.not_run > 0 {
                    format!(" ({} not run)", done.not_run)
                } else {
                    String::new()
                },
                e.message
            ),
        )),
    }
}

/// `refloat_compress_file` of every input (`inputs[0..n_inputs]`, paths), each written to
/// `out_dir` (made if missing) under its own file name. The first input that fails stops the
/// run, unless `keep_going` is non-zero; a failed file leaves no output. Returns
/// `REFLOAT_OK` when every file was done, else the first failure's status, with
/// `refloat_last_error` counting the failures and naming the first. `report` may be NULL; it
/// is written whenever the files were run, failures included.
///
/// # Safety
/// `inputs` must point to `n_inputs` NUL-terminated paths (or be NULL with 0); `out_dir` a
/// NUL-terminated path; `options` and `report` as for `refloat_compress_file`.
#[no_mangle]
pub extern "C" fn refloat_compress_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    out_dir: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
) -> c_int {
    ffi_panic_boundary! {
        run_files(inputs, n_inputs, out_dir, options, keep_going, report, |r, i, o, p| r.compress(i, o, p))
    }
}

/// `refloat_correct_file` of every input, as `refloat_compress_files` runs
/// `refloat_compress_file`.
///
/// # Safety
/// As `refloat_compress_files`.
#[no_mangle]
pub extern "C" fn refloat_correct_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    out_dir: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
) -> c_int {
    ffi_panic_boundary! {
        run_files(inputs, n_inputs, out_dir, options, keep_going, report, |r, i, o, p| r.correct(i, o, p))
    }
}

/// How many kept bits each float branch of `input` needs (`refloat advise`): the sweep over
/// 4..=23 kept bits with `options->mode` (`REFLOAT_DETECT` sweeps `REFLOAT_NEAREST`), every
/// metric and each branch's `recommended_bits`, written as JSON to `json_output` (atomically;
/// `refloat compress --bits-from` reads it). Uses `options->tree`, `branches`, `mode` and
/// `progress`; `report->branches` and `report->values` count what was swept. `report` may be
/// NULL.
///
/// # Safety
/// As `refloat_compress_file`.
#[no_mangle]
pub extern "C" fn refloat_advise_file(
    input: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        run_file(input, json_output, options, report, |r, i, o, p| r.advise(i, o, p))
    }
}

/// Compare `original` with its rounded (or corrected) twin `compressed`, branch by branch
/// (`refloat analyse`): residuals against the theoretical bound and the exact interval, the
/// residual steps, the distribution-shift metrics, pooled over every branch too; written as
/// JSON to `json_output` (atomically). Uses `options->tree`, `branches`, `mantissa_bits` (-1:
/// each branch's largest apparent bits in `compressed`), `mode` (`REFLOAT_DETECT`: the
/// format's producer's) and `progress`; `report->branches` and `report->values` count what was
/// compared. `report` may be NULL.
///
/// # Safety
/// As `refloat_compress_file`; `compressed` must be a NUL-terminated path.
#[no_mangle]
pub extern "C" fn refloat_analyse_file(
    original: *const c_char,
    compressed: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        // SAFETY: the caller's contract (a NUL-terminated path).
        let compressed = unsafe { c_str(compressed, "compressed")? };
        run_file(original, json_output, options, report, |r, i, o, p| {
            r.analyse(i, Path::new(compressed), o, p)
        })
    }
}

/// Check that `corrected` belongs to `stored` (`refloat verify`): the same structure, and
/// every value of each selected float branch re-quantises, bit for bit, to the stored one
/// under the branch's resolution (bits and scheme resolved per branch as
/// `refloat_correct_file` resolves them, unless `options->mantissa_bits` / `mode` are
/// given), values exact by nature unchanged unless `options->leave_exact` is 0. The report
/// (branches and the bits each was checked at) is written as JSON to `json_output` when it is
/// not NULL. Uses `options->tree`, `branches`, `mantissa_bits`, `mode`, `format`,
/// `leave_exact` and `progress`; `report->branches`, `values` and `verified_values` count
/// what was checked. Fails naming the file, branch and value that breaks it. `report` may be
/// NULL.
///
/// # Safety
/// As `refloat_compress_file`; `corrected` must be a NUL-terminated path, `json_output` one
/// or NULL.
#[no_mangle]
pub extern "C" fn refloat_verify_file(
    stored: *const c_char,
    corrected: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        // SAFETY: the caller's contract (NUL-terminated paths; the JSON path may be NULL).
        let stored = unsafe { c_str(stored, "stored")? };
        let corrected = unsafe { c_str(corrected, "corrected")? };
        let json = unsafe { c_str_opt(json_output, "json_output")? };
        let (request, o) = options_request(options)?;
        let r = request.verify(Path::new(stored), Path::new(corrected), &mut forwarder(o))?;
        if let Some(path) = json.filter(|p| !p.is_empty()) {
            crate::pipeline::write_report(Path::new(path), &r)?;
        }
        if !report.is_null() {
            *try_mut_from_ptr!(report) = files::verify_totals(&r);
        }
        Ok(())
    }
}

/// Trees, branches, types and entries of `input`, and the kept bits and rounding scheme
/// of each float branch as resolved from its values (`refloat inspect`), written as JSON to
/// `json_output` (atomically). Uses `options->tree` (NULL or "": every tree), `branches`
/// (without a tree: the trees that hold a match) and `progress`; `report->branches` and
/// `values` count the float branches listed and their values. `report` may be NULL.
///
/// # Safety
/// As `refloat_compress_file`.
#[no_mangle]
pub extern "C" fn refloat_inspect_file(
    input: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        run_file(input, json_output, options, report, |r, i, o, p| {
            let found = r.inspect(i, p)?;
            crate::pipeline::write_report(o, &found)?;
            Ok(files::inspect_totals(&found))
        })
    }
}

/// `refloat_inspect_file` of every input (`inputs[0..n_inputs]`, paths), in order; the
/// first that fails stops the run unless `keep_going` is non-zero. The dataset's report
/// (each file's input, report or error, and the counts) is written as JSON to `json_output`
/// when it is not NULL. Returns as `refloat_compress_files`.
///
/// # Safety
/// As `refloat_compress_files`; `json_output` a NUL-terminated path or NULL.
#[no_mangle]
pub extern "C" fn refloat_inspect_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    json_output: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
) -> c_int {
    ffi_panic_boundary! {
        run_reading_files(inputs, n_inputs, None, json_output, options, keep_going, report, |r, i, _, p| r.inspect(i, p))
    }
}

/// `refloat_verify_file` of every stored file (`inputs[0..n_inputs]`) against the file of
/// the same name in `corrected_dir` (as `refloat_correct_files` writes them), as
/// `refloat_inspect_files` runs `refloat_inspect_file`. A missing or damaged corrected file
/// is that file's failure.
///
/// # Safety
/// As `refloat_inspect_files`; `corrected_dir` a NUL-terminated path.
#[no_mangle]
pub extern "C" fn refloat_verify_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    corrected_dir: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
) -> c_int {
    ffi_panic_boundary! {
        run_reading_files(inputs, n_inputs, Some(corrected_dir), json_output, options, keep_going, report, |r, i, c, p| {
            r.verify(i, c.expect("a partner per file"), p)
        })
    }
}

/// `refloat_analyse_file` of every original (`inputs[0..n_inputs]`) against the file of the
/// same name in `stored_dir` (as `refloat_compress_files` writes them), as
/// `refloat_inspect_files` runs `refloat_inspect_file`; each file's analysis is in the
/// dataset's JSON.
///
/// # Safety
/// As `refloat_inspect_files`; `stored_dir` a NUL-terminated path.
#[no_mangle]
pub extern "C" fn refloat_analyse_files(
    inputs: *const *const c_char,
    n_inputs: usize,
    stored_dir: *const c_char,
    json_output: *const c_char,
    options: *const refloat_file_options,
    keep_going: c_int,
    report: *mut refloat_dataset_report,
) -> c_int {
    ffi_panic_boundary! {
        run_reading_files(inputs, n_inputs, Some(stored_dir), json_output, options, keep_going, report, |r, i, s, p| {
            r.analyse_report(i, s.expect("a partner per file"), p)
        })
    }
}

/// Correct a compressed ROOT file: write `output`, a drop-in copy of `input` whose selected
/// float branches hold estimates of the originals (`options->method`), each inside its
/// interval; with `options->verify` (default) every value is checked as it is written to
/// re-quantise to its stored value, before the output is committed. Bits are inferred per
/// branch when `options->mantissa_bits` is -1 (branches where they cannot be are copied and
/// counted in `report->not_inferable`). Dither follows the one seeding rule, so the bits equal
/// `refloat correct --method dither:SEED`'s. `report` may be NULL.
///
/// # Safety
/// As `refloat_compress_file`.
#[no_mangle]
pub extern "C" fn refloat_correct_file(
    input: *const c_char,
    output: *const c_char,
    options: *const refloat_file_options,
    report: *mut refloat_file_report,
) -> c_int {
    ffi_panic_boundary! {
        run_file(input, output, options, report, |r, i, o, p| r.correct(i, o, p))
    }
}
