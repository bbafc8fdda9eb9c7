//! One line of a history: an [`Event`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Jepsen's `:type`: what an event says about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The operation was sent; its outcome is not known yet.
    Invoke,
    /// The operation definitely happened.
    Ok,
    /// The operation definitely did not happen.
    Fail,
    /// Unknown: the operation may take effect at any later time, or never.
    Info,
}

impl EventType {
    /// The lowercase name used in every format (`invoke`, `ok`, `fail`, `info`).
    pub fn name(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }

    /// Parses a lowercase type name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "invoke" => Some(EventType::Invoke),
            "ok" => Some(EventType::Ok),
            "fail" => Some(EventType::Fail),
            "info" => Some(EventType::Info),
            _ => None,
        }
    }
}

/// Who issued an event: a logical, single-threaded client, or the nemesis.
///
/// Serialized as Jepsen writes it: an integer, or the string `"nemesis"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    /// A client process. A process whose operation ended in `info` is retired;
    /// a fresh id takes its place.
    Client(u64),
    /// The fault injector. Its events are not operations on the system under test.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(id) => write!(formatter, "p{id}"),
            Process::Nemesis => formatter.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(id) => serializer.serialize_u64(*id),
            Process::Nemesis => serializer.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl serde::de::Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a non-negative integer or \"nemesis\"")
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Process, E> {
                Ok(Process::Client(value))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Process, E> {
                u64::try_from(value)
                    .map(Process::Client)
                    .map_err(|_| E::custom("a process id must not be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Process, E> {
                if value == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
                }
            }
        }
        deserializer.deserialize_any(ProcessVisitor)
    }
}

/// One line of a history, with Jepsen's field names.
///
/// Reads are invoked with a `null` value and completed with what they read; a
/// compare-and-set's value is `[old, new]`; a transaction's value is a list of
/// micro-operations such as `["append", "x", 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, dense from 0 in histories faultline writes.
    pub index: u64,
    /// Nanoseconds since the run started, from one monotonic clock.
    #[serde(rename = "time")]
    pub time_ns: i64,
    /// What the event says about its operation.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The logical client, or the nemesis.
    pub process: Process,
    /// The operation's function, e.g. `read`, `write`, `cas`, `txn`, `start-partition`.
    pub f: String,
    /// The key, for histories over many independent keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument and/or the result.
    #[serde(default)]
    pub value: Value,
    /// Why an operation failed or became indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}
