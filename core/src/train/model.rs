//! Models built from a trial's parameters: an MLP and the small CNN of the classic MNIST
//! tuning example. They run on whatever burn device they are built on (Flex on the CPU,
//! wgpu on a GPU or in the browser).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::activation;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Distribution, Gradients, Tensor, TensorData};

use super::TrainError;
use super::cnn_cpu;
use super::data::InputShape;
pub use crate::vocab::{Activation, ModelSpec};

// `Activation` and `ModelSpec` are the shared vocabulary (`crate::vocab`); what only the
// trainer needs (applying an activation, checking and building a model) is added here.

impl Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}

impl ModelSpec {
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
            // Checked when its plan was resolved; it trains on text (`train::lm`).
            ModelSpec::Lm { .. } => 0.0,
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
            ModelSpec::Lm { .. } => {
                return Err(TrainError::Config(
                    "the language model is loaded from its pretrained base (train::lm), not built here"
                        .into(),
                ));
            }
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
    ///
    /// Outside autodiff on the CPU backend (Flex), the convolutions and the pooling run on
    /// [`cnn_cpu`]'s kernels; elsewhere (wgpu, or a forward pass whose gradients are wanted)
    /// on burn's modules. The two compute the same function up to float rounding.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        if !x.is_autodiff()
            && let Some(features) = self.cpu_features(x.clone(), false)
        {
            return self.head(features.0);
        }
        self.forward_reference(x)
    }

    /// The forward pass on burn's modules, channels-first, on any backend.
    fn forward_reference(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, _] = x.dims();
        let x = x.reshape([batch, 1, self.height, self.width]);
        let x = activation::relu(self.conv1.forward(x));
        let x = activation::relu(self.conv2.forward(x));
        let x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
        self.head(x.flatten::<2>(1, 3))
    }

    /// Dropout, fc1, relu, dropout, fc2 on the pooled features `[batch, 64 * h * w]`
    /// (channels-first order, as `flatten` of `[batch, 64, h, w]` gives them).
    fn head(&self, x: Tensor<2>) -> Tensor<2> {
        self.head_after_dropout(self.dropout.forward(x))
    }

    /// fc1, relu, dropout, fc2 on pooled features dropout has already been applied to.
    fn head_after_dropout(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.dropout.forward(activation::relu(self.fc1.forward(x)));
        self.fc2.forward(x)
    }

    /// The training-time dropout of the pooled features for the CPU path, as `Dropout` would
    /// apply it to `x` (none where it would not), seeded from `x`'s device's RNG.
    fn cpu_dropout(&self, x: &Tensor<2>) -> Option<cnn_cpu::Dropout> {
        let d = &self.dropout;
        if !d.training.is_enabled() || !x.device().is_autodiff() || d.prob == 0.0 {
            return None;
        }
        Some(cnn_cpu::Dropout {
            p: d.prob,
            seed: seed_from_device(&x.device().inner())?,
        })
    }

    /// The CPU path's parameters, when `device` is Flex and the values read as f32.
    fn cpu_params(&self, device: &Device) -> Option<cnn_cpu::Params> {
        if !super::backend::on_flex(device) {
            return None;
        }
        let (b1, b2) = (self.conv1.bias.as_ref()?, self.conv2.bias.as_ref()?);
        cnn_cpu::Params::new(
            self.conv1.weight.val().inner(),
            b1.val().inner(),
            self.conv2.weight.val().inner(),
            b2.val().inner(),
            self.height,
            self.width,
        )
    }

    /// The pooled features of `x` (`[batch, features]`, on `x`'s device without autodiff) from
    /// the CPU path, with the parameters and the tape for the backward pass; `None` where the
    /// path does not apply (not Flex, not f32).
    fn cpu_features(
        &self,
        x: Tensor<2>,
        keep: bool,
    ) -> Option<(Tensor<2>, cnn_cpu::Params, Option<cnn_cpu::Tape>)> {
        // The device check comes first: off Flex nothing here may read a tensor back (on
        // WebGPU in the browser a synchronous read-back panics).
        let device = x.device().inner();
        let params = self.cpu_params(&device)?;
        let dropout = if keep { self.cpu_dropout(&x) } else { None };
        let x = x.inner();
        let [batch, _] = x.dims();
        let data = x.into_data().try_to_vec::<f32>().ok()?;
        let (features, tape) = cnn_cpu::forward(&params, data, batch, keep, dropout)?;
        let width = params.dims().features();
        let features = Tensor::from_data(TensorData::new(features, [batch, width]), &device);
        Some((features, params, tape))
    }

    /// The training forward pass: logits, and where the CPU path ran, what
    /// [`Cnn::gradients`] needs to finish the backward pass through it.
    fn forward_train(&self, x: Tensor<2>) -> (Tensor<2>, Option<CnnTape>) {
        match self.cpu_features(x.clone(), true) {
            Some((features, params, Some(conv))) => {
                // The pooled features after dropout (applied by the CPU path).
                let features = features.autodiff().require_grad();
                let logits = self.head_after_dropout(features.clone());
                (
                    logits,
                    Some(CnnTape {
                        features,
                        params,
                        conv,
                    }),
                )
            }
            _ => (self.forward_reference(x), None),
        }
    }

    /// The gradients of every parameter from `grads` (the backward pass of a loss on
    /// [`Cnn::forward_train`]'s logits), running the CPU path's own backward pass for the
    /// convolutions when it ran. (That pass cannot fail on a tape its forward pass wrote:
    /// every size was checked there; were the features' gradient missing, the convolutions
    /// would get none, as autodiff gives none to parameters a loss does not depend on.)
    fn gradients(&self, mut grads: Gradients, tape: Option<CnnTape>) -> GradientsParams {
        let Some(tape) = tape else {
            return GradientsParams::from_grads(grads, self);
        };
        let g = tape.features.grad_remove(&mut grads);
        let mut out = GradientsParams::from_grads(grads, self);
        let Some(g) = g.and_then(|g| g.into_data().try_to_vec::<f32>().ok()) else {
            return out;
        };
        let Some(conv) = cnn_cpu::backward(&tape.params, &tape.conv, &g) else {
            return out;
        };
        let d = tape.params.dims();
        let device = tape.params.device();
        let rows1 = d.rows1();
        let (mut gw1, mut gb1) = (
            Vec::with_capacity(d.c1 * (rows1 - 1)),
            Vec::with_capacity(d.c1),
        );
        for row in conv.w1.chunks_exact(rows1) {
            gw1.extend_from_slice(&row[..rows1 - 1]);
            gb1.push(row[rows1 - 1]);
        }
        let weight = |v: Vec<f32>, c_out: usize, c_in: usize| {
            Tensor::<4>::from_data(TensorData::new(v, [c_out, c_in, d.k, d.k]), device)
        };
        let bias = |v: Vec<f32>, n: usize| Tensor::<1>::from_data(TensorData::new(v, [n]), device);
        out.register(self.conv1.weight.id, weight(gw1, d.c1, d.c0));
        if let Some(b) = &self.conv1.bias {
            out.register(b.id, bias(gb1, d.c1));
        }
        out.register(self.conv2.weight.id, weight(conv.w2, d.c2, d.c1));
        if let Some(b) = &self.conv2.bias {
            out.register(b.id, bias(conv.b2, d.c2));
        }
        out
    }
}

/// What [`Cnn::forward_train`] keeps, on the CPU path, for [`Cnn::gradients`].
pub struct CnnTape {
    /// The pooled features: an autodiff leaf the head's backward pass ends at.
    features: Tensor<2>,
    params: cnn_cpu::Params,
    conv: cnn_cpu::Tape,
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

    /// The logits of a training step's batch `x` (on an autodiff device) and what
    /// [`Model::gradients`] needs besides the loss's backward pass. The CNN on the CPU
    /// backend runs its convolutions outside burn's autodiff (see [`Cnn::forward`]) and
    /// finishes their backward pass itself; every other model and backend is plain autodiff.
    pub fn forward_train(&self, x: Tensor<2>) -> (Tensor<2>, TrainTape) {
        match self {
            Model::Mlp(m) => (m.forward(x), TrainTape(None)),
            Model::Cnn(m) => {
                let (logits, tape) = m.forward_train(x);
                (logits, TrainTape(tape))
            }
        }
    }

    /// The gradients of every parameter, from `grads` (the backward pass of a loss computed
    /// on [`Model::forward_train`]'s logits) and its tape.
    pub fn gradients(&self, grads: Gradients, tape: TrainTape) -> GradientsParams {
        match self {
            Model::Cnn(m) => m.gradients(grads, tape.0),
            Model::Mlp(_) => GradientsParams::from_grads(grads, self),
        }
    }
}

/// What [`Model::forward_train`] keeps for [`Model::gradients`] (nothing, except for the
/// CNN on the CPU backend).
pub struct TrainTape(Option<CnnTape>);

/// 48 random bits from `device`'s RNG (two uniform floats, 24 bits each), to seed a mask
/// drawn on the CPU from the same seeded stream as burn's own random tensors. It reads the
/// two values back at once: call it on Flex only (a GPU in the browser cannot read back
/// synchronously).
pub(crate) fn seed_from_device(device: &Device) -> Option<u64> {
    let u = Tensor::<1>::random([2], Distribution::Uniform(0.0, 1.0), device)
        .into_data()
        .try_to_vec::<f32>()
        .ok()?;
    let bits = |v: f32| (f64::from(v) * 16_777_216.0) as u64 & 0xff_ffff;
    Some(bits(*u.first()?) | bits(*u.get(1)?) << 24)
}

#[cfg(test)]
#[cfg(feature = "flex")]
mod tests {
    use burn::tensor::{Int, Tensor, TensorData};

    use super::*;
    use crate::train::cnn_cpu::tests::values;
    use crate::train::trainer::cross_entropy;

    /// Fails unless the two gradients agree to 1e-4 of the expected one's largest value.
    fn assert_close(name: &str, want: Vec<f32>, got: Vec<f32>) {
        let d = max_abs_diff(&want, &got);
        assert!(
            d <= 1e-4 * scale(&want),
            "{name}: max diff {d}, scale {}",
            scale(&want)
        );
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn scale(a: &[f32]) -> f32 {
        a.iter().map(|x| x.abs()).fold(0.0, f32::max)
    }

    fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32 values")
    }

    /// The CNN's CPU path (our convolutions and pooling, and their hand-written backward pass)
    /// computes the same logits and the same gradient of every parameter as burn's modules
    /// under autodiff, on an odd-sized image (odd pooled rows and columns are dropped).
    #[test]
    fn cnn_cpu_path_matches_burn_autodiff() {
        let device = Device::flex().autodiff();
        // Six samples: more than one of the CPU path's chunks, the last one partly filled.
        let (height, width, batch, classes) = (13, 11, 6, 4);
        let shape = InputShape::Image { height, width };
        let model = ModelSpec::Cnn { dropout: 0.0 }
            .build(shape, classes, &device)
            .expect("a valid cnn");
        let Model::Cnn(cnn) = &model else {
            panic!("built an mlp")
        };
        let x = Tensor::<2>::from_data(
            TensorData::new(values(batch * height * width, 7), [batch, height * width]),
            &device,
        );
        let y = Tensor::<1, Int>::from_data(
            TensorData::new(vec![0i64, 3, 1, 2, 2, 0], [batch]),
            &device,
        );

        let reference = cnn.forward_reference(x.clone());
        let loss = cross_entropy(reference.clone(), y.clone());
        let want = GradientsParams::from_grads(loss.backward(), &model);

        let (logits, tape) = model.forward_train(x.clone());
        assert!(tape.0.is_some(), "the CPU path ran on Flex");
        let loss = cross_entropy(logits.clone(), y);
        let got = model.gradients(loss.backward(), tape);

        let (want_logits, got_logits) = (to_vec(reference), to_vec(logits));
        assert!(max_abs_diff(&want_logits, &got_logits) <= 1e-5 * (1.0 + scale(&want_logits)));
        let eval = to_vec(model.forward(x.inner()));
        assert!(max_abs_diff(&want_logits, &eval) <= 1e-5 * (1.0 + scale(&want_logits)));

        let ids4 = [
            ("conv1.weight", cnn.conv1.weight.id),
            ("conv2.weight", cnn.conv2.weight.id),
        ];
        let mut compared = 0;
        for (name, id) in ids4 {
            let (w, g) = (
                want.get::<4>(id).expect(name),
                got.get::<4>(id).expect(name),
            );
            assert_close(name, to_vec(w), to_vec(g));
            compared += 1;
        }
        let ids1 = [
            ("conv1.bias", cnn.conv1.bias.as_ref().map(|b| b.id)),
            ("conv2.bias", cnn.conv2.bias.as_ref().map(|b| b.id)),
            ("fc1.bias", cnn.fc1.bias.as_ref().map(|b| b.id)),
            ("fc2.bias", cnn.fc2.bias.as_ref().map(|b| b.id)),
        ];
        for (name, id) in ids1 {
            let id = id.expect(name);
            let (w, g) = (
                want.get::<1>(id).expect(name),
                got.get::<1>(id).expect(name),
            );
            assert_close(name, to_vec(w), to_vec(g));
            compared += 1;
        }
        for (name, id) in [
            ("fc1.weight", cnn.fc1.weight.id),
            ("fc2.weight", cnn.fc2.weight.id),
        ] {
            let (w, g) = (
                want.get::<2>(id).expect(name),
                got.get::<2>(id).expect(name),
            );
            assert_close(name, to_vec(w), to_vec(g));
            compared += 1;
        }
        assert_eq!(compared, 8);
        assert_eq!(got.len(), want.len(), "no parameter is missing or extra");
    }
}
