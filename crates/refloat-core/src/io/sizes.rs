//! The size table of the seed study (`ATLAS_COMPRESSION.md`): how many bytes each data type takes
//! in a file, before and after a rewrite, and what the whole file saves.
//!
//! Sizes are what the file stores on disk for a tree's baskets: for each branch the sum of
//! its baskets' `fNbytes` (key header plus stored, usually compressed, payload), from
//! the reader ([`super::Tree`]). Branches are classified as the reader classifies them
//! ([`BranchKind`], [`DataType`]); a branch with sub-branches counts only its own baskets (usually none)
//! under "others" and is not counted as a branch itself, its sub-branches are. Everything
//! that is not a basket of the tree (tree headers, streamer infos, other trees and objects,
//! key lists) is the "metadata" row, so that the rows add up to the file size.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{BranchKind, FloatLayout};
use crate::error::{Error, Result};

/// What a branch holds, for the size table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataType {
    /// One `float` per entry.
    Float32,
    /// `std::vector<float>` (also a counted `float[n]` array).
    VectorFloat,
    /// Any other branch (integers, doubles, `vector<vector<float>>`, objects, links, ...).
    Other,
}

impl DataType {
    /// All data types, in table order.
    pub const ALL: [DataType; 3] = [DataType::Float32, DataType::VectorFloat, DataType::Other];

    /// Name in the table: `float32`, `vector<float>`, `others`.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Float32 => "float32",
            DataType::VectorFloat => "vector<float>",
            DataType::Other => "others",
        }
    }

    /// The size table's type of a branch, from the reader's classification
    /// ([`BranchKind`]); `None` for a container (its members are counted themselves).
    fn of(kind: &BranchKind) -> Option<DataType> {
        match kind {
            BranchKind::Float(FloatLayout::Flat) => Some(DataType::Float32),
            BranchKind::Float(FloatLayout::Jagged) => Some(DataType::VectorFloat),
            BranchKind::Container => None,
            BranchKind::Other | BranchKind::Unreadable(_) => Some(DataType::Other),
        }
    }
}

/// Branch count and on-disk bytes of one data type in one tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TypeBytes {
    /// Number of data-holding branches (branches without sub-branches).
    pub branches: usize,
    /// Bytes on disk of their baskets (key headers included).
    pub bytes: u64,
    /// Bytes of their baskets once decompressed (key headers included).
    pub uncompressed_bytes: u64,
}

/// How one tree of one file divides into data types.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TreeSizes {
    /// The file.
    pub path: PathBuf,
    /// The tree.
    pub tree: String,
    /// Size of the whole file in bytes.
    pub file_bytes: u64,
    /// Per data type, in the order of [`DataType::ALL`].
    pub types: [TypeBytes; 3],
}

impl TreeSizes {
    /// Measures the baskets of every branch of `tree` in the ROOT file `path`.
    ///
    /// ```
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    /// #     .join("../shared/data/PHYSLITE_example.root");
    /// # if !path.exists() { return Ok(()); }
    /// use refloat_core::io::sizes::{DataType, TreeSizes};
    /// let s = TreeSizes::measure(&path, "CollectionTree")?;
    /// assert_eq!(s.get(DataType::Float32).branches, 19);
    /// assert!(s.baskets_bytes() < s.file_bytes);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::MissingTree`] if it has no such
    /// tree, [`Error::Root`] for anything oxyroot cannot read (the message names the branch).
    pub fn measure(path: &Path, tree: &str) -> Result<TreeSizes> {
        let mut file = super::open(path)?;
        let file_bytes = file.size_bytes();
        let t = file.tree(tree)?;
        let mut types = [TypeBytes::default(); 3];
        for b in t.branches() {
            let (compressed, uncompressed) = t.basket_bytes(&b.name)?;
            // a container's own baskets (if any) count as "others"; its members count themselves
            let (kind, data) = match DataType::of(&b.kind) {
                Some(kind) => (kind, true),
                None => (DataType::Other, false),
            };
            let row = &mut types[kind as usize];
            row.branches += usize::from(data);
            row.bytes += compressed;
            row.uncompressed_bytes += uncompressed;
        }
        Ok(TreeSizes {
            path: path.to_path_buf(),
            tree: tree.to_string(),
            file_bytes,
            types,
        })
    }

    /// The row of one data type.
    pub fn get(&self, t: DataType) -> TypeBytes {
        self.types[t as usize]
    }

    /// Bytes of all the tree's baskets.
    pub fn baskets_bytes(&self) -> u64 {
        self.types.iter().map(|t| t.bytes).sum()
    }

    /// Bytes of the file that are not baskets of the tree (tree headers, streamer infos,
    /// other trees and objects, directory records).
    pub fn metadata_bytes(&self) -> u64 {
        self.file_bytes.saturating_sub(self.baskets_bytes())
    }

    /// Number of data-holding branches.
    pub fn branches(&self) -> usize {
        self.types.iter().map(|t| t.branches).sum()
    }
}

/// The seed study's size table for one file: each data type's branch count and on-disk size before
/// and after a rewrite, its share of the file, and the total saving.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SizeTable {
    /// The input file, measured.
    pub before: TreeSizes,
    /// The rewritten file, measured.
    pub after: TreeSizes,
}

impl SizeTable {
    /// Measures `tree` in `before` (the input) and `after` (its rewrite).
    ///
    /// # Errors
    /// As [`TreeSizes::measure`]; [`Error::InvalidInput`] if the two trees do not have the
    /// same number of branches of each data type (then `after` is not a rewrite of `before`).
    pub fn measure(before: &Path, after: &Path, tree: &str) -> Result<SizeTable> {
        let table = SizeTable {
            before: TreeSizes::measure(before, tree)?,
            after: TreeSizes::measure(after, tree)?,
        };
        for t in DataType::ALL {
            let (b, a) = (table.before.get(t).branches, table.after.get(t).branches);
            if a != b {
                return Err(Error::InvalidInput(format!(
                    "{} is not a rewrite of {}: tree '{tree}' has {a} {} branches instead of {b}",
                    after.display(),
                    before.display(),
                    t.name()
                )));
            }
        }
        Ok(table)
    }

    /// Fraction of the input file's size saved, `1 − after/before` (negative if it grew).
    pub fn saving(&self) -> f64 {
        1.0 - self.after.file_bytes as f64 / self.before.file_bytes as f64
    }
}

/// The byte columns of one row: size before and its share of the input file, size after and
/// its share of the output file (MB = 10^6 bytes), and the saving.
struct ByteCells {
    before: String,
    before_share: f64,
    after: String,
    after_share: f64,
    saving: String,
}

impl SizeTable {
    fn byte_cells(&self, before: u64, after: u64) -> ByteCells {
        ByteCells {
            before: mb(before),
            before_share: percent(before, self.before.file_bytes),
            after: mb(after),
            after_share: percent(after, self.after.file_bytes),
            saving: saving_percent(before, after),
        }
    }

    /// The table as Markdown (MB = 10^6 bytes; shares are of the whole file).
    pub fn markdown(&self) -> String {
        let (b, a) = (&self.before, &self.after);
        let nb = b.branches() as u64;
        let mut s = String::from(
            "| data type | branches | share of branches | before (MB) | share | after (MB) | share | saving |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for t in DataType::ALL {
            let (rb, ra) = (b.get(t), a.get(t));
            let c = self.byte_cells(rb.bytes, ra.bytes);
            s += &format!(
                "| {} | {} | {:.1}% | {} | {:.1}% | {} | {:.1}% | {} |\n",
                t.name(),
                rb.branches,
                percent(rb.branches as u64, nb),
                c.before,
                c.before_share,
                c.after,
                c.after_share,
                c.saving
            );
        }
        let c = self.byte_cells(b.metadata_bytes(), a.metadata_bytes());
        s += &format!(
            "| metadata | - | - | {} | {:.1}% | {} | {:.1}% | {} |\n",
            c.before, c.before_share, c.after, c.after_share, c.saving
        );
        let c = self.byte_cells(b.file_bytes, a.file_bytes);
        s += &format!(
            "| **total (file)** | {nb} | 100% | {} | 100% | {} | 100% | **{}** |\n",
            c.before, c.after, c.saving
        );
        s
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn saving_percent(before: u64, after: u64) -> String {
    if before == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * (1.0 - after as f64 / before as f64))
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.3}", bytes as f64 / 1e6)
}

impl fmt::Display for SizeTable {
    /// A plain-text table (MB = 10^6 bytes; shares are of the whole file):
    ///
    /// ```text
    /// data type       branches  (share)   before MB  (share)    after MB  (share)   saving
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, a) = (&self.before, &self.after);
        writeln!(
            f,
            "tree '{}': {} -> {}",
            b.tree,
            b.path.display(),
            a.path.display()
        )?;
        writeln!(
            f,
            "{:<15} {:>8} {:>7}  {:>10} {:>7}  {:>10} {:>7}  {:>7}",
            "data type",
            "branches",
            "(share)",
            "before MB",
            "(share)",
            "after MB",
            "(share)",
            "saving"
        )?;
        let nb = b.branches() as u64;
        // One line: name, branches, share of branches, then the byte columns.
        let line =
            |f: &mut fmt::Formatter<'_>, name: &str, n: String, share: String, c: ByteCells| {
                write!(
                    f,
                    "{name:<15} {n:>8} {share:>7}  {:>10} {:>6.1}%  {:>10} {:>6.1}%  {:>7}",
                    c.before, c.before_share, c.after, c.after_share, c.saving
                )
            };
        for t in DataType::ALL {
            let (rb, ra) = (b.get(t), a.get(t));
            let share = format!("{:.1}%", percent(rb.branches as u64, nb));
            line(
                f,
                t.name(),
                rb.branches.to_string(),
                share,
                self.byte_cells(rb.bytes, ra.bytes),
            )?;
            writeln!(f)?;
        }
        let c = self.byte_cells(b.metadata_bytes(), a.metadata_bytes());
        line(f, "metadata", "-".into(), String::new(), c)?;
        writeln!(f)?;
        let c = self.byte_cells(b.file_bytes, a.file_bytes);
        line(
            f,
            "total (file)",
            nb.to_string(),
            format!("{:.1}%", 100.0),
            c,
        )
    }
}
