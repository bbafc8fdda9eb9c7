//! Shrinking an invalid key's history to a minimal one that fails the same way.
//!
//! "The same way" means: still not linearizable, the operation that cannot be
//! placed is still the same one, and every value a kept operation observed still
//! keeps where it came from (`models::requirements`), so that a stale read does
//! not turn into a read of a value never written. Shrinking first tries the
//! longest linearization the search found plus that operation alone (often the
//! whole story, and cheap to check), else drops everything invoked after that
//! operation completed; then it tries to remove each chunk of operations in
//! turn, halving the chunk size after each pass (a variant of Zeller's ddmin),
//! until no single operation can be removed. Every candidate is checked with the real search, and the whole
//! shrink has a budget of configurations, so the same history always shrinks to
//! the same witness.

use super::search::{self, DeadEnd, Limit};
use super::{Options, check_operations};
use crate::budget::{Budget, Meter};
use crate::models;
use histories::History;
use std::collections::HashMap;
use std::time::Duration;

/// Configurations one shrinking trial may explore, at least and at most; in
/// between, twice what proving the whole key invalid took: a smaller history
/// that takes much longer to prove invalid is not worth the wait.
const TRIAL_CAP: (u64, u64) = (2_000, 200_000);
/// Configurations all the trials of one shrink may explore together.
const SHRINK_BUDGET: u64 = 2_000_000;

/// A smaller history that fails the same way.
pub(super) struct Shrunk {
    /// Indices into `history.operations`.
    pub operations: Vec<usize>,
    /// The search's dead end on them (partition-local to `operations`).
    pub dead_end: DeadEnd,
    /// Whether no single operation can be removed (false if the budget or the
    /// time ran out first).
    pub minimal: bool,
}

/// Shrinks `operations`, whose search ended at `culprit` (an index into
/// `history.operations`) after exploring `configurations`, spending at most
/// `time_limit`.
pub(super) fn shrink(
    history: &History,
    options: &Options,
    operations: &[usize],
    dead_end: &DeadEnd,
    configurations: u64,
    time_limit: Duration,
) -> Shrunk {
    let trial_cap = configurations
        .saturating_mul(2)
        .clamp(TRIAL_CAP.0, TRIAL_CAP.1);
    let culprit = operations[dead_end.culprit];
    let meter = Meter::start(Budget {
        time_limit,
        memory_limit_bytes: options.budget.memory_limit_bytes,
    });
    let out_of_budget = std::cell::Cell::new(false);
    let spent = std::cell::Cell::new(0u64);
    let required = models::requirements(options.model, &options.model_options, history, operations);
    // Whether every kept observation keeps what it observed (see `requirements`).
    let sources_kept = |candidate: &[usize]| {
        candidate
            .iter()
            .all(|&index| keeps_sources(&required, index, candidate))
    };
    // The dead end if `candidate` still fails at `culprit`.
    let fails = |candidate: &[usize]| -> Option<DeadEnd> {
        if out_of_budget.get()
            || candidate.binary_search(&culprit).is_err()
            || !sources_kept(candidate)
        {
            return None;
        }
        let cap = trial_cap.min(SHRINK_BUDGET - spent.get());
        let (outcome, stats) =
            check_operations(history, options, candidate, &meter, Limit::capped(cap)).ok()?;
        spent.set(spent.get() + stats.configurations);
        if spent.get() >= SHRINK_BUDGET {
            out_of_budget.set(true);
        }
        match outcome {
            search::Outcome::NotLinearizable(dead_end) => {
                (candidate[dead_end.culprit] == culprit).then_some(dead_end)
            }
            search::Outcome::Exhausted(_) => {
                out_of_budget.set(true);
                None
            }
            // Undecided within the cap: keep the removed operations. A count, not
            // a time, so the same history always shrinks to the same witness.
            _ => None,
        }
    };

    let mut current = operations.to_vec();
    let mut current_dead_end = dead_end.clone();
    let mut path: Vec<usize> = dead_end
        .path
        .iter()
        .map(|&local| operations[local])
        .chain([culprit])
        .collect();
    path.sort_unstable();
    close_under(&required, &mut path);
    if path.len() < current.len()
        && let Some(found) = fails(&path)
    {
        current = path;
        current_dead_end = found;
    } else if let Some(completed) = history.operations[culprit].completion {
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

    // Passes over the operations (the culprit always stays), each trying to
    // remove every chunk of one size in turn, the size halving from one half
    // down to single operations; done when a pass of single operations
    // removes nothing.
    // The culprit stays, and so does whatever it (transitively) observed with
    // no alternative: chunks are cut from the rest only.
    let mut pinned = vec![culprit];
    let mut pending = vec![culprit];
    while let Some(index) = pending.pop() {
        for group in required.get(&index).into_iter().flatten() {
            if let [only] = group.as_slice()
                && let Err(at) = pinned.binary_search(only)
            {
                pinned.insert(at, *only);
                pending.push(*only);
            }
        }
    }
    let mut chunk_size = current.len().div_ceil(2);
    let minimal = loop {
        let mut reduced = false;
        let mut start = 0;
        loop {
            let removable: Vec<usize> = current
                .iter()
                .copied()
                .filter(|index| pinned.binary_search(index).is_err())
                .collect();
            let Some(chunk) = removable.get(start..removable.len().min(start + chunk_size)) else {
                break;
            };
            if chunk.is_empty() {
                break;
            }
            let mut candidate: Vec<usize> = current
                .iter()
                .copied()
                .filter(|index| chunk.binary_search(index).is_err())
                .collect();
            drop_orphans(&required, &mut candidate);
            match fails(&candidate) {
                Some(found) => {
                    current = candidate;
                    current_dead_end = found;
                    reduced = true;
                }
                None => start += chunk_size,
            }
            if out_of_budget.get() {
                break;
            }
        }
        if out_of_budget.get() {
            break false;
        }
        if chunk_size == 1 && !reduced {
            break true;
        }
        chunk_size = (chunk_size / 2).max(1);
    };
    Shrunk {
        operations: current,
        dead_end: current_dead_end,
        minimal,
    }
}

/// Adds to `candidate` (sorted) what its observations need (`requirements`):
/// for each group with no member in it, the group's first member, until every
/// group is met.
fn close_under(required: &HashMap<usize, Vec<Vec<usize>>>, candidate: &mut Vec<usize>) {
    let mut pending: Vec<usize> = candidate.clone();
    while let Some(index) = pending.pop() {
        for group in required.get(&index).into_iter().flatten() {
            if group
                .iter()
                .all(|member| candidate.binary_search(member).is_err())
                && let Some(&first) = group.first()
                && let Err(at) = candidate.binary_search(&first)
            {
                candidate.insert(at, first);
                pending.push(first);
            }
        }
    }
}

/// Removes from `candidate` (sorted) every operation whose observations lost
/// all of some group of sources (`requirements`), until none has.
fn drop_orphans(required: &HashMap<usize, Vec<Vec<usize>>>, candidate: &mut Vec<usize>) {
    loop {
        let before = candidate.len();
        let kept: Vec<usize> = candidate
            .iter()
            .copied()
            .filter(|&index| keeps_sources(required, index, candidate))
            .collect();
        *candidate = kept;
        if candidate.len() == before {
            return;
        }
    }
}

/// Whether `candidate` (sorted) holds a member of each group of sources that
/// operation `index` observed (`requirements`).
fn keeps_sources(
    required: &HashMap<usize, Vec<Vec<usize>>>,
    index: usize,
    candidate: &[usize],
) -> bool {
    required.get(&index).into_iter().flatten().all(|group| {
        group
            .iter()
            .any(|member| candidate.binary_search(member).is_ok())
    })
}
