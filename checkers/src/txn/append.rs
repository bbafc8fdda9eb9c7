//! List-append: every read returns the whole list, so the longest read of a
//! key is its version order, and each element names the one transaction that
//! appended it. From that: ww, wr and rw edges, and the anomalies that need no
//! cycle (aborted, intermediate, garbage and duplicated reads, orders that
//! disagree, transactions that contradict themselves, lost updates).

use super::graph::{Graph, RW, WR, WW};
use super::parse::{Atom, MopKind, Txn, TxnError};
use super::{Found, Observation};
use histories::Outcome;
use rustc_hash::{FxHashMap, FxHashSet};

/// What the history says of each key's list.
#[derive(Debug, Default)]
pub struct Lists {
    /// Who appended each element to each key.
    appender: FxHashMap<(Atom, Atom), usize>,
    /// Each key's version order: its longest read.
    order: FxHashMap<Atom, Vec<Atom>>,
    /// Each transaction's external reads: key → list read.
    external: Vec<FxHashMap<Atom, Vec<Atom>>>,
}

impl Lists {
    fn position(&self, key: &Atom, element: &Atom) -> Option<usize> {
        self.order
            .get(key)?
            .iter()
            .position(|candidate| candidate == element)
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
        match kind {
            WW => appends(&txns[to]).find_map(|(key, element)| {
                let Some(position) = self.position(key, element) else {
                    // An append no read saw came after the last one any did.
                    let last = self.order.get(key)?.last()?;
                    return (self.appender.get(&(key.clone(), last.clone())) == Some(&from)).then(|| {
                        (
                            key.clone(),
                            format!("{b} appended {element} to key {key}, which no read saw, so after {a}'s {last}, the last element any read saw"),
                        )
                    });
                };
                let before = &self.order[key][position.checked_sub(1)?];
                (self.appender.get(&(key.clone(), before.clone())) == Some(&from)).then(|| {
                    (
                        key.clone(),
                        format!("{b} appended {element} after {a} appended {before} to key {key}"),
                    )
                })
            }),
            WR => self.external[to].iter().find_map(|(key, list)| {
                let last = list.last()?;
                (self.appender.get(&(key.clone(), last.clone())) == Some(&from)).then(|| {
                    (
                        key.clone(),
                        format!("{b} observed {a}'s append of {last} to key {key}"),
                    )
                })
            }),
            RW => self.external[from].iter().find_map(|(key, list)| {
                let order = self.order.get(key)?;
                let Some(next) = order.get(list.len()) else {
                    // An append no read saw came after the whole known list.
                    let (_, unseen) = appends(&txns[to])
                        .find(|(appended_to, element)| *appended_to == key && !order.contains(element))?;
                    return (list.len() == order.len()).then(|| {
                        (
                            key.clone(),
                            format!(
                                "{a} read key {key} = {}, without {unseen}, which {b} appended (no read saw it, so it came after every element one did)",
                                list_text(list)
                            ),
                        )
                    });
                };
                (self.appender.get(&(key.clone(), next.clone())) == Some(&to)).then(|| {
                    let seen = match list.last() {
                        Some(last) => format!("ending in {last}"),
                        None => "empty".to_string(),
                    };
                    (
                        key.clone(),
                        format!("{a} read key {key} {seen}, without {next}, which {b} appended next"),
                    )
                })
            }),
            _ => None,
        }
    }
}

fn appends(txn: &Txn) -> impl Iterator<Item = (&Atom, &Atom)> {
    txn.mops
        .iter()
        .filter(|mop| mop.kind == MopKind::Append)
        .filter_map(|mop| Some((&mop.key, mop.value.as_ref()?)))
}

fn list_text(list: &[Atom]) -> String {
    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(" "))
}

/// Infers the list-append graph and the anomalies that need no cycle.
///
/// # Errors
/// An element appended twice to one key: list-append needs unique elements.
pub fn infer(file: &str, txns: &[Txn]) -> Result<Observation<Lists>, TxnError> {
    let mut lists = Lists {
        external: vec![FxHashMap::default(); txns.len()],
        ..Lists::default()
    };
    // Each transaction's last append to each key.
    let mut final_append: FxHashMap<(usize, Atom), Atom> = FxHashMap::default();
    for (id, txn) in txns.iter().enumerate() {
        for (key, element) in appends(txn) {
            if let Some(&other) = lists.appender.get(&(key.clone(), element.clone())) {
                return Err(TxnError {
                    file: file.to_string(),
                    line: txn.line,
                    reason: format!(
                        "{element} is appended to key {key} again (first at line {}); list-append needs every appended element to be unique per key",
                        txns[other].line
                    ),
                });
            }
            lists.appender.insert((key.clone(), element.clone()), id);
            final_append.insert((id, key.clone()), element.clone());
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
        let mut known: FxHashMap<&Atom, Vec<Atom>> = FxHashMap::default();
        let mut own: FxHashMap<&Atom, Vec<Atom>> = FxHashMap::default();
        for mop in &txn.mops {
            match (mop.kind, &mop.read, &mop.value) {
                (MopKind::Append, _, Some(element)) => match known.get_mut(&mop.key) {
                    Some(list) => list.push(element.clone()),
                    None => own.entry(&mop.key).or_default().push(element.clone()),
                },
                (MopKind::Read, Some(read), _) => {
                    if let Some(expected) = known.get(&mop.key) {
                        if expected != read {
                            found.internal(id, format!(
                                "{{T}} read {} = {}, but its own earlier reads and appends say it must be {}",
                                mop.key, list_text(read), list_text(expected)
                            ));
                        }
                    } else if let Some(suffix) = own.get(&mop.key) {
                        if !read.ends_with(suffix) {
                            found.internal(id, format!(
                                "{{T}} read {} = {} after appending {} to it, which the read does not end with",
                                mop.key, list_text(read), list_text(suffix)
                            ));
                        }
                    } else {
                        lists.external[id].insert(mop.key.clone(), read.clone());
                    }
                    known.insert(&mop.key, read.clone());
                }
                _ => {}
            }
        }
    }
    // Per key: the reads of it, the anomalies in single reads, the version order.
    let mut reads: FxHashMap<&Atom, Vec<(usize, &[Atom])>> = FxHashMap::default();
    for (id, external) in lists.external.iter().enumerate() {
        for (key, list) in external {
            reads.entry(key).or_default().push((id, list.as_slice()));
        }
    }
    let mut keys: Vec<&Atom> = reads.keys().copied().collect();
    keys.sort_unstable();
    for &key in &keys {
        let key_reads = &reads[key];
        for (reader, list) in key_reads {
            let mut seen = FxHashSet::default();
            if let Some(twice) = list.iter().find(|element| !seen.insert(*element)) {
                found.single(
                    "duplicate-elements",
                    *reader,
                    None,
                    format!(
                        "{{T}} read key {key} = {}, in which {twice} appears twice",
                        list_text(list)
                    ),
                );
            }
            for element in list.iter() {
                match lists.appender.get(&(key.clone(), element.clone())) {
                    None => found.single(
                        "garbage-read",
                        *reader,
                        None,
                        format!("{{T}} read {element} in key {key}, which no transaction appended"),
                    ),
                    Some(&writer) if txns[writer].outcome == Outcome::Fail => found.single(
                        "G1a",
                        *reader,
                        Some(writer),
                        format!("{{T}} read key {key} = {}, which includes {element}, appended by {{U}}, a transaction that failed: an aborted read", list_text(list)),
                    ),
                    Some(_) => {}
                }
            }
            if let Some(last) = list.last()
                && let Some(&writer) = lists.appender.get(&(key.clone(), last.clone()))
                && writer != *reader
                && final_append.get(&(writer, key.clone())) != Some(last)
            {
                let later = &final_append[&(writer, key.clone())];
                found.single(
                    "G1b",
                    *reader,
                    Some(writer),
                    format!("{{T}} read key {key} ending in {last}, but {{U}} went on to append {later} to key {key} in the same transaction: {{T}} saw an intermediate state"),
                );
            }
        }
        let &(longest_reader, longest) = key_reads
            .iter()
            .max_by_key(|(reader, list)| (list.len(), std::cmp::Reverse(*reader)))
            .expect("a key with reads");
        for (reader, list) in key_reads {
            if !longest.starts_with(list) {
                found.pair(
                    "incompatible-order",
                    *reader,
                    longest_reader,
                    format!(
                        "{{T}} read key {key} = {} and {{U}} read key {key} = {}: neither is a prefix of the other, so no one order of appends explains both",
                        list_text(list),
                        list_text(longest)
                    ),
                );
            }
        }
        lists.order.insert((*key).clone(), longest.to_vec());
    }
    // Transactions known to have committed: ok ones, and any whose append was seen.
    let mut committed: Vec<bool> = txns.iter().map(|txn| txn.outcome == Outcome::Ok).collect();
    for (key, order) in &lists.order {
        for element in order {
            if let Some(&writer) = lists.appender.get(&(key.clone(), element.clone()))
                && txns[writer].outcome == Outcome::Info
            {
                committed[writer] = true;
            }
        }
    }
    let mut appenders_by_key: FxHashMap<&Atom, Vec<(&Atom, usize)>> = FxHashMap::default();
    for ((key, element), &writer) in &lists.appender {
        appenders_by_key
            .entry(key)
            .or_default()
            .push((element, writer));
    }
    let mut graph = Graph::new(txns.len());
    let writer_of = |key: &Atom, element: &Atom| {
        lists
            .appender
            .get(&(key.clone(), element.clone()))
            .copied()
            .filter(|writer| committed[*writer])
    };
    for &key in &keys {
        let order = &lists.order[key];
        for pair in order.windows(2) {
            if let (Some(a), Some(b)) = (writer_of(key, &pair[0]), writer_of(key, &pair[1])) {
                graph.add(a, b, WW);
            }
        }
        for (reader, list) in &reads[key] {
            if !order.starts_with(list) {
                continue;
            }
            if let Some(writer) = list.last().and_then(|last| writer_of(key, last)) {
                graph.add(writer, *reader, WR);
            }
            if let Some(writer) = order.get(list.len()).and_then(|next| writer_of(key, next)) {
                graph.add(*reader, writer, RW);
            }
        }
        // Appends of committed transactions that no read saw came after
        // every element any read saw: after the last one's appender, and after
        // every read of the whole known list.
        let observed: FxHashSet<&Atom> = order.iter().collect();
        let mut unseen: Vec<usize> = appenders_by_key
            .get(key)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(|(element, writer)| committed[*writer] && !observed.contains(element))
            .map(|(_, writer)| writer)
            .collect();
        unseen.sort_unstable();
        unseen.dedup();
        if let Some(last) = order.last().and_then(|last| writer_of(key, last)) {
            for &writer in &unseen {
                graph.add(last, writer, WW);
            }
        }
        for (reader, list) in &reads[key] {
            if list.len() == order.len() {
                for &writer in &unseen {
                    graph.add(*reader, writer, RW);
                }
            }
        }
        // Lost updates: committed transactions that read the same version of
        // the key and appended to it.
        let mut by_version: FxHashMap<&[Atom], Vec<usize>> = FxHashMap::default();
        for (reader, list) in &reads[key] {
            if txns[*reader]
                .mops
                .iter()
                .any(|mop| mop.kind == MopKind::Append && &mop.key == key)
            {
                by_version.entry(list).or_default().push(*reader);
            }
        }
        let mut groups: Vec<(&[Atom], Vec<usize>)> = by_version
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
                    "{{T}} and {{U}} both read key {key} = {} and both appended to it: one of the two updates is lost",
                    list_text(list)
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
