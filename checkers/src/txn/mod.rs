//! Transactional isolation, Elle-style: infer each key's version order from
//! what transactions read (list-append: exactly; rw-register: the part unique
//! values and "writes follow reads" give), build the dependency graph of
//! committed transactions (ww, wr, rw, and process and real-time order for
//! the session and strict variants), and name what is wrong — the anomalies
//! that need no cycle (aborted and intermediate reads, garbage, duplicates,
//! incompatible orders, internal contradictions, lost updates) and the cycles
//! (G0, G1c, G-single, G-nonadjacent, G2-item and their process and real-time
//! variants), each explained in plain words. Each isolation model forbids a
//! set of anomalies; the report names the strongest model the history
//! satisfies and the weakest it breaks.
//!
//! ```
//! use checkers::txn::{self, TxnOptions};
//! use checkers::Validity;
//! use histories::HistoryBuilder;
//! use serde_json::json;
//!
//! // Write skew: each transaction reads both keys empty, then appends to one.
//! let history = HistoryBuilder::new()
//!     .invoke(0, "txn", json!([["r", "x", null], ["r", "y", null], ["append", "x", 1]]))
//!     .invoke(1, "txn", json!([["r", "x", null], ["r", "y", null], ["append", "y", 1]]))
//!     .ok(0, "txn", json!([["r", "x", []], ["r", "y", []], ["append", "x", 1]]))
//!     .ok(1, "txn", json!([["r", "x", []], ["r", "y", []], ["append", "y", 1]]))
//!     .invoke(2, "txn", json!([["r", "x", null], ["r", "y", null]]))
//!     .ok(2, "txn", json!([["r", "x", [1]], ["r", "y", [1]]]))
//!     .build()
//!     .unwrap();
//! let report = txn::check(&history, &TxnOptions::default()).unwrap();
//! assert_eq!(report.valid, Validity::Invalid);
//! assert_eq!(report.anomaly_types, ["G2-item"]);
//! assert_eq!(report.strongest_satisfied.as_deref(), Some("snapshot-isolation"));
//! assert_eq!(report.weakest_violated.as_deref(), Some("serializable"));
//! ```

mod append;
mod cycles;
mod graph;
mod parse;
mod register;

pub use parse::{Atom, AtomId, Atoms, Mop, MopKind, Txn, TxnError, transactions};

use crate::{Budget, Label, Validity};
use graph::{Graph, Kinds, PR, RT, RW, WR, WW};
use histories::{History, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// How versions are observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxnWorkload {
    /// `append` and whole-list reads: the version order is read directly.
    ListAppend,
    /// `w` and `r` of registers with unique values.
    RwRegister,
}

impl TxnWorkload {
    /// `list-append` or `rw-register`.
    pub fn name(self) -> &'static str {
        match self {
            TxnWorkload::ListAppend => "list-append",
            TxnWorkload::RwRegister => "rw-register",
        }
    }

    /// The workload a history's micro-operations imply: appends mean
    /// list-append, writes rw-register, reads alone list-append.
    ///
    /// # Errors
    /// A history with both appends and writes.
    pub fn infer(history: &History, txns: &[Txn]) -> Result<TxnWorkload, TxnError> {
        let first = |kind: MopKind| {
            txns.iter()
                .find(|txn| txn.mops.iter().any(|mop| mop.kind == kind))
        };
        match (first(MopKind::Append), first(MopKind::Write)) {
            (Some(append), Some(write)) => Err(TxnError {
                file: history.file.clone(),
                line: append.line.max(write.line),
                reason: format!(
                    "the history mixes appends (line {}) and register writes (line {}); expected one workload, list-append or rw-register",
                    append.line, write.line
                ),
            }),
            (None, Some(_)) => Ok(TxnWorkload::RwRegister),
            _ => Ok(TxnWorkload::ListAppend),
        }
    }
}

/// The isolation models, weakest first; each forbids its own anomalies and
/// every weaker model's. Strong session serializability is serializability
/// that also keeps each client's transactions in the order it ran them
/// (Elle's `strong-session-serializable`); strict serializability keeps real
/// time, which implies it.
pub const MODELS: [(&str, &[&str]); 6] = [
    (
        "read-uncommitted",
        &[
            "G0",
            "duplicate-elements",
            "garbage-read",
            "incompatible-order",
        ],
    ),
    ("read-committed", &["G1a", "G1b", "G1c"]),
    (
        "snapshot-isolation",
        &["internal", "lost-update", "G-single", "G-nonadjacent"],
    ),
    ("serializable", &["G2-item"]),
    (
        "strong-session-serializable",
        &[
            "G0-process",
            "G1c-process",
            "G-single-process",
            "G-nonadjacent-process",
            "G2-item-process",
        ],
    ),
    (
        "strict-serializable",
        &[
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G-nonadjacent-realtime",
            "G2-item-realtime",
        ],
    ),
];

/// The position in [`MODELS`] of the weakest model that forbids `anomaly`.
fn forbidden_from(anomaly: &str) -> usize {
    MODELS
        .iter()
        .position(|(_, anomalies)| anomalies.contains(&anomaly))
        .expect("every anomaly is forbidden by some model")
}

/// One of [`MODELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isolation(usize);

impl Isolation {
    /// The strongest model, Elle's default.
    pub const STRICT_SERIALIZABLE: Isolation = Isolation(MODELS.len() - 1);

    /// The model called `name`.
    ///
    /// # Errors
    /// An unknown model, with the names allowed.
    pub fn named(name: &str) -> Result<Isolation, String> {
        MODELS
            .iter()
            .position(|(model, _)| *model == name)
            .map(Isolation)
            .ok_or_else(|| {
                let names: Vec<&str> = MODELS.iter().map(|(model, _)| *model).collect();
                format!(
                    "unknown isolation model {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        MODELS[self.0].0
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct TxnOptions {
    /// How versions are observed (`None`: from the history).
    pub workload: Option<TxnWorkload>,
    /// The model the verdict is about.
    pub model: Isolation,
    /// Time for the cycle search.
    pub budget: Budget,
    /// Witnesses kept per anomaly.
    pub witnesses: usize,
}

impl Default for TxnOptions {
    /// Strict serializability, as Elle's default.
    fn default() -> Self {
        TxnOptions {
            workload: None,
            model: Isolation::STRICT_SERIALIZABLE,
            budget: Budget::default(),
            witnesses: 4,
        }
    }
}

/// A transaction as a witness shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnRef {
    /// Its name in the explanation: `T1`, `T2`, ….
    pub name: String,
    /// The invocation's `index` in the history.
    pub index: u64,
    /// The invocation's line.
    pub line: usize,
    /// The process.
    pub process: u64,
    /// `ok`, `info` or `fail`.
    #[serde(rename = "type")]
    pub outcome: Label,
    /// Its micro-operations as the history has them (completed ones for `ok`).
    pub value: Value,
}

/// One step of a cycle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// `T1`.
    pub from: String,
    /// `T2`.
    pub to: String,
    /// `ww`, `wr`, `rw`, `process` or `rt`.
    #[serde(rename = "type")]
    pub kind: Label,
    /// The key the dependency is on (none for process and real-time order).
    #[serde(
        default,
        deserialize_with = "crate::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<Value>,
    /// Why, in words.
    pub explanation: String,
}

/// One anomaly with its witness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Anomaly {
    /// Its name, as Elle's: `G1c`, `G-single`, `G1a`, `lost-update`, ….
    pub name: Label,
    /// The transactions involved.
    pub transactions: Vec<TxnRef>,
    /// For a cycle, its steps in order (the last returns to the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// The whole argument in plain words.
    pub explanation: String,
}

/// One model's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelVerdict {
    /// The model.
    pub model: Label,
    /// Whether the history satisfies it.
    pub valid: Validity,
}

/// The transactional checker's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxnReport {
    /// The verdict for [`TxnReport::model`].
    pub valid: Validity,
    /// How versions were observed.
    pub workload: TxnWorkload,
    /// The model asked about.
    pub model: Label,
    /// Transactions by outcome.
    pub transactions: BTreeMap<Label, usize>,
    /// Edges in the dependency graph (real time included when checked).
    pub edges: usize,
    /// The anomalies found, weakest model first.
    pub anomaly_types: Vec<Label>,
    /// How many of each were found (at least: the cycle search keeps a few).
    pub anomaly_counts: BTreeMap<Label, usize>,
    /// Witnesses, a few per anomaly.
    pub anomalies: Vec<Anomaly>,
    /// Every model, weakest first.
    pub models: Vec<ModelVerdict>,
    /// The strongest model the history satisfies.
    pub strongest_satisfied: Option<Label>,
    /// The weakest model it breaks.
    pub weakest_violated: Option<Label>,
    /// Why some verdicts are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
}

/// Anomalies found without a cycle, with `{T}` and `{U}` standing for their
/// transactions in the text.
#[derive(Debug, Default)]
pub(crate) struct Found {
    items: Vec<(&'static str, Vec<usize>, String)>,
}

impl Found {
    pub(crate) fn internal(&mut self, txn: usize, text: String) {
        self.single("internal", txn, None, text);
    }

    pub(crate) fn single(
        &mut self,
        name: &'static str,
        txn: usize,
        other: Option<usize>,
        text: String,
    ) {
        let mut txns = vec![txn];
        txns.extend(other);
        self.items.push((name, txns, text));
    }

    pub(crate) fn pair(&mut self, name: &'static str, a: usize, b: usize, text: String) {
        self.items.push((name, vec![a, b], text));
    }
}

/// What an inference gives: the graph, which transactions committed, the
/// anomalies found on the way, and the index that explains edges.
pub(crate) struct Observation<I> {
    graph: Graph,
    committed: Vec<bool>,
    found: Found,
    index: I,
}

impl<I> Observation<I> {
    fn indexed<J>(self, wrap: impl FnOnce(I) -> J) -> Observation<J> {
        Observation {
            graph: self.graph,
            committed: self.committed,
            found: self.found,
            index: wrap(self.index),
        }
    }
}

enum Index<'a> {
    Lists(append::Lists<'a>),
    Registers(register::Registers<'a>),
}

impl Index<'_> {
    fn why(
        &self,
        txns: &[Txn],
        from: usize,
        to: usize,
        kind: Kinds,
        name: &dyn Fn(usize) -> String,
    ) -> Option<(Atom, String)> {
        match self {
            Index::Lists(lists) => lists.why(txns, from, to, kind, name),
            Index::Registers(registers) => registers.why(txns, from, to, kind, name),
        }
    }
}

/// Checks the transactions of `history`.
///
/// # Errors
/// A history that is not made of transactions, or whose written values are
/// not unique per key.
pub fn check(history: &History, options: &TxnOptions) -> Result<TxnReport, TxnError> {
    let started = Instant::now();
    let (txns, atoms) = transactions(history)?;
    let workload = match options.workload {
        Some(workload) => workload,
        None => TxnWorkload::infer(history, &txns)?,
    };
    let Observation {
        mut graph,
        committed,
        found,
        index,
    } = match workload {
        TxnWorkload::ListAppend => {
            append::infer(&history.file, &txns, &atoms)?.indexed(Index::Lists)
        }
        TxnWorkload::RwRegister => {
            register::infer(&history.file, &txns, &atoms)?.indexed(Index::Registers)
        }
    };
    let target = options.model.0;
    // Every model is judged whichever one the exit code is about, so the
    // order edges are always in.
    add_orders(&mut graph, &txns, &committed);
    let deadline = started + options.budget.time_limit;
    let search = cycles::search(&graph, options.witnesses, deadline);

    let mut anomalies = Vec::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (name, involved, text) in &found.items {
        let count = counts.entry(name).or_insert(0);
        *count += 1;
        if *count <= options.witnesses {
            anomalies.push(single_anomaly(history, &txns, name, involved, text));
        }
    }
    for (name, count) in &search.counts {
        counts.insert(name, *count);
    }
    for cycle in &search.cycles {
        anomalies.push(cycle_anomaly(history, &txns, &index, cycle));
    }
    anomalies.sort_by_key(|anomaly| forbidden_from(&anomaly.name));
    let mut anomaly_types: Vec<&'static str> = counts.keys().copied().collect();
    anomaly_types.sort_by_key(|name| (forbidden_from(name), *name));

    // Models: invalid from the weakest that forbids something found; unknown
    // from where the search stopped.
    let broken = anomaly_types.iter().map(|name| forbidden_from(name)).min();
    let undecided = search.cut_short.map(forbidden_from);
    let models: Vec<ModelVerdict> = MODELS
        .iter()
        .enumerate()
        .map(|(position, (model, _))| ModelVerdict {
            model: (*model).into(),
            valid: if broken.is_some_and(|broken| position >= broken) {
                Validity::Invalid
            } else if undecided.is_some_and(|undecided| position >= undecided) {
                Validity::Unknown
            } else {
                Validity::Valid
            },
        })
        .collect();
    let strongest_satisfied = models
        .iter()
        .take_while(|verdict| verdict.valid == Validity::Valid)
        .last()
        .map(|verdict| verdict.model.clone());
    let weakest_violated = models
        .iter()
        .find(|verdict| verdict.valid == Validity::Invalid)
        .map(|verdict| verdict.model.clone());
    let mut transactions = BTreeMap::new();
    for txn in &txns {
        *transactions
            .entry(Label::from(outcome_name(txn.outcome)))
            .or_insert(0) += 1;
    }
    Ok(TxnReport {
        valid: models[target].valid,
        workload,
        model: options.model.name().into(),
        transactions,
        edges: graph.edge_count(),
        anomaly_types: anomaly_types.into_iter().map(Label::from).collect(),
        anomaly_counts: counts
            .into_iter()
            .map(|(name, count)| (Label::from(name), count))
            .collect(),
        anomalies,
        models,
        strongest_satisfied,
        weakest_violated,
        unknown_reason: search.cut_short.map(|stage| {
            format!(
                "the cycle search ran out of its {:.0} s while looking for {stage}",
                options.budget.time_limit.as_secs_f64()
            )
        }),
    })
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

/// Process edges: each committed transaction to the next committed one of
/// its process. Real-time edges: from each transaction to those invoked after
/// it completed, transitively reduced the way Elle does it — a transaction's
/// predecessors are the "frontier" of completed transactions when it is
/// invoked, and its completion retires those from the frontier.
fn add_orders(graph: &mut Graph, txns: &[Txn], committed: &[bool]) {
    let mut at: Vec<(usize, bool, usize)> = Vec::new();
    let mut last_of: rustc_hash::FxHashMap<u64, usize> = Default::default();
    let mut edges = Vec::new();
    for (id, txn) in txns.iter().enumerate() {
        if !committed[id] {
            continue;
        }
        if let Some(before) = last_of.insert(txn.process, id) {
            edges.push((before, id, PR));
        }
        at.push((txn.invoke, true, id));
        if let (Outcome::Ok, Some(completion)) = (txn.outcome, txn.completion) {
            at.push((completion, false, id));
        }
    }
    at.sort_unstable();
    let mut frontier: Vec<usize> = Vec::new();
    let mut predecessors: rustc_hash::FxHashMap<usize, Vec<usize>> = Default::default();
    for (_, invoked, id) in at {
        if invoked {
            for &before in &frontier {
                edges.push((before, id, RT));
            }
            predecessors.insert(id, frontier.clone());
        } else {
            let before = predecessors.remove(&id).unwrap_or_default();
            frontier.retain(|node| !before.contains(node));
            frontier.push(id);
        }
    }
    for (from, to, kind) in edges {
        graph.add(from, to, kind);
    }
    graph.seal();
}

fn txn_ref(history: &History, txns: &[Txn], id: usize, name: String) -> TxnRef {
    let txn = &txns[id];
    let event = match (txn.outcome, txn.completion) {
        (Outcome::Ok, Some(completion)) => &history.events[completion],
        _ => &history.events[txn.invoke],
    };
    TxnRef {
        name,
        index: history.events[txn.invoke].index,
        line: txn.line,
        process: txn.process,
        outcome: outcome_name(txn.outcome).into(),
        value: event.value.clone(),
    }
}

fn let_block(refs: &[TxnRef]) -> String {
    let mut text = String::from("Let:\n");
    for txn in refs {
        text.push_str(&format!(
            "  {} = process {} ({}, line {}): {}\n",
            txn.name, txn.process, txn.outcome, txn.line, txn.value
        ));
    }
    text
}

fn single_anomaly(
    history: &History,
    txns: &[Txn],
    name: &'static str,
    involved: &[usize],
    text: &str,
) -> Anomaly {
    let refs: Vec<TxnRef> = involved
        .iter()
        .enumerate()
        .map(|(number, &id)| txn_ref(history, txns, id, format!("T{}", number + 1)))
        .collect();
    let mut sentence = text.replace("{T}", "T1");
    sentence = sentence.replace("{U}", "T2");
    Anomaly {
        name: name.into(),
        explanation: format!("{}Then:\n  {sentence}.", let_block(&refs)),
        transactions: refs,
        steps: Vec::new(),
    }
}

fn kind_name(kind: Kinds) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PR => "process",
        _ => "rt",
    }
}

fn cycle_anomaly(history: &History, txns: &[Txn], index: &Index, cycle: &cycles::Cycle) -> Anomaly {
    let position: rustc_hash::FxHashMap<usize, usize> = cycle
        .nodes
        .iter()
        .enumerate()
        .map(|(number, &id)| (id, number))
        .collect();
    let name = |id: usize| format!("T{}", position[&id] + 1);
    let refs: Vec<TxnRef> = cycle
        .nodes
        .iter()
        .map(|&id| txn_ref(history, txns, id, name(id)))
        .collect();
    let mut steps = Vec::new();
    let mut text = let_block(&refs);
    text.push_str("Then:\n");
    let count = cycle.nodes.len();
    for (step, &from) in cycle.nodes.iter().enumerate() {
        let to = cycle.nodes[(step + 1) % count];
        let kind = cycle.kinds[step];
        let (key, because) = if kind == RT {
            (
                None,
                format!("{} completed before {} began", name(from), name(to)),
            )
        } else if kind == PR {
            (
                None,
                format!(
                    "process {} ran {} and then {}",
                    txns[from].process,
                    name(from),
                    name(to)
                ),
            )
        } else {
            match index.why(txns, from, to, kind, &name) {
                Some((key, because)) => (Some(key), because),
                None => (None, format!("of a {} dependency", kind_name(kind))),
            }
        };
        let lead = if step + 1 == count { "However, " } else { "" };
        let end = if step + 1 == count {
            ": a contradiction!"
        } else {
            "."
        };
        text.push_str(&format!(
            "  - {lead}{} < {}, because {because}{end}\n",
            name(from),
            name(to)
        ));
        steps.push(Step {
            from: name(from),
            to: name(to),
            kind: kind_name(kind).into(),
            key: key.map(|key| match key {
                Atom::Int(number) => Value::from(number),
                Atom::Text(text) => Value::from(text),
                Atom::Other(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            }),
            explanation: because,
        });
    }
    Anomaly {
        name: cycle.name.into(),
        transactions: refs,
        steps,
        explanation: text.trim_end().to_string(),
    }
}
