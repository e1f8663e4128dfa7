//! Reading ROOT files: trees, branch types, float branches (flat and jagged).

use std::path::{Path, PathBuf};

use super::branch::{FloatBranch, FloatLayout};
use super::guard::guarded;
use super::select::BranchPattern;
use crate::error::{Error, Result};
use oxyroot::Named;

/// An open ROOT file (read only).
pub struct RootFile {
    path: PathBuf,
    size_bytes: u64,
    compression: i32,
    inner: oxyroot::RootFile,
    /// `(name, class)` of every key of the top directory, cycles merged.
    objects: Vec<(String, String)>,
}

impl std::fmt::Debug for RootFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootFile")
            .field("path", &self.path)
            .field("size_bytes", &self.size_bytes)
            .finish()
    }
}

/// What a `TFile` header says about where the file ends, read without oxyroot so that
/// a non-ROOT or truncated file gives a precise message.
fn check_header(path: &Path, size: u64) -> Result<()> {
    use std::io::Read;
    let root = |message: String| Error::Root {
        path: path.to_path_buf(),
        message,
    };
    let mut head = [0u8; 24];
    let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let n = f.read(&mut head).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if n < 4 || &head[..4] != b"root" {
        return Err(root(
            "not a ROOT file (it does not start with the 'root' signature)".into(),
        ));
    }
    if n < 16 {
        return Err(root(format!(
            "truncated ROOT file: only {size} bytes, not even a complete header"
        )));
    }
    let version = i32::from_be_bytes(head[4..8].try_into().expect("4 bytes"));
    let end = if version > 1_000_000 {
        if n < 20 {
            return Err(root(format!(
                "truncated ROOT file: only {size} bytes, not even a complete header"
            )));
        }
        i64::from_be_bytes(head[12..20].try_into().expect("8 bytes"))
    } else {
        i32::from_be_bytes(head[12..16].try_into().expect("4 bytes")) as i64
    };
    if end < 0 || (end as u64) > size {
        return Err(root(format!("truncated ROOT file: the header says it ends at byte {end} but the file has {size} bytes")));
    }
    Ok(())
}

/// Opens a ROOT file for reading.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened; [`Error::Root`] if it is not a ROOT file, is
/// truncated, or oxyroot cannot read its directory (the message names the file).
///
/// ```
/// let err = refloat_core::io::open("no/such/file.root").unwrap_err();
/// assert!(err.to_string().contains("no/such/file.root"));
/// ```
pub fn open(path: impl AsRef<Path>) -> Result<RootFile> {
    let path = path.as_ref().to_path_buf();
    let meta = std::fs::metadata(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    if meta.is_dir() {
        return Err(Error::Root {
            path,
            message: "is a directory, not a ROOT file".into(),
        });
    }
    check_header(&path, meta.len())?;
    let root = |message: String| Error::Root {
        path: path.clone(),
        message,
    };
    let inner = guarded(|| oxyroot::RootFile::open(&path))
        .map_err(|p| root(format!("cannot read the file's directory: {p}")))?
        .map_err(|e| root(format!("cannot read the file's directory: {e:?}")))?;
    let (objects, compression) = guarded(|| {
        let mut objects: Vec<(String, String)> = Vec::new();
        for k in inner.keys() {
            let entry = (k.name().to_string(), k.class_name().to_string());
            if !objects.contains(&entry) {
                objects.push(entry);
            }
        }
        (objects, inner.compression())
    })
    .map_err(|p| root(format!("cannot list the file's keys: {p}")))?;
    Ok(RootFile {
        path,
        size_bytes: meta.len(),
        compression,
        inner,
        objects,
    })
}

impl RootFile {
    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size on disk in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// ROOT's compression setting of the file (`100 * algorithm + level`, e.g. `101` for
    /// ZLIB level 1, `505` for ZSTD level 5; `0` uncompressed).
    pub fn compression(&self) -> i32 {
        self.compression
    }

    /// `(name, class)` of each object in the top directory (cycles merged).
    pub fn objects(&self) -> &[(String, String)] {
        &self.objects
    }

    /// Names of the `TTree`s in the top directory.
    pub fn tree_names(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter(|(_, c)| c == "TTree")
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Opens the tree `name`, or with `None` the file's analysis tree
    /// ([`choose_analysis_tree`]: `CollectionTree` (ATLAS xAOD, PHYSLITE), else `Events`
    /// (CMS NanoAOD), else the only tree with float branches).
    ///
    /// # Errors
    /// As [`Self::tree`]; [`Error::Root`] listing the trees when none or several could be
    /// meant.
    pub fn tree_or_default(&mut self, name: Option<&str>) -> Result<Tree> {
        if let Some(name) = name {
            return self.tree(name);
        }
        let names = self.tree_names();
        let mut candidates = Vec::with_capacity(names.len());
        for n in &names {
            let has_floats = if names.len() == 1 || n == ATLAS_TREE || n == CMS_TREE {
                true // decided by name alone: no need to open it
            } else {
                self.tree(n)?
                    .branches()
                    .iter()
                    .any(|b| b.float_layout().is_some())
            };
            candidates.push((n.clone(), has_floats));
        }
        let chosen = choose_analysis_tree(&candidates).map_err(|message| Error::Root {
            path: self.path.clone(),
            message,
        })?;
        self.tree(&chosen)
    }

    /// Opens the tree `name`.
    ///
    /// # Errors
    /// [`Error::MissingTree`] if there is no such object, [`Error::Root`] if it is not a
    /// `TTree` or oxyroot cannot read it.
    ///
    /// ```
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    /// #     .join("../shared/data/PHYSLITE_example.root");
    /// # if !path.exists() { return Ok(()); }
    /// let mut file = refloat_core::io::open(&path)?;
    /// assert_eq!(file.tree_names(), vec!["CollectionTree".to_string()]);
    /// assert_eq!(file.tree("CollectionTree")?.entries(), 100);
    /// assert!(file.tree("NoSuchTree").is_err());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn tree(&mut self, name: &str) -> Result<Tree> {
        let path = self.path.clone();
        match self.objects.iter().find(|(n, _)| n == name) {
            None => {
                return Err(Error::MissingTree {
                    path,
                    tree: name.to_string(),
                })
            }
            Some((_, class)) if class != "TTree" => {
                return Err(Error::Root {
                    path,
                    message: format!("'{name}' is a {class}, not a TTree"),
                })
            }
            Some(_) => {}
        }
        let root = |message: String| Error::Root {
            path: path.clone(),
            message,
        };
        let inner = guarded(|| self.inner.get_tree(name))
            .map_err(|p| root(format!("cannot read tree '{name}': {p}")))?
            .map_err(|e| root(format!("cannot read tree '{name}': {e:?}")))?;
        let entries = inner.entries();
        if entries < 0 {
            return Err(root(format!(
                "tree '{name}' has a negative entry count {entries}"
            )));
        }
        let mut tree = Tree {
            path: path.clone(),
            name: name.to_string(),
            entries: entries as u64,
            inner,
            branches: Vec::new(),
        };
        tree.branches = tree.scan_branches()?;
        Ok(tree)
    }
}

/// The tree ATLAS xAOD and PHYSLITE files keep their events in.
pub const ATLAS_TREE: &str = "CollectionTree";
/// The tree CMS NanoAOD files keep their events in.
pub const CMS_TREE: &str = "Events";

/// Which tree of a file to work on when none is named, from `(tree name, has float
/// branches)`: [`ATLAS_TREE`] if present, else [`CMS_TREE`], else the only tree with float
/// branches. Otherwise `Err` with the message to give, listing the trees.
///
/// ```
/// use refloat_core::io::choose_analysis_tree;
/// let t = |v: &[(&str, bool)]| choose_analysis_tree(&v.iter().map(|(n, f)| (n.to_string(), *f)).collect::<Vec<_>>());
/// assert_eq!(t(&[("MetaData", false), ("CollectionTree", true)]), Ok("CollectionTree".into()));
/// assert_eq!(t(&[("Runs", true), ("Events", true)]), Ok("Events".into()));
/// assert_eq!(t(&[("meta", false), ("ntuple", true)]), Ok("ntuple".into()));
/// assert!(t(&[("a", true), ("b", true)]).unwrap_err().contains("'a', 'b'"));
/// assert!(t(&[]).is_err());
/// ```
pub fn choose_analysis_tree(trees: &[(String, bool)]) -> std::result::Result<String, String> {
    for preferred in [ATLAS_TREE, CMS_TREE] {
        if trees.iter().any(|(n, _)| n == preferred) {
            return Ok(preferred.to_string());
        }
    }
    let with_floats: Vec<&String> = trees.iter().filter(|(_, f)| *f).map(|(n, _)| n).collect();
    if let [only] = with_floats.as_slice() {
        return Ok((*only).clone());
    }
    let all: Vec<String> = trees.iter().map(|(n, _)| format!("'{n}'")).collect();
    Err(if trees.is_empty() {
        "no tree named, and the file has no TTree".into()
    } else if with_floats.is_empty() {
        format!(
            "no tree named, and no tree has float branches (trees: {})",
            all.join(", ")
        )
    } else {
        format!(
            "no tree named, and {} trees have float branches: name one (--tree); trees: {}",
            with_floats.len(),
            all.join(", ")
        )
    })
}

/// What a branch holds, as far as refloat is concerned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum BranchKind {
    /// `float` or `std::vector<float>`: refloat reads, quantises and corrects it.
    Float(FloatLayout),
    /// A split object or collection whose members are sub-branches (listed separately).
    Container,
    /// Another type (`double`, `std::vector<int>`, `std::vector<std::vector<float>>`, …).
    Other,
    /// oxyroot could not work out the type (the message says why).
    Unreadable(String),
}

/// One branch of a tree.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BranchInfo {
    /// Full name, as ROOT and uproot spell it (`AnalysisElectronsAuxDyn.pt`).
    pub name: String,
    /// The C++ type as oxyroot reports it (`float`, `vector<float>`, …; `?` if unreadable).
    pub type_name: String,
    /// Entries recorded in the branch.
    pub entries: i64,
    /// What refloat can do with it.
    pub kind: BranchKind,
    /// For a variable-size C array `float[n]` (how uproot writes jagged floats): the branch
    /// holding the per-entry counts (`nNAME`, uproot's convention). `None` otherwise.
    pub counter: Option<String>,
}

impl BranchInfo {
    /// The float layout, if this is a float branch.
    pub fn float_layout(&self) -> Option<FloatLayout> {
        match self.kind {
            BranchKind::Float(l) => Some(l),
            _ => None,
        }
    }

    /// Why refloat does not process this branch (`None` for a float branch).
    pub fn skip_reason(&self) -> Option<String> {
        match &self.kind {
            BranchKind::Float(_) => None,
            BranchKind::Container => Some("container whose members are separate branches".into()),
            BranchKind::Other => {
                let t = normalise_type(&self.type_name);
                Some(if t.contains("vector<vector<float>>") {
                    format!(
                        "type {}: nested vectors of float are not supported yet",
                        self.type_name
                    )
                } else if t == "float[]" {
                    format!(
                        "type {}: variable-size C array without an integer counter branch (the leaf title's or 'n{}')",
                        self.type_name, self.name
                    )
                } else {
                    format!("type {} is not float or std::vector<float>", self.type_name)
                })
            }
            BranchKind::Unreadable(m) => Some(format!("type unreadable: {m}")),
        }
    }
}

/// The integer type of a counter branch (`nJet/i` in NanoAOD up to v9, `nJet/I` later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CounterType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
}

impl CounterType {
    /// From the type name oxyroot reports (`uint32_t`, `Int_t`, …); `None` if not an integer.
    fn of(type_name: &str) -> Option<Self> {
        Some(match normalise_type(type_name).as_str() {
            "int8_t" | "Char_t" | "char" | "signedchar" => Self::I8,
            "uint8_t" | "UChar_t" | "unsignedchar" => Self::U8,
            "int16_t" | "Short_t" | "short" => Self::I16,
            "uint16_t" | "UShort_t" | "unsignedshort" => Self::U16,
            "int32_t" | "Int_t" | "int" => Self::I32,
            "uint32_t" | "UInt_t" | "unsignedint" => Self::U32,
            "int64_t" | "Long64_t" | "long" | "longlong" => Self::I64,
            "uint64_t" | "ULong64_t" | "unsignedlong" | "unsignedlonglong" => Self::U64,
            _ => return None,
        })
    }

    /// Every count of the counter branch, widened to `i64` (`u64` counts above `i64::MAX`
    /// saturate, and are then refused as impossible).
    fn read(self, b: &oxyroot::Branch) -> std::result::Result<Vec<i64>, String> {
        fn all<T: oxyroot::UnmarshalerInto<Item = T> + Into<i128> + 'static>(
            b: &oxyroot::Branch,
        ) -> std::result::Result<Vec<i64>, String> {
            let it = b.as_iter::<T>().map_err(|e| format!("{e:?}"))?;
            Ok(it
                .map(|n| i64::try_from(n.into()).unwrap_or(i64::MAX))
                .collect())
        }
        match self {
            Self::I8 => all::<i8>(b),
            Self::U8 => all::<u8>(b),
            Self::I16 => all::<i16>(b),
            Self::U16 => all::<u16>(b),
            Self::I32 => all::<i32>(b),
            Self::U32 => all::<u32>(b),
            Self::I64 => all::<i64>(b),
            Self::U64 => all::<u64>(b),
        }
    }
}

/// `std::vector<float>` → `vector<float>`, without spaces.
fn normalise_type(t: &str) -> String {
    t.replace("std::", "").replace(' ', "")
}

fn classify(type_name: &str, has_children: bool) -> BranchKind {
    if has_children {
        return BranchKind::Container;
    }
    match normalise_type(type_name).as_str() {
        "float" | "Float_t" => BranchKind::Float(FloatLayout::Flat),
        "vector<float>" | "vector<Float_t>" => BranchKind::Float(FloatLayout::Jagged),
        _ if fixed_array_len(type_name).is_some() => BranchKind::Float(FloatLayout::Jagged),
        _ => BranchKind::Other,
    }
}

/// `N` of a fixed-size array type `float[N]` (`N` > 1); `None` for any other type.
fn fixed_array_len(type_name: &str) -> Option<usize> {
    let t = normalise_type(type_name);
    let n: usize = t.strip_prefix("float[")?.strip_suffix(']')?.parse().ok()?;
    (n > 1).then_some(n)
}

/// The float branches chosen by a set of patterns, and the branches they matched but that
/// refloat cannot process.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Selection {
    /// Float branches, in the tree's order.
    pub floats: Vec<BranchInfo>,
    /// Matched but not processed, with the reason (containers are not listed: their
    /// members are branches of their own).
    pub skipped: Vec<Skipped>,
}

/// A branch left out of a selection and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Branch name.
    pub name: String,
    /// Its C++ type (`?` if unreadable).
    pub type_name: String,
    /// Why it is not processed.
    pub reason: String,
}

/// An open tree: its branches and their types, and readers for its float branches.
pub struct Tree {
    path: PathBuf,
    name: String,
    entries: u64,
    inner: oxyroot::ReaderTree,
    branches: Vec<BranchInfo>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("entries", &self.entries)
            .finish()
    }
}

impl Tree {
    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its name (`CollectionTree`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of entries (events).
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Every branch, sub-branches included, in the file's order.
    pub fn branches(&self) -> &[BranchInfo] {
        &self.branches
    }

    fn root_error(&self, message: String) -> Error {
        Error::Root {
            path: self.path.clone(),
            message: format!("tree '{}': {message}", self.name),
        }
    }

    fn scan_branches(&self) -> Result<Vec<BranchInfo>> {
        let all = guarded(|| {
            self.inner
                .branches_r()
                .into_iter()
                .map(|b| {
                    (
                        b.name().to_string(),
                        b.entries(),
                        b.branches().next().is_some(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .map_err(|p| self.root_error(format!("cannot list branches: {p}")))?;
        let mut out = Vec::with_capacity(all.len());
        for (name, entries, has_children) in all {
            let b = self.inner.branch(&name);
            let type_name = guarded(|| b.map(|b| b.item_type_name()));
            let (type_name, kind) = match type_name {
                Ok(Some(t)) => {
                    let kind = classify(&t, has_children);
                    (t, kind)
                }
                Ok(None) => (
                    "?".into(),
                    BranchKind::Unreadable("not found by name".into()),
                ),
                Err(_) if has_children => ("?".into(), BranchKind::Container),
                Err(p) => ("?".into(), BranchKind::Unreadable(p)),
            };
            out.push(BranchInfo {
                name,
                type_name,
                entries,
                kind,
                counter: None,
            });
        }
        // Variable-size C arrays `float[]`: jagged floats counted by an integer branch of any
        // width and signedness, named in the leaf title (`Jet_pt[nJet]`, NanoAOD) or, failing
        // that, uproot's `nNAME`.
        let integer_counters: Vec<String> = out
            .iter()
            .filter(|b| CounterType::of(&b.type_name).is_some())
            .map(|b| b.name.clone())
            .collect();
        for b in out.iter_mut() {
            if b.kind == BranchKind::Other && normalise_type(&b.type_name) == "float[]" {
                let titled =
                    guarded(|| self.inner.branch(&b.name).and_then(|o| o.leaf_count_name()))
                        .ok()
                        .flatten();
                let counter = titled.unwrap_or_else(|| format!("n{}", b.name));
                if integer_counters.contains(&counter) {
                    b.kind = BranchKind::Float(FloatLayout::Jagged);
                    b.counter = Some(counter);
                }
            }
        }
        Ok(out)
    }

    /// On-disk bytes of the baskets of branch `name` (key headers included), compressed and
    /// decompressed: what the size table adds up.
    pub(crate) fn basket_bytes(&self, name: &str) -> Result<(u64, u64)> {
        let bytes = guarded(|| self.inner.branch(name).map(|b| b.basket_bytes()))
            .map_err(|p| self.root_error(format!("branch '{name}': {p}")))?
            .ok_or_else(|| Error::MissingBranch {
                path: self.path.clone(),
                tree: self.name.clone(),
                branch: name.to_string(),
            })?
            .map_err(|e| self.root_error(format!("branch '{name}': {e}")))?;
        Ok((bytes.compressed, bytes.uncompressed))
    }

    /// The branch `name`.
    ///
    /// # Errors
    /// [`Error::MissingBranch`] naming the file, tree and branch.
    pub fn branch_info(&self, name: &str) -> Result<&BranchInfo> {
        self.branches
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| Error::MissingBranch {
                path: self.path.clone(),
                tree: self.name.clone(),
                branch: name.to_string(),
            })
    }

    /// The float branches selected by `patterns` (all branches when empty), and the matched
    /// ones that are skipped, with the reason.
    ///
    /// # Errors
    /// An exact name that is missing ([`Error::MissingBranch`]) or not a float branch
    /// ([`Error::Root`] with its type), or a glob that matches no branch at all.
    ///
    /// ```
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    /// #     .join("../shared/data/PHYSLITE_example.root");
    /// # if !path.exists() { return Ok(()); }
    /// use refloat_core::io::{self, BranchPattern};
    /// let tree = io::open(&path)?.tree("CollectionTree")?;
    /// let sel = tree.select(&[BranchPattern::parse("AnalysisJetsAuxDyn.*")?])?;
    /// assert!(sel.floats.iter().any(|b| b.name == "AnalysisJetsAuxDyn.pt"));
    /// // e.g. `AnalysisJetsAuxDyn.SumPtTrkPt500`, a vector<vector<float>>:
    /// assert!(sel.skipped.iter().any(|s| s.reason.contains("nested")));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn select(&self, patterns: &[BranchPattern]) -> Result<Selection> {
        for p in patterns.iter().filter(|p| p.is_exact()) {
            let info = self.branch_info(p.text())?;
            if let Some(reason) = info.skip_reason() {
                return Err(self.root_error(format!(
                    "branch '{}' cannot be processed: {reason}",
                    info.name
                )));
            }
        }
        for p in patterns.iter().filter(|p| !p.is_exact()) {
            if !self.branches.iter().any(|b| p.matches(&b.name)) {
                return Err(
                    self.root_error(format!("branch pattern '{}' matches no branch", p.text()))
                );
            }
        }
        let mut sel = Selection::default();
        for b in &self.branches {
            if !patterns.is_empty() && !patterns.iter().any(|p| p.matches(&b.name)) {
                continue;
            }
            match (&b.kind, b.skip_reason()) {
                (BranchKind::Float(_), _) => sel.floats.push(b.clone()),
                (BranchKind::Container, _) => {}
                (_, Some(reason)) => sel.skipped.push(Skipped {
                    name: b.name.clone(),
                    type_name: b.type_name.clone(),
                    reason,
                }),
                (_, None) => unreachable!("only float branches have no skip reason"),
            }
        }
        Ok(sel)
    }

    fn float_branch(&self, name: &str) -> Result<(&oxyroot::Branch, FloatLayout)> {
        let info = self.branch_info(name)?;
        let layout = info.float_layout().ok_or_else(|| {
            self.root_error(format!(
                "branch '{name}' cannot be read as float: {}",
                info.skip_reason().unwrap_or_default()
            ))
        })?;
        let b = guarded(|| self.inner.branch(name))
            .map_err(|p| self.root_error(format!("branch '{name}': {p}")))?
            .ok_or_else(|| Error::MissingBranch {
                path: self.path.clone(),
                tree: self.name.clone(),
                branch: name.to_string(),
            })?;
        Ok((b, layout))
    }

    /// Reads a whole float branch (`float` or `std::vector<float>`).
    ///
    /// # Errors
    /// [`Error::MissingBranch`]; [`Error::Root`] naming file, tree and branch if it is not
    /// a float branch, oxyroot fails on it, or its entry count differs from the tree's.
    ///
    /// ```
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    /// #     .join("../shared/data/PHYSLITE_example.root");
    /// # if !path.exists() { return Ok(()); }
    /// let tree = refloat_core::io::open(&path)?.tree("CollectionTree")?;
    /// let pt = tree.read_float("AnalysisJetsAuxDyn.pt")?; // MeV, jets of 100 events
    /// assert_eq!(pt.entries(), 100);
    /// assert_eq!(pt.counts().iter().sum::<usize>(), pt.values.len());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn read_float(&self, name: &str) -> Result<FloatBranch> {
        let mut chunks = self.read_float_chunks(name, usize::MAX)?;
        match chunks.next() {
            None => Ok(match chunks.layout {
                FloatLayout::Flat => FloatBranch::flat(name, Vec::new()),
                FloatLayout::Jagged => FloatBranch::jagged(name, Vec::new(), vec![0])?,
            }),
            Some(first) => {
                let first = first?;
                debug_assert!(chunks.next().is_none());
                Ok(first.branch)
            }
        }
    }

    /// Calls `f` with the values of a float branch, a basket (or chunk) at a time, in order,
    /// without their entry structure: for a pass that only looks at the values (kept bits,
    /// scheme, a sample). Decodes the baskets directly where it can; otherwise, and on any
    /// problem before its first basket, reads through [`Self::read_float_chunks`]. Returns
    /// the number of values.
    ///
    /// # Errors
    /// Like [`Self::read_float_chunks`].
    pub fn for_each_float_values(&self, name: &str, mut f: impl FnMut(&[f32])) -> Result<usize> {
        const CHUNK_ENTRIES: usize = 1 << 12;
        let (branch, _) = self.float_branch(name)?;
        let tree_entries = self.entries();
        let mut fast_values = 0usize;
        let fast = guarded(|| {
            branch.for_each_float_basket(|v, _| {
                fast_values += v.len();
                f(v);
                Ok(())
            })
        });
        match fast {
            Ok(Ok(entries)) if entries as u64 == tree_entries => Ok(fast_values),
            Ok(Ok(entries)) => Err(self.root_error(format!(
                "branch '{name}' has {entries} entries, the tree {tree_entries}"
            ))),
            // Values were handed to `f` already: the problem is in a later basket.
            Ok(Err(e)) if fast_values > 0 => Err(self.root_error(format!("branch '{name}': {e}"))),
            Err(p) if fast_values > 0 => Err(self.root_error(format!("branch '{name}': {p}"))),
            // Not decodable directly (its storage, an embedded basket, …): the general reader.
            _ => {
                let mut values = 0usize;
                for chunk in self.read_float_chunks(name, CHUNK_ENTRIES)? {
                    let v = &chunk?.branch.values;
                    values += v.len();
                    f(v);
                }
                Ok(values)
            }
        }
    }

    /// Reads a whole float branch ([`Self::read_float`]) and the number of values in each of
    /// its baskets, in one pass over the baskets where they decode directly (for a jagged
    /// branch, the entry structure comes from each basket's entry offsets). Otherwise, values
    /// and structure are read as [`Self::for_each_float_values`] and [`Self::read_float`] do.
    ///
    /// # Errors
    /// Like [`Self::read_float`].
    pub fn read_float_baskets(&self, name: &str) -> Result<(FloatBranch, Vec<usize>)> {
        let (branch, layout) = self.float_branch(name)?;
        let (mut values, mut blocks, mut counts) = (Vec::new(), Vec::new(), Some(Vec::new()));
        let fast = guarded(|| {
            branch.for_each_float_basket(|v, c| {
                values.extend_from_slice(v);
                blocks.push(v.len());
                match (c, &mut counts) {
                    (Some(c), Some(all)) => all.extend(c.iter().map(|&n| n as usize)),
                    _ => counts = None,
                }
                Ok(())
            })
        });
        let whole = matches!(fast, Ok(Ok(entries)) if entries as u64 == self.entries());
        let fast = match (whole, layout, counts) {
            (true, FloatLayout::Flat, _) => Some(FloatBranch::flat(name, values)),
            (true, FloatLayout::Jagged, Some(counts)) => {
                let offsets = std::iter::once(0)
                    .chain(counts.iter().scan(0usize, |at, &n| {
                        *at += n;
                        Some(*at)
                    }))
                    .collect();
                FloatBranch::jagged(name, values, offsets).ok()
            }
            _ => None,
        };
        if let Some(b) = fast {
            return Ok((b, blocks));
        }
        let mut blocks = Vec::new();
        self.for_each_float_values(name, |v| blocks.push(v.len()))?;
        Ok((self.read_float(name)?, blocks))
    }

    /// Reads a float branch in chunks of up to `entries_per_chunk` entries, so a caller can
    /// process a large branch without holding it whole. Each chunk is a [`FloatBranch`]
    /// over its own entries (offsets start at 0) with the index of its first entry. The
    /// iterator checks, at its end, that the branch had as many entries as the tree.
    ///
    /// # Errors
    /// Like [`Self::read_float`]; errors while iterating come as `Some(Err(..))` and end it.
    ///
    /// ```
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    /// #     .join("../shared/data/PHYSLITE_example.root");
    /// # if !path.exists() { return Ok(()); }
    /// let tree = refloat_core::io::open(&path)?.tree("CollectionTree")?;
    /// let mut n = 0;
    /// for chunk in tree.read_float_chunks("AnalysisJetsAuxDyn.eta", 32)? {
    ///     let chunk = chunk?;
    ///     assert_eq!(chunk.first_entry, n);
    ///     n += chunk.branch.entries() as u64;
    /// }
    /// assert_eq!(n, tree.entries());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn read_float_chunks(
        &self,
        name: &str,
        entries_per_chunk: usize,
    ) -> Result<FloatChunks<'_>> {
        let (branch, layout) = self.float_branch(name)?;
        let info = self.branch_info(name)?;
        let counter = info.counter.clone();
        let context = |m: String| self.root_error(format!("branch '{name}': {m}"));
        let counts = match &counter {
            // A fixed-size array `float[N]`: N values in every entry.
            None => fixed_array_len(&info.type_name)
                .map(|n| vec![n as i32; info.entries.max(0) as usize]),
            Some(c) => {
                let cb = guarded(|| self.inner.branch(c))
                    .map_err(&context)?
                    .ok_or_else(|| context(format!("counter branch '{c}' is missing")))?;
                let ty = CounterType::of(&self.branch_info(c)?.type_name).ok_or_else(|| {
                    context(format!("counter branch '{c}' is not an integer branch"))
                })?;
                let counts = guarded(|| ty.read(cb))
                    .map_err(|p| context(format!("counter branch '{c}': {p}")))?
                    .map_err(|e| context(format!("counter branch '{c}': {e}")))?;
                if let Some(i) = counts
                    .iter()
                    .position(|&n| !(0..=i32::MAX as i64).contains(&n))
                {
                    return Err(context(format!(
                        "counter branch '{c}' has an impossible count {} at entry {i}",
                        counts[i]
                    )));
                }
                Some(counts.into_iter().map(|n| n as i32).collect::<Vec<i32>>())
            }
        };
        let source = guarded(|| -> std::result::Result<EntrySource<'_>, String> {
            Ok(match (layout, counts) {
                (FloatLayout::Flat, _) => EntrySource::Flat(Box::new(
                    branch.as_iter::<f32>().map_err(|e| format!("{e:?}"))?,
                )),
                (FloatLayout::Jagged, None) => EntrySource::Jagged(Box::new(
                    branch.as_iter::<Vec<f32>>().map_err(|e| format!("{e:?}"))?,
                )),
                (FloatLayout::Jagged, Some(counts)) => {
                    // Take the values as one stream (oxyroot may split a C array's entries
                    // wrongly, but keeps their order) and cut it by the counter's counts.
                    let values = branch
                        .get_basket(|r| {
                            let mut v = Vec::with_capacity((r.len().max(0) / 4) as usize);
                            while r.len() >= 4 {
                                v.push(r.read_f32().expect("4 bytes are left"));
                            }
                            v
                        })
                        .flatten();
                    EntrySource::CArray {
                        values: Box::new(values),
                        counts: counts.into_iter(),
                    }
                }
            })
        })
        .map_err(&context)?
        .map_err(&context)?;
        Ok(FloatChunks {
            tree: self,
            name: name.to_string(),
            layout,
            source,
            next_entry: 0,
            per_chunk: entries_per_chunk.max(1),
            done: false,
        })
    }
}

/// Values, offsets (jagged) and the number of entries pulled from oxyroot.
type Pulled = (Vec<f32>, Option<Vec<usize>>, usize);

enum EntrySource<'a> {
    Flat(Box<dyn Iterator<Item = f32> + 'a>),
    Jagged(Box<dyn Iterator<Item = Vec<f32>> + 'a>),
    /// A C array `float[n]`: the values as one stream and the counter's per-entry counts.
    CArray {
        values: Box<dyn Iterator<Item = f32> + 'a>,
        counts: std::vec::IntoIter<i32>,
    },
}

/// One chunk of a float branch: entries `first_entry .. first_entry + branch.entries()`.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatChunk {
    /// Index of the chunk's first entry in the tree.
    pub first_entry: u64,
    /// The chunk's values (offsets relative to the chunk).
    pub branch: FloatBranch,
}

/// Iterator over the chunks of a float branch (see [`Tree::read_float_chunks`]).
pub struct FloatChunks<'a> {
    tree: &'a Tree,
    name: String,
    layout: FloatLayout,
    source: EntrySource<'a>,
    next_entry: u64,
    per_chunk: usize,
    done: bool,
}

impl FloatChunks<'_> {
    /// Flat or jagged.
    pub fn layout(&self) -> FloatLayout {
        self.layout
    }
}

impl Iterator for FloatChunks<'_> {
    type Item = Result<FloatChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let remaining = self.tree.entries - self.next_entry;
        let want = (self.per_chunk as u64).min(remaining) as usize;
        let last = want as u64 == remaining;
        // Pull `want` entries, and on the last chunk one more to detect surplus entries.
        let pull = if last { want.saturating_add(1) } else { want };
        let first = self.next_entry;
        // Ok(Ok(..)): what was pulled; Ok(Err(..)): inconsistent data; Err(..): a panic.
        let pulled = guarded(|| -> std::result::Result<Pulled, String> {
            Ok(match &mut self.source {
                EntrySource::Flat(it) => {
                    let v: Vec<f32> = it.by_ref().take(pull).collect();
                    let n = v.len();
                    (v, None, n)
                }
                EntrySource::Jagged(it) => {
                    let mut values = Vec::new();
                    let mut offsets = vec![0usize];
                    for entry in it.by_ref().take(pull) {
                        values.extend_from_slice(&entry);
                        offsets.push(values.len());
                    }
                    let n = offsets.len() - 1;
                    (values, Some(offsets), n)
                }
                EntrySource::CArray {
                    values: stream,
                    counts,
                } => {
                    let mut values = Vec::new();
                    let mut offsets = vec![0usize];
                    for count in counts.by_ref().take(pull) {
                        let before = values.len();
                        values.extend(stream.by_ref().take(count as usize));
                        if values.len() - before < count as usize {
                            return Err(format!(
                                "entry {} has fewer values than its counter branch announces ({count})",
                                first + offsets.len() as u64 - 1
                            ));
                        }
                        offsets.push(values.len());
                    }
                    let n = offsets.len() - 1;
                    if n < pull && stream.next().is_some() {
                        return Err("more values than its counter branch announces".into());
                    }
                    (values, Some(offsets), n)
                }
            })
        });
        let (values, offsets, n) = match pulled {
            Ok(Ok(x)) => x,
            Ok(Err(m)) => {
                self.done = true;
                return Some(Err(self
                    .tree
                    .root_error(format!("branch '{}': {m}", self.name))));
            }
            Err(p) => {
                self.done = true;
                return Some(Err(self.tree.root_error(format!(
                    "branch '{}': reading entries from {first}: {p}",
                    self.name
                ))));
            }
        };
        if n < want {
            self.done = true;
            return Some(Err(self.tree.root_error(format!(
                "branch '{}' ends after {} entries but the tree has {}",
                self.name,
                first + n as u64,
                self.tree.entries
            ))));
        }
        if n > want {
            self.done = true;
            return Some(Err(self.tree.root_error(format!(
                "branch '{}' has more entries than the tree's {}",
                self.name, self.tree.entries
            ))));
        }
        self.next_entry += n as u64;
        if last {
            self.done = true;
        }
        if n == 0 {
            return None;
        }
        let branch = match offsets {
            None => FloatBranch::flat(&self.name, values),
            Some(o) => FloatBranch {
                name: self.name.clone(),
                values,
                offsets: Some(o),
            },
        };
        Some(Ok(FloatChunk {
            first_entry: first,
            branch,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_every_integer_type_and_fixed_arrays_are_recognised() {
        for (t, want) in [
            ("int8_t", CounterType::I8),
            ("UChar_t", CounterType::U8),
            ("short", CounterType::I16),
            ("uint16_t", CounterType::U16),
            ("Int_t", CounterType::I32),
            ("uint32_t", CounterType::U32),
            ("unsigned int", CounterType::U32),
            ("Long64_t", CounterType::I64),
            ("ULong64_t", CounterType::U64),
        ] {
            assert_eq!(CounterType::of(t), Some(want), "{t}");
        }
        assert_eq!(CounterType::of("float"), None);
        assert_eq!(CounterType::of("bool"), None);
        assert_eq!(fixed_array_len("float[3]"), Some(3));
        assert_eq!(fixed_array_len("float[1]"), None);
        assert_eq!(fixed_array_len("float[]"), None);
        assert_eq!(fixed_array_len("int32_t[3]"), None);
        assert_eq!(
            classify("float[4]", false),
            BranchKind::Float(FloatLayout::Jagged)
        );
    }
}
