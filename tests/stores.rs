//! The bundled stores as real processes: `kill -9` loses nothing acknowledged,
//! unless the `no-fsync` bug is on.

use faultline::target::cluster::LocalCluster;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// Retries a write until the cluster accepts it (it may be starting or
/// reconfiguring).
async fn put_until_ok(address: &str, key: &str, value: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let response = client()
            .put(format!("http://{address}/kv/{key}"))
            .body(json!({ "value": value }).to_string())
            .send()
            .await;
        if response.is_ok_and(|response| response.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the cluster never accepted a write");
}

async fn get_until_ok(address: &str, key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = client()
            .get(format!("http://{address}/kv/{key}"))
            .send()
            .await
            && response.status().is_success()
        {
            return response.json::<Value>().await.unwrap()["value"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the cluster never answered a read");
}

/// Writes 20 keys, kills every node with SIGKILL, restarts them, and returns
/// what each key reads afterwards.
async fn write_kill_all_and_read(store: &str, bug: Option<&str>) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_faultline"));
    let mut cluster = LocalCluster::start(exe, store, 3, dir.path(), bug).unwrap();
    let address = cluster.addresses()[0].clone();
    for key in 0..20 {
        put_until_ok(&address, &format!("k{key}"), key).await;
    }
    for node in cluster.nodes() {
        cluster.kill(&node);
    }
    for node in cluster.nodes() {
        cluster.restart(&node).unwrap();
    }
    let mut values = Vec::new();
    for key in 0..20 {
        values.push(get_until_ok(&address, &format!("k{key}")).await);
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_kv_loses_nothing_acknowledged_to_kill_9() {
    let values = write_kill_all_and_read("chain-kv", None).await;
    assert_eq!(values, (0..20).map(|key| json!(key)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twopc_kv_loses_nothing_acknowledged_to_kill_9() {
    let values = write_kill_all_and_read("twopc-kv", None).await;
    assert_eq!(values, (0..20).map(|key| json!(key)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_kv_without_fsync_loses_acknowledged_writes() {
    let values = write_kill_all_and_read("chain-kv", Some("no-fsync")).await;
    let lost = values.iter().filter(|value| value.is_null()).count();
    assert!(
        lost > 0,
        "the planted bug loses acknowledged writes: {values:?}"
    );
}

/// A target's install command runs once per process on its host before its
/// first start (not again on a restart), and the files it names under
/// `nodes.logs` are fetched into the store when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_runs_once_per_process_and_declared_logs_are_collected() {
    let outside = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let outside_path = outside.path().display().to_string();
    let text = include_str!("../targets/bundled/twopc-kv.toml").replacen(
        "[nodes]\n",
        &format!(
            "[nodes]\ninstall = \"mkdir {outside_path}/{{id}}\"\nlogs = [\"{outside_path}/{{id}}.log\"]\n"
        ),
        1,
    );
    // What the nodes would write outside the store.
    for id in ["n1", "n2", "n3"] {
        std::fs::write(outside.path().join(format!("{id}.log")), id).unwrap();
    }
    let config = faultline::target_file::parse("install.toml", &text).unwrap();
    let target = faultline::target::Target {
        config: std::sync::Arc::new(config),
        file: None,
        bug: None,
    };
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_faultline"));
    let mut cluster = LocalCluster::prepare(exe, &target, 3, store.path()).unwrap();
    cluster.launch_all().unwrap();
    for id in ["n1", "n2", "n3"] {
        assert!(outside.path().join(id).is_dir(), "{id} was installed");
    }
    // `mkdir` fails if run twice: a restart must not install again.
    cluster.kill("n2");
    cluster.restart("n2").unwrap();
    assert_eq!(cluster.collect_logs(), Vec::<String>::new());
    for id in ["n1", "n2", "n3"] {
        let fetched = store.path().join(id).join("logs").join(format!("{id}.log"));
        assert_eq!(std::fs::read_to_string(fetched).unwrap(), id);
    }
}
