//! The report end to end: a run's `report.html` loads in headless chromium with
//! no console message and shows the verdict and the witness drawn; hostile
//! values written to a store and read back stay text; `report` re-renders with
//! JUnit and Markdown outputs; `serve` lists runs and serves only the store.

use crate::util::{faultline, outcome, run};
use faultline::report::browser;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Debian's chromium, if installed. `.ci/run` installs it and sets
/// `FAULTLINE_REQUIRE_CHROMIUM`, so CI cannot skip the browser tests.
fn chromium() -> Option<PathBuf> {
    let found = browser::find();
    if found.is_none() {
        assert!(
            std::env::var_os("FAULTLINE_REQUIRE_CHROMIUM").is_none(),
            "chromium is required here (apt-get install chromium)"
        );
        eprintln!("chromium not installed: skipping the browser check");
    }
    found
}

fn browse(chromium: &Path, page: &Path, extra: &[String]) -> browser::Loaded {
    browser::load(chromium, page, extra, Duration::from_secs(90)).expect("chromium loads the page")
}

/// A short run of chain-kv with its stale-read bug, without faults.
fn buggy_run(store: &Path, extra: &[&str]) -> (i32, String, PathBuf) {
    let store_arg = store.display().to_string();
    let mut args = vec![
        "run",
        "--bug",
        "read-from-head",
        "--nemesis",
        "none",
        "--time-limit",
        "4",
        "--seed",
        "3",
        "--store",
        &store_arg,
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = outcome(&run(&args));
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    (code, stdout, store.join("latest").canonicalize().unwrap())
}

#[test]
fn a_buggy_runs_report_renders_its_verdict_and_witness_without_console_messages() {
    let store = tempfile::tempdir().unwrap();
    let (code, stdout, dir) = buggy_run(store.path(), &[]);
    assert_eq!(code, 1, "read-from-head is caught: {stdout}");
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(stdout.contains(&format!("report={}", page.display())) || stdout.contains("report="));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );
    assert!(html.contains(r#"<span class="badge invalid" id="verdict">invalid</span>"#));
    let Some(chromium) = chromium() else { return };
    let screenshot = dir.join("report.png");
    let loaded = browse(
        &chromium,
        &page,
        &[format!("--screenshot={}", screenshot.display())],
    );
    assert_eq!(
        loaded.console_messages(),
        Vec::<&str>::new(),
        "{}",
        loaded.log
    );
    assert_eq!(
        loaded.body_data("rendered"),
        Some("yes"),
        "the script ran to the end"
    );
    let dom = &loaded.dom;
    assert!(
        dom.contains(r#"data-rendered="yes""#),
        "the script ran to the end"
    );
    assert!(!dom.contains("data-errors"), "no script error");
    assert!(dom.contains(r#"id="verdict">invalid</span>"#));
    assert!(
        dom.contains(r#"<svg class="witness-timeline""#),
        "a witness is drawn"
    );
    assert!(dom.contains(" culprit\""), "its culprit is marked");
    assert!(dom.contains("<td>linearizable</td>"));
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|meta| meta.len() > 10_000),
        "a screenshot is saved"
    );
    // Kept beside the build, for a CI artifact.
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-of-a-planted-bug.png");
    std::fs::copy(&screenshot, &kept).unwrap();
}

#[test]
fn hostile_values_written_to_the_store_and_read_back_are_shown_as_text() {
    let store = tempfile::tempdir().unwrap();
    let hostile = r#"</script><img src=x onerror="document.title='owned'">"'&<b>"#;
    let (_, _, dir) = buggy_run(store.path(), &["--value-prefix", hostile]);
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains(r#"\"document.title='owned'\">"#),
        "the store returned the value as written"
    );
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<img"), "no markup from the store");
    assert!(!html.contains("<b>"), "no markup from the store");
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "only the page's own scripts end"
    );
    assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror="));
    let Some(chromium) = chromium() else { return };
    let loaded = browse(&chromium, &page, &[]);
    assert_eq!(
        loaded.console_messages(),
        Vec::<&str>::new(),
        "{}",
        loaded.log
    );
    let dom = &loaded.dom;
    assert!(dom.contains(r#"data-rendered="yes""#));
    assert!(!dom.contains("<img"), "no element was injected");
    assert!(!dom.contains("<title>owned"), "no script was run");
    assert!(
        dom.contains("&lt;/script&gt;&lt;img src=x"),
        "the value shows as text"
    );
}

#[test]
fn report_re_renders_a_stored_run_with_junit_and_a_summary() {
    let store = tempfile::tempdir().unwrap();
    let junit = store.path().join("junit.xml");
    let summary = store.path().join("summary.md");
    let (_, _, dir) = buggy_run(
        store.path(),
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
        ],
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testcase classname="faultline" name="linearizable"><failure message="Not linearizable on key"#), "{xml}");
    assert_eq!(
        xml.matches("<testcase ").count(),
        9,
        "one case per model: {xml}"
    );
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(
        markdown.starts_with("## faultline: chain-kv-cas-register — invalid"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| linearizable | ❌ invalid |"),
        "{markdown}"
    );

    std::fs::remove_file(dir.join("report.html")).unwrap();
    std::fs::remove_file(&junit).unwrap();
    let (code, stdout, stderr) = outcome(&run(&[
        "report",
        dir.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "the stored verdict: {stdout}{stderr}");
    assert!(dir.join("report.html").is_file());
    assert_eq!(
        std::fs::read_to_string(&junit).unwrap(),
        xml,
        "the same verdicts"
    );

    let (code, _, stderr) = outcome(&run(&[
        "report",
        store.path().join("nothing").to_str().unwrap(),
    ]));
    assert_eq!(code, 254);
    assert!(stderr.contains("not a run's store directory"), "{stderr}");
    std::fs::remove_file(dir.join("results.json")).unwrap();
    let (code, _, stderr) = outcome(&run(&["report", dir.to_str().unwrap()]));
    assert_eq!(code, 254);
    assert!(
        stderr.contains("results.json: cannot read the results"),
        "{stderr}"
    );
}

#[test]
fn check_junit_and_summary_work_on_any_history_file() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("j.xml");
    let summary = dir.path().join("s.md");
    let (code, _, stderr) = outcome(&run(&[
        "check",
        "histories/examples/stale-read.jsonl",
        "--models",
        "all",
        "--junit",
        junit.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="histories/examples/stale-read.jsonl""#),
        "{xml}"
    );
    assert!(xml.contains("<failure message="), "{xml}");
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("| linearizable | ❌ invalid |")
    );
}

#[test]
fn serve_lists_the_runs_and_serves_only_the_store() {
    let store = tempfile::tempdir().unwrap();
    let (_, _, dir) = buggy_run(store.path(), &[]);
    let mut server = faultline()
        .args(["serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(store.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let get = |path: &str| -> (u16, String) {
        let address = base.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response[9..12].parse().unwrap();
        (status, response)
    };
    let run_path = format!(
        "{}/{}",
        dir.parent().unwrap().file_name().unwrap().to_str().unwrap(),
        dir.file_name().unwrap().to_str().unwrap()
    );
    let (status, index) = get("/");
    assert_eq!(status, 200);
    assert!(
        index.contains(&format!(
            r#"<a href="/runs/{run_path}/report.html">report</a>"#
        )),
        "{index}"
    );
    assert!(index.contains(r#"class="v invalid""#), "{index}");
    let (status, report) = get(&format!("/runs/{run_path}/report.html"));
    assert_eq!(status, 200);
    assert!(report.contains("text/html"));
    assert_eq!(get("/runs/../../../../etc/passwd").0, 404);
    assert_eq!(get("/runs/%2e%2e/%2e%2e/etc/passwd").0, 404);
    assert_eq!(get(&format!("/runs/{run_path}/nothing")).0, 404);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C or SIGTERM ends it cleanly");
}
