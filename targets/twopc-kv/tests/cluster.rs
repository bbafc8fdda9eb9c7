//! In-process twopc-kv clusters on ephemeral loopback ports: transactions across
//! shards, locking, recovery from the log, and each in-doubt case.

use node_kit::wal::{Durability, Wal};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use twopc_kv::wire::{Op, Prepare, Record, Vote};
use twopc_kv::{NodeConfig, run_node, shard_of};

struct Cluster {
    peers: BTreeMap<String, String>,
    nodes: BTreeMap<
        String,
        (
            JoinHandle<std::io::Result<()>>,
            tokio::sync::oneshot::Sender<()>,
        ),
    >,
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Cluster {
    async fn start(size: usize) -> Cluster {
        let mut listeners = BTreeMap::new();
        for n in 1..=size {
            listeners.insert(
                format!("n{n}"),
                TcpListener::bind("127.0.0.1:0").await.unwrap(),
            );
        }
        let mut cluster = Cluster {
            peers: listeners
                .iter()
                .map(|(id, l)| (id.clone(), l.local_addr().unwrap().to_string()))
                .collect(),
            nodes: BTreeMap::new(),
            dir: tempfile::tempdir().unwrap(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        for (id, listener) in listeners {
            cluster.launch(&id, listener);
        }
        cluster
    }

    fn launch(&mut self, id: &str, listener: TcpListener) {
        let config = NodeConfig {
            id: id.to_string(),
            peers: self.peers.clone(),
            data_dir: self.dir.path().join(id),
            bug: None,
        };
        let (stopper, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(run_node(config, listener, async move {
            let _ = stopped.await;
        }));
        self.nodes.insert(id.to_string(), (handle, stopper));
    }

    /// Stops a node; only what it logged survives.
    async fn stop(&mut self, id: &str) {
        let (handle, stopper) = self.nodes.remove(id).unwrap();
        let _ = stopper.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }

    async fn restart(&mut self, id: &str) {
        let listener = TcpListener::bind(&self.peers[id]).await.unwrap();
        self.launch(id, listener);
    }

    async fn request(
        &self,
        method: reqwest::Method,
        node: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let response = self
            .client
            .request(method, format!("http://{}{path}", self.peers[node]))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn txn(&self, node: &str, ops: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, node, "/txn", json!({ "txn": ops }))
            .await
    }

    async fn get(&self, node: &str, key: &str) -> Value {
        self.request(
            reqwest::Method::GET,
            node,
            &format!("/kv/{key}"),
            Value::Null,
        )
        .await
        .1["value"]
            .clone()
    }

    fn ids(&self) -> Vec<String> {
        self.peers.keys().cloned().collect()
    }

    /// A key owned by `owner`.
    fn key_on(&self, owner: &str, prefix: &str) -> String {
        (0..)
            .map(|n| format!("{prefix}{n}"))
            .find(|key| shard_of(key, &self.ids()) == owner)
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_span_shards_and_see_their_own_writes() {
    let cluster = Cluster::start(3).await;
    let (a, b) = (cluster.key_on("n1", "a"), cluster.key_on("n2", "b"));
    let (status, reply) = cluster
        .txn(
            "n3",
            json!([
                ["append", a, 1],
                ["append", b, 2],
                ["r", a, null],
                ["w", "c", 5],
                ["r", "c", null]
            ]),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["txn"][2], json!(["r", a, [1]]));
    assert_eq!(reply["txn"][4], json!(["r", "c", 5]));
    let (_, reply) = cluster
        .txn(
            "n1",
            json!([["append", a, 3], ["r", a, null], ["r", b, null]]),
        )
        .await;
    assert_eq!(reply["txn"][1], json!(["r", a, [1, 3]]));
    assert_eq!(reply["txn"][2], json!(["r", b, [2]]));
    // Single-key requests are one-shard transactions.
    let put = cluster
        .request(reqwest::Method::PUT, "n2", "/kv/x", json!({"value": 7}))
        .await;
    assert_eq!(put.0, 200);
    assert_eq!(cluster.get("n1", "x").await, json!(7));
    let cas = |from: i64, to: i64| json!({"from": from, "to": to});
    assert_eq!(
        cluster
            .request(reqwest::Method::POST, "n3", "/kv/x/cas", cas(7, 8))
            .await
            .0,
        200
    );
    let failed = cluster
        .request(reqwest::Method::POST, "n3", "/kv/x/cas", cas(7, 9))
        .await;
    assert_eq!(
        (failed.0, failed.1["error"].as_str()),
        (409, Some("precondition-failed"))
    );
    assert_eq!(cluster.get("n2", "x").await, json!(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_and_change_nothing() {
    let cluster = Cluster::start(3).await;
    assert_eq!(cluster.txn("n1", json!([["w", "k", 1]])).await.0, 200);
    let cases = [
        (json!([["frob", "k", 1]]), 400, "malformed-request"),
        (json!([["w", "k", [1]]]), 400, "malformed-request"),
        (json!([["w", 5, 1]]), 400, "malformed-request"),
        (json!([]), 400, "malformed-request"),
        (
            json!(
                (0..65)
                    .map(|n| json!(["r", format!("k{n}"), null]))
                    .collect::<Vec<_>>()
            ),
            413,
            "too-large",
        ),
    ];
    for (ops, status, code) in cases {
        let (got, error) = cluster.txn("n2", ops.clone()).await;
        assert_eq!(
            (got, error["error"].as_str()),
            (status, Some(code)),
            "{ops}"
        );
        assert_eq!(error["definite"], true);
    }
    let (got, error) = cluster
        .request(reqwest::Method::POST, "n2", "/txn", json!("nonsense"))
        .await;
    assert_eq!(
        (got, error["error"].as_str()),
        (400, Some("malformed-request"))
    );
    assert_eq!(cluster.get("n3", "k").await, json!(1), "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_transaction_holds_its_locks() {
    let cluster = Cluster::start(3).await;
    let key = cluster.key_on("n2", "locked");
    // A prepare that nobody decides yet, as if its coordinator were slow.
    let prepare = Prepare {
        tx: "n1-0-1".into(),
        coordinator: "n1".into(),
        ops: vec![(0, Op::Write(key.clone(), json!(1)))],
    };
    let (_, vote) = cluster
        .request(
            reqwest::Method::POST,
            "n2",
            "/2pc/prepare",
            serde_json::to_value(&prepare).unwrap(),
        )
        .await;
    assert!(serde_json::from_value::<Vote>(vote).unwrap().yes);
    let (status, error) = cluster.txn("n3", json!([["r", key, null]])).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (409, Some("aborted")),
        "a read conflicts with a prepared write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_survive_restarts() {
    let mut cluster = Cluster::start(3).await;
    for n in 0..10 {
        assert_eq!(
            cluster
                .txn("n1", json!([["append", format!("k{}", n % 3), n]]))
                .await
                .0,
            200
        );
    }
    for id in cluster.ids() {
        cluster.stop(&id).await;
    }
    for id in cluster.ids() {
        cluster.restart(&id).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cluster.get("n2", "k0").await, json!([0, 3, 6, 9]));
    assert_eq!(cluster.get("n3", "k1").await, json!([1, 4, 7]));
}

/// A participant prepares a transaction of coordinator n1 and crashes before the
/// decision reaches it; n1 has logged `decision` (or nothing). After restarting,
/// the participant is in doubt, keeps its locks, asks n1, and applies or
/// discards as n1 says.
async fn in_doubt_participant_follows_the_coordinator(decision: Option<bool>) {
    let mut cluster = Cluster::start(3).await;
    let key = cluster.key_on("n2", "doubt");
    let tx = "n1-1-42".to_string();
    cluster.stop("n1").await;
    if let Some(commit) = decision {
        // The coordinator decided, logged it, and crashed before telling anyone.
        let (wal, _) =
            Wal::open(&cluster.dir.path().join("n1/twopc.wal"), Durability::Sync).unwrap();
        wal.append(vec![
            serde_json::to_vec(&Record::Decided {
                tx: tx.clone(),
                commit,
            })
            .unwrap(),
        ])
        .await
        .unwrap();
    }
    let prepare = Prepare {
        tx: tx.clone(),
        coordinator: "n1".into(),
        ops: vec![(0, Op::Write(key.clone(), json!("new")))],
    };
    let (_, vote) = cluster
        .request(
            reqwest::Method::POST,
            "n2",
            "/2pc/prepare",
            serde_json::to_value(&prepare).unwrap(),
        )
        .await;
    assert!(serde_json::from_value::<Vote>(vote).unwrap().yes);
    cluster.stop("n2").await;
    cluster.restart("n2").await;
    // In doubt and the coordinator down: the lock holds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cluster.txn("n3", json!([["r", key, null]])).await.0,
        409,
        "in doubt, the participant keeps its locks"
    );
    cluster.restart("n1").await;
    let expected = if decision == Some(true) {
        json!("new")
    } else {
        Value::Null
    };
    for _ in 0..60 {
        let (status, reply) = cluster.txn("n3", json!([["r", key, null]])).await;
        if status == 200 {
            assert_eq!(reply["txn"][0][2], expected, "decision {decision:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the participant never resolved its doubt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_doubt_commit_is_applied() {
    in_doubt_participant_follows_the_coordinator(Some(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_doubt_abort_is_discarded() {
    in_doubt_participant_follows_the_coordinator(Some(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecided_transactions_are_presumed_aborted() {
    in_doubt_participant_follows_the_coordinator(None).await;
}
