//! `faultline check`: read a history, check it, print the verdict.

use crate::cli::CheckArgs;
use crate::exit;
use crate::run::timeline::Timeline;
use checkers::linearizable::{self, Algorithm, Options, Report, Witness};
use checkers::txn::{self, Isolation, TxnOptions, TxnReport};
use checkers::weak::{self, WeakVerdict};
use checkers::{Budget, ModelKind, ModelOptions, Validity};
use histories::{Format, History};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What `check --json` prints: the verdict over all checkers, and each checker's
/// report under its name.
#[derive(Debug, Serialize)]
pub struct CheckResults {
    /// The merged verdict: `true`, `false` or `"unknown"`.
    pub valid: Validity,
    /// The history file.
    pub file: String,
    /// Its format.
    pub format: &'static str,
    /// Events in the file.
    pub events: usize,
    /// Each checker's report.
    pub checkers: Checkers,
    /// What the nemesis did, if the history says.
    #[serde(skip_serializing_if = "Timeline::is_empty")]
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
            format: format.name(),
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
#[derive(Debug, Serialize)]
pub struct Checkers {
    /// Linearizability, for single-key operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearizable: Option<Report>,
    /// Transactional isolation, for `txn` operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional: Option<TxnReport>,
    /// The weak models asked for, strongest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<WeakVerdict>,
}

/// Every model `--models all` names, strongest first.
pub fn all_models() -> Vec<&'static str> {
    std::iter::once(LINEARIZABLE).chain(weak::MODELS).collect()
}

/// The linearizability checker's name in `--models`.
pub const LINEARIZABLE: &str = "linearizable";

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

/// The models a stored run was checked with (its `plan.json`), for
/// re-checking it the same way; linearizability alone otherwise.
pub fn stored_models(dir: &Path) -> Vec<&'static str> {
    let plan = std::fs::read_to_string(dir.join("plan.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let names: Option<Vec<String>> = plan
        .as_ref()
        .and_then(|plan| plan.get("models"))
        .and_then(|models| serde_json::from_value(models.clone()).ok());
    match names {
        Some(names) => parse_models(&names.join(",")).unwrap_or_else(|_| vec![LINEARIZABLE]),
        None => vec![LINEARIZABLE],
    }
}

/// Whether a history is made of transactions (its first operation is a `txn`).
pub fn transactional(history: &History) -> bool {
    history
        .operations
        .first()
        .is_some_and(|operation| history.invocation(operation).f == "txn")
}

/// Checks `history` with the checkers that fit it: transactional isolation for
/// transactions; otherwise those of `models` (linearizability and the weak
/// models).
///
/// # Errors
/// The history does not fit the checker (a message naming the line).
pub fn check_history(
    history: &History,
    linearizable_options: &Options,
    txn_options: &TxnOptions,
    models: &[&str],
) -> Result<Checkers, String> {
    if transactional(history) {
        let report = txn::check(history, txn_options).map_err(|error| error.to_string())?;
        return Ok(Checkers {
            linearizable: None,
            transactional: Some(report),
            profile: Vec::new(),
        });
    }
    let linearizable = if models.contains(&LINEARIZABLE) {
        Some(
            linearizable::check(history, linearizable_options)
                .map_err(|error| error.to_string())?,
        )
    } else {
        None
    };
    let known = linearizable
        .as_ref()
        .is_some_and(|report| report.valid == Validity::Valid);
    let profile = weak::check_given(history, models, &linearizable_options.budget, known);
    Ok(Checkers {
        linearizable,
        transactional: None,
        profile,
    })
}

/// Reads a history file (or a store directory's `history.jsonl`).
///
/// # Errors
/// A message naming the file, and the line where the file is at fault.
pub fn load(path: &Path, format: Option<Format>) -> Result<(History, Format), String> {
    // A store directory's history is named relative to it, so that re-checking
    // `store/latest` gives the same results, byte for byte, as the run wrote.
    let (path, name): (PathBuf, String) = if path.is_dir() {
        (path.join("history.jsonl"), "history.jsonl".to_string())
    } else {
        (path.to_path_buf(), path.display().to_string())
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("{}: cannot read the history: {error}", path.display()))?;
    let format = match format {
        Some(format) => format,
        None => histories::detect(&name, &text).map_err(|error| error.to_string())?,
    };
    let history =
        histories::parse(&name, &text, Some(format)).map_err(|error| error.to_string())?;
    Ok((history, format))
}

/// Parses `--initial`: JSON, or else the text as a string.
pub fn parse_initial(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Runs `faultline check`; returns the exit code.
pub fn run(args: &CheckArgs) -> u8 {
    match check(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("faultline check: {message}");
            exit::BAD_ARGUMENTS
        }
    }
}

fn check(args: &CheckArgs) -> Result<u8, String> {
    let format = match &args.format {
        None => None,
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            format!(
                "unknown format {name:?}; expected one of {}",
                Format::NAMES.join(", ")
            )
        })?),
    };
    let model = match &args.model {
        None => None,
        Some(name) => Some(ModelKind::from_name(name).ok_or_else(|| {
            format!(
                "unknown model {name:?}; expected one of {}",
                ModelKind::NAMES.join(", ")
            )
        })?),
    };
    if !(args.time_limit > 0.0 && args.time_limit.is_finite()) {
        return Err(format!(
            "--time-limit must be a positive number of seconds, not {}",
            args.time_limit
        ));
    }
    if args.memory_limit == 0 {
        return Err("--memory-limit must be a positive number of MiB".to_string());
    }
    let algorithm = match args.algorithm.as_str() {
        "faultline" => Algorithm::Faultline,
        "plain" => Algorithm::Plain,
        other => {
            return Err(format!(
                "unknown algorithm {other:?}; expected faultline or plain"
            ));
        }
    };
    let reading = Instant::now();
    let (history, format) = load(&args.file, format)?;
    let read_elapsed = reading.elapsed();
    let model = model.unwrap_or_else(|| ModelKind::infer(&history));
    let budget = Budget {
        time_limit: Duration::from_secs_f64(args.time_limit),
        memory_limit_bytes: args.memory_limit << 20,
    };
    let options = Options {
        model,
        model_options: ModelOptions {
            initial: args.initial.as_deref().map(parse_initial),
        },
        budget,
        threads: args.threads,
        witnesses_shrunk: 3,
        algorithm,
    };
    let txn_options = TxnOptions {
        model: Isolation::named(&args.isolation)?,
        budget,
        ..TxnOptions::default()
    };
    let models = match &args.models {
        Some(text) => parse_models(text)?,
        None if args.file.is_dir() => stored_models(&args.file),
        None => vec![LINEARIZABLE],
    };
    let started = Instant::now();
    let checkers = check_history(&history, &options, &txn_options, &models)?;
    let elapsed = started.elapsed();
    let results = CheckResults::new(&history, format, checkers);
    let json = results.to_json();
    let results_value: Value = serde_json::from_str(&json).expect("results are JSON");
    let mut report = None;
    if args.file.is_dir() {
        std::fs::write(args.file.join("results.json"), &json).map_err(|error| {
            format!(
                "{}: cannot write results.json: {error}",
                args.file.display()
            )
        })?;
        report = Some(crate::report::write(&args.file, &history, &results_value)?);
    }
    let outputs = crate::report::ci::Outputs {
        junit: args.junit.clone(),
        summary: args.summary.clone(),
    };
    let suite = if args.file.is_dir() {
        super::report::suite_name(&args.file)
    } else {
        args.file.display().to_string()
    };
    crate::report::ci::write_for(
        &outputs,
        &history,
        &results_value,
        &suite,
        report.as_deref(),
    )?;
    let output = if args.json {
        json
    } else {
        render_human(&history, &results, elapsed)
    };
    print_all(&output);
    if args.stats {
        eprintln!(
            "stats: peak_rss_mib={:.1} read_ms={:.1} check_ms={:.1}",
            peak_rss_mib().unwrap_or(f64::NAN),
            read_elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e3
        );
    }
    Ok(results.valid.exit_code())
}

/// This process's peak resident memory, from Linux's `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Writes to stdout in one go; a closed pipe (`| head`) is not an error worth a panic.
pub fn print_all(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn render_human(history: &History, results: &CheckResults, elapsed: Duration) -> String {
    if let Some(report) = &results.checkers.transactional {
        return render_txn(history, results, report, elapsed);
    }
    let mut out = match &results.checkers.linearizable {
        Some(report) => render_linearizable(history, results, report, elapsed),
        None => format!(
            "history: {} ({}, {} events, {} operations)\n",
            results.file,
            results.format,
            results.events,
            history.operations.len()
        ),
    };
    if !results.checkers.profile.is_empty() {
        render_profile(&mut out, results);
    }
    out
}

/// The consistency profile: a witness for each model that fails, then a
/// table of every model asked for.
pub fn render_profile(out: &mut String, results: &CheckResults) {
    for verdict in &results.checkers.profile {
        if let Some(witness) = &verdict.witness
            && verdict.reason.is_none()
        {
            let _ = writeln!(
                out,
                "\n{} — {}:\n{}",
                verdict.model, witness.pattern, witness.explanation
            );
        }
    }
    let _ = writeln!(out, "\nconsistency profile:");
    if let Some(report) = &results.checkers.linearizable {
        let _ = writeln!(out, "  {:<22} {}", LINEARIZABLE, report.valid.name());
    }
    for verdict in &results.checkers.profile {
        let detail = match (&verdict.witness, &verdict.reason) {
            (Some(witness), Some(reason)) => format!("{} ({reason})", witness.pattern),
            (Some(witness), None) => witness.pattern.to_string(),
            (None, Some(reason)) => reason.clone(),
            (None, None) => String::new(),
        };
        let row = format!(
            "  {:<22} {:<8} {detail}",
            verdict.model,
            verdict.valid.name()
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    let strongest: Vec<&str> = results
        .checkers
        .linearizable
        .iter()
        .filter(|report| report.valid == Validity::Valid)
        .map(|_| LINEARIZABLE)
        .chain(
            results
                .checkers
                .profile
                .iter()
                .filter(|verdict| verdict.valid == Validity::Valid)
                .map(|verdict| verdict.model),
        )
        .take(1)
        .collect();
    let _ = writeln!(
        out,
        "profile: {} (strongest model that holds: {})",
        results.valid.name(),
        strongest.first().copied().unwrap_or("none")
    );
}

fn render_linearizable(
    history: &History,
    results: &CheckResults,
    report: &Report,
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "history: {} ({}, {} events, {} operations, {} key{})",
        results.file,
        results.format,
        results.events,
        history.operations.len(),
        report.keys,
        if report.keys == 1 { "" } else { "s" }
    );
    let _ = writeln!(out, "model: {}", report.model.name());
    for witness in &report.witnesses {
        render_witness(&mut out, witness);
    }
    if let Some(reason) = &report.unknown_reason {
        let _ = writeln!(
            out,
            "unknown on {} key(s): {reason}",
            report.unknown_keys.len()
        );
    }
    let detail = match report.valid {
        Validity::Valid => format!("all {} key(s) linearizable", report.keys),
        Validity::Invalid => format!(
            "{} of {} key(s) not linearizable",
            report.invalid_keys.len(),
            report.keys
        ),
        Validity::Unknown => format!(
            "{} of {} key(s) undecided",
            report.unknown_keys.len(),
            report.keys
        ),
    };
    let _ = writeln!(
        out,
        "linearizable: {} ({detail}; {} configurations in {:.1} ms)",
        report.valid.name(),
        report.configurations,
        elapsed.as_secs_f64() * 1e3
    );
    out
}

fn render_txn(
    history: &History,
    results: &CheckResults,
    report: &TxnReport,
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let counts: Vec<String> = report
        .transactions
        .iter()
        .map(|(outcome, count)| format!("{count} {outcome}"))
        .collect();
    let _ = writeln!(
        out,
        "history: {} ({}, {} events, {} transactions: {}; {})",
        results.file,
        results.format,
        results.events,
        history.operations.len(),
        counts.join(", "),
        report.workload.name()
    );
    for anomaly in &report.anomalies {
        let _ = writeln!(out, "\n{}:\n{}", anomaly.name, anomaly.explanation);
    }
    out.push('\n');
    for verdict in &report.models {
        let _ = writeln!(out, "  {:<22} {}", verdict.model, verdict.valid.name());
    }
    if let Some(reason) = &report.unknown_reason {
        let _ = writeln!(out, "unknown: {reason}");
    }
    let found: Vec<String> = report
        .anomaly_counts
        .iter()
        .map(|(name, count)| format!("{name} ×{count}"))
        .collect();
    let _ = writeln!(
        out,
        "{}: {} (strongest satisfied: {}; weakest violated: {}; anomalies: {}; {} edges in {:.1} ms)",
        report.model,
        report.valid.name(),
        report.strongest_satisfied.unwrap_or("none"),
        report.weakest_violated.unwrap_or("none"),
        if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        },
        report.edges,
        elapsed.as_secs_f64() * 1e3
    );
    out
}

fn render_witness(out: &mut String, witness: &Witness) {
    let _ = writeln!(out, "\n{}", witness.explanation);
    if !witness.longest_linearization.is_empty() {
        let _ = writeln!(
            out,
            "  longest linearization ({} steps):",
            witness.linearization_length
        );
        let skipped = witness.linearization_length - witness.longest_linearization.len();
        if skipped > 0 {
            let _ = writeln!(out, "    … {skipped} earlier steps");
        }
        for step in &witness.longest_linearization {
            let _ = writeln!(
                out,
                "    {:<40} → {}",
                step.operation.description, step.state
            );
        }
    }
    let _ = writeln!(
        out,
        "  cannot place: {}: {}",
        witness.operation.description, witness.reason
    );
    let _ = writeln!(
        out,
        "  {} history ({} operations):",
        if witness.minimal {
            "minimal"
        } else {
            "smallest found"
        },
        witness
            .minimal_history
            .iter()
            .filter(|event| event.kind == histories::EventType::Invoke)
            .count()
    );
    for event in &witness.minimal_history {
        let _ = writeln!(out, "    {}", histories::to_jsonl_line(event));
    }
    out.push('\n');
}
