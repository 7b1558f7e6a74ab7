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

use sweeplab_core::train::fused::{
    FusedEngine, FusedSweep, FusedSweepOptions, FusedWeights, kernels_note,
};
use sweeplab_core::train::{ProgressEvent, TrainError, TrainHooks, TrialPlan};
use sweeplab_core::{ParamValue, Study};

use crate::protocol::FromWorker;
use crate::setup::Setup;
use crate::worker::{
    CONTROL, GRID, RunContext, RunError, counted, end_reason, fail_interrupted, grid_points,
    message_of, now_ms, post, send_ops, yield_if_due,
};

/// The fused engine's failures: a device that cannot start or is lost hands the study to
/// the CPU (the page restarts it there); anything else ends the run.
fn engine_error(e: TrainError) -> RunError {
    match e {
        TrainError::Device(m) | TrainError::Backend(m) => RunError::Device(m),
        other => RunError::Other(other.to_string()),
    }
}

struct FusedHooks {
    last_yield: f64,
}

impl TrainHooks for FusedHooks {
    fn progress(&mut self, event: &ProgressEvent) {
        if let Some(m) = message_of(event) {
            post(&m);
        }
    }

    fn yield_now(&mut self) -> impl Future<Output = ()> {
        yield_if_due(&mut self.last_yield)
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
pub(crate) async fn run(
    study: &mut Study,
    setup: &Setup,
    ctx: &RunContext,
) -> Result<String, RunError> {
    let engine = FusedEngine::new().await.map_err(engine_error)?;
    post(&FromWorker::Backend {
        kind: "wgpu".into(),
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
            objective: ctx.objective,
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
    let grid = grid_points();
    let mut plan_for = |number: u64, params: &BTreeMap<String, ParamValue>| {
        TrialPlan::resolve(
            &ctx.model,
            &ctx.settings,
            params,
            ctx.seed.wrapping_add(number),
        )
    };
    let mut hooks = FusedHooks {
        last_yield: now_ms(),
    };
    let cancel = CONTROL.with(|c| c.borrow().cancel.clone());
    let mut time_up = false;
    while !sweep.is_done() {
        if !time_up
            && setup.time_limit_s > 0
            && now_ms() - ctx.started_ms > f64::from(setup.time_limit_s) * 1000.0
        {
            // The running trials finish; no new one starts.
            time_up = true;
            sweep.stop_asking();
        }
        let round = sweep
            .round(study, &ctx.space, &mut plan_for, &mut hooks, &cancel)
            .await;
        let ended = match round {
            Ok(ended) => ended,
            Err(e) => {
                for number in sweep.running_trials().into_iter().flatten() {
                    fail_interrupted(study, number, &e.to_string());
                }
                send_ops(study);
                return Err(engine_error(e));
            }
        };
        // The round's metrics (and any trial it ended) reach the page's study now.
        send_ops(study);
        if boundary {
            for (&trial, w) in sweep.round_weights() {
                if let Some(grid) = boundary_of(w, &grid) {
                    post(&FromWorker::Boundary {
                        trial,
                        n: GRID,
                        grid,
                    });
                }
            }
        }
        for end in ended {
            post(&FromWorker::TrialEnd {
                trial: end.number,
                state: end.outcome.state.name().into(),
                value: end.outcome.value,
                reason: end.outcome.fail_reason.clone(),
            });
        }
    }
    Ok(end_reason(study, setup, time_up).unwrap_or_else(|| "all trials done".into()))
}
