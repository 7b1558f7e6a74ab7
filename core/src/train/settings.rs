//! What one trial trains: the model and optimiser settings, resolved from the sweep's fixed
//! settings and the trial's sampled parameters.

use std::collections::BTreeMap;

use super::TrainError;
use super::model::{Activation, ModelSpec};
use crate::distributions::ParamValue;
use crate::json::Json;

/// The optimisers the trainer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OptimizerKind {
    /// Adam (weight decay added to the gradient, as PyTorch's `Adam`).
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    AdamW,
    /// Stochastic gradient descent with momentum.
    Sgd,
}

impl OptimizerKind {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::Sgd => "sgd",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Result<OptimizerKind, TrainError> {
        match s.to_ascii_lowercase().as_str() {
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            "sgd" => Ok(OptimizerKind::Sgd),
            _ => Err(TrainError::Config(format!(
                "optimizer `{s}` is not supported; use adam, adamw or sgd"
            ))),
        }
    }
}

/// The metric a study optimises, computed by the trainer each epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Objective {
    /// Mean cross-entropy on the validation split (`val/loss`, minimise).
    #[default]
    ValLoss,
    /// Accuracy on the validation split (`val/accuracy`, maximise).
    ValAccuracy,
    /// Mean training loss of the epoch (`train/loss`, minimise).
    TrainLoss,
}

impl Objective {
    /// The metric's series name (`val/loss`, `val/accuracy`, `train/loss`).
    pub fn series(self) -> &'static str {
        match self {
            Objective::ValLoss => "val/loss",
            Objective::ValAccuracy => "val/accuracy",
            Objective::TrainLoss => "train/loss",
        }
    }

    /// Parses a metric name: `val/loss` (also `val_loss`, `loss`), `val/accuracy` (also
    /// `val_accuracy`, `accuracy`, `val/acc`) or `train/loss` (also `train_loss`).
    pub fn parse(name: &str) -> Result<Objective, TrainError> {
        match name.to_ascii_lowercase().as_str() {
            "val/loss" | "val_loss" | "loss" | "validation/loss" => Ok(Objective::ValLoss),
            "val/accuracy" | "val_accuracy" | "accuracy" | "val/acc" | "val_acc" => {
                Ok(Objective::ValAccuracy)
            }
            "train/loss" | "train_loss" => Ok(Objective::TrainLoss),
            _ => Err(TrainError::Config(format!(
                "metric `{name}` is not one the trainer computes; use val/loss, val/accuracy or train/loss"
            ))),
        }
    }

    /// Whether larger values are better.
    pub fn maximize(self) -> bool {
        matches!(self, Objective::ValAccuracy)
    }
}

/// Everything one trial trains with.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialPlan {
    /// The model.
    pub model: ModelSpec,
    /// The optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate, > 0.
    pub lr: f64,
    /// L2 penalty (Adam, SGD) or decoupled decay (AdamW), >= 0.
    pub weight_decay: f64,
    /// SGD momentum in [0, 1).
    pub momentum: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Seed of initialisation, dropout and shuffling.
    pub seed: u64,
}

/// The keys the trainer reads, from the sweep's settings or a trial's parameters.
pub const TRAIN_KEYS: &[&str] = &[
    "model",
    "layers",
    "width",
    "activation",
    "dropout",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "batch_size",
    "epochs",
];

/// Alternative spellings accepted for some keys.
/// The canonical name of a trainer key (`learning_rate` → `lr`, `hidden_layers` → `layers`, …).
pub fn canonical(key: &str) -> &str {
    match key {
        "learning_rate" => "lr",
        "hidden_layers" | "n_layers" | "num_layers" => "layers",
        "hidden_units" | "units" | "hidden_size" => "width",
        "optim" => "optimizer",
        "epoch" | "num_epochs" => "epochs",
        "batch" => "batch_size",
        other => other,
    }
}

fn get_f64(m: &BTreeMap<String, Json>, key: &str, default: f64) -> Result<f64, TrainError> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| {
            TrainError::Config(format!(
                "`{key}` must be a number, not {}",
                v.to_python_default()
            ))
        }),
    }
}

fn get_usize(
    m: &BTreeMap<String, Json>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, TrainError> {
    let v = get_f64(m, key, default as f64)?;
    if v.fract() != 0.0 || v < *range.start() as f64 || v > *range.end() as f64 {
        return Err(TrainError::Config(format!(
            "`{key}` must be a whole number from {} to {}, not {v}",
            range.start(),
            range.end()
        )));
    }
    Ok(v as usize)
}

fn get_str<'a>(
    m: &'a BTreeMap<String, Json>,
    key: &str,
    default: &'a str,
) -> Result<&'a str, TrainError> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v.as_str().ok_or_else(|| {
            TrainError::Config(format!(
                "`{key}` must be a string, not {}",
                v.to_python_default()
            ))
        }),
    }
}

impl TrialPlan {
    /// Resolves a trial's plan. `model` is the sweep's model entry (`mlp`, `cnn`, or an
    /// object `{name, layers, width, activation, dropout}`); `settings` are the sweep's fixed
    /// trainer settings; `params` the trial's sampled parameters, which win over both.
    /// Unknown keys are errors that name them.
    pub fn resolve(
        model: &Json,
        settings: &[(String, Json)],
        params: &BTreeMap<String, ParamValue>,
        seed: u64,
    ) -> Result<TrialPlan, TrainError> {
        let mut m: BTreeMap<String, Json> = BTreeMap::new();
        match model {
            Json::Null => {}
            Json::Str(s) => {
                m.insert("model".into(), Json::Str(s.clone()));
            }
            Json::Object(kv) => {
                for (k, v) in kv {
                    let k = if k == "name" { "model" } else { canonical(k) };
                    m.insert(k.to_string(), v.clone());
                }
            }
            other => {
                return Err(TrainError::Config(format!(
                    "model must be `mlp`, `cnn` or an object, not {}",
                    other.to_python_default()
                )));
            }
        }
        let sources = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(params.iter().map(|(k, v)| (k.as_str(), v.to_json())));
        for (k, v) in sources {
            m.insert(canonical(k).to_string(), v);
        }
        if let Some(k) = m.keys().find(|k| !TRAIN_KEYS.contains(&k.as_str())) {
            return Err(TrainError::Config(format!(
                "unknown trainer setting or parameter `{k}`; supported: {}",
                TRAIN_KEYS.join(", ")
            )));
        }
        let dropout = get_f64(&m, "dropout", 0.0)?;
        let model = match get_str(&m, "model", "mlp")?.to_ascii_lowercase().as_str() {
            "mlp" => ModelSpec::Mlp {
                layers: get_usize(&m, "layers", 2, 0..=16)?,
                width: get_usize(&m, "width", 64, 1..=4096)?,
                activation: Activation::parse(get_str(&m, "activation", "relu")?)?,
                dropout,
            },
            "cnn" => {
                for k in ["layers", "width", "activation"] {
                    if m.contains_key(k) {
                        return Err(TrainError::Config(format!(
                            "`{k}` does not apply to the cnn model (its architecture is fixed)"
                        )));
                    }
                }
                ModelSpec::Cnn { dropout }
            }
            other => {
                return Err(TrainError::Config(format!(
                    "model `{other}` is not supported; use mlp or cnn"
                )));
            }
        };
        let lr = get_f64(&m, "lr", 1e-3)?;
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(TrainError::Config(format!(
                "`lr` must be a positive number, not {lr}"
            )));
        }
        let weight_decay = get_f64(&m, "weight_decay", 0.0)?;
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(TrainError::Config(format!(
                "`weight_decay` must be >= 0, not {weight_decay}"
            )));
        }
        let momentum = get_f64(&m, "momentum", 0.9)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(TrainError::Config(format!(
                "`momentum` must be in [0, 1), not {momentum}"
            )));
        }
        Ok(TrialPlan {
            model,
            optimizer: OptimizerKind::parse(get_str(&m, "optimizer", "adam")?)?,
            lr,
            weight_decay,
            momentum,
            batch_size: get_usize(&m, "batch_size", 32, 1..=65_536)?,
            epochs: get_usize(&m, "epochs", 10, 1..=10_000)?,
            seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_override_settings_and_model() {
        let model = Json::parse(r#"{"name": "mlp", "layers": 3, "width": 16}"#).unwrap();
        let settings = vec![
            ("epochs".to_string(), Json::Int(4)),
            ("learning_rate".to_string(), Json::Float(0.5)),
        ];
        let mut params = BTreeMap::new();
        params.insert("lr".to_string(), ParamValue::Float(0.01));
        params.insert("width".to_string(), ParamValue::Int(32));
        params.insert("optimizer".to_string(), ParamValue::Str("SGD".into()));
        let p = TrialPlan::resolve(&model, &settings, &params, 5).unwrap();
        assert_eq!(p.lr, 0.01);
        assert_eq!(p.epochs, 4);
        assert_eq!(p.optimizer, OptimizerKind::Sgd);
        assert_eq!(
            p.model,
            ModelSpec::Mlp {
                layers: 3,
                width: 32,
                activation: Activation::Relu,
                dropout: 0.0
            }
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let mut params = BTreeMap::new();
        params.insert("lrr".to_string(), ParamValue::Float(0.01));
        let e = TrialPlan::resolve(&Json::Null, &[], &params, 0).unwrap_err();
        assert!(e.to_string().contains("lrr"), "{e}");
        let mut params = BTreeMap::new();
        params.insert("optimizer".to_string(), ParamValue::Str("lbfgs".into()));
        let e = TrialPlan::resolve(&Json::Null, &[], &params, 0).unwrap_err();
        assert!(e.to_string().contains("lbfgs"), "{e}");
        let e = TrialPlan::resolve(
            &Json::Str("cnn".into()),
            &[("width".into(), Json::Int(3))],
            &BTreeMap::new(),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("width"), "{e}");
        let e = TrialPlan::resolve(
            &Json::Null,
            &[("batch_size".into(), Json::Float(0.5))],
            &BTreeMap::new(),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
    }
}
