//! sweeplab replays journals written by Python Optuna exactly as Optuna 5.0 does, and its own
//! compact re-export replays to the same studies. The expected views were written by
//! optuna 5.0.0 itself (`tests/fixtures/optuna/make_expected.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::PathBuf;

use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalStorage, StudyRecord};
use sweeplab_core::{ParamValue, TrialState};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optuna")
        .join(name)
}

fn num(v: f64) -> Json {
    if v.is_nan() {
        Json::Str("NaN".into())
    } else if v.is_infinite() {
        Json::Str(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        Json::Float(v)
    }
}

fn same_number(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The same document, object keys in any order, numbers compared as numbers.
fn same(a: &Json, b: &Json) -> bool {
    sweeplab_core::json::equal_unordered(a, b, &same_number)
}

fn check(study: &StudyRecord, want: &Json) {
    assert_eq!(
        want.get("study_name").and_then(Json::as_str),
        Some(study.name.as_str())
    );
    let dirs: Vec<String> = study
        .directions
        .iter()
        .map(|d| d.name().to_ascii_uppercase())
        .collect();
    let want_dirs: Vec<String> = want
        .get("directions")
        .and_then(Json::as_array)
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert_eq!(dirs, want_dirs);
    let study_attrs = Json::Object(study.user_attrs.clone().into_iter().collect());
    assert!(same(&study_attrs, want.get("user_attrs").unwrap()));
    let trials = want.get("trials").and_then(Json::as_array).unwrap();
    assert_eq!(study.trials.len(), trials.len(), "{}", study.name);
    for (t, w) in study.trials.iter().zip(trials) {
        let ctx = format!("{} trial {}", study.name, t.number);
        assert_eq!(
            Some(t.number as i64),
            w.get("number").and_then(Json::as_i64)
        );
        assert_eq!(
            TrialState::parse(w.get("state").and_then(Json::as_str).unwrap()),
            Some(t.state),
            "{ctx}"
        );
        let values = match &t.values {
            None => Json::Null,
            Some(v) => Json::Array(v.iter().map(|x| num(*x)).collect()),
        };
        assert!(same(&values, w.get("values").unwrap()), "{ctx}: values");
        let params = w.get("params").and_then(Json::as_object).unwrap();
        let types = w.get("param_types").unwrap();
        assert_eq!(t.params().len(), params.len(), "{ctx}: params");
        for (k, v) in params {
            let ours = t.param(k).unwrap();
            let ty = types.get(k).and_then(Json::as_str).unwrap();
            match (&ours, ty) {
                (ParamValue::Float(_), "float")
                | (ParamValue::Int(_), "int")
                | (ParamValue::Str(_), "str")
                | (ParamValue::Bool(_), "bool")
                | (ParamValue::Null, "NoneType") => {}
                _ => panic!("{ctx}: param {k} is {ours:?}, Optuna has a {ty}"),
            }
            assert!(same(&ours.to_json(), v), "{ctx}: param {k}");
            let dist = w.get("distributions").unwrap().get(k).unwrap();
            assert_eq!(
                t.distribution(k).unwrap().to_optuna_json(),
                dist.as_str().unwrap(),
                "{ctx}: distribution {k}"
            );
        }
        let inter = Json::Object(
            t.intermediate_values
                .iter()
                .map(|(k, v)| (k.to_string(), num(*v)))
                .collect(),
        );
        assert!(
            same(&inter, w.get("intermediate_values").unwrap()),
            "{ctx}: intermediate"
        );
        let ua = Json::Object(t.user_attrs.clone().into_iter().collect());
        assert!(same(&ua, w.get("user_attrs").unwrap()), "{ctx}: user_attrs");
        let sa = Json::Object(t.system_attrs.clone().into_iter().collect());
        assert!(
            same(&sa, w.get("system_attrs").unwrap()),
            "{ctx}: system_attrs"
        );
        assert_eq!(
            Some(t.datetime_start.is_some()),
            w.get("has_start").and_then(Json::as_bool),
            "{ctx}: start"
        );
        assert_eq!(
            Some(t.datetime_complete.is_some()),
            w.get("has_complete").and_then(Json::as_bool),
            "{ctx}: complete"
        );
    }
}

fn check_file(name: &str) {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let expected_text =
        std::fs::read_to_string(fixture(&name.replace(".log", ".expected.json"))).unwrap();
    let expected = Json::parse(&expected_text).unwrap();
    let expected = expected.as_array().unwrap();

    let storage = JournalStorage::from_text(&text).unwrap();
    let studies: Vec<&StudyRecord> = storage.studies().collect();
    assert_eq!(studies.len(), expected.len());
    for (s, w) in studies.iter().zip(expected) {
        check(s, w);
    }
    // Our compact form replays to the same thing.
    let compact = storage.to_compact_journal("sweeplab-test");
    let again = JournalStorage::from_text(&compact).unwrap();
    let studies: Vec<&StudyRecord> = again.studies().collect();
    for (s, w) in studies.iter().zip(expected) {
        check(s, w);
    }
}

#[test]
fn real_optuna_journal_replays_like_optuna() {
    check_file("journal.log");
}

#[test]
fn minimal_compact_journal_replays_like_optuna() {
    check_file("minimal_compact.log");
}

#[test]
fn minimal_replay_journal_replays_like_optuna() {
    check_file("minimal_replay.log");
}

#[test]
fn damaged_journals_name_the_line() {
    let text = std::fs::read_to_string(fixture("journal.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The error of the journal with line `i` (from 0) replaced by `line`.
    let error_with = |i: usize, line: &str| {
        let mut bad = lines.clone();
        bad[i] = line;
        JournalStorage::from_text(&(bad.join("\n") + "\n"))
            .unwrap_err()
            .to_string()
    };
    // Corrupt line 5.
    let err = error_with(4, "{\"op_code\":5,\"worker_id\":");
    assert!(err.starts_with("line 5:"), "{err}");
    // An op code from the future.
    let err = error_with(2, "{\"op_code\":42,\"worker_id\":\"w\"}");
    assert!(
        err.contains("line 3") && err.contains("op_code 42"),
        "{err}"
    );
    // A torn last line.
    let torn = &text[..text.len() - 10];
    let err = JournalStorage::from_text(torn).unwrap_err().to_string();
    assert!(
        err.contains(&format!("line {}", lines.len())) && err.contains("torn"),
        "{err}"
    );
    // A missing required key.
    let err = error_with(2, "{\"op_code\":4,\"worker_id\":\"w\",\"study_id\":0}");
    assert!(err.contains("datetime_start"), "{err}");
}
