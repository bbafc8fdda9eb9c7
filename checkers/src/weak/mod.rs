//! Weak consistency models for register and key-value histories with unique
//! written values: sequential consistency, causal consistency in the three
//! variants of Bouajjani et al. (POPL 2017) — CCv (causal convergence), CM
//! (causal memory) and CC — and the four session guarantees of Terry et al.
//! Each verdict that is `invalid` comes with a witness: the bad pattern named,
//! the few operations in it, and what they break, in plain words.
//!
//! The verdicts respect the hierarchy sequential ⇒ CCv and CM ⇒ CC ⇒ each
//! session guarantee: a pattern found for a weaker model is reported for every
//! stronger one.
//!
//! ```
//! use checkers::weak;
//! use checkers::{Budget, Validity};
//! use histories::HistoryBuilder;
//! use serde_json::json;
//!
//! // p0 writes 1 then reads the initial value: it did not read its own write.
//! let history = HistoryBuilder::new()
//!     .invoke(0, "write", json!(1))
//!     .ok(0, "write", json!(1))
//!     .invoke(0, "read", json!(null))
//!     .ok(0, "read", json!(null))
//!     .build()
//!     .unwrap();
//! let verdicts = weak::check(&history, &weak::MODELS, &Budget::default());
//! let ryw = verdicts.iter().find(|v| v.model == "read-your-writes").unwrap();
//! assert_eq!(ryw.valid, Validity::Invalid);
//! let cc = verdicts.iter().find(|v| v.model == "causal-cc").unwrap();
//! assert_eq!(cc.witness.as_ref().unwrap().pattern, "WriteCOInitRead");
//! ```

mod causal;
mod ops;
mod sequential;
mod session;

use crate::{Budget, Label, Validity};
use histories::History;
use ops::{Clocks, OpId, Ops};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Instant;

/// The models, strongest first.
pub const MODELS: [&str; 8] = [
    "sequential",
    "causal-ccv",
    "causal-cm",
    "causal-cc",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

/// A pattern found, with `{i}` in its text naming `ops[i]`.
#[derive(Debug, Clone)]
pub struct Finding {
    pattern: &'static str,
    ops: Vec<OpId>,
    text: String,
}

impl Finding {
    fn new(pattern: &'static str, ops: Vec<OpId>, text: String) -> Finding {
        Finding { pattern, ops, text }
    }
}

/// The placeholder (`{i}`) naming `id` in a finding's text, adding it to the
/// finding's operations if it is not there yet.
fn placeholder(involved: &mut Vec<OpId>, id: OpId) -> String {
    let position = involved.iter().position(|&o| o == id).unwrap_or_else(|| {
        involved.push(id);
        involved.len() - 1
    });
    format!("{{{position}}}")
}

/// An operation of a witness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpRef {
    /// Its name in the explanation: `A`, `B`, ….
    pub name: String,
    /// The process.
    pub process: u64,
    /// `read` or `write` (a cas shows as its read and its write).
    pub f: Label,
    /// The key (`null` for a single register).
    pub key: Value,
    /// The value read or written (`null`: the initial value).
    pub value: Value,
    /// The invocation's `index` in the history.
    pub index: u64,
    /// The invocation's line.
    pub line: usize,
}

/// Why a model does not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeakWitness {
    /// The bad pattern: `WriteCORead`, `CyclicCF`, `read-your-writes`, ….
    pub pattern: Label,
    /// The operations in it.
    pub operations: Vec<OpRef>,
    /// The argument in plain words.
    pub explanation: String,
}

/// One model's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeakVerdict {
    /// The model.
    pub model: Label,
    /// Whether the history satisfies it.
    pub valid: Validity,
    /// For `invalid`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<WeakWitness>,
    /// For `unknown`, or a verdict taken from another model: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn verdict(
    model: &'static str,
    finding: Option<(&Finding, Option<String>)>,
    render: &dyn Fn(&Finding) -> WeakWitness,
) -> WeakVerdict {
    match finding {
        None => WeakVerdict {
            model: model.into(),
            valid: Validity::Valid,
            witness: None,
            reason: None,
        },
        Some((finding, reason)) => WeakVerdict {
            model: model.into(),
            valid: Validity::Invalid,
            witness: Some(render(finding)),
            reason,
        },
    }
}

fn unknown(model: &'static str, reason: &str) -> WeakVerdict {
    WeakVerdict {
        model: model.into(),
        valid: Validity::Unknown,
        witness: None,
        reason: Some(reason.to_string()),
    }
}

/// Checks `history` against each of `models` (names from [`MODELS`]; others
/// are ignored), in [`MODELS`] order.
pub fn check(history: &History, models: &[&str], budget: &Budget) -> Vec<WeakVerdict> {
    check_given(history, models, budget, false)
}

/// As [`check`], knowing whether the history is linearizable: if it is, it
/// satisfies every model here (each is implied by linearizability) and no
/// analysis runs. Otherwise each analysis runs only if a model asked for
/// needs it: the session guarantees need the causal order's clocks; CC needs
/// those and its patterns; CCv and CM need CC's; sequential needs all three.
pub fn check_given(
    history: &History,
    models: &[&str],
    budget: &Budget,
    linearizable: bool,
) -> Vec<WeakVerdict> {
    let started = Instant::now();
    let wanted: Vec<&'static str> = MODELS
        .iter()
        .copied()
        .filter(|model| models.contains(model))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    // Linearizability implies every model here for reads, writes and cas,
    // whether or not their values could be traced.
    if linearizable && ops::registers_only(history) {
        return wanted
            .iter()
            .map(|model| WeakVerdict {
                model: (*model).into(),
                valid: Validity::Valid,
                witness: None,
                reason: Some("implied: the history is linearizable".to_string()),
            })
            .collect();
    }
    work::record("ops");
    let ops = match Ops::of(history) {
        Ok(ops) => ops,
        Err(ops::Unsupported(reason)) => {
            return wanted.iter().map(|model| unknown(model, &reason)).collect();
        }
    };
    let asked = |names: &[&str]| wanted.iter().any(|model| names.contains(model));
    let needs_sequential = asked(&["sequential"]);
    let needs_ccv = needs_sequential || asked(&["causal-ccv"]);
    let needs_cm = needs_sequential || asked(&["causal-cm"]);
    let needs_cc = needs_ccv || needs_cm || asked(&["causal-cc"]);
    let needs_sessions = asked(&session::GUARANTEES);
    let render = |finding: &Finding| render(history, &ops, finding);
    // The causal order's clocks when it is acyclic (a thin-air read has no
    // source and so adds no edge), and CC's patterns.
    let mut clocks = None;
    let mut cc_finding = None;
    let mut forced = None;
    if needs_cc || needs_sessions {
        work::record("clocks");
        // In invocation order where the order allows: CM recomputes clocks
        // over windows of it, which then stay close to real time.
        let invoked: Vec<usize> = ops
            .ops
            .iter()
            .map(|op| history.operations[op.operation].invoke)
            .collect();
        match Clocks::of_by(&ops, &Default::default(), &invoked) {
            Err(cycle) => {
                cc_finding = Some(causal::cyclic(&ops, &cycle, "CyclicCO", "causal order"));
            }
            Ok(found) => {
                if needs_cc {
                    work::record("causal-cc");
                    match causal::thin_air(&ops) {
                        Some(finding) => cc_finding = Some(finding),
                        None => match causal::cc(&ops, &found) {
                            causal::Causal::Violation(finding) => cc_finding = Some(finding),
                            causal::Causal::Consistent(edges) => forced = Some(edges),
                        },
                    }
                }
                clocks = Some(found);
            }
        }
    }
    let implied = |weaker: &str| {
        Some(format!(
            "implied: the pattern breaks {weaker}, which this model implies"
        ))
    };
    let ccv_finding = match (&cc_finding, &forced) {
        (Some(finding), _) => Some((finding.clone(), implied("causal-cc"))),
        (None, Some(forced)) if needs_ccv => {
            work::record("causal-ccv");
            causal::ccv(&ops, forced).map(|finding| (finding, None))
        }
        _ => None,
    };
    let cm_finding = match (&cc_finding, &clocks) {
        (Some(finding), _) => Some((finding.clone(), implied("causal-cc"))),
        (None, Some(clocks)) if needs_cm => {
            work::record("causal-cm");
            causal::cm(&ops, clocks).map(|finding| (finding, None))
        }
        _ => None,
    };
    let sessions = match &clocks {
        Some(clocks) if needs_sessions => {
            work::record("sessions");
            Some(session::check(&ops, clocks))
        }
        _ => None,
    };
    let mut verdicts = Vec::new();
    for model in wanted {
        let result = match model {
            "sequential" => {
                if let Some((finding, _)) = ccv_finding.as_ref().or(cm_finding.as_ref()) {
                    verdict(
                        model,
                        Some((
                            finding,
                            Some(
                                "the causal pattern already rules out a sequential order"
                                    .to_string(),
                            ),
                        )),
                        &render,
                    )
                } else if ops.keys.len() <= 1 {
                    work::record("sequential");
                    match sequential::single_key(&ops) {
                        sequential::Sequential::Invalid(finding) => {
                            verdict(model, Some((&finding, None)), &render)
                        }
                        _ => verdict(model, None, &render),
                    }
                } else {
                    work::record("sequential");
                    match sequential::search(&ops, started + budget.time_limit) {
                        sequential::Sequential::Valid => verdict(model, None, &render),
                        sequential::Sequential::Invalid(finding) => {
                            verdict(model, Some((&finding, None)), &render)
                        }
                        sequential::Sequential::Unknown(states, placed) => unknown(
                            model,
                            &format!(
                                "the search for a sequential order ran out of its {:.0} s after {states} frontiers, having placed at most {placed} of {} operations",
                                budget.time_limit.as_secs_f64(),
                                ops.ops.len()
                            ),
                        ),
                    }
                }
            }
            "causal-ccv" => verdict(
                model,
                ccv_finding.as_ref().map(|(f, r)| (f, r.clone())),
                &render,
            ),
            "causal-cm" => verdict(
                model,
                cm_finding.as_ref().map(|(f, r)| (f, r.clone())),
                &render,
            ),
            "causal-cc" => verdict(model, cc_finding.as_ref().map(|f| (f, None)), &render),
            guarantee => {
                let position = session::GUARANTEES
                    .iter()
                    .position(|name| *name == guarantee)
                    .expect("a session guarantee");
                match &sessions {
                    Some(found) => {
                        verdict(model, found[position].as_ref().map(|f| (f, None)), &render)
                    }
                    None => unknown(
                        model,
                        "the causal order is cyclic (see causal-cc), so which write is older is undefined",
                    ),
                }
            }
        };
        verdicts.push(result);
    }
    verdicts
}

/// Which analyses ran, counted per thread: tests use it to prove that a check
/// did only the work its models need.
pub mod work {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        static RUN: RefCell<BTreeMap<&'static str, usize>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(super) fn record(analysis: &'static str) {
        RUN.with(|run| *run.borrow_mut().entry(analysis).or_default() += 1);
    }

    /// The analyses run on this thread since the last call, with how often;
    /// resets the counts.
    pub fn take() -> BTreeMap<&'static str, usize> {
        RUN.with(|run| std::mem::take(&mut *run.borrow_mut()))
    }
}

/// Names the finding's operations `A`, `B`, … and spells the argument out.
fn render(history: &History, ops: &Ops, finding: &Finding) -> WeakWitness {
    let name = |position: usize| -> String {
        let letter = (b'A' + (position % 26) as u8) as char;
        if position < 26 {
            letter.to_string()
        } else {
            format!("{letter}{}", position / 26)
        }
    };
    let operations: Vec<OpRef> = finding
        .ops
        .iter()
        .enumerate()
        .map(|(position, &id)| {
            let op = &ops.ops[id];
            let operation = &history.operations[op.operation];
            OpRef {
                name: name(position),
                process: ops.sessions[op.session].0,
                f: if op.is_write() { "write" } else { "read" }.into(),
                key: ops.keys[op.key].clone(),
                value: op.value.clone(),
                index: history.events[operation.invoke].index,
                line: history.lines[operation.invoke],
            }
        })
        .collect();
    let mut text = finding.text.clone();
    for position in (0..finding.ops.len()).rev() {
        text = text.replace(&format!("{{{position}}}"), &name(position));
    }
    let mut explanation = String::new();
    if !operations.is_empty() {
        explanation.push_str("Let:\n");
        for op in &operations {
            let key = if op.key.is_null() {
                String::new()
            } else {
                format!(" key {}", op.key)
            };
            let value = if op.value.is_null() {
                "the initial value".to_string()
            } else {
                op.value.to_string()
            };
            explanation.push_str(&format!(
                "  {} = process {} {}{key} {value} (line {})\n",
                op.name, op.process, op.f, op.line
            ));
        }
        explanation.push_str("Then:\n  ");
    }
    explanation.push_str(&text);
    explanation.push('.');
    WeakWitness {
        pattern: finding.pattern.into(),
        operations,
        explanation,
    }
}
