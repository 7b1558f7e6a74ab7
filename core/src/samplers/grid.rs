//! Optuna's `GridSampler` (spec §10).

use std::collections::BTreeMap;

use rand::RngExt;

use super::{Sampler, SamplerError, SamplerRng, parse_seed, trial_rng};
use crate::distributions::{Distribution, ParamValue};
use crate::json::Json;
use crate::study::StudyView;
use crate::trial::{FrozenTrial, TrialState};

/// Visits every point of a Cartesian grid once, in a shuffled but deterministic order.
#[derive(Debug, Clone)]
pub struct GridSampler {
    names: Vec<String>,
    grids: Vec<Vec<ParamValue>>,
    space_json: Json,
    seed: u64,
    rng: SamplerRng,
}

fn value_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Float(x), Json::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| value_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(k2, _)| k2 == k)
                        .is_some_and(|(_, v2)| value_eq(v, v2))
                })
        }
        _ => a == b,
    }
}

impl GridSampler {
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
        // A value outside the distribution's range is used anyway, as in Optuna.
        Ok(dist.to_internal(name, value)?)
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
    fn unknown_parameter_is_an_error() {
        let g = GridSampler::new(grid(), None).unwrap();
        let mut study = Study::create("g", StudyDirection::Minimize, Box::new(g)).unwrap();
        let n = study.ask().unwrap();
        let err = study
            .suggest(n, "z", &Distribution::float(0.0, 1.0))
            .unwrap_err();
        assert!(err.to_string().contains("`z` is not in the grid"), "{err}");
    }
}
