//! The training worker (features `worker-cpu` / `worker-gpu`): runs a study in a dedicated
//! Web Worker so the page never blocks. It opens the core's [`Study`] from the page's
//! journal and drives the core's study loop ([`sweeplab_core::train::run_study`]) on burn,
//! one trial at a time ([`burn`]), or on the fused WGSL kernels, many at once (`fused`),
//! yielding to its event loop every few milliseconds so pause and stop take effect at once.
//!
//! `static/worker.js` loads this module and hands every message to [`worker_handle`]. This
//! file holds what both paths share: the entry points, the run's [`Control`], posting to
//! the page, the page's store, loading the data and opening the study.

mod burn;
#[cfg(feature = "worker-gpu")]
mod fused;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use sweeplab_core::storage::journal::JournalStorage;
use sweeplab_core::store::Forward;
use sweeplab_core::train::{
    CancelToken, DataSet, DataSpec, Mnist, ProgressEvent, RunnerError, SweepSpec, TrainError,
    TrialEnd, open_study, resume,
};
use sweeplab_core::vocab::BackendKind;
use sweeplab_core::{Json, Study};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::DedicatedWorkerGlobalScope;

use crate::protocol::{FromWorker, SETUP_ATTR, ToWorker};
use crate::setup::{Dataset, ModelKind, Setup};

/// Side of the decision-boundary grid.
pub(crate) const GRID: usize = 40;
/// The boundary grid covers the canvas: data ±1 sits at 95% of its half-width.
const GRID_EXTENT: f32 = 1.0 / 0.95;

/// The page's hold on a run: pause, resume and stop. The entry point ([`worker_handle`])
/// keeps the current run's handle; the run and its hooks get a clone and ask it.
#[derive(Clone, Default)]
pub(crate) struct Control(Rc<RefCell<ControlState>>);

#[derive(Default)]
struct ControlState {
    paused: bool,
    stopped: bool,
    cancel: CancelToken,
    /// Step mode: pause after each trial.
    step: bool,
    /// Milliseconds to wait after every training step.
    delay_ms: u32,
    /// Trials record weight and gradient histograms.
    histograms: bool,
    /// A language-model study trains its baselines once its trials are done.
    baselines: bool,
}

impl Control {
    fn pause(&self, paused: bool) {
        self.0.borrow_mut().paused = paused;
    }

    /// Continues, in step mode (`true`: one more trial, then a pause) or continuously.
    fn go_on(&self, step: bool) {
        let mut c = self.0.borrow_mut();
        c.step = step;
        c.paused = false;
    }

    fn set_delay(&self, ms: u32) {
        self.0.borrow_mut().delay_ms = ms;
    }

    fn set_histograms(&self, on: bool) {
        self.0.borrow_mut().histograms = on;
    }

    /// Whether trials record weight and gradient histograms.
    pub(crate) fn histograms(&self) -> bool {
        self.0.borrow().histograms
    }

    fn set_baselines(&self, on: bool) {
        self.0.borrow_mut().baselines = on;
    }

    /// Whether a language-model study trains its baselines once its trials are done.
    pub(crate) fn baselines(&self) -> bool {
        self.0.borrow().baselines
    }

    /// A trial ended: in step mode the run pauses before the next one and tells the page.
    pub(crate) fn trial_done(&self) {
        let pause = {
            let mut c = self.0.borrow_mut();
            if c.step && !c.stopped {
                c.paused = true;
            }
            c.paused
        };
        if pause {
            post(&FromWorker::Paused);
        }
    }

    /// Whether the run is in step mode (then the fused engine is not used).
    #[cfg(feature = "worker-gpu")]
    pub(crate) fn step_mode(&self) -> bool {
        self.0.borrow().step
    }

    /// Stops the run: the running trials end as interrupted and no new trial starts.
    fn stop(&self) {
        let mut c = self.0.borrow_mut();
        c.stopped = true;
        c.paused = false;
        c.cancel.cancel();
    }

    /// Whether the page pressed Stop.
    pub(crate) fn stop_requested(&self) -> bool {
        self.0.borrow().stopped
    }

    /// The token the trainer polls; cancelled by [`Control::stop`].
    pub(crate) fn cancel_token(&self) -> CancelToken {
        self.0.borrow().cancel.clone()
    }

    /// Yields to the worker's event loop when more than 8 ms passed since `last_yield` (so
    /// pause and stop messages are seen), and waits here while paused.
    pub(crate) fn yield_if_due<'a>(
        &'a self,
        last_yield: &'a mut f64,
    ) -> impl Future<Output = ()> + 'a {
        let due = now_ms() - *last_yield > 8.0;
        let (paused, delay) = {
            let c = self.0.borrow();
            (c.paused, c.delay_ms)
        };
        async move {
            if delay > 0 {
                // Slowed down for watching: every step waits.
                sleep(delay.min(i32::MAX as u32) as i32).await;
            }
            if due || paused {
                sleep(0).await;
                while {
                    let c = self.0.borrow();
                    c.paused && !c.stopped
                } {
                    sleep(100).await;
                }
                *last_yield = now_ms();
            }
        }
    }
}

thread_local! {
    /// The run in progress, if any: the one place the page's messages find it.
    static CURRENT: RefCell<Option<Control>> = const { RefCell::new(None) };
}

fn scope() -> Option<DedicatedWorkerGlobalScope> {
    js_sys::global()
        .dyn_into::<DedicatedWorkerGlobalScope>()
        .ok()
}

/// Posts `msg` to the page. A message that cannot be serialised is reported to the page as a
/// [`FromWorker::Error`] that says so (and on the console should even that fail).
pub(crate) fn post(msg: &FromWorker) {
    let Some(s) = scope() else {
        return;
    };
    let text = msg.to_text().or_else(|e| {
        FromWorker::Error {
            message: format!("the worker could not serialise a message for the page: {e}"),
        }
        .to_text()
    });
    match text {
        Ok(text) => {
            let _ = s.post_message(&JsValue::from_str(&text));
        }
        Err(e) => web_sys::console::error_1(&JsValue::from_str(&format!(
            "sweeplab worker: a message for the page could not be serialised: {e}"
        ))),
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
    let current = CURRENT.with(|c| c.borrow().clone());
    match msg {
        ToWorker::Pause => current.iter().for_each(|c| c.pause(true)),
        ToWorker::Resume => current.iter().for_each(|c| c.go_on(false)),
        ToWorker::Next => current.iter().for_each(|c| c.go_on(true)),
        ToWorker::Speed { step_delay_ms } => {
            current.iter().for_each(|c| c.set_delay(step_delay_ms))
        }
        ToWorker::Stop => current.iter().for_each(Control::stop),
        ToWorker::Estimate { setup, backend } => wasm_bindgen_futures::spawn_local(async move {
            post(&match estimate(&setup, backend).await {
                Ok(m) => m,
                Err(RunError::Device(message) | RunError::Other(message)) => {
                    FromWorker::Error { message }
                }
            })
        }),
        ToWorker::Start {
            study,
            setup,
            journal,
            backend,
            seed,
            step,
            step_delay_ms,
            histograms,
            baselines,
        } => {
            if current.is_some() {
                return post(&FromWorker::Error {
                    message: "a study is already running in this worker".into(),
                });
            }
            let control = Control::default();
            control.go_on(step);
            control.set_delay(step_delay_ms);
            control.set_histograms(histograms);
            control.set_baselines(baselines);
            CURRENT.with(|c| *c.borrow_mut() = Some(control.clone()));
            wasm_bindgen_futures::spawn_local(async move {
                let msg = match run(&study, &setup, &journal, backend, seed, &control).await {
                    Ok(reason) => FromWorker::Finished {
                        reason,
                        stopped: control.stop_requested(),
                    },
                    Err(RunError::Device(message)) => FromWorker::DeviceLost { message },
                    Err(RunError::Other(message)) => FromWorker::Error { message },
                };
                CURRENT.with(|c| *c.borrow_mut() = None);
                post(&msg);
            });
        }
    }
}

/// Where a browser's trials train, for the run config each trial records: the backend, the
/// adapter's name and the platform.
pub(crate) fn run_config(kind: BackendKind, adapter: &str) -> Vec<(&'static str, String)> {
    vec![
        ("backend", kind.name().to_string()),
        ("adapter", adapter.to_string()),
        ("platform", "browser".to_string()),
    ]
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

impl From<RunnerError> for RunError {
    fn from(e: RunnerError) -> Self {
        match e {
            RunnerError::Train(e) => RunError::from(e),
            other => RunError::Other(other.to_string()),
        }
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
        Dataset::DevilsDictionary => {
            use sweeplab_core::train::TextCorpus;
            use sweeplab_core::train::lm::{BASE_FILE, BASE_SHA256};
            let corpus = TextCorpus::DevilsDictionary;
            let load = |what: &str, e: String| RunError::Other(format!("loading {what}: {e}"));
            let text = fetch_bytes(&format!("data/lm/{}", corpus.file()))
                .await
                .map_err(|e| load("the Devil's Dictionary", e))?;
            let text = String::from_utf8(text)
                .map_err(|e| load("the Devil's Dictionary", e.to_string()))?;
            let base = fetch_bytes(&format!("data/lm/{BASE_FILE}"))
                .await
                .map_err(|e| load("the language model's base", e))?;
            DataSpec::Text(corpus)
                .load_text(&text, base, BASE_SHA256)
                .map_err(RunError::from)
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

/// Posts a trainer event to the page. A trial's end is posted by [`post_trial_end`] once its
/// journal lines are stored (it carries the failure's reason), so the trainer's own
/// `TrialEnd` event is not sent twice.
pub(crate) fn post_progress(event: &ProgressEvent) {
    if !matches!(event, ProgressEvent::TrialEnd { .. }) {
        post(&FromWorker::Progress {
            event: event.clone(),
        });
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

/// Posts a finished trial to the page.
pub(crate) fn post_trial_end(end: &TrialEnd) {
    post(&FromWorker::TrialEnd {
        trial: end.number,
        state: end.outcome.state,
        value: end.outcome.value,
        reason: end.outcome.fail_reason.clone(),
    });
}

/// The page's store: every write hands the study's new journal lines to the page, which
/// keeps them in IndexedDB.
pub(crate) fn page_store() -> Forward<fn(&mut Study)> {
    Forward(send_ops)
}

/// What every run needs once the study is open: the data and what each trial trains.
pub(crate) struct RunContext {
    /// The data set.
    pub data: DataSet,
    /// The search space, model, settings, seed, objective, trial cap and time limit.
    pub spec: SweepSpec,
}

/// What each trial of `setup` trains.
fn spec_of(setup: &Setup, space: sweeplab_core::SearchSpace, seed: u64) -> SweepSpec {
    SweepSpec {
        space,
        model: Json::Str(setup.model.id().into()),
        settings: {
            let mut settings = vec![("epochs".to_string(), Json::Int(i64::from(setup.epochs)))];
            // The language model's step budget and batch, sized for a browser tab.
            if setup.model == ModelKind::Lora {
                settings.push(("steps".into(), Json::Int(crate::setup::LORA_STEPS)));
                settings.push(("batch_size".into(), Json::Int(crate::setup::LORA_BATCH)));
            }
            settings
        },
        seed,
        objective: setup.objective,
        n_trials: setup.n_trials as usize,
        time_limit: (setup.time_limit_s > 0)
            .then(|| std::time::Duration::from_secs(u64::from(setup.time_limit_s))),
    }
}

/// Measures a typical trial of `setup` on `backend` with burn (the core's
/// [`estimate_cost`](sweeplab_core::train::estimate_cost)).
async fn estimate(setup: &Setup, backend: BackendKind) -> Result<FromWorker, RunError> {
    use sweeplab_core::train::{BackendChoice, estimate_cost, select_backend};
    let seed = setup.seed.unwrap_or(0);
    let data = load_data(setup, seed).await?;
    let spec = spec_of(setup, setup.search_space().map_err(RunError::Other)?, seed);
    let choice = match backend {
        BackendKind::Wgpu => BackendChoice::Gpu,
        BackendKind::Flex => BackendChoice::Cpu,
    };
    let selected = select_backend(choice).await?;
    let e = estimate_cost(&spec, &data, &selected.device).await?;
    Ok(FromWorker::Estimated {
        kind: selected.kind,
        samples_per_sec: e.samples_per_sec,
        secs_per_epoch: e.secs_per_epoch,
    })
}

async fn run(
    name: &str,
    setup: &Setup,
    journal: &str,
    backend: BackendKind,
    fallback_seed: u64,
    control: &Control,
) -> Result<String, RunError> {
    let seed = setup.seed.unwrap_or(fallback_seed);
    let data = load_data(setup, seed).await?;
    let points = points_of(&data);
    if !points.is_empty() {
        post(&FromWorker::Points { points });
    }
    let space = setup.search_space().map_err(RunError::Other)?;
    let sampler = setup.sampler(fallback_seed).map_err(RunError::Other)?;
    let storage = JournalStorage::from_text(journal)
        .map_err(|e| RunError::Other(format!("the saved study is corrupt: {e}")))?;
    let new = storage.study_by_name(name).is_none();
    let mut study = open_study(storage, name, setup.objective.direction(), sampler)?;
    if new {
        study.set_study_user_attr(SETUP_ATTR, Json::Str(setup.to_json()))?;
    }
    study.set_worker_id("sweeplab-browser");
    study.set_pruner(setup.pruner().map_err(RunError::Other)?);
    // Trials a reload or a crash left RUNNING: FAIL, interrupted, not counted.
    resume(
        &mut study,
        &mut page_store(),
        "the page was closed or reloaded while it ran",
    )
    .map_err(RunError::from)?;

    let ctx = RunContext {
        data,
        spec: spec_of(setup, space, seed),
    };

    // On WebGPU, a study whose every trial is an MLP the fused kernels take (small ones on a
    // 2-D set, or MNIST MLPs on the wide kernels) trains on them, many trials at once.
    // Step mode trains one trial at a time, so each click is one trial.
    #[cfg(feature = "worker-gpu")]
    if backend == BackendKind::Wgpu && !control.step_mode() {
        match ctx.spec.fused_eligibility(&ctx.data) {
            Ok(()) => return fused::run(&mut study, setup, &ctx, control).await,
            Err(why) => post(&FromWorker::Engine {
                slots: 1,
                reason: format!("burn, one trial at a time (not the fused kernels: {why})"),
            }),
        }
    }

    burn::run(&mut study, setup, &ctx, backend, control).await
}
