//! Messages between chain nodes and the master.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The chain, as the master configures it. Epochs only grow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChainConfig {
    /// Bumped at every change.
    pub epoch: u64,
    /// Node ids, head first, tail last.
    pub chain: Vec<String>,
    /// The epoch at which each member last joined: a node that sees a later one
    /// than it knew was removed and re-added, perhaps without noticing.
    #[serde(default)]
    pub joined: BTreeMap<String, u64>,
}

impl ChainConfig {
    /// The node after `id`, if `id` is in the chain and not its tail.
    pub fn successor(&self, id: &str) -> Option<&str> {
        let position = self.chain.iter().position(|member| member == id)?;
        self.chain.get(position + 1).map(String::as_str)
    }

    /// The node before `id`.
    pub fn predecessor(&self, id: &str) -> Option<&str> {
        let position = self.chain.iter().position(|member| member == id)?;
        position
            .checked_sub(1)
            .map(|before| self.chain[before].as_str())
    }

    /// The head.
    pub fn head(&self) -> Option<&str> {
        self.chain.first().map(String::as_str)
    }

    /// The tail.
    pub fn tail(&self) -> Option<&str> {
        self.chain.last().map(String::as_str)
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: &str) -> bool {
        self.chain.iter().any(|member| member == id)
    }
}

/// A node's heartbeat to the master.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The node.
    pub id: String,
    /// The last update it has logged.
    pub last_seq: u64,
    /// The epoch of the configuration it holds.
    #[serde(default)]
    pub epoch: u64,
    /// Whether it still waits for its predecessor's snapshot. Meaningful only
    /// once `epoch` covers its latest join (a restarted node starts from epoch 0).
    #[serde(default)]
    pub joining: bool,
}

/// The master's answer: the configuration and the node's read lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The current chain.
    pub config: ChainConfig,
    /// The lease's end on the master's wall clock (used only by the
    /// `lease-reads` bug; correct nodes time leases on their monotonic clock).
    pub lease_until_ms: u64,
}

/// One update in the chain's order: the key's new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// Position in the chain's total order, from 1.
    pub seq: u64,
    /// The key.
    pub key: String,
    /// Its new value.
    pub value: Value,
}

/// A node's whole state at `seq`, for a node that joins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last update it includes.
    pub seq: u64,
    /// Every key's value.
    pub data: BTreeMap<String, Value>,
}

/// Updates (or a snapshot) sent down the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    /// The sender's configuration.
    pub config: ChainConfig,
    /// The sender.
    pub from: String,
    /// The sender's last logged update when it sent this.
    pub sender_last_seq: u64,
    /// A full state to install first, for a node that is behind.
    pub snapshot: Option<Snapshot>,
    /// Updates in order.
    pub updates: Vec<Update>,
}

/// The answer to a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchReply {
    /// The receiver's last logged update.
    pub last_seq: u64,
    /// Whether it is joining and must be sent a snapshot first.
    pub needs_snapshot: bool,
    /// The last update the whole chain from the receiver down has logged.
    pub acked_seq: u64,
}

/// What a node says of itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The node.
    pub id: String,
    /// Its last logged update.
    pub last_seq: u64,
    /// Whether it is joining and must be sent a snapshot first.
    pub needs_snapshot: bool,
    /// Its configuration.
    pub config: ChainConfig,
}

/// A record of the write-ahead log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LogRecord {
    /// An update, logged in order.
    Update(Update),
    /// A snapshot installed on joining: replaces everything before it.
    Snapshot(Snapshot),
}
