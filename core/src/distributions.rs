//! Search-space distributions with Optuna's semantics, validation and JSON forms.
//!
//! Every parameter has an *external* value ([`ParamValue`], what the objective sees) and an
//! *internal* representation (`f64`, what samplers and storage work with): floats and ints
//! are themselves, a categorical is the index of its choice.

use std::collections::BTreeMap;
use std::fmt;

use crate::json::{Json, obj};

/// The value of one parameter as the objective sees it.
#[derive(Clone, Debug)]
pub enum ParamValue {
    /// A float (from a float distribution or a float choice).
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean choice.
    Bool(bool),
    /// A string choice.
    Str(String),
    /// Python's `None` as a choice.
    Null,
}

impl PartialEq for ParamValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // NaN choices compare equal, as Optuna's `CategoricalDistribution` does.
            (ParamValue::Float(a), ParamValue::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (ParamValue::Int(a), ParamValue::Int(b)) => a == b,
            (ParamValue::Bool(a), ParamValue::Bool(b)) => a == b,
            (ParamValue::Str(a), ParamValue::Str(b)) => a == b,
            (ParamValue::Null, ParamValue::Null) => true,
            _ => false,
        }
    }
}

impl ParamValue {
    /// The value as JSON (`Int` stays an integer, `Float` a float).
    pub fn to_json(&self) -> Json {
        match self {
            ParamValue::Float(f) => Json::Float(*f),
            ParamValue::Int(i) => Json::Int(*i),
            ParamValue::Bool(b) => Json::Bool(*b),
            ParamValue::Str(s) => Json::Str(s.clone()),
            ParamValue::Null => Json::Null,
        }
    }

    /// Reads a categorical choice (or a fixed parameter value) from JSON.
    pub fn from_json(v: &Json) -> Option<ParamValue> {
        Some(match v {
            Json::Null => ParamValue::Null,
            Json::Bool(b) => ParamValue::Bool(*b),
            Json::Int(i) => ParamValue::Int(*i),
            Json::Float(f) => ParamValue::Float(*f),
            Json::Str(s) => ParamValue::Str(s.clone()),
            Json::Array(_) | Json::Object(_) => return None,
        })
    }

    /// The value as a number, for ints and floats (and bools as 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Float(f) => Some(*f),
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// The value as a string slice, for string choices.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{}", crate::json::py_float_repr(*v)),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Bool(true) => f.write_str("True"),
            ParamValue::Bool(false) => f.write_str("False"),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Null => f.write_str("None"),
        }
    }
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}
impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}
impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_string())
    }
}

/// A float parameter: `low..=high`, optionally log-scaled or on a `step` grid.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatDistribution {
    /// Lower bound (inclusive).
    pub low: f64,
    /// Upper bound (inclusive).
    pub high: f64,
    /// Sample in log space.
    pub log: bool,
    /// Grid spacing, if the parameter is discretised.
    pub step: Option<f64>,
}

/// An integer parameter: `low..=high` on a `step` grid, optionally log-scaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntDistribution {
    /// Lower bound (inclusive).
    pub low: i64,
    /// Upper bound (inclusive).
    pub high: i64,
    /// Sample in log space (requires `step == 1`).
    pub log: bool,
    /// Grid spacing (>= 1).
    pub step: i64,
}

/// A categorical parameter over a list of choices.
#[derive(Clone, Debug, PartialEq)]
pub struct CategoricalDistribution {
    /// The choices, in order; the internal representation is the index.
    pub choices: Vec<ParamValue>,
}

/// One parameter's distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// See [`FloatDistribution`].
    Float(FloatDistribution),
    /// See [`IntDistribution`].
    Int(IntDistribution),
    /// See [`CategoricalDistribution`].
    Categorical(CategoricalDistribution),
}

/// A search space: parameter name → distribution, iterated in name order.
pub type SearchSpace = BTreeMap<String, Distribution>;

/// Why a distribution, a parameter value or a search-space document was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpaceError {
    /// A distribution breaks one of Optuna's rules.
    #[error("parameter `{param}`: {rule}")]
    Invalid {
        /// The parameter's name.
        param: String,
        /// The rule it breaks, in words.
        rule: String,
    },
    /// A value does not belong to the parameter's distribution.
    #[error("parameter `{param}`: value {value} is not in {dist}")]
    OutOfDomain {
        /// The parameter's name.
        param: String,
        /// The offending value.
        value: String,
        /// The distribution, described.
        dist: String,
    },
    /// A JSON distribution document could not be understood.
    #[error("parameter `{param}`: {msg}")]
    BadJson {
        /// The parameter's name (or `<search space>`).
        param: String,
        /// What is wrong.
        msg: String,
    },
}

fn invalid(param: &str, rule: impl Into<String>) -> SpaceError {
    SpaceError::Invalid {
        param: param.to_string(),
        rule: rule.into(),
    }
}

fn fits_grid(low: f64, high: f64, step: f64) -> bool {
    let n = (high - low) / step;
    (n - n.round()).abs() <= 1e-8 * n.abs().max(1.0)
}

impl Distribution {
    /// A plain float distribution.
    pub fn float(low: f64, high: f64) -> Self {
        Distribution::Float(FloatDistribution {
            low,
            high,
            log: false,
            step: None,
        })
    }

    /// A log-scaled float distribution.
    pub fn float_log(low: f64, high: f64) -> Self {
        Distribution::Float(FloatDistribution {
            low,
            high,
            log: true,
            step: None,
        })
    }

    /// A float distribution on a grid.
    pub fn float_step(low: f64, high: f64, step: f64) -> Self {
        Distribution::Float(FloatDistribution {
            low,
            high,
            log: false,
            step: Some(step),
        })
    }

    /// An integer distribution with step 1.
    pub fn int(low: i64, high: i64) -> Self {
        Distribution::Int(IntDistribution {
            low,
            high,
            log: false,
            step: 1,
        })
    }

    /// A log-scaled integer distribution.
    pub fn int_log(low: i64, high: i64) -> Self {
        Distribution::Int(IntDistribution {
            low,
            high,
            log: true,
            step: 1,
        })
    }

    /// An integer distribution on a grid.
    pub fn int_step(low: i64, high: i64, step: i64) -> Self {
        Distribution::Int(IntDistribution {
            low,
            high,
            log: false,
            step,
        })
    }

    /// A categorical distribution.
    pub fn categorical<T: Into<ParamValue>>(choices: impl IntoIterator<Item = T>) -> Self {
        Distribution::Categorical(CategoricalDistribution {
            choices: choices.into_iter().map(Into::into).collect(),
        })
    }

    /// Checks Optuna's rules, naming `param` and the rule on failure.
    pub fn validate(&self, param: &str) -> Result<(), SpaceError> {
        match self {
            Distribution::Float(d) => {
                if !d.low.is_finite() || !d.high.is_finite() {
                    return Err(invalid(
                        param,
                        format!("low ({}) and high ({}) must be finite", d.low, d.high),
                    ));
                }
                if d.low > d.high {
                    return Err(invalid(
                        param,
                        format!(
                            "low must be <= high, but low = {} and high = {}",
                            d.low, d.high
                        ),
                    ));
                }
                if d.log && d.step.is_some() {
                    return Err(invalid(param, "log and step cannot be used together"));
                }
                if d.log && d.low <= 0.0 {
                    return Err(invalid(
                        param,
                        format!("log scale needs low > 0, but low = {}", d.low),
                    ));
                }
                if let Some(step) = d.step {
                    if step.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                        || !step.is_finite()
                    {
                        return Err(invalid(
                            param,
                            format!("step must be > 0, but step = {step}"),
                        ));
                    }
                    if !fits_grid(d.low, d.high, step) {
                        let adjusted = d.low + ((d.high - d.low) / step).floor() * step;
                        return Err(invalid(
                            param,
                            format!(
                                "step {step} does not fit the range [{}, {}]: high - low must be a \
                                 multiple of step (nearest valid high: {adjusted})",
                                d.low, d.high
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Distribution::Int(d) => {
                if d.low > d.high {
                    return Err(invalid(
                        param,
                        format!(
                            "low must be <= high, but low = {} and high = {}",
                            d.low, d.high
                        ),
                    ));
                }
                if d.step <= 0 {
                    return Err(invalid(
                        param,
                        format!("step must be >= 1, but step = {}", d.step),
                    ));
                }
                if d.log && d.step != 1 {
                    return Err(invalid(
                        param,
                        format!(
                            "log and step cannot be used together (log needs step = 1, got {})",
                            d.step
                        ),
                    ));
                }
                if d.log && d.low < 1 {
                    return Err(invalid(
                        param,
                        format!("log scale needs low >= 1, but low = {}", d.low),
                    ));
                }
                if (d.high - d.low) % d.step != 0 {
                    let adjusted = d.low + (d.high - d.low) / d.step * d.step;
                    return Err(invalid(
                        param,
                        format!(
                            "step {} does not fit the range [{}, {}]: high - low must be a \
                             multiple of step (nearest valid high: {adjusted})",
                            d.step, d.low, d.high
                        ),
                    ));
                }
                Ok(())
            }
            Distribution::Categorical(d) => {
                if d.choices.is_empty() {
                    return Err(invalid(param, "a categorical needs at least one choice"));
                }
                Ok(())
            }
        }
    }

    /// Whether the distribution has exactly one value.
    pub fn single(&self) -> bool {
        match self {
            Distribution::Float(d) => match d.step {
                None => d.low == d.high,
                Some(step) => d.high - d.low < step || d.low == d.high,
            },
            Distribution::Int(d) => d.low == d.high || d.high - d.low < d.step,
            Distribution::Categorical(d) => d.choices.len() == 1,
        }
    }

    /// Whether it is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, Distribution::Categorical(_))
    }

    /// Converts an external value to the internal `f64`.
    pub fn to_internal(&self, param: &str, value: &ParamValue) -> Result<f64, SpaceError> {
        let bad = || SpaceError::OutOfDomain {
            param: param.to_string(),
            value: value.to_string(),
            dist: self.describe(),
        };
        match self {
            Distribution::Float(_) => match value {
                ParamValue::Float(f) => Ok(*f),
                ParamValue::Int(i) => Ok(*i as f64),
                _ => Err(bad()),
            },
            Distribution::Int(_) => match value {
                ParamValue::Int(i) => Ok(*i as f64),
                ParamValue::Float(f) if f.fract() == 0.0 => Ok(*f),
                _ => Err(bad()),
            },
            Distribution::Categorical(d) => d
                .choices
                .iter()
                .position(|c| c == value)
                .map(|i| i as f64)
                .ok_or_else(bad),
        }
    }

    /// Converts an internal `f64` to the external value.
    pub fn to_external(&self, internal: f64) -> ParamValue {
        match self {
            Distribution::Float(_) => ParamValue::Float(internal),
            Distribution::Int(_) => ParamValue::Int(internal.round() as i64),
            Distribution::Categorical(d) => {
                let i = (internal.max(0.0) as usize).min(d.choices.len().saturating_sub(1));
                d.choices.get(i).cloned().unwrap_or(ParamValue::Null)
            }
        }
    }

    /// Whether an internal value lies in the distribution (Optuna's `_contains`).
    pub fn contains(&self, internal: f64) -> bool {
        match self {
            Distribution::Float(d) => {
                if internal.is_nan() || internal < d.low || internal > d.high {
                    return false;
                }
                match d.step {
                    None => true,
                    Some(step) => {
                        let k = (internal - d.low) / step;
                        (k - k.round()).abs() < 1e-8
                    }
                }
            }
            Distribution::Int(d) => {
                let v = internal;
                v.fract() == 0.0
                    && v >= d.low as f64
                    && v <= d.high as f64
                    && ((v as i64) - d.low) % d.step == 0
            }
            Distribution::Categorical(d) => {
                internal >= 0.0 && internal.fract() == 0.0 && (internal as usize) < d.choices.len()
            }
        }
    }

    /// Whether two distributions may share a parameter name within a study (same kind; for
    /// categoricals the same choices), as Optuna's `check_distribution_compatibility`.
    pub fn compatible_with(&self, other: &Distribution) -> bool {
        match (self, other) {
            (Distribution::Float(a), Distribution::Float(b)) => a.log == b.log,
            (Distribution::Int(a), Distribution::Int(b)) => a.log == b.log,
            (Distribution::Categorical(a), Distribution::Categorical(b)) => a.choices == b.choices,
            _ => false,
        }
    }

    /// A short human description, e.g. `float[0.001, 1] log`.
    pub fn describe(&self) -> String {
        match self {
            Distribution::Float(d) => {
                let mut s = format!("float[{}, {}]", d.low, d.high);
                if d.log {
                    s.push_str(" log");
                }
                if let Some(step) = d.step {
                    s.push_str(&format!(" step {step}"));
                }
                s
            }
            Distribution::Int(d) => {
                let mut s = format!("int[{}, {}]", d.low, d.high);
                if d.log {
                    s.push_str(" log");
                }
                if d.step != 1 {
                    s.push_str(&format!(" step {}", d.step));
                }
                s
            }
            Distribution::Categorical(d) => {
                let items: Vec<String> = d.choices.iter().map(|c| c.to_string()).collect();
                format!("categorical{{{}}}", items.join(", "))
            }
        }
    }

    /// Optuna's `distribution_to_json` document, as a [`Json`] value.
    pub fn to_json_value(&self) -> Json {
        match self {
            Distribution::Float(d) => obj([
                ("name", Json::from("FloatDistribution")),
                (
                    "attributes",
                    obj([
                        ("step", d.step.map_or(Json::Null, Json::Float)),
                        ("low", Json::Float(d.low)),
                        ("high", Json::Float(d.high)),
                        ("log", Json::Bool(d.log)),
                    ]),
                ),
            ]),
            Distribution::Int(d) => obj([
                ("name", Json::from("IntDistribution")),
                (
                    "attributes",
                    obj([
                        ("log", Json::Bool(d.log)),
                        ("step", Json::Int(d.step)),
                        ("low", Json::Int(d.low)),
                        ("high", Json::Int(d.high)),
                    ]),
                ),
            ]),
            Distribution::Categorical(d) => obj([
                ("name", Json::from("CategoricalDistribution")),
                (
                    "attributes",
                    obj([(
                        "choices",
                        Json::Array(d.choices.iter().map(ParamValue::to_json).collect()),
                    )]),
                ),
            ]),
        }
    }

    /// Optuna's `distribution_to_json` string, byte for byte.
    pub fn to_optuna_json(&self) -> String {
        self.to_json_value().to_python_default()
    }

    /// Reads Optuna's distribution JSON: the current `Float`/`Int`/`CategoricalDistribution`
    /// documents, the deprecated `Uniform`/`LogUniform`/`DiscreteUniform`/`IntUniform`/
    /// `IntLogUniform` ones, and the short `{"type": "float"|"int"|"categorical", …}` form.
    /// The result is validated.
    pub fn from_json(param: &str, v: &Json) -> Result<Distribution, SpaceError> {
        let bad = |msg: String| SpaceError::BadJson {
            param: param.to_string(),
            msg,
        };
        let num = |a: &Json, key: &str| -> Result<f64, SpaceError> {
            a.get(key)
                .and_then(Json::as_f64)
                .ok_or_else(|| bad(format!("attribute `{key}` must be a number")))
        };
        let int = |a: &Json, key: &str| -> Result<i64, SpaceError> {
            a.get(key)
                .and_then(Json::as_i64)
                .ok_or_else(|| bad(format!("attribute `{key}` must be an integer")))
        };
        let flag = |a: &Json, key: &str| -> Result<bool, SpaceError> {
            match a.get(key) {
                None | Some(Json::Null) => Ok(false),
                Some(Json::Bool(b)) => Ok(*b),
                Some(_) => Err(bad(format!("attribute `{key}` must be true or false"))),
            }
        };
        let opt_num = |a: &Json, key: &str| -> Result<Option<f64>, SpaceError> {
            match a.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(x) => x
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| bad(format!("attribute `{key}` must be a number or null"))),
            }
        };
        let choices = |a: &Json| -> Result<Vec<ParamValue>, SpaceError> {
            let list = a
                .get("choices")
                .and_then(Json::as_array)
                .ok_or_else(|| bad("attribute `choices` must be a list".to_string()))?;
            list.iter()
                .map(|c| {
                    ParamValue::from_json(c).ok_or_else(|| {
                        bad("choices must be strings, numbers, booleans or null".to_string())
                    })
                })
                .collect()
        };
        if v.as_object().is_none() {
            return Err(bad(format!(
                "a distribution must be a JSON object, got {}",
                v.to_compact()
            )));
        }
        let dist = if let Some(name) = v.get("name").and_then(Json::as_str) {
            let a = v
                .get("attributes")
                .ok_or_else(|| bad(format!("{name} needs `attributes`")))?;
            match name {
                "FloatDistribution" => Distribution::Float(FloatDistribution {
                    low: num(a, "low")?,
                    high: num(a, "high")?,
                    log: flag(a, "log")?,
                    step: opt_num(a, "step")?,
                }),
                "IntDistribution" => Distribution::Int(IntDistribution {
                    low: int(a, "low")?,
                    high: int(a, "high")?,
                    log: flag(a, "log")?,
                    step: match a.get("step") {
                        None | Some(Json::Null) => 1,
                        Some(_) => int(a, "step")?,
                    },
                }),
                "CategoricalDistribution" => Distribution::Categorical(CategoricalDistribution {
                    choices: choices(a)?,
                }),
                "UniformDistribution" => Distribution::float(num(a, "low")?, num(a, "high")?),
                "LogUniformDistribution" => {
                    Distribution::float_log(num(a, "low")?, num(a, "high")?)
                }
                "DiscreteUniformDistribution" => {
                    Distribution::float_step(num(a, "low")?, num(a, "high")?, num(a, "q")?)
                }
                "IntUniformDistribution" => Distribution::int_step(
                    int(a, "low")?,
                    int(a, "high")?,
                    match a.get("step") {
                        None | Some(Json::Null) => 1,
                        Some(_) => int(a, "step")?,
                    },
                ),
                "IntLogUniformDistribution" => {
                    Distribution::int_log(int(a, "low")?, int(a, "high")?)
                }
                other => {
                    return Err(bad(format!(
                        "unknown distribution `{other}`; supported: FloatDistribution, \
                         IntDistribution, CategoricalDistribution (and the deprecated \
                         UniformDistribution, LogUniformDistribution, \
                         DiscreteUniformDistribution, IntUniformDistribution, \
                         IntLogUniformDistribution)"
                    )));
                }
            }
        } else if let Some(kind) = v.get("type").and_then(Json::as_str) {
            match kind {
                "float" => Distribution::Float(FloatDistribution {
                    low: num(v, "low")?,
                    high: num(v, "high")?,
                    log: flag(v, "log")?,
                    step: opt_num(v, "step")?,
                }),
                "int" => Distribution::Int(IntDistribution {
                    low: int(v, "low")?,
                    high: int(v, "high")?,
                    log: flag(v, "log")?,
                    step: match v.get("step") {
                        None | Some(Json::Null) => 1,
                        Some(_) => int(v, "step")?,
                    },
                }),
                "categorical" => Distribution::Categorical(CategoricalDistribution {
                    choices: choices(v)?,
                }),
                other => {
                    return Err(bad(format!(
                        "unknown type `{other}`; supported: float, int, categorical"
                    )));
                }
            }
        } else {
            return Err(bad(
                "a distribution needs `name` and `attributes` (or the short form's `type`)"
                    .to_string(),
            ));
        };
        dist.validate(param)?;
        Ok(dist)
    }

    /// Parses Optuna's distribution JSON from a string (as stored in journals).
    pub fn from_json_str(param: &str, text: &str) -> Result<Distribution, SpaceError> {
        let v = Json::parse(text).map_err(|e| SpaceError::BadJson {
            param: param.to_string(),
            msg: format!("invalid JSON: {e}"),
        })?;
        Distribution::from_json(param, &v)
    }
}

/// Parses a search space given as `{name: distribution-JSON}` (the `--search-space` of
/// `optuna ask`); each value may be a JSON object or a JSON string holding one.
pub fn search_space_from_json(text: &str) -> Result<SearchSpace, SpaceError> {
    let doc = Json::parse(text).map_err(|e| SpaceError::BadJson {
        param: "<search space>".into(),
        msg: format!("invalid JSON: {e}"),
    })?;
    let pairs = doc.as_object().ok_or_else(|| SpaceError::BadJson {
        param: "<search space>".into(),
        msg: "the search space must be a JSON object of name → distribution".into(),
    })?;
    let mut space = SearchSpace::new();
    for (name, v) in pairs {
        let dist = match v {
            Json::Str(s) => Distribution::from_json_str(name, s)?,
            other => Distribution::from_json(name, other)?,
        };
        space.insert(name.clone(), dist);
    }
    Ok(space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_byte_identical_to_optuna() {
        assert_eq!(
            Distribution::float_log(0.0001, 0.1).to_optuna_json(),
            r#"{"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0001, "high": 0.1, "log": true}}"#
        );
        assert_eq!(
            Distribution::int(1, 4).to_optuna_json(),
            r#"{"name": "IntDistribution", "attributes": {"log": false, "step": 1, "low": 1, "high": 4}}"#
        );
        assert_eq!(
            Distribution::categorical(["adam", "sgd"]).to_optuna_json(),
            r#"{"name": "CategoricalDistribution", "attributes": {"choices": ["adam", "sgd"]}}"#
        );
        assert_eq!(
            Distribution::float_step(0.0, 0.5, 0.1).to_optuna_json(),
            r#"{"name": "FloatDistribution", "attributes": {"step": 0.1, "low": 0.0, "high": 0.5, "log": false}}"#
        );
    }

    #[test]
    fn round_trips_all_forms() {
        for d in [
            Distribution::float(-1.0, 1.0),
            Distribution::float_log(1e-5, 1.0),
            Distribution::float_step(0.0, 1.0, 0.25),
            Distribution::int(0, 10),
            Distribution::int_log(1, 100),
            Distribution::int_step(0, 10, 2),
            Distribution::Categorical(CategoricalDistribution {
                choices: vec![
                    ParamValue::Str("a".into()),
                    ParamValue::Int(1),
                    ParamValue::Float(2.5),
                    ParamValue::Bool(true),
                    ParamValue::Null,
                ],
            }),
        ] {
            let back = Distribution::from_json_str("x", &d.to_optuna_json()).unwrap();
            assert_eq!(back, d);
        }
        let old =
            r#"{"name": "LogUniformDistribution", "attributes": {"low": 0.001, "high": 1.0}}"#;
        assert_eq!(
            Distribution::from_json_str("lr", old).unwrap(),
            Distribution::float_log(0.001, 1.0)
        );
        let short = r#"{"type": "int", "low": 0, "high": 8, "step": 2}"#;
        assert_eq!(
            Distribution::from_json_str("n", short).unwrap(),
            Distribution::int_step(0, 8, 2)
        );
    }

    #[test]
    fn invalid_distributions_name_param_and_rule() {
        let cases: Vec<(Distribution, &str)> = vec![
            (Distribution::float(2.0, 1.0), "low must be <= high"),
            (Distribution::float_log(0.0, 1.0), "log scale needs low > 0"),
            (
                Distribution::Float(FloatDistribution {
                    low: 0.1,
                    high: 1.0,
                    log: true,
                    step: Some(0.1),
                }),
                "log and step cannot be used together",
            ),
            (Distribution::float_step(0.0, 1.0, 0.3), "does not fit"),
            (Distribution::float_step(0.0, 1.0, -0.1), "step must be > 0"),
            (Distribution::int(5, 1), "low must be <= high"),
            (Distribution::int_log(0, 10), "log scale needs low >= 1"),
            (
                Distribution::Int(IntDistribution {
                    low: 1,
                    high: 9,
                    log: true,
                    step: 2,
                }),
                "log and step cannot be used together",
            ),
            (Distribution::int_step(0, 10, 3), "does not fit"),
            (Distribution::int_step(0, 10, 0), "step must be >= 1"),
            (
                Distribution::categorical(Vec::<&str>::new()),
                "at least one choice",
            ),
        ];
        for (d, rule) in cases {
            let err = d.validate("my_param").unwrap_err().to_string();
            assert!(err.contains("my_param"), "{err}");
            assert!(err.contains(rule), "{err} should mention {rule}");
        }
        assert!(
            Distribution::float_step(0.0, 1.0, 0.1)
                .validate("x")
                .is_ok()
        );
        assert!(
            Distribution::float_step(-10.2, 10.2, 0.1)
                .validate("x")
                .is_ok()
        );
    }

    #[test]
    fn internal_external_and_contains() {
        let c = Distribution::categorical(["a", "b", "c"]);
        assert_eq!(c.to_internal("p", &"b".into()).unwrap(), 1.0);
        assert_eq!(c.to_external(2.0), ParamValue::Str("c".into()));
        assert!(c.to_internal("p", &"z".into()).is_err());
        let i = Distribution::int_step(0, 10, 2);
        assert!(i.contains(4.0) && !i.contains(5.0) && !i.contains(12.0));
        assert!(Distribution::float_step(0.0, 1.0, 0.1).contains(0.30000000000000004));
        assert!(Distribution::int(3, 3).single());
        assert!(Distribution::float_step(0.0, 0.05, 0.1).single());
        assert!(!Distribution::float(0.0, 1.0).single());
    }

    #[test]
    fn search_space_document() {
        let s = search_space_from_json(
            r#"{"x": {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": false, "step": null}},
                "y": "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 0, \"high\": 3}}"}"#,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        let err = search_space_from_json(r#"{"x": {"name": "Bogus", "attributes": {}}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown distribution `Bogus`"), "{err}");
        assert!(search_space_from_json("[1,2").is_err());
    }
}
