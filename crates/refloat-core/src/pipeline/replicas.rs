//! [`replica_spread_file`](super::replica_spread_file) and
//! [`replica_coverage_file`](super::replica_coverage_file): rounding replicas of a file's branches.

use super::*;

/// Options of [`replica_spread_file`] and [`replica_coverage_file`].
#[derive(Clone, Debug)]
pub struct ReplicaOptions {
    pub select: Select,
    /// Kept mantissa bits of the stored file; `None`: detected per branch (per value where it
    /// mixes precisions), as [`correct_file`] does.
    pub bits: Option<u32>,
    /// The rounding of the stored file; `None`: detected per branch, else the format's, as
    /// [`correct_file`] does.
    pub mode: Option<RoundingMode>,
    /// Number of replicas (at least 1).
    pub replicas: u32,
    /// The user's seed: replica `r` is `correct_file` with `dither:<replica_seed(seed, r)>`.
    pub seed: u64,
    /// The histogram binning of each branch.
    pub binning: Binning,
}

impl Default for ReplicaOptions {
    /// Every float branch, detected rounding, 50 replicas, seed 0, [`Binning::default`].
    fn default() -> Self {
        ReplicaOptions {
            select: Select::default(),
            bits: None,
            mode: None,
            replicas: 50,
            seed: 0,
            binning: Binning::default(),
        }
    }
}

/// The replicas of one stored branch of a file, drawn as [`correct_file`] corrects it: the
/// branch's resolution (bits, scheme, per-value precisions, exact values), the same checks.
/// Replica `r` is the branch of
/// `correct_file(.., Method::Dither { seed: replica_seed(seed, r) }, ..)`, bit for bit.
pub struct FileBranchReplicas(ResolvedReplicas);

impl FileBranchReplicas {
    /// The kept bits the replicas are drawn under (`None`: not known, copied as stored).
    pub fn mantissa_bits(&self) -> Option<u32> {
        self.0.resolution().bits
    }

    /// The rounding the replicas are drawn under.
    pub fn mode(&self) -> RoundingMode {
        self.0.resolution().mode
    }

    /// Why the branch's replicas may not move (bits not known, full precision).
    pub fn note(&self) -> Option<&str> {
        self.0.resolution().note.as_deref()
    }

    /// How the branch was resolved.
    pub fn resolution(&self) -> &Resolution {
        self.0.resolution()
    }
}

impl ReplicaSource for FileBranchReplicas {
    fn replica_into(&self, stored: &[f32], replica: u32, out: &mut [f32]) -> Result<()> {
        self.0.replica_into(stored, replica, out)
    }
}

/// A stored branch read whole, and its replicas.
pub struct ReplicaBranch {
    pub stored: FloatBranch,
    pub replicas: FileBranchReplicas,
}

/// Reads the selected float branches of the stored file `path` whole, each with its
/// replicas under `seed` (rounding as given in `opts`, else detected as [`correct_file`]
/// does). Returns the tree's name and the branches.
pub fn read_replica_branches(
    path: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<(String, Vec<ReplicaBranch>)> {
    if let Some(bits) = opts.bits {
        Quantiser32::new(bits, opts.mode.unwrap_or_default())?;
    }
    let loaded = load(path, &opts.select)?;
    let floats = &loaded.selection.floats;
    let resolved = resolve_branches(
        &loaded.tree,
        floats,
        Format::of_tree(loaded.tree.name()),
        &Given {
            bits: opts.bits,
            mode: opts.mode,
            leave_exact: true,
        },
        false,
        progress,
    )?;
    let mut bar = StageReporter::start(Stage::Reading, floats.len(), progress);
    let mut out = Vec::with_capacity(floats.len());
    for (info, (resolution, _)) in floats.iter().zip(resolved) {
        bar.branch(&info.name);
        out.push(ReplicaBranch {
            stored: loaded.tree.read_float(&info.name)?,
            replicas: FileBranchReplicas(ResolvedReplicas::new(resolution, opts.seed, &info.name)),
        });
    }
    bar.finish();
    Ok((loaded.tree.name().to_string(), out))
}

/// What rounding can do to one branch ([`replica_spread_file`]).
#[derive(Serialize, Debug, Clone)]
pub struct BranchReplicaSpread {
    pub name: String,
    pub values: usize,
    /// Kept bits the replicas were drawn under (`None`: not inferable, copied as stored).
    pub mantissa_bits: Option<u32>,
    pub mode: RoundingMode,
    /// Histogram, mean and standard deviation over the replicas; `None` when the branch has
    /// no range to bin (no finite value, or all equal).
    pub spread: Option<BranchSpread>,
    pub note: Option<String>,
}

/// What [`replica_spread_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct ReplicaReport {
    pub input: PathBuf,
    pub tree: String,
    pub replicas: u32,
    pub seed: u64,
    pub binning: Binning,
    pub branches: Vec<BranchReplicaSpread>,
}

/// For each selected float branch of the stored file `path`: the spread over `opts.replicas`
/// rounding replicas of its histogram (on `opts.binning`), mean and standard deviation.
/// Replica `r` of a branch is what `refloat correct --method dither:<replica_seed(seed, r)>`
/// writes for it; memory holds one branch and one replica at a time besides the stored
/// values.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero replicas or a bad binning; file errors naming the file.
pub fn replica_spread_file(
    path: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<ReplicaReport> {
    if opts.replicas == 0 {
        return Err(Error::InvalidArgument(
            "the number of replicas must be at least 1 (got 0)".into(),
        ));
    }
    let (tree, branches) = read_replica_branches(path, opts, progress)?;
    let mut out = Vec::with_capacity(branches.len());
    for b in branches {
        let values = &b.stored.values;
        let spread = match opts.binning.edges_for(values)? {
            Some(edges) => Some(branch_spread(values, &edges, opts.replicas, &b.replicas)?),
            None => None,
        };
        out.push(BranchReplicaSpread {
            name: b.stored.name.clone(),
            values: values.len(),
            mantissa_bits: b.replicas.mantissa_bits(),
            mode: b.replicas.mode(),
            note: match (&spread, b.replicas.note()) {
                (None, _) => Some("no range to bin (no finite value, or all equal)".into()),
                (_, n) => n.map(str::to_string),
            },
            spread,
        });
    }
    Ok(ReplicaReport {
        input: path.to_path_buf(),
        tree,
        replicas: opts.replicas,
        seed: opts.seed,
        binning: opts.binning.clone(),
        branches: out,
    })
}

/// What [`replica_coverage_file`] found.
#[derive(Serialize, Debug, Clone)]
pub struct CoverageReport {
    pub original: PathBuf,
    pub stored: PathBuf,
    pub replicas: u32,
    pub seed: u64,
    pub binning: Binning,
    /// Per branch with a range to bin.
    pub branches: Vec<(String, Coverage)>,
    /// Over all branches and bins.
    pub total: Coverage,
}

/// Validation where the originals are known: for each selected float branch of the stored
/// file `stored` (a compression of `original`), how often the original histogram lies inside
/// the replicas' mean ± 1σ and ± 2σ ([`crate::replicas::coverage`]), binned on
/// `opts.binning` of the stored values.
///
/// # Errors
/// [`Error::InvalidArgument`] for zero replicas; [`Error::InvalidInput`] if a branch's
/// structure differs between the files; file errors naming the file.
pub fn replica_coverage_file(
    original: &Path,
    stored: &Path,
    opts: &ReplicaOptions,
    progress: &mut ProgressFn<'_>,
) -> Result<CoverageReport> {
    if opts.replicas == 0 {
        return Err(Error::InvalidArgument(
            "the number of replicas must be at least 1 (got 0)".into(),
        ));
    }
    let (tree, branches) = read_replica_branches(stored, opts, progress)?;
    let mut orig_file = io::open(original)?;
    let orig_tree = orig_file.tree_or_default(Some(&tree))?;
    let mut per_branch = Vec::with_capacity(branches.len());
    let mut total = Coverage::default();
    for b in branches {
        let o = orig_tree.read_float(&b.stored.name)?;
        if let Some(why) = o.structure_mismatch(&b.stored) {
            return Err(Error::InvalidInput(format!(
                "{} vs {}: tree '{tree}': branch '{}': {why}",
                original.display(),
                stored.display(),
                b.stored.name
            )));
        }
        let Some(edges) = opts.binning.edges_for(&b.stored.values)? else {
            continue;
        };
        let c = coverage(
            &o.values,
            &b.stored.values,
            &edges,
            opts.replicas,
            &b.replicas,
        )?;
        total = total + c;
        per_branch.push((b.stored.name.clone(), c));
    }
    Ok(CoverageReport {
        original: original.to_path_buf(),
        stored: stored.to_path_buf(),
        replicas: opts.replicas,
        seed: opts.seed,
        binning: opts.binning.clone(),
        branches: per_branch,
        total,
    })
}
