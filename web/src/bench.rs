//! The browser peer benchmark's entry points (feature `bench`; built and driven by
//! `cargo xtask bench-browser`, never by the tests). `bench/browser/bench.js` loads this
//! module on the benchmark page and calls these functions; TensorFlow.js runs in the same
//! page, on the same data.
//!
//! - Training throughput: [`bench_train`] runs the core's
//!   [`measure_training`](sweeplab_core::train::trainer::measure_training) (the trainer's
//!   own step: burn autodiff, Adam, cross-entropy) on burn's CPU backend (Flex, in wasm) or on
//!   WebGPU. [`bench_train_data`] and [`bench_order`] hand the peer exactly the samples, the
//!   normalisation and the batch order sweeplab trains on.
//! - [`bench_train_fused`] trains the MLP on the fused engine's wide WGSL kernels (what the
//!   playground runs for an MNIST MLP study on WebGPU), an epoch per submit.
//! - Language-model fine-tuning: [`bench_load_lm`] reads the shipped base and corpus, and
//!   [`bench_train_lm`] runs the core's [`lm_steps`] (a LoRA trial's own step: the frozen
//!   base with adapters, or every weight trained) on Flex or WebGPU; [`bench_lm_train_bytes`]
//!   hands the peer the same training split.
//! - Trials per second: [`bench_study`] runs the core's spiral study
//!   ([`sweeplab_core::train::bench`], which `bench/src/bin/fused_bench.rs` runs too: same
//!   data, search space, sampler and settings) with the fused WGSL engine, or with burn one
//!   trial at a time on WebGPU or the CPU.
//!
//! Every function returns a `Promise`; results are JSON text, errors are strings.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use sweeplab_core::TrialState;
use sweeplab_core::train::bench::{
    lm_plan, mnist_plan, spiral_burn, spiral_data, spiral_fused, spiral_study,
};
use sweeplab_core::train::fused::FusedEngine;
use sweeplab_core::train::lm::BASE_SHA256;
use sweeplab_core::train::lm::trial::lm_steps;
use sweeplab_core::train::trainer::{batch_start, measure_training, throughput_order};
use sweeplab_core::train::{
    BackendChoice, DataSet, DataSpec, Mnist, TextCorpus, TextSet, select_backend,
};
use wasm_bindgen::prelude::*;
use web_time::Instant;

#[derive(Default)]
struct State {
    mnist: Option<Rc<DataSet>>,
    spiral: Option<Rc<DataSet>>,
    lm: Option<std::sync::Arc<TextSet>>,
    gpu: Option<Device>,
    fused: Option<Rc<FusedEngine>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
}

fn err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn json_text(v: serde_json::Value) -> String {
    v.to_string()
}

/// Reports a panic on the console (the worker's hook posts to a worker scope, which the
/// benchmark page does not have).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&JsValue::from_str(&format!(
            "sweeplab bench panicked: {info}"
        )));
    }));
}

fn mnist() -> Result<Rc<DataSet>, JsValue> {
    STATE
        .with(|s| s.borrow().mnist.clone())
        .ok_or_else(|| err("MNIST is not loaded; call bench_load_mnist first"))
}

/// Parses MNIST-10k from its two IDX files' bytes (gzip or not) and splits it as the
/// playground and the CLI do (8,000 training images, pixels scaled to [0, 1] and normalised
/// with MNIST's mean and standard deviation). Returns `{"train": n, "valid": n, "dim": d,
/// "classes": c}`.
#[wasm_bindgen]
pub fn bench_load_mnist(images: &[u8], labels: &[u8]) -> Result<String, JsValue> {
    install_panic_hook();
    use sweeplab_core::train::mnist::{IMAGES_FILE, LABELS_FILE};
    let m = Mnist::parse(IMAGES_FILE, images, LABELS_FILE, labels).map_err(err)?;
    let data = DataSpec::Mnist.load(Some(&m)).map_err(err)?;
    let info = serde_json::json!({
        "train": data.train.len(),
        "valid": data.valid.len(),
        "dim": data.train.dim,
        "classes": data.classes,
    });
    STATE.with(|s| s.borrow_mut().mnist = Some(Rc::new(data)));
    Ok(json_text(info))
}

/// The training split sweeplab trains on: `{features: Float32Array (n x dim, normalised),
/// labels: Int32Array, n, dim}`, for the peer library.
#[wasm_bindgen]
pub fn bench_train_data() -> Result<js_sys::Object, JsValue> {
    let data = mnist()?;
    let t = &data.train;
    let labels: Vec<i32> = t
        .labels
        .iter()
        .map(|&l| i32::try_from(l).unwrap_or(-1))
        .collect();
    let out = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &JsValue::from_str(k), v);
    set(
        "features",
        &js_sys::Float32Array::from(t.features.as_slice()).into(),
    )?;
    set(
        "labels",
        &js_sys::Int32Array::from(labels.as_slice()).into(),
    )?;
    set("n", &JsValue::from(t.len() as u32))?;
    set("dim", &JsValue::from(t.dim as u32))?;
    Ok(out)
}

/// The batch order of [`bench_train`] with `seed` over `n` samples (see
/// [`throughput_order`]).
#[wasm_bindgen]
pub fn bench_order(seed: u32, n: usize) -> js_sys::Int32Array {
    let order: Vec<i32> = throughput_order(u64::from(seed), n)
        .into_iter()
        .map(|i| i32::try_from(i).unwrap_or(0))
        .collect();
    js_sys::Int32Array::from(order.as_slice())
}

/// Where step `step`'s batch starts in [`bench_order`] (see [`batch_start`]).
#[wasm_bindgen]
pub fn bench_batch_start(step: usize, batch: usize, n: usize) -> usize {
    batch_start(step, batch, n.max(batch))
}

async fn gpu_device() -> Result<Device, JsValue> {
    if let Some(d) = STATE.with(|s| s.borrow().gpu.clone()) {
        return Ok(d);
    }
    let selected = select_backend(BackendChoice::Gpu).await.map_err(err)?;
    STATE.with(|s| s.borrow_mut().gpu = Some(selected.device.clone()));
    Ok(selected.device)
}

/// Reads the language model's corpus (`devils-dictionary.txt`) and shipped base
/// (`base.safetensors`, checked against its recorded checksum) from `static/data/lm/`, split
/// as the trials split it. Returns `{"train_bytes": n, "valid_bytes": n}`.
#[wasm_bindgen]
pub fn bench_load_lm(corpus: String, base: Vec<u8>) -> Result<String, JsValue> {
    install_panic_hook();
    let data = DataSpec::Text(TextCorpus::DevilsDictionary)
        .load_text(&corpus, base, BASE_SHA256)
        .map_err(err)?;
    let text = data
        .text
        .ok_or_else(|| err("the text data set came without its text"))?;
    let out = serde_json::json!({
        "train_bytes": text.corpus.train.len(),
        "valid_bytes": text.corpus.valid.len(),
    });
    STATE.with(|s| s.borrow_mut().lm = Some(text));
    Ok(json_text(out))
}

fn lm() -> Result<std::sync::Arc<TextSet>, JsValue> {
    STATE
        .with(|s| s.borrow().lm.clone())
        .ok_or_else(|| err("the language model's data is not loaded; call bench_load_lm first"))
}

/// The training split's bytes (what a peer draws its windows from).
#[wasm_bindgen]
pub fn bench_lm_train_bytes() -> Result<js_sys::Uint8Array, JsValue> {
    let text = lm()?;
    let bytes: Vec<u8> = text
        .corpus
        .train
        .iter()
        .map(|t| u8::try_from(*t).unwrap_or(0))
        .collect();
    Ok(js_sys::Uint8Array::from(bytes.as_slice()))
}

/// Fine-tunes the language model as the LoRA benchmark's `variant` (`lora-qv`, `lora-all`,
/// `lora-qv-int8` or `finetune`; rank 8, alpha 16, adapter dropout 0.05, Adam at 1e-3) on
/// `backend` (`flex` or `webgpu`): `warmup` untimed steps, then `steps` timed ones of `batch`
/// 64-byte windows, their losses read back at the end. Returns `{"tokens_per_sec",
/// "seconds", "losses": [...]}`.
#[wasm_bindgen]
pub async fn bench_train_lm(
    backend: String,
    variant: String,
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<String, JsValue> {
    let text = lm()?;
    let device = device_for(&backend).await?;
    let plan = lm_plan(&variant, batch, 8, 16.0, 0.05).map_err(err)?;
    let (_, m) = lm_steps(&plan, &text, &device, warmup, steps)
        .await
        .map_err(err)?;
    Ok(json_text(serde_json::json!({
        "tokens_per_sec": m.tokens_per_sec,
        "seconds": m.seconds,
        "losses": m.losses,
    })))
}

/// Starts burn's WebGPU device (once). Returns `{"reason": …, "adapter": …}`.
#[wasm_bindgen]
pub async fn bench_gpu_init() -> Result<String, JsValue> {
    install_panic_hook();
    let selected = select_backend(BackendChoice::Gpu).await.map_err(err)?;
    STATE.with(|s| s.borrow_mut().gpu = Some(selected.device.clone()));
    Ok(json_text(serde_json::json!({
        "reason": selected.reason,
        "adapter": selected.adapter,
        "software": selected.software_adapter,
    })))
}

async fn device_for(backend: &str) -> Result<Device, JsValue> {
    match backend {
        "flex" | "cpu" => Ok(Device::flex()),
        "wgpu" | "webgpu" | "gpu" => gpu_device().await,
        other => Err(err(format!(
            "unknown backend `{other}`; use flex or webgpu"
        ))),
    }
}

/// Trains `model` (`mlp` or `cnn`) on MNIST for `warmup` untimed and `steps` timed steps of
/// `batch` samples on `backend` (`flex` or `webgpu`), reading the losses back every
/// `read_every` steps; the timed region ends with the last loss on the CPU. Returns
/// `{"samples_per_sec", "seconds", "losses": [...]}`.
#[wasm_bindgen]
pub async fn bench_train(
    backend: String,
    model: String,
    batch: usize,
    warmup: usize,
    steps: usize,
    read_every: usize,
) -> Result<String, JsValue> {
    let data = mnist()?;
    let device = device_for(&backend).await?;
    let plan = mnist_plan(&model, batch).map_err(err)?;
    let t = measure_training(&plan, &data, &device, warmup, steps, read_every)
        .await
        .map_err(err)?;
    Ok(json_text(serde_json::json!({
        "samples_per_sec": t.samples_per_sec,
        "seconds": t.seconds,
        "losses": t.losses,
    })))
}

/// Trains `model` (the MLP; the fused kernels train MLPs only) on MNIST with the fused WGSL
/// engine's wide kernels, as the playground does for an MNIST MLP study on WebGPU: one
/// untimed warm-up epoch, then from fresh weights `epochs` timed epochs of `batch` samples per step, each one
/// submit (every step, then the validation pass) and one metrics read-back. The timed region
/// includes the validation passes and ends with the last epoch's metrics on the CPU. Returns
/// `{"samples_per_sec", "seconds", "steps", "losses": [per step]}`, where samples are training
/// samples only.
#[wasm_bindgen]
pub async fn bench_train_fused(
    model: String,
    batch: usize,
    epochs: usize,
) -> Result<String, JsValue> {
    install_panic_hook();
    let data = mnist()?;
    let plan = mnist_plan(&model, batch).map_err(err)?;
    let engine = fused_engine().await?;
    let mut run = engine.start(&data, 1).map_err(err)?;
    run.load(0, &plan, None, &data).map_err(err)?;
    run.run_epoch().await.map_err(err)?;
    // Timed from fresh weights and optimiser state, so the losses compare with the other
    // rows' at equal steps (the warm-up only compiled and ran the kernels once).
    run.load(0, &plan, None, &data).map_err(err)?;
    let started = Instant::now();
    let mut losses = Vec::new();
    for _ in 0..epochs.max(1) {
        for e in run.run_epoch().await.map_err(err)? {
            losses.extend(e.train_losses.iter().map(|&(_, l)| l));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let samples = epochs.max(1) * data.train.len();
    Ok(json_text(serde_json::json!({
        "samples_per_sec": samples as f64 / secs.max(1e-9),
        "seconds": secs,
        "steps": losses.len(),
        "losses": losses,
    })))
}

fn spiral() -> Rc<DataSet> {
    if let Some(d) = STATE.with(|s| s.borrow().spiral.clone()) {
        return d;
    }
    let d = Rc::new(spiral_data());
    STATE.with(|s| s.borrow_mut().spiral = Some(d.clone()));
    d
}

async fn fused_engine() -> Result<Rc<FusedEngine>, JsValue> {
    if let Some(e) = STATE.with(|s| s.borrow().fused.clone()) {
        return Ok(e);
    }
    let e = Rc::new(FusedEngine::new().await.map_err(err)?);
    STATE.with(|s| s.borrow_mut().fused = Some(e.clone()));
    Ok(e)
}

/// Runs the spiral study of `fused_bench` (500 points, 400 train; layers 1-4, width 4-32,
/// relu/tanh/gelu/sigmoid, lr 1e-3..0.1 log, batch 10/16/32, Adam; random sampler seed 0, no
/// pruner; trial n trains with seed n) for `trials` trials of `epochs` epochs on `engine`:
/// `fused` (the fused WGSL kernels, `slots` trials at once, `steps_per_dispatch` steps per
/// dispatch), `burn-webgpu` or `burn-flex` (burn, one trial at a time with the core's
/// `train_trial`). The same sampler seed gives every engine the same trials, so the first
/// `trials` trials of any two runs are the same work. Returns `{"seconds", "trials",
/// "complete", "val_loss": [per trial, by number], "val_accuracy": [...]}`.
#[wasm_bindgen]
pub async fn bench_study(
    engine: String,
    trials: usize,
    epochs: usize,
    slots: usize,
    steps_per_dispatch: u32,
) -> Result<String, JsValue> {
    install_panic_hook();
    if trials == 0 || epochs == 0 {
        return Err(err("trials and epochs must be at least 1"));
    }
    let data = spiral();
    let mut study = spiral_study().map_err(err)?;
    let secs = match engine.as_str() {
        "fused" => {
            let fused = fused_engine().await?;
            let slots = slots.max(1);
            spiral_fused(
                &mut study,
                &fused,
                &data,
                slots,
                trials,
                epochs,
                steps_per_dispatch,
            )
            .await
            .map_err(err)?
        }
        "burn-webgpu" | "burn-flex" => {
            let device = device_for(if engine == "burn-flex" {
                "flex"
            } else {
                "webgpu"
            })
            .await?;
            spiral_burn(&mut study, &data, &device, trials, epochs)
                .await
                .map_err(err)?
        }
        other => {
            return Err(err(format!(
                "unknown study engine `{other}`; use fused, burn-webgpu or burn-flex"
            )));
        }
    };
    let last = |t: &sweeplab_core::FrozenTrial, name: &str| -> Option<f64> {
        t.series.get(name).and_then(|s| s.last()).map(|p| p.value)
    };
    let mut by_number: Vec<_> = study.trials().iter().collect();
    by_number.sort_by_key(|t| t.number);
    let complete = by_number
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    Ok(json_text(serde_json::json!({
        "seconds": secs,
        "trials": trials,
        "complete": complete,
        "val_loss": by_number.iter().map(|t| last(t, "val/loss")).collect::<Vec<_>>(),
        "val_accuracy": by_number.iter().map(|t| last(t, "val/accuracy")).collect::<Vec<_>>(),
    })))
}
