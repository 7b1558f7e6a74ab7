//! Writing a file set to disk without leaving anything half-written (native only).
//!
//! Every file is written to a temporary name in its own directory, flushed, and renamed
//! over its final name, so a reader sees the old file or the new one, never a part. If any
//! file of a set fails, the temporary files and the files this call already put in place
//! (that did not exist before) are removed again.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::tensorboard::LogdirContext;
use super::{
    ExportError, ExportFile, ExportOptions, check_relative_path, objective_tags, started_trials,
    study_start, wandb,
};
use crate::storage::journal::StudyRecord;
use crate::trial::FrozenTrial;

fn io(path: &Path, error: std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// Prefix of the temporary files: a dot file whose name holds nothing of the final name, so
/// that no reader takes it for its own (TensorBoard reads every file whose name contains
/// `tfevents`).
const TEMP_PREFIX: &str = ".sweeplab.tmp-";

fn temp_name(path: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!(
        "{TEMP_PREFIX}{}-{nanos:x}-{seq}",
        std::process::id()
    ))
}

/// The process id in a temporary file's name: ours (`.sweeplab.tmp-PID-…`), or the form
/// earlier versions wrote (`.NAME.tmp-PID-HEX`).
fn temp_owner(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let rest = match name.strip_prefix(TEMP_PREFIX) {
        Some(rest) => rest,
        None => {
            let i = name.rfind(".tmp-")?;
            let rest = &name[i + ".tmp-".len()..];
            // The old form ends in PID-HEX exactly.
            let (_, hex) = rest.split_once('-')?;
            if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            rest
        }
    };
    rest.split('-').next()?.parse().ok()
}

/// Whether the process that owns a temporary file may still be writing it.
fn owner_alive(pid: u32, path: &Path) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if proc.is_dir() {
        return proc.join(pid.to_string()).exists();
    }
    // Without /proc, a file untouched for ten minutes is taken as left behind.
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age < std::time::Duration::from_secs(600))
}

/// Removes, under `dir` (recursively), the temporary files that a killed process left
/// between writing a file and renaming it; files of live processes stay. Returns how many
/// were removed. A missing `dir` has none.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            removed += remove_stale_temp_files(&path);
        } else if kind.is_file()
            && let Some(pid) = temp_owner(&entry.file_name().to_string_lossy())
            && !owner_alive(pid, &path)
            && fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let mut f = File::create(tmp).map_err(|e| io(tmp, e))?;
    f.write_all(bytes).map_err(|e| io(tmp, e))?;
    f.sync_all().map_err(|e| io(tmp, e))
}

/// Writes one file atomically: a temporary file in the same directory, then a rename.
/// The parent directory must exist. On failure nothing is left at `path` or beside it.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let tmp = temp_name(path);
    let result =
        write_temp(&tmp, bytes).and_then(|()| fs::rename(&tmp, path).map_err(|e| io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a file set under `root` (created if missing), each file atomically. On failure,
/// the files created by this call are removed again and the error names the path.
pub fn write_files_atomic(root: &Path, files: &[ExportFile]) -> Result<(), ExportError> {
    for f in files {
        check_relative_path(&f.path)?;
    }
    let mut created: Vec<PathBuf> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| {
        for f in files {
            // A directory entry (`…/`): the directory, even if nothing goes in it.
            if let Some(dir) = f.path.strip_suffix('/') {
                let path = dir
                    .split('/')
                    .fold(root.to_path_buf(), |p, part| p.join(part));
                let mut missing = Vec::new();
                let mut d = path.clone();
                while !d.exists() {
                    missing.push(d.clone());
                    if !d.pop() {
                        break;
                    }
                }
                fs::create_dir_all(&path).map_err(|e| io(&path, e))?;
                created_dirs.extend(missing.into_iter().rev());
                continue;
            }
            let path = f
                .path
                .split('/')
                .fold(root.to_path_buf(), |p, part| p.join(part));
            if let Some(parent) = path.parent() {
                let mut missing = Vec::new();
                let mut d = parent.to_path_buf();
                while !d.exists() {
                    missing.push(d.clone());
                    if !d.pop() {
                        break;
                    }
                }
                fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                created_dirs.extend(missing.into_iter().rev());
            }
            let existed = path.exists();
            write_file_atomic(&path, &f.bytes)?;
            if !existed {
                created.push(path);
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for p in &created {
            let _ = fs::remove_file(p);
        }
        for d in created_dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
    result
}

/// Writes a sweep's logs under `out` as they stand: TensorBoard runs in `out/tensorboard`,
/// W&B offline runs in `out/wandb`, each file atomically, so a reader (TensorBoard, `wandb
/// sync`) follows the sweep. A sweep that writes them after every trial keeps a
/// [`SweepLogs`], which writes only what changed.
pub fn write_sweep_logs(study: &StudyRecord, out: &Path) -> Result<(), ExportError> {
    SweepLogs::new(out).write(study).map(|_| ())
}

/// A sweep's live logs (see [`write_sweep_logs`]), written again after every trial: only the
/// files of the trials that changed since the last write are encoded and written (with the
/// logdir's top file), as long as what every file depends on (the study's start, the
/// hparams' domains, its objective) is unchanged; else all of them. Without it, every trial
/// re-encoded every earlier trial's runs: a sweep's time grew with the square of its trials.
///
/// What was written is also kept on disk, in [`MANIFEST`] beside the TensorBoard runs
/// (written after the files it lists), so that a resumed sweep writes only the logs that are
/// missing or stale instead of all of them.
#[derive(Debug)]
pub struct SweepLogs {
    out: PathBuf,
    options: ExportOptions,
    /// A hash of the context of the files written last; `None`: nothing written yet.
    context: Option<u64>,
    /// Per trial number: what its files were written from (a hash of its [`TrialStamp`],
    /// `None` for an unfinished trial), the metric tags of its TensorBoard run, and its
    /// files' paths under `out`.
    written: HashMap<u64, Written>,
}

/// What [`SweepLogs`] wrote for one trial.
#[derive(Clone, Debug, PartialEq)]
struct Written {
    stamp: Option<u64>,
    tags: Vec<String>,
    paths: Vec<String>,
}

/// The file (in `out/tensorboard/`, which TensorBoard does not read: no `tfevents` in its
/// name) where [`SweepLogs`] records what it wrote.
pub const MANIFEST: &str = ".sweeplab-logs.json";

/// What a trial's files were written from, as far as it can change: a finished trial's
/// state and how much it holds (a finished trial does not change again).
#[derive(Debug, Hash)]
struct TrialStamp<'a> {
    state: &'a str,
    sizes: [usize; 5],
    complete: Option<String>,
}

/// A hash that is the same in every run of this build (std's SipHash with fixed keys).
fn stable_hash(v: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(v)
}

/// The stamp of `t`'s files: `None` while it is unfinished (its files are written every
/// time).
fn stamp(t: &FrozenTrial) -> Option<u64> {
    t.state.is_finished().then(|| {
        stable_hash(&TrialStamp {
            state: t.state.name(),
            sizes: [
                t.params_internal().count(),
                t.intermediate_values.len(),
                t.series.values().map(Vec::len).sum(),
                t.user_attrs.len(),
                t.system_attrs.len(),
            ],
            complete: t.datetime_complete.map(|d| d.to_string()),
        })
    })
}

impl SweepLogs {
    /// Logs under `out`: what [`MANIFEST`] says was written there already, as far as its
    /// files are still there; nothing if it is missing or unreadable.
    pub fn new(out: &Path) -> Self {
        let mut logs = SweepLogs {
            out: out.to_path_buf(),
            options: ExportOptions::default(),
            context: None,
            written: HashMap::new(),
        };
        logs.load_manifest();
        logs
    }

    fn manifest_path(&self) -> PathBuf {
        self.out.join("tensorboard").join(MANIFEST)
    }

    fn load_manifest(&mut self) {
        let Ok(text) = fs::read_to_string(self.manifest_path()) else {
            return;
        };
        let Ok(json) = crate::json::Json::parse(&text) else {
            return;
        };
        let hex = |v: Option<&crate::json::Json>| {
            v.and_then(|v| v.as_str())
                .and_then(|s| u64::from_str_radix(s, 16).ok())
        };
        let strings = |v: Option<&crate::json::Json>| -> Option<Vec<String>> {
            v?.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let Some(context) = hex(json.get("context")) else {
            return;
        };
        let Some(trials) = json.get("trials").and_then(|t| t.as_object()) else {
            return;
        };
        for (number, entry) in trials {
            let (Ok(number), Some(stamp), Some(tags), Some(paths)) = (
                number.parse::<u64>(),
                hex(entry.get("stamp")),
                strings(entry.get("tags")),
                strings(entry.get("paths")),
            ) else {
                continue;
            };
            if paths.iter().all(|p| self.out.join(p).is_file()) {
                self.written.insert(
                    number,
                    Written {
                        stamp: Some(stamp),
                        tags,
                        paths,
                    },
                );
            }
        }
        self.context = Some(context);
    }

    fn manifest(&self, context: u64) -> Vec<u8> {
        use crate::json::Json;
        let strings = |v: &[String]| Json::Array(v.iter().cloned().map(Json::Str).collect());
        let mut trials: Vec<(&u64, &Written)> = self
            .written
            .iter()
            .filter(|(_, w)| w.stamp.is_some())
            .collect();
        trials.sort_by_key(|(n, _)| **n);
        let trials = trials
            .into_iter()
            .filter_map(|(n, w)| {
                Some((
                    n.to_string(),
                    Json::Object(vec![
                        ("stamp".into(), Json::Str(format!("{:x}", w.stamp?))),
                        ("tags".into(), strings(&w.tags)),
                        ("paths".into(), strings(&w.paths)),
                    ]),
                ))
            })
            .collect();
        Json::Object(vec![
            ("context".into(), Json::Str(format!("{context:x}"))),
            ("trials".into(), Json::Object(trials)),
        ])
        .to_compact()
        .into_bytes()
    }

    /// Writes the files of the trials that changed since the last call (all of them the
    /// first time, or when the logs' context changed); returns how many trials' files were
    /// written.
    pub fn write(&mut self, study: &StudyRecord) -> Result<usize, ExportError> {
        let tb_context = LogdirContext::new(study, &self.options);
        let t0 = study_start(study);
        let objective = objective_tags(study);
        let context = stable_hash(&format!(
            "{tb_context:?} {t0:?} {objective:?} {}",
            study.name
        ));
        if self.context != Some(context) {
            self.written.clear();
        }
        let mut tb = Vec::new();
        let mut wb = Vec::new();
        let mut fresh = Vec::new();
        for t in started_trials(study) {
            let now = stamp(t);
            if now.is_some() && self.written.get(&t.number).is_some_and(|w| w.stamp == now) {
                continue;
            }
            let (file, tags) = tb_context.trial_file(study, t);
            let run = wandb::run_file(study, t, t0, &objective, &self.options);
            let paths = vec![format!("tensorboard/{}", file.path), run.path.clone()];
            tb.push(file);
            wb.push(run);
            fresh.push((
                t.number,
                Written {
                    stamp: now,
                    tags,
                    paths,
                },
            ));
        }
        let count = fresh.len();
        // The top file lists the metric tags of every trial: the ones written now and the
        // ones written before.
        let mut tags: Vec<&String> = fresh.iter().flat_map(|(_, w)| &w.tags).collect();
        tags.extend(
            self.written
                .iter()
                .filter(|(n, _)| !fresh.iter().any(|(f, _)| f == *n))
                .flat_map(|(_, w)| &w.tags),
        );
        tb.insert(0, tb_context.root_file(tags));
        // Recorded only once written: a failed write is tried again next time.
        self.context = None;
        write_files_atomic(&self.out.join("tensorboard"), &tb)?;
        write_files_atomic(&self.out, &wb)?;
        self.written.extend(fresh);
        // Written after the files it lists: a kill before it leaves an older manifest, whose
        // trials are written again on resume.
        write_file_atomic(&self.manifest_path(), &self.manifest(context))?;
        self.context = Some(context);
        Ok(count)
    }
}

/// Removes the temporary files a killed writer left in [`write_sweep_logs`]'s folders
/// (a file set is written to temporary names and renamed; a kill between the two leaves
/// them); returns how many.
pub fn remove_stale_sweep_temps(out: &Path) -> usize {
    ["tensorboard", "wandb"]
        .iter()
        .map(|d| remove_stale_temp_files(&out.join(d)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sweeplab-export-fs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn writes_a_tree_and_replaces_files() {
        let root = scratch("tree");
        let files = vec![
            ExportFile {
                path: "a/b/c.txt".into(),
                bytes: b"one".to_vec(),
            },
            ExportFile {
                path: "top.txt".into(),
                bytes: b"two".to_vec(),
            },
        ];
        write_files_atomic(&root, &files).unwrap();
        assert_eq!(fs::read(root.join("a/b/c.txt")).unwrap(), b"one");
        write_file_atomic(&root.join("top.txt"), b"three").unwrap();
        assert_eq!(fs::read(root.join("top.txt")).unwrap(), b"three");
        let leftovers: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_failure_leaves_nothing_behind() {
        let root = scratch("fail");
        fs::create_dir_all(&root).unwrap();
        // `blocker` is a file, so `blocker/x` cannot be created.
        fs::write(root.join("blocker"), b"").unwrap();
        let files = vec![
            ExportFile {
                path: "new/first.txt".into(),
                bytes: b"1".to_vec(),
            },
            ExportFile {
                path: "blocker/x".into(),
                bytes: b"2".to_vec(),
            },
        ];
        let err = write_files_atomic(&root, &files).unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
        assert!(!root.join("new/first.txt").exists());
        assert!(!root.join("new").exists());
        let names: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["blocker"]);
        // A missing parent directory for a single file: an error, no temp file.
        let err = write_file_atomic(&root.join("nope/file"), b"x").unwrap_err();
        assert!(matches!(err, ExportError::Io { .. }));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn temporary_names_hide_the_final_name() {
        let t = temp_name(Path::new("/x/events.out.tfevents.1.host"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(TEMP_PREFIX), "{name}");
        assert!(!name.contains("tfevents"), "{name}");
        assert_eq!(temp_owner(&name), Some(std::process::id()));
        assert_eq!(
            temp_owner(".events.out.tfevents.1.tmp-4242-18f3a"),
            Some(4242)
        );
        assert_eq!(temp_owner("events.out.tfevents.1.host"), None);
        assert_eq!(temp_owner(".hidden.tmp-12-notHex"), None);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_live_ones_kept() {
        let root = scratch("stale");
        fs::create_dir_all(root.join("run/files")).unwrap();
        // A pid that no process has (above Linux's pid_max).
        let dead = root.join("run/files/.sweeplab.tmp-4294967-1f-0");
        let old_form = root.join("run/.events.out.tfevents.1.h.tmp-4294967-abc");
        let mine = temp_name(&root.join("run/keep"));
        let real = root.join("run/events.out.tfevents.1.h");
        for p in [&dead, &old_form, &mine, &real] {
            fs::write(p, b"x").unwrap();
        }
        if Path::new("/proc").is_dir() {
            assert_eq!(remove_stale_temp_files(&root), 2);
            assert!(!dead.exists() && !old_form.exists());
        }
        assert!(mine.exists() && real.exists());
        assert_eq!(remove_stale_temp_files(&root.join("missing")), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn paths_may_not_escape() {
        let root = scratch("escape");
        for p in ["../x", "/abs", "a//b", "a/./b", ""] {
            let files = vec![ExportFile {
                path: p.into(),
                bytes: Vec::new(),
            }];
            assert!(
                matches!(
                    write_files_atomic(&root, &files),
                    Err(ExportError::Invalid(_))
                ),
                "{p}"
            );
        }
        assert!(!root.exists());
    }

    /// Every file under `root`, by relative path.
    fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut files = std::collections::BTreeMap::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    let rel = p.strip_prefix(root).unwrap().display().to_string();
                    files.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        files
    }

    #[test]
    fn sweep_logs_written_trial_by_trial_equal_the_whole_export() {
        use crate::{Distribution, RandomSampler, SearchSpace, Study, StudyDirection, TellResult};
        let live = scratch("live");
        let whole = scratch("whole");
        let mut study = Study::create(
            "live",
            StudyDirection::Minimize,
            Box::new(RandomSampler::new(Some(3))),
        )
        .unwrap();
        let mut space = SearchSpace::new();
        space.insert("lr".into(), Distribution::float_log(1e-4, 1.0));
        space.insert("width".into(), Distribution::categorical(["8", "16"]));
        let mut logs = SweepLogs::new(&live);
        let mut written = Vec::new();
        for i in 0..6u64 {
            let (n, _) = study.ask_with(&space).unwrap();
            for step in 0..3 {
                study
                    .report(n, step, 1.0 / (step + 1 + i as i64) as f64)
                    .unwrap();
                study
                    .log_metric(n, "train/loss", step, 0.5 + step as f64)
                    .unwrap();
            }
            // The running trial is written, then written again once it is told.
            let record = study.storage().study(study.study_id()).unwrap();
            written.push(logs.write(record).unwrap());
            let result = if i == 2 {
                TellResult::Pruned
            } else {
                TellResult::Values(vec![1.0 / (i + 1) as f64])
            };
            study.tell(n, result).unwrap();
            let record = study.storage().study(study.study_id()).unwrap();
            written.push(logs.write(record).unwrap());
            let _ = fs::remove_dir_all(&whole);
            write_sweep_logs(record, &whole).unwrap();
            assert_eq!(tree(&live), tree(&whole), "after trial {i}");
        }
        // Each write encodes only the trial that is running or just finished.
        assert_eq!(written[0], 1);
        assert!(written[1..].iter().all(|w| *w == 1), "{written:?}");
        // A resumed sweep (a new writer on the same folder) writes nothing again, unless a
        // file is missing.
        let record = study.storage().study(study.study_id()).unwrap();
        assert_eq!(SweepLogs::new(&live).write(record).unwrap(), 0);
        let run = fs::read_dir(live.join("tensorboard/trial-003"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        fs::remove_file(&run).unwrap();
        assert_eq!(SweepLogs::new(&live).write(record).unwrap(), 1);
        let mut expected = tree(&whole);
        let manifest = format!("tensorboard/{MANIFEST}");
        let ours = tree(&live);
        // The manifests differ only in which writer wrote which trial; the logs are equal.
        expected.remove(&manifest);
        let mut without = ours.clone();
        without.remove(&manifest);
        assert_eq!(without, expected);
        // A new search-space value (the hparams' domain) rewrites every trial.
        let mut wider = space.clone();
        wider.insert("depth".into(), Distribution::int(1, 4));
        let (n, _) = study.ask_with(&wider).unwrap();
        study.tell(n, TellResult::Values(vec![0.1])).unwrap();
        let record = study.storage().study(study.study_id()).unwrap();
        assert_eq!(logs.write(record).unwrap(), 7);
        let _ = fs::remove_dir_all(&whole);
        write_sweep_logs(record, &whole).unwrap();
        assert_eq!(tree(&live), tree(&whole));
        fs::remove_dir_all(&live).unwrap();
        fs::remove_dir_all(&whole).unwrap();
    }
}
