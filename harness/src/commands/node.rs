//! `faultline node`: one node of a bundled store, as its own process. The store
//! is a library; this only parses arguments, binds the address and runs it until
//! SIGTERM or SIGINT.

use crate::exit::{self, BadInput};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// The bundled stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    /// Chain replication.
    ChainKv,
    /// Two-phase commit.
    TwopcKv,
}

/// `faultline node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Which store.
    pub store: Store,
    /// This node's id; `master` runs chain-kv's configuration master.
    #[arg(long)]
    pub id: String,
    /// The address to bind, host:port.
    #[arg(long)]
    pub listen: String,
    /// Every node's address, `id=host:port,…` (chain-kv's master as `master=…`).
    #[arg(long)]
    pub peers: String,
    /// Where the node keeps its log.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// A planted bug to switch on (see targets/README.md).
    #[arg(long)]
    pub bug: Option<String>,
}

/// Runs a node; returns the exit code.
///
/// # Errors
/// Bad peers or bug, or an address that cannot be listened on.
pub fn run(args: &NodeArgs) -> anyhow::Result<u8> {
    serve(args).map_err(BadInput)?;
    Ok(exit::VALID)
}

/// A node started by faultline dies with it, even if faultline is killed with
/// SIGKILL and cannot clean up: the kernel sends this node SIGKILL when its
/// parent exits. If the parent is already gone, the node stops at once.
pub fn die_with_parent() {
    let Some(parent) = std::env::var(crate::target::cluster::PARENT_PID)
        .ok()
        .and_then(|pid| pid.parse::<i32>().ok())
    else {
        return;
    };
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid().as_raw() != parent {
        std::process::exit(0);
    }
}

fn serve(args: &NodeArgs) -> Result<(), String> {
    die_with_parent();
    let peers = node_kit::parse_peers(&args.peers)?;
    let unknown_bug = |name: &str, names: &[&str]| {
        format!("unknown bug {name:?}; expected one of {}", names.join(", "))
    };
    // A node's work is short request handling; one thread per node avoids
    // cross-thread wake-ups when several nodes share a small machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
        eprintln!("{}: listening on {}", args.id, args.listen);
        let data_dir = args.data_dir.clone();
        let id = args.id.clone();
        let served = match args.store {
            Store::ChainKv => {
                let bug = match &args.bug {
                    None => None,
                    Some(name) => Some(
                        chain_kv::Bug::from_name(name)
                            .ok_or_else(|| unknown_bug(name, chain_kv::Bug::NAMES))?,
                    ),
                };
                let config = chain_kv::NodeConfig {
                    id,
                    peers,
                    data_dir,
                    bug,
                };
                if args.id == "master" {
                    chain_kv::run_master(config, listener, stopped()).await
                } else {
                    chain_kv::run_replica(config, listener, stopped()).await
                }
            }
            Store::TwopcKv => {
                let bug = match &args.bug {
                    None => None,
                    Some(name) => Some(
                        twopc_kv::Bug::from_name(name)
                            .ok_or_else(|| unknown_bug(name, twopc_kv::Bug::NAMES))?,
                    ),
                };
                let config = twopc_kv::NodeConfig {
                    id,
                    peers,
                    data_dir,
                    bug,
                };
                twopc_kv::run_node(config, listener, stopped()).await
            }
        };
        served.map_err(|error| error.to_string())
    })
}

/// Completes on SIGTERM or SIGINT.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
