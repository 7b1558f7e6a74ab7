//! Optuna's `JournalRedisBackend` (`optuna/storages/journal/_redis.py` of Optuna 5.0): the
//! journal's operations as the values of `{prefix}:log:{n}`, numbered by
//! `{prefix}:log_number`. The pickled snapshot Optuna may keep under `{prefix}:snapshot` is
//! never read or written; the log is replayed.
//!
//! Optuna appends each operation with an atomic Lua `INCR` + `SET` and takes no lock.
//! sweeplab appends a change's operations together, and only if the log still ends where
//! this process last read it (one Lua script); sweeplab workers take a short lock among
//! themselves, and when a Python writer got in between, the change is made again on the
//! up-to-date study ([`StudyStore::write`] restores the study first), so trial numbers are
//! the ones every reader sees.

use std::time::{Duration, Instant};

use redis::Commands;
use sweeplab_core::Study;
use sweeplab_core::storage::JournalStorage;
use sweeplab_core::storage::journal::JournalOp;
use sweeplab_core::store::StudyStore;

/// Errors of the Redis journal.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The server failed or could not be reached.
    #[error("Redis: {0}")]
    Server(String),
    /// A log entry is not a journal operation.
    #[error("Redis: log {number}: {why}")]
    BadLog {
        /// The log number.
        number: i64,
        /// What is wrong.
        why: String,
    },
    /// Another sweeplab worker held the lock for too long.
    #[error("Redis: another sweeplab worker has held the lock {key} for over {secs} s")]
    Lock {
        /// The lock's key.
        key: String,
        /// How long this worker waited.
        secs: u64,
    },
    /// A change does not apply to the journal as it is now.
    #[error("{0}")]
    Study(String),
}

impl From<redis::RedisError> for RedisError {
    fn from(e: redis::RedisError) -> RedisError {
        RedisError::Server(e.to_string())
    }
}

/// How long a sweeplab worker's lock lives if the worker dies holding it and the server
/// cannot tell (see [`RedisJournal::break_dead_lock`]).
const LOCK_TTL_MS: u64 = 10_000;
/// How often a waiting worker asks the server whether the lock's holder is still connected.
const HOLDER_CHECK: Duration = Duration::from_millis(20);
/// How long a worker waits for the lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// Appends ARGV[4 .. 4 + ARGV[3]) as logs if `{prefix}:log_number` is still ARGV[2]
/// (ARGV[1] is the prefix); returns `{1, last}` when it did and `{0, current}` when
/// another writer got in first. The arguments after the logs are fields of the heartbeat
/// hash to set to the server's time in the same step (the trials the logs create).
const APPEND_IF: &str = r#"
local key = ARGV[1] .. ':log_number'
local cur = tonumber(redis.call('get', key) or '-1')
if cur ~= tonumber(ARGV[2]) then
  return {0, cur}
end
local n = tonumber(ARGV[3])
for i = 4, 3 + n do
  cur = cur + 1
  redis.call('set', ARGV[1] .. ':log:' .. cur, ARGV[i])
end
redis.call('set', key, cur)
if #ARGV > 3 + n then
  local t = redis.call('time')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  for i = 4 + n, #ARGV do
    redis.call('hset', ARGV[1] .. ':sweeplab:heartbeats', ARGV[i], string.format('%.6f', now))
  end
end
return {1, cur}
"#;

/// Deletes the lock only if this worker still holds it.
const UNLOCK: &str = r#"
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"#;

/// An Optuna journal on a Redis server.
pub struct RedisJournal {
    conn: redis::Connection,
    prefix: String,
    /// The last log number this process has replayed (−1: none).
    last: i64,
    /// The journal as replayed up to `last`.
    replica: JournalStorage,
    /// This process's lock token.
    token: String,
    shown: String,
    /// Every RUNNING trial this process creates gets its first heartbeat in the script
    /// that appends it (see [`RedisJournal::beat_new_trials`]).
    beat_new_trials: bool,
}

impl std::fmt::Debug for RedisJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJournal")
            .field("url", &self.shown)
            .field("prefix", &self.prefix)
            .field("last", &self.last)
            .finish()
    }
}

impl RedisJournal {
    /// Connects and replays the whole log.
    pub fn open(url: &str, prefix: &str, shown: &str) -> Result<RedisJournal, RedisError> {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(10))?;
        // The lock's value names this connection, so that a worker waiting for the lock can
        // see that its holder died (a server that refuses `CLIENT ID` leaves only the TTL).
        let client_id: Option<i64> = redis::cmd("CLIENT").arg("ID").query(&mut conn).ok();
        let mut j = RedisJournal {
            conn,
            prefix: prefix.to_string(),
            last: -1,
            replica: JournalStorage::new(),
            token: format!(
                "sweeplab-{}-{}-client-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
                client_id.map(|id| id.to_string()).unwrap_or_default()
            ),
            shown: shown.to_string(),
            beat_new_trials: false,
        };
        j.read_new()?;
        Ok(j)
    }

    /// The server as messages name it.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The journal as replayed so far.
    pub fn replica(&self) -> &JournalStorage {
        &self.replica
    }

    fn log_key(&self, n: i64) -> String {
        format!("{}:log:{n}", self.prefix)
    }

    /// Reads and applies the logs appended since `self.last`; returns them.
    fn read_new(&mut self) -> Result<Vec<JournalOp>, RedisError> {
        let max: Option<i64> = self.conn.get(format!("{}:log_number", self.prefix))?;
        let Some(max) = max else {
            return Ok(Vec::new());
        };
        let mut ops = Vec::new();
        let mut from = self.last + 1;
        let mut waited = Duration::from_millis(50);
        while from <= max {
            let to = (from + 999).min(max);
            let keys: Vec<String> = (from..=to).map(|n| self.log_key(n)).collect();
            let values: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query(&mut self.conn)?;
            // Optuna's cluster mode increments before it sets: wait for a missing log.
            if let Some(missing) = values.iter().position(Option::is_none) {
                let number = from + missing as i64;
                if waited > Duration::from_secs(10) {
                    return Err(RedisError::BadLog {
                        number,
                        why: "missing although log_number counts it".into(),
                    });
                }
                std::thread::sleep(waited);
                waited *= 2;
                continue;
            }
            let texts: Vec<String> = values.into_iter().map(Option::unwrap_or_default).collect();
            ops.extend(
                crate::redis_log::apply_entries(&mut self.replica, from, &texts).map_err(|e| {
                    RedisError::BadLog {
                        number: e.number,
                        why: e.why,
                    }
                })?,
            );
            from = to + 1;
        }
        self.last = max;
        Ok(ops)
    }

    fn lock(&mut self) -> Result<(), RedisError> {
        let key = format!("{}:sweeplab:lock", self.prefix);
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut checked = Instant::now();
        loop {
            let got: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&self.token)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_TTL_MS)
                .query(&mut self.conn)?;
            if got.is_some() {
                return Ok(());
            }
            if start.elapsed() > LOCK_WAIT {
                return Err(RedisError::Lock {
                    key,
                    secs: LOCK_WAIT.as_secs(),
                });
            }
            if checked.elapsed() >= HOLDER_CHECK {
                checked = Instant::now();
                if self.break_dead_lock(&key) {
                    continue;
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Deletes the lock `key` when the connection its value names is no longer on the
    /// server: a worker killed while holding it (its socket closed with the process) no
    /// longer stalls the others for the whole TTL. `true` when it deleted the lock. The
    /// lock only spares workers from redoing their changes: appends stay conditional on
    /// the log's end, so even a lock broken wrongly loses and duplicates nothing.
    fn break_dead_lock(&mut self, key: &str) -> bool {
        let held: Option<String> = match self.conn.get(key) {
            Ok(v) => v,
            Err(_) => return false,
        };
        let Some(held) = held else {
            return false;
        };
        let Some(id) = held
            .rsplit_once("-client-")
            .and_then(|(_, id)| id.parse::<i64>().ok())
        else {
            return false;
        };
        // `CLIENT LIST ID` (Redis 6.2+) lists the connection while it is open; an error
        // (an older server, or one whose ACL refuses CLIENT) leaves the TTL to end the lock.
        let listed: Result<String, _> = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("ID")
            .arg(id)
            .query(&mut self.conn);
        match listed {
            Ok(text) if text.trim().is_empty() => {
                let deleted: Result<i64, _> = redis::Script::new(UNLOCK)
                    .key(key)
                    .arg(&held)
                    .invoke(&mut self.conn);
                matches!(deleted, Ok(1))
            }
            _ => false,
        }
    }

    fn unlock(&mut self) {
        let key = format!("{}:sweeplab:lock", self.prefix);
        let _: Result<i64, _> = redis::Script::new(UNLOCK)
            .key(key)
            .arg(&self.token)
            .invoke(&mut self.conn);
    }

    /// Appends `ops` if the log still ends at `self.last`; `Ok(false)` when another writer
    /// appended first.
    fn append_if(&mut self, ops: &[JournalOp], worker: &str) -> Result<bool, RedisError> {
        if ops.is_empty() {
            return Ok(true);
        }
        let append = redis::Script::new(APPEND_IF);
        let mut script = append.prepare_invoke();
        script.arg(&self.prefix).arg(self.last).arg(ops.len());
        for op in ops {
            script.arg(op.to_json(worker).to_python_default());
        }
        if self.beat_new_trials {
            for field in self.created_running(ops) {
                script.arg(field);
            }
        }
        let (ok, end): (i64, i64) = script.invoke(&mut self.conn)?;
        if ok == 1 {
            for op in ops {
                let _ = self.replica.apply(op);
            }
            self.last = end;
        }
        Ok(ok == 1)
    }

    /// Brings `study` up to date with the logs others appended.
    fn sync(&mut self, study: &mut Study) -> Result<(), RedisError> {
        let foreign = self.read_new()?;
        if foreign.is_empty() {
            return Ok(());
        }
        if study.commutes_with(&foreign) {
            study.apply_foreign(&foreign);
            Ok(())
        } else {
            study
                .rebase(self.replica.clone())
                .map_err(|e| RedisError::Study(e.to_string()))
        }
    }

    /// Runs `change` on the journal as it is, holding sweeplab's lock, and appends the
    /// operations it returns; when a writer that takes no lock got in between, runs it
    /// again on the new state.
    pub fn transact<R, E>(
        &mut self,
        worker: &str,
        mut change: impl FnMut(JournalStorage) -> Result<(R, Vec<JournalOp>), E>,
    ) -> Result<R, E>
    where
        E: From<RedisError>,
    {
        self.lock()?;
        let out = loop {
            if let Err(e) = self.read_new() {
                break Err(E::from(e));
            }
            let (out, ops) = match change(self.replica.clone()) {
                Ok(x) => x,
                Err(e) => break Err(e),
            };
            match self.append_if(&ops, worker) {
                Ok(true) => break Ok(out),
                Ok(false) => continue,
                Err(e) => break Err(E::from(e)),
            }
        };
        self.unlock();
        out
    }
}

impl RedisJournal {
    fn heartbeats_key(&self) -> String {
        format!("{}:sweeplab:heartbeats", self.prefix)
    }

    /// The server's clock, in seconds.
    fn server_time(&mut self) -> Result<f64, RedisError> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut self.conn)?;
        Ok(secs as f64 + micros as f64 / 1e6)
    }

    /// Gives every RUNNING trial this process creates from now on its first heartbeat in
    /// the script that appends it. A worker that keeps heartbeats asks for this: killed
    /// between its ask and its first separate heartbeat, it would otherwise leave a
    /// RUNNING trial without one, which is never stale, and a resumed sweep would wait for
    /// it for ever.
    pub fn beat_new_trials(&mut self) {
        self.beat_new_trials = true;
    }

    /// The heartbeat fields of the RUNNING trials `ops` create in studies the replica
    /// (up to date: the append is conditional on it) already holds.
    fn created_running(&self, ops: &[JournalOp]) -> Vec<String> {
        let mut added: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        let mut fields = Vec::new();
        for op in ops {
            let JournalOp::CreateTrial { study_id, template } = op else {
                continue;
            };
            let Some(study) = self.replica.study(*study_id) else {
                continue;
            };
            let earlier = added.entry(*study_id).or_default();
            let number = study.trials.len() as u64 + *earlier;
            *earlier += 1;
            if template
                .state
                .is_none_or(|s| s == sweeplab_core::TrialState::Running)
            {
                fields.push(format!("{}\u{1f}{number}", study.name));
            }
        }
        fields
    }

    /// Records a heartbeat of trial `number` of study `name` now (the server's clock).
    /// Optuna's journal storages have no heartbeats; sweeplab workers keep theirs in the
    /// hash `{prefix}:sweeplab:heartbeats`, and a trial without one (a Python worker's) is
    /// never stale, as in Optuna's RDB storage.
    pub fn record_heartbeat(&mut self, name: &str, number: u64) -> Result<(), RedisError> {
        let now = self.server_time()?;
        let key = self.heartbeats_key();
        let _: i64 = self.conn.hset(key, format!("{name}\u{1f}{number}"), now)?;
        Ok(())
    }

    /// The numbers of study `name`'s RUNNING trials whose last heartbeat is older than
    /// `grace`.
    pub fn stale_trials(&mut self, name: &str, grace: Duration) -> Result<Vec<u64>, RedisError> {
        self.read_new()?;
        let running: Vec<u64> = self
            .replica
            .study_by_name(name)
            .map(|s| {
                s.trials
                    .iter()
                    .filter(|t| t.state == sweeplab_core::TrialState::Running)
                    .map(|t| t.number)
                    .collect()
            })
            .unwrap_or_default();
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.server_time()?;
        let fields: Vec<String> = running.iter().map(|n| format!("{name}\u{1f}{n}")).collect();
        let beats: Vec<Option<f64>> = redis::cmd("HMGET")
            .arg(self.heartbeats_key())
            .arg(&fields)
            .query(&mut self.conn)?;
        Ok(running
            .into_iter()
            .zip(beats)
            .filter(|(_, b)| b.is_some_and(|b| now - b > grace.as_secs_f64()))
            .map(|(n, _)| n)
            .collect())
    }
}

impl StudyStore for RedisJournal {
    type Error = RedisError;

    fn write<R, E>(
        &mut self,
        study: &mut Study,
        mut change: impl FnMut(&mut Study) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<RedisError>,
    {
        self.lock()?;
        let result = loop {
            if let Err(e) = self.sync(study) {
                break Err(E::from(e));
            }
            let before = study.checkpoint();
            let out = change(study);
            let ops = study.take_pending();
            let worker = study.worker_id().to_string();
            match self.append_if(&ops, &worker) {
                Ok(true) => break out,
                Ok(false) => {
                    if let Err(e) = study.restore(before, self.replica.clone()) {
                        break Err(E::from(RedisError::Study(e.to_string())));
                    }
                }
                Err(e) => {
                    let _ = study.restore(before, self.replica.clone());
                    break Err(E::from(e));
                }
            }
        };
        self.unlock();
        result
    }
}
