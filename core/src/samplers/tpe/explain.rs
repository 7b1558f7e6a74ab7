//! Why TPE proposed a trial's values: the record [`TpeSampler`](super::TpeSampler) writes in
//! the same pass as the suggestion (when [`TpeConfig::explain`](super::TpeConfig::explain) is
//! on), stored as the trial's system attribute `sweeplab:explain:<first parameter>` so that
//! reloads, journals, databases and exports keep it.
//!
//! A record holds the split (the trials of the good group l(x) and of the rest g(x), the
//! running trials the constant liar counted as bad, the threshold), both estimators as they
//! were (weights and every dimension's kernels: centres, bandwidths, bounds; categorical
//! probabilities), the candidates drawn from l(x) with their log densities, and the chosen
//! one. The densities a front end draws come from the recorded estimators through the
//! sampler's own [`Mixture::log_pdf`]: [`TpeExplain::curve`] and [`TpeExplain::pair`].

use super::parzen::{Kernel, Mixture};
use crate::json::{Json, obj};

/// The system-attribute key prefix of explain records: `sweeplab:explain:<first parameter>`.
pub const EXPLAIN_KEY: &str = "sweeplab:explain";

/// An estimator holding more numbers than this (weights, centres, bandwidths,
/// probabilities: about 100 to 300 trials, by the number of parameters) is left out of the
/// record, which keeps the split, the candidates and the scores: a record stays under
/// about 40 KB, and a long sweep's journal does not grow by megabytes per trial.
pub const MAX_ESTIMATOR_NUMBERS: usize = 1_000;

/// The explain record of one sampling call.
#[derive(Clone, Debug, PartialEq)]
pub enum Explain {
    /// Random sampling during the start-up trials.
    Startup {
        /// The parameters this call sampled.
        params: Vec<String>,
        /// Finished (complete or pruned) trials when the trial was asked.
        n_finished: usize,
        /// The sampler's `n_startup_trials`.
        n_startup_trials: usize,
    },
    /// A TPE proposal.
    Tpe(Box<TpeExplain>),
}

/// A TPE proposal: the split, the two estimators, the candidates and the choice.
#[derive(Clone, Debug, PartialEq)]
pub struct TpeExplain {
    /// The parameters sampled jointly by this call (one when sampling independently).
    pub params: Vec<String>,
    /// Whether the call was multivariate (a joint sample of `params`).
    pub multivariate: bool,
    /// Finished (complete or pruned) trials the sampler learned from.
    pub n_finished: usize,
    /// The size of the good group the split asked for (γ(n)).
    pub n_below: usize,
    /// Numbers of the trials in the good group whose values built l(x).
    pub below: Vec<u64>,
    /// Numbers of the trials in the other group whose values built g(x).
    pub above: Vec<u64>,
    /// Running trials the constant liar counted as bad (part of `above`).
    pub liars: Vec<u64>,
    /// The worst objective value in the good group (single objective, complete trials).
    pub threshold: Option<f64>,
    /// The candidates drawn from l(x): `candidates[d][i]`, internal values of `params[d]`.
    pub candidates: Vec<Vec<f64>>,
    /// log l(x) of each candidate.
    pub log_l: Vec<f64>,
    /// log g(x) of each candidate.
    pub log_g: Vec<f64>,
    /// The index of the chosen candidate (the largest log l − log g).
    pub chosen: usize,
    /// l(x) as it was, unless larger than [`MAX_ESTIMATOR_NUMBERS`].
    pub l: Option<Mixture>,
    /// g(x) as it was, unless larger than [`MAX_ESTIMATOR_NUMBERS`].
    pub g: Option<Mixture>,
}

/// Densities of one parameter along its axis, marginal over the other parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// Internal values (the category index for a categorical).
    pub x: Vec<f64>,
    /// log l(x).
    pub log_l: Vec<f64>,
    /// log g(x).
    pub log_g: Vec<f64>,
}

/// Densities of two parameters on a grid, marginal over the others.
#[derive(Clone, Debug, PartialEq)]
pub struct PairGrid {
    /// Internal values along the first parameter.
    pub x: Vec<f64>,
    /// Internal values along the second parameter.
    pub y: Vec<f64>,
    /// log l at `(x[i], y[j])`, at `i * y.len() + j`.
    pub log_l: Vec<f64>,
    /// log g, laid out as `log_l`.
    pub log_g: Vec<f64>,
}

impl TpeExplain {
    /// The chosen candidate's internal value of each parameter.
    pub fn chosen_values(&self) -> Vec<f64> {
        self.candidates
            .iter()
            .map(|c| c.get(self.chosen).copied().unwrap_or(f64::NAN))
            .collect()
    }

    /// The score (log l − log g) of each candidate.
    pub fn scores(&self) -> Vec<f64> {
        self.log_l
            .iter()
            .zip(&self.log_g)
            .map(|(l, g)| l - g)
            .collect()
    }

    /// The chosen candidate's score and the best score of the others (−∞ when it was the
    /// only candidate).
    pub fn chosen_and_next_best(&self) -> (f64, f64) {
        let scores = self.scores();
        let chosen = scores.get(self.chosen).copied().unwrap_or(f64::NAN);
        let next = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.chosen)
            .map(|(_, s)| *s)
            .fold(f64::NEG_INFINITY, f64::max);
        (chosen, next)
    }

    /// The threshold as a phrase after the good group: `, values up to 0.68` (minimising) or
    /// `, values of 0.86 or more` (maximising); empty without one. `fmt` writes the number.
    pub fn threshold_phrase(&self, maximize: bool, fmt: &dyn Fn(f64) -> String) -> String {
        self.threshold
            .map(|t| {
                if maximize {
                    format!(", values of {} or more", fmt(t))
                } else {
                    format!(", values up to {}", fmt(t))
                }
            })
            .unwrap_or_default()
    }

    /// The marginal of a recorded estimator over the dimensions `dims`.
    fn marginal(m: &Mixture, dims: &[usize]) -> Option<Mixture> {
        let kernels = dims
            .iter()
            .map(|d| m.kernels.get(*d).cloned())
            .collect::<Option<Vec<_>>>()?;
        Some(Mixture {
            weights: m.weights.clone(),
            kernels,
        })
    }

    /// Points along dimension `d` (internal values): every category, every grid point when
    /// there are at most `n`, otherwise `n` points evenly spread (in log space for a log
    /// parameter).
    fn axis(kernel: &Kernel, n: usize) -> Vec<f64> {
        match kernel {
            Kernel::Categorical { n_choices, .. } => (0..*n_choices).map(|c| c as f64).collect(),
            Kernel::Numerical {
                low,
                high,
                step,
                log,
                ..
            } => {
                let n = n.max(2);
                if *step > 0.0 {
                    let cells = ((high - low) / step).round();
                    if cells.is_finite() && cells < n as f64 {
                        return (0..=cells as usize)
                            .map(|i| low + i as f64 * step)
                            .collect();
                    }
                }
                let (a, b) = if *log && *low > 0.0 {
                    (libm::log(*low), libm::log(*high))
                } else {
                    (*low, *high)
                };
                (0..n)
                    .map(|i| {
                        let t = a + (b - a) * i as f64 / (n - 1) as f64;
                        let x = if *log && *low > 0.0 { libm::exp(t) } else { t };
                        let x = if *step > 0.0 {
                            low + ((x - low) / step).round() * step
                        } else {
                            x
                        };
                        x.clamp(*low, *high)
                    })
                    .collect()
            }
        }
    }

    /// l(x) and g(x) of parameter `d` along its axis (`n` points for a continuous one),
    /// through the sampler's own log density on the recorded estimators; `None` when the
    /// estimators were not recorded or `d` is out of range.
    pub fn curve(&self, d: usize, n: usize) -> Option<Curve> {
        let kernel = self.l.as_ref()?.kernels.get(d)?;
        let x = Self::axis(kernel, n);
        let (log_l, log_g) = self.densities_at(d, &x)?;
        Some(Curve { x, log_l, log_g })
    }

    /// log l and log g of parameter `d` (marginal over the others) at internal values `x`.
    pub fn densities_at(&self, d: usize, x: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
        let l = Self::marginal(self.l.as_ref()?, &[d])?;
        let g = Self::marginal(self.g.as_ref()?, &[d])?;
        let at = [x.to_vec()];
        Some((l.log_pdf(&at), g.log_pdf(&at)))
    }

    /// l and g of parameters `a` and `b` on an `n` × `n` grid (every category or grid point
    /// where fewer), through the sampler's own log density.
    pub fn pair(&self, a: usize, b: usize, n: usize) -> Option<PairGrid> {
        let l = Self::marginal(self.l.as_ref()?, &[a, b])?;
        let g = Self::marginal(self.g.as_ref()?, &[a, b])?;
        let x = Self::axis(&l.kernels[0], n);
        let y = Self::axis(&l.kernels[1], n);
        let mut at = [Vec::new(), Vec::new()];
        for xi in &x {
            for yj in &y {
                at[0].push(*xi);
                at[1].push(*yj);
            }
        }
        Some(PairGrid {
            log_l: l.log_pdf(&at),
            log_g: g.log_pdf(&at),
            x,
            y,
        })
    }
}

fn nums(v: &[f64]) -> Json {
    Json::Array(v.iter().map(|x| Json::Float(*x)).collect())
}

/// Sorted trial numbers as runs: `[[first, last], …]`.
fn runs(numbers: &[u64]) -> Json {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &n in numbers {
        match out.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(n) => *last = n,
            _ => out.push((n, n)),
        }
    }
    Json::Array(
        out.into_iter()
            .map(|(a, b)| Json::Array(vec![Json::Int(a as i64), Json::Int(b as i64)]))
            .collect(),
    )
}

fn kernel_json(k: &Kernel) -> Json {
    match k {
        Kernel::Categorical { n_choices, weights } => obj([
            ("n_choices", Json::Int(*n_choices as i64)),
            ("probabilities", nums(weights)),
        ]),
        Kernel::Numerical {
            mu,
            sigma,
            low,
            high,
            step,
            log,
        } => obj([
            ("mu", nums(mu)),
            ("sigma", nums(sigma)),
            ("low", Json::Float(*low)),
            ("high", Json::Float(*high)),
            ("step", Json::Float(*step)),
            ("log", Json::Bool(*log)),
        ]),
    }
}

fn mixture_json(m: &Option<Mixture>) -> Json {
    match m {
        None => Json::Null,
        Some(m) => obj([
            ("weights", nums(&m.weights)),
            (
                "kernels",
                Json::Array(m.kernels.iter().map(kernel_json).collect()),
            ),
        ]),
    }
}

/// Why an explain record could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("explain record: {0}")]
pub struct ExplainError(String);

fn bad(what: &str) -> ExplainError {
    ExplainError(format!("`{what}` is missing or not of the expected type"))
}

fn field<'a>(j: &'a Json, key: &str) -> Result<&'a Json, ExplainError> {
    j.get(key).ok_or_else(|| bad(key))
}

fn read_nums(j: &Json, key: &str) -> Result<Vec<f64>, ExplainError> {
    field(j, key)?
        .as_array()
        .ok_or_else(|| bad(key))?
        .iter()
        .map(|x| x.as_f64().ok_or_else(|| bad(key)))
        .collect()
}

fn read_usize(j: &Json, key: &str) -> Result<usize, ExplainError> {
    field(j, key)?
        .as_i64()
        .and_then(|x| usize::try_from(x).ok())
        .ok_or_else(|| bad(key))
}

fn read_strings(j: &Json, key: &str) -> Result<Vec<String>, ExplainError> {
    field(j, key)?
        .as_array()
        .ok_or_else(|| bad(key))?
        .iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(key)))
        .collect()
}

/// At most this many trial numbers in a record's runs (a hostile record cannot make a
/// reader allocate without bound).
const MAX_RUN_NUMBERS: u64 = 10_000_000;

fn read_runs(j: &Json, key: &str) -> Result<Vec<u64>, ExplainError> {
    let mut out = Vec::new();
    for r in field(j, key)?.as_array().ok_or_else(|| bad(key))? {
        let pair = r.as_array().ok_or_else(|| bad(key))?;
        let (Some(a), Some(b)) = (
            pair.first().and_then(Json::as_i64),
            pair.get(1).and_then(Json::as_i64),
        ) else {
            return Err(bad(key));
        };
        let (Ok(a), Ok(b)) = (u64::try_from(a), u64::try_from(b)) else {
            return Err(bad(key));
        };
        if b < a || out.len() as u64 + (b - a) >= MAX_RUN_NUMBERS {
            return Err(ExplainError(format!(
                "`{key}` holds a run that is reversed or too long"
            )));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn read_kernel(j: &Json) -> Result<Kernel, ExplainError> {
    if j.get("n_choices").is_some() {
        let n_choices = read_usize(j, "n_choices")?;
        let weights = read_nums(j, "probabilities")?;
        if n_choices == 0 || weights.len() % n_choices != 0 {
            return Err(ExplainError(
                "a categorical kernel's probabilities are not whole rows".into(),
            ));
        }
        return Ok(Kernel::Categorical { n_choices, weights });
    }
    let mu = read_nums(j, "mu")?;
    let sigma = read_nums(j, "sigma")?;
    let num = |k: &str| field(j, k)?.as_f64().ok_or_else(|| bad(k));
    let log = field(j, "log")?.as_bool().ok_or_else(|| bad("log"))?;
    Ok(Kernel::numerical(
        mu,
        sigma,
        (num("low")?, num("high")?),
        num("step")?,
        log,
    ))
}

fn read_mixture(j: &Json) -> Result<Option<Mixture>, ExplainError> {
    if j.is_null() {
        return Ok(None);
    }
    let weights = read_nums(j, "weights")?;
    let kernels = field(j, "kernels")?
        .as_array()
        .ok_or_else(|| bad("kernels"))?
        .iter()
        .map(read_kernel)
        .collect::<Result<Vec<_>, _>>()?;
    let rows_fit = kernels.iter().all(|k| match k {
        Kernel::Categorical {
            n_choices,
            weights: w,
        } => w.len() == n_choices * weights.len(),
        Kernel::Numerical { mu, sigma, .. } => {
            mu.len() == weights.len() && sigma.len() == weights.len()
        }
    });
    if !rows_fit {
        return Err(ExplainError(
            "an estimator's kernels do not have one row per component".into(),
        ));
    }
    Ok(Some(Mixture { weights, kernels }))
}

impl Explain {
    /// The parameters the record covers.
    pub fn params(&self) -> &[String] {
        match self {
            Explain::Startup { params, .. } => params,
            Explain::Tpe(t) => &t.params,
        }
    }

    /// The system-attribute key the record is stored under.
    pub fn key(&self) -> String {
        format!(
            "{EXPLAIN_KEY}:{}",
            self.params().first().map_or("", String::as_str)
        )
    }

    /// The record as JSON (what the trial's system attribute holds).
    pub fn to_json(&self) -> Json {
        let names = |p: &[String]| Json::Array(p.iter().map(|s| Json::Str(s.clone())).collect());
        match self {
            Explain::Startup {
                params,
                n_finished,
                n_startup_trials,
            } => obj([
                ("kind", Json::Str("startup".into())),
                ("params", names(params)),
                ("n_finished", Json::Int(*n_finished as i64)),
                ("n_startup_trials", Json::Int(*n_startup_trials as i64)),
            ]),
            Explain::Tpe(t) => obj([
                ("kind", Json::Str("tpe".into())),
                ("params", names(&t.params)),
                ("multivariate", Json::Bool(t.multivariate)),
                ("n_finished", Json::Int(t.n_finished as i64)),
                ("n_below", Json::Int(t.n_below as i64)),
                ("below", runs(&t.below)),
                ("above", runs(&t.above)),
                ("liars", runs(&t.liars)),
                ("threshold", t.threshold.map_or(Json::Null, Json::Float)),
                (
                    "candidates",
                    Json::Array(t.candidates.iter().map(|c| nums(c)).collect()),
                ),
                ("log_l", nums(&t.log_l)),
                ("log_g", nums(&t.log_g)),
                ("chosen", Json::Int(t.chosen as i64)),
                ("l", mixture_json(&t.l)),
                ("g", mixture_json(&t.g)),
            ]),
        }
    }

    /// Reads a record written by [`Explain::to_json`], checking that its parts agree (one
    /// candidate column per parameter, one score per candidate, one kernel per parameter).
    pub fn from_json(j: &Json) -> Result<Explain, ExplainError> {
        let kind = field(j, "kind")?.as_str().ok_or_else(|| bad("kind"))?;
        let params = read_strings(j, "params")?;
        match kind {
            "startup" => Ok(Explain::Startup {
                params,
                n_finished: read_usize(j, "n_finished")?,
                n_startup_trials: read_usize(j, "n_startup_trials")?,
            }),
            "tpe" => {
                let candidates = field(j, "candidates")?
                    .as_array()
                    .ok_or_else(|| bad("candidates"))?
                    .iter()
                    .map(|c| {
                        c.as_array()
                            .ok_or_else(|| bad("candidates"))?
                            .iter()
                            .map(|x| x.as_f64().ok_or_else(|| bad("candidates")))
                            .collect::<Result<Vec<f64>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let log_l = read_nums(j, "log_l")?;
                let log_g = read_nums(j, "log_g")?;
                let chosen = read_usize(j, "chosen")?;
                let n = log_l.len();
                if candidates.len() != params.len()
                    || candidates.iter().any(|c| c.len() != n)
                    || log_g.len() != n
                    || chosen >= n
                {
                    return Err(ExplainError(
                        "the candidates, their densities and the choice do not agree".into(),
                    ));
                }
                let l = read_mixture(field(j, "l")?)?;
                let g = read_mixture(field(j, "g")?)?;
                if [&l, &g]
                    .iter()
                    .any(|m| m.as_ref().is_some_and(|m| m.kernels.len() != params.len()))
                {
                    return Err(ExplainError(
                        "an estimator has not one kernel per parameter".into(),
                    ));
                }
                Ok(Explain::Tpe(Box::new(TpeExplain {
                    multivariate: field(j, "multivariate")?
                        .as_bool()
                        .ok_or_else(|| bad("multivariate"))?,
                    n_finished: read_usize(j, "n_finished")?,
                    n_below: read_usize(j, "n_below")?,
                    below: read_runs(j, "below")?,
                    above: read_runs(j, "above")?,
                    liars: read_runs(j, "liars")?,
                    threshold: field(j, "threshold")?.as_f64(),
                    params,
                    candidates,
                    log_l,
                    log_g,
                    chosen,
                    l,
                    g,
                })))
            }
            other => Err(ExplainError(format!("unknown kind `{other}`"))),
        }
    }

    /// Every explain record among a trial's system attributes, in key order; unreadable ones
    /// are left out.
    pub fn of_trial(t: &crate::trial::FrozenTrial) -> Vec<Explain> {
        t.system_attrs
            .range(EXPLAIN_KEY.to_string()..)
            .take_while(|(k, _)| k.starts_with(EXPLAIN_KEY))
            .filter_map(|(_, v)| Explain::from_json(v).ok())
            .collect()
    }
}

/// Trial numbers as `#2, #7, #9`, at most `max` of them then `… 4 more` (for the text
/// rendering and the playground's explain view).
pub fn list_numbers(numbers: &[u64], max: usize) -> String {
    let mut parts: Vec<String> = numbers.iter().take(max).map(|n| format!("#{n}")).collect();
    if numbers.len() > max {
        parts.push(format!("… {} more", numbers.len() - max));
    }
    parts.join(", ")
}

/// `1 trial`, `3 trials`.
pub fn trials(n: usize) -> String {
    if n == 1 {
        "1 trial".into()
    } else {
        format!("{n} trials")
    }
}

/// A number in a few significant digits.
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let digits = (3 - libm::floor(libm::log10(a)) as i32).clamp(0, 6) as usize;
        let t = format!("{x:.digits$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    } else {
        format!("{x:.3e}")
    }
}

/// One line of block characters: `values` scaled by `top` (0 ↦ lowest block).
fn spark(values: &[f64], top: f64) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|v| {
            let f = if top > 0.0 {
                (v / top).clamp(0.0, 1.0)
            } else {
                0.0
            };
            BLOCKS[((f * 7.0).round() as usize).min(7)]
        })
        .collect()
}

impl Explain {
    /// A short text rendering for a terminal (`sweeplab explain`): the split, the choice
    /// and, per parameter, l(x) and g(x) drawn as block characters with the chosen value
    /// marked. `trial` gives the parameters' distributions and values; `maximize`, the study's
    /// direction (which side of the threshold is good).
    pub fn render_text(&self, trial: &crate::trial::FrozenTrial, maximize: bool) -> String {
        let mut out = String::new();
        let value_of = |name: &str| {
            trial
                .param(name)
                .map_or_else(|| "?".to_string(), |v| v.to_string())
        };
        match self {
            Explain::Startup {
                params,
                n_finished,
                n_startup_trials,
            } => {
                for p in params {
                    out.push_str(&format!(
                        "{p} = {}: random: n < n_startup_trials ({n_finished} finished < {n_startup_trials})\n",
                        value_of(p)
                    ));
                }
            }
            Explain::Tpe(e) => {
                let how = if e.multivariate && e.params.len() > 1 {
                    "jointly (multivariate TPE)"
                } else {
                    "independently"
                };
                out.push_str(&format!(
                    "{}: TPE, {how}, from {} finished trials\n",
                    e.params.join(", "),
                    e.n_finished
                ));
                let threshold = e.threshold_phrase(maximize, &short);
                out.push_str(&format!(
                    "  good group l(x): {} ({}){threshold}\n",
                    trials(e.below.len()),
                    list_numbers(&e.below, 8)
                ));
                let liars = if e.liars.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; running, counted as bad (constant liar): {}",
                        list_numbers(&e.liars, 8)
                    )
                };
                out.push_str(&format!(
                    "  other group g(x): {}{liars}\n",
                    trials(e.above.len())
                ));
                let n_candidates = e.log_l.len();
                let (chosen, next) = e.chosen_and_next_best();
                out.push_str(&format!(
                    "  chose candidate {} of {}: log l - log g = {} (next best {})\n",
                    e.chosen + 1,
                    n_candidates,
                    short(chosen),
                    short(next)
                ));
                for (d, name) in e.params.iter().enumerate() {
                    out.push_str(&format!("  {name} = {}\n", value_of(name)));
                    let Some(c) = e.curve(d, 48) else {
                        out.push_str("    (estimators too large to record)\n");
                        continue;
                    };
                    let l: Vec<f64> = c.log_l.iter().map(|v| libm::exp(*v)).collect();
                    let g: Vec<f64> = c.log_g.iter().map(|v| libm::exp(*v)).collect();
                    let pick = e.chosen_values().get(d).copied().unwrap_or(f64::NAN);
                    let dist = trial.distribution(name);
                    let label = |x: f64| {
                        dist.map_or_else(
                            || short(x),
                            |d| match d.to_external(x) {
                                crate::distributions::ParamValue::Float(f) => short(f),
                                other => other.to_string(),
                            },
                        )
                    };
                    if dist.is_some_and(|d| d.is_categorical()) {
                        // Per choice: its probability under l and g.
                        for (i, x) in c.x.iter().enumerate() {
                            let mark = if *x == pick { "  <- chosen" } else { "" };
                            out.push_str(&format!(
                                "    {:<12} l {:.2}  g {:.2}{mark}\n",
                                label(*x),
                                l[i],
                                g[i]
                            ));
                        }
                        continue;
                    }
                    let top = l.iter().chain(&g).copied().fold(0.0, f64::max);
                    let at =
                        c.x.iter()
                            .enumerate()
                            .min_by(|a, b| {
                                let da = (a.1 - pick).abs();
                                let db = (b.1 - pick).abs();
                                da.partial_cmp(&db).unwrap_or(std::cmp::Ordering::Equal)
                            })
                            .map_or(0, |(i, _)| i);
                    let (lo, hi) = (
                        c.x.first().copied().unwrap_or(0.0),
                        c.x.last().copied().unwrap_or(0.0),
                    );
                    out.push_str(&format!(
                        "    l {}  {} .. {}\n",
                        spark(&l, top),
                        label(lo),
                        label(hi)
                    ));
                    out.push_str(&format!("    g {}\n", spark(&g, top)));
                    out.push_str(&format!("      {}^ chosen\n", " ".repeat(at)));
                }
            }
        }
        out
    }
}

/// How many numbers an estimator holds.
pub(crate) fn estimator_numbers(m: &Mixture) -> usize {
    m.weights.len()
        + m.kernels
            .iter()
            .map(|k| match k {
                Kernel::Categorical { weights, .. } => weights.len(),
                Kernel::Numerical { mu, sigma, .. } => mu.len() + sigma.len(),
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Distribution, SearchSpace};
    use crate::samplers::{TpeConfig, TpeSampler};
    use crate::storage::journal::JournalStorage;
    use crate::study::{Study, StudyDirection};
    use crate::trial::{FrozenTrial, TrialState};

    fn space() -> SearchSpace {
        [
            ("x", Distribution::float(-5.0, 5.0)),
            ("lr", Distribution::float_log(1e-5, 1e-1)),
            ("n", Distribution::int_step(0, 20, 2)),
            ("act", Distribution::categorical(["relu", "tanh", "gelu"])),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect()
    }

    fn run(multivariate: bool, explain: bool, trials: u64) -> Study {
        let cfg = TpeConfig {
            seed: Some(3),
            multivariate: Some(multivariate),
            n_startup_trials: 5,
            explain,
            ..TpeConfig::default()
        };
        let mut study = Study::create(
            "e",
            StudyDirection::Minimize,
            Box::new(TpeSampler::new(cfg)),
        )
        .unwrap();
        let space = space();
        for _ in 0..trials {
            let (number, p) = study.ask_with(&space).unwrap();
            let x = p["x"].as_f64().unwrap();
            let lr = p["lr"].as_f64().unwrap().log10();
            study
                .tell_value(number, (x - 1.0).powi(2) + (lr + 3.0).powi(2))
                .unwrap();
        }
        study
    }

    /// Every TPE record's chosen candidate is the trial's value, and the densities drawn
    /// from the record are the sampler's log density: at the chosen value they give the
    /// log l and log g the sampler scored it with.
    fn check_records(study: &Study, multivariate: bool) {
        let mut tpe_records = 0;
        for t in study.trials() {
            let records = Explain::of_trial(t);
            let mut covered: Vec<&str> = records
                .iter()
                .flat_map(|r| r.params().iter().map(String::as_str))
                .collect();
            covered.sort_unstable();
            assert_eq!(covered, ["act", "lr", "n", "x"], "trial {}", t.number);
            for r in &records {
                match r {
                    Explain::Startup {
                        n_finished,
                        n_startup_trials,
                        ..
                    } => {
                        assert!(t.number < 5 && *n_finished < *n_startup_trials);
                    }
                    Explain::Tpe(e) => {
                        tpe_records += 1;
                        assert!(t.number >= 5);
                        assert_eq!(e.multivariate, multivariate);
                        assert_eq!(e.params.len(), if multivariate { 4 } else { 1 });
                        let chosen = e.chosen_values();
                        for (d, name) in e.params.iter().enumerate() {
                            assert_eq!(Some(chosen[d]), t.param_internal(name), "{name}");
                        }
                        assert_eq!(e.below.len() + e.above.len(), e.n_finished);
                        assert_eq!(e.below.len(), e.n_below);
                        let scores = e.scores();
                        let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        assert_eq!(scores[e.chosen], best);
                        // The good group holds the best values: none of the others is better.
                        let value = |n: u64| study.trials()[n as usize].value().unwrap();
                        let threshold = e.threshold.unwrap();
                        assert!(e.below.iter().all(|n| value(*n) <= threshold));
                        assert!(e.above.iter().all(|n| value(*n) >= threshold));
                        // Densities from the record equal what the sampler computed.
                        let l = e.l.as_ref().unwrap();
                        let g = e.g.as_ref().unwrap();
                        assert_eq!(l.log_pdf(&e.candidates), e.log_l);
                        assert_eq!(g.log_pdf(&e.candidates), e.log_g);
                        if !multivariate {
                            let (ll, lg) = e.densities_at(0, &[chosen[0]]).unwrap();
                            assert_eq!((ll[0], lg[0]), (e.log_l[e.chosen], e.log_g[e.chosen]));
                        }
                        for d in 0..e.params.len() {
                            let c = e.curve(d, 50).unwrap();
                            assert!(c.x.len() >= 3 && c.x.len() <= 50);
                            assert_eq!(c.log_l.len(), c.x.len());
                            assert!(c.log_l.iter().chain(&c.log_g).all(|v| v.is_finite()));
                        }
                        if multivariate {
                            let p = e.pair(0, 1, 16).unwrap();
                            assert_eq!(p.log_l.len(), p.x.len() * p.y.len());
                        }
                    }
                }
            }
        }
        assert!(tpe_records > 0);
    }

    #[test]
    fn independent_records_explain_every_value() {
        check_records(&run(false, true, 14), false);
    }

    #[test]
    fn multivariate_records_explain_the_joint_sample() {
        check_records(&run(true, true, 14), true);
    }

    #[test]
    fn records_survive_the_journal_and_a_replay() {
        let mut study = run(true, true, 9);
        let text: String = study
            .take_pending()
            .iter()
            .map(|op| op.to_line("w") + "\n")
            .collect();
        let replayed = JournalStorage::from_text(&text).unwrap();
        let record = replayed.studies().next().unwrap();
        let trials = replayed.trials(record.study_id);
        for (a, b) in study.trials().iter().zip(trials) {
            let before = Explain::of_trial(a);
            assert!(!before.is_empty());
            assert_eq!(before, Explain::of_trial(b));
        }
    }

    #[test]
    fn off_writes_no_record_and_samples_the_same() {
        let on = run(true, true, 9);
        let off = run(true, false, 9);
        for (a, b) in on.trials().iter().zip(off.trials()) {
            assert!(Explain::of_trial(b).is_empty());
            assert!(!b.system_attrs.keys().any(|k| k.starts_with(EXPLAIN_KEY)));
            for name in ["x", "lr", "n", "act"] {
                assert_eq!(a.param_internal(name), b.param_internal(name));
            }
            assert_eq!(b.state, TrialState::Complete);
        }
    }

    #[test]
    fn text_rendering_names_the_split_and_the_choice() {
        let study = run(false, true, 8);
        let t = &study.trials()[7];
        let text: String = Explain::of_trial(t)
            .iter()
            .map(|r| r.render_text(t, false))
            .collect();
        assert!(
            text.contains("TPE, independently, from 7 finished trials"),
            "{text}"
        );
        assert!(text.contains("good group l(x): 1 trial (#"), "{text}");
        assert!(text.contains("^ chosen"), "{text}");
        assert!(
            text.contains(&format!("x = {}", t.param("x").unwrap())),
            "{text}"
        );
        let t = &study.trials()[0];
        let text: String = Explain::of_trial(t)
            .iter()
            .map(|r| r.render_text(t, false))
            .collect();
        assert!(
            text.contains("random: n < n_startup_trials (0 finished < 5)"),
            "{text}"
        );
    }

    #[test]
    fn a_large_study_records_the_split_and_scores_without_the_big_estimator() {
        let cfg = TpeConfig {
            seed: Some(5),
            multivariate: Some(false),
            explain: true,
            ..TpeConfig::default()
        };
        let mut study = Study::create(
            "big",
            StudyDirection::Minimize,
            Box::new(TpeSampler::new(cfg)),
        )
        .unwrap();
        let d = Distribution::float(-5.0, 5.0);
        // 400 finished trials: g(x) holds 376 of them, 3 × 377 numbers, over the cap.
        for i in 0..400u32 {
            let mut t = FrozenTrial::new(u64::from(i), 0, TrialState::Complete);
            let x = -5.0 + 10.0 * f64::from(i) / 400.0;
            t.set_param_internal("x", d.clone(), x);
            t.values = Some(vec![x * x]);
            study.add_trial(&t).unwrap();
        }
        let (n, _) = study
            .ask_with(&[("x".to_string(), d)].into_iter().collect())
            .unwrap();
        let t = &study.trials()[n as usize];
        let [Explain::Tpe(e)] = &Explain::of_trial(t)[..] else {
            panic!("one TPE record")
        };
        assert_eq!(e.below.len() + e.above.len(), 400);
        assert!(e.l.is_some(), "l(x): 25 trials, under the cap");
        assert!(e.g.is_none(), "g(x): over the cap");
        assert_eq!(e.chosen_values()[0], t.param_internal("x").unwrap());
        assert!(e.curve(0, 10).is_none());
        let text = Explain::of_trial(t)[0].render_text(t, false);
        assert!(text.contains("too large to record"), "{text}");
        let size = t
            .system_attrs
            .values()
            .map(|v| v.to_compact().len())
            .sum::<usize>();
        assert!(size < 40_000, "{size} bytes");
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let study = run(false, true, 7);
        let t = &study.trials()[6];
        let (_, good) = t
            .system_attrs
            .iter()
            .find(|(k, _)| k.starts_with(EXPLAIN_KEY))
            .unwrap();
        let text = good.to_compact();
        for bad in [
            text.replace("\"chosen\":", "\"chosen\":999,\"x\":"),
            text.replace("\"kind\":\"tpe\"", "\"kind\":\"what\""),
            text.replace("\"log_g\":[", "\"log_g\":[1.0,"),
            text.replace("\"below\":[[", "\"below\":[[99999999999,"),
            "{}".to_string(),
            "[]".to_string(),
        ] {
            let j = Json::parse(&bad).unwrap();
            assert!(Explain::from_json(&j).is_err(), "{bad}");
        }
        assert!(Explain::from_json(good).is_ok());
    }
}
