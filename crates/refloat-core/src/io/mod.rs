//! ROOT file input and output, with oxyroot (vendored at `third_party/oxyroot`).
//!
//! * [`open`] a file, list its trees ([`RootFile::tree_names`]) and open one
//!   ([`RootFile::tree`]); a [`Tree`] lists every branch with its C++ type and what refloat
//!   can do with it ([`BranchInfo`], [`BranchKind`]).
//! * [`Tree::select`] picks float branches by exact name or glob ([`BranchPattern`]) and
//!   says which matched branches are skipped and why.
//! * [`Tree::read_float`] reads a flat `float` or jagged `std::vector<float>` branch into a
//!   [`FloatBranch`]; [`Tree::read_float_chunks`] reads it a chunk of entries at a time.
//! * [`rewrite::rewrite_floats`] writes a drop-in copy of a file whose selected float
//!   branches pass through a callback one basket at a time (what `refloat compress` and
//!   `refloat correct` use): every other branch and object is copied as stored.
//! * [`TreeWriter`] writes float branches (jagged structure preserved) to a new file,
//!   atomically: a temporary file beside the target, renamed only on success.
//! * [`PendingOutput`] does the same for any writer whose output must be checked before it
//!   replaces the target (`refloat correct` verifies the invariant on the temporary file).
//!
//! oxyroot panics on some inputs; every call into it is guarded and a panic becomes an
//! [`Error::Root`](crate::Error::Root) naming the file, tree and branch. Errors never leave
//! a partial output file.
//!
//! ```
//! # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
//! #     .join("../shared/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root");
//! # if !path.exists() { return Ok(()); }
//! use refloat_core::io::{self, BranchPattern};
//! let mut file = io::open(&path)?;
//! let tree = file.tree("CollectionTree")?;
//! let sel = tree.select(&[BranchPattern::parse("AnalysisElectronsAuxDyn.*")?])?;
//! let pt = tree.read_float("AnalysisElectronsAuxDyn.pt")?;
//! assert_eq!(pt.entries() as u64, tree.entries());
//! assert!(sel.floats.iter().any(|b| b.name == "AnalysisElectronsAuxDyn.pt"));
//! # Ok::<(), refloat_core::Error>(())
//! ```

mod branch;
mod guard;
mod read;
pub mod rewrite;
mod select;
pub mod sizes;
mod write;

pub use branch::{FloatBranch, FloatLayout};
pub use read::{
    choose_analysis_tree, open, BranchInfo, BranchKind, FloatChunk, FloatChunks, RootFile,
    Selection, Skipped, Tree, ATLAS_TREE, CMS_TREE,
};
pub use select::{parse_patterns, BranchPattern};
pub use write::{temp_file_beside, PendingOutput, TreeWriter, Written};
