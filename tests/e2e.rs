//! End-to-end tests through the real `faultline` binary.
//!
//! - `check`: exit codes, output, bad input.
//! - `generate`: synthetic histories the checker agrees with.
//! - `run`: the main job, end to end, and its cleanup.
//! - `stores`: the bundled stores as real processes, under `kill -9`.
//! - `http_target`: etcd from its target config, and config errors.
//! - `report`: report.html in headless chromium, CI outputs, the store browser.

mod check;
mod generate;
mod http_target;
mod report;
mod run;
mod stores;
mod util;
