//! A twopc-kv node: participant for its shard, coordinator for its clients.

use crate::wire::{Decision, Op, Prepare, Record, Vote};
use crate::{Bug, NodeConfig, shard_of};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use kv_api::{ApiError, ErrorCode, MicroOp};
use node_kit::wal::{Durability, Wal};
use node_kit::{clock, http};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a coordinator waits for a vote.
const VOTE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a prepared participant waits before asking the coordinator.
const DOUBT_AFTER: Duration = Duration::from_millis(1500);

/// What a prepare found: reads by position, keys read, values to write.
type Evaluated = (Vec<(usize, Value)>, Vec<String>, Vec<(String, Value)>);

#[derive(Default)]
struct Lock {
    writer: Option<String>,
    readers: HashSet<String>,
}

struct Prepared {
    coordinator: String,
    reads: Vec<String>,
    writes: Vec<(String, Value)>,
    since: Instant,
}

#[derive(Default)]
struct Participant {
    data: HashMap<String, Value>,
    locks: HashMap<String, Lock>,
    prepared: HashMap<String, Prepared>,
}

struct Node {
    id: String,
    nodes: Vec<String>,
    peers: BTreeMap<String, String>,
    bug: Option<Bug>,
    client: reqwest::Client,
    wal: Wal,
    participant: Mutex<Participant>,
    /// This coordinator's decisions, and the transactions it is running.
    decisions: Mutex<HashMap<String, Decision>>,
    /// Makes transaction ids unique across restarts.
    boot: u64,
    counter: AtomicU64,
}

type Shared = Arc<Node>;

/// Runs a node on `listener` until `shutdown`.
///
/// # Errors
/// Opening the log, or the server's error.
pub async fn run_node(
    config: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let (wal, records) = Wal::open(&config.data_dir.join("twopc.wal"), Durability::Sync)?;
    let mut participant = Participant::default();
    let mut decisions = HashMap::new();
    for record in records {
        match serde_json::from_slice::<Record>(&record) {
            Ok(Record::Prepared {
                tx,
                coordinator,
                reads,
                writes,
            }) => {
                participant.prepared.insert(
                    tx,
                    Prepared {
                        coordinator,
                        reads,
                        writes,
                        since: Instant::now(),
                    },
                );
            }
            Ok(Record::Committed { tx, writes }) => {
                participant.prepared.remove(&tx);
                participant.data.extend(writes);
            }
            Ok(Record::Aborted { tx }) => {
                participant.prepared.remove(&tx);
            }
            Ok(Record::Decided { tx, commit }) => {
                decisions.insert(
                    tx,
                    if commit {
                        Decision::Commit
                    } else {
                        Decision::Abort
                    },
                );
            }
            Err(error) => eprintln!("{}: skipping an unreadable log record: {error}", config.id),
        }
    }
    // Transactions prepared but undecided are in doubt: they keep their locks.
    let in_doubt: Vec<(String, Vec<String>, Vec<String>)> = participant
        .prepared
        .iter()
        .map(|(tx, prepared)| {
            (
                tx.clone(),
                prepared.reads.clone(),
                prepared.writes.iter().map(|(key, _)| key.clone()).collect(),
            )
        })
        .collect();
    for (tx, reads, writes) in in_doubt {
        for key in reads {
            participant
                .locks
                .entry(key)
                .or_default()
                .readers
                .insert(tx.clone());
        }
        for key in writes {
            participant.locks.entry(key).or_default().writer = Some(tx.clone());
        }
    }
    eprintln!(
        "{}: recovered {} keys, {} transactions in doubt, {} decisions",
        config.id,
        participant.data.len(),
        participant.prepared.len(),
        decisions.len()
    );
    let node = Arc::new(Node {
        id: config.id.clone(),
        nodes: config.peers.keys().cloned().collect(),
        peers: config.peers,
        bug: config.bug,
        client: reqwest::Client::builder()
            .timeout(VOTE_TIMEOUT)
            .connect_timeout(Duration::from_millis(500))
            .pool_max_idle_per_host(64)
            // Peers are reached directly, whatever proxy the environment names.
            .no_proxy()
            .build()
            .expect("a plain HTTP client builds"),
        wal,
        participant: Mutex::new(participant),
        decisions: Mutex::new(decisions),
        boot: clock::wall_millis(),
        counter: AtomicU64::new(0),
    });
    let mut tasks = node_kit::Tasks::default();
    tasks.spawn(resolve_doubts(node.clone()));
    let router = Router::new()
        .route("/kv/{key}", get(read).put(write))
        .route("/kv/{key}/cas", post(cas))
        .route("/txn", post(txn))
        .route("/2pc/prepare", post(prepare))
        .route("/2pc/commit/{tx}", post(commit))
        .route("/2pc/abort/{tx}", post(abort))
        .route("/2pc/decision/{tx}", get(decision))
        .route(
            "/health",
            get(|| async { http::json(200, &json!({"ok": true})) }),
        )
        .with_state(node);
    let served = http::serve(listener, router, shutdown).await;
    drop(tasks);
    served
}

fn record(record: &Record) -> Vec<u8> {
    serde_json::to_vec(record).expect("records serialize")
}

impl Node {
    fn lock(&self) -> std::sync::MutexGuard<'_, Participant> {
        self.participant.lock().expect("participant lock")
    }

    /// Phase one on this participant: lock, evaluate, log, vote.
    async fn prepare(&self, request: Prepare) -> Vote {
        let (vote, logged) = {
            let mut participant = self.lock();
            match self.evaluate(&mut participant, &request) {
                Err(reason) => {
                    release(&mut participant, &request.tx);
                    (
                        Vote {
                            yes: false,
                            reason: Some(reason),
                            reads: Vec::new(),
                        },
                        None,
                    )
                }
                Ok((reads, read_keys, writes)) => {
                    let entry = Record::Prepared {
                        tx: request.tx.clone(),
                        coordinator: request.coordinator.clone(),
                        reads: read_keys.clone(),
                        writes: writes.clone(),
                    };
                    participant.prepared.insert(
                        request.tx.clone(),
                        Prepared {
                            coordinator: request.coordinator,
                            reads: read_keys,
                            writes,
                            since: Instant::now(),
                        },
                    );
                    // The `no-durable-prepare` bug keeps the prepare in memory only.
                    let logged = (self.bug != Some(Bug::NoDurablePrepare))
                        .then(|| self.wal.submit(vec![record(&entry)]));
                    (
                        Vote {
                            yes: true,
                            reason: None,
                            reads,
                        },
                        logged,
                    )
                }
            }
        };
        if let Some(logged) = logged
            && logged.wait().await.is_err()
        {
            return Vote {
                yes: false,
                reason: Some("logging failed".to_string()),
                reads: Vec::new(),
            };
        }
        vote
    }

    /// Takes the locks and computes reads and final values, in operation order,
    /// so that a transaction sees its own earlier writes.
    fn evaluate(
        &self,
        participant: &mut Participant,
        request: &Prepare,
    ) -> Result<Evaluated, String> {
        let tx = &request.tx;
        let mut overlay: BTreeMap<String, Value> = BTreeMap::new();
        let mut reads = Vec::new();
        let mut read_keys = Vec::new();
        for (position, op) in &request.ops {
            let key = op.key().to_string();
            let exclusive = !matches!(op, Op::Read(_));
            let lock = participant.locks.entry(key.clone()).or_default();
            let locks_reads = !matches!(self.bug, Some(Bug::UnlockedReads | Bug::ReadUncommitted));
            if exclusive {
                let others_read = lock.readers.iter().any(|reader| reader != tx);
                if lock.writer.as_ref().is_some_and(|writer| writer != tx) || others_read {
                    return Err("conflict".to_string());
                }
                lock.writer = Some(tx.clone());
            } else if locks_reads {
                if lock.writer.as_ref().is_some_and(|writer| writer != tx) {
                    return Err("conflict".to_string());
                }
                lock.readers.insert(tx.clone());
                read_keys.push(key.clone());
            }
            let current = match overlay.get(&key) {
                Some(value) => value.clone(),
                None if self.bug == Some(Bug::ReadUncommitted) => participant
                    .prepared
                    .values()
                    // At most one prepared transaction holds a key's write lock.
                    .find_map(|prepared| {
                        prepared
                            .writes
                            .iter()
                            .find(|(written, _)| *written == key)
                            .map(|(_, value)| value.clone())
                    })
                    .or_else(|| participant.data.get(&key).cloned())
                    .unwrap_or(Value::Null),
                None => participant.data.get(&key).cloned().unwrap_or(Value::Null),
            };
            match op {
                Op::Read(_) => reads.push((*position, current)),
                Op::Write(_, value) => {
                    overlay.insert(key, value.clone());
                }
                Op::Append(_, value) => {
                    let list = match current {
                        Value::Null => vec![value.clone()],
                        Value::Array(mut list) => {
                            list.push(value.clone());
                            list
                        }
                        other => {
                            return Err(format!(
                                "malformed: cannot append to the non-list {other}"
                            ));
                        }
                    };
                    overlay.insert(key, Value::Array(list));
                }
                Op::Cas(_, from, to) => {
                    if &current != from {
                        return Err("precondition-failed".to_string());
                    }
                    overlay.insert(key, to.clone());
                }
            }
        }
        Ok((reads, read_keys, overlay.into_iter().collect()))
    }

    /// Phase two on this participant. Idempotent: a decision for a transaction
    /// it does not hold is acknowledged (it was applied, or — with the
    /// `no-durable-prepare` bug — forgotten).
    async fn finish(&self, tx: &str, commit: bool) {
        let logged = {
            let mut participant = self.lock();
            let Some(prepared) = participant.prepared.remove(tx) else {
                return;
            };
            release(&mut participant, tx);
            if commit {
                participant.data.extend(prepared.writes.clone());
                self.wal.submit(vec![record(&Record::Committed {
                    tx: tx.to_string(),
                    writes: prepared.writes,
                })])
            } else {
                self.wal
                    .submit(vec![record(&Record::Aborted { tx: tx.to_string() })])
            }
        };
        let _ = logged.wait().await;
    }

    async fn call(
        &self,
        node: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let address = self.peers.get(node).cloned().unwrap_or_default();
        let url = format!("http://{address}{path}");
        match body {
            Some(body) => self.client.post(url).json(&body).send().await,
            None => self.client.post(url).send().await,
        }
    }

    /// Runs a transaction as its coordinator, to its end even if the client
    /// hangs up: a coordination cut short would leave the transaction pending
    /// here forever, and the locks its participants hold with it.
    async fn coordinate(self: &Arc<Self>, ops: Vec<Op>) -> Result<Vec<(usize, Value)>, ApiError> {
        let node = self.clone();
        tokio::spawn(async move { node.run_transaction(ops).await })
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::new(
                    ErrorCode::Internal,
                    "the coordination task failed",
                ))
            })
    }

    async fn run_transaction(
        self: &Arc<Self>,
        ops: Vec<Op>,
    ) -> Result<Vec<(usize, Value)>, ApiError> {
        let tx = format!(
            "{}-{}-{}",
            self.id,
            self.boot,
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        self.decisions
            .lock()
            .expect("decisions lock")
            .insert(tx.clone(), Decision::Pending);
        let mut by_shard: BTreeMap<String, Vec<(usize, Op)>> = BTreeMap::new();
        for (position, op) in ops.into_iter().enumerate() {
            by_shard
                .entry(shard_of(op.key(), &self.nodes).to_string())
                .or_default()
                .push((position, op));
        }
        let votes = by_shard.into_iter().map(|(shard, ops)| {
            let node = self.clone();
            let request = Prepare {
                tx: tx.clone(),
                coordinator: self.id.clone(),
                ops,
            };
            async move {
                if shard == node.id {
                    return (shard, Some(node.prepare(request).await));
                }
                let body = serde_json::to_value(&request).expect("prepare serializes");
                let vote = match node.call(&shard, "/2pc/prepare", Some(body)).await {
                    Ok(reply) if reply.status().is_success() => reply.json::<Vote>().await.ok(),
                    _ => None,
                };
                (shard, vote)
            }
        });
        let votes: Vec<(String, Option<Vote>)> = join_all(votes).await;
        let shards: Vec<String> = votes.iter().map(|(shard, _)| shard.clone()).collect();
        let mut reads = Vec::new();
        let mut refusal = None;
        for (_, vote) in &votes {
            match vote {
                Some(vote) if vote.yes => reads.extend(vote.reads.iter().cloned()),
                Some(vote) => refusal = refusal.or(vote.reason.clone()),
                // The `commit-on-partial-votes` bug counts a missing vote as yes.
                None if self.bug == Some(Bug::CommitOnPartialVotes) => {}
                None => {
                    refusal = refusal.or(Some("a participant did not vote in time".to_string()))
                }
            }
        }
        let commit = refusal.is_none();
        // The decision is durable before anyone hears of it.
        let logged = self
            .wal
            .append(vec![record(&Record::Decided {
                tx: tx.clone(),
                commit,
            })])
            .await;
        if logged.is_err() {
            // Undecided, as if this coordinator had crashed: presumed abort
            // applies, but the client cannot know yet.
            self.decisions.lock().expect("decisions lock").remove(&tx);
            return Err(ApiError::new(
                ErrorCode::Internal,
                "logging the decision failed",
            ));
        }
        let decision = if commit {
            Decision::Commit
        } else {
            Decision::Abort
        };
        self.decisions
            .lock()
            .expect("decisions lock")
            .insert(tx.clone(), decision);
        for shard in shards {
            let node = self.clone();
            let tx = tx.clone();
            let informed = async move {
                if shard == node.id {
                    node.finish(&tx, commit).await;
                    return;
                }
                let path = format!("/2pc/{}/{tx}", if commit { "commit" } else { "abort" });
                // Participants that miss this ask when in doubt; retry a little.
                for _ in 0..10 {
                    if node
                        .call(&shard, &path, None)
                        .await
                        .is_ok_and(|reply| reply.status().is_success())
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            // The client's answer does not wait: the decision is already durable,
            // and until a participant hears it, its locks keep others out.
            tokio::spawn(informed);
        }
        match refusal {
            None => Ok(reads),
            Some(reason) if reason == "precondition-failed" => Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                "the expected value did not match",
            )),
            Some(reason) if reason.starts_with("malformed") => {
                Err(ApiError::new(ErrorCode::MalformedRequest, reason))
            }
            Some(reason) => Err(ApiError::new(
                ErrorCode::Aborted,
                format!("aborted: {reason}"),
            )),
        }
    }
}

/// Polls futures together; a small join_all without another dependency.
async fn join_all<T: Send + 'static>(
    futures: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("a vote task does not panic"));
    }
    results
}

/// Releases every lock `tx` holds.
fn release(participant: &mut Participant, tx: &str) {
    participant.locks.retain(|_, lock| {
        if lock.writer.as_deref() == Some(tx) {
            lock.writer = None;
        }
        lock.readers.remove(tx);
        lock.writer.is_some() || !lock.readers.is_empty()
    });
}

/// Asks coordinators about transactions prepared here for too long: after a
/// crash, or when a decision message was lost.
async fn resolve_doubts(node: Shared) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let doubtful: Vec<(String, String)> = node
            .lock()
            .prepared
            .iter()
            .filter(|(_, prepared)| prepared.since.elapsed() >= DOUBT_AFTER)
            .map(|(tx, prepared)| (tx.clone(), prepared.coordinator.clone()))
            .collect();
        for (tx, coordinator) in doubtful {
            let answer = if coordinator == node.id {
                Some(decide(&node, &tx).await)
            } else {
                let address = node.peers.get(&coordinator).cloned().unwrap_or_default();
                match node
                    .client
                    .get(format!("http://{address}/2pc/decision/{tx}"))
                    .send()
                    .await
                {
                    Ok(reply) if reply.status().is_success() => reply.json::<Decision>().await.ok(),
                    _ => None,
                }
            };
            match answer {
                Some(Decision::Commit) => node.finish(&tx, true).await,
                Some(Decision::Abort) => node.finish(&tx, false).await,
                Some(Decision::Pending) | None => {}
            }
        }
    }
}

/// A coordinator's answer about `tx`: its logged decision; pending while it is
/// running; otherwise abort, logged first (presumed abort: it crashed before
/// deciding, so nobody was told to commit).
async fn decide(node: &Node, tx: &str) -> Decision {
    if let Some(&decision) = node.decisions.lock().expect("decisions lock").get(tx) {
        return decision;
    }
    if !tx.starts_with(&format!("{}-", node.id)) {
        return Decision::Pending;
    }
    if node
        .wal
        .append(vec![record(&Record::Decided {
            tx: tx.to_string(),
            commit: false,
        })])
        .await
        .is_err()
    {
        return Decision::Pending;
    }
    *node
        .decisions
        .lock()
        .expect("decisions lock")
        .entry(tx.to_string())
        .or_insert(Decision::Abort)
}

async fn prepare(State(node): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<Prepare>(&body) {
        Ok(request) => http::json(200, &node.prepare(request).await),
        Err(error) => http::error(&ApiError::new(
            ErrorCode::MalformedRequest,
            error.to_string(),
        )),
    }
}

async fn commit(State(node): State<Shared>, Path(tx): Path<String>) -> Response {
    node.finish(&tx, true).await;
    http::json(200, &json!({"ok": true}))
}

async fn abort(State(node): State<Shared>, Path(tx): Path<String>) -> Response {
    node.finish(&tx, false).await;
    http::json(200, &json!({"ok": true}))
}

async fn decision(State(node): State<Shared>, Path(tx): Path<String>) -> Response {
    http::json(200, &decide(&node, &tx).await)
}

async fn read(State(node): State<Shared>, Path(key): Path<String>) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    match node.coordinate(vec![Op::Read(key)]).await {
        Ok(reads) => http::json(
            200,
            &kv_api::ValueBody {
                value: reads
                    .into_iter()
                    .next()
                    .map_or(Value::Null, |(_, value)| value),
            },
        ),
        Err(error) => http::error(&error),
    }
}

async fn write(State(node): State<Shared>, Path(key): Path<String>, body: Bytes) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    let value = match kv_api::parse_value_body(&body) {
        Ok(value) => value,
        Err(error) => return http::error(&error),
    };
    match node.coordinate(vec![Op::Write(key, value)]).await {
        Ok(_) => http::json(200, &json!({"ok": true})),
        Err(error) => http::error(&error),
    }
}

async fn cas(State(node): State<Shared>, Path(key): Path<String>, body: Bytes) -> Response {
    if let Err(error) = kv_api::check_key(&key) {
        return http::error(&error);
    }
    let cas = match kv_api::parse_cas_body(&body) {
        Ok(cas) => cas,
        Err(error) => return http::error(&error),
    };
    match node.coordinate(vec![Op::Cas(key, cas.from, cas.to)]).await {
        Ok(_) => http::json(200, &json!({"ok": true})),
        Err(error) => http::error(&error),
    }
}

async fn txn(State(node): State<Shared>, body: Bytes) -> Response {
    let micro_ops = match kv_api::parse_txn_body(&body) {
        Ok(micro_ops) => micro_ops,
        Err(error) => return http::error(&error),
    };
    let ops = micro_ops
        .iter()
        .map(|op| match op {
            MicroOp::Read(key, _) => Op::Read(key.clone()),
            MicroOp::Write(key, value) => Op::Write(key.clone(), value.clone()),
            MicroOp::Append(key, value) => Op::Append(key.clone(), value.clone()),
        })
        .collect();
    match node.coordinate(ops).await {
        Ok(reads) => {
            let mut filled = micro_ops;
            for (position, value) in reads {
                if let Some(MicroOp::Read(_, slot)) = filled.get_mut(position) {
                    *slot = value;
                }
            }
            http::json(
                200,
                &json!({ "txn": filled.iter().map(MicroOp::to_json).collect::<Vec<_>>() }),
            )
        }
        Err(error) => http::error(&error),
    }
}
