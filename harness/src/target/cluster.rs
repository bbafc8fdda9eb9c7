//! A store's processes, started from its target file on their hosts: the
//! nodes and any other roles, each a real process in its own process group,
//! killed and restarted with the same address and data, and never left
//! behind: dropping the cluster stops every process.
//!
//! Everything reaches a process through its [`Host`]: by default this machine
//! on loopback; a network namespace when the run partitions with `netns`.

pub use super::readiness::{Probe, Readiness};
use crate::client::OpenError;
use crate::host::{self, Host, HostError};
use crate::target_file::template::Template;
use crate::target_file::{Ready, TargetConfig};
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable that tells a node which process started it.
pub const PARENT_PID: &str = "FAULTLINE_PARENT_PID";

/// How long a control command (kill, pause, resume, stop) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with a store's processes.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The store cannot be chosen as asked.
    #[error(transparent)]
    Target(#[from] super::TargetError),
    /// No free ports for the processes.
    #[error("no free ports: {0}")]
    Ports(std::io::Error),
    /// A process's data directory cannot be made.
    #[error("{}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The install command failed on a process's host.
    #[error("installing {id}: {source}")]
    Install {
        /// The process.
        id: String,
        /// What the host said.
        source: HostError,
    },
    /// A process cannot be started.
    #[error("starting {id}: {source}")]
    Start {
        /// The process.
        id: String,
        /// What the host said.
        source: HostError,
    },
    /// A node's client cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The cluster did not answer in time.
    #[error(
        "{store} did not become ready within {timeout_s} s: {waiting} (see the node logs in the store)"
    )]
    NotReady {
        /// The store.
        store: String,
        /// The limit.
        timeout_s: f64,
        /// What it was still waiting for.
        waiting: String,
    },
}

/// A running cluster of one store.
pub struct LocalCluster {
    config: Arc<TargetConfig>,
    bug: Option<String>,
    exe: PathBuf,
    dir: PathBuf,
    /// Every process's client port by id, other roles included.
    ports: BTreeMap<String, u16>,
    /// Every process's peer port by id.
    peer_ports: BTreeMap<String, u16>,
    /// The nodes' ids (clients use them, faults touch them).
    nodes: Vec<String>,
    /// Where a process reaches a peer, where not at the peer's own address (a
    /// link proxy): `from → to → host:port`.
    routes: BTreeMap<String, BTreeMap<String, String>>,
    /// Extra environment per process (its clock).
    environment: BTreeMap<String, BTreeMap<String, String>>,
    /// Where each process runs (this machine unless placed elsewhere).
    hosts: BTreeMap<String, Arc<dyn Host>>,
    /// The processes whose install command has run on their host.
    installed: std::collections::BTreeSet<String>,
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
    /// Starts `size` nodes of the bundled store `store` (with its other
    /// roles), data and logs under `dir`, running `exe` (this binary).
    ///
    /// # Errors
    /// An unknown store or bug, or a process that cannot be started.
    pub fn start(
        exe: &Path,
        store: &str,
        size: usize,
        dir: &Path,
        bug: Option<&str>,
    ) -> Result<LocalCluster, ClusterError> {
        let target = super::Target::bundled(store, bug)?;
        let mut cluster = LocalCluster::prepare(exe, &target, size, dir)?;
        cluster.launch_all()?;
        Ok(cluster)
    }

    /// The processes of `size` nodes of `target` (`n1`, `n2`, …) and its other
    /// roles, with data and logs under `dir`; nothing is started yet: hosts,
    /// routes and environments may be set first, then
    /// [`LocalCluster::launch_all`].
    ///
    /// # Errors
    /// No free ports.
    pub fn prepare(
        exe: &Path,
        target: &super::Target,
        size: usize,
        dir: &Path,
    ) -> Result<LocalCluster, ClusterError> {
        let config = target.config.clone();
        let nodes: Vec<String> = (1..=size).map(|n| format!("n{n}")).collect();
        let ids: Vec<String> = config
            .roles
            .iter()
            .flat_map(|role| role.ids.iter().cloned())
            .chain(nodes.iter().cloned())
            .collect();
        let free = free_ports(2 * ids.len()).map_err(ClusterError::Ports)?;
        let ports: BTreeMap<String, u16> = ids
            .iter()
            .zip(&free)
            .map(|(id, port)| (id.clone(), config.nodes.client_port.unwrap_or(*port)))
            .collect();
        let peer_ports = ids
            .iter()
            .zip(&free[ids.len()..])
            .map(|(id, port)| {
                let port = match (config.nodes.peers_on_client_port, config.nodes.peer_port) {
                    (true, _) => ports[id],
                    (false, fixed) => fixed.unwrap_or(*port),
                };
                (id.clone(), port)
            })
            .collect();
        Ok(LocalCluster {
            config,
            bug: target.bug.clone(),
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            ports,
            peer_ports,
            nodes,
            routes: BTreeMap::new(),
            environment: BTreeMap::new(),
            hosts: BTreeMap::new(),
            installed: std::collections::BTreeSet::new(),
            children: BTreeMap::new(),
        })
    }

    /// The store's description.
    pub fn config(&self) -> &Arc<TargetConfig> {
        &self.config
    }

    /// Where `id` runs.
    pub fn host(&self, id: &str) -> Arc<dyn Host> {
        self.hosts
            .get(id)
            .cloned()
            .unwrap_or_else(|| Arc::new(host::Local))
    }

    fn address(&self, id: &str) -> std::net::Ipv4Addr {
        self.hosts
            .get(id)
            .map_or(std::net::Ipv4Addr::LOCALHOST, |host| host.address())
    }

    /// Every process's peer address by id.
    pub fn peer_addresses(&self) -> BTreeMap<String, std::net::SocketAddr> {
        self.peer_ports
            .iter()
            .map(|(id, port)| (id.clone(), (self.address(id), *port).into()))
            .collect()
    }

    /// The placeholders of `id`'s command templates.
    fn node_values(&self, id: &str) -> BTreeMap<&'static str, String> {
        let config = &self.config;
        let routes = self.routes.get(id);
        let members: Vec<String> = self
            .peer_ports
            .iter()
            .map(|(peer, port)| {
                // Through the link's proxy, where there is one.
                let (host, port) = match routes.and_then(|routes| routes.get(peer)) {
                    Some(address) => match address.rsplit_once(':') {
                        Some((host, port)) => (host.to_string(), port.to_string()),
                        None => (address.clone(), port.to_string()),
                    },
                    None => (self.address(peer).to_string(), port.to_string()),
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
            ("host", self.address(id).to_string()),
            ("client_port", self.ports[id].to_string()),
            ("peer_port", self.peer_ports[id].to_string()),
            ("data_dir", self.dir.join(id).display().to_string()),
            (
                "initial_cluster",
                members.join(&config.nodes.initial_cluster_separator),
            ),
            ("exe", self.exe.display().to_string()),
        ])
    }

    /// How to tell each node is ready, filled in.
    pub fn ready_probes(&self) -> Vec<(String, Probe)> {
        self.nodes
            .iter()
            .map(|id| {
                let probe = match &self.config.nodes.ready {
                    Ready::Http(url) => {
                        Probe::Http(self.node_command(id, std::slice::from_ref(url)).concat())
                    }
                    Ready::Command(words) => Probe::Command(self.node_command(id, words)),
                };
                (id.clone(), probe)
            })
            .collect()
    }

    /// `id`'s command from `words`, each filled in.
    pub fn node_command(&self, id: &str, words: &[Template]) -> Vec<String> {
        let values = self.node_values(id);
        words
            .iter()
            .map(|word| word.fill(|name| values[name].clone(), str::to_string))
            .collect()
    }

    /// Runs `id` on `host` from its next start.
    pub fn place(&mut self, id: &str, host: Arc<dyn Host>) {
        self.hosts.insert(id.to_string(), host);
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

    /// Starts every process not running.
    ///
    /// # Errors
    /// A process that cannot be started.
    pub fn launch_all(&mut self) -> Result<(), ClusterError> {
        let ids: Vec<String> = self.ports.keys().cloned().collect();
        for id in ids {
            if !self.running(&id) {
                self.launch(&id, false)?;
            }
        }
        Ok(())
    }

    /// Starts `id`: its role's start command (or the nodes' restart command
    /// after a kill), with the planted bug's words, under `faultline guard` so
    /// it dies with this process.
    fn launch(&mut self, id: &str, restart: bool) -> Result<(), ClusterError> {
        let config = self.config.clone();
        self.install(id)?;
        let role_start = config
            .roles
            .iter()
            .find(|role| role.ids.iter().any(|role_id| role_id == id))
            .and_then(|role| role.start.as_ref());
        let words = match (role_start, &config.nodes.restart, restart) {
            (Some(start), _, _) => start,
            (None, Some(restart), true) => restart,
            _ => &config.nodes.start,
        };
        let data_dir = self.dir.join(id);
        if restart && !config.nodes.keep_data_dir {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        std::fs::create_dir_all(&data_dir).map_err(|source| ClusterError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let mut line = vec![
            self.exe.display().to_string(),
            "guard".to_string(),
            "--".to_string(),
        ];
        line.extend(self.node_command(id, words));
        if let Some(bug) = &self.bug {
            line.extend(
                config
                    .bugs
                    .flag
                    .iter()
                    .map(|word| word.fill(|_| bug.clone(), str::to_string)),
            );
        }
        let mut environment = self.environment.get(id).cloned().unwrap_or_default();
        environment.insert(PARENT_PID.to_string(), std::process::id().to_string());
        let log = self.dir.join(format!("{id}.log"));
        let child = self
            .host(id)
            .spawn(&host::Spawn {
                argv: &line,
                environment: &environment,
                log: &log,
            })
            .map_err(|source| ClusterError::Start {
                id: id.to_string(),
                source,
            })?;
        self.children.insert(id.to_string(), child);
        Ok(())
    }

    /// Runs the target's install command for `id` on its host, once per run,
    /// before its first start; what it says goes to the process's log.
    fn install(&mut self, id: &str) -> Result<(), ClusterError> {
        let Some(words) = &self.config.nodes.install else {
            return Ok(());
        };
        if self.installed.contains(id) {
            return Ok(());
        }
        let line = self.node_command(id, words);
        let timeout = Duration::from_secs_f64(self.config.nodes.install_timeout_s);
        let said =
            self.host(id)
                .run(&line, None, timeout)
                .map_err(|source| ClusterError::Install {
                    id: id.to_string(),
                    source,
                })?;
        self.append_log(id, &said);
        self.installed.insert(id.to_string());
        Ok(())
    }

    /// Fetches the files each process wrote besides its output (the target
    /// file's `nodes.logs`) from its host into `nodes/<id>/logs/` in the
    /// store; a file already inside the store is left where it is. Returns
    /// what could not be fetched, each with why (a node that never wrote its
    /// log is not a failed run).
    pub fn collect_logs(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for id in self.ports.keys() {
            for template in &self.config.nodes.logs {
                let path = PathBuf::from(
                    self.node_command(id, std::slice::from_ref(template))
                        .concat(),
                );
                if path.starts_with(&self.dir) {
                    continue;
                }
                let name = path
                    .file_name()
                    .map_or_else(|| "log".into(), |name| name.to_string_lossy().into_owned());
                let local = self.dir.join(id).join("logs").join(name);
                let fetched = std::fs::create_dir_all(self.dir.join(id).join("logs"))
                    .map_err(|error| error.to_string())
                    .and_then(|()| {
                        self.host(id)
                            .fetch_file(&path, &local)
                            .map_err(|error| error.to_string())
                    });
                if let Err(error) = fetched {
                    missing.push(format!("{id}: {error}"));
                }
            }
        }
        missing
    }

    /// Appends what a command said to `id`'s log.
    fn append_log(&self, id: &str, said: &str) {
        if said.is_empty() {
            return;
        }
        use std::io::Write;
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{id}.log")))
        {
            let _ = log.write_all(said.as_bytes());
        }
    }

    /// The addresses clients use: the nodes', `host:port`.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|id| format!("{}:{}", self.address(id), self.ports[id]))
            .collect()
    }

    /// Every process's id, other roles included.
    pub fn ids(&self) -> Vec<String> {
        self.ports.keys().cloned().collect()
    }

    /// The nodes' ids (clients use them; faults touch them).
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }

    /// Kills a node, as a crash — its config's kill command if it has one,
    /// else SIGKILL to its process group — and reaps it.
    pub fn kill(&mut self, id: &str) {
        let command = self.config.nodes.control.kill.clone();
        self.end(id, command.as_deref());
    }

    /// Ends a process: `command` first, if any, with 5 s to take effect; then
    /// SIGKILL to its process group whatever happened, so nothing is left.
    fn end(&mut self, id: &str, command: Option<&[Template]>) {
        if let Some(words) = command {
            self.control(id, words);
            if let Some(child) = self.children.get_mut(id) {
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        if let Some(mut child) = self.children.remove(id) {
            self.host(id).signal_group(child.id(), Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs a control command of a process on its host (bounded in time), its
    /// output in the process's log.
    fn control(&mut self, id: &str, words: &[Template]) {
        let Some(pid) = self.children.get(id).map(Child::id) else {
            return;
        };
        let values = self.node_values(id);
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
        let said = match self.host(id).run(&line, None, CONTROL_TIMEOUT) {
            Ok(output) => output,
            Err(error) => format!("{error}\n"),
        };
        self.append_log(id, &said);
    }

    /// Pauses a node (SIGSTOP) or resumes it (SIGCONT) — by its config's
    /// pause and resume commands if it has them, else by sending `signal` to
    /// its process group.
    pub fn signal(&mut self, id: &str, signal: Signal) {
        let command = match signal {
            Signal::SIGSTOP => self.config.nodes.control.pause.clone(),
            Signal::SIGCONT => self.config.nodes.control.resume.clone(),
            _ => None,
        };
        if let Some(words) = command {
            self.control(id, &words);
        } else if let Some(child) = self.children.get(id) {
            self.host(id).signal_group(child.id(), signal);
        }
    }

    /// Waits until every node passes its ready probe and a read through the
    /// first node succeeds (the cluster has formed), for at most the target
    /// file's ready timeout.
    ///
    /// # Errors
    /// The cluster did not answer in time.
    pub async fn wait_until_ready(&self, http: &reqwest::Client) -> Result<(), ClusterError> {
        self.readiness(http)?.wait(http).await
    }

    /// What tells that the cluster is ready, apart from the cluster (so it can
    /// be waited for while the cluster is shared with the nemesis).
    ///
    /// # Errors
    /// The first node's address does not form a URL.
    pub fn readiness(&self, http: &reqwest::Client) -> Result<Readiness, ClusterError> {
        Ok(Readiness {
            config: self.config.clone(),
            probes: self.ready_probes(),
            first: super::open_client(&self.config, &self.addresses()[0], http)?,
        })
    }

    /// Whether a process is running (not killed).
    pub fn running(&self, id: &str) -> bool {
        self.children.contains_key(id)
    }

    /// Starts a killed node again, with the same address and data.
    ///
    /// # Errors
    /// A node that cannot be started.
    pub fn restart(&mut self, id: &str) -> Result<(), ClusterError> {
        self.kill(id);
        self.launch(id, true)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let ids: Vec<String> = self.children.keys().cloned().collect();
        let stop = self.config.nodes.control.stop.clone();
        for id in ids {
            // A configured stop first, if any; SIGKILL ends a paused process too.
            self.end(&id, stop.as_deref());
        }
    }
}
