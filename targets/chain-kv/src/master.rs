//! The configuration master: failure detection by heartbeats, and the chain.
//!
//! As in the paper, the master is assumed not to fail (there it is replicated
//! with Paxos); faults are injected into the chain's nodes.

use crate::wire::{ChainConfig, Heartbeat, HeartbeatReply};
use crate::{FAILURE_TIMEOUT, LEASE, NodeConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use kv_api::{ApiError, ErrorCode};
use node_kit::{clock, http};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

struct Master {
    known: Vec<String>,
    config: ChainConfig,
    last_seen: HashMap<String, Instant>,
}

type Shared = Arc<Mutex<Master>>;

/// Runs the master on `listener` until `shutdown`.
///
/// # Errors
/// The server's error.
pub async fn run_master(
    config: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let known = config.replicas();
    let now = Instant::now();
    let master = Arc::new(Mutex::new(Master {
        config: ChainConfig {
            epoch: 1,
            chain: known.clone(),
            joined: known.iter().map(|id| (id.clone(), 1)).collect(),
        },
        // Every node gets one failure timeout to report in.
        last_seen: known.iter().map(|id| (id.clone(), now)).collect(),
        known,
    }));
    let mut tasks = node_kit::Tasks::default();
    tasks.spawn(detect_failures(master.clone()));
    let router = Router::new()
        .route("/master/heartbeat", post(heartbeat))
        .route("/master/config", get(current))
        .route(
            "/health",
            get(|| async { http::json(200, &serde_json::json!({"ok": true})) }),
        )
        .with_state(master);
    let served = http::serve(listener, router, shutdown).await;
    drop(tasks);
    served
}

/// Removes members silent for longer than the failure timeout.
async fn detect_failures(master: Shared) {
    loop {
        tokio::time::sleep(crate::HEARTBEAT_INTERVAL).await;
        let mut master = master.lock().expect("master lock");
        let now = Instant::now();
        let alive: Vec<String> = master
            .config
            .chain
            .iter()
            .filter(|id| {
                master
                    .last_seen
                    .get(*id)
                    .is_some_and(|seen| now - *seen < FAILURE_TIMEOUT)
            })
            .cloned()
            .collect();
        if alive.len() != master.config.chain.len() {
            eprintln!(
                "master: removing {:?} from {:?}",
                master
                    .config
                    .chain
                    .iter()
                    .filter(|id| !alive.contains(id))
                    .collect::<Vec<_>>(),
                master.config.chain
            );
            master.config.epoch += 1;
            master.config.joined.retain(|id, _| alive.contains(id));
            master.config.chain = alive;
        }
    }
}

async fn heartbeat(State(master): State<Shared>, body: Bytes) -> Response {
    let heartbeat: Heartbeat = match serde_json::from_slice(&body) {
        Ok(heartbeat) => heartbeat,
        Err(error) => {
            return http::error(&ApiError::new(
                ErrorCode::MalformedRequest,
                error.to_string(),
            ));
        }
    };
    let mut master = master.lock().expect("master lock");
    if !master.known.contains(&heartbeat.id) {
        return http::error(&ApiError::new(
            ErrorCode::NotFound,
            format!("unknown node {}", heartbeat.id),
        ));
    }
    master
        .last_seen
        .insert(heartbeat.id.clone(), Instant::now());
    if !master.config.contains(&heartbeat.id) {
        // A node that is back joins at the tail; its predecessor brings it up
        // to date before it serves reads.
        eprintln!(
            "master: {} joins at the tail of {:?}",
            heartbeat.id, master.config.chain
        );
        master.config.epoch += 1;
        let epoch = master.config.epoch;
        master.config.joined.insert(heartbeat.id.clone(), epoch);
        master.config.chain.push(heartbeat.id);
    }
    http::json(
        200,
        &HeartbeatReply {
            config: master.config.clone(),
            lease_until_ms: clock::wall_millis() + LEASE.as_millis() as u64,
        },
    )
}

async fn current(State(master): State<Shared>) -> Response {
    http::json(200, &master.lock().expect("master lock").config)
}
