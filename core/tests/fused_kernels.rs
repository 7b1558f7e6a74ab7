//! The fused WGSL engine (feature `fused`) on whatever adapter wgpu finds (natively: Mesa's
//! lavapipe on a machine without a GPU; set `XDG_RUNTIME_DIR` to a temporary folder there).
//! Without an adapter each test prints that it was skipped.
//!
//! - Parity: the same initial weights (drawn the way `train_trial` draws them, from the plan's
//!   seed on burn's Flex device) and the same batch order give the same per-step training
//!   losses and per-epoch validation losses as the burn trainer itself, within a stated
//!   tolerance, for every optimiser and activation.
//! - Loss falls on spiral, xor, circle and gauss; the GPU's validation metrics agree with a
//!   CPU forward pass over the read-back weights; dropout trains and changes the run.
//! - A K-trial study: asked K at a time, refilled, logged, pruned, failed (NaN, ineligible)
//!   and completed with the right states; cancellation marks running trials interrupted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic
#![cfg(all(feature = "fused", feature = "flex"))]

mod common;
use common::{Recording, ask_and_train, mlp, plan_of, random_study};

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use futures_lite::future::block_on;
use sweeplab_core::train::data::generate_toy;
use sweeplab_core::train::fused::{
    FusedEngine, FusedRun, FusedSweep, FusedSweepOptions, run_fused_sweep, sweep_eligibility,
};
use sweeplab_core::train::{
    Activation, CancelToken, DataSet, FAIL_REASON_ATTR, INTERRUPTED_ATTR, ModelSpec, Objective,
    OptimizerKind, ProgressEvent, Toy2d, TrialEnd, TrialPlan,
};
use sweeplab_core::{
    Distribution, Json, ParamValue, PercentilePruner, SearchSpace, Study, StudyDirection,
    TpeSampler, TrialState,
};

/// Tolerance of the parity test: |fused - burn| <= ABS_TOL + REL_TOL * |burn| for every
/// per-step training loss and per-epoch validation loss (see `fused_matches_the_burn_trainer`).
const REL_TOL: f64 = 2e-3;
const ABS_TOL: f64 = 1e-4;

fn engine() -> Option<FusedEngine> {
    match block_on(FusedEngine::new()) {
        Ok(e) => {
            eprintln!("fused engine on `{}` ({})", e.adapter_name(), e.api());
            Some(e)
        }
        // Only a missing adapter skips; a kernel that does not compile is a failure.
        Err(e) if e.to_string().contains("none was found") => {
            eprintln!("skipped: no GPU adapter for the fused engine ({e})");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A plan of an MLP without dropout, seeded with 11.
fn plan(
    layers: usize,
    width: usize,
    activation: Activation,
    optimizer: OptimizerKind,
    lr: f64,
    batch: usize,
    epochs: usize,
) -> TrialPlan {
    let model = mlp(layers, width, activation, 0.0);
    plan_of(model, optimizer, lr, batch, epochs, 11)
}

/// Every float parameter of a burn module, in visiting order, flattened.
struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(
            param
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 parameters"),
        );
    }
}

/// The initial weights `train_trial` starts from: the device's RNG seeded with the plan's
/// seed, then the model built on the autodiff device (as the trainer does).
fn burn_initial_weights(p: &TrialPlan, data: &DataSet, device: &Device) -> Vec<f32> {
    let ad = device.clone().autodiff();
    ad.seed(p.seed);
    let model = p.model.build(data.shape, data.classes, &ad).unwrap();
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    let ModelSpec::Mlp { layers, .. } = p.model else {
        unreachable!()
    };
    assert_eq!(c.0.len(), 2 * (layers + 1), "a weight and a bias per layer");
    c.0.concat()
}

fn series(study: &Study, n: u64, name: &str) -> Vec<f64> {
    study.trials()[n as usize]
        .series
        .get(name)
        .map(|v| v.iter().map(|p| p.value).collect())
        .unwrap_or_default()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Tolerance: both sides compute in f32, but in different orders (burn's tiled matmuls and
/// reductions against our sequential dot products and batch sums) and with different
/// transcendental functions (Rust's exp/ln/tanh/erf against the Vulkan driver's, and our
/// erf approximation, |error| < 1.5e-7). Each step therefore differs by a few ulp (~1e-7
/// relative); training feeds those differences back (Adam normalises small gradient
/// differences into full-size steps of parameters whose gradients are near zero), and over
/// the 50-80 steps compared here they grow to at most ~1e-4 relative in the loss. 2e-3
/// relative (+1e-4 absolute, for losses near zero) leaves room for other drivers while still
/// catching any real difference: a wrong gradient, optimiser formula, batch order or
/// initialisation changes the losses by 1e-2 or more within a few steps.
#[test]
fn fused_matches_the_burn_trainer() {
    let Some(engine) = engine() else { return };
    let device = Device::flex();
    let data = generate_toy(Toy2d::Spiral, 200, 0.1, 0.2, 5);
    let wd = |mut p: TrialPlan, wd: f64| {
        p.weight_decay = wd;
        p
    };
    let plans = [
        plan(2, 16, Activation::Relu, OptimizerKind::Adam, 0.01, 16, 5),
        wd(
            plan(3, 8, Activation::Tanh, OptimizerKind::Sgd, 0.1, 32, 5),
            1e-3,
        ),
        wd(
            plan(1, 32, Activation::Gelu, OptimizerKind::AdamW, 0.01, 25, 5),
            0.05,
        ),
        wd(
            plan(2, 12, Activation::Sigmoid, OptimizerKind::Adam, 0.03, 7, 3),
            1e-4,
        ),
        TrialPlan {
            momentum: 0.0,
            ..plan(0, 1, Activation::Relu, OptimizerKind::Sgd, 0.5, 40, 5)
        },
        plan(6, 32, Activation::Relu, OptimizerKind::Adam, 3e-3, 64, 5),
    ];
    check_parity(&engine, &data, &plans, &device);
}

/// The wide kernels (MNIST's 784 inputs, layers wider than 32 units) against the burn trainer,
/// as above: trials of different depths, widths, batches (partial last batches) and
/// optimisers side by side in one run, so every dispatch also has slots with nothing to do.
#[test]
fn wide_kernels_match_the_burn_trainer_on_mnist() {
    let Some(engine) = engine() else { return };
    let device = Device::flex();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/data/mnist10k");
    let mut data = sweeplab_core::train::Mnist::load_dir(&dir)
        .unwrap()
        .split(600);
    let dim = data.valid.dim;
    data.valid.features.truncate(300 * dim);
    data.valid.labels.truncate(300);
    assert!(sweeplab_core::train::fused::uses_wide_kernels(&data));
    let wd = |mut p: TrialPlan, wd: f64| {
        p.weight_decay = wd;
        p
    };
    let plans = [
        plan(1, 128, Activation::Relu, OptimizerKind::Adam, 1e-3, 32, 2),
        wd(
            plan(2, 48, Activation::Tanh, OptimizerKind::Sgd, 0.05, 64, 2),
            1e-3,
        ),
        wd(
            plan(3, 40, Activation::Gelu, OptimizerKind::AdamW, 3e-3, 37, 2),
            0.05,
        ),
        TrialPlan {
            momentum: 0.0,
            ..plan(0, 1, Activation::Relu, OptimizerKind::Sgd, 0.05, 100, 2)
        },
        wd(
            plan(
                4,
                33,
                Activation::Sigmoid,
                OptimizerKind::Adam,
                3e-3,
                128,
                1,
            ),
            1e-4,
        ),
    ];
    check_parity(&engine, &data, &plans, &device);
}

/// Trains `plans` side by side on the fused engine from burn's initial weights, then each on
/// the burn trainer, and compares every step's training loss and every epoch's validation
/// loss and accuracy.
fn check_parity(engine: &FusedEngine, data: &DataSet, plans: &[TrialPlan], device: &Device) {
    // burn's Flex device has one random number generator per process, seeded from the plan
    // for each initialisation: the two parity tests take turns, so neither draws the other's.
    static FLEX_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = FLEX_RNG.lock().unwrap_or_else(|p| p.into_inner());
    let data = data.clone();
    let device = device.clone();
    let mut run = FusedRun::new(engine, &data, plans.len()).unwrap();
    assert_eq!(run.slots(), plans.len());
    // Many steps per dispatch and one step per dispatch must give the same results.
    run.set_steps_per_dispatch(3);
    for (slot, p) in plans.iter().enumerate() {
        let w = burn_initial_weights(p, &data, &device);
        assert_eq!(
            w,
            burn_initial_weights(p, &data, &device),
            "seeding makes burn's initialisation repeatable"
        );
        run.load(slot, p, Some(&w), &data).unwrap();
    }
    let epochs = plans.iter().map(|p| p.epochs).max().unwrap();
    let mut fused_train: Vec<Vec<f64>> = vec![Vec::new(); plans.len()];
    let mut fused_val: Vec<Vec<(f64, f64)>> = vec![Vec::new(); plans.len()];
    for epoch in 1..=epochs {
        for e in block_on(run.run_epoch()).unwrap() {
            assert_eq!(e.epoch, epoch);
            fused_train[e.slot].extend(e.train_losses.iter().map(|&(_, l)| l));
            fused_val[e.slot].push((e.val_loss, e.val_accuracy));
            if e.epoch == plans[e.slot].epochs {
                run.unload(e.slot);
            }
        }
    }

    let mut worst: f64 = 0.0;
    for (slot, p) in plans.iter().enumerate() {
        let mut study = random_study("burn", StudyDirection::Minimize, 0);
        let out = ask_and_train(&mut study, p, &data, &device, Objective::ValLoss);
        assert_eq!(out.state, TrialState::Complete);
        let n = study.trials()[0].number; // the study's only trial
        let burn_train = series(&study, n, "train/loss");
        let burn_val = series(&study, n, "val/loss");
        let burn_acc = series(&study, n, "val/accuracy");
        assert_eq!(
            burn_train.len(),
            fused_train[slot].len(),
            "slot {slot}: steps"
        );
        assert_eq!(burn_val.len(), p.epochs);
        let check = |what: &str, i: usize, ours: f64, theirs: f64, worst: &mut f64| {
            let diff = (ours - theirs).abs();
            *worst = worst.max(diff / theirs.abs().max(1e-3));
            assert!(
                diff <= ABS_TOL + REL_TOL * theirs.abs(),
                "slot {slot} ({p:?}): {what} {i}: fused {ours} vs burn {theirs}"
            );
        };
        for (i, (&a, &b)) in fused_train[slot].iter().zip(&burn_train).enumerate() {
            check("train/loss at step", i + 1, a, b, &mut worst);
        }
        for (i, (&(a, acc), &b)) in fused_val[slot].iter().zip(&burn_val).enumerate() {
            check("val/loss at epoch", i + 1, a, b, &mut worst);
            // Accuracy may differ only by points sitting on the decision boundary.
            assert!(
                (acc - burn_acc[i]).abs() <= 1.0 / data.valid.len() as f64 + 1e-9,
                "slot {slot}: val/accuracy at epoch {}: fused {acc} vs burn {}",
                i + 1,
                burn_acc[i]
            );
        }
        // Sanity: training moved the loss, so matching is not trivial.
        let t = &fused_train[slot];
        assert!(
            (t[0] - t[t.len() - 1]).abs() > 1e-3,
            "slot {slot}: loss {} -> {}",
            t[0],
            t[t.len() - 1]
        );
    }
    eprintln!("largest relative difference fused vs burn: {worst:.2e}");
}

#[test]
fn loss_falls_on_every_toy_set_and_metrics_match_a_cpu_forward() {
    let Some(engine) = engine() else { return };
    for kind in Toy2d::ALL {
        let data = generate_toy(kind, 500, 0.1, 0.2, 3);
        let base = plan(2, 32, Activation::Relu, OptimizerKind::Adam, 0.02, 16, 25);
        let dropout = TrialPlan {
            model: ModelSpec::Mlp {
                layers: 2,
                width: 32,
                activation: Activation::Relu,
                dropout: 0.2,
            },
            ..base.clone()
        };
        let gelu_adamw = TrialPlan {
            weight_decay: 1e-3,
            ..plan(2, 32, Activation::Gelu, OptimizerKind::AdamW, 0.01, 16, 25)
        };
        let plans = [base, dropout, gelu_adamw];
        let mut run = FusedRun::new(&engine, &data, plans.len()).unwrap();
        for (slot, p) in plans.iter().enumerate() {
            run.load(slot, p, None, &data).unwrap();
        }
        let mut train = vec![Vec::new(); plans.len()];
        let mut val = vec![Vec::new(); plans.len()];
        for _ in 0..25 {
            for e in block_on(run.run_epoch()).unwrap() {
                train[e.slot].extend(e.train_losses.iter().map(|&(_, l)| l));
                val[e.slot].push((e.val_loss, e.val_accuracy));
            }
        }
        for slot in 0..plans.len() {
            let steps = 400usize.div_ceil(plans[slot].batch_size);
            assert_eq!(train[slot].len(), 25 * steps, "{kind:?}: a loss per step");
            let first = mean(&train[slot][..steps]);
            let last = mean(&train[slot][train[slot].len() - steps..]);
            // Dropout (slot 1) keeps the training loss noisier and higher.
            let factor = if slot == 1 { 0.8 } else { 0.6 };
            assert!(
                last < factor * first,
                "{kind:?} slot {slot}: train loss {first} -> {last}"
            );
            // (Gauss is solved within the first epoch: its validation loss stays near 0.)
            assert!(
                val[slot][24].0 < val[slot][0].0.max(0.01),
                "{kind:?} slot {slot}: val loss {:?}",
                val[slot]
            );
        }
        // Chance is 0.5.
        assert!(
            val[0][24].1 > 0.8,
            "{kind:?}: val accuracy {}",
            val[0][24].1
        );
        assert_ne!(train[0], train[1], "dropout changes the run");

        // The GPU's validation metrics equal a CPU forward pass over the read-back weights.
        for (slot, slot_val) in val.iter().enumerate() {
            let w = block_on(run.read_weights(slot)).unwrap();
            let (mut loss, mut hits) = (0.0f64, 0usize);
            for i in 0..data.valid.len() {
                let z = w.logits(data.valid.row(i)).unwrap();
                let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
                let y = data.valid.labels[i] as usize;
                loss += f64::from(lse - z[y]);
                let best = (0..z.len()).fold(0, |b, c| if z[c] > z[b] { c } else { b });
                hits += usize::from(best == y);
            }
            let n = data.valid.len() as f64;
            let (gpu_loss, gpu_acc) = slot_val[24];
            assert!(
                (loss / n - gpu_loss).abs() <= 1e-4 * (1.0 + gpu_loss),
                "{kind:?} slot {slot}: cpu {} gpu {gpu_loss}",
                loss / n
            );
            assert!((hits as f64 / n - gpu_acc).abs() <= 1.0 / n + 1e-9);
        }
    }
}

fn space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("layers".into(), Distribution::int(1, 3));
    s.insert("width".into(), Distribution::int(4, 16));
    s.insert("lr".into(), Distribution::float_log(1e-3, 0.1));
    s.insert(
        "activation".into(),
        Distribution::categorical(vec![
            ParamValue::Str("relu".into()),
            ParamValue::Str("tanh".into()),
        ]),
    );
    s
}

#[test]
fn a_k_trial_study_ends_every_trial_in_the_right_state() {
    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Circle, 300, 0.05, 0.2, 4);
    let mut study = Study::create(
        "fused",
        StudyDirection::Minimize,
        Box::new(TpeSampler::seeded(0)),
    )
    .unwrap()
    .with_pruner(Box::new(PercentilePruner::median(1, 0, 1, 1).unwrap()));
    let settings = vec![
        ("epochs".to_string(), Json::Int(6)),
        ("batch_size".to_string(), Json::Int(32)),
    ];
    assert_eq!(
        sweep_eligibility(&data, &Json::Null, &settings, &space(), 0),
        Ok(())
    );
    let mut plan_for = |number: u64, params: &BTreeMap<String, ParamValue>| {
        let mut p = TrialPlan::resolve(&Json::Null, &settings, params, number)?;
        match number {
            // Diverges: SGD at a huge learning rate on a wide ReLU net.
            3 => {
                p.model = ModelSpec::Mlp {
                    layers: 2,
                    width: 32,
                    activation: Activation::Relu,
                    dropout: 0.0,
                };
                p.optimizer = OptimizerKind::Sgd;
                p.lr = 1e9;
            }
            // Out of the kernels' reach.
            5 => {
                p.model = ModelSpec::Mlp {
                    layers: 2,
                    width: 64,
                    activation: Activation::Relu,
                    dropout: 0.0,
                }
            }
            // Barely moves: worse than the median as soon as a trial has completed.
            7 => {
                p.optimizer = OptimizerKind::Sgd;
                p.lr = 1e-7;
            }
            _ => {}
        }
        Ok(p)
    };
    // Trials training at the same time (a trial that fails before training never starts).
    let mut live = std::collections::BTreeSet::new();
    let mut most = 0;
    let mut hooks = |e: &ProgressEvent| match e {
        ProgressEvent::TrialStart { trial, .. } => {
            live.insert(*trial);
            most = most.max(live.len());
        }
        ProgressEvent::TrialEnd { trial, .. } => {
            live.remove(trial);
        }
        _ => {}
    };
    let options = FusedSweepOptions {
        slots: 6,
        n_trials: 16,
        objective: Objective::ValLoss,
        refill: true,
    };
    let mut sweep = FusedSweep::new(&engine, &data, options).unwrap();
    let ends = block_on(run_fused_sweep(
        &mut sweep,
        &mut study,
        &space(),
        &mut plan_for,
        &mut hooks,
        &CancelToken::new(),
    ))
    .unwrap();
    assert_eq!(most, 6, "six trials train at once");
    assert_eq!(ends.len(), 16);
    assert_eq!(study.trials().len(), 16);
    let state = |n: usize| study.trials()[n].state;
    let reason = |n: usize| {
        study.trials()[n].user_attrs[FAIL_REASON_ATTR]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(3), TrialState::Fail);
    assert!(
        reason(3).contains("became") && reason(3).contains("learning rate"),
        "{}",
        reason(3)
    );
    assert_eq!(state(5), TrialState::Fail);
    assert!(reason(5).contains("fused engine"), "{}", reason(5));
    assert_eq!(state(7), TrialState::Pruned);
    let mut counts = BTreeMap::new();
    for t in study.trials() {
        *counts.entry(t.state.to_string()).or_insert(0) += 1;
        assert!(t.state.is_finished(), "trial {} is {}", t.number, t.state);
        if t.state == TrialState::Fail {
            continue;
        }
        let val = series(&study, t.number, "val/loss");
        let epochs = val.len();
        assert!((1..=6).contains(&epochs));
        assert_eq!(t.intermediate_values.len(), epochs, "trial {}", t.number);
        assert_eq!(series(&study, t.number, "val/accuracy").len(), epochs);
        assert_eq!(
            series(&study, t.number, "train/loss").len(),
            epochs * 240usize.div_ceil(32),
            "trial {}: a train/loss point per step",
            t.number
        );
        if t.state == TrialState::Complete {
            assert_eq!(epochs, 6);
            assert_eq!(t.value(), Some(val[5]));
        } else {
            assert_eq!(t.state, TrialState::Pruned);
        }
    }
    eprintln!("states: {counts:?}");
    assert!(
        counts.get("COMPLETE").copied().unwrap_or(0) >= 5,
        "{counts:?}"
    );
    for e in &ends {
        assert_eq!(e.outcome.state, study.trials()[e.number as usize].state);
    }
}

/// One round of `sweep` on `study`: trials asked from [`space`] and trained for `epochs`
/// epochs (the plan's defaults else), no hooks.
fn round(
    sweep: &mut FusedSweep,
    study: &mut Study,
    epochs: i64,
    cancel: &CancelToken,
) -> Vec<TrialEnd> {
    let settings = vec![("epochs".to_string(), Json::Int(epochs))];
    let mut plan_for = |number: u64, params: &BTreeMap<String, ParamValue>| {
        Ok(TrialPlan::resolve(&Json::Null, &settings, params, number)?)
    };
    let mut hooks = |_: &ProgressEvent| {};
    let mut ask = |s: &mut Study| Ok(s.ask_with(&space())?);
    block_on(sweep.round(study, &mut ask, &mut plan_for, &mut hooks, cancel)).unwrap()
}

/// A sweep of `n_trials` trials, `slots` at once, with the other options' defaults.
fn sweep_of(engine: &FusedEngine, data: &DataSet, slots: usize, n_trials: usize) -> FusedSweep {
    let options = FusedSweepOptions {
        slots,
        n_trials,
        ..FusedSweepOptions::default()
    };
    FusedSweep::new(engine, data, options).unwrap()
}

#[test]
fn cancelling_a_fused_sweep_interrupts_running_trials() {
    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Xor, 200, 0.1, 0.2, 4);
    let mut study = random_study("cancel", StudyDirection::Minimize, 1);
    let mut sweep = sweep_of(&engine, &data, 3, 10);
    let cancel = CancelToken::new();
    for _ in 0..2 {
        let ended = round(&mut sweep, &mut study, 50, &cancel);
        assert!(ended.is_empty());
    }
    cancel.cancel();
    let ended = round(&mut sweep, &mut study, 50, &cancel);
    assert_eq!(ended.len(), 3);
    assert!(sweep.is_done());
    assert_eq!(study.trials().len(), 3, "nothing is asked after cancelling");
    for t in study.trials() {
        assert_eq!(t.state, TrialState::Fail);
        assert_eq!(t.user_attrs[INTERRUPTED_ATTR], Json::Bool(true));
        assert_eq!(series(&study, t.number, "val/loss").len(), 2);
    }
}

#[test]
fn round_weights_match_the_weights_read_alone_and_stop_asking_lets_trials_finish() {
    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Circle, 200, 0.1, 0.2, 5);
    let mut study = random_study("weights", StudyDirection::Minimize, 2);
    let cancel = CancelToken::new();
    let mut sweep = sweep_of(&engine, &data, 3, 9);
    sweep.set_read_weights(true);
    // Round 1: three trials train an epoch; their weights come back with the metrics and
    // equal a separate read-back of each slot.
    let ended = round(&mut sweep, &mut study, 3, &cancel);
    assert!(ended.is_empty());
    let numbers: Vec<u64> = sweep.round_weights().keys().copied().collect();
    assert_eq!(numbers, vec![0, 1, 2]);
    for (&n, w) in sweep.round_weights() {
        let alone = block_on(sweep.weights(n)).unwrap().unwrap();
        assert_eq!(w, &alone, "trial {n}");
        assert_eq!(w.params.len(), w.shape.param_count());
        assert!(w.params.iter().all(|v| v.is_finite()));
    }
    // No new trial after stop_asking: the three running ones train to their last epoch,
    // and the round that ends them still reports their final weights.
    sweep.stop_asking();
    let mut last = BTreeMap::new();
    while !sweep.is_done() {
        let ended = round(&mut sweep, &mut study, 3, &cancel);
        for e in ended {
            last.insert(e.number, sweep.round_weights().get(&e.number).cloned());
        }
    }
    assert_eq!(
        study.trials().len(),
        3,
        "nothing was asked after stop_asking"
    );
    assert_eq!(last.len(), 3);
    for t in study.trials() {
        assert_eq!(t.state, TrialState::Complete, "trial {}", t.number);
        assert_eq!(series(&study, t.number, "val/loss").len(), 3);
        assert!(
            last[&t.number].is_some(),
            "trial {}: final weights",
            t.number
        );
    }
    // Turned off, rounds carry no weights.
    sweep.set_read_weights(false);
    assert!(sweep.round_weights().is_empty());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Gauss, 100, 0.1, 0.2, 4);
    assert!(FusedRun::new(&engine, &data, 0).is_err());
    let mut run = FusedRun::new(&engine, &data, 2).unwrap();
    let p = plan(2, 8, Activation::Relu, OptimizerKind::Adam, 0.01, 16, 2);
    let e = run.load(2, &p, None, &data).unwrap_err().to_string();
    assert!(e.contains("slot 2"), "{e}");
    let e = run
        .load(0, &p, Some(&[0.0; 3]), &data)
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameters"), "{e}");
    let other = generate_toy(Toy2d::Gauss, 120, 0.1, 0.2, 4);
    assert!(run.load(0, &p, None, &other).is_err());
    let wide = plan(2, 33, Activation::Relu, OptimizerKind::Adam, 0.01, 16, 2);
    let e = run.load(0, &wide, None, &data).unwrap_err().to_string();
    assert!(e.contains("33"), "{e}");
    assert!(block_on(run.read_weights(1)).is_err());
    // Nothing loaded: an epoch is a no-op.
    assert!(block_on(run.run_epoch()).unwrap().is_empty());
    let mut space = space();
    space.insert("width".into(), Distribution::int(4, 64));
    let why = sweep_eligibility(&data, &Json::Null, &[], &space, 0).unwrap_err();
    assert!(why.contains("width = 64"), "{why}");
}

/// The browser's stop: the token is cancelled from outside while a round trains. The study
/// loop's next round ends the running trials as interrupted and stores them; none is left
/// RUNNING and nothing more is asked.
#[test]
fn a_stop_during_a_round_of_the_study_loop_interrupts_every_running_trial() {
    use sweeplab_core::store::Forward;
    use sweeplab_core::train::{
        Engine, RunnerError, StudyEnd, SweepHooks, SweepSpec, TrainHooks, TrialEnd, run_study,
    };

    struct StopAfter {
        rounds: usize,
        cancel: CancelToken,
        ended: Vec<TrialEnd>,
    }
    impl TrainHooks for StopAfter {}
    impl SweepHooks for StopAfter {
        fn trial_ended(&mut self, _: &Study, end: &TrialEnd) -> Result<(), RunnerError> {
            self.ended.push(end.clone());
            Ok(())
        }
        fn round_ended(&mut self, _: &BTreeMap<u64, sweeplab_core::train::fused::FusedWeights>) {
            self.rounds = self.rounds.saturating_sub(1);
            if self.rounds == 0 {
                self.cancel.cancel();
            }
        }
    }

    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Xor, 200, 0.1, 0.2, 4);
    let mut study = random_study("stop", StudyDirection::Minimize, 3);
    let spec = SweepSpec {
        space: space(),
        model: Json::Null,
        settings: vec![("epochs".to_string(), Json::Int(500))],
        seed: 0,
        objective: Objective::ValLoss,
        n_trials: 8,
        time_limit: None,
    };
    let mut sweep = sweep_of(&engine, &data, 4, 8);
    let cancel = CancelToken::new();
    let mut hooks = StopAfter {
        rounds: 2,
        cancel: cancel.clone(),
        ended: Vec::new(),
    };
    let mut stored = Vec::new();
    let mut store = Forward(|s: &mut Study| stored.extend(s.take_pending()));
    let end = block_on(run_study(
        &mut study,
        &mut store,
        &mut hooks,
        &spec,
        &data,
        Engine::Fused(&mut sweep),
        &cancel,
    ))
    .unwrap();
    assert_eq!(end, StudyEnd::Stopped);
    assert_eq!(study.trials().len(), 4, "nothing is asked after the stop");
    assert_eq!(
        hooks.ended.len(),
        4,
        "every running trial's end reaches the front end"
    );
    for t in study.trials() {
        assert_eq!(t.state, TrialState::Fail, "trial {}", t.number);
        assert_eq!(t.user_attrs[INTERRUPTED_ATTR], Json::Bool(true));
    }
    assert!(
        study.take_pending().is_empty(),
        "every operation was stored"
    );
    let finished = stored
        .iter()
        .filter(|op| {
            matches!(
                op,
                sweeplab_core::storage::JournalOp::SetTrialStateValues {
                    state: TrialState::Fail,
                    ..
                }
            )
        })
        .count();
    assert_eq!(finished, 4, "the store got the four FAIL tells: {stored:?}");
}

/// With histograms wanted, a fused round records each trial's weights as read back (equal to
/// the round's weights) and the gradients of its epoch's last batch, for every layer.
#[test]
fn fused_trials_record_weight_and_gradient_histograms_when_wanted() {
    use sweeplab_core::histogram::{BINS, Histogram, trial_histograms};
    let Some(engine) = engine() else { return };
    let data = generate_toy(Toy2d::Xor, 200, 0.1, 0.2, 6);
    let mut study = random_study("hist", StudyDirection::Minimize, 3);
    let cancel = CancelToken::new();
    let mut sweep = sweep_of(&engine, &data, 2, 2);
    let settings = vec![("epochs".to_string(), Json::Int(2))];
    let mut plan_for = |number: u64, params: &BTreeMap<String, ParamValue>| {
        Ok(TrialPlan::resolve(&Json::Null, &settings, params, number)?)
    };
    let mut hooks = Recording {
        histograms: true,
        ..Recording::default()
    };
    let mut ask = |s: &mut Study| Ok(s.ask_with(&space())?);
    let mut rounds = 0;
    while !sweep.is_done() && rounds < 5 {
        block_on(sweep.round(&mut study, &mut ask, &mut plan_for, &mut hooks, &cancel)).unwrap();
        rounds += 1;
        if rounds == 1 {
            // After the first epoch the recorded weights are the round's weights.
            for (&n, w) in sweep.round_weights() {
                let h = trial_histograms(&study.trials()[n as usize]);
                for (name, r) in w.named_ranges() {
                    let want = Histogram::from_values(&w.params[r], BINS).unwrap();
                    assert_eq!(
                        h[&format!("weights/{name}")][0].histogram,
                        want,
                        "{n} {name}"
                    );
                }
            }
        }
    }
    assert_eq!(study.trials().len(), 2);
    for t in study.trials() {
        let h = trial_histograms(t);
        let layers = h.keys().filter(|k| k.starts_with("weights/")).count();
        assert!(layers >= 2, "trial {}: {:?}", t.number, h.keys());
        assert_eq!(
            h.keys().filter(|k| k.starts_with("gradients/")).count(),
            layers
        );
        let epochs: Vec<i64> = h["gradients/out.weight"].iter().map(|p| p.step).collect();
        assert_eq!(epochs, [1, 2], "trial {}", t.number);
        assert!(h["gradients/out.weight"][0].histogram.sum_squares > 0.0);
    }
}
