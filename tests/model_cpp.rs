//! `refloat::Model` (cpp/refloat_model.hpp) from C++ (feature `torch`): a model trained from
//! Rust on the development file's jets is loaded by a C++17 program compiled with
//! `-Wall -Wextra -Werror` against the shared library cargo built beside this test, which
//! must reproduce the Rust corrections bit for bit (batch and per event), keep the invariant,
//! and throw `refloat::Error` with `REFLOAT_MODEL` for a model of other bits or variables.
//! The program links only librefloat.so: libtorch is found through the library's rpath.
//! The same check then runs in real ROOT (the venv of `tests/ci/root.sh`, see
//! `common::root_venv`) after `gSystem->Load("librefloat.so")`, as a ROOT macro would.
#![cfg(feature = "torch")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use refloat::model::train::{train, TrainConfig};
use refloat::model::{Device, Model, ModelKind};
use refloat::{Quantiser32, RoundingMode};

const VARS: [&str; 3] = [
    "AnalysisJetsAuxDyn.pt",
    "AnalysisJetsAuxDyn.eta",
    "AnalysisJetsAuxDyn.phi",
];

const PROGRAM: &str = r#"
#include "refloat_model.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

template <class T> static std::vector<T> read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
}

static int fail(const char* what) { std::fprintf(stderr, "FAIL: %s\n", what); return 1; }

int main(int argc, char** argv) {
    if (argc != 2) return fail("usage: test_model DIR");
    const std::string dir = argv[1];
    const std::vector<std::string> vars = {"AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.eta", "AnalysisJetsAuxDyn.phi"};

    // A model for other bits, rounding or variables is refused with REFLOAT_MODEL.
    try { refloat::Model m(dir + "/model.pt", 7, refloat::Rounding::Truncate); return fail("7 bits accepted"); }
    catch (const refloat::Error& e) { if (e.status() != REFLOAT_MODEL) return fail(e.what()); }
    try { refloat::Model m(dir + "/model.pt", 10, refloat::Rounding::Nearest); return fail("other rounding accepted"); }
    catch (const refloat::Error& e) { if (e.status() != REFLOAT_MODEL) return fail(e.what()); }
    try { refloat::Model m(dir + "/model.pt", 10, refloat::Rounding::Truncate, {vars[1], vars[0], vars[2]}); return fail("wrong order accepted"); }
    catch (const refloat::Error& e) { if (e.status() != REFLOAT_MODEL) return fail(e.what()); }
    try { refloat::Model m(dir + "/missing.pt", 10, refloat::Rounding::Truncate); return fail("missing file accepted"); }
    catch (const refloat::Error& e) { if (e.status() != REFLOAT_IO) return fail(e.what()); }

    refloat::Model model(dir + "/model.pt", 10, refloat::Rounding::Truncate, vars);
    refloat::Model moved = std::move(model);
    if (moved.variables() != vars || moved.mantissa_bits() != 10 || moved.n_variables() != 3) return fail("metadata");

    auto stored = read<float>(dir + "/stored.f32");
    const auto expected = read<float>(dir + "/expected.f32");
    const auto offsets = read<std::uint64_t>(dir + "/offsets.u64");
    const std::size_t n = stored.size() / 3;
    const auto original_stored = stored;

    // Whole file at once.
    moved.correct(stored.data(), n, 3, offsets.data(), offsets.size());
    if (std::memcmp(stored.data(), expected.data(), stored.size() * sizeof(float)) != 0) return fail("batch differs from Rust");
    std::size_t changed = 0;
    for (std::size_t i = 0; i < stored.size(); ++i) changed += stored[i] != original_stored[i];
    if (changed < n) return fail("the model moved too few values");
    // The invariant, through the core C API.
    refloat::verify(stored, original_stored, 10, refloat::Rounding::Truncate);

    // Event by event with std::vector columns: same result (features are per event).
    std::size_t checked = 0;
    for (std::size_t e = 0; e + 1 < offsets.size(); ++e) {
        const std::size_t a = offsets[e], b = offsets[e + 1];
        std::vector<float> pt(original_stored.begin() + a, original_stored.begin() + b);
        std::vector<float> eta(original_stored.begin() + n + a, original_stored.begin() + n + b);
        std::vector<float> phi(original_stored.begin() + 2 * n + a, original_stored.begin() + 2 * n + b);
        moved.correct({&pt, &eta, &phi});
        for (std::size_t i = a; i < b; ++i) {
            if (pt[i - a] != expected[i] || eta[i - a] != expected[n + i] || phi[i - a] != expected[2 * n + i])
                return fail("per-event correction differs");
            ++checked;
        }
    }
    if (checked != n) return fail("not every object checked");

    // Bad input throws and leaves the data alone.
    std::vector<float> bad = {1.0f + 1e-7f}, empty_eta, empty_phi;
    try { moved.correct({&bad, &empty_eta, &empty_phi}); return fail("length mismatch accepted"); }
    catch (const refloat::Error& e) { if (e.status() != REFLOAT_LENGTH_MISMATCH) return fail(e.what()); }
    std::printf("C++ refloat::Model: %zu objects x 3 variables identical to Rust\n", n);
    return 0;
}
"#;

fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let dir = if deps.ends_with("deps") {
        deps.parent().unwrap()
    } else {
        deps
    };
    assert!(
        dir.join("librefloat.so").exists(),
        "librefloat.so not beside the test binary ({})",
        dir.display()
    );
    dir.to_path_buf()
}

fn write_raw<T: Copy>(path: &Path, v: &[T]) {
    // SAFETY: plain old data (f32 / u64) viewed as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) };
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn cpp_model_matches_rust_bit_for_bit() {
    let data = common::flat_objects(common::DEV, &VARS);
    let offsets = data.offsets.clone();
    let cfg = TrainConfig {
        kind: ModelKind::Inpainting,
        // truncation: every value moves, even with the untrained (midpoint) model
        rounding: RoundingMode::Truncate,
        max_epochs: 4,
        patience: 4,
        hidden: 16,
        seed: 11,
        device: Device::Cpu,
        ..TrainConfig::default()
    };
    let trained = train(&data, &cfg, &mut |_| {}).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("model_cpp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    trained.save(dir.join("model.pt")).unwrap();

    let q = Quantiser32::new(10, RoundingMode::Truncate).unwrap();
    let stored: Vec<Vec<f32>> = data
        .originals
        .iter()
        .map(|c| {
            let mut s = c.clone();
            q.quantise_slice(&mut s);
            s
        })
        .collect();
    let model = Model::load_on(dir.join("model.pt"), Device::Cpu).unwrap();
    let refs: Vec<&[f32]> = stored.iter().map(Vec::as_slice).collect();
    let (expected, _) = model.correct(&refs, &offsets).unwrap();
    write_raw(&dir.join("stored.f32"), &stored.concat());
    write_raw(&dir.join("expected.f32"), &expected.concat());
    write_raw(
        &dir.join("offsets.u64"),
        &offsets.iter().map(|&o| o as u64).collect::<Vec<u64>>(),
    );
    std::fs::write(dir.join("test_model.cpp"), PROGRAM).unwrap();

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = lib_dir();
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let exe = dir.join("test_model");
    let out = Command::new(&cxx)
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1"])
        .arg("-I")
        .arg(repo.join("include"))
        .arg("-I")
        .arg(repo.join("cpp"))
        .arg(dir.join("test_model.cpp"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg("-lrefloat")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cxx}: {e}"));
    assert!(
        out.status.success(),
        "compiling failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe)
        .arg(&dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&run.stdout));
    assert!(
        run.status.success(),
        "C++ test failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // The same check as a ROOT macro runs it: in real ROOT, after gSystem->Load.
    let Some(venv) = common::root_venv() else {
        return;
    };
    let macro_body = PROGRAM.replace(
        "int main(int argc, char** argv) {\n    if (argc != 2) return fail(\"usage: test_model DIR\");\n    const std::string dir = argv[1];",
        "int refloat_model_check(const std::string& dir) {",
    );
    assert_ne!(macro_body, PROGRAM, "the entry point was not renamed");
    std::fs::write(dir.join("root_model.cpp"), macro_body).unwrap();
    let out = Command::new(venv.join("bin/python"))
        .arg(repo.join("tests/root/run_model_check.py"))
        .arg(lib.join("librefloat.so"))
        .arg(repo.join("include"))
        .arg(repo.join("cpp"))
        .arg("--")
        .arg(dir.join("root_model.cpp"))
        .arg(&dir)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "ROOT test failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
