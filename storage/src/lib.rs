//! Optuna's storages for sweeplab, named by Optuna's storage URLs:
//!
//! - a journal file (Optuna's `JournalFileBackend`), shared under Optuna's file lock;
//! - `sqlite:///study.db`: Optuna's RDB schema in an embedded SQLite file;
//! - `postgresql://…`: Optuna's RDB schema on a PostgreSQL server, shared by workers on
//!   many machines;
//! - `redis://…`: Optuna's journal on a Redis server (`JournalRedisBackend`).
//!
//! Every front end opens a [`Storage`] from a `--storage` argument and then works the same
//! way on each: [`Storage::load_all`] to read, [`Storage::transact`] for one change (the
//! CLI's `create-study`, `ask`, `tell`), and [`Storage::into_store`] for the study loop's
//! [`StudyStore`](sweeplab_core::store::StudyStore). The search engine in `sweeplab-core` knows nothing of databases: this
//! crate is where the drivers live.

//!
//! Without its default feature `full`, the crate is Optuna's RDB schema on SQLite alone
//! (no PostgreSQL, Redis or journal files), which builds for wasm32: the playground writes
//! its `study.db` download with [`rdb::sqlite_file_bytes`].

#![forbid(unsafe_code)]

pub mod rdb;
#[cfg(feature = "full")]
pub mod redis_journal;
pub mod redis_log;
#[cfg(feature = "full")]
mod storages;
pub mod url;

pub use rdb::{DbError, Rdb, RdbStore, load_sqlite_bytes, sqlite_file_bytes};
#[cfg(feature = "full")]
pub use redis_journal::{RedisError, RedisJournal};
#[cfg(feature = "full")]
pub use storages::*;
pub use url::{SCHEMES, StorageUrl, UrlError};
