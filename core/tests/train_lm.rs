//! The language model on the CPU backend (Flex): reproducible pretraining, LoRA and full
//! fine-tuning trials of a study on the Devil's Dictionary (metrics, text samples, the
//! trainable-parameter count), a base with the wrong checksum refused, and the shipped base
//! reaching its recorded loss.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic
#![cfg(all(feature = "train", feature = "flex"))]

mod common;
use common::{Recording, ask_and_train_with, plan_of, random_study};

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use burn::tensor::Device;
use futures_lite::future::block_on;
use sweeplab_core::json::Json;
use sweeplab_core::train::lm::stack::stack_steps;
use sweeplab_core::train::lm::train::{Corpus, PretrainSpec, pretrain};
use sweeplab_core::train::lm::trial::{
    EVAL_WINDOWS, TEXT_SAMPLES_ATTR, TRAINABLE_PARAMS_ATTR, evaluate_lm, lm_steps,
};
use sweeplab_core::train::lm::weights::{load_base, save_base, sha256_hex};
use sweeplab_core::train::lm::{
    BASE_DEVILS_VAL_LOSS, BASE_FILE, BASE_SHA256, BaseQuant, LmConfig, LoraSettings, LoraTargets,
};
use sweeplab_core::train::{
    CancelToken, DataSet, DataSpec, ModelSpec, Objective, OptimizerKind, ProgressEvent, TextCorpus,
    TrialPlan, train_trial,
};
use sweeplab_core::{StudyDirection, TrialState};

/// Flex has one random number generator per process: the tests here train one at a time,
/// so that each is reproducible.
fn flex_rng() -> MutexGuard<'static, ()> {
    static FLEX_RNG: Mutex<()> = Mutex::new(());
    FLEX_RNG.lock().unwrap_or_else(|p| p.into_inner())
}

fn lm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../static/data/lm")
}

fn devils() -> String {
    std::fs::read_to_string(lm_dir().join(TextCorpus::DevilsDictionary.file())).unwrap()
}

fn tiny_spec(steps: usize) -> PretrainSpec {
    PretrainSpec {
        config: LmConfig {
            d_model: 16,
            layers: 1,
            heads: 2,
            d_ff: 32,
            context: 16,
        },
        steps,
        batch: 8,
        lr: 1e-2,
        warmup: 5,
        weight_decay: 0.01,
        seed: 7,
        eval_every: 30,
    }
}

#[test]
fn pretraining_is_reproducible_and_learns() {
    let _turn = flex_rng();
    let device = Device::flex();
    let text = "the cat sat on the mat. the dog sat on the log.\n".repeat(20);
    let corpus = Corpus::split(&text, 0.2, 16).unwrap();
    let spec = tiny_spec(60);
    let mut seen = Vec::new();
    let (a, loss_a) = block_on(pretrain(&spec, &corpus, &device, |p| seen.push(p))).unwrap();
    let (b, loss_b) = block_on(pretrain(&spec, &corpus, &device, |_| {})).unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(loss_a, loss_b);
    let config = spec.config;
    let (fa, fb) = (
        block_on(save_base(&a, &config, &[])).unwrap(),
        block_on(save_base(&b, &config, &[])).unwrap(),
    );
    assert_eq!(
        sha256_hex(&fa),
        sha256_hex(&fb),
        "the same seed makes the same file"
    );
    assert!(seen[0].val_loss < 5.0 && loss_a < 2.0, "{seen:?}");
}

/// A text set of the Devil's Dictionary on a tiny base pretrained here for a few steps.
fn tiny_text_set(device: &Device) -> DataSet {
    let text = devils();
    let corpus = Corpus::split(&text[..20_000], 0.1, 16).unwrap();
    let spec = tiny_spec(20);
    let (base, _) = block_on(pretrain(&spec, &corpus, device, |_| {})).unwrap();
    let bytes = block_on(save_base(&base, &spec.config, &[])).unwrap();
    let sum = sha256_hex(&bytes);
    DataSpec::Text(TextCorpus::DevilsDictionary)
        .load_text(&text, bytes, &sum)
        .unwrap()
}

/// The Devil's Dictionary on the shipped base, as the study trains it.
fn shipped_text_set() -> DataSet {
    let bytes = std::fs::read(lm_dir().join(BASE_FILE)).unwrap();
    DataSpec::Text(TextCorpus::DevilsDictionary)
        .load_text(&devils(), bytes, BASE_SHA256)
        .unwrap()
}

fn lm_plan(lora: Option<LoraSettings>, steps: usize, epochs: usize) -> TrialPlan {
    plan_of(
        ModelSpec::Lm {
            lora,
            steps,
            quant: None,
        },
        OptimizerKind::AdamW,
        3e-3,
        4,
        epochs,
        3,
    )
}

fn run(
    study: &mut sweeplab_core::Study,
    plan: &TrialPlan,
    data: &DataSet,
) -> (u64, Vec<ProgressEvent>) {
    let number = study.ask().unwrap();
    let mut events = Vec::new();
    let mut hooks = |e: &ProgressEvent| events.push(e.clone());
    block_on(train_trial(
        study,
        number,
        plan,
        data,
        &Device::flex(),
        Objective::ValLoss,
        &mut hooks,
        &CancelToken::new(),
    ))
    .unwrap();
    (number, events)
}

#[test]
fn lora_and_full_fine_tuning_trials_log_metrics_and_text_samples() {
    let _turn = flex_rng();
    let device = Device::flex();
    let data = tiny_text_set(&device);
    let mut study = random_study("lm", StudyDirection::Minimize, 0);
    let lora = LoraSettings {
        r: 4,
        alpha: 8.0,
        dropout: 0.1,
        targets: LoraTargets::Qv,
    };
    let (n, events) = run(&mut study, &lm_plan(Some(lora), 12, 3), &data);
    let t = &study.trials()[n as usize];
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.series["val/loss"].len(), 3);
    assert_eq!(t.series["val/accuracy"].len(), 3);
    // Every step's training loss, read back every few steps (and shown live).
    let steps: Vec<i64> = t.series["train/loss"].iter().map(|p| p.step).collect();
    assert_eq!(steps, (1..=12).collect::<Vec<i64>>());
    let live_losses = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Step { loss: Some(_), .. }))
        .count();
    assert!(live_losses >= 3, "{live_losses} steps carried a loss");
    assert_eq!(t.values, Some(vec![t.series["val/loss"][2].value]));
    // Adapters on q and v of one block of width 16: 2 × (4·16 + 16·4).
    assert_eq!(t.user_attrs[TRAINABLE_PARAMS_ATTR], Json::Int(256));
    let Json::Array(samples) = &t.user_attrs[TEXT_SAMPLES_ATTR] else {
        panic!("text samples are a list")
    };
    assert_eq!(samples.len(), 3);
    let texts: Vec<&ProgressEvent> = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::TextSample { .. }))
        .collect();
    assert_eq!(texts.len(), 3);
    let ProgressEvent::TextSample { prompt, text, .. } = texts[2] else {
        unreachable!()
    };
    assert_eq!(prompt, "LEARNING, n.  ");
    assert!(!text.is_empty());
    assert_eq!(samples[2].get("text"), Some(&Json::Str(text.clone())));

    // Full fine-tuning trains every weight.
    let (m, _) = run(&mut study, &lm_plan(None, 6, 2), &data);
    let t = &study.trials()[m as usize];
    assert_eq!(t.state, TrialState::Complete);
    let Json::Int(all) = t.user_attrs[TRAINABLE_PARAMS_ATTR] else {
        panic!("a count")
    };
    assert!(all > 10_000, "{all}");
}

#[test]
fn a_base_with_another_checksum_is_refused_with_a_clear_error() {
    let _turn = flex_rng();
    let device = Device::flex();
    let good = tiny_text_set(&device);
    let text = good.text.as_ref().unwrap();
    let mut bytes = text.base.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let data = DataSpec::Text(TextCorpus::DevilsDictionary)
        .load_text(&devils(), bytes, &text.base_sha256)
        .unwrap();
    let mut study = random_study("lm", StudyDirection::Minimize, 0);
    let number = study.ask().unwrap();
    let e = block_on(train_trial(
        &mut study,
        number,
        &lm_plan(None, 2, 1),
        &data,
        &device,
        Objective::ValLoss,
        &mut |_: &ProgressEvent| {},
        &CancelToken::new(),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
}

#[test]
fn the_shipped_base_reaches_its_recorded_loss_on_the_fine_tuning_text() {
    let _turn = flex_rng();
    let device = Device::flex();
    let bytes = std::fs::read(lm_dir().join(BASE_FILE)).unwrap();
    let (base, config, meta) = load_base(&bytes, BASE_FILE, Some(BASE_SHA256), &device).unwrap();
    assert_eq!(config.context, 64);
    assert!(meta.contains_key("val_loss"));
    let corpus = Corpus::split(
        &devils(),
        TextCorpus::DevilsDictionary.valid_fraction(),
        512,
    )
    .unwrap();
    let (loss, _) = block_on(evaluate_lm(&base, &corpus.valid, EVAL_WINDOWS, &device)).unwrap();
    assert!(
        (loss - BASE_DEVILS_VAL_LOSS).abs() < 1e-3,
        "{loss} vs {BASE_DEVILS_VAL_LOSS}"
    );
    // Held quantized (QLoRA's frozen base), the base loses little: the stated tolerances of
    // the int8 and int4 bases, in nats per byte, against f32.
    for (q, tolerance) in [(BaseQuant::Int8, 0.005), (BaseQuant::Int4, 0.05)] {
        let quantized = load_base(&bytes, BASE_FILE, Some(BASE_SHA256), &device)
            .unwrap()
            .0
            .quantize_base(q)
            .unwrap();
        let (qloss, _) = block_on(evaluate_lm(
            &quantized,
            &corpus.valid,
            EVAL_WINDOWS,
            &device,
        ))
        .unwrap();
        eprintln!(
            "{q:?}: val/loss {qloss:.4} (f32 {loss:.4}), base {} bytes (f32 {})",
            quantized.base_bytes(),
            base.base_bytes()
        );
        assert!((qloss - loss).abs() < tolerance, "{q:?}: {qloss} vs {loss}");
        assert!(quantized.base_bytes() < base.base_bytes() / 2, "{q:?}");
    }
}

#[test]
fn a_lora_study_is_estimated_from_measured_steps_evaluations_and_samples() {
    let _turn = flex_rng();
    let device = Device::flex();
    let data = shipped_text_set();
    let lora = LoraSettings {
        r: 4,
        alpha: 8.0,
        dropout: 0.0,
        targets: LoraTargets::Qv,
    };
    let plan = lm_plan(Some(lora), 40, 4);
    let (tokens_per_sec, secs_per_epoch) = block_on(sweeplab_core::train::lm::trial::measure_lm(
        &plan,
        data.text.as_ref().unwrap(),
        &device,
        1,
        2,
    ))
    .unwrap();
    assert!(
        tokens_per_sec > 0.0 && tokens_per_sec.is_finite(),
        "{tokens_per_sec}"
    );
    // An epoch: 10 steps of 4 windows of 64 bytes, an evaluation and a sample.
    let steps_alone = 10.0 * 4.0 * 64.0 / tokens_per_sec;
    assert!(
        secs_per_epoch > steps_alone && secs_per_epoch.is_finite(),
        "{secs_per_epoch} vs {steps_alone}"
    );
    // The steps alone (what the browser benchmark times): each timed step's loss, read back
    // at the end, is the shipped base's on the new text (it starts near 2 nats per byte),
    // and the rate is the timed bytes over the timed seconds.
    let (_, m) = block_on(sweeplab_core::train::lm::trial::lm_steps(
        &plan,
        data.text.as_ref().unwrap(),
        &device,
        1,
        3,
    ))
    .unwrap();
    assert_eq!(m.losses.len(), 3, "{m:?}");
    assert!(m.losses.iter().all(|l| (1.0..3.5).contains(l)), "{m:?}");
    let rate = 3.0 * 4.0 * 64.0 / m.seconds;
    assert!((m.tokens_per_sec - rate).abs() <= 1e-9 * rate, "{m:?}");
}

/// A LoRA trial's histograms cover its adapters only (PEFT's names), after every evaluation.
#[test]
fn a_lora_trial_histograms_its_adapters_after_each_evaluation() {
    let _turn = flex_rng();
    let device = Device::flex();
    let data = tiny_text_set(&device);
    let mut study = random_study("lm-hist", StudyDirection::Minimize, 0);
    let lora = LoraSettings {
        r: 2,
        alpha: 4.0,
        dropout: 0.0,
        targets: LoraTargets::Qv,
    };
    let mut hooks = Recording {
        histograms: true,
        ..Recording::default()
    };
    ask_and_train_with(
        &mut study,
        &lm_plan(Some(lora), 6, 2),
        &data,
        &device,
        &mut hooks,
    );
    let t = &study.trials()[0];
    assert_eq!(t.state, TrialState::Complete);
    let h = sweeplab_core::histogram::trial_histograms(t);
    let mut want = Vec::new();
    for kind in ["gradients", "weights"] {
        for proj in ["q_proj", "v_proj"] {
            for m in ["lora_A", "lora_B"] {
                want.push(format!("{kind}/layers.0.self_attn.{proj}.{m}.weight"));
            }
        }
    }
    assert_eq!(h.keys().cloned().collect::<Vec<_>>(), want);
    for (tag, points) in &h {
        assert_eq!(
            points.iter().map(|p| p.step).collect::<Vec<_>>(),
            [1, 2],
            "{tag}"
        );
        // A is [2, 16] and B is [16, 2]: 32 values each.
        assert!(points.iter().all(|p| p.histogram.num == 32), "{tag}");
    }
    // B starts at zero and moves away from it; its gradients are not all zero.
    let b = &h["weights/layers.0.self_attn.q_proj.lora_B.weight"];
    assert!(b[1].histogram.sum_squares > 0.0);
    assert!(
        h["gradients/layers.0.self_attn.q_proj.lora_B.weight"][0]
            .histogram
            .sum_squares
            > 0.0
    );
}

/// Front-end hooks that do nothing (the study loop's defaults).
struct Silent;
impl sweeplab_core::train::TrainHooks for Silent {}
impl sweeplab_core::train::SweepHooks for Silent {}

/// After a LoRA study on the shipped base, the baselines train with its best trial's budget
/// in studies of their own, and are stored in the study's user attribute through the store.
#[test]
fn baselines_train_with_the_best_trials_budget_and_are_kept_in_the_study() {
    use sweeplab_core::store::Forward;
    use sweeplab_core::train::lm::baselines::{BASELINES_ATTR, baselines_of, baselines_to_json};
    use sweeplab_core::train::lm::trial::BASE_MEMORY_ATTR;
    use sweeplab_core::train::{Engine, SweepSpec, run_baselines, run_study};
    use sweeplab_core::{Distribution, SearchSpace};

    let _turn = flex_rng();
    let device = Device::flex();
    let data = shipped_text_set();
    let mut space = SearchSpace::new();
    space.insert("lr".into(), Distribution::float_log(1e-3, 2e-2));
    let spec = SweepSpec {
        space,
        model: Json::Str("lora".into()),
        settings: [
            ("steps", Json::Int(4)),
            ("batch_size", Json::Int(2)),
            ("epochs", Json::Int(1)),
            ("lora_r", Json::Int(4)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        seed: 0,
        objective: Objective::ValLoss,
        n_trials: 2,
        time_limit: None,
    };
    let mut study = random_study("lora", StudyDirection::Minimize, 1);
    let mut stored = Vec::new();
    let mut store = Forward(|s: &mut sweeplab_core::Study| stored.extend(s.take_pending()));
    let cancel = CancelToken::new();

    // Before any trial completed there is no budget to take.
    let early = block_on(run_baselines(
        &mut study,
        &mut store,
        &mut Silent,
        &spec,
        &data,
        &device,
        &cancel,
        |_, _, _| {},
    ));
    let why = early.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(why.contains("no COMPLETE trial"), "{why}");

    block_on(run_study(
        &mut study,
        &mut store,
        &mut Silent,
        &spec,
        &data,
        Engine::Burn(&device),
        &cancel,
    ))
    .unwrap();
    let best = study.best_trial().unwrap().clone();
    let mut announced = Vec::new();
    let baselines = block_on(run_baselines(
        &mut study,
        &mut store,
        &mut Silent,
        &spec,
        &data,
        &device,
        &cancel,
        |name, i, n| announced.push((name.to_string(), i, n)),
    ))
    .unwrap();
    let names: Vec<&str> = baselines.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "frozen base",
            "full fine-tuning",
            "LoRA, int8 base",
            "LoRA, int4 base"
        ]
    );
    assert_eq!(announced.len(), 4);
    assert_eq!(announced[3], ("LoRA, int4 base".to_string(), 3, 4));
    assert_eq!(
        study.trials().len(),
        2,
        "the baselines are not the study's trials"
    );

    let frozen = &baselines[0];
    assert!(
        (frozen.val_loss.unwrap() - BASE_DEVILS_VAL_LOSS).abs() < 1e-3,
        "{frozen:?}"
    );
    assert_eq!((frozen.trainable_params, frozen.steps), (0, 0));
    let f32_bytes = best.user_attrs[BASE_MEMORY_ATTR].as_i64().unwrap() as u64;
    assert_eq!(frozen.base_memory_bytes, f32_bytes);

    let full = &baselines[1];
    assert_eq!(
        (full.kind.as_str(), full.base.as_str()),
        ("finetune", "f32")
    );
    assert_eq!(full.trainable_params, 387_744, "every weight of the base");
    assert_eq!(
        (full.steps, full.batch_size),
        (4, 2),
        "the best trial's budget"
    );
    assert!(full.lr <= 0.003 + 1e-12, "{}", full.lr);
    assert!(full.val_loss.is_some_and(f64::is_finite), "{full:?}");

    let lora_params = best.user_attrs[TRAINABLE_PARAMS_ATTR].as_i64().unwrap() as u64;
    let best_lr = best.params()["lr"].as_f64().unwrap();
    for (b, base) in baselines[2..].iter().zip(["int8", "int4"]) {
        assert_eq!((b.kind.as_str(), b.base.as_str()), ("lora", base));
        assert_eq!(b.trainable_params, lora_params, "{b:?}");
        assert_eq!(b.lr, best_lr);
        assert!(b.val_loss.is_some_and(f64::is_finite), "{b:?}");
        assert!(b.base_memory_bytes < f32_bytes / 2, "{b:?}");
    }
    assert!(baselines[3].base_memory_bytes < baselines[2].base_memory_bytes);

    // The store got them: a replay of its operations holds the attribute.
    let mut replay = sweeplab_core::storage::JournalStorage::new();
    for op in &stored {
        replay.apply(op).unwrap();
    }
    let attrs = &replay.study(0).unwrap().user_attrs;
    assert_eq!(attrs[BASELINES_ATTR], baselines_to_json(&baselines));
    assert_eq!(baselines_of(attrs), baselines);
}

#[test]
fn a_stack_of_trials_trains_each_as_its_own_trial_step_does() {
    let _turn = flex_rng();
    let device = Device::flex();
    let data = tiny_text_set(&device);
    let text = data.text.as_ref().unwrap();
    let lora = |r, targets| LoraSettings {
        r,
        alpha: 2.0 * r as f64,
        dropout: 0.0,
        targets,
    };
    let plan = |l: LoraSettings, lr: f64, seed: u64| {
        plan_of(
            ModelSpec::Lm {
                lora: Some(l),
                steps: 100,
                quant: None,
            },
            OptimizerKind::Adam,
            lr,
            4,
            2,
            seed,
        )
    };
    let plans = [
        plan(lora(2, LoraTargets::Qv), 3e-3, 11),
        plan(lora(4, LoraTargets::All), 1e-2, 12),
        plan(lora(1, LoraTargets::Qkvo), 5e-3, 13),
    ];
    let (stack, stacked) = block_on(stack_steps(&plans, text, &device, 1, 4)).unwrap();
    assert_eq!(stack.trials(), 3);
    for (k, p) in plans.iter().enumerate() {
        let (_, alone) = block_on(lm_steps(p, text, &device, 1, 4)).unwrap();
        assert_eq!(alone.losses.len(), 4);
        let diff = alone
            .losses
            .iter()
            .zip(&stacked[k].losses)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            diff < 1e-4,
            "trial {k}: alone {:?}, stacked {:?}",
            alone.losses,
            stacked[k].losses
        );
    }
    // Not what a stack can hold: another batch size, another optimiser.
    let mut other = plans[1].clone();
    other.batch_size = 8;
    let e = block_on(stack_steps(&[plans[0].clone(), other], text, &device, 0, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("share the batch size"), "{e}");
    let mut sgd = plans[1].clone();
    sgd.optimizer = OptimizerKind::Sgd;
    let e = block_on(stack_steps(&[sgd], text, &device, 0, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("train with Adam or AdamW"), "{e}");
}

/// A LoRA study on the stack engine: three trials at a time over one base, a finished
/// trial's slot taken by the next, each trial trained as it is alone (the same parameters,
/// seeds and windows: the same values, to float rounding), with its metrics, text samples
/// and attributes; a search space a stack cannot hold is named.
#[test]
fn a_lora_study_on_the_stack_engine_trains_each_trial_as_alone() {
    use sweeplab_core::store::Forward;
    use sweeplab_core::train::lm::stack_sweep::StackSweep;
    use sweeplab_core::train::{Engine, SweepSpec, run_study};
    use sweeplab_core::trial::RUN_CONFIG_ATTR;
    use sweeplab_core::{Distribution, SearchSpace};

    let _turn = flex_rng();
    let device = Device::flex();
    let data = tiny_text_set(&device);
    let mut space = SearchSpace::new();
    space.insert("lr".into(), Distribution::float_log(1e-3, 3e-2));
    space.insert("lora_r".into(), Distribution::int(1, 4));
    space.insert(
        "lora_targets".into(),
        Distribution::categorical(["qv", "all"]),
    );
    // Trials of different lengths: slots free at different steps.
    space.insert("steps".into(), Distribution::int_step(4, 8, 2));
    let spec = SweepSpec {
        space,
        model: Json::Str("lora".into()),
        settings: [
            ("batch_size", Json::Int(2)),
            ("epochs", Json::Int(2)),
            ("lora_dropout", Json::Float(0.0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        seed: 0,
        objective: Objective::ValLoss,
        n_trials: 5,
        time_limit: None,
    };
    let room = spec.stack_room(&data).unwrap();
    assert_eq!(room.batch, 2);

    let mut studies = Vec::new();
    for stacked in [true, false] {
        let mut study = random_study("lora", StudyDirection::Minimize, 1);
        let mut store = Forward(|s: &mut sweeplab_core::Study| drop(s.take_pending()));
        let mut sweep = StackSweep::new(room, &device, 3);
        let engine = if stacked {
            Engine::Stack(&mut sweep)
        } else {
            Engine::Burn(&device)
        };
        let end = block_on(run_study(
            &mut study,
            &mut store,
            &mut Silent,
            &spec,
            &data,
            engine,
            &CancelToken::new(),
        ))
        .unwrap();
        assert_eq!(end.describe(), "all trials done");
        studies.push(study);
    }
    let (stack, alone) = (&studies[0], &studies[1]);
    assert_eq!(stack.trials().len(), 5);
    let steps: Vec<i64> = stack
        .trials()
        .iter()
        .map(|t| t.param_internal("steps").unwrap() as i64)
        .collect();
    assert!(
        steps.iter().any(|s| *s != steps[0]),
        "trials of one length: {steps:?}"
    );
    for (s, a) in stack.trials().iter().zip(alone.trials()) {
        let n = s.number;
        assert_eq!(s.state, TrialState::Complete, "trial {n}");
        assert_eq!(s.params(), a.params(), "trial {n}'s parameters");
        let (vs, va) = (s.value().unwrap(), a.value().unwrap());
        assert!(
            (vs - va).abs() < 1e-4,
            "trial {n}: {vs} stacked, {va} alone"
        );
        let train: Vec<i64> = s.series["train/loss"].iter().map(|p| p.step).collect();
        assert_eq!(
            train,
            (1..=steps[n as usize]).collect::<Vec<_>>(),
            "trial {n}"
        );
        for (p, q) in s.series["train/loss"].iter().zip(&a.series["train/loss"]) {
            assert!(
                (p.value - q.value).abs() < 1e-4,
                "trial {n} step {}",
                p.step
            );
        }
        assert_eq!(s.series["val/loss"].len(), 2);
        assert_eq!(s.user_attrs[TEXT_SAMPLES_ATTR].as_array().unwrap().len(), 2);
        assert_eq!(
            s.user_attrs[TRAINABLE_PARAMS_ATTR],
            a.user_attrs[TRAINABLE_PARAMS_ATTR]
        );
        let engine = s.system_attrs[RUN_CONFIG_ATTR].as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k == "engine")
                .map(|(_, v)| v.clone())
        });
        assert_eq!(engine, Some(Json::Str("stack".into())));
    }

    // A stop ends the running trials as interrupted (stored, not counted); running the study
    // again finishes it.
    struct StopAfterOne(usize);
    impl sweeplab_core::train::TrainHooks for StopAfterOne {}
    impl sweeplab_core::train::SweepHooks for StopAfterOne {
        fn trial_ended(
            &mut self,
            _: &sweeplab_core::Study,
            _: &sweeplab_core::train::TrialEnd,
        ) -> Result<(), sweeplab_core::train::RunnerError> {
            self.0 += 1;
            Ok(())
        }
        fn stop_requested(&self) -> bool {
            self.0 >= 1
        }
    }
    let mut study = random_study("lora", StudyDirection::Minimize, 1);
    let mut store = Forward(|s: &mut sweeplab_core::Study| drop(s.take_pending()));
    let mut hooks = StopAfterOne(0);
    let end = block_on(run_study(
        &mut study,
        &mut store,
        &mut hooks,
        &spec,
        &data,
        Engine::Stack(&mut StackSweep::new(room, &device, 3)),
        &CancelToken::new(),
    ))
    .unwrap();
    assert_eq!(end.describe(), "stopped");
    let states: Vec<TrialState> = study.trials().iter().map(|t| t.state).collect();
    let interrupted = study
        .trials()
        .iter()
        .filter(|t| {
            t.user_attrs
                .contains_key(sweeplab_core::train::INTERRUPTED_ATTR)
        })
        .count();
    assert!(
        !states.contains(&TrialState::Running) && interrupted >= 2,
        "{states:?}, {interrupted} interrupted"
    );
    assert_eq!(hooks.0, 1 + interrupted, "every ended trial was handed on");
    let end = block_on(run_study(
        &mut study,
        &mut store,
        &mut Silent,
        &spec,
        &data,
        Engine::Stack(&mut StackSweep::new(room, &device, 3)),
        &CancelToken::new(),
    ))
    .unwrap();
    assert_eq!(end.describe(), "all trials done");
    assert_eq!(sweeplab_core::train::counted(&study), 5);

    // What a stack cannot hold is named.
    let mut searched_batch = spec.clone();
    searched_batch
        .space
        .insert("batch_size".into(), Distribution::int(2, 4));
    let why = searched_batch.stack_room(&data).unwrap_err();
    assert!(why.contains("batch size"), "{why}");
    let mut finetune = spec.clone();
    finetune.model = Json::Str("finetune".into());
    finetune.settings.retain(|(k, _)| !k.starts_with("lora"));
    finetune.space.retain(|k, _| !k.starts_with("lora"));
    let why = finetune.stack_room(&data).unwrap_err();
    assert!(why.contains("full fine-tuning"), "{why}");
}
