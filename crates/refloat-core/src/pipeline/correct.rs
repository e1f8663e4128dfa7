//! [`correct_file`](super::correct_file): a drop-in copy with every stored value corrected inside
//! its interval, verified as it is written.

use super::*;

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
    /// Threads that decompress and compress baskets ([`RewriteOptions::threads`]: 0, the
    /// default, every core); the output is the same bytes whatever the count.
    pub threads: usize,
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
            threads: 0,
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
pub(super) enum Action {
    /// Leave as stored (bits not known); its baskets are copied byte for byte.
    Copy,
    /// Correct each basket with the branch's corrector (per value in a mixed branch).
    Correct(BranchCorrector),
    /// Replace by these values (a joint correction's output for the whole branch).
    Replace(Vec<f32>),
}

pub(super) struct Plan {
    pub(super) summary: CorrectedBranch,
    pub(super) check: Check,
    action: Action,
}

/// How the written values of a branch are checked.
#[derive(Clone, Debug)]
pub(super) enum Check {
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
    pub(super) fn holds(
        &self,
        corrected: &[f32],
        stored: &[f32],
    ) -> std::result::Result<(), String> {
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
pub(super) struct StreamSample {
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
pub(super) fn resolve_branches(
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
    // An ATLAS stream's levels come from every float branch of the tree, selected or not, so
    // that a branch resolves the same alone as with all the others (an evidence pass over the
    // branches left out of the selection).
    let mut rest = Vec::new();
    if format == Format::Atlas {
        for info in tree
            .branches()
            .iter()
            .filter(|b| b.float_layout().is_some() && !floats.iter().any(|f| f.name == b.name))
        {
            let mut e = Evidence::new();
            tree.for_each_float_values(&info.name, |v| e.add(v))?;
            rest.push((e.finish(given.leave_exact, format), given.clone()));
        }
    }
    Ok(resolve_tree_within(format, evidence, &rest)
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
pub(super) fn layout_of(info: &BranchInfo) -> FloatLayout {
    info.float_layout().unwrap_or(FloatLayout::Flat)
}

/// The plan of one branch from its resolution: correct it with `method`, or copy it.
pub(super) fn plan_method(
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
pub(super) fn plan_joint(
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
            threads: opts.threads,
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
