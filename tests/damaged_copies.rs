//! A damaged record that refloat copies byte for byte (a basket of a branch it does not
//! rewrite) is caught, not passed on: every copied record is decoded first, checksums
//! included. By default the run fails naming the record and writes nothing; with
//! `CopyCheck::Warn` the record is copied and listed. Real files: `nano_dy.root` (zlib) and
//! the held-out PHYSLITE file; each codec on a file uproot writes (LZ4, ZSTD, LZMA, ZLIB).
//! uproot (which does not share refloat's decoders) is the judge of what is damaged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::io::rewrite::CopyCheck;
use refloat::pipeline::{
    compress_file, correct_file, CompressOptions, CorrectOptions, Correction, Select,
};
use refloat::{correct::Method, Quantiser32, RoundingMode};

fn python() -> Option<String> {
    common::python_with(&["uproot", "numpy"], "tests/ci/uproot.sh")
}

/// Runs a Python snippet, returning its stdout (panics with its stderr on failure).
fn run_py(py: &str, code: &str) -> String {
    let out = Command::new(py).args(["-c", code]).output().unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The byte range `[start, end)` of the compressed payload (after its key and ROOT's 9-byte
/// block header) of the first basket of `branch`, as uproot reads the file's directory.
fn first_basket_payload(py: &str, file: &Path, tree: &str, branch: &str) -> (usize, usize) {
    let code = format!(
        r#"
import uproot
b = uproot.open({file:?})[{tree:?}][{branch:?}]
seek = int(b.member("fBasketSeek")[0]); nbytes = int(b.member("fBasketBytes")[0])
data = open({file:?}, "rb").read(seek + 18)
keylen = int.from_bytes(data[seek + 14:seek + 16], "big")
print(seek + keylen + 9, seek + nbytes)
"#,
        file = file.display().to_string()
    );
    let out = run_py(py, &code);
    let v: Vec<usize> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (v[0], v[1])
}

/// Whether uproot reads every entry of `branch` of `file`.
fn uproot_reads(py: &str, file: &Path, tree: &str, branch: &str) -> bool {
    let code = format!(
        r#"
import uproot
try:
    uproot.open({file:?})[{tree:?}][{branch:?}].array(library="np")
    print("ok")
except Exception:
    print("fails")
"#,
        file = file.display().to_string()
    );
    run_py(py, &code).trim() == "ok"
}

/// A copy of `input` with bit 4 of the byte at `pos` flipped.
fn flipped(input: &Path, pos: usize, out: PathBuf) -> PathBuf {
    let mut bytes = std::fs::read(input).unwrap();
    bytes[pos] ^= 0x10;
    std::fs::write(&out, bytes).unwrap();
    out
}

fn compress_opts(copies: CopyCheck) -> CompressOptions {
    CompressOptions {
        select: Select::default(),
        quantiser: Quantiser32::new(10, RoundingMode::Cms).unwrap(),
        bits: Vec::new(),
        compression: None,
        measure_sizes: false,
        copies,
        threads: 0,
    }
}

#[test]
fn damaged_basket_of_a_copied_branch_fails_compress_and_correct_or_is_listed() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nano = common::data_dir().join("nano_dy.root");
    let (start, end) = first_basket_payload(&py, &nano, "Events", "nJet");

    // The real file as it is: every copied record decodes.
    let clean = compress_file(
        &nano,
        &dir.path().join("clean.root"),
        &compress_opts(CopyCheck::Error),
        &mut |_| {},
    )
    .unwrap();
    assert!(
        clean.written.copies_checked > 100,
        "{}",
        clean.written.copies_checked
    );
    assert!(clean.written.damaged_copies.is_empty());

    let bad = flipped(&nano, (start + end) / 2, dir.path().join("bad.root"));
    assert!(
        !uproot_reads(&py, &bad, "Events", "nJet"),
        "the flip should damage nJet"
    );
    let out = dir.path().join("out.root");
    let e = compress_file(&bad, &out, &compress_opts(CopyCheck::Error), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("TBasket 'nJet'") && e.contains("damaged"), "{e}");
    assert!(!out.exists(), "nothing is written when a copy is damaged");
    let e = correct_file(
        &bad,
        &out,
        Correction::Method(Method::Midpoint),
        &CorrectOptions::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("TBasket 'nJet'"), "{e}");
    assert!(!out.exists());

    // Warn: copied and listed; the output is damaged just as the input (uproot fails on it).
    let r = compress_file(&bad, &out, &compress_opts(CopyCheck::Warn), &mut |_| {}).unwrap();
    assert_eq!(
        r.written.damaged_copies.len(),
        1,
        "{:?}",
        r.written.damaged_copies
    );
    assert!(r.written.damaged_copies[0].contains("nJet"));
    assert!(!uproot_reads(&py, &out, "Events", "nJet"));
    assert!(uproot_reads(&py, &out, "Events", "Jet_pt"));
}

#[test]
fn damaged_basket_in_physlite_is_caught() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = common::root_file(common::HELD_OUT);
    let branch = "AnalysisJetsAuxDyn.NumTrkPt1000";
    let (start, end) = first_basket_payload(&py, &input, "CollectionTree", branch);
    for (k, pos) in [start, start + (end - start) / 3, end - 1]
        .into_iter()
        .enumerate()
    {
        let bad = flipped(&input, pos, dir.path().join(format!("bad{k}.root")));
        assert!(!uproot_reads(&py, &bad, "CollectionTree", branch));
        let out = dir.path().join("out.root");
        let e = compress_file(
            &bad,
            &out,
            &CompressOptions {
                quantiser: Quantiser32::new(10, RoundingMode::Nearest).unwrap(),
                ..compress_opts(CopyCheck::Error)
            },
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(branch), "flip at {pos}: {e}");
        assert!(!out.exists());
    }
}

/// Every codec ROOT writes: a flip anywhere in a copied basket's payload that uproot notices
/// is caught by refloat (a flip that decodes, without a checksum to tell, is copied by both).
#[test]
fn every_codec_checked_against_uproot() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for codec in ["ZLIB(1)", "LZ4(4)", "ZSTD(5)", "LZMA(9)"] {
        let file = dir.path().join("codec.root");
        run_py(
            &py,
            &format!(
                r#"
import uproot, numpy as np
rng = np.random.default_rng(7)
with uproot.recreate({file:?}, compression=uproot.{codec}) as f:
    t = f.mktree("Events", {{"n": np.int32, "x": np.float32}})
    t.extend({{"n": rng.integers(0, 1000, 20000).astype(np.int32), "x": rng.normal(size=20000).astype(np.float32)}})
"#,
                file = file.display().to_string()
            ),
        );
        let (start, end) = first_basket_payload(&py, &file, "Events", "n");
        let mut caught = 0;
        let mut damaged = 0;
        for k in 0..12 {
            let pos = start + k * (end - 1 - start) / 11;
            let bad = flipped(&file, pos, dir.path().join("bad.root"));
            let out = dir.path().join("out.root");
            let _ = std::fs::remove_file(&out);
            let r = compress_file(&bad, &out, &compress_opts(CopyCheck::Error), &mut |_| {});
            if !uproot_reads(&py, &bad, "Events", "n") {
                damaged += 1;
                assert!(
                    r.is_err(),
                    "{codec}: flip at {pos} damages n but was copied"
                );
            }
            if r.is_err() {
                caught += 1;
                assert!(!out.exists());
            }
        }
        eprintln!("{codec}: {caught} of 12 flips caught, {damaged} damage n for uproot");
        // zlib's Adler-32, the xxhash of ROOT's LZ4 blocks and xz's CRC catch every flip; a
        // zstd frame written without a checksum (as uproot writes it) decodes through many.
        if !codec.starts_with("ZSTD") {
            assert_eq!(damaged, 12, "{codec}: only {damaged} of 12 flips damaged n");
        }
    }
}
