//! Builds the C++ half of the cxx bridges (`src/ffi/bridge.rs`; with feature `torch` also
//! `src/ffi/bridge_model.rs`). The C header `include/refloat.h` is not generated here: it is
//! committed and checked by `tests/ffi_header.rs` (cbindgen), so that building the library
//! needs no cbindgen.

fn main() {
    // The model bridge needs the model crate: only with feature `torch`.
    let mut bridges = vec!["src/ffi/bridge.rs"];
    if std::env::var_os("CARGO_FEATURE_TORCH").is_some() {
        bridges.push("src/ffi/bridge_model.rs");
    }
    cxx_build::bridges(bridges)
        .std("c++17")
        .warnings(true)
        .extra_warnings(true)
        .compile("refloat_cxxbridge");
    println!("cargo:rerun-if-changed=src/ffi/bridge.rs");
    println!("cargo:rerun-if-changed=src/ffi/bridge_model.rs");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build-support/torch_link.rs");
    torch_link_args();
}

include!("build-support/torch_link.rs");
