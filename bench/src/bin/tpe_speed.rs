//! Ask latency (`docs/tpe-benchmark.md`): mean and median milliseconds per `ask` with 5
//! parameters (2 float, 1 log float, 1 int, 1 categorical) at 100, 500, 1,000, 5,000 and
//! 10,000 COMPLETE trials, for sweeplab's TPE natively (with Optuna's defaults, and with
//! sweeplab's tuning: 48 EI candidates, gamma 0.2) and, in the same run, for the strongest
//! peers: rustuna 0.2.0 (Optuna's TPE in Rust, timed through its Python binding: `ask` and
//! the five `suggest_*` calls) and Optuna 5.0.0's default TPE (pinned venv); three
//! interleaved repetitions of 50 asks each; then each repetition's median.
//!
//! `cargo run --release -p sweeplab-bench --bin tpe_speed [-- --reps 3 --asks 50 --max-n 10000]`
//! `--ours-only` skips the peers (for profiling sweeplab's side); `--sizes 100,10000` picks
//! the study sizes.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use sweeplab_bench::{arg, mean, median, peer_python};
use sweeplab_core::json::Json;
use sweeplab_core::samplers::{RandomSampler, TpeDefaults, TpeSampler};
use sweeplab_core::{
    Distribution, FrozenTrial, SearchSpace, Study, StudyDirection, TellResult, TrialState,
};

fn space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("x1".into(), Distribution::float(-5.0, 5.0));
    s.insert("x2".into(), Distribution::float(-5.0, 5.0));
    s.insert("x3".into(), Distribution::float_log(1e-4, 1.0));
    s.insert("x4".into(), Distribution::int(0, 100));
    s.insert("x5".into(), Distribution::categorical(["a", "b", "c", "d"]));
    s
}

/// Milliseconds per ask for a study with `n` random COMPLETE trials.
fn ours(n: usize, asks: usize, seed: u64, defaults: TpeDefaults) -> Result<Vec<f64>> {
    let sp = space();
    let mut study = Study::create(
        "speed",
        StudyDirection::Minimize,
        Box::new(TpeSampler::new(defaults.config(Some(seed)))),
    )?;
    let mut rng = sweeplab_core::samplers::trial_rng(seed, 0, 99);
    for _ in 0..n {
        let mut t = FrozenTrial::new(0, 0, TrialState::Complete);
        let mut x = BTreeMap::new();
        for (name, d) in &sp {
            let v = RandomSampler::draw(&mut rng, d);
            t.set_param_internal(name, d.clone(), v);
            x.insert(name.clone(), v);
        }
        let value = x["x1"].powi(2)
            + x["x2"].powi(2)
            + (x["x3"].log10() + 2.0).abs()
            + (x["x4"] - 50.0).abs() / 50.0
            + f64::from(u8::from(x["x5"] != 1.0));
        t.values = Some(vec![value]);
        study.add_trial(&t)?;
    }
    let mut ms = Vec::with_capacity(asks);
    for _ in 0..asks {
        let t0 = Instant::now();
        let (number, _) = study.ask_with(&sp)?;
        ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        study.tell(number, TellResult::Fail)?;
    }
    Ok(ms)
}

/// Milliseconds per ask of a Python peer's script (`tpe_speed_optuna.py`,
/// `tpe_speed_rustuna.py`) for a study with `n` random COMPLETE trials.
fn peer(
    script: &str,
    python: &str,
    n: usize,
    asks: usize,
    seed: u64,
    tuned: bool,
) -> Result<Vec<f64>> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([n.to_string(), asks.to_string(), seed.to_string()])
        .args(tuned.then_some("sweeplab"))
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v =
        Json::parse(&String::from_utf8_lossy(&out.stdout)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(v.get("ms")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default())
}

/// `mean (median)` of a sample in milliseconds.
fn cell(v: &[f64]) -> String {
    format!("{:.3} ({:.3})", mean(v), median(v))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = arg(&args, "--reps", 3)?;
    let asks: usize = arg(&args, "--asks", 50)?;
    let max_n: usize = arg(&args, "--max-n", 10_000)?;
    let ours_only = args.iter().any(|a| a == "--ours-only");
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args
            .get(i + 1)
            .context("--sizes wants a list such as 100,10000")?
            .split(',')
            .map(|n| n.trim().parse().context("--sizes: a trial count"))
            .collect::<Result<_>>()?,
        None => [100usize, 500, 1000, 5000, 10_000]
            .into_iter()
            .filter(|n| *n <= max_n)
            .collect(),
    };
    if ours_only {
        println!("| completed trials | ours, Optuna's defaults | ours, tuned |");
        println!("|---|---|---|");
        for &n in &sizes {
            let (mut a, mut c) = (Vec::new(), Vec::new());
            for rep in 0..reps {
                a.extend(ours(n, asks, rep as u64, TpeDefaults::Optuna)?);
                c.extend(ours(n, asks, rep as u64, TpeDefaults::Sweeplab)?);
            }
            println!("| {n} | {} | {} |", cell(&a), cell(&c));
        }
        return Ok(());
    }
    let python = peer_python()?;
    println!(
        "ask() latency in ms, mean (median), 5 parameters, TPE (multivariate, constant liar); {reps} interleaved reps x {asks} asks"
    );
    println!(
        "ours = sweeplab (native, release); rustuna 0.2.0 and Optuna 5.0.0 in {python}, same run\n"
    );
    println!(
        "| completed trials | ours (Optuna's defaults) | ours (tuned) | rustuna | optuna | rustuna / ours | rustuna / ours tuned | optuna / ours |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // Per repetition, the median ask of each side (to see how steady the run was).
    let mut per_rep: Vec<(usize, [Vec<f64>; 4])> = Vec::new();
    for &n in &sizes {
        let mut all: [Vec<f64>; 4] = Default::default();
        let mut reps_median: [Vec<f64>; 4] = Default::default();
        for rep in 0..reps {
            let seed = rep as u64;
            let runs = [
                ours(n, asks, seed, TpeDefaults::Optuna)?,
                ours(n, asks, seed, TpeDefaults::Sweeplab)?,
                peer("tpe_speed_rustuna.py", &python, n, asks, seed, false)?,
                peer("tpe_speed_optuna.py", &python, n, asks, seed, false)?,
            ];
            for (k, r) in runs.into_iter().enumerate() {
                reps_median[k].push(median(&r));
                all[k].extend(r);
            }
        }
        let m = |k: usize| median(&all[k]);
        println!(
            "| {n} | {} | {} | {} | {} | {:.1}x | {:.1}x | {:.0}x |",
            cell(&all[0]),
            cell(&all[1]),
            cell(&all[2]),
            cell(&all[3]),
            m(2) / m(0),
            m(2) / m(1),
            m(3) / m(0),
        );
        per_rep.push((n, reps_median));
    }
    println!("\nratios of medians; median ms per repetition (same data):\n");
    println!("| completed trials | ours | ours tuned | rustuna | optuna |");
    println!("|---|---|---|---|---|");
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (n, r) in &per_rep {
        println!(
            "| {n} | {} | {} | {} | {} |",
            list(&r[0]),
            list(&r[1]),
            list(&r[2]),
            list(&r[3])
        );
    }
    Ok(())
}
