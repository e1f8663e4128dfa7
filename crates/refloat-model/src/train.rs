//! Training from Rust: (original, compressed) pairs made with [`refloat_core::quantise`], a
//! validation split by event, Adam, early stopping on the validation loss, export to
//! TorchScript with metadata.
//!
//! Deterministic given [`TrainConfig::seed`] on one device and thread count: the seed fixes
//! libtorch's initialisation and noise (`tch::manual_seed`) and refloat's own choice of
//! split, batches and windows (SplitMix64). libtorch's generator is global, so trainings in
//! one process run one at a time.

use std::path::Path;

use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::features::{self, PER_VALUE};
use super::meta::{
    self, Estimator, HistogramLoss, HistogramSpec, ModelKind, ModelMeta, StoredDensity,
    TrainingRecord, VarNorm, VariableChoice,
};
use super::net::{tch_err, Net, NetShape};
use super::Model;
use refloat_core::correct::{DensityPrior, ExactPolicy};
use refloat_core::error::{Error, Result};
use refloat_core::quantise::{Quantiser32, RoundingMode};

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Which model.
    pub kind: ModelKind,
    /// Kept explicit mantissa bits of the compression to undo (0..=23).
    pub mantissa_bits: u32,
    /// Rounding of the compression (ATLAS: [`RoundingMode::Nearest`]).
    pub rounding: RoundingMode,
    /// Seed of everything random.
    pub seed: u64,
    /// Upper limit on epochs.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Rows (inpainting), windows (per-value autoencoder) or histograms per batch.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Hidden width (MLP units or conv channels).
    pub hidden: usize,
    /// Fraction of events held out for validation (at least one event each side).
    pub validation_fraction: f64,
    /// Standard deviation of the Gaussian noise added to the normalised inputs in training
    /// (`z` features; histogram densities for the histogram mode).
    pub input_noise: f64,
    /// Window length of the per-value autoencoder.
    pub window: usize,
    /// Binning and loss of the histogram autoencoder (`bins` a multiple of 4).
    pub histogram: HistogramSpec,
    /// Where to train (CUDA if available by default).
    pub device: Device,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            kind: ModelKind::Inpainting,
            mantissa_bits: 10,
            rounding: RoundingMode::Nearest,
            seed: 0,
            max_epochs: 200,
            patience: 20,
            batch_size: 256,
            learning_rate: 3e-3,
            hidden: 64,
            validation_fraction: 0.25,
            input_noise: 0.0,
            window: 64,
            histogram: HistogramSpec {
                bins: 128,
                margin: 2,
                loss: HistogramLoss::Mse,
            },
            device: Device::cuda_if_available(),
        }
    }
}

impl TrainConfig {
    /// The defaults for `kind` (noise 0.05 for the autoencoders, 0 for inpainting).
    pub fn for_kind(kind: ModelKind) -> Self {
        let noise = if kind == ModelKind::Inpainting {
            0.0
        } else {
            0.05
        };
        TrainConfig {
            kind,
            input_noise: noise,
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        Quantiser32::new(self.mantissa_bits, self.rounding)?;
        if self.max_epochs == 0 || self.batch_size == 0 || self.hidden == 0 || self.window < 4 {
            return bad(
                "max_epochs, batch_size and hidden must be positive and window at least 4".into(),
            );
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(format!(
                "validation fraction {} is not in (0, 1)",
                self.validation_fraction
            ));
        }
        if self.learning_rate.is_nan()
            || self.learning_rate <= 0.0
            || self.input_noise.is_nan()
            || self.input_noise < 0.0
        {
            return bad("learning rate must be positive and input noise non-negative".into());
        }
        let h = &self.histogram;
        if h.bins < 8 || !h.bins.is_multiple_of(4) || 2 * h.margin >= h.bins {
            return bad(format!("histogram bins {} must be a multiple of 4, at least 8, and exceed twice the margin", h.bins));
        }
        Ok(())
    }
}

/// The original values of a group of variables of the same objects, with event structure:
/// `originals[j]` holds variable `j` of every object, events concatenated; event `e` holds
/// objects `offsets[e]..offsets[e + 1]`.
#[derive(Clone, Debug)]
pub struct TrainingData {
    /// Variable (branch) names.
    pub variables: Vec<String>,
    /// Original (full-precision) values, one column per variable.
    pub originals: Vec<Vec<f32>>,
    /// `events + 1` object offsets.
    pub offsets: Vec<usize>,
    /// Where the data came from (recorded in the model).
    pub source: Option<String>,
}

impl TrainingData {
    /// Check and wrap columns and offsets.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no variables, mismatched names;
    /// [`Error::LengthMismatch`] / [`Error::InvalidInput`] for inconsistent columns/offsets.
    pub fn new(
        variables: Vec<String>,
        originals: Vec<Vec<f32>>,
        offsets: Vec<usize>,
    ) -> Result<Self> {
        if variables.is_empty() || variables.len() != originals.len() {
            return Err(Error::InvalidArgument(format!(
                "{} variable names for {} columns (need at least one)",
                variables.len(),
                originals.len()
            )));
        }
        let cols: Vec<&[f32]> = originals.iter().map(Vec::as_slice).collect();
        features::check_group(&cols, &offsets)?;
        Ok(TrainingData {
            variables,
            originals,
            offsets,
            source: None,
        })
    }

    /// From branches read with [`refloat_core::io`]: all must have the same entries and per-entry
    /// lengths (variables of the same objects).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the branch whose structure differs.
    pub fn from_branches(branches: &[refloat_core::io::FloatBranch]) -> Result<Self> {
        let first = branches
            .first()
            .ok_or_else(|| Error::InvalidArgument("no branches to train on".into()))?;
        for b in &branches[1..] {
            if let Some(why) = first.structure_mismatch(b) {
                return Err(Error::InvalidInput(format!(
                    "branches '{}' and '{}' are not variables of the same objects: {why}",
                    first.name, b.name
                )));
            }
        }
        let offsets = match &first.offsets {
            Some(o) => o.clone(),
            None => (0..=first.values.len()).collect(),
        };
        Self::new(
            branches.iter().map(|b| b.name.clone()).collect(),
            branches.iter().map(|b| b.values.clone()).collect(),
            offsets,
        )
    }

    /// Number of events.
    pub fn events(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The objects of the listed events (in that order), as a new group.
    pub fn select_events(&self, events: &[usize]) -> TrainingData {
        let mut offsets = vec![0];
        let mut originals = vec![Vec::new(); self.originals.len()];
        for &e in events {
            let (a, b) = (self.offsets[e], self.offsets[e + 1]);
            for (out, col) in originals.iter_mut().zip(&self.originals) {
                out.extend_from_slice(&col[a..b]);
            }
            offsets.push(offsets.last().expect("non-empty") + (b - a));
        }
        TrainingData {
            variables: self.variables.clone(),
            originals,
            offsets,
            source: self.source.clone(),
        }
    }
}

/// One epoch's numbers, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Epoch just finished, 1-based.
    pub epoch: usize,
    /// Upper limit on epochs.
    pub max_epochs: usize,
    /// Mean training loss of the epoch.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub validation_loss: f64,
    /// Best validation loss so far and its epoch.
    pub best_validation_loss: f64,
    /// See `best_validation_loss`.
    pub best_epoch: usize,
    /// Validation loss of the trivial baseline (midpoint / compressed histogram).
    pub baseline_validation_loss: f64,
}

/// A trained model: its metadata and the bytes of its `.pt` file.
#[derive(Clone, Debug)]
pub struct TrainedModel {
    /// The metadata stored in the file.
    pub meta: ModelMeta,
    bytes: Vec<u8>,
}

impl TrainedModel {
    /// The bytes of the model file (TorchScript zip with `extra/refloat.json`).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Write the model file atomically: a temporary file beside `path`, renamed on
    /// success, so a failure never leaves a partial file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        use std::io::Write;
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".refloat_model")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(&self.bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Load it for inference on `device`.
    ///
    /// # Errors
    /// As [`Model::from_bytes`].
    pub fn load(&self, device: Device) -> Result<Model> {
        Model::from_bytes(&self.bytes, device)
    }
}

/// SplitMix64 ([`refloat_core::stats::SplitMix64`]): refloat's own seeded generator for
/// splits, batches and windows.
use refloat_core::stats::SplitMix64;
struct Rng(SplitMix64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Split `events` events into (training, validation) by a seeded shuffle; validation gets
/// `round(fraction · events)` events, at least one, and training at least one.
///
/// # Errors
/// [`Error::InvalidInput`] with fewer than two events.
///
/// ```
/// let (t, v) = refloat_model::train::split_events(10, 0.2, 7)?;
/// assert_eq!((t.len(), v.len()), (8, 2));
/// assert_eq!(refloat_model::train::split_events(10, 0.2, 7)?.1, v); // deterministic
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn split_events(events: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if events < 2 {
        return Err(Error::InvalidInput(format!(
            "{events} event(s): need at least two to hold out a validation split"
        )));
    }
    let mut all: Vec<usize> = (0..events).collect();
    Rng(SplitMix64(seed ^ 0x5EED_5B17)).shuffle(&mut all);
    let nv = ((events as f64 * fraction).round() as usize).clamp(1, events - 1);
    let mut val = all[..nv].to_vec();
    let mut train = all[nv..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    Ok((train, val))
}

/// Lower edge and width of the histogram bins in `asinh(x / scale)`.
fn histogram_axis(norm: &VarNorm, spec: &HistogramSpec) -> (f64, f64) {
    let inner = (spec.bins - 2 * spec.margin) as f64;
    let span = norm.max - norm.min;
    let w = if span > 0.0 { span / inner } else { 1e-3 };
    (norm.min - spec.margin as f64 * w, w)
}

/// Bin edges of the histogram mode, in the variable's own unit (`scale · sinh(edge)`).
pub(crate) fn histogram_edges(norm: &VarNorm, spec: &HistogramSpec) -> Vec<f64> {
    let (lo, w) = histogram_axis(norm, spec);
    (0..=spec.bins)
        .map(|k| norm.scale * (lo + k as f64 * w).sinh())
        .collect()
}

/// Histogram probabilities of `values` (non-finite ignored; outside values in the end bins).
pub(crate) fn histogram_probabilities(
    values: &[f32],
    norm: &VarNorm,
    spec: &HistogramSpec,
) -> Vec<f32> {
    let (lo, w) = histogram_axis(norm, spec);
    let mut h = vec![0f64; spec.bins];
    let mut n = 0usize;
    for &x in values.iter().filter(|x| x.is_finite()) {
        let t = crate::meta::asinh(x as f64 / norm.scale);
        let k = ((t - lo) / w).floor().clamp(0.0, (spec.bins - 1) as f64) as usize;
        h[k] += 1.0;
        n += 1;
    }
    let norm_by = if n > 0 { 1.0 / n as f64 } else { 0.0 };
    h.into_iter().map(|c| (c * norm_by) as f32).collect()
}

/// Model input of the histogram mode: probabilities × bins (a density with mean 1).
pub(crate) fn histogram_density(values: &[f32], norm: &VarNorm, spec: &HistogramSpec) -> Vec<f32> {
    histogram_probabilities(values, norm, spec)
        .into_iter()
        .map(|p| p * spec.bins as f32)
        .collect()
}

fn refs(v: &[Vec<f32>]) -> Vec<&[f32]> {
    v.iter().map(Vec::as_slice).collect()
}

/// Masked mean squared error.
fn masked_mse(pred: &Tensor, target: &Tensor, mask: &Tensor) -> Tensor {
    ((pred - target).square() * mask).sum(Kind::Float) / mask.sum(Kind::Float).clamp_min(1.0)
}

/// Train a model on `data` (originals; the compressed side is made here with the config's
/// quantiser). `progress` is called after every epoch.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad config; [`Error::InvalidInput`] for fewer than two
/// events or no value a model could move; [`Error::Model`] for libtorch failures.
///
/// ```
/// use refloat_model::train::{train, TrainConfig, TrainingData};
/// use refloat_model::{Device, ModelKind};
/// use refloat_core::{Quantiser32, RoundingMode};
/// // 20 synthetic events of 3 objects with two variables (truncated to 8 kept bits)
/// let pt: Vec<f32> = (0..60).map(|i| 20.0 + (i as f32 * 0.37).sin().abs() * 50.0).collect();
/// let eta: Vec<f32> = (0..60).map(|i| (i as f32 * 0.71).cos() * 2.0).collect();
/// let offsets: Vec<usize> = (0..=20).map(|e| 3 * e).collect();
/// let data = TrainingData::new(vec!["pt".into(), "eta".into()], vec![pt.clone(), eta], offsets.clone())?;
/// let cfg = TrainConfig {
///     mantissa_bits: 8,
///     rounding: RoundingMode::Truncate,
///     max_epochs: 3,
///     hidden: 8,
///     device: Device::Cpu,
///     ..TrainConfig::for_kind(ModelKind::Inpainting)
/// };
/// let trained = train(&data, &cfg, &mut |p| println!("epoch {} loss {}", p.epoch, p.validation_loss))?;
/// let model = trained.load(Device::Cpu)?;
/// let q = Quantiser32::new(8, RoundingMode::Truncate)?;
/// let stored: Vec<Vec<f32>> = data.originals.iter().map(|c| c.iter().map(|&x| q.quantise(x)).collect()).collect();
/// let (corrected, _) = model.correct(&[&stored[0], &stored[1]], &offsets)?;
/// assert!(corrected[0].iter().zip(&stored[0]).all(|(c, s)| q.quantise(*c) == *s)); // the invariant
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn train(
    data: &TrainingData,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<TrainedModel> {
    cfg.validate()?;
    // libtorch's generator is global: trainings in one process take turns, so that each is
    // deterministic given its seed (a poisoned lock only means another training failed).
    static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TRAINING.lock().unwrap_or_else(|p| p.into_inner());
    let q = Quantiser32::new(cfg.mantissa_bits, cfg.rounding)?;
    let policy = ExactPolicy::default();
    let (train_ev, val_ev) = split_events(data.events(), cfg.validation_fraction, cfg.seed)?;
    let tr = data.select_events(&train_ev);
    let va = data.select_events(&val_ev);
    let stored = |d: &TrainingData| -> Vec<Vec<f32>> {
        d.originals
            .iter()
            .map(|c| {
                let mut s = c.clone();
                q.quantise_slice(&mut s);
                s
            })
            .collect()
    };
    let (tr_s, va_s) = (stored(&tr), stored(&va));
    let norms: Vec<VarNorm> = data
        .variables
        .iter()
        .zip(&tr_s)
        .map(|(n, c)| VarNorm::fit(n, c))
        .collect();
    let f = data.variables.len();
    tch::manual_seed(cfg.seed as i64);
    let mut rng = Rng(SplitMix64(cfg.seed));
    let dev = cfg.device;

    let (inputs, outputs) = match cfg.kind {
        ModelKind::Inpainting => (features::inpainting_inputs(f), f),
        ModelKind::DenoisePerValue => (PER_VALUE * f, f),
        ModelKind::DenoiseHistogram => (1, 1),
    };
    let mut net = Net::new(
        NetShape {
            kind: cfg.kind,
            inputs,
            outputs,
            hidden: cfg.hidden,
        },
        dev,
    );
    let mut opt = nn::Adam::default()
        .build(&net.vs, cfg.learning_rate)
        .map_err(tch_err("building the optimiser"))?;

    // Per kind: a batch sampler returning (input, target, mask) and the validation set.
    type Batch = (Tensor, Tensor, Tensor);
    type Sampler<'a> = Box<dyn FnMut(&mut Rng) -> Vec<Batch> + 'a>;
    let spec = cfg.histogram.clone();
    let mut sampler: Sampler<'_>;
    let val: Batch;
    let (n_train_targets, n_val_targets);
    match cfg.kind {
        ModelKind::Inpainting => {
            let build = |d: &TrainingData, s: &[Vec<f32>]| -> Result<Batch> {
                let x = features::inpainting_features(&refs(s), &d.offsets, &norms, &q, &policy)?;
                let (t, m) = features::targets(&refs(&d.originals), &refs(s), &q, &policy)?;
                let n = s[0].len() as i64;
                Ok((
                    Tensor::from_slice(&x)
                        .view([n, inputs as i64])
                        .to_device(dev),
                    Tensor::from_slice(&t)
                        .view([f as i64, n])
                        .transpose(0, 1)
                        .contiguous()
                        .to_device(dev),
                    Tensor::from_slice(&m)
                        .view([f as i64, n])
                        .transpose(0, 1)
                        .contiguous()
                        .to_device(dev),
                ))
            };
            let (xt, tt, mt) = build(&tr, &tr_s)?;
            val = build(&va, &va_s)?;
            n_train_targets = mt.sum(Kind::Float).double_value(&[]) as usize;
            n_val_targets = val.2.sum(Kind::Float).double_value(&[]) as usize;
            // Noise only on the z features (per value and neighbours).
            let mut zmask = vec![0f32; inputs];
            for j in 0..f {
                zmask[PER_VALUE * j] = 1.0;
                zmask[PER_VALUE * f + 4 + j] = 1.0;
                zmask[PER_VALUE * f + 4 + f + j] = 1.0;
            }
            let zmask = Tensor::from_slice(&zmask).to_device(dev);
            let n = xt.size()[0] as usize;
            let (bs, noise) = (cfg.batch_size, cfg.input_noise);
            sampler = Box::new(move |rng: &mut Rng| {
                let mut perm: Vec<i64> = (0..n as i64).collect();
                rng.shuffle(&mut perm);
                perm.chunks(bs)
                    .map(|idx| {
                        let idx = Tensor::from_slice(idx).to_device(dev);
                        let mut x = xt.index_select(0, &idx);
                        if noise > 0.0 {
                            let n = Tensor::randn_like(&x) * noise * &zmask;
                            x += n;
                        }
                        (x, tt.index_select(0, &idx), mt.index_select(0, &idx))
                    })
                    .collect()
            });
        }
        ModelKind::DenoisePerValue => {
            let build = |d: &TrainingData, s: &[Vec<f32>]| -> Result<Batch> {
                let x = features::sequence_features(&refs(s), &norms, &q, &policy)?;
                let (t, m) = features::targets(&refs(&d.originals), &refs(s), &q, &policy)?;
                let n = s[0].len() as i64;
                Ok((
                    Tensor::from_slice(&x)
                        .view([1, inputs as i64, n])
                        .to_device(dev),
                    Tensor::from_slice(&t).view([1, f as i64, n]).to_device(dev),
                    Tensor::from_slice(&m).view([1, f as i64, n]).to_device(dev),
                ))
            };
            let (xt, tt, mt) = build(&tr, &tr_s)?;
            val = build(&va, &va_s)?;
            n_train_targets = mt.sum(Kind::Float).double_value(&[]) as usize;
            n_val_targets = val.2.sum(Kind::Float).double_value(&[]) as usize;
            let n = xt.size()[2] as usize;
            let w = cfg.window.min(n).max(1);
            let mut zmask = vec![0f32; inputs];
            for j in 0..f {
                zmask[PER_VALUE * j] = 1.0;
            }
            let zmask = Tensor::from_slice(&zmask)
                .view([1, inputs as i64, 1])
                .to_device(dev);
            let windows_per_epoch = (2 * n).div_ceil(w).max(1);
            let (bs, noise) = (cfg.batch_size.min(64), cfg.input_noise);
            sampler = Box::new(move |rng: &mut Rng| {
                let mut out = Vec::new();
                let mut left = windows_per_epoch;
                while left > 0 {
                    let b = left.min(bs);
                    left -= b;
                    let starts: Vec<i64> = (0..b).map(|_| rng.below(n - w + 1) as i64).collect();
                    let pick = |t: &Tensor| {
                        Tensor::cat(
                            &starts
                                .iter()
                                .map(|&s| t.narrow(2, s, w as i64))
                                .collect::<Vec<_>>(),
                            0,
                        )
                    };
                    let mut x = pick(&xt);
                    if noise > 0.0 {
                        let n = Tensor::randn_like(&x) * noise * &zmask;
                        x += n;
                    }
                    out.push((x, pick(&tt), pick(&mt)));
                }
                out
            });
        }
        ModelKind::DenoiseHistogram => {
            let spec = &spec;
            // One histogram pair (stored input density, original probabilities) per sample.
            let pair = |orig: &[f32], sto: &[f32], norm: &VarNorm| -> (Vec<f32>, Vec<f32>) {
                (
                    histogram_density(sto, norm, spec),
                    histogram_probabilities(orig, norm, spec),
                )
            };
            let bootstrap = |rng: &mut Rng, orig: &[f32], sto: &[f32]| -> (Vec<f32>, Vec<f32>) {
                let n = orig.len();
                let lo = (n / 4).max(16.min(n)).max(1);
                let m = lo + rng.below(n - lo + 1);
                let idx: Vec<usize> = (0..m).map(|_| rng.below(n)).collect();
                (
                    idx.iter().map(|&i| orig[i]).collect(),
                    idx.iter().map(|&i| sto[i]).collect(),
                )
            };
            let stack = |pairs: Vec<(Vec<f32>, Vec<f32>)>| -> Batch {
                let b = pairs.len() as i64;
                let bins = spec.bins as i64;
                let x: Vec<f32> = pairs.iter().flat_map(|p| p.0.iter().copied()).collect();
                let t: Vec<f32> = pairs.iter().flat_map(|p| p.1.iter().copied()).collect();
                (
                    Tensor::from_slice(&x).view([b, 1, bins]).to_device(dev),
                    Tensor::from_slice(&t).view([b, 1, bins]).to_device(dev),
                    Tensor::ones([b, 1, bins], (Kind::Float, dev)),
                )
            };
            for (j, c) in tr.originals.iter().enumerate() {
                if c.is_empty() || va.originals[j].is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "variable '{}' has no values in a split",
                        data.variables[j]
                    )));
                }
            }
            // Validation: the whole validation histogram and 7 fixed bootstraps per variable.
            let mut vrng = Rng(SplitMix64(cfg.seed ^ 0xA11D));
            let mut vpairs = Vec::new();
            for j in 0..f {
                vpairs.push(pair(&va.originals[j], &va_s[j], &norms[j]));
                for _ in 0..7 {
                    let (o, s) = bootstrap(&mut vrng, &va.originals[j], &va_s[j]);
                    vpairs.push(pair(&o, &s, &norms[j]));
                }
            }
            n_val_targets = vpairs.len();
            val = stack(vpairs);
            n_train_targets = 32 * f;
            let (tro, trs, norms2) = (tr.originals.clone(), tr_s.clone(), norms.clone());
            let (bs, noise) = (cfg.batch_size.min(64), cfg.input_noise);
            sampler = Box::new(move |rng: &mut Rng| {
                let mut pairs = Vec::new();
                for j in 0..f {
                    pairs.push(pair(&tro[j], &trs[j], &norms2[j]));
                    for _ in 0..31 {
                        let (o, s) = bootstrap(rng, &tro[j], &trs[j]);
                        pairs.push(pair(&o, &s, &norms2[j]));
                    }
                }
                rng.shuffle(&mut pairs);
                pairs
                    .chunks(bs)
                    .map(|c| {
                        let (x, t, m) = stack(c.to_vec());
                        let x = if noise > 0.0 {
                            x.shallow_clone() + Tensor::randn_like(&x) * noise
                        } else {
                            x
                        };
                        (x, t, m)
                    })
                    .collect()
            });
        }
    }
    if n_train_targets == 0 || n_val_targets == 0 {
        return Err(Error::InvalidInput(format!(
            "no value a model could move in the {} split ({} training / {} validation targets): all exact, zero or non-finite?",
            if n_train_targets == 0 { "training" } else { "validation" },
            n_train_targets,
            n_val_targets
        )));
    }

    let hist_loss = cfg.histogram.loss;
    let bins = cfg.histogram.bins as f64;
    let loss_of = |out: &Tensor, t: &Tensor, m: &Tensor| -> Tensor {
        match cfg.kind {
            ModelKind::DenoiseHistogram => match hist_loss {
                // out are log-probabilities
                HistogramLoss::Mse => (out.exp() - t).square().mean(Kind::Float) * (bins * bins),
                HistogramLoss::Kl => {
                    let tl = t.clamp_min(1e-12).log();
                    ((tl - out) * t)
                        .sum_dim_intlist(-1, false, Kind::Float)
                        .mean(Kind::Float)
                }
            },
            _ => masked_mse(out, t, m),
        }
    };
    // The trivial baseline on the validation set.
    let baseline = tch::no_grad(|| match cfg.kind {
        ModelKind::DenoiseHistogram => {
            // the compressed histogram itself as the reconstruction
            let p = (&val.0 / bins).clamp_min(1e-12).log();
            loss_of(&p, &val.1, &val.2).double_value(&[])
        }
        _ => loss_of(&Tensor::full_like(&val.1, 0.5), &val.1, &val.2).double_value(&[]),
    });

    // Epoch 0 is the untrained network, which is the baseline itself (zero output layers):
    // a model that never beats it on validation events stays the baseline.
    let initial = tch::no_grad(|| loss_of(&net.forward(&val.0), &val.1, &val.2).double_value(&[]));
    let mut best = (initial, 0usize, net.snapshot());
    let mut epochs = 0;
    for epoch in 1..=cfg.max_epochs {
        epochs = epoch;
        let batches = sampler(&mut rng);
        let (mut sum, mut count) = (0.0, 0usize);
        for (x, t, m) in &batches {
            let loss = loss_of(&net.forward(x), t, m);
            opt.backward_step(&loss);
            sum += loss.double_value(&[]);
            count += 1;
        }
        let vloss =
            tch::no_grad(|| loss_of(&net.forward(&val.0), &val.1, &val.2).double_value(&[]));
        if !vloss.is_finite() {
            return Err(Error::Model(format!(
                "training diverged at epoch {epoch} (validation loss {vloss})"
            )));
        }
        if vloss < best.0 {
            best = (vloss, epoch, net.snapshot());
        }
        progress(&Progress {
            epoch,
            max_epochs: cfg.max_epochs,
            train_loss: sum / count.max(1) as f64,
            validation_loss: vloss,
            best_validation_loss: best.0,
            best_epoch: best.1,
            baseline_validation_loss: baseline,
        });
        if epoch - best.1 >= cfg.patience {
            break;
        }
    }
    net.restore(&best.2);

    let mut meta = ModelMeta {
        format: meta::FORMAT.into(),
        format_version: meta::FORMAT_VERSION,
        kind: cfg.kind,
        mantissa_bits: cfg.mantissa_bits,
        rounding: cfg.rounding,
        variables: norms,
        inputs,
        histogram: (cfg.kind == ModelKind::DenoiseHistogram).then(|| cfg.histogram.clone()),
        training: TrainingRecord {
            seed: cfg.seed,
            epochs,
            best_epoch: best.1,
            best_validation_loss: best.0,
            train_events: train_ev.len(),
            validation_events: val_ev.len(),
            train_targets: n_train_targets,
            validation_targets: n_val_targets,
            validation_fraction: cfg.validation_fraction,
            source: data.source.clone(),
            input_noise: cfg.input_noise,
            baseline_validation_loss: baseline,
        },
        choices: Vec::new(),
        densities: if cfg.kind == ModelKind::DenoiseHistogram {
            Vec::new()
        } else {
            training_densities(&tr.variables, &tr_s, &q)
        },
        refloat_version: env!("CARGO_PKG_VERSION").into(),
    };
    let scratch = std::env::temp_dir();
    let module = net.into_torchscript(&scratch)?;
    let file = |meta: &ModelMeta| -> Result<Vec<u8>> {
        let json = serde_json::to_vec_pretty(meta)
            .map_err(|e| Error::Model(format!("writing metadata: {e}")))?;
        super::archive::with_extra_file(&module, meta::META_FILE, &json)
    };
    let mut bytes = file(&meta)?;
    if cfg.kind != ModelKind::DenoiseHistogram {
        // Never worse than prior-mean: per variable, whichever corrects the validation events
        // better is what `correct` will use.
        let model = Model::from_bytes(&bytes, Device::Cpu)?;
        meta.choices = choose_estimators(&model, &va, &va_s)?;
        bytes = file(&meta)?;
    }
    Ok(TrainedModel { meta, bytes })
}

/// Per variable, the distinct stored values of the training events `stored` and their
/// counts: the density prior-mean falls back to.
fn training_densities(
    variables: &[String],
    stored: &[Vec<f32>],
    quantiser: &Quantiser32,
) -> Vec<StoredDensity> {
    variables
        .iter()
        .zip(stored)
        .map(|(name, s)| {
            let prior = DensityPrior::new(quantiser, &ExactPolicy::default(), s);
            StoredDensity::new(name, &prior.stored_counts(), quantiser.dropped_bits())
        })
        .collect()
}

/// Standard deviations by which the model must beat prior-mean on the validation events to
/// be used for a variable (a paired bootstrap of the per-value squared-error differences).
pub const CHOICE_SIGMAS: f64 = 2.0;

/// Per variable, the model or prior-mean: the model only where its corrections of the stored
/// values `stored` of the validation events `va` have a mean squared error against the
/// originals lower than prior-mean's by more than [`CHOICE_SIGMAS`] standard deviations of
/// the difference (so that a few hundred validation values do not pick noise); prior-mean
/// otherwise, and when there is nothing to compare.
///
/// # Errors
/// Errors of [`Model::correct_with`].
pub fn choose_estimators(
    model: &Model,
    va: &TrainingData,
    stored: &[Vec<f32>],
) -> Result<Vec<VariableChoice>> {
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let by_model = model.correct_with(&refs, &va.offsets, |_| Estimator::Model)?;
    let by_prior = model.correct_with(&refs, &va.offsets, |_| Estimator::PriorMean)?;
    Ok(va
        .variables
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let (se_model, se_prior) =
                squared_errors(&by_model[j].0, &by_prior[j].0, &va.originals[j]);
            let values = se_model.len();
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    0.0
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            let (model_mse, prior_mean_mse) = (mean(&se_model), mean(&se_prior));
            let sigma = paired_sigma(&se_model, &se_prior);
            let uses = if values > 1 && model_mse - prior_mean_mse < -CHOICE_SIGMAS * sigma {
                Estimator::Model
            } else {
                Estimator::PriorMean
            };
            VariableChoice {
                variable: name.clone(),
                uses,
                model_mse,
                prior_mean_mse,
                difference_sigma: if sigma.is_finite() { sigma } else { 0.0 },
                values,
            }
        })
        .collect())
}

/// Per-value squared errors of two estimates against `originals`, where all three are finite.
fn squared_errors(a: &[f32], b: &[f32], originals: &[f32]) -> (Vec<f64>, Vec<f64>) {
    a.iter()
        .zip(b)
        .zip(originals)
        .filter(|((a, b), o)| a.is_finite() && b.is_finite() && o.is_finite())
        .map(|((&a, &b), &o)| ((a as f64 - o as f64).powi(2), (b as f64 - o as f64).powi(2)))
        .unzip()
}

/// Bootstrap standard deviation (200 seeded resamples of the values) of the mean of
/// `a[i] − b[i]`; `NaN` for fewer than two values.
fn paired_sigma(a: &[f64], b: &[f64]) -> f64 {
    let ones = vec![1.0; a.len()];
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    refloat_core::evaluate::bootstrap_ratio_sigma(&d, &ones, 200, 0xC401CE)
}
