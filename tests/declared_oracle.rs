//! **Never worse, checked against what does not share refloat's inference.** Every corrected
//! value of every float branch re-rounds to its stored value under the producer's own rule
//! at the precision the producer declared, and no `-999` and no spike moves, as judged by
//! `tests/python/check_declared.py`: CMS's and ATLAS's rules written there in numpy, the
//! precisions from CMSSW's configuration (`tests/fixtures/declared/nano_dy.precision.tsv`)
//! or the bits a PHYSLITE file was compressed with, spikes by a rule of its own.
//!
//! Doors: the `refloat` command and the C API's file pipeline with its defaults
//! (`refloat_correct_file`), every method, on CMS's `nano_dy.root` and on both PHYSLITE files
//! compressed at 7, 10 and 15 bits. (The per-event doors, bridge, C++ header and macro body,
//! give these bits exactly: `tests/ffi_c.rs`; the macro in ROOT and RDataFrame are checked
//! by this same script in `tests/root_macro.rs` and `tests/root_rdf.rs`, Python in
//! `python/tests/test_declared.py`.)

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::ffi::{refloat_correct_file, refloat_file_options_default, refloat_file_report};
use refloat::pipeline::{compress_file, CompressOptions, Select};
use refloat::{Quantiser32, RoundingMode};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the independent check; panics with its output unless it passes.
pub fn check(
    python: &str,
    stored: &Path,
    corrected: &Path,
    tree: &str,
    rule: &str,
    how: &[&str],
) -> String {
    let out = Command::new(python)
        .arg(repo().join("tests/python/check_declared.py"))
        .arg(stored)
        .arg(corrected)
        .args(["--tree", tree, "--rule", rule])
        .args(how)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} vs {}:\n{text}",
        stored.display(),
        corrected.display()
    );
    text
}

/// The `refloat` command built beside the library, same profile (a no-op under `cargo test`,
/// which builds it).
fn build_command() {
    common::native::built_lib();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--tests", "--bins", "--target-dir"])
        .arg(common::native::lib_dir().parent().unwrap())
        .current_dir(repo());
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success(), "cargo build --bins");
}

/// `refloat correct FILE OUT --method METHOD` as a user runs it.
fn cli_correct(stored: &Path, out: &Path, method: &str) {
    let o = Command::new(common::native::lib_dir().join("refloat"))
        .arg("correct")
        .arg(stored)
        .arg(out)
        .args(["--method", method])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "refloat correct {}: {}",
        stored.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `refloat_correct_file` with `refloat_file_options_default()` and the method.
fn capi_correct(stored: &Path, out: &Path, method: u32, seed: u64) {
    let (i, o) = (
        CString::new(stored.to_str().unwrap()).unwrap(),
        CString::new(out.to_str().unwrap()).unwrap(),
    );
    let mut opts = refloat_file_options_default();
    opts.method = method;
    opts.seed = seed;
    let mut report = refloat_file_report::default();
    assert_eq!(
        refloat_correct_file(i.as_ptr(), o.as_ptr(), &opts, &mut report),
        0
    );
    assert_eq!(report.verified_values, report.values);
}

const METHODS: [(&str, u32, u64); 3] =
    [("midpoint", 0, 0), ("dither:3", 1, 3), ("prior-mean", 2, 0)];

#[test]
fn nano_dy_never_leaves_the_declared_precision() {
    let Some(py) = common::python_with(&["uproot", "awkward", "numpy"], "tests/ci/uproot.sh")
    else {
        return;
    };
    build_command();
    let dir = tempfile::tempdir().unwrap();
    let nano = common::data_dir().join("nano_dy.root");
    let table = repo().join("tests/fixtures/declared/nano_dy.precision.tsv");
    let how = ["--table", table.to_str().unwrap()];
    let mut moved = 0usize;
    for (method, code, seed) in METHODS {
        let cli: PathBuf = dir.path().join(format!("cli.{code}.root"));
        cli_correct(&nano, &cli, method);
        let text = check(&py, &nano, &cli, "Events", "cms", &how);
        moved += text
            .split("values, ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let capi = dir.path().join(format!("capi.{code}.root"));
        capi_correct(&nano, &capi, code, seed);
        check(&py, &nano, &capi, "Events", "cms", &how);
    }
    assert!(moved > 20_000, "the corrections moved values: {moved}");
}

#[test]
fn physlite_never_leaves_the_bits_it_was_compressed_with() {
    let Some(py) = common::python_with(&["uproot", "awkward", "numpy"], "tests/ci/uproot.sh")
    else {
        return;
    };
    build_command();
    let dir = tempfile::tempdir().unwrap();
    for stem in common::FILES {
        for bits in [7u32, 10, 15] {
            let stored = dir.path().join(format!("{stem}.b{bits}.root"));
            compress_file(
                &common::root_file(stem),
                &stored,
                &CompressOptions {
                    select: Select::default(),
                    quantiser: Quantiser32::new(bits, RoundingMode::Nearest).unwrap(),
                    bits: Vec::new(),
                    compression: None,
                    measure_sizes: false,
                    copies: Default::default(),
                    threads: 0,
                },
                &mut |_| {},
            )
            .unwrap();
            let how = ["--bits".to_string(), bits.to_string()];
            let how: Vec<&str> = how.iter().map(String::as_str).collect();
            for (method, code, seed) in METHODS {
                let out = dir.path().join(format!("{stem}.b{bits}.{code}.root"));
                if code == 1 {
                    capi_correct(&stored, &out, code, seed);
                } else {
                    cli_correct(&stored, &out, method);
                }
                check(&py, &stored, &out, "CollectionTree", "atlas", &how);
            }
        }
    }
}
