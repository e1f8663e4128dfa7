//! The model crate's own tests and doctests find libtorch without LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../cmake/torch_link.rs");
    torch_rpath();
}

include!("../../cmake/torch_link.rs");
