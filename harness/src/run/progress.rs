//! What a person watching a run sees: a progress bar on a terminal (plain
//! lines in CI), and Ctrl-C turned into an orderly stop.

use crate::nemesis;
use crate::recorder::Recorder;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Ctrl-C or SIGTERM stops the workload; the run then tears down and checks
/// what it recorded.
pub async fn stop_on_signal(stop: Arc<AtomicBool>, interrupted: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    eprintln!(
        "interrupted: stopping the workload, then stopping the nodes and checking the history so far"
    );
    interrupted.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
}

/// A progress bar on a terminal; plain lines every 5 s otherwise (CI). The
/// rate is over the last second or so; past the time limit the run is healing
/// and reading every key.
pub async fn report_progress(
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    limit_s: f64,
    in_force: Arc<nemesis::InForce>,
) {
    let started = Instant::now();
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new((limit_s * 1000.0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let mut last_line = Instant::now();
    // (when, completed operations) over the last second, for the rate.
    let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let counts = &recorder.counts;
        let (ok, fail, info) = (
            counts.ok.load(Ordering::Relaxed),
            counts.fail.load(Ordering::Relaxed),
            counts.info.load(Ordering::Relaxed),
        );
        let total = ok + fail + info;
        let now = Instant::now();
        window.push_back((now, total));
        while window.len() > 2 && now.duration_since(window[0].0) > Duration::from_secs(1) {
            window.pop_front();
        }
        let (since, before) = window[0];
        let rate = (total - before) as f64 / now.duration_since(since).as_secs_f64().max(0.2);
        let elapsed = started.elapsed().as_secs_f64();
        let faults = in_force.describe();
        let phase = if elapsed <= limit_s {
            format!("{elapsed:.0}/{limit_s:.0} s")
        } else if faults.is_some() {
            "time is up, healing".to_string()
        } else {
            "healed, final reads".to_string()
        };
        let message = format!(
            "{phase}, {rate:.0} ops/s, ok {ok}, fail {fail}, info {info}, faults: {}",
            faults.as_deref().unwrap_or("none")
        );
        match &bar {
            Some(bar) => {
                bar.set_position((elapsed * 1000.0) as u64);
                bar.set_message(message);
            }
            None if last_line.elapsed() >= Duration::from_secs(5) => {
                println!("progress: {message}");
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
