//! Exports that the real tools read: TensorBoard logdirs (with the HParams tab), W&B offline
//! runs, Optuna journals, CSV in Optuna's `trials_dataframe` layout, and one zip of them all.
//!
//! Every writer builds its files in memory as [`ExportFile`]s (path relative to the export
//! root plus bytes), so the browser can offer them as a download; natively,
//! [`write_files_atomic`] puts a file set on disk without ever leaving a half-written file.
//! The byte-level formats, and the upstream files that define them, are described in
//! `docs/export-formats.md`.
//!
//! What a trial contributes to each format:
//!
//! | trial data | TensorBoard | W&B | Optuna journal | CSV |
//! |---|---|---|---|---|
//! | params | `session_start_info` hparams | run config | params | `params_*` |
//! | where it trained (backend, adapter, engine) | — | run config `sweeplab/<key>` | system attr `sweeplab:run_config` | `system_attrs_*` |
//! | metric series | one scalar tag per series | history keys | user attr `series:<name>` | — |
//! | intermediate values | scalar `intermediate_value` | history key `intermediate_value` | intermediate values | — |
//! | objective value(s) | scalar `objective` (`objective_<i>`) | history + summary `objective` | value(s) | `value` (`values_<i>`) |
//! | weight/gradient histograms | `HistogramProto` per epoch (Histograms, Distributions) | `{"_type": "histogram"}` history items | system attr `sweeplab:histograms:<epoch>` | — |
//! | state | `session_end_info` status + text `trial/state` | exit code + summary `trial_state` | state | `state` |
//!
//! WAITING trials (enqueued, never started) have no run yet: they appear in the journal and
//! the CSV only.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::json::Json;
use crate::storage::journal::{JournalError, StudyRecord};
use crate::trial::{FrozenTrial, TrialState};

mod archive;
mod csv;
mod journal;
pub mod mlflow;
pub mod proto;
pub mod tensorboard;
pub mod wandb;

#[cfg(not(target_arch = "wasm32"))]
mod fs;

pub use archive::zip_files;
pub use csv::trials_csv;
#[cfg(not(target_arch = "wasm32"))]
pub use fs::{
    SweepLogs, remove_stale_sweep_temps, remove_stale_temp_files, write_file_atomic,
    write_files_atomic, write_sweep_logs,
};
pub use journal::{as_optuna_stores, import_journal, journal_for_study};

/// One exported file: a `/`-separated path relative to the export root, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    /// Relative path, `/`-separated (e.g. `trial-000/events.out.tfevents.…`); one ending in
    /// `/` (with no bytes) is a directory that exists even when empty.
    pub path: String,
    /// The file's content.
    pub bytes: Vec<u8>,
}

/// Why an export or an import failed. Import errors name the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The input ends in the middle of a record.
    #[error("{file}: truncated at byte {offset}: {what}")]
    Truncated {
        /// The file.
        file: String,
        /// Byte offset where the incomplete part starts.
        offset: u64,
        /// What was being read.
        what: String,
    },
    /// The input is damaged (bad magic, CRC mismatch, undecodable record).
    #[error("{file}: corrupted at byte {offset}: {what}")]
    Corrupt {
        /// The file.
        file: String,
        /// Byte offset of the damaged part.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// An Optuna journal could not be read (the journal error names the line).
    #[error("{file}: {source}")]
    Journal {
        /// The file.
        file: String,
        /// What is wrong, with its line number.
        source: JournalError,
    },
    /// The input is not UTF-8 text.
    #[error("{file}: byte {offset}: not valid UTF-8")]
    Utf8 {
        /// The file.
        file: String,
        /// Offset of the first invalid byte.
        offset: u64,
    },
    /// No study of that name in the storage.
    #[error("no study named `{name}`; the storage has: {available}")]
    UnknownStudy {
        /// The requested name.
        name: String,
        /// The names present, comma-separated (or `no studies`).
        available: String,
    },
    /// The export cannot be represented (e.g. a path that would leave the export root).
    #[error("cannot export: {0}")]
    Invalid(String),
    /// Building the zip archive failed.
    #[error("zip archive: {0}")]
    Zip(String),
    /// A file-system operation failed. (The I/O error is part of the message, not a
    /// separate source, so a chain of causes names it once.)
    #[error("{path}: {error}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        error: std::io::Error,
    },
}

/// The export formats of `sweeplab export --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// A TensorBoard logdir (a directory).
    TensorBoard,
    /// W&B offline runs: a directory holding `wandb/offline-run-…/`.
    Wandb,
    /// An Optuna journal file.
    Optuna,
    /// A CSV file in Optuna's `trials_dataframe` layout.
    Csv,
    /// A zip archive with all of the above.
    Zip,
    /// MLflow's file store: a directory holding `mlruns/`.
    Mlflow,
}

impl ExportFormat {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [ExportFormat; 6] = [
        ExportFormat::TensorBoard,
        ExportFormat::Wandb,
        ExportFormat::Mlflow,
        ExportFormat::Optuna,
        ExportFormat::Csv,
        ExportFormat::Zip,
    ];

    /// The CLI name (`tensorboard`, `wandb`, `mlflow`, `optuna`, `csv`, `zip`).
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::TensorBoard => "tensorboard",
            ExportFormat::Wandb => "wandb",
            ExportFormat::Optuna => "optuna",
            ExportFormat::Csv => "csv",
            ExportFormat::Zip => "zip",
            ExportFormat::Mlflow => "mlflow",
        }
    }

    /// Parses a CLI name (case-insensitive; `tb` and `journal` are accepted too).
    pub fn parse(s: &str) -> Option<ExportFormat> {
        Some(match s.to_ascii_lowercase().as_str() {
            "tensorboard" | "tb" => ExportFormat::TensorBoard,
            "wandb" | "w&b" => ExportFormat::Wandb,
            "optuna" | "journal" => ExportFormat::Optuna,
            "csv" => ExportFormat::Csv,
            "zip" => ExportFormat::Zip,
            "mlflow" | "mlruns" => ExportFormat::Mlflow,
            _ => return None,
        })
    }

    /// Whether the export is one file (`optuna`, `csv`, `zip`) rather than a directory tree.
    pub fn is_single_file(self) -> bool {
        matches!(
            self,
            ExportFormat::Optuna | ExportFormat::Csv | ExportFormat::Zip
        )
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings that are not part of the study itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportOptions {
    /// The host part of TensorBoard event-file names (`events.out.tfevents.<secs>.<host>.0.0`).
    pub host: String,
    /// The W&B project the runs are synced into.
    pub wandb_project: String,
    /// The `producer` written into W&B headers.
    pub producer: String,
    /// The `worker_id` of exported journal lines.
    pub worker_id: String,
    /// Where an MLflow file store will live, as a `file://` URI of its `mlruns` directory
    /// (the artifact locations MLflow records); `None`: relative (`mlruns`).
    pub mlflow_root: Option<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            host: "sweeplab".to_string(),
            wandb_project: "sweeplab".to_string(),
            producer: format!("sweeplab/{}", env!("CARGO_PKG_VERSION")),
            worker_id: "sweeplab-exporter-0".to_string(),
            mlflow_root: None,
        }
    }
}

/// File names used inside single-file exports and the zip archive.
pub mod names {
    /// The journal inside a zip (and the default name of `--format optuna`).
    pub const JOURNAL: &str = "optuna/journal.log";
    /// The CSV inside a zip.
    pub const CSV: &str = "trials.csv";
    /// The TensorBoard logdir inside a zip.
    pub const TENSORBOARD_DIR: &str = "tensorboard";
    /// The zip's name when the export is a file set.
    pub const ZIP: &str = "export.zip";
}

/// Exports one study in `format` as a file set. Single-file formats give one file, named
/// after [`names`]; directory formats give paths relative to the output directory.
pub fn export_study(
    study: &StudyRecord,
    format: ExportFormat,
    options: &ExportOptions,
) -> Result<Vec<ExportFile>, ExportError> {
    Ok(match format {
        ExportFormat::TensorBoard => tensorboard::logdir(study, options),
        ExportFormat::Mlflow => mlflow::file_store(study, options),
        ExportFormat::Wandb => wandb::offline_runs(study, options),
        ExportFormat::Optuna => vec![ExportFile {
            path: names::JOURNAL.to_string(),
            bytes: journal_for_study(study, &options.worker_id).into_bytes(),
        }],
        ExportFormat::Csv => vec![ExportFile {
            path: names::CSV.to_string(),
            bytes: trials_csv(study).into_bytes(),
        }],
        ExportFormat::Zip => {
            let mut all = Vec::new();
            for f in tensorboard::logdir(study, options) {
                all.push(ExportFile {
                    path: format!("{}/{}", names::TENSORBOARD_DIR, f.path),
                    bytes: f.bytes,
                });
            }
            all.extend(wandb::offline_runs(study, options));
            all.extend(mlflow::file_store(study, options));
            all.push(ExportFile {
                path: names::JOURNAL.to_string(),
                bytes: journal_for_study(study, &options.worker_id).into_bytes(),
            });
            all.push(ExportFile {
                path: names::CSV.to_string(),
                bytes: trials_csv(study).into_bytes(),
            });
            vec![ExportFile {
                path: names::ZIP.to_string(),
                bytes: zip_files(&all)?,
            }]
        }
    })
}

/// Looks a study up by name, with an error that lists the names present.
pub fn find_study<'a>(
    storage: &'a crate::storage::journal::JournalStorage,
    name: &str,
) -> Result<&'a StudyRecord, ExportError> {
    storage.study_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = storage.studies().map(|s| s.name.as_str()).collect();
        ExportError::UnknownStudy {
            name: name.to_string(),
            available: if names.is_empty() {
                "no studies".to_string()
            } else {
                names.join(", ")
            },
        }
    })
}

/// Checks that an export path is relative, `/`-separated and stays inside the export root.
pub(crate) fn check_relative_path(path: &str) -> Result<(), ExportError> {
    // A trailing `/` marks an empty directory (see `ExportFile`).
    let path = path.strip_suffix('/').unwrap_or(path);
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains(['\\', '\0'])
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(ExportError::Invalid(format!(
            "`{path}` is not a relative path inside the export"
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------ shared trial helpers

/// Seconds since the Unix epoch, as a float.
pub(crate) fn unix_secs(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// The trials that have a run in TensorBoard/W&B (all but WAITING).
pub(crate) fn started_trials(study: &StudyRecord) -> impl Iterator<Item = &FrozenTrial> {
    study
        .trials
        .iter()
        .filter(|t| t.state != TrialState::Waiting)
}

/// The finite wall times of a trial's logged points.
fn point_times(t: &FrozenTrial) -> impl Iterator<Item = f64> + '_ {
    t.series
        .values()
        .flatten()
        .map(|p| p.wall_time)
        .filter(|w| w.is_finite())
}

/// The study's time origin: the earliest trial start (or the first logged point).
pub(crate) fn study_start(study: &StudyRecord) -> f64 {
    let mut best: Option<f64> = None;
    for t in started_trials(study) {
        let candidates = t.datetime_start.map(unix_secs).into_iter();
        for c in candidates.filter(|c| c.is_finite()).chain(point_times(t)) {
            best = Some(best.map_or(c, |b: f64| b.min(c)));
        }
    }
    best.unwrap_or(0.0)
}

/// When a trial started: its `datetime_start`, else its first logged point, else `fallback`.
pub(crate) fn trial_start(t: &FrozenTrial, fallback: f64) -> f64 {
    t.datetime_start.map(unix_secs).unwrap_or_else(|| {
        point_times(t)
            .fold(None, |acc: Option<f64>, w| {
                Some(acc.map_or(w, |a| a.min(w)))
            })
            .unwrap_or(fallback)
    })
}

/// When a trial ended: its `datetime_complete`, else its last logged point, else `start`.
pub(crate) fn trial_end(t: &FrozenTrial, start: f64) -> f64 {
    t.datetime_complete
        .map(unix_secs)
        .unwrap_or_else(|| point_times(t).fold(start, f64::max))
}

/// The run directory name of a trial (`trial-000`).
pub(crate) fn trial_run_name(t: &FrozenTrial) -> String {
    format!("trial-{:03}", t.number)
}

/// Reserved metric names; a series with one of these names is exported as `series/<name>`.
pub(crate) const OBJECTIVE_TAG: &str = "objective";
/// The tag/key of reported intermediate values.
pub(crate) const INTERMEDIATE_TAG: &str = "intermediate_value";

/// The objective tags of a study: `objective`, or `objective_0`, `objective_1`, … when it
/// has several directions.
pub(crate) fn objective_tags(study: &StudyRecord) -> Vec<String> {
    let n = study.directions.len().max(1);
    if n == 1 {
        vec![OBJECTIVE_TAG.to_string()]
    } else {
        (0..n).map(|i| format!("{OBJECTIVE_TAG}_{i}")).collect()
    }
}

/// The exported name of a metric series (renamed only if it clashes with a reserved name).
pub(crate) fn series_tag(study: &StudyRecord, name: &str) -> String {
    if name == INTERMEDIATE_TAG || objective_tags(study).iter().any(|t| t == name) {
        format!("series/{name}")
    } else {
        name.to_string()
    }
}

/// One value a trial logged, with the step and wall time it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Point {
    /// The metric's exported name.
    pub tag: String,
    /// The step.
    pub step: i64,
    /// The value.
    pub value: f64,
    /// Seconds since the epoch.
    pub wall: f64,
}

/// Everything a trial logged, as points: every series, the intermediate values, and the
/// objective value(s) at the last step. Sorted by step, then wall time (stable).
///
/// Intermediate values carry no time in Optuna; they take the time of a series point at
/// the same step if there is one, else a time spread evenly between start and end.
pub(crate) fn trial_points(
    study: &StudyRecord,
    t: &FrozenTrial,
    start: f64,
    end: f64,
) -> Vec<Point> {
    let mut points = Vec::new();
    let mut wall_at_step: BTreeMap<i64, f64> = BTreeMap::new();
    for (name, series) in &t.series {
        let tag = series_tag(study, name);
        for p in series {
            let w = wall_at_step.entry(p.step).or_insert(p.wall_time);
            *w = w.max(p.wall_time);
            points.push(Point {
                tag: tag.clone(),
                step: p.step,
                value: p.value,
                wall: p.wall_time,
            });
        }
    }
    let n = t.intermediate_values.len();
    for (i, (step, value)) in t.intermediate_values.iter().enumerate() {
        let wall = wall_at_step
            .get(step)
            .copied()
            .unwrap_or_else(|| start + (end - start) * (i + 1) as f64 / n as f64);
        points.push(Point {
            tag: INTERMEDIATE_TAG.to_string(),
            step: *step,
            value: *value,
            wall,
        });
    }
    let last_step = points.iter().map(|p| p.step).max().unwrap_or(0);
    if let Some(values) = &t.values {
        for (tag, v) in objective_tags(study).into_iter().zip(values) {
            points.push(Point {
                tag,
                step: last_step,
                value: *v,
                wall: end,
            });
        }
    }
    points.sort_by(|a, b| a.step.cmp(&b.step).then(a.wall.total_cmp(&b.wall)));
    points
}

/// A JSON value for a parameter's external value.
pub(crate) fn param_json(t: &FrozenTrial, name: &str) -> Json {
    t.param(name).map_or(Json::Null, |v| v.to_json())
}
