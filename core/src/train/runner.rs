//! The study loop: one for every front end (the CLI's `sweeplab sweep`, the browser's
//! training workers), the counterpart of Optuna's `study/_optimize.py`.
//!
//! [`resume`] opens a study for a run: trials that a crash or a closed page left RUNNING
//! become FAIL with the `interrupted` attribute, and do not count. [`run_study`] then asks,
//! resolves each trial's [`TrialPlan`], trains (burn one trial at a time, or a fused round of
//! K trials), reports, prunes and tells, and decides when the study is over: the trial cap,
//! a time limit, a stop, or a sampler that has nothing left (the grid).
//!
//! A front end brings three things: a [`StudyStore`] (where the operations go: a journal
//! file shared with other processes, or the page's IndexedDB), [`SweepHooks`] (progress,
//! pause, stop, and what to do when a trial ends: write its logs, post it to the page), and
//! a [`CancelToken`] that stops training between steps.

use std::collections::BTreeMap;

use web_time::{Duration, Instant};

use super::TrainError;
use super::data::DataSet;
use super::trainer::{CancelToken, FAIL_REASON_ATTR, TrainHooks, TrialOutcome, train_trial};
use crate::distributions::{Distribution, ParamValue, SearchSpace};
use crate::json::Json;
use crate::samplers::Sampler;
use crate::storage::JournalStorage;
use crate::store::StudyStore;
pub use crate::store::fail_interrupted;
use crate::study::{Study, StudyError, TellResult};
use crate::trial::{RUN_CONFIG_ATTR, TrialState};
use crate::view::StudyDirection;
use crate::vocab::{Objective, TrialPlan, human_bytes};

/// A finished trial: its number, parameters and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialEnd {
    /// The trial's number.
    pub number: u64,
    /// Its sampled parameters.
    pub params: BTreeMap<String, ParamValue>,
    /// How it ended (the state the study recorded).
    pub outcome: TrialOutcome,
}

/// What a study's trials train: everything that is the same for every trial.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The searched parameters.
    pub space: SearchSpace,
    /// The model entry (`mlp`, `cnn`, or an object; see [`TrialPlan::resolve`]).
    pub model: Json,
    /// Fixed trainer settings (`epochs`, `lr`, …).
    pub settings: Vec<(String, Json)>,
    /// Trial `n` trains with seed `seed + n`.
    pub seed: u64,
    /// The metric reported to the pruner and told to the study.
    pub objective: Objective,
    /// Trials that count (finished, not interrupted) before the study is over.
    pub n_trials: usize,
    /// Wall-clock limit of this run; running trials finish, no new one starts.
    pub time_limit: Option<Duration>,
}

impl SweepSpec {
    /// Trial `number`'s plan from its sampled parameters.
    pub fn plan(
        &self,
        number: u64,
        params: &BTreeMap<String, ParamValue>,
    ) -> Result<TrialPlan, TrainError> {
        TrialPlan::resolve(
            &self.model,
            &self.settings,
            params,
            self.seed.wrapping_add(number),
        )
        .map_err(TrainError::from)
    }

    /// Checks, before any trial runs, that every value each searched parameter can take
    /// makes a plan the trainer accepts (with the others at their first value): every choice
    /// of a categorical, both ends of a range. A parameter the trainer does not know, a
    /// choice it does not take, or a fixed setting out of range is an error naming it.
    pub fn check(&self) -> Result<(), TrainError> {
        self.check_each(|_| Ok(()))
    }

    /// [`check`](Self::check), and every plan's model also suits `data` (its input shape:
    /// the cnn needs images) with a dropout below 1.
    pub fn check_for(&self, data: &DataSet) -> Result<(), TrainError> {
        let shape = data.shape;
        let text = data.text.is_some();
        self.check_each(|plan| match (plan.model.is_lm(), text) {
            (true, false) => Err(TrainError::Config(format!(
                "the {} model fine-tunes the language model on a text data set; use dataset: devils-dictionary",
                plan.model.kind()
            ))),
            (false, true) => Err(TrainError::Config(format!(
                "the {} data set is text: use model: lora or finetune",
                data.name
            ))),
            (true, true) => Ok(()),
            (false, false) => plan.model.validate(shape),
        })?;
        self.check_memory(data, memory_budget())
    }

    /// The largest trial this sweep can produce fits in `budget` bytes: each parameter at
    /// the edge value that needs the most memory ([`TrialPlan::memory_bytes`]), all at once.
    pub fn check_memory(&self, data: &DataSet, budget: u64) -> Result<(), TrainError> {
        let (inputs, classes) = (data.shape.numel(), data.classes);
        let bytes = |params: &BTreeMap<String, ParamValue>| {
            self.plan(0, params)
                .map(|p| p.memory_bytes(inputs, classes))
                .unwrap_or(0)
        };
        let candidates = plan_candidates(&self.space);
        let mut worst = candidates
            .first()
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        let mut most: BTreeMap<&str, u64> = BTreeMap::new();
        for (changed, params) in &candidates {
            if let Some((k, v)) = changed {
                let b = bytes(params);
                if most.get(k.as_str()).is_none_or(|m| b > *m) {
                    most.insert(k, b);
                    worst.insert(k.clone(), v.clone());
                }
            }
        }
        let need = bytes(&worst);
        if need > budget {
            let at: Vec<String> = worst
                .iter()
                .map(|(k, v)| format!("{k} = {}", v.to_json().to_python_default()))
                .collect();
            return Err(TrainError::Config(format!(
                "the largest trial of this sweep ({}) would need about {} of memory, more than \
                 the {} available; lower width, layers or batch_size",
                if at.is_empty() {
                    "the fixed settings".to_string()
                } else {
                    at.join(", ")
                },
                human_bytes(need),
                human_bytes(budget)
            )));
        }
        Ok(())
    }

    /// Whether this sweep's trials can train K at a time over one frozen base (the stack
    /// engine), and the room the stack needs: every plan the search space can make is LoRA
    /// over an f32 base with Adam or AdamW, on a text data set, with one batch size for all.
    /// The reason when not.
    pub fn stack_room(&self, data: &DataSet) -> Result<super::lm::stack_sweep::StackRoom, String> {
        use crate::vocab::{ModelSpec, OptimizerKind};
        if data.text.is_none() {
            return Err(format!("{} is not a text data set", data.name));
        }
        let mut room: Option<super::lm::stack_sweep::StackRoom> = None;
        for (changed, params) in plan_candidates(&self.space) {
            let at = || {
                changed
                    .as_ref()
                    .map(|(k, v)| format!(" ({k} = {})", v.to_json().to_python_default()))
                    .unwrap_or_default()
            };
            let plan = self.plan(0, &params).map_err(|e| e.to_string())?;
            let ModelSpec::Lm { lora, quant, .. } = &plan.model else {
                return Err(format!("the {} model is not LoRA", plan.model.kind()));
            };
            if lora.is_none() {
                return Err(format!("full fine-tuning trains every weight{}", at()));
            }
            if quant.is_some() {
                return Err(format!("a quantized base{}", at()));
            }
            if !matches!(plan.optimizer, OptimizerKind::Adam | OptimizerKind::AdamW) {
                return Err(format!("the optimizer is not Adam or AdamW{}", at()));
            }
            let batch = plan.batch_size.max(1);
            match room {
                Some(r) if r.batch != batch => {
                    return Err(format!(
                        "the batch size is searched ({} and {batch}): the trials of a stack share it",
                        r.batch
                    ));
                }
                _ => room = Some(super::lm::stack_sweep::StackRoom { batch }),
            }
        }
        room.ok_or_else(|| "the search space makes no plan".to_string())
    }

    fn check_each(
        &self,
        mut also: impl FnMut(&TrialPlan) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        for (changed, params) in plan_candidates(&self.space) {
            self.plan(0, &params)
                .and_then(|p| also(&p))
                .map_err(|e| match changed {
                    Some((k, v)) => TrainError::Config(format!(
                        "parameters.{k} = {}: {e}",
                        v.to_json().to_python_default()
                    )),
                    None => e,
                })?;
        }
        Ok(())
    }
}

/// The memory a trial may take: natively what the machine has available now (Linux's
/// `MemAvailable`; 16 GiB where it cannot be read); in the browser 3 GiB of the 4 GiB a
/// wasm32 module can address.
pub fn memory_budget() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        3 << 30
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemAvailable:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(16 << 30, |kb| kb.saturating_mul(1024))
    }
}

/// A parameter set to check, with the parameter it changes from the base point and the
/// value (none for the base point itself).
pub type PlanCandidate = (Option<(String, ParamValue)>, BTreeMap<String, ParamValue>);

/// The parameter sets that reach every value a search space's parameters can take at the
/// edges: a base point with each parameter at its first value (the low end of a range, the
/// first choice), then the base with one parameter changed to each of its edge values.
/// Each set comes with the parameter it changes and the value.
pub fn plan_candidates(space: &SearchSpace) -> Vec<PlanCandidate> {
    let values: Vec<(&String, Vec<ParamValue>)> = space
        .iter()
        .map(|(name, dist)| {
            let v = match dist {
                Distribution::Float(f) => {
                    vec![ParamValue::Float(f.low), ParamValue::Float(f.high)]
                }
                Distribution::Int(i) => vec![ParamValue::Int(i.low), ParamValue::Int(i.high)],
                Distribution::Categorical(c) => c.choices.clone(),
            };
            (name, v)
        })
        .collect();
    let base: BTreeMap<String, ParamValue> = values
        .iter()
        .filter_map(|(name, v)| v.first().map(|v| ((*name).clone(), v.clone())))
        .collect();
    let mut out = vec![(None, base.clone())];
    for (name, vs) in &values {
        for v in vs {
            let mut params = base.clone();
            params.insert((*name).clone(), v.clone());
            out.push((Some(((*name).clone(), v.clone())), params));
        }
    }
    out
}

/// Why a run of the study loop ended, when nothing went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyEnd {
    /// The study has its trials.
    AllDone,
    /// The user stopped it (Stop, Ctrl-C); running it again resumes.
    Stopped,
    /// The sampler has nothing left to propose (the grid is exhausted).
    Exhausted,
    /// The run's time limit passed.
    TimeUp,
}

impl StudyEnd {
    /// A short phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            StudyEnd::AllDone => "all trials done",
            StudyEnd::Stopped => "stopped",
            StudyEnd::Exhausted => "the grid is exhausted",
            StudyEnd::TimeUp => "time limit reached",
        }
    }
}

/// Failures of the study loop.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Training failed (the device, the data, a plan).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The study refused an operation.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// The store could not persist.
    #[error("{0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// The front end's hook failed (e.g. writing a trial's logs).
    #[error("{0}")]
    Host(String),
    /// The study exists and optimises in another direction than the sweep's.
    #[error("study `{study}` exists with direction {}, but the sweep's metric says {}", found.name(), wanted.name())]
    Direction {
        /// The study.
        study: String,
        /// Its direction.
        found: StudyDirection,
        /// The sweep's.
        wanted: StudyDirection,
    },
}

impl RunnerError {
    /// The storage's error.
    pub fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        RunnerError::Store(Box::new(e))
    }
}

/// A [`StudyStore`] whose errors become [`RunnerError`]s.
struct Store<'a, S: StudyStore>(&'a mut S);

impl<S: StudyStore> Store<'_, S> {
    fn write<R>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, RunnerError>,
    ) -> Result<R, RunnerError> {
        self.0
            .write(study, |s| change(s).map_err(Wrap::Runner))
            .map_err(Wrap::into_runner)
    }

    /// [`StudyStore::create`]: a write that asks.
    fn create<R>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, RunnerError>,
    ) -> Result<R, RunnerError> {
        self.0
            .create(study, |s| change(s).map_err(Wrap::Runner))
            .map_err(Wrap::into_runner)
    }

    fn flush(&mut self, study: &mut Study) -> Result<(), RunnerError> {
        self.write(study, |_| Ok(()))
    }
}

/// A runner error or a store's, so [`StudyStore::write`] can convert either.
enum Wrap {
    Runner(RunnerError),
    Store(RunnerError),
}

impl Wrap {
    fn into_runner(self) -> RunnerError {
        match self {
            Wrap::Runner(e) | Wrap::Store(e) => e,
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Wrap {
    fn from(e: E) -> Self {
        Wrap::Store(RunnerError::store(e))
    }
}

/// What a front end does while the study loop runs, beyond the trainer's progress hooks.
pub trait SweepHooks: TrainHooks {
    /// A trial ended and its operations are stored: write its logs, show it.
    fn trial_ended(&mut self, _study: &Study, _end: &TrialEnd) -> Result<(), RunnerError> {
        Ok(())
    }

    /// Trial `number` started: its ask is stored (a storage with heartbeats starts
    /// recording them for it).
    fn trial_started(&mut self, _number: u64) {}

    /// The trials that other workers left RUNNING and that are to be failed now, before the
    /// next ask: Optuna's `fail_stale_trials` on a storage with heartbeats.
    fn stale_trials(&mut self) -> Vec<u64> {
        Vec::new()
    }

    /// Awaited when the trial cap is reached only counting trials other workers are
    /// running: this worker starts no trial and waits (a native host sleeps a moment) before
    /// it looks again, since one of those may fail (a killed worker's, once stale).
    /// `running` holds the numbers of the trials it waits for.
    fn wait_for_workers(&mut self, _running: &[u64]) -> impl Future<Output = ()> {
        std::future::ready(())
    }

    /// Where trials train, as `(key, value)` (e.g. `("backend", "wgpu")`, `("adapter",
    /// "NVIDIA …")`, `("platform", "browser")`): recorded with every trial this worker
    /// starts, with the engine, as its system attribute [`RUN_CONFIG_ATTR`]; W&B's export
    /// shows it in each run's config.
    fn run_config(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Polled between trials (and fused rounds): whether the user asked to stop.
    fn stop_requested(&self) -> bool {
        false
    }

    /// A fused round ended; `weights` holds the trained weights of its trials when the
    /// sweep reads them back (for decision boundaries).
    #[cfg(feature = "fused")]
    fn round_ended(&mut self, _weights: &BTreeMap<u64, super::fused::FusedWeights>) {}
}

/// The run config a trial of `hooks`'s worker records (see [`SweepHooks::run_config`]).
fn run_config<H: SweepHooks>(hooks: &H, engine: &str) -> Json {
    let mut items: Vec<(String, Json)> = hooks
        .run_config()
        .into_iter()
        .map(|(k, v)| (k.to_string(), Json::Str(v)))
        .collect();
    items.push(("engine".to_string(), Json::Str(engine.to_string())));
    Json::Object(items)
}

/// Opens study `name` in `storage`, or creates it there with `direction`: the study loop's
/// first step, before [`resume`]. A study that exists with another direction is an error
/// naming both (one whose direction was never set is taken as it is).
pub fn open_study(
    storage: JournalStorage,
    name: &str,
    direction: StudyDirection,
    sampler: Box<dyn Sampler>,
) -> Result<Study, RunnerError> {
    if storage.study_by_name(name).is_none() {
        return Ok(Study::create_in(storage, name, vec![direction], sampler)?);
    }
    let study = Study::load(storage, name, sampler)?;
    let found = study.direction();
    if found != direction && found != StudyDirection::NotSet {
        return Err(RunnerError::Direction {
            study: name.to_string(),
            found,
            wanted: direction,
        });
    }
    Ok(study)
}

/// The number of trials that count: finished and not interrupted.
pub fn counted(study: &Study) -> usize {
    study.trials().iter().filter(|t| t.counts()).count()
}

/// The number of trials running now (in this process or, on a shared storage, in others).
pub fn running(study: &Study) -> usize {
    study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .count()
}

/// Opens a study for a run: every trial left RUNNING (by a crash, a kill, a closed page) is
/// failed as interrupted with `why`, through the store. Returns their numbers.
///
/// On a storage shared with other live workers, their running trials are RUNNING too: only
/// call this where no other worker runs this study, or after their heartbeats went stale.
pub fn resume<S: StudyStore>(
    study: &mut Study,
    store: &mut S,
    why: &str,
) -> Result<Vec<u64>, RunnerError> {
    Store(store).write(study, |s| {
        let stale: Vec<u64> = s
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| t.number)
            .collect();
        for &n in &stale {
            fail_interrupted(s, n, why)?;
        }
        Ok(stale)
    })
}

/// How the trials train.
pub enum Engine<'a> {
    /// burn, one trial at a time, on this device.
    Burn(&'a burn::tensor::Device),
    /// The fused WGSL kernels, many trials at once.
    #[cfg(feature = "fused")]
    Fused(&'a mut super::fused::FusedSweep),
    /// A language-model study's LoRA trials, K at a time over one frozen base.
    Stack(&'a mut super::lm::stack_sweep::StackSweep),
}

impl std::fmt::Debug for Engine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Burn(_) => f.write_str("Engine::Burn"),
            #[cfg(feature = "fused")]
            Engine::Fused(s) => write!(f, "Engine::Fused({s:?})"),
            Engine::Stack(s) => write!(f, "Engine::Stack({s:?})"),
        }
    }
}

/// Why the loop should end now, if it should.
fn end_of<H: SweepHooks>(
    study: &Study,
    spec: &SweepSpec,
    hooks: &H,
    cancel: &CancelToken,
    started: Instant,
) -> Option<StudyEnd> {
    if hooks.stop_requested() || cancel.is_cancelled() {
        Some(StudyEnd::Stopped)
    } else if counted(study) >= spec.n_trials {
        Some(StudyEnd::AllDone)
    } else if study.stop_requested() {
        Some(StudyEnd::Exhausted)
    } else if spec.time_limit.is_some_and(|t| started.elapsed() > t) {
        Some(StudyEnd::TimeUp)
    } else {
        None
    }
}

/// Runs the study until it is over: asks (through the store, so trial numbers are the
/// shared storage's), trains, and tells, persisting after every ask and every trial, and
/// calling [`SweepHooks::trial_ended`] once a trial's operations are stored.
///
/// A plan that cannot be made fails its trial and ends the run with the error (call
/// [`SweepSpec::check`] first: then it does not happen). A training error fails the running
/// trial(s) as interrupted, persists that, and returns the error.
pub async fn run_study<S: StudyStore, H: SweepHooks>(
    study: &mut Study,
    store: &mut S,
    hooks: &mut H,
    spec: &SweepSpec,
    data: &DataSet,
    engine: Engine<'_>,
    cancel: &CancelToken,
) -> Result<StudyEnd, RunnerError> {
    let started = Instant::now();
    let mut store = Store(store);
    match engine {
        Engine::Burn(device) => loop {
            if let Some(end) = end_of(study, spec, hooks, cancel, started) {
                return Ok(end);
            }
            // Pausing between trials waits here.
            hooks.yield_now().await;
            if let Some(end @ StudyEnd::Stopped) = end_of(study, spec, hooks, cancel, started) {
                return Ok(end);
            }
            let Some((number, params)) = ask_next(study, &mut store, hooks, spec)? else {
                if counted(study) >= spec.n_trials {
                    return Ok(StudyEnd::AllDone);
                }
                hooks.wait_for_workers(&running_numbers(study)).await;
                continue;
            };
            let plan = start_trial(study, &mut store, hooks, spec, number, &params, "burn")?;
            let result = train_trial(
                study,
                number,
                &plan,
                data,
                device,
                spec.objective,
                hooks,
                cancel,
            )
            .await;
            match result {
                Ok(outcome) => {
                    store.flush(study)?;
                    let cancelled = outcome.cancelled;
                    hooks.trial_ended(
                        study,
                        &TrialEnd {
                            number,
                            params,
                            outcome,
                        },
                    )?;
                    if cancelled {
                        return Ok(StudyEnd::Stopped);
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    store.write(study, |s| Ok(fail_interrupted(s, number, &why)?))?;
                    return Err(e.into());
                }
            }
        },
        #[cfg(feature = "fused")]
        Engine::Fused(sweep) => {
            let mut time_up = false;
            while !sweep.is_done() {
                if !time_up && spec.time_limit.is_some_and(|t| started.elapsed() > t) {
                    // The running trials finish; no new one starts.
                    time_up = true;
                    sweep.stop_asking();
                }
                if hooks.stop_requested() {
                    cancel.cancel();
                }
                let config = run_config(hooks, "fused");
                let round = {
                    let mut ask = |s: &mut Study| {
                        let (number, params) = store
                            .create(s, |s| s.ask_with(&spec.space).map_err(RunnerError::from))?;
                        s.set_system_attr(number, RUN_CONFIG_ATTR, config.clone())?;
                        Ok((number, params))
                    };
                    let mut plan_for = |n: u64, p: &BTreeMap<String, ParamValue>| spec.plan(n, p);
                    sweep
                        .round(study, &mut ask, &mut plan_for, hooks, cancel)
                        .await
                };
                let ended = match round {
                    Ok(ended) => ended,
                    Err(e) => {
                        let why = e.to_string();
                        let running = sweep.running_trials();
                        store.write(study, |s| {
                            for &number in running.iter().flatten() {
                                fail_interrupted(s, number, &why)?;
                            }
                            Ok(())
                        })?;
                        return Err(e);
                    }
                };
                // The round's metrics (and any trial it ended) are stored now.
                store.flush(study)?;
                hooks.round_ended(sweep.round_weights());
                for end in &ended {
                    hooks.trial_ended(study, end)?;
                }
                // A stop during the round (the token is cancelled from outside, or the
                // user asked) is handled by the next round, which ends the running trials
                // as interrupted and stores them before the loop ends.
            }
            Ok(
                end_of(study, spec, hooks, cancel, started).unwrap_or(if time_up {
                    StudyEnd::TimeUp
                } else {
                    StudyEnd::AllDone
                }),
            )
        }
        Engine::Stack(sweep) => {
            let text = data.text.as_ref().ok_or_else(|| {
                TrainError::Config(format!(
                    "the stack engine trains language-model studies; {} is not text",
                    data.name
                ))
            })?;
            let result =
                run_stack(study, &mut store, hooks, spec, text, sweep, cancel, started).await;
            if let Err(e) = &result {
                // A training error: the running trials end as interrupted, stored.
                let why = e.to_string();
                let running = sweep.running_trials();
                store.write(study, |s| {
                    for &number in &running {
                        fail_interrupted(s, number, &why)?;
                    }
                    Ok(())
                })?;
            }
            result
        }
    }
}

/// The stack engine's loop: fills the stack's free slots with new trials, trains a step of
/// every running trial, and stores and hands on the trials that ended, until the study is
/// over. A time limit stops the asking; the running trials finish.
#[allow(clippy::too_many_arguments)]
async fn run_stack<S: StudyStore, H: SweepHooks>(
    study: &mut Study,
    store: &mut Store<'_, S>,
    hooks: &mut H,
    spec: &SweepSpec,
    text: &super::data::TextSet,
    sweep: &mut super::lm::stack_sweep::StackSweep,
    cancel: &CancelToken,
    started: Instant,
) -> Result<StudyEnd, RunnerError> {
    loop {
        if hooks.stop_requested() {
            cancel.cancel();
        }
        if cancel.is_cancelled() {
            let ended = sweep.interrupt(study, hooks)?;
            store.flush(study)?;
            for end in &ended {
                hooks.trial_ended(study, end)?;
            }
            return Ok(StudyEnd::Stopped);
        }
        let time_up = spec.time_limit.is_some_and(|t| started.elapsed() > t);
        let mut full = false;
        while !time_up && !study.stop_requested() && sweep.free_slots() > 0 {
            let Some((number, params)) = ask_next(study, store, hooks, spec)? else {
                full = true;
                break;
            };
            let plan = start_trial(study, store, hooks, spec, number, &params, "stack")?;
            if let Err(e) = sweep.admit(study, number, params, plan, text, hooks) {
                let why = e.to_string();
                store.write(study, |s| Ok(fail_interrupted(s, number, &why)?))?;
                return Err(e.into());
            }
        }
        sweep.settle()?;
        store.flush(study)?;
        if sweep.running_trials().is_empty() {
            if let Some(end) = end_of(study, spec, hooks, cancel, started) {
                return Ok(end);
            }
            if full {
                // Only trials other workers run are left before the cap.
                hooks.wait_for_workers(&running_numbers(study)).await;
                continue;
            }
            return Ok(StudyEnd::AllDone);
        }
        let (ended, epoch_ended) = sweep
            .step(study, text, spec.objective, hooks, cancel)
            .await?;
        if epoch_ended || !ended.is_empty() {
            store.flush(study)?;
        }
        for end in &ended {
            hooks.trial_ended(study, end)?;
        }
    }
}

/// The numbers of the study's RUNNING trials.
fn running_numbers(study: &Study) -> Vec<u64> {
    study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .map(|t| t.number)
        .collect()
}

/// An asked trial: its number and parameters.
type Asked = (u64, BTreeMap<String, ParamValue>);

/// Asks the study for its next trial through the store, after failing the trials other
/// workers left stale; `None` when the trials that count and the running ones (of every
/// worker) reach the cap: together the workers start no more than it.
fn ask_next<S: StudyStore, H: SweepHooks>(
    study: &mut Study,
    store: &mut Store<'_, S>,
    hooks: &mut H,
    spec: &SweepSpec,
) -> Result<Option<Asked>, RunnerError> {
    let stale = hooks.stale_trials();
    store.create(study, |s| {
        for &n in &stale {
            fail_interrupted(s, n, "its worker stopped sending heartbeats")?;
        }
        if counted(s) + running(s) >= spec.n_trials {
            return Ok(None);
        }
        s.ask_with(&spec.space).map(Some).map_err(RunnerError::from)
    })
}

/// Starts asked trial `number` on `engine`: tells the hooks, records the run config, and
/// resolves its plan. A plan that cannot be made fails the trial (stored) and is the error.
fn start_trial<S: StudyStore, H: SweepHooks>(
    study: &mut Study,
    store: &mut Store<'_, S>,
    hooks: &mut H,
    spec: &SweepSpec,
    number: u64,
    params: &BTreeMap<String, ParamValue>,
    engine: &str,
) -> Result<TrialPlan, RunnerError> {
    hooks.trial_started(number);
    study.set_system_attr(number, RUN_CONFIG_ATTR, run_config(hooks, engine))?;
    match spec.plan(number, params) {
        Ok(p) => Ok(p),
        Err(e) => {
            let why = e.to_string();
            store.write(study, |s| {
                s.set_user_attr(number, FAIL_REASON_ATTR, Json::Str(why.clone()))?;
                s.tell(number, TellResult::Fail)?;
                Ok(())
            })?;
            Err(TrainError::Config(format!("trial {number}: {e}")).into())
        }
    }
}

/// Hooks that pass on only the pause between steps: a baseline trains in a study of its own,
/// whose trial numbers the front end's progress and adapter hooks must not see.
struct Quiet<'a, H>(&'a mut H);

impl<H: TrainHooks> TrainHooks for Quiet<'_, H> {
    fn yield_now(&mut self) -> impl Future<Output = ()> {
        self.0.yield_now()
    }
}

/// Trains the baselines of a language-model study once its search is over (see
/// [`super::lm::baselines`]): the frozen base evaluated, then each plan of
/// [`baseline_plans`](super::lm::baselines::baseline_plans) for the best COMPLETE trial,
/// each in a study of its own (the searched study's trials, sampler and pruner never see
/// them), and stores the results in the study's user attribute
/// [`BASELINES_ATTR`](super::lm::baselines::BASELINES_ATTR) through `store`.
/// `started(name, i, n)` is called before baseline `i` of `n` trains. A stop ends the run
/// without storing a baseline it interrupted; those finished are stored.
#[allow(clippy::too_many_arguments)]
pub async fn run_baselines<S: StudyStore, H: TrainHooks>(
    study: &mut Study,
    store: &mut S,
    hooks: &mut H,
    spec: &SweepSpec,
    data: &DataSet,
    device: &burn::tensor::Device,
    cancel: &CancelToken,
    mut started: impl FnMut(&str, usize, usize),
) -> Result<Vec<super::lm::baselines::Baseline>, RunnerError> {
    use super::lm::baselines::{
        BASELINES_ATTR, Baseline, base_name, baseline_plans, baselines_to_json, frozen_base,
    };
    use super::lm::trial::{BASE_MEMORY_ATTR, TRAINABLE_PARAMS_ATTR};
    use crate::vocab::ModelSpec;
    let Some(text) = data.text.as_deref() else {
        return Err(TrainError::Config(
            "baselines are for language-model studies (model: lora or finetune)".into(),
        )
        .into());
    };
    let Some(best) = study.best_trial() else {
        return Err(TrainError::Config(
            "the study has no COMPLETE trial yet, whose budget the baselines would train with"
                .into(),
        )
        .into());
    };
    let best_plan = spec.plan(best.number, &best.params())?;
    let plans = baseline_plans(&best_plan);
    let n = plans.len() + 1;
    started("frozen base", 0, n);
    let mut out = vec![frozen_base(text, device).await?];
    for (i, (name, plan)) in plans.into_iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        started(&name, i + 1, n);
        let mut scratch = Study::create(
            &format!("{} baseline", study.name()),
            study.direction(),
            Box::new(crate::samplers::RandomSampler::new(Some(0))),
        )?
        .with_pruner(Box::new(crate::pruners::NopPruner));
        let (number, _) = scratch.ask_with(&SearchSpace::new())?;
        let t0 = Instant::now();
        let trained = train_trial(
            &mut scratch,
            number,
            &plan,
            data,
            device,
            spec.objective,
            &mut Quiet(&mut *hooks),
            cancel,
        )
        .await;
        // A baseline that cannot train (a base whose sizes do not quantize, a device
        // error) is recorded with the reason; the others still train.
        let outcome = match trained {
            Ok(o) if o.cancelled => break,
            Ok(o) => o,
            Err(e) => TrialOutcome::failed(e.to_string()),
        };
        let t = scratch.trials().get(number as usize);
        let last = |name: &str| {
            t.and_then(|t| t.series.get(name))
                .and_then(|s| s.last())
                .map(|p| p.value)
        };
        let attr = |key: &str| {
            t.and_then(|t| t.user_attrs.get(key))
                .and_then(Json::as_i64)
                .map_or(0, |v| v.max(0) as u64)
        };
        let (kind, quant, steps) = match &plan.model {
            ModelSpec::Lm { lora, quant, steps } => (
                if lora.is_some() { "lora" } else { "finetune" },
                *quant,
                *steps,
            ),
            _ => ("finetune", None, 0),
        };
        let failed = outcome.state == TrialState::Fail;
        out.push(Baseline {
            name,
            kind: kind.into(),
            base: base_name(quant).into(),
            val_loss: if failed { None } else { last("val/loss") },
            val_accuracy: if failed { None } else { last("val/accuracy") },
            base_memory_bytes: attr(BASE_MEMORY_ATTR),
            trainable_params: attr(TRAINABLE_PARAMS_ATTR),
            steps,
            batch_size: plan.batch_size,
            lr: plan.lr,
            seconds: t0.elapsed().as_secs_f64(),
            note: outcome.fail_reason,
        });
    }
    let json = baselines_to_json(&out);
    Store(store).write(study, |s| {
        Ok(s.set_study_user_attr(BASELINES_ATTR, json.clone())?)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::RandomSampler;

    fn sampler() -> Box<dyn Sampler> {
        Box::new(RandomSampler::new(Some(0)))
    }

    #[test]
    fn open_study_creates_then_reopens_and_refuses_another_direction() {
        let study = open_study(
            JournalStorage::new(),
            "s",
            StudyDirection::Maximize,
            sampler(),
        )
        .unwrap();
        assert_eq!(study.direction(), StudyDirection::Maximize);
        let storage = study.storage().clone();
        let again = open_study(storage.clone(), "s", StudyDirection::Maximize, sampler()).unwrap();
        assert_eq!(again.name(), "s");
        let e = open_study(storage, "s", StudyDirection::Minimize, sampler()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "study `s` exists with direction maximize, but the sweep's metric says minimize"
        );
    }

    #[test]
    fn a_sweep_whose_largest_trial_cannot_fit_is_refused_before_it_starts() {
        use crate::distributions::Distribution;
        use crate::train::Toy2d;
        use crate::train::data::generate_toy;
        let data = generate_toy(Toy2d::Spiral, 200, 0.1, 0.2, 0);
        let mut space = SearchSpace::new();
        space.insert("width".into(), Distribution::int(8, 4096));
        space.insert("layers".into(), Distribution::int(1, 16));
        space.insert(
            "batch_size".into(),
            Distribution::categorical([32i64, 65_536]),
        );
        let spec = SweepSpec {
            space,
            model: Json::Null,
            settings: vec![],
            seed: 0,
            objective: Objective::ValLoss,
            n_trials: 1,
            time_limit: None,
        };
        let e = spec.check_memory(&data, 8 << 30).unwrap_err().to_string();
        assert!(
            e.contains("batch_size = 65536")
                && e.contains("layers = 16")
                && e.contains("width = 4096")
                && e.contains("more than the 8.0 GiB available"),
            "{e}"
        );
        // Each edge alone fits; only all of them together do not.
        assert!(spec.check().is_ok());
        let mut small = spec.clone();
        small.space.insert("width".into(), Distribution::int(8, 64));
        assert!(small.check_memory(&data, 8 << 30).is_ok());
        assert!(memory_budget() > 0);
    }
}
