//! Read-write registers with unique written values. A read names the one
//! transaction that wrote its value; the version order is only partly known:
//! the initial (absent) version comes first, and a transaction that read a
//! version and then wrote the key installed its write right after it (Elle's
//! "writes follow reads"). Sound, not complete: a cycle found is real.

use super::graph::{Graph, RW, WR, WW};
use super::parse::{Atom, MopKind, Txn, TxnError};
use super::{Found, Observation};
use histories::Outcome;
use rustc_hash::FxHashMap;

/// A register's value: `None` is the initial, absent one.
type Version = Option<Atom>;

fn text(version: &Version) -> String {
    version
        .as_ref()
        .map_or_else(|| "nil".to_string(), ToString::to_string)
}

/// What the history says of each register.
#[derive(Debug, Default)]
pub struct Registers {
    writer: FxHashMap<(Atom, Atom), usize>,
    /// Each transaction's external reads: key → version read.
    external: Vec<FxHashMap<Atom, Version>>,
    /// Each transaction's last write to each key.
    last_write: Vec<FxHashMap<Atom, Atom>>,
}

impl Registers {
    /// Why `from → to` holds with `kind`, in words.
    pub fn why(
        &self,
        _txns: &[Txn],
        from: usize,
        to: usize,
        kind: u8,
        name: &dyn Fn(usize) -> String,
    ) -> Option<(Atom, String)> {
        let (a, b) = (name(from), name(to));
        match kind {
            WW => self.last_write[to].iter().find_map(|(key, value)| {
                let read = self.external[to].get(key)?.as_ref()?;
                (self.writer.get(&(key.clone(), read.clone())) == Some(&from)).then(|| {
                    (
                        key.clone(),
                        format!("{b} read key {key} = {read}, written by {a}, and then overwrote it with {value}"),
                    )
                })
            }),
            WR => self.external[to].iter().find_map(|(key, version)| {
                let value = version.as_ref()?;
                (self.writer.get(&(key.clone(), value.clone())) == Some(&from))
                    .then(|| (key.clone(), format!("{b} read key {key} = {value}, written by {a}")))
            }),
            RW => self.external[from].iter().find_map(|(key, version)| {
                let value = self.last_write[to].get(key)?;
                let follows = version.is_none()
                    || self.external[to].get(key).is_some_and(|read| read == version);
                follows.then(|| {
                    (
                        key.clone(),
                        format!(
                            "{a} read key {key} = {}, which {b} overwrote with {value}",
                            text(version)
                        ),
                    )
                })
            }),
            _ => None,
        }
    }
}

/// Infers the register graph and the anomalies that need no cycle.
///
/// # Errors
/// A value written twice to one key: rw-register needs unique values.
pub fn infer(file: &str, txns: &[Txn]) -> Result<Observation<Registers>, TxnError> {
    let mut registers = Registers {
        external: vec![FxHashMap::default(); txns.len()],
        last_write: vec![FxHashMap::default(); txns.len()],
        ..Registers::default()
    };
    for (id, txn) in txns.iter().enumerate() {
        for mop in &txn.mops {
            let (MopKind::Write, Some(value)) = (mop.kind, &mop.value) else {
                continue;
            };
            if let Some(&other) = registers.writer.get(&(mop.key.clone(), value.clone())) {
                return Err(TxnError {
                    file: file.to_string(),
                    line: txn.line,
                    reason: format!(
                        "{value} is written to {} again (first at line {}); rw-register needs every written value to be unique per key",
                        mop.key, txns[other].line
                    ),
                });
            }
            registers
                .writer
                .insert((mop.key.clone(), value.clone()), id);
            registers.last_write[id].insert(mop.key.clone(), value.clone());
        }
    }
    let mut found = Found::default();
    for (id, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mut known: FxHashMap<&Atom, Version> = FxHashMap::default();
        for mop in &txn.mops {
            match (mop.kind, &mop.read, &mop.value) {
                (MopKind::Write, _, Some(value)) => {
                    known.insert(&mop.key, Some(value.clone()));
                }
                (MopKind::Read, Some(read), _) => {
                    let version: Version = read.first().cloned();
                    match known.get(&mop.key) {
                        Some(expected) if *expected != version => found.internal(
                            id,
                            format!(
                                "{{T}} read {} = {}, but its own earlier reads and writes say it must be {}",
                                mop.key,
                                text(&version),
                                text(expected)
                            ),
                        ),
                        Some(_) => {}
                        None => {
                            registers.external[id].insert(mop.key.clone(), version.clone());
                        }
                    }
                    known.insert(&mop.key, version);
                }
                _ => {}
            }
        }
    }
    let mut committed: Vec<bool> = txns.iter().map(|txn| txn.outcome == Outcome::Ok).collect();
    for (id, external) in registers.external.iter().enumerate() {
        for (key, version) in external {
            let Some(value) = version else { continue };
            match registers.writer.get(&(key.clone(), value.clone())) {
                None => found.single(
                    "garbage-read",
                    id,
                    None,
                    format!("{{T}} read key {key} = {value}, which no transaction wrote"),
                ),
                Some(&writer) if txns[writer].outcome == Outcome::Fail => found.single(
                    "G1a",
                    id,
                    Some(writer),
                    format!("{{T}} read key {key} = {value}, written by {{U}}, a transaction that failed: an aborted read"),
                ),
                Some(&writer) => {
                    if txns[writer].outcome == Outcome::Info {
                        committed[writer] = true;
                    }
                    if writer != id && registers.last_write[writer].get(key) != Some(value) {
                        found.single(
                            "G1b",
                            id,
                            Some(writer),
                            format!(
                                "{{T}} read key {key} = {value}, but {{U}} went on to write {} to key {key} in the same transaction: {{T}} saw an intermediate state",
                                registers.last_write[writer][key]
                            ),
                        );
                    }
                }
            }
        }
    }
    let mut graph = Graph::new(txns.len());
    // Readers of each version, and the transactions that wrote right after it.
    let mut readers: FxHashMap<(Atom, Version), Vec<usize>> = FxHashMap::default();
    let mut successors: FxHashMap<(Atom, Version), Vec<usize>> = FxHashMap::default();
    for (id, external) in registers.external.iter().enumerate() {
        for (key, version) in external {
            readers
                .entry((key.clone(), version.clone()))
                .or_default()
                .push(id);
            if registers.last_write[id].contains_key(key) {
                successors
                    .entry((key.clone(), version.clone()))
                    .or_default()
                    .push(id);
            }
        }
    }
    for (id, writes) in registers.last_write.iter().enumerate() {
        if !committed[id] {
            continue;
        }
        for key in writes.keys() {
            // Every write comes after the initial version.
            successors.entry((key.clone(), None)).or_default().push(id);
        }
    }
    for (id, external) in registers.external.iter().enumerate() {
        for (key, version) in external {
            let Some(value) = version else { continue };
            if let Some(&writer) = registers.writer.get(&(key.clone(), value.clone()))
                && committed[writer]
            {
                graph.add(writer, id, WR);
            }
        }
    }
    let mut lost: Vec<((Atom, Version), Vec<usize>)> = Vec::new();
    for ((key, version), next) in &successors {
        let mut next = next.clone();
        next.sort_unstable();
        next.dedup();
        let previous = version
            .as_ref()
            .and_then(|value| registers.writer.get(&(key.clone(), value.clone())))
            .copied()
            .filter(|writer| committed[*writer]);
        for &writer in &next {
            if !committed[writer] {
                continue;
            }
            if let Some(previous) = previous {
                graph.add(previous, writer, WW);
            }
            for &reader in readers
                .get(&(key.clone(), version.clone()))
                .map_or(&[][..], Vec::as_slice)
            {
                graph.add(reader, writer, RW);
            }
        }
        // Lost updates: committed writers that read this same version.
        let read_then_wrote: Vec<usize> = next
            .iter()
            .copied()
            .filter(|writer| {
                txns[*writer].outcome == Outcome::Ok
                    && registers.external[*writer].get(key) == Some(version)
            })
            .collect();
        if read_then_wrote.len() > 1 {
            lost.push(((key.clone(), version.clone()), read_then_wrote));
        }
    }
    lost.sort_unstable_by_key(|(_, writers)| writers[0]);
    for ((key, version), writers) in lost {
        found.pair(
            "lost-update",
            writers[0],
            writers[1],
            format!(
                "{{T}} and {{U}} both read key {key} = {} and both wrote it: one of the two updates is lost",
                text(&version)
            ),
        );
    }
    graph.seal();
    Ok(Observation {
        graph,
        committed,
        found,
        index: registers,
    })
}
