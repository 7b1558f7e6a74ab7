//! wasm-bindgen-test of the page's browser-only pieces (IndexedDB, the URL hash, the
//! download helper, the WebGPU probe), run in headless Chromium by `cargo xtask e2e`:
//!
//! ```text
//! CHROMEDRIVER=/usr/bin/chromedriver \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=<target>/tools/bin/wasm-bindgen-test-runner \
//! cargo test -p sweeplab-web --target wasm32-unknown-unknown
//! ```
#![cfg(all(target_arch = "wasm32", feature = "ui"))]

use sweeplab_web::browser;
use sweeplab_web::setup::Setup;
use sweeplab_web::store::{self, Listed, StudyMeta};
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
    store::save(&meta("wbt-a", 10.0), "journal a\n")
        .await
        .unwrap();
    store::save(&meta("wbt-b", 20.0), "journal b\n")
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

#[wasm_bindgen_test]
fn downloads_do_not_fail() {
    browser::download("x.txt", "text/plain", b"hello").unwrap();
}

#[wasm_bindgen_test]
async fn the_gpu_probe_answers() {
    let p = browser::probe_gpu().await;
    // Headless Chromium with --enable-unsafe-webgpu gives SwiftShader, a software adapter.
    if p.adapter {
        assert!(!p.description.is_empty());
    }
}
