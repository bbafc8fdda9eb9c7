//! Reading and writing history files: faultline JSON Lines, Jepsen EDN and
//! Porcupine's etcd logs. See `histories/README.md` for each format, field by field.

mod edn;
mod jsonl;
mod porcupine;

pub use jsonl::{to_jsonl_line, write_jsonl};

use crate::{Event, History, HistoryError};

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// faultline's own: one JSON object per line, Jepsen's field names.
    Jsonl,
    /// Jepsen's `history.edn` (one op map per line) or a single EDN vector of op
    /// maps, as Knossos fixtures and Porcupine's kv logs are written.
    Edn,
    /// Porcupine's `test_data/jepsen/etcd_*.log`: tab-separated Jepsen log lines.
    PorcupineEtcd,
}

impl Format {
    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
        }
    }

    /// Parses a `--format` name. `porcupine-kv` is accepted as EDN, which is what
    /// Porcupine's kv logs are.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "jsonl" | "json" => Some(Format::Jsonl),
            "edn" | "porcupine-kv" => Some(Format::Edn),
            "porcupine-etcd" | "porcupine" => Some(Format::PorcupineEtcd),
            _ => None,
        }
    }

    /// Every accepted `--format` name.
    pub const NAMES: &'static [&'static str] = &["jsonl", "edn", "porcupine-etcd", "porcupine-kv"];
}

/// Recognises the format from the first line with content.
///
/// # Errors
/// [`HistoryError::Empty`] for a file with no content, [`HistoryError::UnknownFormat`]
/// when the first line looks like none of the formats.
pub fn detect(file: &str, text: &str) -> Result<Format, HistoryError> {
    let Some((index, first)) = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index, line.trim()))
        .find(|(_, line)| !line.is_empty() && !line.starts_with(';'))
    else {
        return Err(HistoryError::Empty {
            file: file.to_string(),
        });
    };
    let after_brace = first.strip_prefix('{').map(str::trim_start);
    if after_brace.is_some_and(|rest| rest.starts_with('"')) {
        return Ok(Format::Jsonl);
    }
    if after_brace.is_some_and(|rest| rest.starts_with(':') || rest.starts_with('}'))
        || first.starts_with('[')
        || first.starts_with('(')
        || first.starts_with("#jepsen")
        || first.starts_with("#_")
    {
        return Ok(Format::Edn);
    }
    if porcupine::looks_like(first) {
        return Ok(Format::PorcupineEtcd);
    }
    Err(HistoryError::UnknownFormat {
        file: file.to_string(),
        line: index + 1,
    })
}

/// Reads a history from `text`, detecting the format unless one is given, and
/// validates it.
///
/// # Errors
/// Any [`HistoryError`], naming `file` and the line.
pub fn parse(file: &str, text: &str, format: Option<Format>) -> Result<History, HistoryError> {
    let format = match format {
        Some(format) => format,
        None => detect(file, text)?,
    };
    let (events, lines) = match format {
        Format::Jsonl => jsonl::read(file, text)?,
        Format::Edn => edn::read(file, text)?,
        Format::PorcupineEtcd => porcupine::read(file, text)?,
    };
    History::from_events(file, events, lines)
}

/// Events with their source lines, as every reader produces them.
type Parsed = (Vec<Event>, Vec<usize>);

/// Fills in times for formats where they are optional: when no event carries a
/// time, history order is the only clock, so each event's time is its position;
/// an event without a time inside a timed history takes its predecessor's.
fn fill_times(times: &[Option<i64>]) -> Vec<i64> {
    if times.iter().all(Option::is_none) {
        return (0..times.len() as i64).collect();
    }
    let mut previous = 0;
    times
        .iter()
        .map(|time| {
            previous = time.unwrap_or(previous);
            previous
        })
        .collect()
}
