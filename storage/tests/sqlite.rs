//! Optuna's RDB schema on SQLite, through the same code PostgreSQL uses: stamps, version
//! checks, two stores sharing a study (each re-reading only what changed), heartbeats.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::time::Duration;

use sweeplab_core::samplers::RandomSampler;
use sweeplab_core::storage::journal::JournalOp;
use sweeplab_core::store::StudyStore;
use sweeplab_core::{Distribution, SearchSpace, Study, StudyDirection, TellResult, TrialState};
use sweeplab_storage::{Rdb, Storage};

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:///{}", dir.path().join("study.db").display())
}

fn create(url: &str, name: &str) {
    Storage::open(url, None)
        .unwrap()
        .transact(
            name,
            "test",
            |_| -> Result<_, sweeplab_storage::StorageError> {
                Ok((
                    (),
                    vec![JournalOp::CreateStudy {
                        study_name: name.into(),
                        directions: vec![StudyDirection::Minimize],
                    }],
                ))
            },
        )
        .unwrap();
}

fn space() -> SearchSpace {
    [("x".to_string(), Distribution::float(0.0, 1.0))]
        .into_iter()
        .collect()
}

fn open(url: &str, name: &str) -> (sweeplab_storage::AnyStore, Study) {
    let (store, state) = Storage::open(url, None).unwrap().into_store(name).unwrap();
    let study = Study::load(state, name, Box::new(RandomSampler::new(Some(1)))).unwrap();
    (store, study)
}

fn sql(url: &str, statement: &str) {
    let path = url.trim_start_matches("sqlite:///");
    rusqlite_exec(path, statement);
}

fn rusqlite_exec(path: &str, statement: &str) {
    // The test reaches into the file the way another program would.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
            path,
            statement,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_new_database_is_stamped_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "s");
    let e = Storage::open(&url, None).unwrap().transact(
        "s",
        "t",
        |_| -> Result<((), Vec<JournalOp>), sweeplab_storage::StorageError> { Ok(((), vec![])) },
    );
    assert!(e.is_ok());
    sql(&url, "UPDATE alembic_version SET version_num = 'v9.0.0.a'");
    let e = Storage::open(&url, None).unwrap_err().to_string();
    assert!(e.contains("v9.0.0.a") && e.contains("newer"), "{e}");
    sql(&url, "UPDATE alembic_version SET version_num = 'v3.0.0.d'");
    let e = Storage::open(&url, None).unwrap_err().to_string();
    assert!(e.contains("optuna storage upgrade"), "{e}");
}

#[test]
fn two_stores_share_a_study_and_see_each_others_progress() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "shared");
    let (mut a, mut sa) = open(&url, "shared");
    let (mut b, mut sb) = open(&url, "shared");
    let space = space();
    let (na, _) = a
        .write(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    let (nb, _) = b
        .write(&mut sb, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    assert_eq!((na, nb), (0, 1));
    // A reports and finishes; B learns both at its next write, and A learns B's trial.
    sa.report(na, 0, 0.5).unwrap();
    a.write(&mut sa, |s| {
        s.tell(na, TellResult::Values(vec![0.25]))
            .map_err(anyhow_like)
    })
    .unwrap();
    b.write(&mut sb, |_| Ok::<(), Failure>(())).unwrap();
    let t = sb.trial(na).unwrap();
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.values.as_deref(), Some(&[0.25][..]));
    assert_eq!(t.intermediate_values.get(&0), Some(&0.5));
    let (nc, _) = a
        .write(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    assert_eq!(nc, 2, "A numbers after B's trial");
    assert_eq!(sa.trial(nb).unwrap().state, TrialState::Running);
    // Telling a trial another worker finished is refused, and nothing is written.
    b.write(&mut sb, |s| {
        s.tell(nb, TellResult::Fail).map_err(anyhow_like)
    })
    .unwrap();
    let r = a.write(&mut sa, |s| {
        s.tell(nb, TellResult::Pruned).map_err(anyhow_like)
    });
    assert!(r.is_err());
    let state = Storage::open(&url, None).unwrap().load_all().unwrap();
    let study = state.study_by_name("shared").unwrap();
    assert_eq!(study.trials.len(), 3);
    assert_eq!(study.trials[1].state, TrialState::Fail);
}

#[test]
fn heartbeats_make_a_silent_trial_stale() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "hb");
    let (mut a, mut sa) = open(&url, "hb");
    let space = space();
    let (n, _) = a
        .write(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    let Storage::Rdb(mut rdb) = Storage::open(&url, None).unwrap() else {
        panic!("an SQLite URL opens an RDB storage")
    };
    let rdb: &mut Rdb = &mut rdb;
    // No heartbeat yet: never stale (as in Optuna).
    assert!(rdb.stale_trials("hb", Duration::ZERO).unwrap().is_empty());
    rdb.record_heartbeat("hb", n).unwrap();
    assert!(
        rdb.stale_trials("hb", Duration::from_secs(60))
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        rdb.stale_trials("hb", Duration::from_millis(500)).unwrap(),
        vec![n]
    );
}

#[test]
fn a_worker_killed_right_after_its_ask_leaves_a_trial_that_goes_stale() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "killed");
    let (mut a, mut sa) = open(&url, "killed");
    a.beat_new_trials();
    let space = space();
    // The ask, and nothing after it: no heartbeat of its own (the worker died here).
    let (n, _) = a
        .write(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    // Trials asked with a write that is not the first of a batch get theirs too.
    let (m, _) = a
        .write(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    drop(a);
    let Storage::Rdb(mut rdb) = Storage::open(&url, None).unwrap() else {
        panic!("an SQLite URL opens an RDB storage")
    };
    assert!(
        rdb.stale_trials("killed", Duration::from_secs(60))
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        rdb.stale_trials("killed", Duration::from_millis(500))
            .unwrap(),
        vec![n, m]
    );
}

/// The error type of the changes in these tests.
#[derive(Debug)]
struct Failure(#[allow(dead_code)] String);

impl From<sweeplab_storage::StorageError> for Failure {
    fn from(e: sweeplab_storage::StorageError) -> Self {
        Failure(e.to_string())
    }
}

fn anyhow_like(e: sweeplab_core::StudyError) -> Failure {
    Failure(e.to_string())
}

#[test]
fn a_running_trial_failed_by_another_worker_is_seen_by_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "owned");
    let (mut a, mut sa) = open(&url, "owned");
    let (mut b, mut sb) = open(&url, "owned");
    let space = space();
    let (n, _) = a
        .create(&mut sa, |s| s.ask_with(&space).map_err(anyhow_like))
        .unwrap();
    // A's own running trial is not read again while its row is unchanged, but B failing
    // it (as a stale trial) changes the row: A's next write sees it and its tell is refused.
    b.write(&mut sb, |s| {
        s.tell(n, TellResult::Fail).map_err(anyhow_like)
    })
    .unwrap();
    let r = a.write(&mut sa, |s| {
        s.tell(n, TellResult::Values(vec![1.0]))
            .map_err(anyhow_like)
    });
    assert!(
        r.is_err(),
        "the tell of a trial another worker failed is refused"
    );
    assert_eq!(sa.trial(n).unwrap().state, TrialState::Fail);
}

#[test]
fn a_study_written_as_sqlite_bytes_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    create(&url, "src");
    let (mut store, mut study) = open(&url, "src");
    let space = space();
    let mut numbers = Vec::new();
    for _ in 0..5 {
        let (n, _) = store
            .create(&mut study, |s| s.ask_with(&space).map_err(anyhow_like))
            .unwrap();
        numbers.push(n);
    }
    study.report(numbers[0], 0, 0.75).unwrap();
    study.report(numbers[0], 1, f64::INFINITY).unwrap();
    study
        .set_user_attr(
            numbers[0],
            "note",
            sweeplab_core::Json::from("a \"quoted\" note"),
        )
        .unwrap();
    store
        .write(&mut study, |s| {
            s.tell(numbers[0], TellResult::Values(vec![0.5]))
                .map_err(anyhow_like)?;
            s.tell(numbers[1], TellResult::Values(vec![f64::NEG_INFINITY]))
                .map_err(anyhow_like)?;
            s.tell(numbers[2], TellResult::Fail).map_err(anyhow_like)?;
            s.tell(numbers[3], TellResult::Values(vec![f64::NAN]))
                .map_err(anyhow_like)?;
            Ok::<_, Failure>(())
        })
        .unwrap();
    let state = Storage::open(&url, None).unwrap().load_all().unwrap();
    let record = state.study_by_name("src").unwrap();
    let bytes = sweeplab_storage::sqlite_file_bytes(record).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    let copy = dir.path().join("copy.db");
    std::fs::write(&copy, &bytes).unwrap();
    let back = Storage::open(&format!("sqlite:///{}", copy.display()), None)
        .unwrap()
        .load_all()
        .unwrap();
    let got = back.study_by_name("src").unwrap();
    assert_eq!(got.directions, record.directions);
    assert_eq!(got.trials.len(), 5);
    for (g, w) in got.trials.iter().zip(&record.trials) {
        assert_eq!(g.number, w.number);
        assert_eq!(g.state, w.state, "trial {}", w.number);
        assert_eq!(
            g.params_internal().collect::<Vec<_>>(),
            w.params_internal().collect::<Vec<_>>()
        );
        assert_eq!(g.values, w.values, "trial {}", w.number);
        assert_eq!(g.intermediate_values, w.intermediate_values);
        assert_eq!(g.user_attrs, w.user_attrs);
        assert_eq!(g.datetime_start, w.datetime_start);
        assert_eq!(g.datetime_complete, w.datetime_complete);
    }
    assert_eq!(got.trials[4].state, TrialState::Running);
    assert_eq!(
        got.trials[1].values.as_deref(),
        Some(&[f64::NEG_INFINITY][..])
    );
    assert_eq!(
        got.trials[0].intermediate_values.get(&1),
        Some(&f64::INFINITY)
    );
}
