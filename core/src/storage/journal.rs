//! Optuna's journal storage: the operations of `JournalStorage`, their JSON-lines form, and a
//! replay that gives the same studies and trials as Optuna's `JournalStorageReplayResult`.
//!
//! The same replay serves the `sweeplab` CLI (a journal file shared with Python Optuna), the
//! headless sweep and the browser (an in-memory journal that downloads as a file).

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::distributions::Distribution;
use crate::json::{Json, obj};
use crate::study::StudyDirection;
use crate::trial::{FrozenTrial, TrialState};

/// The `op_code`s of Optuna's `JournalOperation`.
pub mod op_code {
    /// CREATE_STUDY
    pub const CREATE_STUDY: i64 = 0;
    /// DELETE_STUDY
    pub const DELETE_STUDY: i64 = 1;
    /// SET_STUDY_USER_ATTR
    pub const SET_STUDY_USER_ATTR: i64 = 2;
    /// SET_STUDY_SYSTEM_ATTR
    pub const SET_STUDY_SYSTEM_ATTR: i64 = 3;
    /// CREATE_TRIAL
    pub const CREATE_TRIAL: i64 = 4;
    /// SET_TRIAL_PARAM
    pub const SET_TRIAL_PARAM: i64 = 5;
    /// SET_TRIAL_STATE_VALUES
    pub const SET_TRIAL_STATE_VALUES: i64 = 6;
    /// SET_TRIAL_INTERMEDIATE_VALUE
    pub const SET_TRIAL_INTERMEDIATE_VALUE: i64 = 7;
    /// SET_TRIAL_USER_ATTR
    pub const SET_TRIAL_USER_ATTR: i64 = 8;
    /// SET_TRIAL_SYSTEM_ATTR
    pub const SET_TRIAL_SYSTEM_ATTR: i64 = 9;
    /// DISCARD_TRIALS (Optuna 5 reads and skips it; we never write it)
    pub const DISCARD_TRIALS: i64 = 10;
}

/// A journal line that could not be understood, or an operation that may not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JournalError {
    /// The line is not valid JSON.
    #[error("line {line}: invalid JSON: {msg}")]
    BadJson {
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        msg: String,
    },
    /// The line is JSON but not a valid operation.
    #[error("line {line}: {msg}")]
    BadOp {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// An operation code this version does not know.
    #[error(
        "line {line}: unknown journal op_code {code} (known: 0-10); the journal was written by a newer tool"
    )]
    UnknownOp {
        /// 1-based line number.
        line: usize,
        /// The code.
        code: i64,
    },
    /// The last line has no newline: a write was cut off.
    #[error(
        "line {line}: the last line is incomplete (no trailing newline): a torn write; repair or remove it"
    )]
    TornLine {
        /// 1-based line number.
        line: usize,
    },
    /// No study of that name.
    #[error("no study named `{0}` in the journal")]
    UnknownStudy(String),
    /// A study of that name exists already.
    #[error("a study named `{0}` already exists")]
    DuplicateStudy(String),
    /// No trial with that id or number.
    #[error("no trial {0}")]
    UnknownTrial(String),
    /// The trial has finished and cannot change.
    #[error("trial {number} is already finished ({state}); finished trials cannot be updated")]
    FinishedTrial {
        /// Trial number.
        number: u64,
        /// Its state.
        state: TrialState,
    },
    /// A parameter's distribution conflicts with earlier trials.
    #[error(
        "parameter `{param}`: distribution {new} is incompatible with {old} used by earlier trials"
    )]
    IncompatibleDistribution {
        /// Parameter name.
        param: String,
        /// Earlier distribution.
        old: String,
        /// New distribution.
        new: String,
    },
    /// A WAITING trial was taken by another worker first.
    #[error("trial {0} is not waiting any more")]
    NotWaiting(u64),
}

/// The fields of a CREATE_TRIAL operation (Optuna's "template trial").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialTemplate {
    /// Start time (`null` allowed).
    pub datetime_start: Option<OffsetDateTime>,
    /// Initial state; RUNNING when absent.
    pub state: Option<TrialState>,
    /// Single objective value.
    pub value: Option<f64>,
    /// Objective values (multi-objective form).
    pub values: Option<Vec<f64>>,
    /// Completion time.
    pub datetime_complete: Option<OffsetDateTime>,
    /// Parameters as (distribution, internal value), by name.
    pub params: BTreeMap<String, (Distribution, f64)>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, Json>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, Json>,
    /// Intermediate values.
    pub intermediate_values: BTreeMap<i64, f64>,
    /// Whether the line carried the template keys (`distributions`, `params`, … ); a bare
    /// `{"study_id", "datetime_start"}` line has none.
    pub full: bool,
}

/// One journal operation.
#[derive(Clone, Debug, PartialEq)]
pub enum JournalOp {
    /// Create a study (ignored if the name exists).
    CreateStudy {
        /// Name.
        study_name: String,
        /// Directions.
        directions: Vec<StudyDirection>,
    },
    /// Delete a study.
    DeleteStudy {
        /// Study id.
        study_id: u64,
    },
    /// Set one study user attribute.
    SetStudyUserAttr {
        /// Study id.
        study_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Set one study system attribute.
    SetStudySystemAttr {
        /// Study id.
        study_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Create a trial.
    CreateTrial {
        /// Study id.
        study_id: u64,
        /// The trial's initial contents.
        template: Box<TrialTemplate>,
    },
    /// Set a parameter.
    SetTrialParam {
        /// Trial id.
        trial_id: u64,
        /// Parameter name.
        name: String,
        /// Internal value.
        internal: f64,
        /// Distribution.
        distribution: Distribution,
    },
    /// Change state (and values).
    SetTrialStateValues {
        /// Trial id.
        trial_id: u64,
        /// New state.
        state: TrialState,
        /// Values (`null` allowed).
        values: Option<Vec<f64>>,
        /// Start time (with RUNNING).
        datetime_start: Option<OffsetDateTime>,
        /// Completion time (with a finished state).
        datetime_complete: Option<OffsetDateTime>,
    },
    /// Report an intermediate value.
    SetTrialIntermediateValue {
        /// Trial id.
        trial_id: u64,
        /// Step.
        step: i64,
        /// Value (NaN allowed).
        value: f64,
    },
    /// Set one trial user attribute.
    SetTrialUserAttr {
        /// Trial id.
        trial_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Set one trial system attribute.
    SetTrialSystemAttr {
        /// Trial id.
        trial_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Optuna 5's DISCARD_TRIALS, kept verbatim and skipped on replay.
    DiscardTrials(Json),
}

/// Formats a time as Optuna does: `2023-11-14T22:13:20.000000+00:00`.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let f = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    t.format(&f).unwrap_or_default()
}

/// Parses an ISO-8601 time as Python's `fromisoformat`; a time without offset is UTC.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let f1 = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    let f2 = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let f3 = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    if let Ok(t) = OffsetDateTime::parse(s, &f3) {
        return Some(t);
    }
    time::PrimitiveDateTime::parse(s, &f1)
        .or_else(|_| time::PrimitiveDateTime::parse(s, &f2))
        .ok()
        .map(|p| p.assume_utc())
}

/// The current time (works on wasm through `web-time`).
pub fn now() -> OffsetDateTime {
    let d = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .unwrap_or_default();
    OffsetDateTime::from_unix_timestamp_nanos(d.as_nanos() as i128)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn dt_json(t: Option<OffsetDateTime>) -> Json {
    t.map_or(Json::Null, |t| Json::Str(format_datetime(t)))
}

fn values_json(v: &Option<Vec<f64>>) -> Json {
    match v {
        None => Json::Null,
        Some(vs) => Json::Array(vs.iter().map(|x| Json::Float(*x)).collect()),
    }
}

impl JournalOp {
    /// The operation's `op_code`.
    pub fn code(&self) -> i64 {
        use op_code::*;
        match self {
            JournalOp::CreateStudy { .. } => CREATE_STUDY,
            JournalOp::DeleteStudy { .. } => DELETE_STUDY,
            JournalOp::SetStudyUserAttr { .. } => SET_STUDY_USER_ATTR,
            JournalOp::SetStudySystemAttr { .. } => SET_STUDY_SYSTEM_ATTR,
            JournalOp::CreateTrial { .. } => CREATE_TRIAL,
            JournalOp::SetTrialParam { .. } => SET_TRIAL_PARAM,
            JournalOp::SetTrialStateValues { .. } => SET_TRIAL_STATE_VALUES,
            JournalOp::SetTrialIntermediateValue { .. } => SET_TRIAL_INTERMEDIATE_VALUE,
            JournalOp::SetTrialUserAttr { .. } => SET_TRIAL_USER_ATTR,
            JournalOp::SetTrialSystemAttr { .. } => SET_TRIAL_SYSTEM_ATTR,
            JournalOp::DiscardTrials(_) => DISCARD_TRIALS,
        }
    }

    /// The JSON object of one journal line.
    pub fn to_json(&self, worker_id: &str) -> Json {
        let mut pairs: Vec<(String, Json)> = vec![
            ("op_code".into(), Json::Int(self.code())),
            ("worker_id".into(), Json::from(worker_id)),
        ];
        let mut push = |k: &str, v: Json| pairs.push((k.to_string(), v));
        match self {
            JournalOp::CreateStudy {
                study_name,
                directions,
            } => {
                push("study_name", Json::from(study_name.as_str()));
                push(
                    "directions",
                    Json::Array(directions.iter().map(|d| Json::Int(d.code())).collect()),
                );
            }
            JournalOp::DeleteStudy { study_id } => push("study_id", Json::Int(*study_id as i64)),
            JournalOp::SetStudyUserAttr {
                study_id,
                key,
                value,
            } => {
                push("study_id", Json::Int(*study_id as i64));
                push("user_attr", obj([(key.clone(), value.clone())]));
            }
            JournalOp::SetStudySystemAttr {
                study_id,
                key,
                value,
            } => {
                push("study_id", Json::Int(*study_id as i64));
                push("system_attr", obj([(key.clone(), value.clone())]));
            }
            JournalOp::CreateTrial { study_id, template } => {
                push("study_id", Json::Int(*study_id as i64));
                push("datetime_start", dt_json(template.datetime_start));
                if template.full {
                    if template.datetime_complete.is_some() {
                        push("datetime_complete", dt_json(template.datetime_complete));
                    }
                    push(
                        "state",
                        Json::Int(template.state.unwrap_or(TrialState::Running).code()),
                    );
                    push("value", template.value.map_or(Json::Null, Json::Float));
                    push("values", values_json(&template.values));
                    push(
                        "distributions",
                        Json::Object(
                            template
                                .params
                                .iter()
                                .map(|(k, (d, _))| (k.clone(), Json::Str(d.to_optuna_json())))
                                .collect(),
                        ),
                    );
                    push(
                        "params",
                        Json::Object(
                            template
                                .params
                                .iter()
                                .map(|(k, (d, v))| (k.clone(), internal_json(d, *v)))
                                .collect(),
                        ),
                    );
                    push(
                        "user_attrs",
                        Json::Object(template.user_attrs.clone().into_iter().collect()),
                    );
                    push(
                        "system_attrs",
                        Json::Object(template.system_attrs.clone().into_iter().collect()),
                    );
                    push(
                        "intermediate_values",
                        Json::Object(
                            template
                                .intermediate_values
                                .iter()
                                .map(|(k, v)| (k.to_string(), Json::Float(*v)))
                                .collect(),
                        ),
                    );
                }
            }
            JournalOp::SetTrialParam {
                trial_id,
                name,
                internal,
                distribution,
            } => {
                push("trial_id", Json::Int(*trial_id as i64));
                push("param_name", Json::from(name.as_str()));
                push(
                    "param_value_internal",
                    internal_json(distribution, *internal),
                );
                push("distribution", Json::Str(distribution.to_optuna_json()));
            }
            JournalOp::SetTrialStateValues {
                trial_id,
                state,
                values,
                datetime_start,
                datetime_complete,
            } => {
                push("trial_id", Json::Int(*trial_id as i64));
                push("state", Json::Int(state.code()));
                push("values", values_json(values));
                if *state == TrialState::Running {
                    push("datetime_start", dt_json(*datetime_start));
                }
                if state.is_finished() {
                    push("datetime_complete", dt_json(*datetime_complete));
                }
            }
            JournalOp::SetTrialIntermediateValue {
                trial_id,
                step,
                value,
            } => {
                push("trial_id", Json::Int(*trial_id as i64));
                push("step", Json::Int(*step));
                push("intermediate_value", Json::Float(*value));
            }
            JournalOp::SetTrialUserAttr {
                trial_id,
                key,
                value,
            } => {
                push("trial_id", Json::Int(*trial_id as i64));
                push("user_attr", obj([(key.clone(), value.clone())]));
            }
            JournalOp::SetTrialSystemAttr {
                trial_id,
                key,
                value,
            } => {
                push("trial_id", Json::Int(*trial_id as i64));
                push("system_attr", obj([(key.clone(), value.clone())]));
            }
            JournalOp::DiscardTrials(raw) => return raw.clone(),
        }
        Json::Object(pairs)
    }

    /// One journal line, with its trailing newline.
    pub fn to_line(&self, worker_id: &str) -> String {
        let mut s = self.to_json(worker_id).to_compact();
        s.push('\n');
        s
    }

    /// Reads one journal line's JSON object. `line` is 1-based, for messages.
    pub fn from_json(v: &Json, line: usize) -> Result<(String, JournalOp), JournalError> {
        use op_code::*;
        let bad = |msg: String| JournalError::BadOp { line, msg };
        if v.as_object().is_none() {
            return Err(bad("a journal line must be a JSON object".into()));
        }
        let code = v
            .get("op_code")
            .and_then(Json::as_i64)
            .ok_or_else(|| bad("missing integer `op_code`".into()))?;
        let worker = v
            .get("worker_id")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let id = |key: &str| -> Result<u64, JournalError> {
            v.get(key)
                .and_then(Json::as_i64)
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| bad(format!("op_code {code}: missing integer `{key}`")))
        };
        let one_attr = |key: &str| -> Result<(String, Json), JournalError> {
            match v.get(key).and_then(Json::as_object) {
                Some([(k, val)]) => Ok((k.clone(), val.clone())),
                _ => Err(bad(format!(
                    "op_code {code}: `{key}` must be an object with exactly one key"
                ))),
            }
        };
        let datetime = |key: &str| -> Result<Option<OffsetDateTime>, JournalError> {
            match v.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::Str(s)) => parse_datetime(s)
                    .map(Some)
                    .ok_or_else(|| bad(format!("op_code {code}: `{key}` is not a datetime: {s}"))),
                Some(_) => Err(bad(format!("op_code {code}: `{key}` must be a string"))),
            }
        };
        let values = |key: &str| -> Result<Option<Vec<f64>>, JournalError> {
            match v.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_f64().ok_or_else(|| {
                            bad(format!("op_code {code}: `{key}` must hold numbers"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(bad(format!("op_code {code}: `{key}` must be a list"))),
            }
        };
        let attrs = |key: &str| -> Result<BTreeMap<String, Json>, JournalError> {
            match v.get(key) {
                None => Ok(BTreeMap::new()),
                Some(Json::Object(o)) => Ok(o.iter().cloned().collect()),
                Some(_) => Err(bad(format!("op_code {code}: `{key}` must be an object"))),
            }
        };
        let op = match code {
            CREATE_STUDY => {
                let study_name = v
                    .get("study_name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("CREATE_STUDY: missing `study_name`".into()))?
                    .to_string();
                let directions = v
                    .get("directions")
                    .and_then(Json::as_array)
                    .ok_or_else(|| bad("CREATE_STUDY: missing `directions`".into()))?
                    .iter()
                    .map(|d| {
                        d.as_i64()
                            .and_then(StudyDirection::from_code)
                            .ok_or_else(|| {
                                bad(format!(
                                    "CREATE_STUDY: unknown direction {}",
                                    d.to_compact()
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                JournalOp::CreateStudy {
                    study_name,
                    directions,
                }
            }
            DELETE_STUDY => JournalOp::DeleteStudy {
                study_id: id("study_id")?,
            },
            SET_STUDY_USER_ATTR => {
                let (key, value) = one_attr("user_attr")?;
                JournalOp::SetStudyUserAttr {
                    study_id: id("study_id")?,
                    key,
                    value,
                }
            }
            SET_STUDY_SYSTEM_ATTR => {
                let (key, value) = one_attr("system_attr")?;
                JournalOp::SetStudySystemAttr {
                    study_id: id("study_id")?,
                    key,
                    value,
                }
            }
            CREATE_TRIAL => {
                if v.get("datetime_start").is_none() {
                    return Err(bad(
                        "CREATE_TRIAL: missing key `datetime_start` (it is required, null allowed)"
                            .into(),
                    ));
                }
                let mut t = TrialTemplate {
                    datetime_start: datetime("datetime_start")?,
                    datetime_complete: datetime("datetime_complete")?,
                    full: v.get("distributions").is_some() || v.get("state").is_some(),
                    ..TrialTemplate::default()
                };
                if let Some(s) = v.get("state") {
                    t.state =
                        Some(s.as_i64().and_then(TrialState::from_code).ok_or_else(|| {
                            bad(format!("CREATE_TRIAL: bad state {}", s.to_compact()))
                        })?);
                }
                t.value = match v.get("value") {
                    None | Some(Json::Null) => None,
                    Some(x) => Some(
                        x.as_f64()
                            .ok_or_else(|| bad("CREATE_TRIAL: `value` must be a number".into()))?,
                    ),
                };
                t.values = values("values")?;
                if t.value.is_some() && t.values.is_some() {
                    return Err(bad(
                        "CREATE_TRIAL: `value` and `values` cannot both be set".into()
                    ));
                }
                let dists = attrs("distributions")?;
                let params = attrs("params")?;
                for (name, d) in &dists {
                    let dist = match d {
                        Json::Str(s) => Distribution::from_json_str(name, s),
                        other => Distribution::from_json(name, other),
                    }
                    .map_err(|e| bad(format!("CREATE_TRIAL: {e}")))?;
                    if let Some(p) = params.get(name) {
                        let internal = p.as_f64().ok_or_else(|| {
                            bad(format!("CREATE_TRIAL: param `{name}` must be a number"))
                        })?;
                        t.params.insert(name.clone(), (dist, internal));
                    }
                }
                if let Some(missing) = params.keys().find(|k| !dists.contains_key(*k)) {
                    return Err(bad(format!(
                        "CREATE_TRIAL: param `{missing}` has no distribution"
                    )));
                }
                t.user_attrs = attrs("user_attrs")?;
                t.system_attrs = attrs("system_attrs")?;
                for (k, val) in attrs("intermediate_values")? {
                    let step = k.trim().parse::<i64>().map_err(|_| {
                        bad(format!(
                            "CREATE_TRIAL: intermediate step `{k}` is not an integer"
                        ))
                    })?;
                    let x = val.as_f64().ok_or_else(|| {
                        bad(format!(
                            "CREATE_TRIAL: intermediate value at step {k} is not a number"
                        ))
                    })?;
                    t.intermediate_values.insert(step, x);
                }
                JournalOp::CreateTrial {
                    study_id: id("study_id")?,
                    template: Box::new(t),
                }
            }
            SET_TRIAL_PARAM => {
                let name = v
                    .get("param_name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("SET_TRIAL_PARAM: missing `param_name`".into()))?
                    .to_string();
                let internal = v
                    .get("param_value_internal")
                    .and_then(Json::as_f64)
                    .ok_or_else(|| bad("SET_TRIAL_PARAM: missing `param_value_internal`".into()))?;
                let distribution = match v.get("distribution") {
                    Some(Json::Str(s)) => Distribution::from_json_str(&name, s),
                    Some(other) => Distribution::from_json(&name, other),
                    None => {
                        return Err(bad("SET_TRIAL_PARAM: missing `distribution`".into()));
                    }
                }
                .map_err(|e| bad(format!("SET_TRIAL_PARAM: {e}")))?;
                JournalOp::SetTrialParam {
                    trial_id: id("trial_id")?,
                    name,
                    internal,
                    distribution,
                }
            }
            SET_TRIAL_STATE_VALUES => {
                let state = v
                    .get("state")
                    .and_then(Json::as_i64)
                    .and_then(TrialState::from_code)
                    .ok_or_else(|| bad("SET_TRIAL_STATE_VALUES: missing or bad `state`".into()))?;
                if v.get("values").is_none() {
                    return Err(bad("SET_TRIAL_STATE_VALUES: missing key `values`".into()));
                }
                JournalOp::SetTrialStateValues {
                    trial_id: id("trial_id")?,
                    state,
                    values: values("values")?,
                    datetime_start: datetime("datetime_start")?,
                    datetime_complete: datetime("datetime_complete")?,
                }
            }
            SET_TRIAL_INTERMEDIATE_VALUE => JournalOp::SetTrialIntermediateValue {
                trial_id: id("trial_id")?,
                step: v.get("step").and_then(Json::as_i64).ok_or_else(|| {
                    bad("SET_TRIAL_INTERMEDIATE_VALUE: missing integer `step`".into())
                })?,
                value: v
                    .get("intermediate_value")
                    .and_then(Json::as_f64)
                    .ok_or_else(|| {
                        bad("SET_TRIAL_INTERMEDIATE_VALUE: missing `intermediate_value`".into())
                    })?,
            },
            SET_TRIAL_USER_ATTR => {
                let (key, value) = one_attr("user_attr")?;
                JournalOp::SetTrialUserAttr {
                    trial_id: id("trial_id")?,
                    key,
                    value,
                }
            }
            SET_TRIAL_SYSTEM_ATTR => {
                let (key, value) = one_attr("system_attr")?;
                JournalOp::SetTrialSystemAttr {
                    trial_id: id("trial_id")?,
                    key,
                    value,
                }
            }
            DISCARD_TRIALS => JournalOp::DiscardTrials(v.clone()),
            other => return Err(JournalError::UnknownOp { line, code: other }),
        };
        Ok((worker, op))
    }
}

/// Internal values of int and categorical parameters are written as Optuna writes them:
/// `3.0` for ints, `0` for categorical indices, the float itself for floats.
fn internal_json(d: &Distribution, v: f64) -> Json {
    match d {
        Distribution::Categorical(_) => Json::Int(v as i64),
        _ => Json::Float(v),
    }
}

/// Parses a whole journal text. Every line must end with `\n`; a torn last line is an error
/// here (callers that read while others write hold the lock, so a torn line is damage).
pub fn parse_journal(text: &str) -> Result<Vec<(String, JournalOp)>, JournalError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let (line, next, complete) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, "", false),
        };
        if !complete {
            return Err(JournalError::TornLine { line: line_no });
        }
        rest = next;
        if line.trim().is_empty() {
            continue;
        }
        let v = Json::parse(line).map_err(|e| JournalError::BadJson {
            line: line_no,
            msg: e.0,
        })?;
        out.push(JournalOp::from_json(&v, line_no)?);
    }
    Ok(out)
}

/// One study as the replay sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRecord {
    /// Storage id (0, 1, … in creation order).
    pub study_id: u64,
    /// Name.
    pub name: String,
    /// Directions, one per objective.
    pub directions: Vec<StudyDirection>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, Json>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, Json>,
    /// Trials in number order.
    pub trials: Vec<FrozenTrial>,
}

/// The replayed state of a journal: studies, trials and the id counters.
#[derive(Clone, Debug, Default)]
pub struct JournalStorage {
    studies: BTreeMap<u64, StudyRecord>,
    next_study_id: u64,
    /// trial_id → (study_id, number)
    trial_index: Vec<(u64, u64)>,
}

impl JournalStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays parsed lines. Operations that Optuna would ignore (on a finished trial, a
    /// duplicate study name, …) are ignored here too.
    pub fn replay(lines: &[(String, JournalOp)]) -> Self {
        let mut s = Self::new();
        for (_, op) in lines {
            let _ = s.apply(op);
        }
        s
    }

    /// Parses and replays a journal text.
    pub fn from_text(text: &str) -> Result<Self, JournalError> {
        Ok(Self::replay(&parse_journal(text)?))
    }

    /// All live studies, in id order.
    pub fn studies(&self) -> impl Iterator<Item = &StudyRecord> {
        self.studies.values()
    }

    /// A study by name.
    pub fn study_by_name(&self, name: &str) -> Option<&StudyRecord> {
        self.studies.values().find(|s| s.name == name)
    }

    /// A study by id.
    pub fn study(&self, study_id: u64) -> Option<&StudyRecord> {
        self.studies.get(&study_id)
    }

    /// Where a trial id lives: (study_id, number).
    pub fn locate(&self, trial_id: u64) -> Option<(u64, u64)> {
        self.trial_index.get(trial_id as usize).copied()
    }

    /// A trial by id.
    pub fn trial(&self, trial_id: u64) -> Option<&FrozenTrial> {
        let (sid, num) = self.locate(trial_id)?;
        self.studies.get(&sid)?.trials.get(num as usize)
    }

    fn trial_mut(&mut self, trial_id: u64) -> Result<&mut FrozenTrial, JournalError> {
        let (sid, num) = self
            .locate(trial_id)
            .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))?;
        self.studies
            .get_mut(&sid)
            .and_then(|s| s.trials.get_mut(num as usize))
            .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))
    }

    fn updatable(&mut self, trial_id: u64) -> Result<&mut FrozenTrial, JournalError> {
        let t = self.trial_mut(trial_id)?;
        if t.state.is_finished() {
            return Err(JournalError::FinishedTrial {
                number: t.number,
                state: t.state,
            });
        }
        Ok(t)
    }

    /// A trial by study and number, mutably (for data that is not journalled, such as
    /// metric series while a trial runs).
    pub(crate) fn trial_by_number_mut(
        &mut self,
        study_id: u64,
        number: u64,
    ) -> Option<&mut FrozenTrial> {
        self.studies
            .get_mut(&study_id)?
            .trials
            .get_mut(number as usize)
    }

    /// The id the next CREATE_TRIAL will get.
    pub fn next_trial_id(&self) -> u64 {
        self.trial_index.len() as u64
    }

    /// The id the next CREATE_STUDY will get.
    pub fn next_study_id(&self) -> u64 {
        self.next_study_id
    }

    /// Applies one operation. An `Err` means Optuna would have ignored the operation from
    /// another worker (or raised for its own); the state is then unchanged.
    pub fn apply(&mut self, op: &JournalOp) -> Result<(), JournalError> {
        match op {
            JournalOp::CreateStudy {
                study_name,
                directions,
            } => {
                if self.study_by_name(study_name).is_some() {
                    return Err(JournalError::DuplicateStudy(study_name.clone()));
                }
                let id = self.next_study_id;
                self.next_study_id += 1;
                self.studies.insert(
                    id,
                    StudyRecord {
                        study_id: id,
                        name: study_name.clone(),
                        directions: directions.clone(),
                        user_attrs: BTreeMap::new(),
                        system_attrs: BTreeMap::new(),
                        trials: Vec::new(),
                    },
                );
            }
            JournalOp::DeleteStudy { study_id } => {
                self.studies
                    .remove(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
            }
            JournalOp::SetStudyUserAttr {
                study_id,
                key,
                value,
            } => {
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                s.user_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::SetStudySystemAttr {
                study_id,
                key,
                value,
            } => {
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                s.system_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::CreateTrial { study_id, template } => {
                let trial_id = self.trial_index.len() as u64;
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                let number = s.trials.len() as u64;
                let mut t = FrozenTrial::new(
                    number,
                    trial_id,
                    template.state.unwrap_or(TrialState::Running),
                );
                t.datetime_start = template.datetime_start;
                t.datetime_complete = template.datetime_complete;
                t.values = match (template.value, &template.values) {
                    (Some(v), _) => Some(vec![v]),
                    (None, Some(vs)) => Some(vs.clone()),
                    (None, None) => None,
                };
                for (name, (d, v)) in &template.params {
                    t.set_param_internal(name, d.clone(), *v);
                }
                t.user_attrs = template.user_attrs.clone();
                for (k, v) in &template.user_attrs {
                    restore_series(&mut t, k, v);
                }
                t.system_attrs = template.system_attrs.clone();
                t.intermediate_values = template.intermediate_values.clone();
                s.trials.push(t);
                self.trial_index.push((*study_id, number));
            }
            JournalOp::SetTrialParam {
                trial_id,
                name,
                internal,
                distribution,
            } => {
                let (sid, _) = self
                    .locate(*trial_id)
                    .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))?;
                self.updatable(*trial_id)?;
                if let Some(s) = self.studies.get(&sid)
                    && let Some(old) = s.trials.iter().find_map(|t| t.distribution(name))
                    && !old.compatible_with(distribution)
                {
                    return Err(JournalError::IncompatibleDistribution {
                        param: name.clone(),
                        old: old.describe(),
                        new: distribution.describe(),
                    });
                }
                let t = self.updatable(*trial_id)?;
                t.set_param_internal(name, distribution.clone(), *internal);
            }
            JournalOp::SetTrialStateValues {
                trial_id,
                state,
                values,
                datetime_start,
                datetime_complete,
            } => {
                let t = self.updatable(*trial_id)?;
                if *state == TrialState::Running && t.state == TrialState::Running {
                    return Err(JournalError::NotWaiting(t.number));
                }
                if *state == TrialState::Running {
                    t.datetime_start = *datetime_start;
                }
                if state.is_finished() {
                    t.datetime_complete = *datetime_complete;
                }
                t.state = *state;
                if let Some(v) = values {
                    t.values = Some(v.clone());
                }
            }
            JournalOp::SetTrialIntermediateValue {
                trial_id,
                step,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                t.intermediate_values.insert(*step, *value);
            }
            JournalOp::SetTrialUserAttr {
                trial_id,
                key,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                restore_series(t, key, value);
                t.user_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::SetTrialSystemAttr {
                trial_id,
                key,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                t.system_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::DiscardTrials(_) => {}
        }
        Ok(())
    }

    /// Trials of a study (empty for an unknown id).
    pub fn trials(&self, study_id: u64) -> &[FrozenTrial] {
        self.studies
            .get(&study_id)
            .map_or(&[], |s| s.trials.as_slice())
    }

    /// Writes the whole state as a compact journal: one CREATE_STUDY (plus its attributes)
    /// per study and one CREATE_TRIAL template per trial. Optuna replays it to the same
    /// studies and trials (spec §3.4).
    pub fn to_compact_journal(&self, worker_id: &str) -> String {
        let mut out = String::new();
        // Ids are positional, so studies are written in id order and deleted ones vanish;
        // the rewritten ids are consistent within the new file.
        for (new_id, s) in self.studies.values().enumerate() {
            out.push_str(&study_to_compact_journal(s, new_id as u64, worker_id));
        }
        out
    }
}

/// The compact journal lines of one study (CREATE_STUDY, its attributes, one CREATE_TRIAL
/// template per trial), with `study_id` as the id the study gets in the file being written.
pub fn study_to_compact_journal(s: &StudyRecord, study_id: u64, worker_id: &str) -> String {
    let mut out = JournalOp::CreateStudy {
        study_name: s.name.clone(),
        directions: s.directions.clone(),
    }
    .to_line(worker_id);
    for (k, v) in &s.user_attrs {
        out.push_str(
            &JournalOp::SetStudyUserAttr {
                study_id,
                key: k.clone(),
                value: v.clone(),
            }
            .to_line(worker_id),
        );
    }
    for (k, v) in &s.system_attrs {
        out.push_str(
            &JournalOp::SetStudySystemAttr {
                study_id,
                key: k.clone(),
                value: v.clone(),
            }
            .to_line(worker_id),
        );
    }
    for t in &s.trials {
        out.push_str(
            &JournalOp::CreateTrial {
                study_id,
                template: Box::new(template_of(t, s.directions.len())),
            }
            .to_line(worker_id),
        );
    }
    out
}

fn restore_series(t: &mut FrozenTrial, key: &str, value: &Json) {
    if let Some(name) = key.strip_prefix(crate::trial::SERIES_ATTR_PREFIX)
        && let Some(points) = crate::trial::series_from_json(value)
    {
        t.series.insert(name.to_string(), points);
    }
}

/// The CREATE_TRIAL template that recreates `t`.
pub fn template_of(t: &FrozenTrial, n_objectives: usize) -> TrialTemplate {
    let (value, values) = match &t.values {
        Some(v) if n_objectives <= 1 && v.len() == 1 => (Some(v[0]), None),
        Some(v) => (None, Some(v.clone())),
        None => (None, None),
    };
    // Metric series ride in user attributes; a trial that has not been told yet (or one
    // built in memory) may hold series that are not there yet.
    let mut user_attrs = t.user_attrs.clone();
    for (name, points) in &t.series {
        user_attrs
            .entry(crate::study::series_attr_key(name))
            .or_insert_with(|| crate::trial::series_to_json(points));
    }
    TrialTemplate {
        datetime_start: t.datetime_start,
        state: Some(t.state),
        value,
        values,
        datetime_complete: t.datetime_complete,
        params: t
            .params_internal()
            .map(|(k, d, v)| (k.to_string(), (d.clone(), v)))
            .collect(),
        user_attrs,
        system_attrs: t.system_attrs.clone(),
        intermediate_values: t.intermediate_values.clone(),
        full: true,
    }
}
