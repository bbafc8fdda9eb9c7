//! Operations as typed values: what a client is asked to do. The history
//! records each as Jepsen's `f` and `value` ([`Op::f`], [`Op::value`]), so a
//! history reads the same whatever produced it.

use serde_json::{Value, json};

/// One operation to invoke.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Read a key.
    Read {
        /// The key.
        key: String,
    },
    /// Write a value to a key.
    Write {
        /// The key.
        key: String,
        /// The value (unique per workload).
        value: Value,
    },
    /// Set a key to `to` if it holds `from` (`null`: absent).
    Cas {
        /// The key.
        key: String,
        /// The value expected.
        from: Value,
        /// The value written.
        to: Value,
    },
    /// A transaction of micro-operations, all or nothing.
    Txn {
        /// In order.
        mops: Vec<Mop>,
    },
}

/// A micro-operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Mop {
    /// Read a key (a list, or a register).
    Read {
        /// The key.
        key: String,
    },
    /// Append a value to a key's list.
    Append {
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
    /// Write a register.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: Value,
    },
}

impl Mop {
    /// As Elle writes it: `["r", k, null]`, `["append", k, v]`, `["w", k, v]`.
    pub fn to_json(&self) -> Value {
        match self {
            Mop::Read { key } => json!(["r", key, null]),
            Mop::Append { key, value } => json!(["append", key, value]),
            Mop::Write { key, value } => json!(["w", key, value]),
        }
    }
}

impl Op {
    /// For tests: `read`, `write` (value) or `cas` (`[from, to]`) on `key`.
    #[cfg(test)]
    pub(crate) fn sample(f: &str, key: &str, value: Value) -> Op {
        let key = key.to_string();
        match f {
            "read" => Op::Read { key },
            "write" => Op::Write { key, value },
            _ => Op::Cas {
                key,
                from: value[0].clone(),
                to: value[1].clone(),
            },
        }
    }

    /// The history's `f`.
    pub fn f(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::Cas { .. } => "cas",
            Op::Txn { .. } => "txn",
        }
    }

    /// The key the history records: none for a transaction.
    pub fn key(&self) -> Option<&str> {
        match self {
            Op::Read { key } | Op::Write { key, .. } | Op::Cas { key, .. } => Some(key),
            Op::Txn { .. } => None,
        }
    }

    /// The invocation's `value`: `null` for reads, the value for writes,
    /// `[from, to]` for cas, the micro-operations for a transaction.
    pub fn value(&self) -> Value {
        match self {
            Op::Read { .. } => Value::Null,
            Op::Write { value, .. } => value.clone(),
            Op::Cas { from, to, .. } => json!([from, to]),
            Op::Txn { mops } => Value::Array(mops.iter().map(Mop::to_json).collect()),
        }
    }

    /// Whether it only reads: then an unknown outcome changes nothing, and is
    /// recorded as a failure (Jepsen does the same).
    pub fn read_only(&self) -> bool {
        match self {
            Op::Read { .. } => true,
            Op::Txn { mops } => mops.iter().all(|mop| matches!(mop, Mop::Read { .. })),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_recorded_as_jepsen_writes_them() {
        let cas = Op::Cas {
            key: "k1".into(),
            from: Value::Null,
            to: json!(5),
        };
        assert_eq!(
            (cas.f(), cas.key(), cas.value()),
            ("cas", Some("k1"), json!([null, 5]))
        );
        let txn = Op::Txn {
            mops: vec![
                Mop::Append {
                    key: "x".into(),
                    value: json!(1),
                },
                Mop::Read { key: "y".into() },
            ],
        };
        assert_eq!(txn.value(), json!([["append", "x", 1], ["r", "y", null]]));
        assert_eq!(txn.key(), None);
        assert!(!txn.read_only());
        assert!(
            Op::Txn {
                mops: vec![Mop::Read { key: "y".into() }]
            }
            .read_only()
        );
        assert!(Op::Read { key: "k".into() }.read_only());
    }
}
