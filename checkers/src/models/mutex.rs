//! A lock: `acquire` succeeds only when it is free, `release` only when held.

use super::{Effect, OpView, Spec, State};
use histories::History;

const FREE: State = 0;
const HELD: State = 1;

pub(crate) struct MutexSpec {
    /// `true` for acquire, `false` for release.
    acquires: Vec<bool>,
}

impl MutexSpec {
    pub(super) fn compile(
        history: &History,
        operations: &[usize],
    ) -> Result<MutexSpec, (usize, String)> {
        let acquires = operations
            .iter()
            .map(|&index| match OpView::of(history, &history.operations[index]).f {
                "acquire" => Ok(true),
                "release" => Ok(false),
                f => Err((
                    index,
                    format!("operation `{f}` is not part of the mutex model; expected acquire or release"),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(MutexSpec { acquires })
    }
}

impl Spec for MutexSpec {
    fn initial(&self) -> State {
        FREE
    }

    fn step(&mut self, state: State, op: usize) -> Option<State> {
        match (self.acquires[op], state) {
            (true, FREE) => Some(HELD),
            (false, HELD) => Some(FREE),
            _ => None,
        }
    }

    fn effect(&self, _op: usize) -> Effect {
        Effect::Update
    }

    fn class(&self, op: usize) -> u64 {
        u64::from(self.acquires[op])
    }

    fn rejection(&self, _state: State, op: usize) -> String {
        if self.acquires[op] {
            "it acquired the lock, but the lock is already held".to_string()
        } else {
            "it released the lock, but the lock is not held".to_string()
        }
    }

    fn describe_state(&self, state: State) -> String {
        if state == HELD { "held" } else { "free" }.to_string()
    }
}
