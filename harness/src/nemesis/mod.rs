//! The nemesis: faults on a schedule drawn from the run's seed. Each kind of
//! fault in the plan runs its own cycle — calm, fault, calm, … one interval each,
//! the first calm of random length — so faults of different kinds overlap the
//! way they do in Jepsen's combined nemesis (a partition while a clock is off).
//! Every start and end is an event of process `nemesis` in the history saying
//! what was done; everything is healed before the final reads.
//!
//! - kill / pause act on a node's whole process group: SIGKILL and a restart
//!   with the same address and data, or SIGSTOP and SIGCONT.
//! - partition cuts the links a grudge names; chain-kv's master (standing for a
//!   replicated configuration service) is on the side of the best-connected
//!   node and is never killed, paused or skewed.
//! - clock bumps nodes' wall clocks by up to `clock_offset_s` either way, or
//!   strobes them between two offsets; the end of the fault resets them.
//! - packet delays the links of some nodes and loses some of their traffic.

pub mod timeline;

use crate::clock::Clocks;
use crate::cluster::LocalCluster;
use crate::net::grudge::{self, Grudge, Shape};
use crate::net::{Degradation, Network};
use crate::recorder::Recorder;
use crate::rng::Rng;
use histories::{EventType, Process};
use nix::sys::signal::Signal;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
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

impl Fault {
    /// Every fault, in the order `all` lists them.
    pub const ALL: [Fault; 5] = [
        Fault::Partition,
        Fault::Kill,
        Fault::Pause,
        Fault::Clock,
        Fault::Packet,
    ];

    /// Parses `--nemesis`: a comma-separated list, or `none` / `all`.
    ///
    /// # Errors
    /// A message naming the unknown fault and the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<Fault>, String> {
        let mut faults = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "none" => {}
                "all" => faults.extend(Fault::ALL),
                "partition" => faults.push(Fault::Partition),
                "kill" => faults.push(Fault::Kill),
                "pause" => faults.push(Fault::Pause),
                "clock" => faults.push(Fault::Clock),
                "packet" => faults.push(Fault::Packet),
                other => {
                    return Err(format!(
                        "unknown nemesis {other:?}; expected partition, kill, pause, clock, packet, all or none"
                    ));
                }
            }
        }
        faults.sort();
        faults.dedup();
        Ok(faults)
    }

    /// The fault's name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Clock => "clock",
            Fault::Packet => "packet",
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
    /// The faults, each cycling on its own.
    pub faults: Vec<Fault>,
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

/// The faults in force now, for the progress line: each fault kind's current
/// action in words.
#[derive(Debug, Default)]
pub struct InForce(Mutex<BTreeMap<&'static str, String>>);

impl InForce {
    fn set(&self, fault: Fault, what: String) {
        self.0
            .lock()
            .expect("in-force lock")
            .insert(fault.name(), what);
    }

    fn clear(&self, fault: Fault) {
        self.0.lock().expect("in-force lock").remove(fault.name());
    }

    /// The actions in force joined (`kill n2; partition majority`), if any.
    pub fn describe(&self) -> Option<String> {
        let faults = self.0.lock().expect("in-force lock");
        (!faults.is_empty()).then(|| faults.values().cloned().collect::<Vec<_>>().join("; "))
    }
}

/// What the nemesis acts on.
pub struct Environment {
    /// The nodes' processes.
    pub cluster: Arc<Mutex<LocalCluster>>,
    /// The links between them, when the plan partitions or degrades them.
    pub net: Option<Arc<Mutex<Network>>>,
    /// Their clocks, when the plan skews them.
    pub clocks: Option<Arc<Clocks>>,
    /// The history.
    pub recorder: Arc<Recorder>,
    /// What is broken now.
    pub in_force: Arc<InForce>,
}

/// Runs every fault's cycle until `stop`, then ends the fault in force.
pub async fn run(
    options: Options,
    seed: u64,
    environment: Arc<Environment>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let cycles: Vec<_> = options
        .faults
        .iter()
        .enumerate()
        .map(|(index, &fault)| {
            // A stream per fault, apart from the workers' (the bytes of "nemesis").
            let rng = Rng::new(seed ^ 0x006e_656d_6573_6973 ^ ((index as u64 + 1) << 56));
            tokio::spawn(cycle(
                fault,
                options.clone(),
                rng,
                environment.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let mut failure = None;
    for cycle in cycles {
        match cycle.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => failure = failure.or(Some(error)),
            Err(error) => failure = failure.or(Some(error.to_string())),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Sleeps up to `duration`, less if `stop` is set.
async fn calm(duration: Duration, stop: &AtomicBool) {
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn cycle(
    fault: Fault,
    options: Options,
    mut rng: Rng,
    environment: Arc<Environment>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let interval = Duration::from_secs_f64(options.interval_s);
    let nodes = environment.cluster.lock().expect("cluster lock").nodes();
    let record = |f: &str, value: Value| {
        environment
            .recorder
            .record(EventType::Info, Process::Nemesis, f, None, value, None)
            .map_err(|error| format!("writing the history: {error}"))
    };
    let in_force = |what: String| environment.in_force.set(fault, what);
    // Kinds start out of step: the first calm is between a half and one and a
    // half intervals.
    calm(
        interval.mul_f64(0.5 + rng.below(1000) as f64 / 1000.0),
        &stop,
    )
    .await;
    while !stop.load(Ordering::Relaxed) {
        let pick = |rng: &mut Rng| {
            options.targets[rng.below(options.targets.len() as u64) as usize].pick(&nodes, rng)
        };
        match fault {
            Fault::Kill | Fault::Pause => {
                let hit = pick(&mut rng);
                let (begin, end, signal) = if fault == Fault::Kill {
                    ("kill", "start", Signal::SIGKILL)
                } else {
                    ("pause", "resume", Signal::SIGSTOP)
                };
                record(begin, json!(hit))?;
                in_force(format!("{begin} {}", hit.join(",")));
                for node in &hit {
                    let mut cluster = environment.cluster.lock().expect("cluster lock");
                    if signal == Signal::SIGKILL {
                        cluster.kill(node);
                    } else {
                        cluster.signal(node, signal);
                    }
                }
                calm(interval, &stop).await;
                for node in &hit {
                    let mut cluster = environment.cluster.lock().expect("cluster lock");
                    if fault == Fault::Kill {
                        cluster.restart(node)?;
                    } else {
                        cluster.signal(node, Signal::SIGCONT);
                    }
                }
                record(end, json!(hit))?;
            }
            Fault::Partition => {
                let net = environment.net.as_ref().ok_or("no network to partition")?;
                let shape = &options.shapes[rng.below(options.shapes.len() as u64) as usize];
                let ids = environment.cluster.lock().expect("cluster lock").ids();
                let grudge = with_bystanders(shape.grudge(&nodes, &mut rng), &nodes, &ids);
                record(
                    "start-partition",
                    json!({"shape": shape_name(shape), "grudge": grudge}),
                )?;
                net.lock().expect("net lock").partition(&grudge)?;
                in_force(format!("partition {}", shape_name(shape)));
                calm(interval, &stop).await;
                net.lock().expect("net lock").partition(&Grudge::new())?;
                record("stop-partition", Value::Null)?;
            }
            Fault::Packet => {
                let net = environment.net.as_ref().ok_or("no network to degrade")?;
                let hit = pick(&mut rng);
                let packet = net.lock().expect("net lock").effective(options.packet);
                record(
                    "start-packet",
                    json!({"nodes": hit, "delay_ms": packet.delay_ms, "loss": packet.loss}),
                )?;
                net.lock().expect("net lock").degrade(&hit, packet)?;
                in_force(format!("packet {}", hit.join(",")));
                calm(interval, &stop).await;
                net.lock().expect("net lock").degrade(&[], options.packet)?;
                record("stop-packet", json!(hit))?;
            }
            Fault::Clock => {
                let clocks = environment.clocks.as_ref().ok_or("no clocks to skew")?;
                let hit = pick(&mut rng);
                let offset = |rng: &mut Rng| {
                    let fraction = rng.below(2001) as f64 / 1000.0 - 1.0;
                    (fraction * options.clock_offset_s * 1000.0).round() / 1000.0
                };
                if rng.chance(0.5) {
                    let offsets: BTreeMap<String, f64> = hit
                        .iter()
                        .map(|node| (node.clone(), offset(&mut rng)))
                        .collect();
                    record("bump", json!(offsets))?;
                    in_force(format!("clock bump {}", hit.join(",")));
                    for (node, offset) in &offsets {
                        clocks.set(node, *offset)?;
                    }
                    calm(interval, &stop).await;
                } else {
                    // Flip between two offsets every `period` for the interval.
                    let (low, high) = (offset(&mut rng), offset(&mut rng));
                    let period = Duration::from_millis(100 + rng.below(400));
                    record(
                        "strobe",
                        json!({"nodes": hit, "offsets": [low, high], "period_ms": period.as_millis() as u64}),
                    )?;
                    in_force(format!("clock strobe {}", hit.join(",")));
                    let deadline = tokio::time::Instant::now() + interval;
                    let mut high_now = false;
                    while tokio::time::Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                        high_now = !high_now;
                        for node in &hit {
                            clocks.set(node, if high_now { high } else { low })?;
                        }
                        calm(period, &stop).await;
                    }
                }
                for node in &hit {
                    clocks.set(node, 0.0)?;
                }
                record("reset", json!(hit))?;
            }
        }
        environment.in_force.clear(fault);
        calm(interval, &stop).await;
    }
    Ok(())
}

fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::One => "one",
        Shape::Majority => "majority",
        Shape::MajoritiesRing => "majorities-ring",
        Shape::Bridge => "bridge",
        Shape::MinorityThird => "minority-third",
        Shape::Explicit(_) => "grudge",
    }
}

/// Extends a grudge over the client-facing nodes to every id (chain-kv's
/// master): a bystander stands with the best-connected side, dropping the rest.
fn with_bystanders(mut grudge: Grudge, nodes: &[String], ids: &[String]) -> Grudge {
    let side = grudge::best_connected(&grudge, nodes);
    for id in ids.iter().filter(|id| !nodes.contains(id)) {
        let dropped = nodes
            .iter()
            .filter(|node| !side.contains(*node))
            .cloned()
            .collect();
        grudge.insert(id.clone(), dropped);
    }
    grudge
}

/// Heals whatever may still be broken: links back to passing, clocks back to
/// real time, every node resumed, any that is down restarted. Idempotent.
///
/// # Errors
/// A node that cannot be restarted, or a clock file that cannot be written.
pub fn heal_all(environment: &Environment) -> Result<(), String> {
    if let Some(net) = &environment.net {
        net.lock().expect("net lock").heal()?;
    }
    let mut cluster = environment.cluster.lock().expect("cluster lock");
    for node in cluster.nodes() {
        if let Some(clocks) = &environment.clocks {
            clocks.set(&node, 0.0)?;
        }
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
    fn nemesis_lists_parse_and_unknown_faults_are_refused() {
        assert_eq!(
            Fault::parse_list("pause,kill").unwrap(),
            vec![Fault::Kill, Fault::Pause]
        );
        assert_eq!(Fault::parse_list("all").unwrap(), Fault::ALL.to_vec());
        assert!(Fault::parse_list("none").unwrap().is_empty());
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

    #[test]
    fn the_master_stands_with_the_majority() {
        let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        let ids: Vec<String> = ["master", "n1", "n2", "n3"].map(String::from).to_vec();
        let grudge = grudge::complete(&[vec!["n2".into()], vec!["n1".into(), "n3".into()]]);
        let grudge = with_bystanders(grudge, &nodes, &ids);
        assert_eq!(grudge["master"].iter().collect::<Vec<_>>(), ["n2"]);
    }
}
