//! The nemesis: faults made real on a schedule drawn from the run's seed.
//!
//! - `fault`: faults as values ([`Fault`]) and their kinds, with the history
//!   events that start and end each.
//! - `schedule`: the pure, seeded schedule of timed faults.
//! - here: the [`Nemesis`] implementations that perform and heal faults
//!   (processes, network, clocks), and [`run`], which walks the schedule.
//! - `timeline`: what the nemesis did, read back from a history.
//!
//! Performing a fault may wait (a kill command that takes seconds, packet
//! filter rules): it runs on the blocking pool, never on the runtime that
//! drives the clients. Every start and end is an event of process `nemesis`
//! in the history; everything is healed before the final reads.

pub mod fault;
pub mod schedule;
pub mod timeline;

use crate::clock::Clocks;
use crate::net::Network;
use crate::net::grudge::Grudge;
use crate::recorder::Recorder;
use crate::target::cluster::LocalCluster;
use fault::{Fault, FaultKind};
use histories::{EventType, Process};
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use schedule::{Options, Targets};

/// A fault that could not be made or undone, or its event not recorded.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// A node could not be restarted.
    #[error(transparent)]
    Cluster(#[from] crate::target::cluster::ClusterError),
    /// A network rule could not be set.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// A clock file could not be written.
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
    /// No nemesis of the run performs this kind (a plan the capability check
    /// should have refused).
    #[error("nothing here can perform {0}")]
    Unsupported(String),
    /// The history could not be written.
    #[error("writing the history: {0}")]
    History(std::io::Error),
    /// A nemesis call panicked.
    #[error("a nemesis call failed: {0}")]
    Panicked(String),
}

/// Something that makes some kinds of fault real. Its methods may block;
/// [`run`] calls them off the clients' runtime.
pub trait Nemesis: Send + Sync {
    /// The kinds it performs.
    fn kinds(&self) -> &'static [FaultKind];
    /// Begins `fault`.
    ///
    /// # Errors
    /// The fault could not be made (a rule refused, a file unwritable).
    fn perform(&self, fault: &Fault) -> Result<(), NemesisError>;
    /// For a fault that changes while in force ([`Fault::step_period`]): its
    /// `step`-th change (the 0th is [`Nemesis::perform`]).
    ///
    /// # Errors
    /// As [`Nemesis::perform`].
    fn step(&self, _fault: &Fault, _step: u64) -> Result<(), NemesisError> {
        Ok(())
    }
    /// Ends `fault`.
    ///
    /// # Errors
    /// The fault could not be undone (a node that will not restart).
    fn heal(&self, fault: &Fault) -> Result<(), NemesisError>;
    /// Ends whatever it may have left in force; idempotent.
    ///
    /// # Errors
    /// As [`Nemesis::heal`].
    fn heal_all(&self) -> Result<(), NemesisError>;
}

/// Kills, pauses and restarts nodes' processes.
pub struct Processes(pub Arc<Mutex<LocalCluster>>);

impl Nemesis for Processes {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Kill, FaultKind::Pause]
    }

    fn perform(&self, fault: &Fault) -> Result<(), NemesisError> {
        for node in fault.nodes() {
            let mut cluster = self.0.lock().expect("cluster lock");
            match fault {
                Fault::Kill { .. } => cluster.kill(&node),
                _ => cluster.signal(&node, Signal::SIGSTOP),
            }
        }
        Ok(())
    }

    fn heal(&self, fault: &Fault) -> Result<(), NemesisError> {
        for node in fault.nodes() {
            let mut cluster = self.0.lock().expect("cluster lock");
            match fault {
                Fault::Kill { .. } => cluster.restart(&node)?,
                _ => cluster.signal(&node, Signal::SIGCONT),
            }
        }
        Ok(())
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        let mut cluster = self.0.lock().expect("cluster lock");
        for node in cluster.nodes() {
            if cluster.running(&node) {
                cluster.signal(&node, Signal::SIGCONT);
            } else {
                cluster.restart(&node)?;
            }
        }
        Ok(())
    }
}

/// Cuts and degrades the links between nodes.
pub struct Links(pub Arc<Mutex<Network>>);

impl Nemesis for Links {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Partition, FaultKind::Packet]
    }

    fn perform(&self, fault: &Fault) -> Result<(), NemesisError> {
        let mut net = self.0.lock().expect("net lock");
        match fault {
            Fault::Partition { grudge, .. } => Ok(net.partition(grudge)?),
            Fault::Packet { nodes, degradation } => Ok(net.degrade(nodes, *degradation)?),
            other => Err(NemesisError::Unsupported(other.describe())),
        }
    }

    fn heal(&self, fault: &Fault) -> Result<(), NemesisError> {
        let mut net = self.0.lock().expect("net lock");
        match fault {
            Fault::Packet { degradation, .. } => Ok(net.degrade(&[], *degradation)?),
            _ => Ok(net.partition(&Grudge::new())?),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        Ok(self.0.lock().expect("net lock").heal()?)
    }
}

/// Moves nodes' wall clocks (libfaketime).
pub struct WallClocks {
    /// The clock files.
    pub clocks: Arc<Clocks>,
    /// Every node whose clock may move.
    pub nodes: Vec<String>,
}

impl Nemesis for WallClocks {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Clock]
    }

    fn perform(&self, fault: &Fault) -> Result<(), NemesisError> {
        match fault {
            Fault::ClockBump { offsets } => offsets
                .iter()
                .try_for_each(|(node, offset)| self.clocks.set(node, *offset))
                .map_err(NemesisError::from),
            _ => self.step(fault, 0),
        }
    }

    fn step(&self, fault: &Fault, step: u64) -> Result<(), NemesisError> {
        if let Fault::ClockStrobe {
            nodes,
            low_s,
            high_s,
            ..
        } = fault
        {
            let offset = if step % 2 == 0 { *high_s } else { *low_s };
            for node in nodes {
                self.clocks.set(node, offset)?;
            }
        }
        Ok(())
    }

    fn heal(&self, fault: &Fault) -> Result<(), NemesisError> {
        fault
            .nodes()
            .iter()
            .try_for_each(|node| self.clocks.set(node, 0.0))
            .map_err(NemesisError::from)
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        self.nodes
            .iter()
            .try_for_each(|node| self.clocks.set(node, 0.0))
            .map_err(NemesisError::from)
    }
}

/// The faults in force now, for the progress line: each kind's current fault
/// in words.
#[derive(Debug, Default)]
pub struct InForce(Mutex<BTreeMap<&'static str, String>>);

impl InForce {
    fn set(&self, fault: &Fault) {
        self.0
            .lock()
            .expect("in-force lock")
            .insert(fault.kind().name(), fault.describe());
    }

    fn clear(&self, kind: FaultKind) {
        self.0.lock().expect("in-force lock").remove(kind.name());
    }

    /// The faults in force joined (`kill n2; partition majority`), if any.
    pub fn describe(&self) -> Option<String> {
        let faults = self.0.lock().expect("in-force lock");
        (!faults.is_empty()).then(|| faults.values().cloned().collect::<Vec<_>>().join("; "))
    }
}

/// The nemeses of a run, and what they report to.
pub struct Environment {
    /// Each kind of fault's performer.
    pub nemeses: Vec<Arc<dyn Nemesis>>,
    /// The history.
    pub recorder: Arc<Recorder>,
    /// What is broken now.
    pub in_force: Arc<InForce>,
}

impl Environment {
    fn nemesis_for(&self, kind: FaultKind) -> Result<Arc<dyn Nemesis>, NemesisError> {
        self.nemeses
            .iter()
            .find(|nemesis| nemesis.kinds().contains(&kind))
            .cloned()
            .ok_or_else(|| NemesisError::Unsupported(format!("a {} fault", kind.name())))
    }

    /// Heals whatever may still be broken: links back to passing, clocks back
    /// to real time, every node resumed, any that is down restarted.
    /// Idempotent; off the clients' runtime.
    ///
    /// # Errors
    /// The first nemesis that could not heal, after every one has tried.
    pub async fn heal_all(&self) -> Result<(), NemesisError> {
        let mut failure = None;
        for nemesis in &self.nemeses {
            let nemesis = nemesis.clone();
            if let Err(error) = off_runtime(move || nemesis.heal_all()).await {
                failure = failure.or(Some(error));
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Runs a blocking call on the blocking pool, so the clients keep running.
async fn off_runtime(
    call: impl FnOnce() -> Result<(), NemesisError> + Send + 'static,
) -> Result<(), NemesisError> {
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|error| Err(NemesisError::Panicked(error.to_string())))
}

/// Performs every kind's faults on their schedule (times from `start`) until
/// `stop`, ending the fault in force of each kind before returning.
///
/// # Errors
/// A fault that could not be performed or healed, or the history unwritable.
pub async fn run(
    timed: Vec<Vec<schedule::Timed>>,
    start: tokio::time::Instant,
    environment: Arc<Environment>,
    stop: Arc<AtomicBool>,
) -> Result<(), NemesisError> {
    let cycles: Vec<_> = timed
        .into_iter()
        .map(|faults| tokio::spawn(cycle(faults, start, environment.clone(), stop.clone())))
        .collect();
    let mut failure = None;
    for cycle in cycles {
        match cycle.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => failure = failure.or(Some(error)),
            Err(error) => failure = failure.or(Some(NemesisError::Panicked(error.to_string()))),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Sleeps until `deadline`, or less if `stop` is set; whether it got there.
async fn calm_until(deadline: tokio::time::Instant, stop: &AtomicBool) -> bool {
    while tokio::time::Instant::now() < deadline {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let next = deadline.min(tokio::time::Instant::now() + Duration::from_millis(50));
        tokio::time::sleep_until(next).await;
    }
    !stop.load(Ordering::Relaxed)
}

/// One kind's faults, in order.
async fn cycle(
    faults: Vec<schedule::Timed>,
    start: tokio::time::Instant,
    environment: Arc<Environment>,
    stop: Arc<AtomicBool>,
) -> Result<(), NemesisError> {
    let record = |(f, value): (&str, serde_json::Value)| {
        environment
            .recorder
            .record(EventType::Info, Process::Nemesis, f, None, value, None)
            .map_err(NemesisError::History)
    };
    for timed in faults {
        if !calm_until(start + timed.start, &stop).await {
            break;
        }
        let fault = Arc::new(timed.fault);
        let nemesis = environment.nemesis_for(fault.kind())?;
        record(fault.start_event())?;
        environment.in_force.set(&fault);
        let (performer, performed) = (nemesis.clone(), fault.clone());
        off_runtime(move || performer.perform(&performed)).await?;
        let end = start + timed.end;
        match fault.step_period() {
            Some(period) => {
                let mut step = 0;
                while calm_until(end.min(tokio::time::Instant::now() + period), &stop).await
                    && tokio::time::Instant::now() < end
                {
                    step += 1;
                    let (performer, stepped) = (nemesis.clone(), fault.clone());
                    off_runtime(move || performer.step(&stepped, step)).await?;
                }
            }
            None => {
                calm_until(end, &stop).await;
            }
        }
        let (healer, healed) = (nemesis.clone(), fault.clone());
        off_runtime(move || healer.heal(&healed)).await?;
        record(fault.end_event())?;
        environment.in_force.clear(fault.kind());
    }
    Ok(())
}
