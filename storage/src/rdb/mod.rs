//! Optuna's RDB storage (`optuna/storages/_rdb/storage.py` of Optuna 5.0) on SQLite and
//! PostgreSQL: the same tables, the same stored values, the same trial numbering.
//!
//! A study is read into a [`JournalStorage`] (the state the study loop works on), changed
//! there, and the journal operations the change made are written back as rows, all in one
//! transaction that holds the study: `SELECT … FOR UPDATE` on its row on PostgreSQL, as
//! Optuna's `_create_new_trial` takes it, and an IMMEDIATE transaction on SQLite. Trial
//! numbers are therefore the ones every reader, Optuna included, sees.

mod load;
#[cfg(feature = "postgres")]
mod pg;
mod replica;
mod schema;
pub mod sql;
mod write;

use std::time::Duration;

use sweeplab_core::Study;
use sweeplab_core::export::as_optuna_stores;
use sweeplab_core::storage::JournalStorage;
use sweeplab_core::storage::journal::{JournalError, JournalOp, StudyRecord, study_compact_ops};
use sweeplab_core::store::StudyStore;

pub use schema::{ALEMBIC_HEAD, LIBRARY_VERSION, SCHEMA_VERSION};
use sql::{Conn, Dialect, Val};

/// Errors of the RDB storage.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(String),
    /// PostgreSQL failed (connection, credentials, a statement).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The database's schema is not Optuna 5.0's.
    #[error("{0}")]
    Schema(String),
    /// An operation does not apply (unknown study, finished trial, …).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A stored value sweeplab cannot read.
    #[error("{0}")]
    Data(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e.to_string())
    }
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for DbError {
    /// The server's own message (with its detail and hint) when it sent one, else the
    /// driver's (which already names the cause, e.g. a refused connection).
    fn from(e: tokio_postgres::Error) -> DbError {
        let text = match e.as_db_error() {
            Some(db) => {
                let mut t = format!("{}: {}", db.severity(), db.message());
                if let Some(d) = db.detail() {
                    t.push_str(&format!(" ({d})"));
                }
                if let Some(h) = db.hint() {
                    t.push_str(&format!("; hint: {h}"));
                }
                t
            }
            None => {
                // The driver's message names the kind ("error connecting to server"); its
                // source says why ("Connection refused").
                let mut t = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    let c_text = c.to_string();
                    if !t.contains(&c_text) {
                        t.push_str(&format!(": {c_text}"));
                    }
                    cause = c.source();
                }
                t
            }
        };
        DbError::Postgres(text)
    }
}

impl From<sweeplab_core::StudyError> for DbError {
    fn from(e: sweeplab_core::StudyError) -> DbError {
        DbError::Data(e.to_string())
    }
}

/// A study read from the database: its state as the study loop sees it, and which rows its
/// local ids stand for.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// The studies and trials, with local ids (0, 1, … in load order).
    pub storage: JournalStorage,
    /// `studies.study_id` of each local study id.
    pub study_ids: Vec<i64>,
    /// `trials.trial_id` of each local trial id.
    pub trial_ids: Vec<i64>,
    /// The database is being filled by this writer alone (a new file): trials get the
    /// numbers the replay gives them instead of counting the study's rows for each one,
    /// which is quadratic in the number of trials.
    pub alone: bool,
}

/// Study `study` as the bytes of an Optuna 5.0 SQLite database file: what
/// `sqlite:///study.db` holds after the study was written there, for optuna-dashboard and
/// `optuna.load_study`. Built in memory, so it works where there is no file system (the
/// playground). A COMPLETE trial with a NaN objective is stored as FAIL, as in the journal
/// export.
pub fn sqlite_file_bytes(study: &StudyRecord) -> Result<Vec<u8>, DbError> {
    // The empty schema is made once per process and copied after that.
    static EMPTY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let mut c = rusqlite::Connection::open_in_memory()?;
    let fresh = match EMPTY.get() {
        Some(empty) => {
            c.deserialize_read_exact(rusqlite::MAIN_DB, &empty[..], empty.len(), false)?;
            false
        }
        None => true,
    };
    let mut conn = Conn::Sqlite(c);
    if fresh {
        schema::ensure(&mut conn)?;
        let _ = EMPTY.set(sqlite_image(&conn)?);
    }
    let ops = study_compact_ops(&as_optuna_stores(study), 0);
    conn.batch("BEGIN IMMEDIATE")?;
    let mut loaded = Loaded {
        alone: true,
        ..Loaded::default()
    };
    if let Err(e) = write::apply(&mut conn, &mut loaded, &ops, false) {
        let _ = conn.rollback();
        return Err(e);
    }
    conn.commit()?;
    sqlite_image(&conn)
}

/// The bytes of the file an SQLite connection holds.
fn sqlite_image(conn: &Conn) -> Result<Vec<u8>, DbError> {
    match conn {
        Conn::Sqlite(c) => Ok(c.serialize(rusqlite::MAIN_DB)?.to_vec()),
        #[cfg(feature = "postgres")]
        Conn::Postgres(_) => Err(DbError::Data("not an SQLite connection".into())),
    }
}

/// Every study in the SQLite database file `bytes` (e.g. a `study.db` another program
/// wrote), read as from `sqlite:///FILE`: the schema must be Optuna 5.0's. Nothing is
/// written anywhere.
pub fn load_sqlite_bytes(bytes: &[u8]) -> Result<JournalStorage, DbError> {
    let mut c = rusqlite::Connection::open_in_memory()?;
    if !bytes.is_empty() {
        c.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), false)?;
    }
    let mut rdb = Rdb {
        conn: Conn::Sqlite(c),
        shown: "study.db".into(),
        beat_new_trials: false,
    };
    schema::ensure(&mut rdb.conn)?;
    rdb.load_all()
}

/// Entry points for the fuzz target `database_rows` (built only with `--cfg fuzzing`): one
/// in-memory database reused for every input, so each costs only its own statements.
#[cfg(fuzzing)]
impl Rdb {
    /// An empty in-memory SQLite database with Optuna 5.0's schema.
    pub fn fuzz_memory() -> Result<Rdb, DbError> {
        let mut conn = Conn::Sqlite(rusqlite::Connection::open_in_memory()?);
        schema::ensure(&mut conn)?;
        Ok(Rdb {
            conn,
            shown: "fuzz".into(),
            beat_new_trials: false,
        })
    }

    /// Runs the statements (their errors are ignored, as a database refuses a bad row),
    /// reads every study as [`Rdb::load_all`] does, then rolls the statements back.
    pub fn fuzz_rows(&mut self, rows: &[(String, Vec<Val>)]) -> Result<JournalStorage, DbError> {
        self.conn.begin()?;
        for (sql, values) in rows {
            let _ = self.conn.execute(sql, values);
        }
        let out = load::all(&mut self.conn).map(|l| l.storage);
        self.conn.rollback()?;
        out
    }
}

/// An Optuna RDB storage: one connection to an SQLite file or a PostgreSQL database that
/// holds Optuna 5.0's schema (created, and stamped, when the database has no tables).
#[derive(Debug)]
pub struct Rdb {
    conn: Conn,
    /// The database as messages name it.
    shown: String,
    /// Every RUNNING trial this connection creates gets its first heartbeat in the same
    /// transaction (see [`Rdb::beat_new_trials`]).
    beat_new_trials: bool,
}

/// How long SQLite writers wait for each other before giving up.
const SQLITE_BUSY: Duration = Duration::from_secs(120);
/// How long a PostgreSQL connection attempt may take.
#[cfg(feature = "postgres")]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Rdb {
    /// Opens (creating it when missing) an SQLite file.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Rdb, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(DbError::Data(format!(
                "the folder {} does not exist",
                dir.display()
            )));
        }
        let mut conn = Conn::sqlite(path, SQLITE_BUSY)?;
        schema::ensure(&mut conn)?;
        Ok(Rdb {
            conn,
            shown: format!("sqlite:///{}", path.display()),
            beat_new_trials: false,
        })
    }

    /// Connects to a PostgreSQL database.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(conninfo: &str, shown: &str) -> Result<Rdb, DbError> {
        let mut conn = Conn::postgres(conninfo, CONNECT_TIMEOUT)?;
        schema::ensure(&mut conn)?;
        Ok(Rdb {
            conn,
            shown: shown.to_string(),
            beat_new_trials: false,
        })
    }

    /// The database as messages name it (password hidden).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Every study, with its trials.
    pub fn load_all(&mut self) -> Result<JournalStorage, DbError> {
        self.read(|conn| Ok(load::all(conn)?.storage))
    }

    /// The names of all studies.
    pub fn study_names(&mut self) -> Result<Vec<String>, DbError> {
        self.read(|conn| {
            Ok(conn
                .query("SELECT study_name FROM studies ORDER BY study_id", &[])?
                .into_iter()
                .filter_map(|r| r.into_iter().next()?.text().map(str::to_string))
                .collect())
        })
    }

    fn read<R>(&mut self, f: impl FnOnce(&mut Conn) -> Result<R, DbError>) -> Result<R, DbError> {
        self.conn.begin()?;
        let out = f(&mut self.conn);
        let end = if out.is_ok() {
            self.conn.commit()
        } else {
            self.conn.rollback()
        };
        let out = out?;
        end?;
        Ok(out)
    }

    /// Starts a transaction that may write, holding study `name` if it exists, and reads
    /// that study (an empty storage when there is none).
    fn begin_write(&mut self, name: &str) -> Result<Loaded, DbError> {
        self.begin_hold(name, false)?;
        match load::study(&mut self.conn, name) {
            Ok(l) => Ok(l),
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        }
    }

    /// Starts a transaction that may write and holds study `name` if it exists (`known`:
    /// this process has read it, so it does).
    fn begin_hold(&mut self, name: &str, known: bool) -> Result<(), DbError> {
        match self.conn.dialect() {
            Dialect::Sqlite => self.conn.batch("BEGIN IMMEDIATE")?,
            Dialect::Postgres if known => self.conn.begin()?,
            Dialect::Postgres => {
                self.conn.begin()?;
                // Workers that create the same study at once do it one after the other;
                // a study that exists is held by its row below.
                let exists = self
                    .conn
                    .query_one(
                        "SELECT COUNT(*) FROM studies WHERE study_name = $1",
                        &[name.into()],
                    )?
                    .and_then(|v| v.int())
                    .unwrap_or(0)
                    > 0;
                if !exists {
                    self.conn.query(
                        "SELECT pg_advisory_xact_lock(hashtext('sweeplab study ' || $1))",
                        &[name.into()],
                    )?;
                }
            }
        }
        // On PostgreSQL the row is taken by the statement that follows (pipelined with it:
        // the server runs that one only once the row is held).
        let held = match self.conn.dialect() {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => self.conn.defer(
                "SELECT study_id FROM studies WHERE study_name = $1 FOR UPDATE",
                &[name.into()],
            ),
        };
        if let Err(e) = held {
            let _ = self.conn.rollback();
            return Err(e);
        }
        Ok(())
    }

    /// Writes `ops` (made on `loaded.storage`'s local ids) and commits; rolls back on error.
    fn finish_write(&mut self, loaded: &mut Loaded, ops: &[JournalOp]) -> Result<(), DbError> {
        let r = write::apply(&mut self.conn, loaded, ops, self.beat_new_trials);
        match r {
            Ok(true) => Ok(()),
            Ok(false) => self.conn.commit(),
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        }
    }

    /// Runs `change` on study `name` as the database holds it (a storage without it when it
    /// does not exist yet), then writes the operations `change` returns, in one transaction
    /// that holds the study. Nothing is written when `change` fails.
    pub fn transact<R, E>(
        &mut self,
        name: &str,
        change: impl FnOnce(JournalStorage) -> Result<(R, Vec<JournalOp>), E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        let mut loaded = self.begin_write(name)?;
        let storage = std::mem::take(&mut loaded.storage);
        match change(storage.clone()) {
            Ok((out, ops)) => {
                loaded.storage = storage;
                self.finish_write(&mut loaded, &ops)?;
                Ok(out)
            }
            Err(e) => {
                let _ = self.conn.rollback();
                Err(e)
            }
        }
    }

    /// Gives every RUNNING trial this connection creates from now on its first heartbeat
    /// in the transaction that creates it. A worker that keeps heartbeats asks for this:
    /// killed between its ask and its first separate heartbeat, it would otherwise leave a
    /// RUNNING trial without one, which is never stale, and a resumed sweep would wait for
    /// it for ever.
    pub fn beat_new_trials(&mut self) {
        self.beat_new_trials = true;
    }

    /// Records a heartbeat of trial `number` of study `name` now (the database's clock),
    /// as Optuna's `record_heartbeat` does.
    pub fn record_heartbeat(&mut self, name: &str, number: u64) -> Result<(), DbError> {
        let sql_now = "CURRENT_TIMESTAMP";
        self.read(|conn| {
            let Some(id) = conn
                .query_one(
                    "SELECT t.trial_id FROM trials t JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = $1 AND t.number = $2",
                    &[name.into(), Val::Int(number as i64)],
                )?
                .and_then(|v| v.int())
            else {
                return Ok(());
            };
            conn.execute(
                &format!(
                    "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, {sql_now}) ON CONFLICT (trial_id) DO UPDATE SET heartbeat = {sql_now}"
                ),
                &[Val::Int(id)],
            )?;
            Ok(())
        })
    }

    /// The numbers of study `name`'s RUNNING trials whose last heartbeat is older than
    /// `grace` (Optuna's `_get_stale_trial_ids`: trials without a heartbeat are never
    /// stale).
    pub fn stale_trials(&mut self, name: &str, grace: Duration) -> Result<Vec<u64>, DbError> {
        let secs = grace.as_secs_f64();
        self.read(|conn| {
            let sql = match conn.dialect() {
                Dialect::Sqlite => {
                    "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id JOIN trial_heartbeats h ON h.trial_id = t.trial_id WHERE s.study_name = $1 AND t.state = 'RUNNING' AND (julianday(CURRENT_TIMESTAMP) - julianday(h.heartbeat)) * 86400.0 > $2 ORDER BY t.number"
                }
                Dialect::Postgres => {
                    "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id JOIN trial_heartbeats h ON h.trial_id = t.trial_id WHERE s.study_name = $1 AND t.state = 'RUNNING' AND CAST(EXTRACT(EPOCH FROM (CAST(now() AS timestamp without time zone) - h.heartbeat)) AS double precision) > $2 ORDER BY t.number"
                }
            };
            Ok(conn
                .query(sql, &[name.into(), Val::Real(secs)])?
                .into_iter()
                .filter_map(|r| r.first()?.int().map(|n| n as u64))
                .collect())
        })
    }
}

/// A study kept in an Optuna RDB storage, as the study loop's [`StudyStore`]: each write
/// holds the study, reads what other workers changed since this process last looked (new
/// trials, and trials that were not finished), brings the study up to date, runs the change
/// and writes its operations, in one transaction.
#[derive(Debug)]
pub struct RdbStore {
    rdb: Rdb,
    replica: Option<replica::Replica>,
}

impl RdbStore {
    /// The store of studies in `rdb`.
    pub fn new(rdb: Rdb) -> RdbStore {
        RdbStore { rdb, replica: None }
    }

    /// The storage.
    pub fn rdb(&mut self) -> &mut Rdb {
        &mut self.rdb
    }

    /// Reads study `name` (an empty storage when it does not exist): the state to open the
    /// study loop's study from.
    pub fn load(&mut self, name: &str) -> Result<JournalStorage, DbError> {
        let replica = self.rdb.read(|conn| replica::Replica::read(conn, name))?;
        let storage = replica
            .as_ref()
            .map(|r| r.loaded.storage.clone())
            .unwrap_or_default();
        self.replica = replica;
        Ok(storage)
    }

    /// Brings `study` up to date inside the open transaction.
    fn sync(&mut self, study: &mut Study) -> Result<(), DbError> {
        let name = study.name().to_string();
        let fresh = match &mut self.replica {
            Some(r) if r.loaded.storage.study(0).is_some_and(|s| s.name == name) => {
                let foreign = r.refresh(&mut self.rdb.conn)?;
                if study.commutes_with(&foreign) {
                    study.apply_foreign(&foreign);
                    return Ok(());
                }
                None
            }
            _ => Some(replica::Replica::read(&mut self.rdb.conn, &name)?),
        };
        if let Some(r) = fresh {
            self.replica = r;
        }
        let base = self
            .replica
            .as_ref()
            .map(|r| r.loaded.storage.clone())
            .unwrap_or_default();
        study
            .rebase(base)
            .map_err(|e| DbError::Data(format!("rebase: {e}")))
    }
}

impl RdbStore {
    /// The study as the replica holds it (what this transaction read).
    fn replica_storage(&self) -> JournalStorage {
        self.replica
            .as_ref()
            .map(|r| r.loaded.storage.clone())
            .unwrap_or_default()
    }

    /// Takes study `name`'s row and says whether its trials are still the ones the replica
    /// holds (no other worker created one since this transaction read them).
    fn hold_unchanged(&mut self, name: &str) -> Result<bool, DbError> {
        // Two statements: under READ COMMITTED each statement reads the commits made before
        // it began, so the count must come after the lock is held (a worker that held the
        // study before us may have added a trial while we waited).
        let conn = &mut self.rdb.conn;
        let id = conn
            .query_one(
                "SELECT study_id FROM studies WHERE study_name = $1 FOR UPDATE",
                &[name.into()],
            )?
            .and_then(|v| v.int());
        let (Some(id), Some(r)) = (id, &self.replica) else {
            return Ok(false);
        };
        let count = conn
            .query_one(
                "SELECT COUNT(*) FROM trials WHERE study_id = $1",
                &[Val::Int(id)],
            )?
            .and_then(|v| v.int())
            .unwrap_or(-1);
        Ok(count == r.loaded.trial_ids.len() as i64)
    }
}

impl StudyStore for RdbStore {
    type Error = DbError;

    fn write<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        self.change(study, change, false)
    }

    fn create<R, E>(
        &mut self,
        study: &mut Study,
        change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        self.change(study, change, true)
    }
}

impl RdbStore {
    /// [`StudyStore::write`]; `creates`: the change is expected to create a trial.
    fn change<R, E>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, E>,
        creates: bool,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        let name = study.name().to_string();
        // On PostgreSQL a study this process has read is not held while it is brought up
        // to date and changed: tells and reports, most writes, run side by side. A change
        // that creates trials takes the study's row: from the start when the caller says
        // it will (an ask), else once it turns out to, and then checks that no other
        // worker created one meanwhile (else the change is made again, under the row, on
        // the up-to-date study). SQLite has one writer at a time anyway.
        let known = self.replica.is_some();
        let mut optimistic = self.rdb.conn.dialect() == Dialect::Postgres && known && !creates;
        // Whether this transaction holds the study already (a conflict was found under it).
        let mut held = false;
        let (out, ops) = loop {
            if held {
            } else if optimistic {
                self.rdb.conn.begin()?;
            } else {
                self.rdb.begin_hold(&name, known)?;
            }
            if let Err(e) = self.sync(study) {
                let _ = self.rdb.conn.rollback();
                self.replica = None;
                return Err(e.into());
            }
            let before = optimistic.then(|| study.checkpoint());
            let out = change(study);
            let ops = study.take_pending();
            let creates = ops.iter().any(|op| {
                matches!(
                    op,
                    JournalOp::CreateTrial { .. } | JournalOp::CreateStudy { .. }
                )
            });
            if let (Some(before), true) = (before, creates) {
                match self.hold_unchanged(&name) {
                    Ok(true) => {}
                    Ok(false) => {
                        // Another worker created a trial first. This transaction holds the
                        // study now: read what changed and make the change again, the last
                        // time, without starting over.
                        if let Err(e) = study.restore(before, self.replica_storage()) {
                            let _ = self.rdb.conn.rollback();
                            self.replica = None;
                            return Err(DbError::Data(format!("rebase: {e}")).into());
                        }
                        optimistic = false;
                        held = true;
                        continue;
                    }
                    Err(e) => {
                        let _ = self.rdb.conn.rollback();
                        // Rebuilt from a fresh read at the next write.
                        let _ = study.restore(before, self.replica_storage());
                        self.replica = None;
                        return Err(e.into());
                    }
                }
            }
            break (out, ops);
        };
        let (mut loaded, own) = match self.replica.take() {
            Some(r) => r.into_parts(),
            None => (Loaded::default(), None),
        };
        let known = loaded.trial_ids.len();
        if let Err(e) = self.rdb.finish_write(&mut loaded, &ops) {
            // What the replica holds is no longer what the database holds: read it anew.
            self.replica = None;
            return Err(e.into());
        }
        if !loaded.study_ids.is_empty() {
            let created = loaded.trial_ids.get(known..).unwrap_or_default().to_vec();
            let mut replica = match own {
                Some((own, busy)) => replica::Replica::from_parts(loaded, own, busy),
                None => replica::Replica::created(loaded),
            };
            replica.own(created);
            self.replica = Some(replica);
        }
        out
    }
}
