//! `refloat verify`: check that a corrected file belongs to its stored file (every value
//! re-quantises to the stored one, bit for bit). The work is the library's
//! [`refloat::pipeline::verify_file`].

use std::path::PathBuf;

use anyhow::Result;
use refloat::pipeline::{verify_file, VerifyOptions};

use super::common::{self, SelectArgs};

/// Arguments of `refloat verify`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat verify comp.root corrected.root
  refloat verify comp.root corrected.root --bits 10 --mode truncate --branches 'AnalysisJetsAuxDyn.*'")]
pub struct Args {
    /// The stored (compressed) ROOT file.
    pub stored: PathBuf,
    /// The corrected file to check against it.
    pub corrected: PathBuf,
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
    let r = verify_file(&args.stored, &args.corrected, &opts, &mut common::bars())?;
    let not_inferable = r.branches.iter().filter(|(_, b)| b.is_none()).count();
    println!(
        "{}: all {} values of {} float branches re-quantise bit for bit to {}{}",
        args.corrected.display(),
        r.values,
        r.branches.len(),
        args.stored.display(),
        if not_inferable > 0 {
            format!(" ({not_inferable} branches without inferable bits: checked equal)")
        } else {
            String::new()
        }
    );
    Ok(())
}
