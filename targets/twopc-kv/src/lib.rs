//! twopc-kv: a sharded key-value store whose transactions commit by two-phase
//! commit.
//!
//! Every node owns a shard of the keys (by a hash of the key) and is both a
//! participant, for its shard, and a coordinator, for the requests clients send
//! it. A transaction's micro-operations go to the participants owning their keys
//! in a *prepare*: each takes its locks (shared for reads, exclusive for writes;
//! a conflict makes it vote no at once rather than wait), evaluates its reads,
//! cas comparisons and the values it will write, logs a durable prepare record
//! and votes. If every vote is yes the coordinator logs *commit* before telling
//! anyone, else *abort*; participants apply or discard, log it, and release their
//! locks. A participant that prepared and then crashed, or that waits too long
//! for the decision, is *in doubt*: it keeps its locks and asks the coordinator,
//! which answers from its log. A coordinator that has no record of a transaction
//! it is not running answers *abort* and logs it (presumed abort), so a
//! transaction whose coordinator crashed before deciding is aborted everywhere.
//! Single-key reads, writes and cas are one-shard transactions.

mod node;
pub mod wire;

pub use node::run_node;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A planted bug, off unless named with `--bug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The coordinator commits when a vote times out, as if it were yes:
    /// atomicity broken under partitions (a shard never applies its part).
    CommitOnPartialVotes,
    /// Participants keep prepare records only in memory: after a crash they
    /// forget a prepared transaction and acknowledge its commit without applying
    /// it.
    NoDurablePrepare,
    /// Reads see other transactions' prepared, undecided writes (and take no
    /// lock): aborted and intermediate reads.
    ReadUncommitted,
    /// Reads take no locks: write skew (G2).
    UnlockedReads,
}

impl Bug {
    /// Every bug's name.
    pub const NAMES: &'static [&'static str] = &[
        "commit-on-partial-votes",
        "no-durable-prepare",
        "read-uncommitted",
        "unlocked-reads",
    ];

    /// Parses a bug's name.
    pub fn from_name(name: &str) -> Option<Bug> {
        match name {
            "commit-on-partial-votes" => Some(Bug::CommitOnPartialVotes),
            "no-durable-prepare" => Some(Bug::NoDurablePrepare),
            "read-uncommitted" => Some(Bug::ReadUncommitted),
            "unlocked-reads" => Some(Bug::UnlockedReads),
            _ => None,
        }
    }
}

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id.
    pub id: String,
    /// Every node's address by id, this one's included. Peers are reached
    /// exactly at these addresses.
    pub peers: BTreeMap<String, String>,
    /// Where the write-ahead log lives.
    pub data_dir: PathBuf,
    /// A planted bug.
    pub bug: Option<Bug>,
}

/// The node owning `key`: FNV-1a of the key over the sorted node ids.
pub fn shard_of<'a>(key: &str, nodes: &'a [String]) -> &'a str {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    &nodes[(hash % nodes.len() as u64) as usize]
}
