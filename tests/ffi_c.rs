//! Drives the C and C++ tests in `tests/c/`: writes what the Rust core computes on the real
//! data as expected `.npy` files, compiles `test_capi.c` and `test_cpp.cpp` with
//! `-Wall -Wextra -Werror` under AddressSanitizer and UndefinedBehaviorSanitizer against the
//! static library cargo built beside this test binary, and runs them; `test_capi.c` also runs
//! against the shared library, without sanitizers. The ROOT macro `cpp/examples/correct_branch.C`
//! runs in cling (cppyy) over `tests/cling/mockroot` on real branches, and its body compiled.
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

/// `target/<profile>`: the directory holding this test's `deps/` and the crate's libraries,
/// after `cargo build --lib` (same profile and features as this test) has brought
/// `librefloat.a` / `librefloat.so` up to date, so that a plain `cargo test` on a fresh clone
/// works and no test uses a stale library.
fn lib_dir() -> PathBuf {
    built_lib().0.clone()
}

/// The native libraries to link after `librefloat.a` (see [`built_lib`]).
fn native_libs() -> Vec<String> {
    built_lib().1.clone()
}

fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let dir = if deps.ends_with("deps") {
        deps.parent().unwrap()
    } else {
        deps
    };
    dir.to_path_buf()
}

/// Builds the library once per test binary (tests wait for each other here) and returns
/// its directory and the native libraries it needs.
fn built_lib() -> &'static (PathBuf, Vec<String>) {
    static BUILT: std::sync::OnceLock<(PathBuf, Vec<String>)> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = target_profile_dir();
        let native = build_lib_and_ask_native_libs(&dir);
        for lib in ["librefloat.a", "librefloat.so"] {
            assert!(
                dir.join(lib).exists(),
                "{} not found in {} after cargo build --lib",
                lib,
                dir.display()
            );
        }
        (dir, native)
    })
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

/// `cargo build --lib` with this test's profile and features (a no-op when the library is up
/// to date), then the native libraries to link after `librefloat.a`: the non-static
/// libraries the build scripts of its dependencies asked for (they depend on the machine:
/// zlib and liblzma are linked from the system when found, else built in), then std's.
/// Asked from cargo itself (`--message-format=json`).
fn build_lib_and_ask_native_libs(lib: &Path) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "refloat",
        "--lib",
        "--message-format=json",
        "--quiet",
    ])
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
    eprintln!("cargo build --lib: {:.1} s", start.elapsed().as_secs_f64());
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
/// `correct_branch.hpp`) on every real branch, compiled as a normal C++ program against
/// `librefloat.so`, bit for bit against the Rust core; and the macro itself is well-formed
/// C++ against ROOT's declarations (`tests/cling/fakeroot`) and against the working stand-in
/// of ROOT's tree classes that [`macro_runs_in_cling_on_real_branches`] runs it with.
#[test]
fn macro_body_runs_compiled() {
    let lib = lib_dir();
    let dir = scratch("ffi_macro_body");
    let cases = write_cases(&dir);
    let includes = [
        repo().join("include"),
        repo().join("cpp"),
        repo().join("cpp/examples"),
        repo().join("tests/cling"),
    ];

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

    // the macro against ROOT's declarations, then against the stand-in (TSystem and
    // TInterpreter from the declarations: in cling they are cppyy's real ones)
    for (what, roots) in [
        ("ROOT's declarations", vec!["tests/cling/fakeroot"]),
        (
            "the mockroot stand-in",
            vec!["tests/cling/mockroot", "tests/cling/fakeroot"],
        ),
    ] {
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
        for r in roots {
            syntax.arg("-I").arg(repo().join(r));
        }
        for i in &includes {
            syntax.arg("-I").arg(i);
        }
        syntax.arg(repo().join("cpp/examples/correct_branch.C"));
        run(
            &mut syntax,
            &format!("syntax check of correct_branch.C against {what}"),
        );
    }
}

/// One branch of a tree in the text dump that `tests/cling/mockroot` reads and writes in
/// place of a ROOT file: its name, type (`vector<float>` or `float`) and values per entry.
#[derive(Clone, Debug)]
struct DumpBranch {
    name: String,
    kind: String,
    entries: Vec<Vec<f32>>,
}

fn write_dump(path: &Path, tree: &str, branches: &[DumpBranch]) {
    let n = branches[0].entries.len();
    let mut text = format!("mockroot 1\ntree {tree} {n} {}\n", branches.len());
    for b in branches {
        assert_eq!(b.entries.len(), n, "{}", b.name);
        text.push_str(&format!("branch {} {}\n", b.name, b.kind));
        for e in &b.entries {
            text.push_str(&e.len().to_string());
            for v in e {
                text.push_str(&format!(" {:08x}", v.to_bits()));
            }
            text.push('\n');
        }
    }
    std::fs::write(path, text).unwrap();
}

/// The trees of a dump: (tree name, branches).
fn read_dump(path: &Path) -> Vec<(String, Vec<DumpBranch>)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut words = text.split_ascii_whitespace();
    let mut next = || words.next().map(str::to_string);
    assert_eq!(
        (next().as_deref(), next().as_deref()),
        (Some("mockroot"), Some("1"))
    );
    let mut trees = Vec::new();
    while let Some(w) = next() {
        assert_eq!(w, "tree");
        let name = next().unwrap();
        let entries: usize = next().unwrap().parse().unwrap();
        let nbranches: usize = next().unwrap().parse().unwrap();
        let mut branches = Vec::new();
        for _ in 0..nbranches {
            assert_eq!(next().as_deref(), Some("branch"));
            let (bname, kind) = (next().unwrap(), next().unwrap());
            let mut values = Vec::with_capacity(entries);
            for _ in 0..entries {
                let n: usize = next().unwrap().parse().unwrap();
                values.push(
                    (0..n)
                        .map(|_| f32::from_bits(u32::from_str_radix(&next().unwrap(), 16).unwrap()))
                        .collect::<Vec<f32>>(),
                );
            }
            branches.push(DumpBranch {
                name: bname,
                kind,
                entries: values,
            });
        }
        trees.push((name, branches));
    }
    trees
}

/// Real branches (jagged and flat) of both files, read with refloat's reader and compressed as
/// a derivation would (10 kept bits, nearest): (file stem, branches).
fn compressed_real_branches() -> Vec<(&'static str, Vec<DumpBranch>)> {
    const BITS: u32 = 10;
    let picks: [(&str, [&str; 4]); 2] = [
        (
            common::DEV,
            [
                "AnalysisJetsAuxDyn.pt",
                "AnalysisElectronsAuxDyn.eta",
                "EventInfoAuxDyn.GenFiltHT",
                "EventInfoAuxDyn.TruthIsoCentralEventShape_rho",
            ],
        ),
        (
            common::HELD_OUT,
            [
                "AnalysisJetsAuxDyn.eta",
                "AnalysisPhotonsAuxDyn.pt",
                "EventInfoAuxDyn.GenFiltPTZ",
                "Kt4EMPFlowEventShapeAuxDyn.Density",
            ],
        ),
    ];
    let q = Quantiser32::new(BITS, RoundingMode::Nearest).unwrap();
    let mut out = Vec::new();
    for (stem, names) in picks {
        let tree = refloat::io::open(common::root_file(stem))
            .and_then(|mut f| f.tree("CollectionTree"))
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        let mut branches = Vec::new();
        for name in names {
            let b = tree
                .read_float(name)
                .unwrap_or_else(|e| panic!("{stem}: {e}"));
            let mut stored = b.values.clone();
            q.quantise_slice(&mut stored);
            let (kind, entries): (&str, Vec<Vec<f32>>) = match &b.offsets {
                Some(off) => (
                    "vector<float>",
                    off.windows(2)
                        .map(|w| stored[w[0]..w[1]].to_vec())
                        .collect(),
                ),
                None => ("float", stored.iter().map(|&v| vec![v]).collect()),
            };
            assert_eq!(entries.len() as u64, tree.entries(), "{stem}: {name}");
            branches.push(DumpBranch {
                name: name.to_string(),
                kind: kind.to_string(),
                entries,
            });
        }
        assert!(branches.iter().any(|b| b.kind == "float"));
        assert!(branches.iter().any(|b| b.kind == "vector<float>"));
        out.push((stem, branches));
    }
    out
}

/// The ROOT macro `cpp/examples/correct_branch.C` itself, run in cling (cppyy's copy of ROOT's
/// interpreter) by `tests/cling/test_cling.py`: `.L correct_branch.C`, then
/// `correct_branch(path, branch, bits, rounding, method, seed, "CollectionTree", out)`, with
/// the macro's own `gSystem->Load("librefloat.so")` (found through `LD_LIBRARY_PATH`) and
/// `gInterpreter->ProcessLine`. ROOT's tree classes come from `tests/cling/mockroot`, which
/// reads real branches (jagged and flat, both files, compressed at 10 bits) from text dumps and
/// writes the output tree the same way; every written value must equal the Rust core's
/// per-event correction bit for bit, with the bits the Rust core infers from the whole branch
/// when the macro infers them (`bits = -1`). Error paths: no library, no file, a file that is
/// not readable, no tree, no branch, bad bits, a method it does not know, data not stored at
/// the given bits, an output it cannot create: a message, status 1, no output file left.
///
/// Needs Python with cppyy (`tests/ci/cling.sh` installs it and sets `REFLOAT_REQUIRE_CLING=1`);
/// without it the test is reported as skipped, unless `REFLOAT_REQUIRE_CLING` is set.
#[test]
fn macro_runs_in_cling_on_real_branches() {
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
        println!("SKIPPED: no cppyy for {python} (run tests/ci/cling.sh)");
        return;
    }
    let lib = lib_dir();
    let dir = scratch("ffi_cling");

    // inputs
    let inputs = compressed_real_branches();
    let mut files = Vec::new();
    for (stem, branches) in &inputs {
        let path = dir.join(format!("{stem}.mockroot"));
        write_dump(&path, "CollectionTree", branches);
        files.push((path, branches));
    }

    // jobs: (id, args, expectation)
    struct Job {
        args: serde_json::Value,
        out: Option<PathBuf>,
        /// Some((branch, explicit bits, mode, method)) for a correction, None for an error
        expect: Option<(DumpBranch, Option<u32>, RoundingMode, Method)>,
        /// the error message must contain this
        error: &'static str,
    }
    let mut jobs: Vec<Job> = Vec::new();
    let arg = |path: &Path,
               branch: &str,
               bits: i32,
               rounding: &str,
               method: &str,
               seed: u64,
               tree: &str,
               out: &str| {
        serde_json::json!([
            path.display().to_string(),
            branch,
            bits,
            rounding,
            method,
            seed,
            tree,
            out
        ])
    };
    // (bits, rounding, its mode, method, its Method from the seed, seed)
    type Setting = (
        i32,
        &'static str,
        RoundingMode,
        &'static str,
        fn(u64) -> Method,
        u64,
    );
    let settings: [Setting; 3] = [
        // the macro's default: bits inferred from the whole branch, nearest, midpoint
        (
            -1,
            "nearest",
            RoundingMode::Nearest,
            "midpoint",
            |_| Method::Midpoint,
            0,
        ),
        (
            10,
            "truncate",
            RoundingMode::Truncate,
            "prior-mean",
            |_| Method::PriorMean,
            0,
        ),
        (
            -1,
            "nearest",
            RoundingMode::Nearest,
            "dither",
            |seed| Method::Dither { seed },
            4242,
        ),
    ];
    for (path, branches) in &files {
        for b in branches.iter() {
            for (bits, rounding, mode, method, make, seed) in settings {
                let out = dir.join(format!("out{}.mockroot", jobs.len()));
                jobs.push(Job {
                    args: arg(
                        path,
                        &b.name,
                        bits,
                        rounding,
                        method,
                        seed,
                        "CollectionTree",
                        &out.display().to_string(),
                    ),
                    out: Some(out),
                    expect: Some((
                        (*b).clone(),
                        (bits >= 0).then_some(bits as u32),
                        mode,
                        make(seed),
                    )),
                    error: "",
                });
            }
        }
    }
    // without an output file: corrects, writes nothing
    let (dev, dev_branches) = &files[0];
    jobs.push(Job {
        args: arg(
            dev,
            &dev_branches[0].name,
            -1,
            "nearest",
            "midpoint",
            0,
            "CollectionTree",
            "",
        ),
        out: None,
        expect: None,
        error: "",
    });
    let pt = dev_branches[0].name.as_str();
    let real_root = common::root_file(common::DEV);
    let no_dir = dir.join("no-such-dir/out.mockroot");
    let errors: [(&Path, &str, i32, &str, &str, &str); 8] = [
        (
            dev,
            "NoSuchBranch",
            -1,
            "nearest",
            "midpoint",
            "has no branch 'NoSuchBranch'",
        ),
        (
            &dir.join("missing.mockroot"),
            pt,
            -1,
            "nearest",
            "midpoint",
            "cannot open the file",
        ),
        (
            &real_root,
            pt,
            -1,
            "nearest",
            "midpoint",
            "cannot open the file",
        ),
        (dev, pt, -1, "nearest", "midpoint", "no tree 'NoTree'"),
        (
            dev,
            pt,
            30,
            "nearest",
            "midpoint",
            "mantissa bits 30 out of range",
        ),
        (dev, pt, -1, "nearest", "median", "unknown method 'median'"),
        (dev, pt, 5, "nearest", "midpoint", "is not a stored value"),
        (
            dev,
            pt,
            -1,
            "nearest",
            "midpoint",
            "cannot create the output file",
        ),
    ];
    for (k, (path, branch, bits, rounding, method, error)) in errors.into_iter().enumerate() {
        let tree = if error.contains("NoTree") {
            "NoTree"
        } else {
            "CollectionTree"
        };
        let out = if error.contains("create the output") {
            no_dir.clone()
        } else {
            dir.join(format!("error{k}.mockroot"))
        };
        jobs.push(Job {
            args: arg(
                path,
                branch,
                bits,
                rounding,
                method,
                0,
                tree,
                &out.display().to_string(),
            ),
            out: Some(out),
            expect: None,
            error,
        });
    }
    let jobs_file = dir.join("jobs.json");
    let json: Vec<serde_json::Value> = jobs
        .iter()
        .enumerate()
        .map(|(id, j)| serde_json::json!({"id": id, "args": j.args}))
        .collect();
    std::fs::write(&jobs_file, serde_json::to_string(&json).unwrap()).unwrap();

    // run the macro in cling; the bare name librefloat.so resolves through LD_LIBRARY_PATH
    let results_file = dir.join("results.json");
    let ld_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(p) => format!("{}:{}", lib.display(), p.to_string_lossy()),
        None => lib.display().to_string(),
    };
    let mut py = Command::new(&python);
    py.arg(repo().join("tests/cling/test_cling.py"))
        .arg(repo().join("cpp/examples/correct_branch.C"))
        .arg(lib.join("librefloat.so"))
        .arg(repo().join("tests/cling/mockroot"))
        .arg(repo().join("include"))
        .arg(repo().join("cpp"))
        .arg("--")
        .arg(&jobs_file)
        .arg(&results_file)
        .env("LD_LIBRARY_PATH", ld_path);
    let out = run(
        &mut py,
        "tests/cling/test_cling.py (correct_branch.C in cling)",
    );
    println!("{out}");
    assert!(
        out.contains("missing librefloat.so: error reported"),
        "{out}"
    );
    let results: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results_file).unwrap()).unwrap();
    assert_eq!(results.len(), jobs.len());

    let (mut corrections, mut values, mut changed, mut error_paths) = (0, 0usize, 0usize, 0);
    for (job, result) in jobs.iter().zip(&results) {
        let status = result["status"].as_i64().unwrap();
        let messages: Vec<&str> = result["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let what = format!("{}: {messages:?}", job.args);
        if let Some((input, bits, mode, method)) = &job.expect {
            assert_eq!(status, 0, "{what}");
            let stored: Vec<f32> = input.entries.concat();
            let bits = bits.unwrap_or_else(|| infer_mantissa_bits_f32(&stored).unwrap());
            let q = Quantiser32::new(bits, *mode).unwrap();
            assert!(
                messages.len() == 1 && messages[0].contains(&format!(" at {bits} kept bits ")),
                "{what}: expected {bits} bits"
            );
            let trees = read_dump(job.out.as_ref().unwrap());
            assert_eq!(trees.len(), 1, "{what}");
            let (tree, branches) = &trees[0];
            assert_eq!(tree, "CollectionTree");
            assert_eq!(branches.len(), 1, "{what}");
            let written = &branches[0];
            assert_eq!((&written.name, &written.kind), (&input.name, &input.kind));
            assert_eq!(written.entries.len(), input.entries.len(), "{what}");
            let mut first = 0u64;
            for (e, (got, stored)) in written.entries.iter().zip(&input.entries).enumerate() {
                let mut expect = stored.clone();
                // the one seeding rule: the branch's name and the index in the whole branch
                let at = BranchPosition {
                    branch: &input.name,
                    first_index: first,
                };
                correct_at_f32(&mut expect, &q, *method, at).unwrap();
                first += stored.len() as u64;
                let bits_of = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
                assert_eq!(bits_of(got), bits_of(&expect), "{what}: entry {e}");
                for (c, s) in got.iter().zip(stored) {
                    assert_eq!(q.quantise(*c).to_bits(), s.to_bits(), "{what}: invariant");
                }
                values += got.len();
                changed += got
                    .iter()
                    .zip(stored)
                    .filter(|(c, s)| c.to_bits() != s.to_bits())
                    .count();
            }
            corrections += 1;
        } else if job.error.is_empty() {
            assert_eq!(status, 0, "{what}");
            assert!(
                messages.len() == 1 && messages[0].starts_with("Info in <correct_branch>"),
                "{what}"
            );
        } else {
            assert_eq!(status, 1, "{what}");
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with("Error in <correct_branch>") && m.contains(job.error)),
                "{what}: expected an error with '{}'",
                job.error
            );
            let out = job.out.as_ref().unwrap();
            assert!(
                !out.exists(),
                "{what}: output file {} left behind",
                out.display()
            );
            error_paths += 1;
        }
    }
    println!(
        "correct_branch.C in cling: {corrections} corrections of real branches ({values} values, {changed} changed \
         by the correction) equal to the Rust core bit for bit, {error_paths} error paths"
    );
    assert!(
        corrections >= 24 && changed > values / 4,
        "{corrections} {values} {changed}"
    );
}

/// **The one seeding rule through every front door.** One branch of a real file, stored at
/// 10 bits and corrected with dither seed 42, gives identical bits through the `refloat`
/// command, the C API's file pipeline (`refloat_correct_file`), the C API event by event
/// (`refloat_correct_branch_f32` with each event's offset), the cxx bridge (`correct_events`
/// and its `correct_file`), the C++ header over the C API (`refloat::correct_branch`) and the
/// ROOT macro's body (`refloat_macro::correct_event`, what `correct_branch.C` calls per entry;
/// [`macro_runs_in_cling_on_real_branches`] runs the macro itself under the same rule). The
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
