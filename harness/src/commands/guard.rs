//! `faultline guard -- PROGRAM ARGS…`: how a configured store's node starts.
//! It asks the kernel to kill it when the controller dies (even by SIGKILL),
//! then becomes the node's program: the request survives the exec, so a
//! third-party node dies with the run as a bundled one does.

use crate::exit::BadInput;
use clap::Args;
use std::ffi::CString;

/// `faultline guard`.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The node's command line.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

/// Becomes the command; returns only if it cannot.
///
/// # Errors
/// A NUL byte in the command, or a command that cannot be run.
pub fn run(args: &GuardArgs) -> anyhow::Result<u8> {
    super::node::die_with_parent();
    let words = args
        .command
        .iter()
        .map(|word| CString::new(word.as_bytes()))
        .collect::<Result<Vec<CString>, _>>()
        .map_err(|_| BadInput("a NUL byte in the command".to_string()))?;
    let error = nix::unistd::execvp(&words[0], &words).unwrap_err();
    anyhow::bail!("cannot run {}: {error}", args.command[0])
}
