//! The history as the weak checkers see it: sessions of reads and writes on
//! keys, each read resolved to the one write whose value it returned (values
//! are unique per key), and the causal order `(so ∪ rf)+` as vector clocks.
//!
//! A session is a process: one that replaces a crashed process (an `info`
//! retires its id) starts a new session, as Jepsen's processes do. `fail`
//! operations never happened and are left out; an `info` write (or cas) is kept
//! only if some read observed its value — it happened — and otherwise dropped,
//! which can only help (it is its session's last operation). An `ok`
//! compare-and-set is its read of the old value followed by its write of the
//! new one; the weak models say nothing of the pair's atomicity, which the
//! linearizability checker covers.

use histories::{History, Outcome, Process};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// An operation's position in [`Ops::ops`].
pub type OpId = usize;

/// Where a read's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The initial, absent value.
    Init,
    /// This write.
    Write(OpId),
    /// No write wrote it (a thin-air read).
    Nowhere,
}

/// A read or a write of one key.
#[derive(Debug, Clone)]
pub struct Op {
    /// The session (index into [`Ops::sessions`]).
    pub session: usize,
    /// 1-based position in the session.
    pub position: u32,
    /// The key (index into [`Ops::keys`]).
    pub key: usize,
    /// For a read, where its value came from; `None` for a write.
    pub read: Option<Source>,
    /// The value written or read.
    pub value: Value,
    /// The history operation it comes from (position in `history.operations`).
    pub operation: usize,
    /// The position of its completion event (an `info` one: the end of the
    /// history), a hint for the order to try.
    pub completed: usize,
}

impl Op {
    /// Whether it writes.
    pub fn is_write(&self) -> bool {
        self.read.is_none()
    }
}

/// Why the weak checkers cannot judge a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// The sessions, their operations and the causal order.
#[derive(Debug)]
pub struct Ops {
    /// Every operation, sessions one after another.
    pub ops: Vec<Op>,
    /// Each session's operations in order, and its process.
    pub sessions: Vec<(u64, Vec<OpId>)>,
    /// The keys, as the history names them (`null` for a single register).
    pub keys: Vec<Value>,
    /// Each key's readers, by source write (`None`: initial-value readers).
    pub readers: FxHashMap<(usize, Option<OpId>), Vec<OpId>>,
    /// Each session's writes per key: (position, op), in order.
    pub writes: FxHashMap<(usize, usize), Vec<(u32, OpId)>>,
    /// Per key, the sessions that write it, each with the position of its last
    /// write of it: a read looks at these sessions only, and skips at once
    /// those whose writes of its key its source has all seen.
    pub writers: Vec<Vec<(usize, u32)>>,
}

/// One operation of the history, before sources are known.
struct Raw {
    process: u64,
    key: Value,
    /// (is a write, value) in session order.
    parts: Vec<(bool, Value)>,
    operation: usize,
    /// An `info` write or cas: kept only if observed.
    uncertain: bool,
}

/// Whether every client operation of `history` is a read, a write or a cas.
pub fn registers_only(history: &History) -> bool {
    history.operations.iter().all(|operation| {
        let invocation = history.invocation(operation);
        !matches!(invocation.process, Process::Client(_))
            || matches!(invocation.f.as_str(), "read" | "write" | "cas")
    })
}

impl Ops {
    /// Reads `history`.
    ///
    /// # Errors
    /// A history the weak checkers cannot judge: functions other than read,
    /// write and cas, or a value written twice to a key.
    pub fn of(history: &History) -> Result<Ops, Unsupported> {
        let mut raws = Vec::new();
        for (index, operation) in history.operations.iter().enumerate() {
            let invocation = history.invocation(operation);
            let Process::Client(process) = invocation.process else {
                continue;
            };
            let key = history.key(operation).cloned().unwrap_or(Value::Null);
            let value = history.result(operation);
            let line = history.lines[operation.invoke];
            let parts = match (invocation.f.as_str(), operation.outcome) {
                (_, Outcome::Fail) => continue,
                ("read", Outcome::Info) => continue,
                ("read", Outcome::Ok) => vec![(false, value.clone())],
                ("write", _) => vec![(true, invocation.value.clone())],
                ("cas", _) => {
                    let pair = invocation.value.as_array().filter(|pair| pair.len() == 2);
                    let Some(pair) = pair else {
                        return Err(Unsupported(format!(
                            "line {line}: a cas needs [old, new], not {}",
                            invocation.value
                        )));
                    };
                    vec![(false, pair[0].clone()), (true, pair[1].clone())]
                }
                (f, _) => {
                    return Err(Unsupported(format!(
                        "line {line}: {f:?} is not a read, write or cas; the weak models judge register and key-value histories"
                    )));
                }
            };
            raws.push(Raw {
                process,
                key,
                parts,
                operation: index,
                uncertain: operation.outcome == Outcome::Info,
            });
        }
        // Writers by (key, value); a value written twice cannot be traced.
        let mut key_ids: FxHashMap<String, usize> = FxHashMap::default();
        let mut keys = Vec::new();
        let mut key_of = |key: &Value| -> usize {
            let text = key.to_string();
            *key_ids.entry(text).or_insert_with(|| {
                keys.push(key.clone());
                keys.len() - 1
            })
        };
        let mut written: FxHashMap<(usize, String), usize> = FxHashMap::default();
        let mut observed: FxHashMap<(usize, String), bool> = FxHashMap::default();
        for (raw_index, raw) in raws.iter().enumerate() {
            let key = key_of(&raw.key);
            for (is_write, value) in &raw.parts {
                let slot = (key, value.to_string());
                if *is_write {
                    if value.is_null() {
                        let line = history.lines[history.operations[raw.operation].invoke];
                        return Err(Unsupported(format!(
                            "line {line}: a write of null cannot be told from the initial value"
                        )));
                    }
                    if let Some(&other) = written.get(&slot) {
                        let first = history.lines[history.operations[raws[other].operation].invoke];
                        let line = history.lines[history.operations[raw.operation].invoke];
                        return Err(Unsupported(format!(
                            "value {value} is written to key {} twice (lines {first} and {line}); the weak models need unique values per key",
                            raw.key
                        )));
                    }
                    written.insert(slot, raw_index);
                } else if !raw.uncertain {
                    observed.insert(slot, true);
                }
            }
        }
        // An uncertain cas that happened (its write was observed) read its old
        // value: that observes the write of it, which may be uncertain too.
        loop {
            let mut grew = false;
            for raw in raws
                .iter()
                .filter(|raw| raw.uncertain && raw.parts.len() == 2)
            {
                let key = key_ids[&raw.key.to_string()];
                let (old, new) = (&raw.parts[0].1, &raw.parts[1].1);
                if observed.contains_key(&(key, new.to_string()))
                    && observed.insert((key, old.to_string()), true).is_none()
                {
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        // Sessions, dropping unobserved uncertain operations.
        let mut ops: Vec<Op> = Vec::new();
        let mut session_of: FxHashMap<u64, usize> = FxHashMap::default();
        let mut sessions: Vec<(u64, Vec<OpId>)> = Vec::new();
        let mut write_op: FxHashMap<(usize, String), OpId> = FxHashMap::default();
        for raw in &raws {
            let key = key_ids[&raw.key.to_string()];
            if raw.uncertain {
                let written_value = &raw.parts.last().expect("a write part").1;
                if !observed.contains_key(&(key, written_value.to_string())) {
                    continue;
                }
            }
            let session = *session_of.entry(raw.process).or_insert_with(|| {
                sessions.push((raw.process, Vec::new()));
                sessions.len() - 1
            });
            for (is_write, value) in &raw.parts {
                let id = ops.len();
                let list = &mut sessions[session].1;
                list.push(id);
                if *is_write {
                    write_op.insert((key, value.to_string()), id);
                }
                ops.push(Op {
                    session,
                    position: list.len() as u32,
                    key,
                    read: (!is_write).then_some(Source::Nowhere),
                    value: value.clone(),
                    operation: raw.operation,
                    completed: history.operations[raw.operation]
                        .completion
                        .filter(|_| !raw.uncertain)
                        .unwrap_or(usize::MAX),
                });
            }
        }
        let mut readers: FxHashMap<(usize, Option<OpId>), Vec<OpId>> = FxHashMap::default();
        let mut writes: FxHashMap<(usize, usize), Vec<(u32, OpId)>> = FxHashMap::default();
        for (id, op) in ops.iter_mut().enumerate() {
            if op.is_write() {
                writes
                    .entry((op.session, op.key))
                    .or_default()
                    .push((op.position, id));
                continue;
            }
            let source = if op.value.is_null() {
                Source::Init
            } else {
                match write_op.get(&(op.key, op.value.to_string())) {
                    Some(&writer) => Source::Write(writer),
                    None => Source::Nowhere,
                }
            };
            match source {
                Source::Init => readers.entry((op.key, None)).or_default().push(id),
                Source::Write(writer) => {
                    readers.entry((op.key, Some(writer))).or_default().push(id)
                }
                Source::Nowhere => {}
            }
            op.read = Some(source);
        }
        let mut writers: Vec<Vec<(usize, u32)>> = vec![Vec::new(); keys.len()];
        for (&(session, key), list) in &writes {
            let last = list.last().map_or(0, |&(position, _)| position);
            writers[key].push((session, last));
        }
        for list in &mut writers {
            list.sort_unstable();
        }
        Ok(Ops {
            ops,
            sessions,
            keys,
            readers,
            writes,
            writers,
        })
    }

    /// The read's source, for a read.
    pub fn source(&self, id: OpId) -> Option<Source> {
        self.ops[id].read
    }

    /// The first write of `session` to `key` for which `after` holds, where
    /// `after` holds from some write on (monotone along the session).
    pub fn first_write(
        &self,
        session: usize,
        key: usize,
        after: impl Fn(OpId) -> bool,
    ) -> Option<OpId> {
        let list = self.writes.get(&(session, key))?;
        let count = list.partition_point(|&(_, id)| !after(id));
        list.get(count).map(|&(_, id)| id)
    }

    /// The last write of `session` to `key` at a position at most `bound`
    /// that `source`'s causal past does not already hold, if any: a write
    /// of the read's key by that session which could be newer than what it
    /// read. `last` is the session's last write of the key, from
    /// [`Ops::writers`].
    pub fn unseen_write(
        &self,
        clocks: &impl CausalClocks,
        (session, last): (usize, u32),
        key: usize,
        bound: u32,
        source: Option<OpId>,
    ) -> Option<OpId> {
        if bound == 0 {
            return None;
        }
        if let Some(writer) = source
            && clocks.seen(writer, session) >= bound.min(last)
        {
            return None;
        }
        self.last_write(session, key, bound)
    }

    /// The last write of `session` to `key` at a position at most `bound`.
    pub fn last_write(&self, session: usize, key: usize, bound: u32) -> Option<OpId> {
        let list = self.writes.get(&(session, key))?;
        let count = list.partition_point(|(position, _)| *position <= bound);
        count.checked_sub(1).map(|last| list[last].1)
    }

    /// The operations that must come right before `id` in the causal order:
    /// its session predecessor and, for a read, its source.
    pub fn predecessors(&self, id: OpId) -> impl Iterator<Item = OpId> + '_ {
        let op = &self.ops[id];
        let previous =
            (op.position > 1).then(|| self.sessions[op.session].1[op.position as usize - 2]);
        let source = match op.read {
            Some(Source::Write(writer)) => Some(writer),
            _ => None,
        };
        previous.into_iter().chain(source)
    }
}

/// Vector clocks of an acyclic order that contains session order: `clock(o)[s]`
/// is the position of the last operation of session `s` strictly before `o`.
#[derive(Debug)]
pub struct Clocks {
    sessions: usize,
    clocks: Vec<u32>,
    /// A topological order, the earliest completed first among those ready.
    pub order: Vec<OpId>,
    /// Each operation's position in `order`.
    rank: Vec<u32>,
}

/// What the weak checkers ask of a causal order's clocks.
pub trait CausalClocks {
    /// The position of the last operation of `session` strictly before `id`.
    fn seen(&self, id: OpId, session: usize) -> u32;

    /// Whether `a` is strictly before `b`.
    fn before(&self, ops: &Ops, a: OpId, b: OpId) -> bool {
        let a_op = &ops.ops[a];
        self.seen(b, a_op.session) >= a_op.position
    }
}

impl CausalClocks for Clocks {
    fn seen(&self, id: OpId, session: usize) -> u32 {
        self.clocks[id * self.sessions + session]
    }
}

impl Clocks {
    /// The clocks of `so ∪ rf ∪ extra` (extra: edges `from → to`), or a cycle
    /// of it (each node followed by the next; the last returns to the first).
    pub fn of(ops: &Ops, extra: &FxHashMap<OpId, Vec<OpId>>) -> Result<Clocks, Vec<OpId>> {
        let completed: Vec<usize> = ops.ops.iter().map(|op| op.completed).collect();
        Clocks::of_by(ops, extra, &completed)
    }

    /// As [`Clocks::of`], the topological order taking the lowest `priority`
    /// first among those ready.
    pub fn of_by(
        ops: &Ops,
        extra: &FxHashMap<OpId, Vec<OpId>>,
        priority: &[usize],
    ) -> Result<Clocks, Vec<OpId>> {
        let n = ops.ops.len();
        let k = ops.sessions.len();
        let mut successors: Vec<Vec<OpId>> = vec![Vec::new(); n];
        let mut waiting = vec![0u32; n];
        for (id, count) in waiting.iter_mut().enumerate() {
            for before in ops.predecessors(id) {
                successors[before].push(id);
                *count += 1;
            }
        }
        for (&from, targets) in extra {
            for &to in targets {
                successors[from].push(to);
                waiting[to] += 1;
            }
        }
        let mut clocks = vec![0u32; n * k];
        let key = |id: OpId| std::cmp::Reverse((priority[id], id));
        let mut ready: std::collections::BinaryHeap<_> =
            (0..n).filter(|&id| waiting[id] == 0).map(key).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse((_, id))) = ready.pop() {
            order.push(id);
            let (session, position) = (ops.ops[id].session, ops.ops[id].position);
            for &next in &successors[id] {
                for s in 0..k {
                    let mine = if s == session {
                        clocks[id * k + s].max(position)
                    } else {
                        clocks[id * k + s]
                    };
                    let slot = &mut clocks[next * k + s];
                    *slot = (*slot).max(mine);
                }
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(key(next));
                }
            }
        }
        if order.len() == n {
            let mut rank = vec![0u32; n];
            for (position, &id) in order.iter().enumerate() {
                rank[id] = position as u32;
            }
            return Ok(Clocks {
                sessions: k,
                clocks,
                order,
                rank,
            });
        }
        let mut predecessors: Vec<Vec<OpId>> = vec![Vec::new(); n];
        for (from, targets) in successors.iter().enumerate() {
            for &to in targets {
                predecessors[to].push(from);
            }
        }
        let start = (0..n).find(|&id| waiting[id] > 0).expect("a node is left");
        Err(walk_back(start, |at| {
            *predecessors[at]
                .iter()
                .find(|&&before| waiting[before] > 0)
                .expect("a node left has a predecessor left")
        }))
    }
}

/// A cycle found by walking back from `start` along `predecessor` (every node
/// on the way has one) until a node repeats; in forward order.
fn walk_back(start: OpId, predecessor: impl Fn(OpId) -> OpId) -> Vec<OpId> {
    let mut seen: FxHashMap<OpId, usize> = FxHashMap::default();
    let mut walk = vec![start];
    let mut at = start;
    loop {
        seen.insert(at, walk.len() - 1);
        at = predecessor(at);
        if let Some(&first) = seen.get(&at) {
            let mut cycle: Vec<OpId> = walk[first..].to_vec();
            cycle.reverse();
            return cycle;
        }
        walk.push(at);
    }
}

/// The clocks of a causal order with extra edges added, recomputed only where
/// they can differ from `base`'s: the edges' targets are all at or after the
/// window's start in `base`'s topological order, so operations before it keep
/// their clocks; operations after its end are not asked about. Everything an
/// extra edge joins must lie within the window.
pub struct Overlay<'a> {
    base: &'a Clocks,
    /// The window's first position in `base.order`.
    start: usize,
    /// The recomputed rows, by position in the window.
    rows: Vec<u32>,
}

impl<'a> Overlay<'a> {
    /// The clocks of `base`'s order plus `extra` (edges `from → to`) over the
    /// positions `start..=end` of `base.order`, or a cycle of it.
    pub fn of(
        ops: &Ops,
        base: &'a Clocks,
        extra: &FxHashMap<OpId, Vec<OpId>>,
        (start, end): (usize, usize),
    ) -> Result<Overlay<'a>, Vec<OpId>> {
        let k = base.sessions;
        let window = &base.order[start..=end];
        let slot = |id: OpId| -> Option<usize> {
            let rank = base.rank[id] as usize;
            (start..=end).contains(&rank).then(|| rank - start)
        };
        let mut rows = vec![0u32; window.len() * k];
        let mut successors: Vec<Vec<usize>> = vec![Vec::new(); window.len()];
        let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); window.len()];
        let mut waiting = vec![0u32; window.len()];
        // Joins `from`'s clock and itself into row `to` (from outside: `base`'s).
        let join_base = |rows: &mut [u32], to: usize, from: OpId| {
            let (session, position) = (ops.ops[from].session, ops.ops[from].position);
            for s in 0..k {
                let mut mine = base.seen(from, s);
                if s == session {
                    mine = mine.max(position);
                }
                let slot = &mut rows[to * k + s];
                *slot = (*slot).max(mine);
            }
        };
        let mut incoming: FxHashMap<OpId, Vec<OpId>> = FxHashMap::default();
        for (&from, targets) in extra {
            for &to in targets {
                incoming.entry(to).or_default().push(from);
            }
        }
        for (index, &id) in window.iter().enumerate() {
            let extra_in = incoming.get(&id).into_iter().flatten().copied();
            for before in ops.predecessors(id).chain(extra_in) {
                match slot(before) {
                    Some(from) => {
                        successors[from].push(index);
                        predecessors[index].push(from);
                        waiting[index] += 1;
                    }
                    None => join_base(&mut rows, index, before),
                }
            }
        }
        let mut ready: Vec<usize> = (0..window.len()).filter(|&i| waiting[i] == 0).collect();
        let mut done = 0;
        while let Some(index) = ready.pop() {
            done += 1;
            let id = window[index];
            let (session, position) = (ops.ops[id].session, ops.ops[id].position);
            for &next in &successors[index] {
                for s in 0..k {
                    let mut mine = rows[index * k + s];
                    if s == session {
                        mine = mine.max(position);
                    }
                    let slot = &mut rows[next * k + s];
                    *slot = (*slot).max(mine);
                }
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(next);
                }
            }
        }
        if done == window.len() {
            return Ok(Overlay { base, start, rows });
        }
        let left = (0..window.len())
            .find(|&i| waiting[i] > 0)
            .expect("a node is left");
        let cycle = walk_back(window[left], |at| {
            let index = slot(at).expect("in the window");
            let before = predecessors[index]
                .iter()
                .find(|&&before| waiting[before] > 0)
                .expect("a node left has a predecessor left");
            window[*before]
        });
        Err(cycle)
    }
}

impl CausalClocks for Overlay<'_> {
    fn seen(&self, id: OpId, session: usize) -> u32 {
        let rank = self.base.rank[id] as usize;
        if rank < self.start {
            return self.base.seen(id, session);
        }
        let k = self.base.sessions;
        match self.rows.get((rank - self.start) * k + session) {
            Some(&seen) => seen,
            None => unreachable!("no operation after the window is asked about"),
        }
    }
}

impl Clocks {
    /// Each operation's position in the topological order.
    pub fn rank(&self, id: OpId) -> usize {
        self.rank[id] as usize
    }
}
