//! Clients: how an operation reaches a node and how what comes back becomes
//! `ok` (it happened), `fail` (it certainly did not) or `info` (unknown).
//! What the store under test does is data, never a Rust error.
//!
//! A [`Client`] speaks one protocol to one node; the rules every protocol
//! shares — a connection never made is `fail`, a timeout or reset after
//! sending is `info`, a read that did not succeed is `fail` — are
//! [`transport`] and [`settle`], here and nowhere else.
//!
//! - `kv_api`: the bundled stores' HTTP/JSON contract.
//! - `configured`: HTTP requests described by a target file's `[operations]`.

pub mod configured;
pub mod kv_api;

use crate::workload::Op;
use serde_json::Value;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

/// How an operation ended, as the history records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// It happened; the value read or written.
    Ok(Value),
    /// It certainly did not happen; why.
    Fail(Value),
    /// It may or may not have happened; why.
    Info(Value),
}

/// A node's client cannot be opened: its address is not one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("node address {address:?}: {reason}")]
pub struct OpenError {
    /// The address given.
    pub address: String,
    /// Why it is not usable.
    pub reason: String,
}

/// A pooled HTTP client with a per-request timeout.
pub fn http_client(timeout: Duration, connections: usize) -> reqwest::Client {
    bound_http_client(timeout, connections, None)
}

/// As [`http_client`], sending only from `local` when given: the address of
/// the run's own uplink to its namespaces, so that a client whose network was
/// not set up fails rather than sends elsewhere.
pub fn bound_http_client(
    timeout: Duration,
    connections: usize,
    local: Option<std::net::IpAddr>,
) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(connections)
        .local_address(local)
        // Straight to the nodes: a proxy named in the environment must not
        // carry the run's traffic elsewhere (and matching it costs per request).
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds")
}

/// A future a client returns (boxed, so clients of any protocol share one
/// type: an allocation per operation, small beside a network round trip).
pub type Pending<'a> = Pin<Box<dyn Future<Output = Completion> + Send + 'a>>;

/// A connection to one node, in the store's protocol.
pub trait Client: Send + Sync {
    /// Sends `op` and classifies what comes back.
    fn invoke<'a>(&'a self, op: &'a Op) -> Pending<'a>;
}

/// No response: `fail` when the connection was never made (the request was
/// not sent), else `info` (it may have been applied).
pub fn transport(connect: bool, message: &str) -> Completion {
    if connect {
        Completion::Fail(Value::String(format!("connect: {message}")))
    } else {
        Completion::Info(Value::String(format!("indeterminate: {message}")))
    }
}

/// The last rule for every protocol: an operation that only reads and whose
/// outcome is unknown is a failure — reads change nothing, so one that may
/// have run is the same as one that did not (Jepsen does the same), and its
/// process need not be retired.
pub fn settle(op: &Op, completion: Completion) -> Completion {
    match completion {
        Completion::Info(error) if op.read_only() => Completion::Fail(error),
        other => other,
    }
}
