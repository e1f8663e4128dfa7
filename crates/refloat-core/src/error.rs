//! The library's one error type.
//!
//! Every fallible public function returns [`Result<T>`]. Messages name what was wrong
//! (the file, tree, branch, index or argument) so a front door can print them as they are.

use std::path::PathBuf;

/// Environment variable naming a step that fails on purpose, for tests of what a failure
/// leaves behind: `verify` (after [`correct_file`](crate::pipeline::correct_file) checked
/// everything), `invariant` (a corrected value moved out of its interval), `written` (a
/// rewritten basket's bytes damaged before they are checked), `sizes` (in
/// [`compress_file`](crate::pipeline::compress_file)). For tests only.
pub const FAULT_ENV: &str = "REFLOAT_FAULT_INJECT";

/// Whether [`FAULT_ENV`] asks step `step` to fail.
pub fn fault_injected(step: &str) -> bool {
    std::env::var(FAULT_ENV).is_ok_and(|v| v == step)
}

/// Everything that can go wrong in refloat.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kept-mantissa-bit count outside `0..=max` (23 for `f32`, 52 for `f64`).
    #[error("mantissa bits {bits} out of range: {ty} keeps 0..={max} explicit mantissa bits")]
    MantissaBitsOutOfRange {
        /// The kept-bit count asked for.
        bits: u32,
        /// The largest allowed: the type's explicit mantissa bits.
        max: u32,
        /// The float type, `"f32"` or `"f64"`.
        ty: &'static str,
    },

    /// Two buffers that must have the same length do not.
    #[error("length mismatch: {what} ({left} vs {right})")]
    LengthMismatch {
        what: String,
        left: usize,
        right: usize,
    },

    /// A value that should be a stored (already quantised) value is not a fixed point of
    /// the quantiser: its low mantissa bits are not zero.
    #[error("value {value:e} at index {index} is not a stored value at {mantissa_bits} kept mantissa bits ({mode}): its dropped mantissa bits are not zero")]
    NotQuantised {
        index: usize,
        value: f64,
        mantissa_bits: u32,
        mode: &'static str,
    },

    /// The kept mantissa bits of a buffer could not be inferred (e.g. empty, or only
    /// zeros / non-finite values).
    #[error("cannot infer the kept mantissa bits: {0}")]
    CannotInferBits(String),

    /// An argument that is not acceptable (the message says which and why).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// An input value that the operation cannot handle (e.g. NaN where a number is needed).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A ROOT file problem: the message names the file and, where known, tree and branch.
    #[error("{path}: {message}")]
    Root { path: PathBuf, message: String },

    /// A branch that was asked for is not in the tree.
    #[error("{path}: tree '{tree}' has no branch '{branch}'")]
    MissingBranch {
        path: PathBuf,
        tree: String,
        branch: String,
    },

    /// A tree that was asked for is not in the file.
    #[error("{path}: no tree '{tree}'")]
    MissingTree { path: PathBuf, tree: String },

    /// A learned-model problem (loading, metadata mismatch, inference).
    #[error("model: {0}")]
    Model(String),

    /// An operating-system I/O error, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with refloat's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// [`Error::LengthMismatch`] unless `left == right` (`what` names the two buffers).
pub(crate) fn check_len(what: &str, left: usize, right: usize) -> Result<()> {
    if left != right {
        return Err(Error::LengthMismatch {
            what: what.into(),
            left,
            right,
        });
    }
    Ok(())
}
