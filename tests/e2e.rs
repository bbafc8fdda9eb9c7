//! End-to-end tests through the real `faultline` binary.
//!
//! - `check`: exit codes, output, bad input.
//! - `generate`: synthetic histories the checker agrees with.
//! - `stores`: the bundled stores as real processes, under `kill -9`.

mod check;
mod generate;
mod stores;
mod util;
