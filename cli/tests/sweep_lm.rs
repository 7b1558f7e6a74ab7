//! `sweeplab sweep` on the language model: a small LoRA study on the Devil's Dictionary from
//! the shipped base, with each trial's metrics, trainable-parameter count and text samples
//! in the journal and the samples in TensorBoard's Text tab; a mismatched model and data set
//! is a setup error before any trial.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::tmpdir as tmp;

use std::path::Path;
use std::process::Command;

use sweeplab_core::TrialState;
use sweeplab_core::json::Json;
use sweeplab_core::storage::file::JournalFile;

const CONFIG: &str = "\
name: lora-test
method: bayes
metric: {name: val/loss, goal: minimize}
run_cap: 2
parameters:
  lora_r: {values: [2, 4]}
  lr: {distribution: log_uniform_values, min: 0.001, max: 0.01}
  lora_targets: {values: [qv, all]}
  steps: {value: 6}
  epochs: {value: 2}
  base_quant: {value: int8}
sweeplab:
  dataset: devils-dictionary
  model: lora
  seed: 3
  batch_size: 4
";

fn sweep(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sweeplab"))
        .arg("sweep")
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(["--backend", "cpu"])
        .args(extra)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap()
}

#[test]
fn a_lora_study_logs_metrics_and_text_samples() {
    let dir = tmp("sweep-lm");
    let config = dir.join("lora.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("out");
    let run = sweep(&config, &out, &["--baselines"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    // The samples show as the trials train (the progress display's lines).
    assert!(
        format!("{stdout}{stderr}").contains("trial 0 epoch 1: LEARNING, n.  "),
        "{stdout}\n{stderr}"
    );

    let st = JournalFile::new(out.join("journal.log")).load().unwrap();
    let study = st.study_by_name("lora-test").unwrap();
    assert_eq!(study.trials.len(), 2);
    for t in &study.trials {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
        assert_eq!(t.series["val/loss"].len(), 2);
        let Json::Int(params) = t.user_attrs["trainable_params"] else {
            panic!("a count")
        };
        assert!(params > 0 && params < 100_000, "{params}");
        // The int8 base: its projections at a byte a weight plus a scale per 32.
        assert_eq!(t.user_attrs["base_memory_bytes"], Json::Int(597_120));
        let samples = sweeplab_core::trial::text_samples(t);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].1, "LEARNING, n.  ");
    }
    // --baselines: after the two trials (on an int8 base), the frozen base, full
    // fine-tuning, and the best trial's adapters over the f32 and int4 bases, printed and
    // kept in the study's `baselines` attribute.
    for name in [
        "frozen base",
        "full fine-tuning",
        "LoRA, f32 base",
        "LoRA, int4 base",
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with(name)),
            "{name}: {stderr}"
        );
    }
    let baselines = sweeplab_core::baselines::baselines_of(&study.user_attrs);
    let kinds: Vec<(&str, &str)> = baselines
        .iter()
        .map(|b| (b.kind.as_str(), b.base.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("frozen", "f32"),
            ("finetune", "f32"),
            ("lora", "f32"),
            ("lora", "int4")
        ]
    );
    let frozen = baselines[0].val_loss.unwrap();
    assert!(
        (frozen - sweeplab_core::train::lm::BASE_DEVILS_VAL_LOSS).abs() < 1e-3,
        "{frozen}"
    );
    for b in &baselines[1..] {
        assert_eq!(
            (b.steps, b.batch_size),
            (6, 4),
            "the best trial's budget: {b:?}"
        );
        assert!(b.val_loss.is_some_and(f64::is_finite), "{b:?}");
    }
    assert_eq!(baselines[1].trainable_params, 387_744);
    assert_eq!(baselines[2].base_memory_bytes, 1_550_976);
    assert_eq!(baselines[3].base_memory_bytes, 431_232);
    assert_eq!(
        study.trials.len(),
        2,
        "the baselines are not the study's trials"
    );

    // The Text tab's summaries are in each trial's event file.
    let events: Vec<_> = common::files_under(&out.join("tensorboard"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("trial-000"))
        .collect();
    let bytes = std::fs::read(&events[0]).unwrap();
    assert!(
        bytes.windows(12).any(|w| w == b"samples/text"),
        "{}",
        events[0].display()
    );

    // Each trial's adapters, and `sweeplab generate` with them: the same seed writes the
    // same text; an adapter for another base is refused in one line.
    let adapter = out.join("adapters/trial-001");
    for name in ["adapter_model.safetensors", "adapter_config.json"] {
        assert!(adapter.join(name).is_file(), "{name}");
    }
    let generate = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_sweeplab"))
            .arg("generate")
            .arg("--adapter")
            .arg(dir)
            .args(["--bytes", "24", "--seed", "5"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .output()
            .unwrap()
    };
    let (a, b) = (generate(&adapter), generate(&adapter));
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8_lossy(&a.stdout);
    assert!(
        text.starts_with("LEARNING, n.  ") && text.len() > 24,
        "{text}"
    );
    let other = dir.join("other-base");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(
        adapter.join("adapter_model.safetensors"),
        other.join("adapter_model.safetensors"),
    )
    .unwrap();
    let config = std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap();
    // Trained on the int8 base: the adapter says so, and generate holds the base the same way.
    assert!(config.contains("\"base_quant\": \"int8\""), "{config}");
    let sum = sweeplab_core::train::lm::BASE_SHA256;
    std::fs::write(
        other.join("adapter_config.json"),
        config.replace(sum, &"1".repeat(64)),
    )
    .unwrap();
    let bad = generate(&other);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("trained on the base") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_classifier_on_text_or_the_lm_on_a_classifier_set_is_a_setup_error() {
    let dir = tmp("sweep-lm-bad");
    let out = dir.join("out");
    for (from, to, needle) in [
        (
            "model: lora",
            "model: mlp",
            "is text: use model: lora or finetune",
        ),
        (
            "dataset: devils-dictionary",
            "dataset: spiral",
            "use dataset: devils-dictionary",
        ),
    ] {
        let config = dir.join("bad.yaml");
        let text = CONFIG
            .replace(from, to)
            .replace("  lora_r: {values: [2, 4]}\n", "")
            .replace("  lora_targets: {values: [qv, all]}\n", "")
            .replace("  steps: {value: 6}\n", "")
            .replace("  base_quant: {value: int8}\n", "");
        std::fs::write(&config, text).unwrap();
        let run = sweep(&config, &out, &[]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!out.join("journal.log").exists(), "nothing was written");
    }
    // Baselines are the language model's: asked of a classifier study, a clear error first.
    let config = dir.join("spiral.yaml");
    std::fs::write(
        &config,
        "name: s\nmethod: random\nmetric: {name: val/loss, goal: minimize}\nrun_cap: 1\n\
         parameters:\n  lr: {value: 0.01}\nsweeplab:\n  dataset: spiral\n",
    )
    .unwrap();
    let run = sweep(&config, &out, &["--baselines"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--baselines is for language-model studies"),
        "{stderr}"
    );
    assert!(!out.join("journal.log").exists(), "nothing was written");
}

/// `--engine stack`: the study's LoRA trials train two at a time over one base, each with
/// its metrics, text samples and adapters; a search space a stack cannot hold (a quantized
/// base) is a setup error naming why; by default a LoRA study trains one trial at a time.
#[test]
fn the_stack_engine_trains_lora_trials_together_over_one_base() {
    let dir = tmp("sweep-lm-stack");
    let config = dir.join("lora.yaml");
    let f32_base = CONFIG
        .replace("run_cap: 2", "run_cap: 3")
        .replace("  base_quant: {value: int8}\n", "");
    std::fs::write(&config, &f32_base).unwrap();
    let out = dir.join("out");
    let run = sweep(&config, &out, &["--engine", "stack", "--slots", "2"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("engine: a stack of LoRA trials over one frozen base"),
        "{stderr}"
    );
    let st = JournalFile::new(out.join("journal.log")).load().unwrap();
    let study = st.study_by_name("lora-test").unwrap();
    assert_eq!(study.trials.len(), 3);
    for t in &study.trials {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
        assert_eq!(t.series["val/loss"].len(), 2);
        assert_eq!(t.series["train/loss"].len(), 6);
        assert_eq!(sweeplab_core::trial::text_samples(t).len(), 2);
        let adapter = out.join(format!("adapters/trial-{:03}", t.number));
        assert!(
            adapter.join("adapter_model.safetensors").is_file(),
            "{adapter:?}"
        );
    }
    // Trials 0 and 1 ran together: 1 started before 0 ended.
    let (t0, t1) = (&study.trials[0], &study.trials[1]);
    assert!(t1.datetime_start < t0.datetime_complete, "{t0:?}\n{t1:?}");

    let quantized = dir.join("quantized.yaml");
    std::fs::write(&quantized, CONFIG).unwrap();
    let run = sweep(&quantized, &dir.join("out-q"), &["--engine", "stack"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--engine stack") && stderr.contains("a quantized base"),
        "{stderr}"
    );
    let run = sweep(&config, &dir.join("out-default"), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "engine: burn's optimisers, one trial at a time on the language model's CPU path"
        ),
        "{stderr}"
    );
}
