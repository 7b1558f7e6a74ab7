//! A journal file shared with Python Optuna's `JournalFileBackend`.
//!
//! Writers take the same lock Optuna takes by default (`JournalFileSymlinkLock`): a symbolic
//! link `<file>.lock` created atomically, released by renaming it to a unique name and
//! unlinking that, and force-released after a 30 s grace period without change. Appends are
//! whole lines followed by `fsync`. Several `sweeplab` and Python processes can therefore
//! work on one file at once.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::journal::{JournalError, JournalOp, JournalStorage, parse_journal};

/// Errors of the journal file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The content is not a valid journal.
    #[error("{path}: {source}")]
    Journal {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: JournalError,
    },
    /// The file is shorter than what this process already read: someone truncated or
    /// replaced it.
    #[error(
        "{path}: the journal shrank from {had} to {now} bytes while in use; it was truncated or replaced by another program"
    )]
    Shrunk {
        /// The file.
        path: PathBuf,
        /// Bytes read before.
        had: u64,
        /// Bytes now.
        now: u64,
    },
    /// The file is not UTF-8.
    #[error("{path}: byte {offset}: not valid UTF-8")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
}

/// Called once when [`JournalFile::lock`] has waited a while for another holder, with a
/// sentence that says what is being waited for.
pub type WaitNotice = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// A journal file and its lock.
#[derive(Clone)]
pub struct JournalFile {
    path: PathBuf,
    lock_path: PathBuf,
    grace_period: Duration,
    notice: Option<WaitNotice>,
}

impl std::fmt::Debug for JournalFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalFile")
            .field("path", &self.path)
            .field("grace_period", &self.grace_period)
            .finish()
    }
}

/// How long [`JournalFile::lock`] waits before it calls the wait notice.
const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// Holds the lock; released on drop.
#[derive(Debug)]
pub struct LockGuard<'a> {
    file: &'a JournalFile,
    released: bool,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.file.release();
        }
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{}", nanos, std::process::id())
}

impl JournalFile {
    /// A journal at `path` (created empty on first write, like Optuna's backend).
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        JournalFile {
            path,
            lock_path: PathBuf::from(lock),
            grace_period: Duration::from_secs(30),
            notice: None,
        }
    }

    /// Says what [`lock`](Self::lock) waits for, once, when it has waited over a second
    /// (e.g. a lock that a crashed process left behind, released after the grace period).
    pub fn with_wait_notice(mut self, notice: WaitNotice) -> Self {
        self.notice = Some(notice);
        self
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn io(&self, source: std::io::Error) -> FileError {
        FileError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Takes the lock, waiting (with back-off) while another process holds it.
    pub fn lock(&self) -> Result<LockGuard<'_>, FileError> {
        let mut sleep = Duration::from_millis(1);
        let mut last_mtime: Option<SystemTime> = None;
        let mut last_change = Instant::now();
        let started = Instant::now();
        let mut noticed = false;
        loop {
            match make_lock(&self.path, &self.lock_path) {
                Ok(()) => {
                    return Ok(LockGuard {
                        file: self,
                        released: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    match std::fs::symlink_metadata(&self.lock_path).and_then(|m| m.modified()) {
                        Ok(mtime) => {
                            if Some(mtime) != last_mtime {
                                last_mtime = Some(mtime);
                                last_change = Instant::now();
                            }
                            if last_change.elapsed() > self.grace_period {
                                // A stale lock: release it as Optuna does.
                                let _ = self.release();
                                sleep = Duration::from_millis(1);
                                continue;
                            }
                        }
                        Err(_) => continue,
                    }
                    if !noticed && started.elapsed() > NOTICE_AFTER {
                        noticed = true;
                        if let Some(notice) = &self.notice {
                            let left = self.grace_period.saturating_sub(last_change.elapsed());
                            notice(&format!(
                                "waiting for the lock {} held by another process; a lock left by a crashed process is released {}s after its last change (at most {}s from now)",
                                self.lock_path.display(),
                                self.grace_period.as_secs(),
                                left.as_secs().max(1)
                            ));
                        }
                    }
                    std::thread::sleep(sleep);
                    sleep = (sleep * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    return Err(FileError::Io {
                        path: self.lock_path.clone(),
                        source: e,
                    });
                }
            }
        }
    }

    fn release(&self) -> std::io::Result<()> {
        let mut tmp = self.lock_path.clone().into_os_string();
        tmp.push(unique_suffix());
        tmp.push(".rename");
        std::fs::rename(&self.lock_path, &tmp)?;
        std::fs::remove_file(&tmp)
    }

    /// Reads the whole file (empty if it does not exist).
    pub fn read_text(&self) -> Result<String, FileError> {
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(|e| self.io(e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(self.io(e)),
        }
        String::from_utf8(bytes).map_err(|e| FileError::Utf8 {
            path: self.path.clone(),
            offset: e.utf8_error().valid_up_to(),
        })
    }

    /// Reads and replays the file. Call it holding the lock when others may write: then a
    /// torn last line is damage, and it is reported.
    pub fn load(&self) -> Result<JournalStorage, FileError> {
        let text = self.read_text()?;
        replay_text(self, &text)
    }

    /// Appends operations as journal lines in one write, then `fsync`s; returns the bytes
    /// written. Hold the lock.
    pub fn append(&self, ops: &[JournalOp], worker_id: &str) -> Result<u64, FileError> {
        if ops.is_empty() {
            return Ok(0);
        }
        let text: String = ops.iter().map(|op| op.to_line(worker_id)).collect();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        let before = f.metadata().map_err(|e| self.io(e))?.len();
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.flush())
            .and_then(|()| f.sync_all());
        if let Err(e) = written {
            // A full disk (or any failed write) may have left part of a line: cut the file
            // back to where it was, so the journal stays whole (the lock is held, so no one
            // else wrote after it). Truncating frees space, so it works on a full disk.
            let _ = f.set_len(before).and_then(|()| f.sync_all());
            return Err(self.io(e));
        }
        Ok(text.len() as u64)
    }

    /// Runs `f` on the replayed journal while holding the lock, then appends the operations
    /// it returns. Nothing is written if `f` fails.
    pub fn transact<T, E>(
        &self,
        f: impl FnOnce(JournalStorage) -> Result<(T, Vec<JournalOp>, String), E>,
    ) -> Result<T, E>
    where
        E: From<FileError>,
    {
        let guard = self.lock()?;
        let storage = self.load()?;
        let (out, ops, worker) = f(storage)?;
        let _written = self.append(&ops, &worker)?;
        drop(guard);
        Ok(out)
    }
}

pub(crate) fn replay_text(file: &JournalFile, text: &str) -> Result<JournalStorage, FileError> {
    let lines = parse_journal(text).map_err(|source| FileError::Journal {
        path: file.path.clone(),
        source,
    })?;
    Ok(JournalStorage::replay(&lines))
}

#[cfg(unix)]
fn make_lock(target: &Path, lock: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, lock)
}

#[cfg(not(unix))]
fn make_lock(_target: &Path, lock: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(lock)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::StudyDirection;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sweeplab-file-{}-{name}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.log")
    }

    #[test]
    fn lock_is_exclusive_and_released() {
        let p = tmp("lock");
        let j = JournalFile::new(&p);
        let g = j.lock().unwrap();
        assert!(std::fs::symlink_metadata(p.with_extension("log.lock")).is_ok());
        drop(g);
        assert!(std::fs::symlink_metadata(p.with_extension("log.lock")).is_err());
        let _g2 = j.lock().unwrap();
    }

    #[test]
    fn concurrent_appends_from_threads_keep_every_line() {
        let p = tmp("threads");
        let j = JournalFile::new(&p);
        j.transact::<_, FileError>(|_| {
            Ok((
                (),
                vec![JournalOp::CreateStudy {
                    study_name: "s".into(),
                    directions: vec![StudyDirection::Minimize],
                }],
                "w".into(),
            ))
        })
        .unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let j = j.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        j.transact::<_, FileError>(|st| {
                            let sid = st.study_by_name("s").unwrap().study_id;
                            Ok((
                                (),
                                vec![JournalOp::CreateTrial {
                                    study_id: sid,
                                    template: Box::default(),
                                }],
                                "w".into(),
                            ))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let st = j.load().unwrap();
        assert_eq!(st.study_by_name("s").unwrap().trials.len(), 100);
    }

    #[test]
    fn torn_last_line_is_reported_with_its_line_number() {
        let p = tmp("torn");
        std::fs::write(
            &p,
            "{\"op_code\":0,\"worker_id\":\"w\",\"study_name\":\"s\",\"directions\":[1]}\n{\"op_code\":4,",
        )
        .unwrap();
        let err = JournalFile::new(&p).load().unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("torn"), "{err}");
    }
}
