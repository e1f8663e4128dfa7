//! ROOT's compression framing: each compressed object is a sequence of blocks, each block a
//! 9-byte header followed by the compressed bytes of at most 16 MiB − 1 of input.
//!
//! Header: 2 magic bytes naming the algorithm (`ZL` zlib, `XZ` lzma/xz, `L4` lz4, `ZS` zstd,
//! `CS` ROOT's old algorithm), 1 method byte, then the compressed and the uncompressed size
//! of the block as 3-byte little-endian integers. For LZ4 the compressed bytes start with an
//! 8-byte big-endian xxhash64 checksum of the LZ4 block that follows, and the compressed size
//! counts those 8 bytes. This is what ROOT (`core/zip`, `core/lz4`, `core/zstd`,
//! `TBasket::WriteBuffer`, `kMAXZIPBUF = 0xffffff`) and uproot (`uproot.compression`) do.
//!
//! A compression setting is ROOT's `fCompress` integer: `algorithm * 100 + level`; level 0
//! means "not compressed", algorithm 0 ("use the global default") means zlib.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong while compressing or decompressing ROOT blocks.
#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    /// A block whose 2-byte magic names an algorithm this crate cannot decompress
    /// (ROOT's old `CS` algorithm, or bytes that are not a ROOT compression header at all).
    UnsupportedAlgorithm {
        magic: [u8; 2],
        name: &'static str,
    },
    /// The compressed bytes do not decode to what their header announces.
    Corrupt(String),
    /// A compression setting or algorithm name/level that is not acceptable.
    InvalidSetting(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "decompression I/O error: {e}"),
            Error::UnsupportedAlgorithm { magic, name } => write!(
                f,
                "unsupported compression algorithm {name} (block magic {:?} = 0x{:02x}{:02x})",
                String::from_utf8_lossy(magic),
                magic[0],
                magic[1]
            ),
            Error::Corrupt(m) => write!(f, "corrupt compressed data: {m}"),
            Error::InvalidSetting(m) => write!(f, "invalid compression setting: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Size of a block header (magic, method, 3-byte compressed size, 3-byte uncompressed size).
pub const HEADER_SIZE: usize = 9;

/// Largest number of input bytes ROOT puts in one block (`kMAXZIPBUF`, 16 MiB − 1): the
/// sizes in a block header are 3-byte integers.
pub const MAX_BLOCK_SIZE: usize = 0xff_ffff;

/// Size of the xxhash64 checksum that precedes each LZ4 block.
const LZ4_CHECKSUM_SIZE: usize = 8;

/// A compression algorithm ROOT can write (`fCompress / 100`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `ZL`: zlib (deflate with zlib header), ROOT algorithm 1; levels 1..=9.
    Zlib,
    /// `XZ`: xz/lzma, ROOT algorithm 2; levels 1..=9.
    Lzma,
    /// `L4`: LZ4 block with an xxhash64 checksum, ROOT algorithm 4; levels 1..=12
    /// (below 4 the fast compressor, from 4 LZ4-HC, as ROOT does).
    Lz4,
    /// `ZS`: zstd frame, ROOT algorithm 5; levels 1..=22.
    Zstd,
}

impl Algorithm {
    /// ROOT's number for the algorithm (`fCompress / 100`).
    pub fn root_code(self) -> i32 {
        match self {
            Algorithm::Zlib => 1,
            Algorithm::Lzma => 2,
            Algorithm::Lz4 => 4,
            Algorithm::Zstd => 5,
        }
    }

    /// The algorithm for ROOT's number; 0 ("use the global default") is zlib.
    pub fn from_root_code(code: i32) -> Result<Self> {
        match code {
            0 | 1 => Ok(Algorithm::Zlib),
            2 => Ok(Algorithm::Lzma),
            4 => Ok(Algorithm::Lz4),
            5 => Ok(Algorithm::Zstd),
            3 => Err(Error::InvalidSetting(
                "algorithm 3 (ROOT's old compression) cannot be written".into(),
            )),
            _ => Err(Error::InvalidSetting(format!(
                "unknown compression algorithm {code} (known: 1 zlib, 2 lzma, 4 lz4, 5 zstd)"
            ))),
        }
    }

    /// Lower-case name, as accepted by [`Compression::from_str`].
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Zlib => "zlib",
            Algorithm::Lzma => "lzma",
            Algorithm::Lz4 => "lz4",
            Algorithm::Zstd => "zstd",
        }
    }

    /// Highest level the algorithm accepts.
    pub fn max_level(self) -> u32 {
        match self {
            Algorithm::Zlib | Algorithm::Lzma => 9,
            Algorithm::Lz4 => 12,
            Algorithm::Zstd => 22,
        }
    }

    fn magic(self) -> [u8; 2] {
        match self {
            Algorithm::Zlib => *b"ZL",
            Algorithm::Lzma => *b"XZ",
            Algorithm::Lz4 => *b"L4",
            Algorithm::Zstd => *b"ZS",
        }
    }

    /// The method byte ROOT writes after the magic.
    fn method(self) -> u8 {
        match self {
            Algorithm::Zlib => 8, // Z_DEFLATED
            Algorithm::Lzma => 0,
            Algorithm::Lz4 => 1, // LZ4 major version
            Algorithm::Zstd => 1,
        }
    }
}

/// An output compression: algorithm and level. Level 0 means "store uncompressed".
///
/// ```
/// use oxyroot::{Algorithm, Compression};
/// let c: Compression = "zstd:5".parse().unwrap();
/// assert_eq!(c, Compression::new(Algorithm::Zstd, 5).unwrap());
/// assert_eq!(c.root_setting(), 505);
/// assert_eq!(Compression::from_root_setting(101).unwrap().to_string(), "zlib:1");
/// assert!(Compression::from_root_setting(0).unwrap().is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Compression {
    algorithm: Algorithm,
    level: u32,
}

impl Default for Compression {
    /// No compression.
    fn default() -> Self {
        Compression::NONE
    }
}

impl Compression {
    /// Store uncompressed (ROOT setting 0).
    pub const NONE: Compression = Compression {
        algorithm: Algorithm::Zlib,
        level: 0,
    };

    /// `algorithm` at `level` (0 = uncompressed, up to [`Algorithm::max_level`]).
    pub fn new(algorithm: Algorithm, level: u32) -> Result<Self> {
        if level > algorithm.max_level() {
            return Err(Error::InvalidSetting(format!(
                "{} level {level} out of range 0..={}",
                algorithm.name(),
                algorithm.max_level()
            )));
        }
        Ok(Compression { algorithm, level })
    }

    /// From ROOT's `fCompress` integer (`algorithm * 100 + level`).
    pub fn from_root_setting(setting: i32) -> Result<Self> {
        if setting < 0 {
            return Err(Error::InvalidSetting(format!(
                "negative compression setting {setting}"
            )));
        }
        let level = (setting % 100) as u32;
        if level == 0 {
            return Ok(Compression::NONE);
        }
        let algorithm = Algorithm::from_root_code(setting / 100)?;
        // ROOT clamps levels above an algorithm's maximum, so accept them the same way.
        Compression::new(algorithm, level.min(algorithm.max_level()))
    }

    /// ROOT's `fCompress` integer for this compression (0 if uncompressed).
    pub fn root_setting(&self) -> i32 {
        if self.level == 0 {
            0
        } else {
            self.algorithm.root_code() * 100 + self.level as i32
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn level(&self) -> u32 {
        self.level
    }

    /// Whether this setting stores data uncompressed.
    pub fn is_none(&self) -> bool {
        self.level == 0
    }
}

impl fmt::Display for Compression {
    /// `zlib:5`, `lzma:9`, `lz4:4`, `zstd:5`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            f.write_str("none")
        } else {
            write!(f, "{}:{}", self.algorithm.name(), self.level)
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// Parses `ALGORITHM:LEVEL` (`zlib`, `lzma`, `lz4`, `zstd`), `none`, or ROOT's integer
    /// setting (`505`). An algorithm without a level takes ROOT's default for it
    /// (`ROOT::RCompressionSetting::EDefaults`): zlib 1, lzma 7, lz4 4, zstd 5.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        if t == "none" || t == "uncompressed" {
            return Ok(Compression::NONE);
        }
        if let Ok(n) = t.parse::<i32>() {
            return Compression::from_root_setting(n);
        }
        let (name, level) = match t.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (t.as_str(), None),
        };
        let algorithm = match name {
            "zlib" | "zl" => Algorithm::Zlib,
            "lzma" | "xz" => Algorithm::Lzma,
            "lz4" | "l4" => Algorithm::Lz4,
            "zstd" | "zs" => Algorithm::Zstd,
            _ => {
                return Err(Error::InvalidSetting(format!(
                    "unknown compression '{s}': expected zlib:N, lzma:N, lz4:N, zstd:N, none or a ROOT setting like 505"
                )))
            }
        };
        let level = match level {
            None => match algorithm {
                Algorithm::Zlib => 1,
                Algorithm::Lzma => 7,
                Algorithm::Lz4 => 4,
                Algorithm::Zstd => 5,
            },
            Some(l) => l.parse::<u32>().map_err(|_| {
                Error::InvalidSetting(format!("compression level '{l}' in '{s}' is not a number"))
            })?,
        };
        Compression::new(algorithm, level)
    }
}

fn algorithm_of_magic(magic: [u8; 2]) -> Result<Algorithm> {
    match &magic {
        b"ZL" => Ok(Algorithm::Zlib),
        b"XZ" => Ok(Algorithm::Lzma),
        b"L4" => Ok(Algorithm::Lz4),
        b"ZS" => Ok(Algorithm::Zstd),
        b"CS" => Err(Error::UnsupportedAlgorithm {
            magic,
            name: "CS (ROOT's old compression algorithm)",
        }),
        _ => Err(Error::UnsupportedAlgorithm {
            magic,
            name: "unknown",
        }),
    }
}

fn read_u24(b: &[u8]) -> usize {
    b[0] as usize | (b[1] as usize) << 8 | (b[2] as usize) << 16
}

/// The algorithm of the first block of a compressed buffer (`None` if it is too short).
pub fn algorithm_of(src: &[u8]) -> Option<Result<Algorithm>> {
    (src.len() >= HEADER_SIZE).then(|| algorithm_of_magic([src[0], src[1]]))
}

/// Decompresses the ROOT blocks in `src` into `dst`, which must have exactly the
/// uncompressed size (the key's `fObjlen`). Any number of blocks, of any supported
/// algorithm, is accepted. Returns the number of bytes written (`dst.len()`).
///
/// # Errors
/// [`Error::UnsupportedAlgorithm`] naming the algorithm for `CS` or unknown magic bytes;
/// [`Error::Corrupt`] if a header is truncated, sizes disagree, the LZ4 checksum fails or
/// the codec rejects the data.
pub fn decompress(dst: &mut [u8], src: &[u8]) -> Result<usize> {
    let mut out = 0usize;
    let mut pos = 0usize;
    while out < dst.len() {
        if src.len() < pos + HEADER_SIZE {
            return Err(Error::Corrupt(format!(
                "compressed data ends after {pos} of its bytes with {out} of {} bytes decompressed",
                dst.len()
            )));
        }
        let hdr = &src[pos..pos + HEADER_SIZE];
        let algorithm = algorithm_of_magic([hdr[0], hdr[1]])?;
        let c_size = read_u24(&hdr[3..6]);
        let u_size = read_u24(&hdr[6..9]);
        pos += HEADER_SIZE;
        if src.len() < pos + c_size {
            return Err(Error::Corrupt(format!(
                "{} block announces {c_size} compressed bytes but only {} remain",
                algorithm.name(),
                src.len() - pos
            )));
        }
        if dst.len() < out + u_size || u_size == 0 {
            return Err(Error::Corrupt(format!(
                "{} block announces {u_size} uncompressed bytes, but {} remain to fill",
                algorithm.name(),
                dst.len() - out
            )));
        }
        let block = &src[pos..pos + c_size];
        let target = &mut dst[out..out + u_size];
        decompress_block(algorithm, block, target)?;
        pos += c_size;
        out += u_size;
    }
    Ok(out)
}

/// Whether the ROOT blocks in `src` decode whole to `obj_len` bytes, checksums included:
/// [`decompress`], and for zlib blocks the stream read to its end, so that its Adler-32 is
/// checked too (reading exactly the uncompressed size stops before it).
///
/// # Errors
/// As [`decompress`], and [`Error::Corrupt`] for a zlib stream whose checksum fails or that
/// holds more than its header says.
pub fn check_decodes(src: &[u8], obj_len: usize) -> Result<()> {
    let mut out = vec![0u8; obj_len];
    decompress(&mut out, src)?;
    let mut pos = 0usize;
    while pos + HEADER_SIZE <= src.len() {
        let hdr = &src[pos..pos + HEADER_SIZE];
        let c_size = read_u24(&hdr[3..6]);
        let u_size = read_u24(&hdr[6..9]);
        let block = &src[pos + HEADER_SIZE..(pos + HEADER_SIZE + c_size).min(src.len())];
        if algorithm_of_magic([hdr[0], hdr[1]])? == Algorithm::Zlib {
            let mut rest = Vec::with_capacity(u_size);
            flate2::read::ZlibDecoder::new(block)
                .read_to_end(&mut rest)
                .map_err(|e| Error::Corrupt(format!("zlib block: {e}")))?;
            if rest.len() != u_size {
                return Err(Error::Corrupt(format!(
                    "zlib block holds {} bytes, its header says {u_size}",
                    rest.len()
                )));
            }
        }
        pos += HEADER_SIZE + c_size;
    }
    Ok(())
}

fn decompress_block(algorithm: Algorithm, block: &[u8], target: &mut [u8]) -> Result<()> {
    let corrupt = |what: String| Error::Corrupt(format!("{} block: {what}", algorithm.name()));
    let n = target.len();
    match algorithm {
        Algorithm::Zlib => {
            let mut d = flate2::read::ZlibDecoder::new(block);
            d.read_exact(target)
                .map_err(|e| corrupt(format!("zlib: {e}")))?;
        }
        Algorithm::Lzma => {
            let mut d = xz2::read::XzDecoder::new(block);
            d.read_exact(target)
                .map_err(|e| corrupt(format!("xz: {e}")))?;
        }
        Algorithm::Lz4 => {
            if block.len() < LZ4_CHECKSUM_SIZE {
                return Err(corrupt("shorter than its checksum".into()));
            }
            let (sum, data) = block.split_at(LZ4_CHECKSUM_SIZE);
            let expected = u64::from_be_bytes(sum.try_into().expect("8 bytes"));
            let computed = xxhash_rust::xxh64::xxh64(data, 0);
            if expected != computed {
                return Err(corrupt(format!(
                    "xxhash64 checksum mismatch (stored {expected:#018x}, computed {computed:#018x})"
                )));
            }
            let got = lz4::block::decompress_to_buffer(data, Some(n as i32), target)
                .map_err(|e| corrupt(format!("lz4: {e}")))?;
            if got != n {
                return Err(corrupt(format!("decoded {got} bytes, header says {n}")));
            }
        }
        Algorithm::Zstd => {
            let got = zstd::bulk::decompress_to_buffer(block, target)
                .map_err(|e| corrupt(format!("zstd: {e}")))?;
            if got != n {
                return Err(corrupt(format!("decoded {got} bytes, header says {n}")));
            }
        }
    }
    Ok(())
}

fn compress_block(c: Compression, block: &[u8]) -> Result<Vec<u8>> {
    let level = c.level;
    let out = match c.algorithm {
        Algorithm::Zlib => {
            use std::io::Write;
            let mut e = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(block.len() / 2),
                flate2::Compression::new(level),
            );
            e.write_all(block)?;
            e.finish()?
        }
        Algorithm::Lzma => {
            use std::io::Write;
            let mut e = xz2::write::XzEncoder::new(Vec::with_capacity(block.len() / 2), level);
            e.write_all(block)?;
            e.finish()?
        }
        Algorithm::Lz4 => {
            // ROOT (core/lz4/src/ZipLZ4.cxx): LZ4_compress_HC from level 4, else the fast one.
            let mode = if level >= 4 {
                lz4::block::CompressionMode::HIGHCOMPRESSION(level as i32)
            } else {
                lz4::block::CompressionMode::DEFAULT
            };
            let data = lz4::block::compress(block, Some(mode), false)?;
            let sum = xxhash_rust::xxh64::xxh64(&data, 0);
            let mut v = Vec::with_capacity(LZ4_CHECKSUM_SIZE + data.len());
            v.extend_from_slice(&sum.to_be_bytes());
            v.extend_from_slice(&data);
            v
        }
        Algorithm::Zstd => zstd::bulk::compress(block, level as i32)?,
    };
    Ok(out)
}

/// Compresses `src` the way ROOT does: blocks of at most [`MAX_BLOCK_SIZE`] input bytes,
/// each with its 9-byte header. Returns `src` unchanged if `compression` is
/// [`Compression::NONE`] or if the compressed form would not be smaller (ROOT then stores
/// the object uncompressed; readers tell the two apart by comparing the key's sizes).
///
/// ```
/// use oxyroot::{compress, decompress, Compression};
/// let data: Vec<u8> = (0..100_000u32).flat_map(|i| ((i % 977) as f32).to_be_bytes()).collect();
/// let z = compress(data.clone(), "zstd:3".parse().unwrap()).unwrap();
/// assert!(z.len() < data.len() && &z[..2] == b"ZS");
/// let mut back = vec![0; data.len()];
/// decompress(&mut back, &z).unwrap();
/// assert_eq!(back, data);
/// ```
pub fn compress(src: Vec<u8>, compression: Compression) -> Result<Vec<u8>> {
    if compression.is_none() || src.is_empty() {
        return Ok(src);
    }
    let mut out = Vec::with_capacity(src.len() / 2 + HEADER_SIZE);
    for block in src.chunks(MAX_BLOCK_SIZE) {
        let z = compress_block(compression, block)?;
        if z.len() >= block.len() || z.len() > MAX_BLOCK_SIZE {
            return Ok(src);
        }
        let (c, u) = (z.len() as u32, block.len() as u32);
        out.extend_from_slice(&compression.algorithm.magic());
        out.push(compression.algorithm.method());
        out.extend_from_slice(&c.to_le_bytes()[..3]);
        out.extend_from_slice(&u.to_le_bytes()[..3]);
        out.extend_from_slice(&z);
    }
    if out.len() < src.len() {
        Ok(out)
    } else {
        Ok(src)
    }
}
