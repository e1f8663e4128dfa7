//! `refloat correct`: estimate the originals of a compressed file's float branches, write
//! a drop-in copy of the file with them (streamed one basket at a time), and verify over the
//! whole written file that every corrected value re-quantises to the stored one.
//!
//! The copy is written and verified beside the output ([`PendingOutput`]) and renamed onto
//! it only once verified: a failed verification leaves no output, and an existing file at
//! the output path untouched.
//!
//! For tests only: with the environment variable [`common::FAULT_ENV`] set to `verify`, the
//! verification fails after checking the written file (so that this path can be exercised
//! on real data, where the invariant always holds).

use std::path::PathBuf;

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use refloat::io::rewrite::{rewrite_floats, Compression, RewriteOptions, Rewritten};
use refloat::io::{FloatLayout, PendingOutput};
use refloat::quantise::infer_mantissa_bits_f32;
use refloat::triage::{self, CorrectionReport, Corrector, ExactPolicy, Method};
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
  refloat correct comp.root corrected.root --method dither:42 --mode truncate
  refloat correct comp.root corrected.root --method model:jets.pt   (build with --features torch)")]
pub struct Args {
    /// Compressed ROOT file (stored values).
    pub input: PathBuf,
    /// Output ROOT file: a drop-in replacement of the input with the selected float
    /// branches corrected; written atomically.
    pub output: PathBuf,
    /// midpoint | dither | dither:SEED | prior-mean | model:PATH (model needs the torch
    /// feature; it corrects the model's own variables). Dither mixes SEED with each branch's
    /// name, so the variables of one object get independent draws.
    #[arg(long, value_name = "METHOD")]
    pub method: String,
    /// Kept mantissa bits the file was compressed with, 0..=23. Default: inferred per branch
    /// from its values (the trailing zero mantissa bits common to all of them); for a model,
    /// the model's.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding the file was compressed with (it cannot be inferred).
    #[arg(long, default_value = "nearest", value_parser = ["nearest", "truncate", "nearest-even"])]
    pub mode: String,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub output_args: common::OutputArgs,
}

/// Per-branch result.
#[derive(Serialize, Debug, Clone)]
pub struct BranchSummary {
    pub name: String,
    pub layout: FloatLayout,
    pub values: usize,
    /// Kept mantissa bits used (`null`: not inferable, branch copied unchanged).
    pub mantissa_bits: Option<u32>,
    /// Whether the bits were inferred from the data (else given by `--bits` or the model).
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
    pub written: Rewritten,
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
    /// Output compression; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Re-read the output and check the invariant (always on for the command).
    pub verify: bool,
}

/// Entries per chunk when a branch is streamed (the first pass and the verification).
const CHUNK_ENTRIES: usize = 1 << 12;

/// Points of the sample a branch's prior-mean density is estimated from, at most twice this
/// (memory stays bounded on large branches; smaller branches use every value).
const PRIOR_SAMPLE: usize = 1 << 14;

/// What to do with one selected branch in the writing pass.
enum Action {
    /// Leave as stored (bits not inferable); its baskets are copied byte for byte.
    Copy,
    /// Correct each basket with this corrector.
    Correct(Corrector),
    /// Replace by these values (a model's output for the whole branch).
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    Replace(Vec<f32>),
}

struct Plan {
    summary: BranchSummary,
    quantiser: Option<Quantiser32>,
    action: Action,
}

/// A deterministic, bounded, evenly spread sample of a stream: every `stride`-th value,
/// the stride doubling (and every other kept value dropped) when `2 * cap` are held.
struct StreamSample {
    cap: usize,
    stride: u64,
    seen: u64,
    values: Vec<f32>,
}

impl StreamSample {
    fn new(cap: usize) -> Self {
        StreamSample {
            cap,
            stride: 1,
            seen: 0,
            values: Vec::new(),
        }
    }

    fn extend(&mut self, data: &[f32]) {
        for &x in data {
            if self.seen % self.stride == 0 {
                self.values.push(x);
                if self.values.len() >= 2 * self.cap {
                    let kept: Vec<f32> = self.values.iter().step_by(2).copied().collect();
                    self.values = kept;
                    self.stride *= 2;
                }
            }
            self.seen += 1;
        }
    }
}

/// First pass over one branch, a chunk at a time: number of values, the kept bits it is
/// consistent with (when not given) and, for prior-mean, a bounded sample of it.
fn plan_core(
    tree: &refloat::io::Tree,
    info: &refloat::io::BranchInfo,
    opts: &Options,
    method: Method,
) -> Result<Plan> {
    let mut values = 0usize;
    let mut bits_seen: Option<u32> = None;
    let mut sample = StreamSample::new(PRIOR_SAMPLE);
    for chunk in tree.read_float_chunks(&info.name, CHUNK_ENTRIES)? {
        let chunk = chunk?;
        let v = &chunk.branch.values;
        values += v.len();
        if opts.bits.is_none() {
            if let Ok(n) = infer_mantissa_bits_f32(v) {
                bits_seen = Some(bits_seen.map_or(n, |b| b.max(n)));
            }
        }
        if method == Method::PriorMean {
            sample.extend(v);
        }
    }
    let (bits, inferred, mut note) = match opts.bits {
        Some(n) => (Some(n), false, None),
        None => match bits_seen {
            Some(n) => (Some(n), true, None),
            None => (
                None,
                true,
                Some(format!(
                    "{}; copied unchanged",
                    refloat::Error::CannotInferBits(format!(
                        "no finite value with a non-zero mantissa among {values} values"
                    ))
                )),
            ),
        },
    };
    if bits == Some(23) {
        note = Some("23 bits: full precision, nothing to correct".into());
    }
    let (quantiser, action) = match bits {
        Some(n) => {
            let q = Quantiser32::new(n, opts.mode)?;
            let c = Corrector::new(
                q,
                method.for_stream(&info.name),
                ExactPolicy::default(),
                &sample.values,
            );
            (Some(q), Action::Correct(c))
        }
        None => (None, Action::Copy),
    };
    Ok(Plan {
        summary: BranchSummary {
            name: info.name.clone(),
            layout: info.float_layout().unwrap_or(FloatLayout::Flat),
            values,
            mantissa_bits: bits,
            inferred,
            report: CorrectionReport::default(),
            changed: 0,
            note,
        },
        quantiser,
        action,
    })
}

#[cfg(not(feature = "torch"))]
fn plan_model(_: &common::Loaded, _: &Options, path: &std::path::Path) -> Result<Vec<Plan>> {
    bail!("correction method model:{}: this refloat was built without the torch feature (rebuild with `cargo build --release --features torch`)", path.display())
}

/// A model corrects its variables jointly (event context), so they are read whole; the
/// other selected branches are left as stored.
#[cfg(feature = "torch")]
fn plan_model(
    loaded: &common::Loaded,
    opts: &Options,
    path: &std::path::Path,
) -> Result<Vec<Plan>> {
    use refloat::model::Model;
    let model = Model::load(path)?;
    let meta = model.meta();
    let bits = opts.bits.unwrap_or(meta.mantissa_bits);
    meta.check(bits, opts.mode, None).map_err(|e| {
        anyhow::anyhow!(
            "model {}: {}",
            path.display(),
            e.to_string().trim_start_matches("model: ")
        )
    })?;
    let q = Quantiser32::new(bits, opts.mode)?;
    let names = meta.variable_names();
    let mut stored = Vec::with_capacity(names.len());
    for n in &names {
        if !loaded.selection.floats.iter().any(|b| b.name == *n) {
            bail!(
                "model {}: needs branch '{n}', which is not among the selected float branches of {}",
                path.display(),
                opts.input.display()
            );
        }
        let b = loaded.tree.read_float(n)?;
        if let Ok(seen) = infer_mantissa_bits_f32(&b.values) {
            if seen > bits {
                bail!(
                    "{}: branch '{n}' keeps {seen} mantissa bits, more than the {bits} the model {} was made for",
                    opts.input.display(),
                    path.display()
                );
            }
        }
        stored.push(b);
    }
    let corrected = model
        .correct_branches(&stored)
        .with_context(|| format!("model {}", path.display()))?;
    let mut plans = Vec::with_capacity(names.len());
    for (s, (c, report)) in stored.iter().zip(corrected) {
        plans.push(Plan {
            summary: BranchSummary {
                name: s.name.clone(),
                layout: s.layout(),
                values: s.values.len(),
                mantissa_bits: Some(bits),
                inferred: false,
                report,
                changed: 0,
                note: Some(format!("model {} ({})", path.display(), meta.kind)),
            },
            quantiser: Some(q),
            action: Action::Replace(c.values),
        });
    }
    Ok(plans)
}

/// Plans, streams the input through the corrections into the output, and (optionally)
/// verifies the written file; returns the summary.
pub fn execute(opts: &Options) -> Result<Summary> {
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode)?;
    }
    common::refuse_same_file(&opts.input, &opts.output)?;
    let loaded = common::load(&opts.input, &opts.select)?;
    let path = opts.input.display().to_string();
    let tree_name = loaded.tree.name().to_string();

    let mut plans = match &opts.method {
        CorrectionMethod::Core(method) => {
            let pb = common::progress(loaded.selection.floats.len(), "scanning");
            let mut plans = Vec::with_capacity(loaded.selection.floats.len());
            for info in &loaded.selection.floats {
                pb.set_message(info.name.clone());
                plans.push(plan_core(&loaded.tree, info, opts, *method)?);
                pb.inc(1);
            }
            pb.finish_and_clear();
            plans
        }
        CorrectionMethod::Model(model) => plan_model(&loaded, opts, model)?,
    };

    let rewritten: Vec<usize> = (0..plans.len())
        .filter(|&i| !matches!(plans[i].action, Action::Copy))
        .collect();
    let index: HashMap<String, usize> = rewritten
        .iter()
        .map(|&i| (plans[i].summary.name.clone(), i))
        .collect();
    // Written beside the output, verified there, renamed onto it last.
    let pending = PendingOutput::beside(&opts.output)?;
    let pb = common::progress(rewritten.len(), "correcting");
    let mut written = rewrite_floats(
        &opts.input,
        pending.path(),
        &RewriteOptions {
            tree: tree_name.clone(),
            branches: rewritten
                .iter()
                .map(|&i| plans[i].summary.name.clone())
                .collect(),
            compression: opts.compression,
        },
        |b| {
            let plan = &mut plans[index[b.branch]];
            if b.first_value == 0 {
                pb.set_message(b.branch.to_string());
                pb.inc(1);
            }
            let before: Vec<u32> = b.values.iter().map(|v| v.to_bits()).collect();
            match &plan.action {
                Action::Copy => {}
                Action::Correct(c) => {
                    plan.summary.report = plan.summary.report
                        + c.correct_in_place(b.values, b.first_value).map_err(|e| {
                            refloat::Error::InvalidInput(format!(
                                "{path}: tree '{tree_name}': branch '{}': {e}",
                                b.branch
                            ))
                        })?;
                }
                Action::Replace(v) => {
                    let from = b.first_value as usize;
                    let src = v.get(from..from + b.values.len()).ok_or_else(|| {
                        refloat::Error::InvalidInput(format!(
                            "branch '{}': the file holds more values than were read",
                            b.branch
                        ))
                    })?;
                    b.values.copy_from_slice(src);
                }
            }
            plan.summary.changed += b
                .values
                .iter()
                .zip(&before)
                .filter(|(v, s)| v.to_bits() != **s)
                .count();
            Ok(())
        },
    )?;
    pb.finish_and_clear();

    let verified = if opts.verify {
        verify(&loaded.tree, pending.path(), &opts.output, &plans)?
    } else {
        0
    };
    written.path = pending.commit()?;
    Ok(Summary {
        input: opts.input.clone(),
        output: opts.output.clone(),
        tree: tree_name,
        method: opts.method.to_string(),
        mode: opts.mode,
        values: plans.iter().map(|p| p.summary.values).sum(),
        branches: plans.into_iter().map(|p| p.summary).collect(),
        skipped: loaded.selection.skipped.clone(),
        written,
        verified_values: verified,
    })
}

/// Re-reads every planned branch of the file at `written_path` (to become `output`, the
/// name errors use) next to the input, a chunk at a time, and checks that corrected values
/// re-quantise to the stored ones and copied ones are equal.
fn verify(
    input: &refloat::io::Tree,
    written_path: &std::path::Path,
    output: &std::path::Path,
    plans: &[Plan],
) -> Result<usize> {
    let mut out = refloat::io::open(written_path)?;
    let out_tree = out.tree(input.name())?;
    let tree_name = input.name();
    let pb = common::progress(plans.len(), "verifying");
    let mut verified = 0usize;
    for plan in plans {
        let name = &plan.summary.name;
        pb.set_message(name.clone());
        let mut written = out_tree.read_float_chunks(name, CHUNK_ENTRIES)?;
        for stored in input.read_float_chunks(name, CHUNK_ENTRIES)? {
            let stored = stored?.branch;
            let corrected = written
                .next()
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: branch '{name}' has fewer entries than the input",
                        output.display()
                    )
                })??
                .branch;
            if let Some(why) = stored.structure_mismatch(&corrected) {
                bail!("{}: tree '{tree_name}': branch '{name}': written structure differs from the input: {why}", output.display());
            }
            let context = || {
                format!(
                    "{}: tree '{tree_name}': branch '{name}': invariant broken (values from {verified} on)",
                    output.display()
                )
            };
            match &plan.quantiser {
                Some(q) => triage::verify_requantises_f32(&corrected.values, &stored.values, q)
                    .with_context(context)?,
                None => {
                    if let Some(i) = corrected
                        .values
                        .iter()
                        .zip(&stored.values)
                        .position(|(c, s)| c.to_bits() != s.to_bits())
                    {
                        bail!(
                            "{}: branch '{name}': value {} changed although it was to be copied",
                            output.display(),
                            verified + i
                        );
                    }
                }
            }
            verified += stored.values.len();
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    if common::fault_injected("verify") {
        bail!(
            "{}: verification failed on purpose ({}=verify, for tests) after checking {verified} values",
            output.display(),
            common::FAULT_ENV
        );
    }
    Ok(verified)
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
        compression: args.output_args.compression()?,
        verify: true,
    };
    let s = execute(&opts)?;
    print(&s, args.output_args.list_skipped);
    common::finish(&args.output_args, &s.skipped, &s)
}

/// Branches listed by name in the terminal summary unless `--list-skipped` asks for all.
const LISTED: usize = 8;

fn print(s: &Summary, list_all: bool) {
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
    let not_inferable: Vec<&BranchSummary> = s
        .branches
        .iter()
        .filter(|b| b.mantissa_bits.is_none())
        .collect();
    if !not_inferable.is_empty() {
        println!(
            "  kept mantissa bits cannot be inferred for {} branches; they were copied unchanged (pass --bits to correct them anyway):",
            not_inferable.len()
        );
        let shown = if list_all {
            not_inferable.len()
        } else {
            not_inferable.len().min(LISTED)
        };
        for b in &not_inferable[..shown] {
            let why = b
                .note
                .as_deref()
                .unwrap_or("no value with a non-zero mantissa")
                .trim_end_matches("; copied unchanged");
            let why = why
                .strip_prefix("cannot infer the kept mantissa bits: ")
                .unwrap_or(why);
            println!("    {}: {why}", b.name);
        }
        if shown < not_inferable.len() {
            println!(
                "    … and {} more (--list-skipped lists every one, --json has them all)",
                not_inferable.len() - shown
            );
        }
    }
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
