//! `create-study`, `ask`, `tell` and `studies`: Optuna's CLI on a shared journal file.

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sweeplab_core::distributions::search_space_from_json;
use sweeplab_core::json::{Json, obj};
use sweeplab_core::samplers::sampler_from_name;
use sweeplab_core::storage::journal::{JournalError, JournalOp};
use sweeplab_core::{SearchSpace, Study, StudyDirection, TellResult, TrialState};
use sweeplab_storage::{Storage, stderr_notice};

/// The help text of every `--storage`.
pub const STORAGE_HELP: &str = "Where the study lives: a journal file (Optuna's JournalFileBackend; a path), sqlite:///FILE.db (Optuna's RDB schema in SQLite; four slashes for an absolute path) or postgresql://USER:PASS@HOST:PORT/DB (Optuna's RDB schema on PostgreSQL, shared by workers on many machines) or redis://HOST:PORT/DB[?prefix=P] (Optuna's JournalRedisBackend)";

/// Opens the storage a `--storage` argument names; a journal writer that waits for
/// another process's lock says so on stderr.
pub fn open_storage(arg: &str) -> Result<Storage> {
    Ok(Storage::open(arg, Some(stderr_notice()))?)
}

/// The worker id sweeplab writes into journal lines.
pub fn worker_id() -> String {
    format!("sweeplab-{}", std::process::id())
}

/// `create-study`
#[derive(Args, Debug)]
pub struct CreateStudyArgs {
    #[arg(long, help = STORAGE_HELP)]
    storage: String,
    /// The study's name.
    #[arg(long)]
    study_name: String,
    /// minimize or maximize.
    #[arg(long, default_value = "minimize", conflicts_with = "directions")]
    direction: String,
    /// Several directions, for a multi-objective study.
    #[arg(long, num_args = 1..)]
    directions: Vec<String>,
    /// Succeed without change if the study already exists.
    #[arg(long)]
    skip_if_exists: bool,
}

/// `ask`
#[derive(Args, Debug)]
pub struct AskArgs {
    #[arg(long, help = STORAGE_HELP)]
    storage: String,
    /// The study's name.
    #[arg(long)]
    study_name: String,
    /// TPESampler, RandomSampler or GridSampler.
    #[arg(long, default_value = "TPESampler")]
    sampler: String,
    /// The sampler's arguments as a JSON object, e.g. '{"seed": 0}'.
    #[arg(long, default_value = "{}")]
    sampler_kwargs: String,
    /// Parameters to suggest, as Optuna's distribution JSON: '{"x": {"name":
    /// "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}}}'.
    #[arg(long, default_value = "{}")]
    search_space: String,
}

/// `tell`
#[derive(Args, Debug)]
pub struct TellArgs {
    #[arg(long, help = STORAGE_HELP)]
    storage: String,
    /// The study's name.
    #[arg(long)]
    study_name: String,
    /// The trial's number (from `ask`).
    #[arg(long)]
    trial_number: u64,
    /// Objective value(s); NaN fails the trial, as in Optuna.
    #[arg(long, num_args = 1.., allow_negative_numbers = true, conflicts_with = "state")]
    values: Vec<String>,
    /// complete, pruned or fail.
    #[arg(long)]
    state: Option<String>,
    /// Succeed without change if the trial has already finished.
    #[arg(long)]
    skip_if_finished: bool,
}

/// `studies`
#[derive(Args, Debug)]
pub struct StudiesArgs {
    #[arg(long, help = STORAGE_HELP)]
    storage: String,
}

fn parse_direction(s: &str) -> Result<StudyDirection> {
    StudyDirection::parse(s)
        .ok_or_else(|| anyhow!("unknown direction `{s}`; use minimize or maximize"))
}

fn parse_json(what: &str, text: &str) -> Result<Json> {
    Json::parse(text).map_err(|e| anyhow!("{what} is not valid JSON: {e}"))
}

/// A number as Rust reads it: also `inf`, `-Infinity` and `NaN`, in any case.
fn parse_value(s: &str) -> Result<f64> {
    s.parse::<f64>()
        .map_err(|_| anyhow!("--values: `{s}` is not a number"))
}

/// `sweeplab create-study`
pub fn create_study(a: CreateStudyArgs) -> Result<()> {
    let directions = if a.directions.is_empty() {
        vec![parse_direction(&a.direction)?]
    } else {
        a.directions
            .iter()
            .map(|d| parse_direction(d))
            .collect::<Result<Vec<_>>>()?
    };
    let mut storage = open_storage(&a.storage)?;
    let worker = worker_id();
    storage
        .transact(&a.study_name, &worker, |storage| {
            if storage.study_by_name(&a.study_name).is_some() {
                if a.skip_if_exists {
                    return Ok(((), Vec::new()));
                }
                bail!(JournalError::DuplicateStudy(a.study_name.clone()));
            }
            let op = JournalOp::CreateStudy {
                study_name: a.study_name.clone(),
                directions: directions.clone(),
            };
            Ok(((), vec![op]))
        })
        .with_context(|| format!("create-study {}", storage.shown()))?;
    println!("{}", a.study_name);
    Ok(())
}

/// `sweeplab ask`
pub fn ask(a: AskArgs) -> Result<()> {
    let kwargs = parse_json("--sampler-kwargs", &a.sampler_kwargs)?;
    // Validate everything before touching the journal.
    sampler_from_name(&a.sampler, &kwargs)?;
    let space: SearchSpace = search_space_from_json(&a.search_space).context("--search-space")?;
    let mut storage = open_storage(&a.storage)?;
    let worker = worker_id();
    let out = storage.transact(&a.study_name, &worker, |storage| -> Result<_> {
        let sampler = sampler_from_name(&a.sampler, &kwargs)?;
        let mut study = Study::load(storage, &a.study_name, sampler)?;
        study.set_worker_id(&worker);
        let (number, params) = study.ask_with(&space)?;
        let out = obj([
            ("number", Json::Int(number as i64)),
            (
                "params",
                Json::Object(
                    params
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_json()))
                        .collect(),
                ),
            ),
        ]);
        Ok((out, study.take_pending()))
    })?;
    println!("{}", out.to_python_default());
    Ok(())
}

/// `sweeplab tell`
pub fn tell(a: TellArgs) -> Result<()> {
    let result = match (&a.state, a.values.is_empty()) {
        (Some(s), true) => match TrialState::parse(s) {
            Some(TrialState::Pruned) => TellResult::Pruned,
            Some(TrialState::Fail) => TellResult::Fail,
            Some(TrialState::Complete) => {
                bail!("--state complete needs --values")
            }
            _ => bail!("--state must be complete, pruned or fail, not `{s}`"),
        },
        (None, false) => TellResult::Values(
            a.values
                .iter()
                .map(|v| parse_value(v))
                .collect::<Result<Vec<_>>>()?,
        ),
        (Some(_), false) => bail!("give either --values or --state, not both"),
        (None, true) => bail!("tell needs --values or --state"),
    };
    let mut storage = open_storage(&a.storage)?;
    let worker = worker_id();
    let state = storage.transact(&a.study_name, &worker, |storage| -> Result<_> {
        let sampler = sampler_from_name("RandomSampler", &Json::Null)?;
        let mut study = Study::load(storage, &a.study_name, sampler)?;
        study.set_worker_id(&worker);
        let t = study.trial(a.trial_number)?;
        if t.state.is_finished() {
            if a.skip_if_finished {
                return Ok((t.state, Vec::new()));
            }
            bail!(
                "trial {} of study `{}` is already finished ({}); use --skip-if-finished to ignore",
                a.trial_number,
                a.study_name,
                t.state
            );
        }
        let state = study.tell(a.trial_number, result.clone())?;
        Ok((state, study.take_pending()))
    })?;
    eprintln!(
        "Told trial {} of study `{}`: {}",
        a.trial_number, a.study_name, state
    );
    Ok(())
}

/// `sweeplab studies`
pub fn studies(a: StudiesArgs) -> Result<()> {
    let storage = open_storage(&a.storage)?.load_all()?;
    for s in storage.studies() {
        let complete = s
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .count();
        let dirs: Vec<&str> = s.directions.iter().map(|d| d.name()).collect();
        println!(
            "{}\t{}\ttrials={}\tcomplete={}",
            s.name,
            dirs.join(","),
            s.trials.len(),
            complete
        );
    }
    // The process ends here: freeing every trial of a big study one by one would only
    // add time (a tenth of listing 100,000 trials); the system takes the memory back.
    std::mem::forget(storage);
    Ok(())
}
