//! CSV in the layout of Optuna's `study.trials_dataframe()` written with pandas'
//! `to_csv(index=False)`: one row per trial, the default columns
//! `number, value (values_<i> for several objectives), datetime_start, datetime_complete,
//! duration, params_<name>…, user_attrs_<key>…, system_attrs_<key>…, state`
//! (each group sorted by name), and pandas' cell formats:
//!
//! * floats as Python's `repr` (`0.1`, `1e-05`, `inf`); a missing value or NaN is empty;
//! * an integer column with a missing cell becomes a float column (`3.0`), as in pandas;
//! * datetimes `YYYY-MM-DD HH:MM:SS.ffffff` (the fraction only when some cell has one, the
//!   time only when some cell is not midnight), in UTC (Optuna converts to local time);
//! * durations `0 days 00:01:02.500000` (`N days` when every cell is whole days);
//! * lists and dicts as Python's `repr`; quoting as Python's `csv` module (QUOTE_MINIMAL).
//!
//! Metric series (user attributes `series:<name>`) are left out: they are curves, not cells.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::distributions::ParamValue;
use crate::json::{Json, py_float_repr};
use crate::storage::journal::StudyRecord;
use crate::trial::{FrozenTrial, SERIES_ATTR_PREFIX};

/// One cell before its column's type is known.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Missing,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A string, written as it is.
    Str(String),
    /// Anything else, already in Python's `repr`.
    Repr(String),
}

fn cell_of_json(v: &Json) -> Cell {
    match v {
        Json::Null => Cell::Missing,
        Json::Bool(b) => Cell::Bool(*b),
        Json::Int(i) => Cell::Int(*i),
        Json::Float(f) => Cell::Float(*f),
        Json::Str(s) => Cell::Str(s.clone()),
        other => Cell::Repr(py_repr(other)),
    }
}

fn cell_of_param(v: Option<ParamValue>) -> Cell {
    match v {
        None | Some(ParamValue::Null) => Cell::Missing,
        Some(ParamValue::Float(f)) => Cell::Float(f),
        Some(ParamValue::Int(i)) => Cell::Int(i),
        Some(ParamValue::Bool(b)) => Cell::Bool(b),
        Some(ParamValue::Str(s)) => Cell::Str(s),
    }
}

/// Python's `repr(float)` (`nan`, `inf`, `-inf` for the non-finite ones).
fn py_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        py_float_repr(f)
    }
}

/// Python's `repr` of a string: single quotes unless it holds `'` and no `"`.
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr` of a JSON value as `json.loads` gives it back.
fn py_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".to_string(),
        Json::Bool(true) => "True".to_string(),
        Json::Bool(false) => "False".to_string(),
        Json::Int(i) => i.to_string(),
        Json::Float(f) => py_float(*f),
        Json::Str(s) => py_str_repr(s),
        Json::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Json::Object(pairs) => {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// Formats a column of cells the way pandas would after inferring its dtype.
fn format_column(cells: &[Cell]) -> Vec<String> {
    let present: Vec<&Cell> = cells.iter().filter(|c| **c != Cell::Missing).collect();
    let any_missing = present.len() < cells.len();
    let all_int = present.iter().all(|c| matches!(c, Cell::Int(_)));
    let all_num = present
        .iter()
        .all(|c| matches!(c, Cell::Int(_) | Cell::Float(_)));
    cells
        .iter()
        .map(|c| match c {
            Cell::Missing => String::new(),
            Cell::Float(f) if f.is_nan() => String::new(),
            Cell::Int(i) if all_int && !any_missing => i.to_string(),
            Cell::Int(i) if all_num => py_float(*i as f64),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => py_float(*f),
            Cell::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Cell::Str(s) => s.clone(),
            Cell::Repr(r) => r.clone(),
        })
        .collect()
}

fn micros(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos().div_euclid(1000)
}

const DAY_US: i128 = 86_400_000_000;

fn format_datetimes(cells: &[Option<OffsetDateTime>]) -> Vec<String> {
    let utc: Vec<Option<OffsetDateTime>> = cells
        .iter()
        // A time whose UTC instant has no date `time` can hold (9999-12-31T23:30-01:00,
        // which Python reads) keeps its own wall clock.
        .map(|c| c.map(|t| t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t)))
        .collect();
    let present: Vec<i128> = utc.iter().flatten().map(|t| micros(*t)).collect();
    let with_fraction = present.iter().any(|us| us.rem_euclid(1_000_000) != 0);
    let dates_only = present.iter().all(|us| us.rem_euclid(DAY_US) == 0);
    utc.iter()
        .map(|c| {
            let Some(t) = c else {
                return String::new();
            };
            let mut s = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
            if !dates_only {
                let _ = write!(s, " {:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
                if with_fraction {
                    let _ = write!(s, ".{:06}", t.microsecond());
                }
            }
            s
        })
        .collect()
}

fn format_durations(cells: &[Option<i128>]) -> Vec<String> {
    let present: Vec<i128> = cells.iter().flatten().copied().collect();
    let even_days = present.iter().all(|us| us.rem_euclid(DAY_US) == 0);
    let with_fraction = present.iter().any(|us| us.rem_euclid(1_000_000) != 0);
    cells
        .iter()
        .map(|c| {
            let Some(us) = c else {
                return String::new();
            };
            let days = us.div_euclid(DAY_US);
            if even_days {
                return format!("{days} days");
            }
            let rem = us.rem_euclid(DAY_US);
            let secs = rem / 1_000_000;
            let frac = rem % 1_000_000;
            let sign = if days < 0 { "+" } else { "" };
            let mut s = format!(
                "{days} days {sign}{:02}:{:02}:{:02}",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            );
            if with_fraction {
                let _ = write!(s, ".{frac:06}");
            }
            s
        })
        .collect()
}

/// A field as Python's `csv` writer (QUOTE_MINIMAL) writes it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The study's trials as CSV (see the module documentation).
pub fn trials_csv(study: &StudyRecord) -> String {
    let trials = &study.trials;
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    if trials.is_empty() {
        // pandas writes an empty DataFrame as an empty line.
        return "\n".to_string();
    }
    columns.push((
        "number".into(),
        trials.iter().map(|t| t.number.to_string()).collect(),
    ));
    let n_obj = study.directions.len().max(1);
    for i in 0..n_obj {
        let name = if n_obj == 1 {
            "value".to_string()
        } else {
            format!("values_{i}")
        };
        let cells: Vec<Cell> = trials
            .iter()
            .map(|t| {
                t.values
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .map_or(Cell::Missing, |x| Cell::Float(*x))
            })
            .collect();
        columns.push((name, format_column(&cells)));
    }
    let starts: Vec<Option<OffsetDateTime>> = trials.iter().map(|t| t.datetime_start).collect();
    let ends: Vec<Option<OffsetDateTime>> = trials.iter().map(|t| t.datetime_complete).collect();
    columns.push(("datetime_start".into(), format_datetimes(&starts)));
    columns.push(("datetime_complete".into(), format_datetimes(&ends)));
    let durations: Vec<Option<i128>> = trials
        .iter()
        .map(|t| Some(micros(t.datetime_complete?) - micros(t.datetime_start?)))
        .collect();
    columns.push(("duration".into(), format_durations(&durations)));

    let params: BTreeSet<String> = trials.iter().flat_map(|t| t.params().into_keys()).collect();
    for p in &params {
        let cells: Vec<Cell> = trials.iter().map(|t| cell_of_param(t.param(p))).collect();
        columns.push((format!("params_{p}"), format_column(&cells)));
    }
    // One column per attribute key that `keep` keeps, over all trials.
    type Attrs = fn(&FrozenTrial) -> &BTreeMap<String, Json>;
    let mut attr_columns = |prefix: &str, attrs: Attrs, keep: fn(&str) -> bool| {
        let keys: BTreeSet<&String> = trials
            .iter()
            .flat_map(|t| attrs(t).keys())
            .filter(|k| keep(k))
            .collect();
        for k in keys {
            let cells: Vec<Cell> = trials
                .iter()
                .map(|t| attrs(t).get(k).map_or(Cell::Missing, cell_of_json))
                .collect();
            columns.push((format!("{prefix}_{k}"), format_column(&cells)));
        }
    };
    // Series ride in user attributes; they are not columns.
    attr_columns(
        "user_attrs",
        |t| &t.user_attrs,
        |k| !k.starts_with(SERIES_ATTR_PREFIX),
    );
    // So do histograms, in system attributes.
    attr_columns(
        "system_attrs",
        |t| &t.system_attrs,
        |k| !k.starts_with(crate::histogram::HISTOGRAMS_PREFIX),
    );
    columns.push((
        "state".into(),
        trials.iter().map(|t| t.state.name().to_string()).collect(),
    ));

    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|(n, _)| csv_field(n)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in 0..trials.len() {
        let fields: Vec<String> = columns.iter().map(|(_, c)| csv_field(&c[row])).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_pandas_dtype_rules() {
        let ints = [Cell::Int(3), Cell::Int(4)];
        assert_eq!(format_column(&ints), ["3", "4"]);
        let ints_missing = [Cell::Int(3), Cell::Missing];
        assert_eq!(format_column(&ints_missing), ["3.0", ""]);
        let mixed_num = [Cell::Int(1), Cell::Float(2.5e-7), Cell::Float(f64::NAN)];
        assert_eq!(format_column(&mixed_num), ["1.0", "2.5e-07", ""]);
        let objects = [Cell::Str("a".into()), Cell::Float(1.0), Cell::Bool(true)];
        assert_eq!(format_column(&objects), ["a", "1.0", "True"]);
        let inf = [Cell::Float(f64::INFINITY), Cell::Float(-0.0)];
        assert_eq!(format_column(&inf), ["inf", "-0.0"]);
    }

    #[test]
    fn python_reprs() {
        let v = Json::parse(r#"{"a": [1, 2.0, null, true], "b": "it's"}"#).unwrap();
        assert_eq!(py_repr(&v), r#"{'a': [1, 2.0, None, True], 'b': "it's"}"#);
        assert_eq!(py_str_repr("a\nb"), r"'a\nb'");
    }

    #[test]
    fn datetimes_and_durations_like_pandas() {
        use time::macros::datetime;
        let a = datetime!(2023-11-14 22:13:20 UTC);
        let b = datetime!(2023-11-14 22:13:20.0005 UTC);
        assert_eq!(
            format_datetimes(&[Some(a), Some(b), None]),
            [
                "2023-11-14 22:13:20.000000",
                "2023-11-14 22:13:20.000500",
                ""
            ]
        );
        assert_eq!(format_datetimes(&[Some(a)]), ["2023-11-14 22:13:20"]);
        let midnight = datetime!(2023-01-01 0:00 UTC);
        assert_eq!(
            format_datetimes(&[Some(midnight), None]),
            ["2023-01-01", ""]
        );
        assert_eq!(
            format_durations(&[
                Some(1_000_000),
                Some(1_500_000),
                Some(2 * DAY_US + 3_000_000)
            ]),
            [
                "0 days 00:00:01.000000",
                "0 days 00:00:01.500000",
                "2 days 00:00:03.000000"
            ]
        );
        assert_eq!(
            format_durations(&[Some(1_000_000), Some(2 * DAY_US)]),
            ["0 days 00:00:01", "2 days 00:00:00"]
        );
        assert_eq!(format_durations(&[Some(DAY_US), None]), ["1 days", ""]);
        assert_eq!(
            format_durations(&[Some(-1_500_000)]),
            ["-1 days +23:59:58.500000"]
        );
    }

    #[test]
    fn quoting_like_python_csv() {
        assert_eq!(csv_field("b,c"), "\"b,c\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field(" s"), " s");
        assert_eq!(csv_field("x\ny"), "\"x\ny\"");
    }
}
