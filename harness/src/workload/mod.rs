//! Workloads: what the clients do to the store. A [`Workload`] names its
//! typed operations ([`Op`]), makes a seeded [`Generator`] per worker, says
//! what to read after the faults are healed, what it needs of a store and
//! which checkers judge its history. Each lives in its own module and is
//! registered once, in [`ALL`].
//!
//! Generators are pure: each worker thread draws from its own random stream
//! (seed, thread), shared between what to do ([`Generator::next_op`]) and when
//! ([`Stream::delay`]: Jepsen's `stagger`, a uniformly random gap in [0, 2·dt]
//! before each operation, dt = concurrency / rate). The time limit is the
//! interpreter's.
//!
//! A new workload is a module like this example (its operations, generator,
//! final reads, requirements and checkers) plus one line in [`ALL`]:
//!
//! ```
//! use faultline::rng::Rng;
//! use faultline::workload::{Generator, GeneratorOptions, Mix, Op, Requirement, Stream, Workload};
//!
//! /// Each worker writes its own key, then reads it back, in turn.
//! pub struct WriteThenRead;
//!
//! struct Alternate {
//!     thread: usize,
//!     written: u64,
//! }
//!
//! impl Generator for Alternate {
//!     fn next_op(&mut self, _rng: &mut Rng) -> Op {
//!         let key = format!("w{}", self.thread);
//!         self.written += 1;
//!         if self.written % 2 == 1 {
//!             // Unique across workers: sequence and thread.
//!             let value = (self.written * 1000 + self.thread as u64).into();
//!             Op::Write { key, value }
//!         } else {
//!             Op::Read { key }
//!         }
//!     }
//! }
//!
//! impl Workload for WriteThenRead {
//!     fn name(&self) -> &'static str {
//!         "write-then-read"
//!     }
//!     fn about(&self) -> &'static str {
//!         "each worker writes its own key and reads it back; linearizability per key"
//!     }
//!     fn requires(&self, _mix: &Mix) -> Vec<Requirement> {
//!         Vec::new()
//!     }
//!     fn takes_value_prefix(&self) -> bool {
//!         false
//!     }
//!     fn checkers(&self) -> &'static [&'static str] {
//!         &["linearizable", "profile"]
//!     }
//!     fn generator(&self, _options: &GeneratorOptions, thread: usize) -> Box<dyn Generator> {
//!         Box::new(Alternate { thread, written: 0 })
//!     }
//!     fn final_reads(&self, _options: &GeneratorOptions, thread: usize, _generations: u64) -> Vec<Op> {
//!         vec![Op::Read { key: format!("w{thread}") }]
//!     }
//! }
//!
//! let options = GeneratorOptions {
//!     mix: Mix::parse("1,1,0").unwrap(),
//!     key_count: 1,
//!     ops_per_key: 0,
//!     concurrency: 2,
//!     rate: 100.0,
//!     seed: 7,
//!     value_prefix: None,
//! };
//! let mut stream = Stream::new(&WriteThenRead, &options, 1);
//! assert_eq!(stream.next_op(), Op::Write { key: "w1".into(), value: 1001.into() });
//! assert_eq!(stream.next_op(), Op::Read { key: "w1".into() });
//! // Registered by one line in `ALL`: `&write_then_read::WRITE_THEN_READ,`.
//! ```

pub mod keys;
pub mod op;
pub mod registers;
pub mod transactions;

use crate::rng::Rng;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

pub use op::{Mop, Op};

/// Every workload `faultline run --workload` offers, in the order `--help`
/// lists them. A new workload is one module and one line here.
pub const ALL: &[&dyn Workload] = &[
    &registers::REGISTER,
    &registers::CAS_REGISTER,
    &registers::KV,
    &transactions::LIST_APPEND,
    &transactions::RW_REGISTER,
];

/// The workload named `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Workload> {
    ALL.iter().copied().find(|workload| workload.name() == name)
}

/// Every workload's name.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|workload| workload.name()).collect()
}

/// A registered workload, as a plan holds it: recorded by its name.
#[derive(Clone, Copy)]
pub struct Chosen(pub &'static dyn Workload);

impl std::ops::Deref for Chosen {
    type Target = dyn Workload;

    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl std::fmt::Debug for Chosen {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.0.name())
    }
}

impl Serialize for Chosen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

/// What a workload needs a store to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Multi-key transactions (`txn`).
    Transactions,
    /// Compare-and-set on one key.
    Cas,
}

/// A workload: operations, their generator, final reads, and its judges.
pub trait Workload: Sync {
    /// Its name, as `--workload` takes it.
    fn name(&self) -> &'static str;
    /// What it does and what judges it, in one line for `--help`.
    fn about(&self) -> &'static str;
    /// What a store must serve for it, given the mix.
    fn requires(&self, mix: &Mix) -> Vec<Requirement>;
    /// Whether its written values may be strings (`--value-prefix`).
    fn takes_value_prefix(&self) -> bool;
    /// The checkers (names in the checking registry) that judge its history.
    fn checkers(&self) -> &'static [&'static str];
    /// Worker `thread`'s generator.
    fn generator(&self, options: &GeneratorOptions, thread: usize) -> Box<dyn Generator>;
    /// The final phase's reads for worker `thread`, once every fault is
    /// healed: its share of every key any worker may have used, given the
    /// highest key generation any reached.
    fn final_reads(&self, options: &GeneratorOptions, thread: usize, generations: u64) -> Vec<Op>;
}

/// One worker's stream of operations.
pub trait Generator: Send {
    /// The next operation, drawn from `rng`.
    fn next_op(&mut self, rng: &mut Rng) -> Op;
    /// What `op` returned when it succeeded, so later operations can aim at
    /// real values (a cas at what was read).
    fn observe(&mut self, _op: &Op, _result: &Value) {}
    /// How many times key slots were retired for fresh keys (the highest
    /// generation), for the final reads.
    fn generations(&self) -> u64 {
        0
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

/// The generator's settings.
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// The operation mix.
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

/// A worker's random stream and generator: what to invoke next, and when.
pub struct Stream {
    rng: Rng,
    concurrency: usize,
    rate: f64,
    generator: Box<dyn Generator>,
}

impl Stream {
    /// Worker `thread`'s stream of `workload`.
    pub fn new(workload: &dyn Workload, options: &GeneratorOptions, thread: usize) -> Stream {
        let seed = options.seed ^ (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Stream {
            rng: Rng::new(seed),
            concurrency: options.concurrency,
            rate: options.rate,
            generator: workload.generator(options, thread),
        }
    }

    /// The gap before the next operation: uniform in [0, 2·dt].
    pub fn delay(&mut self) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let mean = self.concurrency as f64 / self.rate;
        let fraction = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(2.0 * mean * fraction)
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        self.generator.next_op(&mut self.rng)
    }

    /// What a successful operation returned.
    pub fn observe(&mut self, op: &Op, result: &Value) {
        self.generator.observe(op, result);
    }

    /// The highest key generation so far.
    pub fn generations(&self) -> u64 {
        self.generator.generations()
    }
}

/// The options the generators' tests share: 3 workers at 100 ops/s over 4
/// keys, reads : writes : cas = 2 : 1 : 1.
#[cfg(test)]
pub(crate) fn test_options() -> GeneratorOptions {
    GeneratorOptions {
        mix: Mix::parse("2,1,1").unwrap(),
        key_count: 4,
        ops_per_key: 0,
        concurrency: 3,
        rate: 100.0,
        seed: 42,
        value_prefix: None,
    }
}

/// A value no other operation writes to any key: thread and sequence.
pub(crate) fn unique_value(written: &mut u64, thread: usize, prefix: Option<&str>) -> Value {
    *written += 1;
    let number = *written * 1000 + thread as u64;
    match prefix {
        Some(prefix) => Value::String(format!("{prefix}{number}")),
        None => Value::from(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_registered_once_by_a_distinct_name() {
        let mut names = names();
        assert_eq!(names.len(), ALL.len());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for workload in ALL {
            assert_eq!(by_name(workload.name()).unwrap().about(), workload.about());
            assert!(!workload.about().is_empty() && !workload.checkers().is_empty());
        }
        assert!(by_name("gremlins").is_none());
    }

    #[test]
    fn delays_average_to_the_rate() {
        let mut stream = Stream::new(&registers::CAS_REGISTER, &test_options(), 0);
        let total: f64 = (0..10_000).map(|_| stream.delay().as_secs_f64()).sum();
        // 3 threads at 100 ops/s: 30 ms between one thread's operations.
        assert!(
            (0.027..0.033).contains(&(total / 10_000.0)),
            "{}",
            total / 10_000.0
        );
    }
}
