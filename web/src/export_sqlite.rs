//! The `study.db` download: a study as an Optuna 5.0 SQLite database, written in the
//! browser by `sweeplab-storage` (SQLite itself, compiled to wasm32). optuna-dashboard's
//! browser-only app opens the file by drag and drop; `optuna.load_study` and
//! `optuna-dashboard sqlite:///study.db` read it too.
//!
//! This is its own wasm module (about 1 MB of SQLite), which the page imports only when the
//! button is pressed; the page hands it the study as the Optuna journal it already exports.

use sweeplab_core::storage::JournalStorage;
use wasm_bindgen::prelude::*;

/// The bytes of `study.db` for the study in `journal` (a compact Optuna journal of one
/// study, as the page's journal export writes it). Throws an error naming what is wrong.
#[wasm_bindgen]
pub fn study_db(journal: &str) -> Result<Vec<u8>, JsError> {
    let storage = JournalStorage::from_text(journal)
        .map_err(|e| JsError::new(&format!("the study's journal does not replay: {e}")))?;
    let study = storage
        .studies()
        .next()
        .ok_or_else(|| JsError::new("the journal holds no study"))?;
    sweeplab_storage::sqlite_file_bytes(study)
        .map_err(|e| JsError::new(&format!("writing the SQLite database: {e}")))
}
