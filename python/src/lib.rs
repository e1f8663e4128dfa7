//! `refloat._refloat`: the Python extension module over refloat-core.
//!
//! A thin layer, like the C API: it turns numpy buffers into slices, names of modes and
//! methods into the core's types, calls the core with the GIL released, and turns the core's
//! [`refloat_core::Error`] into `refloat.Error` (a `ValueError`) carrying the library's
//! message. Reports cross as JSON (the core's `serde` form); `refloat/__init__.py` turns them
//! into Python objects and handles dtypes, `out=`, and Awkward Arrays.

use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyReadwriteArrayDyn};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use refloat_core::bounds::{intervals_f32, intervals_f64};
use refloat_core::correct::{verify_requantises_f32, Method};
use refloat_core::metrics::{shift_metrics as core_shift_metrics, ShiftOptions};
use refloat_core::pipeline::{self, CompressOptions, CorrectOptions, Correction, Select};
use refloat_core::replicas::{branch_spread, ReplicaSource, ResolvedReplicas};
use refloat_core::{Quantiser32, Quantiser64, RoundingMode};

create_exception!(
    _refloat,
    Error,
    PyValueError,
    "An error of refloat: the message names what was wrong (argument, index, file, tree, branch)."
);

/// The core's error as `refloat.Error`.
fn err(e: refloat_core::Error) -> PyErr {
    Error::new_err(e.to_string())
}

fn mode_of(name: &str) -> PyResult<RoundingMode> {
    name.parse().map_err(err)
}

/// `name` (`midpoint`, `dither`, `prior-mean`) with `seed` for dither.
fn method_of(name: &str, seed: u64) -> PyResult<Method> {
    Ok(match name.parse::<Method>().map_err(err)? {
        Method::Dither { .. } => Method::Dither { seed },
        m => m,
    })
}

fn json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| Error::new_err(format!("report: {e}")))
}

/// The array's buffer, which must be C-contiguous and aligned (numpy arrays rebuilt from a
/// byte buffer, e.g. by Dask's serialisation, can be misaligned: a slice of them would be
/// undefined behaviour).
fn contiguous<'a, 'py, T: numpy::Element>(
    a: &'a mut PyReadwriteArrayDyn<'py, T>,
    name: &str,
) -> PyResult<&'a mut [T]> {
    check_aligned::<T>(a.data(), name)?;
    a.as_slice_mut()
        .map_err(|_| Error::new_err(format!("{name} must be a C-contiguous array")))
}

/// [`contiguous`] for an input.
fn contiguous_ro<'a, 'py, T: numpy::Element>(
    a: &'a PyReadonlyArrayDyn<'py, T>,
    name: &str,
) -> PyResult<&'a [T]> {
    check_aligned::<T>(a.data(), name)?;
    a.as_slice()
        .map_err(|_| Error::new_err(format!("{name} must be a C-contiguous array")))
}

fn check_aligned<T>(ptr: *const T, name: &str) -> PyResult<()> {
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(Error::new_err(format!(
            "{name} is not aligned to {} bytes (copy it with numpy.require(a, requirements='CA'))",
            std::mem::align_of::<T>()
        )));
    }
    Ok(())
}

/// Round `x` in place (float32) to `bits` kept mantissa bits under `mode`.
#[pyfunction]
fn quantise_f32(
    py: Python<'_>,
    mut x: PyReadwriteArrayDyn<'_, f32>,
    bits: u32,
    mode: &str,
) -> PyResult<()> {
    let q = Quantiser32::new(bits, mode_of(mode)?).map_err(err)?;
    let data = contiguous(&mut x, "x")?;
    py.detach(|| q.par_quantise_slice(data));
    Ok(())
}

/// Round `x` in place (float64) to `bits` kept mantissa bits (0..=52) under `mode`.
#[pyfunction]
fn quantise_f64(
    py: Python<'_>,
    mut x: PyReadwriteArrayDyn<'_, f64>,
    bits: u32,
    mode: &str,
) -> PyResult<()> {
    let q = Quantiser64::new(bits, mode_of(mode)?).map_err(err)?;
    let data = contiguous(&mut x, "x")?;
    py.detach(|| q.par_quantise_slice(data));
    Ok(())
}

/// Intervals of originals of float32 stored values, written into `lo` and `hi`.
#[pyfunction]
fn interval_f32(
    py: Python<'_>,
    stored: PyReadonlyArrayDyn<'_, f32>,
    bits: u32,
    mode: &str,
    mut lo: PyReadwriteArrayDyn<'_, f32>,
    mut hi: PyReadwriteArrayDyn<'_, f32>,
) -> PyResult<()> {
    let mode = mode_of(mode)?;
    let s = contiguous_ro(&stored, "stored")?;
    let lo = contiguous(&mut lo, "lo")?;
    let hi = contiguous(&mut hi, "hi")?;
    py.detach(|| intervals_f32(s, bits, mode, lo, hi))
        .map_err(err)
}

/// Intervals of originals of float64 stored values, written into `lo` and `hi`.
#[pyfunction]
fn interval_f64(
    py: Python<'_>,
    stored: PyReadonlyArrayDyn<'_, f64>,
    bits: u32,
    mode: &str,
    mut lo: PyReadwriteArrayDyn<'_, f64>,
    mut hi: PyReadwriteArrayDyn<'_, f64>,
) -> PyResult<()> {
    let mode = mode_of(mode)?;
    let s = contiguous_ro(&stored, "stored")?;
    let lo = contiguous(&mut lo, "lo")?;
    let hi = contiguous(&mut hi, "hi")?;
    py.detach(|| intervals_f64(s, bits, mode, lo, hi))
        .map_err(err)
}

/// Exact residuals `original − stored` in float64.
#[pyfunction]
fn residual_f32<'py>(
    py: Python<'py>,
    original: PyReadonlyArrayDyn<'py, f32>,
    stored: PyReadonlyArrayDyn<'py, f32>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let o = contiguous_ro(&original, "original")?;
    let s = contiguous_ro(&stored, "stored")?;
    let r = py
        .detach(|| refloat_core::residual::residuals_f32(o, s))
        .map_err(err)?;
    Ok(PyArray1::from_vec(py, r))
}

/// Kept mantissa bits of float32 stored values.
#[pyfunction]
fn infer_bits_f32(py: Python<'_>, x: PyReadonlyArrayDyn<'_, f32>) -> PyResult<u32> {
    let s = contiguous_ro(&x, "x")?;
    py.detach(|| refloat_core::quantise::infer_mantissa_bits_f32(s))
        .map_err(err)
}

/// Scheme and bits detection (JSON of `refloat_core::detect::Detection`).
#[pyfunction]
fn detect_f32(py: Python<'_>, x: PyReadonlyArrayDyn<'_, f32>) -> PyResult<String> {
    let s = contiguous_ro(&x, "x")?;
    json(&py.detach(|| refloat_core::detect::detect_f32(s)))
}

/// How a branch was rounded and what in it is exact: the resolver's decision
/// (`refloat_core::resolve::Resolution`), the same one every front door uses.
#[pyclass(frozen, module = "refloat._refloat")]
struct Resolution(refloat_core::resolve::Resolution);

#[pymethods]
impl Resolution {
    /// The resolution as JSON.
    #[getter]
    fn json(&self) -> PyResult<String> {
        json(&self.0)
    }
    /// One line for reports.
    fn describe(&self) -> String {
        self.0.describe()
    }
    /// A resolution read back from its JSON.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Resolution> {
        Ok(Resolution(
            refloat_core::resolve::Resolution::from_json(text).map_err(err)?,
        ))
    }
    /// Pickled as its JSON (Dask ships it to the workers).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = slf.get_type().getattr("from_json")?;
        Ok((from_json, (json(&slf.get().0)?,)))
    }
}

/// The resolver's evidence of a piece of a branch, as bytes to merge (Dask partitions).
#[pyfunction]
fn evidence_f32(py: Python<'_>, x: PyReadonlyArrayDyn<'_, f32>) -> PyResult<Vec<u8>> {
    let s = contiguous_ro(&x, "x")?;
    py.detach(|| {
        let mut e = refloat_core::resolve::Evidence::new();
        e.add(s);
        e.to_bytes()
    })
    .map_err(err)
}

/// Resolve a branch from the evidence of its pieces (`evidence_f32` of each).
#[pyfunction]
#[pyo3(signature = (pieces, bits=None, mode="detect", format=None, branch="", leave_exact=true))]
fn resolve_evidence(
    py: Python<'_>,
    pieces: Vec<Vec<u8>>,
    bits: Option<u32>,
    mode: &str,
    format: Option<&str>,
    branch: &str,
    leave_exact: bool,
) -> PyResult<Resolution> {
    let g = given(bits, mode, leave_exact)?;
    let f = format_of(format)?.unwrap_or_default();
    let r = py.detach(|| -> refloat_core::Result<_> {
        let mut all = refloat_core::resolve::Evidence::new();
        for p in &pieces {
            all.merge(&refloat_core::resolve::Evidence::from_bytes(p)?);
        }
        Ok(refloat_core::resolve::resolve_evidence(all, &g, f, branch))
    });
    Ok(Resolution(r.map_err(err)?))
}

fn given(
    bits: Option<u32>,
    mode: &str,
    leave_exact: bool,
) -> PyResult<refloat_core::resolve::Given> {
    if let Some(b) = bits {
        Quantiser32::new(b, RoundingMode::Nearest).map_err(err)?;
    }
    Ok(refloat_core::resolve::Given {
        bits,
        mode: match mode {
            "detect" => None,
            m => Some(mode_of(m)?),
        },
        leave_exact,
    })
}

fn format_of(format: Option<&str>) -> PyResult<Option<refloat_core::resolve::Format>> {
    format
        .filter(|f| !f.is_empty())
        .map(refloat_core::resolve::Format::parse)
        .transpose()
        .map_err(err)
}

/// Resolve float32 stored values on their own (a whole branch).
#[pyfunction]
#[pyo3(signature = (x, bits=None, mode="detect", format=None, branch="", leave_exact=true))]
fn resolve_f32(
    py: Python<'_>,
    x: PyReadonlyArrayDyn<'_, f32>,
    bits: Option<u32>,
    mode: &str,
    format: Option<&str>,
    branch: &str,
    leave_exact: bool,
) -> PyResult<Resolution> {
    let g = given(bits, mode, leave_exact)?;
    let f = format_of(format)?.unwrap_or_default();
    let s = contiguous_ro(&x, "x")?;
    Ok(Resolution(py.detach(|| {
        refloat_core::resolve::resolve_named_f32(s, &g, f, branch)
    })))
}

/// Resolve branch `branch` of a ROOT file as `refloat correct` does.
#[pyfunction]
#[pyo3(signature = (path, branch, tree=None, bits=None, mode="detect", format=None, leave_exact=true))]
#[allow(clippy::too_many_arguments)]
fn resolve_file(
    py: Python<'_>,
    path: PathBuf,
    branch: String,
    tree: Option<String>,
    bits: Option<u32>,
    mode: &str,
    format: Option<&str>,
    leave_exact: bool,
) -> PyResult<Resolution> {
    let g = given(bits, mode, leave_exact)?;
    let f = format_of(format)?;
    let select = Select {
        tree,
        branches: vec![branch.clone()],
    };
    let (_, mut r) = py
        .detach(|| pipeline::resolve_file(&path, &select, &g, f))
        .map_err(err)?;
    if r.len() != 1 {
        return Err(Error::new_err(format!(
            "branch '{branch}' of {} matches {} float branches: name exactly one",
            path.display(),
            r.len()
        )));
    }
    Ok(Resolution(r.remove(0).1))
}

/// Correct float32 stored values in place under `resolution` (JSON of the correction
/// report). A branch the resolution leaves as stored is untouched.
#[pyfunction]
#[pyo3(signature = (x, resolution, method, seed, branch, first_index, prior=None))]
#[allow(clippy::too_many_arguments)]
fn correct_f32(
    py: Python<'_>,
    mut x: PyReadwriteArrayDyn<'_, f32>,
    resolution: &Resolution,
    method: &str,
    seed: u64,
    branch: &str,
    first_index: u64,
    prior: Option<PyReadonlyArrayDyn<'_, f32>>,
) -> PyResult<String> {
    let m = method_of(method, seed)?;
    let prior = prior
        .as_ref()
        .map(|p| contiguous_ro(p, "prior"))
        .transpose()?;
    let data = contiguous(&mut x, "x")?;
    let r = &resolution.0;
    let report = py.detach(|| -> refloat_core::Result<_> {
        match r.corrector(m, branch, prior.unwrap_or(data))? {
            Some(c) => c.correct_in_place(data, first_index),
            None => Ok(refloat_core::correct::CorrectionReport {
                non_finite: data.iter().filter(|x| !x.is_finite()).count(),
                ..Default::default()
            }),
        }
    });
    json(&report.map_err(err)?)
}

/// Check that every corrected value re-quantises to its stored value, bit for bit.
#[pyfunction]
fn verify_f32(
    py: Python<'_>,
    corrected: PyReadonlyArrayDyn<'_, f32>,
    stored: PyReadonlyArrayDyn<'_, f32>,
    bits: u32,
    mode: &str,
) -> PyResult<()> {
    let q = Quantiser32::new(bits, mode_of(mode)?).map_err(err)?;
    let c = contiguous_ro(&corrected, "corrected")?;
    let s = contiguous_ro(&stored, "stored")?;
    py.detach(|| verify_requantises_f32(c, s, &q)).map_err(err)
}

/// The distribution-shift metrics between two samples (JSON of `ShiftMetrics`).
#[pyfunction]
fn shift_metrics(
    py: Python<'_>,
    original: PyReadonlyArrayDyn<'_, f64>,
    other: PyReadonlyArrayDyn<'_, f64>,
    bins: usize,
    seed: u64,
) -> PyResult<String> {
    let a = contiguous_ro(&original, "original")?;
    let b = contiguous_ro(&other, "other")?;
    let options = ShiftOptions {
        histogram_bins: bins,
        seed,
        ..ShiftOptions::default()
    };
    json(
        &py.detach(|| core_shift_metrics(a, b, &options))
            .map_err(err)?,
    )
}

fn select(tree: Option<String>, branches: Vec<String>) -> Select {
    Select { tree, branches }
}

fn compression(c: Option<String>) -> PyResult<Option<refloat_core::io::rewrite::Compression>> {
    c.as_deref().map(str::parse).transpose().map_err(err)
}

/// Trees, branches, bits and schemes of a ROOT file (JSON of `InspectReport`).
#[pyfunction]
#[pyo3(signature = (path, tree=None, branches=Vec::new()))]
fn inspect(
    py: Python<'_>,
    path: PathBuf,
    tree: Option<String>,
    branches: Vec<String>,
) -> PyResult<String> {
    let patterns = refloat_core::io::parse_patterns(&branches).map_err(err)?;
    let report =
        py.detach(|| pipeline::inspect_file(&path, tree.as_deref(), &patterns, &mut |_| {}));
    json(&report.map_err(err)?)
}

/// Round the float branches of `input` into the drop-in copy `output` (JSON of `CompressReport`).
/// `branch_bits`: (glob, bits) rules before the advice's; `advice`: the JSON of `advise_file`.
#[pyfunction]
#[pyo3(signature = (input, output, bits, mode, tree=None, branches=Vec::new(), compression=None, branch_bits=Vec::new(), advice=None, allow_damaged_copies=false, threads=0))]
#[allow(clippy::too_many_arguments)]
fn compress_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    bits: u32,
    mode: &str,
    tree: Option<String>,
    branches: Vec<String>,
    compression: Option<String>,
    branch_bits: Vec<(String, u32)>,
    advice: Option<String>,
    allow_damaged_copies: bool,
    threads: usize,
) -> PyResult<String> {
    let mut rules = branch_bits
        .iter()
        .map(|(glob, b)| {
            Ok((
                refloat_core::io::BranchPattern::parse(glob).map_err(err)?,
                *b,
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    if let Some(text) = advice {
        rules.extend(pipeline::advised_bits(&text).map_err(err)?);
    }
    let chosen = select(tree, branches);
    let opts = CompressOptions {
        quantiser: Quantiser32::new(
            bits,
            match mode {
                "detect" => pipeline::producer_mode(&input, &chosen).map_err(err)?,
                m => mode_of(m)?,
            },
        )
        .map_err(err)?,
        select: chosen,
        bits: rules,
        compression: self::compression(compression)?,
        measure_sizes: false,
        copies: copies(allow_damaged_copies),
        threads,
    };
    let report = py.detach(|| pipeline::compress_file(&input, &output, &opts, &mut |_| {}));
    json(&report.map_err(err)?)
}

/// A pipeline over many files (`refloat_core::pipeline::run_dataset`): `inputs` (paths or
/// globs) into `out_dir` under their own names; `one(input, output)` runs one file and
/// returns its report's JSON. JSON of the dataset report.
#[pyfunction]
fn run_dataset(
    py: Python<'_>,
    inputs: Vec<String>,
    out_dir: PathBuf,
    keep_going: bool,
    one: Bound<'_, PyAny>,
) -> PyResult<String> {
    let inputs = pipeline::dataset_inputs(&inputs).map_err(err)?;
    let report = pipeline::run_dataset(&inputs, &out_dir, keep_going, |input, output| {
        file_report(py, &one, input, Some(output))
    })
    .map_err(err)?;
    json(&report)
}

/// `one(input, partner or None)`, the Python function that runs one file of a dataset, and
/// the report JSON it returns, parsed.
fn file_report(
    py: Python<'_>,
    one: &Bound<'_, PyAny>,
    input: &Path,
    partner: Option<&Path>,
) -> refloat_core::Result<serde_json::Value> {
    let text: String = one
        .call1((input.to_path_buf(), partner.map(Path::to_path_buf)))
        .and_then(|r| r.extract())
        .map_err(|e| refloat_core::Error::InvalidInput(e.value(py).to_string()))?;
    serde_json::from_str(&text)
        .map_err(|e| refloat_core::Error::InvalidInput(format!("a file's report: {e}")))
}

/// A pipeline over many files that writes nothing (`refloat_core::pipeline::run_each`):
/// `inputs` (paths or globs), each with the file of the same name in `dir` when given
/// (`dataset_partners`); `one(input, partner or None)` runs one file and returns its
/// report's JSON. JSON of the dataset report.
#[pyfunction]
#[pyo3(signature = (inputs, dir, keep_going, one))]
fn run_each(
    py: Python<'_>,
    inputs: Vec<String>,
    dir: Option<PathBuf>,
    keep_going: bool,
    one: Bound<'_, PyAny>,
) -> PyResult<String> {
    let inputs = pipeline::dataset_inputs(&inputs).map_err(err)?;
    let partners = pipeline::dataset_partners(&inputs, dir.as_deref()).map_err(err)?;
    let report = pipeline::run_each(&inputs, &partners, keep_going, |input, partner| {
        file_report(py, &one, input, partner)
    });
    json(&report)
}

/// What a rewrite does with a copied record that does not decode.
fn copies(allow_damaged: bool) -> refloat_core::io::rewrite::CopyCheck {
    if allow_damaged {
        refloat_core::io::rewrite::CopyCheck::Warn
    } else {
        refloat_core::io::rewrite::CopyCheck::Error
    }
}

/// How many kept bits each float branch of `input` needs (JSON of `AdviceReport`).
#[pyfunction]
#[pyo3(signature = (input, mode, tree=None, branches=Vec::new(), resolutions=Vec::new(), min_bits=4, max_bits=23, artefact_values=1e6, sizes=true))]
#[allow(clippy::too_many_arguments)]
fn advise_file(
    py: Python<'_>,
    input: PathBuf,
    mode: &str,
    tree: Option<String>,
    branches: Vec<String>,
    resolutions: Vec<(String, String)>,
    min_bits: u32,
    max_bits: u32,
    artefact_values: f64,
    sizes: bool,
) -> PyResult<String> {
    let resolutions = resolutions
        .iter()
        .map(|(glob, r)| {
            Ok((
                refloat_core::io::BranchPattern::parse(glob).map_err(err)?,
                r.parse::<refloat_core::advise::Resolution>().map_err(err)?,
            ))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let defaults = refloat_core::advise::AdviseOptions::default();
    let opts = pipeline::AdviseFileOptions {
        select: select(tree, branches),
        advise: refloat_core::advise::AdviseOptions {
            mode: mode_of(mode)?,
            min_bits,
            max_bits,
            artefacts: refloat_core::advise::ArtefactOptions {
                sample_values: artefact_values,
                ..defaults.artefacts
            },
            ..defaults
        },
        resolutions,
        measure_sizes: sizes,
    };
    let report = py.detach(|| pipeline::advise_file(&input, &opts, &mut |_| {}));
    report.map_err(err)?.to_json().map_err(err)
}

/// An original file against its rounded or corrected twin (JSON of `AnalyseReport`).
#[pyfunction]
#[pyo3(signature = (original, compressed, mode, bits=None, tree=None, branches=Vec::new()))]
fn analyse_file(
    py: Python<'_>,
    original: PathBuf,
    compressed: PathBuf,
    mode: &str,
    bits: Option<u32>,
    tree: Option<String>,
    branches: Vec<String>,
) -> PyResult<String> {
    let opts = pipeline::AnalyseOptions {
        select: select(tree, branches),
        bits,
        mode: mode_of(mode)?,
    };
    let report = py.detach(|| pipeline::analyse_file(&original, &compressed, &opts, &mut |_| {}));
    report.map_err(err)?.to_json().map_err(err)
}

/// Correct the float branches of `input` into the drop-in copy `output` (JSON of `CorrectReport`).
#[pyfunction]
#[pyo3(signature = (input, output, method, seed, bits=None, mode=None, tree=None, branches=Vec::new(), compression=None, verify=true, format=None, leave_exact=true, allow_damaged_copies=false, threads=0))]
#[allow(clippy::too_many_arguments)]
fn correct_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    method: &str,
    seed: u64,
    bits: Option<u32>,
    mode: Option<&str>,
    tree: Option<String>,
    branches: Vec<String>,
    compression: Option<String>,
    verify: bool,
    format: Option<&str>,
    leave_exact: bool,
    allow_damaged_copies: bool,
    threads: usize,
) -> PyResult<String> {
    let opts = CorrectOptions {
        select: select(tree, branches),
        bits,
        mode: mode.filter(|m| *m != "detect").map(mode_of).transpose()?,
        compression: self::compression(compression)?,
        verify,
        format: format_of(format)?,
        leave_exact,
        copies: copies(allow_damaged_copies),
        threads,
    };
    let m = method_of(method, seed)?;
    let report = py.detach(|| {
        pipeline::correct_file(&input, &output, Correction::Method(m), &opts, &mut |_| {})
    });
    json(&report.map_err(err)?)
}

/// Check a corrected file against its stored file (JSON of `VerifyReport`).
#[pyfunction]
#[pyo3(signature = (stored, corrected, bits=None, mode=None, tree=None, branches=Vec::new(), format=None, leave_exact=true))]
#[allow(clippy::too_many_arguments)]
fn verify_file(
    py: Python<'_>,
    stored: PathBuf,
    corrected: PathBuf,
    bits: Option<u32>,
    mode: Option<&str>,
    tree: Option<String>,
    branches: Vec<String>,
    format: Option<&str>,
    leave_exact: bool,
) -> PyResult<String> {
    let opts = pipeline::VerifyOptions {
        select: select(tree, branches),
        bits,
        mode: mode.filter(|m| *m != "detect").map(mode_of).transpose()?,
        format: format_of(format)?,
        leave_exact,
    };
    let report = py.detach(|| pipeline::verify_file(&stored, &corrected, &opts, &mut |_| {}));
    json(&report.map_err(err)?)
}

/// The stream seed of a branch under the one seeding rule.
#[pyfunction]
fn dither_stream_seed(seed: u64, branch: &str) -> u64 {
    refloat_core::correct::dither_stream_seed(seed, branch)
}

/// The replicas of a buffer (a whole branch) under its resolution: `bits` given, or resolved.
fn replica_source(
    stored: &[f32],
    bits: Option<u32>,
    mode: &str,
    seed: u64,
    branch: &str,
) -> PyResult<ResolvedReplicas> {
    let g = given(bits, mode, true)?;
    let r = refloat_core::resolve::resolve_named_f32(
        stored,
        &g,
        refloat_core::resolve::Format::Unknown,
        branch,
    );
    if r.bits.is_none() {
        return Err(Error::new_err(format!(
            "cannot infer the kept mantissa bits: {} (give bits=)",
            r.note.as_deref().unwrap_or("the kept bits cannot be told")
        )));
    }
    Ok(ResolvedReplicas::new(r, seed, branch))
}

/// Replica `replica` of float32 stored values (a whole branch), written into `out`.
#[pyfunction]
#[pyo3(signature = (stored, bits, mode, seed, replica, branch, out))]
#[allow(clippy::too_many_arguments)]
fn replica_f32(
    py: Python<'_>,
    stored: PyReadonlyArrayDyn<'_, f32>,
    bits: Option<u32>,
    mode: &str,
    seed: u64,
    replica: u32,
    branch: &str,
    mut out: PyReadwriteArrayDyn<'_, f32>,
) -> PyResult<()> {
    let s = contiguous_ro(&stored, "stored")?;
    let source = replica_source(s, bits, mode, seed, branch)?;
    let o = contiguous(&mut out, "out")?;
    py.detach(|| source.replica_into(s, replica, o))
        .map_err(err)
}

/// The spread of a histogram (and of the mean and std) of float32 stored values over `n`
/// replicas (JSON of `refloat_core::replicas::BranchSpread`).
#[pyfunction]
#[pyo3(signature = (stored, bits, mode, seed, branch, n, edges))]
#[allow(clippy::too_many_arguments)]
fn branch_spread_f32(
    py: Python<'_>,
    stored: PyReadonlyArrayDyn<'_, f32>,
    bits: Option<u32>,
    mode: &str,
    seed: u64,
    branch: &str,
    n: u32,
    edges: PyReadonlyArrayDyn<'_, f64>,
) -> PyResult<String> {
    let s = contiguous_ro(&stored, "stored")?;
    let e = contiguous_ro(&edges, "edges")?;
    let source = replica_source(s, bits, mode, seed, branch)?;
    let r = py.detach(|| branch_spread(s, e, n, &source));
    json(&r.map_err(err)?)
}

/// The dither seed of replica `replica` under `seed` (the one replica rule).
#[pyfunction]
fn replica_seed(seed: u64, replica: u32) -> u64 {
    refloat_core::replicas::replica_seed(seed, replica)
}

/// Whether this build has the learned models (cargo feature `torch`).
#[pyfunction]
fn has_torch() -> bool {
    cfg!(feature = "torch")
}

#[cfg(feature = "torch")]
mod model;

#[pymodule]
fn _refloat(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "MODES",
        RoundingMode::ALL
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>(),
    )?;
    m.add_function(wrap_pyfunction!(quantise_f32, m)?)?;
    m.add_function(wrap_pyfunction!(quantise_f64, m)?)?;
    m.add_function(wrap_pyfunction!(interval_f32, m)?)?;
    m.add_function(wrap_pyfunction!(interval_f64, m)?)?;
    m.add_function(wrap_pyfunction!(residual_f32, m)?)?;
    m.add_function(wrap_pyfunction!(infer_bits_f32, m)?)?;
    m.add_function(wrap_pyfunction!(detect_f32, m)?)?;
    m.add_function(wrap_pyfunction!(correct_f32, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_f32, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_file, m)?)?;
    m.add_function(wrap_pyfunction!(evidence_f32, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_evidence, m)?)?;
    m.add_class::<Resolution>()?;
    m.add_function(wrap_pyfunction!(verify_f32, m)?)?;
    m.add_function(wrap_pyfunction!(shift_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(compress_file, m)?)?;
    m.add_function(wrap_pyfunction!(run_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(run_each, m)?)?;
    m.add_function(wrap_pyfunction!(advise_file, m)?)?;
    m.add_function(wrap_pyfunction!(analyse_file, m)?)?;
    m.add_function(wrap_pyfunction!(correct_file, m)?)?;
    m.add_function(wrap_pyfunction!(verify_file, m)?)?;
    m.add_function(wrap_pyfunction!(dither_stream_seed, m)?)?;
    m.add_function(wrap_pyfunction!(replica_f32, m)?)?;
    m.add_function(wrap_pyfunction!(branch_spread_f32, m)?)?;
    m.add_function(wrap_pyfunction!(replica_seed, m)?)?;
    m.add_function(wrap_pyfunction!(has_torch, m)?)?;
    #[cfg(feature = "torch")]
    m.add_class::<model::Model>()?;
    Ok(())
}
