//! Faults as values. A [`FaultKind`] is what `--nemesis` names; a [`Fault`] is
//! one concrete fault — a grudge, the nodes to kill, each node's clock offset —
//! that knows the history events which start and end it and how to say itself
//! in words. The recorder, the timeline, the report and the progress line all
//! read fault events through here, so a new fault is described in one place.

use crate::net::Degradation;
use crate::net::grudge::Grudge;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A kind of fault, as `--nemesis` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Cut links between nodes.
    Partition,
    /// SIGKILL nodes, restart them later.
    Kill,
    /// SIGSTOP nodes, SIGCONT them later.
    Pause,
    /// Move nodes' wall clocks.
    Clock,
    /// Delay and lose nodes' traffic.
    Packet,
}

impl FaultKind {
    /// Every kind, in the order `all` lists them.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Packet,
    ];

    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
        }
    }

    /// Parses `--nemesis`: a comma-separated list, or `none` / `all`.
    ///
    /// # Errors
    /// A message naming the unknown fault and the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, String> {
        let mut kinds = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "none" => {}
                "all" => kinds.extend(FaultKind::ALL),
                other => match FaultKind::ALL.iter().find(|kind| kind.name() == other) {
                    Some(kind) => kinds.push(*kind),
                    None => {
                        let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                        return Err(format!(
                            "unknown nemesis {other:?}; expected {}, all or none",
                            names.join(", ")
                        ));
                    }
                },
            }
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }

    /// Whether it acts on the network between nodes (and so needs a backend).
    pub fn needs_network(self) -> bool {
        matches!(self, FaultKind::Partition | FaultKind::Packet)
    }

    /// The kind a nemesis event opens (`true`) or closes (`false`), from the
    /// event's `f`: the one table of event names, read by the report.
    pub fn of_event(f: &str) -> Option<(FaultKind, bool)> {
        Some(match f {
            "start-partition" => (FaultKind::Partition, true),
            "stop-partition" => (FaultKind::Partition, false),
            "kill" => (FaultKind::Kill, true),
            "start" => (FaultKind::Kill, false),
            "pause" => (FaultKind::Pause, true),
            "resume" => (FaultKind::Pause, false),
            BUMP | STROBE => (FaultKind::Clock, true),
            RESET => (FaultKind::Clock, false),
            "start-packet" => (FaultKind::Packet, true),
            "stop-packet" => (FaultKind::Packet, false),
            _ => return None,
        })
    }
}

/// The event that sets nodes' clocks to offsets.
pub const BUMP: &str = "bump";
/// The event that flips nodes' clocks between two offsets.
pub const STROBE: &str = "strobe";
/// The event that sets clocks back to real time.
pub const RESET: &str = "reset";

/// One fault, as the nemesis performs it and the history records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Fault {
    /// Cut the links a grudge names (each node drops its peers' traffic).
    Partition {
        /// The shape it was drawn from.
        shape: &'static str,
        /// Node → the peers it drops.
        grudge: Grudge,
    },
    /// SIGKILL these nodes (restarted at the end).
    Kill {
        /// The nodes.
        nodes: Vec<String>,
    },
    /// SIGSTOP these nodes (SIGCONT at the end).
    Pause {
        /// The nodes.
        nodes: Vec<String>,
    },
    /// Set each node's wall clock this many seconds off.
    ClockBump {
        /// Node → offset, seconds.
        offsets: BTreeMap<String, f64>,
    },
    /// Flip nodes' clocks between two offsets every `period_ms`, high first.
    ClockStrobe {
        /// The nodes.
        nodes: Vec<String>,
        /// One offset, seconds.
        low_s: f64,
        /// The other.
        high_s: f64,
        /// Milliseconds between flips.
        period_ms: u64,
    },
    /// Degrade these nodes' traffic.
    Packet {
        /// The nodes.
        nodes: Vec<String>,
        /// What is done to their traffic (as the network can do it).
        degradation: Degradation,
    },
}

impl Fault {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Kill { .. } => FaultKind::Kill,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::ClockBump { .. } | Fault::ClockStrobe { .. } => FaultKind::Clock,
            Fault::Packet { .. } => FaultKind::Packet,
        }
    }

    /// The nodes it acts on (a partition: every node in its grudge).
    pub fn nodes(&self) -> Vec<String> {
        match self {
            Fault::Partition { grudge, .. } => grudge.keys().cloned().collect(),
            Fault::Kill { nodes }
            | Fault::Pause { nodes }
            | Fault::ClockStrobe { nodes, .. }
            | Fault::Packet { nodes, .. } => nodes.clone(),
            Fault::ClockBump { offsets } => offsets.keys().cloned().collect(),
        }
    }

    /// The history event (`f`, `value`) recorded as it begins.
    pub fn start_event(&self) -> (&'static str, Value) {
        match self {
            Fault::Partition { shape, grudge } => {
                ("start-partition", json!({"shape": shape, "grudge": grudge}))
            }
            Fault::Kill { nodes } => ("kill", json!(nodes)),
            Fault::Pause { nodes } => ("pause", json!(nodes)),
            Fault::ClockBump { offsets } => (BUMP, json!(offsets)),
            Fault::ClockStrobe {
                nodes,
                low_s,
                high_s,
                period_ms,
            } => (
                STROBE,
                json!({"nodes": nodes, "offsets": [low_s, high_s], "period_ms": period_ms}),
            ),
            Fault::Packet { nodes, degradation } => (
                "start-packet",
                json!({"nodes": nodes, "delay_ms": degradation.delay_ms, "loss": degradation.loss}),
            ),
        }
    }

    /// The history event recorded once it has been healed.
    pub fn end_event(&self) -> (&'static str, Value) {
        match self {
            Fault::Partition { .. } => ("stop-partition", Value::Null),
            Fault::Kill { nodes } => ("start", json!(nodes)),
            Fault::Pause { nodes } => ("resume", json!(nodes)),
            Fault::ClockBump { .. } | Fault::ClockStrobe { .. } => (RESET, json!(self.nodes())),
            Fault::Packet { nodes, .. } => ("stop-packet", json!(nodes)),
        }
    }

    /// In a few words, for the progress line (`kill n1,n2`).
    pub fn describe(&self) -> String {
        let nodes = self.nodes().join(",");
        match self {
            Fault::Partition { shape, .. } => format!("partition {shape}"),
            Fault::Kill { .. } => format!("kill {nodes}"),
            Fault::Pause { .. } => format!("pause {nodes}"),
            Fault::ClockBump { .. } => format!("clock bump {nodes}"),
            Fault::ClockStrobe { .. } => format!("clock strobe {nodes}"),
            Fault::Packet { .. } => format!("packet {nodes}"),
        }
    }

    /// For a fault that changes while in force (a strobe): how often.
    pub fn step_period(&self) -> Option<Duration> {
        match self {
            Fault::ClockStrobe { period_ms, .. } => Some(Duration::from_millis(*period_ms)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemesis_lists_parse_and_unknown_faults_are_refused() {
        assert_eq!(
            FaultKind::parse_list("pause,kill").unwrap(),
            vec![FaultKind::Kill, FaultKind::Pause]
        );
        assert_eq!(
            FaultKind::parse_list("all").unwrap(),
            FaultKind::ALL.to_vec()
        );
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
        assert!(
            FaultKind::parse_list("gremlins")
                .unwrap_err()
                .contains("unknown nemesis")
        );
    }

    #[test]
    fn every_fault_opens_and_closes_its_own_kind_by_its_events() {
        let nodes = vec!["n1".to_string()];
        let faults = [
            Fault::Partition {
                shape: "one",
                grudge: Grudge::new(),
            },
            Fault::Kill {
                nodes: nodes.clone(),
            },
            Fault::Pause {
                nodes: nodes.clone(),
            },
            Fault::ClockBump {
                offsets: [("n1".to_string(), 3.0)].into(),
            },
            Fault::ClockStrobe {
                nodes: nodes.clone(),
                low_s: -1.0,
                high_s: 1.0,
                period_ms: 200,
            },
            Fault::Packet {
                nodes,
                degradation: Degradation {
                    delay_ms: 5,
                    loss: 0.1,
                },
            },
        ];
        for fault in faults {
            let (start, _) = fault.start_event();
            let (end, _) = fault.end_event();
            assert_eq!(FaultKind::of_event(start), Some((fault.kind(), true)));
            assert_eq!(FaultKind::of_event(end), Some((fault.kind(), false)));
            assert!(fault.describe().starts_with(fault.kind().name()));
        }
    }
}
