//! Writing a file set to disk without leaving anything half-written (native only).
//!
//! Every file is written to a temporary name in its own directory, flushed, and renamed
//! over its final name, so a reader sees the old file or the new one, never a part. If any
//! file of a set fails, the temporary files and the files this call already put in place
//! (that did not exist before) are removed again.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{
    ExportError, ExportFile, ExportFormat, ExportOptions, check_relative_path, export_study,
};
use crate::storage::journal::StudyRecord;

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
/// W&B offline runs in `out/wandb`, each file atomically. Called after every trial, it
/// rewrites what changed, so a reader (TensorBoard, `wandb sync`) follows the sweep.
pub fn write_sweep_logs(study: &StudyRecord, out: &Path) -> Result<(), ExportError> {
    let options = ExportOptions::default();
    let tb = export_study(study, ExportFormat::TensorBoard, &options)?;
    write_files_atomic(&out.join("tensorboard"), &tb)?;
    let wb = export_study(study, ExportFormat::Wandb, &options)?;
    write_files_atomic(out, &wb)
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
}
