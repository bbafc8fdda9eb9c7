//! Porcupine's kv model, one key at a time: `get` / `put` / `append` on a string
//! that starts empty. (`read` / `write` are accepted as `get` / `put`.)

use super::{Effect, OpView, Spec, State};
use histories::History;
use rustc_hash::FxHashMap;
use serde_json::Value;

enum KvOp {
    /// A get that returned the string with this id.
    Get(u32),
    UnknownGet,
    Put(u32),
    /// Appends the string with this id.
    Append(u32),
}

pub(crate) struct KvSpec {
    initial: u32,
    strings: Vec<String>,
    ids: FxHashMap<String, u32>,
    /// (state, appended string) → state, so each concatenation is done once.
    appended: FxHashMap<(u32, u32), u32>,
    ops: Vec<KvOp>,
    /// Bytes of interned strings (each is held twice: list and index).
    string_bytes: usize,
    /// For each get, the puts whose value begins its result: the only ways to
    /// reach it other than appending to the current string.
    restarts: Vec<Vec<usize>>,
}

impl KvSpec {
    pub(super) fn compile(
        initial: Option<&Value>,
        history: &History,
        operations: &[usize],
    ) -> Result<KvSpec, (usize, String)> {
        let mut spec = KvSpec {
            initial: 0,
            strings: Vec::new(),
            ids: FxHashMap::default(),
            appended: FxHashMap::default(),
            ops: Vec::with_capacity(operations.len()),
            restarts: Vec::new(),
            string_bytes: 0,
        };
        let initial = match initial {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        spec.initial = spec.intern(initial);
        for &index in operations {
            let view = OpView::of(history, &history.operations[index]);
            let text = |value: &Value| -> Result<String, (usize, String)> {
                match value {
                    Value::String(text) => Ok(text.clone()),
                    // A missing key reads as the empty string, as in Porcupine's kv.
                    Value::Null => Ok(String::new()),
                    other => Err((
                        index,
                        format!("kv value {other} is not a string; expected a string"),
                    )),
                }
            };
            let op = match (view.f, view.output) {
                ("get" | "read", Some(output)) => KvOp::Get(spec.intern(text(output)?)),
                ("get" | "read", None) => KvOp::UnknownGet,
                ("put" | "write", _) => KvOp::Put(spec.intern(text(view.input)?)),
                ("append", _) => KvOp::Append(spec.intern(text(view.input)?)),
                (f, _) => {
                    return Err((
                        index,
                        format!(
                            "operation `{f}` is not part of the kv model; expected get, put or append"
                        ),
                    ));
                }
            };
            spec.ops.push(op);
        }
        let puts: Vec<(usize, &str)> = spec
            .ops
            .iter()
            .enumerate()
            .filter_map(|(local, op)| match op {
                KvOp::Put(value) => Some((local, spec.strings[*value as usize].as_str())),
                _ => None,
            })
            .collect();
        let restarts = spec
            .ops
            .iter()
            .map(|op| match op {
                KvOp::Get(value) => {
                    let read = spec.strings[*value as usize].as_str();
                    puts.iter()
                        .filter(|(_, put)| read.starts_with(put))
                        .map(|(local, _)| *local)
                        .collect()
                }
                _ => Vec::new(),
            })
            .collect();
        spec.restarts = restarts;
        Ok(spec)
    }

    fn intern(&mut self, text: String) -> u32 {
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.string_bytes += 2 * (text.len() + 24) + 16;
        self.strings.push(text.clone());
        self.ids.insert(text, id);
        id
    }
}

impl Spec for KvSpec {
    fn initial(&self) -> State {
        self.initial
    }

    fn step(&mut self, state: State, op: usize) -> Option<State> {
        match self.ops[op] {
            KvOp::Get(value) => (state == value).then_some(state),
            KvOp::UnknownGet => Some(state),
            KvOp::Put(value) => Some(value),
            KvOp::Append(suffix) => {
                if let Some(&next) = self.appended.get(&(state, suffix)) {
                    return Some(next);
                }
                let joined = format!(
                    "{}{}",
                    self.strings[state as usize], self.strings[suffix as usize]
                );
                let next = self.intern(joined);
                self.appended.insert((state, suffix), next);
                Some(next)
            }
        }
    }

    fn effect(&self, op: usize) -> Effect {
        match self.ops[op] {
            KvOp::Get(_) | KvOp::UnknownGet => Effect::ReadOnly,
            KvOp::Put(_) => Effect::BlindWrite,
            KvOp::Append(_) => Effect::Update,
        }
    }

    fn class(&self, op: usize) -> u64 {
        match self.ops[op] {
            KvOp::Get(value) => u64::from(value),
            KvOp::UnknownGet => 1 << 62,
            KvOp::Put(value) => (1 << 60) | u64::from(value),
            KvOp::Append(value) => (2 << 60) | u64::from(value),
        }
    }

    /// Appends only extend the string, so a get whose result does not start
    /// with the current string can only succeed after a put; if no put that
    /// begins its result is still available, it never can.
    fn hopeless(&self, state: State, op: usize, available: &dyn Fn(usize) -> bool) -> bool {
        match self.ops[op] {
            KvOp::Get(value) => {
                !self.strings[value as usize].starts_with(self.strings[state as usize].as_str())
                    && !self.restarts[op].iter().any(|&put| available(put))
            }
            _ => false,
        }
    }

    /// Appends only extend the string: a state that is no prefix of a later
    /// get's result rules it out for good, and often many at once.
    fn look_ahead(&self) -> usize {
        8
    }

    fn rejection(&self, state: State, op: usize) -> String {
        match self.ops[op] {
            KvOp::Get(value) => format!(
                "it read {:?}, but the key holds {:?}",
                self.strings[value as usize], self.strings[state as usize]
            ),
            _ => "it cannot be refused by a kv store".to_string(),
        }
    }

    fn describe_state(&self, state: State) -> String {
        format!("{:?}", self.strings[state as usize])
    }

    fn bytes(&self) -> usize {
        self.string_bytes + self.appended.capacity() * 16
    }
}
