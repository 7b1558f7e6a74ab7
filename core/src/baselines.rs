//! The baselines of a language-model study, as the study keeps them: the frozen base, full
//! fine-tuning and the best trial's adapters over the base in other precisions, each trained
//! with the best trial's budget (`train::run_baselines`, feature `train`), and stored as a
//! JSON list in the study's user attribute [`BASELINES_ATTR`]. Every storage carries it, the
//! page reads it back after a reload, and Optuna shows it as a study user attribute.

use std::collections::BTreeMap;

use crate::json::Json;

/// The study user attribute holding the baselines: a JSON list of [`Baseline`]s.
pub const BASELINES_ATTR: &str = "baselines";

/// One baseline's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// What it is, for people: "frozen base", "full fine-tuning", "LoRA, int8 base".
    pub name: String,
    /// `frozen`, `finetune` or `lora`.
    pub kind: String,
    /// How the frozen base is held: `f32`, `int8` or `int4`.
    pub base: String,
    /// The validation loss (nats per byte) at its last evaluation; `None` when it failed.
    pub val_loss: Option<f64>,
    /// The next-byte validation accuracy at its last evaluation.
    pub val_accuracy: Option<f64>,
    /// Bytes the base's weights take as held.
    pub base_memory_bytes: u64,
    /// Parameters that trained (0 for the frozen base).
    pub trainable_params: u64,
    /// Optimiser steps (0 for the frozen base).
    pub steps: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Wall-clock seconds it took.
    pub seconds: f64,
    /// Why it has no result, when it has none.
    pub note: Option<String>,
}

impl Baseline {
    /// `exp(val_loss)`: the perplexity per byte.
    pub fn perplexity(&self) -> Option<f64> {
        self.val_loss.map(f64::exp)
    }

    /// As stored in [`BASELINES_ATTR`].
    pub fn to_json(&self) -> Json {
        let opt = |v: Option<f64>| v.map_or(Json::Null, Json::Float);
        Json::Object(
            [
                ("name", Json::Str(self.name.clone())),
                ("kind", Json::Str(self.kind.clone())),
                ("base", Json::Str(self.base.clone())),
                ("val_loss", opt(self.val_loss)),
                ("val_accuracy", opt(self.val_accuracy)),
                (
                    "base_memory_bytes",
                    Json::Int(self.base_memory_bytes as i64),
                ),
                ("trainable_params", Json::Int(self.trainable_params as i64)),
                ("steps", Json::Int(self.steps as i64)),
                ("batch_size", Json::Int(self.batch_size as i64)),
                ("lr", Json::Float(self.lr)),
                ("seconds", Json::Float(self.seconds)),
                ("note", self.note.clone().map_or(Json::Null, Json::Str)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        )
    }

    /// Reads one entry of [`BASELINES_ATTR`]; `None` when it is not one.
    pub fn from_json(v: &Json) -> Option<Baseline> {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).filter(|x| x.is_finite());
        let u = |k: &str| v.get(k).and_then(|x| x.as_i64()).map(|x| x.max(0) as u64);
        Some(Baseline {
            name: s("name")?,
            kind: s("kind")?,
            base: s("base").unwrap_or_else(|| "f32".into()),
            val_loss: f("val_loss"),
            val_accuracy: f("val_accuracy"),
            base_memory_bytes: u("base_memory_bytes").unwrap_or(0),
            trainable_params: u("trainable_params").unwrap_or(0),
            steps: u("steps").unwrap_or(0) as usize,
            batch_size: u("batch_size").unwrap_or(0) as usize,
            lr: f("lr").unwrap_or(0.0),
            seconds: f("seconds").unwrap_or(0.0),
            note: s("note"),
        })
    }
}

/// The baselines a study's user attributes hold (none when it has not trained them).
pub fn baselines_of(user_attrs: &BTreeMap<String, Json>) -> Vec<Baseline> {
    match user_attrs.get(BASELINES_ATTR) {
        Some(Json::Array(items)) => items.iter().filter_map(Baseline::from_json).collect(),
        _ => Vec::new(),
    }
}

/// A base's memory as the baselines show it, fine enough to tell an int8 base from an int4
/// one: `421 KiB`, `1.48 MiB`.
pub fn memory_text(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = KIB * KIB;
    let b = bytes as f64;
    if b >= MIB {
        format!("{:.2} MiB", b / MIB)
    } else {
        format!("{:.0} KiB", b / KIB)
    }
}

/// The list as stored in [`BASELINES_ATTR`].
pub fn baselines_to_json(baselines: &[Baseline]) -> Json {
    Json::Array(baselines.iter().map(Baseline::to_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_round_trip_through_the_study_attribute() {
        let b = Baseline {
            name: "LoRA, int4 base".into(),
            kind: "lora".into(),
            base: "int4".into(),
            val_loss: Some(1.75),
            val_accuracy: Some(0.47),
            base_memory_bytes: 431_232,
            trainable_params: 9_216,
            steps: 120,
            batch_size: 8,
            lr: 0.02,
            seconds: 31.5,
            note: None,
        };
        let failed = Baseline {
            name: "full fine-tuning".into(),
            kind: "finetune".into(),
            val_loss: None,
            val_accuracy: None,
            note: Some("train/loss became NaN".into()),
            ..b.clone()
        };
        let mut attrs = BTreeMap::new();
        attrs.insert(
            BASELINES_ATTR.to_string(),
            baselines_to_json(&[b.clone(), failed.clone()]),
        );
        let text = attrs[BASELINES_ATTR].to_compact();
        let reread = Json::parse(&text).expect("valid JSON");
        attrs.insert(BASELINES_ATTR.to_string(), reread);
        assert_eq!(baselines_of(&attrs), vec![b.clone(), failed]);
        assert!((b.perplexity().unwrap_or(0.0) - 1.75f64.exp()).abs() < 1e-12);
        // Anything else under the key reads as no baselines, not an error.
        attrs.insert(BASELINES_ATTR.to_string(), Json::Str("x".into()));
        assert!(baselines_of(&attrs).is_empty());
        assert!(baselines_of(&Default::default()).is_empty());
    }

    #[test]
    fn memory_reads_apart_for_each_precision_of_the_base() {
        assert_eq!(memory_text(1_550_976), "1.48 MiB");
        assert_eq!(memory_text(597_120), "583 KiB");
        assert_eq!(memory_text(431_232), "421 KiB");
    }
}
