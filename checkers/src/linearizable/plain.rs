//! The baseline: Porcupine's algorithm as published, with none of this crate's
//! rules for indeterminate operations.
//!
//! Every operation is in the list; an indeterminate one's return is placed after
//! every real event (so it may take effect anywhere after its call); cache keys
//! are the full bitset of linearized operations plus the state. One difference:
//! the search ends once every `ok` operation has taken effect, because an
//! indeterminate one may never happen (Knossos's reading). Porcupine forces those
//! too, which for its register models always succeeds at the end anyway, but
//! would wrongly fail a crashed `acquire` on a held lock. It exists as the benchmark's same-run baseline and
//! as a second, independent search for the tests.

use super::search::{DeadEnd, EntryList, Limit, Outcome, SearchOp, Stats};
use crate::budget::Meter;
use crate::models::{Spec, State};
use rustc_hash::FxHashSet;

const HEAD: usize = 0;

/// Searches like Porcupine's `checkSingle`.
pub(crate) fn search<S: Spec>(
    spec: &mut S,
    ops: &[SearchOp],
    meter: &Meter,
    limit: Limit,
) -> (Outcome, Stats) {
    let count = ops.len();
    let mut stats = Stats::default();
    if count == 0 {
        return (Outcome::Linearizable, stats);
    }
    // Indeterminate operations return after every event.
    let last_event = ops
        .iter()
        .map(|op| op.ret.unwrap_or(op.call))
        .max()
        .unwrap_or(0);
    let positions: Vec<(usize, usize)> = ops
        .iter()
        .enumerate()
        .map(|(index, op)| (op.call, op.ret.unwrap_or(last_event + 1 + index)))
        .collect();
    let mut list = EntryList::new(&positions);

    let mut linearized = vec![0u64; count.div_ceil(64)];
    let mut cache: FxHashSet<(Vec<u64>, State)> = FxHashSet::default();
    let mut calls: Vec<(u32, State)> = Vec::new();
    let mut state = spec.initial();
    let mut entry = list.next[HEAD];
    let mut iterations = 0u64;
    let mut charged = 0usize;
    let mut first_failure = None;
    let mut ok_remaining = ops.iter().filter(|op| op.ret.is_some()).count();
    while ok_remaining > 0 {
        iterations += 1;
        if iterations % 4096 == 0 {
            let bytes = cache.len() * (linearized.len() * 8 + 48) + spec.bytes();
            let result = meter.charge(bytes as isize - charged as isize);
            charged = bytes;
            stats.cache_bytes = stats.cache_bytes.max(bytes);
            if let Err(exhausted) = result {
                let _ = meter.charge(-(charged as isize));
                return (Outcome::Exhausted(exhausted), stats);
            }
            if limit.cancelled() {
                let _ = meter.charge(-(charged as isize));
                return (Outcome::Cancelled, stats);
            }
        }
        if stats.configurations >= limit.cap {
            let _ = meter.charge(-(charged as isize));
            return (Outcome::Capped, stats);
        }
        if list.is_call[entry as usize] {
            let op = list.rank[entry as usize];
            if let Some(next_state) = spec.step(state, op as usize) {
                linearized[op as usize / 64] |= 1 << (op % 64);
                if cache.insert((linearized.clone(), next_state)) {
                    stats.configurations += 1;
                    calls.push((list.call_entry[op as usize], state));
                    state = next_state;
                    ok_remaining -= usize::from(ops[op as usize].ret.is_some());
                    list.lift(op);
                    entry = list.next[HEAD];
                    continue;
                }
                linearized[op as usize / 64] &= !(1 << (op % 64));
            }
            entry = list.next[entry as usize];
        } else {
            first_failure.get_or_insert(list.rank[entry as usize]);
            let Some((call, previous_state)) = calls.pop() else {
                let _ = meter.charge(-(charged as isize));
                let culprit = first_failure.unwrap_or(0) as usize;
                return (
                    Outcome::NotLinearizable(DeadEnd {
                        path: Vec::new(),
                        culprit,
                    }),
                    stats,
                );
            };
            let op = list.rank[call as usize];
            ok_remaining += usize::from(ops[op as usize].ret.is_some());
            state = previous_state;
            linearized[op as usize / 64] &= !(1 << (op % 64));
            list.unlift(op);
            entry = list.next[call as usize];
        }
    }
    let _ = meter.charge(-(charged as isize));
    (Outcome::Linearizable, stats)
}
