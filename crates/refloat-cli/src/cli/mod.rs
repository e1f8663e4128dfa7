//! The `refloat` command line: one subcommand per module, each with `Args` (clap) and
//! `run(args) -> anyhow::Result<()>`. Errors are printed as one line and exit with code 2.

pub mod advise;
pub mod analyse;
pub mod bench;
pub mod common;
pub mod compress;
pub mod correct;
pub mod evaluate;
pub mod inspect;
pub mod memory;
mod plot;
pub mod replicas;
#[cfg(feature = "torch")]
pub mod train;
pub mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXAMPLES: &str =
    "The main job: make an (original, compressed) pair and see what the compression did:
  refloat compress ../shared/data/PHYSLITE_example.root /tmp/comp.root --bits 10
  refloat analyse  ../shared/data/PHYSLITE_example.root /tmp/comp.root --out /tmp/refloat-report

How many kept bits each branch needs (sweep, figures, recommendations for compress --bits-from):
  refloat advise   ../shared/data/PHYSLITE_example.root --json /tmp/advice.json --out /tmp/advice

Then correct the compressed file and compare again:
  refloat correct /tmp/comp.root /tmp/corrected.root --method midpoint
  refloat inspect /tmp/comp.root

Exit status: 0 on success, 2 on any error (one line on stderr naming the file, tree and branch).";

/// Undo as much as physics allows of ATLAS's lossy float compression of PHYSLITE ROOT files.
#[derive(Parser, Debug)]
#[command(name = "refloat", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Quantise float branches like ATLAS (an (original, compressed) pair) and report the size saving.
    Compress(compress::Args),
    /// Compare an original and a compressed (or corrected) file: table, JSON and plots.
    Analyse(analyse::Args),
    /// How many kept bits each branch needs: the sweep over kept bits, plots and recommendations.
    Advise(advise::Args),
    /// Estimate the originals of a compressed file's float branches and verify the invariant.
    Correct(correct::Args),
    /// Check that a corrected file re-quantises, bit for bit, to its stored file.
    Verify(verify::Args),
    /// List trees, branches, types, entries, and the detected kept bits and rounding scheme.
    Inspect(inspect::Args),
    /// Throughput of compress and correct against the I/O floor.
    Bench(bench::Args),
    /// Train a learned correction (libtorch) on a file of full-precision floats.
    #[cfg(feature = "torch")]
    Train(train::Args),
    /// Compare correction methods (and models) against the originals on held-out events.
    Evaluate(evaluate::Args),
    /// Does the rounding move my result? Spread of each branch's mean, std and histogram
    /// over rounding replicas (and, with --coverage, a check against the originals).
    Replicas(replicas::Args),
    /// Read every float branch whole into memory (the memory baseline of `bench`).
    #[command(hide = true)]
    ReadWhole(memory::ReadWholeArgs),
}

/// Dispatches to the subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Compress(a) => compress::run(a),
        Command::Analyse(a) => analyse::run(a),
        Command::Advise(a) => advise::run(a),
        Command::Correct(a) => correct::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Bench(a) => bench::run(a),
        #[cfg(feature = "torch")]
        Command::Train(a) => train::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Replicas(a) => replicas::run(a),
        Command::ReadWhole(a) => memory::read_whole(a),
    }
}

/// One line: the error and its causes joined with ": ", without line breaks.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// The program: parse, run, report.
pub fn main() -> ExitCode {
    // A bug must not show a backtrace either: one line, exit code 2. A closed stdout
    // (`refloat inspect f.root | head`) ends the program quietly.
    std::panic::set_hook(Box::new(|info| {
        let msg = refloat::stats::panic_message(info.payload());
        if is_broken_pipe(&msg) {
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("refloat: internal error: {msg}{at} (please report this)");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            memory::report_peak_rss();
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    };
    let result = std::panic::catch_unwind(|| run(cli.command));
    memory::report_peak_rss();
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("refloat: error: {}", one_line(&e));
            ExitCode::from(2)
        }
        Err(payload) if is_broken_pipe(&refloat::stats::panic_message(payload.as_ref())) => {
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::from(2),
    }
}

/// `println!` panics when stdout is a closed pipe.
fn is_broken_pipe(message: &str) -> bool {
    message.contains("failed printing to stdout") && message.contains("Broken pipe")
}
