//! Rewriting a ROOT file with new values in some float branches, everything else kept.
//!
//! [`rewrite_file`] produces a drop-in replacement of its input: every object of every
//! directory, every tree and every branch is in the output; the baskets of the selected
//! float branches (`float`, `float[n]`, `std::vector<float>`, see
//! [`FloatStorage`](crate::FloatStorage)) are decompressed, handed to a callback that may
//! change the values in place, and compressed again with the output compression; all other
//! records are copied byte for byte (optionally recompressing untouched baskets).
//!
//! How: the file is a sequence of records (a key header followed by its payload; gaps have a
//! negative length), which is walked from `fBEGIN` to `fEND` as ROOT's `TFile::Map` does.
//! Records are written in the same order; since rewritten baskets change size, every record
//! moves, and every pointer to a record is remapped: the key headers (`fSeekKey`,
//! `fSeekPdir`), the directory headers (`fSeekDir`, `fSeekParent`, `fSeekKeys`), the key
//! lists, the file header (`fEND`, `fSeekFree`, `fSeekInfo`) and, inside each tree header,
//! every branch's `fBasketSeek` and `fBasketBytes` (plus `fZipBytes`, `fCompress`). Tree
//! headers are compressed objects whose size depends on these pointers, so they are written
//! after all other records; the free-segment list is written last. Since values change but
//! their number does not, a basket keeps its uncompressed layout, its `fObjlen`, its entry
//! offsets and its key length: only its compressed bytes change.
//!
//! The output is written to a temporary file beside the target and renamed onto it only when
//! everything succeeded; on an error, or a panic unwinding out of the callback, nothing is
//! left behind.
//!
//! Not supported (an error, never a wrong file): trees with a `TBranchRef`, RNTuples,
//! compressed key lists, and an output that would outgrow 32-bit offsets where the input
//! used them. A float branch with entries in a basket embedded in its tree header (left by
//! `AutoSave`) cannot be rewritten: an error if it was named in
//! [`RewriteOptions::branches`], else it is left unchanged and listed in
//! [`RewriteReport::skipped_branches`].

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::rcompress::{compress, Compression};
use crate::riofs::{Error, Result};
use crate::rtree::branch::TBranch;
use crate::rtree::floats::{
    basket_header, float_layout, read_values, record_payload, write_values, FloatStorage,
};
use crate::{Branch, RBuffer, ReaderTree, RootFile, Unmarshaler};

/// What to rewrite and how.
#[derive(Clone, Debug, Default)]
pub struct RewriteOptions {
    /// Compression of the rewritten baskets, the tree headers and the file header's
    /// `fCompress`; `None` keeps the input file's setting.
    pub compression: Option<Compression>,
    /// Also decompress and recompress, with the output compression, the baskets of branches
    /// that are not rewritten (by default they are copied byte for byte).
    pub recompress_untouched: bool,
    /// Check every rewritten basket from the bytes about to be written: decompress them,
    /// parse the basket layout again and compare its values, bit for bit, with the ones the
    /// callback left (an error names the basket otherwise). This vouches for what is handed
    /// to the file without re-reading it.
    pub verify_written: bool,
    /// Tests only: flip a byte of each rewritten basket before it is checked, to show that
    /// [`verify_written`](Self::verify_written) catches it.
    #[doc(hidden)]
    pub damage_written_for_tests: bool,
    /// Check every compressed record copied byte for byte (baskets of other branches,
    /// objects): decompress it, its checksums included (zlib's Adler-32, ROOT's xxhash of LZ4
    /// blocks; a damaged zstd or LZMA stream mostly fails to decode), so that a damaged input
    /// is not passed on unnoticed.
    pub check_copied: CopyCheck,
    /// Names of the trees whose float branches may be rewritten (all cycles of a name);
    /// `None`: every tree.
    pub trees: Option<Vec<String>>,
    /// Full names of the branches to rewrite; each must exist in a selected tree and be a
    /// float branch. `None`: every float branch of the selected trees.
    pub branches: Option<Vec<String>>,
    /// Threads that decompress, check and compress records: 0 (default) every core (rayon's
    /// pool), 1 this thread alone. The callback runs on one thread, in file order, whatever
    /// the count, and the output is the same bytes.
    pub threads: usize,
}

/// What [`RewriteOptions::check_copied`] does with a copied record that does not decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CopyCheck {
    /// Copy without decoding.
    #[default]
    Off,
    /// Fail, naming the record (nothing is written).
    Error,
    /// Copy it anyway and list it in [`RewriteReport::damaged_copies`].
    Warn,
}

/// The values of one basket of a rewritten branch, handed to the callback of
/// [`rewrite_file`], which may change them in place (but not their number).
#[derive(Debug)]
pub struct FloatBasket<'a> {
    /// Name of the tree (its key name).
    pub tree: &'a str,
    /// Full name of the branch.
    pub branch: &'a str,
    /// How the branch stores its floats.
    pub storage: FloatStorage,
    /// Index of the basket in the branch.
    pub basket: usize,
    /// Tree entry number of the basket's first entry.
    pub first_entry: i64,
    /// Values per entry (`None` for one float per entry).
    pub counts: Option<&'a [u32]>,
    /// The values of all the basket's entries, in order.
    pub values: &'a mut [f32],
}

/// What [`rewrite_file`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteReport {
    /// Size of the input file in bytes.
    pub input_bytes: u64,
    /// Size of the output file in bytes.
    pub output_bytes: u64,
    /// The compression written (file header `fCompress`, rewritten baskets, tree headers).
    pub compression: Compression,
    /// `tree/branch` of each rewritten branch, sorted.
    pub rewritten_branches: Vec<String>,
    /// Baskets whose values went through the callback.
    pub baskets_rewritten: u64,
    /// Baskets of other branches decompressed and recompressed.
    pub baskets_recompressed: u64,
    /// Values checked from the written bytes ([`RewriteOptions::verify_written`]).
    pub values_verified: u64,
    /// Records copied byte for byte (baskets and other objects).
    pub records_copied: u64,
    /// Float branches selected by default (no explicit [`RewriteOptions::branches`]) that
    /// were left unchanged, with the reason (e.g. entries in an embedded basket).
    pub skipped_branches: Vec<String>,
    /// Compressed records copied whose payload was decoded and found whole
    /// ([`RewriteOptions::check_copied`]).
    pub copies_checked: u64,
    /// Copied records that do not decode, each with why ([`CopyCheck::Warn`]).
    pub damaged_copies: Vec<String>,
}

/// Rewrites the ROOT file `input` into `output`, passing every basket of the selected float
/// branches to `transform`, which may change the values in place; see the
/// [module documentation](self) for what is kept and how.
///
/// ```
/// use oxyroot::rewrite::{rewrite_file, RewriteOptions};
/// use oxyroot::{RootFile, WriterTree};
/// let dir = std::env::temp_dir();
/// let (src, dst) = (dir.join("oxyroot_doc_rw_in.root"), dir.join("oxyroot_doc_rw_out.root"));
/// let mut f = RootFile::create(&src).unwrap();
/// let mut t = WriterTree::new("t");
/// t.new_branch("x", (0..1000).map(|i| i as f32 + 0.3));
/// t.new_branch("n", 0..1000i32);
/// t.write(&mut f).unwrap();
/// f.close().unwrap();
///
/// let opts = RewriteOptions { compression: Some("zstd:5".parse().unwrap()), ..Default::default() };
/// let report = rewrite_file(&src, &dst, &opts, |b| {
///     b.values.iter_mut().for_each(|v| *v = v.floor());
///     Ok(())
/// })
/// .unwrap();
/// assert_eq!(report.rewritten_branches, ["t/x"]);
/// let mut out = RootFile::open(&dst).unwrap();
/// let t = out.get_tree("t").unwrap();
/// let x = t.branch("x").unwrap().read_floats().unwrap().values;
/// assert_eq!(x[7], 7.0);
/// let n: Vec<i32> = t.branch("n").unwrap().as_iter::<i32>().unwrap().collect();
/// assert_eq!(n[999], 999);
/// ```
///
/// # Errors
/// [`Error::Rewrite`] naming the problem (a selected branch missing or not a float branch,
/// a basket whose layout is not what its storage produces, the callback's own error
/// message, an unsupported file feature), or the I/O / decompression error; the output is
/// then not created (an existing file at `output` is left as it was).
pub fn rewrite_file<F>(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    options: &RewriteOptions,
    transform: F,
) -> Result<RewriteReport>
where
    F: FnMut(&mut FloatBasket<'_>) -> std::result::Result<(), String>,
{
    let (input, output) = (input.as_ref(), output.as_ref());
    if same_file(input, output) {
        return Err(Error::Rewrite(format!(
            "{}: refusing to rewrite a file onto itself",
            input.display()
        )));
    }
    // Removes the temporary file on an error return and on unwinding (a panic in
    // `transform` or in the rewriter) alike; disarmed once renamed onto `output`.
    let mut tmp = TemporaryFile {
        path: temporary_path(output),
        renamed: false,
    };
    let result = (|| {
        let out = File::create(&tmp.path)?;
        let report = Rewriter::new(input, options)?.run(out, transform)?;
        std::fs::rename(&tmp.path, output)?;
        tmp.renamed = true;
        Ok(report)
    })();
    result.map_err(|e| match e {
        Error::Rewrite(m) => Error::Rewrite(format!("{}: {m}", input.display())),
        e => e,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A temporary output file, removed when dropped unless it was renamed onto the output.
struct TemporaryFile {
    path: PathBuf,
    renamed: bool,
}

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn temporary_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output.root".into());
    output.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

fn rewrite_error(message: impl Into<String>) -> Error {
    Error::Rewrite(message.into())
}

/// 32-bit offsets in ROOT's small-file formats (`kStartBigFile`).
const SMALL_FILE_LIMIT: u64 = 2_000_000_000;

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads a big-endian signed integer of `width` (4 or 8) bytes.
fn read_seek(b: &[u8], at: usize, width: usize) -> i64 {
    if width == 8 {
        be_i64(b, at)
    } else {
        be_i32(b, at) as i64
    }
}

/// Writes `value` as a big-endian integer of `width` bytes, checking that it fits.
fn write_seek(b: &mut [u8], at: usize, width: usize, value: u64, what: &str) -> Result<()> {
    if width == 8 {
        b[at..at + 8].copy_from_slice(&(value as i64).to_be_bytes());
    } else {
        if value > i32::MAX as u64 {
            return Err(rewrite_error(format!(
                "{what} {value} does not fit the 32-bit field of the input's small-file format"
            )));
        }
        b[at..at + 4].copy_from_slice(&(value as i32).to_be_bytes());
    }
    Ok(())
}

/// The fields of a key header (`TKey`) a rewrite needs.
#[derive(Clone, Debug)]
struct KeyHeader {
    n_bytes: i32,
    obj_len: i32,
    key_len: usize,
    /// 8 if seeks are 64-bit (key version > 1000), else 4.
    width: usize,
    seek_key: i64,
    seek_pdir: i64,
    class: String,
    name: String,
}

const KEY_SEEK_AT: usize = 18;

fn read_tstring(b: &[u8], at: &mut usize) -> std::result::Result<String, String> {
    let short = *b.get(*at).ok_or("truncated string")?;
    *at += 1;
    let len = if short == 255 {
        let l = b.get(*at..*at + 4).ok_or("truncated string")?;
        *at += 4;
        u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize
    } else {
        short as usize
    };
    let s = b.get(*at..*at + len).ok_or("truncated string")?;
    *at += len;
    Ok(String::from_utf8_lossy(s).into_owned())
}

/// Parses a key header from `b` (which holds at least the whole header).
fn parse_key(b: &[u8]) -> std::result::Result<KeyHeader, String> {
    if b.len() < KEY_SEEK_AT + 8 {
        return Err("truncated key header".into());
    }
    let n_bytes = be_i32(b, 0);
    let version = be_i16(b, 4);
    let obj_len = be_i32(b, 6);
    let key_len = be_i16(b, 14);
    let width = if version > 1000 { 8 } else { 4 };
    if key_len <= 0 || (key_len as usize) > b.len() || n_bytes < key_len as i32 || obj_len < 0 {
        return Err(format!(
            "inconsistent key header (fNbytes {n_bytes}, fObjlen {obj_len}, fKeylen {key_len})"
        ));
    }
    let seek_key = read_seek(b, KEY_SEEK_AT, width);
    let seek_pdir = read_seek(b, KEY_SEEK_AT + width, width);
    let mut at = KEY_SEEK_AT + 2 * width;
    let class = read_tstring(b, &mut at)?;
    let name = read_tstring(b, &mut at)?;
    Ok(KeyHeader {
        n_bytes,
        obj_len,
        key_len: key_len as usize,
        width,
        seek_key,
        seek_pdir,
        class,
        name,
    })
}

/// Patches `fNbytes`, `fSeekKey` and `fSeekPdir` of a key header in place.
fn patch_key(b: &mut [u8], n_bytes: u64, seek_key: u64, seek_pdir: u64) -> Result<()> {
    let width = if be_i16(b, 4) > 1000 { 8 } else { 4 };
    if n_bytes > i32::MAX as u64 {
        return Err(rewrite_error(format!(
            "record of {n_bytes} bytes is too large"
        )));
    }
    b[0..4].copy_from_slice(&(n_bytes as i32).to_be_bytes());
    write_seek(b, KEY_SEEK_AT, width, seek_key, "fSeekKey")?;
    write_seek(b, KEY_SEEK_AT + width, width, seek_pdir, "fSeekPdir")?;
    Ok(())
}

/// The `TFile` header fields, with their positions (small or big format).
#[derive(Clone, Debug)]
struct FileHeader {
    bytes: Vec<u8>,
    big: bool,
    begin: u64,
    end: u64,
    seek_free: u64,
    nbytes_name: usize,
    compress: i32,
    seek_info: u64,
}

impl FileHeader {
    // Offsets (small, big) of: fEND, fSeekFree, fNbytesFree, nfree, fNbytesName, fUnits,
    // fCompress, fSeekInfo, fNbytesInfo.
    fn offsets(big: bool) -> [usize; 9] {
        if big {
            [12, 20, 28, 32, 36, 40, 41, 45, 53]
        } else {
            [12, 16, 20, 24, 28, 32, 33, 37, 41]
        }
    }

    fn parse(bytes: Vec<u8>) -> std::result::Result<Self, String> {
        if bytes.len() < 64 || &bytes[0..4] != b"root" {
            return Err("not a ROOT file (no 'root' signature)".into());
        }
        let version = be_i32(&bytes, 4);
        let big = version > 1_000_000;
        let o = Self::offsets(big);
        let w = if big { 8 } else { 4 };
        let begin = be_i32(&bytes, 8) as i64;
        let end = read_seek(&bytes, o[0], w);
        let seek_free = read_seek(&bytes, o[1], w);
        let nbytes_name = be_i32(&bytes, o[4]);
        let compress = be_i32(&bytes, o[6]);
        let seek_info = read_seek(&bytes, o[7], w);
        if begin <= 0 || end < begin || seek_free < 0 || seek_info < 0 || nbytes_name <= 0 {
            return Err("corrupt file header".into());
        }
        Ok(FileHeader {
            bytes,
            big,
            begin: begin as u64,
            end: end as u64,
            seek_free: seek_free as u64,
            nbytes_name: nbytes_name as usize,
            compress,
            seek_info: seek_info as u64,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn patched(
        &self,
        end: u64,
        seek_free: u64,
        nbytes_free: u64,
        nfree: i32,
        compress: i32,
        seek_info: u64,
        nbytes_info: u64,
    ) -> Result<Vec<u8>> {
        let mut b = self.bytes.clone();
        let o = Self::offsets(self.big);
        let w = if self.big { 8 } else { 4 };
        write_seek(&mut b, o[0], w, end, "fEND")?;
        write_seek(&mut b, o[1], w, seek_free, "fSeekFree")?;
        b[o[2]..o[2] + 4].copy_from_slice(&(nbytes_free as i32).to_be_bytes());
        b[o[3]..o[3] + 4].copy_from_slice(&nfree.to_be_bytes());
        b[o[6]..o[6] + 4].copy_from_slice(&compress.to_be_bytes());
        write_seek(&mut b, o[7], w, seek_info, "fSeekInfo")?;
        b[o[8]..o[8] + 4].copy_from_slice(&(nbytes_info as i32).to_be_bytes());
        Ok(b)
    }
}

/// One record of the input file.
#[derive(Clone, Debug)]
struct Record {
    pos: u64,
    key: KeyHeader,
}

impl Record {
    fn n_bytes(&self) -> u64 {
        self.key.n_bytes as u64
    }
}

struct Input {
    file: BufReader<File>,
    len: u64,
    /// Where the next read starts (records are mostly read one after the other: no seek,
    /// which would drop the buffer).
    at: u64,
}

impl Input {
    fn read_at(&mut self, pos: u64, len: usize) -> Result<Vec<u8>> {
        if pos + len as u64 > self.len {
            return Err(rewrite_error(format!(
                "truncated file: {len} bytes at offset {pos} run past its end ({} bytes)",
                self.len
            )));
        }
        if pos != self.at {
            self.file.seek(SeekFrom::Start(pos))?;
        }
        let mut buf = vec![0u8; len];
        self.at = u64::MAX; // unknown until the read succeeds
        self.file.read_exact(&mut buf)?;
        self.at = pos + len as u64;
        Ok(buf)
    }
}

/// A tree header record, parsed, with what its branches point to.
struct TreeRecord {
    record: usize,
    name: String,
    payload: Vec<u8>,
    zip_bytes_pos: Option<(usize, bool)>,
    branches: Vec<BranchRecord>,
}

struct BranchRecord {
    name: String,
    storage: Option<FloatStorage>,
    selected: bool,
    fields: crate::rtree::branch::tbranch::StreamedFields,
    seeks: Vec<i64>,
    bytes: Vec<i32>,
    first_entries: Vec<i64>,
}

/// Which branch a basket record belongs to.
#[derive(Clone, Copy)]
struct BasketOwner {
    tree: usize,
    branch: usize,
    basket: usize,
}

/// What the rewriter does with a record of the input.
enum Work {
    /// A basket of a selected branch: its values go through the callback.
    Rewrite(BasketOwner),
    /// A basket of another branch, recompressed ([`RewriteOptions::recompress_untouched`]).
    Recompress,
    /// Anything else: copied byte for byte.
    Copy,
}

/// A basket of a selected branch, decompressed, its values read.
struct DecodedBasket {
    owner: BasketOwner,
    bytes: Vec<u8>,
    header: crate::rtree::floats::BasketHeader,
    payload: Vec<u8>,
    layout: crate::rtree::floats::FloatLayout,
    values: Vec<f32>,
}

/// A record of a window before the callback.
enum Prepared {
    Basket(Box<DecodedBasket>),
    Recompressed(Vec<u8>),
    Copy(Vec<u8>, CopyChecked),
}

/// A record of a window ready to be written.
enum Finished {
    /// The new bytes, the values verified, whose basket.
    Rewritten(Vec<u8>, u64, BasketOwner),
    Recompressed(Vec<u8>),
    Copied(Vec<u8>, CopyChecked),
}

/// What [`RewriteOptions::check_copied`] found of a copied record.
enum CopyChecked {
    /// Not decoded (checks off, or stored uncompressed).
    Unchecked,
    Whole,
    /// Damaged, described (copied anyway: [`CopyCheck::Warn`]).
    Damaged(String),
}

/// A directory: the record holding its header and where in it the header starts.
struct Directory {
    record_pos: u64,
    header_at: usize,
}

struct Rewriter {
    input: Input,
    header: FileHeader,
    records: Vec<Record>,
    trees: Vec<TreeRecord>,
    owners: HashMap<u64, BasketOwner>,
    directories: Vec<Directory>,
    key_lists: HashSet<u64>,
    compression: Compression,
    recompress_untouched: bool,
    verify_written: bool,
    damage_written: bool,
    check_copied: CopyCheck,
    skipped: Vec<String>,
    workers: Workers,
}

/// Where the records of a window are decoded, checked and encoded
/// ([`RewriteOptions::threads`]).
enum Workers {
    /// This thread.
    One,
    /// Rayon's global pool (every core).
    All,
    /// A pool of its own.
    Pool(rayon::ThreadPool),
}

impl Workers {
    fn new(threads: usize) -> Result<Self> {
        Ok(match threads {
            0 => Workers::All,
            1 => Workers::One,
            n => Workers::Pool(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| rewrite_error(format!("starting {n} threads: {e}")))?,
            ),
        })
    }

    /// Records handled at once, and their bytes in the input at most (one record may go
    /// past): enough per thread that handing them out costs little beside decoding them,
    /// few enough that memory stays that of a few baskets, whatever the file.
    fn window(&self) -> (usize, u64) {
        let threads = match self {
            Workers::One => return (1, 0),
            Workers::All => rayon::current_num_threads(),
            Workers::Pool(p) => p.current_num_threads(),
        };
        (64 * threads, (128 << 10) * threads as u64)
    }

    /// `f` of each item, in the items' order.
    fn map<T: Send, R: Send>(&self, items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
        use rayon::prelude::*;
        match self {
            Workers::One => items.into_iter().map(f).collect(),
            Workers::All => items.into_par_iter().map(f).collect(),
            Workers::Pool(p) => p.install(|| items.into_par_iter().map(f).collect()),
        }
    }
}

fn is_tree_class(class: &str) -> bool {
    matches!(class, "TTree" | "TNtuple" | "TNtupleD")
}

fn is_directory_class(class: &str) -> bool {
    matches!(class, "TDirectory" | "TDirectoryFile")
}

impl Rewriter {
    fn new(path: &Path, options: &RewriteOptions) -> Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut input = Input {
            file: BufReader::new(file),
            len,
            at: u64::MAX,
        };
        let head = input.read_at(0, 64.min(len as usize))?;
        let begin = if head.len() >= 12 {
            be_i32(&head, 8).max(64) as usize
        } else {
            64
        };
        let header =
            FileHeader::parse(input.read_at(0, begin.min(len as usize))?).map_err(rewrite_error)?;
        if header.end > len {
            return Err(rewrite_error(format!(
                "truncated file: the header says it ends at byte {} but it has {len}",
                header.end
            )));
        }
        let compression = match options.compression {
            Some(c) => c,
            None => Compression::from_root_setting(header.compress)?,
        };

        // Streamer infos (to recognise vector<float> members of split classes).
        let sinfos = RootFile::open(path)?.streamer_infos();

        // Free space is either marked in place (a negative record length, as ROOT does) or
        // only listed in the free-segment record (as uproot does): skip both.
        let free_segments = if header.seek_free > 0 && header.seek_free < header.end {
            let head = input.read_at(header.seek_free, 18)?;
            let (n, key_len) = (be_i32(&head, 0), be_i16(&head, 14));
            if n <= 0 || key_len <= 0 || key_len as i32 > n {
                return Err(rewrite_error(format!(
                    "corrupt free-segment record at offset {}",
                    header.seek_free
                )));
            }
            let rec = input.read_at(header.seek_free, n as usize)?;
            parse_free_segments(&rec[key_len as usize..])
        } else {
            Vec::new()
        };
        let records = walk_records(&mut input, header.begin, header.end, &free_segments)?;
        let by_pos: HashMap<u64, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.pos, i))
            .collect();
        for r in &records {
            if r.key.class.contains("RNTuple") {
                return Err(rewrite_error(format!(
                    "object '{}' is an RNTuple ({}), which cannot be relocated",
                    r.key.name, r.key.class
                )));
            }
        }

        // Directories and their key lists, from the top directory down.
        let mut directories = Vec::new();
        let mut key_lists = HashSet::new();
        let mut todo = vec![(header.begin, header.nbytes_name)];
        while let Some((record_pos, header_at)) = todo.pop() {
            let rec = &records[*by_pos.get(&record_pos).ok_or_else(|| {
                rewrite_error(format!("no directory record at offset {record_pos}"))
            })?];
            let bytes = input.read_at(rec.pos, rec.n_bytes() as usize)?;
            let (seek_dir, _, seek_keys) = directory_seeks(&bytes, header_at)?;
            if seek_dir != record_pos as i64 {
                return Err(rewrite_error(format!(
                    "directory '{}' at offset {record_pos} says fSeekDir = {seek_dir} (unsupported layout)",
                    rec.key.name
                )));
            }
            directories.push(Directory {
                record_pos,
                header_at,
            });
            if seek_keys <= 0 {
                continue;
            }
            let seek_keys = seek_keys as u64;
            let list = &records[*by_pos.get(&seek_keys).ok_or_else(|| {
                rewrite_error(format!("no key list record at offset {seek_keys}"))
            })?];
            key_lists.insert(seek_keys);
            for key in key_list_entries(&mut input, list)? {
                if is_directory_class(&key.1.class) {
                    let sub = &records[*by_pos.get(&(key.1.seek_key as u64)).ok_or_else(|| {
                        rewrite_error(format!(
                            "subdirectory '{}' points to offset {} where no record starts",
                            key.1.name, key.1.seek_key
                        ))
                    })?];
                    todo.push((sub.pos, sub.key.key_len));
                }
            }
        }

        // Tree headers: parse each to find what its branches point to.
        let mut trees = Vec::new();
        let mut skipped = Vec::new();
        for (i, rec) in records.iter().enumerate() {
            if !is_tree_class(&rec.key.class) || key_lists.contains(&rec.pos) {
                continue;
            }
            let bytes = input.read_at(rec.pos, rec.n_bytes() as usize)?;
            let payload = record_payload(&bytes, rec.key.key_len, rec.key.obj_len as usize)?;
            let mut tree = ReaderTree::default();
            {
                let mut r = RBuffer::new(&payload, rec.key.key_len as u32);
                tree.unmarshal(&mut r).map_err(|e| {
                    rewrite_error(format!("tree '{}' cannot be read: {e:?}", rec.key.name))
                })?;
            }
            if tree.has_branch_ref {
                return Err(rewrite_error(format!(
                    "tree '{}' has a TBranchRef, whose baskets cannot be relocated",
                    rec.key.name
                )));
            }
            tree.set_streamer_info(sinfos.clone());
            let wanted_tree = options
                .trees
                .as_ref()
                .map_or(true, |t| t.iter().any(|n| n == &rec.key.name));
            let mut branches = Vec::new();
            for b in tree.branches_r() {
                let tb: &TBranch = b.into();
                let storage = b.float_storage();
                let mut selected = wanted_tree && storage.is_some() && selected_name(options, b);
                if selected && tb.baskets.iter().any(|e| e.nev_buf() > 0) {
                    let what = format!(
                        "tree '{}' branch '{}' has entries in a basket embedded in the tree header (written by AutoSave), which cannot be rewritten",
                        rec.key.name,
                        b.name()
                    );
                    if options.branches.is_some() {
                        return Err(rewrite_error(what));
                    }
                    skipped.push(what);
                    selected = false;
                }
                let n = tb.basket_seek.len().min(tb.basket_bytes.len());
                branches.push(BranchRecord {
                    name: b.name().to_string(),
                    storage,
                    selected,
                    fields: tb.streamed.clone(),
                    seeks: tb.basket_seek[..n].to_vec(),
                    bytes: tb.basket_bytes[..n].to_vec(),
                    first_entries: tb.basket_entry.clone(),
                });
            }
            trees.push(TreeRecord {
                record: i,
                name: rec.key.name.clone(),
                payload,
                zip_bytes_pos: tree.zip_bytes_pos,
                branches,
            });
        }

        // Every explicitly named branch must exist and be a float branch.
        if let Some(names) = &options.branches {
            for n in names {
                let found: Vec<&BranchRecord> = trees
                    .iter()
                    .filter(|t| options.trees.as_ref().map_or(true, |w| w.contains(&t.name)))
                    .flat_map(|t| t.branches.iter())
                    .filter(|b| &b.name == n)
                    .collect();
                if found.is_empty() {
                    return Err(rewrite_error(format!(
                        "no branch '{n}' in the selected trees"
                    )));
                }
                if found.iter().any(|b| b.storage.is_none()) {
                    return Err(rewrite_error(format!(
                        "branch '{n}' is not a float, float[] or vector<float> branch"
                    )));
                }
            }
        }

        let mut owners = HashMap::new();
        for (ti, t) in trees.iter().enumerate() {
            for (bi, b) in t.branches.iter().enumerate() {
                for (k, (&seek, &nb)) in b.seeks.iter().zip(b.bytes.iter()).enumerate() {
                    if nb <= 0 {
                        continue;
                    }
                    let rec = by_pos.get(&(seek as u64)).map(|&i| &records[i]);
                    match rec {
                        Some(r) if r.key.class == "TBasket" && r.n_bytes() == nb as u64 => {}
                        _ => {
                            return Err(rewrite_error(format!(
                                "tree '{}' branch '{}' basket {k} points to offset {seek} ({nb} bytes) where no such basket record starts",
                                t.name, b.name
                            )))
                        }
                    }
                    let owner = BasketOwner {
                        tree: ti,
                        branch: bi,
                        basket: k,
                    };
                    // A basket shared by several cycles of a tree: prefer a selected owner.
                    match owners.get(&(seek as u64)) {
                        Some(o) if is_selected(&trees, o) => {}
                        _ => {
                            owners.insert(seek as u64, owner);
                        }
                    }
                }
            }
        }

        Ok(Rewriter {
            input,
            header,
            records,
            trees,
            owners,
            directories,
            key_lists,
            compression,
            recompress_untouched: options.recompress_untouched,
            verify_written: options.verify_written,
            damage_written: options.damage_written_for_tests,
            check_copied: options.check_copied,
            skipped,
            workers: Workers::new(options.threads)?,
        })
    }

    fn run<F>(mut self, out: File, mut transform: F) -> Result<RewriteReport>
    where
        F: FnMut(&mut FloatBasket<'_>) -> std::result::Result<(), String>,
    {
        let mut out = BufWriter::new(out);
        let mut report = RewriteReport {
            input_bytes: self.input.len,
            output_bytes: 0,
            compression: self.compression,
            rewritten_branches: Vec::new(),
            baskets_rewritten: 0,
            baskets_recompressed: 0,
            values_verified: 0,
            records_copied: 0,
            skipped_branches: std::mem::take(&mut self.skipped),
            copies_checked: 0,
            damaged_copies: Vec::new(),
        };
        let big = self.header.big;
        let limit = if big { u64::MAX } else { SMALL_FILE_LIMIT };

        // Header placeholder; patched at the end.
        out.write_all(&self.header.bytes)?;
        let mut pos = self.header.begin;
        let mut new_pos: HashMap<u64, u64> = HashMap::new();
        let mut new_size: HashMap<u64, u64> = HashMap::new();
        // (new position, old fSeekPdir, key seek width) of every record written, for the
        // final fSeekPdir fix-up.
        let mut written: Vec<(u64, i64, usize)> = Vec::new();
        // Records with pointers in their payload, rewritten at the end: (new pos, bytes).
        let mut deferred_patch: Vec<(usize, u64, Vec<u8>)> = Vec::new();
        let tree_records: HashSet<usize> = self.trees.iter().map(|t| t.record).collect();
        let dir_records: HashMap<u64, usize> = self
            .directories
            .iter()
            .map(|d| (d.record_pos, d.header_at))
            .collect();
        let mut rewritten: HashSet<String> = HashSet::new();
        let free_pos = self.header.seek_free;

        // Records in windows, in file order: read, then decoded, checked and (re)compressed
        // on the workers, the callback run here in order in between, then written in order.
        let (window, window_bytes) = self.workers.window();
        let mut next = 0;
        while next < self.records.len() {
            let mut batch: Vec<(usize, Record, Vec<u8>, Work)> = Vec::new();
            let mut batch_bytes = 0u64;
            while next < self.records.len() && batch.len() < window && batch_bytes <= window_bytes {
                let idx = next;
                next += 1;
                let rec = self.records[idx].clone();
                if tree_records.contains(&idx) || (free_pos > 0 && rec.pos == free_pos) {
                    continue;
                }
                let bytes = self.input.read_at(rec.pos, rec.n_bytes() as usize)?;
                batch_bytes += bytes.len() as u64;
                let work = match self.owners.get(&rec.pos).copied() {
                    Some(o) if is_selected(&self.trees, &o) => Work::Rewrite(o),
                    Some(_) if self.recompress_untouched => Work::Recompress,
                    _ => Work::Copy,
                };
                batch.push((idx, rec, bytes, work));
            }
            let this = &self;
            let mut prepared: Vec<(usize, Record, Result<Prepared>)> =
                this.workers.map(batch, |(idx, rec, bytes, work)| {
                    let done = match work {
                        Work::Rewrite(o) => this
                            .decode_basket(bytes, &rec, o)
                            .map(|d| Prepared::Basket(Box::new(d))),
                        Work::Recompress => this
                            .recompress_record(&bytes, &rec)
                            .map(Prepared::Recompressed),
                        Work::Copy => this
                            .check_copy(&bytes, &rec)
                            .map(|c| Prepared::Copy(bytes, c)),
                    };
                    (idx, rec, done)
                });
            // The callback, in order; the first error (of decoding or of the callback) stops
            // the window there, as a record-by-record run would.
            for (_, rec, p) in prepared.iter_mut() {
                let result = match p {
                    Ok(Prepared::Basket(d)) => this.transform_basket(d, rec, &mut transform),
                    Ok(_) => Ok(()),
                    Err(_) => break,
                };
                if let Err(e) = result {
                    *p = Err(e);
                    break;
                }
            }
            let failure = match prepared.iter().position(|(_, _, p)| p.is_err()) {
                Some(f) => prepared.drain(f..).next().and_then(|(_, _, p)| p.err()),
                None => None,
            };
            let finished: Vec<(usize, Record, Result<Finished>)> =
                this.workers.map(prepared, |(idx, rec, p)| {
                    let done = p.and_then(|p| match p {
                        Prepared::Basket(d) => this
                            .encode_basket(*d, &rec)
                            .map(|(bytes, checked, o)| Finished::Rewritten(bytes, checked, o)),
                        Prepared::Recompressed(bytes) => Ok(Finished::Recompressed(bytes)),
                        Prepared::Copy(bytes, check) => Ok(Finished::Copied(bytes, check)),
                    });
                    (idx, rec, done)
                });
            for (idx, rec, done) in finished {
                let mut bytes = match done? {
                    Finished::Rewritten(bytes, checked, o) => {
                        report.values_verified += checked;
                        let t = &self.trees[o.tree];
                        rewritten.insert(format!("{}/{}", t.name, t.branches[o.branch].name));
                        report.baskets_rewritten += 1;
                        bytes
                    }
                    Finished::Recompressed(bytes) => {
                        report.baskets_recompressed += 1;
                        bytes
                    }
                    Finished::Copied(bytes, check) => {
                        match check {
                            CopyChecked::Unchecked => {}
                            CopyChecked::Whole => report.copies_checked += 1,
                            CopyChecked::Damaged(what) => {
                                report.copies_checked += 1;
                                report.damaged_copies.push(what);
                            }
                        }
                        report.records_copied += 1;
                        bytes
                    }
                };
                let n = bytes.len() as u64;
                if pos + n > limit {
                    return Err(rewrite_error(
                        "the output would exceed the 2 GB limit of the input's small-file format",
                    ));
                }
                patch_key(&mut bytes, n, pos, rec.key.seek_pdir.max(0) as u64)?;
                new_pos.insert(rec.pos, pos);
                new_size.insert(rec.pos, n);
                written.push((pos, rec.key.seek_pdir, rec.key.width));
                if dir_records.contains_key(&rec.pos) || self.key_lists.contains(&rec.pos) {
                    deferred_patch.push((idx, pos, bytes.clone()));
                }
                out.write_all(&bytes)?;
                pos += n;
            }
            if let Some(e) = failure {
                return Err(e);
            }
        }

        // Tree headers, their basket pointers remapped.
        for ti in 0..self.trees.len() {
            let idx = self.trees[ti].record;
            let rec = self.records[idx].clone();
            let payload = self.patched_tree(ti, &new_pos, &new_size)?;
            let z = compress(payload, self.compression)?;
            let mut bytes = self.input.read_at(rec.pos, rec.key.key_len)?;
            bytes.extend_from_slice(&z);
            let n = bytes.len() as u64;
            if pos + n > limit {
                return Err(rewrite_error(
                    "the output would exceed the 2 GB limit of the input's small-file format",
                ));
            }
            patch_key(&mut bytes, n, pos, rec.key.seek_pdir.max(0) as u64)?;
            new_pos.insert(rec.pos, pos);
            new_size.insert(rec.pos, n);
            written.push((pos, rec.key.seek_pdir, rec.key.width));
            out.write_all(&bytes)?;
            pos += n;
        }

        // The free-segment list: one segment, from the end of the file on.
        let mut free = None;
        if free_pos > 0 {
            let rec = self
                .records
                .iter()
                .find(|r| r.pos == free_pos)
                .cloned()
                .ok_or_else(|| rewrite_error(format!("no free-segment record at {free_pos}")))?;
            let old = self.input.read_at(rec.pos, rec.n_bytes() as usize)?;
            let last = last_free_segment_end(&old[rec.key.key_len..]).unwrap_or(SMALL_FILE_LIMIT);
            let big_seg = last > SMALL_FILE_LIMIT;
            let payload_len = if big_seg { 2 + 16 } else { 2 + 8 };
            let n = (rec.key.key_len + payload_len) as u64;
            let first = pos + n;
            let last = last.max(first + 1);
            let mut bytes = old[..rec.key.key_len].to_vec();
            bytes[6..10].copy_from_slice(&(payload_len as i32).to_be_bytes());
            if big_seg {
                bytes.extend_from_slice(&1001i16.to_be_bytes());
                bytes.extend_from_slice(&(first as i64).to_be_bytes());
                bytes.extend_from_slice(&(last as i64).to_be_bytes());
            } else {
                bytes.extend_from_slice(&1i16.to_be_bytes());
                bytes.extend_from_slice(&(first as i32).to_be_bytes());
                bytes.extend_from_slice(&(last as i32).to_be_bytes());
            }
            patch_key(&mut bytes, n, pos, rec.key.seek_pdir.max(0) as u64)?;
            new_pos.insert(rec.pos, pos);
            new_size.insert(rec.pos, n);
            written.push((pos, rec.key.seek_pdir, rec.key.width));
            out.write_all(&bytes)?;
            free = Some((pos, n));
            pos += n;
        }
        let end = pos;

        let map = |old: i64, what: &str| -> Result<u64> {
            if old <= 0 {
                return Ok(0);
            }
            new_pos.get(&(old as u64)).copied().ok_or_else(|| {
                rewrite_error(format!(
                    "{what} points to offset {old} where no record starts"
                ))
            })
        };

        // fSeekPdir of every record (only directories move them from their old value).
        for &(at, old_pdir, width) in &written {
            let mapped = map(old_pdir, "fSeekPdir")?;
            if mapped != old_pdir.max(0) as u64 {
                out.flush()?;
                let f = out.get_mut();
                let mut field = vec![0u8; width];
                write_seek(&mut field, 0, width, mapped, "fSeekPdir")?;
                f.seek(SeekFrom::Start(at + (KEY_SEEK_AT + width) as u64))?;
                f.write_all(&field)?;
            }
        }

        // Directory headers and key lists.
        for (idx, at, mut bytes) in deferred_patch {
            let rec = &self.records[idx];
            if let Some(&header_at) = dir_records.get(&rec.pos) {
                let (seek_dir, seek_parent, seek_keys) = directory_seeks(&bytes, header_at)?;
                let width = directory_width(&bytes, header_at);
                let base = header_at + 18;
                write_seek(
                    &mut bytes,
                    base,
                    width,
                    map(seek_dir, "fSeekDir")?,
                    "fSeekDir",
                )?;
                write_seek(
                    &mut bytes,
                    base + width,
                    width,
                    map(seek_parent, "fSeekParent")?,
                    "fSeekParent",
                )?;
                write_seek(
                    &mut bytes,
                    base + 2 * width,
                    width,
                    map(seek_keys, "fSeekKeys")?,
                    "fSeekKeys",
                )?;
            }
            if self.key_lists.contains(&rec.pos) {
                let entries = parse_key_list(&bytes, rec.key.key_len)?;
                for (offset, key) in entries {
                    let old = key.seek_key;
                    let n = *new_size.get(&(old as u64)).ok_or_else(|| {
                        rewrite_error(format!(
                            "key '{}' points to offset {old} where no record starts",
                            key.name
                        ))
                    })?;
                    let seek = map(old, "a key")?;
                    let pdir = map(key.seek_pdir, "a key's fSeekPdir")?;
                    patch_key(&mut bytes[offset..], n, seek, pdir)?;
                }
            }
            // Keep this record's own fSeekPdir as fixed up above.
            let pdir = map(rec.key.seek_pdir, "fSeekPdir")?;
            let n = bytes.len() as u64;
            patch_key(&mut bytes, n, at, pdir)?;
            out.flush()?;
            let f = out.get_mut();
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&bytes)?;
        }

        // The file header.
        let (seek_free, nbytes_free, nfree) = match free {
            Some((p, n)) => (p, n, 1),
            None => (0, 0, 0),
        };
        let seek_info = map(self.header.seek_info as i64, "fSeekInfo")?;
        let nbytes_info = if self.header.seek_info > 0 {
            new_size[&self.header.seek_info]
        } else {
            0
        };
        let head = self.header.patched(
            end,
            seek_free,
            nbytes_free,
            nfree,
            self.compression.root_setting(),
            seek_info,
            nbytes_info,
        )?;
        out.flush()?;
        let f = out.get_mut();
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&head)?;
        f.set_len(end)?;
        f.sync_all()?;

        let mut names: Vec<String> = rewritten.into_iter().collect();
        names.sort();
        report.rewritten_branches = names;
        report.output_bytes = end;
        Ok(report)
    }

    /// The error of a basket of a selected branch, naming it.
    fn basket_error(&self, rec: &Record, o: BasketOwner, m: String) -> Error {
        let (t, b) = (&self.trees[o.tree], &self.trees[o.tree].branches[o.branch]);
        rewrite_error(format!(
            "tree '{}' branch '{}' basket {} (offset {}): {m}",
            t.name, b.name, o.basket, rec.pos
        ))
    }

    /// Decompresses a basket of a selected branch and reads its values.
    fn decode_basket(&self, bytes: Vec<u8>, rec: &Record, o: BasketOwner) -> Result<DecodedBasket> {
        let b = &self.trees[o.tree].branches[o.branch];
        let storage = b.storage.expect("selected branches are float branches");
        let context = |m: String| self.basket_error(rec, o, m);
        let header = basket_header(&bytes).map_err(context)?;
        let payload = record_payload(&bytes, header.key_len, header.obj_len)
            .map_err(|e| context(e.to_string()))?;
        let layout = float_layout(storage, &payload, &header).map_err(context)?;
        let mut values = Vec::with_capacity(layout.total);
        read_values(&payload, &layout, &mut values);
        Ok(DecodedBasket {
            owner: o,
            bytes,
            header,
            payload,
            layout,
            values,
        })
    }

    /// Lets `transform` change the values of a decoded basket.
    fn transform_basket<F>(
        &self,
        d: &mut DecodedBasket,
        rec: &Record,
        transform: &mut F,
    ) -> Result<()>
    where
        F: FnMut(&mut FloatBasket<'_>) -> std::result::Result<(), String>,
    {
        let o = d.owner;
        let (t, b) = (&self.trees[o.tree], &self.trees[o.tree].branches[o.branch]);
        let mut fb = FloatBasket {
            tree: &t.name,
            branch: &b.name,
            storage: b.storage.expect("selected branches are float branches"),
            basket: o.basket,
            first_entry: b.first_entries.get(o.basket).copied().unwrap_or(0),
            counts: d.layout.counts.as_deref(),
            values: &mut d.values,
        };
        transform(&mut fb).map_err(|m| self.basket_error(rec, o, m))
    }

    /// Writes the values back into the basket and compresses it again. Returns the new
    /// record (key header not yet patched), the values verified and the basket's owner.
    fn encode_basket(&self, d: DecodedBasket, rec: &Record) -> Result<(Vec<u8>, u64, BasketOwner)> {
        let DecodedBasket {
            owner: o,
            bytes,
            header: h,
            mut payload,
            layout,
            values,
        } = d;
        let storage = self.trees[o.tree].branches[o.branch]
            .storage
            .expect("selected branches are float branches");
        let context = |m: String| self.basket_error(rec, o, m);
        write_values(&mut payload, &layout, &values);
        let z = compress(payload, self.compression)?;
        let mut out = bytes[..h.key_len].to_vec();
        out.extend_from_slice(&z);
        if self.damage_written {
            if let Some(last) = out.last_mut() {
                *last ^= 0x40;
            }
        }
        if !self.verify_written {
            return Ok((out, 0, o));
        }
        // What will reach the file, read back through the reader's own path.
        let back = record_payload(&out, h.key_len, h.obj_len)
            .map_err(|e| context(format!("written basket does not decompress: {e}")))?;
        let back_layout = float_layout(storage, &back, &h)
            .map_err(|e| context(format!("written basket does not parse: {e}")))?;
        if back_layout.counts != layout.counts {
            return Err(context("written basket has other entry sizes".into()));
        }
        let mut read_back = Vec::with_capacity(back_layout.total);
        read_values(&back, &back_layout, &mut read_back);
        if let Some(i) = (0..values.len().max(read_back.len()))
            .find(|&i| values.get(i).map(|v| v.to_bits()) != read_back.get(i).map(|v| v.to_bits()))
        {
            return Err(context(format!(
                "written basket reads back differently at value {i} ({} values written, {} read)",
                values.len(),
                read_back.len()
            )));
        }
        let n = values.len() as u64;
        Ok((out, n, o))
    }

    /// [`RewriteOptions::check_copied`] on one copied record.
    fn check_copy(&self, bytes: &[u8], rec: &Record) -> Result<CopyChecked> {
        if self.check_copied == CopyCheck::Off {
            return Ok(CopyChecked::Unchecked);
        }
        let stored = &bytes[rec.key.key_len.min(bytes.len())..];
        let obj_len = rec.key.obj_len.max(0) as usize;
        if stored.len() == obj_len {
            return Ok(CopyChecked::Unchecked); // stored uncompressed: nothing to check
        }
        match crate::rcompress::check_decodes(stored, obj_len) {
            Ok(()) => Ok(CopyChecked::Whole),
            Err(e) => {
                let what = format!(
                    "record at byte {} ({} '{}'): {e}",
                    rec.pos, rec.key.class, rec.key.name
                );
                match self.check_copied {
                    CopyCheck::Warn => Ok(CopyChecked::Damaged(what)),
                    _ => Err(rewrite_error(format!(
                        "{what}: the input is damaged (copying it would pass the damage on)"
                    ))),
                }
            }
        }
    }

    /// Decompresses a record's payload and compresses it with the output compression.
    fn recompress_record(&self, bytes: &[u8], rec: &Record) -> Result<Vec<u8>> {
        let payload = record_payload(bytes, rec.key.key_len, rec.key.obj_len as usize)?;
        let z = compress(payload, self.compression)?;
        let mut out = bytes[..rec.key.key_len].to_vec();
        out.extend_from_slice(&z);
        Ok(out)
    }

    /// The tree header payload with every basket pointer remapped.
    fn patched_tree(
        &self,
        ti: usize,
        new_pos: &HashMap<u64, u64>,
        new_size: &HashMap<u64, u64>,
    ) -> Result<Vec<u8>> {
        let t = &self.trees[ti];
        let mut p = t.payload.clone();
        let setting = self.compression.root_setting();
        let mut tree_delta: i64 = 0;
        for b in &t.branches {
            let mut delta: i64 = 0;
            let mut recompressed = false;
            let (bytes_at, (seek_at, width)) = match (b.fields.basket_bytes, b.fields.basket_seek) {
                (Some(a), Some(s)) => (a, s),
                _ if b.seeks.is_empty() => continue,
                _ => {
                    return Err(rewrite_error(format!(
                        "tree '{}' branch '{}': basket arrays not located",
                        t.name, b.name
                    )))
                }
            };
            for (k, (&seek, &nb)) in b.seeks.iter().zip(b.bytes.iter()).enumerate() {
                if nb <= 0 {
                    continue;
                }
                let old = seek as u64;
                let (np, ns) = match (new_pos.get(&old), new_size.get(&old)) {
                    (Some(&np), Some(&ns)) => (np, ns),
                    _ => {
                        return Err(rewrite_error(format!(
                            "tree '{}' branch '{}' basket {k} was not written",
                            t.name, b.name
                        )))
                    }
                };
                if ns != nb as u64 {
                    recompressed = true;
                }
                delta += ns as i64 - nb as i64;
                write_seek(&mut p, seek_at + width * k, width, np, "fBasketSeek")?;
                p[bytes_at + 4 * k..bytes_at + 4 * k + 4]
                    .copy_from_slice(&(ns as i32).to_be_bytes());
            }
            if let Some((at, is_double)) = b.fields.zip_bytes {
                add_to_counter(&mut p, at, is_double, delta);
            }
            tree_delta += delta;
            if let Some(at) = b.fields.compress {
                if b.selected || (self.recompress_untouched && recompressed) {
                    p[at..at + 4].copy_from_slice(&setting.to_be_bytes());
                }
            }
        }
        if let Some((at, is_double)) = t.zip_bytes_pos {
            add_to_counter(&mut p, at, is_double, tree_delta);
        }
        Ok(p)
    }
}

fn selected_name(options: &RewriteOptions, b: &Branch) -> bool {
    options
        .branches
        .as_ref()
        .map_or(true, |names| names.iter().any(|n| n == b.name()))
}

fn is_selected(trees: &[TreeRecord], o: &BasketOwner) -> bool {
    trees[o.tree].branches[o.branch].selected
}

/// Adds `delta` to an i64 (or, for old versions, f64) counter such as `fZipBytes`.
fn add_to_counter(p: &mut [u8], at: usize, is_double: bool, delta: i64) {
    if is_double {
        let v = f64::from_be_bytes(p[at..at + 8].try_into().expect("8 bytes"));
        p[at..at + 8].copy_from_slice(&(v + delta as f64).to_be_bytes());
    } else {
        let v = be_i64(p, at);
        p[at..at + 8].copy_from_slice(&(v + delta).to_be_bytes());
    }
}

/// Walks the records from `begin` to `end`, skipping gaps and free segments (inclusive
/// `(first, last)` byte ranges).
fn walk_records(
    input: &mut Input,
    begin: u64,
    end: u64,
    free: &[(u64, u64)],
) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut pos = begin;
    while pos < end {
        if let Some(&(_, last)) = free.iter().find(|(f, l)| *f <= pos && pos <= *l) {
            pos = last + 1;
            continue;
        }
        let head = input.read_at(pos, 4.min((end - pos) as usize))?;
        if head.len() < 4 {
            return Err(rewrite_error(format!("truncated record at offset {pos}")));
        }
        let n = be_i32(&head, 0);
        if n < 0 {
            pos += (-(n as i64)) as u64; // a gap
            continue;
        }
        if n < 18 {
            return Err(rewrite_error(format!(
                "corrupt record at offset {pos} (fNbytes = {n})"
            )));
        }
        let fixed = input.read_at(pos, 18.min(n as usize))?;
        let key_len = be_i16(&fixed, 14);
        if key_len <= 0 || key_len as i32 > n {
            return Err(rewrite_error(format!(
                "corrupt record at offset {pos} (fKeylen = {key_len}, fNbytes = {n})"
            )));
        }
        let hb = input.read_at(pos, key_len as usize)?;
        let key =
            parse_key(&hb).map_err(|m| rewrite_error(format!("record at offset {pos}: {m}")))?;
        if key.seek_key != pos as i64 {
            return Err(rewrite_error(format!(
                "record at offset {pos} says it is at {} (fSeekKey): not a ROOT record stream",
                key.seek_key
            )));
        }
        if pos + n as u64 > end {
            return Err(rewrite_error(format!(
                "record '{}' at offset {pos} runs past the end of the file",
                key.name
            )));
        }
        records.push(Record { pos, key });
        pos += n as u64;
    }
    Ok(records)
}

/// Width of the seeks of a directory header (version > 1000: 8 bytes).
fn directory_width(bytes: &[u8], at: usize) -> usize {
    if be_i16(bytes, at) > 1000 {
        8
    } else {
        4
    }
}

/// `(fSeekDir, fSeekParent, fSeekKeys)` of the directory header at `at` in a record.
fn directory_seeks(bytes: &[u8], at: usize) -> Result<(i64, i64, i64)> {
    if bytes.len() < at + 18 + 12 {
        return Err(rewrite_error("truncated directory header"));
    }
    let w = directory_width(bytes, at);
    if bytes.len() < at + 18 + 3 * w {
        return Err(rewrite_error("truncated directory header"));
    }
    let base = at + 18; // version, ctime, mtime, nbytes keys, nbytes name
    Ok((
        read_seek(bytes, base, w),
        read_seek(bytes, base + w, w),
        read_seek(bytes, base + 2 * w, w),
    ))
}

/// The key headers in a key-list record: `(offset in the record, header)`.
fn parse_key_list(bytes: &[u8], key_len: usize) -> Result<Vec<(usize, KeyHeader)>> {
    let obj_len = be_i32(bytes, 6) as usize;
    if bytes.len() - key_len != obj_len {
        return Err(rewrite_error("compressed key lists are not supported"));
    }
    if bytes.len() < key_len + 4 {
        return Err(rewrite_error("truncated key list"));
    }
    let n = be_i32(bytes, key_len);
    let mut at = key_len + 4;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n.max(0) {
        let key = parse_key(&bytes[at..]).map_err(|m| rewrite_error(format!("key list: {m}")))?;
        let len = key.key_len;
        out.push((at, key));
        at += len;
    }
    Ok(out)
}

fn key_list_entries(input: &mut Input, list: &Record) -> Result<Vec<(usize, KeyHeader)>> {
    let bytes = input.read_at(list.pos, list.n_bytes() as usize)?;
    parse_key_list(&bytes, list.key.key_len)
}

/// The `(fFirst, fLast)` byte ranges (inclusive) of a free-segment list payload.
fn parse_free_segments(payload: &[u8]) -> Vec<(u64, u64)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 2 <= payload.len() {
        let version = be_i16(payload, at);
        at += 2;
        let w = if version > 1000 { 8 } else { 4 };
        if at + 2 * w > payload.len() {
            break;
        }
        let (first, last) = (read_seek(payload, at, w), read_seek(payload, at + w, w));
        if first >= 0 && last >= first {
            out.push((first as u64, last as u64));
        }
        at += 2 * w;
    }
    out
}

/// `fLast` of the last segment of a free-segment list payload.
fn last_free_segment_end(payload: &[u8]) -> Option<u64> {
    parse_free_segments(payload).last().map(|s| s.1)
}
