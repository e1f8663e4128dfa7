//! `refloat replicas`: does the rounding move my result? Draws rounding replicas of a stored
//! file's float branches (dither corrections under per-replica seeds) and prints, per branch,
//! the spread of its mean, standard deviation and histogram over them. With `--coverage
//! ORIG.root`, checks the spread against the originals instead.
//!
//! The work is the library's [`refloat::pipeline::replica_spread_file`] and
//! [`refloat::pipeline::replica_coverage_file`]; this module parses, calls and prints.

use std::path::PathBuf;

use anyhow::Result;
use refloat::pipeline::{
    replica_coverage_file, replica_spread_file, CoverageReport, ReplicaOptions, ReplicaReport,
};
use refloat::replicas::{BinRange, Binning, NOMINAL_1SIGMA, NOMINAL_2SIGMA};

use super::common::{self, SelectArgs};

/// Arguments of `refloat replicas`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Replica r is what `refloat correct --method dither:<replica seed>` writes,
with replica seed = splitmix64_mix(SEED ^ (r + 1) * 0x9E3779B97F4A7C15).

Examples:
  refloat replicas comp.root -n 50 --branches 'AnalysisJetsAuxDyn.*'
  refloat replicas comp.root --bins 40 --range full --json spread.json
  refloat replicas comp.root --bits 7 --mode nearest --coverage original.root"
)]
pub struct Args {
    /// The stored (compressed) ROOT file.
    pub stored: PathBuf,
    /// Number of replicas.
    #[arg(short = 'n', long = "replicas", default_value_t = 50)]
    pub replicas: u32,
    /// Seed of the replicas.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Uniform bins of each branch's histogram.
    #[arg(long, default_value_t = 20)]
    pub bins: usize,
    /// Range of the bins: central (1 % to 99 % quantile of the stored values) or full
    /// (smallest to largest).
    #[arg(long, default_value = "central")]
    pub range: BinRange,
    /// Kept mantissa bits of the stored file, 0..=23. Default: inferred per branch, as
    /// `correct` does.
    #[arg(long)]
    pub bits: Option<u32>,
    /// Rounding of the stored file. Default: detected per branch, else the format's, as
    /// `correct` does.
    #[arg(long, value_enum)]
    pub mode: Option<common::Mode>,
    /// Validation: the original (full-precision) file the stored file was compressed from;
    /// prints how often the original histogram lies within the replicas' mean ± 1σ / ± 2σ.
    #[arg(long, value_name = "ORIG.root")]
    pub coverage: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

/// Runs `refloat replicas`.
pub fn run(args: Args) -> Result<()> {
    let opts = ReplicaOptions {
        select: args.select.to_select(),
        bits: args.bits,
        mode: args.mode.map(Into::into),
        replicas: args.replicas,
        seed: args.seed,
        binning: Binning::Uniform {
            bins: args.bins,
            range: args.range,
        },
    };
    match &args.coverage {
        None => {
            let r = replica_spread_file(&args.stored, &opts, &mut common::bars())?;
            print_spread(&r);
            write(&args, &r)
        }
        Some(original) => {
            let r = replica_coverage_file(original, &args.stored, &opts, &mut common::bars())?;
            print_coverage(&r);
            write(&args, &r)
        }
    }
}

fn write<T: serde::Serialize>(args: &Args, value: &T) -> Result<()> {
    if let Some(json) = &args.json {
        common::write_json(json, value)?;
        println!("results written to {}", json.display());
    }
    Ok(())
}

fn print_spread(r: &ReplicaReport) {
    println!(
        "{}: tree '{}': {} branches, {} replicas (seed {})",
        r.input.display(),
        r.tree,
        r.branches.len(),
        r.replicas,
        r.seed
    );
    println!(
        "{:<48} {:>4} {:>26} {:>26} {:>11}",
        "branch", "bits", "mean ± replica spread", "std ± replica spread", "max bin σ/n"
    );
    for b in &r.branches {
        let bits = b.mantissa_bits.map_or("-".into(), |n| n.to_string());
        match &b.spread {
            Some(s) => {
                let bin = s
                    .histogram
                    .max_relative_spread()
                    .map_or("-".into(), |(_, x)| format!("{:.2} %", 100.0 * x));
                println!(
                    "{:<48} {:>4} {:>14.6e} ± {:<9.2e} {:>14.6e} ± {:<9.2e} {:>11}",
                    b.name, bits, s.mean.nominal, s.mean.std, s.std.nominal, s.std.std, bin
                );
            }
            None => println!(
                "{:<48} {:>4} {}",
                b.name,
                bits,
                b.note.as_deref().unwrap_or("")
            ),
        }
    }
}

fn print_coverage(r: &CoverageReport) {
    let t = &r.total;
    println!(
        "{} vs {}: {} branches, {} replicas (seed {})",
        r.stored.display(),
        r.original.display(),
        r.branches.len(),
        r.replicas,
        r.seed
    );
    println!(
        "bins where the rounding matters: {} ({} unaffected bins left out)",
        t.bins, t.unaffected
    );
    println!(
        "original within replica mean ± 1σ: {:>6} = {:.1} % (nominal {:.1} %)",
        t.within_1sigma,
        100.0 * t.rate_1sigma(),
        100.0 * NOMINAL_1SIGMA
    );
    println!(
        "original within replica mean ± 2σ: {:>6} = {:.1} % (nominal {:.1} %)",
        t.within_2sigma,
        100.0 * t.rate_2sigma(),
        100.0 * NOMINAL_2SIGMA
    );
}
