//! The fused engine (feature `fused`): our own WGSL kernels (`shaders/`) train K
//! TensorFlow-Playground-size MLPs at once, one trial per workgroup, with forward, backward
//! and the optimiser step fused, an epoch of steps per submit and one metrics read-back per
//! epoch.
//!
//! For networks this small, per-op dispatch overhead dominates training on burn; here one
//! dispatch runs many steps of every trial. Data sets of more than 32 features (MNIST) train
//! on the wide kernels instead (`shaders/mlp_wide.wgsl`, see [`uses_wide_kernels`]): up to
//! [`WIDE_MAX_LAYERS`] hidden layers of up to [`WIDE_MAX_UNITS`] units, up to 8 trials at
//! once, one tiled dispatch per layer and phase of a step over all of them, still an epoch
//! per submit and one read-back. The kernels take the trainer's MLP settings:
//! up to [`MAX_LAYERS`] hidden layers of up to [`MAX_UNITS`] units, relu/tanh/gelu/sigmoid,
//! adam/adamw/sgd (with momentum), weight decay, dropout, any batch size up to
//! [`MAX_BATCH`], on flat data sets of up to 32 features and 2 to 32 classes (the 2-D toy
//! sets). [`check_plan`] says whether a plan qualifies and why not.
//!
//! - [`FusedEngine`]: the wgpu device (WebGPU in the browser, Vulkan/Metal/DX12 natively,
//!   through the same `wgpu` crate burn uses) with the kernels compiled.
//! - [`FusedRun`]: K slots on one data set; load a [`TrialPlan`](super::TrialPlan) (with
//!   given or fresh weights), train every occupied slot an epoch at a time, read weights back.
//! - [`FusedSweep`]: the study side — asks K trials at once, trains them together, logs
//!   `train/loss`, `val/loss`, `val/accuracy`, reports each epoch to the pruner, tells the
//!   study, refills freed slots.
//!
//! Every read-back is `map_async` awaited as a future, so the same code runs in a browser
//! worker. Natively the future waits inside `Device::poll`.
//!
//! # Using it
//!
//! The study loop ([`run_study`](super::run_study) with
//! [`Engine::Fused`](super::Engine::Fused)) drives a [`FusedSweep`] for the CLI and the
//! browser worker alike: a round at a time, asking through its store, persisting after each
//! round. Alone (tests, benchmarks), [`run_fused_sweep`] runs rounds until it is done.
//! Before starting, [`sweep_eligibility`] tells whether the preset's search space stays
//! within the kernels' reach; if not, use [`train_trial`](super::train_trial) one trial at a
//! time. [`FusedSweep::weights`] gives a running trial's weights for a decision-boundary plot
//! ([`FusedWeights::logits`] is a CPU forward pass).

mod engine;
mod layout;
mod readback;
mod sweep;

pub use engine::{DEFAULT_STEPS_PER_DISPATCH, FusedEngine, FusedRun, LOSS_BINS, SlotEpoch};
pub use layout::{
    FusedNet, FusedWeights, MAX_BATCH, MAX_CLASSES, MAX_LAYERS, MAX_UNITS, NetShape,
    WIDE_MAX_INPUTS, WIDE_MAX_LAYERS, WIDE_MAX_UNITS, check_data, check_plan, kernels_note,
    uses_wide_kernels,
};
pub use sweep::{AskFn, FusedSweep, FusedSweepOptions, PlanFn, run_fused_sweep, sweep_eligibility};
