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
    println!("cargo:rerun-if-changed=cmake/torch_link.rs");
    torch_link_args();
}

include!("cmake/torch_link.rs");
