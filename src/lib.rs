//! # refloat
//!
//! Undo as much as physics allows of the lossy float compression of analysis files: ATLAS
//! PHYSLITE (mantissa rounding to `n` kept bits, `CxxUtils::FloatCompressor`) and its
//! cousins.
//!
//! This crate is the library C, C++ and Rust users link: it re-exports the core
//! ([`refloat_core`]: [`quantise`], [`bounds`], [`residual`], [`histogram`], [`metrics`],
//! [`correct`], [`io`], [`pipeline`], [`evaluate`]) and adds the front doors in [`ffi`]: the
//! C API (`librefloat.{a,so}`, `include/refloat.h`) and the cxx bridge. With feature `torch`
//! it also re-exports the learned models as [`model`].
//!
//! The invariant behind every correction: **a corrected value re-quantises to the value that
//! was stored**, bit for bit (see [`bounds`]).

pub use refloat_core::*;

pub mod ffi;

#[cfg(feature = "torch")]
pub use refloat_model as model;

/// The README's Rust example, compiled and run by `cargo test --doc` so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
