// Included by the build scripts of `refloat` (build.rs), `refloat-cli` and `refloat-model`:
// one rule for finding libtorch at run time.
// Feature `torch` (learned models): find libtorch at run time without
// LD_LIBRARY_PATH. torch-sys reports the directory it linked against (DEP_TCH_LIBTORCH_LIB,
// a direct optional dependency for this purpose); an rpath to it goes into every binary,
// test and the cdylib. `--no-as-needed -ltorch` keeps libtorch_cuda.so (only reached through
// static initialisers) linked, so that CUDA is found when present.
#[allow(dead_code)]
fn torch_link_args() {
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    torch_rpath();
}

/// The link arguments of [`torch_link_args`], whatever the features (for a crate that always
/// links libtorch).
#[allow(dead_code)]
fn torch_rpath() {
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
