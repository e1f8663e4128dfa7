//! [`verify_file`](super::verify_file): every value of a corrected file re-quantises to the stored
//! file's, bit for bit.

use super::*;

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
pub(super) fn verify_branches(
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
