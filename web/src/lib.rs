//! # sweeplab-web
//!
//! sweeplab's browser playground: a Yew app that sets up a hyperparameter search, runs it
//! with the core's study (TPE, random or grid sampling; any of Optuna's pruners),
//! trains every trial in a Web Worker (WebGPU or the CPU) with the core's trainer, draws
//! live curves and study plots, keeps studies in IndexedDB, shares setups in the URL hash,
//! and downloads studies through the core's exporters.
//!
//! The logic lives in `sweeplab-core`; this crate is the page. It builds two ways: with the
//! default `ui` feature it is the page's module; with `worker-cpu` or `worker-gpu` (and no
//! default features) it is the training worker's module, loaded only when a study starts;
//! with `export-sqlite` it is the module that writes the `study.db` download, loaded when
//! that button is pressed.
//! The pure parts (setup model, chart data, scales, YAML import) are tested natively; the
//! browser parts with wasm-bindgen-test and the end-to-end tests (`cargo xtask e2e`).

pub mod data;
pub mod lesson;
pub mod protocol;
pub mod scale;
pub mod setup;
pub mod state;
pub mod text;
pub mod yaml;

pub use text::plain_quotes;

#[cfg(feature = "ui")]
pub mod app;
#[cfg(feature = "ui")]
pub mod browser;
#[cfg(feature = "ui")]
pub mod charts;
#[cfg(feature = "ui")]
pub mod components;
#[cfg(feature = "ui")]
pub mod store;

#[cfg(any(feature = "worker-cpu", feature = "worker-gpu"))]
pub mod init;
#[cfg(any(feature = "worker-cpu", feature = "worker-gpu"))]
pub mod worker;

#[cfg(feature = "bench")]
pub mod bench;

#[cfg(feature = "export-sqlite")]
pub mod export_sqlite;

/// Starts the playground: installs the panic hook and mounts the app on `#app`.
#[cfg(all(feature = "ui", target_arch = "wasm32"))]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    browser::install_panic_hook();
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(el) => {
            // Remove the loading placeholder.
            el.set_inner_html("");
            yew::Renderer::<app::App>::with_root(el).render();
        }
        None => {
            yew::Renderer::<app::App>::new().render();
        }
    }
}
