//! The `faultline` binary: parse the arguments, run the command, exit with its code.

use clap::Parser;
use faultline::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are not errors; everything else is a bad argument.
            let code = if error.use_stderr() {
                faultline::exit::BAD_ARGUMENTS
            } else {
                0
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(faultline::cli::run(cli))
}
