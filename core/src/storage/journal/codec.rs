//! One operation as one JSON line, as Optuna's `JournalStorage` writes and reads it, whole
//! journal texts, and Optuna's time format.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::JournalError;
use super::op::{JournalOp, TrialTemplate, op_code};
use crate::distributions::Distribution;
use crate::json::{Json, obj};
use crate::trial::TrialState;
use crate::view::StudyDirection;

/// Formats a time as Optuna does: `2023-11-14T22:13:20.000000+00:00`. A time whose instant
/// falls outside the years 1-9999 in UTC (`9999-12-31T23:30:00-01:00`, which Python reads)
/// keeps its own offset, so that it reads back as the same time.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let utc = t
        .checked_to_offset(time::UtcOffset::UTC)
        .filter(|u| PYTHON_YEARS.contains(&u.year()));
    let written = match utc {
        Some(u) => u.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
        )),
        None => t.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
        )),
    };
    written.unwrap_or_default()
}

/// The years Python's `datetime` holds (`MINYEAR`, `MAXYEAR`).
const PYTHON_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Parses an ISO-8601 time as Python's `fromisoformat`; a time without offset is UTC. A year
/// outside 1-9999 (`-2025-01-01T00:00:00`, `0000-…`) is refused, as `fromisoformat` refuses
/// it: Optuna cannot load such a journal, and its time could not be written back. Digits
/// past the microsecond are dropped, as `fromisoformat` (Python 3.11+) drops them: a
/// `datetime` holds microseconds, and so does the journal written back.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    parse_iso(s)
        .filter(|t| PYTHON_YEARS.contains(&t.year()))
        .and_then(|t| t.replace_microsecond(t.microsecond()).ok())
}

fn parse_iso(s: &str) -> Option<OffsetDateTime> {
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
                Some(Json::Str(s)) => parse_datetime(s).map(Some).ok_or_else(|| {
                    bad(format!(
                        "op_code {code}: `{key}` is not a datetime Python reads (ISO 8601, \
                         years 1-9999): {s}"
                    ))
                }),
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
        // Optuna reads each line as bytes and `json.loads(bytes)` decodes a line that starts
        // with a UTF-8 byte order mark as `utf-8-sig`, so a BOM (at the start of the file,
        // or of any line) is skipped, not an error.
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
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
