//! A real study (ask/suggest/report/log_metric/tell, COMPLETE, PRUNED, FAIL, RUNNING and
//! WAITING trials) exported to every format and read back: nothing a trial recorded is lost.
//! Also: journals written by Python Optuna import with nothing lost and re-export equal,
//! and damaged input is reported with the file and the line or byte.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use prost::Message;
use sweeplab_core::export::proto::{hparams as hp, tb, wandb as wb};
use sweeplab_core::export::{
    self, ExportError, ExportFile, ExportFormat, ExportOptions, tensorboard, wandb,
};
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalOp, JournalStorage, StudyRecord};
use sweeplab_core::{Distribution, ParamValue, Study, StudyDirection, TellResult, TrialState};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/export_fixtures/optuna")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A study with every kind of trial: 0 COMPLETE, 1 PRUNED, 2 FAIL, 3 COMPLETE, 4 RUNNING,
/// 5 WAITING; params of every distribution kind; two series and intermediate values.
fn make_study() -> Study {
    let mut study = common::random_study("export-demo", StudyDirection::Minimize, 1);
    let space = [
        ("lr", Distribution::float_log(1e-4, 1e-1)),
        ("layers", Distribution::int(1, 4)),
        ("optimizer", Distribution::categorical(["adam", "sgd"])),
        ("dropout", Distribution::categorical([true, false])),
        ("width", Distribution::float_step(0.0, 1.0, 0.25)),
    ];
    for number in 0..5u64 {
        let n = study.ask().unwrap();
        assert_eq!(n, number);
        for (name, d) in &space {
            study.suggest(n, name, d).unwrap();
        }
        study
            .set_user_attr(n, "note", Json::Str(format!("trial {n}")))
            .unwrap();
        for step in 0..4 {
            let loss = 1.0 / (step as f64 + 1.0) + 0.1 * n as f64;
            study.log_metric(n, "train/loss", step * 10, loss).unwrap();
            if step % 2 == 1 {
                study
                    .log_metric(n, "val/accuracy", step, 1.0 - loss / 2.0)
                    .unwrap();
            }
            study.report(n, step, loss).unwrap();
        }
        match n {
            0 | 3 => {
                study
                    .tell(n, TellResult::Values(vec![0.25 + n as f64]))
                    .unwrap();
            }
            1 => {
                study.tell(n, TellResult::Pruned).unwrap();
            }
            2 => {
                study.tell(n, TellResult::Fail).unwrap();
            }
            _ => {} // trial 4 stays RUNNING
        }
    }
    let mut fixed = BTreeMap::new();
    fixed.insert("lr".to_string(), ParamValue::Float(0.01));
    study.enqueue_trial(fixed).unwrap();
    study
}

fn record(study: &Study) -> &StudyRecord {
    study.storage().study(study.study_id()).unwrap()
}

fn by_path(files: &[ExportFile]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|f| (f.path.clone(), f.bytes.clone()))
        .collect()
}

fn hparams_data(v: &tb::SummaryValue) -> Option<hp::PluginDataKind> {
    let md = v.metadata.as_ref()?.plugin_data.as_ref()?;
    if md.plugin_name != "hparams" {
        return None;
    }
    hp::HParamsPluginData::decode(md.content.as_slice())
        .ok()?
        .data
}

fn scalar(v: &tb::SummaryValue) -> Option<f32> {
    match &v.value {
        Some(tb::ValueKind::Tensor(t)) if t.dtype == tb::DT_FLOAT && t.float_val.len() == 1 => {
            Some(t.float_val[0])
        }
        _ => None,
    }
}

#[test]
fn tensorboard_export_holds_every_series_param_and_status() {
    let study = make_study();
    let rec = record(&study);
    let files = by_path(&tensorboard::logdir(rec, &ExportOptions::default()));
    // Root + one run per started trial (the WAITING trial has none).
    assert_eq!(files.len(), 1 + 5, "{:?}", files.keys().collect::<Vec<_>>());
    let root = files
        .iter()
        .find(|(p, _)| !p.contains('/'))
        .map(|(p, b)| (p.clone(), b.clone()))
        .unwrap();
    assert!(root.0.starts_with("events.out.tfevents.") && root.0.ends_with(".sweeplab.0.0"));
    let events = tensorboard::read_events(&root.0, &root.1).unwrap();
    let exp = events
        .iter()
        .filter_map(|e| match &e.what {
            Some(tb::EventWhat::Summary(s)) => s.value.first().and_then(hparams_data),
            _ => None,
        })
        .next()
        .unwrap();
    let hp::PluginDataKind::Experiment(exp) = exp else {
        panic!("not an experiment")
    };
    let names: Vec<&str> = exp.hparam_infos.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["dropout", "layers", "lr", "optimizer", "width"]);
    let types: Vec<i32> = exp.hparam_infos.iter().map(|h| h.r#type).collect();
    assert_eq!(
        types,
        [
            hp::DATA_TYPE_BOOL,
            hp::DATA_TYPE_FLOAT64,
            hp::DATA_TYPE_FLOAT64,
            hp::DATA_TYPE_STRING,
            hp::DATA_TYPE_FLOAT64
        ]
    );
    let metrics: Vec<String> = exp
        .metric_infos
        .iter()
        .map(|m| m.name.as_ref().unwrap().tag.clone())
        .collect();
    assert_eq!(
        metrics,
        [
            "objective",
            "intermediate_value",
            "train/loss",
            "val/accuracy"
        ]
    );

    for t in rec.trials.iter().filter(|t| t.state != TrialState::Waiting) {
        let (path, bytes) = files
            .iter()
            .find(|(p, _)| p.starts_with(&format!("trial-{:03}/", t.number)))
            .unwrap();
        let events = tensorboard::read_events(path, bytes).unwrap();
        let mut scalars: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
        let mut start = None;
        let mut end = None;
        let mut seen_tags = std::collections::BTreeSet::new();
        for e in &events {
            let Some(tb::EventWhat::Summary(s)) = &e.what else {
                continue;
            };
            for v in &s.value {
                match hparams_data(v) {
                    Some(hp::PluginDataKind::SessionStartInfo(i)) => start = Some(i),
                    Some(hp::PluginDataKind::SessionEndInfo(i)) => end = Some(i),
                    _ => {}
                }
                if let Some(x) = scalar(v) {
                    // The scalars metadata is on the first value of each tag only.
                    let first = seen_tags.insert(v.tag.clone());
                    assert_eq!(v.metadata.is_some(), first, "{}", v.tag);
                    scalars.entry(v.tag.clone()).or_default().push((e.step, x));
                }
            }
        }
        let start = start.unwrap();
        assert_eq!(start.group_name, format!("trial-{:03}", t.number));
        for (name, value) in t.params() {
            let got = &start.hparams[&name].kind;
            let want = match value {
                ParamValue::Bool(b) => hp::ValueKind::BoolValue(b),
                ParamValue::Str(s) => hp::ValueKind::StringValue(s),
                other => hp::ValueKind::NumberValue(other.as_f64().unwrap()),
            };
            assert_eq!(got.as_ref(), Some(&want), "trial {} {name}", t.number);
        }
        for (name, points) in &t.series {
            let got = &scalars[name];
            let want: Vec<(i64, f32)> = points.iter().map(|p| (p.step, p.value as f32)).collect();
            assert_eq!(got, &want, "trial {} series {name}", t.number);
        }
        let iv: Vec<(i64, f32)> = t
            .intermediate_values
            .iter()
            .map(|(s, v)| (*s, *v as f32))
            .collect();
        assert_eq!(scalars["intermediate_value"], iv);
        match t.value() {
            Some(v) => assert_eq!(scalars["objective"], [(30, v as f32)]),
            None => assert!(!scalars.contains_key("objective")),
        }
        let end = end.unwrap();
        let status = match t.state {
            TrialState::Complete => hp::STATUS_SUCCESS,
            TrialState::Fail => hp::STATUS_FAILURE,
            TrialState::Pruned => hp::STATUS_UNKNOWN,
            _ => hp::STATUS_RUNNING,
        };
        assert_eq!(end.status, status, "trial {}", t.number);
    }
}

fn json_of(text: &str) -> Json {
    Json::parse(text).unwrap()
}

#[test]
fn wandb_export_history_equals_what_was_logged() {
    let study = make_study();
    let rec = record(&study);
    let files = wandb::offline_runs(rec, &ExportOptions::default());
    assert_eq!(files.len(), 5);
    for t in rec.trials.iter().filter(|t| t.state != TrialState::Waiting) {
        let id = wandb::run_id(&rec.name, t.number);
        let f = files
            .iter()
            .find(|f| f.path.ends_with(&format!("-{id}/run-{id}.wandb")))
            .unwrap();
        assert!(f.path.starts_with("wandb/offline-run-2"), "{}", f.path);
        let records = wandb::read_log(&f.path, &f.bytes).unwrap();
        let nums: Vec<i64> = records.iter().map(|r| r.num).collect();
        assert_eq!(nums, (1..=records.len() as i64).collect::<Vec<_>>());
        let mut config = BTreeMap::new();
        let mut rows: Vec<BTreeMap<String, Json>> = Vec::new();
        let mut summary = BTreeMap::new();
        let mut exit = None;
        for r in &records {
            match &r.record_type {
                Some(wb::RecordType::Run(run)) => {
                    assert_eq!(run.run_group, rec.name);
                    assert_eq!(run.run_id, id);
                    assert_eq!(run.display_name, format!("trial-{:03}", t.number));
                    for c in &run.config.as_ref().unwrap().update {
                        config.insert(c.key.clone(), json_of(&c.value_json));
                    }
                }
                Some(wb::RecordType::History(h)) => {
                    let row: BTreeMap<String, Json> = h
                        .item
                        .iter()
                        .map(|i| (i.key.clone(), json_of(&i.value_json)))
                        .collect();
                    assert_eq!(row["_step"], Json::Int(h.step.as_ref().unwrap().num));
                    rows.push(row);
                }
                Some(wb::RecordType::Summary(s)) => {
                    for u in &s.update {
                        summary.insert(u.key.clone(), json_of(&u.value_json));
                    }
                }
                Some(wb::RecordType::Exit(e)) => exit = Some(e.exit_code),
                _ => {}
            }
        }
        // Config = the params.
        let params: BTreeMap<String, Json> = t
            .params()
            .into_iter()
            .map(|(k, v)| (k, v.to_json()))
            .collect();
        assert_eq!(config, params);
        // One row per step, steps increasing, every point of every series present.
        let steps: Vec<i64> = rows.iter().map(|r| r["_step"].as_i64().unwrap()).collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
        for (name, points) in &t.series {
            for p in points {
                let row = rows
                    .iter()
                    .find(|r| r["_step"].as_i64() == Some(p.step))
                    .unwrap();
                assert_eq!(row[name].as_f64(), Some(p.value), "{name} @ {}", p.step);
                assert!(row["_timestamp"].as_f64().unwrap() >= p.wall_time);
            }
        }
        for (step, v) in &t.intermediate_values {
            let row = rows
                .iter()
                .find(|r| r["_step"].as_i64() == Some(*step))
                .unwrap();
            assert_eq!(row["intermediate_value"].as_f64(), Some(*v));
        }
        assert_eq!(summary["trial_state"], Json::Str(t.state.name().into()));
        assert_eq!(summary.get("objective").and_then(Json::as_f64), t.value());
        let want_exit = match t.state {
            TrialState::Complete | TrialState::Pruned => Some(0),
            TrialState::Fail => Some(1),
            _ => None,
        };
        assert_eq!(exit, want_exit, "trial {}", t.number);
    }
}

/// Compares two studies field by field (NaN equal to NaN).
fn assert_same_study(a: &StudyRecord, b: &StudyRecord) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.directions, b.directions);
    assert_eq!(a.user_attrs, b.user_attrs);
    assert_eq!(a.system_attrs, b.system_attrs);
    assert_eq!(a.trials.len(), b.trials.len());
    for (x, y) in a.trials.iter().zip(&b.trials) {
        // trial_id is storage-wide: a study exported alone numbers its trials from 0.
        let mut y = y.clone();
        y.trial_id = x.trial_id;
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "trial {}", x.number);
    }
}

#[test]
fn journal_export_round_trips_every_series() {
    let study = make_study();
    let rec = record(&study);
    // The running trial's series are not in its user attrs yet; the export adds them.
    assert!(!rec.trials[4].series.is_empty());
    assert!(
        !rec.trials[4]
            .user_attrs
            .keys()
            .any(|k| k.starts_with("series:"))
    );
    let text = export::journal_for_study(rec, "w");
    let back = export::import_journal("demo.log", text.as_bytes()).unwrap();
    let again = back.study_by_name("export-demo").unwrap();
    for (x, y) in rec.trials.iter().zip(&again.trials) {
        assert_eq!(x.series, y.series, "trial {}", x.number);
        assert_eq!(x.params(), y.params());
        assert_eq!(x.state, y.state);
        assert_eq!(x.values, y.values);
        assert_eq!(x.intermediate_values, y.intermediate_values);
        // The journal keeps microseconds.
        let us = |t: Option<time::OffsetDateTime>| t.map(|t| t.unix_timestamp_nanos() / 1000);
        assert_eq!(us(x.datetime_start), us(y.datetime_start));
        assert_eq!(us(x.datetime_complete), us(y.datetime_complete));
    }
    // Writing the re-imported study again gives the same journal.
    assert_eq!(export::journal_for_study(again, "w"), text);
}

#[test]
fn python_optuna_journals_import_with_nothing_lost_and_reexport_equal() {
    for name in ["journal.log", "minimal_compact.log", "minimal_replay.log"] {
        let bytes = fixture(name);
        let storage = export::import_journal(name, &bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let n_lines = text.lines().count();
        assert!(n_lines > 0);
        let mut studies = 0;
        for s in storage.studies() {
            studies += 1;
            assert!(!s.trials.is_empty(), "{name}: {}", s.name);
            // Export this study, import it back: the same study.
            let exported = export::journal_for_study(s, "sweeplab-test");
            let back = export::import_journal("re-export", exported.as_bytes()).unwrap();
            assert_same_study(s, back.study_by_name(&s.name).unwrap());
            // And again: a fixed point.
            let twice =
                export::journal_for_study(back.study_by_name(&s.name).unwrap(), "sweeplab-test");
            assert_eq!(twice, exported, "{name}: {}", s.name);
        }
        assert!(studies >= 1);
        // Whole-storage compaction keeps everything too.
        let all = storage.to_compact_journal("x");
        let back = JournalStorage::from_text(&all).unwrap();
        for (a, b) in storage.studies().zip(back.studies()) {
            assert_same_study(a, b);
        }
    }
    // Known content of the real Optuna 5.0 journal: states and attrs survive.
    let storage = export::import_journal("journal.log", &fixture("journal.log")).unwrap();
    let states: Vec<TrialState> = storage
        .studies()
        .flat_map(|s| s.trials.iter().map(|t| t.state))
        .collect();
    for st in [TrialState::Complete, TrialState::Pruned, TrialState::Fail] {
        assert!(states.contains(&st), "{st} missing");
    }
}

#[test]
fn nan_objectives_are_exported_as_fail_like_optuna() {
    let mut storage = JournalStorage::new();
    let text = "{\"op_code\":0,\"worker_id\":\"w\",\"study_name\":\"s\",\"directions\":[1]}\n\
                {\"op_code\":4,\"worker_id\":\"w\",\"study_id\":0,\"datetime_start\":null,\"state\":1,\"value\":NaN,\"values\":null}\n\
                {\"op_code\":4,\"worker_id\":\"w\",\"study_id\":0,\"datetime_start\":null,\"state\":1,\"value\":1.5,\"values\":null}\n";
    for (_, op) in sweeplab_core::storage::journal::parse_journal(text).unwrap() {
        storage.apply(&op).unwrap();
    }
    let s = storage.study_by_name("s").unwrap();
    assert_eq!(s.trials[0].state, TrialState::Complete);
    let out = export::journal_for_study(s, "w");
    let back = export::import_journal("x", out.as_bytes()).unwrap();
    let t = &back.study_by_name("s").unwrap().trials;
    assert_eq!(t[0].state, TrialState::Fail);
    assert_eq!(t[0].values, None);
    assert_eq!(t[1].state, TrialState::Complete);
    assert_eq!(t[1].value(), Some(1.5));
}

#[test]
fn damaged_journals_name_the_file_and_line() {
    let good = fixture("minimal_replay.log");
    // A torn last line.
    let err = export::import_journal("study.log", &good[..good.len() - 5]).unwrap_err();
    let msg = err.to_string();
    let n = String::from_utf8(good.clone()).unwrap().lines().count();
    assert!(
        msg.starts_with("study.log: ")
            && msg.contains(&format!("line {n}"))
            && msg.contains("torn"),
        "{msg}"
    );
    // Garbage in line 2.
    let mut lines: Vec<String> = String::from_utf8(good.clone())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines[1] = "{\"op_code\": 4, oops".into();
    let text = lines.join("\n") + "\n";
    let msg = export::import_journal("study.log", text.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("study.log: line 2: invalid JSON"), "{msg}");
    // Not UTF-8.
    let mut bad = good.clone();
    bad.insert(10, 0xff);
    match export::import_journal("study.log", &bad) {
        Err(ExportError::Utf8 { file, offset }) => {
            assert_eq!(file, "study.log");
            assert_eq!(offset, 10);
        }
        other => panic!("expected a UTF-8 error, got {other:?}"),
    }
}

#[test]
fn damaged_event_and_wandb_files_name_the_file_and_offset() {
    let study = make_study();
    let rec = record(&study);
    let opts = ExportOptions::default();
    for f in tensorboard::logdir(rec, &opts) {
        let cut = f.bytes.len() / 2;
        let err = tensorboard::read_events(&f.path, &f.bytes[..cut]).unwrap_err();
        assert!(matches!(err, ExportError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains(&f.path));
        let mut bad = f.bytes.clone();
        bad[cut] ^= 0x10;
        let err = tensorboard::read_events(&f.path, &bad).unwrap_err();
        assert!(matches!(err, ExportError::Corrupt { .. }), "{err}");
    }
    for f in wandb::offline_runs(rec, &opts) {
        let cut = f.bytes.len() - 3;
        let err = wandb::read_log(&f.path, &f.bytes[..cut]).unwrap_err();
        assert!(matches!(err, ExportError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains(&f.path));
        let mut bad = f.bytes.clone();
        bad[f.bytes.len() / 2] ^= 0x01;
        let err = wandb::read_log(&f.path, &bad).unwrap_err();
        assert!(
            matches!(err, ExportError::Corrupt { .. }),
            "{}: {err}",
            f.path
        );
    }
}

#[test]
fn csv_has_optuna_columns_and_one_row_per_trial() {
    let study = make_study();
    let rec = record(&study);
    let csv = export::trials_csv(rec);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..5],
        [
            "number",
            "value",
            "datetime_start",
            "datetime_complete",
            "duration"
        ]
    );
    assert_eq!(
        &header[5..10],
        [
            "params_dropout",
            "params_layers",
            "params_lr",
            "params_optimizer",
            "params_width"
        ]
    );
    assert!(header.contains(&"user_attrs_note"));
    assert!(!header.iter().any(|h| h.contains("series:")));
    assert_eq!(header.last(), Some(&"state"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), rec.trials.len());
    for (row, t) in rows.iter().zip(&rec.trials) {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[0], t.number.to_string());
        assert_eq!(*row.last().unwrap(), t.state.name());
        match t.value() {
            Some(v) => assert_eq!(row[1].parse::<f64>().unwrap(), v),
            None => assert_eq!(row[1], ""),
        }
        if let Some(ParamValue::Int(layers)) = t.param("layers") {
            // The WAITING trial has no params, so the int column is a float column.
            assert_eq!(row[6], format!("{layers}.0"));
        }
    }
    // The WAITING trial: no start, no params.
    let waiting = rows.last().unwrap();
    assert_eq!(waiting[2], "");
    assert_eq!(waiting[5], "");
}

#[test]
fn zip_holds_every_format() {
    let study = make_study();
    let rec = record(&study);
    let opts = ExportOptions::default();
    let files = export::export_study(rec, ExportFormat::Zip, &opts).unwrap();
    assert_eq!(files.len(), 1);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(files[0].bytes.clone())).unwrap();
    let mut inside = BTreeMap::new();
    for i in 0..archive.len() {
        let mut e = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        inside.insert(e.name().unwrap().to_string(), bytes);
    }
    let mut expected = BTreeMap::new();
    for f in export::export_study(rec, ExportFormat::TensorBoard, &opts).unwrap() {
        expected.insert(format!("tensorboard/{}", f.path), f.bytes);
    }
    for format in [
        ExportFormat::Wandb,
        ExportFormat::Mlflow,
        ExportFormat::Optuna,
        ExportFormat::Csv,
    ] {
        for f in export::export_study(rec, format, &opts).unwrap() {
            expected.insert(f.path, f.bytes);
        }
    }
    assert_eq!(inside, expected);
    assert!(inside.contains_key("optuna/journal.log"));
    assert!(inside.contains_key("trials.csv"));
}

#[test]
fn formats_parse_and_unknown_studies_list_what_exists() {
    for f in ExportFormat::ALL {
        assert_eq!(ExportFormat::parse(f.name()), Some(f));
    }
    assert_eq!(ExportFormat::parse("parquet"), None);
    let study = make_study();
    let err = export::find_study(study.storage(), "nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no study named `nope`; the storage has: export-demo"
    );
    let op = JournalOp::CreateStudy {
        study_name: "x".into(),
        directions: vec![StudyDirection::Maximize],
    };
    let mut s = JournalStorage::new();
    s.apply(&op).unwrap();
    assert!(export::find_study(&s, "x").is_ok());
    // A study without trials: no W&B runs, every other format has its files.
    let rec = s.study_by_name("x").unwrap();
    for f in ExportFormat::ALL {
        let files = export::export_study(rec, f, &ExportOptions::default()).unwrap();
        assert_eq!(files.is_empty(), f == ExportFormat::Wandb, "{f}");
    }
}

#[test]
fn text_samples_are_tensorboard_text_and_wandb_history() {
    let mut study = common::random_study("lm", StudyDirection::Minimize, 1);
    let n = study.ask().unwrap();
    let samples = Json::Array(
        [(1, "is a fault"), (2, "is a virtue")]
            .into_iter()
            .map(|(epoch, text)| {
                Json::Object(vec![
                    ("epoch".into(), Json::Int(epoch)),
                    ("prompt".into(), Json::Str("LEARNING, n.  ".into())),
                    ("text".into(), Json::Str(text.into())),
                ])
            })
            .collect(),
    );
    for epoch in 1..=2 {
        study
            .log_metric(n, "val/loss", epoch, 2.0 / epoch as f64)
            .unwrap();
    }
    study.set_user_attr(n, "text_samples", samples).unwrap();
    study.tell(n, TellResult::Values(vec![1.0])).unwrap();
    let rec = record(&study);

    let files = by_path(&tensorboard::logdir(rec, &ExportOptions::default()));
    let (path, bytes) = files
        .iter()
        .find(|(p, _)| p.starts_with("trial-000/"))
        .unwrap();
    let texts: Vec<(i64, String)> = tensorboard::read_events(path, bytes)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.what {
            Some(tb::EventWhat::Summary(s)) => Some((e.step, s)),
            _ => None,
        })
        .flat_map(|(step, s)| s.value.iter().map(move |v| (step, v)))
        .filter(|(_, v)| v.tag == tensorboard::SAMPLES_TEXT_TAG)
        .map(|(step, v)| {
            let Some(tb::ValueKind::Tensor(t)) = &v.value else {
                panic!("a text tensor")
            };
            assert_eq!(t.dtype, tb::DT_STRING);
            let md = v.metadata.as_ref().unwrap().plugin_data.as_ref().unwrap();
            assert_eq!(md.plugin_name, "text");
            (step, String::from_utf8(t.string_val[0].clone()).unwrap())
        })
        .collect();
    assert_eq!(
        texts,
        [
            (1, "```\nLEARNING, n.  is a fault\n```".to_string()),
            (2, "```\nLEARNING, n.  is a virtue\n```".to_string())
        ]
    );

    let files = wandb::offline_runs(rec, &ExportOptions::default());
    let log = wandb::read_log(&files[0].path, &files[0].bytes).unwrap();
    let rows: Vec<(i64, String)> = log
        .iter()
        .filter_map(|r| match &r.record_type {
            Some(wb::RecordType::History(h)) => Some(h),
            _ => None,
        })
        .filter_map(|h| {
            let step = h.step.as_ref()?.num;
            let item = h.item.iter().find(|i| i.key == "samples/text")?;
            Some((step, item.value_json.clone()))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "\"LEARNING, n.  is a fault\"".to_string()),
            (2, "\"LEARNING, n.  is a virtue\"".to_string())
        ]
    );
}
