//! The linearizability checker.
//!
//! A history is linearizable when every `ok` operation, and any subset of the
//! indeterminate (`info`) ones, can be given a point in time between its
//! invocation and its completion such that the operations, taken in that order,
//! are a legal run of the model. `fail` operations never happened and are left out.
//!
//! Histories over many keys are split by key (P-compositionality: for registers
//! and key-value maps a history is linearizable iff each key's is) and the keys
//! are checked in parallel on all cores. By default the first invalid key, in a
//! fixed order, decides the verdict and the keys after it are not checked (see
//! [`check`]); the result never depends on which thread finishes first.

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
use search::{Limit, SearchOp, Stats};
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
    /// Check every key to the end, instead of stopping at the first invalid one.
    pub all_keys: bool,
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
    /// the first invalid key decides (with one shrunk witness).
    pub fn new(model: ModelKind) -> Options {
        Options {
            model,
            model_options: ModelOptions::default(),
            budget: Budget::default(),
            threads: 0,
            witnesses_shrunk: 1,
            all_keys: false,
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
    /// Keys left unchecked because another key, checked before them, is already
    /// invalid (see [`check`]), in key order.
    #[serde(default)]
    pub not_checked_keys: Vec<Value>,
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
    /// Not decided because a key before it in the checking order is invalid:
    /// cancelled, skipped, or stopped at the first phase's cap.
    NotChecked,
    /// Stopped at the first phase's configuration cap (before the second phase).
    Capped,
    /// The checker itself failed (panicked) on this key.
    Failed(String),
}

/// Configurations each key may explore in the first phase, when all keys are
/// tried once. Most keys finish far below it. If one key is invalid, the keys
/// that did not finish are left: the verdict is decided. Otherwise they are
/// checked again to the end. A count, not a time, so that the result never
/// depends on the machine; small, because a key that needs more is searched
/// twice.
const FIRST_PHASE_CAP: u64 = 10_000;

/// Checks `history` for linearizability against `options.model`.
///
/// Keys are checked in a fixed order: by size, ties in key order. Unless
/// `options.all_keys` is set, the first invalid key in that order decides the
/// verdict: the keys after it are cancelled and reported as not checked, and the
/// keys before it are always checked (to the first phase's cap), so the result
/// never depends on which thread finishes first.
///
/// # Errors
/// [`ModelError`] when an operation is not part of the model (the first one in
/// history order).
pub fn check(history: &History, options: &Options) -> Result<Report, ModelError> {
    let partitions = partition(history);
    let meter = Meter::start(options.budget);
    // With one key there is no other key to decide the verdict first.
    let first_anomaly = !options.all_keys && partitions.len() > 1;
    // Looking for the first anomaly, the smallest keys first: the cheapest to
    // decide. Else, and for the keys left to the second phase, the largest
    // first, so that no thread is left with a large key at the end.
    let size = |index: &usize| partitions[*index].operations.len();
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    if first_anomaly {
        order.sort_by_key(size);
    } else {
        order.sort_by_key(|index| std::cmp::Reverse(size(index)));
    }
    let first_cap = if first_anomaly {
        FIRST_PHASE_CAP
    } else {
        u64::MAX
    };
    let first = check_partitions(
        history,
        options,
        &partitions,
        &order,
        &meter,
        first_cap,
        first_anomaly,
    )?;
    let mut results: Vec<(KeyResult, Stats)> = (0..partitions.len())
        .map(|_| (KeyResult::NotChecked, Stats::default()))
        .collect();
    for (&index, result) in order.iter().zip(first) {
        results[index] = result;
    }
    let any_invalid = results
        .iter()
        .any(|(result, _)| matches!(result, KeyResult::Invalid(_)));
    let mut capped: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&index| matches!(results[index].0, KeyResult::Capped))
        .collect();
    capped.sort_by_key(|index| std::cmp::Reverse(size(index)));
    if any_invalid {
        for &index in &capped {
            results[index].0 = KeyResult::NotChecked;
        }
    } else if !capped.is_empty() {
        let second = check_partitions(
            history,
            options,
            &partitions,
            &capped,
            &meter,
            u64::MAX,
            first_anomaly,
        )?;
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
        not_checked_keys: Vec::new(),
        witnesses: Vec::new(),
        configurations: results.iter().map(|(_, stats)| stats.configurations).sum(),
    };
    for (partition, (result, stats)) in partitions.iter().zip(results) {
        match result {
            KeyResult::Valid => {}
            KeyResult::Invalid(dead_end) => {
                report.valid = report.valid.merge(Validity::Invalid);
                report.invalid_keys.push(partition.key.clone());
                let shrink = (report.witnesses.len() < options.witnesses_shrunk)
                    .then_some(stats.configurations);
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
            KeyResult::NotChecked | KeyResult::Capped => {
                report.not_checked_keys.push(partition.key.clone());
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
    limit: Limit,
) -> Result<(search::Outcome, Stats), ModelError> {
    let spec = models::compile(options.model, &options.model_options, history, operations)?;
    let ops = search_ops(history, operations);
    let run = match options.algorithm {
        Algorithm::Faultline => search::search::<AnySpec>,
        Algorithm::Plain => plain::search::<AnySpec>,
    };
    let mut spec = spec;
    Ok(run(&mut spec, &ops, meter, limit))
}

/// Checks the chosen partitions (indices into `partitions`, in checking order)
/// on a pool of scoped threads; returns their results in that order. With
/// `cancel`, the keys after the first invalid one are not checked, or their
/// searches stop, and are all reported as not checked, whatever any thread
/// managed to do with them.
#[allow(clippy::too_many_arguments)]
fn check_partitions(
    history: &History,
    options: &Options,
    partitions: &[Partition],
    chosen: &[usize],
    meter: &Meter,
    cap: u64,
    cancel: bool,
) -> Result<Vec<(KeyResult, Stats)>, ModelError> {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    }
    .min(chosen.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let first_invalid = AtomicUsize::new(usize::MAX);
    type Slot = Option<Result<(KeyResult, Stats), ModelError>>;
    let slots: Mutex<Vec<Slot>> = Mutex::new((0..chosen.len()).map(|_| None).collect());
    let work = || {
        loop {
            let position = next.fetch_add(1, Ordering::Relaxed);
            let Some(&index) = chosen.get(position) else {
                return;
            };
            let limit = Limit {
                cap,
                cancel: cancel.then_some((&first_invalid, position)),
            };
            let result = if limit.cancelled() {
                Ok((KeyResult::NotChecked, Stats::default()))
            } else {
                check_key(
                    history,
                    options,
                    &partitions[index].operations,
                    meter,
                    limit,
                )
            };
            if let Ok((KeyResult::Invalid(_), _)) = &result {
                first_invalid.fetch_min(position, Ordering::Relaxed);
            }
            slots.lock().expect("no thread panics holding the lock")[position] = Some(result);
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
    let first_invalid = first_invalid.into_inner();
    let results: Vec<_> = slots
        .into_inner()
        .expect("no thread panics holding the lock")
        .into_iter()
        .enumerate()
        .map(
            |(position, slot)| match slot.expect("every partition is checked or skipped") {
                // What happened after the first invalid key depends on timing.
                Ok(_) if cancel && position > first_invalid => {
                    Ok((KeyResult::NotChecked, Stats::default()))
                }
                result => result,
            },
        )
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

/// Checks one key; a checker that panics gives `unknown` for its key, never a crash.
fn check_key(
    history: &History,
    options: &Options,
    operations: &[usize],
    meter: &Meter,
    limit: Limit,
) -> Result<(KeyResult, Stats), ModelError> {
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_operations(history, options, operations, meter, limit)
    }));
    match checked {
        Ok(checked) => checked.map(|(outcome, stats)| {
            let result = match outcome {
                search::Outcome::Linearizable => KeyResult::Valid,
                search::Outcome::NotLinearizable(dead_end) => KeyResult::Invalid(dead_end),
                search::Outcome::Exhausted(exhausted) => KeyResult::Unknown(exhausted),
                search::Outcome::Capped => KeyResult::Capped,
                search::Outcome::Cancelled => KeyResult::NotChecked,
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
    }
}
