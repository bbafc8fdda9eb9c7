//! `faultline generate`.

use clap::Args;

/// `faultline generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {}

/// Writes a history; returns the exit code.
pub fn run(_args: &GenerateArgs) -> u8 {
    0
}
