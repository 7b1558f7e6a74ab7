//! Sweep configuration: a Weights & Biases sweep YAML, mapped onto sweeplab's samplers,
//! pruners and Optuna distributions. The CLI sweep, the headless sweep and the browser
//! playground all load this one type, [`SweepConfig`].
//!
//! ```
//! use sweeplab_core::config::SweepConfig;
//!
//! let cfg = SweepConfig::from_yaml_str(
//!     "method: bayes\n\
//!      metric: {name: val_loss, goal: minimize}\n\
//!      run_cap: 20\n\
//!      parameters:\n  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n  epochs: {value: 10}\n",
//! )?;
//! assert_eq!(cfg.n_trials(), Some(20));
//! assert!(cfg.search_space().contains_key("lr"));
//! assert_eq!(cfg.fixed_values()["epochs"], sweeplab_core::Json::Int(10));
//! let study = cfg.create_study("demo")?;
//! assert_eq!(study.sampler().name(), "TPESampler");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is read
//!
//! Top level: `method` (`grid`, `random`, `bayes` → our TPE), `metric` {`name`, `goal`},
//! `parameters`, `early_terminate` (`hyperband`), `run_cap` (→ number of trials), the
//! descriptive keys `name`, `description`, `program`, `command`, `entity`, `project` (kept,
//! no effect on the search), and sweeplab's own block `sweeplab:` (`dataset`, `model`,
//! `seed`, `pruner`, `tpe` (`sweeplab`, the default, or `optuna`: which defaults `bayes`'s
//! TPE starts from, see [`TpeDefaults`]), and any other trainer setting, passed through in
//! [`SweeplabSettings::settings`]). Any other key is an error naming it and listing these.
//!
//! # Parameters
//!
//! W&B's default rules pick the distribution when `distribution` is absent: `value` →
//! constant, `values` → categorical, integer `min`/`max` → `int_uniform`, otherwise
//! `uniform`. Constants are fixed settings ([`SweepConfig::fixed_values`]), not searched.
//! The others become Optuna distributions:
//!
//! | W&B distribution | sweeplab / Optuna distribution |
//! |---|---|
//! | `categorical` (`values`) | `CategoricalDistribution(values)` (scalars only) |
//! | `int_uniform` | `IntDistribution(min, max)` |
//! | `uniform` | `FloatDistribution(min, max)` |
//! | `log_uniform_values`, `inv_log_uniform_values` | `FloatDistribution(min, max, log=True)` (`log(1/X)` uniform on `[log(1/max), log(1/min)]` is the same law) |
//! | `log_uniform` (exponents) | `FloatDistribution(e^min, e^max, log=True)` |
//! | `inv_log_uniform` (exponents) | `FloatDistribution(e^-max, e^-min, log=True)` |
//! | `q_uniform` | the multiples of `q` inside `[min, max]`: `IntDistribution(step=q)` when `q` is an integer, else `FloatDistribution(step=q)` |
//! | `q_log_uniform_values`, `q_log_uniform` | integer `q = 1`: `IntDistribution(min, max, log=True)`; otherwise the multiples of `q` inside the range, **uniform** (`step=q`): Optuna cannot combine `log` with a step |
//! | `normal`, `log_normal` | **approximated**: `FloatDistribution(mu ± 3·sigma)` (log: `e^(mu ± 3·sigma)`, `log=True`); Optuna has no unbounded distributions |
//! | `q_normal`, `q_log_normal` | the multiples of `q` inside the ±3·sigma range (`step=q`) |
//! | `beta`, `q_beta`, `categorical_w_probabilities` | rejected: no Optuna equivalent |
//!
//! Nested `parameters:` blocks (which W&B's own sweep controller silently drops) are
//! **flattened**: `model: {parameters: {width: …}}` becomes the parameter `model.width`.
//!
//! # Early termination and pruners
//!
//! `early_terminate: {type: hyperband, min_iter, eta}` becomes
//! `HyperbandPruner(min_resource=min_iter, max_resource="auto", reduction_factor=eta)`;
//! with `max_iter` and `s` instead, `min_resource` is W&B's smallest band
//! (`max_iter / eta^s`, rounded down) and `max_resource = max_iter`. Alternatively
//! `sweeplab: {pruner: {type: …}}` names any of Optuna's pruners with its arguments.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use crate::distributions::{Distribution, ParamValue, SearchSpace};
use crate::json::Json;
use crate::pruners::{
    HyperbandPruner, NopPruner, PercentilePruner, Pruner, PrunerError, SuccessiveHalvingPruner,
};
use crate::samplers::{GridSampler, RandomSampler, Sampler, SamplerError, TpeDefaults, TpeSampler};
use crate::study::{Study, StudyDirection, StudyError};

/// Why a sweep configuration was rejected. Every message names the key (as a dotted path)
/// and, for something unsupported, what is supported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML (the message has the line and column).
    #[error("sweep config: invalid YAML: {0}")]
    Yaml(String),
    /// A key sweeplab does not know or support.
    #[error("sweep config: `{path}` is not supported; supported here: {supported}")]
    UnknownKey {
        /// The key, as a dotted path (`metric.target`).
        path: String,
        /// What is supported in its place.
        supported: String,
    },
    /// A required key is missing.
    #[error("sweep config: `{path}` is required{hint}")]
    Missing {
        /// The key, as a dotted path.
        path: String,
        /// More context (starts with `; ` when present).
        hint: String,
    },
    /// A value is of the wrong kind or out of range.
    #[error("sweep config: `{path}`: {msg}")]
    Invalid {
        /// The key, as a dotted path.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The sampler could not be built.
    #[error("sweep config: sampler: {0}")]
    Sampler(#[from] SamplerError),
    /// The pruner could not be built.
    #[error("sweep config: pruner: {0}")]
    Pruner(#[from] PrunerError),
    /// The study could not be created.
    #[error("sweep config: {0}")]
    Study(#[from] StudyError),
}

fn invalid(path: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_string(),
        msg: msg.into(),
    }
}

/// The search method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepMethod {
    /// Every combination once (`GridSampler`).
    Grid,
    /// Independent random draws (`RandomSampler`).
    Random,
    /// W&B's Bayesian search, done here by TPE (`TPESampler`).
    Bayes,
}

impl SweepMethod {
    /// W&B's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SweepMethod::Grid => "grid",
            SweepMethod::Random => "random",
            SweepMethod::Bayes => "bayes",
        }
    }
}

/// The metric the sweep optimises.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepMetric {
    /// The logged metric's name (e.g. `val_loss`).
    pub name: String,
    /// Minimise or maximise.
    pub goal: StudyDirection,
}

/// One parameter of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepParameter {
    /// A constant (`value:`): a fixed setting, passed to the trainer, not searched.
    Fixed(Json),
    /// A searched parameter.
    Search {
        /// Its Optuna distribution.
        distribution: Distribution,
        /// The W&B distribution it came from (`uniform`, `categorical`, …).
        wandb: String,
    },
}

/// `early_terminate: {type: hyperband, …}` as Optuna `HyperbandPruner` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HyperbandSettings {
    /// `min_resource` (W&B's first band).
    pub min_resource: i64,
    /// `max_resource`; `None` is Optuna's `"auto"`.
    pub max_resource: Option<i64>,
    /// `reduction_factor` (W&B's `eta`).
    pub reduction_factor: i64,
}

/// `sweeplab: {pruner: …}`: one of Optuna's pruners with its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum PrunerConfig {
    /// `type: none`.
    None,
    /// `type: median` (`MedianPruner`).
    Median {
        /// Trials before pruning starts (default 5).
        n_startup_trials: usize,
        /// Steps before pruning starts in a trial (default 0).
        n_warmup_steps: i64,
        /// Steps between checks (default 1).
        interval_steps: i64,
        /// Trials needed at a step (default 1).
        n_min_trials: usize,
    },
    /// `type: percentile` (`PercentilePruner`, `percentile` required).
    Percentile {
        /// The percentile, 0–100.
        percentile: f64,
        /// Trials before pruning starts (default 5).
        n_startup_trials: usize,
        /// Steps before pruning starts in a trial (default 0).
        n_warmup_steps: i64,
        /// Steps between checks (default 1).
        interval_steps: i64,
        /// Trials needed at a step (default 1).
        n_min_trials: usize,
    },
    /// `type: hyperband` (`HyperbandPruner`).
    Hyperband {
        /// Default 1.
        min_resource: i64,
        /// Default `"auto"` (`None`).
        max_resource: Option<i64>,
        /// Default 3.
        reduction_factor: i64,
        /// Default 0.
        bootstrap_count: usize,
    },
    /// `type: successive_halving` (`SuccessiveHalvingPruner`).
    SuccessiveHalving {
        /// Default `"auto"` (`None`).
        min_resource: Option<i64>,
        /// Default 4.
        reduction_factor: i64,
        /// Default 0.
        min_early_stopping_rate: i64,
        /// Default 0.
        bootstrap_count: usize,
    },
}

/// The `sweeplab:` block: sweeplab's own settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweeplabSettings {
    /// The data set to train on.
    pub dataset: Option<String>,
    /// The model to train.
    pub model: Option<String>,
    /// The sampler's seed.
    pub seed: Option<u64>,
    /// A pruner (instead of `early_terminate`).
    pub pruner: Option<PrunerConfig>,
    /// `tpe: sweeplab | optuna`: which defaults `method: bayes`'s TPE starts from
    /// (`None`: sweeplab's tuning, [`crate::TpeConfig::sweeplab`]).
    pub tpe: Option<TpeDefaults>,
    /// Every other key of the block, passed through to the trainer as it is.
    pub settings: BTreeMap<String, Json>,
}

/// A sweep configuration (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepConfig {
    /// The search method.
    pub method: SweepMethod,
    /// The metric to optimise (required by `bayes` and by `early_terminate`).
    pub metric: Option<SweepMetric>,
    /// Parameters by (flattened) name.
    pub parameters: BTreeMap<String, SweepParameter>,
    /// Hyperband early termination.
    pub early_terminate: Option<HyperbandSettings>,
    /// Maximum number of trials.
    pub run_cap: Option<u64>,
    /// Descriptive keys (`name`, `description`, `program`, `command`, `entity`, `project`).
    pub info: BTreeMap<String, Json>,
    /// The `sweeplab:` block.
    pub sweeplab: SweeplabSettings,
}

const TOP_KEYS: &str = "method, metric, parameters, early_terminate, run_cap, name, description, program, command, entity, project, sweeplab";
const INFO_KEYS: [&str; 6] = [
    "name",
    "description",
    "program",
    "command",
    "entity",
    "project",
];
const DISTRIBUTIONS: &str = "constant, categorical, int_uniform, uniform, q_uniform, log_uniform, log_uniform_values, inv_log_uniform, inv_log_uniform_values, q_log_uniform, q_log_uniform_values, normal, q_normal, log_normal, q_log_normal";
/// Largest grid `method: grid` enumerates.
const MAX_GRID: usize = 1_000_000;

// ------------------------------------------------------------------ YAML helpers

fn key_str<'a>(k: &'a Yaml, path: &str) -> Result<&'a str, ConfigError> {
    k.as_str()
        .ok_or_else(|| invalid(path, format!("keys must be strings, found {}", describe(k))))
}

fn describe(v: &Yaml) -> String {
    match v {
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => format!("the boolean {b}"),
        Yaml::Number(n) => format!("the number {n}"),
        Yaml::String(s) => format!("the string {s:?}"),
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping's entries with string keys, or an error naming `path`.
fn entries<'a>(v: &'a Yaml, path: &str) -> Result<Vec<(&'a str, &'a Yaml)>, ConfigError> {
    let m = v.as_mapping().ok_or_else(|| {
        invalid(
            if path.is_empty() {
                "sweep config"
            } else {
                path
            },
            format!("must be a mapping, found {}", describe(v)),
        )
    })?;
    m.iter()
        .map(|(k, val)| Ok((key_str(k, path)?, val)))
        .collect()
}

fn check_keys(items: &[(&str, &Yaml)], path: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    for (k, _) in items {
        if !allowed.contains(k) {
            return Err(ConfigError::UnknownKey {
                path: join(path, k),
                supported: allowed.join(", "),
            });
        }
    }
    Ok(())
}

fn lookup<'a>(items: &[(&str, &'a Yaml)], key: &str) -> Option<&'a Yaml> {
    items.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// YAML to sweeplab's JSON value (`.nan`/`.inf` become non-finite floats).
pub fn yaml_to_json(v: &Yaml, path: &str) -> Result<Json, ConfigError> {
    Ok(match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::Int(i)
            } else if let Some(f) = n.as_f64() {
                Json::Float(f)
            } else {
                return Err(invalid(path, format!("number {n} is out of range")));
            }
        }
        Yaml::String(s) => Json::Str(s.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| yaml_to_json(x, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(_) => Json::Object(
            entries(v, path)?
                .into_iter()
                .map(|(k, x)| Ok((k.to_string(), yaml_to_json(x, &join(path, k))?)))
                .collect::<Result<_, ConfigError>>()?,
        ),
        Yaml::Tagged(t) => {
            return Err(invalid(
                path,
                format!("YAML tags such as {} are not supported", t.tag),
            ));
        }
    })
}

fn number(v: &Yaml, path: &str) -> Result<f64, ConfigError> {
    v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
        invalid(
            path,
            format!("must be a finite number, found {}", describe(v)),
        )
    })
}

fn is_int(v: &Yaml) -> bool {
    v.is_i64() || v.is_u64()
}

fn integer(v: &Yaml, path: &str) -> Result<i64, ConfigError> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(invalid(
            path,
            format!("must be an integer, found {}", describe(v)),
        )),
    }
}

fn count(v: &Yaml, path: &str) -> Result<usize, ConfigError> {
    let i = integer(v, path)?;
    usize::try_from(i).map_err(|_| invalid(path, format!("must be >= 0, found {i}")))
}

fn string(v: &Yaml, path: &str) -> Result<String, ConfigError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(path, format!("must be a string, found {}", describe(v))))
}

// ------------------------------------------------------------------ parsing

impl SweepConfig {
    /// Reads a W&B sweep YAML (see the module documentation for what is accepted).
    pub fn from_yaml_str(text: &str) -> Result<SweepConfig, ConfigError> {
        let doc: Yaml =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        Self::from_yaml(&doc)
    }

    /// Reads an already-parsed YAML document.
    pub fn from_yaml(doc: &Yaml) -> Result<SweepConfig, ConfigError> {
        if doc.is_null() {
            return Err(ConfigError::Missing {
                path: "method".into(),
                hint: "; the sweep config is empty".into(),
            });
        }
        let top = entries(doc, "")?;
        for (k, _) in &top {
            let known = matches!(
                *k,
                "method" | "metric" | "parameters" | "early_terminate" | "run_cap" | "sweeplab"
            ) || INFO_KEYS.contains(k);
            if !known {
                let why = match *k {
                    "metrics" => " (multi-objective `metrics` with `method: custom`)",
                    "scheduler" | "controller" | "job" | "image_uri" | "apiVersion" | "kind" => {
                        " (W&B launch/controller settings)"
                    }
                    _ => "",
                };
                return Err(ConfigError::UnknownKey {
                    path: format!("{k}{why}"),
                    supported: TOP_KEYS.to_string(),
                });
            }
        }
        let method = match lookup(&top, "method") {
            None => {
                return Err(ConfigError::Missing {
                    path: "method".into(),
                    hint: "; supported: grid, random, bayes".into(),
                });
            }
            Some(v) => match v.as_str() {
                Some("grid") => SweepMethod::Grid,
                Some("random") => SweepMethod::Random,
                Some("bayes") => SweepMethod::Bayes,
                Some(other) => {
                    return Err(ConfigError::UnknownKey {
                        path: format!("method: {other}"),
                        supported: "method: grid | random | bayes".into(),
                    });
                }
                None => {
                    return Err(invalid(
                        "method",
                        format!("must be grid, random or bayes, found {}", describe(v)),
                    ));
                }
            },
        };
        let metric = lookup(&top, "metric").map(parse_metric).transpose()?;
        let mut parameters = BTreeMap::new();
        match lookup(&top, "parameters") {
            None => {
                return Err(ConfigError::Missing {
                    path: "parameters".into(),
                    hint: String::new(),
                });
            }
            Some(p) => parse_parameters(p, "parameters", "", &mut parameters)?,
        }
        if parameters.is_empty() {
            return Err(invalid("parameters", "must define at least one parameter"));
        }
        let early_terminate = lookup(&top, "early_terminate")
            .map(parse_early_terminate)
            .transpose()?;
        let run_cap = match lookup(&top, "run_cap") {
            None => None,
            Some(v) => {
                let n = integer(v, "run_cap")?;
                if n < 1 {
                    return Err(invalid("run_cap", format!("must be > 0, found {n}")));
                }
                Some(n as u64)
            }
        };
        let mut info = BTreeMap::new();
        for k in INFO_KEYS {
            if let Some(v) = lookup(&top, k) {
                info.insert(k.to_string(), yaml_to_json(v, k)?);
            }
        }
        let sweeplab = match lookup(&top, "sweeplab") {
            None => SweeplabSettings::default(),
            Some(v) => parse_sweeplab(v)?,
        };
        let cfg = SweepConfig {
            method,
            metric,
            parameters,
            early_terminate,
            run_cap,
            info,
            sweeplab,
        };
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.method == SweepMethod::Bayes && self.metric.is_none() {
            return Err(ConfigError::Missing {
                path: "metric".into(),
                hint: "; `method: bayes` needs a metric to optimise".into(),
            });
        }
        if self.early_terminate.is_some() && self.metric.is_none() {
            return Err(ConfigError::Missing {
                path: "metric".into(),
                hint: "; `early_terminate` needs a metric".into(),
            });
        }
        if self.early_terminate.is_some() && self.sweeplab.pruner.is_some() {
            return Err(invalid(
                "sweeplab.pruner",
                "give either `early_terminate` or `sweeplab.pruner`, not both",
            ));
        }
        if self.method == SweepMethod::Grid {
            self.grid()?;
        }
        if self.sweeplab.tpe.is_some() && self.method != SweepMethod::Bayes {
            return Err(invalid(
                "sweeplab.tpe",
                format!(
                    "chooses the TPE of `method: bayes`; this sweep's method is {}",
                    self.method.name()
                ),
            ));
        }
        // Every distribution must pass Optuna's own checks.
        for (name, p) in &self.parameters {
            if let SweepParameter::Search { distribution, .. } = p {
                distribution
                    .validate(name)
                    .map_err(|e| invalid(&format!("parameters.{name}"), e.to_string()))?;
            }
        }
        Ok(())
    }
}

fn parse_metric(v: &Yaml) -> Result<SweepMetric, ConfigError> {
    let items = entries(v, "metric")?;
    check_keys(&items, "metric", &["name", "goal"])?;
    let name = match lookup(&items, "name") {
        Some(n) => string(n, "metric.name")?,
        None => {
            return Err(ConfigError::Missing {
                path: "metric.name".into(),
                hint: String::new(),
            });
        }
    };
    let goal = match lookup(&items, "goal") {
        None => StudyDirection::Minimize,
        Some(g) => match g.as_str() {
            Some("minimize") => StudyDirection::Minimize,
            Some("maximize") => StudyDirection::Maximize,
            _ => {
                return Err(invalid(
                    "metric.goal",
                    format!("must be minimize or maximize, found {}", describe(g)),
                ));
            }
        },
    };
    Ok(SweepMetric { name, goal })
}

fn parse_parameters(
    v: &Yaml,
    path: &str,
    prefix: &str,
    out: &mut BTreeMap<String, SweepParameter>,
) -> Result<(), ConfigError> {
    for (name, spec) in entries(v, path)? {
        let full = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let p = join(path, name);
        let items = entries(spec, &p)?;
        if let Some(nested) = lookup(&items, "parameters") {
            if items.len() > 1 {
                return Err(invalid(
                    &p,
                    "a nested `parameters:` block cannot have other keys beside it",
                ));
            }
            parse_parameters(nested, &join(&p, "parameters"), &full, out)?;
            continue;
        }
        if out.contains_key(&full) {
            return Err(invalid(
                &p,
                format!("the flattened name `{full}` is defined twice"),
            ));
        }
        out.insert(full, parse_parameter(&items, &p)?);
    }
    Ok(())
}

/// The multiples of `q` inside `[lo, hi]`: `(first, last)`, or `None` if there is none.
fn q_grid(lo: f64, hi: f64, q: f64) -> Option<(f64, f64)> {
    let tol = 1e-9;
    let first = (lo / q - tol).ceil() * q;
    let last = (hi / q + tol).floor() * q;
    (first <= last + tol * q.abs()).then_some((first, last))
}

/// Rounds away float noise from a multiple of `q` (`0.30000000000000004` → `0.3`).
fn tidy(x: f64, q: f64) -> f64 {
    let digits = (-q.abs().log10()).ceil().max(0.0) as i32 + 10;
    let scale = 10f64.powi(digits.min(300));
    let y = (x * scale).round() / scale;
    if y.is_finite() { y } else { x }
}

fn q_distribution(
    lo: f64,
    hi: f64,
    q: f64,
    q_is_int: bool,
    path: &str,
) -> Result<Distribution, ConfigError> {
    if q <= 0.0 {
        return Err(invalid(&join(path, "q"), format!("must be > 0, found {q}")));
    }
    let (first, last) = q_grid(lo, hi, q).ok_or_else(|| {
        invalid(
            path,
            format!("no multiple of q = {q} lies between {lo} and {hi}"),
        )
    })?;
    if q_is_int {
        Ok(Distribution::int_step(
            first.round() as i64,
            last.round() as i64,
            q.round() as i64,
        ))
    } else {
        Ok(Distribution::float_step(tidy(first, q), tidy(last, q), q))
    }
}

fn parse_parameter(items: &[(&str, &Yaml)], path: &str) -> Result<SweepParameter, ConfigError> {
    let get = |k: &str| lookup(items, k);
    let dist_name: String = match get("distribution") {
        Some(d) => string(d, &join(path, "distribution"))?,
        None => {
            if get("value").is_some() {
                "constant".into()
            } else if get("values").is_some() {
                "categorical".into()
            } else if let (Some(lo), Some(hi)) = (get("min"), get("max")) {
                if is_int(lo) && is_int(hi) {
                    "int_uniform".into()
                } else {
                    "uniform".into()
                }
            } else {
                return Err(ConfigError::Missing {
                    path: join(path, "distribution"),
                    hint: "; give `value`, `values`, `min` and `max`, or a `distribution`".into(),
                });
            }
        }
    };
    let allowed: &[&str] = match dist_name.as_str() {
        "constant" => &["distribution", "value"],
        "categorical" => &["distribution", "values"],
        "int_uniform"
        | "uniform"
        | "log_uniform"
        | "log_uniform_values"
        | "inv_log_uniform"
        | "inv_log_uniform_values" => &["distribution", "min", "max"],
        "q_uniform" | "q_log_uniform" | "q_log_uniform_values" => {
            &["distribution", "min", "max", "q"]
        }
        "normal" | "log_normal" => &["distribution", "mu", "sigma"],
        "q_normal" | "q_log_normal" => &["distribution", "mu", "sigma", "q"],
        "beta" | "q_beta" | "categorical_w_probabilities" => {
            return Err(ConfigError::UnknownKey {
                path: format!(
                    "{}: {dist_name} (it has no Optuna equivalent)",
                    join(path, "distribution")
                ),
                supported: DISTRIBUTIONS.to_string(),
            });
        }
        other => {
            return Err(ConfigError::UnknownKey {
                path: format!("{}: {other}", join(path, "distribution")),
                supported: DISTRIBUTIONS.to_string(),
            });
        }
    };
    check_keys(items, path, allowed)?;
    let need = |k: &str| {
        get(k).ok_or_else(|| ConfigError::Missing {
            path: join(path, k),
            hint: format!("; distribution {dist_name} needs it"),
        })
    };
    let num = |k: &str| -> Result<f64, ConfigError> { number(need(k)?, &join(path, k)) };
    let num_or = |k: &str, default: f64| -> Result<f64, ConfigError> {
        get(k).map_or(Ok(default), |v| number(v, &join(path, k)))
    };
    let q_of = || -> Result<(f64, bool), ConfigError> {
        match get("q") {
            None => Ok((1.0, true)),
            Some(v) => Ok((number(v, &join(path, "q"))?, is_int(v))),
        }
    };
    let ordered = |lo: f64, hi: f64| -> Result<(), ConfigError> {
        if lo > hi {
            return Err(invalid(path, format!("min ({lo}) must be <= max ({hi})")));
        }
        Ok(())
    };
    let search = |distribution: Distribution| SweepParameter::Search {
        distribution,
        wandb: dist_name.clone(),
    };
    Ok(match dist_name.as_str() {
        "constant" => SweepParameter::Fixed(yaml_to_json(need("value")?, &join(path, "value"))?),
        "categorical" => {
            let vp = join(path, "values");
            let list = need("values")?
                .as_sequence()
                .ok_or_else(|| invalid(&vp, "must be a list"))?;
            if list.is_empty() {
                return Err(invalid(&vp, "must not be empty"));
            }
            let mut choices = Vec::new();
            for (i, item) in list.iter().enumerate() {
                let ip = format!("{vp}[{i}]");
                let j = yaml_to_json(item, &ip)?;
                let c = ParamValue::from_json(&j).ok_or_else(|| {
                    invalid(
                        &ip,
                        "choices must be numbers, strings, booleans or null (Optuna's \
                         categorical choices); lists and mappings are not supported",
                    )
                })?;
                if choices.contains(&c) {
                    return Err(invalid(&ip, format!("duplicate choice {c}")));
                }
                choices.push(c);
            }
            search(Distribution::categorical(choices))
        }
        "int_uniform" => {
            let lo = integer(need("min")?, &join(path, "min"))?;
            let hi = integer(need("max")?, &join(path, "max"))?;
            ordered(lo as f64, hi as f64)?;
            search(Distribution::int(lo, hi))
        }
        "uniform" => {
            let (lo, hi) = (num("min")?, num("max")?);
            ordered(lo, hi)?;
            search(Distribution::float(lo, hi))
        }
        "log_uniform_values" | "inv_log_uniform_values" => {
            let (lo, hi) = (num("min")?, num("max")?);
            if lo <= 0.0 {
                return Err(invalid(
                    &join(path, "min"),
                    format!("must be > 0 for {dist_name}, found {lo}"),
                ));
            }
            ordered(lo, hi)?;
            search(Distribution::float_log(lo, hi))
        }
        "log_uniform" => {
            let (lo, hi) = (num("min")?, num("max")?);
            ordered(lo, hi)?;
            search(Distribution::float_log(lo.exp(), hi.exp()))
        }
        "inv_log_uniform" => {
            let (lo, hi) = (num("min")?, num("max")?);
            ordered(lo, hi)?;
            search(Distribution::float_log((-hi).exp(), (-lo).exp()))
        }
        "q_uniform" => {
            let (lo, hi) = (num("min")?, num("max")?);
            ordered(lo, hi)?;
            let (q, q_int) = q_of()?;
            search(q_distribution(lo, hi, q, q_int, path)?)
        }
        "q_log_uniform_values" | "q_log_uniform" => {
            let (mut lo, mut hi) = (num("min")?, num("max")?);
            ordered(lo, hi)?;
            if dist_name == "q_log_uniform" {
                (lo, hi) = (lo.exp(), hi.exp());
            } else if lo <= 0.0 {
                return Err(invalid(
                    &join(path, "min"),
                    format!("must be > 0 for {dist_name}, found {lo}"),
                ));
            }
            let (q, q_int) = q_of()?;
            if q_int && q == 1.0 {
                let (first, last) = q_grid(lo, hi, 1.0)
                    .ok_or_else(|| invalid(path, "no integer lies between min and max"))?;
                if first < 1.0 {
                    return Err(invalid(path, "an integer log scale needs min >= 1"));
                }
                search(Distribution::int_log(first as i64, last as i64))
            } else {
                search(q_distribution(lo, hi, q, q_int, path)?)
            }
        }
        "normal" | "log_normal" | "q_normal" | "q_log_normal" => {
            let mu = num_or("mu", 0.0)?;
            let sigma = num_or("sigma", 1.0)?;
            if sigma < 0.0 {
                return Err(invalid(
                    &join(path, "sigma"),
                    format!("must be >= 0, found {sigma}"),
                ));
            }
            let (lo, hi) = (mu - 3.0 * sigma, mu + 3.0 * sigma);
            let log = dist_name.contains("log");
            let (lo, hi) = if log { (lo.exp(), hi.exp()) } else { (lo, hi) };
            if dist_name.starts_with("q_") {
                let (q, q_int) = q_of()?;
                search(q_distribution(lo, hi, q, q_int, path)?)
            } else if log {
                search(Distribution::float_log(lo, hi))
            } else {
                search(Distribution::float(lo, hi))
            }
        }
        _ => {
            return Err(ConfigError::UnknownKey {
                path: join(path, "distribution"),
                supported: DISTRIBUTIONS.to_string(),
            });
        }
    })
}

fn parse_early_terminate(v: &Yaml) -> Result<HyperbandSettings, ConfigError> {
    let p = "early_terminate";
    let items = entries(v, p)?;
    check_keys(
        &items,
        p,
        &["type", "min_iter", "max_iter", "s", "eta", "strict"],
    )?;
    match lookup(&items, "type") {
        None => {
            return Err(ConfigError::Missing {
                path: "early_terminate.type".into(),
                hint: "; supported: hyperband".into(),
            });
        }
        Some(t) if t.as_str() == Some("hyperband") => {}
        Some(t) => {
            return Err(ConfigError::UnknownKey {
                path: format!("early_terminate.type: {}", t.as_str().unwrap_or("?")),
                supported: "type: hyperband".into(),
            });
        }
    }
    if let Some(s) = lookup(&items, "strict")
        && s.as_bool() != Some(true)
    {
        return Err(ConfigError::UnknownKey {
            path: format!("early_terminate.strict: {}", describe(s)),
            supported: "strict: true (Optuna's Hyperband has no non-strict mode)".into(),
        });
    }
    let eta = match lookup(&items, "eta") {
        None => 3,
        Some(e) => {
            let x = number(e, "early_terminate.eta")?;
            if x.fract() != 0.0 || x < 2.0 {
                return Err(invalid(
                    "early_terminate.eta",
                    format!(
                        "must be an integer >= 2 (Optuna's reduction_factor), found {}",
                        describe(e)
                    ),
                ));
            }
            x as i64
        }
    };
    let min_iter = lookup(&items, "min_iter");
    let max_iter = lookup(&items, "max_iter");
    match (min_iter, max_iter) {
        (Some(m), None) => {
            if lookup(&items, "s").is_some() {
                return Err(invalid(
                    "early_terminate.s",
                    "`s` goes with `max_iter`, not with `min_iter`",
                ));
            }
            let m = integer(m, "early_terminate.min_iter")?;
            if m < 1 {
                return Err(invalid(
                    "early_terminate.min_iter",
                    format!("must be >= 1, found {m}"),
                ));
            }
            Ok(HyperbandSettings {
                min_resource: m,
                max_resource: None,
                reduction_factor: eta,
            })
        }
        (None, Some(m)) => {
            let max_iter = integer(m, "early_terminate.max_iter")?;
            let s = match lookup(&items, "s") {
                Some(s) => integer(s, "early_terminate.s")?,
                None => {
                    return Err(ConfigError::Missing {
                        path: "early_terminate.s".into(),
                        hint: "; `max_iter` needs `s` (the number of brackets)".into(),
                    });
                }
            };
            // W&B's bands: max_iter / eta, / eta², … (s of them, stopping below 1).
            let mut band = max_iter as f64;
            let mut smallest = None;
            for _ in 0..s.max(0) {
                band /= eta as f64;
                if band < 1.0 {
                    break;
                }
                smallest = Some(band.floor() as i64);
            }
            let min_resource = smallest.ok_or_else(|| {
                invalid(
                    p,
                    format!(
                        "max_iter = {max_iter}, s = {s}, eta = {eta} give no band >= 1; \
                         increase max_iter or s, or decrease eta"
                    ),
                )
            })?;
            Ok(HyperbandSettings {
                min_resource,
                max_resource: Some(max_iter),
                reduction_factor: eta,
            })
        }
        (Some(_), Some(_)) => Err(invalid(
            p,
            "give either `min_iter`, or `max_iter` and `s`, not both",
        )),
        (None, None) => Err(ConfigError::Missing {
            path: "early_terminate.min_iter".into(),
            hint: "; hyperband needs `min_iter`, or `max_iter` and `s`".into(),
        }),
    }
}

fn parse_sweeplab(v: &Yaml) -> Result<SweeplabSettings, ConfigError> {
    let mut out = SweeplabSettings::default();
    for (k, val) in entries(v, "sweeplab")? {
        let p = join("sweeplab", k);
        match k {
            "dataset" => out.dataset = Some(string(val, &p)?),
            "model" => out.model = Some(string(val, &p)?),
            "seed" => {
                let s = integer(val, &p)?;
                out.seed = Some(
                    u64::try_from(s)
                        .map_err(|_| invalid(&p, format!("must be >= 0, found {s}")))?,
                );
            }
            "pruner" => out.pruner = Some(parse_pruner(val)?),
            "tpe" => {
                let name = string(val, &p)?;
                out.tpe = Some(TpeDefaults::parse(&name).ok_or_else(|| {
                    invalid(
                        &p,
                        format!("must be `sweeplab` (the default) or `optuna`, found `{name}`"),
                    )
                })?);
            }
            other => {
                out.settings
                    .insert(other.to_string(), yaml_to_json(val, &p)?);
            }
        }
    }
    Ok(out)
}

fn parse_pruner(v: &Yaml) -> Result<PrunerConfig, ConfigError> {
    let p = "sweeplab.pruner";
    let items = entries(v, p)?;
    let ty = match lookup(&items, "type") {
        Some(t) => string(t, "sweeplab.pruner.type")?,
        None => {
            return Err(ConfigError::Missing {
                path: "sweeplab.pruner.type".into(),
                hint: "; supported: none, median, percentile, hyperband, successive_halving".into(),
            });
        }
    };
    let arg = |k: &str| lookup(&items, k);
    let path = |k: &str| join(p, k);
    let count_or = |k: &str, d: usize| arg(k).map_or(Ok(d), |v| count(v, &path(k)));
    let int_or = |k: &str, d: i64| arg(k).map_or(Ok(d), |v| integer(v, &path(k)));
    let auto_or_int = |k: &str| -> Result<Option<i64>, ConfigError> {
        match arg(k) {
            None => Ok(None),
            Some(v) if v.as_str() == Some("auto") => Ok(None),
            Some(v) => integer(v, &path(k)).map(Some),
        }
    };
    let percentile_args = [
        "n_startup_trials",
        "n_warmup_steps",
        "interval_steps",
        "n_min_trials",
    ];
    Ok(match ty.as_str() {
        "none" | "nop" => {
            check_keys(&items, p, &["type"])?;
            PrunerConfig::None
        }
        "median" => {
            let mut allowed = vec!["type"];
            allowed.extend(percentile_args);
            check_keys(&items, p, &allowed)?;
            PrunerConfig::Median {
                n_startup_trials: count_or("n_startup_trials", 5)?,
                n_warmup_steps: int_or("n_warmup_steps", 0)?,
                interval_steps: int_or("interval_steps", 1)?,
                n_min_trials: count_or("n_min_trials", 1)?,
            }
        }
        "percentile" => {
            let mut allowed = vec!["type", "percentile"];
            allowed.extend(percentile_args);
            check_keys(&items, p, &allowed)?;
            let percentile = match arg("percentile") {
                Some(v) => number(v, &path("percentile"))?,
                None => {
                    return Err(ConfigError::Missing {
                        path: path("percentile"),
                        hint: "; PercentilePruner needs it".into(),
                    });
                }
            };
            PrunerConfig::Percentile {
                percentile,
                n_startup_trials: count_or("n_startup_trials", 5)?,
                n_warmup_steps: int_or("n_warmup_steps", 0)?,
                interval_steps: int_or("interval_steps", 1)?,
                n_min_trials: count_or("n_min_trials", 1)?,
            }
        }
        "hyperband" => {
            check_keys(
                &items,
                p,
                &[
                    "type",
                    "min_resource",
                    "max_resource",
                    "reduction_factor",
                    "bootstrap_count",
                ],
            )?;
            PrunerConfig::Hyperband {
                min_resource: int_or("min_resource", 1)?,
                max_resource: auto_or_int("max_resource")?,
                reduction_factor: int_or("reduction_factor", 3)?,
                bootstrap_count: count_or("bootstrap_count", 0)?,
            }
        }
        "successive_halving" => {
            check_keys(
                &items,
                p,
                &[
                    "type",
                    "min_resource",
                    "reduction_factor",
                    "min_early_stopping_rate",
                    "bootstrap_count",
                ],
            )?;
            PrunerConfig::SuccessiveHalving {
                min_resource: auto_or_int("min_resource")?,
                reduction_factor: int_or("reduction_factor", 4)?,
                min_early_stopping_rate: int_or("min_early_stopping_rate", 0)?,
                bootstrap_count: count_or("bootstrap_count", 0)?,
            }
        }
        other => {
            return Err(ConfigError::UnknownKey {
                path: format!("sweeplab.pruner.type: {other}"),
                supported: "none, median, percentile, hyperband, successive_halving".into(),
            });
        }
    })
}

// ------------------------------------------------------------------ building

impl PrunerConfig {
    /// Builds the pruner (Optuna's argument checks apply).
    pub fn build(&self) -> Result<Box<dyn Pruner>, PrunerError> {
        Ok(match self {
            PrunerConfig::None => Box::new(NopPruner),
            PrunerConfig::Median {
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => Box::new(PercentilePruner::median(
                *n_startup_trials,
                *n_warmup_steps,
                *interval_steps,
                *n_min_trials,
            )?),
            PrunerConfig::Percentile {
                percentile,
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => Box::new(PercentilePruner::new(
                *percentile,
                *n_startup_trials,
                *n_warmup_steps,
                *interval_steps,
                *n_min_trials,
            )?),
            PrunerConfig::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
                bootstrap_count,
            } => Box::new(HyperbandPruner::new(
                *min_resource,
                *max_resource,
                *reduction_factor,
                *bootstrap_count,
            )?),
            PrunerConfig::SuccessiveHalving {
                min_resource,
                reduction_factor,
                min_early_stopping_rate,
                bootstrap_count,
            } => Box::new(SuccessiveHalvingPruner::new(
                *min_resource,
                *reduction_factor,
                *min_early_stopping_rate,
                *bootstrap_count,
            )?),
        })
    }
}

impl SweepConfig {
    /// Reads a W&B sweep YAML file (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(path: &std::path::Path) -> Result<SweepConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(&path.display().to_string(), e.to_string()))?;
        Self::from_yaml_str(&text).map_err(|e| match e {
            ConfigError::Yaml(msg) => ConfigError::Yaml(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// The direction to optimise (the metric's goal; minimise without a metric).
    pub fn direction(&self) -> StudyDirection {
        self.metric
            .as_ref()
            .map_or(StudyDirection::Minimize, |m| m.goal)
    }

    /// The metric's name, if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.metric.as_ref().map(|m| m.name.as_str())
    }

    /// The number of trials to run (`run_cap`); `None` means until stopped (or, for a grid,
    /// until every point was visited).
    pub fn n_trials(&self) -> Option<u64> {
        self.run_cap
    }

    /// The searched parameters as a search space.
    pub fn search_space(&self) -> SearchSpace {
        self.parameters
            .iter()
            .filter_map(|(k, p)| match p {
                SweepParameter::Search { distribution, .. } => {
                    Some((k.clone(), distribution.clone()))
                }
                SweepParameter::Fixed(_) => None,
            })
            .collect()
    }

    /// The constant parameters (`value:`), to pass to the trainer as they are.
    pub fn fixed_values(&self) -> BTreeMap<String, Json> {
        self.parameters
            .iter()
            .filter_map(|(k, p)| match p {
                SweepParameter::Fixed(v) => Some((k.clone(), v.clone())),
                SweepParameter::Search { .. } => None,
            })
            .collect()
    }

    /// The grid of `method: grid`: every searched parameter must be categorical,
    /// int_uniform or q_uniform (as W&B requires).
    fn grid(&self) -> Result<BTreeMap<String, Vec<ParamValue>>, ConfigError> {
        let mut grid = BTreeMap::new();
        let mut size: usize = 1;
        for (name, p) in &self.parameters {
            let SweepParameter::Search {
                distribution,
                wandb,
            } = p
            else {
                continue;
            };
            let path = format!("parameters.{name}");
            let values: Vec<ParamValue> = match (wandb.as_str(), distribution) {
                ("categorical", Distribution::Categorical(c)) => c.choices.clone(),
                ("int_uniform" | "q_uniform", Distribution::Int(d)) => {
                    let n = ((d.high - d.low) / d.step.max(1) + 1).max(0) as usize;
                    if n > MAX_GRID {
                        return Err(invalid(&path, format!("{n} grid values is too many")));
                    }
                    (0..n as i64)
                        .map(|k| ParamValue::Int(d.low + k * d.step))
                        .collect()
                }
                ("q_uniform", Distribution::Float(d)) => {
                    let step = d.step.unwrap_or(1.0);
                    let n = ((d.high - d.low) / step + 1e-9).floor() as usize + 1;
                    if n > MAX_GRID {
                        return Err(invalid(&path, format!("{n} grid values is too many")));
                    }
                    (0..n)
                        .map(|k| ParamValue::Float(tidy(d.low + k as f64 * step, step)))
                        .collect()
                }
                (other, _) => {
                    return Err(invalid(
                        &path,
                        format!(
                            "`method: grid` needs categorical, constant, int_uniform or \
                             q_uniform parameters, not {other}"
                        ),
                    ));
                }
            };
            size = size.saturating_mul(values.len());
            if size > MAX_GRID {
                return Err(invalid(
                    "parameters",
                    format!("the grid has more than {MAX_GRID} points"),
                ));
            }
            grid.insert(name.clone(), values);
        }
        Ok(grid)
    }

    /// The sampler of `method` (grid → `GridSampler`, random → `RandomSampler`, bayes →
    /// `TPESampler` from `sweeplab.tpe`'s defaults), seeded with `sweeplab.seed`.
    pub fn build_sampler(&self) -> Result<Box<dyn Sampler>, ConfigError> {
        let seed = self.sweeplab.seed;
        Ok(match self.method {
            SweepMethod::Grid => Box::new(GridSampler::new(self.grid()?, seed)?),
            SweepMethod::Random => Box::new(RandomSampler::new(seed)),
            SweepMethod::Bayes => Box::new(TpeSampler::new(self.tpe_defaults().config(seed))),
        })
    }

    /// The defaults `method: bayes`'s TPE starts from (`sweeplab.tpe`, else sweeplab's).
    pub fn tpe_defaults(&self) -> TpeDefaults {
        self.sweeplab.tpe.unwrap_or_default()
    }

    /// What [`SweepConfig::build_sampler`] builds, in words.
    pub fn sampler_description(&self) -> &'static str {
        match self.method {
            SweepMethod::Grid => "grid: every combination once",
            SweepMethod::Random => "random search",
            SweepMethod::Bayes => self.tpe_defaults().describe(),
        }
    }

    /// The pruner: Hyperband from `early_terminate`, else `sweeplab.pruner`, else none.
    pub fn build_pruner(&self) -> Result<Box<dyn Pruner>, ConfigError> {
        if let Some(h) = &self.early_terminate {
            return Ok(Box::new(HyperbandPruner::new(
                h.min_resource,
                h.max_resource,
                h.reduction_factor,
                0,
            )?));
        }
        match &self.sweeplab.pruner {
            Some(p) => Ok(p.build()?),
            None => Ok(Box::new(NopPruner)),
        }
    }

    /// A new in-memory study named `name` with this config's direction, sampler and pruner.
    pub fn create_study(&self, name: &str) -> Result<Study, ConfigError> {
        let study = Study::create(name, self.direction(), self.build_sampler()?)?;
        Ok(study.with_pruner(self.build_pruner()?))
    }
}
