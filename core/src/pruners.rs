//! Pruners with Optuna's defaults and semantics: Nop, Percentile/Median,
//! SuccessiveHalving (asynchronous SHA) and Hyperband, as Optuna 5.0's
//! `optuna/pruners/_nop.py`, `_percentile.py`, `_median.py`, `_successive_halving.py` and
//! `_hyperband.py` define them.

use crate::json::Json;
use crate::trial::{FrozenTrial, TrialState};
use crate::view::{StudyDirection, StudyView};

/// A pruner's verdict, plus system attributes to record on the trial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PruneDecision {
    /// Stop the trial now.
    pub prune: bool,
    /// Bookkeeping to store on the trial (SHA's `completed_rung_*`).
    pub system_attrs: Vec<(String, Json)>,
    /// Why the trial is stopped, when it is: the study records it with the trial
    /// ([`PRUNE_REASON_KEY`]) at the moment of the decision.
    pub reason: Option<PruneReason>,
}

impl PruneDecision {
    fn verdict(prune: bool) -> Self {
        PruneDecision {
            prune,
            ..PruneDecision::default()
        }
    }

    fn pruned(reason: PruneReason) -> Self {
        PruneDecision {
            prune: true,
            reason: Some(reason),
            ..PruneDecision::default()
        }
    }
}

/// The system attribute holding a pruned trial's [`PruneReason`].
pub const PRUNE_REASON_KEY: &str = "sweeplab:prune_reason";

/// Why a pruner stopped a trial, as it saw the study when it decided.
#[derive(Clone, Debug, PartialEq)]
pub enum PruneReason {
    /// The trial reported NaN at `step`.
    NotANumber {
        /// The step.
        step: i64,
    },
    /// The trial's best value so far is worse than the percentile (the median for
    /// `MedianPruner`) of the COMPLETE trials' values at `step`.
    Percentile {
        /// `MedianPruner`.
        median: bool,
        /// The percentile (before flipping for maximisation).
        percentile: f64,
        /// The step.
        step: i64,
        /// The trial's best value so far.
        best: f64,
        /// The percentile of the completed trials' values at `step`.
        threshold: f64,
        /// How many completed trials reported at `step`.
        n_trials: usize,
        /// The study maximises.
        maximize: bool,
    },
    /// Successive halving: at rung `rung` (step `step`) the trial's value is not among the
    /// best `1 / reduction_factor` of the trials that reached the rung.
    Rung {
        /// The rung.
        rung: usize,
        /// The step.
        step: i64,
        /// The trial's value at the step.
        value: f64,
        /// The worst value promoted at this rung.
        cutoff: f64,
        /// Trials at this rung, this one included.
        n_trials: usize,
        /// The reduction factor.
        reduction_factor: i64,
        /// The study maximises.
        maximize: bool,
    },
    /// Successive halving's bootstrap: too few trials had reached rung `rung` yet.
    Bootstrap {
        /// The rung.
        rung: usize,
        /// The step.
        step: i64,
        /// Trials at this rung, this one included.
        n_trials: usize,
        /// The pruner's `bootstrap_count`.
        bootstrap_count: usize,
    },
}

impl PruneReason {
    /// The reason as JSON (the system attribute's value).
    pub fn to_json(&self) -> Json {
        use crate::json::obj;
        let int = |v: i64| Json::Int(v);
        match self {
            PruneReason::NotANumber { step } => {
                obj([("rule", Json::Str("nan".into())), ("step", int(*step))])
            }
            PruneReason::Percentile {
                median,
                percentile,
                step,
                best,
                threshold,
                n_trials,
                maximize,
            } => obj([
                (
                    "rule",
                    Json::Str(if *median { "median" } else { "percentile" }.into()),
                ),
                ("percentile", Json::Float(*percentile)),
                ("step", int(*step)),
                ("best", Json::Float(*best)),
                ("threshold", Json::Float(*threshold)),
                ("n_trials", int(*n_trials as i64)),
                ("maximize", Json::Bool(*maximize)),
            ]),
            PruneReason::Rung {
                rung,
                step,
                value,
                cutoff,
                n_trials,
                reduction_factor,
                maximize,
            } => obj([
                ("rule", Json::Str("rung".into())),
                ("rung", int(*rung as i64)),
                ("step", int(*step)),
                ("value", Json::Float(*value)),
                ("cutoff", Json::Float(*cutoff)),
                ("n_trials", int(*n_trials as i64)),
                ("reduction_factor", int(*reduction_factor)),
                ("maximize", Json::Bool(*maximize)),
            ]),
            PruneReason::Bootstrap {
                rung,
                step,
                n_trials,
                bootstrap_count,
            } => obj([
                ("rule", Json::Str("bootstrap".into())),
                ("rung", int(*rung as i64)),
                ("step", int(*step)),
                ("n_trials", int(*n_trials as i64)),
                ("bootstrap_count", int(*bootstrap_count as i64)),
            ]),
        }
    }

    /// Reads [`PruneReason::to_json`]; `None` for anything else.
    pub fn from_json(j: &Json) -> Option<PruneReason> {
        let f = |k: &str| j.get(k).and_then(Json::as_f64);
        let i = |k: &str| j.get(k).and_then(Json::as_i64);
        let u = |k: &str| i(k).and_then(|v| usize::try_from(v).ok());
        let b = |k: &str| j.get(k).and_then(Json::as_bool);
        Some(match j.get("rule")?.as_str()? {
            "nan" => PruneReason::NotANumber { step: i("step")? },
            rule @ ("median" | "percentile") => PruneReason::Percentile {
                median: rule == "median",
                percentile: f("percentile")?,
                step: i("step")?,
                best: f("best")?,
                threshold: f("threshold")?,
                n_trials: u("n_trials")?,
                maximize: b("maximize")?,
            },
            "rung" => PruneReason::Rung {
                rung: u("rung")?,
                step: i("step")?,
                value: f("value")?,
                cutoff: f("cutoff")?,
                n_trials: u("n_trials")?,
                reduction_factor: i("reduction_factor")?,
                maximize: b("maximize")?,
            },
            "bootstrap" => PruneReason::Bootstrap {
                rung: u("rung")?,
                step: i("step")?,
                n_trials: u("n_trials")?,
                bootstrap_count: u("bootstrap_count")?,
            },
            _ => return None,
        })
    }

    /// The reason recorded on `trial`, if any.
    pub fn of_trial(trial: &FrozenTrial) -> Option<PruneReason> {
        trial
            .system_attrs
            .get(PRUNE_REASON_KEY)
            .and_then(PruneReason::from_json)
    }

    /// One sentence for people, e.g. "Pruned at epoch 4: its best val/loss so far, 0.71, >
    /// the median 0.52 of 14 completed trials at epoch 4."; `objective` names the value and
    /// `fmt` writes numbers.
    pub fn describe(&self, objective: &str, fmt: &dyn Fn(f64) -> String) -> String {
        match self {
            PruneReason::NotANumber { step } => {
                format!("Pruned at epoch {step}: it reported NaN (not a number).")
            }
            PruneReason::Percentile {
                median,
                percentile,
                step,
                best,
                threshold,
                n_trials,
                maximize,
            } => {
                let rule = if *median {
                    "the median".to_string()
                } else {
                    format!("the {}th percentile", fmt(*percentile))
                };
                let cmp = if *maximize { "<" } else { ">" };
                format!(
                    "Pruned at epoch {step}: its best {objective} so far, {}, {cmp} {rule} {} of {n_trials} completed trials at epoch {step}.",
                    fmt(*best),
                    fmt(*threshold)
                )
            }
            PruneReason::Rung {
                rung,
                step,
                value,
                cutoff,
                n_trials,
                reduction_factor,
                maximize,
            } => {
                let cmp = if *maximize { "<" } else { ">" };
                format!(
                    "Pruned at epoch {step}, rung {rung}: its {objective} {} {cmp} {}, the cut for the best 1/{reduction_factor} of the {n_trials} trials that reached this rung.",
                    fmt(*value),
                    fmt(*cutoff)
                )
            }
            PruneReason::Bootstrap {
                rung,
                step,
                n_trials,
                bootstrap_count,
            } => format!(
                "Pruned at epoch {step}, rung {rung}: only {n_trials} trials had reached this rung, not more than bootstrap_count = {bootstrap_count}."
            ),
        }
    }
}

/// Invalid pruner settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PrunerError(pub String);

/// Returns a [`PrunerError`] with the `format!` message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(PrunerError(format!($($msg)+)));
        }
    };
}

/// The last step reported by any COMPLETE trial of `study` (what Optuna's `"auto"` resources
/// are derived from).
fn last_complete_step(study: &StudyView<'_>) -> Option<i64> {
    study
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.last_step())
        .max()
}

/// A pruner (Optuna's `BasePruner`).
pub trait Pruner {
    /// The class name, as Optuna spells it.
    fn name(&self) -> &'static str;
    /// Decides whether `trial` (RUNNING, with its reports so far) should stop.
    fn prune(&mut self, study: &StudyView<'_>, trial: &FrozenTrial) -> PruneDecision;
    /// Hyperband's bracket of a trial; samplers then see only that bracket's trials.
    fn bracket_of(&self, _study_name: &str, _number: u64) -> Option<usize> {
        None
    }
}

/// Never prunes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn name(&self) -> &'static str {
        "NopPruner"
    }
    fn prune(&mut self, _: &StudyView<'_>, _: &FrozenTrial) -> PruneDecision {
        PruneDecision::default()
    }
}

/// Prunes a trial whose best value so far is worse than the given percentile of the
/// COMPLETE trials' values at the same step. `MedianPruner` is the 50th percentile.
#[derive(Debug, Clone)]
pub struct PercentilePruner {
    percentile: f64,
    n_startup_trials: usize,
    n_warmup_steps: i64,
    interval_steps: i64,
    n_min_trials: usize,
    median: bool,
}

impl PercentilePruner {
    /// A percentile pruner with Optuna's checks.
    pub fn new(
        percentile: f64,
        n_startup_trials: usize,
        n_warmup_steps: i64,
        interval_steps: i64,
        n_min_trials: usize,
    ) -> Result<Self, PrunerError> {
        ensure!(
            (0.0..=100.0).contains(&percentile),
            "percentile must be between 0 and 100 inclusive, but got {percentile}"
        );
        ensure!(
            n_warmup_steps >= 0,
            "n_warmup_steps cannot be negative, but got {n_warmup_steps}"
        );
        ensure!(
            interval_steps >= 1,
            "interval_steps must be at least 1, but got {interval_steps}"
        );
        ensure!(
            n_min_trials >= 1,
            "n_min_trials must be at least 1, but got {n_min_trials}"
        );
        Ok(PercentilePruner {
            percentile,
            n_startup_trials,
            n_warmup_steps,
            interval_steps,
            n_min_trials,
            median: false,
        })
    }

    /// `MedianPruner(n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)`.
    pub fn median(
        n_startup_trials: usize,
        n_warmup_steps: i64,
        interval_steps: i64,
        n_min_trials: usize,
    ) -> Result<Self, PrunerError> {
        let mut p = Self::new(
            50.0,
            n_startup_trials,
            n_warmup_steps,
            interval_steps,
            n_min_trials,
        )?;
        p.median = true;
        Ok(p)
    }

    /// `MedianPruner()` with Optuna's defaults (5 startup trials, no warm-up).
    pub fn median_default() -> Self {
        PercentilePruner {
            percentile: 50.0,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
            median: true,
        }
    }
}

/// numpy's `nanpercentile` with linear interpolation.
pub fn nanpercentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    if lo == hi {
        return v[lo];
    }
    let frac = pos - lo as f64;
    v[lo] + (v[hi] - v[lo]) * frac
}

impl PercentilePruner {
    /// The pruner's percentile of the `completed` trials' values reported at `step` (the
    /// percentile flipped when maximising), and how many values it is taken over; `None`
    /// when fewer than `n_min_trials` reported there or the percentile is NaN. A trial whose
    /// best value so far is worse is pruned at that step.
    fn percentile_at(
        &self,
        completed: &[&FrozenTrial],
        step: i64,
        dir: StudyDirection,
    ) -> Option<(f64, usize)> {
        let at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate_values.get(&step).copied())
            .collect();
        if at_step.len() < self.n_min_trials {
            return None;
        }
        let q = if dir == StudyDirection::Maximize {
            100.0 - self.percentile
        } else {
            self.percentile
        };
        let p = nanpercentile(&at_step, q);
        (!p.is_nan()).then_some((p, at_step.len()))
    }

    /// The line the pruner judges trials by at `step`, for showing it: the percentile (the
    /// median for `MedianPruner`) of the `completed` trials' values at that step and how many
    /// there are, as [`Pruner::prune`] computes it; `None` at a step where the pruner judges
    /// no trial (before `n_startup_trials` trials completed, during the warm-up, between
    /// checks, or with fewer than `n_min_trials` values).
    pub fn threshold(
        &self,
        completed: &[&FrozenTrial],
        step: i64,
        dir: StudyDirection,
    ) -> Option<(f64, usize)> {
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return None;
        }
        if step < self.n_warmup_steps || (step - self.n_warmup_steps) % self.interval_steps != 0 {
            return None;
        }
        self.percentile_at(completed, step, dir)
    }

    /// Whether this is `MedianPruner` (the 50th percentile).
    pub fn is_median(&self) -> bool {
        self.median
    }
}

fn is_first_in_interval_step(step: i64, trial: &FrozenTrial, warmup: i64, interval: i64) -> bool {
    let nearest_lower = (step - warmup).div_euclid(interval) * interval + warmup;
    let second_last = trial
        .intermediate_values
        .keys()
        .copied()
        .filter(|s| *s != step)
        .fold(-1, i64::max);
    second_last < nearest_lower
}

impl Pruner for PercentilePruner {
    fn name(&self) -> &'static str {
        if self.median {
            "MedianPruner"
        } else {
            "PercentilePruner"
        }
    }

    fn prune(&mut self, study: &StudyView<'_>, trial: &FrozenTrial) -> PruneDecision {
        let completed = study.trials_in(&[TrialState::Complete]);
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return PruneDecision::verdict(false);
        }
        let Some(step) = trial.last_step() else {
            return PruneDecision::verdict(false);
        };
        if step < self.n_warmup_steps {
            return PruneDecision::verdict(false);
        }
        if !is_first_in_interval_step(step, trial, self.n_warmup_steps, self.interval_steps) {
            return PruneDecision::verdict(false);
        }
        let dir = study.direction();
        let vals: Vec<f64> = trial.intermediate_values.values().copied().collect();
        let finite: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
        let best = if finite.is_empty() {
            f64::NAN
        } else if dir == StudyDirection::Maximize {
            finite.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            finite.iter().copied().fold(f64::INFINITY, f64::min)
        };
        if best.is_nan() {
            return PruneDecision::pruned(PruneReason::NotANumber { step });
        }
        let Some((p, n)) = self.percentile_at(&completed, step, dir) else {
            return PruneDecision::verdict(false);
        };
        let maximize = dir == StudyDirection::Maximize;
        if (maximize && best < p) || (!maximize && best > p) {
            PruneDecision::pruned(PruneReason::Percentile {
                median: self.median,
                percentile: self.percentile,
                step,
                best,
                threshold: p,
                n_trials: n,
                maximize,
            })
        } else {
            PruneDecision::verdict(false)
        }
    }
}

/// Asynchronous successive halving.
#[derive(Debug, Clone)]
pub struct SuccessiveHalvingPruner {
    min_resource: Option<i64>,
    reduction_factor: i64,
    min_early_stopping_rate: i64,
    bootstrap_count: usize,
}

impl SuccessiveHalvingPruner {
    /// `min_resource = None` means Optuna's `"auto"`.
    pub fn new(
        min_resource: Option<i64>,
        reduction_factor: i64,
        min_early_stopping_rate: i64,
        bootstrap_count: usize,
    ) -> Result<Self, PrunerError> {
        if let Some(m) = min_resource
            && m < 1
        {
            return Err(PrunerError(format!(
                "min_resource must be >= 1 or \"auto\", but got {m}"
            )));
        }
        ensure!(
            reduction_factor >= 2,
            "reduction_factor must be >= 2, but got {reduction_factor}"
        );
        ensure!(
            min_early_stopping_rate >= 0,
            "min_early_stopping_rate must be >= 0, but got {min_early_stopping_rate}"
        );
        ensure!(
            bootstrap_count == 0 || min_resource.is_some(),
            "bootstrap_count > 0 and min_resource == \"auto\" are mutually incompatible"
        );
        Ok(SuccessiveHalvingPruner {
            min_resource,
            reduction_factor,
            min_early_stopping_rate,
            bootstrap_count,
        })
    }
}

impl Default for SuccessiveHalvingPruner {
    fn default() -> Self {
        SuccessiveHalvingPruner {
            min_resource: None,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

fn rung_key(rung: usize) -> String {
    format!("completed_rung_{rung}")
}

impl Pruner for SuccessiveHalvingPruner {
    fn name(&self) -> &'static str {
        "SuccessiveHalvingPruner"
    }

    fn prune(&mut self, study: &StudyView<'_>, trial: &FrozenTrial) -> PruneDecision {
        let mut out = PruneDecision::default();
        let Some(step) = trial.last_step() else {
            return out;
        };
        let mut rung = 0;
        while trial.system_attrs.contains_key(&rung_key(rung)) {
            rung += 1;
        }
        let value = trial
            .intermediate_values
            .get(&step)
            .copied()
            .unwrap_or(f64::NAN);
        loop {
            if self.min_resource.is_none() {
                match last_complete_step(study) {
                    Some(l) => self.min_resource = Some((l / 100).max(1)),
                    None => return out,
                }
            }
            let min_resource = self.min_resource.unwrap_or(1);
            let exp = (self.min_early_stopping_rate + rung as i64) as u32;
            let promotion = min_resource.saturating_mul(self.reduction_factor.saturating_pow(exp));
            if step < promotion {
                return out;
            }
            if value.is_nan() {
                out.prune = true;
                out.reason = Some(PruneReason::NotANumber { step });
                return out;
            }
            let key = rung_key(rung);
            out.system_attrs.push((key.clone(), Json::Float(value)));
            // sweeplab's own: the step the rung's value is from (for drawing the cut).
            out.system_attrs
                .push((format!("{RUNG_STEP_PREFIX}{rung}"), Json::Int(step)));
            let mut competing: Vec<f64> = study
                .trials
                .iter()
                .filter(|t| t.number != trial.number)
                .filter_map(|t| t.system_attrs.get(&key).and_then(Json::as_f64))
                .collect();
            competing.push(value);
            if competing.len() <= self.bootstrap_count {
                out.prune = true;
                out.reason = Some(PruneReason::Bootstrap {
                    rung,
                    step,
                    n_trials: competing.len(),
                    bootstrap_count: self.bootstrap_count,
                });
                return out;
            }
            let idx = (competing.len() as i64 / self.reduction_factor - 1).max(0) as usize;
            competing.sort_by(f64::total_cmp);
            let maximize = study.direction() == StudyDirection::Maximize;
            let cutoff = if maximize {
                competing[competing.len() - 1 - idx]
            } else {
                competing[idx]
            };
            let promotable = if maximize {
                value >= cutoff
            } else {
                value <= cutoff
            };
            if !promotable {
                out.prune = true;
                out.reason = Some(PruneReason::Rung {
                    rung,
                    step,
                    value,
                    cutoff,
                    n_trials: competing.len(),
                    reduction_factor: self.reduction_factor,
                    maximize,
                });
                return out;
            }
            rung += 1;
        }
    }
}

/// Where successive halving cuts at one rung now: a trial reaching `step` goes on only if
/// its value is at least as good as `cutoff`.
#[derive(Clone, Debug, PartialEq)]
pub struct RungCut {
    /// The bracket (Hyperband), in order of its first rung's step; 0 for successive halving.
    pub bracket: usize,
    /// The rung.
    pub rung: usize,
    /// The step the rung is decided at.
    pub step: i64,
    /// The worst value the next trial may have at `step` and still go on.
    pub cutoff: f64,
    /// Trials that reached the rung.
    pub n_trials: usize,
}

/// The prefix of sweeplab's system attribute recording the step of a trial's
/// `completed_rung_<r>` value: `sweeplab:rung_step_<r>`.
pub const RUNG_STEP_PREFIX: &str = "sweeplab:rung_step_";

/// The step at which `trial` completed `rung`: as sweeplab recorded it, or (a study written
/// by Optuna) its first report equal to the value in `completed_rung_<rung>`.
fn rung_step(trial: &FrozenTrial, rung: usize) -> Option<i64> {
    if let Some(s) = trial
        .system_attrs
        .get(&format!("{RUNG_STEP_PREFIX}{rung}"))
        .and_then(Json::as_i64)
    {
        return Some(s);
    }
    let v = trial.system_attrs.get(&rung_key(rung))?.as_f64()?;
    trial
        .intermediate_values
        .iter()
        .find(|(_, x)| x.to_bits() == v.to_bits())
        .map(|(s, _)| *s)
}

/// The cut of every rung of successive halving (or of each Hyperband bracket) as the
/// pruner would apply it to the next trial, from the `completed_rung_*` values `trials`
/// recorded. Hyperband's brackets are told apart by the step of their first rung
/// (`min_resource · reduction_factor^bracket`). A rung with no more than `bootstrap_count`
/// values has no cut yet.
pub fn rung_cuts(
    trials: &[&FrozenTrial],
    reduction_factor: i64,
    bootstrap_count: usize,
    dir: StudyDirection,
) -> Vec<RungCut> {
    let mut brackets: std::collections::BTreeMap<i64, Vec<&FrozenTrial>> = Default::default();
    for t in trials {
        if let Some(s) = rung_step(t, 0) {
            brackets.entry(s).or_default().push(t);
        }
    }
    let mut out = Vec::new();
    let rf = reduction_factor.max(1);
    for (bracket, members) in brackets.values().enumerate() {
        for rung in 0.. {
            let key = rung_key(rung);
            let mut values: Vec<f64> = members
                .iter()
                .filter_map(|t| t.system_attrs.get(&key).and_then(Json::as_f64))
                .filter(|v| !v.is_nan())
                .collect();
            let Some(step) = members.iter().filter_map(|t| rung_step(t, rung)).min() else {
                break;
            };
            if values.is_empty() || values.len() < bootstrap_count {
                continue;
            }
            // With the next trial the rung holds n + 1 values; it goes on when it ranks
            // within the best ((n + 1) / rf) of them.
            let idx = (((values.len() + 1) as i64 / rf) - 1).max(0) as usize;
            values.sort_by(f64::total_cmp);
            if dir == StudyDirection::Maximize {
                values.reverse();
            }
            out.push(RungCut {
                bracket,
                rung,
                step,
                cutoff: values[idx.min(values.len() - 1)],
                n_trials: values.len(),
            });
        }
    }
    out
}

/// Hyperband: several SHA brackets; each trial is assigned to one by a CRC32 hash of
/// `"{study_name}_{number}"`, and the sampler sees only that bracket's trials.
#[derive(Debug, Clone)]
pub struct HyperbandPruner {
    min_resource: i64,
    max_resource: Option<i64>,
    reduction_factor: i64,
    bootstrap_count: usize,
    pruners: Vec<SuccessiveHalvingPruner>,
    budgets: Vec<i64>,
    total_budget: i64,
}

impl HyperbandPruner {
    /// `max_resource = None` means Optuna's `"auto"`.
    pub fn new(
        min_resource: i64,
        max_resource: Option<i64>,
        reduction_factor: i64,
        bootstrap_count: usize,
    ) -> Result<Self, PrunerError> {
        ensure!(
            min_resource >= 1,
            "min_resource must be >= 1, but got {min_resource}"
        );
        ensure!(
            reduction_factor >= 2,
            "reduction_factor must be >= 2, but got {reduction_factor}"
        );
        if let Some(m) = max_resource
            && m < min_resource
        {
            return Err(PrunerError(format!(
                "max_resource ({m}) must be >= min_resource ({min_resource})"
            )));
        }
        ensure!(
            bootstrap_count == 0 || max_resource.is_some(),
            "bootstrap_count > 0 and max_resource == \"auto\" are mutually incompatible"
        );
        Ok(HyperbandPruner {
            min_resource,
            max_resource,
            reduction_factor,
            bootstrap_count,
            pruners: Vec::new(),
            budgets: Vec::new(),
            total_budget: 0,
        })
    }

    /// The number of brackets once initialised.
    pub fn n_brackets(&self) -> usize {
        self.pruners.len()
    }

    fn try_init(&mut self, study: &StudyView<'_>) {
        if self.max_resource.is_none() {
            match last_complete_step(study) {
                Some(l) => self.max_resource = Some(l + 1),
                None => return,
            }
        }
        let max_resource = self.max_resource.unwrap_or(self.min_resource);
        let ratio = max_resource as f64 / self.min_resource as f64;
        let n_brackets =
            (libm::log(ratio) / libm::log(self.reduction_factor as f64)).floor() as i64 + 1;
        let n_brackets = n_brackets.max(1);
        for b in 0..n_brackets {
            let s = n_brackets - 1 - b;
            let budget = ((n_brackets as f64) * (self.reduction_factor as f64).powi(s as i32)
                / (s + 1) as f64)
                .ceil() as i64;
            self.budgets.push(budget);
            self.total_budget += budget;
            self.pruners.push(SuccessiveHalvingPruner {
                min_resource: Some(self.min_resource),
                reduction_factor: self.reduction_factor,
                min_early_stopping_rate: b,
                bootstrap_count: self.bootstrap_count,
            });
        }
    }

    /// The bracket of trial `number` (0 before initialisation).
    pub fn bracket_id(&self, study_name: &str, number: u64) -> usize {
        if self.pruners.is_empty() || self.total_budget <= 0 {
            return 0;
        }
        let key = format!("{study_name}_{number}");
        let mut n = (crc32fast::hash(key.as_bytes()) as i64) % self.total_budget;
        for (b, budget) in self.budgets.iter().enumerate() {
            n -= budget;
            if n < 0 {
                return b;
            }
        }
        self.budgets.len() - 1
    }
}

impl Pruner for HyperbandPruner {
    fn name(&self) -> &'static str {
        "HyperbandPruner"
    }

    fn prune(&mut self, study: &StudyView<'_>, trial: &FrozenTrial) -> PruneDecision {
        if self.pruners.is_empty() {
            self.try_init(study);
            if self.pruners.is_empty() {
                return PruneDecision::default();
            }
        }
        let b = self.bracket_id(study.name, trial.number);
        let bracket = StudyView {
            name: study.name,
            directions: study.directions,
            trials: study
                .trials
                .iter()
                .copied()
                .filter(|t| self.bracket_id(study.name, t.number) == b)
                .collect(),
        };
        match self.pruners.get_mut(b) {
            Some(p) => p.prune(&bracket, trial),
            None => PruneDecision::default(),
        }
    }

    fn bracket_of(&self, study_name: &str, number: u64) -> Option<usize> {
        Some(self.bracket_id(study_name, number))
    }
}

#[cfg(test)]
mod tests;
