//! The playground page: setup panel, run controls, live curves, study plots, trials table,
//! downloads and saved studies.

use std::collections::BTreeMap;
use std::rc::Rc;

use sweeplab_core::export::{ExportFormat, ExportOptions, export_study, zip_files};
use sweeplab_core::importance::param_importances;
use sweeplab_core::storage::journal::{JournalStorage, parse_journal};
use sweeplab_core::{FrozenTrial, Json, StudyView, TrialState};
use yew::prelude::*;

use crate::browser::{self, GpuProbe, WorkerHandle};
use crate::charts::{
    BoundaryView, ContourChart, HistoryChart, ImportanceChart, IntermediateChart, LineChart,
    ParallelChart, Series, SliceCharts,
};
use crate::data::{Column, StudyData, fmt_duration, sort_trials};
use crate::protocol::{FromWorker, SETUP_ATTR, ToWorker};
use crate::scale::{precise, short};
use crate::setup::{
    Backend, Dataset, ModelKind, Objective, PRESETS, ParamKind, ParamSpec, PrunerKind, SamplerKind,
    Setup,
};
use crate::store::{self, Listed, StudyMeta};
use crate::yaml::setup_from_yaml;

/// Rows of the trials table per page.
const PAGE: usize = 25;

/// A change to the setup.
pub type Edit = Rc<dyn Fn(&mut Setup)>;

/// Where the run is.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// Nothing running.
    Idle,
    /// Probing the GPU / loading the worker.
    Starting,
    /// Training.
    Running,
    /// Held.
    Paused,
    /// Stopping after the current step.
    Stopping,
}

/// A message shown above the charts.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// `info`, `warn` or `error`.
    pub level: &'static str,
    /// The text.
    pub text: String,
    /// Test id.
    pub id: &'static str,
}

/// The running trial's curves, fed by the worker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// Trial number.
    pub trial: Option<u64>,
    /// `(step, loss)`.
    pub train: Vec<(f64, f64)>,
    /// `(epoch, loss)`.
    pub val_loss: Vec<(f64, f64)>,
    /// `(epoch, accuracy)`.
    pub val_acc: Vec<(f64, f64)>,
    /// `(epoch, objective)`.
    pub values: BTreeMap<i64, f64>,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
}

/// Progress of the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Epoch of the running trial (from 1).
    pub epoch: usize,
    /// Epochs planned.
    pub epochs: usize,
    /// Step within the epoch.
    pub epoch_step: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Throughput.
    pub samples_per_sec: f64,
    /// When the run started (ms, `performance.now()`).
    pub run_started: f64,
    /// When the running trial started.
    pub trial_started: f64,
    /// Durations of the trials this run finished (seconds).
    pub durations: Vec<f64>,
    /// Trials that train at once (the fused engine); 0 or 1 is one at a time.
    pub slots: usize,
    /// With several at once: each running trial's epochs done and last samples/s.
    pub running: BTreeMap<u64, (usize, f64)>,
    /// Trials this run ended.
    pub ended: usize,
}

impl Progress {
    /// Whether several trials train at once.
    pub fn parallel(&self) -> bool {
        self.slots > 1
    }
}

/// Page messages.
pub enum Msg {
    /// Change the setup.
    Edit(Edit),
    /// Load a preset.
    Preset(&'static str),
    /// Show or hide the YAML box.
    ToggleYaml,
    /// YAML text typed or pasted.
    YamlText(String),
    /// Apply the YAML text.
    YamlApply,
    /// A YAML file was chosen.
    YamlFile(web_sys::File),
    /// Start (or resume) the study.
    Start,
    /// The GPU probe answered.
    Probed(GpuProbe),
    /// Pause training.
    Pause,
    /// Resume training.
    Resume,
    /// Stop training.
    Stop,
    /// A worker message.
    Worker(FromWorker),
    /// The worker crashed.
    WorkerCrashed(String),
    /// A second passed.
    Tick,
    /// Select a trial for the curves.
    Select(u64),
    /// Toggle the log scale.
    ToggleLog,
    /// Smoothing weight.
    Smoothing(f64),
    /// Sort the table.
    Sort(Column),
    /// Table page.
    Page(usize),
    /// Download an export.
    Download(ExportFormat),
    /// Start afresh.
    NewStudy,
    /// Show the saved studies.
    ToggleSaved,
    /// The saved-study list arrived.
    Listed(Result<Vec<Listed>, String>),
    /// Open a saved study.
    Open(String),
    /// A saved study was read.
    Opened(String, Result<(StudyMeta, String), String>),
    /// Delete a saved study.
    Delete(String),
    /// A save finished.
    Saved(Result<(), String>),
    /// Copy the share link.
    Share,
    /// Dismiss a notice.
    Dismiss(&'static str),
    /// The chart tab.
    Tab(&'static str),
    /// The URL hash changed (a pasted link).
    HashChanged,
}

/// The page.
pub struct App {
    setup: Setup,
    yaml_open: bool,
    yaml_text: String,
    yaml_error: Option<String>,
    study_name: Option<String>,
    created_ms: f64,
    storage: JournalStorage,
    data: StudyData,
    importances: Rc<Vec<(String, f64)>>,
    run: RunState,
    worker: Option<WorkerHandle>,
    backend_note: Option<String>,
    engine_note: Option<String>,
    notices: Vec<Notice>,
    live: Live,
    progress: Progress,
    selected: Option<u64>,
    /// Whether the user picked the selected trial (the page then stops following the run).
    user_selected: bool,
    /// When the study was last saved (`performance.now()`).
    last_save_ms: f64,
    boundaries: BTreeMap<u64, Rc<Vec<f32>>>,
    boundary_n: usize,
    points: Rc<Vec<(f32, f32, u8)>>,
    log_y: bool,
    smoothing: f64,
    sort: (Column, bool),
    page: usize,
    saved: Option<Vec<Listed>>,
    saved_open: bool,
    synthetic: bool,
    tab: &'static str,
    _ticker: Option<gloo::timers::callback::Interval>,
    _hash_listener: Option<gloo::events::EventListener>,
    share_copied: bool,
}

fn value_of(e: &Event) -> String {
    use wasm_bindgen::JsCast;
    let Some(t) = e.target() else {
        return String::new();
    };
    if let Some(i) = t.dyn_ref::<web_sys::HtmlInputElement>() {
        if i.type_() == "checkbox" {
            return i.checked().to_string();
        }
        return i.value();
    }
    if let Some(s) = t.dyn_ref::<web_sys::HtmlSelectElement>() {
        return s.value();
    }
    if let Some(a) = t.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        return a.value();
    }
    String::new()
}

/// A callback that applies `f(setup, value)` with the event target's value.
fn edit<E: AsRef<Event> + 'static>(
    link: &yew::html::Scope<App>,
    f: impl Fn(&mut Setup, String) + 'static,
) -> Callback<E> {
    let f = Rc::new(f);
    link.callback(move |e: E| {
        let v = value_of(e.as_ref());
        let f = f.clone();
        Msg::Edit(Rc::new(move |s: &mut Setup| f(s, v.clone())))
    })
}

impl App {
    fn direction_label(&self) -> String {
        self.setup.objective.series().to_string()
    }

    fn refresh(&mut self) {
        let name = self.study_name.clone().unwrap_or_default();
        let mut trials: Vec<FrozenTrial> = self
            .storage
            .study_by_name(&name)
            .map(|s| s.trials.clone())
            .unwrap_or_default();
        // The running trial's reports arrive live, before its journal lines.
        if let Some(n) = self.live.trial
            && let Some(t) = trials.get_mut(n as usize)
            && t.state == TrialState::Running
        {
            t.intermediate_values = self.live.values.clone();
        }
        let completed_before = self.data.completed().count();
        let direction = self
            .storage
            .study_by_name(&name)
            .and_then(|s| s.directions.first().copied())
            .unwrap_or(self.setup.objective.direction());
        self.data = StudyData {
            version: self.data.version + 1,
            direction,
            objective: self.direction_label(),
            trials: Rc::new(trials),
        };
        let completed = self.data.completed().count();
        if completed != completed_before || self.importances.is_empty() {
            self.importances = Rc::new(if completed >= 2 {
                let trials: Vec<&FrozenTrial> = self.data.trials.iter().collect();
                let directions = [direction];
                let view = StudyView {
                    name: &name,
                    directions: &directions,
                    trials,
                };
                param_importances(&view)
            } else {
                Vec::new()
            });
        }
    }

    fn notice(&mut self, id: &'static str, level: &'static str, text: String) {
        self.notices.retain(|n| n.id != id);
        self.notices.push(Notice { level, text, id });
    }

    fn counted(&self) -> usize {
        self.data
            .trials
            .iter()
            .filter(|t| t.state.is_finished() && !t.user_attrs.contains_key("interrupted"))
            .count()
    }

    fn study_setup(&self) -> Option<Setup> {
        let name = self.study_name.as_ref()?;
        let s = self.storage.study_by_name(name)?;
        match s.user_attrs.get(SETUP_ATTR)? {
            Json::Str(t) => Setup::from_json(t).ok(),
            _ => None,
        }
    }

    /// Whether Start continues the current study (same setup but for budget and backend).
    fn continues(&self) -> bool {
        let Some(old) = self.study_setup() else {
            return false;
        };
        let mut a = old;
        let mut b = self.setup.clone();
        for s in [&mut a, &mut b] {
            s.n_trials = 0;
            s.time_limit_s = 0;
            s.backend = Backend::Auto;
            s.preset = String::new();
        }
        a == b && !self.synthetic
    }

    fn update_hash(&self) {
        let mut h = self.setup.to_hash();
        if let Some(n) = &self.study_name
            && !self.synthetic
        {
            h.push_str(&format!("&study={}", crate::setup::encode_component(n)));
        }
        browser::set_hash(&h);
    }

    fn save(&self, ctx: &Context<Self>) {
        let Some(name) = self.study_name.clone() else {
            return;
        };
        if self.synthetic || self.storage.study_by_name(&name).is_none() {
            return;
        }
        let setup = self.study_setup().unwrap_or_else(|| self.setup.clone());
        let meta = StudyMeta {
            id: name,
            created_ms: self.created_ms,
            updated_ms: browser::epoch_ms(),
            setup: Setup {
                n_trials: self.setup.n_trials,
                ..setup
            },
            finished: self.counted(),
            best: self.data.best().and_then(FrozenTrial::value),
        };
        let journal = self.storage.to_compact_journal("sweeplab-browser");
        ctx.link()
            .send_future(async move { Msg::Saved(store::save(&meta, &journal).await) });
    }

    fn start_worker(&mut self, ctx: &Context<Self>, kind: &str) {
        let link = ctx.link().clone();
        let link2 = ctx.link().clone();
        let handle = WorkerHandle::spawn(
            kind,
            move |text| match FromWorker::from_text(&text) {
                Ok(m) => link.send_message(Msg::Worker(m)),
                Err(e) => link.send_message(Msg::WorkerCrashed(e)),
            },
            move |err| link2.send_message(Msg::WorkerCrashed(err)),
        );
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                self.notice("run-error", "error", e);
                self.run = RunState::Idle;
                return;
            }
        };
        let name = self
            .study_name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.setup.preset, browser::stamp()));
        // The page and the worker start from the same journal text.
        let journal = if self.storage.study_by_name(&name).is_some() {
            self.storage.to_compact_journal("sweeplab-browser")
        } else {
            String::new()
        };
        self.storage = JournalStorage::from_text(&journal).unwrap_or_default();
        if self.study_name.is_none() {
            self.created_ms = browser::epoch_ms();
        }
        self.study_name = Some(name.clone());
        let setup = if self.continues() {
            Setup {
                n_trials: self.setup.n_trials,
                time_limit_s: self.setup.time_limit_s,
                ..self.study_setup().unwrap_or_else(|| self.setup.clone())
            }
        } else {
            self.setup.clone()
        };
        handle.send(
            ToWorker::Start {
                study: name,
                setup,
                journal,
                backend: kind.to_string(),
                seed: (browser::epoch_ms() as u64) & 0xffff_ffff,
            }
            .to_text(),
        );
        self.worker = Some(handle);
        self.run = RunState::Running;
        self.progress = Progress {
            run_started: browser::now_ms(),
            trial_started: browser::now_ms(),
            ..Progress::default()
        };
        let link = ctx.link().clone();
        self._ticker = Some(gloo::timers::callback::Interval::new(1000, move || {
            link.send_message(Msg::Tick)
        }));
        self.update_hash();
    }

    fn apply_ops(&mut self, lines: &str) {
        match parse_journal(lines) {
            Ok(ops) => {
                for (_, op) in ops {
                    if let Err(e) = self.storage.apply(&op) {
                        self.notice("journal", "error", format!("the study's journal: {e}"));
                    }
                }
            }
            Err(e) => self.notice("journal", "error", format!("the study's journal: {e}")),
        }
        self.refresh();
    }

    fn finish_run(&mut self) {
        self.worker = None;
        self._ticker = None;
        self.run = RunState::Idle;
        self.live.trial = None;
    }

    fn load_study(&mut self, meta: StudyMeta, journal: &str) -> Result<(), String> {
        let storage = JournalStorage::from_text(journal)
            .map_err(|e| format!("the saved study `{}` is corrupt: {e}", meta.id))?;
        if storage.study_by_name(&meta.id).is_none() {
            return Err(format!(
                "the saved study `{}` is corrupt: its journal has no study of that name",
                meta.id
            ));
        }
        self.finish_run();
        self.storage = storage;
        self.study_name = Some(meta.id.clone());
        self.created_ms = meta.created_ms;
        self.setup = meta.setup;
        self.synthetic = false;
        self.live = Live::default();
        self.boundaries.clear();
        self.points = Rc::default();
        self.selected = None;
        self.page = 0;
        self.refresh();
        self.selected = self.data.trials.last().map(|t| t.number);
        self.update_hash();
        Ok(())
    }

    /// A study of `n` trials built through the core from an analytic objective, for
    /// checking that the plots stay fast (opened with `#synthetic=N`).
    fn load_synthetic(&mut self, n: usize) {
        use sweeplab_core::{RandomSampler, Study};
        let setup = Setup::preset("mnist-cnn");
        let name = format!("synthetic-{n}");
        let result = (|| -> Result<Study, sweeplab_core::StudyError> {
            let mut study = Study::create(
                &name,
                setup.objective.direction(),
                Box::new(RandomSampler::new(Some(1))),
            )?;
            let space = setup.search_space().unwrap_or_default();
            for _ in 0..n {
                let (k, p) = study.ask_with(&space)?;
                let lr = p.get("lr").and_then(|v| v.as_f64()).unwrap_or(1e-3);
                let drop = p.get("dropout").and_then(|v| v.as_f64()).unwrap_or(0.2);
                let sgd = p
                    .get("optimizer")
                    .and_then(|v| v.as_str().map(|s| s == "sgd"));
                let peak = 0.98
                    - 0.08 * (lr.log10() + 2.5).powi(2) / 6.0
                    - 0.1 * (drop - 0.25).abs()
                    - if sgd == Some(true) { 0.04 } else { 0.0 };
                let noise = ((k as f64 * 12.9898).sin() * 43758.5453).fract() * 0.01;
                for e in 1..=5i64 {
                    let acc = (peak * (1.0 - (-(e as f64) / 1.5).exp()) + noise).clamp(0.0, 1.0);
                    study.log_metric(k, "val/accuracy", e, acc)?;
                    study.log_metric(k, "val/loss", e, (1.0 - acc) * 2.0)?;
                    study.report(k, e, acc)?;
                }
                let acc = study
                    .trial(k)?
                    .intermediate_values
                    .get(&5)
                    .copied()
                    .unwrap_or(0.0);
                study.tell_value(k, acc)?;
            }
            Ok(study)
        })();
        match result {
            Ok(study) => {
                self.storage = study.storage().clone();
                self.study_name = Some(name);
                self.setup = setup;
                self.synthetic = true;
                self.setup.n_trials = u32::try_from(n).unwrap_or(u32::MAX);
                self.refresh();
                self.selected = self.data.best().map(|t| t.number);
                self.notice(
                    "synthetic",
                    "info",
                    format!(
                        "Synthetic study: {n} trials generated through the core from an analytic \
                         function (no training), for testing the plots. It is not saved."
                    ),
                );
            }
            Err(e) => self.notice("synthetic", "error", format!("synthetic study: {e}")),
        }
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let mut app = App {
            setup: Setup::preset("spiral-mlp"),
            yaml_open: false,
            yaml_text: String::new(),
            yaml_error: None,
            study_name: None,
            created_ms: 0.0,
            storage: JournalStorage::new(),
            data: StudyData::default(),
            importances: Rc::default(),
            run: RunState::Idle,
            worker: None,
            backend_note: None,
            engine_note: None,
            notices: Vec::new(),
            live: Live::default(),
            progress: Progress::default(),
            selected: None,
            user_selected: false,
            last_save_ms: 0.0,
            boundaries: BTreeMap::new(),
            boundary_n: 0,
            points: Rc::default(),
            log_y: false,
            smoothing: 0.0,
            sort: (Column::Number, false),
            page: 0,
            saved: None,
            saved_open: false,
            synthetic: false,
            tab: "history",
            _ticker: None,
            _hash_listener: None,
            share_copied: false,
        };
        let link = ctx.link().clone();
        app._hash_listener = web_sys::window().map(|w| {
            gloo::events::EventListener::new(&w, "hashchange", move |_| {
                link.send_message(Msg::HashChanged)
            })
        });
        let hash = browser::hash();
        match Setup::from_hash(&hash) {
            Ok(Some(s)) => app.setup = s,
            Ok(None) => {}
            Err(e) => app.notice(
                "link",
                "error",
                format!("{e}. Starting from the Spiral preset instead."),
            ),
        }
        let mut wanted_study = None;
        for part in hash.split('&') {
            if let Some(v) = part.strip_prefix("study=") {
                wanted_study = crate::setup::decode_component(v);
            }
            if let Some(v) = part.strip_prefix("synthetic=") {
                match v.parse::<usize>() {
                    Ok(n) if (1..=5000).contains(&n) => app.load_synthetic(n),
                    _ => app.notice(
                        "synthetic",
                        "error",
                        format!("synthetic={v}: give a number of trials from 1 to 5000"),
                    ),
                }
            }
        }
        let restore = hash.is_empty() || wanted_study.is_some();
        if !app.synthetic {
            ctx.link().send_future(async move {
                match store::list().await {
                    Ok(list) => {
                        // A reload restores the study the page showed (or, with no hash,
                        // the latest one).
                        let pick = list.iter().find_map(|l| match l {
                            Listed::Ok(m)
                                if restore && wanted_study.as_ref().is_none_or(|w| *w == m.id) =>
                            {
                                Some(m.id.clone())
                            }
                            _ => None,
                        });
                        match pick {
                            Some(id) => {
                                let r = store::load(&id).await;
                                Msg::Opened(id, r)
                            }
                            None => Msg::Listed(Ok(list)),
                        }
                    }
                    Err(e) => Msg::Listed(Err(e)),
                }
            });
        }
        app.update_hash();
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Edit(f) => {
                f(&mut self.setup);
                self.update_hash();
            }
            Msg::Preset(id) => {
                let backend = self.setup.backend;
                self.setup = Setup {
                    backend,
                    ..Setup::preset(id)
                };
                self.update_hash();
            }
            Msg::ToggleYaml => self.yaml_open = !self.yaml_open,
            Msg::YamlText(t) => {
                self.yaml_text = t;
                self.yaml_error = None;
            }
            Msg::YamlApply => match setup_from_yaml(&self.yaml_text, &self.setup) {
                Ok(s) => {
                    self.setup = s;
                    self.yaml_error = None;
                    self.yaml_open = false;
                    self.update_hash();
                }
                Err(e) => self.yaml_error = Some(e),
            },
            Msg::YamlFile(file) => {
                let blob: &web_sys::Blob = file.as_ref();
                let blob = gloo::file::Blob::from(blob.clone());
                ctx.link().send_future(async move {
                    match gloo::file::futures::read_as_text(&blob).await {
                        Ok(t) => Msg::YamlText(t),
                        Err(e) => Msg::YamlText(format!("# could not read the file: {e}")),
                    }
                });
                self.yaml_open = true;
                return true;
            }
            Msg::Start => {
                if !self.setup.problems().is_empty() || self.run != RunState::Idle {
                    return false;
                }
                if self.synthetic || !self.continues() {
                    // A different setup starts a new study.
                    self.study_name = None;
                    self.storage = JournalStorage::new();
                    self.synthetic = false;
                    self.boundaries.clear();
                    self.points = Rc::default();
                    self.notices.retain(|n| n.id != "synthetic");
                    self.refresh();
                }
                self.live = Live::default();
                self.notices.retain(|n| n.level != "error");
                self.run = RunState::Starting;
                self.engine_note = None;
                self.user_selected = false;
                if self.setup.backend == Backend::Cpu {
                    self.backend_note = Some("CPU backend: you chose CPU.".into());
                    self.start_worker(ctx, "cpu");
                } else {
                    ctx.link()
                        .send_future(async { Msg::Probed(browser::probe_gpu().await) });
                }
            }
            Msg::Probed(p) => {
                let (kind, note) = match (self.setup.backend, &p) {
                    (_, p) if !p.api => {
                        self.notice(
                            "no-webgpu",
                            "warn",
                            "WebGPU is not available in this browser (no navigator.gpu): training runs on the CPU backend.".into(),
                        );
                        (
                            "cpu",
                            "CPU backend: this browser has no WebGPU.".to_string(),
                        )
                    }
                    (_, p) if !p.adapter => {
                        self.notice(
                            "no-webgpu",
                            "warn",
                            "WebGPU gave no adapter: training runs on the CPU backend.".into(),
                        );
                        ("cpu", "CPU backend: WebGPU gave no adapter.".to_string())
                    }
                    (Backend::Gpu, p) => (
                        "gpu",
                        format!(
                            "WebGPU on {}{}: you chose WebGPU.",
                            p.description,
                            if p.software {
                                " (a software adapter: expect CPU speed or slower)"
                            } else {
                                ""
                            }
                        ),
                    ),
                    (_, p) if p.software => (
                        "cpu",
                        format!(
                            "CPU backend: auto found only a software WebGPU adapter ({}), which is slower than the CPU backend.",
                            p.description
                        ),
                    ),
                    (_, p) => (
                        "gpu",
                        format!(
                            "WebGPU on {}: auto picks the GPU on a hardware adapter.",
                            p.description
                        ),
                    ),
                };
                self.backend_note = Some(note);
                self.start_worker(ctx, kind);
            }
            Msg::Pause => {
                if let Some(w) = &self.worker {
                    w.send(ToWorker::Pause.to_text());
                    self.run = RunState::Paused;
                }
            }
            Msg::Resume => {
                if let Some(w) = &self.worker {
                    w.send(ToWorker::Resume.to_text());
                    self.run = RunState::Running;
                }
            }
            Msg::Stop => {
                if let Some(w) = &self.worker {
                    w.send(ToWorker::Stop.to_text());
                    self.run = RunState::Stopping;
                }
            }
            Msg::Worker(m) => return self.on_worker(ctx, m),
            Msg::WorkerCrashed(e) => {
                let was_gpu = self.worker.as_ref().is_some_and(|w| w.kind == "gpu");
                self.finish_run();
                if was_gpu {
                    self.notice(
                        "device-lost",
                        "warn",
                        format!("The WebGPU worker failed ({e}); continuing on the CPU backend."),
                    );
                    self.backend_note =
                        Some("CPU backend: the WebGPU device failed, so the CPU took over.".into());
                    self.start_worker(ctx, "cpu");
                } else {
                    self.notice("run-error", "error", format!("Training stopped: {e}"));
                }
            }
            Msg::Tick => {}
            Msg::Select(n) => {
                self.selected = Some(n);
                self.user_selected = true;
            }
            Msg::ToggleLog => self.log_y = !self.log_y,
            Msg::Smoothing(w) => self.smoothing = w,
            Msg::Sort(c) => {
                self.sort = if self.sort.0 == c {
                    (c, !self.sort.1)
                } else {
                    (c, true)
                };
                self.page = 0;
            }
            Msg::Page(p) => self.page = p,
            Msg::Download(format) => {
                if let Err(e) = self.download(format) {
                    self.notice("download", "error", e);
                }
            }
            Msg::NewStudy => {
                self.finish_run();
                self.study_name = None;
                self.storage = JournalStorage::new();
                self.synthetic = false;
                self.live = Live::default();
                self.boundaries.clear();
                self.points = Rc::default();
                self.selected = None;
                self.user_selected = false;
                self.notices.clear();
                self.backend_note = None;
                self.engine_note = None;
                self.refresh();
                self.update_hash();
            }
            Msg::ToggleSaved => {
                self.saved_open = !self.saved_open;
                if self.saved_open {
                    ctx.link()
                        .send_future(async { Msg::Listed(store::list().await) });
                }
            }
            Msg::Listed(r) => match r {
                Ok(l) => self.saved = Some(l),
                Err(e) => self.notice("storage", "warn", e),
            },
            Msg::Open(id) => {
                if self.run != RunState::Idle {
                    self.notice(
                        "open",
                        "warn",
                        "Stop the running study before opening another one.".into(),
                    );
                    return true;
                }
                ctx.link().send_future(async move {
                    let r = store::load(&id).await;
                    Msg::Opened(id, r)
                });
            }
            Msg::Opened(id, r) => {
                let r = r.and_then(|(meta, journal)| self.load_study(meta, &journal));
                match r {
                    Ok(()) => {
                        self.saved_open = false;
                        self.notices.retain(|n| n.id != "corrupt");
                    }
                    Err(e) => {
                        self.notice("corrupt", "error", e);
                        let _ = id;
                    }
                }
            }
            Msg::Delete(id) => {
                ctx.link().send_future(async move {
                    let _ = store::delete(&id).await;
                    Msg::Listed(store::list().await)
                });
            }
            Msg::Saved(r) => {
                if let Err(e) = r {
                    self.notice(
                        "storage",
                        "warn",
                        format!("The study could not be saved: {e}"),
                    );
                }
                return false;
            }
            Msg::Share => {
                self.update_hash();
                let mut h = self.setup.to_hash();
                h.push_str("");
                browser::copy_to_clipboard(&browser::url_with_hash(&h));
                self.share_copied = true;
            }
            Msg::Dismiss(id) => self.notices.retain(|n| n.id != id),
            Msg::Tab(t) => self.tab = t,
            Msg::HashChanged => match Setup::from_hash(&browser::hash()) {
                Ok(Some(s)) if s != self.setup => {
                    if self.run == RunState::Idle {
                        self.setup = s;
                        self.notices.retain(|n| n.id != "link");
                    } else {
                        self.notice(
                            "link",
                            "warn",
                            "Stop the running study to open the setup of this link.".into(),
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => self.notice(
                    "link",
                    "error",
                    format!("{e}. The setup was left as it was."),
                ),
            },
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, first_render: bool) {
        if first_render
            && let Some(body) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.body())
        {
            // Time to interactive, read by the browser tests.
            let _ = body.set_attribute("data-ready", &format!("{:.0}", browser::now_ms()));
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <div class="app">
                { self.view_header(ctx) }
                <div class="layout">
                    <aside class="panel">{ self.view_setup(ctx) }</aside>
                    <main class="main">
                        { self.view_status(ctx) }
                        { self.view_live(ctx) }
                        { self.view_study(ctx) }
                        { self.view_table(ctx) }
                        { self.view_downloads(ctx) }
                    </main>
                </div>
                <footer class="footer">
                    { "sweeplab runs Optuna's TPE (by default with sweeplab's tuning; Optuna's own defaults are one menu choice away), pruners and PED-ANOVA importances in your browser and trains every trial with burn on WebGPU or the CPU, or many MLPs at once on its own fused WGSL kernels. " }
                    if self.setup.dataset == Dataset::Mnist {
                        <span class="credit" data-testid="mnist-credit">{ "MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0." }</span>
                    }
                </footer>
            </div>
        }
    }
}

impl App {
    fn on_worker(&mut self, ctx: &Context<Self>, m: FromWorker) -> bool {
        match m {
            FromWorker::Ready => return false,
            FromWorker::Backend { kind, reason, .. } => {
                let which = if kind == "wgpu" { "WebGPU" } else { "CPU" };
                let page = self.backend_note.clone().unwrap_or_default();
                self.backend_note = Some(if page.is_empty() {
                    format!("{which}: {reason}")
                } else {
                    page
                });
            }
            FromWorker::Engine { slots, reason } => {
                self.progress.slots = slots;
                self.engine_note = Some(format!("Engine: {reason}."));
            }
            FromWorker::Points { points } => self.points = Rc::new(points),
            FromWorker::Ops { lines } => {
                self.apply_ops(&lines);
                let follow = if self.progress.parallel() {
                    self.selected.is_none()
                } else {
                    self.selected.is_none() || self.live.trial.is_none()
                };
                if follow {
                    self.selected = self.data.trials.last().map(|t| t.number);
                }
                // Several trials at once send lines every round: save when one of them
                // ended (and every few seconds otherwise).
                let now = browser::now_ms();
                let ended = self.progress.running.keys().any(|n| {
                    self.data
                        .trials
                        .get(*n as usize)
                        .is_some_and(|t| t.state.is_finished())
                });
                if !self.progress.parallel() || ended || now - self.last_save_ms > 5000.0 {
                    self.last_save_ms = now;
                    self.save(ctx);
                }
            }
            FromWorker::TrialStart {
                trial,
                epochs,
                steps_per_epoch,
            } if self.progress.parallel() => {
                // Several trials train at once: their curves come with the journal lines
                // after every round; the page keeps showing the trial it shows.
                self.progress.running.insert(trial, (0, 0.0));
                self.progress.epochs = epochs;
                self.progress.steps_per_epoch = steps_per_epoch;
                if self.selected.is_none() {
                    self.selected = Some(trial);
                }
                return false;
            }
            FromWorker::TrialStart {
                trial,
                epochs,
                steps_per_epoch,
            } => {
                self.live = Live {
                    trial: Some(trial),
                    steps_per_epoch,
                    ..Live::default()
                };
                self.selected = Some(trial);
                self.progress.epochs = epochs;
                self.progress.epoch = 1;
                self.progress.epoch_step = 0;
                self.progress.steps_per_epoch = steps_per_epoch;
                self.progress.trial_started = browser::now_ms();
            }
            FromWorker::Step {
                epoch,
                epoch_step,
                steps_per_epoch,
                step,
                loss,
                samples_per_sec,
                ..
            } => {
                self.progress.epoch = epoch;
                self.progress.epoch_step = epoch_step;
                self.progress.steps_per_epoch = steps_per_epoch;
                self.progress.samples_per_sec = samples_per_sec;
                if let Some(l) = loss
                    && self.live.train.last().is_none_or(|p| p.1 != l)
                {
                    self.live.train.push((step as f64, l));
                }
            }
            FromWorker::Epoch {
                trial,
                epoch,
                samples_per_sec,
                ..
            } if self.progress.parallel() => {
                self.progress
                    .running
                    .insert(trial, (epoch, samples_per_sec));
                self.progress.samples_per_sec =
                    self.progress.running.values().map(|(_, s)| s).sum();
                return false;
            }
            FromWorker::Epoch {
                epoch,
                val_loss,
                val_accuracy,
                value,
                samples_per_sec,
                ..
            } => {
                self.live.val_loss.push((epoch as f64, val_loss));
                self.live.val_acc.push((epoch as f64, val_accuracy));
                self.live.values.insert(epoch as i64, value);
                self.progress.samples_per_sec = samples_per_sec;
                self.refresh();
            }
            FromWorker::Boundary { trial, n, grid } => {
                self.boundary_n = n;
                self.boundaries.insert(trial, Rc::new(grid));
                while self.boundaries.len() > 200 {
                    self.boundaries.pop_first();
                }
            }
            FromWorker::TrialEnd {
                trial,
                state,
                reason,
                ..
            } => {
                self.progress.ended += 1;
                if self.progress.parallel() {
                    self.progress.running.remove(&trial);
                    // Follow the run: the next trial shown is the newest running one.
                    if self.selected == Some(trial)
                        && !self.user_selected
                        && let Some(&next) = self.progress.running.keys().last()
                    {
                        self.selected = Some(next);
                    }
                } else {
                    let secs = (browser::now_ms() - self.progress.trial_started) / 1000.0;
                    self.progress.durations.push(secs);
                }
                if state == "FAIL"
                    && let Some(r) = reason
                    && !r.starts_with("cancelled")
                {
                    self.notice("trial-fail", "warn", format!("Trial {trial} failed: {r}"));
                }
                self.live.trial = None;
                self.refresh();
            }
            FromWorker::Finished { reason } => {
                self.finish_run();
                self.notice("finished", "info", format!("Study finished: {reason}."));
                self.refresh();
                self.save(ctx);
            }
            FromWorker::DeviceLost { message } => {
                let was_gpu = self.worker.as_ref().is_some_and(|w| w.kind == "gpu");
                self.finish_run();
                self.refresh();
                if was_gpu {
                    self.notice(
                        "device-lost",
                        "warn",
                        format!(
                            "WebGPU stopped working ({message}); continuing on the CPU backend."
                        ),
                    );
                    self.backend_note = Some(
                        "CPU backend: WebGPU failed or its device was lost, so the CPU took over."
                            .into(),
                    );
                    self.start_worker(ctx, "cpu");
                } else {
                    self.notice("run-error", "error", format!("Training stopped: {message}"));
                }
            }
            FromWorker::Error { message } => {
                self.finish_run();
                self.refresh();
                self.notice("run-error", "error", format!("Training stopped: {message}"));
            }
        }
        true
    }

    fn download(&self, format: ExportFormat) -> Result<(), String> {
        let name = self.study_name.clone().ok_or("run or open a study first")?;
        let study = self
            .storage
            .study_by_name(&name)
            .ok_or("run or open a study first")?;
        let files = export_study(study, format, &ExportOptions::default())
            .map_err(|e| format!("export failed: {e}"))?;
        let (file_name, mime, bytes) = match format {
            ExportFormat::TensorBoard | ExportFormat::Wandb => (
                format!("{name}-{}.zip", format.name()),
                "application/zip",
                zip_files(&files).map_err(|e| format!("export failed: {e}"))?,
            ),
            ExportFormat::Optuna => (
                format!("{name}.journal.log"),
                "text/plain",
                files
                    .into_iter()
                    .next()
                    .map(|f| f.bytes)
                    .unwrap_or_default(),
            ),
            ExportFormat::Csv => (
                format!("{name}.csv"),
                "text/csv",
                files
                    .into_iter()
                    .next()
                    .map(|f| f.bytes)
                    .unwrap_or_default(),
            ),
            ExportFormat::Zip => (
                format!("{name}.zip"),
                "application/zip",
                files
                    .into_iter()
                    .next()
                    .map(|f| f.bytes)
                    .unwrap_or_default(),
            ),
        };
        browser::download(&file_name, mime, &bytes)
    }

    fn view_header(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <header class="header">
                <div class="brand">
                    <span class="logo" aria-hidden="true">{ "◆" }</span>
                    <span class="name">{ "sweeplab" }</span>
                    <span class="tagline">{ "try, teach and learn hyperparameter search" }</span>
                </div>
                <nav class="actions">
                    if let Some(n) = &self.study_name {
                        <span class="study-name" data-testid="study-name" title="the current study">{ n.clone() }</span>
                    }
                    <button class="btn ghost" data-testid="new-study" onclick={link.callback(|_| Msg::NewStudy)}>{ "New study" }</button>
                    <button class="btn ghost" data-testid="saved-toggle" onclick={link.callback(|_| Msg::ToggleSaved)}>{ "Saved studies" }</button>
                    <button class="btn ghost" data-testid="share" onclick={link.callback(|_| Msg::Share)}
                        title="copy a link that opens this setup">{ if self.share_copied { "Link copied" } else { "Share link" } }</button>
                </nav>
                if self.saved_open { { self.view_saved(ctx) } }
            </header>
        }
    }

    fn view_saved(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let body = match &self.saved {
            None => html! { <p class="muted">{ "Loading…" }</p> },
            Some(l) if l.is_empty() => {
                html! { <p class="muted">{ "No saved studies yet: every study is saved here after each trial." }</p> }
            }
            Some(l) => html! {
                <ul class="saved-list">
                    { for l.iter().map(|e| match e {
                        Listed::Ok(m) => {
                            let id = m.id.clone();
                            let id2 = m.id.clone();
                            html! {
                                <li data-testid="saved-item">
                                    <div class="saved-main">
                                        <strong>{ m.id.clone() }</strong>
                                        <span class="muted">{ format!("{} trials · best {}", m.finished, m.best.map_or("–".into(), precise)) }</span>
                                    </div>
                                    <button class="btn small" onclick={link.callback(move |_| Msg::Open(id.clone()))}>{ "Open" }</button>
                                    <button class="btn small ghost" onclick={link.callback(move |_| Msg::Delete(id2.clone()))}>{ "Delete" }</button>
                                </li>
                            }
                        }
                        Listed::Corrupt(id, err) => {
                            let id2 = id.clone();
                            html! {
                                <li class="corrupt" data-testid="saved-corrupt">
                                    <div class="saved-main">
                                        <strong>{ id.clone() }</strong>
                                        <span class="error-text">{ format!("cannot be read: {err}") }</span>
                                    </div>
                                    <button class="btn small ghost" onclick={link.callback(move |_| Msg::Delete(id2.clone()))}>{ "Delete" }</button>
                                </li>
                            }
                        }
                    }) }
                </ul>
            },
        };
        html! {
            <div class="saved-panel" data-testid="saved-panel">
                <h3>{ "Saved studies" }</h3>
                { body }
            </div>
        }
    }

    fn view_setup(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let s = &self.setup;
        let problems = s.problems();
        let locked = self.run != RunState::Idle;
        let global: Vec<&String> = problems
            .iter()
            .filter(|(i, _)| *i == usize::MAX)
            .map(|(_, m)| m)
            .collect();
        let preset_blurb = PRESETS
            .iter()
            .find(|p| p.id == s.preset)
            .map(|p| p.blurb)
            .unwrap_or("A custom setup.");
        html! {
            <fieldset class="setup" disabled={locked}>
                <section>
                    <h2>{ "1 · Pick a problem" }</h2>
                    <div class="presets" role="group" aria-label="presets">
                        { for PRESETS.iter().map(|p| {
                            let id = p.id;
                            html! {
                                <button class={classes!("chip", (s.preset == p.id).then_some("active"))}
                                    data-testid={format!("preset-{id}")}
                                    onclick={link.callback(move |_| Msg::Preset(id))}>{ p.title }</button>
                            }
                        }) }
                    </div>
                    <p class="muted small">{ preset_blurb }</p>
                    <div class="grid2">
                        <label>{ "Data set" }
                            <select data-testid="dataset" onchange={edit(link, |s, v| if let Some(d) = Dataset::parse(&v) { s.dataset = d; if !d.is_2d() { s.objective = Objective::ValAccuracy } })}>
                                { for Dataset::ALL.iter().map(|d| html! { <option value={d.id()} selected={*d == s.dataset}>{ d.label() }</option> }) }
                            </select>
                        </label>
                        <label>{ "Model" }
                            <select data-testid="model" onchange={edit(link, |s, v| s.model = if v == "cnn" { ModelKind::Cnn } else { ModelKind::Mlp })}>
                                <option value="mlp" selected={s.model == ModelKind::Mlp}>{ ModelKind::Mlp.label() }</option>
                                <option value="cnn" selected={s.model == ModelKind::Cnn}>{ ModelKind::Cnn.label() }</option>
                            </select>
                        </label>
                        <label>{ "Epochs per trial" }
                            <input type="number" min="1" max="1000" data-testid="epochs" value={s.epochs.to_string()}
                                oninput={edit(link, |s, v| s.epochs = v.trim().parse().unwrap_or(0))} />
                        </label>
                        <label>{ "Objective" }
                            <select data-testid="objective" onchange={edit(link, |s, v| s.objective = if v == "acc" { Objective::ValAccuracy } else { Objective::ValLoss })}>
                                <option value="loss" selected={s.objective == Objective::ValLoss}>{ Objective::ValLoss.short_label() }</option>
                                <option value="acc" selected={s.objective == Objective::ValAccuracy}>{ Objective::ValAccuracy.short_label() }</option>
                            </select>
                        </label>
                    </div>
                    if s.dataset == Dataset::Mnist {
                        <p class="muted small">{ "MNIST (10,000 digits) by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0." }</p>
                    }
                </section>
                <section>
                    <h2>{ "2 · Define the search space" }</h2>
                    { self.view_space(ctx, &problems) }
                    <div class="row">
                        <button class="btn small" data-testid="add-param" onclick={link.callback(|_| Msg::Edit(Rc::new(|s: &mut Setup| {
                            let n = s.params.len();
                            let name = ["weight_decay", "momentum", "dropout", "lr"].iter()
                                .find(|c| !s.params.iter().any(|p| p.name == **c)).map_or(format!("param_{n}"), |c| c.to_string());
                            s.params.push(ParamSpec::float(&name, 0.0, 0.1, false));
                        })))}>{ "+ Add parameter" }</button>
                        <button class="btn small ghost" data-testid="yaml-toggle" onclick={link.callback(|_| Msg::ToggleYaml)}>{ "Import W&B sweep YAML" }</button>
                    </div>
                    if self.yaml_open {
                        <div class="yaml">
                            <textarea data-testid="yaml-text" rows="8" placeholder="method: bayes\nmetric: {name: val_loss, goal: minimize}\nparameters:\n  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}"
                                value={self.yaml_text.clone()}
                                oninput={link.callback(|e: InputEvent| Msg::YamlText(value_of(e.as_ref())))} />
                            <div class="row">
                                <button class="btn small" data-testid="yaml-apply" onclick={link.callback(|_| Msg::YamlApply)}>{ "Fill the editor" }</button>
                                <label class="btn small ghost file">{ "Upload .yaml" }
                                    <input type="file" accept=".yaml,.yml,text/yaml" data-testid="yaml-file"
                                        onchange={link.batch_callback(|e: Event| {
                                            use wasm_bindgen::JsCast;
                                            e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                                                .and_then(|i| i.files()).and_then(|f| f.get(0)).map(Msg::YamlFile)
                                        })} />
                                </label>
                            </div>
                            if let Some(e) = &self.yaml_error {
                                <p class="error-text" role="alert" data-testid="yaml-error">{ e.clone() }</p>
                            }
                        </div>
                    }
                </section>
                <section>
                    <h2>{ "3 · Choose how to search" }</h2>
                    <div class="grid2">
                        <label>{ "Sampler" }
                            <select data-testid="sampler" onchange={edit(link, |s, v| s.sampler = SamplerKind::ALL.into_iter().find(|k| k.id() == v).unwrap_or(SamplerKind::Tpe))}>
                                { for SamplerKind::ALL.iter().map(|k| html! { <option value={k.id()} selected={*k == s.sampler}>{ k.label() }</option> }) }
                            </select>
                        </label>
                        <label>{ "Seed" }
                            <input type="number" min="0" data-testid="seed" placeholder="random" value={s.seed.map(|v| v.to_string()).unwrap_or_default()}
                                oninput={edit(link, |s, v| s.seed = v.trim().parse().ok())} />
                        </label>
                        <label>{ "Pruner" }
                            <select data-testid="pruner" onchange={edit(link, |s, v| s.pruner = PrunerKind::ALL.into_iter().find(|k| k.id() == v).unwrap_or(PrunerKind::None))}>
                                { for PrunerKind::ALL.iter().map(|k| html! { <option value={k.id()} selected={*k == s.pruner}>{ k.label() }</option> }) }
                            </select>
                        </label>
                        <label>{ "Trials" }
                            <input type="number" min="1" max="10000" data-testid="n-trials" value={s.n_trials.to_string()}
                                oninput={edit(link, |s, v| s.n_trials = v.trim().parse().unwrap_or(0))} />
                        </label>
                        <label>{ "Time limit (s, 0 = none)" }
                            <input type="number" min="0" data-testid="time-limit" value={s.time_limit_s.to_string()}
                                oninput={edit(link, |s, v| s.time_limit_s = v.trim().parse().unwrap_or(0))} />
                        </label>
                        <label>{ "Backend" }
                            <select data-testid="backend" onchange={edit(link, |s, v| s.backend = Backend::ALL.into_iter().find(|k| k.id() == v).unwrap_or(Backend::Auto))}>
                                { for Backend::ALL.iter().map(|k| html! { <option value={k.id()} selected={*k == s.backend}>{ k.label() }</option> }) }
                            </select>
                        </label>
                    </div>
                    if let Some(note) = s.sampler.note() {
                        <p class="muted small" data-testid="sampler-note">{ note }</p>
                    }
                    if let Some(n) = s.grid_points() {
                        <p class="muted small">{ format!("The grid has {n} points; the study stops when all are visited.") }</p>
                    }
                </section>
                { for global.iter().map(|m| html! { <p class="error-text" role="alert" data-testid="setup-error">{ (*m).clone() }</p> }) }
            </fieldset>
        }
    }

    fn view_space(&self, ctx: &Context<Self>, problems: &[(usize, String)]) -> Html {
        let link = ctx.link();
        html! {
            <div class="space" data-testid="space">
                { for self.setup.params.iter().enumerate().map(|(i, p)| {
                    let err = problems.iter().find(|(k, _)| *k == i).map(|(_, m)| m.clone());
                    let numeric = p.kind != ParamKind::Categorical;
                    html! {
                        <div class={classes!("param", err.is_some().then_some("invalid"))} data-testid="param-row">
                            <div class="param-line">
                                <input class="pname" aria-label="name" data-testid="param-name" value={p.name.clone()}
                                    oninput={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.name = v })} />
                                <select aria-label="type" data-testid="param-kind" onchange={edit(link, move |s, v| if let (Some(p), Some(k)) = (s.params.get_mut(i), ParamKind::parse(&v)) {
                                    p.kind = k;
                                    if k == ParamKind::Categorical && p.choices.is_empty() { p.choices = "a, b".into() }
                                    if k == ParamKind::Int { p.log = p.log && p.low.parse::<i64>().is_ok_and(|l| l >= 1); }
                                })}>
                                    { for [ParamKind::Float, ParamKind::Int, ParamKind::Categorical].iter().map(|k| html! {
                                        <option value={k.id()} selected={*k == p.kind}>{ k.id() }</option>
                                    }) }
                                </select>
                                <button class="icon" title="remove" aria-label="remove parameter" data-testid="param-remove"
                                    onclick={link.callback(move |_| Msg::Edit(Rc::new(move |s: &mut Setup| { if i < s.params.len() { s.params.remove(i); } })))}>{ "×" }</button>
                            </div>
                            if numeric {
                                <div class="param-line">
                                    <label class="mini">{ "low" }<input data-testid="param-low" value={p.low.clone()}
                                        oninput={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.low = v })} /></label>
                                    <label class="mini">{ "high" }<input data-testid="param-high" value={p.high.clone()}
                                        oninput={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.high = v })} /></label>
                                    <label class="mini">{ "step" }<input data-testid="param-step" placeholder={if p.kind == ParamKind::Int { "1" } else { "none" }} value={p.step.clone()}
                                        oninput={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.step = v })} /></label>
                                    <label class="check"><input type="checkbox" data-testid="param-log" checked={p.log}
                                        onchange={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.log = v == "true" })} />{ "log" }</label>
                                </div>
                            } else {
                                <div class="param-line">
                                    <label class="mini wide">{ "choices" }<input data-testid="param-choices" value={p.choices.clone()} placeholder="adam, sgd"
                                        oninput={edit(link, move |s, v| if let Some(p) = s.params.get_mut(i) { p.choices = v })} /></label>
                                </div>
                            }
                            if let Some(e) = err {
                                <p class="error-text" role="alert" data-testid="param-error">{ e }</p>
                            }
                        </div>
                    }
                }) }
            </div>
        }
    }

    fn view_status(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let valid = self.setup.problems().is_empty();
        let n_done = self.counted();
        let total = self.setup.n_trials as usize;
        let resumable = self.continues() && n_done < total;
        let start_label = if resumable && !self.data.trials.is_empty() {
            format!("Resume study ({n_done}/{total})")
        } else {
            "Start".to_string()
        };
        let p = &self.progress;
        let running = matches!(
            self.run,
            RunState::Running | RunState::Paused | RunState::Stopping
        );
        let elapsed = if running {
            (browser::now_ms() - p.run_started) / 1000.0
        } else {
            0.0
        };
        let epoch_frac = if p.parallel() {
            // The mean progress of the trials training at once.
            let n = p.running.len().max(1) as f64;
            p.running
                .values()
                .map(|(e, _)| *e as f64 / p.epochs.max(1) as f64)
                .sum::<f64>()
                / n
        } else if p.epochs > 0 && p.steps_per_epoch > 0 {
            ((p.epoch.saturating_sub(1)) as f64 + p.epoch_step as f64 / p.steps_per_epoch as f64)
                / p.epochs as f64
        } else {
            0.0
        };
        let in_flight = if p.parallel() {
            p.running.len()
        } else {
            usize::from(self.live.trial.is_some())
        };
        let epoch_label = match (
            p.parallel(),
            p.running.values().map(|(e, _)| *e).min(),
            p.running.values().map(|(e, _)| *e).max(),
        ) {
            (true, Some(lo), Some(hi)) if lo != hi => format!("epochs {lo}–{hi}/{}", p.epochs),
            (true, Some(e), _) => format!("epoch {e}/{}", p.epochs),
            (true, None, _) => "starting trials".to_string(),
            (false, ..) => format!("epoch {}/{}", p.epoch, p.epochs),
        };
        let remaining = if p.parallel() {
            // Trials end at the run's rate; the running ones are partly done.
            let left = total.saturating_sub(n_done) as f64 - epoch_frac * in_flight as f64;
            let rate = p.ended as f64 / elapsed.max(1e-9);
            let mut r = if p.ended > 0 {
                left.max(0.0) / rate
            } else {
                f64::NAN
            };
            if self.setup.time_limit_s > 0 {
                r = r.min((f64::from(self.setup.time_limit_s) - elapsed).max(0.0));
            }
            r
        } else {
            let left = total.saturating_sub(n_done) as f64;
            let per = if p.durations.is_empty() {
                if epoch_frac > 0.02 {
                    (browser::now_ms() - p.trial_started) / 1000.0 / epoch_frac
                } else {
                    f64::NAN
                }
            } else {
                p.durations.iter().sum::<f64>() / p.durations.len() as f64
            };
            let mut r = per * (left - epoch_frac).max(0.0);
            if self.setup.time_limit_s > 0 {
                r = r.min((f64::from(self.setup.time_limit_s) - elapsed).max(0.0));
            }
            r
        };
        html! {
            <section class="status card">
                <div class="controls">
                    if self.run == RunState::Idle {
                        <button class="btn primary" data-testid="start" disabled={!valid}
                            title={if valid { "" } else { "fix the setup first" }}
                            onclick={link.callback(|_| Msg::Start)}>{ start_label }</button>
                    } else {
                        if self.run == RunState::Paused {
                            <button class="btn primary" data-testid="resume" onclick={link.callback(|_| Msg::Resume)}>{ "Resume" }</button>
                        } else {
                            <button class="btn" data-testid="pause" disabled={self.run != RunState::Running} onclick={link.callback(|_| Msg::Pause)}>{ "Pause" }</button>
                        }
                        <button class="btn danger" data-testid="stop" disabled={self.run == RunState::Stopping} onclick={link.callback(|_| Msg::Stop)}>{ if self.run == RunState::Stopping { "Stopping…" } else { "Stop" } }</button>
                    }
                    <div class="progress" data-testid="progress">
                        <div class="progress-line">
                            <span data-testid="trial-count"><strong>{ format!("Trial {}/{}", (n_done + in_flight).min(total.max(1)), total) }</strong></span>
                            if running && p.parallel() {
                                <span data-testid="in-flight">{ format!("{in_flight} at once") }</span>
                            }
                            if running {
                                <span>{ epoch_label }</span>
                                <span>{ format!("elapsed {}", fmt_duration(elapsed)) }</span>
                                <span>{ format!("remaining {}", if remaining.is_finite() { fmt_duration(remaining) } else { "–".into() }) }</span>
                                <span data-testid="throughput">{ format!("{} samples/s", short(p.samples_per_sec)) }</span>
                            }
                            <span class={classes!("state", format!("state-{:?}", self.run).to_lowercase())} data-testid="run-state">{ match self.run {
                                RunState::Idle => "idle",
                                RunState::Starting => "starting…",
                                RunState::Running => "training",
                                RunState::Paused => "paused",
                                RunState::Stopping => "stopping",
                            } }</span>
                        </div>
                        <div class="bar-outer" title="epoch progress"><div class="bar-inner" style={format!("width:{:.1}%", epoch_frac * 100.0)}></div></div>
                        <div class="bar-outer thin" title="study progress"><div class="bar-inner alt" style={format!("width:{:.1}%", n_done as f64 / total.max(1) as f64 * 100.0)}></div></div>
                    </div>
                </div>
                if let Some(note) = &self.backend_note {
                    <p class="backend-note" data-testid="backend-note">{ note.clone() }</p>
                }
                if let Some(note) = &self.engine_note {
                    <p class="backend-note" data-testid="engine-note">{ note.clone() }</p>
                }
                { for self.notices.iter().map(|n| {
                    let id = n.id;
                    html! {
                        <div class={classes!("notice", n.level)} role={if n.level == "error" { "alert" } else { "status" }} data-testid={format!("notice-{}", n.id)}>
                            <span>{ n.text.clone() }</span>
                            <button class="icon" aria-label="dismiss" onclick={link.callback(move |_| Msg::Dismiss(id))}>{ "×" }</button>
                        </div>
                    }
                }) }
            </section>
        }
    }

    fn curves_of(&self, n: u64) -> (Vec<Series>, Vec<Series>) {
        let (train, vl, va) = if self.live.trial == Some(n) {
            (
                self.live.train.clone(),
                self.live.val_loss.clone(),
                self.live.val_acc.clone(),
            )
        } else if let Some(t) = self.data.trials.get(n as usize) {
            let pts = |k: &str| {
                t.series
                    .get(k)
                    .map(|v| v.iter().map(|p| (p.step as f64, p.value)).collect())
                    .unwrap_or_default()
            };
            (pts("train/loss"), pts("val/loss"), pts("val/accuracy"))
        } else {
            Default::default()
        };
        let spe = self.live.steps_per_epoch.max(1) as f64;
        // Train loss is per step; plot it in epochs so it lines up with validation.
        let spe = if self.live.trial == Some(n) {
            spe
        } else {
            let max_step = train.last().map_or(1.0, |p| p.0);
            let epochs = vl.last().map_or(1.0, |p| p.0).max(1.0);
            (max_step / epochs).max(1.0)
        };
        let loss = vec![
            Series {
                name: "train loss".into(),
                color: "#3b6fd8".into(),
                points: train.iter().map(|p| (p.0 / spe, p.1)).collect(),
                faint: false,
                dashed: false,
            },
            Series {
                name: "val loss".into(),
                color: "#e8743b".into(),
                points: vl,
                faint: false,
                dashed: false,
            },
        ];
        let acc = vec![Series {
            name: "val accuracy".into(),
            color: "#19a979".into(),
            points: va,
            faint: false,
            dashed: false,
        }];
        (loss, acc)
    }

    fn view_live(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let sel = self.selected;
        let (loss, acc) = sel.map(|n| self.curves_of(n)).unwrap_or_default();
        let trial = sel.and_then(|n| self.data.trials.get(n as usize));
        let title = match (sel, trial) {
            (Some(n), Some(t)) => format!("Trial {n} · {}", t.state.name().to_lowercase()),
            (Some(n), None) => format!("Trial {n}"),
            _ => "No trial yet".into(),
        };
        let params = trial
            .map(|t| {
                t.params()
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", fmt_param(v)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default();
        let boundary = sel.and_then(|n| self.boundaries.get(&n).cloned());
        html! {
            <section class="card live">
                <div class="card-head">
                    <h2 data-testid="live-title">{ title }</h2>
                    <div class="tools">
                        <label class="check"><input type="checkbox" data-testid="log-scale" checked={self.log_y} onchange={link.callback(|_| Msg::ToggleLog)} />{ "log scale" }</label>
                        <label class="slider">{ "smoothing" }
                            <input type="range" min="0" max="0.95" step="0.05" data-testid="smoothing" value={self.smoothing.to_string()}
                                oninput={link.callback(|e: InputEvent| Msg::Smoothing(value_of(e.as_ref()).parse().unwrap_or(0.0)))} />
                            <span class="muted">{ format!("{:.2}", self.smoothing) }</span>
                        </label>
                    </div>
                </div>
                if !params.is_empty() { <p class="params muted small" data-testid="live-params">{ params }</p> }
                <div class={classes!("live-grid", (!self.setup.dataset.is_2d() || self.synthetic).then_some("no-boundary"))}>
                    <LineChart series={Rc::new(loss)} log_y={self.log_y} smoothing={self.smoothing} x_label="epoch" y_label="loss" id="curve-loss" empty="Loss curves appear as the trial trains" compact=true />
                    <LineChart series={Rc::new(acc)} smoothing={self.smoothing} x_label="epoch" y_label="accuracy" id="curve-acc" empty="Validation accuracy appears after the first epoch" compact=true />
                    if self.setup.dataset.is_2d() && !self.synthetic {
                        <BoundaryView grid={boundary.unwrap_or_default()} n={self.boundary_n} points={self.points.clone()}
                            caption={AttrValue::from(if sel.is_some() { "decision boundary (orange: class 0, blue: class 1)" } else { "the decision boundary appears as a trial trains" })} />
                    }
                </div>
            </section>
        }
    }

    fn view_study(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let on_select = link.callback(Msg::Select);
        let best = self.data.best();
        let tabs: [(&'static str, &str); 6] = [
            ("history", "History"),
            ("intermediate", "Intermediate values"),
            ("parallel", "Parallel coordinates"),
            ("slice", "Slices"),
            ("importance", "Importances"),
            ("contour", "Contour"),
        ];
        let body = match self.tab {
            "intermediate" => {
                html! { <IntermediateChart data={self.data.clone()} log_y={self.log_y} /> }
            }
            "parallel" => html! { <ParallelChart data={self.data.clone()} log_y={self.log_y} /> },
            "slice" => html! { <SliceCharts data={self.data.clone()} log_y={self.log_y} /> },
            "importance" => html! { <ImportanceChart importances={self.importances.clone()} /> },
            "contour" => html! { <ContourChart data={self.data.clone()} /> },
            _ => {
                html! { <HistoryChart data={self.data.clone()} log_y={self.log_y} on_select={on_select} /> }
            }
        };
        html! {
            <div class="study-row">
                <section class="card plots">
                    <div class="tabs" role="tablist">
                        { for tabs.iter().map(|(id, label)| {
                            let id = *id;
                            html! {
                                <button role="tab" class={classes!("tab", (self.tab == id).then_some("active"))} data-testid={format!("tab-{id}")}
                                    aria-selected={(self.tab == id).to_string()} onclick={link.callback(move |_| Msg::Tab(id))}>{ *label }</button>
                            }
                        }) }
                    </div>
                    { body }
                </section>
                <section class="card best" data-testid="best-card">
                    <h2>{ "Best trial" }</h2>
                    if let Some(b) = best {
                        <div class="best-value">{ precise(b.value().unwrap_or(f64::NAN)) }</div>
                        <div class="muted small">{ format!("{} · trial {}", self.setup.objective.label(), b.number) }</div>
                        <table class="kv">
                            { for b.params().iter().map(|(k, v)| html! { <tr><th>{ k.clone() }</th><td>{ fmt_param(v) }</td></tr> }) }
                            if let Some(d) = b.duration() {
                                <tr><th>{ "duration" }</th><td>{ fmt_duration(d.as_seconds_f64()) }</td></tr>
                            }
                        </table>
                        <button class="btn small ghost" onclick={link.callback({ let n = b.number; move |_| Msg::Select(n) })}>{ "Show its curves" }</button>
                    } else {
                        <p class="muted">{ "The best trial appears when one completes." }</p>
                    }
                    <div class="counts">
                        { for [TrialState::Complete, TrialState::Pruned, TrialState::Fail, TrialState::Running].iter().map(|st| {
                            let n = self.data.trials.iter().filter(|t| t.state == *st).count();
                            html! { <span class={classes!("pill", st.name().to_lowercase())}>{ format!("{} {}", n, st.name().to_lowercase()) }</span> }
                        }) }
                    </div>
                </section>
            </div>
        }
    }

    fn view_table(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let trials = &self.data.trials;
        let axes = self.data.axes();
        let order = sort_trials(trials, &self.sort.0, self.sort.1);
        let pages = order.len().div_ceil(PAGE).max(1);
        let page = self.page.min(pages - 1);
        let head = |label: String, col: Column| {
            let arrow = if self.sort.0 == col {
                if self.sort.1 { " ▲" } else { " ▼" }
            } else {
                ""
            };
            html! { <th><button class="th" onclick={link.callback(move |_| Msg::Sort(col.clone()))}>{ format!("{label}{arrow}") }</button></th> }
        };
        html! {
            <section class="card table-card">
                <h2>{ format!("Trials ({})", trials.len()) }</h2>
                <div class="table-wrap">
                    <table class="trials" data-testid="trials-table">
                        <thead><tr>
                            { head("#".into(), Column::Number) }
                            { head("state".into(), Column::State) }
                            { head("value".into(), Column::Value) }
                            { for axes.iter().map(|a| head(a.name.clone(), Column::Param(a.name.clone()))) }
                            { head("duration".into(), Column::Duration) }
                        </tr></thead>
                        <tbody>
                            { for order.iter().skip(page * PAGE).take(PAGE).map(|&i| {
                                let t = &trials[i];
                                let n = t.number;
                                html! {
                                    <tr class={classes!((self.selected == Some(n)).then_some("selected"))} data-testid="trial-row"
                                        onclick={link.callback(move |_| Msg::Select(n))}>
                                        <td>{ n }</td>
                                        <td><span class={classes!("pill", t.state.name().to_lowercase())}>{ t.state.name().to_lowercase() }</span></td>
                                        <td>{ t.value().map_or("–".into(), precise) }</td>
                                        { for axes.iter().map(|a| html! { <td>{ t.param(&a.name).map_or("–".into(), |v| fmt_param(&v)) }</td> }) }
                                        <td>{ t.duration().map_or("–".into(), |d| fmt_duration(d.as_seconds_f64())) }</td>
                                    </tr>
                                }
                            }) }
                        </tbody>
                    </table>
                </div>
                if pages > 1 {
                    <div class="pager">
                        <button class="btn small ghost" disabled={page == 0} onclick={link.callback(move |_| Msg::Page(page.saturating_sub(1)))}>{ "‹ prev" }</button>
                        <span class="muted">{ format!("page {} of {pages}", page + 1) }</span>
                        <button class="btn small ghost" disabled={page + 1 >= pages} onclick={link.callback(move |_| Msg::Page(page + 1))}>{ "next ›" }</button>
                    </div>
                }
            </section>
        }
    }

    fn view_downloads(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let have = self.study_name.is_some() && !self.data.trials.is_empty();
        let items: [(ExportFormat, &str, &str); 5] = [
            (
                ExportFormat::Zip,
                "Everything (zip)",
                "TensorBoard, W&B, journal and CSV",
            ),
            (
                ExportFormat::TensorBoard,
                "TensorBoard logdir",
                "tensorboard --logdir",
            ),
            (ExportFormat::Wandb, "W&B offline runs", "wandb sync"),
            (
                ExportFormat::Optuna,
                "Optuna journal",
                "optuna-dashboard, JournalStorage",
            ),
            (ExportFormat::Csv, "CSV", "pandas, spreadsheets"),
        ];
        html! {
            <section class="card downloads">
                <h2>{ "Keep it" }</h2>
                <div class="dl-row">
                    { for items.iter().map(|(f, label, hint)| {
                        let f = *f;
                        html! {
                            <button class="btn dl" disabled={!have} data-testid={format!("download-{}", f.name())}
                                onclick={link.callback(move |_| Msg::Download(f))}>
                                <span>{ *label }</span><small>{ *hint }</small>
                            </button>
                        }
                    }) }
                </div>
                <p class="muted small">{ "Studies are saved in this browser after every trial; Share link copies a URL with the whole setup." }</p>
            </section>
        }
    }
}

fn fmt_param(v: &sweeplab_core::ParamValue) -> String {
    match v {
        sweeplab_core::ParamValue::Float(f) => precise(*f),
        other => other.to_string(),
    }
}
