//! # refloat-core
//!
//! The numeric core, ROOT I/O and the file pipelines of refloat: undo as much as physics
//! allows of the lossy float compression of analysis files (mantissa rounding to `n` kept
//! bits, e.g. ATLAS `CxxUtils::FloatCompressor`).
//!
//! Flow: [`io`] (ROOT files) → numeric core ([`quantise`], [`bounds`], [`residual`],
//! [`histogram`], [`metrics`], [`detect`], [`correct`], [`advise`], [`information`],
//! [`replicas`]) → file pipelines ([`pipeline`]) → front doors (the `refloat` crate's C API and
//! cxx bridge, the `refloat` command). [`replicas`] draws rounding replicas of stored values
//! (dither corrections under per-replica seeds) and the spread of histograms and statistics
//! over them. The numeric modules are pure functions over slices and never do I/O. Users
//! normally depend on the `refloat` crate, which re-exports this one.
//!
//! The invariant behind every correction: **a corrected value re-quantises to the value that
//! was stored**, bit for bit (see [`bounds`]).

pub mod advise;
pub mod bounds;
pub mod correct;
pub mod detect;
pub mod error;
pub mod evaluate;
pub mod histogram;
pub mod information;
pub mod io;
pub mod metrics;
pub mod pipeline;
pub mod quantise;
pub mod replicas;
pub mod residual;
pub mod resolve;
pub mod stats;

pub use bounds::Interval;
pub use error::{Error, Result};
pub use quantise::{Quantiser32, Quantiser64, RoundingMode};
