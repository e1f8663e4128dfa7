//! `refloat correct`: estimate the originals of a compressed file's float branches, write
//! a drop-in copy of the file with them (streamed one basket at a time), and verify over the
//! whole written file that every corrected value re-quantises to the stored one.
//!
//! The work is the library's [`refloat::pipeline::correct_file`]; this module parses the
//! arguments, draws the progress bars and prints the summary.

use std::path::PathBuf;

use anyhow::Result;
use refloat::correct::Method;
use refloat::pipeline::{correct_file, CorrectOptions, CorrectReport, CorrectedBranch, Correction};

use super::common::{self, SelectArgs};

/// A correction method as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorrectionMethod {
    /// A per-value estimator of the numeric core.
    Core(Method),
    /// A learned model (`model:PATH`, needs the `torch` feature).
    Model(PathBuf),
}

impl std::str::FromStr for CorrectionMethod {
    type Err = refloat::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("model:") {
            Some("") => Err(refloat::Error::InvalidArgument("model:PATH needs a path to the model".into())),
            Some(path) => Ok(Self::Model(PathBuf::from(path))),
            None => s.parse::<Method>().map(Self::Core).map_err(|_| {
                refloat::Error::InvalidArgument(format!(
                    "unknown correction method '{s}' (expected midpoint, dither, dither:SEED, prior-mean or model:PATH)"
                ))
            }),
        }
    }
}

impl std::fmt::Display for CorrectionMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Core(Method::Dither { seed }) => write!(f, "dither:{seed}"),
            Self::Core(m) => write!(f, "{m}"),
            Self::Model(p) => write!(f, "model:{}", p.display()),
        }
    }
}

/// Arguments of `refloat correct`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat correct comp.root corrected.root --method midpoint
  refloat correct comp.root corrected.root --method prior-mean --bits 10 --branches 'AnalysisJetsAuxDyn.*'
  refloat correct comp.root corrected.root --method dither:42 --mode truncate
  refloat correct comp.root corrected.root --method model:jets.pt   (build with --features torch)
  refloat correct 'stored/*.root' --out-dir corrected/ --method midpoint --keep-going   # a dataset")]
pub struct Args {
    /// INPUT OUTPUT: the compressed ROOT file (stored values) and the output, a drop-in
    /// replacement of it with the selected float branches corrected, written atomically.
    /// With --out-dir: every input (paths or quoted globs).
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// midpoint | dither | dither:SEED | prior-mean | model:PATH (model needs the torch
    /// feature; it corrects the model's own variables). Dither mixes SEED with each branch's
    /// name, so the variables of one object get independent draws.
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// Kept mantissa bits the file was compressed with, 0..=23. Default: resolved per branch
    /// (the largest apparent bits of its values, never below the producer's declared
    /// precision; see `refloat inspect`); for a model, the model's.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding the file was compressed with. Default: detected per branch from its values,
    /// and where they cannot tell, the format's (cms for NanoAOD's Events, nearest otherwise).
    #[arg(long, value_enum)]
    pub mode: Option<common::Mode>,
    /// Whose defaults apply (the producer's scheme, declared precisions): atlas, cms or
    /// unknown. Default: the tree's (CollectionTree: atlas, Events: cms).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Correct values that look exact by nature too (sentinels such as -999, spikes,
    /// lattice values, short mantissas); only ±0 stays. For branches known to be continuous.
    #[arg(long)]
    pub correct_exact: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub output_args: common::OutputArgs,
}

/// Runs `refloat correct`.
pub fn run(args: Args) -> Result<()> {
    let method = args.method.parse::<CorrectionMethod>()?;
    common::run_files(&args.paths, &args.output_args, |i, o, out| {
        run_one(&args, &method, i, o, out)
    })
}

/// `refloat correct` of one file.
fn run_one(
    args: &Args,
    method: &CorrectionMethod,
    input: &std::path::Path,
    output: &std::path::Path,
    output_args: &common::OutputArgs,
) -> Result<()> {
    let opts = CorrectOptions {
        select: args.select.to_select(),
        bits: args.bits,
        mode: args.mode.map(Into::into),
        compression: output_args.compression()?,
        verify: true,
        format: args
            .format
            .as_deref()
            .map(refloat::resolve::Format::parse)
            .transpose()?,
        leave_exact: !args.correct_exact,
        copies: output_args.copies(),
        threads: output_args.threads,
    };
    let s = match method {
        CorrectionMethod::Core(m) => correct_file(
            input,
            output,
            Correction::Method(*m),
            &opts,
            &mut common::bars(),
        )?,
        CorrectionMethod::Model(path) => correct_with_model(path, input, output, &opts)?,
    };
    print(&s, output_args.list_skipped);
    common::print_damaged(&s.written);
    common::finish(output_args, &s.skipped, &s.floats_left_alone, &s)
}

#[cfg(not(feature = "torch"))]
fn correct_with_model(
    path: &std::path::Path,
    _: &std::path::Path,
    _: &std::path::Path,
    _: &CorrectOptions,
) -> Result<CorrectReport> {
    anyhow::bail!("correction method model:{}: this refloat was built without the torch feature (rebuild with `cargo build --release --features torch`)", path.display())
}

/// A model corrects its variables jointly (event context); the other selected branches are
/// left as stored.
#[cfg(feature = "torch")]
fn correct_with_model(
    path: &std::path::Path,
    input: &std::path::Path,
    output: &std::path::Path,
    opts: &CorrectOptions,
) -> Result<CorrectReport> {
    let model = refloat_model::Model::load(path)?;
    let joint = refloat_model::FileModel::new(&model, path);
    Ok(correct_file(
        input,
        output,
        Correction::Joint(&joint),
        opts,
        &mut common::bars(),
    )?)
}

/// Branches listed by name in the terminal summary unless `--list-skipped` asks for all.
const LISTED: usize = 8;

fn print(s: &CorrectReport, list_all: bool) {
    let total = s.total();
    let changed: usize = s.branches.iter().map(|b| b.changed).sum();
    println!(
        "corrected {} float branches of tree '{}' with {} ({} rounding): {} values, {} given a new estimate, {} left as exact, {} non-finite; {} changed",
        s.branches.len(),
        s.tree,
        s.method,
        match s.mode {
            Some(m) => m.to_string(),
            None => "per-branch".to_string(),
        },
        s.values,
        total.corrected,
        total.left_exact,
        total.non_finite,
        changed
    );
    // Bits used, as a histogram over branches, and where they came from.
    let mut by_bits: Vec<(String, usize)> = Vec::new();
    for b in &s.branches {
        let key = match b.mantissa_bits {
            Some(n) => format!("{n} bits ({})", b.bits_source.name()),
            None => "left as stored".to_string(),
        };
        match by_bits.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += 1,
            None => by_bits.push((key, 1)),
        }
    }
    by_bits.sort_by_key(|b| std::cmp::Reverse(b.1));
    println!(
        "  kept mantissa bits per branch: {}",
        by_bits
            .iter()
            .map(|(k, c)| format!("{k}: {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Rounding used, by scheme and where it came from (given, detected, the format's).
    let mut by_mode: Vec<(String, usize)> = Vec::new();
    for b in s.branches.iter().filter(|b| b.mantissa_bits.is_some()) {
        let key = format!("{} ({})", b.mode, b.mode_source);
        match by_mode.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += 1,
            None => by_mode.push((key, 1)),
        }
    }
    by_mode.sort_by_key(|b| std::cmp::Reverse(b.1));
    println!(
        "  rounding per branch: {}",
        by_mode
            .iter()
            .map(|(k, c)| format!("{k}: {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let e = total.exact;
    println!(
        "  left alone as exact by nature: {} zero or short mantissa, {} sentinels (-999, …), {} spikes, {} on a lattice",
        e.short_mantissa, e.sentinel, e.spike, e.lattice
    );
    let mixed: Vec<String> = s
        .branches
        .iter()
        .filter_map(|b| {
            let r = b.resolution.as_ref()?;
            r.mixed().then(|| format!("{} ({})", b.name, r.describe()))
        })
        .collect();
    if !mixed.is_empty() {
        println!(
            "  {} branches mix precisions; each value was corrected at its own kept bits: {}",
            mixed.len(),
            mixed.join("; ")
        );
    }
    if s.method.starts_with("model:") {
        println!("  what corrects each variable (chosen when the model was trained, on its validation events):");
        for b in &s.branches {
            if let Some(n) = &b.note {
                println!("    {}: {n}", b.name);
            }
        }
    }
    let left: Vec<&CorrectedBranch> = s
        .branches
        .iter()
        .filter(|b| b.mantissa_bits.is_none())
        .collect();
    if !left.is_empty() {
        println!(
            "  {} branches were left as stored (their bits cannot be told; pass --bits to correct them anyway):",
            left.len()
        );
        let shown = if list_all {
            left.len()
        } else {
            left.len().min(LISTED)
        };
        for b in &left[..shown] {
            println!(
                "    {}: {}",
                b.name,
                b.note.as_deref().unwrap_or("bits unknown")
            );
        }
        if shown < left.len() {
            println!(
                "    … and {} more (--list-skipped lists every one, --json has them all)",
                left.len() - shown
            );
        }
    }
    println!(
        "  wrote {} ({}, {}): every other branch and object copied as stored",
        s.output.display(),
        common::human_bytes(s.written.output_bytes),
        s.written.compression
    );
    println!(
        "invariant verified on the written file: all {} values re-quantise bit for bit to the stored values",
        s.verified_values
    );
}
