//! In-process chain-kv clusters on ephemeral loopback ports: the protocol's steps,
//! recovery from the log, reconfiguration after each kind of failure, rejoining,
//! and bad requests.

use chain_kv::{Bug, FAILURE_TIMEOUT, NodeConfig, run_master, run_replica};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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
    bug: Option<Bug>,
    client: reqwest::Client,
}

impl Cluster {
    async fn start(size: usize, bug: Option<Bug>) -> Cluster {
        let mut listeners = BTreeMap::new();
        let ids = std::iter::once("master".to_string()).chain((1..=size).map(|n| format!("n{n}")));
        for id in ids {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listeners.insert(id, listener);
        }
        let peers = listeners
            .iter()
            .map(|(id, listener)| (id.clone(), listener.local_addr().unwrap().to_string()))
            .collect();
        let mut cluster = Cluster {
            peers,
            nodes: BTreeMap::new(),
            dir: tempfile::tempdir().unwrap(),
            bug,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        for (id, listener) in listeners {
            cluster.launch(&id, listener);
        }
        cluster.wait_for_chain(size).await;
        cluster
    }

    fn launch(&mut self, id: &str, listener: TcpListener) {
        let config = NodeConfig {
            id: id.to_string(),
            peers: self.peers.clone(),
            data_dir: self.dir.path().join(id),
            bug: self.bug,
        };
        let (stopper, stopped) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = stopped.await;
        };
        let handle = if id == "master" {
            tokio::spawn(run_master(config, listener, stop))
        } else {
            tokio::spawn(run_replica(config, listener, stop))
        };
        self.nodes.insert(id.to_string(), (handle, stopper));
    }

    /// Stops a node: it stops accepting, its background tasks end and its
    /// memory is gone; only what it had synced survives, in its log. (Real
    /// crashes, `kill -9`, are exercised through the binary.)
    async fn crash(&mut self, id: &str) {
        let (handle, stopper) = self.nodes.remove(id).unwrap();
        let _ = stopper.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }

    async fn restart(&mut self, id: &str) {
        let listener = TcpListener::bind(&self.peers[id]).await.unwrap();
        self.launch(id, listener);
    }

    async fn config(&self) -> Value {
        self.client
            .get(format!("http://{}/master/config", self.peers["master"]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn wait_for_chain(&self, length: usize) -> Vec<String> {
        for _ in 0..100 {
            let config = self.config().await;
            let chain: Vec<String> = serde_json::from_value(config["chain"].clone()).unwrap();
            if chain.len() == length && self.serving(&chain).await {
                return chain;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the chain never reached {length} serving nodes: {}",
            self.config().await
        );
    }

    /// Whether the tail answers reads (it has caught up and holds a lease).
    async fn serving(&self, chain: &[String]) -> bool {
        let Some(tail) = chain.last() else {
            return false;
        };
        let response = self
            .client
            .get(format!("http://{}/kv/probe", self.peers[tail]))
            .send()
            .await;
        response.is_ok_and(|response| response.status().is_success())
    }

    /// Sends a request, again while the answer is 503 (a node may hold the old
    /// configuration for up to a heartbeat after a change), for up to 2 s.
    async fn retrying(
        &self,
        method: reqwest::Method,
        node: &str,
        path: &str,
        body: String,
    ) -> (u16, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let response = self
                .client
                .request(method.clone(), format!("http://{}{path}", self.peers[node]))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let reply = response.json().await.unwrap_or(Value::Null);
            if status != 503 || tokio::time::Instant::now() > deadline {
                return (status, reply);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn put(&self, node: &str, key: &str, value: Value) -> (u16, Value) {
        let body = json!({ "value": value }).to_string();
        self.retrying(reqwest::Method::PUT, node, &format!("/kv/{key}"), body)
            .await
    }

    async fn cas(&self, node: &str, key: &str, from: Value, to: Value) -> (u16, Value) {
        let body = json!({ "from": from, "to": to }).to_string();
        self.retrying(reqwest::Method::POST, node, &format!("/kv/{key}/cas"), body)
            .await
    }

    async fn get(&self, node: &str, key: &str) -> (u16, Value) {
        self.retrying(
            reqwest::Method::GET,
            node,
            &format!("/kv/{key}"),
            String::new(),
        )
        .await
    }

    async fn raw(
        &self,
        method: reqwest::Method,
        node: &str,
        path: &str,
        body: &str,
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

    async fn status(&self, node: &str) -> Value {
        self.raw(reqwest::Method::GET, node, "/chain/status", "")
            .await
            .1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_pass_the_chain_and_reads_see_them_from_any_node() {
    let cluster = Cluster::start(3, None).await;
    assert_eq!(
        cluster.put("n2", "x", json!(1)).await,
        (200, json!({"ok": true}))
    );
    for node in ["n1", "n2", "n3"] {
        assert_eq!(
            cluster.get(node, "x").await,
            (200, json!({"value": 1})),
            "read via {node}"
        );
    }
    assert_eq!(
        cluster.get("n1", "absent").await,
        (200, json!({"value": null}))
    );
    // Every node logged the update before the head answered.
    for node in ["n1", "n2", "n3"] {
        assert_eq!(cluster.status(node).await["last_seq"], 1, "{node}");
    }
    assert_eq!(cluster.cas("n3", "x", json!(1), json!(2)).await.0, 200);
    let (status, body) = cluster.cas("n1", "x", json!(1), json!(3)).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "precondition-failed");
    assert_eq!(body["definite"], true);
    assert_eq!(
        cluster.cas("n1", "fresh", Value::Null, json!("a")).await.0,
        200,
        "cas from absent"
    );
    assert_eq!(cluster.get("n2", "x").await.1, json!({"value": 2}));
    assert_eq!(cluster.get("n2", "fresh").await.1, json!({"value": "a"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_and_change_nothing() {
    let cluster = Cluster::start(3, None).await;
    assert_eq!(cluster.put("n1", "x", json!(1)).await.0, 200);
    let big = format!("{{\"value\": \"{}\"}}", "v".repeat(kv_api::MAX_BODY_BYTES));
    let long_key = format!("/kv/{}", "k".repeat(kv_api::MAX_KEY_BYTES + 1));
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    let cases = [
        (put.clone(), "/kv/x", "{not json", 400, "malformed-request"),
        (
            put.clone(),
            "/kv/x",
            "{\"value\": [1, 2]}",
            400,
            "malformed-request",
        ),
        (
            put.clone(),
            "/kv/x",
            "{\"value\": {\"a\": 1}}",
            400,
            "malformed-request",
        ),
        (put.clone(), "/kv/x", big.as_str(), 413, "too-large"),
        (
            put.clone(),
            long_key.as_str(),
            "{\"value\": 1}",
            413,
            "too-large",
        ),
        (
            post.clone(),
            "/kv/x/cas",
            "{\"from\": 1}",
            400,
            "malformed-request",
        ),
        (
            post.clone(),
            "/kv/x/cas",
            "{\"from\": 1, \"to\": true}",
            400,
            "malformed-request",
        ),
        (post.clone(), "/no/such/route", "", 404, "not-found"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, error) = cluster.raw(method.clone(), "n2", path, body).await;
        assert_eq!(
            (got, error["error"].as_str()),
            (status, Some(code)),
            "{method} {path}"
        );
        assert_eq!(error["definite"], true);
    }
    assert_eq!(
        cluster.get("n3", "x").await.1,
        json!({"value": 1}),
        "nothing changed"
    );
    assert_eq!(cluster.status("n3").await["last_seq"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_recovers_its_state_from_the_log() {
    let mut cluster = Cluster::start(3, None).await;
    for value in 1..=20 {
        assert_eq!(
            cluster
                .put("n1", &format!("k{}", value % 4), json!(value))
                .await
                .0,
            200
        );
    }
    for node in ["n1", "n2", "n3"] {
        cluster.crash(node).await;
    }
    for node in ["n1", "n2", "n3"] {
        cluster.restart(node).await;
    }
    // Everyone was silent past the failure timeout: the chain re-forms.
    tokio::time::sleep(FAILURE_TIMEOUT).await;
    cluster.wait_for_chain(3).await;
    for (key, value) in [("k0", 20), ("k1", 17), ("k2", 18), ("k3", 19)] {
        assert_eq!(
            cluster.get("n2", key).await.1,
            json!({"value": value}),
            "{key}"
        );
    }
}

/// Kills the node at `position` in the chain, checks that the chain goes on
/// without it and keeps every acknowledged write, then restarts it and checks it
/// rejoins at the tail with everything.
async fn survives_failure_at(position: usize) {
    let mut cluster = Cluster::start(3, None).await;
    let chain = cluster.wait_for_chain(3).await;
    for value in 0..5 {
        assert_eq!(cluster.put(&chain[0], "x", json!(value)).await.0, 200);
    }
    let victim = chain[position].clone();
    cluster.crash(&victim).await;
    let rest = cluster.wait_for_chain(2).await;
    assert!(!rest.contains(&victim), "{victim} removed: {rest:?}");
    let entry = rest[0].clone();
    assert_eq!(
        cluster.get(&entry, "x").await.1,
        json!({"value": 4}),
        "acknowledged writes survive"
    );
    for value in 5..10 {
        assert_eq!(
            cluster.put(&entry, "x", json!(value)).await.0,
            200,
            "writes go on"
        );
    }
    assert_eq!(cluster.get(&rest[1], "x").await.1, json!({"value": 9}));
    cluster.restart(&victim).await;
    let rejoined = cluster.wait_for_chain(3).await;
    assert_eq!(
        rejoined.last(),
        Some(&victim),
        "a node that comes back joins at the tail"
    );
    assert_eq!(
        cluster.get(&victim, "x").await.1,
        json!({"value": 9}),
        "and catches up"
    );
    assert_eq!(cluster.put(&rejoined[0], "x", json!(10)).await.0, 200);
    assert_eq!(
        cluster.status(&victim).await["last_seq"],
        cluster.status(&rejoined[0]).await["last_seq"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_failure_is_survived() {
    survives_failure_at(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middle_failure_is_survived() {
    survives_failure_at(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_failure_is_survived() {
    survives_failure_at(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_from_head_serves_stale_reads() {
    let cluster = Cluster::start(3, Some(Bug::ReadFromHead)).await;
    let mut stale = 0;
    for value in 1..=50 {
        assert_eq!(cluster.put("n1", "x", json!(value)).await.0, 200);
        if cluster.get("n3", "x").await.1 != json!({"value": value}) {
            stale += 1;
        }
    }
    assert!(
        stale > 0,
        "a read right after an acknowledged write misses it"
    );
}
