//! Trials per second of a spiral study: the fused WGSL engine (K trials at once, one per
//! workgroup) against burn training one trial at a time (`train_trial`) on the same wgpu
//! adapter, plus burn's CPU backend (Flex) for reference. Same sampler seed, so both sides
//! train the same configurations; no pruner, so both do the same work. Prints a table of
//! medians and the ratio.
//!
//! ```text
//! XDG_RUNTIME_DIR=$(mktemp -d) cargo run --release -p sweeplab-bench --features fused \
//!     --bin fused_bench -- [--trials 64] [--slots 64] [--epochs 10] [--repeats 3]
//!     [--burn-repeats 3] [--steps-per-dispatch 64] [--threads 2] [--no-flex] [--no-burn]
//! ```
//!
//! On a machine without a GPU, wgpu's adapter is Mesa's lavapipe (Vulkan on the CPU). This is
//! a benchmark, never a test.

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_lite::future::block_on;
use sweeplab_bench::{init_threads, median};
use sweeplab_core::train::bench::{spiral_burn, spiral_data, spiral_fused, spiral_study};
use sweeplab_core::train::fused::FusedEngine;
use sweeplab_core::train::{BackendChoice, DataSet, select_backend};
use sweeplab_core::{Study, TrialState};

struct Opts {
    trials: usize,
    slots: usize,
    epochs: usize,
    repeats: usize,
    burn_repeats: usize,
    steps_per_dispatch: u32,
    threads: usize,
    flex: bool,
    burn: bool,
}

/// Trials per second of a spiral study: the fused WGSL engine against burn, one trial at a
/// time, on the same adapter.
#[derive(Parser, Debug)]
struct Args {
    /// Trials in the study.
    #[arg(long, default_value_t = 64)]
    trials: usize,
    /// Trials the fused engine trains at once.
    #[arg(long, default_value_t = 64)]
    slots: usize,
    /// Epochs per trial.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Repeats of the fused run.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Repeats of the burn runs.
    #[arg(long, default_value_t = 3)]
    burn_repeats: usize,
    /// Optimiser steps per fused dispatch.
    #[arg(long, default_value_t = sweeplab_core::train::fused::DEFAULT_STEPS_PER_DISPATCH)]
    steps_per_dispatch: u32,
    /// CPU threads for Flex.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip burn on the CPU (Flex).
    #[arg(long)]
    no_flex: bool,
    /// Skip burn on wgpu.
    #[arg(long)]
    no_burn: bool,
}

fn parse_args() -> Result<Opts> {
    let a = Args::parse();
    if a.trials == 0 || a.slots == 0 || a.epochs == 0 || a.repeats == 0 || a.burn_repeats == 0 {
        bail!("--trials, --slots, --epochs and the repeats must be at least 1");
    }
    Ok(Opts {
        trials: a.trials,
        slots: a.slots,
        epochs: a.epochs,
        repeats: a.repeats,
        burn_repeats: a.burn_repeats,
        steps_per_dispatch: a.steps_per_dispatch,
        threads: a.threads,
        flex: !a.no_flex,
        burn: !a.no_burn,
    })
}

struct Sample {
    secs: f64,
    mean_val_loss: f64,
    mean_val_accuracy: f64,
}

fn summarise(study: &Study, secs: f64, trials: usize) -> Result<Sample> {
    let complete: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    if complete.len() != trials {
        bail!(
            "{} of {trials} trials completed; the comparison needs all of them",
            complete.len()
        );
    }
    let last = |name: &str| -> f64 {
        complete
            .iter()
            .filter_map(|t| t.series.get(name).and_then(|s| s.last()).map(|p| p.value))
            .sum::<f64>()
            / complete.len() as f64
    };
    Ok(Sample {
        secs,
        mean_val_loss: last("val/loss"),
        mean_val_accuracy: last("val/accuracy"),
    })
}

fn fused_once(engine: &FusedEngine, data: &DataSet, o: &Opts) -> Result<Sample> {
    let mut study = spiral_study()?;
    let secs = block_on(spiral_fused(
        &mut study,
        engine,
        data,
        o.slots,
        o.trials,
        o.epochs,
        o.steps_per_dispatch,
    ))?;
    summarise(&study, secs, o.trials)
}

fn burn_once(device: &burn::tensor::Device, data: &DataSet, o: &Opts) -> Result<Sample> {
    let mut study = spiral_study()?;
    let secs = block_on(spiral_burn(&mut study, data, device, o.trials, o.epochs))?;
    summarise(&study, secs, o.trials)
}

struct Row {
    name: String,
    adapter: String,
    samples: Vec<Sample>,
}

impl Row {
    fn median_secs(&self) -> f64 {
        median(&self.samples.iter().map(|s| s.secs).collect::<Vec<_>>())
    }
}

/// A row of `repeats` timed runs of `once` with the options `runs.1`, after one untimed
/// warm-up run with `runs.0`; each run's time is printed, labelled `label`.
fn timed_row(
    name: String,
    adapter: String,
    label: &str,
    repeats: usize,
    runs: (&Opts, &Opts),
    once: impl Fn(&Opts) -> Result<Sample>,
) -> Result<Row> {
    let (warm, o) = runs;
    once(warm)?;
    let mut samples = Vec::new();
    for r in 0..repeats {
        let s = once(o)?;
        eprintln!("{label} repeat {}: {:.2} s", r + 1, s.secs);
        samples.push(s);
    }
    Ok(Row {
        name,
        adapter,
        samples,
    })
}

fn main() -> Result<()> {
    let o = parse_args()?;
    init_threads(o.threads)?;
    let data = spiral_data();
    let engine = block_on(FusedEngine::new()).context(
        "the fused engine needs a wgpu adapter (natively: apt-get install mesa-vulkan-drivers for lavapipe)",
    )?;
    let software = if engine.software_adapter() {
        ", a software adapter"
    } else {
        ""
    };
    eprintln!(
        "adapter: {} ({}){software}",
        engine.adapter_name(),
        engine.api()
    );
    eprintln!(
        "study: spiral (500 points, 400 train), {} trials, {} epochs each, layers 1-4, width 4-32, relu/tanh/gelu/sigmoid, lr 1e-3..0.1 (log), batch 10/16/32, adam; random sampler seed 0, no pruner",
        o.trials, o.epochs
    );
    let mut rows = Vec::new();

    // Warm-up: compile the pipelines' driver code paths once.
    let warm = Opts {
        trials: 2,
        epochs: 1,
        ..o
    };
    rows.push(timed_row(
        format!("fused WGSL, {} at once", o.slots.min(o.trials)),
        engine.adapter_name().to_string(),
        "fused",
        o.repeats,
        (&warm, &o),
        |o| fused_once(&engine, &data, o),
    )?);
    if o.burn {
        let gpu = block_on(select_backend(BackendChoice::Gpu))?;
        rows.push(timed_row(
            "burn wgpu, one at a time".into(),
            gpu.adapter.clone().unwrap_or_default(),
            "burn wgpu",
            o.burn_repeats,
            (&warm, &o),
            |o| burn_once(&gpu.device, &data, o),
        )?);
    }
    if o.flex {
        let cpu = block_on(select_backend(BackendChoice::Cpu))?;
        rows.push(timed_row(
            format!("burn flex (CPU, {} threads), one at a time", o.threads),
            "-".into(),
            "burn flex",
            o.burn_repeats,
            (&warm, &o),
            |o| burn_once(&cpu.device, &data, o),
        )?);
    }

    let fused_secs = rows[0].median_secs();
    println!(
        "{:<40} {:<32} {:>7} {:>10} {:>10} {:>9} {:>9} {:>12}",
        "engine",
        "adapter",
        "repeats",
        "median s",
        "trials/s",
        "val loss",
        "val acc",
        "fused ratio"
    );
    for row in &rows {
        let secs = row.median_secs();
        let n = row.samples.len() as f64;
        let loss = row.samples.iter().map(|s| s.mean_val_loss).sum::<f64>() / n;
        let acc = row.samples.iter().map(|s| s.mean_val_accuracy).sum::<f64>() / n;
        let adapter: String = row.adapter.chars().take(32).collect();
        println!(
            "{:<40} {:<32} {:>7} {:>10.2} {:>10.2} {:>9.4} {:>9.4} {:>11.1}x",
            row.name,
            adapter,
            row.samples.len(),
            secs,
            o.trials as f64 / secs,
            loss,
            acc,
            secs / fused_secs
        );
    }
    println!(
        "(trials/s = {} trials / median wall time; val loss/acc = mean over trials of the last epoch, equal work shows as similar values; ratio = row's median time / fused median time)",
        o.trials
    );
    Ok(())
}
