//! The nemesis: faults made real on a schedule drawn from the run's seed.
//!
//! - `fault`: faults as values ([`Fault`]), their kinds ([`FaultKind`]) and
//!   the [`fault::FaultType`] trait each kind implements.
//! - `faults`: one module per kind — how it is drawn, what the target must
//!   allow, how it is performed and healed — and the registry.
//! - `schedule`: the pure, seeded schedule of timed faults.
//! - here: [`run`], which walks the schedule, performing and healing each
//!   fault through its kind and recording its events.
//! - `timeline`: what the nemesis did, read back from a history.
//!
//! Performing a fault may wait (a kill command that takes seconds, packet
//! filter rules): it runs on the blocking pool, never on the runtime that
//! drives the clients. Every start and end is an event of process `nemesis`
//! in the history; everything is healed before the final reads.

pub mod fault;
pub mod faults;
pub mod schedule;
pub mod timeline;

use crate::recorder::Recorder;
use fault::{Arena, Fault, FaultKind};
use histories::{EventType, Process};
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

/// The faults in force now, for the progress line: each kind's current fault
/// in words.
#[derive(Debug, Default)]
pub struct InForce(Mutex<BTreeMap<&'static str, String>>);

impl InForce {
    fn set(&self, fault: &Fault) {
        self.0
            .lock()
            .expect("in-force lock")
            .insert(fault.kind.name(), fault.description.clone());
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

/// What a run's faults act on, and what they report to.
pub struct Environment {
    /// The kinds of fault the plan asked for.
    pub kinds: Vec<FaultKind>,
    /// The processes, network and clocks they act on.
    pub arena: Arc<Arena>,
    /// The history.
    pub recorder: Arc<Recorder>,
    /// What is broken now.
    pub in_force: Arc<InForce>,
}

impl Environment {
    /// Heals whatever may still be broken: links back to passing, clocks back
    /// to real time, every node resumed, any that is down restarted.
    /// Idempotent; off the clients' runtime.
    ///
    /// # Errors
    /// The first nemesis that could not heal, after every one has tried.
    pub async fn heal_all(&self) -> Result<(), NemesisError> {
        let mut failure = None;
        for kind in &self.kinds {
            let (fault_type, arena) = (kind.fault_type(), self.arena.clone());
            if let Err(error) = off_runtime(move || fault_type.heal_all(&arena)).await {
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
        let fault_type = fault.kind.fault_type();
        record(fault.start.clone())?;
        environment.in_force.set(&fault);
        let (arena, performed) = (environment.arena.clone(), fault.clone());
        off_runtime(move || fault_type.perform(&performed, &arena)).await?;
        let end = start + timed.end;
        match fault.step_period {
            Some(period) => {
                let mut step = 0;
                while calm_until(end.min(tokio::time::Instant::now() + period), &stop).await
                    && tokio::time::Instant::now() < end
                {
                    step += 1;
                    let (arena, stepped) = (environment.arena.clone(), fault.clone());
                    off_runtime(move || fault_type.step(&stepped, step, &arena)).await?;
                }
            }
            None => {
                calm_until(end, &stop).await;
            }
        }
        let (arena, healed) = (environment.arena.clone(), fault.clone());
        off_runtime(move || fault_type.heal(&healed, &arena)).await?;
        record(fault.end.clone())?;
        environment.in_force.clear(fault.kind);
    }
    Ok(())
}
