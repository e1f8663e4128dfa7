//! `refloat`: the command line. See `refloat --help`; each subcommand lives in `src/cli/`.
extern crate refloat_core as refloat;

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
