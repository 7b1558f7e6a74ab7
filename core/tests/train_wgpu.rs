//! The GPU path natively: wgpu on whatever adapter exists (Mesa lavapipe's software Vulkan
//! here: `apt-get install mesa-vulkan-drivers libvulkan1`). Skips, saying so, where wgpu finds
//! no adapter.
#![cfg(all(feature = "train", feature = "wgpu"))]

use futures_lite::future::block_on;
use sweeplab_core::train::backend::probe_adapter;
use sweeplab_core::train::data::generate_toy;
use sweeplab_core::train::{
    Activation, BackendChoice, BackendKind, CancelToken, ModelSpec, Objective, OptimizerKind,
    ProgressEvent, Toy2d, TrialPlan, select_backend, train_trial,
};
use sweeplab_core::{RandomSampler, Study, StudyDirection, TrialState};

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
    let mut study = Study::create(
        "g",
        StudyDirection::Minimize,
        Box::new(RandomSampler::new(Some(0))),
    )
    .unwrap();
    let n = study.ask().unwrap();
    let plan = TrialPlan {
        model: ModelSpec::Mlp {
            layers: 2,
            width: 16,
            activation: Activation::Tanh,
            dropout: 0.1,
        },
        optimizer: OptimizerKind::Adam,
        lr: 0.03,
        weight_decay: 0.0,
        momentum: 0.9,
        batch_size: 32,
        epochs: 10,
        seed: 3,
    };
    let mut hook = |_: &ProgressEvent| {};
    let out = block_on(train_trial(
        &mut study,
        n,
        &plan,
        &data,
        &gpu.device,
        Objective::ValLoss,
        &mut hook,
        &CancelToken::new(),
    ))
    .unwrap();
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
