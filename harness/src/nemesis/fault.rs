//! Faults as values, and the trait each kind of fault implements.
//!
//! A [`FaultKind`] is what `--nemesis` names: one [`FaultType`] from the
//! registry in `faults/`. A [`Fault`] is one concrete fault drawn by its kind —
//! the nodes it hits, the history events that start and end it, and how to say
//! it in words. The recorder, the timeline, the report and the progress line
//! all read faults through here; everything particular to a kind (how it is
//! drawn, what the target must allow, how it is performed and healed) lives in
//! its own module under `faults/`.

use super::NemesisError;
use super::schedule::{Cluster, Options};
use crate::clock::Clocks;
use crate::net::Network;
use crate::rng::Rng;
use crate::target::cluster::LocalCluster;
use crate::target_file::TargetConfig;
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a kind of fault needs set up before the nodes start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// A network between the nodes that faults can act on (a backend).
    pub network: bool,
    /// Each node's own clock file (libfaketime).
    pub clocks: bool,
}

/// What faults act on: the run's processes, and its network and clocks when
/// the plan set them up.
pub struct Arena {
    /// The store's processes.
    pub cluster: Arc<Mutex<LocalCluster>>,
    /// The links between them, when a fault needs them.
    pub net: Option<Arc<Mutex<Network>>>,
    /// Their clocks, when a fault needs them.
    pub clocks: Option<Arc<Clocks>>,
    /// The nodes faults may touch (never the other roles).
    pub nodes: Vec<String>,
}

impl Arena {
    /// The network, or an error for a plan that should have set one up.
    ///
    /// # Errors
    /// No network in this run.
    pub fn net(&self) -> Result<&Arc<Mutex<Network>>, NemesisError> {
        self.net
            .as_ref()
            .ok_or_else(|| NemesisError::Unsupported("a network fault without a network".into()))
    }

    /// The clocks, or an error for a plan that should have set them up.
    ///
    /// # Errors
    /// No clocks in this run.
    pub fn clocks(&self) -> Result<&Arc<Clocks>, NemesisError> {
        self.clocks
            .as_ref()
            .ok_or_else(|| NemesisError::Unsupported("a clock fault without clocks".into()))
    }
}

/// What drawing one fault may use: the options, the cluster and the kind's own
/// seeded generator.
pub struct Draw<'a> {
    /// The nemesis options.
    pub options: &'a Options,
    /// The nodes and the other processes.
    pub cluster: &'a Cluster<'a>,
    /// The kind's generator: every draw comes from it, in order, so a seed
    /// gives the same schedule.
    pub rng: &'a mut Rng,
}

impl Draw<'_> {
    /// Nodes to hit: one of `--nemesis-targets`, chosen at random, then that
    /// many distinct nodes.
    pub fn targets(&mut self) -> Vec<String> {
        let targets = &self.options.targets;
        let chosen = targets[self.rng.below(targets.len() as u64) as usize];
        chosen.pick(self.cluster.nodes, self.rng)
    }
}

/// A kind of fault: one module under `faults/`, one line in its registry.
///
/// Its methods that perform and heal may block (a kill command that takes
/// seconds, packet-filter rules): the nemesis calls them off the clients'
/// runtime.
pub trait FaultType: Send + Sync + 'static {
    /// Its name, as `--nemesis` takes it.
    fn name(&self) -> &'static str;
    /// The history events that begin one of its faults.
    fn start_events(&self) -> &'static [&'static str];
    /// The history event that ends one.
    fn end_event(&self) -> &'static str;
    /// What it needs set up before the nodes start.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Why this target or this machine cannot take it, if it cannot.
    fn refused(&self, _config: &TargetConfig) -> Option<String> {
        None
    }
    /// Draws one fault.
    fn draw(&self, draw: &mut Draw) -> Fault;
    /// Begins `fault`.
    ///
    /// # Errors
    /// The fault could not be made (a rule refused, a file unwritable).
    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError>;
    /// For a fault that changes while in force ([`Fault::step_period`]): its
    /// `step`-th change (the 0th is [`FaultType::perform`]).
    ///
    /// # Errors
    /// As [`FaultType::perform`].
    fn step(&self, _fault: &Fault, _step: u64, _arena: &Arena) -> Result<(), NemesisError> {
        Ok(())
    }
    /// Ends `fault`.
    ///
    /// # Errors
    /// The fault could not be undone (a node that will not restart).
    fn heal(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError>;
    /// Ends whatever of its kind may be in force; idempotent.
    ///
    /// # Errors
    /// As [`FaultType::heal`].
    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError>;
}

/// A kind of fault, as `--nemesis` names it: a registered [`FaultType`].
/// Kinds order as the registry lists them (the order `all` expands to, and
/// the order their schedules are drawn in).
#[derive(Clone, Copy)]
pub struct FaultKind(&'static dyn FaultType);

impl FaultKind {
    /// The kind `fault_type` implements (its module's constructor of faults).
    pub fn of(fault_type: &'static dyn FaultType) -> FaultKind {
        FaultKind(fault_type)
    }

    /// Every kind, in registry order.
    pub fn all() -> Vec<FaultKind> {
        FaultKind::registered().collect()
    }

    fn registered() -> impl Iterator<Item = FaultKind> {
        super::faults::ALL.iter().map(|kind| FaultKind(*kind))
    }

    /// The kind named `name`.
    pub fn named(name: &str) -> Option<FaultKind> {
        FaultKind::registered().find(|kind| kind.name() == name)
    }

    /// Its behaviour.
    pub fn fault_type(self) -> &'static dyn FaultType {
        self.0
    }

    /// The kind's name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    fn position(self) -> usize {
        super::faults::ALL
            .iter()
            .position(|kind| kind.name() == self.name())
            .unwrap_or(usize::MAX)
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
                "all" => kinds.extend(FaultKind::all()),
                other => match FaultKind::named(other) {
                    Some(kind) => kinds.push(kind),
                    None => {
                        let names: Vec<&str> =
                            FaultKind::all().iter().map(|kind| kind.name()).collect();
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
        self.0.needs().network
    }

    /// The kind a nemesis event opens (`true`) or closes (`false`), from the
    /// event's `f`: read by the report.
    pub fn of_event(f: &str) -> Option<(FaultKind, bool)> {
        FaultKind::registered().find_map(|kind| {
            if kind.0.start_events().contains(&f) {
                Some((kind, true))
            } else if kind.0.end_event() == f {
                Some((kind, false))
            } else {
                None
            }
        })
    }
}

impl PartialEq for FaultKind {
    fn eq(&self, other: &FaultKind) -> bool {
        self.name() == other.name()
    }
}

impl Eq for FaultKind {}

impl PartialOrd for FaultKind {
    fn partial_cmp(&self, other: &FaultKind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FaultKind {
    fn cmp(&self, other: &FaultKind) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
}

impl std::fmt::Debug for FaultKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

impl Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// One fault, as the nemesis performs it and the history records it: its
/// kind reads what it needs back from its start event's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// Its kind.
    pub kind: FaultKind,
    /// The nodes it acts on.
    pub nodes: Vec<String>,
    /// The event (`f`, `value`) recorded as it begins.
    pub start: (&'static str, Value),
    /// The event recorded once it has been healed.
    pub end: (&'static str, Value),
    /// In a few words, for the progress line (`kill n1,n2`).
    pub description: String,
    /// For a fault that changes while in force (a strobe): how often.
    pub step_period: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Degradation;
    use crate::net::grudge::Shape;

    #[test]
    fn nemesis_lists_parse_and_unknown_faults_are_refused() {
        let names =
            |kinds: Vec<FaultKind>| kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>();
        assert_eq!(
            names(FaultKind::parse_list("pause,kill").unwrap()),
            ["kill", "pause"]
        );
        assert_eq!(
            names(FaultKind::parse_list("all").unwrap()),
            ["partition", "kill", "pause", "clock", "packet"]
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
        let nodes: Vec<String> = ["n1", "n2", "n3"].map(str::to_string).to_vec();
        let cluster = Cluster {
            nodes: &nodes,
            ids: &nodes,
            packet: Degradation {
                delay_ms: 5,
                loss: 0.1,
            },
        };
        let options = Options {
            faults: FaultKind::all(),
            interval_s: 1.0,
            targets: vec![super::super::Targets::One],
            shapes: Shape::parse_list("all").unwrap(),
            clock_offset_s: 10.0,
            packet: cluster.packet,
        };
        let mut rng = Rng::new(5);
        for kind in FaultKind::all() {
            // Enough draws to see each variant of a kind (a clock bump and a strobe).
            for _ in 0..20 {
                let fault = kind.fault_type().draw(&mut Draw {
                    options: &options,
                    cluster: &cluster,
                    rng: &mut rng,
                });
                let (start, end) = (fault.start.0, fault.end.0);
                assert_eq!(FaultKind::of_event(start), Some((kind, true)));
                assert_eq!(FaultKind::of_event(end), Some((kind, false)));
                assert_eq!(fault.kind, kind);
                assert!(fault.description.starts_with(kind.name()));
            }
        }
    }
}
