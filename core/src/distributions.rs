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

crate::json::from_variants!(ParamValue { f64 => Float, i64 => Int, bool => Bool });

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

impl IntDistribution {
    /// The largest integer magnitude up to which `f64` holds every integer exactly (2^53).
    const F64_EXACT: u64 = 1 << 53;

    /// The external int of an internal `f64` (what [`Distribution::to_external`] gives).
    ///
    /// * Outside `[low as f64, high as f64]`: the value rounded (saturating at the `i64`
    ///   bounds). Optuna uses such grid points and fixed parameters anyway.
    /// * Inside, when `low` and `high` are within ±2^53 (every int of the range is an exact
    ///   `f64`) and the value is integral: the value itself, on the step grid or not (an
    ///   off-grid grid point or fixed parameter is used anyway, as in Optuna).
    /// * Otherwise inside (a fractional value, or bounds beyond 2^53 where the internal value
    ///   may have been rounded by `f64`): the grid point `low + k * step` nearest to the
    ///   value that lies in `[low, high]`, computed exactly.
    ///
    /// `NaN` gives `low`. No input panics or overflows.
    pub fn external(&self, internal: f64) -> i64 {
        if internal.is_nan() {
            return self.low;
        }
        if self.low > self.high || self.step <= 0 {
            // Not a valid distribution (see `Distribution::validate`): no grid to snap to.
            return internal.round() as i64;
        }
        if internal < self.low as f64 || internal > self.high as f64 {
            return internal.round() as i64;
        }
        let exact_bounds = self.low.unsigned_abs() <= Self::F64_EXACT
            && self.high.unsigned_abs() <= Self::F64_EXACT;
        if exact_bounds && internal.fract() == 0.0 {
            return internal as i64;
        }
        self.nearest_grid_point(internal)
    }

    /// The grid point `low + k * step` in `[low, high]` nearest to `x` (ties go up), in
    /// exact integer arithmetic. Needs `low <= high`, `step >= 1` and
    /// `low as f64 <= x <= high as f64`.
    fn nearest_grid_point(&self, x: f64) -> i64 {
        let low = i128::from(self.low);
        let step = i128::from(self.step.max(1));
        let top = low + (i128::from(self.high) - low).max(0) / step * step;
        // `floor` and `frac` are exact: below 2^52 in magnitude `x - floor(x)` is exact,
        // above every f64 is an integer; `floor` is within ±2^63, so i128 holds it.
        let floor = x.floor();
        let frac = x - floor;
        let n = floor as i128;
        let g = if n < low {
            low
        } else if n >= top {
            top
        } else {
            let r = (n - low) % step;
            let below = n - r;
            // `x` lies `r + frac` above `below` and `step - r - frac` below the next point.
            let gap = step - 2 * r;
            let up = gap <= 0 || (gap <= 2 && 2.0 * frac >= gap as f64);
            if up { (below + step).min(top) } else { below }
        };
        i64::try_from(g).unwrap_or(self.low)
    }
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

/// The rule a range with `low > high` breaks.
fn low_above_high(param: &str, low: impl fmt::Display, high: impl fmt::Display) -> SpaceError {
    invalid(
        param,
        format!("low must be <= high, but low = {low} and high = {high}"),
    )
}

/// The rule a `step` that does not divide `high - low` breaks; `adjusted` is the nearest valid
/// high.
fn off_grid<T: fmt::Display>(
    param: &str,
    step: T,
    low: T,
    high: T,
    adjusted: impl fmt::Display,
) -> SpaceError {
    invalid(
        param,
        format!(
            "step {step} does not fit the range [{low}, {high}]: high - low must be a multiple of \
             step (nearest valid high: {adjusted})"
        ),
    )
}

fn fits_grid(low: f64, high: f64, step: f64) -> bool {
    let n = (high - low) / step;
    (n - n.round()).abs() <= 1e-8 * n.abs().max(1.0)
}

impl Distribution {
    /// A float distribution on `low..=high`, log-scaled or not, on a `step` grid or not.
    pub fn float_with(low: f64, high: f64, log: bool, step: Option<f64>) -> Self {
        Distribution::Float(FloatDistribution {
            low,
            high,
            log,
            step,
        })
    }

    /// An integer distribution on `low..=high`, log-scaled or not, on a `step` grid.
    pub fn int_with(low: i64, high: i64, log: bool, step: i64) -> Self {
        Distribution::Int(IntDistribution {
            low,
            high,
            log,
            step,
        })
    }

    /// A plain float distribution.
    pub fn float(low: f64, high: f64) -> Self {
        Self::float_with(low, high, false, None)
    }

    /// A log-scaled float distribution.
    pub fn float_log(low: f64, high: f64) -> Self {
        Self::float_with(low, high, true, None)
    }

    /// A float distribution on a grid.
    pub fn float_step(low: f64, high: f64, step: f64) -> Self {
        Self::float_with(low, high, false, Some(step))
    }

    /// An integer distribution with step 1.
    pub fn int(low: i64, high: i64) -> Self {
        Self::int_with(low, high, false, 1)
    }

    /// A log-scaled integer distribution.
    pub fn int_log(low: i64, high: i64) -> Self {
        Self::int_with(low, high, true, 1)
    }

    /// An integer distribution on a grid.
    pub fn int_step(low: i64, high: i64, step: i64) -> Self {
        Self::int_with(low, high, false, step)
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
                    return Err(low_above_high(param, d.low, d.high));
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
                        return Err(off_grid(param, step, d.low, d.high, adjusted));
                    }
                }
                Ok(())
            }
            Distribution::Int(d) => {
                if d.low > d.high {
                    return Err(low_above_high(param, d.low, d.high));
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
                // In i128: `high - low` of an i64 range needs 65 bits (Python's ints have
                // no bound, so `suggest_int(name, -2**63, 2**63 - 1)` is valid).
                let span = i128::from(d.high) - i128::from(d.low);
                let step = i128::from(d.step);
                if span % step != 0 {
                    let adjusted = i128::from(d.low) + span / step * step;
                    return Err(off_grid(param, d.step, d.low, d.high, adjusted));
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
            Distribution::Int(d) => {
                d.low == d.high || i128::from(d.high) - i128::from(d.low) < i128::from(d.step)
            }
            Distribution::Categorical(d) => d.choices.len() == 1,
        }
    }

    /// Whether it is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, Distribution::Categorical(_))
    }

    /// Converts an external value to the internal `f64`. A value the distribution cannot
    /// hold is an [`SpaceError::OutOfDomain`]: a non-number or NaN for a float, a non-integer
    /// for an int, anything but one of the choices for a categorical. Numbers outside the
    /// range are converted (Optuna uses such grid points and fixed values anyway).
    pub fn to_internal(&self, param: &str, value: &ParamValue) -> Result<f64, SpaceError> {
        let bad = || SpaceError::OutOfDomain {
            param: param.to_string(),
            value: value.to_string(),
            dist: self.describe(),
        };
        match self {
            // NaN is no float parameter's value: Optuna's `FloatDistribution.to_internal_repr`
            // raises for it (a value outside the range, even infinite, is used anyway).
            Distribution::Float(_) => match value {
                ParamValue::Float(f) if !f.is_nan() => Ok(*f),
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
    ///
    /// For an int parameter, an internal value outside the range is a value used anyway
    /// (a grid point or fixed parameter outside the range, as Optuna allows) and is kept,
    /// rounded. One inside the range always gives an int inside `[low, high]` on the step
    /// grid: `f64` holds every integer only up to 2^53, so for bounds beyond that the
    /// internal value is an approximation (`2^53 + 1` is stored as `2^53`), and it is mapped
    /// to the nearest grid point rather than to an int outside the range. See
    /// [`IntDistribution::external`].
    pub fn to_external(&self, internal: f64) -> ParamValue {
        match self {
            Distribution::Float(_) => ParamValue::Float(internal),
            Distribution::Int(d) => ParamValue::Int(d.external(internal)),
            Distribution::Categorical(d) => {
                let i = (internal.max(0.0) as usize).min(d.choices.len().saturating_sub(1));
                d.choices.get(i).cloned().unwrap_or(ParamValue::Null)
            }
        }
    }

    /// Whether an external value lies in the distribution: [`Distribution::contains`] of
    /// its internal value, except that an int is checked in exact integer arithmetic, so a
    /// grid point of a range beyond ±2^53 (which `f64` cannot hold) still counts.
    pub fn contains_value(&self, value: &ParamValue) -> bool {
        match (self, value) {
            (Distribution::Int(d), ParamValue::Int(v)) => {
                let (v, low, high) = (i128::from(*v), i128::from(d.low), i128::from(d.high));
                d.step > 0 && v >= low && v <= high && (v - low) % i128::from(d.step) == 0
            }
            _ => self
                .to_internal("", value)
                .is_ok_and(|internal| self.contains(internal)),
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
                // Exact integer arithmetic: an integral f64 within ±2^63 converts to i128
                // without loss, and `v - low` of an i64 range needs 65 bits.
                if !internal.is_finite() || internal.fract() != 0.0 || d.step <= 0 {
                    return false;
                }
                let v = internal as i128;
                let (low, high) = (i128::from(d.low), i128::from(d.high));
                v >= low && v <= high && (v - low) % i128::from(d.step) == 0
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
        // Attributes in the order Optuna writes them.
        let (name, attributes) = match self {
            Distribution::Float(d) => (
                "FloatDistribution",
                obj([
                    ("step", d.step.map_or(Json::Null, Json::Float)),
                    ("low", Json::Float(d.low)),
                    ("high", Json::Float(d.high)),
                    ("log", Json::Bool(d.log)),
                ]),
            ),
            Distribution::Int(d) => (
                "IntDistribution",
                obj([
                    ("log", Json::Bool(d.log)),
                    ("step", Json::Int(d.step)),
                    ("low", Json::Int(d.low)),
                    ("high", Json::Int(d.high)),
                ]),
            ),
            Distribution::Categorical(d) => (
                "CategoricalDistribution",
                obj([(
                    "choices",
                    Json::Array(d.choices.iter().map(ParamValue::to_json).collect()),
                )]),
            ),
        };
        obj([("name", Json::from(name)), ("attributes", attributes)])
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
        // The three current kinds, from an attributes object (or the short form itself).
        let int_step = |a: &Json| match a.get("step") {
            None | Some(Json::Null) => Ok(1),
            Some(_) => int(a, "step"),
        };
        let float = |a: &Json| -> Result<Distribution, SpaceError> {
            let (low, high, log) = (num(a, "low")?, num(a, "high")?, flag(a, "log")?);
            Ok(Distribution::float_with(
                low,
                high,
                log,
                opt_num(a, "step")?,
            ))
        };
        let integer = |a: &Json| -> Result<Distribution, SpaceError> {
            let (low, high, log) = (int(a, "low")?, int(a, "high")?, flag(a, "log")?);
            Ok(Distribution::int_with(low, high, log, int_step(a)?))
        };
        let categorical = |a: &Json| -> Result<Distribution, SpaceError> {
            Ok(Distribution::Categorical(CategoricalDistribution {
                choices: choices(a)?,
            }))
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
                "FloatDistribution" => float(a)?,
                "IntDistribution" => integer(a)?,
                "CategoricalDistribution" => categorical(a)?,
                "UniformDistribution" => Distribution::float(num(a, "low")?, num(a, "high")?),
                "LogUniformDistribution" => {
                    Distribution::float_log(num(a, "low")?, num(a, "high")?)
                }
                "DiscreteUniformDistribution" => {
                    Distribution::float_step(num(a, "low")?, num(a, "high")?, num(a, "q")?)
                }
                "IntUniformDistribution" => {
                    Distribution::int_step(int(a, "low")?, int(a, "high")?, int_step(a)?)
                }
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
                "float" => float(v)?,
                "int" => integer(v)?,
                "categorical" => categorical(v)?,
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
                Distribution::float_with(0.1, 1.0, true, Some(0.1)),
                "log and step cannot be used together",
            ),
            (Distribution::float_step(0.0, 1.0, 0.3), "does not fit"),
            (Distribution::float_step(0.0, 1.0, -0.1), "step must be > 0"),
            (Distribution::int(5, 1), "low must be <= high"),
            (Distribution::int_log(0, 10), "log scale needs low >= 1"),
            (
                Distribution::int_with(1, 9, true, 2),
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

    fn int_dist(low: i64, high: i64, step: i64) -> IntDistribution {
        IntDistribution {
            low,
            high,
            log: false,
            step,
        }
    }

    #[test]
    fn int_ranges_beyond_i64_differences_do_not_overflow() {
        // Python's `suggest_int("k", -2**63, 2**63 - 1)` is valid; `high - low` once
        // overflowed ("attempt to subtract with overflow") in validate, single and contains.
        let cases = [
            Distribution::int(i64::MIN, 0),
            Distribution::int(i64::MIN, i64::MAX),
            Distribution::int(0, i64::MAX),
            Distribution::int_step(i64::MIN, i64::MAX, 3),
            Distribution::int_step(i64::MIN, i64::MAX, 5),
            Distribution::int_log(1, i64::MAX),
        ];
        for d in &cases {
            d.validate("k").unwrap();
            assert!(!d.single(), "{}", d.describe());
            for x in [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -9.3e18,
                i64::MIN as f64,
                -1.0,
                0.0,
                0.5,
                1.0,
                i64::MAX as f64,
                9.3e18,
                1e300,
            ] {
                let _ = d.contains(x);
                let _ = d.to_external(x);
            }
        }
        let full = Distribution::int(i64::MIN, i64::MAX);
        assert!(full.contains(i64::MIN as f64) && full.contains(0.0));
        // 2^63 is the f64 nearest to i64::MAX, but it is not in the range.
        assert!(!full.contains(i64::MAX as f64));
        assert_eq!(full.to_external(i64::MAX as f64), ParamValue::Int(i64::MAX));
        assert_eq!(full.to_external(i64::MIN as f64), ParamValue::Int(i64::MIN));
        // 2^63 - 1 - (-2^63) = 2^64 - 1 = 3 * 5 * ...: (2^63 - (-2^63)) % 3 = 2.
        assert!(!Distribution::int_step(i64::MIN, i64::MAX, 3).contains(0.0));
        assert!(Distribution::int_step(i64::MIN, i64::MAX, 3).contains(1.0));
        let err = Distribution::int_step(i64::MIN, i64::MAX, 2)
            .validate("k")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nearest valid high: 9223372036854775806"),
            "{err}"
        );
        assert!(Distribution::int_step(i64::MAX - 1, i64::MAX, i64::MAX).single());
        assert!(
            Distribution::int_step(i64::MIN, i64::MAX, i64::MAX)
                .validate("k")
                .is_err()
        );
        assert!(Distribution::int(i64::MIN, i64::MIN).single());
    }

    #[test]
    fn int_values_beyond_2_pow_53_stay_in_range_and_on_the_grid() {
        // f64 holds 9007199254740993 (2^53 + 1) as 2^53 and 9007199254740995 as 2^53 + 4:
        // rounding the internal value once gave 9007199254740996, outside the range.
        let d = int_dist(9007199254740993, 9007199254740995, 1);
        let mut x = d.low as f64;
        while x <= d.high as f64 {
            let v = d.external(x);
            assert!((d.low..=d.high).contains(&v), "{x} gave {v}");
            x = x.next_up();
        }
        assert_eq!(d.external(9007199254740996.0), 9007199254740995);
        assert_eq!(d.external(9007199254740992.0), 9007199254740993);
        assert_eq!(d.external(9007199254740994.0), 9007199254740994);
        // Random draws through the public conversion, on wide and stepped ranges.
        let dists = [
            d,
            int_dist(i64::MIN, 0, 1),
            int_dist(i64::MIN, i64::MAX, 1),
            int_dist(i64::MIN, i64::MAX, 3),
            int_dist(i64::MAX - 4000, i64::MAX, 1000),
            int_dist(-(1 << 60), 1 << 60, 1 << 40),
            int_dist((1 << 60) + 1, (1 << 60) + 3001, 3),
            IntDistribution {
                low: 1,
                high: i64::MAX,
                log: true,
                step: 1,
            },
        ];
        let mut rng = crate::samplers::trial_rng(7, 0, 0);
        for d in dists {
            let dist = Distribution::Int(d.clone());
            dist.validate("k").unwrap();
            for _ in 0..2000 {
                let x = crate::samplers::RandomSampler::draw(&mut rng, &dist);
                let ParamValue::Int(v) = dist.to_external(x) else {
                    panic!("not an int")
                };
                assert!(
                    (d.low..=d.high).contains(&v),
                    "{} gave {v}",
                    dist.describe()
                );
                let k = i128::from(v) - i128::from(d.low);
                assert_eq!(k % i128::from(d.step), 0, "{} gave {v}", dist.describe());
            }
        }
    }

    #[test]
    fn int_external_keeps_values_used_anyway_and_snaps_fractions() {
        // Optuna uses a grid point or fixed value outside the range (or off the step grid)
        // as it is; f64 holds these exactly, so they come back unchanged.
        let d = Distribution::int_step(0, 10, 2);
        assert_eq!(d.to_external(12.0), ParamValue::Int(12));
        assert_eq!(d.to_external(-3.0), ParamValue::Int(-3));
        assert_eq!(d.to_external(3.0), ParamValue::Int(3));
        assert_eq!(d.to_external(1e300), ParamValue::Int(i64::MAX));
        // A fractional internal value goes to the nearest grid point inside the range.
        assert_eq!(d.to_external(3.4), ParamValue::Int(4));
        assert_eq!(d.to_external(2.9), ParamValue::Int(2));
        assert_eq!(d.to_external(9.9), ParamValue::Int(10));
        assert_eq!(d.to_external(f64::NAN), ParamValue::Int(0));
        assert_eq!(
            Distribution::int(-5, 5).to_external(-2.4),
            ParamValue::Int(-2)
        );
    }

    #[test]
    fn nan_is_no_float_value() {
        // Optuna's FloatDistribution.to_internal_repr raises for NaN (a NaN parameter in a
        // journal stops Python's load_study); out-of-range and infinite values are kept.
        let f = Distribution::float(0.0, 1.0);
        let err = f
            .to_internal("x", &ParamValue::Float(f64::NAN))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("parameter `x`") && err.contains("NaN"),
            "{err}"
        );
        assert_eq!(f.to_internal("x", &ParamValue::Float(2.0)), Ok(2.0));
        assert_eq!(
            f.to_internal("x", &ParamValue::Float(f64::INFINITY)),
            Ok(f64::INFINITY)
        );
        assert!(
            Distribution::int(0, 3)
                .to_internal("n", &ParamValue::Float(f64::NAN))
                .is_err()
        );
        // A NaN categorical choice stays a valid choice (Optuna matches NaN to NaN).
        let c = Distribution::categorical([ParamValue::Float(f64::NAN), ParamValue::Int(1)]);
        assert_eq!(c.to_internal("c", &ParamValue::Float(f64::NAN)), Ok(0.0));
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
