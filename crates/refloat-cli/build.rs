//! The `refloat` binary built with feature `torch` finds libtorch without LD_LIBRARY_PATH.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../build-support/torch_link.rs");
    torch_link_args();
}

include!("../../build-support/torch_link.rs");
