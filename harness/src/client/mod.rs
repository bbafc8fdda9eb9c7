//! Clients: how an operation reaches a node and how what comes back becomes
//! `ok` (it happened), `fail` (it certainly did not) or `info` (unknown).
//! What the store under test does is data, never a Rust error.
//!
//! - `kv_api`: the bundled stores' HTTP/JSON contract.
//! - `configured`: a store described by a target config.

pub mod configured;
pub mod kv_api;

use crate::workload::Op;
use serde_json::Value;
use std::time::Duration;

pub use kv_api::Endpoint;

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

/// A node as the clients reach it: a bundled store's, or a configured one's.
#[derive(Debug, Clone)]
pub enum NodeClient {
    /// A bundled store's node, through the HTTP/JSON contract of `targets/`.
    Bundled(Endpoint),
    /// A configured store's node at a base URL, by its config.
    Configured(std::sync::Arc<crate::target_config::TargetConfig>, String),
}

impl NodeClient {
    /// Sends `op` to the node and classifies the outcome.
    pub async fn invoke(&self, client: &reqwest::Client, op: &Op) -> Completion {
        match self {
            NodeClient::Bundled(endpoint) => kv_api::invoke(client, endpoint, op).await,
            NodeClient::Configured(config, base) => {
                configured::invoke(client, config, base, op).await
            }
        }
    }
}
