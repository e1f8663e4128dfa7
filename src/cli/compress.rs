//! `refloat compress`: make a compressed copy of a file's float branches, like ATLAS's
//! lossy float compression, and report the size saving.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use refloat::io::{FloatLayout, TreeWriter};
use refloat::{Quantiser32, RoundingMode};
use serde::Serialize;

use super::common::{self, SelectArgs};

/// Arguments of `refloat compress`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:
  refloat compress ../shared/data/PHYSLITE_example.root /tmp/comp.root --bits 10
  refloat compress in.root out.root --bits 7 --mode truncate --branches 'AnalysisElectronsAuxDyn.*'")]
pub struct Args {
    /// Input ROOT file (full-precision floats).
    pub input: PathBuf,
    /// Output ROOT file (written atomically; holds only the selected float branches).
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
    /// Also write the summary as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// List every branch that is not written, not just a count per reason.
    #[arg(long)]
    pub list_skipped: bool,
}

/// Per-branch result.
#[derive(Serialize, Debug, Clone)]
pub struct BranchSummary {
    pub name: String,
    pub layout: FloatLayout,
    pub entries: usize,
    pub values: usize,
    /// Values whose bits changed.
    pub changed: usize,
    /// zlib-compressed size of the big-endian float payload before and after.
    pub payload_zlib_before: u64,
    pub payload_zlib_after: u64,
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
    pub values: usize,
    pub skipped: Vec<refloat::io::Skipped>,
    pub input_bytes: u64,
    pub input_compression: String,
    pub output_bytes: u64,
    /// zlib level used for the payload estimate (the input's, when it is zlib; else 1).
    pub payload_zlib_level: u32,
    pub payload_raw_bytes: u64,
    pub payload_zlib_before: u64,
    pub payload_zlib_after: u64,
    /// `1 − after / before` of the zlib payload.
    pub payload_saving: f64,
}

/// Size of `values` as big-endian bytes (ROOT's on-disk layout) after zlib at `level`.
pub fn zlib_payload_bytes(values: &[f32], level: u32) -> u64 {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(&bytes).expect("writing to memory");
    enc.finish().expect("writing to memory").len() as u64
}

/// Options of one compression run (also used by `bench`).
#[derive(Debug, Clone)]
pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub quantiser: Quantiser32,
    pub select: SelectArgs,
    /// Compute the zlib payload estimate (costs time; `bench` turns it off).
    pub estimate_sizes: bool,
}

/// Reads, quantises and writes; returns the summary.
pub fn execute(opts: &Options) -> Result<Summary> {
    common::refuse_same_file(&opts.input, &opts.output)?;
    let loaded = common::load(&opts.input, &opts.select)?;
    let branches = common::read_selected(&loaded.tree, &loaded.selection, "reading")?;
    let level = {
        let c = loaded.file.compression();
        if (c / 100 == 1 || c / 100 == 0) && c % 100 > 0 {
            (c % 100) as u32
        } else {
            1
        }
    };
    let pb = common::progress(branches.len(), "quantising");
    let mut writer = TreeWriter::new(&opts.output, loaded.tree.name());
    let mut summaries = Vec::with_capacity(branches.len());
    for mut b in branches {
        pb.set_message(b.name.clone());
        let before = if opts.estimate_sizes {
            zlib_payload_bytes(&b.values, level)
        } else {
            0
        };
        let original_bits: Vec<u32> = if opts.estimate_sizes {
            b.values.iter().map(|v| v.to_bits()).collect()
        } else {
            Vec::new()
        };
        opts.quantiser.par_quantise_slice(&mut b.values);
        let changed = original_bits
            .iter()
            .zip(&b.values)
            .filter(|(o, v)| **o != v.to_bits())
            .count();
        let after = if opts.estimate_sizes {
            zlib_payload_bytes(&b.values, level)
        } else {
            0
        };
        summaries.push(BranchSummary {
            name: b.name.clone(),
            layout: b.layout(),
            entries: b.entries(),
            values: b.values.len(),
            changed,
            payload_zlib_before: before,
            payload_zlib_after: after,
        });
        writer.add(b)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let written = writer.write()?;
    let values: usize = summaries.iter().map(|s| s.values).sum();
    let before: u64 = summaries.iter().map(|s| s.payload_zlib_before).sum();
    let after: u64 = summaries.iter().map(|s| s.payload_zlib_after).sum();
    Ok(Summary {
        input: opts.input.clone(),
        output: opts.output.clone(),
        tree: loaded.tree.name().to_string(),
        entries: loaded.tree.entries(),
        mantissa_bits: opts.quantiser.mantissa_bits(),
        mode: opts.quantiser.mode(),
        branches: summaries,
        values,
        skipped: loaded.selection.skipped.clone(),
        input_bytes: loaded.file.size_bytes(),
        input_compression: common::describe_compression(loaded.file.compression()),
        output_bytes: written.bytes,
        payload_zlib_level: level,
        payload_raw_bytes: 4 * values as u64,
        payload_zlib_before: before,
        payload_zlib_after: after,
        payload_saving: if before > 0 {
            1.0 - after as f64 / before as f64
        } else {
            0.0
        },
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
        estimate_sizes: true,
    };
    let s = execute(&opts)?;
    if let Some(json) = &args.json {
        common::write_json(json, &s)?;
    }
    print(&s);
    common::print_skipped(&selection_of(&s), args.list_skipped, Some(&s.output));
    if let Some(json) = &args.json {
        println!("summary written to {}", json.display());
    }
    Ok(())
}

fn selection_of(s: &Summary) -> refloat::io::Selection {
    refloat::io::Selection {
        floats: Vec::new(),
        skipped: s.skipped.clone(),
    }
}

fn print(s: &Summary) {
    let jagged = s
        .branches
        .iter()
        .filter(|b| b.layout == FloatLayout::Jagged)
        .count();
    let changed: usize = s.branches.iter().map(|b| b.changed).sum();
    println!(
        "compressed {} float branches ({} std::vector<float>, {} float) of tree '{}' ({} entries) to {} kept mantissa bits ({})",
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
        "  wrote {} ({})",
        s.output.display(),
        common::human_bytes(s.output_bytes)
    );
    println!(
        "size saving of the float payload under zlib level {}: {} -> {} ({:.2} % smaller; raw {})",
        s.payload_zlib_level,
        common::human_bytes(s.payload_zlib_before),
        common::human_bytes(s.payload_zlib_after),
        100.0 * s.payload_saving,
        common::human_bytes(s.payload_raw_bytes),
    );
    println!(
        "  input file {} ({}); the output file is written uncompressed by oxyroot, so compare payloads, not file sizes",
        common::human_bytes(s.input_bytes),
        s.input_compression
    );
}
