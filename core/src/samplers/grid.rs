//! Optuna's `GridSampler` (`optuna/samplers/_grid.py` of Optuna 5.0).

use std::collections::BTreeMap;

use rand::RngExt;

use super::{Sampler, SamplerError, SamplerRng, parse_seed, trial_rng};
use crate::distributions::{Distribution, ParamValue, SearchSpace};
use crate::json::{Json, equal_unordered};
use crate::trial::{FrozenTrial, TrialState};
use crate::view::StudyView;

/// The most values (points times parameters) a grid sampler holds: about 400 MB.
pub const MAX_GRID_VALUES: usize = 10_000_000;

/// Visits every point of a Cartesian grid once, in a shuffled but deterministic order.
#[derive(Debug, Clone)]
pub struct GridSampler {
    names: Vec<String>,
    grids: Vec<Vec<ParamValue>>,
    space_json: Json,
    seed: u64,
    rng: SamplerRng,
}

/// Equal documents (object keys in any order), NaN equal to NaN.
fn value_eq(a: &Json, b: &Json) -> bool {
    equal_unordered(a, b, &|a, b| match (a, b) {
        (Json::Float(x), Json::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    })
}

impl GridSampler {
    /// The grid of `space`: a categorical's choices, an int's range by its step, a float's
    /// range by its step (which it must have). Refuses, naming the parameter, a float
    /// without a step and a grid of more than `max_points` points.
    pub fn grid_of(
        space: &SearchSpace,
        max_points: usize,
    ) -> Result<BTreeMap<String, Vec<ParamValue>>, SamplerError> {
        let too_many = |what: String| {
            SamplerError::Config(format!(
                "grid: {what} is more than {max_points} points; narrow it or raise its step"
            ))
        };
        let mut grid = BTreeMap::new();
        let mut points: usize = 1;
        for (name, d) in space {
            let values: Vec<ParamValue> = match d {
                Distribution::Categorical(c) => c.choices.clone(),
                Distribution::Int(i) => {
                    // In i128: the range may span all of i64.
                    let step = i128::from(i.step.max(1));
                    let n = ((i128::from(i.high) - i128::from(i.low)) / step + 1).max(0);
                    if n > max_points as i128 {
                        return Err(too_many(format!("parameter `{name}`'s {n} values")));
                    }
                    (0..n)
                        .filter_map(|k| i64::try_from(i128::from(i.low) + k * step).ok())
                        .map(ParamValue::Int)
                        .collect()
                }
                Distribution::Float(f) => {
                    let Some(step) = f.step else {
                        return Err(SamplerError::Config(format!(
                            "grid: float parameter `{name}` needs a step (or make it categorical)"
                        )));
                    };
                    let span = ((f.high - f.low) / step).round();
                    if !(span.is_finite() && span < max_points as f64) {
                        return Err(too_many(format!("parameter `{name}`'s range")));
                    }
                    (0..=span as usize)
                        .map(|k| ParamValue::Float(f.low + k as f64 * step))
                        .collect()
                }
            };
            points = points.saturating_mul(values.len());
            if points > max_points {
                return Err(too_many(format!("the grid up to `{name}`")));
            }
            grid.insert(name.clone(), values);
        }
        Ok(grid)
    }

    /// A grid over `space` (name → values). The product is shuffled once with `seed`
    /// (0 when `None`), so the order is deterministic even without a seed.
    pub fn new(
        space: BTreeMap<String, Vec<ParamValue>>,
        seed: Option<u64>,
    ) -> Result<Self, SamplerError> {
        if let Some((name, _)) = space.iter().find(|(_, v)| v.is_empty()) {
            return Err(SamplerError::Config(format!(
                "GridSampler: parameter `{name}` has no values"
            )));
        }
        // A NaN grid point would be written to the journal as a NaN parameter value, which
        // Optuna refuses (`to_internal_repr` raises for NaN) and its `load_study` cannot
        // replay.
        for (name, values) in &space {
            if values
                .iter()
                .any(|v| matches!(v, ParamValue::Float(f) if f.is_nan()))
            {
                return Err(SamplerError::Config(format!(
                    "GridSampler: search_space[`{name}`] holds NaN, which is not a valid \
                     parameter value (Optuna cannot store or load it); use numbers, strings, \
                     booleans or null"
                )));
            }
        }
        // Every point is held (as Optuna holds its product): refuse what cannot fit.
        let points = space
            .values()
            .fold(1usize, |n, v| n.saturating_mul(v.len()));
        if points.saturating_mul(space.len().max(1)) > MAX_GRID_VALUES {
            return Err(SamplerError::Config(format!(
                "GridSampler: the grid has {} points of {} parameters, more than the {MAX_GRID_VALUES} \
                 values it can hold; give fewer values",
                if points == usize::MAX {
                    "over 10^19".to_string()
                } else {
                    points.to_string()
                },
                space.len()
            )));
        }
        let names: Vec<String> = space.keys().cloned().collect();
        let mut grids: Vec<Vec<ParamValue>> = vec![Vec::new()];
        for name in &names {
            let mut next = Vec::new();
            for g in &grids {
                for v in &space[name] {
                    let mut row = g.clone();
                    row.push(v.clone());
                    next.push(row);
                }
            }
            grids = next;
        }
        let seed = seed.unwrap_or(0);
        let mut shuffle = trial_rng(seed, u64::MAX - 1, 7);
        for i in (1..grids.len()).rev() {
            let j = shuffle.random_range(0..=i);
            grids.swap(i, j);
        }
        let space_json = Json::Object(
            space
                .iter()
                .map(|(k, vs)| {
                    (
                        k.clone(),
                        Json::Array(vs.iter().map(ParamValue::to_json).collect()),
                    )
                })
                .collect(),
        );
        Ok(GridSampler {
            names,
            grids,
            space_json,
            seed,
            rng: trial_rng(seed, 0, 8),
        })
    }

    /// Reads `{"search_space": {name: [values]}, "seed": n}`.
    pub fn from_kwargs(pairs: &[(String, Json)]) -> Result<Self, SamplerError> {
        let mut space = None;
        let mut seed = None;
        for (k, v) in pairs {
            match k.as_str() {
                "search_space" => {
                    let obj = v.as_object().ok_or_else(|| {
                        SamplerError::Config(
                            "GridSampler: search_space must be an object of name → list of values"
                                .into(),
                        )
                    })?;
                    let mut m = BTreeMap::new();
                    for (name, vals) in obj {
                        let list = vals.as_array().ok_or_else(|| {
                            SamplerError::Config(format!(
                                "GridSampler: search_space[`{name}`] must be a list"
                            ))
                        })?;
                        let vals = list
                            .iter()
                            .map(|x| {
                                ParamValue::from_json(x).ok_or_else(|| {
                                    SamplerError::Config(format!(
                                        "GridSampler: search_space[`{name}`] holds a non-scalar"
                                    ))
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        m.insert(name.clone(), vals);
                    }
                    space = Some(m);
                }
                "seed" => seed = parse_seed(v)?,
                other => {
                    return Err(SamplerError::Config(format!(
                        "GridSampler: unknown argument `{other}`; supported: search_space, seed"
                    )));
                }
            }
        }
        let space = space.ok_or_else(|| {
            SamplerError::Config("GridSampler needs a `search_space` argument".into())
        })?;
        Self::new(space, seed)
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.grids.len()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    fn same_grid(&self, t: &FrozenTrial) -> bool {
        t.system_attrs
            .get("search_space")
            .is_some_and(|s| value_eq(s, &self.space_json))
    }

    fn grid_id(t: &FrozenTrial) -> Option<usize> {
        t.system_attrs
            .get("grid_id")
            .and_then(Json::as_i64)
            .and_then(|i| usize::try_from(i).ok())
    }

    /// Grid ids not finished (and, with `skip_running`, not running either).
    fn unvisited(&self, study: &StudyView<'_>, skip_running: bool) -> Vec<usize> {
        let mut visited = vec![false; self.grids.len()];
        for t in &study.trials {
            if !self.same_grid(t) {
                continue;
            }
            let busy = t.state.is_finished() || (skip_running && t.state == TrialState::Running);
            if busy && let Some(id) = Self::grid_id(t).filter(|i| *i < visited.len()) {
                visited[id] = true;
            }
        }
        (0..self.grids.len()).filter(|i| !visited[*i]).collect()
    }

    /// Whether every grid point has a finished trial.
    pub fn is_exhausted(&self, study: &StudyView<'_>) -> bool {
        self.unvisited(study, false).is_empty()
    }
}

impl Sampler for GridSampler {
    fn name(&self) -> &'static str {
        "GridSampler"
    }

    fn before_trial(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
    ) -> Result<Vec<(String, Json)>, SamplerError> {
        if trial.system_attrs.contains_key("grid_id")
            || trial.system_attrs.contains_key("fixed_params")
        {
            return Ok(Vec::new());
        }
        self.rng = trial_rng(self.seed, trial.number, 8);
        let n = self.grids.len();
        let id = if (trial.number as usize) < n
            && !study.trials.iter().any(|t| {
                t.number != trial.number
                    && self.same_grid(t)
                    && Self::grid_id(t) == Some(trial.number as usize)
            }) {
            trial.number as usize
        } else {
            let mut targets = self.unvisited(study, true);
            if targets.is_empty() {
                targets = self.unvisited(study, false);
            }
            if targets.is_empty() {
                // Exhausted: re-evaluate a random visited point (Optuna warns here).
                targets = (0..n).collect();
            }
            targets[self.rng.random_range(0..targets.len())]
        };
        Ok(vec![
            ("search_space".to_string(), self.space_json.clone()),
            ("grid_id".to_string(), Json::Int(id as i64)),
        ])
    }

    fn sample_independent(
        &mut self,
        _study: &StudyView<'_>,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64, SamplerError> {
        let col = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| SamplerError::NotInGrid(name.to_string()))?;
        let id = Self::grid_id(trial).unwrap_or(0).min(self.grids.len() - 1);
        let value = &self.grids[id][col];
        // A value outside the distribution's range is used anyway, as in Optuna; one the
        // distribution cannot hold at all (a string for a float, 2.5 for an int) is an error
        // before anything is written.
        dist.to_internal(name, value).map_err(|e| {
            SamplerError::Config(format!(
                "GridSampler: grid value {value} of parameter `{name}` cannot be a value of \
                 {}: {e}",
                dist.describe()
            ))
        })
    }

    fn after_trial(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
        _state: TrialState,
        _values: Option<&[f64]>,
    ) -> bool {
        let left = self.unvisited(study, false);
        left.is_empty() || (left.len() == 1 && Self::grid_id(trial) == Some(left[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{Study, StudyDirection};

    fn grid() -> BTreeMap<String, Vec<ParamValue>> {
        let mut m = BTreeMap::new();
        m.insert(
            "x".into(),
            vec![ParamValue::Int(1), ParamValue::Int(2), ParamValue::Int(3)],
        );
        m.insert("y".into(), vec!["a".into(), "b".into()]);
        m
    }

    #[test]
    fn visits_every_point_once_then_stops() {
        let g = GridSampler::new(grid(), None).unwrap();
        let mut study = Study::create("g", StudyDirection::Minimize, Box::new(g)).unwrap();
        let dx = Distribution::int(0, 5);
        let dy = Distribution::categorical(["a", "b"]);
        let mut seen = Vec::new();
        for _ in 0..6 {
            assert!(!study.stop_requested());
            let n = study.ask().unwrap();
            let x = study.suggest(n, "x", &dx).unwrap();
            let y = study.suggest(n, "y", &dy).unwrap();
            seen.push(format!("{x}{y}"));
            study.tell_value(n, 0.0).unwrap();
        }
        assert!(study.stop_requested());
        seen.sort();
        assert_eq!(seen, ["1a", "1b", "2a", "2b", "3a", "3b"]);
    }

    #[test]
    fn order_is_deterministic_and_seed_dependent() {
        let order = |seed| {
            let g = GridSampler::new(grid(), seed).unwrap();
            g.grids.clone()
        };
        assert_eq!(order(None), order(Some(0)));
        assert_ne!(order(Some(0)), order(Some(1)));
    }

    #[test]
    fn nan_grid_values_are_rejected() {
        // `{"search_space":{"x":[NaN]}}` once wrote a NaN parameter that Optuna's
        // load_study cannot replay.
        for text in [
            r#"{"search_space":{"x":[NaN]}}"#,
            r#"{"search_space":{"x":[0.5, NaN]}, "seed": 1}"#,
        ] {
            let kwargs = Json::parse(text).unwrap();
            let err = GridSampler::from_kwargs(kwargs.as_object().unwrap())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("search_space[`x`]") && err.contains("NaN"),
                "{err}"
            );
        }
        let mut m = BTreeMap::new();
        m.insert("x".to_string(), vec![ParamValue::Float(f64::NAN)]);
        assert!(GridSampler::new(m, None).is_err());
        // Infinity is a number Optuna stores (outside any range, used anyway).
        let kwargs = Json::parse(r#"{"search_space":{"x":[Infinity, 1]}}"#).unwrap();
        assert!(GridSampler::from_kwargs(kwargs.as_object().unwrap()).is_ok());
    }

    #[test]
    fn a_grid_value_the_distribution_cannot_hold_is_an_error_and_writes_nothing() {
        let mut m = BTreeMap::new();
        m.insert("x".to_string(), vec![ParamValue::from("a")]);
        m.insert("n".to_string(), vec![ParamValue::Float(2.5)]);
        let g = GridSampler::new(m, None).unwrap();
        let mut study = Study::create("g", StudyDirection::Minimize, Box::new(g)).unwrap();
        let n = study.ask().unwrap();
        let before = study.trial(n).unwrap().params().len();
        let err = study
            .suggest(n, "x", &Distribution::float(0.0, 1.0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GridSampler") && err.contains("`x`") && err.contains("float[0, 1]"),
            "{err}"
        );
        let err = study
            .suggest(n, "n", &Distribution::int(0, 5))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`n`") && err.contains("2.5"), "{err}");
        assert_eq!(study.trial(n).unwrap().params().len(), before);
    }

    #[test]
    fn unknown_parameter_is_an_error() {
        let g = GridSampler::new(grid(), None).unwrap();
        let mut study = Study::create("g", StudyDirection::Minimize, Box::new(g)).unwrap();
        let n = study.ask().unwrap();
        let err = study
            .suggest(n, "z", &Distribution::float(0.0, 1.0))
            .unwrap_err();
        assert!(err.to_string().contains("`z` is not in the grid"), "{err}");
    }

    #[test]
    fn grid_of_a_space_lists_every_value_and_refuses_what_it_cannot_list() {
        let mut space = SearchSpace::new();
        space.insert("a".into(), Distribution::categorical(["x", "y"]));
        space.insert("b".into(), Distribution::int_step(0, 10, 5));
        space.insert("c".into(), Distribution::float_step(0.0, 1.0, 0.25));
        let g = GridSampler::grid_of(&space, 1000).unwrap();
        assert_eq!(g["b"], [0, 5, 10].map(ParamValue::Int));
        assert_eq!(g["c"].len(), 5);
        assert_eq!(g.values().map(Vec::len).product::<usize>(), 30);
        assert!(
            GridSampler::grid_of(&space, 29)
                .unwrap_err()
                .to_string()
                .contains("more than 29")
        );
        space.insert("d".into(), Distribution::float(0.0, 1.0));
        let e = GridSampler::grid_of(&space, 1000).unwrap_err().to_string();
        assert!(e.contains("`d` needs a step"), "{e}");
        let mut wide = SearchSpace::new();
        wide.insert("i".into(), Distribution::int(i64::MIN, i64::MAX));
        let e = GridSampler::grid_of(&wide, 1000).unwrap_err().to_string();
        assert!(e.contains("`i`"), "{e}");
    }
}
