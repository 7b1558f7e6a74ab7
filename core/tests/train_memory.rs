//! A trial's tensors and optimizer state are freed when it ends: the process's resident set
//! stays flat over trials. (Its own test binary, so no other test allocates meanwhile.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic
#![cfg(all(feature = "train", feature = "flex"))]

mod common;
use common::{ask_and_train, mlp, plan_of, random_study};

use std::path::PathBuf;

use futures_lite::future::block_on;
use sweeplab_core::StudyDirection;
use sweeplab_core::train::{
    Activation, BackendChoice, Mnist, Objective, OptimizerKind, select_backend,
};

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
    let mut s = random_study("m", StudyDirection::Minimize, 0);
    let backend = block_on(select_backend(BackendChoice::Cpu)).unwrap();
    let model = mlp(2, 256, Activation::Relu, 0.1);
    let p = plan_of(model, OptimizerKind::Adam, 1e-3, 128, 1, 0);
    let mut after = Vec::new();
    for _ in 0..8 {
        ask_and_train(&mut s, &p, &data, &backend.device, Objective::ValLoss);
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
