//! The nemesis: faults on a schedule drawn from the run's seed, each recorded in
//! the history as events of process `nemesis` (`kill` then `start`, `pause` then
//! `resume`, with the nodes hit as the value), and every fault healed before the
//! final reads.
//!
//! Process faults act on a node's whole process group: SIGKILL and a restart
//! with the same address and data, or SIGSTOP and SIGCONT. chain-kv's master is
//! never touched (it stands for the paper's replicated configuration service).

use super::recorder::Recorder;
use crate::cluster::LocalCluster;
use crate::rng::Rng;
use histories::{EventType, Process};
use nix::sys::signal::Signal;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL a node, restart it later.
    Kill,
    /// SIGSTOP a node, SIGCONT it later.
    Pause,
}

impl Fault {
    /// Parses `--nemesis`: a comma-separated list, or `none` / `all`.
    ///
    /// # Errors
    /// A message naming what is not (yet) supported.
    pub fn parse_list(text: &str) -> Result<Vec<Fault>, String> {
        let mut faults = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "none" => {}
                "all" => faults.extend([Fault::Kill, Fault::Pause]),
                "kill" => faults.push(Fault::Kill),
                "pause" => faults.push(Fault::Pause),
                "partition" | "clock" | "packet" => {
                    return Err(format!(
                        "--nemesis {name}: not supported yet; this version injects kill and pause"
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown nemesis {other:?}; expected kill, pause, all or none"
                    ));
                }
            }
        }
        faults.dedup();
        Ok(faults)
    }

    /// The event names for the fault's start and end.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Fault::Kill => ("kill", "start"),
            Fault::Pause => ("pause", "resume"),
        }
    }
}

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
        text.split(',')
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
            .collect::<Result<Vec<_>, _>>()
            .and_then(|targets| {
                if targets.is_empty() {
                    Err("--nemesis-targets is empty; expected one, majority or all".to_string())
                } else {
                    Ok(targets)
                }
            })
    }

    /// Picks the nodes, in the order given.
    fn pick(self, nodes: &[String], rng: &mut Rng) -> Vec<String> {
        let mut shuffled = nodes.to_vec();
        for index in (1..shuffled.len()).rev() {
            shuffled.swap(index, rng.below(index as u64 + 1) as usize);
        }
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

/// Injects faults until `stop`, every `interval` (a fault lasts one interval,
/// then one interval of calm), then heals everything.
pub async fn run(
    faults: Vec<Fault>,
    targets: Vec<Targets>,
    interval: Duration,
    seed: u64,
    cluster: Arc<Mutex<LocalCluster>>,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    if faults.is_empty() {
        return Ok(());
    }
    // A stream of its own, apart from the workers' (the bytes of "nemesis").
    let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
    let nodes = cluster.lock().expect("cluster lock").nodes();
    let record = |f: &str, nodes: &Value| {
        recorder
            .record(
                EventType::Info,
                Process::Nemesis,
                f,
                None,
                nodes.clone(),
                None,
            )
            .map_err(|error| format!("writing the history: {error}"))
    };
    let calm = |duration: Duration| {
        let stop = stop.clone();
        async move {
            let deadline = tokio::time::Instant::now() + duration;
            while tokio::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    calm(interval).await;
    while !stop.load(Ordering::Relaxed) {
        let fault = faults[rng.below(faults.len() as u64) as usize];
        let hit = targets[rng.below(targets.len() as u64) as usize].pick(&nodes, &mut rng);
        let (start, end) = fault.names();
        let value = Value::from(hit.clone());
        record(start, &value)?;
        for node in &hit {
            inject(&cluster, fault, node, true)?;
        }
        calm(interval).await;
        for node in &hit {
            inject(&cluster, fault, node, false)?;
        }
        record(end, &value)?;
        calm(interval).await;
    }
    Ok(())
}

/// Starts (`begin`) or ends a fault on one node.
fn inject(
    cluster: &Mutex<LocalCluster>,
    fault: Fault,
    node: &str,
    begin: bool,
) -> Result<(), String> {
    let mut cluster = cluster.lock().expect("cluster lock");
    match (fault, begin) {
        (Fault::Kill, true) => cluster.kill(node),
        (Fault::Kill, false) => cluster.restart(node)?,
        (Fault::Pause, true) => cluster.signal(node, Signal::SIGSTOP),
        (Fault::Pause, false) => cluster.signal(node, Signal::SIGCONT),
    }
    Ok(())
}

/// Heals whatever may still be broken: resumes every node and restarts any
/// that is down. Idempotent.
pub fn heal_all(cluster: &Mutex<LocalCluster>) -> Result<(), String> {
    let mut cluster = cluster.lock().expect("cluster lock");
    for node in cluster.nodes() {
        if cluster.running(&node) {
            cluster.signal(&node, Signal::SIGCONT);
        } else {
            cluster.restart(&node)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemesis_lists_parse_and_unsupported_faults_are_refused() {
        assert_eq!(
            Fault::parse_list("kill,pause").unwrap(),
            vec![Fault::Kill, Fault::Pause]
        );
        assert_eq!(
            Fault::parse_list("all").unwrap(),
            vec![Fault::Kill, Fault::Pause]
        );
        assert!(Fault::parse_list("none").unwrap().is_empty());
        assert!(
            Fault::parse_list("partition")
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(
            Fault::parse_list("gremlins")
                .unwrap_err()
                .contains("unknown nemesis")
        );
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
}
