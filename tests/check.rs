//! `faultline check`: verdicts, exit codes, witnesses and bad input.

use crate::util::{corpus, outcome, run, write};

#[test]
fn valid_history_exits_zero() {
    let (code, stdout, _) = outcome(&run(&["check", &corpus("jepsen/etcd_002.log")]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("linearizable: valid"), "{stdout}");
    assert!(
        stdout.contains("model: cas-register"),
        "the model is inferred: {stdout}"
    );
}

#[test]
fn invalid_history_exits_one_with_a_minimal_witness() {
    let (code, stdout, _) = outcome(&run(&["check", &corpus("jepsen/etcd_000.log")]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("Not linearizable: p11 read → 2 (lines 85–86) cannot be placed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cannot place: p11 read → 2: it read 2, but the register holds 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("minimal history (3 operations)"),
        "{stdout}"
    );
    assert!(stdout.contains("linearizable: invalid"), "{stdout}");
}

#[test]
fn json_output_is_machine_readable_and_deterministic() {
    let file = corpus("kv/c10-bad.txt");
    let first = outcome(&run(&["check", &file, "--model", "kv", "--json"]));
    assert_eq!(first.0, 1);
    let results: serde_json::Value = serde_json::from_str(&first.1).expect("JSON");
    assert_eq!(results["valid"], serde_json::json!(false));
    let report = &results["checkers"]["linearizable"];
    assert_eq!(report["model"], "kv");
    assert_eq!(report["keys"], 10);
    let witness = &report["witnesses"][0];
    for field in [
        "key",
        "operation",
        "reason",
        "explanation",
        "longest_linearization",
        "minimal_history",
    ] {
        assert!(!witness[field].is_null(), "witness has {field}: {witness}");
    }
    assert_eq!(witness["anomaly"], "not-linearizable");
    let second = outcome(&run(&["check", &file, "--model", "kv", "--json"]));
    assert_eq!(
        first.1, second.1,
        "checking the same history twice gives the same bytes"
    );
}

#[test]
fn a_store_directory_is_checked_through_its_history() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "history.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n{\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n",
    );
    let (code, stdout, stderr) = outcome(&run(&["check", &dir.path().display().to_string()]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn initial_value_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "h.jsonl",
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n{\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":0}\n",
    );
    assert_eq!(
        outcome(&run(&["check", &file])).0,
        1,
        "a fresh register is absent, not 0"
    );
    assert_eq!(outcome(&run(&["check", &file, "--initial", "0"])).0, 0);
}

#[test]
fn an_exhausted_budget_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl").display().to_string();
    let generated = run(&[
        "generate",
        "--ops",
        "20000",
        "--keys",
        "1",
        "--clients",
        "8",
        "--out",
        &file,
    ]);
    assert!(generated.status.success());
    let (code, stdout, _) = outcome(&run(&["check", &file, "--memory-limit", "1"]));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("memory budget of 1 MiB"), "{stdout}");
}

/// Each kind of bad input: a clear message naming the file and line, exit 254.
#[test]
fn bad_input_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let invoke = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}";
    let cases = [
        (
            "malformed.jsonl",
            format!("{invoke}\n{{\"type\":\"ok\",\"process\":0,\n"),
            "malformed.jsonl:2: malformed JSON Lines line",
        ),
        (
            "unknown.txt",
            "this is not a history\n".to_string(),
            "unknown.txt:1: unknown history format",
        ),
        (
            "orphan.jsonl",
            "{\"type\":\"ok\",\"process\":4,\"f\":\"read\",\"value\":1}\n".to_string(),
            "orphan.jsonl:1: orphan completion: p4 completes `read`",
        ),
        (
            "double.jsonl",
            format!("{invoke}\n{invoke}\n"),
            "double.jsonl:2: double invocation: p0 invokes `read` while its `read` from line 1 is still in flight",
        ),
        (
            "empty.jsonl",
            String::new(),
            "empty.jsonl: the history is empty",
        ),
        (
            "model.jsonl",
            "{\"type\":\"invoke\",\"process\":0,\"f\":\"enqueue\",\"value\":1}\n".to_string(),
            "model.jsonl:1: operation `enqueue` is not part of the cas-register model",
        ),
    ];
    for (name, text, expected) in cases {
        let file = write(dir.path(), name, &text);
        let (code, stdout, stderr) = outcome(&run(&["check", &file]));
        assert_eq!(code, 254, "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn bad_arguments_exit_254() {
    let file = corpus("jepsen/etcd_002.log");
    for args in [
        vec!["check", file.as_str(), "--model", "queue"],
        vec!["check", file.as_str(), "--format", "xml"],
        vec!["check", file.as_str(), "--time-limit", "0"],
        vec!["check", file.as_str(), "--models", "linearizable,eventual"],
        vec!["check", "/nonexistent/history.jsonl"],
        vec!["check"],
        vec!["frobnicate"],
    ] {
        let (code, _, stderr) = outcome(&run(&args));
        assert_eq!(code, 254, "{args:?}: {stderr}");
        assert!(!stderr.is_empty(), "{args:?} says why");
    }
    assert_eq!(outcome(&run(&["--help"])).0, 0);
}

#[test]
fn the_consistency_profile_names_what_holds_and_why_the_rest_does_not() {
    let dir = tempfile::tempdir().unwrap();
    // p0 writes x then y; p1 sees y but then misses x: not even causal.
    let history = [
        r#"{"type":"invoke","process":0,"f":"write","key":"x","value":1}"#,
        r#"{"type":"ok","process":0,"f":"write","key":"x","value":1}"#,
        r#"{"type":"invoke","process":0,"f":"write","key":"y","value":1}"#,
        r#"{"type":"ok","process":0,"f":"write","key":"y","value":1}"#,
        r#"{"type":"invoke","process":1,"f":"read","key":"y","value":null}"#,
        r#"{"type":"ok","process":1,"f":"read","key":"y","value":1}"#,
        r#"{"type":"invoke","process":1,"f":"read","key":"x","value":null}"#,
        r#"{"type":"ok","process":1,"f":"read","key":"x","value":null}"#,
    ]
    .join("\n");
    let file = write(dir.path(), "h.jsonl", &(history + "\n"));
    let (code, stdout, stderr) = outcome(&run(&["check", &file, "--models", "all"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    for line in [
        "consistency profile:",
        "  linearizable           invalid",
        "  causal-cc              invalid  WriteCOInitRead",
        "  read-your-writes       valid",
        "  monotonic-writes       invalid  monotonic-writes",
        "causal-cc — WriteCOInitRead:",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }
    let (code, json, _) = outcome(&run(&[
        "check",
        &file,
        "--models",
        "causal-cc,monotonic-writes",
        "--json",
    ]));
    assert_eq!(code, 1);
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    let profile = results["checkers"]["profile"].as_array().unwrap();
    assert_eq!(profile.len(), 2, "only the models asked for: {json}");
    assert!(results["checkers"]["linearizable"].is_null());
    assert_eq!(profile[1]["model"], "monotonic-writes");
    assert_eq!(profile[1]["valid"], serde_json::json!(false));
    assert_eq!(
        profile[1]["witness"]["operations"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
