//! `refloat verify`: check that a corrected file belongs to its stored file (every value
//! re-quantises to the stored one, bit for bit). The work is the library's
//! [`refloat::pipeline::verify_file`].

use std::path::{Path, PathBuf};

use anyhow::Result;
use refloat::pipeline::{verify_file, VerifyOptions, VerifyReport};

use super::common::{self, SelectArgs};

/// Arguments of `refloat verify`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat verify comp.root corrected.root
  refloat verify comp.root corrected.root --bits 10 --mode truncate --branches 'AnalysisJetsAuxDyn.*'
  refloat verify 'comp/*.root' --corrected-dir corrected/ --keep-going --json verify.json")]
pub struct Args {
    /// The stored (compressed) ROOT file, then the corrected file to check against it. With
    /// --corrected-dir: every stored file (paths or quoted globs such as 'comp/*.root').
    #[arg(required = true, value_name = "STORED CORRECTED")]
    pub paths: Vec<String>,
    /// Check each stored file against the file of the same name in this directory (as
    /// `correct --out-dir` writes them).
    #[arg(long, value_name = "DIR")]
    pub corrected_dir: Option<PathBuf>,
    /// With --corrected-dir: a file that fails is reported and the next one is checked (by
    /// default the run stops at the first failure).
    #[arg(long, requires = "corrected_dir")]
    pub keep_going: bool,
    /// Also write the report as JSON here (with --corrected-dir: the dataset's, each file's
    /// inside it).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Kept mantissa bits of the stored file, 0..=23. Default: resolved per branch, as
    /// `correct` does.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding the stored file was made with. Default: resolved per branch, as `correct`
    /// does.
    #[arg(long, value_enum)]
    pub mode: Option<common::Mode>,
    /// Whose defaults apply (atlas, cms, unknown), as for `correct`. Default: the tree's.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Check the invariant alone, not that values exact by nature are unchanged (a file
    /// corrected with --correct-exact, or originals against the file stored from them).
    #[arg(long)]
    pub correct_exact: bool,
    #[command(flatten)]
    pub select: SelectArgs,
}

/// Runs `refloat verify`.
pub fn run(args: Args) -> Result<()> {
    let opts = VerifyOptions {
        select: args.select.to_select(),
        bits: args.bits,
        mode: args.mode.map(Into::into),
        format: args
            .format
            .as_deref()
            .map(refloat::resolve::Format::parse)
            .transpose()?,
        ..VerifyOptions::default()
    };
    if let Some(dir) = &args.corrected_dir {
        return common::run_each(
            &args.paths,
            Some(dir),
            args.keep_going,
            args.json.as_deref(),
            |stored, corrected| {
                let corrected = corrected.expect("a partner per file");
                let r = verify_file(stored, corrected, &opts, &mut common::bars())?;
                say(&r, stored, corrected);
                Ok(r)
            },
        );
    }
    let [stored, corrected] = args.paths.as_slice() else {
        anyhow::bail!(
            "give STORED CORRECTED, or stored files and --corrected-dir DIR (got {} paths)",
            args.paths.len()
        );
    };
    let (stored, corrected) = (Path::new(stored), Path::new(corrected));
    let r = verify_file(stored, corrected, &opts, &mut common::bars())?;
    if let Some(json) = &args.json {
        common::write_json(json, &r)?;
    }
    say(&r, stored, corrected);
    Ok(())
}

fn say(r: &VerifyReport, stored: &Path, corrected: &Path) {
    let not_inferable = r.branches.iter().filter(|(_, b)| b.is_none()).count();
    println!(
        "{}: all {} values of {} float branches re-quantise bit for bit to {}{}",
        corrected.display(),
        r.values,
        r.branches.len(),
        stored.display(),
        if not_inferable > 0 {
            format!(" ({not_inferable} branches without inferable bits: checked equal)")
        } else {
            String::new()
        }
    );
}
