//! Inputs found by fuzzing the CLI: journals that Python Optuna 5.0 writes and reads (a byte
//! order mark, lone surrogates, deep and wide attributes, int parameters over the whole
//! `i64` range) load and stay usable, and pathological sweep YAML is refused quickly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sweeplab_core::config::{ConfigError, SweepConfig};
use sweeplab_core::export::{ExportFormat, ExportOptions, export_study};
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalStorage, parse_journal};
use sweeplab_core::{
    Distribution, ParamValue, RandomSampler, Study, TpeConfig, TpeSampler, TrialState,
};

const WORKER: &str = "0b1e3f2a-9d7c-4c1e-8f6a-2f8d1c0e7a55-140000000000000";

/// One journal line as Optuna's `JournalFileBackend` writes it.
fn line(op: &str) -> String {
    format!("{op}\n")
}

/// A study `s` with one trial (id 0) whose user attribute `key` holds `value_json`.
fn journal_with_attr(key: &str, value_json: &str) -> String {
    let mut text = String::new();
    text += &line(&format!(
        r#"{{"op_code":0,"worker_id":"{WORKER}","study_name":"s","directions":[1]}}"#
    ));
    text += &line(&format!(
        r#"{{"op_code":4,"worker_id":"{WORKER}","study_id":0,"datetime_start":"2024-01-01T00:00:00.000000"}}"#
    ));
    text += &line(&format!(
        r#"{{"op_code":8,"worker_id":"{WORKER}","trial_id":0,"user_attr":{{"{key}":{value_json}}}}}"#
    ));
    text += &line(&format!(
        r#"{{"op_code":6,"worker_id":"{WORKER}","trial_id":0,"state":1,"values":[1.0],"datetime_complete":"2024-01-01T00:00:01.000000"}}"#
    ));
    text
}

fn attr(storage: &JournalStorage, key: &str) -> Json {
    let study = storage.study_by_name("s").unwrap();
    study.trials[0].user_attrs.get(key).cloned().unwrap()
}

/// Our compact re-export reads back to the same attribute.
fn round_trips(storage: &JournalStorage, key: &str) {
    let again = JournalStorage::from_text(&storage.to_compact_journal("sweeplab-test")).unwrap();
    assert_eq!(
        attr(&again, key).to_compact(),
        attr(storage, key).to_compact()
    );
}

#[test]
fn a_journal_starting_with_a_byte_order_mark_loads() {
    // Optuna reads each line as bytes, and json.loads(bytes) decodes a leading BOM as
    // utf-8-sig: such a file (saved by an editor, say) loads in Python.
    let text = journal_with_attr("a", "1");
    let with_bom = format!("\u{feff}{text}");
    let storage = JournalStorage::from_text(&with_bom).unwrap();
    assert_eq!(attr(&storage, "a"), Json::Int(1));
    // On any line, as json.loads sees each line on its own.
    let lines: Vec<&str> = text.lines().collect();
    let every = lines
        .iter()
        .map(|l| format!("\u{feff}{l}\n"))
        .collect::<String>();
    assert_eq!(parse_journal(&every).unwrap().len(), 4);
    // Only one BOM, only at the start of a line.
    let err = JournalStorage::from_text(&format!("\u{feff}\u{feff}{text}"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("line 1: invalid JSON"), "{err}");
}

#[test]
fn a_lone_surrogate_in_an_attribute_loads_as_the_replacement_character() {
    // Python: trial.set_user_attr("a", "x\ud800y") writes "x\ud800y" (ensure_ascii).
    let storage = JournalStorage::from_text(&journal_with_attr("a", r#""x\ud800y""#)).unwrap();
    assert_eq!(attr(&storage, "a"), Json::from("x\u{fffd}y"));
    round_trips(&storage, "a");
    assert!(storage.to_compact_journal("w").contains(r#""x\ufffdy""#));
}

#[test]
fn an_attribute_nested_130_deep_loads_with_or_without_nan() {
    for inner in ["1", "NaN"] {
        let deep = format!("{}{inner}{}", "[".repeat(130), "]".repeat(130));
        let storage = JournalStorage::from_text(&journal_with_attr("deep", &deep)).unwrap();
        assert_eq!(attr(&storage, "deep").to_compact(), deep);
        round_trips(&storage, "deep");
    }
    // Far deeper than Python's recursion limit: an error naming the line, not an abort.
    let deep = format!("{}NaN{}", "[".repeat(60_000), "]".repeat(60_000));
    let err = JournalStorage::from_text(&journal_with_attr("deep", &deep))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("line 3: invalid JSON: Nesting too deep"),
        "{err}"
    );
}

#[test]
fn an_attribute_with_200000_keys_loads_quickly() {
    // 3.2 MB; Python loads it in 0.37 s, and the duplicate-key check once made it minutes.
    let mut wide = String::from("{");
    for i in 0..200_000 {
        if i > 0 {
            wide.push(',');
        }
        let _ = write!(wide, "\"k{i:06}\":{i}");
    }
    wide.push('}');
    let text = journal_with_attr("wide", &wide);
    let started = Instant::now();
    let storage = JournalStorage::from_text(&text).unwrap();
    let took = started.elapsed();
    let value = attr(&storage, "wide");
    let pairs = value.as_object().unwrap();
    assert_eq!(pairs.len(), 200_000);
    assert_eq!(pairs[199_999], ("k199999".to_string(), Json::Int(199_999)));
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A journal as Python writes it for `suggest_int("k", -2**63, 2**63 - 1)` and
/// `suggest_int("j", -2**63, 0)`. Optuna's samplers clip in float64, so `k` may be stored as
/// 2^63 = 9.223372036854776e+18, one past `high`.
fn python_int64_journal() -> String {
    let dist = |low: &str, high: &str| {
        format!(
            r#""{{\"name\": \"IntDistribution\", \"attributes\": {{\"log\": false, \"step\": 1, \"low\": {low}, \"high\": {high}}}}}""#
        )
    };
    let k = dist("-9223372036854775808", "9223372036854775807");
    let j = dist("-9223372036854775808", "0");
    let mut text = line(&format!(
        r#"{{"op_code":0,"worker_id":"{WORKER}","study_name":"s","directions":[1]}}"#
    ));
    for (trial, (kv, jv)) in [
        ("9.223372036854776e+18", "-9.223372036854776e+18"),
        ("-1.2345678901234568e+18", "-0.0"),
    ]
    .into_iter()
    .enumerate()
    {
        text += &line(&format!(
            r#"{{"op_code":4,"worker_id":"{WORKER}","study_id":0,"datetime_start":"2024-01-01T00:00:00.000000"}}"#
        ));
        text += &line(&format!(
            r#"{{"op_code":5,"worker_id":"{WORKER}","trial_id":{trial},"param_name":"k","param_value_internal":{kv},"distribution":{k}}}"#
        ));
        text += &line(&format!(
            r#"{{"op_code":5,"worker_id":"{WORKER}","trial_id":{trial},"param_name":"j","param_value_internal":{jv},"distribution":{j}}}"#
        ));
        text += &line(&format!(
            r#"{{"op_code":6,"worker_id":"{WORKER}","trial_id":{trial},"state":1,"values":[{}.5],"datetime_complete":"2024-01-01T00:00:01.000000"}}"#,
            trial
        ));
    }
    text
}

fn int_param(p: Option<ParamValue>) -> i64 {
    match p {
        Some(ParamValue::Int(v)) => v,
        other => panic!("not an int: {other:?}"),
    }
}

#[test]
fn int_parameters_over_the_whole_i64_range_load_sample_and_replay() {
    let storage = JournalStorage::from_text(&python_int64_journal()).unwrap();
    let record = storage.study_by_name("s").unwrap();
    assert_eq!(record.trials.len(), 2);
    assert_eq!(int_param(record.trials[0].param("k")), i64::MAX);
    assert_eq!(int_param(record.trials[0].param("j")), i64::MIN);
    assert_eq!(int_param(record.trials[1].param("k")), -1234567890123456768);
    assert_eq!(int_param(record.trials[1].param("j")), 0);

    let samplers: Vec<Box<dyn sweeplab_core::Sampler>> = vec![
        Box::new(RandomSampler::new(Some(3))),
        Box::new(TpeSampler::new(TpeConfig {
            n_startup_trials: 3,
            seed: Some(4),
            ..TpeConfig::default()
        })),
    ];
    for sampler in samplers {
        let mut study = Study::load(storage.clone(), "s", sampler).unwrap();
        for i in 0..12 {
            let n = study.ask().unwrap();
            let k = study
                .suggest_int(n, "k", i64::MIN, i64::MAX, false, 1)
                .unwrap();
            let j = study.suggest_int(n, "j", i64::MIN, 0, false, 1).unwrap();
            let s = study
                .suggest_int(n, "s", i64::MIN, i64::MAX, false, 3)
                .unwrap();
            let big = study
                .suggest_int(n, "big", 9007199254740993, 9007199254740995, false, 1)
                .unwrap();
            assert!(j <= 0, "{j}");
            assert_eq!((i128::from(s) - i128::from(i64::MIN)) % 3, 0, "{s}");
            assert!(
                (9007199254740993..=9007199254740995).contains(&big),
                "{big}"
            );
            // What the trial replays to is what the objective saw.
            let t = study.trial(n).unwrap();
            assert_eq!(int_param(t.param("k")), k);
            assert_eq!(int_param(t.param("big")), big);
            study.tell_value(n, i as f64).unwrap();
        }
        // The journal replays (in Rust) to the same values.
        let again = JournalStorage::from_text(&study.storage().to_compact_journal("sweeplab-test"))
            .unwrap();
        let replayed = again.study_by_name("s").unwrap();
        for (t, u) in study.trials().iter().zip(&replayed.trials) {
            assert_eq!(t.state, TrialState::Complete);
            assert_eq!(t.params(), u.params());
        }
    }
    // The distributions themselves validate.
    Distribution::int(i64::MIN, i64::MAX).validate("k").unwrap();
}

fn yaml_err(text: &str) -> (String, Duration) {
    let started = Instant::now();
    let result = SweepConfig::from_yaml_str(text);
    let took = started.elapsed();
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e @ ConfigError::Yaml(_)) => (e.to_string(), took),
        Err(e) => panic!("expected a YAML error, got {e}"),
    }
}

#[test]
fn deeply_nested_yaml_is_refused_quickly() {
    // 100,000 levels once took about half a minute to be refused.
    let n = 100_000;
    for text in [
        format!("parameters: {}{}\n", "[".repeat(n), "]".repeat(n)),
        format!("parameters: {}1{}\n", "{a: ".repeat(n), "}".repeat(n)),
        format!("method: grid\nparameters:\n  - {}\n", "[".repeat(n)),
        format!("x: [{}]\n", "[{a: ".repeat(n / 2)),
    ] {
        let (err, took) = yaml_err(&text);
        assert!(err.contains("nested more than 128 levels deep"), "{err}");
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
    // Up to 128 levels the YAML reader decides, quickly and with its own words.
    let (err, took) = yaml_err(&format!("x: {}{}\n", "[".repeat(128), "]".repeat(128)));
    assert!(err.contains("recursion limit exceeded"), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn brackets_in_strings_comments_and_block_scalars_do_not_count_as_nesting() {
    let many = "[".repeat(300);
    let text = format!(
        "# {many}\n\
         method: random\n\
         description: \"{many} \\\" {many}\"\n\
         name: '{many} '' {many}'\n\
         program: train{many}.py  # {many}\n\
         command:\n  - a [{many}\n  - |\n    {many}\n    '{many}\n  - >-\n      {many}\n\
         project: multi\n  line {many}\n  '{many}\n\
         entity: {{a: [1, '{many}'], \"b\":'{many}'}}\n\
         parameters:\n  lr:\n    values: [0.1, '{many}', \"{many}x\"]\n"
    );
    let cfg = SweepConfig::from_yaml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(cfg.parameters.contains_key("lr"));
}

// ------------------------------------------------------------- found by `cargo xtask fuzz`

/// A study `s` with one COMPLETE trial that started at `start` and finished at `complete`.
fn journal_with_times(start: &str, complete: &str) -> String {
    let mut text = line(&format!(
        r#"{{"op_code":0,"worker_id":"{WORKER}","study_name":"s","directions":[2]}}"#
    ));
    text += &line(&format!(
        r#"{{"op_code":4,"worker_id":"{WORKER}","study_id":0,"datetime_start":"{start}"}}"#
    ));
    text += &line(&format!(
        r#"{{"op_code":6,"worker_id":"{WORKER}","trial_id":0,"state":1,"values":[1.0],"datetime_complete":"{complete}"}}"#
    ));
    text
}

/// The trial's times after compacting and reloading.
fn times_after_compaction(
    storage: &JournalStorage,
) -> (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>) {
    let compact = storage.to_compact_journal("sweeplab-test");
    let again = JournalStorage::from_text(&compact).unwrap_or_else(|e| panic!("{e}\n{compact}"));
    let t = &again.study_by_name("s").unwrap().trials[0];
    (t.datetime_start, t.datetime_complete)
}

#[test]
fn a_time_outside_pythons_years_is_refused_naming_line_and_rule() {
    // fuzz/journal_lines: `-2025-01-01T00:00:01.000000` was read (a year of -2025) and then
    // written back as `-2025-…+00:00`, which did not read: the compact journal of a journal
    // that loaded did not load. Python's fromisoformat refuses both, as it does year 0.
    for bad in [
        "-2025-01-01T00:00:01.000000",
        "0000-01-01T00:00:00",
        "10000-01-01T00:00:00",
    ] {
        let err = JournalStorage::from_text(&journal_with_times("2024-01-01T00:00:00.000000", bad))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "line 3: op_code 6: `datetime_complete` is not a datetime Python reads"
            ) && err.contains("years 1-9999"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn times_at_the_ends_of_pythons_years_compact_and_read_back() {
    // 9999-12-31T23:30-01:00 is a time Python reads whose UTC instant is in year 10000:
    // writing it in UTC panicked (time's `to_offset`). 0001-01-01T00:30+01:00 is in year 0 in
    // UTC, which does not read back. Both now keep their own offset.
    for (start, complete) in [
        ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"),
        ("0001-01-01T00:00:00", "9999-12-31T23:59:59.999999"),
    ] {
        let storage = JournalStorage::from_text(&journal_with_times(start, complete)).unwrap();
        let t = &storage.study_by_name("s").unwrap().trials[0];
        let (s, c) = times_after_compaction(&storage);
        assert_eq!(
            (s, c),
            (t.datetime_start, t.datetime_complete),
            "{start} {complete}"
        );
    }
}

#[test]
fn digits_past_the_microsecond_are_dropped_as_python_drops_them() {
    // fuzz/journal_lines's property: `…00.1234567` kept its 100 ns, which the journal written
    // back (microseconds, as Optuna writes) lost: the compact journal replayed to another time.
    // Python 3.11+'s fromisoformat reads the first six digits and ignores the rest.
    let storage = JournalStorage::from_text(&journal_with_times(
        "2024-01-01T00:00:00.1234567+00:00",
        "2024-01-01T00:00:01.999999999",
    ))
    .unwrap();
    let t = &storage.study_by_name("s").unwrap().trials[0];
    assert_eq!(t.datetime_start.unwrap().nanosecond(), 123_456_000);
    assert_eq!(t.datetime_complete.unwrap().nanosecond(), 999_999_000);
    assert_eq!(
        times_after_compaction(&storage),
        (t.datetime_start, t.datetime_complete)
    );
}

#[test]
fn every_export_of_times_at_the_ends_of_pythons_years_succeeds() {
    // The CSV export converted times to UTC with time's `to_offset`, which panics for a time
    // whose UTC instant is in year 10000 (9999-12-31T23:30-01:00, which Python reads).
    let storage = JournalStorage::from_text(&journal_with_times(
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
    ))
    .unwrap();
    let study = storage.study_by_name("s").unwrap();
    for format in ExportFormat::ALL {
        let files = export_study(study, format, &ExportOptions::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(!files.is_empty(), "{format:?}");
    }
    let csv = export_study(study, ExportFormat::Csv, &ExportOptions::default()).unwrap();
    let text = String::from_utf8(csv[0].bytes.clone()).unwrap();
    assert!(text.contains("9999-12-31 23:30:00"), "{text}");
}
