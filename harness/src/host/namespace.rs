//! This machine, inside a network namespace the run made (see
//! `net::netns`): programs and commands run through `ip netns exec`, so they
//! see only the namespace's interfaces; files are this machine's.

use super::{Host, HostError, Spawn};
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// A network namespace on this machine, with its address on the run's bridge.
#[derive(Debug, Clone)]
pub struct Namespace {
    /// The namespace's name.
    pub namespace: String,
    /// Its address.
    pub address: Ipv4Addr,
}

impl Namespace {
    /// `argv` run inside the namespace (`ip netns exec` becomes the program
    /// once it has entered it, so the process id is the program's).
    fn command(&self, argv: &[String]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace]).args(argv);
        command
    }
}

impl Host for Namespace {
    fn name(&self) -> String {
        format!("netns {}", self.namespace)
    }

    fn address(&self) -> Ipv4Addr {
        self.address
    }

    fn spawn(&self, spawn: &Spawn) -> Result<Child, HostError> {
        super::spawn_logged(&self.name(), self.command(spawn.argv), spawn)
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
        super::run_bounded(&self.name(), self.command(argv), input, timeout)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), HostError> {
        super::write_atomically(&self.name(), path, bytes)
    }

    fn fetch_file(&self, path: &Path, local: &Path) -> Result<(), HostError> {
        super::copy_local(&self.name(), path, local)
    }
}
