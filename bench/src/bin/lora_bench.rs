//! LoRA fine-tuning throughput: sweeplab's language model (the "LoRA fine-tune" study's
//! model and shipped base) trained with LoRA adapters and fully fine-tuned, on Flex (the
//! trial's own step: the CPU path of `core::train::lm`) and on burn's wgpu where an adapter
//! exists, against PyTorch with Hugging Face PEFT on the CPU,
//! same model, base weights, batch, context, optimiser and threads, in one run. Prints a
//! table of medians (predicted bytes per second) and ratios.
//!
//! ```text
//! cargo run --release -p sweeplab-bench --features train --bin lora_bench -- [--threads 2]
//!     [--batch 16] [--r 8] [--alpha 16] [--dropout 0.05] [--steps 40] [--repeats 5]
//!     [--variants lora-qv,lora-all,lora-qv-int8,finetune] [--python bench/python/.venv/bin/python]
//!     [--no-wgpu] [--stacks 4,8]
//! ```
//!
//! `--stacks K,…` adds a second table: K LoRA trials trained at once over one frozen base
//! (`LoraStack`) against the same K trials one at a time, in trial-steps per second.
//!
//! The PyTorch side needs `bench/python/.venv` (see bench/python/requirements.txt); without it
//! the table shows ours only. It also scores the frozen base on the validation windows
//! sweeplab's trials read, which must match sweeplab's recorded score: the two sides train
//! the same model. This is a benchmark, never a test.

use std::path::{Path, PathBuf};

/// mimalloc, as the `sweeplab` CLI trains with (see `cli/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use futures_lite::future::block_on;
use sweeplab_bench::{init_threads, median, rate_cell, ratio_cell, wgpu_column};
use sweeplab_core::train::bench::{LM_VARIANTS, lm_plan};
use sweeplab_core::train::lm::stack::stack_steps;
use sweeplab_core::train::lm::trial::{lm_steps, measure_lm};
use sweeplab_core::train::lm::{BASE_DEVILS_VAL_LOSS, BASE_SHA256};
use sweeplab_core::train::{
    BackendChoice, DataSpec, ModelSpec, TextCorpus, TextSet, TrialPlan, select_backend,
};

/// LoRA fine-tuning throughput: Flex and wgpu against PyTorch + PEFT on the CPU.
#[derive(Parser, Debug)]
struct Args {
    /// CPU threads for Flex and PyTorch.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Windows (of the model's 64-byte context) per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    r: usize,
    /// LoRA alpha (the update is scaled by alpha / r).
    #[arg(long, default_value_t = 16.0)]
    alpha: f64,
    /// LoRA dropout.
    #[arg(long, default_value_t = 0.05)]
    dropout: f64,
    /// Timed optimiser steps per run (after a tenth as many untimed).
    #[arg(long, default_value_t = 40)]
    steps: usize,
    /// Runs per cell (the table shows the median).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Variants to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lora-qv,lora-all,lora-qv-int8,finetune"
    )]
    variants: Vec<String>,
    /// The PyTorch venv's python (default: bench/python/.venv/bin/python).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Skip the wgpu column.
    #[arg(long)]
    no_wgpu: bool,
    /// Also time K LoRA trials sharing one frozen base (`LoraStack`) against the same K
    /// trials one at a time, for each K given (comma-separated, e.g. `4,8`; none by default).
    #[arg(long, value_delimiter = ',')]
    stacks: Vec<usize>,
}

/// What one PyTorch run printed.
struct Torch {
    tokens_per_sec: f64,
    trainable: i64,
    base_val_loss: f64,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../static/data/lm")
}

fn torch(a: &Args, python: &Path, variant: &str) -> Result<Vec<Torch>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/lora_peft.py");
    let dir = data_dir();
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--base",
            &dir.join("base.safetensors").display().to_string(),
        ])
        .args([
            "--corpus",
            &dir.join("devils-dictionary.txt").display().to_string(),
        ])
        .args(["--variant", variant])
        .args(["--threads", &a.threads.to_string()])
        .args(["--batch", &a.batch.to_string()])
        .args(["--r", &a.r.to_string()])
        .args(["--alpha", &a.alpha.to_string()])
        .args(["--dropout", &a.dropout.to_string()])
        .args(["--steps", &a.steps.to_string()])
        .args(["--warmup", &(a.steps / 10).max(3).to_string()])
        .env("OMP_NUM_THREADS", a.threads.to_string())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "the PyTorch + PEFT run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut v = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let j = sweeplab_core::json::Json::parse(line)
            .map_err(|e| anyhow!("PyTorch printed `{line}`: {e}"))?;
        let num = |k: &str| {
            j.get(k)
                .and_then(|x| x.as_f64())
                .ok_or_else(|| anyhow!("PyTorch's line `{line}` has no number `{k}`"))
        };
        v.push(Torch {
            tokens_per_sec: num("tokens_per_sec")?,
            trainable: num("trainable")? as i64,
            base_val_loss: num("base_val_loss")?,
        });
    }
    Ok(v)
}

fn ours(
    plan: &TrialPlan,
    text: &TextSet,
    steps: usize,
    device: &burn::tensor::Device,
) -> Result<f64> {
    let warmup = (steps / 10).max(3);
    let (tokens_per_sec, _) = block_on(measure_lm(plan, text, device, warmup, steps))?;
    Ok(tokens_per_sec)
}

/// The number of parameters `plan` trains (the adapters', or every one).
fn trainable(plan: &TrialPlan, text: &TextSet, device: &burn::tensor::Device) -> Result<usize> {
    let (base, _, _) = sweeplab_core::train::lm::weights::load_base(
        &text.base,
        "the base weights",
        Some(&text.base_sha256),
        device,
    )?;
    Ok(match &plan.model {
        ModelSpec::Lm { lora: Some(l), .. } => base.with_lora(l, device)?.trainable_params(),
        _ => base.trainable_params(),
    })
}

/// K `lora-qv` trials as a study draws them: the same shape, each with its own seed,
/// learning rate and alpha.
fn stack_plans(a: &Args, k: usize) -> Result<Vec<TrialPlan>> {
    (0..k)
        .map(|i| {
            let alpha = a.alpha * [1.0, 0.5, 2.0, 0.25][i % 4];
            let mut plan = lm_plan("lora-qv", a.batch, a.r, alpha, a.dropout)?;
            plan.lr = 1e-3 * 1.4f64.powi(i as i32 % 5);
            plan.seed = 1 + i as u64;
            Ok(plan)
        })
        .collect()
}

/// Trial-steps per second of `plans` one at a time (each trial's own step, `lm_steps`) and
/// stacked (`stack_steps`).
fn stacked_vs_alone(
    plans: &[TrialPlan],
    text: &TextSet,
    steps: usize,
    device: &burn::tensor::Device,
) -> Result<(f64, f64)> {
    let warmup = (steps / 10).max(3);
    let mut alone_secs = 0.0;
    for plan in plans {
        let (_, m) = block_on(lm_steps(plan, text, device, warmup, steps))?;
        alone_secs += m.seconds;
    }
    let (_, m) = block_on(stack_steps(plans, text, device, warmup, steps))?;
    let trial_steps = (plans.len() * steps) as f64;
    let stacked_secs = m.first().map_or(f64::NAN, |m| m.seconds);
    Ok((trial_steps / alone_secs, trial_steps / stacked_secs))
}

fn main() -> Result<()> {
    let a = Args::parse();
    if a.threads == 0 || a.batch == 0 || a.repeats == 0 || a.steps == 0 {
        bail!("--threads, --batch, --steps and --repeats must be at least 1");
    }
    // `--variants ''` runs none (only the `--stacks` table).
    let variants: Vec<String> = a
        .variants
        .iter()
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    for v in &variants {
        if !LM_VARIANTS.contains(&v.as_str()) {
            bail!("unknown variant `{v}`; use {}", LM_VARIANTS.join(", "));
        }
    }
    init_threads(a.threads)?;
    let dir = data_dir();
    let corpus = std::fs::read_to_string(dir.join("devils-dictionary.txt"))
        .with_context(|| format!("reading {}", dir.display()))?;
    let base = std::fs::read(dir.join("base.safetensors"))
        .with_context(|| format!("reading {}", dir.display()))?;
    let data =
        DataSpec::Text(TextCorpus::DevilsDictionary).load_text(&corpus, base, BASE_SHA256)?;
    let text = data
        .text
        .ok_or_else(|| anyhow!("the text data set came without its text"))?;
    let flex = block_on(select_backend(BackendChoice::Cpu))?;
    let gpu = wgpu_column(!a.no_wgpu)?;
    let python = a.python.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/python/.venv/bin/python")
    });
    let have_torch = python.exists();
    if !have_torch {
        eprintln!(
            "{} not found: PyTorch + PEFT column skipped (see bench/python/requirements.txt)",
            python.display()
        );
    }
    println!(
        "LoRA fine-tuning throughput, predicted bytes/s (median of {} runs of {} steps; {} threads; \
         batch {} x 64 bytes; r {}, alpha {}, dropout {}; Adam)",
        a.repeats, a.steps, a.threads, a.batch, a.r, a.alpha, a.dropout
    );
    println!(
        "{:<14} {:>10} {:>11} {:>11} {:>14} {:>9} {:>9}",
        "variant", "trainable", "Flex", "burn wgpu", "PyTorch+PEFT", "Flex/PT", "wgpu/PT"
    );
    let mut base_scores = Vec::new();
    for variant in &variants {
        let plan = lm_plan(variant, a.batch, a.r, a.alpha, a.dropout)?;
        let params = trainable(&plan, &text, &flex.device)?;
        // PyTorch has no int8 frozen base for training in its core; that row is ours only.
        let torch_row = have_torch && !variant.ends_with("int8");
        let (mut f, mut g, mut t) = (Vec::new(), Vec::new(), Vec::new());
        let mut torch_params = None;
        // Interleave the contenders so machine noise hits all of them alike.
        for _ in 0..a.repeats {
            f.push(ours(&plan, &text, a.steps, &flex.device)?);
            if let Some(gb) = &gpu {
                g.push(ours(&plan, &text, a.steps, &gb.device)?);
            }
            if torch_row {
                for run in torch(&a, &python, variant)? {
                    t.push(run.tokens_per_sec);
                    torch_params = Some(run.trainable);
                    base_scores.push(run.base_val_loss);
                }
            }
        }
        if let Some(tp) = torch_params
            && tp != params as i64
        {
            bail!("{variant}: PyTorch + PEFT trains {tp} parameters, sweeplab {params}");
        }
        for v in [&mut f, &mut g, &mut t] {
            v.sort_by(f64::total_cmp);
        }
        let (mf, mg, mt) = (median(&f), median(&g), median(&t));
        println!(
            "{:<14} {:>10} {:>11} {:>11} {:>14} {:>9} {:>9}",
            variant,
            params,
            rate_cell(mf),
            rate_cell(mg),
            rate_cell(mt),
            ratio_cell(mf, mt),
            ratio_cell(mg, mt)
        );
        eprintln!("  runs: flex {f:.0?} wgpu {g:.0?} torch {t:.0?}");
    }
    if !a.stacks.is_empty() {
        println!(
            "\nK lora-qv trials sharing one frozen base (LoraStack) against the same trials one at \
             a time: trial-steps/s (median of {} runs of {} steps; batch {} each; r {})",
            a.repeats, a.steps, a.batch, a.r
        );
        println!(
            "{:<4} {:>12} {:>12} {:>9} {:>12} {:>12} {:>9}",
            "K", "Flex alone", "Flex stack", "ratio", "wgpu alone", "wgpu stack", "ratio"
        );
    }
    for &k in &a.stacks {
        if k == 0 {
            bail!("--stacks: K must be at least 1");
        }
        let plans = stack_plans(&a, k)?;
        let (mut fa, mut fs, mut ga, mut gs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..a.repeats {
            let (al, st) = stacked_vs_alone(&plans, &text, a.steps, &flex.device)?;
            fa.push(al);
            fs.push(st);
            if let Some(gb) = &gpu {
                let (al, st) = stacked_vs_alone(&plans, &text, a.steps, &gb.device)?;
                ga.push(al);
                gs.push(st);
            }
        }
        for v in [&mut fa, &mut fs, &mut ga, &mut gs] {
            v.sort_by(f64::total_cmp);
        }
        let cell = |x: f64| {
            if x.is_finite() {
                format!("{x:.2}")
            } else {
                "-".into()
            }
        };
        let (mfa, mfs, mga, mgs) = (median(&fa), median(&fs), median(&ga), median(&gs));
        println!(
            "{:<4} {:>12} {:>12} {:>9} {:>12} {:>12} {:>9}",
            k,
            cell(mfa),
            cell(mfs),
            ratio_cell(mfs, mfa),
            cell(mga),
            cell(mgs),
            ratio_cell(mgs, mga)
        );
        eprintln!(
            "  runs: flex alone {fa:.2?} stacked {fs:.2?}; wgpu alone {ga:.2?} stacked {gs:.2?}"
        );
    }
    if let Some(score) = base_scores.first() {
        println!(
            "the frozen base's val/loss on sweeplab's validation windows: PyTorch {score:.4}, \
             sweeplab {BASE_DEVILS_VAL_LOSS:.4} (nats per byte)"
        );
        if (score - BASE_DEVILS_VAL_LOSS).abs() > 1e-3 {
            bail!(
                "PyTorch's model is not sweeplab's: the frozen base scores {score:.4}, not {BASE_DEVILS_VAL_LOSS}"
            );
        }
    }
    Ok(())
}
