//! The schedule: a pure, seeded function from the plan's nemesis options to
//! a list of timed faults per kind, testable without a cluster. Each kind runs
//! its own cycle — calm, fault, calm, … one interval each, the first calm of
//! random length — so faults of different kinds overlap the way they do in
//! Jepsen's combined nemesis (a partition while a clock is off).

use super::fault::{Draw, Fault, FaultKind};
use crate::net::Degradation;
use crate::net::grudge::{self, Shape};
use crate::rng::Rng;
use serde::Serialize;
use std::time::Duration;

/// Which nodes a fault hits, as Jepsen's node specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// One random node.
    One,
    /// A random majority.
    Majority,
    /// Every node.
    All,
}

impl Targets {
    /// Parses `--nemesis-targets`, a comma-separated list.
    ///
    /// # Errors
    /// A message naming the unknown spec.
    pub fn parse_list(text: &str) -> Result<Vec<Targets>, String> {
        let targets = text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| match name {
                "one" => Ok(Targets::One),
                "majority" => Ok(Targets::Majority),
                "all" => Ok(Targets::All),
                other => Err(format!(
                    "unknown nemesis target {other:?}; expected one, majority or all"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            return Err("--nemesis-targets is empty; expected one, majority or all".to_string());
        }
        Ok(targets)
    }

    /// Picks the nodes, sorted.
    pub fn pick(self, nodes: &[String], rng: &mut Rng) -> Vec<String> {
        let mut shuffled = grudge::shuffle(nodes, rng);
        let count = match self {
            Targets::One => 1,
            Targets::Majority => nodes.len() / 2 + 1,
            Targets::All => nodes.len(),
        };
        shuffled.truncate(count);
        shuffled.sort();
        shuffled
    }
}

/// What the nemesis may do, from the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// The kinds of fault, each cycling on its own.
    pub faults: Vec<FaultKind>,
    /// Seconds per fault, and per calm.
    pub interval_s: f64,
    /// Nodes hit by kill, pause, clock and packet faults.
    pub targets: Vec<Targets>,
    /// Partition shapes.
    pub shapes: Vec<Shape>,
    /// The largest clock offset, seconds, either way.
    pub clock_offset_s: f64,
    /// What a packet fault does to a link.
    pub packet: Degradation,
}

/// One fault, in force from `start` to `end` after the workload begins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timed {
    /// When it begins.
    pub start: Duration,
    /// When it is healed.
    pub end: Duration,
    /// What it is.
    pub fault: Fault,
}

/// What the schedule is drawn over.
pub struct Cluster<'a> {
    /// The nodes faults may hit (client-facing nodes).
    pub nodes: &'a [String],
    /// Every process, bystanders included (chain-kv's master): a partition
    /// puts a bystander on the best-connected side.
    pub ids: &'a [String],
    /// What a packet fault amounts to on this run's network.
    pub packet: Degradation,
}

/// Every fault of every kind that begins before `horizon`, one list per kind
/// in the order of `options.faults`, each in time order. The same options,
/// seed and cluster always give the same schedule.
pub fn schedule(
    options: &Options,
    seed: u64,
    cluster: &Cluster,
    horizon: Duration,
) -> Vec<Vec<Timed>> {
    options
        .faults
        .iter()
        .enumerate()
        .map(|(index, &kind)| {
            // A stream per kind, apart from the workers' (the bytes of "nemesis").
            let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973 ^ ((index as u64 + 1) << 56));
            let interval = Duration::from_secs_f64(options.interval_s);
            // Kinds start out of step: the first calm is between a half and
            // one and a half intervals.
            let mut start = interval.mul_f64(0.5 + rng.below(1000) as f64 / 1000.0);
            let mut faults = Vec::new();
            // Bounded by the horizon, and in count.
            while start < horizon && faults.len() < 1_000_000 {
                let fault = kind.fault_type().draw(&mut Draw {
                    options,
                    cluster,
                    rng: &mut rng,
                });
                faults.push(Timed {
                    start,
                    end: start + interval,
                    fault,
                });
                start += interval * 2;
            }
            faults
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn options(faults: Vec<FaultKind>) -> Options {
        Options {
            faults,
            interval_s: 2.0,
            targets: vec![Targets::One, Targets::Majority],
            shapes: Shape::parse_list("all").unwrap(),
            clock_offset_s: 60.0,
            packet: Degradation {
                delay_ms: 50,
                loss: 0.2,
            },
        }
    }

    #[test]
    fn targets_parse_and_pick_the_right_number_of_distinct_nodes() {
        assert_eq!(
            Targets::parse_list("one,all").unwrap(),
            vec![Targets::One, Targets::All]
        );
        assert!(Targets::parse_list("most").is_err());
        assert!(Targets::parse_list("").is_err());
        let nodes: Vec<String> = (1..=5).map(|n| format!("n{n}")).collect();
        let mut rng = Rng::new(3);
        for (targets, count) in [(Targets::One, 1), (Targets::Majority, 3), (Targets::All, 5)] {
            let hit = targets.pick(&nodes, &mut rng);
            assert_eq!(hit.len(), count);
            assert!(
                hit.windows(2).all(|pair| pair[0] < pair[1]),
                "distinct and sorted: {hit:?}"
            );
        }
    }

    #[test]
    fn a_schedule_is_a_pure_function_of_its_seed_and_alternates_faults_with_calm() {
        let nodes = names(&["n1", "n2", "n3"]);
        let ids = names(&["master", "n1", "n2", "n3"]);
        let cluster = Cluster {
            nodes: &nodes,
            ids: &ids,
            packet: Degradation {
                delay_ms: 0,
                loss: 0.2,
            },
        };
        let options = options(FaultKind::all());
        let horizon = Duration::from_secs(30);
        let first = schedule(&options, 7, &cluster, horizon);
        assert_eq!(first, schedule(&options, 7, &cluster, horizon));
        assert_ne!(first, schedule(&options, 8, &cluster, horizon));
        assert_eq!(first.len(), 5);
        for (kind, faults) in FaultKind::all().iter().zip(&first) {
            assert!(faults.len() >= 6, "{kind:?}: {} faults", faults.len());
            let interval = Duration::from_secs(2);
            assert!((interval / 2..=interval * 3 / 2).contains(&faults[0].start));
            for pair in faults.windows(2) {
                assert_eq!(pair[0].end - pair[0].start, interval);
                assert_eq!(pair[1].start - pair[0].end, interval, "a calm between");
            }
            assert!(faults.iter().all(|timed| timed.start < horizon));
            assert!(faults.iter().all(|timed| timed.fault.kind == *kind));
            for timed in faults {
                let fault = &timed.fault;
                match kind.name() {
                    "partition" => assert!(fault.start.1["grudge"]["master"].is_array()),
                    "packet" => assert_eq!(fault.start.1["delay_ms"], 0),
                    _ => assert!(
                        !fault.nodes.is_empty()
                            && fault.nodes.iter().all(|node| nodes.contains(node)),
                        "{fault:?} hits only client-facing nodes"
                    ),
                }
            }
        }
    }
}
