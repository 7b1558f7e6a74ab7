//! `export`: a study of any storage as TensorBoard logdir, W&B offline runs, Optuna
//! journal, an Optuna SQLite database, CSV, or one zip of them all.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use sweeplab_core::export::{
    self, ExportFormat, ExportOptions, find_study, write_file_atomic, write_files_atomic,
};

/// `export`
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long, help = crate::study_cmds::STORAGE_HELP)]
    storage: String,
    /// The study to export.
    #[arg(long)]
    study_name: String,
    /// tensorboard (a logdir), wandb (a directory holding wandb/offline-run-*), mlflow (a
    /// directory holding MLflow's file store, mlruns/), optuna (a journal file), sqlite (an Optuna SQLite database: `sqlite:///FILE`, optuna-dashboard),
    /// csv (a file) or zip (one archive with all of them).
    #[arg(long)]
    format: String,
    /// Where to write: a directory for tensorboard, wandb and mlflow, a file otherwise. Files are
    /// written to a temporary name and renamed, so nothing half-written is left behind.
    #[arg(long)]
    out: PathBuf,
    /// The W&B project the runs are synced into.
    #[arg(long, default_value = "sweeplab")]
    wandb_project: String,
}

/// `sweeplab export`
pub fn export(a: ExportArgs) -> Result<()> {
    // `sqlite` is not one of the core's formats: the database is written by the storage
    // crate, with Optuna's schema.
    let sqlite = a.format == "sqlite";
    let format = match ExportFormat::parse(&a.format) {
        Some(f) => Some(f),
        None if sqlite => None,
        None => bail!(
            "unknown --format `{}`; use tensorboard, wandb, mlflow, optuna, sqlite, csv or zip",
            a.format
        ),
    };
    let url = sweeplab_storage::StorageUrl::parse(&a.storage)?;
    let source_file = match &url {
        sweeplab_storage::StorageUrl::Journal(p) => {
            if !p.is_file() {
                bail!("--storage {}: no such journal file", p.display());
            }
            Some(p.clone())
        }
        sweeplab_storage::StorageUrl::Sqlite(p) => Some(p.clone()),
        _ => None,
    };
    let mut opened = crate::study_cmds::open_storage(&a.storage)?;
    let storage = opened.load_all()?;
    let study = find_study(&storage, &a.study_name)
        .with_context(|| format!("--storage {}", opened.shown()))?;
    // MLflow records where its store lives: the absolute path of OUT/mlruns.
    let mlflow_root = (format == Some(ExportFormat::Mlflow))
        .then(|| absolute(&a.out.join("mlruns")))
        .transpose()?;
    let options = ExportOptions {
        wandb_project: a.wandb_project.clone(),
        mlflow_root,
        ..ExportOptions::default()
    };
    let (files, shown) = match format {
        Some(f) => (export::export_study(study, f, &options)?, f.to_string()),
        None => (
            vec![export::ExportFile {
                path: "study.db".to_string(),
                bytes: sweeplab_storage::sqlite_file_bytes(study)
                    .map_err(|e| anyhow::anyhow!("writing the SQLite database: {e}"))?,
            }],
            "sqlite".to_string(),
        ),
    };
    if format.is_none_or(|f| f.is_single_file()) {
        // Writing over the file the study is read from would replace every study in it
        // with this one's copy.
        if source_file.as_deref().is_some_and(|j| same_file(&a.out, j)) {
            bail!(
                "--out {} is the file the study is read from (--storage); writing the export over it would lose what it holds; choose another file",
                a.out.display()
            );
        }
        if a.out.is_dir() {
            bail!(
                "--out {} is a directory; --format {shown} writes one file",
                a.out.display()
            );
        }
        if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let bytes = files
            .first()
            .map(|f| f.bytes.as_slice())
            .unwrap_or_default();
        write_file_atomic(&a.out, bytes)?;
    } else {
        if a.out.exists() && !a.out.is_dir() {
            bail!(
                "--out {} is a file; --format {shown} writes a directory",
                a.out.display()
            );
        }
        write_files_atomic(&a.out, &files)?;
    }
    eprintln!(
        "Exported study `{}` ({} trials) as {shown} to {} ({} file{})",
        study.name,
        study.trials.len(),
        a.out.display(),
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// `path` (which need not exist) as an absolute `file://` URI.
fn absolute(path: &std::path::Path) -> Result<String> {
    let abs = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    Ok(format!("file://{}", abs.display()))
}

/// Whether `a` and `b` name the same existing file (through links and relative paths).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
