//! faultline JSON Lines.

use super::{Parsed, fill_times};
use crate::{Event, EventType, HistoryError, Process};
use serde::Deserialize;
use serde_json::Value;
use std::io::{self, Write};

/// A line as written, before defaults are filled in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    index: Option<u64>,
    time: Option<i64>,
    #[serde(rename = "type")]
    kind: EventType,
    process: Process,
    f: String,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    error: Option<Value>,
}

/// serde_json's message without its " at line 1 column C": each line is
/// parsed alone, so that line number would always be 1.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).unwrap_or(&text).to_string()
}

pub(super) fn read(file: &str, text: &str) -> Result<Parsed, HistoryError> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: RawEvent =
            serde_json::from_str(line).map_err(|error| HistoryError::Malformed {
                file: file.to_string(),
                line: index + 1,
                format: "JSON Lines",
                reason: format!(
                    "{} at column {}; expected one JSON object with fields type (invoke|ok|fail|info), process (integer or \"nemesis\"), f, value, and optional index, time, key, error",
                    without_position(&error),
                    error.column()
                ),
            })?;
        raw.push(event);
        lines.push(index + 1);
    }
    let times = fill_times(&raw.iter().map(|event| event.time).collect::<Vec<_>>());
    let events = raw
        .into_iter()
        .zip(times)
        .enumerate()
        .map(|(position, (event, time_ns))| Event {
            index: event.index.unwrap_or(position as u64),
            time_ns,
            kind: event.kind,
            process: event.process,
            f: event.f,
            key: event.key,
            value: event.value,
            error: event.error,
        })
        .collect();
    Ok((events, lines))
}

/// One event as a line of JSON, without the newline.
pub fn to_jsonl_line(event: &Event) -> String {
    serde_json::to_string(event).expect("an event always serializes")
}

/// Writes events as JSON Lines.
///
/// # Errors
/// Whatever the writer returns.
pub fn write_jsonl<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    mut writer: impl Write,
) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut writer, event)?;
        writer.write_all(b"\n")?;
    }
    Ok(())
}
