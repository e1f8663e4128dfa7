//! Learned corrections with libtorch (cargo feature `torch`, via tch).
//!
//! Three models, all trained from Rust on (original, compressed) pairs that training makes
//! itself with [`refloat_core::quantise`] ([`train::train`]):
//!
//! * [`ModelKind::Inpainting`] (the main one): for every stored value of a group of
//!   variables of the same objects (e.g. the `pt`, `eta`, `phi`, `m` of each jet) it
//!   predicts where in the value's interval of originals the original lies, from the kept
//!   bits of all the object's variables and event context ([`features`]).
//! * [`ModelKind::DenoisePerValue`]: a 1D convolutional denoising autoencoder over the
//!   sequence of normalised stored values, predicting the same per-value fraction.
//! * [`ModelKind::DenoiseHistogram`]: a 1D convolutional denoising autoencoder that maps
//!   the fine (asinh-spaced) histogram of compressed values to that of the originals
//!   (MSE or KL loss, Gaussian input noise). It reconstructs distributions, not values.
//!
//! **The invariant holds by construction**: a per-value model outputs a fraction `f` in
//! `[0, 1]`, mapped to `lo + f·(hi − lo)` of the stored value's exact interval
//! ([`crate::Quantiser32::interval`]) and clamped into it ([`features::value_at_fraction`]),
//! so `quantise(corrected) == stored` bit for bit. Values the corrections treat as exact (0, ±1,
//! sentinels; [`refloat_core::correct::ExactPolicy`]) and NaN/±Inf are left alone, as by the
//! non-learned estimators.
//!
//! **Files**: a model is a TorchScript `.pt` file (weights baked in as constants by tracing
//! the forward pass defined with tch's `nn`) with its [`ModelMeta`] (variables, bits,
//! rounding, normalisation, binning) as the PyTorch extra file `refloat.json` ([`archive`]). Python reads both with
//! `torch.jit.load(path, _extra_files={"refloat.json": ""})`. Loading checks the metadata;
//! [`Model::load_for`] refuses a model made for other bits, rounding or variables.
//!
//! **Devices**: models load on CUDA when libtorch sees a GPU
//! (`tch::Device::cuda_if_available`), else on the CPU; [`Model::load_on`] chooses.
//!
//! **Finding libtorch at run time**: the build adds an rpath to the libtorch it was built
//! against (see `build.rs`), so binaries, tests and the cdylib run without
//! `LD_LIBRARY_PATH`. Build with `LIBTORCH_USE_PYTORCH=1` and a Python that has
//! `torch==2.13.0` first on `PATH` (or `LIBTORCH=/path/to/libtorch`).

//! # What the models achieve (measured; an honest account)
//!
//! Trained on the development file (`DAOD_PHYSLITE_21.2.108.0.art.pool.root`, 40 events,
//! 372 jets; 30 events train, 10 validate) and evaluated with `refloat evaluate` on the
//! held-out `PHYSLITE_example.root` (100 events, 881 jets), jets' pt, eta, phi, m, default
//! settings, squared error relative to the stored values (1 = no gain):
//!
//! | data | midpoint | prior-mean | inpainting | per-value autoencoder |
//! |---|---|---|---|---|
//! | 10 bits, nearest | 1.0000 (all) | 0.9994–1.0002 | 1.0000 (kept the untrained net) | 1.0000 (same) |
//! | 7 bits, nearest | 1.0000 | 0.9992–1.0023 | 0.9988–1.0141 | 1.0000 |
//! | 7 bits, truncate | 0.265–0.321 | 0.265–0.321 | 0.273–0.354 (pt worse) | = midpoint |
//!
//! **The learned models do not beat `prior-mean`** (nor the midpoint). Early stopping
//! mostly keeps the untrained network, which is the midpoint by construction (zero output
//! layers); when training moves away from it, the gain on validation events is 0.1–0.6 % in
//! the training loss and does not carry over to the held-out file (pt, whose spectrum
//! differs between the two files, gets worse). The reason is in the data, not the network:
//! for round-to-nearest at `n` kept bits the dropped bits are, to an excellent
//! approximation, uniform given everything that was kept. The density of a smooth variable
//! changes by a relative `~2^−n` across one interval, so the best per-value estimate moves
//! by a few per mille of the interval (what `prior-mean` does: at most 0.1 % in MSE, sometimes a loss), and
//! the other variables of the same object (pt, eta, phi, m of a jet are not functions of
//! each other at the `10^−3` level), the object count and the neighbours carry no usable
//! information on those bits. What a model could learn (exactly known values: charges,
//! constant masses, sentinels) is already handled exactly by the corrections' exact-value
//! policy. The development file is also tiny (≈ 1,500 jet values to train on).
//!
//! The histogram-mode autoencoder is different: it reconstructs distributions, not values.
//! At 5 kept bits (128 asinh-spaced bins) the KL-trained model cuts `KL(original ‖ ·)` on the
//! held-out jets from 0.84 to 0.13 (pt), 0.044 to 0.037 (eta), 0.107 to 0.032 (phi) and 0.67
//! to 0.105 (m), and JS by 13–40 %; at 7 bits, where the compressed histogram is already close,
//! it gains nothing or makes KL worse (pt 0.0106 to 0.0113, m 0.063 to 0.105): smoothing
//! helps only when the quantisation step is comparable to the bin width.

pub mod archive;
pub mod bench;
pub mod features;
pub mod meta;
mod net;
pub mod train;

pub use meta::{
    Estimator, HistogramLoss, HistogramSpec, ModelKind, ModelMeta, StoredDensity, TrainingRecord,
    VarNorm, VariableChoice,
};
pub use tch::{self, Device};

use std::path::Path;

use tch::{Kind, Tensor};

use net::tch_err;
use refloat_core::correct::{CorrectionReport, Corrector, DensityPrior, ExactPolicy, Method};
use refloat_core::error::{Error, Result};
use refloat_core::quantise::{Quantiser32, RoundingMode};

/// Rows per inference call (inpainting) or sequence length per chunk (autoencoder).
const CHUNK: usize = 1 << 16;
/// Context on each side of an autoencoder chunk; larger than its receptive field (7).
const HALO: usize = 32;

/// A loaded model, ready for inference.
pub struct Model {
    module: tch::CModule,
    meta: ModelMeta,
    device: Device,
    quantiser: Quantiser32,
    policy: ExactPolicy,
    /// Per variable, prior-mean under the density the file records (empty for files
    /// without densities).
    priors: Vec<Corrector>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("meta", &self.meta)
            .field("device", &self.device)
            .finish()
    }
}

/// A histogram over `asinh(x / scale)`-spaced bins.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `bins + 1` bin edges in the variable's own unit, increasing.
    pub edges: Vec<f64>,
    /// Probability of each bin (sums to 1 unless empty).
    pub probabilities: Vec<f64>,
}

impl Model {
    /// Load a model file on CUDA if available, else on the CPU.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::Model`] if it is not a TorchScript
    /// module with refloat metadata, or libtorch cannot load it.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Self::load_on(path, Device::cuda_if_available())
    }

    /// Load a model file on `device`.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_on(path: impl AsRef<Path>, device: Device) -> Result<Model> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, device).map_err(|e| match e {
            Error::Model(m) => Error::Model(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Load a model file and check that it was made for data stored with `mantissa_bits` /
    /// `rounding` and for `variables` (in this order; `None` skips that check).
    ///
    /// # Errors
    /// As [`Self::load`], and [`Error::Model`] naming what differs.
    pub fn load_for(
        path: impl AsRef<Path>,
        mantissa_bits: u32,
        rounding: RoundingMode,
        variables: Option<&[&str]>,
    ) -> Result<Model> {
        let path = path.as_ref();
        let m = Self::load(path)?;
        m.meta
            .check(mantissa_bits, rounding, variables)
            .map_err(|e| {
                Error::Model(format!(
                    "{}: {}",
                    path.display(),
                    e.to_string().trim_start_matches("model: ")
                ))
            })?;
        Ok(m)
    }

    /// Load a model from the bytes of its file.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn from_bytes(bytes: &[u8], device: Device) -> Result<Model> {
        let meta = archive::read_extra_file(bytes, meta::META_FILE)?.ok_or_else(|| {
            Error::Model(format!(
                "TorchScript file without refloat metadata (no extra file '{}')",
                meta::META_FILE
            ))
        })?;
        let meta: ModelMeta = serde_json::from_slice(&meta)
            .map_err(|e| Error::Model(format!("unreadable refloat metadata: {e}")))?;
        meta.validate()?;
        let mut module =
            tch::CModule::load_data_on_device(&mut std::io::Cursor::new(bytes), device)
                .map_err(tch_err("loading the TorchScript module"))?;
        module
            .f_set_eval()
            .map_err(tch_err("switching to evaluation mode"))?;
        let quantiser = Quantiser32::new(meta.mantissa_bits, meta.rounding)?;
        let policy = ExactPolicy::default();
        let priors = meta
            .densities
            .iter()
            .map(|d| {
                let counts = d.counts(quantiser.dropped_bits())?;
                let prior = DensityPrior::from_counts(&quantiser, &policy, &counts)
                    .map_err(|e| Error::Model(format!("{}: {e}", d.variable)))?;
                Ok(Corrector::with_prior(quantiser, policy.clone(), prior))
            })
            .collect::<Result<_>>()?;
        Ok(Model {
            module,
            meta,
            device,
            quantiser,
            policy,
            priors,
        })
    }

    /// What the file says about the model.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Prior-mean as the model's fallback for variable `j`: under the density the file
    /// records (`None` for a file without densities, or `j` out of range).
    pub fn fallback(&self, j: usize) -> Option<&Corrector> {
        self.priors.get(j)
    }

    /// Where inference runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The quantiser of the data the model was made for.
    pub fn quantiser(&self) -> &Quantiser32 {
        &self.quantiser
    }

    fn run(&self, x: Tensor) -> Result<Tensor> {
        tch::no_grad(|| self.module.forward_ts(&[x.to_device(self.device)]))
            .map_err(tch_err("running the model"))
            .map(|y| y.to_device(Device::Cpu).to_kind(Kind::Float))
    }

    fn check_columns(&self, stored: &[&[f32]], offsets: &[usize]) -> Result<usize> {
        if stored.len() != self.meta.variables.len() {
            return Err(Error::Model(format!(
                "model takes {} variables ([{}]), got {} columns",
                self.meta.variables.len(),
                self.meta.variable_names().join(", "),
                stored.len()
            )));
        }
        let n = features::check_group(stored, offsets)?;
        for col in stored {
            if let Some(i) = col.iter().position(|&s| !self.quantiser.is_stored(s)) {
                return Err(self.quantiser.interval_at(col[i], i).unwrap_err());
            }
        }
        Ok(n)
    }

    /// Predicted position of each original inside its stored value's interval, as a
    /// fraction in `[0, 1]`; variable-major `[F, N]`. `stored` holds one column per model
    /// variable (in the model's order), `offsets` the event structure (`[0, N]` for one
    /// event).
    ///
    /// # Errors
    /// [`Error::Model`] for a histogram-mode model, a wrong number of columns or a libtorch
    /// failure; [`Error::LengthMismatch`] / [`Error::InvalidInput`] for inconsistent
    /// columns or offsets; [`Error::NotQuantised`] for a value that is not a stored value at
    /// the model's bits (data compressed differently).
    pub fn predict_fractions(&self, stored: &[&[f32]], offsets: &[usize]) -> Result<Vec<f32>> {
        let n = self.check_columns(stored, offsets)?;
        let f = stored.len();
        let mut out = vec![0.5f32; f * n];
        match self.meta.kind {
            ModelKind::Inpainting => {
                let width = self.meta.inputs;
                let x = features::inpainting_features(stored, offsets, &self.meta.variables, &self.quantiser, &self.policy)?;
                for start in (0..n).step_by(CHUNK) {
                    let rows = CHUNK.min(n - start);
                    let xt = Tensor::from_slice(&x[start * width..(start + rows) * width]).view([rows as i64, width as i64]);
                    let y = self.run(xt)?; // [rows, F]
                    let y: Vec<f32> = Vec::try_from(&y.transpose(0, 1).contiguous().view([-1]))
                        .map_err(tch_err("reading the model output"))?;
                    for j in 0..f {
                        out[j * n + start..j * n + start + rows].copy_from_slice(&y[j * rows..(j + 1) * rows]);
                    }
                }
            }
            ModelKind::DenoisePerValue => {
                let c = self.meta.inputs;
                for start in (0..n).step_by(CHUNK) {
                    let len = CHUNK.min(n - start);
                    let (a, b) = (start.saturating_sub(HALO), (start + len + HALO).min(n));
                    // Each window's features built directly (with its halo), not cut from the whole.
                    let chunk = features::sequence_features_range(stored, &self.meta.variables, &self.quantiser, &self.policy, a..b)?;
                    let xt = Tensor::from_slice(&chunk).view([1, c as i64, (b - a) as i64]);
                    let y = self.run(xt)?; // [1, F, b - a]
                    let y: Vec<f32> = Vec::try_from(&y.contiguous().view([-1])).map_err(tch_err("reading the model output"))?;
                    for j in 0..f {
                        let row = &y[j * (b - a)..(j + 1) * (b - a)];
                        out[j * n + start..j * n + start + len].copy_from_slice(&row[start - a..start - a + len]);
                    }
                }
            }
            ModelKind::DenoiseHistogram => {
                return Err(Error::Model(
                    "a histogram-mode model reconstructs histograms, not values (use reconstruct_histogram)".into(),
                ))
            }
        }
        Ok(out)
    }

    /// Corrected copies of `stored` (one column per model variable), each value inside its
    /// interval: `quantise(corrected) == stored` bit for bit.
    ///
    /// # Errors
    /// As [`Self::predict_fractions`].
    pub fn correct(
        &self,
        stored: &[&[f32]],
        offsets: &[usize],
    ) -> Result<(Vec<Vec<f32>>, CorrectionReport)> {
        let columns = self.correct_columns(stored, offsets)?;
        let report = columns
            .iter()
            .fold(CorrectionReport::default(), |a, c| a + c.1);
        Ok((columns.into_iter().map(|c| c.0).collect(), report))
    }

    /// [`Self::correct`] with what was done to each column.
    fn correct_columns(
        &self,
        stored: &[&[f32]],
        offsets: &[usize],
    ) -> Result<Vec<(Vec<f32>, CorrectionReport)>> {
        self.correct_with(stored, offsets, |j| self.meta.uses(j))
    }

    /// [`Self::correct`] with the estimator of each variable `j` given by `uses(j)` instead
    /// of the one training chose (for that choice, and for comparisons). Prior-mean uses the
    /// density the file records ([`ModelMeta::densities`]), so each value's correction
    /// depends on its event alone; for a file without densities it estimates the density
    /// from the column it corrects, as `--method prior-mean` does.
    ///
    /// # Errors
    /// As [`Self::predict_fractions`].
    pub fn correct_with(
        &self,
        stored: &[&[f32]],
        offsets: &[usize],
        uses: impl Fn(usize) -> Estimator,
    ) -> Result<Vec<(Vec<f32>, CorrectionReport)>> {
        let f = stored.len();
        let fr = if (0..f).any(|j| uses(j) == Estimator::Model) {
            Some(self.predict_fractions(stored, offsets)?)
        } else {
            self.check_columns(stored, offsets)?;
            None
        };
        let n = stored.first().map_or(0, |c| c.len());
        stored
            .iter()
            .enumerate()
            .map(|(j, col)| match (uses(j), &fr) {
                (Estimator::Model, Some(fr)) => Ok(self.at_fractions(col, &fr[j * n..(j + 1) * n])),
                _ => {
                    let mut out = col.to_vec();
                    let report = match self.priors.get(j) {
                        Some(c) => c.correct_in_place(&mut out, 0)?,
                        None => Corrector::new(
                            self.quantiser,
                            Method::PriorMean,
                            self.policy.clone(),
                            col,
                        )
                        .correct_in_place(&mut out, 0)?,
                    };
                    Ok((out, report))
                }
            })
            .collect()
    }

    /// Each stored value of `col` moved to fraction `fr[i]` of its interval (fixed and
    /// non-finite values left alone).
    fn at_fractions(&self, col: &[f32], fr: &[f32]) -> (Vec<f32>, CorrectionReport) {
        let mut report = CorrectionReport::default();
        let q = &self.quantiser;
        let out = col
            .iter()
            .zip(fr)
            .map(|(&s, &f)| {
                if !s.is_finite() {
                    report.non_finite += 1;
                    return s;
                }
                // One interval per value: `is_fixed` and `value_at_fraction` in one.
                match q.interval(s) {
                    Some(iv) if !self.policy.is_exact(s, q) && iv.width() > 0.0 => {
                        report.corrected += 1;
                        features::value_in_interval(s, f, &iv, q)
                    }
                    _ => {
                        report.left_exact += 1;
                        s
                    }
                }
            })
            .collect();
        (out, report)
    }

    /// [`Self::correct`] in place; the columns are written only if the whole call succeeds.
    ///
    /// # Errors
    /// As [`Self::predict_fractions`].
    pub fn correct_in_place(
        &self,
        columns: &mut [&mut [f32]],
        offsets: &[usize],
    ) -> Result<CorrectionReport> {
        let (out, report) = {
            let view: Vec<&[f32]> = columns.iter().map(|c| &**c).collect();
            self.correct(&view, offsets)?
        };
        for (c, o) in columns.iter_mut().zip(out) {
            c.copy_from_slice(&o);
        }
        Ok(report)
    }

    /// Correct the model's variables, taken by name from `branches` (stored values as read
    /// with [`refloat_core::io`]; other branches are ignored): corrected copies in the model's
    /// variable order, each with what was done to it.
    ///
    /// # Errors
    /// [`Error::Model`] if a model variable is missing; [`Error::InvalidInput`] if the
    /// branches are not variables of the same objects; errors of [`Self::correct`].
    pub fn correct_branches(
        &self,
        branches: &[refloat_core::io::FloatBranch],
    ) -> Result<Vec<(refloat_core::io::FloatBranch, CorrectionReport)>> {
        let mine: Vec<&refloat_core::io::FloatBranch> = self
            .meta
            .variable_names()
            .into_iter()
            .map(|n| {
                branches.iter().find(|b| b.name == n).ok_or_else(|| {
                    Error::Model(format!("model needs branch '{n}', which was not given (not selected or not in the file)"))
                })
            })
            .collect::<Result<_>>()?;
        for b in &mine[1..] {
            if let Some(why) = mine[0].structure_mismatch(b) {
                return Err(Error::InvalidInput(format!(
                    "branches '{}' and '{}' are not variables of the same objects: {why}",
                    mine[0].name, b.name
                )));
            }
        }
        let offsets = match &mine[0].offsets {
            Some(o) => o.clone(),
            None => (0..=mine[0].values.len()).collect(),
        };
        let cols: Vec<&[f32]> = mine.iter().map(|b| b.values.as_slice()).collect();
        mine.iter()
            .zip(self.correct_columns(&cols, &offsets)?)
            .map(|(b, (v, report))| Ok((b.with_values(v)?, report)))
            .collect()
    }

    /// Histogram-mode models: the reconstructed distribution of the originals of variable
    /// `variable` given its stored values, over the model's bins.
    ///
    /// # Errors
    /// [`Error::Model`] for a per-value model or a variable index out of range;
    /// [`Error::NotQuantised`] for values not stored at the model's bits.
    pub fn reconstruct_histogram(&self, stored: &[f32], variable: usize) -> Result<Histogram> {
        let spec = match (&self.meta.kind, &self.meta.histogram) {
            (ModelKind::DenoiseHistogram, Some(s)) => s,
            _ => {
                return Err(Error::Model(format!(
                    "a {} model does not reconstruct histograms",
                    self.meta.kind
                )))
            }
        };
        let norm = self.meta.variables.get(variable).ok_or_else(|| {
            Error::Model(format!(
                "variable index {variable} out of range (model has {})",
                self.meta.variables.len()
            ))
        })?;
        if let Some(i) = stored.iter().position(|&s| !self.quantiser.is_stored(s)) {
            return Err(self.quantiser.interval_at(stored[i], i).unwrap_err());
        }
        let input = train::histogram_density(stored, norm, spec);
        let xt = Tensor::from_slice(&input).view([1, 1, spec.bins as i64]);
        let y = self.run(xt)?;
        let p: Vec<f32> =
            Vec::try_from(&y.view([-1])).map_err(tch_err("reading the model output"))?;
        Ok(Histogram {
            edges: train::histogram_edges(norm, spec),
            probabilities: p.into_iter().map(f64::from).collect(),
        })
    }
}

/// A loaded model as the file pipeline's joint correction
/// ([`refloat_core::pipeline::correct_file`] with `Correction::Joint`): its variables read
/// whole and corrected jointly; `path` names it in reports and errors.
pub struct FileModel<'a> {
    model: &'a Model,
    path: std::path::PathBuf,
}

impl<'a> FileModel<'a> {
    /// `model`, loaded from `path`.
    pub fn new(model: &'a Model, path: impl AsRef<Path>) -> Self {
        FileModel {
            model,
            path: path.as_ref().to_path_buf(),
        }
    }
}

impl refloat_core::pipeline::JointCorrection for FileModel<'_> {
    fn describe(&self) -> String {
        format!("model:{}", self.path.display())
    }
    fn note(&self, variable: &str) -> String {
        let meta = self.model.meta();
        let choice = meta.choice(variable).map_or_else(
            || "model (the file records no choice against prior-mean)".to_string(),
            |c| {
                c.explain()
                    .strip_prefix(&format!("{variable}: "))
                    .unwrap_or_default()
                    .to_string()
            },
        );
        format!("model {} ({}): {choice}", self.path.display(), meta.kind)
    }
    fn variables(&self) -> Vec<String> {
        self.model
            .meta()
            .variable_names()
            .into_iter()
            .map(String::from)
            .collect()
    }
    fn mantissa_bits(&self) -> u32 {
        self.model.meta().mantissa_bits
    }
    fn check(&self, bits: u32, mode: RoundingMode) -> Result<()> {
        self.model.meta().check(bits, mode, None).map_err(|e| {
            Error::Model(format!(
                "{}: {}",
                self.path.display(),
                e.to_string().trim_start_matches("model: ")
            ))
        })
    }
    fn correct(
        &self,
        stored: &[refloat_core::io::FloatBranch],
    ) -> Result<Vec<(Vec<f32>, CorrectionReport)>> {
        Ok(self
            .model
            .correct_branches(stored)
            .map_err(|e| Error::Model(format!("{}: {e}", self.path.display())))?
            .into_iter()
            .map(|(b, r)| (b.values, r))
            .collect())
    }
}
