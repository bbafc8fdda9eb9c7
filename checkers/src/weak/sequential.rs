//! Sequential consistency: one total order of every operation that keeps each
//! session's order and in which every read returns the last write before it.
//!
//! - One key, in linear time: each write with its readers forms a block that
//!   must be contiguous (nothing else writes in between), the initial-value
//!   readers a block that comes first; session order between blocks must be
//!   acyclic, and no read may precede in its session the write it read.
//! - Several keys (NP-complete in general): the causal patterns refute first
//!   (the caller runs them; SC implies CCv and CM), then a saturation pass
//!   derives orders every sequential order keeps (a cycle refutes), then a
//!   cheap witness — each key's writes put in one order (the least recently
//!   invoked first among what is known, or the saturated order), which with
//!   each read between its write and the next leaves a topological order if it
//!   is acyclic — then an exact search over
//!   "frontiers" — how far each session has got — that runs every enabled read
//!   at once (a read never disables anything), branches only on writes (the
//!   earliest completed first), prunes a frontier whose remaining constraints
//!   are already cyclic, and remembers the frontiers it has tried. The budget
//!   ends it in `unknown`.

use super::causal::Forced;
use super::ops::{CausalClocks, Clocks, OpId, Ops, Source};
use super::{Finding, placeholder};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Instant;

/// The verdict of the search.
pub enum Sequential {
    Valid,
    Invalid(Finding),
    /// The budget ran out after this many frontiers, having placed at most
    /// this many operations.
    Unknown(usize, u32),
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
    /// Per key, the last write run (`None`: the initial value still holds).
    last: Vec<Option<OpId>>,
}

/// Whether what is left can no longer be ordered: the constraints among the
/// operations left — session order, each read after its write, and every
/// reader of a key's current value before the key's next write — form a
/// cycle. A wrong early choice of write shows here at once instead of after
/// an exponential subtree.
fn doomed(ops: &Ops, state: &State, extra: &Forced) -> bool {
    let n = ops.ops.len();
    let keys = ops.keys.len();
    // Nodes: operations, then one gate per key between the readers of its
    // current value and its next writes.
    let mut waiting = vec![0u32; n + keys];
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut left = Vec::new();
    for (session, (_, list)) in ops.sessions.iter().enumerate() {
        let rest = &list[state.frontier[session] as usize..];
        for (position, &id) in rest.iter().enumerate() {
            left.push(id);
            if let Some(&next) = rest.get(position + 1) {
                edges.push((id, next));
            }
            let op = &ops.ops[id];
            match op.read {
                None => edges.push((n + op.key, id)),
                Some(Source::Write(writer)) if Some(writer) == state.last[op.key] => {
                    edges.push((id, n + op.key));
                }
                Some(Source::Init) if state.last[op.key].is_none() => {
                    edges.push((id, n + op.key));
                }
                Some(Source::Write(writer)) => {
                    let writer_op = &ops.ops[writer];
                    if state.frontier[writer_op.session] >= writer_op.position {
                        // Its write was overwritten: it can never run.
                        return true;
                    }
                    edges.push((writer, id));
                }
                _ => return true,
            }
        }
    }
    let is_left = |id: OpId| {
        let op = &ops.ops[id];
        state.frontier[op.session] < op.position
    };
    for (&from, targets) in extra {
        if is_left(from) {
            edges.extend(
                targets
                    .iter()
                    .filter(|&&to| is_left(to))
                    .map(|&to| (from, to)),
            );
        }
    }
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n + keys];
    for &(from, to) in &edges {
        successors[from].push(to);
        waiting[to] += 1;
    }
    let mut ready: Vec<usize> = left
        .iter()
        .copied()
        .chain(n..n + keys)
        .filter(|&node| waiting[node] == 0)
        .collect();
    let mut done = 0;
    while let Some(node) = ready.pop() {
        done += 1;
        for &next in &successors[node] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    done < left.len() + keys
}

/// Orders every sequential order must keep, to a fixpoint (TSOtool-style
/// saturation): a write that precedes a read of another write of its key
/// precedes that write; a read precedes every write of its key that follows
/// the write it read; a read of the initial value precedes every write of its
/// key. Returns the orders added, and a rank per operation (a topological
/// order of it all, the earliest completed first), or a cycle: no sequential
/// order exists.
fn saturate(ops: &Ops, deadline: Instant) -> Result<(Forced, Vec<usize>), Finding> {
    let mut extra: Forced = FxHashMap::default();
    // Each order added, with the read that forces it.
    let mut added: FxHashMap<(OpId, OpId), OpId> = FxHashMap::default();
    loop {
        let clocks = match Clocks::of(ops, &extra) {
            Ok(clocks) => clocks,
            Err(cycle) => return Err(order_cycle(ops, &cycle, &added)),
        };
        let mut fresh = Vec::new();
        if Instant::now() <= deadline {
            for (read, op) in ops.ops.iter().enumerate() {
                let Some(source) = op.read else { continue };
                let writer = match source {
                    Source::Write(writer) => Some(writer),
                    Source::Init => None,
                    Source::Nowhere => continue,
                };
                for session in 0..ops.sessions.len() {
                    if let Some(writer) = writer
                        && let Some(other) =
                            ops.last_write(session, op.key, clocks.seen(read, session))
                        && other != writer
                    {
                        fresh.push((other, writer, read));
                    }
                    let next = match writer {
                        None => ops.first_write(session, op.key, |_| true),
                        Some(writer) => ops.first_write(session, op.key, |other| {
                            other != writer && clocks.before(ops, writer, other)
                        }),
                    };
                    if let Some(next) = next {
                        fresh.push((read, next, read));
                    }
                }
            }
        }
        let mut grew = false;
        for (from, to, read) in fresh {
            if !clocks.before(ops, from, to) && !added.contains_key(&(from, to)) {
                added.insert((from, to), read);
                extra.entry(from).or_default().push(to);
                grew = true;
            }
        }
        if !grew {
            let mut rank = vec![0; ops.ops.len()];
            for (position, &id) in clocks.order.iter().enumerate() {
                rank[id] = position;
            }
            return Ok((extra, rank));
        }
    }
}

/// A cycle of session order, reads-from and derived orders, each explained.
fn order_cycle(ops: &Ops, cycle: &[OpId], added: &FxHashMap<(OpId, OpId), OpId>) -> Finding {
    let mut involved: Vec<OpId> = cycle.to_vec();
    let mut name = |id: OpId| placeholder(&mut involved, id);
    let mut steps = Vec::new();
    for step in 0..cycle.len() {
        let (from, to) = (cycle[step], cycle[(step + 1) % cycle.len()]);
        let (a, b) = (name(from), name(to));
        let is_read = ops.source(to) == Some(Source::Write(from));
        let same_session = ops.ops[from].session == ops.ops[to].session
            && ops.ops[from].position < ops.ops[to].position;
        let text = match added.get(&(from, to)) {
            _ if is_read => format!("{a} was read by {b}"),
            _ if same_session => format!("{a} came before {b} in its session"),
            Some(&read) if read == from => match ops.source(read) {
                Some(Source::Write(writer)) => {
                    let w = name(writer);
                    format!(
                        "{a} must precede {b}, because {a} read {w}'s value and {b} overwrites that key after {w}"
                    )
                }
                _ => format!(
                    "{a} must precede {b}, because {a} read the initial value and {b} writes that key"
                ),
            },
            Some(&read) => {
                let r = name(read);
                format!(
                    "{a} must precede {b}, because {r}, which read {b}'s value, comes after {a}"
                )
            }
            None => format!("{a} must precede {b}"),
        };
        steps.push(text);
    }
    Finding::new(
        "WriteOrderCycle",
        involved,
        format!(
            "{}: a cycle, so no single order of the operations explains every read",
            steps.join("; ")
        ),
    )
}

/// Several keys: saturation, then the frontier search.
pub fn search(ops: &Ops, deadline: Instant) -> Sequential {
    let (extra, rank) = match saturate(ops, deadline) {
        Ok(saturated) => saturated,
        Err(finding) => return Sequential::Invalid(finding),
    };
    // A cheap witness first: each key's writes in the order of the last
    // invocation among each write and its readers (where a linearizable
    // history would put them), or in the saturated order.
    let mut last_invoked: Vec<usize> = ops.ops.iter().map(|op| op.operation).collect();
    for (&(_, writer), readers) in &ops.readers {
        if let Some(writer) = writer {
            for &reader in readers {
                last_invoked[writer] = last_invoked[writer].max(ops.ops[reader].operation);
            }
        }
    }
    // Each key's writes in a topological order of what is known, the least
    // recently invoked first.
    if let Ok(clocks) = Clocks::of_by(ops, &extra, &last_invoked) {
        let mut place = vec![0; ops.ops.len()];
        for (position, &id) in clocks.order.iter().enumerate() {
            place[id] = position;
        }
        if fixed_write_order_works(ops, &extra, &place) {
            return Sequential::Valid;
        }
    }
    if fixed_write_order_works(ops, &extra, &rank) {
        return Sequential::Valid;
    }
    let keys = ops.keys.len();
    let readers = |key: usize, writer: Option<OpId>| -> u32 {
        ops.readers
            .get(&(key, writer))
            .map_or(0, |list| list.len() as u32)
    };
    let mut start = State {
        frontier: vec![0; ops.sessions.len()],
        outstanding: (0..keys).map(|key| readers(key, None)).collect(),
        last: vec![None; keys],
    };
    // What saturation derived must have run before an operation may: every
    // sequential order keeps those orders, so running it earlier only leads
    // to a dead end.
    let mut derived: FxHashMap<OpId, Vec<OpId>> = FxHashMap::default();
    for (&from, targets) in &extra {
        for &to in targets {
            derived.entry(to).or_default().push(from);
        }
    }
    let derived_done = |id: OpId, state: &State| -> bool {
        derived.get(&id).is_none_or(|before| {
            before.iter().all(|&other| {
                let op = &ops.ops[other];
                state.frontier[op.session] >= op.position
            })
        })
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
                    } && derived_done(id, state);
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
            .filter(|&id| {
                ops.ops[id].is_write()
                    && state.outstanding[ops.ops[id].key] == 0
                    && derived_done(id, state)
            })
            .collect();
        // The saturated order's first (popped from the back).
        writes.sort_unstable_by_key(|&id| std::cmp::Reverse(rank[id]));
        writes
    };
    let total = ops.ops.len() as u32;
    let finished = |state: &State| state.frontier.iter().sum::<u32>() == total;
    if finished(&start) {
        return Sequential::Valid;
    }
    if doomed(ops, &start, &extra) {
        return no_order(ops, 0, 0);
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
            return Sequential::Unknown(tried.len(), best);
        }
        let mut child = state.clone();
        let op = &ops.ops[write];
        child.frontier[op.session] += 1;
        child.outstanding[op.key] = readers(op.key, Some(write));
        child.last[op.key] = Some(write);
        eager(&mut child);
        if finished(&child) {
            return Sequential::Valid;
        }
        if !tried.insert(child.frontier.clone()) || doomed(ops, &child, &extra) {
            continue;
        }
        best = best.max(child.frontier.iter().sum());
        let writes = candidates(&child);
        stack.push((child, writes));
    }
    no_order(ops, tried.len(), best)
}

/// Whether fixing each key's write order (writes sorted by `place`) leaves a
/// sequential order: with the writes of a key in that order, each read after
/// the write it read and before that key's next write, and the orders
/// saturation derived, an acyclic whole has a topological order, which is a
/// sequential order. Only a sufficient test: another write order may work
/// where this one does not, and then the search decides.
fn fixed_write_order_works(ops: &Ops, extra: &Forced, place: &[usize]) -> bool {
    // A read of a value nobody wrote has no place; the search says why.
    if ops.ops.iter().any(|op| op.read == Some(Source::Nowhere)) {
        return false;
    }
    let mut edges = extra.clone();
    let mut writes: Vec<Vec<OpId>> = vec![Vec::new(); ops.keys.len()];
    for (id, op) in ops.ops.iter().enumerate() {
        if op.is_write() {
            writes[op.key].push(id);
        }
    }
    for (key, list) in writes.iter_mut().enumerate() {
        list.sort_unstable_by_key(|&id| place[id]);
        let mut previous: Option<OpId> = None;
        for &write in list.iter() {
            let before = previous.into_iter().chain(
                ops.readers
                    .get(&(key, previous))
                    .into_iter()
                    .flatten()
                    .copied(),
            );
            for from in before {
                edges.entry(from).or_default().push(write);
            }
            previous = Some(write);
        }
    }
    Clocks::of(ops, &edges).is_ok()
}

fn no_order(ops: &Ops, tried: usize, best: u32) -> Sequential {
    Sequential::Invalid(Finding::new(
        "NoSequentialOrder",
        Vec::new(),
        format!(
            "no order of the {} reads and writes keeps every session's order and gives every read its value: the search tried {tried} frontiers and placed at most {best} operations",
            ops.ops.len()
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
