//! Transactions as the checker sees them: each `txn` operation of a history,
//! its micro-operations, how it ended.

use histories::{History, Outcome};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::fmt;

/// A key or a value, hashable: integers and strings as themselves, anything
/// else by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// Any other JSON value, as text.
    Other(String),
}

impl fmt::Display for Atom {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(number) => write!(formatter, "{number}"),
            Atom::Text(text) => write!(formatter, "{text:?}"),
            Atom::Other(text) => formatter.write_str(text),
        }
    }
}

/// A key or a value, interned: its number in the history's [`Atoms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtomId(u32);

/// The keys and values of a history's transactions, each stored once:
/// micro-operations name them by [`AtomId`], so that comparing, hashing and
/// copying them costs what an integer does.
#[derive(Debug, Default)]
pub struct Atoms {
    atoms: Vec<Atom>,
    integers: FxHashMap<i64, AtomId>,
    texts: FxHashMap<Box<str>, AtomId>,
    others: FxHashMap<String, AtomId>,
}

impl Atoms {
    /// The number of `value`, interning it if it is new.
    fn intern(&mut self, value: &Value) -> AtomId {
        let next = AtomId(self.atoms.len() as u32);
        let atom = match value {
            Value::Number(number) if number.is_i64() => {
                let number = number.as_i64().expect("checked i64");
                if let Some(&id) = self.integers.get(&number) {
                    return id;
                }
                self.integers.insert(number, next);
                Atom::Int(number)
            }
            Value::String(text) => {
                if let Some(&id) = self.texts.get(text.as_str()) {
                    return id;
                }
                self.texts.insert(text.as_str().into(), next);
                Atom::Text(text.clone())
            }
            other => {
                let text = other.to_string();
                if let Some(&id) = self.others.get(&text) {
                    return id;
                }
                self.others.insert(text.clone(), next);
                Atom::Other(text)
            }
        };
        self.atoms.push(atom);
        next
    }

    /// The key or value `id` names.
    pub fn get(&self, id: AtomId) -> &Atom {
        &self.atoms[id.0 as usize]
    }

    /// `[1 2 3]`: a list read, as the explanations print it.
    pub fn list(&self, list: &[AtomId]) -> String {
        let items: Vec<String> = list.iter().map(|&id| self.get(id).to_string()).collect();
        format!("[{}]", items.join(" "))
    }

    /// Sorts ids as their atoms sort (integers numerically, then texts).
    pub fn sort(&self, ids: &mut [AtomId]) {
        ids.sort_unstable_by(|a, b| self.get(*a).cmp(self.get(*b)));
    }
}

/// What a micro-operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MopKind {
    /// `["r", k, v]`: reads `k`; `v` is what it read (`null` before completion).
    Read,
    /// `["append", k, v]`: appends `v` to the list at `k`.
    Append,
    /// `["w", k, v]`: writes `v` to the register `k`.
    Write,
}

/// One micro-operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mop {
    /// What it does.
    pub kind: MopKind,
    /// The key.
    pub key: AtomId,
    /// The value appended or written.
    pub value: Option<AtomId>,
    /// What a read returned: the list (list-append) or the value (`None`:
    /// unknown; `Some(empty)` for a register that held nothing).
    pub read: Option<Vec<AtomId>>,
}

/// A transaction: one `txn` operation.
#[derive(Debug, Clone)]
pub struct Txn {
    /// Its position in [`History::operations`].
    pub operation: usize,
    /// The client process.
    pub process: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its micro-operations: the completion's for an `ok` transaction (reads
    /// filled in), the invocation's otherwise.
    pub mops: Vec<Mop>,
    /// The history position of its invocation.
    pub invoke: usize,
    /// The history position of its completion, if it completed.
    pub completion: Option<usize>,
    /// The 1-based source line of its invocation.
    pub line: usize,
}

/// Why a history cannot be read as transactions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct TxnError {
    /// The history file.
    pub file: String,
    /// The line of the offending event.
    pub line: usize,
    /// What was wrong, and what was expected.
    pub reason: String,
}

/// Reads every client operation of `history` as a transaction; the keys and
/// values they name are in the [`Atoms`] returned with them.
///
/// # Errors
/// An operation that is not `txn`, or a micro-operation that is not
/// `[f, key, value]` with `f` one of `r`, `append`, `w`.
pub fn transactions(history: &History) -> Result<(Vec<Txn>, Atoms), TxnError> {
    let mut atoms = Atoms::default();
    let mut txns = Vec::with_capacity(history.operations.len());
    for (index, operation) in history.operations.iter().enumerate() {
        let invocation = history.invocation(operation);
        let error = |position: usize, reason: String| TxnError {
            file: history.file.clone(),
            line: history.line(position),
            reason,
        };
        if invocation.f != "txn" {
            return Err(error(
                operation.invoke,
                format!(
                    "operation {:?} is not a transaction; expected f = \"txn\" with a list of micro-operations",
                    invocation.f
                ),
            ));
        }
        let (value, position) = match (operation.outcome, operation.completion) {
            (Outcome::Ok, Some(completion)) => (&history.events[completion].value, completion),
            _ => (&invocation.value, operation.invoke),
        };
        let mops = parse_mops(&mut atoms, value, operation.outcome == Outcome::Ok)
            .map_err(|reason| error(position, reason))?;
        let histories::Process::Client(process) = invocation.process else {
            unreachable!("operations are client operations")
        };
        txns.push(Txn {
            operation: index,
            process,
            outcome: operation.outcome,
            mops,
            invoke: operation.invoke,
            completion: operation.completion,
            line: history.line(operation.invoke),
        });
    }
    Ok((txns, atoms))
}

fn parse_mops(atoms: &mut Atoms, value: &Value, completed: bool) -> Result<Vec<Mop>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "a transaction's value must be a list of micro-operations such as [[\"append\", \"x\", 1], [\"r\", \"y\", null]], not {value}"
        ));
    };
    items
        .iter()
        .map(|item| parse_mop(atoms, item, completed))
        .collect()
}

fn parse_mop(atoms: &mut Atoms, item: &Value, completed: bool) -> Result<Mop, String> {
    let shape = || {
        format!(
            "micro-operation {item}: expected [f, key, value] with f one of \"r\", \"append\", \"w\""
        )
    };
    let Value::Array(parts) = item else {
        return Err(shape());
    };
    let [f, key, value] = parts.as_slice() else {
        return Err(shape());
    };
    let f = f.as_str().ok_or_else(shape)?;
    let kind = match f.strip_prefix(':').unwrap_or(f) {
        "r" | "read" => MopKind::Read,
        "append" => MopKind::Append,
        "w" | "write" => MopKind::Write,
        _ => return Err(shape()),
    };
    let key = atoms.intern(key);
    Ok(match kind {
        MopKind::Read => Mop {
            kind,
            key,
            value: None,
            read: if completed {
                Some(match value {
                    Value::Null => Vec::new(),
                    Value::Array(elements) => elements
                        .iter()
                        .map(|element| atoms.intern(element))
                        .collect(),
                    single => vec![atoms.intern(single)],
                })
            } else {
                None
            },
        },
        _ => {
            if value.is_null() {
                return Err(format!("micro-operation {item}: a {f} needs a value"));
            }
            Mop {
                kind,
                key,
                value: Some(atoms.intern(value)),
                read: None,
            }
        }
    })
}
