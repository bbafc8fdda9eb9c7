//! A witness drawn as SVG: one lane per process, one bar per operation from
//! invocation to completion, numbered in the order the checker tried them, the
//! culprit outlined. Time is drawn in event order, as Porcupine does, so that
//! operations microseconds apart and seconds apart are equally legible.

use super::escape;
use super::verdicts::WitnessOp;
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const LANE: f64 = 40.0;
const TOP: f64 = 8.0;
const BAR: f64 = 14.0;
/// Witnesses with more operations label only the ones that matter.
const LABELLED: usize = 12;
/// Witnesses with more operations are cut to the ones that matter.
const DRAWN: usize = 30;

/// The SVG for a witness's operations (empty if it names none). A witness
/// the shrinker could not make small is cut to what matters most: the culprit,
/// the last steps of the order and what overlaps the culprit; a caption says
/// how many were left out.
pub fn render(ops: &[WitnessOp]) -> String {
    if ops.is_empty() {
        return String::new();
    }
    let shown = most_telling(ops);
    let mut svg = draw(&shown);
    if shown.len() < ops.len() {
        let _ = write!(
            svg,
            "<p class=\"hint\">{} of the witness's {} operations drawn: the culprit, the last steps of the order and the operations overlapping it; the explanation's line numbers lead to the rest.</p>",
            shown.len(),
            ops.len()
        );
    }
    svg
}

/// At most [`DRAWN`] operations: the culprit first, then the last steps of
/// the order, then those overlapping the culprit, in the witness's order.
fn most_telling(ops: &[WitnessOp]) -> Vec<WitnessOp> {
    if ops.len() <= DRAWN {
        return ops.to_vec();
    }
    let culprit = ops.iter().find(|op| op.culprit);
    let mut rank: Vec<(u8, i64, usize)> = ops
        .iter()
        .enumerate()
        .map(|(position, op)| {
            let overlaps = culprit.is_some_and(|culprit| {
                op.start_ns <= culprit.end_ns.unwrap_or(i64::MAX)
                    && culprit.start_ns <= op.end_ns.unwrap_or(i64::MAX)
            });
            let class = if op.culprit {
                0
            } else if op.order.is_some() {
                1
            } else if overlaps {
                2
            } else {
                3
            };
            // Later steps of the order matter more.
            let order = -(op.order.unwrap_or(0) as i64);
            (class, order, position)
        })
        .collect();
    rank.sort_unstable();
    let mut keep: Vec<usize> = rank
        .iter()
        .take(DRAWN)
        .map(|(_, _, position)| *position)
        .collect();
    keep.sort_unstable();
    keep.into_iter()
        .map(|position| ops[position].clone())
        .collect()
}

fn draw(ops: &[WitnessOp]) -> String {
    let mut lanes: Vec<u64> = Vec::new();
    for op in ops {
        if !lanes.contains(&op.process) {
            lanes.push(op.process);
        }
    }
    let mut times: Vec<i64> = ops
        .iter()
        .flat_map(|op| std::iter::once(op.start_ns).chain(op.end_ns))
        .collect();
    times.sort_unstable();
    times.dedup();
    let step = (WIDTH - LEFT - RIGHT) / times.len().max(1) as f64;
    let x = |time: i64| {
        let rank = times.partition_point(|known| *known < time);
        LEFT + (rank as f64 + 0.5) * step
    };
    // Past a dozen operations labels collide: only the culprit and the last
    // steps of the order keep theirs (every bar has its tooltip).
    let last_order = ops.iter().filter_map(|op| op.order).max().unwrap_or(0);
    let labelled = |op: &WitnessOp| {
        ops.len() <= LABELLED || op.culprit || op.order.is_some_and(|order| order + 3 > last_order)
    };
    let height = TOP + LANE * lanes.len() as f64 + 4.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="witness-timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="the witness's operations by process">"#
    );
    for (lane, process) in lanes.iter().enumerate() {
        let y = TOP + LANE * lane as f64;
        let _ = write!(
            svg,
            r#"<line class="lane" x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><text class="process" x="8" y="{:.1}">p{process}</text>"#,
            y + LANE - 6.0,
            WIDTH - RIGHT,
            y + LANE - 6.0,
            y + LANE - 8.0,
        );
    }
    for op in ops {
        let lane = lanes
            .iter()
            .position(|process| *process == op.process)
            .unwrap_or(0);
        let y = TOP + LANE * lane as f64 + LANE - 6.0 - BAR;
        let start = x(op.start_ns) - step * 0.4;
        let end = op.end_ns.map_or(WIDTH - RIGHT, |end| x(end) + step * 0.4);
        let mut class = format!("op {}", op.outcome);
        if op.culprit {
            class.push_str(" culprit");
        }
        let label = match (labelled(op), op.order) {
            (false, Some(order)) => format!("{order}"),
            (false, None) => String::new(),
            (true, Some(order)) => format!("{order}. {}", op.label),
            (true, None) => op.label.clone(),
        };
        let span = match op.end_ns {
            Some(end) => format!("{:.3}–{:.3} ms", op.start_ns as f64 / 1e6, end as f64 / 1e6),
            None => format!("{:.3} ms – never completed", op.start_ns as f64 / 1e6),
        };
        // Labels of bars in the right half end at the bar, to stay in view.
        let (text_x, anchor) = if start > (LEFT + WIDTH) / 2.0 {
            (end - 3.0, r#" text-anchor="end""#)
        } else {
            (start + 3.0, "")
        };
        let _ = write!(
            svg,
            r#"<g class="{class}"><title>p{} {} ({}, {span})</title><rect x="{start:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" rx="3"/><text x="{text_x:.1}" y="{:.1}"{anchor}>{}</text></g>"#,
            op.process,
            escape(&op.label),
            op.outcome,
            (end - start).max(2.0),
            y - 3.0,
            escape(&label),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(process: u64, start_ns: i64, end_ns: Option<i64>, label: &str) -> WitnessOp {
        WitnessOp {
            process,
            start_ns,
            end_ns,
            outcome: if end_ns.is_some() { "ok" } else { "info" },
            label: label.to_string(),
            order: None,
            culprit: false,
        }
    }

    #[test]
    fn one_lane_per_process_one_bar_per_operation_and_text_escaped() {
        let mut culprit = op(7, 30, Some(40), "read → \"<b>\"");
        culprit.culprit = true;
        let svg = render(&[
            op(6, 10, Some(20), "write 1"),
            op(7, 15, None, "write 2"),
            culprit,
        ]);
        assert_eq!(svg.matches(r#"class="process""#).count(), 2);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert_eq!(svg.matches("culprit").count(), 1);
        assert!(svg.contains("read → &quot;&lt;b&gt;&quot;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("never completed"));
    }

    #[test]
    fn a_large_witness_is_cut_to_the_culprit_and_the_last_steps() {
        let mut ops: Vec<WitnessOp> = (0..100)
            .map(|i| {
                let mut op = op(i % 7, i as i64 * 10, Some(i as i64 * 10 + 5), "write");
                op.order = Some(i as usize + 1);
                op
            })
            .collect();
        ops[50].culprit = true;
        ops[50].order = None;
        let kept = most_telling(&ops);
        assert_eq!(kept.len(), DRAWN);
        assert!(kept.iter().any(|op| op.culprit));
        assert_eq!(
            kept.last().unwrap().order,
            Some(100),
            "the last step is kept"
        );
        assert!(kept.iter().all(|op| op.culprit || op.order > Some(70)));
        assert!(render(&ops).contains("30 of the witness's 100 operations drawn"));
    }

    #[test]
    fn no_operations_draw_nothing() {
        assert_eq!(render(&[]), "");
    }
}
