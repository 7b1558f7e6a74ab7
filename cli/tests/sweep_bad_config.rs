//! `sweeplab sweep` refuses a config it cannot run before it writes anything: a parameter
//! the trainer does not know, and a study that exists in the journal with the other
//! direction. Each is one line on stderr naming the problem, exit status 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "train")]

mod common;

use common::{run, tmpdir};

const CONFIG: &str = "method: random\nmetric: {name: val_loss, goal: minimize}\nrun_cap: 1\n\
                      sweeplab: {samples: 100, epochs: 1}\nparameters:\n";

fn sweep(dir: &std::path::Path, yaml: &str) -> (i32, String) {
    let path = dir.join("sweep.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = run(&[
        "sweep",
        path.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_parameter_is_named_and_nothing_is_written() {
    let dir = tmpdir("bad-param");
    let (code, err) = sweep(&dir, &format!("{CONFIG}  lrr: {{min: 0.001, max: 0.1}}\n"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`lrr`") && err.contains("supported: model, layers"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.join("out").exists());
}

#[test]
fn a_study_with_the_other_direction_is_refused_and_the_journal_kept() {
    let dir = tmpdir("bad-direction");
    let good = format!("{CONFIG}  lr: {{min: 0.001, max: 0.1}}\n");
    let (code, err) = sweep(&dir, &good);
    assert_eq!(code, 0, "{err}");
    let journal = dir.join("out").join("journal.log");
    let before = std::fs::read(&journal).unwrap();
    let (code, err) = sweep(&dir, &good.replace("goal: minimize", "goal: maximize"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("exists with direction minimize") && err.contains("says maximize"),
        "{err}"
    );
    assert_eq!(std::fs::read(&journal).unwrap(), before);
}

#[test]
fn a_sweep_too_large_for_memory_is_refused_before_a_trial_starts() {
    let dir = tmpdir("too-large");
    let (code, err) = sweep(
        &dir,
        &format!(
            "{CONFIG}  width: {{value: 4096}}\n  layers: {{value: 16}}\n  batch_size: {{values: [64, 65536]}}\n"
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("batch_size = 65536") && err.contains("of memory, more than the"),
        "{err}"
    );
    assert!(!dir.join("out").join("journal.log").exists());
}
