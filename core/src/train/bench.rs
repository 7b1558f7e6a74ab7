//! The benchmark workloads, defined once for the native benchmarks (`bench/src/bin/`) and the
//! browser benchmark (`web/src/bench.rs`, feature `bench`), so that both sides train the
//! same thing:
//!
//! - the spiral study of the trials-per-second benchmark ([`spiral_space`], [`spiral_data`],
//!   [`spiral_study`]), run with burn one trial at a time ([`spiral_burn`]) or on the fused
//!   WGSL engine (`spiral_fused`, feature `fused`);
//! - the MNIST models of the training-throughput benchmark ([`mnist_plan`]);
//! - the language model's LoRA and full fine-tuning runs of the LoRA benchmark
//!   ([`lm_plan`], [`LM_VARIANTS`]).

use burn::tensor::Device;
use web_time::Instant;

use super::data::{DataSet, Toy2d, generate_toy};
use super::model::{Activation, ModelSpec};
use super::runner::RunnerError;
use super::trainer::{CancelToken, ProgressEvent, train_trial};
use super::{Objective, OptimizerKind, TrainError, TrialPlan};
use crate::json::Json;
use crate::{
    Distribution, NopPruner, ParamValue, RandomSampler, SearchSpace, Study, StudyDirection,
    StudyError,
};

/// The spiral study's search space, TensorFlow Playground's knobs: layers 1-4, width 4-32,
/// relu/tanh/gelu/sigmoid, learning rate 1e-3..0.1 (log), batch size 10/16/32.
pub fn spiral_space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("layers".into(), Distribution::int(1, 4));
    s.insert("width".into(), Distribution::int(4, 32));
    s.insert(
        "activation".into(),
        Distribution::categorical(
            ["relu", "tanh", "gelu", "sigmoid"].map(|a| ParamValue::Str(a.into())),
        ),
    );
    s.insert("lr".into(), Distribution::float_log(1e-3, 0.1));
    s.insert(
        "batch_size".into(),
        Distribution::categorical([10i64, 16, 32].map(ParamValue::Int)),
    );
    s
}

/// The spiral study's data: 500 points (400 to train on), noise 0.1, seed 0.
pub fn spiral_data() -> DataSet {
    generate_toy(Toy2d::Spiral, 500, 0.1, 0.2, 0)
}

/// A new spiral study: minimised, the random sampler with seed 0 (so every run asks the same
/// trials), no pruner (so every run does the same work).
pub fn spiral_study() -> Result<Study, StudyError> {
    Ok(Study::create(
        "spiral",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )?
    .with_pruner(Box::new(NopPruner)))
}

/// The plan of the spiral study's trial `number` (Adam, `epochs` epochs, seeded with the
/// trial's number).
fn spiral_plan(
    epochs: usize,
    number: u64,
    params: &std::collections::BTreeMap<String, ParamValue>,
) -> Result<TrialPlan, TrainError> {
    let settings = [("epochs".to_string(), Json::Int(epochs as i64))];
    Ok(TrialPlan::resolve(&Json::Null, &settings, params, number)?)
}

/// Runs `trials` trials of `epochs` epochs of the spiral study with burn, one trial at a time
/// on `device` (the core's [`train_trial`]); returns the seconds they took.
pub async fn spiral_burn(
    study: &mut Study,
    data: &DataSet,
    device: &Device,
    trials: usize,
    epochs: usize,
) -> Result<f64, RunnerError> {
    let space = spiral_space();
    let cancel = CancelToken::new();
    let mut hooks = |_: &ProgressEvent| {};
    let started = Instant::now();
    for _ in 0..trials {
        let (number, params) = study.ask_with(&space)?;
        let plan = spiral_plan(epochs, number, &params)?;
        train_trial(
            study,
            number,
            &plan,
            data,
            device,
            Objective::ValLoss,
            &mut hooks,
            &cancel,
        )
        .await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs `trials` trials of `epochs` epochs of the spiral study on the fused WGSL engine,
/// `slots` trials at once (refilled as trials end), `steps_per_dispatch` optimiser steps per
/// dispatch; returns the seconds they took.
#[cfg(feature = "fused")]
pub async fn spiral_fused(
    study: &mut Study,
    engine: &super::fused::FusedEngine,
    data: &DataSet,
    slots: usize,
    trials: usize,
    epochs: usize,
    steps_per_dispatch: u32,
) -> Result<f64, RunnerError> {
    use super::fused::{FusedSweep, FusedSweepOptions, run_fused_sweep};
    let space = spiral_space();
    let mut plan_for = |number: u64, params: &std::collections::BTreeMap<String, ParamValue>| {
        spiral_plan(epochs, number, params)
    };
    let started = Instant::now();
    let options = FusedSweepOptions {
        slots,
        n_trials: trials,
        objective: Objective::ValLoss,
        refill: true,
    };
    let mut sweep = FusedSweep::new(engine, data, options)?;
    sweep.run_mut().set_steps_per_dispatch(steps_per_dispatch);
    let mut hooks = |_: &ProgressEvent| {};
    let cancel = CancelToken::new();
    run_fused_sweep(
        &mut sweep,
        study,
        &space,
        &mut plan_for,
        &mut hooks,
        &cancel,
    )
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// The training-throughput benchmark's plan for `model` on MNIST: `mlp` (784-128-10, relu)
/// or `cnn` (the classic MNIST CNN, dropout 0.25); Adam at 1e-3, `batch` samples per step,
/// one epoch, seed 0. Any other model is an error that names it.
pub fn mnist_plan(model: &str, batch: usize) -> Result<TrialPlan, TrainError> {
    let model = match model {
        "mlp" => ModelSpec::Mlp {
            layers: 1,
            width: 128,
            activation: Activation::Relu,
            dropout: 0.0,
        },
        "cnn" => ModelSpec::Cnn { dropout: 0.25 },
        other => {
            return Err(TrainError::Config(format!(
                "unknown model `{other}`; use mlp or cnn"
            )));
        }
    };
    Ok(TrialPlan {
        model,
        optimizer: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: 0.0,
        momentum: 0.9,
        batch_size: batch,
        epochs: 1,
        seed: 0,
    })
}

/// The LoRA benchmark's variants, each the name [`lm_plan`] takes: LoRA on the query and
/// value projections, LoRA on every projection, the same with the frozen base in int8
/// (QLoRA-style; sweeplab only), and full fine-tuning.
pub const LM_VARIANTS: [&str; 4] = ["lora-qv", "lora-all", "lora-qv-int8", "finetune"];

/// The plan of the LoRA benchmark's `variant` (one of [`LM_VARIANTS`]): LoRA with rank `r`,
/// scale `alpha / r` and adapter dropout `dropout`, or every weight trained; Adam at
/// learning rate 1e-3, `batch` windows a step, seed 0.
pub fn lm_plan(
    variant: &str,
    batch: usize,
    r: usize,
    alpha: f64,
    dropout: f64,
) -> Result<TrialPlan, TrainError> {
    use crate::vocab::{BaseQuant, LoraSettings, LoraTargets};
    let lora = |targets| {
        Some(LoraSettings {
            r,
            alpha,
            dropout,
            targets,
        })
    };
    let (lora, quant) = match variant {
        "lora-qv" => (lora(LoraTargets::Qv), None),
        "lora-all" => (lora(LoraTargets::All), None),
        "lora-qv-int8" => (lora(LoraTargets::Qv), Some(BaseQuant::Int8)),
        "finetune" => (None, None),
        other => {
            return Err(TrainError::Config(format!(
                "unknown variant `{other}`; use one of {}",
                LM_VARIANTS.join(", ")
            )));
        }
    };
    if let Some(l) = &lora {
        l.validate()?;
    }
    Ok(TrialPlan {
        model: ModelSpec::Lm {
            lora,
            steps: 1_000,
            quant,
        },
        optimizer: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: 0.0,
        momentum: 0.9,
        batch_size: batch,
        epochs: 1,
        seed: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workloads_are_what_the_benchmarks_say() {
        let space = spiral_space();
        assert_eq!(space.len(), 5);
        assert_eq!(space["width"], Distribution::int(4, 32));
        let data = spiral_data();
        assert_eq!((data.train.len(), data.valid.len()), (400, 100));
        assert!(spiral_study().is_ok());
        assert!(matches!(
            mnist_plan("mlp", 64).map(|p| p.model),
            Ok(ModelSpec::Mlp { width: 128, .. })
        ));
        assert_eq!(mnist_plan("cnn", 32).map(|p| p.batch_size).ok(), Some(32));
        let e = mnist_plan("rnn", 8).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("unknown model `rnn`; use mlp or cnn"));
    }

    #[test]
    fn the_lora_variants_are_the_plans_they_name() {
        for v in LM_VARIANTS {
            let p = lm_plan(v, 16, 8, 16.0, 0.05).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(
                p.model.kind(),
                if v == "finetune" { "finetune" } else { "lora" }
            );
            assert_eq!(p.batch_size, 16);
        }
        let Ok(TrialPlan {
            model:
                ModelSpec::Lm {
                    lora: Some(l),
                    quant,
                    ..
                },
            ..
        }) = lm_plan("lora-all", 16, 4, 8.0, 0.0)
        else {
            panic!("lora-all is a LoRA plan");
        };
        assert_eq!(
            (l.r, l.targets, quant),
            (4, crate::vocab::LoraTargets::All, None)
        );
        assert!(matches!(
            lm_plan("lora-qv-int8", 8, 8, 16.0, 0.0).map(|p| p.model),
            Ok(ModelSpec::Lm {
                quant: Some(crate::vocab::BaseQuant::Int8),
                ..
            })
        ));
        let e = lm_plan("lora-qv", 8, 0, 16.0, 0.0)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("lora_r")));
        let e = lm_plan("prefix", 8, 8, 16.0, 0.0)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("unknown variant `prefix`")));
    }
}
