//! wasm-bindgen-test of the page's browser-only pieces (IndexedDB, the URL hash, the
//! download helper, the WebGPU probe), run in headless Chromium by `cargo xtask e2e`:
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=<target>/tools/bin/wasm-bindgen-test-runner \
//! cargo test -p sweeplab-web --target wasm32-unknown-unknown
//! ```
#![cfg(all(target_arch = "wasm32", feature = "ui"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::cell::RefCell;
use std::io::{Cursor, Read};
use std::rc::Rc;

use sweeplab_core::export::{ExportFormat, ExportOptions, export_study, import_journal, names};
use sweeplab_core::{Distribution, RandomSampler, Study, StudyDirection, TrialState};
use sweeplab_web::browser;
use sweeplab_web::setup::Setup;
use sweeplab_web::store::{self, JournalSave, Listed, LmAdapter, StudyMeta};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn meta(id: &str, updated: f64) -> StudyMeta {
    StudyMeta {
        id: id.into(),
        created_ms: 1.0,
        updated_ms: updated,
        setup: Setup::preset("xor-mlp"),
        finished: 2,
        best: Some(0.25),
    }
}

#[wasm_bindgen_test]
async fn studies_round_trip_through_indexeddb() {
    let whole = |text: &str| JournalSave::Whole(text.into());
    store::save(&meta("wbt-a", 10.0), &whole("journal a\n"), None)
        .await
        .unwrap();
    store::save(&meta("wbt-b", 20.0), &whole("journal b\n"), None)
        .await
        .unwrap();
    let (m, j) = store::load("wbt-a").await.unwrap();
    assert_eq!(m, meta("wbt-a", 10.0));
    assert_eq!(j, "journal a\n");
    let list = store::list().await.unwrap();
    let ids: Vec<String> = list
        .iter()
        .filter_map(|l| match l {
            Listed::Ok(m) if m.id.starts_with("wbt-") => Some(m.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["wbt-b", "wbt-a"], "newest first");
    store::delete("wbt-a").await.unwrap();
    assert!(store::load("wbt-a").await.is_err());
    store::delete("wbt-b").await.unwrap();
}

#[wasm_bindgen_test]
async fn the_best_trials_adapters_are_kept_with_the_study_and_replaced_when_it_changes() {
    let adapter = |trial: u8| LmAdapter {
        safetensors: vec![trial; 300],
        config: format!("{{\"r\": {trial}}}"),
    };
    let journal = JournalSave::Whole("journal\n".into());
    store::save(&meta("wbt-lm", 40.0), &journal, None)
        .await
        .unwrap();
    assert_eq!(store::load_adapter("wbt-lm").await.unwrap(), None);
    store::save(&meta("wbt-lm", 41.0), &journal, Some((3, &adapter(3))))
        .await
        .unwrap();
    assert_eq!(
        store::load_adapter("wbt-lm").await.unwrap(),
        Some((3, adapter(3)))
    );
    // A later best trial's replace them; a save without adapters keeps them.
    store::save(&meta("wbt-lm", 42.0), &journal, Some((7, &adapter(7))))
        .await
        .unwrap();
    store::save(&meta("wbt-lm", 43.0), &journal, None)
        .await
        .unwrap();
    assert_eq!(
        store::load_adapter("wbt-lm").await.unwrap(),
        Some((7, adapter(7)))
    );
    assert_eq!(store::load("wbt-lm").await.unwrap().1, "journal\n");
    // Deleting the study deletes them.
    store::delete("wbt-lm").await.unwrap();
    assert_eq!(store::load_adapter("wbt-lm").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn appended_chunks_read_back_in_order_until_a_whole_save_replaces_them() {
    let append = |seq: u64, lines: &str| JournalSave::Append {
        seq,
        lines: lines.into(),
    };
    let m = meta("wbt-c", 30.0);
    store::save(&m, &JournalSave::Whole("base\n".into()), None)
        .await
        .unwrap();
    // A study whose name starts with this one's keeps its chunks to itself.
    store::save(
        &meta("wbt-c2", 31.0),
        &JournalSave::Whole("other\n".into()),
        None,
    )
    .await
    .unwrap();
    store::save(&meta("wbt-c2", 31.0), &append(0, "other 0\n"), None)
        .await
        .unwrap();
    // Ten chunks, so that their keys must sort as numbers (9 before 10).
    for seq in 0..11 {
        store::save(&m, &append(seq, &format!("line {seq}\n")), None)
            .await
            .unwrap();
    }
    let (_, j) = store::load("wbt-c").await.unwrap();
    let want: String = std::iter::once("base\n".to_string())
        .chain((0..11).map(|s| format!("line {s}\n")))
        .collect();
    assert_eq!(j, want);
    // A whole save replaces the base and drops the chunks; new chunks follow it.
    store::save(&m, &JournalSave::Whole("compact\n".into()), None)
        .await
        .unwrap();
    store::save(&m, &append(0, "next\n"), None).await.unwrap();
    assert_eq!(store::load("wbt-c").await.unwrap().1, "compact\nnext\n");
    assert_eq!(store::load("wbt-c2").await.unwrap().1, "other\nother 0\n");
    // Deleting a study deletes its chunks: a new study of that name starts clean.
    store::delete("wbt-c").await.unwrap();
    store::save(&m, &JournalSave::Whole("fresh\n".into()), None)
        .await
        .unwrap();
    assert_eq!(store::load("wbt-c").await.unwrap().1, "fresh\n");
    store::delete("wbt-c").await.unwrap();
    store::delete("wbt-c2").await.unwrap();
}

#[wasm_bindgen_test]
async fn a_corrupt_summary_is_listed_as_corrupt() {
    store::put_raw("wbt-bad", "{not json", "").await.unwrap();
    let list = store::list().await.unwrap();
    assert!(
        list.iter()
            .any(|l| matches!(l, Listed::Corrupt(id, _) if id == "wbt-bad"))
    );
    let err = store::load("wbt-bad").await.unwrap_err();
    assert!(err.contains("corrupt"), "{err}");
    store::delete("wbt-bad").await.unwrap();
}

#[wasm_bindgen_test]
fn the_hash_holds_the_setup() {
    let mut s = Setup::preset("gauss-mlp");
    s.n_trials = 9;
    browser::set_hash(&s.to_hash());
    assert_eq!(Setup::from_hash(&browser::hash()).unwrap(), Some(s));
    browser::set_hash("");
}

/// A study of three COMPLETE trials over one float, as the page would export it.
fn small_study() -> Study {
    let mut study = Study::create(
        "wbt-export",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )
    .unwrap();
    let x = Distribution::float(-1.0, 1.0);
    for _ in 0..3 {
        let n = study.ask().unwrap();
        let v = study.suggest(n, "x", &x).unwrap().as_f64().unwrap();
        study.report(n, 0, v * v + 1.0).unwrap();
        study.tell_value(n, v * v).unwrap();
    }
    study
}

/// The single file `study` exports to in `format` (journal, zip).
fn export_file(study: &Study, format: ExportFormat) -> Vec<u8> {
    let record = study.storage().study(study.study_id()).unwrap();
    let mut files = export_study(record, format, &ExportOptions::default()).unwrap();
    assert_eq!(files.len(), 1, "{format} is a single file");
    files.remove(0).bytes
}

/// Hands `bytes` to [`browser::download`] and reads back what the browser was given: the
/// link's file name, and the blob behind its object URL (MIME type and bytes). The click on
/// the link is cancelled, so nothing lands in the downloads folder.
async fn download_and_read(name: &str, mime: &str, bytes: &[u8]) -> (String, String, Vec<u8>) {
    let window = web_sys::window().unwrap();
    let doc = window.document().unwrap();
    let link: Rc<RefCell<Option<(String, String)>>> = Rc::default();
    let seen = link.clone();
    let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let anchor = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlAnchorElement>().ok());
        if let Some(a) = anchor {
            e.prevent_default();
            *seen.borrow_mut() = Some((a.download(), a.href()));
        }
    });
    let listener = on_click.as_ref().unchecked_ref();
    doc.add_event_listener_with_callback_and_bool("click", listener, true)
        .unwrap();
    let result = browser::download(name, mime, bytes);
    doc.remove_event_listener_with_callback_and_bool("click", listener, true)
        .unwrap();
    result.unwrap();
    let (file_name, url) = link
        .borrow_mut()
        .take()
        .expect("the download clicked no link");
    assert!(url.starts_with("blob:"), "not an object URL: {url}");
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    let blob: web_sys::Blob = JsFuture::from(response.blob().unwrap())
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    (
        file_name,
        blob.type_(),
        js_sys::Uint8Array::new(&buffer).to_vec(),
    )
}

/// The study in a journal's bytes: its trials' states.
fn journal_states(file: &str, bytes: &[u8]) -> Vec<TrialState> {
    let storage = import_journal(file, bytes).unwrap();
    let study = storage.study_by_name("wbt-export").unwrap();
    study.trials.iter().map(|t| t.state).collect()
}

#[wasm_bindgen_test]
async fn a_downloaded_journal_is_the_export_and_replays() {
    let journal = export_file(&small_study(), ExportFormat::Optuna);
    assert!(!journal.is_empty());
    let (name, mime, bytes) =
        download_and_read("wbt-export.journal.log", "text/plain", &journal).await;
    assert_eq!(name, "wbt-export.journal.log");
    assert_eq!(mime, "text/plain");
    assert_eq!(bytes, journal);
    assert_eq!(journal_states(&name, &bytes), [TrialState::Complete; 3]);
}

#[wasm_bindgen_test]
async fn a_downloaded_zip_holds_every_format() {
    let zip = export_file(&small_study(), ExportFormat::Zip);
    let (name, mime, bytes) = download_and_read("wbt-export.zip", "application/zip", &zip).await;
    assert_eq!(name, "wbt-export.zip");
    assert_eq!(mime, "application/zip");
    assert_eq!(bytes, zip);
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let files: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    let has = |pred: &dyn Fn(&str) -> bool| files.iter().any(|f| pred(f));
    assert!(has(&|f| f == names::CSV), "{files:?}");
    assert!(
        has(&|f| f.starts_with("tensorboard/") && f.contains("tfevents")),
        "{files:?}"
    );
    assert!(
        has(&|f| f.starts_with("wandb/offline-run-") && f.ends_with(".wandb")),
        "{files:?}"
    );
    let mut journal = Vec::new();
    archive
        .by_name(names::JOURNAL)
        .unwrap()
        .read_to_end(&mut journal)
        .unwrap();
    assert_eq!(
        journal_states(names::JOURNAL, &journal),
        [TrialState::Complete; 3]
    );
}

#[wasm_bindgen_test]
async fn the_gpu_probe_answers() {
    let p = browser::probe_gpu().await;
    // Headless Chromium with --enable-unsafe-webgpu gives SwiftShader, a software adapter.
    if p.adapter {
        assert!(!p.description.is_empty());
    } else {
        assert!(p.description.is_empty() && !p.software, "{p:?}");
        // `eprintln!` goes nowhere on wasm32-unknown-unknown; the runner prints what
        // `console_log!` writes (with `--nocapture`, or when a test fails).
        console_log!(
            "the_gpu_probe_answers: skipped: no adapter (navigator.gpu {}), nothing to check",
            if p.api { "present" } else { "absent" }
        );
    }
}
