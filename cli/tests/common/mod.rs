//! Helpers shared by the CLI's integration tests.
// Each test binary uses a part of this module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A new empty directory under the system's temporary folder, named after `name`; it is
/// deleted when the value is dropped (a failing test leaves nothing behind either).
pub fn tmpdir(name: &str) -> TestDir {
    TestDir(
        tempfile::Builder::new()
            .prefix(&format!("sweeplab-test-{name}-"))
            .tempdir()
            .unwrap(),
    )
}

/// A test's temporary directory (see [`tmpdir`]); it reads as its path.
pub struct TestDir(tempfile::TempDir);

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// The `sweeplab` binary under test.
pub fn sweeplab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sweeplab"))
}

/// `sweeplab` run with `args`, its output collected.
pub fn run(args: &[&str]) -> Output {
    sweeplab().args(args).output().unwrap()
}

/// `sweeplab` run with `args`, which must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file below `dir`, at any depth, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
