//! Metadata inside a TorchScript file, the way PyTorch itself stores it: an "extra file".
//!
//! A TorchScript `.pt` file is a zip archive (`<prefix>/data.pkl`, `<prefix>/code/…`,
//! `<prefix>/constants/…`). PyTorch reads and writes additional named records under
//! `<prefix>/extra/NAME` (Python: `torch.jit.load(path, _extra_files={"NAME": ""})`;
//! C++: `torch::jit::load(path, device, extra_files)`). tch can save a module but not its
//! extra files, so refloat appends the record itself: [`with_extra_file`] copies every
//! existing record byte for byte, adds one stored (uncompressed) record after them and
//! rewrites the central directory (and the zip64 end records PyTorch writes). The module
//! records are untouched, so the file still loads as the same TorchScript module.
//!
//! Only what PyTorch's writer produces is supported (one disk, no encryption, no archive
//! comment beyond the end record); anything else is a clear [`Error::Model`].

use refloat_core::error::{Error, Result};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

fn bad(why: impl Into<String>) -> Error {
    Error::Model(format!(
        "not a readable TorchScript archive: {}",
        why.into()
    ))
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| bad("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| bad("truncated"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| bad("truncated"))
}

/// CRC-32 (IEEE 802.3, as zip uses), bitwise: records here are a few kB.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One central-directory record.
struct Entry {
    name: String,
    method: u16,
    crc: u32,
    compressed_size: u64,
    local_offset: u64,
}

/// Where the end records and the central directory are.
struct Layout {
    /// Offset of the first central-directory record.
    cd_offset: u64,
    /// Size of the central directory in bytes.
    cd_size: u64,
    /// Number of records.
    entries: u64,
    /// Offset of the zip64 end record, if there is one.
    zip64_eocd: Option<u64>,
    /// Offset of the classic end record.
    eocd: usize,
}

fn layout(b: &[u8]) -> Result<Layout> {
    if b.len() < 22 {
        return Err(bad("shorter than a zip end record"));
    }
    // The end record is at most 22 + 65535 bytes from the end.
    let lowest = b.len().saturating_sub(22 + 0xFFFF);
    let eocd = (lowest..=b.len() - 22)
        .rev()
        .find(|&i| u32_at(b, i).ok() == Some(EOCD_SIG))
        .ok_or_else(|| bad("no zip end record"))?;
    let mut entries = u16_at(b, eocd + 10)? as u64;
    let mut cd_size = u32_at(b, eocd + 12)? as u64;
    let mut cd_offset = u32_at(b, eocd + 16)? as u64;
    let mut zip64_eocd = None;
    if eocd >= 20 && u32_at(b, eocd - 20)? == ZIP64_LOCATOR_SIG {
        let at = u64_at(b, eocd - 20 + 8)?;
        let at_usize = usize::try_from(at).map_err(|_| bad("zip64 offset out of range"))?;
        if u32_at(b, at_usize)? != ZIP64_EOCD_SIG {
            return Err(bad("zip64 locator does not point at a zip64 end record"));
        }
        entries = u64_at(b, at_usize + 32)?;
        cd_size = u64_at(b, at_usize + 40)?;
        cd_offset = u64_at(b, at_usize + 48)?;
        zip64_eocd = Some(at);
    }
    if cd_offset
        .checked_add(cd_size)
        .is_none_or(|end| end > b.len() as u64)
    {
        return Err(bad("central directory beyond the end of the file"));
    }
    Ok(Layout {
        cd_offset,
        cd_size,
        entries,
        zip64_eocd,
        eocd,
    })
}

fn entries(b: &[u8], l: &Layout) -> Result<Vec<Entry>> {
    let mut out = Vec::with_capacity(l.entries as usize);
    let mut at = l.cd_offset as usize;
    for _ in 0..l.entries {
        if u32_at(b, at)? != CENTRAL_SIG {
            return Err(bad("broken central directory"));
        }
        let method = u16_at(b, at + 10)?;
        let crc = u32_at(b, at + 16)?;
        let mut compressed_size = u32_at(b, at + 20)? as u64;
        let mut uncompressed_size = u32_at(b, at + 24)? as u64;
        let name_len = u16_at(b, at + 28)? as usize;
        let extra_len = u16_at(b, at + 30)? as usize;
        let comment_len = u16_at(b, at + 32)? as usize;
        let mut local_offset = u32_at(b, at + 42)? as u64;
        let name = b
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("truncated record name"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        // zip64 extended information: the 0xFFFFFFFF fields, in this order.
        let mut e = at + 46 + name_len;
        let extra_end = e + extra_len;
        while e + 4 <= extra_end {
            let id = u16_at(b, e)?;
            let size = u16_at(b, e + 2)? as usize;
            if id == 0x0001 {
                let mut f = e + 4;
                if uncompressed_size == 0xFFFF_FFFF {
                    uncompressed_size = u64_at(b, f)?;
                    f += 8;
                }
                if compressed_size == 0xFFFF_FFFF {
                    compressed_size = u64_at(b, f)?;
                    f += 8;
                }
                if local_offset == 0xFFFF_FFFF {
                    local_offset = u64_at(b, f)?;
                }
            }
            e += 4 + size;
        }
        let _ = uncompressed_size;
        out.push(Entry {
            name,
            method,
            crc,
            compressed_size,
            local_offset,
        });
        at = extra_end + comment_len;
    }
    Ok(out)
}

/// The record prefix of the archive (`model` for `model/data.pkl`).
fn prefix(entries: &[Entry]) -> Result<String> {
    entries
        .iter()
        .find_map(|e| e.name.strip_suffix("/data.pkl").map(str::to_owned))
        .ok_or_else(|| bad("no data.pkl record (not a TorchScript module)"))
}

fn record_data<'a>(b: &'a [u8], e: &Entry) -> Result<&'a [u8]> {
    let at = usize::try_from(e.local_offset).map_err(|_| bad("offset out of range"))?;
    if u32_at(b, at)? != LOCAL_SIG {
        return Err(bad(format!("record '{}' has no local header", e.name)));
    }
    let start = at + 30 + u16_at(b, at + 26)? as usize + u16_at(b, at + 28)? as usize;
    let end = start + e.compressed_size as usize;
    b.get(start..end)
        .ok_or_else(|| bad(format!("record '{}' is truncated", e.name)))
}

/// The extra file `name` (`<prefix>/extra/name`) of a TorchScript archive, or `None` if
/// there is none.
///
/// # Errors
/// [`Error::Model`] if `archive` is not a zip archive of a TorchScript module, or the
/// record is compressed or fails its CRC check.
pub fn read_extra_file(archive: &[u8], name: &str) -> Result<Option<Vec<u8>>> {
    let l = layout(archive)?;
    let entries = entries(archive, &l)?;
    let wanted = format!("{}/extra/{name}", prefix(&entries)?);
    let Some(e) = entries.iter().find(|e| e.name == wanted) else {
        return Ok(None);
    };
    if e.method != 0 {
        return Err(bad(format!(
            "record '{wanted}' is compressed (method {}); refloat reads stored records",
            e.method
        )));
    }
    let data = record_data(archive, e)?;
    if crc32(data) != e.crc {
        return Err(bad(format!(
            "record '{wanted}' fails its CRC check (corrupt file)"
        )));
    }
    Ok(Some(data.to_vec()))
}

/// A copy of the TorchScript archive with the extra file `name` set to `data` (added after
/// the existing records; an existing record of that name is an error, since PyTorch would
/// see two).
///
/// # Errors
/// [`Error::Model`] if `archive` is not a TorchScript zip archive, already holds the
/// record, or would exceed the classic zip limits (4 GiB, 65535 records).
///
/// ```
/// # // exercised on a real module in tests/model_*.rs; here only the error path
/// assert!(refloat_model::archive::with_extra_file(b"not a zip", "x", b"{}").is_err());
/// ```
pub fn with_extra_file(archive: &[u8], name: &str, data: &[u8]) -> Result<Vec<u8>> {
    let l = layout(archive)?;
    let entries = entries(archive, &l)?;
    let full = format!("{}/extra/{name}", prefix(&entries)?);
    if entries.iter().any(|e| e.name == full) {
        return Err(bad(format!("record '{full}' already exists")));
    }
    let new_offset = l.cd_offset;
    let mut out = Vec::with_capacity(archive.len() + data.len() + 256);
    out.extend_from_slice(&archive[..new_offset as usize]);

    // Local header; data aligned to 64 bytes like PyTorch's writer (an 'FB' padding field).
    let crc = crc32(data);
    let header_len = 30 + full.len();
    let pad = (64 - (new_offset as usize + header_len + 4) % 64) % 64;
    let extra_len = 4 + pad;
    let size = u32::try_from(data.len()).map_err(|_| bad("extra record too large"))?;
    out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version needed
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
    out.extend_from_slice(&0u16.to_le_bytes()); // time
    out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(full.len() as u16).to_le_bytes());
    out.extend_from_slice(&(extra_len as u16).to_le_bytes());
    out.extend_from_slice(full.as_bytes());
    out.extend_from_slice(&0x4246u16.to_le_bytes()); // "FB"
    out.extend_from_slice(&(pad as u16).to_le_bytes());
    out.extend(std::iter::repeat_n(b'Z', pad));
    debug_assert_eq!(out.len() % 64, 0);
    out.extend_from_slice(data);

    // Central directory: the old records verbatim, then the new one.
    let cd_offset = out.len() as u64;
    out.extend_from_slice(&archive[l.cd_offset as usize..(l.cd_offset + l.cd_size) as usize]);
    let local_offset = u32::try_from(new_offset).map_err(|_| bad("archive larger than 4 GiB"))?;
    out.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version made by
    out.extend_from_slice(&20u16.to_le_bytes()); // version needed
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0x21u16.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(full.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // extra
    out.extend_from_slice(&0u16.to_le_bytes()); // comment
    out.extend_from_slice(&0u16.to_le_bytes()); // disk
    out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&local_offset.to_le_bytes());
    out.extend_from_slice(full.as_bytes());
    let cd_size = out.len() as u64 - cd_offset;
    let n = l.entries + 1;
    let n16 = u16::try_from(n).map_err(|_| bad("too many records"))?;
    let cd_size32 = u32::try_from(cd_size).map_err(|_| bad("central directory too large"))?;
    let cd_offset32 = u32::try_from(cd_offset).map_err(|_| bad("archive larger than 4 GiB"))?;

    if l.zip64_eocd.is_some() {
        let at = out.len() as u64;
        out.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes()); // size of the rest of the record
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&n16.to_le_bytes());
    out.extend_from_slice(&cd_size32.to_le_bytes());
    out.extend_from_slice(&cd_offset32.to_le_bytes());
    // Keep the old archive comment, if any.
    let comment_len = u16_at(archive, l.eocd + 20)? as usize;
    out.extend_from_slice(&(comment_len as u16).to_le_bytes());
    out.extend_from_slice(
        archive
            .get(l.eocd + 22..l.eocd + 22 + comment_len)
            .ok_or_else(|| bad("truncated comment"))?,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = read_extra_file(&[0u8; 100], "refloat.json").unwrap_err();
        assert!(e.to_string().contains("TorchScript archive"), "{e}");
    }
}
