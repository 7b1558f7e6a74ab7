//! The behaviours Optuna's TPE tests check, one test (or more) each: the tests in
//! `tests/samplers_tests/tpe_tests/` of optuna/optuna, and the generic sampler suites TPE runs
//! through (`optuna/testing/pytest_samplers.py`, `tests/samplers_tests/test_samplers.py`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::distributions::{CategoricalDistribution, ParamValue};
use crate::study::{Study, TellResult};

fn cfg() -> TpeConfig {
    TpeConfig {
        seed: Some(0),
        ..TpeConfig::default()
    }
}

fn study_with(config: TpeConfig, directions: Vec<StudyDirection>) -> Study {
    Study::create_multi("tpe-test", directions, Box::new(TpeSampler::new(config))).unwrap()
}

fn single(config: TpeConfig) -> Study {
    study_with(config, vec![StudyDirection::Minimize])
}

/// A single-objective study whose TPE starts after `n_startup_trials` random trials.
fn single_after(n_startup_trials: usize) -> Study {
    single(TpeConfig {
        n_startup_trials,
        ..cfg()
    })
}

/// Adds a trial with `params` in `state` (values for COMPLETE; intermediate values for
/// PRUNED) through Optuna's `add_trial` path.
fn add(
    study: &mut Study,
    params: &[(&str, Distribution, f64)],
    state: TrialState,
    values: Option<Vec<f64>>,
    intermediate: &[(i64, f64)],
) {
    let mut t = FrozenTrial::new(0, 0, state);
    for (name, d, v) in params {
        t.set_param_internal(name, d.clone(), *v);
    }
    t.values = values;
    t.intermediate_values = intermediate.iter().copied().collect();
    study.add_trial(&t).unwrap();
}

fn x_dist() -> Distribution {
    Distribution::float(-10.0, 10.0)
}

/// Asserts that `value`, suggested for `name`, lies in `dist`: it converts to an internal value
/// that the distribution contains (Optuna's `_contains`), and an int comes back as an int.
fn assert_in(dist: &Distribution, name: &str, value: &ParamValue) {
    let internal = dist
        .to_internal(name, value)
        .unwrap_or_else(|e| panic!("{name} = {value:?} is not a value of {dist:?}: {e}"));
    assert!(
        dist.contains(internal),
        "{name} = {value:?} lies outside {dist:?}"
    );
    if matches!(dist, Distribution::Int(_)) {
        assert!(matches!(value, ParamValue::Int(_)), "{name} = {value:?}");
    }
}

/// A history of `n` COMPLETE trials over x with value x².
fn history(study: &mut Study, n: usize) {
    for i in 0..n {
        let x = -9.0 + (i as f64 * 7.3) % 18.0;
        add(
            study,
            &[("x", x_dist(), x)],
            TrialState::Complete,
            Some(vec![x * x]),
            &[],
        );
    }
}

// -------------------------------------------------------- construction (test_sampler.py)

#[test]
fn group_without_multivariate_is_rejected() {
    let c = TpeConfig {
        group: true,
        multivariate: Some(false),
        ..cfg()
    };
    assert!(c.check().is_err());
    let kw = vec![
        ("multivariate".to_string(), Json::Bool(false)),
        ("group".to_string(), Json::Bool(true)),
    ];
    assert!(TpeConfig::from_kwargs(&kw).is_err());
}

fn relative_space_after_two_trials(multivariate: Option<bool>, multi_objective: bool) -> usize {
    let dirs = if multi_objective {
        vec![StudyDirection::Minimize, StudyDirection::Minimize]
    } else {
        vec![StudyDirection::Minimize]
    };
    let mut study = study_with(
        TpeConfig {
            multivariate,
            ..cfg()
        },
        dirs.clone(),
    );
    for i in 0..2 {
        let vals = if multi_objective {
            vec![i as f64, 1.0]
        } else {
            vec![i as f64]
        };
        add(
            &mut study,
            &[("x", x_dist(), i as f64), ("y", x_dist(), 1.0)],
            TrialState::Complete,
            Some(vals),
            &[],
        );
    }
    let mut sampler = TpeSampler::new(TpeConfig {
        multivariate,
        ..cfg()
    });
    let view = study.view();
    let t = FrozenTrial::new(2, 2, TrialState::Running);
    sampler.infer_relative_search_space(&view, &t).len()
}

#[test]
fn multivariate_default_depends_on_objectives() {
    assert_eq!(relative_space_after_two_trials(None, false), 2);
    assert_eq!(relative_space_after_two_trials(None, true), 0);
    assert_eq!(relative_space_after_two_trials(Some(true), false), 2);
    assert_eq!(relative_space_after_two_trials(Some(true), true), 2);
    assert_eq!(relative_space_after_two_trials(Some(false), false), 0);
    assert_eq!(relative_space_after_two_trials(Some(false), true), 0);
}

fn seven() -> Vec<(&'static str, Distribution)> {
    vec![
        ("a_float", Distribution::float(1.0, 100.0)),
        ("b_log", Distribution::float_log(1.0, 100.0)),
        ("c_step", Distribution::float_step(1.0, 100.0, 3.0)),
        ("d_int", Distribution::int(1, 100)),
        ("e_int_step", Distribution::int_step(1, 100, 3)),
        ("f_int_log", Distribution::int_log(1, 100)),
        ("g_cat", Distribution::categorical(["a", "b", "c"])),
    ]
}

#[test]
fn infer_relative_search_space_returns_the_seven_types() {
    let mut study = single(TpeConfig {
        multivariate: Some(true),
        ..cfg()
    });
    let params: Vec<(&str, Distribution, f64)> =
        seven().into_iter().map(|(n, d)| (n, d, 1.0)).collect();
    add(
        &mut study,
        &params,
        TrialState::Complete,
        Some(vec![0.0]),
        &[],
    );
    let mut s = TpeSampler::new(TpeConfig {
        multivariate: Some(true),
        ..cfg()
    });
    let t = FrozenTrial::new(1, 1, TrialState::Running);
    let space = s.infer_relative_search_space(&study.view(), &t);
    let want: SearchSpace = seven()
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    assert_eq!(space, want);
    let mut uni = TpeSampler::new(TpeConfig {
        multivariate: Some(false),
        ..cfg()
    });
    assert!(
        uni.infer_relative_search_space(&study.view(), &t)
            .is_empty()
    );
}

#[test]
fn empty_space_samples_nothing_in_both_modes() {
    for m in [Some(true), Some(false)] {
        let mut study = single(TpeConfig {
            multivariate: m,
            n_startup_trials: 0,
            ..cfg()
        });
        history(&mut study, 3);
        let mut s = TpeSampler::new(TpeConfig {
            multivariate: m,
            n_startup_trials: 0,
            ..cfg()
        });
        let t = FrozenTrial::new(3, 3, TrialState::Running);
        assert!(
            s.sample_relative(&study.view(), &t, &SearchSpace::new())
                .unwrap()
                .is_empty()
        );
    }
}

// -------------------------------------------------------- startup, settings (test_sampler.py)

#[test]
fn startup_uses_random_sampling_until_enough_trials() {
    for multivariate in [Some(true), Some(false)] {
        let c = TpeConfig {
            n_startup_trials: 5,
            multivariate,
            ..cfg()
        };
        let mut study = single(c.clone());
        history(&mut study, 4);
        let mut s = TpeSampler::new(c.clone());
        let t = FrozenTrial::new(4, 4, TrialState::Running);
        let mut space = SearchSpace::new();
        space.insert("x".into(), x_dist());
        assert!(
            s.sample_relative(&study.view(), &t, &space)
                .unwrap()
                .is_empty()
        );
        let v = s
            .sample_independent(&study.view(), &t, "x", &x_dist())
            .unwrap();
        assert_eq!(s.random_calls, 1);
        // It is exactly the inner random sampler's draw.
        let mut r = RandomSampler::with_stream(c.seed, 1);
        let rv = r
            .sample_independent(&study.view(), &t, "x", &x_dist())
            .unwrap();
        assert_eq!(v, rv);

        history(&mut study, 3);
        let mut s = TpeSampler::new(c);
        let t = FrozenTrial::new(7, 7, TrialState::Running);
        s.sample_independent(&study.view(), &t, "x", &x_dist())
            .unwrap();
        if multivariate == Some(true) {
            assert!(
                !s.sample_relative(&study.view(), &t, &space)
                    .unwrap()
                    .is_empty()
            );
        }
        assert_eq!(s.random_calls, 0);
    }
}

/// Optuna's `frozen_trial_factory` history: 7 trials of `param-a` in [1, 100] with value
/// (a - 20)², then one suggestion for trial 8 (sample_relative and sample_independent).
fn suggestion_with(config: TpeConfig) -> (f64, f64) {
    suggestion_after(config, 8)
}

fn suggestion_after(config: TpeConfig, next: u64) -> (f64, f64) {
    let dist = Distribution::float(1.0, 100.0);
    let mut study = single(config.clone());
    for i in 1..next {
        let a = 1.0 + 99.0 * (crate::samplers::splitmix64(i) >> 11) as f64 / (1u64 << 53) as f64;
        add(
            &mut study,
            &[("param-a", dist.clone(), a)],
            TrialState::Complete,
            Some(vec![(a - 20.0) * (a - 20.0)]),
            &[],
        );
    }
    let t = FrozenTrial::new(next, next, TrialState::Running);
    let mut space = SearchSpace::new();
    space.insert("param-a".into(), dist.clone());
    let mut s = TpeSampler::new(TpeConfig {
        multivariate: Some(true),
        constant_liar: false,
        ..config.clone()
    });
    let rel = s.sample_relative(&study.view(), &t, &space).unwrap()["param-a"];
    let mut s = TpeSampler::new(TpeConfig {
        multivariate: Some(false),
        ..config
    });
    let ind = s
        .sample_independent(&study.view(), &t, "param-a", &dist)
        .unwrap();
    (rel, ind)
}

#[test]
fn suggestion_changes_with_each_setting() {
    let c = TpeConfig {
        n_startup_trials: 5,
        n_ei_candidates: 100,
        ..cfg()
    };
    let base = suggestion_with(c.clone());
    assert_eq!(
        base,
        suggestion_with(c.clone()),
        "same seed and history, same value"
    );
    let differs = |other: (f64, f64), what: &str| {
        assert!(
            other.0 != base.0 && other.1 != base.1,
            "{what}: {other:?} vs {base:?}"
        );
    };
    differs(
        suggestion_with(TpeConfig {
            seed: Some(1),
            ..c.clone()
        }),
        "another seed",
    );
    for pw in [0.2, 0.1] {
        differs(
            suggestion_with(TpeConfig {
                prior_weight: pw,
                ..c.clone()
            }),
            "prior_weight",
        );
    }
    let c24 = TpeConfig {
        n_ei_candidates: 24,
        ..c.clone()
    };
    let b24 = suggestion_with(c24.clone());
    let b13 = suggestion_with(TpeConfig {
        n_ei_candidates: 13,
        ..c24.clone()
    });
    assert!(
        b13.0 != b24.0 && b13.1 != b24.1 && b13 != base,
        "n_ei_candidates"
    );
    // gamma and weights, relative sampling after 39 trials with 24 candidates.
    let c39 = TpeConfig {
        n_startup_trials: 5,
        ..cfg()
    };
    let rel = suggestion_after(c39.clone(), 40).0;
    let gamma = suggestion_after(
        TpeConfig {
            gamma: Gamma::Fixed(5),
            ..c39.clone()
        },
        40,
    )
    .0;
    assert_ne!(rel, gamma, "gamma");
    let weights = suggestion_after(
        TpeConfig {
            weights: Weights::Custom(Arc::new(|n| (0..n).map(|i| (i * i + 1) as f64).collect())),
            ..c39
        },
        40,
    )
    .0;
    assert_ne!(rel, weights, "weights i^2+1");
    // weights 10 - j, independent sampling after 7 trials with 100 candidates.
    let w = suggestion_with(TpeConfig {
        weights: Weights::Custom(Arc::new(|n| (0..n).map(|j| 10.0 - j as f64).collect())),
        ..c.clone()
    });
    assert_ne!(w.1, base.1, "weights 10-j");
}

/// 15 trials over all 7 distribution types (the generic `test_reproducible`).
fn fifteen(config: TpeConfig, constant: bool) -> Vec<BTreeMap<String, ParamValue>> {
    let mut study = single(config);
    let mut out = Vec::new();
    for i in 0..15 {
        let n = study.ask().unwrap();
        let mut ps = BTreeMap::new();
        for (name, d) in seven() {
            ps.insert(name.to_string(), study.suggest(n, name, &d).unwrap());
        }
        let v = if constant {
            1.0
        } else {
            ps["a_float"].as_f64().unwrap() + i as f64
        };
        study.tell_value(n, v).unwrap();
        out.push(ps);
    }
    out
}

#[test]
fn reproducible_with_seed_including_constant_objective() {
    for constant in [false, true] {
        for m in [Some(true), Some(false)] {
            let c = TpeConfig {
                multivariate: m,
                n_startup_trials: 3,
                ..cfg()
            };
            assert_eq!(fifteen(c.clone(), constant), fifteen(c.clone(), constant));
            let other = TpeConfig {
                seed: Some(99),
                ..c
            };
            assert_ne!(fifteen(other, constant), fifteen(cfg(), constant));
        }
    }
}

#[test]
fn reseed_changes_the_sequence() {
    let c = TpeConfig {
        n_startup_trials: 3,
        ..cfg()
    };
    let a = fifteen(c.clone(), false);
    let mut s = TpeSampler::new(c);
    s.reseed(12345);
    assert_eq!(
        s.random.seed_value(),
        Some(12345),
        "the inner sampler is reseeded too"
    );
    let mut study = Study::create("r", StudyDirection::Minimize, Box::new(s)).unwrap();
    let n = study.ask().unwrap();
    let first = study.suggest(n, "a_float", &seven()[0].1).unwrap();
    assert_ne!(first, a[0]["a_float"]);
}

// -------------------------------------------------------- output domain (test_sampler.py)

fn sample_after_history(dist: &Distribution, multivariate: Option<bool>) -> Vec<f64> {
    let mut study = single(TpeConfig {
        n_startup_trials: 0,
        multivariate,
        ..cfg()
    });
    let mut r = trial_rng(5, 0, 0);
    for i in 0..10 {
        let v = RandomSampler::draw(&mut r, dist);
        add(
            &mut study,
            &[("p", dist.clone(), v)],
            TrialState::Complete,
            Some(vec![i as f64]),
            &[],
        );
    }
    (0..20)
        .map(|_| {
            let n = study.ask().unwrap();
            let pv = study.suggest(n, "p", dist).unwrap();
            let internal = dist.to_internal("p", &pv).unwrap();
            study.tell(n, TellResult::Fail).unwrap();
            internal
        })
        .collect()
}

#[test]
fn samples_respect_every_domain_in_both_modes() {
    let choices: Vec<ParamValue> = (0..330)
        .map(|i| ParamValue::Float(i as f64 / 3.0))
        .collect();
    let dists = vec![
        Distribution::float(1.0, 100.0),
        Distribution::float_log(1.0, 100.0),
        Distribution::float_step(0.0, 1.0, 0.1),
        Distribution::Categorical(CategoricalDistribution { choices }),
        Distribution::int_step(0, 10, 1),
        Distribution::int_step(0, 10, 2),
        Distribution::int_log(1, 100),
        Distribution::float(-1.0, 0.0),
        Distribution::float_log(1e-7, 1.0),
        Distribution::float_step(-10.2, 10.2, 0.1),
        Distribution::categorical([ParamValue::Int(1), ParamValue::Str("a".into())]),
    ];
    for m in [Some(true), Some(false)] {
        for d in &dists {
            for v in sample_after_history(d, m) {
                assert!(d.contains(v), "{v} not in {}", d.describe());
            }
        }
    }
}

#[test]
fn log_scale_changes_the_suggestion() {
    let lin = sample_after_history(&Distribution::float(1.0, 100.0), Some(false));
    let log = sample_after_history(&Distribution::float_log(1.0, 100.0), Some(false));
    assert_ne!(lin, log);
}

#[test]
fn ints_come_back_as_integers() {
    let mut study = single_after(0);
    let n = study.ask().unwrap();
    let v = study
        .suggest(n, "i", &Distribution::int_step(0, 10, 2))
        .unwrap();
    assert!(matches!(v, ParamValue::Int(i) if i % 2 == 0));
    let v = study
        .suggest(n, "l", &Distribution::int_log(1, 100))
        .unwrap();
    assert!(matches!(v, ParamValue::Int(i) if (1..=100).contains(&i)));
}

#[test]
fn single_valued_distributions_return_their_value() {
    let mut study = single_after(0);
    history(&mut study, 5);
    let n = study.ask().unwrap();
    assert_eq!(
        study
            .suggest(n, "a", &Distribution::float(2.0, 2.0))
            .unwrap(),
        ParamValue::Float(2.0)
    );
    assert_eq!(
        study.suggest(n, "b", &Distribution::int(3, 3)).unwrap(),
        ParamValue::Int(3)
    );
    assert_eq!(
        study
            .suggest(n, "c", &Distribution::float_step(1.0, 1.0, 0.5))
            .unwrap(),
        ParamValue::Float(1.0)
    );
    assert_eq!(
        study
            .suggest(n, "d", &Distribution::categorical(["only"]))
            .unwrap(),
        ParamValue::Str("only".into())
    );
}

// -------------------------------------------------------- trial states (test_sampler.py)

fn alternating(x: TrialState, constant_liar: bool) -> f64 {
    let mut study = single(TpeConfig {
        constant_liar,
        n_startup_trials: 0,
        multivariate: Some(false),
        ..cfg()
    });
    for i in 0..99 {
        let xv = -9.0 + (i as f64 * 3.7) % 18.0;
        let state = if i % 2 == 0 { TrialState::Complete } else { x };
        let values = (state == TrialState::Complete).then(|| vec![xv * xv]);
        let inter: &[(i64, f64)] = if state == TrialState::Pruned {
            &[(1, 0.5)]
        } else {
            &[]
        };
        add(&mut study, &[("x", x_dist(), xv)], state, values, inter);
    }
    let n = study.trials().len() as u64;
    let mut s = TpeSampler::new(TpeConfig {
        constant_liar,
        n_startup_trials: 0,
        multivariate: Some(false),
        ..cfg()
    });
    let t = FrozenTrial::new(n, n, TrialState::Running);
    s.sample_independent(&study.view(), &t, "x", &x_dist())
        .unwrap()
}

#[test]
fn trial_states_are_handled_like_optuna() {
    let complete = alternating(TrialState::Complete, false);
    let fail = alternating(TrialState::Fail, false);
    let pruned = alternating(TrialState::Pruned, false);
    let running = alternating(TrialState::Running, false);
    let waiting = alternating(TrialState::Waiting, false);
    for (name, v) in [
        ("fail", fail),
        ("pruned", pruned),
        ("running", running),
        ("waiting", waiting),
    ] {
        assert_ne!(v, complete, "{name} must differ from all-complete");
    }
    assert_eq!(fail, running, "FAIL and RUNNING (no liar) are both ignored");
    assert_eq!(fail, waiting, "FAIL and WAITING are both ignored");
    assert_ne!(pruned, fail, "PRUNED is not ignored");
    assert_ne!(pruned, complete, "PRUNED is not COMPLETE");
    // With the constant liar, RUNNING trials count (as "above").
    assert_ne!(
        alternating(TrialState::Running, true),
        alternating(TrialState::Fail, true)
    );
}

#[test]
fn constant_liar_with_partially_suggested_running_trials() {
    for dirs in [
        vec![StudyDirection::Minimize],
        vec![StudyDirection::Minimize, StudyDirection::Maximize],
    ] {
        for m in [Some(true), Some(false)] {
            let mut study = study_with(
                TpeConfig {
                    constant_liar: true,
                    n_startup_trials: 2,
                    multivariate: m,
                    ..cfg()
                },
                dirs.clone(),
            );
            let di = Distribution::int(0, 10);
            let df = Distribution::float(0.0, 1.0);
            let dc = Distribution::categorical(["a", "b", "c"]);
            for i in 0..6 {
                let n = study.ask().unwrap();
                study.suggest(n, "i", &di).unwrap();
                if i % 2 == 0 {
                    study.suggest(n, "f", &df).unwrap();
                }
                if i < 3 {
                    study.suggest(n, "c", &dc).unwrap();
                    let vals = vec![i as f64; dirs.len()];
                    study.tell(n, TellResult::Values(vals)).unwrap();
                }
                // Trials 3..6 stay RUNNING with only some parameters.
            }
            let n = study.ask().unwrap();
            for (name, d) in [("i", &di), ("f", &df), ("c", &dc)] {
                assert_in(d, name, &study.suggest(n, name, d).unwrap());
            }
        }
    }
}

#[test]
fn pruned_and_complete_with_disjoint_params_do_not_crash() {
    let mut study = single(TpeConfig {
        multivariate: Some(true),
        n_startup_trials: 1,
        ..cfg()
    });
    add(
        &mut study,
        &[("param1", x_dist(), 1.0)],
        TrialState::Pruned,
        None,
        &[(0, 1.0)],
    );
    add(
        &mut study,
        &[("param2", x_dist(), 2.0)],
        TrialState::Complete,
        Some(vec![1.0]),
        &[],
    );
    let n = study.ask().unwrap();
    for name in ["param1", "param2"] {
        assert_in(&x_dist(), name, &study.suggest(n, name, &x_dist()).unwrap());
    }
}

#[test]
fn relative_params_are_published_for_other_workers() {
    let mut study = single_after(2);
    history(&mut study, 3);
    let n = study.ask().unwrap();
    study.suggest(n, "x", &x_dist()).unwrap();
    let t = study.trial(n).unwrap();
    let text = t.system_attrs["tpe:relative_params:0"].as_str().unwrap();
    let v = Json::parse(text).unwrap();
    assert_eq!(
        v.get("x").and_then(Json::as_f64),
        t.param("x").and_then(|p| p.as_f64())
    );
    // A running trial whose params are only published still counts as an observation.
    let mut bare = t.clone();
    bare.set_param_internal("x", x_dist(), 0.0);
    let (got, numbers) = observations(
        &[&bare],
        &[(&"x".to_string(), &x_dist())],
        true,
        &mut ObservationMemo::default(),
    );
    assert_eq!(got[0].len(), 1);
    assert_eq!(numbers, vec![bare.number]);
}

// The memoised per-dimension orders equal sorting the observations afresh, for growing
// histories, subsets of trials, ties, log dimensions and running (unmemoised) trials.
#[test]
fn memoised_orders_equal_a_fresh_sort() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let owned = [
        ("a".to_string(), Distribution::float(-1.0, 1.0)),
        ("b".to_string(), Distribution::float_log(1e-3, 1.0)),
        ("c".to_string(), Distribution::int(0, 5)),
        ("d".to_string(), Distribution::categorical(["p", "q"])),
        ("e".to_string(), Distribution::int_log(1, 8)),
    ];
    let dims: Vec<(&String, &Distribution)> = owned.iter().map(|(n, d)| (n, d)).collect();
    let mut memo = ObservationMemo::default();
    let mut trials: Vec<FrozenTrial> = Vec::new();
    for round in 0..6 {
        for _ in 0..80 {
            let number = trials.len() as u64;
            let state = if rng.random_range(0..5) == 0 {
                TrialState::Running
            } else {
                TrialState::Complete
            };
            let mut t = FrozenTrial::new(number, number, state);
            for (name, d) in &owned {
                let v = if rng.random_range(0..4) == 0 {
                    // Repeated values.
                    RandomSampler::draw(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), d)
                } else {
                    RandomSampler::draw(&mut rng, d)
                };
                t.set_param_internal(name, d.clone(), v);
            }
            trials.push(t);
        }
        for skip in [0u64, 2, 3] {
            let subset: Vec<&FrozenTrial> = trials
                .iter()
                .filter(|t| skip == 0 || t.number % skip != round % skip)
                .collect();
            let (obs, numbers) = observations(&subset, &dims, true, &mut memo);
            memo.merge_fresh(&dims);
            let orders = memo.orders(&obs, &numbers, &dims);
            for (d, (_, dist)) in dims.iter().enumerate() {
                let Some(order) = &orders[d] else {
                    assert!(matches!(dist, Distribution::Categorical(_)));
                    continue;
                };
                let w: Vec<f64> = obs[d]
                    .iter()
                    .map(|v| parzen::working_value(dist, *v).unwrap())
                    .collect();
                assert_eq!(order, &parzen::stable_order(&w), "round {round} dim {d}");
            }
        }
    }
}

// -------------------------------------------------------- split (test_sampler.py, _split_*)

fn view_of<'a>(trials: &'a [FrozenTrial], dirs: &'a [StudyDirection]) -> StudyView<'a> {
    StudyView {
        name: "s",
        directions: dirs,
        trials: trials.iter().collect(),
    }
}

fn numbers(ts: &[&FrozenTrial]) -> Vec<u64> {
    ts.iter().map(|t| t.number).collect()
}

#[test]
fn split_complete_by_value() {
    for dir in [StudyDirection::Minimize, StudyDirection::Maximize] {
        let sign = dir.loss(1.0);
        let trials: Vec<FrozenTrial> = [f64::NEG_INFINITY, 0.0, 1.0, f64::INFINITY]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut t = FrozenTrial::new(i as u64, i as u64, TrialState::Complete);
                t.values = Some(vec![sign * v]);
                t
            })
            .collect();
        let dirs = [dir];
        let view = view_of(&trials, &dirs);
        let refs: Vec<&FrozenTrial> = trials.iter().collect();
        for n_below in 0..=4 {
            let (below, above) = split_trials(&view, &refs, n_below);
            assert_eq!(numbers(&below), (0..n_below as u64).collect::<Vec<_>>());
            assert_eq!(numbers(&above), (n_below as u64..4).collect::<Vec<_>>());
        }
    }
}

// The selection of the best complete trials ranks them exactly as a stable sort by value
// does: ties (also -0 and +0) in trial order, NaN values (or none) last.
#[test]
fn split_complete_selection_equals_the_stable_sort() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for round in 0..200 {
        let n = rng.random_range(0..60usize);
        let trials: Vec<FrozenTrial> = (0..n)
            .map(|i| {
                let mut t = FrozenTrial::new(i as u64, i as u64, TrialState::Complete);
                let v = match rng.random_range(0..6) {
                    0 => f64::from(rng.random_range(-2i32..3)),
                    1 => [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY][rng.random_range(0..4)],
                    2 if round % 4 == 0 => f64::NAN,
                    _ => rng.random::<f64>(),
                };
                t.values = (!(round % 7 == 0 && i == 3)).then(|| vec![v]);
                t
            })
            .collect();
        let refs: Vec<&FrozenTrial> = trials.iter().collect();
        for dir in [StudyDirection::Minimize, StudyDirection::Maximize] {
            let sign = dir.loss(1.0);
            let mut sorted = refs.clone();
            // NaN (or no value) last; the rest by value; the sort is stable.
            let key = |t: &FrozenTrial| sign * t.value().unwrap_or(f64::NAN);
            sorted.sort_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                match (ka.is_nan(), kb.is_nan()) {
                    (false, false) => cmp_f64(ka, kb),
                    (x, y) => x.cmp(&y),
                }
            });
            for nb in [0, 1, 2, 5, 25, n / 2, n] {
                let nb = nb.min(n);
                let mut want_above = sorted[nb..].to_vec();
                want_above.sort_by_key(|t| t.number);
                let keys: Vec<f64> = refs
                    .iter()
                    .map(|t| dir.loss(t.value().unwrap_or(f64::NAN)))
                    .collect();
                let (below, mut above) = split_complete_single_objective(&refs, &keys, nb);
                above.sort_by_key(|t| t.number);
                assert_eq!(
                    numbers(&below),
                    numbers(&sorted[..nb]),
                    "round {round} nb {nb}"
                );
                assert_eq!(
                    numbers(&above),
                    numbers(&want_above),
                    "round {round} nb {nb}"
                );
            }
        }
    }
}

fn pruned_history(dir: StudyDirection) -> Vec<FrozenTrial> {
    let sign = dir.loss(1.0);
    let mut out = Vec::new();
    for step in [2i64, 1] {
        for v in [f64::NEG_INFINITY, 0.0, 1.0, f64::INFINITY, f64::NAN] {
            let n = out.len() as u64;
            let mut t = FrozenTrial::new(n, n, TrialState::Pruned);
            t.intermediate_values.insert(step, sign * v);
            out.push(t);
        }
    }
    out.push(FrozenTrial::new(10, 10, TrialState::Pruned));
    out
}

#[test]
fn split_pruned_by_progress_then_value() {
    for dir in [StudyDirection::Minimize, StudyDirection::Maximize] {
        let trials = pruned_history(dir);
        let dirs = [dir];
        let view = view_of(&trials, &dirs);
        let refs: Vec<&FrozenTrial> = trials.iter().collect();
        for n_below in 0..=trials.len() {
            let (below, _) = split_trials(&view, &refs, n_below);
            assert_eq!(
                numbers(&below),
                (0..n_below as u64).collect::<Vec<_>>(),
                "{dir:?} {n_below}"
            );
        }
    }
}

fn with_constraints(mut t: FrozenTrial, c: &[f64]) -> FrozenTrial {
    t.system_attrs.insert(
        "constraints".into(),
        Json::Array(c.iter().map(|v| Json::Float(*v)).collect()),
    );
    t
}

#[test]
fn split_infeasible_by_violation() {
    let trials: Vec<FrozenTrial> = [1.0, 2.0, f64::INFINITY]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut t = FrozenTrial::new(i as u64, i as u64, TrialState::Complete);
            t.values = Some(vec![0.0]);
            with_constraints(t, &[*c])
        })
        .collect();
    let dirs = [StudyDirection::Minimize];
    let view = view_of(&trials, &dirs);
    let refs: Vec<&FrozenTrial> = trials.iter().collect();
    for n_below in 0..=3 {
        let (below, _) = split_trials(&view, &refs, n_below);
        assert_eq!(numbers(&below), (0..n_below as u64).collect::<Vec<_>>());
    }
}

#[test]
fn split_combined_priority_order() {
    for dir in [StudyDirection::Minimize, StudyDirection::Maximize] {
        for constant_liar in [false, true] {
            for constraints in [false, true] {
                let sign = dir.loss(1.0);
                let mut trials: Vec<FrozenTrial> = Vec::new();
                let push = |trials: &mut Vec<FrozenTrial>, mut t: FrozenTrial, feasible: bool| {
                    let n = trials.len() as u64;
                    t.number = n;
                    t.trial_id = n;
                    if constraints {
                        t = with_constraints(t, if feasible { &[-1.0] } else { &[1.0] });
                    }
                    trials.push(t);
                };
                for v in [f64::NEG_INFINITY, 0.0, 1.0, f64::INFINITY] {
                    let mut t = FrozenTrial::new(0, 0, TrialState::Complete);
                    t.values = Some(vec![sign * v]);
                    push(&mut trials, t, true);
                }
                for t in pruned_history(dir) {
                    push(&mut trials, t, true);
                }
                if constraints {
                    for _ in 0..3 {
                        let mut t = FrozenTrial::new(0, 0, TrialState::Complete);
                        t.values = Some(vec![0.0]);
                        push(&mut trials, t, false);
                    }
                }
                let n_finished = trials.len();
                push(
                    &mut trials,
                    FrozenTrial::new(0, 0, TrialState::Running),
                    true,
                );
                push(&mut trials, FrozenTrial::new(0, 0, TrialState::Fail), true);
                push(
                    &mut trials,
                    FrozenTrial::new(0, 0, TrialState::Waiting),
                    true,
                );
                let dirs = [dir];
                let view = view_of(&trials, &dirs);
                let states: &[TrialState] = if constant_liar {
                    &[
                        TrialState::Complete,
                        TrialState::Pruned,
                        TrialState::Running,
                    ]
                } else {
                    &[TrialState::Complete, TrialState::Pruned]
                };
                let refs: Vec<&FrozenTrial> = trials
                    .iter()
                    .filter(|t| states.contains(&t.state))
                    .collect();
                for n_below in 0..=n_finished {
                    let (below, above) = split_trials(&view, &refs, n_below);
                    assert_eq!(numbers(&below), (0..n_below as u64).collect::<Vec<_>>());
                    let mut want: Vec<u64> = (n_below as u64..n_finished as u64).collect();
                    if constant_liar {
                        want.push(n_finished as u64); // the RUNNING trial, always above
                    }
                    assert_eq!(numbers(&above), want);
                }
            }
        }
    }
}

#[test]
fn split_multi_objective_order() {
    let vals = [f64::NEG_INFINITY, 0.0, 1.0, f64::INFINITY];
    let mut trials = Vec::new();
    for a in vals {
        for b in vals {
            let n = trials.len() as u64;
            let mut t = FrozenTrial::new(n, n, TrialState::Complete);
            t.values = Some(vec![a, b]);
            trials.push(t);
        }
    }
    for _ in 0..5 {
        let n = trials.len() as u64;
        trials.push(FrozenTrial::new(n, n, TrialState::Running));
    }
    let dirs = [StudyDirection::Minimize, StudyDirection::Minimize];
    let view = view_of(&trials, &dirs);
    let refs: Vec<&FrozenTrial> = trials.iter().collect();
    let order = [0u64, 1, 4, 2, 8, 5, 3, 6, 9, 12, 7, 10, 13, 11, 14, 15];
    for n_below in 0..=16 {
        let (below, above) = split_trials(&view, &refs, n_below);
        let mut want: Vec<u64> = order[..n_below].to_vec();
        want.sort();
        assert_eq!(numbers(&below), want, "n_below {n_below}");
        assert!(numbers(&above).iter().any(|n| *n >= 16) && above.len() == 21 - n_below);
    }
    // Four points, every direction combination: a below of size 2 is {0, 3}.
    for d0 in [StudyDirection::Minimize, StudyDirection::Maximize] {
        for d1 in [StudyDirection::Minimize, StudyDirection::Maximize] {
            let pts = [[-2.0, -1.0], [3.0, 3.0], [0.0, 1.0], [-1.0, 0.0]];
            let four: Vec<FrozenTrial> = pts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut t = FrozenTrial::new(i as u64, i as u64, TrialState::Complete);
                    t.values = Some(vec![d0.loss(p[0]), d1.loss(p[1])]);
                    t
                })
                .collect();
            let d2 = [d0, d1];
            let view = view_of(&four, &d2);
            let refs: Vec<&FrozenTrial> = four.iter().collect();
            let (below, _) = split_trials(&view, &refs, 2);
            assert_eq!(numbers(&below), vec![0, 3], "{d0:?} {d1:?}");
        }
    }
    let view = view_of(&trials, &dirs);
    let (b, a) = split_trials(&view, &[], 3);
    assert!(b.is_empty() && a.is_empty());
}

// -------------------------------------------------------- generic suites (pytest_samplers.py)

#[test]
fn dynamic_and_conditional_spaces() {
    for m in [Some(true), Some(false)] {
        let mut study = single(TpeConfig {
            n_startup_trials: 0,
            multivariate: m,
            ..cfg()
        });
        let root = Distribution::categorical(["a", "b"]);
        let child = Distribution::float(0.0, 1.0);
        for _ in 0..10 {
            let n = study.ask().unwrap();
            let which = study.suggest(n, "root", &root).unwrap();
            assert_in(&root, "root", &which);
            let name = format!("child_{which}");
            let v = study.suggest(n, &name, &child).unwrap();
            assert_in(&child, &name, &v);
            study.tell_value(n, v.as_f64().unwrap()).unwrap();
        }
        // Changing ranges after 10 trials on 0..10: narrower, wider, disjoint.
        let mut study = single(TpeConfig {
            n_startup_trials: 0,
            multivariate: m,
            ..cfg()
        });
        for _ in 0..10 {
            let n = study.ask().unwrap();
            let v = study
                .suggest(n, "x", &Distribution::float(0.0, 10.0))
                .unwrap();
            study.tell_value(n, v.as_f64().unwrap()).unwrap();
        }
        for (lo, hi) in [(0.0, 5.0), (0.0, 20.0), (20.0, 30.0)] {
            let d = Distribution::float(lo, hi);
            let n = study.ask().unwrap();
            let v = study.suggest(n, "x", &d).unwrap().as_f64().unwrap();
            assert!((lo..=hi).contains(&v), "{v} not in [{lo}, {hi}]");
            study.tell_value(n, v).unwrap();
        }
    }
}

#[test]
fn nan_objectives_fail_and_are_ignored_by_best() {
    let mut study = single_after(2);
    for i in 0..6 {
        let n = study.ask().unwrap();
        let x = study.suggest(n, "x", &x_dist()).unwrap().as_f64().unwrap();
        let v = if i % 2 == 0 { f64::NAN } else { x * x };
        let st = study.tell_value(n, v).unwrap();
        assert_eq!(
            st,
            if i % 2 == 0 {
                TrialState::Fail
            } else {
                TrialState::Complete
            }
        );
    }
    assert!(study.best_value().unwrap().is_finite());
}

#[test]
fn all_pairs_of_suggest_types() {
    let kinds = seven();
    for (a, da) in &kinds {
        for (b, db) in &kinds {
            if a >= b {
                continue;
            }
            let mut study = single_after(2);
            for i in 0..5 {
                let n = study.ask().unwrap();
                assert_in(da, a, &study.suggest(n, a, da).unwrap());
                assert_in(db, b, &study.suggest(n, b, db).unwrap());
                study.tell_value(n, i as f64).unwrap();
            }
        }
    }
}

#[test]
fn tpe_beats_random_on_a_quadratic() {
    let run = |sampler: Box<dyn Sampler>| {
        let mut study = Study::create("q", StudyDirection::Minimize, sampler).unwrap();
        for _ in 0..60 {
            let n = study.ask().unwrap();
            let x = study.suggest(n, "x", &x_dist()).unwrap().as_f64().unwrap();
            let y = study.suggest(n, "y", &x_dist()).unwrap().as_f64().unwrap();
            study
                .tell_value(n, (x - 3.0).powi(2) + (y + 1.0).powi(2))
                .unwrap();
        }
        study.best_value().unwrap()
    };
    let mut wins = 0;
    for seed in 0..5 {
        let tpe = run(Box::new(TpeSampler::seeded(seed)));
        let rnd = run(Box::new(RandomSampler::new(Some(seed))));
        if tpe < rnd {
            wins += 1;
        }
    }
    assert!(wins >= 4, "TPE won {wins} of 5");
}

// ---------------------------------------------------------------- sweeplab's tuning

#[test]
fn linear_gamma_sizes_the_below_group_like_optunas_rule() {
    let with = |g: Gamma| TpeSampler::new(TpeConfig { gamma: g, ..cfg() });
    let optuna = with(Gamma::Default);
    let tenth = with(Gamma::Linear(0.1));
    for n in 0..400 {
        for multi in [false, true] {
            assert_eq!(optuna.gamma(n, multi), tenth.gamma(n, multi), "n {n}");
        }
    }
    let fifth = with(Gamma::Linear(0.2));
    let got: Vec<usize> = [0, 1, 5, 10, 11, 50, 124, 126, 1000]
        .iter()
        .map(|&n| fifth.gamma(n, false))
        .collect();
    assert_eq!(got, vec![0, 1, 1, 2, 3, 10, 25, 25, 25]);
    // Multi-objective: no cap, as Optuna's multi-objective default.
    assert_eq!(fifth.gamma(1000, true), 200);
}

#[test]
fn sweeplab_tuning_is_optunas_tpe_with_two_settings_changed() {
    let tuned = TpeDefaults::Sweeplab.config(Some(7));
    let optuna = TpeDefaults::Optuna.config(Some(7));
    assert_eq!(
        format!("{optuna:?}"),
        format!(
            "{:?}",
            TpeConfig {
                seed: Some(7),
                explain: true,
                ..TpeConfig::default()
            }
        )
    );
    assert_eq!(
        format!("{tuned:?}"),
        format!(
            "{:?}",
            TpeConfig {
                n_ei_candidates: 48,
                gamma: Gamma::Linear(0.2),
                ..optuna
            }
        )
    );
    assert_eq!(TpeDefaults::default(), TpeDefaults::Sweeplab);
    for d in TpeDefaults::ALL {
        assert_eq!(TpeDefaults::parse(d.name()), Some(d));
    }
    assert_eq!(TpeDefaults::parse("hyperopt"), None);
}

#[test]
fn gamma_kwarg_gives_the_factor_of_optunas_rule() {
    let kw = |s: &str| {
        let j = Json::parse(s).unwrap();
        TpeConfig::from_kwargs(j.as_object().unwrap())
    };
    let c = kw(r#"{"gamma": 0.2, "n_ei_candidates": 48, "seed": 7}"#).unwrap();
    // `sweeplab ask` (kwargs) records no explanations; sweeps do.
    assert!(!c.explain);
    let c = TpeConfig { explain: true, ..c };
    assert_eq!(
        format!("{c:?}"),
        format!("{:?}", TpeDefaults::Sweeplab.config(Some(7)))
    );
    for bad in ["0", "1.5", "-0.1", "\"0.2\"", "null"] {
        let e = kw(&format!(r#"{{"gamma": {bad}}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`gamma`") && e.contains("(0, 1]"), "{bad}: {e}");
    }
}

/// Branin (the benchmark function of `docs/tpe-benchmark.md`) regret after `budget` trials.
fn branin_regret(config: TpeConfig, budget: usize) -> f64 {
    let mut study = single(config);
    let d1 = Distribution::float(-5.0, 10.0);
    let d2 = Distribution::float(0.0, 15.0);
    let pi = std::f64::consts::PI;
    let mut best = f64::INFINITY;
    for _ in 0..budget {
        let n = study.ask().unwrap();
        let x1 = study.suggest(n, "x1", &d1).unwrap().as_f64().unwrap();
        let x2 = study.suggest(n, "x2", &d2).unwrap().as_f64().unwrap();
        let t = x2 - 5.1 * x1 * x1 / (4.0 * pi * pi) + 5.0 * x1 / pi - 6.0;
        let v = t * t + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x1.cos() + 10.0;
        study.tell_value(n, v).unwrap();
        best = best.min(v);
    }
    best - 5.0 / (4.0 * pi)
}

#[test]
fn sweeplab_tuning_exploits_more_than_optunas_defaults_on_branin() {
    let mut tuned = Vec::new();
    let mut optuna = Vec::new();
    for seed in 0..20 {
        tuned.push(branin_regret(TpeDefaults::Sweeplab.config(Some(seed)), 100));
        optuna.push(branin_regret(TpeDefaults::Optuna.config(Some(seed)), 100));
    }
    let wins = tuned.iter().zip(&optuna).filter(|(t, o)| t < o).count();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[9] + v[10]) / 2.0
    };
    let (mt, mo) = (median(&mut tuned), median(&mut optuna));
    eprintln!(
        "branin, 100 trials, 20 seeds: tuned {mt:.4} vs Optuna's defaults {mo:.4}; {wins} wins"
    );
    assert!(mt < 0.5 * mo, "median regret {mt} vs {mo}");
    assert!(wins > 10, "won {wins} of 20");
}
