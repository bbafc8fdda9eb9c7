//! Command-line arguments, as clap parses them, and dispatch.

use crate::commands;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
    Check(CheckArgs),
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

/// `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: a .jsonl, .edn or Porcupine .log file, or a run's store directory.
    pub file: PathBuf,
    /// The model: register, cas-register, kv or mutex. Inferred from the operations when absent.
    #[arg(long)]
    pub model: Option<String>,
    /// The register's initial value as JSON (default: absent); kv's initial string.
    #[arg(long)]
    pub initial: Option<String>,
    /// For transaction histories: the isolation model the verdict is about
    /// (read-uncommitted, read-committed, snapshot-isolation, serializable,
    /// strong-session-serializable, strict-serializable).
    #[arg(long, default_value = "strict-serializable")]
    pub isolation: String,
    /// The consistency profile: `all`, or some of linearizable, sequential,
    /// causal-ccv, causal-cm, causal-cc, read-your-writes, monotonic-reads,
    /// monotonic-writes, writes-follow-reads (default: linearizable; for a
    /// run's store directory, what the run checked).
    #[arg(long)]
    pub models: Option<String>,
    /// The file format: jsonl, edn, porcupine-etcd or porcupine-kv. Detected when absent.
    #[arg(long)]
    pub format: Option<String>,
    /// Print the result as JSON (see the README for its fields).
    #[arg(long)]
    pub json: bool,
    /// Seconds the check may take before it answers unknown.
    #[arg(long, default_value_t = 300.0)]
    pub time_limit: f64,
    /// MiB the search's caches may use before it answers unknown.
    #[arg(long, default_value_t = 2048)]
    pub memory_limit: usize,
    /// Threads for checking keys in parallel (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The search: faultline, or plain (Porcupine's algorithm, the benchmark baseline).
    #[arg(long, default_value = "faultline")]
    pub algorithm: String,
    /// Print timings and peak memory to stderr.
    #[arg(long)]
    pub stats: bool,
    /// Also write the verdicts as JUnit XML here (a test case per checker or model).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a short Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub summary: Option<PathBuf>,
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
