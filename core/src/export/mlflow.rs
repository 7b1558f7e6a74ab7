//! MLflow's file store (`mlruns/`), as MLflow 3's `FileStore`
//! (`mlflow/store/tracking/file_store.py`) writes and reads it: the default experiment `0`,
//! one experiment `1` named after the study, and one run per started trial
//! (`mlruns/1/<run id>/`) with
//!
//! * `meta.yaml`: the run's name (`trial-003`), start and end times in milliseconds, and
//!   status (COMPLETE → FINISHED, PRUNED → KILLED, FAIL → FAILED, RUNNING → RUNNING);
//! * `params/<name>`: each parameter's value as Python's `str` writes it (what
//!   `mlflow.log_param` stores);
//! * `metrics/<key>`: the full history of every metric series, the intermediate values
//!   (`intermediate_value`) and the objective (`objective`), one `<ms> <value> <step>` line
//!   per point (more than Optuna's `MLflowCallback`, which logs final values only);
//! * `tags/<key>`: Optuna's integration's tags (`number`, `state`, `direction`,
//!   `datetime_start`, `datetime_complete`, `<param>_distribution`) and `mlflow.runName`.
//!
//! Run ids are derived from the study name and the trial number, so exporting again gives
//! the same runs. MLflow 3.7 made `sqlite:///mlflow.db` its default backend and refuses the
//! file store unless `MLFLOW_ALLOW_FILE_STORE=true`; `mlflow migrate-filestore --source DIR
//! --target sqlite:///mlflow.db` imports it (README, "Exports").

use super::{
    ExportFile, ExportOptions, started_trials, study_start, trial_end, trial_points,
    trial_run_name, trial_start,
};
use crate::distributions::{Distribution, ParamValue};
use crate::json::{Json, py_float_repr};
use crate::storage::journal::StudyRecord;
use crate::trial::{FrozenTrial, TrialState};

/// The experiment id the study's runs go in (`0` is MLflow's default experiment).
pub const EXPERIMENT_ID: &str = "1";

/// MLflow's longest key (`MAX_ENTITY_KEY_LENGTH`).
const MAX_KEY: usize = 250;
/// MLflow's longest param value (`MAX_PARAM_VAL_LENGTH`).
const MAX_PARAM_VALUE: usize = 6000;
/// MLflow's longest tag value (`MAX_TAG_VAL_LENGTH`).
const MAX_TAG_VALUE: usize = 8000;

/// A float as Python's `str` writes it (`nan`, `inf`, `0.001`, `1e-05`).
fn py_str(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        py_float_repr(f)
    }
}

/// A parameter's value as Python's `str` writes it.
fn param_str(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(f) => py_str(*f),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Bool(b) => if *b { "True" } else { "False" }.into(),
        ParamValue::Str(s) => s.clone(),
        ParamValue::Null => "None".into(),
    }
}

/// A value as Python's `repr` writes it, for distributions' reprs.
fn py_repr(v: &ParamValue) -> String {
    match v {
        ParamValue::Str(s) => {
            let escaped = s.replace('\\', "\\\\").replace('\'', "\\'");
            format!("'{escaped}'")
        }
        other => param_str(other),
    }
}

/// Optuna's `repr` of a distribution (its `_asdict()` items, sorted), e.g.
/// `FloatDistribution(high=0.1, log=True, low=0.001, step=None)`.
fn distribution_repr(d: &Distribution) -> String {
    let b = |x: bool| if x { "True" } else { "False" };
    match d {
        Distribution::Float(f) => format!(
            "FloatDistribution(high={}, log={}, low={}, step={})",
            py_str(f.high),
            b(f.log),
            py_str(f.low),
            f.step.map_or("None".into(), py_str)
        ),
        Distribution::Int(i) => format!(
            "IntDistribution(high={}, log={}, low={}, step={})",
            i.high,
            b(i.log),
            i.low,
            i.step
        ),
        Distribution::Categorical(c) => {
            let items: Vec<String> = c.choices.iter().map(py_repr).collect();
            let trailing = if items.len() == 1 { "," } else { "" };
            format!(
                "CategoricalDistribution(choices=({}{trailing}))",
                items.join(", ")
            )
        }
    }
}

/// A key MLflow accepts (`validate_param_and_metric_name`: word characters, `/`, `.`, `-`,
/// `:` and spaces; a normal relative path; at most 250 characters): anything else becomes
/// `_`.
pub fn mlflow_key(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ':' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let parts: Vec<String> = cleaned
        .split('/')
        .map(|p| match p {
            "" | "." | ".." => "_".to_string(),
            other => other.to_string(),
        })
        .collect();
    let key = parts.join("/");
    key.chars().take(MAX_KEY).collect()
}

/// A run id (32 hex digits, as MLflow's `uuid4().hex`) derived from the study's name and
/// the trial number.
pub fn run_id(study: &str, number: u64) -> String {
    // FNV-1a over the name, then two SplitMix64 steps for the 128 bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in study.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let a = crate::samplers::splitmix64(h ^ number);
    let b = crate::samplers::splitmix64(a ^ 0x5eed_f1a5);
    format!("{a:016x}{b:016x}")
}

/// A YAML scalar: a double-quoted string (JSON's escapes are YAML's).
fn yaml_str(s: &str) -> String {
    Json::Str(s.to_string()).to_compact()
}

fn millis(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

/// The experiment's `meta.yaml`, as MLflow 3.17 writes it.
fn experiment_meta(id: &str, name: &str, root: &str, created: i64) -> String {
    format!(
        "artifact_location: {}\ncreation_time: {created}\neffective_trace_archival_retention: null\nexperiment_id: '{id}'\nlast_update_time: {created}\nlifecycle_stage: active\nname: {}\ntrace_location: null\nworkspace: default\n",
        yaml_str(&format!("{root}/{id}")),
        yaml_str(name)
    )
}

/// MLflow's `RunStatus` number of a trial state.
fn run_status(state: TrialState) -> u8 {
    match state {
        TrialState::Running => 1,
        TrialState::Waiting => 2,
        TrialState::Complete => 3,
        TrialState::Fail => 4,
        TrialState::Pruned => 5,
    }
}

/// Python's `str` of a datetime in UTC (`2026-01-02 03:04:05.123456`), or `None`.
fn py_datetime(t: Option<time::OffsetDateTime>) -> String {
    let Some(t) = t else {
        return "None".into();
    };
    // In UTC where UTC can name the instant (9999-12-31T23:30-01:00 it cannot).
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if t.microsecond() != 0 {
        s.push_str(&format!(".{:06}", t.microsecond()));
    }
    s
}

/// The study as MLflow's file store: paths under `mlruns/`. `options.mlflow_root` is the
/// store's location as a `file://` URI (the artifact locations MLflow records); without
/// it they are relative (`mlruns/1`).
pub fn file_store(study: &StudyRecord, options: &ExportOptions) -> Vec<ExportFile> {
    let root = options
        .mlflow_root
        .clone()
        .unwrap_or_else(|| "mlruns".to_string());
    let origin = study_start(study);
    let created = millis(origin);
    let mut files = vec![
        ExportFile {
            path: "mlruns/0/meta.yaml".into(),
            bytes: experiment_meta("0", "Default", &root, created).into_bytes(),
        },
        ExportFile {
            path: format!("mlruns/{EXPERIMENT_ID}/meta.yaml"),
            bytes: experiment_meta(EXPERIMENT_ID, &study.name, &root, created).into_bytes(),
        },
    ];
    for t in started_trials(study) {
        files.extend(run_files(study, t, &root, origin));
    }
    files
}

/// One trial's run as MLflow holds it: what [`file_store`] writes under `mlruns/1/<id>/`
/// and what `sweep --mlflow-uri` sends to a tracking server.
#[derive(Clone, Debug, PartialEq)]
pub struct RunParts {
    /// The run's name (`trial-003`).
    pub name: String,
    /// Start, in milliseconds since the epoch.
    pub start_ms: i64,
    /// End, for a finished trial.
    pub end_ms: Option<i64>,
    /// MLflow's status: `FINISHED`, `KILLED` (pruned), `FAILED`, `RUNNING` or `SCHEDULED`.
    pub status: &'static str,
    /// Params, by MLflow key, as Python's `str` writes the values.
    pub params: Vec<(String, String)>,
    /// Tags, by MLflow key: Optuna's integration's and `mlflow.runName`.
    pub tags: Vec<(String, String)>,
    /// Every point of every metric, in step order.
    pub points: Vec<RunPoint>,
}

/// One metric point of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPoint {
    /// The metric's MLflow key.
    pub key: String,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The step.
    pub step: i64,
}

/// MLflow's `RunStatus` name of a trial state.
fn status_name(state: TrialState) -> &'static str {
    match state {
        TrialState::Running => "RUNNING",
        TrialState::Waiting => "SCHEDULED",
        TrialState::Complete => "FINISHED",
        TrialState::Fail => "FAILED",
        TrialState::Pruned => "KILLED",
    }
}

/// Trial `number`'s run; `None` if the study has no such trial.
pub fn run_file_parts(study: &StudyRecord, number: u64) -> Option<RunParts> {
    let t = study.trials.get(usize::try_from(number).ok()?)?;
    Some(run_parts(study, t, study_start(study)))
}

fn run_parts(study: &StudyRecord, t: &FrozenTrial, origin: f64) -> RunParts {
    let name = trial_run_name(t);
    let start = trial_start(t, origin);
    let end = trial_end(t, start);
    let direction = study
        .directions
        .iter()
        .map(|d| d.name().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    let mut seen = std::collections::BTreeSet::new();
    let mut params = Vec::new();
    for (pname, value) in t.params() {
        let key = mlflow_key(&pname);
        if seen.insert(key.clone()) {
            params.push((
                key,
                param_str(&value).chars().take(MAX_PARAM_VALUE).collect(),
            ));
        }
    }
    let mut raw_tags: Vec<(String, String)> = vec![
        ("mlflow.runName".into(), name.clone()),
        ("number".into(), t.number.to_string()),
        ("state".into(), t.state.name().to_string()),
        ("direction".into(), direction),
        ("datetime_start".into(), py_datetime(t.datetime_start)),
        ("datetime_complete".into(), py_datetime(t.datetime_complete)),
    ];
    for (pname, dist) in t.distributions() {
        raw_tags.push((format!("{pname}_distribution"), distribution_repr(&dist)));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut tags = Vec::new();
    for (k, v) in raw_tags {
        let key = mlflow_key(&k);
        if seen.insert(key.clone()) {
            tags.push((key, v.chars().take(MAX_TAG_VALUE).collect()));
        }
    }
    let points = trial_points(study, t, start, end)
        .into_iter()
        .map(|p| RunPoint {
            key: mlflow_key(&p.tag),
            value: p.value,
            timestamp_ms: millis(p.wall),
            step: p.step,
        })
        .collect();
    RunParts {
        name,
        start_ms: millis(start),
        end_ms: t.state.is_finished().then(|| millis(end)),
        status: status_name(t.state),
        params,
        tags,
        points,
    }
}

fn run_files(study: &StudyRecord, t: &FrozenTrial, root: &str, origin: f64) -> Vec<ExportFile> {
    let id = run_id(&study.name, t.number);
    let dir = format!("mlruns/{EXPERIMENT_ID}/{id}");
    let parts = run_parts(study, t, origin);
    let end_time = parts
        .end_ms
        .map_or_else(|| "null".to_string(), |e| e.to_string());
    let meta = format!(
        "artifact_uri: {}\nend_time: {end_time}\nentry_point_name: ''\nexperiment_id: '{EXPERIMENT_ID}'\nlifecycle_stage: active\nrun_id: {id}\nrun_name: {}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: {}\nstatus: {}\ntags: []\nuser_id: sweeplab\n",
        yaml_str(&format!("{root}/{EXPERIMENT_ID}/{id}/artifacts")),
        yaml_str(&parts.name),
        parts.start_ms,
        run_status(t.state)
    );
    let mut files = vec![ExportFile {
        path: format!("{dir}/meta.yaml"),
        bytes: meta.into_bytes(),
    }];
    // MLflow finds a run only where these three directories exist, empty or not.
    for sub in ["artifacts", "metrics", "params"] {
        files.push(ExportFile {
            path: format!("{dir}/{sub}/"),
            bytes: Vec::new(),
        });
    }
    for (key, v) in parts.params {
        files.push(ExportFile {
            path: format!("{dir}/params/{key}"),
            bytes: v.into_bytes(),
        });
    }
    for (key, v) in parts.tags {
        files.push(ExportFile {
            path: format!("{dir}/tags/{key}"),
            bytes: v.into_bytes(),
        });
    }
    // Every logged point, grouped by metric, in step order.
    let mut metrics: std::collections::BTreeMap<String, String> = Default::default();
    for p in parts.points {
        let line = format!("{} {} {}\n", p.timestamp_ms, py_str(p.value), p.step);
        metrics.entry(p.key).or_default().push_str(&line);
    }
    for (key, lines) in metrics {
        files.push(ExportFile {
            path: format!("{dir}/metrics/{key}"),
            bytes: lines.into_bytes(),
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::Distribution;
    use crate::samplers::RandomSampler;
    use crate::study::{Study, StudyDirection, TellResult};

    #[test]
    fn runs_hold_params_metrics_tags_and_status() {
        let mut s = Study::create(
            "demo",
            StudyDirection::Minimize,
            Box::new(RandomSampler::new(Some(1))),
        )
        .unwrap();
        for k in 0..3 {
            let n = s.ask().unwrap();
            s.suggest(n, "lr", &Distribution::float_log(1e-4, 1e-1))
                .unwrap();
            s.suggest(n, "act", &Distribution::categorical(["relu", "tanh"]))
                .unwrap();
            s.report(n, 1, 0.5).unwrap();
            s.report(n, 2, 0.25).unwrap();
            if k == 1 {
                s.tell(n, TellResult::Pruned).unwrap();
            } else {
                s.tell_value(n, 0.1 * f64::from(k)).unwrap();
            }
        }
        let record = crate::storage::journal::JournalStorage::from_text(
            &s.take_pending()
                .iter()
                .map(|op| op.to_line("w") + "\n")
                .collect::<String>(),
        )
        .unwrap();
        let study = record.study_by_name("demo").unwrap();
        let files = file_store(study, &ExportOptions::default());
        let get = |p: &str| {
            files
                .iter()
                .find(|f| f.path == p)
                .map(|f| String::from_utf8(f.bytes.clone()).unwrap())
        };
        assert!(
            get("mlruns/0/meta.yaml")
                .unwrap()
                .contains("name: \"Default\"")
        );
        assert!(
            get("mlruns/1/meta.yaml")
                .unwrap()
                .contains("name: \"demo\"")
        );
        let id = run_id("demo", 1);
        assert_eq!(id.len(), 32);
        assert_ne!(id, run_id("demo", 0));
        let dir = format!("mlruns/1/{id}");
        let meta = get(&format!("{dir}/meta.yaml")).unwrap();
        assert!(meta.contains("status: 5\n"), "pruned is KILLED: {meta}");
        assert!(meta.contains(&format!("run_id: {id}\n")), "{meta}");
        assert!(meta.contains("run_name: \"trial-001\"\n"), "{meta}");
        let iv = get(&format!("{dir}/metrics/intermediate_value")).unwrap();
        let lines: Vec<Vec<&str>> = iv.lines().map(|l| l.split(' ').collect()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0][1], lines[0][2]), ("0.5", "1"));
        assert_eq!((lines[1][1], lines[1][2]), ("0.25", "2"));
        assert_eq!(get(&format!("{dir}/tags/state")).unwrap(), "PRUNED");
        assert_eq!(
            get(&format!("{dir}/tags/act_distribution")).unwrap(),
            "CategoricalDistribution(choices=('relu', 'tanh'))"
        );
        assert!(
            get(&format!("{dir}/tags/lr_distribution"))
                .unwrap()
                .starts_with("FloatDistribution(high=0.1, log=True, low=0.0001, step=None)")
        );
        let done = format!("mlruns/1/{}", run_id("demo", 2));
        assert!(
            get(&format!("{done}/meta.yaml"))
                .unwrap()
                .contains("status: 3\n")
        );
        assert_eq!(
            get(&format!("{done}/metrics/objective"))
                .unwrap()
                .split(' ')
                .nth(1),
            Some("0.2")
        );
    }

    #[test]
    fn keys_are_ones_mlflow_accepts() {
        assert_eq!(mlflow_key("val/loss"), "val/loss");
        assert_eq!(mlflow_key("a<b>"), "a_b_");
        assert_eq!(mlflow_key("/x//../y"), "_/x/_/_/y");
        assert_eq!(mlflow_key(&"k".repeat(300)).len(), 250);
        assert_eq!(py_str(f64::NAN), "nan");
        assert_eq!(py_str(1e-5), "1e-05");
        assert_eq!(param_str(&ParamValue::Bool(true)), "True");
    }
}
