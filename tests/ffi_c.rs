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
use refloat::correct::{BranchPosition, CorrectionReport, Method};
use refloat::quantise::{infer_mantissa_bits_f32, Quantiser32, RoundingMode};
use refloat::resolve::{correct_resolving_f32, resolve_f32, Format, Given};

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
            // one C call on the whole branch: the resolver on the buffer, then the correction
            let given = Given {
                bits: Some(bits),
                mode: Some(mode),
                leave_exact: true,
            };
            let whole = BranchPosition::default();
            let mut corrected = stored.clone();
            correct_resolving_f32(&mut corrected, &given, Format::Unknown, method, whole).unwrap();
            save("corrected", &corrected);
            // one C call per event with the same seed (the C API's semantics: each buffer
            // resolved on its own) ...
            let mut per_event = stored.clone();
            // ... and the ROOT macro body's: the whole branch resolved once, then one call
            // per entry, dither under the one seeding rule (no branch name: the seed as
            // given, indexed over the branch; prior-mean's density from the entry)
            let resolution = resolve_f32(&stored, &given, Format::Unknown);
            let mut per_entry = stored.clone();
            let mut report = CorrectionReport::default();
            let mut start = 0usize;
            for &c in &counts {
                let range = start..start + c as usize;
                correct_resolving_f32(
                    &mut per_event[range.clone()],
                    &given,
                    Format::Unknown,
                    method,
                    whole,
                )
                .unwrap();
                let entry = &mut per_entry[range];
                let corrector = resolution.corrector(method, "", entry).unwrap().unwrap();
                report = report + corrector.correct_in_place(entry, start as u64).unwrap();
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
    // The panic-injection hook (every build has it, outside the header).
    Some("-DREFLOAT_TEST_HOOKS")
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

/// **One real branch through every front door, one resolver.** Real branches (of the held-out
/// PHYSLITE file stored at 10 bits, and of CMS's own `nano_dy.root`: a lattice, spikes, a
/// declared precision above the data's) corrected with dither seed 42 give identical bits and
/// the same resolution through the `refloat` command, the C API's file pipeline with its
/// defaults (`refloat_correct_file`), the C API event by event under the branch's resolution
/// (`refloat_resolve_file`, `refloat_correct_resolved_f32` with each event's offset), the C
/// API on the whole branch as one buffer (`refloat_resolve_f32` with the format), the cxx
/// bridge (its resolution event by event, and its `correct_file`), the C++ header over the C
/// API (`refloat::Resolution`) and the ROOT macro's body (`refloat_macro::correct_event`,
/// what `correct_branch.C` calls per entry; `tests/root_macro.rs` runs the macro itself in
/// real ROOT). The reference is the library: the file pipeline's resolution and corrector.
#[test]
fn one_branch_through_every_front_door() {
    use refloat::ffi::{
        refloat_correct_file, refloat_correct_resolved_f32, refloat_file_options_default,
        refloat_file_report, refloat_resolution, refloat_resolution_free, refloat_resolution_json,
        refloat_resolve_f32, refloat_resolve_file, refloat_resolve_options_default,
    };
    use refloat::pipeline::{compress_file, resolve_file, CompressOptions, Select};
    use refloat::resolve::Given;
    use std::ffi::{CStr, CString};

    let lib = lib_dir();
    let dir = scratch("ffi_seeding");
    let seed = 42u64;
    let (jets, electrons) = ("AnalysisJetsAuxDyn.pt", "AnalysisElectronsAuxDyn.eta");
    let physlite = dir.join("stored.root");
    compress_file(
        &common::root_file(common::HELD_OUT),
        &physlite,
        &CompressOptions {
            select: Select {
                branches: vec![jets.into(), electrons.into()],
                ..Select::default()
            },
            quantiser: Quantiser32::new(10, RoundingMode::Nearest).unwrap(),
            bits: Vec::new(),
            compression: None,
            measure_sizes: false,
            copies: Default::default(),
            threads: 0,
        },
        &mut |_| {},
    )
    .unwrap();
    let nano = common::data_dir().join("nano_dy.root");
    let cases: [(&Path, &str, &str); 5] = [
        (&physlite, "CollectionTree", jets),
        (&physlite, "CollectionTree", electrons),
        (&nano, "Events", "TrigObj_l1pt"),
        (&nano, "Events", "Jet_area"),
        (&nano, "Events", "TrigObj_eta"),
    ];
    let read = |path: &Path, tree: &str, name: &str| {
        let mut f = refloat::io::open(path).unwrap();
        f.tree(tree).unwrap().read_float(name).unwrap()
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

    for (i, (file, tree, name)) in cases.into_iter().enumerate() {
        let stored = read(file, tree, name);
        // the library: the file pipeline's resolution and corrector
        let select = Select {
            tree: Some(tree.into()),
            branches: vec![name.into()],
        };
        let (_, resolved) = resolve_file(file, &select, &Given::default(), None).unwrap();
        let resolution = resolved[0].1.clone();
        let mut reference = stored.values.clone();
        let corrector = resolution
            .corrector(Method::Dither { seed }, name, &stored.values)
            .unwrap()
            .unwrap();
        let lib_report = corrector.correct_in_place(&mut reference, 0).unwrap();
        if name == "TrigObj_l1pt" {
            // L1 pt in 0.5 GeV steps: every value is on the lattice, and stays
            assert_eq!(
                lib_report.exact.lattice + lib_report.exact.short_mantissa + lib_report.exact.spike,
                stored.values.len(),
                "{name}: {}",
                resolution.describe()
            );
        } else {
            assert!(
                lib_report.corrected > 0,
                "{name}: {}",
                resolution.describe()
            );
            assert_ne!(
                bits_of(&reference),
                bits_of(&stored.values),
                "{name}: dither changed nothing"
            );
        }
        let want = bits_of(&reference);
        let want_json = resolution.to_json().unwrap();

        // the command
        let cli_out = dir.join(format!("cli{i}.root"));
        run(
            Command::new(lib.join("refloat"))
                .arg("correct")
                .arg(file)
                .arg(&cli_out)
                .args(["--method", "dither:42", "--tree", tree, "--branches", name]),
            "refloat correct --method dither:42",
        );
        assert_eq!(
            bits_of(&read(&cli_out, tree, name).values),
            want,
            "{name}: refloat correct"
        );

        // the C API's file pipeline with its defaults (the command's)
        let capi_out = dir.join(format!("capi{i}.root"));
        let c_in = CString::new(file.to_str().unwrap()).unwrap();
        let c_out = CString::new(capi_out.to_str().unwrap()).unwrap();
        let (c_name, c_tree) = (CString::new(name).unwrap(), CString::new(tree).unwrap());
        let mut o = refloat_file_options_default();
        o.branches = c_name.as_ptr();
        o.tree = c_tree.as_ptr();
        o.method = 1; // REFLOAT_DITHER
        o.seed = seed;
        let mut report = refloat_file_report::default();
        assert_eq!(
            refloat_correct_file(c_in.as_ptr(), c_out.as_ptr(), &o, &mut report),
            0
        );
        assert_eq!(report.verified_values, report.values);
        assert_eq!(
            report.left_exact as usize, lib_report.left_exact,
            "{name}: left exact"
        );
        assert_eq!(
            bits_of(&read(&capi_out, tree, name).values),
            want,
            "{name}: refloat_correct_file"
        );

        // the C API: the branch's resolution from the file, then event by event
        let ro = refloat_resolve_options_default();
        let mut handle: *mut refloat_resolution = std::ptr::null_mut();
        assert_eq!(
            refloat_resolve_file(
                c_in.as_ptr(),
                c_tree.as_ptr(),
                c_name.as_ptr(),
                &ro,
                &mut handle
            ),
            0
        );
        // SAFETY: a live handle; the JSON is owned by it.
        let c_json = unsafe { CStr::from_ptr(refloat_resolution_json(handle)) }
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(c_json, want_json, "{name}: the C API's resolution");
        let mut per_event = stored.values.clone();
        let mut first = 0usize;
        for n in stored.counts() {
            let rc = refloat_correct_resolved_f32(
                handle,
                per_event[first..].as_mut_ptr(),
                n,
                1,
                seed,
                c_name.as_ptr(),
                first as u64,
                std::ptr::null_mut(),
            );
            assert_eq!(rc, 0, "{name}: refloat_correct_resolved_f32");
            first += n;
        }
        refloat_resolution_free(handle);
        assert_eq!(
            bits_of(&per_event),
            want,
            "{name}: refloat_correct_resolved_f32 per event"
        );

        // the C API on the whole branch as one buffer, the format named
        let format = CString::new(if tree == "Events" { "cms" } else { "atlas" }).unwrap();
        let mut ro = refloat_resolve_options_default();
        ro.format = format.as_ptr();
        ro.branch = c_name.as_ptr();
        let mut handle: *mut refloat_resolution = std::ptr::null_mut();
        assert_eq!(
            refloat_resolve_f32(
                stored.values.as_ptr(),
                stored.values.len(),
                &ro,
                &mut handle
            ),
            0
        );
        let mut whole = stored.values.clone();
        assert_eq!(
            refloat_correct_resolved_f32(
                handle,
                whole.as_mut_ptr(),
                whole.len(),
                1,
                seed,
                c_name.as_ptr(),
                0,
                std::ptr::null_mut()
            ),
            0
        );
        refloat_resolution_free(handle);
        assert_eq!(
            bits_of(&whole),
            want,
            "{name}: refloat_resolve_f32 on the whole branch"
        );

        // the C++ doors: bridge, header over the C API, macro body
        let raw = |f: &str, bytes: Vec<u8>| {
            let p = dir.join(f);
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
            for inc in ["include", "cpp", "cpp/examples"] {
                cxx.arg("-I").arg(repo().join(inc));
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
        let out_dir = dir.join(format!("doors{i}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        run(
            Command::new(&exe)
                .arg(file)
                .arg(&out_dir)
                .arg(tree)
                .arg(name)
                .arg(&values)
                .arg(&counts)
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
        for door in ["bridge", "hpp"] {
            let json = std::fs::read_to_string(out_dir.join(format!("{door}.json"))).unwrap();
            assert_eq!(json, want_json, "{name}: the {door} resolution");
        }
        let bridge_file = read(&out_dir.join("bridge_file.root"), tree, name);
        assert_eq!(
            bits_of(&bridge_file.values),
            want,
            "{name}: bridge correct_file"
        );
    }
}
