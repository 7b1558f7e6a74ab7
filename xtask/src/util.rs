//! Small helpers for running commands.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

thread_local! {
    /// Where a background job's commands write their output (see `crate::background`):
    /// its log file, and whether they run at the lowest CPU priority.
    static BACKGROUND: RefCell<Option<(File, bool)>> = const { RefCell::new(None) };
}

/// Makes the commands this thread runs through [`run`] and [`output`] write to `log` (and
/// run under `nice -n 19` when `nice`): a background job's setting.
pub fn run_in_background(log: File, nice: bool) {
    BACKGROUND.with(|b| *b.borrow_mut() = Some((log, nice)));
}

/// `cmd` as this thread's setting runs it: `None` to run it as it is; in a background job,
/// `cmd` under `nice -n 19` where asked, its output going to the job's log, and the log.
fn as_configured(cmd: &mut Command) -> Result<Option<(Command, File)>> {
    BACKGROUND.with(|b| {
        let b = b.borrow();
        let Some((log, nice)) = b.as_ref() else {
            return Ok(None);
        };
        let mut c = if *nice {
            let mut c = Command::new("nice");
            c.arg("-n")
                .arg("19")
                .arg(cmd.get_program())
                .args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            if let Some(dir) = cmd.get_current_dir() {
                c.current_dir(dir);
            }
            c
        } else {
            std::mem::replace(cmd, Command::new("true"))
        };
        c.stdout(log.try_clone()?).stderr(log.try_clone()?);
        Ok(Some((c, log.try_clone()?)))
    })
}

/// The workspace root (the parent of xtask/).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// Runs a command in the workspace root, echoing it; fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    let mut background = as_configured(cmd)?;
    let cmd = match &mut background {
        Some((c, log)) => {
            use std::io::Write;
            writeln!(log, "xtask: $ {}", describe(c))?;
            c
        }
        None => {
            eprintln!("xtask: $ {}", describe(cmd));
            cmd
        }
    };
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(cmd));
    }
    Ok(())
}

/// Runs a command and captures stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .current_dir(root())
        .output()
        .with_context(|| format!("could not start `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed with {}: {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A printable form of a command.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `cargo` with the toolchain that runs xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Installs Debian packages with apt-get (running `apt-get update` once if the first try
/// fails).
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let install = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q"])
            .args(packages)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if install(&mut Command::new("apt-get")) {
        return Ok(());
    }
    let _ = Command::new("apt-get").args(["update", "-q"]).status();
    if install(&mut Command::new("apt-get")) {
        return Ok(());
    }
    bail!("apt-get install {} failed", packages.join(" "))
}

/// The C compiler for wasm32 (SQLite in the playground's `study.db` module): `$CC_wasm32_unknown_unknown`
/// when set, else Debian's clang-19 (installed when missing; older Debian clangs fail on
/// SQLite's wasm32 build).
pub fn wasm_cc() -> Result<String> {
    if let Ok(cc) = std::env::var("CC_wasm32_unknown_unknown") {
        return Ok(cc);
    }
    let have = |c: &str| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("clang-19") {
        eprintln!("xtask: installing clang-19 (SQLite for wasm32)");
        apt_install(&["clang-19"])?;
    }
    Ok("clang-19".into())
}
