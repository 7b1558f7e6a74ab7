//! [`Storage`]: every storage a `--storage` argument names, opened the same way (native
//! builds with the `full` feature).

use std::sync::Arc;

use sweeplab_core::Study;
use sweeplab_core::storage::JournalStorage;
use sweeplab_core::storage::file::{FileError, JournalFile, WaitNotice};
use sweeplab_core::storage::journal::JournalOp;
use sweeplab_core::store::{SharedJournal, SharedJournalError, StudyStore};

use crate::rdb::{DbError, Rdb, RdbStore};
use crate::redis_journal::{RedisError, RedisJournal};
use crate::url::{StorageUrl, UrlError};

/// Errors of a [`Storage`].
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The `--storage` argument names nothing sweeplab can open.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The journal file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The shared journal failed.
    #[error(transparent)]
    Shared(#[from] SharedJournalError),
    /// The Redis journal failed.
    #[error("{url}: {error}")]
    Redis {
        /// The server, password hidden.
        url: String,
        /// What failed.
        error: RedisError,
    },
    /// The database failed.
    #[error("{url}: {error}")]
    Db {
        /// The database, password hidden.
        url: String,
        /// What failed.
        error: DbError,
    },
}

/// An open storage.
#[derive(Debug)]
pub enum Storage {
    /// A journal file.
    Journal(JournalFile),
    /// An Optuna RDB storage (SQLite or PostgreSQL).
    Rdb(Rdb),
    /// Optuna's journal on a Redis server.
    Redis(Box<RedisJournal>),
}

impl Storage {
    /// Opens the storage a `--storage` argument names. A journal file is created by its
    /// first write; an SQLite file, and Optuna's tables in an empty database, when opened.
    /// `notice` hears what a journal writer waits for when another holds the lock.
    pub fn open(arg: &str, notice: Option<WaitNotice>) -> Result<Storage, StorageError> {
        let url = StorageUrl::parse(arg)?;
        let shown = url.shown();
        let db = |source: DbError| StorageError::Db {
            url: shown.clone(),
            error: source,
        };
        Ok(match url {
            StorageUrl::Journal(path) => {
                let mut file = JournalFile::new(path);
                if let Some(n) = notice {
                    file = file.with_wait_notice(n);
                }
                Storage::Journal(file)
            }
            StorageUrl::Sqlite(path) => Storage::Rdb(Rdb::open_sqlite(&path).map_err(db)?),
            StorageUrl::Postgres(p) => {
                Storage::Rdb(Rdb::open_postgres(&p.conninfo, &p.shown).map_err(db)?)
            }
            StorageUrl::Redis(r) => Storage::Redis(Box::new(
                RedisJournal::open(&r.url, &r.prefix, &r.shown).map_err(|error| {
                    StorageError::Redis {
                        url: r.shown.clone(),
                        error,
                    }
                })?,
            )),
        })
    }

    /// The storage as messages name it.
    pub fn shown(&self) -> String {
        match self {
            Storage::Journal(f) => f.path().display().to_string(),
            Storage::Rdb(r) => r.shown().to_string(),
            Storage::Redis(r) => r.shown().to_string(),
        }
    }

    /// Every study the storage holds, with its trials.
    pub fn load_all(&mut self) -> Result<JournalStorage, StorageError> {
        match self {
            Storage::Journal(f) => {
                if !f.path().exists() {
                    return Ok(JournalStorage::new());
                }
                let _guard = f.lock()?;
                Ok(f.load()?)
            }
            Storage::Rdb(r) => r.load_all().map_err(|e| self_db(r, e)),
            Storage::Redis(r) => Ok(r.replica().clone()),
        }
    }

    /// Runs `change` on the storage's state, holding study `study` (on a journal file: the
    /// whole file, under its lock), and writes the operations it returns as `worker`.
    /// Nothing is written when `change` fails.
    pub fn transact<R, E>(
        &mut self,
        study: &str,
        worker: &str,
        mut change: impl FnMut(JournalStorage) -> Result<(R, Vec<JournalOp>), E>,
    ) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        match self {
            Storage::Journal(f) => {
                let worker = worker.to_string();
                f.transact(|s| -> Result<_, Wrap<E>> {
                    let (out, ops) = change(s).map_err(Wrap::Inner)?;
                    Ok((out, ops, worker))
                })
                .map_err(|w| w.finish(""))
            }
            Storage::Rdb(r) => {
                let shown = r.shown().to_string();
                r.transact(study, |s| change(s).map_err(Wrap::Inner))
                    .map_err(|w| w.finish(&shown))
            }
            Storage::Redis(r) => {
                let shown = r.shown().to_string();
                r.transact(worker, |s| change(s).map_err(Wrap::Inner))
                    .map_err(|w| w.finish(&shown))
            }
        }
    }

    /// The study loop's store for study `study`, and the state to open the study from.
    pub fn into_store(self, study: &str) -> Result<(AnyStore, JournalStorage), StorageError> {
        match self {
            Storage::Journal(f) => {
                let (store, storage) = SharedJournal::open(f)?;
                Ok((AnyStore::Journal(store), storage))
            }
            Storage::Rdb(r) => {
                let mut store = RdbStore::new(r);
                let storage = store.load(study).map_err(|e| self_db(store.rdb(), e))?;
                Ok((AnyStore::Rdb(Box::new(store)), storage))
            }
            Storage::Redis(r) => {
                let storage = r.replica().clone();
                Ok((AnyStore::Redis(r), storage))
            }
        }
    }
}

fn self_db(r: &Rdb, error: DbError) -> StorageError {
    StorageError::Db {
        url: r.shown().to_string(),
        error,
    }
}

/// `E`, or the storage's own error on the way out of a transaction.
enum Wrap<E> {
    Inner(E),
    File(FileError),
    Db(DbError),
    Shared(SharedJournalError),
    Redis(RedisError),
}

impl<E: From<StorageError>> Wrap<E> {
    /// The caller's error; a storage error names `url`.
    fn finish(self, url: &str) -> E {
        match self {
            Wrap::Inner(e) => e,
            Wrap::File(e) => E::from(StorageError::File(e)),
            Wrap::Shared(e) => E::from(StorageError::Shared(e)),
            Wrap::Db(error) => E::from(StorageError::Db {
                url: url.to_string(),
                error,
            }),
            Wrap::Redis(error) => E::from(StorageError::Redis {
                url: url.to_string(),
                error,
            }),
        }
    }
}

impl<E> From<FileError> for Wrap<E> {
    fn from(e: FileError) -> Self {
        Wrap::File(e)
    }
}

impl<E> From<DbError> for Wrap<E> {
    fn from(e: DbError) -> Self {
        Wrap::Db(e)
    }
}

impl<E> From<RedisError> for Wrap<E> {
    fn from(e: RedisError) -> Self {
        Wrap::Redis(e)
    }
}

impl<E> From<SharedJournalError> for Wrap<E> {
    fn from(e: SharedJournalError) -> Self {
        Wrap::Shared(e)
    }
}

/// The study loop's store on any storage.
#[derive(Debug)]
pub enum AnyStore {
    /// A journal file shared with other processes.
    Journal(SharedJournal),
    /// An Optuna RDB storage.
    Rdb(Box<RdbStore>),
    /// Optuna's journal on Redis.
    Redis(Box<RedisJournal>),
}

impl AnyStore {
    /// Gives every RUNNING trial this store creates from now on its first heartbeat in
    /// the write that creates it ([`Rdb::beat_new_trials`],
    /// [`RedisJournal::beat_new_trials`]); nothing on a journal file, which has no
    /// heartbeats.
    pub fn beat_new_trials(&mut self) {
        match self {
            AnyStore::Journal(_) => {}
            AnyStore::Rdb(s) => s.rdb().beat_new_trials(),
            AnyStore::Redis(s) => s.beat_new_trials(),
        }
    }

    /// The RDB storage, for heartbeats; `None` on a journal file.
    pub fn rdb(&mut self) -> Option<&mut Rdb> {
        match self {
            AnyStore::Journal(_) | AnyStore::Redis(_) => None,
            AnyStore::Rdb(s) => Some(s.rdb()),
        }
    }
}

impl AnyStore {
    /// [`StudyStore::write`] or, with `creates`, [`StudyStore::create`] on the store inside.
    fn change<R, E>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, E>,
        creates: bool,
    ) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        macro_rules! on {
            ($s:expr, $url:expr) => {{
                let url = $url;
                let f = |st: &mut Study| change(st).map_err(Wrap::Inner);
                if creates {
                    $s.create(study, f)
                } else {
                    $s.write(study, f)
                }
                .map_err(|w| w.finish(&url))
            }};
        }
        match self {
            AnyStore::Journal(s) => on!(s, s.file().path().display().to_string()),
            AnyStore::Rdb(s) => on!(s, s.rdb().shown().to_string()),
            AnyStore::Redis(s) => on!(s, s.shown().to_string()),
        }
    }
}

impl StudyStore for AnyStore {
    type Error = StorageError;

    fn write<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        self.change(study, change, false)
    }

    fn create<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        self.change(study, change, true)
    }
}

/// Where a worker records heartbeats of its running trials and finds other workers' stale
/// ones: an RDB storage (Optuna's `trial_heartbeats`) or Redis (sweeplab's own hash).
pub trait Heartbeats: Send {
    /// Records a heartbeat of trial `number` of study `name` now.
    fn record(&mut self, name: &str, number: u64) -> Result<(), StorageError>;
    /// Study `name`'s RUNNING trials whose last heartbeat is older than `grace`.
    fn stale(&mut self, name: &str, grace: std::time::Duration) -> Result<Vec<u64>, StorageError>;
}

impl Heartbeats for Rdb {
    fn record(&mut self, name: &str, number: u64) -> Result<(), StorageError> {
        self.record_heartbeat(name, number)
            .map_err(|error| self_db(self, error))
    }

    fn stale(&mut self, name: &str, grace: std::time::Duration) -> Result<Vec<u64>, StorageError> {
        self.stale_trials(name, grace)
            .map_err(|error| self_db(self, error))
    }
}

impl Heartbeats for RedisJournal {
    fn record(&mut self, name: &str, number: u64) -> Result<(), StorageError> {
        self.record_heartbeat(name, number)
            .map_err(|error| StorageError::Redis {
                url: self.shown().to_string(),
                error,
            })
    }

    fn stale(&mut self, name: &str, grace: std::time::Duration) -> Result<Vec<u64>, StorageError> {
        self.stale_trials(name, grace)
            .map_err(|error| StorageError::Redis {
                url: self.shown().to_string(),
                error,
            })
    }
}

impl Storage {
    /// Whether the storage is shared by workers on many machines and keeps heartbeats
    /// (a database or Redis; not a journal file).
    pub fn has_heartbeats(&self) -> bool {
        !matches!(self, Storage::Journal(_))
    }

    /// The storage as a [`Heartbeats`] store (a second connection, for a heartbeat
    /// thread); `None` for a journal file.
    pub fn into_heartbeats(self) -> Option<Box<dyn Heartbeats>> {
        match self {
            Storage::Journal(_) => None,
            Storage::Rdb(r) => Some(Box::new(r)),
            Storage::Redis(r) => Some(r),
        }
    }
}

/// Prints what a journal writer waits for on stderr, as the CLI does.
pub fn stderr_notice() -> WaitNotice {
    Arc::new(|msg: &str| eprintln!("sweeplab: {msg}"))
}
