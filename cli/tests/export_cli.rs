//! `sweeplab export` end to end: every format from a CLI-made study, and bad input answered
//! with one line on stderr and exit status 2, leaving nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::{files_under, ok, run, tmpdir};

use std::path::{Path, PathBuf};

use sweeplab_core::export::{import_journal, tensorboard, wandb};

const SPACE: &str = r#"{"x": {"name": "FloatDistribution", "attributes": {"low": -5.0, "high": 5.0, "log": false, "step": null}}, "opt": {"name": "CategoricalDistribution", "attributes": {"choices": ["adam", "sgd"]}}}"#;

/// A new temporary folder holding the study `s` of [`make_study`] in `j.log`: the folder
/// and the journal's path.
fn study_dir(name: &str) -> (common::TestDir, PathBuf) {
    let dir = tmpdir(name);
    let journal = dir.join("j.log");
    make_study(&journal);
    (dir, journal)
}

fn make_study(journal: &Path) {
    let j = journal.to_str().unwrap();
    ok(&["create-study", "--storage", j, "--study-name", "s"]);
    for (i, tell) in [
        ["--values", "1.5"],
        ["--state", "pruned"],
        ["--state", "fail"],
    ]
    .iter()
    .enumerate()
    {
        let out = ok(&[
            "ask",
            "--storage",
            j,
            "--study-name",
            "s",
            "--search-space",
            SPACE,
        ]);
        assert!(out.contains(&format!("\"number\": {i}")), "{out}");
        ok(&[
            "tell",
            "--storage",
            j,
            "--study-name",
            "s",
            "--trial-number",
            &i.to_string(),
            tell[0],
            tell[1],
        ]);
    }
}

/// `sweeplab export` of study `study` in `storage` as `format` to `out`.
fn export_args<'a>(
    storage: &'a str,
    study: &'a str,
    format: &'a str,
    out: &'a str,
) -> Vec<&'a str> {
    vec![
        "export",
        "--storage",
        storage,
        "--study-name",
        study,
        "--format",
        format,
        "--out",
        out,
    ]
}

#[test]
fn every_format_is_written() {
    let (dir, journal) = study_dir("formats");
    let j = journal.to_str().unwrap();
    let export = |format: &str, out: &Path| ok(&export_args(j, "s", format, out.to_str().unwrap()));

    let tb = dir.join("tb");
    export("tensorboard", &tb);
    let files = files_under(&tb);
    assert_eq!(files.len(), 4, "{files:?}");
    for f in &files {
        let name = f.to_string_lossy();
        assert!(name.contains("events.out.tfevents."), "{name}");
        tensorboard::read_events(&name, &std::fs::read(f).unwrap()).unwrap();
    }

    let wb = dir.join("wb");
    export("wandb", &wb);
    let files = files_under(&wb);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let rel = f.strip_prefix(&wb).unwrap().to_string_lossy().into_owned();
        assert!(rel.starts_with("wandb/offline-run-"), "{rel}");
        assert!(rel.ends_with(".wandb"));
        wandb::read_log(&rel, &std::fs::read(f).unwrap()).unwrap();
    }

    let jl = dir.join("out/study.log");
    export("optuna", &jl);
    let storage = import_journal("study.log", &std::fs::read(&jl).unwrap()).unwrap();
    assert_eq!(storage.study_by_name("s").unwrap().trials.len(), 3);

    let csv = dir.join("t.csv");
    export("csv", &csv);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.starts_with(
        "number,value,datetime_start,datetime_complete,duration,params_opt,params_x,"
    ));

    let z = dir.join("all.zip");
    export("zip", &z);
    let archive = zip::ZipArchive::new(std::fs::File::open(&z).unwrap()).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    let mlruns = names.iter().filter(|n| n.starts_with("mlruns/")).count();
    // TensorBoard (4), W&B (3), journal and CSV, and MLflow's store: two experiments and,
    // per run, its meta.yaml and three directories at least.
    assert_eq!(names.len() - mlruns, 4 + 3 + 2, "{names:?}");
    assert!(
        names.iter().any(|n| n == "mlruns/1/meta.yaml") && mlruns >= 2 + 3 * 4,
        "{names:?}"
    );

    let ml = dir.join("out/ml");
    export("mlflow", &ml);
    let meta = std::fs::read_to_string(ml.join("mlruns/1/meta.yaml")).unwrap();
    assert!(meta.contains("name: \"s\""), "{meta}");
    // The artifact location is where the store was written.
    assert!(
        meta.contains(&format!("file://{}", ml.join("mlruns").display())),
        "{meta}"
    );
    let runs: Vec<_> = std::fs::read_dir(ml.join("mlruns/1"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        for sub in ["artifacts", "metrics", "params", "tags"] {
            assert!(r.path().join(sub).is_dir(), "{}/{sub}", r.path().display());
        }
    }

    // No temporary files anywhere.
    for f in files_under(&dir) {
        assert!(!f.to_string_lossy().contains(".tmp-"), "{}", f.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let (dir, journal) = study_dir("bad");
    let j = journal.to_str().unwrap();
    let out_file = dir.join("x.csv");
    let o = out_file.to_str().unwrap();
    let missing = dir.join("missing.log");
    let torn = dir.join("torn.log");
    let mut text = std::fs::read(&journal).unwrap();
    text.truncate(text.len() - 7);
    std::fs::write(&torn, text).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            export_args(j, "s", "parquet", o),
            "unknown --format `parquet`",
        ),
        (
            export_args(j, "nope", "csv", o),
            "no study named `nope`; the storage has: s",
        ),
        (
            export_args(missing.to_str().unwrap(), "s", "csv", o),
            "no such journal file",
        ),
        (
            export_args(torn.to_str().unwrap(), "s", "csv", o),
            "torn write",
        ),
        (
            export_args(j, "s", "csv", dir.to_str().unwrap()),
            "is a directory",
        ),
        (export_args(j, "s", "tensorboard", j), "is a file"),
    ];
    for (full, needle) in cases {
        let out = run(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{full:?}: {err}");
        assert!(!out_file.exists());
    }
    assert!(!missing.exists(), "export must not create the journal");
    std::fs::remove_dir_all(&dir).unwrap();
}
