//! A stored run, read back typed: its `plan.json` as a [`StoredPlan`] and its
//! `results.json` as [`CheckResults`]. Both are serde structs, so a field
//! renamed on the writing side fails loudly here (and in the round-trip
//! tests) instead of silently blanking the report.

use super::{CheckError, CheckResults};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What a stored run's `plan.json` says, as its readers use it (the report,
/// re-checking, the CI outputs). `run::plan::Plan` writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredPlan {
    /// The test's name: target and workload.
    pub test: String,
    /// The seed.
    pub seed: u64,
    /// The store.
    pub target: String,
    /// Nodes.
    pub nodes: usize,
    /// The planted bug, if any.
    pub bug: Option<String>,
    /// The workload's name.
    pub workload: String,
    /// Worker threads.
    pub concurrency: usize,
    /// Target rate, ops/s.
    pub rate: f64,
    /// The consistency models checked.
    pub models: Vec<String>,
    /// The faults injected.
    pub nemesis: StoredNemesis,
    /// The network backend, if any.
    pub net: Option<String>,
    /// The target file of a store that is not bundled.
    #[serde(default)]
    pub target_config: Option<PathBuf>,
    /// The command that reproduces the schedule.
    pub command: String,
}

/// The nemesis part of a stored plan.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredNemesis {
    /// The kinds of fault.
    pub faults: Vec<String>,
    /// Seconds per fault, and per calm.
    pub interval_s: f64,
}

/// The plan of the run stored in `dir`, if it has a readable one (a history
/// checked alone has none).
///
/// # Errors
/// A `plan.json` that is there but is not one faultline writes.
pub fn read_plan(dir: &Path) -> Result<Option<StoredPlan>, CheckError> {
    let path = dir.join("plan.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| CheckError::Stored {
            message: format!(
                "line {}: not the plan faultline writes: {error}",
                error.line()
            ),
            path,
        })
}

/// The results stored in `dir`.
///
/// # Errors
/// A message naming the file that cannot be read or is not results faultline writes.
pub fn read_results(dir: &Path) -> Result<CheckResults, CheckError> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|error| CheckError::Stored {
        path: path.clone(),
        message: format!(
            "cannot read the results ({error}); `faultline check {}` writes them",
            dir.display()
        ),
    })?;
    serde_json::from_str(&text).map_err(|error| CheckError::Stored {
        message: format!(
            "line {}: not the results faultline writes: {error}",
            error.line()
        ),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checking::{all_models, check_history};
    use checkers::linearizable::Options;
    use checkers::txn::TxnOptions;

    /// Results written, read back typed and written again are the same bytes:
    /// every field the writer has, the reader has.
    fn round_trips(name: &str, text: &str) -> CheckResults {
        let history = histories::parse(name, text, None).unwrap();
        let options = Options::new(checkers::ModelKind::infer(&history));
        let checkers = check_history(
            &history,
            &options,
            &TxnOptions::default(),
            &all_models(),
            None,
        )
        .unwrap();
        let results = CheckResults::new(&history, histories::Format::Jsonl, checkers);
        let json = results.to_json();
        let back: CheckResults = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_json(), json);
        back
    }

    #[test]
    fn results_with_witnesses_of_every_checker_round_trip() {
        let registers = round_trips(
            "stale-read.jsonl",
            include_str!("../../../histories/examples/stale-read.jsonl"),
        );
        assert_eq!(registers.valid, checkers::Validity::Invalid);
        let report = registers.checkers.linearizable.as_ref().unwrap();
        assert!(!report.witnesses.is_empty());
        // A process that misses its own write: the weak models' witnesses.
        let own_write_missed = [
            r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"write","key":"x","value":1}"#,
            r#"{"index":1,"time":1,"type":"ok","process":0,"f":"write","key":"x","value":1}"#,
            r#"{"index":2,"time":2,"type":"invoke","process":0,"f":"read","key":"x","value":null}"#,
            r#"{"index":3,"time":3,"type":"ok","process":0,"f":"read","key":"x","value":null}"#,
        ]
        .join("\n");
        let profile = round_trips("ryw.jsonl", &own_write_missed);
        assert!(
            profile
                .checkers
                .profile
                .iter()
                .any(|verdict| verdict.witness.is_some())
        );
        // G1c: each transaction reads the other's append.
        let cycle = [
            r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"txn","value":[["append","x",1],["r","y",null]]}"#,
            r#"{"index":1,"time":1,"type":"invoke","process":1,"f":"txn","value":[["append","y",2],["r","x",null]]}"#,
            r#"{"index":2,"time":2,"type":"ok","process":0,"f":"txn","value":[["append","x",1],["r","y",[2]]]}"#,
            r#"{"index":3,"time":3,"type":"ok","process":1,"f":"txn","value":[["append","y",2],["r","x",[1]]]}"#,
            r#"{"index":4,"time":4,"type":"info","process":"nemesis","f":"kill","value":["n1"]}"#,
            r#"{"index":5,"time":5,"type":"info","process":"nemesis","f":"start","value":["n1"]}"#,
        ]
        .join("\n");
        let transactions = round_trips("g1c.jsonl", &cycle);
        let report = transactions.checkers.transactional.as_ref().unwrap();
        assert!(report.anomaly_types.iter().any(|name| *name == "G1c"));
        assert_eq!(transactions.nemesis.events.len(), 2);
    }

    #[test]
    fn a_results_file_with_a_field_renamed_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("results.json"),
            r#"{"valid": true, "file": "h", "fmt": "jsonl", "events": 0, "checkers": {}}"#,
        )
        .unwrap();
        let error = read_results(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("results.json: line 1: not the results faultline writes")
                && error.contains("format"),
            "{error}"
        );
    }
}
