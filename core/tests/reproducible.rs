//! Seeded reproducibility across platforms: the same seed and history give the same
//! suggestions natively and on wasm32 (this file also runs under wasm-bindgen-test in
//! Node.js via `cargo xtask test`). Every transcendental function comes from `libm` and the
//! generator is ChaCha8, so the sequence below is bit-for-bit the same everywhere.
//!
//! The snapshot was written by this test natively (`SWEEPLAB_UPDATE_SNAPSHOTS=1`); both
//! platforms must reproduce it exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use sweeplab_core::samplers::{RandomSampler, Sampler, TpeConfig, TpeSampler};
use sweeplab_core::{Distribution, ParamValue, Study, StudyDirection};

const SNAPSHOT: &str = include_str!("fixtures/tpe/seed_sequence.txt");

fn space() -> Vec<(&'static str, Distribution)> {
    vec![
        ("a_float", Distribution::float(-3.0, 3.0)),
        ("b_log", Distribution::float_log(1e-5, 1e-1)),
        ("c_step", Distribution::float_step(0.0, 1.0, 0.05)),
        ("d_int", Distribution::int(1, 64)),
        ("e_int_log", Distribution::int_log(1, 512)),
        ("f_int_step", Distribution::int_step(0, 30, 3)),
        (
            "g_cat",
            Distribution::categorical(["adam", "sgd", "rmsprop"]),
        ),
    ]
}

fn run(label: &str, sampler: Box<dyn Sampler>, trials: usize, out: &mut String) {
    let mut study = Study::create(label, StudyDirection::Minimize, sampler).expect("study");
    for _ in 0..trials {
        let n = study.ask().expect("ask");
        let mut line = format!("{label} {n}");
        let mut value = 0.0;
        for (name, d) in space() {
            let v = study.suggest(n, name, &d).expect("suggest");
            let x = match &v {
                ParamValue::Float(f) => {
                    line.push_str(&format!(" {name}={:016x}", f.to_bits()));
                    *f
                }
                ParamValue::Int(i) => {
                    line.push_str(&format!(" {name}={i}"));
                    *i as f64
                }
                other => {
                    line.push_str(&format!(" {name}={other}"));
                    if other.as_str() == Some("sgd") {
                        1.0
                    } else {
                        0.0
                    }
                }
            };
            value += (x - 0.7).powi(2) / (1.0 + x.abs());
        }
        study.tell_value(n, value).expect("tell");
        out.push_str(&line);
        out.push('\n');
    }
}

fn sequence() -> String {
    let mut out = String::new();
    run("tpe", Box::new(TpeSampler::seeded(7)), 30, &mut out);
    run(
        "tpe-univariate",
        Box::new(TpeSampler::new(TpeConfig {
            seed: Some(7),
            multivariate: Some(false),
            n_startup_trials: 5,
            ..TpeConfig::default()
        })),
        15,
        &mut out,
    );
    run(
        "random",
        Box::new(RandomSampler::new(Some(7))),
        10,
        &mut out,
    );
    out
}

#[test]
fn seeded_suggestions_match_the_cross_platform_snapshot() {
    let got = sequence();
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("SWEEPLAB_UPDATE_SNAPSHOTS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tpe/seed_sequence.txt");
        std::fs::write(path, &got).expect("write snapshot");
        return;
    }
    assert_eq!(got.lines().count(), 55);
    for (i, (a, b)) in got.lines().zip(SNAPSHOT.lines()).enumerate() {
        assert_eq!(a, b, "line {i} differs from the snapshot");
    }
    assert_eq!(got, SNAPSHOT);
}
