//! `sweeplab`: Optuna-compatible ask/tell on journal files, exports, and headless sweeps.
//!
//! Every command that touches a journal takes Optuna's file lock, so `sweeplab` and Python
//! Optuna can share one journal. Bad input prints one line on stderr and exits with status 2;
//! the journal is then left as it was.

mod explain_cmd;
mod export_cmd;
#[cfg(feature = "train")]
mod lm_cmd;
#[cfg(feature = "train")]
mod mlflow_live;
mod study_cmds;
#[cfg(feature = "train")]
mod sweep_cmd;

use std::process::ExitCode;

/// mimalloc keeps freed memory for reuse: a training step frees and allocates the same large
/// tensors every time, and glibc's malloc returns each large buffer to the kernel and
/// page-faults it in again (on Flex that cost a LoRA step 13% alone and K trials on one base
/// (`LoraStack`) 40%: see the README's *LoRA fine-tuning* benchmark).
#[cfg(feature = "train")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Create a new study in a storage (like `optuna create-study`).
    CreateStudy(study_cmds::CreateStudyArgs),
    /// Start a trial and print `{"number": N, "params": {...}}` (like `optuna ask`).
    Ask(study_cmds::AskArgs),
    /// Finish a trial with values or a state (like `optuna tell`).
    Tell(study_cmds::TellArgs),
    /// List the studies of a storage with their trial counts and best values.
    Studies(study_cmds::StudiesArgs),
    /// Why TPE proposed a trial's values: the split into good and other trials, both
    /// densities, the candidates and the choice, as the sampler recorded them.
    Explain(explain_cmd::ExplainArgs),
    /// Export a study as a TensorBoard logdir, W&B offline runs, Optuna journal, CSV or zip.
    Export(export_cmd::ExportArgs),
    /// Run a whole study from a W&B sweep YAML, training each trial; writes the Optuna
    /// journal, TensorBoard and W&B offline runs as trials end, and resumes when run again.
    #[cfg(feature = "train")]
    Sweep(sweep_cmd::SweepArgs),
    /// Pretrain the base language model of the LoRA fine-tune study on a text corpus and
    /// write it as safetensors.
    #[cfg(feature = "train")]
    PretrainLm(lm_cmd::PretrainLmArgs),
    /// Continue a prompt with the language model: the shipped base, or the base with a LoRA
    /// trial's adapters (`--adapter OUT/adapters/trial-NNN`).
    #[cfg(feature = "train")]
    Generate(lm_cmd::GenerateArgs),
}

/// Rewrites `--values A B …` as `--values=A --values=B …` for every value that parses as a
/// number, so that `--values -inf` is a value and not an unknown option `-i`.
fn normalise_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    // After `--values`: whether numbers are being taken, and whether one was.
    let mut in_values = false;
    let mut took = false;
    for arg in args {
        let text = arg.to_str().map(str::to_string);
        if text.as_deref() == Some("--values") {
            if in_values && !took {
                out.push("--values".into());
            }
            in_values = true;
            took = false;
            continue;
        }
        match text {
            Some(t) if in_values && t.trim().parse::<f64>().is_ok() => {
                out.push(format!("--values={t}").into());
                took = true;
            }
            _ => {
                // `--values` followed by something else: leave both to clap, which names
                // the problem.
                if in_values && !took {
                    out.push("--values".into());
                }
                in_values = false;
                out.push(arg);
            }
        }
    }
    if in_values && !took {
        out.push("--values".into());
    }
    out
}

/// Parses the command line. `--help` and `--version` print as clap prints them; every
/// other problem is one line on stderr and exit status 2.
fn parse_cli() -> Result<Cli, ExitCode> {
    match Cli::try_parse_from(normalise_values(std::env::args_os().collect())) {
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    Err(ExitCode::SUCCESS)
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!(
                        "sweeplab: error: no command given; commands: create-study, ask, tell, studies, explain, export{}; see `sweeplab --help`",
                        if cfg!(feature = "train") {
                            ", sweep, pretrain-lm, generate"
                        } else {
                            ""
                        }
                    );
                    Err(ExitCode::from(2))
                }
                _ => {
                    eprintln!("sweeplab: error: {}", clap_one_line(&e.to_string()));
                    Err(ExitCode::from(2))
                }
            }
        }
    }
}

/// clap's message on one line: its first line without the `error: ` prefix, plus the tip
/// it gives, if any, and the usage line.
fn clap_one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    let mut parts = vec![first];
    for l in lines {
        if let Some(tip) = l.strip_prefix("tip: ") {
            parts.push(tip.to_string());
        } else if let Some(usage) = l.strip_prefix("Usage: ") {
            parts.push(format!("usage: {usage}"));
        }
    }
    parts.join("; ")
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::CreateStudy(a) => study_cmds::create_study(a),
        Command::Ask(a) => study_cmds::ask(a),
        Command::Tell(a) => study_cmds::tell(a),
        Command::Studies(a) => study_cmds::studies(a),
        Command::Explain(a) => explain_cmd::explain(a),
        Command::Export(a) => export_cmd::export(a),
        #[cfg(feature = "train")]
        Command::Sweep(a) => sweep_cmd::sweep(a),
        #[cfg(feature = "train")]
        Command::PretrainLm(a) => lm_cmd::pretrain_lm(a),
        #[cfg(feature = "train")]
        Command::Generate(a) => lm_cmd::generate(a),
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
