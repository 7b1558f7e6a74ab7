//! `sweeplab pretrain-lm`: trains the base language model of the LoRA fine-tune study on a
//! text corpus and writes it as a safetensors file (what `cargo xtask pretrain-lm` runs to
//! make `static/data/lm/base.safetensors`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use futures_lite::future::block_on;
use std::time::Instant;
use sweeplab_core::train::lm::LmConfig;
use sweeplab_core::train::lm::train::{Corpus, PretrainSpec, pretrain};
use sweeplab_core::train::lm::weights::{save_base, sha256_hex};
use sweeplab_core::train::{BackendChoice, select_backend};

/// Arguments of `sweeplab pretrain-lm`.
#[derive(Args, Debug)]
pub struct PretrainLmArgs {
    /// The corpus: a UTF-8 text file (its last 5% is the validation text).
    #[arg(long)]
    corpus: PathBuf,
    /// The weights file to write (safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Width of the residual stream.
    #[arg(long, default_value_t = 96)]
    d_model: usize,
    /// Blocks.
    #[arg(long, default_value_t = 3)]
    layers: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Width of the MLP's hidden layer.
    #[arg(long, default_value_t = 256)]
    d_ff: usize,
    /// The longest input, in bytes.
    #[arg(long, default_value_t = 64)]
    context: usize,
    /// Optimiser steps.
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Peak learning rate (AdamW; warm-up, then cosine decay to a tenth).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Seed of the initial weights and the batches.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Backend: cpu, gpu or auto.
    #[arg(long, default_value = "cpu")]
    backend: String,
}

/// `sweeplab pretrain-lm`
pub fn pretrain_lm(a: PretrainLmArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.corpus)
        .with_context(|| format!("reading the corpus {}", a.corpus.display()))?;
    let config = LmConfig {
        d_model: a.d_model,
        layers: a.layers,
        heads: a.heads,
        d_ff: a.d_ff,
        context: a.context,
    };
    config.validate()?;
    let corpus = Corpus::split(&text, 0.05, a.context)?;
    let spec = PretrainSpec {
        config,
        steps: a.steps.max(1),
        batch: a.batch.max(1),
        lr: a.lr,
        warmup: (a.steps / 20).max(1),
        weight_decay: 0.01,
        seed: a.seed,
        eval_every: (a.steps / 20).max(1),
    };
    let backend = block_on(select_backend(BackendChoice::parse(&a.backend)?))?;
    eprintln!("backend: {}", backend.reason);
    eprintln!(
        "corpus: {} ({} training bytes, {} validation bytes)",
        a.corpus.display(),
        corpus.train.len(),
        corpus.valid.len()
    );
    let started = Instant::now();
    let (model, val_loss) = block_on(pretrain(&spec, &corpus, &backend.device, |p| {
        eprintln!(
            "step {:>6}  train/loss {:.4}  val/loss {:.4}  ({:.0} s)",
            p.step,
            p.train_loss,
            p.val_loss,
            started.elapsed().as_secs_f64()
        );
    }))?;
    let secs = started.elapsed().as_secs_f64();
    let name = a
        .corpus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = [
        ("corpus", name),
        ("corpus_sha256", sha256_hex(text.as_bytes())),
        ("steps", spec.steps.to_string()),
        ("batch", spec.batch.to_string()),
        ("lr", spec.lr.to_string()),
        ("seed", spec.seed.to_string()),
        ("val_loss", format!("{val_loss:.4}")),
    ];
    let bytes = block_on(save_base(&model, &config, &meta))?;
    let tmp = a.out.with_extension("safetensors.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote {} ({} bytes, SHA-256 {}): val/loss {val_loss:.4} nats per byte after {} steps in {secs:.0} s",
        a.out.display(),
        bytes.len(),
        sha256_hex(&bytes),
        spec.steps
    );
    Ok(())
}

/// Arguments of `sweeplab generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A LoRA trial's adapter folder (`OUT/adapters/trial-NNN` of a sweep), holding
    /// `adapter_model.safetensors` and `adapter_config.json`; without it the base writes.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// The base weights (default: the shipped base, `static/data/lm/base.safetensors`).
    #[arg(long)]
    base: Option<PathBuf>,
    /// The text to continue.
    #[arg(long, default_value = "LEARNING, n.  ")]
    prompt: String,
    /// Bytes to write after the prompt.
    #[arg(long, default_value_t = 200)]
    bytes: usize,
    /// Sampling temperature (0: always the most likely byte).
    #[arg(long, default_value_t = 0.7)]
    temperature: f64,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `sweeplab generate`
pub fn generate(a: GenerateArgs) -> Result<()> {
    use sweeplab_core::train::lm::weights::{load_adapter, load_base};
    use sweeplab_core::train::lm::{BASE_FILE, BASE_SHA256};
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        anyhow::bail!("--temperature must be 0 or more, not {}", a.temperature);
    }
    let (base_path, expected) = match &a.base {
        Some(p) => (p.clone(), None),
        None => (
            crate::sweep_cmd::data_dir("lm").join(BASE_FILE),
            Some(BASE_SHA256),
        ),
    };
    let base_bytes = std::fs::read(&base_path)
        .with_context(|| format!("reading the base weights {}", base_path.display()))?;
    let sum = sha256_hex(&base_bytes);
    let device = block_on(select_backend(BackendChoice::Cpu))?.device;
    let shown = base_path.display().to_string();
    let (mut model, _, _) = load_base(&base_bytes, &shown, expected, &device)?;
    if let Some(dir) = &a.adapter {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
        };
        let weights = read("adapter_model.safetensors")?;
        let config = String::from_utf8(read("adapter_config.json")?)
            .with_context(|| format!("{}: adapter_config.json is not UTF-8", dir.display()))?;
        model = load_adapter(model, &sum, &weights, &config, &device)
            .with_context(|| dir.display().to_string())?;
    }
    let text = block_on(sweeplab_core::train::lm::generate(
        &model,
        &a.prompt,
        a.bytes,
        a.temperature,
        a.seed,
        &device,
    ))?;
    println!("{}{text}", a.prompt);
    Ok(())
}
