//! Ask+tell round trips per second on Optuna's database storages: sweeplab against Python
//! Optuna 5.0's RDBStorage, side by side in one run, on one PostgreSQL server at 1, 4 and
//! 16 concurrent workers and on SQLite with one worker.
//!
//! ```text
//! cargo run --release -p sweeplab-bench --bin rdb_bench -- \
//!     --postgres postgresql://USER:PASS@127.0.0.1:5432/postgres --python PY
//! ```
//!
//! Each run is a fresh database with one study; every worker (a thread with its own
//! connection for sweeplab, a process for Optuna, as each is used) asks and tells its share
//! of `--trials` trials of 5 float parameters with the random sampler, so the storage, not
//! the sampler, is measured. The clock starts when every worker is connected. Afterwards
//! the study is read back: a trial number missing or seen twice, or a trial whose value is
//! not the one its worker told, counts as lost or duplicated. `--python` is a Python with
//! optuna==5.0.0 and psycopg (the conformance venv has both).
//! `--ours-only` skips the Optuna runs (for profiling sweeplab's side).

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sweeplab_bench::arg;
use sweeplab_core::samplers::RandomSampler;
use sweeplab_core::storage::journal::JournalOp;
use sweeplab_core::store::StudyStore;
use sweeplab_core::{Distribution, SearchSpace, Study, StudyDirection, TellResult, TrialState};
use sweeplab_storage::Storage;

fn space() -> SearchSpace {
    (0..5)
        .map(|i| (format!("x{i}"), Distribution::float(-5.0, 5.0)))
        .collect()
}

/// One sweeplab worker: its share of ask+tell round trips; returns (number, value) told.
fn sweeplab_worker(url: &str, n: usize, barrier: &Barrier) -> Result<Vec<(u64, f64)>> {
    let storage = Storage::open(url, None)?;
    let (mut store, state) = storage.into_store("bench")?;
    let mut study = Study::load(state, "bench", Box::new(RandomSampler::new(None)))?;
    study.set_worker_id(&format!("sweeplab-bench-{:?}", std::thread::current().id()));
    let space = space();
    barrier.wait();
    let mut told = Vec::with_capacity(n);
    for _ in 0..n {
        let (number, params) = store.create(&mut study, |s| {
            s.ask_with(&space).map_err(anyhow::Error::from)
        })?;
        let v: f64 = params
            .values()
            .filter_map(|p| p.as_f64())
            .map(|x| x * x)
            .sum();
        store.write(&mut study, |s| {
            s.tell(number, TellResult::Values(vec![v]))
                .map_err(anyhow::Error::from)
        })?;
        told.push((number, v));
    }
    Ok(told)
}

fn create_study(url: &str) -> Result<()> {
    let mut storage = Storage::open(url, None)?;
    storage.transact("bench", "bench", |_| -> Result<_> {
        Ok((
            (),
            vec![JournalOp::CreateStudy {
                study_name: "bench".into(),
                directions: vec![StudyDirection::Minimize],
            }],
        ))
    })
}

/// Trial numbers missing or duplicated, and told values that are not stored.
fn audit(url: &str, trials: usize, told: Option<&[(u64, f64)]>) -> Result<usize> {
    let state = Storage::open(url, None)?.load_all()?;
    let study = state.study_by_name("bench").context("the study vanished")?;
    let mut seen = vec![0usize; trials];
    let mut bad = 0;
    for t in &study.trials {
        match seen.get_mut(t.number as usize) {
            Some(c) => *c += 1,
            None => bad += 1,
        }
        if t.state != TrialState::Complete {
            bad += 1;
        }
    }
    bad += seen.iter().filter(|c| **c != 1).count();
    if let Some(told) = told {
        for (n, v) in told {
            let stored = study
                .trials
                .get(*n as usize)
                .and_then(|t| t.values.as_ref())
                .and_then(|v| v.first().copied());
            if stored != Some(*v) {
                bad += 1;
            }
        }
    }
    Ok(bad)
}

/// A fresh PostgreSQL database on the server of `admin` (a URL of its `postgres` database).
fn fresh_postgres(admin: &str, name: &str) -> Result<String> {
    let mut c = postgres_admin(admin)?;
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
    c.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

fn postgres_admin(admin: &str) -> Result<postgres::Client> {
    Ok(postgres::Client::connect(admin, postgres::NoTls)?)
}

fn shares(total: usize, workers: usize) -> Vec<usize> {
    (0..workers)
        .map(|i| total / workers + usize::from(i < total % workers))
        .collect()
}

/// One sweeplab run: seconds, and lost or duplicated trials.
fn run_sweeplab(url: &str, trials: usize, workers: usize) -> Result<(f64, usize)> {
    create_study(url)?;
    let barrier = Arc::new(Barrier::new(workers + 1));
    let handles: Vec<_> = shares(trials, workers)
        .into_iter()
        .map(|n| {
            let (url, barrier) = (url.to_string(), barrier.clone());
            std::thread::spawn(move || sweeplab_worker(&url, n, &barrier))
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let mut told = Vec::new();
    for h in handles {
        match h.join() {
            Ok(r) => told.extend(r?),
            Err(_) => bail!("a sweeplab worker panicked"),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok((secs, audit(url, trials, Some(&told))?))
}

/// One Optuna run: seconds, and lost or duplicated trials.
fn run_optuna(python: &str, url: &str, trials: usize, workers: usize) -> Result<(f64, usize)> {
    create_study(url)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/rdb_optuna.py");
    let out = Command::new(python)
        .arg(script)
        .arg(url)
        .arg("bench")
        .arg(trials.to_string())
        .arg(workers.to_string())
        .output()
        .with_context(|| format!("running {python} {script}"))?;
    if !out.status.success() {
        bail!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let secs = text
        .split("\"seconds\":")
        .nth(1)
        .and_then(|s| s.trim().trim_end_matches('}').trim().parse::<f64>().ok())
        .with_context(|| format!("{script} printed no seconds: {text}"))?;
    Ok((secs, audit(url, trials, None)?))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let postgres = get("--postgres");
    let python = get("--python").unwrap_or_else(|| "python3".into());
    let trials: usize = arg(&args, "--trials", 1000)?;
    let repeats: usize = arg(&args, "--repeats", 3)?;
    // Profiling sweeplab's side: no Optuna runs (its columns stay empty).
    let ours_only = args.iter().any(|a| a == "--ours-only");
    let workers: Vec<usize> = get("--workers")
        .unwrap_or_else(|| "1,4,16".into())
        .split(',')
        .map(|w| w.trim().parse::<usize>().context("--workers"))
        .collect::<Result<_>>()?;
    let dir = std::env::temp_dir().join(format!("sweeplab-rdb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut cases: Vec<(String, usize)> = vec![("SQLite".into(), 1)];
    if postgres.is_some() {
        cases.extend(workers.iter().map(|w| ("PostgreSQL".to_string(), *w)));
    } else {
        eprintln!("rdb_bench: no --postgres URL: SQLite only");
    }
    println!(
        "ask+tell round trips, {trials} trials of 5 float parameters, random sampler; median of {repeats} runs"
    );
    println!(
        "| storage | workers | sweeplab trials/s | Optuna 5.0 trials/s | ratio | per worker: sweeplab / Optuna | lost or duplicated (sweeplab / Optuna) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut run = 0;
    for (kind, w) in cases {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let (mut bad_ours, mut bad_theirs) = (0, 0);
        for _ in 0..repeats {
            for side in 0..if ours_only { 1 } else { 2 } {
                run += 1;
                let url = match (kind.as_str(), &postgres) {
                    ("PostgreSQL", Some(admin)) => {
                        fresh_postgres(admin, &format!("sweeplab_bench_{run}"))?
                    }
                    _ => format!("sqlite:///{}", dir.join(format!("run{run}.db")).display()),
                };
                if side == 0 {
                    let (s, bad) = run_sweeplab(&url, trials, w)?;
                    ours.push(trials as f64 / s);
                    bad_ours += bad;
                } else {
                    let (s, bad) = run_optuna(&python, &url, trials, w)?;
                    theirs.push(trials as f64 / s);
                    bad_theirs += bad;
                }
                if let ("PostgreSQL", Some(admin)) = (kind.as_str(), &postgres) {
                    let _ = postgres_admin(admin)?.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS sweeplab_bench_{run} WITH (FORCE)"
                    ));
                }
            }
        }
        if ours_only {
            let a = median(ours);
            println!(
                "| {kind} | {w} | {a:.0} | | | {:.0} / | {bad_ours} / |",
                a / w as f64
            );
            continue;
        }
        let (a, b) = (median(ours), median(theirs));
        println!(
            "| {kind} | {w} | {a:.0} | {b:.0} | {:.1}x | {:.0} / {:.0} | {bad_ours} / {bad_theirs} |",
            a / b,
            a / w as f64,
            b / w as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
