//! One trial of a language-model study: the pretrained base loaded from its file (checksum
//! checked), LoRA adapters added (or every weight trained), `steps` optimiser steps on random
//! windows of the corpus in `epochs` evaluation rounds, each ending with the validation loss
//! (reported to the pruner), the next-byte accuracy and a text sample from a fixed prompt.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use web_time::Instant;

use super::train::random_starts;
use super::weights::{load_base, save_adapter};
use super::{TinyLm, generate, windows};
use crate::histogram::records_epoch;
use crate::json::Json;
use crate::study::Study;
use crate::train::TrainError;
use crate::train::data::TextSet;
use crate::train::histograms::{ParamValues, epoch_histograms, gradients_of, weights_of};
use crate::train::trainer::{
    CancelToken, TrainHooks, TrialOutcome, build_optimizer, diverged_loss, log_system_metrics,
    read_f32, tell_outcome,
};
use crate::trial::TrialState;
use crate::vocab::{ModelSpec, Objective, ProgressEvent, TrialPlan};

pub use crate::trial::TEXT_SAMPLES_ATTR;
/// The trial's user attribute holding the bytes its base's weights take as held (f32, or
/// quantized with `base_quant`).
pub const BASE_MEMORY_ATTR: &str = "base_memory_bytes";
/// The trial's user attribute holding its number of trained parameters.
pub const TRAINABLE_PARAMS_ATTR: &str = "trainable_params";
/// Bytes each text sample writes after the prompt.
pub const SAMPLE_BYTES: usize = 80;
/// Sampling temperature of the text samples.
pub const SAMPLE_TEMPERATURE: f64 = 0.7;
/// Training steps between two read-backs of their losses.
pub const READ_EVERY: usize = 16;
/// Validation windows each evaluation reads (evenly spread, the same every time).
pub const EVAL_WINDOWS: usize = 96;

/// The values of one-element loss tensors, in one read-back.
async fn read_losses(losses: Vec<Tensor<1>>) -> Result<Vec<f64>, TrainError> {
    Ok(read_f32(Tensor::cat(losses, 0))
        .await?
        .into_iter()
        .map(f64::from)
        .collect())
}

/// The mean loss and next-byte accuracy of `model` over up to `max_windows` fixed windows
/// of `tokens`.
pub async fn evaluate_lm(
    model: &TinyLm,
    tokens: &[i64],
    max_windows: usize,
    device: &Device,
) -> Result<(f64, f64), TrainError> {
    let len = model.context();
    let room = tokens.len().saturating_sub(len + 1);
    let count = max_windows.min(room / len + 1).max(1);
    let starts: Vec<usize> = (0..count).map(|i| i * room / count).collect();
    let mut parts = Vec::new();
    for chunk in starts.chunks(32) {
        let batch = windows(tokens, chunk, len, device);
        let [b, t1] = batch.dims();
        let t = t1 - 1;
        let input = batch.clone().narrow(1, 0, t);
        let target = batch.narrow(1, 1, t).reshape([b * t]);
        let logits = model.forward(input).reshape([b * t, super::VOCAB]);
        let loss = super::next_byte_loss(logits.clone(), target.clone());
        let hits = logits
            .argmax(1)
            .reshape([b * t])
            .equal(target)
            .float()
            .mean();
        parts.push(Tensor::cat(
            vec![loss.mul_scalar(b as f64), hits.mul_scalar(b as f64)],
            0,
        ));
    }
    let sums = Tensor::stack::<2>(parts, 0).sum_dim(0).reshape([2]);
    let v = read_f32(sums).await?;
    let n = count as f64;
    Ok((f64::from(v[0]) / n, f64::from(v[1]) / n))
}

/// A trial's model on the autodiff device `ad` (seeded with `seed`): the base loaded from
/// its file (checksum checked), with `lora`'s adapters or every weight trainable, the base
/// quantized as `quant` says.
fn trial_model(
    seed: u64,
    lora: Option<&crate::vocab::LoraSettings>,
    quant: Option<crate::vocab::BaseQuant>,
    text: &TextSet,
    ad: &Device,
) -> Result<TinyLm, TrainError> {
    ad.seed(seed);
    let (base, _, _) = load_base(&text.base, "the base weights", Some(&text.base_sha256), ad)?;
    let model = match lora {
        Some(l) => base.with_lora(l, ad)?,
        None => base,
    };
    match quant {
        Some(q) => model.quantize_base(q),
        None => Ok(model),
    }
}

/// What [`lm_steps`] measured: predicted bytes per second, the timed steps' seconds and
/// their losses.
#[derive(Clone, Debug, PartialEq)]
pub struct LmSteps {
    /// Predicted bytes (tokens) per second over the timed steps.
    pub tokens_per_sec: f64,
    /// Seconds of the timed steps, from the first to the last loss read back.
    pub seconds: f64,
    /// Each timed step's loss (nats per byte).
    pub losses: Vec<f64>,
}

/// Trains `plan`'s model on `text` for `warmup` untimed steps, then `steps` timed ones
/// (their losses read back once, at the end); returns the trained model and what was
/// measured. The trial's own step: the shipped base (with the plan's adapters and base
/// precision), random windows of the training split, burn autodiff and the plan's optimiser.
pub async fn lm_steps(
    plan: &TrialPlan,
    text: &TextSet,
    device: &Device,
    warmup: usize,
    steps: usize,
) -> Result<(TinyLm, LmSteps), TrainError> {
    let ModelSpec::Lm { lora, quant, .. } = &plan.model else {
        return Err(TrainError::Config("not a language-model plan".into()));
    };
    let ad = device.clone().autodiff();
    let model = trial_model(plan.seed, lora.as_ref(), *quant, text, &ad)?;
    let mut optim = build_optimizer(plan);
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let (len, batch) = (model.context(), plan.batch_size.max(1));
    // Moved into each step and back, so that the optimiser holds the only copy.
    let mut held = Some(model);
    let (losses, seconds) = timed_steps(warmup, steps, || {
        let model = held
            .take()
            .ok_or_else(|| TrainError::Config("the model was lost in a step".into()))?;
        let starts = random_starts(&mut rng, text.corpus.train.len(), len, batch);
        let (loss, grads) = model.loss_and_grads(windows(&text.corpus.train, &starts, len, &ad));
        held = Some(optim.step(plan.lr, model, grads));
        Ok(loss)
    })
    .await?;
    let model = held.ok_or_else(|| TrainError::Config("the model was lost in a step".into()))?;
    let tokens_per_sec = (steps.max(1) * batch * len) as f64 / seconds;
    Ok((
        model,
        LmSteps {
            tokens_per_sec,
            seconds,
            losses: losses.into_iter().map(f64::from).collect(),
        },
    ))
}

/// Runs `step` `warmup` times untimed, then `steps` (at least 1) timed; returns the timed
/// steps' loss tensors' values, read back once at the end, in order, and their seconds.
/// The warm-up's losses are read back before the clock starts, so that its queued work
/// (on a GPU) is not timed.
pub(super) async fn timed_steps(
    warmup: usize,
    steps: usize,
    mut step: impl FnMut() -> Result<Tensor<1>, TrainError>,
) -> Result<(Vec<f32>, f64), TrainError> {
    let mut started = Instant::now();
    let mut losses = Vec::new();
    for i in 0..warmup + steps.max(1) {
        if i == warmup {
            if !losses.is_empty() {
                read_f32(Tensor::cat(std::mem::take(&mut losses), 0).sum()).await?;
            }
            started = Instant::now();
        }
        losses.push(step()?);
    }
    let values = read_f32(Tensor::cat(losses, 0)).await?;
    Ok((values, started.elapsed().as_secs_f64().max(1e-9)))
}

/// The training throughput of `plan` on `text`, in predicted bytes per second ([`lm_steps`]:
/// `warmup` steps, then `steps` timed ones). With the seconds one epoch of the plan takes,
/// evaluation and text sample included (each about as costly as a step).
pub async fn measure_lm(
    plan: &TrialPlan,
    text: &TextSet,
    device: &Device,
    warmup: usize,
    steps: usize,
) -> Result<(f64, f64), TrainError> {
    let ModelSpec::Lm {
        steps: plan_steps, ..
    } = &plan.model
    else {
        return Err(TrainError::Config("not a language-model plan".into()));
    };
    let (model, measured) = lm_steps(plan, text, device, warmup, steps).await?;
    let per_step = measured.seconds / steps.max(1) as f64;
    let epochs = plan.epochs.min(*plan_steps).max(1);
    // An evaluation and a text sample, timed on a part of each and scaled: a third of the
    // validation windows, and 8 of the sample's bytes.
    let eval = model.valid();
    let t = Instant::now();
    evaluate_lm(&eval, &text.corpus.valid, EVAL_WINDOWS / 3, device).await?;
    let eval_secs = t.elapsed().as_secs_f64() * 3.0;
    let t = Instant::now();
    generate(&eval, &text.prompt, 8, SAMPLE_TEMPERATURE, 0, device).await?;
    let sample_secs = t.elapsed().as_secs_f64() * SAMPLE_BYTES as f64 / 8.0;
    let secs_per_epoch = per_step * plan_steps.div_ceil(epochs) as f64 + eval_secs + sample_secs;
    Ok((measured.tokens_per_sec, secs_per_epoch))
}

/// Where a language-model trial is at the end of an epoch, for [`end_lm_epoch`].
pub(super) struct EpochEnd {
    /// The trial's number.
    pub number: u64,
    /// The epoch that ended (from 1), of `epochs`.
    pub epoch: usize,
    pub epochs: usize,
    /// The epoch's mean training loss.
    pub train_loss: f64,
    /// Tokens the epoch trained, in `secs` seconds.
    pub tokens: usize,
    pub secs: f64,
    /// The trial's seed (its text samples' seed with the epoch) and learning rate.
    pub seed: u64,
    pub lr: f64,
}

/// The end of a language-model trial's epoch, alone or in a stack: `model` (its evaluation
/// form) evaluated (`val/loss`, `val/accuracy` logged), the epoch's progress event, and, when
/// the study's metric is finite, a text sample from the prompt, kept in `samples` and the
/// trial's [`TEXT_SAMPLES_ATTR`] and posted. Returns the metric's value, or why the trial
/// fails (a value that is not finite).
#[allow(clippy::too_many_arguments)]
pub(super) async fn end_lm_epoch<H: TrainHooks>(
    study: &mut Study,
    e: &EpochEnd,
    model: &TinyLm,
    text: &TextSet,
    device: &Device,
    objective: Objective,
    samples: &mut Vec<Json>,
    hooks: &mut H,
) -> Result<Result<f64, String>, TrainError> {
    let (number, epoch) = (e.number, e.epoch);
    let (val_loss, val_accuracy) =
        evaluate_lm(model, &text.corpus.valid, EVAL_WINDOWS, device).await?;
    let at = epoch as i64;
    study.log_metric(number, "val/loss", at, val_loss)?;
    study.log_metric(number, "val/accuracy", at, val_accuracy)?;
    let v = match objective {
        Objective::ValLoss => val_loss,
        Objective::ValAccuracy => val_accuracy,
        Objective::TrainLoss => e.train_loss,
    };
    hooks.progress(&ProgressEvent::Epoch {
        trial: number,
        epoch,
        epochs: e.epochs,
        train_loss: e.train_loss,
        val_loss,
        val_accuracy,
        value: v,
        samples_per_sec: if e.secs > 0.0 {
            e.tokens as f64 / e.secs
        } else {
            0.0
        },
    });
    if !(v.is_finite() && e.train_loss.is_finite()) {
        return Ok(Err(format!(
            "{} became {v} at epoch {epoch}; the learning rate {} may be too high",
            objective.series(),
            e.lr
        )));
    }
    let sample = generate(
        model,
        &text.prompt,
        SAMPLE_BYTES,
        SAMPLE_TEMPERATURE,
        e.seed ^ epoch as u64,
        device,
    )
    .await?;
    samples.push(Json::Object(vec![
        ("epoch".into(), Json::Int(epoch as i64)),
        ("prompt".into(), Json::Str(text.prompt.clone())),
        ("text".into(), Json::Str(sample.clone())),
    ]));
    study.set_user_attr(number, TEXT_SAMPLES_ATTR, Json::Array(samples.clone()))?;
    hooks.progress(&ProgressEvent::TextSample {
        trial: number,
        epoch,
        prompt: text.prompt.clone(),
        text: sample,
    });
    Ok(Ok(v))
}

/// Trains trial `number` as `plan` says on the text set `text`; see the module's text.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn train_lm_trial<H: TrainHooks>(
    study: &mut Study,
    number: u64,
    plan: &TrialPlan,
    text: &TextSet,
    device: &Device,
    objective: Objective,
    hooks: &mut H,
    cancel: &CancelToken,
) -> Result<TrialOutcome, TrainError> {
    let ModelSpec::Lm { lora, steps, quant } = &plan.model else {
        return Err(TrainError::Config(format!(
            "the {} model does not train on a text data set; use model: lora or finetune",
            plan.model.kind()
        )));
    };
    let outcome: Result<TrialOutcome, TrainError> = async {
        let ad = device.clone().autodiff();
        let mut model = trial_model(plan.seed, lora.as_ref(), *quant, text, &ad)?;
        study.set_user_attr(
            number,
            BASE_MEMORY_ATTR,
            Json::Int(model.base_bytes() as i64),
        )?;
        study.set_user_attr(
            number,
            TRAINABLE_PARAMS_ATTR,
            Json::Int(model.trainable_params() as i64),
        )?;
        let mut optim = build_optimizer(plan);
        let corpus = &text.corpus;
        let len = model.context();
        let batch = plan.batch_size.max(1);
        let epochs = plan.epochs.min(*steps).max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x7e47_5a3e);
        hooks.progress(&ProgressEvent::TrialStart {
            trial: number,
            epochs,
            steps_per_epoch: steps.div_ceil(epochs),
        });
        let started = Instant::now();
        let mut trained = 0usize;
        let mut step = 0usize;
        let mut value = None;
        let mut samples: Vec<Json> = Vec::new();
        let histograms = hooks.wants_histograms();
        let mut last_gradients: Option<ParamValues> = None;
        // How the trial ends when nothing fails: COMPLETE after every epoch, or PRUNED.
        let mut end = (TrialState::Complete, epochs);
        let done = |state, value, epochs, why: Option<String>, cancelled, trained: usize| {
            let secs = started.elapsed().as_secs_f64();
            TrialOutcome {
                state,
                value,
                epochs,
                fail_reason: why,
                cancelled,
                // Tokens (predicted bytes) per second.
                samples_per_sec: if secs > 0.0 {
                    trained as f64 / secs
                } else {
                    0.0
                },
            }
        };
        // A non-finite loss or metric: FAIL at `epoch`, with no value and the reason.
        let failed = |epoch, why: String, trained| {
            done(TrialState::Fail, None, epoch, Some(why), false, trained)
        };
        for epoch in 1..=epochs {
            let epoch_started = Instant::now();
            let record = histograms && records_epoch(epoch, epochs);
            let until = steps * epoch / epochs;
            let first = step;
            // Losses are read back every READ_EVERY steps: the device's queue stays short
            // (a GPU, a software one above all, runs far behind the steps queued), each is
            // logged, and the live curve and a diverging loss show as they happen.
            let mut pending = Vec::with_capacity(READ_EVERY);
            let (mut sum, mut count) = (0.0, 0usize);
            let mut last = None;
            while step < until {
                // Before the step, as the classifier's loop does: the reported throughput
                // then counts a watching speed's wait.
                hooks.yield_now().await;
                if cancel.is_cancelled() {
                    return Ok(done(
                        TrialState::Fail,
                        value,
                        epoch - 1,
                        Some("cancelled".into()),
                        true,
                        trained,
                    ));
                }
                let starts = random_starts(&mut rng, corpus.train.len(), len, batch);
                let (loss, grads) = model.loss_and_grads(windows(&corpus.train, &starts, len, &ad));
                pending.push(loss);
                if record && step + 1 == until {
                    last_gradients = Some(gradients_of(&model, &grads));
                }
                model = optim.step(plan.lr, model, grads);
                step += 1;
                trained += batch * len;
                if pending.len() >= READ_EVERY || step == until {
                    let from = step - pending.len();
                    let read = read_losses(std::mem::take(&mut pending)).await?;
                    for (i, l) in read.into_iter().enumerate() {
                        let at = from + i + 1;
                        if !l.is_finite() {
                            return Ok(failed(
                                epoch,
                                diverged_loss(l, at, epoch, plan.lr),
                                trained,
                            ));
                        }
                        study.log_metric(number, "train/loss", at as i64, l)?;
                        sum += l;
                        count += 1;
                        last = Some(l);
                    }
                }
                hooks.progress(&ProgressEvent::Step {
                    trial: number,
                    epoch,
                    epoch_step: step - first,
                    steps_per_epoch: until - first,
                    step: step as u64,
                    loss: last,
                    samples_per_sec: trained as f64 / started.elapsed().as_secs_f64().max(1e-9),
                });
            }
            let train_loss = sum / count.max(1) as f64;
            let eval = model.valid();
            let epoch_end = EpochEnd {
                number,
                epoch,
                epochs,
                train_loss,
                tokens: (until - first) * batch * len,
                secs: epoch_started.elapsed().as_secs_f64(),
                seed: plan.seed,
                lr: plan.lr,
            };
            let v = match end_lm_epoch(
                study,
                &epoch_end,
                &eval,
                text,
                device,
                objective,
                &mut samples,
                hooks,
            )
            .await?
            {
                Ok(v) => v,
                Err(reason) => return Ok(failed(epoch, reason, trained)),
            };
            let at = epoch as i64;
            drop(eval);
            if record {
                let h = epoch_histograms(weights_of(&model), last_gradients.take()).await?;
                study.log_histograms(number, at, &h)?;
            }
            log_system_metrics(study, number, at, hooks)?;
            value = Some(v);
            study.report(number, at, v)?;
            if study.should_prune(number)? {
                end = (TrialState::Pruned, epoch);
                break;
            }
        }
        if let Some(l) = lora
            && hooks.wants_lm_adapter()
        {
            let (bytes, json) = save_adapter(&model.valid(), l, &text.base_sha256).await?;
            hooks.lm_adapter(number, &bytes, &json);
        }
        Ok(done(end.0, value, end.1, None, false, trained))
    }
    .await;
    device.memory_cleanup();
    tell_outcome(study, number, outcome?, hooks)
}
