//! `sweeplab explain`: a sweep's TPE trials carry the sampler's record, printed as text and
//! as JSON; a trial without one (start-up, or a study written by `ask`) says why.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::{ok, run, tmpdir};

use sweeplab_core::json::Json;
use sweeplab_core::samplers::tpe::explain::Explain;
use sweeplab_core::storage::file::JournalFile;

const CONFIG: &str = "\
name: explain-test
method: bayes
metric: {name: val/loss, goal: minimize}
run_cap: 12
parameters:
  lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
  width: {values: [8, 16]}
  epochs: {value: 3}
sweeplab:
  dataset: spiral
  samples: 200
  model: mlp
  seed: 3
  batch_size: 32
";

#[test]
fn explain_prints_the_record_of_a_sweeps_tpe_trial() {
    let dir = tmpdir("explain");
    let config = dir.join("sweep.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("out");
    ok(&[
        "sweep",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
        "--quiet",
    ]);
    let journal = out.join("journal.log");
    let storage = journal.to_str().unwrap();
    let args = |n: &str| {
        vec![
            "explain",
            "--storage",
            storage,
            "--study-name",
            "explain-test",
            "--trial-number",
            n,
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // A start-up trial: random.
    let text = ok(&strs(&args("0")));
    assert!(
        text.contains("random: n < n_startup_trials (0 finished < 10)"),
        "{text}"
    );

    // The last trial: TPE, with the split, the choice and both densities.
    let text = ok(&strs(&args("11")));
    assert!(
        text.contains("TPE, jointly (multivariate TPE), from 11 finished trials"),
        "{text}"
    );
    assert!(text.contains("good group l(x): 3 trials"), "{text}");
    assert!(
        text.contains("^ chosen") && text.contains("<- chosen"),
        "{text}"
    );

    // JSON: the record as stored, whose chosen candidate is the trial's parameters.
    let mut json_args = args("11");
    json_args.push("--json".into());
    let printed = Json::parse(ok(&strs(&json_args)).trim()).unwrap();
    let records = printed.get("records").unwrap().as_array().unwrap();
    assert_eq!(records.len(), 1);
    let Explain::Tpe(e) = Explain::from_json(&records[0]).unwrap() else {
        panic!("not a TPE record")
    };
    let st = JournalFile::new(&journal).load().unwrap();
    let trial = &st.study_by_name("explain-test").unwrap().trials[11];
    for (d, name) in e.params.iter().enumerate() {
        assert_eq!(
            Some(e.chosen_values()[d]),
            trial.param_internal(name),
            "{name}"
        );
    }
    assert_eq!(e.l.as_ref().unwrap().log_pdf(&e.candidates), e.log_l);

    // No such trial, and no record: one line each, status 2.
    for (n, why) in [("99", "has no trial 99"), ("x", "invalid value")] {
        let o = run(&strs(&args(n)));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(why) && err.trim().lines().count() == 1,
            "{err}"
        );
    }
    let asked = dir.join("asked.log");
    let asked = asked.to_str().unwrap();
    ok(&["create-study", "--storage", asked, "--study-name", "a"]);
    ok(&[
        "ask",
        "--storage",
        asked,
        "--study-name",
        "a",
        "--sampler",
        "TPESampler",
        "--search-space",
        r#"{"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}}}"#,
    ]);
    let o = run(&[
        "explain",
        "--storage",
        asked,
        "--study-name",
        "a",
        "--trial-number",
        "0",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("has no explain record"), "{err}");
}
