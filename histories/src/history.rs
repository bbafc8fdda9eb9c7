//! Validated histories and the operations paired from their events.

use crate::{Event, EventType, HistoryError, Process};
use serde_json::Value;
use std::collections::HashMap;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may take effect at any time after its invocation, or never.
    /// An invocation that never completes is `Info` too.
    Info,
}

/// An invocation paired with its completion.
///
/// Positions index [`History::events`]; order between operations is the order of
/// their events in the history, which the recorder guarantees is a real-time order
/// (invocations are journaled before the request leaves, completions after the
/// response arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Position of the invocation event.
    pub invoke: usize,
    /// Position of the completion event; `None` if the history ends first.
    pub completion: Option<usize>,
    /// How it ended.
    pub outcome: Outcome,
}

/// A history that has been read and validated: every completion has its
/// invocation, no process has two operations in flight, time never goes backwards.
#[derive(Debug, Clone)]
pub struct History {
    /// The file it came from, for messages.
    pub file: String,
    /// The events in history order.
    pub events: Vec<Event>,
    /// The 1-based source line of each event.
    pub lines: Vec<usize>,
    /// Client operations, ordered by invocation.
    pub operations: Vec<Operation>,
}

impl History {
    /// Validates `events` and pairs them into operations.
    ///
    /// # Errors
    /// A typed [`HistoryError`] naming the line of the first event that breaks a rule.
    pub fn from_events(
        file: impl Into<String>,
        events: Vec<Event>,
        lines: Vec<usize>,
    ) -> Result<History, HistoryError> {
        let file = file.into();
        assert_eq!(events.len(), lines.len(), "one source line per event");
        if events.is_empty() {
            return Err(HistoryError::Empty { file });
        }
        let mut in_flight: HashMap<u64, usize> = HashMap::new();
        let mut operations = Vec::with_capacity(events.len() / 2 + 1);
        for (position, event) in events.iter().enumerate() {
            if position > 0 && event.time_ns < events[position - 1].time_ns {
                return Err(HistoryError::TimeWentBackwards {
                    file,
                    line: lines[position],
                    time_ns: event.time_ns,
                    previous_time_ns: events[position - 1].time_ns,
                    previous_line: lines[position - 1],
                });
            }
            // Nemesis events describe faults, not operations on the store: Jepsen
            // writes them as `info` pairs (spec, then effect), so they are not paired.
            let Process::Client(process) = event.process else {
                continue;
            };
            if event.kind == EventType::Invoke {
                if let Some(&pending) = in_flight.get(&process) {
                    return Err(HistoryError::DoubleInvoke {
                        file,
                        line: lines[position],
                        process: event.process,
                        f: event.f.clone(),
                        pending_f: events[pending].f.clone(),
                        pending_line: lines[pending],
                    });
                }
                in_flight.insert(process, position);
                continue;
            }
            let Some(invoke) = in_flight.remove(&process) else {
                return Err(HistoryError::OrphanCompletion {
                    file,
                    line: lines[position],
                    process: event.process,
                    f: event.f.clone(),
                });
            };
            if events[invoke].f != event.f {
                return Err(HistoryError::MismatchedCompletion {
                    file,
                    line: lines[position],
                    process: event.process,
                    f: event.f.clone(),
                    invoked_f: events[invoke].f.clone(),
                    invoke_line: lines[invoke],
                });
            }
            let outcome = match event.kind {
                EventType::Ok => Outcome::Ok,
                EventType::Fail => Outcome::Fail,
                EventType::Info | EventType::Invoke => Outcome::Info,
            };
            operations.push(Operation {
                invoke,
                completion: Some(position),
                outcome,
            });
        }
        // An invocation that never completes is indeterminate, as in Knossos.
        operations.extend(in_flight.into_values().map(|invoke| Operation {
            invoke,
            completion: None,
            outcome: Outcome::Info,
        }));
        operations.sort_unstable_by_key(|operation| operation.invoke);
        Ok(History {
            file,
            events,
            lines,
            operations,
        })
    }

    /// The invocation event of `operation`.
    pub fn invocation(&self, operation: &Operation) -> &Event {
        &self.events[operation.invoke]
    }

    /// The completion event of `operation`, if it completed.
    pub fn completion(&self, operation: &Operation) -> Option<&Event> {
        operation.completion.map(|position| &self.events[position])
    }

    /// The key an operation works on, if the history has keys.
    pub fn key(&self, operation: &Operation) -> Option<&Value> {
        self.invocation(operation).key.as_ref()
    }

    /// What an operation observed: the completion's value when it completed `ok`,
    /// otherwise the invocation's.
    pub fn result(&self, operation: &Operation) -> &Value {
        match (operation.outcome, self.completion(operation)) {
            (Outcome::Ok, Some(completion)) => &completion.value,
            _ => &self.invocation(operation).value,
        }
    }

    /// The source line of the event at `position`.
    pub fn line(&self, position: usize) -> usize {
        self.lines[position]
    }
}
