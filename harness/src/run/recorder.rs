//! The recorder: the only writer of `history.jsonl`. Append-only, one line per
//! event, flushed as it happens so a killed run still leaves a checkable history;
//! times from one monotonic clock started with the run. Index and time are taken
//! under the same lock as the write, so file order, index order and time order
//! agree.

use histories::{Event, EventType, Process};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Writes the history.
pub struct Recorder {
    /// The file, the next index, and a line buffer reused for every event.
    state: Mutex<(File, u64, Vec<u8>)>,
    start: Instant,
    /// Completions so far.
    pub counts: Counts,
}

impl Recorder {
    /// Creates `path` (which must not exist).
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Recorder {
            state: Mutex::new((file, 0, Vec::with_capacity(256))),
            start,
            counts: Counts::default(),
        })
    }

    /// Appends one event and flushes it.
    ///
    /// # Errors
    /// The write fails (the disk is full, say): the run cannot go on honestly.
    pub fn record(
        &self,
        kind: EventType,
        process: Process,
        f: &str,
        key: Option<&str>,
        value: Value,
        error: Option<Value>,
    ) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("recorder lock");
        let (file, index, line) = &mut *state;
        let event = Event {
            index: *index,
            time_ns: self.start.elapsed().as_nanos() as i64,
            kind,
            process,
            f: f.to_string(),
            key: key.map(|key| Value::String(key.to_string())),
            value,
            error,
        };
        line.clear();
        serde_json::to_writer(&mut *line, &event)?;
        line.push(b'\n');
        // One write per event, straight to the file: no buffer holds an event
        // back, so a killed controller leaves every event it recorded.
        file.write_all(line)?;
        *index += 1;
        match kind {
            EventType::Ok => self.counts.ok.fetch_add(1, Ordering::Relaxed),
            EventType::Fail => self.counts.fail.fetch_add(1, Ordering::Relaxed),
            EventType::Info => self.counts.info.fetch_add(1, Ordering::Relaxed),
            EventType::Invoke => 0,
        };
        Ok(())
    }
}
