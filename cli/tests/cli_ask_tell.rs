//! The `sweeplab` CLI end to end: Optuna-shaped output, seeded studies that never repeat, and
//! bad input answered with one line on stderr, exit status 2, and an untouched journal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::{ok, run, tmpdir};

use std::path::Path;

use sweeplab_core::json::Json;

const SPACE: &str = r#"{"x": {"name": "FloatDistribution", "attributes": {"low": -5.0, "high": 5.0, "log": false, "step": null}}, "n": {"name": "IntDistribution", "attributes": {"low": 1, "high": 64, "log": true, "step": 1}}, "opt": {"name": "CategoricalDistribution", "attributes": {"choices": ["adam", "sgd"]}}}"#;

fn ask(journal: &Path, kwargs: &str) -> Json {
    let out = ok(&[
        "ask",
        "--storage",
        journal.to_str().unwrap(),
        "--study-name",
        "s",
        "--sampler-kwargs",
        kwargs,
        "--search-space",
        SPACE,
    ]);
    Json::parse(out.trim()).unwrap()
}

/// `sweeplab tell` of `value` for trial `number`.
fn tell(journal: &Path, number: &str, value: f64) {
    let value = value.to_string();
    ok(&tell_args(
        journal.to_str().unwrap(),
        number,
        "--values",
        &value,
    ));
}

fn create(journal: &Path) {
    ok(&[
        "create-study",
        "--storage",
        journal.to_str().unwrap(),
        "--study-name",
        "s",
        "--direction",
        "minimize",
    ]);
}

#[test]
fn the_gamma_kwarg_reaches_the_tpe() {
    // Seeded studies with Optuna's defaults and with sweeplab's tuning share the ten random
    // startup trials and then part ways.
    let run_study = |name: &str, kwargs: &str| -> Vec<String> {
        let dir = tmpdir(name);
        let j = dir.join("journal.log");
        create(&j);
        (0..14)
            .map(|i| {
                let out = ask(&j, kwargs);
                let x = out
                    .get("params")
                    .unwrap()
                    .get("x")
                    .unwrap()
                    .as_f64()
                    .unwrap();
                tell(&j, &i.to_string(), x * x);
                out.get("params").unwrap().to_compact()
            })
            .collect()
    };
    let optuna = run_study("gamma-optuna", r#"{"seed": 3}"#);
    let tuned = run_study(
        "gamma-tuned",
        r#"{"seed": 3, "gamma": 0.2, "n_ei_candidates": 48}"#,
    );
    assert_eq!(optuna[..10], tuned[..10]);
    assert_ne!(optuna[10..], tuned[10..]);
}

#[test]
fn twenty_seeded_asks_differ_and_a_rerun_repeats_them() {
    let run_study = |dir: &Path| -> Vec<String> {
        let j = dir.join("journal.log");
        create(&j);
        (0..20)
            .map(|i| {
                let out = ask(&j, r#"{"seed": 0}"#);
                assert_eq!(out.get("number").and_then(Json::as_i64), Some(i));
                out.get("params").unwrap().to_compact()
            })
            .collect()
    };
    let a = run_study(&tmpdir("seed-a"));
    let mut uniq = a.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 20, "every startup trial is different: {a:?}");
    let b = run_study(&tmpdir("seed-b"));
    assert_eq!(a, b, "the same seed gives the same study");
}

#[test]
fn ask_tell_loop_reaches_tpe_and_improves() {
    let dir = tmpdir("loop");
    let j = dir.join("journal.log");
    create(&j);
    let mut best = f64::INFINITY;
    let mut first10 = f64::INFINITY;
    for i in 0..40 {
        let out = ask(&j, r#"{"seed": 3}"#);
        let p = out.get("params").unwrap();
        let x = p.get("x").and_then(Json::as_f64).unwrap();
        let n = p.get("n").and_then(Json::as_i64).unwrap();
        assert!((1..=64).contains(&n));
        let opt = p.get("opt").and_then(Json::as_str).unwrap();
        let v =
            (x - 1.0).powi(2) + (n as f64 - 8.0).abs() / 8.0 + if opt == "sgd" { 1.0 } else { 0.0 };
        let num = out
            .get("number")
            .and_then(Json::as_i64)
            .unwrap()
            .to_string();
        tell(&j, &num, v);
        best = best.min(v);
        if i == 9 {
            first10 = best;
        }
    }
    assert!(
        best < first10,
        "TPE improves on the random start ({best} vs {first10})"
    );
    let listing = ok(&["studies", "--storage", j.to_str().unwrap()]);
    assert!(
        listing.contains("trials=40") && listing.contains("complete=40"),
        "{listing}"
    );
}

fn assert_rejected(args: &[&str], journal: &Path, expect: &str) {
    let before = std::fs::read(journal).unwrap_or_default();
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: `{stderr}` should mention `{expect}`"
    );
    assert_eq!(
        std::fs::read(journal).unwrap_or_default(),
        before,
        "{args:?} changed the journal"
    );
}

/// `sweeplab tell` on study `s` in `storage` of trial `trial`, with `flag value`.
fn tell_args<'a>(storage: &'a str, trial: &'a str, flag: &'a str, value: &'a str) -> Vec<&'a str> {
    vec![
        "tell",
        "--storage",
        storage,
        "--study-name",
        "s",
        "--trial-number",
        trial,
        flag,
        value,
    ]
}

#[test]
fn bad_input_exits_2_with_one_line_and_leaves_the_journal() {
    let dir = tmpdir("bad");
    let j = dir.join("journal.log");
    let js = j.to_str().unwrap();
    create(&j);
    let first = ask(&j, "{}");
    let num = first
        .get("number")
        .and_then(Json::as_i64)
        .unwrap()
        .to_string();
    tell(&j, &num, 1.5);

    let base = ["ask", "--storage", js, "--study-name", "s"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let bad_space =
        r#"{"x": {"name": "FloatDistribution", "attributes": {"low": 2.0, "high": 1.0}}}"#;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            with(&["--sampler-kwargs", "{\"seed\": "]),
            "--sampler-kwargs is not valid JSON",
        ),
        (
            with(&["--sampler", "CmaEsSampler"]),
            "unknown sampler `CmaEsSampler`",
        ),
        (
            with(&["--sampler-kwargs", "{\"sead\": 1}"]),
            "unknown argument `sead`",
        ),
        (
            with(&["--sampler-kwargs", "{\"gamma\": 2}"]),
            "`gamma` must be a number in (0, 1]",
        ),
        (with(&["--search-space", "{\"x\": 3}"]), "parameter `x`"),
        (with(&["--search-space", bad_space]), "low must be <= high"),
        (
            vec!["ask", "--storage", js, "--study-name", "nope"],
            "no study named `nope`",
        ),
        (tell_args(js, &num, "--values", "2"), "already finished"),
        (tell_args(js, "99", "--values", "2"), "no trial number 99"),
        (tell_args(js, "0", "--state", "maybe"), "--state must be"),
        (
            vec!["create-study", "--storage", js, "--study-name", "s"],
            "already exists",
        ),
        (
            vec![
                "create-study",
                "--storage",
                js,
                "--study-name",
                "t",
                "--direction",
                "sideways",
            ],
            "unknown direction",
        ),
    ];
    for (args, expect) in &cases {
        assert_rejected(args, &j, expect);
    }

    // A torn last line and an unknown op code are damage: reported with the line, no write.
    let good = std::fs::read_to_string(&j).unwrap();
    let n_lines = good.lines().count();
    std::fs::write(&j, format!("{good}{{\"op_code\":4,\"worker_id\":")).unwrap();
    assert_rejected(&with(&[]), &j, &format!("line {}", n_lines + 1));
    std::fs::write(
        &j,
        format!("{good}{{\"op_code\":77,\"worker_id\":\"w\"}}\n"),
    )
    .unwrap();
    assert_rejected(&with(&[]), &j, "unknown journal op_code 77");
    std::fs::write(&j, format!("{good}not json\n")).unwrap();
    assert_rejected(
        &with(&[]),
        &j,
        &format!("line {}: invalid JSON", n_lines + 1),
    );
}

#[test]
fn enqueued_trial_from_python_form_is_taken_first() {
    let dir = tmpdir("enqueue");
    let j = dir.join("journal.log");
    create(&j);
    // A WAITING trial with fixed params, as optuna's enqueue_trial writes it.
    let line = r#"{"op_code":4,"worker_id":"py","study_id":0,"datetime_start":null,"state":4,"value":null,"values":null,"distributions":{},"params":{},"user_attrs":{},"system_attrs":{"fixed_params":{"x":0.25,"opt":"sgd"}},"intermediate_values":{}}"#;
    let mut text = std::fs::read_to_string(&j).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(&j, text).unwrap();
    let out = ask(&j, "{}");
    assert_eq!(out.get("number").and_then(Json::as_i64), Some(0));
    let p = out.get("params").unwrap();
    assert_eq!(p.get("x").and_then(Json::as_f64), Some(0.25));
    assert_eq!(p.get("opt").and_then(Json::as_str), Some("sgd"));
    let out = ask(&j, "{}");
    assert_eq!(out.get("number").and_then(Json::as_i64), Some(1));
}
