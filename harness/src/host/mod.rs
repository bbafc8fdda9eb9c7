//! Hosts: where a node's processes run and how commands reach them. Every
//! action on a node — starting it, signalling its process group, running a
//! control command or a packet-filter rule, writing its clock file, fetching
//! its logs — goes through its [`Host`], so a host of another kind (a machine
//! over SSH) is one more implementation of this trait.
//!
//! - [`Local`]: this machine, on loopback.
//! - [`Namespace`]: this machine, inside one network namespace (`ip netns
//!   exec`), with its own address on the run's private bridge.

mod local;
mod namespace;

pub use local::Local;
pub use namespace::Namespace;

use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// What went wrong on a host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A program could not be started.
    #[error("{host}: cannot run {program}: {source}")]
    Spawn {
        /// The host.
        host: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("{host}: {command}: {stderr}")]
    Failed {
        /// The host.
        host: String,
        /// The command line.
        command: String,
        /// What it said.
        stderr: String,
    },
    /// A command did not finish in time (and was killed).
    #[error("{host}: {command}: no answer within {timeout_s} s")]
    Timeout {
        /// The host.
        host: String,
        /// The command line.
        command: String,
        /// The limit.
        timeout_s: f64,
    },
    /// A file could not be written or read.
    #[error("{host}: {}: {source}", path.display())]
    File {
        /// The host.
        host: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A long-running process to start on a host.
pub struct Spawn<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// Extra environment.
    pub environment: &'a BTreeMap<String, String>,
    /// Where its stdout and stderr are appended.
    pub log: &'a Path,
}

/// Where a node's processes run.
pub trait Host: Send + Sync {
    /// The host in messages (`localhost`, `netns faultline-12-n1`).
    fn name(&self) -> String;
    /// The address a node on it listens on and its peers reach it at.
    fn address(&self) -> Ipv4Addr;
    /// Starts a long-running process in a process group of its own, so that
    /// signals reach everything it starts.
    ///
    /// # Errors
    /// The program cannot be started.
    fn spawn(&self, spawn: &Spawn) -> Result<Child, HostError>;
    /// Sends `signal` to the process group led by `pid`.
    fn signal_group(&self, pid: u32, signal: Signal);
    /// Runs a command to its end, with `input` on its stdin, killed after
    /// `timeout`; returns its stdout.
    ///
    /// # Errors
    /// It could not start, failed (its stderr in the error) or timed out.
    fn run(
        &self,
        argv: &[String],
        input: Option<&str>,
        timeout: Duration,
    ) -> Result<String, HostError>;
    /// Writes `bytes` to `path` on the host, atomically: a reader sees the old
    /// file or the new one, never half.
    ///
    /// # Errors
    /// The file cannot be written.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), HostError>;
    /// Copies `path` on the host to `local` on the controller.
    ///
    /// # Errors
    /// The file cannot be read or written.
    fn fetch_file(&self, path: &Path, local: &Path) -> Result<(), HostError>;
}

/// Runs `command` to its end within `timeout` (polling, so the caller's
/// thread — never the clients' runtime — waits), feeding it `input`. It runs
/// in a process group of its own, so that at the timeout everything it
/// started is killed with it; output that processes it left behind keep open
/// is waited for no longer than the timeout either.
pub(crate) fn run_bounded(
    host: &str,
    mut command: std::process::Command,
    input: Option<&str>,
    timeout: Duration,
) -> Result<String, HostError> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let line = format!("{command:?}").replace('"', "");
    command
        .process_group(0)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| HostError::Spawn {
        host: host.to_string(),
        program: line.clone(),
        source,
    })?;
    // Every pipe on its own thread, so that neither a chatty command nor one
    // that does not read its input can block this one past the deadline.
    let deadline = std::time::Instant::now() + timeout;
    let stdout = child.stdout.take().map(read_all_in_background);
    let stderr = child.stderr.take().map(read_all_in_background);
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_string();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                signal_local_group(child.id(), Signal::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let collect = |reader: Option<std::sync::mpsc::Receiver<Vec<u8>>>| {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        reader
            .and_then(|reader| {
                reader
                    .recv_timeout(left.max(Duration::from_millis(100)))
                    .ok()
            })
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    match status {
        None => Err(HostError::Timeout {
            host: host.to_string(),
            command: line,
            timeout_s: timeout.as_secs_f64(),
        }),
        Some(status) if status.success() => Ok(stdout),
        Some(_) => Err(HostError::Failed {
            host: host.to_string(),
            command: line,
            stderr: stderr.trim().to_string(),
        }),
    }
}

/// Reads `pipe` to its end on a thread of its own; the bytes arrive on the
/// channel (a reader still blocked when the caller gives up ends with the pipe).
fn read_all_in_background(
    mut pipe: impl std::io::Read + Send + 'static,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    receiver
}

/// Starts `command` as a node process: its own process group, output
/// appended to `log`.
pub(crate) fn spawn_logged(
    host: &str,
    mut command: std::process::Command,
    spawn: &Spawn,
) -> Result<Child, HostError> {
    use std::os::unix::process::CommandExt;
    let file_error = |source| HostError::File {
        host: host.to_string(),
        path: spawn.log.to_path_buf(),
        source,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spawn.log)
        .map_err(file_error)?;
    let log_err = log.try_clone().map_err(file_error)?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .envs(spawn.environment);
    command.spawn().map_err(|source| HostError::Spawn {
        host: host.to_string(),
        program: spawn.argv.first().cloned().unwrap_or_default(),
        source,
    })
}

/// Writes `bytes` beside `path` and renames it into place.
pub(crate) fn write_atomically(host: &str, path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    crate::files::write_atomically(path, bytes).map_err(|source| HostError::File {
        host: host.to_string(),
        path: path.to_path_buf(),
        source,
    })
}

/// Copies a file of this machine's.
pub(crate) fn copy_local(host: &str, path: &Path, local: &Path) -> Result<(), HostError> {
    std::fs::copy(path, local)
        .map(|_| ())
        .map_err(|source| HostError::File {
            host: host.to_string(),
            path: path.to_path_buf(),
            source,
        })
}

/// Sends `signal` to a local process group.
pub(crate) fn signal_local_group(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn local_commands_run_bounded_and_report_failures() {
        let host = Local;
        assert_eq!(
            host.run(&words("cat"), Some("hello"), Duration::from_secs(5))
                .unwrap(),
            "hello"
        );
        let failed = host
            .run(&words("sh -c false"), None, Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(failed, HostError::Failed { .. }), "{failed}");
        let started = std::time::Instant::now();
        let slow = host
            .run(&words("sleep 10"), None, Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(slow, HostError::Timeout { .. }), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // A command whose own children hold its output open is still bounded.
        let started = std::time::Instant::now();
        let forked = host
            .run(
                &[
                    "sh".to_string(),
                    "-c".to_string(),
                    "sleep 10 & sleep 10".to_string(),
                ],
                None,
                Duration::from_millis(200),
            )
            .unwrap_err();
        assert!(matches!(forked, HostError::Timeout { .. }), "{forked}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = host
            .run(&words("/nonexistent/program"), None, Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(missing, HostError::Spawn { .. }), "{missing}");
    }

    #[test]
    fn files_are_written_whole_and_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let host = Local;
        let path = dir.path().join("clock");
        host.write_file(&path, b"+1.000\n").unwrap();
        host.write_file(&path, b"-2.500\n").unwrap();
        let copy = dir.path().join("copy");
        host.fetch_file(&path, &copy).unwrap();
        assert_eq!(std::fs::read_to_string(copy).unwrap(), "-2.500\n");
        // Nothing staged is left beside them.
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["clock", "copy"]);
    }
}
