//! Learned corrections through the cxx bridge (feature `torch`): `cpp/examples/athena_model.cpp`
//! (`refloat::cxx::Model`, `cpp/refloat_cxx_model.hpp` over `src/ffi/bridge_model.rs`) is
//! compiled with `-Wall -Wextra -Werror` against `librefloat.a` and run on the jets of the
//! held-out file with a model trained from Rust on the development file. Event by event, as
//! an Athena algorithm calls it, it must keep the invariant, give the bits of one call over the
//! whole file and the bits of `Model::correct` in Rust, and report per variable the estimator
//! the model's metadata records. A model of other bits and a missing file are refused with
//! `REFLOAT_MODEL` and `REFLOAT_IO`. The same example then runs in real ROOT (the venv of
//! `tests/ci/root.sh`): compiled by ROOT's interpreter after `gSystem->Load` of a librefloat.so
//! linked from `librefloat.a` with `cmake/refloat.map`, as the CMake package links it.
#![cfg(feature = "torch")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::native::{lib_dir, native_libs};
use refloat::model::train::{train, TrainConfig};
use refloat::model::{Device, Model, ModelKind};
use refloat::{Quantiser32, RoundingMode};

const VARS: [&str; 3] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
];
const BITS: u32 = 10;

/// Compile the example against `librefloat.a` (the bridge's C++ half is in it), with an
/// rpath to every directory the native libraries come from (libtorch's).
fn compile_example(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = lib_dir();
    let native = native_libs();
    let exe = dir.join("athena_model");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let mut cmd = Command::new(&cxx);
    cmd.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1"]);
    for i in ["include", "cpp", "cpp/examples"] {
        cmd.arg("-I").arg(repo.join(i));
    }
    cmd.arg("-I")
        .arg(lib.parent().unwrap().join("cxxbridge"))
        .arg(repo.join("cpp/examples/athena_model.cpp"))
        .arg("-o")
        .arg(&exe)
        .arg(lib.join("librefloat.a"))
        .args(&native);
    for l in native.iter().filter_map(|l| l.strip_prefix("-L")) {
        cmd.arg(format!("-Wl,-rpath,{l}"));
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cxx}: {e}"));
    assert!(
        out.status.success(),
        "compiling cpp/examples/athena_model.cpp failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

#[test]
fn bridge_model_corrects_event_by_event_as_rust_does() {
    let dev = common::flat_objects(common::DEV, &VARS);
    let cfg = TrainConfig {
        kind: ModelKind::Inpainting,
        mantissa_bits: BITS,
        rounding: RoundingMode::Truncate,
        max_epochs: 4,
        patience: 4,
        hidden: 16,
        seed: 5,
        device: Device::Cpu,
        ..TrainConfig::default()
    };
    let trained = train(&dev, &cfg, &mut |_| {}).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("model_cxx");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model_path = dir.join("jets.pt");
    trained.save(&model_path).unwrap();
    let exe = compile_example(&dir);

    // Rust on the held-out jets: the stored values and Model::correct over the whole file
    let held = common::flat_objects(common::HELD_OUT, &VARS);
    let q = Quantiser32::new(BITS, RoundingMode::Truncate).unwrap();
    let stored: Vec<Vec<f32>> = held
        .originals
        .iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect();
    let model = Model::load_on(&model_path, Device::Cpu).unwrap();
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let (expected, report) = model.correct(&refs, &held.offsets).unwrap();
    assert!(report.corrected > held.originals[0].len(), "{report:?}");

    let flat = common::data_dir().join(format!("{}.flat", common::HELD_OUT));
    let out_file = dir.join("corrected.f32");
    let run = Command::new(&exe)
        .arg(&model_path)
        .arg(&flat)
        .arg(BITS.to_string())
        .arg("truncate")
        .arg(&out_file)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    println!("{stdout}");
    assert!(
        run.status.success(),
        "athena_model failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let n = held.originals[0].len();
    assert!(
        stdout.contains(&format!(
            "{} events, {n} objects x 3 variables",
            held.offsets.len() - 1
        )) && stdout.contains("invariant holds, same bits as one call"),
        "{stdout}"
    );
    // per variable, the estimator the metadata records
    for (j, v) in VARS.iter().enumerate() {
        let line = format!("  {v}: {},", model.meta().uses(j));
        assert!(stdout.contains(&line), "no '{line}' in:\n{stdout}");
    }
    // the bits of Rust's Model::correct
    let bytes = std::fs::read(&out_file).unwrap();
    let got: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let want = expected.concat();
    assert_eq!(got.len(), want.len());
    let differ = got
        .iter()
        .zip(&want)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} values differ from Rust",
        want.len()
    );

    // Real ROOT: the example compiled by cling against a librefloat.so that exports the bridge.
    if let Some(venv) = common::root_venv() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = lib_dir();
        let native = native_libs();
        let so = dir.join("librefloat.so");
        let mut link = Command::new(std::env::var("CXX").unwrap_or_else(|_| "c++".into()));
        link.arg("-shared")
            .arg("-o")
            .arg(&so)
            .arg("-Wl,--whole-archive")
            .arg(lib.join("librefloat.a"))
            .arg("-Wl,--no-whole-archive")
            .arg(format!(
                "-Wl,--version-script={}",
                repo.join("cmake/refloat.map").display()
            ))
            .args(&native);
        for l in native.iter().filter_map(|l| l.strip_prefix("-L")) {
            link.arg(format!("-Wl,-rpath,{l}"));
        }
        let out = link.output().unwrap();
        assert!(
            out.status.success(),
            "linking librefloat.so from librefloat.a failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root_out = dir.join("corrected_root.f32");
        let out = Command::new(venv.join("bin/python"))
            .arg(repo.join("tests/root/run_bridge_model.py"))
            .arg(&so)
            .arg(repo.join("include"))
            .arg(repo.join("cpp"))
            .arg(repo.join("cpp/examples"))
            .arg(lib.parent().unwrap().join("cxxbridge"))
            .arg("--")
            .arg(&model_path)
            .arg(&flat)
            .arg(BITS.to_string())
            .arg("truncate")
            .arg(&root_out)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}");
        assert!(
            out.status.success() && stdout.contains("athena_model::run returned 0"),
            "the example in ROOT failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&root_out).unwrap(),
            bytes,
            "ROOT's corrections differ from the compiled example's"
        );
    }

    // refused: a model made for other bits (REFLOAT_MODEL = 11), a missing file (REFLOAT_IO = 9)
    for (model_arg, bits, status, says) in [
        (model_path.clone(), "7", 11, "10 kept mantissa bits"),
        (dir.join("missing.pt"), "10", 9, "missing.pt"),
    ] {
        let run = Command::new(&exe)
            .arg(&model_arg)
            .arg(&flat)
            .arg(bits)
            .arg("truncate")
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("refloat error {status}:")) && err.contains(says),
            "{err}"
        );
    }
}
