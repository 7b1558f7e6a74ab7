//! `sweeplab sweep` end to end: a sweep stopped by Ctrl-C and then killed outright, run
//! again, finishes with every earlier trial intact; logs are written per trial; bad configs
//! fail with a clear message.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::tmpdir as tmp;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sweeplab_core::storage::file::JournalFile;
use sweeplab_core::{FrozenTrial, TrialState};

const CONFIG: &str = "\
name: spiral-test
method: random
metric: {name: val/loss, goal: minimize}
run_cap: 6
parameters:
  lr: {distribution: log_uniform_values, min: 0.003, max: 0.03}
  width: {values: [8, 16]}
  epochs: {value: 300}
sweeplab:
  dataset: spiral
  samples: 300
  model: mlp
  seed: 7
  batch_size: 16
";

/// [`CONFIG`] with each `(from, to)` replaced in turn.
fn edited(edits: &[(&str, &str)]) -> String {
    edits.iter().fold(CONFIG.to_string(), |text, (from, to)| {
        text.replace(from, to)
    })
}

fn sweep(config: &Path, out: &Path) -> Command {
    sweep_on(config, out, "cpu")
}

fn sweep_on(config: &Path, out: &Path, backend: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sweeplab"));
    c.arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(["--backend", backend, "--quiet"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn trials(journal: &Path) -> Vec<FrozenTrial> {
    let st = JournalFile::new(journal).load().unwrap();
    match st.study_by_name("spiral-test") {
        Some(s) => s.trials.clone(),
        None => Vec::new(),
    }
}

fn finished(journal: &Path) -> Vec<FrozenTrial> {
    trials(journal)
        .into_iter()
        .filter(|t| t.state.is_finished())
        .collect()
}

/// Waits until `n` trials have finished and the next one is running, then returns.
fn wait_for(child: &mut Child, journal: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sweep exited early with {status}");
        }
        let ts = trials(journal);
        let done = ts.iter().filter(|t| t.state.is_finished()).count();
        if done >= n && ts.iter().any(|t| t.state == TrialState::Running) {
            return;
        }
        assert!(Instant::now() < deadline, "no progress in 300 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigint(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn interrupted_and_killed_sweeps_resume_with_every_trial_intact() {
    let dir = tmp("resume");
    let config = dir.join("spiral.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("out");
    let journal = out.join("journal.log");

    // 1. Ctrl-C after two trials: the running trial ends FAIL (interrupted), exit 130.
    let mut child = sweep(&config, &out).spawn().unwrap();
    wait_for(&mut child, &journal, 2);
    sigint(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("backend: CPU backend (Flex)"), "{stderr}");
    let after_int = finished(&journal);
    let interrupted: Vec<&FrozenTrial> = after_int
        .iter()
        .filter(|t| t.user_attrs.contains_key("interrupted"))
        .collect();
    assert_eq!(interrupted.len(), 1, "{after_int:#?}");
    assert_eq!(interrupted[0].state, TrialState::Fail);

    // 2. Killed outright (a crash) during the next trial: that trial stays RUNNING.
    let mut child = sweep(&config, &out).spawn().unwrap();
    let before = after_int.len();
    wait_for(&mut child, &journal, before + 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = finished(&journal);
    assert!(kept.len() > before);
    assert!(
        trials(&journal)
            .iter()
            .any(|t| t.state == TrialState::Running)
    );

    // 3. Run again: stale RUNNING trials become FAIL (interrupted) and the sweep finishes.
    let output = sweep(&config, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("resuming: marked 1 interrupted trial"),
        "{stderr}"
    );
    let all = trials(&journal);
    assert!(all.iter().all(|t| t.state.is_finished()), "{all:#?}");
    let counted: Vec<&FrozenTrial> = all
        .iter()
        .filter(|t| !t.user_attrs.contains_key("interrupted"))
        .collect();
    assert_eq!(counted.len(), 6);
    assert!(counted.iter().all(|t| t.state == TrialState::Complete));
    assert_eq!(
        all.iter()
            .filter(|t| t.user_attrs.contains_key("interrupted"))
            .count(),
        2
    );
    // Every trial finished before a stop is unchanged.
    for t in &kept {
        let now = &all[t.number as usize];
        assert_eq!(now.state, t.state);
        assert_eq!(now.values, t.values);
        assert_eq!(now.params(), t.params());
        assert_eq!(now.intermediate_values, t.intermediate_values);
    }
    // Metric series made it into the journal.
    let t0 = &all[0];
    assert!(t0.user_attrs.contains_key("series:train/loss"));
    assert!(t0.user_attrs.contains_key("series:val/accuracy"));

    // Logs: one TensorBoard run and one W&B offline run per started trial.
    let tb: Vec<_> = std::fs::read_dir(out.join("tensorboard"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(tb.len() >= 6, "{tb:?}");
    let wb = std::fs::read_dir(out.join("wandb")).unwrap().count();
    assert!(wb >= 6, "{wb} W&B runs");

    // A fourth run has nothing left to do.
    let output = sweep(&config, &out).output().unwrap();
    assert!(output.status.success());
    assert_eq!(trials(&journal).len(), all.len());
}

#[test]
fn bad_configs_fail_with_a_clear_message() {
    let dir = tmp("bad");
    for (text, needle) in [
        (CONFIG.replace("dataset: spiral", "dataset: moons"), "moons"),
        (CONFIG.replace("width: {values", "widht: {values"), "widht"),
        (
            CONFIG.replace("metric: {name: val/loss", "metric: {name: f1"),
            "f1",
        ),
        (
            CONFIG.replace("batch_size: 16", "batch_size: 0"),
            "batch_size",
        ),
    ] {
        let config = dir.join("bad.yaml");
        std::fs::write(&config, &text).unwrap();
        let output = sweep(&config, &dir.join("out")).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("sweeplab: error:") && stderr.contains(needle),
            "{needle}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let output = sweep(&dir.join("missing.yaml"), &dir.join("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// An MNIST MLP sweep on the GPU trains on the fused engine's wide kernels (784 inputs),
/// several trials at once, and every trial learns the digits.
#[test]
fn an_mnist_mlp_sweep_runs_on_the_wide_fused_kernels() {
    let dir = tmp("fused-mnist");
    let config = dir.join("mnist.yaml");
    // Named spiral-test like every study here, which `trials` reads back.
    let edits = [
        ("val/loss, goal: minimize", "val/accuracy, goal: maximize"),
        ("run_cap: 6", "run_cap: 3"),
        ("min: 0.003, max: 0.03", "min: 0.001, max: 0.005"),
        ("[8, 16]", "[64, 96]"),
        ("{value: 300}", "{value: 1}"),
        ("dataset: spiral\n  samples: 300", "dataset: mnist"),
        ("seed: 7", "seed: 3"),
        ("batch_size: 16", "batch_size: 64"),
    ];
    std::fs::write(&config, edited(&edits)).unwrap();
    let out = dir.join("out");
    let output = sweep_on(&config, &out, "gpu").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("adapter") {
        eprintln!("skipped: no wgpu adapter here: {stderr}");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("engine: fused WGSL kernels") && stderr.contains("784-feature"),
        "{stderr}"
    );
    let all = trials(&out.join("journal.log"));
    assert_eq!(all.len(), 3, "{all:#?}");
    for t in &all {
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        let acc = t.values.as_ref().and_then(|v| v.first().copied());
        assert!(acc.is_some_and(|a| a > 0.85), "one epoch of MNIST: {t:#?}");
    }
}

#[test]
fn the_fused_engine_runs_an_eligible_sweep_on_the_gpu() {
    let dir = tmp("fused");
    let config = dir.join("spiral.yaml");
    std::fs::write(&config, CONFIG.replace("{value: 300}", "{value: 20}")).unwrap();
    let out = dir.join("out");
    let mut cmd = sweep_on(&config, &out, "gpu");
    cmd.args(["--engine", "fused", "--slots", "3"]);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("adapter") {
        eprintln!("skipped: no wgpu adapter here: {stderr}");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("engine: fused WGSL kernels"), "{stderr}");
    let all = trials(&out.join("journal.log"));
    assert_eq!(all.len(), 6, "{all:#?}");
    for t in &all {
        assert_eq!(t.state, TrialState::Complete, "{t:#?}");
        assert_eq!(t.intermediate_values.len(), 20, "{t:#?}");
        assert!(t.user_attrs.contains_key("series:train/loss"));
    }
    let tb = std::fs::read_dir(out.join("tensorboard"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .count();
    assert!(tb >= 6, "{tb} TensorBoard runs");

    // --engine burn keeps burn even where the fused kernels could run.
    let out2 = dir.join("out-burn");
    let mut cmd = sweep(&config, &out2);
    cmd.args(["--engine", "burn"]);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("engine: burn, one trial at a time"),
        "{stderr}"
    );

    // Bad engine choices are errors, not panics.
    let mut cmd = sweep(&config, &dir.join("out3"));
    cmd.args(["--engine", "fused"]); // with --backend cpu from `sweep`
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--backend gpu"), "{stderr}");
}

/// `method: bayes` runs sweeplab's tuning of TPE unless `sweeplab.tpe` asks for Optuna's
/// defaults, and the sweep says which.
#[test]
fn a_bayes_sweep_says_which_tpe_it_runs() {
    for (extra, want) in [
        ("", "sampler: TPE, sweeplab's tuning"),
        ("  tpe: optuna\n", "sampler: TPE with Optuna 5.0's defaults"),
    ] {
        let dir = tmp("bayes");
        let config = dir.join("bayes.yaml");
        let yaml = edited(&[
            ("method: random", "method: bayes"),
            ("run_cap: 6", "run_cap: 2"),
            ("epochs: {value: 300}", "epochs: {value: 3}"),
        ]) + extra;
        std::fs::write(&config, yaml).unwrap();
        let out = dir.join("out");
        let output = sweep(&config, &out).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert_eq!(trials(&out.join("journal.log")).len(), 2);
    }
}
