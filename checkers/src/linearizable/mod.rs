//! The linearizability checker.
//!
//! A history is linearizable when every `ok` operation, and any subset of the
//! indeterminate (`info`) ones, can be given a point in time between its
//! invocation and its completion such that the operations, taken in that order,
//! are a legal run of the model. `fail` operations never happened and are left out.
//!
//! Histories over many keys are split by key (P-compositionality: for registers
//! and key-value maps a history is linearizable iff each key's is) and the keys
//! are checked in parallel on all cores. Every key is checked to the end, so the
//! result does not depend on which thread finishes first.

mod plain;
mod search;
mod shrink;
mod witness;

pub use witness::{OperationSummary, Step, Witness, describe as describe_operation};

use crate::Label;
use crate::budget::{Budget, Exhausted, Meter};
use crate::models::{self, AnySpec, ModelError, ModelKind, ModelOptions};
use crate::verdict::Validity;
use histories::{History, Outcome};
use search::{SearchOp, Stats};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sequential specification.
    pub model: ModelKind,
    /// Its initial value.
    pub model_options: ModelOptions,
    /// Limits; exhausting one gives `unknown`.
    pub budget: Budget,
    /// Threads for checking keys in parallel; 0 means one per core.
    pub threads: usize,
    /// How many invalid keys get a shrunk, minimal witness (the rest get the
    /// operation that could not be placed).
    pub witnesses_shrunk: usize,
    /// Which search to run.
    pub algorithm: Algorithm,
}

/// The search algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Wing–Gong–Lowe with this crate's rules for indeterminate operations.
    #[default]
    Faultline,
    /// Porcupine's algorithm as published: the baseline for benchmarks and a
    /// second search for tests. Its witnesses carry no linearization.
    Plain,
}

impl Options {
    /// Defaults for `model`: absent initial value, the default budget, all cores,
    /// three shrunk witnesses.
    pub fn new(model: ModelKind) -> Options {
        Options {
            model,
            model_options: ModelOptions::default(),
            budget: Budget::default(),
            threads: 0,
            witnesses_shrunk: 3,
            algorithm: Algorithm::Faultline,
        }
    }
}

/// The result of a linearizability check. Its JSON form is documented in the
/// README (`faultline check --json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always `linearizable`.
    pub checker: Label,
    /// The model checked against.
    pub model: ModelKind,
    /// The verdict over all keys.
    pub valid: Validity,
    /// Independent keys (partitions) checked.
    pub keys: usize,
    /// Client operations in the history, `fail` ones included.
    pub operations: usize,
    /// Keys with no linearization, in key order.
    pub invalid_keys: Vec<Value>,
    /// Keys whose check ran out of budget, in key order.
    pub unknown_keys: Vec<Value>,
    /// Why those keys are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    /// One witness per invalid key, in key order.
    pub witnesses: Vec<Witness>,
    /// Distinct configurations the searches explored.
    pub configurations: u64,
}

/// One key's share of a history.
struct Partition {
    key: Value,
    /// Indices into `history.operations`, `fail` ones left out.
    operations: Vec<usize>,
}

enum KeyResult {
    Valid,
    Invalid(search::DeadEnd),
    Unknown(Exhausted),
    /// Stopped at the first phase's configuration cap.
    Capped,
    /// The checker itself failed (panicked) on this key.
    Failed(String),
}

/// Configurations each key may explore before the others have been tried once.
/// Most keys finish far below it; a key that does not is checked to the end only
/// if no other key is invalid, since one invalid key already decides the verdict.
/// A count, not a time, so that the result never depends on the machine.
const FIRST_PHASE_CAP: u64 = 200_000;

/// Checks `history` for linearizability against `options.model`.
///
/// # Errors
/// [`ModelError`] when an operation is not part of the model (the first one in
/// history order).
pub fn check(history: &History, options: &Options) -> Result<Report, ModelError> {
    let partitions = partition(history);
    let meter = Meter::start(options.budget);
    let all: Vec<usize> = (0..partitions.len()).collect();
    let mut results =
        check_partitions(history, options, &partitions, &all, &meter, FIRST_PHASE_CAP)?;
    let any_invalid = results
        .iter()
        .any(|(result, _)| matches!(result, KeyResult::Invalid(_)));
    let capped: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&index| matches!(results[index].0, KeyResult::Capped))
        .collect();
    if !any_invalid && !capped.is_empty() {
        let second = check_partitions(history, options, &partitions, &capped, &meter, u64::MAX)?;
        for (index, result) in capped.into_iter().zip(second) {
            results[index] = result;
        }
    }

    let mut report = Report {
        checker: "linearizable".into(),
        model: options.model,
        valid: Validity::Valid,
        keys: partitions.len(),
        operations: history.operations.len(),
        invalid_keys: Vec::new(),
        unknown_keys: Vec::new(),
        unknown_reason: None,
        witnesses: Vec::new(),
        configurations: results.iter().map(|(_, stats)| stats.configurations).sum(),
    };
    for (partition, (result, _)) in partitions.iter().zip(results) {
        match result {
            KeyResult::Valid => {}
            KeyResult::Invalid(dead_end) => {
                report.valid = report.valid.merge(Validity::Invalid);
                report.invalid_keys.push(partition.key.clone());
                let shrink = report.witnesses.len() < options.witnesses_shrunk;
                report.witnesses.push(witness::build(
                    history,
                    options,
                    &meter,
                    &partition.key,
                    &partition.operations,
                    &dead_end,
                    shrink,
                ));
            }
            KeyResult::Unknown(exhausted) => {
                report.valid = report.valid.merge(Validity::Unknown);
                report.unknown_keys.push(partition.key.clone());
                report.unknown_reason = Some(unknown_reason(exhausted, options.budget));
            }
            KeyResult::Failed(message) => {
                report.valid = report.valid.merge(Validity::Unknown);
                report.unknown_keys.push(partition.key.clone());
                report.unknown_reason = Some(format!("the checker failed on this key: {message}"));
            }
            KeyResult::Capped => {
                report.unknown_keys.push(partition.key.clone());
                report.unknown_reason = Some(format!(
                    "not finished: another key is already invalid, so these were left after {FIRST_PHASE_CAP} configurations each"
                ));
            }
        }
    }
    Ok(report)
}

fn unknown_reason(exhausted: Exhausted, budget: Budget) -> String {
    match exhausted {
        Exhausted::Time => format!(
            "the time budget of {:.1} s ran out before the search finished (raise it with --time-limit)",
            budget.time_limit.as_secs_f64()
        ),
        Exhausted::Memory => format!(
            "the search's caches reached the memory budget of {} MiB (raise it with --memory-limit)",
            budget.memory_limit_bytes >> 20
        ),
    }
}

/// Splits the client operations by key, in key order; `fail` operations never
/// happened and are left out.
fn partition(history: &History) -> Vec<Partition> {
    let mut by_key: BTreeMap<KeyOrder, Partition> = BTreeMap::new();
    for (index, operation) in history.operations.iter().enumerate() {
        let key = history.key(operation).cloned().unwrap_or(Value::Null);
        let entry = by_key.entry(key_order(&key)).or_insert_with(|| Partition {
            key,
            operations: Vec::new(),
        });
        if operation.outcome != Outcome::Fail {
            entry.operations.push(index);
        }
    }
    by_key.into_values().collect()
}

/// Keys in order: integers numerically, then the rest by their JSON text.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum KeyOrder {
    Integer(i64),
    Text(String),
}

fn key_order(key: &Value) -> KeyOrder {
    match key.as_i64() {
        Some(number) => KeyOrder::Integer(number),
        None => KeyOrder::Text(key.to_string()),
    }
}

/// The operations of a partition as the search sees them.
fn search_ops(history: &History, operations: &[usize]) -> Vec<SearchOp> {
    operations
        .iter()
        .map(|&index| {
            let operation = &history.operations[index];
            SearchOp {
                call: operation.invoke,
                ret: match operation.outcome {
                    Outcome::Ok => operation.completion,
                    _ => None,
                },
            }
        })
        .collect()
}

/// Compiles and searches one partition's operations.
fn check_operations(
    history: &History,
    options: &Options,
    operations: &[usize],
    meter: &Meter,
    cap: u64,
) -> Result<(search::Outcome, Stats), ModelError> {
    let spec = models::compile(options.model, &options.model_options, history, operations)?;
    let ops = search_ops(history, operations);
    let run = match options.algorithm {
        Algorithm::Faultline => search::search::<AnySpec>,
        Algorithm::Plain => plain::search::<AnySpec>,
    };
    let mut spec = spec;
    Ok(run(&mut spec, &ops, meter, cap))
}

/// Checks the chosen partitions, largest first, on a pool of scoped threads;
/// returns their results in the order chosen.
fn check_partitions(
    history: &History,
    options: &Options,
    partitions: &[Partition],
    chosen: &[usize],
    meter: &Meter,
    cap: u64,
) -> Result<Vec<(KeyResult, Stats)>, ModelError> {
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    order.sort_by_key(|&slot| std::cmp::Reverse(partitions[chosen[slot]].operations.len()));
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    }
    .min(chosen.len())
    .max(1);
    let next = AtomicUsize::new(0);
    type Slot = Option<Result<(KeyResult, Stats), ModelError>>;
    let slots: Mutex<Vec<Slot>> = Mutex::new((0..chosen.len()).map(|_| None).collect());
    let work = || {
        loop {
            let claimed = next.fetch_add(1, Ordering::Relaxed);
            let Some(&slot) = order.get(claimed) else {
                return;
            };
            // A checker that panics gives `unknown` for its key, never a crash.
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_operations(
                    history,
                    options,
                    &partitions[chosen[slot]].operations,
                    meter,
                    cap,
                )
            }));
            let result = match checked {
                Ok(checked) => checked.map(|(outcome, stats)| {
                    let result = match outcome {
                        search::Outcome::Linearizable => KeyResult::Valid,
                        search::Outcome::NotLinearizable(dead_end) => KeyResult::Invalid(dead_end),
                        search::Outcome::Exhausted(exhausted) => KeyResult::Unknown(exhausted),
                        search::Outcome::Capped => KeyResult::Capped,
                    };
                    (result, stats)
                }),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|text| (*text).to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_string());
                    Ok((KeyResult::Failed(message), Stats::default()))
                }
            };
            slots.lock().expect("no thread panics holding the lock")[slot] = Some(result);
        }
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(work);
            }
        });
    }
    let results: Vec<_> = slots
        .into_inner()
        .expect("no thread panics holding the lock")
        .into_iter()
        .map(|slot| slot.expect("every partition is checked"))
        .collect();
    // Report the model error that comes first in the file, whichever thread met it.
    if let Some(error) = results
        .iter()
        .filter_map(|result| result.as_ref().err())
        .min_by_key(|error| error.line)
    {
        return Err(error.clone());
    }
    Ok(results
        .into_iter()
        .map(|result| result.expect("errors returned above"))
        .collect())
}
