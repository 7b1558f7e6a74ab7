//! Reading studies out of Optuna's tables into a [`JournalStorage`].

use std::collections::{BTreeMap, HashMap};

use sweeplab_core::distributions::Distribution;
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalOp, TrialTemplate};
use sweeplab_core::{StudyDirection, TrialState};
use time::OffsetDateTime;

use super::sql::{Conn, Dialect, Val};
use super::{DbError, Loaded};

/// Study `name` with its trials; an empty storage when there is no such study.
pub(crate) fn study(conn: &mut Conn, name: &str) -> Result<Loaded, DbError> {
    let ids: Vec<i64> = conn
        .query(
            "SELECT study_id FROM studies WHERE study_name = $1",
            &[name.into()],
        )?
        .into_iter()
        .filter_map(|r| r.first()?.int())
        .collect();
    read(conn, &ids)
}

/// Every study, in creation order.
pub(crate) fn all(conn: &mut Conn) -> Result<Loaded, DbError> {
    let ids: Vec<i64> = conn
        .query("SELECT study_id FROM studies ORDER BY study_id", &[])?
        .into_iter()
        .filter_map(|r| r.first()?.int())
        .collect();
    read(conn, &ids)
}

fn text(v: &Val) -> String {
    v.text().unwrap_or_default().to_string()
}

/// An attribute's `value_json`; Python's bare `NaN`, `Infinity` and `-Infinity` are read.
fn attr_json(key: &str, v: &Val) -> Result<Json, DbError> {
    let t = v.text().unwrap_or("null");
    Json::parse(t).map_err(|e| DbError::Data(format!("attribute `{key}`: bad JSON {t:?}: {e}")))
}

fn utc(v: &Val) -> Option<OffsetDateTime> {
    v.time().map(|t| t.assume_utc())
}

/// `(trial_id, rows)` of one per-trial table, for the trials of study `study_id`.
fn per_trial(
    conn: &mut Conn,
    sql: &str,
    study_id: i64,
) -> Result<HashMap<i64, Vec<Vec<Val>>>, DbError> {
    let mut out: HashMap<i64, Vec<Vec<Val>>> = HashMap::new();
    for row in conn.query(sql, &[Val::Int(study_id)])? {
        if let Some(id) = row.first().and_then(Val::int) {
            out.entry(id).or_default().push(row);
        }
    }
    Ok(out)
}

/// Whether `trials` has rustuna's `discarded_at` column.
fn has_discarded_at(conn: &mut Conn) -> Result<bool, DbError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT COUNT(*) FROM pragma_table_info('trials') WHERE name = 'discarded_at'"
        }
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'trials' AND column_name = 'discarded_at'"
        }
    };
    Ok(conn.query_one(sql, &[])?.and_then(|v| v.int()).unwrap_or(0) > 0)
}

fn read(conn: &mut Conn, study_ids: &[i64]) -> Result<Loaded, DbError> {
    let mut loaded = Loaded::default();
    if study_ids.is_empty() {
        return Ok(loaded);
    }
    // rustuna marks discarded trials instead of deleting them; like rustuna, a discarded
    // trial is not part of its study any more.
    let live = if has_discarded_at(conn)? {
        " AND t.discarded_at IS NULL"
    } else {
        ""
    };
    for &sid in study_ids {
        let name = conn
            .query_one(
                "SELECT study_name FROM studies WHERE study_id = $1",
                &[Val::Int(sid)],
            )?
            .map(|v| text(&v))
            .unwrap_or_default();
        let mut directions = Vec::new();
        for row in conn.query(
            &format!(
                "SELECT {} FROM study_directions WHERE study_id = $1 ORDER BY objective",
                cast_text(conn.dialect(), "direction")
            ),
            &[Val::Int(sid)],
        )? {
            let d = text(&row[0]);
            directions.push(StudyDirection::parse(&d).ok_or_else(|| {
                DbError::Data(format!("study `{name}`: unknown direction `{d}`"))
            })?);
        }
        let local_study = loaded.study_ids.len() as u64;
        loaded.storage.apply(&JournalOp::CreateStudy {
            study_name: name.clone(),
            directions,
        })?;
        loaded.study_ids.push(sid);
        for (table, user) in [
            ("study_user_attributes", true),
            ("study_system_attributes", false),
        ] {
            for row in conn.query(
                &format!("SELECT key, value_json FROM {table} WHERE study_id = $1"),
                &[Val::Int(sid)],
            )? {
                let key = text(&row[0]);
                let value = attr_json(&key, &row[1])?;
                loaded.storage.apply(&if user {
                    JournalOp::SetStudyUserAttr {
                        study_id: local_study,
                        key,
                        value,
                    }
                } else {
                    JournalOp::SetStudySystemAttr {
                        study_id: local_study,
                        key,
                        value,
                    }
                })?;
            }
        }

        let d = conn.dialect();
        let join = format!("JOIN trials t ON t.trial_id = x.trial_id WHERE t.study_id = $1{live}");
        let mut params = per_trial(
            conn,
            &format!(
                "SELECT x.trial_id, x.param_name, x.param_value, x.distribution_json FROM trial_params x {join} ORDER BY x.param_id"
            ),
            sid,
        )?;
        let mut values = per_trial(
            conn,
            &format!(
                "SELECT x.trial_id, x.objective, x.value, {} FROM trial_values x {join} ORDER BY x.objective",
                cast_text(d, "x.value_type")
            ),
            sid,
        )?;
        let mut inter = per_trial(
            conn,
            &format!(
                "SELECT x.trial_id, x.step, x.intermediate_value, {} FROM trial_intermediate_values x {join}",
                cast_text(d, "x.intermediate_value_type")
            ),
            sid,
        )?;
        let mut uattrs = per_trial(
            conn,
            &format!("SELECT x.trial_id, x.key, x.value_json FROM trial_user_attributes x {join}"),
            sid,
        )?;
        let mut sattrs = per_trial(
            conn,
            &format!(
                "SELECT x.trial_id, x.key, x.value_json FROM trial_system_attributes x {join}"
            ),
            sid,
        )?;
        let trials = conn.query(
            &format!(
                "SELECT t.trial_id, t.number, {}, t.datetime_start, t.datetime_complete FROM trials t WHERE t.study_id = $1{live} ORDER BY t.trial_id",
                cast_text(d, "t.state")
            ),
            &[Val::Int(sid)],
        )?;
        for (index, row) in trials.into_iter().enumerate() {
            let tid = row[0].int().unwrap_or_default();
            if row[1].int() != Some(index as i64) {
                return Err(DbError::Data(if live.is_empty() {
                    format!(
                        "study `{name}`: trial {tid} has number {:?} where Optuna's numbering gives {index}",
                        row[1]
                    )
                } else {
                    format!(
                        "study `{name}` has trials that rustuna discarded (trials.discarded_at), which leave gaps in its trial numbers; sweeplab cannot open such a study yet"
                    )
                }));
            }
            let state_name = text(&row[2]);
            let state = TrialState::parse(&state_name).ok_or_else(|| {
                DbError::Data(format!("trial {tid}: unknown state `{state_name}`"))
            })?;
            let mut t = TrialTemplate {
                state: Some(state),
                datetime_start: utc(&row[3]),
                datetime_complete: utc(&row[4]),
                full: true,
                ..TrialTemplate::default()
            };
            for p in params.remove(&tid).unwrap_or_default() {
                let pname = text(&p[1]);
                let internal = p[2].real().unwrap_or(f64::NAN);
                let dist = Distribution::from_json_str(&pname, p[3].text().unwrap_or("null"))
                    .map_err(|e| DbError::Data(format!("trial {tid}: {e}")))?;
                t.params.insert(pname, (dist, internal));
            }
            let vals = values.remove(&tid).unwrap_or_default();
            if !vals.is_empty() {
                let mut vs = Vec::with_capacity(vals.len());
                for v in vals {
                    vs.push(match text(&v[3]).as_str() {
                        "INF_POS" => f64::INFINITY,
                        "INF_NEG" => f64::NEG_INFINITY,
                        _ => v[2].real().unwrap_or(f64::NAN),
                    });
                }
                t.values = Some(vs);
            }
            let mut iv = BTreeMap::new();
            for v in inter.remove(&tid).unwrap_or_default() {
                let step = v[1].int().unwrap_or_default();
                iv.insert(
                    step,
                    match text(&v[3]).as_str() {
                        "INF_POS" => f64::INFINITY,
                        "INF_NEG" => f64::NEG_INFINITY,
                        "NAN" => f64::NAN,
                        _ => v[2].real().unwrap_or(f64::NAN),
                    },
                );
            }
            t.intermediate_values = iv;
            for a in uattrs.remove(&tid).unwrap_or_default() {
                let key = text(&a[1]);
                let value = attr_json(&key, &a[2])?;
                t.user_attrs.insert(key, value);
            }
            for a in sattrs.remove(&tid).unwrap_or_default() {
                let key = text(&a[1]);
                let value = attr_json(&key, &a[2])?;
                t.system_attrs.insert(key, value);
            }
            loaded.storage.apply(&JournalOp::CreateTrial {
                study_id: local_study,
                template: Box::new(t),
            })?;
            loaded.trial_ids.push(tid);
        }
    }
    Ok(loaded)
}

/// An enum column as text: PostgreSQL's enum types are cast, SQLite stores text already.
pub(crate) fn cast_text(d: Dialect, col: &str) -> String {
    match d {
        Dialect::Sqlite => col.to_string(),
        Dialect::Postgres => format!("CAST({col} AS text)"),
    }
}
