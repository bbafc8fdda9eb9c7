//! The readers: every format, format detection, and each kind of bad input
//! mapped to its typed error with the right line.

use histories::{EventType, Format, HistoryError, Outcome, Process, parse};
use serde_json::json;

#[test]
fn jsonl_round_trips_exactly() {
    let line = r#"{"index":1,"time":10,"type":"ok","process":0,"f":"write","key":"x","value":1}"#;
    let text = format!(
        "{}\n{line}\n",
        line.replace(
            r#""index":1,"time":10,"type":"ok""#,
            r#""index":0,"time":5,"type":"invoke""#
        )
    );
    let history = parse("h.jsonl", &text, None).unwrap();
    assert_eq!(histories::to_jsonl_line(&history.events[1]), line);
    let mut written = Vec::new();
    histories::write_jsonl(&history.events, &mut written).unwrap();
    assert_eq!(String::from_utf8(written).unwrap(), text);
}

#[test]
fn jsonl_nemesis_and_errors_are_kept() {
    let text = r#"{"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n2"]}}
{"type":"invoke","process":3,"f":"read","value":null}
{"type":"info","process":3,"f":"read","value":null,"error":"timeout"}
"#;
    let history = parse("h.jsonl", text, None).unwrap();
    assert_eq!(history.events[0].process, Process::Nemesis);
    assert_eq!(history.events[2].error, Some(json!("timeout")));
    assert_eq!(history.operations.len(), 1);
    assert_eq!(history.operations[0].outcome, Outcome::Info);
}

#[test]
fn edn_history_lines_with_comments_and_nemesis() {
    let text = r#"; a Jepsen history.edn
{:type :invoke, :f :write, :value 3, :time 10, :process 0, :index 0}
{:type :info, :f :start-partition, :value {"n1" #{"n2" "n3"}}, :time 11, :process :nemesis, :index 1}
{:type :ok, :f :write, :value 3, :time 12, :process 0, :index 2}
#jepsen.history.Op{:index 3, :time 13, :type :invoke, :process 1, :f :read, :value nil}
{:type :fail, :f :read, :value nil, :time 14, :process 1, :index 4, :error [:timeout "gave up \"soon\""]}
"#;
    let history = parse("h.edn", text, None).unwrap();
    assert_eq!(history.events.len(), 5);
    assert_eq!(history.events[1].process, Process::Nemesis);
    assert_eq!(history.events[1].value, json!({"n1": ["n2", "n3"]}));
    assert_eq!(history.events[3].kind, EventType::Invoke);
    assert_eq!(
        history.events[4].error,
        Some(json!(["timeout", "gave up \"soon\""]))
    );
    assert_eq!(history.lines, vec![2, 3, 4, 5, 6]);
    assert_eq!(history.operations[1].outcome, Outcome::Fail);
}

#[test]
fn edn_single_vector_without_times_uses_history_order() {
    let text = "[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n {:process 0, :type :ok, :f :cas, :value [1 2]}\n {:process 1, :type :invoke, :f :read, :value nil}]";
    let history = parse("v.edn", text, None).unwrap();
    assert_eq!(
        history
            .events
            .iter()
            .map(|event| event.time_ns)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(history.lines, vec![1, 2, 3]);
    assert_eq!(history.events[0].value, json!([1, 2]));
    assert!(
        history.events[0].key.is_none(),
        "a cas's [old new] is not an independent tuple"
    );
    // The unfinished read is indeterminate.
    assert_eq!(history.operations[1].outcome, Outcome::Info);
}

#[test]
fn edn_independent_tuples_become_keys() {
    let text = "{:process 0, :type :invoke, :f :cas, :value [7 [1 2]]}\n{:process 0, :type :ok, :f :cas, :value [7 [1 2]]}\n{:process 1, :type :invoke, :f :read, :value [8 nil]}\n{:process 1, :type :ok, :f :read, :value [8 3]}\n";
    let history = parse("i.edn", text, None).unwrap();
    assert_eq!(history.events[0].key, Some(json!(7)));
    assert_eq!(history.events[0].value, json!([1, 2]));
    assert_eq!(history.events[3].key, Some(json!(8)));
    assert_eq!(history.events[3].value, json!(3));
}

#[test]
fn porcupine_etcd_log_with_timeouts() {
    let text = "INFO  jepsen.util - 0\t:invoke\t:write\t4\nINFO  jepsen.util - 1\t:invoke\t:cas\t[4 0]\nINFO  jepsen.util - 0\t:info\t:write\t:timed-out\nINFO  jepsen.util - 1   :fail :cas    [4 0]\n";
    assert_eq!(
        histories::detect("e.log", text).unwrap(),
        Format::PorcupineEtcd
    );
    let history = parse("e.log", text, None).unwrap();
    assert_eq!(history.events[2].kind, EventType::Info);
    assert_eq!(
        history.events[2].value,
        json!(4),
        "a timed-out completion carries its invocation's value"
    );
    assert_eq!(history.events[2].error, Some(json!("timed-out")));
    assert_eq!(history.events[3].value, json!([4, 0]));
}

#[test]
fn porcupine_kv_log_is_edn_with_keys() {
    let text = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n{:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"}\n";
    assert_eq!(histories::detect("c.txt", text).unwrap(), Format::Edn);
    let history = parse(
        "c.txt",
        text,
        Some(Format::from_name("porcupine-kv").unwrap()),
    )
    .unwrap();
    assert_eq!(history.events[0].key, Some(json!("0")));
}

fn error(text: &str) -> HistoryError {
    parse("bad.jsonl", text, None).unwrap_err()
}

#[test]
fn bad_input_gets_typed_errors_naming_file_and_line() {
    let invoke = r#"{"type":"invoke","process":0,"f":"read","value":null}"#;
    let ok = r#"{"type":"ok","process":0,"f":"read","value":1}"#;
    let cases: Vec<(String, HistoryError)> = vec![
        (
            String::new(),
            HistoryError::Empty {
                file: "bad.jsonl".into(),
            },
        ),
        (
            "\n\n".into(),
            HistoryError::Empty {
                file: "bad.jsonl".into(),
            },
        ),
        (
            "hello there\n".into(),
            HistoryError::UnknownFormat {
                file: "bad.jsonl".into(),
                line: 1,
            },
        ),
        (
            ok.to_string(),
            HistoryError::OrphanCompletion {
                file: "bad.jsonl".into(),
                line: 1,
                process: Process::Client(0),
                f: "read".into(),
            },
        ),
        (
            format!("{invoke}\n{invoke}\n"),
            HistoryError::DoubleInvoke {
                file: "bad.jsonl".into(),
                line: 2,
                process: Process::Client(0),
                f: "read".into(),
                pending_f: "read".into(),
                pending_line: 1,
            },
        ),
        (
            format!("{invoke}\n{}\n", ok.replace("read", "write")),
            HistoryError::MismatchedCompletion {
                file: "bad.jsonl".into(),
                line: 2,
                process: Process::Client(0),
                f: "write".into(),
                invoked_f: "read".into(),
                invoke_line: 1,
            },
        ),
        (
            format!(
                "{}\n{}\n",
                invoke.replace("\"type\"", "\"time\":9,\"type\""),
                ok.replace("\"type\"", "\"time\":3,\"type\"")
            ),
            HistoryError::TimeWentBackwards {
                file: "bad.jsonl".into(),
                line: 2,
                time_ns: 3,
                previous_time_ns: 9,
                previous_line: 1,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), expected, "for {text:?}");
    }
}

#[test]
fn malformed_lines_name_the_line_and_what_was_expected() {
    let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n{\"type\":\"maybe\",\"process\":0}\n";
    let message = error(text).to_string();
    assert!(
        message.starts_with("bad.jsonl:2: malformed JSON Lines line:"),
        "{message}"
    );
    assert!(message.contains("expected one JSON object"), "{message}");

    let message = parse(
        "bad.edn",
        "{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0 :f}\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.starts_with("bad.edn:2: malformed EDN line"),
        "{message}"
    );

    // A map left open is named at the line it starts, not at the end of the file.
    let message = parse(
        "bad.edn",
        "{:type :invoke, :process 0, :f :read}\n{:type :ok, :process 0, :f :read\n\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        message
            .starts_with("bad.edn:2: malformed EDN line: the form that starts here is not closed"),
        "{message}"
    );

    let message = parse(
        "bad.edn",
        "{:type :sometimes, :process 0, :f :read}\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("unknown :type :sometimes; expected :invoke, :ok, :fail or :info"),
        "{message}"
    );

    let message = parse(
        "bad.log",
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - x\t:ok\t:read\t1\n",
        Some(Format::PorcupineEtcd),
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.starts_with("bad.log:2: malformed Porcupine etcd log line: found process \"x\""),
        "{message}"
    );
}
