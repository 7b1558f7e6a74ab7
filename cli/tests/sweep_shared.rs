//! Regression tests of the reliability issue's data-loss defects:
//! - two sweeps (and an ask/tell loop) on one journal file: every write re-reads what the
//!   others appended, so each trial's lines land on its own id;
//! - a sweep killed after a trial reached the journal but before its logs were written:
//!   the rerun writes the missing logs and removes the temporary files left behind;
//! - `export --out` onto the study's own journal is refused;
//! - a lock left by a crash is waited for with a message, not in silence.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::files_under;
use common::tmpdir as tmp;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sweeplab_core::storage::file::JournalFile;
use sweeplab_core::{FrozenTrial, TrialState};

fn config(name: &str, trials: usize, epochs: usize) -> String {
    format!(
        "\
name: {name}
method: random
metric: {{name: val/loss, goal: minimize}}
run_cap: {trials}
parameters:
  lr: {{distribution: log_uniform_values, min: 0.003, max: 0.03}}
  width: {{values: [8, 16]}}
  epochs: {{value: {epochs}}}
sweeplab:
  dataset: spiral
  samples: 200
  model: mlp
  seed: 7
  batch_size: 16
"
    )
}

fn bin() -> Command {
    let mut c = common::sweeplab();
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn sweep(config: &Path, out: &Path, storage: Option<&Path>) -> Command {
    let mut c = bin();
    c.arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(["--backend", "cpu", "--quiet"]);
    if let Some(s) = storage {
        c.arg("--storage").arg(s);
    }
    c
}

fn study_trials(journal: &Path, name: &str) -> Vec<FrozenTrial> {
    let st = JournalFile::new(journal).load().unwrap();
    st.study_by_name(name)
        .map(|s| s.trials.clone())
        .unwrap_or_default()
}

/// Every trial of a sweep's study is finished, and each COMPLETE one carries the value its
/// own last report gave: lines written onto another trial's id break that.
fn assert_consistent(trials: &[FrozenTrial], n: usize) {
    assert_eq!(trials.len(), n, "{trials:#?}");
    for t in trials {
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        let last = t.intermediate_values.iter().next_back().map(|(_, v)| *v);
        assert_eq!(
            t.values.as_ref().and_then(|v| v.first().copied()),
            last,
            "trial {} was told a value that is not its own: {t:#?}",
            t.number
        );
        assert_eq!(t.params().len(), 2, "{t:#?}");
        assert!(t.user_attrs.contains_key("series:val/loss"), "{t:#?}");
    }
}

#[test]
fn two_sweeps_and_an_ask_tell_loop_share_one_journal() {
    let dir = tmp("two");
    let journal = dir.join("shared.log");
    let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
    std::fs::write(&a, config("study-a", 5, 15)).unwrap();
    std::fs::write(&b, config("study-b", 5, 15)).unwrap();
    let first = sweep(&a, &dir.join("out-a"), Some(&journal))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let second = sweep(&b, &dir.join("out-b"), Some(&journal))
        .spawn()
        .unwrap();
    // A third writer: ask/tell on another study while both sweeps run.
    let s = journal.to_str().unwrap();
    let ok = bin()
        .args(["create-study", "--storage", s, "--study-name", "asktell"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let space = r#"{"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}}}"#;
    for i in 0..12 {
        let out = bin()
            .args(["ask", "--storage", s, "--study-name", "asktell"])
            .args(["--search-space", space])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let number: u64 = text
            .split("\"number\": ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{text}"));
        let told = bin()
            .args(["tell", "--storage", s, "--study-name", "asktell"])
            .args(["--trial-number", &number.to_string()])
            .arg(format!("--values={}", i as f64 / 10.0))
            .output()
            .unwrap();
        assert!(told.status.success(), "{told:?}");
    }
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("done: 5 trials"), "{stderr}");
    }
    assert_consistent(&study_trials(&journal, "study-a"), 5);
    assert_consistent(&study_trials(&journal, "study-b"), 5);
    let asktell = study_trials(&journal, "asktell");
    assert_eq!(asktell.len(), 12);
    for (i, t) in asktell.iter().enumerate() {
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        assert_eq!(t.values, Some(vec![i as f64 / 10.0]), "{t:#?}");
    }
}

/// The log files a sweep writes (relative paths, temporary files apart).
fn log_files(out: &Path) -> Vec<String> {
    let mut acc: Vec<String> = ["tensorboard", "wandb"]
        .iter()
        .map(|sub| out.join(sub))
        .filter(|d| d.is_dir())
        .flat_map(|d| files_under(&d))
        .map(|p| p.strip_prefix(out).unwrap().display().to_string())
        .collect();
    acc.sort();
    acc
}

/// The entries of `dir`.
fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path())
}

#[test]
fn a_rerun_writes_the_logs_a_kill_lost_and_removes_temporary_files() {
    let dir = tmp("logs");
    let cfg = dir.join("s.yaml");
    std::fs::write(&cfg, config("logs", 3, 5)).unwrap();
    let out = dir.join("out");
    let done = sweep(&cfg, &out, None).output().unwrap();
    assert!(done.status.success(), "{done:?}");
    let complete = log_files(&out);
    let runs = |files: &[String], kind: &str| {
        files
            .iter()
            .filter(|f| f.starts_with(kind) && (f.contains("tfevents") || f.ends_with(".wandb")))
            .count()
    };
    // 3 trial runs (+ the HParams experiment file) in TensorBoard, 3 W&B runs.
    assert!(runs(&complete, "tensorboard") >= 3, "{complete:#?}");
    assert_eq!(runs(&complete, "wandb"), 3, "{complete:#?}");

    // What a kill between the journal and the logs leaves: the last trial's logs missing,
    // and a temporary file of a process that is gone.
    let wandb_last: Vec<PathBuf> = entries(&out.join("wandb")).filter(|p| p.is_dir()).collect();
    for p in &wandb_last {
        std::fs::remove_dir_all(p).unwrap();
    }
    let tb_runs: Vec<PathBuf> = entries(&out.join("tensorboard"))
        .filter(|p| p.is_dir())
        .collect();
    let victim = tb_runs.iter().max().unwrap();
    let event = entries(victim)
        .find(|p| p.to_string_lossy().contains("tfevents"))
        .unwrap();
    // A torn copy under an old-style temporary name of a dead process (pid above pid_max).
    let torn = event.with_file_name(format!(
        ".{}.tmp-4294967-1a2b",
        event.file_name().unwrap().to_string_lossy()
    ));
    std::fs::rename(&event, &torn).unwrap();

    let rerun = sweep(&cfg, &out, None).output().unwrap();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{stderr}");
    assert!(stderr.contains("removed 1 temporary file"), "{stderr}");
    assert!(!torn.exists());
    assert!(event.exists(), "the lost TensorBoard run is written again");
    assert_eq!(log_files(&out), complete);
}

#[test]
fn export_onto_the_studys_own_journal_is_refused() {
    let dir = tmp("export");
    let journal = dir.join("j.log");
    let s = journal.to_str().unwrap();
    for name in ["one", "two"] {
        let ok = bin()
            .args(["create-study", "--storage", s, "--study-name", name])
            .output()
            .unwrap();
        assert!(ok.status.success());
    }
    let before = std::fs::read(&journal).unwrap();
    // The same file under another spelling.
    let other = dir.join(".").join("j.log");
    for format in ["optuna", "csv", "zip"] {
        let out = bin()
            .args(["export", "--storage", s, "--study-name", "one"])
            .args(["--format", format, "--out"])
            .arg(&other)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("is the file the study is read from"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert_eq!(std::fs::read(&journal).unwrap(), before);
}

#[test]
fn a_lock_left_by_a_crash_is_waited_for_with_a_message() {
    let dir = tmp("lock");
    let journal = dir.join("j.log");
    let s = journal.to_str().unwrap();
    let ok = bin()
        .args(["create-study", "--storage", s, "--study-name", "x"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    // A crashed process's lock: Optuna's symlink lock pointing at the journal.
    let lock = dir.join("j.log.lock");
    std::os::unix::fs::symlink(&journal, &lock).unwrap();
    let mut child = bin().args(["studies", "--storage", s]).spawn().unwrap();
    // Released after the 30 s grace period; the message comes after a second.
    let started = Instant::now();
    let out = loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        if started.elapsed() > Duration::from_secs(3) {
            // Free it early: the test is about the message, not the wait.
            let _ = std::fs::remove_file(&lock);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "still waiting");
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for the lock") && stderr.contains("j.log.lock"),
        "{stderr}"
    );
}

#[test]
fn every_searched_value_is_checked_before_the_first_trial() {
    let dir = tmp("values");
    let base = config("values", 3, 2);
    for (from, to, needle) in [
        (
            "width: {values: [8, 16]}",
            "width: {values: [8, 16]}\n  layers: {values: [1, 17]}",
            "layers",
        ),
        (
            "width: {values: [8, 16]}",
            "width: {values: [8, 16]}\n  activation: {values: [relu, swish]}",
            "swish",
        ),
        (
            "width: {values: [8, 16]}",
            "width: {values: [0, 8]}",
            "width",
        ),
        ("model: mlp", "model: cnn", "cnn"),
        (
            "epochs: {value: 2}",
            "epochs: {value: 2}\n  dropout: {value: 1.0}",
            "dropout",
        ),
    ] {
        let text = base.replace(from, to);
        assert_ne!(text, base, "{from}");
        let cfg = dir.join("v.yaml");
        std::fs::write(&cfg, &text).unwrap();
        let out_dir = dir.join(format!("out-{needle}"));
        let out = sweep(&cfg, &out_dir, None).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{needle}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{needle}: {stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(
            !out_dir.join("journal.log").exists(),
            "{needle}: nothing is written"
        );
    }
}
