//! Interoperability with uproot, the reader analysts use: a file refloat writes is read by
//! uproot bit for bit, and a file uproot writes is read by refloat bit for bit.
//!
//! Needs python3 with numpy, awkward and uproot (`tests/ci/uproot.sh` installs them). Without
//! them the tests are skipped with a `SKIPPED` line, except under CI (`CI` set and not empty,
//! `false` or `0`), where a missing uproot is a failure ([`common::python_with`]).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::io::{self, BranchPattern, FloatBranch, FloatLayout, TreeWriter};
use refloat::{Quantiser32, RoundingMode};

const TREE: &str = "CollectionTree";

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether python3 + uproot are usable; panics under CI if they are not (see
/// [`common::python_with`]).
fn uproot_available() -> bool {
    common::python_with(&["uproot", "awkward", "numpy"], "tests/ci/uproot.sh").is_some()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

fn run_python(args: &[&std::ffi::OsStr]) {
    let out = Command::new(python())
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What uproot read: per branch the bit patterns, the per-entry counts and the typename.
struct UprootDump {
    entries: u64,
    branches: Vec<(String, String, Vec<u32>, Vec<i64>)>,
}

fn read_with_uproot(file: &Path, dir: &Path) -> UprootDump {
    use ndarray_npy::read_npy;
    run_python(&[
        script("read_with_uproot.py").as_os_str(),
        file.as_os_str(),
        TREE.as_ref(),
        dir.as_os_str(),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut branches = Vec::new();
    for (name, typename) in manifest["branches"].as_object().unwrap() {
        let bits: ndarray::Array1<u32> = read_npy(dir.join(format!("{name}.bits.npy"))).unwrap();
        let counts: ndarray::Array1<i64> =
            read_npy(dir.join(format!("{name}.counts.npy"))).unwrap();
        branches.push((
            name.clone(),
            typename.as_str().unwrap().to_string(),
            bits.to_vec(),
            counts.to_vec(),
        ));
    }
    UprootDump {
        entries: manifest["entries"].as_u64().unwrap(),
        branches,
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// refloat quantises every float branch of the held-out file and writes it; uproot reads
/// exactly the bits refloat meant to write, with the jagged structure, as `float` and
/// `std::vector<float>`. Special values (NaN with payload, ±Inf, −0, subnormals, f32::MAX)
/// go through as well.
#[test]
fn uproot_reads_what_refloat_writes_bit_for_bit() {
    if !uproot_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("refloat_written.root");
    let mut f = io::open(common::root_file(common::HELD_OUT)).unwrap();
    let t = f.tree(TREE).unwrap();
    let sel = t.select(&[]).unwrap();
    let q = Quantiser32::new(10, RoundingMode::Nearest).unwrap();
    let mut expected: Vec<FloatBranch> = Vec::new();
    for info in &sel.floats {
        let mut b = t.read_float(&info.name).unwrap();
        q.quantise_slice(&mut b.values);
        expected.push(b);
    }
    let n = t.entries() as usize;
    let special = [
        f32::from_bits(0x7FC0_1234),
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        f32::from_bits(1),
        f32::MAX,
        -f32::MIN_POSITIVE,
    ];
    expected.push(FloatBranch::flat(
        "Synthetic.flat",
        (0..n).map(|i| special[i % special.len()]).collect(),
    ));
    let counts: Vec<usize> = (0..n).map(|i| (i * 7) % 5).collect();
    let total: usize = counts.iter().sum();
    expected.push(
        FloatBranch::from_counts(
            "Synthetic.jagged",
            (0..total).map(|i| special[i % special.len()]).collect(),
            &counts,
        )
        .unwrap(),
    );
    let mut w = TreeWriter::new(&out, TREE);
    for b in &expected {
        w.add(b.clone()).unwrap();
    }
    w.write().unwrap();

    let dump = read_with_uproot(&out, &dir.path().join("dump"));
    assert_eq!(dump.entries, n as u64);
    assert_eq!(
        dump.branches.len(),
        expected.len(),
        "uproot sees every branch"
    );
    for b in &expected {
        let (_, typename, got_bits, got_counts) = dump
            .branches
            .iter()
            .find(|x| x.0 == b.name)
            .unwrap_or_else(|| panic!("{} missing", b.name));
        let want_type = match b.layout() {
            FloatLayout::Flat => "float",
            FloatLayout::Jagged => "std::vector<float>",
        };
        assert_eq!(typename, want_type, "{}", b.name);
        assert_eq!(got_bits, &bits(&b.values), "{}: values", b.name);
        let want_counts: Vec<i64> = b.counts().iter().map(|&c| c as i64).collect();
        assert_eq!(got_counts, &want_counts, "{}: counts", b.name);
    }
}

/// uproot writes real branches of the development file (flat `float` and jagged, which it
/// stores as `float[]` with a counter branch, in two baskets); refloat reads the same bits.
#[test]
fn refloat_reads_what_uproot_writes_bit_for_bit() {
    if !uproot_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("uproot_written.root");
    let src = common::root_file(common::DEV);
    let mut f = io::open(&src).unwrap();
    let t = f.tree(TREE).unwrap();
    let jagged: Vec<String> = common::flat_branches(common::DEV)
        .into_iter()
        .filter(|n| {
            n.starts_with("AnalysisElectronsAuxDyn.")
                || n.starts_with("AnalysisJetsAuxDyn.")
                || n.starts_with("AnalysisPhotonsAuxDyn.")
        })
        .collect();
    let flat: Vec<String> = t
        .select(&[BranchPattern::parse("EventInfoAux.*").unwrap()])
        .unwrap()
        .floats
        .iter()
        .filter(|b| b.float_layout() == Some(FloatLayout::Flat))
        .map(|b| b.name.clone())
        .collect();
    assert!(
        jagged.len() > 20 && !flat.is_empty(),
        "{} jagged, {} flat",
        jagged.len(),
        flat.len()
    );
    let mut args: Vec<std::ffi::OsString> = vec![
        script("write_with_uproot.py").into(),
        src.clone().into(),
        out.clone().into(),
    ];
    args.extend(jagged.iter().chain(&flat).map(Into::into));
    let arg_refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_python(&arg_refs);

    let mut up = io::open(&out).unwrap();
    let ut = up.tree(TREE).unwrap();
    assert_eq!(ut.entries(), t.entries());
    let sel = ut.select(&[]).unwrap();
    assert_eq!(
        sel.floats.len(),
        jagged.len() + flat.len(),
        "skipped: {:?}",
        sel.skipped
    );
    for name in &jagged {
        let info = ut.branch_info(name).unwrap();
        assert_eq!(info.type_name, "float[]", "{name}");
        assert_eq!(info.counter.as_deref(), Some(format!("n{name}").as_str()));
        let (values, counts) = common::load_flat(common::DEV, name);
        let b = ut.read_float(name).unwrap();
        assert_eq!(bits(&b.values), bits(&values), "{name}: values");
        let got: Vec<i64> = b.counts().iter().map(|&c| c as i64).collect();
        assert_eq!(got, counts, "{name}: counts");
    }
    for name in &flat {
        let want = t.read_float(name).unwrap();
        let b = ut.read_float(name).unwrap();
        assert_eq!(b.layout(), FloatLayout::Flat);
        assert_eq!(bits(&b.values), bits(&want.values), "{name}");
    }
}

/// Fixed-size `float[N]` leaves (uproot writes a `(entries, N)` array that way): refloat reads
/// them entry for entry, and `compress` rewrites them; uproot reads the rounded values.
#[test]
fn fixed_size_float_arrays_are_read_and_rewritten() {
    if !uproot_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixed.root");
    let name = "AnalysisJetsAuxDyn.pt";
    let out_py = Command::new(python())
        .arg(script("write_with_uproot.py"))
        .arg(common::root_file(common::DEV))
        .arg(&out)
        .arg(name)
        .env("REFLOAT_FIXED", "3")
        .output()
        .unwrap();
    assert!(
        out_py.status.success(),
        "{}",
        String::from_utf8_lossy(&out_py.stderr)
    );
    let fixed = format!("{name}_fixed3");
    // The expected values: each entry's first three jet pts, padded with 0.
    let (values, counts) = common::load_flat(common::DEV, name);
    let mut want = Vec::new();
    let mut at = 0usize;
    for &c in &counts {
        let c = c as usize;
        for k in 0..3 {
            want.push(if k < c { values[at + k] } else { 0.0 });
        }
        at += c;
    }
    let mut f = io::open(&out).unwrap();
    let t = f.tree(TREE).unwrap();
    let info = t.branch_info(&fixed).unwrap();
    assert_eq!(info.type_name, "float[3]");
    assert_eq!(info.float_layout(), Some(FloatLayout::Jagged));
    let b = t.read_float(&fixed).unwrap();
    assert_eq!(bits(&b.values), bits(&want));
    assert!(b.counts().iter().all(|&c| c == 3));
    assert_eq!(b.counts().len(), counts.len());

    let comp = dir.path().join("fixed.b7.root");
    let q = Quantiser32::new(7, RoundingMode::Nearest).unwrap();
    refloat::pipeline::compress_file(
        &out,
        &comp,
        &refloat::pipeline::CompressOptions {
            select: refloat::pipeline::Select {
                tree: None,
                branches: vec![fixed.clone()],
            },
            quantiser: q,
            bits: Vec::new(),
            compression: None,
            measure_sizes: false,
            copies: Default::default(),
            threads: 0,
        },
        &mut |_| {},
    )
    .unwrap();
    let dump = read_with_uproot(&comp, &dir.path().join("dump"));
    let (_, typename, got, got_counts) = dump
        .branches
        .iter()
        .find(|b| b.0 == fixed)
        .expect("uproot reads the fixed-size branch");
    assert_eq!(typename, "float[3]");
    let mut rounded = want.clone();
    q.quantise_slice(&mut rounded);
    assert_eq!(*got, bits(&rounded));
    assert!(got_counts.iter().all(|&c| c == 3));
}
