//! `refloat`: the command line. See `refloat --help`; each subcommand lives in `src/cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
