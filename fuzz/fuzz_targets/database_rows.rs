//! Rows of Optuna's tables as another program may have left them (Python Optuna, rustuna, a
//! hand-edited file, a bug): the input chooses rows for every table, with values of any
//! type, inserted into a database with Optuna 5.0's schema; sweeplab then reads the
//! database as `sqlite:///FILE` does. It may refuse it with an error, never panic; and a
//! study it reads writes back (as `study.db`) to a file that reads back the same.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use sweeplab_storage::Rdb;
use sweeplab_storage::rdb::sql::Val;

/// Tables and their columns, in the order the input fills them.
const TABLES: &[(&str, &[&str])] = &[
    ("studies", &["study_id", "study_name"]),
    (
        "study_directions",
        &["study_direction_id", "direction", "study_id", "objective"],
    ),
    (
        "study_user_attributes",
        &["study_user_attribute_id", "study_id", "key", "value_json"],
    ),
    (
        "study_system_attributes",
        &["study_system_attribute_id", "study_id", "key", "value_json"],
    ),
    (
        "trials",
        &[
            "trial_id",
            "number",
            "study_id",
            "state",
            "datetime_start",
            "datetime_complete",
        ],
    ),
    (
        "trial_params",
        &[
            "param_id",
            "trial_id",
            "param_name",
            "param_value",
            "distribution_json",
        ],
    ),
    (
        "trial_values",
        &[
            "trial_value_id",
            "trial_id",
            "objective",
            "value",
            "value_type",
        ],
    ),
    (
        "trial_intermediate_values",
        &[
            "trial_intermediate_value_id",
            "trial_id",
            "step",
            "intermediate_value",
            "intermediate_value_type",
        ],
    ),
    (
        "trial_user_attributes",
        &["trial_user_attribute_id", "trial_id", "key", "value_json"],
    ),
    (
        "trial_system_attributes",
        &["trial_system_attribute_id", "trial_id", "key", "value_json"],
    ),
    (
        "trial_heartbeats",
        &["trial_heartbeat_id", "trial_id", "heartbeat"],
    ),
    (
        "version_info",
        &["version_info_id", "schema_version", "library_version"],
    ),
];

/// Words Optuna's columns hold, and some it never does.
const WORDS: &[&str] = &[
    "s",
    "x",
    "MINIMIZE",
    "MAXIMIZE",
    "NOT_SET",
    "RUNNING",
    "COMPLETE",
    "PRUNED",
    "FAIL",
    "WAITING",
    "FINITE",
    "INF_POS",
    "INF_NEG",
    "NAN",
    "2024-01-02 03:04:05.123456",
    "2024-01-02T03:04:05",
    "1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "[1, 2]",
    "{\"a\": NaN}",
    r#"{"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": false, "step": null}}"#,
    r#"{"name": "IntDistribution", "attributes": {"low": -9223372036854775808, "high": 9223372036854775807, "log": false, "step": 1}}"#,
    r#"{"name": "CategoricalDistribution", "attributes": {"choices": ["a", null, 1.5]}}"#,
    r#"{"name": "FloatDistribution", "attributes": {"low": 1.0, "high": 0.0, "log": true, "step": null}}"#,
    "\"series:val/loss\"",
    "[[1, 0.5, 1700000000.0]]",
    "",
    "\u{0}",
    "12",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn value(&mut self) -> Option<Val> {
        Some(match self.byte()? % 6 {
            0 => Val::Null,
            1 => Val::Int(i64::from(self.byte()?) - 8),
            2 => {
                let b: [u8; 8] = std::array::from_fn(|_| self.byte().unwrap_or(0));
                Val::Int(i64::from_le_bytes(b))
            }
            3 => {
                let b: [u8; 8] = std::array::from_fn(|_| self.byte().unwrap_or(0));
                Val::Real(f64::from_le_bytes(b))
            }
            4 => Val::Text(WORDS[usize::from(self.byte()?) % WORDS.len()].to_string()),
            _ => {
                let n = usize::from(self.byte()? % 24);
                let take = n.min(self.0.len());
                let (t, rest) = self.0.split_at(take);
                self.0 = rest;
                Val::Text(String::from_utf8_lossy(t).into_owned())
            }
        })
    }
}

/// One database for every input (its statements stay prepared).
static DB: Mutex<Option<Rdb>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut rows = Vec::new();
    // Up to 24 rows; a row the schema refuses is simply not there.
    for _ in 0..24 {
        let Some(t) = input.byte() else { break };
        let (table, columns) = TABLES[usize::from(t) % TABLES.len()];
        let mut values = Vec::with_capacity(columns.len());
        for _ in columns.iter() {
            match input.value() {
                Some(v) => values.push(v),
                None => break,
            }
        }
        let cols = &columns[..values.len()];
        if cols.is_empty() {
            break;
        }
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        rows.push((
            format!(
                "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
                cols.join(", "),
                marks.join(", ")
            ),
            values,
        ));
    }
    let mut db = DB.lock().unwrap_or_else(|e| e.into_inner());
    if db.is_none() {
        *db = Some(Rdb::fuzz_memory().expect("an in-memory database"));
    }
    let Some(rdb) = db.as_mut() else { return };
    let Ok(storage) = rdb.fuzz_rows(&rows) else {
        return;
    };
    // What sweeplab read, written as a study.db and read again, is the same study.
    for study in storage.studies() {
        let written = match sweeplab_storage::sqlite_file_bytes(study) {
            Ok(w) => w,
            Err(e) => panic!("a study read from a database does not write back: {e}"),
        };
        let back = match sweeplab_storage::load_sqlite_bytes(&written) {
            Ok(b) => b,
            Err(e) => panic!("a written study.db does not read back: {e}"),
        };
        let again = back.studies().next().expect("the written study");
        assert_eq!(
            again.trials.len(),
            study.trials.len(),
            "trials lost in study.db"
        );
    }
});
