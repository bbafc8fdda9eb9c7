//! A bundled store's nodes as real processes on loopback: started from this very
//! binary (`faultline node …`), killed with SIGKILL and restarted with the same
//! address and data, and never left behind: dropping the cluster kills every
//! node.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;

use crate::target_config::{self, TargetConfig};

/// The environment variable that tells a node which process started it.
pub const PARENT_PID: &str = "FAULTLINE_PARENT_PID";

/// What a node runs.
enum Launcher {
    /// A bundled store: this binary's `faultline node STORE`.
    Bundled { store: String, bug: Option<String> },
    /// A store described by a target config, its peers on `peer_ports`.
    Configured {
        config: Arc<TargetConfig>,
        peer_ports: BTreeMap<String, u16>,
    },
}

/// A running cluster of one store: a bundled one, or one from a target config.
pub struct LocalCluster {
    launcher: Launcher,
    exe: PathBuf,
    dir: PathBuf,
    logs: PathBuf,
    /// Every node's (client) port by id, chain-kv's master included.
    ports: BTreeMap<String, u16>,
    /// Where a node reaches a peer, where not at the peer's own address (a link
    /// proxy): `from → to → host:port`.
    routes: BTreeMap<String, BTreeMap<String, String>>,
    /// Extra environment per node (its clock).
    environment: BTreeMap<String, BTreeMap<String, String>>,
    /// Where a node listens and is reached, if not on loopback (its namespace).
    hosts: BTreeMap<String, std::net::Ipv4Addr>,
    /// What a node's command is run through (`ip netns exec …`).
    wrappers: BTreeMap<String, Vec<String>>,
    children: BTreeMap<String, Child>,
}

/// Free loopback ports, found by binding port 0.
fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|address| address.port()))
        .collect()
}

impl LocalCluster {
    /// Starts `size` nodes of `store` (`chain-kv` adds its master), with logs and
    /// data under `dir`, running `exe` (this binary).
    ///
    /// # Errors
    /// An unknown store, or a node that cannot be started.
    pub fn start(
        exe: &Path,
        store: &str,
        size: usize,
        dir: &Path,
        bug: Option<&str>,
    ) -> Result<LocalCluster, String> {
        LocalCluster::start_with_logs(exe, store, size, dir, dir, bug)
    }

    /// As [`LocalCluster::start`], with each node's stdout and stderr in
    /// `logs/<id>.log`.
    ///
    /// # Errors
    /// An unknown store, or a node that cannot be started.
    pub fn start_with_logs(
        exe: &Path,
        store: &str,
        size: usize,
        dir: &Path,
        logs: &Path,
        bug: Option<&str>,
    ) -> Result<LocalCluster, String> {
        let mut cluster = LocalCluster::prepare(exe, store, size, dir, logs, bug)?;
        cluster.launch_all()?;
        Ok(cluster)
    }

    /// As [`LocalCluster::start_with_logs`], but nothing is started yet: routes
    /// and environments may be set first, then [`LocalCluster::launch_all`].
    ///
    /// # Errors
    /// An unknown store, or no free ports.
    pub fn prepare(
        exe: &Path,
        store: &str,
        size: usize,
        dir: &Path,
        logs: &Path,
        bug: Option<&str>,
    ) -> Result<LocalCluster, String> {
        if store != "chain-kv" && store != "twopc-kv" {
            return Err(format!(
                "unknown store {store:?}; expected chain-kv or twopc-kv"
            ));
        }
        let master = usize::from(store == "chain-kv");
        let ids: Vec<String> = std::iter::once("master".to_string())
            .take(master)
            .chain((1..=size).map(|n| format!("n{n}")))
            .collect();
        let ports = free_ports(ids.len()).map_err(|error| error.to_string())?;
        Ok(LocalCluster {
            launcher: Launcher::Bundled {
                store: store.to_string(),
                bug: bug.map(str::to_string),
            },
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            logs: logs.to_path_buf(),
            ports: ids.into_iter().zip(ports).collect(),
            routes: BTreeMap::new(),
            environment: BTreeMap::new(),
            hosts: BTreeMap::new(),
            wrappers: BTreeMap::new(),
            children: BTreeMap::new(),
        })
    }

    /// As [`LocalCluster::prepare`], for `size` nodes of the store `config`
    /// describes (`n1`, `n2`, …), each with a client and a peer port.
    ///
    /// # Errors
    /// No free ports.
    pub fn prepare_configured(
        exe: &Path,
        config: Arc<TargetConfig>,
        size: usize,
        dir: &Path,
    ) -> Result<LocalCluster, String> {
        let ids: Vec<String> = (1..=size).map(|n| format!("n{n}")).collect();
        let free = free_ports(2 * size).map_err(|error| error.to_string())?;
        let ports = ids
            .iter()
            .zip(&free)
            .map(|(id, port)| (id.clone(), config.nodes.client_port.unwrap_or(*port)))
            .collect();
        let peer_ports = ids
            .iter()
            .zip(&free[size..])
            .map(|(id, port)| (id.clone(), config.nodes.peer_port.unwrap_or(*port)))
            .collect();
        Ok(LocalCluster {
            launcher: Launcher::Configured { config, peer_ports },
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            logs: dir.to_path_buf(),
            ports,
            routes: BTreeMap::new(),
            environment: BTreeMap::new(),
            hosts: BTreeMap::new(),
            wrappers: BTreeMap::new(),
            children: BTreeMap::new(),
        })
    }

    /// The target config, for a configured store.
    pub fn config(&self) -> Option<&Arc<TargetConfig>> {
        match &self.launcher {
            Launcher::Configured { config, .. } => Some(config),
            Launcher::Bundled { .. } => None,
        }
    }

    /// Every node's peer address by id, for a configured store (the bundled
    /// stores' peers use their client ports).
    pub fn peer_addresses(&self) -> BTreeMap<String, std::net::SocketAddr> {
        match &self.launcher {
            Launcher::Configured { peer_ports, .. } => peer_ports
                .iter()
                .map(|(id, port)| {
                    (
                        id.clone(),
                        std::net::SocketAddr::from((self.host(id), *port)),
                    )
                })
                .collect(),
            Launcher::Bundled { .. } => self.node_addresses(),
        }
    }

    /// The placeholders of `id`'s command templates.
    fn node_values(&self, id: &str, config: &TargetConfig) -> BTreeMap<&'static str, String> {
        let Launcher::Configured { peer_ports, .. } = &self.launcher else {
            return BTreeMap::new();
        };
        let routes = self.routes.get(id);
        let members: Vec<String> = peer_ports
            .iter()
            .map(|(peer, port)| {
                // Through the link's proxy, where there is one.
                let (host, port) = match routes.and_then(|routes| routes.get(peer)) {
                    Some(address) => match address.rsplit_once(':') {
                        Some((host, port)) => (host.to_string(), port.to_string()),
                        None => (address.clone(), port.to_string()),
                    },
                    None => (self.host(peer).to_string(), port.to_string()),
                };
                config.nodes.initial_cluster_member.fill(
                    |name| match name {
                        "id" => peer.clone(),
                        "host" => host.clone(),
                        "client_port" => self.ports[peer].to_string(),
                        _ => port.clone(),
                    },
                    str::to_string,
                )
            })
            .collect();
        BTreeMap::from([
            ("id", id.to_string()),
            ("host", self.host(id).to_string()),
            ("client_port", self.ports[id].to_string()),
            ("peer_port", peer_ports[id].to_string()),
            ("data_dir", self.dir.join(id).display().to_string()),
            (
                "initial_cluster",
                members.join(&config.nodes.initial_cluster_separator),
            ),
        ])
    }

    /// How to tell each node is ready, filled in, for a configured store.
    pub fn ready_probes(&self) -> Vec<(String, Probe)> {
        let Some(config) = self.config() else {
            return Vec::new();
        };
        self.nodes()
            .into_iter()
            .map(|id| {
                let probe = match &config.nodes.ready {
                    target_config::Ready::Http(url) => {
                        Probe::Http(self.node_command(&id, std::slice::from_ref(url)).concat())
                    }
                    target_config::Ready::Command(words) => {
                        Probe::Command(self.node_command(&id, words))
                    }
                };
                (id, probe)
            })
            .collect()
    }

    /// `id`'s command from `words`, each filled in (for the ready command too).
    pub fn node_command(
        &self,
        id: &str,
        words: &[target_config::template::Template],
    ) -> Vec<String> {
        let Some(config) = self.config() else {
            return Vec::new();
        };
        let values = self.node_values(id, config);
        words
            .iter()
            .map(|word| word.fill(|name| values[name].clone(), str::to_string))
            .collect()
    }

    fn host(&self, id: &str) -> std::net::Ipv4Addr {
        self.hosts
            .get(id)
            .copied()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST)
    }

    /// Every node's own address by id, chain-kv's master included.
    pub fn node_addresses(&self) -> BTreeMap<String, std::net::SocketAddr> {
        self.ports
            .iter()
            .map(|(id, port)| {
                (
                    id.clone(),
                    std::net::SocketAddr::from((self.host(id), *port)),
                )
            })
            .collect()
    }

    /// Runs `id` at `host`, its command prefixed by `wrapper` (a namespace's
    /// `ip netns exec`), from its next start.
    pub fn place(&mut self, id: &str, host: std::net::Ipv4Addr, wrapper: Vec<String>) {
        self.hosts.insert(id.to_string(), host);
        self.wrappers.insert(id.to_string(), wrapper);
    }

    /// Makes `from` reach `to` at `address` (a link proxy) from its next start.
    pub fn route(&mut self, from: &str, to: &str, address: String) {
        self.routes
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string(), address);
    }

    /// Sets environment variables for `id` from its next start.
    pub fn set_environment(&mut self, id: &str, variables: BTreeMap<String, String>) {
        self.environment.insert(id.to_string(), variables);
    }

    /// Starts every node not running.
    ///
    /// # Errors
    /// A node that cannot be started.
    pub fn launch_all(&mut self) -> Result<(), String> {
        let ids: Vec<String> = self.ports.keys().cloned().collect();
        for id in ids {
            if !self.running(&id) {
                self.launch(&id)?;
            }
        }
        Ok(())
    }

    fn launch(&mut self, id: &str) -> Result<(), String> {
        self.launch_with(id, false)
    }

    fn launch_with(&mut self, id: &str, restart: bool) -> Result<(), String> {
        if let Launcher::Configured { config, .. } = &self.launcher {
            let config = config.clone();
            let words = match (&config.nodes.restart, restart) {
                (Some(words), true) => words,
                _ => &config.nodes.start,
            };
            let data_dir = self.dir.join(id);
            if restart && !config.nodes.keep_data_dir {
                let _ = std::fs::remove_dir_all(&data_dir);
            }
            std::fs::create_dir_all(&data_dir)
                .map_err(|error| format!("{}: {error}", data_dir.display()))?;
            let line = self.node_command(id, words);
            return self.spawn(id, &line, &["guard", "--"]);
        }
        let routes = self.routes.get(id);
        let peers = self
            .ports
            .iter()
            .map(
                |(peer, port)| match routes.and_then(|routes| routes.get(peer)) {
                    Some(address) => format!("{peer}={address}"),
                    None => format!("{peer}={}:{port}", self.host(peer)),
                },
            )
            .collect::<Vec<_>>()
            .join(",");
        let Launcher::Bundled { store, bug } = &self.launcher else {
            unreachable!("configured stores launched above");
        };
        let mut line = vec![
            store.clone(),
            "--id".to_string(),
            id.to_string(),
            "--listen".to_string(),
            format!("{}:{}", self.host(id), self.ports[id]),
            "--peers".to_string(),
            peers,
            "--data-dir".to_string(),
            self.dir.join(id).display().to_string(),
        ];
        if let Some(bug) = bug {
            line.extend(["--bug".to_string(), bug.clone()]);
        }
        self.spawn(id, &line, &["node"])
    }

    /// Runs this binary's `subcommand` with `line` as node `id`: through its
    /// wrapper, in its own process group, its output in its log.
    fn spawn(&mut self, id: &str, line: &[String], subcommand: &[&str]) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{id}.log")))
            .map_err(|error| error.to_string())?;
        let log_err = log.try_clone().map_err(|error| error.to_string())?;
        let mut command = match self
            .wrappers
            .get(id)
            .and_then(|wrapper| wrapper.split_first())
        {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&self.exe);
                command
            }
            None => Command::new(&self.exe),
        };
        command
            .args(subcommand)
            .args(line)
            .stdout(log)
            .stderr(log_err)
            // Its own process group, so that signals reach anything it starts;
            // and it dies with this process (see `faultline node`).
            .process_group(0)
            .env(PARENT_PID, std::process::id().to_string())
            .envs(self.environment.get(id).into_iter().flatten());
        let child = command
            .spawn()
            .map_err(|error| format!("starting {id}: {error}"))?;
        self.children.insert(id.to_string(), child);
        Ok(())
    }

    /// The addresses clients use: every node but chain-kv's master.
    pub fn addresses(&self) -> Vec<String> {
        self.ports
            .iter()
            .filter(|(id, _)| id.as_str() != "master")
            .map(|(id, port)| format!("{}:{port}", self.host(id)))
            .collect()
    }

    /// Every id, chain-kv's master included.
    pub fn ids(&self) -> Vec<String> {
        self.ports.keys().cloned().collect()
    }

    /// The ids of the nodes clients use.
    pub fn nodes(&self) -> Vec<String> {
        self.ports
            .keys()
            .filter(|id| id.as_str() != "master")
            .cloned()
            .collect()
    }

    /// Kills a node, as a crash — its config's kill command if it has one,
    /// else SIGKILL to its process group — and reaps it.
    pub fn kill(&mut self, id: &str) {
        let command = self
            .config()
            .and_then(|config| config.nodes.control.kill.clone());
        self.end(id, command.as_deref());
    }

    /// Ends a node: `command` first, if any, with 5 s to take effect; then
    /// SIGKILL to its process group whatever happened, so nothing is left.
    fn end(&mut self, id: &str, command: Option<&[target_config::template::Template]>) {
        if let Some(words) = command {
            self.control(id, words);
            if let Some(child) = self.children.get_mut(id) {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        if let Some(mut child) = self.children.remove(id) {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs a control command of a configured node on this host (10 s at
    /// most), its output in the node's log.
    fn control(&mut self, id: &str, words: &[target_config::template::Template]) {
        let Some(config) = self.config().cloned() else {
            return;
        };
        let Some(pid) = self.children.get(id).map(Child::id) else {
            return;
        };
        let values = self.node_values(id, &config);
        let line: Vec<String> = words
            .iter()
            .map(|word| {
                word.fill(
                    |name| match name {
                        "pid" => pid.to_string(),
                        other => values[other].clone(),
                    },
                    str::to_string,
                )
            })
            .collect();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{id}.log")));
        let mut command = Command::new(&line[0]);
        command.args(&line[1..]).stdin(std::process::Stdio::null());
        if let Ok(log) = log
            && let Ok(log_err) = log.try_clone()
        {
            command.stdout(log).stderr(log_err);
        }
        if let Ok(mut running) = command.spawn() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while matches!(running.try_wait(), Ok(None)) {
                if std::time::Instant::now() > deadline {
                    let _ = running.kill();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = running.wait();
        }
    }

    /// Pauses a node (SIGSTOP) or resumes it (SIGCONT) — by its config's
    /// pause and resume commands if it has them, else by sending `signal` to
    /// its process group.
    pub fn signal(&mut self, id: &str, signal: nix::sys::signal::Signal) {
        let command = self.config().and_then(|config| match signal {
            nix::sys::signal::Signal::SIGSTOP => config.nodes.control.pause.clone(),
            nix::sys::signal::Signal::SIGCONT => config.nodes.control.resume.clone(),
            _ => None,
        });
        if let Some(words) = command {
            self.control(id, &words);
        } else if let Some(child) = self.children.get(id) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), signal);
        }
    }

    /// Whether a node is running (not killed).
    pub fn running(&self, id: &str) -> bool {
        self.children.contains_key(id)
    }

    /// Starts a killed node again, with the same address and data.
    ///
    /// # Errors
    /// A node that cannot be started.
    pub fn restart(&mut self, id: &str) -> Result<(), String> {
        self.kill(id);
        self.launch_with(id, true)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let ids: Vec<String> = self.children.keys().cloned().collect();
        let stop = self
            .config()
            .and_then(|config| config.nodes.control.stop.clone());
        for id in ids {
            // A configured stop first, if any; SIGKILL ends a paused process too.
            self.end(&id, stop.as_deref());
        }
    }
}

/// A readiness probe, filled in for one node.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A URL that answers 2xx when the node is ready.
    Http(String),
    /// A command that exits 0 when it is.
    Command(Vec<String>),
}

/// Waits until every node of a configured store passes its probe and a read
/// through the first node succeeds, for at most the config's ready timeout.
///
/// # Errors
/// The cluster did not answer in time.
pub async fn wait_until_configured_ready(
    client: &reqwest::Client,
    config: &TargetConfig,
    probes: &[(String, Probe)],
    addresses: &[String],
) -> Result<(), String> {
    let limit = std::time::Duration::from_secs_f64(config.nodes.ready_timeout_s);
    let deadline = std::time::Instant::now() + limit;
    let read = crate::workload::Op::Read {
        key: "faultline-ready".to_string(),
    };
    let mut waiting = String::new();
    loop {
        waiting.clear();
        for (id, probe) in probes {
            let ready = match probe {
                Probe::Http(url) => client
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|response| response.status().is_success()),
                Probe::Command(words) => {
                    let mut command = tokio::process::Command::new(&words[0]);
                    command
                        .args(&words[1..])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .kill_on_drop(true);
                    let status = tokio::time::timeout(limit, command.status()).await;
                    matches!(status, Ok(Ok(status)) if status.success())
                }
            };
            if !ready {
                waiting = format!("{id} did not pass its ready probe ({probe:?})");
                break;
            }
        }
        if waiting.is_empty() {
            let base = format!("http://{}", addresses[0]);
            match crate::client::configured::invoke(client, config, &base, &read).await {
                crate::client::Completion::Ok(_) => return Ok(()),
                other => waiting = format!("a read through n1 did not succeed: {other:?}"),
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{} did not become ready within {} s: {waiting} (see the node logs in the store)",
                config.name,
                limit.as_secs_f64()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Waits until every node answers `/health` and a read through the first node
/// succeeds (the cluster has formed), for at most 30 s.
///
/// # Errors
/// The cluster did not answer in time.
pub async fn wait_until_ready(
    client: &reqwest::Client,
    addresses: &[String],
) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut ready = true;
        for address in addresses {
            let healthy = client.get(format!("http://{address}/health")).send().await;
            ready &= healthy.is_ok_and(|response| response.status().is_success());
        }
        if ready {
            let read = client
                .get(format!("http://{}/kv/faultline-ready", addresses[0]))
                .send()
                .await;
            if read.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(
                "the cluster did not become ready within 30 s (see the node logs in the store)"
                    .to_string(),
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
