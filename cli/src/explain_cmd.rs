//! `sweeplab explain`: why TPE proposed a trial's values, from the record the sampler stored
//! with the trial (core's `samplers::tpe::explain`).

use anyhow::{Result, anyhow, bail};
use clap::Args;
use sweeplab_core::StudyDirection;
use sweeplab_core::json::{Json, obj};
use sweeplab_core::samplers::tpe::explain::Explain;

use crate::study_cmds::{STORAGE_HELP, open_storage};

/// `explain`
#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[arg(long, help = STORAGE_HELP)]
    storage: String,
    /// The study's name.
    #[arg(long)]
    study_name: String,
    /// The trial's number.
    #[arg(long)]
    trial_number: u64,
    /// Print the records as JSON (as stored with the trial) instead of text.
    #[arg(long)]
    json: bool,
}

/// `sweeplab explain`
pub fn explain(a: ExplainArgs) -> Result<()> {
    let storage = open_storage(&a.storage)?.load_all()?;
    let study = storage
        .study_by_name(&a.study_name)
        .ok_or_else(|| anyhow!("no study named `{}` in {}", a.study_name, a.storage))?;
    let trials = storage.trials(study.study_id);
    let trial = trials.get(a.trial_number as usize).ok_or_else(|| {
        anyhow!(
            "study `{}` has no trial {} (it has {})",
            a.study_name,
            a.trial_number,
            trials.len()
        )
    })?;
    let records = Explain::of_trial(trial);
    if records.is_empty() {
        bail!(
            "trial {} has no explain record: its values were not proposed by sweeplab's TPE \
             in a sweep (`sweeplab sweep` and the playground record them; `sweeplab ask`, \
             other samplers and Python Optuna do not)",
            a.trial_number
        );
    }
    if a.json {
        let params = Json::Object(
            trial
                .params()
                .into_iter()
                .map(|(k, v)| (k, v.to_json()))
                .collect(),
        );
        let out = obj([
            ("study", Json::Str(a.study_name.clone())),
            ("trial", Json::Int(a.trial_number as i64)),
            ("params", params),
            (
                "records",
                Json::Array(records.iter().map(Explain::to_json).collect()),
            ),
        ]);
        println!("{}", out.to_compact());
    } else {
        println!(
            "trial {} of study `{}` ({})",
            a.trial_number,
            a.study_name,
            trial.state.name()
        );
        let maximize = study.directions.first() == Some(&StudyDirection::Maximize);
        for r in &records {
            print!("{}", r.render_text(trial, maximize));
        }
    }
    Ok(())
}
