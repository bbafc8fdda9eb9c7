//! `faultline generate`: the simulated store's histories are linearizable; with
//! planted stale reads they are not.

use crate::util::{outcome, run};

#[test]
fn generated_histories_check_as_planted() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl").display().to_string();
    let stale = dir.path().join("stale.jsonl").display().to_string();
    let args = [
        "--ops",
        "5000",
        "--keys",
        "20",
        "--clients",
        "6",
        "--crashed-writes",
        "0.02",
    ];
    assert!(
        run(&[&["generate", "--out", clean.as_str()][..], &args[..]].concat())
            .status
            .success()
    );
    assert!(
        run(&[
            &["generate", "--out", stale.as_str(), "--stale-reads", "0.05"][..],
            &args[..]
        ]
        .concat())
        .status
        .success()
    );
    let (code, stdout, _) = outcome(&run(&["check", &clean]));
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = outcome(&run(&["check", &stale]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Not linearizable on key"), "{stdout}");
}
