//! Porcupine's etcd logs (`test_data/jepsen/etcd_*.log`): lines of an early Jepsen
//! log, `INFO  jepsen.util - <process>\t<:type>\t<:f>\t<value>`, tab- or
//! space-separated. Values are `nil`, integers, `[old new]`, or `:timed-out` on an
//! indeterminate completion (which then carries its invocation's value and the
//! error `timed-out`).

use super::Parsed;
use crate::{Event, EventType, HistoryError, Process};
use serde_json::Value;
use std::collections::HashMap;

const FORMAT: &str = "Porcupine etcd log";
const PREFIX: &str = "jepsen.util -";

/// Whether a line looks like a Porcupine etcd log line.
pub(super) fn looks_like(line: &str) -> bool {
    let body = line
        .find(PREFIX)
        .map_or(line, |at| &line[at + PREFIX.len()..]);
    let mut tokens = body.split_whitespace();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(process), Some(kind))
            if process.parse::<u64>().is_ok()
                && matches!(kind, ":invoke" | ":ok" | ":fail" | ":info")
    )
}

pub(super) fn read(file: &str, text: &str) -> Result<Parsed, HistoryError> {
    let mut events = Vec::new();
    let mut lines = Vec::new();
    // The value each process invoked with, for `:timed-out` completions.
    let mut invoked: HashMap<u64, Value> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |reason: String| HistoryError::Malformed {
            file: file.to_string(),
            line: index + 1,
            format: FORMAT,
            reason,
        };
        let body = line
            .find(PREFIX)
            .map_or(line, |at| &line[at + PREFIX.len()..]);
        let mut tokens = body.split_whitespace();
        let (Some(process), Some(kind), Some(f)) = (tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(malformed(format!(
                "found {body:?}; expected `<process> <:type> <:f> <value>`"
            )));
        };
        let process: u64 = process.parse().map_err(|_| {
            malformed(format!(
                "found process {process:?}; expected a non-negative integer"
            ))
        })?;
        let kind = kind
            .strip_prefix(':')
            .and_then(EventType::from_name)
            .ok_or_else(|| {
                malformed(format!(
                    "found type {kind:?}; expected :invoke, :ok, :fail or :info"
                ))
            })?;
        let f = f
            .strip_prefix(':')
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                malformed(format!(
                    "found function {f:?}; expected a keyword such as :read"
                ))
            })?;
        let value_text = tokens.collect::<Vec<_>>().join(" ");
        let (value, error) = if let Some(error) = value_text.strip_prefix(':') {
            let value = invoked.get(&process).cloned().unwrap_or(Value::Null);
            (value, Some(Value::String(error.to_string())))
        } else {
            (parse_value(&value_text).map_err(malformed)?, None)
        };
        if kind == EventType::Invoke {
            invoked.insert(process, value.clone());
        }
        let position = events.len();
        events.push(Event {
            index: position as u64,
            // These logs carry no times: history order is the only clock.
            time_ns: position as i64,
            kind,
            process: Process::Client(process),
            f: f.to_string(),
            key: None,
            value,
            error,
        });
        lines.push(index + 1);
    }
    Ok((events, lines))
}

/// `nil`, an integer, or a vector of them such as `[3 0]`.
fn parse_value(text: &str) -> Result<Value, String> {
    let scalar = |token: &str| -> Result<Value, String> {
        if token == "nil" {
            Ok(Value::Null)
        } else {
            token.parse::<i64>().map(Value::from).map_err(|_| {
                format!("found value {token:?}; expected nil, an integer or [old new]")
            })
        }
    };
    match text
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
    {
        Some(inner) => inner
            .split_whitespace()
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        None => scalar(text.trim()),
    }
}
