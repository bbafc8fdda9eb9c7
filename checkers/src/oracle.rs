//! A brute-force linearizability oracle, written from the definition, for tests.
//!
//! It tries every order: repeatedly pick any remaining operation that no remaining
//! completed operation must precede (one that returned before it was invoked),
//! apply it to the model, and recurse; indeterminate operations may also be left
//! out, and `fail` ones are. No caching, no shortcuts, and its own model code on
//! JSON values, so that it shares nothing with the real search but the history.
//! Exponential: keep histories to about ten operations.

use crate::ModelKind;
use histories::{History, Outcome};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether `history` is linearizable for `model` with the given initial value
/// (`null` for registers, `""` for kv when `None`), checking each key alone.
pub fn is_linearizable(history: &History, model: ModelKind, initial: Option<&Value>) -> bool {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, operation) in history.operations.iter().enumerate() {
        if operation.outcome != Outcome::Fail {
            let key = history
                .key(operation)
                .map_or_else(String::new, Value::to_string);
            by_key.entry(key).or_default().push(index);
        }
    }
    let start = match (model, initial) {
        (ModelKind::Kv, None) => Value::String(String::new()),
        (ModelKind::Mutex, _) => Value::Bool(false),
        (_, initial) => initial.cloned().unwrap_or(Value::Null),
    };
    by_key.values().all(|operations| {
        explore(
            history,
            model,
            operations,
            &mut vec![false; operations.len()],
            &start,
        )
    })
}

fn explore(
    history: &History,
    model: ModelKind,
    operations: &[usize],
    done: &mut Vec<bool>,
    state: &Value,
) -> bool {
    let pending_ok = operations
        .iter()
        .zip(done.iter())
        .any(|(&index, &done)| !done && history.operations[index].outcome == Outcome::Ok);
    if !pending_ok {
        return true;
    }
    for slot in 0..operations.len() {
        if done[slot] {
            continue;
        }
        let candidate = &history.operations[operations[slot]];
        // A remaining completed operation that returned before this one was
        // invoked must take effect first.
        let must_wait = operations.iter().zip(done.iter()).any(|(&index, &done)| {
            let other = &history.operations[index];
            !done
                && other.outcome == Outcome::Ok
                && other.completion.is_some_and(|end| end < candidate.invoke)
        });
        if must_wait {
            continue;
        }
        if let Some(next) = apply(history, model, operations[slot], state) {
            done[slot] = true;
            let found = explore(history, model, operations, done, &next);
            done[slot] = false;
            if found {
                return true;
            }
        }
    }
    false
}

/// The model, on JSON values: the state after the operation, or `None`.
fn apply(history: &History, model: ModelKind, index: usize, state: &Value) -> Option<Value> {
    let operation = &history.operations[index];
    let invocation = history.invocation(operation);
    let output = (operation.outcome == Outcome::Ok)
        .then(|| &history.completion(operation).expect("ok completes").value);
    let input = &invocation.value;
    match (model, invocation.f.as_str()) {
        (ModelKind::Register | ModelKind::CasRegister, "read")
        | (ModelKind::Kv, "get" | "read") => {
            let read = output.map(|value| {
                if model == ModelKind::Kv && value.is_null() {
                    Value::String(String::new())
                } else {
                    value.clone()
                }
            });
            match read {
                Some(value) if &value != state => None,
                _ => Some(state.clone()),
            }
        }
        (ModelKind::Register | ModelKind::CasRegister, "write")
        | (ModelKind::Kv, "put" | "write") => Some(input.clone()),
        (ModelKind::CasRegister, "cas") => {
            let (from, to) = (&input[0], &input[1]);
            if state == from {
                Some(to.clone())
            } else if output.is_some() {
                None
            } else {
                Some(state.clone())
            }
        }
        (ModelKind::Kv, "append") => Some(Value::String(format!(
            "{}{}",
            state.as_str().unwrap_or_default(),
            input.as_str().unwrap_or_default()
        ))),
        (ModelKind::Mutex, "acquire") => {
            (state == &Value::Bool(false)).then_some(Value::Bool(true))
        }
        (ModelKind::Mutex, "release") => {
            (state == &Value::Bool(true)).then_some(Value::Bool(false))
        }
        _ => None,
    }
}
