//! Headless chromium, to load a report as a user's browser would: for the
//! browser tests and the report benchmark.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What chromium made of a page.
#[derive(Debug)]
pub struct Loaded {
    /// The DOM after the page's scripts ran (`--dump-dom`).
    pub dom: String,
    /// Chromium's log; console messages show as lines with `:CONSOLE`.
    pub log: String,
}

impl Loaded {
    /// The page's console messages (errors, warnings, logs, CSP violations).
    pub fn console_messages(&self) -> Vec<&str> {
        self.log
            .lines()
            .filter(|line| line.contains(":CONSOLE"))
            .collect()
    }

    /// A `data-…` attribute the report's script sets on `<body>`.
    pub fn body_data(&self, name: &str) -> Option<&str> {
        let body = &self.dom[self.dom.find("<body")?..];
        let body = &body[..body.find('>')?];
        let start = body.find(&format!("data-{name}=\""))? + name.len() + 7;
        let value = &body[start..];
        Some(&value[..value.find('"')?])
    }
}

/// Debian's chromium (or another Chromium) on the PATH.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
}

/// Loads `page` in headless `chromium` with `extra` flags, in a throwaway
/// profile, and waits for it at most `limit` (then kills it).
///
/// # Errors
/// Chromium cannot start or takes longer than `limit`.
pub fn load(
    chromium: &Path,
    page: &Path,
    extra: &[String],
    limit: Duration,
) -> Result<Loaded, String> {
    static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let profile = std::env::temp_dir().join(format!(
        "faultline-chromium-{}-{}",
        std::process::id(),
        LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let page = page
        .canonicalize()
        .map_err(|error| format!("{}: {error}", page.display()))?;
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| format!("{}: cannot start: {error}", chromium.display()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let dom = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let log = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let mut late = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                late = true;
                // Chromium's helpers share its process group: end them all.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Err(error.to_string()),
        }
    }
    let loaded = Loaded {
        dom: dom.join().unwrap_or_default(),
        log: log.join().unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&profile);
    if late {
        return Err(format!(
            "chromium did not finish within {} s",
            limit.as_secs()
        ));
    }
    Ok(loaded)
}
