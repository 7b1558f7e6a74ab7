//! The study: ask/tell, suggestions, reports and pruning, over journal storage.
//!
//! A [`Study`] works like Optuna's: every change is an Optuna journal operation applied to an
//! in-memory [`JournalStorage`]; the operations not yet persisted can be taken with
//! [`Study::take_pending`] and appended to a journal file (CLI, headless sweep) or kept in
//! the browser. Reads see the replayed trials, so a study loaded from a journal written by
//! Python Optuna behaves exactly like one created here.

use std::collections::BTreeMap;

use crate::distributions::{Distribution, ParamValue, SearchSpace, SpaceError};
use crate::json::Json;
use crate::pruners::{NopPruner, Pruner};
use crate::samplers::{Sampler, SamplerError};
use crate::storage::journal::{JournalError, JournalOp, JournalStorage, TrialTemplate, now};
use crate::trial::{FrozenTrial, TrialState};

pub use crate::view::{StudyDirection, StudyView, series_attr_key};

/// Errors of study operations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyError {
    /// A storage-level problem.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A distribution or value problem.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// No trial with that number.
    #[error("study `{study}` has no trial number {number}")]
    NoSuchTrial {
        /// Study name.
        study: String,
        /// Trial number.
        number: u64,
    },
    /// The trial is not running.
    #[error("trial {number} is {state}, not RUNNING")]
    NotRunning {
        /// Trial number.
        number: u64,
        /// Its state.
        state: TrialState,
    },
    /// Wrong number of objective values.
    #[error("the study has {expected} objective(s), but {got} value(s) were given")]
    ValueCount {
        /// Directions.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// `tell` needs a value or a state.
    #[error("{0}")]
    BadTell(String),
    /// A report with a negative step.
    #[error("step must be >= 0, but got {0}")]
    NegativeStep(i64),
    /// Reporting is single-objective only.
    #[error("report() is not supported for multi-objective studies")]
    MultiObjectiveReport,
}

/// How a trial ended, for [`Study::tell`].
#[derive(Clone, Debug, PartialEq)]
pub enum TellResult {
    /// Completed with one value per objective (a NaN value makes the trial FAIL).
    Values(Vec<f64>),
    /// Pruned; the value becomes its last intermediate value, as in Optuna.
    Pruned,
    /// Failed.
    Fail,
}

/// The worker id written into journal lines by default.
pub const DEFAULT_WORKER_ID: &str = "sweeplab-0";

#[derive(Clone)]
struct RelativeState {
    space: SearchSpace,
    params: BTreeMap<String, f64>,
}

/// A study's state saved by [`Study::checkpoint`]: all but its trials, which
/// [`Study::restore`] takes from the shared storage.
pub struct Checkpoint {
    pending: Vec<JournalOp>,
    relative: BTreeMap<u64, RelativeState>,
    stop_requested: bool,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// A study: trials plus the sampler and pruner that drive them.
pub struct Study {
    storage: JournalStorage,
    study_id: u64,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
    pending: Vec<JournalOp>,
    relative: BTreeMap<u64, RelativeState>,
    worker_id: String,
    stop_requested: bool,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.name())
            .field("trials", &self.trials().len())
            .field("sampler", &self.sampler.name())
            .finish()
    }
}

impl Study {
    /// Creates a new in-memory study with one direction.
    pub fn create(
        name: &str,
        direction: StudyDirection,
        sampler: Box<dyn Sampler>,
    ) -> Result<Study, StudyError> {
        Self::create_multi(name, vec![direction], sampler)
    }

    /// Creates a new in-memory study with several directions.
    pub fn create_multi(
        name: &str,
        directions: Vec<StudyDirection>,
        sampler: Box<dyn Sampler>,
    ) -> Result<Study, StudyError> {
        Self::create_in(JournalStorage::new(), name, directions, sampler)
    }

    /// Creates a new study in `storage` (a replayed journal holding other studies); its
    /// `CreateStudy` operation is pending, to be appended after what `storage` holds.
    pub fn create_in(
        mut storage: JournalStorage,
        name: &str,
        directions: Vec<StudyDirection>,
        sampler: Box<dyn Sampler>,
    ) -> Result<Study, StudyError> {
        let op = JournalOp::CreateStudy {
            study_name: name.to_string(),
            directions,
        };
        storage.apply(&op)?;
        let mut study = Study::load(storage, name, sampler)?;
        study.pending.push(op);
        Ok(study)
    }

    /// Opens the study `name` of a replayed journal.
    pub fn load(
        storage: JournalStorage,
        name: &str,
        sampler: Box<dyn Sampler>,
    ) -> Result<Study, StudyError> {
        let study_id = storage
            .study_by_name(name)
            .ok_or_else(|| JournalError::UnknownStudy(name.to_string()))?
            .study_id;
        Ok(Study {
            storage,
            study_id,
            sampler,
            pruner: Box::new(NopPruner),
            pending: Vec::new(),
            relative: BTreeMap::new(),
            worker_id: DEFAULT_WORKER_ID.to_string(),
            stop_requested: false,
        })
    }

    /// Replaces the pruner.
    pub fn with_pruner(mut self, pruner: Box<dyn Pruner>) -> Self {
        self.pruner = pruner;
        self
    }

    /// Replaces the pruner in place.
    pub fn set_pruner(&mut self, pruner: Box<dyn Pruner>) {
        self.pruner = pruner;
    }

    /// Replaces the sampler in place.
    pub fn set_sampler(&mut self, sampler: Box<dyn Sampler>) {
        self.sampler = sampler;
    }

    /// Sets the worker id written into journal lines.
    pub fn set_worker_id(&mut self, id: &str) {
        self.worker_id = id.to_string();
    }

    /// The worker id written into journal lines.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        self.storage
            .study(self.study_id)
            .map_or("", |s| s.name.as_str())
    }

    /// The storage id.
    pub fn study_id(&self) -> u64 {
        self.study_id
    }

    /// The objective directions.
    pub fn directions(&self) -> &[StudyDirection] {
        self.storage
            .study(self.study_id)
            .map_or(&[], |s| s.directions.as_slice())
    }

    /// The first direction.
    pub fn direction(&self) -> StudyDirection {
        self.directions()
            .first()
            .copied()
            .unwrap_or(StudyDirection::Minimize)
    }

    /// Study user attributes.
    pub fn user_attrs(&self) -> BTreeMap<String, Json> {
        self.storage
            .study(self.study_id)
            .map(|s| s.user_attrs.clone())
            .unwrap_or_default()
    }

    /// All trials in number order.
    pub fn trials(&self) -> &[FrozenTrial] {
        self.storage.trials(self.study_id)
    }

    /// One trial.
    pub fn trial(&self, number: u64) -> Result<&FrozenTrial, StudyError> {
        self.trials()
            .get(number as usize)
            .ok_or_else(|| StudyError::NoSuchTrial {
                study: self.name().to_string(),
                number,
            })
    }

    /// The replayed storage (all studies of the journal).
    pub fn storage(&self) -> &JournalStorage {
        &self.storage
    }

    /// The sampler.
    pub fn sampler(&self) -> &dyn Sampler {
        self.sampler.as_ref()
    }

    /// The pruner.
    pub fn pruner(&self) -> &dyn Pruner {
        self.pruner.as_ref()
    }

    /// Takes the journal operations applied since the last call, to persist them.
    pub fn take_pending(&mut self) -> Vec<JournalOp> {
        std::mem::take(&mut self.pending)
    }

    /// Applies operations written by someone else (e.g. new lines of a shared journal).
    pub fn apply_foreign(&mut self, ops: &[JournalOp]) {
        for op in ops {
            let _ = self.storage.apply(op);
        }
    }

    /// Whether `foreign` operations (appended to a shared journal by other writers after the
    /// ones this study has seen) can be applied after the pending operations and still give
    /// the state a replay of the shared journal gives, where they come before them: neither
    /// side creates or deletes anything, and no foreign operation touches a trial that a
    /// pending one changes.
    pub fn commutes_with(&self, foreign: &[JournalOp]) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        if self.pending.iter().any(JournalOp::depends_on_order)
            || foreign.iter().any(JournalOp::depends_on_order)
        {
            return false;
        }
        let mine: std::collections::BTreeSet<u64> = self
            .pending
            .iter()
            .filter_map(JournalOp::trial_id)
            .collect();
        !foreign
            .iter()
            .filter_map(JournalOp::trial_id)
            .any(|id| mine.contains(&id))
    }

    /// Replaces the storage with `base` (a fresh replay of the shared journal) and applies
    /// the pending operations on top, as a replay will see them once they are appended.
    /// Fails, leaving the study as it was, when the study is gone from `base` or a pending
    /// operation no longer applies (another writer finished the same trial).
    pub fn rebase(&mut self, base: JournalStorage) -> Result<(), StudyError> {
        let name = self.name().to_string();
        let mut storage = base;
        for op in &self.pending {
            match storage.apply(op) {
                // Another writer created the same study first: the replay ignores ours
                // and this study is theirs.
                Err(JournalError::DuplicateStudy(_))
                    if matches!(op, JournalOp::CreateStudy { .. }) => {}
                other => other?,
            }
        }
        let study_id = storage
            .study_by_name(&name)
            .ok_or_else(|| JournalError::UnknownStudy(name.clone()))?
            .study_id;
        self.storage = storage;
        self.study_id = study_id;
        Ok(())
    }

    /// The study's state as it is now, to go back to with [`Study::restore`] when what was
    /// changed since could not be stored (another writer got there first). It leaves the
    /// trials out (copying them would cost every write the study's size): the study holds
    /// what the shared storage holds plus its pending operations, and that is how
    /// [`Study::restore`] rebuilds them.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            pending: self.pending.clone(),
            relative: self.relative.clone(),
            stop_requested: self.stop_requested,
        }
    }

    /// Goes back to a [`Study::checkpoint`]: the pending operations and the sampler's
    /// per-trial bookkeeping (not the sampler's random state: a retried ask draws anew),
    /// and the trials as `base` (the shared storage as the checkpoint's study saw it, or
    /// read since) holds them with the pending operations applied, as [`Study::rebase`].
    /// Fails where the study is gone from `base` or a pending operation no longer applies;
    /// the study must then be rebased on a fresh read before it is used.
    pub fn restore(&mut self, c: Checkpoint, base: JournalStorage) -> Result<(), StudyError> {
        self.pending = c.pending;
        self.relative = c.relative;
        self.stop_requested = c.stop_requested;
        self.rebase(base)
    }

    /// Whether a sampler (the grid) asked the study to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    fn apply(&mut self, op: JournalOp) -> Result<(), StudyError> {
        self.storage.apply(&op)?;
        self.pending.push(op);
        Ok(())
    }

    /// [`Self::apply`] of each of `ops` in turn, up to the first error.
    fn apply_all(&mut self, ops: impl IntoIterator<Item = JournalOp>) -> Result<(), StudyError> {
        ops.into_iter().try_for_each(|op| self.apply(op))
    }

    fn view_for(&self, number: Option<u64>) -> StudyView<'_> {
        make_view(&self.storage, self.study_id, self.pruner.as_ref(), number)
    }

    /// A view of every trial, as samplers and pruners see the study.
    pub fn view(&self) -> StudyView<'_> {
        self.view_for(None)
    }

    fn trial_id_of(&self, number: u64) -> Result<u64, StudyError> {
        Ok(self.trial(number)?.trial_id)
    }

    fn running(&self, number: u64) -> Result<&FrozenTrial, StudyError> {
        let t = self.trial(number)?;
        if t.state != TrialState::Running {
            return Err(StudyError::NotRunning {
                number,
                state: t.state,
            });
        }
        Ok(t)
    }

    /// Adds a WAITING trial with fixed parameters; the next `ask` takes it.
    pub fn enqueue_trial(
        &mut self,
        params: BTreeMap<String, ParamValue>,
    ) -> Result<u64, StudyError> {
        let fixed = Json::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        );
        let mut system_attrs = BTreeMap::new();
        system_attrs.insert("fixed_params".to_string(), fixed);
        let template = TrialTemplate {
            datetime_start: None,
            state: Some(TrialState::Waiting),
            system_attrs,
            full: true,
            ..TrialTemplate::default()
        };
        let number = self.trials().len() as u64;
        self.apply(JournalOp::CreateTrial {
            study_id: self.study_id,
            template: Box::new(template),
        })?;
        Ok(number)
    }

    /// Adds a finished trial as it is (Optuna's `add_trial`).
    pub fn add_trial(&mut self, trial: &FrozenTrial) -> Result<u64, StudyError> {
        let n_obj = self.directions().len();
        let number = self.trials().len() as u64;
        self.apply(JournalOp::CreateTrial {
            study_id: self.study_id,
            template: Box::new(crate::storage::journal::template_of(trial, n_obj)),
        })?;
        Ok(number)
    }

    /// Starts a trial: takes the oldest WAITING one, or creates a new RUNNING one.
    pub fn ask(&mut self) -> Result<u64, StudyError> {
        let waiting: Vec<u64> = self
            .trials()
            .iter()
            .filter(|t| t.state == TrialState::Waiting)
            .map(|t| t.trial_id)
            .collect();
        let mut number = None;
        for trial_id in waiting {
            let op = JournalOp::SetTrialStateValues {
                trial_id,
                state: TrialState::Running,
                values: None,
                datetime_start: Some(now()),
                datetime_complete: None,
            };
            if self.apply(op).is_ok() {
                number = self.storage.locate(trial_id).map(|(_, n)| n);
                break;
            }
        }
        let number = match number {
            Some(n) => n,
            None => {
                let number = self.trials().len() as u64;
                self.apply(JournalOp::CreateTrial {
                    study_id: self.study_id,
                    template: Box::new(TrialTemplate {
                        datetime_start: Some(now()),
                        ..TrialTemplate::default()
                    }),
                })?;
                number
            }
        };
        let attrs = self.at_trial(number, |sampler, _, view, trial| {
            sampler.before_trial(view, trial)
        })?;
        self.set_system_attrs(number, attrs)?;
        Ok(number)
    }

    /// Starts a trial and suggests every parameter of `space` (Optuna's
    /// `ask(fixed_distributions=…)`); returns the number and the parameters.
    pub fn ask_with(
        &mut self,
        space: &SearchSpace,
    ) -> Result<(u64, BTreeMap<String, ParamValue>), StudyError> {
        let number = self.ask()?;
        let mut params = BTreeMap::new();
        for (name, dist) in space {
            params.insert(name.clone(), self.suggest(number, name, dist)?);
        }
        Ok((number, params))
    }

    fn set_system_attrs(
        &mut self,
        number: u64,
        attrs: Vec<(String, Json)>,
    ) -> Result<(), StudyError> {
        if attrs.is_empty() {
            return Ok(());
        }
        let trial_id = self.trial_id_of(number)?;
        let set = |(key, value)| JournalOp::SetTrialSystemAttr {
            trial_id,
            key,
            value,
        };
        self.apply_all(attrs.into_iter().map(set))
    }

    /// Calls `f` with the sampler, the pruner, the study as they see it at trial `number` (a
    /// pruner with brackets sees the trial's bracket only) and the trial.
    fn at_trial<T>(
        &mut self,
        number: u64,
        f: impl FnOnce(&mut dyn Sampler, &mut dyn Pruner, &StudyView<'_>, &FrozenTrial) -> T,
    ) -> T {
        let view = make_view(
            &self.storage,
            self.study_id,
            self.pruner.as_ref(),
            Some(number),
        );
        let trial = &self.storage.trials(self.study_id)[number as usize];
        f(self.sampler.as_mut(), self.pruner.as_mut(), &view, trial)
    }

    /// Sets a user attribute on a running trial.
    pub fn set_user_attr(&mut self, number: u64, key: &str, value: Json) -> Result<(), StudyError> {
        let trial_id = self.running(number)?.trial_id;
        self.apply(JournalOp::SetTrialUserAttr {
            trial_id,
            key: key.to_string(),
            value,
        })
    }

    /// Sets a system attribute of trial `number` (Optuna's `set_trial_system_attr`).
    pub fn set_system_attr(
        &mut self,
        number: u64,
        key: &str,
        value: Json,
    ) -> Result<(), StudyError> {
        self.set_system_attrs(number, vec![(key.to_string(), value)])
    }

    /// Records trial `number`'s weight and gradient histograms of one epoch (see
    /// [`crate::histogram`]) as its system attribute `sweeplab:histograms:<epoch>`. Nothing
    /// is written for an empty list.
    pub fn log_histograms(
        &mut self,
        number: u64,
        epoch: i64,
        histograms: &[(String, crate::histogram::Histogram)],
    ) -> Result<(), StudyError> {
        self.running(number)?;
        if histograms.is_empty() {
            return Ok(());
        }
        let wall = now().unix_timestamp_nanos() as f64 / 1e9;
        self.set_system_attrs(
            number,
            vec![(
                format!("{}{epoch}", crate::histogram::HISTOGRAMS_PREFIX),
                crate::histogram::epoch_to_json(wall, histograms),
            )],
        )
    }

    /// Sets a study user attribute.
    pub fn set_study_user_attr(&mut self, key: &str, value: Json) -> Result<(), StudyError> {
        self.apply(JournalOp::SetStudyUserAttr {
            study_id: self.study_id,
            key: key.to_string(),
            value,
        })
    }

    fn ensure_relative(&mut self, number: u64) -> Result<(), StudyError> {
        if self.relative.contains_key(&number) {
            return Ok(());
        }
        let (space, params) = self.at_trial(number, |sampler, _, view, trial| {
            let space = sampler.infer_relative_search_space(view, trial);
            let params = if space.is_empty() {
                Ok(BTreeMap::new())
            } else {
                sampler.sample_relative(view, trial, &space)
            };
            params.map(|params| (space, params))
        })?;
        let explained = self.sampler.take_explain();
        self.set_system_attrs(number, explained)?;
        if !params.is_empty() && self.sampler.stores_relative_params() {
            // Constant liar: publish the joint sample so other workers see it (Optuna's
            // `tpe:relative_params:i` chunks of at most 2045 characters).
            let external = Json::Object(
                params
                    .iter()
                    .filter_map(|(k, v)| {
                        space
                            .get(k)
                            .map(|d| (k.clone(), d.to_external(*v).to_json()))
                    })
                    .collect(),
            );
            let text = external.to_python_default();
            let chars: Vec<char> = text.chars().collect();
            let attrs = chars
                .chunks(2045)
                .enumerate()
                .map(|(i, c)| {
                    (
                        format!("tpe:relative_params:{i}"),
                        Json::Str(c.iter().collect()),
                    )
                })
                .collect();
            self.set_system_attrs(number, attrs)?;
        }
        self.relative
            .insert(number, RelativeState { space, params });
        Ok(())
    }

    /// Suggests a value for `name` from `dist` in a running trial (Optuna's `_suggest`): an
    /// existing value, a fixed (enqueued) value, the only value of a single-valued
    /// distribution, the joint (relative) sample, or an independent sample — in that order.
    pub fn suggest(
        &mut self,
        number: u64,
        name: &str,
        dist: &Distribution,
    ) -> Result<ParamValue, StudyError> {
        dist.validate(name)?;
        let trial = self.running(number)?;
        if let Some(old) = trial.distribution(name) {
            if !old.compatible_with(dist) {
                return Err(JournalError::IncompatibleDistribution {
                    param: name.to_string(),
                    old: old.describe(),
                    new: dist.describe(),
                }
                .into());
            }
            return Ok(trial.param(name).unwrap_or(ParamValue::Null));
        }
        let fixed = trial
            .system_attrs
            .get("fixed_params")
            .and_then(|f| f.get(name))
            .and_then(ParamValue::from_json);
        let internal = if let Some(v) = fixed {
            dist.to_internal(name, &v)?
        } else if dist.single() {
            single_value(dist)
        } else {
            self.ensure_relative(number)?;
            let rel = self.relative.get(&number).and_then(|r| {
                let v = *r.params.get(name)?;
                let rd = r.space.get(name)?;
                (rd.compatible_with(dist) && dist.contains(v)).then_some(v)
            });
            match rel {
                Some(v) => v,
                None => {
                    let v = self.at_trial(number, |sampler, _, view, trial| {
                        sampler.sample_independent(view, trial, name, dist)
                    })?;
                    let explained = self.sampler.take_explain();
                    self.set_system_attrs(number, explained)?;
                    v
                }
            }
        };
        let external = dist.to_external(internal);
        // An int is stored as Optuna stores it, the float of the value the trial gets (a
        // sampler's float may round to another int beyond 2^53).
        let internal = match (dist, &external) {
            (Distribution::Int(_), ParamValue::Int(v)) => *v as f64,
            _ => internal,
        };
        let trial_id = self.trial_id_of(number)?;
        self.apply(JournalOp::SetTrialParam {
            trial_id,
            name: name.to_string(),
            internal,
            distribution: dist.clone(),
        })?;
        Ok(external)
    }

    /// Suggests a float.
    pub fn suggest_float(
        &mut self,
        number: u64,
        name: &str,
        low: f64,
        high: f64,
        log: bool,
        step: Option<f64>,
    ) -> Result<f64, StudyError> {
        let d = Distribution::float_with(low, high, log, step);
        Ok(self.suggest(number, name, &d)?.as_f64().unwrap_or(f64::NAN))
    }

    /// Suggests an integer.
    pub fn suggest_int(
        &mut self,
        number: u64,
        name: &str,
        low: i64,
        high: i64,
        log: bool,
        step: i64,
    ) -> Result<i64, StudyError> {
        let d = Distribution::int_with(low, high, log, step);
        match self.suggest(number, name, &d)? {
            ParamValue::Int(i) => Ok(i),
            other => Ok(other.as_f64().unwrap_or(0.0) as i64),
        }
    }

    /// Suggests one of `choices`.
    pub fn suggest_categorical(
        &mut self,
        number: u64,
        name: &str,
        choices: Vec<ParamValue>,
    ) -> Result<ParamValue, StudyError> {
        let d =
            Distribution::Categorical(crate::distributions::CategoricalDistribution { choices });
        self.suggest(number, name, &d)
    }

    /// Reports an intermediate value; a step reported before is ignored, as in Optuna.
    pub fn report(&mut self, number: u64, step: i64, value: f64) -> Result<(), StudyError> {
        if self.directions().len() > 1 {
            return Err(StudyError::MultiObjectiveReport);
        }
        if step < 0 {
            return Err(StudyError::NegativeStep(step));
        }
        let t = self.running(number)?;
        if t.intermediate_values.contains_key(&step) {
            return Ok(());
        }
        let trial_id = t.trial_id;
        self.apply(JournalOp::SetTrialIntermediateValue {
            trial_id,
            step,
            value,
        })
    }

    /// Logs a point of a metric series (kept with the trial; exporters write it, and `tell`
    /// stores it in the journal as a user attribute).
    pub fn log_metric(
        &mut self,
        number: u64,
        series: &str,
        step: i64,
        value: f64,
    ) -> Result<(), StudyError> {
        self.running(number)?;
        let wall = now().unix_timestamp_nanos() as f64 / 1e9;
        if let Some(t) = self.storage.trial_by_number_mut(self.study_id, number) {
            t.log_metric(series, step, value, wall);
        }
        Ok(())
    }

    /// Whether the pruner says to stop the trial now.
    pub fn should_prune(&mut self, number: u64) -> Result<bool, StudyError> {
        self.running(number)?;
        let decision = self.at_trial(number, |_, pruner, view, trial| pruner.prune(view, trial));
        let mut attrs = decision.system_attrs;
        if decision.prune
            && let Some(reason) = decision.reason
        {
            attrs.push((
                crate::pruners::PRUNE_REASON_KEY.to_string(),
                reason.to_json(),
            ));
        }
        self.set_system_attrs(number, attrs)?;
        Ok(decision.prune)
    }

    /// Finishes a running trial (Optuna's `tell`): values complete it (a NaN fails it),
    /// `Pruned` records the last intermediate value, `Fail` records nothing.
    pub fn tell(&mut self, number: u64, result: TellResult) -> Result<TrialState, StudyError> {
        let n_obj = self.directions().len();
        let t = self.running(number)?;
        let (state, values) = match result {
            TellResult::Values(vs) => {
                if vs.len() != n_obj {
                    return Err(StudyError::ValueCount {
                        expected: n_obj,
                        got: vs.len(),
                    });
                }
                if vs.iter().any(|v| v.is_nan()) {
                    (TrialState::Fail, None)
                } else {
                    (TrialState::Complete, Some(vs))
                }
            }
            TellResult::Pruned => {
                let last = t
                    .intermediate_values
                    .iter()
                    .next_back()
                    .map(|(_, v)| *v)
                    .filter(|v| v.is_finite() && n_obj == 1);
                (TrialState::Pruned, last.map(|v| vec![v]))
            }
            TellResult::Fail => (TrialState::Fail, None),
        };
        let trial_id = t.trial_id;
        // Metric series ride along in user attributes so the journal keeps them.
        let series_attrs: Vec<JournalOp> = t
            .series
            .iter()
            .filter(|(k, _)| !t.user_attrs.contains_key(&series_attr_key(k)))
            .map(|(k, pts)| JournalOp::SetTrialUserAttr {
                trial_id,
                key: series_attr_key(k),
                value: crate::trial::series_to_json(pts),
            })
            .collect();
        self.apply_all(series_attrs)?;
        self.apply(JournalOp::SetTrialStateValues {
            trial_id,
            state,
            values: values.clone(),
            datetime_start: None,
            datetime_complete: Some(now()),
        })?;
        self.relative.remove(&number);
        let stop = self.at_trial(number, |sampler, _, view, trial| {
            sampler.after_trial(view, trial, state, values.as_deref())
        });
        if stop {
            self.stop_requested = true;
        }
        Ok(state)
    }

    /// Shorthand for completing a single-objective trial.
    pub fn tell_value(&mut self, number: u64, value: f64) -> Result<TrialState, StudyError> {
        self.tell(number, TellResult::Values(vec![value]))
    }

    /// The best COMPLETE trial of a single-objective study (ties: the earliest).
    pub fn best_trial(&self) -> Option<&FrozenTrial> {
        let dir = self.direction();
        let mut best: Option<&FrozenTrial> = None;
        for t in self.trials() {
            if t.state != TrialState::Complete {
                continue;
            }
            let Some(v) = t.value() else { continue };
            if v.is_nan() {
                continue;
            }
            match best {
                None => best = Some(t),
                Some(b) if dir.better(v, b.value().unwrap_or(f64::NAN)) => best = Some(t),
                _ => {}
            }
        }
        best
    }

    /// The best value.
    pub fn best_value(&self) -> Option<f64> {
        self.best_trial().and_then(FrozenTrial::value)
    }
}

/// The view samplers and pruners get: every trial, or only the trials of `number`'s
/// Hyperband bracket.
fn make_view<'a>(
    storage: &'a JournalStorage,
    study_id: u64,
    pruner: &dyn Pruner,
    number: Option<u64>,
) -> StudyView<'a> {
    let rec = storage.study(study_id);
    let name = rec.map_or("", |s| s.name.as_str());
    let directions = rec.map_or(&[][..], |s| s.directions.as_slice());
    let all = storage.trials(study_id);
    let trials = match number.and_then(|n| pruner.bracket_of(name, n)) {
        Some(bracket) => all
            .iter()
            .filter(|t| pruner.bracket_of(name, t.number) == Some(bracket))
            .collect(),
        None => all.iter().collect(),
    };
    StudyView {
        name,
        directions,
        trials,
    }
}

fn single_value(d: &Distribution) -> f64 {
    match d {
        Distribution::Float(f) => f.low,
        Distribution::Int(i) => i.low as f64,
        Distribution::Categorical(_) => 0.0,
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The view the sampler gets for trial `number`.
    pub(crate) fn view_for(study: &Study, number: u64) -> StudyView<'_> {
        study.view_for(Some(number))
    }
}
