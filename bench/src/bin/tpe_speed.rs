//! Ask latency (`docs/tpe-benchmark.md`): mean and median milliseconds per `ask` with 5
//! parameters (2 float, 1 log float, 1 int, 1 categorical) at 100, 500 and 1000 COMPLETE
//! trials, for sweeplab's TPE natively (with Optuna's defaults, and with sweeplab's tuning: 48 EI
//! candidates instead of 24) and for Optuna 5.0.0's default TPE in the same run (pinned venv),
//! three interleaved repetitions of 50 asks each; then each repetition's median.
//!
//! `cargo run --release -p sweeplab-bench --bin tpe_speed [-- --reps 3 --asks 50]`

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

fn optuna(
    python: &str,
    n: usize,
    asks: usize,
    seed: u64,
    defaults: TpeDefaults,
) -> Result<Vec<f64>> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/tpe_speed_optuna.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args([n.to_string(), asks.to_string(), seed.to_string()])
        .args((defaults == TpeDefaults::Sweeplab).then_some("sweeplab"))
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

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = arg(&args, "--reps", 3)?;
    let asks: usize = arg(&args, "--asks", 50)?;
    let python = peer_python()?;
    println!(
        "ask() latency, 5 parameters, default TPE (multivariate, constant liar); {reps} interleaved reps x {asks} asks"
    );
    println!("ours = sweeplab (native, release); optuna = Optuna 5.0.0 in {python}, same run\n");
    println!(
        "| completed trials | ours mean ms (median) | optuna mean ms (median) | speed-up (mean) | speed-up (median) |"
    );
    println!("|---|---|---|---|---|");
    // Per repetition, the median ask of each side (to see how steady the run was).
    let mut per_rep: Vec<(usize, Vec<f64>, Vec<f64>)> = Vec::new();
    type Tuned = (usize, Vec<f64>, Vec<f64>, f64);
    let mut tuned: Vec<Tuned> = Vec::new();
    for n in [100usize, 500, 1000] {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let (mut c, mut d) = (Vec::new(), Vec::new());
        let (mut ra, mut rb) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            let x = ours(n, asks, rep as u64, TpeDefaults::Optuna)?;
            let y = optuna(&python, n, asks, rep as u64, TpeDefaults::Optuna)?;
            c.extend(ours(n, asks, rep as u64, TpeDefaults::Sweeplab)?);
            d.extend(optuna(&python, n, asks, rep as u64, TpeDefaults::Sweeplab)?);
            ra.push(median(&x));
            rb.push(median(&y));
            a.extend(x);
            b.extend(y);
        }
        per_rep.push((n, ra, rb));
        println!(
            "| {n} | {:.3} ({:.3}) | {:.2} ({:.2}) | {:.0}x | {:.0}x |",
            mean(&a),
            median(&a),
            mean(&b),
            median(&b),
            mean(&b) / mean(&a),
            median(&b) / median(&a),
        );
        tuned.push((n, c, d, mean(&b)));
    }
    println!(
        "\nsweeplab's tuning (48 EI candidates, gamma 0.2) on both sides (Optuna: TPESampler(n_ei_candidates=48, gamma=...)), and against Optuna's default:\n"
    );
    println!(
        "| completed trials | ours tuned mean ms (median) | optuna tuned mean ms (median) | speed-up (mean) | speed-up (median) | vs optuna default (mean) |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, c, d, optuna_default) in &tuned {
        println!(
            "| {n} | {:.3} ({:.3}) | {:.2} ({:.2}) | {:.0}x | {:.0}x | {:.0}x |",
            mean(c),
            median(c),
            mean(d),
            median(d),
            mean(d) / mean(c),
            median(d) / median(c),
            optuna_default / mean(c)
        );
    }
    println!("\nmedian ms per repetition (same data):\n");
    println!("| completed trials | ours | optuna |");
    println!("|---|---|---|");
    let list = |v: &[f64], digits: usize| {
        v.iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (n, ra, rb) in &per_rep {
        println!("| {n} | {} | {} |", list(ra, 3), list(rb, 2));
    }
    Ok(())
}
