//! `sweeplab sweep` workers sharing one study in an SQLite database (the same code paths as
//! PostgreSQL; `tests/interop/optuna_rdb.py` runs the server databases with Python Optuna):
//! - three workers at once respect `run_cap` together: exactly that many trials, each
//!   number once, each told its own value;
//! - all three killed with SIGKILL mid-trial, one worker run again finishes the study:
//!   the killed workers' trials go stale (heartbeats) and end FAIL, interrupted, uncounted.
#![cfg(all(feature = "train", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::tmpdir as tmp;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sweeplab_core::{FrozenTrial, TrialState};
use sweeplab_storage::Storage;

fn config(name: &str, trials: usize, epochs: usize) -> String {
    format!(
        "\
name: {name}
method: bayes
metric: {{name: val/loss, goal: minimize}}
run_cap: {trials}
parameters:
  lr: {{distribution: log_uniform_values, min: 0.003, max: 0.03}}
  width: {{values: [8, 16]}}
  epochs: {{value: {epochs}}}
sweeplab:
  dataset: spiral
  samples: 400
  model: mlp
  seed: 3
  batch_size: 16
"
    )
}

fn worker(config: &Path, out: &Path, url: &str, heartbeat: &[&str]) -> Child {
    let mut c = common::sweeplab();
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args([
            "--backend",
            "cpu",
            "--engine",
            "burn",
            "--quiet",
            "--storage",
            url,
        ])
        .args(heartbeat)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn trials(url: &str, name: &str) -> Vec<FrozenTrial> {
    let state = Storage::open(url, None).unwrap().load_all().unwrap();
    state
        .study_by_name(name)
        .map(|s| s.trials.clone())
        .unwrap_or_default()
}

#[test]
fn three_workers_share_run_cap() {
    let dir = tmp("db-three");
    let url = format!("sqlite:///{}", dir.join("study.db").display());
    let cfg = dir.join("sweep.yaml");
    std::fs::write(&cfg, config("shared", 9, 6)).unwrap();
    let workers: Vec<Child> = (0..3)
        .map(|i| worker(&cfg, &dir.join(format!("out{i}")), &url, &[]))
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
    }
    let ts = trials(&url, "shared");
    assert_eq!(ts.len(), 9, "run_cap 9 over three workers: {ts:#?}");
    for (i, t) in ts.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        let last = t.intermediate_values.values().next_back().copied();
        assert_eq!(t.values.as_ref().and_then(|v| v.first().copied()), last);
        assert!(t.user_attrs.contains_key("series:val/loss"), "{t:#?}");
    }
    // Any machine writes every trial's logs from the database.
    let zip = dir.join("study.zip");
    let out = common::sweeplab()
        .args([
            "export",
            "--storage",
            &url,
            "--study-name",
            "shared",
            "--format",
            "zip",
            "--out",
        ])
        .arg(&zip)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::metadata(&zip).unwrap().len() > 1000);
}

#[test]
fn killed_workers_are_resumed_after_their_heartbeats_go_stale() {
    let dir = tmp("db-kill");
    let url = format!("sqlite:///{}", dir.join("study.db").display());
    let cfg = dir.join("sweep.yaml");
    std::fs::write(&cfg, config("killed", 8, 200)).unwrap();
    let hb = ["--heartbeat-interval", "1", "--grace-period", "3"];
    let mut workers: Vec<Child> = (0..3)
        .map(|i| worker(&cfg, &dir.join(format!("out{i}")), &url, &hb))
        .collect();
    // Kill all three while a trial asked after the first one finished runs: it has its
    // whole 200 epochs ahead of it, so it is still running when the kill lands. (The
    // workers' first trials start together and end within moments of each other, so a
    // kill aimed at them can land after all of them told.)
    let start = Instant::now();
    let fresh: Vec<u64> = loop {
        let ts = trials(&url, "killed");
        let first_end = ts.iter().filter_map(|t| t.datetime_complete).min();
        let fresh: Vec<u64> = ts
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .filter(|t| first_end.is_some_and(|e| t.datetime_start.is_some_and(|s| s >= e)))
            .map(|t| t.number)
            .collect();
        if !fresh.is_empty() {
            break fresh;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the workers did not get going: {ts:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for w in &mut workers {
        Command::new("kill")
            .args(["-KILL", &w.id().to_string()])
            .status()
            .unwrap();
        w.wait().unwrap();
    }
    let running: Vec<u64> = trials(&url, "killed")
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .map(|t| t.number)
        .collect();
    // A fresh trial cannot have finished; one may have been failed as stale by another
    // worker on a loaded machine (the grace period is 3 s), so at least one still runs.
    assert!(
        fresh.iter().any(|n| running.contains(n)),
        "the kills left none of the fresh trials {fresh:?} running: {running:?}"
    );
    let left = running.len();
    // One worker finishes the study: the killed trials go stale and are failed.
    let out = worker(&cfg, &dir.join("again"), &url, &hb)
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stale trial"), "{stderr}");
    let ts = trials(&url, "killed");
    let counted = ts.iter().filter(|t| t.counts()).count();
    assert_eq!(counted, 8, "{ts:#?}");
    let interrupted: Vec<&FrozenTrial> =
        ts.iter().filter(|t| t.state == TrialState::Fail).collect();
    assert_eq!(interrupted.len(), left, "{ts:#?}");
    for t in interrupted {
        assert!(t.user_attrs.contains_key("interrupted"), "{t:#?}");
    }
    assert!(ts.iter().all(|t| t.state.is_finished()), "{ts:#?}");
}
