//! `report.html`: one self-contained page per run — what was run, the verdict
//! of every checker and model, each witness drawn, the whole history as a
//! zoomable timeline with the faults as bands, and Jepsen's latency and rate
//! plots. Everything is inlined (no network when viewed), and everything that
//! came from the system under test is escaped: HTML text is escaped here, the
//! data the script draws is JSON with `<`, `>` and `&` escaped, and the script
//! only ever sets text, never markup.

pub mod browser;
pub mod ci;
pub mod data;
pub mod verdicts;
mod witness_svg;

use crate::checking::stored::{self, StoredPlan};
use crate::checking::{CheckError, CheckResults};
use histories::{History, Outcome, Process};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use verdicts::Verdicts;

/// A report or CI output that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The stored run cannot be read back.
    #[error(transparent)]
    Stored(#[from] CheckError),
    /// A file cannot be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ReportError {
    /// Whether the input is at fault (exit 254) rather than the harness (255).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ReportError::Stored(error) if error.is_bad_input())
    }
}

/// Writes `text` to `path` atomically.
fn save(path: &Path, text: &str) -> Result<(), ReportError> {
    crate::files::write_atomically(path, text.as_bytes()).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// A stored run's history and its `results.json`.
///
/// # Errors
/// The file that cannot be read, or is not faultline's.
pub fn load_stored(dir: &Path) -> Result<(History, CheckResults), CheckError> {
    let (history, _) = crate::checking::load(dir, None)?;
    Ok((history, stored::read_results(dir)?))
}

/// Renders and writes `dir/report.html` for `history` and its `results`.
///
/// # Errors
/// A message naming the file that cannot be written, or a `plan.json` that is
/// not one faultline writes.
pub fn write(
    dir: &Path,
    plan: Option<&StoredPlan>,
    history: &History,
    results: &CheckResults,
) -> Result<PathBuf, ReportError> {
    let page = render(plan, history, results);
    let path = dir.join("report.html");
    save(&path, &page)?;
    Ok(path)
}

/// The page for `history`, its `results` (results.json) and the run's `plan`.
pub fn render(plan: Option<&StoredPlan>, history: &History, results: &CheckResults) -> String {
    let verdicts = verdicts::gather(results, history);
    let title = plan.map_or(&history.file, |plan| &plan.test).to_string();
    let mut page = String::with_capacity(1 << 20);
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{} — {} — faultline</title>
<style>{STYLE}</style></head>
<body>
<header><h1>{}</h1><span class="badge {}" id="verdict">{}</span></header>
"#,
        escape(&title),
        verdicts.valid,
        escape(&title),
        verdicts.valid,
        verdicts.valid,
    );
    render_facts(&mut page, plan, history, results);
    render_verdicts(&mut page, &verdicts);
    render_witnesses(&mut page, &verdicts);
    page.push_str(TIMELINE_AND_PLOTS);
    let payload = serde_json::to_string(&data::payload(history)).expect("the payload serializes");
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"faultline-data\">{}</script>\n<script>{SCRIPT}</script>\n</body></html>\n",
        escape_script_json(&payload)
    );
    page
}

const TIMELINE_AND_PLOTS: &str = r#"<section id="timeline-section"><h2>Timeline</h2>
<p class="hint">A lane per process; drag to pan, wheel or the buttons to zoom, double-click to see everything. Faults in force are shaded.</p>
<div class="controls"><button type="button" id="zoom-in">zoom in</button><button type="button" id="zoom-out">zoom out</button><button type="button" id="zoom-reset">everything</button>
<label>from <input id="range-from" type="number" step="any" size="8"> s</label><label>to <input id="range-to" type="number" step="any" size="8"> s</label><button type="button" id="range-go">show</button>
<span id="legend"></span></div>
<div id="timeline-box"><canvas id="timeline"></canvas></div><div id="tooltip" hidden></div>
</section>
<section id="plots"><h2>Latency and throughput</h2>
<h3>Latency (each operation at its invocation)</h3><canvas class="plot" id="plot-latency"></canvas>
<h3>Latency quantiles</h3><canvas class="plot" id="plot-quantiles"></canvas>
<h3>Throughput</h3><canvas class="plot" id="plot-rate"></canvas>
<div id="clock-plot" hidden><h3>Clock offsets per node</h3><canvas class="plot" id="plot-clocks"></canvas></div>
</section>
"#;

fn render_facts(
    page: &mut String,
    plan: Option<&StoredPlan>,
    history: &History,
    results: &CheckResults,
) {
    let mut facts: Vec<(&str, String)> = Vec::new();
    if let Some(plan) = plan {
        // Numbers as JSON writes them (`200.0`), as the page always showed.
        let number = |value: f64| Value::from(value).to_string();
        let target = match (&plan.bug, &plan.target_config) {
            (Some(bug), _) => format!("{} (planted bug: {bug})", plan.target),
            (None, Some(config)) => {
                format!("{} (described by {})", plan.target, config.display())
            }
            (None, None) => plan.target.clone(),
        };
        facts.push(("target", target));
        facts.push(("nodes", plan.nodes.to_string()));
        facts.push((
            "workload",
            format!(
                "{}, {} clients, {} ops/s",
                plan.workload,
                plan.concurrency,
                number(plan.rate)
            ),
        ));
        let faults = &plan.nemesis.faults;
        facts.push((
            "nemesis",
            if faults.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "{} every {} s, network {}",
                    faults.join(", "),
                    number(plan.nemesis.interval_s),
                    plan.net.as_deref().unwrap_or("none")
                )
            },
        ));
        facts.push(("seed", plan.seed.to_string()));
    } else {
        facts.push(("history", format!("{} ({})", history.file, results.format)));
    }
    let span_ns = match (history.events.first(), history.events.last()) {
        (Some(first), Some(last)) => last.time_ns - first.time_ns,
        _ => 0,
    };
    facts.push(("duration", format!("{:.1} s", span_ns as f64 / 1e9)));
    let _ = write!(page, "<section id=\"facts\"><dl>");
    for (name, value) in facts {
        let _ = write!(page, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
    }
    page.push_str("</dl>");
    if let Some(command) = plan.map(|plan| plan.command.as_str()) {
        let _ = write!(
            page,
            "<p>Reproduce the schedule with:</p><pre class=\"command\">{}</pre>",
            escape(command)
        );
    }
    render_counts(page, history);
    page.push_str("</section>\n");
}

/// A table of operations by function and outcome.
fn render_counts(page: &mut String, history: &History) {
    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for operation in &history.operations {
        let invocation = history.invocation(operation);
        if invocation.process == Process::Nemesis {
            continue;
        }
        let column = match operation.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        };
        counts.entry(invocation.f.as_str()).or_default()[column] += 1;
    }
    let mut totals = [0; 3];
    page.push_str("<table class=\"counts\"><thead><tr><th>operation</th><th>ok</th><th>fail</th><th>info</th></tr></thead><tbody>");
    for (f, row) in &counts {
        for (total, count) in totals.iter_mut().zip(row) {
            *total += count;
        }
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(f),
            row[0],
            row[1],
            row[2]
        );
    }
    let _ = write!(
        page,
        "<tr class=\"total\"><td>all</td><td>{}</td><td>{}</td><td>{}</td></tr></tbody></table>",
        totals[0], totals[1], totals[2]
    );
}

fn render_verdicts(page: &mut String, verdicts: &Verdicts) {
    page.push_str("<section id=\"verdicts\"><h2>Verdicts</h2><table class=\"verdicts\"><thead><tr><th>checker / model</th><th>verdict</th><th>detail</th></tr></thead><tbody>");
    for row in &verdicts.rows {
        let link = match row.witness {
            Some(index) => format!(
                " <a href=\"#{}\">witness</a>",
                verdicts.witnesses[index].anchor
            ),
            None => String::new(),
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td><span class=\"badge {}\">{}</span></td><td>{}{link}</td></tr>",
            escape(&row.name),
            row.valid,
            row.valid,
            escape(&row.detail)
        );
    }
    page.push_str("</tbody></table></section>\n");
}

fn render_witnesses(page: &mut String, verdicts: &Verdicts) {
    if verdicts.witnesses.is_empty() {
        return;
    }
    page.push_str("<section id=\"witnesses\"><h2>Witnesses</h2>");
    for witness in &verdicts.witnesses {
        let _ = write!(
            page,
            "<article class=\"witness\" id=\"{}\"><h3>{}</h3><pre class=\"explanation\">{}</pre>{}</article>",
            witness.anchor,
            escape(&witness.title),
            escape(&witness.explanation),
            witness_svg::render(&witness.ops)
        );
    }
    page.push_str("<p class=\"hint\">Witness timelines are drawn in event order, not to scale; numbers give the order the checker tried, the outlined operation is the one that cannot be placed or that the anomaly is about.</p></section>\n");
}

/// Text for HTML: `&`, `<`, `>` and both quotes escaped.
pub fn escape(text: &str) -> String {
    replace_chars(text, |character| match character {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    })
}

/// JSON safe inside a `<script>` element: `<`, `>` and `&` (which JSON only
/// has inside strings) and the two line separators JavaScript once refused,
/// as `\u` escapes.
pub fn escape_script_json(json: &str) -> String {
    replace_chars(json, |character| match character {
        '<' => Some("\\u003c"),
        '>' => Some("\\u003e"),
        '&' => Some("\\u0026"),
        '\u{2028}' => Some("\\u2028"),
        '\u{2029}' => Some("\\u2029"),
        _ => None,
    })
}

/// `text` with each character `replacement` names replaced.
pub fn replace_chars(text: &str, replacement: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match replacement(character) {
            Some(replaced) => out.push_str(replaced),
            None => out.push(character),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_script_ends_are_escaped() {
        assert_eq!(
            escape(r#"</script><b a="1">'&"#),
            "&lt;/script&gt;&lt;b a=&quot;1&quot;&gt;&#39;&amp;"
        );
        let json = serde_json::to_string(&serde_json::json!({"v": "</script>&\u{2028}"})).unwrap();
        let safe = escape_script_json(&json);
        assert!(!safe.contains('<') && !safe.contains('&') && !safe.contains('\u{2028}'));
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["v"], "</script>&\u{2028}");
    }
}
