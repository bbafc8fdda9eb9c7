//! What the bundled stores share: a write-ahead log with group commit
//! ([`wal`]), the one place wall-clock time is read ([`clock`]), and HTTP helpers
//! ([`http`]). The stores know nothing of faultline's harness.
#![deny(missing_docs)]

pub mod clock;
pub mod http;
pub mod wal;

use std::collections::BTreeMap;

/// Background tasks that end with their owner: dropping the guard aborts them,
/// also when the owner's future is itself dropped mid-flight.
#[derive(Default)]
pub struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Tasks {
    /// Starts `task` in the background.
    pub fn spawn(&mut self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.push(tokio::spawn(task));
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Parses `--peers id=host:port,id=host:port,…`.
///
/// # Errors
/// A message naming the entry that is not `id=host:port`.
pub fn parse_peers(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((id, address)) if !id.is_empty() && address.contains(':') => {
                Ok((id.trim().to_string(), address.trim().to_string()))
            }
            _ => Err(format!("peer {entry:?} is not id=host:port")),
        })
        .collect()
}
