//! File pipelines: what the `refloat` command, the C API (`refloat_compress_file`,
//! `refloat_correct_file`), the C++ headers, the cxx bridge and the Python package all call.
//!
//! * [`compress_file`]: a drop-in copy of a ROOT file with the selected float branches
//!   rounded (an (original, stored) pair), and the talk's size table.
//! * [`correct_file`]: a drop-in copy with each stored value replaced by an estimate of its
//!   original inside its interval, every value verified as it is written (against its
//!   stored value, and read back from the bytes written).
//! * [`verify_file`]: checks that every value of a corrected file re-quantises to the value of
//!   the stored file, bit for bit.
//! * [`advise_file`]: the kept-bit sweep of every selected branch and the bits each needs
//!   ([`crate::advise`]), with the compressed size of each rounded branch.
//! * [`replica_spread_file`]: the spread of each branch's histogram, mean and standard
//!   deviation over rounding replicas (dither corrections, [`crate::replicas`]);
//!   [`replica_coverage_file`] checks it against the originals.
//!
//! Files are streamed one basket at a time ([`crate::io::rewrite`]): every tree, branch and
//! object of the input is in the output, untouched baskets byte for byte. Every output is
//! written beside its target ([`PendingOutput`]) and renamed onto it only once its checks
//! have passed: on an error there is no output, and an existing file there is untouched.
//!
//! Progress is reported through a callback ([`Progress`]), so that a front door can draw bars
//! without the library depending on a terminal.
//!
//! For tests only (debug builds): the environment variable [`FAULT_ENV`] makes a step fail
//! on purpose, so that the checks and the no-partial-output path can be exercised on real
//! data, where the real checks pass.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::advise::{self, sweep_branch, AdviseOptions, Artefacts, BranchAdvice};
use crate::correct::{verify_requantises_f32, CorrectionReport, ExactPolicy, Method};
use crate::detect::Detection;
use crate::error::{Error, Result};
use crate::io::rewrite::{rewrite_floats, Compression, CopyCheck, RewriteOptions, Rewritten};
use crate::io::sizes::SizeTable;
use crate::io::{
    self, BranchInfo, BranchKind, BranchPattern, FloatBranch, FloatLayout, PendingOutput, RootFile,
    Selection, Skipped, Tree,
};
use crate::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use crate::replicas::{
    branch_spread, coverage, Binning, BranchSpread, Coverage, ReplicaSource, ResolvedReplicas,
};
use crate::resolve::{resolve_tree, BranchCorrector, Evidence, Format, Given, Resolution, Source};

pub use crate::error::{fault_injected, FAULT_ENV};

/// Entries per chunk when a branch is streamed (the first pass and the verification).
const CHUNK_ENTRIES: usize = 1 << 12;

/// Points of the sample a branch's prior-mean density is estimated from, at most twice this
/// (memory stays bounded on large branches; smaller branches use every value).
const PRIOR_SAMPLE: usize = 1 << 14;

/// Which tree and which float branches a pipeline works on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Select {
    /// Tree name; `None`: the file's analysis tree (`CollectionTree`, else `Events`, else the
    /// only tree with float branches; see [`crate::io::choose_analysis_tree`]).
    pub tree: Option<String>,
    /// Exact names or globs (`AnalysisElectronsAuxDyn.*`); empty: every float and
    /// `std::vector<float>` branch of the tree.
    pub branches: Vec<String>,
}

/// An open file, its tree and the selected float branches.
pub struct Loaded {
    pub file: RootFile,
    pub tree: Tree,
    pub selection: Selection,
}

/// Opens `path`, its tree, and selects the float branches; an error if none is selected.
pub fn load(path: &Path, select: &Select) -> Result<Loaded> {
    let patterns = io::parse_patterns(&select.branches)?;
    let mut file = io::open(path)?;
    let tree = file.tree_or_default(select.tree.as_deref())?;
    let selection = tree.select(&patterns)?;
    if selection.floats.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: tree '{}': no float or std::vector<float> branch selected",
            path.display(),
            tree.name()
        )));
    }
    Ok(Loaded {
        file,
        tree,
        selection,
    })
}

/// The float values of a file that a pipeline working on `loaded`'s tree leaves as stored:
/// the tree's float-like branches it cannot process (`vector<vector<float>>`, which Athena
/// does not round either, float arrays without a counter), and the float branches of the
/// file's other trees (named `tree/branch`).
pub fn floats_left_alone(loaded: &mut Loaded) -> Vec<Skipped> {
    let mut out: Vec<Skipped> = loaded
        .selection
        .skipped
        .iter()
        .filter(|s| s.type_name.contains("float") || s.type_name.contains("Float"))
        .cloned()
        .collect();
    let this = loaded.tree.name().to_string();
    for name in loaded.file.tree_names() {
        if name == this {
            continue;
        }
        let Ok(tree) = loaded.file.tree(&name) else {
            continue;
        };
        for b in tree.branches() {
            let floaty = b.float_layout().is_some()
                || b.type_name.contains("float")
                || b.type_name.contains("Float");
            if floaty {
                out.push(Skipped {
                    name: format!("{name}/{}", b.name),
                    type_name: b.type_name.clone(),
                    reason: format!(
                        "in tree '{name}', not the tree processed ('{this}'): name it to process it"
                    ),
                });
            }
        }
    }
    out
}

/// Errors if `output` is the same file as `input` (writing would replace what is read).
pub fn refuse_same_file(input: &Path, output: &Path) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if canon(input) == canon(output) {
        return Err(Error::InvalidArgument(format!(
            "{}: the output would replace the input; choose another output path",
            output.display()
        )));
    }
    Ok(())
}

/// A step of a pipeline, as reported to [`Progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// First pass of [`correct_file`]: bits and density sample per branch.
    Scanning,
    /// [`compress_file`] rounding the branches.
    Rounding,
    /// [`correct_file`] writing the corrected branches, checking them as they are written.
    Correcting,
    /// [`verify_file`] re-reading a written file and checking the invariant.
    Verifying,
    /// Reading branches whole ([`read_selected`]).
    Reading,
    /// [`advise_file`] sweeping the kept bits of each branch.
    Sweeping,
}

impl Stage {
    /// Lower-case name (`scanning`, `rounding`, `correcting`, `verifying`, `reading`,
    /// `sweeping`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Scanning => "scanning",
            Stage::Rounding => "rounding",
            Stage::Correcting => "correcting",
            Stage::Verifying => "verifying",
            Stage::Reading => "reading",
            Stage::Sweeping => "sweeping",
        }
    }
}

/// One progress report: `done` of `total` branches of `stage` finished; `branch` is the one
/// being worked on (empty at the start and the end of a stage). Each stage starts with
/// `done = 0` and ends with `done = total`.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
    pub branch: &'a str,
}

/// The progress callback of the pipelines (`&mut |_| {}` for none).
pub type ProgressFn<'a> = dyn FnMut(Progress<'_>) + 'a;

/// Reports the branches of one stage in order.
struct StageReporter<'p, 'f> {
    stage: Stage,
    total: usize,
    /// Branches begun so far (all but the current one are done).
    begun: usize,
    sink: &'p mut ProgressFn<'f>,
}

impl<'p, 'f> StageReporter<'p, 'f> {
    fn start(stage: Stage, total: usize, sink: &'p mut ProgressFn<'f>) -> Self {
        sink(Progress {
            stage,
            done: 0,
            total,
            branch: "",
        });
        StageReporter {
            stage,
            total,
            begun: 0,
            sink,
        }
    }
    /// Branch `name` begins (the previous one, if any, is done).
    fn branch(&mut self, name: &str) {
        (self.sink)(Progress {
            stage: self.stage,
            done: self.begun,
            total: self.total,
            branch: name,
        });
        self.begun += 1;
    }
    fn finish(self) {
        (self.sink)(Progress {
            stage: self.stage,
            done: self.total,
            total: self.total,
            branch: "",
        });
    }
}

// ---------------------------------------------------------------------------------------
// compress

/// Options of [`compress_file`].
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub select: Select,
    /// The rounding (kept bits and scheme) of every branch no rule of `bits` matches.
    pub quantiser: Quantiser32,
    /// Kept bits per branch name or glob (the first matching rule applies; same scheme as
    /// `quantiser`): e.g. the recommendations of [`advise_file`].
    pub bits: Vec<(BranchPattern, u32)>,
    /// Output compression; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Measure the talk's size table of the output (re-reads both files' basket sizes).
    pub measure_sizes: bool,
    /// A copied record (another branch's basket, an object) that does not decode: an error
    /// (default) or listed in [`Rewritten::damaged_copies`].
    pub copies: CopyCheck,
}

/// Per-branch result of [`compress_file`].
#[derive(Serialize, Debug, Clone)]
pub struct CompressedBranch {
    pub name: String,
    pub layout: FloatLayout,
    /// Kept mantissa bits it was rounded to.
    pub mantissa_bits: u32,
    pub values: u64,
    /// Values whose bits changed.
    pub changed: u64,
}

/// What [`compress_file`] did.
#[derive(Serialize, Debug, Clone)]
pub struct CompressReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tree: String,
    pub entries: u64,
    pub mantissa_bits: u32,
    pub mode: RoundingMode,
    pub branches: Vec<CompressedBranch>,
    pub values: u64,
    /// Branches of the tree that were not rounded (copied as stored), with the reason.
    pub skipped: Vec<Skipped>,
    /// The float values of the file left as stored ([`floats_left_alone`]).
    pub floats_left_alone: Vec<Skipped>,
    /// ROOT's compression setting of the input (`algorithm * 100 + level`).
    pub input_compression_setting: i32,
    pub written: Rewritten,
    /// The talk's size table of the tree (`None` when not measured).
    pub sizes: Option<SizeTable>,
    /// `1 − output / input` of the whole file.
    pub file_saving: f64,
}

/// Rounds the selected float branches of `input` and writes the drop-in copy `output`.
pub fn compress_file(
    input: &Path,
    output: &Path,
    opts: &CompressOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<CompressReport> {
    refuse_same_file(input, output)?;
    let mut loaded = load(input, &opts.select)?;
    let floats_left_alone = floats_left_alone(&mut loaded);
    let names: Vec<String> = loaded
        .selection
        .floats
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let mut changed = vec![0u64; names.len()];
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let quantisers: Vec<Quantiser32> = names
        .iter()
        .map(|n| match opts.bits.iter().find(|(p, _)| p.matches(n)) {
            Some(&(_, bits)) => Quantiser32::new(bits, opts.quantiser.mode())
                .map_err(|e| Error::InvalidArgument(format!("kept bits of branch '{n}': {e}"))),
            None => Ok(opts.quantiser),
        })
        .collect::<Result<_>>()?;
    let pending = PendingOutput::beside(output)?;
    let mut bar = StageReporter::start(Stage::Rounding, names.len(), progress);
    let mut written = rewrite_floats(
        input,
        pending.path(),
        &RewriteOptions {
            tree: loaded.tree.name().to_string(),
            branches: names.clone(),
            compression: opts.compression,
            verify_written: false,
            copies: opts.copies,
        },
        |b| {
            let i = index[b.branch];
            if b.first_value == 0 {
                bar.branch(b.branch);
            }
            let q = quantisers[i];
            for x in b.values.iter_mut() {
                let y = q.quantise(*x);
                changed[i] += u64::from(y.to_bits() != x.to_bits());
                *x = y;
            }
            Ok(())
        },
    )?;
    bar.finish();
    let sizes = if opts.measure_sizes {
        let context = |e: Error| {
            Error::InvalidInput(format!(
                "{}: measuring the size table: {e}",
                output.display()
            ))
        };
        let mut table =
            SizeTable::measure(input, pending.path(), loaded.tree.name()).map_err(context)?;
        if fault_injected("sizes") {
            return Err(Error::InvalidInput(format!(
                "{}: measuring the size table failed on purpose ({FAULT_ENV}=sizes, for tests)",
                output.display()
            )));
        }
        table.after.path = output.to_path_buf();
        Some(table)
    } else {
        None
    };
    written.path = pending.commit()?;
    let branches: Vec<CompressedBranch> = loaded
        .selection
        .floats
        .iter()
        .zip(&written.values)
        .zip(&changed)
        .zip(&quantisers)
        .map(|(((info, (_, values)), changed), q)| CompressedBranch {
            name: info.name.clone(),
            layout: info.float_layout().unwrap_or(FloatLayout::Flat),
            mantissa_bits: q.mantissa_bits(),
            values: *values,
            changed: *changed,
        })
        .collect();
    Ok(CompressReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        mantissa_bits: opts.quantiser.mantissa_bits(),
        mode: opts.quantiser.mode(),
        values: branches.iter().map(|b| b.values).sum(),
        branches,
        skipped: loaded.selection.skipped.clone(),
        floats_left_alone,
        input_compression_setting: loaded.file.compression(),
        file_saving: 1.0 - written.output_bytes as f64 / written.input_bytes.max(1) as f64,
        written,
        sizes,
    })
}

// ---------------------------------------------------------------------------------------
// correct

/// A correction that sees several branches at once (a learned model: the variables of one
/// object are corrected jointly). Implemented by `refloat_model::Model`; the pipeline reads
/// its variables whole and writes what it returns.
pub trait JointCorrection {
    /// How the correction is named in reports (`model:PATH`).
    fn describe(&self) -> String;
    /// A note for the corrected branch `variable`: what corrects it, and why
    /// (`model PATH (inpainting): prior-mean, the model's fallback (…)`).
    fn note(&self, variable: &str) -> String;
    /// The float branches it corrects, in order.
    fn variables(&self) -> Vec<String>;
    /// The kept bits it was made for.
    fn mantissa_bits(&self) -> u32;
    /// Errors if it cannot correct data stored with `bits` and `mode`.
    fn check(&self, bits: u32, mode: RoundingMode) -> Result<()>;
    /// The corrected values of each variable (same lengths as given) and what was done.
    fn correct(&self, stored: &[FloatBranch]) -> Result<Vec<(Vec<f32>, CorrectionReport)>>;
}

/// The estimator of [`correct_file`].
#[derive(Clone, Copy)]
pub enum Correction<'a> {
    /// A per-value estimator of the numeric core. `Dither`'s seed is the user's: each branch
    /// draws under the one seeding rule ([`crate::correct::dither_stream_seed`]).
    Method(Method),
    /// A joint correction of several branches (a learned model).
    Joint(&'a dyn JointCorrection),
}

impl std::fmt::Display for Correction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Correction::Method(Method::Dither { seed }) => write!(f, "dither:{seed}"),
            Correction::Method(m) => write!(f, "{m}"),
            Correction::Joint(j) => f.write_str(&j.describe()),
        }
    }
}

/// Options of [`correct_file`].
#[derive(Clone, Debug)]
pub struct CorrectOptions {
    pub select: Select,
    /// Kept mantissa bits the file was stored with; `None`: detected per branch (for a joint
    /// correction, its own), and per value in a branch that mixes precisions.
    pub bits: Option<u32>,
    /// The rounding the file was stored with; `None`: detected per branch
    /// ([`crate::detect`]), and where the values cannot tell, the format's
    /// ([`format_default_mode`]).
    pub mode: Option<RoundingMode>,
    /// Output compression; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Re-read the written file and check the invariant before committing it.
    pub verify: bool,
    /// The format whose producer's defaults apply; `None`: the tree's ([`Format::of_tree`]).
    pub format: Option<Format>,
    /// Leave values exact by nature alone (default; see [`crate::resolve`]).
    pub leave_exact: bool,
    /// A copied record (another branch's basket, an object) that does not decode: an error
    /// (default) or listed in [`Rewritten::damaged_copies`].
    pub copies: CopyCheck,
}

/// The rounding a tree's producer is known to use: CMS's for NanoAOD's `Events`, ATLAS's
/// `nearest` otherwise (PHYSLITE's `CollectionTree`, and files refloat compressed).
pub fn format_default_mode(tree: &str) -> RoundingMode {
    Format::of_tree(tree).producer_mode()
}

impl Default for CorrectOptions {
    fn default() -> Self {
        CorrectOptions {
            select: Select::default(),
            bits: None,
            mode: None,
            compression: None,
            verify: true,
            format: None,
            leave_exact: true,
            copies: CopyCheck::Error,
        }
    }
}

/// Per-branch result of [`correct_file`].
#[derive(Serialize, Debug, Clone)]
pub struct CorrectedBranch {
    pub name: String,
    pub layout: FloatLayout,
    pub values: usize,
    /// Kept mantissa bits used (`None`: branch copied unchanged; the largest when the branch
    /// is corrected per value).
    pub mantissa_bits: Option<u32>,
    /// Where the bits came from ([`Source`]; `given` for a joint correction's).
    pub bits_source: Source,
    /// The rounding the branch was corrected under.
    pub mode: RoundingMode,
    /// Where `mode` came from: `given`, `detected`, or `format` (the values could not tell;
    /// the tree's format decided, see [`format_default_mode`]); `model` for a joint
    /// correction's.
    pub mode_source: &'static str,
    /// How the resolver resolved the branch (bits, scheme, per-value precision, spikes,
    /// lattice); `None` for a joint correction.
    pub resolution: Option<Resolution>,
    pub report: CorrectionReport,
    /// Values whose bits changed.
    pub changed: usize,
    pub note: Option<String>,
}

/// What [`correct_file`] did.
#[derive(Serialize, Debug, Clone)]
pub struct CorrectReport {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tree: String,
    pub method: String,
    /// The rounding given for every branch (`None`: per branch, see [`CorrectedBranch::mode`]).
    pub mode: Option<RoundingMode>,
    pub branches: Vec<CorrectedBranch>,
    pub values: usize,
    pub skipped: Vec<Skipped>,
    /// The float values of the file left as stored ([`floats_left_alone`]).
    pub floats_left_alone: Vec<Skipped>,
    pub written: Rewritten,
    /// Values verified while writing (0 without `verify`): each corrected value checked
    /// against its stored one, and read back from the bytes written; with those of branches
    /// copied as stored, whose baskets are the input's records byte for byte.
    pub verified_values: usize,
}

impl CorrectReport {
    /// The per-branch reports added up.
    pub fn total(&self) -> CorrectionReport {
        self.branches
            .iter()
            .fold(CorrectionReport::default(), |a, b| a + b.report)
    }
}

/// What to do with one selected branch in the writing pass.
enum Action {
    /// Leave as stored (bits not known); its baskets are copied byte for byte.
    Copy,
    /// Correct each basket with the branch's corrector (per value in a mixed branch).
    Correct(BranchCorrector),
    /// Replace by these values (a joint correction's output for the whole branch).
    Replace(Vec<f32>),
}

struct Plan {
    summary: CorrectedBranch,
    check: Check,
    action: Action,
}

/// How the written values of a branch are checked.
#[derive(Clone, Debug)]
enum Check {
    /// Unchanged, bit for bit.
    Copied,
    /// Each value re-quantises to its stored value under this quantiser.
    Requantises(Quantiser32),
    /// The resolver's check: each value re-quantises at its precision, and (when `true`)
    /// exact values are unchanged.
    Resolved(BranchCorrector, bool),
}

impl Check {
    /// Whether `corrected` passes this check against `stored` (same length); the message
    /// names the first value (from 0) that does not.
    fn holds(&self, corrected: &[f32], stored: &[f32]) -> std::result::Result<(), String> {
        match self {
            Check::Requantises(q) => {
                verify_requantises_f32(corrected, stored, q).map_err(|e| e.to_string())
            }
            Check::Resolved(c, true) => c.check(corrected, stored),
            Check::Resolved(c, false) => c.check_invariant(corrected, stored),
            Check::Copied => match corrected
                .iter()
                .zip(stored)
                .position(|(c, s)| c.to_bits() != s.to_bits())
            {
                Some(i) => Err(format!("value {i} changed although it was to be copied")),
                None if corrected.len() != stored.len() => Err(format!(
                    "{} values written for {} stored",
                    corrected.len(),
                    stored.len()
                )),
                None => Ok(()),
            },
        }
    }
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
            if self.seen.is_multiple_of(self.stride) {
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

/// The resolutions of the selected float branches of a tree (one pass over each, a chunk at
/// a time), with a bounded sample of each when `samples` is asked for (prior-mean).
fn resolve_branches(
    tree: &Tree,
    floats: &[BranchInfo],
    format: Format,
    given: &Given,
    samples: bool,
    progress: &mut ProgressFn<'_>,
) -> Result<Vec<(Resolution, Vec<f32>)>> {
    let mut bar = StageReporter::start(Stage::Scanning, floats.len(), progress);
    let mut evidence = Vec::with_capacity(floats.len());
    let mut sampled = Vec::with_capacity(floats.len());
    for info in floats {
        bar.branch(&info.name);
        let mut e = Evidence::new();
        let mut sample = StreamSample::new(PRIOR_SAMPLE);
        tree.for_each_float_values(&info.name, |v| {
            e.add(v);
            if samples {
                sample.extend(v);
            }
        })?;
        evidence.push((
            info.name.clone(),
            e.finish(given.leave_exact, format),
            given.clone(),
        ));
        sampled.push(sample.values);
    }
    bar.finish();
    Ok(resolve_tree(format, evidence)
        .into_iter()
        .zip(sampled)
        .map(|((_, r), s)| (r, s))
        .collect())
}

/// The scheme of the producer of `path`'s selected tree ([`Format::of_tree`]): what compress
/// rounds with when no scheme is named (CMS's for NanoAOD's `Events`, ATLAS's otherwise).
pub fn producer_mode(path: &Path, select: &Select) -> Result<RoundingMode> {
    let mut file = io::open(path)?;
    let tree = file.tree_or_default(select.tree.as_deref())?;
    Ok(Format::of_tree(tree.name()).producer_mode())
}

/// How the resolver resolves the selected float branches of `path` ([`crate::resolve`]):
/// what [`correct_file`] corrects them under and [`verify_file`] checks them under, for
/// front doors that correct a file one event at a time (the C API's resolution handles, the
/// ROOT macro, RDataFrame). `format` `None`: the tree's. Returns the tree's name and the
/// resolutions in the selection's order.
///
/// ```
/// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nano_dy.root");
/// # if !path.exists() { return Ok(()); }
/// use refloat_core::pipeline::{resolve_file, Select};
/// use refloat_core::resolve::{Given, Source};
/// let select = Select { tree: None, branches: vec!["TrigObj_eta".into()] };
/// let (tree, r) = resolve_file(&path, &select, &Given::default(), None)?;
/// assert_eq!(tree, "Events");
/// // The data shows 11 bits; CMSSW declares 12 (MiniAOD packed it coarser first).
/// assert_eq!((r[0].1.bits, r[0].1.bits_source), (Some(12), Source::Declared));
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn resolve_file(
    path: &Path,
    select: &Select,
    given: &Given,
    format: Option<Format>,
) -> Result<(String, Vec<(String, Resolution)>)> {
    let loaded = load(path, select)?;
    let tree = loaded.tree.name().to_string();
    let floats = &loaded.selection.floats;
    let resolved = resolve_branches(
        &loaded.tree,
        floats,
        format.unwrap_or(Format::of_tree(&tree)),
        given,
        false,
        &mut |_| {},
    )?;
    Ok((
        tree,
        floats
            .iter()
            .zip(resolved)
            .map(|(i, (r, _))| (i.name.clone(), r))
            .collect(),
    ))
}

/// A float branch's layout (flat for a branch that is not a float branch, which the
/// selection never holds).
fn layout_of(info: &BranchInfo) -> FloatLayout {
    info.float_layout().unwrap_or(FloatLayout::Flat)
}

/// The plan of one branch from its resolution: correct it with `method`, or copy it.
fn plan_method(
    name: &str,
    layout: FloatLayout,
    resolution: Resolution,
    method: Method,
    sample: &[f32],
) -> Result<Plan> {
    let corrector = resolution.corrector(method, name, sample)?;
    let (check, action) = match corrector {
        Some(c) if resolution.bits != Some(23) => {
            let strict = resolution.leave_exact;
            (Check::Resolved(c.clone(), strict), Action::Correct(c))
        }
        _ => (Check::Copied, Action::Copy),
    };
    Ok(Plan {
        summary: CorrectedBranch {
            name: name.to_string(),
            layout,
            values: resolution.values as usize,
            mantissa_bits: resolution.bits,
            bits_source: resolution.bits_source,
            mode: resolution.mode,
            mode_source: resolution.mode_source.name(),
            report: CorrectionReport::default(),
            changed: 0,
            note: resolution.note.clone(),
            resolution: Some(resolution),
        },
        check,
        action,
    })
}

/// A joint correction reads its variables whole; the other selected branches are left as
/// stored.
fn plan_joint(
    loaded: &Loaded,
    input: &Path,
    opts: &CorrectOptions,
    joint: &dyn JointCorrection,
) -> Result<Vec<Plan>> {
    let bits = opts.bits.unwrap_or(joint.mantissa_bits());
    let mode = opts.mode.unwrap_or(RoundingMode::Nearest);
    joint.check(bits, mode)?;
    let q = Quantiser32::new(bits, mode)?;
    let mut stored = Vec::new();
    for n in joint.variables() {
        if !loaded.selection.floats.iter().any(|b| b.name == n) {
            return Err(Error::InvalidInput(format!(
                "{}: needs branch '{n}', which is not among the selected float branches of {}",
                joint.describe(),
                input.display()
            )));
        }
        let b = loaded.tree.read_float(&n)?;
        if let Ok(seen) = infer_mantissa_bits_f32(&b.values) {
            if seen > bits {
                return Err(Error::InvalidInput(format!(
                    "{}: branch '{n}' keeps {seen} mantissa bits, more than the {bits} {} was made for",
                    input.display(),
                    joint.describe()
                )));
            }
        }
        stored.push(b);
    }
    let corrected = joint.correct(&stored)?;
    if corrected.len() != stored.len() {
        return Err(Error::LengthMismatch {
            what: format!("{}: corrected vs stored variables", joint.describe()),
            left: corrected.len(),
            right: stored.len(),
        });
    }
    Ok(stored
        .iter()
        .zip(corrected)
        .map(|(s, (values, report))| Plan {
            summary: CorrectedBranch {
                name: s.name.clone(),
                layout: s.layout(),
                values: s.values.len(),
                mantissa_bits: Some(bits),
                bits_source: Source::Given,
                mode,
                mode_source: if opts.mode.is_some() {
                    "given"
                } else {
                    "model"
                },
                resolution: None,
                report,
                changed: 0,
                note: Some(joint.note(&s.name)),
            },
            check: Check::Requantises(q),
            action: Action::Replace(values),
        })
        .collect())
}

/// Corrects the selected float branches of the stored file `input` and writes the drop-in
/// copy `output`. With `opts.verify`, every value is checked while the file is written,
/// before the output is committed: the corrected values against their stored ones (the
/// invariant, from the buffers in hand), and each rewritten basket from the bytes about to be
/// written (decompressed and compared bit for bit), so the file is not re-read. A separate
/// re-read of both files is [`verify_file`].
pub fn correct_file(
    input: &Path,
    output: &Path,
    correction: Correction<'_>,
    opts: &CorrectOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<CorrectReport> {
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode.unwrap_or_default())?;
    }
    refuse_same_file(input, output)?;
    let mut loaded = load(input, &opts.select)?;
    let floats_left_alone = floats_left_alone(&mut loaded);
    let path = input.display().to_string();
    let tree_name = loaded.tree.name().to_string();

    let mut plans = match correction {
        Correction::Method(method) => {
            let floats = &loaded.selection.floats;
            let resolved = resolve_branches(
                &loaded.tree,
                floats,
                opts.format.unwrap_or(Format::of_tree(&tree_name)),
                &Given {
                    bits: opts.bits,
                    mode: opts.mode,
                    leave_exact: opts.leave_exact,
                },
                method == Method::PriorMean,
                progress,
            )?;
            floats
                .iter()
                .zip(resolved)
                .map(|(info, (r, sample))| {
                    plan_method(&info.name, layout_of(info), r, method, &sample)
                })
                .collect::<Result<Vec<_>>>()?
        }
        Correction::Joint(joint) => plan_joint(&loaded, input, opts, joint)?,
    };

    let rewritten: Vec<usize> = (0..plans.len())
        .filter(|&i| !matches!(plans[i].action, Action::Copy))
        .collect();
    let index: HashMap<String, usize> = rewritten
        .iter()
        .map(|&i| (plans[i].summary.name.clone(), i))
        .collect();
    let pending = PendingOutput::beside(output)?;
    let mut bar = StageReporter::start(Stage::Correcting, rewritten.len(), progress);
    let mut written = rewrite_floats(
        input,
        pending.path(),
        &RewriteOptions {
            tree: tree_name.clone(),
            branches: rewritten
                .iter()
                .map(|&i| plans[i].summary.name.clone())
                .collect(),
            compression: opts.compression,
            verify_written: opts.verify,
            copies: opts.copies,
        },
        |b| {
            let plan = &mut plans[index[b.branch]];
            if b.first_value == 0 {
                bar.branch(b.branch);
            }
            let before: Vec<f32> = b.values.to_vec();
            match &plan.action {
                Action::Copy => {}
                Action::Correct(c) => {
                    plan.summary.report = plan.summary.report
                        + c.correct_in_place(b.values, b.first_value).map_err(|e| {
                            Error::InvalidInput(format!(
                                "{path}: tree '{tree_name}': branch '{}': {e}",
                                b.branch
                            ))
                        })?;
                }
                Action::Replace(v) => {
                    let from = b.first_value as usize;
                    let src = v.get(from..from + b.values.len()).ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "branch '{}': the file holds more values than were read",
                            b.branch
                        ))
                    })?;
                    b.values.copy_from_slice(src);
                }
            }
            if fault_injected("invariant") {
                // Move one value out of its interval, as a wrong correction would.
                if let Some(v) = b.values.iter_mut().find(|v| v.is_normal()) {
                    *v *= 2.0;
                }
            }
            if opts.verify {
                plan.check.holds(b.values, &before).map_err(|e| {
                    Error::InvalidInput(format!(
                        "{}: tree '{tree_name}': branch '{}': invariant broken (values from {} on): {e}",
                        output.display(),
                        b.branch,
                        b.first_value
                    ))
                })?;
            }
            plan.summary.changed += b
                .values
                .iter()
                .zip(&before)
                .filter(|(v, s)| v.to_bits() != s.to_bits())
                .count();
            Ok(())
        },
    )?;
    bar.finish();

    let verified = if opts.verify {
        let copied: usize = plans
            .iter()
            .filter(|p| matches!(p.action, Action::Copy))
            .map(|p| p.summary.values)
            .sum();
        let verified = written.values_verified as usize + copied;
        if fault_injected("verify") {
            return Err(Error::InvalidInput(format!(
                "{}: verification failed on purpose ({FAULT_ENV}=verify, for tests) after checking {verified} values",
                output.display()
            )));
        }
        verified
    } else {
        0
    };
    written.path = pending.commit()?;
    Ok(CorrectReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        tree: tree_name,
        method: correction.to_string(),
        mode: opts.mode,
        values: plans.iter().map(|p| p.summary.values).sum(),
        branches: plans.into_iter().map(|p| p.summary).collect(),
        skipped: loaded.selection.skipped.clone(),
        floats_left_alone,
        written,
        verified_values: verified,
    })
}

// ---------------------------------------------------------------------------------------
// verify

/// Options of [`verify_file`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub select: Select,
    /// Kept mantissa bits of the stored file; `None`: resolved per branch of the stored file
    /// (per value where it mixes precisions), as [`correct_file`] does.
    pub bits: Option<u32>,
    /// The rounding the stored file was made with; `None`: resolved per branch, as
    /// [`correct_file`] does.
    pub mode: Option<RoundingMode>,
    /// As [`CorrectOptions::format`].
    pub format: Option<Format>,
    /// As [`CorrectOptions::leave_exact`] (default `true`: values exact by nature must be
    /// unchanged too); `false` checks the invariant alone (originals against the values
    /// stored from them, or a file corrected with `leave_exact` off).
    pub leave_exact: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            select: Select::default(),
            bits: None,
            mode: None,
            format: None,
            leave_exact: true,
        }
    }
}

/// What [`verify_file`] checked.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Branches checked, with the kept bits used (`None`: not inferable, checked equal; the
    /// largest when a branch mixes precisions).
    pub branches: Vec<(String, Option<u32>)>,
    /// Values checked.
    pub values: usize,
}

/// Checks that every selected float branch of `corrected` has the structure of `stored` and
/// that each value re-quantises, bit for bit, to the stored one (branches whose bits cannot
/// be inferred must be equal). Streams both files a chunk at a time.
pub fn verify_file(
    stored: &Path,
    corrected: &Path,
    opts: &VerifyOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<VerifyReport> {
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode.unwrap_or_default())?;
    }
    let loaded = load(stored, &opts.select)?;
    let floats = &loaded.selection.floats;
    let resolved = resolve_branches(
        &loaded.tree,
        floats,
        opts.format.unwrap_or(Format::of_tree(loaded.tree.name())),
        &Given {
            bits: opts.bits,
            mode: opts.mode,
            leave_exact: opts.leave_exact,
        },
        false,
        progress,
    )?;
    let mut checks = Vec::with_capacity(floats.len());
    let mut branches = Vec::with_capacity(floats.len());
    for (info, (r, _)) in floats.iter().zip(resolved) {
        let plan = plan_method(&info.name, layout_of(info), r, Method::Midpoint, &[])?;
        branches.push((info.name.clone(), plan.summary.mantissa_bits));
        checks.push((info.name.clone(), plan.check));
    }
    let values = verify_branches(&loaded.tree, corrected, corrected, &checks, progress)?;
    Ok(VerifyReport { branches, values })
}

/// Re-reads each branch of the file at `written_path` (to become `output`, the name errors
/// use) next to the stored tree, a chunk at a time, and checks that values re-quantise to the
/// stored ones (`Some(quantiser)`) or are equal (`None`).
fn verify_branches(
    input: &Tree,
    written_path: &Path,
    output: &Path,
    checks: &[(String, Check)],
    progress: &mut ProgressFn<'_>,
) -> Result<usize> {
    let mut out = io::open(written_path)?;
    let out_tree = out.tree(input.name())?;
    let tree_name = input.name();
    let mut bar = StageReporter::start(Stage::Verifying, checks.len(), progress);
    let mut verified = 0usize;
    for (name, quantiser) in checks {
        bar.branch(name);
        let mut written = out_tree.read_float_chunks(name, CHUNK_ENTRIES)?;
        let broken = |why: String| {
            Error::InvalidInput(format!(
                "{}: tree '{tree_name}': branch '{name}': {why}",
                output.display()
            ))
        };
        for stored in input.read_float_chunks(name, CHUNK_ENTRIES)? {
            let stored = stored?.branch;
            let corrected = written
                .next()
                .ok_or_else(|| broken("fewer entries than the input".into()))??
                .branch;
            if let Some(why) = stored.structure_mismatch(&corrected) {
                return Err(broken(format!(
                    "written structure differs from the input: {why}"
                )));
            }
            quantiser
                .holds(&corrected.values, &stored.values)
                .map_err(|e| {
                    broken(format!("invariant broken (values from {verified} on): {e}"))
                })?;
            verified += stored.values.len();
        }
        if written.next().is_some() {
            return Err(broken("more entries than the input".into()));
        }
    }
    bar.finish();
    Ok(verified)
}

/// Reads every selected float branch whole, reporting progress under `stage`.
pub fn read_selected(
    tree: &Tree,
    selection: &Selection,
    stage: Stage,
    progress: &mut ProgressFn<'_>,
) -> Result<Vec<FloatBranch>> {
    let mut bar = StageReporter::start(stage, selection.floats.len(), progress);
    let mut out = Vec::with_capacity(selection.floats.len());
    for info in &selection.floats {
        bar.branch(&info.name);
        out.push(tree.read_float(&info.name)?);
    }
    bar.finish();
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// inspect

/// One branch as [`inspect_file`] sees it.
#[derive(Serialize, Debug, Clone)]
pub struct InspectedBranch {
    pub name: String,
    /// The C++ type as the file declares it (`float`, `float[]`, `vector<float>`, …).
    pub type_name: String,
    pub entries: i64,
    pub kind: BranchKind,
    /// For `float[n]` arrays: the counter branch.
    pub counter: Option<String>,
    /// Values in the branch (float branches only).
    pub values: Option<usize>,
    /// Kept mantissa bits `correct` would use (float branches only; `None`: left as stored,
    /// see `note`).
    pub mantissa_bits: Option<u32>,
    /// What the values say about how they were rounded (float branches only).
    pub detection: Option<Detection>,
    /// The scheme `correct` would use: the detected one, else the format's.
    pub mode: Option<RoundingMode>,
    /// `detected` or `format` (see [`format_default_mode`]).
    pub mode_source: Option<&'static str>,
    /// Why the branch would be left as stored, or other remarks of the resolver.
    pub note: Option<String>,
    /// The resolver's whole decision (float branches only): what `correct` does with it.
    pub resolution: Option<Resolution>,
}

/// One tree as [`inspect_file`] sees it.
#[derive(Serialize, Debug, Clone)]
pub struct InspectedTree {
    pub name: String,
    pub entries: u64,
    pub branches: Vec<InspectedBranch>,
}

/// What [`inspect_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct InspectReport {
    pub path: PathBuf,
    pub bytes: u64,
    /// ROOT's `fCompress` of the file (`algorithm * 100 + level`).
    pub compression: i32,
    /// Every top-level object: (name, class).
    pub objects: Vec<(String, String)>,
    pub trees: Vec<InspectedTree>,
}

/// Trees, branches, types and entries of a ROOT file, and for every float branch its values,
/// kept bits (per value cluster when it mixes precisions) and rounding scheme as detected
/// from the stored values ([`crate::detect`]), read a chunk at a time. `tree`: only that
/// tree (default: every tree); `patterns`: only matching branches.
///
/// # Errors
/// A file that cannot be opened or read, a missing tree, or patterns that match no branch of
/// a tree.
pub fn inspect_file(
    path: &Path,
    tree: Option<&str>,
    patterns: &[BranchPattern],
    progress: &mut ProgressFn<'_>,
) -> Result<InspectReport> {
    let mut file = io::open(path)?;
    let names = match tree {
        Some(t) => vec![t.to_string()],
        None => file.tree_names(),
    };
    let mut trees = Vec::with_capacity(names.len());
    for name in names {
        let tree = file.tree(&name)?;
        let selected: Vec<&BranchInfo> = tree
            .branches()
            .iter()
            .filter(|b| patterns.is_empty() || patterns.iter().any(|p| p.matches(&b.name)))
            .collect();
        if !patterns.is_empty() && selected.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{}: tree '{name}': no branch matches {}",
                path.display(),
                patterns
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let float_infos: Vec<BranchInfo> = selected
            .iter()
            .filter(|b| b.float_layout().is_some())
            .map(|b| (*b).clone())
            .collect();
        let resolved = resolve_branches(
            &tree,
            &float_infos,
            Format::of_tree(&name),
            &Given::default(),
            false,
            progress,
        )?;
        let mut resolved: HashMap<String, Resolution> = float_infos
            .iter()
            .zip(resolved)
            .map(|(i, (r, _))| (i.name.clone(), r))
            .collect();
        let mut branches = Vec::with_capacity(selected.len());
        for info in selected {
            let r = resolved.remove(&info.name);
            branches.push(InspectedBranch {
                name: info.name.clone(),
                type_name: info.type_name.clone(),
                entries: info.entries,
                kind: info.kind.clone(),
                counter: info.counter.clone(),
                values: r.as_ref().map(|r| r.values as usize),
                mantissa_bits: r.as_ref().and_then(|r| r.bits),
                detection: r.as_ref().map(|r| r.detection.clone()),
                mode: r
                    .as_ref()
                    .filter(|r| r.bits.is_some_and(|b| b < 23))
                    .map(|r| r.mode),
                mode_source: r
                    .as_ref()
                    .filter(|r| r.bits.is_some_and(|b| b < 23))
                    .map(|r| r.mode_source.name()),
                note: r.as_ref().and_then(|r| r.note.clone()),
                resolution: r,
            });
        }
        trees.push(InspectedTree {
            name,
            entries: tree.entries(),
            branches,
        });
    }
    Ok(InspectReport {
        path: path.to_path_buf(),
        bytes: file.size_bytes(),
        compression: file.compression(),
        objects: file.objects().to_vec(),
        trees,
    })
}

// ---------------------------------------------------------------------------------------
// advise

/// Options of [`advise_file`].
#[derive(Clone, Debug, Default)]
pub struct AdviseFileOptions {
    pub select: Select,
    /// The sweep's settings (scheme, bits swept, criteria).
    pub advise: AdviseOptions,
    /// Resolutions per branch name or glob; the first matching rule applies.
    pub resolutions: Vec<(BranchPattern, advise::Resolution)>,
    /// Measure the compressed size at every kept-bit count: each basket's rounded values,
    /// big-endian as ROOT writes them, recompressed with the file's algorithm and level.
    pub measure_sizes: bool,
}

/// One branch of [`advise_file`].
#[derive(Serialize, Debug, Clone)]
pub struct AdvisedBranch {
    #[serde(flatten)]
    pub advice: BranchAdvice,
    pub layout: FloatLayout,
    /// How the input's values were stored (full precision: 23 bits).
    pub input: Detection,
    /// The artefact detector on the input's values as stored, without originals (only when
    /// the input is itself rounded: fewer than 23 kept bits).
    pub input_artefacts: Option<Artefacts>,
    /// Compressed bytes of the input's values, measured like the sweep's sizes.
    pub input_bytes: Option<u64>,
    /// The bitwise real information of the input's values ([`crate::information`]).
    pub information: Option<BranchInformation>,
}

/// The bitwise real information of a branch's values, with its neighbour stated: the next
/// object of the same event for a jagged branch, the next event for a flat one (independent
/// events: a control, whose surviving bits are false positives).
#[derive(Serialize, Debug, Clone)]
pub struct BranchInformation {
    /// `next object` or `next event (control)`.
    pub neighbour: &'static str,
    pub pairs: usize,
    /// Information over all bits, and over the mantissa bits, in bits per value.
    pub total: f64,
    pub mantissa: f64,
    /// Klöwer's rule: the kept mantissa bits holding 99 % of the information.
    pub kept_bits_99: Option<u32>,
    /// The information of the input's last kept mantissa bit (bits per value, 0 below the
    /// significance filter): whether the lowest kept bit still carries information.
    pub last_kept_bit: Option<f64>,
    /// Per bit position: 0 sign, 1–8 exponent, 9–31 mantissa.
    pub bits: Vec<f64>,
}

impl BranchInformation {
    fn of(values: &[f32], offsets: Option<&[usize]>, input_bits: Option<u32>) -> Result<Self> {
        use crate::information::{bitwise_information, Neighbour, F32_SIGN_EXPONENT_BITS};
        let (neighbour, name) = match offsets {
            Some(_) => (Neighbour::NextObject, "next object"),
            None => (Neighbour::NextEvent, "next event (control)"),
        };
        let info = bitwise_information(values, offsets, neighbour)?;
        Ok(BranchInformation {
            neighbour: name,
            pairs: info.pairs,
            total: info.total(),
            mantissa: info.mantissa(),
            kept_bits_99: info.kept_mantissa_bits_for(0.99).ok(),
            last_kept_bit: input_bits
                .filter(|&b| b > 0)
                .map(|b| info.bits[F32_SIGN_EXPONENT_BITS + b as usize - 1]),
            bits: info.bits.to_vec(),
        })
    }
}

/// What [`advise_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct AdviceReport {
    pub input: PathBuf,
    pub tree: String,
    pub entries: u64,
    /// The compression the sizes were measured with (the input's).
    pub compression: String,
    pub options: AdviseOptions,
    pub branches: Vec<AdvisedBranch>,
    /// Branches that could not be swept (e.g. fewer than 2 finite values), with the reason.
    pub not_swept: Vec<Skipped>,
    /// Float-like branches outside the selection's reach, with the reason.
    pub skipped: Vec<Skipped>,
}

impl AdviceReport {
    /// The report as JSON: what `refloat advise --json` writes, and what
    /// [`advised_bits`] reads back (`branches[].name`, `branches[].recommended_bits`).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::InvalidInput(format!("advice as JSON: {e}")))
    }

    /// Writes [`Self::to_json`] to `path`, atomically (beside it, then renamed).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = self.to_json()?;
        let pending = PendingOutput::beside(path)?;
        std::fs::write(pending.path(), json).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        pending.commit().map(|_| ())
    }
}

/// Per-branch kept bits from an advice's JSON ([`AdviceReport::to_json`]): one exact-name
/// rule per branch, its `recommended_bits`, for [`CompressOptions::bits`].
///
/// # Errors
/// [`Error::InvalidInput`] for text that is not such JSON, naming what is missing.
pub fn advised_bits(json: &str) -> Result<Vec<(BranchPattern, u32)>> {
    let bad = |why: String| Error::InvalidInput(format!("advice JSON: {why}"));
    let advice: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("not JSON ({e})")))?;
    let branches = advice["branches"]
        .as_array()
        .ok_or_else(|| bad("no 'branches' list (expected the JSON of refloat advise)".into()))?;
    branches
        .iter()
        .enumerate()
        .map(
            |(i, b)| match (b["name"].as_str(), b["recommended_bits"].as_u64()) {
                (Some(name), Some(bits)) if bits <= 23 => {
                    Ok((BranchPattern::Exact(name.to_string()), bits as u32))
                }
                _ => Err(bad(format!(
                    "branch {i} lacks a 'name' or 'recommended_bits' in 0..=23"
                ))),
            },
        )
        .collect()
}

/// The bytes of `values` compressed basket by basket: `blocks` are the baskets' value counts.
fn recompressed_bytes(values: &[f32], blocks: &[usize], compression: Compression) -> Result<u64> {
    let mut total = 0u64;
    let mut at = 0usize;
    for &n in blocks {
        let bytes: Vec<u8> = values[at..at + n]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        at += n;
        total += compression.compressed_len(bytes)? as u64;
    }
    Ok(total)
}

/// Sweeps every selected float branch of `input` over kept bits (see [`crate::advise`]):
/// the input's values are the originals (for an input already rounded, such as NanoAOD,
/// its stored values stand in for them).
///
/// # Errors
/// File, tree and selection errors; [`Error::InvalidArgument`] for unusable options.
pub fn advise_file(
    input: &Path,
    opts: &AdviseFileOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<AdviceReport> {
    use rayon::prelude::*;
    let loaded = load(input, &opts.select)?;
    let compression = Compression::from_root_setting(loaded.file.compression())?;
    let infos = &loaded.selection.floats;
    // Read (serial: one file), then sweep the branches in parallel.
    let mut read = Vec::with_capacity(infos.len());
    let mut bar = StageReporter::start(Stage::Reading, infos.len(), progress);
    for info in infos {
        bar.branch(&info.name);
        // The baskets' value counts (for their recompressed sizes) and the entry structure
        // (for the information's neighbours), in one read.
        let (branch, blocks) = loaded.tree.read_float_baskets(&info.name)?;
        read.push((info, branch.values, blocks, branch.offsets));
    }
    bar.finish();
    // In parallel, a few branches at a time (the progress callback stays on this thread).
    type Read<'a> = (&'a BranchInfo, Vec<f32>, Vec<usize>, Option<Vec<usize>>);
    let sweep_one = |(info, values, blocks, offsets): &Read<'_>| -> std::result::Result<AdvisedBranch, Skipped> {
            let resolution = opts
                .resolutions
                .iter()
                .find(|(p, _)| p.matches(&info.name))
                .map(|(_, r)| *r);
            let not_swept = |e: Error| Skipped {
                name: info.name.clone(),
                type_name: info.type_name.clone(),
                reason: e.to_string(),
            };
            let mut size = |v: &[f32]| recompressed_bytes(v, blocks, compression);
            let advice = sweep_branch(
                &info.name,
                values,
                resolution,
                &opts.advise,
                if opts.measure_sizes { Some(&mut size) } else { None },
            )
            .map_err(not_swept)?;
            let input = crate::detect::detect_f32(values);
            let input_artefacts = match input.bits {
                Some(bits) if bits < 23 => {
                    let mode = input.mode.unwrap_or(opts.advise.mode);
                    let q = Quantiser32::new(bits, mode).map_err(not_swept)?;
                    Some(
                        crate::advise::artefacts_of_stored(
                            values,
                            &q,
                            &ExactPolicy::default(),
                            &opts.advise.artefacts,
                        )
                        .map_err(not_swept)?,
                    )
                }
                _ => None,
            };
            let input_bytes = if opts.measure_sizes {
                Some(recompressed_bytes(values, blocks, compression).map_err(not_swept)?)
            } else {
                None
            };
            let information = BranchInformation::of(values, offsets.as_deref(), input.bits).ok();
            Ok(AdvisedBranch {
                advice,
                layout: info.float_layout().unwrap_or(FloatLayout::Flat),
                input,
                input_artefacts,
                input_bytes,
                information,
            })
    };
    let mut bar = StageReporter::start(Stage::Sweeping, read.len(), progress);
    let mut results = Vec::with_capacity(read.len());
    for chunk in read.chunks(4 * rayon::current_num_threads().max(1)) {
        for (info, ..) in chunk {
            bar.branch(&info.name);
        }
        results.extend(chunk.par_iter().map(sweep_one).collect::<Vec<_>>());
    }
    bar.finish();
    let (mut branches, mut not_swept) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(b) => branches.push(b),
            Err(s) => not_swept.push(s),
        }
    }
    Ok(AdviceReport {
        input: input.to_path_buf(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        compression: compression.to_string(),
        options: opts.advise,
        branches,
        not_swept,
        skipped: loaded.selection.skipped.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// replicas

/// Options of [`replica_spread_file`] and [`replica_coverage_file`].
#[derive(Clone, Debug)]
pub struct ReplicaOptions {
    pub select: Select,
    /// Kept mantissa bits of the stored file; `None`: detected per branch (per value where it
    /// mixes precisions), as [`correct_file`] does.
    pub bits: Option<u32>,
    /// The rounding of the stored file; `None`: detected per branch, else the format's, as
    /// [`correct_file`] does.
    pub mode: Option<RoundingMode>,
    /// Number of replicas (at least 1).
    pub replicas: u32,
    /// The user's seed: replica `r` is `correct_file` with `dither:<replica_seed(seed, r)>`.
    pub seed: u64,
    /// The histogram binning of each branch.
    pub binning: Binning,
}

impl Default for ReplicaOptions {
    /// Every float branch, detected rounding, 50 replicas, seed 0, [`Binning::default`].
    fn default() -> Self {
        ReplicaOptions {
            select: Select::default(),
            bits: None,
            mode: None,
            replicas: 50,
            seed: 0,
            binning: Binning::default(),
        }
    }
}

/// The replicas of one stored branch of a file, drawn as [`correct_file`] corrects it: the
/// branch's resolution (bits, scheme, per-value precisions, exact values), the same checks.
/// Replica `r` is the branch of
/// `correct_file(.., Method::Dither { seed: replica_seed(seed, r) }, ..)`, bit for bit.
pub struct FileBranchReplicas(ResolvedReplicas);

impl FileBranchReplicas {
    /// The kept bits the replicas are drawn under (`None`: not known, copied as stored).
    pub fn mantissa_bits(&self) -> Option<u32> {
        self.0.resolution().bits
    }

    /// The rounding the replicas are drawn under.
    pub fn mode(&self) -> RoundingMode {
        self.0.resolution().mode
    }

    /// Why the branch's replicas may not move (bits not known, full precision).
    pub fn note(&self) -> Option<&str> {
        self.0.resolution().note.as_deref()
    }

    /// How the branch was resolved.
    pub fn resolution(&self) -> &Resolution {
        self.0.resolution()
    }
}

impl ReplicaSource for FileBranchReplicas {
    fn replica_into(&self, stored: &[f32], replica: u32, out: &mut [f32]) -> Result<()> {
        self.0.replica_into(stored, replica, out)
    }
}

/// A stored branch read whole, and its replicas.
pub struct ReplicaBranch {
    pub stored: FloatBranch,
    pub replicas: FileBranchReplicas,
}

/// Reads the selected float branches of the stored file `path` whole, each with its
/// replicas under `seed` (rounding as given in `opts`, else detected as [`correct_file`]
/// does). Returns the tree's name and the branches.
pub fn read_replica_branches(
    path: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<(String, Vec<ReplicaBranch>)> {
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode.unwrap_or_default())?;
    }
    let loaded = load(path, &opts.select)?;
    let floats = &loaded.selection.floats;
    let resolved = resolve_branches(
        &loaded.tree,
        floats,
        Format::of_tree(loaded.tree.name()),
        &Given {
            bits: opts.bits,
            mode: opts.mode,
            leave_exact: true,
        },
        false,
        progress,
    )?;
    let mut bar = StageReporter::start(Stage::Reading, floats.len(), progress);
    let mut out = Vec::with_capacity(floats.len());
    for (info, (resolution, _)) in floats.iter().zip(resolved) {
        bar.branch(&info.name);
        out.push(ReplicaBranch {
            stored: loaded.tree.read_float(&info.name)?,
            replicas: FileBranchReplicas(ResolvedReplicas::new(resolution, opts.seed, &info.name)),
        });
    }
    bar.finish();
    Ok((loaded.tree.name().to_string(), out))
}

/// What rounding can do to one branch ([`replica_spread_file`]).
#[derive(Serialize, Debug, Clone)]
pub struct BranchReplicaSpread {
    pub name: String,
    pub values: usize,
    /// Kept bits the replicas were drawn under (`None`: not inferable, copied as stored).
    pub mantissa_bits: Option<u32>,
    pub mode: RoundingMode,
    /// Histogram, mean and standard deviation over the replicas; `None` when the branch has
    /// no range to bin (no finite value, or all equal).
    pub spread: Option<BranchSpread>,
    pub note: Option<String>,
}

/// What [`replica_spread_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct ReplicaReport {
    pub input: PathBuf,
    pub tree: String,
    pub replicas: u32,
    pub seed: u64,
    pub binning: Binning,
    pub branches: Vec<BranchReplicaSpread>,
}

/// For each selected float branch of the stored file `path`: the spread over `opts.replicas`
/// rounding replicas of its histogram (on `opts.binning`), mean and standard deviation.
/// Replica `r` of a branch is what `refloat correct --method dither:<replica_seed(seed, r)>`
/// writes for it; memory holds one branch and one replica at a time besides the stored
/// values.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero replicas or a bad binning; file errors naming the file.
pub fn replica_spread_file(
    path: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<ReplicaReport> {
    if opts.replicas == 0 {
        return Err(Error::InvalidArgument(
            "the number of replicas must be at least 1 (got 0)".into(),
        ));
    }
    let (tree, branches) = read_replica_branches(path, opts, progress)?;
    let mut out = Vec::with_capacity(branches.len());
    for b in branches {
        let values = &b.stored.values;
        let spread = match opts.binning.edges_for(values)? {
            Some(edges) => Some(branch_spread(values, &edges, opts.replicas, &b.replicas)?),
            None => None,
        };
        out.push(BranchReplicaSpread {
            name: b.stored.name.clone(),
            values: values.len(),
            mantissa_bits: b.replicas.mantissa_bits(),
            mode: b.replicas.mode(),
            note: match (&spread, b.replicas.note()) {
                (None, _) => Some("no range to bin (no finite value, or all equal)".into()),
                (_, n) => n.map(str::to_string),
            },
            spread,
        });
    }
    Ok(ReplicaReport {
        input: path.to_path_buf(),
        tree,
        replicas: opts.replicas,
        seed: opts.seed,
        binning: opts.binning.clone(),
        branches: out,
    })
}

/// What [`replica_coverage_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct CoverageReport {
    pub original: PathBuf,
    pub stored: PathBuf,
    pub replicas: u32,
    pub seed: u64,
    pub binning: Binning,
    /// Per branch with a range to bin.
    pub branches: Vec<(String, Coverage)>,
    /// Over all branches and bins.
    pub total: Coverage,
}

/// Validation where the originals are known: for each selected float branch of the stored
/// file `stored` (a compression of `original`), how often the original histogram lies inside
/// the replicas' mean ± 1σ and ± 2σ ([`crate::replicas::coverage`]), binned on
/// `opts.binning` of the stored values.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero replicas; [`Error::InvalidInput`] if a branch's
/// structure differs between the files; file errors naming the file.
pub fn replica_coverage_file(
    original: &Path,
    stored: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<CoverageReport> {
    if opts.replicas == 0 {
        return Err(Error::InvalidArgument(
            "the number of replicas must be at least 1 (got 0)".into(),
        ));
    }
    let (tree, branches) = read_replica_branches(stored, opts, progress)?;
    let mut orig_file = io::open(original)?;
    let orig_tree = orig_file.tree_or_default(Some(&tree))?;
    let mut per_branch = Vec::with_capacity(branches.len());
    let mut total = Coverage::default();
    for b in branches {
        let o = orig_tree.read_float(&b.stored.name)?;
        if let Some(why) = o.structure_mismatch(&b.stored) {
            return Err(Error::InvalidInput(format!(
                "{} vs {}: tree '{tree}': branch '{}': {why}",
                original.display(),
                stored.display(),
                b.stored.name
            )));
        }
        let Some(edges) = opts.binning.edges_for(&b.stored.values)? else {
            continue;
        };
        let c = coverage(
            &o.values,
            &b.stored.values,
            &edges,
            opts.replicas,
            &b.replicas,
        )?;
        total = total + c;
        per_branch.push((b.stored.name.clone(), c));
    }
    Ok(CoverageReport {
        original: original.to_path_buf(),
        stored: stored.to_path_buf(),
        replicas: opts.replicas,
        seed: opts.seed,
        binning: opts.binning.clone(),
        branches: per_branch,
        total,
    })
}
