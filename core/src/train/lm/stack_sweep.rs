//! A study's LoRA trials trained K at a time over one frozen base: the study loop's stack
//! engine ([`Engine::Stack`](crate::train::runner::Engine::Stack)).
//!
//! A [`StackSweep`] keeps up to K running trials in the slots of one [`LoraStack`]. Every
//! step trains each of them one optimiser step on its own windows (drawn from the trial's
//! seed as a trial alone draws them); a trial whose epoch ends is evaluated, samples its
//! text, reports to the pruner and goes on, is pruned, or completes, as
//! [`super::trial::train_lm_trial`] does for a trial alone. A finished trial's slot takes
//! the study's next trial; when no trial is left to take it, the stack drops the slot.
//!
//! What differs from a trial alone: its adapter dropout masks come from the stack's draws
//! (so with dropout a trial's numbers depend on the trials beside it; without, it trains as
//! alone, to float rounding), and no weight or gradient histograms are recorded.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use web_time::Instant;

use super::stack::{LoraStack, StackTrial, stack_trial};
use super::train::random_starts;
use super::trial::{BASE_MEMORY_ATTR, EpochEnd, READ_EVERY, TRAINABLE_PARAMS_ATTR, end_lm_epoch};
use super::weights::save_adapter;
use super::windows;
use crate::distributions::ParamValue;
use crate::json::Json;
use crate::study::Study;
use crate::train::TrainError;
use crate::train::data::TextSet;
use crate::train::runner::TrialEnd;
use crate::train::trainer::{
    CancelToken, TrainHooks, TrialOutcome, diverged_loss, log_system_metrics, read_f32,
    tell_outcome,
};
use crate::trial::TrialState;
use crate::vocab::{LoraSettings, ModelSpec, Objective, ProgressEvent, TrialPlan};

/// What every trial of a stack shares, from the search space
/// ([`SweepSpec::stack_room`](crate::train::runner::SweepSpec::stack_room)). Ranks and
/// targets may differ: the stack grows to the largest rank and widest targets of the trials
/// it holds ([`LoraStack::make_room`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StackRoom {
    /// The batch size every trial has.
    pub batch: usize,
}

/// One running trial in a slot of the stack.
#[derive(Debug)]
struct Slot {
    number: u64,
    params: BTreeMap<String, ParamValue>,
    plan: TrialPlan,
    lora: LoraSettings,
    /// Its optimiser steps in all, and its evaluation rounds.
    steps: usize,
    epochs: usize,
    /// The epoch it trains (from 1), the steps it took, and the step its epoch ends at.
    epoch: usize,
    step: usize,
    first: usize,
    until: usize,
    /// Its windows' random numbers, seeded as a trial alone seeds them.
    rng: ChaCha8Rng,
    /// This epoch's read-back losses: sum, count; the last one.
    sum: f64,
    count: usize,
    last: Option<f64>,
    started: Instant,
    epoch_started: Instant,
    /// Tokens trained.
    trained: usize,
    samples: Vec<Json>,
    value: Option<f64>,
    /// Why it failed (a non-finite loss), to end it after this step's read-back.
    failed: Option<String>,
}

impl Slot {
    /// How the trial ends: `state` after `epochs` epochs, with its last value unless a
    /// non-finite loss failed it.
    fn outcome(
        &self,
        state: TrialState,
        epochs: usize,
        why: Option<String>,
        cancelled: bool,
    ) -> TrialOutcome {
        let secs = self.started.elapsed().as_secs_f64();
        TrialOutcome {
            state,
            value: if state == TrialState::Fail && !cancelled {
                None
            } else {
                self.value
            },
            epochs,
            fail_reason: why,
            cancelled,
            // Tokens (predicted bytes) per second.
            samples_per_sec: if secs > 0.0 {
                self.trained as f64 / secs
            } else {
                0.0
            },
        }
    }
}

/// A study's LoRA trials, up to K at a time in one [`LoraStack`] (see the module's text).
pub struct StackSweep {
    /// K: the trials trained at once.
    slots: usize,
    room: StackRoom,
    /// The autodiff device.
    ad: Device,
    stack: Option<LoraStack>,
    /// The trial in each slot of the stack (`None`: its trial ended).
    running: Vec<Option<Slot>>,
    /// Trials admitted while there is no stack, to start one with.
    waiting: Vec<(Slot, StackTrial)>,
    /// The base the stack is built over (the first admitted trial's load).
    base: Option<super::TinyLm>,
    /// Each step's `[K]` losses not read back yet.
    pending: Vec<Tensor<1>>,
}

impl std::fmt::Debug for StackSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackSweep")
            .field("slots", &self.slots)
            .field("room", &self.room)
            .field("running", &self.running_trials())
            .finish_non_exhaustive()
    }
}

impl StackSweep {
    /// A sweep of up to `slots` trials at once (at least 1) on `device` (without autodiff),
    /// with room for every trial of the search space (`room`).
    pub fn new(room: StackRoom, device: &Device, slots: usize) -> StackSweep {
        StackSweep {
            slots: slots.max(1),
            room,
            ad: device.clone().autodiff(),
            stack: None,
            running: Vec::new(),
            waiting: Vec::new(),
            base: None,
            pending: Vec::new(),
        }
    }

    /// How many more trials the sweep takes now: free slots of the stack, or, before there
    /// is one, K less the trials waiting for it.
    pub fn free_slots(&self) -> usize {
        match &self.stack {
            Some(_) => self.running.iter().filter(|s| s.is_none()).count(),
            None => self.slots.saturating_sub(self.waiting.len()),
        }
    }

    /// The numbers of the running trials (and of those waiting for the stack).
    pub fn running_trials(&self) -> Vec<u64> {
        self.running
            .iter()
            .flatten()
            .map(|s| s.number)
            .chain(self.waiting.iter().map(|(s, _)| s.number))
            .collect()
    }

    /// Takes trial `number` (its `params` and `plan`) into a free slot: its model made as a
    /// trial alone makes it, its base's memory and trainable parameters recorded.
    pub fn admit(
        &mut self,
        study: &mut Study,
        number: u64,
        params: BTreeMap<String, ParamValue>,
        plan: TrialPlan,
        text: &TextSet,
        hooks: &mut impl TrainHooks,
    ) -> Result<(), TrainError> {
        let ModelSpec::Lm {
            lora: Some(lora),
            steps,
            ..
        } = &plan.model
        else {
            return Err(TrainError::Config(format!(
                "trial {number}: the stack engine trains LoRA trials only"
            )));
        };
        if plan.batch_size.max(1) != self.room.batch {
            return Err(TrainError::Config(format!(
                "trial {number}: the stack's trials train on batches of {}, not {}",
                self.room.batch, plan.batch_size
            )));
        }
        let (base, trial) = stack_trial(&plan, text, &self.ad)
            .map_err(|e| TrainError::Config(format!("trial {number}: {e}")))?;
        study.set_user_attr(
            number,
            BASE_MEMORY_ATTR,
            Json::Int(trial.model.base_bytes() as i64),
        )?;
        study.set_user_attr(
            number,
            TRAINABLE_PARAMS_ATTR,
            Json::Int(trial.model.trainable_params() as i64),
        )?;
        let epochs = plan.epochs.min(*steps).max(1);
        hooks.progress(&ProgressEvent::TrialStart {
            trial: number,
            epochs,
            steps_per_epoch: steps.div_ceil(epochs),
        });
        let slot = Slot {
            number,
            params,
            lora: *lora,
            steps: *steps,
            epochs,
            epoch: 1,
            step: 0,
            first: 0,
            until: steps / epochs,
            rng: ChaCha8Rng::seed_from_u64(plan.seed ^ 0x7e47_5a3e),
            sum: 0.0,
            count: 0,
            last: None,
            started: Instant::now(),
            epoch_started: Instant::now(),
            trained: 0,
            samples: Vec::new(),
            value: None,
            failed: None,
            plan,
        };
        self.base.get_or_insert(base);
        match (
            &mut self.stack,
            self.running.iter().position(Option::is_none),
        ) {
            (Some(stack), Some(k)) => {
                stack.make_room(trial.lora.r, trial.lora.targets);
                stack.replace(k, &trial)?;
                self.running[k] = Some(slot);
            }
            (Some(_), None) => {
                return Err(TrainError::Config(format!(
                    "trial {number}: every slot of the stack is taken"
                )));
            }
            (None, _) => self.waiting.push((slot, trial)),
        }
        Ok(())
    }

    /// After the free slots were filled: starts the stack with the waiting trials when there
    /// is none, or drops the slots no trial took.
    pub fn settle(&mut self) -> Result<(), TrainError> {
        if self.stack.is_none() {
            if self.waiting.is_empty() {
                return Ok(());
            }
            let (slots, trials): (Vec<Slot>, Vec<StackTrial>) =
                std::mem::take(&mut self.waiting).into_iter().unzip();
            let base = self
                .base
                .as_ref()
                .ok_or_else(|| TrainError::Config("the stack has no base".into()))?;
            self.stack = Some(LoraStack::new(base, &trials, &self.ad)?);
            self.running = slots.into_iter().map(Some).collect();
            return Ok(());
        }
        let keep: Vec<usize> = (0..self.running.len())
            .filter(|&k| self.running[k].is_some())
            .collect();
        if keep.len() == self.running.len() {
            return Ok(());
        }
        if keep.is_empty() {
            self.stack = None;
            self.running.clear();
        } else if let Some(stack) = &mut self.stack {
            stack.keep(&keep)?;
            self.running = std::mem::take(&mut self.running)
                .into_iter()
                .flatten()
                .map(Some)
                .collect();
        }
        Ok(())
    }

    /// Ends every running trial as interrupted by a stop (FAIL with `cancelled`), telling the
    /// study; returns them.
    pub fn interrupt(
        &mut self,
        study: &mut Study,
        hooks: &mut impl TrainHooks,
    ) -> Result<Vec<TrialEnd>, TrainError> {
        let slots: Vec<Slot> = self
            .running
            .iter_mut()
            .filter_map(Option::take)
            .chain(
                std::mem::take(&mut self.waiting)
                    .into_iter()
                    .map(|(s, _)| s),
            )
            .collect();
        self.stack = None;
        self.running.clear();
        self.pending.clear();
        slots
            .into_iter()
            .map(|s| {
                let epochs = s.epoch - 1;
                let outcome = s.outcome(TrialState::Fail, epochs, Some("cancelled".into()), true);
                let outcome = tell_outcome(study, s.number, outcome, hooks)?;
                Ok(TrialEnd {
                    number: s.number,
                    params: s.params,
                    outcome,
                })
            })
            .collect()
    }

    /// One optimiser step of every running trial, then the epoch's end of each trial whose
    /// epoch ended (evaluation, text sample, report, pruning). Returns the trials that ended
    /// (told already) and whether any epoch ended (metrics to store).
    pub async fn step<H: TrainHooks>(
        &mut self,
        study: &mut Study,
        text: &TextSet,
        objective: Objective,
        hooks: &mut H,
        cancel: &CancelToken,
    ) -> Result<(Vec<TrialEnd>, bool), TrainError> {
        // Pause, and a watching speed, wait before the step.
        hooks.yield_now().await;
        if cancel.is_cancelled() {
            return Ok((self.interrupt(study, hooks)?, true));
        }
        let Some(stack) = &mut self.stack else {
            return Ok((Vec::new(), false));
        };
        let corpus = &text.corpus;
        let len = self.base.as_ref().map_or(1, super::TinyLm::context);
        let batch = self.room.batch;
        let mut starts = Vec::with_capacity(self.running.len() * batch);
        for slot in self.running.iter_mut().flatten() {
            starts.extend(random_starts(&mut slot.rng, corpus.train.len(), len, batch));
        }
        self.pending
            .push(stack.step(windows(&corpus.train, &starts, len, &self.ad))?);
        let mut epoch_ends = false;
        for slot in self.running.iter_mut().flatten() {
            slot.step += 1;
            slot.trained += batch * len;
            epoch_ends |= slot.step >= slot.until;
        }
        if self.pending.len() >= READ_EVERY || epoch_ends {
            self.read_losses(study).await?;
        }
        for slot in self.running.iter().flatten() {
            hooks.progress(&ProgressEvent::Step {
                trial: slot.number,
                epoch: slot.epoch,
                epoch_step: slot.step - slot.first,
                steps_per_epoch: slot.until - slot.first,
                step: slot.step as u64,
                loss: slot.last,
                samples_per_sec: slot.trained as f64
                    / slot.started.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let mut ended = Vec::new();
        for k in 0..self.running.len() {
            let due = self.running[k]
                .as_ref()
                .is_some_and(|s| s.failed.is_some() || s.step >= s.until);
            if !due {
                continue;
            }
            if let Some(end) = self.end_epoch(k, study, text, objective, hooks).await? {
                ended.push(end);
            }
        }
        Ok((ended, epoch_ends))
    }

    /// Reads the pending steps' losses back, in one transfer, into their trials' sums; logs
    /// each as `train/loss`; marks a trial with a non-finite loss as failed.
    async fn read_losses(&mut self, study: &mut Study) -> Result<(), TrainError> {
        let k = self.running.len();
        let n = self.pending.len();
        if n == 0 || k == 0 {
            self.pending.clear();
            return Ok(());
        }
        let values = read_f32(Tensor::cat(std::mem::take(&mut self.pending), 0)).await?;
        for (j, row) in values.chunks(k).enumerate() {
            for (slot, l) in self.running.iter_mut().zip(row) {
                let Some(slot) = slot.as_mut() else { continue };
                if slot.failed.is_some() {
                    continue;
                }
                // This row's step of the trial: its last step less the rows after it.
                let at = (slot.step + j + 1).saturating_sub(n);
                let l = f64::from(*l);
                if !l.is_finite() {
                    slot.failed = Some(diverged_loss(l, at, slot.epoch, slot.plan.lr));
                    continue;
                }
                study.log_metric(slot.number, "train/loss", at as i64, l)?;
                slot.sum += l;
                slot.count += 1;
                slot.last = Some(l);
            }
        }
        Ok(())
    }

    /// The end of slot `k`'s epoch (or of its trial, when its loss diverged): evaluation,
    /// text sample, report and pruning as a trial alone; returns the trial when it ended.
    async fn end_epoch<H: TrainHooks>(
        &mut self,
        k: usize,
        study: &mut Study,
        text: &TextSet,
        objective: Objective,
        hooks: &mut H,
    ) -> Result<Option<TrialEnd>, TrainError> {
        let Some(stack) = &self.stack else {
            return Ok(None);
        };
        let Some(slot) = self.running[k].as_mut() else {
            return Ok(None);
        };
        let device = self.ad.clone().inner();
        let number = slot.number;
        let mut end: Option<(TrialState, Option<String>)> =
            slot.failed.clone().map(|why| (TrialState::Fail, Some(why)));
        let model = stack.trial_model(k)?;
        if end.is_none() {
            let epoch = slot.epoch;
            let epoch_end = EpochEnd {
                number,
                epoch,
                epochs: slot.epochs,
                train_loss: slot.sum / slot.count.max(1) as f64,
                tokens: (slot.until - slot.first) * self.room.batch * model.context(),
                secs: slot.epoch_started.elapsed().as_secs_f64(),
                seed: slot.plan.seed,
                lr: slot.plan.lr,
            };
            let ended = end_lm_epoch(
                study,
                &epoch_end,
                &model,
                text,
                &device,
                objective,
                &mut slot.samples,
                hooks,
            )
            .await?;
            match ended {
                Err(why) => end = Some((TrialState::Fail, Some(why))),
                Ok(v) => {
                    let at = epoch as i64;
                    log_system_metrics(study, number, at, hooks)?;
                    slot.value = Some(v);
                    study.report(number, at, v)?;
                    if study.should_prune(number)? {
                        end = Some((TrialState::Pruned, None));
                    } else if epoch >= slot.epochs {
                        end = Some((TrialState::Complete, None));
                    } else {
                        slot.epoch += 1;
                        slot.first = slot.step;
                        slot.until = slot.steps * slot.epoch / slot.epochs;
                        slot.sum = 0.0;
                        slot.count = 0;
                        slot.epoch_started = Instant::now();
                    }
                }
            }
        }
        let Some((state, why)) = end else {
            return Ok(None);
        };
        if state != TrialState::Fail && hooks.wants_lm_adapter() {
            let (bytes, json) = save_adapter(&model, &slot.lora, &text.base_sha256).await?;
            hooks.lm_adapter(number, &bytes, &json);
        }
        let Some(slot) = self.running[k].take() else {
            return Ok(None);
        };
        let epochs = if state == TrialState::Complete {
            slot.epochs
        } else {
            slot.epoch
        };
        let outcome = tell_outcome(
            study,
            number,
            slot.outcome(state, epochs, why, false),
            hooks,
        )?;
        Ok(Some(TrialEnd {
            number,
            params: slot.params,
            outcome,
        }))
    }
}
