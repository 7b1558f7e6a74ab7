//! The GPU path natively: wgpu on whatever adapter exists (Mesa lavapipe's software Vulkan
//! here: `apt-get install mesa-vulkan-drivers libvulkan1`). Skips, saying so, where wgpu finds
//! no adapter.
#![cfg(all(feature = "train", feature = "wgpu"))]

mod common;
use common::{ask_and_train, mlp, plan_of, random_study};

use futures_lite::future::block_on;
use sweeplab_core::train::backend::probe_adapter;
use sweeplab_core::train::data::generate_toy;
use sweeplab_core::train::{
    Activation, BackendChoice, BackendKind, Objective, OptimizerKind, Toy2d, select_backend,
};
use sweeplab_core::{StudyDirection, TrialState};

#[test]
fn trains_on_wgpu_when_an_adapter_exists() {
    let Some(probe) = block_on(probe_adapter()) else {
        eprintln!(
            "SKIPPED: wgpu found no adapter (install mesa-vulkan-drivers and libvulkan1 for lavapipe)"
        );
        return;
    };
    eprintln!(
        "adapter: {} ({}), software: {}",
        probe.name, probe.api, probe.software
    );

    // auto picks Flex on a software adapter and wgpu on a hardware one.
    let auto = block_on(select_backend(BackendChoice::Auto)).unwrap();
    let expected = if probe.software {
        BackendKind::Flex
    } else {
        BackendKind::Wgpu
    };
    assert_eq!(auto.kind, expected, "{}", auto.reason);
    assert!(!auto.reason.is_empty());

    let gpu = block_on(select_backend(BackendChoice::Gpu)).unwrap();
    assert_eq!(gpu.kind, BackendKind::Wgpu);
    assert!(gpu.reason.contains(&probe.name), "{}", gpu.reason);

    let data = generate_toy(Toy2d::Circle, 400, 0.05, 0.25, 4);
    let mut study = random_study("g", StudyDirection::Minimize, 0);
    let model = mlp(2, 16, Activation::Tanh, 0.1);
    let plan = plan_of(model, OptimizerKind::Adam, 0.03, 32, 10, 3);
    let out = ask_and_train(&mut study, &plan, &data, &gpu.device, Objective::ValLoss);
    assert_eq!(out.state, TrialState::Complete);
    let t = &study.trials()[0];
    let losses: Vec<f64> = t.series["train/loss"].iter().map(|p| p.value).collect();
    assert_eq!(losses.len(), 100);
    let first: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = losses[90..].iter().sum::<f64>() / 10.0;
    assert!(last < 0.6 * first, "train loss {first} -> {last}");
    let acc = &t.series["val/accuracy"];
    assert!(acc[acc.len() - 1].value > 0.85, "{acc:?}");
}
