//! Witnesses: what a user needs to see why a key is not linearizable.

use super::Options;
use super::search::DeadEnd;
use super::shrink;
use crate::Label;
use crate::budget::Meter;
use crate::models::{self, Spec, State, show};
use histories::{Event, History, Outcome, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// How long shrinking one witness may take at most.
const SHRINK_TIME_LIMIT: Duration = Duration::from_secs(10);
/// How many steps of the longest linearization a witness lists.
const STEPS_SHOWN: usize = 50;

/// An operation as a witness shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperationSummary {
    /// The client process.
    pub process: Process,
    /// Its function.
    pub f: String,
    /// The invocation's value.
    pub value: Value,
    /// The completion's value, when it completed `ok`.
    #[serde(
        default,
        deserialize_with = "crate::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<Value>,
    /// `ok` or `info` (`fail` operations never take part).
    pub outcome: Label,
    /// The invocation's index in the history.
    pub invoke_index: u64,
    /// The completion's index, if it completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_index: Option<u64>,
    /// The invocation's line in the file.
    pub invoke_line: usize,
    /// The completion's line, if it completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_line: Option<usize>,
    /// In plain words, e.g. `p3 read → 4`.
    pub description: String,
}

/// One step of a linearization and the state after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    /// The operation that took effect.
    pub operation: OperationSummary,
    /// The model state after it.
    pub state: String,
}

/// Why one key is not linearizable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Witness {
    /// The key.
    pub key: Value,
    /// Always `not-linearizable`.
    pub anomaly: Label,
    /// The operation no order can place.
    pub operation: OperationSummary,
    /// The state at the furthest point the search reached.
    pub state: String,
    /// Why the operation cannot take effect there.
    pub reason: String,
    /// The whole story in plain words.
    pub explanation: String,
    /// The longest linearization found in the minimal history (its last steps
    /// when it is long).
    pub longest_linearization: Vec<Step>,
    /// Its full length.
    pub linearization_length: usize,
    /// The smallest sub-history found that fails the same way, as events.
    pub minimal_history: Vec<Event>,
    /// Whether no single operation can be removed from it (false when shrinking
    /// was skipped or ran out of time).
    pub minimal: bool,
    /// Operations on this key in the whole history (`fail` ones excluded).
    pub key_operations: usize,
}

/// Builds the witness for one invalid key, shrinking it when `shrink` is set
/// (to the configurations the key's search explored).
pub(super) fn build(
    history: &History,
    options: &Options,
    meter: &Meter,
    key: &Value,
    operations: &[usize],
    dead_end: &DeadEnd,
    shrink: Option<u64>,
) -> Witness {
    let (subset, dead_end, minimal) = if let Some(configurations) = shrink {
        let time_limit = meter.remaining().min(SHRINK_TIME_LIMIT);
        let shrunk = shrink::shrink(
            history,
            options,
            operations,
            dead_end,
            configurations,
            time_limit,
        );
        (shrunk.operations, shrunk.dead_end, shrunk.minimal)
    } else {
        (operations.to_vec(), dead_end.clone(), false)
    };
    let mut spec = models::compile(options.model, &options.model_options, history, &subset)
        .expect("the partition compiled before");
    let (states, reason) = replay(&mut spec, &dead_end);
    let culprit = summarize(history, subset[dead_end.culprit]);
    let steps: Vec<Step> = dead_end
        .path
        .iter()
        .zip(&states[1..])
        .map(|(&local, state)| Step {
            operation: summarize(history, subset[local]),
            state: state.clone(),
        })
        .collect();
    let final_state = states.last().cloned().unwrap_or_default();
    let explanation = explain(
        key,
        &culprit,
        &steps,
        &final_state,
        &reason,
        subset.len(),
        operations.len(),
    );
    let shown_from = steps.len().saturating_sub(STEPS_SHOWN);
    let mut minimal_events: Vec<(usize, &Event)> = Vec::new();
    for &index in &subset {
        let operation = &history.operations[index];
        minimal_events.push((operation.invoke, &history.events[operation.invoke]));
        if let Some(completion) = operation.completion {
            minimal_events.push((completion, &history.events[completion]));
        }
    }
    minimal_events.sort_by_key(|(position, _)| *position);
    Witness {
        key: key.clone(),
        anomaly: "not-linearizable".into(),
        operation: culprit,
        state: final_state,
        reason,
        explanation,
        linearization_length: steps.len(),
        longest_linearization: steps[shown_from..].to_vec(),
        minimal_history: minimal_events
            .into_iter()
            .map(|(_, event)| event.clone())
            .collect(),
        minimal,
        key_operations: operations.len(),
    }
}

/// The states along the dead end's path (the initial one first) and why the
/// culprit cannot follow it.
fn replay<S: Spec>(spec: &mut S, dead_end: &DeadEnd) -> (Vec<String>, String) {
    let mut state: State = spec.initial();
    let mut states = vec![spec.describe_state(state)];
    for &local in &dead_end.path {
        state = spec
            .step(state, local)
            .expect("a found linearization replays");
        states.push(spec.describe_state(state));
    }
    (states, spec.rejection(state, dead_end.culprit))
}

fn summarize(history: &History, index: usize) -> OperationSummary {
    let operation = &history.operations[index];
    let invocation = history.invocation(operation);
    let completion = history.completion(operation);
    let result = match operation.outcome {
        Outcome::Ok => completion.map(|event| event.value.clone()),
        _ => None,
    };
    OperationSummary {
        process: invocation.process,
        f: invocation.f.clone(),
        value: invocation.value.clone(),
        description: describe(invocation, result.as_ref(), operation.outcome),
        result,
        outcome: match operation.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
        .into(),
        invoke_index: invocation.index,
        completion_index: completion.map(|event| event.index),
        invoke_line: history.line(operation.invoke),
        completion_line: operation.completion.map(|position| history.line(position)),
    }
}

/// `p3 read → 4`, `p1 write 3`, `p2 cas 1→4 (indeterminate)`.
pub fn describe(invocation: &Event, result: Option<&Value>, outcome: Outcome) -> String {
    let action = match (invocation.value.as_array().map(Vec::as_slice), result) {
        (Some([from, to]), _) if invocation.f == "cas" => {
            format!("cas {}→{}", show(from), show(to))
        }
        (_, Some(result)) if invocation.value.is_null() => {
            format!("{} → {}", invocation.f, show(result))
        }
        _ if invocation.value.is_null() => invocation.f.clone(),
        _ => format!("{} {}", invocation.f, show(&invocation.value)),
    };
    let suffix = if outcome == Outcome::Info {
        " (indeterminate)"
    } else {
        ""
    };
    format!("{} {action}{suffix}", invocation.process)
}

fn explain(
    key: &Value,
    culprit: &OperationSummary,
    steps: &[Step],
    state: &str,
    reason: &str,
    minimal_count: usize,
    key_count: usize,
) -> String {
    let key = if key.is_null() {
        String::new()
    } else {
        format!(" on key {}", show(key))
    };
    let lines = match culprit.completion_line {
        Some(end) => format!("lines {}–{end}", culprit.invoke_line),
        None => format!("line {}", culprit.invoke_line),
    };
    let furthest = if steps.is_empty() {
        format!("it cannot even go first: the state starts at {state}")
    } else {
        let shown: Vec<&str> = steps
            .iter()
            .map(|step| step.operation.description.as_str())
            .collect();
        let list = if shown.len() > 6 {
            format!(
                "{} operations, ending {}",
                shown.len(),
                shown[shown.len() - 3..].join(", ")
            )
        } else {
            shown.join(", ")
        };
        format!("the furthest any order gets is {list}, which leaves the state at {state}")
    };
    format!(
        "Not linearizable{key}: {} ({lines}) cannot be placed. Every order that respects real time \
         (an operation that completed before another was invoked takes effect first), with any choice \
         of which indeterminate operations happened, gets stuck before it; {furthest}, and there \
         {} cannot take effect because {reason}. The history below ({minimal_count} of the key's \
         {key_count} operations) is enough to show it.",
        culprit.description, culprit.description
    )
}
