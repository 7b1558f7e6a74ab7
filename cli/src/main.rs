//! `sweeplab`: Optuna-compatible ask/tell on journal files, exports, and headless sweeps.
//!
//! Every command that touches a journal takes Optuna's file lock, so `sweeplab` and Python
//! Optuna can share one journal. Bad input prints one line on stderr and exits with status 2;
//! the journal is then left as it was.

mod export_cmd;
mod study_cmds;
#[cfg(feature = "train")]
mod sweep_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sweeplab: hyperparameter search that speaks Optuna's ask/tell and journal storage.
#[derive(Parser, Debug)]
#[command(name = "sweeplab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new study in a journal file (like `optuna create-study`).
    CreateStudy(study_cmds::CreateStudyArgs),
    /// Start a trial and print `{"number": N, "params": {...}}` (like `optuna ask`).
    Ask(study_cmds::AskArgs),
    /// Finish a trial with values or a state (like `optuna tell`).
    Tell(study_cmds::TellArgs),
    /// List the studies of a journal file with their trial counts and best values.
    Studies(study_cmds::StudiesArgs),
    /// Export a study as a TensorBoard logdir, W&B offline runs, Optuna journal, CSV or zip.
    Export(export_cmd::ExportArgs),
    /// Run a whole study from a W&B sweep YAML, training each trial; writes the Optuna
    /// journal, TensorBoard and W&B offline runs as trials end, and resumes when run again.
    #[cfg(feature = "train")]
    Sweep(sweep_cmd::SweepArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CreateStudy(a) => study_cmds::create_study(a),
        Command::Ask(a) => study_cmds::ask(a),
        Command::Tell(a) => study_cmds::tell(a),
        Command::Studies(a) => study_cmds::studies(a),
        Command::Export(a) => export_cmd::export(a),
        #[cfg(feature = "train")]
        Command::Sweep(a) => sweep_cmd::sweep(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the whole cause chain joined.
            let msg: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("sweeplab: error: {}", msg.join(": ").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
