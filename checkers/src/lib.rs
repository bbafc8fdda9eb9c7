//! faultline's consistency checkers: a history in, a verdict out.
//!
//! Checkers are pure: they read no files, open no sockets and read the clock only
//! to keep to their [`Budget`]. The linearizability checker is a Wing–Gong–Lowe
//! search with P-compositionality (one search per key, keys in parallel) and
//! rules that make indeterminate operations cheap; see
//! [`linearizable`](crate::linearizable) for the argument behind each.
//!
//! ```
//! use checkers::linearizable::{self, Options};
//! use checkers::{ModelKind, Validity};
//! use histories::HistoryBuilder;
//! use serde_json::json;
//!
//! // p0 writes 1, then 2; after that, p1 reads 1: a stale read.
//! let history = HistoryBuilder::new()
//!     .invoke(0, "write", json!(1))
//!     .ok(0, "write", json!(1))
//!     .invoke(0, "write", json!(2))
//!     .ok(0, "write", json!(2))
//!     .invoke(1, "read", json!(null))
//!     .ok(1, "read", json!(1))
//!     .build()
//!     .unwrap();
//! let report = linearizable::check(&history, &Options::new(ModelKind::CasRegister)).unwrap();
//! assert_eq!(report.valid, Validity::Invalid);
//! let witness = &report.witnesses[0];
//! assert_eq!(witness.operation.f, "read");
//! assert_eq!(witness.reason, "it read 1, but the register holds 2");
//! assert_eq!(witness.minimal_history.len(), 6);
//! ```
#![deny(missing_docs)]

mod budget;
mod label;
pub mod linearizable;
mod models;
pub mod oracle;
pub mod txn;
mod verdict;
pub mod weak;

pub use budget::{Budget, Exhausted};
pub use label::{Label, present};
pub use models::{ModelError, ModelKind, ModelOptions};
pub use verdict::Validity;
