//! Read-write registers with unique written values. A read names the one
//! transaction that wrote its value; the version order is only partly known:
//! the initial (absent) version comes first, and a transaction that read a
//! version and then wrote the key installed its write right after it (Elle's
//! "writes follow reads"). Sound, not complete: a cycle found is real.

use super::graph::{Graph, RW, WR, WW};
use super::parse::{Atom, AtomId, Atoms, MopKind, Txn, TxnError};
use super::{Found, Observation};
use histories::Outcome;
use rustc_hash::FxHashMap;

/// A register's value: `None` is the initial, absent one.
type Version = Option<AtomId>;

fn text(atoms: &Atoms, version: Version) -> String {
    version.map_or_else(|| "nil".to_string(), |value| atoms.get(value).to_string())
}

/// What the history says of each register.
#[derive(Debug)]
pub struct Registers<'a> {
    atoms: &'a Atoms,
    writer: FxHashMap<(AtomId, AtomId), usize>,
    /// Each transaction's external reads: key → version read.
    external: Vec<FxHashMap<AtomId, Version>>,
    /// Each transaction's last write to each key.
    last_write: Vec<FxHashMap<AtomId, AtomId>>,
}

impl Registers<'_> {
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
        let show = |id: AtomId| self.atoms.get(id);
        match kind {
            WW => self.last_write[to].iter().find_map(|(&key, &value)| {
                let read = (*self.external[to].get(&key)?)?;
                (self.writer.get(&(key, read)) == Some(&from)).then(|| {
                    (
                        show(key).clone(),
                        format!(
                            "{b} read key {} = {}, written by {a}, and then overwrote it with {}",
                            show(key),
                            show(read),
                            show(value)
                        ),
                    )
                })
            }),
            WR => self.external[to].iter().find_map(|(&key, &version)| {
                let value = version?;
                (self.writer.get(&(key, value)) == Some(&from)).then(|| {
                    (
                        show(key).clone(),
                        format!(
                            "{b} read key {} = {}, written by {a}",
                            show(key),
                            show(value)
                        ),
                    )
                })
            }),
            RW => self.external[from].iter().find_map(|(&key, &version)| {
                let &value = self.last_write[to].get(&key)?;
                let follows = version.is_none()
                    || self.external[to]
                        .get(&key)
                        .is_some_and(|&read| read == version);
                follows.then(|| {
                    (
                        show(key).clone(),
                        format!(
                            "{a} read key {} = {}, which {b} overwrote with {}",
                            show(key),
                            text(self.atoms, version),
                            show(value)
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
pub fn infer<'a>(
    file: &str,
    txns: &[Txn],
    atoms: &'a Atoms,
) -> Result<Observation<Registers<'a>>, TxnError> {
    let mut registers = Registers {
        atoms,
        writer: FxHashMap::default(),
        external: vec![FxHashMap::default(); txns.len()],
        last_write: vec![FxHashMap::default(); txns.len()],
    };
    let show = |id: AtomId| atoms.get(id);
    for (id, txn) in txns.iter().enumerate() {
        for mop in &txn.mops {
            let (MopKind::Write, Some(value)) = (mop.kind, mop.value) else {
                continue;
            };
            if let Some(&other) = registers.writer.get(&(mop.key, value)) {
                return Err(TxnError {
                    file: file.to_string(),
                    line: txn.line,
                    reason: format!(
                        "{} is written to {} again (first at line {}); rw-register needs every written value to be unique per key",
                        show(value),
                        show(mop.key),
                        txns[other].line
                    ),
                });
            }
            registers.writer.insert((mop.key, value), id);
            registers.last_write[id].insert(mop.key, value);
        }
    }
    let mut found = Found::default();
    for (id, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mut known: FxHashMap<AtomId, Version> = FxHashMap::default();
        for mop in &txn.mops {
            match (mop.kind, &mop.read, mop.value) {
                (MopKind::Write, _, Some(value)) => {
                    known.insert(mop.key, Some(value));
                }
                (MopKind::Read, Some(read), _) => {
                    let version: Version = read.first().copied();
                    match known.get(&mop.key) {
                        Some(&expected) if expected != version => found.internal(
                            id,
                            format!(
                                "{{T}} read {} = {}, but its own earlier reads and writes say it must be {}",
                                show(mop.key),
                                text(atoms, version),
                                text(atoms, expected)
                            ),
                        ),
                        Some(_) => {}
                        None => {
                            registers.external[id].insert(mop.key, version);
                        }
                    }
                    known.insert(mop.key, version);
                }
                _ => {}
            }
        }
    }
    let mut committed: Vec<bool> = txns.iter().map(|txn| txn.outcome == Outcome::Ok).collect();
    for (id, external) in registers.external.iter().enumerate() {
        for (&key, &version) in external {
            let Some(value) = version else { continue };
            match registers.writer.get(&(key, value)) {
                None => found.single(
                    "garbage-read",
                    id,
                    None,
                    format!(
                        "{{T}} read key {} = {}, which no transaction wrote",
                        show(key),
                        show(value)
                    ),
                ),
                Some(&writer) if txns[writer].outcome == Outcome::Fail => found.single(
                    "G1a",
                    id,
                    Some(writer),
                    format!(
                        "{{T}} read key {} = {}, written by {{U}}, a transaction that failed: an aborted read",
                        show(key),
                        show(value)
                    ),
                ),
                Some(&writer) => {
                    if txns[writer].outcome == Outcome::Info {
                        committed[writer] = true;
                    }
                    if writer != id && registers.last_write[writer].get(&key) != Some(&value) {
                        found.single(
                            "G1b",
                            id,
                            Some(writer),
                            format!(
                                "{{T}} read key {} = {}, but {{U}} went on to write {} to key {} in the same transaction: {{T}} saw an intermediate state",
                                show(key),
                                show(value),
                                show(registers.last_write[writer][&key]),
                                show(key)
                            ),
                        );
                    }
                }
            }
        }
    }
    let mut graph = Graph::new(txns.len());
    // Readers of each version, and the transactions that wrote right after it.
    let mut readers: FxHashMap<(AtomId, Version), Vec<usize>> = FxHashMap::default();
    let mut successors: FxHashMap<(AtomId, Version), Vec<usize>> = FxHashMap::default();
    for (id, external) in registers.external.iter().enumerate() {
        for (&key, &version) in external {
            readers.entry((key, version)).or_default().push(id);
            if registers.last_write[id].contains_key(&key) {
                successors.entry((key, version)).or_default().push(id);
            }
        }
    }
    for (id, writes) in registers.last_write.iter().enumerate() {
        if !committed[id] {
            continue;
        }
        for &key in writes.keys() {
            // Every write comes after the initial version.
            successors.entry((key, None)).or_default().push(id);
        }
    }
    for (id, external) in registers.external.iter().enumerate() {
        for (&key, &version) in external {
            let Some(value) = version else { continue };
            if let Some(&writer) = registers.writer.get(&(key, value))
                && committed[writer]
            {
                graph.add(writer, id, WR);
            }
        }
    }
    let mut lost: Vec<((AtomId, Version), Vec<usize>)> = Vec::new();
    for (&(key, version), next) in &successors {
        let mut next = next.clone();
        next.sort_unstable();
        next.dedup();
        let previous = version
            .and_then(|value| registers.writer.get(&(key, value)))
            .copied()
            .filter(|writer| committed[*writer]);
        for &writer in &next {
            if !committed[writer] {
                continue;
            }
            if let Some(previous) = previous {
                graph.add(previous, writer, WW);
            }
            for &reader in readers.get(&(key, version)).map_or(&[][..], Vec::as_slice) {
                graph.add(reader, writer, RW);
            }
        }
        // Lost updates: committed writers that read this same version.
        let read_then_wrote: Vec<usize> = next
            .iter()
            .copied()
            .filter(|writer| {
                txns[*writer].outcome == Outcome::Ok
                    && registers.external[*writer].get(&key) == Some(&version)
            })
            .collect();
        if read_then_wrote.len() > 1 {
            lost.push(((key, version), read_then_wrote));
        }
    }
    lost.sort_unstable_by_key(|(_, writers)| writers[0]);
    for ((key, version), writers) in lost {
        found.pair(
            "lost-update",
            writers[0],
            writers[1],
            format!(
                "{{T}} and {{U}} both read key {} = {} and both wrote it: one of the two updates is lost",
                show(key),
                text(atoms, version)
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
