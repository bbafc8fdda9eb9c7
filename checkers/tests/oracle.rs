//! The search against a brute-force enumerator of all orders, on thousands of
//! random small histories; and the laws a verdict must obey.

use checkers::linearizable::{self, Algorithm, Options};
use checkers::{ModelKind, Validity, oracle};
use histories::{EventType, History, HistoryBuilder};
use proptest::prelude::*;
use serde_json::{Value, json};

/// One randomly drawn operation: who, what, and how it ended.
#[derive(Debug, Clone)]
struct Draw {
    process: u8,
    kind: u8,
    value: u8,
    outcome: u8,
    delay: u8,
    duration: u8,
    key: u8,
}

/// Keys of a keyed history.
const KEYS: u8 = 5;

fn draws(max: usize) -> impl Strategy<Value = Vec<Draw>> {
    prop::collection::vec(
        (0u8..4, 0u8..10, 0u8..4, 0u8..10, 0u8..6, 1u8..8, 0u8..KEYS).prop_map(
            |(process, kind, value, outcome, delay, duration, key)| Draw {
                process,
                kind,
                value,
                outcome,
                delay,
                duration,
                key,
            },
        ),
        1..=max,
    )
}

/// Builds a history from draws: each process runs its operations one after
/// another; with `simulate`, results come from a sequential run at random points
/// inside each operation (so many histories are valid), otherwise reads return
/// drawn values (so many are not).
fn build(draws: &[Draw], model: ModelKind, simulate: bool, keyed: bool) -> History {
    struct Op {
        process: u64,
        f: &'static str,
        input: Value,
        output: Value,
        kind: EventType,
        call: u32,
        ret: u32,
        effect: u32,
        key: u8,
    }
    let mut clock = [0u32; 4];
    let mut retired = [0u64; 4];
    let mut ops = Vec::new();
    for (index, draw) in draws.iter().enumerate() {
        let slot = draw.process as usize;
        let call = clock[slot] + 1 + u32::from(draw.delay) * 4;
        let ret = call + 1 + u32::from(draw.duration) * 4;
        clock[slot] = ret;
        let value = u64::from(draw.value);
        let (f, input) = match (model, draw.kind) {
            (ModelKind::Mutex, kind) => (
                if kind % 2 == 0 { "acquire" } else { "release" },
                Value::Null,
            ),
            (ModelKind::Kv, 0..=3) => ("get", Value::Null),
            (ModelKind::Kv, 4..=5) => ("put", json!(format!("p{value}"))),
            (ModelKind::Kv, _) => ("append", json!(format!("a{value}"))),
            (_, 0..=3) => ("read", Value::Null),
            (ModelKind::CasRegister, 8..=9) => ("cas", json!([value, (value + 1) % 4])),
            _ => ("write", json!(value)),
        };
        let kind = match draw.outcome {
            0..=6 => EventType::Ok,
            7..=8 => EventType::Info,
            _ => EventType::Fail,
        };
        let process = u64::from(draw.process) + 4 * retired[slot];
        if kind == EventType::Info {
            retired[slot] += 1;
        }
        let output = match f {
            "read" => json!(value % 3),
            "get" => json!(["", "a1", "p2", "p2a1"][draw.value as usize]),
            _ => input.clone(),
        };
        let effect = call + 1 + (index as u32 * 7) % (ret - call).max(1);
        ops.push(Op {
            process,
            f,
            input,
            output,
            kind,
            call,
            ret,
            effect,
            key: if keyed { draw.key } else { 0 },
        });
    }
    if simulate {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&index| (ops[index].effect, index));
        let initial = match model {
            ModelKind::Kv => json!(""),
            ModelKind::Mutex => json!(false),
            _ => Value::Null,
        };
        let mut states = vec![initial; usize::from(KEYS)];
        for index in order {
            let op = &mut ops[index];
            if op.kind == EventType::Fail {
                continue;
            }
            let state = &mut states[op.key as usize];
            match op.f {
                "read" | "get" => op.output = state.clone(),
                "write" | "put" => *state = op.input.clone(),
                "append" => {
                    *state = json!(format!(
                        "{}{}",
                        state.as_str().unwrap(),
                        op.input.as_str().unwrap()
                    ))
                }
                "cas" if state == &op.input[0] => *state = op.input[1].clone(),
                "cas" => op.kind = EventType::Fail,
                "acquire" if state == &json!(false) => *state = json!(true),
                "release" if state == &json!(true) => *state = json!(false),
                _ => op.kind = EventType::Fail,
            }
        }
    }
    let mut timeline: Vec<(u32, usize, bool)> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        timeline.push((op.call, index, true));
        timeline.push((op.ret, index, false));
    }
    timeline.sort_unstable();
    let mut builder = HistoryBuilder::new();
    for (_, index, is_call) in timeline {
        let op = &ops[index];
        if keyed {
            builder = builder.key(json!(op.key));
        }
        builder = if is_call {
            builder.invoke(op.process, op.f, op.input.clone())
        } else {
            let value = if op.kind == EventType::Ok {
                op.output.clone()
            } else {
                op.input.clone()
            };
            builder.event(op.kind, op.process, op.f, value)
        };
    }
    builder.build().expect("a drawn history is well formed")
}

fn verdict(history: &History, model: ModelKind, algorithm: Algorithm) -> linearizable::Report {
    let options = Options {
        algorithm,
        threads: 1,
        ..Options::new(model)
    };
    linearizable::check(history, &options).expect("the model fits")
}

fn agrees(
    draws: &[Draw],
    model: ModelKind,
    simulate: bool,
    keyed: bool,
) -> Result<(), TestCaseError> {
    let history = build(draws, model, simulate, keyed);
    let expected = oracle::is_linearizable(&history, model, None);
    let report = verdict(&history, model, Algorithm::Faultline);
    let found = report.valid == Validity::Valid;
    prop_assert_eq!(
        found,
        expected,
        "faultline disagrees with the oracle on {:#?}",
        history.events
    );
    let plain = verdict(&history, model, Algorithm::Plain).valid == Validity::Valid;
    prop_assert_eq!(plain, expected, "the baseline disagrees with the oracle");
    if simulate {
        prop_assert!(
            found,
            "a history simulated from a sequential run must be linearizable"
        );
    }
    // Shrinking keeps the anomaly: the minimal history is still invalid, and still
    // contains the operation that could not be placed.
    for witness in &report.witnesses {
        let lines = (1..=witness.minimal_history.len()).collect();
        let minimal =
            History::from_events("minimal", witness.minimal_history.clone(), lines).unwrap();
        prop_assert!(
            !oracle::is_linearizable(&minimal, model, None),
            "a shrunk witness must stay invalid"
        );
        prop_assert!(
            minimal
                .events
                .iter()
                .any(|event| event.index == witness.operation.invoke_index),
            "the shrunk witness keeps the operation that could not be placed"
        );
    }
    Ok(())
}

/// The random histories exercise both verdicts, so agreement is not vacuous.
#[test]
fn drawn_histories_are_both_valid_and_invalid() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for model in [ModelKind::CasRegister, ModelKind::Kv, ModelKind::Mutex] {
        let (mut valid, mut invalid, mut with_info) = (0, 0, 0);
        for _ in 0..500 {
            let drawn = draws(10).new_tree(&mut runner).unwrap().current();
            let history = build(&drawn, model, false, false);
            with_info += usize::from(
                history
                    .operations
                    .iter()
                    .any(|op| op.outcome == histories::Outcome::Info),
            );
            match verdict(&history, model, Algorithm::Faultline).valid {
                Validity::Valid => valid += 1,
                Validity::Invalid => invalid += 1,
                Validity::Unknown => panic!("a ten-operation history is never unknown"),
            }
        }
        assert!(
            valid > 50 && invalid > 50 && with_info > 100,
            "{model:?}: {valid} valid, {invalid} invalid, {with_info} with crashes"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn cas_register_agrees_with_oracle(draws in draws(10), simulate in any::<bool>()) {
        agrees(&draws, ModelKind::CasRegister, simulate, false)?;
    }

    #[test]
    fn register_agrees_with_oracle(draws in draws(10), simulate in any::<bool>()) {
        agrees(&draws, ModelKind::Register, simulate, false)?;
    }

    #[test]
    fn kv_agrees_with_oracle(draws in draws(9), simulate in any::<bool>()) {
        agrees(&draws, ModelKind::Kv, simulate, false)?;
    }

    #[test]
    fn mutex_agrees_with_oracle(draws in draws(9), simulate in any::<bool>()) {
        agrees(&draws, ModelKind::Mutex, simulate, false)?;
    }

    #[test]
    fn keys_are_checked_independently(draws in draws(12), simulate in any::<bool>()) {
        agrees(&draws, ModelKind::CasRegister, simulate, true)?;
    }

    /// By default the first invalid key decides: the verdict is the one every
    /// key checked gives, exactly one invalid key is reported (one that is
    /// invalid), the keys checked before it are valid, and the result is the
    /// same bytes on any number of threads.
    #[test]
    fn the_first_invalid_key_decides(draws in draws(30), simulate in any::<bool>()) {
        let history = build(&draws, ModelKind::CasRegister, simulate, true);
        let every_key = linearizable::check(&history, &Options {
            all_keys: true,
            threads: 1,
            ..Options::new(ModelKind::CasRegister)
        }).unwrap();
        prop_assert!(every_key.not_checked_keys.is_empty());
        let first = linearizable::check(&history, &Options {
            threads: 1,
            ..Options::new(ModelKind::CasRegister)
        }).unwrap();
        prop_assert_eq!(first.valid, every_key.valid);
        prop_assert_eq!(first.keys, every_key.keys);
        if first.valid == Validity::Invalid {
            prop_assert_eq!(first.invalid_keys.len(), 1);
            prop_assert!(every_key.invalid_keys.contains(&first.invalid_keys[0]));
            prop_assert_eq!(first.witnesses.len(), 1);
            prop_assert!(first.witnesses[0].minimal);
        } else {
            prop_assert!(first.not_checked_keys.is_empty());
        }
        for key in &every_key.invalid_keys {
            prop_assert!(first.invalid_keys.contains(key) || first.not_checked_keys.contains(key));
        }
        let bytes = serde_json::to_string(&first).unwrap();
        for threads in [2, 3, 8] {
            let again = linearizable::check(&history, &Options {
                threads,
                ..Options::new(ModelKind::CasRegister)
            }).unwrap();
            prop_assert_eq!(&serde_json::to_string(&again).unwrap(), &bytes);
        }
    }

    /// Renaming processes changes nothing: only real-time order matters.
    #[test]
    fn renaming_processes_changes_nothing(draws in draws(10), simulate in any::<bool>()) {
        let history = build(&draws, ModelKind::CasRegister, simulate, false);
        let mut events = history.events.clone();
        for event in &mut events {
            if let histories::Process::Client(id) = &mut event.process {
                *id = 1000 - *id;
            }
        }
        let lines = (1..=events.len()).collect();
        let renamed = History::from_events("renamed", events, lines).unwrap();
        prop_assert_eq!(
            verdict(&history, ModelKind::CasRegister, Algorithm::Faultline).valid,
            verdict(&renamed, ModelKind::CasRegister, Algorithm::Faultline).valid
        );
    }
}
