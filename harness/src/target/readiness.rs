//! When a cluster is ready: each node passes its target file's probe (an
//! HTTP URL or a command), and a read through the first node succeeds (the
//! cluster has formed). Apart from the cluster, so it can be waited for while
//! the nemesis holds the cluster.

use super::cluster::ClusterError;
use crate::client::{Client, Completion};
use crate::target_file::TargetConfig;
use std::sync::Arc;
use std::time::Duration;

/// A readiness probe, filled in for one node.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A URL that answers 2xx when the node is ready.
    Http(String),
    /// A command that exits 0 when it is.
    Command(Vec<String>),
}

/// Each node's probe, and a client of the first node.
pub struct Readiness {
    pub(super) config: Arc<TargetConfig>,
    pub(super) probes: Vec<(String, Probe)>,
    pub(super) first: Arc<dyn Client>,
}

impl Readiness {
    /// Waits until every node passes its probe and a read through the first
    /// node succeeds, for at most the target file's ready timeout.
    ///
    /// # Errors
    /// The cluster did not answer in time.
    pub async fn wait(&self, http: &reqwest::Client) -> Result<(), ClusterError> {
        let (config, probes) = (&self.config, &self.probes);
        let limit = Duration::from_secs_f64(config.nodes.ready_timeout_s);
        let deadline = std::time::Instant::now() + limit;
        let read = crate::workload::Op::Read {
            key: "faultline-ready".to_string(),
        };
        let mut waiting = String::new();
        loop {
            waiting.clear();
            for (id, probe) in probes {
                let ready = match probe {
                    Probe::Http(url) => http
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
                match self.first.invoke(&read).await {
                    Completion::Ok(_) => return Ok(()),
                    other => waiting = format!("a read through n1 did not succeed: {other:?}"),
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(ClusterError::NotReady {
                    store: config.name.clone(),
                    timeout_s: limit.as_secs_f64(),
                    waiting,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
