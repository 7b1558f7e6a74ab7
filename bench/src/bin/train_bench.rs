//! Training throughput: sweeplab's trainer on burn (Flex on the CPU, wgpu where an adapter
//! exists) against PyTorch on the CPU, same architectures, batch size, threads and data, in
//! one run. Prints a table of medians and ratios.
//!
//! ```text
//! cargo run --release -p sweeplab-bench --features train --bin train_bench -- [--threads 2] [--batch 64]
//!     [--repeats 5] [--mlp-steps 400] [--cnn-steps 40] [--python bench/python/.venv/bin/python]
//!     [--no-wgpu] [--models mlp,cnn]
//! ```
//!
//! The PyTorch side needs `bench/python/.venv` (see bench/python/requirements.txt); without it
//! the table shows ours only. This is a benchmark, never a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use futures_lite::future::block_on;
use sweeplab_bench::{init_threads, median, rate_cell, ratio_cell, wgpu_column};
use sweeplab_core::train::bench::mnist_plan;
use sweeplab_core::train::trainer::measure_training;
use sweeplab_core::train::{BackendChoice, DataSet, Mnist, select_backend};

struct Opts {
    threads: usize,
    batch: usize,
    repeats: usize,
    mlp_steps: usize,
    cnn_steps: usize,
    python: PathBuf,
    wgpu: bool,
    models: Vec<String>,
}

/// Training throughput: burn Flex and wgpu against PyTorch on the CPU, in one run.
#[derive(Parser, Debug)]
struct Args {
    /// CPU threads for Flex and PyTorch.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Runs per cell (the table shows the median).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Optimiser steps per MLP run.
    #[arg(long, default_value_t = 400)]
    mlp_steps: usize,
    /// Optimiser steps per CNN run.
    #[arg(long, default_value_t = 40)]
    cnn_steps: usize,
    /// The PyTorch venv's python (default: bench/python/.venv/bin/python).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Skip the wgpu column.
    #[arg(long)]
    no_wgpu: bool,
    /// Models to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
    models: Vec<String>,
}

fn parse_args() -> Result<Opts> {
    let a = Args::parse();
    if a.threads == 0 || a.batch == 0 || a.repeats == 0 {
        bail!("--threads, --batch and --repeats must be at least 1");
    }
    Ok(Opts {
        threads: a.threads,
        batch: a.batch,
        repeats: a.repeats,
        mlp_steps: a.mlp_steps,
        cnn_steps: a.cnn_steps,
        python: a.python.unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/python/.venv/bin/python")
        }),
        wgpu: !a.no_wgpu,
        models: a.models,
    })
}

fn torch(o: &Opts, model: &str, steps: usize, data_dir: &Path) -> Result<Vec<f64>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/train_bench.py");
    let out = Command::new(&o.python)
        .arg(&script)
        .args(["--data", &data_dir.display().to_string()])
        .args(["--threads", &o.threads.to_string()])
        .args(["--batch", &o.batch.to_string()])
        .args(["--model", model])
        .args(["--steps", &steps.to_string()])
        .args(["--warmup", &(steps / 10).max(3).to_string()])
        .args(["--repeats", "1"])
        .env("OMP_NUM_THREADS", o.threads.to_string())
        .output()
        .with_context(|| format!("running {}", o.python.display()))?;
    if !out.status.success() {
        bail!(
            "PyTorch benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v = Vec::new();
    for line in text.lines() {
        let j = sweeplab_core::json::Json::parse(line)
            .map_err(|e| anyhow!("PyTorch printed `{line}`: {e}"))?;
        if let Some(s) = j.get("samples_per_sec").and_then(|s| s.as_f64()) {
            v.push(s);
        }
    }
    Ok(v)
}

fn ours(
    data: &DataSet,
    model: &str,
    o: &Opts,
    steps: usize,
    device: &burn::tensor::Device,
) -> Result<f64> {
    let p = mnist_plan(model, o.batch)?;
    let warmup = (steps / 10).max(3);
    let t = block_on(measure_training(&p, data, device, warmup, steps, 16))?;
    Ok(t.samples_per_sec)
}

fn main() -> Result<()> {
    let o = parse_args()?;
    init_threads(o.threads)?;
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/data/mnist10k");
    let data = Mnist::load_dir(&data_dir)?.split(8_000);
    let flex = block_on(select_backend(BackendChoice::Cpu))?;
    let gpu = wgpu_column(o.wgpu)?;
    let have_torch = o.python.exists();
    if !have_torch {
        eprintln!(
            "{} not found: PyTorch column skipped (see bench/python/requirements.txt)",
            o.python.display()
        );
    }
    println!(
        "training throughput, samples/s (median of {} runs; {} threads; batch {}; Adam)",
        o.repeats, o.threads, o.batch
    );
    println!(
        "{:<18} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "model", "burn Flex", "burn wgpu", "PyTorch", "Flex/PT", "wgpu/PT"
    );
    for model in &o.models {
        let (name, steps) = match model.as_str() {
            "mlp" => ("MLP 784-128-10", o.mlp_steps),
            "cnn" => ("CNN (MNIST ex.)", o.cnn_steps),
            other => bail!("unknown model `{other}`; use mlp or cnn"),
        };
        let (mut f, mut g, mut t) = (Vec::new(), Vec::new(), Vec::new());
        // Interleave the contenders so machine noise hits all of them alike.
        for _ in 0..o.repeats {
            f.push(ours(&data, model, &o, steps, &flex.device)?);
            if let Some(gb) = &gpu {
                g.push(ours(&data, model, &o, steps, &gb.device)?);
            }
            if have_torch {
                t.extend(torch(&o, model, steps, &data_dir)?);
            }
        }
        // Sorted, as the runs line below shows them.
        for v in [&mut f, &mut g, &mut t] {
            v.sort_by(f64::total_cmp);
        }
        let (mf, mg, mt) = (median(&f), median(&g), median(&t));
        println!(
            "{:<18} {:>12} {:>12} {:>12} {:>10} {:>10}",
            name,
            rate_cell(mf),
            rate_cell(mg),
            rate_cell(mt),
            ratio_cell(mf, mt),
            ratio_cell(mg, mt)
        );
        eprintln!("  runs: flex {f:.0?} wgpu {g:.0?} torch {t:.0?}");
    }
    Ok(())
}
