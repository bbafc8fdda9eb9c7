//! The recorder: the only writer of `history.jsonl`. Append-only, one line per
//! event, handed to the file as it happens so a killed run still leaves a
//! checkable history; times from one monotonic clock started with the run.
//! Index and time are taken under the same lock as the line is queued, so file
//! order, index order and time order agree.
//!
//! Lines are queued and a flusher task on the run's runtime writes all that
//! are queued in one system call: the events of one turn of the scheduler
//! (the completions that arrived together, the invocations they let go)
//! share a write, with no timer holding a line back and no thread to wake.
//! A controller killed outright loses at most the current turn's lines,
//! which leaves a prefix of the history — as checkable as any.

use histories::{Event, EventType, Process};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counts of completions, for progress.
#[derive(Default)]
pub struct Counts {
    /// `ok` completions.
    pub ok: AtomicU64,
    /// `fail` completions.
    pub fail: AtomicU64,
    /// `info` completions.
    pub info: AtomicU64,
}

/// What the clients and the flusher share.
#[derive(Default)]
struct Queue {
    /// Lines not yet written.
    lines: Vec<u8>,
    /// The next event's index.
    index: u64,
    /// The first write error; every later event is refused with it.
    failed: Option<String>,
}

/// Writes the history.
pub struct Recorder {
    queue: Mutex<Queue>,
    /// The file, and the batch being written (reused).
    file: Mutex<(File, Vec<u8>)>,
    /// Wakes the flusher when lines are queued.
    queued: tokio::sync::Notify,
    closed: AtomicBool,
    start: Instant,
    /// Completions so far.
    pub counts: Counts,
}

impl Recorder {
    /// Creates `path` (which must not exist). Spawn [`Recorder::flush_queued`]
    /// on the runtime that records, and [`Recorder::close`] at the end.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Recorder {
            queue: Mutex::new(Queue::default()),
            file: Mutex::new((file, Vec::with_capacity(64 * 1024))),
            queued: tokio::sync::Notify::new(),
            closed: AtomicBool::new(false),
            start,
            counts: Counts::default(),
        })
    }

    /// Queues one event.
    ///
    /// # Errors
    /// An earlier write failed (the disk is full, say): the run cannot go on
    /// honestly.
    pub fn record(
        &self,
        kind: EventType,
        process: Process,
        f: &str,
        key: Option<&str>,
        value: Value,
        error: Option<Value>,
    ) -> std::io::Result<()> {
        let mut queue = self.queue.lock().expect("recorder lock");
        if let Some(failed) = &queue.failed {
            return Err(std::io::Error::other(failed.clone()));
        }
        let event = Event {
            index: queue.index,
            time_ns: self.start.elapsed().as_nanos() as i64,
            kind,
            process,
            f: f.to_string(),
            key: key.map(|key| Value::String(key.to_string())),
            value,
            error,
        };
        let was_empty = queue.lines.is_empty();
        serde_json::to_writer(&mut queue.lines, &event)?;
        queue.lines.push(b'\n');
        queue.index += 1;
        drop(queue);
        if was_empty {
            self.queued.notify_one();
        }
        match kind {
            EventType::Ok => self.counts.ok.fetch_add(1, Ordering::Relaxed),
            EventType::Fail => self.counts.fail.fetch_add(1, Ordering::Relaxed),
            EventType::Info => self.counts.info.fetch_add(1, Ordering::Relaxed),
            EventType::Invoke => 0,
        };
        Ok(())
    }

    /// The flusher: writes whatever is queued each time lines arrive, until
    /// [`Recorder::close`].
    pub async fn flush_queued(self: Arc<Self>) {
        while !self.closed.load(Ordering::Relaxed) {
            self.queued.notified().await;
            self.flush();
        }
    }

    /// Writes every queued line; a failure is kept and refuses later events.
    fn flush(&self) {
        let mut file = self.file.lock().expect("file lock");
        let (file, batch) = &mut *file;
        std::mem::swap(&mut self.queue.lock().expect("recorder lock").lines, batch);
        if batch.is_empty() {
            return;
        }
        if let Err(error) = file.write_all(batch) {
            self.queue.lock().expect("recorder lock").failed =
                Some(format!("writing the history: {error}"));
        }
        batch.clear();
    }

    /// Writes what is queued and stops the flusher. Call before reading the
    /// history back.
    ///
    /// # Errors
    /// A write failed.
    pub fn close(&self) -> std::io::Result<()> {
        self.flush();
        self.closed.store(true, Ordering::Relaxed);
        self.queued.notify_one();
        match &self.queue.lock().expect("recorder lock").failed {
            Some(failed) => Err(std::io::Error::other(failed.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_event_reaches_the_file_in_index_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let recorder = Arc::new(Recorder::create(&path, Instant::now()).unwrap());
        let flusher = tokio::spawn(recorder.clone().flush_queued());
        let clients: Vec<_> = (0..4u64)
            .map(|process| {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    for value in 0..250 {
                        let record = |kind| {
                            recorder.record(
                                kind,
                                Process::Client(process),
                                "write",
                                None,
                                Value::from(value),
                                None,
                            )
                        };
                        record(EventType::Invoke).unwrap();
                        tokio::task::yield_now().await;
                        record(EventType::Ok).unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        recorder.close().unwrap();
        flusher.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let history = histories::parse("history.jsonl", &text, None).unwrap();
        assert_eq!(history.events.len(), 2_000);
        assert_eq!(history.operations.len(), 1_000);
        assert!(
            history
                .events
                .iter()
                .enumerate()
                .all(|(position, event)| event.index == position as u64)
        );
        assert_eq!(recorder.counts.ok.load(Ordering::Relaxed), 1_000);
    }
}
