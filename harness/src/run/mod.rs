//! `faultline run`: the main job, step by step.
//!
//! 1. Validate the arguments into a plan; refuse a bad one before anything starts.
//! 2. Create the store directory and write `plan.json`; print the seed and the path.
//! 3. Start the nodes (real processes, each in its own process group, dying with
//!    this one; logs and data under `nodes/` in the store) and wait until the
//!    cluster answers.
//! 4. Run the workload: one task per worker thread, each a logical process bound
//!    to a node, until the time limit or Ctrl-C; every invocation and completion
//!    goes through the recorder into `history.jsonl`. A process whose operation
//!    ends `info` is retired and a fresh id takes its place.
//! 5. Stop the nemesis, heal every fault, wait until the cluster answers, and
//!    read every key the workload may have touched.
//! 6. Stop every node (also on errors and panics: the cluster kills them on drop).
//! 7. Check the history, write `results.json`, print the verdict last.

pub mod plan;
pub mod progress;
pub mod setup;
pub mod store;
pub mod worker;

use crate::checking;
use crate::client::bound_http_client;
use crate::exit;
use crate::nemesis;
use crate::recorder::Recorder;
use crate::workload::{GeneratorOptions, Stream};
use checkers::Validity;
use plan::Plan;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use worker::Worker;

pub use plan::{PlanError, RunArgs};

/// Why a run did not end in a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plan was refused before anything started: bad input (exit 254).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The controller's runtime could not start.
    #[error("starting the controller's runtime: {0}")]
    Runtime(std::io::Error),
    /// The store directory cannot hold the run.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// This program's own path is unknown (nodes run it).
    #[error("cannot find this program: {0}")]
    Exe(std::io::Error),
    /// The processes could not be started or did not become ready.
    #[error(transparent)]
    Cluster(#[from] crate::target::cluster::ClusterError),
    /// The network the faults act on could not be made.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// The clocks the faults move could not be made.
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
    /// A node's client could not be opened.
    #[error(transparent)]
    Open(#[from] crate::client::OpenError),
    /// A fault could not be made or undone.
    #[error(transparent)]
    Nemesis(#[from] nemesis::NemesisError),
    /// The history could not be written.
    #[error("writing the history: {0}")]
    History(std::io::Error),
    /// A task of the controller panicked.
    #[error("a task of the controller failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The run stopped before its checks; what was recorded is kept.
    #[error("the run failed: {source}; its history so far is in {}", dir.display())]
    Stopped {
        /// The first thing that went wrong.
        source: Box<RunError>,
        /// The run's store directory.
        dir: std::path::PathBuf,
    },
    /// The history could not be checked.
    #[error(transparent)]
    Check(#[from] checking::CheckError),
    /// The report or a CI output could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl RunError {
    /// The exit code: bad input is the user's to fix (254); anything else is
    /// the harness's failure (255).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Plan(_) => exit::BAD_ARGUMENTS,
            _ => exit::HARNESS_FAILED,
        }
    }
}

/// Runs `faultline run`; returns the exit code of its verdict.
///
/// # Errors
/// A refused plan, or a run that failed before its verdict.
pub fn run(args: &RunArgs) -> Result<u8, RunError> {
    let plan = Plan::from_args(args)?;
    // One thread drives every client: on a small machine shared with the nodes,
    // cross-thread wake-ups cost more than they give.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    runtime.block_on(execute(plan))
}

async fn execute(plan: Plan) -> Result<u8, RunError> {
    let dir = store::create(&plan.store, &plan.test)?;
    println!("seed={} store={}", plan.seed, dir.display());
    let plan_json = serde_json::to_string_pretty(&plan).expect("the plan serializes") + "\n";
    let plan_path = dir.join("plan.json");
    crate::files::write_atomically(&plan_path, plan_json.as_bytes())
        .map_err(store::StoreError::at("cannot write", &plan_path))?;

    let setup::Started {
        cluster,
        net,
        clocks,
        local_address,
    } = setup::start(&plan, &dir)?;
    let addresses = cluster.addresses();
    let client = bound_http_client(
        Duration::from_millis(plan.timeout_ms),
        plan.concurrency,
        local_address,
    );
    let readiness = cluster.readiness(&client)?;
    readiness.wait(&client).await?;

    let start = Instant::now();
    let recorder =
        Arc::new(Recorder::create(&dir.join("history.jsonl"), start).map_err(RunError::History)?);
    let flusher = tokio::spawn(recorder.clone().flush_queued());
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(progress::stop_on_signal(stop.clone(), interrupted.clone()));
    let in_force = Arc::new(nemesis::InForce::default());
    let progress = tokio::spawn(progress::report_progress(
        recorder.clone(),
        stop.clone(),
        plan.time_limit_s,
        in_force.clone(),
    ));
    let (nodes, ids) = (cluster.nodes(), cluster.ids());
    let cluster = Arc::new(std::sync::Mutex::new(cluster));
    let arena = Arc::new(nemesis::fault::Arena {
        cluster: cluster.clone(),
        net: net.clone(),
        clocks,
        nodes: nodes.clone(),
    });
    let packet = match &net {
        Some(net) => net.lock().expect("net lock").effective(plan.nemesis.packet),
        None => plan.nemesis.packet,
    };
    let schedule = nemesis::schedule::schedule(
        &plan.nemesis,
        plan.seed,
        &nemesis::schedule::Cluster {
            nodes: &nodes,
            ids: &ids,
            packet,
        },
        Duration::from_secs_f64(plan.time_limit_s),
    );
    let environment = Arc::new(nemesis::Environment {
        kinds: plan.nemesis.faults.clone(),
        arena,
        recorder: recorder.clone(),
        in_force,
    });
    let calm_nemesis = Arc::new(AtomicBool::new(false));
    let nemesis = tokio::spawn(nemesis::run(
        schedule,
        tokio::time::Instant::from_std(start),
        environment.clone(),
        calm_nemesis.clone(),
    ));
    let options = GeneratorOptions {
        mix: plan.mix,
        key_count: plan.key_count,
        ops_per_key: plan.ops_per_key,
        concurrency: plan.concurrency,
        rate: plan.rate,
        seed: plan.seed,
        value_prefix: plan.value_prefix.clone(),
    };
    let deadline = start + Duration::from_secs_f64(plan.time_limit_s);
    // Worker `thread` is bound to node `thread mod n`, and stops on `stop`.
    let endpoints = addresses
        .iter()
        .map(|address| plan.under_test.open_client(address, &client))
        .collect::<Result<Vec<_>, _>>()?;
    let make_worker = |thread: usize, stop: &Arc<AtomicBool>| Worker {
        thread,
        concurrency: plan.concurrency,
        endpoint: endpoints[thread % endpoints.len()].clone(),
        recorder: recorder.clone(),
        stop: stop.clone(),
    };
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|thread| {
            let worker = make_worker(thread, &stop);
            let stream = Stream::new(&*plan.workload, &options, thread);
            tokio::spawn(worker.run(stream, deadline))
        })
        .collect();
    let mut generations = 0;
    let mut failure: Option<RunError> = None;
    let mut processes = Vec::new();
    for worker in workers {
        match worker.await {
            Ok(Ok((generation, process))) => {
                generations = generations.max(generation);
                processes.push(process);
            }
            Ok(Err(error)) => failure = Some(RunError::History(error)),
            Err(error) => failure = Some(error.into()),
        }
    }
    // Stop the nemesis and heal everything it may have left broken.
    calm_nemesis.store(true, Ordering::Relaxed);
    match nemesis.await {
        Ok(Err(error)) => failure = failure.or(Some(error.into())),
        Err(error) => failure = failure.or(Some(error.into())),
        Ok(Ok(())) => {}
    }
    if let Err(error) = environment.heal_all().await {
        failure = failure.or(Some(error.into()));
    }
    // The final phase: once the cluster answers again, read every key that may
    // have been written, unless the run was interrupted.
    if failure.is_none() && !interrupted.load(Ordering::Relaxed) && !plan.nemesis.faults.is_empty()
    {
        if let Err(error) = readiness.wait(&client).await {
            failure = Some(error.into());
        }
    }
    if failure.is_none() && !interrupted.load(Ordering::Relaxed) {
        let readers: Vec<_> = processes
            .into_iter()
            .enumerate()
            .map(|(thread, process)| {
                let reads = plan.workload.final_reads(&options, thread, generations);
                let worker = make_worker(thread, &interrupted);
                tokio::spawn(worker.read_all(process, reads))
            })
            .collect();
        for reader in readers {
            if let Ok(Err(error)) = reader.await {
                failure = Some(RunError::History(error));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    signals.abort();
    // The nodes stop here (the cluster kills them when dropped; stop commands
    // may take seconds, so off the runtime), and the proxies with them.
    // Files the nodes wrote on their hosts come into the store first.
    drop(environment);
    let _ = tokio::task::spawn_blocking(move || {
        for missing in cluster.lock().expect("cluster lock").collect_logs() {
            eprintln!("a node's log was not collected: {missing}");
        }
        drop((cluster, net));
    })
    .await;
    if let Err(error) = recorder.close() {
        failure = failure.or(Some(RunError::History(error)));
    }
    let _ = flusher.await;
    if let Some(error) = failure {
        return Err(RunError::Stopped {
            source: Box::new(error),
            dir,
        });
    }

    if plan.stats {
        let counts = &recorder.counts;
        let completed = counts.ok.load(Ordering::Relaxed)
            + counts.fail.load(Ordering::Relaxed)
            + counts.info.load(Ordering::Relaxed);
        eprintln!(
            "stats: operations={completed} rate={:.0} recording_peak_rss_mib={:.1}",
            completed as f64 / start.elapsed().as_secs_f64(),
            checking::peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    let stored_plan = checking::stored::read_plan(&dir)?;
    let (history, results) = checking::check_store(&dir, stored_plan.as_ref())?;
    let code = results.valid.exit_code();
    let report = crate::report::write(&dir, stored_plan.as_ref(), &history, &results)?;
    crate::report::ci::write_for(&plan.outputs, &history, &results, &plan.test, Some(&report))?;
    drop(history);
    if let Some(report) = &results.checkers.linearizable {
        for witness in report.witnesses.iter().take(1) {
            println!("\n{}", witness.explanation);
        }
    }
    if let Some(report) = &results.checkers.transactional {
        for anomaly in report.anomalies.iter().take(1) {
            println!("\n{}:\n{}", anomaly.name, anomaly.explanation);
        }
    }
    if !results.checkers.profile.is_empty() {
        let mut profile = String::new();
        checking::render::render_profile(&mut profile, &results);
        print!("{profile}");
    }
    if results.valid != Validity::Valid {
        println!("\nreproduce the schedule with: {}", plan.command);
    }
    let detail = match (
        &results.checkers.linearizable,
        &results.checkers.transactional,
    ) {
        (Some(report), _) => {
            let broken: Vec<&str> = std::iter::once((checking::LINEARIZABLE, report.valid))
                .chain(
                    results
                        .checkers
                        .profile
                        .iter()
                        .map(|v| (v.model.as_str(), v.valid)),
                )
                .filter(|(_, valid)| *valid != Validity::Valid)
                .map(|(model, _)| model)
                .collect();
            format!(
                "checker=linearizable keys={} invalid_keys={} operations={} models_not_holding={}",
                report.keys,
                report.invalid_keys.len(),
                report.operations,
                if broken.is_empty() {
                    "none".to_string()
                } else {
                    broken.join(",")
                }
            )
        }
        (None, Some(report)) => format!(
            "checker=transactional model={} strongest={} anomalies={} transactions={}",
            report.model,
            report.strongest_satisfied.as_deref().unwrap_or("none"),
            if report.anomaly_types.is_empty() {
                "none".to_string()
            } else {
                report.anomaly_types.join(",")
            },
            report.transactions.values().sum::<usize>()
        ),
        (None, None) => String::new(),
    };
    println!(
        "verdict={} {detail} results={} report={}",
        results.valid.name(),
        dir.join("results.json").display(),
        report.display()
    );
    Ok(code)
}
