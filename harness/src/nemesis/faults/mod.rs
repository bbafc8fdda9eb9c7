//! The kinds of fault, one module each, and their registry.
//!
//! Adding a fault is one new module here implementing
//! [`FaultType`](super::fault::FaultType) — its name and history events, how
//! it is drawn from the run's seed, what the target must allow, and how it is
//! performed and healed — plus one line in [`ALL`]. Append new kinds at the
//! end: a kind's place in the list orders `--nemesis all` and seeds its
//! schedule, so moving one changes every stored run's reproduction.
//!
//! A whole new kind, `terminate` (SIGTERM a node — a graceful stop — and
//! start it again when healed): this module is all of it, and
//! `&terminate::Terminate,` at the end of [`ALL`] makes `--nemesis terminate`
//! work. Here it is drawn into a seeded schedule directly:
//!
//! ```
//! use faultline::nemesis::NemesisError;
//! use faultline::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType};
//! use faultline::nemesis::schedule::{schedule, Cluster, Options, Targets};
//! use faultline::net::Degradation;
//! use faultline::net::grudge::Shape;
//! use nix::sys::signal::Signal;
//! use serde_json::json;
//! use std::time::Duration;
//!
//! /// Stops nodes gracefully.
//! pub struct Terminate;
//!
//! impl FaultType for Terminate {
//!     fn name(&self) -> &'static str { "terminate" }
//!     fn start_events(&self) -> &'static [&'static str] { &["terminate"] }
//!     fn end_event(&self) -> &'static str { "restart" }
//!     fn draw(&self, draw: &mut Draw) -> Fault {
//!         let nodes = draw.targets();
//!         Fault {
//!             kind: FaultKind::of(&Terminate),
//!             start: ("terminate", json!(nodes)),
//!             end: ("restart", json!(nodes)),
//!             description: format!("terminate {}", nodes.join(",")),
//!             step_period: None,
//!             nodes,
//!         }
//!     }
//!     fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
//!         let mut cluster = arena.cluster.lock().unwrap();
//!         for node in &fault.nodes {
//!             cluster.signal(node, Signal::SIGTERM);
//!         }
//!         Ok(())
//!     }
//!     fn heal(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
//!         let mut cluster = arena.cluster.lock().unwrap();
//!         for node in &fault.nodes {
//!             cluster.restart(node)?;
//!         }
//!         Ok(())
//!     }
//!     fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
//!         let mut cluster = arena.cluster.lock().unwrap();
//!         for node in &arena.nodes {
//!             cluster.restart(node)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
//! let none = Degradation { delay_ms: 0, loss: 0.0 };
//! let options = Options {
//!     faults: vec![FaultKind::of(&Terminate)],
//!     interval_s: 5.0,
//!     targets: vec![Targets::One],
//!     shapes: Shape::parse_list("all").unwrap(),
//!     clock_offset_s: 0.0,
//!     packet: none,
//! };
//! let cluster = Cluster { nodes: &nodes, ids: &nodes, packet: none };
//! let timed = schedule(&options, 7, &cluster, Duration::from_secs(60));
//! let faults = &timed[0];
//! assert!(faults.len() >= 5);
//! for fault in faults {
//!     let (f, value) = &fault.fault.start;
//!     assert_eq!(*f, "terminate");
//!     assert_eq!(value.as_array().unwrap().len(), 1, "one node each time");
//! }
//! // The same seed, the same schedule.
//! assert_eq!(timed, schedule(&options, 7, &cluster, Duration::from_secs(60)));
//! ```

pub mod clock;
pub mod kill;
pub mod packet;
pub mod partition;
pub mod pause;

use super::fault::FaultType;

/// Every kind of fault, in the order `--nemesis all` lists them.
pub const ALL: &[&dyn FaultType] = &[
    &partition::Partition,
    &kill::Kill,
    &pause::Pause,
    &clock::Clock,
    &packet::Packet,
];
