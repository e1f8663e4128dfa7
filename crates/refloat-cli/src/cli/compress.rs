//! `refloat compress`: a drop-in copy of a ROOT file with the mantissas of its float
//! branches rounded, like ATLAS's lossy float compression, and the talk's size table.
//!
//! The work is the library's [`refloat::pipeline::compress_file`]; this module parses the
//! arguments, draws the progress bars and prints the summary.

use std::path::PathBuf;

use anyhow::Result;
use refloat::io::FloatLayout;
use refloat::pipeline::{compress_file, CompressOptions, CompressReport};
use refloat::Quantiser32;

use super::common::{self, SelectArgs};

/// Arguments of `refloat compress`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat compress ../shared/data/PHYSLITE_example.root /tmp/comp.root --bits 10
  refloat compress in.root out.root --bits 7 --mode truncate --branches 'AnalysisElectronsAuxDyn.*'
  refloat compress in.root out.root --bits 10 --compression zstd:5")]
pub struct Args {
    /// Input ROOT file (full-precision floats).
    pub input: PathBuf,
    /// Output ROOT file: a drop-in replacement of the input with the selected float
    /// branches rounded; written atomically.
    pub output: PathBuf,
    /// Kept explicit mantissa bits, 0..=23 (ATLAS uses 7 and 15; 23 keeps everything).
    #[arg(long)]
    pub bits: u32,
    /// Rounding: nearest (ATLAS FloatCompressor, ties away from zero), truncate (ROOT
    /// Real32Trunc) or nearest-even (IEEE).
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub output_args: common::OutputArgs,
}

/// Runs `refloat compress`.
pub fn run(args: Args) -> Result<()> {
    let opts = CompressOptions {
        select: args.select.to_select(),
        quantiser: Quantiser32::new(args.bits, args.mode.into())?,
        compression: args.output_args.compression()?,
        measure_sizes: true,
    };
    let s = compress_file(&args.input, &args.output, &opts, &mut common::bars())?;
    print(&s);
    common::finish(&args.output_args, &s.skipped, &s)
}

fn print(s: &CompressReport) {
    let jagged = s
        .branches
        .iter()
        .filter(|b| b.layout == FloatLayout::Jagged)
        .count();
    let changed: u64 = s.branches.iter().map(|b| b.changed).sum();
    println!(
        "rounded {} float branches ({} std::vector<float>, {} float) of tree '{}' ({} entries) to {} kept mantissa bits ({})",
        s.branches.len(),
        jagged,
        s.branches.len() - jagged,
        s.tree,
        s.entries,
        s.mantissa_bits,
        s.mode
    );
    println!(
        "  {} values, {} changed ({:.1} %)",
        s.values,
        changed,
        100.0 * changed as f64 / s.values.max(1) as f64
    );
    println!(
        "  wrote {} ({}, {}; input {}, {}): every other branch and object copied as stored",
        s.output.display(),
        common::human_bytes(s.written.output_bytes),
        s.written.compression,
        common::human_bytes(s.written.input_bytes),
        common::describe_compression(s.input_compression_setting),
    );
    if let Some(t) = &s.sizes {
        println!("\n{t}");
    }
    println!(
        "file size saving: {:.2} % ({} -> {})",
        100.0 * s.file_saving,
        common::human_bytes(s.written.input_bytes),
        common::human_bytes(s.written.output_bytes)
    );
}
