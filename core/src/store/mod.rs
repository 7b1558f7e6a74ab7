//! Where a study's operations go: the one persistence interface of the study loop.
//!
//! A front end keeps a [`Study`] in memory and persists it through a [`StudyStore`]: the
//! browser hands the study's operations to the page (IndexedDB) with [`Forward`], the CLI
//! appends them to a journal file that other processes (sweeplab or Python Optuna) may be
//! writing too ([`SharedJournal`]). This module sits above both `study` and `storage`;
//! `storage` imports nothing of the study.

#[cfg(not(target_arch = "wasm32"))]
mod shared;

#[cfg(not(target_arch = "wasm32"))]
pub use shared::{SharedJournal, SharedJournalError};

use crate::json::Json;
use crate::samplers::RandomSampler;
use crate::storage::JournalStorage;
use crate::study::{Study, StudyError, TellResult};
use crate::trial::{FAIL_REASON_ATTR, INTERRUPTED_ATTR, TrialState};

/// Where a study's operations go: the one persistence interface of the study loop.
///
/// [`StudyStore::write`] is the unit of change: it brings the study up to date with what
/// other writers stored, runs a change, and persists every operation the study has pending
/// (the change's and any made since the last write, e.g. the reports of a trial that just
/// trained). On a storage shared between processes this happens under its lock, so trial
/// numbers and ids handed out inside the change are the ones every reader will see.
pub trait StudyStore {
    /// The storage's own failures.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs `change` on the up-to-date study, then persists the pending operations. The
    /// operations are persisted even when `change` fails part-way (each one the study
    /// applied is valid), and then `change`'s error is returned.
    ///
    /// On a storage where a writer that takes no lock can get in between (Python Optuna on
    /// Redis), `change` may run again: the study is then put back as it was before the
    /// first run ([`Study::restore`]), brought up to date, and changed anew; only the last
    /// run's operations are stored.
    fn write<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<Self::Error>;

    /// [`StudyStore::write`] for a change that creates a trial (an ask). A store that hands
    /// out trial numbers under a lock may take it from the start, rather than find out
    /// after the change and make it again; the others just write.
    fn create<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<Self::Error>,
    {
        self.write(study, change)
    }
}

/// A store for a study that lives in one process: after each change it hands the study to
/// a callback that takes the pending operations (`|s| s.take_pending()` and send them on, as
/// the browser worker posts them to the page); `Forward(|_: &mut Study| {})` leaves them
/// pending for the caller.
#[derive(Clone, Copy, Debug, Default)]
pub struct Forward<F>(pub F);

impl<F: FnMut(&mut Study)> StudyStore for Forward<F> {
    type Error = std::convert::Infallible;

    fn write<R, E>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<Self::Error>,
    {
        let out = change(study);
        (self.0)(study);
        out
    }
}

/// Ends a RUNNING trial as FAIL with the `interrupted` attribute and `why` as its
/// `fail_reason`, so the study stays consistent and the trial does not count. Does nothing
/// to a trial that is not running.
pub fn fail_interrupted(study: &mut Study, number: u64, why: &str) -> Result<(), StudyError> {
    if study
        .trial(number)
        .is_ok_and(|t| t.state == TrialState::Running)
    {
        study.set_user_attr(number, INTERRUPTED_ATTR, Json::Bool(true))?;
        study.set_user_attr(
            number,
            FAIL_REASON_ATTR,
            Json::Str(format!("interrupted: {why}")),
        )?;
        study.tell(number, TellResult::Fail)?;
    }
    Ok(())
}

/// Fails, as interrupted with `why`, every trial of study `name` that `storage` holds as
/// RUNNING, writing as `worker`; returns the storage and their numbers. For a stored study
/// no process runs any more (the page's saved study after its tab closed); a live study
/// goes through the study loop's `resume` instead.
pub fn fail_running(
    storage: JournalStorage,
    name: &str,
    worker: &str,
    why: &str,
) -> Result<(JournalStorage, Vec<u64>), StudyError> {
    let running: Vec<u64> = storage
        .study_by_name(name)
        .map(|s| {
            s.trials
                .iter()
                .filter(|t| t.state == TrialState::Running)
                .map(|t| t.number)
                .collect()
        })
        .unwrap_or_default();
    if running.is_empty() {
        return Ok((storage, running));
    }
    let mut study = Study::load(storage, name, Box::new(RandomSampler::new(None)))?;
    study.set_worker_id(worker);
    for &n in &running {
        fail_interrupted(&mut study, n, why)?;
    }
    Ok((study.storage().clone(), running))
}
