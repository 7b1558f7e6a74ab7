//! What one trial trains: the model and optimiser settings, resolved from the sweep's fixed
//! settings and the trial's sampled parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Activation, BaseQuant, LoraSettings, LoraTargets, ModelSpec, OptimizerKind, PlanError,
};
use crate::distributions::ParamValue;
use crate::json::Json;

/// Everything one trial trains with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "base_quant",
    "steps",
];

/// The canonical name of a trainer key: the alternative spellings accepted for some keys map
/// to their name in [`TRAIN_KEYS`] (`learning_rate` → `lr`, `hidden_layers` → `layers`, …);
/// any other key comes back unchanged.
pub fn canonical(key: &str) -> &str {
    match key {
        "learning_rate" => "lr",
        "hidden_layers" | "n_layers" | "num_layers" => "layers",
        "hidden_units" | "units" | "hidden_size" => "width",
        "optim" => "optimizer",
        "epoch" | "num_epochs" => "epochs",
        "batch" => "batch_size",
        "r" | "rank" | "lora_rank" => "lora_r",
        "alpha" => "lora_alpha",
        "max_steps" | "train_steps" => "steps",
        "quantization" | "quant" => "base_quant",
        other => other,
    }
}

/// Whether `key` (or the setting an alias of it names) is one the trainer reads.
pub fn is_train_key(key: &str) -> bool {
    TRAIN_KEYS.contains(&canonical(key))
}

fn get_f64(m: &BTreeMap<String, Json>, key: &str, default: f64) -> Result<f64, PlanError> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| {
            PlanError(format!(
                "`{key}` must be a number, not {}",
                v.to_python_default()
            ))
        }),
    }
}

/// The most epochs a trial trains.
pub const MAX_EPOCHS: usize = 10_000;

fn get_usize(
    m: &BTreeMap<String, Json>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, PlanError> {
    let v = get_f64(m, key, default as f64)?;
    if v.fract() != 0.0 || v < *range.start() as f64 || v > *range.end() as f64 {
        return Err(PlanError(format!(
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
) -> Result<&'a str, PlanError> {
    match m.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v.as_str().ok_or_else(|| {
            PlanError(format!(
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
    ) -> Result<TrialPlan, PlanError> {
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
                return Err(PlanError(format!(
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
            return Err(PlanError(format!(
                "unknown trainer setting or parameter `{k}`; supported: {}",
                TRAIN_KEYS.join(", ")
            )));
        }
        let dropout = get_f64(&m, "dropout", 0.0)?;
        let kind = get_str(&m, "model", "mlp")?.to_ascii_lowercase();
        if !matches!(kind.as_str(), "lora" | "finetune")
            && let Some(k) = ModelSpec::LM_ONLY_KEYS.iter().find(|k| m.contains_key(**k))
        {
            return Err(PlanError(format!(
                "`{k}` applies to the language models only (model: lora or finetune)"
            )));
        }
        let model = match kind.as_str() {
            "mlp" => ModelSpec::Mlp {
                layers: get_usize(&m, "layers", 2, 0..=16)?,
                width: get_usize(&m, "width", 64, 1..=4096)?,
                activation: Activation::parse(get_str(&m, "activation", "relu")?)?,
                dropout,
            },
            "cnn" => {
                for k in ModelSpec::MLP_ONLY_KEYS {
                    if m.contains_key(k) {
                        return Err(PlanError(format!(
                            "`{k}` does not apply to the cnn model (its architecture is fixed)"
                        )));
                    }
                }
                ModelSpec::Cnn { dropout }
            }
            "lora" | "finetune" => {
                for k in ModelSpec::MLP_ONLY_KEYS.iter().chain(&["dropout"]) {
                    if m.contains_key(*k) {
                        return Err(PlanError(format!(
                            "`{k}` does not apply to the language model (its architecture is the pretrained base's; LoRA's dropout is lora_dropout)"
                        )));
                    }
                }
                let lora = if kind == "lora" {
                    let lora = LoraSettings {
                        r: get_usize(&m, "lora_r", 8, 1..=256)?,
                        alpha: get_f64(&m, "lora_alpha", 16.0)?,
                        dropout: get_f64(&m, "lora_dropout", 0.05)?,
                        targets: LoraTargets::parse(get_str(&m, "lora_targets", "qv")?)?,
                    };
                    lora.validate()?;
                    Some(lora)
                } else {
                    if let Some(k) = ModelSpec::LORA_ONLY_KEYS
                        .iter()
                        .find(|k| m.contains_key(**k))
                    {
                        return Err(PlanError(format!(
                            "`{k}` applies to LoRA (model: lora), not to full fine-tuning"
                        )));
                    }
                    None
                };
                ModelSpec::Lm {
                    lora,
                    steps: get_usize(&m, "steps", 200, 1..=1_000_000)?,
                    quant: BaseQuant::parse(get_str(&m, "base_quant", "none")?)?,
                }
            }
            other => {
                return Err(PlanError(format!(
                    "model `{other}` is not supported; use mlp, cnn, lora or finetune"
                )));
            }
        };
        let lr = get_f64(&m, "lr", 1e-3)?;
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(PlanError(format!(
                "`lr` must be a positive number, not {lr}"
            )));
        }
        let weight_decay = get_f64(&m, "weight_decay", 0.0)?;
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(PlanError(format!(
                "`weight_decay` must be >= 0, not {weight_decay}"
            )));
        }
        let momentum = get_f64(&m, "momentum", 0.9)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(PlanError(format!(
                "`momentum` must be in [0, 1), not {momentum}"
            )));
        }
        let default_optimizer = if model.is_lm() { "adamw" } else { "adam" };
        Ok(TrialPlan {
            model,
            optimizer: OptimizerKind::parse(get_str(&m, "optimizer", default_optimizer)?)?,
            lr,
            weight_decay,
            momentum,
            batch_size: get_usize(&m, "batch_size", 32, 1..=65_536)?,
            epochs: get_usize(&m, "epochs", 10, 1..=MAX_EPOCHS)?,
            seed,
        })
    }
}

impl TrialPlan {
    /// About how many bytes training this plan holds at its peak, for `inputs` features per
    /// sample and `classes` outputs: the parameters four times over (weights, gradients and
    /// the optimiser's two moments) and a batch's activations kept for the backward pass
    /// (three per unit: the pre-activation, the activation and the dropout mask), in f32.
    /// An estimate to refuse what cannot fit, not a measurement.
    pub fn memory_bytes(&self, inputs: usize, classes: usize) -> u64 {
        let (params, units) = match &self.model {
            ModelSpec::Mlp { layers, width, .. } => {
                let (l, w) = (*layers as u64, *width as u64);
                let (i, c) = (inputs as u64, classes as u64);
                let params = if l == 0 {
                    (i + 1) * c
                } else {
                    (i + 1) * w + (l - 1) * (w + 1) * w + (w + 1) * c
                };
                (params, i + l * w + c)
            }
            // conv 3x3x32, conv 3x3x64, pool, fc 128, fc classes on a 28x28 image: about
            // 1.2 million weights and 60,000 activations a sample.
            ModelSpec::Cnn { .. } => {
                let pooled = (inputs as u64).saturating_mul(64) / 4;
                (
                    pooled * 128 + 128 * classes as u64 + 19_000,
                    (inputs as u64) * (1 + 32 + 64) + pooled + 128 + classes as u64,
                )
            }
            // The shipped base: about 390,000 weights, 64 positions of about 3,000
            // activations each a window (attention and MLP of three blocks).
            ModelSpec::Lm { .. } => (390_000, 64 * 3_000),
        };
        let batch = self.batch_size as u64;
        params
            .saturating_mul(4 * 4)
            .saturating_add(batch.saturating_mul(units).saturating_mul(3 * 4))
    }
}

/// Bytes as people read them: `1.5 GiB`, `300 MiB`.
pub fn human_bytes(b: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let b = b as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.0} MiB", (b / MIB).ceil())
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
    fn memory_grows_with_width_layers_and_batch() {
        let plan = |layers: usize, width: usize, batch: usize| TrialPlan {
            model: ModelSpec::Mlp {
                layers,
                width,
                activation: Activation::Relu,
                dropout: 0.0,
            },
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            weight_decay: 0.0,
            momentum: 0.9,
            batch_size: batch,
            epochs: 1,
            seed: 0,
        };
        // 784-128-10: 101,770 parameters, 16 bytes each, plus a batch of 64.
        let small = plan(1, 128, 64).memory_bytes(784, 10);
        assert_eq!(small, 101_770 * 16 + 64 * (784 + 128 + 10) * 12);
        // The issue's sweep: 16 layers of 4096 units at batch 65,536 is tens of GiB.
        let huge = plan(16, 4096, 65_536).memory_bytes(784, 10);
        assert!(huge > 40 << 30, "{}", human_bytes(huge));
        assert!(plan(2, 64, 32).memory_bytes(2, 2) < small);
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(300 << 20), "300 MiB");
    }

    #[test]
    fn aliases_are_train_keys() {
        for k in TRAIN_KEYS {
            assert!(is_train_key(k));
        }
        for alias in [
            "learning_rate",
            "hidden_layers",
            "n_layers",
            "units",
            "optim",
            "batch",
        ] {
            assert!(is_train_key(alias), "{alias}");
        }
        assert!(!is_train_key("lrr"));
        assert!(!is_train_key("name"));
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
