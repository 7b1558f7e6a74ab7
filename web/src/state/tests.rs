//! The reducer, natively: every test drives [`reduce`] with the actions the page and a
//! worker produce (the worker's journal lines come from a real core [`Study`]) and checks
//! the state and the effects.

use sweeplab_core::{Json, RandomSampler, Study, TrialState};

use super::*;

fn env(t: f64) -> Env {
    Env {
        now_ms: t,
        epoch_ms: 1_700_000_000_000.0 + t,
        stamp: "2026-12-05-10-00-00".into(),
    }
}

fn cpu_setup() -> Setup {
    Setup {
        backend: BackendChoice::Cpu,
        n_trials: 2,
        ..Setup::preset("spiral-mlp")
    }
}

/// A saved study as IndexedDB holds it (see `store.rs`): the base journal and the chunks
/// appended since.
type SavedJournal = (String, BTreeMap<u64, String>);

thread_local! {
    /// What the page's saves wrote, per study.
    static SAVED: std::cell::RefCell<BTreeMap<String, SavedJournal>> =
        std::cell::RefCell::default();
}

/// The journal saved for study `id`, read back as `store::load` does.
fn saved_journal(id: &str) -> String {
    SAVED.with(|db| {
        let db = db.borrow();
        let (base, chunks) = db.get(id).expect("the study was saved");
        let chunks: Vec<String> = chunks.values().cloned().collect();
        JournalSave::read_back(base, &chunks)
    })
}

/// Applies `a`; every save it asks for is written to [`SAVED`] and answered, as the app
/// does (the answer may ask for the next save). Returns every effect.
fn act(s: &mut State, a: Action) -> Vec<Effect> {
    let mut effects = reduce(s, a, &env(1000.0)).0;
    let mut i = 0;
    while i < effects.len() {
        if let Effect::Save { meta, journal, .. } = &effects[i] {
            SAVED.with(|db| {
                let mut db = db.borrow_mut();
                let entry = db.entry(meta.id.clone()).or_default();
                match journal {
                    JournalSave::Whole(text) => *entry = (text.clone(), BTreeMap::new()),
                    JournalSave::Append { seq, lines } => {
                        entry.1.insert(*seq, lines.clone());
                    }
                }
            });
            let more = reduce(s, Action::Saved(Ok(())), &env(1000.0)).0;
            effects.extend(more);
        }
        i += 1;
    }
    effects
}

/// Presses Start on the CPU; returns the worker's start message.
fn start(s: &mut State) -> ToWorker {
    let effects = act(s, Action::Start);
    let spawn = effects.iter().find_map(|e| match e {
        Effect::SpawnWorker { kind, start } => Some((*kind, start.clone())),
        _ => None,
    });
    let (kind, start) = spawn.expect("Start on the CPU spawns a worker");
    assert_eq!(kind, BackendKind::Flex);
    start
}

/// What a worker does: runs `n` trials of the study `start` names through the core and
/// sends the page its journal lines and trial ends.
/// The start message of the worker `effects` spawn (a Start's effects).
fn spawned(effects: Vec<Effect>) -> ToWorker {
    effects
        .into_iter()
        .find_map(|e| match e {
            Effect::SpawnWorker { start, .. } => Some(start),
            _ => None,
        })
        .expect("Start spawns a worker")
}

fn worker_runs(s: &mut State, start: &ToWorker, n: usize) {
    let ToWorker::Start {
        study: name,
        setup,
        journal,
        ..
    } = start
    else {
        panic!("not a start message: {start:?}");
    };
    let mut study = if journal.is_empty() {
        let mut st = Study::create(
            name,
            setup.objective.direction(),
            Box::new(RandomSampler::new(Some(0))),
        )
        .unwrap();
        st.set_study_user_attr(SETUP_ATTR, Json::Str(setup.to_json()))
            .unwrap();
        st
    } else {
        let storage = JournalStorage::from_text(journal).unwrap();
        Study::load(storage, name, Box::new(RandomSampler::new(Some(0)))).unwrap()
    };
    study.set_worker_id(WORKER_ID);
    let space = setup.search_space().unwrap();
    let send = |s: &mut State, study: &mut Study| {
        let lines: String = study
            .take_pending()
            .iter()
            .map(|op| op.to_line(WORKER_ID))
            .collect();
        act(s, Action::Worker(FromWorker::Ops { lines }))
    };
    for _ in 0..n {
        let (k, _) = study.ask_with(&space).unwrap();
        send(s, &mut study);
        act(
            s,
            Action::Worker(FromWorker::Progress {
                event: ProgressEvent::TrialStart {
                    trial: k,
                    epochs: 2,
                    steps_per_epoch: 5,
                },
            }),
        );
        for e in 1..=2 {
            study.report(k, e, 1.0 / e as f64).unwrap();
        }
        study.tell_value(k, 0.5 - k as f64 * 0.1).unwrap();
        let effects = send(s, &mut study);
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Save { .. })),
            "one trial at a time: every batch of lines is saved"
        );
        act(
            s,
            Action::Worker(FromWorker::TrialEnd {
                trial: k,
                state: TrialState::Complete,
                value: Some(0.5 - k as f64 * 0.1),
                reason: None,
            }),
        );
    }
}

#[test]
fn start_on_the_cpu_spawns_a_worker_with_the_setup() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    let ToWorker::Start {
        study,
        setup,
        journal,
        backend,
        ..
    } = &m
    else {
        panic!("{m:?}");
    };
    assert_eq!(study, "spiral-mlp-2026-12-05-10-00-00");
    assert_eq!(*setup, cpu_setup());
    assert!(journal.is_empty());
    assert_eq!(*backend, BackendKind::Flex);
    assert_eq!(s.run, RunState::Running);
    assert_eq!(s.worker, Some(BackendKind::Flex));
    assert_eq!(
        s.backend_note.as_deref(),
        Some("CPU backend: you chose CPU.")
    );
    // A second Start while running does nothing.
    assert!(act(&mut s, Action::Start).is_empty());
}

#[test]
fn a_setup_with_problems_does_not_start() {
    let mut s = State::new(Setup {
        n_trials: 0,
        ..cpu_setup()
    });
    assert!(act(&mut s, Action::Start).is_empty());
    assert_eq!(s.run, RunState::Idle);
    // More epochs than a trial may train: said before the start, not by the worker.
    let mut s = State::new(Setup {
        epochs: 20_000,
        ..cpu_setup()
    });
    assert!(
        s.setup
            .problems()
            .iter()
            .any(|(_, p)| p == "epochs must be at most 10000, not 20000"),
        "{:?}",
        s.setup.problems()
    );
    assert!(act(&mut s, Action::Start).is_empty());
    assert_eq!(s.run, RunState::Idle);
}

#[test]
fn auto_probes_webgpu_and_picks_by_the_adapter() {
    let probe = |api, adapter, software| GpuProbe {
        api,
        adapter,
        software,
        description: "Test adapter".into(),
    };
    let kind_after = |p: GpuProbe, backend: BackendChoice| {
        let mut s = State::new(Setup {
            backend,
            ..cpu_setup()
        });
        assert_eq!(
            act(&mut s, Action::Start),
            vec![Effect::EndEstimator, Effect::ProbeGpu]
        );
        let effects = act(&mut s, Action::Probed(p));
        let kind = effects.iter().find_map(|e| match e {
            Effect::SpawnWorker { kind, .. } => Some(*kind),
            _ => None,
        });
        (kind, s)
    };
    let (k, s) = kind_after(probe(false, false, false), BackendChoice::Auto);
    assert_eq!(k, Some(BackendKind::Flex));
    assert!(
        s.cpu_fallback,
        "no WebGPU: the page says the CPU trains instead"
    );
    assert!(s.backend_note.unwrap().contains("no WebGPU"));
    let (k, _) = kind_after(probe(true, false, false), BackendChoice::Gpu);
    assert_eq!(
        k,
        Some(BackendKind::Flex),
        "no adapter: the CPU, even when asked"
    );
    let (k, s) = kind_after(probe(true, true, true), BackendChoice::Auto);
    assert_eq!(k, Some(BackendKind::Flex), "auto skips a software adapter");
    assert!(s.cpu_fallback);
    assert!(s.backend_note.unwrap().contains("software"));
    let (k, s) = kind_after(probe(true, true, true), BackendChoice::Gpu);
    assert!(!s.cpu_fallback);
    assert_eq!(
        k,
        Some(BackendKind::Wgpu),
        "asked for WebGPU: a software one will do"
    );
    let (k, _) = kind_after(probe(true, true, false), BackendChoice::Auto);
    assert_eq!(k, Some(BackendKind::Wgpu));
}

#[test]
fn step_mode_runs_one_trial_per_click_and_the_speed_reaches_the_worker() {
    let mut s = State::new(cpu_setup());
    act(&mut s, Action::Speed(40));
    let effects = act(&mut s, Action::NextTrial);
    let start = effects
        .iter()
        .find_map(|e| match e {
            Effect::SpawnWorker { start, .. } => Some(start.clone()),
            _ => None,
        })
        .expect("Next trial from idle starts the study");
    assert!(matches!(
        start,
        ToWorker::Start {
            step: true,
            step_delay_ms: 40,
            ..
        }
    ));
    assert!(s.step_mode);
    // The worker ran its trial and paused itself.
    worker_runs(&mut s, &start, 1);
    act(&mut s, Action::Worker(FromWorker::Paused));
    assert_eq!(s.run, RunState::Paused);
    assert_eq!(
        act(&mut s, Action::NextTrial),
        vec![Effect::Send(ToWorker::Next)]
    );
    assert_eq!(s.run, RunState::Running);
    // Slower while it runs.
    assert_eq!(
        act(&mut s, Action::Speed(0)),
        vec![Effect::Send(ToWorker::Speed { step_delay_ms: 0 })]
    );
    act(&mut s, Action::Worker(FromWorker::Paused));
    // Resume leaves step mode: the rest of the study runs on.
    assert_eq!(
        act(&mut s, Action::Resume),
        vec![Effect::Send(ToWorker::Resume)]
    );
    assert!(!s.step_mode);
    // Next trial does nothing while it runs.
    assert!(act(&mut s, Action::NextTrial).is_empty());
}

#[test]
fn stop_says_stopped_and_how_to_go_on_not_finished() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 1);
    act(&mut s, Action::Stop);
    assert_eq!(s.run, RunState::Stopping);
    act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "stopped".into(),
            stopped: true,
        }),
    );
    let n = s.notices.iter().find(|n| n.id == "finished").unwrap();
    assert_eq!(n.text, "You stopped the study; Resume continues it.");
    assert_eq!(n.level, "info");
}

#[test]
fn a_workers_journal_lines_build_the_study_and_it_is_saved() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    assert_eq!(s.data.trials.len(), 2);
    assert_eq!(s.counted(), 2);
    assert_eq!(s.progress.ended, 2);
    assert_eq!(s.progress.durations.len(), 2);
    assert_eq!(s.data.best().map(|t| t.number), Some(1));
    let effects = act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "all trials done".into(),
            stopped: false,
        }),
    );
    assert_eq!(s.run, RunState::Idle);
    assert_eq!(s.worker, None);
    assert!(effects.contains(&Effect::EndWorker));
    let saved = effects.iter().find_map(|e| match e {
        Effect::Save { meta, journal, .. } => Some((meta.clone(), journal.clone())),
        _ => None,
    });
    let (meta, journal) = saved.expect("a finished study is saved");
    assert_eq!(meta.finished, 2);
    assert_eq!(meta.best, Some(0.4));
    assert!(
        matches!(journal, JournalSave::Append { .. }),
        "after the first save, saves append: {journal:?}"
    );
    // The base and the chunks appended to it replay to the study.
    let replayed = JournalStorage::from_text(&saved_journal(&meta.id)).unwrap();
    assert_eq!(replayed.study_by_name(&meta.id).unwrap().trials.len(), 2);
    assert!(s.notices.iter().any(|n| n.id == "finished"));
}

#[test]
fn start_again_continues_the_study_with_its_journal() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "all trials done".into(),
            stopped: false,
        }),
    );
    // More trials, same setup otherwise: Start resumes.
    act(
        &mut s,
        Action::Edit(Rc::new(|s: &mut Setup| s.n_trials = 4)),
    );
    assert!(s.continues());
    let again = start(&mut s);
    let ToWorker::Start {
        study,
        journal,
        setup,
        ..
    } = &again
    else {
        panic!()
    };
    assert_eq!(Some(study), s.study_name.as_ref());
    assert_eq!(setup.n_trials, 4);
    let storage = JournalStorage::from_text(journal).unwrap();
    assert_eq!(storage.study_by_name(study).unwrap().trials.len(), 2);
    worker_runs(&mut s, &again, 2);
    assert_eq!(s.counted(), 4);
    // A different setup starts a new study.
    act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "done".into(),
            stopped: false,
        }),
    );
    act(&mut s, Action::Edit(Rc::new(|s: &mut Setup| s.epochs = 9)));
    assert!(!s.continues());
    let fresh = start(&mut s);
    let ToWorker::Start { journal, .. } = &fresh else {
        panic!()
    };
    assert!(journal.is_empty());
    assert!(s.data.trials.is_empty());
}

#[test]
fn pause_resume_and_stop_reach_the_worker() {
    let mut s = State::new(cpu_setup());
    start(&mut s);
    assert_eq!(
        act(&mut s, Action::Pause),
        vec![Effect::Send(ToWorker::Pause)]
    );
    assert_eq!(s.run, RunState::Paused);
    assert!(act(&mut s, Action::Pause).is_empty(), "already paused");
    assert_eq!(
        act(&mut s, Action::Resume),
        vec![Effect::Send(ToWorker::Resume)]
    );
    assert_eq!(
        act(&mut s, Action::Stop),
        vec![Effect::Send(ToWorker::Stop)]
    );
    assert_eq!(s.run, RunState::Stopping);
    act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "stopped".into(),
            stopped: false,
        }),
    );
    assert_eq!(s.run, RunState::Idle);
    assert!(act(&mut s, Action::Stop).is_empty(), "nothing to stop");
}

#[test]
fn a_failing_gpu_worker_hands_over_to_the_cpu_and_a_failing_cpu_worker_stops() {
    let mut s = State::new(Setup {
        backend: BackendChoice::Gpu,
        ..cpu_setup()
    });
    act(&mut s, Action::Start);
    act(
        &mut s,
        Action::Probed(GpuProbe {
            api: true,
            adapter: true,
            software: false,
            description: "GPU".into(),
        }),
    );
    assert_eq!(s.worker, Some(BackendKind::Wgpu));
    let effects = act(
        &mut s,
        Action::Worker(FromWorker::DeviceLost {
            message: "lost".into(),
        }),
    );
    assert_eq!(effects[0], Effect::EndWorker, "the GPU worker goes first");
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SpawnWorker {
            kind: BackendKind::Flex,
            ..
        }
    )));
    assert_eq!(s.worker, Some(BackendKind::Flex));
    assert!(s.notices.iter().any(|n| n.id == "device-lost"));
    let effects = act(&mut s, Action::WorkerCrashed("boom".into()));
    assert_eq!(effects, vec![Effect::EndWorker]);
    assert_eq!(s.run, RunState::Idle);
    let err = s.notices.iter().find(|n| n.id == "run-error").unwrap();
    assert!(err.text.contains("boom"), "{}", err.text);
}

#[test]
fn a_failed_trial_is_a_notice_unless_it_was_cancelled() {
    let mut s = State::new(cpu_setup());
    start(&mut s);
    let end = |reason: &str| {
        Action::Worker(FromWorker::TrialEnd {
            trial: 0,
            state: TrialState::Fail,
            value: None,
            reason: Some(reason.into()),
        })
    };
    act(&mut s, end("cancelled"));
    assert!(!s.notices.iter().any(|n| n.id == "trial-fail"));
    act(&mut s, end("NaN loss"));
    let n = s.notices.iter().find(|n| n.id == "trial-fail").unwrap();
    assert_eq!(n.text, "Trial 0 failed: NaN loss");
}

#[test]
fn with_several_trials_at_once_progress_is_counted_quietly() {
    let mut s = State::new(cpu_setup());
    start(&mut s);
    let (_, redraw) = reduce(
        &mut s,
        Action::Worker(FromWorker::Engine {
            slots: 4,
            reason: "fused".into(),
        }),
        &env(0.0),
    );
    assert!(redraw);
    for trial in 0..4 {
        let (_, redraw) = reduce(
            &mut s,
            Action::Worker(FromWorker::Progress {
                event: ProgressEvent::TrialStart {
                    trial,
                    epochs: 10,
                    steps_per_epoch: 3,
                },
            }),
            &env(0.0),
        );
        assert!(!redraw);
    }
    assert_eq!(s.progress.running.len(), 4);
    assert_eq!(s.selected, Some(0));
    reduce(
        &mut s,
        Action::Worker(FromWorker::Progress {
            event: ProgressEvent::Epoch {
                trial: 2,
                epoch: 3,
                epochs: 10,
                train_loss: 0.5,
                val_loss: 0.5,
                val_accuracy: 0.5,
                value: 0.5,
                samples_per_sec: 100.0,
            },
        }),
        &env(0.0),
    );
    assert_eq!(s.progress.running[&2], (3, 100.0));
    assert_eq!(s.progress.samples_per_sec, 100.0);
    // The shown trial ends: the page follows the newest running one.
    act(
        &mut s,
        Action::Worker(FromWorker::TrialEnd {
            trial: 0,
            state: TrialState::Pruned,
            value: Some(0.7),
            reason: None,
        }),
    );
    assert_eq!(s.selected, Some(3));
    assert_eq!(s.progress.running.len(), 3);
}

#[test]
fn the_table_sorts_and_scrolls() {
    let mut s = State::new(cpu_setup());
    let (_, redraw) = reduce(&mut s, Action::TableScroll(300), &env(0.0));
    assert!(redraw);
    assert_eq!(s.view.table_top, 300);
    let (_, redraw) = reduce(&mut s, Action::TableScroll(300), &env(0.0));
    assert!(!redraw, "scrolling within the same row draws nothing");
    act(&mut s, Action::Sort(Column::Value));
    assert_eq!(s.view.sort, (Column::Value, true));
    assert_eq!(s.view.table_top, 0, "a new order starts at the top");
    act(&mut s, Action::Sort(Column::Value));
    assert_eq!(s.view.sort, (Column::Value, false));
    act(&mut s, Action::Sort(Column::Number));
    assert_eq!(s.view.sort, (Column::Number, true));
}

#[test]
fn a_corrupt_saved_study_is_a_notice_and_the_page_keeps_its_study() {
    let mut s = State::new(cpu_setup());
    let meta = StudyMeta {
        id: "broken".into(),
        created_ms: 0.0,
        updated_ms: 0.0,
        setup: cpu_setup(),
        finished: 3,
        best: None,
    };
    let effects = act(
        &mut s,
        Action::Opened(Ok((meta.clone(), "{not json".into()))),
    );
    assert!(effects.is_empty());
    let n = s.notices.iter().find(|n| n.id == "corrupt").unwrap();
    assert!(n.text.contains("broken"), "{}", n.text);
    assert_eq!(s.study_name, None);
    // A journal without the study is corrupt too.
    act(&mut s, Action::Opened(Ok((meta, String::new()))));
    assert!(
        s.notices
            .iter()
            .any(|n| n.text.contains("has no study of that name"))
    );
}

#[test]
fn opening_a_saved_study_restores_it() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    let effects = act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "done".into(),
            stopped: false,
        }),
    );
    let Some(Effect::Save { meta, .. }) = effects
        .into_iter()
        .find(|e| matches!(e, Effect::Save { .. }))
    else {
        panic!("saved")
    };
    let journal = saved_journal(&meta.id);
    let mut page = State::new(Setup::preset("xor-mlp"));
    let effects = act(&mut page, Action::Opened(Ok((meta.clone(), journal))));
    assert!(effects.contains(&Effect::EndWorker));
    assert_eq!(page.study_name.as_deref(), Some(meta.id.as_str()));
    assert_eq!(page.setup, meta.setup);
    assert_eq!(page.data.trials.len(), 2);
    assert_eq!(page.selected, Some(1), "the newest trial is shown");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::SetHash(h) if h.contains("study=")))
    );
    // Opening while a run is in progress is refused.
    start(&mut page);
    assert!(act(&mut page, Action::Open(meta.id.clone())).is_empty());
    assert!(page.notices.iter().any(|n| n.id == "open"));
}

#[test]
fn a_pasted_link_changes_the_setup_only_when_idle() {
    let mut s = State::new(cpu_setup());
    let other = Setup {
        epochs: 7,
        ..cpu_setup()
    };
    act(&mut s, Action::HashChanged(other.to_hash()));
    assert_eq!(s.setup.epochs, 7);
    start(&mut s);
    let third = Setup {
        epochs: 9,
        ..cpu_setup()
    };
    act(&mut s, Action::HashChanged(third.to_hash()));
    assert_eq!(s.setup.epochs, 7);
    assert!(s.notices.iter().any(|n| n.id == "link"));
    act(&mut s, Action::HashChanged("setup=%7Bbroken".into()));
    let n = s.notices.iter().find(|n| n.id == "link").unwrap();
    assert_eq!(n.level, "error");
}

#[test]
fn the_page_opens_from_its_hash() {
    let mut s = State::new(Setup::preset("spiral-mlp"));
    let effects = act(&mut s, Action::Opening(String::new()));
    assert_eq!(effects[0], Effect::Restore { wanted: None });
    let mut s = State::new(Setup::preset("spiral-mlp"));
    let hash = format!("{}&study=my%20study", cpu_setup().to_hash());
    let effects = act(&mut s, Action::Opening(hash));
    assert_eq!(
        effects[0],
        Effect::Restore {
            wanted: Some("my study".into())
        }
    );
    assert_eq!(s.setup, cpu_setup());
    let mut s = State::new(Setup::preset("spiral-mlp"));
    let effects = act(&mut s, Action::Opening("synthetic=50".into()));
    assert!(s.synthetic);
    assert_eq!(s.data.trials.len(), 50);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Restore { .. } | Effect::List)),
        "a synthetic study restores nothing"
    );
    // A synthetic study is never saved, and Start begins a real one.
    assert!(s.save(&env(0.0)).is_none());
    let mut s2 = State::new(Setup::preset("spiral-mlp"));
    act(&mut s2, Action::Opening("synthetic=0".into()));
    assert!(
        s2.notices
            .iter()
            .any(|n| n.id == "synthetic" && n.level == "error")
    );
}

#[test]
fn downloads_export_the_study() {
    let mut s = State::new(cpu_setup());
    let effects = act(&mut s, Action::Download(ExportFormat::Csv));
    assert!(effects.is_empty());
    assert!(s.notices.iter().any(|n| n.id == "download"));
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    let effects = act(&mut s, Action::Download(ExportFormat::Csv));
    let [Effect::Download { name, mime, bytes }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(name.ends_with(".csv"));
    assert_eq!(*mime, "text/csv");
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.lines().count(), 3, "a header and two trials:\n{text}");
    let effects = act(&mut s, Action::Download(ExportFormat::TensorBoard));
    let [Effect::Download { name, bytes, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(name.ends_with("-tensorboard.zip"), "{name}");
    assert_eq!(&bytes[..2], b"PK");
    // study.db: the SQLite module gets the study as a journal that replays to it.
    let effects = act(&mut s, Action::DownloadSqlite);
    let [Effect::DownloadSqlite { name, journal }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(name.ends_with(".db"), "{name}");
    let replayed = sweeplab_core::storage::JournalStorage::from_text(journal).unwrap();
    let study = replayed.studies().next().unwrap();
    assert_eq!(study.trials.len(), 2);
    act(&mut s, Action::Downloaded(name.clone()));
    assert!(
        s.notices.iter().any(|n| n.id == "download"
            && n.level == "info"
            && n.text.contains("optuna-dashboard"))
    );
}

#[test]
fn yaml_fills_the_editor_or_says_why_not() {
    let mut s = State::new(cpu_setup());
    act(&mut s, Action::YamlText("method: [".into()));
    assert!(s.yaml.open);
    act(&mut s, Action::YamlApply);
    assert!(s.yaml.error.is_some());
    act(
        &mut s,
        Action::YamlText(
            "method: random\nmetric: {name: val_loss, goal: minimize}\nparameters:\n  lr: {min: 0.001, max: 0.1}\n"
                .into(),
        ),
    );
    let effects = act(&mut s, Action::YamlApply);
    assert!(s.yaml.error.is_none());
    assert!(!s.yaml.open);
    assert_eq!(s.setup.params.len(), 1);
    // The hash follows, the new space will be measured, and a notice says what came in.
    assert!(matches!(
        effects.as_slice(),
        [Effect::SetHash(_), Effect::EstimateIn(_)]
    ));
    let imported = s.notices.iter().find(|n| n.id == "imported").unwrap();
    assert!(
        imported
            .text
            .starts_with("Imported 1 parameter (lr), Random"),
        "{}",
        imported.text
    );
}

#[test]
fn a_still_setup_is_measured_once_and_the_estimate_follows_trials_and_epochs() {
    let mut s = State::new(cpu_setup());
    let effects = act(&mut s, Action::Opening(String::new()));
    assert!(effects.contains(&Effect::EstimateIn(ESTIMATE_DELAY_MS)));
    // The backend Start would pick decides what is measured: the probe first (kept).
    let effects = act(&mut s, Action::EstimateDue);
    assert_eq!(effects, vec![Effect::ProbeForEstimate]);
    assert_eq!(s.estimate_text().as_deref(), Some("measuring this device…"));
    let probe = GpuProbe {
        api: true,
        adapter: true,
        software: true,
        description: "google swiftshader".into(),
    };
    let effects = act(&mut s, Action::ProbedForEstimate(probe));
    let Some(Effect::SpawnEstimator { kind, start }) = effects.first() else {
        panic!("{effects:?}");
    };
    assert_eq!(*kind, BackendKind::Flex);
    assert!(matches!(start, ToWorker::Estimate { .. }));
    // A second due while it measures starts nothing.
    assert!(act(&mut s, Action::EstimateDue).is_empty());
    let effects = act(
        &mut s,
        Action::Estimator(FromWorker::Estimated {
            kind: BackendKind::Flex,
            samples_per_sec: 1000.0,
            secs_per_epoch: 4.0,
        }),
    );
    assert_eq!(effects, vec![Effect::EndEstimator]);
    let (trials, epochs) = (s.setup.n_trials, s.setup.epochs);
    let text = s.estimate_text().unwrap();
    assert!(
        text.starts_with(&format!(
            "≈ {} on this CPU",
            crate::data::fmt_rough(4.0 * f64::from(trials) * f64::from(epochs))
        )),
        "{text}"
    );
    // More trials: the same measurement, a longer estimate; nothing measured again.
    let effects = act(
        &mut s,
        Action::Edit(Rc::new(|s: &mut Setup| s.n_trials = 600)),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::EstimateIn(_))));
    assert!(
        s.estimate_text().unwrap().starts_with("≈ "),
        "{:?}",
        s.estimate_text()
    );
    // A different search space is measured again.
    let effects = act(
        &mut s,
        Action::Edit(Rc::new(|s: &mut Setup| s.params.truncate(1))),
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::EstimateIn(_))));
    assert_eq!(s.estimate_text(), None);
    // The probe is known now: the next measurement spawns at once.
    let effects = act(&mut s, Action::EstimateDue);
    assert!(matches!(
        effects.as_slice(),
        [Effect::SpawnEstimator { .. }]
    ));
    // A failed measurement shows nothing and is not retried for this setup.
    act(
        &mut s,
        Action::Estimator(FromWorker::Error {
            message: "no".into(),
        }),
    );
    assert_eq!(s.estimate_text(), None);
    assert!(act(&mut s, Action::EstimateDue).is_empty());
    // An invalid setup is not measured.
    act(
        &mut s,
        Action::Edit(Rc::new(|s: &mut Setup| s.params.truncate(0))),
    );
    assert!(
        act(&mut s, Action::EstimateDue).is_empty(),
        "an invalid setup is not measured"
    );
}

#[test]
fn with_a_real_gpu_the_cpu_estimate_says_what_webgpu_would_take() {
    // The CPU was chosen, and a hardware adapter is there: both are measured, the CPU first.
    let mut s = State::new(cpu_setup());
    let hardware = GpuProbe {
        api: true,
        adapter: true,
        software: false,
        description: "nvidia ampere".into(),
    };
    act(&mut s, Action::EstimateDue);
    let effects = act(&mut s, Action::ProbedForEstimate(hardware));
    assert!(matches!(
        effects.as_slice(),
        [Effect::SpawnEstimator {
            kind: BackendKind::Flex,
            ..
        }]
    ));
    let effects = act(
        &mut s,
        Action::Estimator(FromWorker::Estimated {
            kind: BackendKind::Flex,
            samples_per_sec: 100.0,
            secs_per_epoch: 60.0,
        }),
    );
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::SpawnEstimator {
                kind: BackendKind::Wgpu,
                ..
            }
        )),
        "{effects:?}"
    );
    act(
        &mut s,
        Action::Estimator(FromWorker::Estimated {
            kind: BackendKind::Wgpu,
            samples_per_sec: 1000.0,
            secs_per_epoch: 6.0,
        }),
    );
    let (t, e) = (f64::from(s.setup.n_trials), f64::from(s.setup.epochs));
    let text = s.estimate_text().unwrap();
    assert_eq!(
        text,
        format!(
            "≈ {} on this CPU, less when trials are pruned; ≈ {} with WebGPU",
            crate::data::fmt_rough(60.0 * t * e),
            crate::data::fmt_rough(6.0 * t * e)
        )
    );
    // Both known: nothing more to measure.
    assert!(act(&mut s, Action::EstimateDue).is_empty());
}

#[test]
fn paused_time_is_left_out_of_elapsed_and_remaining() {
    let mut p = Progress {
        run_started: 0.0,
        trial_started: 1000.0,
        ..Progress::default()
    };
    p.pause(3000.0);
    assert_eq!(p.elapsed_s(5000.0), 3.0, "paused since 3 s");
    assert_eq!(p.trial_elapsed_s(5000.0), 2.0);
    p.resume(6000.0);
    assert_eq!(p.elapsed_s(7000.0), 4.0);
    // A trial that starts after the pause counts from its own start.
    p.trial_started = 7000.0;
    p.trial_paused_base = p.paused_total(7000.0);
    assert_eq!(p.trial_elapsed_s(9000.0), 2.0);
}

#[test]
fn a_trial_a_closed_tab_left_running_opens_as_interrupted_and_is_saved() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 1);
    // The tab closes while trial 1 trains: its journal has it RUNNING.
    let ToWorker::Start { study: name, .. } = &m else {
        panic!()
    };
    let mut study = Study::load(
        s.storage.clone(),
        name,
        Box::new(RandomSampler::new(Some(0))),
    )
    .unwrap();
    let space = cpu_setup().search_space().unwrap();
    let (running, _) = study.ask_with(&space).unwrap();
    let journal = study.storage().to_compact_journal(WORKER_ID);
    let meta = StudyMeta {
        id: name.clone(),
        created_ms: 0.0,
        updated_ms: 0.0,
        setup: cpu_setup(),
        finished: 1,
        best: None,
    };
    let mut page = State::new(Setup::preset("spiral-mlp"));
    let effects = reduce(&mut page, Action::Opened(Ok((meta, journal))), &env(5.0)).0;
    let t = &page.data.trials[running as usize];
    assert_eq!(t.state, TrialState::Fail);
    assert_eq!(
        t.user_attrs[sweeplab_core::trial::INTERRUPTED_ATTR],
        Json::Bool(true)
    );
    assert_eq!(page.counted(), 1, "the finished trial is kept and counts");
    assert!(page.notices.iter().any(|n| n.id == "interrupted"));
    let saved = effects.iter().find_map(|e| match e {
        Effect::Save {
            journal: JournalSave::Whole(text),
            ..
        } => Some(text.clone()),
        _ => None,
    });
    let replayed =
        JournalStorage::from_text(&saved.expect("saved whole, as it was changed")).unwrap();
    assert_eq!(
        replayed.study_by_name(name).unwrap().trials[running as usize].state,
        TrialState::Fail
    );
}

#[test]
fn fast_epochs_refresh_the_study_plots_at_most_ten_times_a_second() {
    let mut s = State::new(cpu_setup());
    start(&mut s);
    let epoch = |e: usize| {
        Action::Worker(FromWorker::Progress {
            event: ProgressEvent::Epoch {
                trial: 0,
                epoch: e,
                epochs: 100,
                train_loss: 0.5,
                val_loss: 0.5,
                val_accuracy: 0.5,
                value: 0.5,
                samples_per_sec: 1.0,
            },
        })
    };
    let before = s.data.version;
    for e in 1..=50 {
        reduce(&mut s, epoch(e), &env(1000.0 + e as f64));
    }
    assert_eq!(
        s.data.version,
        before + 1,
        "50 epochs within 50 ms: one refresh"
    );
    assert_eq!(s.live.values.len(), 50, "the live curve keeps every epoch");
    reduce(&mut s, epoch(51), &env(1200.0));
    assert_eq!(s.data.version, before + 2);
}

#[test]
fn a_full_quota_is_a_plain_notice_and_the_study_stays_downloadable() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    act(
        &mut s,
        Action::Saved(Err(
            "saving: QuotaExceededError: The quota has been exceeded.".into(),
        )),
    );
    let n = s.notices.iter().find(|n| n.id == "storage").unwrap();
    assert_eq!(n.level, "warn");
    assert!(
        n.text.contains("storage for the page is full"),
        "{}",
        n.text
    );
    let effects = act(&mut s, Action::Download(ExportFormat::Optuna));
    assert!(
        matches!(effects.as_slice(), [Effect::Download { bytes, .. }] if !bytes.is_empty()),
        "{effects:?}"
    );
}

#[test]
fn a_live_synthetic_study_streams_its_last_trials_and_is_saved_at_the_end() {
    let mut s = State::new(cpu_setup());
    let effects = act(
        &mut s,
        Action::Opening("#synthetic=50&params=20&live=5&save=1".into()),
    );
    assert!(effects.contains(&Effect::SyntheticNextIn(SYNTHETIC_EVERY_MS)));
    assert_eq!(s.data.trials.len(), 45);
    assert_eq!(s.data.trials[0].params_internal().count(), 20);
    assert!(!s.synthetic, "save=1 keeps it like a real study");
    for k in 1..=5 {
        let effects = act(&mut s, Action::SyntheticNext);
        assert_eq!(s.data.trials.len(), 45 + k);
        let saves = effects
            .iter()
            .filter(|e| matches!(e, Effect::Save { .. }))
            .count();
        assert_eq!(saves, 1, "saved after every trial, as a real study is");
    }
    assert!(act(&mut s, Action::SyntheticNext).is_empty());
    assert!(s.hash().contains("study=synthetic-50"));
    // Without save=1 it is not saved, and a bad parameter count is a notice.
    let mut s = State::new(cpu_setup());
    act(&mut s, Action::Opening("#synthetic=10&params=99".into()));
    assert!(s.synthetic);
    assert!(s.notices.iter().any(|n| n.text.contains("params=99")));
}

#[test]
fn a_new_trial_shares_the_finished_ones_with_the_last_snapshot() {
    let mut s = State::new(cpu_setup());
    act(
        &mut s,
        Action::Opening("#synthetic=50&params=4&live=5&save=1".into()),
    );
    let before = s.data.clone();
    act(&mut s, Action::SyntheticNext);
    assert_eq!(s.data.trials.len(), before.trials.len() + 1);
    assert_ne!(s.data, before, "a new snapshot, so the charts redraw");
    for (old, new) in before.trials.iter().zip(s.data.trials.iter()) {
        assert!(
            Rc::ptr_eq(old, new),
            "trial {} was copied although it had finished",
            old.number
        );
    }
    assert_eq!(s.data.axes().len(), 4);
}

#[test]
fn importances_are_computed_for_their_chart_and_follow_new_trials() {
    let mut s = State::new(cpu_setup());
    act(
        &mut s,
        Action::Opening("#synthetic=60&params=4&live=5&save=1".into()),
    );
    assert!(
        s.importances.is_empty(),
        "not computed while another chart is shown"
    );
    act(&mut s, Action::Tab("importance"));
    assert_eq!(s.importances.len(), 4);
    let first = s.importances.clone();
    let total: f64 = first.iter().map(|(_, v)| v).sum();
    assert!((total - 1.0).abs() < 1e-9, "{first:?}");
    act(&mut s, Action::SyntheticNext);
    assert!(
        !Rc::ptr_eq(&first, &s.importances),
        "a new completed trial recomputes them while their chart is shown"
    );
    // Switching away and back with no new trial keeps them.
    act(&mut s, Action::Tab("history"));
    let kept = s.importances.clone();
    act(&mut s, Action::Tab("importance"));
    assert!(Rc::ptr_eq(&kept, &s.importances));
}

#[test]
fn saves_go_one_at_a_time_append_what_is_new_and_are_whole_after_a_failure() {
    let mut s = State::new(cpu_setup());
    let e = |s: &mut State, a: Action| reduce(s, a, &env(1000.0)).0;
    let saves = |effects: &[Effect]| -> Vec<JournalSave> {
        effects
            .iter()
            .filter_map(|x| match x {
                Effect::Save { journal, .. } => Some(journal.clone()),
                _ => None,
            })
            .collect()
    };
    let opened = e(
        &mut s,
        Action::Opening("#synthetic=20&params=4&live=4&save=1".into()),
    );
    let first = saves(&opened);
    assert!(
        matches!(first.as_slice(), [JournalSave::Whole(_)]),
        "{first:?}"
    );
    let JournalSave::Whole(base) = &first[0] else {
        unreachable!()
    };
    // Two trials arrive while the first save is written: no second save in flight.
    assert!(saves(&e(&mut s, Action::SyntheticNext)).is_empty());
    assert!(saves(&e(&mut s, Action::SyntheticNext)).is_empty());
    // Its answer makes the pending save: both trials' lines, appended.
    let next = saves(&e(&mut s, Action::Saved(Ok(()))));
    let [JournalSave::Append { seq: 0, lines }] = next.as_slice() else {
        panic!("{next:?}")
    };
    assert_eq!(lines.lines().count(), 2);
    let replayed =
        JournalStorage::from_text(&JournalSave::read_back(base, std::slice::from_ref(lines)))
            .unwrap();
    assert_eq!(
        replayed.study_by_name("synthetic-20").unwrap().trials.len(),
        18
    );
    // A failed save: the next one writes the study whole.
    e(&mut s, Action::Saved(Err("QuotaExceededError".into())));
    let after = saves(&e(&mut s, Action::SyntheticNext));
    let [JournalSave::Whole(text)] = after.as_slice() else {
        panic!("{after:?}")
    };
    let replayed = JournalStorage::from_text(text).unwrap();
    assert_eq!(
        replayed.study_by_name("synthetic-20").unwrap().trials.len(),
        19
    );
}

#[test]
fn a_lesson_link_opens_its_setup_and_steps_change_it() {
    let mut s = State::new(Setup::preset("spiral-mlp"));
    act(&mut s, Action::Opening("#lesson=random-vs-tpe".into()));
    let l = s.lesson.clone().expect("the lesson opens");
    assert_eq!((l.name.as_str(), l.step), ("random-vs-tpe", 0));
    assert_eq!(s.setup.sampler.id(), "random");
    assert_eq!(s.setup.n_trials, 20);
    // Step 3 switches the sampler to TPE, and the URL says where the lesson is.
    let effects = act(&mut s, Action::LessonStep(2));
    assert_eq!(s.setup.sampler.id(), "tpe");
    let hash = s.hash();
    assert!(hash.ends_with("&lesson=random-vs-tpe&step=3"), "{hash}");
    assert!(effects.contains(&Effect::SetHash(hash.clone())));
    // Back to step 1: its setup again.
    act(&mut s, Action::LessonStep(0));
    assert_eq!(s.setup.sampler.id(), "random");
    // A reload of that URL opens the same step with the setup it carries.
    let mut again = State::new(Setup::preset("xor-mlp"));
    act(&mut again, Action::Opening(format!("#{}", s.hash())));
    assert_eq!(again.lesson.as_ref().map(|l| l.step), Some(0));
    assert_eq!(again.setup, s.setup);
    act(&mut s, Action::LessonClose);
    assert!(s.lesson.is_none() && !s.hash().contains("lesson="));
}

#[test]
fn a_teachers_lesson_travels_in_the_link_and_a_bad_one_is_a_notice() {
    let text = "title: Mine\npreset: xor-mlp\nhide: [space]\nsteps:\n  - text: One\n  - text: Two\n    setup: {n_trials: 7}\n";
    let hash = format!("#lesson={}", crate::setup::encode_component(text));
    let mut s = State::new(Setup::preset("spiral-mlp"));
    act(&mut s, Action::Opening(hash));
    let l = s.lesson.clone().unwrap();
    assert_eq!(l.source.as_deref(), Some(text));
    assert_eq!(s.setup.preset, "xor-mlp");
    act(&mut s, Action::LessonStep(1));
    assert_eq!(s.setup.n_trials, 7);
    // The URL carries the text itself.
    let mut again = State::new(Setup::preset("spiral-mlp"));
    act(&mut again, Action::Opening(format!("#{}", s.hash())));
    assert_eq!(again.lesson.map(|l| l.step), Some(1));

    let mut bad = State::new(Setup::preset("spiral-mlp"));
    act(
        &mut bad,
        Action::Opening("#lesson=title%3A%20x%0Asteps%3A%20%5B".into()),
    );
    assert!(bad.lesson.is_none());
    let n = bad.notices.iter().find(|n| n.id == "lesson").unwrap();
    assert!(
        n.text.starts_with("This lesson link could not be read:"),
        "{}",
        n.text
    );
    assert_eq!(bad.setup, Setup::preset("spiral-mlp"), "the normal page");
}

#[test]
fn histograms_are_recorded_unless_turned_off_and_the_choice_reaches_the_worker() {
    let mut s = State::new(cpu_setup());
    assert!(s.histograms, "on by default");
    let start = spawned(act(&mut s, Action::Start));
    assert!(matches!(
        start,
        ToWorker::Start {
            histograms: true,
            ..
        }
    ));

    let mut s = State::new(cpu_setup());
    act(&mut s, Action::Histograms(false));
    let start = spawned(act(&mut s, Action::Start));
    assert!(matches!(
        start,
        ToWorker::Start {
            histograms: false,
            ..
        }
    ));
}

#[test]
fn a_language_model_study_trains_its_baselines_unless_turned_off_and_shows_them() {
    use sweeplab_core::baselines::{BASELINES_ATTR, Baseline, baselines_to_json};
    use sweeplab_core::storage::journal::JournalOp;
    let lora = || Setup {
        backend: BackendChoice::Cpu,
        n_trials: 2,
        ..Setup::preset("lora-finetune")
    };
    let mut s = State::new(lora());
    assert!(s.baselines, "on by default");
    act(&mut s, Action::Baselines(false));
    let start = spawned(act(&mut s, Action::Start));
    assert!(matches!(
        start,
        ToWorker::Start {
            baselines: false,
            ..
        }
    ));

    let mut s = State::new(lora());
    let start = spawned(act(&mut s, Action::Start));
    assert!(matches!(
        start,
        ToWorker::Start {
            baselines: true,
            ..
        }
    ));
    worker_runs(&mut s, &start, 2);
    assert!(s.study_baselines().is_empty(), "none before they train");
    act(
        &mut s,
        Action::Worker(FromWorker::Baseline {
            name: "full fine-tuning".into(),
            index: 1,
            count: 4,
        }),
    );
    assert_eq!(
        s.baseline_phase,
        Some(("full fine-tuning".to_string(), 1, 4))
    );
    // The results arrive as the study's attribute, in the worker's journal lines.
    let baselines = vec![
        Baseline {
            name: "frozen base".into(),
            kind: "frozen".into(),
            base: "f32".into(),
            val_loss: Some(2.0444),
            val_accuracy: Some(0.41),
            base_memory_bytes: 1_550_976,
            trainable_params: 0,
            steps: 0,
            batch_size: 0,
            lr: 0.0,
            seconds: 1.2,
            note: None,
        },
        Baseline {
            name: "full fine-tuning".into(),
            kind: "finetune".into(),
            base: "f32".into(),
            val_loss: Some(1.91),
            val_accuracy: Some(0.45),
            base_memory_bytes: 1_550_976,
            trainable_params: 387_744,
            steps: 120,
            batch_size: 8,
            lr: 0.003,
            seconds: 40.0,
            note: None,
        },
    ];
    let line = JournalOp::SetStudyUserAttr {
        study_id: 0,
        key: BASELINES_ATTR.into(),
        value: baselines_to_json(&baselines),
    }
    .to_line(WORKER_ID);
    act(&mut s, Action::Worker(FromWorker::Ops { lines: line }));
    assert_eq!(s.study_baselines(), baselines);
    act(
        &mut s,
        Action::Worker(FromWorker::Finished {
            reason: "all trials done; 2 baselines trained".into(),
            stopped: false,
        }),
    );
    assert_eq!(s.baseline_phase, None, "the run is over");
    assert_eq!(s.study_baselines(), baselines, "kept with the study");
}

#[test]
fn the_best_trials_lora_adapter_downloads_as_a_zip_of_pefts_files() {
    let mut s = State::new(cpu_setup());
    let start = spawned(act(&mut s, Action::Start));
    worker_runs(&mut s, &start, 2);
    let best = s.data.best().expect("a best trial").number;
    // No adapter yet: a clear notice, no download.
    assert!(s.best_adapter().is_none());
    assert!(act(&mut s, Action::DownloadAdapter).is_empty());
    assert!(
        s.notices
            .iter()
            .any(|n| n.id == "download" && n.text.contains("holds no adapters of the best trial"))
    );
    let other = if best == 0 { 1 } else { 0 };
    for trial in [other, best] {
        act(
            &mut s,
            Action::Worker(FromWorker::Adapter {
                trial,
                safetensors: vec![trial as u8; 4],
                config: format!("{{\"trial\": {trial}}}"),
            }),
        );
    }
    assert_eq!(s.best_adapter().map(|(n, _)| n), Some(best));
    let effects = act(&mut s, Action::DownloadAdapter);
    let [Effect::Download { name, bytes, .. }] = effects.as_slice() else {
        panic!("one download: {effects:?}")
    };
    assert!(
        name.ends_with(&format!("-trial-{best:03}-adapter.zip")),
        "{name}"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["adapter_config.json", "adapter_model.safetensors"]);
    let mut weights = Vec::new();
    std::io::Read::read_to_end(
        &mut zip.by_name("adapter_model.safetensors").unwrap(),
        &mut weights,
    )
    .unwrap();
    assert_eq!(
        weights,
        vec![best as u8; 4],
        "the best trial's, not the other's"
    );
}

/// The adapters a save carries, if any.
fn saved_adapter(effects: &[Effect]) -> Option<(u64, Rc<LmAdapter>)> {
    effects.iter().find_map(|e| match e {
        Effect::Save { adapter, .. } => adapter.clone(),
        _ => None,
    })
}

#[test]
fn the_best_trials_adapters_are_saved_with_the_study_and_come_back_when_it_is_opened() {
    let mut s = State::new(cpu_setup());
    let m = start(&mut s);
    worker_runs(&mut s, &m, 2);
    let adapter = |trial: u64| LmAdapter {
        safetensors: vec![trial as u8; 16],
        config: format!("{{\"r\": {trial}}}"),
    };
    for trial in 0..2 {
        act(
            &mut s,
            Action::Worker(FromWorker::Adapter {
                trial,
                safetensors: adapter(trial).safetensors,
                config: adapter(trial).config,
            }),
        );
    }
    let best = s.data.best().unwrap().number;
    let effects = act(
        &mut s,
        Action::Worker(FromWorker::Ops {
            lines: String::new(),
        }),
    );
    let (trial, saved) = saved_adapter(&effects).expect("the save carries the best's adapters");
    assert_eq!((trial, &*saved), (best, &adapter(best)));
    // The page keeps the best trial's adapters only (the other trial is finished).
    let kept: Vec<u64> = s.adapters.keys().map(|(_, t)| *t).collect();
    assert_eq!(kept, [best]);
    // Saved once: the next save carries none, unless that save failed (answered by hand).
    let no_lines = || {
        Action::Worker(FromWorker::Ops {
            lines: String::new(),
        })
    };
    let effects = reduce(&mut s, no_lines(), &env(2000.0)).0;
    assert!(saved_adapter(&effects).is_none());
    let fail = Action::Saved(Err("QuotaExceededError".into()));
    reduce(&mut s, fail, &env(2000.0));
    let effects = reduce(&mut s, no_lines(), &env(2000.0)).0;
    assert_eq!(saved_adapter(&effects).map(|(t, _)| t), Some(best));
    let meta = effects
        .iter()
        .find_map(|e| match e {
            Effect::Save { meta, .. } => Some(meta.clone()),
            _ => None,
        })
        .unwrap();

    // Another page opens the study: it reads the adapters back and offers their download.
    let mut page = State::new(Setup::preset("xor-mlp"));
    let effects = act(
        &mut page,
        Action::Opened(Ok((meta.clone(), saved_journal(&meta.id)))),
    );
    assert!(effects.contains(&Effect::LoadAdapter(meta.id.clone())));
    assert!(page.best_adapter().is_none(), "not before they are read");
    act(
        &mut page,
        Action::AdapterLoaded {
            id: meta.id.clone(),
            adapter: Ok(Some((best, adapter(best)))),
        },
    );
    assert_eq!(
        page.best_adapter().map(|(t, a)| (t, (*a).clone())),
        Some((best, adapter(best)))
    );
    let effects = act(&mut page, Action::DownloadAdapter);
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Download { name, .. } if name.ends_with(&format!("-trial-{best:03}-adapter.zip")))),
        "{effects:?}"
    );
    // They are the saved ones: the page's saves do not write them again.
    let effects = act(
        &mut page,
        Action::Worker(FromWorker::Ops {
            lines: String::new(),
        }),
    );
    assert!(saved_adapter(&effects).is_none());
    // Adapters read for another study, or that could not be read, change nothing but say so.
    act(
        &mut page,
        Action::AdapterLoaded {
            id: "other".into(),
            adapter: Ok(Some((0, adapter(0)))),
        },
    );
    assert!(!page.adapters.contains_key(&("other".to_string(), 0)));
    act(
        &mut page,
        Action::AdapterLoaded {
            id: meta.id.clone(),
            adapter: Err("the adapters saved with it are corrupt".into()),
        },
    );
    assert!(
        page.notices
            .iter()
            .any(|n| n.id == "adapter" && n.text.contains("corrupt"))
    );
}
