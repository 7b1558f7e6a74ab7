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

/// `(trial_id, rows)` of one per-trial table.
fn per_trial(
    conn: &mut Conn,
    sql: &str,
    params: &[Val],
) -> Result<HashMap<i64, Vec<Vec<Val>>>, DbError> {
    let mut out: HashMap<i64, Vec<Vec<Val>>> = HashMap::new();
    for row in conn.query(sql, params)? {
        if let Some(id) = row.first().and_then(Val::int) {
            out.entry(id).or_default().push(row);
        }
    }
    Ok(out)
}

/// Whether `trials` has rustuna's `discarded_at` column.
pub(crate) fn has_discarded_at(conn: &mut Conn) -> Result<bool, DbError> {
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
    let live = has_discarded_at(conn)?;
    for &sid in study_ids {
        let local_study = loaded.study_ids.len() as u64;
        let name = study_head(conn, sid, &mut loaded)?;
        for op in study_attrs(conn, sid, local_study)? {
            loaded.storage.apply(&op)?;
        }
        for (index, (tid, number, template)) in
            trials_from(conn, sid, 0, live)?.into_iter().enumerate()
        {
            check_number(&name, tid, number, index, live)?;
            loaded.storage.apply(&JournalOp::CreateTrial {
                study_id: local_study,
                template: Box::new(template),
            })?;
            loaded.trial_ids.push(tid);
        }
    }
    Ok(loaded)
}

/// A trial's stored number must be its position, as Optuna numbers trials.
pub(crate) fn check_number(
    name: &str,
    tid: i64,
    number: Option<i64>,
    index: usize,
    discards: bool,
) -> Result<(), DbError> {
    if number == Some(index as i64) {
        return Ok(());
    }
    Err(DbError::Data(if discards {
        format!(
            "study `{name}` has trials that rustuna discarded (trials.discarded_at), which leave gaps in its trial numbers; sweeplab cannot open such a study yet"
        )
    } else {
        format!(
            "study `{name}`: trial {tid} has number {number:?} where Optuna's numbering gives {index}"
        )
    }))
}

/// Reads study `sid`'s name and directions and creates it in `loaded`; returns its name.
fn study_head(conn: &mut Conn, sid: i64, loaded: &mut Loaded) -> Result<String, DbError> {
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
        directions
            .push(StudyDirection::parse(&d).ok_or_else(|| {
                DbError::Data(format!("study `{name}`: unknown direction `{d}`"))
            })?);
    }
    loaded.storage.apply(&JournalOp::CreateStudy {
        study_name: name.clone(),
        directions,
    })?;
    loaded.study_ids.push(sid);
    Ok(name)
}

/// The study's user and system attributes, as the operations that set them on local study
/// `local`.
pub(crate) fn study_attrs(
    conn: &mut Conn,
    sid: i64,
    local: u64,
) -> Result<Vec<JournalOp>, DbError> {
    let mut ops = Vec::new();
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
            ops.push(if user {
                JournalOp::SetStudyUserAttr {
                    study_id: local,
                    key,
                    value,
                }
            } else {
                JournalOp::SetStudySystemAttr {
                    study_id: local,
                    key,
                    value,
                }
            });
        }
    }
    Ok(ops)
}

/// Study `sid`'s trials with `trial_id >= from`, in id order: `(trial_id, number, the
/// trial as a full template)`. `discards`: the table has rustuna's `discarded_at`, and
/// discarded trials are left out as rustuna leaves them out.
pub(crate) fn trials_from(
    conn: &mut Conn,
    sid: i64,
    from: i64,
    discards: bool,
) -> Result<Vec<(i64, Option<i64>, TrialTemplate)>, DbError> {
    let live = if discards {
        " AND t.discarded_at IS NULL"
    } else {
        ""
    };
    let d = conn.dialect();
    let join = format!(
        "JOIN trials t ON t.trial_id = x.trial_id WHERE t.study_id = $1 AND t.trial_id >= $2{live}"
    );
    let key = [Val::Int(sid), Val::Int(from)];
    // The trials first, their rows after: each statement may see later commits (READ
    // COMMITTED), and a trial's state and its values, params and attributes are committed
    // together, so a trial read as finished has all of them; one read as running may have
    // more than its state says, and is read again next time.
    let rows = conn.query(
        &format!(
            "SELECT t.trial_id, t.number, {}, t.datetime_start, t.datetime_complete FROM trials t WHERE t.study_id = $1 AND t.trial_id >= $2{live} ORDER BY t.trial_id",
            cast_text(d, "t.state")
        ),
        &key,
    )?;
    let mut params = per_trial(
        conn,
        &format!(
            "SELECT x.trial_id, x.param_name, x.param_value, x.distribution_json FROM trial_params x {join} ORDER BY x.param_id"
        ),
        &key,
    )?;
    let mut values = per_trial(
        conn,
        &format!(
            "SELECT x.trial_id, x.objective, x.value, {} FROM trial_values x {join} ORDER BY x.objective",
            cast_text(d, "x.value_type")
        ),
        &key,
    )?;
    let mut inter = per_trial(
        conn,
        &format!(
            "SELECT x.trial_id, x.step, x.intermediate_value, {} FROM trial_intermediate_values x {join}",
            cast_text(d, "x.intermediate_value_type")
        ),
        &key,
    )?;
    let mut uattrs = per_trial(
        conn,
        &format!("SELECT x.trial_id, x.key, x.value_json FROM trial_user_attributes x {join}"),
        &key,
    )?;
    let mut sattrs = per_trial(
        conn,
        &format!("SELECT x.trial_id, x.key, x.value_json FROM trial_system_attributes x {join}"),
        &key,
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let tid = row[0].int().unwrap_or_default();
        let state_name = text(&row[2]);
        let state = TrialState::parse(&state_name)
            .ok_or_else(|| DbError::Data(format!("trial {tid}: unknown state `{state_name}`")))?;
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
        // Values come with a finished state (Optuna writes both at once); a trial read as
        // running may show values its tell committed after the trial row was read.
        if !vals.is_empty() && state.is_finished() {
            t.values = Some(
                vals.iter()
                    .map(|v| match text(&v[3]).as_str() {
                        "INF_POS" => f64::INFINITY,
                        "INF_NEG" => f64::NEG_INFINITY,
                        _ => v[2].real().unwrap_or(f64::NAN),
                    })
                    .collect(),
            );
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
        out.push((tid, row[1].int(), t));
    }
    Ok(out)
}

/// An enum column as text: PostgreSQL's enum types are cast, SQLite stores text already.
pub(crate) fn cast_text(d: Dialect, col: &str) -> String {
    match d {
        Dialect::Sqlite => col.to_string(),
        Dialect::Postgres => format!("CAST({col} AS text)"),
    }
}
