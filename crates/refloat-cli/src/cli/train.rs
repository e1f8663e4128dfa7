//! `refloat train`: train a learned correction (feature `torch`) on a file of full-precision
//! floats. The (original, compressed) pairs are made here with `quantise`; a validation
//! split by event is held out and training stops early when it stops improving. The model
//! file is TorchScript with refloat's metadata, written atomically.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use refloat::io::{self};
use refloat_model::train::{train, TrainConfig, TrainingData};
use refloat_model::{Device, HistogramLoss, ModelKind};

use super::common;

pub use super::evaluate::DEFAULT_BRANCHES;

/// Arguments of `refloat train`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat train ../shared/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root --bits 10 --out jets.pt
  refloat train ORIG.root --branches AnalysisElectronsAuxDyn.pt,AnalysisElectronsAuxDyn.eta,AnalysisElectronsAuxDyn.phi --out el.pt
  refloat train ORIG.root --kind denoise-histogram --loss kl --bits 7 --out hist.pt

Train on the development file only; evaluate on held-out data (`refloat evaluate`).
The branches of one model must be variables of the same objects (same container).")]
pub struct Args {
    /// ROOT file with full-precision (original) floats.
    pub file: PathBuf,
    /// Where to write the model (TorchScript .pt with metadata).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Kept mantissa bits of the compression to undo.
    #[arg(long, default_value_t = 10)]
    pub bits: u32,
    /// Rounding of the compression (ATLAS: nearest).
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    /// Tree to read. Default: CollectionTree, else Events, else the only tree with floats.
    #[arg(long)]
    pub tree: Option<String>,
    /// Variables of the same objects, by exact name or glob; repeat or separate with commas.
    /// Default: the jets' pt, eta, phi, m.
    #[arg(long = "branches", short = 'b', value_name = "NAME|GLOB", value_delimiter = ',', num_args = 1..)]
    pub branches: Vec<String>,
    /// Which model.
    #[arg(long, default_value = "inpainting", value_parser = ["inpainting", "denoise-per-value", "denoise-histogram"])]
    pub kind: String,
    /// Loss of the histogram autoencoder.
    #[arg(long, default_value = "mse", value_parser = ["mse", "kl"])]
    pub loss: String,
    /// Seed of initialisation, split, batches and noise (same seed, same model on one device).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Upper limit on epochs.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 20)]
    pub patience: usize,
    /// Hidden width (units or channels).
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Batch size (rows, windows or histograms).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Gaussian input noise (normalised units); default 0 for inpainting, 0.05 for autoencoders.
    #[arg(long)]
    pub noise: Option<f64>,
    /// Fraction of events held out for validation.
    #[arg(long, default_value_t = 0.25)]
    pub validation: f64,
    /// Histogram bins (histogram mode; a multiple of 4).
    #[arg(long, default_value_t = 128)]
    pub bins: usize,
    /// Window length (per-value autoencoder).
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Train on the CPU even if CUDA is available.
    #[arg(long)]
    pub cpu: bool,
}

/// Reads the selected branches of `file` as one group of variables of the same objects.
pub fn read_group(
    file: &std::path::Path,
    tree: Option<&str>,
    branches: &[String],
) -> Result<TrainingData> {
    let patterns: Vec<String> = if branches.is_empty() {
        DEFAULT_BRANCHES.iter().map(|s| s.to_string()).collect()
    } else {
        branches.to_vec()
    };
    let patterns = io::parse_patterns(&patterns)?;
    let mut f = io::open(file)?;
    let t = f.tree_or_default(tree)?;
    let tree = t.name().to_string();
    let sel = t.select(&patterns)?;
    if sel.floats.is_empty() {
        bail!(
            "{}: tree '{tree}': no float branch selected",
            file.display()
        );
    }
    let read: Vec<io::FloatBranch> = sel
        .floats
        .iter()
        .map(|b| t.read_float(&b.name))
        .collect::<refloat::Result<_>>()?;
    let mut data = TrainingData::from_branches(&read)
        .with_context(|| format!("{}: tree '{tree}'", file.display()))?;
    data.source = file.file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(data)
}

/// Runs `refloat train`.
pub fn run(args: Args) -> Result<()> {
    let kind: ModelKind = args.kind.parse()?;
    let data = read_group(&args.file, args.tree.as_deref(), &args.branches)?;
    let mut cfg = TrainConfig::for_kind(kind);
    cfg.mantissa_bits = args.bits;
    cfg.rounding = args.mode.into();
    cfg.seed = args.seed;
    cfg.max_epochs = args.epochs;
    cfg.patience = args.patience;
    cfg.hidden = args.hidden;
    cfg.batch_size = args.batch_size;
    cfg.learning_rate = args.lr;
    cfg.validation_fraction = args.validation;
    cfg.window = args.window;
    cfg.histogram.bins = args.bins;
    cfg.histogram.loss = args.loss.parse::<HistogramLoss>()?;
    if let Some(n) = args.noise {
        cfg.input_noise = n;
    }
    if args.cpu {
        cfg.device = Device::Cpu;
    }
    eprintln!(
        "training a model ({kind}) for {} kept bits ({}) on {} variables x {} objects in {} events of {} (device {:?})",
        args.bits,
        cfg.rounding,
        data.variables.len(),
        data.originals[0].len(),
        data.events(),
        args.file.display(),
        cfg.device
    );
    let pb = ProgressBar::new(cfg.max_epochs as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix("train");
    let trained = train(&data, &cfg, &mut |p| {
        pb.set_position(p.epoch as u64);
        pb.set_message(format!(
            "loss train {:.5} val {:.5} (baseline {:.5}, best {:.5} @ {})",
            p.train_loss,
            p.validation_loss,
            p.baseline_validation_loss,
            p.best_validation_loss,
            p.best_epoch
        ));
    })?;
    pb.finish_and_clear();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!("{}: directory does not exist", dir.display());
        }
    }
    trained.save(&args.out)?;
    let t = &trained.meta.training;
    println!(
        "wrote {} ({} bytes): {} model, {} kept bits, variables {}",
        args.out.display(),
        trained.bytes().len(),
        kind,
        args.bits,
        trained.meta.variable_names().join(", ")
    );
    println!(
        "epochs {} (kept epoch {}), validation loss {:.6} vs baseline {:.6} ({:+.2} %), {} training / {} validation events",
        t.epochs,
        t.best_epoch,
        t.best_validation_loss,
        t.baseline_validation_loss,
        100.0 * (t.best_validation_loss / t.baseline_validation_loss - 1.0),
        t.train_events,
        t.validation_events
    );
    if t.best_epoch == 0 {
        println!("no epoch beat the baseline on the validation events: the model is the baseline (midpoint / input histogram)");
    }
    Ok(())
}
