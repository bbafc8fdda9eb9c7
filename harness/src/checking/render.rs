//! The verdicts in words, for a terminal: each checker's report, its
//! witnesses, and the consistency profile as a table.

use super::{CheckResults, LINEARIZABLE};
use checkers::Validity;
use checkers::linearizable::{Report, Witness};
use checkers::txn::TxnReport;
use histories::History;
use std::fmt::Write as _;
use std::time::Duration;

/// Everything `faultline check` prints without `--json`.
pub fn render_human(history: &History, results: &CheckResults, elapsed: Duration) -> String {
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
                .map(|verdict| verdict.model.as_str()),
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
            "{} of {} key(s) not linearizable{}",
            report.invalid_keys.len(),
            report.keys,
            not_checked(report)
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

/// `, 8 not checked (--all-keys checks them)` when the first invalid key left
/// others unchecked.
pub fn not_checked(report: &Report) -> String {
    match report.not_checked_keys.len() {
        0 => String::new(),
        count => format!(", {count} not checked after it (--all-keys checks every key)"),
    }
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
        report.strongest_satisfied.as_deref().unwrap_or("none"),
        report.weakest_violated.as_deref().unwrap_or("none"),
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
