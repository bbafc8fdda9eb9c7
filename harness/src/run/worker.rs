//! A worker: one client thread of the workload, a logical process at a time,
//! bound to one node. It invokes what its generator says when it says, and
//! records every invocation and completion.

use crate::client::{Client, Completion};
use crate::recorder::Recorder;
use crate::workload::{Op, Stream};
use histories::{EventType, Process};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One worker thread: a logical process at a time, bound to one node.
pub struct Worker {
    pub thread: usize,
    pub concurrency: usize,
    pub endpoint: Arc<dyn Client>,
    pub recorder: Arc<Recorder>,
    pub stop: Arc<AtomicBool>,
}

impl Worker {
    /// Invokes operations until the deadline or a stop; returns the highest key
    /// generation used and the process id it ends with.
    pub async fn run(
        self,
        mut stream: Stream,
        deadline: Instant,
    ) -> Result<(u64, u64), std::io::Error> {
        let mut process = self.thread as u64;
        // Each operation is due a stagger gap after the previous one was due;
        // sleeping only when ahead of that schedule keeps the rate right even
        // where gaps are shorter than the timer's millisecond resolution. A
        // worker held up (a timeout, a partition) does not burst afterwards to
        // make up what it missed (the rate is a ceiling, not a quota): it
        // falls at most MAX_LAG behind its schedule.
        const MAX_LAG: Duration = Duration::from_millis(50);
        let mut due = tokio::time::Instant::now();
        // Bounded in time by the deadline and in count by this cap.
        for _ in 0..100_000_000u64 {
            let now = tokio::time::Instant::now();
            due = due.max(now.checked_sub(MAX_LAG).unwrap_or(now));
            due += stream.delay();
            if self.stop.load(Ordering::Relaxed)
                || due.into_std() >= deadline
                || Instant::now() >= deadline
            {
                break;
            }
            if due > now {
                tokio::time::sleep_until(due).await;
            }
            let op = stream.next_op();
            let completion = self.invoke(process, &op).await?;
            match completion {
                Completion::Ok(value) => stream.observe(&op, &value),
                // A process whose operation is indeterminate is retired.
                Completion::Info(_) => process += self.concurrency as u64,
                _ => {}
            }
        }
        Ok((stream.generations(), process))
    }

    async fn invoke(&self, process: u64, op: &Op) -> Result<Completion, std::io::Error> {
        let record = |kind, value: Value, error| {
            self.recorder.record(
                kind,
                Process::Client(process),
                op.f(),
                op.key(),
                value,
                error,
            )
        };
        record(EventType::Invoke, op.value(), None)?;
        let completion = self.endpoint.invoke(op).await;
        match &completion {
            Completion::Ok(value) => record(EventType::Ok, value.clone(), None)?,
            Completion::Fail(error) => record(EventType::Fail, op.value(), Some(error.clone()))?,
            Completion::Info(error) => record(EventType::Info, op.value(), Some(error.clone()))?,
        }
        Ok(completion)
    }

    /// The final phase: reads each key until one succeeds (a few tries each).
    pub async fn read_all(self, process: u64, reads: Vec<Op>) -> Result<(), std::io::Error> {
        for op in reads {
            // A few seconds of tries: a node restarted by the nemesis may still
            // be rejoining.
            for _ in 0..50 {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if matches!(self.invoke(process, &op).await?, Completion::Ok(_)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}
