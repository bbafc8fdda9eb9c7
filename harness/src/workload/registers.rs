//! Single-key workloads: reads, writes and compare-and-sets on registers,
//! judged for linearizability per key and by the weak models of the
//! consistency profile.
//!
//! - `register`: one key.
//! - `cas-register`: many independent keys, each checked alone.
//! - `kv`: reads and writes (no cas) on many keys.

use super::keys::{self, Slots};
use super::{Generator, GeneratorOptions, Mix, Op, Requirement, Workload, unique_value};
use crate::rng::Rng;
use serde_json::Value;
use std::collections::HashMap;

/// A single-key workload.
pub struct Registers {
    name: &'static str,
    about: &'static str,
    /// Everything on the one key `r`.
    one_key: bool,
    /// Whether the mix's cas weight counts.
    cas: bool,
}

/// `register`.
pub const REGISTER: Registers = Registers {
    name: "register",
    about: "read, write and cas on one key; linearizability and the consistency profile",
    one_key: true,
    cas: true,
};

/// `cas-register`.
pub const CAS_REGISTER: Registers = Registers {
    name: "cas-register",
    about: "read, write and cas on many independent keys; linearizability per key and the consistency profile",
    one_key: false,
    cas: true,
};

/// `kv`.
pub const KV: Registers = Registers {
    name: "kv",
    about: "reads and writes on many keys; linearizability per key and the consistency profile",
    one_key: false,
    cas: false,
};

/// The checkers of every single-key workload.
const CHECKERS: &[&str] = &["linearizable", "profile"];

impl Workload for Registers {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn requires(&self, mix: &Mix) -> Vec<Requirement> {
        if self.cas && mix.cas > 0 {
            vec![Requirement::Cas]
        } else {
            Vec::new()
        }
    }

    fn takes_value_prefix(&self) -> bool {
        true
    }

    fn checkers(&self) -> &'static [&'static str] {
        CHECKERS
    }

    fn generator(&self, options: &GeneratorOptions, thread: usize) -> Box<dyn Generator> {
        let mut mix = options.mix;
        if !self.cas {
            mix.cas = 0;
        }
        Box::new(RegisterGenerator {
            mix,
            one_key: self.one_key,
            slots: Slots::new(if self.one_key { 1 } else { options.key_count }, options),
            thread,
            written: 0,
            prefix: options.value_prefix.clone(),
            last_seen: HashMap::new(),
        })
    }

    fn final_reads(&self, options: &GeneratorOptions, thread: usize, generations: u64) -> Vec<Op> {
        let keys = if self.one_key {
            if thread == 0 {
                vec!["r".to_string()]
            } else {
                Vec::new()
            }
        } else {
            keys::final_keys(options.key_count, options, thread, generations)
        };
        keys.into_iter().map(|key| Op::Read { key }).collect()
    }
}

struct RegisterGenerator {
    mix: Mix,
    one_key: bool,
    slots: Slots,
    thread: usize,
    /// Values this thread has written, to make each unique.
    written: u64,
    prefix: Option<String>,
    /// The last value this thread saw on each key, to aim cas at.
    last_seen: HashMap<String, Value>,
}

impl Generator for RegisterGenerator {
    fn next_op(&mut self, rng: &mut Rng) -> Op {
        let mix = self.mix;
        let total = u64::from(mix.read + mix.write + mix.cas).max(1);
        let roll = rng.below(total) as u32;
        let slot = self.slots.next(rng);
        let key = if self.one_key {
            "r".to_string()
        } else {
            format!("k{slot}")
        };
        if roll < mix.read {
            Op::Read { key }
        } else if roll < mix.read + mix.write {
            let value = unique_value(&mut self.written, self.thread, self.prefix.as_deref());
            self.last_seen.insert(key.clone(), value.clone());
            Op::Write { key, value }
        } else {
            let from = self.last_seen.get(&key).cloned().unwrap_or(Value::Null);
            let to = unique_value(&mut self.written, self.thread, self.prefix.as_deref());
            Op::Cas { key, from, to }
        }
    }

    fn observe(&mut self, op: &Op, result: &Value) {
        if let Op::Read { key } = op {
            self.last_seen.insert(key.clone(), result.clone());
        }
    }

    fn generations(&self) -> u64 {
        self.slots.generations()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Stream, test_options as options};
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_operations() {
        let draw = |seed| {
            let mut stream = Stream::new(&CAS_REGISTER, &GeneratorOptions { seed, ..options() }, 1);
            (0..50).map(|_| stream.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn written_values_are_unique_across_threads() {
        let mut seen = std::collections::HashSet::new();
        for thread in 0..3 {
            let mut stream = Stream::new(&CAS_REGISTER, &options(), thread);
            for _ in 0..500 {
                let written = match stream.next_op() {
                    Op::Write { value, .. } => value,
                    Op::Cas { to, .. } => to,
                    _ => continue,
                };
                assert!(seen.insert(written.to_string()), "{written} written twice");
            }
        }
    }

    #[test]
    fn the_mix_and_workload_are_respected() {
        let mut stream = Stream::new(&KV, &options(), 0);
        let ops: Vec<Op> = (0..1000).map(|_| stream.next_op()).collect();
        assert!(ops.iter().all(|op| op.f() != "cas"), "kv has no cas");
        let reads = ops.iter().filter(|op| op.f() == "read").count();
        assert!(
            (550..780).contains(&reads),
            "about two thirds reads: {reads}"
        );
        let mut register = Stream::new(&REGISTER, &options(), 0);
        assert!((0..100).all(|_| register.next_op().key() == Some("r")));
    }

    #[test]
    fn keys_are_retired_after_their_share_of_operations() {
        let retiring = GeneratorOptions {
            ops_per_key: 30,
            ..options()
        };
        let mut stream = Stream::new(&CAS_REGISTER, &retiring, 0);
        let keys: std::collections::BTreeSet<String> = (0..200)
            .map(|_| stream.next_op().key().unwrap().to_string())
            .collect();
        assert!(keys.len() > 4, "fresh keys replace retired ones: {keys:?}");
        let finals: Vec<String> = CAS_REGISTER
            .final_reads(&options(), 0, stream.generations())
            .iter()
            .map(|op| op.key().unwrap().to_string())
            .collect();
        assert!(keys.iter().all(|key| {
            let index: usize = key[1..].parse().unwrap();
            index % 3 != 0 || finals.contains(key)
        }));
    }
}
