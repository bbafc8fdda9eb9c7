//! `faultline bench`.

use clap::Args;

/// `faultline bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {}

/// Runs the benchmarks; returns the exit code.
pub fn run(_args: &BenchArgs) -> u8 {
    0
}
