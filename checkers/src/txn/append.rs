//! List-append: every read returns the whole list, so the longest read of a
//! key is its version order, and each element names the one transaction that
//! appended it. From that: ww, wr and rw edges, and the anomalies that need no
//! cycle (aborted, intermediate, garbage and duplicated reads, orders that
//! disagree, transactions that contradict themselves, lost updates).

use super::graph::{Graph, RW, WR, WW};
use super::parse::{Atom, AtomId, Atoms, MopKind, Txn, TxnError};
use super::{Found, Observation};
use histories::Outcome;
use rustc_hash::{FxHashMap, FxHashSet};

/// What the history says of each key's list; the lists are the reads'
/// own, borrowed from the transactions.
#[derive(Debug)]
pub struct Lists<'a> {
    atoms: &'a Atoms,
    /// Who appended each element to each key.
    appender: FxHashMap<(AtomId, AtomId), usize>,
    /// Each key's version order: its longest read.
    order: FxHashMap<AtomId, &'a [AtomId]>,
    /// Each transaction's external reads: key → list read.
    external: Vec<FxHashMap<AtomId, &'a [AtomId]>>,
}

impl Lists<'_> {
    fn position(&self, key: AtomId, element: AtomId) -> Option<usize> {
        self.order
            .get(&key)?
            .iter()
            .position(|&candidate| candidate == element)
    }

    /// Why `from → to` holds with `kind`, in words ("T2 appended 4 after T1
    /// appended 3 to x"), naming the transactions `names` gives.
    pub fn why(
        &self,
        txns: &[Txn],
        from: usize,
        to: usize,
        kind: u8,
        name: &dyn Fn(usize) -> String,
    ) -> Option<(Atom, String)> {
        let (a, b) = (name(from), name(to));
        let show = |id: AtomId| self.atoms.get(id);
        let appended_by =
            |key: AtomId, element: AtomId| self.appender.get(&(key, element)).copied();
        match kind {
            WW => appends(&txns[to]).find_map(|(key, element)| {
                let Some(position) = self.position(key, element) else {
                    // An append no read saw came after the last one any did.
                    let &last = self.order.get(&key)?.last()?;
                    return (appended_by(key, last) == Some(from)).then(|| {
                        (
                            show(key).clone(),
                            format!("{b} appended {} to key {}, which no read saw, so after {a}'s {}, the last element any read saw", show(element), show(key), show(last)),
                        )
                    });
                };
                let before = self.order[&key][position.checked_sub(1)?];
                (appended_by(key, before) == Some(from)).then(|| {
                    (
                        show(key).clone(),
                        format!("{b} appended {} after {a} appended {} to key {}", show(element), show(before), show(key)),
                    )
                })
            }),
            WR => self.external[to].iter().find_map(|(&key, list)| {
                let &last = list.last()?;
                (appended_by(key, last) == Some(from)).then(|| {
                    (
                        show(key).clone(),
                        format!("{b} observed {a}'s append of {} to key {}", show(last), show(key)),
                    )
                })
            }),
            RW => self.external[from].iter().find_map(|(&key, list)| {
                let order = self.order.get(&key)?;
                let Some(&next) = order.get(list.len()) else {
                    // An append no read saw came after the whole known list.
                    let (_, unseen) = appends(&txns[to])
                        .find(|&(appended_to, element)| appended_to == key && !order.contains(&element))?;
                    return (list.len() == order.len()).then(|| {
                        (
                            show(key).clone(),
                            format!(
                                "{a} read key {} = {}, without {}, which {b} appended (no read saw it, so it came after every element one did)",
                                show(key),
                                self.atoms.list(list),
                                show(unseen)
                            ),
                        )
                    });
                };
                (appended_by(key, next) == Some(to)).then(|| {
                    let seen = match list.last() {
                        Some(&last) => format!("ending in {}", show(last)),
                        None => "empty".to_string(),
                    };
                    (
                        show(key).clone(),
                        format!("{a} read key {} {seen}, without {}, which {b} appended next", show(key), show(next)),
                    )
                })
            }),
            _ => None,
        }
    }
}

fn appends(txn: &Txn) -> impl Iterator<Item = (AtomId, AtomId)> + '_ {
    txn.mops
        .iter()
        .filter(|mop| mop.kind == MopKind::Append)
        .filter_map(|mop| Some((mop.key, mop.value?)))
}

/// Infers the list-append graph and the anomalies that need no cycle.
///
/// # Errors
/// An element appended twice to one key: list-append needs unique elements.
pub fn infer<'a>(
    file: &str,
    txns: &'a [Txn],
    atoms: &'a Atoms,
) -> Result<Observation<Lists<'a>>, TxnError> {
    let mut lists = Lists {
        atoms,
        appender: FxHashMap::default(),
        order: FxHashMap::default(),
        external: vec![FxHashMap::default(); txns.len()],
    };
    let show = |id: AtomId| atoms.get(id);
    // Each transaction's last append to each key.
    let mut final_append: FxHashMap<(usize, AtomId), AtomId> = FxHashMap::default();
    for (id, txn) in txns.iter().enumerate() {
        for (key, element) in appends(txn) {
            if let Some(&other) = lists.appender.get(&(key, element)) {
                return Err(TxnError {
                    file: file.to_string(),
                    line: txn.line,
                    reason: format!(
                        "{} is appended to key {} again (first at line {}); list-append needs every appended element to be unique per key",
                        show(element),
                        show(key),
                        txns[other].line
                    ),
                });
            }
            lists.appender.insert((key, element), id);
            final_append.insert((id, key), element);
        }
    }
    let mut found = Found::default();
    // Reads: internal consistency, and each transaction's external reads.
    for (id, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Per key: the list this transaction must see now, if it knows it, and
        // what it appended since it last knew.
        let mut known: FxHashMap<AtomId, Vec<AtomId>> = FxHashMap::default();
        let mut own: FxHashMap<AtomId, Vec<AtomId>> = FxHashMap::default();
        for mop in &txn.mops {
            match (mop.kind, &mop.read, mop.value) {
                (MopKind::Append, _, Some(element)) => match known.get_mut(&mop.key) {
                    Some(list) => list.push(element),
                    None => own.entry(mop.key).or_default().push(element),
                },
                (MopKind::Read, Some(read), _) => {
                    if let Some(expected) = known.get(&mop.key) {
                        if expected != read {
                            found.internal(id, format!(
                                "{{T}} read {} = {}, but its own earlier reads and appends say it must be {}",
                                show(mop.key), atoms.list(read), atoms.list(expected)
                            ));
                        }
                    } else if let Some(suffix) = own.get(&mop.key) {
                        if !read.ends_with(suffix) {
                            found.internal(id, format!(
                                "{{T}} read {} = {} after appending {} to it, which the read does not end with",
                                show(mop.key), atoms.list(read), atoms.list(suffix)
                            ));
                        }
                    } else {
                        lists.external[id].insert(mop.key, read.as_slice());
                    }
                    known.insert(mop.key, read.clone());
                }
                _ => {}
            }
        }
    }
    // Per key: the reads of it, the anomalies in single reads, the version order.
    let mut reads: FxHashMap<AtomId, Vec<(usize, &[AtomId])>> = FxHashMap::default();
    for (id, external) in lists.external.iter().enumerate() {
        for (&key, &list) in external {
            reads.entry(key).or_default().push((id, list));
        }
    }
    let mut keys: Vec<AtomId> = reads.keys().copied().collect();
    atoms.sort(&mut keys);
    for &key in &keys {
        let key_reads = &reads[&key];
        let &(longest_reader, longest) = key_reads
            .iter()
            .max_by_key(|(reader, list)| (list.len(), std::cmp::Reverse(*reader)))
            .expect("a key with reads");
        // Most reads are prefixes of the longest: what is wrong with single
        // elements is found once on it, and a prefix has what lies within it.
        let longest_faults = ElementFaults::of(longest, key, &lists.appender, txns);
        for &(reader, list) in key_reads {
            let own_faults;
            let faults = if longest.starts_with(list) {
                &longest_faults
            } else {
                own_faults = ElementFaults::of(list, key, &lists.appender, txns);
                &own_faults
            };
            if let Some(position) = faults
                .first_repeat
                .filter(|&position| position < list.len())
            {
                found.single(
                    "duplicate-elements",
                    reader,
                    None,
                    format!(
                        "{{T}} read key {} = {}, in which {} appears twice",
                        show(key),
                        atoms.list(list),
                        show(list[position])
                    ),
                );
            }
            for &(position, writer) in faults
                .foreign
                .iter()
                .take_while(|(position, _)| *position < list.len())
            {
                let element = list[position];
                match writer {
                    None => found.single(
                        "garbage-read",
                        reader,
                        None,
                        format!("{{T}} read {} in key {}, which no transaction appended", show(element), show(key)),
                    ),
                    Some(writer) => found.single(
                        "G1a",
                        reader,
                        Some(writer),
                        format!("{{T}} read key {} = {}, which includes {}, appended by {{U}}, a transaction that failed: an aborted read", show(key), atoms.list(list), show(element)),
                    ),
                }
            }
            if let Some(&last) = list.last()
                && let Some(&writer) = lists.appender.get(&(key, last))
                && writer != reader
                && final_append.get(&(writer, key)) != Some(&last)
            {
                let later = final_append[&(writer, key)];
                found.single(
                    "G1b",
                    reader,
                    Some(writer),
                    format!("{{T}} read key {} ending in {}, but {{U}} went on to append {} to key {} in the same transaction: {{T}} saw an intermediate state", show(key), show(last), show(later), show(key)),
                );
            }
        }
        for &(reader, list) in key_reads {
            if !longest.starts_with(list) {
                found.pair(
                    "incompatible-order",
                    reader,
                    longest_reader,
                    format!(
                        "{{T}} read key {} = {} and {{U}} read key {} = {}: neither is a prefix of the other, so no one order of appends explains both",
                        show(key),
                        atoms.list(list),
                        show(key),
                        atoms.list(longest)
                    ),
                );
            }
        }
        lists.order.insert(key, longest);
    }
    // Transactions known to have committed: ok ones, and any whose append was seen.
    let mut committed: Vec<bool> = txns.iter().map(|txn| txn.outcome == Outcome::Ok).collect();
    for (&key, order) in &lists.order {
        for &element in order.iter() {
            if let Some(&writer) = lists.appender.get(&(key, element))
                && txns[writer].outcome == Outcome::Info
            {
                committed[writer] = true;
            }
        }
    }
    let mut appenders_by_key: FxHashMap<AtomId, Vec<(AtomId, usize)>> = FxHashMap::default();
    for (&(key, element), &writer) in &lists.appender {
        appenders_by_key
            .entry(key)
            .or_default()
            .push((element, writer));
    }
    let mut graph = Graph::new(txns.len());
    let writer_of = |key: AtomId, element: AtomId| {
        lists
            .appender
            .get(&(key, element))
            .copied()
            .filter(|writer| committed[*writer])
    };
    for &key in &keys {
        let order = lists.order[&key];
        for pair in order.windows(2) {
            if let (Some(a), Some(b)) = (writer_of(key, pair[0]), writer_of(key, pair[1])) {
                graph.add(a, b, WW);
            }
        }
        for &(reader, list) in &reads[&key] {
            if !order.starts_with(list) {
                continue;
            }
            if let Some(writer) = list.last().and_then(|&last| writer_of(key, last)) {
                graph.add(writer, reader, WR);
            }
            if let Some(writer) = order.get(list.len()).and_then(|&next| writer_of(key, next)) {
                graph.add(reader, writer, RW);
            }
        }
        // Appends of committed transactions that no read saw came after
        // every element any read saw: after the last one's appender, and after
        // every read of the whole known list.
        let observed: FxHashSet<AtomId> = order.iter().copied().collect();
        let mut unseen: Vec<usize> = appenders_by_key
            .get(&key)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(|(element, writer)| committed[*writer] && !observed.contains(element))
            .map(|(_, writer)| writer)
            .collect();
        unseen.sort_unstable();
        unseen.dedup();
        if let Some(last) = order.last().and_then(|&last| writer_of(key, last)) {
            for &writer in &unseen {
                graph.add(last, writer, WW);
            }
        }
        for &(reader, list) in &reads[&key] {
            if list.len() == order.len() {
                for &writer in &unseen {
                    graph.add(reader, writer, RW);
                }
            }
        }
        // Lost updates: committed transactions that read the same version of
        // the key and appended to it.
        let mut by_version: FxHashMap<&[AtomId], Vec<usize>> = FxHashMap::default();
        for &(reader, list) in &reads[&key] {
            if txns[reader]
                .mops
                .iter()
                .any(|mop| mop.kind == MopKind::Append && mop.key == key)
            {
                by_version.entry(list).or_default().push(reader);
            }
        }
        let mut groups: Vec<(&[AtomId], Vec<usize>)> = by_version
            .into_iter()
            .filter(|(_, readers)| readers.len() > 1)
            .collect();
        groups.sort_unstable_by_key(|(_, readers)| readers[0]);
        for (list, readers) in groups {
            found.pair(
                "lost-update",
                readers[0],
                readers[1],
                format!(
                    "{{T}} and {{U}} both read key {} = {} and both appended to it: one of the two updates is lost",
                    show(key),
                    atoms.list(list)
                ),
            );
        }
    }
    graph.seal();
    Ok(Observation {
        graph,
        committed,
        found,
        index: lists,
    })
}

/// What is wrong with single elements of a list read: where the first element
/// seen a second time is, and each element no transaction appended (`None`)
/// or a failed one did, with its position, in order.
struct ElementFaults {
    first_repeat: Option<usize>,
    foreign: Vec<(usize, Option<usize>)>,
}

impl ElementFaults {
    fn of(
        list: &[AtomId],
        key: AtomId,
        appender: &FxHashMap<(AtomId, AtomId), usize>,
        txns: &[Txn],
    ) -> ElementFaults {
        let mut seen = FxHashSet::default();
        let first_repeat = list.iter().position(|&element| !seen.insert(element));
        let foreign = list
            .iter()
            .enumerate()
            .filter_map(|(position, &element)| match appender.get(&(key, element)) {
                None => Some((position, None)),
                Some(&writer) if txns[writer].outcome == Outcome::Fail => {
                    Some((position, Some(writer)))
                }
                Some(_) => None,
            })
            .collect();
        ElementFaults {
            first_repeat,
            foreign,
        }
    }
}
