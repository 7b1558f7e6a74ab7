//! Several LoRA trials trained at once over one frozen base.
//!
//! LoRA trials of a study differ only in their adapters and hyperparameters: they share
//! every base weight. A [`LoraStack`] holds K trials' adapters stacked (`A` as
//! `[K, r_max, in]`, `B` as `[K, out, r_max]`) and trains them in one step: the K trials'
//! windows go through the frozen base as one batch (one matrix product per projection
//! instead of K), and each projection adds every trial's update with one batched product
//! over the trials. Per trial the stack keeps what the trial would have alone:
//! - its rank `r` (rows and columns past `r` are zero and stay zero: their gradients are
//!   zero, so Adam never moves them), its scale `alpha / r`, and its targets (a projection
//!   a trial does not target has scale 0 for it, so it gets no gradient either);
//! - its adapter dropout probability, drawn per trial;
//! - its learning rate and weight decay, in Adam (L2 decay) or AdamW (decoupled decay)
//!   with burn's defaults and formulas (`crate::train::cpu_adam`'s, burn's `AdamW`'s), per
//!   trial;
//! - its own loss: the step minimises the sum of the trials' mean losses, and since the
//!   trials share no trained weight, each trial's gradient is its own loss's.
//!
//! So a stack of K trials trains each of them as [`super::trial::lm_steps`] trains it
//! alone, to float rounding (test `a_stack_trains_each_trial_as_it_trains_alone`), while
//! paying the per-operation cost of one step rather than K: on a GPU, where a step is
//! mostly dispatches, K trials cost little more than one.

use burn::module::{Module, Param};
use burn::nn::DropoutConfig;
use burn::tensor::activation::log_softmax;
use burn::tensor::module::linear;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::train::random_starts;
use super::trial::{LmSteps, timed_steps};
use super::weights::load_base;
use super::{Adapter, LoraLinear, PROJECTIONS, TinyLm, VOCAB, windows};
use crate::train::TrainError;
use crate::train::data::TextSet;
use crate::vocab::{LoraSettings, LoraTargets, ModelSpec, OptimizerKind, TrialPlan};

/// Adam's constants, burn's defaults (as `crate::train::cpu_adam` uses them).
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;

/// One trial of a stack: its adapters' settings and its optimiser's.
#[derive(Clone, Debug)]
pub struct StackTrial {
    /// The trial's model: the stack's base with this trial's new adapters
    /// ([`TinyLm::with_lora`]); only its adapters are read. burn draws a new adapter's `A`
    /// when it is first read, so read them (or train the model) before reseeding the
    /// device for another trial, as [`stack_steps`] does.
    pub model: TinyLm,
    /// Its LoRA settings (rank, alpha, dropout, targets).
    pub lora: LoraSettings,
    /// Its learning rate.
    pub lr: f64,
    /// Its weight decay (0 for none).
    pub weight_decay: f64,
    /// Whether the decay is AdamW's, decoupled from the gradient (else Adam's L2 decay).
    pub decoupled: bool,
}

/// One projection's adapters of every trial, stacked, with their Adam moments. Held
/// without autodiff: each step makes them leaves of its graph.
#[derive(Clone, Debug)]
struct Stacked {
    /// `[K, r_max, in]`.
    a: Tensor<3>,
    /// `[K, out, r_max]`.
    b: Tensor<3>,
    m_a: Tensor<3>,
    v_a: Tensor<3>,
    m_b: Tensor<3>,
    v_b: Tensor<3>,
    /// `[K, 1, 1]`: `alpha / r` where the trial targets this projection, else 0.
    scale: Tensor<3>,
}

/// One projection's stacked `A`, `B` and scale as one pass uses them.
type Leaf = (Tensor<3>, Tensor<3>, Tensor<3>);

/// K LoRA trials over one frozen base, trained together (see the module's documentation).
#[derive(Clone, Debug)]
pub struct LoraStack {
    /// The frozen base, on the autodiff device.
    base: TinyLm,
    /// Per block, per projection ([`PROJECTIONS`]): the stacked adapters, where some trial
    /// targets the projection.
    adapters: Vec<Vec<Option<Stacked>>>,
    /// Each trial's settings.
    settings: Vec<LoraSettings>,
    /// Each trial's learning rate.
    lrs: Vec<f64>,
    /// Each trial's weight decay.
    decays: Vec<f64>,
    /// Whether each trial's decay is AdamW's (decoupled).
    decoupled: Vec<bool>,
    /// Each trial's Adam steps (its bias correction).
    times: Vec<i32>,
    /// The largest rank a slot holds.
    r_max: usize,
    /// `[K, 1, 1]` learning rates.
    lr: Tensor<3>,
    /// `[K, 1, 1]` L2 weight decays (Adam's), when a trial has one.
    decay: Option<Tensor<3>>,
    /// `[K, 1, 1]` `1 - lr · decay` for AdamW's trials (1 for the others), when one has a
    /// decay.
    shrink: Option<Tensor<3>>,
    /// The autodiff device.
    device: Device,
}

/// `[K, 1, 1]` from one value per trial.
fn per_trial(values: impl Iterator<Item = f32>, device: &Device) -> Tensor<3> {
    let v: Vec<f32> = values.collect();
    let k = v.len();
    Tensor::from_data(TensorData::new(v, [k, 1, 1]), device)
}

impl LoraStack {
    /// A stack of `trials` over `base` (the frozen base, on the autodiff device `device`).
    /// Every trial's model must be `base` with its adapters added.
    pub fn new(
        base: &TinyLm,
        trials: &[StackTrial],
        device: &Device,
    ) -> Result<LoraStack, TrainError> {
        if trials.is_empty() {
            return Err(TrainError::Config(
                "a LoRA stack needs at least one trial".into(),
            ));
        }
        let inner = device.clone().inner();
        let r_max = trials.iter().map(|t| t.lora.r).max().unwrap_or(1);
        let mut adapters = Vec::with_capacity(base.layers.len());
        for (l, layer) in base.layers.iter().enumerate() {
            let mut row = Vec::with_capacity(PROJECTIONS.len());
            for (name, proj) in layer.projections() {
                if !trials.iter().any(|t| t.lora.targets.covers(name)) {
                    row.push(None);
                    continue;
                }
                let (d_in, d_out) = proj.dims();
                let (mut a_parts, mut b_parts) = (Vec::new(), Vec::new());
                for (i, t) in trials.iter().enumerate() {
                    let (a, b) = slot_adapters(t, l, name, (d_in, d_out), r_max, &inner)
                        .map_err(|e| TrainError::Config(format!("trial {i} of the stack: {e}")))?;
                    a_parts.push(a);
                    b_parts.push(b);
                }
                let a = Tensor::stack::<3>(a_parts, 0);
                let b = Tensor::stack::<3>(b_parts, 0);
                // Set by `rescale` below.
                let scale = Tensor::zeros([trials.len(), 1, 1], &inner);
                row.push(Some(Stacked {
                    m_a: a.zeros_like(),
                    v_a: a.zeros_like(),
                    m_b: b.zeros_like(),
                    v_b: b.zeros_like(),
                    a,
                    b,
                    scale,
                }));
            }
            adapters.push(row);
        }
        let mut stack = LoraStack {
            base: base.clone().no_grad(),
            adapters,
            settings: trials.iter().map(|t| t.lora).collect(),
            lrs: trials.iter().map(|t| t.lr).collect(),
            decays: trials.iter().map(|t| t.weight_decay).collect(),
            decoupled: trials.iter().map(|t| t.decoupled).collect(),
            times: vec![0; trials.len()],
            r_max,
            lr: Tensor::zeros([1, 1, 1], &inner),
            decay: None,
            shrink: None,
            device: device.clone(),
        };
        stack.rescale();
        stack.optimiser_settings();
        Ok(stack)
    }

    /// Each projection's per-trial scales from the trials' settings: `alpha / r` where the
    /// trial targets the projection, else 0.
    fn rescale(&mut self) {
        let inner = self.device.clone().inner();
        for row in &mut self.adapters {
            for (name, s) in PROJECTIONS.iter().zip(row.iter_mut()) {
                if let Some(s) = s {
                    s.scale = per_trial(
                        self.settings.iter().map(|t| {
                            if t.targets.covers(name) {
                                t.scale() as f32
                            } else {
                                0.0
                            }
                        }),
                        &inner,
                    );
                }
            }
        }
    }

    /// The per-trial learning rates and decays as tensors, after a trial changed.
    fn optimiser_settings(&mut self) {
        let inner = self.device.clone().inner();
        self.lr = per_trial(self.lrs.iter().map(|x| *x as f32), &inner);
        let l2: Vec<f64> = (self.decays.iter().zip(&self.decoupled))
            .map(|(d, w)| if *w { 0.0 } else { *d })
            .collect();
        self.decay = l2
            .iter()
            .any(|d| *d > 0.0)
            .then(|| per_trial(l2.iter().map(|x| *x as f32), &inner));
        // AdamW: the parameter shrinks by `1 - lr · decay` before the update (burn's AdamW).
        let shrink: Vec<f64> = (self.decays.iter().zip(&self.decoupled).zip(&self.lrs))
            .map(|((d, w), lr)| if *w { 1.0 - lr * d } else { 1.0 })
            .collect();
        self.shrink = shrink
            .iter()
            .any(|s| *s != 1.0)
            .then(|| per_trial(shrink.iter().map(|x| *x as f32), &inner));
    }

    /// Puts `trial` in slot `k` in place of the trial there (whose adapters and optimiser
    /// state are dropped): a study's next trial takes the slot its finished or pruned one
    /// freed, while the others go on. The new trial's rank must be at most the stack's
    /// largest and its targets among the projections the stack holds adapters for.
    pub fn replace(&mut self, k: usize, trial: &StackTrial) -> Result<(), TrainError> {
        let n = self.trials();
        if k >= n {
            return Err(TrainError::Config(format!(
                "the stack has {n} trials, not {}",
                k + 1
            )));
        }
        if trial.lora.r > self.r_max {
            return Err(TrainError::Config(format!(
                "a trial of rank {} does not fit a stack of rank {}",
                trial.lora.r, self.r_max
            )));
        }
        let inner = self.device.clone().inner();
        // Check every projection first, so that a refused trial changes nothing.
        let mut parts = Vec::new();
        for (l, (layer, row)) in self.base.layers.iter().zip(&self.adapters).enumerate() {
            for ((name, proj), s) in layer.projections().into_iter().zip(row) {
                match s {
                    Some(_) => parts.push(Some(slot_adapters(
                        trial,
                        l,
                        name,
                        proj.dims(),
                        self.r_max,
                        &inner,
                    )?)),
                    None if trial.lora.targets.covers(name) => {
                        return Err(TrainError::Config(format!(
                            "the trial targets layers.{l}.{name}, which no trial of this stack adapts"
                        )));
                    }
                    None => parts.push(None),
                }
            }
        }
        let mut parts = parts.into_iter();
        for row in &mut self.adapters {
            for s in row.iter_mut() {
                let (Some(s), Some(Some((a, b)))) = (s.as_mut(), parts.next()) else {
                    continue;
                };
                let [_, r, d_in] = s.a.dims();
                let [_, d_out, _] = s.b.dims();
                let (ra, rb) = ([k..k + 1, 0..r, 0..d_in], [k..k + 1, 0..d_out, 0..r]);
                let (a, b) = (a.reshape([1, r, d_in]), b.reshape([1, d_out, r]));
                s.m_a = s.m_a.clone().slice_assign(ra.clone(), a.zeros_like());
                s.v_a = s.v_a.clone().slice_assign(ra.clone(), a.zeros_like());
                s.m_b = s.m_b.clone().slice_assign(rb.clone(), b.zeros_like());
                s.v_b = s.v_b.clone().slice_assign(rb.clone(), b.zeros_like());
                s.a = s.a.clone().slice_assign(ra, a);
                s.b = s.b.clone().slice_assign(rb, b);
            }
        }
        self.settings[k] = trial.lora;
        self.lrs[k] = trial.lr;
        self.decays[k] = trial.weight_decay;
        self.decoupled[k] = trial.decoupled;
        self.times[k] = 0;
        self.rescale();
        self.optimiser_settings();
        Ok(())
    }

    /// The number of trials.
    pub fn trials(&self) -> usize {
        self.settings.len()
    }

    /// Widens the stack to at least rank `r` and adapters on every projection `targets`
    /// covers, keeping each trial's adapters and optimiser state (the new rows and columns
    /// are zeros, which stay zero for the trials there: their gradients are zero), so that a
    /// trial of that rank and those targets can [`replace`](Self::replace) one. Nothing
    /// changes where the stack has the room already.
    pub fn make_room(&mut self, r: usize, targets: LoraTargets) {
        let k = self.trials();
        let inner = self.device.clone().inner();
        let (old, new) = (self.r_max, self.r_max.max(r));
        for (layer, row) in self.base.layers.iter().zip(self.adapters.iter_mut()) {
            for ((name, proj), s) in layer.projections().into_iter().zip(row.iter_mut()) {
                let (d_in, d_out) = proj.dims();
                match s {
                    Some(s) if new > old => {
                        let pad_a = |t: Tensor<3>| {
                            Tensor::cat(vec![t, Tensor::zeros([k, new - old, d_in], &inner)], 1)
                        };
                        let pad_b = |t: Tensor<3>| {
                            Tensor::cat(vec![t, Tensor::zeros([k, d_out, new - old], &inner)], 2)
                        };
                        (s.a, s.m_a, s.v_a) = (
                            pad_a(s.a.clone()),
                            pad_a(s.m_a.clone()),
                            pad_a(s.v_a.clone()),
                        );
                        (s.b, s.m_b, s.v_b) = (
                            pad_b(s.b.clone()),
                            pad_b(s.m_b.clone()),
                            pad_b(s.v_b.clone()),
                        );
                    }
                    None if targets.covers(name) => {
                        let a = Tensor::zeros([k, new, d_in], &inner);
                        let b = Tensor::zeros([k, d_out, new], &inner);
                        *s = Some(Stacked {
                            m_a: a.zeros_like(),
                            v_a: a.zeros_like(),
                            m_b: b.zeros_like(),
                            v_b: b.zeros_like(),
                            a,
                            b,
                            scale: Tensor::zeros([k, 1, 1], &inner),
                        });
                    }
                    _ => {}
                }
            }
        }
        self.r_max = new;
        self.rescale();
    }

    /// Keeps only the trials in `slots` (ascending, each below [`trials`](Self::trials)), in
    /// that order, with their adapters and optimiser state: a study with no trial left to
    /// take a freed slot trains the others without it.
    pub fn keep(&mut self, slots: &[usize]) -> Result<(), TrainError> {
        let n = self.trials();
        if slots.is_empty() || !slots.is_sorted() || slots.iter().any(|&k| k >= n) {
            return Err(TrainError::Config(format!(
                "a stack of {n} trials cannot keep slots {slots:?}"
            )));
        }
        let inner = self.device.clone().inner();
        let index: Tensor<1, Int> = Tensor::from_data(
            TensorData::new(slots.iter().map(|&k| k as i64).collect(), [slots.len()]),
            &inner,
        );
        for s in self.adapters.iter_mut().flatten().flatten() {
            for t in [
                &mut s.a, &mut s.b, &mut s.m_a, &mut s.v_a, &mut s.m_b, &mut s.v_b,
            ] {
                *t = t.clone().select(0, index.clone());
            }
        }
        let pick = |v: &[f64]| slots.iter().map(|&k| v[k]).collect::<Vec<_>>();
        self.lrs = pick(&self.lrs);
        self.decays = pick(&self.decays);
        self.decoupled = slots.iter().map(|&k| self.decoupled[k]).collect();
        self.settings = slots.iter().map(|&k| self.settings[k]).collect();
        self.times = slots.iter().map(|&k| self.times[k]).collect();
        self.rescale();
        self.optimiser_settings();
        Ok(())
    }

    /// The logits of every trial: `tokens` is `[K * batch, time]`, trial `k`'s windows in
    /// rows `k * batch ..`; `leaves` are the adapters as this forward pass uses them.
    fn forward(
        &self,
        base: &TinyLm,
        tokens: Tensor<2, Int>,
        leaves: &[Vec<Option<Leaf>>],
        dropout: bool,
    ) -> Tensor<3> {
        let k = self.trials();
        let probs: Vec<f64> = self.settings.iter().map(|s| s.dropout).collect();
        let drop = dropout && probs.iter().any(|p| *p > 0.0);
        base.forward_with(tokens, &|layer, name, proj: &LoraLinear, x: Tensor<3>| {
            let y = linear(x.clone(), proj.base_weight(), None);
            let index = PROJECTIONS.iter().position(|p| *p == name).unwrap_or(0);
            let Some(Some((a, b, scale))) = leaves.get(layer).and_then(|row| row.get(index)) else {
                return y;
            };
            let [rows, t, d_in] = x.dims();
            let per = rows / k;
            let mut xk = x.reshape([k, per * t, d_in]);
            if drop {
                xk = xk.clone() * dropout_mask(&xk, &probs);
            }
            let h = xk.matmul(a.clone().swap_dims(1, 2));
            let update = h.matmul(b.clone().swap_dims(1, 2)) * scale.clone();
            let [_, _, d_out] = y.dims();
            y + update.reshape([rows, t, d_out])
        })
    }

    /// The adapters as a step uses them: leaves of a new graph that take gradients when
    /// `train`, else the tensors as held.
    fn leaves(&self, train: bool) -> Vec<Vec<Option<Leaf>>> {
        let lift = |t: &Tensor<3>| {
            if train {
                t.clone().autodiff().require_grad()
            } else {
                t.clone()
            }
        };
        self.adapters
            .iter()
            .map(|row| {
                row.iter()
                    .map(|s| {
                        s.as_ref().map(|s| {
                            let scale = if train {
                                s.scale.clone().autodiff()
                            } else {
                                s.scale.clone()
                            };
                            (lift(&s.a), lift(&s.b), scale)
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Each trial's mean loss (nats per token) on its windows, `[K]`, as a graph.
    fn losses(
        &self,
        base: &TinyLm,
        tokens: Tensor<2, Int>,
        leaves: &[Vec<Option<Leaf>>],
        dropout: bool,
    ) -> Tensor<1> {
        let k = self.trials();
        let [rows, t1] = tokens.dims();
        let t = t1 - 1;
        let input = tokens.clone().narrow(1, 0, t);
        let target = tokens.narrow(1, 1, t).reshape([rows * t, 1]);
        let logits = self
            .forward(base, input, leaves, dropout)
            .reshape([rows * t, VOCAB]);
        log_softmax(logits, 1)
            .gather(1, target)
            .reshape([k, rows / k * t])
            .mean_dim(1)
            .reshape([k])
            .neg()
    }

    /// One optimiser step of every trial on `tokens` (`[K * batch, time + 1]`: trial `k`'s
    /// windows in rows `k * batch ..`). Returns each trial's loss before the step, `[K]`,
    /// without autodiff (read it back when convenient).
    pub fn step(&mut self, tokens: Tensor<2, Int>) -> Result<Tensor<1>, TrainError> {
        let k = self.trials();
        let [rows, _] = tokens.dims();
        if rows == 0 || !rows.is_multiple_of(k) {
            return Err(TrainError::Config(format!(
                "a stack of {k} trials needs a batch of windows that is a multiple of {k}, not {rows}"
            )));
        }
        let leaves = self.leaves(true);
        let losses = self.losses(&self.base, tokens, &leaves, true);
        let grads = losses.clone().sum().backward();
        // Adam's bias corrections, per trial (a trial that took a freed slot starts at 1).
        for t in &mut self.times {
            *t = t.saturating_add(1);
        }
        let inner = self.device.clone().inner();
        let bc2s = |t: i32| (1.0 - BETA_2.powi(t)).sqrt();
        let factor = per_trial(
            self.times.iter().map(|&t| bc2s(t) / (1.0 - BETA_1.powi(t))),
            &inner,
        );
        let denom_eps = per_trial(self.times.iter().map(|&t| EPSILON * bc2s(t)), &inner);
        for (row, leaf_row) in self.adapters.iter_mut().zip(&leaves) {
            for (s, leaf) in row.iter_mut().zip(leaf_row) {
                let (Some(s), Some((a, b, _))) = (s.as_mut(), leaf) else {
                    continue;
                };
                let zero_a = || s.a.zeros_like();
                let ga = a.grad(&grads).unwrap_or_else(zero_a);
                let gb = b.grad(&grads).unwrap_or_else(|| s.b.zeros_like());
                let adam = |p: Tensor<3>, g: Tensor<3>, m: Tensor<3>, v: Tensor<3>| {
                    let g = match &self.decay {
                        Some(d) => p.clone() * d.clone() + g,
                        None => g,
                    };
                    let m = m.mul_scalar(BETA_1) + g.clone().mul_scalar(1.0 - BETA_1);
                    let v = v.mul_scalar(BETA_2) + (g.clone() * g).mul_scalar(1.0 - BETA_2);
                    let update =
                        (m.clone() * factor.clone()) / (v.clone().sqrt() + denom_eps.clone());
                    let p = match &self.shrink {
                        Some(s) => p * s.clone(),
                        None => p,
                    };
                    (p - update * self.lr.clone(), m, v)
                };
                let (a, m_a, v_a) = adam(s.a.clone(), ga, s.m_a.clone(), s.v_a.clone());
                let (b, m_b, v_b) = adam(s.b.clone(), gb, s.m_b.clone(), s.v_b.clone());
                (s.a, s.m_a, s.v_a, s.b, s.m_b, s.v_b) = (a, m_a, v_a, b, m_b, v_b);
            }
        }
        Ok(losses.inner())
    }

    /// Trial `k` alone: the base with its adapters as they are now (rank `r`, its scale and
    /// dropout), without autodiff, to evaluate, sample from or save as PEFT's files.
    pub fn trial_model(&self, k: usize) -> Result<TinyLm, TrainError> {
        let settings = self.settings.get(k).ok_or_else(|| {
            TrainError::Config(format!(
                "the stack has {} trials, not {}",
                self.trials(),
                k + 1
            ))
        })?;
        let mut model = self.base.clone().valid();
        for (layer, row) in model.layers.iter_mut().zip(&self.adapters) {
            for ((name, proj), s) in layer.projections_mut().into_iter().zip(row) {
                let adapter = match s {
                    Some(s) if settings.targets.covers(name) => {
                        let [_, r_max, d_in] = s.a.dims();
                        let [_, d_out, _] = s.b.dims();
                        let r = settings.r.min(r_max);
                        let a =
                            s.a.clone()
                                .narrow(0, k, 1)
                                .reshape([r_max, d_in])
                                .narrow(0, 0, r);
                        let b =
                            s.b.clone()
                                .narrow(0, k, 1)
                                .reshape([d_out, r_max])
                                .narrow(1, 0, r);
                        Some(Adapter {
                            a: Param::from_tensor(a),
                            b: Param::from_tensor(b),
                            dropout: DropoutConfig::new(settings.dropout).init(),
                            scale: settings.scale(),
                        })
                    }
                    _ => None,
                };
                *proj = LoraLinear {
                    base: proj.base.clone(),
                    adapter,
                };
            }
        }
        Ok(model)
    }

    /// Every trial's mean loss on the same `tokens` (`[batch, time + 1]`, on the device
    /// without autodiff), `[K]`, without dropout or gradients: one pass of the base for all
    /// trials.
    pub fn evaluate(&self, tokens: Tensor<2, Int>) -> Tensor<1> {
        let k = self.trials();
        let [b, t1] = tokens.dims();
        let repeated = tokens
            .unsqueeze::<3>()
            .expand([k, b, t1])
            .reshape([k * b, t1]);
        let leaves = self.leaves(false);
        self.losses(&self.base.clone().valid(), repeated, &leaves, false)
    }

    /// The autodiff device the stack trains on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Trial `t`'s adapters of projection `name` in block `layer` (`dims`: its `(in, out)`),
/// padded with zeros to rank `r_max`: `A` `[r_max, in]`, `B` `[out, r_max]`; zeros where the
/// trial does not target the projection.
fn slot_adapters(
    t: &StackTrial,
    layer: usize,
    name: &str,
    (d_in, d_out): (usize, usize),
    r_max: usize,
    inner: &Device,
) -> Result<(Tensor<2>, Tensor<2>), TrainError> {
    let r = t.lora.r;
    if r > r_max {
        return Err(TrainError::Config(format!(
            "rank {r} does not fit a stack of rank {r_max}"
        )));
    }
    let own = t
        .model
        .layers
        .get(layer)
        .and_then(|l| l.projections().into_iter().find(|(n, _)| *n == name))
        .and_then(|(_, p)| p.adapter.as_ref());
    let (a, b) = match own {
        Some(ad) if t.lora.targets.covers(name) => {
            let (a, b) = (ad.a.val().inner(), ad.b.val().inner());
            if a.dims() != [r, d_in] || b.dims() != [d_out, r] {
                return Err(TrainError::Config(format!(
                    "layers.{layer}.{name}'s adapter is {:?} and {:?}, not rank {r} over {d_in} x {d_out}",
                    a.dims(),
                    b.dims(),
                )));
            }
            (a, b)
        }
        _ if t.lora.targets.covers(name) => {
            return Err(TrainError::Config(format!(
                "it targets layers.{layer}.{name} but its model has no adapter there"
            )));
        }
        _ => (
            Tensor::zeros([r, d_in], inner),
            Tensor::zeros([d_out, r], inner),
        ),
    };
    Ok(if r < r_max {
        (
            Tensor::cat(vec![a, Tensor::zeros([r_max - r, d_in], inner)], 0),
            Tensor::cat(vec![b, Tensor::zeros([d_out, r_max - r], inner)], 1),
        )
    } else {
        (a, b)
    })
}

/// Trial `plan`'s place in a stack, made on the autodiff device `ad` as a trial alone makes
/// its model (the device seeded with the plan's seed, the base loaded, which draws from the
/// device's random numbers too, then the adapters), with the base it loaded. The plan must
/// be LoRA over an f32 base, trained with Adam.
pub fn stack_trial(
    plan: &TrialPlan,
    text: &TextSet,
    ad: &Device,
) -> Result<(TinyLm, StackTrial), TrainError> {
    let ModelSpec::Lm {
        lora: Some(lora),
        quant: None,
        ..
    } = &plan.model
    else {
        return Err(TrainError::Config(
            "a stack trains LoRA plans over an f32 base only".into(),
        ));
    };
    if !matches!(plan.optimizer, OptimizerKind::Adam | OptimizerKind::AdamW) {
        return Err(TrainError::Config(format!(
            "the trials of a stack train with Adam or AdamW, not {:?}",
            plan.optimizer
        )));
    }
    ad.seed(plan.seed);
    let (loaded, _, _) = load_base(&text.base, "the base weights", Some(&text.base_sha256), ad)?;
    let model = loaded.clone().with_lora(lora, ad)?;
    // burn initialises parameters lazily, drawing from the device's random numbers when a
    // parameter is first read: the adapters are read here, before another trial reseeds the
    // device, in the order the trial's first forward pass reads them alone.
    for layer in &model.layers {
        for (_, proj) in layer.projections() {
            if let Some(ad) = &proj.adapter {
                let _ = (ad.a.val(), ad.b.val());
            }
        }
    }
    Ok((
        loaded,
        StackTrial {
            model,
            lora: *lora,
            lr: plan.lr,
            weight_decay: plan.weight_decay,
            decoupled: plan.optimizer == OptimizerKind::AdamW,
        },
    ))
}

/// [`super::trial::lm_steps`] for several trials at once: `plans` (LoRA plans with the same
/// batch size; no quantized base) trained together in one [`LoraStack`] over the shipped
/// base, `warmup` untimed steps then `steps` timed ones. Each trial's adapters and windows
/// come from its own seed as they do alone, so each trial's losses are the ones it has
/// alone (to float rounding, when no trial has dropout). The stack trains with Adam, so
/// every plan's optimiser must be Adam. Returns the stack and, per trial, what was
/// measured: its tokens per second (every trial's, since they train together), the timed
/// steps' seconds and their losses.
pub async fn stack_steps(
    plans: &[TrialPlan],
    text: &TextSet,
    device: &Device,
    warmup: usize,
    steps: usize,
) -> Result<(LoraStack, Vec<LmSteps>), TrainError> {
    let ad = device.clone().autodiff();
    let first = plans
        .first()
        .ok_or_else(|| TrainError::Config("a LoRA stack needs at least one trial".into()))?;
    let batch = first.batch_size.max(1);
    let mut trials = Vec::with_capacity(plans.len());
    let mut base = None;
    for (i, plan) in plans.iter().enumerate() {
        if plan.batch_size.max(1) != batch {
            return Err(TrainError::Config(format!(
                "the trials of a stack share the batch size: trial {i} has {}, trial 0 {batch}",
                plan.batch_size
            )));
        }
        let (loaded, trial) = stack_trial(plan, text, &ad)
            .map_err(|e| TrainError::Config(format!("trial {i} of the stack: {e}")))?;
        base.get_or_insert(loaded);
        trials.push(trial);
    }
    let base = base.ok_or_else(|| TrainError::Config("no base".into()))?;
    let mut stack = LoraStack::new(&base, &trials, &ad)?;
    let mut rngs: Vec<ChaCha8Rng> = plans
        .iter()
        .map(|p| ChaCha8Rng::seed_from_u64(p.seed))
        .collect();
    let len = base.context();
    let (all, seconds) = timed_steps(warmup, steps, || {
        let starts: Vec<usize> = rngs
            .iter_mut()
            .flat_map(|rng| random_starts(rng, text.corpus.train.len(), len, batch))
            .collect();
        stack.step(windows(&text.corpus.train, &starts, len, &ad))
    })
    .await?;
    let k = plans.len();
    let tokens_per_sec = (steps.max(1) * batch * len) as f64 / seconds;
    let per_trial = (0..k)
        .map(|j| LmSteps {
            tokens_per_sec,
            seconds,
            losses: all
                .iter()
                .skip(j)
                .step_by(k)
                .map(|x| f64::from(*x))
                .collect(),
        })
        .collect();
    Ok((stack, per_trial))
}

/// The dropout mask of `x` (`[K, n, d]`) for per-trial probabilities `probs`: `1 / (1 - p)`
/// where a value is kept, else 0, drawn from the device's random numbers; no gradients.
fn dropout_mask(x: &Tensor<3>, probs: &[f64]) -> Tensor<3> {
    // On Flex one ChaCha8 stream, as a trial alone draws its mask.
    if let Some(mask) = super::flex_dropout_masks(x, probs) {
        return mask;
    }
    let device = x.device().inner();
    let shape = x.shape();
    let u = Tensor::<3>::random(shape, Distribution::Uniform(0.0, 1.0), &device);
    let p = per_trial(probs.iter().map(|p| *p as f32), &device);
    let keep = per_trial(probs.iter().map(|p| (1.0 / (1.0 - p)) as f32), &device);
    let [k, n, d] = x.dims();
    (u.greater_equal(p.expand([k, n, d])).float() * keep).autodiff()
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, AdamWConfig, GradientsParams};

    use super::super::tests::{flex_rng, max_diff, to_vec};
    use super::*;
    use crate::train::lm::{LmConfig, tokenize, windows};

    /// Four trials that differ in rank, alpha, targets, learning rate and weight decay (the
    /// last AdamW's, decoupled).
    fn settings() -> Vec<(LoraSettings, f64, f64, bool)> {
        let lora = |r, alpha, targets| LoraSettings {
            r,
            alpha,
            dropout: 0.0,
            targets,
        };
        vec![
            (lora(2, 4.0, LoraTargets::Qv), 1e-2, 0.0, false),
            (lora(4, 1.0, LoraTargets::All), 3e-3, 0.0, false),
            (lora(1, 8.0, LoraTargets::Qkvo), 2e-2, 0.01, false),
            (lora(2, 2.0, LoraTargets::All), 2e-2, 0.5, true),
        ]
    }

    /// A new model of `layers` blocks and `context` bytes from `seed`, frozen.
    fn tiny_base(ad: &Device, seed: u64, layers: usize, context: usize) -> TinyLm {
        ad.seed(seed);
        LmConfig {
            d_model: 16,
            layers,
            heads: 2,
            d_ff: 32,
            context,
        }
        .init(ad)
        .unwrap()
        .no_grad()
    }

    #[test]
    fn a_stack_trains_each_trial_as_it_trains_alone() {
        let _turn = flex_rng();
        let ad = Device::flex().autodiff();
        let base = tiny_base(&ad, 3, 2, 10);
        let text = tokenize(
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
        );
        let batch = 3;
        // Trial k's windows at step s.
        let starts = |k: usize, s: usize| -> Vec<usize> {
            (0..batch)
                .map(|i| (k * 31 + s * 17 + i * 7) % (text.len() - 11))
                .collect()
        };
        let trials: Vec<StackTrial> = settings()
            .into_iter()
            .enumerate()
            .map(|(k, (lora, lr, weight_decay, decoupled))| {
                ad.seed(100 + k as u64);
                StackTrial {
                    model: base.clone().with_lora(&lora, &ad).unwrap(),
                    lora,
                    lr,
                    weight_decay,
                    decoupled,
                }
            })
            .collect();
        let steps = 6;
        // Each trial alone, with burn's Adam or AdamW (their defaults, as the trials'
        // optimisers have).
        let mut alone = Vec::new();
        for (k, t) in trials.iter().enumerate() {
            let mut model = t.model.clone();
            let mut optim = if t.decoupled {
                AdamWConfig::new()
                    .with_weight_decay(t.weight_decay as f32)
                    .init()
            } else {
                AdamConfig::new()
                    .with_epsilon(1e-5)
                    .with_weight_decay(
                        (t.weight_decay > 0.0)
                            .then(|| WeightDecayConfig::new(t.weight_decay as f32)),
                    )
                    .init()
            };
            let mut losses = Vec::new();
            for s in 0..steps {
                let loss = model.loss(windows(&text, &starts(k, s), 10, &ad));
                losses.push(to_vec(loss.clone().inner())[0]);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(t.lr, model, grads);
            }
            alone.push((model.valid(), losses));
        }
        let mut stack = LoraStack::new(&base, &trials, &ad).unwrap();
        assert_eq!(stack.trials(), 4);
        let mut stacked = vec![Vec::new(); 4];
        for s in 0..steps {
            let all: Vec<usize> = (0..4).flat_map(|k| starts(k, s)).collect();
            let losses = to_vec(stack.step(windows(&text, &all, 10, &ad)).unwrap());
            for (k, l) in losses.into_iter().enumerate() {
                stacked[k].push(l);
            }
        }
        let probe = windows(&text, &[0, 40, 80], 10, &Device::flex());
        let evaluated = to_vec(stack.evaluate(probe.clone()));
        for (k, (model, losses)) in alone.iter().enumerate() {
            let d = max_diff(&stacked[k], losses);
            assert!(
                d < 1e-4,
                "trial {k}: losses {:?} alone, {:?} stacked",
                losses,
                stacked[k]
            );
            // The losses moved: the trials trained (so the comparison means something).
            assert!(
                (losses[0] - losses[steps - 1]).abs() > 1e-3,
                "trial {k} did not train: {losses:?}"
            );
            let own = stack.trial_model(k).unwrap();
            assert_eq!(
                own.trainable_params(),
                model.trainable_params(),
                "trial {k}'s adapters"
            );
            let input = probe.clone().narrow(1, 0, 10);
            let d = max_diff(
                &to_vec(own.forward(input.clone())),
                &to_vec(model.forward(input)),
            );
            assert!(
                d < 1e-4,
                "trial {k}'s model computes {d} away from the one trained alone"
            );
            let alone_loss = to_vec(model.loss(probe.clone()))[0];
            assert!(
                (evaluated[k] - alone_loss).abs() < 1e-4,
                "trial {k}: evaluated {} vs {alone_loss}",
                evaluated[k]
            );
        }
        // The trials differ, so the stack kept them apart.
        assert!(
            (evaluated[0] - evaluated[1]).abs() > 1e-4
                && (evaluated[1] - evaluated[2]).abs() > 1e-4,
            "{evaluated:?}"
        );

        // Room for a larger rank and every projection changes no trial's model.
        stack.make_room(8, LoraTargets::All);
        let widened = to_vec(stack.evaluate(probe.clone()));
        assert!(
            max_diff(&widened, &evaluated) < 1e-6,
            "{widened:?} vs {evaluated:?}"
        );

        // Keeping trials 1 and 3: they are the new stack's trials 0 and 1, as they were, and
        // train on: the next step's losses are the trials' alone on those windows.
        stack.keep(&[1, 3]).unwrap();
        assert_eq!(stack.trials(), 2);
        let kept = to_vec(stack.evaluate(probe.clone()));
        assert!((kept[0] - evaluated[1]).abs() < 1e-6 && (kept[1] - evaluated[3]).abs() < 1e-6);
        assert!(stack.keep(&[2]).is_err() && stack.keep(&[1, 0]).is_err());
        let losses = to_vec(
            stack
                .step(windows(
                    &text,
                    &[starts(1, steps), starts(3, steps)].concat(),
                    10,
                    &ad,
                ))
                .unwrap(),
        );
        for (j, k) in [1, 3].into_iter().enumerate() {
            let next = windows(&text, &starts(k, steps), 10, &Device::flex());
            let want = to_vec(alone[k].0.loss(next))[0];
            assert!(
                (losses[j] - want).abs() < 1e-4,
                "trial {k}: {} vs {want}",
                losses[j]
            );
        }
    }

    #[test]
    fn a_stack_with_dropout_trains_and_refuses_what_does_not_fit() {
        let _turn = flex_rng();
        let ad = Device::flex().autodiff();
        let base = tiny_base(&ad, 5, 1, 8);
        let lora = LoraSettings {
            r: 4,
            alpha: 8.0,
            dropout: 0.2,
            targets: LoraTargets::All,
        };
        let trial = |lora: LoraSettings| StackTrial {
            model: base.clone().with_lora(&lora, &ad).unwrap(),
            lora,
            lr: 3e-2,
            weight_decay: 0.0,
            decoupled: false,
        };
        let trials = vec![
            trial(lora),
            trial(LoraSettings {
                dropout: 0.0,
                ..lora
            }),
        ];
        let mut stack = LoraStack::new(&base, &trials, &ad).unwrap();
        let text = tokenize("abcabcabcabcabcabcabcabcabcabc");
        let batch = windows(&text, &[0, 3, 6, 9, 1, 4, 7, 10], 8, &ad);
        let first = to_vec(stack.step(batch.clone()).unwrap());
        let mut last = first.clone();
        for _ in 0..40 {
            last = to_vec(stack.step(batch.clone()).unwrap());
        }
        for k in 0..2 {
            assert!(
                last[k].is_finite() && last[k] < first[k] - 0.5,
                "trial {k}: {} -> {}",
                first[k],
                last[k]
            );
        }
        let e = stack
            .step(windows(&text, &[0, 3, 6], 8, &ad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("multiple of 2"), "{e}");
        // A trial whose model lacks the adapters its targets name.
        let bad = StackTrial {
            model: base.clone(),
            ..trial(lora)
        };
        let e = LoraStack::new(&base, &[bad], &ad).unwrap_err().to_string();
        assert!(e.contains("has no adapter"), "{e}");
        assert!(LoraStack::new(&base, &[], &ad).is_err());
        assert!(stack.trial_model(2).is_err());
    }

    #[test]
    fn a_new_trial_takes_a_freed_slot_and_trains_from_its_start() {
        let _turn = flex_rng();
        let ad = Device::flex().autodiff();
        let base = tiny_base(&ad, 9, 1, 8);
        let text = tokenize(
            "Whan that Aprill with his shoures soote the droghte of March hath perced to the roote",
        );
        let trial = |seed: u64, lora: LoraSettings, lr: f64| {
            ad.seed(seed);
            StackTrial {
                model: base.clone().with_lora(&lora, &ad).unwrap(),
                lora,
                lr,
                weight_decay: 0.0,
                decoupled: false,
            }
        };
        let lora = |r, targets| LoraSettings {
            r,
            alpha: 4.0,
            dropout: 0.0,
            targets,
        };
        let first = [
            trial(1, lora(4, LoraTargets::All), 1e-2),
            trial(2, lora(2, LoraTargets::Qv), 2e-2),
        ];
        let late = trial(3, lora(3, LoraTargets::Qkvo), 5e-3);
        let starts = |k: usize, s: usize| -> Vec<usize> {
            (0..2)
                .map(|i| (k * 13 + s * 5 + i * 11) % (text.len() - 9))
                .collect()
        };
        // Alone: trial 0 for 6 steps; the late trial for 3 steps on slot 1's windows 3..6.
        let alone = |t: &StackTrial, slot: usize, steps: std::ops::Range<usize>| {
            let mut model = t.model.clone();
            let mut optim = AdamConfig::new().with_epsilon(1e-5).init();
            let mut losses = Vec::new();
            for s in steps {
                let loss = model.loss(windows(&text, &starts(slot, s), 8, &ad));
                losses.push(to_vec(loss.clone().inner())[0]);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(t.lr, model, grads);
            }
            losses
        };
        let want0 = alone(&first[0], 0, 0..6);
        let want_late = alone(&late, 1, 3..6);
        let mut stack = LoraStack::new(&base, &first, &ad).unwrap();
        let mut got = [Vec::new(), Vec::new()];
        for s in 0..6 {
            if s == 3 {
                stack.replace(1, &late).unwrap();
            }
            let all: Vec<usize> = (0..2).flat_map(|k| starts(k, s)).collect();
            for (k, l) in to_vec(stack.step(windows(&text, &all, 8, &ad)).unwrap())
                .into_iter()
                .enumerate()
            {
                got[k].push(l);
            }
        }
        assert!(
            max_diff(&got[0], &want0) < 1e-4,
            "slot 0 went on: {:?} vs {want0:?}",
            got[0]
        );
        assert!(
            max_diff(&got[1][3..], &want_late) < 1e-4,
            "the late trial: {:?} vs {want_late:?}",
            &got[1][3..]
        );
        assert_eq!(
            stack.trial_model(1).unwrap().trainable_params(),
            late.model.trainable_params()
        );
        // What does not fit is refused and changes nothing.
        let wide = trial(4, lora(8, LoraTargets::Qv), 1e-2);
        let e = stack.replace(0, &wide).unwrap_err().to_string();
        assert!(e.contains("rank 8 does not fit a stack of rank 4"), "{e}");
        assert!(stack.replace(2, &late).is_err());
        let narrow =
            LoraStack::new(&base, &[trial(5, lora(2, LoraTargets::Qv), 1e-2)], &ad).unwrap();
        let e = narrow
            .clone()
            .replace(0, &trial(6, lora(2, LoraTargets::All), 1e-2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("which no trial of this stack adapts"), "{e}");
        assert_eq!(
            stack.trial_model(0).unwrap().trainable_params(),
            first[0].model.trainable_params()
        );
    }
}
