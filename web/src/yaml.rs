//! Filling the editor from a W&B sweep YAML, read by the core's [`SweepConfig`].

use sweeplab_core::config::{PrunerConfig, SweepConfig, SweepMethod};
use sweeplab_core::{Json, StudyDirection};

use crate::setup::{Dataset, ModelKind, Objective, ParamSpec, PrunerKind, SamplerKind, Setup};

/// The setup a sweep YAML describes, starting from `base` for what the YAML leaves out.
pub fn setup_from_yaml(text: &str, base: &Setup) -> Result<Setup, String> {
    if text.trim().is_empty() {
        return Err("paste a W&B sweep YAML first".into());
    }
    let cfg = SweepConfig::from_yaml_str(text).map_err(|e| format!("sweep YAML: {e}"))?;
    let mut s = base.clone();
    s.preset = "yaml".into();
    s.sampler = match cfg.method {
        SweepMethod::Grid => SamplerKind::Grid,
        SweepMethod::Random => SamplerKind::Random,
        SweepMethod::Bayes => SamplerKind::tpe(cfg.tpe_defaults()),
    };
    if let Some(m) = &cfg.metric {
        let name = m.name.to_ascii_lowercase();
        s.objective = if name.contains("acc") {
            Objective::ValAccuracy
        } else if name.contains("loss") {
            Objective::ValLoss
        } else if m.goal == StudyDirection::Maximize {
            Objective::ValAccuracy
        } else {
            Objective::ValLoss
        };
        if s.objective.direction() != m.goal {
            return Err(format!(
                "sweep YAML: metric `{}` with goal {} does not match a metric the playground \
                 computes (val_loss: minimize, val_accuracy: maximize)",
                m.name,
                m.goal.name()
            ));
        }
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
                "sweep YAML: sweeplab.dataset `{d}` is not one of spiral, xor, circle, gauss, mnist"
            )
        })?;
    }
    if let Some(m) = &cfg.sweeplab.model {
        s.model = match m.to_ascii_lowercase().as_str() {
            "mlp" => ModelKind::Mlp,
            "cnn" => ModelKind::Cnn,
            other => {
                return Err(format!(
                    "sweep YAML: sweeplab.model `{other}` is not mlp or cnn"
                ));
            }
        };
    }
    s.pruner = if cfg.early_terminate.is_some() {
        PrunerKind::Hyperband
    } else {
        match &cfg.sweeplab.pruner {
            None | Some(PrunerConfig::None) => PrunerKind::None,
            Some(PrunerConfig::Median { .. } | PrunerConfig::Percentile { .. }) => {
                PrunerKind::Median
            }
            Some(PrunerConfig::Hyperband { .. } | PrunerConfig::SuccessiveHalving { .. }) => {
                PrunerKind::Hyperband
            }
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::ParamKind;

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
        assert_eq!(s.sampler, SamplerKind::Tpe);
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
        assert_eq!(s.sampler, SamplerKind::TpeOptuna);
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
        assert!(e.contains("does not match"), "{e}");
    }
}
