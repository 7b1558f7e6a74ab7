//! The training loop: burn's autodiff and optimisers, driven by a study's trial.
//!
//! The loop is `async` and never blocks: every read-back from the device is awaited (the
//! only form that works in the browser), and the losses are read back in batches a few times
//! per epoch so a GPU's queue is not drained every step. Between steps the loop checks its
//! [`CancelToken`] and awaits [`TrainHooks::yield_now`], where a browser host gives the
//! event loop a turn.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use web_time::Instant;

use super::TrainError;
use super::data::{DataSet, Samples, shuffle};
use super::histograms::{ParamValues, epoch_histograms, gradients_of, weights_of};
use super::model::Model;
use crate::histogram::records_epoch;
use crate::json::Json;
use crate::study::{Study, TellResult};
use crate::trial::TrialState;
pub use crate::vocab::ProgressEvent;
use crate::vocab::{Objective, OptimizerKind, TrialPlan};

// Defined with the trials, outside the `train` feature, so that the page (which has no
// trainer) reads them too; re-exported here for the trainer's users.
pub use crate::trial::{FAIL_REASON_ATTR, INTERRUPTED_ATTR};

/// Samples per validation forward pass.
const EVAL_CHUNK: usize = 1000;

/// A flag that stops training between two steps; cheap to clone and share.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the trainer to stop at the next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The host's side of training: progress display, yielding to an event loop, and a look at
/// the model after each epoch (for a decision-boundary plot). Every method has a default
/// that does nothing; a closure `FnMut(&ProgressEvent)` is a `TrainHooks` too.
pub trait TrainHooks {
    /// Called on each event.
    fn progress(&mut self, _event: &ProgressEvent) {}

    /// Awaited before every step. A browser host yields to the event loop here (e.g. every
    /// few milliseconds), holds while paused and waits when slowed down for watching;
    /// natively it returns at once.
    fn yield_now(&mut self) -> impl Future<Output = ()> {
        std::future::ready(())
    }

    /// Awaited after each epoch's evaluation with the model in evaluation mode.
    fn epoch_end(
        &mut self,
        _trial: u64,
        _epoch: usize,
        _model: &Model,
    ) -> impl Future<Output = ()> {
        std::future::ready(())
    }

    /// Whether weight and gradient histograms are recorded in the trial after the epochs
    /// [`crate::histogram::records_epoch`] picks ([`Study::log_histograms`]; the gradients
    /// are the epoch's last step's).
    fn wants_histograms(&self) -> bool {
        false
    }

    /// The host's system metrics after an epoch, as `(name, value)`: the trainer logs each
    /// as the trial's series `system/<name>` at the epoch (e.g. `cpu_percent`,
    /// `memory_rss_mb`, `gpu_memory_mb`), which W&B, TensorBoard and MLflow show.
    fn system_metrics(&mut self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// Whether the host wants each LoRA trial's adapters ([`TrainHooks::lm_adapter`]).
    fn wants_lm_adapter(&self) -> bool {
        false
    }

    /// A LoRA trial of the language model ended COMPLETE or PRUNED: its adapters as PEFT's
    /// `adapter_model.safetensors` bytes and `adapter_config.json` text (called only when
    /// [`TrainHooks::wants_lm_adapter`]).
    fn lm_adapter(&mut self, _trial: u64, _safetensors: &[u8], _config_json: &str) {}
}

impl<F: FnMut(&ProgressEvent)> TrainHooks for F {
    fn progress(&mut self, event: &ProgressEvent) {
        self(event)
    }
}

/// How a trial ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialOutcome {
    /// COMPLETE, PRUNED or FAIL.
    pub state: TrialState,
    /// The study's metric at the last evaluated epoch.
    pub value: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// Why it failed, when it did.
    pub fail_reason: Option<String>,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// Training throughput over the whole trial (samples per second).
    pub samples_per_sec: f64,
}

impl TrialOutcome {
    /// A trial that failed before it trained, for `why`.
    pub fn failed(why: String) -> TrialOutcome {
        TrialOutcome {
            state: TrialState::Fail,
            value: None,
            epochs: 0,
            fail_reason: Some(why),
            cancelled: false,
            samples_per_sec: 0.0,
        }
    }
}

/// A data split on the device.
struct DeviceSplit {
    x: Tensor<2>,
    y: Tensor<1, Int>,
    len: usize,
}

impl DeviceSplit {
    fn upload(s: &Samples, device: &Device) -> DeviceSplit {
        DeviceSplit {
            x: Tensor::from_data(
                TensorData::new(s.features.clone(), [s.len(), s.dim]),
                device,
            ),
            y: Tensor::from_data(TensorData::new(s.labels.clone(), [s.len()]), device),
            len: s.len(),
        }
    }
}

/// Mean cross-entropy of `logits` against class indices, as a one-element tensor.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    logp.gather(1, targets.reshape([batch, 1])).mean().neg()
}

/// The optimiser `plan` asks for.
pub fn build_optimizer(plan: &TrialPlan) -> ModuleOptimizer {
    let decay =
        (plan.weight_decay > 0.0).then_some(WeightDecayConfig::new(plan.weight_decay as f32));
    match plan.optimizer {
        // burn's Adam, in one pass per parameter on Flex (see `cpu_adam`).
        OptimizerKind::Adam => {
            ModuleOptimizer::from(super::cpu_adam::CpuAdam::new(decay.map(|d| d.penalty)))
        }
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_weight_decay(plan.weight_decay as f32)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum((plan.momentum > 0.0).then_some(MomentumConfig {
                momentum: plan.momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .init(),
    }
}

/// Why a trial failed when its training loss `l` at `step` (of `epoch`) is not finite.
pub(crate) fn diverged_loss(l: f64, step: impl std::fmt::Display, epoch: usize, lr: f64) -> String {
    format!(
        "train/loss became {} at step {step} (epoch {epoch}); the learning rate {lr} may be too high",
        if l.is_nan() { "NaN" } else { "infinite" }
    )
}

/// Logs the host's system metrics ([`TrainHooks::system_metrics`]) for trial `number` at
/// epoch `epoch` as series `system/<name>`; non-finite values are left out.
pub(crate) fn log_system_metrics<H: TrainHooks>(
    study: &mut Study,
    number: u64,
    epoch: i64,
    hooks: &mut H,
) -> Result<(), crate::StudyError> {
    for (name, v) in hooks.system_metrics() {
        if v.is_finite() {
            study.log_metric(number, &format!("system/{name}"), epoch, v)?;
        }
    }
    Ok(())
}

/// A tensor's values read back asynchronously (the only read-back wasm's WebGPU allows),
/// as f32 in row-major order.
pub(crate) async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| TrainError::Device(format!("{e:?}")))?;
    data.try_to_vec::<f32>()
        .map_err(|e| TrainError::Device(format!("{e:?}")))
}

/// One optimiser step on the samples `idx` of `split`; returns the updated model, the
/// batch's loss (detached, still on the device) and, when `keep_gradients`, the step's
/// gradients (for the histograms).
fn train_step(
    model: Model,
    optim: &mut ModuleOptimizer,
    split: &DeviceSplit,
    idx: Tensor<1, Int>,
    lr: f64,
    keep_gradients: bool,
) -> (Model, Tensor<1>, Option<ParamValues>) {
    let x = split.x.clone().select(0, idx.clone()).autodiff();
    let y = split.y.clone().select(0, idx);
    let (logits, tape) = model.forward_train(x);
    let loss = cross_entropy(logits, y);
    let grads = model.gradients(loss.backward(), tape);
    let kept = keep_gradients.then(|| gradients_of(&model, &grads));
    let model = optim.step(lr, model, grads);
    (model, loss.detach().without_autodiff(), kept)
}

/// The order [`measure_training`] draws its batches from: the training split's indices
/// shuffled with `seed`. Step `s` trains on `order[batch_start(s, batch, n)..][..batch]`, so
/// a peer library can train on exactly the same batches.
pub fn throughput_order(seed: u64, n: usize) -> Vec<i64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<i64> = (0..n as i64).collect();
    shuffle(&mut order, &mut rng);
    order
}

/// Where step `step`'s batch of `batch` samples starts in [`throughput_order`] (the batches
/// walk the order and wrap around; `batch` must be at most `n`).
pub fn batch_start(step: usize, batch: usize, n: usize) -> usize {
    (step * batch) % (n - batch + 1)
}

/// What [`measure_training`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    /// Training samples per second over the timed steps.
    pub samples_per_sec: f64,
    /// Wall time of the timed steps, in seconds (ending with the last loss read back).
    pub seconds: f64,
    /// The training loss of every timed step, read back from the device.
    pub losses: Vec<f32>,
}

/// Measures training of `plan`'s model and optimiser on `data`'s training split: `warmup`
/// untimed steps, then `steps` timed ones, reading the losses back every `read_every` steps
/// as the trainer does. The timed region ends when the last loss has been read back to the
/// CPU, so work a GPU still had queued is counted. Batches follow
/// [`throughput_order`]`(plan.seed, n)` from step 0 (the warm-up steps included).
pub async fn measure_training(
    plan: &TrialPlan,
    data: &DataSet,
    device: &Device,
    warmup: usize,
    steps: usize,
    read_every: usize,
) -> Result<Throughput, TrainError> {
    let ad = device.clone().autodiff();
    ad.seed(plan.seed);
    let mut model = plan.model.build(data.shape, data.classes, &ad)?;
    let mut optim = build_optimizer(plan);
    let train = DeviceSplit::upload(&data.train, device);
    let n = train.len;
    if n == 0 {
        return Err(TrainError::Data(format!(
            "data set `{}` has no training samples",
            data.name
        )));
    }
    let batch = plan.batch_size.clamp(1, n);
    let order = throughput_order(plan.seed, n);
    let perm: Tensor<1, Int> = Tensor::from_data(TensorData::new(order, [n]), device);
    let mut pending = Vec::new();
    let mut losses = Vec::with_capacity(steps);
    let mut started = Instant::now();
    for s in 0..warmup + steps {
        if s == warmup {
            if !pending.is_empty() {
                read_f32(Tensor::cat(std::mem::take(&mut pending), 0)).await?;
            }
            started = Instant::now();
        }
        let idx = perm.clone().narrow(0, batch_start(s, batch, n), batch);
        let (next, loss, _) = train_step(model, &mut optim, &train, idx, plan.lr, false);
        model = next;
        pending.push(loss);
        if pending.len() >= read_every.max(1) {
            let read = read_f32(Tensor::cat(std::mem::take(&mut pending), 0)).await?;
            if s >= warmup {
                losses.extend(read);
            }
        }
    }
    if !pending.is_empty() {
        losses.extend(read_f32(Tensor::cat(pending, 0)).await?);
    }
    let secs = started.elapsed().as_secs_f64();
    drop(model);
    device.memory_cleanup();
    Ok(Throughput {
        samples_per_sec: (steps * batch) as f64 / secs.max(1e-9),
        seconds: secs,
        losses,
    })
}

/// Validation loss and accuracy of `model` (in evaluation mode) on `split`.
pub async fn evaluate(
    model: &Model,
    split: &Tensor<2>,
    labels: &Tensor<1, Int>,
) -> Result<(f64, f64), TrainError> {
    let [n, _] = split.dims();
    if n == 0 {
        return Ok((f64::NAN, f64::NAN));
    }
    let mut loss_sum: Option<Tensor<1>> = None;
    let mut correct: Option<Tensor<1, Int>> = None;
    let mut start = 0;
    while start < n {
        let len = EVAL_CHUNK.min(n - start);
        let x = split.clone().narrow(0, start, len);
        let y = labels.clone().narrow(0, start, len);
        let logits = model.forward(x);
        let loss = cross_entropy(logits.clone(), y.clone()).mul_scalar(len as f64);
        let hits = logits.argmax(1).reshape([len]).equal(y).int().sum();
        loss_sum = Some(match loss_sum {
            Some(s) => s + loss,
            None => loss,
        });
        correct = Some(match correct {
            Some(c) => c + hits,
            None => hits,
        });
        start += len;
    }
    let (Some(loss_sum), Some(correct)) = (loss_sum, correct) else {
        return Ok((f64::NAN, f64::NAN));
    };
    let v = read_f32(Tensor::cat(vec![loss_sum, correct.float()], 0)).await?;
    Ok((f64::from(v[0]) / n as f64, f64::from(v[1]) / n as f64))
}

/// Trains trial `number` of `study` (RUNNING, with `plan` resolved from its parameters) on
/// `data`, then tells the study how it ended.
///
/// Records `train/loss` per step and `val/loss`, `val/accuracy` per epoch with
/// [`Study::log_metric`], reports `objective` each epoch and stops as PRUNED when the pruner
/// says so. A non-finite loss ends the trial as FAIL with the reason in the `fail_reason`
/// user attribute; so does cancellation (with `interrupted` set as well). Errors are
/// returned only for problems outside the trial (the study, the device).
#[allow(clippy::too_many_arguments)]
pub async fn train_trial<H: TrainHooks>(
    study: &mut Study,
    number: u64,
    plan: &TrialPlan,
    data: &DataSet,
    device: &Device,
    objective: Objective,
    hooks: &mut H,
    cancel: &CancelToken,
) -> Result<TrialOutcome, TrainError> {
    if let Some(text) = &data.text {
        return super::lm::trial::train_lm_trial(
            study, number, plan, text, device, objective, hooks, cancel,
        )
        .await;
    }
    if plan.model.is_lm() {
        return Err(TrainError::Config(format!(
            "the {} model fine-tunes the language model on a text data set; use dataset: devils-dictionary",
            plan.model.kind()
        )));
    }
    // The trial's model, optimiser state and device tensors live in this block: dropped
    // before the device's memory is given back.
    let outcome: Result<TrialOutcome, TrainError> = async {
        if data.train.is_empty() {
            return Err(TrainError::Data(format!(
                "data set `{}` has no training samples",
                data.name
            )));
        }
        let ad = device.clone().autodiff();
        ad.seed(plan.seed);
        let mut model = plan.model.build(data.shape, data.classes, &ad)?;
        let mut optim = build_optimizer(plan);
        let train = DeviceSplit::upload(&data.train, device);
        let valid = DeviceSplit::upload(&data.valid, device);
        let n = train.len;
        let batch = plan.batch_size.min(n);
        let steps_per_epoch = n.div_ceil(batch);
        // Read the losses back about four times per epoch, in one transfer each time.
        let read_every = (steps_per_epoch / 4).clamp(1, 64);
        let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x5eed_1dea);
        let mut order: Vec<i64> = (0..n as i64).collect();

        hooks.progress(&ProgressEvent::TrialStart {
            trial: number,
            epochs: plan.epochs,
            steps_per_epoch,
        });
        let started = Instant::now();
        let mut trained_samples = 0usize;
        let mut global_step: u64 = 0;
        let mut last_loss: Option<f64> = None;
        let mut value = None;
        let histograms = hooks.wants_histograms();
        let mut last_gradients: Option<ParamValues> = None;
        let outcome =
            |state, value, epochs, fail_reason: Option<String>, cancelled, samples: usize| {
                let secs = started.elapsed().as_secs_f64();
                TrialOutcome {
                    state,
                    value,
                    epochs,
                    fail_reason,
                    cancelled,
                    samples_per_sec: if secs > 0.0 {
                        samples as f64 / secs
                    } else {
                        0.0
                    },
                }
            };
        // A non-finite loss or metric: FAIL, with no value and the reason.
        let diverged = |epochs, reason: String, samples| {
            outcome(TrialState::Fail, None, epochs, Some(reason), false, samples)
        };

        for epoch in 1..=plan.epochs {
            let epoch_started = Instant::now();
            let record = histograms && records_epoch(epoch, plan.epochs);
            shuffle(&mut order, &mut rng);
            let perm: Tensor<1, Int> =
                Tensor::from_data(TensorData::new(order.clone(), [n]), device);
            let mut pending: Vec<Tensor<1>> = Vec::with_capacity(read_every);
            let mut pending_first_step = global_step + 1;
            let mut epoch_loss_sum = 0.0;
            let mut epoch_loss_count = 0usize;
            for s in 0..steps_per_epoch {
                // Pause, and the page's watching speed, wait before the step: the throughput
                // reported after it then counts the wait (after it, a trial's first step would
                // report its bare speed).
                hooks.yield_now().await;
                if cancel.is_cancelled() {
                    return Ok(outcome(
                        TrialState::Fail,
                        value,
                        epoch - 1,
                        Some("cancelled".into()),
                        true,
                        trained_samples,
                    ));
                }
                let start = s * batch;
                let len = batch.min(n - start);
                let idx = perm.clone().narrow(0, start, len);
                let keep = record && s + 1 == steps_per_epoch;
                let (next, loss, gradients) =
                    train_step(model, &mut optim, &train, idx, plan.lr, keep);
                model = next;
                if gradients.is_some() {
                    last_gradients = gradients;
                }
                pending.push(loss);
                global_step += 1;
                trained_samples += len;

                if pending.len() >= read_every || s + 1 == steps_per_epoch {
                    let losses = read_f32(Tensor::cat(std::mem::take(&mut pending), 0)).await?;
                    for (i, l) in losses.iter().enumerate() {
                        let l = f64::from(*l);
                        let step = pending_first_step + i as u64;
                        if !l.is_finite() {
                            let reason = diverged_loss(l, step, epoch, plan.lr);
                            return Ok(diverged(epoch, reason, trained_samples));
                        }
                        study.log_metric(number, "train/loss", step as i64, l)?;
                        epoch_loss_sum += l;
                        epoch_loss_count += 1;
                        last_loss = Some(l);
                    }
                    pending_first_step = global_step + 1;
                }
                let secs = started.elapsed().as_secs_f64();
                hooks.progress(&ProgressEvent::Step {
                    trial: number,
                    epoch,
                    epoch_step: s + 1,
                    steps_per_epoch,
                    step: global_step,
                    loss: last_loss,
                    samples_per_sec: if secs > 0.0 {
                        trained_samples as f64 / secs
                    } else {
                        0.0
                    },
                });
            }
            let epoch_secs = epoch_started.elapsed().as_secs_f64();
            let train_loss = epoch_loss_sum / epoch_loss_count.max(1) as f64;

            let eval_model = model.valid();
            let (val_loss, val_accuracy) = evaluate(&eval_model, &valid.x, &valid.y).await?;
            let step = epoch as i64;
            study.log_metric(number, "val/loss", step, val_loss)?;
            study.log_metric(number, "val/accuracy", step, val_accuracy)?;
            let v = match objective {
                Objective::ValLoss => val_loss,
                Objective::ValAccuracy => val_accuracy,
                Objective::TrainLoss => train_loss,
            };
            hooks.progress(&ProgressEvent::Epoch {
                trial: number,
                epoch,
                epochs: plan.epochs,
                train_loss,
                val_loss,
                val_accuracy,
                value: v,
                samples_per_sec: if epoch_secs > 0.0 {
                    n as f64 / epoch_secs
                } else {
                    0.0
                },
            });
            hooks.epoch_end(number, epoch, &eval_model).await;
            drop(eval_model);
            if record {
                let h = epoch_histograms(weights_of(&model), last_gradients.take()).await?;
                study.log_histograms(number, step, &h)?;
            }
            log_system_metrics(study, number, step, hooks)?;
            if !v.is_finite() {
                let reason = format!(
                    "{} became {v} at epoch {epoch}; the learning rate {} may be too high",
                    objective.series(),
                    plan.lr
                );
                return Ok(diverged(epoch, reason, trained_samples));
            }
            value = Some(v);
            study.report(number, step, v)?;
            if study.should_prune(number)? {
                return Ok(outcome(
                    TrialState::Pruned,
                    value,
                    epoch,
                    None,
                    false,
                    trained_samples,
                ));
            }
        }
        Ok(outcome(
            TrialState::Complete,
            value,
            plan.epochs,
            None,
            false,
            trained_samples,
        ))
    }
    .await;
    device.memory_cleanup();
    tell_outcome(study, number, outcome?, hooks)
}

/// Ends trial `number` as `outcome` says: sets `fail_reason` / `interrupted`, tells the
/// study, and reports [`ProgressEvent::TrialEnd`]. Returns the outcome with the state the
/// study recorded (a NaN value becomes FAIL, and then carries no value). Shared by
/// [`train_trial`] and the fused engine.
pub(crate) fn tell_outcome<H: TrainHooks>(
    study: &mut Study,
    number: u64,
    outcome: TrialOutcome,
    hooks: &mut H,
) -> Result<TrialOutcome, TrainError> {
    if let Some(reason) = &outcome.fail_reason {
        study.set_user_attr(number, FAIL_REASON_ATTR, Json::Str(reason.clone()))?;
    }
    if outcome.cancelled {
        study.set_user_attr(number, INTERRUPTED_ATTR, Json::Bool(true))?;
    }
    let result = match outcome.state {
        TrialState::Complete => TellResult::Values(vec![outcome.value.unwrap_or(f64::NAN)]),
        TrialState::Pruned => TellResult::Pruned,
        _ => TellResult::Fail,
    };
    let state = study.tell(number, result)?;
    let value = if state == TrialState::Fail {
        None
    } else {
        outcome.value
    };
    hooks.progress(&ProgressEvent::TrialEnd {
        trial: number,
        state,
        value,
    });
    Ok(TrialOutcome {
        state,
        value,
        ..outcome
    })
}
