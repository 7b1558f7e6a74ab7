//! W&B sweep YAML → `SweepConfig`: every mapping rule and every error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeSet;
use std::path::PathBuf;

use sweeplab_core::config::{
    ConfigError, HyperbandSettings, PrunerConfig, SweepConfig, SweepMethod, SweepParameter,
};
use sweeplab_core::{Distribution, Json, ParamValue, StudyDirection, TellResult, TpeDefaults};

fn load(yaml: &str) -> SweepConfig {
    SweepConfig::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"))
}

fn err(yaml: &str) -> String {
    match SweepConfig::from_yaml_str(yaml) {
        Ok(c) => panic!("expected an error, got {c:?}\n---\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// A config with one parameter `p` given by `spec` (YAML flow mapping).
fn one(spec: &str) -> Distribution {
    let cfg = load(&format!("method: random\nparameters:\n  p: {spec}\n"));
    match &cfg.parameters["p"] {
        SweepParameter::Search { distribution, .. } => distribution.clone(),
        other => panic!("p is not searched: {other:?}"),
    }
}

fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Distribution {
    Distribution::float_with(low, high, log, step)
}

fn int(low: i64, high: i64, log: bool, step: i64) -> Distribution {
    Distribution::int_with(low, high, log, step)
}

fn assert_close(d: &Distribution, low: f64, high: f64, log: bool) {
    match d {
        Distribution::Float(f) => {
            assert!((f.low - low).abs() < 1e-12 * low.abs().max(1.0), "{d:?}");
            assert!((f.high - high).abs() < 1e-12 * high.abs().max(1.0), "{d:?}");
            assert_eq!(f.log, log, "{d:?}");
            assert_eq!(f.step, None);
        }
        other => panic!("expected a float distribution, got {other:?}"),
    }
}

#[test]
fn the_sample_sweep_yaml_loads() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/config_fixtures/sweep.yaml");
    let cfg = SweepConfig::from_path(&p).unwrap();
    assert_eq!(cfg.method, SweepMethod::Bayes);
    assert_eq!(cfg.metric_name(), Some("val_loss"));
    assert_eq!(cfg.direction(), StudyDirection::Minimize);
    assert_eq!(cfg.n_trials(), Some(20));
    assert_eq!(
        cfg.early_terminate,
        Some(HyperbandSettings {
            min_resource: 3,
            max_resource: None,
            reduction_factor: 3
        })
    );
    assert_eq!(cfg.info["name"], Json::Str("hpsearch-demo".into()));
    assert_eq!(cfg.info["program"], Json::Str("train.py".into()));
    let space = cfg.search_space();
    assert_eq!(space["lr"], float(0.0001, 0.1, true, None));
    assert_eq!(space["dropout"], float(0.0, 0.5, false, None));
    assert_eq!(space["layers"], int(2, 6, false, 1));
    // q_log_uniform_values with q = 16: the multiples of 16 in [16, 256], uniform.
    assert_eq!(space["batch_size"], int(16, 256, false, 16));
    assert_eq!(
        space["optimizer"],
        Distribution::categorical(["adam", "sgd", "rmsprop"])
    );
    // normal(mu, sigma) → mu ± 3 sigma.
    assert_close(&space["weight_decay"], 0.0001 - 3e-5, 0.0001 + 3e-5, false);
    // The nested block is flattened.
    assert_eq!(
        space["model.width"],
        Distribution::categorical([64i64, 128])
    );
    assert_eq!(space.len(), 7);
    assert_eq!(cfg.fixed_values().len(), 1);
    assert_eq!(cfg.fixed_values()["epochs"], Json::Int(10));
    assert_eq!(cfg.build_sampler().unwrap().name(), "TPESampler");
    assert_eq!(cfg.build_pruner().unwrap().name(), "HyperbandPruner");
    let study = cfg.create_study("s").unwrap();
    assert_eq!(study.direction(), StudyDirection::Minimize);
    assert_eq!(study.pruner().name(), "HyperbandPruner");
}

#[test]
fn default_distribution_rules() {
    assert_eq!(one("{min: 1, max: 5}"), int(1, 5, false, 1));
    assert_eq!(one("{min: 1.0, max: 5}"), float(1.0, 5.0, false, None));
    assert_eq!(one("{min: 0.1, max: 0.5}"), float(0.1, 0.5, false, None));
    assert_eq!(
        one("{values: [1, 2.5, x, true, null]}"),
        Distribution::categorical([
            ParamValue::Int(1),
            ParamValue::Float(2.5),
            ParamValue::Str("x".into()),
            ParamValue::Bool(true),
            ParamValue::Null
        ])
    );
    let cfg = load(
        "method: random\nparameters:\n  c: {value: [1, 2]}\n  d: {distribution: constant, value: {a: b}}\n  x: {min: 0, max: 1}\n",
    );
    assert_eq!(
        cfg.fixed_values()["c"],
        Json::Array(vec![Json::Int(1), Json::Int(2)])
    );
    assert_eq!(
        cfg.fixed_values()["d"],
        Json::Object(vec![("a".into(), Json::Str("b".into()))])
    );
    assert_eq!(cfg.search_space().len(), 1);
    assert_eq!(
        cfg.parameters["x"],
        SweepParameter::Search {
            distribution: int(0, 1, false, 1),
            wandb: "int_uniform".into()
        }
    );
}

#[test]
fn explicit_distributions_map_onto_optuna() {
    #[rustfmt::skip]
    let exact = [
        ("{distribution: int_uniform, min: 2, max: 8}", int(2, 8, false, 1)),
        ("{distribution: uniform, min: 0, max: 1}", float(0.0, 1.0, false, None)),
        ("{distribution: log_uniform_values, min: 1e-5, max: 1e-1}", float(1e-5, 0.1, true, None)),
        ("{distribution: inv_log_uniform_values, min: 0.001, max: 0.05}", float(0.001, 0.05, true, None)),
        // q_uniform: integer q → int grid; float q → float grid; bounds snap inwards.
        ("{distribution: q_uniform, min: 0, max: 100, q: 10}", int(0, 100, false, 10)),
        ("{distribution: q_uniform, min: 1, max: 10, q: 2}", int(2, 10, false, 2)),
        ("{distribution: q_uniform, min: 0.0, max: 1.0, q: 0.1}", float(0.0, 1.0, false, Some(0.1))),
        ("{distribution: q_uniform, min: 0.05, max: 0.98, q: 0.1}", float(0.1, 0.9, false, Some(0.1))),
        ("{distribution: q_uniform, min: 0, max: 3}", int(0, 3, false, 1)),
        // q_log_uniform_values: q = 1 keeps the log scale on integers.
        ("{distribution: q_log_uniform_values, min: 1, max: 1000}", int(1, 1000, true, 1)),
        ("{distribution: q_log_uniform_values, min: 16, max: 256, q: 16}", int(16, 256, false, 16)),
        ("{distribution: q_log_uniform_values, min: 0.5, max: 2.0, q: 0.5}", float(0.5, 2.0, false, Some(0.5))),
        // q_log_uniform: exponent bounds e^0 = 1 .. e^3 = 20.08 on integers.
        ("{distribution: q_log_uniform, min: 0, max: 3}", int(1, 20, true, 1)),
        // The normal family's q forms: mu ± 3 sigma.
        ("{distribution: q_normal, mu: 10, sigma: 2, q: 1}", int(4, 16, false, 1)),
        ("{distribution: q_log_normal, mu: 0, sigma: 1, q: 5}", int(5, 20, false, 5)),
        ("{distribution: normal, mu: 1, sigma: 0}", float(1.0, 1.0, false, None)),
    ];
    for (spec, want) in exact {
        assert_eq!(one(spec), want, "{spec}");
    }
    // Continuous bounds computed with exp: equal up to rounding. The normal family: mu ± 3
    // sigma.
    #[rustfmt::skip]
    let close = [
        ("{distribution: log_uniform, min: -4, max: 0}", (-4f64).exp(), 1.0, true),
        ("{distribution: inv_log_uniform, min: 1, max: 3}", (-3f64).exp(), (-1f64).exp(), true),
        ("{distribution: normal}", -3.0, 3.0, false),
        ("{distribution: normal, mu: 10, sigma: 2}", 4.0, 16.0, false),
        ("{distribution: log_normal, mu: 0, sigma: 1}", (-3f64).exp(), 3f64.exp(), true),
    ];
    for (spec, low, high, log) in close {
        assert_close(&one(spec), low, high, log);
    }
}

#[test]
fn nested_parameters_are_flattened() {
    let cfg = load(
        "method: grid\nparameters:\n  a:\n    parameters:\n      b: {values: [1, 2]}\n      c:\n        parameters:\n          d: {value: x}\n  e: {values: [y]}\n",
    );
    let names: Vec<&String> = cfg.parameters.keys().collect();
    assert_eq!(names, ["a.b", "a.c.d", "e"]);
    assert_eq!(cfg.fixed_values()["a.c.d"], Json::Str("x".into()));
    let e = err(
        "method: grid\nparameters:\n  a.b: {value: 1}\n  a:\n    parameters:\n      b: {value: 2}\n",
    );
    assert!(e.contains("`a.b` is defined twice"), "{e}");
    let e = err("method: grid\nparameters:\n  a:\n    parameters: {b: {value: 1}}\n    value: 3\n");
    assert!(e.contains("parameters.a") && e.contains("nested"), "{e}");
}

#[test]
fn methods_build_their_samplers() {
    let base = "parameters:\n  x: {values: [1, 2, 3]}\n  y: {distribution: q_uniform, min: 0, max: 0.2, q: 0.1}\n  z: {value: 5}\n";
    let grid = load(&format!("method: grid\n{base}"));
    assert_eq!(grid.build_sampler().unwrap().name(), "GridSampler");
    let random = load(&format!("method: random\nsweeplab: {{seed: 3}}\n{base}"));
    assert_eq!(random.build_sampler().unwrap().name(), "RandomSampler");
    assert_eq!(random.sweeplab.seed, Some(3));
    let bayes = load(&format!(
        "method: bayes\nmetric: {{name: acc, goal: maximize}}\n{base}"
    ));
    assert_eq!(bayes.build_sampler().unwrap().name(), "TPESampler");
    assert_eq!(bayes.direction(), StudyDirection::Maximize);
    // `bayes` is sweeplab's tuning of TPE unless `sweeplab.tpe` asks for Optuna's defaults.
    assert_eq!(bayes.tpe_defaults(), TpeDefaults::Sweeplab);
    assert!(bayes.sampler_description().contains("sweeplab's tuning"));
    let optuna = load(&format!(
        "method: bayes\nmetric: {{name: acc, goal: maximize}}\nsweeplab: {{tpe: optuna, seed: 4}}\n{base}"
    ));
    assert_eq!(optuna.tpe_defaults(), TpeDefaults::Optuna);
    assert!(
        optuna
            .sampler_description()
            .contains("Optuna 5.0's defaults")
    );
    let tuned = load(&format!(
        "method: bayes\nmetric: {{name: acc, goal: maximize}}\nsweeplab: {{tpe: sweeplab, seed: 4}}\n{base}"
    ));
    // Same seed: the same ten random startup trials, then each TPE its own proposals.
    let trace = |cfg: &SweepConfig| {
        let mut s = cfg.create_study("t").unwrap();
        let space = cfg.search_space();
        (0..30)
            .map(|i| {
                let (n, p) = s.ask_with(&space).unwrap();
                let x = p["x"].as_f64().unwrap() + p["y"].as_f64().unwrap() + i as f64 * 1e-3;
                s.tell(n, TellResult::Values(vec![x])).unwrap();
                format!("{p:?}")
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (trace(&optuna), trace(&tuned));
    assert_eq!(a[..10], b[..10]);
    assert_ne!(a[10..], b[10..]);

    // The grid visits every combination exactly once, then asks the study to stop.
    let mut study = grid.create_study("g").unwrap();
    let space = grid.search_space();
    let mut seen = BTreeSet::new();
    while !study.stop_requested() {
        let (n, params) = study.ask_with(&space).unwrap();
        let key = format!("{}|{}", params["x"], params["y"]);
        assert!(seen.insert(key.clone()), "{key} twice");
        study.tell(n, TellResult::Values(vec![1.0])).unwrap();
        assert!(seen.len() <= 9);
    }
    assert_eq!(seen.len(), 9);
    assert!(seen.contains("3|0.2") && seen.contains("1|0.1"), "{seen:?}");

    // Seeded random search is reproducible.
    let run = || {
        let mut s = random.create_study("r").unwrap();
        let space = random.search_space();
        (0..5)
            .map(|_| {
                let (n, p) = s.ask_with(&space).unwrap();
                s.tell(n, TellResult::Values(vec![0.0])).unwrap();
                format!("{p:?}")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn early_terminate_maps_to_hyperband() {
    let head = "method: random\nmetric: {name: loss}\nparameters: {x: {min: 0, max: 1}}\n";
    let cfg = load(&format!(
        "{head}early_terminate: {{type: hyperband, min_iter: 2, eta: 2, strict: true}}\n"
    ));
    assert_eq!(
        cfg.early_terminate,
        Some(HyperbandSettings {
            min_resource: 2,
            max_resource: None,
            reduction_factor: 2
        })
    );
    // max_iter 27, s 2, eta 3: W&B's bands are 9 and 3.
    let cfg = load(&format!(
        "{head}early_terminate: {{type: hyperband, max_iter: 27, s: 2}}\n"
    ));
    assert_eq!(
        cfg.early_terminate,
        Some(HyperbandSettings {
            min_resource: 3,
            max_resource: Some(27),
            reduction_factor: 3
        })
    );
    assert_eq!(cfg.build_pruner().unwrap().name(), "HyperbandPruner");
    // s larger than the bands allow: the smallest band >= 1.
    let cfg = load(&format!(
        "{head}early_terminate: {{type: hyperband, max_iter: 10, s: 5, eta: 2}}\n"
    ));
    assert_eq!(cfg.early_terminate.unwrap().min_resource, 1);
}

#[test]
fn sweeplab_block_settings_and_pruners() {
    let cfg = load(
        "method: random\nparameters: {x: {min: 0, max: 1}}\nsweeplab:\n  dataset: mnist10k\n  model: mlp\n  seed: 7\n  epochs: 3\n  augment: {flip: true}\n  pruner: {type: median, n_startup_trials: 2, n_warmup_steps: 1}\n",
    );
    let s = &cfg.sweeplab;
    assert_eq!(s.dataset.as_deref(), Some("mnist10k"));
    assert_eq!(s.model.as_deref(), Some("mlp"));
    assert_eq!(s.seed, Some(7));
    assert_eq!(s.settings["epochs"], Json::Int(3));
    assert_eq!(
        s.settings["augment"],
        Json::Object(vec![("flip".into(), Json::Bool(true))])
    );
    assert_eq!(
        s.pruner,
        Some(PrunerConfig::Median {
            n_startup_trials: 2,
            n_warmup_steps: 1,
            interval_steps: 1,
            n_min_trials: 1
        })
    );
    assert_eq!(cfg.build_pruner().unwrap().name(), "MedianPruner");
    let pruner = |spec: &str| {
        load(&format!(
            "method: random\nparameters: {{x: {{min: 0, max: 1}}}}\nsweeplab: {{pruner: {spec}}}\n"
        ))
        .build_pruner()
        .map(|p| p.name())
    };
    assert_eq!(pruner("{type: none}").unwrap(), "NopPruner");
    assert_eq!(
        pruner("{type: percentile, percentile: 25}").unwrap(),
        "PercentilePruner"
    );
    assert_eq!(
        pruner("{type: hyperband, min_resource: 1, max_resource: auto, reduction_factor: 3}")
            .unwrap(),
        "HyperbandPruner"
    );
    assert_eq!(
        pruner("{type: successive_halving, min_resource: auto}").unwrap(),
        "SuccessiveHalvingPruner"
    );
    // Optuna's own argument checks apply when building.
    let e = pruner("{type: percentile, percentile: 150}").unwrap_err();
    assert!(
        e.to_string()
            .contains("percentile must be between 0 and 100"),
        "{e}"
    );
    let e = pruner("{type: hyperband, reduction_factor: 1}").unwrap_err();
    assert!(e.to_string().contains("reduction_factor"), "{e}");
    assert!(matches!(e, ConfigError::Pruner(_)));
    // No pruner at all.
    let cfg = load("method: random\nparameters: {x: {min: 0, max: 1}}\n");
    assert_eq!(cfg.build_pruner().unwrap().name(), "NopPruner");
    assert_eq!(cfg.n_trials(), None);
    assert_eq!(cfg.direction(), StudyDirection::Minimize);
}

#[test]
fn every_error_names_the_key_and_what_is_supported() {
    let p = "parameters: {x: {min: 0, max: 1}}\n";
    let cases: Vec<(String, &[&str])> = vec![
        ("".into(), &["`method` is required"]),
        (p.into(), &["`method` is required", "grid, random, bayes"]),
        (
            format!("method: custom\n{p}"),
            &["method: custom", "grid | random | bayes"],
        ),
        (format!("method: 3\n{p}"), &["`method`", "the number 3"]),
        ("method: random\n".into(), &["`parameters` is required"]),
        (
            "method: random\nparameters: {}\n".into(),
            &["at least one parameter"],
        ),
        (
            format!("method: random\nmetrics: [{{name: a}}]\n{p}"),
            &["`metrics", "multi-objective", "supported here: method, metric"],
        ),
        (
            format!("method: random\ncontroller: {{type: local}}\n{p}"),
            &["`controller", "supported here"],
        ),
        (format!("method: random\nfoo: 1\n{p}"), &["`foo`"]),
        (
            format!("method: random\nmetric: {{name: a, target: 0.9}}\n{p}"),
            &["`metric.target`", "name, goal"],
        ),
        (
            format!("method: random\nmetric: {{goal: minimize}}\n{p}"),
            &["`metric.name` is required"],
        ),
        (
            format!("method: random\nmetric: {{name: a, goal: down}}\n{p}"),
            &["metric.goal", "minimize or maximize"],
        ),
        (format!("method: bayes\n{p}"), &["`metric` is required", "bayes"]),
        (
            format!("method: random\nearly_terminate: {{type: hyperband, min_iter: 1}}\n{p}"),
            &["`metric` is required", "early_terminate"],
        ),
        (
            "method: random\nparameters: {x: {distribution: beta, a: 1, b: 2}}\n".into(),
            &["parameters.x.distribution: beta", "no Optuna equivalent", "log_uniform_values"],
        ),
        (
            "method: random\nparameters: {x: {distribution: q_beta}}\n".into(),
            &["q_beta", "no Optuna equivalent"],
        ),
        (
            "method: random\nparameters: {x: {distribution: categorical_w_probabilities, values: [1, 2], probabilities: [0.5, 0.5]}}\n".into(),
            &["categorical_w_probabilities"],
        ),
        (
            "method: random\nparameters: {x: {distribution: gamma, min: 0, max: 1}}\n".into(),
            &["distribution: gamma", "int_uniform, uniform"],
        ),
        (
            "method: random\nparameters: {x: {distribution: uniform, min: 0, max: 1, q: 2}}\n"
                .into(),
            &["`parameters.x.q`", "distribution, min, max"],
        ),
        (
            "method: random\nparameters: {x: {mu: 0, sigma: 1}}\n".into(),
            &["`parameters.x.distribution` is required"],
        ),
        (
            "method: random\nparameters: {x: {distribution: uniform, min: 0}}\n".into(),
            &["`parameters.x.max` is required", "uniform needs it"],
        ),
        (
            "method: random\nparameters: {x: {min: 5, max: 1}}\n".into(),
            &["parameters.x", "min (5) must be <= max (1)"],
        ),
        (
            "method: random\nparameters: {x: {distribution: log_uniform_values, min: 0, max: 1}}\n"
                .into(),
            &["parameters.x.min", "must be > 0"],
        ),
        (
            "method: random\nparameters: {x: {distribution: int_uniform, min: 0.5, max: 3}}\n"
                .into(),
            &["parameters.x.min", "must be an integer"],
        ),
        (
            "method: random\nparameters: {x: {distribution: uniform, min: a, max: 3}}\n".into(),
            &["parameters.x.min", "finite number"],
        ),
        (
            "method: random\nparameters: {x: {values: []}}\n".into(),
            &["parameters.x.values", "must not be empty"],
        ),
        (
            "method: random\nparameters: {x: {values: 3}}\n".into(),
            &["parameters.x.values", "must be a list"],
        ),
        (
            "method: random\nparameters: {x: {values: [[1, 2], [3]]}}\n".into(),
            &["parameters.x.values[0]", "lists and mappings are not supported"],
        ),
        (
            "method: random\nparameters: {x: {distribution: q_uniform, min: 0.1, max: 0.2, q: 1}}\n"
                .into(),
            &["parameters.x", "no multiple of q"],
        ),
        (
            "method: random\nparameters: {x: {distribution: q_uniform, min: 0, max: 2, q: -1}}\n"
                .into(),
            &["parameters.x.q", "must be > 0"],
        ),
        (
            "method: random\nparameters: {x: {distribution: normal, sigma: -1}}\n".into(),
            &["parameters.x.sigma", "must be >= 0"],
        ),
        (
            "method: random\nparameters: {x: 3}\n".into(),
            &["parameters.x", "must be a mapping"],
        ),
        (
            "method: random\nparameters: {x: {values: [1, 1]}}\n".into(),
            &["parameters.x.values[1]", "duplicate choice 1"],
        ),
        (
            "method: grid\nparameters: {x: {min: 0.0, max: 1.0}}\n".into(),
            &["parameters.x", "`method: grid` needs", "not uniform"],
        ),
        (
            "method: grid\nparameters: {a: {min: 0, max: 999}, b: {min: 0, max: 999}, c: {min: 0, max: 9}}\n"
                .into(),
            &["more than 1000000 points"],
        ),
        (
            format!("method: random\nrun_cap: 0\n{p}"),
            &["`run_cap`", "must be > 0"],
        ),
        (
            format!("method: random\nrun_cap: many\n{p}"),
            &["`run_cap`", "integer"],
        ),
    ];
    let et =
        |body: &str| format!("method: random\nmetric: {{name: l}}\n{p}early_terminate: {body}\n");
    let more: Vec<(String, &[&str])> = vec![
        (
            et("{type: asha, min_iter: 1}"),
            &["early_terminate.type: asha", "hyperband"],
        ),
        (et("{min_iter: 1}"), &["`early_terminate.type` is required"]),
        (
            et("{type: hyperband, min_iter: 1, strict: false}"),
            &["early_terminate.strict", "strict: true"],
        ),
        (
            et("{type: hyperband, min_iter: 1, eta: 2.5}"),
            &["early_terminate.eta", "integer >= 2"],
        ),
        (
            et("{type: hyperband, min_iter: 1, eta: 1}"),
            &["early_terminate.eta", "integer >= 2"],
        ),
        (
            et("{type: hyperband, min_iter: 1, max_iter: 9, s: 2}"),
            &["not both"],
        ),
        (
            et("{type: hyperband, max_iter: 9}"),
            &["`early_terminate.s` is required"],
        ),
        (
            et("{type: hyperband, max_iter: 2, s: 2, eta: 3}"),
            &["no band >= 1"],
        ),
        (
            et("{type: hyperband, min_iter: 0}"),
            &["min_iter", "must be >= 1"],
        ),
        (
            et("{type: hyperband, min_iter: 1, s: 1}"),
            &["`s` goes with `max_iter`"],
        ),
        (
            et("{type: hyperband}"),
            &["min_iter` is required", "max_iter"],
        ),
        (
            et("{type: hyperband, min_iter: 1, r: 0.5}"),
            &["`early_terminate.r`", "min_iter, max_iter, s, eta, strict"],
        ),
        (
            format!(
                "{}sweeplab: {{pruner: {{type: median}}}}\n",
                et("{type: hyperband, min_iter: 1}")
            ),
            &["sweeplab.pruner", "not both"],
        ),
        (
            format!("method: random\n{p}sweeplab: {{pruner: {{type: asha}}}}\n"),
            &[
                "sweeplab.pruner.type: asha",
                "none, median, percentile, hyperband, successive_halving",
            ],
        ),
        (
            format!("method: random\n{p}sweeplab: {{pruner: {{n_startup_trials: 1}}}}\n"),
            &["`sweeplab.pruner.type` is required"],
        ),
        (
            format!("method: random\n{p}sweeplab: {{pruner: {{type: median, patience: 3}}}}\n"),
            &[
                "`sweeplab.pruner.patience`",
                "n_startup_trials, n_warmup_steps",
            ],
        ),
        (
            format!("method: random\n{p}sweeplab: {{pruner: {{type: percentile}}}}\n"),
            &["`sweeplab.pruner.percentile` is required"],
        ),
        (
            format!(
                "method: random\n{p}sweeplab: {{pruner: {{type: median, n_startup_trials: -1}}}}\n"
            ),
            &["sweeplab.pruner.n_startup_trials", "must be >= 0"],
        ),
        (
            format!("method: bayes\nmetric: {{name: loss}}\n{p}sweeplab: {{tpe: hyperopt}}\n"),
            &[
                "sweeplab.tpe",
                "`sweeplab` (the default) or `optuna`",
                "hyperopt",
            ],
        ),
        (
            format!("method: random\n{p}sweeplab: {{tpe: optuna}}\n"),
            &["sweeplab.tpe", "method: bayes", "random"],
        ),
        (
            format!("method: random\n{p}sweeplab: {{seed: -1}}\n"),
            &["sweeplab.seed", "must be >= 0"],
        ),
        (
            format!("method: random\n{p}sweeplab: {{dataset: [a]}}\n"),
            &["sweeplab.dataset", "must be a string"],
        ),
        (
            format!("method: random\n{p}sweeplab: {{x: !custom 3}}\n"),
            &["sweeplab.x", "tags"],
        ),
        (
            "method: random\nparameters: [1, 2]\n".into(),
            &["`parameters`", "must be a mapping"],
        ),
        ("- just\n- a list\n".into(), &["must be a mapping"]),
        ("method: [unclosed\n".into(), &["invalid YAML", "line"]),
        (
            format!("method: random\nmethod: grid\n{p}"),
            &["invalid YAML", "duplicate"],
        ),
    ];
    for (yaml, needles) in cases.into_iter().chain(more) {
        let e = err(&yaml);
        for n in needles {
            assert!(
                e.contains(n),
                "error for\n{yaml}\nis `{e}`; it should contain `{n}`"
            );
        }
    }
}

#[test]
fn values_keep_yaml_types() {
    let cfg = load(
        "method: random\nparameters:\n  a: {value: .inf}\n  b: {value: 1e-3}\n  c: {value: 'yes'}\n  d: {value: yes}\n",
    );
    let f = cfg.fixed_values();
    assert_eq!(f["a"], Json::Float(f64::INFINITY));
    assert_eq!(f["b"], Json::Float(0.001));
    assert_eq!(f["c"], Json::Str("yes".into()));
    // YAML 1.2: `yes` is a string, not a boolean.
    assert_eq!(f["d"], Json::Str("yes".into()));
}

/// A grid over an int range as wide as i64 is refused with a clear error, not an overflow
/// panic; so is a float grid with too many steps; a small grid still builds.
#[test]
fn oversized_grids_are_errors_not_overflows() {
    // The grid is checked when the config loads, or at the latest when its sampler is built.
    let grid_error = |yaml: &str| match SweepConfig::from_yaml_str(yaml) {
        Err(e) => e.to_string(),
        Ok(cfg) => cfg
            .build_sampler()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    };
    let head = "method: grid\nmetric: {name: val/loss, goal: minimize}\nparameters:\n";
    let e = grid_error(&format!(
        "{head}  k: {{distribution: int_uniform, min: -9223372036854775808, max: 9223372036854775807}}\n"
    ));
    assert!(e.contains("parameters.k") && e.contains("too many"), "{e}");
    let e = grid_error(&format!(
        "{head}  x: {{distribution: q_uniform, min: 0, max: 1e300, q: 1e-300}}\n"
    ));
    assert!(e.contains("parameters.x") && e.contains("too many"), "{e}");
    let small = format!(
        "{head}  k: {{distribution: int_uniform, min: 9223372036854775805, max: 9223372036854775807}}\n"
    );
    assert!(load(&small).build_sampler().is_ok());
}
