//! Pruning: `early_terminate: {type: hyperband, …}` (W&B's Hyperband as Optuna's
//! `HyperbandPruner`) and sweeplab's `sweeplab: {pruner: …}` (any of Optuna's pruners), read
//! and built.

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as Yaml;

use super::yaml::{check_keys, count, describe, entries, integer, join, lookup, number, string};
use super::{ConfigError, SweepConfig, invalid};
use crate::pruners::{
    HyperbandPruner, NopPruner, PercentilePruner, Pruner, PrunerError, SuccessiveHalvingPruner,
};

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

// Optuna 5.0's defaults of its pruners' arguments (optuna/pruners/_median.py,
// _percentile.py, _hyperband.py, _successive_halving.py), shared by the YAML reader, serde
// and the playground's menu.
const N_STARTUP_TRIALS: usize = 5;
const N_WARMUP_STEPS: i64 = 0;
const INTERVAL_STEPS: i64 = 1;
const N_MIN_TRIALS: usize = 1;
const HYPERBAND_MIN_RESOURCE: i64 = 1;
const HYPERBAND_REDUCTION_FACTOR: i64 = 3;
const SUCCESSIVE_HALVING_REDUCTION_FACTOR: i64 = 4;
/// The percentile the playground offers first (Optuna's `PercentilePruner` has no default).
const PERCENTILE: f64 = 25.0;

fn n_startup_trials() -> usize {
    N_STARTUP_TRIALS
}
fn n_warmup_steps() -> i64 {
    N_WARMUP_STEPS
}
fn interval_steps() -> i64 {
    INTERVAL_STEPS
}
fn n_min_trials() -> usize {
    N_MIN_TRIALS
}
fn hyperband_min_resource() -> i64 {
    HYPERBAND_MIN_RESOURCE
}
fn hyperband_reduction_factor() -> i64 {
    HYPERBAND_REDUCTION_FACTOR
}
fn successive_halving_reduction_factor() -> i64 {
    SUCCESSIVE_HALVING_REDUCTION_FACTOR
}

/// One of Optuna's pruners with its arguments: `sweeplab: {pruner: …}` in a sweep YAML, the
/// playground's pruner, and (as serde data, `{"type": "median", …}`) what the playground
/// saves. Arguments left out take Optuna 5.0's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrunerConfig {
    /// `type: none`.
    None,
    /// `type: median` (`MedianPruner`).
    Median {
        /// Trials before pruning starts (default 5).
        #[serde(default = "n_startup_trials")]
        n_startup_trials: usize,
        /// Steps before pruning starts in a trial (default 0).
        #[serde(default = "n_warmup_steps")]
        n_warmup_steps: i64,
        /// Steps between checks (default 1).
        #[serde(default = "interval_steps")]
        interval_steps: i64,
        /// Trials needed at a step (default 1).
        #[serde(default = "n_min_trials")]
        n_min_trials: usize,
    },
    /// `type: percentile` (`PercentilePruner`, `percentile` required).
    Percentile {
        /// The percentile, 0–100.
        percentile: f64,
        /// Trials before pruning starts (default 5).
        #[serde(default = "n_startup_trials")]
        n_startup_trials: usize,
        /// Steps before pruning starts in a trial (default 0).
        #[serde(default = "n_warmup_steps")]
        n_warmup_steps: i64,
        /// Steps between checks (default 1).
        #[serde(default = "interval_steps")]
        interval_steps: i64,
        /// Trials needed at a step (default 1).
        #[serde(default = "n_min_trials")]
        n_min_trials: usize,
    },
    /// `type: hyperband` (`HyperbandPruner`).
    Hyperband {
        /// Default 1.
        #[serde(default = "hyperband_min_resource")]
        min_resource: i64,
        /// Default `"auto"` (`None`).
        #[serde(default)]
        max_resource: Option<i64>,
        /// Default 3.
        #[serde(default = "hyperband_reduction_factor")]
        reduction_factor: i64,
        /// Default 0.
        #[serde(default)]
        bootstrap_count: usize,
    },
    /// `type: successive_halving` (`SuccessiveHalvingPruner`).
    SuccessiveHalving {
        /// Default `"auto"` (`None`).
        #[serde(default)]
        min_resource: Option<i64>,
        /// Default 4.
        #[serde(default = "successive_halving_reduction_factor")]
        reduction_factor: i64,
        /// Default 0.
        #[serde(default)]
        min_early_stopping_rate: i64,
        /// Default 0.
        #[serde(default)]
        bootstrap_count: usize,
    },
}

impl PrunerConfig {
    /// The pruner kinds, as `type` names them, in menu order.
    pub const KINDS: [&'static str; 5] = [
        "none",
        "median",
        "percentile",
        "hyperband",
        "successive_halving",
    ];

    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            PrunerConfig::None => "none",
            PrunerConfig::Median { .. } => "median",
            PrunerConfig::Percentile { .. } => "percentile",
            PrunerConfig::Hyperband { .. } => "hyperband",
            PrunerConfig::SuccessiveHalving { .. } => "successive_halving",
        }
    }

    /// The pruner `kind` names with Optuna 5.0's defaults (the percentile pruner, which has
    /// no default percentile, at 25); `None` for an unknown name.
    pub fn with_defaults(kind: &str) -> Option<PrunerConfig> {
        Some(match kind {
            "none" | "nop" => PrunerConfig::None,
            "median" => PrunerConfig::Median {
                n_startup_trials: N_STARTUP_TRIALS,
                n_warmup_steps: N_WARMUP_STEPS,
                interval_steps: INTERVAL_STEPS,
                n_min_trials: N_MIN_TRIALS,
            },
            "percentile" => PrunerConfig::Percentile {
                percentile: PERCENTILE,
                n_startup_trials: N_STARTUP_TRIALS,
                n_warmup_steps: N_WARMUP_STEPS,
                interval_steps: INTERVAL_STEPS,
                n_min_trials: N_MIN_TRIALS,
            },
            "hyperband" => PrunerConfig::Hyperband {
                min_resource: HYPERBAND_MIN_RESOURCE,
                max_resource: None,
                reduction_factor: HYPERBAND_REDUCTION_FACTOR,
                bootstrap_count: 0,
            },
            "successive_halving" => PrunerConfig::SuccessiveHalving {
                min_resource: None,
                reduction_factor: SUCCESSIVE_HALVING_REDUCTION_FACTOR,
                min_early_stopping_rate: 0,
                bootstrap_count: 0,
            },
            _ => return None,
        })
    }

    /// A human label: Optuna's class name.
    pub fn label(&self) -> &'static str {
        match self {
            PrunerConfig::None => "None",
            PrunerConfig::Median { .. } => "Median",
            PrunerConfig::Percentile { .. } => "Percentile",
            PrunerConfig::Hyperband { .. } => "Hyperband",
            PrunerConfig::SuccessiveHalving { .. } => "Successive halving",
        }
    }
}

pub(super) fn parse_early_terminate(v: &Yaml) -> Result<HyperbandSettings, ConfigError> {
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

pub(super) fn parse_pruner(v: &Yaml) -> Result<PrunerConfig, ConfigError> {
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
                n_startup_trials: count_or("n_startup_trials", N_STARTUP_TRIALS)?,
                n_warmup_steps: int_or("n_warmup_steps", N_WARMUP_STEPS)?,
                interval_steps: int_or("interval_steps", INTERVAL_STEPS)?,
                n_min_trials: count_or("n_min_trials", N_MIN_TRIALS)?,
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
                n_startup_trials: count_or("n_startup_trials", N_STARTUP_TRIALS)?,
                n_warmup_steps: int_or("n_warmup_steps", N_WARMUP_STEPS)?,
                interval_steps: int_or("interval_steps", INTERVAL_STEPS)?,
                n_min_trials: count_or("n_min_trials", N_MIN_TRIALS)?,
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
                min_resource: int_or("min_resource", HYPERBAND_MIN_RESOURCE)?,
                max_resource: auto_or_int("max_resource")?,
                reduction_factor: int_or("reduction_factor", HYPERBAND_REDUCTION_FACTOR)?,
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
                reduction_factor: int_or("reduction_factor", SUCCESSIVE_HALVING_REDUCTION_FACTOR)?,
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

impl PrunerConfig {
    /// The median or percentile pruner this configures, for showing the line it judges
    /// trials by ([`PercentilePruner::threshold`]); `None` for the other pruners (and for
    /// arguments Optuna refuses).
    pub fn percentile_pruner(&self) -> Option<PercentilePruner> {
        self.percentile_checked().and_then(Result::ok)
    }

    /// The rung cuts of successive halving or Hyperband over `trials` ([`rung_cuts`]);
    /// empty for the other pruners.
    ///
    /// [`rung_cuts`]: crate::pruners::rung_cuts
    pub fn rung_cuts(
        &self,
        trials: &[&crate::trial::FrozenTrial],
        dir: crate::StudyDirection,
    ) -> Vec<crate::pruners::RungCut> {
        match *self {
            PrunerConfig::Hyperband {
                reduction_factor,
                bootstrap_count,
                ..
            }
            | PrunerConfig::SuccessiveHalving {
                reduction_factor,
                bootstrap_count,
                ..
            } => crate::pruners::rung_cuts(trials, reduction_factor, bootstrap_count, dir),
            _ => Vec::new(),
        }
    }

    /// The median or percentile pruner with Optuna's argument checks; `None` for the others.
    fn percentile_checked(&self) -> Option<Result<PercentilePruner, PrunerError>> {
        match *self {
            PrunerConfig::Median {
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => Some(PercentilePruner::median(
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            )),
            PrunerConfig::Percentile {
                percentile,
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            } => Some(PercentilePruner::new(
                percentile,
                n_startup_trials,
                n_warmup_steps,
                interval_steps,
                n_min_trials,
            )),
            _ => None,
        }
    }

    /// Builds the pruner (Optuna's argument checks apply).
    pub fn build(&self) -> Result<Box<dyn Pruner>, PrunerError> {
        Ok(match self {
            PrunerConfig::None => Box::new(NopPruner),
            PrunerConfig::Median { .. } | PrunerConfig::Percentile { .. } => {
                match self.percentile_checked() {
                    Some(p) => Box::new(p?),
                    // Not reached: both kinds are percentile pruners.
                    None => Box::new(NopPruner),
                }
            }
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
    /// The pruner the config asks for: Hyperband from `early_terminate`, else
    /// `sweeplab.pruner`, else none.
    pub fn pruner_config(&self) -> PrunerConfig {
        if let Some(h) = &self.early_terminate {
            return PrunerConfig::Hyperband {
                min_resource: h.min_resource,
                max_resource: h.max_resource,
                reduction_factor: h.reduction_factor,
                bootstrap_count: 0,
            };
        }
        self.sweeplab.pruner.clone().unwrap_or(PrunerConfig::None)
    }

    /// Builds [`SweepConfig::pruner_config`] (Optuna's argument checks apply).
    pub fn build_pruner(&self) -> Result<Box<dyn Pruner>, ConfigError> {
        Ok(self.pruner_config().build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_fills_optunas_defaults_and_round_trips() {
        for kind in PrunerConfig::KINDS {
            let p = PrunerConfig::with_defaults(kind).unwrap();
            assert_eq!(p.kind(), kind);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<PrunerConfig>(&json).unwrap(), p);
            let short = if kind == "percentile" {
                format!(r#"{{"type":"{kind}","percentile":25.0}}"#)
            } else {
                format!(r#"{{"type":"{kind}"}}"#)
            };
            assert_eq!(
                serde_json::from_str::<PrunerConfig>(&short).unwrap(),
                p,
                "{short}"
            );
            assert!(p.build().is_ok(), "{kind}");
        }
        assert!(
            serde_json::from_str::<PrunerConfig>(r#"{"type":"median","n_startup":3}"#).is_err()
        );
        assert!(serde_json::from_str::<PrunerConfig>(r#"{"type":"percentile"}"#).is_err());
        assert!(PrunerConfig::with_defaults("wilcoxon").is_none());
    }

    #[test]
    fn the_yaml_reader_and_serde_agree_on_the_defaults() {
        for kind in PrunerConfig::KINDS {
            let yaml = if kind == "percentile" {
                format!("type: {kind}\npercentile: 25")
            } else {
                format!("type: {kind}")
            };
            let v: Yaml = serde_yaml_ng::from_str(&yaml).unwrap();
            assert_eq!(
                parse_pruner(&v).unwrap(),
                PrunerConfig::with_defaults(kind).unwrap(),
                "{kind}"
            );
        }
    }
}
