//! Outputs for CI systems: a JUnit XML file (a test case per checker or model;
//! a failure's message is its witness's explanation) and a short Markdown
//! summary (for a GitHub step summary).

use super::verdicts::{self, Verdicts};
use crate::checking::CheckResults;
use histories::History;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where to write the CI outputs, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `--summary FILE`.
    pub summary: Option<PathBuf>,
}

impl Outputs {
    /// Whether any output is asked for.
    pub fn any(&self) -> bool {
        self.junit.is_some() || self.summary.is_some()
    }
}

/// Writes the outputs asked for, for `history` and its `results`.
///
/// # Errors
/// A message naming the file that cannot be written.
pub fn write_for(
    outputs: &Outputs,
    history: &History,
    results: &CheckResults,
    suite: &str,
    report: Option<&Path>,
) -> Result<(), super::ReportError> {
    let verdicts = verdicts::gather(results, history);
    if let Some(path) = &outputs.junit {
        super::save(path, &junit(suite, &verdicts))?;
    }
    if let Some(path) = &outputs.summary {
        let report = report.map(|path| path.display().to_string());
        super::save(path, &summary(suite, &verdicts, report.as_deref()))?;
    }
    Ok(())
}

/// The JUnit XML for `verdicts`; `suite` names the test suite (the run).
/// An invalid verdict is a `<failure>`, an unknown one an `<error>`: neither
/// may pass a CI gate silently.
pub fn junit(suite: &str, verdicts: &Verdicts) -> String {
    let count = |valid: &str| {
        verdicts
            .rows
            .iter()
            .filter(|row| row.valid == valid)
            .count()
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        r#"<testsuites name="faultline" tests="{}" failures="{}" errors="{}">"#,
        verdicts.rows.len(),
        count("invalid"),
        count("unknown")
    );
    let _ = writeln!(
        xml,
        r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}">"#,
        xml_escape(suite),
        verdicts.rows.len(),
        count("invalid"),
        count("unknown")
    );
    for row in &verdicts.rows {
        let name = xml_escape(&row.name);
        let witness = row.witness.map(|index| &verdicts.witnesses[index]);
        let text = witness.map_or(row.detail.as_str(), |witness| witness.explanation.as_str());
        match row.valid {
            "valid" => {
                let _ = writeln!(
                    xml,
                    r#"    <testcase classname="faultline" name="{name}"/>"#
                );
            }
            outcome => {
                let element = if outcome == "invalid" {
                    "failure"
                } else {
                    "error"
                };
                let message = if text.is_empty() { outcome } else { text };
                let _ = writeln!(
                    xml,
                    r#"    <testcase classname="faultline" name="{name}"><{element} message="{}" type="{outcome}">{}</{element}></testcase>"#,
                    xml_escape(first_line(message)),
                    xml_escape(message)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// A short Markdown summary: the verdict, a table of checkers, the first witness.
pub fn summary(suite: &str, verdicts: &Verdicts, report: Option<&str>) -> String {
    let mut out = format!(
        "## faultline: {} — {}\n\n",
        md_escape(suite),
        verdicts.valid
    );
    out.push_str("| checker / model | verdict | detail |\n|---|---|---|\n");
    for row in &verdicts.rows {
        let mark = match row.valid {
            "valid" => "✅",
            "invalid" => "❌",
            _ => "❔",
        };
        let _ = writeln!(
            out,
            "| {} | {mark} {} | {} |",
            md_escape(&row.name),
            row.valid,
            md_escape(&row.detail)
        );
    }
    if let Some(witness) = verdicts.witnesses.first() {
        let _ = write!(
            out,
            "\n**{}**\n\n```text\n{}\n```\n",
            md_escape(&witness.title),
            witness.explanation.replace("```", "'''")
        );
    }
    if let Some(report) = report {
        let _ = writeln!(out, "\nReport: `{}`", report.replace('`', "'"));
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Text for XML attributes and content: escaped as for HTML, and the control
/// characters XML 1.0 forbids become U+FFFD.
fn xml_escape(text: &str) -> String {
    let allowed: String = text
        .chars()
        .map(|c| {
            if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    super::escape(&allowed)
}

/// Text for a Markdown table cell: pipes, markup and line breaks neutralized.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(character);
            }
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verdicts::{Row, WitnessView};

    fn verdicts() -> Verdicts {
        Verdicts {
            valid: "invalid",
            rows: vec![
                Row {
                    name: "linearizable".to_string(),
                    valid: "invalid",
                    detail: "1 of 2 key(s) not linearizable".to_string(),
                    witness: Some(0),
                },
                Row {
                    name: "monotonic-reads".to_string(),
                    valid: "valid",
                    detail: String::new(),
                    witness: None,
                },
                Row {
                    name: "sequential".to_string(),
                    valid: "unknown",
                    detail: "budget spent".to_string(),
                    witness: None,
                },
            ],
            witnesses: vec![WitnessView {
                anchor: "w1".to_string(),
                title: "linearizable: key \"k<1>\"".to_string(),
                explanation: "p1 read → \"</failure>\" cannot be placed\nsecond line".to_string(),
                ops: Vec::new(),
            }],
        }
    }

    #[test]
    fn junit_has_a_case_per_model_and_the_witness_as_the_failure() {
        let xml = junit("chain-kv & co", &verdicts());
        assert!(xml.contains(r#"tests="3" failures="1" errors="1""#));
        assert!(xml.contains(r#"name="chain-kv &amp; co""#));
        assert!(xml.contains(r#"<testcase classname="faultline" name="monotonic-reads"/>"#));
        assert!(xml.contains(
            r#"<failure message="p1 read → &quot;&lt;/failure&gt;&quot; cannot be placed" type="invalid">"#
        ));
        assert!(xml.contains(r#"<error message="budget spent" type="unknown">"#));
        assert_eq!(xml.matches("</failure>").count(), 1);
    }

    #[test]
    fn the_summary_is_a_table_with_the_first_witness() {
        let text = summary("run", &verdicts(), Some("store/x/report.html"));
        assert!(text.starts_with("## faultline: run — invalid"));
        assert!(text.contains("| linearizable | ❌ invalid | 1 of 2 key(s) not linearizable |"));
        assert!(text.contains("| monotonic-reads | ✅ valid |  |"));
        assert!(text.contains("**linearizable: key \"k\\<1\\>\"**"));
        assert!(text.contains("Report: `store/x/report.html`"));
    }
}
