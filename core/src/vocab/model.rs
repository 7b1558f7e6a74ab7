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
}

impl ModelSpec {
    /// The model kinds, as the `model` setting names them.
    pub const KINDS: [&'static str; 2] = ["mlp", "cnn"];

    /// The settings that describe an MLP's architecture and do not apply to the CNN (whose
    /// architecture is fixed).
    pub const MLP_ONLY_KEYS: [&'static str; 3] = ["layers", "width", "activation"];

    /// The model's kind, `mlp` or `cnn`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Mlp { .. } => "mlp",
            ModelSpec::Cnn { .. } => "cnn",
        }
    }
}
