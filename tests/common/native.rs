//! The refloat library as C, C++ and ROOT tests link or load it: built by cargo with the
//! test's own profile and features, beside the test binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the directory holding this test's `deps/` and the crate's libraries,
/// after `cargo build --lib` (same profile and features as this test) has brought
/// `librefloat.a` / `librefloat.so` up to date, so that a plain `cargo test` on a fresh clone
/// works and no test uses a stale library.
pub fn lib_dir() -> PathBuf {
    built_lib().0.clone()
}

/// The native libraries to link after `librefloat.a` (see [`built_lib`]).
pub fn native_libs() -> Vec<String> {
    built_lib().1.clone()
}

pub fn target_profile_dir() -> PathBuf {
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
pub fn built_lib() -> &'static (PathBuf, Vec<String>) {
    static BUILT: std::sync::OnceLock<(PathBuf, Vec<String>)> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = target_profile_dir();
        let native = if cfg!(feature = "torch") {
            recorded_native_libs(&dir)
        } else {
            build_lib_and_ask_native_libs(&dir)
        };
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

/// Under feature `torch`: the native libraries the build scripts recorded in
/// `<profile dir>/build/*/output`, without running cargo. `tests/ci/torch.sh` builds the
/// library (`cargo build --lib`, its packages and features) before the tests, and a cargo
/// call from inside `cargo test` would build it again under another feature resolution (and
/// the next `cargo test` again), which costs minutes on CI's two cores.
fn recorded_native_libs(dir: &Path) -> Vec<String> {
    let mut native = NativeLibs::default();
    let outputs = std::fs::read_dir(dir.join("build")).expect("no build/ beside the tests");
    for entry in outputs.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("output")) else {
            continue;
        };
        for line in text.lines() {
            let line = line.replacen("cargo::", "cargo:", 1);
            if let Some(l) = line.strip_prefix("cargo:rustc-link-lib=") {
                native.link_lib(l);
            } else if let Some(p) = line.strip_prefix("cargo:rustc-link-search=") {
                native.link_search(p);
            }
        }
    }
    assert!(
        native.has("-ltorch_cpu"),
        "the recorded build outputs in {} lack libtorch: {:?}",
        dir.display(),
        native.libs
    );
    native.into_flags()
}

/// The libraries and search directories build scripts asked for, as linker flags.
#[derive(Default)]
struct NativeLibs {
    libs: Vec<String>,
    search: Vec<String>,
}

impl NativeLibs {
    /// A `rustc-link-lib` value (`[KIND[:MODIFIERS]=]NAME[:RENAME]`); static ones are
    /// bundled into `librefloat.a` and skipped.
    fn link_lib(&mut self, l: &str) {
        if l.starts_with("static") {
            return;
        }
        let name = l.rsplit('=').next().unwrap();
        let flag = format!("-l{}", name.rsplit(':').next().unwrap());
        if !self.libs.contains(&flag) {
            self.libs.push(flag);
        }
    }

    /// A `rustc-link-search` value (`[KIND=]PATH`); directories inside a target dir skipped.
    fn link_search(&mut self, p: &str) {
        let dir = p.rsplit('=').next().unwrap();
        let flag = format!("-L{dir}");
        if !dir.contains("/target/") && !self.search.contains(&flag) {
            self.search.push(flag);
        }
    }

    fn has(&self, flag: &str) -> bool {
        self.libs.iter().any(|l| l == flag)
    }

    /// Search directories, then the libraries, then std's; the cxx bridge needs the C++
    /// runtime among them.
    fn into_flags(self) -> Vec<String> {
        assert!(
            self.has("-lstdc++"),
            "the cxx bridge needs the C++ runtime: {:?}",
            self.libs
        );
        self.search
            .into_iter()
            .chain(self.libs)
            .chain(STD_LIBS.iter().map(|s| s.to_string()))
            .collect()
    }
}

/// The system libraries Rust's std needs on Linux (what `--print native-static-libs` lists).
pub const STD_LIBS: [&str; 7] = [
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
pub fn build_lib_and_ask_native_libs(lib: &Path) -> Vec<String> {
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
    let start = std::time::Instant::now();
    let out = cmd.output().expect("run cargo");
    eprintln!("cargo build --lib: {:.1} s", start.elapsed().as_secs_f64());
    assert!(
        out.status.success(),
        "cargo build --lib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut native = NativeLibs::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "build-script-executed" {
            continue;
        }
        let strings = |key: &str| -> Vec<String> {
            msg[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        };
        for l in strings("linked_libs") {
            native.link_lib(&l);
        }
        for p in strings("linked_paths") {
            native.link_search(&p);
        }
    }
    native.into_flags()
}
