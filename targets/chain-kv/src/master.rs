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
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

struct Master {
    known: Vec<String>,
    config: ChainConfig,
    last_seen: HashMap<String, Instant>,
    /// Members whose last heartbeat said they hold their predecessor's state:
    /// each of them holds every committed update.
    current: HashSet<String>,
}

impl Master {
    fn new(known: Vec<String>, now: Instant) -> Self {
        Master {
            config: ChainConfig {
                epoch: 1,
                chain: known.clone(),
                joined: known.iter().map(|id| (id.clone(), 1)).collect(),
            },
            // Every node gets one failure timeout to report in.
            last_seen: known.iter().map(|id| (id.clone(), now)).collect(),
            // The first head starts with the (empty) state everyone else copies.
            current: known.first().cloned().into_iter().collect(),
            known,
        }
    }

    /// Removes the `silent` members, except that the chain keeps its first
    /// current member if no current member would be left: committed updates
    /// may live nowhere else (on its disk), so the chain waits for it rather
    /// than let a stale node take over. Returns what was removed.
    fn remove_silent(&mut self, silent: &HashSet<String>) -> Vec<String> {
        let chain = &self.config.chain;
        let current_alive = chain
            .iter()
            .any(|id| !silent.contains(id) && self.current.contains(id));
        let keep = if current_alive {
            None
        } else {
            chain
                .iter()
                .find(|id| self.current.contains(*id))
                .or(chain.first())
                .cloned()
        };
        let (alive, removed): (Vec<String>, Vec<String>) = chain
            .iter()
            .cloned()
            .partition(|id| !silent.contains(id) || keep.as_ref() == Some(id));
        if !removed.is_empty() {
            self.config.epoch += 1;
            self.config.joined.retain(|id, _| alive.contains(id));
            self.config.chain = alive;
        }
        removed
    }

    /// Takes a heartbeat into account: node `id` holds the configuration of
    /// `epoch` and says whether it waits for a snapshot. A node that is back
    /// joins at the tail; a member waiting for a snapshot moves behind every
    /// current member, so that the chain is always current members first; its
    /// predecessor brings it up to date before it serves reads. Returns whether
    /// the chain changed.
    fn report(&mut self, id: &str, epoch: u64, joining: bool) -> bool {
        let Some(&joined) = self.config.joined.get(id) else {
            // Not a member: whatever it holds, it starts again at the tail.
            self.current.remove(id);
            self.append(id);
            return true;
        };
        if epoch < joined {
            // It has not seen its own (re)joining yet: it restarted (a restarted
            // node starts from nothing) faster than it was missed. Whatever it
            // had caught up to, it must catch up again before anyone counts on
            // it: were its predecessor to go, it must not be left at the head
            // of the chain waiting for a snapshot nobody will send.
            self.current.remove(id);
            return false;
        }
        if joining {
            self.current.remove(id);
        } else {
            self.current.insert(id.to_string());
        }
        let chain = &self.config.chain;
        let position = chain.iter().position(|member| member == id);
        let behind_current = position.is_some_and(|position| {
            joining
                && chain[position + 1..]
                    .iter()
                    .any(|member| self.current.contains(member))
        });
        if !behind_current {
            return false;
        }
        self.append(id);
        true
    }

    /// Puts `id` at the tail as a newly (re)joined member.
    fn append(&mut self, id: &str) {
        self.config.chain.retain(|member| member != id);
        self.config.epoch += 1;
        let epoch = self.config.epoch;
        self.config.joined.insert(id.to_string(), epoch);
        self.config.chain.push(id.to_string());
    }
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
    let master = Arc::new(Mutex::new(Master::new(config.replicas(), Instant::now())));
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
        let silent: HashSet<String> = master
            .config
            .chain
            .iter()
            .filter(|id| {
                master
                    .last_seen
                    .get(*id)
                    .is_none_or(|seen| now - *seen >= FAILURE_TIMEOUT)
            })
            .cloned()
            .collect();
        let removed = master.remove_silent(&silent);
        if !removed.is_empty() {
            eprintln!(
                "master: removed {removed:?}, leaving {:?}",
                master.config.chain
            );
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
    let before = master.config.chain.clone();
    if master.report(&heartbeat.id, heartbeat.epoch, heartbeat.joining) {
        eprintln!("master: {} joins at the tail of {before:?}", heartbeat.id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn master(chain: &[&str], current: &[&str]) -> Master {
        let mut master = Master::new(
            chain.iter().map(|id| id.to_string()).collect(),
            Instant::now(),
        );
        master.current = current.iter().map(|id| id.to_string()).collect();
        master
    }

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn silent_members_go_while_a_current_one_stays() {
        let mut master = master(&["n1", "n2", "n3"], &["n1", "n2", "n3"]);
        assert_eq!(master.remove_silent(&set(&["n1", "n3"])), ["n1", "n3"]);
        assert_eq!(master.config.chain, ["n2"]);
        assert_eq!(master.config.epoch, 2);
        assert!(master.remove_silent(&set(&[])).is_empty());
        assert_eq!(master.config.epoch, 2);
    }

    #[test]
    fn the_last_current_member_is_kept_even_when_silent() {
        let mut master = master(&["n1", "n2", "n3"], &["n1", "n2"]);
        assert_eq!(
            master.remove_silent(&set(&["n1", "n2", "n3"])),
            ["n2", "n3"]
        );
        assert_eq!(master.config.chain, ["n1"]);
        // A joining node alive does not hold everything committed.
        let mut master = master_with_joining_tail();
        assert_eq!(master.remove_silent(&set(&["n1"])), Vec::<String>::new());
        assert_eq!(master.config.chain, ["n1", "n2"]);
    }

    fn master_with_joining_tail() -> Master {
        master(&["n1", "n2"], &["n1"])
    }

    #[test]
    fn a_node_that_is_back_joins_at_the_tail_and_is_not_current_there() {
        let mut master = master(&["n1"], &["n1", "n2"]);
        // A node cut off since before its removal still believes it is current.
        assert!(master.report("n2", 7, false));
        assert_eq!(master.config.chain, ["n1", "n2"]);
        assert_eq!(master.config.joined["n2"], master.config.epoch);
        assert!(!master.current.contains("n2"));
        // Until it has seen that configuration, what it says is old news.
        assert!(!master.report("n2", 1, false));
        assert!(!master.current.contains("n2"));
        let epoch = master.config.epoch;
        assert!(!master.report("n2", epoch, true));
        assert!(!master.report("n2", epoch, false));
        assert!(master.current.contains("n2"));
    }

    #[test]
    fn a_restarted_member_moves_behind_the_current_ones_once_it_says_so() {
        let mut master = master(&["n1", "n2", "n3"], &["n1", "n2", "n3"]);
        // Restarted, it holds no configuration yet.
        assert!(!master.report("n1", 0, true));
        assert_eq!(master.config.chain, ["n1", "n2", "n3"]);
        assert!(master.report("n1", 1, true));
        assert_eq!(master.config.chain, ["n2", "n3", "n1"]);
        assert!(!master.current.contains("n1"));
        // Behind only joining members, it stays where it is.
        let mut master = master_with_joining_tail();
        assert!(!master.report("n1", 1, true));
        assert_eq!(master.config.chain, ["n1", "n2"]);
    }
}
