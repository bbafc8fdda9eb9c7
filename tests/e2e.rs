//! End-to-end tests through the real `faultline` binary.
//!
//! - `check`: exit codes, output, bad input.
//! - `generate`: synthetic histories the checker agrees with.

mod check;
mod generate;
mod util;
