//! Shared helpers for integration tests: where the real data lives and how to load the
//! flat (`.npy`) copies of its float branches.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod native;

/// The development file (tune and train on it).
pub const DEV: &str = "DAOD_PHYSLITE_21.2.108.0.art.pool";
/// The held-out file (evaluate only).
pub const HELD_OUT: &str = "PHYSLITE_example";
/// Both files.
pub const FILES: [&str; 2] = [DEV, HELD_OUT];

/// `../shared/data` beside the repository, or `$REFLOAT_DATA_DIR`.
/// The repository's root (the workspace's, which holds `cbindgen.toml`), from any of its
/// crates' tests.
pub fn repo_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("cbindgen.toml").exists() {
        assert!(
            dir.pop(),
            "no repository root above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

pub fn data_dir() -> PathBuf {
    match std::env::var_os("REFLOAT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("../shared/data"),
    }
}

/// Path of a real ROOT file (`stem` is [`DEV`] or [`HELD_OUT`]): in [`data_dir`], else the
/// repository's committed copy (`examples/data/`, the held-out file only).
pub fn root_file(stem: &str) -> PathBuf {
    let p = data_dir().join(format!("{stem}.root"));
    let example = repo_root()
        .join("examples/data")
        .join(format!("{stem}.root"));
    if !p.exists() && example.exists() {
        return example;
    }
    assert!(
        p.exists(),
        "real data file {} is missing (set REFLOAT_DATA_DIR?)",
        p.display()
    );
    p
}

/// Names of the float branches in a file's flat copy, sorted.
pub fn flat_branches(stem: &str) -> Vec<String> {
    let path = data_dir().join(format!("{stem}.flat/manifest.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("manifest.json");
    let mut names: Vec<String> = json["branches"]
        .as_object()
        .expect("branches")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// All values of a flat branch (events concatenated) and the per-event counts.
pub fn load_flat(stem: &str, branch: &str) -> (Vec<f32>, Vec<i64>) {
    use ndarray_npy::read_npy;
    let dir = data_dir().join(format!("{stem}.flat"));
    let values: ndarray::Array1<f32> = read_npy(dir.join(format!("{branch}.values.npy")))
        .unwrap_or_else(|e| panic!("{branch}: {e}"));
    let counts: ndarray::Array1<i64> = read_npy(dir.join(format!("{branch}.counts.npy")))
        .unwrap_or_else(|e| panic!("{branch}: {e}"));
    (values.to_vec(), counts.to_vec())
}

/// The variables `vars` of the same objects (e.g. a jet collection's pt, eta, phi) from the
/// flat copy of file `stem`, with the events as offsets: a model's training data.
#[cfg(feature = "torch")]
pub fn flat_objects(stem: &str, vars: &[&str]) -> refloat_model::train::TrainingData {
    let mut cols = Vec::new();
    let mut counts0: Option<Vec<i64>> = None;
    for v in vars {
        let (values, counts) = load_flat(stem, v);
        if let Some(c) = &counts0 {
            assert_eq!(c, &counts, "{v}: not the same objects");
        }
        counts0 = Some(counts);
        cols.push(values);
    }
    let mut offsets = vec![0usize];
    for c in counts0.expect("no variables") {
        offsets.push(offsets.last().unwrap() + c as usize);
    }
    refloat_model::train::TrainingData::new(
        vars.iter().map(|s| s.to_string()).collect(),
        cols,
        offsets,
    )
    .unwrap()
}

/// Every float value of every flat branch of both files, with its branch name.
pub fn all_flat() -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for stem in FILES {
        for b in flat_branches(stem) {
            let (v, _) = load_flat(stem, &b);
            out.push((format!("{stem}:{b}"), v));
        }
    }
    out
}

/// Whether the tests run under CI: `CI` set to anything but empty, `false` or `0`.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// The Python interpreter (`$PYTHON`, else `python3`) if it can import every module of
/// `modules`. When it cannot: under CI ([`under_ci`]) a failure naming `setup` (the script
/// that installs them), elsewhere `None` after a `SKIPPED` line on stderr, so that a test can
/// return early.
pub fn python_with(modules: &[&str], setup: &str) -> Option<String> {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let import = format!("import {}", modules.join(", "));
    let ok = std::process::Command::new(&py)
        .args(["-c", &import])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let what = format!("`{py}` cannot `{import}` (run {setup})");
    if under_ci() {
        panic!("CI is set but {what}");
    }
    eprintln!("SKIPPED: {what}");
    None
}

/// The directory of a Python virtual environment holding real ROOT (the PyPI wheel
/// `root==0.1a12`, ROOT 6.40, with uproot, awkward, dask and distributed): `$REFLOAT_ROOT_VENV`,
/// else `target/root-venv`, which `tests/ci/root.sh` makes. When there is none: under CI a
/// failure, elsewhere `None` after a `SKIPPED` line.
pub fn root_venv() -> Option<PathBuf> {
    let venv = std::env::var_os("REFLOAT_ROOT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/root-venv"));
    if venv.join("bin/root").exists() && venv.join("bin/python").exists() {
        return Some(venv);
    }
    let what = format!(
        "no ROOT in {} (run tests/ci/root.sh, or set REFLOAT_ROOT_VENV)",
        venv.display()
    );
    if under_ci() {
        panic!("CI is set but {what}");
    }
    eprintln!("SKIPPED: {what}");
    None
}
