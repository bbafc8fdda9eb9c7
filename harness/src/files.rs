//! Writing the store's files: whole or not at all.

use std::path::Path;

/// Writes `bytes` to `path` atomically: staged beside it under a name of this
/// process's own, then renamed into place, so a reader (the report server, a
/// CI step, a run killed mid-write) sees the old file or the new one, never half.
///
/// # Errors
/// The file cannot be staged or renamed (the staged copy is removed).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let staged = path.with_file_name(format!(".{name}.{}.staged", std::process::id()));
    let written = std::fs::write(&staged, bytes).and_then(|()| std::fs::rename(&staged, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let missing = dir.path().join("absent").join("x.json");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}
