//! Rows of Optuna's tables as another program may have left them (Python Optuna, rustuna, a
//! hand-edited file, a bug): the input chooses rows for every table, with values of any
//! type, inserted into a database with Optuna 5.0's schema; sweeplab then reads the file as
//! `sqlite:///FILE` does. It may refuse it with an error, never panic; and a study it reads
//! writes back (as `study.db`) to a file that reads back the same.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value;
use sweeplab_core::samplers::RandomSampler;
use sweeplab_core::{Study, StudyDirection};

/// The file of an empty study "s": Optuna's tables, stamped.
fn schema() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let study = Study::create("s", StudyDirection::Minimize, Box::new(RandomSampler::new(None)))
            .expect("a study");
        let record = study.storage().studies().next().expect("the study");
        sweeplab_storage::sqlite_file_bytes(record).expect("the schema")
    })
}

/// Tables and their columns, in the order the input fills them.
const TABLES: &[(&str, &[&str])] = &[
    ("studies", &["study_id", "study_name"]),
    ("study_directions", &["study_direction_id", "direction", "study_id", "objective"]),
    ("study_user_attributes", &["study_user_attribute_id", "study_id", "key", "value_json"]),
    ("study_system_attributes", &["study_system_attribute_id", "study_id", "key", "value_json"]),
    ("trials", &["trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"]),
    ("trial_params", &["param_id", "trial_id", "param_name", "param_value", "distribution_json"]),
    ("trial_values", &["trial_value_id", "trial_id", "objective", "value", "value_type"]),
    ("trial_intermediate_values", &["trial_intermediate_value_id", "trial_id", "step", "intermediate_value", "intermediate_value_type"]),
    ("trial_user_attributes", &["trial_user_attribute_id", "trial_id", "key", "value_json"]),
    ("trial_system_attributes", &["trial_system_attribute_id", "trial_id", "key", "value_json"]),
    ("trial_heartbeats", &["trial_heartbeat_id", "trial_id", "heartbeat"]),
    ("version_info", &["version_info_id", "schema_version", "library_version"]),
];

/// Words Optuna's columns hold, and some it never does.
const WORDS: &[&str] = &[
    "s", "x", "MINIMIZE", "MAXIMIZE", "NOT_SET", "RUNNING", "COMPLETE", "PRUNED", "FAIL",
    "WAITING", "FINITE", "INF_POS", "INF_NEG", "NAN", "2024-01-02 03:04:05.123456",
    "2024-01-02T03:04:05", "1e400", "NaN", "Infinity", "-Infinity", "null", "[1, 2]", "{\"a\": NaN}",
    r#"{"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": false, "step": null}}"#,
    r#"{"name": "IntDistribution", "attributes": {"low": -9223372036854775808, "high": 9223372036854775807, "log": false, "step": 1}}"#,
    r#"{"name": "CategoricalDistribution", "attributes": {"choices": ["a", null, 1.5]}}"#,
    r#"{"name": "FloatDistribution", "attributes": {"low": 1.0, "high": 0.0, "log": true, "step": null}}"#,
    "\"series:val/loss\"", "[[1, 0.5, 1700000000.0]]", "", "\u{0}", "12",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn value(&mut self) -> Option<Value> {
        Some(match self.byte()? % 6 {
            0 => Value::Null,
            1 => Value::Integer(i64::from(self.byte()?) - 8),
            2 => {
                let b: [u8; 8] = std::array::from_fn(|_| self.byte().unwrap_or(0));
                Value::Integer(i64::from_le_bytes(b))
            }
            3 => {
                let b: [u8; 8] = std::array::from_fn(|_| self.byte().unwrap_or(0));
                Value::Real(f64::from_le_bytes(b))
            }
            4 => Value::Text(WORDS[usize::from(self.byte()?) % WORDS.len()].to_string()),
            _ => {
                let n = usize::from(self.byte()? % 24);
                let take = n.min(self.0.len());
                let (t, rest) = self.0.split_at(take);
                self.0 = rest;
                Value::Text(String::from_utf8_lossy(t).into_owned())
            }
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let bytes = schema();
    let Ok(mut conn) = rusqlite::Connection::open_in_memory() else {
        return;
    };
    if conn
        .deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), false)
        .is_err()
    {
        return;
    }
    // Up to 24 rows; constraint failures are simply not inserted (as a database would
    // refuse them).
    for _ in 0..24 {
        let Some(t) = input.byte() else { break };
        let (table, columns) = TABLES[usize::from(t) % TABLES.len()];
        let mut values = Vec::with_capacity(columns.len());
        for _ in *columns {
            match input.value() {
                Some(v) => values.push(v),
                None => break,
            }
        }
        let cols = &columns[..values.len()];
        if cols.is_empty() {
            break;
        }
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        );
        let _ = conn.execute(&sql, rusqlite::params_from_iter(values));
    }
    let Ok(file) = conn.serialize(rusqlite::MAIN_DB) else {
        return;
    };
    let Ok(storage) = sweeplab_storage::load_sqlite_bytes(&file) else {
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
        assert_eq!(again.trials.len(), study.trials.len(), "trials lost in study.db");
    }
});
