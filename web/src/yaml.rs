//! Filling the editor from a W&B sweep YAML, read by the core's [`SweepConfig`].

use sweeplab_core::Json;
use sweeplab_core::config::SweepConfig;

use crate::setup::{Dataset, ModelKind, Objective, ParamSpec, SamplerChoice, Setup};

/// The setup a sweep YAML describes, starting from `base` for what the YAML leaves out.
pub fn setup_from_yaml(text: &str, base: &Setup) -> Result<Setup, String> {
    if text.trim().is_empty() {
        return Err("paste a W&B sweep YAML first".into());
    }
    let cfg = SweepConfig::from_yaml_str(text).map_err(|e| format!("sweep YAML: {e}"))?;
    let mut s = base.clone();
    s.preset = "yaml".into();
    s.sampler = SamplerChoice::new(cfg.method, cfg.tpe_defaults());
    if let Some(m) = &cfg.metric {
        let objective = Objective::parse(&m.name).map_err(|e| format!("sweep YAML: {e}"))?;
        if objective.direction() != m.goal {
            return Err(format!(
                "sweep YAML: metric `{}` is {}, so its goal must be {}, not {}",
                m.name,
                objective.label(),
                objective.direction().name(),
                m.goal.name()
            ));
        }
        s.objective = objective;
    }
    if let Some(n) = cfg.n_trials() {
        s.n_trials = u32::try_from(n.clamp(1, 10_000)).unwrap_or(10_000);
    }
    if let Some(seed) = cfg.sweeplab.seed {
        s.seed = Some(seed);
    }
    if let Some(d) = &cfg.sweeplab.dataset {
        s.dataset = Dataset::parse(&d.to_ascii_lowercase()).ok_or_else(|| {
            format!(
                "sweep YAML: sweeplab.dataset `{d}` is not one of spiral, xor, circle, gauss, mnist, devils-dictionary"
            )
        })?;
    }
    if let Some(m) = &cfg.sweeplab.model {
        let lower = m.to_ascii_lowercase();
        s.model = ModelKind::parse(&lower).ok_or_else(|| {
            format!("sweep YAML: sweeplab.model `{lower}` is not mlp, cnn or lora")
        })?;
    }
    // Every pruner with its arguments, as the CLI would run it.
    s.pruner = cfg.pruner_config();
    s.params = cfg
        .search_space()
        .iter()
        .map(|(name, d)| ParamSpec::from_distribution(name, d))
        .collect();
    let mut fixed = cfg.fixed_values();
    fixed.extend(cfg.sweeplab.settings.clone());
    for (name, value) in fixed {
        if matches!(name.as_str(), "epochs" | "epoch" | "num_epochs") {
            let e = value
                .as_i64()
                .filter(|e| (1..=10_000).contains(e))
                .ok_or_else(|| {
                    format!(
                        "sweep YAML: epochs must be a whole number from 1, not {}",
                        value.to_compact()
                    )
                })?;
            s.epochs = u32::try_from(e).unwrap_or(1);
            continue;
        }
        // Any other constant becomes a one-choice parameter: fixed, and visible in plots.
        let text = match &value {
            Json::Str(v) => v.clone(),
            Json::Int(_) | Json::Float(_) | Json::Bool(_) => value.to_compact(),
            other => {
                return Err(format!(
                    "sweep YAML: `{name}` must be a number, a string or a boolean, not {}",
                    other.to_compact()
                ));
            }
        };
        s.params.push(ParamSpec {
            choices: text,
            ..ParamSpec::categorical(&name, &[])
        });
    }
    Ok(s)
}

/// The sweep YAML box's placeholder: a whole sweep file of the kind it takes.
pub const SAMPLE: &str = "method: bayes
metric:
  name: val_loss
  goal: minimize
parameters:
  lr:
    distribution: log_uniform_values
    min: 0.0001
    max: 0.1
  hidden_units:
    values: [16, 32, 64]
early_terminate:
  type: hyperband
  min_iter: 2";

/// What an import put in the setup, for the notice that confirms it: "Imported 3
/// parameters (lr, hidden_units, batch_size), TPE (tuned), Hyperband pruner: they replace
/// the search space."
pub fn describe_import(s: &Setup) -> String {
    let names: Vec<&str> = s.params.iter().map(|p| p.name.trim()).collect();
    let pruner = match s.pruner {
        sweeplab_core::config::PrunerConfig::None => "no pruner".to_string(),
        ref p => format!("{} pruner", p.label()),
    };
    format!(
        "Imported {} parameter{} ({}), {}, {pruner}: they replace the search space.",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        s.sampler.label()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::ParamKind;

    #[test]
    fn every_pruner_keeps_its_kind_and_arguments() {
        use sweeplab_core::config::PrunerConfig;
        let base = Setup::preset("spiral-mlp");
        let with = |pruner: &str| {
            let yaml = format!(
                "method: random\nmetric: {{name: val_loss, goal: minimize}}\n{pruner}\nparameters:\n  lr: {{min: 0.001, max: 0.1}}\n"
            );
            setup_from_yaml(&yaml, &base).unwrap().pruner
        };
        assert_eq!(
            with("sweeplab: {pruner: {type: percentile, percentile: 30, n_startup_trials: 2}}"),
            PrunerConfig::Percentile {
                percentile: 30.0,
                n_startup_trials: 2,
                n_warmup_steps: 0,
                interval_steps: 1,
                n_min_trials: 1
            }
        );
        assert_eq!(
            with("sweeplab: {pruner: {type: successive_halving, reduction_factor: 3}}"),
            PrunerConfig::SuccessiveHalving {
                min_resource: None,
                reduction_factor: 3,
                min_early_stopping_rate: 0,
                bootstrap_count: 0
            }
        );
        assert_eq!(
            with("early_terminate: {type: hyperband, min_iter: 2, eta: 2}"),
            PrunerConfig::Hyperband {
                min_resource: 2,
                max_resource: None,
                reduction_factor: 2,
                bootstrap_count: 0
            }
        );
        assert_eq!(with(""), PrunerConfig::None);
    }

    #[test]
    fn a_wandb_sweep_fills_the_editor() {
        let yaml = "method: bayes\nmetric: {name: val_accuracy, goal: maximize}\nrun_cap: 12\n\
                    parameters:\n  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n  \
                    batch_size: {values: [32, 64]}\n  epochs: {value: 4}\n  optimizer: {value: sgd}\n\
                    sweeplab: {dataset: mnist, model: cnn, seed: 7}\n";
        let s = setup_from_yaml(yaml, &Setup::preset("spiral-mlp")).unwrap();
        assert_eq!(s.n_trials, 12);
        assert_eq!(s.epochs, 4);
        assert_eq!(s.dataset, Dataset::Mnist);
        assert_eq!(s.model, ModelKind::Cnn);
        assert_eq!(s.seed, Some(7));
        assert_eq!(s.objective, Objective::ValAccuracy);
        assert_eq!(s.sampler, SamplerChoice::TPE);
        let names: Vec<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["batch_size", "lr", "optimizer"]);
        assert!(s.params[1].log);
        assert_eq!(s.params[2].kind, ParamKind::Categorical);
        assert_eq!(s.params[2].choices, "sgd");
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }

    #[test]
    fn a_bayes_sweep_can_ask_for_optunas_tpe_defaults() {
        let yaml = "method: bayes\nmetric: {name: val_loss, goal: minimize}\n\
                    parameters: {lr: {min: 0.001, max: 0.1}}\nsweeplab: {tpe: optuna}\n";
        let s = setup_from_yaml(yaml, &Setup::preset("spiral-mlp")).unwrap();
        assert_eq!(s.sampler, SamplerChoice::TPE_OPTUNA);
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        let base = Setup::preset("spiral-mlp");
        for bad in [
            "",
            "method: [",
            "method: annealing\nparameters: {}",
            "parameters: {lr: {min: 1}}",
        ] {
            let e = setup_from_yaml(bad, &base).unwrap_err();
            assert!(!e.is_empty());
        }
        let e = setup_from_yaml(
            "method: random\nmetric: {name: val_loss, goal: maximize}\nparameters:\n  lr: {min: 0.1, max: 0.2}\n",
            &base,
        )
        .unwrap_err();
        assert!(e.contains("goal must be minimize"), "{e}");
        // The metric names are the core's: an unknown one is named, never guessed.
        let e = setup_from_yaml(
            "method: random\nmetric: {name: f1_score, goal: maximize}\nparameters:\n  lr: {min: 0.1, max: 0.2}\n",
            &base,
        )
        .unwrap_err();
        assert!(e.contains("f1_score") && e.contains("val/accuracy"), "{e}");
        let s = setup_from_yaml(
            "method: random\nmetric: {name: train_loss, goal: minimize}\nparameters:\n  lr: {min: 0.1, max: 0.2}\n",
            &base,
        )
        .unwrap();
        assert_eq!(s.objective, Objective::TrainLoss);
    }

    #[test]
    fn the_placeholder_is_a_sweep_the_box_takes() {
        let s = setup_from_yaml(SAMPLE, &Setup::preset("spiral-mlp")).unwrap();
        assert_eq!(
            describe_import(&s),
            "Imported 2 parameters (hidden_units, lr), TPE (tuned), Hyperband pruner: they \
             replace the search space."
        );
    }
}
