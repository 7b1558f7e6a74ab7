//! Byte-for-byte: the exporters' encoders re-create the golden files in
//! `tests/export_fixtures/` (formats in `docs/export-formats.md`): the TensorBoard logdir
//! `tfevents_minimal` and the W&B offline runs `wandb_minimal`, for the same content.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeMap;
use std::path::PathBuf;

use sweeplab_core::export::proto::{hparams as hp, tb};
use sweeplab_core::export::tensorboard::{
    self, EXPERIMENT_TAG, EventFile, SESSION_END_TAG, SESSION_START_TAG, event_file_name,
    histogram_value, hparams_value, simple_scalar_value, text_value,
};
use sweeplab_core::export::wandb::{self, HistoryRow, RunLog, encode_run, run_dir_name};
use sweeplab_core::json::Json;

fn fixture(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/export_fixtures")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const T0: f64 = 1_700_000_000.0;

/// The sample's content: per trial (lr, optimizer, layers, dropout) and loss/accuracy per step.
struct Trial {
    lr: f64,
    optimizer: &'static str,
    layers: i64,
    dropout: bool,
    loss: [f64; 5],
    accuracy: [f64; 5],
}

/// Trial i's hyperparameters; its loss at step s is 1/(s + 1) + i/10 and its accuracy
/// 1 - loss/2, computed as the fixtures' generator computed them (in doubles).
fn trials() -> [Trial; 3] {
    let hparams = [
        (0.1, "sgd", 2, true),
        (0.01, "adam", 3, false),
        (0.001, "adam", 4, true),
    ];
    std::array::from_fn(|i| {
        let (lr, optimizer, layers, dropout) = hparams[i];
        let loss: [f64; 5] = std::array::from_fn(|s| 1.0 / (s + 1) as f64 + 0.1 * i as f64);
        Trial {
            lr,
            optimizer,
            layers,
            dropout,
            loss,
            accuracy: loss.map(|l| 1.0 - l / 2.0),
        }
    })
}

/// Panics, saying where, unless our bytes of `name` are the golden ones.
fn assert_same_bytes(name: &str, ours: &[u8], golden: &[u8]) {
    if ours != golden {
        let at = ours.iter().zip(golden).position(|(a, b)| a != b);
        panic!(
            "{name}: differs at byte {at:?} (ours {} bytes, golden {})",
            ours.len(),
            golden.len()
        );
    }
}

fn value(kind: hp::ValueKind) -> hp::Value {
    hp::Value { kind: Some(kind) }
}

fn info(name: &str, ty: i32, domain: hp::Domain) -> hp::HParamInfo {
    hp::HParamInfo {
        name: name.into(),
        r#type: ty,
        domain: Some(domain),
        ..Default::default()
    }
}

fn discrete(values: Vec<hp::ValueKind>) -> hp::Domain {
    hp::Domain::DomainDiscrete(hp::ListValue {
        values: values.into_iter().map(value).collect(),
    })
}

#[test]
fn tensorboard_minimal_logdir_is_byte_identical() {
    let name = event_file_name(T0, "wasm");
    assert_eq!(name, "events.out.tfevents.1700000000.wasm.0.0");

    // Root run: the experiment.
    use hp::ValueKind::{BoolValue, NumberValue, StringValue};
    let infos = vec![
        info(
            "lr",
            hp::DATA_TYPE_FLOAT64,
            hp::Domain::DomainInterval(hp::Interval {
                min_value: 0.001,
                max_value: 0.1,
            }),
        ),
        info(
            "optimizer",
            hp::DATA_TYPE_STRING,
            discrete(vec![StringValue("adam".into()), StringValue("sgd".into())]),
        ),
        info(
            "layers",
            hp::DATA_TYPE_FLOAT64,
            discrete(vec![NumberValue(2.0), NumberValue(3.0), NumberValue(4.0)]),
        ),
        info(
            "dropout",
            hp::DATA_TYPE_BOOL,
            discrete(vec![BoolValue(false), BoolValue(true)]),
        ),
    ];
    let mut root = EventFile::new(T0);
    root.push_summary(
        T0,
        0,
        vec![hparams_value(
            EXPERIMENT_TAG,
            tensorboard::experiment(T0, infos, &["loss".into(), "accuracy".into()]),
        )],
    );
    assert_eq!(
        root.into_bytes(),
        fixture(&format!("tfevents_minimal/{name}"))
    );

    for (i, t) in trials().iter().enumerate() {
        let start = T0 + 100.0 * i as f64;
        let run = format!("trial-{i:03}");
        let mut f = EventFile::new(T0);
        let mut hparams = BTreeMap::new();
        hparams.insert("lr".to_string(), value(NumberValue(t.lr)));
        hparams.insert(
            "optimizer".to_string(),
            value(StringValue(t.optimizer.into())),
        );
        hparams.insert("layers".to_string(), value(NumberValue(t.layers as f64)));
        hparams.insert("dropout".to_string(), value(BoolValue(t.dropout)));
        f.push_summary(
            start,
            0,
            vec![hparams_value(
                SESSION_START_TAG,
                hp::PluginDataKind::SessionStartInfo(hp::SessionStartInfo {
                    hparams,
                    group_name: run.clone(),
                    start_time_secs: start,
                    ..Default::default()
                }),
            )],
        );
        for s in 0..5 {
            let wall = start + 1.0 + s as f64;
            if i == 2 {
                // trial-002 uses TF1 `simple_value` scalars.
                f.push_summary(
                    wall,
                    s,
                    vec![
                        simple_scalar_value("loss", t.loss[s as usize]),
                        simple_scalar_value("accuracy", t.accuracy[s as usize]),
                    ],
                );
            } else {
                f.push_scalars(
                    wall,
                    s,
                    &[
                        ("loss", t.loss[s as usize]),
                        ("accuracy", t.accuracy[s as usize]),
                    ],
                );
            }
        }
        f.push_summary(
            start + 6.0,
            0,
            vec![text_value(
                "notes",
                &format!("trial {i} used **{}**", t.optimizer),
            )],
        );
        f.push_summary(
            start + 6.0,
            0,
            vec![histogram_value(
                "weights",
                tb::HistogramProto {
                    min: -1.0,
                    max: 1.0,
                    num: 4.0,
                    sum: 0.0,
                    sum_squares: 2.0,
                    bucket_limit: vec![-0.5, 0.0, 0.5, f64::MAX],
                    bucket: vec![1.0; 4],
                },
            )],
        );
        f.push_summary(
            start + 7.0,
            0,
            vec![hparams_value(
                SESSION_END_TAG,
                hp::PluginDataKind::SessionEndInfo(hp::SessionEndInfo {
                    status: hp::STATUS_SUCCESS,
                    end_time_secs: start + 7.0,
                }),
            )],
        );
        let golden = fixture(&format!("tfevents_minimal/{run}/{name}"));
        assert_same_bytes(&run, &f.into_bytes(), &golden);
        // And the reader accepts it.
        let events = tensorboard::read_events(&run, &golden).unwrap();
        assert_eq!(events.len(), 10);
    }
}

#[test]
fn wandb_minimal_runs_are_byte_identical() {
    for (i, t) in trials().iter().enumerate() {
        let start = T0 + 100.0 * i as f64;
        let id = format!("trial{i:03}");
        let history: Vec<HistoryRow> = (0..5)
            .map(|s| HistoryRow {
                step: s,
                runtime: (s + 1) as f64,
                timestamp: start + (s + 1) as f64,
                items: vec![
                    ("loss".into(), Json::Float(t.loss[s as usize])),
                    ("accuracy".into(), Json::Float(t.accuracy[s as usize])),
                ],
            })
            .collect();
        let summary = history[4].all_items();
        let run = RunLog {
            producer: "hpsearch-wasm-exporter/0.1".into(),
            run_id: id.clone(),
            project: "hpsearch-demo".into(),
            group: "study-demo".into(),
            job_type: "trial".into(),
            display_name: format!("trial-{i:03}"),
            tags: vec!["hpsearch".into()],
            start_time: start,
            config: vec![
                ("lr".into(), Json::Float(t.lr)),
                ("optimizer".into(), Json::Str(t.optimizer.into())),
                ("layers".into(), Json::Int(t.layers)),
                ("dropout".into(), Json::Bool(t.dropout)),
            ],
            history,
            summary,
            exit: Some((0, 5)),
        };
        let dir = run_dir_name(start, &id);
        let golden = fixture(&format!("wandb_minimal/{dir}/run-{id}.wandb"));
        assert_same_bytes(&dir, &encode_run(&run), &golden);
        let records = wandb::read_log(&dir, &golden).unwrap();
        assert_eq!(records.len(), 10);
        assert_eq!(
            records.iter().map(|r| r.num).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
    }
}
