//! The weak-model checkers against the examples of Bouajjani et al. (POPL
//! 2017, Figure 2), named session-guarantee violations, and brute-force
//! oracles written from the definitions, on random small histories — uniform
//! ones and those of simulated sequentially consistent, causal and eventually
//! consistent stores. Every verdict must also respect the hierarchy.

use checkers::linearizable::{self, Options};
use checkers::weak::{self, MODELS, WeakVerdict};
use checkers::{Budget, ModelKind, Validity};
use histories::{History, HistoryBuilder};
use proptest::prelude::*;
use serde_json::json;

/// One operation: (is a write, key, value); value 0 is the initial value.
type Mop = (bool, usize, u64);
/// Sessions of operations, and the order they ran in (session, position).
#[derive(Debug, Clone)]
struct Spec {
    sessions: Vec<Vec<Mop>>,
    order: Vec<(usize, usize)>,
}

impl Spec {
    /// Sessions run one after another.
    fn serial(sessions: Vec<Vec<Mop>>) -> Spec {
        let order = sessions
            .iter()
            .enumerate()
            .flat_map(|(s, ops)| (0..ops.len()).map(move |i| (s, i)))
            .collect();
        Spec { sessions, order }
    }

    fn history(&self) -> History {
        let mut builder = HistoryBuilder::new();
        for &(session, position) in &self.order {
            let (write, key, value) = self.sessions[session][position];
            let value = if value == 0 {
                json!(null)
            } else {
                json!(value)
            };
            builder = builder.key(format!("k{key}"));
            let process = session as u64;
            builder = if write {
                builder
                    .invoke(process, "write", value.clone())
                    .ok(process, "write", value)
            } else {
                builder
                    .invoke(process, "read", json!(null))
                    .ok(process, "read", value)
            };
        }
        builder.build().unwrap()
    }
}

fn w(key: usize, value: u64) -> Mop {
    (true, key, value)
}

fn r(key: usize, value: u64) -> Mop {
    (false, key, value)
}

fn verdicts(history: &History) -> Vec<WeakVerdict> {
    weak::check(history, &MODELS, &Budget::default())
}

fn of<'a>(verdicts: &'a [WeakVerdict], model: &str) -> &'a WeakVerdict {
    verdicts.iter().find(|v| v.model == model).unwrap()
}

/// Asserts each model's verdict (true: valid), and the pattern of some.
fn expect(sessions: Vec<Vec<Mop>>, expected: &[(&str, bool, Option<&str>)]) {
    let found = verdicts(&Spec::serial(sessions).history());
    for &(model, valid, pattern) in expected {
        let verdict = of(&found, model);
        let want = if valid {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        assert_eq!(verdict.valid, want, "{model}: {verdict:#?}");
        if let Some(pattern) = pattern {
            let witness = verdict.witness.as_ref().unwrap();
            assert_eq!(witness.pattern, pattern, "{model}: {}", witness.explanation);
            assert!(!witness.explanation.is_empty());
        }
    }
}

const X: usize = 0;
const Y: usize = 1;
const Z: usize = 2;

#[test]
fn figure_2a_is_causal_but_not_convergent() {
    // weak.md §3.3's example too: under one global arbitration order it breaks
    // read-your-writes; as clients see it (each read returns a write its
    // session knew nothing newer than) every session guarantee holds, which is
    // the flavour faultline checks — CC implies all four.
    expect(
        vec![vec![w(X, 1), r(X, 2)], vec![w(X, 2), r(X, 1)]],
        &[
            ("causal-cc", true, None),
            ("causal-cm", true, None),
            ("causal-ccv", false, Some("CyclicCF")),
            ("sequential", false, None),
            ("read-your-writes", true, None),
            ("monotonic-reads", true, None),
            ("monotonic-writes", true, None),
            ("writes-follow-reads", true, None),
        ],
    );
}

#[test]
fn figure_2b_is_convergent_but_not_causal_memory() {
    expect(
        vec![
            vec![w(Z, 1), w(X, 1), w(Y, 1)],
            vec![w(X, 2), r(Z, 0), r(Y, 1), r(X, 2)],
        ],
        &[
            ("causal-cc", true, None),
            ("causal-cm", false, Some("WriteHBInitRead")),
            ("causal-ccv", true, None),
            ("sequential", false, None),
        ],
    );
}

#[test]
fn figure_2c_is_only_weakly_causal() {
    expect(
        vec![vec![w(X, 1)], vec![w(X, 2), r(X, 1), r(X, 2)]],
        &[
            ("causal-cc", true, None),
            ("causal-cm", false, Some("CyclicHB")),
            ("causal-ccv", false, Some("CyclicCF")),
            ("sequential", false, None),
        ],
    );
}

#[test]
fn figure_2d_is_causal_in_every_variant_but_not_sequential() {
    expect(
        vec![
            vec![w(X, 1), r(Y, 0), w(Y, 1), r(X, 1)],
            vec![w(X, 2), r(Y, 0), w(Y, 2), r(X, 2)],
        ],
        &[
            ("causal-cc", true, None),
            ("causal-cm", true, None),
            ("causal-ccv", true, None),
            ("sequential", false, Some("WriteOrderCycle")),
        ],
    );
}

#[test]
fn figure_2e_breaks_even_weak_causality() {
    expect(
        vec![
            vec![w(X, 1), w(Y, 1)],
            vec![r(Y, 1), w(X, 2)],
            vec![r(X, 2), r(X, 1)],
        ],
        &[
            ("causal-cc", false, Some("WriteCORead")),
            ("causal-cm", false, None),
            ("causal-ccv", false, None),
            ("sequential", false, None),
        ],
    );
}

#[test]
fn store_buffering_is_causal_but_not_sequential() {
    // Each key alone is sequential; together they are not.
    expect(
        vec![vec![w(X, 1), r(Y, 0)], vec![w(Y, 1), r(X, 0)]],
        &[("causal-ccv", true, None), ("sequential", false, None)],
    );
}

#[test]
fn a_client_not_reading_its_own_write() {
    expect(
        vec![vec![w(X, 1), r(X, 0)]],
        &[
            ("read-your-writes", false, Some("read-your-writes")),
            ("monotonic-reads", true, None),
            ("causal-cc", false, Some("WriteCOInitRead")),
        ],
    );
}

#[test]
fn a_client_reading_backwards() {
    // p1 sees 2 (written after 1 by p0), then 1 again.
    expect(
        vec![vec![w(X, 1), w(X, 2)], vec![r(X, 2), r(X, 1)]],
        &[
            ("monotonic-reads", false, Some("monotonic-reads")),
            ("read-your-writes", true, None),
            ("causal-cc", false, Some("WriteCORead")),
        ],
    );
}

#[test]
fn writes_seen_out_of_their_order() {
    // p0 writes x then y; p1 sees y but then misses x.
    expect(
        vec![vec![w(X, 1), w(Y, 1)], vec![r(Y, 1), r(X, 0)]],
        &[
            ("monotonic-writes", false, Some("monotonic-writes")),
            ("monotonic-reads", true, None),
            ("read-your-writes", true, None),
            ("writes-follow-reads", true, None),
        ],
    );
}

#[test]
fn a_write_seen_without_what_it_followed() {
    // p1 read x = 1, then wrote y; p2 sees that y but not x = 1.
    expect(
        vec![
            vec![w(X, 1)],
            vec![r(X, 1), w(Y, 1)],
            vec![r(Y, 1), r(X, 0)],
        ],
        &[
            ("writes-follow-reads", false, Some("writes-follow-reads")),
            ("monotonic-writes", true, None),
            ("monotonic-reads", true, None),
        ],
    );
}

#[test]
fn repeated_values_and_foreign_operations_are_unknown() {
    let twice = Spec::serial(vec![vec![w(X, 1)], vec![w(X, 1)]]).history();
    for verdict in verdicts(&twice) {
        assert_eq!(verdict.valid, Validity::Unknown, "{verdict:#?}");
        assert!(verdict.reason.unwrap().contains("twice"));
    }
}

// ---------------------------------------------------------------------------
// Oracles, from the definitions, for histories of a few operations.

struct Facts {
    ops: Vec<(usize, Mop)>,
    /// Each read's source: Some(op) or None for the initial value; thin air
    /// reads have `Err(())`.
    source: Vec<Option<Result<Option<usize>, ()>>>,
    /// co[a][b]: a strictly before b in (so ∪ rf)+.
    co: Vec<Vec<bool>>,
    /// so[a][b]: a before b in the same session.
    so: Vec<Vec<bool>>,
}

impl Facts {
    fn of(spec: &Spec) -> Facts {
        let ops: Vec<(usize, Mop)> = spec
            .sessions
            .iter()
            .enumerate()
            .flat_map(|(s, ops)| ops.iter().map(move |&op| (s, op)))
            .collect();
        let n = ops.len();
        let source = ops
            .iter()
            .map(|&(_, (write, key, value))| {
                (!write).then(|| {
                    if value == 0 {
                        return Ok(None);
                    }
                    ops.iter()
                        .position(|&(_, other)| other == (true, key, value))
                        .map(Some)
                        .ok_or(())
                })
            })
            .collect::<Vec<_>>();
        let mut so = vec![vec![false; n]; n];
        for a in 0..n {
            for b in a + 1..n {
                so[a][b] = ops[a].0 == ops[b].0;
            }
        }
        let mut co = so.clone();
        for (b, source) in source.iter().enumerate() {
            if let Some(Ok(Some(a))) = source {
                co[*a][b] = true;
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if co[i][k] && co[k][j] {
                        co[i][j] = true;
                    }
                }
            }
        }
        Facts {
            ops,
            source,
            co,
            so,
        }
    }

    fn cyclic(&self) -> bool {
        (0..self.ops.len()).any(|a| self.co[a][a])
    }

    /// Whether some order of `set` extending `co` makes `legal` hold.
    fn some_order(&self, set: &[usize], legal: &dyn Fn(&[usize]) -> bool) -> bool {
        fn go(
            facts: &Facts,
            left: &mut Vec<usize>,
            order: &mut Vec<usize>,
            legal: &dyn Fn(&[usize]) -> bool,
        ) -> bool {
            if left.is_empty() {
                return legal(order);
            }
            for i in 0..left.len() {
                let next = left[i];
                if left
                    .iter()
                    .any(|&other| other != next && facts.co[other][next])
                {
                    continue;
                }
                left.remove(i);
                order.push(next);
                let found = go(facts, left, order, legal);
                order.pop();
                left.insert(i, next);
                if found {
                    return true;
                }
            }
            false
        }
        go(self, &mut set.to_vec(), &mut Vec::new(), legal)
    }

    /// Whether read `read` returns the last write to its key before it in
    /// `order` (the initial value if none).
    fn returns(&self, order: &[usize], read: usize) -> bool {
        let at = order.iter().position(|&o| o == read).unwrap();
        let (_, (_, key, value)) = self.ops[read];
        let last = order[..at]
            .iter()
            .rev()
            .find(|&&o| self.ops[o].1.0 && self.ops[o].1.1 == key);
        match last {
            None => value == 0,
            Some(&o) => self.ops[o].1.2 == value,
        }
    }

    fn reads(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.ops.len()).filter(|&o| !self.ops[o].1.0)
    }

    fn past(&self, of: usize) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&o| self.co[o][of] || o == of)
            .collect()
    }

    fn sequential(&self) -> bool {
        if self.cyclic() {
            return false;
        }
        // Session order only: co here would add reads-from, which SC implies.
        let all: Vec<usize> = (0..self.ops.len()).collect();
        self.some_order(&all, &|order| {
            self.reads().all(|read| self.returns(order, read))
        })
    }

    fn cc(&self) -> bool {
        !self.cyclic()
            && self
                .reads()
                .all(|read| self.some_order(&self.past(read), &|order| self.returns(order, read)))
    }

    fn cm(&self) -> bool {
        if self.cyclic() {
            return false;
        }
        let sessions = self.ops.iter().map(|op| op.0).max().map_or(0, |s| s + 1);
        (0..sessions).all(|session| {
            let mine: Vec<usize> = (0..self.ops.len())
                .filter(|&o| self.ops[o].0 == session)
                .collect();
            let Some(&last) = mine.last() else {
                return true;
            };
            let set = self.past(last);
            self.some_order(&set, &|order| {
                mine.iter()
                    .filter(|&&o| !self.ops[o].1.0)
                    .all(|&read| self.returns(order, read))
            })
        })
    }

    fn ccv(&self) -> bool {
        if self.cyclic() {
            return false;
        }
        let all: Vec<usize> = (0..self.ops.len()).collect();
        self.some_order(&all, &|arb| {
            self.reads().all(|read| {
                let (_, (_, key, value)) = self.ops[read];
                let last = arb
                    .iter()
                    .rev()
                    .find(|&&o| self.ops[o].1.0 && self.ops[o].1.1 == key && self.co[o][read]);
                match last {
                    None => value == 0,
                    Some(&o) => self.ops[o].1.2 == value,
                }
            })
        })
    }

    /// The session guarantees as weak.md §3.5 shapes them: a read `r` whose
    /// source is older than a write `w2` of its key that its session knew of.
    fn session(&self, guarantee: &str) -> bool {
        let n = self.ops.len();
        let older = |read: usize, w2: usize| -> bool {
            match self.source[read] {
                Some(Ok(None)) => true,
                Some(Ok(Some(w1))) => w1 != w2 && self.co[w1][w2],
                _ => false,
            }
        };
        let key = |o: usize| self.ops[o].1.1;
        let write = |o: usize| self.ops[o].1.0;
        let src = |o: usize| match self.source[o] {
            Some(Ok(Some(w))) => Some(w),
            _ => None,
        };
        !self.reads().any(|r| {
            (0..n).any(|w2| {
                if !write(w2) || key(w2) != key(r) || !older(r, w2) {
                    return false;
                }
                match guarantee {
                    "read-your-writes" => self.so[w2][r],
                    "monotonic-reads" => (0..n).any(|r1| {
                        !write(r1) && self.so[r1][r] && key(r1) == key(r) && src(r1) == Some(w2)
                    }),
                    "monotonic-writes" => (0..n).any(|r1| {
                        !write(r1)
                            && self.so[r1][r]
                            && src(r1).is_some_and(|w_seen| self.so[w2][w_seen])
                    }),
                    _ => (0..n).any(|r1| {
                        !write(r1)
                            && self.so[r1][r]
                            && src(r1).is_some_and(|w_seen| {
                                (0..n).any(|r0| {
                                    !write(r0)
                                        && self.so[r0][w_seen]
                                        && key(r0) == key(r)
                                        && src(r0) == Some(w2)
                                })
                            })
                    }),
                }
            })
        })
    }
}

// ---------------------------------------------------------------------------
// Random small histories.

struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound.max(1) as u64) as usize
    }
}

/// A history: `kind` 0 uniform, 1 a sequential store, 2 a causal store
/// (per-session replicas, causal delivery), 3 an eventually consistent one
/// (any delivery order), 4 a lagging one (reads return any earlier value), 5
/// the lagging one on the shapes that monotonic writes and writes-follow-reads
/// need.
fn generate(kind: u8, seed: u64) -> Spec {
    let mut rng = Rng(seed);
    // Replicated stores get three sessions of two or three operations, the
    // least that writes-follow-reads needs to show.
    let (sessions, shortest) = if kind >= 2 {
        (3, 2)
    } else {
        (2 + rng.below(2), 1)
    };
    let lengths: Vec<usize> = (0..sessions)
        .map(|_| shortest + rng.below(4 - shortest))
        .collect();
    let keys = 2;
    let mut next_value = 0u64;
    let mut plan: Vec<Vec<Mop>> = if kind == 5 {
        // The shapes monotonic writes and writes-follow-reads need, on random
        // keys, with values as the lagging store gives them.
        let (a, b) = (rng.below(keys), rng.below(keys));
        let mut pick = |values: [u64; 2]| values[rng.below(2)];
        let (fresh, stale) = (pick([2, 0]), pick([1, 0]));
        let (seen, last) = (pick([1, 0]), pick([2, 0]));
        let shapes = [
            vec![vec![w(a, 1), w(b, 2)], vec![r(b, fresh), r(a, stale)]],
            vec![
                vec![w(a, 1)],
                vec![r(a, seen), w(b, 2)],
                vec![r(b, last), r(a, stale)],
            ],
        ];
        let mut shape = shapes[rng.below(2)].clone();
        // Values must name a write of their key: keys may coincide.
        for op in shape.iter_mut().flatten() {
            if !op.0 && op.2 != 0 && !(op.1 == a && op.2 == 1 || op.1 == b && op.2 == 2) {
                op.2 = 0;
            }
        }
        shape
    } else {
        lengths
            .iter()
            .map(|&length| {
                (0..length)
                    .map(|_| {
                        let key = rng.below(keys);
                        if rng.below(2) == 0 {
                            next_value += 1;
                            w(key, next_value)
                        } else {
                            r(key, 0)
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let lengths: Vec<usize> = plan.iter().map(Vec::len).collect();
    let sessions = plan.len();
    // The order operations run in: a random interleaving of the sessions.
    let mut order = Vec::new();
    let mut at = vec![0; sessions];
    while order.len() < lengths.iter().sum() {
        let session = rng.below(sessions);
        if at[session] < lengths[session] {
            order.push((session, at[session]));
            at[session] += 1;
        }
    }
    let written: Vec<(usize, u64)> = plan
        .iter()
        .flatten()
        .filter(|op| op.0)
        .map(|op| (op.1, op.2))
        .collect();
    match kind {
        5 => {}
        4 => {
            // A lagging store: a read returns one of the key's values so far,
            // the current one half the time.
            let mut history: Vec<Vec<u64>> = vec![vec![0]; keys];
            for &(session, position) in &order {
                let op = &mut plan[session][position];
                if op.0 {
                    history[op.1].push(op.2);
                } else {
                    let values = &history[op.1];
                    op.2 = if rng.below(2) == 0 {
                        *values.last().unwrap()
                    } else {
                        values[rng.below(values.len())]
                    };
                }
            }
        }
        0 => {
            for &(session, position) in &order {
                let op = &mut plan[session][position];
                if !op.0 {
                    let choices: Vec<u64> = written
                        .iter()
                        .filter(|(key, _)| *key == op.1)
                        .map(|(_, value)| *value)
                        .chain([0])
                        .collect();
                    op.2 = choices[rng.below(choices.len())];
                }
            }
        }
        _ => {
            // Replica per session: (key → (value, writer's dependencies)).
            // Writes carry the set of writes their session had seen.
            let mut state: Vec<Vec<u64>> = vec![vec![0; keys]; sessions];
            let mut seen: Vec<Vec<u64>> = vec![Vec::new(); sessions];
            let mut deps: std::collections::HashMap<u64, Vec<u64>> = Default::default();
            let mut pending: Vec<Vec<(usize, u64)>> = vec![Vec::new(); sessions];
            for &(session, position) in &order {
                // Deliver some pending writes first.
                if kind == 1 {
                    // A sequential store: every write is everywhere at once.
                } else {
                    let mut tries = rng.below(3);
                    while tries > 0 && !pending[session].is_empty() {
                        tries -= 1;
                        let pick = rng.below(pending[session].len());
                        let (key, value) = pending[session][pick];
                        let ready =
                            kind == 3 || deps[&value].iter().all(|dep| seen[session].contains(dep));
                        if ready {
                            pending[session].remove(pick);
                            state[session][key] = value;
                            seen[session].push(value);
                        }
                    }
                }
                let op = &mut plan[session][position];
                if op.0 {
                    let (key, value) = (op.1, op.2);
                    deps.insert(value, seen[session].clone());
                    if kind == 1 {
                        for replica in state.iter_mut() {
                            replica[key] = value;
                        }
                    } else {
                        state[session][key] = value;
                        seen[session].push(value);
                        for (other, queue) in pending.iter_mut().enumerate() {
                            if other != session {
                                queue.push((key, value));
                            }
                        }
                    }
                } else {
                    op.2 = state[session][op.1];
                    if op.2 != 0 && !seen[session].contains(&op.2) {
                        seen[session].push(op.2);
                    }
                }
            }
        }
    }
    Spec {
        sessions: plan,
        order,
    }
}

fn oracle(spec: &Spec, model: &str) -> Option<bool> {
    let facts = Facts::of(spec);
    Some(match model {
        "sequential" => facts.sequential(),
        "causal-cc" => facts.cc(),
        "causal-cm" => facts.cm(),
        "causal-ccv" => facts.ccv(),
        guarantee => {
            if facts.cyclic() {
                return None;
            }
            facts.session(guarantee)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn each_model_agrees_with_its_oracle(kind in 0u8..6, seed in any::<u64>()) {
        let spec = generate(kind, seed);
        let history = spec.history();
        let found = verdicts(&history);
        for verdict in &found {
            let expected = match oracle(&spec, &verdict.model) {
                Some(true) => Validity::Valid,
                Some(false) => Validity::Invalid,
                None => Validity::Unknown,
            };
            prop_assert_eq!(verdict.valid, expected, "{} on {:?}: {:#?}", verdict.model, spec.sessions, verdict);
        }
        // The hierarchy: a stronger model valid ⇒ the weaker ones valid.
        let valid = |model: &str| of(&found, model).valid == Validity::Valid;
        let implies = [
            ("sequential", "causal-ccv"),
            ("sequential", "causal-cm"),
            ("causal-ccv", "causal-cc"),
            ("causal-cm", "causal-cc"),
            ("causal-cc", "read-your-writes"),
            ("causal-cc", "monotonic-reads"),
            ("causal-cc", "monotonic-writes"),
            ("causal-cc", "writes-follow-reads"),
        ];
        for (strong, weak) in implies {
            prop_assert!(!valid(strong) || valid(weak), "{} but not {}: {:?}", strong, weak, spec.sessions);
        }
        let linearizable = linearizable::check(&history, &Options::new(ModelKind::CasRegister)).unwrap();
        prop_assert!(linearizable.valid != Validity::Valid || valid("sequential"));
    }
}

#[test]
fn the_random_histories_cover_every_verdict() {
    use std::collections::BTreeMap;
    let mut tally: BTreeMap<(&str, bool), usize> = BTreeMap::new();
    for seed in 0..10_000u64 {
        let spec = generate((seed % 6) as u8, seed * 7919);
        for model in MODELS {
            if let Some(valid) = oracle(&spec, model) {
                *tally.entry((model, valid)).or_insert(0) += 1;
            }
        }
    }
    for model in MODELS {
        for valid in [true, false] {
            assert!(
                tally.get(&(model, valid)).copied().unwrap_or(0) >= 30,
                "{model} {valid}: {tally:?}"
            );
        }
    }
}

#[test]
fn an_uncertain_write_seen_only_through_an_uncertain_cas_happened() {
    // p0's write of 1 and p1's cas 1 → 2 both time out; p2 reads 2. The cas
    // happened, so it read 1, so the write of 1 happened too.
    let history = HistoryBuilder::new()
        .key("x")
        .invoke(0, "write", json!(1))
        .info(0, "write", json!(1))
        .invoke(1, "cas", json!([1, 2]))
        .info(1, "cas", json!([1, 2]))
        .invoke(2, "read", json!(null))
        .ok(2, "read", json!(2))
        .build()
        .unwrap();
    for verdict in verdicts(&history) {
        assert_eq!(verdict.valid, Validity::Valid, "{verdict:#?}");
    }
}

/// Each analysis runs only when a model asked for needs it, and none when the
/// history is known to be linearizable (proved by counting the analyses run,
/// not by timing them).
#[test]
fn only_the_analyses_the_models_need_run() {
    // p0 writes 1, p1 reads it, then reads the initial value: several models break.
    let history = Spec::serial(vec![vec![w(0, 1)], vec![r(0, 1), r(0, 0)]]).history();
    let budget = Budget::default();
    let run = |models: &[&str], linearizable: bool| {
        weak::work::take();
        let verdicts = weak::check_given(&history, models, &budget, linearizable);
        assert_eq!(verdicts.len(), models.len());
        weak::work::take().into_keys().collect::<Vec<_>>()
    };
    assert!(run(&[], false).is_empty());
    assert_eq!(
        run(&["read-your-writes"], false),
        ["clocks", "ops", "sessions"]
    );
    assert_eq!(run(&["causal-cc"], false), ["causal-cc", "clocks", "ops"]);
    assert_eq!(
        run(&["causal-ccv"], false),
        ["causal-cc", "clocks", "ops"],
        "CC's pattern already breaks CCv"
    );
    assert!(run(&MODELS, true).is_empty());
    // A valid history: every model's own analysis runs when asked.
    let valid = Spec::serial(vec![vec![w(0, 1)], vec![r(0, 1)]]).history();
    weak::work::take();
    let verdicts = weak::check_given(&valid, &MODELS, &budget, false);
    assert!(
        verdicts
            .iter()
            .all(|verdict| verdict.valid == Validity::Valid)
    );
    assert_eq!(
        weak::work::take().into_keys().collect::<Vec<_>>(),
        [
            "causal-cc",
            "causal-ccv",
            "causal-cm",
            "clocks",
            "ops",
            "sequential",
            "sessions"
        ]
    );
}
