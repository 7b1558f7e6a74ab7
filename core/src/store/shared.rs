//! A study's journal file shared with other processes, as a [`StudyStore`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::StudyStore;
use crate::storage::file::{FileError, JournalFile, replay_text};
use crate::storage::journal::{JournalOp, JournalStorage, parse_journal};
use crate::study::{Study, StudyError};

/// Errors of a [`SharedJournal`].
#[derive(Debug, thiserror::Error)]
pub enum SharedJournalError {
    /// The journal file failed (I/O, lock, a bad line, …).
    #[error(transparent)]
    File(#[from] FileError),
    /// Another writer changed what this process's pending operations change.
    #[error("{path}: another writer changed the same trial: {source}")]
    Conflict {
        /// The file.
        path: PathBuf,
        /// The operation that no longer applies.
        source: Box<StudyError>,
    },
}

/// A study's journal file shared with other writers: every [`write`](StudyStore::write)
/// takes the lock, reads the lines appended since this process last looked, brings the
/// study up to date with them, runs the change and appends the study's pending operations.
///
/// This is what Optuna's `JournalStorage` does on each call (`optuna/storages/journal/
/// _storage.py` of Optuna 5.0: sync with the backend, then append): trial ids and numbers
/// are handed out against the journal as every reader replays it, so two sweeps, or a sweep
/// and a Python ask/tell loop, can share one file.
#[derive(Debug)]
pub struct SharedJournal {
    file: JournalFile,
    /// Bytes of the file this process has replayed (and appended).
    offset: u64,
}

impl SharedJournal {
    /// Reads and replays the whole journal under the lock; the storage it returns is the
    /// state the next [`write`](StudyStore::write) starts from.
    pub fn open(file: JournalFile) -> Result<(SharedJournal, JournalStorage), FileError> {
        let guard = file.lock()?;
        let text = file.read_text()?;
        let storage = replay_text(&file, &text)?;
        drop(guard);
        let offset = text.len() as u64;
        Ok((SharedJournal { file, offset }, storage))
    }

    /// The journal file.
    pub fn file(&self) -> &JournalFile {
        &self.file
    }

    /// The operations other writers appended since `self.offset`, read under the lock.
    fn read_new(&self) -> Result<(Vec<JournalOp>, u64), FileError> {
        let path = self.file.path();
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.offset == 0 => {
                return Ok((Vec::new(), 0));
            }
            Err(e) => return Err(self.file.io(e)),
        };
        let len = f.metadata().map_err(|e| self.file.io(e))?.len();
        if len < self.offset {
            return Err(FileError::Shrunk {
                path: path.to_path_buf(),
                had: self.offset,
                now: len,
            });
        }
        if len == self.offset {
            return Ok((Vec::new(), len));
        }
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| self.file.io(e))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(|e| self.file.io(e))?;
        let text = String::from_utf8(bytes).map_err(|e| FileError::Utf8 {
            path: path.to_path_buf(),
            offset: self.offset as usize + e.utf8_error().valid_up_to(),
        })?;
        let lines = parse_journal(&text).map_err(|source| FileError::Journal {
            path: path.to_path_buf(),
            source,
        })?;
        Ok((
            lines.into_iter().map(|(_, op)| op).collect(),
            self.offset + text.len() as u64,
        ))
    }

    fn sync_locked(&mut self, study: &mut Study) -> Result<(), SharedJournalError> {
        let (foreign, end) = self.read_new()?;
        if !foreign.is_empty() {
            if study.commutes_with(&foreign) {
                study.apply_foreign(&foreign);
            } else {
                let base = self.file.load()?;
                study
                    .rebase(base)
                    .map_err(|e| SharedJournalError::Conflict {
                        path: self.file.path().to_path_buf(),
                        source: Box::new(e),
                    })?;
            }
        }
        self.offset = end;
        Ok(())
    }
}

impl StudyStore for SharedJournal {
    type Error = SharedJournalError;

    fn write<R, E>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<SharedJournalError>,
    {
        let file = self.file.clone();
        let guard = file.lock().map_err(SharedJournalError::from)?;
        self.sync_locked(study)?;
        let out = change(study);
        let ops = study.take_pending();
        if !ops.is_empty() {
            let worker = study.worker_id().to_string();
            let written = file
                .append(&ops, &worker)
                .map_err(SharedJournalError::from)?;
            self.offset += written;
        }
        drop(guard);
        out
    }
}
