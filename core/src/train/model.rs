//! Models built from a trial's parameters: an MLP and the small CNN of the classic MNIST
//! tuning example. They run on whatever burn device they are built on (Flex on the CPU,
//! wgpu on a GPU or in the browser).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::TrainError;
use super::data::InputShape;

/// A hidden layer's activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
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
    pub fn parse(s: &str) -> Result<Activation, TrainError> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "gelu" => Ok(Activation::Gelu),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(TrainError::Config(format!(
                "activation `{s}` is not supported; use relu, tanh, gelu or sigmoid"
            ))),
        }
    }

    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}

/// Which model to build, with its architecture settings.
#[derive(Clone, Debug, PartialEq)]
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
    /// The model's kind, `mlp` or `cnn`.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Mlp { .. } => "mlp",
            ModelSpec::Cnn { .. } => "cnn",
        }
    }

    /// Checks the settings against the input.
    pub fn validate(&self, shape: InputShape) -> Result<(), TrainError> {
        let dropout = match self {
            ModelSpec::Mlp {
                layers,
                width,
                dropout,
                ..
            } => {
                if *layers > 16 {
                    return Err(TrainError::Config(format!(
                        "layers must be from 0 to 16, not {layers}"
                    )));
                }
                if *layers > 0 && !(1..=4096).contains(width) {
                    return Err(TrainError::Config(format!(
                        "width must be from 1 to 4096, not {width}"
                    )));
                }
                *dropout
            }
            ModelSpec::Cnn { dropout } => {
                match shape {
                    InputShape::Image { height, width } if height >= 6 && width >= 6 => {}
                    _ => {
                        return Err(TrainError::Config(
                            "the cnn model needs image input of at least 6x6 (use dataset: mnist)"
                                .into(),
                        ));
                    }
                }
                *dropout
            }
        };
        if !(0.0..1.0).contains(&dropout) {
            return Err(TrainError::Config(format!(
                "dropout must be in [0, 1), not {dropout}"
            )));
        }
        Ok(())
    }

    /// Builds the model on `device` (parameters initialised from the device's RNG).
    pub fn build(
        &self,
        shape: InputShape,
        classes: usize,
        device: &Device,
    ) -> Result<Model, TrainError> {
        self.validate(shape)?;
        Ok(match self {
            ModelSpec::Mlp {
                layers,
                width,
                activation,
                dropout,
            } => {
                let mut hidden = Vec::with_capacity(*layers);
                let mut d_in = shape.numel();
                for _ in 0..*layers {
                    hidden.push(LinearConfig::new(d_in, *width).init(device));
                    d_in = *width;
                }
                Model::Mlp(Mlp {
                    hidden,
                    out: LinearConfig::new(d_in, classes).init(device),
                    dropout: DropoutConfig::new(*dropout).init(),
                    activation: *activation,
                })
            }
            ModelSpec::Cnn { dropout } => {
                let InputShape::Image { height, width } = shape else {
                    return Err(TrainError::Config("the cnn model needs image input".into()));
                };
                let (h, w) = ((height - 4) / 2, (width - 4) / 2);
                Model::Cnn(Cnn {
                    conv1: Conv2dConfig::new([1, 32], [3, 3]).init(device),
                    conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
                    fc1: LinearConfig::new(64 * h * w, 128).init(device),
                    fc2: LinearConfig::new(128, classes).init(device),
                    dropout: DropoutConfig::new(*dropout).init(),
                    height,
                    width,
                })
            }
        })
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    out: Linear,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl Mlp {
    /// `[batch, features]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut x = x;
        for layer in &self.hidden {
            x = self
                .dropout
                .forward(self.activation.apply(layer.forward(x)));
        }
        self.out.forward(x)
    }
}

/// The classic MNIST CNN.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    dropout: Dropout,
    #[module(skip)]
    height: usize,
    #[module(skip)]
    width: usize,
}

impl Cnn {
    /// `[batch, height * width]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, _] = x.dims();
        let x = x.reshape([batch, 1, self.height, self.width]);
        let x = activation::relu(self.conv1.forward(x));
        let x = activation::relu(self.conv2.forward(x));
        let x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
        let x = self.dropout.forward(x);
        let x = x.flatten::<2>(1, 3);
        let x = self.dropout.forward(activation::relu(self.fc1.forward(x)));
        self.fc2.forward(x)
    }
}

/// A model built from a trial's parameters.
// One model lives per trial, so the enum's size does not matter; burn's `Module` derive does
// not see through a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// An MLP.
    Mlp(Mlp),
    /// The MNIST CNN.
    Cnn(Cnn),
}

impl Model {
    /// `[batch, features]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Mlp(m) => m.forward(x),
            Model::Cnn(m) => m.forward(x),
        }
    }
}
