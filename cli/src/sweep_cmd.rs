//! `sweeplab sweep CONFIG --out DIR`: runs a whole study headlessly and leaves its logs.
//!
//! Each trial trains a model from the config's search space on the chosen backend. As each
//! trial ends, its journal lines are appended to the Optuna journal (under Optuna's lock) and
//! its TensorBoard and W&B offline runs are written (temporary name, then rename), so a crash
//! or Ctrl-C loses no finished trial. Running the same command again resumes the study: trials
//! left RUNNING by a crash are marked FAIL (`interrupted`) and do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use futures_lite::future::block_on;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sweeplab_core::config::SweepConfig;
use sweeplab_core::export;
use sweeplab_core::json::Json;
use sweeplab_core::store::StudyStore;
use sweeplab_core::train::fused::{FusedEngine, FusedSweep, FusedSweepOptions, kernels_note};
use sweeplab_core::train::lm::stack_sweep::{StackRoom, StackSweep};
use sweeplab_core::train::{
    BackendChoice, BackendKind, CancelToken, DataSet, DataSpec, Engine, Mnist, Objective,
    ProgressEvent, RunnerError, StudyEnd, SweepHooks, SweepSpec, TrainHooks, TrialEnd,
    TrialOutcome, counted, open_study, resume, run_study, select_backend,
};
use sweeplab_core::{Study, StudyDirection};
use sweeplab_storage::Heartbeats;

/// `sweep`
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The sweep configuration: a W&B sweep YAML with a `sweeplab:` block (data set, model,
    /// seed, pruner, trainer settings). See README.md, "Sweep configuration".
    config: PathBuf,
    /// Output directory: the journal (unless --storage), `tensorboard/` and `wandb/`.
    #[arg(long)]
    out: PathBuf,
    /// auto (GPU on a hardware adapter, else CPU), gpu (wgpu) or cpu (Flex).
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Where the study lives (default: the journal file OUT/journal.log): a journal file,
    /// sqlite:///FILE.db or postgresql://USER:PASS@HOST:PORT/DB. Sweeps started with the
    /// same storage and config on many machines run one study together.
    #[arg(long)]
    storage: Option<String>,
    /// On a database or Redis: seconds between the heartbeats this worker records for its
    /// running trials (Optuna's `heartbeat_interval`). Before each ask, RUNNING trials whose
    /// heartbeat is older than the grace period are failed, as Optuna's `fail_stale_trials`
    /// does, and do not count. Default 60 on a database or Redis; a journal file has none.
    #[arg(long)]
    heartbeat_interval: Option<u64>,
    /// Seconds without a heartbeat after which a RUNNING trial is stale (default: twice the
    /// heartbeat interval, as in Optuna).
    #[arg(long)]
    grace_period: Option<u64>,
    /// Hide the progress bars (one line per trial instead).
    #[arg(long)]
    quiet: bool,
    /// auto (the fused WGSL kernels, many trials at once, when the backend is the GPU and
    /// every trial is an MLP they take: a small one on a 2-D set, or on MNIST up to 4 hidden
    /// layers of up to 512 units; otherwise burn, one trial at a time), fused, stack (a
    /// language-model study's LoRA trials several at once over one frozen base, when every
    /// trial is LoRA with one batch size) or burn.
    #[arg(long, default_value = "auto")]
    engine: String,
    /// Trials the fused engine trains at once (default: a quarter of the trials, at least 4
    /// and at most 32, so the sampler still learns from finished trials), or the stack
    /// engine (default 4).
    #[arg(long)]
    slots: Option<usize>,
    /// Also log every trial to an MLflow tracking server as it runs (http://HOST:PORT or
    /// https://…): one experiment named after the study, one run per trial with its params,
    /// every metric's history, Optuna's tags and its status (a pruned trial ends KILLED).
    /// The study keeps everything: a server that fails gets a warning and is caught up
    /// later, and `sweeplab export --format mlflow` writes the same runs as files.
    #[arg(long)]
    mlflow_uri: Option<String>,
    /// Do not record each layer's weight and gradient histograms after every epoch (100
    /// evenly spaced epochs of a longer trial; kept in the study by default; TensorBoard's
    /// Histograms and Distributions tabs and W&B's histogram charts show them).
    #[arg(long)]
    no_histograms: bool,
    /// After the search, train the baselines of a language-model study with the best
    /// trial's budget: the frozen base evaluated, full fine-tuning, and the best trial's
    /// adapters over the base in each other precision (f32, int8, int4). Kept in the study's
    /// user attribute `baselines`, printed as a table.
    #[arg(long)]
    baselines: bool,
}

/// Which training engine runs the trials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EngineChoice {
    Auto,
    Fused,
    Stack,
    Burn,
}

impl EngineChoice {
    fn parse(s: &str) -> Result<EngineChoice> {
        match s {
            "auto" => Ok(EngineChoice::Auto),
            "fused" => Ok(EngineChoice::Fused),
            "stack" => Ok(EngineChoice::Stack),
            "burn" => Ok(EngineChoice::Burn),
            other => bail!("--engine {other}: expected auto, fused, stack or burn"),
        }
    }
}

/// Everything the sweep needs, resolved from the config.
struct Setup {
    config: SweepConfig,
    study_name: String,
    direction: StudyDirection,
    objective: Objective,
    n_trials: usize,
    data: DataSpec,
    /// What every trial trains, for the study loop.
    spec: SweepSpec,
}

/// Keys of the `sweeplab:` block that describe the data set rather than the trainer.
const DATA_SETTINGS: [&str; 3] = ["samples", "noise", "valid_fraction"];

fn load_setup(path: &Path) -> Result<Setup> {
    let config = SweepConfig::from_path(path)?;
    let shown = path.display();
    let study_name = config
        .info
        .get("name")
        .and_then(Json::as_str)
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "sweep".into());
    let metric = config.metric_name().ok_or_else(|| {
        anyhow!("{shown}: `metric` is required (e.g. {{name: val/loss, goal: minimize}})")
    })?;
    let objective = Objective::parse(metric).with_context(|| format!("{shown}: metric.name"))?;
    let direction = config.direction();
    if objective.maximize() != (direction == StudyDirection::Maximize) {
        eprintln!(
            "note: metric {} is optimised with goal {} as the config says",
            objective.series(),
            direction.name()
        );
    }
    let n_trials = match config.n_trials() {
        Some(0) => bail!("{shown}: run_cap must be at least 1"),
        Some(n) => n as usize,
        None => 20,
    };
    let sl = &config.sweeplab;
    let seed = sl.seed.unwrap_or(0);
    let mut data_obj = vec![(
        "name".to_string(),
        Json::Str(sl.dataset.clone().unwrap_or_else(|| "spiral".into())),
    )];
    let mut settings: Vec<(String, Json)> = Vec::new();
    for (k, v) in &sl.settings {
        if DATA_SETTINGS.contains(&k.as_str()) {
            data_obj.push((k.clone(), v.clone()));
        } else {
            settings.push((k.clone(), v.clone()));
        }
    }
    // Constant parameters (`value:`) are trainer settings too.
    settings.extend(config.fixed_values());
    let data = DataSpec::from_json(&Json::Object(data_obj), seed)
        .with_context(|| format!("{shown}: sweeplab"))?;
    let model = sl.model.clone().map_or(Json::Null, Json::Str);
    let spec = SweepSpec {
        space: config.search_space(),
        model,
        settings,
        seed,
        objective,
        n_trials,
        time_limit: None,
    };
    // Every value each parameter can take is checked before any trial runs.
    spec.check().with_context(|| format!("{shown}"))?;
    Ok(Setup {
        study_name,
        direction,
        objective,
        n_trials,
        data,
        spec,
        config,
    })
}

/// Where the data folder `sub` is: `SWEEPLAB_DATA_DIR/sub`, or the project's
/// `static/data/sub` (from the project root, or next to the binary's project).
pub(crate) fn data_dir(sub: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("SWEEPLAB_DATA_DIR") {
        return PathBuf::from(d).join(sub);
    }
    let here = PathBuf::from("static/data").join(sub);
    let project = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../static/data")
        .join(sub);
    if !here.is_dir() && project.is_dir() {
        project
    } else {
        here
    }
}

fn load_data(spec: &DataSpec) -> Result<DataSet> {
    const WHERE: &str = "run from the project root, or set SWEEPLAB_DATA_DIR to the folder holding mnist10k/ and lm/";
    let mnist = match spec {
        DataSpec::Mnist => Some(
            Mnist::load_dir(&data_dir("mnist10k"))
                .with_context(|| format!("loading MNIST-10k ({WHERE})"))?,
        ),
        DataSpec::Toy { .. } => None,
        DataSpec::Text(c) => {
            let dir = data_dir("lm");
            let text_path = dir.join(c.file());
            let text = std::fs::read_to_string(&text_path)
                .with_context(|| format!("reading {} ({WHERE})", text_path.display()))?;
            let base_path = dir.join(sweeplab_core::train::lm::BASE_FILE);
            let base = std::fs::read(&base_path)
                .with_context(|| format!("reading {} ({WHERE})", base_path.display()))?;
            return Ok(spec.load_text(&text, base, sweeplab_core::train::lm::BASE_SHA256)?);
        }
    };
    Ok(spec.load(mnist.as_ref())?)
}

/// The progress display: a trials bar (n/N, best, ETA) and an epoch bar.
struct Display {
    _multi: MultiProgress,
    trials: ProgressBar,
    epoch: ProgressBar,
    quiet: bool,
    best: Option<f64>,
    metric: &'static str,
    current: Option<f64>,
    epochs: usize,
    /// Several trials train at once (the fused or the stack engine): per-step events of
    /// interleaved trials are not drawn.
    several: bool,
}

impl Display {
    fn new(done: usize, total: usize, quiet: bool, metric: &'static str) -> Display {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let trials = multi.add(ProgressBar::new(total as u64));
        trials.set_style(
            ProgressStyle::with_template(
                "trials {pos}/{len} [{bar:30.cyan/blue}] {msg} (elapsed {elapsed}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        trials.set_position(done as u64);
        let epoch = multi.add(ProgressBar::new(1));
        epoch.set_style(
            ProgressStyle::with_template(
                "  {prefix} [{bar:30.green/white}] {pos}/{len} steps {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        trials.enable_steady_tick(Duration::from_millis(500));
        Display {
            _multi: multi,
            trials,
            epoch,
            quiet,
            best: None,
            metric,
            current: None,
            epochs: 0,
            several: false,
        }
    }

    fn set_best(&mut self, best: Option<f64>) {
        self.best = best;
        self.refresh();
    }

    fn refresh(&self) {
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        self.trials.set_message(format!(
            "{}: current {} best {}",
            self.metric,
            fmt(self.current),
            fmt(self.best)
        ));
    }

    fn println(&self, line: String) {
        // Without a terminal (a pipe, a log file) the bars are hidden, and so would be
        // what they print: write the line itself.
        if self.quiet || self.trials.is_hidden() {
            eprintln!("{line}");
        } else {
            self.trials.println(line);
        }
    }
}

impl TrainHooks for Display {
    fn progress(&mut self, event: &ProgressEvent) {
        if self.several {
            // Many trials at once: the trials bar carries the latest value; per-step events
            // of interleaved trials would only flicker.
            if let ProgressEvent::Epoch { value, .. } = event {
                self.current = Some(*value);
                self.refresh();
            }
            return;
        }
        match event {
            ProgressEvent::TrialStart {
                trial,
                epochs,
                steps_per_epoch,
            } => {
                self.current = None;
                self.epochs = *epochs;
                self.epoch.reset();
                self.epoch.set_length(*steps_per_epoch as u64);
                self.epoch
                    .set_prefix(format!("trial {trial} epoch 1/{epochs}"));
                self.refresh();
            }
            ProgressEvent::Step {
                trial,
                epoch,
                epoch_step,
                loss,
                samples_per_sec,
                ..
            } => {
                if *epoch_step == 1 {
                    self.epoch
                        .set_prefix(format!("trial {trial} epoch {epoch}/{}", self.epochs));
                }
                self.epoch.set_position(*epoch_step as u64);
                self.epoch.set_message(format!(
                    "loss {} | {:.0} samples/s",
                    loss.map_or("-".into(), |l| format!("{l:.4}")),
                    samples_per_sec
                ));
            }
            ProgressEvent::Epoch { value, .. } => {
                self.current = Some(*value);
                self.refresh();
            }
            ProgressEvent::TextSample {
                trial,
                epoch,
                prompt,
                text,
            } => {
                if !self.quiet {
                    // One line: the sample's line breaks shown as ⏎.
                    let sample = format!("{prompt}{text}").replace('\n', "⏎");
                    self.println(format!("trial {trial} epoch {epoch}: {sample}"));
                }
            }
            ProgressEvent::TrialEnd { .. } => {}
        }
    }
}

/// Writes the study's TensorBoard logdir (`OUT/tensorboard/`, one run per trial plus the
/// HParams experiment) and W&B offline runs (`OUT/wandb/`), each file atomically. File names
/// are stable, so rewriting after each trial replaces files rather than adding any.
/// Writes the study's TensorBoard and W&B logs where they changed since `logs` last wrote.
fn export_logs(study: &Study, logs: &mut export::SweepLogs) -> Result<()> {
    let record = study
        .storage()
        .study(study.study_id())
        .ok_or_else(|| anyhow!("study `{}` vanished from storage", study.name()))?;
    logs.write(record)?;
    Ok(())
}

/// One line for a finished trial.
fn trial_line(
    setup: &Setup,
    number: u64,
    params: &BTreeMap<String, sweeplab_core::ParamValue>,
    outcome: &TrialOutcome,
) -> String {
    let params_text = params
        .iter()
        .map(|(k, v)| match v {
            sweeplab_core::ParamValue::Str(s) => format!("{k}={s}"),
            v => format!("{k}={}", v.to_json().to_python_default()),
        })
        .collect::<Vec<_>>()
        .join(" ");
    // A language model's samples are the bytes it predicted.
    let unit = if matches!(setup.data, DataSpec::Text(_)) {
        "tokens/s"
    } else {
        "samples/s"
    };
    format!(
        "trial {number} {}{} after {} epoch(s), {:.0} {unit}: {}{}",
        outcome.state,
        outcome.value.map_or(String::new(), |v| {
            // A language model's loss in nats per byte, with its perplexity beside it.
            let ppl = if unit == "tokens/s" && setup.objective == Objective::ValLoss {
                format!(" (perplexity {:.2})", v.exp())
            } else {
                String::new()
            };
            format!(" {}={v:.4}{ppl}", setup.objective.series())
        }),
        outcome.epochs,
        outcome.samples_per_sec,
        params_text,
        outcome
            .fail_reason
            .as_ref()
            .map_or(String::new(), |r| format!(": {r}"))
    )
}

/// The engine that runs the trials.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chosen {
    /// The fused WGSL kernels, many MLP trials at once.
    Fused,
    /// LoRA trials K at a time over one frozen base, with the room the stack needs.
    Stack(StackRoom),
    /// burn, one trial at a time.
    Burn,
}

/// Which engine runs this sweep, and the line that says why (or why not the others).
fn choose_engine(
    engine: EngineChoice,
    kind: BackendKind,
    setup: &Setup,
    data: &DataSet,
) -> Result<(Chosen, String)> {
    if engine == EngineChoice::Burn {
        return Ok((
            Chosen::Burn,
            "burn, one trial at a time (--engine burn)".into(),
        ));
    }
    if data.text.is_some() {
        return match (engine, setup.spec.stack_room(data)) {
            (EngineChoice::Fused, _) => {
                bail!("--engine fused trains MLPs; this sweep fine-tunes the language model (--engine stack stacks its LoRA trials)")
            }
            (EngineChoice::Stack, Ok(room)) => Ok((
                Chosen::Stack(room),
                if kind == BackendKind::Flex {
                    "a stack of LoRA trials over one frozen base, several at once (on the CPU, one trial at a time is about twice as fast: it runs the CPU path, which the stack does not)".into()
                } else {
                    "a stack of LoRA trials over one frozen base, several at once".into()
                },
            )),
            (_, Ok(_)) if kind == BackendKind::Flex => Ok((
                Chosen::Burn,
                "burn's optimisers, one trial at a time on the language model's CPU path (faster on the CPU than --engine stack)".into(),
            )),
            (EngineChoice::Stack, Err(why)) => {
                bail!("--engine stack: this sweep's trials cannot share one base: {why}")
            }
            // Measured on a software GPU, a whole study gains little from the stack (its
            // evaluations and text samples run one trial at a time), and on the CPU one trial
            // at a time runs the CPU path, about twice the stack's speed; it is chosen by
            // hand until a real GPU measures it.
            (_, Ok(_)) => Ok((
                Chosen::Burn,
                "burn, one trial at a time (--engine stack trains its LoRA trials several at once over one base)".into(),
            )),
            (_, Err(why)) => Ok((
                Chosen::Burn,
                format!("burn, one trial at a time (not stacked: {why})"),
            )),
        };
    }
    if engine == EngineChoice::Stack {
        bail!(
            "--engine stack stacks LoRA trials of the language model; this sweep trains {}",
            data.name
        );
    }
    let eligible = setup.spec.fused_eligibility(data);
    match (engine, kind, eligible) {
        (_, BackendKind::Wgpu, Ok(())) => Ok((
            Chosen::Fused,
            format!(
                "fused WGSL kernels, many trials at once ({})",
                kernels_note(data)
            ),
        )),
        (EngineChoice::Fused, BackendKind::Flex, _) => {
            bail!("--engine fused needs the GPU backend (wgpu); add --backend gpu")
        }
        (EngineChoice::Fused, _, Err(why)) => {
            bail!("--engine fused: this sweep does not suit the fused kernels: {why}")
        }
        (_, BackendKind::Flex, _) => Ok((
            Chosen::Burn,
            "burn, one trial at a time (the fused kernels need the GPU backend)".into(),
        )),
        (_, _, Err(why)) => Ok((
            Chosen::Burn,
            format!("burn, one trial at a time (not fused: {why})"),
        )),
    }
}

/// What the study loop calls back in the CLI: the progress display, and the logs written
/// as each trial ends.
struct Host<'a> {
    display: Display,
    setup: &'a Setup,
    out: &'a Path,
    /// The TensorBoard and W&B logs under `out`, written after every trial.
    logs: export::SweepLogs,
    heartbeat: Option<Heartbeat>,
    mlflow: Option<crate::mlflow_live::MlflowLive>,
    /// The other workers' trials this worker last said it waits for.
    waiting_for: Vec<u64>,
    /// Whether trials record weight and gradient histograms.
    histograms: bool,
    /// This process's CPU and memory, read after every epoch.
    system: SystemProbe,
    /// Where trials train (W&B's run config).
    run_config: Vec<(&'static str, String)>,
}

/// The system metrics `sweep` logs after every epoch (W&B's `system/` charts): this
/// process's CPU use and resident memory, the machine's memory in use, and the GPU memory
/// burn's wgpu allocator holds.
struct SystemProbe {
    sys: sysinfo::System,
    pid: Option<sysinfo::Pid>,
    /// Bytes the GPU backend's allocator holds, where it says.
    gpu_bytes: Option<GpuBytes>,
}

type GpuBytes = Box<dyn Fn() -> Option<u64>>;

impl SystemProbe {
    fn new(gpu_bytes: Option<GpuBytes>) -> SystemProbe {
        let mut probe = SystemProbe {
            sys: sysinfo::System::new(),
            pid: sysinfo::get_current_pid().ok(),
            gpu_bytes,
        };
        // CPU use is measured between two refreshes: the first one starts the count.
        probe.refresh();
        probe
    }

    fn refresh(&mut self) {
        if let Some(pid) = self.pid {
            self.sys.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::Some(&[pid]),
                false,
                sysinfo::ProcessRefreshKind::nothing()
                    .with_cpu()
                    .with_memory(),
            );
        }
        self.sys.refresh_memory();
    }

    fn read(&mut self) -> Vec<(&'static str, f64)> {
        self.refresh();
        let mut out = Vec::new();
        if let Some(p) = self.pid.and_then(|pid| self.sys.process(pid)) {
            out.push(("cpu_percent", f64::from(p.cpu_usage())));
            out.push(("memory_rss_mb", p.memory() as f64 / 1e6));
        }
        let total = self.sys.total_memory();
        if total > 0 {
            out.push((
                "memory_percent",
                self.sys.used_memory() as f64 / total as f64 * 100.0,
            ));
        }
        if let Some(bytes) = self.gpu_bytes.as_ref().and_then(|f| f()) {
            out.push(("gpu_memory_mb", bytes as f64 / 1e6));
        }
        out
    }
}

/// Heartbeats of this worker's running trials on a database storage (Optuna's
/// `record_heartbeat`, from a thread with its own connection), and the stale trials of
/// other workers.
struct Heartbeat {
    rdb: Arc<Mutex<Box<dyn Heartbeats>>>,
    running: Arc<Mutex<BTreeSet<u64>>>,
    study: String,
    grace: Duration,
}

impl Heartbeat {
    fn start(storage: &str, study: &str, interval: Duration, grace: Duration) -> Result<Heartbeat> {
        let Some(rdb) = crate::study_cmds::open_storage(storage)?.into_heartbeats() else {
            bail!("heartbeats need a storage shared by many machines");
        };
        let hb = Heartbeat {
            rdb: Arc::new(Mutex::new(rdb)),
            running: Arc::new(Mutex::new(BTreeSet::new())),
            study: study.to_string(),
            grace,
        };
        let (rdb, running, name) = (hb.rdb.clone(), hb.running.clone(), hb.study.clone());
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let numbers: Vec<u64> = running
                        .lock()
                        .map(|r| r.iter().copied().collect())
                        .unwrap_or_default();
                    for n in numbers {
                        if let Ok(mut db) = rdb.lock()
                            && let Err(e) = db.record(&name, n)
                        {
                            eprintln!("sweeplab: heartbeat of trial {n}: {e}");
                        }
                    }
                }
            })
            .context("starting the heartbeat thread")?;
        Ok(hb)
    }

    fn beat(&self, number: u64) {
        if let Ok(mut db) = self.rdb.lock()
            && let Err(e) = db.record(&self.study, number)
        {
            eprintln!("sweeplab: heartbeat of trial {number}: {e}");
        }
    }
}

impl TrainHooks for Host<'_> {
    fn wants_histograms(&self) -> bool {
        self.histograms
    }

    fn system_metrics(&mut self) -> Vec<(&'static str, f64)> {
        self.system.read()
    }

    fn wants_lm_adapter(&self) -> bool {
        true
    }

    /// Writes a LoRA trial's adapters to `OUT/adapters/trial-NNN/` (PEFT's two files, each to
    /// a temporary name and renamed), for `sweeplab generate --adapter`.
    fn lm_adapter(&mut self, trial: u64, safetensors: &[u8], config_json: &str) {
        let dir = self.out.join("adapters").join(format!("trial-{trial:03}"));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            for (name, bytes) in [
                ("adapter_model.safetensors", safetensors),
                ("adapter_config.json", config_json.as_bytes()),
            ] {
                let tmp = dir.join(format!("{name}.tmp"));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, dir.join(name))?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            eprintln!(
                "sweeplab: writing the adapters of trial {trial} to {}: {e}",
                dir.display()
            );
        }
    }

    fn progress(&mut self, event: &ProgressEvent) {
        self.display.progress(event);
        if let (
            Some(m),
            ProgressEvent::Epoch {
                trial,
                epoch,
                value,
                ..
            },
        ) = (&mut self.mlflow, event)
        {
            m.epoch(*trial, *epoch as i64, *value);
        }
    }
}

impl SweepHooks for Host<'_> {
    fn run_config(&self) -> Vec<(&'static str, String)> {
        self.run_config.clone()
    }

    fn trial_started(&mut self, number: u64) {
        if let Some(m) = &mut self.mlflow {
            m.trial_started(number);
        }
        if let Some(hb) = &self.heartbeat {
            if let Ok(mut r) = hb.running.lock() {
                r.insert(number);
            }
            hb.beat(number);
        }
    }

    fn wait_for_workers(&mut self, running: &[u64]) -> impl std::future::Future<Output = ()> {
        // Say once what this worker waits for (and again when that changes).
        if self.waiting_for.as_slice() != running {
            self.waiting_for = running.to_vec();
            let grace = self.heartbeat.as_ref().map_or(String::new(), |hb| {
                format!(
                    "; a trial whose worker stops sending heartbeats is failed {} s after its last one",
                    hb.grace.as_secs()
                )
            });
            self.display.println(format!(
                "sweeplab: run_cap reached counting {} trial(s) other workers are running ({}): waiting for them to finish{grace}",
                running.len(),
                running
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Other workers' trials hold the rest of the cap: look again in a moment (a stale
        // one is failed by the next ask, and its place taken).
        let pause = self
            .heartbeat
            .as_ref()
            .map_or(Duration::from_secs(1), |hb| {
                (hb.grace / 4).clamp(Duration::from_millis(200), Duration::from_secs(5))
            });
        std::thread::sleep(pause);
        std::future::ready(())
    }

    fn stale_trials(&mut self) -> Vec<u64> {
        let Some(hb) = &self.heartbeat else {
            return Vec::new();
        };
        let Ok(mut db) = hb.rdb.lock() else {
            return Vec::new();
        };
        match db.stale(&hb.study, hb.grace) {
            Ok(stale) => {
                if !stale.is_empty() {
                    eprintln!(
                        "sweeplab: failing {} stale trial(s) whose worker stopped sending heartbeats: {}",
                        stale.len(),
                        stale
                            .iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                stale
            }
            Err(e) => {
                eprintln!("sweeplab: looking for stale trials: {e}");
                Vec::new()
            }
        }
    }

    fn trial_ended(&mut self, study: &Study, end: &TrialEnd) -> Result<(), RunnerError> {
        if let Some(hb) = &self.heartbeat
            && let Ok(mut r) = hb.running.lock()
        {
            r.remove(&end.number);
        }
        export_logs(study, &mut self.logs).map_err(|e| {
            RunnerError::Host(format!("writing the logs of trial {}: {e:#}", end.number))
        })?;
        if let (Some(m), Some(record)) = (&mut self.mlflow, study.storage().study(study.study_id()))
        {
            m.sync(record);
        }
        self.display
            .trials
            .set_position(counted(study).min(self.setup.n_trials) as u64);
        self.display.set_best(study.best_value());
        self.display.println(trial_line(
            self.setup,
            end.number,
            &end.params,
            &end.outcome,
        ));
        Ok(())
    }
}

/// `sweeplab sweep`
pub fn sweep(a: SweepArgs) -> Result<()> {
    let setup = load_setup(&a.config)?;
    let choice = BackendChoice::parse(&a.backend)?;
    let engine = EngineChoice::parse(&a.engine)?;
    if a.slots == Some(0) {
        bail!("--slots must be at least 1");
    }
    let data = load_data(&setup.data)?;
    if a.baselines && data.text.is_none() {
        bail!(
            "--baselines is for language-model studies (dataset: devils-dictionary, model: lora or finetune); {} trains on {}",
            a.config.display(),
            data.name
        );
    }
    // Every value a parameter can take suits this data set: checked before anything is
    // written or any trial runs.
    setup
        .spec
        .check_for(&data)
        .with_context(|| format!("{}", a.config.display()))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let storage_arg = a
        .storage
        .clone()
        .unwrap_or_else(|| a.out.join("journal.log").display().to_string());
    let opened = crate::study_cmds::open_storage(&storage_arg)?;
    let storage_shown = opened.shown();
    let is_db = opened.has_heartbeats();
    if !is_db && (a.heartbeat_interval.is_some() || a.grace_period.is_some()) {
        bail!(
            "--heartbeat-interval and --grace-period need a storage shared by many machines (sqlite:///, postgresql:// or redis://); {storage_shown} is a journal file"
        );
    }
    if a.heartbeat_interval == Some(0) {
        bail!("--heartbeat-interval must be at least 1 second");
    }
    let worker = crate::study_cmds::worker_id();

    // Create or resume the study. Every write below re-reads what other workers stored,
    // holding the study (the journal's lock, or the study's row), before it writes.
    let (mut store, storage) = opened.into_store(&setup.study_name)?;
    let sampler = setup.config.build_sampler()?;
    let mut study = open_study(storage, &setup.study_name, setup.direction, sampler)
        .with_context(|| storage_shown.clone())?;
    study.set_worker_id(&worker);
    study.set_pruner(setup.config.build_pruner()?);
    // The new study's CreateStudy reaches the storage here, after what others wrote.
    store.write(&mut study, |_| Ok::<(), anyhow::Error>(()))?;
    let heartbeat = if is_db {
        // A trial is never RUNNING in the database without a heartbeat, even when this
        // worker dies right after asking it.
        store.beat_new_trials();
        let interval = a.heartbeat_interval.unwrap_or(60);
        let grace = a.grace_period.unwrap_or(2 * interval);
        Some(Heartbeat::start(
            &storage_arg,
            &setup.study_name,
            Duration::from_secs(interval),
            Duration::from_secs(grace),
        )?)
    } else {
        None
    };
    // On a journal file, trials a crash left RUNNING: FAIL, interrupted, not counted. A
    // database is shared by live workers: their trials are failed only once their
    // heartbeats go stale.
    let stale = if is_db {
        Vec::new()
    } else {
        resume(&mut study, &mut store, "the sweep stopped while it ran")?
    };
    if !stale.is_empty() {
        eprintln!(
            "resuming: marked {} interrupted trial(s) FAIL ({})",
            stale.len(),
            stale
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // A kill between a trial's journal lines and its logs leaves logs missing or temporary
    // files behind: clean up, and write every finished trial's logs before going on.
    let removed = export::remove_stale_sweep_temps(&a.out);
    if removed > 0 {
        eprintln!("resuming: removed {removed} temporary file(s) a stopped sweep left");
    }
    let mut logs = export::SweepLogs::new(&a.out);
    if study.trials().iter().any(|t| t.state.is_finished()) {
        export_logs(&study, &mut logs).context("writing the logs of the finished trials")?;
    }

    let backend = block_on(select_backend(choice))?;
    eprintln!("backend: {}", backend.reason);
    let (chosen, why) = choose_engine(engine, backend.kind, &setup, &data)?;
    eprintln!("engine: {why}");
    eprintln!("sampler: {}", setup.config.sampler_description());
    eprintln!(
        "study `{}`: {} of {} trials done; storage {}; logs in {}",
        setup.study_name,
        counted(&study).min(setup.n_trials),
        setup.n_trials,
        storage_shown,
        a.out.display()
    );

    let cancel = CancelToken::new();
    {
        let c = cancel.clone();
        let mut hits = 0u32;
        ctrlc::set_handler(move || {
            hits += 1;
            if hits > 1 {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: stopping after this step (Ctrl-C again to quit at once)");
            c.cancel();
        })
        .context("installing the Ctrl-C handler")?;
    }

    let mut host = Host {
        display: Display::new(
            counted(&study).min(setup.n_trials),
            setup.n_trials,
            a.quiet,
            setup.objective.series(),
        ),
        setup: &setup,
        out: &a.out,
        logs,
        heartbeat,
        mlflow: a
            .mlflow_uri
            .as_deref()
            .map(|uri| crate::mlflow_live::MlflowLive::new(uri, study.name()))
            .transpose()?,
        waiting_for: Vec::new(),
        histograms: !a.no_histograms,
        system: SystemProbe::new((backend.kind == BackendKind::Wgpu).then(|| {
            let device = backend.device.clone();
            Box::new(move || device.memory_pool_usage().map(|u| u.bytes_reserved)) as GpuBytes
        })),
        run_config: vec![
            ("backend", backend.kind.name().to_string()),
            (
                "adapter",
                backend.adapter.clone().unwrap_or_else(|| "CPU".to_string()),
            ),
            ("platform", format!("native ({})", std::env::consts::OS)),
        ],
    };
    // Trials finished before this run (a resumed sweep) that the server lacks.
    if let (Some(m), Some(record)) = (&mut host.mlflow, study.storage().study(study.study_id())) {
        m.sync(record);
    }
    host.display.set_best(study.best_value());
    if chosen != Chosen::Burn {
        host.display.several = true;
        host.display.epoch.finish_and_clear();
    }
    let counted_now = counted(&study);
    let spec = &setup.spec;
    let mut run = |engine: Engine<'_>| {
        block_on(run_study(
            &mut study, &mut store, &mut host, spec, &data, engine, &cancel,
        ))
    };
    let mut end = StudyEnd::AllDone;
    let remaining = setup.n_trials.saturating_sub(counted_now);
    if let Chosen::Stack(room) = chosen {
        let slots = a.slots.unwrap_or(4).min(remaining.max(1));
        end = run(Engine::Stack(&mut StackSweep::new(
            room,
            &backend.device,
            slots,
        )))?;
    }
    if chosen == Chosen::Fused {
        let fused_engine = block_on(FusedEngine::new())?;
        let mut sweep = FusedSweep::new(
            &fused_engine,
            &data,
            FusedSweepOptions {
                slots: a
                    .slots
                    .unwrap_or(FusedSweepOptions::default_slots(remaining))
                    .min(remaining.max(1)),
                n_trials: remaining,
                objective: setup.objective,
                refill: true,
            },
        )?;
        end = run(Engine::Fused(&mut sweep))?;
    }
    if end != StudyEnd::Stopped {
        end = run(Engine::Burn(&backend.device))?;
    }
    let display = host.display;
    if end == StudyEnd::Stopped {
        display.trials.abandon();
        eprintln!(
            "stopped; {} trial(s) kept in {}. Run the same command again to resume.",
            counted(&study),
            storage_shown
        );
        std::process::exit(130);
    }
    display.trials.finish();
    display.epoch.finish_and_clear();
    match study.best_trial() {
        Some(t) => eprintln!(
            "done: {} trials; best trial {} with {} = {:.6}: {}",
            counted(&study),
            t.number,
            setup.objective.series(),
            t.value().unwrap_or(f64::NAN),
            t.params()
                .iter()
                .map(|(k, v)| match v {
                    sweeplab_core::ParamValue::Str(s) => format!("{k}={s}"),
                    v => format!("{k}={}", v.to_json().to_python_default()),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ),
        None => eprintln!("done: {} trials; none completed", counted(&study)),
    }
    if a.baselines {
        let mut quiet = |_: &sweeplab_core::train::ProgressEvent| {};
        let baselines = block_on(sweeplab_core::train::run_baselines(
            &mut study,
            &mut store,
            &mut quiet,
            spec,
            &data,
            &backend.device,
            &cancel,
            |name, i, n| {
                if !a.quiet {
                    eprintln!("baseline {} of {n}: {name}", i + 1);
                }
            },
        ))?;
        print_baselines(&baselines);
    }
    Ok(())
}

/// The baselines as a table on stderr, each with its val/loss against the frozen base's.
fn print_baselines(baselines: &[sweeplab_core::train::lm::baselines::Baseline]) {
    let frozen = baselines
        .iter()
        .find(|b| b.kind == "frozen")
        .and_then(|b| b.val_loss);
    eprintln!(
        "{:<18} {:>9} {:>10} {:>10} {:>11} {:>6} {:>6} {:>9} {:>8}",
        "baseline",
        "val/loss",
        "perplexity",
        "vs frozen",
        "base memory",
        "base",
        "steps",
        "lr",
        "seconds"
    );
    for b in baselines {
        let (loss, ppl, delta) = match (b.val_loss, b.perplexity()) {
            (Some(l), Some(p)) => (
                format!("{l:.4}"),
                format!("{p:.2}"),
                frozen.map_or("-".into(), |f| format!("{:+.4}", l - f)),
            ),
            _ => ("-".into(), "-".into(), "-".into()),
        };
        eprintln!(
            "{:<18} {:>9} {:>10} {:>10} {:>11} {:>6} {:>6} {:>9} {:>8.1}{}",
            b.name,
            loss,
            ppl,
            delta,
            sweeplab_core::baselines::memory_text(b.base_memory_bytes),
            b.base,
            b.steps,
            if b.steps == 0 {
                "-".to_string()
            } else {
                format!("{:.4}", b.lr)
            },
            b.seconds,
            b.note
                .as_ref()
                .map_or(String::new(), |n| format!("  ({n})"))
        );
    }
}
