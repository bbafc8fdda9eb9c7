//! Every history of the Porcupine corpus gets the verdict `expected.tsv` gives it,
//! from both searches. One test; it lists every mismatch.

use checkers::linearizable::{self, Algorithm, Options};
use checkers::{ModelKind, Validity};
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/porcupine"),
        PathBuf::from,
    )
}

#[test]
fn porcupine_corpus_verdicts_match_expected() {
    let dir = corpus_dir();
    let table = std::fs::read_to_string(dir.join("expected.tsv")).unwrap_or_else(|error| {
        panic!(
            "the corpus is missing at {} ({error}); set FAULTLINE_CORPUS",
            dir.display()
        )
    });
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for line in table
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        let (file, expected) = line.split_once('\t').expect("file<TAB>verdict");
        let text = std::fs::read_to_string(dir.join(file)).expect("corpus file");
        let history = histories::parse(file, &text, None).expect("corpus file parses");
        let model = if file.starts_with("kv/") {
            ModelKind::Kv
        } else {
            ModelKind::CasRegister
        };
        for algorithm in [Algorithm::Faultline, Algorithm::Plain] {
            let options = Options {
                algorithm,
                ..Options::new(model)
            };
            let report = linearizable::check(&history, &options).expect("model fits");
            let verdict = report.valid.name();
            if verdict != expected {
                mismatches.push(format!(
                    "{file}: expected {expected}, {algorithm:?} said {verdict}"
                ));
            }
            if report.valid == Validity::Invalid && algorithm == Algorithm::Faultline {
                let witness = &report.witnesses[0];
                if witness.minimal_history.is_empty() || witness.explanation.is_empty() {
                    mismatches.push(format!("{file}: invalid without a usable witness"));
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 108, "expected.tsv lists 108 histories");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// On the corpus's invalid many-key histories the first invalid key decides,
/// and which one it is, the witness and the counts are the same bytes however
/// many threads race; `all_keys` finds every invalid key the default left.
#[test]
fn the_first_invalid_key_is_the_same_on_any_thread_count() {
    let dir = corpus_dir();
    for file in ["kv/c10-bad.txt", "kv/c50-bad.txt"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("corpus file");
        let history = histories::parse(file, &text, None).expect("corpus file parses");
        let check = |threads: usize| {
            let options = Options {
                threads,
                ..Options::new(ModelKind::Kv)
            };
            linearizable::check(&history, &options).expect("model fits")
        };
        let first = check(1);
        assert_eq!(first.valid, Validity::Invalid, "{file}");
        assert_eq!(first.invalid_keys.len(), 1, "{file}: one key decides");
        assert!(first.witnesses[0].minimal, "{file}: its witness is shrunk");
        assert!(
            !first.not_checked_keys.is_empty(),
            "{file}: the rest are left"
        );
        let bytes = serde_json::to_string(&first).unwrap();
        for threads in [2, 2, 4, 8, 8] {
            assert_eq!(
                serde_json::to_string(&check(threads)).unwrap(),
                bytes,
                "{file}"
            );
        }
    }
    let text = std::fs::read_to_string(dir.join("kv/c10-bad.txt")).expect("corpus file");
    let history = histories::parse("c10-bad", &text, None).expect("corpus file parses");
    let every_key = Options {
        all_keys: true,
        ..Options::new(ModelKind::Kv)
    };
    let report = linearizable::check(&history, &every_key).expect("model fits");
    assert!(report.not_checked_keys.is_empty());
    assert_eq!(
        report.invalid_keys.len(),
        8,
        "c10-bad has eight invalid keys"
    );
}
