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

use crate::json::Json;
use crate::pruners::PrunerError;
use crate::samplers::{GridSampler, RandomSampler, Sampler, SamplerError, TpeDefaults, TpeSampler};
use crate::study::{Study, StudyDirection, StudyError};

mod parameters;
mod pruner;
mod yaml;

pub use parameters::SweepParameter;
pub use pruner::{HyperbandSettings, PrunerConfig};
pub use yaml::yaml_to_json;

use parameters::parse_parameters;
use pruner::{parse_early_terminate, parse_pruner};
use yaml::{check_flow_depth, check_keys, describe, entries, integer, join, lookup, string};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

// ------------------------------------------------------------------ parsing

impl SweepConfig {
    /// Reads a W&B sweep YAML (see the module documentation for what is accepted).
    pub fn from_yaml_str(text: &str) -> Result<SweepConfig, ConfigError> {
        check_flow_depth(text)?;
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

// ------------------------------------------------------------------ building

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

    /// A new in-memory study named `name` with this config's direction, sampler and pruner.
    pub fn create_study(&self, name: &str) -> Result<Study, ConfigError> {
        let study = Study::create(name, self.direction(), self.build_sampler()?)?;
        Ok(study.with_pruner(self.build_pruner()?))
    }
}
