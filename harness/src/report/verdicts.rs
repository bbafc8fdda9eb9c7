//! The verdicts of a stored run, read from its `results.json`, as the report,
//! the JUnit file and the Markdown summary show them: one row per checker or
//! model, and the witnesses the rows link to, each with the operations it names
//! placed back in the history's time.

use crate::checking::CheckResults;
use checkers::Validity;
use checkers::linearizable::{Report, Witness};
use checkers::txn::TxnReport;
use checkers::weak::WeakVerdict;
use histories::{EventType, History, Outcome, Process};
use serde_json::Value;
use std::collections::HashMap;

/// One checker's or model's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `linearizable`, `causal-cc`, `serializable`, ….
    pub name: String,
    /// `valid`, `invalid` or `unknown`.
    pub valid: &'static str,
    /// A line of detail: the anomaly's name, the keys broken, why unknown.
    pub detail: String,
    /// Index into [`Verdicts::witnesses`] of the witness that shows it.
    pub witness: Option<usize>,
}

/// A witness with its operations.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessView {
    /// Its anchor in the page: `w1`, `w2`, ….
    pub anchor: String,
    /// `linearizable: key "k3"`, `causal-cc: WriteCORead`, `G-single`.
    pub title: String,
    /// The checker's explanation, in its words.
    pub explanation: String,
    /// The operations it names.
    pub ops: Vec<WitnessOp>,
}

/// An operation of a witness.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessOp {
    /// The process.
    pub process: u64,
    /// Invocation time, ns.
    pub start_ns: i64,
    /// Completion time, ns; none if it never completed.
    pub end_ns: Option<i64>,
    /// `ok`, `fail` or `info`.
    pub outcome: &'static str,
    /// What it did, with its name in the explanation.
    pub label: String,
    /// Its place in the order the checker tried, from 1.
    pub order: Option<usize>,
    /// The operation that cannot be placed, or the one the anomaly is about.
    pub culprit: bool,
}

/// Every row and witness of a run's results.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// The merged verdict.
    pub valid: &'static str,
    /// Rows, the strongest model first.
    pub rows: Vec<Row>,
    /// Witnesses, without repeats.
    pub witnesses: Vec<WitnessView>,
}

/// The verdicts in `results` for `history`.
pub fn gather(results: &CheckResults, history: &History) -> Verdicts {
    let mut verdicts = Verdicts {
        valid: results.valid.name(),
        ..Verdicts::default()
    };
    let index = HistoryIndex::new(history);
    let checkers = &results.checkers;
    if let Some(report) = &checkers.linearizable {
        linearizable_rows(&mut verdicts, report, &index);
    }
    if let Some(report) = &checkers.transactional {
        transactional_rows(&mut verdicts, report, &index);
    }
    for verdict in &checkers.profile {
        profile_row(&mut verdicts, verdict, &index);
    }
    verdicts
}

impl Verdicts {
    /// Adds a witness unless the same one is there already; its index.
    fn add_witness(&mut self, mut view: WitnessView) -> usize {
        if let Some(found) = self
            .witnesses
            .iter()
            .position(|known| known.explanation == view.explanation && known.ops == view.ops)
        {
            return found;
        }
        view.anchor = format!("w{}", self.witnesses.len() + 1);
        self.witnesses.push(view);
        self.witnesses.len() - 1
    }
}

fn linearizable_rows(verdicts: &mut Verdicts, report: &Report, index: &HistoryIndex) {
    let valid = report.valid.name();
    let keys = report.keys;
    let detail = match report.valid {
        Validity::Valid => format!("all {keys} key(s) linearizable"),
        Validity::Invalid => format!(
            "{} of {keys} key(s) not linearizable{}",
            report.invalid_keys.len(),
            crate::checking::render::not_checked(report)
        ),
        Validity::Unknown => format!(
            "{} of {keys} key(s) undecided: {}",
            report.unknown_keys.len(),
            report.unknown_reason.as_deref().unwrap_or("")
        ),
    };
    let mut first = None;
    for witness in &report.witnesses {
        let added = verdicts.add_witness(linearizable_witness(witness, index));
        first.get_or_insert(added);
    }
    verdicts.rows.push(Row {
        name: "linearizable".to_string(),
        valid,
        detail,
        witness: first,
    });
}

fn linearizable_witness(witness: &Witness, index: &HistoryIndex) -> WitnessView {
    // The witness lists the last steps of the longest order; number them as
    // their place in the whole order.
    let steps = &witness.longest_linearization;
    let skipped = witness.linearization_length.saturating_sub(steps.len());
    let order: HashMap<u64, usize> = steps
        .iter()
        .enumerate()
        .map(|(position, step)| (step.operation.invoke_index, skipped + position + 1))
        .collect();
    let culprit = witness.operation.invoke_index;
    let ops = witness
        .minimal_history
        .iter()
        .filter(|event| event.kind == EventType::Invoke)
        .filter_map(|event| {
            let mut op = index.op(event.index, None)?;
            op.order = order.get(&event.index).copied();
            op.culprit = event.index == culprit;
            Some(op)
        })
        .collect();
    WitnessView {
        anchor: String::new(),
        title: if witness.key.is_null() {
            "linearizable".to_string()
        } else {
            format!("linearizable: key {}", show(&witness.key))
        },
        explanation: witness.explanation.clone(),
        ops,
    }
}

fn transactional_rows(verdicts: &mut Verdicts, report: &TxnReport, index: &HistoryIndex) {
    let mut first = None;
    for anomaly in &report.anomalies {
        let ops = anomaly
            .transactions
            .iter()
            .enumerate()
            .filter_map(|(position, txn)| {
                let mut op = index.op(txn.index, Some(&txn.name))?;
                op.order = Some(position + 1);
                op.culprit = position == 0;
                Some(op)
            })
            .collect();
        let added = verdicts.add_witness(WitnessView {
            anchor: String::new(),
            title: anomaly.name.to_string(),
            explanation: anomaly.explanation.clone(),
            ops,
        });
        first.get_or_insert(added);
    }
    let found: Vec<String> = report
        .anomaly_counts
        .iter()
        .map(|(name, count)| format!("{name} ×{count}"))
        .collect();
    // Models are listed weakest first; the table shows the strongest first.
    for model in report.models.iter().rev() {
        let detail = match model.valid {
            Validity::Invalid => format!("anomalies: {}", found.join(", ")),
            Validity::Unknown => report.unknown_reason.clone().unwrap_or_default(),
            Validity::Valid => String::new(),
        };
        verdicts.rows.push(Row {
            name: model.model.to_string(),
            valid: model.valid.name(),
            detail,
            witness: if model.valid == Validity::Invalid {
                first
            } else {
                None
            },
        });
    }
}

fn profile_row(verdicts: &mut Verdicts, verdict: &WeakVerdict, index: &HistoryIndex) {
    let name = verdict.model.to_string();
    let reason = verdict.reason.as_deref();
    let pattern = verdict
        .witness
        .as_ref()
        .map(|witness| witness.pattern.as_str());
    let detail = match (pattern, reason) {
        (Some(pattern), Some(reason)) => format!("{pattern} ({reason})"),
        (Some(pattern), None) => pattern.to_string(),
        (None, Some(reason)) => reason.to_string(),
        (None, None) => String::new(),
    };
    let witness = verdict.witness.as_ref().map(|witness| {
        let mut ops: Vec<WitnessOp> = Vec::new();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for op in &witness.operations {
            let (at, label) = (op.index, op.name.as_str());
            // A cas is named twice, as its read and its write: one bar.
            if let Some(&known) = seen.get(&at) {
                ops[known].label = format!("{label}/{}", ops[known].label);
                continue;
            }
            if let Some(mut found) = index.op(at, Some(label)) {
                found.culprit = ops.is_empty();
                seen.insert(at, ops.len());
                ops.push(found);
            }
        }
        verdicts.add_witness(WitnessView {
            anchor: String::new(),
            title: format!("{name}: {}", witness.pattern),
            explanation: witness.explanation.clone(),
            ops,
        })
    });
    verdicts.rows.push(Row {
        name,
        valid: verdict.valid.name(),
        detail,
        witness,
    });
}

/// A value for people: plain strings quoted, `absent` for null.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "absent".to_string(),
        other => other.to_string(),
    }
}

/// Finds operations by their invocation's `index`.
struct HistoryIndex<'a> {
    history: &'a History,
    by_index: HashMap<u64, usize>,
}

impl<'a> HistoryIndex<'a> {
    fn new(history: &'a History) -> HistoryIndex<'a> {
        let by_index = history
            .operations
            .iter()
            .enumerate()
            .map(|(position, operation)| (history.invocation(operation).index, position))
            .collect();
        HistoryIndex { history, by_index }
    }

    /// The operation invoked at `index`, labelled `name: what it did`.
    fn op(&self, index: u64, name: Option<&str>) -> Option<WitnessOp> {
        let operation = &self.history.operations[*self.by_index.get(&index)?];
        let invocation = self.history.invocation(operation);
        let Process::Client(process) = invocation.process else {
            return None;
        };
        let what = super::data::cut(&super::data::describe(self.history, operation), 60);
        Some(WitnessOp {
            process,
            start_ns: invocation.time_ns,
            end_ns: self
                .history
                .completion(operation)
                .map(|completion| completion.time_ns),
            outcome: match operation.outcome {
                Outcome::Ok => "ok",
                Outcome::Fail => "fail",
                Outcome::Info => "info",
            },
            label: match name {
                Some(name) => format!("{name}: {what}"),
                None => what,
            },
            order: None,
            culprit: false,
        })
    }
}
