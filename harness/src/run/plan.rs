//! The plan: `faultline run`'s arguments, validated into what `plan.json`
//! records, before anything starts. A bad plan is refused here with a message
//! saying what is allowed.

use super::store;
use crate::checking;
use crate::nemesis;
use crate::nemesis::fault::FaultKind;
use crate::net::grudge::Shape;
use crate::net::netns;
use crate::net::{Backend, Degradation};
use crate::target::{Target, TargetError};
use crate::target_file::{Protocol, TargetConfig};
use crate::workload::{self, Mix, Requirement, Workload};
use checkers::ModelKind;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

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
    pub workload: workload::Chosen,
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
    /// The store, as its target file describes it.
    #[serde(skip)]
    pub under_test: Target,
    /// The command that reproduces this run's schedule.
    pub command: String,
    #[serde(skip)]
    pub store: PathBuf,
    #[serde(skip)]
    pub stats: bool,
    #[serde(skip)]
    pub outputs: crate::report::ci::Outputs,
}

/// A plan that cannot run: the user's arguments or target are wrong, never the
/// harness (exit 254, before anything starts).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The target cannot be had as asked.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An argument, or a combination the target cannot take, with what is allowed.
    #[error("{0}")]
    Refused(String),
}

impl Plan {
    /// Validates `args`.
    ///
    /// # Errors
    /// What is wrong and what is allowed.
    pub fn from_args(args: &RunArgs) -> Result<Plan, PlanError> {
        let under_test = match &args.target_config {
            Some(path) => Target::from_file(path, args.bug.as_deref())?,
            None => Target::bundled(&args.target, args.bug.as_deref())?,
        };
        Plan::validate(args, under_test).map_err(PlanError::Refused)
    }

    fn validate(args: &RunArgs, under_test: Target) -> Result<Plan, String> {
        let config = under_test.config.clone();
        let target = config.name.clone();
        let nodes = args.nodes.unwrap_or(config.nodes.count);
        if nodes == 0 {
            return Err("--nodes must be at least 1".to_string());
        }
        let workload = workload::by_name(&args.workload).ok_or_else(|| {
            format!(
                "unknown workload {:?}; expected one of {}",
                args.workload,
                workload::names().join(", ")
            )
        })?;
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
        if args.value_prefix.is_some() && !workload.takes_value_prefix() {
            return Err(format!(
                "--value-prefix is for register and kv workloads; {} appends and writes integers",
                workload.name()
            ));
        }
        let models = if !workload.checkers().contains(&checking::PROFILE) {
            Vec::new()
        } else {
            checking::parse_models(&args.models)?
        };
        let nemesis = nemesis_options(args, nodes)?;
        check_capabilities(&config, workload, mix, &nemesis.faults)?;
        let net = choose_net(args, &nemesis.faults, &config)?;
        if net != Some(Backend::Netns)
            && nodes > 1
            && let Some(port) = config.nodes.client_port.or(config.nodes.peer_port)
        {
            return Err(format!(
                "{}: nodes.client_port / nodes.peer_port: port {port} is fixed, but the nodes share loopback here: a port clash; leave the ports out (free ones are chosen) or use --net netns",
                under_test
                    .file
                    .as_ref()
                    .map_or_else(|| target.clone(), |file| file.display().to_string())
            ));
        }
        store::check_writable(&args.store).map_err(|error| error.to_string())?;
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
            workload: workload::Chosen(workload),
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
            under_test,
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

/// Refuses, in one place, a plan that needs what the target lacks: what
/// the workload requires of the store (transactions, cas) and the faults it
/// can take, as its target file declares them.
fn check_capabilities(
    config: &TargetConfig,
    workload: &dyn Workload,
    mix: Mix,
    faults: &[FaultKind],
) -> Result<(), String> {
    for requirement in workload.requires(&mix) {
        let served = match requirement {
            Requirement::Transactions => config.capabilities.transactions,
            Requirement::Cas => config.serves_cas(),
        };
        if served {
            continue;
        }
        return Err(match (requirement, &config.protocol) {
            (Requirement::Transactions, Protocol::Http(_)) => format!(
                "--workload {} needs transactions; a target config describes read, write and cas only",
                workload.name()
            ),
            (Requirement::Transactions, Protocol::KvApi) => format!(
                "--workload {} needs transactions, which {} does not serve; use --target twopc-kv",
                workload.name(),
                config.name
            ),
            (Requirement::Cas, _) => format!(
                "{}'s config has no operations.cas; use --workload kv or a mix without cas (--mix 1,1,0)",
                config.name
            ),
        });
    }
    // Each kind of fault says what the target or this machine must allow.
    if let Some(refusal) = faults
        .iter()
        .find_map(|kind| kind.fault_type().refused(config))
    {
        return Err(refusal);
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
fn nemesis_options(args: &RunArgs, nodes: usize) -> Result<nemesis::Options, String> {
    let faults = FaultKind::parse_list(&args.nemesis)?;
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
/// degrades links, and `auto` takes the first backend the target file allows
/// that works here (the bundled stores list the rootless proxies first: the
/// harness sets their peers' addresses; namespaces need root).
fn choose_net(
    args: &RunArgs,
    faults: &[FaultKind],
    config: &TargetConfig,
) -> Result<Option<Backend>, String> {
    let needs_net = faults.iter().any(|fault| fault.needs_network());
    let allowed = &config.capabilities.partition;
    let usable = |backend: Backend| backend != Backend::Netns || netns::available();
    let chosen = match Backend::parse(&args.net)? {
        Some(Backend::Netns) if !netns::available() => {
            return Err("--net netns needs root; without it use --net proxy".to_string());
        }
        Some(Backend::Netns) => Backend::Netns,
        _ if !needs_net => return Ok(None),
        Some(backend) => backend,
        None => allowed
            .iter()
            .filter_map(|name| Backend::parse(name).ok().flatten())
            .find(|backend| usable(*backend))
            .ok_or_else(|| {
                format!(
                    "partitions of {} need the netns backend (its config allows {}), which needs root",
                    config.name,
                    allowed.join(", ")
                )
            })?,
    };
    if needs_net && !allowed.iter().any(|name| name == chosen.name()) {
        return Err(format!(
            "{}'s config allows partitions through {} only (capabilities.partition), not {}",
            config.name,
            allowed.join(", "),
            chosen.name()
        ));
    }
    Ok(Some(chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        run: RunArgs,
    }

    /// What `plan.json` holds is what its readers read: a field renamed on
    /// one side fails here.
    #[test]
    fn the_plan_written_reads_back_as_the_stored_plan() {
        let store = tempfile::tempdir().unwrap();
        let args = Command::parse_from([
            "run",
            "--bug",
            "read-from-head",
            "--nemesis",
            "kill",
            "--seed",
            "9",
            "--store",
            store.path().to_str().unwrap(),
        ])
        .run;
        let plan = Plan::from_args(&args).unwrap();
        let json = serde_json::to_string_pretty(&plan).unwrap();
        let stored: crate::checking::stored::StoredPlan = serde_json::from_str(&json).unwrap();
        assert_eq!(stored.test, "chain-kv-cas-register");
        assert_eq!(stored.seed, 9);
        assert_eq!(stored.bug.as_deref(), Some("read-from-head"));
        assert_eq!(stored.workload, "cas-register");
        assert_eq!(stored.nemesis.faults, ["kill"]);
        assert_eq!(stored.models.len(), checking::all_models().len());
        assert_eq!(stored.command, plan.command);
    }
}
