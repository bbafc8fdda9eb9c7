//! Jepsen EDN: `history.edn` (one op map per line), or one vector of op maps.

use super::{Parsed, fill_times};
use crate::{Event, EventType, HistoryError, Process};
use clojure_reader::edn::{self, Edn};
use clojure_reader::error::Code;
use serde_json::{Map, Number, Value};

const FORMAT: &str = "EDN";

pub(super) fn read(file: &str, text: &str) -> Result<Parsed, HistoryError> {
    let lines_at = LineIndex::new(text);
    let malformed = |offset: usize, reason: String| HistoryError::Malformed {
        file: file.to_string(),
        line: lines_at.line(offset),
        format: FORMAT,
        reason,
    };
    // Top-level forms with the byte offset where each starts.
    let mut forms = Vec::new();
    let mut rest = skip_blank(text);
    while !rest.is_empty() {
        let offset = text.len() - rest.len();
        let (form, after) = edn::read(rest).map_err(|error| {
            // A form cut short is reported where it starts: the end of the
            // file says nothing about which op was left open.
            let at = match error.code {
                Code::UnexpectedEOF => offset,
                _ => error.ptr.map_or(offset, |ptr| offset + ptr),
            };
            malformed(at, format!("{}; expected an EDN op map such as {{:process 0, :type :invoke, :f :read, :value nil}}", reader_error(&error.code)))
        })?;
        forms.push((offset, form));
        rest = skip_blank(after);
    }
    // A single vector or list holds the whole history (Knossos fixtures); its
    // elements' lines are not tracked by the reader, so they are numbered by the
    // line the vector starts on plus their position.
    let ops: Vec<(usize, Edn)> = match forms.as_slice() {
        [(offset, Edn::Vector(items) | Edn::List(items))] => {
            let first_line = lines_at.line(*offset);
            let item_lines = item_lines(&text[*offset..], first_line, items.len());
            item_lines.into_iter().zip(items.iter().cloned()).collect()
        }
        _ => forms
            .into_iter()
            .map(|(offset, form)| (lines_at.line(offset), form))
            .collect(),
    };
    let mut raw = Vec::with_capacity(ops.len());
    let mut lines = Vec::with_capacity(ops.len());
    for (line, form) in ops {
        let event = op_from_edn(&form).map_err(|reason| HistoryError::Malformed {
            file: file.to_string(),
            line,
            format: FORMAT,
            reason,
        })?;
        raw.push(event);
        lines.push(line);
    }
    lift_independent_keys(&mut raw);
    let times = fill_times(&raw.iter().map(|(_, time)| *time).collect::<Vec<_>>());
    let events = raw
        .into_iter()
        .zip(times)
        .enumerate()
        .map(|(position, ((mut event, _), time_ns))| {
            event.time_ns = time_ns;
            if event.index == u64::MAX {
                event.index = position as u64;
            }
            event
        })
        .collect();
    Ok((events, lines))
}

/// Skips white space, commas (white space in EDN) and `;` comments.
fn skip_blank(mut text: &str) -> &str {
    loop {
        text = text.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if text.starts_with(';') {
            text = text.find('\n').map_or("", |end| &text[end..]);
        } else {
            return text;
        }
    }
}

/// The reader's error in words.
fn reader_error(code: &Code) -> String {
    match code {
        Code::UnexpectedEOF => {
            "the form that starts here is not closed before the file ends".into()
        }
        Code::UnmatchedDelimiter(c) => format!("an unmatched `{c}`"),
        Code::HashMapDuplicateKey => "a map repeats a key".into(),
        Code::SetDuplicateKey => "a set repeats an element".into(),
        Code::InvalidChar => "an invalid character".into(),
        Code::InvalidEscape => "an invalid escape in a string".into(),
        Code::InvalidKeyword => "an invalid keyword".into(),
        Code::InvalidNumber => "an invalid number".into(),
        Code::InvalidTag => "an invalid tag".into(),
        other => format!("{other:?}"),
    }
}

/// Byte offsets to 1-based line numbers, by binary search over line starts.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex(
            text.bytes()
                .enumerate()
                .filter(|&(_, byte)| byte == b'\n')
                .map(|(at, _)| at)
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}

/// Best-effort lines of a vector's elements: the line of each `{` or `#` that opens
/// an element at nesting depth one. Falls back to the vector's line.
fn item_lines(vector_text: &str, first_line: usize, count: usize) -> Vec<usize> {
    let mut lines = Vec::with_capacity(count);
    let mut line = first_line;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut pending_tag = false;
    for byte in vector_text.bytes() {
        if byte == b'\n' {
            line += 1;
            in_comment = false;
            continue;
        }
        if in_comment {
            continue;
        }
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b';' => in_comment = true,
            b'"' => in_string = true,
            b'#' if depth == 1 => {
                lines.push(line);
                pending_tag = true;
            }
            b'[' | b'(' | b'{' => {
                if depth == 1 && !pending_tag {
                    lines.push(line);
                }
                pending_tag = false;
                depth += 1;
            }
            b']' | b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if lines.len() == count {
            break;
        }
    }
    lines.resize(count, first_line);
    lines
}

/// An event (with `index` = `u64::MAX` when absent) and its optional time.
fn op_from_edn(form: &Edn) -> Result<(Event, Option<i64>), String> {
    let map = match form {
        Edn::Map(map) => map,
        Edn::Tagged(_, inner) => match inner.as_ref() {
            Edn::Map(map) => map,
            _ => return Err(format!("found the tagged form {form}; expected an op map")),
        },
        _ => {
            return Err(format!(
                "found {form}; expected an op map such as {{:process 0, :type :invoke, :f :read, :value nil}}"
            ));
        }
    };
    let field = |name: &'static str| map.get(&Edn::Key(name.into()));
    let kind = match field("type") {
        Some(Edn::Key(name)) => EventType::from_name(keyword(name)).ok_or_else(|| {
            format!("unknown :type :{name}; expected :invoke, :ok, :fail or :info")
        })?,
        Some(other) => {
            return Err(format!(
                "found :type {other}; expected :invoke, :ok, :fail or :info"
            ));
        }
        None => return Err("missing :type; expected :invoke, :ok, :fail or :info".to_string()),
    };
    let process = match field("process") {
        Some(Edn::Int(id)) if *id >= 0 => Process::Client(*id as u64),
        Some(Edn::Key(name)) if keyword(name) == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(format!(
                "found :process {other}; expected a non-negative integer or :nemesis"
            ));
        }
        None => {
            return Err(
                "missing :process; expected a non-negative integer or :nemesis".to_string(),
            );
        }
    };
    let f = match field("f") {
        Some(Edn::Key(name) | Edn::Symbol(name) | Edn::Str(name)) => keyword(name).to_string(),
        Some(other) => {
            return Err(format!(
                "found :f {other}; expected a keyword such as :read"
            ));
        }
        None => return Err("missing :f; expected a keyword such as :read".to_string()),
    };
    let index = match field("index") {
        Some(Edn::Int(index)) if *index >= 0 => *index as u64,
        Some(other) => {
            return Err(format!(
                "found :index {other}; expected a non-negative integer"
            ));
        }
        None => u64::MAX,
    };
    let time = match field("time") {
        Some(Edn::Int(time)) => Some(*time),
        Some(other) => {
            return Err(format!(
                "found :time {other}; expected nanoseconds as an integer"
            ));
        }
        None => None,
    };
    let event = Event {
        index,
        time_ns: 0,
        kind,
        process,
        f,
        key: field("key").map(to_json),
        value: field("value").map_or(Value::Null, to_json),
        error: field("error").map(to_json),
    };
    Ok((event, time))
}

/// Keywords read as `read` or `:read` depending on the reader; both mean `read`.
fn keyword(name: &str) -> &str {
    name.strip_prefix(':').unwrap_or(name)
}

/// EDN data as JSON: keywords and symbols become strings, sets and lists become
/// arrays, map keys become strings, records lose their tag.
fn to_json(form: &Edn) -> Value {
    match form {
        Edn::Nil => Value::Null,
        Edn::Bool(value) => Value::Bool(*value),
        Edn::Int(value) => Value::from(*value),
        Edn::Double(value) => Number::from_f64(value.0).map_or(Value::Null, Value::Number),
        Edn::Rational((numerator, denominator)) => {
            Number::from_f64(*numerator as f64 / *denominator as f64)
                .map_or(Value::Null, Value::Number)
        }
        Edn::Key(name) | Edn::Symbol(name) => Value::String(keyword(name).to_string()),
        Edn::Str(text) => Value::String(text.to_string()),
        Edn::Char(c) => Value::String(c.to_string()),
        Edn::Vector(items) | Edn::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Set(items) => Value::Array(items.iter().map(to_json).collect()),
        Edn::Map(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let key = match to_json(key) {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    (key, to_json(value))
                })
                .collect::<Map<String, Value>>(),
        ),
        Edn::Tagged(_, inner) => to_json(inner),
        other => Value::String(other.to_string()),
    }
}

/// Jepsen's `independent` workloads write every client value as a `[key value]`
/// tuple. A history is taken to be independent when every client event's value is
/// a two-element vector and no event already has a key; a cas's inner value must
/// then itself be `[old new]`, which rules out plain cas-register histories whose
/// `[old new]` values are not tuples.
fn lift_independent_keys(events: &mut [(Event, Option<i64>)]) {
    let mut clients = events
        .iter()
        .map(|(event, _)| event)
        .filter(|event| event.process != Process::Nemesis)
        .peekable();
    if clients.peek().is_none() {
        return;
    }
    // A transaction's value is a list of micro-operations, never a tuple, even
    // when it holds exactly two of them.
    let independent = clients.all(|event| {
        event.key.is_none()
            && event.f != "txn"
            && match event.value.as_array().map(Vec::as_slice) {
                Some([_, inner]) => event.f != "cas" || inner.is_array() || inner.is_null(),
                _ => false,
            }
    });
    if !independent {
        return;
    }
    for (event, _) in events
        .iter_mut()
        .filter(|(event, _)| event.process != Process::Nemesis)
    {
        if let Value::Array(mut tuple) = std::mem::take(&mut event.value) {
            event.value = tuple.pop().unwrap_or(Value::Null);
            event.key = tuple.pop();
        }
    }
}
