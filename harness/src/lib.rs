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
//!
//! `proxy` is the per-link TCP proxy the rootless partition backend is built on;
//! it is not wired into `run` yet.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod exit;
pub mod proxy;
pub mod rng;
pub mod run;
