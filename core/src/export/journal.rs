//! The Optuna journal as an export and an import, on top of the core's journal storage
//! (`storage::journal`): the compact writer, the parser and the replay are reused as they are.
//!
//! Export: one study as a compact journal (CREATE_STUDY plus one CREATE_TRIAL template per
//! trial), which Python Optuna replays to the same trials. Metric series travel as trial
//! user attributes `series:<name>`. Like Optuna, a COMPLETE trial with a NaN objective is
//! written as FAIL with no values (a NaN objective is how Optuna fails a trial, and
//! optuna-dashboard cannot serve a COMPLETE trial with a NaN value).
//!
//! Import: a journal file's bytes to a replayed storage; bad UTF-8, torn or invalid lines
//! are errors that name the file and the line (or byte).

use std::borrow::Cow;

use crate::storage::journal::{JournalStorage, StudyRecord, study_to_compact_journal};
use crate::trial::TrialState;

use super::ExportError;

/// One study as a compact Optuna journal (the study gets id 0 in the new file).
pub fn journal_for_study(study: &StudyRecord, worker_id: &str) -> String {
    study_to_compact_journal(&as_optuna_stores(study), 0, worker_id)
}

/// `study` as Optuna can store and serve it: a COMPLETE trial with a NaN objective becomes
/// FAIL with no values (borrowed unchanged when there is none).
pub fn as_optuna_stores(study: &StudyRecord) -> Cow<'_, StudyRecord> {
    let nan_complete = |t: &crate::trial::FrozenTrial| {
        t.state == TrialState::Complete
            && t.values
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| x.is_nan()))
    };
    if !study.trials.iter().any(nan_complete) {
        return Cow::Borrowed(study);
    }
    let mut fixed = study.clone();
    for t in &mut fixed.trials {
        if nan_complete(t) {
            t.state = TrialState::Fail;
            t.values = None;
        }
    }
    Cow::Owned(fixed)
}

/// Reads an Optuna journal file's bytes (written by Optuna or by sweeplab) into a replayed
/// storage. `file` names the file in errors.
pub fn import_journal(file: &str, bytes: &[u8]) -> Result<JournalStorage, ExportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ExportError::Utf8 {
        file: file.to_string(),
        offset: e.valid_up_to() as u64,
    })?;
    JournalStorage::from_text(text).map_err(|source| ExportError::Journal {
        file: file.to_string(),
        source,
    })
}
