//! Targets: the store under test. Every store — the bundled chain-kv and
//! twopc-kv as much as etcd or a user's own — is described by a target file
//! (`config`): its processes and roles, how to start, stop, kill, pause and
//! restart them, how clients speak to it, the bugs it can plant and what it
//! can take (its capabilities). One loader reads them all and one code path
//! runs them (`cluster`), so every feature of a target file is exercised by
//! the bundled stores' canaries.
//!
//! - `config`: the target file, checked when read, errors naming the field.
//! - `cluster`: the processes on their hosts, and readiness.
//! - here: [`Target`], a store chosen for a run, and the bundled files.

pub mod cluster;
pub mod readiness;

use crate::client::{self, Client, OpenError};
use crate::target_file::{self as config, Protocol, TargetConfig, TargetFileError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The bundled stores' target files, built into the binary.
const BUNDLED: &[(&str, &str)] = &[
    (
        "chain-kv",
        include_str!("../../../targets/bundled/chain-kv.toml"),
    ),
    (
        "twopc-kv",
        include_str!("../../../targets/bundled/twopc-kv.toml"),
    ),
];

/// The bundled stores' names.
pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|(name, _)| *name).collect()
}

/// A store that cannot be chosen as asked: the user's input is wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TargetError {
    /// Its target file cannot be read or is not valid.
    #[error(transparent)]
    File(#[from] TargetFileError),
    /// No bundled store has this name.
    #[error(
        "unknown target {name:?}; expected {expected}, or describe the store in a file for --target-config (see targets/http/etcd.toml)"
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The bundled names, joined.
        expected: String,
    },
    /// The store offers no planted bugs.
    #[error("--bug plants a bug in a bundled store; {store} is not one")]
    NoBugs {
        /// The store.
        store: String,
    },
    /// The store offers other bugs.
    #[error("{store} has no bug {bug:?}; expected one of {expected}")]
    UnknownBug {
        /// The store.
        store: String,
        /// The bug asked for.
        bug: String,
        /// Its bugs, joined.
        expected: String,
    },
}

/// A store chosen for a run: its description and the bug planted in it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its target file, checked.
    pub config: Arc<TargetConfig>,
    /// The file it came from, for a user's store (none for a bundled one).
    pub file: Option<PathBuf>,
    /// The planted bug, if any.
    pub bug: Option<String>,
}

impl Target {
    /// The bundled store `name`, with `bug` planted.
    ///
    /// # Errors
    /// An unknown store or bug, with the names allowed.
    pub fn bundled(name: &str, bug: Option<&str>) -> Result<Target, TargetError> {
        let (_, text) = BUNDLED
            .iter()
            .find(|(bundled, _)| *bundled == name)
            .ok_or_else(|| TargetError::Unknown {
                name: name.to_string(),
                expected: bundled_names().join(" or "),
            })?;
        let config = config::parse(&format!("targets/bundled/{name}.toml"), text)?;
        Target::with_bug(config, None, bug)
    }

    /// The store described by the target file at `path`, with `bug` planted.
    ///
    /// # Errors
    /// The file cannot be read or is not a valid target file (the error names
    /// the file and field), or the bug is not one it offers.
    pub fn from_file(path: &Path, bug: Option<&str>) -> Result<Target, TargetError> {
        let config = config::load(path)?;
        Target::with_bug(config, Some(path.to_path_buf()), bug)
    }

    fn with_bug(
        config: TargetConfig,
        file: Option<PathBuf>,
        bug: Option<&str>,
    ) -> Result<Target, TargetError> {
        if let Some(bug) = bug
            && !config.bugs.names.iter().any(|name| name == bug)
        {
            return Err(if config.bugs.names.is_empty() {
                TargetError::NoBugs {
                    store: config.name.clone(),
                }
            } else {
                TargetError::UnknownBug {
                    store: config.name.clone(),
                    bug: bug.to_string(),
                    expected: config.bugs.names.join(", "),
                }
            });
        }
        Ok(Target {
            config: Arc::new(config),
            file,
            bug: bug.map(str::to_string),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// A client of the node at `address` (`host:port`), speaking the
    /// store's protocol over the pooled `http` client.
    ///
    /// # Errors
    /// The address does not form a URL.
    pub fn open_client(
        &self,
        address: &str,
        http: &reqwest::Client,
    ) -> Result<Arc<dyn Client>, OpenError> {
        open_client(&self.config, address, http)
    }
}

/// A client of the node at `address` of the store `config` describes.
///
/// # Errors
/// The address does not form a URL.
pub fn open_client(
    config: &Arc<TargetConfig>,
    address: &str,
    http: &reqwest::Client,
) -> Result<Arc<dyn Client>, OpenError> {
    Ok(match &config.protocol {
        Protocol::KvApi => Arc::new(client::kv_api::KvApiClient::new(address, http.clone())?),
        Protocol::Http(_) => Arc::new(client::configured::ConfiguredClient::new(
            config.clone(),
            address,
            http.clone(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_target_files_are_valid_and_offer_the_stores_own_bugs() {
        let chain = Target::bundled("chain-kv", None).unwrap();
        assert_eq!(chain.config.bugs.names, chain_kv::Bug::NAMES);
        assert_eq!(chain.config.roles[0].ids, ["master"]);
        assert!(!chain.config.capabilities.transactions);
        let twopc = Target::bundled("twopc-kv", Some("no-durable-prepare")).unwrap();
        assert_eq!(twopc.config.bugs.names, twopc_kv::Bug::NAMES);
        assert!(twopc.config.roles.is_empty() && twopc.config.capabilities.transactions);
        let unknown = Target::bundled("chain-kv", Some("gremlins"))
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("chain-kv has no bug \"gremlins\""),
            "{unknown}"
        );
        assert!(
            Target::bundled("redis", None)
                .unwrap_err()
                .to_string()
                .contains("unknown target")
        );
    }
}
