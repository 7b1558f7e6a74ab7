//! Shared pieces of sweeplab's benchmarks: the test functions of the TPE quality benchmark
//! (`docs/tpe-benchmark.md`) and small statistics helpers.

use sweeplab_core::{Distribution, SearchSpace};

/// One benchmark function: its search space, formula and optimum.
pub struct Problem {
    /// Name, as Optuna's side of the benchmark (`bench/python/tpe_quality_optuna.py`) names it.
    pub name: &'static str,
    /// The search space (parameters x1, x2, …).
    pub space: SearchSpace,
    /// The function (minimised), given values in parameter-name order.
    pub f: fn(&[f64]) -> f64,
    /// The optimum value.
    pub opt: f64,
}

/// The search space of parameters x1, x2, … in order: `count` parameters of each
/// `(count, distribution)` run.
fn space(runs: &[(usize, Distribution)]) -> SearchSpace {
    runs.iter()
        .flat_map(|(count, d)| std::iter::repeat_n(d, *count))
        .enumerate()
        .map(|(i, d)| (format!("x{}", i + 1), d.clone()))
        .collect()
}

/// Branin on x1 ∈ [-5, 10], x2 ∈ [0, 15].
pub fn branin(x: &[f64]) -> f64 {
    let pi = std::f64::consts::PI;
    let (x1, x2) = (x[0], x[1]);
    let t = x2 - 5.1 * x1 * x1 / (4.0 * pi * pi) + 5.0 * x1 / pi - 6.0;
    t * t + 10.0 * (1.0 - 1.0 / (8.0 * pi)) * x1.cos() + 10.0
}

const H_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const H_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
const H_P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

/// The 6-D Hartmann function on [0, 1]^6.
pub fn hartmann6(x: &[f64]) -> f64 {
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6).map(|j| H_A[i][j] * (x[j] - H_P[i][j]).powi(2)).sum();
            H_ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// 5-D Rosenbrock.
pub fn rosenbrock(x: &[f64]) -> f64 {
    (0..x.len() - 1)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum()
}

/// 5-D Ackley.
pub fn ackley(x: &[f64]) -> f64 {
    let d = x.len() as f64;
    let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
    let cs = x
        .iter()
        .map(|v| (2.0 * std::f64::consts::PI * v).cos())
        .sum::<f64>()
        / d;
    -20.0 * (-0.2 * sq.sqrt()).exp() - cs.exp() + 20.0 + std::f64::consts::E
}

/// 4-D Rastrigin.
pub fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (2.0 * std::f64::consts::PI * v).cos())
            .sum::<f64>()
}

/// The five problems of the TPE quality benchmark (`docs/tpe-benchmark.md`).
pub fn problems() -> Vec<Problem> {
    vec![
        Problem {
            name: "branin",
            space: space(&[
                (1, Distribution::float(-5.0, 10.0)),
                (1, Distribution::float(0.0, 15.0)),
            ]),
            f: branin,
            opt: 5.0 / (4.0 * std::f64::consts::PI),
        },
        Problem {
            name: "hartmann6",
            space: space(&[(6, Distribution::float(0.0, 1.0))]),
            f: hartmann6,
            opt: -3.322_368_011_415_514_7,
        },
        Problem {
            name: "rosenbrock5_log",
            space: space(&[
                (2, Distribution::float_log(0.01, 10.0)),
                (3, Distribution::float(-2.0, 2.0)),
            ]),
            f: rosenbrock,
            opt: 0.0,
        },
        Problem {
            name: "ackley5_mixed",
            space: space(&[
                (3, Distribution::float(-5.0, 10.0)),
                (2, Distribution::int(-5, 10)),
            ]),
            f: ackley,
            opt: 0.0,
        },
        Problem {
            name: "rastrigin4_disc",
            space: space(&[
                (2, Distribution::float_step(-5.0, 5.0, 0.25)),
                (2, Distribution::int(-5, 5)),
            ]),
            f: rastrigin,
            opt: 0.0,
        },
    ]
}

/// The value after `--name` on the command line, or `default` when the flag is absent; a value
/// that does not parse is an error naming the flag.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{name} needs a number after it")),
    }
}

/// The median of a sample (mean of the middle two for even sizes, as numpy).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Sets the number of threads of rayon's global pool (burn's Flex and the CNN's CPU path run
/// on it).
#[cfg(feature = "train")]
pub fn init_threads(threads: usize) -> anyhow::Result<()> {
    use anyhow::Context;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("configuring the thread pool")
}

/// The wgpu backend for a benchmark's wgpu column, when `wanted` and an adapter exists
/// (saying which on stderr), else `None` (saying why where one was wanted).
#[cfg(feature = "train")]
pub fn wgpu_column(wanted: bool) -> anyhow::Result<Option<sweeplab_core::train::SelectedBackend>> {
    use futures_lite::future::block_on;
    use sweeplab_core::train::{BackendChoice, backend::probe_adapter, select_backend};
    if !wanted {
        return Ok(None);
    }
    if block_on(probe_adapter()).is_none() {
        eprintln!("no wgpu adapter: skipping wgpu (install mesa-vulkan-drivers for lavapipe)");
        return Ok(None);
    }
    let gpu = block_on(select_backend(BackendChoice::Gpu))?;
    eprintln!("{}", gpu.reason);
    Ok(Some(gpu))
}

/// A table cell of a rate: rounded, or `-` where the run had none.
pub fn rate_cell(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.0}")
    }
}

/// A table cell of `ours / peer` as `1.23x`, or `-` where either is missing.
pub fn ratio_cell(ours: f64, peer: f64) -> String {
    if ours.is_nan() || peer.is_nan() {
        "-".to_string()
    } else {
        format!("{:.2}x", ours / peer)
    }
}

/// The arithmetic mean.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The Python interpreter of the pinned peer venv: `$SWEEPLAB_PYTHON`, or the one
/// `tests/conformance/venv.sh` creates (optuna 5.0.0 and friends, pinned).
pub fn peer_python() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("SWEEPLAB_PYTHON") {
        return Ok(p);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let out = std::process::Command::new("bash")
        .arg(root.join("tests/conformance/venv.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        anyhow::bail!("tests/conformance/venv.sh failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .map(|l| l.trim().to_string())
        .ok_or_else(|| anyhow::anyhow!("venv.sh printed no python path"))
}

/// Two-sided Mann–Whitney U test p-value (normal approximation, tie and continuity
/// corrections), as `scipy.stats.mannwhitneyu(..., method="asymptotic")`.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
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
    (2.0 * (1.0 - sweeplab_core::samplers::tpe::truncnorm::ndtr(z))).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_are_where_the_spec_says() {
        let pi = std::f64::consts::PI;
        assert!((branin(&[pi, 2.275]) - 5.0 / (4.0 * pi)).abs() < 1e-9);
        let h = hartmann6(&[
            0.20168952, 0.15001069, 0.47687398, 0.27533243, 0.31165162, 0.65730054,
        ]);
        assert!((h + 3.322_368_011_415_514_7).abs() < 1e-6, "{h}");
        assert!(rosenbrock(&[1.0; 5]).abs() < 1e-12);
        assert!(ackley(&[0.0; 5]).abs() < 1e-12);
        assert!(rastrigin(&[0.0; 4]).abs() < 1e-12);
        assert!(median(&[3.0, 1.0, 2.0, 10.0]) == 2.5);
        // scipy.stats.mannwhitneyu([1,2,3,4,5], [3,4,5,6,7,8], method="asymptotic").pvalue
        let p = mann_whitney_p(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert!((p - 0.066_015_431_521_231).abs() < 1e-9, "{p}");
    }

    #[test]
    fn the_spaces_name_their_parameters_in_order() {
        let dims: Vec<(&str, Vec<String>)> = problems()
            .iter()
            .map(|p| (p.name, p.space.keys().cloned().collect()))
            .collect();
        let names = |n: usize| (1..=n).map(|i| format!("x{i}")).collect::<Vec<_>>();
        assert_eq!(
            dims,
            vec![
                ("branin", names(2)),
                ("hartmann6", names(6)),
                ("rosenbrock5_log", names(5)),
                ("ackley5_mixed", names(5)),
                ("rastrigin4_disc", names(4)),
            ]
        );
        let ackley = &problems()[3].space;
        assert_eq!(ackley["x3"], Distribution::float(-5.0, 10.0));
        assert_eq!(ackley["x4"], Distribution::int(-5, 10));
        assert_eq!(problems()[1].space["x6"], Distribution::float(0.0, 1.0));
    }
}
