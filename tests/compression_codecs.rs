//! ROOT's compression framing in the vendored oxyroot, on the real data's float bytes:
//! round trips for ZLIB, LZMA, LZ4 and ZSTD (multi-block included), errors instead of
//! panics for unsupported or corrupt blocks, compressed files written with `WriterTree`,
//! and the point of it all: rounded mantissas compress better.

mod common;

use oxyroot::{compress, decompress, Algorithm, Compression, RootFile, WriterTree};
use refloat::{Quantiser32, RoundingMode};

const ALL: [&str; 4] = ["zlib:5", "lzma:1", "lz4:4", "zstd:5"];

/// All float values of the flat copies of both files, as ROOT stores them (big-endian).
fn real_float_bytes() -> Vec<u8> {
    common::all_flat()
        .into_iter()
        .flat_map(|(_, v)| v)
        .flat_map(f32::to_be_bytes)
        .collect()
}

/// `n` bytes made by repeating the real float bytes (for a buffer larger than one block).
fn tiled(n: usize) -> Vec<u8> {
    real_float_bytes().into_iter().cycle().take(n).collect()
}

/// `(magic, method, compressed size, uncompressed size)` of each block of a buffer.
fn blocks(z: &[u8]) -> Vec<([u8; 2], u8, usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < z.len() {
        let h = &z[pos..pos + 9];
        let c = h[3] as usize | (h[4] as usize) << 8 | (h[5] as usize) << 16;
        let u = h[6] as usize | (h[7] as usize) << 8 | (h[8] as usize) << 16;
        out.push(([h[0], h[1]], h[2], c, u));
        pos += 9 + c;
    }
    assert_eq!(pos, z.len(), "blocks must tile the buffer");
    out
}

#[test]
fn every_algorithm_round_trips_the_real_float_bytes_with_roots_block_header() {
    let data = real_float_bytes();
    assert!(data.len() > 100_000);
    for spec in ALL {
        let c: Compression = spec.parse().unwrap();
        let z = compress(data.clone(), c).unwrap();
        assert!(
            z.len() < data.len(),
            "{spec}: {} -> {}",
            data.len(),
            z.len()
        );
        let b = blocks(&z);
        assert_eq!(b.len(), 1, "{spec}");
        let (magic, method, _, u) = b[0];
        let (want_magic, want_method) = match c.algorithm() {
            Algorithm::Zlib => (*b"ZL", 8),
            Algorithm::Lzma => (*b"XZ", 0),
            Algorithm::Lz4 => (*b"L4", 1),
            Algorithm::Zstd => (*b"ZS", 1),
        };
        assert_eq!(
            (magic, method, u),
            (want_magic, want_method, data.len()),
            "{spec}"
        );
        let mut back = vec![0u8; data.len()];
        assert_eq!(decompress(&mut back, &z).unwrap(), data.len());
        assert!(back == data, "{spec}: round trip differs");
    }
}

#[test]
fn buffers_over_16_mib_are_split_into_blocks_of_16_mib_minus_1() {
    let n = oxyroot::rcompress::MAX_BLOCK_SIZE + 1_000_003;
    let data = tiled(n);
    for spec in ["zlib:1", "lz4:1", "zstd:1"] {
        let z = compress(data.clone(), spec.parse().unwrap()).unwrap();
        let b = blocks(&z);
        assert_eq!(b.len(), 2, "{spec}");
        assert_eq!(
            b[0].3, 0xff_ffff,
            "{spec}: first block holds 16 MiB - 1 input bytes"
        );
        assert_eq!(b[0].3 + b[1].3, n, "{spec}");
        let mut back = vec![0u8; n];
        decompress(&mut back, &z).unwrap();
        assert!(back == data, "{spec}: multi-block round trip differs");
    }
}

#[test]
fn blocks_of_different_algorithms_can_follow_each_other() {
    let data = real_float_bytes();
    let (a, b) = data.split_at(data.len() / 3);
    let mut z = compress(a.to_vec(), "lzma:1".parse().unwrap()).unwrap();
    assert_eq!(&z[..2], b"XZ");
    let second = compress(b.to_vec(), "zstd:3".parse().unwrap()).unwrap();
    assert_eq!(&second[..2], b"ZS");
    z.extend(second);
    let mut back = vec![0u8; data.len()];
    decompress(&mut back, &z).unwrap();
    assert!(back == data);
}

#[test]
fn uncompressible_or_level_0_input_is_returned_as_is() {
    let data = real_float_bytes();
    assert_eq!(compress(data.clone(), Compression::NONE).unwrap(), data);
    let tiny = data[..8].to_vec();
    for spec in ALL {
        assert_eq!(
            compress(tiny.clone(), spec.parse().unwrap()).unwrap(),
            tiny,
            "{spec}"
        );
    }
}

#[test]
fn unsupported_and_corrupt_blocks_are_errors_naming_the_problem() {
    let data = real_float_bytes();
    let z = compress(data.clone(), "zlib:5".parse().unwrap()).unwrap();
    let mut out = vec![0u8; data.len()];

    let mut unknown = z.clone();
    unknown[..2].copy_from_slice(b"QQ");
    let e = decompress(&mut out, &unknown).unwrap_err().to_string();
    assert!(
        e.contains("unsupported compression algorithm") && e.contains("QQ"),
        "{e}"
    );

    let mut old = z.clone();
    old[..2].copy_from_slice(b"CS");
    let e = decompress(&mut out, &old).unwrap_err().to_string();
    assert!(e.contains("CS") && e.contains("old"), "{e}");

    let e = decompress(&mut out, &z[..z.len() / 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("corrupt"), "{e}");

    let mut lz4 = compress(data.clone(), "lz4:4".parse().unwrap()).unwrap();
    lz4[9] ^= 0xff; // first checksum byte
    let e = decompress(&mut out, &lz4).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");

    let mut short = vec![0u8; data.len() + 1];
    let e = decompress(&mut short, &z).unwrap_err().to_string();
    assert!(e.contains("corrupt"), "{e}");
}

#[test]
fn compression_settings_follow_roots_fcompress() {
    for (s, setting) in [
        ("zlib:5", 105),
        ("lzma:9", 209),
        ("lz4:4", 404),
        ("zstd:5", 505),
        ("none", 0),
        ("ZSTD", 505),
        ("207", 207),
    ] {
        assert_eq!(
            s.parse::<Compression>().unwrap().root_setting(),
            setting,
            "{s}"
        );
    }
    assert_eq!(
        Compression::from_root_setting(1).unwrap().to_string(),
        "zlib:1",
        "algorithm 0 is ROOT's default, zlib"
    );
    assert!(Compression::from_root_setting(100).unwrap().is_none());
    for bad in ["zlib:10", "zstd:23", "brotli:4", "zstd:x", "301", "-5"] {
        let e = bad.parse::<Compression>().unwrap_err().to_string();
        assert!(e.contains("compression"), "{bad}: {e}");
    }
}

/// The flat copies of one file as one `std::vector<float>` per event, per branch.
fn events(stem: &str) -> Vec<(String, Vec<Vec<f32>>)> {
    common::flat_branches(stem)
        .into_iter()
        .map(|name| {
            let (values, counts) = common::load_flat(stem, &name);
            let mut at = 0;
            let per_event = counts
                .iter()
                .map(|&c| {
                    let e = values[at..at + c as usize].to_vec();
                    at += c as usize;
                    e
                })
                .collect();
            (name, per_event)
        })
        .collect()
}

fn write_vectors(path: &std::path::Path, c: Compression, branches: &[(String, Vec<Vec<f32>>)]) {
    let mut f = RootFile::create_with_compression(path, c).unwrap();
    let mut t = WriterTree::new("CollectionTree");
    for (name, per_event) in branches {
        t.new_branch(name.clone(), per_event.clone().into_iter());
    }
    t.write(&mut f).unwrap();
    f.close().unwrap();
}

#[test]
fn oxyroot_writes_and_reads_back_compressed_vector_float_branches_of_the_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let branches = events(common::DEV);
    for spec in ALL {
        let c: Compression = spec.parse().unwrap();
        let path = dir.path().join(format!("w_{}.root", c.algorithm().name()));
        write_vectors(&path, c, &branches);
        let mut f = RootFile::open(&path).unwrap();
        assert_eq!(f.compression(), c.root_setting(), "{spec}");
        let t = f.get_tree("CollectionTree").unwrap();
        for (name, per_event) in &branches {
            let col = t.branch(name).unwrap().read_floats().unwrap();
            let want: Vec<u32> = per_event.iter().flatten().map(|v| v.to_bits()).collect();
            let got: Vec<u32> = col.values.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{spec} {name}");
            let counts: Vec<u32> = per_event.iter().map(|e| e.len() as u32).collect();
            assert_eq!(col.counts.as_deref(), Some(&counts[..]), "{spec} {name}");
        }
    }
}

#[test]
fn ten_kept_bits_compress_smaller_than_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let full = events(common::DEV);
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let rounded: Vec<(String, Vec<Vec<f32>>)> = full
        .iter()
        .map(|(n, evs)| {
            let evs = evs
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    q.quantise_slice(&mut e);
                    e
                })
                .collect();
            (n.clone(), evs)
        })
        .collect();
    for spec in ["zlib:5", "zstd:5"] {
        let c: Compression = spec.parse().unwrap();
        let (a, b) = (dir.path().join("full.root"), dir.path().join("q10.root"));
        write_vectors(&a, c, &full);
        write_vectors(&b, c, &rounded);
        let (sa, sb) = (
            std::fs::metadata(&a).unwrap().len(),
            std::fs::metadata(&b).unwrap().len(),
        );
        eprintln!(
            "{spec}: full precision {sa} bytes, 10 kept bits {sb} bytes ({:.1}% smaller)",
            100.0 * (1.0 - sb as f64 / sa as f64)
        );
        assert!(sb < sa, "{spec}: 10 kept bits {sb} >= full precision {sa}");
        // Not by chance: the float baskets themselves shrink by a clear margin.
        let sum = |p: &std::path::Path| {
            let mut f = RootFile::open(p).unwrap();
            let t = f.get_tree("CollectionTree").unwrap();
            t.branches()
                .map(|b| b.basket_bytes().unwrap().compressed)
                .sum::<u64>()
        };
        let (ba, bb) = (sum(&a), sum(&b));
        assert!(
            (bb as f64) < 0.9 * ba as f64,
            "{spec}: float baskets {ba} -> {bb}"
        );
    }
}

/// Offsets of the payloads of the TBasket records of a small-format ROOT file.
fn basket_payload_offsets(bytes: &[u8]) -> Vec<usize> {
    let be32 = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let (begin, end) = (be32(8) as usize, be32(12) as usize);
    let mut pos = begin;
    let mut out = Vec::new();
    while pos < end {
        let n = be32(pos);
        if n < 0 {
            pos += (-n) as usize;
            continue;
        }
        let key_len = i16::from_be_bytes(bytes[pos + 14..pos + 16].try_into().unwrap()) as usize;
        let class_at = pos + 26; // small keys: 18 + 2 * 4
        let len = bytes[class_at] as usize;
        if &bytes[class_at + 1..class_at + 1 + len] == b"TBasket" {
            out.push(pos + key_len);
        }
        pos += n as usize;
    }
    out
}

#[test]
fn a_basket_with_an_unknown_algorithm_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zlib.root");
    let branches: Vec<_> = events(common::DEV).into_iter().take(3).collect();
    write_vectors(&path, "zlib:5".parse().unwrap(), &branches);
    let mut bytes = std::fs::read(&path).unwrap();
    let offsets = basket_payload_offsets(&bytes);
    let mut patched = 0;
    for at in offsets {
        if &bytes[at..at + 2] == b"ZL" {
            bytes[at..at + 2].copy_from_slice(b"QQ");
            patched += 1;
        }
    }
    assert!(patched > 0);
    let bad = dir.path().join("unknown.root");
    std::fs::write(&bad, &bytes).unwrap();

    let mut f = RootFile::open(&bad).unwrap();
    let t = f.get_tree("CollectionTree").unwrap();
    let e = t
        .branch(&branches[0].0)
        .unwrap()
        .read_floats()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unsupported compression algorithm") && e.contains("QQ"),
        "{e}"
    );
    let out = dir.path().join("rewritten.root");
    let e = oxyroot::rewrite::rewrite_file(&bad, &out, &Default::default(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("QQ"), "{e}");
    assert!(!out.exists(), "no output is left after an error");
}

#[test]
fn a_file_that_is_not_root_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("not.root");
    std::fs::write(&p, vec![7u8; 4096]).unwrap();
    let e = RootFile::open(&p).err().expect("must fail").to_string();
    assert!(e.contains("not a ROOT file"), "{e}");
}
