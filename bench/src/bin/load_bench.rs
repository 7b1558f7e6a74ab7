//! Loading big studies: the wall time and peak memory of `sweeplab studies` on a journal
//! file and on an SQLite database of 100,000 trials, against Python Optuna 5.0 loading the
//! same files (`optuna.load_study(...).trials`), side by side in one run.
//!
//! ```text
//! cargo build --release -p sweeplab
//! cargo run --release -p sweeplab-bench --bin load_bench -- [--trials 100000] [--repeats 3] [--python PY] [--keep]
//! ```
//!
//! The study is made through the core with the random sampler: 5 parameters (float, log
//! float, int, categorical, stepped float), 5 intermediate values and a value per trial,
//! written as Optuna's compact journal and as `study.db` (Optuna 5.0's SQLite schema). Each
//! command runs as its own process under `bench/python/peak.py`: its time is the wall clock
//! from spawn to exit, its memory its peak resident set (`ru_maxrss`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sweeplab_bench::{arg, median};
use sweeplab_core::samplers::RandomSampler;
use sweeplab_core::{Distribution, SearchSpace, Study, StudyDirection};

fn space() -> SearchSpace {
    [
        ("x".to_string(), Distribution::float(-5.0, 5.0)),
        ("lr".to_string(), Distribution::float_log(1e-5, 1e-1)),
        ("layers".to_string(), Distribution::int(1, 8)),
        (
            "opt".to_string(),
            Distribution::categorical(["adam", "sgd", "rmsprop"]),
        ),
        (
            "dropout".to_string(),
            Distribution::float_step(0.0, 0.5, 0.05),
        ),
    ]
    .into_iter()
    .collect()
}

/// Runs `cmd` under `bench/python/peak.py` (its stdout must contain `want`); returns
/// (seconds, the command's own peak resident MiB).
fn run_alone(python: &str, cmd: &[String], want: &str) -> Result<(f64, f64)> {
    let peak = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peak.py");
    let out = Command::new(python)
        .arg(peak)
        .args(cmd)
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("starting {python}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !text.contains(want) {
        bail!(
            "{} printed {text:?}, expected {want:?} in it",
            cmd.join(" ")
        );
    }
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak: "))
        .context("peak.py printed no peak line")?;
    let mut parts = last.split_whitespace();
    let secs: f64 = parts.next().context("seconds")?.parse()?;
    let kib: f64 = parts.next().context("KiB")?.parse()?;
    Ok((secs, kib / 1024.0))
}

fn sweeplab_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("sweeplab");
    if !bin.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p sweeplab` first",
            bin.display()
        );
    }
    Ok(bin)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let trials: usize = arg(&args, "--trials", 100_000)?;
    let repeats: usize = arg(&args, "--repeats", 3)?;
    let python = args
        .iter()
        .position(|a| a == "--python")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("SWEEPLAB_PYTHON").ok())
        .unwrap_or_else(|| "target/venv-conformance/bin/python".into());
    let bin = sweeplab_bin()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/load_optuna.py");
    let dir = std::env::temp_dir().join(format!("sweeplab-load-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let made = Instant::now();
    let mut study = Study::create(
        "big",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )?;
    let space = space();
    for _ in 0..trials {
        let (n, p) = study.ask_with(&space)?;
        let x = p.get("x").and_then(|v| v.as_f64()).unwrap_or(0.0);
        for step in 0..5 {
            study.report(n, step, x * x + 1.0 / (step as f64 + 1.0))?;
        }
        study.tell_value(n, x * x)?;
    }
    let record = study
        .storage()
        .studies()
        .next()
        .context("the study")?
        .clone();
    let journal = dir.join("big.log");
    std::fs::write(&journal, study.storage().to_compact_journal("bench"))?;
    let db = dir.join("big.db");
    std::fs::write(&db, sweeplab_storage::sqlite_file_bytes(&record)?)?;
    eprintln!(
        "load_bench: {trials} trials made in {:.1} s; journal {:.1} MB, study.db {:.1} MB",
        made.elapsed().as_secs_f64(),
        std::fs::metadata(&journal)?.len() as f64 / 1e6,
        std::fs::metadata(&db)?.len() as f64 / 1e6
    );

    let want = format!("trials={trials}");
    let count = trials.to_string();
    println!(
        "Loading a study of {trials} trials (5 params, 5 intermediate values each); median of {repeats} runs, peak resident memory"
    );
    println!(
        "| storage | sweeplab studies: s | MB | Optuna 5.0 load_study().trials: s | MB | time ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, file, url) in [
        ("journal file", &journal, s(&journal)),
        ("SQLite", &db, format!("sqlite:///{}", s(&db))),
    ] {
        let mut ours = Vec::new();
        let mut peer = Vec::new();
        for _ in 0..repeats {
            ours.push(run_alone(
                &python,
                &[s(&bin), "studies".into(), "--storage".into(), url.clone()],
                &want,
            )?);
            peer.push(run_alone(
                &python,
                &[python.clone(), s(&script), s(file), "big".into()],
                &count,
            )?);
        }
        let col = |v: &[(f64, f64)], i: usize| {
            median(
                &v.iter()
                    .map(|p| if i == 0 { p.0 } else { p.1 })
                    .collect::<Vec<_>>(),
            )
        };
        let (st, sm, pt, pm) = (col(&ours, 0), col(&ours, 1), col(&peer, 0), col(&peer, 1));
        println!(
            "| {label} | {st:.2} | {sm:.0} | {pt:.2} | {pm:.0} | {:.1}x |",
            pt / st
        );
    }
    if args.iter().any(|a| a == "--keep") {
        eprintln!("load_bench: the files are kept in {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}
