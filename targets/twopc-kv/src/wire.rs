//! Messages between coordinators and participants, and log records.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A micro-operation as participants see it: reads, writes, appends, and the
/// cas of single-key requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Read a key.
    Read(String),
    /// Write a value.
    Write(String, Value),
    /// Append a value to a key's list.
    Append(String, Value),
    /// Set `to` if the key holds `from`.
    Cas(String, Value, Value),
}

impl Op {
    /// The key.
    pub fn key(&self) -> &str {
        match self {
            Op::Read(key) | Op::Write(key, _) | Op::Append(key, _) | Op::Cas(key, _, _) => key,
        }
    }
}

/// Phase one, to one participant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepare {
    /// The transaction.
    pub tx: String,
    /// Its coordinator, asked by a participant in doubt.
    pub coordinator: String,
    /// The operations on this participant's keys, with their positions in the
    /// transaction.
    pub ops: Vec<(usize, Op)>,
}

/// A participant's vote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vote {
    /// Whether it can commit.
    pub yes: bool,
    /// Why not: `conflict` or `precondition-failed`.
    pub reason: Option<String>,
    /// What the reads returned, by position in the transaction.
    pub reads: Vec<(usize, Value)>,
}

/// Phase two, and the decisions coordinators give participants in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Apply.
    Commit,
    /// Discard.
    Abort,
    /// Not decided yet (the coordinator is still running it).
    Pending,
}

/// A record of a node's write-ahead log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// A participant prepared: its locks and the values it will write.
    Prepared {
        /// The transaction.
        tx: String,
        /// Its coordinator.
        coordinator: String,
        /// The keys it read (locked shared).
        reads: Vec<String>,
        /// The values it will write (locked exclusive).
        writes: Vec<(String, Value)>,
    },
    /// A participant applied a committed transaction's writes.
    Committed {
        /// The transaction.
        tx: String,
        /// The values written.
        writes: Vec<(String, Value)>,
    },
    /// A participant discarded a transaction.
    Aborted {
        /// The transaction.
        tx: String,
    },
    /// A coordinator's decision, logged before anyone is told.
    Decided {
        /// The transaction.
        tx: String,
        /// Commit or abort.
        commit: bool,
    },
}
