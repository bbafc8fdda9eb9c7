//! faultline's shared vocabulary: the events a run records, the operations they
//! pair into, and the file formats histories come in.
//!
//! A history is a sequence of [`Event`]s with Jepsen's field names. Reading one
//! validates it and pairs invocations with completions into [`Operation`]s:
//!
//! ```
//! let text = r#"{"type":"invoke","process":0,"f":"write","value":3}
//! {"type":"ok","process":0,"f":"write","value":3}
//! {"type":"invoke","process":1,"f":"read","value":null}
//! {"type":"info","process":1,"f":"read","value":null,"error":"timeout"}
//! "#;
//! let history = histories::parse("example.jsonl", text, None).unwrap();
//! assert_eq!(history.operations.len(), 2);
//! assert_eq!(history.operations[1].outcome, histories::Outcome::Info);
//!
//! let error = histories::parse("bad.jsonl", "{\"type\":\"ok\",\"process\":0,\"f\":\"read\"}", None)
//!     .unwrap_err();
//! assert!(error.to_string().starts_with("bad.jsonl:1: orphan completion"));
//! ```
#![deny(missing_docs)]

mod builder;
mod error;
mod event;
mod format;
mod history;

pub use builder::HistoryBuilder;
pub use error::HistoryError;
pub use event::{Event, EventType, Process};
pub use format::{Format, detect, parse, to_jsonl_line, write_jsonl};
pub use history::{History, Operation, Outcome};
