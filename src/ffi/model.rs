//! C API of the learned models (cargo feature `torch`): load a model file, correct stored
//! values with it, free it. Same conventions as the rest of the C API (status codes,
//! `refloat_last_error`, panic boundary, outputs written only on success).
//!
//! ```c
//! const char *vars[] = {"AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta"};
//! refloat_model *m = NULL;
//! if (refloat_model_load("jets.pt", 10, REFLOAT_NEAREST, vars, 2, &m) != REFLOAT_OK)
//!     fprintf(stderr, "%s\n", refloat_last_error());
//! /* data: 2 blocks of n floats (all pt, then all eta); offsets: events + 1 entries */
//! refloat_model_correct_f32(m, data, n, 2, offsets, events + 1);
//! refloat_model_free(m);
//! ```

use std::ffi::{c_char, c_int, CString};
use std::path::PathBuf;

use super::c_str;
use super::options::rounding_mode;
use super::{check_disjoint, refloat_status, FfiError, RoundingArg};
use crate::correct::CorrectionReport;
use crate::model::Model;

/// A loaded learned model (opaque). Create with `refloat_model_load`, release with
/// `refloat_model_free`. A model may be used from several threads at once (inference does
/// not modify it).
pub struct refloat_model {
    model: Model,
    names: Vec<CString>,
}

fn model_ref<'a>(model: *const refloat_model) -> Result<&'a refloat_model, FfiError> {
    if model.is_null() {
        return Err(FfiError::new(
            refloat_status::REFLOAT_NULL_PARAMETER,
            "model is NULL",
        ));
    }
    // SAFETY: non-NULL; the caller promises it came from refloat_model_load and is not freed.
    Ok(unsafe { &*model })
}

/// Load the model file `path` (a TorchScript `.pt` written by `refloat train`) and check it
/// was made for data stored with `mantissa_bits` kept bits and rounding `mode`, and for the
/// variables `variables[0..n_variables]` in this order (pass NULL and 0 to skip the
/// variable check). Inference runs on CUDA when libtorch sees a GPU, else on the CPU.
///
/// On success `*model` receives a new handle (free it with `refloat_model_free`); on error
/// it is not written. Returns `REFLOAT_MODEL` when the file is not a refloat model or was
/// made for other bits, rounding or variables (the message says which), `REFLOAT_IO` when
/// it cannot be read.
#[no_mangle]
pub extern "C" fn refloat_model_load(
    path: *const c_char,
    mantissa_bits: u32,
    mode: RoundingArg,
    variables: *const *const c_char,
    n_variables: usize,
    model: *mut *mut refloat_model,
) -> c_int {
    ffi_panic_boundary! {
        let mode = rounding_mode(mode)?;
        // SAFETY: C string contract of this function.
        let path = unsafe { c_str(path, "path") }?;
        let vars = try_slice!(variables, n_variables);
        let mut names = Vec::with_capacity(vars.len());
        for (i, &v) in vars.iter().enumerate() {
            // SAFETY: each entry is a C string by contract; NULL is reported.
            names.push(unsafe { c_str(v, &format!("variables[{i}]")) }?);
        }
        let out = try_mut_from_ptr!(model);
        let check = (!names.is_empty()).then_some(names.as_slice());
        let m = Model::load_for(PathBuf::from(path), mantissa_bits, mode, check)?;
        let names = m
            .meta()
            .variable_names()
            .into_iter()
            .map(|n| CString::new(n).map_err(|_| FfiError::invalid_argument("variable name with a NUL byte")))
            .collect::<Result<Vec<_>, _>>()?;
        *out = Box::into_raw(Box::new(refloat_model { model: m, names }));
        Ok(())
    }
}

/// Correct stored values in place with a per-value model (inpainting or per-value
/// autoencoder): every value is replaced by the model's estimate of its original inside its
/// interval, so **re-quantising the result gives back the stored value, bit for bit**.
/// Exact-looking values (0, ±1, sentinels) and NaN/±Inf are left alone.
///
/// `data` holds `n_variables` blocks of `n_objects` floats, one block per model variable in
/// the model's order (`refloat_model_variable`): e.g. all jets' pt, then all jets' eta.
/// `event_offsets` holds `n_offsets` = events + 1 increasing offsets into the objects
/// (first 0, last `n_objects`): event `e` owns objects `event_offsets[e]` up to
/// `event_offsets[e + 1]`; NULL with `n_offsets` 0 means all objects form one event.
///
/// Returns `REFLOAT_MODEL` for a wrong variable count or a histogram-mode model,
/// `REFLOAT_NOT_QUANTISED` for values not stored at the model's bits, `REFLOAT_INVALID_INPUT`
/// for bad offsets; `data` is untouched on any error.
#[no_mangle]
pub extern "C" fn refloat_model_correct_f32(
    model: *const refloat_model,
    data: *mut f32,
    n_objects: usize,
    n_variables: usize,
    event_offsets: *const u64,
    n_offsets: usize,
) -> c_int {
    ffi_panic_boundary! {
        let m = model_ref(model)?;
        let total = n_objects
            .checked_mul(n_variables)
            .ok_or_else(|| FfiError::invalid_argument("n_objects * n_variables overflows"))?;
        check_disjoint((data.cast_const(), total, "data"), (event_offsets.cast::<f32>(), n_offsets.saturating_mul(2), "event_offsets"))?;
        let offsets = try_slice!(event_offsets, n_offsets);
        let data = try_slice_mut!(data, total);
        correct_blocks(&m.model, data, n_objects, n_variables, offsets)?;
        Ok(())
    }
}

/// `index` if the model has a variable of that index, else an error saying how many it has
/// (shared by the C API and the cxx bridge).
pub(super) fn variable_index(model: &Model, index: usize) -> Result<usize, FfiError> {
    let n = model.meta().variables.len();
    if index < n {
        Ok(index)
    } else {
        Err(FfiError::invalid_argument(format!(
            "variable index {index} out of range (model has {n})"
        )))
    }
}

/// Correct `data` in place: `n_variables` blocks of `n_objects` values (one per model
/// variable, in its order), events as `offsets` (events + 1 increasing offsets into the
/// objects; empty: one event). Shared by the C API and the cxx bridge. `data` is untouched
/// on error.
pub(super) fn correct_blocks(
    model: &Model,
    data: &mut [f32],
    n_objects: usize,
    n_variables: usize,
    offsets: &[u64],
) -> Result<CorrectionReport, FfiError> {
    let offsets: Vec<usize> = if offsets.is_empty() {
        vec![0, n_objects]
    } else {
        offsets
            .iter()
            .map(|&o| {
                usize::try_from(o).map_err(|_| {
                    FfiError::invalid_argument("event offset beyond the address space")
                })
            })
            .collect::<Result<_, _>>()?
    };
    if n_objects.checked_mul(n_variables) != Some(data.len()) {
        return Err(crate::Error::LengthMismatch {
            what: format!("values vs {n_variables} variables x {n_objects} objects"),
            left: data.len(),
            right: n_objects.saturating_mul(n_variables),
        }
        .into());
    }
    let mut columns: Vec<&mut [f32]> = if n_objects == 0 {
        (0..n_variables).map(|_| <&mut [f32]>::default()).collect()
    } else {
        data.chunks_mut(n_objects).collect()
    };
    Ok(model.correct_in_place(&mut columns, &offsets)?)
}

/// Number of variables the model takes (written to `*n` on success).
#[no_mangle]
pub extern "C" fn refloat_model_n_variables(model: *const refloat_model, n: *mut usize) -> c_int {
    ffi_panic_boundary! {
        let m = model_ref(model)?;
        let out = try_mut_from_ptr!(n);
        *out = m.names.len();
        Ok(())
    }
}

/// Name of variable `index` (a branch name such as `AnalysisJetsAuxDyn.pt`), written to
/// `*name` on success. The string is owned by the model: valid until `refloat_model_free`.
#[no_mangle]
pub extern "C" fn refloat_model_variable(
    model: *const refloat_model,
    index: usize,
    name: *mut *const c_char,
) -> c_int {
    ffi_panic_boundary! {
        let m = model_ref(model)?;
        let out = try_mut_from_ptr!(name);
        let s = &m.names[variable_index(&m.model, index)?];
        *out = s.as_ptr();
        Ok(())
    }
}

/// Kept mantissa bits of the data the model was made for (written to `*mantissa_bits`).
#[no_mangle]
pub extern "C" fn refloat_model_mantissa_bits(
    model: *const refloat_model,
    mantissa_bits: *mut u32,
) -> c_int {
    ffi_panic_boundary! {
        let m = model_ref(model)?;
        let out = try_mut_from_ptr!(mantissa_bits);
        *out = m.model.meta().mantissa_bits;
        Ok(())
    }
}

/// Release a model from `refloat_model_load`. NULL is ignored; freeing twice is undefined.
#[no_mangle]
pub extern "C" fn refloat_model_free(model: *mut refloat_model) {
    ffi_panic_boundary_or! { ();
        if !model.is_null() {
            // SAFETY: it came from Box::into_raw in refloat_model_load and is freed once.
            drop(unsafe { Box::from_raw(model) });
        }
    }
}
