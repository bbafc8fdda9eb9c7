//! Synthetic list-append histories: transactions of one to four
//! micro-operations (reads and appends, half each) from concurrent clients,
//! run by a simulated strict-serializable store — each transaction takes
//! effect at a point inside its interval, in that order, and reads see every
//! append before it and the transaction's own. As in Jepsen's list-append
//! workload, a few keys are in use at a time and each is retired after
//! [`APPENDS_PER_KEY`] appends, so that reads stay short. A crashed
//! transaction completes `info` and takes effect or not; `--stale-reads`
//! plants anomalies: such a read misses the list's last element.

use super::generate::{GenerateArgs, in_time_order, interval};
use crate::rng::Rng;
use histories::{Event, EventType};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Appends a key receives before a fresh key replaces it.
pub const APPENDS_PER_KEY: u32 = 32;

/// A micro-operation as generated: an append of `value`, or a read.
#[derive(Clone, Copy)]
enum Mop {
    Append(u64, u64),
    Read(u64),
}

struct SimTxn {
    process: u64,
    mops: Vec<Mop>,
    call_ns: i64,
    return_ns: i64,
    effect_ns: i64,
    crashed: bool,
    applied: bool,
    /// What each read returned, once applied.
    reads: Vec<Option<Vec<u64>>>,
}

/// Simulates the store and returns the history's events in time order.
pub fn simulate(args: &GenerateArgs) -> Vec<Event> {
    let mut rng = Rng::new(args.seed);
    let clients = args.clients.max(1);
    let slots = args.keys.max(1);
    let mut client_time = vec![0i64; clients];
    let mut client_process: Vec<u64> = (0..clients as u64).collect();
    // Each slot holds a key in use and how many appends it has had.
    let mut in_use: Vec<(u64, u32)> = (0..slots as u64).map(|key| (key, 0)).collect();
    let mut next_key = slots as u64;
    let mut next_value = 0u64;
    let mut txns: Vec<SimTxn> = Vec::with_capacity(args.ops);
    for _ in 0..args.ops {
        let client = rng.below(clients as u64) as usize;
        let (call_ns, return_ns, effect_ns) = interval(&mut rng, &mut client_time[client]);
        let length = 1 + rng.below(4) as usize;
        let mut mops = Vec::with_capacity(length);
        for _ in 0..length {
            let slot = &mut in_use[rng.below(slots as u64) as usize];
            if rng.chance(0.5) {
                next_value += 1;
                mops.push(Mop::Append(slot.0, next_value));
                slot.1 += 1;
                if slot.1 == APPENDS_PER_KEY {
                    *slot = (next_key, 0);
                    next_key += 1;
                }
            } else {
                mops.push(Mop::Read(slot.0));
            }
        }
        let crashed = rng.chance(args.crashed_writes);
        txns.push(SimTxn {
            process: client_process[client],
            mops,
            call_ns,
            return_ns,
            effect_ns,
            crashed,
            applied: !crashed || rng.chance(0.5),
            reads: Vec::new(),
        });
        if crashed {
            // A process whose operation is indeterminate is retired, as in Jepsen.
            client_process[client] += clients as u64;
        }
    }
    apply(&mut txns, args.stale_reads, &mut rng);
    events(&txns)
}

/// Runs the transactions in effect order, recording what each read returned.
fn apply(txns: &mut [SimTxn], stale_reads: f64, rng: &mut Rng) {
    let mut order: Vec<usize> = (0..txns.len()).collect();
    order.sort_by_key(|&id| (txns[id].effect_ns, id));
    let mut lists: HashMap<u64, Vec<u64>> = HashMap::new();
    for id in order {
        let txn = &mut txns[id];
        // Own appends first land in a scratch copy of the keys touched.
        let mut local: HashMap<u64, Vec<u64>> = HashMap::new();
        for mop in &txn.mops {
            match *mop {
                Mop::Append(key, value) => local
                    .entry(key)
                    .or_insert_with(|| lists.get(&key).cloned().unwrap_or_default())
                    .push(value),
                Mop::Read(key) => {
                    let mut seen = local
                        .get(&key)
                        .or_else(|| lists.get(&key))
                        .cloned()
                        .unwrap_or_default();
                    if rng.chance(stale_reads) {
                        seen.pop();
                    }
                    txn.reads.push(Some(seen));
                    continue;
                }
            }
            txn.reads.push(None);
        }
        if txn.applied {
            lists.extend(local);
        }
    }
}

fn mop_json(mop: Mop, read: Option<&Vec<u64>>) -> Value {
    match mop {
        Mop::Append(key, value) => json!(["append", key, value]),
        Mop::Read(key) => json!(["r", key, read]),
    }
}

fn events(txns: &[SimTxn]) -> Vec<Event> {
    in_time_order(
        txns.len(),
        |id| (txns[id].call_ns, txns[id].return_ns),
        |id, is_call| {
            let txn = &txns[id];
            let invoked = || txn.mops.iter().map(|&mop| mop_json(mop, None)).collect();
            let (kind, value) = match (is_call, txn.crashed) {
                (true, _) => (EventType::Invoke, invoked()),
                (false, true) => (EventType::Info, invoked()),
                (false, false) => (
                    EventType::Ok,
                    txn.mops
                        .iter()
                        .zip(&txn.reads)
                        .map(|(&mop, read)| mop_json(mop, read.as_ref()))
                        .collect(),
                ),
            };
            (txn.process, "txn", None, kind, value, txn.crashed)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::Validity;
    use checkers::txn::{self, TxnOptions};

    fn args(stale_reads: f64) -> GenerateArgs {
        GenerateArgs {
            ops: 2_000,
            keys: 5,
            clients: 6,
            crashed_writes: 0.02,
            stale_reads,
            seed: 11,
            workload: "list-append".to_string(),
            serial: false,
            out: "unused".into(),
        }
    }

    fn check(stale_reads: f64) -> txn::TxnReport {
        let events = simulate(&args(stale_reads));
        let lines = (1..=events.len()).collect();
        let history = histories::History::from_events("generated", events, lines).unwrap();
        txn::check(&history, &TxnOptions::default()).unwrap()
    }

    #[test]
    fn the_simulated_store_is_strict_serializable() {
        let report = check(0.0);
        assert_eq!(report.valid, Validity::Valid, "{report:#?}");
        assert!(
            report.transactions["info"] > 10,
            "{:?}",
            report.transactions
        );
        assert!(report.edges > 2_000, "{}", report.edges);
    }

    #[test]
    fn stale_reads_are_caught() {
        let report = check(0.05);
        assert_eq!(report.valid, Validity::Invalid);
    }
}
