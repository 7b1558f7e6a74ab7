//! Trials: their states and everything a finished trial keeps.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::distributions::{Distribution, ParamValue, SpaceError};
use crate::json::Json;

/// A trial's life-cycle state, numbered as Optuna's `TrialState`; as serde data, its
/// Optuna name (`COMPLETE`, …).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrialState {
    /// Being evaluated.
    Running = 0,
    /// Finished with a value.
    Complete = 1,
    /// Stopped early by the pruner.
    Pruned = 2,
    /// Failed (an error, or a NaN objective).
    Fail = 3,
    /// Enqueued, not yet started.
    Waiting = 4,
}

impl TrialState {
    /// Whether the trial has ended (COMPLETE, PRUNED or FAIL).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }

    /// The Optuna journal's integer code.
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Reads the journal's integer code.
    pub fn from_code(code: i64) -> Option<TrialState> {
        Some(match code {
            0 => TrialState::Running,
            1 => TrialState::Complete,
            2 => TrialState::Pruned,
            3 => TrialState::Fail,
            4 => TrialState::Waiting,
            _ => return None,
        })
    }

    /// Optuna's upper-case name, e.g. `COMPLETE`.
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
            TrialState::Waiting => "WAITING",
        }
    }

    /// Parses a state name, case-insensitively (`complete`, `PRUNED`, `fail`, …).
    pub fn parse(s: &str) -> Option<TrialState> {
        Some(match s.to_ascii_lowercase().as_str() {
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "fail" => TrialState::Fail,
            "waiting" => TrialState::Waiting,
            _ => return None,
        })
    }
}

impl std::fmt::Display for TrialState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One point of a logged metric series.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoint {
    /// The step (an optimiser step for `train/*`, an epoch for `val/*`).
    pub step: i64,
    /// The value.
    pub value: f64,
    /// Wall-clock time in seconds since the Unix epoch.
    pub wall_time: f64,
}

/// A trial with everything it recorded.
///
/// Parameters are stored as Optuna stores them: the distribution plus the internal `f64`
/// representation; [`FrozenTrial::param`] gives the external value.
#[derive(Clone, Debug, PartialEq)]
pub struct FrozenTrial {
    /// Index of the trial within its study, from 0.
    pub number: u64,
    /// Storage-wide id (the journal's `trial_id`).
    pub trial_id: u64,
    /// The life-cycle state.
    pub state: TrialState,
    /// Objective values (one per direction) once COMPLETE; PRUNED trials carry the last
    /// intermediate value like Optuna.
    pub values: Option<Vec<f64>>,
    /// When it started.
    pub datetime_start: Option<OffsetDateTime>,
    /// When it finished.
    pub datetime_complete: Option<OffsetDateTime>,
    params: BTreeMap<String, (Distribution, f64)>,
    /// User attributes (free-form JSON).
    pub user_attrs: BTreeMap<String, Json>,
    /// System attributes (sampler and pruner bookkeeping, `fixed_params`, …).
    pub system_attrs: BTreeMap<String, Json>,
    /// Values reported with `report(step, value)`.
    pub intermediate_values: BTreeMap<i64, f64>,
    /// Metric series logged during the trial (`train/loss`, `val/accuracy`, …).
    pub series: BTreeMap<String, Vec<MetricPoint>>,
}

impl FrozenTrial {
    /// Whether the trial counts toward a study's trial budget: it finished and was not
    /// interrupted (a trial a stop or a crash ended carries [`INTERRUPTED_ATTR`]).
    pub fn counts(&self) -> bool {
        self.state.is_finished() && !self.user_attrs.contains_key(INTERRUPTED_ATTR)
    }

    /// A new trial in `state` with nothing recorded.
    pub fn new(number: u64, trial_id: u64, state: TrialState) -> Self {
        FrozenTrial {
            number,
            trial_id,
            state,
            values: None,
            datetime_start: None,
            datetime_complete: None,
            params: BTreeMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            intermediate_values: BTreeMap::new(),
            series: BTreeMap::new(),
        }
    }

    /// The first objective value.
    pub fn value(&self) -> Option<f64> {
        self.values.as_ref().and_then(|v| v.first().copied())
    }

    /// Sets a parameter from its internal representation.
    pub fn set_param_internal(&mut self, name: &str, dist: Distribution, internal: f64) {
        self.params.insert(name.to_string(), (dist, internal));
    }

    /// Sets a parameter from its external value, checking it against `dist`.
    pub fn set_param(
        &mut self,
        name: &str,
        dist: Distribution,
        value: &ParamValue,
    ) -> Result<(), SpaceError> {
        let internal = dist.to_internal(name, value)?;
        self.params.insert(name.to_string(), (dist, internal));
        Ok(())
    }

    /// The external value of a parameter.
    pub fn param(&self, name: &str) -> Option<ParamValue> {
        self.params.get(name).map(|(d, v)| d.to_external(*v))
    }

    /// The internal representation of a parameter.
    pub fn param_internal(&self, name: &str) -> Option<f64> {
        self.params.get(name).map(|(_, v)| *v)
    }

    /// The distribution a parameter was sampled from.
    pub fn distribution(&self, name: &str) -> Option<&Distribution> {
        self.params.get(name).map(|(d, _)| d)
    }

    /// Whether the trial has the parameter.
    pub fn has_param(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// All parameters with their external values, in name order.
    pub fn params(&self) -> BTreeMap<String, ParamValue> {
        self.params
            .iter()
            .map(|(k, (d, v))| (k.clone(), d.to_external(*v)))
            .collect()
    }

    /// All parameters as `(name, distribution, internal value)`, in name order.
    pub fn params_internal(&self) -> impl Iterator<Item = (&str, &Distribution, f64)> {
        self.params.iter().map(|(k, (d, v))| (k.as_str(), d, *v))
    }

    /// All distributions, in name order.
    pub fn distributions(&self) -> BTreeMap<String, Distribution> {
        self.params
            .iter()
            .map(|(k, (d, _))| (k.clone(), d.clone()))
            .collect()
    }

    /// The largest reported step.
    pub fn last_step(&self) -> Option<i64> {
        self.intermediate_values.keys().next_back().copied()
    }

    /// Wall-clock duration, once finished.
    pub fn duration(&self) -> Option<time::Duration> {
        Some(self.datetime_complete? - self.datetime_start?)
    }

    /// Appends a point to a metric series.
    pub fn log_metric(&mut self, name: &str, step: i64, value: f64, wall_time: f64) {
        self.series
            .entry(name.to_string())
            .or_default()
            .push(MetricPoint {
                step,
                value,
                wall_time,
            });
    }
}

/// Prefix of the user attributes that carry metric series through an Optuna journal.
pub const SERIES_ATTR_PREFIX: &str = "series:";

/// The user attribute that says why a trial failed.
pub const FAIL_REASON_ATTR: &str = "fail_reason";

/// The user attribute set on a trial that was interrupted (cancelled, or found RUNNING after
/// a crash); such trials do not count towards a sweep's number of trials.
pub const INTERRUPTED_ATTR: &str = "interrupted";

/// The system attribute where a trial records where it trained: an object of strings
/// (`backend`, `adapter`, `platform`, `engine`; see `train::SweepHooks::run_config`).
pub const RUN_CONFIG_ATTR: &str = "sweeplab:run_config";

/// A trial's run config ([`RUN_CONFIG_ATTR`]) as `(key, value)` pairs, in order.
pub fn run_config(t: &FrozenTrial) -> Vec<(String, String)> {
    t.system_attrs
        .get(RUN_CONFIG_ATTR)
        .and_then(Json::as_object)
        .map(|items| {
            items
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The user attribute of a language-model trial that holds its text samples: a list of
/// `{"epoch": E, "prompt": P, "text": T}`, one per evaluation.
pub const TEXT_SAMPLES_ATTR: &str = "text_samples";

/// A trial's text samples (see [`TEXT_SAMPLES_ATTR`]) as `(epoch, prompt, text)`, in order;
/// entries that are not of that shape are left out.
pub fn text_samples(t: &FrozenTrial) -> Vec<(i64, String, String)> {
    let Some(Json::Array(items)) = t.user_attrs.get(TEXT_SAMPLES_ATTR) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|s| {
            let epoch = s.get("epoch")?.as_f64()? as i64;
            let prompt = s.get("prompt").and_then(Json::as_str).unwrap_or("");
            let text = s.get("text")?.as_str()?;
            Some((epoch, prompt.to_string(), text.to_string()))
        })
        .collect()
}

/// Encodes a metric series as `{"step": [...], "value": [...], "wall_time": [...]}`.
pub fn series_to_json(points: &[MetricPoint]) -> Json {
    crate::json::obj([
        (
            "step",
            Json::Array(points.iter().map(|p| Json::Int(p.step)).collect()),
        ),
        (
            "value",
            Json::Array(points.iter().map(|p| Json::Float(p.value)).collect()),
        ),
        (
            "wall_time",
            Json::Array(points.iter().map(|p| Json::Float(p.wall_time)).collect()),
        ),
    ])
}

/// Decodes [`series_to_json`]'s form; `None` if it is not one.
pub fn series_from_json(v: &Json) -> Option<Vec<MetricPoint>> {
    let steps = v.get("step")?.as_array()?;
    let values = v.get("value")?.as_array()?;
    let walls = v.get("wall_time")?.as_array()?;
    if steps.len() != values.len() || steps.len() != walls.len() {
        return None;
    }
    steps
        .iter()
        .zip(values)
        .zip(walls)
        .map(|((s, x), w)| {
            Some(MetricPoint {
                step: s.as_i64()?,
                value: x.as_f64()?,
                wall_time: w.as_f64()?,
            })
        })
        .collect()
}
