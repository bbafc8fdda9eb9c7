//! chain-kv: a key-value store replicated by chain replication (van Renesse &
//! Schneider, OSDI 2004).
//!
//! Writes and compare-and-sets enter at the head, which orders them; each node
//! logs an update (write-ahead, group commit, fsync) and passes it on; the tail's
//! log is the commit point, and the acknowledgement travels back up the chain to
//! the head, which then answers the client. Reads are served by the tail. A
//! configuration master (a role of the same binary) hears every node's heartbeat,
//! removes a node that falls silent — head, middle or tail — and appends a node
//! that comes back at the tail, where its predecessor brings it up to date (a
//! snapshot, then the updates that follow). A node serves clients only while it
//! holds a lease from the master, timed on its monotonic clock and shorter than
//! the master's failure timeout, so a node the master has removed has already
//! stopped serving. Any node accepts any request and forwards it to the head or
//! the tail.
//!
//! The node knows nothing of faultline: it binds the address it is given and
//! reaches its peers at the addresses it is given.

mod master;
mod replica;
pub mod wire;

pub use master::run_master;
pub use replica::run_replica;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How often nodes send heartbeats to the master.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);
/// A node serves clients only this long after the master last answered it.
pub const LEASE: Duration = Duration::from_millis(500);
/// The master removes a node silent for this long. Longer than [`LEASE`], so a
/// removed node has already stopped serving.
pub const FAILURE_TIMEOUT: Duration = Duration::from_millis(1000);

/// A planted bug, off unless named with `--bug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The head answers reads itself, from a copy of its committed state that it
    /// refreshes every 10 ms: stale reads under concurrency, no fault needed.
    ReadFromHead,
    /// The head acknowledges a write once it has logged it, before the tail has:
    /// acknowledged writes are lost when the head crashes (and reads at the tail
    /// can miss acknowledged writes).
    AckBeforeTail,
    /// The tail's read lease is a wall-clock deadline from the master compared
    /// with the node's own wall clock: with its clock set back, a tail the master
    /// has removed keeps serving reads: stale reads under clock skew.
    LeaseReads,
    /// The log is not flushed or synced before acknowledging: acknowledged writes
    /// are lost when every node is killed.
    NoFsync,
}

impl Bug {
    /// Every bug's name.
    pub const NAMES: &'static [&'static str] = &[
        "read-from-head",
        "ack-before-tail",
        "lease-reads",
        "no-fsync",
    ];

    /// Parses a bug's name.
    pub fn from_name(name: &str) -> Option<Bug> {
        match name {
            "read-from-head" => Some(Bug::ReadFromHead),
            "ack-before-tail" => Some(Bug::AckBeforeTail),
            "lease-reads" => Some(Bug::LeaseReads),
            "no-fsync" => Some(Bug::NoFsync),
            _ => None,
        }
    }
}

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id (`master` for the master).
    pub id: String,
    /// Every node's address by id, the master's under `master`. Peers are
    /// reached exactly at these addresses.
    pub peers: BTreeMap<String, String>,
    /// Where the write-ahead log lives.
    pub data_dir: PathBuf,
    /// A planted bug.
    pub bug: Option<Bug>,
}

impl NodeConfig {
    /// The ids of the chain's nodes, in order (everything but the master).
    pub fn replicas(&self) -> Vec<String> {
        self.peers
            .keys()
            .filter(|id| id.as_str() != "master")
            .cloned()
            .collect()
    }
}

/// A reqwest client for calls between nodes, with connection pooling.
fn peer_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(64)
        // Peers are reached directly, whatever proxy the environment names.
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}
