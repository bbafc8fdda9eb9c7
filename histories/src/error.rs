//! What can be wrong with a history file.

use crate::Process;
use thiserror::Error;

/// A history that cannot be read or does not make sense.
///
/// Every variant names the file and the 1-based line, so a user can open the file
/// at the right place.
#[derive(Debug, Error, PartialEq)]
pub enum HistoryError {
    /// The file has no events at all.
    #[error("{file}: the history is empty; expected at least one event")]
    Empty {
        /// The file's name.
        file: String,
    },
    /// The format could not be recognised from the file's first line.
    #[error(
        "{file}:{line}: unknown history format; expected faultline JSON Lines (`{{\"type\": …}}`), Jepsen EDN (`{{:type …}}` or a vector of them) or a Porcupine etcd log (`INFO  jepsen.util - 0\t:invoke\t:read\tnil`); use --format to force one"
    )]
    UnknownFormat {
        /// The file's name.
        file: String,
        /// The first line with content.
        line: usize,
    },
    /// A line could not be parsed in the file's format.
    #[error("{file}:{line}: malformed {format} line: {reason}")]
    Malformed {
        /// The file's name.
        file: String,
        /// The offending line.
        line: usize,
        /// The format being read.
        format: &'static str,
        /// What was found and what was expected.
        reason: String,
    },
    /// A completion with no invocation in flight on its process.
    #[error(
        "{file}:{line}: orphan completion: {process} completes `{f}` but has no operation in flight; expected an `invoke` event on {process} before it"
    )]
    OrphanCompletion {
        /// The file's name.
        file: String,
        /// The completion's line.
        line: usize,
        /// The process.
        process: Process,
        /// The completion's function.
        f: String,
    },
    /// A second invocation while the process already has one in flight.
    #[error(
        "{file}:{line}: double invocation: {process} invokes `{f}` while its `{pending_f}` from line {pending_line} is still in flight; expected that operation to complete first (a process runs one operation at a time)"
    )]
    DoubleInvoke {
        /// The file's name.
        file: String,
        /// The second invocation's line.
        line: usize,
        /// The process.
        process: Process,
        /// The second invocation's function.
        f: String,
        /// The function in flight.
        pending_f: String,
        /// Where the operation in flight was invoked.
        pending_line: usize,
    },
    /// A completion whose function differs from its invocation's.
    #[error(
        "{file}:{line}: mismatched completion: {process} completes `{f}` but invoked `{invoked_f}` at line {invoke_line}; expected a completion of `{invoked_f}`"
    )]
    MismatchedCompletion {
        /// The file's name.
        file: String,
        /// The completion's line.
        line: usize,
        /// The process.
        process: Process,
        /// The completion's function.
        f: String,
        /// The invocation's function.
        invoked_f: String,
        /// The invocation's line.
        invoke_line: usize,
    },
    /// An event earlier in time than the one before it.
    #[error(
        "{file}:{line}: time goes backwards: {time_ns} ns after {previous_time_ns} ns on line {previous_line}; expected times that never decrease (one monotonic clock)"
    )]
    TimeWentBackwards {
        /// The file's name.
        file: String,
        /// The offending line.
        line: usize,
        /// Its time.
        time_ns: i64,
        /// The previous event's time.
        previous_time_ns: i64,
        /// The previous event's line.
        previous_line: usize,
    },
}

impl HistoryError {
    /// The 1-based line the error is about, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            HistoryError::Empty { .. } => None,
            HistoryError::UnknownFormat { line, .. }
            | HistoryError::Malformed { line, .. }
            | HistoryError::OrphanCompletion { line, .. }
            | HistoryError::DoubleInvoke { line, .. }
            | HistoryError::MismatchedCompletion { line, .. }
            | HistoryError::TimeWentBackwards { line, .. } => Some(*line),
        }
    }
}
