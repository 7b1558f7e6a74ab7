//! The baselines of a language-model study: what the best trial's budget gives when the
//! base is left as it is, when every weight trains instead of LoRA's adapters, and when the
//! frozen base is held in another precision (f32, int8, int4), so that a study's result reads
//! against them.
//!
//! [`baseline_plans`] derives the plans from the best trial's; [`crate::train::run_baselines`]
//! trains them (each in a study of its own, so the searched study's trials, its sampler and
//! its pruner never see them) and keeps the results in the searched study's user attribute
//! [`BASELINES_ATTR`], so every storage, a reload of the page and Optuna carry them.

use burn::tensor::Device;

use super::trial::{EVAL_WINDOWS, evaluate_lm};
use super::weights::load_base;
pub use crate::baselines::{BASELINES_ATTR, Baseline, baselines_of, baselines_to_json};
use crate::train::TrainError;
use crate::train::data::TextSet;
use crate::vocab::{BaseQuant, ModelSpec, TrialPlan};

/// The highest learning rate full fine-tuning gets: the shipped base's pretraining peak
/// (`static/data/lm/README.md`). LoRA's best rate is often ten times higher, which would
/// overwrite the pretrained weights rather than adapt them.
pub const FINETUNE_MAX_LR: f64 = 0.003;

/// The name of a base precision in baselines (`f32`, `int8`, `int4`).
pub fn base_name(q: Option<BaseQuant>) -> &'static str {
    match q {
        None => "f32",
        Some(q) => q.name(),
    }
}

/// The plans that train the baselines of a study whose best trial trained `best`, with a
/// name for each: full fine-tuning at the same steps and batch (its learning rate at most
/// [`FINETUNE_MAX_LR`]), and, for a LoRA best trial, the same adapters over the base held
/// in each precision the best trial did not use. Empty when `best` is not a
/// language-model plan.
pub fn baseline_plans(best: &TrialPlan) -> Vec<(String, TrialPlan)> {
    let ModelSpec::Lm { lora, steps, quant } = &best.model else {
        return Vec::new();
    };
    let mut out = vec![(
        "full fine-tuning".to_string(),
        TrialPlan {
            model: ModelSpec::Lm {
                lora: None,
                steps: *steps,
                quant: None,
            },
            lr: best.lr.min(FINETUNE_MAX_LR),
            ..best.clone()
        },
    )];
    if lora.is_some() {
        for q in [None, Some(BaseQuant::Int8), Some(BaseQuant::Int4)] {
            if q == *quant {
                continue;
            }
            out.push((
                format!("LoRA, {} base", base_name(q)),
                TrialPlan {
                    model: ModelSpec::Lm {
                        lora: *lora,
                        steps: *steps,
                        quant: q,
                    },
                    ..best.clone()
                },
            ));
        }
    }
    out
}

/// The frozen base, evaluated as every trial's evaluations are (the same validation
/// windows): the score the study starts from.
pub async fn frozen_base(text: &TextSet, device: &Device) -> Result<Baseline, TrainError> {
    let started = web_time::Instant::now();
    let (base, _, _) = load_base(
        &text.base,
        "the base weights",
        Some(&text.base_sha256),
        device,
    )?;
    let (loss, acc) = evaluate_lm(&base, &text.corpus.valid, EVAL_WINDOWS, device).await?;
    Ok(Baseline {
        name: "frozen base".into(),
        kind: "frozen".into(),
        base: "f32".into(),
        val_loss: Some(loss),
        val_accuracy: Some(acc),
        base_memory_bytes: base.base_bytes(),
        trainable_params: 0,
        steps: 0,
        batch_size: 0,
        lr: 0.0,
        seconds: started.elapsed().as_secs_f64(),
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{LoraSettings, LoraTargets, OptimizerKind};

    fn lora_plan(quant: Option<BaseQuant>) -> TrialPlan {
        TrialPlan {
            model: ModelSpec::Lm {
                lora: Some(LoraSettings {
                    r: 8,
                    alpha: 16.0,
                    dropout: 0.05,
                    targets: LoraTargets::Qkvo,
                }),
                steps: 120,
                quant,
            },
            optimizer: OptimizerKind::Adam,
            lr: 0.02,
            weight_decay: 0.0,
            momentum: 0.9,
            batch_size: 8,
            epochs: 4,
            seed: 7,
        }
    }

    #[test]
    fn the_baselines_keep_the_best_trials_budget() {
        let plans = baseline_plans(&lora_plan(None));
        let names: Vec<&str> = plans.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["full fine-tuning", "LoRA, int8 base", "LoRA, int4 base"]
        );
        for (_, p) in &plans {
            assert_eq!((p.batch_size, p.epochs, p.seed), (8, 4, 7));
            let ModelSpec::Lm { steps, .. } = p.model else {
                panic!("a language-model plan");
            };
            assert_eq!(steps, 120);
        }
        // Full fine-tuning: every weight, the rate capped; the others keep LoRA's.
        assert!(matches!(
            plans[0].1.model,
            ModelSpec::Lm {
                lora: None,
                quant: None,
                ..
            }
        ));
        assert_eq!(plans[0].1.lr, FINETUNE_MAX_LR);
        assert_eq!(plans[1].1.lr, 0.02);
        assert!(matches!(
            plans[2].1.model,
            ModelSpec::Lm {
                lora: Some(_),
                quant: Some(BaseQuant::Int4),
                ..
            }
        ));
        // A best trial on an int8 base is compared with f32 and int4.
        let plans = baseline_plans(&lora_plan(Some(BaseQuant::Int8)));
        let names: Vec<&str> = plans.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["full fine-tuning", "LoRA, f32 base", "LoRA, int4 base"]
        );
        // A lower rate is kept.
        let slow = TrialPlan {
            lr: 1e-4,
            ..lora_plan(None)
        };
        assert_eq!(baseline_plans(&slow)[0].1.lr, 1e-4);
        // Not a language model: no baselines.
        let mlp = TrialPlan {
            model: ModelSpec::Cnn { dropout: 0.0 },
            ..lora_plan(None)
        };
        assert!(baseline_plans(&mlp).is_empty());
    }
}
