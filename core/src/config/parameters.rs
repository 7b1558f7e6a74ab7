//! The sweep's `parameters:`: W&B distributions read into Optuna distributions (nested
//! blocks flattened), and what the config's parameters give: its search space, its fixed
//! values and the grid of `method: grid`.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use super::yaml::{
    check_keys, entries, integer, is_int, join, lookup, number, string, yaml_to_json,
};
use super::{ConfigError, SweepConfig, invalid};
use crate::distributions::{Distribution, ParamValue, SearchSpace};
use crate::json::Json;

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

const DISTRIBUTIONS: &str = "constant, categorical, int_uniform, uniform, q_uniform, log_uniform, log_uniform_values, inv_log_uniform, inv_log_uniform_values, q_log_uniform, q_log_uniform_values, normal, q_normal, log_normal, q_log_normal";
/// Largest grid `method: grid` enumerates.
const MAX_GRID: usize = 1_000_000;

pub(super) fn parse_parameters(
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

impl SweepConfig {
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
    pub(super) fn grid(&self) -> Result<BTreeMap<String, Vec<ParamValue>>, ConfigError> {
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
                    // In i128: the range may span all of i64.
                    let step = i128::from(d.step.max(1));
                    let n = ((i128::from(d.high) - i128::from(d.low)) / step + 1).max(0);
                    if n > MAX_GRID as i128 {
                        return Err(invalid(&path, format!("{n} grid values is too many")));
                    }
                    (0..n)
                        .filter_map(|k| i64::try_from(i128::from(d.low) + k * step).ok())
                        .map(ParamValue::Int)
                        .collect()
                }
                ("q_uniform", Distribution::Float(d)) => {
                    let step = d.step.unwrap_or(1.0);
                    let span = ((d.high - d.low) / step + 1e-9).floor();
                    if !(span.is_finite() && span < MAX_GRID as f64) {
                        return Err(invalid(
                            &path,
                            format!("more than {MAX_GRID} grid values is too many"),
                        ));
                    }
                    let n = span as usize + 1;
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
}
