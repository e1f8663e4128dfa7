//! `refloat correct`: estimate the originals of a compressed file's float branches, write
//! them, and verify over the whole written file that every corrected value re-quantises to
//! the stored one.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use refloat::io::{FloatLayout, TreeWriter};
use refloat::quantise::infer_mantissa_bits_f32;
use refloat::triage::{self, CorrectionReport, Method};
use refloat::{Quantiser32, RoundingMode};
use serde::Serialize;

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
  refloat correct comp.root corrected.root --method dither:42 --mode truncate")]
pub struct Args {
    /// Compressed ROOT file (stored values).
    pub input: PathBuf,
    /// Output ROOT file (written atomically; holds the selected float branches, corrected).
    pub output: PathBuf,
    /// midpoint | dither | dither:SEED | prior-mean | model:PATH (model needs the torch feature).
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// Kept mantissa bits the file was compressed with, 0..=23. Default: inferred per branch
    /// from its values (the trailing zero mantissa bits common to all of them).
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding the file was compressed with (it cannot be inferred).
    #[arg(long, default_value = "nearest", value_parser = ["nearest", "truncate", "nearest-even"])]
    pub mode: String,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also write the summary as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// List every branch that is not written, not just a count per reason.
    #[arg(long)]
    pub list_skipped: bool,
}

/// Per-branch result.
#[derive(Serialize, Debug, Clone)]
pub struct BranchSummary {
    pub name: String,
    pub layout: FloatLayout,
    pub values: usize,
    /// Kept mantissa bits used (`null`: not inferable, branch copied unchanged).
    pub mantissa_bits: Option<u32>,
    /// Whether the bits were inferred from the data (else given by `--bits`).
    pub inferred: bool,
    pub report: CorrectionReport,
    /// Values whose bits changed.
    pub changed: usize,
    pub note: Option<String>,
}

/// What `correct` did.
#[derive(Serialize, Debug, Clone)]
pub struct Summary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tree: String,
    pub method: String,
    pub mode: RoundingMode,
    pub branches: Vec<BranchSummary>,
    pub values: usize,
    pub skipped: Vec<refloat::io::Skipped>,
    pub output_bytes: u64,
    /// Values checked after writing: re-read from the output and re-quantised.
    pub verified_values: usize,
}

/// Options of one correction run (also used by `bench`).
#[derive(Debug, Clone)]
pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub method: CorrectionMethod,
    pub bits: Option<u32>,
    pub mode: RoundingMode,
    pub select: SelectArgs,
    /// Re-read the output and check the invariant (always on for the command).
    pub verify: bool,
}

#[cfg(not(feature = "torch"))]
fn model_correct(path: &std::path::Path) -> Result<()> {
    bail!("correction method model:{}: this refloat was built without the torch feature (rebuild with `cargo build --release --features torch`)", path.display())
}

#[cfg(feature = "torch")]
fn model_correct(path: &std::path::Path) -> Result<()> {
    bail!(
        "correction method model:{}: model corrections are not wired into `refloat correct` yet",
        path.display()
    )
}

/// Reads, corrects, writes and (optionally) verifies; returns the summary.
pub fn execute(opts: &Options) -> Result<Summary> {
    let method = match &opts.method {
        CorrectionMethod::Core(m) => *m,
        CorrectionMethod::Model(path) => {
            model_correct(path)?;
            unreachable!("model_correct returns an error until models are wired in")
        }
    };
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode)?;
    }
    common::refuse_same_file(&opts.input, &opts.output)?;
    let loaded = common::load(&opts.input, &opts.select)?;
    let stored = common::read_selected(&loaded.tree, &loaded.selection, "reading")?;
    let path = opts.input.display().to_string();
    let tree_name = loaded.tree.name().to_string();

    let pb = common::progress(stored.len(), "correcting");
    let mut writer = TreeWriter::new(&opts.output, &tree_name);
    let mut summaries = Vec::with_capacity(stored.len());
    let mut quantisers: Vec<Option<Quantiser32>> = Vec::with_capacity(stored.len());
    for b in &stored {
        pb.set_message(b.name.clone());
        let (bits, inferred, mut note) = match opts.bits {
            Some(n) => (Some(n), false, None),
            None => match infer_mantissa_bits_f32(&b.values) {
                Ok(n) => (Some(n), true, None),
                Err(e) => (None, true, Some(format!("{e}; copied unchanged"))),
            },
        };
        let mut values = b.values.clone();
        let (report, q) = match bits {
            Some(n) => {
                let q = Quantiser32::new(n, opts.mode)?;
                let report = triage::par_correct_in_place_f32(&mut values, &q, method)
                    .with_context(|| format!("{path}: tree '{tree_name}': branch '{}'", b.name))?;
                if n == 23 {
                    note = Some("23 bits: full precision, nothing to correct".into());
                }
                (report, Some(q))
            }
            None => (CorrectionReport::default(), None),
        };
        let changed = values
            .iter()
            .zip(&b.values)
            .filter(|(c, s)| c.to_bits() != s.to_bits())
            .count();
        summaries.push(BranchSummary {
            name: b.name.clone(),
            layout: b.layout(),
            values: b.values.len(),
            mantissa_bits: bits,
            inferred,
            report,
            changed,
            note,
        });
        quantisers.push(q);
        writer.add(b.with_values(values)?)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let written = writer.write()?;

    let mut verified = 0usize;
    if opts.verify {
        let mut out = refloat::io::open(&opts.output)?;
        let out_tree = out.tree(&tree_name)?;
        let pb = common::progress(stored.len(), "verifying");
        for (b, q) in stored.iter().zip(&quantisers) {
            pb.set_message(b.name.clone());
            let corrected = out_tree.read_float(&b.name)?;
            if let Some(why) = b.structure_mismatch(&corrected) {
                bail!("{}: tree '{tree_name}': branch '{}': written structure differs from the input: {why}", opts.output.display(), b.name);
            }
            match q {
                Some(q) => triage::verify_requantises_f32(&corrected.values, &b.values, q)
                    .with_context(|| {
                        format!(
                            "{}: tree '{tree_name}': branch '{}': invariant broken",
                            opts.output.display(),
                            b.name
                        )
                    })?,
                None => {
                    if let Some(i) = corrected
                        .values
                        .iter()
                        .zip(&b.values)
                        .position(|(c, s)| c.to_bits() != s.to_bits())
                    {
                        bail!(
                            "{}: branch '{}': value {i} changed although it was to be copied",
                            opts.output.display(),
                            b.name
                        );
                    }
                }
            }
            verified += corrected.values.len();
            pb.inc(1);
        }
        pb.finish_and_clear();
    }
    Ok(Summary {
        input: opts.input.clone(),
        output: opts.output.clone(),
        tree: tree_name,
        method: opts.method.to_string(),
        mode: opts.mode,
        values: summaries.iter().map(|s| s.values).sum(),
        branches: summaries,
        skipped: loaded.selection.skipped.clone(),
        output_bytes: written.bytes,
        verified_values: verified,
    })
}

/// Runs `refloat correct`.
pub fn run(args: Args) -> Result<()> {
    let opts = Options {
        input: args.input.clone(),
        output: args.output.clone(),
        method: args.method.parse::<CorrectionMethod>()?,
        bits: args.bits,
        mode: common::parse_mode(&args.mode)?,
        select: args.select.clone(),
        verify: true,
    };
    let s = execute(&opts)?;
    if let Some(json) = &args.json {
        common::write_json(json, &s)?;
    }
    print(&s);
    let sel = refloat::io::Selection {
        floats: Vec::new(),
        skipped: s.skipped.clone(),
    };
    common::print_skipped(&sel, args.list_skipped, Some(&s.output));
    if let Some(json) = &args.json {
        println!("summary written to {}", json.display());
    }
    Ok(())
}

fn print(s: &Summary) {
    let total = s
        .branches
        .iter()
        .fold(CorrectionReport::default(), |a, b| a + b.report);
    let changed: usize = s.branches.iter().map(|b| b.changed).sum();
    println!(
        "corrected {} float branches of tree '{}' with {} ({} rounding): {} values, {} given a new estimate, {} left as exact, {} non-finite; {} changed",
        s.branches.len(),
        s.tree,
        s.method,
        s.mode,
        s.values,
        total.corrected,
        total.left_exact,
        total.non_finite,
        changed
    );
    // Bits used, as a histogram over branches.
    let mut by_bits: Vec<(Option<u32>, usize)> = Vec::new();
    for b in &s.branches {
        match by_bits.iter_mut().find(|(n, _)| *n == b.mantissa_bits) {
            Some((_, c)) => *c += 1,
            None => by_bits.push((b.mantissa_bits, 1)),
        }
    }
    by_bits.sort_by_key(|b| std::cmp::Reverse(b.1));
    let inferred = s.branches.iter().any(|b| b.inferred);
    let parts: Vec<String> = by_bits
        .iter()
        .map(|(n, c)| match n {
            Some(n) => format!("{n} bits: {c}"),
            None => format!("not inferable (copied unchanged): {c}"),
        })
        .collect();
    println!(
        "  kept mantissa bits {} per branch: {}",
        if inferred { "inferred" } else { "given" },
        parts.join(", ")
    );
    if inferred {
        if let Some((Some(common_bits), _)) = by_bits.first() {
            let fewer: Vec<&BranchSummary> = s
                .branches
                .iter()
                .filter(|b| b.mantissa_bits.is_some_and(|n| n < *common_bits))
                .collect();
            if !fewer.is_empty() {
                println!(
                    "  note: {} branches look coarser than the common {common_bits} bits (few values, or exact by nature); pass --bits if the whole file used one setting:",
                    fewer.len()
                );
                for b in fewer.iter().take(8) {
                    println!(
                        "    {} ({} values, {} bits)",
                        b.name,
                        b.values,
                        b.mantissa_bits.unwrap_or(0)
                    );
                }
                if fewer.len() > 8 {
                    println!("    … and {} more (see --json)", fewer.len() - 8);
                }
            }
        }
    }
    println!(
        "  wrote {} ({})",
        s.output.display(),
        common::human_bytes(s.output_bytes)
    );
    println!(
        "invariant verified on the written file: all {} values re-quantise bit for bit to the stored values",
        s.verified_values
    );
}
