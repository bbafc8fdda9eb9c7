//! Building histories in code: for tests, examples and generators.

use crate::{Event, EventType, History, HistoryError, Process};
use serde_json::Value;

/// Appends events one by one, stamping index and time, so that a test reads like
/// a timeline.
///
/// ```
/// use histories::HistoryBuilder;
/// use serde_json::json;
///
/// let history = HistoryBuilder::new()
///     .invoke(0, "write", json!(1))
///     .ok(0, "write", json!(1))
///     .invoke(1, "read", json!(null))
///     .ok(1, "read", json!(1))
///     .build()
///     .unwrap();
/// assert_eq!(history.operations.len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct HistoryBuilder {
    events: Vec<Event>,
    key: Option<Value>,
}

impl HistoryBuilder {
    /// An empty history.
    pub fn new() -> Self {
        HistoryBuilder::default()
    }

    /// Sets the key of the events appended from now on.
    pub fn key(mut self, key: impl Into<Value>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Appends an event of any type on a client process.
    pub fn event(mut self, kind: EventType, process: u64, f: &str, value: Value) -> Self {
        let index = self.events.len() as u64;
        self.events.push(Event {
            index,
            time_ns: index as i64,
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            key: self.key.clone(),
            value,
            error: None,
        });
        self
    }

    /// Appends an invocation.
    pub fn invoke(self, process: u64, f: &str, value: Value) -> Self {
        self.event(EventType::Invoke, process, f, value)
    }

    /// Appends an `ok` completion.
    pub fn ok(self, process: u64, f: &str, value: Value) -> Self {
        self.event(EventType::Ok, process, f, value)
    }

    /// Appends a `fail` completion.
    pub fn fail(self, process: u64, f: &str, value: Value) -> Self {
        self.event(EventType::Fail, process, f, value)
    }

    /// Appends an `info` completion.
    pub fn info(self, process: u64, f: &str, value: Value) -> Self {
        self.event(EventType::Info, process, f, value)
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Validates and pairs the events.
    ///
    /// # Errors
    /// As [`History::from_events`].
    pub fn build(self) -> Result<History, HistoryError> {
        let lines = (1..=self.events.len()).collect();
        History::from_events("<built>", self.events, lines)
    }
}
