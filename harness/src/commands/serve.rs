//! `faultline serve`: a page listing the stored runs, newest first, each with
//! its verdict and links to its report, history and results; and the files of
//! each run. Only files inside the store are served.

use crate::exit::{self, BadInput};
use crate::report::escape;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// `faultline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store to browse.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
}

/// Runs `faultline serve` until Ctrl-C or SIGTERM.
///
/// # Errors
/// No such store, an address that cannot be listened on, or the server failing.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let store = match args.store.canonicalize() {
        Ok(store) if store.is_dir() => store,
        _ => {
            return Err(BadInput(format!(
                "{}: no such store directory (runs are stored under --store, default store/)",
                args.store.display()
            ))
            .into());
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("cannot start: {error}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|error| BadInput(format!("cannot listen on {}: {error}", args.bind)))?;
        let address = listener
            .local_addr()
            .map_or_else(|_| args.bind.to_string(), |address| address.to_string());
        println!("serving {} at http://{address}/", store.display());
        let app = Router::new()
            .route("/", get(index))
            .route("/runs/{*path}", get(file))
            .with_state(Arc::new(store));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stopped())
            .await;
        served.map_err(anyhow::Error::from)?;
        Ok(exit::VALID)
    })
}

async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A stored run, as the index lists it.
#[derive(Debug, PartialEq)]
pub struct StoredRun {
    /// `<test>/<timestamp>`, relative to the store.
    pub path: String,
    /// The test's name.
    pub test: String,
    /// The run's timestamp.
    pub stamp: String,
    /// `valid`, `invalid`, `unknown`, or `unchecked`.
    pub verdict: &'static str,
    /// Whether it has a report.
    pub report: bool,
}

/// The runs under `store` (`<test>/<timestamp>/` with a history), newest first.
pub fn runs(store: &Path) -> Vec<StoredRun> {
    let mut runs = Vec::new();
    let Ok(tests) = std::fs::read_dir(store) else {
        return runs;
    };
    for test in tests.flatten() {
        if !test.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        let Ok(stamps) = std::fs::read_dir(test.path()) else {
            continue;
        };
        for stamp in stamps.flatten() {
            let dir = stamp.path();
            if !stamp.file_type().is_ok_and(|kind| kind.is_dir())
                || !dir.join("history.jsonl").is_file()
            {
                continue;
            }
            let test_name = test.file_name().to_string_lossy().into_owned();
            let stamp_name = stamp.file_name().to_string_lossy().into_owned();
            runs.push(StoredRun {
                path: format!("{test_name}/{stamp_name}"),
                test: test_name,
                stamp: stamp_name,
                verdict: stored_verdict(&dir.join("results.json")),
                report: dir.join("report.html").is_file(),
            });
        }
    }
    runs.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.test.cmp(&b.test)));
    runs
}

/// The verdict at the top of a results.json, read without parsing the rest.
fn stored_verdict(path: &Path) -> &'static str {
    use std::io::Read;
    let mut head = [0_u8; 256];
    let Ok(read) = std::fs::File::open(path).and_then(|mut file| file.read(&mut head)) else {
        return "unchecked";
    };
    let head = String::from_utf8_lossy(&head[..read]);
    let Some(line) = head
        .lines()
        .find(|line| line.trim_start().starts_with("\"valid\""))
    else {
        return "unknown";
    };
    match line
        .split(':')
        .nth(1)
        .map(|value| value.trim().trim_end_matches(','))
    {
        Some("true") => "valid",
        Some("false") => "invalid",
        _ => "unknown",
    }
}

async fn index(State(store): State<Arc<PathBuf>>) -> Html<String> {
    let mut page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>faultline runs</title>
<style>body{{font:14px/1.5 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px}}table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:4px 10px;border-bottom:1px solid #ddd}}
.v{{display:inline-block;width:.9em;height:.9em;border-radius:50%;margin-right:6px;vertical-align:-1px}}.valid{{background:#2e8b57}}.invalid{{background:#c9302c}}.unknown{{background:#d98e04}}.unchecked{{background:#999}}</style></head>
<body><h1>faultline runs</h1><p>{}</p><table><thead><tr><th>run</th><th>time</th><th>verdict</th><th>files</th></tr></thead><tbody>"#,
        escape(&store.display().to_string())
    );
    for run in runs(&store) {
        let report = if run.report {
            format!(
                r#"<a href="/runs/{}/report.html">report</a> · "#,
                escape(&run.path)
            )
        } else {
            String::new()
        };
        let _ = write!(
            page,
            r#"<tr><td>{}</td><td>{}</td><td><span class="v {}"></span>{}</td><td>{report}<a href="/runs/{}/history.jsonl">history</a> · <a href="/runs/{}/results.json">results</a></td></tr>"#,
            escape(&run.test),
            escape(&run.stamp),
            run.verdict,
            run.verdict,
            escape(&run.path),
            escape(&run.path),
        );
    }
    page.push_str("</tbody></table></body></html>\n");
    Html(page)
}

async fn file(State(store): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    match resolve(&store, &path) {
        Some(file) => match tokio::fs::read(&file).await {
            Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&file))], bytes).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The file `path` names inside `store`, if it is one: no `..`, no absolute
/// paths, and no symbolic link leading out of the store.
pub fn resolve(store: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    if !relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return None;
    }
    let file = store.join(relative).canonicalize().ok()?;
    (file.starts_with(store) && file.is_file()).then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("xml") => "application/xml",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_listed_newest_first_with_their_verdicts() {
        let store = tempfile::tempdir().unwrap();
        for (test, stamp, results) in [
            (
                "chain-kv-register",
                "20260101T000000.000",
                Some("{\n  \"valid\": true,\n"),
            ),
            (
                "chain-kv-register",
                "20260102T000000.000",
                Some("{\n  \"valid\": false,\n"),
            ),
            ("twopc-kv-list-append", "20260103T000000.000", None),
        ] {
            let dir = store.path().join(test).join(stamp);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("history.jsonl"), "").unwrap();
            if let Some(results) = results {
                std::fs::write(dir.join("results.json"), results).unwrap();
            }
        }
        std::os::unix::fs::symlink(
            "chain-kv-register/20260102T000000.000",
            store.path().join("latest"),
        )
        .unwrap();
        let listed: Vec<_> = runs(store.path())
            .into_iter()
            .map(|run| (run.test, run.verdict))
            .collect();
        assert_eq!(
            listed,
            [
                ("twopc-kv-list-append".to_string(), "unchecked"),
                ("chain-kv-register".to_string(), "invalid"),
                ("chain-kv-register".to_string(), "valid"),
            ]
        );
    }

    #[test]
    fn only_files_inside_the_store_are_served() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let store = tempfile::tempdir().unwrap();
        let store_path = store.path().canonicalize().unwrap();
        std::fs::create_dir_all(store_path.join("t/r")).unwrap();
        std::fs::write(store_path.join("t/r/history.jsonl"), "").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), store_path.join("t/r/leak"))
            .unwrap();
        assert!(resolve(&store_path, "t/r/history.jsonl").is_some());
        assert!(resolve(&store_path, "t/../../etc/passwd").is_none());
        assert!(resolve(&store_path, "/etc/passwd").is_none());
        assert!(resolve(&store_path, "t/r/leak").is_none());
        assert!(resolve(&store_path, "t/r").is_none());
    }
}
