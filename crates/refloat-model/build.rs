//! The model crate's own tests and doctests find libtorch without LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../build-support/torch_link.rs");
    torch_rpath();
}

include!("../../build-support/torch_link.rs");
