//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Held shared by the canaries (timing-sensitive runs of planted bugs) and
/// exclusively by the run of a third-party store, which loads the 2-core CI
/// machine enough to change what a canary's fixed seed catches.
pub static HEAVY: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The built `faultline` binary.
pub fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Runs `faultline` with `args`.
pub fn run(args: &[&str]) -> Output {
    faultline().args(args).output().expect("faultline runs")
}

/// The exit code, stdout and stderr of a run.
pub fn outcome(output: &Output) -> (i32, String, String) {
    (
        output.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The Porcupine corpus shipped beside the repository.
pub fn corpus(file: &str) -> String {
    let dir = std::env::var_os("FAULTLINE_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/porcupine"),
        PathBuf::from,
    );
    dir.join(file).display().to_string()
}

/// Writes `text` to `name` in `dir` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file");
    path.display().to_string()
}
