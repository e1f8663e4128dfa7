//! File pipelines, one module each: what the `refloat` command, the C API (`refloat_compress_file`,
//! `refloat_correct_file`), the C++ headers, the cxx bridge and the Python package all call.
//!
//! * [`compress_file`]: a drop-in copy of a ROOT file with the selected float branches
//!   rounded (an (original, stored) pair), and its size table.
//! * [`correct_file`]: a drop-in copy with each stored value replaced by an estimate of its
//!   original inside its interval, every value verified as it is written (against its
//!   stored value, and read back from the bytes written).
//! * [`verify_file`]: checks that every value of a corrected file re-quantises to the value of
//!   the stored file, bit for bit.
//! * [`analyse_file`]: an original file against its rounded or corrected twin: residuals
//!   against the bound and the interval, residual steps, distribution-shift metrics.
//! * [`inspect_file`]: trees, branches, and how each float branch was rounded.
//! * [`advise_file`]: the kept-bit sweep of every selected branch and the bits each needs
//!   ([`crate::advise`]), with the compressed size of each rounded branch.
//! * [`run_dataset`]: any of them over many files into a directory, one report per file.
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
//! For tests only: the environment variable [`FAULT_ENV`] makes a step fail
//! on purpose, so that the checks and the no-partial-output path can be exercised on real
//! data, where the real checks pass.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::advise::{sweep_branch, AdviseOptions, Artefacts, BranchAdvice};
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
use crate::resolve::{
    resolve_tree_within, BranchCorrector, Evidence, Format, Given, Resolution, Source,
};

pub use crate::error::{fault_injected, FAULT_ENV};

/// Entries per chunk when a branch is streamed (the first pass and the verification).
const CHUNK_ENTRIES: usize = 1 << 12;

/// Points of the sample a branch's prior-mean density is estimated from, at most twice this
/// (memory stays bounded on large branches; smaller branches use every value).
const PRIOR_SAMPLE: usize = 1 << 14;

/// Writes `report` as pretty JSON to `path` atomically (beside it, then renamed), as every
/// pipeline's `write_json` does: for the reports that have none (inspect, verify, datasets).
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::InvalidInput`] for a report JSON cannot hold.
pub fn write_report<T: Serialize>(path: &Path, report: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::InvalidInput(format!("{}: report: {e}", path.display())))?;
    write_json_atomically(path, json)
}

/// Writes a report's JSON to `path` atomically (beside it, then renamed): what every
/// pipeline's `write_json` does.
///
/// # Errors
/// [`Error::Io`] naming the path.
pub(crate) fn write_json_atomically(path: &Path, json: String) -> Result<()> {
    let pending = PendingOutput::beside(path)?;
    std::fs::write(pending.path(), json).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    pending.commit().map(|_| ())
}

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

mod advise;
mod analyse;
mod compress;
mod correct;
mod dataset;
mod inspect;
mod replicas;
mod verify;

pub use advise::*;
pub use analyse::*;
pub use compress::*;
pub use correct::*;
pub use dataset::*;
pub use inspect::*;
pub use replicas::*;
pub use verify::*;
