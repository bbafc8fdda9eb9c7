//! faultline's controller: the only part of the project that touches files,
//! processes, sockets and clocks. The commands:
//!
//! - `run`: the main job — start a bundled cluster, drive a workload, record,
//!   check, store.
//! - `check`: read a history (faultline JSONL, Jepsen EDN, Porcupine logs) and
//!   check it, printing the verdict with its witness.
//! - `bench`: the checker benchmarks the README reports.
//! - `generate`: write synthetic histories for benchmarks.
//! - `node`: one node of a bundled store (started by `run` and `bench`).
//! - `report`, `serve`: re-render a stored run's `report.html`; browse the store.
//!
//! `cluster` runs a bundled store's nodes as processes, `net` puts partitions
//! and degraded links between them, and `clock` skews their wall clocks.

pub mod architecture;
pub mod checking;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod exit;
pub mod host;
pub mod nemesis;
pub mod net;
pub mod recorder;
pub mod report;
pub mod rng;
pub mod run;
pub mod target;
pub mod target_file;
pub mod workload;
