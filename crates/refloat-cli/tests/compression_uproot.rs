//! oxyroot and uproot agree bit for bit on compressed files made from the real data:
//! uproot writes ZLIB/LZMA/LZ4/ZSTD files (a basket over 16 MiB included) that oxyroot
//! reads, oxyroot writes files that uproot reads, and uproot reads refloat's rewritten
//! files with every branch present.
//!
//! Needs Python 3 with uproot, awkward and numpy (`tests/ci/compression.sh` installs them).
//! Without them these tests are skipped with a `SKIPPED` line, except under CI (`CI` set and
//! not empty, `false` or `0`), where a missing uproot is a failure ([`common::python_with`]).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use oxyroot::rewrite::{rewrite_file, RewriteOptions};
use oxyroot::{Compression, FloatStorage, RootFile, WriterTree};
use refloat_core::{Quantiser32, RoundingMode};

const ALGORITHMS: [(&str, &str, i32); 4] = [
    ("zlib", "zlib:5", 105),
    ("lzma", "lzma:1", 201),
    ("lz4", "lz4:4", 404),
    ("zstd", "zstd:5", 505),
];

fn script() -> PathBuf {
    common::repo_root().join("tests/python/make_compressed.py")
}

/// The Python interpreter to use, if it has uproot (under CI it must, see
/// [`common::python_with`]).
fn python() -> Option<String> {
    common::python_with(&["uproot", "awkward", "numpy"], "tests/ci/compression.sh")
}

fn run(py: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(script())
        .args(args)
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "make_compressed.py {args:?} failed:\n{text}"
    );
    text
}

/// Runs `make_compressed.py check-rewrite` (10 bits) on `input` and its rewrite `output`
/// for tree `tree`: its output and the statistics it ends with (rounded / equal branches).
fn check_rewrite(py: &str, input: &Path, output: &Path, tree: &str) -> (String, serde_json::Value) {
    let text = run(
        py,
        &[
            "check-rewrite",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "10",
            tree,
        ],
    );
    let stats = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    (text, stats)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn flat_dir(stem: &str) -> PathBuf {
    common::data_dir().join(format!("{stem}.flat"))
}

#[test]
fn oxyroot_reads_uproot_written_zlib_lzma_lz4_zstd_files_of_the_real_data_bit_for_bit() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    run(
        &py,
        &[
            "make",
            common::data_dir().to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
    );

    for (algo, _, setting) in ALGORITHMS {
        for stem in common::FILES {
            let path = dir.path().join(format!("{stem}.{algo}.root"));
            let mut f = RootFile::open(&path).unwrap();
            assert_eq!(f.compression(), setting, "{algo}: uproot's fCompress");
            let t = f.get_tree("jagged").unwrap();
            let names = common::flat_branches(stem);
            let mut algorithms = std::collections::BTreeMap::new();
            for name in &names {
                let b = t
                    .branch(name)
                    .unwrap_or_else(|| panic!("{algo} {stem}: no branch {name}"));
                let col = b
                    .read_floats()
                    .unwrap_or_else(|e| panic!("{algo} {stem} {name}: {e}"));
                let (values, counts) = common::load_flat(stem, name);
                assert_eq!(col.storage, FloatStorage::CountedFloat, "{name}");
                assert_eq!(bits(&col.values), bits(&values), "{algo} {stem} {name}");
                let got: Vec<i64> = col.counts.unwrap().iter().map(|&c| c as i64).collect();
                assert_eq!(got, counts, "{algo} {stem} {name}");
                let bytes = b.basket_bytes().unwrap();
                assert_eq!(bytes.baskets, 2, "two extends, two baskets");
                for a in b.basket_algorithms().unwrap() {
                    *algorithms.entry(a.map(|a| a.name())).or_insert(0) += 1;
                }
            }
            // Every basket is either stored as is (too small to gain) or of this algorithm,
            // and enough are compressed for the decoder to have been exercised.
            let ours = algorithms.get(&Some(algo)).copied().unwrap_or(0);
            assert!(
                ours >= 10 && algorithms.keys().all(|a| a.is_none() || *a == Some(algo)),
                "{algo} {stem}: {algorithms:?}"
            );
        }

        // One basket of 18 MB: two compression blocks.
        let path = dir.path().join(format!("big.{algo}.root"));
        let mut f = RootFile::open(&path).unwrap();
        let t = f.get_tree("big").unwrap();
        let b = t.branch("x").unwrap();
        let bytes = b.basket_bytes().unwrap();
        assert_eq!(bytes.baskets, 1);
        assert!(
            bytes.uncompressed > oxyroot::rcompress::MAX_BLOCK_SIZE as u64,
            "{bytes:?}"
        );
        assert!(bytes.compressed < bytes.uncompressed, "{algo}: {bytes:?}");
        assert_eq!(
            b.basket_algorithms().unwrap()[0].map(|a| a.name()),
            Some(algo)
        );
        let want: ndarray::Array1<f32> =
            ndarray_npy::read_npy(dir.path().join("big.values.npy")).unwrap();
        let col = b.read_floats().unwrap();
        assert_eq!(col.storage, FloatStorage::Float);
        assert!(
            bits(&col.values) == bits(want.as_slice().unwrap()),
            "{algo}: multi-block basket differs"
        );
    }

    // refloat can also rewrite what uproot wrote (counted float[n] arrays), and uproot reads
    // the result back with exactly the rounded values.
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let input = dir.path().join(format!("{}.zstd.root", common::HELD_OUT));
    let out = dir.path().join("uproot_rewritten.root");
    let report = rewrite_file(&input, &out, &RewriteOptions::default(), |b| {
        assert_eq!(b.storage, FloatStorage::CountedFloat);
        q.quantise_slice(b.values);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        report.rewritten_branches.len(),
        common::flat_branches(common::HELD_OUT).len()
    );
    let (text, stats) = check_rewrite(&py, &input, &out, "jagged");
    assert_eq!(
        stats["rounded"].as_u64().unwrap() as usize,
        report.rewritten_branches.len(),
        "{text}"
    );

    // Trees in nested directories: the directory records and key lists are relocated.
    let input = dir.path().join("subdirs.root");
    let out = dir.path().join("subdirs_rewritten.root");
    let report = rewrite_file(&input, &out, &RewriteOptions::default(), |b| {
        q.quantise_slice(b.values);
        Ok(())
    })
    .unwrap();
    assert_eq!(report.rewritten_branches, ["t/x"]);
    let (text, stats) = check_rewrite(&py, &input, &out, "sub/deeper/t");
    assert_eq!(
        (stats["rounded"].as_u64(), stats["equal"].as_u64()),
        (Some(1), Some(1)),
        "{text}"
    );

    // An RNTuple holds file offsets this rewriter does not know: refused, nothing written.
    let rn = dir.path().join("rntuple.root");
    let out = dir.path().join("rntuple_out.root");
    let e = rewrite_file(&rn, &out, &RewriteOptions::default(), |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("RNTuple"), "{e}");
    assert!(!out.exists());
}

/// Writes the development file's float branches (one `std::vector<float>` per event) into
/// tree `CollectionTree`, the values of one branch as plain `float`s into tree `flat`, and
/// an 18 MB single-entry `std::vector<float>` of tiled real values into tree `big`; returns
/// the check specification for `make_compressed.py check-written`.
fn write_with_oxyroot(path: &Path, c: Compression, big_npy: &Path) -> serde_json::Value {
    let stem = common::DEV;
    let names = common::flat_branches(stem);
    let mut spec = Vec::new();
    let magic = match c.algorithm() {
        oxyroot::Algorithm::Zlib => "ZL",
        oxyroot::Algorithm::Lzma => "XZ",
        oxyroot::Algorithm::Lz4 => "L4",
        oxyroot::Algorithm::Zstd => "ZS",
    };
    let mut f = RootFile::create_with_compression(path, c).unwrap();

    let mut t = WriterTree::new("CollectionTree");
    for name in &names {
        let (values, counts) = common::load_flat(stem, name);
        let mut at = 0;
        let per_event: Vec<Vec<f32>> = counts
            .iter()
            .map(|&n| {
                at += n as usize;
                values[at - n as usize..at].to_vec()
            })
            .collect();
        t.new_branch(name.clone(), per_event.into_iter());
        let base = flat_dir(stem).join(name);
        spec.push(serde_json::json!({
            "tree": "CollectionTree", "branch": name,
            "values": format!("{}.values.npy", base.display()), "counts": format!("{}.counts.npy", base.display()),
            "compression": c.root_setting(), "magic": null,
        }));
    }
    t.write(&mut f).unwrap();

    // Every value of the file's flat copy, one float per entry.
    let values: Vec<f32> = names
        .iter()
        .flat_map(|n| common::load_flat(stem, n).0)
        .collect();
    let flat_npy = big_npy.with_file_name("flat.values.npy");
    ndarray_npy::write_npy(&flat_npy, &ndarray::Array1::from(values.clone())).unwrap();
    let mut t = WriterTree::new("flat");
    t.new_branch("x", values.into_iter());
    t.write(&mut f).unwrap();
    spec.push(serde_json::json!({
        "tree": "flat", "branch": "x", "values": flat_npy, "counts": null,
        // Real floats barely compress with LZ4: its baskets may be stored as they are.
        "compression": c.root_setting(), "magic": if c.algorithm() == oxyroot::Algorithm::Lz4 { None } else { Some(magic) },
    }));

    let all: Vec<f32> = common::all_flat()
        .into_iter()
        .flat_map(|(_, v)| v)
        .collect();
    let big: Vec<f32> = all.iter().copied().cycle().take(4_500_000).collect();
    ndarray_npy::write_npy(big_npy, &ndarray::Array1::from(big.clone())).unwrap();
    let mut t = WriterTree::new("big");
    t.new_branch("v", std::iter::once(big));
    t.write(&mut f).unwrap();
    let counts_npy = big_npy.with_extension("counts.npy");
    ndarray_npy::write_npy(&counts_npy, &ndarray::Array1::from(vec![4_500_000i64])).unwrap();
    spec.push(serde_json::json!({
        "tree": "big", "branch": "v", "values": big_npy, "counts": counts_npy,
        "compression": c.root_setting(), "magic": magic,
    }));
    f.close().unwrap();
    serde_json::Value::Array(spec)
}

#[test]
fn uproot_reads_oxyroot_written_compressed_files_bit_for_bit() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let big_npy = dir.path().join("big.values.npy");
    for (algo, spec_str, setting) in ALGORITHMS {
        let c: Compression = spec_str.parse().unwrap();
        assert_eq!(c.root_setting(), setting);
        let path = dir.path().join(format!("oxyroot.{algo}.root"));
        let spec = write_with_oxyroot(&path, c, &big_npy);
        let spec_path = dir.path().join(format!("{algo}.json"));
        std::fs::write(&spec_path, serde_json::to_string(&spec).unwrap()).unwrap();
        let out = run(
            &py,
            &[
                "check-written",
                path.to_str().unwrap(),
                spec_path.to_str().unwrap(),
            ],
        );
        assert!(out.contains("checked"), "{out}");
        // The 18 MB entry went out as one basket of two blocks, and oxyroot reads it back.
        let mut f = RootFile::open(&path).unwrap();
        let t = f.get_tree("big").unwrap();
        let b = t.branch("v").unwrap();
        assert!(b.basket_bytes().unwrap().uncompressed > oxyroot::rcompress::MAX_BLOCK_SIZE as u64);
        assert_eq!(b.read_floats().unwrap().values.len(), 4_500_000);
    }
}

/// `refloat compress` makes a drop-in replacement: uproot finds every object and branch of
/// the input in the output, the float branches rounded, every other branch equal.
#[test]
fn uproot_reads_refloat_compress_output_with_every_branch_present_and_only_floats_rounded() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for stem in common::FILES {
        let input = common::root_file(stem);
        let out = dir.path().join(format!("{stem}.root"));
        let json = dir.path().join(format!("{stem}.json"));
        let o = Command::new(env!("CARGO_BIN_EXE_refloat"))
            .args(["compress", input.to_str().unwrap(), out.to_str().unwrap()])
            .args(["--bits", "10", "--compression", "zstd:5", "--json"])
            .arg(&json)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(summary["written"]["compression"], "zstd:5");
        let (before, after) = (
            summary["written"]["input_bytes"].as_u64().unwrap(),
            summary["written"]["output_bytes"].as_u64().unwrap(),
        );
        assert!(after < before, "{stem}: {after} >= {before}");
        let rounded = summary["branches"].as_array().unwrap().len();
        let (text, stats) = check_rewrite(&py, &input, &out, "CollectionTree");
        eprintln!("{stem}: {stats}");
        assert_eq!(
            stats["rounded"].as_u64().unwrap() as usize,
            rounded,
            "{stem}: {text}"
        );
        assert!(stats["equal"].as_u64().unwrap() > 400, "{stem}: {text}");
    }
}

/// `refloat correct` writes a drop-in replacement too: uproot reads every corrected float
/// branch bit for bit as refloat reads it back, with the same per-entry counts; re-quantising
/// what uproot read gives the stored (compressed) values; every other branch equals the input's.
#[test]
fn uproot_reads_refloat_correct_output_bit_for_bit_with_every_other_branch_unchanged() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let orig = common::root_file(common::HELD_OUT);
    let comp = dir.path().join("comp.root");
    let corr = dir.path().join("corrected.root");
    let json = dir.path().join("correct.json");
    let refloat = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_refloat"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    refloat(&[
        "compress".as_ref(),
        orig.as_os_str(),
        comp.as_os_str(),
        "--bits".as_ref(),
        "10".as_ref(),
    ]);
    // --bits 10: every float branch is corrected against the same grid (a branch whose
    // values are exact by nature is left as it is by the corrector, which also satisfies
    // the invariant).
    refloat(&[
        "correct".as_ref(),
        comp.as_os_str(),
        corr.as_os_str(),
        "--method".as_ref(),
        "dither:7".as_ref(),
        "--bits".as_ref(),
        "10".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let corrected = summary["branches"].as_array().unwrap().len();
    let changed: u64 = summary["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["changed"].as_u64().unwrap())
        .sum();
    assert!(changed > 10_000, "dither changes most values: {changed}");

    // uproot's read of the corrected file against refloat's own, bit for bit.
    let dump = dir.path().join("dump");
    let out = Command::new(&py)
        .arg(common::repo_root().join("tests/python/read_with_uproot.py"))
        .arg(&corr)
        .arg("CollectionTree")
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_with_uproot.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("manifest.json")).unwrap())
            .unwrap();
    let names = manifest["branches"].as_object().unwrap();
    assert_eq!(names.len(), corrected, "uproot sees every float branch");
    let mut f = refloat_core::io::open(&corr).unwrap();
    let t = f.tree("CollectionTree").unwrap();
    for name in names.keys() {
        let got: ndarray::Array1<u32> =
            ndarray_npy::read_npy(dump.join(format!("{name}.bits.npy"))).unwrap();
        let counts: ndarray::Array1<i64> =
            ndarray_npy::read_npy(dump.join(format!("{name}.counts.npy"))).unwrap();
        let b = t.read_float(name).unwrap();
        assert!(got.to_vec() == bits(&b.values), "{name}: values differ");
        let want: Vec<i64> = b.counts().iter().map(|&c| c as i64).collect();
        assert_eq!(counts.to_vec(), want, "{name}: counts");
    }

    // With the corrected file as the "input" and the compressed one as its "rewrite":
    // every float branch of the compressed file is the corrected one re-quantised to 10 bits
    // (the invariant, through uproot), and every other branch and key is equal.
    let (text, stats) = check_rewrite(&py, &corr, &comp, "CollectionTree");
    assert_eq!(
        stats["rounded"].as_u64().unwrap() as usize,
        corrected,
        "{text}"
    );
    assert!(stats["equal"].as_u64().unwrap() > 400, "{text}");
}
