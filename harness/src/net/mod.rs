//! The network between nodes, and the faults put on it: partitions (grudges)
//! and degraded links (delay, loss).
//!
//! Two backends, as DESIGN.md lays out. `proxy` (rootless): one TCP proxy per
//! directed link, whose address the harness writes into the source node's peer
//! list — only for targets whose peer addresses the harness sets, the bundled
//! ones. `netns` (root): one network namespace per node on a private bridge, and
//! packet-filter rules inside each node's namespace, as Jepsen does over SSH.

pub mod grudge;
pub mod netns;
pub mod proxy;

use grudge::Grudge;
use proxy::{LinkProxy, Mode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// The network faults could not be set up or made.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A command (`ip`, `nft`) failed or could not run.
    #[error("{0} (the netns backend needs iproute2 and nftables, and root)")]
    Command(#[from] crate::host::HostError),
    /// Namespaces need root.
    #[error("--net netns needs root (or use --net proxy)")]
    NeedsRoot,
    /// Every subnet the backend may use is taken.
    #[error("no free /24 under 10.231.0.0/16 for --net netns")]
    NoSubnet,
    /// More nodes than one subnet holds.
    #[error("--net netns takes at most 253 nodes")]
    TooManyNodes,
    /// The proxies' runtime cannot start.
    #[error("starting the link proxies: {0}")]
    Runtime(std::io::Error),
    /// A link's proxy cannot listen.
    #[error("a proxy for {from}→{to}: {source}")]
    Proxy {
        /// The link's source.
        from: String,
        /// The link's destination.
        to: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Which partition backend a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Per-link TCP proxies on loopback.
    Proxy,
    /// Network namespaces and packet filters (root).
    Netns,
}

impl Backend {
    /// The name `--net` takes.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Proxy => "proxy",
            Backend::Netns => "netns",
        }
    }

    /// Parses `--net`: `proxy`, `netns` or `auto`.
    ///
    /// # Errors
    /// A message naming what is allowed.
    pub fn parse(text: &str) -> Result<Option<Backend>, String> {
        match text {
            "auto" => Ok(None),
            "proxy" => Ok(Some(Backend::Proxy)),
            "netns" => Ok(Some(Backend::Netns)),
            other => Err(format!(
                "unknown --net {other:?}; expected proxy (rootless, bundled targets), netns (root) or auto"
            )),
        }
    }
}

/// How degraded a link is: what the `packet` fault does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Degradation {
    /// Added to every chunk of traffic, milliseconds.
    pub delay_ms: u64,
    /// The probability that a chunk is lost once (and so resent after a
    /// retransmission timeout).
    pub loss: f64,
}

/// The network a run's faults act on.
pub enum Network {
    /// Per-link proxies.
    Proxy(ProxyNet),
    /// Namespaces and packet filters.
    Netns(netns::NetnsNet),
}

impl Network {
    /// Replaces the partition in force with `grudge` (empty: heal it).
    ///
    /// # Errors
    /// A rule that cannot be set.
    pub fn partition(&mut self, grudge: &Grudge) -> Result<(), NetError> {
        match self {
            Network::Proxy(net) => net.partition(grudge),
            Network::Netns(net) => net.partition(grudge),
        }
    }

    /// Degrades the traffic of `nodes` (none: restore all).
    ///
    /// # Errors
    /// A rule that cannot be set.
    pub fn degrade(&mut self, nodes: &[String], degradation: Degradation) -> Result<(), NetError> {
        match self {
            Network::Proxy(net) => net.degrade(nodes, degradation),
            Network::Netns(net) => net.degrade(nodes, degradation),
        }
    }

    /// What `degradation` amounts to on this network: namespaces lose packets
    /// but cannot delay them without `tc netem`, which this backend does not
    /// rely on (kernels without `sch_netem` lack it).
    pub fn effective(&self, degradation: Degradation) -> Degradation {
        match self {
            Network::Proxy(_) => degradation,
            Network::Netns(_) => Degradation {
                delay_ms: 0,
                ..degradation
            },
        }
    }

    /// Every fault on the network removed.
    ///
    /// # Errors
    /// A rule that cannot be removed.
    pub fn heal(&mut self) -> Result<(), NetError> {
        match self {
            Network::Proxy(net) => net.heal(),
            Network::Netns(net) => net.heal(),
        }
    }
}

/// Per-link proxies between every pair of nodes, on a runtime of their own so
/// that traffic between nodes never waits for the controller's thread.
pub struct ProxyNet {
    runtime: Option<tokio::runtime::Runtime>,
    links: BTreeMap<(String, String), LinkProxy>,
    cut: BTreeSet<(String, String)>,
    degraded: BTreeMap<(String, String), Degradation>,
}

impl ProxyNet {
    /// One proxy for every ordered pair of distinct nodes, forwarding to the
    /// destination's real address.
    ///
    /// # Errors
    /// A runtime or a port that cannot be had.
    pub fn new(nodes: &BTreeMap<String, SocketAddr>) -> Result<ProxyNet, NetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("faultline-proxies")
            .enable_all()
            .build()
            .map_err(NetError::Runtime)?;
        let mut links = BTreeMap::new();
        for from in nodes.keys() {
            for (to, address) in nodes {
                if from != to {
                    let proxy = LinkProxy::start(runtime.handle(), *address).map_err(|source| {
                        NetError::Proxy {
                            from: from.clone(),
                            to: to.clone(),
                            source,
                        }
                    })?;
                    links.insert((from.clone(), to.clone()), proxy);
                }
            }
        }
        Ok(ProxyNet {
            runtime: Some(runtime),
            links,
            cut: BTreeSet::new(),
            degraded: BTreeMap::new(),
        })
    }

    /// Where `from` reaches `to`.
    pub fn route(&self, from: &str, to: &str) -> Option<SocketAddr> {
        self.links
            .get(&(from.to_string(), to.to_string()))
            .map(LinkProxy::address)
    }

    /// Every link's proxy port, for checks that none is left.
    pub fn ports(&self) -> Vec<u16> {
        self.links
            .values()
            .map(|link| link.address().port())
            .collect()
    }

    /// Replaces the partition in force with `grudge` (empty: heal). Never
    /// fails; a `Result` like the other network's.
    ///
    /// # Errors
    /// None.
    pub fn partition(&mut self, grudge: &Grudge) -> Result<(), NetError> {
        self.cut = grudge::cut_links(grudge);
        self.apply()
    }

    /// Degrades every link to or from one of `nodes` (none: restore all).
    ///
    /// # Errors
    /// None.
    pub fn degrade(&mut self, nodes: &[String], degradation: Degradation) -> Result<(), NetError> {
        self.degraded = self
            .links
            .keys()
            .filter(|(from, to)| nodes.contains(from) || nodes.contains(to))
            .map(|link| (link.clone(), degradation))
            .collect();
        self.apply()
    }

    /// Every link back to passing traffic.
    ///
    /// # Errors
    /// None.
    pub fn heal(&mut self) -> Result<(), NetError> {
        self.cut.clear();
        self.degraded.clear();
        self.apply()
    }

    fn apply(&self) -> Result<(), NetError> {
        for (link, proxy) in &self.links {
            let mode = if self.cut.contains(link) {
                Mode::Cut
            } else if let Some(degradation) = self.degraded.get(link) {
                Mode::Degraded {
                    delay: Duration::from_millis(degradation.delay_ms),
                    loss: degradation.loss,
                }
            } else {
                Mode::Pass
            };
            proxy.set(mode);
        }
        Ok(())
    }
}

impl Drop for ProxyNet {
    fn drop(&mut self) {
        self.links.clear();
        // Dropping a runtime blocks, which is not allowed inside the
        // controller's async code; its thread ends on its own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
