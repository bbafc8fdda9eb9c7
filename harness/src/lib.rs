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
//! The nouns each have one home: `target` (a store's processes, from its
//! target file, read by `target_file`), `host` (where a process runs),
//! `client` (how an operation reaches a node), `nemesis` (faults, their
//! schedule and who performs them), `net` and `clock` (what partitions and
//! clock faults act on), `workload` (operations and generators), `checking`
//! (the checker registry and typed results), `recorder` (the history) and
//! `report`. `harness/README.md` draws how a run flows through them.

#[cfg(test)]
mod architecture;
pub mod checking;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod exit;
pub mod files;
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
