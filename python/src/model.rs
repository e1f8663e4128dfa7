//! `refloat.Model` (cargo feature `torch`): a learned correction loaded from its TorchScript
//! file, over the same library functions as the C API's `refloat_model_*` and the command's
//! `--method model:PATH` (no parsing of its own).

use std::path::PathBuf;

use numpy::{PyArray1, PyReadonlyArrayDyn};
use pyo3::prelude::*;

use refloat_core::pipeline::{self, CorrectOptions, Correction, Select};
use refloat_model::{FileModel, Model as Inner};

use super::{contiguous_ro, err, json, mode_of, Error};

/// A learned model: corrects an object's variables jointly, each value inside its interval.
#[pyclass(module = "refloat", name = "Model", unsendable)]
pub struct Model {
    inner: Inner,
    path: PathBuf,
}

#[pymethods]
impl Model {
    /// Load `path`; `bits`, `mode` and `variables` (in order), when given, must be those the
    /// model was made for.
    #[new]
    #[pyo3(signature = (path, bits=None, mode=None, variables=None))]
    fn new(
        path: PathBuf,
        bits: Option<u32>,
        mode: Option<&str>,
        variables: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let inner = Inner::load(&path).map_err(err)?;
        let bits = bits.unwrap_or(inner.meta().mantissa_bits);
        let mode = match mode {
            Some(m) => mode_of(m)?,
            None => inner.meta().rounding,
        };
        let vars: Option<Vec<&str>> = variables
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        inner
            .meta()
            .check(bits, mode, vars.as_deref())
            .map_err(|e| Error::new_err(format!("{}: {e}", path.display())))?;
        Ok(Model { inner, path })
    }

    /// The branches the model corrects, in its order.
    #[getter]
    fn variables(&self) -> Vec<String> {
        self.inner
            .meta()
            .variable_names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Kept mantissa bits of the data the model was made for.
    #[getter]
    fn mantissa_bits(&self) -> u32 {
        self.inner.meta().mantissa_bits
    }

    /// The rounding of the data the model was made for.
    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.meta().rounding.name()
    }

    /// The model file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The model's metadata (JSON).
    fn meta_json(&self) -> PyResult<String> {
        json(self.inner.meta())
    }

    /// Corrected copies of `columns` (one float32 array per variable, the same objects in
    /// each), events delimited by `offsets` (`n_events + 1` entries; default: one event).
    /// Returns the columns and the JSON report.
    #[pyo3(signature = (columns, offsets=None))]
    fn correct<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<PyReadonlyArrayDyn<'py, f32>>,
        offsets: Option<PyReadonlyArrayDyn<'py, i64>>,
    ) -> PyResult<(Vec<Bound<'py, PyArray1<f32>>>, String)> {
        let views = columns
            .iter()
            .enumerate()
            .map(|(i, c)| contiguous_ro(c, &format!("columns[{i}]")))
            .collect::<PyResult<Vec<&[f32]>>>()?;
        let n = views.first().map_or(0, |v| v.len());
        let offsets: Vec<usize> = match &offsets {
            None => vec![0, n],
            Some(o) => contiguous_ro(o, "offsets")?
                .iter()
                .map(|&v| {
                    usize::try_from(v)
                        .map_err(|_| Error::new_err(format!("offsets: negative offset {v}")))
                })
                .collect::<PyResult<_>>()?,
        };
        let (out, report) = self.inner.correct(&views, &offsets).map_err(err)?;
        Ok((
            out.into_iter().map(|v| PyArray1::from_vec(py, v)).collect(),
            json(&report)?,
        ))
    }

    /// Correct the model's variables in the file `input` into the drop-in copy `output`
    /// (`refloat correct --method model:PATH`); JSON of the report.
    #[pyo3(signature = (input, output, tree=None, compression=None, verify=true))]
    fn correct_file(
        &self,
        input: PathBuf,
        output: PathBuf,
        tree: Option<String>,
        compression: Option<String>,
        verify: bool,
    ) -> PyResult<String> {
        let opts = CorrectOptions {
            select: Select {
                tree,
                branches: Vec::new(),
            },
            bits: None,
            mode: Some(self.inner.meta().rounding),
            compression: super::compression(compression)?,
            verify,
            ..Default::default()
        };
        let joint = FileModel::new(&self.inner, &self.path);
        let report = pipeline::correct_file(
            &input,
            &output,
            Correction::Joint(&joint),
            &opts,
            &mut |_| {},
        );
        json(&report.map_err(err)?)
    }
}
