//! What the charts draw, derived from a study's trials: parameter axes, the optimisation
//! history, interpolated contours and the trials table's ordering. Pure functions over the
//! core's [`FrozenTrial`]s, tested natively.

use std::collections::BTreeMap;
use std::rc::Rc;

use sweeplab_core::{Distribution, FrozenTrial, StudyDirection, TrialState};

/// A snapshot of a study for the charts. Two snapshots compare equal when their versions
/// do, so a chart redraws only when the study changed.
#[derive(Clone, Debug)]
pub struct StudyData {
    /// Bumped on every change.
    pub version: u64,
    /// The objective's direction.
    pub direction: StudyDirection,
    /// The objective's name, for axis labels.
    pub objective: String,
    /// Every trial, in number order. Each is shared, so a new snapshot copies only the
    /// trials that changed.
    pub trials: Rc<Vec<Rc<FrozenTrial>>>,
    /// The parameter axes, computed once per snapshot (see [`StudyData::axes`]).
    axes: Rc<Vec<Axis>>,
}

impl PartialEq for StudyData {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

impl Default for StudyData {
    fn default() -> Self {
        StudyData {
            version: 0,
            direction: StudyDirection::Minimize,
            objective: "objective".into(),
            trials: Rc::new(Vec::new()),
            axes: Rc::new(Vec::new()),
        }
    }
}

impl StudyData {
    /// A snapshot of `trials`.
    pub fn new(
        version: u64,
        direction: StudyDirection,
        objective: String,
        trials: Rc<Vec<Rc<FrozenTrial>>>,
    ) -> Self {
        let axes = Rc::new(axes_of(&trials));
        StudyData {
            version,
            direction,
            objective,
            trials,
            axes,
        }
    }

    /// The trials that have a finite objective value (COMPLETE).
    pub fn completed(&self) -> impl Iterator<Item = &FrozenTrial> {
        self.trials
            .iter()
            .map(|t| &**t)
            .filter(|t| t.state == TrialState::Complete && t.value().is_some_and(f64::is_finite))
    }

    /// The best COMPLETE trial.
    pub fn best(&self) -> Option<&FrozenTrial> {
        let mut best: Option<&FrozenTrial> = None;
        for t in self.completed() {
            let v = t.value().unwrap_or(f64::NAN);
            if best.is_none_or(|b| self.direction.better(v, b.value().unwrap_or(f64::NAN))) {
                best = Some(t);
            }
        }
        best
    }

    /// `(trial number, value, best so far)` for every COMPLETE trial, in number order.
    pub fn history(&self) -> Vec<(u64, f64, f64)> {
        let mut best = f64::NAN;
        self.completed()
            .map(|t| {
                let v = t.value().unwrap_or(f64::NAN);
                if best.is_nan() || self.direction.better(v, best) {
                    best = v;
                }
                (t.number, v, best)
            })
            .collect()
    }

    /// `(trial number, last reported value)` for every PRUNED trial that reported a finite
    /// one, in number order: the history shows them beside the completed trials.
    pub fn pruned_points(&self) -> Vec<(u64, f64)> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Pruned)
            .filter_map(|t| {
                let (_, v) = t.intermediate_values.last_key_value()?;
                v.is_finite().then_some((t.number, *v))
            })
            .collect()
    }

    /// The parameter axes: every parameter any trial has, in name order, with the
    /// distribution of its latest trial.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// The coordinate of `t` on every axis, in axis order (`None` where it lacks the
    /// parameter): one merge of its parameters and the axes, both in name order, instead
    /// of a lookup per axis.
    pub fn coords(&self, t: &FrozenTrial) -> Vec<Option<f64>> {
        let axes = self.axes();
        let mut out = vec![None; axes.len()];
        let mut i = 0;
        for (name, dist, internal) in t.params_internal() {
            while i < axes.len() && axes[i].name.as_str() < name {
                i += 1;
            }
            let Some(axis) = axes.get(i) else {
                break;
            };
            if axis.name == name {
                out[i] = axis.coord_of(dist, internal);
                i += 1;
            }
        }
        out
    }

    /// The objective's value range over COMPLETE trials.
    pub fn value_range(&self) -> Option<(f64, f64)> {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for t in self.completed() {
            let v = t.value().unwrap_or(f64::NAN);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        lo.is_finite().then_some((lo, hi))
    }

    /// `value`'s rank in [0, 1] where 1 is best (for colouring).
    pub fn goodness(&self, value: f64) -> f64 {
        self.goodness_fn()(value)
    }

    /// [`StudyData::goodness`] with the value range computed once (for colouring many
    /// points).
    pub fn goodness_fn(&self) -> impl Fn(f64) -> f64 + use<> {
        let range = self.value_range();
        let maximize = self.direction == StudyDirection::Maximize;
        move |value| match range {
            Some((lo, hi)) if hi > lo => {
                let t = (value - lo) / (hi - lo);
                if maximize { t } else { 1.0 - t }
            }
            _ => 0.5,
        }
    }
}

/// One parameter as a chart axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The parameter's name.
    pub name: String,
    /// Its distribution.
    pub dist: Distribution,
}

impl Axis {
    /// Whether the axis is logarithmic.
    pub fn log(&self) -> bool {
        match &self.dist {
            Distribution::Float(f) => f.log,
            Distribution::Int(i) => i.log,
            Distribution::Categorical(_) => false,
        }
    }

    /// The categorical labels, if categorical.
    pub fn labels(&self) -> Option<Vec<String>> {
        match &self.dist {
            Distribution::Categorical(c) => {
                Some(c.choices.iter().map(ToString::to_string).collect())
            }
            _ => None,
        }
    }

    /// The numeric coordinate of a trial on this axis (the value, or the choice index).
    pub fn coord(&self, t: &FrozenTrial) -> Option<f64> {
        self.coord_of(t.distribution(&self.name)?, t.param_internal(&self.name)?)
    }

    /// The coordinate of a value sampled from `theirs` (internal representation).
    fn coord_of(&self, theirs: &Distribution, internal: f64) -> Option<f64> {
        match (&self.dist, theirs) {
            (Distribution::Categorical(mine), Distribution::Categorical(theirs)) => {
                let value = theirs.choices.get(internal as usize)?;
                mine.choices
                    .iter()
                    .position(|c| c == value)
                    .map(|i| i as f64)
            }
            (Distribution::Categorical(_), _) | (_, Distribution::Categorical(_)) => None,
            _ => Some(internal),
        }
    }

    /// The data range of the axis (choice indices for categoricals).
    pub fn bounds(&self) -> (f64, f64) {
        match &self.dist {
            Distribution::Float(f) => (f.low, f.high),
            Distribution::Int(i) => (i.low as f64, i.high as f64),
            Distribution::Categorical(c) => (0.0, c.choices.len().saturating_sub(1) as f64),
        }
    }
}

/// Every parameter any of `trials` has, in name order, with the distribution of the latest
/// trial that has it.
fn axes_of(trials: &[Rc<FrozenTrial>]) -> Vec<Axis> {
    let mut seen: BTreeMap<&str, &Distribution> = BTreeMap::new();
    for t in trials.iter().rev() {
        for (name, dist, _) in t.params_internal() {
            seen.entry(name).or_insert(dist);
        }
    }
    seen.into_iter()
        .map(|(name, dist)| Axis {
            name: name.to_string(),
            dist: dist.clone(),
        })
        .collect()
}

/// An interpolated surface over two axes: `n × n` cells (row-major from the bottom-left),
/// by inverse-distance weighting of the COMPLETE trials in normalised coordinates.
pub fn contour(data: &StudyData, x: &Axis, y: &Axis, n: usize) -> Option<Vec<f64>> {
    let norm = |a: &Axis, v: f64| {
        let (lo, hi) = a.bounds();
        let (lo, hi, v) = if a.log() {
            (lo.max(1e-300).ln(), hi.max(1e-300).ln(), v.max(1e-300).ln())
        } else {
            (lo, hi, v)
        };
        if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
    };
    let pts: Vec<(f64, f64, f64)> = data
        .completed()
        .filter_map(|t| Some((norm(x, x.coord(t)?), norm(y, y.coord(t)?), t.value()?)))
        .collect();
    if pts.len() < 2 || n == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let cx = (i as f64 + 0.5) / n as f64;
            let cy = (j as f64 + 0.5) / n as f64;
            let mut num = 0.0;
            let mut den = 0.0;
            let mut exact = None;
            for &(px, py, v) in &pts {
                let d2 = (px - cx).powi(2) + (py - cy).powi(2);
                if d2 < 1e-12 {
                    exact = Some(v);
                    break;
                }
                let w = 1.0 / (d2 * d2);
                num += w * v;
                den += w;
            }
            out.push(exact.unwrap_or(num / den));
        }
    }
    Some(out)
}

/// A column of the trials table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// The trial number.
    Number,
    /// The state.
    State,
    /// The objective value.
    Value,
    /// The duration.
    Duration,
    /// A parameter.
    Param(String),
}

/// Trial indices sorted by `column` (missing values last, whatever the order).
pub fn sort_trials(trials: &[Rc<FrozenTrial>], column: &Column, ascending: bool) -> Vec<usize> {
    let key = |t: &FrozenTrial| -> Option<SortKey> {
        match column {
            Column::Number => Some(SortKey::Num(t.number as f64)),
            Column::State => Some(SortKey::Text(t.state.name().to_string())),
            Column::Value => t.value().filter(|v| v.is_finite()).map(SortKey::Num),
            Column::Duration => t.duration().map(|d| SortKey::Num(d.as_seconds_f64())),
            Column::Param(p) => t.param(p).map(|v| match v.as_f64() {
                Some(x) => SortKey::Num(x),
                None => SortKey::Text(v.to_string()),
            }),
        }
    };
    let keys: Vec<Option<SortKey>> = trials.iter().map(|t| key(t)).collect();
    let mut idx: Vec<usize> = (0..trials.len()).collect();
    idx.sort_by(|&a, &b| {
        match (&keys[a], &keys[b]) {
            (Some(x), Some(y)) => {
                let o = x.cmp(y);
                if ascending { o } else { o.reverse() }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(trials[a].number.cmp(&trials[b].number))
    });
    idx
}

#[derive(Debug, PartialEq)]
enum SortKey {
    Num(f64),
    Text(String),
}

impl SortKey {
    fn cmp(&self, o: &SortKey) -> std::cmp::Ordering {
        match (self, o) {
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Num(_), SortKey::Text(_)) => std::cmp::Ordering::Less,
            (SortKey::Text(_), SortKey::Num(_)) => std::cmp::Ordering::Greater,
        }
    }
}

/// Why a PRUNED trial was stopped: the reason the pruner recorded when it decided
/// ([`PruneReason`]), or for a trial without one, by the median or percentile `pruner`: the
/// core pruner's threshold ([`PercentilePruner::threshold`]) at the trial's last reported step, over the
/// trials that had completed before it was pruned (as the pruner saw them then). `None` for
/// other trials and pruners, or when that cannot be told (no completion times).
///
/// [`PercentilePruner::threshold`]: sweeplab_core::PercentilePruner::threshold
/// [`PruneReason`]: sweeplab_core::pruners::PruneReason
pub fn prune_reason(
    data: &StudyData,
    t: &FrozenTrial,
    pruner: &sweeplab_core::config::PrunerConfig,
) -> Option<String> {
    if t.state != TrialState::Pruned {
        return None;
    }
    // What the pruner recorded when it decided.
    if let Some(reason) = sweeplab_core::pruners::PruneReason::of_trial(t) {
        return Some(reason.describe(&data.objective, &crate::scale::precise));
    }
    // A study from before reasons were recorded: the median or percentile line over the
    // trials completed by then.
    let p = pruner.percentile_pruner()?;
    let step = t.last_step()?;
    let pruned_at = t.datetime_complete?;
    let before: Vec<&FrozenTrial> = data
        .trials
        .iter()
        .map(|o| &**o)
        .filter(|o| {
            o.state == TrialState::Complete && o.datetime_complete.is_some_and(|c| c <= pruned_at)
        })
        .collect();
    let (line, n) = p.threshold(&before, step, data.direction)?;
    let finite = t
        .intermediate_values
        .values()
        .copied()
        .filter(|v| !v.is_nan());
    // The pruner treats any direction but maximise as minimise.
    let maximize = data.direction == StudyDirection::Maximize;
    let best = if maximize {
        finite.fold(f64::NEG_INFINITY, f64::max)
    } else {
        finite.fold(f64::INFINITY, f64::min)
    };
    let rule = if p.is_median() {
        "the median"
    } else {
        "the pruner's percentile"
    };
    let cmp = if maximize { "<" } else { ">" };
    Some(format!(
        "Pruned at epoch {step}: its best {} so far, {}, {cmp} {rule} {} of {n} completed trials at epoch {step}.",
        data.objective,
        crate::scale::precise(best),
        crate::scale::precise(line),
    ))
}

/// A rough duration for an estimate: "under a minute", "38 min", "2 h 10 min".
pub fn fmt_rough(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "–".into();
    }
    if secs < 60.0 {
        return "under a minute".into();
    }
    let min = (secs / 60.0).round() as u64;
    if min < 60 {
        format!("{min} min")
    } else {
        format!("{} h {:02} min", min / 60, min % 60)
    }
}

/// A trial's state as the page names it: Optuna's state in lower case, except that a trial
/// a Stop or a closed page ended (FAIL with the `interrupted` attribute) is "stopped", not
/// a failure.
pub fn shown_state(t: &FrozenTrial) -> &'static str {
    match t.state {
        TrialState::Fail if !t.counts() => "stopped",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Fail => "fail",
        TrialState::Running => "running",
        TrialState::Waiting => "waiting",
    }
}

/// Seconds as `1.2 s`, `3 min 04 s`, `1 h 02 min`.
pub fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "–".into();
    }
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 60.0 {
        format!("{secs:.0} s")
    } else if secs < 3600.0 {
        format!("{} min {:02} s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{} h {:02} min",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sweeplab_core::{RandomSampler, Study};

    #[test]
    fn a_pruned_trial_says_which_line_it_crossed() {
        use sweeplab_core::config::PrunerConfig;
        use time::macros::datetime;
        let done = |n: u64, vals: &[f64], at| {
            let mut t = FrozenTrial::new(n, n, TrialState::Complete);
            for (i, v) in vals.iter().enumerate() {
                t.intermediate_values.insert(i as i64 + 1, *v);
            }
            t.values = Some(vec![*vals.last().unwrap()]);
            t.datetime_complete = Some(at);
            Rc::new(t)
        };
        let mut p = FrozenTrial::new(3, 3, TrialState::Pruned);
        p.intermediate_values.insert(1, 0.9);
        p.intermediate_values.insert(2, 0.8);
        p.datetime_complete = Some(datetime!(2026-01-01 0:03 UTC));
        let trials = vec![
            done(0, &[0.5, 0.4], datetime!(2026-01-01 0:00 UTC)),
            done(1, &[0.7, 0.6], datetime!(2026-01-01 0:01 UTC)),
            // Completed after the pruning: the pruner did not see it.
            done(2, &[0.1, 0.1], datetime!(2026-01-01 0:05 UTC)),
            Rc::new(p.clone()),
        ];
        let data = StudyData::new(
            1,
            StudyDirection::Minimize,
            "val/loss".into(),
            Rc::new(trials),
        );
        let median = PrunerConfig::with_defaults("median").unwrap();
        let median = match median {
            PrunerConfig::Median { .. } => PrunerConfig::Median {
                n_startup_trials: 1,
                n_warmup_steps: 0,
                interval_steps: 1,
                n_min_trials: 1,
            },
            other => other,
        };
        assert_eq!(
            prune_reason(&data, &p, &median).as_deref(),
            Some(
                "Pruned at epoch 2: its best val/loss so far, 0.8, > the median 0.5 of 2 \
                 completed trials at epoch 2."
            )
        );
        assert_eq!(prune_reason(&data, &p, &PrunerConfig::None), None);
        assert_eq!(prune_reason(&data, &data.trials[0], &median), None);
        // A reason recorded at the decision wins, whatever the pruner shown now.
        let mut recorded = p.clone();
        recorded.system_attrs.insert(
            sweeplab_core::pruners::PRUNE_REASON_KEY.into(),
            sweeplab_core::pruners::PruneReason::Rung {
                rung: 1,
                step: 4,
                value: 0.8,
                cutoff: 0.61,
                n_trials: 9,
                reduction_factor: 3,
                maximize: false,
            }
            .to_json(),
        );
        assert_eq!(
            prune_reason(&data, &recorded, &PrunerConfig::None).as_deref(),
            Some(
                "Pruned at epoch 4, rung 1: its val/loss 0.8 > 0.61, the cut for the best 1/3 \
                 of the 9 trials that reached this rung."
            )
        );
    }

    #[test]
    fn a_trial_stop_ended_is_stopped_and_pruned_ones_keep_their_last_value() {
        let mut t = FrozenTrial::new(0, 0, TrialState::Fail);
        assert_eq!(shown_state(&t), "fail");
        t.user_attrs.insert(
            sweeplab_core::trial::INTERRUPTED_ATTR.into(),
            sweeplab_core::Json::Bool(true),
        );
        assert_eq!(shown_state(&t), "stopped");
        let mut p = FrozenTrial::new(1, 1, TrialState::Pruned);
        p.intermediate_values.insert(1, 0.9);
        p.intermediate_values.insert(2, 0.7);
        let mut q = FrozenTrial::new(2, 2, TrialState::Pruned);
        q.intermediate_values.insert(1, f64::NAN);
        let data = StudyData::new(
            1,
            StudyDirection::Minimize,
            "val/loss".into(),
            Rc::new(vec![Rc::new(t), Rc::new(p), Rc::new(q)]),
        );
        assert_eq!(data.pruned_points(), vec![(1, 0.7)]);
    }

    fn study(n: usize) -> StudyData {
        let mut s = Study::create(
            "t",
            StudyDirection::Minimize,
            Box::new(RandomSampler::new(Some(1))),
        )
        .unwrap();
        for _ in 0..n {
            let k = s.ask().unwrap();
            let x = s
                .suggest(k, "x", &Distribution::float(-1.0, 1.0))
                .unwrap()
                .as_f64()
                .unwrap();
            let c = s
                .suggest(k, "c", &Distribution::categorical(["a", "b"]))
                .unwrap();
            let v = x * x + if c.as_str() == Some("a") { 0.0 } else { 1.0 };
            s.tell_value(k, v).unwrap();
        }
        StudyData::new(
            1,
            StudyDirection::Minimize,
            "v".into(),
            Rc::new(s.trials().iter().cloned().map(Rc::new).collect()),
        )
    }

    #[test]
    fn history_tracks_the_best() {
        let d = study(30);
        let h = d.history();
        assert_eq!(h.len(), 30);
        for w in h.windows(2) {
            assert!(w[1].2 <= w[0].2);
            assert!(w[1].2 <= w[1].1);
        }
        assert_eq!(d.best().unwrap().value().unwrap(), h.last().unwrap().2);
        assert!(d.goodness(h.last().unwrap().2) > 0.99);
    }

    #[test]
    fn axes_and_coordinates() {
        let d = study(5);
        let axes = d.axes();
        assert_eq!(
            axes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["c", "x"]
        );
        assert_eq!(axes[0].labels().unwrap(), ["a", "b"]);
        for t in d.trials.iter() {
            assert_eq!(d.coords(t), [axes[0].coord(t), axes[1].coord(t)]);
            let c = axes[0].coord(t).unwrap();
            assert_eq!(c == 0.0, t.param("c").unwrap().as_str() == Some("a"));
            assert_eq!(axes[1].coord(t), t.param("x").unwrap().as_f64());
        }
    }

    #[test]
    fn contour_interpolates_between_trials() {
        let d = study(60);
        let axes = d.axes();
        let grid = contour(&d, &axes[1], &axes[0], 10).unwrap();
        assert_eq!(grid.len(), 100);
        // Bottom rows are c = a (values x²), top rows c = b (x² + 1).
        let bottom: f64 = grid[..10].iter().sum::<f64>() / 10.0;
        let top: f64 = grid[90..].iter().sum::<f64>() / 10.0;
        assert!(top > bottom + 0.5, "{bottom} {top}");
    }

    #[test]
    fn sorting_puts_missing_values_last() {
        let d = study(4);
        let mut trials = (*d.trials).clone();
        let mut failed = (*trials[1]).clone();
        failed.values = None;
        failed.state = TrialState::Fail;
        trials[1] = Rc::new(failed);
        let d = StudyData::new(2, d.direction, d.objective.clone(), Rc::new(trials));
        let asc = sort_trials(&d.trials, &Column::Value, true);
        let desc = sort_trials(&d.trials, &Column::Value, false);
        assert_eq!(*asc.last().unwrap(), 1);
        assert_eq!(*desc.last().unwrap(), 1);
        let vals: Vec<f64> = asc[..3]
            .iter()
            .map(|&i| d.trials[i].value().unwrap())
            .collect();
        assert!(vals.windows(2).all(|w| w[0] <= w[1]));
        let by_param = sort_trials(&d.trials, &Column::Param("x".into()), true);
        assert_eq!(by_param.len(), 4);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_duration(0.042), "42 ms");
        assert_eq!(fmt_rough(12.0), "under a minute");
        assert_eq!(fmt_rough(38.4 * 60.0), "38 min");
        assert_eq!(fmt_rough(130.0 * 60.0), "2 h 10 min");
        assert_eq!(fmt_duration(0.0), "0 ms");
        assert_eq!(fmt_duration(1.25), "1.2 s");
        assert_eq!(fmt_duration(125.0), "2 min 05 s");
        assert_eq!(fmt_duration(3725.0), "1 h 02 min");
    }
}
