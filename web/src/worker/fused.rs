//! The training worker's fused path (feature `worker-gpu`): on WebGPU, a study whose every
//! trial is an MLP the fused kernels take (a small one on a 2-D set, or on MNIST up to 4
//! hidden layers of up to 512 units) trains on the core's fused WGSL kernels
//! ([`FusedSweep`]), many trials at once, an epoch of every running trial per submit.
//!
//! The page gets the same messages as from the one-trial-at-a-time path — a `TrialStart`,
//! `Epoch`s and a `TrialEnd` per trial, journal lines after every round — plus an
//! `Engine` message up front that says how many trials train at once. Each round reads the
//! weights of the trials it trained back with the metrics (one read-back), and the worker
//! posts their decision boundaries from a CPU forward pass.

use std::collections::BTreeMap;
use std::future::Future;

use sweeplab_core::Study;
use sweeplab_core::train::fused::{
    FusedEngine, FusedSweep, FusedSweepOptions, FusedWeights, kernels_note,
};
use sweeplab_core::train::{
    Engine, ProgressEvent, RunnerError, SweepHooks, TrainError, TrainHooks, TrialEnd, counted,
    run_study,
};
use sweeplab_core::vocab::BackendKind;

use super::{
    Control, GRID, RunContext, RunError, grid_points, now_ms, page_store, post, post_progress,
    post_trial_end,
};
use crate::protocol::FromWorker;
use crate::setup::Setup;

/// The fused engine's failures: a device that cannot start or is lost hands the study to
/// the CPU (the page restarts it there); anything else ends the run.
fn engine_error(e: TrainError) -> RunError {
    match e {
        TrainError::Device(m) | TrainError::Backend(m) => RunError::Device(m),
        other => RunError::Other(other.to_string()),
    }
}

struct FusedHooks {
    control: Control,
    last_yield: f64,
    /// The decision-boundary grid, for studies on a 2-D set.
    grid: Option<Vec<f32>>,
    /// Where trials train (W&B's run config).
    run_config: Vec<(&'static str, String)>,
}

impl TrainHooks for FusedHooks {
    fn wants_histograms(&self) -> bool {
        self.control.histograms()
    }

    fn progress(&mut self, event: &ProgressEvent) {
        post_progress(event);
    }

    fn yield_now(&mut self) -> impl Future<Output = ()> {
        self.control.yield_if_due(&mut self.last_yield)
    }
}

impl SweepHooks for FusedHooks {
    fn run_config(&self) -> Vec<(&'static str, String)> {
        self.run_config.clone()
    }

    fn trial_ended(&mut self, _study: &Study, end: &TrialEnd) -> Result<(), RunnerError> {
        post_trial_end(end);
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.control.stop_requested()
    }

    fn round_ended(&mut self, weights: &BTreeMap<u64, FusedWeights>) {
        let Some(grid) = &self.grid else { return };
        for (&trial, w) in weights {
            if let Some(grid) = boundary_of(w, grid) {
                post(&FromWorker::Boundary {
                    trial,
                    n: GRID,
                    grid,
                });
            }
        }
    }
}

/// Class-1 probabilities of `w` on the boundary grid (CPU forward pass).
fn boundary_of(w: &FusedWeights, grid: &[f32]) -> Option<Vec<f32>> {
    grid.chunks_exact(2)
        .map(|p| {
            let logits = w.logits(p).ok()?;
            if logits.len() < 2 {
                return None;
            }
            let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let total: f32 = logits.iter().map(|z| (z - m).exp()).sum();
            Some((logits[1] - m).exp() / total)
        })
        .collect()
}

/// Runs the rest of the study on the fused kernels. `study` is open, its stale trials are
/// failed, and the setup has been checked with `sweep_eligibility`.
pub(super) async fn run(
    study: &mut Study,
    setup: &Setup,
    ctx: &RunContext,
    control: &Control,
) -> Result<String, RunError> {
    let engine = FusedEngine::new().await.map_err(engine_error)?;
    post(&FromWorker::Backend {
        kind: BackendKind::Wgpu,
        reason: format!(
            "WebGPU on `{}` ({}){}",
            engine.adapter_name(),
            engine.api(),
            if engine.software_adapter() {
                ", a software adapter"
            } else {
                ""
            }
        ),
        adapter: Some(engine.adapter_name().to_string()),
    });
    let remaining = (setup.n_trials as usize).saturating_sub(counted(study));
    let mut sweep = FusedSweep::new(
        &engine,
        &ctx.data,
        FusedSweepOptions {
            slots: FusedSweepOptions::default_slots(remaining),
            n_trials: remaining,
            objective: ctx.spec.objective,
            refill: true,
        },
    )
    .map_err(engine_error)?;
    let slots = sweep.slots();
    post(&FromWorker::Engine {
        slots,
        reason: format!(
            "fused WGSL kernels: {slots} trials train at once ({})",
            kernels_note(&ctx.data)
        ),
    });
    let boundary = setup.dataset.is_2d();
    sweep.set_read_weights(boundary);
    let mut hooks = FusedHooks {
        control: control.clone(),
        last_yield: now_ms(),
        grid: boundary.then(grid_points),
        run_config: super::run_config(BackendKind::Wgpu, engine.adapter_name()),
    };
    let end = run_study(
        study,
        &mut page_store(),
        &mut hooks,
        &ctx.spec,
        &ctx.data,
        Engine::Fused(&mut sweep),
        &control.cancel_token(),
    )
    .await
    .map_err(|e| match e {
        RunnerError::Train(e) => engine_error(e),
        other => RunError::from(other),
    })?;
    Ok(end.describe().to_string())
}
