//! Command-line arguments, as clap parses them, and dispatch.

use crate::checking::CheckError;
use crate::commands;
use crate::exit;
use crate::report::ReportError;
use crate::run::RunError;
use clap::{Parser, Subcommand};

/// A Jepsen-style consistency testing harness.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or unreadable input, 255 faultline failed.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a cluster (bundled, or described by a target config), run a
    /// workload against it under faults, record the history, check it and store
    /// everything (the main job).
    #[command(after_help = EXIT_CODES)]
    Run(Box<crate::run::RunArgs>),
    /// Check a history (a file or a stored run) for linearizability, the weak
    /// models or transactional isolation, and print the verdicts with witnesses.
    #[command(after_help = EXIT_CODES)]
    Check(commands::check::CheckArgs),
    /// Re-render a stored run's report.html (and CI outputs) from its history
    /// and results, without checking again.
    #[command(after_help = EXIT_CODES)]
    Report(commands::report::ReportArgs),
    /// Serve an index of the stored runs, with their reports, histories and results.
    Serve(commands::serve::ServeArgs),
    /// Run the checker benchmarks.
    Bench(commands::bench::BenchArgs),
    /// Write a synthetic history (JSON Lines) for benchmarks.
    Generate(commands::generate::GenerateArgs),
    /// Run one node of a bundled store (the harness starts these itself).
    Node(commands::node::NodeArgs),
    /// Run a configured store's node so that it dies with the controller (the
    /// harness starts these itself).
    #[command(hide = true)]
    Guard(commands::guard::GuardArgs),
    /// Remove what killed runs left behind: the network namespaces (and the
    /// processes and rules in them) of runs whose controller is gone.
    Cleanup,
}

impl Command {
    /// The subcommand's name, for messages.
    fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::Check(_) => "check",
            Command::Report(_) => "report",
            Command::Serve(_) => "serve",
            Command::Bench(_) => "bench",
            Command::Generate(_) => "generate",
            Command::Node(_) => "node",
            Command::Guard(_) => "guard",
            Command::Cleanup => "cleanup",
        }
    }
}

/// Runs a parsed command line; returns the exit code. An error is printed
/// here, once, and its type decides the code: the user's input (254) or
/// faultline itself (255).
pub fn run(cli: Cli) -> u8 {
    let name = cli.command.name();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            // Each error's message already names its cause.
            eprintln!("faultline {name}: {error}");
            exit_code(&error)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<u8> {
    Ok(match command {
        Command::Run(args) => crate::run::run(&args)?,
        Command::Check(args) => commands::check::run(&args)?,
        Command::Report(args) => commands::report::run(&args)?,
        Command::Serve(args) => commands::serve::run(&args)?,
        Command::Bench(args) => commands::bench::run(&args)?,
        Command::Generate(args) => commands::generate::run(&args)?,
        Command::Node(args) => commands::node::run(&args)?,
        Command::Guard(args) => commands::guard::run(&args)?,
        Command::Cleanup => {
            let removed = crate::net::netns::clean_dead_runs();
            if removed.is_empty() {
                println!("nothing left behind");
            } else {
                println!("removed {}", removed.join(" "));
            }
            exit::VALID
        }
    })
}

/// 254 when the user's input is at fault, else 255. The commands return
/// these types at the top (a target file's or a history's error arrives
/// inside a `RunError` or a `CheckError`, which says which it is).
fn exit_code(error: &anyhow::Error) -> u8 {
    let bad_input = error.is::<exit::BadInput>()
        || error
            .downcast_ref::<RunError>()
            .is_some_and(|error| error.exit_code() == exit::BAD_ARGUMENTS)
        || error
            .downcast_ref::<CheckError>()
            .is_some_and(CheckError::is_bad_input)
        || error
            .downcast_ref::<ReportError>()
            .is_some_and(ReportError::is_bad_input);
    if bad_input {
        exit::BAD_ARGUMENTS
    } else {
        exit::HARNESS_FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::PlanError;

    #[test]
    fn the_error_type_decides_the_exit_code() {
        let refused = anyhow::Error::from(RunError::Plan(PlanError::Refused("x".into())));
        assert_eq!(exit_code(&refused), exit::BAD_ARGUMENTS);
        let target_file = crate::target_file::parse("t.toml", "name = 1").unwrap_err();
        let through_the_run = anyhow::Error::from(RunError::Plan(PlanError::Target(
            crate::target::TargetError::File(target_file),
        )));
        assert_eq!(exit_code(&through_the_run), exit::BAD_ARGUMENTS);
        let failed = anyhow::Error::from(RunError::History(std::io::Error::other("disk")));
        assert_eq!(exit_code(&failed), exit::HARNESS_FAILED);
        let unreadable = anyhow::Error::from(CheckError::Read {
            path: "h.jsonl".into(),
            source: std::io::Error::other("gone"),
        });
        assert_eq!(exit_code(&unreadable), exit::BAD_ARGUMENTS);
        let unwritable = anyhow::Error::from(CheckError::Write {
            path: "results.json".into(),
            source: std::io::Error::other("full"),
        });
        assert_eq!(exit_code(&unwritable), exit::HARNESS_FAILED);
        let argument = anyhow::Error::from(exit::BadInput("--rate".into()));
        assert_eq!(exit_code(&argument), exit::BAD_ARGUMENTS);
        assert_eq!(exit_code(&anyhow::anyhow!("bench")), exit::HARNESS_FAILED);
    }
}
