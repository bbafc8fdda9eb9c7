//! Session guarantees (Terry et al. 1994) from the client's side: each is
//! broken by a read that returns a value older than one its session had
//! already seen or caused — "older" meaning causally before, or the initial
//! value. They differ in how the session came to know the newer write `w2` of
//! the read's key (Bouajjani et al.'s WriteCORead, by the shape of its causal
//! path, as weak.md §3.5 classifies it):
//!
//! - read-your-writes: the session wrote `w2` itself;
//! - monotonic reads: the session read `w2` before;
//! - monotonic writes: the session read a write `w'` whose session wrote `w2`
//!   before `w'`;
//! - writes-follow-reads: the session read a write `w'` whose session had read
//!   `w2` before writing `w'`.
//!
//! Each is thus a special case of causal consistency's patterns: CC implies
//! all four. Reads of values nobody wrote are CC's business and skipped here.

use super::Finding;
use super::ops::{CausalClocks, Clocks, OpId, Ops, Source};
use rustc_hash::FxHashMap;

/// The four guarantees, in the order reported.
pub const GUARANTEES: [&str; 4] = [
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

/// Per session and key, its reads in order, each with the running join of
/// its sources' causal pasts (exclusive clocks: position `p` of session `s`
/// reached means some source is causally after `s`'s `p`-th operation) and
/// whether any source so far was a written value.
struct ReadLog {
    entries: FxHashMap<(usize, usize), Vec<LoggedRead>>,
}

/// A read's position, whether any source so far was written, and the join.
type LoggedRead = (u32, bool, Vec<u32>);

impl ReadLog {
    fn of(ops: &Ops, clocks: &Clocks) -> ReadLog {
        let k = ops.sessions.len();
        let mut entries: FxHashMap<(usize, usize), Vec<LoggedRead>> = FxHashMap::default();
        for op in &ops.ops {
            let writer = match op.read {
                Some(Source::Write(writer)) => Some(writer),
                Some(Source::Init) => None,
                _ => continue,
            };
            let list = entries.entry((op.session, op.key)).or_default();
            let (mut any, mut join) = list
                .last()
                .map_or_else(|| (false, vec![0; k]), |last| (last.1, last.2.clone()));
            if let Some(writer) = writer {
                any = true;
                for (session, slot) in join.iter_mut().enumerate() {
                    *slot = (*slot).max(clocks.seen(writer, session));
                }
            }
            list.push((op.position, any, join));
        }
        ReadLog { entries }
    }

    /// A read of `session` on `key` before position `bound` that returned a
    /// write newer than `source`: causally after it, or any written value
    /// when `source` is the initial value. Returns the read and its source.
    fn newer(
        &self,
        ops: &Ops,
        clocks: &Clocks,
        (session, key, bound): (usize, usize, u32),
        source: Option<OpId>,
    ) -> Option<(OpId, OpId)> {
        let list = self.entries.get(&(session, key))?;
        let count = list.partition_point(|entry| entry.0 < bound);
        let last = list[..count].last()?;
        let newer = match source {
            None => last.1,
            Some(writer) => {
                let op = &ops.ops[writer];
                last.2[op.session] >= op.position
            }
        };
        if !newer {
            return None;
        }
        // Found: name the first such read (a scan, once per violation).
        let reads = &ops.sessions[session].1;
        list[..count].iter().find_map(|entry| {
            let read = reads[entry.0 as usize - 1];
            let Some(Source::Write(other)) = ops.source(read) else {
                return None;
            };
            let is_newer = match source {
                None => true,
                Some(writer) => clocks.before(ops, writer, other),
            };
            is_newer.then_some((read, other))
        })
    }
}

/// The first violation of each guarantee (by position in [`GUARANTEES`]).
pub fn check(ops: &Ops, clocks: &Clocks) -> [Option<Finding>; 4] {
    let log = ReadLog::of(ops, clocks);
    let mut found: [Option<Finding>; 4] = Default::default();
    let k = ops.sessions.len();
    for (session, (_, list)) in ops.sessions.iter().enumerate() {
        // seen[s]: the position of the last write of session s this session
        // has read so far, and the read that read it.
        let mut seen: Vec<(u32, OpId)> = vec![(0, 0); k];
        for &read in list {
            let op = &ops.ops[read];
            let source = match op.read {
                Some(Source::Write(writer)) => Some(writer),
                Some(Source::Init) => None,
                _ => continue,
            };
            let newer_write = |writer_session: usize, bound: u32| -> Option<OpId> {
                let other = ops.last_write(writer_session, op.key, bound.saturating_sub(1))?;
                let newer = match source {
                    None => true,
                    Some(writer) => writer != other && clocks.before(ops, writer, other),
                };
                newer.then_some(other)
            };
            if found[0].is_none()
                && let Some(other) = newer_write(session, op.position)
            {
                found[0] = Some(Finding::new(
                    GUARANTEES[0],
                    vec![read, other],
                    format!(
                        "{{0}} returned {}, older than {{1}}, its own session's earlier write",
                        old(source)
                    ),
                ));
            }
            if found[1].is_none()
                && let Some((earlier, other)) =
                    log.newer(ops, clocks, (session, op.key, op.position), source)
            {
                found[1] = Some(Finding::new(
                    GUARANTEES[1],
                    vec![read, earlier, other],
                    format!(
                        "{{0}} returned {}, older than what {{1}}, earlier in the same session, had read from {{2}}",
                        old(source)
                    ),
                ));
            }
            for (writer_session, &(bound, via)) in seen.iter().enumerate() {
                if bound == 0 {
                    continue;
                }
                let witness_write = ops.sessions[writer_session].1[bound as usize - 1];
                if found[2].is_none()
                    && let Some(other) = newer_write(writer_session, bound)
                {
                    found[2] = Some(Finding::new(
                        GUARANTEES[2],
                        vec![read, other, witness_write, via],
                        format!(
                            "{{0}} returned {}, older than {{1}}; but its session had already read (in {{3}}) {{2}}, which {{1}}'s session wrote after {{1}}",
                            old(source)
                        ),
                    ));
                }
                if found[3].is_none()
                    && let Some((earlier, other)) =
                        log.newer(ops, clocks, (writer_session, op.key, bound), source)
                {
                    found[3] = Some(Finding::new(
                        GUARANTEES[3],
                        vec![read, other, earlier, witness_write, via],
                        format!(
                            "{{0}} returned {}, older than {{1}}; but its session had already read (in {{4}}) {{3}}, written after {{2}} had read {{1}}",
                            old(source)
                        ),
                    ));
                }
            }
            if let Some(writer) = source {
                let writer_op = &ops.ops[writer];
                let slot = &mut seen[writer_op.session];
                if writer_op.position > slot.0 {
                    *slot = (writer_op.position, read);
                }
            }
            if found.iter().all(Option::is_some) {
                return found;
            }
        }
    }
    found
}

fn old(source: Option<OpId>) -> &'static str {
    match source {
        None => "the initial value",
        Some(_) => "a value",
    }
}
