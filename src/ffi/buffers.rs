//! Buffers and branches through the one resolver ([`crate::resolve`]), for the C API and the
//! cxx bridge alike: both hand a request in the same shape, both get the same resolution and
//! the same corrected bits as the file pipeline. No semantics of their own.

use std::path::Path;

use super::options::{refloat_rounding, rounding_mode, RoundingArg};
use super::FfiError;
use crate::correct::{BranchPosition, CorrectionReport, Method};
use crate::pipeline::{resolve_file, Select};
use crate::resolve::{correct_resolving_f32, resolve_named_f32, Format, Given, Resolution};

/// `REFLOAT_DETECT` as requests carry it.
const DETECT: u32 = refloat_rounding::REFLOAT_DETECT as u32;

/// What a front door asks of the resolver.
#[derive(Clone, Debug)]
pub(crate) struct ResolveRequest<'a> {
    /// Kept bits; `None`: resolved.
    pub bits: Option<u32>,
    /// A `refloat_rounding`; `REFLOAT_DETECT`: resolved.
    pub mode: RoundingArg,
    /// The format whose producer's defaults apply; `None`: the tree's for a file, unknown
    /// for a buffer.
    pub format: Option<Format>,
    /// The branch the buffer belongs to (its declared precision; the dither seeding rule).
    pub branch: &'a str,
    /// Leave values exact by nature alone.
    pub leave_exact: bool,
}

impl ResolveRequest<'_> {
    fn given(&self) -> Result<Given, FfiError> {
        if let Some(b) = self.bits {
            crate::Quantiser32::new(b, crate::RoundingMode::Nearest)?;
        }
        Ok(Given {
            bits: self.bits,
            mode: match self.mode {
                DETECT => None,
                m => Some(rounding_mode(m)?),
            },
            leave_exact: self.leave_exact,
        })
    }
}

/// The format named by a front door (`NULL`/"" → `None`).
pub(crate) fn format_arg(name: Option<&str>) -> Result<Option<Format>, FfiError> {
    match name {
        None | Some("") => Ok(None),
        Some(s) => Ok(Some(Format::parse(s)?)),
    }
}

/// The resolution of a buffer on its own (a whole branch, or a piece of one).
pub(crate) fn resolve_buffer(
    data: &[f32],
    req: &ResolveRequest<'_>,
) -> Result<Resolution, FfiError> {
    Ok(resolve_named_f32(
        data,
        &req.given()?,
        req.format.unwrap_or_default(),
        req.branch,
    ))
}

/// The resolution of branch `branch` of `path` (tree `tree`, `None`: the analysis tree), as
/// the file pipeline resolves it.
pub(crate) fn resolve_branch(
    path: &Path,
    tree: Option<&str>,
    req: &ResolveRequest<'_>,
) -> Result<Resolution, FfiError> {
    if req.branch.is_empty() {
        return Err(FfiError::invalid_argument(
            "branch is empty: name the branch to resolve",
        ));
    }
    let select = Select {
        tree: tree.filter(|t| !t.is_empty()).map(String::from),
        branches: vec![req.branch.to_string()],
    };
    let (_, mut resolved) = resolve_file(path, &select, &req.given()?, req.format)?;
    match resolved.len() {
        1 => Ok(resolved.remove(0).1),
        n => Err(FfiError::invalid_argument(format!(
            "branch '{}' of {} matches {n} float branches: name exactly one",
            req.branch,
            path.display()
        ))),
    }
}

/// Correct `data` (a piece of branch `branch` starting at value `first_index` of it) under
/// `resolution` with `method` (dither seeded by the user's seed, mixed with `branch` under
/// the one seeding rule). A branch the resolution leaves as stored is left untouched (its
/// non-finite values counted). `data` is untouched on error.
pub(crate) fn correct_buffer(
    data: &mut [f32],
    resolution: &Resolution,
    method: Method,
    branch: &str,
    first_index: u64,
) -> Result<CorrectionReport, FfiError> {
    match resolution.corrector(method, branch, data)? {
        Some(c) => Ok(c.correct_in_place(data, first_index)?),
        None => Ok(CorrectionReport {
            non_finite: data.iter().filter(|x| !x.is_finite()).count(),
            ..CorrectionReport::default()
        }),
    }
}

/// The resolver then the correction ([`crate::resolve::correct_resolving_f32`]): what every
/// buffer correction of the C API and the bridge does when it is not handed a resolution.
pub(crate) fn correct_resolving(
    data: &mut [f32],
    req: &ResolveRequest<'_>,
    method: Method,
    first_index: u64,
) -> Result<CorrectionReport, FfiError> {
    let at = BranchPosition {
        branch: req.branch,
        first_index,
    };
    let (_, report) = correct_resolving_f32(
        data,
        &req.given()?,
        req.format.unwrap_or_default(),
        method,
        at,
    )?;
    Ok(report)
}
