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

/// Files at least this large are parsed in chunks, one per core.
const PARALLEL_FROM_BYTES: usize = 1 << 20;

/// A chunk's events with their line numbers (within the chunk, 1-based), how
/// many lines it has, or its first bad line and why.
type Chunk = Result<(Vec<RawEvent>, Vec<usize>, usize), (usize, String)>;

pub(super) fn read(file: &str, text: &str) -> Result<Parsed, HistoryError> {
    let threads = if text.len() < PARALLEL_FROM_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    let chunks = split_at_lines(text, threads);
    let parsed: Vec<Chunk> = if chunks.len() == 1 {
        vec![read_chunk(chunks[0])]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|&chunk| scope.spawn(move || read_chunk(chunk)))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("parsing a chunk does not panic"))
                .collect()
        })
    };
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    let mut lines_before = 0;
    for chunk in parsed {
        match chunk {
            Ok((events, chunk_lines, count)) => {
                raw.extend(events);
                lines.extend(chunk_lines.into_iter().map(|line| line + lines_before));
                lines_before += count;
            }
            Err((line, reason)) => {
                return Err(HistoryError::Malformed {
                    file: file.to_string(),
                    line: line + lines_before,
                    format: "JSON Lines",
                    reason,
                });
            }
        }
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

/// `text` in about `parts` pieces, each ending just after a newline (the last
/// at the end), so that every piece is whole lines.
fn split_at_lines(text: &str, parts: usize) -> Vec<&str> {
    let mut chunks = Vec::with_capacity(parts);
    let mut start = 0;
    for part in 1..parts {
        let target = (text.len() * part / parts).max(start);
        let Some(newline) = text[target..].find('\n') else {
            break;
        };
        let end = target + newline + 1;
        chunks.push(&text[start..end]);
        start = end;
    }
    chunks.push(&text[start..]);
    chunks
}

fn read_chunk(text: &str) -> Chunk {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        count = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let event: RawEvent = serde_json::from_str(line).map_err(|error| {
            (
                index + 1,
                format!(
                    "{} at column {}; expected one JSON object with fields type (invoke|ok|fail|info), process (integer or \"nemesis\"), f, value, and optional index, time, key, error",
                    without_position(&error),
                    error.column()
                ),
            )
        })?;
        raw.push(event);
        lines.push(index + 1);
    }
    Ok((raw, lines, count))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_whole_lines_and_cover_the_text() {
        let text = "a\nbb\n\nccc\ndddd\n";
        for parts in 1..8 {
            let chunks = split_at_lines(text, parts);
            assert_eq!(chunks.concat(), text);
            for chunk in &chunks[..chunks.len() - 1] {
                assert!(chunk.ends_with('\n'), "{chunk:?}");
            }
        }
    }

    /// A file large enough to be read in parallel keeps every event in order,
    /// its line numbers, and names the right line when one is bad.
    #[test]
    fn a_large_file_read_in_chunks_keeps_order_lines_and_errors() {
        let line = |index: usize| {
            format!(r#"{{"index":{index},"type":"invoke","process":0,"f":"read","value":null}}"#)
        };
        let mut text = String::new();
        let count = 30_000;
        for index in 0..count {
            text.push_str(&line(index));
            text.push('\n');
            if index % 1000 == 0 {
                text.push('\n');
            }
        }
        assert!(text.len() > PARALLEL_FROM_BYTES);
        let (events, lines) = read("big.jsonl", &text).unwrap();
        assert_eq!(events.len(), count);
        let text_lines: Vec<&str> = text.lines().collect();
        for (position, (event, &line_number)) in events.iter().zip(&lines).enumerate() {
            assert_eq!(event.index, position as u64);
            assert_eq!(text_lines[line_number - 1], line(position));
        }
        let bad_line = text.lines().count() - 5;
        let mut broken: Vec<&str> = text.lines().collect();
        broken[bad_line - 1] = "{not json";
        let broken = broken.join("\n");
        match read("big.jsonl", &broken) {
            Err(HistoryError::Malformed { line, .. }) => assert_eq!(line, bad_line),
            other => panic!("expected a malformed line, got {:?}", other.map(|_| ())),
        }
    }
}
