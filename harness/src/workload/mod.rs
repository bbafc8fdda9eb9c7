//! The workload generator: pure and seeded, so it can be tested without a
//! network. Each worker thread draws its own operations from its own random
//! stream (seed, thread), in the mix the plan asks for, on keys the workload
//! chooses, with values unique per key. Pacing (Jepsen's `stagger`: a uniformly
//! random gap in [0, 2·dt] before each operation, dt = concurrency / rate) and
//! the time limit are the interpreter's; the generator says what and when.

use crate::rng::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The workloads `faultline run` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// read / write / cas on one key.
    Register,
    /// read / write / cas on many independent keys, each checked alone.
    CasRegister,
    /// reads and writes (no cas) on many keys.
    Kv,
    /// Transactions of appends to lists and whole-list reads (Elle's
    /// list-append): the version order of each key can be read back.
    ListAppend,
    /// Transactions of register writes and reads, unique values.
    RwRegister,
}

impl Workload {
    /// Every name.
    pub const NAMES: &'static [&'static str] = &[
        "register",
        "cas-register",
        "kv",
        "list-append",
        "rw-register",
    ];

    /// Whether its operations are transactions (`f` = `txn`).
    pub fn transactional(self) -> bool {
        matches!(self, Workload::ListAppend | Workload::RwRegister)
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<Workload> {
        match name {
            "register" => Some(Workload::Register),
            "cas-register" => Some(Workload::CasRegister),
            "kv" => Some(Workload::Kv),
            "list-append" => Some(Workload::ListAppend),
            "rw-register" => Some(Workload::RwRegister),
            _ => None,
        }
    }

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::CasRegister => "cas-register",
            Workload::Kv => "kv",
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }
}

/// Relative weights of reads, writes and cas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    /// Reads.
    pub read: u32,
    /// Writes.
    pub write: u32,
    /// Compare-and-sets.
    pub cas: u32,
}

impl Mix {
    /// Parses `read,write,cas` weights such as `2,1,1`.
    ///
    /// # Errors
    /// A message saying what was expected.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let weights: Vec<u32> = text
            .split(',')
            .map(|part| part.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                format!("--mix {text:?}: expected three whole numbers, read,write,cas (e.g. 2,1,1)")
            })?;
        match weights.as_slice() {
            [read, write, cas] if read + write + cas > 0 => Ok(Mix {
                read: *read,
                write: *write,
                cas: *cas,
            }),
            _ => Err(format!(
                "--mix {text:?}: expected three weights read,write,cas, not all zero"
            )),
        }
    }
}

/// One operation to invoke: its function, key and invocation value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSpec {
    /// `read`, `write`, `cas` or `txn`.
    pub f: &'static str,
    /// The key (empty for a transaction, whose keys are in its value).
    pub key: String,
    /// `null` for reads, the value for writes, `[old, new]` for cas, the
    /// micro-operations (`[["append", k, v], ["r", k, null], …]`) for `txn`.
    pub value: Value,
}

/// Most micro-operations in one transaction (Elle's default).
pub const MAX_TXN_LENGTH: u64 = 4;

impl OpSpec {
    /// The key the history records: none for a transaction.
    pub fn history_key(&self) -> Option<&str> {
        (self.f != "txn").then_some(self.key.as_str())
    }

    /// Whether it only reads: then an unknown outcome changes nothing.
    pub fn read_only(&self) -> bool {
        match self.f {
            "read" => true,
            "txn" => self
                .value
                .as_array()
                .is_some_and(|mops| mops.iter().all(|mop| mop[0] == "r")),
            _ => false,
        }
    }

    /// The final phase's read of `key` for `workload`.
    pub fn final_read(workload: Workload, key: String) -> OpSpec {
        if workload.transactional() {
            OpSpec {
                f: "txn",
                value: json!([["r", key, null]]),
                key: String::new(),
            }
        } else {
            OpSpec {
                f: "read",
                key,
                value: Value::Null,
            }
        }
    }
}

/// The generator's settings.
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// What to generate.
    pub workload: Workload,
    /// The operation mix (kv ignores cas).
    pub mix: Mix,
    /// Keys in use at once.
    pub key_count: usize,
    /// Operations per key before it is retired for a fresh one (0: never).
    pub ops_per_key: usize,
    /// Worker threads.
    pub concurrency: usize,
    /// Target rate over all threads, ops/s.
    pub rate: f64,
    /// The master seed.
    pub seed: u64,
    /// Written values are strings with this prefix (integers when absent).
    pub value_prefix: Option<String>,
}

/// One worker thread's stream of operations.
pub struct ThreadGenerator {
    options: GeneratorOptions,
    thread: usize,
    rng: Rng,
    /// Values this thread has written, to make each unique.
    written: u64,
    /// Per key slot: the generation (retired keys get fresh names) and ops so far.
    slots: Vec<(u64, usize)>,
    /// The last value this thread saw on each key, to aim cas at.
    last_seen: std::collections::HashMap<String, Value>,
}

impl ThreadGenerator {
    /// Thread `thread`'s generator.
    pub fn new(options: &GeneratorOptions, thread: usize) -> ThreadGenerator {
        let seed = options.seed ^ (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let key_count = match options.workload {
            Workload::Register => 1,
            _ => options.key_count.max(1),
        };
        ThreadGenerator {
            options: options.clone(),
            thread,
            rng: Rng::new(seed),
            written: 0,
            slots: vec![(0, 0); key_count],
            last_seen: std::collections::HashMap::new(),
        }
    }

    /// The gap before the next operation: uniform in [0, 2·dt].
    pub fn delay(&mut self) -> Duration {
        if self.options.rate <= 0.0 {
            return Duration::ZERO;
        }
        let mean = self.options.concurrency as f64 / self.options.rate;
        let fraction = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(2.0 * mean * fraction)
    }

    fn key(&mut self) -> String {
        let slot = self.rng.below(self.slots.len() as u64) as usize;
        let (generation, count) = &mut self.slots[slot];
        // Every thread retires a slot's key after the same number of its own
        // operations, so keys stay short histories (Jepsen's ops-per-key).
        let per_thread = self
            .options
            .ops_per_key
            .div_ceil(self.options.concurrency.max(1));
        if self.options.ops_per_key > 0 && *count >= per_thread.max(1) {
            *generation += 1;
            *count = 0;
        }
        *count += 1;
        match self.options.workload {
            Workload::Register => "r".to_string(),
            _ => format!("k{}", *generation * self.slots.len() as u64 + slot as u64),
        }
    }

    /// A value no other operation writes to any key: thread and sequence.
    fn unique_value(&mut self) -> Value {
        self.written += 1;
        let number = self.written * 1000 + self.thread as u64;
        match &self.options.value_prefix {
            Some(prefix) => Value::String(format!("{prefix}{number}")),
            None => json!(number),
        }
    }

    /// Records what a read returned, so later cas aim at real values.
    pub fn observe(&mut self, key: &str, value: &Value) {
        self.last_seen.insert(key.to_string(), value.clone());
    }

    /// The next operation.
    pub fn next_op(&mut self) -> OpSpec {
        if self.options.workload.transactional() {
            return self.next_txn();
        }
        let mix = self.options.mix;
        let cas = if self.options.workload == Workload::Kv {
            0
        } else {
            mix.cas
        };
        let total = u64::from(mix.read + mix.write + cas).max(1);
        let roll = self.rng.below(total) as u32;
        let key = self.key();
        if roll < mix.read {
            OpSpec {
                f: "read",
                key,
                value: Value::Null,
            }
        } else if roll < mix.read + mix.write {
            let value = self.unique_value();
            self.observe(&key, &value);
            OpSpec {
                f: "write",
                key,
                value,
            }
        } else {
            let from = self.last_seen.get(&key).cloned().unwrap_or(Value::Null);
            let to = self.unique_value();
            OpSpec {
                f: "cas",
                key,
                value: json!([from, to]),
            }
        }
    }

    /// A transaction of 1 to [`MAX_TXN_LENGTH`] micro-operations, reads and
    /// appends (or writes) in the mix's read : write proportion.
    fn next_txn(&mut self) -> OpSpec {
        let length = 1 + self.rng.below(MAX_TXN_LENGTH);
        let mix = self.options.mix;
        let total = u64::from(mix.read + mix.write).max(1);
        let write = if self.options.workload == Workload::ListAppend {
            "append"
        } else {
            "w"
        };
        let mops: Vec<Value> = (0..length)
            .map(|_| {
                let key = self.key();
                if (self.rng.below(total) as u32) < mix.read || mix.write == 0 {
                    json!(["r", key, null])
                } else {
                    json!([write, key, self.unique_value()])
                }
            })
            .collect();
        OpSpec {
            f: "txn",
            key: String::new(),
            value: Value::Array(mops),
        }
    }

    /// Keys this thread must read in the final phase: its share of every key
    /// any thread may have used.
    pub fn final_keys(options: &GeneratorOptions, thread: usize, generations: u64) -> Vec<String> {
        let slots = match options.workload {
            Workload::Register => {
                return if thread == 0 {
                    vec!["r".to_string()]
                } else {
                    Vec::new()
                };
            }
            _ => options.key_count.max(1) as u64,
        };
        (0..slots * (generations + 1))
            .filter(|index| *index as usize % options.concurrency.max(1) == thread)
            .map(|index| format!("k{index}"))
            .collect()
    }

    /// How many times slots were retired so far (the highest generation).
    pub fn generations(&self) -> u64 {
        self.slots
            .iter()
            .map(|(generation, _)| *generation)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(workload: Workload) -> GeneratorOptions {
        GeneratorOptions {
            workload,
            mix: Mix {
                read: 2,
                write: 1,
                cas: 1,
            },
            key_count: 4,
            ops_per_key: 0,
            concurrency: 3,
            rate: 100.0,
            seed: 42,
            value_prefix: None,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_operations() {
        let draw = |seed| {
            let mut generator = ThreadGenerator::new(
                &GeneratorOptions {
                    seed,
                    ..options(Workload::CasRegister)
                },
                1,
            );
            (0..50).map(|_| generator.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn written_values_are_unique_across_threads() {
        let mut seen = std::collections::HashSet::new();
        for thread in 0..3 {
            let mut generator = ThreadGenerator::new(&options(Workload::CasRegister), thread);
            for _ in 0..500 {
                let op = generator.next_op();
                let written = match op.f {
                    "write" => op.value.clone(),
                    "cas" => op.value[1].clone(),
                    _ => continue,
                };
                assert!(seen.insert(written.to_string()), "{written} written twice");
            }
        }
    }

    #[test]
    fn the_mix_and_workload_are_respected() {
        let mut generator = ThreadGenerator::new(&options(Workload::Kv), 0);
        let ops: Vec<OpSpec> = (0..1000).map(|_| generator.next_op()).collect();
        assert!(ops.iter().all(|op| op.f != "cas"), "kv has no cas");
        let reads = ops.iter().filter(|op| op.f == "read").count();
        assert!(
            (550..780).contains(&reads),
            "about two thirds reads: {reads}"
        );
        let mut register = ThreadGenerator::new(&options(Workload::Register), 0);
        assert!((0..100).all(|_| register.next_op().key == "r"));
    }

    #[test]
    fn transactions_hold_unique_appends_and_reads() {
        let mut generator = ThreadGenerator::new(&options(Workload::ListAppend), 2);
        let mut appended = std::collections::HashSet::new();
        let mut lengths = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let op = generator.next_op();
            assert_eq!(op.f, "txn");
            assert_eq!(op.history_key(), None);
            let mops = op.value.as_array().unwrap();
            lengths.insert(mops.len());
            for mop in mops {
                match mop[0].as_str().unwrap() {
                    "r" => assert!(mop[2].is_null()),
                    "append" => assert!(appended.insert(mop[2].to_string())),
                    other => panic!("unexpected micro-operation {other}"),
                }
            }
        }
        assert_eq!(lengths, (1..=4).collect());
        let mut registers = ThreadGenerator::new(&options(Workload::RwRegister), 0);
        let op = (0..50)
            .map(|_| registers.next_op())
            .find(|op| !op.read_only())
            .unwrap();
        assert!(op.value.as_array().unwrap().iter().any(|mop| mop[0] == "w"));
    }

    #[test]
    fn delays_average_to_the_rate() {
        let mut generator = ThreadGenerator::new(&options(Workload::CasRegister), 0);
        let total: f64 = (0..10_000).map(|_| generator.delay().as_secs_f64()).sum();
        // 3 threads at 100 ops/s: 30 ms between one thread's operations.
        assert!(
            (0.027..0.033).contains(&(total / 10_000.0)),
            "{}",
            total / 10_000.0
        );
    }

    #[test]
    fn keys_are_retired_after_their_share_of_operations() {
        let mut generator = ThreadGenerator::new(
            &GeneratorOptions {
                ops_per_key: 30,
                ..options(Workload::CasRegister)
            },
            0,
        );
        let keys: std::collections::BTreeSet<String> =
            (0..200).map(|_| generator.next_op().key).collect();
        assert!(keys.len() > 4, "fresh keys replace retired ones: {keys:?}");
        let finals = ThreadGenerator::final_keys(
            &options(Workload::CasRegister),
            0,
            generator.generations(),
        );
        assert!(keys.iter().filter(|key| key.as_str() != "r").all(|key| {
            let index: usize = key[1..].parse().unwrap();
            index % 3 != 0 || finals.contains(key)
        }));
    }
}
