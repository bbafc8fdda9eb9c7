//! Clock skew per node through libfaketime, never touching the real clock.
//!
//! Each node starts with libfaketime preloaded and its own timestamp file; the
//! nemesis rewrites the file and the node's wall clock moves at once (the file
//! is re-read on every call). Monotonic time is left alone: tokio's timers run
//! on it and hang after a backward jump, and real clock steps never move it
//! either. It works only for dynamically linked programs that read the clock
//! through libc — the bundled nodes, not Go or static binaries.

use crate::host::{Host, HostError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Debian and others put the library.
const CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

/// The variable that overrides where libfaketime is.
pub const LIBRARY_VARIABLE: &str = "FAULTLINE_LIBFAKETIME";

/// Clock faults cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// libfaketime is not where the variable says.
    #[error("clock faults need libfaketime, which is not at {} ({LIBRARY_VARIABLE})", .0.display())]
    NotAt(PathBuf),
    /// libfaketime is not installed.
    #[error(
        "clock faults need libfaketime, which was not found (apt-get install faketime, or set {LIBRARY_VARIABLE})"
    )]
    Missing,
    /// The directory of the clock files cannot be made.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A clock file cannot be written on its host.
    #[error(transparent)]
    File(#[from] HostError),
}

/// Finds libfaketime.
///
/// # Errors
/// Not installed, or not where [`LIBRARY_VARIABLE`] says.
pub fn library() -> Result<PathBuf, ClockError> {
    if let Some(path) = std::env::var_os(LIBRARY_VARIABLE).map(PathBuf::from) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ClockError::NotAt(path))
        };
    }
    CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or(ClockError::Missing)
}

/// The timestamp files of a run's nodes, each written on its node's host.
pub struct Clocks {
    library: PathBuf,
    dir: PathBuf,
    hosts: std::sync::Mutex<BTreeMap<String, Arc<dyn Host>>>,
}

impl Clocks {
    /// Clocks with their files in `dir`.
    ///
    /// # Errors
    /// No libfaketime, or `dir` cannot be made.
    pub fn new(dir: &Path) -> Result<Clocks, ClockError> {
        let library = library()?;
        std::fs::create_dir_all(dir).map_err(|source| ClockError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Clocks {
            library,
            dir: dir.to_path_buf(),
            hosts: Default::default(),
        })
    }

    fn file(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.faketime"))
    }

    /// The environment that starts `node` on `host` with its own clock (at
    /// offset 0 the first time).
    ///
    /// # Errors
    /// The timestamp file cannot be written.
    pub fn environment(
        &self,
        node: &str,
        host: Arc<dyn Host>,
    ) -> Result<BTreeMap<String, String>, ClockError> {
        self.hosts
            .lock()
            .expect("clock hosts lock")
            .insert(node.to_string(), host);
        if !self.file(node).exists() {
            self.set(node, 0.0)?;
        }
        Ok([
            ("LD_PRELOAD", self.library.display().to_string()),
            (
                "FAKETIME_TIMESTAMP_FILE",
                self.file(node).display().to_string(),
            ),
            ("FAKETIME_NO_CACHE", "1".to_string()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect())
    }

    /// Sets `node`'s wall clock `offset_s` seconds from the real one.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn set(&self, node: &str, offset_s: f64) -> Result<(), ClockError> {
        // Written whole (aside and renamed), so a node never reads half a file.
        let host = self
            .hosts
            .lock()
            .expect("clock hosts lock")
            .get(node)
            .cloned()
            .unwrap_or_else(|| Arc::new(crate::host::Local));
        host.write_file(&self.file(node), format!("{offset_s:+.3}\n").as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real process under libfaketime sees the offset, and then a new one
    /// without restarting (skipped where libfaketime is not installed).
    #[test]
    fn a_node_clock_moves_when_its_file_changes() {
        if library().is_err() {
            eprintln!("libfaketime not installed; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let clocks = Clocks::new(dir.path()).unwrap();
        let environment = clocks
            .environment("n1", Arc::new(crate::host::Local))
            .unwrap();
        // One process, two readings, the file rewritten between them.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "date +%s; read line; date +%s"])
            .envs(&environment)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        clocks.set("n1", -3600.0).unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let output = child.wait_with_output().unwrap();
        let readings: Vec<i64> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| line.trim().parse().unwrap())
            .collect();
        let real = chrono::Utc::now().timestamp();
        assert!((readings[0] - real).abs() < 30, "offset 0: {readings:?}");
        assert!(
            (readings[1] - (real - 3600)).abs() < 30,
            "offset -1 h: {readings:?}"
        );
    }
}
