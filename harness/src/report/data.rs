//! The data the report's script draws: every operation in a compact, columnar
//! form (100,000 operations must stay a few MB), the nemesis's fault intervals
//! and each node's clock offsets.

use crate::nemesis::fault::FaultKind;
use histories::{EventType, History, Outcome, Process};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Longest operation description kept; the full one is in the history at its line.
const DESCRIPTION_CHARS: usize = 80;

/// What the script reads, as JSON inside the page.
#[derive(Debug, Serialize)]
pub struct Payload {
    /// The history's span, microseconds from its first event's clock zero.
    pub end_us: i64,
    /// Client processes, one timeline lane each, in lane order.
    pub processes: Vec<u64>,
    /// The operations, in invocation order, column by column.
    pub ops: Columns,
    /// Fault intervals.
    pub faults: Vec<FaultInterval>,
    /// Per node, its clock offset in seconds from each change on.
    pub clocks: BTreeMap<String, Vec<[f64; 2]>>,
}

/// Operations column by column; times in microseconds.
#[derive(Debug, Default, Serialize)]
pub struct Columns {
    /// Lane (index into `processes`).
    pub lane: Vec<u32>,
    /// Invocation time, as the difference from the previous operation's.
    pub start_delta: Vec<i64>,
    /// Duration; -1 when the operation never completed.
    pub duration: Vec<i64>,
    /// 0 ok, 1 fail, 2 info.
    pub outcome: Vec<u8>,
    /// What was done, e.g. `k3 read → 4`.
    pub text: Vec<String>,
    /// The invocation's line in the history file, as the difference from the
    /// previous operation's.
    pub line_delta: Vec<i64>,
}

/// A fault in force from `start_us` to `end_us`.
#[derive(Debug, Serialize, PartialEq)]
pub struct FaultInterval {
    /// partition, kill, pause, clock or packet.
    pub kind: &'static str,
    /// When it began.
    pub start_us: i64,
    /// When it was healed (the history's end if never).
    pub end_us: i64,
    /// What was done, for the tooltip.
    pub text: String,
}

/// The payload for `history`.
pub fn payload(history: &History) -> Payload {
    let end_us = history
        .events
        .last()
        .map_or(0, |event| event.time_ns / 1000);
    let mut processes: Vec<u64> = history
        .operations
        .iter()
        .filter_map(|operation| match history.invocation(operation).process {
            Process::Client(id) => Some(id),
            Process::Nemesis => None,
        })
        .collect();
    processes.sort_unstable();
    processes.dedup();
    let lane_of: std::collections::HashMap<u64, u32> = processes
        .iter()
        .enumerate()
        .map(|(lane, id)| (*id, lane as u32))
        .collect();
    let mut ops = Columns::default();
    let (mut last_start, mut last_line) = (0_i64, 0_i64);
    for operation in &history.operations {
        let invocation = history.invocation(operation);
        let Process::Client(id) = invocation.process else {
            continue;
        };
        let start = invocation.time_ns / 1000;
        let line = history.line(operation.invoke) as i64;
        ops.lane.push(lane_of[&id]);
        ops.start_delta.push(start - last_start);
        ops.line_delta.push(line - last_line);
        (last_start, last_line) = (start, line);
        ops.duration.push(
            history
                .completion(operation)
                .map_or(-1, |completion| completion.time_ns / 1000 - start),
        );
        ops.outcome.push(match operation.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        });
        ops.text.push(describe(history, operation));
    }
    Payload {
        end_us,
        processes,
        ops,
        faults: fault_intervals(history, end_us),
        clocks: clock_offsets(history),
    }
}

/// `k3 read → 4`: the key, then the operation as the checkers describe it
/// without its process (the lane says it), cut to a tooltip's length.
pub(super) fn describe(history: &History, operation: &histories::Operation) -> String {
    let invocation = history.invocation(operation);
    let result = history
        .completion(operation)
        .filter(|completion| completion.kind == EventType::Ok)
        .map(|completion| &completion.value);
    let text = checkers::linearizable::describe_operation(invocation, result, operation.outcome);
    let action = text.split_once(' ').map_or(text.as_str(), |(_, rest)| rest);
    let whole = match history.key(operation) {
        Some(Value::String(key)) => format!("{key} {action}"),
        Some(key) => format!("key {key} {action}"),
        None => action.to_string(),
    };
    cut(&whole, DESCRIPTION_CHARS)
}

/// `text`, cut to at most `chars` characters with an ellipsis.
pub fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Pairs each fault's start with the next stop of its kind.
fn fault_intervals(history: &History, end_us: i64) -> Vec<FaultInterval> {
    let mut open: BTreeMap<&'static str, (i64, String)> = BTreeMap::new();
    let mut intervals = Vec::new();
    for event in history
        .events
        .iter()
        .filter(|event| event.process == Process::Nemesis)
    {
        let Some((kind, starts)) = FaultKind::of_event(&event.f) else {
            continue;
        };
        let kind = kind.name();
        let time = event.time_ns / 1000;
        if starts {
            let text = cut(&format!("{} {}", event.f, event.value), 200);
            if let Some((start_us, text)) = open.insert(kind, (time, text)) {
                // A second start before a stop (a strobe after a bump): the
                // first interval ends here.
                intervals.push(FaultInterval {
                    kind,
                    start_us,
                    end_us: time,
                    text,
                });
            }
        } else if let Some((start_us, text)) = open.remove(kind) {
            intervals.push(FaultInterval {
                kind,
                start_us,
                end_us: time,
                text,
            });
        }
    }
    for (kind, (start_us, text)) in open {
        intervals.push(FaultInterval {
            kind,
            start_us,
            end_us,
            text,
        });
    }
    intervals.sort_by_key(|interval| interval.start_us);
    intervals
}

/// Per node, `[seconds since the start, offset seconds]` at each change.
fn clock_offsets(history: &History) -> BTreeMap<String, Vec<[f64; 2]>> {
    crate::nemesis::timeline::Timeline::of(history)
        .clock_offsets
        .into_iter()
        .map(|(node, steps)| {
            let points = steps
                .iter()
                .map(|step| [step.time_s, step.offset_s])
                .collect();
            (node, points)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_become_columns_and_faults_become_intervals() {
        let text = [
            r#"{"index":0,"time":1000000,"type":"invoke","process":0,"f":"write","key":"k1","value":3}"#,
            r#"{"index":1,"time":2000000,"type":"info","process":"nemesis","f":"start-partition","value":{"shape":"one"}}"#,
            r#"{"index":2,"time":3000000,"type":"ok","process":0,"f":"write","key":"k1","value":3}"#,
            r#"{"index":3,"time":4000000,"type":"invoke","process":5,"f":"read","key":"k1","value":null}"#,
            r#"{"index":4,"time":5000000,"type":"ok","process":5,"f":"read","key":"k1","value":3}"#,
            r#"{"index":5,"time":6000000,"type":"info","process":"nemesis","f":"stop-partition","value":null}"#,
            r#"{"index":6,"time":7000000,"type":"info","process":"nemesis","f":"kill","value":["n1"]}"#,
            r#"{"index":7,"time":8000000,"type":"invoke","process":5,"f":"cas","key":"k1","value":[3,4]}"#,
        ]
        .join("\n");
        let history = histories::parse("h.jsonl", &text, None).unwrap();
        let payload = payload(&history);
        assert_eq!(payload.processes, [0, 5]);
        assert_eq!(payload.ops.lane, [0, 1, 1]);
        assert_eq!(payload.ops.start_delta, [1000, 3000, 4000]);
        assert_eq!(payload.ops.duration, [2000, 1000, -1]);
        assert_eq!(payload.ops.outcome, [0, 0, 2]);
        assert_eq!(payload.ops.line_delta, [1, 3, 4]);
        assert_eq!(payload.ops.text[1], "k1 read → 3");
        assert_eq!(payload.ops.text[2], "k1 cas 3→4 (indeterminate)");
        let kinds: Vec<_> = payload
            .faults
            .iter()
            .map(|fault| (fault.kind, fault.start_us, fault.end_us))
            .collect();
        assert_eq!(kinds, [("partition", 2000, 6000), ("kill", 7000, 8000)]);
    }

    #[test]
    fn long_descriptions_are_cut_on_a_character_boundary() {
        assert_eq!(cut("ééééé", 3), "ééé…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
