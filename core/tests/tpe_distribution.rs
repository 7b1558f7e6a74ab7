//! Statistical fidelity: after the same 30-trial history, the suggestions of sweeplab's TPE
//! follow the same distribution as Optuna 5.0.0's (1,500 seeds each, multivariate and
//! univariate). Continuous and integer parameters pass a two-sample Kolmogorov–Smirnov test
//! and the categorical one a χ² test, both at α = 0.001. Optuna's sample was drawn by
//! optuna 5.0.0 itself (`tests/fixtures/tpe/make_suggestion_sample.py`); ours is seeded, so
//! the test is deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeMap;
use std::path::PathBuf;

use sweeplab_core::json::Json;
use sweeplab_core::samplers::{TpeConfig, TpeSampler};
use sweeplab_core::{
    Distribution, FrozenTrial, ParamValue, SearchSpace, Study, StudyDirection, TrialState,
};

fn ks_statistic(a: &mut [f64], b: &mut [f64]) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

#[test]
fn suggestions_follow_optunas_distribution() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tpe/suggestion_sample.json");
    let doc = Json::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut space = SearchSpace::new();
    space.insert("x1".into(), Distribution::float(-5.0, 10.0));
    space.insert("x2".into(), Distribution::float(0.0, 15.0));
    space.insert("k".into(), Distribution::int(-5, 10));
    space.insert("c".into(), Distribution::categorical(["a", "b", "c"]));
    space.insert("lr".into(), Distribution::float_log(1e-4, 1.0));
    let history = doc.get("history").and_then(Json::as_array).unwrap();
    for mode in ["multivariate", "univariate"] {
        let theirs = doc.get(mode).and_then(Json::as_array).unwrap();
        let n = theirs.len();
        let mut ours: Vec<BTreeMap<String, ParamValue>> = Vec::with_capacity(n);
        for seed in 0..n as u64 {
            let sampler = TpeSampler::new(TpeConfig {
                seed: Some(1_000_000 + seed),
                multivariate: Some(mode == "multivariate"),
                ..TpeConfig::default()
            });
            let mut study =
                Study::create("ks", StudyDirection::Minimize, Box::new(sampler)).unwrap();
            for h in history {
                let mut t = FrozenTrial::new(0, 0, TrialState::Complete);
                for (k, d) in &space {
                    let v = ParamValue::from_json(h.get(k).unwrap()).unwrap();
                    t.set_param(k, d.clone(), &v).unwrap();
                }
                t.values = Some(vec![h.get("v").and_then(Json::as_f64).unwrap()]);
                study.add_trial(&t).unwrap();
            }
            ours.push(study.ask_with(&space).unwrap().1);
        }
        // KS critical value at α = 0.001 for two samples of size n.
        let crit = 1.949 * (2.0 / n as f64).sqrt();
        for k in ["x1", "x2", "k", "lr"] {
            let mut a: Vec<f64> = ours.iter().map(|p| p[k].as_f64().unwrap()).collect();
            let mut b: Vec<f64> = theirs
                .iter()
                .map(|p| p.get(k).and_then(Json::as_f64).unwrap())
                .collect();
            let d = ks_statistic(&mut a, &mut b);
            assert!(d < crit, "{mode} {k}: KS D = {d:.4} >= {crit:.4}");
        }
        // χ² on the categorical counts (classes seen by either side).
        let mut chi2 = 0.0;
        let mut dof = 0;
        for c in ["a", "b", "c"] {
            let a = ours.iter().filter(|p| p["c"].as_str() == Some(c)).count() as f64;
            let b = theirs
                .iter()
                .filter(|p| p.get("c").and_then(Json::as_str) == Some(c))
                .count() as f64;
            if a + b > 0.0 {
                chi2 += (a - b) * (a - b) / (a + b);
                dof += 1;
            }
        }
        // χ²(2) at α = 0.001 is 13.82; χ²(1) 10.83.
        let limit = match dof {
            0 | 1 => f64::INFINITY,
            2 => 10.83,
            _ => 13.82,
        };
        assert!(
            chi2 < limit,
            "{mode} c: χ² = {chi2:.2} (dof {})",
            dof.max(1) - 1
        );
    }
}
