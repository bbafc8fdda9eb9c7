//! The search for a linearization of one partition.
//!
//! This is Wing & Gong's tree search with Lowe's memoization, in the list form of
//! Horn & Kroening that Porcupine uses: the completed (`ok`) operations' call and
//! return entries sit in a doubly linked list in history order; the search tries to
//! take effect ("linearize") an operation whose call comes before the first
//! remaining return, lifts both of its entries out of the list in O(1), and backs
//! out when it reaches a return it could not place before. A configuration — the
//! set of operations taken effect and the model state — that has been reached
//! before is not explored again.
//!
//! Indeterminate (`info`) operations are what make Jepsen histories expensive: they
//! never return, so they stay concurrent with everything after their call. They are
//! kept out of the list and handled by rules, each sound for the reason given
//! where it is applied:
//!
//! 1. *They may never happen.* The search succeeds as soon as every `ok` operation
//!    has taken effect; indeterminate ones left over are taken not to have happened
//!    (Knossos does the same).
//! 2. *An indeterminate read constrains nothing* and is dropped.
//! 3. *An indeterminate operation that leaves the state unchanged is useless.*
//!    Taking it has the same state as not taking it, with one operation fewer left
//!    to use later; whatever follows from the first configuration follows from the
//!    second. Such a move is skipped (a cas whose compare fails).
//! 4. *Identical indeterminate operations are interchangeable.* Two with the same
//!    function and value, both already invoked, have the same effect at any point
//!    from then on, so swapping them in a linearization gives another one. Only the
//!    earliest-invoked of a not-yet-taken group is tried, and the set of taken ones
//!    is always a prefix of each group, which also keeps the cache keys canonical.
//! 5. *A blind write right after another indeterminate operation makes it useless.*
//!    In `…, I, W, …` with W indeterminate and state-independent (a write, a put),
//!    the state after W does not depend on I, so `…, W, …` without I reaches the
//!    same state with more operations left. Configurations record whether they were
//!    entered by an indeterminate move, so the cache never equates a configuration
//!    that may take W with one that may not.
//! 6. *An indeterminate operation the model finds useless is dropped*: one
//!    whose effect no operation ever depends on (for a register, one setting a
//!    value that nobody reads and no cas expects) can be left out of any
//!    linearization; the model's `useless` gives the argument.
//! 7. *A read that can take effect now goes now, alone.* If a read-only `ok`
//!    operation R is a candidate and its result matches the state, any
//!    linearization from here can be rearranged to start with R: R changes no
//!    state, it reads the same value at the front, and no pending operation must
//!    precede it (its call comes before every remaining return). So R is taken
//!    and no other branch is tried at this configuration.
//! 8. *An operation that can never succeed ends the branch.* Where the model can
//!    tell that no state reachable from here satisfies a pending `ok` operation,
//!    the configuration cannot lead to a linearization: a register read of `v`
//!    once nothing left can set `v`; a kv get whose result does not start with
//!    the current string (appends only extend it) once no put that begins it is
//!    left.
//! 9. *Order, not pruning:* indeterminate operations are only tried once no
//!    `ok` operation can go first, and those that let the blocking operation
//!    (the one whose return comes first) take effect are tried before the rest.
//!
//! Cache keys are exact, not hashes, and stay small on long histories: every `ok`
//! operation invoked before the first remaining list entry has taken effect, so a
//! key holds that entry's rank plus the bits of the few later ones, the applied
//! indeterminate operations and the state.

use super::super::budget::{Exhausted, Meter};
use super::super::models::{Effect, Spec, State};
use hashbrown::HashTable;
use std::sync::atomic::{AtomicUsize, Ordering};

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// How many loop iterations between budget checks.
const CHECK_EVERY: u64 = 4096;

/// One operation of a partition, as the search sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchOp {
    /// Position of the invocation event.
    pub call: usize,
    /// Position of the completion event for `ok` operations; `None` when the
    /// outcome is unknown (the operation never returns).
    pub ret: Option<usize>,
}

/// A step of a (partial) linearization: a partition-local operation index.
pub(crate) type Move = usize;

/// Where the search got furthest before failing.
#[derive(Debug, Clone)]
pub(crate) struct DeadEnd {
    /// The longest linearization found, as partition-local operation indices.
    pub path: Vec<Move>,
    /// The operation that could not take effect after it.
    pub culprit: usize,
}

/// How a search ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// A linearization exists.
    Linearizable,
    /// None exists; the furthest point reached.
    NotLinearizable(DeadEnd),
    /// The budget ran out first.
    Exhausted(Exhausted),
    /// The configuration cap was reached first.
    Capped,
    /// Another key, checked before this one, was found invalid.
    Cancelled,
}

/// Where a search stops before its end, other than the budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit<'a> {
    /// Configurations it may explore.
    pub cap: u64,
    /// The position of the first key found invalid (shared by the threads of a
    /// check), and this key's position: the search stops once a key before it
    /// is invalid, since that key decides the verdict.
    pub cancel: Option<(&'a AtomicUsize, usize)>,
}

impl Limit<'_> {
    /// At most `cap` configurations, never cancelled.
    pub(crate) fn capped(cap: u64) -> Limit<'static> {
        Limit { cap, cancel: None }
    }

    /// Whether a key before this one is invalid.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|(first_invalid, position)| {
            first_invalid.load(Ordering::Relaxed) < position
        })
    }
}

/// What the search did, for results and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Distinct configurations explored.
    pub configurations: u64,
    /// Peak bytes of the cache.
    pub cache_bytes: usize,
}

/// The exact-key cache of explored configurations: keys are variable-length word
/// slices in one arena, found through a table of (hash, offset, length).
struct Cache {
    table: HashTable<(u64, u32, u32)>,
    arena: Vec<u64>,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            table: HashTable::new(),
            arena: Vec::new(),
        }
    }

    /// Inserts `key`; `true` if it was not there.
    fn insert(&mut self, key: &[u64]) -> bool {
        let hash = hash_words(key);
        let arena = &self.arena;
        let found = self.table.find(hash, |&(entry_hash, offset, length)| {
            entry_hash == hash
                && length as usize == key.len()
                && &arena[offset as usize..offset as usize + length as usize] == key
        });
        if found.is_some() {
            return false;
        }
        let offset = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        self.table.insert_unique(
            hash,
            (hash, offset, key.len() as u32),
            |&(entry_hash, _, _)| entry_hash,
        );
        true
    }

    fn bytes(&self) -> usize {
        self.arena.capacity() * 8 + self.table.capacity() * 16
    }
}

fn hash_words(words: &[u64]) -> u64 {
    let mut hash = 0u64;
    for &word in words {
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    hash ^ (hash >> 29)
}

fn set_bit(bits: &mut [u64], index: usize) {
    bits[index / 64] |= 1 << (index % 64);
}

fn clear_bit(bits: &mut [u64], index: usize) {
    bits[index / 64] &= !(1 << (index % 64));
}

fn bit(bits: &[u64], index: usize) -> bool {
    bits[index / 64] & (1 << (index % 64)) != 0
}

/// Operations' call and return entries in a doubly linked list in history order
/// (index 0 is the head).
pub(super) struct EntryList {
    pub(super) next: Vec<u32>,
    prev: Vec<u32>,
    /// For each entry: the rank of its operation among those in the list.
    pub(super) rank: Vec<u32>,
    pub(super) is_call: Vec<bool>,
    /// For each entry: the history position of its event.
    position: Vec<usize>,
    pub(super) call_entry: Vec<u32>,
    return_entry: Vec<u32>,
}

impl EntryList {
    /// `ok_ops` are (call, return) positions in rank order.
    pub(super) fn new(ok_ops: &[(usize, usize)]) -> EntryList {
        let mut entries: Vec<(usize, u32, bool)> = Vec::with_capacity(ok_ops.len() * 2);
        for (rank, &(call, ret)) in ok_ops.iter().enumerate() {
            entries.push((call, rank as u32, true));
            entries.push((ret, rank as u32, false));
        }
        entries.sort_unstable_by_key(|&(position, _, _)| position);
        let count = entries.len() + 1;
        let mut list = EntryList {
            next: (1..=count as u32)
                .map(|next| if next as usize == count { NIL } else { next })
                .collect(),
            prev: (0..count as u32)
                .map(|index| index.wrapping_sub(1))
                .collect(),
            rank: vec![NIL; count],
            is_call: vec![false; count],
            position: vec![0; count],
            call_entry: vec![NIL; ok_ops.len()],
            return_entry: vec![NIL; ok_ops.len()],
        };
        list.prev[0] = NIL;
        for (offset, &(position, rank, is_call)) in entries.iter().enumerate() {
            let entry = offset + 1;
            list.rank[entry] = rank;
            list.is_call[entry] = is_call;
            list.position[entry] = position;
            if is_call {
                list.call_entry[rank as usize] = entry as u32;
            } else {
                list.return_entry[rank as usize] = entry as u32;
            }
        }
        list
    }

    fn unlink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = next;
        if next != NIL {
            self.prev[next as usize] = prev;
        }
    }

    fn relink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = entry;
        if next != NIL {
            self.prev[next as usize] = entry;
        }
    }

    /// Takes an operation's call and return out of the list.
    pub(super) fn lift(&mut self, rank: u32) {
        self.unlink(self.call_entry[rank as usize]);
        self.unlink(self.return_entry[rank as usize]);
    }

    /// Puts them back, in the reverse order ("dancing links").
    pub(super) fn unlift(&mut self, rank: u32) {
        self.relink(self.return_entry[rank as usize]);
        self.relink(self.call_entry[rank as usize]);
    }
}

/// Where the search looks for its next move. `bound` is the first return entry
/// in the list: the operation it belongs to must take effect before anything
/// invoked after it, so only calls before it are candidates.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    /// A configuration just entered: look for a read that must go now (rule 7)
    /// or one that never can (rule 8) before branching.
    Fresh { bound: u32 },
    /// Scanning the list for another `ok` operation to take effect.
    Entry { entry: u32, bound: u32 },
    /// Trying indeterminate operations invoked before `bound`; pass 0 tries those
    /// that let the bound's operation take effect next.
    Info { bound: u32, pass: u8, next: u32 },
    /// Nothing else needs trying here (rule 7): back out.
    Done,
    /// The `ok` operation of this rank can never take effect from here (rule 8):
    /// back out, naming it as what cannot be placed.
    Hopeless { rank: u32 },
}

/// A move on the search stack, what it replaced and where to resume after it.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// The `ok` rank, or the indeterminate operation's index.
    moved: u32,
    is_info: bool,
    resume: Cursor,
    previous_state: State,
    previous_max_rank: u32,
    previous_after_info: bool,
}

/// The first return entry in the list (the list always has one while an `ok`
/// operation remains, because every `ok` call has its return after it).
fn first_return(list: &EntryList) -> u32 {
    let mut entry = list.next[HEAD as usize];
    while list.is_call[entry as usize] {
        entry = list.next[entry as usize];
    }
    entry
}

/// Searches for a linearization of `ops` (partition-local, in invocation order).
/// Explores at most `limit.cap` configurations.
pub(crate) fn search<S: Spec>(
    spec: &mut S,
    ops: &[SearchOp],
    meter: &Meter,
    limit: Limit,
) -> (Outcome, Stats) {
    // Rank the `ok` operations and collect the indeterminate ones that can change
    // the state (rule 2).
    let mut ok_local = Vec::new();
    let mut ok_positions = Vec::new();
    let mut info_local = Vec::new();
    for (local, op) in ops.iter().enumerate() {
        match op.ret {
            Some(ret) => {
                ok_local.push(local);
                ok_positions.push((op.call, ret));
            }
            // Rule 6: indeterminate operations the model finds useless.
            None if spec.effect(local) != Effect::ReadOnly && !spec.useless(local) => {
                info_local.push(local)
            }
            None => {}
        }
    }
    let ok_count = ok_local.len();
    let mut stats = Stats::default();
    if ok_count == 0 {
        return (Outcome::Linearizable, stats);
    }
    let info_count = info_local.len();
    let info_call: Vec<usize> = info_local.iter().map(|&local| ops[local].call).collect();
    let info_blind: Vec<bool> = info_local
        .iter()
        .map(|&local| spec.effect(local) == Effect::BlindWrite)
        .collect();
    // Rule 4: each indeterminate operation's previous identical twin.
    let mut last_of_class = rustc_hash::FxHashMap::default();
    let twin: Vec<u32> = info_local
        .iter()
        .enumerate()
        .map(|(index, &local)| {
            last_of_class
                .insert(spec.class(local), index as u32)
                .unwrap_or(NIL)
        })
        .collect();

    let mut list = EntryList::new(&ok_positions);
    let mut linearized = vec![0u64; ok_count.div_ceil(64)];
    let mut applied = vec![0u64; info_count.div_ceil(64)];
    let mut cache = Cache::new();
    let mut key = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();

    let mut state = spec.initial();
    let mut remaining = ok_count;
    let mut max_rank = NIL;
    let mut after_info = false;
    // For rule 8: where each partition-local operation's "taken" bit lives.
    let mut slot_of = vec![(false, NIL); ops.len()];
    for (rank, &local) in ok_local.iter().enumerate() {
        slot_of[local] = (false, rank as u32);
    }
    for (index, &local) in info_local.iter().enumerate() {
        slot_of[local] = (true, index as u32);
    }
    let ok_read_only: Vec<bool> = ok_local
        .iter()
        .map(|&local| spec.effect(local) == Effect::ReadOnly)
        .collect();
    // For rule 8's look ahead: the `ok` reads in invocation order, and for
    // each list entry where in them the reads invoked after it begin. Built
    // only for a model that looks ahead: every search (and shrinking runs
    // many) would pay for it.
    let look_ahead = spec.look_ahead();
    let (future_reads, reads_after): (Vec<u32>, Vec<u32>) = if look_ahead == 0 {
        (Vec::new(), Vec::new())
    } else {
        let reads: Vec<u32> = (0..ok_count as u32)
            .filter(|&rank| ok_read_only[rank as usize])
            .collect();
        let after = list
            .position
            .iter()
            .map(|&position| {
                reads.partition_point(|&rank| ok_positions[rank as usize].0 < position) as u32
            })
            .collect();
        (reads, after)
    };
    let mut cursor = Cursor::Fresh {
        bound: first_return(&list),
    };

    // The deepest dead end, kept incrementally: `best_path` shares its first
    // `shared` moves with the current stack.
    let mut best_depth = None;
    let mut best_path: Vec<Move> = Vec::new();
    let mut shared = 0usize;
    let mut best_culprit = 0usize;

    let mut iterations = 0u64;
    let mut charged_bytes = 0usize;

    let build_key = |key: &mut Vec<u64>,
                     state: State,
                     after_info: bool,
                     first_rank: u32,
                     max_rank: u32,
                     linearized: &[u64],
                     applied: &[u64]| {
        key.clear();
        key.push(u64::from(state) << 1 | u64::from(after_info));
        key.push(u64::from(first_rank));
        let low = first_rank as usize / 64;
        let high = if max_rank == NIL || max_rank < first_rank {
            low
        } else {
            max_rank as usize / 64
        };
        key.extend_from_slice(&linearized[low..=high]);
        key.extend_from_slice(applied);
    };

    loop {
        iterations += 1;
        if iterations % CHECK_EVERY == 0 {
            let bytes =
                cache.bytes() + frames.capacity() * std::mem::size_of::<Frame>() + spec.bytes();
            let charged = meter.charge(bytes as isize - charged_bytes as isize);
            charged_bytes = bytes;
            stats.cache_bytes = stats.cache_bytes.max(bytes);
            if let Err(exhausted) = charged {
                meter_release(meter, charged_bytes);
                return (Outcome::Exhausted(exhausted), stats);
            }
            if limit.cancelled() {
                meter_release(meter, charged_bytes);
                return (Outcome::Cancelled, stats);
            }
        }
        if stats.configurations >= limit.cap {
            meter_release(meter, charged_bytes);
            return (Outcome::Capped, stats);
        }
        // The `ok` operation to try next, if the cursor points at one.
        let ok_candidate = match cursor {
            Cursor::Fresh { bound } => {
                // Rule 7: a read that matches the state is the only move needed.
                // Rule 8: a pending operation that can never succeed ends this branch.
                let mut entry = list.next[HEAD as usize];
                let mut forced = None;
                let mut hopeless = None;
                while entry != bound {
                    let rank = list.rank[entry as usize];
                    if list.is_call[entry as usize] {
                        let local = ok_local[rank as usize];
                        if ok_read_only[rank as usize] && spec.step(state, local).is_some() {
                            forced = Some(rank);
                            break;
                        }
                        let available = |other: usize| match slot_of[other] {
                            (_, NIL) => false,
                            (false, rank) => !bit(&linearized, rank as usize),
                            (true, index) => !bit(&applied, index as usize),
                        };
                        if spec.hopeless(state, local, &available) {
                            hopeless = Some(rank);
                            break;
                        }
                    }
                    entry = list.next[entry as usize];
                }
                // Rule 8 looks ahead too: the `ok` reads invoked after the bound
                // have not taken effect (nothing invoked after a pending return
                // can go yet), and each of them must take effect later.
                if forced.is_none() && hopeless.is_none() && look_ahead > 0 {
                    let first = reads_after[bound as usize] as usize;
                    let available = |other: usize| match slot_of[other] {
                        (_, NIL) => false,
                        (false, rank) => !bit(&linearized, rank as usize),
                        (true, index) => !bit(&applied, index as usize),
                    };
                    hopeless = future_reads[first..future_reads.len().min(first + look_ahead)]
                        .iter()
                        .copied()
                        .find(|&rank| spec.hopeless(state, ok_local[rank as usize], &available));
                }
                match forced {
                    _ if let Some(rank) = hopeless => {
                        cursor = Cursor::Hopeless { rank };
                        None
                    }
                    Some(rank) => {
                        cursor = Cursor::Done;
                        Some(rank)
                    }
                    None => {
                        cursor = Cursor::Entry {
                            entry: list.next[HEAD as usize],
                            bound,
                        };
                        None
                    }
                }
            }
            Cursor::Entry { entry, bound } if entry == bound => {
                // No `ok` operation can go first any more (rule 9).
                cursor = Cursor::Info {
                    bound,
                    pass: 0,
                    next: 0,
                };
                None
            }
            Cursor::Entry { entry, bound } => {
                cursor = Cursor::Entry {
                    entry: list.next[entry as usize],
                    bound,
                };
                let rank = list.rank[entry as usize];
                // A read that could go was taken by rule 7, so those left cannot.
                (!ok_read_only[rank as usize]).then_some(rank)
            }
            Cursor::Info { .. } | Cursor::Done | Cursor::Hopeless { .. } => None,
        };
        if let Some(rank) = ok_candidate {
            let Some(next_state) = spec.step(state, ok_local[rank as usize]) else {
                continue;
            };
            if remaining == 1 {
                stats.cache_bytes = stats.cache_bytes.max(cache.bytes());
                meter_release(meter, charged_bytes);
                return (Outcome::Linearizable, stats);
            }
            set_bit(&mut linearized, rank as usize);
            list.lift(rank);
            let next_max = if max_rank == NIL {
                rank
            } else {
                max_rank.max(rank)
            };
            let first = list.next[HEAD as usize];
            build_key(
                &mut key,
                next_state,
                false,
                list.rank[first as usize],
                next_max,
                &linearized,
                &applied,
            );
            if cache.insert(&key) {
                stats.configurations += 1;
                frames.push(Frame {
                    moved: rank,
                    is_info: false,
                    resume: cursor,
                    previous_state: state,
                    previous_max_rank: max_rank,
                    previous_after_info: after_info,
                });
                state = next_state;
                max_rank = next_max;
                after_info = false;
                remaining -= 1;
                cursor = Cursor::Fresh {
                    bound: first_return(&list),
                };
            } else {
                list.unlift(rank);
                clear_bit(&mut linearized, rank as usize);
            }
            continue;
        }
        let (bound, pass, next) = match cursor {
            Cursor::Info { bound, pass, next } => (bound, pass, next),
            Cursor::Done | Cursor::Hopeless { .. } => (first_return(&list), 1, u32::MAX),
            _ => continue,
        };
        let bound_position = list.position[bound as usize];
        let blocked = ok_local[list.rank[bound as usize] as usize];
        // What cannot be placed here: the operation that can never take effect,
        // else the one whose return comes first.
        let culprit = match cursor {
            Cursor::Hopeless { rank } => ok_local[rank as usize],
            _ => blocked,
        };
        let mut found = None;
        let mut index = next as usize;
        while index < info_count && info_call[index] < bound_position {
            let eligible = !bit(&applied, index)
                && (twin[index] == NIL || bit(&applied, twin[index] as usize))
                && !(after_info && info_blind[index]);
            if eligible
                && let Some(next_state) = spec.step(state, info_local[index])
                && next_state != state
            {
                let enables = spec.step(next_state, blocked).is_some();
                if enables == (pass == 0) {
                    found = Some((index, next_state));
                    break;
                }
            }
            index += 1;
        }
        match found {
            Some((index, next_state)) => {
                cursor = Cursor::Info {
                    bound,
                    pass,
                    next: index as u32 + 1,
                };
                set_bit(&mut applied, index);
                let first = list.next[HEAD as usize];
                build_key(
                    &mut key,
                    next_state,
                    true,
                    list.rank[first as usize],
                    max_rank,
                    &linearized,
                    &applied,
                );
                if cache.insert(&key) {
                    stats.configurations += 1;
                    frames.push(Frame {
                        moved: index as u32,
                        is_info: true,
                        resume: cursor,
                        previous_state: state,
                        previous_max_rank: max_rank,
                        previous_after_info: after_info,
                    });
                    state = next_state;
                    after_info = true;
                    // The list did not change, so neither did the bound.
                    cursor = Cursor::Fresh { bound };
                } else {
                    clear_bit(&mut applied, index);
                }
                continue;
            }
            None if pass == 0 => {
                cursor = Cursor::Info {
                    bound,
                    pass: 1,
                    next: 0,
                };
                continue;
            }
            None => {}
        }
        // Nothing more to try here: remember the deepest point, then back out.
        let depth = ok_count - remaining;
        if best_depth.is_none_or(|best| depth > best) {
            best_depth = Some(depth);
            best_path.truncate(shared);
            best_path.extend(frames[shared..].iter().map(|frame| {
                if frame.is_info {
                    info_local[frame.moved as usize]
                } else {
                    ok_local[frame.moved as usize]
                }
            }));
            shared = frames.len();
            best_culprit = culprit;
        }
        let Some(frame) = frames.pop() else {
            stats.cache_bytes = stats.cache_bytes.max(cache.bytes());
            meter_release(meter, charged_bytes);
            let dead_end = DeadEnd {
                path: best_path,
                culprit: best_culprit,
            };
            return (Outcome::NotLinearizable(dead_end), stats);
        };
        shared = shared.min(frames.len());
        state = frame.previous_state;
        max_rank = frame.previous_max_rank;
        after_info = frame.previous_after_info;
        if frame.is_info {
            clear_bit(&mut applied, frame.moved as usize);
        } else {
            list.unlift(frame.moved);
            clear_bit(&mut linearized, frame.moved as usize);
            remaining += 1;
        }
        cursor = frame.resume;
    }
}

/// Gives back what this search charged to the shared memory budget.
fn meter_release(meter: &Meter, charged_bytes: usize) {
    let _ = meter.charge(-(charged_bytes as isize));
}
