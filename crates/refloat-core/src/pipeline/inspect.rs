//! [`inspect_file`](super::inspect_file): trees, branches, and how each float branch was rounded.

use super::*;

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
/// tree (default: every tree); `patterns`: only matching branches, and without `tree` only
/// the trees that hold one.
///
/// # Errors
/// A file that cannot be opened or read, a missing tree, or patterns that match no branch
/// (of `tree`, when given).
pub fn inspect_file(
    path: &Path,
    tree: Option<&str>,
    patterns: &[BranchPattern],
    progress: &mut ProgressFn<'_>,
) -> Result<InspectReport> {
    let mut file = io::open(path)?;
    let tree_given = tree.is_some();
    let names = match tree {
        Some(t) => vec![t.to_string()],
        None => file.tree_names(),
    };
    let list = |patterns: &[BranchPattern]| {
        patterns
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
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
            // Every tree: the trees the patterns do not name are left out (a PHYSLITE file's
            // MetaData beside its CollectionTree); a tree asked for by name must match.
            if tree_given {
                return Err(Error::InvalidInput(format!(
                    "{}: tree '{name}': no branch matches {}",
                    path.display(),
                    list(patterns)
                )));
            }
            continue;
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
    if !patterns.is_empty() && trees.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no branch of any tree matches {}",
            path.display(),
            list(patterns)
        )));
    }
    Ok(InspectReport {
        path: path.to_path_buf(),
        bytes: file.size_bytes(),
        compression: file.compression(),
        objects: file.objects().to_vec(),
        trees,
    })
}
