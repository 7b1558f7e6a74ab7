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

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_lite::future::block_on;
use std::time::Instant;
use sweeplab_core::train::data::generate_toy;
use sweeplab_core::train::fused::{FusedEngine, FusedSweep, FusedSweepOptions, run_fused_sweep};
use sweeplab_core::train::{
    BackendChoice, CancelToken, DataSet, Objective, ProgressEvent, Toy2d, TrialPlan,
    select_backend, train_trial,
};
use sweeplab_core::{
    Distribution, Json, NopPruner, ParamValue, RandomSampler, SearchSpace, Study, StudyDirection,
    TrialState,
};

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

/// The Playground's knobs: depth, width, activation, learning rate, batch size.
fn space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("layers".into(), Distribution::int(1, 4));
    s.insert("width".into(), Distribution::int(4, 32));
    s.insert(
        "activation".into(),
        Distribution::categorical(
            ["relu", "tanh", "gelu", "sigmoid"].map(|a| ParamValue::Str(a.into())),
        ),
    );
    s.insert("lr".into(), Distribution::float_log(1e-3, 0.1));
    s.insert(
        "batch_size".into(),
        Distribution::categorical([10i64, 16, 32].map(ParamValue::Int)),
    );
    s
}

fn new_study() -> Result<Study> {
    Ok(Study::create(
        "spiral",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )?
    .with_pruner(Box::new(NopPruner)))
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

fn settings(o: &Opts) -> Vec<(String, Json)> {
    vec![("epochs".to_string(), Json::Int(o.epochs as i64))]
}

fn fused_once(engine: &FusedEngine, data: &DataSet, o: &Opts) -> Result<Sample> {
    let mut study = new_study()?;
    let settings = settings(o);
    let mut plan_for = |number: u64, params: &BTreeMap<String, ParamValue>| {
        TrialPlan::resolve(&Json::Null, &settings, params, number)
    };
    let started = Instant::now();
    let mut sweep = FusedSweep::new(
        engine,
        data,
        FusedSweepOptions {
            slots: o.slots,
            n_trials: o.trials,
            objective: Objective::ValLoss,
            refill: true,
        },
    )?;
    sweep.run_mut().set_steps_per_dispatch(o.steps_per_dispatch);
    let mut hooks = |_: &ProgressEvent| {};
    block_on(run_fused_sweep(
        &mut sweep,
        &mut study,
        &space(),
        &mut plan_for,
        &mut hooks,
        &CancelToken::new(),
    ))?;
    summarise(&study, started.elapsed().as_secs_f64(), o.trials)
}

fn burn_once(device: &burn::tensor::Device, data: &DataSet, o: &Opts) -> Result<Sample> {
    let mut study = new_study()?;
    let settings = settings(o);
    let space = space();
    let started = Instant::now();
    for _ in 0..o.trials {
        let (number, params) = study.ask_with(&space)?;
        let plan = TrialPlan::resolve(&Json::Null, &settings, &params, number)?;
        let mut hooks = |_: &ProgressEvent| {};
        block_on(train_trial(
            &mut study,
            number,
            &plan,
            data,
            device,
            Objective::ValLoss,
            &mut hooks,
            &CancelToken::new(),
        ))?;
    }
    summarise(&study, started.elapsed().as_secs_f64(), o.trials)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Row {
    name: String,
    adapter: String,
    samples: Vec<Sample>,
}

impl Row {
    fn median_secs(&self) -> f64 {
        median(&mut self.samples.iter().map(|s| s.secs).collect::<Vec<_>>())
    }
}

fn main() -> Result<()> {
    let o = parse_args()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build_global()
        .context("configuring the thread pool")?;
    let data = generate_toy(Toy2d::Spiral, 500, 0.1, 0.2, 0);
    let engine = block_on(FusedEngine::new()).context(
        "the fused engine needs a wgpu adapter (natively: apt-get install mesa-vulkan-drivers for lavapipe)",
    )?;
    eprintln!(
        "adapter: {} ({}){}",
        engine.adapter_name(),
        engine.api(),
        if engine.software_adapter() {
            ", a software adapter"
        } else {
            ""
        }
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
    fused_once(&engine, &data, &warm)?;
    let mut fused = Row {
        name: format!("fused WGSL, {} at once", o.slots.min(o.trials)),
        adapter: engine.adapter_name().to_string(),
        samples: Vec::new(),
    };
    for r in 0..o.repeats {
        let s = fused_once(&engine, &data, &o)?;
        eprintln!("fused repeat {}: {:.2} s", r + 1, s.secs);
        fused.samples.push(s);
    }
    rows.push(fused);

    if o.burn {
        let gpu = block_on(select_backend(BackendChoice::Gpu))?;
        let mut row = Row {
            name: "burn wgpu, one at a time".into(),
            adapter: gpu.adapter.clone().unwrap_or_default(),
            samples: Vec::new(),
        };
        burn_once(&gpu.device, &data, &warm)?;
        for r in 0..o.burn_repeats {
            let s = burn_once(&gpu.device, &data, &o)?;
            eprintln!("burn wgpu repeat {}: {:.2} s", r + 1, s.secs);
            row.samples.push(s);
        }
        rows.push(row);
    }
    if o.flex {
        let cpu = block_on(select_backend(BackendChoice::Cpu))?;
        let mut row = Row {
            name: format!("burn flex (CPU, {} threads), one at a time", o.threads),
            adapter: "-".into(),
            samples: Vec::new(),
        };
        burn_once(&cpu.device, &data, &warm)?;
        for r in 0..o.burn_repeats {
            let s = burn_once(&cpu.device, &data, &o)?;
            eprintln!("burn flex repeat {}: {:.2} s", r + 1, s.secs);
            row.samples.push(s);
        }
        rows.push(row);
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
