//! The store: `store/<test>/<timestamp>/` per run, with `plan.json`,
//! `history.jsonl`, `results.json` and `nodes/<id>.log`; `store/latest` and
//! `store/<test>/latest` point at the newest run.

use std::path::{Path, PathBuf};

/// Creates the run's directory under `root` and points the `latest` links at it.
///
/// # Errors
/// A message naming the directory that cannot be created.
pub fn create(root: &Path, test: &str) -> Result<PathBuf, String> {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
    let dir = root.join(test).join(&stamp);
    std::fs::create_dir_all(dir.join("nodes"))
        .map_err(|error| format!("cannot create the store {}: {error}", dir.display()))?;
    for (link, target) in [
        (root.join("latest"), PathBuf::from(test).join(&stamp)),
        (root.join(test).join("latest"), PathBuf::from(&stamp)),
    ] {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|error| format!("cannot link {} to the run: {error}", link.display()))?;
    }
    Ok(dir)
}

/// Checks, before anything starts, that runs can be stored under `root`.
///
/// # Errors
/// A message saying why not.
pub fn check_writable(root: &Path) -> Result<(), String> {
    std::fs::create_dir_all(root)
        .map_err(|error| format!("the store {} cannot be created: {error}", root.display()))?;
    let probe = root.join(format!(".faultline-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|error| format!("the store {} is not writable: {error}", root.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
