//! `faultline generate`: synthetic histories for benchmarks and tests —
//! registers here, list-append transactions in [`super::generate_txn`].
//!
//! The history is that of a simulated linearizable store: each operation gets a
//! random duration and a linearization point inside it, and results come from
//! applying the operations in linearization-point order. Written values are
//! unique per key. A crashed write completes `info`; it takes effect at a random
//! later time or never. `--stale-reads` plants anomalies: such a read returns
//! the key's previous value instead of its current one.

use crate::exit::{self, BadInput};
use crate::rng::Rng;
use clap::Args;
use histories::{Event, EventType, Process};
use serde_json::{Value, json};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// `faultline generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Operations to generate.
    #[arg(long, default_value_t = 10_000)]
    pub ops: usize,
    /// Independent keys.
    #[arg(long, default_value_t = 1)]
    pub keys: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Fraction of writes that crash (complete `info`), e.g. 0.01.
    #[arg(long, default_value_t = 0.0)]
    pub crashed_writes: f64,
    /// Fraction of reads that return a stale value (planted anomalies).
    #[arg(long, default_value_t = 0.0)]
    pub stale_reads: f64,
    /// Seed for the random choices.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// `register` (single-key operations, `--keys` independent keys) or
    /// `list-append` (transactions of 1–4 micro-ops over `--keys` keys in use
    /// at a time, each retired after 32 appends).
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// One operation at a time (no two overlap), as a memory that runs them
    /// one by one: real time is then the order itself.
    #[arg(long)]
    pub serial: bool,
    /// Output file (JSON Lines).
    #[arg(long)]
    pub out: PathBuf,
}

/// When an operation of `client` is called and returns, and a point between
/// the two where it takes effect; advances the client's clock.
pub fn interval(rng: &mut Rng, client_time: &mut i64) -> (i64, i64, i64) {
    let call_ns = *client_time + 1 + rng.below(200) as i64;
    let return_ns = call_ns + 50 + rng.below(1_000) as i64;
    let effect_ns = call_ns + 1 + rng.below((return_ns - call_ns - 1) as u64) as i64;
    *client_time = return_ns;
    (call_ns, return_ns, effect_ns)
}

/// What the simulation decided for one operation.
struct SimOp {
    process: u64,
    key: u64,
    f: &'static str,
    input: Value,
    call_ns: i64,
    return_ns: i64,
    /// When it takes effect, if it does.
    effect_ns: Option<i64>,
    crashed: bool,
    stale: bool,
    output: Value,
    outcome: EventType,
}

/// Simulates the store and returns the history's events in time order.
pub fn simulate(args: &GenerateArgs) -> Vec<Event> {
    let mut rng = Rng::new(args.seed);
    let clients = args.clients.max(1);
    let keys = args.keys.max(1) as u64;
    let mut client_time = vec![0i64; clients];
    let mut client_process: Vec<u64> = (0..clients as u64).collect();
    let mut next_value = vec![0u64; keys as usize];
    let mut ops: Vec<SimOp> = Vec::with_capacity(args.ops);
    for _ in 0..args.ops {
        let client = rng.below(clients as u64) as usize;
        let key = rng.below(keys);
        // Serially, every client waits for the latest operation to return.
        if args.serial {
            let now = client_time.iter().copied().max().unwrap_or(0);
            client_time[client] = now;
        }
        let (call_ns, return_ns, effect_in) = interval(&mut rng, &mut client_time[client]);
        let roll = rng.below(10);
        let (f, input) = match roll {
            0..=4 => ("read", Value::Null),
            5..=8 => {
                next_value[key as usize] += 1;
                ("write", json!(next_value[key as usize]))
            }
            _ => {
                next_value[key as usize] += 1;
                // Compare against a recent value, so that some cas succeed.
                let from = next_value[key as usize].saturating_sub(1 + rng.below(3));
                ("cas", json!([from, next_value[key as usize]]))
            }
        };
        let crashed = f == "write" && rng.chance(args.crashed_writes);
        let effect_ns = match crashed {
            // A crashed write takes effect at some later time, or never.
            true if rng.chance(0.5) => Some(call_ns + 1 + rng.below(20_000) as i64),
            true => None,
            false => Some(effect_in),
        };
        let stale = f == "read" && rng.chance(args.stale_reads);
        ops.push(SimOp {
            process: client_process[client],
            key,
            f,
            input,
            call_ns,
            return_ns,
            effect_ns,
            crashed,
            stale,
            output: Value::Null,
            outcome: EventType::Ok,
        });
        if crashed {
            // A process whose operation is indeterminate is retired, as in Jepsen.
            client_process[client] += clients as u64;
        }
    }
    // Apply in linearization-point order.
    let mut order: Vec<usize> = (0..ops.len())
        .filter(|&index| ops[index].effect_ns.is_some())
        .collect();
    order.sort_by_key(|&index| (ops[index].effect_ns, index));
    let mut current: Vec<Value> = vec![Value::Null; keys as usize];
    let mut previous: Vec<Value> = vec![Value::Null; keys as usize];
    for index in order {
        let op = &mut ops[index];
        let slot = op.key as usize;
        match op.f {
            "read" => {
                op.output = if op.stale {
                    previous[slot].clone()
                } else {
                    current[slot].clone()
                }
            }
            "write" => {
                previous[slot] = std::mem::replace(&mut current[slot], op.input.clone());
                op.output = op.input.clone();
            }
            _ => {
                if current[slot] == op.input[0] {
                    previous[slot] = std::mem::replace(&mut current[slot], op.input[1].clone());
                    op.output = op.input.clone();
                } else {
                    op.outcome = EventType::Fail;
                    op.output = op.input.clone();
                }
            }
        }
    }
    in_time_order(
        ops.len(),
        |index| (ops[index].call_ns, ops[index].return_ns),
        |index, is_call| {
            let op = &ops[index];
            let (kind, value) = match (is_call, op.crashed) {
                (true, _) => (EventType::Invoke, op.input.clone()),
                (false, true) => (EventType::Info, op.input.clone()),
                (false, false) => (op.outcome, op.output.clone()),
            };
            (
                op.process,
                op.f,
                (keys > 1).then(|| json!(op.key)),
                kind,
                value,
                op.crashed,
            )
        },
    )
}

/// The events of `count` simulated operations in time order: each invocation
/// at its call, each completion at its return. `describe(operation, is_call)`
/// gives the process, function, key, type and value of one event; `crashed`
/// completions carry a timeout error.
pub fn in_time_order(
    count: usize,
    interval: impl Fn(usize) -> (i64, i64),
    describe: impl Fn(usize, bool) -> (u64, &'static str, Option<Value>, EventType, Value, bool),
) -> Vec<Event> {
    let mut timeline: Vec<(i64, usize, bool)> = Vec::with_capacity(count * 2);
    for index in 0..count {
        let (call_ns, return_ns) = interval(index);
        timeline.push((call_ns, index, true));
        timeline.push((return_ns, index, false));
    }
    timeline.sort_unstable();
    timeline
        .into_iter()
        .enumerate()
        .map(|(position, (time_ns, index, is_call))| {
            let (process, f, key, kind, value, crashed) = describe(index, is_call);
            Event {
                index: position as u64,
                time_ns,
                kind,
                process: Process::Client(process),
                f: f.to_string(),
                key,
                value,
                error: (crashed && !is_call).then(|| json!("timeout")),
            }
        })
        .collect()
}

/// The events of `args.workload`'s simulation.
///
/// # Errors
/// An unknown workload.
pub fn events(args: &GenerateArgs) -> Result<Vec<Event>, String> {
    match args.workload.as_str() {
        "register" => Ok(simulate(args)),
        "list-append" => Ok(super::generate_txn::simulate(args)),
        other => Err(format!(
            "unknown workload {other:?}; expected register or list-append"
        )),
    }
}

/// Writes `events` to `path` as JSON Lines.
///
/// # Errors
/// The file cannot be written.
pub fn write(events: &[Event], path: &std::path::Path) -> std::io::Result<()> {
    let mut writer = BufWriter::new(std::fs::File::create(path)?);
    histories::write_jsonl(events, &mut writer)?;
    writer.flush()
}

/// Runs `faultline generate`; returns the exit code.
///
/// # Errors
/// A bad argument, or the output that cannot be written (bad input too: the
/// path is the user's).
pub fn run(args: &GenerateArgs) -> anyhow::Result<u8> {
    let events = events(args).map_err(BadInput)?;
    write(&events, &args.out)
        .map_err(|error| BadInput(format!("cannot write {}: {error}", args.out.display())))?;
    Ok(exit::VALID)
}
