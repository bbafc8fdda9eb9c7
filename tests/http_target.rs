//! Stores described by a target config: etcd (Debian's etcd-server) as a real
//! third-party target under partitions and kills in network namespaces, and
//! config errors refused before anything starts, naming the field.

use crate::util::{outcome, run};
use std::path::Path;

const ETCD_CONFIG: &str = "targets/http/etcd.toml";

/// Whether etcd can run here: installed, and root for the netns backend.
/// `.ci/run` installs it and sets `FAULTLINE_REQUIRE_ETCD`, so CI cannot skip.
fn etcd_available() -> bool {
    let installed = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("etcd").is_file()));
    let root = nix::unistd::geteuid().is_root();
    if !(installed && root) {
        assert!(
            std::env::var_os("FAULTLINE_REQUIRE_ETCD").is_none(),
            "etcd and root are required here (apt-get install etcd-server)"
        );
        eprintln!("etcd not installed or not root: skipping the etcd run");
    }
    installed && root
}

fn count(history: &str, kind: &str) -> usize {
    let needle = format!("\"type\":\"{kind}\"");
    history
        .lines()
        .filter(|line| line.contains(&needle) && !line.contains("\"nemesis\""))
        .count()
}

/// Processes whose command line mentions `text`.
fn processes_mentioning(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(line) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&line).replace('\0', " ");
            if line.contains(text) {
                found.push(line);
            }
        }
    }
    found
}

#[test]
fn etcd_under_partitions_and_kills_in_namespaces_is_linearizable() {
    if !etcd_available() {
        return;
    }
    let _alone = crate::util::HEAVY
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let store = tempfile::tempdir().unwrap();
    let store_path = store.path().display().to_string();
    let (code, stdout, stderr) = outcome(&run(&[
        "run",
        "--target-config",
        ETCD_CONFIG,
        "--workload",
        "cas-register",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "5",
        "--concurrency",
        "15",
        "--net",
        "netns",
        "--time-limit",
        "60",
        "--seed",
        "5",
        "--store",
        &store_path,
    ]));
    assert_eq!(code, 0, "valid:\n{stdout}\n{stderr}");
    assert!(stdout.contains("verdict=valid"), "{stdout}");
    let dir = store.path().join("latest").canonicalize().unwrap();
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let (ok, info) = (count(&history, "ok"), count(&history, "info"));
    assert!(ok >= 1000, "at least 1,000 ok operations, got {ok}");
    assert!(
        info >= 50,
        "at least 50 info operations around the faults, got {info}"
    );
    for fault in ["start-partition", "\"kill\""] {
        assert!(history.contains(fault), "the nemesis did {fault}");
    }
    assert!(dir.join("report.html").is_file(), "the report is written");
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(plan.contains("\"target\": \"etcd\""), "{plan}");
    assert!(plan.contains("\"net\": \"netns\""), "{plan}");
    assert_eq!(
        processes_mentioning(&store_path),
        Vec::<String>::new(),
        "no etcd left running"
    );
}

fn refused(config: &Path, extra: &[&str]) -> String {
    let store = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--target-config",
        config.to_str().unwrap(),
        "--store",
        store.path().to_str().unwrap(),
    ];
    if !extra.contains(&"--nemesis") {
        args.extend_from_slice(&["--nemesis", "none"]);
    }
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = outcome(&run(&args));
    assert_eq!(code, 254, "refused: {stdout}{stderr}");
    assert!(
        std::fs::read_dir(store.path()).unwrap().next().is_none(),
        "nothing started, nothing stored"
    );
    stderr
}

#[test]
fn config_errors_are_refused_before_anything_starts_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = std::fs::read_to_string(ETCD_CONFIG).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // Every error names the file and the line (from 1) of what is wrong.
    let line_of = |text: &str, needle: &str| {
        1 + text
            .lines()
            .position(|line| line.contains(needle))
            .expect("the needle is in the text")
    };
    let missing_text = etcd.replace("start = ", "begin = ");
    let missing = write("missing.toml", &missing_text);
    let stderr = refused(&missing, &[]);
    let line = line_of(&missing_text, "begin = ");
    assert!(
        stderr.contains(&format!("missing.toml:{line}: ")) && stderr.contains("begin"),
        "{stderr}"
    );

    let placeholder_text = etcd.replace("{new:base64}", "{nwe:base64}");
    let placeholder = write("placeholder.toml", &placeholder_text);
    let stderr = refused(&placeholder, &[]);
    let line = line_of(&placeholder_text, "{nwe:base64}");
    assert!(
        stderr.contains(&format!(
            "placeholder.toml:{line}: operations.cas.body: unknown placeholder {{nwe}}"
        )),
        "{stderr}"
    );

    let template = write(
        "template.toml",
        &etcd.replace(r#"'{"key": "{key:base64}"}'"#, r#"'{"key": {key:base64}'"#),
    );
    let stderr = refused(&template, &[]);
    assert!(
        stderr.contains("operations.read.body: not JSON"),
        "{stderr}"
    );

    let clash = write(
        "clash.toml",
        &etcd.replace(
            "[nodes]\n",
            "[nodes]\nclient_port = 23790\npeer_port = 23800\n",
        ),
    );
    let stderr = refused(&clash, &["--net", "proxy"]);
    assert!(
        stderr.contains("nodes.client_port / nodes.peer_port") && stderr.contains("port clash"),
        "{stderr}"
    );

    let stderr = refused(Path::new("targets/http/none.toml"), &[]);
    assert!(
        stderr.contains("targets/http/none.toml: cannot read the target config"),
        "{stderr}"
    );
}

#[test]
fn a_clock_nemesis_against_etcd_is_refused_before_the_run() {
    let stderr = refused(Path::new(ETCD_CONFIG), &["--nemesis", "clock"]);
    assert!(
        stderr.contains("the clock nemesis cannot skew etcd's clocks") && stderr.contains("vDSO"),
        "{stderr}"
    );
    let stderr = refused(Path::new(ETCD_CONFIG), &["--bug", "read-from-head"]);
    assert!(stderr.contains("etcd is not one"), "{stderr}");
    let stderr = refused(Path::new(ETCD_CONFIG), &["--workload", "list-append"]);
    assert!(stderr.contains("needs transactions"), "{stderr}");
}

/// The bundled twopc-kv described as if it were a third-party store: the
/// config path end to end without root or etcd — start templates, readiness,
/// requests and responses by JSON pointer, error classes, and kill, pause and
/// resume by commands.
fn twopc_kv_config(dir: &Path) -> std::path::PathBuf {
    twopc_kv_config_killed_by(dir, "kill -KILL {pid}")
}

/// As [`twopc_kv_config`], with `kill` as its kill command.
fn twopc_kv_config_killed_by(dir: &Path, kill: &str) -> std::path::PathBuf {
    let exe = env!("CARGO_BIN_EXE_faultline");
    let text = format!(
        r#"name = "twopc-kv-by-config"

[nodes]
count = 3
start = "{exe} node twopc-kv --id {{id}} --listen {{host}}:{{client_port}} --peers {{initial_cluster}} --data-dir {{data_dir}}"
initial_cluster_member = "{{id}}={{host}}:{{client_port}}"
kill = "{kill}"
pause = "kill -STOP {{pid}}"
resume = "kill -CONT {{pid}}"

[nodes.ready]
http = "http://{{host}}:{{client_port}}/health"

[operations.read]
method = "GET"
path = "/kv/{{key}}"
value = "/value"

[operations.write]
method = "PUT"
path = "/kv/{{key}}"
body = '{{"value": "{{value}}"}}'

[operations.cas]
method = "POST"
path = "/kv/{{key}}/cas"
body = '{{"from": "{{old}}", "to": "{{new}}"}}'
body_if_absent = '{{"from": null, "to": "{{new}}"}}'
success = "/ok"

[errors]
definite_statuses = [400, 404, 409, 413, 503]
code = "/definite"
definite_codes = [true]
"#
    );
    let path = dir.join("twopc-kv.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the cas-register workload against the store `config` describes,
/// storing under `dir`, with `extra` arguments; it must be valid. The run's
/// directory, its history and what it printed.
fn run_valid(config: &Path, dir: &Path, extra: &[&str]) -> (std::path::PathBuf, String, String) {
    let store = dir.join("store");
    let mut args = vec![
        "run",
        "--target-config",
        config.to_str().unwrap(),
        "--workload",
        "cas-register",
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = outcome(&run(&args));
    assert_eq!(code, 0, "valid:\n{stdout}\n{stderr}");
    let run_dir = store.join("latest").canonicalize().unwrap();
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    (run_dir, history, stdout)
}

#[test]
fn a_store_described_by_a_config_runs_under_kills_and_pauses_by_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = twopc_kv_config(dir.path());
    let (run_dir, history, stdout) = run_valid(
        &config,
        dir.path(),
        &[
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "1",
            "--nemesis-targets",
            "one",
            "--time-limit",
            "6",
            "--seed",
            "3",
        ],
    );
    assert!(count(&history, "ok") > 100, "{stdout}");
    for fault in ["\"f\":\"kill\"", "\"f\":\"pause\"", "\"f\":\"resume\""] {
        assert!(history.contains(fault), "the nemesis did {fault}: {stdout}");
    }
    let plan = std::fs::read_to_string(run_dir.join("plan.json")).unwrap();
    assert!(
        plan.contains("\"target\": \"twopc-kv-by-config\""),
        "{plan}"
    );
    assert_eq!(
        processes_mentioning(run_dir.to_str().unwrap()),
        Vec::<String>::new(),
        "no node left running"
    );
}

/// A kill command that takes 3 s (a store's own tooling draining a node, say)
/// must not stall the workload: the clients bound to the other nodes go on
/// completing operations while it runs.
#[test]
fn a_slow_kill_command_does_not_stall_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow-kill.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 3\nkill -KILL \"$1\"\n").unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    let config = twopc_kv_config_killed_by(dir.path(), &format!("{} {{pid}}", script.display()));
    let concurrency = 9;
    let (run_dir, history, _) = run_valid(
        &config,
        dir.path(),
        &[
            "--concurrency",
            &concurrency.to_string(),
            "--nemesis",
            "kill",
            "--nemesis-interval",
            "5",
            "--nemesis-targets",
            "one",
            "--time-limit",
            "6",
            "--seed",
            "5",
        ],
    );
    let events: Vec<serde_json::Value> = history
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kill = events
        .iter()
        .find(|event| event["f"] == "kill")
        .expect("a kill in the history");
    let killed = kill["value"][0].as_str().unwrap().to_string();
    let killed_at = kill["time"].as_i64().unwrap();
    // Worker thread t is bound to node n(t mod 3 + 1); process p runs on
    // thread p mod concurrency.
    let node_of = |process: i64| format!("n{}", (process % concurrency) % 3 + 1);
    let during_the_command = events
        .iter()
        .filter(|event| event["type"] == "ok")
        .filter(|event| {
            event["process"]
                .as_i64()
                .is_some_and(|p| node_of(p) != killed)
        })
        .filter(|event| {
            let time = event["time"].as_i64().unwrap();
            (killed_at + 500_000_000..killed_at + 2_500_000_000).contains(&time)
        })
        .count();
    // At the default 200 ops/s, two thirds of the clients make about 270 in
    // those two seconds; a runtime blocked on the command makes none.
    assert!(
        during_the_command >= 50,
        "only {during_the_command} operations completed on the other nodes while {killed} was being killed"
    );
    assert_eq!(
        processes_mentioning(run_dir.to_str().unwrap()),
        Vec::<String>::new(),
        "no node left running"
    );
}
