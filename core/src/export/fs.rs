//! Writing a file set to disk without leaving anything half-written (native only).
//!
//! Every file is written to a temporary name in its own directory, flushed, and renamed
//! over its final name, so a reader sees the old file or the new one, never a part. If any
//! file of a set fails, the temporary files and the files this call already put in place
//! (that did not exist before) are removed again.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ExportError, ExportFile, check_relative_path};

fn io(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    path.with_file_name(format!(".{name}.tmp-{}-{nanos:x}", std::process::id()))
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
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
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
