//! Files rounded by real producers: CMS NanoAOD (`nano_dy.root`, already rounded by CMS, with
//! `UInt_t` counters `nJet/i` for its `Jet_pt[nJet]/F` arrays), and detection of the scheme
//! and bits from stored values made from the real PHYSLITE originals.
//!
//! The uproot comparisons need python3 with numpy, awkward and uproot (`tests/ci/uproot.sh`);
//! without them they are skipped, except under CI ([`common::python_with`]).

mod common;

use std::path::Path;
use std::process::Command;

use refloat::correct::Method;
use refloat::detect::{detect_f32, CANDIDATES};
use refloat::io;
use refloat::pipeline::{correct_file, CorrectOptions, Correction};
use refloat::{Quantiser32, RoundingMode};

const NANO: &str = "nano_dy.root";

fn nano() -> std::path::PathBuf {
    common::data_dir().join(NANO)
}

/// A branch as uproot reads it: name, bit patterns, per-entry counts.
type UprootBranch = (String, Vec<u32>, Vec<i64>);

/// uproot's reading of every float, `float[]` and `vector<float>` branch of `tree`: per
/// branch the bit patterns and the per-entry counts.
fn uproot_floats(file: &Path, tree: &str) -> Option<Vec<UprootBranch>> {
    let py = common::python_with(&["uproot", "awkward", "numpy"], "tests/ci/uproot.sh")?;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_with_uproot.py"))
        .arg(file)
        .arg(tree)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    let mut all = Vec::new();
    for name in manifest["branches"].as_object().unwrap().keys() {
        let bits: ndarray::Array1<u32> =
            ndarray_npy::read_npy(dir.path().join(format!("{name}.bits.npy"))).unwrap();
        let counts: ndarray::Array1<i64> =
            ndarray_npy::read_npy(dir.path().join(format!("{name}.counts.npy"))).unwrap();
        all.push((name.clone(), bits.to_vec(), counts.to_vec()));
    }
    Some(all)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every float branch uproot sees in NanoAOD (flat `float` and `float[nX]` counted by a
/// `UInt_t`) is read by refloat, value for value and entry for entry; the tree is found
/// without naming it.
#[test]
fn refloat_reads_every_nanoaod_float_branch_uproot_reads() {
    let mut f = io::open(nano()).unwrap();
    let tree = f.tree_or_default(None).unwrap();
    assert_eq!(tree.name(), "Events");
    let selection = tree.select(&[]).unwrap();
    assert_eq!(selection.floats.len(), 307, "245 float[] + 62 float");
    let jagged = selection
        .floats
        .iter()
        .filter(|b| b.counter.is_some())
        .count();
    assert_eq!(jagged, 245);
    let jet_pt = selection
        .floats
        .iter()
        .find(|b| b.name == "Jet_pt")
        .unwrap();
    assert_eq!(jet_pt.counter.as_deref(), Some("nJet"));
    let Some(uproot) = uproot_floats(&nano(), "Events") else {
        return;
    };
    assert_eq!(uproot.len(), 307);
    for (name, want_bits, want_counts) in &uproot {
        let b = tree.read_float(name).unwrap();
        assert_eq!(bits(&b.values), *want_bits, "{name}: values");
        let counts: Vec<i64> = b.counts().iter().map(|&n| n as i64).collect();
        assert_eq!(counts, *want_counts, "{name}: counts");
    }
}

/// `correct nano_dy.root out.root --method dither` end to end: the scheme per branch (CMS,
/// the format's, where the values cannot tell), every tree and branch kept, the invariant
/// under each branch's own scheme and bits, and uproot reads the output.
#[test]
fn nanoaod_dither_correction_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nano_corrected.root");
    let report = correct_file(
        &nano(),
        &out,
        Correction::Method(Method::Dither { seed: 5 }),
        &CorrectOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.tree, "Events");
    assert_eq!(report.branches.len(), 307);
    assert_eq!(report.verified_values, report.values);
    let corrected: Vec<_> = report
        .branches
        .iter()
        .filter(|b| b.mantissa_bits.is_some_and(|n| n < 23))
        .collect();
    assert!(corrected.len() > 150, "{}", corrected.len());
    // Too few values per branch to tell the scheme: the format's (CMS) decides, and says so.
    assert!(corrected
        .iter()
        .all(|b| b.mode == RoundingMode::Cms && b.mode_source == "format"
            || b.mode_source == "detected"));
    assert!(corrected.iter().any(|b| b.mode_source == "format"));
    // The invariant, checked here independently of the pipeline's own verification.
    let mut fin = io::open(nano()).unwrap();
    let tin = fin.tree("Events").unwrap();
    let mut fout = io::open(&out).unwrap();
    let tout = fout.tree("Events").unwrap();
    assert_eq!(tin.branches().len(), tout.branches().len());
    let mut changed = 0usize;
    for b in &corrected {
        let stored = tin.read_float(&b.name).unwrap();
        let got = tout.read_float(&b.name).unwrap();
        assert_eq!(stored.structure_mismatch(&got), None, "{}", b.name);
        let resolution = b.resolution.as_ref().unwrap();
        for (s, c) in stored.values.iter().zip(&got.values) {
            let n = resolution.bits_of(*s).unwrap();
            let q = Quantiser32::new(n, b.mode).unwrap();
            assert!(
                q.quantise(*c).to_bits() == s.to_bits() || c.to_bits() == s.to_bits(),
                "{}: {c:e} does not re-quantise to {s:e} at {n} bits, {}",
                b.name,
                b.mode
            );
            changed += usize::from(c.to_bits() != s.to_bits());
        }
    }
    assert!(changed > 10_000, "{changed}");
    // The other tree (`Runs`) is there too, and uproot reads the corrected floats.
    assert!(fout.tree("Runs").is_ok());
    if let Some(read) = uproot_floats(&out, "Events") {
        assert_eq!(read.len(), 307);
        let jet_pt = read.iter().find(|(n, _, _)| n == "Jet_pt").unwrap();
        assert_eq!(jet_pt.1, bits(&tout.read_float("Jet_pt").unwrap().values));
    }
}

/// Detection on stored values made from the real originals of the development file: all its
/// jagged float values as one stream, rounded by each candidate scheme at 7 and 10 bits,
/// give back the bits, and the scheme whenever detection names one (never a wrong one).
#[test]
fn detection_recovers_scheme_and_bits_from_real_values() {
    let mut all = Vec::new();
    for b in common::flat_branches(common::DEV) {
        all.extend(common::load_flat(common::DEV, &b).0);
    }
    assert!(all.len() > 5_000, "{}", all.len());
    let mut named = 0;
    for bits_kept in [7u32, 10] {
        for mode in CANDIDATES {
            let mut v = all.clone();
            Quantiser32::new(bits_kept, mode)
                .unwrap()
                .quantise_slice(&mut v);
            let d = detect_f32(&v);
            assert_eq!(d.bits, Some(bits_kept), "{mode}: {}", d.describe());
            if let Some(m) = d.mode {
                assert_eq!(m, mode, "{mode} at {bits_kept}: {}", d.describe());
                named += 1;
            }
        }
    }
    // The file is small: detection must decide somewhere, and is silent rather than wrong
    // elsewhere (the README's confusion matrix counts both, `examples/detect_confusion.rs`).
    assert!(named >= 1, "no setting named");
}
