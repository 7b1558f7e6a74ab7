//! What the fused kernels can train, the host-side mirror of their memory layout, weight
//! initialisation, and a CPU forward pass over read-back weights.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::super::TrainError;
use super::super::data::{DataSet, Samples};
use crate::vocab::{Activation, ModelSpec, OptimizerKind, TrialPlan};

/// Most hidden layers a fused trial may have.
pub const MAX_LAYERS: usize = 6;
/// Widest hidden layer, most input features and most classes (the kernels keep a sample's
/// activations in 32-element arrays).
pub const MAX_UNITS: usize = 32;
/// Largest batch (after clamping to the training split): bounds the per-trial scratch memory.
pub const MAX_BATCH: usize = 1024;
/// Most hidden layers of a trial on the wide kernels (data sets of more than [`MAX_UNITS`]
/// features, such as MNIST).
pub const WIDE_MAX_LAYERS: usize = 4;
/// Widest hidden layer on the wide kernels.
pub const WIDE_MAX_UNITS: usize = 512;
/// Most input features (pixels) the wide kernels take.
pub const WIDE_MAX_INPUTS: usize = 4096;
/// Most classes, on either kernel family.
pub const MAX_CLASSES: usize = 32;
/// Threads per workgroup; must match `WG` in `shaders/mlp_common.wgsl`.
pub(crate) const WORKGROUP_SIZE: u32 = 64;
/// Adam's and AdamW's defaults in burn (`beta_1`, `beta_2`, `epsilon`).
pub(crate) const ADAM_BETAS: (f32, f32, f32) = (0.9, 0.999, 1e-5);

/// The architecture of one fused MLP: `layers` hidden layers of `width` units between
/// `in_dim` inputs and `classes` logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetShape {
    /// Hidden layers (0 = logistic regression).
    pub layers: usize,
    /// Units per hidden layer.
    pub width: usize,
    /// Input features.
    pub in_dim: usize,
    /// Output classes.
    pub classes: usize,
}

impl NetShape {
    /// `(fan_in, fan_out)` of each linear layer, input to output (`layers + 1` of them).
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        (0..=self.layers)
            .map(|l| {
                let fi = if l == 0 { self.in_dim } else { self.width };
                let fo = if l == self.layers {
                    self.classes
                } else {
                    self.width
                };
                (fi, fo)
            })
            .collect()
    }

    /// Number of parameters: per layer a row-major `[fan_in][fan_out]` weight matrix followed
    /// by `fan_out` biases, layer after layer (burn's `Linear` layout and parameter order).
    pub fn param_count(&self) -> usize {
        self.layer_dims().iter().map(|(fi, fo)| fi * fo + fo).sum()
    }

    /// The largest network the kernels take for this input and class count (the wide
    /// kernels' limits above [`MAX_UNITS`] inputs, see [`uses_wide_kernels`]).
    pub fn largest(in_dim: usize, classes: usize) -> NetShape {
        let (layers, width) = if in_dim > MAX_UNITS {
            (WIDE_MAX_LAYERS, WIDE_MAX_UNITS)
        } else {
            (MAX_LAYERS, MAX_UNITS)
        };
        NetShape {
            layers,
            width,
            in_dim,
            classes,
        }
    }

    /// f32s of scratch one trial needs at `batch` samples per step (see shaders/README.md):
    /// the small kernels also keep the gathered inputs and per-thread partial sums; the wide
    /// ones read the inputs from the data set.
    pub(crate) fn scratch_floats(&self, batch: usize, wide: bool) -> usize {
        if wide {
            batch * (3 * self.layers * self.width + self.classes)
        } else {
            batch * (self.in_dim + 3 * self.layers * self.width + self.classes)
                + 2 * WORKGROUP_SIZE as usize
        }
    }

    /// Fresh parameters: every weight and bias uniform in `±1/sqrt(fan_in)`, the distribution
    /// of burn's `Linear` default initialiser, drawn from a ChaCha8 stream seeded with `seed`
    /// (so the draws are the same on every platform, but not burn's draws).
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Vec::with_capacity(self.param_count());
        for (fi, fo) in self.layer_dims() {
            let k = 1.0 / (fi as f64).sqrt();
            for _ in 0..fi * fo + fo {
                params.push(rng.random_range(-k..k) as f32);
            }
        }
        params
    }
}

/// The network part of a plan the fused kernels can train, checked against the data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedNet {
    /// The architecture.
    pub shape: NetShape,
    /// The hidden activation.
    pub activation: Activation,
    /// Dropout probability after each hidden activation.
    pub dropout: f64,
}

/// Whether `data` trains on the wide kernels (`shaders/mlp_wide.wgsl`: one dispatch per phase
/// over every trial, for inputs such as MNIST's 784 pixels) rather than the small ones (one
/// workgroup per trial, at most [`MAX_UNITS`] features).
pub fn uses_wide_kernels(data: &DataSet) -> bool {
    data.shape.numel() > MAX_UNITS
}

/// Why the fused kernels take trials on `data`, for an "engine: …" line: the small kernels
/// (one trial per workgroup) or the wide ones.
pub fn kernels_note(data: &DataSet) -> String {
    if uses_wide_kernels(data) {
        format!(
            "the wide kernels, one dispatch per layer over every trial: every trial is an MLP on {}-feature inputs",
            data.shape.numel()
        )
    } else {
        "one trial per GPU workgroup: every trial is a small MLP on a 2-D set".to_string()
    }
}

/// Checks that the data set suits the fused kernels: at most [`WIDE_MAX_INPUTS`] features
/// (an image is flattened, as the MLP does), 2 to 32 classes, labels in range, at least one
/// training sample.
pub fn check_data(data: &DataSet) -> Result<(), TrainError> {
    if data.text.is_some() {
        return Err(TrainError::Config(format!(
            "the fused engine trains MLPs; data set `{}` is text for the language model",
            data.name
        )));
    }
    let dim = data.shape.numel();
    if !(1..=WIDE_MAX_INPUTS).contains(&dim) {
        return Err(TrainError::Config(format!(
            "the fused engine takes 1 to {WIDE_MAX_INPUTS} input features; data set `{}` has {dim}",
            data.name
        )));
    }
    if !(2..=MAX_CLASSES).contains(&data.classes) {
        return Err(TrainError::Config(format!(
            "the fused engine takes 2 to {MAX_CLASSES} classes; data set `{}` has {}",
            data.name, data.classes
        )));
    }
    if data.train.is_empty() {
        return Err(TrainError::Data(format!(
            "data set `{}` has no training samples",
            data.name
        )));
    }
    for split in [&data.train, &data.valid] {
        if split.dim != dim || split.features.len() != split.len() * dim {
            return Err(TrainError::Data(format!(
                "data set `{}`: features do not match {} samples of {dim}",
                data.name,
                split.len()
            )));
        }
        if let Some(bad) = split
            .labels
            .iter()
            .find(|&&y| y < 0 || y >= data.classes as i64)
        {
            return Err(TrainError::Data(format!(
                "data set `{}`: label {bad} is outside 0..{}",
                data.name, data.classes
            )));
        }
        if split.features.iter().any(|v| !v.is_finite()) {
            return Err(TrainError::Data(format!(
                "data set `{}` has a non-finite feature",
                data.name
            )));
        }
    }
    Ok(())
}

/// Whether the fused kernels can train `plan` on `data`: an MLP of at most 6 hidden layers
/// of at most 32 units on the small kernels, or at most [`WIDE_MAX_LAYERS`] of at most
/// [`WIDE_MAX_UNITS`] on the wide ones (see [`uses_wide_kernels`]), batch at most 1024 (after
/// clamping to the training split), on a data set [`check_data`] accepts. Every optimiser, activation, weight decay, momentum and dropout
/// setting of the trainer is supported. The error says what is out of reach.
pub fn check_plan(plan: &TrialPlan, data: &DataSet) -> Result<FusedNet, TrainError> {
    check_data(data)?;
    let ModelSpec::Mlp {
        layers,
        width,
        activation,
        dropout,
    } = plan.model
    else {
        return Err(TrainError::Config(format!(
            "the fused engine trains MLPs only, not the {} model",
            plan.model.kind()
        )));
    };
    let largest = NetShape::largest(data.shape.numel(), data.classes);
    let on = if uses_wide_kernels(data) {
        format!(" on {}-feature inputs", data.shape.numel())
    } else {
        String::new()
    };
    if layers > largest.layers {
        return Err(TrainError::Config(format!(
            "the fused engine takes at most {} hidden layers{on}, not {layers}",
            largest.layers
        )));
    }
    if layers > 0 && !(1..=largest.width).contains(&width) {
        return Err(TrainError::Config(format!(
            "the fused engine takes hidden layers of 1 to {} units{on}, not {width}",
            largest.width
        )));
    }
    if !(0.0..1.0).contains(&dropout) {
        return Err(TrainError::Config(format!(
            "dropout must be in [0, 1), not {dropout}"
        )));
    }
    if !(plan.lr > 0.0 && plan.lr.is_finite()) {
        return Err(TrainError::Config(format!(
            "`lr` must be a positive number, not {}",
            plan.lr
        )));
    }
    if !(plan.weight_decay >= 0.0 && plan.weight_decay.is_finite()) {
        return Err(TrainError::Config(format!(
            "`weight_decay` must be >= 0, not {}",
            plan.weight_decay
        )));
    }
    if !(0.0..1.0).contains(&plan.momentum) {
        return Err(TrainError::Config(format!(
            "`momentum` must be in [0, 1), not {}",
            plan.momentum
        )));
    }
    if plan.batch_size == 0 || plan.epochs == 0 {
        return Err(TrainError::Config(
            "`batch_size` and `epochs` must be at least 1".into(),
        ));
    }
    let batch = plan.batch_size.min(data.train.len());
    if batch > MAX_BATCH {
        return Err(TrainError::Config(format!(
            "the fused engine takes batches of at most {MAX_BATCH} samples, not {batch}"
        )));
    }
    let in_dim = data.shape.numel();
    Ok(FusedNet {
        shape: NetShape {
            layers,
            // Unused without hidden layers; 1 keeps the layout arithmetic simple.
            width: if layers == 0 { 1 } else { width },
            in_dim,
            classes: data.classes,
        },
        activation,
        dropout,
    })
}

/// Trained weights of one fused trial, with a CPU forward pass (e.g. for a decision-boundary
/// plot in the playground).
#[derive(Clone, Debug, PartialEq)]
pub struct FusedWeights {
    /// The architecture.
    pub shape: NetShape,
    /// The hidden activation.
    pub activation: Activation,
    /// Parameters in [`NetShape::param_count`] order.
    pub params: Vec<f32>,
}

impl FusedWeights {
    /// Logits for one sample of `shape.in_dim` features (evaluation mode: no dropout).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        if x.len() != self.shape.in_dim {
            return Err(TrainError::Config(format!(
                "expected {} features, got {}",
                self.shape.in_dim,
                x.len()
            )));
        }
        if self.params.len() != self.shape.param_count() {
            return Err(TrainError::Config(format!(
                "expected {} parameters, got {}",
                self.shape.param_count(),
                self.params.len()
            )));
        }
        let mut h = x.to_vec();
        let mut off = 0;
        let dims = self.shape.layer_dims();
        for (l, (fi, fo)) in dims.iter().copied().enumerate() {
            let w = &self.params[off..off + fi * fo];
            let b = &self.params[off + fi * fo..off + fi * fo + fo];
            let mut z = vec![0f32; fo];
            for (j, zj) in z.iter_mut().enumerate() {
                let acc: f32 = (0..fi).map(|i| h[i] * w[i * fo + j]).sum();
                *zj = acc + b[j];
            }
            if l + 1 < dims.len() {
                for v in &mut z {
                    *v = activate(self.activation, *v);
                }
            }
            h = z;
            off += fi * fo + fo;
        }
        Ok(h)
    }
}

impl FusedWeights {
    /// Each parameter tensor's name (as the trainer's MLP names them: `hidden.<l>.weight`,
    /// `hidden.<l>.bias`, `out.weight`, `out.bias`) and its range in [`FusedWeights::params`].
    pub fn named_ranges(&self) -> Vec<(String, std::ops::Range<usize>)> {
        let dims = self.shape.layer_dims();
        let mut out = Vec::with_capacity(2 * dims.len());
        let mut off = 0;
        for (l, (fi, fo)) in dims.iter().copied().enumerate() {
            let layer = if l + 1 == dims.len() {
                "out".to_string()
            } else {
                format!("hidden.{l}")
            };
            out.push((format!("{layer}.weight"), off..off + fi * fo));
            out.push((format!("{layer}.bias"), off + fi * fo..off + fi * fo + fo));
            off += fi * fo + fo;
        }
        out
    }

    /// The gradient of the mean cross-entropy over the samples `idx` of `data` with respect
    /// to every parameter (in [`FusedWeights::params`] order), computed on the CPU in
    /// evaluation mode (no dropout): what the histograms show for a fused trial.
    pub fn gradients(&self, data: &Samples, idx: &[u32]) -> Result<Vec<f32>, TrainError> {
        let dims = self.shape.layer_dims();
        if self.params.len() != self.shape.param_count() || data.dim != self.shape.in_dim {
            return Err(TrainError::Config(format!(
                "{} parameters and {} features do not fit the network ({} parameters, {} features)",
                self.params.len(),
                data.dim,
                self.shape.param_count(),
                self.shape.in_dim
            )));
        }
        let mut grad = vec![0f32; self.params.len()];
        let scale = 1.0 / idx.len().max(1) as f32;
        for &i in idx {
            let i = i as usize;
            let (Some(x), Some(&label)) = (
                data.features.get(i * data.dim..(i + 1) * data.dim),
                data.labels.get(i),
            ) else {
                return Err(TrainError::Data(format!("no training sample {i}")));
            };
            let label = usize::try_from(label)
                .ok()
                .filter(|&c| c < self.shape.classes)
                .ok_or_else(|| TrainError::Data(format!("sample {i} has label {label}")))?;
            // Forward, keeping each layer's input and pre-activation.
            let mut inputs: Vec<Vec<f32>> = vec![x.to_vec()];
            let mut pre: Vec<Vec<f32>> = Vec::with_capacity(dims.len());
            let mut off = 0;
            for (l, (fi, fo)) in dims.iter().copied().enumerate() {
                let a = &inputs[l];
                let w = &self.params[off..off + fi * fo];
                let b = &self.params[off + fi * fo..off + fi * fo + fo];
                let z: Vec<f32> = (0..fo)
                    .map(|j| (0..fi).map(|k| a[k] * w[k * fo + j]).sum::<f32>() + b[j])
                    .collect();
                if l + 1 < dims.len() {
                    inputs.push(z.iter().map(|&v| activate(self.activation, v)).collect());
                }
                pre.push(z);
                off += fi * fo + fo;
            }
            // Softmax cross-entropy: dL/dlogits = softmax − one-hot, over the batch's mean.
            let logits = pre.last().map(Vec::as_slice).unwrap_or(&[]);
            let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = logits.iter().map(|&v| (v - m).exp()).collect();
            let total: f32 = exps.iter().sum();
            let mut delta: Vec<f32> = exps.iter().map(|&e| e / total * scale).collect();
            delta[label] -= scale;
            // Backward, layer by layer.
            for l in (0..dims.len()).rev() {
                let (fi, fo) = dims[l];
                off -= fi * fo + fo;
                let a = &inputs[l];
                for k in 0..fi {
                    for j in 0..fo {
                        grad[off + k * fo + j] += a[k] * delta[j];
                    }
                }
                for j in 0..fo {
                    grad[off + fi * fo + j] += delta[j];
                }
                if l > 0 {
                    let w = &self.params[off..off + fi * fo];
                    delta = (0..fi)
                        .map(|k| {
                            let back: f32 = (0..fo).map(|j| w[k * fo + j] * delta[j]).sum();
                            back * activation_slope(self.activation, pre[l - 1][k])
                        })
                        .collect();
                }
            }
        }
        Ok(grad)
    }
}

/// The derivative of the hidden activation at `z`.
fn activation_slope(act: Activation, z: f32) -> f32 {
    match act {
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Tanh => 1.0 - z.tanh() * z.tanh(),
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-z).exp());
            s * (1.0 - s)
        }
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + libm::erff(z * std::f32::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * z * z).exp() / (2.0 * std::f32::consts::PI).sqrt();
            cdf + z * pdf
        }
    }
}

/// The hidden activations, as the kernels compute them (f32).
pub(crate) fn activate(act: Activation, z: f32) -> f32 {
    match act {
        Activation::Relu => z.max(0.0),
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Gelu => 0.5 * z * (1.0 + libm::erff(z * std::f32::consts::FRAC_1_SQRT_2)),
    }
}

/// The activation's code in `Trial.act`.
pub(crate) fn activation_code(act: Activation) -> u32 {
    match act {
        Activation::Relu => 0,
        Activation::Tanh => 1,
        Activation::Gelu => 2,
        Activation::Sigmoid => 3,
    }
}

/// The optimiser's code in `Trial.optim`.
pub(crate) fn optimizer_code(opt: OptimizerKind) -> u32 {
    match opt {
        OptimizerKind::Adam => 0,
        OptimizerKind::AdamW => 1,
        OptimizerKind::Sgd => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::{InputShape, Samples, Toy2d, generate_toy};

    /// The CPU gradient equals central finite differences of the mean loss, for every
    /// activation, and the names cover every parameter once.
    #[test]
    fn fused_weights_gradients_match_finite_differences() {
        let data = Samples {
            features: vec![0.5, -1.0, 0.25, 2.0, -0.75, 0.1],
            labels: vec![0, 2, 1],
            dim: 2,
        };
        let shape = NetShape {
            layers: 2,
            width: 3,
            in_dim: 2,
            classes: 3,
        };
        let loss = |w: &FusedWeights| -> f64 {
            (0..3)
                .map(|i| {
                    let z = w.logits(&data.features[i * 2..i * 2 + 2]).unwrap();
                    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                    let lse = m + z.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                    lse - z[data.labels[i] as usize] as f64
                })
                .sum::<f64>()
                / 3.0
        };
        for act in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Gelu,
        ] {
            let w = FusedWeights {
                shape,
                activation: act,
                params: shape.init_params(5),
            };
            let g = w.gradients(&data, &[0, 1, 2]).unwrap();
            assert_eq!(g.len(), w.params.len());
            for (p, &gp) in g.iter().enumerate() {
                let h = 1e-3f32;
                let (mut up, mut down) = (w.clone(), w.clone());
                up.params[p] += h;
                down.params[p] -= h;
                let numeric = (loss(&up) - loss(&down)) / (2.0 * f64::from(h));
                assert!(
                    (numeric - f64::from(gp)).abs() < 2e-3,
                    "{act:?} parameter {p}: {gp} vs {numeric}"
                );
            }
            let covered: usize = w.named_ranges().iter().map(|(_, r)| r.len()).sum();
            assert_eq!(covered, w.params.len());
        }
        let names: Vec<String> = FusedWeights {
            shape,
            activation: Activation::Relu,
            params: Vec::new(),
        }
        .named_ranges()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
        assert_eq!(
            names,
            [
                "hidden.0.weight",
                "hidden.0.bias",
                "hidden.1.weight",
                "hidden.1.bias",
                "out.weight",
                "out.bias"
            ]
        );
    }

    fn plan(layers: usize, width: usize, batch: usize) -> TrialPlan {
        TrialPlan {
            model: ModelSpec::Mlp {
                layers,
                width,
                activation: Activation::Tanh,
                dropout: 0.0,
            },
            optimizer: OptimizerKind::Adam,
            lr: 0.01,
            weight_decay: 0.0,
            momentum: 0.9,
            batch_size: batch,
            epochs: 3,
            seed: 4,
        }
    }

    #[test]
    fn shapes_count_parameters_in_burn_order() {
        let s = NetShape {
            layers: 2,
            width: 8,
            in_dim: 2,
            classes: 3,
        };
        assert_eq!(s.layer_dims(), vec![(2, 8), (8, 8), (8, 3)]);
        assert_eq!(s.param_count(), 2 * 8 + 8 + 8 * 8 + 8 + 8 * 3 + 3);
        let p = s.init_params(9);
        assert_eq!(p.len(), s.param_count());
        assert_eq!(p, s.init_params(9));
        assert_ne!(p, s.init_params(10));
        // First layer: |w| < 1/sqrt(2); later layers: |w| < 1/sqrt(8).
        assert!(p[..24].iter().all(|v| v.abs() < 0.7072));
        assert!(p[24..].iter().all(|v| v.abs() < 0.3536));
    }

    #[test]
    fn eligibility_names_what_is_out_of_reach() {
        let data = generate_toy(Toy2d::Xor, 100, 0.1, 0.2, 1);
        let net = check_plan(&plan(6, 32, 32), &data).unwrap();
        assert_eq!(
            net.shape.param_count(),
            NetShape::largest(2, 2).param_count()
        );
        let e = check_plan(&plan(7, 8, 32), &data).unwrap_err().to_string();
        assert!(e.contains("hidden layers"), "{e}");
        let e = check_plan(&plan(2, 33, 32), &data).unwrap_err().to_string();
        assert!(e.contains("33"), "{e}");
        let mut p = plan(2, 8, 32);
        p.model = ModelSpec::Cnn { dropout: 0.0 };
        let e = check_plan(&p, &data).unwrap_err().to_string();
        assert!(e.contains("cnn"), "{e}");
        // A batch larger than the split is clamped, as the trainer does.
        assert!(check_plan(&plan(1, 4, 100_000), &data).is_ok());
        let big = generate_toy(Toy2d::Xor, 3000, 0.1, 0.2, 1);
        let e = check_plan(&plan(1, 4, 2000), &big).unwrap_err().to_string();
        assert!(e.contains("2000"), "{e}");
    }

    /// Inputs wider than 32 features (MNIST's images, flattened as the MLP does) go to the
    /// wide kernels, with their own limits; the small sets keep the small kernels' limits.
    #[test]
    fn wide_inputs_take_the_wide_kernels_and_their_limits() {
        let features = |n: usize, dim: usize| Samples {
            features: vec![0.5; n * dim],
            labels: (0..n as i64).map(|i| i % 10).collect(),
            dim,
        };
        let mnist_like = DataSet {
            name: "images".into(),
            train: features(20, 784),
            valid: features(5, 784),
            shape: InputShape::Image {
                height: 28,
                width: 28,
            },
            classes: 10,
            text: None,
        };
        assert!(uses_wide_kernels(&mnist_like));
        assert!(!uses_wide_kernels(&generate_toy(
            Toy2d::Xor,
            50,
            0.1,
            0.2,
            1
        )));
        let net = check_plan(&plan(WIDE_MAX_LAYERS, WIDE_MAX_UNITS, 8), &mnist_like).unwrap();
        assert_eq!(net.shape.in_dim, 784);
        assert_eq!(
            net.shape.param_count(),
            NetShape::largest(784, 10).param_count()
        );
        let e = check_plan(&plan(1, WIDE_MAX_UNITS + 1, 8), &mnist_like)
            .unwrap_err()
            .to_string();
        assert!(e.contains("513") && e.contains("784-feature"), "{e}");
        let e = check_plan(&plan(WIDE_MAX_LAYERS + 1, 64, 8), &mnist_like)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden layers"), "{e}");
        let mut huge = mnist_like.clone();
        huge.shape = InputShape::Flat(WIDE_MAX_INPUTS + 1);
        huge.train = features(20, WIDE_MAX_INPUTS + 1);
        huge.valid = features(5, WIDE_MAX_INPUTS + 1);
        let e = check_data(&huge).unwrap_err().to_string();
        assert!(e.contains("4097"), "{e}");
        // The wide scratch holds no gathered inputs (the kernels read the data set).
        assert!(net.shape.scratch_floats(8, true) < net.shape.scratch_floats(8, false));
    }

    #[test]
    fn cpu_forward_checks_its_input() {
        let s = NetShape {
            layers: 1,
            width: 2,
            in_dim: 2,
            classes: 2,
        };
        // Identity hidden layer (relu of positive inputs), then swap.
        let w = FusedWeights {
            shape: s,
            activation: Activation::Relu,
            params: vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, -0.5],
        };
        assert_eq!(w.logits(&[2.0, 3.0]).unwrap(), vec![3.5, 1.5]);
        assert!(w.logits(&[1.0]).is_err());
    }
}
