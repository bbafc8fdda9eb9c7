//! Causal consistency in the three variants of Bouajjani, Enea, Guerraoui and
//! Hamza (POPL 2017), checked through their bad patterns, which are exact for
//! histories with unique values:
//!
//! - CC: ThinAirRead, CyclicCO, WriteCOInitRead, WriteCORead;
//! - CCv: those, and CyclicCF (the writes a read must have been arbitrated
//!   after, together with the causal order, form a cycle);
//! - CM: those of CC, and per session `p` the relation `HB_p` — the causal
//!   order closed under "a write `p` has seen before reading `x` from `w` is
//!   ordered before `w`" — must be acyclic (CyclicHB) and must not put a write
//!   of `x` before a read of `p` that returned the initial value
//!   (WriteHBInitRead).
//!
//! With vector clocks of the causal order, a read needs one look per session:
//! the last write of that session to the read's key in the read's causal past
//! (earlier ones precede it in session order), so CC and CCv cost
//! O(reads × sessions × log n) and CM that again per session and round.

use super::ops::{CausalClocks, Clocks, OpId, Ops, Overlay, Source};
use super::{Finding, placeholder};
use rustc_hash::FxHashMap;

/// Edges `from → to` with, for each, the read that forces it.
pub type Forced = FxHashMap<OpId, Vec<OpId>>;

/// The first thin-air read, if any.
pub fn thin_air(ops: &Ops) -> Option<Finding> {
    let read = (0..ops.ops.len()).find(|&id| ops.source(id) == Some(Source::Nowhere))?;
    Some(Finding::new(
        "ThinAirRead",
        vec![read],
        "{0} read a value that no operation wrote".to_string(),
    ))
}

/// A cycle of session order and reads-from.
pub fn cyclic(ops: &Ops, cycle: &[OpId], pattern: &'static str, order: &str) -> Finding {
    let mut text = String::new();
    for step in 0..cycle.len() {
        let (from, to) = (cycle[step], cycle[(step + 1) % cycle.len()]);
        if step > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!(
            "{{{step}}} {} {{{}}}",
            why(ops, from, to),
            (step + 1) % cycle.len()
        ));
    }
    Finding::new(
        pattern,
        cycle.to_vec(),
        format!("{text}: a cycle in the {order}, so no order can explain the history"),
    )
}

/// Why `from` is directly before `to`, in words.
fn why(ops: &Ops, from: OpId, to: OpId) -> &'static str {
    match ops.source(to) {
        Some(Source::Write(writer)) if writer == from => "was read by",
        _ if ops.ops[from].session == ops.ops[to].session => "came before, in its session,",
        _ => "must be ordered before",
    }
}

/// A shortest chain of session order and reads-from `from ⇝ to` (inclusive),
/// rendered with the names given.
pub fn chain(ops: &Ops, from: OpId, to: OpId) -> Vec<OpId> {
    let mut parent: FxHashMap<OpId, OpId> = FxHashMap::default();
    let mut queue = std::collections::VecDeque::from([to]);
    // Backwards from `to` along predecessors.
    while let Some(at) = queue.pop_front() {
        if at == from {
            break;
        }
        for before in ops.predecessors(at) {
            if before != to && !parent.contains_key(&before) {
                parent.insert(before, at);
                queue.push_back(before);
            }
        }
    }
    let mut path = vec![from];
    let mut at = from;
    while at != to {
        match parent.get(&at) {
            Some(&next) => {
                path.push(next);
                at = next;
            }
            None => break,
        }
    }
    path
}

/// What CC's patterns found: a violation, or the arbitration edges CCv adds
/// (`w2 → w1`: a read of `w1` had `w2`, another write of its key, in its
/// causal past), each with its read.
pub enum Causal {
    Violation(Finding),
    Consistent(FxHashMap<(OpId, OpId), OpId>),
}

/// For a read: where its value came from, and for each session that writes
/// its key, that session's last write of it in the read's causal past that
/// the source has not already seen: the writes CC's patterns (and CM's, in
/// `HB_p`) look at. `None` for a write.
fn unseen_writes<'a>(
    ops: &'a Ops,
    clocks: &'a impl CausalClocks,
    read: OpId,
) -> Option<(Source, impl Iterator<Item = OpId> + 'a)> {
    let source = ops.source(read)?;
    let key = ops.ops[read].key;
    let writer = match source {
        Source::Write(writer) => Some(writer),
        _ => None,
    };
    let others = ops.writers[key].iter().filter_map(move |&session| {
        let bound = clocks.seen(read, session.0);
        ops.unseen_write(clocks, session, key, bound, writer)
    });
    Some((source, others))
}

/// WriteCOInitRead and WriteCORead, given an acyclic causal order.
pub fn cc(ops: &Ops, clocks: &Clocks) -> Causal {
    let mut forced = FxHashMap::default();
    for read in 0..ops.ops.len() {
        let Some((source, others)) = unseen_writes(ops, clocks, read) else {
            continue;
        };
        for other in others {
            match source {
                Source::Init => {
                    return Causal::Violation(write_co_read(ops, None, other, read));
                }
                Source::Write(writer) if writer != other => {
                    if clocks.before(ops, writer, other) {
                        return Causal::Violation(write_co_read(ops, Some(writer), other, read));
                    }
                    // An edge the causal order already has adds nothing.
                    if !clocks.before(ops, other, writer) {
                        forced.entry((other, writer)).or_insert(read);
                    }
                }
                _ => {}
            }
        }
    }
    Causal::Consistent(forced)
}

/// The WriteCORead (or, from the initial value, WriteCOInitRead) witness.
fn write_co_read(ops: &Ops, writer: Option<OpId>, other: OpId, read: OpId) -> Finding {
    let to_read = chain(ops, other, read);
    let mut involved = Vec::new();
    let mut text = String::new();
    let name = placeholder;
    let read_name = name(&mut involved, read);
    let other_name = name(&mut involved, other);
    let path_text = |involved: &mut Vec<OpId>, path: &[OpId]| -> String {
        path.iter()
            .map(|&id| name(involved, id))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let pattern = match writer {
        None => {
            text.push_str(&format!(
                "{read_name} read the initial value, but {other_name} wrote that key earlier in its causal past ({})",
                path_text(&mut involved, &to_read)
            ));
            "WriteCOInitRead"
        }
        Some(writer) => {
            let writer_name = name(&mut involved, writer);
            let from_writer = chain(ops, writer, other);
            text.push_str(&format!(
                "{read_name} read the value {writer_name} wrote, but {other_name} overwrote it causally after {writer_name} ({}) and causally before {read_name} ({})",
                path_text(&mut involved, &from_writer),
                path_text(&mut involved, &to_read)
            ));
            "WriteCORead"
        }
    };
    Finding::new(pattern, involved, text)
}

/// CyclicCF: the causal order with the forced arbitration edges.
pub fn ccv(ops: &Ops, forced: &FxHashMap<(OpId, OpId), OpId>) -> Option<Finding> {
    let mut extra: Forced = FxHashMap::default();
    for &(from, to) in forced.keys() {
        extra.entry(from).or_default().push(to);
    }
    let cycle = Clocks::of(ops, &extra).err()?;
    Some(arbitration_cycle(ops, &cycle, forced, "CyclicCF"))
}

/// A cycle through forced arbitration edges, each explained by its read.
fn arbitration_cycle(
    ops: &Ops,
    cycle: &[OpId],
    forced: &FxHashMap<(OpId, OpId), OpId>,
    pattern: &'static str,
) -> Finding {
    let mut involved: Vec<OpId> = cycle.to_vec();
    let mut steps = Vec::new();
    for step in 0..cycle.len() {
        let (from, to) = (cycle[step], cycle[(step + 1) % cycle.len()]);
        let next = (step + 1) % cycle.len();
        let is_causal = ops.predecessors(to).any(|before| before == from);
        match forced.get(&(from, to)) {
            Some(&read) if !is_causal => {
                let reader = placeholder(&mut involved, read);
                steps.push(format!(
                    "{{{step}}} must be arbitrated before {{{next}}}, because {reader} read {{{next}}}'s value with {{{step}}} in its causal past"
                ));
            }
            _ => steps.push(format!("{{{step}}} {} {{{next}}}", why(ops, from, to))),
        }
    }
    Finding::new(
        pattern,
        involved,
        format!(
            "{}: a cycle, so no single order of the writes explains every read",
            steps.join("; ")
        ),
    )
}

/// CM's per-session patterns, given that CC holds (`co`: the causal order's
/// clocks): for each session, `HB_p` to a fixpoint. A session whose reads
/// force no edge the causal order lacks has `HB_p` = the causal order, which
/// CC already judged; for the others the clocks are recomputed only from the
/// earliest operation an added edge leads to up to the session's last read
/// (every edge joins operations in that read's causal past, so nothing else
/// changes or matters).
pub fn cm(ops: &Ops, co: &Clocks) -> Option<Finding> {
    for session in 0..ops.sessions.len() {
        let reads: Vec<OpId> = ops.sessions[session]
            .1
            .iter()
            .copied()
            .filter(|&id| !ops.ops[id].is_write())
            .collect();
        let Some(&last_read) = reads.last() else {
            continue;
        };
        let mut forced: FxHashMap<(OpId, OpId), OpId> = FxHashMap::default();
        let mut extra: Forced = FxHashMap::default();
        let mut start = co.rank(last_read);
        let mut overlay: Option<Overlay> = None;
        // Each round adds edges; there are at most writes² of them.
        loop {
            let added = match &overlay {
                Some(clocks) => cm_round(ops, clocks, &reads, session, &mut forced, &mut extra),
                None => cm_round(ops, co, &reads, session, &mut forced, &mut extra),
            };
            match added {
                Err(finding) => return Some(finding),
                Ok(targets) if targets.is_empty() => break,
                Ok(targets) => {
                    for target in targets {
                        start = start.min(co.rank(target));
                    }
                }
            }
            let end = extra
                .iter()
                .flat_map(|(&from, to)| std::iter::once(from).chain(to.iter().copied()))
                .map(|id| co.rank(id))
                .fold(co.rank(last_read), usize::max);
            match Overlay::of(ops, co, &extra, (start, end)) {
                Ok(clocks) => overlay = Some(clocks),
                Err(cycle) => return Some(arbitration_cycle(ops, &cycle, &forced, "CyclicHB")),
            }
        }
    }
    None
}

/// One round of CM's fixpoint for `session`: the edges its reads force that
/// `clocks` lack, added to `forced` and `extra`. Returns the new edges'
/// targets (none: the fixpoint is reached), or a finding.
fn cm_round(
    ops: &Ops,
    clocks: &impl CausalClocks,
    reads: &[OpId],
    session: usize,
    forced: &mut FxHashMap<(OpId, OpId), OpId>,
    extra: &mut Forced,
) -> Result<Vec<OpId>, Finding> {
    let mut targets = Vec::new();
    for &read in reads {
        let Some((source, others)) = unseen_writes(ops, clocks, read) else {
            continue;
        };
        for other in others {
            match source {
                Source::Init => {
                    let mut finding = write_co_read(ops, None, other, read);
                    finding.pattern = "WriteHBInitRead";
                    finding.text = format!(
                        "{} (as session {} sees the order)",
                        finding.text, ops.sessions[session].0
                    );
                    return Err(finding);
                }
                Source::Write(writer) if writer != other && !clocks.before(ops, other, writer) => {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        forced.entry((other, writer))
                    {
                        slot.insert(read);
                        extra.entry(other).or_default().push(writer);
                        targets.push(writer);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(targets)
}
