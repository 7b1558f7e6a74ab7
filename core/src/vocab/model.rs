//! Which model a trial builds, with its architecture settings (the trainer's `build` lives
//! with burn in `train::model`).

use serde::{Deserialize, Serialize};

use super::PlanError;

/// A hidden layer's activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// tanh(x).
    Tanh,
    /// GELU (exact form).
    Gelu,
    /// 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    /// Every activation, in menu order.
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Sigmoid,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Gelu => "gelu",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Result<Activation, PlanError> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "gelu" => Ok(Activation::Gelu),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(PlanError(format!(
                "activation `{s}` is not supported; use relu, tanh, gelu or sigmoid"
            ))),
        }
    }
}

/// Which projections of the language model get LoRA adapters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoraTargets {
    /// The query and value projections (PEFT's default for llama-style models, and the LoRA
    /// paper's choice for GPT-3).
    #[default]
    Qv,
    /// Every attention projection: query, key, value and output.
    Qkvo,
    /// Every attention projection and the MLP's three.
    All,
}

impl LoraTargets {
    /// Every choice, in menu order.
    pub const ALL: [LoraTargets; 3] = [LoraTargets::Qv, LoraTargets::Qkvo, LoraTargets::All];

    /// The name in configurations (`qv`, `qkvo`, `all`).
    pub fn name(self) -> &'static str {
        match self {
            LoraTargets::Qv => "qv",
            LoraTargets::Qkvo => "qkvo",
            LoraTargets::All => "all",
        }
    }

    /// The targets named `name` (case-insensitive).
    pub fn parse(name: &str) -> Result<LoraTargets, PlanError> {
        let lower = name.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.name() == lower)
            .ok_or_else(|| {
                PlanError(format!(
                    "lora_targets must be one of qv, qkvo, all, not `{name}`"
                ))
            })
    }

    /// Whether projection `proj` (`q_proj`, …, `down_proj`) gets an adapter.
    pub fn covers(self, proj: &str) -> bool {
        match self {
            LoraTargets::Qv => matches!(proj, "q_proj" | "v_proj"),
            LoraTargets::Qkvo => matches!(proj, "q_proj" | "k_proj" | "v_proj" | "o_proj"),
            LoraTargets::All => true,
        }
    }
}

/// A LoRA adapter's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraSettings {
    /// The rank `r` (1 to 256).
    pub r: usize,
    /// The scale's numerator: the update is multiplied by `alpha / r`.
    pub alpha: f64,
    /// Dropout on the adapter's input, in [0, 1).
    pub dropout: f64,
    /// Which projections get adapters.
    pub targets: LoraTargets,
}

impl LoraSettings {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), PlanError> {
        if !(1..=256).contains(&self.r) {
            return Err(PlanError(format!(
                "lora_r must be from 1 to 256, not {}",
                self.r
            )));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(PlanError(format!(
                "lora_alpha must be a positive number, not {}",
                self.alpha
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(PlanError(format!(
                "lora_dropout must be in [0, 1), not {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// `alpha / r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.r as f64
    }
}

/// How the language model's frozen base is held under LoRA (QLoRA's idea): its projections'
/// weights quantized in blocks of 32 values with an f32 scale each, dequantized on the fly
/// in every forward pass, while the adapters train in f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseQuant {
    /// 8-bit integers (symmetric).
    Int8,
    /// 4-bit integers (symmetric), two to a byte.
    Int4,
}

impl BaseQuant {
    /// The name in configurations (`int8`, `int4`).
    pub fn name(self) -> &'static str {
        match self {
            BaseQuant::Int8 => "int8",
            BaseQuant::Int4 => "int4",
        }
    }

    /// The quantization named `name` (`none`, `f32`: no quantization).
    pub fn parse(name: &str) -> Result<Option<BaseQuant>, PlanError> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(None),
            "int8" => Ok(Some(BaseQuant::Int8)),
            "int4" => Ok(Some(BaseQuant::Int4)),
            _ => Err(PlanError(format!(
                "base_quant must be none, int8 or int4, not `{name}`"
            ))),
        }
    }

    /// Bits per value.
    pub fn bits(self) -> u64 {
        match self {
            BaseQuant::Int8 => 8,
            BaseQuant::Int4 => 4,
        }
    }
}

/// Which model to build, with its architecture settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum ModelSpec {
    /// A multi-layer perceptron: `layers` hidden layers of `width` units.
    Mlp {
        /// Hidden layers (0 = logistic regression).
        layers: usize,
        /// Units per hidden layer.
        width: usize,
        /// The hidden activation.
        activation: Activation,
        /// Dropout probability after each hidden layer, in [0, 1).
        dropout: f64,
    },
    /// conv 3x3 32 → conv 3x3 64 → max-pool 2 → dropout → fc 128 → dropout → fc classes
    /// (the classic MNIST example). Needs image input.
    Cnn {
        /// Dropout probability, in [0, 1).
        dropout: f64,
    },
    /// The pretrained byte-level language model, fine-tuned on a text corpus: with LoRA
    /// adapters (`lora`) or every weight (`finetune`, the baseline). Needs a text data set.
    Lm {
        /// The adapters; `None` trains every weight of the base.
        lora: Option<LoraSettings>,
        /// Optimiser steps in all, spread evenly over the trial's evaluations (`epochs`).
        steps: usize,
        /// The frozen base quantized (LoRA only); `None` keeps it in f32.
        #[serde(default)]
        quant: Option<BaseQuant>,
    },
}

impl ModelSpec {
    /// The model kinds, as the `model` setting names them.
    pub const KINDS: [&'static str; 4] = ["mlp", "cnn", "lora", "finetune"];

    /// The settings that describe an MLP's architecture and do not apply to the CNN (whose
    /// architecture is fixed).
    pub const MLP_ONLY_KEYS: [&'static str; 3] = ["layers", "width", "activation"];

    /// The settings only LoRA reads (not full fine-tuning).
    pub const LORA_ONLY_KEYS: [&'static str; 5] = [
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_targets",
        "base_quant",
    ];

    /// The settings that only the language models read.
    pub const LM_ONLY_KEYS: [&'static str; 5] = [
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_targets",
        "steps",
    ];

    /// The model's kind: `mlp`, `cnn`, `lora` or `finetune`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Mlp { .. } => "mlp",
            ModelSpec::Cnn { .. } => "cnn",
            ModelSpec::Lm { lora: Some(_), .. } => "lora",
            ModelSpec::Lm { lora: None, .. } => "finetune",
        }
    }

    /// Whether the model is the language model (it trains on a text data set).
    pub fn is_lm(&self) -> bool {
        matches!(self, ModelSpec::Lm { .. })
    }
}
