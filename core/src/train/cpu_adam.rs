//! Adam on the CPU backend in one pass per parameter tensor.
//!
//! burn's [`Adam`] runs about a dozen element-wise tensor ops per parameter per step (moments,
//! square, square root, bias correction, update), each a full pass over the tensor; for the
//! CNN's 1.2 million dense-layer weights that was a visible share of a Flex step. On Flex,
//! [`CpuAdam`] reads the parameter, its gradient and both moments once and writes them back
//! once, with burn's formulas in burn's order (L2 weight decay added to the gradient; the
//! denominator `sqrt(v) + epsilon * sqrt(1 - beta2^t)`), so it trains the same as burn's Adam
//! to float rounding, and it keeps burn's [`AdamState`], so a state moves freely between the
//! two. On any other device it is burn's [`Adam`].

use crate::train::backend::on_flex;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};

/// The smallest parameter tensor the fused step takes. Below it (e.g. the MLP's 100,352
/// first-layer weights, 392 KiB), burn's element-wise passes run from the cache with Flex's
/// run-time-dispatched SIMD and beat one pass of this scalar-compiled loop: fused everywhere,
/// `train_bench`'s MLP fell from 1.48x to 1.20x PyTorch. Above it (the CNN's 1.18 million
/// dense weights, 4.5 MiB) each of burn's passes goes to memory, and the fused pass wins
/// (CNN 0.89x → 1.07x).
const FUSED_MIN_ELEMENTS: usize = 1 << 19;

/// burn's `AdamConfig` defaults: `beta_1`, `beta_2`, `epsilon`.
const BURN_DEFAULTS: (f32, f32, f32) = (0.9, 0.999, 1e-5);

/// Adam (burn's defaults and formulas) fused into one pass on Flex; burn's [`Adam`] elsewhere.
#[derive(Clone)]
pub struct CpuAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: Option<f32>,
}

impl CpuAdam {
    /// Adam with burn's default betas and epsilon and an optional L2 penalty.
    pub fn new(weight_decay: Option<f32>) -> CpuAdam {
        let (beta_1, beta_2, epsilon) = BURN_DEFAULTS;
        let config = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay.map(burn::optim::decay::WeightDecayConfig::new));
        CpuAdam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            burn: config.build(),
        }
    }

    /// Whether the fused step applies: f32 tensors of at least [`FUSED_MIN_ELEMENTS`] on Flex,
    /// no AMSGrad state.
    fn applies<const D: usize>(
        tensor: &Tensor<D>,
        grad: &Tensor<D>,
        state: Option<&AdamState<D>>,
    ) -> bool {
        tensor.shape().num_elements() >= FUSED_MIN_ELEMENTS
            && on_flex(&tensor.device())
            && tensor.dtype() == DType::F32
            && grad.dtype() == DType::F32
            && state.is_none_or(|s| {
                s.momentum.max_moment_2.is_none()
                    && s.momentum.moment_1.dtype() == DType::F32
                    && s.momentum.moment_2.dtype() == DType::F32
            })
    }

    /// The fused step on the tensors' own buffers: a tensor nothing else holds hands its
    /// buffer over without a copy (burn Flex's `into_data`), and the results go back the same
    /// way.
    fn fused<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let device = tensor.device();
        let shape = tensor.shape();
        let mut p = tensor.into_data();
        let g = grad.into_data();
        let (time, mut m, mut v) = match state {
            Some(s) => (
                s.momentum.time,
                s.momentum.moment_1.into_data(),
                s.momentum.moment_2.into_data(),
            ),
            None => (
                0,
                TensorData::zeros::<f32, _>(shape.clone()),
                TensorData::zeros::<f32, _>(shape.clone()),
            ),
        };
        let time = time + 1;
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let bc2s = (1.0 - self.beta_2.powi(t)).sqrt();
        let step = Step {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            factor: bc2s / (1.0 - self.beta_1.powi(t)),
            denom_eps: self.epsilon * bc2s,
            lr: lr as f32,
            decay: self.weight_decay,
        };
        let n = shape.num_elements();
        if let (Ok(ps), Ok(gs), Ok(ms), Ok(vs)) = (
            p.as_mut_slice::<f32>(),
            g.as_slice::<f32>(),
            m.as_mut_slice::<f32>(),
            v.as_mut_slice::<f32>(),
        ) && ps.len() == n
            && gs.len() == n
            && ms.len() == n
            && vs.len() == n
        {
            step.apply(ps, gs, ms, vs);
            let moments = AdaptiveMomentumState::new(
                time,
                Tensor::from_data(m, &device),
                Tensor::from_data(v, &device),
            );
            return (Tensor::from_data(p, &device), Some(AdamState::new(moments)));
        }
        // Checked by `applies`; should the buffers still not be f32 slices, burn's Adam steps.
        let state = (time > 1).then(|| {
            AdamState::new(AdaptiveMomentumState::new(
                time - 1,
                Tensor::from_data(m, &device),
                Tensor::from_data(v, &device),
            ))
        });
        self.burn.step(
            lr,
            Tensor::from_data(p, &device),
            Tensor::from_data(g, &device),
            state,
        )
    }
}

/// One step's constants.
#[derive(Clone, Copy)]
struct Step {
    beta_1: f32,
    beta_2: f32,
    /// `sqrt(1 - beta2^t) / (1 - beta1^t)`.
    factor: f32,
    /// `epsilon * sqrt(1 - beta2^t)`.
    denom_eps: f32,
    lr: f32,
    decay: Option<f32>,
}

/// Elements per parallel chunk natively.
#[cfg(not(target_arch = "wasm32"))]
const CHUNK: usize = 1 << 16;

impl Step {
    fn apply(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        #[cfg(not(target_arch = "wasm32"))]
        if p.len() > CHUNK {
            use rayon::prelude::*;
            p.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| self.serial(p, g, m, v));
            return;
        }
        self.serial(p, g, m, v);
    }

    fn serial(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = match self.decay {
                Some(d) => *p * d + g,
                None => g,
            };
            *m = *m * b1 + g * f1;
            *v = *v * b2 + (g * g) * f2;
            let update = (*m * self.factor) / (v.sqrt() + self.denom_eps);
            *p -= update * self.lr;
        }
    }
}

impl Optimizer for CpuAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if Self::applies(&tensor, &grad, state.as_ref()) {
            self.fused(lr, tensor, grad, state)
        } else {
            self.burn.step(lr, tensor, grad, state)
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    fn tensor(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [2, values.len() / 2]),
            device,
        )
    }

    fn values(t: &Tensor<2>) -> Vec<f32> {
        t.clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default()
    }

    /// Ten steps of the fused Adam and of burn's, from the same start with the same
    /// gradients, with and without weight decay, on a tensor just above the size the fused
    /// step takes (so it crosses parallel chunks, with a ragged last one): the same parameters
    /// and moments to float rounding.
    #[test]
    fn fused_adam_follows_burns_adam() {
        let device = Device::flex();
        let n = 2 * (FUSED_MIN_ELEMENTS / 2 + 3);
        for decay in [None, Some(0.01f32)] {
            let ours = CpuAdam::new(decay);
            let burn = ours.burn.clone();
            let start: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let (mut a, mut b) = (tensor(&start, &device), tensor(&start, &device));
            assert!(CpuAdam::applies(&a, &b, None), "the fused step runs");
            let (mut sa, mut sb) = (None, None);
            for step in 0..10 {
                let g: Vec<f32> = (0..n)
                    .map(|i| ((i * 7 + step * 3) as f32 * 0.11).cos() * 0.5)
                    .collect();
                let (na, nsa) = ours.step(1e-2, a, tensor(&g, &device), sa);
                let (nb, nsb) = burn.step(1e-2, b, tensor(&g, &device), sb);
                (a, sa, b, sb) = (na, nsa, nb, nsb);
            }
            let (pa, pb) = (values(&a), values(&b));
            assert_eq!(pa.len(), n);
            assert!(
                pa.iter().zip(&start).all(|(x, y)| x != y),
                "every parameter moved"
            );
            for (x, y) in pa.iter().zip(&pb) {
                assert!(
                    (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                    "{x} vs {y} ({decay:?})"
                );
            }
            let (ma, mb) = (sa.unwrap().momentum, sb.unwrap().momentum);
            assert_eq!(ma.time, mb.time);
            for (x, y) in values(&ma.moment_1).iter().zip(&values(&mb.moment_1)) {
                assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-6), "m: {x} vs {y}");
            }
            for (x, y) in values(&ma.moment_2).iter().zip(&values(&mb.moment_2)) {
                assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-6), "v: {x} vs {y}");
            }
        }
        // Small tensors stay on burn's Adam.
        let small = tensor(&[1.0, 2.0], &device);
        assert!(!CpuAdam::applies(&small, &small, None));
    }
}
