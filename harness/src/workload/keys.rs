//! Key slots: a workload keeps `key_count` keys in use at once and retires a
//! slot's key for a fresh one after its share of `ops_per_key` operations
//! (Jepsen's ops-per-key), so each key's history stays short to check.

use super::GeneratorOptions;
use crate::rng::Rng;

/// One worker's key slots.
pub struct Slots {
    /// Per slot: its generation (retired keys get fresh names) and operations so far.
    slots: Vec<(u64, usize)>,
    /// Operations per key for this worker (0: never retire).
    per_thread: usize,
    retire: bool,
}

impl Slots {
    /// `count` slots, retired by `options.ops_per_key` shared among the workers.
    pub fn new(count: usize, options: &GeneratorOptions) -> Slots {
        // Every thread retires a slot's key after the same number of its own
        // operations.
        let per_thread = options.ops_per_key.div_ceil(options.concurrency.max(1));
        Slots {
            slots: vec![(0, 0); count.max(1)],
            per_thread: per_thread.max(1),
            retire: options.ops_per_key > 0,
        }
    }

    /// The next key, `k<N>`: a random slot's current key.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        let count = self.slots.len() as u64;
        let slot = rng.below(count) as usize;
        let (generation, used) = &mut self.slots[slot];
        if self.retire && *used >= self.per_thread {
            *generation += 1;
            *used = 0;
        }
        *used += 1;
        *generation * count + slot as u64
    }

    /// The highest generation so far.
    pub fn generations(&self) -> u64 {
        self.slots
            .iter()
            .map(|(generation, _)| *generation)
            .max()
            .unwrap_or(0)
    }
}

/// Worker `thread`'s share of every key of `slots` slots any worker may have
/// used by generation `generations`: `k<N>` for each N it owns.
pub fn final_keys(
    slots: usize,
    options: &GeneratorOptions,
    thread: usize,
    generations: u64,
) -> Vec<String> {
    let slots = slots.max(1) as u64;
    (0..slots * (generations + 1))
        .filter(|index| *index as usize % options.concurrency.max(1) == thread)
        .map(|index| format!("k{index}"))
        .collect()
}
