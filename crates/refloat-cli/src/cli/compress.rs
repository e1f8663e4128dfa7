//! `refloat compress`: a drop-in copy of a ROOT file with the mantissas of its float
//! branches rounded, like ATLAS's lossy float compression, and the size table of the seed study
//! (`ATLAS_COMPRESSION.md`).
//!
//! The work is the library's [`refloat::pipeline::compress_file`]; this module parses the
//! arguments, draws the progress bars and prints the summary.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use refloat::io::{BranchPattern, FloatLayout};
use refloat::pipeline::{compress_file, CompressOptions, CompressReport};
use refloat::Quantiser32;

use super::common::{self, SelectArgs};

/// Arguments of `refloat compress`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat compress ../shared/data/PHYSLITE_example.root /tmp/comp.root --bits 10
  refloat compress in.root out.root --bits 7 --mode truncate --branches 'AnalysisElectronsAuxDyn.*'
  refloat compress in.root out.root --bits 10 --compression zstd:5
  refloat compress in.root out.root --bits 10 --bits 'AnalysisJetsAuxDyn.*=12' --bits '*.charge=4'
  refloat compress in.root out.root --bits-from advice.json      # refloat advise's recommendations
  refloat compress 'in/*.root' --out-dir out/ --bits 10 --keep-going   # a dataset")]
pub struct Args {
    /// INPUT OUTPUT: the input ROOT file (full-precision floats) and the output, a drop-in
    /// replacement of it with the selected float branches rounded, written atomically. With
    /// --out-dir: every input (paths or quoted globs).
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<String>,
    /// Kept explicit mantissa bits, 0..=23 (ATLAS uses 7 and 15; 23 keeps everything): `N` for
    /// every branch, or `GLOB=N` for the branches a glob matches (repeatable; the first
    /// matching rule applies, before --bits-from).
    #[arg(long, value_name = "N|GLOB=N")]
    pub bits: Vec<String>,
    /// Per-branch kept bits from `refloat advise --json` (each branch's recommended_bits);
    /// branches it does not list keep the plain --bits N, or all their bits.
    #[arg(long, value_name = "ADVICE.json")]
    pub bits_from: Option<PathBuf>,
    /// Rounding: nearest (ATLAS FloatCompressor, ties away from zero), truncate (ROOT
    /// Real32Trunc) or nearest-even (IEEE).
    #[arg(long, value_enum, default_value_t = common::Mode::Nearest)]
    pub mode: common::Mode,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub output_args: common::OutputArgs,
}

/// The default kept bits and the per-branch rules of `--bits` and `--bits-from`.
fn bits_plan(args: &Args) -> Result<(u32, Vec<(BranchPattern, u32)>)> {
    let parse_bits = |v: &str, what: &str| -> Result<u32> {
        v.trim()
            .parse::<u32>()
            .with_context(|| format!("{what}: '{v}' is not a number of kept bits (0..=23)"))
    };
    let mut default = None;
    let mut rules = Vec::new();
    for b in &args.bits {
        if b.contains('=') {
            let (glob, n) = super::advise::split_rule(b, "--bits")?;
            rules.push((BranchPattern::parse(glob)?, parse_bits(n, "--bits")?));
        } else if default.replace(parse_bits(b, "--bits")?).is_some() {
            bail!("--bits N given twice (use GLOB=N for per-branch bits)");
        }
    }
    if let Some(path) = &args.bits_from {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        rules.extend(
            refloat::pipeline::advised_bits(&text).with_context(|| path.display().to_string())?,
        );
    }
    if default.is_none() && rules.is_empty() {
        bail!("give the kept bits: --bits N, --bits GLOB=N or --bits-from ADVICE.json");
    }
    Ok((default.unwrap_or(23), rules))
}

/// Runs `refloat compress`.
pub fn run(args: Args) -> Result<()> {
    let (bits, rules) = bits_plan(&args)?;
    common::run_files(&args.paths, &args.output_args, |i, o, out| {
        run_one(&args, bits, &rules, i, o, out)
    })
}

/// `refloat compress` of one file, with the kept bits of [`bits_plan`].
fn run_one(
    args: &Args,
    bits: u32,
    rules: &[(BranchPattern, u32)],
    input: &std::path::Path,
    output: &std::path::Path,
    output_args: &common::OutputArgs,
) -> Result<()> {
    let opts = CompressOptions {
        select: args.select.to_select(),
        quantiser: Quantiser32::new(bits, args.mode.into())?,
        bits: rules.to_vec(),
        compression: output_args.compression()?,
        measure_sizes: true,
        copies: output_args.copies(),
        threads: output_args.threads,
    };
    let s = compress_file(input, output, &opts, &mut common::bars())?;
    print(&s);
    common::print_damaged(&s.written);
    common::finish(output_args, &s.skipped, &s.floats_left_alone, &s)
}

fn print(s: &CompressReport) {
    let jagged = s
        .branches
        .iter()
        .filter(|b| b.layout == FloatLayout::Jagged)
        .count();
    let changed: u64 = s.branches.iter().map(|b| b.changed).sum();
    let mut per_bits: std::collections::BTreeMap<u32, usize> = Default::default();
    for b in &s.branches {
        *per_bits.entry(b.mantissa_bits).or_default() += 1;
    }
    let bits = if per_bits.len() == 1 {
        format!("{} kept mantissa bits", s.branches[0].mantissa_bits)
    } else {
        format!(
            "per-branch kept mantissa bits ({})",
            per_bits
                .iter()
                .map(|(b, n)| format!("{n} at {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    println!(
        "rounded {} float branches ({} std::vector<float>, {} float) of tree '{}' ({} entries) to {bits} ({})",
        s.branches.len(),
        jagged,
        s.branches.len() - jagged,
        s.tree,
        s.entries,
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
