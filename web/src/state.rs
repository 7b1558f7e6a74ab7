//! The playground's state and everything that changes it: [`State`], the [`Action`]s the
//! page and its worker produce, and [`reduce`], which applies one action and returns the
//! [`Effect`]s the page must carry out (start a worker, save to IndexedDB, set the URL
//! hash, …).
//!
//! It is pure: no browser call happens here (the clock comes in as an [`Env`]), so it is
//! tested natively. `app.rs` is the shell that runs the effects and hands the state's parts
//! to the components in `components/`.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sweeplab_core::config::PrunerConfig;
use sweeplab_core::export::{
    ExportFormat, ExportOptions, export_study, journal_for_study, zip_files,
};
use sweeplab_core::importance::param_importances;
use sweeplab_core::storage::journal::{CompactWriter, JournalStorage, parse_journal};
use sweeplab_core::store::fail_running;
use sweeplab_core::vocab::{AdapterProbe, BackendKind, ProgressEvent};
use sweeplab_core::{FrozenTrial, Json, StudyView, TrialState};

use crate::data::{Column, StudyData};
use crate::lesson::Lesson;
use crate::protocol::{FromWorker, SETUP_ATTR, ToWorker};
use crate::setup::{BackendChoice, Setup};
use crate::yaml::setup_from_yaml;

/// How often a live synthetic study's next trial arrives.
pub const SYNTHETIC_EVERY_MS: u32 = 150;

/// The worker id the page's journal lines carry.
pub const WORKER_ID: &str = "sweeplab-browser";

/// A change to the setup.
pub type Edit = Rc<dyn Fn(&mut Setup)>;

/// Where the run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunState {
    /// Nothing running.
    #[default]
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
    /// A language-model trial's latest text sample: `(epoch, prompt, text)`.
    pub sample: Option<(usize, String, String)>,
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
    /// Time spent paused by the pauses that ended (ms): elapsed and remaining times leave
    /// it out.
    pub paused_ms: f64,
    /// When the pause in progress began, if the run is paused.
    pub paused_at: Option<f64>,
    /// [`Progress::paused_total`] when the running trial started.
    pub trial_paused_base: f64,
}

impl Progress {
    /// All the time this run has spent paused until `now_ms`.
    pub fn paused_total(&self, now_ms: f64) -> f64 {
        self.paused_ms + self.paused_at.map_or(0.0, |t| (now_ms - t).max(0.0))
    }

    /// Seconds the run has trained (paused time left out).
    pub fn elapsed_s(&self, now_ms: f64) -> f64 {
        (now_ms - self.run_started - self.paused_total(now_ms)).max(0.0) / 1000.0
    }

    /// Seconds the running trial has trained (paused time left out).
    pub fn trial_elapsed_s(&self, now_ms: f64) -> f64 {
        let paused = self.paused_total(now_ms) - self.trial_paused_base;
        (now_ms - self.trial_started - paused).max(0.0) / 1000.0
    }

    /// A pause began at `now_ms`.
    pub fn pause(&mut self, now_ms: f64) {
        self.paused_at.get_or_insert(now_ms);
    }

    /// The pause in progress ended at `now_ms`.
    pub fn resume(&mut self, now_ms: f64) {
        if let Some(t) = self.paused_at.take() {
            self.paused_ms += (now_ms - t).max(0.0);
        }
    }

    /// Whether several trials train at once.
    pub fn parallel(&self) -> bool {
        self.slots > 1
    }
}

/// The summary of a saved study (kept in IndexedDB next to its journal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyMeta {
    /// Storage key (also the study's name in the journal).
    pub id: String,
    /// When it was created (ms since the epoch).
    pub created_ms: f64,
    /// When it was last saved.
    pub updated_ms: f64,
    /// Its setup.
    pub setup: Setup,
    /// Finished trials.
    pub finished: usize,
    /// The best value so far.
    pub best: Option<f64>,
}

/// A saved entry as listed: the summary, or why it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum Listed {
    /// A readable summary.
    Ok(StudyMeta),
    /// An entry whose summary is corrupt: its key and the error.
    Corrupt(String, String),
}

/// What the WebGPU adapter probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuProbe {
    /// `navigator.gpu` exists.
    pub api: bool,
    /// An adapter was granted.
    pub adapter: bool,
    /// The adapter is a software one (SwiftShader, llvmpipe, WARP, a fallback adapter).
    pub software: bool,
    /// The adapter's description (vendor, architecture, device).
    pub description: String,
}

/// The W&B sweep YAML box.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct YamlBox {
    /// Shown.
    pub open: bool,
    /// The text typed, pasted or uploaded.
    pub text: String,
    /// Why the last "Fill the editor" failed.
    pub error: Option<String>,
}

/// How the plots and the table are shown.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewOptions {
    /// Log-scale y axes.
    pub log_y: bool,
    /// Smoothing weight of the curves.
    pub smoothing: f64,
    /// The table's sort column and whether ascending.
    pub sort: (Column, bool),
    /// The first row of the trials table in view (the table draws the rows around it).
    pub table_top: usize,
    /// The plot tab.
    pub tab: &'static str,
    /// Milliseconds the trainer waits after every step, to watch a small model learn.
    pub step_delay_ms: u32,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions {
            log_y: false,
            smoothing: 0.0,
            sort: (Column::Number, false),
            table_top: 0,
            tab: "history",
            step_delay_ms: 0,
        }
    }
}

/// What the reducer needs from the outside world: the clocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Env {
    /// Milliseconds since the page started (`performance.now()`).
    pub now_ms: f64,
    /// Milliseconds since the Unix epoch.
    pub epoch_ms: f64,
    /// The local time as `YYYY-MM-DD-hh-mm-ss`, for new studies' names.
    pub stamp: String,
}

/// What a save writes of a study's journal. The saved journal is a compact base and the
/// lines appended after it, so that a study saved after every trial writes each trial's
/// lines once instead of the whole study every time.
#[derive(Clone, Debug, PartialEq)]
pub enum JournalSave {
    /// The whole journal, compacted: it replaces the saved base and every appended chunk.
    Whole(String),
    /// Journal lines appended after the saved ones, as chunk number `seq`.
    Append {
        /// The chunk's number (chunks are read back in this order).
        seq: u64,
        /// The lines.
        lines: String,
    },
}

impl JournalSave {
    /// The saved journal `base` with `chunks` appended, as [`crate::store`] reads it back.
    pub fn read_back(base: &str, chunks: &[String]) -> String {
        let mut out =
            String::with_capacity(base.len() + chunks.iter().map(String::len).sum::<usize>());
        out.push_str(base);
        for c in chunks {
            out.push_str(c);
        }
        out
    }
}

/// Chunks appended after a whole save before the next save is whole again (loading reads
/// the base and every chunk).
const MAX_CHUNKS: u64 = 256;

/// Where the study's saves stand.
#[derive(Clone, Debug, Default)]
struct Saves {
    /// A save is being written (its [`Action::Saved`] has not come).
    in_flight: bool,
    /// A save was asked for while one was in flight: made when it is answered.
    pending: bool,
    /// The study's base has been saved since its storage was last replaced, and every
    /// chunk since succeeded: the next save may append.
    base_saved: bool,
    /// The next chunk's number (chunks since the base).
    next_seq: u64,
    /// Journal lines applied since the last save.
    unsaved: String,
    /// The trial whose LoRA adapters the browser holds for this study (saved, or in the
    /// save in flight): a save carries the best trial's when they differ.
    adapter_saved: Option<u64>,
}

/// Whether `fresh` is still the finished trial `seen` was (a finished trial changes only
/// when the page fails one a closed tab left running, or a foreign writer adds to it).
fn unchanged(seen: &FrozenTrial, fresh: &FrozenTrial) -> bool {
    seen.state == fresh.state
        && seen.values == fresh.values
        && seen.datetime_complete == fresh.datetime_complete
        && seen.intermediate_values.len() == fresh.intermediate_values.len()
        && seen.user_attrs.len() == fresh.user_attrs.len()
        && seen.system_attrs.len() == fresh.system_attrs.len()
}

/// A LoRA trial's adapters as PEFT writes them.
#[derive(Clone, Debug, PartialEq)]
pub struct LmAdapter {
    /// `adapter_model.safetensors`.
    pub safetensors: Vec<u8>,
    /// `adapter_config.json`.
    pub config: String,
}

/// The whole page's state.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// The setup being edited.
    pub setup: Setup,
    /// The YAML import box.
    pub yaml: YamlBox,
    /// The current study's name.
    pub study_name: Option<String>,
    /// When the current study was created (ms since the epoch).
    pub created_ms: f64,
    /// The page's copy of the study's journal.
    pub storage: JournalStorage,
    /// The study as the plots and the table see it.
    pub data: StudyData,
    /// PED-ANOVA importances of the completed trials.
    pub importances: Rc<Vec<(String, f64)>>,
    /// Writes the study's compact journal for saves, reusing finished trials' lines.
    compact: CompactWriter,
    /// Where the study's saves stand.
    saves: Saves,
    /// The study and the number of its completed trials [`State::importances`] were
    /// computed from.
    importances_of: Option<(String, usize)>,
    /// Where the run is.
    pub run: RunState,
    /// The backend of the running worker.
    pub worker: Option<BackendKind>,
    /// Which backend trains, and why (the technical detail).
    pub backend_note: Option<String>,
    /// Step mode: the run pauses after each trial ("Next trial" runs one more).
    pub step_mode: bool,
    /// Trials record each layer's weight and gradient histograms (the Weights tab).
    pub histograms: bool,
    /// A language-model study trains its baselines once its trials are done (the
    /// Baselines card).
    pub baselines: bool,
    /// The baseline training now, once the trials are done: its name, index and the count.
    pub baseline_phase: Option<(String, usize, usize)>,
    /// The LoRA adapters of the current study's best trial and running trials, by study
    /// name and trial number (the best trial's are saved with the study and read back when
    /// it is opened; the download offers them).
    pub adapters: BTreeMap<(String, u64), Rc<LmAdapter>>,
    /// The lesson open beside the study, if any.
    pub lesson: Option<OpenLesson>,
    /// The CPU trains though the setup did not ask for it (no usable GPU, or the GPU
    /// failed): the page says so in plain words, with the note one click away.
    pub cpu_fallback: bool,
    /// What setups cost on this device, as measured (per setup and backend).
    pub estimates: Vec<Estimate>,
    /// The cost key ([`Setup::cost_key`]) and backend being measured now, if any.
    pub estimating: Option<(String, BackendKind)>,
    /// The last WebGPU probe (an estimate needs the backend Start would pick).
    pub probe: Option<GpuProbe>,
    /// Which engine trains, and why.
    pub engine_note: Option<String>,
    /// Messages above the charts.
    pub notices: Vec<Notice>,
    /// The running trial's curves.
    pub live: Live,
    /// The run's progress.
    pub progress: Progress,
    /// The trial whose curves are shown.
    pub selected: Option<u64>,
    /// Whether the user picked the selected trial (the page then stops following the run).
    pub user_selected: bool,
    /// When the study was last saved (`performance.now()`).
    pub last_save_ms: f64,
    /// When an epoch of the running trial last refreshed the study plots.
    pub last_live_refresh_ms: f64,
    /// Decision boundaries by trial (2-D sets).
    pub boundaries: BTreeMap<u64, Rc<Vec<f32>>>,
    /// The boundary grid's side.
    pub boundary_n: usize,
    /// The data set's points (2-D sets).
    pub points: Rc<Vec<(f32, f32, u8)>>,
    /// How the plots and the table are shown.
    pub view: ViewOptions,
    /// The saved studies, once listed.
    pub saved: Option<Vec<Listed>>,
    /// The saved-study panel is open.
    pub saved_open: bool,
    /// The study is a synthetic one (`#synthetic=N`), not saved (unless `&save=1`).
    pub synthetic: bool,
    /// A synthetic study's trials still to arrive, one journal line each (`&live=K`): they
    /// come one at a time, as a worker's would, to measure how fast the page follows.
    pub synthetic_pending: Vec<String>,
    /// The share link was copied.
    pub share_copied: bool,
}

/// Something that happened: the user's input, a worker's message, a browser call's answer.
pub enum Action {
    /// Change the setup.
    Edit(Edit),
    /// Record weight and gradient histograms in the next run (or not).
    Histograms(bool),
    /// Train a language-model study's baselines after its trials (or not).
    Baselines(bool),
    /// Load a preset.
    Preset(&'static str),
    /// Show or hide the YAML box.
    ToggleYaml,
    /// YAML text typed, pasted or read from a file.
    YamlText(String),
    /// Apply the YAML text.
    YamlApply,
    /// Start (or resume) the study.
    Start,
    /// The GPU probe answered.
    Probed(GpuProbe),
    /// The worker could not be started.
    SpawnFailed(String),
    /// Pause training.
    Pause,
    /// Resume training (continuously).
    Resume,
    /// Step mode: run one more trial, then pause (from idle it starts the study so).
    NextTrial,
    /// Milliseconds to wait after every training step (0: full speed).
    Speed(u32),
    /// Stop training.
    Stop,
    /// A worker message.
    Worker(FromWorker),
    /// The worker crashed (or sent something that does not parse).
    WorkerCrashed(String),
    /// A message to the worker could not be sent.
    SendFailed(String),
    /// Select a trial for the curves.
    Select(u64),
    /// Toggle the log scale.
    ToggleLog,
    /// Smoothing weight.
    Smoothing(f64),
    /// Sort the table.
    Sort(Column),
    /// The trials table was scrolled: the first row in view.
    TableScroll(usize),
    /// Download an export.
    Download(ExportFormat),
    /// Download the study as an Optuna SQLite database (`study.db`).
    DownloadSqlite,
    /// Download the best trial's LoRA adapters (PEFT's files, zipped).
    DownloadAdapter,
    /// A download that took a while to make (`study.db`) was offered under this name.
    Downloaded(String),
    /// A download failed.
    DownloadFailed(String),
    /// Start afresh.
    NewStudy,
    /// Show the saved studies.
    ToggleSaved,
    /// The saved-study list arrived.
    Listed(Result<Vec<Listed>, String>),
    /// Open a saved study.
    Open(String),
    /// A saved study was read.
    Opened(Result<(StudyMeta, String), String>),
    /// The LoRA adapters saved with a study were read: the trial they belong to and them,
    /// or `None` if it has none.
    AdapterLoaded {
        /// The study.
        id: String,
        /// What was read.
        adapter: Result<Option<(u64, LmAdapter)>, String>,
    },
    /// Delete a saved study.
    Delete(String),
    /// A save finished.
    Saved(Result<(), String>),
    /// The next trial of a live synthetic study (`#synthetic=N&live=K`) arrives.
    SyntheticNext,
    /// Copy the share link.
    Share,
    /// Dismiss a notice.
    Dismiss(&'static str),
    /// The chart tab.
    Tab(&'static str),
    /// The URL hash changed (a pasted link); the new hash.
    HashChanged(String),
    /// The page opened with this URL hash.
    Opening(String),
    /// Show step N (from 0) of the open lesson, with its setup.
    LessonStep(usize),
    /// Close the lesson.
    LessonClose,
    /// The setup has been still for a moment: measure what it costs, if not known yet.
    EstimateDue,
    /// WebGPU was probed for an estimate.
    ProbedForEstimate(GpuProbe),
    /// The estimating worker answered ([`FromWorker::Estimated`], or an error).
    Estimator(FromWorker),
    /// The estimating worker could not start or crashed.
    EstimatorFailed(String),
}

/// What the shell must do after an action.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Probe WebGPU, then dispatch [`Action::Probed`].
    ProbeGpu,
    /// Start a worker for `kind` and send it `start`; dispatch [`Action::SpawnFailed`] if
    /// it cannot start.
    SpawnWorker {
        /// The worker's backend.
        kind: BackendKind,
        /// Its first message.
        start: ToWorker,
    },
    /// Send a message to the running worker; dispatch [`Action::SendFailed`] on failure.
    Send(ToWorker),
    /// Terminate the worker (if any) and stop the clock.
    EndWorker,
    /// Save the study in IndexedDB, then dispatch [`Action::Saved`]. One save at a time:
    /// the next is made when this one is answered.
    Save {
        /// Its summary.
        meta: StudyMeta,
        /// What of its journal is written.
        journal: JournalSave,
        /// The best trial's LoRA adapters, when the browser does not hold them yet: they
        /// replace the study's saved ones, so that a reload still offers their download.
        adapter: Option<(u64, Rc<LmAdapter>)>,
    },
    /// Read the LoRA adapters saved with study `id`, then dispatch
    /// [`Action::AdapterLoaded`].
    LoadAdapter(String),
    /// List the saved studies, then dispatch [`Action::Listed`].
    List,
    /// List the saved studies and open the one `pick` chooses (the study named `wanted`,
    /// or with `None` the latest), else dispatch [`Action::Listed`].
    Restore {
        /// The study the link names, if any.
        wanted: Option<String>,
    },
    /// Read a saved study, then dispatch [`Action::Opened`].
    Load(String),
    /// Delete a saved study, then list again.
    Delete(String),
    /// Set the URL hash (without `#`).
    SetHash(String),
    /// Copy the page's URL with this hash.
    CopyLink(String),
    /// Load the SQLite module, write the study's database with it and offer it as `name`;
    /// dispatch [`Action::DownloadFailed`] on failure.
    DownloadSqlite {
        /// File name.
        name: String,
        /// The study as a compact Optuna journal (what the module reads).
        journal: String,
    },
    /// Dispatch [`Action::SyntheticNext`] after this many milliseconds.
    SyntheticNextIn(u32),
    /// Dispatch [`Action::EstimateDue`] after this many milliseconds.
    EstimateIn(u32),
    /// Probe WebGPU, then dispatch [`Action::ProbedForEstimate`].
    ProbeForEstimate,
    /// Start a worker for `kind` that measures the setup's cost (`start` is a
    /// [`ToWorker::Estimate`]); its answer comes as [`Action::Estimator`], a failure as
    /// [`Action::EstimatorFailed`].
    SpawnEstimator {
        /// The backend measured.
        kind: BackendKind,
        /// The request.
        start: ToWorker,
    },
    /// Terminate the estimating worker, if any.
    EndEstimator,
    /// Offer a file for download; dispatch [`Action::DownloadFailed`] on failure.
    Download {
        /// File name.
        name: String,
        /// MIME type.
        mime: &'static str,
        /// Contents.
        bytes: Vec<u8>,
    },
}

/// What a setup costs on this device: a typical trial measured for half a second.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The setup's [`Setup::cost_key`] when measured.
    pub key: String,
    /// The backend it was asked for.
    pub kind: BackendKind,
    /// The backend that ran (the CPU when a GPU could not start).
    pub measured: BackendKind,
    /// Seconds per epoch of a typical trial.
    pub secs_per_epoch: f64,
    /// The measurement failed (the reason); nothing is shown and it is not retried for this
    /// key.
    pub failed: Option<String>,
}

/// A lesson open on the page, and the step it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenLesson {
    /// Its name among the shipped ones; empty for a lesson carried in the link.
    pub name: String,
    /// The link's lesson text (for a lesson not shipped), so the URL keeps carrying it.
    pub source: Option<String>,
    /// The lesson.
    pub lesson: Rc<Lesson>,
    /// The step shown (from 0).
    pub step: usize,
}

impl OpenLesson {
    /// The setup at step `step`: the lesson's, with every step's changes up to it.
    fn setup_at(&self, step: usize) -> Result<Setup, String> {
        let mut s = self.lesson.start_setup()?;
        for st in self.lesson.steps.iter().take(step + 1) {
            s = st.apply(&s)?;
        }
        Ok(s)
    }
}

/// How long the setup must stay unchanged before its cost is measured (ms).
pub const ESTIMATE_DELAY_MS: u32 = 1200;

impl State {
    /// The backends whose cost the page shows for this setup: the one Start would use, and
    /// WebGPU as well when Start would use the CPU though a hardware GPU is there ("≈ 40 min
    /// on this CPU; ≈ 4 min with WebGPU"). Empty before WebGPU was probed.
    fn estimate_kinds(&self) -> Vec<BackendKind> {
        let Some(p) = &self.probe else {
            return Vec::new();
        };
        let (primary, _) = self.decide_backend(p);
        let mut kinds = vec![primary];
        if primary == BackendKind::Flex && p.api && p.adapter && !p.software {
            kinds.push(BackendKind::Wgpu);
        }
        kinds
    }

    /// The measurement of this setup on `kind`, if there is one.
    fn estimate_for(&self, key: &str, kind: BackendKind) -> Option<&Estimate> {
        self.estimates
            .iter()
            .find(|e| e.key == key && e.kind == kind)
    }

    /// What the study will take on this device, for the line under the presets and next to
    /// Start: "≈ 40 min on this CPU", measured for this setup; `None` before it is.
    pub fn estimate_text(&self) -> Option<String> {
        if self.synthetic {
            return None;
        }
        let key = self.setup.cost_key();
        let kinds = self.estimate_kinds();
        let study = |e: &Estimate| {
            crate::data::fmt_rough(
                e.secs_per_epoch * f64::from(self.setup.n_trials) * f64::from(self.setup.epochs),
            )
        };
        let measured = |k: &BackendKind| self.estimate_for(&key, *k).filter(|e| e.failed.is_none());
        match kinds.first().and_then(measured) {
            Some(e) => {
                let on = match e.measured {
                    BackendKind::Flex => "on this CPU",
                    BackendKind::Wgpu => "on this GPU (WebGPU)",
                };
                let pruning = if matches!(self.setup.pruner, PrunerConfig::None) {
                    ""
                } else {
                    ", less when trials are pruned"
                };
                let gpu = kinds
                    .get(1)
                    .and_then(measured)
                    .filter(|g| g.measured == BackendKind::Wgpu)
                    .map(|g| format!("; ≈ {} with WebGPU", study(g)))
                    .unwrap_or_default();
                Some(format!("≈ {} {on}{pruning}{gpu}", study(e)))
            }
            None if self.estimating.as_ref().is_some_and(|(k, _)| *k == key) => {
                Some("measuring this device…".into())
            }
            None => None,
        }
    }

    /// Measures the setup's cost on the next backend it is not known for: the page is idle,
    /// the setup valid and real (not a synthetic study).
    fn estimate_due(&mut self) -> Vec<Effect> {
        let key = self.setup.cost_key();
        if self.run != RunState::Idle
            || self.synthetic
            || !self.setup.problems().is_empty()
            || self.estimating.is_some()
        {
            return Vec::new();
        }
        if self.probe.is_none() {
            // The backend Start would use decides what is measured.
            self.estimating = Some((key, BackendKind::Flex));
            return vec![Effect::ProbeForEstimate];
        }
        let Some(kind) = self
            .estimate_kinds()
            .into_iter()
            .find(|k| self.estimate_for(&key, *k).is_none())
        else {
            return Vec::new();
        };
        // Keep the list short: the measurements of recent setups.
        if self.estimates.len() >= 32 {
            self.estimates.remove(0);
        }
        vec![self.spawn_estimator(key, kind)]
    }

    fn spawn_estimator(&mut self, key: String, kind: BackendKind) -> Effect {
        self.estimating = Some((key, kind));
        Effect::SpawnEstimator {
            kind,
            start: ToWorker::Estimate {
                setup: self.setup.clone(),
                backend: kind,
            },
        }
    }

    /// Opens the lesson the URL hash names (`lesson=`, at `step=`), if any; with `set_up`
    /// its setup replaces the page's (a link that also carries a setup keeps that one).
    /// A lesson that cannot be read leaves the page as it is, with a notice.
    fn open_lesson_from(&mut self, hash: &str, set_up: bool) {
        let Some(param) = lesson_of(hash) else {
            return;
        };
        let step: usize = hash
            .trim_start_matches('#')
            .split('&')
            .find_map(|p| p.strip_prefix("step="))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1)
            - 1;
        match Lesson::open(&param) {
            Ok((name, lesson)) => {
                let step = step.min(lesson.steps.len() - 1);
                let open = OpenLesson {
                    source: name.is_empty().then(|| param.clone()),
                    name,
                    lesson,
                    step,
                };
                if set_up {
                    match open.setup_at(step) {
                        Ok(setup) => self.setup = setup,
                        Err(e) => self.notice("lesson", "error", format!("The lesson: {e}")),
                    }
                }
                if let Some(t) = open.lesson.steps[step]
                    .tab
                    .as_deref()
                    .and_then(crate::text::plot_tab)
                {
                    self.view.tab = t;
                }
                self.notices.retain(|n| n.id != "lesson");
                self.lesson = Some(open);
            }
            Err(e) => self.notice(
                "lesson",
                "error",
                format!("This lesson link could not be read: {e}. The page opened as usual."),
            ),
        }
    }

    /// The `lesson=` value the page's own hash carries now.
    fn lesson_param(&self) -> Option<String> {
        self.lesson
            .as_ref()
            .map(|l| l.source.clone().unwrap_or_else(|| l.name.clone()))
    }

    /// A fresh page on `setup`.
    pub fn new(setup: Setup) -> State {
        State {
            setup,
            histograms: true,
            baselines: true,
            ..State::default()
        }
    }

    /// Adds (or replaces) the notice `id`.
    pub fn notice(&mut self, id: &'static str, level: &'static str, text: String) {
        self.notices.retain(|n| n.id != id);
        self.notices.push(Notice { level, text, id });
    }

    /// The trials that count toward the study's budget: finished, not interrupted.
    pub fn counted(&self) -> usize {
        self.data.trials.iter().filter(|t| t.counts()).count()
    }

    /// The baselines the current study keeps (its `baselines` user attribute; none until
    /// they trained).
    pub fn study_baselines(&self) -> Vec<sweeplab_core::baselines::Baseline> {
        self.study_name
            .as_ref()
            .and_then(|name| self.storage.study_by_name(name))
            .map(|s| sweeplab_core::baselines::baselines_of(&s.user_attrs))
            .unwrap_or_default()
    }

    /// The setup stored with the current study.
    pub fn study_setup(&self) -> Option<Setup> {
        let name = self.study_name.as_ref()?;
        let s = self.storage.study_by_name(name)?;
        match s.user_attrs.get(SETUP_ATTR)? {
            Json::Str(t) => Setup::from_json(t).ok(),
            _ => None,
        }
    }

    /// Whether Start continues the current study (same setup but for budget and backend).
    pub fn continues(&self) -> bool {
        let Some(old) = self.study_setup() else {
            return false;
        };
        let mut a = old;
        let mut b = self.setup.clone();
        for s in [&mut a, &mut b] {
            s.n_trials = 0;
            s.time_limit_s = 0;
            s.backend = BackendChoice::Auto;
            s.preset = String::new();
        }
        a == b && !self.synthetic
    }

    /// The URL hash that restores the setup (and the study, when it is saved).
    pub fn hash(&self) -> String {
        let mut h = self.setup.to_hash();
        if let Some(n) = &self.study_name
            && !self.synthetic
        {
            h.push_str(&format!("&study={}", crate::setup::encode_component(n)));
        }
        if let Some(l) = &self.lesson {
            let which = l.source.as_deref().unwrap_or(&l.name);
            h.push_str(&format!(
                "&lesson={}&step={}",
                crate::setup::encode_component(which),
                l.step + 1
            ));
        }
        h
    }

    fn set_hash(&self) -> Effect {
        Effect::SetHash(self.hash())
    }

    /// Rebuilds what the plots see from the journal (and the running trial's live values).
    pub fn refresh(&mut self) {
        let name = self.study_name.clone().unwrap_or_default();
        let study = self.storage.study_by_name(&name);
        let fresh: &[FrozenTrial] = study.map_or(&[], |s| s.trials.as_slice());
        // A finished trial seen before is shared with the last snapshot, not copied: with
        // thousands of trials a new one costs one copy, not thousands.
        let old = &self.data.trials;
        let mut trials: Vec<Rc<FrozenTrial>> = fresh
            .iter()
            .enumerate()
            .map(|(i, t)| match old.get(i) {
                Some(o) if o.state.is_finished() && unchanged(o, t) => o.clone(),
                _ => Rc::new(t.clone()),
            })
            .collect();
        // The running trial's reports arrive live, before its journal lines.
        if let Some(n) = self.live.trial
            && let Some(t) = trials.get_mut(n as usize)
            && t.state == TrialState::Running
        {
            Rc::make_mut(t).intermediate_values = self.live.values.clone();
        }
        let direction = study
            .and_then(|s| s.directions.first().copied())
            .unwrap_or(self.setup.objective.direction());
        self.data = StudyData::new(
            self.data.version + 1,
            direction,
            self.setup.objective.series().to_string(),
            Rc::new(trials),
        );
        self.refresh_importances();
    }

    /// Recomputes the PED-ANOVA importances when the importance chart is shown and the
    /// completed trials changed since they were computed (with thousands of trials they
    /// cost more than every other view together, so no other view waits for them).
    pub fn refresh_importances(&mut self) {
        let completed = self.data.completed().count();
        let name = self.study_name.clone().unwrap_or_default();
        let of = Some((name.clone(), completed));
        if self.view.tab != "importance" || self.importances_of == of {
            return;
        }
        self.importances_of = of;
        self.importances = Rc::new(if completed >= 2 {
            let trials: Vec<&FrozenTrial> = self.data.trials.iter().map(|t| &**t).collect();
            let directions = [self.data.direction];
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

    /// The effect that saves the study, if it is one to save.
    fn save(&mut self, env: &Env) -> Option<Effect> {
        let name = self.study_name.clone()?;
        if self.synthetic || self.storage.study_by_name(&name).is_none() {
            return None;
        }
        if self.saves.in_flight {
            self.saves.pending = true;
            return None;
        }
        let setup = self.study_setup().unwrap_or_else(|| self.setup.clone());
        let meta = StudyMeta {
            id: name,
            created_ms: self.created_ms,
            updated_ms: env.epoch_ms,
            setup: Setup {
                n_trials: self.setup.n_trials,
                ..setup
            },
            finished: self.counted(),
            best: self.data.best().and_then(FrozenTrial::value),
        };
        let adapter = self
            .best_adapter()
            .filter(|(trial, _)| self.saves.adapter_saved != Some(*trial));
        if let Some((trial, _)) = &adapter {
            self.saves.adapter_saved = Some(*trial);
        }
        Some(Effect::Save {
            meta,
            journal: self.journal_save(),
            adapter,
        })
    }

    /// What the next save writes of the journal (a save is being made).
    fn journal_save(&mut self) -> JournalSave {
        self.saves.in_flight = true;
        if !self.saves.base_saved || self.saves.next_seq >= MAX_CHUNKS {
            self.saves.base_saved = true;
            self.saves.next_seq = 0;
            self.saves.unsaved.clear();
            JournalSave::Whole(self.compact.write(&self.storage, WORKER_ID))
        } else {
            let seq = self.saves.next_seq;
            self.saves.next_seq += 1;
            JournalSave::Append {
                seq,
                lines: std::mem::take(&mut self.saves.unsaved),
            }
        }
    }

    /// The study's storage was replaced (a new, opened or restarted study): its next save
    /// writes it whole.
    fn storage_replaced(&mut self) {
        self.saves.base_saved = false;
        self.saves.unsaved.clear();
        self.saves.adapter_saved = None;
    }

    fn start_worker(&mut self, kind: BackendKind, env: &Env) -> Vec<Effect> {
        let name = self
            .study_name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.setup.preset, env.stamp));
        // The page and the worker start from the same journal text.
        let journal = if self.storage.study_by_name(&name).is_some() {
            self.compact.write(&self.storage, WORKER_ID)
        } else {
            String::new()
        };
        self.storage = JournalStorage::from_text(&journal).unwrap_or_default();
        self.storage_replaced();
        if self.study_name.is_none() {
            self.created_ms = env.epoch_ms;
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
        let start = ToWorker::Start {
            study: name,
            setup,
            journal,
            backend: kind,
            seed: (env.epoch_ms as u64) & 0xffff_ffff,
            step: self.step_mode,
            step_delay_ms: self.view.step_delay_ms,
            histograms: self.histograms,
            baselines: self.baselines,
        };
        self.worker = Some(kind);
        self.run = RunState::Running;
        self.progress = Progress {
            run_started: env.now_ms,
            trial_started: env.now_ms,
            ..Progress::default()
        };
        vec![Effect::SpawnWorker { kind, start }, self.set_hash()]
    }

    fn apply_ops(&mut self, lines: &str) {
        match parse_journal(lines) {
            Ok(ops) => {
                let mut applied = true;
                for (_, op) in ops {
                    if let Err(e) = self.storage.apply(&op) {
                        applied = false;
                        self.notice("journal", "error", format!("the study's journal: {e}"));
                    }
                }
                if applied {
                    self.saves.unsaved.push_str(lines);
                    if !lines.is_empty() && !lines.ends_with('\n') {
                        self.saves.unsaved.push('\n');
                    }
                } else {
                    // Lines that did not all apply are not appended: the next save is whole.
                    self.storage_replaced();
                }
            }
            Err(e) => self.notice("journal", "error", format!("the study's journal: {e}")),
        }
        self.refresh();
        self.prune_adapters();
    }

    /// Drops the LoRA adapters the page can no longer offer: other studies' (their best
    /// trial's are saved with them) and finished trials' that are not the best (a finished
    /// trial's value does not change, so it never becomes the best later). A long study
    /// then holds one trial's adapters, and those of the trials still running.
    fn prune_adapters(&mut self) {
        if self.adapters.is_empty() {
            return;
        }
        let best = self.data.best().map(|t| t.number);
        let (name, trials) = (&self.study_name, &self.data.trials);
        self.adapters.retain(|(study, trial), _| {
            let finished = trials
                .get(*trial as usize)
                .is_some_and(|t| t.number == *trial && t.state.is_finished());
            Some(study) == name.as_ref() && (Some(*trial) == best || !finished)
        });
    }

    fn finish_run(&mut self) -> Effect {
        self.baseline_phase = None;
        self.worker = None;
        self.run = RunState::Idle;
        self.live.trial = None;
        Effect::EndWorker
    }

    fn load_study(
        &mut self,
        meta: StudyMeta,
        journal: &str,
        env: &Env,
    ) -> Result<Vec<Effect>, String> {
        let storage = JournalStorage::from_text(journal)
            .map_err(|e| format!("the saved study `{}` is corrupt: {e}", meta.id))?;
        if storage.study_by_name(&meta.id).is_none() {
            return Err(format!(
                "the saved study `{}` is corrupt: its journal has no study of that name",
                meta.id
            ));
        }
        let end = self.finish_run();
        // Trials a closed tab left RUNNING: FAIL, interrupted, not counted (as the worker's
        // resume would do), and saved so.
        let (storage, interrupted) = fail_running(
            storage,
            &meta.id,
            WORKER_ID,
            "the page was closed while it ran",
        )
        .map_err(|e| format!("the saved study `{}` is corrupt: {e}", meta.id))?;
        self.storage = storage;
        self.storage_replaced();
        self.study_name = Some(meta.id.clone());
        self.created_ms = meta.created_ms;
        self.setup = meta.setup;
        self.synthetic = false;
        self.live = Live::default();
        self.boundaries.clear();
        self.points = Rc::default();
        self.selected = None;
        self.view.table_top = 0;
        self.refresh();
        self.prune_adapters();
        self.selected = self.data.trials.last().map(|t| t.number);
        let mut effects = vec![end, self.set_hash()];
        if !interrupted.is_empty() {
            let list: Vec<String> = interrupted.iter().map(u64::to_string).collect();
            self.notice(
                "interrupted",
                "info",
                format!(
                    "Trial {} was running when the page closed: it stopped there and does not count; Resume continues the study.",
                    list.join(", ")
                ),
            );
            effects.extend(self.save(env));
        }
        Ok(effects)
    }

    /// A study of `n` trials built through the core from an analytic objective, for
    /// checking that the plots stay fast (opened with `#synthetic=N`): `params` parameters
    /// (the MNIST CNN preset's, then floats `extra_NN` up to that count), the last `live`
    /// trials arriving one at a time afterwards, and saved like a real study with `save`.
    fn load_synthetic(&mut self, n: usize, params: usize, live: usize, save: bool) {
        let setup = Setup::preset("mnist-cnn");
        let name = format!("synthetic-{n}");
        let mut space = setup.search_space().unwrap_or_default();
        let mut k = 0;
        while space.len() < params {
            space.insert(
                format!("extra_{k:02}"),
                sweeplab_core::Distribution::float(0.0, 1.0),
            );
            k += 1;
        }
        let result = sweeplab_core::demo::synthetic_study(&name, &space, n);
        match result {
            Ok(study) => {
                let journal = study.storage().to_compact_journal(WORKER_ID);
                let lines: Vec<&str> = journal.split_inclusive('\n').collect();
                // The trials' lines are the last n (one CREATE_TRIAL each).
                let cut = lines.len().saturating_sub(live.min(n));
                self.storage =
                    JournalStorage::from_text(&lines[..cut].concat()).unwrap_or_default();
                self.storage_replaced();
                self.synthetic_pending = lines[cut..].iter().rev().map(|l| l.to_string()).collect();
                self.study_name = Some(name);
                self.setup = setup;
                self.synthetic = !save;
                self.setup.n_trials = u32::try_from(n).unwrap_or(u32::MAX);
                self.refresh();
                self.selected = self.data.best().map(|t| t.number);
                self.notice(
                    "synthetic",
                    "info",
                    format!(
                        "Synthetic study: {n} trials of {} parameters generated through the core from an analytic \
                         function (no training), for testing the plots.{}",
                        space.len(),
                        if save { "" } else { " It is not saved." }
                    ),
                );
            }
            Err(e) => self.notice("synthetic", "error", format!("synthetic study: {e}")),
        }
    }

    /// The next pending synthetic trial arrives, as a worker's journal lines would.
    fn synthetic_next(&mut self, env: &Env) -> Vec<Effect> {
        let Some(line) = self.synthetic_pending.pop() else {
            return Vec::new();
        };
        self.apply_ops(&line);
        // Saved after every trial, as a worker's study is (not with `save=0`).
        let mut effects: Vec<Effect> = self.save(env).into_iter().collect();
        if !self.synthetic_pending.is_empty() {
            effects.push(Effect::SyntheticNextIn(SYNTHETIC_EVERY_MS));
        }
        effects
    }

    /// The file an export downloads as.
    fn download(&self, format: ExportFormat) -> Result<Effect, String> {
        let name = self.study_name.clone().ok_or("run or open a study first")?;
        let study = self
            .storage
            .study_by_name(&name)
            .ok_or("run or open a study first")?;
        let files = export_study(study, format, &ExportOptions::default())
            .map_err(|e| format!("export failed: {e}"))?;
        let first = |files: Vec<sweeplab_core::export::ExportFile>| {
            files
                .into_iter()
                .next()
                .map(|f| f.bytes)
                .unwrap_or_default()
        };
        let (name, mime, bytes) = match format {
            ExportFormat::TensorBoard | ExportFormat::Wandb | ExportFormat::Mlflow => (
                format!("{name}-{}.zip", format.name()),
                "application/zip",
                zip_files(&files).map_err(|e| format!("export failed: {e}"))?,
            ),
            ExportFormat::Optuna => (format!("{name}.journal.log"), "text/plain", first(files)),
            ExportFormat::Csv => (format!("{name}.csv"), "text/csv", first(files)),
            ExportFormat::Zip => (format!("{name}.zip"), "application/zip", first(files)),
        };
        Ok(Effect::Download { name, mime, bytes })
    }

    /// The best trial of the current study when this page holds its LoRA adapters.
    pub fn best_adapter(&self) -> Option<(u64, Rc<LmAdapter>)> {
        let name = self.study_name.as_ref()?;
        let best = self.data.best()?.number;
        let a = self.adapters.get(&(name.clone(), best))?;
        Some((best, a.clone()))
    }

    /// The best trial's adapters as a zip of PEFT's two files, named after the study and
    /// the trial.
    fn download_adapter(&self) -> Result<Effect, String> {
        let name = self.study_name.clone().ok_or("run or open a study first")?;
        let (trial, a) = self.best_adapter().ok_or(
            "this browser holds no adapters of the best trial: they are kept for trials this browser trained",
        )?;
        let files = [
            sweeplab_core::export::ExportFile {
                path: "adapter_model.safetensors".into(),
                bytes: a.safetensors.clone(),
            },
            sweeplab_core::export::ExportFile {
                path: "adapter_config.json".into(),
                bytes: a.config.clone().into_bytes(),
            },
        ];
        Ok(Effect::Download {
            name: format!("{name}-trial-{trial:03}-adapter.zip"),
            mime: "application/zip",
            bytes: zip_files(&files).map_err(|e| format!("export failed: {e}"))?,
        })
    }

    /// The `study.db` download: the study as the journal the SQLite module turns into
    /// Optuna's database.
    fn download_sqlite(&self) -> Result<Effect, String> {
        let name = self.study_name.clone().ok_or("run or open a study first")?;
        let study = self
            .storage
            .study_by_name(&name)
            .ok_or("run or open a study first")?;
        Ok(Effect::DownloadSqlite {
            name: format!("{name}.db"),
            journal: journal_for_study(study, &ExportOptions::default().worker_id),
        })
    }

    /// WebGPU was probed: the core's rule picks the backend ([`BackendChoice::decide`]);
    /// in the browser, WebGPU asked for and not there means the CPU, with a notice.
    fn on_probe(&mut self, p: &GpuProbe, env: &Env) -> Vec<Effect> {
        self.probe = Some(p.clone());
        let (kind, note) = self.decide_backend(p);
        self.backend_note = Some(note);
        self.cpu_fallback = kind == BackendKind::Flex;
        self.start_worker(kind, env)
    }

    /// The backend Start uses after probe `p`, and the note that says why.
    fn decide_backend(&self, p: &GpuProbe) -> (BackendKind, String) {
        if self.setup.backend == BackendChoice::Cpu {
            return (BackendKind::Flex, "CPU backend: you chose CPU.".into());
        }
        let adapter = (p.api && p.adapter).then(|| AdapterProbe {
            name: p.description.clone(),
            api: "WebGPU".into(),
            software: p.software,
        });
        let (kind, note) = if adapter.is_none() {
            let why = if p.api {
                "WebGPU gave no adapter"
            } else {
                "this browser has no WebGPU (no navigator.gpu)"
            };
            (BackendKind::Flex, format!("CPU backend: {why}."))
        } else {
            self.setup
                .backend
                .decide(adapter.as_ref())
                .unwrap_or_else(|why| (BackendKind::Flex, format!("CPU backend: {why}.")))
        };
        (kind, note)
    }

    /// The GPU worker failed: continue on the CPU (a CPU worker's failure ends the run).
    fn worker_failed(&mut self, env: &Env, gpu_notice: String, cpu_error: String) -> Vec<Effect> {
        let was_gpu = self.worker == Some(BackendKind::Wgpu);
        let mut effects = vec![self.finish_run()];
        if was_gpu {
            self.notice("device-lost", "warn", gpu_notice);
            effects.extend(self.start_worker(BackendKind::Flex, env));
        } else {
            self.notice("run-error", "error", cpu_error);
        }
        effects
    }

    fn on_worker(&mut self, m: FromWorker, env: &Env) -> Vec<Effect> {
        let mut effects = Vec::new();
        match m {
            // The run's worker does not estimate.
            FromWorker::Ready | FromWorker::Estimated { .. } => {}
            FromWorker::Adapter {
                trial,
                safetensors,
                config,
            } => {
                if let Some(name) = &self.study_name {
                    self.adapters.insert(
                        (name.clone(), trial),
                        Rc::new(LmAdapter {
                            safetensors,
                            config,
                        }),
                    );
                }
            }
            FromWorker::Baseline { name, index, count } => {
                self.baseline_phase = Some((name, index, count));
            }
            // Step mode: the trial ended and the run holds before the next one.
            FromWorker::Paused => {
                if self.run == RunState::Running {
                    self.run = RunState::Paused;
                    self.progress.pause(env.now_ms);
                }
            }
            FromWorker::Backend { kind, reason, .. } => {
                let which = match kind {
                    BackendKind::Wgpu => "WebGPU",
                    BackendKind::Flex => "CPU",
                };
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
                let ended = self.progress.running.keys().any(|n| {
                    self.data
                        .trials
                        .get(*n as usize)
                        .is_some_and(|t| t.state.is_finished())
                });
                if !self.progress.parallel() || ended || env.now_ms - self.last_save_ms > 5000.0 {
                    self.last_save_ms = env.now_ms;
                    effects.extend(self.save(env));
                }
            }
            FromWorker::Progress { event } => self.on_progress(event, env),
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
                    let secs = self.progress.trial_elapsed_s(env.now_ms);
                    self.progress.durations.push(secs);
                }
                if state == TrialState::Fail
                    && let Some(r) = reason
                    && !r.starts_with("cancelled")
                {
                    self.notice("trial-fail", "warn", format!("Trial {trial} failed: {r}"));
                }
                self.live.trial = None;
                self.refresh();
            }
            FromWorker::Finished { reason, stopped } => {
                effects.push(self.finish_run());
                if stopped {
                    self.notice(
                        "finished",
                        "info",
                        "You stopped the study; Resume continues it.".into(),
                    );
                } else {
                    self.notice("finished", "info", format!("Study finished: {reason}."));
                }
                self.refresh();
                effects.extend(self.save(env));
            }
            FromWorker::DeviceLost { message } => {
                effects.extend(self.worker_failed(
                    env,
                    format!("WebGPU stopped working ({message}); continuing on the CPU backend."),
                    format!("Training stopped: {message}"),
                ));
                if self.worker.is_some() {
                    self.backend_note = Some(
                        "CPU backend: WebGPU failed or its device was lost, so the CPU took over."
                            .into(),
                    );
                    self.cpu_fallback = true;
                }
                self.refresh();
            }
            FromWorker::Error { message } => {
                effects.push(self.finish_run());
                self.refresh();
                self.notice("run-error", "error", format!("Training stopped: {message}"));
            }
        }
        effects
    }

    fn on_progress(&mut self, event: ProgressEvent, env: &Env) {
        let parallel = self.progress.parallel();
        match event {
            // The running trial's latest sample; finished trials keep theirs in the study
            // (the `text_samples` attribute).
            ProgressEvent::TextSample {
                trial,
                epoch,
                prompt,
                text,
            } => {
                if self.live.trial == Some(trial) {
                    self.live.sample = Some((epoch, prompt, text));
                }
            }
            // Several trials train at once: their curves come with the journal lines after
            // every round; the page keeps showing the trial it shows.
            ProgressEvent::TrialStart {
                trial,
                epochs,
                steps_per_epoch,
            } if parallel => {
                self.progress.running.insert(trial, (0, 0.0));
                self.progress.epochs = epochs;
                self.progress.steps_per_epoch = steps_per_epoch;
                if self.selected.is_none() {
                    self.selected = Some(trial);
                }
            }
            ProgressEvent::TrialStart {
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
                self.progress.trial_started = env.now_ms;
                self.progress.trial_paused_base = self.progress.paused_total(env.now_ms);
            }
            ProgressEvent::Step {
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
            ProgressEvent::Epoch {
                trial,
                epoch,
                samples_per_sec,
                ..
            } if parallel => {
                self.progress
                    .running
                    .insert(trial, (epoch, samples_per_sec));
                self.progress.samples_per_sec =
                    self.progress.running.values().map(|(_, s)| s).sum();
            }
            ProgressEvent::Epoch {
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
                // The running trial's value in the study plots: at most ten times a second
                // (a refresh rebuilds every trial's view; fast epochs would redo it hundreds
                // of times a second). Its end refreshes in any case.
                if env.now_ms - self.last_live_refresh_ms >= 100.0 {
                    self.last_live_refresh_ms = env.now_ms;
                    self.refresh();
                }
            }
            // A trial's end is shown from `FromWorker::TrialEnd`, after its journal lines.
            ProgressEvent::TrialEnd { .. } => {}
        }
    }

    /// The page opened with `hash`: the setup it holds, a synthetic study, or the saved
    /// study to restore.
    fn opening(&mut self, hash: &str, env: &Env) -> Vec<Effect> {
        let has_setup = match Setup::from_hash(hash) {
            Ok(Some(s)) => {
                self.setup = s;
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.notice(
                    "link",
                    "error",
                    format!("{e}. Starting from the Spiral preset instead."),
                );
                false
            }
        };
        self.open_lesson_from(hash, !has_setup);
        let mut wanted = None;
        let mut synthetic = None;
        let (mut params, mut live, mut save) = (0, 0, false);
        for part in hash.trim_start_matches('#').split('&') {
            if let Some(v) = part.strip_prefix("study=") {
                wanted = crate::setup::decode_component(v);
            }
            if let Some(v) = part.strip_prefix("synthetic=") {
                match v.parse::<usize>() {
                    Ok(n) if (1..=5000).contains(&n) => synthetic = Some(n),
                    _ => self.notice(
                        "synthetic",
                        "error",
                        format!("synthetic={v}: give a number of trials from 1 to 5000"),
                    ),
                }
            }
            if let Some(v) = part.strip_prefix("params=") {
                match v.parse::<usize>() {
                    Ok(p) if (1..=50).contains(&p) => params = p,
                    _ => self.notice(
                        "synthetic-params",
                        "error",
                        format!("params={v}: give a number of parameters from 1 to 50"),
                    ),
                }
            }
            if let Some(v) = part.strip_prefix("live=") {
                live = v.parse::<usize>().unwrap_or(0).min(500);
            }
            if part == "save=1" {
                save = true;
            }
        }
        let mut effects = Vec::new();
        if let Some(n) = synthetic {
            self.load_synthetic(n, params, live, save);
            // Saved as a real study is, as its trials arrive: first the trials it has.
            effects.extend(self.save(env));
            if !self.synthetic_pending.is_empty() {
                effects.push(Effect::SyntheticNextIn(SYNTHETIC_EVERY_MS));
            }
        }
        if synthetic.is_none() {
            // A reload restores the study the page showed (or, with no hash, the latest).
            if hash.trim_start_matches('#').is_empty() || wanted.is_some() {
                effects.push(Effect::Restore { wanted });
            } else {
                effects.push(Effect::List);
            }
        }
        effects.push(self.set_hash());
        effects
    }
}

/// The decoded `lesson=` value of a URL hash, if any.
fn lesson_of(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|p| p.strip_prefix("lesson="))
        .map(|v| crate::setup::decode_component(v).unwrap_or_else(|| v.to_string()))
}

/// Applies `action` to `state`; returns what the shell must do. Whether the page must
/// re-render is the second value (false only for actions that change nothing shown).
pub fn reduce(state: &mut State, action: Action, env: &Env) -> (Vec<Effect>, bool) {
    // The worker's messages, the clock and scrolling never change the setup: no key to
    // compare on that hot path.
    let before = (!matches!(
        action,
        Action::Worker(_) | Action::SyntheticNext | Action::TableScroll(_)
    ))
    .then(|| state.setup.cost_key());
    let opening = matches!(action, Action::Opening(_));
    let (mut effects, redraw) = reduce_action(state, action, env);
    // A setup that changed (or the first one) is measured once it has been still a moment.
    let changed = before.is_some_and(|b| state.setup.cost_key() != b);
    if (opening || changed) && !state.synthetic {
        effects.push(Effect::EstimateIn(ESTIMATE_DELAY_MS));
    }
    (effects, redraw)
}

fn reduce_action(state: &mut State, action: Action, env: &Env) -> (Vec<Effect>, bool) {
    let s = state;
    let mut effects = Vec::new();
    match action {
        Action::Edit(f) => {
            f(&mut s.setup);
            effects.push(s.set_hash());
        }
        Action::Preset(id) => {
            let backend = s.setup.backend;
            s.setup = Setup {
                backend,
                ..Setup::preset(id)
            };
            effects.push(s.set_hash());
        }
        Action::ToggleYaml => s.yaml.open = !s.yaml.open,
        Action::YamlText(t) => {
            s.yaml.text = t;
            s.yaml.error = None;
            s.yaml.open = true;
        }
        Action::YamlApply => match setup_from_yaml(&s.yaml.text, &s.setup) {
            Ok(setup) => {
                s.notice("imported", "info", crate::yaml::describe_import(&setup));
                s.setup = setup;
                s.yaml.error = None;
                s.yaml.open = false;
                effects.push(s.set_hash());
            }
            Err(e) => s.yaml.error = Some(e),
        },
        Action::Start | Action::NextTrial if s.run == RunState::Idle => {
            if !s.setup.problems().is_empty() {
                return (effects, false);
            }
            // "Next trial" from idle starts the study in step mode.
            s.step_mode = matches!(action, Action::NextTrial);
            if s.synthetic || !s.continues() {
                // A different setup starts a new study.
                s.study_name = None;
                s.storage = JournalStorage::new();
                s.storage_replaced();
                s.synthetic = false;
                s.boundaries.clear();
                s.points = Rc::default();
                s.notices.retain(|n| n.id != "synthetic");
                s.refresh();
            }
            s.live = Live::default();
            s.notices.retain(|n| n.level != "error");
            s.run = RunState::Starting;
            // The run needs the device to itself.
            s.estimating = None;
            effects.push(Effect::EndEstimator);
            s.engine_note = None;
            s.user_selected = false;
            if s.setup.backend == BackendChoice::Cpu {
                s.backend_note = Some("CPU backend: you chose CPU.".into());
                s.cpu_fallback = false;
                effects.extend(s.start_worker(BackendKind::Flex, env));
            } else {
                effects.push(Effect::ProbeGpu);
            }
        }
        Action::Probed(p) => effects.extend(s.on_probe(&p, env)),
        Action::SpawnFailed(e) => {
            effects.push(s.finish_run());
            s.notice("run-error", "error", e);
        }
        Action::Pause => {
            if s.run == RunState::Running {
                s.run = RunState::Paused;
                s.progress.pause(env.now_ms);
                effects.push(Effect::Send(ToWorker::Pause));
            }
        }
        Action::Resume => {
            if s.run == RunState::Paused {
                s.run = RunState::Running;
                s.step_mode = false;
                s.progress.resume(env.now_ms);
                effects.push(Effect::Send(ToWorker::Resume));
            }
        }
        Action::Start => return (effects, false),
        Action::NextTrial => {
            // Several trials at once (the fused kernels) have no "next" one.
            if s.run != RunState::Paused || s.progress.parallel() {
                return (effects, false);
            }
            s.run = RunState::Running;
            s.step_mode = true;
            s.progress.resume(env.now_ms);
            effects.push(Effect::Send(ToWorker::Next));
        }
        Action::Histograms(on) => s.histograms = on,
        Action::Baselines(on) => s.baselines = on,
        Action::Speed(ms) => {
            s.view.step_delay_ms = ms;
            if s.worker.is_some() && s.run != RunState::Idle {
                effects.push(Effect::Send(ToWorker::Speed { step_delay_ms: ms }));
            }
        }
        Action::Stop => {
            if s.worker.is_some() && s.run != RunState::Idle {
                s.run = RunState::Stopping;
                s.progress.resume(env.now_ms);
                effects.push(Effect::Send(ToWorker::Stop));
            }
        }
        Action::SendFailed(e) => s.notice("run-error", "error", e),
        Action::Worker(FromWorker::Ready) => return (effects, false),
        Action::Worker(m) => {
            // With several trials at once, starts and epochs only update the progress
            // counters; the journal lines after each round redraw the page.
            let quiet = match &m {
                FromWorker::Progress {
                    event: ProgressEvent::TrialStart { .. } | ProgressEvent::Epoch { .. },
                } => s.progress.parallel(),
                FromWorker::Progress {
                    event: ProgressEvent::TrialEnd { .. },
                } => true,
                _ => false,
            };
            effects.extend(s.on_worker(m, env));
            return (effects, !quiet);
        }
        Action::WorkerCrashed(e) => {
            effects.extend(s.worker_failed(
                env,
                format!("The WebGPU worker failed ({e}); continuing on the CPU backend."),
                format!("Training stopped: {e}"),
            ));
            if s.worker.is_some() {
                s.backend_note =
                    Some("CPU backend: the WebGPU device failed, so the CPU took over.".into());
                s.cpu_fallback = true;
            }
        }
        Action::Select(n) => {
            s.selected = Some(n);
            s.user_selected = true;
        }
        Action::ToggleLog => s.view.log_y = !s.view.log_y,
        Action::Smoothing(w) => s.view.smoothing = w,
        Action::Sort(c) => {
            s.view.sort = if s.view.sort.0 == c {
                (c, !s.view.sort.1)
            } else {
                (c, true)
            };
            s.view.table_top = 0;
        }
        Action::TableScroll(row) => {
            if s.view.table_top == row {
                return (effects, false);
            }
            s.view.table_top = row;
        }
        Action::Download(format) => match s.download(format) {
            Ok(e) => effects.push(e),
            Err(e) => s.notice("download", "error", e),
        },
        Action::DownloadAdapter => match s.download_adapter() {
            Ok(e) => effects.push(e),
            Err(e) => s.notice("download", "error", e),
        },
        Action::DownloadSqlite => match s.download_sqlite() {
            Ok(e) => effects.push(e),
            Err(e) => s.notice("download", "error", e),
        },
        Action::Downloaded(name) => s.notice(
            "download",
            "info",
            format!(
                "{name} is an Optuna SQLite database: drop it on optuna-dashboard's browser app, or open it with optuna-dashboard sqlite:///{name} or optuna.load_study."
            ),
        ),
        Action::DownloadFailed(e) => s.notice("download", "error", e),
        Action::NewStudy => {
            effects.push(s.finish_run());
            s.study_name = None;
            s.storage = JournalStorage::new();
            s.storage_replaced();
            s.synthetic = false;
            s.live = Live::default();
            s.boundaries.clear();
            s.points = Rc::default();
            s.selected = None;
            s.user_selected = false;
            s.notices.clear();
            s.backend_note = None;
            s.cpu_fallback = false;
            s.engine_note = None;
            s.refresh();
            effects.push(s.set_hash());
        }
        Action::ToggleSaved => {
            s.saved_open = !s.saved_open;
            if s.saved_open {
                effects.push(Effect::List);
            }
        }
        Action::Listed(r) => match r {
            Ok(l) => s.saved = Some(l),
            Err(e) => s.notice("storage", "warn", e),
        },
        Action::Open(id) => {
            if s.run != RunState::Idle {
                s.notice(
                    "open",
                    "warn",
                    "Stop the running study before opening another one.".into(),
                );
            } else {
                effects.push(Effect::Load(id));
            }
        }
        Action::Opened(r) => {
            match r.and_then(|(meta, journal)| s.load_study(meta, &journal, env)) {
                Ok(e) => {
                    effects.extend(e);
                    s.saved_open = false;
                    s.notices.retain(|n| n.id != "corrupt");
                    if let Some(id) = &s.study_name {
                        effects.push(Effect::LoadAdapter(id.clone()));
                    }
                }
                Err(e) => s.notice("corrupt", "error", e),
            }
        }
        Action::Delete(id) => effects.push(Effect::Delete(id)),
        Action::SyntheticNext => effects.extend(s.synthetic_next(env)),
        Action::AdapterLoaded { id, adapter } => {
            if s.study_name.as_ref() == Some(&id) {
                match adapter {
                    Ok(Some((trial, a))) => {
                        s.adapters.entry((id, trial)).or_insert_with(|| Rc::new(a));
                        s.saves.adapter_saved = Some(trial);
                    }
                    Ok(None) => {}
                    Err(e) => s.notice(
                        "adapter",
                        "warn",
                        format!("The LoRA adapters saved with this study could not be read: {e}"),
                    ),
                }
            }
        }
        Action::Saved(r) => {
            s.saves.in_flight = false;
            if r.is_err() {
                // What failed is not saved: the next save writes the study whole, with the
                // best trial's adapters.
                s.saves.base_saved = false;
                s.saves.adapter_saved = None;
            }
            if std::mem::take(&mut s.saves.pending) {
                effects.extend(s.save(env));
            }
            return match r {
                Ok(()) => (effects, false),
                Err(e) => {
                    let text = if e.contains("QuotaExceeded") {
                        // The study is whole in this tab; only the browser's copy is behind.
                        "This browser's storage for the page is full, so the study is no longer saved here. It stays open in this tab: download it (Optuna journal, study.db or zip) to keep it, or delete saved studies to make room.".to_string()
                    } else {
                        format!("The study could not be saved in this browser: {e}")
                    };
                    s.notice("storage", "warn", text);
                    (effects, true)
                }
            };
        }
        Action::Share => {
            effects.push(s.set_hash());
            effects.push(Effect::CopyLink(s.setup.to_hash()));
            s.share_copied = true;
        }
        Action::Dismiss(id) => s.notices.retain(|n| n.id != id),
        Action::Tab(t) => {
            s.view.tab = t;
            s.refresh_importances();
        }
        Action::LessonStep(step) => {
            let Some(l) = s.lesson.as_mut() else {
                return (effects, false);
            };
            let step = step.min(l.lesson.steps.len() - 1);
            l.step = step;
            let (setup, tab) = (l.setup_at(step), l.lesson.steps[step].tab.clone());
            if let Some(t) = tab.as_deref().and_then(crate::text::plot_tab) {
                s.view.tab = t;
                s.refresh_importances();
            }
            match setup {
                Ok(setup) if s.run == RunState::Idle => s.setup = setup,
                Ok(_) => s.notice(
                    "lesson",
                    "info",
                    "This step changes the setup: it applies once the running study stops.".into(),
                ),
                Err(e) => s.notice("lesson", "error", format!("The lesson: {e}")),
            }
            effects.push(s.set_hash());
        }
        Action::LessonClose => {
            s.lesson = None;
            effects.push(s.set_hash());
        }
        Action::HashChanged(hash) if lesson_of(&hash) != s.lesson_param() => {
            // A lesson link was followed (or one was closed by hand): open it afresh.
            if s.run == RunState::Idle {
                s.lesson = None;
                let setup = Setup::from_hash(&hash).ok().flatten();
                let has_setup = setup.is_some();
                if let Some(setup) = setup {
                    s.setup = setup;
                }
                s.open_lesson_from(&hash, !has_setup);
                effects.push(s.set_hash());
            } else {
                s.notice(
                    "link",
                    "warn",
                    "Stop the running study to open this lesson.".into(),
                );
            }
        }
        Action::HashChanged(hash) => match Setup::from_hash(&hash) {
            Ok(Some(setup)) if setup != s.setup => {
                if s.run == RunState::Idle {
                    s.setup = setup;
                    s.notices.retain(|n| n.id != "link");
                } else {
                    s.notice(
                        "link",
                        "warn",
                        "Stop the running study to open the setup of this link.".into(),
                    );
                }
            }
            Ok(_) => {}
            Err(e) => s.notice(
                "link",
                "error",
                format!("{e}. The setup was left as it was."),
            ),
        },
        Action::Opening(hash) => effects.extend(s.opening(&hash, env)),
        Action::EstimateDue => effects.extend(s.estimate_due()),
        Action::ProbedForEstimate(p) => {
            s.probe = Some(p.clone());
            s.estimating = None;
            effects.extend(s.estimate_due());
        }
        Action::Estimator(m) => {
            let Some((key, asked)) = s.estimating.take() else {
                return (vec![Effect::EndEstimator], false);
            };
            let (kind, secs_per_epoch, failed) = match m {
                FromWorker::Estimated {
                    kind,
                    secs_per_epoch,
                    ..
                } => (kind, secs_per_epoch, None),
                FromWorker::Error { message } => (asked, f64::NAN, Some(message)),
                // Ready, and anything else before the answer.
                _ => {
                    s.estimating = Some((key, asked));
                    return (Vec::new(), false);
                }
            };
            // Filed under the backend asked for, so it is not asked again (a GPU that could
            // not start measures as the CPU: shown as such).
            s.estimates.push(Estimate {
                key,
                kind: asked,
                measured: kind,
                secs_per_epoch,
                failed,
            });
            effects.push(Effect::EndEstimator);
            // The next backend, or the setup changed while it measured.
            effects.extend(s.estimate_due());
        }
        Action::EstimatorFailed(e) => {
            if let Some((key, kind)) = s.estimating.take() {
                s.estimates.push(Estimate {
                    key,
                    kind,
                    measured: kind,
                    secs_per_epoch: f64::NAN,
                    failed: Some(e),
                });
            }
            effects.push(Effect::EndEstimator);
        }
    }
    (effects, true)
}

#[cfg(test)]
mod tests;
