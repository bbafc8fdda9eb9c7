//! Registers: `read` / `write`, and `cas` for the cas-register.

use super::{Effect, OpView, Spec, State, ValueTable, show};
use histories::History;
use serde_json::Value;

enum RegisterOp {
    /// A read that returned the value with this id.
    Read(u32),
    /// A read whose result is unknown: constrains nothing.
    UnknownRead,
    Write(u32),
    /// Compare-and-set; `known` is false when the outcome is unknown, in which
    /// case a failed compare is simply no visible effect.
    Cas {
        from: u32,
        to: u32,
        known: bool,
    },
}

pub(crate) struct RegisterSpec {
    initial: u32,
    values: ValueTable,
    ops: Vec<RegisterOp>,
    /// For each value id, the operations that can set the register to it.
    producers: Vec<Vec<usize>>,
    /// For each value id, whether an operation ever needs the register to hold
    /// it: an `ok` read of it, or a cas (of any outcome) from it.
    observed: Vec<bool>,
}

impl RegisterSpec {
    pub(super) fn compile(
        cas: bool,
        initial: Option<&Value>,
        history: &History,
        operations: &[usize],
    ) -> Result<RegisterSpec, (usize, String)> {
        let mut values = ValueTable::new();
        let initial = values.intern(initial.unwrap_or(&Value::Null));
        let model = if cas { "cas-register" } else { "register" };
        let ops = operations
            .iter()
            .map(|&index| {
                let view = OpView::of(history, &history.operations[index]);
                let op = match (view.f, view.output) {
                    ("read", Some(output)) => RegisterOp::Read(values.intern(output)),
                    ("read", None) => RegisterOp::UnknownRead,
                    ("write", _) => RegisterOp::Write(values.intern(view.input)),
                    ("cas", _) if cas => match view.input.as_array().map(Vec::as_slice) {
                        Some([from, to]) => RegisterOp::Cas {
                            from: values.intern(from),
                            to: values.intern(to),
                            known: view.output.is_some(),
                        },
                        _ => {
                            return Err((
                                index,
                                format!(
                                    "cas value {} is not [old, new]; expected a two-element array",
                                    view.input
                                ),
                            ));
                        }
                    },
                    (f, _) => {
                        let expected = if cas { "read, write or cas" } else { "read or write" };
                        return Err((
                            index,
                            format!(
                                "operation `{f}` is not part of the {model} model; expected {expected}{}",
                                if f == "cas" { " (use --model cas-register)" } else { "" }
                            ),
                        ));
                    }
                };
                Ok(op)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let value_count = values.len();
        let mut producers = vec![Vec::new(); value_count];
        let mut observed = vec![false; value_count];
        for (local, op) in ops.iter().enumerate() {
            match *op {
                RegisterOp::Read(value) => observed[value as usize] = true,
                RegisterOp::Write(value) => producers[value as usize].push(local),
                RegisterOp::Cas { from, to, .. } => {
                    observed[from as usize] = true;
                    producers[to as usize].push(local);
                }
                RegisterOp::UnknownRead => {}
            }
        }
        Ok(RegisterSpec {
            initial,
            values,
            ops,
            producers,
            observed,
        })
    }
}

impl Spec for RegisterSpec {
    fn initial(&self) -> State {
        self.initial
    }

    fn step(&mut self, state: State, op: usize) -> Option<State> {
        match self.ops[op] {
            RegisterOp::Read(value) => (state == value).then_some(state),
            RegisterOp::UnknownRead => Some(state),
            RegisterOp::Write(value) => Some(value),
            RegisterOp::Cas { from, to, known } => {
                if state == from {
                    Some(to)
                } else if known {
                    None
                } else {
                    Some(state)
                }
            }
        }
    }

    fn effect(&self, op: usize) -> Effect {
        match self.ops[op] {
            RegisterOp::Read(_) | RegisterOp::UnknownRead => Effect::ReadOnly,
            RegisterOp::Write(_) => Effect::BlindWrite,
            RegisterOp::Cas { .. } => Effect::Update,
        }
    }

    fn class(&self, op: usize) -> u64 {
        match self.ops[op] {
            RegisterOp::Read(value) => u64::from(value),
            RegisterOp::UnknownRead => 1 << 62,
            RegisterOp::Write(value) => (1 << 60) | u64::from(value),
            RegisterOp::Cas { from, to, known } => {
                (2 << 60) | (u64::from(known) << 59) | (u64::from(from) << 29) | u64::from(to)
            }
        }
    }

    /// An operation that needs the register to hold `v` (an `ok` read of `v`, an
    /// `ok` cas from `v`) while it does not can only succeed after something
    /// sets it to `v`; if no such operation is left, it never can.
    fn hopeless(&self, state: State, op: usize, available: &dyn Fn(usize) -> bool) -> bool {
        let needed = match self.ops[op] {
            RegisterOp::Read(value) => value,
            RegisterOp::Cas {
                from, known: true, ..
            } => from,
            _ => return false,
        };
        needed != state
            && !self.producers[needed as usize]
                .iter()
                .any(|&producer| available(producer))
    }

    /// An indeterminate write or cas whose new value `v` nothing ever needs
    /// (no `ok` read of `v`, no cas from `v`) is useless. Drop it from a
    /// linearization: until the next change of state after it, every operation
    /// left sees `v` and so is a blind write (same state after it either way),
    /// a read or cas that does not need `v` and thus had no effect (it could not
    /// have been `ok`, and an indeterminate one is left out), or an indeterminate
    /// read. The rest of the linearization is unchanged.
    fn useless(&self, op: usize) -> bool {
        match self.ops[op] {
            RegisterOp::Write(value)
            | RegisterOp::Cas {
                to: value,
                known: false,
                ..
            } => !self.observed[value as usize],
            _ => false,
        }
    }

    fn rejection(&self, state: State, op: usize) -> String {
        let holds = show(self.values.value(state));
        match self.ops[op] {
            RegisterOp::Read(value) => format!(
                "it read {}, but the register holds {holds}",
                show(self.values.value(value))
            ),
            RegisterOp::Cas { from, to, .. } => format!(
                "its cas {} → {} succeeded, which needs the register to hold {}, but it holds {holds}",
                show(self.values.value(from)),
                show(self.values.value(to)),
                show(self.values.value(from))
            ),
            RegisterOp::UnknownRead | RegisterOp::Write(_) => {
                "it cannot be refused by a register".to_string()
            }
        }
    }

    fn describe_state(&self, state: State) -> String {
        show(self.values.value(state))
    }
}
