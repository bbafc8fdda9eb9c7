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

pub mod client;
pub mod generator;
pub mod nemesis;
pub mod recorder;
pub mod store;
pub mod timeline;

use crate::clock::Clocks;
use crate::cluster::LocalCluster;
use crate::commands::check::{self, CheckResults};
use crate::exit;
use crate::net::grudge::Shape;
use crate::net::netns::{self, NetnsNet};
use crate::net::{Backend, Degradation, Network, ProxyNet};
use crate::target_config::TargetConfig;
use checkers::linearizable;
use checkers::txn::TxnOptions;
use checkers::{ModelKind, Validity};
use clap::Args;
use client::{Completion, Endpoint, NodeClient, bound_http_client};
use generator::{GeneratorOptions, Mix, ThreadGenerator, Workload};
use histories::{EventType, Process};
use recorder::Recorder;
use serde::Serialize;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `faultline run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The bundled store to test: chain-kv or twopc-kv.
    #[arg(long, default_value = "chain-kv")]
    pub target: String,
    /// Nodes in the cluster (default 3, or the target config's nodes.count).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// A planted bug to switch on in every node (see targets/README.md).
    #[arg(long)]
    pub bug: Option<String>,
    /// The workload: register, cas-register, kv, or the transactional
    /// list-append and rw-register (twopc-kv).
    #[arg(long, default_value = "cas-register")]
    pub workload: String,
    /// Worker threads: a number, or `Nn` for N per node (e.g. 3n).
    #[arg(long, default_value = "10")]
    pub concurrency: String,
    /// The most operations per second over all workers (a worker held up does
    /// not burst afterwards).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of workload before the final reads.
    #[arg(long, default_value_t = 30.0)]
    pub time_limit: f64,
    /// Keys in use at once (cas-register, kv).
    #[arg(long, default_value_t = 10)]
    pub key_count: usize,
    /// Operations per key before it is replaced by a fresh one (0: never), which
    /// keeps each key's history short to check.
    #[arg(long, default_value_t = 200)]
    pub ops_per_key: usize,
    /// Weights of reads, writes and cas, e.g. 2,1,1.
    #[arg(long, default_value = "2,1,1")]
    pub mix: String,
    /// The seed of every random choice (default: from the clock, and printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Faults to inject, comma-separated: partition, kill, pause, clock, packet;
    /// or all, or none.
    #[arg(long, default_value = "partition,kill")]
    pub nemesis: String,
    /// How partitions are made: proxy (per-link TCP proxies, rootless, bundled
    /// targets), netns (namespaces and packet filters, root) or auto.
    #[arg(long, default_value = "auto")]
    pub net: String,
    /// Partition shapes to draw from: one, majority, majorities-ring, bridge,
    /// minority-third, or all.
    #[arg(long, default_value = "all")]
    pub partition: String,
    /// An explicit partition instead of the shapes: node=peer+peer;… (each node
    /// drops traffic from the peers listed).
    #[arg(long)]
    pub grudge: Option<String>,
    /// The largest clock offset a clock fault sets, seconds, either way.
    #[arg(long, default_value_t = 120.0)]
    pub clock_offset: f64,
    /// Delay a packet fault adds to each chunk of a node's traffic, ms.
    #[arg(long, default_value_t = 50)]
    pub packet_delay_ms: u64,
    /// The share of a node's traffic a packet fault loses (resent after a
    /// retransmission timeout), 0 to 1.
    #[arg(long, default_value_t = 0.2)]
    pub packet_loss: f64,
    /// Seconds a fault lasts, and then the calm between faults.
    #[arg(long, default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// Which nodes a fault hits, chosen at random per fault among: one,
    /// majority, all.
    #[arg(long, default_value = "one,majority")]
    pub nemesis_targets: String,
    /// Print the operations recorded, their rate and the controller's peak memory
    /// (before checking) to stderr.
    #[arg(long)]
    pub stats: bool,
    /// The consistency models to check (register and kv workloads): all, or
    /// some of linearizable, sequential, causal-ccv, causal-cm, causal-cc,
    /// read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads.
    #[arg(long, default_value = "all")]
    pub models: String,
    /// Written values become strings: this text, then the unique number (for
    /// stores that keep strings, and to see how odd values fare; register and
    /// kv workloads).
    #[arg(long)]
    pub value_prefix: Option<String>,
    /// A store described by a target config (TOML; see targets/http/etcd.toml)
    /// instead of a bundled one.
    #[arg(long)]
    pub target_config: Option<PathBuf>,
    /// Also write the verdicts as JUnit XML here (a test case per model).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a short Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub summary: Option<PathBuf>,
}

/// A validated plan: what `plan.json` records.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// faultline's version.
    pub version: &'static str,
    /// The test's name: target and workload.
    pub test: String,
    /// The seed.
    pub seed: u64,
    /// The store.
    pub target: String,
    /// Nodes.
    pub nodes: usize,
    /// The planted bug, if any.
    pub bug: Option<String>,
    /// The workload.
    pub workload: Workload,
    /// Worker threads.
    pub concurrency: usize,
    /// Target rate, ops/s.
    pub rate: f64,
    /// Seconds of workload.
    pub time_limit_s: f64,
    /// Keys in use at once.
    pub key_count: usize,
    /// Operations per key.
    pub ops_per_key: usize,
    /// The mix.
    pub mix: Mix,
    /// Per-request timeout.
    pub timeout_ms: u64,
    /// The model the history is checked against.
    pub model: ModelKind,
    /// The consistency profile checked (transactions: isolation instead).
    pub models: Vec<&'static str>,
    /// Faults injected, and how.
    pub nemesis: nemesis::Options,
    /// How partitions and degraded links are made, if the plan has any.
    pub net: Option<Backend>,
    /// Written values are strings with this prefix (integers when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_prefix: Option<String>,
    /// The target config the store was described by, if not bundled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_config: Option<PathBuf>,
    #[serde(skip)]
    config: Option<Arc<TargetConfig>>,
    /// The command that reproduces this run's schedule.
    pub command: String,
    #[serde(skip)]
    store: PathBuf,
    #[serde(skip)]
    stats: bool,
    #[serde(skip)]
    outputs: crate::report::ci::Outputs,
}

impl Plan {
    /// Validates `args`.
    ///
    /// # Errors
    /// A message saying what is allowed.
    pub fn from_args(args: &RunArgs) -> Result<Plan, String> {
        let config = match &args.target_config {
            Some(path) => Some(Arc::new(crate::target_config::load(path)?)),
            None => None,
        };
        let target = match &config {
            Some(config) => config.name.clone(),
            None => args.target.clone(),
        };
        let bugs: &[&str] = match (target.as_str(), &config) {
            (_, Some(_)) => &[],
            ("chain-kv", None) => chain_kv::Bug::NAMES,
            ("twopc-kv", None) => twopc_kv::Bug::NAMES,
            (other, None) => {
                return Err(format!(
                    "unknown target {other:?}; expected chain-kv or twopc-kv, or describe the store in a file for --target-config (see targets/http/etcd.toml)"
                ));
            }
        };
        if let Some(bug) = &args.bug
            && !bugs.contains(&bug.as_str())
        {
            return Err(if config.is_some() {
                format!("--bug plants a bug in a bundled store; {target} is not one")
            } else {
                format!(
                    "{target} has no bug {bug:?}; expected one of {}",
                    bugs.join(", ")
                )
            });
        }
        let nodes = args
            .nodes
            .unwrap_or_else(|| config.as_ref().map_or(3, |config| config.nodes.count));
        if nodes == 0 {
            return Err("--nodes must be at least 1".to_string());
        }
        let workload = Workload::from_name(&args.workload).ok_or_else(|| {
            format!(
                "unknown workload {:?}; expected one of {}",
                args.workload,
                Workload::NAMES.join(", ")
            )
        })?;
        if workload.transactional() && target != "twopc-kv" {
            return Err(format!(
                "--workload {} needs transactions, which {target} does not serve; use --target twopc-kv",
                workload.name(),
            ));
        }
        let concurrency = match args.concurrency.strip_suffix('n') {
            Some(per_node) => per_node.parse::<usize>().map(|per_node| per_node * nodes),
            None => args.concurrency.parse::<usize>(),
        }
        .ok()
        .filter(|&concurrency| concurrency > 0)
        .ok_or_else(|| {
            format!(
                "--concurrency {:?}: expected a positive number, or Nn for N per node (e.g. 3n)",
                args.concurrency
            )
        })?;
        if !(args.time_limit > 0.0 && args.time_limit.is_finite()) {
            return Err(format!(
                "--time-limit must be a positive number of seconds, not {}",
                args.time_limit
            ));
        }
        if !(args.rate > 0.0 && args.rate.is_finite()) {
            return Err(format!(
                "--rate must be a positive number of operations per second, not {}",
                args.rate
            ));
        }
        if args.key_count == 0 {
            return Err("--key-count must be at least 1".to_string());
        }
        if args.timeout_ms == 0 {
            return Err("--timeout-ms must be at least 1".to_string());
        }
        let mix = Mix::parse(&args.mix)?;
        if args.value_prefix.is_some() && workload.transactional() {
            return Err(format!(
                "--value-prefix is for register and kv workloads; {} appends and writes integers",
                workload.name()
            ));
        }
        let models = if workload.transactional() {
            Vec::new()
        } else {
            check::parse_models(&args.models)?
        };
        let nemesis = nemesis_options(args, nodes, config.as_deref())?;
        if let Some(config) = &config {
            check_capabilities(config, workload, mix, &nemesis.faults)?;
        }
        let net = choose_net(args, &nemesis.faults, config.as_deref())?;
        if let Some(config) = &config
            && net != Some(Backend::Netns)
            && nodes > 1
            && let Some(port) = config.nodes.client_port.or(config.nodes.peer_port)
        {
            return Err(format!(
                "{}: nodes.client_port / nodes.peer_port: port {port} is fixed, but the nodes share loopback here: a port clash; leave the ports out (free ones are chosen) or use --net netns",
                args.target_config
                    .as_ref()
                    .expect("a config has a path")
                    .display()
            ));
        }
        store::check_writable(&args.store)?;
        let seed = args
            .seed
            .unwrap_or_else(|| chrono::Utc::now().timestamp_micros() as u64);
        let test = format!("{target}-{}", workload.name());
        let target_flag = match &args.target_config {
            Some(path) => format!(
                "--target-config {}",
                shell_quote(&path.display().to_string())
            ),
            None => format!("--target {target}"),
        };
        let mut command = format!(
            "faultline run {target_flag} --nodes {nodes} --workload {} --concurrency {concurrency} --rate {} --time-limit {} --key-count {} --ops-per-key {} --mix {} --seed {seed}",
            args.workload, args.rate, args.time_limit, args.key_count, args.ops_per_key, args.mix
        );
        if let Some(bug) = &args.bug {
            command.push_str(&format!(" --bug {bug}"));
        }
        if let Some(prefix) = &args.value_prefix {
            command.push_str(&format!(" --value-prefix {}", shell_quote(prefix)));
        }
        if !nemesis.faults.is_empty() {
            command.push_str(&format!(
                " --nemesis {} --nemesis-interval {} --nemesis-targets {} --partition {} --clock-offset {} --packet-delay-ms {} --packet-loss {}",
                args.nemesis,
                args.nemesis_interval,
                args.nemesis_targets,
                args.partition,
                args.clock_offset,
                args.packet_delay_ms,
                args.packet_loss
            ));
            if let Some(grudge) = &args.grudge {
                command.push_str(&format!(" --grudge '{grudge}'"));
            }
            if let Some(net) = net {
                command.push_str(&format!(" --net {}", net.name()));
            }
        }
        Ok(Plan {
            version: env!("CARGO_PKG_VERSION"),
            test,
            seed,
            target,
            nodes,
            bug: args.bug.clone(),
            workload,
            concurrency,
            rate: args.rate,
            time_limit_s: args.time_limit,
            key_count: args.key_count,
            ops_per_key: args.ops_per_key,
            mix,
            timeout_ms: args.timeout_ms,
            model: ModelKind::CasRegister,
            models,
            nemesis,
            net,
            value_prefix: args.value_prefix.clone(),
            target_config: args.target_config.clone(),
            config,
            command,
            store: args.store.clone(),
            stats: args.stats,
            outputs: crate::report::ci::Outputs {
                junit: args.junit.clone(),
                summary: args.summary.clone(),
            },
        })
    }
}

/// Refuses what a configured store cannot take: faults its config rules out,
/// and cas when it has none.
fn check_capabilities(
    config: &TargetConfig,
    workload: Workload,
    mix: Mix,
    faults: &[nemesis::Fault],
) -> Result<(), String> {
    if workload.transactional() {
        return Err(format!(
            "--workload {} needs transactions; a target config describes read, write and cas only",
            workload.name()
        ));
    }
    if config.operations.cas.is_none() && workload != Workload::Kv && mix.cas > 0 {
        return Err(format!(
            "{}'s config has no operations.cas; use --workload kv or a mix without cas (--mix 1,1,0)",
            config.name
        ));
    }
    for (fault, allowed, field) in [
        (nemesis::Fault::Kill, config.capabilities.kill, "kill"),
        (nemesis::Fault::Pause, config.capabilities.pause, "pause"),
    ] {
        if faults.contains(&fault) && !allowed {
            return Err(format!(
                "{}'s config says capabilities.{field} = false: no {field} nemesis",
                config.name
            ));
        }
    }
    Ok(())
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The nemesis part of the plan.
fn nemesis_options(
    args: &RunArgs,
    nodes: usize,
    config: Option<&TargetConfig>,
) -> Result<nemesis::Options, String> {
    let faults = nemesis::Fault::parse_list(&args.nemesis)?;
    let targets = nemesis::Targets::parse_list(&args.nemesis_targets)?;
    if !(args.nemesis_interval > 0.0 && args.nemesis_interval.is_finite()) {
        return Err(format!(
            "--nemesis-interval must be a positive number of seconds, not {}",
            args.nemesis_interval
        ));
    }
    let shapes = match &args.grudge {
        Some(grudge) => {
            let nodes: Vec<String> = (1..=nodes).map(|n| format!("n{n}")).collect();
            vec![Shape::parse_grudge(grudge, &nodes)?]
        }
        None => Shape::parse_list(&args.partition)?,
    };
    if !(args.clock_offset >= 0.0 && args.clock_offset <= 86_400.0) {
        return Err(format!(
            "--clock-offset must be between 0 and 86400 seconds, not {}",
            args.clock_offset
        ));
    }
    if !(0.0..=1.0).contains(&args.packet_loss) {
        return Err(format!(
            "--packet-loss must be between 0 and 1, not {}",
            args.packet_loss
        ));
    }
    if faults.contains(&nemesis::Fault::Clock) {
        if let Some(config) = config
            && !config.capabilities.clock
        {
            return Err(format!(
                "the clock nemesis cannot skew {}'s clocks: {}; its config says capabilities.clock = false",
                config.name,
                config
                    .capabilities
                    .clock_note
                    .as_deref()
                    .unwrap_or("libfaketime does not reach its clock")
            ));
        }
        crate::clock::library()?;
    }
    Ok(nemesis::Options {
        faults,
        interval_s: args.nemesis_interval,
        targets,
        shapes,
        clock_offset_s: args.clock_offset,
        packet: Degradation {
            delay_ms: args.packet_delay_ms,
            loss: args.packet_loss,
        },
    })
}

/// The network backend: `--net netns` puts the nodes in namespaces whatever
/// the faults; otherwise a backend is needed only when the plan partitions or
/// degrades links, and for the bundled targets, which take their peers'
/// addresses from the harness, `auto` means the rootless proxies.
fn choose_net(
    args: &RunArgs,
    faults: &[nemesis::Fault],
    config: Option<&TargetConfig>,
) -> Result<Option<Backend>, String> {
    let needs_net = faults
        .iter()
        .any(|fault| matches!(fault, nemesis::Fault::Partition | nemesis::Fault::Packet));
    if let Some(config) = config {
        // A third-party store takes the backends its config names.
        let allowed = &config.capabilities.partition;
        let chosen = match Backend::parse(&args.net)? {
            Some(backend) => Some(backend),
            None if !needs_net => None,
            None if allowed.iter().any(|name| name == "netns") && netns::available() => {
                Some(Backend::Netns)
            }
            None if allowed.iter().any(|name| name == "proxy") => Some(Backend::Proxy),
            None => {
                return Err(format!(
                    "partitions of {} need the netns backend (its config allows {}), which needs root",
                    config.name,
                    allowed.join(", ")
                ));
            }
        };
        return match chosen {
            Some(Backend::Netns) if !netns::available() => {
                Err("--net netns needs root".to_string())
            }
            Some(backend) if needs_net && !allowed.iter().any(|name| name == backend.name()) => {
                Err(format!(
                    "{}'s config allows partitions through {} only (capabilities.partition), not {}",
                    config.name,
                    allowed.join(", "),
                    backend.name()
                ))
            }
            other => Ok(other),
        };
    }
    match Backend::parse(&args.net)? {
        Some(Backend::Netns) if netns::available() => Ok(Some(Backend::Netns)),
        Some(Backend::Netns) => {
            Err("--net netns needs root; without it use --net proxy".to_string())
        }
        Some(Backend::Proxy) | None if needs_net => Ok(Some(Backend::Proxy)),
        Some(Backend::Proxy) | None => Ok(None),
    }
}

/// Runs `faultline run`; returns the exit code.
pub fn run(args: &RunArgs) -> u8 {
    let plan = match Plan::from_args(args) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("faultline run: {message}");
            return exit::BAD_ARGUMENTS;
        }
    };
    // One thread drives every client: on a small machine shared with the nodes,
    // cross-thread wake-ups cost more than they give.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("faultline run: {error}");
            return exit::HARNESS_FAILED;
        }
    };
    match runtime.block_on(execute(plan)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("faultline run: {message}");
            exit::HARNESS_FAILED
        }
    }
}

async fn execute(plan: Plan) -> Result<u8, String> {
    let dir = store::create(&plan.store, &plan.test)?;
    println!("seed={} store={}", plan.seed, dir.display());
    let plan_json = serde_json::to_string_pretty(&plan).expect("the plan serializes") + "\n";
    std::fs::write(dir.join("plan.json"), plan_json).map_err(|error| error.to_string())?;

    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut cluster = match &plan.config {
        Some(config) => {
            LocalCluster::prepare_configured(&exe, config.clone(), plan.nodes, &dir.join("nodes"))?
        }
        None => LocalCluster::prepare(
            &exe,
            &plan.target,
            plan.nodes,
            &dir.join("nodes"),
            &dir.join("nodes"),
            plan.bug.as_deref(),
        )?,
    };
    // Links through proxies, clocks through libfaketime: set before any node
    // starts, kept across restarts.
    let mut local_address = None;
    let net = match plan.net {
        Some(Backend::Netns) => {
            let net = NetnsNet::new(&cluster.ids())?;
            for id in cluster.ids() {
                let address = net.address(&id).expect("every id has an address");
                cluster.place(&id, address, net.exec_prefix(&id));
            }
            local_address = Some(std::net::IpAddr::V4(net.host_address()));
            // What to look for if this run is killed: `faultline cleanup`.
            let record = serde_json::json!({
                "namespaces": net.namespaces(),
                "host_link": net.host_link(),
                "addresses": net.addresses(),
            });
            std::fs::write(
                dir.join("nodes/namespaces.json"),
                serde_json::to_string_pretty(&record).expect("serializes") + "\n",
            )
            .map_err(|error| error.to_string())?;
            Some(Arc::new(std::sync::Mutex::new(Network::Netns(net))))
        }
        Some(Backend::Proxy) => {
            let net = ProxyNet::new(&cluster.peer_addresses())?;
            let mut links = serde_json::Map::new();
            for from in cluster.ids() {
                for to in cluster.ids() {
                    if let Some(address) = net.route(&from, &to) {
                        cluster.route(&from, &to, address.to_string());
                        links.insert(format!("{from}->{to}"), address.to_string().into());
                    }
                }
            }
            // Which proxy carries which link, for reading the nodes' logs.
            let links = serde_json::to_string_pretty(&links).expect("links serialize") + "\n";
            std::fs::write(dir.join("nodes/links.json"), links)
                .map_err(|error| error.to_string())?;
            Some(Arc::new(std::sync::Mutex::new(Network::Proxy(net))))
        }
        None => None,
    };
    let clocks = if plan.nemesis.faults.contains(&nemesis::Fault::Clock) {
        let clocks = Clocks::new(&dir.join("nodes").join("clocks"))?;
        for node in cluster.nodes() {
            cluster.set_environment(&node, clocks.environment(&node)?);
        }
        Some(Arc::new(clocks))
    } else {
        None
    };
    cluster.launch_all()?;
    let addresses = cluster.addresses();
    let client = bound_http_client(
        Duration::from_millis(plan.timeout_ms),
        plan.concurrency,
        local_address,
    );
    let probes = cluster.ready_probes();
    let ready = || async {
        match &plan.config {
            Some(config) => {
                crate::cluster::wait_until_configured_ready(&client, config, &probes, &addresses)
                    .await
            }
            None => crate::cluster::wait_until_ready(&client, &addresses).await,
        }
    };
    ready().await?;

    let start = Instant::now();
    let recorder = Arc::new(
        Recorder::create(&dir.join("history.jsonl"), start).map_err(|error| error.to_string())?,
    );
    let flusher = tokio::spawn(recorder.clone().flush_queued());
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(stop_on_signal(stop.clone(), interrupted.clone()));
    let in_force = Arc::new(nemesis::InForce::default());
    let progress = tokio::spawn(report_progress(
        recorder.clone(),
        stop.clone(),
        plan.time_limit_s,
        in_force.clone(),
    ));
    let environment = Arc::new(nemesis::Environment {
        cluster: Arc::new(std::sync::Mutex::new(cluster)),
        net,
        clocks,
        recorder: recorder.clone(),
        in_force,
    });
    let calm_nemesis = Arc::new(AtomicBool::new(false));
    let nemesis = tokio::spawn(nemesis::run(
        plan.nemesis.clone(),
        plan.seed,
        environment.clone(),
        calm_nemesis.clone(),
    ));
    let options = GeneratorOptions {
        workload: plan.workload,
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
        .map(|address| match &plan.config {
            Some(config) => Ok(NodeClient::Configured(
                config.clone(),
                format!("http://{address}"),
            )),
            None => Endpoint::new(address).map(NodeClient::Bundled),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let make_worker = |thread: usize, stop: &Arc<AtomicBool>| Worker {
        thread,
        workload: plan.workload,
        concurrency: plan.concurrency,
        endpoint: endpoints[thread % endpoints.len()].clone(),
        client: client.clone(),
        recorder: recorder.clone(),
        stop: stop.clone(),
    };
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|thread| {
            let worker = make_worker(thread, &stop);
            let generator = ThreadGenerator::new(&options, thread);
            tokio::spawn(worker.run(generator, deadline))
        })
        .collect();
    let mut generations = 0;
    let mut failure = None;
    let mut processes = Vec::new();
    for worker in workers {
        match worker.await {
            Ok(Ok((generation, process))) => {
                generations = generations.max(generation);
                processes.push(process);
            }
            Ok(Err(error)) => failure = Some(error),
            Err(error) => failure = Some(error.to_string()),
        }
    }
    // Stop the nemesis and heal everything it may have left broken.
    calm_nemesis.store(true, Ordering::Relaxed);
    match nemesis.await {
        Ok(Err(error)) => failure = failure.or(Some(error)),
        Err(error) => failure = failure.or(Some(error.to_string())),
        Ok(Ok(())) => {}
    }
    if let Err(error) = nemesis::heal_all(&environment) {
        failure = failure.or(Some(error));
    }
    // The final phase: once the cluster answers again, read every key that may
    // have been written, unless the run was interrupted.
    if failure.is_none() && !interrupted.load(Ordering::Relaxed) && !plan.nemesis.faults.is_empty()
    {
        if let Err(error) = ready().await {
            failure = Some(error);
        }
    }
    if failure.is_none() && !interrupted.load(Ordering::Relaxed) {
        let readers: Vec<_> = processes
            .into_iter()
            .enumerate()
            .map(|(thread, process)| {
                let keys = ThreadGenerator::final_keys(&options, thread, generations);
                let worker = make_worker(thread, &interrupted);
                tokio::spawn(worker.read_all(process, keys))
            })
            .collect();
        for reader in readers {
            if let Ok(Err(error)) = reader.await {
                failure = Some(error);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    signals.abort();
    // The nodes stop here (the cluster kills them when dropped), and the
    // proxies with them.
    drop(environment);
    if let Err(error) = recorder.close() {
        failure = failure.or(Some(error.to_string()));
    }
    let _ = flusher.await;
    if let Some(error) = failure {
        return Err(format!(
            "the run failed: {error}; its history so far is in {}",
            dir.display()
        ));
    }

    if plan.stats {
        let counts = &recorder.counts;
        let completed = counts.ok.load(Ordering::Relaxed)
            + counts.fail.load(Ordering::Relaxed)
            + counts.info.load(Ordering::Relaxed);
        eprintln!(
            "stats: operations={completed} rate={:.0} recording_peak_rss_mib={:.1}",
            completed as f64 / start.elapsed().as_secs_f64(),
            check::peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    let results = check_store(&dir)?;
    let code = results.valid.exit_code();
    let (history, stored) = crate::report::load_stored(&dir)?;
    let report = crate::report::write(&dir, &history, &stored)?;
    crate::report::ci::write_for(&plan.outputs, &history, &stored, &plan.test, Some(&report))?;
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
        check::render_profile(&mut profile, &results);
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
            let broken: Vec<&str> = std::iter::once((check::LINEARIZABLE, report.valid))
                .chain(results.checkers.profile.iter().map(|v| (v.model, v.valid)))
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
            report.strongest_satisfied.unwrap_or("none"),
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

/// Checks a stored run's history and writes its `results.json`; the same bytes
/// as `faultline check DIR --json`.
///
/// # Errors
/// The history cannot be read or checked.
pub fn check_store(dir: &Path) -> Result<CheckResults, String> {
    let (history, format) = check::load(dir, None)?;
    let options = linearizable::Options::new(ModelKind::infer(&history));
    let models = check::stored_models(dir);
    let checkers = check::check_history(&history, &options, &TxnOptions::default(), &models)?;
    let results = CheckResults::new(&history, format, checkers);
    std::fs::write(dir.join("results.json"), results.to_json())
        .map_err(|error| error.to_string())?;
    Ok(results)
}

/// Ctrl-C or SIGTERM stops the workload; the run then tears down and checks
/// what it recorded.
async fn stop_on_signal(stop: Arc<AtomicBool>, interrupted: Arc<AtomicBool>) {
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
async fn report_progress(
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

/// One worker thread: a logical process at a time, bound to one node.
struct Worker {
    thread: usize,
    workload: Workload,
    concurrency: usize,
    endpoint: NodeClient,
    client: reqwest::Client,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    /// Invokes operations until the deadline or a stop; returns the highest key
    /// generation used and the process id it ends with.
    async fn run(
        self,
        mut generator: ThreadGenerator,
        deadline: Instant,
    ) -> Result<(u64, u64), String> {
        let mut process = self.thread as u64;
        // Each operation is due a stagger gap after the previous one was due;
        // sleeping only when ahead of that schedule keeps the rate right even
        // where gaps are shorter than the timer's millisecond resolution. A
        // worker held up (a timeout, a partition) does not burst afterwards to
        // make up what it missed (the rate is a ceiling, not a quota): it
        // falls at most MAX_LAG behind its schedule.
        const MAX_LAG: Duration = Duration::from_millis(50);
        let mut due = tokio::time::Instant::now();
        // Bounded in time by the deadline and in count by this cap.
        for _ in 0..100_000_000u64 {
            let now = tokio::time::Instant::now();
            due = due.max(now.checked_sub(MAX_LAG).unwrap_or(now));
            due += generator.delay();
            if self.stop.load(Ordering::Relaxed)
                || due.into_std() >= deadline
                || Instant::now() >= deadline
            {
                break;
            }
            if due > now {
                tokio::time::sleep_until(due).await;
            }
            let op = generator.next_op();
            let completion = self.invoke(process, &op).await?;
            match completion {
                Completion::Ok(value) if op.f == "read" => generator.observe(&op.key, &value),
                // A process whose operation is indeterminate is retired.
                Completion::Info(_) => process += self.concurrency as u64,
                _ => {}
            }
        }
        Ok((generator.generations(), process))
    }

    async fn invoke(&self, process: u64, op: &generator::OpSpec) -> Result<Completion, String> {
        let record = |kind, value: Value, error| {
            self.recorder
                .record(
                    kind,
                    Process::Client(process),
                    op.f,
                    op.history_key(),
                    value,
                    error,
                )
                .map_err(|error| format!("writing the history: {error}"))
        };
        record(EventType::Invoke, op.value.clone(), None)?;
        let completion = self.endpoint.invoke(&self.client, op).await;
        match &completion {
            Completion::Ok(value) => record(EventType::Ok, value.clone(), None)?,
            Completion::Fail(error) => {
                record(EventType::Fail, op.value.clone(), Some(error.clone()))?
            }
            Completion::Info(error) => {
                record(EventType::Info, op.value.clone(), Some(error.clone()))?
            }
        }
        Ok(completion)
    }

    /// The final phase: reads each key until one succeeds (a few tries each).
    async fn read_all(self, process: u64, keys: Vec<String>) -> Result<(), String> {
        for key in keys {
            let op = generator::OpSpec::final_read(self.workload, key);
            // A few seconds of tries: a node restarted by the nemesis may still
            // be rejoining.
            for _ in 0..50 {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if matches!(self.invoke(process, &op).await?, Completion::Ok(_)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}
