//! Builds the C++ half of the cxx bridge (`src/ffi/bridge.rs`). The C header
//! `include/refloat.h` is not generated here: it is committed and checked by
//! `tests/ffi_header.rs` (cbindgen), so that building the library needs no cbindgen.

fn main() {
    cxx_build::bridge("src/ffi/bridge.rs")
        .std("c++17")
        .warnings(true)
        .extra_warnings(true)
        .compile("refloat_cxxbridge");
    println!("cargo:rerun-if-changed=src/ffi/bridge.rs");
    println!("cargo:rerun-if-changed=build.rs");
    torch_link_args();
}

// ---- feature `torch` (issue 5, learned models): find libtorch at run time without
// LD_LIBRARY_PATH. torch-sys reports the directory it linked against (DEP_TCH_LIBTORCH_LIB,
// a direct optional dependency for this purpose); an rpath to it goes into every binary,
// test and the cdylib. `--no-as-needed -ltorch` keeps libtorch_cuda.so (only reached through
// static initialisers) linked, so that CUDA is found when present.
fn torch_link_args() {
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if let Some(dir) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
        if os == "linux" || os == "macos" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
        }
    }
    if os == "linux" {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
