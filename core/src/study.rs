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

/// Whether a study minimises or maximises an objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StudyDirection {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
    /// Not set (Optuna's `NOT_SET`, only seen in foreign journals).
    NotSet,
}

impl StudyDirection {
    /// The journal's integer code (1 = minimise, 2 = maximise, 0 = not set).
    pub fn code(self) -> i64 {
        match self {
            StudyDirection::NotSet => 0,
            StudyDirection::Minimize => 1,
            StudyDirection::Maximize => 2,
        }
    }

    /// Reads the journal's integer code.
    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => StudyDirection::NotSet,
            1 => StudyDirection::Minimize,
            2 => StudyDirection::Maximize,
            _ => return None,
        })
    }

    /// Parses `minimize` / `maximize` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "minimize" | "min" => Some(StudyDirection::Minimize),
            "maximize" | "max" => Some(StudyDirection::Maximize),
            _ => None,
        }
    }

    /// Whether `a` is strictly better than `b` in this direction.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            StudyDirection::Maximize => a > b,
            _ => a < b,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            StudyDirection::Minimize => "minimize",
            StudyDirection::Maximize => "maximize",
            StudyDirection::NotSet => "not_set",
        }
    }
}

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

/// A read-only view of a study, given to samplers and pruners.
#[derive(Clone, Debug)]
pub struct StudyView<'a> {
    /// Study name.
    pub name: &'a str,
    /// Objective directions.
    pub directions: &'a [StudyDirection],
    /// The trials the caller may see (all of them, or a Hyperband bracket's).
    pub trials: Vec<&'a FrozenTrial>,
}

impl<'a> StudyView<'a> {
    /// The first direction.
    pub fn direction(&self) -> StudyDirection {
        self.directions
            .first()
            .copied()
            .unwrap_or(StudyDirection::Minimize)
    }

    /// Whether the study has several objectives.
    pub fn is_multi_objective(&self) -> bool {
        self.directions.len() > 1
    }

    /// Trials in one of `states`, in number order.
    pub fn trials_in(&self, states: &[TrialState]) -> Vec<&'a FrozenTrial> {
        self.trials
            .iter()
            .copied()
            .filter(|t| states.contains(&t.state))
            .collect()
    }

    /// Number of trials in one of `states`.
    pub fn count(&self, states: &[TrialState]) -> usize {
        self.trials
            .iter()
            .filter(|t| states.contains(&t.state))
            .count()
    }
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

struct RelativeState {
    space: SearchSpace,
    params: BTreeMap<String, f64>,
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
        let mut storage = JournalStorage::new();
        let op = JournalOp::CreateStudy {
            study_name: name.to_string(),
            directions,
        };
        storage.apply(&op)?;
        let study_id = storage.next_study_id() - 1;
        Ok(Study {
            storage,
            study_id,
            sampler,
            pruner: Box::new(NopPruner),
            pending: vec![op],
            relative: BTreeMap::new(),
            worker_id: DEFAULT_WORKER_ID.to_string(),
            stop_requested: false,
        })
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

    /// Whether a sampler (the grid) asked the study to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    fn apply(&mut self, op: JournalOp) -> Result<(), StudyError> {
        self.storage.apply(&op)?;
        self.pending.push(op);
        Ok(())
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
        let attrs = {
            let view = make_view(
                &self.storage,
                self.study_id,
                self.pruner.as_ref(),
                Some(number),
            );
            let trial = &self.storage.trials(self.study_id)[number as usize];
            self.sampler.before_trial(&view, trial)?
        };
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
        for (key, value) in attrs {
            self.apply(JournalOp::SetTrialSystemAttr {
                trial_id,
                key,
                value,
            })?;
        }
        Ok(())
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
        let (space, params) = {
            let view = make_view(
                &self.storage,
                self.study_id,
                self.pruner.as_ref(),
                Some(number),
            );
            let trial = &self.storage.trials(self.study_id)[number as usize];
            let space = self.sampler.infer_relative_search_space(&view, trial);
            let params = if space.is_empty() {
                BTreeMap::new()
            } else {
                self.sampler.sample_relative(&view, trial, &space)?
            };
            (space, params)
        };
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
                    let view = make_view(
                        &self.storage,
                        self.study_id,
                        self.pruner.as_ref(),
                        Some(number),
                    );
                    let trial = &self.storage.trials(self.study_id)[number as usize];
                    self.sampler.sample_independent(&view, trial, name, dist)?
                }
            }
        };
        let trial_id = self.trial_id_of(number)?;
        self.apply(JournalOp::SetTrialParam {
            trial_id,
            name: name.to_string(),
            internal,
            distribution: dist.clone(),
        })?;
        Ok(dist.to_external(internal))
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
        let d = Distribution::Float(crate::distributions::FloatDistribution {
            low,
            high,
            log,
            step,
        });
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
        let d = Distribution::Int(crate::distributions::IntDistribution {
            low,
            high,
            log,
            step,
        });
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
        let decision = {
            let view = make_view(
                &self.storage,
                self.study_id,
                self.pruner.as_ref(),
                Some(number),
            );
            let trial = &self.storage.trials(self.study_id)[number as usize];
            self.pruner.prune(&view, trial)
        };
        self.set_system_attrs(number, decision.system_attrs)?;
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
        let series_attrs: Vec<(String, Json)> = t
            .series
            .iter()
            .filter(|(k, _)| !t.user_attrs.contains_key(&series_attr_key(k)))
            .map(|(k, pts)| (series_attr_key(k), crate::trial::series_to_json(pts)))
            .collect();
        for (key, value) in series_attrs {
            self.apply(JournalOp::SetTrialUserAttr {
                trial_id,
                key,
                value,
            })?;
        }
        self.apply(JournalOp::SetTrialStateValues {
            trial_id,
            state,
            values: values.clone(),
            datetime_start: None,
            datetime_complete: Some(now()),
        })?;
        self.relative.remove(&number);
        let stop = {
            let view = make_view(
                &self.storage,
                self.study_id,
                self.pruner.as_ref(),
                Some(number),
            );
            let trial = &self.storage.trials(self.study_id)[number as usize];
            self.sampler
                .after_trial(&view, trial, state, values.as_deref())
        };
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

/// The user-attribute key that stores a metric series in the journal.
pub fn series_attr_key(series: &str) -> String {
    format!("{}{series}", crate::trial::SERIES_ATTR_PREFIX)
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
