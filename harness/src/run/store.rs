//! The store: `store/<test>/<timestamp>/` per run, with `plan.json`,
//! `history.jsonl`, `results.json` and `nodes/<id>.log`; `store/latest` and
//! `store/<test>/latest` point at the newest run.

use std::path::{Path, PathBuf};

/// The store cannot hold the run.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct StoreError {
    /// What could not be done (`cannot create the store`).
    pub what: &'static str,
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl StoreError {
    /// The error of `what` at `path`, from the `io::Error` it meets.
    pub fn at(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError { what, path, source }
    }
}

/// Creates the run's directory under `root` and points the `latest` links at it.
///
/// # Errors
/// The directory that cannot be created or linked.
pub fn create(root: &Path, test: &str) -> Result<PathBuf, StoreError> {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
    let dir = root.join(test).join(&stamp);
    std::fs::create_dir_all(dir.join("nodes"))
        .map_err(StoreError::at("cannot create the store", &dir))?;
    for (link, target) in [
        (root.join("latest"), PathBuf::from(test).join(&stamp)),
        (root.join(test).join("latest"), PathBuf::from(&stamp)),
    ] {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(StoreError::at("cannot link to the run:", &link))?;
    }
    Ok(dir)
}

/// Checks, before anything starts, that runs can be stored under `root`.
///
/// # Errors
/// Why not.
pub fn check_writable(root: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(root).map_err(StoreError::at("cannot create the store", root))?;
    let probe = root.join(format!(".faultline-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(StoreError::at("cannot write in the store", root))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
