//! What the nemesis did, read back from a history: every fault event in order,
//! and each node's clock offset over time. Derived from the history alone, so
//! re-checking a stored run writes the same results.

use super::faults::clock;
use histories::{History, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The nemesis's part of the results.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// Fault events, in history order.
    pub events: Vec<FaultEvent>,
    /// Per node, its clock offset from each change on (only nodes whose clock
    /// moved).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clock_offsets: BTreeMap<String, Vec<ClockStep>>,
}

/// One nemesis event.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultEvent {
    /// Seconds since the run began.
    pub time_s: f64,
    /// What was done.
    pub f: String,
    /// To what (nodes, grudge, offsets).
    pub value: Value,
}

/// A node's clock from `time_s` on: one offset, or flipping between two.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ClockStep {
    /// Seconds since the run began.
    pub time_s: f64,
    /// The offset, seconds (for a strobe, the first of the two).
    pub offset_s: f64,
    /// For a strobe: the other offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strobe_to_s: Option<f64>,
}

impl Timeline {
    /// The timeline of `history`'s nemesis events.
    pub fn of(history: &History) -> Timeline {
        let mut timeline = Timeline::default();
        for event in history
            .events
            .iter()
            .filter(|event| event.process == Process::Nemesis)
        {
            let time_s = (event.time_ns as f64 / 1e6).round() / 1e3;
            let mut step = |node: &str, offset_s: f64, strobe_to_s: Option<f64>| {
                timeline
                    .clock_offsets
                    .entry(node.to_string())
                    .or_default()
                    .push(ClockStep {
                        time_s,
                        offset_s,
                        strobe_to_s,
                    });
            };
            match event.f.as_str() {
                clock::BUMP => {
                    for (node, offset) in event.value.as_object().into_iter().flatten() {
                        step(node, offset.as_f64().unwrap_or(0.0), None);
                    }
                }
                clock::STROBE => {
                    let offsets = &event.value["offsets"];
                    for node in event.value["nodes"].as_array().into_iter().flatten() {
                        step(
                            node.as_str().unwrap_or_default(),
                            offsets[0].as_f64().unwrap_or(0.0),
                            offsets[1].as_f64(),
                        );
                    }
                }
                clock::RESET => {
                    for node in event.value.as_array().into_iter().flatten() {
                        step(node.as_str().unwrap_or_default(), 0.0, None);
                    }
                }
                _ => {}
            }
            timeline.events.push(FaultEvent {
                time_s,
                f: event.f.clone(),
                value: event.value.clone(),
            });
        }
        timeline
    }

    /// Whether the history has no nemesis event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offsets_follow_bumps_strobes_and_resets() {
        let text = [
            r#"{"index":0,"time":1000000000,"type":"info","process":"nemesis","f":"bump","value":{"n1":-30.5,"n2":12}}"#,
            r#"{"index":1,"time":2000000000,"type":"info","process":"nemesis","f":"reset","value":["n1","n2"]}"#,
            r#"{"index":2,"time":3000000000,"type":"info","process":"nemesis","f":"strobe","value":{"nodes":["n1"],"offsets":[-5,5],"period_ms":200}}"#,
            r#"{"index":3,"time":4000000000,"type":"info","process":"nemesis","f":"start-partition","value":{"shape":"one","grudge":{}}}"#,
        ]
        .join("\n");
        let history = histories::parse("h.jsonl", &text, None).unwrap();
        let timeline = Timeline::of(&history);
        assert_eq!(timeline.events.len(), 4);
        let n1: Vec<_> = timeline.clock_offsets["n1"]
            .iter()
            .map(|step| (step.time_s, step.offset_s, step.strobe_to_s))
            .collect();
        assert_eq!(
            n1,
            [(1.0, -30.5, None), (2.0, 0.0, None), (3.0, -5.0, Some(5.0))]
        );
        assert_eq!(timeline.clock_offsets["n2"].len(), 2);
    }
}
