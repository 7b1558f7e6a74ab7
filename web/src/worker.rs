//! The training worker (features `worker-cpu` / `worker-gpu`): runs a study in a dedicated
//! Web Worker so the page never blocks. It holds the core's [`Study`] and trains each trial
//! with the core's trainer ([`train_trial`]), yielding to its event loop every few
//! milliseconds so pause and stop take effect at once.
//!
//! `static/worker.js` loads this module and hands every message to [`worker_handle`].

use std::cell::RefCell;
use std::future::Future;

use burn::tensor::{Device, Tensor, TensorData};
use sweeplab_core::storage::journal::JournalStorage;
use sweeplab_core::train::{
    BackendChoice, CancelToken, DataSet, DataSpec, FAIL_REASON_ATTR, INTERRUPTED_ATTR, Mnist,
    Model, ProgressEvent, TrainError, TrainHooks, TrialPlan, select_backend, train_trial,
};
use sweeplab_core::{Json, Study, StudyDirection, TellResult, TrialState};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::DedicatedWorkerGlobalScope;

use crate::protocol::{FromWorker, SETUP_ATTR, ToWorker};
use crate::setup::{Dataset, ModelKind, Objective, Setup};

/// Side of the decision-boundary grid.
pub(crate) const GRID: usize = 40;
/// The boundary grid covers the canvas: data ±1 sits at 95% of its half-width.
const GRID_EXTENT: f32 = 1.0 / 0.95;

#[derive(Default)]
pub(crate) struct Control {
    pub(crate) paused: bool,
    pub(crate) stopped: bool,
    pub(crate) running: bool,
    pub(crate) cancel: CancelToken,
}

thread_local! {
    pub(crate) static CONTROL: RefCell<Control> = RefCell::default();
}

fn scope() -> Option<DedicatedWorkerGlobalScope> {
    js_sys::global()
        .dyn_into::<DedicatedWorkerGlobalScope>()
        .ok()
}

pub(crate) fn post(msg: &FromWorker) {
    if let Some(s) = scope() {
        let _ = s.post_message(&JsValue::from_str(&msg.to_text()));
    }
}

pub(crate) fn now_ms() -> f64 {
    scope()
        .and_then(|s| s.performance())
        .map_or(0.0, |p| p.now())
}

/// Resolves after `ms` milliseconds (a macrotask, so queued messages run first).
pub(crate) fn sleep(ms: i32) -> impl Future<Output = ()> {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(s) = scope() {
            let _ = s.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    async move {
        let _ = JsFuture::from(promise).await;
    }
}

/// Starts the worker: installs a panic hook that reports to the page, then says it is
/// ready.
#[wasm_bindgen(start)]
pub fn worker_start() {
    std::panic::set_hook(Box::new(|info| {
        post(&FromWorker::Error {
            message: format!("the training worker crashed: {info}"),
        });
    }));
    post(&FromWorker::Ready);
}

/// Handles one message from the page (JSON text of [`ToWorker`]).
#[wasm_bindgen]
pub fn worker_handle(text: String) {
    let msg = match ToWorker::from_text(&text) {
        Ok(m) => m,
        Err(message) => return post(&FromWorker::Error { message }),
    };
    match msg {
        ToWorker::Pause => CONTROL.with(|c| c.borrow_mut().paused = true),
        ToWorker::Resume => CONTROL.with(|c| c.borrow_mut().paused = false),
        ToWorker::Stop => CONTROL.with(|c| {
            let mut c = c.borrow_mut();
            c.stopped = true;
            c.paused = false;
            c.cancel.cancel();
        }),
        ToWorker::Start {
            study,
            setup,
            journal,
            backend,
            seed,
        } => {
            let busy = CONTROL.with(|c| {
                let mut c = c.borrow_mut();
                if c.running {
                    return true;
                }
                *c = Control {
                    running: true,
                    ..Control::default()
                };
                false
            });
            if busy {
                return post(&FromWorker::Error {
                    message: "a study is already running in this worker".into(),
                });
            }
            wasm_bindgen_futures::spawn_local(async move {
                let msg = match run(&study, &setup, &journal, &backend, seed).await {
                    Ok(reason) => FromWorker::Finished { reason },
                    Err(RunError::Device(message)) => FromWorker::DeviceLost { message },
                    Err(RunError::Other(message)) => FromWorker::Error { message },
                };
                CONTROL.with(|c| c.borrow_mut().running = false);
                post(&msg);
            });
        }
    }
}

pub(crate) enum RunError {
    Device(String),
    Other(String),
}

impl From<TrainError> for RunError {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Device(m) => RunError::Device(m),
            other => RunError::Other(other.to_string()),
        }
    }
}

impl From<sweeplab_core::StudyError> for RunError {
    fn from(e: sweeplab_core::StudyError) -> Self {
        RunError::Other(e.to_string())
    }
}

pub(crate) fn send_ops(study: &mut Study) {
    let ops = study.take_pending();
    if ops.is_empty() {
        return;
    }
    let worker = study.worker_id().to_string();
    let lines: String = ops.iter().map(|op| op.to_line(&worker)).collect();
    post(&FromWorker::Ops { lines });
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let s = scope().ok_or("not in a worker")?;
    let resp = JsFuture::from(s.fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| format!("{url}: no response"))?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| format!("{url}: {e:?}"))?)
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

async fn load_data(setup: &Setup, seed: u64) -> Result<DataSet, RunError> {
    use sweeplab_core::train::Toy2d;
    let toy = |k| DataSpec::toy(k, seed).load(None).map_err(RunError::from);
    match setup.dataset {
        Dataset::Spiral => toy(Toy2d::Spiral),
        Dataset::Xor => toy(Toy2d::Xor),
        Dataset::Circle => toy(Toy2d::Circle),
        Dataset::Gauss => toy(Toy2d::Gauss),
        Dataset::Mnist => {
            let dir = "data/mnist10k/";
            let images_name = sweeplab_core::train::mnist::IMAGES_FILE;
            let labels_name = sweeplab_core::train::mnist::LABELS_FILE;
            let images = fetch_bytes(&format!("{dir}{images_name}"))
                .await
                .map_err(|e| RunError::Other(format!("loading MNIST: {e}")))?;
            let labels = fetch_bytes(&format!("{dir}{labels_name}"))
                .await
                .map_err(|e| RunError::Other(format!("loading MNIST: {e}")))?;
            let m = Mnist::parse(images_name, &images, labels_name, &labels)?;
            DataSpec::Mnist.load(Some(&m)).map_err(RunError::from)
        }
    }
}

fn points_of(data: &DataSet) -> Vec<(f32, f32, u8)> {
    let s = &data.valid;
    let t = &data.train;
    let mut out = Vec::new();
    for split in [t, s] {
        if split.dim != 2 {
            return Vec::new();
        }
        let stride = (split.len() / 200).max(1);
        for i in (0..split.len()).step_by(stride) {
            let r = split.row(i);
            out.push((r[0], r[1], u8::try_from(split.labels[i]).unwrap_or(0)));
        }
    }
    out
}

pub(crate) fn counted(study: &Study) -> usize {
    study
        .trials()
        .iter()
        .filter(|t| t.state.is_finished() && !t.user_attrs.contains_key(INTERRUPTED_ATTR))
        .count()
}

/// The page's message for a trainer event (none for `TrialEnd`: the run posts that one
/// with the trial's fail reason).
pub(crate) fn message_of(event: &ProgressEvent) -> Option<FromWorker> {
    Some(match *event {
        ProgressEvent::TrialStart {
            trial,
            epochs,
            steps_per_epoch,
        } => FromWorker::TrialStart {
            trial,
            epochs,
            steps_per_epoch,
        },
        ProgressEvent::Step {
            trial,
            epoch,
            epoch_step,
            steps_per_epoch,
            step,
            loss,
            samples_per_sec,
        } => FromWorker::Step {
            trial,
            epoch,
            epoch_step,
            steps_per_epoch,
            step,
            loss,
            samples_per_sec,
        },
        ProgressEvent::Epoch {
            trial,
            epoch,
            epochs,
            train_loss,
            val_loss,
            val_accuracy,
            value,
            samples_per_sec,
        } => FromWorker::Epoch {
            trial,
            epoch,
            epochs,
            train_loss,
            val_loss,
            val_accuracy,
            value,
            samples_per_sec,
        },
        ProgressEvent::TrialEnd { .. } => return None,
    })
}

/// Yields to the worker's event loop when more than 8 ms passed since `last_yield` (so
/// pause and stop messages are seen), and waits here while paused.
pub(crate) fn yield_if_due(last_yield: &mut f64) -> impl Future<Output = ()> + '_ {
    let due = now_ms() - *last_yield > 8.0;
    let paused = CONTROL.with(|c| c.borrow().paused);
    async move {
        if due || paused {
            sleep(0).await;
            while CONTROL.with(|c| {
                let c = c.borrow();
                c.paused && !c.stopped
            }) {
                sleep(100).await;
            }
            *last_yield = now_ms();
        }
    }
}

/// The decision-boundary grid's points, `(x, y)` row-major from the top left.
pub(crate) fn grid_points() -> Vec<f32> {
    let mut v = Vec::with_capacity(GRID * GRID * 2);
    for j in 0..GRID {
        for i in 0..GRID {
            let x = ((i as f32 + 0.5) / GRID as f32 * 2.0 - 1.0) * GRID_EXTENT;
            let y = (1.0 - (j as f32 + 0.5) / GRID as f32 * 2.0) * GRID_EXTENT;
            v.push(x);
            v.push(y);
        }
    }
    v
}

/// Marks a trial an error left RUNNING as FAIL (interrupted), so the study stays
/// consistent and the trial does not count.
pub(crate) fn fail_interrupted(study: &mut Study, number: u64, why: &str) {
    if study
        .trial(number)
        .is_ok_and(|t| t.state == TrialState::Running)
    {
        let _ = study.set_user_attr(number, INTERRUPTED_ATTR, Json::Bool(true));
        let _ = study.set_user_attr(
            number,
            FAIL_REASON_ATTR,
            Json::Str(format!("interrupted: {why}")),
        );
        let _ = study.tell(number, TellResult::Fail);
    }
}

/// Why a run ended, when nothing went wrong.
pub(crate) fn end_reason(study: &Study, setup: &Setup, time_up: bool) -> Option<String> {
    if CONTROL.with(|c| c.borrow().stopped) {
        Some("stopped".into())
    } else if counted(study) >= setup.n_trials as usize {
        Some("all trials done".into())
    } else if study.stop_requested() {
        Some("the grid is exhausted".into())
    } else if time_up {
        Some("time limit reached".into())
    } else {
        None
    }
}

/// What every run needs once the study is open: the data, the search space and the
/// trainer's fixed settings.
pub(crate) struct RunContext {
    /// The data set.
    pub data: DataSet,
    /// The search space.
    pub space: sweeplab_core::SearchSpace,
    /// The model, as the trainer's settings name it (`mlp`, `cnn`).
    pub model: Json,
    /// Fixed trainer settings.
    pub settings: Vec<(String, Json)>,
    /// Seed of the data set and the trials (trial n trains with seed + n). Read by the fused
    /// engine, which only the WebGPU worker has.
    #[cfg_attr(not(feature = "worker-gpu"), allow(dead_code))]
    pub seed: u64,
    /// The metric reported and told.
    pub objective: sweeplab_core::train::Objective,
    /// When the run started (`performance.now()`).
    pub started_ms: f64,
}

async fn run(
    name: &str,
    setup: &Setup,
    journal: &str,
    backend: &str,
    fallback_seed: u64,
) -> Result<String, RunError> {
    let seed = setup.seed.unwrap_or(fallback_seed);
    let data = load_data(setup, seed).await?;
    let points = points_of(&data);
    if !points.is_empty() {
        post(&FromWorker::Points { points });
    }
    let space = setup.search_space().map_err(RunError::Other)?;
    let sampler = setup.sampler(fallback_seed).map_err(RunError::Other)?;
    let mut study = if journal.trim().is_empty() {
        let mut s = Study::create(name, setup.objective.direction(), sampler)?;
        s.set_study_user_attr(SETUP_ATTR, Json::Str(setup.to_json()))?;
        s
    } else {
        let storage = JournalStorage::from_text(journal)
            .map_err(|e| RunError::Other(format!("the saved study is corrupt: {e}")))?;
        let s = Study::load(storage, name, sampler)?;
        if s.direction() != setup.objective.direction() && s.direction() != StudyDirection::NotSet {
            return Err(RunError::Other(format!(
                "study `{name}` optimises in direction {}, but the setup says {}",
                s.direction().name(),
                setup.objective.direction().name()
            )));
        }
        s
    };
    study.set_worker_id("sweeplab-browser");
    study.set_pruner(setup.pruner());
    // Trials a reload or a crash left RUNNING: FAIL, interrupted, not counted.
    let stale: Vec<u64> = study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .map(|t| t.number)
        .collect();
    for n in stale {
        study.set_user_attr(n, INTERRUPTED_ATTR, Json::Bool(true))?;
        study.set_user_attr(
            n,
            FAIL_REASON_ATTR,
            Json::Str("interrupted: the page was closed or reloaded while it ran".into()),
        )?;
        study.tell(n, TellResult::Fail)?;
    }
    send_ops(&mut study);

    let ctx = RunContext {
        data,
        space,
        model: Json::Str(
            match setup.model {
                ModelKind::Mlp => "mlp",
                ModelKind::Cnn => "cnn",
            }
            .into(),
        ),
        settings: vec![("epochs".to_string(), Json::Int(i64::from(setup.epochs)))],
        seed,
        objective: match setup.objective {
            Objective::ValLoss => sweeplab_core::train::Objective::ValLoss,
            Objective::ValAccuracy => sweeplab_core::train::Objective::ValAccuracy,
        },
        started_ms: now_ms(),
    };

    // On WebGPU, a study whose every trial is an MLP the fused kernels take (small ones on a
    // 2-D set, or MNIST MLPs on the wide kernels) trains on them, many trials at once.
    #[cfg(feature = "worker-gpu")]
    if backend == "gpu" {
        match sweeplab_core::train::fused::sweep_eligibility(
            &ctx.data,
            &ctx.model,
            &ctx.settings,
            &ctx.space,
            ctx.seed,
        ) {
            Ok(()) => return crate::worker_fused::run(&mut study, setup, &ctx).await,
            Err(why) => post(&FromWorker::Engine {
                slots: 1,
                reason: format!("burn, one trial at a time (not the fused kernels: {why})"),
            }),
        }
    }

    let choice = if backend == "gpu" {
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
        kind: selected.kind.name().into(),
        reason: selected.reason.clone(),
        adapter: selected.adapter.clone(),
    });
    let cancel = CONTROL.with(|c| c.borrow().cancel.clone());
    let mut hooks = Hooks {
        last_yield: now_ms(),
        last_step_post: 0.0,
        boundary: setup.dataset.is_2d(),
        device: selected.device.clone(),
        grid_input: None,
        last_loss: None,
    };
    loop {
        let time_up = setup.time_limit_s > 0
            && now_ms() - ctx.started_ms > f64::from(setup.time_limit_s) * 1000.0;
        if let Some(reason) = end_reason(&study, setup, time_up) {
            return Ok(reason);
        }
        // Pausing between trials waits here.
        hooks.yield_now().await;
        if CONTROL.with(|c| c.borrow().stopped) {
            return Ok("stopped".into());
        }
        let (number, params) = study.ask_with(&ctx.space)?;
        let plan = match TrialPlan::resolve(
            &ctx.model,
            &ctx.settings,
            &params,
            seed.wrapping_add(number),
        ) {
            Ok(p) => p,
            Err(e) => {
                study.set_user_attr(number, FAIL_REASON_ATTR, Json::Str(e.to_string()))?;
                study.tell(number, TellResult::Fail)?;
                send_ops(&mut study);
                return Err(RunError::Other(format!("trial {number}: {e}")));
            }
        };
        send_ops(&mut study);
        let result = train_trial(
            &mut study,
            number,
            &plan,
            &ctx.data,
            &selected.device,
            ctx.objective,
            &mut hooks,
            &cancel,
        )
        .await;
        match result {
            Ok(outcome) => {
                send_ops(&mut study);
                post(&FromWorker::TrialEnd {
                    trial: number,
                    state: outcome.state.name().into(),
                    value: outcome.value,
                    reason: outcome.fail_reason.clone(),
                });
            }
            Err(e) => {
                // Keep the study consistent: the trial that hit the error fails.
                fail_interrupted(&mut study, number, &e.to_string());
                send_ops(&mut study);
                return Err(RunError::from(e));
            }
        }
    }
}

struct Hooks {
    last_yield: f64,
    last_step_post: f64,
    boundary: bool,
    device: Device,
    grid_input: Option<Tensor<2>>,
    last_loss: Option<f64>,
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

impl TrainHooks for Hooks {
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
        if let Some(m) = message_of(event) {
            post(&m);
        }
    }

    fn yield_now(&mut self) -> impl Future<Output = ()> {
        yield_if_due(&mut self.last_yield)
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
