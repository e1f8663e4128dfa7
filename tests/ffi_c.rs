//! Drives the C and C++ tests in `tests/c/`: writes what the Rust core computes on the real
//! data as expected `.npy` files, compiles `test_capi.c` and `test_cpp.cpp` with
//! `-Wall -Wextra -Werror` under AddressSanitizer and UndefinedBehaviorSanitizer against the
//! static library cargo built beside this test binary, and runs them; `test_capi.c` also runs
//! against the shared library, without sanitizers.
//!
//! Compilers: `$CC` / `$CXX`, else `cc` / `c++`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray_npy::write_npy;
use refloat::bounds::intervals_f32;
use refloat::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use refloat::triage::{correct_in_place_f32, Method};

/// `target/<profile>`: the directory holding this test's `deps/` and the crate's libraries.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let dir = if deps.ends_with("deps") {
        deps.parent().unwrap()
    } else {
        deps
    };
    for lib in ["librefloat.a", "librefloat.so"] {
        assert!(
            dir.join(lib).exists(),
            "{} not found beside the test binary ({}); cargo builds it with the lib target",
            lib,
            dir.display()
        );
    }
    dir.to_path_buf()
}

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
            let mut per_event = stored.clone();
            let mut start = 0usize;
            for &c in &counts {
                correct_in_place_f32(&mut per_event[start..start + c as usize], &q, method)
                    .unwrap();
                start += c as usize;
            }
            save("corrected_events", &per_event);
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

/// The system libraries Rust's std needs on Linux (what `--print native-static-libs` lists).
const STD_LIBS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The native libraries to link after `librefloat.a`: the non-static libraries the build
/// scripts of its dependencies asked for (they depend on the machine: zlib and liblzma are
/// linked from the system when found, else built in), then std's. Asked from cargo itself
/// (`--message-format=json`, a no-op build with this test's profile and features).
fn native_libs(lib: &Path) -> Vec<String> {
    static NATIVE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NATIVE
        .get_or_init(|| ask_cargo_for_native_libs(lib))
        .clone()
}

fn ask_cargo_for_native_libs(lib: &Path) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--lib", "--message-format=json", "--quiet"])
        .arg("--target-dir")
        .arg(lib.parent().unwrap())
        .current_dir(repo());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    if cfg!(feature = "torch") {
        cmd.args(["--features", "torch"]);
    }
    let start = std::time::Instant::now();
    let out = cmd.output().expect("run cargo");
    eprintln!(
        "cargo build --lib (native libraries): {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "cargo build --lib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut libs: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "build-script-executed" {
            continue;
        }
        for l in msg["linked_libs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str())
        {
            if l.starts_with("static") {
                continue; // bundled into librefloat.a
            }
            let name = l.rsplit('=').next().unwrap();
            let flag = format!("-l{}", name.rsplit(':').next().unwrap());
            if !libs.contains(&flag) {
                libs.push(flag);
            }
        }
        for p in msg["linked_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
        {
            let dir = p.rsplit('=').next().unwrap();
            let flag = format!("-L{dir}");
            if !dir.contains("/target/") && !search.contains(&flag) {
                search.push(flag);
            }
        }
    }
    assert!(
        libs.iter().any(|l| l == "-lstdc++"),
        "the cxx bridge needs the C++ runtime: {libs:?}"
    );
    search
        .into_iter()
        .chain(libs)
        .chain(STD_LIBS.iter().map(|s| s.to_string()))
        .collect()
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
    let native = native_libs(&lib);
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
    let native = native_libs(&lib);
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
/// `correct_branch.hpp`) on every real branch: compiled as a normal C++ program against
/// `librefloat.so`, and in cling (cppyy's copy of ROOT's interpreter) after
/// `gSystem->Load("librefloat.so")`, bit for bit against the Rust core. The cling half needs
/// Python with cppyy (`tests/ci/cling.sh` installs it and sets `REFLOAT_REQUIRE_CLING=1`);
/// without it that half is reported as skipped, unless `REFLOAT_REQUIRE_CLING` is set.
#[test]
fn macro_body_runs_compiled_and_in_cling() {
    let lib = lib_dir();
    let dir = scratch("ffi_cling");
    let cases = write_cases(&dir);
    let includes = [
        repo().join("include"),
        repo().join("cpp"),
        repo().join("cpp/examples"),
        repo().join("tests/cling"),
    ];

    // compiled, against the shared library, as a ROOT-less program would use it
    let exe = dir.join("body_main");
    let mut cxx = Command::new(compiler("CXX", "c++"));
    cxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror"]);
    for i in &includes {
        cxx.arg("-I").arg(i);
    }
    cxx.arg(repo().join("tests/cling/body_main.cpp"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrefloat")
        .arg("-o")
        .arg(&exe);
    run(&mut cxx, "compiling tests/cling/body_main.cpp");
    let out = run(Command::new(&exe).arg(&cases), "macro body (compiled)");
    println!("{out}");
    assert!(out.contains(" 0 failures"), "{out}");

    // the macro itself is well-formed C++ against ROOT's declarations (tests/cling/fakeroot)
    let mut syntax = Command::new(compiler("CXX", "c++"));
    syntax.args([
        "-std=c++17",
        "-fsyntax-only",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-x",
        "c++",
    ]);
    syntax.arg("-I").arg(repo().join("tests/cling/fakeroot"));
    for i in &includes {
        syntax.arg("-I").arg(i);
    }
    syntax.arg(repo().join("cpp/examples/correct_branch.C"));
    run(&mut syntax, "syntax check of correct_branch.C");

    // in cling
    let required = std::env::var_os("REFLOAT_REQUIRE_CLING").is_some();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let have_cppyy = Command::new(&python)
        .args(["-c", "import cppyy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_cppyy {
        assert!(
            !required,
            "REFLOAT_REQUIRE_CLING is set but `{python} -c 'import cppyy'` fails"
        );
        println!("SKIPPED the cling half: no cppyy for {python} (run tests/ci/cling.sh)");
        return;
    }
    let mut py = Command::new(&python);
    py.arg(repo().join("tests/cling/test_cling.py"))
        .arg(lib.join("librefloat.so"))
        .args(&includes)
        .arg("--")
        .arg(&cases);
    let out = run(&mut py, "tests/cling/test_cling.py");
    println!("{out}");
    assert!(
        out.contains("check_cases returned 0") && out.contains(" 0 failures"),
        "{out}"
    );
}
