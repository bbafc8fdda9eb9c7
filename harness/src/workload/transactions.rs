//! Transactional workloads (Elle's): transactions of 1 to
//! [`MAX_TXN_LENGTH`] micro-operations over a few hot keys, judged by the
//! transactional checker.
//!
//! - `list-append`: appends to lists and whole-list reads, so the version
//!   order of each key can be read back.
//! - `rw-register`: register writes and reads, unique values.

use super::keys::{self, Slots};
use super::{Generator, GeneratorOptions, Mix, Mop, Op, Requirement, Workload, unique_value};
use crate::rng::Rng;

/// Most micro-operations in one transaction (Elle's default).
pub const MAX_TXN_LENGTH: u64 = 4;

/// A transactional workload.
pub struct Transactions {
    name: &'static str,
    about: &'static str,
    /// Appends (list-append) rather than writes (rw-register).
    append: bool,
}

/// `list-append`.
pub const LIST_APPEND: Transactions = Transactions {
    name: "list-append",
    about: "transactions of appends and list reads; Elle's anomalies and isolation models",
    append: true,
};

/// `rw-register`.
pub const RW_REGISTER: Transactions = Transactions {
    name: "rw-register",
    about: "transactions of register writes and reads; Elle's anomalies and isolation models",
    append: false,
};

impl Workload for Transactions {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn requires(&self, _mix: &Mix) -> Vec<Requirement> {
        vec![Requirement::Transactions]
    }

    fn takes_value_prefix(&self) -> bool {
        false
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["transactional"]
    }

    fn generator(&self, options: &GeneratorOptions, thread: usize) -> Box<dyn Generator> {
        Box::new(TxnGenerator {
            mix: options.mix,
            append: self.append,
            slots: Slots::new(options.key_count, options),
            thread,
            written: 0,
        })
    }

    fn final_reads(&self, options: &GeneratorOptions, thread: usize, generations: u64) -> Vec<Op> {
        keys::final_keys(options.key_count, options, thread, generations)
            .into_iter()
            .map(|key| Op::Txn {
                mops: vec![Mop::Read { key }],
            })
            .collect()
    }
}

struct TxnGenerator {
    mix: Mix,
    append: bool,
    slots: Slots,
    thread: usize,
    written: u64,
}

impl Generator for TxnGenerator {
    /// Reads and appends (or writes) in the mix's read : write proportion.
    fn next_op(&mut self, rng: &mut Rng) -> Op {
        let length = 1 + rng.below(MAX_TXN_LENGTH);
        let total = u64::from(self.mix.read + self.mix.write).max(1);
        let mops = (0..length)
            .map(|_| {
                let key = format!("k{}", self.slots.next(rng));
                if (rng.below(total) as u32) < self.mix.read || self.mix.write == 0 {
                    Mop::Read { key }
                } else {
                    let value = unique_value(&mut self.written, self.thread, None);
                    if self.append {
                        Mop::Append { key, value }
                    } else {
                        Mop::Write { key, value }
                    }
                }
            })
            .collect();
        Op::Txn { mops }
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
    fn transactions_hold_unique_appends_and_reads() {
        let mut stream = Stream::new(&LIST_APPEND, &options(), 2);
        let mut appended = std::collections::HashSet::new();
        let mut lengths = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let Op::Txn { mops } = stream.next_op() else {
                panic!("a transaction");
            };
            lengths.insert(mops.len());
            for mop in mops {
                match mop {
                    Mop::Read { .. } => {}
                    Mop::Append { value, .. } => assert!(appended.insert(value.to_string())),
                    Mop::Write { .. } => panic!("list-append writes no register"),
                }
            }
        }
        assert_eq!(lengths, (1..=4).collect());
        let mut registers = Stream::new(&RW_REGISTER, &options(), 0);
        let op = (0..50)
            .map(|_| registers.next_op())
            .find(|op| !op.read_only())
            .unwrap();
        assert!(
            op.value()
                .as_array()
                .unwrap()
                .iter()
                .any(|mop| mop[0] == "w")
        );
    }
}
