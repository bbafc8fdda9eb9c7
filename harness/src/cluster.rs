//! A bundled store's nodes as real processes on loopback: started from this very
//! binary (`faultline node …`), killed with SIGKILL and restarted with the same
//! address and data, and never left behind: dropping the cluster kills every
//! node.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The environment variable that tells a node which process started it.
pub const PARENT_PID: &str = "FAULTLINE_PARENT_PID";

/// A running cluster of one bundled store.
pub struct LocalCluster {
    store: String,
    exe: PathBuf,
    dir: PathBuf,
    logs: PathBuf,
    bug: Option<String>,
    /// Every node's port by id, chain-kv's master included.
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
            store: store.to_string(),
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            logs: logs.to_path_buf(),
            bug: bug.map(str::to_string),
            ports: ids.into_iter().zip(ports).collect(),
            routes: BTreeMap::new(),
            environment: BTreeMap::new(),
            hosts: BTreeMap::new(),
            wrappers: BTreeMap::new(),
            children: BTreeMap::new(),
        })
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
            .args([
                "node",
                &self.store,
                "--id",
                id,
                "--listen",
                &format!("{}:{}", self.host(id), self.ports[id]),
                "--peers",
                &peers,
            ])
            .arg("--data-dir")
            .arg(self.dir.join(id))
            .stdout(log)
            .stderr(log_err)
            // Its own process group, so that signals reach anything it starts;
            // and it dies with this process (see `faultline node`).
            .process_group(0)
            .env(PARENT_PID, std::process::id().to_string())
            .envs(self.environment.get(id).into_iter().flatten());
        if let Some(bug) = &self.bug {
            command.args(["--bug", bug]);
        }
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

    /// Kills a node's process group with SIGKILL, as a crash, and reaps it.
    pub fn kill(&mut self, id: &str) {
        if let Some(mut child) = self.children.remove(id) {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` to a node's process group (SIGSTOP pauses it, SIGCONT
    /// resumes it).
    pub fn signal(&self, id: &str, signal: nix::sys::signal::Signal) {
        if let Some(child) = self.children.get(id) {
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
        self.launch(id)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let ids: Vec<String> = self.children.keys().cloned().collect();
        for id in ids {
            // SIGKILL ends a paused process too.
            self.kill(&id);
        }
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
