//! A trial's tensors and optimizer state are freed when it ends: the process's resident set
//! stays flat over trials. (Its own test binary, so no other test allocates meanwhile.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic
#![cfg(all(feature = "train", feature = "flex"))]

use std::path::PathBuf;

use futures_lite::future::block_on;
use sweeplab_core::train::{
    Activation, BackendChoice, CancelToken, Mnist, ModelSpec, Objective, OptimizerKind,
    ProgressEvent, TrialPlan, select_backend, train_trial,
};
use sweeplab_core::{RandomSampler, Study, StudyDirection};

/// Resident set size of this process in KiB (Linux), to check that trials free memory.
fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn memory_stays_flat_across_trials() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../static/data/mnist10k");
    let data = Mnist::load_dir(&dir).unwrap().split(8_000);
    let mut s = Study::create(
        "m",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )
    .unwrap();
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    let p = TrialPlan {
        model: ModelSpec::Mlp {
            layers: 2,
            width: 256,
            activation: Activation::Relu,
            dropout: 0.1,
        },
        optimizer: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: 0.0,
        momentum: 0.9,
        batch_size: 128,
        epochs: 1,
        seed: 0,
    };
    let mut after = Vec::new();
    for _ in 0..8 {
        let n = s.ask().unwrap();
        let mut hook = |_: &ProgressEvent| {};
        block_on(train_trial(
            &mut s,
            n,
            &p,
            &data,
            &backend.device,
            Objective::ValLoss,
            &mut hook,
            &CancelToken::new(),
        ))
        .unwrap();
        if let Some(r) = rss_kib() {
            after.push(r);
        }
    }
    if after.len() == 8 {
        // Allow for allocator noise, but not one model's worth (~1 MB of weights plus
        // optimizer state and activations) per trial.
        let growth = after[7] as i64 - after[2] as i64;
        assert!(growth < 8 * 1024, "RSS after each trial (KiB): {after:?}");
    }
}
