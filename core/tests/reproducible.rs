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

use sweeplab_core::samplers::{RandomSampler, Sampler, TpeConfig, TpeDefaults, TpeSampler};
use sweeplab_core::{
    Distribution, FrozenTrial, ParamValue, SearchSpace, Study, StudyDirection, TellResult,
    TrialState,
};

const SNAPSHOT: &str = include_str!("fixtures/tpe/seed_sequence.txt");
const LONG_DIGEST: &str = include_str!("fixtures/tpe/long_digest.txt");

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

/// The 64-bit FNV-1a hash of `text`.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One line per suggestion of `study`'s trial `n` over `space` (floats by their bits); its
/// objective value.
fn suggest_all(study: &mut Study, n: u64, line: &mut String) -> f64 {
    let mut value = 0.0;
    for (name, d) in space() {
        let x = match study.suggest(n, name, &d).expect("suggest") {
            ParamValue::Float(f) => {
                line.push_str(&format!(" {:016x}", f.to_bits()));
                f
            }
            ParamValue::Int(i) => {
                line.push_str(&format!(" {i}"));
                i as f64
            }
            other => {
                line.push_str(&format!(" {other}"));
                f64::from(u8::from(other.as_str() == Some("sgd")))
            }
        };
        value += (x - 0.7).powi(2) / (1.0 + x.abs());
    }
    value
}

/// Long studies in every configuration the sampler's fast paths depend on: Optuna's defaults
/// and sweeplab's tuning, ties and pruned and failed trials, the constant liar with trials
/// running, univariate, two objectives, and 3,000 finished trials (the memoised sorted
/// observations). Every suggestion, as text.
fn long_sequence() -> String {
    let mut out = String::new();
    let sequential = |label: &str, config: TpeConfig, trials: usize, out: &mut String| {
        let mut study = Study::create(
            label,
            StudyDirection::Minimize,
            Box::new(TpeSampler::new(config)),
        )
        .expect("study");
        for _ in 0..trials {
            let n = study.ask().expect("ask");
            let mut line = format!("{label} {n}");
            let value = suggest_all(&mut study, n, &mut line);
            let result = match n % 11 {
                // Ties, a pruned trial with a reported value, a failed one.
                3 => TellResult::Values(vec![1.0]),
                5 => {
                    study.report(n, 1, value * 2.0).expect("report");
                    TellResult::Pruned
                }
                7 => TellResult::Fail,
                _ => TellResult::Values(vec![value]),
            };
            study.tell(n, result).expect("tell");
            out.push_str(&line);
            out.push('\n');
        }
    };
    sequential("optuna", TpeDefaults::Optuna.config(Some(3)), 250, &mut out);
    sequential(
        "sweeplab",
        TpeDefaults::Sweeplab.config(Some(4)),
        200,
        &mut out,
    );
    sequential(
        "univariate",
        TpeConfig {
            seed: Some(5),
            multivariate: Some(false),
            ..TpeConfig::default()
        },
        120,
        &mut out,
    );

    // The constant liar: three trials run at once.
    let mut study = Study::create(
        "liar",
        StudyDirection::Maximize,
        Box::new(TpeSampler::new(TpeConfig {
            seed: Some(6),
            constant_liar: true,
            ..TpeConfig::default()
        })),
    )
    .expect("study");
    let mut running = std::collections::VecDeque::new();
    for _ in 0..150 {
        let n = study.ask().expect("ask");
        let mut line = format!("liar {n}");
        let value = suggest_all(&mut study, n, &mut line);
        running.push_back((n, value));
        if running.len() == 3 {
            let (m, v) = running.pop_front().expect("a running trial");
            study.tell_value(m, v).expect("tell");
        }
        out.push_str(&line);
        out.push('\n');
    }

    // Two objectives.
    let mut study = Study::create_multi(
        "two",
        vec![StudyDirection::Minimize, StudyDirection::Maximize],
        Box::new(TpeSampler::seeded(8)),
    )
    .expect("study");
    for _ in 0..100 {
        let n = study.ask().expect("ask");
        let mut line = format!("two {n}");
        let value = suggest_all(&mut study, n, &mut line);
        study
            .tell(n, TellResult::Values(vec![value, (value * 3.0).sin()]))
            .expect("tell");
        out.push_str(&line);
        out.push('\n');
    }

    // 3,000 finished trials, then asks told as failed and as complete.
    let sp: SearchSpace = space()
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    let mut study = Study::create(
        "large",
        StudyDirection::Minimize,
        Box::new(TpeSampler::seeded(9)),
    )
    .expect("study");
    let mut rng = sweeplab_core::samplers::trial_rng(9, 0, 99);
    for i in 0..3000 {
        let mut t = FrozenTrial::new(0, 0, TrialState::Complete);
        let mut value = 0.0;
        for (name, d) in &sp {
            let v = RandomSampler::draw(&mut rng, d);
            t.set_param_internal(name, d.clone(), v);
            value += (v - 0.7).powi(2);
        }
        t.values = Some(vec![if i % 13 == 0 { 1.0 } else { value }]);
        study.add_trial(&t).expect("add");
    }
    for k in 0..40 {
        let n = study.ask().expect("ask");
        let mut line = format!("large {n}");
        let value = suggest_all(&mut study, n, &mut line);
        let result = if k % 2 == 0 {
            TellResult::Fail
        } else {
            TellResult::Values(vec![value])
        };
        study.tell(n, result).expect("tell");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The digest of [`long_sequence`] stays what it was when the sampler's fast paths were
/// written: an optimisation of the sampler that changes any suggestion's bits fails here.
#[test]
fn long_studies_suggest_the_same_bits_as_before() {
    let got = long_sequence();
    let digest = format!(
        "{} lines, fnv1a {:016x}\n",
        got.lines().count(),
        fnv1a(&got)
    );
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("SWEEPLAB_UPDATE_SNAPSHOTS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tpe/long_digest.txt");
        std::fs::write(path, &digest).expect("write snapshot");
        return;
    }
    assert_eq!(digest, LONG_DIGEST);
}
