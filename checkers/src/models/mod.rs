//! Sequential specifications: what a single-threaded store would answer.
//!
//! A model compiles the operations of one partition (one key) into a [`Spec`]
//! over small integer states, so that the search compares and hashes `u32`s
//! instead of JSON values or strings.

mod kv;
mod mutex;
mod register;

use histories::{History, Operation};
use serde_json::Value;
use thiserror::Error;

/// A model state, interned by the spec.
pub(crate) type State = u32;

/// How an operation can change the state; the search uses it to skip work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Never changes the state (a read). Indeterminate ones constrain nothing.
    ReadOnly,
    /// Sets the state regardless of what it was (a write, a put).
    BlindWrite,
    /// Anything else (cas, append, acquire, release).
    Update,
}

/// A compiled partition: the sequential specification of its operations.
pub(crate) trait Spec {
    /// The state before any operation.
    fn initial(&self) -> State;
    /// The state after `op` (a partition-local index) takes effect in `state`,
    /// or `None` if it cannot take effect there. An operation whose outcome is
    /// unknown returns the state unchanged where it could have no visible effect
    /// (a cas whose compare fails).
    fn step(&mut self, state: State, op: usize) -> Option<State>;
    /// How `op` can change the state.
    fn effect(&self, op: usize) -> Effect;
    /// Operations with equal classes have identical effects when their outcome is
    /// unknown, so the search may treat them as interchangeable.
    fn class(&self, op: usize) -> u64;
    /// Whether `op`, a read, can never take effect in `state` nor in any state
    /// the operations still `available` (not yet taken) can lead to. Used to
    /// back out early.
    fn hopeless(&self, _state: State, _op: usize, _available: &dyn Fn(usize) -> bool) -> bool {
        false
    }
    /// How many `ok` reads invoked after the first pending return the search
    /// also asks `hopeless` about: worth it where one state rules out many
    /// later reads at once (a kv string that is no prefix of what they read),
    /// not where the check costs more than it prunes (a register).
    fn look_ahead(&self) -> usize {
        0
    }
    /// Whether `op`, an indeterminate operation, can never help a linearization:
    /// taking it only ever leads where leaving it out leads too.
    fn useless(&self, _op: usize) -> bool {
        false
    }
    /// Why `op` cannot take effect in `state`, in plain words.
    fn rejection(&self, state: State, op: usize) -> String;
    /// A state, for people.
    fn describe_state(&self, state: State) -> String;
    /// Bytes held for interned states, charged to the memory budget.
    fn bytes(&self) -> usize {
        0
    }
}

/// The models `faultline check --model` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// read / write on a register, initially absent.
    Register,
    /// read / write / cas on a register, initially absent.
    CasRegister,
    /// get / put / append on a string per key, initially "" (Porcupine's kv).
    Kv,
    /// acquire / release on a lock, initially free.
    Mutex,
}

impl ModelKind {
    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
        }
    }

    /// Parses a model name.
    pub fn from_name(name: &str) -> Option<ModelKind> {
        match name {
            "register" => Some(ModelKind::Register),
            "cas-register" => Some(ModelKind::CasRegister),
            "kv" => Some(ModelKind::Kv),
            "mutex" => Some(ModelKind::Mutex),
            _ => None,
        }
    }

    /// Every model name.
    pub const NAMES: &'static [&'static str] = &["register", "cas-register", "kv", "mutex"];

    /// The functions the model understands.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            ModelKind::Register => &["read", "write"],
            ModelKind::CasRegister => &["read", "write", "cas"],
            ModelKind::Kv => &["get", "put", "append", "read", "write"],
            ModelKind::Mutex => &["acquire", "release"],
        }
    }

    /// Picks the model a history's functions call for: kv for get/put/append,
    /// mutex for acquire/release, cas-register otherwise (it accepts every
    /// register history).
    pub fn infer(history: &History) -> ModelKind {
        let mut functions = history
            .operations
            .iter()
            .map(|operation| history.invocation(operation).f.as_str());
        match functions.next() {
            Some("get" | "put" | "append") => ModelKind::Kv,
            Some("acquire" | "release") => ModelKind::Mutex,
            _ => ModelKind::CasRegister,
        }
    }
}

/// An operation the model cannot interpret.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{file}:{line}: {reason}")]
pub struct ModelError {
    /// The history's file.
    pub file: String,
    /// The invocation's line.
    pub line: usize,
    /// What was found and what the model expects.
    pub reason: String,
}

/// Model options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelOptions {
    /// The register's initial value (`null`, absent, by default) or kv's initial
    /// string (`""` by default).
    pub initial: Option<Value>,
}

/// One operation as a spec sees it: what it asked and what it got back.
pub(crate) struct OpView<'a> {
    pub f: &'a str,
    pub input: &'a Value,
    /// `Some` when the operation completed `ok`; `None` when its outcome is unknown.
    pub output: Option<&'a Value>,
}

impl<'a> OpView<'a> {
    pub(crate) fn of(history: &'a History, operation: &Operation) -> OpView<'a> {
        let invocation = history.invocation(operation);
        let output = match operation.outcome {
            histories::Outcome::Ok => history.completion(operation).map(|event| &event.value),
            _ => None,
        };
        OpView {
            f: &invocation.f,
            input: &invocation.value,
            output,
        }
    }
}

/// A compiled partition of one of the built-in models.
pub(crate) enum AnySpec {
    Register(register::RegisterSpec),
    Kv(kv::KvSpec),
    Mutex(mutex::MutexSpec),
}

impl Spec for AnySpec {
    fn initial(&self) -> State {
        match self {
            AnySpec::Register(spec) => spec.initial(),
            AnySpec::Kv(spec) => spec.initial(),
            AnySpec::Mutex(spec) => spec.initial(),
        }
    }
    #[inline]
    fn step(&mut self, state: State, op: usize) -> Option<State> {
        match self {
            AnySpec::Register(spec) => spec.step(state, op),
            AnySpec::Kv(spec) => spec.step(state, op),
            AnySpec::Mutex(spec) => spec.step(state, op),
        }
    }
    fn effect(&self, op: usize) -> Effect {
        match self {
            AnySpec::Register(spec) => spec.effect(op),
            AnySpec::Kv(spec) => spec.effect(op),
            AnySpec::Mutex(spec) => spec.effect(op),
        }
    }
    fn class(&self, op: usize) -> u64 {
        match self {
            AnySpec::Register(spec) => spec.class(op),
            AnySpec::Kv(spec) => spec.class(op),
            AnySpec::Mutex(spec) => spec.class(op),
        }
    }
    fn hopeless(&self, state: State, op: usize, available: &dyn Fn(usize) -> bool) -> bool {
        match self {
            AnySpec::Register(spec) => spec.hopeless(state, op, available),
            AnySpec::Kv(spec) => spec.hopeless(state, op, available),
            AnySpec::Mutex(_) => false,
        }
    }
    fn look_ahead(&self) -> usize {
        match self {
            AnySpec::Kv(spec) => spec.look_ahead(),
            _ => 0,
        }
    }
    fn useless(&self, op: usize) -> bool {
        match self {
            AnySpec::Register(spec) => spec.useless(op),
            _ => false,
        }
    }
    fn rejection(&self, state: State, op: usize) -> String {
        match self {
            AnySpec::Register(spec) => spec.rejection(state, op),
            AnySpec::Kv(spec) => spec.rejection(state, op),
            AnySpec::Mutex(spec) => spec.rejection(state, op),
        }
    }
    fn describe_state(&self, state: State) -> String {
        match self {
            AnySpec::Register(spec) => spec.describe_state(state),
            AnySpec::Kv(spec) => spec.describe_state(state),
            AnySpec::Mutex(spec) => spec.describe_state(state),
        }
    }
    fn bytes(&self) -> usize {
        match self {
            AnySpec::Kv(spec) => spec.bytes(),
            _ => 0,
        }
    }
}

/// Compiles `operations` (indices into `history.operations`) for `kind`.
pub(crate) fn compile(
    kind: ModelKind,
    options: &ModelOptions,
    history: &History,
    operations: &[usize],
) -> Result<AnySpec, ModelError> {
    let error = |index: usize, reason: String| ModelError {
        file: history.file.clone(),
        line: history.line(history.operations[index].invoke),
        reason,
    };
    match kind {
        ModelKind::Register | ModelKind::CasRegister => register::RegisterSpec::compile(
            kind == ModelKind::CasRegister,
            options.initial.as_ref(),
            history,
            operations,
        )
        .map(AnySpec::Register)
        .map_err(|(index, reason)| error(index, reason)),
        ModelKind::Kv => kv::KvSpec::compile(options.initial.as_ref(), history, operations)
            .map(AnySpec::Kv)
            .map_err(|(index, reason)| error(index, reason)),
        ModelKind::Mutex => mutex::MutexSpec::compile(history, operations)
            .map(AnySpec::Mutex)
            .map_err(|(index, reason)| error(index, reason)),
    }
}

/// For each operation that observed something, groups of operations at least one
/// of each must stay in a shrunk history, so that it fails for the same reason:
/// a register read of `v` keeps some writer of `v` (unless `v` is the initial
/// value or nobody wrote it); a kv get keeps every put and append whose value is
/// part of the string it read. Without this, a stale read would shrink into a
/// read of a value nobody wrote. Keys are indices into `history.operations`.
pub(crate) fn requirements(
    kind: ModelKind,
    options: &ModelOptions,
    history: &History,
    operations: &[usize],
) -> std::collections::HashMap<usize, Vec<Vec<usize>>> {
    let views: Vec<(usize, OpView)> = operations
        .iter()
        .map(|&index| (index, OpView::of(history, &history.operations[index])))
        .collect();
    let mut required = std::collections::HashMap::new();
    match kind {
        ModelKind::Register | ModelKind::CasRegister => {
            let initial = options.initial.clone().unwrap_or(Value::Null);
            let produced = |view: &OpView| match (view.f, view.input.as_array().map(Vec::as_slice))
            {
                ("write", _) => Some(view.input.clone()),
                ("cas", Some([_, to])) => Some(to.clone()),
                _ => None,
            };
            for (index, view) in &views {
                let observed = match (
                    view.f,
                    view.output,
                    view.input.as_array().map(Vec::as_slice),
                ) {
                    ("read", Some(output), _) => output.clone(),
                    ("cas", Some(_), Some([from, _])) => from.clone(),
                    _ => continue,
                };
                if observed == initial {
                    continue;
                }
                let writers: Vec<usize> = views
                    .iter()
                    .filter(|(other, view)| {
                        other != index && produced(view).as_ref() == Some(&observed)
                    })
                    .map(|(other, _)| *other)
                    .collect();
                if !writers.is_empty() {
                    required.insert(*index, vec![writers]);
                }
            }
        }
        ModelKind::Kv => {
            for (index, view) in &views {
                let Some(Value::String(read)) =
                    view.output.filter(|_| matches!(view.f, "get" | "read"))
                else {
                    continue;
                };
                let parts: Vec<Vec<usize>> = views
                    .iter()
                    .filter(|(_, view)| matches!(view.f, "put" | "write" | "append"))
                    .filter(|(_, view)| {
                        view.input
                            .as_str()
                            .is_some_and(|part| !part.is_empty() && read.contains(part))
                    })
                    .map(|(other, _)| vec![*other])
                    .collect();
                required.insert(*index, parts);
            }
        }
        ModelKind::Mutex => {}
    }
    required
}

/// A value for people: strings unquoted when they are plain, `absent` for null.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::Null => "absent".to_string(),
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

/// Interns JSON values as small integers; 0 is `null`.
#[derive(Default)]
pub(crate) struct ValueTable {
    ids: rustc_hash::FxHashMap<String, u32>,
    values: Vec<Value>,
}

impl ValueTable {
    pub(crate) fn new() -> ValueTable {
        let mut table = ValueTable::default();
        table.intern(&Value::Null);
        table
    }

    pub(crate) fn intern(&mut self, value: &Value) -> u32 {
        let text = value.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(text, id);
        self.values.push(value.clone());
        id
    }

    pub(crate) fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}
