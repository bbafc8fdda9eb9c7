//! Before the workload: the store's processes prepared from its target file,
//! placed on their hosts, wired to the network the plan's faults need
//! (per-link proxies, or a namespace per process), given their own clocks
//! when the plan skews them, and started.

use super::RunError;
use super::plan::Plan;
use super::store::StoreError;
use crate::clock::Clocks;
use crate::host::Host;
use crate::net::netns::NetnsNet;
use crate::net::{Backend, Network, ProxyNet};
use crate::target::cluster::LocalCluster;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A started cluster and what its faults act on.
pub struct Started {
    /// The processes.
    pub cluster: LocalCluster,
    /// The links between them, when the plan partitions or degrades them.
    pub net: Option<Arc<Mutex<Network>>>,
    /// Their clocks, when the plan skews them.
    pub clocks: Option<Arc<Clocks>>,
    /// The address the controller's clients send from (the uplink to the
    /// namespaces), if not loopback.
    pub local_address: Option<std::net::IpAddr>,
}

/// Prepares, wires and starts the plan's cluster, its logs and data under
/// `dir/nodes`.
///
/// # Errors
/// A network, clock or process that cannot be set up.
pub fn start(plan: &Plan, dir: &Path) -> Result<Started, RunError> {
    let exe = std::env::current_exe().map_err(RunError::Exe)?;
    let nodes_dir = dir.join("nodes");
    let mut cluster = LocalCluster::prepare(&exe, &plan.under_test, plan.nodes, &nodes_dir)?;
    // Links through proxies or namespaces, clocks through libfaketime: set
    // before any process starts, kept across restarts.
    let mut local_address = None;
    let net = match plan.net {
        Some(Backend::Netns) => {
            let net = NetnsNet::new(&cluster.ids())?;
            for id in cluster.ids() {
                let host: Arc<dyn Host> = Arc::new(net.host(&id).expect("every id has a host"));
                cluster.place(&id, host);
            }
            local_address = Some(std::net::IpAddr::V4(net.host_address()));
            // What to look for if this run is killed: `faultline cleanup`.
            let record = serde_json::json!({
                "namespaces": net.namespaces(),
                "host_link": net.host_link(),
                "addresses": net.addresses(),
            });
            write_json(&nodes_dir.join("namespaces.json"), &record)?;
            Some(Network::Netns(net))
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
            write_json(&nodes_dir.join("links.json"), &links.into())?;
            Some(Network::Proxy(net))
        }
        None => None,
    };
    let clocks = if plan
        .nemesis
        .faults
        .iter()
        .any(|kind| kind.fault_type().needs().clocks)
    {
        let clocks = Clocks::new(&nodes_dir.join("clocks"))?;
        for node in cluster.nodes() {
            cluster.set_environment(&node, clocks.environment(&node, cluster.host(&node))?);
        }
        Some(Arc::new(clocks))
    } else {
        None
    };
    cluster.launch_all()?;
    Ok(Started {
        cluster,
        net: net.map(|net| Arc::new(Mutex::new(net))),
        clocks,
        local_address,
    })
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), StoreError> {
    let text = serde_json::to_string_pretty(value).expect("JSON serializes") + "\n";
    crate::files::write_atomically(path, text.as_bytes())
        .map_err(StoreError::at("cannot write", path))
}
