//! Streaming rewrite of float branches: a drop-in copy of a ROOT file in which the values of
//! the selected float branches pass through a callback one basket at a time.
//!
//! This is what `refloat compress` and `refloat correct` write with. Every object, tree and
//! branch of the input is in the output; the baskets of branches that are not rewritten are
//! copied byte for byte (see `oxyroot::rewrite` in `third_party/oxyroot`). Memory is one
//! basket of values plus the file's record index, never a whole branch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::guard::guarded;
use crate::error::{Error, Result};

/// The compression of rewritten baskets: an algorithm and a level, as ROOT's `fCompress`
/// (`algorithm * 100 + level`; level 0 stores uncompressed). Parses `zlib:N`, `lzma:N`,
/// `lz4:N`, `zstd:N` (an algorithm alone takes ROOT's default level), `none`, or ROOT's
/// integer setting; displays as `zstd:5` or `none`.
///
/// ```
/// use refloat_core::io::rewrite::Compression;
/// let c: Compression = "zstd:5".parse()?;
/// assert_eq!((c.root_setting(), c.to_string()), (505, "zstd:5".to_string()));
/// assert!("zstd:99".parse::<Compression>().is_err());
/// # Ok::<(), refloat_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compression(oxyroot::Compression);

impl Compression {
    /// Store uncompressed (ROOT setting 0).
    pub const NONE: Compression = Compression(oxyroot::Compression::NONE);

    /// From ROOT's `fCompress` integer (`algorithm * 100 + level`).
    pub fn from_root_setting(setting: i32) -> Result<Self> {
        oxyroot::Compression::from_root_setting(setting)
            .map(Compression)
            .map_err(|e| Error::InvalidArgument(format!("compression setting {setting}: {e}")))
    }

    /// ROOT's `fCompress` integer (0 if uncompressed).
    pub fn root_setting(&self) -> i32 {
        self.0.root_setting()
    }

    /// Whether this setting stores data uncompressed.
    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// The bytes `data` takes as a ROOT record payload under this setting: compressed in
    /// ROOT's blocks with their headers, or as given when compression would not shrink it.
    pub fn compressed_len(&self, data: Vec<u8>) -> Result<usize> {
        oxyroot::compress(data, self.0)
            .map(|z| z.len())
            .map_err(|e| Error::InvalidInput(format!("compressing with {self}: {e}")))
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.parse::<oxyroot::Compression>()
            .map(Compression)
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    }
}

/// What [`rewrite_floats`] rewrites and how.
#[derive(Clone, Debug)]
pub struct RewriteOptions {
    /// Tree whose float branches are rewritten (every cycle of this name).
    pub tree: String,
    /// Full names of the float or `std::vector<float>` branches to rewrite (as
    /// [`Tree::select`](super::Tree::select) gives them). Each must exist.
    pub branches: Vec<String>,
    /// Compression of the rewritten baskets and tree headers; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Check each rewritten basket from the bytes about to be written (decompressed, parsed
    /// and compared bit for bit with the values the callback left), instead of re-reading
    /// the file; see [`Rewritten::values_verified`].
    pub verify_written: bool,
    /// What to do with a copied record (a basket of another branch, an object) whose
    /// compressed payload does not decode, checksums included.
    pub copies: CopyCheck,
    /// Threads that decompress, check and compress baskets: 0 every core, 1 this thread
    /// alone. The callback runs on one thread in file order whatever the count, and the
    /// output is the same bytes; memory holds four baskets per thread.
    pub threads: usize,
}

/// What [`rewrite_floats`] does with a record it copies byte for byte whose compressed payload
/// does not decode (zlib's Adler-32, the xxhash of ROOT's LZ4 blocks, a zstd or LZMA stream
/// that fails): the input is damaged, and a byte-for-byte copy would pass the damage on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyCheck {
    /// Fail, naming the record; no output is written.
    #[default]
    Error,
    /// Copy it anyway and list it in [`Rewritten::damaged_copies`].
    Warn,
    /// Copy without decoding (what the check costs is measured against this).
    Off,
}

/// One basket of a rewritten branch, handed to the callback of [`rewrite_floats`].
#[derive(Debug)]
pub struct Basket<'a> {
    /// Full name of the branch.
    pub branch: &'a str,
    /// Index of `values[0]` among all values of the branch (entries flattened).
    pub first_value: u64,
    /// Tree entry of the basket's first entry.
    pub first_entry: u64,
    /// Values per entry for jagged branches (`None`: one float per entry).
    pub counts: Option<&'a [u32]>,
    /// The basket's values; change them in place (their number is fixed).
    pub values: &'a mut [f32],
}

/// What [`rewrite_floats`] did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rewritten {
    /// The output file.
    pub path: PathBuf,
    /// Input and output sizes in bytes.
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// The compression written (`zstd:5`, `zlib:1`, `none`).
    pub compression: String,
    /// ROOT's `fCompress` of the output (`algorithm * 100 + level`).
    pub compression_setting: i32,
    /// Values that went through the callback, per rewritten branch (in the order given).
    pub values: Vec<(String, u64)>,
    /// Baskets that went through the callback.
    pub baskets_rewritten: u64,
    /// Values read back from the written bytes and found equal to the callback's
    /// ([`RewriteOptions::verify_written`]; 0 without it).
    pub values_verified: u64,
    /// Other records (objects, baskets of other branches) copied byte for byte.
    pub records_copied: u64,
    /// Copied records whose compressed payload was decoded and found whole.
    pub copies_checked: u64,
    /// Copied records that do not decode, each with where and why ([`CopyCheck::Warn`]).
    pub damaged_copies: Vec<String>,
}

/// Rewrites `input` into `output` (atomically: a temporary file beside it, renamed on
/// success), passing every basket of the selected branches of `options.tree` to `transform`,
/// in file order; values of one branch arrive in order and `first_value` counts them.
///
/// # Errors
/// [`Error::Root`] naming the file and the problem (a branch missing or not a float branch,
/// an unsupported file feature, a corrupt basket, baskets of a branch stored out of order),
/// or the error `transform` returned (with the branch named). No output is left then, and an
/// existing file at `output` is untouched.
pub fn rewrite_floats<F>(
    input: &Path,
    output: &Path,
    options: &RewriteOptions,
    mut transform: F,
) -> Result<Rewritten>
where
    F: FnMut(&mut Basket<'_>) -> Result<()>,
{
    let root_error = |message: String| Error::Root {
        path: input.to_path_buf(),
        message,
    };
    if !input.is_file() {
        return Err(Error::Io {
            path: input.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let opts = oxyroot::rewrite::RewriteOptions {
        compression: options.compression.map(|c| c.0),
        recompress_untouched: false,
        verify_written: options.verify_written,
        damage_written_for_tests: crate::error::fault_injected("written"),
        check_copied: match options.copies {
            CopyCheck::Error => oxyroot::rewrite::CopyCheck::Error,
            CopyCheck::Warn => oxyroot::rewrite::CopyCheck::Warn,
            CopyCheck::Off => oxyroot::rewrite::CopyCheck::Off,
        },
        trees: Some(vec![options.tree.clone()]),
        branches: Some(options.branches.clone()),
        threads: options.threads,
    };
    // Per branch: (next basket index, values seen so far).
    let mut progress: HashMap<String, (usize, u64)> = options
        .branches
        .iter()
        .map(|b| (b.clone(), (0, 0)))
        .collect();
    // The callback's own error, kept whole (oxyroot only carries a message).
    let mut failure: Option<Error> = None;
    let result = guarded(|| {
        oxyroot::rewrite::rewrite_file(input, output, &opts, |b| {
            let (next_basket, seen) = progress
                .get_mut(b.branch)
                .ok_or_else(|| format!("branch '{}' was not selected", b.branch))?;
            if b.basket != *next_basket {
                return Err(format!(
                    "branch '{}': basket {} is stored before basket {}; refloat rewrites baskets in file order and needs them in entry order",
                    b.branch, b.basket, next_basket
                ));
            }
            let mut basket = Basket {
                branch: b.branch,
                first_value: *seen,
                first_entry: b.first_entry.max(0) as u64,
                counts: b.counts,
                values: b.values,
            };
            let n = basket.values.len() as u64;
            if let Err(e) = transform(&mut basket) {
                let message = format!("branch '{}': {e}", b.branch);
                failure = Some(e);
                return Err(message);
            }
            *next_basket += 1;
            *seen += n;
            Ok(())
        })
    });
    let report = match result {
        Err(panic) => return Err(root_error(panic)),
        Ok(Err(e)) => {
            if let Some(e) = failure {
                return Err(e);
            }
            return Err(match e {
                oxyroot::FileError::Rewrite(m) => Error::Root {
                    // oxyroot's message starts with the input path already.
                    path: input.to_path_buf(),
                    message: m
                        .strip_prefix(&format!("{}: ", input.display()))
                        .unwrap_or(&m)
                        .to_string(),
                },
                e => root_error(format!("rewriting into {}: {e}", output.display())),
            });
        }
        Ok(Ok(r)) => r,
    };
    let compression = report.compression;
    Ok(Rewritten {
        path: output.to_path_buf(),
        input_bytes: report.input_bytes,
        output_bytes: report.output_bytes,
        compression: Compression(compression).to_string(),
        compression_setting: compression.root_setting(),
        values: options
            .branches
            .iter()
            .map(|b| (b.clone(), progress[b].1))
            .collect(),
        baskets_rewritten: report.baskets_rewritten,
        values_verified: report.values_verified,
        records_copied: report.records_copied,
        copies_checked: report.copies_checked,
        damaged_copies: report.damaged_copies,
    })
}
