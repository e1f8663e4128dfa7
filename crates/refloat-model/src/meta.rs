//! What a model file says about itself: the metadata stored beside the TorchScript module
//! (extra file `refloat.json`, see [`super::archive`]).

use refloat_core::error::{Error, Result};
use refloat_core::quantise::RoundingMode;

/// Name of the extra file that holds [`ModelMeta`] as JSON.
pub const META_FILE: &str = "refloat.json";
/// Value of [`ModelMeta::format`].
pub const FORMAT: &str = "refloat-model";
/// The metadata layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Which learned correction a model file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Per object: predicts where in each value's interval the original lies (the lost low
    /// mantissa bits, as a fraction of the interval) from the kept bits of all the object's
    /// selected variables and from event context (object count, rank, neighbours).
    Inpainting,
    /// 1D convolutional denoising autoencoder over the sequence of stored values (file
    /// order): predicts each value's position inside its interval from a window of
    /// normalised compressed values.
    DenoisePerValue,
    /// 1D convolutional denoising autoencoder over fine asinh-spaced histograms: maps the
    /// histogram of compressed values to that of the originals. It does not correct values.
    DenoiseHistogram,
}

impl ModelKind {
    /// The name used on the command line (`inpainting`, `denoise-per-value`,
    /// `denoise-histogram`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Inpainting => "inpainting",
            Self::DenoisePerValue => "denoise-per-value",
            Self::DenoiseHistogram => "denoise-histogram",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "inpainting" => Ok(Self::Inpainting),
            "denoise-per-value" | "dae" | "dae-per-value" => Ok(Self::DenoisePerValue),
            "denoise-histogram" | "dae-histogram" => Ok(Self::DenoiseHistogram),
            other => Err(Error::InvalidArgument(format!(
                "unknown model kind '{other}' (expected inpainting, denoise-per-value or denoise-histogram)"
            ))),
        }
    }
}

/// Loss of the histogram-mode autoencoder.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HistogramLoss {
    /// Mean squared error between normalised histograms (scaled by the bin count).
    #[default]
    Mse,
    /// `KL(original ‖ reconstructed)` of the normalised histograms.
    Kl,
}

impl std::str::FromStr for HistogramLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mse" => Ok(Self::Mse),
            "kl" => Ok(Self::Kl),
            other => Err(Error::InvalidArgument(format!(
                "unknown histogram loss '{other}' (expected mse or kl)"
            ))),
        }
    }
}

/// Normalisation of one variable, fixed from the training data and saved with the model:
/// `z = (asinh(x / scale) − mean) / std`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VarNorm {
    /// Branch name (`AnalysisJetsAuxDyn.pt`).
    pub name: String,
    /// Scale of the asinh transform, in the variable's own unit (median of the non-zero
    /// magnitudes; 1 if there are none): asinh is linear below it and logarithmic above.
    pub scale: f64,
    /// Mean of `asinh(x / scale)` over the training values.
    pub mean: f64,
    /// Standard deviation of `asinh(x / scale)` (at least 1e-6).
    pub std: f64,
    /// Smallest and largest `asinh(x / scale)` seen in training (histogram range).
    pub min: f64,
    /// See `min`.
    pub max: f64,
}

/// `asinh(t)` as `sign(t) · ln_1p(|t| + t² / (1 + √(1 + t²)))`: one square root and one
/// `ln_1p`, accurate to a few ulps for every finite `t` whose square is finite (|t| < 1e154,
/// which an `f32` over a positive scale stays within), and without the `hypot` of
/// `f64::asinh`, which dominated the models' feature time.
#[inline]
pub fn asinh(t: f64) -> f64 {
    let a = t.abs();
    let s = a * a;
    (a + s / (1.0 + (1.0 + s).sqrt())).ln_1p().copysign(t)
}

/// `asinh(t)` in single precision as `ln(|t| + √(1 + t²))` (`ln(2|t|)` once `t²` would
/// overflow), with the sign of `t`. Its error is absolute, a few `f32` ulps of 1 near 0 (where
/// `ln_1p` would be relatively exact): a model's input `z` is affine in it, so an absolute
/// error is what matters, and `ln` of an `f32` is several times faster than `ln_1p` of an
/// `f64`, which dominated the models' feature time.
#[inline]
pub fn asinh_f32(t: f32) -> f32 {
    let a = t.abs();
    let r = if a < 1e18 {
        (a + (1.0 + a * a).sqrt()).ln()
    } else {
        a.ln() + std::f32::consts::LN_2
    };
    r.copysign(t)
}

impl VarNorm {
    /// The normalised value `z` of `x` (0 for non-finite `x`).
    #[inline]
    pub fn z(&self, x: f32) -> f32 {
        if !x.is_finite() {
            return 0.0;
        }
        ((asinh_f32((x as f64 / self.scale) as f32) as f64 - self.mean) / self.std) as f32
    }

    /// Fit from values (non-finite ones ignored).
    pub fn fit(name: &str, values: &[f32]) -> Self {
        let mut mags: Vec<f64> = values
            .iter()
            .filter(|x| x.is_finite() && **x != 0.0)
            .map(|x| x.abs() as f64)
            .collect();
        let scale = if mags.is_empty() {
            1.0
        } else {
            let mid = mags.len() / 2;
            *mags.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let t: Vec<f64> = values
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| asinh(x as f64 / scale))
            .collect();
        let n = t.len().max(1) as f64;
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let min = t.iter().copied().fold(f64::INFINITY, f64::min);
        let max = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (min, max) = if min.is_finite() {
            (min, max)
        } else {
            (0.0, 0.0)
        };
        VarNorm {
            name: name.to_string(),
            scale,
            mean,
            std: var.sqrt().max(1e-6),
            min,
            max,
        }
    }
}

/// Histogram binning of the histogram-mode autoencoder: `bins` equal bins of
/// `asinh(x / scale)` over `[min, max]` of each variable's [`VarNorm`] (widened by
/// `margin` bins on each side); values outside go to the first / last bin.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistogramSpec {
    /// Number of bins.
    pub bins: usize,
    /// Empty bins added on each side of the training range.
    pub margin: usize,
    /// Loss the model was trained with.
    pub loss: HistogramLoss,
}

/// What training did (for the record; not needed to run the model).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingRecord {
    /// Seed of initialisation, split and batching.
    pub seed: u64,
    /// Epochs run (early stopping included).
    pub epochs: usize,
    /// Epoch whose weights were kept (lowest validation loss), 1-based; 0 means no epoch
    /// beat the untrained network, which is the baseline (midpoint / input histogram).
    pub best_epoch: usize,
    /// Validation loss of the kept weights.
    pub best_validation_loss: f64,
    /// Training / validation events.
    pub train_events: usize,
    /// See `train_events`.
    pub validation_events: usize,
    /// Training / validation targets (values or histograms).
    pub train_targets: usize,
    /// See `train_targets`.
    pub validation_targets: usize,
    /// Fraction of events held out for validation; with `seed` it gives back the split
    /// ([`crate::train::split_events`]), so evaluation can skip training events.
    pub validation_fraction: f64,
    /// Source the pairs were made from (file name), if known.
    pub source: Option<String>,
    /// Gaussian noise (standard deviation, in normalised units) added to inputs in training.
    pub input_noise: f64,
    /// Validation loss of the trivial model (fraction 0.5 everywhere, i.e. the interval
    /// midpoint; for histograms: the compressed histogram itself), for comparison.
    pub baseline_validation_loss: f64,
}

/// The estimator [`crate::Model::correct`] uses for one variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// The network's prediction.
    Model,
    /// `prior-mean` (the conditional mean under the density of the training events' stored
    /// values, [`ModelMeta::densities`]): the model did not beat it on the validation events.
    PriorMean,
}

impl std::fmt::Display for Estimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Estimator::Model => "model",
            Estimator::PriorMean => "prior-mean",
        })
    }
}

/// Training's choice for one variable, between the model and prior-mean, made on the
/// validation events by the mean squared error of the corrected values against the
/// originals (the variable's unit squared): the model only where it is better by more than
/// two standard deviations of the difference (`refloat_model::train::CHOICE_SIGMAS`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariableChoice {
    /// The variable (branch name).
    pub variable: String,
    /// What `correct` uses for it.
    pub uses: Estimator,
    /// Validation MSE of the model's corrections.
    pub model_mse: f64,
    /// Validation MSE of prior-mean's.
    pub prior_mean_mse: f64,
    /// Bootstrap standard deviation of `model_mse − prior_mean_mse` (paired, per value).
    #[serde(default)]
    pub difference_sigma: f64,
    /// Finite values of the variable in the validation events.
    pub values: usize,
}

impl VariableChoice {
    /// One line for a person: what is used, and why.
    pub fn explain(&self) -> String {
        let ratio = self.model_mse / self.prior_mean_mse;
        let diff = self.model_mse - self.prior_mean_mse;
        match self.uses {
            Estimator::Model => format!(
                "{}: model (validation MSE {:.4e} = {:.3} x prior-mean's {:.4e}: better by {:.4e} ± {:.4e}, {} values)",
                self.variable, self.model_mse, ratio, self.prior_mean_mse, -diff, self.difference_sigma, self.values
            ),
            Estimator::PriorMean => format!(
                "{}: prior-mean, the model's fallback (validation MSE {:.4e} = {:.3} x prior-mean's {:.4e}, difference {:+.4e} ± {:.4e} over {} values: not better by two standard deviations)",
                self.variable, self.model_mse, ratio, self.prior_mean_mse, diff, self.difference_sigma, self.values
            ),
        }
    }
}

/// Everything a model file says about itself. A model is only valid for data stored with
/// the same `mantissa_bits` and `rounding`, and for the same `variables` in this order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Which model.
    pub kind: ModelKind,
    /// Kept explicit mantissa bits of the data it was trained for.
    pub mantissa_bits: u32,
    /// Rounding mode of the data it was trained for.
    pub rounding: RoundingMode,
    /// Variables (branch names) with their normalisation, in input order.
    pub variables: Vec<VarNorm>,
    /// Number of input features per object (inpainting) or input channels (autoencoders).
    pub inputs: usize,
    /// Histogram binning (histogram mode only).
    pub histogram: Option<HistogramSpec>,
    /// How it was trained.
    pub training: TrainingRecord,
    /// Per variable, whether [`crate::Model::correct`] uses the model or falls back to
    /// prior-mean, as training chose on the validation events (per-value kinds; empty for
    /// histogram mode and in files written before the choice: the model everywhere).
    #[serde(default)]
    pub choices: Vec<VariableChoice>,
    /// Per variable, the density prior-mean uses wherever `correct` falls back to it,
    /// estimated once on the training events' stored values, so that a value's correction
    /// does not depend on the values corrected with it (one event gets what the whole file
    /// gets). Empty in files written before it: prior-mean then estimates the density from
    /// the values it is given.
    #[serde(default)]
    pub densities: Vec<StoredDensity>,
    /// refloat version that wrote it.
    pub refloat_version: String,
}

/// The distinct stored values of one variable on the training events, with their counts:
/// what [`refloat_core::correct::DensityPrior::from_counts`] rebuilds the density from.
/// Stored compactly as kept codes (the bit pattern shifted right by the dropped bits, sign
/// included), the first as it is and each next as its step from the one before.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredDensity {
    /// The variable (branch name).
    pub variable: String,
    /// Code of the first distinct stored value, then steps between consecutive codes.
    pub code_steps: Vec<u32>,
    /// Values at each distinct stored value.
    pub counts: Vec<u64>,
}

impl StoredDensity {
    /// From distinct stored values (patterns, increasing, low `dropped_bits` bits clear) and
    /// their counts.
    pub fn new(variable: &str, counts: &[(u32, u64)], dropped_bits: u32) -> Self {
        let mut previous = 0u32;
        let (code_steps, counts) = counts
            .iter()
            .map(|&(u, n)| {
                let code = u >> dropped_bits;
                let step = code - previous;
                previous = code;
                (step, n)
            })
            .unzip();
        StoredDensity {
            variable: variable.into(),
            code_steps,
            counts,
        }
    }

    /// The distinct stored values (patterns) and counts back.
    ///
    /// # Errors
    /// [`Error::Model`] if the lists differ in length or the codes leave 32 bits.
    ///
    /// ```
    /// # use refloat_model::StoredDensity;
    /// let runs = [(1.0f32.to_bits(), 3), (1.5f32.to_bits(), 1), ((-2.0f32).to_bits(), 7)];
    /// let d = StoredDensity::new("x", &runs, 13);
    /// assert_eq!(d.counts(13).unwrap(), runs);
    /// ```
    pub fn counts(&self, dropped_bits: u32) -> Result<Vec<(u32, u64)>> {
        if self.code_steps.len() != self.counts.len() {
            return Err(Error::Model(format!(
                "{}: density with {} codes and {} counts",
                self.variable,
                self.code_steps.len(),
                self.counts.len()
            )));
        }
        let mut code = 0u32;
        self.code_steps
            .iter()
            .zip(&self.counts)
            .map(|(&step, &n)| {
                code = code
                    .checked_add(step)
                    .filter(|c| dropped_bits == 0 || c >> (32 - dropped_bits) == 0)
                    .ok_or_else(|| {
                        Error::Model(format!("{}: density codes leave 32 bits", self.variable))
                    })?;
                Ok((code << dropped_bits, n))
            })
            .collect()
    }
}

impl ModelMeta {
    /// Variable names, in input order.
    pub fn variable_names(&self) -> Vec<&str> {
        self.variables.iter().map(|v| v.name.as_str()).collect()
    }

    /// Training's choice for the variable named `variable` (`None` where it recorded none).
    pub fn choice(&self, variable: &str) -> Option<&VariableChoice> {
        self.choices.iter().find(|c| c.variable == variable)
    }

    /// What `correct` uses for variable `j` (the model where training recorded no choice).
    pub fn uses(&self, j: usize) -> Estimator {
        self.variables
            .get(j)
            .and_then(|v| self.choice(&v.name))
            .map_or(Estimator::Model, |c| c.uses)
    }

    /// Check that data stored with `mantissa_bits` / `rounding` and made of `variables`
    /// (in this order; `None` skips the check) can go through this model.
    ///
    /// # Errors
    /// [`Error::Model`] saying what differs.
    ///
    /// ```
    /// # use refloat_model::{ModelMeta, ModelKind};
    /// # use refloat_core::RoundingMode;
    /// let meta = ModelMeta::example(10, &["AnalysisJetsAuxDyn.pt"]);
    /// assert!(meta.check(10, RoundingMode::Nearest, Some(&["AnalysisJetsAuxDyn.pt"])).is_ok());
    /// let e = meta.check(7, RoundingMode::Nearest, None).unwrap_err();
    /// assert!(e.to_string().contains("10 kept mantissa bits"));
    /// ```
    pub fn check(
        &self,
        mantissa_bits: u32,
        rounding: RoundingMode,
        variables: Option<&[&str]>,
    ) -> Result<()> {
        if mantissa_bits != self.mantissa_bits || rounding != self.rounding {
            return Err(Error::Model(format!(
                "model was trained for data stored with {} kept mantissa bits ({}), not {} ({})",
                self.mantissa_bits, self.rounding, mantissa_bits, rounding
            )));
        }
        if let Some(vars) = variables {
            let mine = self.variable_names();
            if mine != vars {
                return Err(Error::Model(format!(
                    "model was trained for the variables [{}], not [{}]",
                    mine.join(", "),
                    vars.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Validate what was read from a file.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.format != FORMAT {
            return Err(Error::Model(format!(
                "metadata format is '{}', not '{FORMAT}'",
                self.format
            )));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(Error::Model(format!(
                "metadata format version {} is not supported by this refloat (reads version {FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.mantissa_bits > 23 {
            return Err(Error::Model(format!(
                "metadata says {} kept mantissa bits (f32 has 23)",
                self.mantissa_bits
            )));
        }
        if self.variables.is_empty() {
            return Err(Error::Model("metadata lists no variables".into()));
        }
        if !self.densities.is_empty()
            && !self
                .densities
                .iter()
                .map(|d| d.variable.as_str())
                .eq(self.variables.iter().map(|v| v.name.as_str()))
        {
            return Err(Error::Model(
                "metadata densities are not those of the variables, in order".into(),
            ));
        }
        if self.kind == ModelKind::DenoiseHistogram && self.histogram.is_none() {
            return Err(Error::Model(
                "histogram-mode model without histogram binning".into(),
            ));
        }
        Ok(())
    }

    /// A small metadata value for examples and tests (no trained model behind it).
    #[doc(hidden)]
    pub fn example(mantissa_bits: u32, variables: &[&str]) -> Self {
        ModelMeta {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kind: ModelKind::Inpainting,
            mantissa_bits,
            rounding: RoundingMode::Nearest,
            variables: variables
                .iter()
                .map(|n| VarNorm {
                    name: n.to_string(),
                    scale: 1.0,
                    mean: 0.0,
                    std: 1.0,
                    min: 0.0,
                    max: 1.0,
                })
                .collect(),
            inputs: 0,
            histogram: None,
            training: TrainingRecord::default(),
            choices: Vec::new(),
            densities: Vec::new(),
            refloat_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}
