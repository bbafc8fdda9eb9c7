//! The checking service: a history in, every checker that fits it run, typed
//! results out. `run`, `check`, `report`, `bench` and the CI outputs all go
//! through here, so a history is judged the same way wherever it comes from.
//! The command-line front ends live in `commands/check.rs` and `run/`.

pub mod registry;
pub mod render;
pub mod stored;

use crate::nemesis::timeline::Timeline;
use checkers::linearizable::{self, Options, Report};
use checkers::txn::{TxnOptions, TxnReport};
use checkers::weak::{self, WeakVerdict};
use checkers::{ModelKind, Validity};
use histories::{Format, History};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use stored::StoredPlan;

/// What `check --json` prints: the verdict over all checkers, and each checker's
/// report under its name.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct CheckResults {
    /// The merged verdict: `true`, `false` or `"unknown"`.
    pub valid: Validity,
    /// The history file.
    pub file: String,
    /// Its format.
    pub format: String,
    /// Events in the file.
    pub events: usize,
    /// Each checker's report.
    pub checkers: Checkers,
    /// What the nemesis did, if the history says.
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub nemesis: Timeline,
}

impl CheckResults {
    /// The results of checking `history` (read as `format`).
    pub fn new(history: &History, format: Format, checkers: Checkers) -> CheckResults {
        let valid = checkers
            .linearizable
            .iter()
            .map(|report| report.valid)
            .chain(checkers.transactional.iter().map(|report| report.valid))
            .chain(checkers.profile.iter().map(|verdict| verdict.valid))
            .fold(Validity::Valid, Validity::merge);
        CheckResults {
            valid,
            file: history.file.clone(),
            format: format.name().to_string(),
            events: history.events.len(),
            checkers,
            nemesis: Timeline::of(history),
        }
    }

    /// The JSON `check --json` prints and `results.json` holds.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("results serialize") + "\n"
    }
}

/// The reports by checker; each present when it fits the history.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Checkers {
    /// Linearizability, for single-key operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizable: Option<Report>,
    /// Transactional isolation, for `txn` operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional: Option<TxnReport>,
    /// The weak models asked for, strongest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<WeakVerdict>,
}

/// Every model `--models all` names, strongest first.
pub fn all_models() -> Vec<&'static str> {
    std::iter::once(LINEARIZABLE).chain(weak::MODELS).collect()
}

/// The linearizability checker's name in `--models`.
pub const LINEARIZABLE: &str = "linearizable";
/// The weak models' checker (the consistency profile).
pub const PROFILE: &str = "profile";
/// The transactional checker.
pub const TRANSACTIONAL: &str = "transactional";

/// A history that cannot be checked, or results that cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The history file cannot be read.
    #[error("{}: cannot read the history: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The history is malformed (the error names the line).
    #[error(transparent)]
    History(#[from] histories::HistoryError),
    /// The history does not fit a checker it was given to (a message naming the line).
    #[error("{0}")]
    Unfit(String),
    /// A stored `plan.json` or `results.json` is missing or not faultline's.
    #[error("{}: {message}", path.display())]
    Stored {
        /// The file.
        path: PathBuf,
        /// What is wrong, and how to make one.
        message: String,
    },
    /// The results cannot be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl CheckError {
    /// Whether the input is at fault (exit 254) rather than the harness (255).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, CheckError::Write { .. })
    }
}

/// Parses `--models`: `all`, or names separated by commas.
///
/// # Errors
/// An unknown name, with the names allowed.
pub fn parse_models(text: &str) -> Result<Vec<&'static str>, String> {
    let all = all_models();
    if text.trim() == "all" {
        return Ok(all);
    }
    let mut chosen = Vec::new();
    for name in text.split(',').map(str::trim) {
        match all.iter().find(|model| **model == name) {
            Some(model) => chosen.push(*model),
            None => {
                return Err(format!(
                    "unknown model {name:?} in --models; expected all, or some of {}",
                    all.join(", ")
                ));
            }
        }
    }
    Ok(all
        .into_iter()
        .filter(|model| chosen.contains(model))
        .collect())
}

/// How a stored run was judged (its `plan.json`), for re-checking it the same
/// way: the models it was checked for, and its workload's checkers.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJudging {
    /// The models (linearizability alone when the plan does not say).
    pub models: Vec<&'static str>,
    /// The checkers, when the plan names a known workload.
    pub checkers: Option<&'static [&'static str]>,
}

impl StoredJudging {
    /// How the run whose stored plan is `plan` was judged (linearizability
    /// alone without one: a history checked by itself).
    pub fn of(plan: Option<&StoredPlan>) -> StoredJudging {
        match plan {
            Some(plan) => StoredJudging {
                models: parse_models(&plan.models.join(",")).unwrap_or_else(|_| vec![LINEARIZABLE]),
                checkers: crate::workload::by_name(&plan.workload)
                    .map(|workload| workload.checkers()),
            },
            None => StoredJudging {
                models: vec![LINEARIZABLE],
                checkers: None,
            },
        }
    }
}

/// Checks `history` with `judges` (checker names), or, when none are named,
/// with every checker that fits its operations: transactional isolation for
/// transactions; otherwise linearizability and the weak models of `models`.
///
/// # Errors
/// The history does not fit a checker (a message naming the line).
pub fn check_history(
    history: &History,
    linearizable_options: &Options,
    txn_options: &TxnOptions,
    models: &[&str],
    judges: Option<&[&str]>,
) -> Result<Checkers, CheckError> {
    let request = registry::Request {
        linearizable: linearizable_options,
        transactional: txn_options,
        models,
    };
    let mut checkers = Checkers::default();
    for checker in registry::ALL {
        let asked = match judges {
            Some(names) => names.contains(&checker.name()),
            None => checker.fits(history),
        };
        if asked {
            checker.check(history, &request, &mut checkers)?;
        }
    }
    Ok(checkers)
}

/// Reads a history file (or a store directory's `history.jsonl`).
///
/// # Errors
/// A message naming the file, and the line where the file is at fault.
pub fn load(path: &Path, format: Option<Format>) -> Result<(History, Format), CheckError> {
    // A store directory's history is named relative to it, so that re-checking
    // `store/latest` gives the same results, byte for byte, as the run wrote.
    let (path, name): (PathBuf, String) = if path.is_dir() {
        (path.join("history.jsonl"), "history.jsonl".to_string())
    } else {
        (path.to_path_buf(), path.display().to_string())
    };
    let text = std::fs::read_to_string(&path).map_err(|source| CheckError::Read {
        path: path.clone(),
        source,
    })?;
    let format = match format {
        Some(format) => format,
        None => histories::detect(&name, &text)?,
    };
    let history = histories::parse(&name, &text, Some(format))?;
    Ok((history, format))
}

/// Parses `--initial`: JSON, or else the text as a string.
pub fn parse_initial(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Checks a stored run's history, judged as its `plan` (read once by the
/// caller) says, and writes its `results.json`; the same bytes as `faultline
/// check DIR --json`. Returns the history and results too, for the report, so
/// that nothing is read twice.
///
/// # Errors
/// The history cannot be read or checked.
pub fn check_store(
    dir: &Path,
    plan: Option<&StoredPlan>,
) -> Result<(History, CheckResults), CheckError> {
    let (history, format) = load(dir, None)?;
    let options = linearizable::Options::new(ModelKind::infer(&history));
    let judging = StoredJudging::of(plan);
    let checkers = check_history(
        &history,
        &options,
        &TxnOptions::default(),
        &judging.models,
        judging.checkers,
    )?;
    let results = CheckResults::new(&history, format, checkers);
    write_results(dir, &results.to_json())?;
    Ok((history, results))
}

/// Writes a run's `results.json` (`json`, as [`CheckResults::to_json`] makes it).
///
/// # Errors
/// The file cannot be written.
pub fn write_results(dir: &Path, json: &str) -> Result<(), CheckError> {
    let path = dir.join("results.json");
    crate::files::write_atomically(&path, json.as_bytes())
        .map_err(|source| CheckError::Write { path, source })
}

/// This process's peak resident memory, from Linux's `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
