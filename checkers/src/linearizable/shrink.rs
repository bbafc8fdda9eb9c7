//! Shrinking an invalid key's history to a minimal one that fails the same way.
//!
//! "The same way" means: still not linearizable, the operation that cannot be
//! placed is still the same one, and every value a kept operation observed still
//! keeps where it came from (`models::requirements`), so that a stale read does
//! not turn into a read of a value never written. Shrinking first drops everything invoked after
//! that operation completed, then removes chunks of operations, halving the chunk
//! size when nothing can go (Zeller's ddmin), until no single operation can be
//! removed. Every candidate is checked with the real search.

use super::search::{self, DeadEnd};
use super::{Options, check_operations};
use crate::budget::{Budget, Meter};
use crate::models;
use histories::History;
use std::time::Duration;

/// Configurations one shrinking trial may explore.
const TRIAL_CAP: u64 = 20_000;

/// A smaller history that fails the same way.
pub(super) struct Shrunk {
    /// Indices into `history.operations`.
    pub operations: Vec<usize>,
    /// The search's dead end on them (partition-local to `operations`).
    pub dead_end: DeadEnd,
    /// Whether no single operation can be removed (false if time ran out first).
    pub minimal: bool,
}

/// Shrinks `operations`, whose search ended at `culprit` (an index into
/// `history.operations`), spending at most `time_limit`.
pub(super) fn shrink(
    history: &History,
    options: &Options,
    operations: &[usize],
    dead_end: &DeadEnd,
    time_limit: Duration,
) -> Shrunk {
    let culprit = operations[dead_end.culprit];
    let meter = Meter::start(Budget {
        time_limit,
        memory_limit_bytes: options.budget.memory_limit_bytes,
    });
    let out_of_time = std::cell::Cell::new(false);
    let required = models::requirements(options.model, &options.model_options, history, operations);
    // Whether every kept observation keeps what it observed (see `requirements`).
    let sources_kept = |candidate: &[usize]| {
        candidate
            .iter()
            .filter_map(|index| required.get(index))
            .flatten()
            .all(|group| {
                group
                    .iter()
                    .any(|member| candidate.binary_search(member).is_ok())
            })
    };
    // The dead end if `candidate` still fails at `culprit`.
    let fails = |candidate: &[usize]| -> Option<DeadEnd> {
        if out_of_time.get() || !sources_kept(candidate) {
            return None;
        }
        match check_operations(history, options, candidate, &meter, TRIAL_CAP) {
            Ok((search::Outcome::NotLinearizable(dead_end), _)) => {
                (candidate[dead_end.culprit] == culprit).then_some(dead_end)
            }
            Ok((search::Outcome::Exhausted(_), _)) => {
                out_of_time.set(true);
                None
            }
            // Undecided within the cap: keep the removed operations. A count, not
            // a time, so the same history always shrinks to the same witness.
            Ok((search::Outcome::Capped, _)) => None,
            _ => None,
        }
    };

    let mut current = operations.to_vec();
    let mut current_dead_end = dead_end.clone();
    if let Some(completed) = history.operations[culprit].completion {
        let prefix: Vec<usize> = current
            .iter()
            .copied()
            .filter(|&index| history.operations[index].invoke < completed)
            .collect();
        if prefix.len() < current.len()
            && let Some(found) = fails(&prefix)
        {
            current = prefix;
            current_dead_end = found;
        }
    }

    let mut granularity = 2usize;
    let minimal = loop {
        let removable: Vec<usize> = current
            .iter()
            .copied()
            .filter(|&index| index != culprit)
            .collect();
        if removable.is_empty() {
            break true;
        }
        let chunk_size = removable.len().div_ceil(granularity.min(removable.len()));
        let mut reduced = false;
        for chunk in removable.chunks(chunk_size) {
            let candidate: Vec<usize> = current
                .iter()
                .copied()
                .filter(|index| chunk.binary_search(index).is_err())
                .collect();
            if let Some(found) = fails(&candidate) {
                current = candidate;
                current_dead_end = found;
                granularity = granularity.saturating_sub(1).max(2);
                reduced = true;
                break;
            }
        }
        if out_of_time.get() {
            break false;
        }
        if !reduced {
            if chunk_size == 1 {
                break true;
            }
            granularity = (granularity * 2).min(removable.len());
        }
    };
    Shrunk {
        operations: current,
        dead_end: current_dead_end,
        minimal,
    }
}
