//! C API of the resolver: resolve a buffer or a file's branch once (its kept bits, scheme,
//! per-value precision, the values exact by nature), then correct it event by event with the
//! same resolution the file pipeline uses. Same conventions as the rest of the C API.
//!
//! ```c
//! refloat_resolve_options o = refloat_resolve_options_default();
//! refloat_resolution *r = NULL;
//! if (refloat_resolve_file("nano.root", NULL, "Jet_pt", &o, &r) != REFLOAT_OK)
//!     fprintf(stderr, "%s\n", refloat_last_error());
//! uint64_t first = 0;
//! for (each event) {            /* the same bits as `refloat correct --method dither:42` */
//!     refloat_correct_resolved_f32(r, pt, n, REFLOAT_DITHER, 42, "Jet_pt", first, NULL);
//!     first += n;
//! }
//! refloat_resolution_free(r);
//! ```

use std::ffi::{c_char, c_int, CString};
use std::path::Path;

use super::buffers::{correct_buffer, format_arg, resolve_branch, resolve_buffer, ResolveRequest};
use super::capi::refloat_correction_report;
use super::files::bits_arg;
use super::options::{method, refloat_rounding, MethodArg, RoundingArg};
use super::{c_str, c_str_opt, check_disjoint, refloat_status, FfiError};
use crate::resolve::Resolution;

/// How a branch was rounded and what in it is exact, as the resolver decided (opaque).
/// Create with `refloat_resolve_f32` or `refloat_resolve_file`, release with
/// `refloat_resolution_free`. May be used from several threads at once.
pub struct refloat_resolution {
    resolution: Resolution,
    json: CString,
}

/// What to tell the resolver. Start from `refloat_resolve_options_default()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct refloat_resolve_options {
    /// Kept bits 0..=23; -1 (default): resolved.
    pub mantissa_bits: i32,
    /// The scheme; `REFLOAT_DETECT` (default): resolved (the values', else the format's).
    pub mode: RoundingArg,
    /// "atlas", "cms" or "unknown"; NULL or "" (default): the tree's for a file (CollectionTree:
    /// atlas, Events: cms), unknown for a buffer.
    pub format: *const c_char,
    /// The branch a buffer belongs to (its declared precision); NULL or "" for none. Ignored
    /// by `refloat_resolve_file`, which names the branch itself.
    pub branch: *const c_char,
    /// Non-zero (default): leave values exact by nature alone (0, ±1, -999 and other
    /// sentinels, spikes, lattice values); 0: only ±0.
    pub leave_exact: c_int,
}

/// What a resolution says, in numbers (`refloat_resolution_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct refloat_resolution_info {
    /// Kept bits the branch is corrected at (the largest, per value); -1: left as stored.
    pub mantissa_bits: i32,
    /// The scheme (a `refloat_rounding`).
    pub mode: u32,
    /// Precisions a branch shown to mix them is corrected at per value (0 or 1: one).
    pub precisions: u32,
    /// Spikes found (stored values left alone).
    pub spikes: u64,
    /// Non-zero: values on a lattice are left alone.
    pub lattice: c_int,
    /// Values resolved from.
    pub values: u64,
}

/// The default resolve options: bits and scheme resolved, the format from the tree (unknown
/// for a buffer), no branch name, exact values left alone.
#[no_mangle]
pub extern "C" fn refloat_resolve_options_default() -> refloat_resolve_options {
    refloat_resolve_options {
        mantissa_bits: -1,
        mode: refloat_rounding::REFLOAT_DETECT as RoundingArg,
        format: std::ptr::null(),
        branch: std::ptr::null(),
        leave_exact: 1,
    }
}

/// The request `o` describes for the branch named `branch` (`None`: `o.branch`).
///
/// # Safety
/// The strings of `o` are NULL or NUL-terminated.
unsafe fn request<'a>(
    o: &'a refloat_resolve_options,
    branch: Option<&'a str>,
) -> Result<ResolveRequest<'a>, FfiError> {
    // SAFETY: the caller's contract.
    let format = format_arg(unsafe { c_str_opt(o.format, "options.format")? })?;
    let branch = match branch {
        Some(b) => b,
        // SAFETY: the caller's contract.
        None => unsafe { c_str_opt(o.branch, "options.branch")? }.unwrap_or(""),
    };
    Ok(ResolveRequest {
        bits: bits_arg(o.mantissa_bits, "options.mantissa_bits")?,
        mode: o.mode,
        format,
        branch,
        leave_exact: o.leave_exact != 0,
    })
}

fn options_ref<'a>(
    options: *const refloat_resolve_options,
) -> Result<&'a refloat_resolve_options, FfiError> {
    if options.is_null() {
        return Err(FfiError::new(
            refloat_status::REFLOAT_NULL_PARAMETER,
            "options is NULL (start from refloat_resolve_options_default())",
        ));
    }
    // SAFETY: non-NULL; the caller promises a valid struct.
    Ok(unsafe { &*options })
}

fn resolution_ref<'a>(r: *const refloat_resolution) -> Result<&'a refloat_resolution, FfiError> {
    if r.is_null() {
        return Err(FfiError::new(
            refloat_status::REFLOAT_NULL_PARAMETER,
            "resolution is NULL",
        ));
    }
    // SAFETY: non-NULL; the caller promises it came from refloat_resolve_* and is not freed.
    Ok(unsafe { &*r })
}

fn boxed(resolution: Resolution) -> Result<*mut refloat_resolution, FfiError> {
    let json = resolution.to_json()?;
    let json =
        CString::new(json).map_err(|_| FfiError::invalid_argument("JSON with a NUL byte"))?;
    Ok(Box::into_raw(Box::new(refloat_resolution {
        resolution,
        json,
    })))
}

/// Resolve the stored values `data[0..len]` on their own (pass a whole branch: spikes,
/// lattices and the kept bits need its statistics). On success `*resolution` receives a new
/// handle (free it with `refloat_resolution_free`); on error it is not written.
///
/// # Safety
/// `data` must point to `len` `float`s (or be NULL with `len` 0); `options` to a valid
/// `refloat_resolve_options`; `resolution` to a writable pointer.
#[no_mangle]
pub extern "C" fn refloat_resolve_f32(
    data: *const f32,
    len: usize,
    options: *const refloat_resolve_options,
    resolution: *mut *mut refloat_resolution,
) -> c_int {
    ffi_panic_boundary! {
        let o = options_ref(options)?;
        // SAFETY: the caller's contract for the option strings.
        let req = unsafe { request(o, None)? };
        let data = try_slice!(data, len);
        let out = try_mut_from_ptr!(resolution);
        *out = boxed(resolve_buffer(data, &req)?)?;
        Ok(())
    }
}

/// Resolve branch `branch` of tree `tree` (NULL or "": the analysis tree) of the ROOT file
/// `path` as `refloat correct` does (one pass over the branch; the format from the tree
/// unless `options->format` says). A branch the resolver cannot tell the bits of resolves to
/// "left as stored" (`mantissa_bits` -1 in `refloat_resolution_info`).
///
/// # Safety
/// `path` and `branch` NUL-terminated; `tree` NULL or NUL-terminated; `options` a valid
/// `refloat_resolve_options`; `resolution` a writable pointer.
#[no_mangle]
pub extern "C" fn refloat_resolve_file(
    path: *const c_char,
    tree: *const c_char,
    branch: *const c_char,
    options: *const refloat_resolve_options,
    resolution: *mut *mut refloat_resolution,
) -> c_int {
    ffi_panic_boundary! {
        // SAFETY (all three): the caller's contract.
        let path = unsafe { c_str(path, "path")? };
        let tree = unsafe { c_str_opt(tree, "tree")? };
        let branch = unsafe { c_str(branch, "branch")? };
        let o = options_ref(options)?;
        // SAFETY: the caller's contract for the option strings.
        let req = unsafe { request(o, Some(branch))? };
        let out = try_mut_from_ptr!(resolution);
        *out = boxed(resolve_branch(Path::new(path), tree, &req)?)?;
        Ok(())
    }
}

/// Release a resolution (NULL is ignored).
///
/// # Safety
/// `resolution` NULL or a handle from `refloat_resolve_*`, not used afterwards.
#[no_mangle]
pub extern "C" fn refloat_resolution_free(resolution: *mut refloat_resolution) {
    if resolution.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: from Box::into_raw in this module, freed once (the caller's contract).
        drop(unsafe { Box::from_raw(resolution) });
    }));
}

/// The resolution in numbers. Writes `*info` on success only.
///
/// # Safety
/// `resolution` a live handle; `info` writable.
#[no_mangle]
pub extern "C" fn refloat_resolution_get_info(
    resolution: *const refloat_resolution,
    info: *mut refloat_resolution_info,
) -> c_int {
    ffi_panic_boundary! {
        let r = &resolution_ref(resolution)?.resolution;
        let out = try_mut_from_ptr!(info);
        *out = refloat_resolution_info {
            mantissa_bits: r.bits.map_or(-1, |b| b as i32),
            mode: super::options::rounding_number(r.mode),
            precisions: r.per_value.len().max(usize::from(r.bits.is_some())) as u32,
            spikes: r.spikes.len() as u64,
            lattice: c_int::from(r.lattice.is_some()),
            values: r.values,
        };
        Ok(())
    }
}

/// The whole resolution as JSON (bits and where they came from, scheme, per-value
/// precisions, spikes, lattice, notes), the same document `refloat inspect --json` gives
/// per branch. Owned by the handle (valid until it is freed); "" for a NULL handle.
///
/// # Safety
/// `resolution` NULL or a live handle.
#[no_mangle]
pub extern "C" fn refloat_resolution_json(resolution: *const refloat_resolution) -> *const c_char {
    ffi_panic_boundary_or!(c"".as_ptr();
        match resolution_ref(resolution) {
            Ok(r) => r.json.as_ptr(),
            Err(_) => c"".as_ptr(),
        }
    )
}

/// Correct the stored values `data[0..len]`, a piece of the resolved branch whose first value
/// is value `first_index` of the whole branch (entries flattened), under `resolution`: the
/// same bits and values left alone as `refloat correct` gives the file. `branch` (NULL or "":
/// none) seeds `REFLOAT_DITHER` under the one seeding rule. A branch resolved "left as
/// stored" is left untouched. `report` may be NULL. `data` is untouched on error.
///
/// # Safety
/// `resolution` a live handle; `data` `len` writable floats (or NULL with 0); `branch` NULL
/// or NUL-terminated; `report` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn refloat_correct_resolved_f32(
    resolution: *const refloat_resolution,
    data: *mut f32,
    len: usize,
    method_: MethodArg,
    seed: u64,
    branch: *const c_char,
    first_index: u64,
    report: *mut refloat_correction_report,
) -> c_int {
    ffi_panic_boundary! {
        let r = &resolution_ref(resolution)?.resolution;
        let m = method(method_, seed)?;
        // SAFETY: the caller's contract.
        let branch = unsafe { c_str_opt(branch, "branch")? }.unwrap_or("");
        check_disjoint((data.cast_const(), len, "data"), (report.cast_const(), usize::from(!report.is_null()), "report"))?;
        let data_s = try_slice_mut!(data, len);
        let done = correct_buffer(data_s, r, m, branch, first_index)?;
        if !report.is_null() {
            let report = try_mut_from_ptr!(report);
            *report = done.into();
        }
        Ok(())
    }
}
