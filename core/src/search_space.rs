//! Search spaces inferred from past trials: Optuna's `IntersectionSearchSpace` and the group
//! decomposition used by TPE's `group=True`.

use crate::distributions::SearchSpace;
use crate::trial::{FrozenTrial, TrialState};

/// The parameters (with identical distributions) shared by every finished trial: COMPLETE,
/// plus PRUNED when `include_pruned`. Iterates in name order.
pub fn intersection_search_space<'a>(
    trials: impl IntoIterator<Item = &'a FrozenTrial>,
    include_pruned: bool,
) -> SearchSpace {
    let mut space: Option<SearchSpace> = None;
    for t in trials {
        let counted =
            t.state == TrialState::Complete || (include_pruned && t.state == TrialState::Pruned);
        if !counted {
            continue;
        }
        match &mut space {
            None => space = Some(t.distributions()),
            Some(s) => s.retain(|name, d| t.distribution(name) == Some(d)),
        }
    }
    space.unwrap_or_default()
}

/// Disjoint groups of parameters that always occur together in finished trials (COMPLETE,
/// plus PRUNED when `include_pruned`).
pub fn group_decomposed_search_space<'a>(
    trials: impl IntoIterator<Item = &'a FrozenTrial>,
    include_pruned: bool,
) -> Vec<SearchSpace> {
    let mut groups: Vec<SearchSpace> = Vec::new();
    for t in trials {
        let counted =
            t.state == TrialState::Complete || (include_pruned && t.state == TrialState::Pruned);
        if !counted {
            continue;
        }
        let mut rest = t.distributions();
        let mut next = Vec::new();
        for g in groups {
            let (inside, outside): (SearchSpace, SearchSpace) =
                g.into_iter().partition(|(k, _)| rest.contains_key(k));
            for k in inside.keys() {
                rest.remove(k);
            }
            next.push(inside);
            next.push(outside);
        }
        next.push(rest);
        groups = next.into_iter().filter(|g| !g.is_empty()).collect();
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Distribution, ParamValue};

    fn trial(n: u64, params: &[(&str, Distribution)], state: TrialState) -> FrozenTrial {
        let mut t = FrozenTrial::new(n, n, state);
        for (name, d) in params {
            let v = match d {
                Distribution::Categorical(_) => ParamValue::Str("a".into()),
                Distribution::Int(i) => ParamValue::Int(i.low),
                Distribution::Float(f) => ParamValue::Float(f.low),
            };
            t.set_param(name, d.clone(), &v).unwrap();
        }
        t
    }

    #[test]
    fn intersection_drops_changed_and_missing() {
        let f = Distribution::float(0.0, 1.0);
        let c = Distribution::categorical(["a", "b"]);
        let ts = vec![
            trial(
                0,
                &[("x", f.clone()), ("y", c.clone()), ("z", f.clone())],
                TrialState::Complete,
            ),
            trial(1, &[("x", f.clone()), ("y", c.clone())], TrialState::Pruned),
            trial(
                2,
                &[("x", Distribution::float(0.0, 2.0))],
                TrialState::Running,
            ),
            trial(
                3,
                &[
                    ("x", f.clone()),
                    ("y", c.clone()),
                    ("z", Distribution::float(0.0, 2.0)),
                ],
                TrialState::Complete,
            ),
        ];
        let s = intersection_search_space(&ts, true);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["x", "y"]);
        let s = intersection_search_space(&ts, false);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["x", "y"]);
        assert!(intersection_search_space(&ts[2..3], true).is_empty());
    }

    #[test]
    fn groups_split_by_cooccurrence() {
        let f = Distribution::float(0.0, 1.0);
        let ts = vec![
            trial(
                0,
                &[("a", f.clone()), ("b", f.clone()), ("c", f.clone())],
                TrialState::Complete,
            ),
            trial(
                1,
                &[("a", f.clone()), ("b", f.clone()), ("d", f.clone())],
                TrialState::Complete,
            ),
        ];
        let g = group_decomposed_search_space(&ts, true);
        let names: Vec<Vec<&String>> = g.iter().map(|s| s.keys().collect()).collect();
        assert_eq!(names, vec![vec!["a", "b"], vec!["c"], vec!["d"]]);
    }
}
