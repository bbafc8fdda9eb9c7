//! How much time and memory a check may spend before it answers `unknown`.
//!
//! The search reads the monotonic clock only to enforce this budget; the verdict
//! never depends on the clock otherwise.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Limits for one check. A check that reaches one ends in `unknown` with the
/// reason, never in a hang or an out-of-memory kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time for the whole check, all keys together.
    pub time_limit: Duration,
    /// Memory for the search's caches, all keys together.
    pub memory_limit_bytes: usize,
}

impl Default for Budget {
    /// Five minutes and 2 GiB: generous for any history Jepsen can check, and
    /// small enough not to take a CI machine down.
    fn default() -> Self {
        Budget {
            time_limit: Duration::from_secs(300),
            memory_limit_bytes: 2 << 30,
        }
    }
}

/// Why a budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The time limit passed.
    Time,
    /// The caches reached the memory limit.
    Memory,
}

/// A budget being spent, shared by the threads of one check.
#[derive(Debug)]
pub(crate) struct Meter {
    deadline: Instant,
    budget: Budget,
    memory_bytes: AtomicUsize,
    exhausted: AtomicBool,
    exhausted_by_memory: AtomicBool,
}

impl Meter {
    pub(crate) fn start(budget: Budget) -> Meter {
        Meter {
            deadline: Instant::now() + budget.time_limit,
            budget,
            memory_bytes: AtomicUsize::new(0),
            exhausted: AtomicBool::new(false),
            exhausted_by_memory: AtomicBool::new(false),
        }
    }

    /// Records `delta_bytes` more (or, negative, fewer) cache bytes and checks the
    /// limits. Called every few thousand search steps.
    pub(crate) fn charge(&self, delta_bytes: isize) -> Result<(), Exhausted> {
        let now_bytes = if delta_bytes >= 0 {
            self.memory_bytes
                .fetch_add(delta_bytes as usize, Ordering::Relaxed)
                + delta_bytes as usize
        } else {
            self.memory_bytes
                .fetch_sub(delta_bytes.unsigned_abs(), Ordering::Relaxed)
                - delta_bytes.unsigned_abs()
        };
        if self.exhausted.load(Ordering::Relaxed) {
            return Err(self.reason());
        }
        if now_bytes > self.budget.memory_limit_bytes {
            self.exhausted_by_memory.store(true, Ordering::Relaxed);
            self.exhausted.store(true, Ordering::Relaxed);
            return Err(Exhausted::Memory);
        }
        if Instant::now() >= self.deadline {
            self.exhausted.store(true, Ordering::Relaxed);
            return Err(Exhausted::Time);
        }
        Ok(())
    }

    fn reason(&self) -> Exhausted {
        if self.exhausted_by_memory.load(Ordering::Relaxed) {
            Exhausted::Memory
        } else {
            Exhausted::Time
        }
    }

    /// Time left, for work (such as shrinking) that should not outlive the check.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
