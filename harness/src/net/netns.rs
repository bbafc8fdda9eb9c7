//! The root backend: one network namespace per node, as Jepsen's nodes are
//! machines. Each node's namespace has one interface on a bridge that lives in
//! a namespace of its own; the controller reaches the bridge through one veth
//! pair whose host end holds the subnet's last address, and its clients bind
//! that address, so if the set-up failed they cannot send anything anywhere.
//! Partitions and packet loss are nftables rules in the receiving node's
//! namespace (Jepsen's `iptables -A INPUT -s peer -j DROP`); one table per
//! namespace, so healing is one atomic delete.
//!
//! Everything is named `faultline-<pid>-…` (the host veth `fl<pid>h`), so
//! `faultline cleanup` can tell what a dead run left behind.

use super::grudge::Grudge;
use super::{Degradation, NetError};
use crate::host::{Host, Namespace};
use std::time::Duration;

/// How long one nft command may take.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// A run's namespaces.
pub struct NetnsNet {
    prefix: String,
    host_link: String,
    subnet: [u8; 3],
    /// Node id → its address.
    addresses: BTreeMap<String, Ipv4Addr>,
    grudge: Grudge,
    degraded: BTreeMap<String, Degradation>,
}

/// Runs `ip` and the like on this machine; a failure names the command.
fn sh(program: &str, args: &[&str], input: Option<&str>) -> Result<(), NetError> {
    let argv: Vec<String> = std::iter::once(program)
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect();
    crate::host::Local.run(&argv, input, NFT_TIMEOUT)?;
    Ok(())
}

/// The namespace prefix of the run with process id `pid`.
pub fn prefix_of(pid: u32) -> String {
    format!("faultline-{pid}-")
}

/// Whether this process may create namespaces (root).
pub fn available() -> bool {
    nix::unistd::geteuid().is_root()
}

impl NetnsNet {
    /// Creates a namespace per node in `ids`, a bridge, and the controller's
    /// uplink, on a /24 under 10.231.0.0/16 that no route of this machine uses.
    ///
    /// # Errors
    /// Not root, tools missing, or a step failing (what was made is removed).
    pub fn new(ids: &[String]) -> Result<NetnsNet, NetError> {
        if !available() {
            return Err(NetError::NeedsRoot);
        }
        let pid = std::process::id();
        let subnet = free_subnet(pid)?;
        let addresses = ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                let last = u8::try_from(index + 1).ok().filter(|last| *last < 254);
                last.map(|last| {
                    (
                        id.clone(),
                        Ipv4Addr::new(subnet[0], subnet[1], subnet[2], last),
                    )
                })
                .ok_or(NetError::TooManyNodes)
            })
            .collect::<Result<_, _>>()?;
        let net = NetnsNet {
            prefix: prefix_of(pid),
            host_link: format!("fl{pid}h"),
            subnet,
            addresses,
            grudge: Grudge::new(),
            degraded: BTreeMap::new(),
        };
        // On failure `net` is dropped, which removes whatever was made.
        net.build()?;
        Ok(net)
    }

    fn namespace(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    fn switch(&self) -> String {
        format!("{}switch", self.prefix)
    }

    /// Every namespace of the run, the switch's included.
    pub fn namespaces(&self) -> Vec<String> {
        self.addresses
            .keys()
            .map(|id| self.namespace(id))
            .chain([self.switch()])
            .collect()
    }

    /// The host end of the uplink.
    pub fn host_link(&self) -> &str {
        &self.host_link
    }

    /// Each node's address.
    pub fn addresses(&self) -> &BTreeMap<String, Ipv4Addr> {
        &self.addresses
    }

    /// The controller's address on the bridge.
    pub fn host_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], 254)
    }

    /// A node's address.
    pub fn address(&self, id: &str) -> Option<Ipv4Addr> {
        self.addresses.get(id).copied()
    }

    /// `id`'s namespace as a host: where its process runs and its rules go.
    pub fn host(&self, id: &str) -> Option<Namespace> {
        Some(Namespace {
            namespace: self.namespace(id),
            address: self.address(id)?,
        })
    }

    fn build(&self) -> Result<(), NetError> {
        let switch = self.switch();
        sh("ip", &["netns", "add", &switch], None)?;
        sh(
            "ip",
            &["-n", &switch, "link", "add", "br0", "type", "bridge"],
            None,
        )?;
        sh("ip", &["-n", &switch, "link", "set", "br0", "up"], None)?;
        for (index, (id, address)) in self.addresses.iter().enumerate() {
            let namespace = self.namespace(id);
            let port = format!("v{index}");
            sh("ip", &["netns", "add", &namespace], None)?;
            sh(
                "ip",
                &[
                    "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &namespace,
                ],
                None,
            )?;
            sh(
                "ip",
                &["-n", &switch, "link", "set", &port, "master", "br0", "up"],
                None,
            )?;
            sh(
                "ip",
                &[
                    "-n",
                    &namespace,
                    "addr",
                    "add",
                    &format!("{address}/24"),
                    "dev",
                    "eth0",
                ],
                None,
            )?;
            sh("ip", &["-n", &namespace, "link", "set", "eth0", "up"], None)?;
            sh("ip", &["-n", &namespace, "link", "set", "lo", "up"], None)?;
        }
        sh(
            "ip",
            &[
                "link",
                "add",
                &self.host_link,
                "type",
                "veth",
                "peer",
                "name",
                "uplink",
                "netns",
                &switch,
            ],
            None,
        )?;
        sh(
            "ip",
            &[
                "-n", &switch, "link", "set", "uplink", "master", "br0", "up",
            ],
            None,
        )?;
        sh(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", self.host_address()),
                "dev",
                &self.host_link,
            ],
            None,
        )?;
        sh("ip", &["link", "set", &self.host_link, "up"], None)
    }

    /// Replaces the partition in force with `grudge` (empty: heal).
    ///
    /// # Errors
    /// A rule that cannot be set.
    pub fn partition(&mut self, grudge: &Grudge) -> Result<(), NetError> {
        self.grudge = grudge.clone();
        self.apply()
    }

    /// Loses the given share of every packet to or from one of `nodes` (none:
    /// restore all). The delay is not applied (see [`super::Network::effective`]).
    ///
    /// # Errors
    /// A rule that cannot be set.
    pub fn degrade(&mut self, nodes: &[String], degradation: Degradation) -> Result<(), NetError> {
        self.degraded = nodes
            .iter()
            .map(|node| (node.clone(), degradation))
            .collect();
        self.apply()
    }

    /// Every rule removed.
    ///
    /// # Errors
    /// A rule that cannot be removed.
    pub fn heal(&mut self) -> Result<(), NetError> {
        self.grudge.clear();
        self.degraded.clear();
        self.apply()
    }

    /// Rewrites each node's table from the grudge and the degraded set.
    fn apply(&self) -> Result<(), NetError> {
        for id in self.addresses.keys() {
            let dropped: Vec<String> = self
                .grudge
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|peer| self.addresses.get(peer))
                .map(Ipv4Addr::to_string)
                .collect();
            let mut rules = Vec::new();
            if !dropped.is_empty() {
                rules.push(format!("ip saddr {{ {} }} drop", dropped.join(", ")));
            }
            // Loss on a degraded node's traffic both ways: what it receives
            // here, and what its peers receive from it in theirs.
            for (node, degradation) in &self.degraded {
                let Some(peer) = self.addresses.get(node) else {
                    continue;
                };
                let per_mille = (degradation.loss * 1000.0).round() as u32;
                let from = if node == id {
                    // Everything from the bridge but the controller.
                    format!("iifname \"eth0\" ip saddr != {}", self.host_address())
                } else {
                    format!("ip saddr {peer}")
                };
                if per_mille > 0 {
                    rules.push(format!("{from} numgen random mod 1000 < {per_mille} drop"));
                }
            }
            // Delete and re-add in one transaction: never a moment unguarded.
            let host = self.host(id).expect("every id has a host");
            let nft = |words: &[&str], script: Option<&str>| {
                let argv: Vec<String> = std::iter::once("nft")
                    .chain(words.iter().copied())
                    .map(str::to_string)
                    .collect();
                host.run(&argv, script, NFT_TIMEOUT)
                    .map(|_| ())
                    .map_err(NetError::Command)
            };
            let exists = nft(&["list", "table", "inet", "faultline"], None).is_ok();
            let mut script = String::new();
            if exists {
                script.push_str("delete table inet faultline\n");
            }
            if !rules.is_empty() {
                script.push_str(&format!(
                    "table inet faultline {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n{}  }}\n}}\n",
                    rules.iter().map(|rule| format!("    {rule}\n")).collect::<String>()
                ));
            }
            if !script.is_empty() {
                nft(&["-f", "-"], Some(&script))?;
            }
        }
        Ok(())
    }
}

impl Drop for NetnsNet {
    fn drop(&mut self) {
        remove(&self.prefix, &self.host_link);
    }
}

/// Kills every process in the namespaces named `prefix…` and deletes them,
/// and the host end of the uplink; returns the namespaces removed.
pub fn remove(prefix: &str, host_link: &str) -> Vec<String> {
    let namespaces = list_namespaces(prefix);
    for namespace in &namespaces {
        if let Ok(output) = Command::new("ip")
            .args(["netns", "pids", namespace])
            .output()
        {
            for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
    for namespace in &namespaces {
        let _ = sh("ip", &["netns", "del", namespace], None);
    }
    // The uplink goes with the switch namespace, but not always at once.
    let _ = Command::new("ip")
        .args(["link", "del", host_link])
        .stderr(Stdio::null())
        .status();
    namespaces
}

/// The names of namespaces starting with `prefix`.
pub fn list_namespaces(prefix: &str) -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .filter(|name| name.starts_with(prefix))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A /24 under 10.231.0.0/16 that no address or route here uses, starting
/// from one chosen by `pid` so that concurrent runs rarely meet.
fn free_subnet(pid: u32) -> Result<[u8; 3], NetError> {
    let argv = ["ip", "-4", "route", "show", "table", "all"].map(str::to_string);
    let routes = crate::host::Local.run(&argv, None, NFT_TIMEOUT)?;
    (0..256u32)
        .map(|step| ((pid + step) % 256) as u8)
        .map(|third| [10, 231, third])
        .find(|subnet| !routes.contains(&format!("{}.{}.{}.", subnet[0], subnet[1], subnet[2])))
        .ok_or(NetError::NoSubnet)
}

/// What `faultline cleanup` removes: the namespaces and uplinks of runs whose
/// controller is no longer alive. Returns the namespaces removed.
pub fn clean_dead_runs() -> Vec<String> {
    let mut dead: Vec<u32> = list_namespaces("faultline-")
        .iter()
        .filter_map(|name| {
            name.strip_prefix("faultline-")?
                .split('-')
                .next()?
                .parse()
                .ok()
        })
        .filter(|pid: &u32| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    dead.sort_unstable();
    dead.dedup();
    dead.into_iter()
        .flat_map(|pid| remove(&prefix_of(pid), &format!("fl{pid}h")))
        .collect()
}
