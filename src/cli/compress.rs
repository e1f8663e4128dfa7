//! `refloat compress`: a drop-in copy of a ROOT file with the mantissas of its float
//! branches rounded, like ATLAS's lossy float compression, and the seed's size table.
//!
//! The file is streamed one basket at a time ([`refloat::io::rewrite`]): every branch and
//! object of the input is in the output, untouched baskets byte for byte. The copy is
//! written and measured beside the output ([`PendingOutput`]) and renamed onto it only when
//! both succeeded: on an error there is no output, and an existing file there is untouched.
//! (For tests, [`common::FAULT_ENV`]`=sizes` makes the size table fail.)

use std::path::PathBuf;

use anyhow::{Context, Result};
use refloat::io::rewrite::{rewrite_floats, Compression, RewriteOptions, Rewritten};
use refloat::io::sizes::SizeTable;
use refloat::io::{FloatLayout, PendingOutput};
use refloat::{Quantiser32, RoundingMode};
use serde::Serialize;

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
    #[arg(long, default_value = "nearest", value_parser = ["nearest", "truncate", "nearest-even"])]
    pub mode: String,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub output_args: common::OutputArgs,
}

/// Per-branch result.
#[derive(Serialize, Debug, Clone)]
pub struct BranchSummary {
    pub name: String,
    pub layout: FloatLayout,
    pub values: u64,
    /// Values whose bits changed.
    pub changed: u64,
}

/// What `compress` did.
#[derive(Serialize, Debug, Clone)]
pub struct Summary {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tree: String,
    pub entries: u64,
    pub mantissa_bits: u32,
    pub mode: RoundingMode,
    pub branches: Vec<BranchSummary>,
    pub values: u64,
    /// Float-like branches that were not rounded (copied as stored), with the reason.
    pub skipped: Vec<refloat::io::Skipped>,
    pub input_compression: String,
    pub written: Rewritten,
    /// The seed's size table of the tree (None when not measured, e.g. in `bench`).
    pub sizes: Option<SizeTable>,
    /// `1 − output / input` of the whole file.
    pub file_saving: f64,
}

/// Options of one compression run (also used by `bench`).
#[derive(Debug, Clone)]
pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub quantiser: Quantiser32,
    pub select: SelectArgs,
    /// Output compression; `None` keeps the input's.
    pub compression: Option<Compression>,
    /// Measure the size table afterwards.
    pub measure_sizes: bool,
}

/// Streams the input, quantising the selected branches basket by basket, and writes the
/// drop-in copy; returns the summary.
pub fn execute(opts: &Options) -> Result<Summary> {
    common::refuse_same_file(&opts.input, &opts.output)?;
    let loaded = common::load(&opts.input, &opts.select)?;
    let names: Vec<String> = loaded
        .selection
        .floats
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let mut changed = vec![0u64; names.len()];
    let index: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let pb = common::progress(names.len(), "rounding");
    let q = opts.quantiser;
    let pending = PendingOutput::beside(&opts.output)?;
    let mut written = rewrite_floats(
        &opts.input,
        pending.path(),
        &RewriteOptions {
            tree: loaded.tree.name().to_string(),
            branches: names.clone(),
            compression: opts.compression,
        },
        |b| {
            let i = index[b.branch];
            if b.first_value == 0 {
                pb.set_message(b.branch.to_string());
                pb.inc(1);
            }
            for x in b.values.iter_mut() {
                let y = q.quantise(*x);
                changed[i] += u64::from(y.to_bits() != x.to_bits());
                *x = y;
            }
            Ok(())
        },
    )?;
    pb.finish_and_clear();
    let sizes = if opts.measure_sizes {
        let mut table = SizeTable::measure(&opts.input, pending.path(), loaded.tree.name())
            .with_context(|| format!("{}: measuring the size table", opts.output.display()))?;
        if common::fault_injected("sizes") {
            anyhow::bail!(
                "{}: measuring the size table failed on purpose ({}=sizes, for tests)",
                opts.output.display(),
                common::FAULT_ENV
            );
        }
        table.after.path = opts.output.clone();
        Some(table)
    } else {
        None
    };
    written.path = pending.commit()?;
    let branches: Vec<BranchSummary> = loaded
        .selection
        .floats
        .iter()
        .zip(&written.values)
        .zip(&changed)
        .map(|((info, (_, values)), changed)| BranchSummary {
            name: info.name.clone(),
            layout: info.float_layout().unwrap_or(FloatLayout::Flat),
            values: *values,
            changed: *changed,
        })
        .collect();
    Ok(Summary {
        input: opts.input.clone(),
        output: opts.output.clone(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        mantissa_bits: opts.quantiser.mantissa_bits(),
        mode: opts.quantiser.mode(),
        values: branches.iter().map(|b| b.values).sum(),
        branches,
        skipped: loaded.selection.skipped.clone(),
        input_compression: common::describe_compression(loaded.file.compression()),
        file_saving: 1.0 - written.output_bytes as f64 / written.input_bytes.max(1) as f64,
        written,
        sizes,
    })
}

/// Runs `refloat compress`.
pub fn run(args: Args) -> Result<()> {
    let quantiser = Quantiser32::new(args.bits, common::parse_mode(&args.mode)?)?;
    let opts = Options {
        input: args.input.clone(),
        output: args.output.clone(),
        quantiser,
        select: args.select.clone(),
        compression: args.output_args.compression()?,
        measure_sizes: true,
    };
    let s = execute(&opts)?;
    print(&s);
    common::finish(&args.output_args, &s.skipped, &s)
}

fn print(s: &Summary) {
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
        s.input_compression,
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
