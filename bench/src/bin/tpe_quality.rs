//! TPE quality benchmark (`docs/tpe-benchmark.md`): median regret of sweeplab's samplers on
//! the five test functions, 20 seeds, budgets 50 and 100, beside Optuna 5.0.0 run on the same
//! functions and seeds and Optuna 5.0.0's reference medians recorded in that document. Rows: random, `tpe_default` (Optuna's defaults),
//! `tpe_univariate` (4.x), and `tpe_sweeplab` (sweeplab's tuning, [`TpeConfig::sweeplab`],
//! compared with Optuna's `tpe_default`).
//!
//! `cargo run --release -p sweeplab-bench --bin tpe_quality [-- --seeds 20] [--first-seed 0]
//! [--no-optuna]`; the tuning was chosen on `--first-seed 100 --seeds 40` and checked on
//! `--first-seed 200 --seeds 40`, apart from the benchmark's seeds 0..19.

use anyhow::Result;
use sweeplab_bench::{Problem, arg, mann_whitney_p, mean, median, peer_python, problems};
use sweeplab_core::json::Json;
use sweeplab_core::samplers::{RandomSampler, Sampler, TpeConfig, TpeSampler};
use sweeplab_core::{Study, StudyDirection};

/// Optuna 5.0.0's median regrets over seeds 0..19, as `bench/python/tpe_quality_optuna.py`
/// gives them (recorded in `docs/tpe-benchmark.md`): (function, budget) → (random,
/// tpe_default, tpe_univariate).
const OPTUNA: &[(&str, usize, f64, f64, f64)] = &[
    ("branin", 50, 0.7465, 0.1095, 0.4264),
    ("hartmann6", 50, 1.554, 0.3303, 0.6001),
    ("rosenbrock5_log", 50, 64.36, 9.792, 18.84),
    ("ackley5_mixed", 50, 8.354, 3.992, 4.772),
    ("rastrigin4_disc", 50, 18.0, 12.06, 12.56),
    ("branin", 100, 0.3801, 0.01884, 0.05004),
    ("hartmann6", 100, 1.199, 0.09433, 0.3268),
    ("rosenbrock5_log", 100, 49.21, 4.615, 5.691),
    ("ackley5_mixed", 100, 7.703, 2.393, 3.61),
    ("rastrigin4_disc", 100, 14.56, 3.0, 4.0),
];

/// Best-so-far regret after 50 and 100 trials.
fn run(problem: &Problem, sampler: Box<dyn Sampler>) -> Result<(f64, f64)> {
    let mut study = Study::create(problem.name, StudyDirection::Minimize, sampler)?;
    let mut best = f64::INFINITY;
    let mut at50 = f64::NAN;
    for i in 0..100 {
        let (n, params) = study.ask_with(&problem.space)?;
        let x: Vec<f64> = params
            .values()
            .map(|p| p.as_f64().unwrap_or(f64::NAN))
            .collect();
        let v = (problem.f)(&x);
        study.tell_value(n, v)?;
        best = best.min(v);
        if i == 49 {
            at50 = best - problem.opt;
        }
    }
    Ok((at50, best - problem.opt))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = arg(&args, "--seeds", 20)?;
    let first: u64 = arg(&args, "--first-seed", 0)?;
    let skip_peer = args.iter().any(|a| a == "--no-optuna") || first != 0;

    // The peer, in the same run: Optuna 5.0.0 on the same functions and seeds.
    let peer: Option<Json> = if skip_peer {
        None
    } else {
        let python = peer_python()?;
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/tpe_quality_optuna.py");
        eprintln!("running Optuna 5.0.0 with {python} ({seeds} seeds; a few minutes)…");
        let out = std::process::Command::new(&python)
            .arg(&script)
            .arg(seeds.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            out.status
        );
        Some(
            Json::parse(&String::from_utf8_lossy(&out.stdout))
                .map_err(|e| anyhow::anyhow!("bad JSON from the Optuna script: {e}"))?,
        )
    };
    let peer_values = |f: &str, s: &str, b: usize| -> Vec<f64> {
        peer.as_ref()
            .and_then(|p| {
                p.get(f)?
                    .get(s)?
                    .get(&b.to_string())?
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_f64).collect())
            })
            .unwrap_or_default()
    };

    println!(
        "TPE quality: median regret over {seeds} seeds (mean in parentheses), lower is better"
    );
    println!(
        "ours = sweeplab; optuna = Optuna 5.0.0 run in this benchmark on the same functions and seeds;"
    );
    println!(
        "ref = Optuna 5.0.0's medians for seeds 0..19 (docs/tpe-benchmark.md); p = two-sided Mann–Whitney U, ours vs optuna;"
    );
    println!(
        "tpe_sweeplab = sweeplab's tuning (gamma 0.2, 48 candidates), compared with Optuna's tpe_default\n"
    );
    println!("| function | budget | sampler | ours | optuna (this run) | ref | ours/optuna | p |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut cells = Vec::new();
    for problem in problems() {
        let mut res: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; 4];
        for seed in first..first + seeds {
            let samplers: Vec<Box<dyn Sampler>> = vec![
                Box::new(RandomSampler::new(Some(seed))),
                Box::new(TpeSampler::seeded(seed)),
                Box::new(TpeSampler::new(TpeConfig {
                    seed: Some(seed),
                    multivariate: Some(false),
                    ..TpeConfig::default()
                })),
                Box::new(TpeSampler::new(TpeConfig {
                    seed: Some(seed),
                    ..TpeConfig::sweeplab()
                })),
            ];
            for (k, s) in samplers.into_iter().enumerate() {
                let (a, b) = run(&problem, s)?;
                res[k][0].push(a);
                res[k][1].push(b);
            }
        }
        for (bi, budget) in [50usize, 100].iter().enumerate() {
            let Some(&(_, _, o_rand, o_tpe, o_uni)) = OPTUNA
                .iter()
                .find(|(n, b, ..)| *n == problem.name && *b == *budget)
            else {
                continue;
            };
            for (k, (sname, peer_name, reference)) in [
                ("random", "random", o_rand),
                ("tpe_default", "tpe_default", o_tpe),
                ("tpe_univariate", "tpe_univariate", o_uni),
                ("tpe_sweeplab", "tpe_default", o_tpe),
            ]
            .into_iter()
            .enumerate()
            {
                let ours = &res[k][bi];
                let theirs = peer_values(problem.name, peer_name, *budget);
                let (peer_cell, ratio, p) = if theirs.is_empty() && k == 3 {
                    // Without the peer, the tuning against our own Optuna-default runs.
                    let base = &res[1][bi];
                    (
                        "-".to_string(),
                        format!(
                            "{:.2} (vs ours, Optuna's defaults: {:.4})",
                            median(ours) / median(base).max(1e-12),
                            median(base)
                        ),
                        format!("{:.3} (vs ours)", mann_whitney_p(ours, base)),
                    )
                } else if theirs.is_empty() {
                    (
                        "-".to_string(),
                        format!("{:.2} (vs ref)", median(ours) / reference.max(1e-12)),
                        "-".to_string(),
                    )
                } else {
                    (
                        format!("{:.4} ({:.4})", median(&theirs), mean(&theirs)),
                        format!("{:.2}", median(ours) / median(&theirs).max(1e-12)),
                        format!("{:.3}", mann_whitney_p(ours, &theirs)),
                    )
                };
                if k == 1 || k == 3 {
                    let worse = !theirs.is_empty()
                        && median(ours) > median(&theirs)
                        && mann_whitney_p(ours, &theirs) < 0.05;
                    let better = !theirs.is_empty()
                        && median(ours) < median(&theirs)
                        && mann_whitney_p(ours, &theirs) < 0.05;
                    cells.push((k, worse, better));
                }
                println!(
                    "| {} | {} | {} | {:.4} ({:.4}) | {} | {} | {} | {} |",
                    problem.name,
                    budget,
                    sname,
                    median(ours),
                    mean(ours),
                    peer_cell,
                    reference,
                    ratio,
                    p
                );
            }
        }
    }
    if peer.is_some() {
        for (k, what) in [
            (1, "tpe_default (Optuna's defaults)"),
            (3, "tpe_sweeplab (sweeplab's tuning)"),
        ] {
            let mine: Vec<_> = cells.iter().filter(|c| c.0 == k).collect();
            let worse = mine.iter().filter(|c| c.1).count();
            let better = mine.iter().filter(|c| c.2).count();
            println!(
                "\n{what} vs Optuna's tpe_default in {} (function, budget) cells: significantly worse in {worse}, significantly better in {better} (p < 0.05)",
                mine.len()
            );
        }
    }
    Ok(())
}
