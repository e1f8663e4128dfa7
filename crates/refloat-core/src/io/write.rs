//! Writing float branches to a new ROOT file, atomically; [`PendingOutput`], a file written
//! beside its target and renamed onto it only once it has been checked.

use std::path::{Path, PathBuf};

use super::branch::{FloatBranch, FloatLayout};
use super::guard::guarded;
use crate::error::{Error, Result};

/// Collects float branches for one tree and writes them to a new ROOT file.
///
/// The file is written to a temporary file in the target's directory and renamed onto the
/// target only when everything succeeded: on any error (or a panic inside oxyroot) the
/// temporary file is removed and an existing target is left untouched.
///
/// Flat branches are written as `float`, jagged ones as `std::vector<float>` with their
/// per-entry lengths. oxyroot 0.1.25 writes uncompressed baskets.
///
/// ```
/// use refloat_core::io::{FloatBranch, TreeWriter};
/// let dir = tempfile::tempdir()?;
/// let out = dir.path().join("out.root");
/// let mut w = TreeWriter::new(&out, "CollectionTree");
/// w.add(FloatBranch::flat("EventInfoAuxDyn.x", vec![1.5, 2.5]))?;
/// w.add(FloatBranch::jagged("AnalysisJetsAuxDyn.pt", vec![1.0, 2.0, 3.0], vec![0, 3, 3])?)?;
/// let written = w.write()?;
/// assert_eq!(written.entries, 2);
/// let mut f = refloat_core::io::open(&out)?;
/// let t = f.tree("CollectionTree")?;
/// assert_eq!(t.read_float("AnalysisJetsAuxDyn.pt")?.values, vec![1.0, 2.0, 3.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TreeWriter {
    path: PathBuf,
    tree: String,
    branches: Vec<FloatBranch>,
}

/// What [`TreeWriter::write`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// The output file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Number of branches written.
    pub branches: usize,
    /// Entries of the tree.
    pub entries: usize,
}

impl TreeWriter {
    /// A writer for tree `tree` in the file `path` (nothing is written until
    /// [`Self::write`]).
    pub fn new(path: impl AsRef<Path>, tree: &str) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            tree: tree.to_string(),
            branches: Vec::new(),
        }
    }

    /// Number of branches added so far.
    pub fn len(&self) -> usize {
        self.branches.len()
    }

    /// Whether no branch was added.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// Adds a branch.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a branch of that name was added already;
    /// [`Error::LengthMismatch`] if its entry count differs from the first branch's.
    pub fn add(&mut self, branch: FloatBranch) -> Result<()> {
        if self.branches.iter().any(|b| b.name == branch.name) {
            return Err(Error::InvalidArgument(format!(
                "{}: branch '{}' added twice",
                self.path.display(),
                branch.name
            )));
        }
        if let Some(first) = self.branches.first() {
            if first.entries() != branch.entries() {
                return Err(Error::LengthMismatch {
                    what: format!(
                        "{}: entries of branch '{}' vs branch '{}' of tree '{}'",
                        self.path.display(),
                        branch.name,
                        first.name,
                        self.tree
                    ),
                    left: branch.entries(),
                    right: first.entries(),
                });
            }
        }
        self.branches.push(branch);
        Ok(())
    }

    /// Writes the file (atomically, see the type's documentation).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] with no branches; [`Error::Io`] if the target's directory
    /// is missing or not writable; [`Error::Root`] if oxyroot fails.
    pub fn write(self) -> Result<Written> {
        let path = self.path.clone();
        if self.branches.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{}: no branches to write",
                path.display()
            )));
        }
        let pending = PendingOutput::beside(&path)?;
        let tmp_path = pending.path().to_path_buf();
        let entries = self.branches[0].entries();
        let n_branches = self.branches.len();
        let tree_name = self.tree.clone();
        let root = |message: String| Error::Root {
            path: path.clone(),
            message,
        };

        let outcome = guarded(move || -> std::result::Result<(), String> {
            let mut file = oxyroot::RootFile::create(&tmp_path)
                .map_err(|e| format!("cannot create: {e:?}"))?;
            let mut tree = oxyroot::WriterTree::new(&self.tree);
            for b in self.branches {
                let name = b.name.clone();
                match b.layout() {
                    FloatLayout::Flat => tree.new_branch(name, b.values.into_iter()),
                    FloatLayout::Jagged => {
                        let offsets = b.offsets.expect("jagged has offsets");
                        let values = b.values;
                        let it = (0..offsets.len() - 1)
                            .map(move |i| values[offsets[i]..offsets[i + 1]].to_vec());
                        tree.new_branch(name, it);
                    }
                }
            }
            tree.write(&mut file)
                .map_err(|e| format!("writing tree '{}': {e:?}", self.tree))?;
            file.close().map_err(|e| format!("closing: {e:?}"))?;
            Ok(())
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(m)) => return Err(root(m)),
            Err(p) => return Err(root(format!("writing tree '{tree_name}': {p}"))),
        }
        pending.commit()?;
        let bytes = std::fs::metadata(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        Ok(Written {
            path,
            bytes,
            branches: n_branches,
            entries,
        })
    }
}

/// A new, empty temporary file `.NAME.XXXXXX{suffix}` in the directory of `target` (mode
/// 0644 on Unix, like a file the user writes), removed when dropped unless persisted: where
/// an output is written before it is renamed onto `target` (same file system, so the rename
/// is atomic). `suffix` lets writers that choose a format by extension (PNG) see theirs.
///
/// # Errors
/// [`Error::Io`] naming the directory if it is missing or not writable.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let t = refloat_core::io::temp_file_beside(&dir.path().join("fig.png"), ".png")?;
/// let name = t.path().file_name().unwrap().to_string_lossy().into_owned();
/// assert!(name.starts_with(".fig.png.") && name.ends_with(".png"));
/// assert_eq!(t.path().parent(), Some(dir.path()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn temp_file_beside(target: &Path, suffix: &str) -> Result<tempfile::NamedTempFile> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder
        .tempfile_in(&dir)
        .map_err(|source| Error::Io { path: dir, source })
}

/// An output file being written beside its target: a temporary file in the target's
/// directory (mode 0644) that is renamed onto the target by [`Self::commit`] and removed
/// when dropped uncommitted, on an error return or a panic alike. The target is never
/// touched before the commit, so a failed check leaves no output and an existing file at
/// the target as it was.
///
/// Write (e.g. with [`rewrite::rewrite_floats`](super::rewrite::rewrite_floats)) to
/// [`Self::path`], check the written file, then commit:
///
/// ```
/// use refloat_core::io::PendingOutput;
/// let dir = tempfile::tempdir()?;
/// let target = dir.path().join("out.root");
/// std::fs::write(&target, b"old")?;
/// let pending = PendingOutput::beside(&target)?;
/// std::fs::write(pending.path(), b"new")?;
/// let check_failed = true;
/// if check_failed {
///     drop(pending); // the temporary file goes, the target keeps its old content
/// }
/// assert_eq!(std::fs::read(&target)?, b"old");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
///
/// let pending = PendingOutput::beside(&target)?;
/// std::fs::write(pending.path(), b"new")?;
/// pending.commit()?;
/// assert_eq!(std::fs::read(&target)?, b"new");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PendingOutput {
    target: PathBuf,
    temp: tempfile::TempPath,
}

impl PendingOutput {
    /// Creates an empty temporary file `.NAME.XXXXXX.tmp` in the directory of `target`.
    ///
    /// # Errors
    /// [`Error::Io`] if that directory is missing or not writable.
    pub fn beside(target: impl AsRef<Path>) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        let temp = temp_file_beside(&target, ".tmp")?.into_temp_path();
        Ok(Self { target, temp })
    }

    /// The temporary file to write to and check.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the temporary file onto the target (replacing an existing file there).
    ///
    /// # Errors
    /// [`Error::Io`] if the rename fails; the temporary file is removed then.
    pub fn commit(self) -> Result<PathBuf> {
        let target = self.target;
        self.temp.persist(&target).map_err(|e| Error::Io {
            path: target.clone(),
            source: e.error,
        })?;
        Ok(target)
    }
}
