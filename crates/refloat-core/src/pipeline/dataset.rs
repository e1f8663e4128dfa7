//! Datasets: a pipeline run over many files, one result per file, stopping at the first
//! failure or going on past it: into an output directory ([`run_dataset`]: compress,
//! correct), against the files of the same names in another directory ([`dataset_partners`]
//! and [`run_each`]: verify, analyse), or each file alone (inspect).

use super::*;

/// One file of a dataset: its input, its output or partner, and what the pipeline made of it
/// (its report, or the error naming the problem).
#[derive(Serialize, Debug, Clone)]
pub struct DatasetFile<R> {
    pub input: PathBuf,
    /// The file written (compress, correct) or read beside the input (verify: the corrected
    /// file; analyse: the stored one); `None` for a pipeline of one file (inspect).
    pub output: Option<PathBuf>,
    /// The pipeline's report; `None` when it failed or was not run.
    pub report: Option<R>,
    /// The error of a failed file.
    pub error: Option<String>,
}

/// What [`run_dataset`] did.
#[derive(Serialize, Debug, Clone)]
pub struct DatasetReport<R> {
    /// Every input, in the order given, with its result; files after a failure that stopped
    /// the run have neither report nor error.
    pub files: Vec<DatasetFile<R>>,
    /// Files done, failed and not run.
    pub done: usize,
    pub failed: usize,
    pub not_run: usize,
}

impl<R> DatasetReport<R> {
    /// Whether every file was done.
    pub fn all_done(&self) -> bool {
        self.failed == 0 && self.not_run == 0
    }
}

/// The input files named by `patterns`: paths, or globs (`in/*.root`) expanded in sorted
/// order.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad glob or one that matches no file.
pub fn dataset_inputs<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let p = p.as_ref();
        if !p.contains(['*', '?', '[']) {
            out.push(PathBuf::from(p));
            continue;
        }
        let mut found: Vec<PathBuf> = glob::glob(p)
            .map_err(|e| Error::InvalidArgument(format!("input pattern '{p}': {e}")))?
            .filter_map(|entry| entry.ok())
            .filter(|path| path.is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "input pattern '{p}' matches no file"
            )));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Each input's output in `out_dir`: the same file name.
///
/// # Errors
/// [`Error::InvalidArgument`] when there is no input, two inputs have the same file name, or
/// an output would be its own input; [`Error::Io`] when `out_dir` cannot be made.
pub fn dataset_outputs(inputs: &[PathBuf], out_dir: &Path) -> Result<Vec<PathBuf>> {
    if inputs.is_empty() {
        return Err(Error::InvalidArgument("no input file".into()));
    }
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    same_names_in(inputs, out_dir, "would both be written to")
}

/// Each input's partner: the file of the same name in `dir` (for the pipelines that read a
/// second file beside each input: verify, the corrected copy of a stored file; analyse, the
/// stored copy of an original), or `None` for every input without a `dir` (inspect). A
/// partner that does not exist is that file's failure, not the dataset's.
///
/// # Errors
/// [`Error::InvalidArgument`] when there is no input, `dir` is not a directory, two inputs
/// have the same file name, or a partner is its own input.
pub fn dataset_partners(inputs: &[PathBuf], dir: Option<&Path>) -> Result<Vec<Option<PathBuf>>> {
    if inputs.is_empty() {
        return Err(Error::InvalidArgument("no input file".into()));
    }
    let Some(dir) = dir else {
        return Ok(vec![None; inputs.len()]);
    };
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    Ok(same_names_in(inputs, dir, "would both pair with")?
        .into_iter()
        .map(Some)
        .collect())
}

/// `dir/NAME` for each input's file name `NAME`, refusing two inputs of one name (`clash`
/// says what they would both do) and a path that is its own input.
fn same_names_in(inputs: &[PathBuf], dir: &Path, clash: &str) -> Result<Vec<PathBuf>> {
    let mut seen: HashMap<&std::ffi::OsStr, &Path> = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let name = input.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("{}: not a file name", input.display()))
        })?;
        if let Some(other) = seen.insert(name, input) {
            return Err(Error::InvalidArgument(format!(
                "{} and {} {clash} {}",
                other.display(),
                input.display(),
                dir.join(name).display()
            )));
        }
        let path = dir.join(name);
        refuse_same_file(input, &path)?;
        out.push(path);
    }
    Ok(out)
}

/// Runs `each(input, output)` on every input, its output in `out_dir` under the same name
/// ([`dataset_outputs`]), in order ([`run_each`]). Each output is written as the pipelines
/// write it (beside its target, renamed on success), so a failed file leaves no output.
///
/// # Errors
/// Only those of [`dataset_outputs`]: a file's own failure is in the report.
pub fn run_dataset<R>(
    inputs: &[PathBuf],
    out_dir: &Path,
    keep_going: bool,
    mut each: impl FnMut(&Path, &Path) -> Result<R>,
) -> Result<DatasetReport<R>> {
    let outputs = dataset_outputs(inputs, out_dir)?;
    let partners: Vec<Option<PathBuf>> = outputs.into_iter().map(Some).collect();
    Ok(run_each(inputs, &partners, keep_going, |input, output| {
        each(input, output.expect("every input has an output"))
    }))
}

/// Runs `each(input, partner)` on every input in order, with its partner (`partners[i]`:
/// an output, a file read beside it, or `None`). A failure stops the run, unless
/// `keep_going`: then it is recorded and the next file is run.
///
/// # Panics
/// When `partners` is not as long as `inputs`.
pub fn run_each<R>(
    inputs: &[PathBuf],
    partners: &[Option<PathBuf>],
    keep_going: bool,
    mut each: impl FnMut(&Path, Option<&Path>) -> Result<R>,
) -> DatasetReport<R> {
    assert!(
        partners.len() == inputs.len(),
        "run_each: {} partners for {} inputs",
        partners.len(),
        inputs.len()
    );
    let mut files = Vec::with_capacity(inputs.len());
    let (mut done, mut failed, mut stopped) = (0, 0, false);
    for (input, partner) in inputs.iter().zip(partners) {
        let mut file = DatasetFile {
            input: input.clone(),
            output: partner.clone(),
            report: None,
            error: None,
        };
        if !stopped {
            match each(input, file.output.as_deref()) {
                Ok(r) => {
                    file.report = Some(r);
                    done += 1;
                }
                Err(e) => {
                    file.error = Some(e.to_string());
                    failed += 1;
                    stopped = !keep_going;
                }
            }
        }
        files.push(file);
    }
    DatasetReport {
        not_run: files.len() - done - failed,
        files,
        done,
        failed,
    }
}
