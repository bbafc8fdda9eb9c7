//! This machine, on loopback.

use super::{Host, HostError, Spawn};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// This machine: nodes listen on 127.0.0.1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

const NAME: &str = "localhost";

impl Host for Local {
    fn name(&self) -> String {
        NAME.to_string()
    }

    fn address(&self) -> Ipv4Addr {
        Ipv4Addr::LOCALHOST
    }

    fn spawn(&self, spawn: &Spawn) -> Result<Child, HostError> {
        let mut command = Command::new(&spawn.argv[0]);
        command.args(&spawn.argv[1..]);
        super::spawn_logged(NAME, command, spawn)
    }

    fn signal_group(&self, pid: u32, signal: Signal) {
        super::signal_local_group(pid, signal);
    }

    fn run(
        &self,
        argv: &[String],
        input: Option<&str>,
        timeout: Duration,
    ) -> Result<String, HostError> {
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        super::run_bounded(NAME, command, input, timeout)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), HostError> {
        super::write_atomically(NAME, path, bytes)
    }

    fn fetch_file(&self, path: &Path, local: &Path) -> Result<(), HostError> {
        super::copy_local(NAME, path, local)
    }
}
