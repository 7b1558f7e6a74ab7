//! TPE quality benchmark (spec §11): median regret of sweeplab's samplers on the five test
//! functions, 20 seeds, budgets 50 and 100, printed beside Optuna 5.0.0's published medians.
//!
//! `cargo run --release -p sweeplab-bench --bin tpe_quality [-- --seeds 20]`

use anyhow::Result;
use sweeplab_bench::{Problem, mean, median, problems};
use sweeplab_core::samplers::{RandomSampler, Sampler, TpeConfig, TpeSampler};
use sweeplab_core::{Study, StudyDirection};

/// Optuna 5.0.0's median regrets from spec §11.3: (function, budget) → (random, tpe_default,
/// tpe_univariate).
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

/// Two-sided Mann–Whitney U test p-value (normal approximation with tie correction).
fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|v| (*v, 0))
        .chain(b.iter().map(|v| (*v, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in ranks.iter_mut().take(j + 1).skip(i) {
            *k = r;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, g), _)| *g == 0)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let sigma = (n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)))).sqrt();
    if sigma == 0.0 {
        return 1.0;
    }
    let z = ((u1 - mu).abs() - 0.5).max(0.0) / sigma;
    2.0 * (1.0 - sweeplab_core::samplers::tpe::truncnorm::ndtr(z))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("TPE quality: median regret over {seeds} seeds (mean in parentheses)");
    println!("ours = sweeplab; optuna = Optuna 5.0.0's published medians (spec §11.3)\n");
    println!(
        "| function | budget | random (ours) | random (optuna) | tpe_default (ours) | tpe_default (optuna) | tpe_univariate (ours) | tpe_univariate (optuna) | ours vs optuna default |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for problem in problems() {
        let mut res: Vec<[Vec<f64>; 2]> = vec![[Vec::new(), Vec::new()]; 3];
        for seed in 0..seeds {
            let samplers: Vec<Box<dyn Sampler>> = vec![
                Box::new(RandomSampler::new(Some(seed))),
                Box::new(TpeSampler::seeded(seed)),
                Box::new(TpeSampler::new(TpeConfig {
                    seed: Some(seed),
                    multivariate: Some(false),
                    ..TpeConfig::default()
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
            let cell = |v: &Vec<f64>| format!("{:.4} ({:.4})", median(v), mean(v));
            let ours_tpe = median(&res[1][bi]);
            let verdict = if ours_tpe <= o_tpe {
                format!("better ({:.2}x lower)", o_tpe / ours_tpe.max(1e-12))
            } else {
                format!("worse ({:.2}x higher)", ours_tpe / o_tpe.max(1e-12))
            };
            verdicts.push((problem.name, *budget, ours_tpe <= o_tpe));
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                problem.name,
                budget,
                cell(&res[0][bi]),
                o_rand,
                cell(&res[1][bi]),
                o_tpe,
                cell(&res[2][bi]),
                o_uni,
                verdict
            );
        }
        let p = mann_whitney_p(&res[1][1], &res[2][1]);
        println!(
            "|   ↳ {} | 100 | multivariate vs univariate (ours): two-sided Mann–Whitney p = {p:.4} | | | | | | |",
            problem.name
        );
    }
    let better = verdicts.iter().filter(|v| v.2).count();
    println!(
        "\nours ≤ Optuna's default median regret in {better} of {} (function, budget) cells",
        verdicts.len()
    );
    Ok(())
}
