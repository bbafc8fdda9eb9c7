//! A chain node: the client API, the chain protocol, heartbeats and the
//! forwarder that passes updates to the successor.

use crate::wire::{
    Batch, BatchReply, ChainConfig, Heartbeat, HeartbeatReply, LogRecord, Snapshot, Status, Update,
};
use crate::{Bug, HEARTBEAT_INTERVAL, LEASE, NodeConfig, peer_client};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kv_api::{ApiError, ErrorCode};
use node_kit::wal::{Durability, Wal};
use node_kit::{clock, http};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// How long a client write waits for the chain's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// Marks a request another node forwarded, so it is never forwarded twice.
const FORWARDED: &str = "x-chain-forwarded";
/// Most updates in one batch.
const BATCH_LIMIT: usize = 512;

/// The replicated state and this node's view of the chain.
struct Replica {
    config: ChainConfig,
    /// Set when this node (re)joined the chain: its state may be stale or may
    /// have diverged, so it asks for a snapshot to replace it.
    joining: bool,
    /// Whether, as the tail, this node holds everything committed and may serve
    /// reads.
    caught_up: bool,
    last_seq: u64,
    data: HashMap<String, Value>,
    /// Updates logged here, not yet acknowledged by the rest of the chain.
    sent: VecDeque<Update>,
    /// The `read-from-head` bug's copy of the state.
    read_cache: HashMap<String, Value>,
}

struct Lease {
    /// When the last heartbeat that the master answered was sent.
    contact: Option<Instant>,
    /// The master's wall-clock deadline (used only by `lease-reads`).
    wall_until_ms: u64,
}

struct Node {
    id: String,
    peers: BTreeMap<String, String>,
    bug: Option<Bug>,
    client: reqwest::Client,
    wal: Wal,
    replica: Mutex<Replica>,
    /// The last update the chain below this node has acknowledged.
    acked: watch::Sender<u64>,
    /// Wakes the forwarder: new updates, or a new configuration.
    wake: Notify,
    lease: Mutex<Lease>,
}

type Shared = Arc<Node>;

/// Runs a chain node on `listener` until `shutdown`.
///
/// # Errors
/// Opening the log, or the server's error.
pub async fn run_replica(
    config: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let durability = if config.bug == Some(Bug::NoFsync) {
        Durability::Buffered
    } else {
        Durability::Sync
    };
    let (wal, records) = Wal::open(&config.data_dir.join("chain.wal"), durability)?;
    let mut replica = Replica {
        config: ChainConfig::default(),
        joining: true,
        caught_up: false,
        last_seq: 0,
        data: HashMap::new(),
        sent: VecDeque::new(),
        read_cache: HashMap::new(),
    };
    for record in records {
        match serde_json::from_slice::<LogRecord>(&record) {
            Ok(LogRecord::Update(update)) => {
                replica.last_seq = update.seq;
                replica.data.insert(update.key, update.value);
            }
            Ok(LogRecord::Snapshot(snapshot)) => {
                replica.last_seq = snapshot.seq;
                replica.data = snapshot.data.into_iter().collect();
            }
            Err(error) => eprintln!("{}: skipping an unreadable log record: {error}", config.id),
        }
    }
    eprintln!(
        "{}: recovered {} keys up to update {}",
        config.id,
        replica.data.len(),
        replica.last_seq
    );
    let (acked, _) = watch::channel(replica.last_seq);
    let node = Arc::new(Node {
        id: config.id.clone(),
        peers: config.peers.clone(),
        bug: config.bug,
        client: peer_client(),
        wal,
        replica: Mutex::new(replica),
        acked,
        wake: Notify::new(),
        lease: Mutex::new(Lease {
            contact: None,
            wall_until_ms: 0,
        }),
    });
    let mut tasks = node_kit::Tasks::default();
    tasks.spawn(heartbeats(node.clone()));
    tasks.spawn(forward(node.clone()));
    if node.bug == Some(Bug::ReadFromHead) {
        tasks.spawn(refresh_read_cache(node.clone()));
    }
    let router = Router::new()
        .route("/kv/{key}", get(read).put(write))
        .route("/kv/{key}/cas", post(cas))
        .route("/chain/batch", post(batch))
        .route("/chain/status", get(status))
        .route(
            "/health",
            get(|| async { http::json(200, &serde_json::json!({"ok": true})) }),
        )
        .with_state(node);
    let served = http::serve(listener, router, shutdown).await;
    drop(tasks);
    served
}

impl Node {
    fn lock(&self) -> std::sync::MutexGuard<'_, Replica> {
        self.replica.lock().expect("replica lock")
    }

    /// Whether the master answered recently enough for this node to serve.
    fn lease_valid(&self) -> bool {
        let lease = self.lease.lock().expect("lease lock");
        lease
            .contact
            .is_some_and(|contact| contact.elapsed() < LEASE)
    }

    /// The tail's check before a read. Correct nodes time the lease on their
    /// monotonic clock; `lease-reads` trusts the wall clock.
    fn read_lease_valid(&self) -> bool {
        if self.bug == Some(Bug::LeaseReads) {
            clock::wall_millis() < self.lease.lock().expect("lease lock").wall_until_ms
        } else {
            self.lease_valid()
        }
    }

    /// Adopts a newer configuration.
    fn adopt(&self, replica: &mut Replica, config: ChainConfig) {
        if config.epoch <= replica.config.epoch {
            return;
        }
        let was_member = replica.config.contains(&self.id);
        let member = config.contains(&self.id);
        if member
            && (!was_member
                || config
                    .joined
                    .get(&self.id)
                    .is_some_and(|&epoch| epoch > replica.config.epoch))
        {
            // (Re)joining: whatever this node holds may be stale or divergent,
            // unless it is the head and nobody is ahead of it.
            let head = config.head() == Some(self.id.as_str());
            replica.joining = !head;
            replica.caught_up = head;
            replica.sent.clear();
        }
        replica.config = config;
        self.wake.notify_one();
    }

    fn raise_acked(&self, seq: u64) {
        self.acked.send_if_modified(|acked| {
            let raised = seq > *acked;
            *acked = (*acked).max(seq);
            raised
        });
    }

    async fn wait_acked(&self, seq: u64, timeout: Duration) -> bool {
        let mut acked = self.acked.subscribe();
        tokio::time::timeout(timeout, acked.wait_for(|acked| *acked >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}

fn unavailable(message: impl Into<String>) -> Response {
    http::error(&ApiError::new(ErrorCode::Unavailable, message))
}

/// Sends a client request on to `target` and relays its answer. A request that
/// never reached it failed; one that may have is indeterminate.
async fn forward_to(
    node: &Node,
    target: &str,
    method: Method,
    path: &str,
    body: Bytes,
) -> Response {
    let Some(address) = node.peers.get(target) else {
        return unavailable(format!("no address for {target}"));
    };
    let request = node
        .client
        .request(method, format!("http://{address}{path}"))
        .header(FORWARDED, node.id.as_str())
        .header("content-type", "application/json")
        .body(body);
    match request.send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], body).into_response()
        }
        Err(error) if error.is_connect() => {
            unavailable(format!("{target} is unreachable: {error}"))
        }
        Err(error) => http::error(&ApiError::new(
            ErrorCode::Timeout,
            format!("forwarding to {target}: {error}"),
        )),
    }
}

async fn read(State(node): State<Shared>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    let (server, answer) = {
        let replica = node.lock();
        if node.bug == Some(Bug::ReadFromHead) {
            let head = replica.config.head().map(str::to_string);
            let answer = (head.as_deref() == Some(node.id.as_str()) && node.lease_valid())
                .then(|| replica.read_cache.get(&key).cloned().unwrap_or(Value::Null));
            (head, answer)
        } else {
            let tail = replica.config.tail().map(str::to_string);
            let serving = tail.as_deref() == Some(node.id.as_str())
                && replica.caught_up
                && node.read_lease_valid();
            (
                tail,
                serving.then(|| replica.data.get(&key).cloned().unwrap_or(Value::Null)),
            )
        }
    };
    if let Some(value) = answer {
        return http::json(200, &kv_api::ValueBody { value });
    }
    match server {
        Some(server) if server != node.id && !headers.contains_key(FORWARDED) => {
            forward_to(
                &node,
                &server,
                Method::GET,
                &format!("/kv/{key}"),
                Bytes::new(),
            )
            .await
        }
        _ => unavailable(format!(
            "{} cannot serve reads now (no lease, catching up, or not in the chain)",
            node.id
        )),
    }
}

async fn write(
    State(node): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    match kv_api::parse_value_body(&body) {
        Ok(value) => update(&node, key, None, value, &headers, Method::PUT, body).await,
        Err(error) => http::error(&error),
    }
}

async fn cas(
    State(node): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    match kv_api::parse_cas_body(&body) {
        Ok(cas) => {
            update(
                &node,
                key,
                Some(cas.from),
                cas.to,
                &headers,
                Method::POST,
                body,
            )
            .await
        }
        Err(error) => http::error(&error),
    }
}

/// A write (`expected` = `None`) or a cas, at the head: order it, log it, pass it
/// down, answer once the tail has it.
async fn update(
    node: &Node,
    key: String,
    expected: Option<Value>,
    value: Value,
    headers: &HeaderMap,
    method: Method,
    body: Bytes,
) -> Response {
    let ordered = {
        let mut replica = node.lock();
        let head = replica.config.head().map(str::to_string);
        if head.as_deref() != Some(node.id.as_str()) || replica.joining || !node.lease_valid() {
            Err(head)
        } else if let Some(expected) =
            expected.filter(|expected| replica.data.get(&key).unwrap_or(&Value::Null) != expected)
        {
            // The head's state holds every ordered update, so a failed compare
            // changes nothing and is answered at once.
            let holds = replica.data.get(&key).cloned().unwrap_or(Value::Null);
            return http::error(&ApiError::new(
                ErrorCode::PreconditionFailed,
                format!("expected {expected}, but {key} holds {holds}"),
            ));
        } else {
            replica.last_seq += 1;
            let update = Update {
                seq: replica.last_seq,
                key: key.clone(),
                value: value.clone(),
            };
            replica.data.insert(key.clone(), value);
            let is_tail = replica.config.tail() == Some(node.id.as_str());
            if !is_tail {
                replica.sent.push_back(update.clone());
            }
            let record =
                serde_json::to_vec(&LogRecord::Update(update.clone())).expect("records serialize");
            Ok((update.seq, node.wal.submit(vec![record]), is_tail))
        }
    };
    let (seq, logged, is_tail) = match ordered {
        Ok(ordered) => ordered,
        Err(Some(head)) if head != node.id && !headers.contains_key(FORWARDED) => {
            let path = if method == Method::PUT {
                format!("/kv/{key}")
            } else {
                format!("/kv/{key}/cas")
            };
            return forward_to(node, &head, method, &path, body).await;
        }
        Err(_) => return unavailable(format!("{} is not the head, or holds no lease", node.id)),
    };
    node.wake.notify_one();
    if let Err(error) = logged.wait().await {
        return http::error(&ApiError::new(
            ErrorCode::Internal,
            format!("logging failed: {error}"),
        ));
    }
    if is_tail {
        node.raise_acked(seq);
    }
    if node.bug != Some(Bug::AckBeforeTail) && !node.wait_acked(seq, ACK_TIMEOUT).await {
        return http::error(&ApiError::new(
            ErrorCode::Timeout,
            "the chain did not acknowledge in time",
        ));
    }
    http::json(200, &serde_json::json!({"ok": true}))
}

/// Updates (or a snapshot) from the predecessor.
async fn batch(State(node): State<Shared>, body: Bytes) -> Response {
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(error) => {
            return http::error(&ApiError::new(
                ErrorCode::MalformedRequest,
                error.to_string(),
            ));
        }
    };
    let (target, logged, is_tail) = {
        let mut replica = node.lock();
        node.adopt(&mut replica, batch.config.clone());
        if batch.config.epoch < replica.config.epoch
            || replica.config.predecessor(&node.id) != Some(batch.from.as_str())
        {
            return unavailable(format!(
                "{} is not {}'s successor in epoch {}",
                node.id, batch.from, replica.config.epoch
            ));
        }
        let is_tail = replica.config.tail() == Some(node.id.as_str());
        let mut records = Vec::new();
        if let Some(snapshot) = batch.snapshot {
            // Nothing below this node is known to hold the snapshot yet: what it
            // acknowledged before no longer counts (a tail raises it again once
            // the snapshot is on disk; a middle node when its successor answers).
            node.acked.send_replace(0);
            replica.last_seq = snapshot.seq;
            replica.data = snapshot.data.clone().into_iter().collect();
            replica.sent.clear();
            replica.joining = false;
            records.push(
                serde_json::to_vec(&LogRecord::Snapshot(snapshot)).expect("records serialize"),
            );
        }
        if !replica.joining {
            for update in batch.updates {
                if update.seq <= replica.last_seq {
                    continue;
                }
                if update.seq != replica.last_seq + 1 {
                    break;
                }
                replica.last_seq = update.seq;
                replica
                    .data
                    .insert(update.key.clone(), update.value.clone());
                if !is_tail {
                    replica.sent.push_back(update.clone());
                }
                records.push(
                    serde_json::to_vec(&LogRecord::Update(update)).expect("records serialize"),
                );
            }
            if batch.sender_last_seq <= replica.last_seq {
                replica.caught_up = true;
            }
        }
        (replica.last_seq, node.wal.submit(records), is_tail)
    };
    node.wake.notify_one();
    if let Err(error) = logged.wait().await {
        return http::error(&ApiError::new(
            ErrorCode::Internal,
            format!("logging failed: {error}"),
        ));
    }
    if is_tail {
        node.raise_acked(target);
    } else {
        node.wait_acked(target, Duration::from_secs(1)).await;
    }
    let joining = node.lock().joining;
    let reply = BatchReply {
        last_seq: target,
        needs_snapshot: joining,
        // A joining node vouches for nothing until its snapshot is installed.
        acked_seq: if joining { 0 } else { *node.acked.borrow() },
    };
    http::json(200, &reply)
}

async fn status(State(node): State<Shared>) -> Response {
    let replica = node.lock();
    http::json(
        200,
        &Status {
            id: node.id.clone(),
            last_seq: replica.last_seq,
            needs_snapshot: replica.joining,
            config: replica.config.clone(),
        },
    )
}

/// Heartbeats to the master, which answer with the configuration and renew the
/// lease. The lease counts from when the heartbeat was sent, which is no later
/// than when the master saw it.
async fn heartbeats(node: Shared) {
    let Some(master) = node.peers.get("master").cloned() else {
        eprintln!("{}: no master address; not serving", node.id);
        return;
    };
    loop {
        let sent = Instant::now();
        let (last_seq, epoch, joining) = {
            let replica = node.lock();
            (replica.last_seq, replica.config.epoch, replica.joining)
        };
        let reply = node
            .client
            .post(format!("http://{master}/master/heartbeat"))
            .timeout(Duration::from_millis(300))
            .json(&Heartbeat {
                id: node.id.clone(),
                last_seq,
                epoch,
                joining,
            })
            .send()
            .await;
        if let Ok(reply) = reply
            && reply.status().is_success()
            && let Ok(reply) = reply.json::<HeartbeatReply>().await
        {
            {
                let mut lease = node.lease.lock().expect("lease lock");
                lease.contact = Some(sent);
                lease.wall_until_ms = reply.lease_until_ms;
            }
            let mut replica = node.lock();
            node.adopt(&mut replica, reply.config);
        }
        tokio::time::sleep_until(sent + HEARTBEAT_INTERVAL).await;
    }
}

/// What the forwarder knows of its successor.
struct Successor {
    id: String,
    epoch: u64,
    /// Its last logged update, once asked.
    last_seq: Option<u64>,
    /// Whether it asked for a snapshot.
    needs_snapshot: bool,
    /// Whether it has had a batch in this epoch (a joining tail learns from one
    /// that it has caught up).
    greeted: bool,
    /// When it last answered.
    heard: Instant,
}

/// How long an idle forwarder trusts what it knows of its successor: one that
/// crashed and restarted faster than the master noticed is back in the same
/// epoch, empty-handed and asking for a snapshot, and with no new update to
/// send nothing else would tell.
const RECHECK_AFTER: Duration = Duration::from_millis(250);

/// Passes logged updates to the successor in order, a batch at a time, and
/// raises `acked` with its answers. As the tail, everything logged is committed.
async fn forward(node: Shared) {
    let mut successor: Option<Successor> = None;
    loop {
        let (config, successor_id, is_tail, last_seq) = {
            let replica = node.lock();
            // A node still waiting for its own snapshot has nothing trustworthy
            // to pass on: a snapshot of its stale state would let its successor
            // serve reads that miss committed writes.
            let successor_id = if replica.joining {
                None
            } else {
                replica.config.successor(&node.id).map(str::to_string)
            };
            let is_tail = !replica.joining && replica.config.tail() == Some(node.id.as_str());
            (
                replica.config.clone(),
                successor_id,
                is_tail,
                replica.last_seq,
            )
        };
        let Some(successor_id) = successor_id else {
            successor = None;
            if is_tail && *node.acked.borrow() < last_seq {
                // Newly the tail: what this node logged is now committed, once
                // it is on disk (an empty append waits for earlier ones).
                if node.wal.append(Vec::new()).await.is_ok() {
                    node.lock().sent.clear();
                    node.raise_acked(last_seq);
                }
                continue;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), node.wake.notified()).await;
            continue;
        };
        if successor
            .as_ref()
            .is_none_or(|known| known.id != successor_id || known.epoch != config.epoch)
        {
            successor = Some(Successor {
                id: successor_id.clone(),
                epoch: config.epoch,
                last_seq: None,
                needs_snapshot: false,
                greeted: false,
                heard: Instant::now(),
            });
        }
        let known = successor.as_mut().expect("set above");
        let address = node.peers.get(&successor_id).cloned().unwrap_or_default();
        let Some(successor_last) = known.last_seq else {
            match node
                .client
                .get(format!("http://{address}/chain/status"))
                .send()
                .await
            {
                Ok(reply) if reply.status().is_success() => {
                    if let Ok(status) = reply.json::<Status>().await {
                        known.last_seq = Some(status.last_seq);
                        known.needs_snapshot = status.needs_snapshot;
                        known.heard = Instant::now();
                    }
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        };
        let batch = {
            let replica = node.lock();
            let covered = replica
                .sent
                .front()
                .is_none_or(|first| first.seq <= successor_last + 1);
            if known.needs_snapshot || (successor_last < replica.last_seq && !covered) {
                Some(Batch {
                    config: config.clone(),
                    from: node.id.clone(),
                    sender_last_seq: replica.last_seq,
                    snapshot: Some(Snapshot {
                        seq: replica.last_seq,
                        data: replica
                            .data
                            .iter()
                            .map(|(key, value)| (key.clone(), value.clone()))
                            .collect(),
                    }),
                    updates: Vec::new(),
                })
            } else if successor_last < replica.last_seq || !known.greeted {
                Some(Batch {
                    config: config.clone(),
                    from: node.id.clone(),
                    sender_last_seq: replica.last_seq,
                    snapshot: None,
                    updates: replica
                        .sent
                        .iter()
                        .filter(|update| update.seq > successor_last)
                        .take(BATCH_LIMIT)
                        .cloned()
                        .collect(),
                })
            } else {
                None
            }
        };
        let Some(batch) = batch else {
            if known.heard.elapsed() > RECHECK_AFTER {
                known.last_seq = None;
                continue;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), node.wake.notified()).await;
            continue;
        };
        let sent = node
            .client
            .post(format!("http://{address}/chain/batch"))
            .json(&batch)
            .send()
            .await;
        match sent {
            Ok(reply) if reply.status().is_success() => match reply.json::<BatchReply>().await {
                Ok(reply) => {
                    known.last_seq = Some(reply.last_seq);
                    known.needs_snapshot = reply.needs_snapshot;
                    known.greeted = true;
                    known.heard = Instant::now();
                    if !reply.needs_snapshot {
                        let acked = reply.acked_seq.min(reply.last_seq);
                        node.lock().sent.retain(|update| update.seq > acked);
                        node.raise_acked(acked);
                    }
                }
                Err(_) => known.last_seq = None,
            },
            _ => {
                known.last_seq = None;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The `read-from-head` bug: the head's copy of its state, refreshed every 10 ms.
async fn refresh_read_cache(node: Shared) {
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut replica = node.lock();
        replica.read_cache = replica.data.clone();
    }
}
