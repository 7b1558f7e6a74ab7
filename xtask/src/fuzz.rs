//! `cargo xtask fuzz [--seconds N | --runs N] [--target NAME]`: coverage-guided fuzzing of
//! every input a user or another tool hands sweeplab (the targets in `fuzz/`, built with
//! cargo-fuzz and libFuzzer). Each target runs for N seconds (60 by default), or for N
//! executions with `--runs`, on its seed corpus
//! (`fuzz/corpus/<target>/`, read only) plus a working corpus under `fuzz/target/work/`;
//! crashing inputs land in `fuzz/artifacts/<target>/`. libFuzzer needs the nightly
//! toolchain: without it the command says it skipped and succeeds.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{self, root};
use crate::web::target_dir;

/// The cargo-fuzz release the fuzz targets are built with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// The targets, in `fuzz/Cargo.toml` order.
const TARGETS: [&str; 9] = [
    "journal_lines",
    "sweep_yaml",
    "search_space_json",
    "sampler_kwargs",
    "url_hash",
    "indexeddb_records",
    "database_rows",
    "redis_entries",
    "lesson_files",
];

/// libFuzzer's limits for every run: inputs up to 64 KiB, 2 GiB of memory, 10 s per input.
const LIBFUZZER_LIMITS: [&str; 3] = ["-max_len=65536", "-rss_limit_mb=2048", "-timeout=10"];

fn usage() {
    println!("usage: cargo xtask fuzz [--seconds N | --runs N] [--target NAME]\n");
    println!("  --seconds N    how long each target runs (default 60)");
    println!("  --runs N       run each target for N executions instead, however long it takes");
    println!(
        "  --target NAME  run only this target; one of {}",
        TARGETS.join(", ")
    );
    println!(
        "\nNeeds the nightly toolchain (skipped without it); installs cargo-fuzz {CARGO_FUZZ_VERSION}."
    );
}

/// What one target's run did.
struct Outcome {
    target: &'static str,
    executions: u64,
    seconds: f64,
    exec_per_s: Option<u64>,
    cov: Option<u64>,
    crashes: usize,
}

/// Runs the fuzz targets (see the module documentation).
pub fn run(args: &[String]) -> Result<()> {
    let mut seconds: u64 = 60;
    let mut runs: Option<u64> = None;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().context("--seconds needs a number")?;
                seconds = v
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .with_context(|| format!("--seconds: `{v}` is not a positive integer"))?;
            }
            "--runs" => {
                let v = it.next().context("--runs needs a number")?;
                runs = Some(
                    v.parse()
                        .ok()
                        .filter(|s| *s > 0)
                        .with_context(|| format!("--runs: `{v}` is not a positive integer"))?,
                );
            }
            "--target" => {
                let v = it.next().context("--target needs a name")?;
                if !TARGETS.contains(&v.as_str()) {
                    bail!(
                        "--target: no fuzz target `{v}`; the targets are {}",
                        TARGETS.join(", ")
                    );
                }
                only = Some(v.clone());
            }
            "--help" | "-h" => {
                usage();
                return Ok(());
            }
            other => bail!("fuzz: unknown argument `{other}`; try `cargo xtask fuzz --help`"),
        }
    }
    if !have_nightly() {
        println!(
            "xtask fuzz: skipped: libFuzzer needs the nightly toolchain, which is not installed \
             (`rustup toolchain install nightly`)"
        );
        return Ok(());
    }
    let tools_bin = cargo_fuzz()?;
    util::run(nightly_cargo_fuzz(&tools_bin).arg("build"))?;
    let targets: Vec<&'static str> = TARGETS
        .iter()
        .copied()
        .filter(|t| only.as_deref().is_none_or(|o| o == *t))
        .collect();
    let mut outcomes = Vec::new();
    for target in targets {
        let limit = match runs {
            Some(n) => Limit::Runs(n),
            None => Limit::Seconds(seconds),
        };
        outcomes.push(run_target(&tools_bin, target, limit)?);
    }
    print_table(&outcomes);
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crashes > 0)
        .map(|o| o.target)
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzzing found crashes in {}; the inputs are in {}",
            crashed.join(", "),
            root().join("fuzz/artifacts").display()
        );
    }
    Ok(())
}

/// Installs cargo-fuzz and builds every target, as [`run`] would before fuzzing (nothing
/// where the nightly toolchain is missing): `cargo xtask test` does it in the background.
pub fn prebuild() -> Result<()> {
    if !have_nightly() {
        return Ok(());
    }
    let tools_bin = cargo_fuzz()?;
    util::run(nightly_cargo_fuzz(&tools_bin).arg("build"))
}

/// Whether rustup has a nightly toolchain.
fn have_nightly() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The folder holding `cargo-fuzz` at [`CARGO_FUZZ_VERSION`], installed under
/// `<target>/tools` when missing.
fn cargo_fuzz() -> Result<PathBuf> {
    let tools = target_dir().join("tools");
    let bin = tools.join("bin").join("cargo-fuzz");
    let have = if bin.exists() {
        util::output(Command::new(&bin).arg("--version")).unwrap_or_default()
    } else {
        String::new()
    };
    if have.split_whitespace().nth(1) != Some(CARGO_FUZZ_VERSION) {
        eprintln!(
            "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} into {}",
            tools.display()
        );
        util::run(
            util::cargo()
                .args([
                    "install",
                    "cargo-fuzz",
                    "--version",
                    CARGO_FUZZ_VERSION,
                    "--locked",
                    "--root",
                ])
                .arg(&tools),
        )?;
    }
    Ok(tools.join("bin"))
}

/// `cargo fuzz` on the nightly toolchain, finding the pinned cargo-fuzz in `tools_bin`
/// first. The toolchain is named through `rustup run`, so the stable cargo that runs xtask
/// (in `CARGO`, `RUSTUP_TOOLCHAIN`) does not leak into the build.
fn nightly_cargo_fuzz(tools_bin: &Path) -> Command {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![tools_bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"])
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN");
    if let Ok(p) = std::env::join_paths(dirs) {
        cmd.env("PATH", p);
    }
    cmd
}

/// How long one target runs.
#[derive(Clone, Copy)]
enum Limit {
    /// For this many seconds.
    Seconds(u64),
    /// For this many executions.
    Runs(u64),
}

/// Runs one target until `limit`, echoing libFuzzer's status lines and reading its counts.
fn run_target(tools_bin: &Path, target: &'static str, limit: Limit) -> Result<Outcome> {
    let fuzz = root().join("fuzz");
    let work = fuzz.join("target/work").join(target);
    let seeds = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&artifacts)?;
    let before = count_files(&artifacts);
    let mut cmd = nightly_cargo_fuzz(tools_bin);
    cmd.args(["run", target])
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(match limit {
            Limit::Seconds(s) => format!("-max_total_time={s}"),
            Limit::Runs(n) => format!("-runs={n}"),
        })
        .args(LIBFUZZER_LIMITS)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match limit {
        Limit::Seconds(s) => eprintln!("xtask: fuzzing {target} for {s} s"),
        Limit::Runs(n) => eprintln!("xtask: fuzzing {target} for {n} executions"),
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start `{}`", util::describe(&cmd)))?;
    let mut last_status: Option<String> = None;
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            // `#N\tNEW cov: …` (not the `###### Recommended dictionary` after the end): only
            // the milestones and the end are worth showing.
            let status_line = line
                .strip_prefix('#')
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            if status_line {
                if line.contains("INITED") || line.contains("DONE") || line.contains("pulse") {
                    eprintln!("  {line}");
                }
                last_status = Some(line);
            } else {
                tail.push(line);
                if tail.len() > 60 {
                    tail.remove(0);
                }
            }
        }
    }
    let status = child.wait()?;
    let secs = started.elapsed().as_secs_f64();
    let crashes = count_files(&artifacts).saturating_sub(before);
    if !status.success() {
        for line in &tail {
            eprintln!("  | {line}");
        }
        if crashes == 0 {
            bail!("`{}` failed with {status}", util::describe(&cmd));
        }
    }
    let field = |key: &str| -> Option<u64> {
        let s = last_status.as_deref()?;
        let rest = &s[s.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let executions = last_status
        .as_deref()
        .and_then(|s| s.trim_start_matches('#').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(Outcome {
        target,
        executions,
        seconds: secs,
        exec_per_s: field("exec/s: "),
        cov: field("cov: "),
        crashes,
    })
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.flatten().count())
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "\n{:<20} {:>12} {:>10} {:>8} {:>8}",
        "target", "executions", "exec/s", "cov", "crashes"
    );
    for o in outcomes {
        // libFuzzer's own rate; the wall clock also counts cargo's build check.
        let rate = o
            .exec_per_s
            .map_or_else(|| o.executions as f64 / o.seconds.max(1e-9), |r| r as f64);
        println!(
            "{:<20} {:>12} {:>10.0} {:>8} {:>8}",
            o.target,
            o.executions,
            rate,
            o.cov.map_or("-".to_string(), |c| c.to_string()),
            o.crashes
        );
    }
}
