//! The only place a store reads wall-clock time, so that clock faults (libfaketime
//! rewriting a node's time) reach everything that depends on it, and nothing else.
//! Timeouts and leases use the monotonic clock (`tokio::time::Instant`), which the
//! clock nemesis leaves alone, as real clock steps do.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, by this node's wall clock.
pub fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
