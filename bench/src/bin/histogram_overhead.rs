//! What recording weight and gradient histograms costs a trial: the same trials trained with
//! histograms on (what `sweeplab sweep` does by default) and off (`--no-histograms`),
//! alternating, on the CPU (Flex) and, where an adapter exists, wgpu. Prints per workload the
//! median seconds per epoch both ways, the difference per epoch and the overhead in percent.
//!
//! ```text
//! cargo run --release -p sweeplab-bench --features train --bin histogram_overhead -- \
//!     [--repeats 5] [--epochs 2] [--threads 2] [--no-wgpu]
//! ```
//!
//! This is a benchmark, never a test.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use futures_lite::future::block_on;
use sweeplab_bench::{init_threads, median};
use sweeplab_core::train::bench::{mnist_plan, spiral_data};
use sweeplab_core::train::trainer::TrainHooks;
use sweeplab_core::train::{
    Activation, BackendChoice, CancelToken, DataSet, Mnist, ModelSpec, Objective, OptimizerKind,
    SelectedBackend, TrialPlan, select_backend, train_trial,
};
use sweeplab_core::{RandomSampler, Study, StudyDirection};

/// Histogram overhead: trials with and without weight and gradient histograms.
#[derive(Parser, Debug)]
struct Args {
    /// Trials per cell and setting (the table shows medians).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Epochs per trial.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// CPU threads for Flex.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip the wgpu rows.
    #[arg(long)]
    no_wgpu: bool,
}

struct Hooks {
    histograms: bool,
}

impl TrainHooks for Hooks {
    fn wants_histograms(&self) -> bool {
        self.histograms
    }
}

/// Seconds per epoch of one trial of `plan` on `data`.
fn epoch_secs(
    plan: &TrialPlan,
    data: &DataSet,
    backend: &SelectedBackend,
    histograms: bool,
) -> Result<f64> {
    let mut study = Study::create(
        "overhead",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )?;
    let number = study.ask()?;
    let mut hooks = Hooks { histograms };
    let started = Instant::now();
    let out = block_on(train_trial(
        &mut study,
        number,
        plan,
        data,
        &backend.device,
        Objective::ValLoss,
        &mut hooks,
        &CancelToken::new(),
    ))?;
    let secs = started.elapsed().as_secs_f64();
    let recorded = sweeplab_core::histogram::has_histograms(&study.trials()[0]);
    if recorded != histograms || out.epochs != plan.epochs {
        bail!(
            "trial recorded histograms: {recorded} (wanted {histograms}), {} of {} epochs",
            out.epochs,
            plan.epochs
        );
    }
    Ok(secs / plan.epochs as f64)
}

/// Median seconds per epoch without and with histograms, after one untimed trial each way
/// (allocations, kernels).
fn cell(
    plan: &TrialPlan,
    data: &DataSet,
    backend: &SelectedBackend,
    repeats: usize,
) -> Result<(f64, f64)> {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    epoch_secs(plan, data, backend, false)?;
    epoch_secs(plan, data, backend, true)?;
    for _ in 0..repeats {
        off.push(epoch_secs(plan, data, backend, false)?);
        on.push(epoch_secs(plan, data, backend, true)?);
    }
    Ok((median(&off), median(&on)))
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.repeats == 0 || a.epochs == 0 {
        bail!("--repeats and --epochs must be at least 1");
    }
    init_threads(a.threads)?;
    let mnist_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/data/mnist10k");
    let mnist = Mnist::load_dir(&mnist_dir)?;
    let with_epochs = |mut p: TrialPlan| {
        p.epochs = a.epochs;
        p
    };
    let spiral = TrialPlan {
        model: ModelSpec::Mlp {
            layers: 2,
            width: 16,
            activation: Activation::Tanh,
            dropout: 0.0,
        },
        optimizer: OptimizerKind::Adam,
        lr: 0.01,
        weight_decay: 0.0,
        momentum: 0.9,
        batch_size: 16,
        epochs: a.epochs,
        seed: 0,
    };
    // The MNIST MLP on 8,000 training images; the CNN on 2,000 (its epochs are long on the
    // CPU; a shorter epoch makes the fixed per-epoch cost of the histograms weigh more).
    let workloads: Vec<(&str, TrialPlan, DataSet)> = vec![
        ("spiral MLP 2x16 (400 samples)", spiral, spiral_data()),
        (
            "MNIST MLP 784-128-10 (8,000)",
            with_epochs(mnist_plan("mlp", 64)?),
            mnist.split(8_000),
        ),
        (
            "MNIST CNN (2,000)",
            with_epochs(mnist_plan("cnn", 64)?),
            mnist.split(2_000),
        ),
    ];
    // Each backend is selected once (wgpu's runtime registers once per process).
    let mut backends = vec![(
        "cpu (Flex)".to_string(),
        block_on(select_backend(BackendChoice::Cpu))?,
    )];
    if !a.no_wgpu
        && let Ok(gpu) = block_on(select_backend(BackendChoice::Gpu))
    {
        let name = format!("wgpu ({})", gpu.adapter.clone().unwrap_or_default());
        backends.push((name, gpu));
    }
    println!(
        "histogram overhead: medians of {} trials of {} epochs each way, alternating\n",
        a.repeats, a.epochs
    );
    println!(
        "| workload | backend | s/epoch, off | s/epoch, on | + per epoch | overhead |\n|---|---|---:|---:|---:|---:|"
    );
    for (name, plan, data) in &workloads {
        for (bname, backend) in &backends {
            match cell(plan, data, backend, a.repeats) {
                Ok((off, on)) => println!(
                    "| {name} | {bname} | {off:.4} | {on:.4} | {:+.1} ms | {:+.1}% |",
                    (on - off) * 1e3,
                    (on / off - 1.0) * 100.0
                ),
                // A device that cannot run a workload (a software adapter's buffer limit)
                // leaves its row, with the reason, and the table goes on.
                Err(e) => println!(
                    "| {name} | {bname} | — | — | — | {} |",
                    format!("{e}").lines().next().unwrap_or("failed")
                ),
            }
        }
    }
    Ok(())
}
