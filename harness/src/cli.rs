//! Command-line arguments, as clap parses them, and dispatch.

use crate::commands;
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

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => crate::run::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Generate(args) => commands::generate::run(&args),
        Command::Node(args) => commands::node::run(&args),
        Command::Guard(args) => commands::guard::run(&args),
        Command::Cleanup => {
            let removed = crate::net::netns::clean_dead_runs();
            if removed.is_empty() {
                println!("nothing left behind");
            } else {
                println!("removed {}", removed.join(" "));
            }
            crate::exit::VALID
        }
    }
}
