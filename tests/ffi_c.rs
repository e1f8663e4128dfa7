//! Drives the C and C++ tests in `tests/c/`: writes what the Rust core computes on the real
//! data as expected `.npy` files, compiles `test_capi.c` and `test_cpp.cpp` with
//! `-Wall -Wextra -Werror` under AddressSanitizer and UndefinedBehaviorSanitizer against the
//! static library cargo built beside this test binary, and runs them; `test_capi.c` also runs
//! against the shared library, without sanitizers. The body of the ROOT macro
//! `cpp/examples/correct_branch.C` runs compiled (`tests/root_macro.rs` runs the macro in ROOT).
//! Every test first runs `cargo build --lib` (a no-op when up to date), so no prior build and
//! no stale library is assumed.
//!
//! Compilers: `$CC` / `$CXX`, else `cc` / `c++`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray_npy::write_npy;
use refloat::bounds::intervals_f32;
use refloat::correct::{correct_at_f32, correct_in_place_f32, BranchPosition, Method};
use refloat::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};

use common::native::{lib_dir, native_libs};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const MODES: [(RoundingMode, u32); 3] = [
    (RoundingMode::Nearest, 0),
    (RoundingMode::Truncate, 1),
    (RoundingMode::NearestEven, 2),
];

/// Write the expected results of every flat branch of both files (one setting per branch,
/// cycling through bits × modes × methods) and the cases file the C/C++ tests read.
fn write_cases(dir: &Path) -> PathBuf {
    let mut lines = String::new();
    let mut k = 0usize;
    for stem in common::FILES {
        let flat = common::data_dir().join(format!("{stem}.flat"));
        for branch in common::flat_branches(stem) {
            let (original, counts) = common::load_flat(stem, &branch);
            let bits = [7u32, 10, 15][k % 3];
            let (mode, mode_code) = MODES[(k / 3) % 3];
            let method_code = (k / 9 + k) % 3;
            let seed = 1000 + k as u64;
            let method =
                [Method::Midpoint, Method::Dither { seed }, Method::PriorMean][method_code];
            let q = Quantiser32::new(bits, mode).unwrap();
            let prefix = dir.join(format!("case{k}"));
            let save = |what: &str, v: &[f32]| {
                write_npy(
                    format!("{}.{what}.npy", prefix.display()),
                    &ndarray::arr1(v),
                )
                .unwrap();
            };

            let mut stored = original.clone();
            q.quantise_slice(&mut stored);
            save("quantised", &stored);
            let (mut lo, mut hi) = (vec![0f32; stored.len()], vec![0f32; stored.len()]);
            intervals_f32(&stored, bits, mode, &mut lo, &mut hi).unwrap();
            save("lo", &lo);
            save("hi", &hi);
            let residual: Vec<f32> = original
                .iter()
                .zip(&stored)
                .map(|(&x, &s)| (x as f64 - s as f64) as f32)
                .collect();
            save("residual", &residual);
            let mut corrected = stored.clone();
            let report = correct_in_place_f32(&mut corrected, &q, method).unwrap();
            save("corrected", &corrected);
            // one C call per event with the same seed (the C API's semantics) ...
            let mut per_event = stored.clone();
            // ... and the ROOT macro body's: one call per entry, dither under the one seeding
            // rule (here with no branch name: the seed as given, indexed over the branch)
            let mut per_entry = stored.clone();
            let mut start = 0usize;
            for &c in &counts {
                let range = start..start + c as usize;
                correct_in_place_f32(&mut per_event[range.clone()], &q, method).unwrap();
                let at = BranchPosition {
                    branch: "",
                    first_index: start as u64,
                };
                correct_at_f32(&mut per_entry[range], &q, method, at).unwrap();
                start += c as usize;
            }
            save("corrected_events", &per_event);
            save("corrected_entries", &per_entry);
            let inferred = infer_mantissa_bits_f32(&stored).map_or(-1, |b| b as i64);

            lines.push_str(&format!(
                "{} {} {bits} {mode_code} {method_code} {seed} {} {inferred} {} {} {}\n",
                flat.join(format!("{branch}.values.npy")).display(),
                flat.join(format!("{branch}.counts.npy")).display(),
                prefix.display(),
                report.corrected,
                report.left_exact,
                report.non_finite,
            ));
            k += 1;
        }
    }
    assert!(k > 100, "expected every flat branch of both files, got {k}");
    let cases = dir.join("cases.txt");
    std::fs::write(&cases, lines).unwrap();
    cases
}

fn run(cmd: &mut Command, what: &str) -> String {
    let start = std::time::Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{cmd:?}\n{text}",
        out.status
    );
    eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
    text
}

const SANITIZE: [&str; 4] = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
];

fn compiler(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn hooks_define() -> Option<&'static str> {
    // The panic-injection hook exists in builds with debug assertions, like this test's.
    cfg!(debug_assertions).then_some("-DREFLOAT_TEST_HOOKS")
}

#[test]
fn c_and_cpp_tests_pass_on_real_data_under_sanitizers() {
    let lib = lib_dir();
    let native = native_libs();
    let dir = scratch("ffi_c");
    let cases = write_cases(&dir);
    let version = env!("CARGO_PKG_VERSION");
    let include = repo().join("include");
    let cpp = repo().join("cpp");
    let tests_c = repo().join("tests/c");
    let examples = repo().join("cpp/examples");
    let cxxbridge = lib.parent().unwrap().join("cxxbridge");
    let sanitizer_env = [
        ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"),
        ("UBSAN_OPTIONS", "print_stacktrace=1"),
    ];

    // C, static library, sanitizers
    let exe = dir.join("test_capi");
    let mut cc = Command::new(compiler("CC", "cc"));
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(SANITIZE)
        .args(hooks_define())
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(&examples)
        .arg(tests_c.join("test_capi.c"))
        .arg(lib.join("librefloat.a"))
        .args(&native)
        .arg("-o")
        .arg(&exe);
    run(&mut cc, "compiling tests/c/test_capi.c");
    let out = run(
        Command::new(&exe)
            .arg(&cases)
            .arg(version)
            .envs(sanitizer_env),
        "test_capi (static, ASan/UBSan)",
    );
    println!("{out}");
    assert!(out.contains(" 0 failures"), "{out}");
    if hooks_define().is_some() {
        assert!(out.contains("panic boundary: checked"), "{out}");
    }

    // C, shared library (cargo's cdylib), rpath to it
    let exe_so = dir.join("test_capi_shared");
    let mut cc = Command::new(compiler("CC", "cc"));
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(hooks_define())
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(&examples)
        .arg(tests_c.join("test_capi.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrefloat", "-lm"])
        .arg("-o")
        .arg(&exe_so);
    run(
        &mut cc,
        "compiling tests/c/test_capi.c against librefloat.so",
    );
    let out = run(
        Command::new(&exe_so).arg(&cases).arg(version),
        "test_capi (shared)",
    );
    assert!(out.contains(" 0 failures"), "{out}");

    // C++ (refloat.hpp + the cxx bridge), static library, sanitizers; C++20 (spans)
    let exe_cpp = dir.join("test_cpp");
    let mut cxx = Command::new(compiler("CXX", "c++"));
    cxx.args(["-std=c++20", "-Wall", "-Wextra", "-Werror"])
        .args(SANITIZE)
        .args(hooks_define())
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(&cpp)
        .arg("-I")
        .arg(&cxxbridge)
        .arg("-I")
        .arg(&examples)
        .arg(tests_c.join("test_cpp.cpp"))
        .arg(lib.join("librefloat.a"))
        .args(&native)
        .arg("-o")
        .arg(&exe_cpp);
    run(&mut cxx, "compiling tests/c/test_cpp.cpp");
    let out = run(
        Command::new(&exe_cpp)
            .arg(&cases)
            .arg(version)
            .envs(sanitizer_env),
        "test_cpp (ASan/UBSan)",
    );
    println!("{out}");
    assert!(out.contains(" 0 failures"), "{out}");
}

/// Both C++ headers are valid C++17 (no span), with all warnings as errors.
#[test]
fn cpp_headers_compile_as_cpp17() {
    let lib = lib_dir();
    let native = native_libs();
    let dir = scratch("ffi_cpp17");
    let src = dir.join("cpp17.cpp");
    std::fs::write(
        &src,
        "#include \"refloat.hpp\"\n#include \"refloat_cxx.hpp\"\n\
         #ifdef REFLOAT_HPP_HAS_SPAN\n#error span in C++17\n#endif\n\
         int main() { std::vector<float> v{1.5f}; refloat::correct(v, 10, refloat::Rounding::Nearest);\n\
         return refloat::cxx::infer_mantissa_bits(v) == 1u ? 0 : 1; }\n",
    )
    .unwrap();
    let exe = dir.join("cpp17");
    let mut cxx = Command::new(compiler("CXX", "c++"));
    cxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(repo().join("include"))
        .arg("-I")
        .arg(repo().join("cpp"))
        .arg("-I")
        .arg(lib.parent().unwrap().join("cxxbridge"))
        .arg(&src)
        .arg(lib.join("librefloat.a"))
        .args(&native)
        .arg("-o")
        .arg(&exe);
    run(&mut cxx, "compiling the C++ headers as C++17");
    run(&mut Command::new(&exe), "C++17 program");
}

/// The correction body of the ROOT macro `cpp/examples/correct_branch.C` (its header
/// `correct_branch.hpp`, free of ROOT) on every real branch, compiled as a normal C++ program
/// against `librefloat.so`, bit for bit against the Rust core (`tests/root_macro.rs` runs the
/// macro itself in real ROOT).
#[test]
fn macro_body_runs_compiled() {
    let lib = lib_dir();
    let dir = scratch("ffi_macro_body");
    let cases = write_cases(&dir);
    let includes = [
        repo().join("include"),
        repo().join("cpp"),
        repo().join("cpp/examples"),
        repo().join("tests/c"),
    ];

    let exe = dir.join("body_main");
    let mut cxx = Command::new(compiler("CXX", "c++"));
    cxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror"]);
    for i in &includes {
        cxx.arg("-I").arg(i);
    }
    cxx.arg(repo().join("tests/c/body_main.cpp"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrefloat")
        .arg("-o")
        .arg(&exe);
    run(&mut cxx, "compiling tests/c/body_main.cpp");
    let out = run(Command::new(&exe).arg(&cases), "macro body (compiled)");
    println!("{out}");
    assert!(out.contains(" 0 failures"), "{out}");
}

/// **The one seeding rule through every front door.** One branch of a real file, stored at
/// 10 bits and corrected with dither seed 42, gives identical bits through the `refloat`
/// command, the C API's file pipeline (`refloat_correct_file`), the C API event by event
/// (`refloat_correct_branch_f32` with each event's offset), the cxx bridge (`correct_events`
/// and its `correct_file`), the C++ header over the C API (`refloat::correct_branch`) and the
/// ROOT macro's body (`refloat_macro::correct_event`, what `correct_branch.C` calls per entry;
/// `tests/root_macro.rs` runs the macro itself in real ROOT under the same rule). The
/// reference is the library: `correct_at_f32` over the whole branch from index 0.
#[test]
fn dither_bits_equal_through_every_front_door() {
    use refloat::ffi::{
        refloat_correct_branch_f32, refloat_correct_file, refloat_file_options_default,
        refloat_file_report,
    };
    use refloat::pipeline::{compress_file, CompressOptions, Select};
    use std::ffi::CString;

    let lib = lib_dir();
    let dir = scratch("ffi_seeding");
    let (jets, electrons) = ("AnalysisJetsAuxDyn.pt", "AnalysisElectronsAuxDyn.eta");
    let (bits, seed) = (10u32, 42u64);
    let q = Quantiser32::new(bits, RoundingMode::Nearest).unwrap();
    let stored_file = dir.join("stored.root");
    compress_file(
        &common::root_file(common::HELD_OUT),
        &stored_file,
        &CompressOptions {
            select: Select {
                branches: vec![jets.into(), electrons.into()],
                ..Select::default()
            },
            quantiser: q,
            bits: Vec::new(),
            compression: None,
            measure_sizes: false,
        },
        &mut |_| {},
    )
    .unwrap();
    let read = |path: &Path, name: &str| {
        let mut f = refloat::io::open(path).unwrap();
        f.tree("CollectionTree").unwrap().read_float(name).unwrap()
    };
    let bits_of = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();

    // the `refloat` command, built here like the library, same profile. `--tests --bins` of
    // the default members is what `cargo test` itself builds: under it this is a no-op (a
    // narrower package set would resolve features differently and rebuild the dependencies).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--tests", "--bins", "--target-dir"])
        .arg(lib.parent().unwrap())
        .current_dir(repo());
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    run(&mut build, "cargo build --tests --bins");
    let cli_out = dir.join("cli.root");
    run(
        Command::new(lib.join("refloat"))
            .arg("correct")
            .arg(&stored_file)
            .arg(&cli_out)
            .args(["--method", "dither:42", "--branches"])
            .arg(format!("{jets},{electrons}")),
        "refloat correct --method dither:42",
    );

    // the C API's file pipeline
    let capi_out = dir.join("capi.root");
    let (c_in, c_out) = (
        CString::new(stored_file.to_str().unwrap()).unwrap(),
        CString::new(capi_out.to_str().unwrap()).unwrap(),
    );
    let c_branches = CString::new(format!("{jets},{electrons}")).unwrap();
    let mut o = refloat_file_options_default();
    o.branches = c_branches.as_ptr();
    o.method = 1; // REFLOAT_DITHER
    o.seed = seed;
    let mut report = refloat_file_report::default();
    assert_eq!(
        refloat_correct_file(c_in.as_ptr(), c_out.as_ptr(), &o, &mut report),
        0
    );
    assert_eq!(report.verified_values, report.values);

    for name in [jets, electrons] {
        let stored = read(&stored_file, name);
        let mut reference = stored.values.clone();
        let at = BranchPosition {
            branch: name,
            first_index: 0,
        };
        correct_at_f32(&mut reference, &q, Method::Dither { seed }, at).unwrap();
        assert_ne!(
            bits_of(&reference),
            bits_of(&stored.values),
            "{name}: dither changed nothing"
        );
        let want = bits_of(&reference);
        assert_eq!(
            bits_of(&read(&cli_out, name).values),
            want,
            "{name}: refloat correct"
        );
        assert_eq!(
            bits_of(&read(&capi_out, name).values),
            want,
            "{name}: refloat_correct_file"
        );

        // the C API event by event
        let c_name = CString::new(name).unwrap();
        let mut per_event = stored.values.clone();
        let mut first = 0usize;
        for n in stored.counts() {
            let rc = refloat_correct_branch_f32(
                per_event[first..].as_mut_ptr(),
                n,
                bits,
                0,
                1,
                seed,
                c_name.as_ptr(),
                first as u64,
                std::ptr::null_mut(),
            );
            assert_eq!(rc, 0, "{name}: refloat_correct_branch_f32");
            first += n;
        }
        assert_eq!(
            bits_of(&per_event),
            want,
            "{name}: refloat_correct_branch_f32 per event"
        );

        // the C++ doors: bridge, header over the C API, macro body
        let raw = |file: &str, bytes: Vec<u8>| {
            let p = dir.join(file);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let values = raw(
            "values.f32",
            stored.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        let counts = raw(
            "counts.u64",
            stored
                .counts()
                .iter()
                .flat_map(|&c| (c as u64).to_le_bytes())
                .collect(),
        );
        let exe = dir.join("seeding_doors");
        if !exe.exists() {
            let mut cxx = Command::new(compiler("CXX", "c++"));
            cxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror"]);
            for i in ["include", "cpp", "cpp/examples"] {
                cxx.arg("-I").arg(repo().join(i));
            }
            cxx.arg("-I")
                .arg(lib.parent().unwrap().join("cxxbridge"))
                .arg(repo().join("tests/cpp/seeding_doors.cpp"))
                .arg(lib.join("librefloat.a"))
                .args(native_libs())
                .arg("-o")
                .arg(&exe);
            run(&mut cxx, "compiling tests/cpp/seeding_doors.cpp");
        }
        let out_dir = dir.join(name);
        std::fs::create_dir_all(&out_dir).unwrap();
        run(
            Command::new(&exe)
                .arg(&stored_file)
                .arg(&out_dir)
                .arg(name)
                .arg(&values)
                .arg(&counts)
                .arg(bits.to_string())
                .arg(seed.to_string()),
            "seeding_doors",
        );
        for door in ["bridge_events", "hpp_events", "macro_events"] {
            let bytes = std::fs::read(out_dir.join(format!("{door}.f32"))).unwrap();
            let got: Vec<u32> = bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(got, want, "{name}: {door}");
        }
        let bridge_file = read(&out_dir.join("bridge_file.root"), name);
        assert_eq!(
            bits_of(&bridge_file.values),
            want,
            "{name}: bridge correct_file"
        );
    }
}
