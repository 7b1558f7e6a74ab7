//! The search side of the fused engine: K trials asked from a study at once, trained together
//! an epoch per round, each one logged, reported to the pruner, pruned, failed or completed on
//! its own, with the trainer's conventions (series names, `fail_reason`, `interrupted`).

use std::collections::BTreeMap;

use web_time::Instant;

use super::super::TrainError;
use super::super::data::DataSet;
use super::super::runner::{RunnerError, TrialEnd, plan_candidates};
use super::super::trainer::{
    CancelToken, ProgressEvent, TrainHooks, TrialOutcome, log_system_metrics, tell_outcome,
};
use super::engine::{FusedEngine, FusedRun, SlotEpoch};
use super::layout::{check_data, check_plan};
use crate::distributions::{ParamValue, SearchSpace};
use crate::histogram::{BINS, Histogram, gradients_tag, weights_tag};
use crate::json::Json;
use crate::study::Study;
use crate::trial::TrialState;
use crate::vocab::{Objective, TrialPlan};

/// How a fused sweep runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedSweepOptions {
    /// Trials trained at once (K, one workgroup each).
    pub slots: usize,
    /// Trials to start in all (each `ask`ed from the study).
    pub n_trials: usize,
    /// The metric reported to the pruner and told to the study.
    pub objective: Objective,
    /// Whether a slot freed by a pruned, failed or finished trial takes the next trial at
    /// the next round (true), or stays idle until every slot is free and a new wave of K
    /// trials starts (false).
    pub refill: bool,
}

impl FusedSweepOptions {
    /// The default number of slots for `n_trials` trials still to run: a quarter of them,
    /// 4 to 32, and never more than there are trials, so that TPE still learns from
    /// finished trials while many train at once (its constant liar keeps parallel asks
    /// sound).
    pub fn default_slots(n_trials: usize) -> usize {
        (n_trials / 4).clamp(4, 32).min(n_trials.max(1))
    }
}

impl Default for FusedSweepOptions {
    /// 64 trials, [`default_slots`](Self::default_slots) of them (16) at once, minimising the
    /// validation loss, with freed slots refilled.
    fn default() -> Self {
        let n_trials = 64;
        FusedSweepOptions {
            slots: Self::default_slots(n_trials),
            n_trials,
            objective: Objective::ValLoss,
            refill: true,
        }
    }
}

/// A trial in a slot.
#[derive(Clone, Debug)]
struct Running {
    number: u64,
    params: BTreeMap<String, ParamValue>,
    plan: TrialPlan,
    value: Option<f64>,
    started: Instant,
    samples: usize,
    epochs: usize,
}

/// The closure that turns a trial's number and sampled parameters into its plan (the
/// study loop resolves the sweep's model and settings with
/// [`SweepSpec::plan`](super::super::runner::SweepSpec::plan)).
pub type PlanFn<'a> =
    dyn FnMut(u64, &BTreeMap<String, ParamValue>) -> Result<TrialPlan, TrainError> + 'a;

/// The closure that starts a trial and samples its parameters. The study loop asks through
/// its store, so that on a shared storage the trial's number is the one every reader sees;
/// alone, it is [`Study::ask_with`].
pub type AskFn<'a> =
    dyn FnMut(&mut Study) -> Result<(u64, BTreeMap<String, ParamValue>), RunnerError> + 'a;

/// K trials of a study trained together on the fused kernels, a round (one epoch of every
/// running trial) at a time.
///
/// Each round first fills free slots: [`Study::ask_with`] once per free slot (TPE's
/// constant liar, on by default, keeps several RUNNING trials sound), the plan from the
/// caller's closure. Then every running trial trains one epoch in one submit and the metrics
/// are read back once. For each trial: `train/loss` per step (per group of steps when an
/// epoch has more than [`LOSS_BINS`](super::LOSS_BINS) steps), `val/loss` and
/// `val/accuracy` per epoch with [`Study::log_metric`]; the objective goes to
/// [`Study::report`] and [`Study::should_prune`]; a non-finite loss ends the trial as FAIL
/// with a `fail_reason`; the last epoch ends it as COMPLETE; [`Study::tell`] every time.
/// A freed slot is refilled at the next round when [`FusedSweepOptions::refill`] is set.
pub struct FusedSweep {
    run: FusedRun,
    data: DataSet,
    options: FusedSweepOptions,
    slots: Vec<Option<Running>>,
    started: usize,
    stopped: bool,
    weights: BTreeMap<u64, super::FusedWeights>,
    /// Whether the caller asked for every round's weights ([`FusedSweep::set_read_weights`]).
    read_weights: bool,
}

impl std::fmt::Debug for FusedSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedSweep")
            .field("options", &self.options)
            .field("started", &self.started)
            .field("running", &self.running())
            .finish()
    }
}

impl FusedSweep {
    /// Uploads `data` and makes room for `options.slots` trials (on the wide kernels perhaps
    /// fewer; see [`FusedRun::new`]).
    pub fn new(
        engine: &FusedEngine,
        data: &DataSet,
        options: FusedSweepOptions,
    ) -> Result<FusedSweep, TrainError> {
        if options.slots == 0 {
            return Err(TrainError::Config(
                "the fused engine needs at least one slot".into(),
            ));
        }
        let run = engine.start(data, options.slots)?;
        // The wide kernels may hold fewer trials at once than asked for.
        let options = FusedSweepOptions {
            slots: run.slots(),
            ..options
        };
        Ok(FusedSweep {
            run,
            data: data.clone(),
            slots: vec![None; options.slots],
            options,
            started: 0,
            stopped: false,
            weights: BTreeMap::new(),
            read_weights: false,
        })
    }

    /// How many trials train at once (the wide kernels may hold fewer than asked for).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The underlying run (e.g. to tune [`FusedRun::set_steps_per_dispatch`]).
    pub fn run_mut(&mut self) -> &mut FusedRun {
        &mut self.run
    }

    /// Whether each round also reads back the parameters of every trial it trained (in the
    /// same read-back as the metrics), for [`FusedSweep::round_weights`].
    pub fn set_read_weights(&mut self, on: bool) {
        self.read_weights = on;
        self.run.set_read_weights(on);
        if !on {
            self.weights.clear();
        }
    }

    /// The parameters of every trial the last round trained, after its epoch — also of the
    /// trials that round ended — when [`FusedSweep::set_read_weights`] is on.
    pub fn round_weights(&self) -> &BTreeMap<u64, super::FusedWeights> {
        &self.weights
    }

    /// Starts no further trials; the running ones train to their end. (A time limit: the
    /// sweep is done when they have ended.)
    pub fn stop_asking(&mut self) {
        self.stopped = true;
    }

    /// Trials started so far.
    pub fn started(&self) -> usize {
        self.started
    }

    /// Trials running now.
    pub fn running(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// The numbers of the trials running now, by slot.
    pub fn running_trials(&self) -> Vec<Option<u64>> {
        self.slots
            .iter()
            .map(|s| s.as_ref().map(|r| r.number))
            .collect()
    }

    /// Whether the sweep has nothing left to do: no trial runs and none will start.
    pub fn is_done(&self) -> bool {
        self.running() == 0 && (self.stopped || self.started >= self.options.n_trials)
    }

    /// Reads the current weights of trial `number`, if it is running.
    pub async fn weights(&self, number: u64) -> Result<Option<super::FusedWeights>, TrainError> {
        let slot = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|r| r.number == number));
        match slot {
            Some(slot) => Ok(Some(self.run.read_weights(slot).await?)),
            None => Ok(None),
        }
    }

    fn finish<H: TrainHooks>(
        &mut self,
        study: &mut Study,
        slot: usize,
        state: TrialState,
        fail_reason: Option<String>,
        cancelled: bool,
        hooks: &mut H,
    ) -> Result<TrialEnd, TrainError> {
        self.run.unload(slot);
        let Some(r) = self.slots[slot].take() else {
            return Err(TrainError::Config(format!("slot {slot} holds no trial")));
        };
        let epochs = r.epochs;
        finish_trial(study, r, state, fail_reason, cancelled, epochs, hooks)
    }

    /// One round: fills free slots, trains every running trial one epoch, and logs, reports,
    /// prunes and tells. Returns the trials that ended in this round. Stops asking (and fails
    /// running trials as `interrupted`) once `cancel` is set; stops asking when the study
    /// asks to stop.
    pub async fn round<H: TrainHooks>(
        &mut self,
        study: &mut Study,
        ask: &mut AskFn<'_>,
        plan_for: &mut PlanFn<'_>,
        hooks: &mut H,
        cancel: &CancelToken,
    ) -> Result<Vec<TrialEnd>, RunnerError> {
        let mut ended = Vec::new();
        if cancel.is_cancelled() {
            self.stopped = true;
            for slot in 0..self.slots.len() {
                if self.slots[slot].is_some() {
                    ended.push(self.finish(
                        study,
                        slot,
                        TrialState::Fail,
                        Some("cancelled".into()),
                        true,
                        hooks,
                    )?);
                }
            }
            return Ok(ended);
        }
        if study.stop_requested() {
            self.stopped = true;
        }
        self.fill(study, ask, plan_for, hooks, &mut ended)?;
        if self.running() == 0 {
            return Ok(ended);
        }

        // The histograms need the trials' weights after the epochs that record them (every
        // epoch of a short trial, evenly spaced ones of a long one): a round reads them back
        // only when one of its trials records this epoch.
        let histograms = hooks.wants_histograms()
            && self
                .slots
                .iter()
                .flatten()
                .any(|r| crate::histogram::records_epoch(r.epochs + 1, r.plan.epochs));
        self.run.set_read_weights(self.read_weights || histograms);
        let round_started = Instant::now();
        let epochs = self.run.run_epoch().await?;
        let secs = round_started.elapsed().as_secs_f64();
        let n_train = self.data.train.len();
        self.weights.clear();
        for e in &epochs {
            if let (Some(w), Some(r)) = (&e.weights, &self.slots[e.slot]) {
                self.weights.insert(r.number, w.clone());
            }
        }
        for e in epochs {
            if let Some(end) = self.after_epoch(study, &e, n_train, secs, hooks)? {
                ended.push(end);
            }
        }
        hooks.yield_now().await;
        Ok(ended)
    }

    fn fill<H: TrainHooks>(
        &mut self,
        study: &mut Study,
        ask: &mut AskFn<'_>,
        plan_for: &mut PlanFn<'_>,
        hooks: &mut H,
        ended: &mut Vec<TrialEnd>,
    ) -> Result<(), RunnerError> {
        if self.stopped || (!self.options.refill && self.running() > 0) {
            return Ok(());
        }
        for slot in 0..self.slots.len() {
            while self.slots[slot].is_none()
                && self.started < self.options.n_trials
                && !study.stop_requested()
            {
                let (number, params) = ask(study)?;
                self.started += 1;
                let plan = plan_for(number, &params).and_then(|plan| {
                    self.run
                        .load(slot, &plan, None, &self.data)
                        .map(|_| plan)
                        .map_err(|e| {
                            TrainError::Config(format!("not eligible for the fused engine: {e}"))
                        })
                });
                match plan {
                    Ok(plan) => {
                        let batch = plan.batch_size.min(self.data.train.len()).max(1);
                        hooks.progress(&ProgressEvent::TrialStart {
                            trial: number,
                            epochs: plan.epochs,
                            steps_per_epoch: self.data.train.len().div_ceil(batch),
                        });
                        self.slots[slot] = Some(Running {
                            number,
                            params,
                            plan,
                            value: None,
                            started: Instant::now(),
                            samples: 0,
                            epochs: 0,
                        });
                    }
                    Err(e) => {
                        // A bad combination is this trial's failure, not the sweep's; it
                        // never trains.
                        let outcome = TrialOutcome::failed(e.to_string());
                        ended.push(TrialEnd {
                            number,
                            outcome: tell_outcome(study, number, outcome, hooks)?,
                            params,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn after_epoch<H: TrainHooks>(
        &mut self,
        study: &mut Study,
        e: &SlotEpoch,
        n_train: usize,
        secs: f64,
        hooks: &mut H,
    ) -> Result<Option<TrialEnd>, TrainError> {
        let objective = self.options.objective;
        let Some(r) = self.slots[e.slot].as_mut() else {
            return Ok(None);
        };
        let number = r.number;
        let lr = r.plan.lr;
        let epochs = r.plan.epochs;
        r.samples += n_train;
        r.epochs = e.epoch;
        for &(step, loss) in &e.train_losses {
            if !loss.is_finite() {
                let reason = format!(
                    "train/loss became {} at step {step} (epoch {}); the learning rate {lr} may be too high",
                    if loss.is_nan() { "NaN" } else { "infinite" },
                    e.epoch
                );
                r.value = None;
                return self
                    .finish(study, e.slot, TrialState::Fail, Some(reason), false, hooks)
                    .map(Some);
            }
            study.log_metric(number, "train/loss", step as i64, loss)?;
        }
        let step = e.epoch as i64;
        study.log_metric(number, "val/loss", step, e.val_loss)?;
        study.log_metric(number, "val/accuracy", step, e.val_accuracy)?;
        if hooks.wants_histograms()
            && crate::histogram::records_epoch(e.epoch, epochs)
            && let Some(w) = &e.weights
        {
            study.log_histograms(
                number,
                step,
                &fused_histograms(w, &self.data, &e.last_batch)?,
            )?;
        }
        log_system_metrics(study, number, step, hooks)?;
        let v = match objective {
            Objective::ValLoss => e.val_loss,
            Objective::ValAccuracy => e.val_accuracy,
            Objective::TrainLoss => e.train_loss,
        };
        hooks.progress(&ProgressEvent::Epoch {
            trial: number,
            epoch: e.epoch,
            epochs,
            train_loss: e.train_loss,
            val_loss: e.val_loss,
            val_accuracy: e.val_accuracy,
            value: v,
            samples_per_sec: if secs > 0.0 {
                n_train as f64 / secs
            } else {
                0.0
            },
        });
        if !v.is_finite() {
            let reason = format!(
                "{} became {v} at epoch {}; the learning rate {lr} may be too high",
                objective.series(),
                e.epoch
            );
            if let Some(r) = self.slots[e.slot].as_mut() {
                r.value = None;
            }
            return self
                .finish(study, e.slot, TrialState::Fail, Some(reason), false, hooks)
                .map(Some);
        }
        if let Some(r) = self.slots[e.slot].as_mut() {
            r.value = Some(v);
        }
        study.report(number, step, v)?;
        if study.should_prune(number)? {
            return self
                .finish(study, e.slot, TrialState::Pruned, None, false, hooks)
                .map(Some);
        }
        if e.epoch >= epochs {
            return self
                .finish(study, e.slot, TrialState::Complete, None, false, hooks)
                .map(Some);
        }
        Ok(None)
    }
}

/// A fused trial's histograms after an epoch: its weights as read back, and the gradients
/// of its epoch's last batch at those weights (computed on the CPU, without dropout).
fn fused_histograms(
    w: &super::FusedWeights,
    data: &DataSet,
    last_batch: &[u32],
) -> Result<Vec<(String, Histogram)>, TrainError> {
    let ranges = w.named_ranges();
    let grads = if last_batch.is_empty() {
        None
    } else {
        Some(w.gradients(&data.train, last_batch)?)
    };
    let mut out = Vec::with_capacity(2 * ranges.len());
    for (name, r) in &ranges {
        if let Some(h) = w
            .params
            .get(r.clone())
            .and_then(|v| Histogram::from_values(v, BINS))
        {
            out.push((weights_tag(name), h));
        }
    }
    if let Some(g) = &grads {
        for (name, r) in &ranges {
            if let Some(h) = g
                .get(r.clone())
                .and_then(|v| Histogram::from_values(v, BINS))
            {
                out.push((gradients_tag(name), h));
            }
        }
    }
    Ok(out)
}

/// Ends a fused trial through the trainer's shared [`tell_outcome`].
fn finish_trial<H: TrainHooks>(
    study: &mut Study,
    r: Running,
    state: TrialState,
    fail_reason: Option<String>,
    cancelled: bool,
    epochs: usize,
    hooks: &mut H,
) -> Result<TrialEnd, TrainError> {
    let secs = r.started.elapsed().as_secs_f64();
    let outcome = TrialOutcome {
        state,
        value: r.value,
        epochs,
        fail_reason,
        cancelled,
        samples_per_sec: if secs > 0.0 {
            r.samples as f64 / secs
        } else {
            0.0
        },
    };
    Ok(TrialEnd {
        number: r.number,
        outcome: tell_outcome(study, r.number, outcome, hooks)?,
        params: r.params,
    })
}

/// Runs rounds until the sweep is done; returns every trial's end, in the order they ended.
pub async fn run_fused_sweep<H: TrainHooks>(
    sweep: &mut FusedSweep,
    study: &mut Study,
    space: &SearchSpace,
    plan_for: &mut PlanFn<'_>,
    hooks: &mut H,
    cancel: &CancelToken,
) -> Result<Vec<TrialEnd>, RunnerError> {
    let mut all = Vec::new();
    let mut ask = |s: &mut Study| Ok(s.ask_with(space)?);
    while !sweep.is_done() {
        all.extend(
            sweep
                .round(study, &mut ask, plan_for, hooks, cancel)
                .await?,
        );
    }
    Ok(all)
}

impl crate::train::SweepSpec {
    /// Whether every trial of this sweep suits the fused engine on `data`
    /// ([`sweep_eligibility`] with the sweep's model, settings, space and seed).
    pub fn fused_eligibility(&self, data: &DataSet) -> Result<(), String> {
        sweep_eligibility(data, &self.model, &self.settings, &self.space, self.seed)
    }
}

/// Whether every trial a sweep can produce suits the fused engine: the data set (flat, at
/// most 32 features, 2 to 32 classes) and, with the fixed settings and every searched
/// parameter at the low end of its range, then each parameter in turn at each end of its
/// range (each choice of a categorical), a plan the kernels take (an MLP of at most 6 hidden layers of at most 32 units, batch at most 1024). The
/// error says why not, for a "not using the fused engine because …" line.
pub fn sweep_eligibility(
    data: &DataSet,
    model: &Json,
    settings: &[(String, Json)],
    space: &SearchSpace,
    seed: u64,
) -> Result<(), String> {
    check_data(data).map_err(|e| e.to_string())?;
    for (changed, params) in plan_candidates(space) {
        let what = || match &changed {
            Some((k, v)) => format!("with {k} = {}", v.to_json().to_python_default()),
            None => "with every parameter at its first value".to_string(),
        };
        let plan = TrialPlan::resolve(model, settings, &params, seed)
            .map_err(|e| format!("{}: {e}", what()))?;
        check_plan(&plan, data).map_err(|e| format!("{}: {e}", what()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_use_the_default_slot_count() {
        let o = FusedSweepOptions::default();
        assert_eq!(o.slots, FusedSweepOptions::default_slots(o.n_trials));
        assert!((4..=32).contains(&o.slots));
    }
}
