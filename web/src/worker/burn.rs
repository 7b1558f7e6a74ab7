//! The training worker's burn path: one trial at a time on burn's Flex (CPU) or wgpu
//! (WebGPU) backend, with a decision boundary drawn after every epoch on 2-D sets.

use std::future::Future;

use burn::tensor::{Device, Tensor, TensorData};
use sweeplab_core::Study;
use sweeplab_core::train::{
    BackendChoice, Engine, Model, ProgressEvent, RunnerError, StudyEnd, SweepHooks, TrainHooks,
    TrialEnd, run_baselines, run_study, select_backend,
};
use sweeplab_core::vocab::BackendKind;

use super::{
    Control, GRID, RunContext, RunError, grid_points, now_ms, page_store, post, post_progress,
    post_trial_end,
};
use crate::protocol::FromWorker;
use crate::setup::Setup;

/// Runs the rest of the study on burn, one trial at a time. `study` is open and its stale
/// trials are failed.
pub(super) async fn run(
    study: &mut Study,
    setup: &Setup,
    ctx: &RunContext,
    backend: BackendKind,
    control: &Control,
) -> Result<String, RunError> {
    let choice = if backend == BackendKind::Wgpu {
        BackendChoice::Gpu
    } else {
        BackendChoice::Cpu
    };
    let selected = select_backend(choice).await.map_err(|e| match choice {
        // A GPU that cannot start is the page's cue to continue on the CPU.
        BackendChoice::Gpu => RunError::Device(e.to_string()),
        _ => RunError::from(e),
    })?;
    post(&FromWorker::Backend {
        kind: selected.kind,
        reason: selected.reason.clone(),
        adapter: selected.adapter.clone(),
    });
    let mut hooks = Hooks {
        control: control.clone(),
        last_yield: now_ms(),
        last_step_post: 0.0,
        boundary: setup.dataset.is_2d(),
        device: selected.device.clone(),
        grid_input: None,
        last_loss: None,
        run_config: super::run_config(selected.kind, selected.adapter.as_deref().unwrap_or("CPU")),
        gpu: selected.kind == BackendKind::Wgpu,
    };
    let end = run_study(
        study,
        &mut page_store(),
        &mut hooks,
        &ctx.spec,
        &ctx.data,
        Engine::Burn(&selected.device),
        &control.cancel_token(),
    )
    .await?;
    // A language-model study whose trials are all done trains its baselines with the best
    // trial's budget; the results reach the page as the study's `baselines` attribute.
    if end == StudyEnd::AllDone
        && control.baselines()
        && ctx.data.text.is_some()
        && study.best_trial().is_some()
    {
        let baselines = run_baselines(
            study,
            &mut page_store(),
            &mut hooks,
            &ctx.spec,
            &ctx.data,
            &selected.device,
            &control.cancel_token(),
            |name, index, count| {
                post(&FromWorker::Baseline {
                    name: name.to_string(),
                    index,
                    count,
                })
            },
        )
        .await?;
        return Ok(format!(
            "{}; {} baselines trained",
            end.describe(),
            baselines.len()
        ));
    }
    Ok(end.describe().to_string())
}

struct Hooks {
    control: Control,
    last_yield: f64,
    last_step_post: f64,
    boundary: bool,
    device: Device,
    grid_input: Option<Tensor<2>>,
    last_loss: Option<f64>,
    /// Where trials train (W&B's run config).
    run_config: Vec<(&'static str, String)>,
    /// Trials train on WebGPU.
    gpu: bool,
}

impl Hooks {
    fn grid(&mut self) -> Tensor<2> {
        if let Some(g) = &self.grid_input {
            return g.clone();
        }
        let t = Tensor::from_data(
            TensorData::new(grid_points(), [GRID * GRID, 2]),
            &self.device,
        );
        self.grid_input = Some(t.clone());
        t
    }
}

impl SweepHooks for Hooks {
    fn run_config(&self) -> Vec<(&'static str, String)> {
        self.run_config.clone()
    }

    fn trial_ended(&mut self, _study: &Study, end: &TrialEnd) -> Result<(), RunnerError> {
        post_trial_end(end);
        // Step mode: the loop's wait before the next ask holds it.
        self.control.trial_done();
        Ok(())
    }

    fn stop_requested(&self) -> bool {
        self.control.stop_requested()
    }
}

impl TrainHooks for Hooks {
    fn wants_histograms(&self) -> bool {
        self.control.histograms()
    }

    fn wants_lm_adapter(&self) -> bool {
        true
    }

    /// Sends a LoRA trial's adapters to the page (its download of the best trial's).
    fn lm_adapter(&mut self, trial: u64, safetensors: &[u8], config_json: &str) {
        post(&FromWorker::Adapter {
            trial,
            safetensors: safetensors.to_vec(),
            config: config_json.to_string(),
        });
    }

    /// The GPU memory burn's wgpu allocator holds (W&B's `system/` charts), where it says.
    fn system_metrics(&mut self) -> Vec<(&'static str, f64)> {
        match self.device.memory_pool_usage() {
            Some(u) if self.gpu => {
                vec![("gpu_memory_mb", u.bytes_reserved as f64 / 1e6)]
            }
            _ => Vec::new(),
        }
    }

    fn progress(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::TrialStart { .. } => self.last_loss = None,
            ProgressEvent::Step {
                epoch_step,
                steps_per_epoch,
                loss,
                ..
            } => {
                let t = now_ms();
                // Post at most ~10 times a second, and whenever a new loss was read back.
                let new_loss = *loss != self.last_loss;
                if !(new_loss || t - self.last_step_post > 100.0 || epoch_step == steps_per_epoch) {
                    return;
                }
                self.last_step_post = t;
                self.last_loss = *loss;
            }
            _ => {}
        }
        post_progress(event);
    }

    fn yield_now(&mut self) -> impl Future<Output = ()> {
        self.control.yield_if_due(&mut self.last_yield)
    }

    fn epoch_end(&mut self, trial: u64, _epoch: usize, model: &Model) -> impl Future<Output = ()> {
        let input = self.boundary.then(|| self.grid());
        let logits = input.map(|x| model.forward(x));
        async move {
            let Some(logits) = logits else { return };
            let probs = burn::tensor::activation::softmax(logits, 1);
            let [rows, cols] = probs.dims();
            if cols < 2 || rows != GRID * GRID {
                return;
            }
            let p1: Tensor<1> = probs.narrow(1, 1, 1).reshape([rows]);
            let Ok(data) = p1.into_data_async().await else {
                return;
            };
            if let Ok(grid) = data.try_to_vec::<f32>() {
                post(&FromWorker::Boundary {
                    trial,
                    n: GRID,
                    grid,
                });
            }
        }
    }
}
