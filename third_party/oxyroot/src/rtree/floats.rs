//! 32-bit float branches decoded straight from their baskets.
//!
//! * [`FloatStorage`] says how a branch stores floats, for the three layouts whose baskets
//!   hold nothing but the values (plus per-entry headers): `float`, `float[n]` and
//!   `std::vector<float>` ([`Branch::float_storage`]).
//! * [`Branch::read_floats`] reads such a branch into a [`FloatColumn`]; every I/O,
//!   decompression or layout problem is an `Err`, never a panic.
//! * [`Branch::basket_bytes`] / [`Branch::total_basket_bytes`] sum the on-disk and
//!   uncompressed sizes of a branch's baskets ([`BasketBytes`]).
//!
//! The same basket decoding serves [`crate::rewrite`], which changes float values in place.
//!
//! ```
//! use oxyroot::{FloatStorage, RootFile, WriterTree};
//! let path = std::env::temp_dir().join("oxyroot_doc_floats.root");
//! let mut f = RootFile::create_with_compression(&path, "zlib:5".parse().unwrap()).unwrap();
//! let mut t = WriterTree::new("t");
//! t.new_branch("pt", (0..100).map(|i| vec![i as f32; i % 3]));
//! t.new_branch("n", 0..100i32);
//! t.write(&mut f).unwrap();
//! f.close().unwrap();
//!
//! let mut f = RootFile::open(&path).unwrap();
//! let t = f.get_tree("t").unwrap();
//! let pt = t.branch("pt").unwrap();
//! assert_eq!(pt.float_storage(), Some(FloatStorage::VectorFloat));
//! assert_eq!(t.branch("n").unwrap().float_storage(), None);
//! let col = pt.read_floats().unwrap();
//! assert_eq!(col.entries(), 100);
//! assert_eq!(col.counts.as_ref().unwrap()[..3], [0, 1, 2]);
//! assert_eq!(col.values[..3], [1.0, 2.0, 2.0]);
//! let bytes = pt.basket_bytes().unwrap();
//! assert!(bytes.compressed < bytes.uncompressed);
//! assert_eq!(pt.basket_algorithms().unwrap()[0], Some(oxyroot::Algorithm::Zlib));
//! ```

use crate::riofs::file::RootFileReader;
use crate::riofs::{Error, Result};
use crate::rtree::basket::Basket;
use crate::rtree::branch::{Branch, TBranch};
use crate::rtree::leaf::{Leaf, TLeaf};
use crate::{Named, RBuffer};

/// How a branch stores 32-bit floats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatStorage {
    /// One `float` per entry: a `TBranch` with one leaf `x/F`, or a `TBranchElement` of
    /// streamer type `kFloat` (ATLAS's `EventInfoAuxDyn.*`).
    Float,
    /// A variable-length C array `x[n]/F` counted by another leaf (what uproot writes for
    /// jagged arrays); the basket holds the values back to back.
    CountedFloat,
    /// A fixed-size C array `x[N]/F` (`N` > 1): `N` values per entry, back to back.
    FixedFloat(u32),
    /// `std::vector<float>`, a top-level `TBranchElement`; each entry is streamed as a 4-byte
    /// byte count, a 2-byte class version, a 4-byte length and the values.
    VectorFloat,
}

impl FloatStorage {
    /// The C++ type, as ROOT names it: `float`, `float[]`, `float[N]`, `vector<float>`.
    pub fn type_name(self) -> String {
        match self {
            FloatStorage::Float => "float".into(),
            FloatStorage::CountedFloat => "float[]".into(),
            FloatStorage::FixedFloat(n) => format!("float[{n}]"),
            FloatStorage::VectorFloat => "vector<float>".into(),
        }
    }
}

/// Every value of a float branch, events concatenated.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatColumn {
    /// How the branch stores its values.
    pub storage: FloatStorage,
    /// All values, entry after entry.
    pub values: Vec<f32>,
    /// Number of values of each entry; `None` for [`FloatStorage::Float`] (one per entry).
    pub counts: Option<Vec<u32>>,
}

impl FloatColumn {
    /// Number of entries.
    pub fn entries(&self) -> usize {
        match &self.counts {
            None => self.values.len(),
            Some(c) => c.len(),
        }
    }
}

/// Sizes of a branch's baskets, in bytes, key headers included (what ROOT's
/// `TBranch::GetZipBytes` / `GetTotBytes` count, up to ROOT's own bookkeeping details).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BasketBytes {
    /// Number of baskets written to the file.
    pub baskets: u64,
    /// Bytes on disk: the sum of the baskets' `fNbytes` (key header + stored payload).
    pub compressed: u64,
    /// Bytes once decompressed: the sum of `fKeylen + fObjlen`.
    pub uncompressed: u64,
}

impl std::ops::Add for BasketBytes {
    type Output = BasketBytes;
    fn add(self, o: BasketBytes) -> BasketBytes {
        BasketBytes {
            baskets: self.baskets + o.baskets,
            compressed: self.compressed + o.compressed,
            uncompressed: self.uncompressed + o.uncompressed,
        }
    }
}

impl std::ops::AddAssign for BasketBytes {
    fn add_assign(&mut self, o: BasketBytes) {
        *self = *self + o;
    }
}

/// The header fields of one basket record that decoding needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BasketHeader {
    pub(crate) n_bytes: usize,
    pub(crate) key_len: usize,
    pub(crate) obj_len: usize,
    pub(crate) nev_buf: usize,
    /// `fLast - fKeylen`: end of the data, start of the entry-offset table.
    pub(crate) border: usize,
}

impl BasketHeader {
    pub(crate) fn is_compressed(&self) -> bool {
        self.obj_len != self.n_bytes - self.key_len
    }
}

/// Parses the key and basket header at the start of a basket record.
pub(crate) fn basket_header(record: &[u8]) -> std::result::Result<BasketHeader, String> {
    // The generic unmarshaling indexes slices unchecked and panics on a damaged header; a
    // damaged basket must be an error naming it, so the panic is caught here.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        RBuffer::new(record, 0).read_object_into::<Basket>()
    }));
    let b = match parsed {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(format!("not a TBasket record: {e:?}")),
        Err(_) => {
            return Err("damaged TBasket header (its fields point outside the record)".into())
        }
    };
    let key = b.key();
    let (n_bytes, key_len, obj_len) = (key.n_bytes(), key.key_len(), key.obj_len());
    if n_bytes < key_len || key_len <= 0 || obj_len < 0 || b.nev_buf() < 0 {
        return Err(format!(
            "TBasket header with inconsistent sizes (fNbytes {n_bytes}, fKeylen {key_len}, fObjlen {obj_len}, fNevBuf {})",
            b.nev_buf()
        ));
    }
    let border = b.border();
    if border < 0 || border > obj_len {
        return Err(format!(
            "TBasket fLast {} outside its payload of {obj_len} bytes",
            b.border() + key_len
        ));
    }
    Ok(BasketHeader {
        n_bytes: n_bytes as usize,
        key_len: key_len as usize,
        obj_len: obj_len as usize,
        nev_buf: b.nev_buf() as usize,
        border: border as usize,
    })
}

/// The payload (`fObjlen` bytes after the key header) of a record, decompressed if needed.
pub(crate) fn record_payload(record: &[u8], key_len: usize, obj_len: usize) -> Result<Vec<u8>> {
    let stored = &record[key_len..];
    if stored.len() == obj_len {
        return Ok(stored.to_vec());
    }
    let mut out = vec![0u8; obj_len];
    crate::rcompress::decompress(&mut out, stored)?;
    Ok(out)
}

/// Where the float values of one basket sit in its payload.
#[derive(Clone, Debug, Default)]
pub(crate) struct FloatLayout {
    /// `(byte offset in the payload, number of values)` of each run of big-endian floats.
    pub(crate) runs: Vec<(usize, usize)>,
    /// Values per entry (`None` for one float per entry).
    pub(crate) counts: Option<Vec<u32>>,
    /// Total number of values.
    pub(crate) total: usize,
}

/// Byte offsets (relative to the payload) of each entry, `nev_buf + 1` of them, the last
/// being the border; read from the table after the data as uproot does.
fn entry_offsets(payload: &[u8], h: &BasketHeader) -> std::result::Result<Vec<usize>, String> {
    let table = &payload[h.border..];
    if table.len() < 4 * (h.nev_buf + 1) {
        return Err(format!(
            "basket of {} entries has no entry-offset table ({} bytes after its data)",
            h.nev_buf,
            table.len()
        ));
    }
    let mut offsets = Vec::with_capacity(h.nev_buf + 1);
    for i in 0..h.nev_buf {
        let at = 4 * (i + 1);
        let v = i32::from_be_bytes(table[at..at + 4].try_into().expect("4 bytes")) as i64
            - h.key_len as i64;
        let prev = offsets.last().copied().unwrap_or(0) as i64;
        if v < prev || v > h.border as i64 {
            return Err(format!("entry {i} has offset {v} outside 0..={}", h.border));
        }
        offsets.push(v as usize);
    }
    offsets.push(h.border);
    Ok(offsets)
}

/// Finds the float values of a basket payload of the given storage, checking that the
/// layout is exactly what that storage produces.
pub(crate) fn float_layout(
    storage: FloatStorage,
    payload: &[u8],
    h: &BasketHeader,
) -> std::result::Result<FloatLayout, String> {
    match storage {
        FloatStorage::Float => {
            if h.border != 4 * h.nev_buf {
                return Err(format!(
                    "float basket of {} entries holds {} data bytes, not {}",
                    h.nev_buf,
                    h.border,
                    4 * h.nev_buf
                ));
            }
            Ok(FloatLayout {
                runs: vec![(0, h.nev_buf)],
                counts: None,
                total: h.nev_buf,
            })
        }
        FloatStorage::FixedFloat(n) => {
            let n = n as usize;
            if h.border != 4 * n * h.nev_buf {
                return Err(format!(
                    "float[{n}] basket of {} entries holds {} data bytes, not {}",
                    h.nev_buf,
                    h.border,
                    4 * n * h.nev_buf
                ));
            }
            Ok(FloatLayout {
                runs: vec![(0, n * h.nev_buf)],
                counts: Some(vec![n as u32; h.nev_buf]),
                total: n * h.nev_buf,
            })
        }
        FloatStorage::CountedFloat => {
            let offsets = entry_offsets(payload, h)?;
            if offsets[0] != 0 || h.border % 4 != 0 {
                return Err("float[] basket data is not a whole number of floats".into());
            }
            let mut counts = Vec::with_capacity(h.nev_buf);
            for w in offsets.windows(2) {
                let len = w[1] - w[0];
                if len % 4 != 0 {
                    return Err(format!("float[] entry of {len} bytes"));
                }
                counts.push((len / 4) as u32);
            }
            Ok(FloatLayout {
                runs: vec![(0, h.border / 4)],
                counts: Some(counts),
                total: h.border / 4,
            })
        }
        FloatStorage::VectorFloat => {
            const HEADER: usize = 10; // byte count (4), version (2), length (4)
            const BYTE_COUNT_MASK: u32 = 0x4000_0000;
            let offsets = entry_offsets(payload, h)?;
            let mut runs = Vec::with_capacity(h.nev_buf);
            let mut counts = Vec::with_capacity(h.nev_buf);
            let mut total = 0;
            for (i, w) in offsets.windows(2).enumerate() {
                let e = &payload[w[0]..w[1]];
                if e.len() < HEADER {
                    return Err(format!(
                        "vector<float> entry {i} has only {} bytes",
                        e.len()
                    ));
                }
                let bc = u32::from_be_bytes(e[0..4].try_into().expect("4 bytes"));
                let n = i32::from_be_bytes(e[6..10].try_into().expect("4 bytes"));
                if bc & BYTE_COUNT_MASK == 0
                    || (bc & !BYTE_COUNT_MASK) as usize != e.len() - 4
                    || n < 0
                    || e.len() != HEADER + 4 * n as usize
                {
                    return Err(format!(
                        "vector<float> entry {i} ({} bytes) is not byte count + version + length + floats",
                        e.len()
                    ));
                }
                runs.push((w[0] + HEADER, n as usize));
                counts.push(n as u32);
                total += n as usize;
            }
            Ok(FloatLayout {
                runs,
                counts: Some(counts),
                total,
            })
        }
    }
}

/// The values of a payload, in order, as native floats.
pub(crate) fn read_values(payload: &[u8], layout: &FloatLayout, out: &mut Vec<f32>) {
    out.reserve(layout.total);
    for &(start, n) in &layout.runs {
        out.extend(
            payload[start..start + 4 * n]
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes(c.try_into().expect("4 bytes"))),
        );
    }
}

/// Writes `values` (as many as the layout holds) back into the payload, big-endian.
pub(crate) fn write_values(payload: &mut [u8], layout: &FloatLayout, values: &[f32]) {
    debug_assert_eq!(values.len(), layout.total);
    let mut it = values.iter();
    for &(start, n) in &layout.runs {
        for c in payload[start..start + 4 * n].chunks_exact_mut(4) {
            c.copy_from_slice(&it.next().expect("layout total").to_be_bytes());
        }
    }
}

/// How `branch` stores floats, if it is one of the [`FloatStorage`] layouts.
pub(crate) fn storage_of(branch: &Branch) -> Option<FloatStorage> {
    let tb: &TBranch = branch.into();
    if !tb.branches().is_empty() || tb.leaves.len() != 1 {
        return None;
    }
    let leaf = &tb.leaves[0];
    let tl: &TLeaf = leaf.tleaf();
    match (branch, leaf) {
        (Branch::Base(_), Leaf::F(_)) => match (tl.has_count(), tl.len()) {
            (false, 1) => Some(FloatStorage::Float),
            (true, 1) => Some(FloatStorage::CountedFloat),
            (false, n) if n > 1 => Some(FloatStorage::FixedFloat(n as u32)),
            _ => None,
        },
        (Branch::Element(be), Leaf::Element(le)) => {
            const K_FLOAT: i32 = 5;
            const K_STL: i32 = 300;
            let is_vector_float = |name: &str| {
                let n: String = name.chars().filter(|c| !c.is_whitespace()).collect();
                let n = n.replace("std::", "");
                n == "vector<float>" || n == "vector<float,allocator<float>>"
            };
            // A whole std::vector<float> object (fID -1), or a vector<float> data member of a
            // split class (fType 0, streamer type kSTL); both stream each entry with a byte
            // count and a version.
            let member_is_vector_float = || {
                be.streamer_type() == K_STL
                    && be.branch.sinfos.is_some()
                    && be
                        .streamer()
                        .map(|s| is_vector_float(s.item_type_name()))
                        .unwrap_or(false)
            };
            if be.branch_type() == 0
                && ((be.element_id() == -1 && is_vector_float(be.class_name()))
                    || (be.element_id() >= 0 && member_is_vector_float()))
            {
                Some(FloatStorage::VectorFloat)
            } else if le.ltype == K_FLOAT
                && be.streamer_type() == K_FLOAT
                && !tl.has_count()
                && tl.len() == 1
            {
                Some(FloatStorage::Float)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn reader_of(tb: &TBranch) -> Result<RootFileReader> {
    tb.reader().clone().ok_or(Error::FileIsNotOpened)
}

fn branch_error(tb: &TBranch, message: impl std::fmt::Display) -> Error {
    Error::Rewrite(format!("branch '{}': {message}", tb.name()))
}

impl Branch {
    /// How this branch stores 32-bit floats, if it holds nothing else: one `float` per
    /// entry, a counted `float[n]` array, a fixed-size `float[N]` array, or a
    /// `std::vector<float>`. `None` for any other
    /// type (including `vector<vector<float>>` and floats inside objects).
    pub fn float_storage(&self) -> Option<FloatStorage> {
        storage_of(self)
    }

    /// For a variable-size C array leaf `x[n]/T` (one leaf, counted by another leaf): the
    /// counter's name `n`, read from the leaf title as ROOT writes it (`Jet_pt[nJet]`).
    /// `None` for any other branch.
    pub fn leaf_count_name(&self) -> Option<String> {
        let tb: &TBranch = self.into();
        if tb.leaves.len() != 1 || !tb.leaves[0].tleaf().has_count() {
            return None;
        }
        let title = tb.leaves[0].tleaf().title();
        let open = title.find('[')?;
        let close = open + title[open..].find(']')?;
        let name = title[open + 1..close].trim();
        (!name.is_empty() && !name.chars().all(|c| c.is_ascii_digit())).then(|| name.to_string())
    }

    /// Reads every value of a float branch ([`float_storage`](Self::float_storage) must be
    /// `Some`), decoding the baskets directly; all problems are errors, never panics.
    ///
    /// # Errors
    /// If the branch is not a float branch, a basket cannot be read or decompressed (an
    /// unsupported algorithm is named), or a basket's layout is not what its storage
    /// produces.
    pub fn read_floats(&self) -> Result<FloatColumn> {
        let tb: &TBranch = self.into();
        let storage = self
            .float_storage()
            .ok_or_else(|| branch_error(tb, "is not a float, float[] or vector<float> branch"))?;
        let mut values = Vec::new();
        let mut counts: Option<Vec<u32>> = match storage {
            FloatStorage::Float => None,
            _ => Some(Vec::new()),
        };
        self.for_each_float_basket(|v, lc| {
            values.extend_from_slice(v);
            if let (Some(c), Some(lc)) = (counts.as_mut(), lc) {
                c.extend_from_slice(lc);
            }
            Ok(())
        })?;
        Ok(FloatColumn {
            storage,
            values,
            counts,
        })
    }

    /// Calls `f` with the values and (for arrays and vectors) per-entry counts of each basket
    /// of a float branch in turn, decoding the baskets directly, one in memory at a time;
    /// returns the number of entries. All problems are errors, never panics.
    ///
    /// # Errors
    /// As [`read_floats`](Self::read_floats), or the error `f` returned.
    pub fn for_each_float_basket(
        &self,
        mut f: impl FnMut(&[f32], Option<&[u32]>) -> Result<()>,
    ) -> Result<usize> {
        let tb: &TBranch = self.into();
        let storage = self
            .float_storage()
            .ok_or_else(|| branch_error(tb, "is not a float, float[] or vector<float> branch"))?;
        if tb.baskets.iter().any(|b| b.nev_buf() > 0) {
            return Err(branch_error(
                tb,
                "has entries in an embedded basket (not supported)",
            ));
        }
        let reader = tb.reader().as_ref().ok_or(Error::FileIsNotOpened)?;
        let mut values = Vec::new();
        let mut entries = 0usize;
        for (i, (&seek, &len)) in tb
            .basket_seek
            .iter()
            .zip(tb.basket_bytes.iter())
            .enumerate()
        {
            if len <= 0 {
                continue;
            }
            let record = reader.read_at_shared(seek as u64, len as u64)?;
            let h = basket_header(&record)
                .map_err(|m| branch_error(tb, format!("basket {i} at {seek}: {m}")))?;
            if h.n_bytes != len as usize {
                return Err(branch_error(
                    tb,
                    format!(
                        "basket {i} at {seek}: fNbytes {} but fBasketBytes {len}",
                        h.n_bytes
                    ),
                ));
            }
            let payload = record_payload(&record, h.key_len, h.obj_len)
                .map_err(|e| branch_error(tb, format!("basket {i} at {seek}: {e}")))?;
            let layout = float_layout(storage, &payload, &h)
                .map_err(|m| branch_error(tb, format!("basket {i} at {seek}: {m}")))?;
            values.clear();
            read_values(&payload, &layout, &mut values);
            entries += match &layout.counts {
                Some(c) => c.len(),
                None => values.len(),
            };
            f(&values, layout.counts.as_deref())?;
        }
        if entries as i64 != tb.entries() {
            return Err(branch_error(
                tb,
                format!(
                    "baskets hold {entries} entries, the branch says {}",
                    tb.entries()
                ),
            ));
        }
        Ok(entries)
    }

    /// Sizes of this branch's own baskets (not those of its sub-branches): on disk, the sum
    /// of `fBasketBytes`; uncompressed, the sum of each basket key's `fKeylen + fObjlen`
    /// (read from the key headers). Baskets embedded in the tree header are not counted.
    pub fn basket_bytes(&self) -> Result<BasketBytes> {
        let tb: &TBranch = self.into();
        let mut out = BasketBytes::default();
        let mut reader = None;
        for (&seek, &len) in tb.basket_seek.iter().zip(tb.basket_bytes.iter()) {
            if len <= 0 {
                continue;
            }
            let r = match &mut reader {
                Some(r) => r,
                None => reader.insert(reader_of(tb)?),
            };
            // fNbytes (4), version (2), fObjlen (4), datime (4), fKeylen (2)
            let head = r.read_at(seek as u64, 16)?;
            let obj_len = i32::from_be_bytes(head[6..10].try_into().expect("4 bytes"));
            let key_len = i16::from_be_bytes(head[14..16].try_into().expect("2 bytes"));
            if obj_len < 0 || key_len < 0 {
                return Err(branch_error(
                    tb,
                    format!("basket at {seek} has a corrupt key header"),
                ));
            }
            out.baskets += 1;
            out.compressed += len as u64;
            out.uncompressed += obj_len as u64 + key_len as u64;
        }
        Ok(out)
    }

    /// The decompressed payload (`fObjlen` bytes: data, then the entry-offset table if
    /// any) of each of this branch's baskets written to the file, in order. For any branch
    /// type; meant for comparing branches byte for byte.
    pub fn basket_payloads(&self) -> Result<Vec<Vec<u8>>> {
        let tb: &TBranch = self.into();
        let mut out = Vec::new();
        let mut reader = None;
        for (i, (&seek, &len)) in tb
            .basket_seek
            .iter()
            .zip(tb.basket_bytes.iter())
            .enumerate()
        {
            if len <= 0 {
                continue;
            }
            let r = match &mut reader {
                Some(r) => r,
                None => reader.insert(reader_of(tb)?),
            };
            let record = r.read_at(seek as u64, len as u64)?;
            let h = basket_header(&record)
                .map_err(|m| branch_error(tb, format!("basket {i} at {seek}: {m}")))?;
            out.push(
                record_payload(&record, h.key_len, h.obj_len)
                    .map_err(|e| branch_error(tb, format!("basket {i} at {seek}: {e}")))?,
            );
        }
        Ok(out)
    }

    /// The compression algorithm of each of this branch's baskets (that of its first
    /// block), `None` for a basket stored uncompressed.
    ///
    /// # Errors
    /// I/O errors, or a block header naming an algorithm this crate does not know.
    pub fn basket_algorithms(&self) -> Result<Vec<Option<crate::Algorithm>>> {
        let tb: &TBranch = self.into();
        let mut out = Vec::new();
        let mut reader = None;
        for (&seek, &len) in tb.basket_seek.iter().zip(tb.basket_bytes.iter()) {
            if len <= 0 {
                continue;
            }
            let r = match &mut reader {
                Some(r) => r,
                None => reader.insert(reader_of(tb)?),
            };
            let head = r.read_at(seek as u64, 16)?;
            let obj_len = i32::from_be_bytes(head[6..10].try_into().expect("4 bytes"));
            let key_len = i16::from_be_bytes(head[14..16].try_into().expect("2 bytes")) as i32;
            if obj_len == len - key_len {
                out.push(None);
                continue;
            }
            let block = r.read_at(
                seek as u64 + key_len as u64,
                crate::rcompress::HEADER_SIZE as u64,
            )?;
            match crate::rcompress::algorithm_of(&block) {
                Some(a) => out.push(Some(a?)),
                None => return Err(branch_error(tb, format!("basket at {seek} is truncated"))),
            }
        }
        Ok(out)
    }

    /// [`basket_bytes`](Self::basket_bytes) of this branch and all its sub-branches.
    pub fn total_basket_bytes(&self) -> Result<BasketBytes> {
        let mut total = self.basket_bytes()?;
        for b in self.branches() {
            total += b.total_basket_bytes()?;
        }
        Ok(total)
    }
}
