//! Sequential consistency: one total order of every operation that keeps each
//! session's order and in which every read returns the last write before it.
//!
//! - One key, in linear time: each write with its readers forms a block that
//!   must be contiguous (nothing else writes in between), the initial-value
//!   readers a block that comes first; session order between blocks must be
//!   acyclic, and no read may precede in its session the write it read.
//! - Several keys (NP-complete in general): the causal patterns refute first
//!   (the caller runs them; SC implies CCv and CM), then an exact search over
//!   "frontiers" — how far each session has got — that runs every enabled read
//!   at once (a read never disables anything), branches only on writes in
//!   invocation order, and remembers the frontiers it has tried. The budget
//!   ends it in `unknown`.

use super::Finding;
use super::ops::{OpId, Ops, Source};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Instant;

/// The verdict of the search.
pub enum Sequential {
    Valid,
    Invalid(Finding),
    /// The budget ran out after this many frontiers.
    Unknown(usize),
}

/// The block of an operation on a single key: its write, or `None` for the
/// initial value.
fn block(ops: &Ops, id: OpId) -> Option<OpId> {
    match ops.ops[id].read {
        None => Some(id),
        Some(Source::Write(writer)) => Some(writer),
        _ => None,
    }
}

/// One key: the block graph.
pub fn single_key(ops: &Ops) -> Sequential {
    // Blocks are numbered by their write (initial: usize::MAX).
    let name = |block: Option<OpId>| block.unwrap_or(usize::MAX);
    let mut edges: FxHashMap<usize, FxHashSet<usize>> = FxHashMap::default();
    let mut why: FxHashMap<(usize, usize), (OpId, OpId)> = FxHashMap::default();
    for (_, list) in &ops.sessions {
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (from, to) = (name(block(ops, a)), name(block(ops, b)));
            if from != to {
                edges.entry(from).or_default().insert(to);
                why.entry((from, to)).or_insert((a, b));
            }
        }
        // A read before, in its session, the write it read.
        for (position, &id) in list.iter().enumerate() {
            if let Some(Source::Write(writer)) = ops.ops[id].read
                && ops.ops[writer].session == ops.ops[id].session
                && ops.ops[writer].position as usize > position + 1
            {
                return Sequential::Invalid(Finding::new(
                    "FutureRead",
                    vec![id, writer],
                    "{0} read the value {1} wrote, but {1} came later in the same session"
                        .to_string(),
                ));
            }
        }
    }
    // The initial block comes first: an edge into it closes a cycle.
    let blocks: Vec<usize> = edges.keys().copied().collect();
    for &from in &blocks {
        if edges[&from].contains(&usize::MAX) && from != usize::MAX {
            let (a, b) = why[&(from, usize::MAX)];
            return Sequential::Invalid(Finding::new(
                "WriteBeforeInitRead",
                vec![b, a, from],
                "{0} read the initial value after {1}, earlier in its session, had seen or made {2}'s write".to_string(),
            ));
        }
    }
    match cycle(&edges) {
        None => Sequential::Valid,
        Some(cycle) => {
            let mut involved = Vec::new();
            let mut steps = Vec::new();
            for step in 0..cycle.len() {
                let (from, to) = (cycle[step], cycle[(step + 1) % cycle.len()]);
                let (a, b) = why[&(from, to)];
                let base = involved.len();
                involved.extend([a, b]);
                steps.push(format!(
                    "{{{base}}} comes before {{{}}} in a session, so the write {{{base}}} saw or made must precede the one {{{}}} saw or made",
                    base + 1,
                    base + 1
                ));
            }
            Sequential::Invalid(Finding::new(
                "CyclicBlocks",
                involved,
                format!(
                    "{}: a cycle, so no order of the writes explains every session",
                    steps.join("; ")
                ),
            ))
        }
    }
}

/// A cycle in a small graph, by depth-first search.
fn cycle(edges: &FxHashMap<usize, FxHashSet<usize>>) -> Option<Vec<usize>> {
    let mut state: FxHashMap<usize, u8> = FxHashMap::default();
    let mut nodes: Vec<usize> = edges.keys().copied().collect();
    nodes.sort_unstable();
    for &root in &nodes {
        if state.contains_key(&root) {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, sorted(edges, root))];
        state.insert(root, 1);
        while let Some((node, targets)) = stack.last_mut() {
            let node = *node;
            match targets.pop() {
                Some(next) => match state.get(&next) {
                    Some(1) => {
                        let start = stack
                            .iter()
                            .position(|(n, _)| *n == next)
                            .expect("on the stack");
                        return Some(stack[start..].iter().map(|(n, _)| *n).collect());
                    }
                    Some(_) => {}
                    None => {
                        state.insert(next, 1);
                        stack.push((next, sorted(edges, next)));
                    }
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn sorted(edges: &FxHashMap<usize, FxHashSet<usize>>, node: usize) -> Vec<usize> {
    let mut targets: Vec<usize> = edges
        .get(&node)
        .map(|set| set.iter().copied().collect())
        .unwrap_or_default();
    targets.sort_unstable_by(|a, b| b.cmp(a));
    targets
}

/// The search state: how far each session has got, and per key how many
/// readers of its last write (or of the initial value) are still to run.
#[derive(Clone)]
struct State {
    frontier: Vec<u32>,
    outstanding: Vec<u32>,
}

/// Several keys: the frontier search.
pub fn search(ops: &Ops, deadline: Instant) -> Sequential {
    let keys = ops.keys.len();
    let readers = |key: usize, writer: Option<OpId>| -> u32 {
        ops.readers
            .get(&(key, writer))
            .map_or(0, |list| list.len() as u32)
    };
    let mut start = State {
        frontier: vec![0; ops.sessions.len()],
        outstanding: (0..keys).map(|key| readers(key, None)).collect(),
    };
    let next = |state: &State, session: usize| -> Option<OpId> {
        ops.sessions[session]
            .1
            .get(state.frontier[session] as usize)
            .copied()
    };
    let done = |id: OpId, state: &State| -> bool {
        let op = &ops.ops[id];
        state.frontier[op.session] >= op.position
    };
    // Runs every enabled read; false if a read can never run.
    let eager = |state: &mut State| {
        loop {
            let mut ran = false;
            for session in 0..ops.sessions.len() {
                while let Some(id) = next(state, session) {
                    let op = &ops.ops[id];
                    let enabled = match op.read {
                        Some(Source::Init) => true_if_no_write(state, op.key, ops),
                        Some(Source::Write(writer)) => done(writer, state),
                        _ => false,
                    };
                    if !enabled || op.is_write() {
                        break;
                    }
                    state.frontier[session] += 1;
                    state.outstanding[op.key] -= 1;
                    ran = true;
                }
            }
            if !ran {
                return;
            }
        }
    };
    eager(&mut start);
    let mut tried: FxHashSet<Vec<u32>> = FxHashSet::default();
    // Depth-first, by hand: each level holds its state and the writes left to try.
    let candidates = |state: &State| -> Vec<OpId> {
        let mut writes: Vec<OpId> = (0..ops.sessions.len())
            .filter_map(|session| next(state, session))
            .filter(|&id| ops.ops[id].is_write() && state.outstanding[ops.ops[id].key] == 0)
            .collect();
        // Invocation order first; popped from the back.
        writes.sort_unstable_by_key(|&id| std::cmp::Reverse(ops.ops[id].operation));
        writes
    };
    let total = ops.ops.len() as u32;
    let finished = |state: &State| state.frontier.iter().sum::<u32>() == total;
    if finished(&start) {
        return Sequential::Valid;
    }
    let first = candidates(&start);
    tried.insert(start.frontier.clone());
    let mut stack = vec![(start, first)];
    let mut best = 0u32;
    while let Some((state, writes)) = stack.last_mut() {
        let Some(write) = writes.pop() else {
            stack.pop();
            continue;
        };
        if tried.len() % 1024 == 0 && Instant::now() > deadline {
            return Sequential::Unknown(tried.len());
        }
        let mut child = state.clone();
        let op = &ops.ops[write];
        child.frontier[op.session] += 1;
        child.outstanding[op.key] = readers(op.key, Some(write));
        eager(&mut child);
        if finished(&child) {
            return Sequential::Valid;
        }
        if !tried.insert(child.frontier.clone()) {
            continue;
        }
        best = best.max(child.frontier.iter().sum());
        let writes = candidates(&child);
        stack.push((child, writes));
    }
    Sequential::Invalid(Finding::new(
        "NoSequentialOrder",
        Vec::new(),
        format!(
            "no order of the {total} reads and writes keeps every session's order and gives every read its value: the search tried {} frontiers and placed at most {best} operations",
            tried.len()
        ),
    ))
}

fn true_if_no_write(state: &State, key: usize, ops: &Ops) -> bool {
    // No write of the key has run: every session is before its first write of it.
    (0..ops.sessions.len()).all(|session| {
        ops.writes
            .get(&(session, key))
            .and_then(|list| list.first())
            .is_none_or(|&(position, _)| state.frontier[session] < position)
    })
}
