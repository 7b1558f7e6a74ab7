//! The training engine on the CPU backend (Flex): loss falls on every data set, MNIST reaches
//! 95%, pruning stops a bad trial, a diverging learning rate fails the trial and the study
//! goes on, cancellation, and and trial plans.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic
#![cfg(all(feature = "train", feature = "flex"))]

mod common;
use common::{Recording, ask_and_train, ask_and_train_with, plan_of, random_study};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use futures_lite::future::block_on;
use sweeplab_core::histogram::{has_histograms, trial_histograms};
use sweeplab_core::json::Json;
use sweeplab_core::train::data::generate_toy;
use sweeplab_core::train::{
    Activation, BackendChoice, CancelToken, DataSet, FAIL_REASON_ATTR, INTERRUPTED_ATTR, Mnist,
    ModelSpec, Objective, OptimizerKind, ProgressEvent, Toy2d, TrialPlan, select_backend,
    train_trial,
};
use sweeplab_core::{PercentilePruner, Study, StudyDirection, TrialState};

fn mnist() -> Mnist {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../static/data/mnist10k");
    Mnist::load_dir(&dir).expect("the shipped MNIST-10k parses")
}

/// A ReLU MLP.
fn mlp(layers: usize, width: usize, dropout: f64) -> ModelSpec {
    common::mlp(layers, width, Activation::Relu, dropout)
}

/// A plan seeded with 1.
fn plan(
    model: ModelSpec,
    optimizer: OptimizerKind,
    lr: f64,
    batch: usize,
    epochs: usize,
) -> TrialPlan {
    plan_of(model, optimizer, lr, batch, epochs, 1)
}

fn study(direction: StudyDirection) -> Study {
    random_study("t", direction, 0)
}

/// burn's Flex device has one random number generator per process, which `train_trial`
/// seeds from the plan: trials training at once on parallel test threads would draw each
/// other's initial weights and dropout masks, so the tests here train one at a time (as the
/// CLI and each browser worker do) and every result is reproducible.
fn flex_rng() -> MutexGuard<'static, ()> {
    static FLEX_RNG: Mutex<()> = Mutex::new(());
    FLEX_RNG.lock().unwrap_or_else(|p| p.into_inner())
}

/// Trains one trial; returns its final state and the study.
fn train(
    study: &mut Study,
    p: &TrialPlan,
    data: &DataSet,
    objective: Objective,
) -> sweeplab_core::train::TrialOutcome {
    let _turn = flex_rng();
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    ask_and_train(study, p, data, &backend.device, objective)
}

fn series(study: &Study, n: u64, name: &str) -> Vec<f64> {
    study.trials()[n as usize].series[name]
        .iter()
        .map(|p| p.value)
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn loss_falls_on_every_toy_set() {
    for kind in Toy2d::ALL {
        let data = generate_toy(kind, 500, 0.1, 0.2, 3);
        let mut s = study(StudyDirection::Minimize);
        // The two spirals need more passes than the other sets.
        let epochs = if kind == Toy2d::Spiral { 80 } else { 25 };
        let p = plan(mlp(2, 32, 0.0), OptimizerKind::Adam, 0.02, 16, epochs);
        let out = train(&mut s, &p, &data, Objective::ValLoss);
        assert_eq!(out.state, TrialState::Complete, "{kind:?}");
        let losses = series(&s, 0, "train/loss");
        let steps = epochs * 400usize.div_ceil(16);
        assert_eq!(
            losses.len(),
            steps,
            "{kind:?}: one train/loss point per step"
        );
        let first = mean(&losses[..25]);
        let last = mean(&losses[losses.len() - 25..]);
        assert!(last < 0.6 * first, "{kind:?}: train loss {first} -> {last}");
        let acc = series(&s, 0, "val/accuracy");
        assert_eq!(acc.len(), epochs);
        let val = series(&s, 0, "val/loss");
        let end = epochs - 1;
        // Below chance (ln 2 = 0.69) by far: the validation loss fell too.
        assert!(val[end] < 0.55, "{kind:?}: val loss {val:?}");
        assert!(acc[end] > 0.8, "{kind:?}: val accuracy {}", acc[end]);
        assert_eq!(s.trials()[0].value(), Some(val[end]));
    }
}

#[test]
fn shipped_mnist_parses_with_the_readme_class_counts() {
    let m = mnist();
    assert_eq!(m.len(), 10_000);
    assert_eq!((m.rows, m.cols), (28, 28));
    let mut counts = [0usize; 10];
    for &l in &m.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    let d = m.split(8_000);
    assert_eq!((d.train.len(), d.valid.len()), (8_000, 2_000));
    assert_eq!(d.train.dim, 784);
}

#[test]
fn mnist_mlp_reaches_95_percent() {
    let data = mnist().split(8_000);
    let mut s = study(StudyDirection::Maximize);
    let p = TrialPlan {
        weight_decay: 0.0,
        ..plan(mlp(1, 256, 0.2), OptimizerKind::Adam, 1e-3, 64, 12)
    };
    let out = train(&mut s, &p, &data, Objective::ValAccuracy);
    assert_eq!(out.state, TrialState::Complete);
    let acc = out.value.unwrap();
    assert!(acc >= 0.95, "validation accuracy {acc}");
    let losses = series(&s, 0, "train/loss");
    assert!(mean(&losses[losses.len() - 50..]) < 0.5 * mean(&losses[..50]));
}

#[test]
fn cnn_loss_falls_on_mnist() {
    let m = mnist();
    let mut data = m.split(8_000);
    // A slice keeps this quick: 1,024 training and 512 validation images.
    data.train.features.truncate(1024 * 784);
    data.train.labels.truncate(1024);
    data.valid.features.truncate(512 * 784);
    data.valid.labels.truncate(512);
    let mut s = study(StudyDirection::Minimize);
    let p = plan(
        ModelSpec::Cnn { dropout: 0.25 },
        OptimizerKind::Adam,
        1e-3,
        64,
        2,
    );
    let out = train(&mut s, &p, &data, Objective::ValLoss);
    assert_eq!(out.state, TrialState::Complete);
    let losses = series(&s, 0, "train/loss");
    assert_eq!(losses.len(), 32);
    assert!(mean(&losses[24..]) < 0.6 * mean(&losses[..4]), "{losses:?}");
    let acc = series(&s, 0, "val/accuracy");
    assert!(acc[1] > 0.7, "val accuracy {acc:?}");
}

#[test]
fn pruning_stops_a_bad_trial_early() {
    let data = generate_toy(Toy2d::Circle, 400, 0.05, 0.25, 5);
    let mut s = study(StudyDirection::Minimize);
    s.set_pruner(Box::new(PercentilePruner::median(1, 1, 1, 1).unwrap()));
    let good = plan(mlp(2, 16, 0.0), OptimizerKind::Adam, 0.02, 32, 8);
    assert_eq!(
        train(&mut s, &good, &data, Objective::ValLoss).state,
        TrialState::Complete
    );
    // A learning rate this small barely moves the weights: worse than the median at once.
    let bad = plan(mlp(2, 16, 0.0), OptimizerKind::Sgd, 1e-6, 32, 8);
    let out = train(&mut s, &bad, &data, Objective::ValLoss);
    assert_eq!(out.state, TrialState::Pruned);
    assert!(out.epochs < 8, "stopped after {} epochs", out.epochs);
    let t = &s.trials()[1];
    assert_eq!(t.state, TrialState::Pruned);
    assert_eq!(t.intermediate_values.len(), out.epochs);
    assert_eq!(t.series["val/loss"].len(), out.epochs);
}

#[test]
fn diverging_lr_fails_the_trial_and_the_study_goes_on() {
    let data = generate_toy(Toy2d::Xor, 400, 0.1, 0.25, 2);
    let mut s = study(StudyDirection::Minimize);
    let diverge = plan(mlp(2, 32, 0.0), OptimizerKind::Sgd, 1e9, 32, 5);
    let out = train(&mut s, &diverge, &data, Objective::ValLoss);
    assert_eq!(out.state, TrialState::Fail);
    let t = &s.trials()[0];
    assert_eq!(t.state, TrialState::Fail);
    let reason = t.user_attrs[FAIL_REASON_ATTR].as_str().unwrap().to_string();
    assert!(
        reason.contains("train/loss became") && reason.contains("learning rate"),
        "{reason}"
    );
    let ok = plan(mlp(2, 32, 0.0), OptimizerKind::Adam, 0.01, 32, 3);
    assert_eq!(
        train(&mut s, &ok, &data, Objective::ValLoss).state,
        TrialState::Complete
    );
    assert_eq!(s.best_trial().map(|t| t.number), Some(1));
}

#[test]
fn cancel_stops_between_steps() {
    let data = generate_toy(Toy2d::Gauss, 400, 0.1, 0.25, 2);
    let mut s = study(StudyDirection::Minimize);
    let _turn = flex_rng();
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    let n = s.ask().unwrap();
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    let mut steps = 0;
    let mut hook = |e: &ProgressEvent| {
        if let ProgressEvent::Step { .. } = e {
            steps += 1;
            if steps == 15 {
                c2.cancel();
            }
        }
    };
    let p = plan(mlp(1, 8, 0.0), OptimizerKind::Adam, 0.01, 10, 50);
    let out = block_on(train_trial(
        &mut s,
        n,
        &p,
        &data,
        &backend.device,
        Objective::ValLoss,
        &mut hook,
        &cancel,
    ))
    .unwrap();
    assert!(out.cancelled);
    assert_eq!(out.state, TrialState::Fail);
    assert_eq!(steps, 15);
    let t = &s.trials()[0];
    assert_eq!(t.user_attrs[INTERRUPTED_ATTR], Json::Bool(true));
    assert!(t.series["train/loss"].len() <= 15);
}

#[test]
fn trial_plans_resolve_from_params() {
    let mut params = BTreeMap::new();
    params.insert(
        "activation".to_string(),
        sweeplab_core::ParamValue::Str("tanh".into()),
    );
    let p = TrialPlan::resolve(&Json::Str("mlp".into()), &[], &params, 0).unwrap();
    assert!(matches!(
        p.model,
        ModelSpec::Mlp {
            activation: Activation::Tanh,
            ..
        }
    ));
}

#[test]
fn the_cost_estimate_measures_the_typical_trial() {
    use sweeplab_core::train::{SweepSpec, estimate_cost};
    use sweeplab_core::{Distribution, ParamValue, SearchSpace};
    let _turn = flex_rng();
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    let data = generate_toy(Toy2d::Spiral, 500, 0.1, 0.2, 0);
    let mut space = SearchSpace::new();
    space.insert("lr".into(), Distribution::float_log(1e-3, 0.1));
    space.insert(
        "batch_size".into(),
        Distribution::categorical([16i64, 32].map(ParamValue::Int)),
    );
    let spec = SweepSpec {
        space,
        model: Json::Null,
        settings: vec![("epochs".to_string(), Json::Int(3))],
        seed: 0,
        objective: Objective::ValLoss,
        n_trials: 4,
        time_limit: None,
    };
    let e = block_on(estimate_cost(&spec, &data, &backend.device)).unwrap();
    assert!(
        e.samples_per_sec.is_finite() && e.samples_per_sec > 0.0,
        "{e:?}"
    );
    // An epoch is the training split plus the validation split at a third of the cost.
    let expected = (data.train.len() as f64 + data.valid.len() as f64 / 3.0) / e.samples_per_sec;
    assert!(
        (e.secs_per_epoch - expected).abs() < 1e-9 * expected.max(1.0),
        "{e:?}"
    );
    assert!((e.study_secs(4, 3) - 12.0 * e.secs_per_epoch).abs() < 1e-9);
    // A bad plan is an error naming it, not a panic.
    let mut bad = spec.clone();
    bad.space.insert(
        "activation".into(),
        Distribution::categorical([ParamValue::Str("nope".into())]),
    );
    assert!(block_on(estimate_cost(&bad, &data, &backend.device)).is_err());
}

/// A page slowed down for watching waits in `yield_now` before every step, so the throughput
/// each step reports counts the waits: never more than a batch per wait, from a trial's first
/// step on (a wait after the step let the first step report its bare speed).
#[test]
fn the_reported_throughput_counts_the_wait_before_every_step() {
    let data = generate_toy(Toy2d::Circle, 200, 0.1, 0.2, 3);
    let batch = 32;
    let p = plan(mlp(1, 8, 0.0), OptimizerKind::Adam, 0.05, batch, 2);
    let mut s = study(StudyDirection::Minimize);
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    let wait = std::time::Duration::from_millis(20);
    let mut hooks = Recording {
        wait,
        ..Recording::default()
    };
    {
        let _turn = flex_rng();
        let out = ask_and_train_with(&mut s, &p, &data, &backend.device, &mut hooks);
        assert_eq!(out.state, TrialState::Complete);
    }
    let most = batch as f64 / wait.as_secs_f64();
    let rates: Vec<f64> = hooks
        .events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Step {
                samples_per_sec, ..
            }
            | ProgressEvent::Epoch {
                samples_per_sec, ..
            } => Some(*samples_per_sec),
            _ => None,
        })
        .collect();
    assert!(rates.len() > 10, "{rates:?}");
    assert!(
        rates.iter().all(|&r| r > 0.0 && r <= most),
        "at most {most} samples/s: {rates:?}"
    );
}

/// With histograms wanted, every epoch records each parameter's weights and the epoch's last
/// step's gradients (names as PyTorch's, every value counted); without, nothing is recorded.
#[test]
fn histograms_record_every_parameter_after_every_epoch_when_wanted() {
    let data = generate_toy(Toy2d::Circle, 200, 0.1, 0.2, 3);
    let p = plan(mlp(1, 8, 0.0), OptimizerKind::Adam, 0.05, 32, 3);
    let mut s = study(StudyDirection::Minimize);
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    {
        let _turn = flex_rng();
        let mut hooks = Recording {
            histograms: true,
            ..Recording::default()
        };
        let out = ask_and_train_with(&mut s, &p, &data, &backend.device, &mut hooks);
        assert_eq!(out.state, TrialState::Complete);
        let _ = ask_and_train(&mut s, &p, &data, &backend.device, Objective::ValLoss);
    }
    let t = &s.trials()[0];
    let h = trial_histograms(t);
    let sizes = [
        ("hidden.0.weight", 16),
        ("hidden.0.bias", 8),
        ("out.weight", 16),
        ("out.bias", 2),
    ];
    let mut want: Vec<String> = sizes
        .iter()
        .flat_map(|(n, _)| [format!("weights/{n}"), format!("gradients/{n}")])
        .collect();
    want.sort();
    assert_eq!(h.keys().cloned().collect::<Vec<_>>(), want);
    for (name, size) in sizes {
        for kind in ["weights", "gradients"] {
            let points = &h[&format!("{kind}/{name}")];
            let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
            assert_eq!(steps, [1, 2, 3], "{kind}/{name}");
            for p in points {
                assert_eq!(p.histogram.num, size, "{kind}/{name}");
                assert_eq!(p.histogram.counts.iter().sum::<u64>(), size);
                assert!(p.wall_time > 1.7e9, "a Unix time");
            }
        }
    }
    // The weights move between epochs; the last step's gradients are not all zero.
    let w = &h["weights/hidden.0.weight"];
    assert_ne!(w[0].histogram, w[2].histogram);
    assert!(h["gradients/out.weight"][2].histogram.sum_squares > 0.0);
    // The output bias's gradient (softmax − one-hot, averaged) sums to zero.
    for p in &h["gradients/out.bias"] {
        assert!(p.histogram.sum.abs() < 1e-6, "{}", p.histogram.sum);
    }
    assert!(!has_histograms(&s.trials()[1]), "not wanted, not recorded");
}
