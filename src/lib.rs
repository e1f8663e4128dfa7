//! # refloat
//!
//! Undo as much as physics allows of the lossy float compression ATLAS applies to PHYSLITE
//! ROOT files (mantissa rounding to `n` kept bits, `CxxUtils::FloatCompressor`).
//!
//! Flow: [`io`] (ROOT files) → numeric core ([`quantise`], [`bounds`], [`residual`],
//! [`metrics`], [`triage`]) → front doors (`ffi` for C/C++, the `refloat` binary for people).
//! The core is pure functions over slices and never does I/O.
//!
//! The invariant behind every correction: **a corrected value re-quantises to the value that
//! was stored**, bit for bit (see [`bounds`]).

pub mod bounds;
pub mod error;
pub mod ffi;
pub mod io;
pub mod metrics;
#[cfg(feature = "torch")]
pub mod model;
pub mod quantise;
pub mod residual;
pub mod triage;

pub use bounds::Interval;
pub use error::{Error, Result};
pub use quantise::{Quantiser32, Quantiser64, RoundingMode};

/// The README's Rust example, compiled and run by `cargo test --doc` so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
