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

fn read(conn: &mut Conn, study_ids: &[i64]) -> Result<Loaded, DbError> {
    let mut loaded = Loaded::default();
    if study_ids.is_empty() {
        return Ok(loaded);
    }
    for &sid in study_ids {
        let local_study = loaded.study_ids.len() as u64;
        let name = study_head(conn, sid, &mut loaded)?;
        for op in study_attrs(conn, sid, local_study)? {
            loaded.storage.apply(&op)?;
        }
        for (index, (tid, number, template)) in trials_from(conn, sid, 0)?.into_iter().enumerate() {
            check_number(&name, tid, number, index)?;
            loaded.storage.apply(&JournalOp::CreateTrial {
                study_id: local_study,
                template: Box::new(template),
            })?;
            loaded.trial_ids.push(tid);
        }
    }
    Ok(loaded)
}

/// A trial's stored number must be its position, as Optuna numbers trials. (rustuna's
/// discarded trials, marked in its `trials.discarded_at` column, keep their rows and
/// numbers: they are read as rustuna's storages read them by default, with
/// `apply_discard=False`, and as Optuna reads them.)
pub(crate) fn check_number(
    name: &str,
    tid: i64,
    number: Option<i64>,
    index: usize,
) -> Result<(), DbError> {
    if number == Some(index as i64) {
        return Ok(());
    }
    Err(DbError::Data(format!(
        "study `{name}`: trial {tid} has number {number:?} where Optuna's numbering gives {index}"
    )))
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
    // Both tables in one round trip.
    for row in conn.query(
        "SELECT 1, key, value_json FROM study_user_attributes WHERE study_id = $1 UNION ALL SELECT 0, key, value_json FROM study_system_attributes WHERE study_id = $1",
        &[Val::Int(sid)],
    )? {
        ops.push(study_attr_op(row[0].int() == Some(1), local, &row[1], &row[2])?);
    }
    Ok(ops)
}

/// The operation that sets a study attribute read from a row (`user`: a user attribute,
/// else a system one) on local study `local`.
fn study_attr_op(user: bool, local: u64, key: &Val, json: &Val) -> Result<JournalOp, DbError> {
    let key = text(key);
    let value = attr_json(&key, json)?;
    Ok(if user {
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
    })
}

/// One row of `trials`: `(trial_id, number, state, datetime_start, datetime_complete)`.
pub(crate) struct TrialRow {
    /// `trials.trial_id`.
    pub tid: i64,
    /// `trials.number`.
    pub number: Option<i64>,
    /// `trials.state`.
    pub state: TrialState,
    start: Option<OffsetDateTime>,
    complete: Option<OffsetDateTime>,
}

/// Study `sid`'s trials with `trial_id >= from`, in id order: `(trial_id, number, the
/// trial as a full template)`.
pub(crate) fn trials_from(
    conn: &mut Conn,
    sid: i64,
    from: i64,
) -> Result<Vec<(i64, Option<i64>, TrialTemplate)>, DbError> {
    // The trials first, their rows after: each statement may see later commits (READ
    // COMMITTED), and a trial's state and its values, params and attributes are committed
    // together, so a trial read as finished has all of them; one read as running may have
    // more than its state says, and is read again next time.
    let rows = trial_rows(conn, sid, from)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut children = Children::read(conn, sid, from)?;
    rows.into_iter()
        .map(|row| {
            let (tid, number) = (row.tid, row.number);
            Ok((tid, number, children.template(row)?))
        })
        .collect()
}

/// Study `sid`'s attributes (as [`study_attrs`] gives them) and its rows of `trials` with
/// `trial_id >= from` (as [`trial_rows`]), in one statement: one round trip and one
/// snapshot.
pub(crate) fn attrs_and_trial_rows(
    conn: &mut Conn,
    sid: i64,
    local: u64,
    from: i64,
) -> Result<(Vec<JournalOp>, Vec<TrialRow>), DbError> {
    let sql = attrs_and_trial_rows_sql(conn.dialect());
    let rows = conn.query(&sql, &[Val::Int(sid), Val::Int(from)])?;
    parse_attrs_and_trial_rows(rows, local)
}

/// The statement of [`attrs_and_trial_rows`] (parameters: the study's id, `from`).
pub(crate) fn attrs_and_trial_rows_sql(d: Dialect) -> String {
    let (int, txt, ts) = match d {
        Dialect::Sqlite => ("NULL", "NULL", "NULL"),
        Dialect::Postgres => (
            "CAST(NULL AS bigint)",
            "CAST(NULL AS text)",
            "CAST(NULL AS timestamp)",
        ),
    };
    format!(
        "SELECT 0, {int}, {int}, {txt}, {ts}, {ts}, {key}, {json} FROM study_user_attributes x WHERE x.study_id = $1 \
         UNION ALL SELECT 1, {int}, {int}, {txt}, {ts}, {ts}, {key}, {json} FROM study_system_attributes x WHERE x.study_id = $1 \
         UNION ALL SELECT 2, t.trial_id, t.number, {state}, t.datetime_start, t.datetime_complete, {txt}, {txt} FROM trials t WHERE {since} \
         ORDER BY 1, 2",
        since = trials_since(d),
        key = cast_text(d, "x.key"),
        json = cast_text(d, "x.value_json"),
        state = cast_text(d, "t.state"),
    )
}

/// The rows of [`attrs_and_trial_rows_sql`] as study attribute operations (on study
/// `local`) and trial rows.
pub(crate) fn parse_attrs_and_trial_rows(
    rows: Vec<Vec<Val>>,
    local: u64,
) -> Result<(Vec<JournalOp>, Vec<TrialRow>), DbError> {
    let mut attrs = Vec::new();
    let mut trials = Vec::new();
    for row in rows {
        if row.len() < 8 {
            continue;
        }
        match row[0].int() {
            Some(2) => {
                let tid = row[1].int().unwrap_or_default();
                let state_name = text(&row[3]);
                let state = TrialState::parse(&state_name).ok_or_else(|| {
                    DbError::Data(format!("trial {tid}: unknown state `{state_name}`"))
                })?;
                trials.push(TrialRow {
                    tid,
                    number: row[2].int(),
                    state,
                    start: utc(&row[4]),
                    complete: utc(&row[5]),
                });
            }
            kind => attrs.push(study_attr_op(kind == Some(0), local, &row[6], &row[7])?),
        }
    }
    Ok((attrs, trials))
}

/// Study `sid`'s rows of `trials` with `trial_id >= from`, in id order (see
/// [`trials_from`]).
pub(crate) fn trial_rows(conn: &mut Conn, sid: i64, from: i64) -> Result<Vec<TrialRow>, DbError> {
    let rows = conn.query(
        &format!(
            "SELECT t.trial_id, t.number, {}, t.datetime_start, t.datetime_complete FROM trials t WHERE t.study_id = $1 AND t.trial_id >= $2 ORDER BY t.trial_id",
            cast_text(conn.dialect(), "t.state")
        ),
        &[Val::Int(sid), Val::Int(from)],
    )?;
    rows.into_iter()
        .map(|row| {
            let tid = row[0].int().unwrap_or_default();
            let state_name = text(&row[2]);
            let state = TrialState::parse(&state_name).ok_or_else(|| {
                DbError::Data(format!("trial {tid}: unknown state `{state_name}`"))
            })?;
            Ok(TrialRow {
                tid,
                number: row[1].int(),
                state,
                start: utc(&row[3]),
                complete: utc(&row[4]),
            })
        })
        .collect()
}

/// The rows that belong to trials (params, values, intermediate values, attributes) of
/// study `sid`'s trials with `trial_id >= from`, keyed by trial id.
pub(crate) struct Children {
    params: HashMap<i64, Vec<Vec<Val>>>,
    values: HashMap<i64, Vec<Vec<Val>>>,
    inter: HashMap<i64, Vec<Vec<Val>>>,
    uattrs: HashMap<i64, Vec<Vec<Val>>>,
    sattrs: HashMap<i64, Vec<Vec<Val>>>,
    /// Distributions parsed so far, by their JSON text: a study's trials share a few.
    dists: HashMap<String, Distribution>,
}

impl Children {
    /// Reads them (read after the trial rows: see [`trials_from`]).
    pub(crate) fn read(conn: &mut Conn, sid: i64, from: i64) -> Result<Children, DbError> {
        let sql = Children::sql(conn.dialect());
        let rows = conn.query(&sql, &[Val::Int(sid), Val::Int(from)])?;
        Ok(Children::from_rows(rows))
    }

    /// The statement of [`Children::read`] (parameters: the study's id, `from`).
    pub(crate) fn sql(d: Dialect) -> String {
        let join = match d {
            Dialect::Sqlite => {
                "JOIN trials t ON t.trial_id = x.trial_id WHERE t.study_id = $1 AND t.trial_id >= $2".to_string()
            }
            // Each table's rows by the range of its (trial_id, …) index, not a join the
            // planner may make by hashing a whole table (see `trials_since`).
            Dialect::Postgres => format!(
                "WHERE x.trial_id >= $2 AND x.trial_id IN (SELECT t.trial_id FROM trials t WHERE {})",
                trials_since(d)
            ),
        };
        // The five tables in one round trip, as rows of (table, trial_id, name, integer,
        // real, text, order), unsorted: sorting a million rows costs the server more than
        // putting each trial's few in order here (see `template`).
        let (int, real, txt) = match d {
            Dialect::Sqlite => ("NULL", "NULL", "NULL"),
            Dialect::Postgres => (
                "CAST(NULL AS bigint)",
                "CAST(NULL AS double precision)",
                "CAST(NULL AS text)",
            ),
        };
        format!(
            "SELECT 0, x.trial_id, {name}, {int}, x.param_value, {dist}, x.param_id FROM trial_params x {join} \
             UNION ALL SELECT 1, x.trial_id, {txt}, x.objective, x.value, {vt}, x.objective FROM trial_values x {join} \
             UNION ALL SELECT 2, x.trial_id, {txt}, x.step, x.intermediate_value, {it}, 0 FROM trial_intermediate_values x {join} \
             UNION ALL SELECT 3, x.trial_id, {key}, {int}, {real}, {json}, 0 FROM trial_user_attributes x {join} \
             UNION ALL SELECT 4, x.trial_id, {key}, {int}, {real}, {json}, 0 FROM trial_system_attributes x {join}",
            name = cast_text(d, "x.param_name"),
            dist = cast_text(d, "x.distribution_json"),
            vt = cast_text(d, "x.value_type"),
            it = cast_text(d, "x.intermediate_value_type"),
            key = cast_text(d, "x.key"),
            json = cast_text(d, "x.value_json"),
        )
    }

    /// The rows of [`Children::sql`], by table and trial.
    pub(crate) fn from_rows(rows: Vec<Vec<Val>>) -> Children {
        let mut out = Children {
            params: HashMap::new(),
            values: HashMap::new(),
            inter: HashMap::new(),
            uattrs: HashMap::new(),
            sattrs: HashMap::new(),
            dists: HashMap::new(),
        };
        for mut row in rows {
            if row.len() < 6 {
                continue;
            }
            let (Some(table), Some(tid)) = (row[0].int(), row[1].int()) else {
                continue;
            };
            // The layout each table's reader below expects, trial_id first, made in the
            // row itself (a million rows: no second vector each).
            let (map, cols): (_, &[usize]) = match table {
                0 => (&mut out.params, &[1, 2, 4, 5]),
                1 => (&mut out.values, &[1, 3, 4, 5]),
                2 => (&mut out.inter, &[1, 3, 4, 5]),
                3 => (&mut out.uattrs, &[1, 2, 5]),
                _ => (&mut out.sattrs, &[1, 2, 5]),
            };
            // Each source index is past every destination before it, so the swaps only
            // move columns not yet placed.
            for (to, &from) in cols.iter().enumerate() {
                row.swap(to, from);
            }
            row.truncate(cols.len());
            map.entry(tid).or_default().push(row);
        }
        out
    }

    /// Trial `row` as a full template, with the rows read for it.
    pub(crate) fn template(&mut self, row: TrialRow) -> Result<TrialTemplate, DbError> {
        let (tid, state) = (row.tid, row.state);
        let mut t = TrialTemplate {
            state: Some(state),
            datetime_start: row.start,
            datetime_complete: row.complete,
            full: true,
            ..TrialTemplate::default()
        };
        for p in self.params.remove(&tid).unwrap_or_default() {
            let pname = text(&p[1]);
            let internal = p[2].real().unwrap_or(f64::NAN);
            let json = p[3].text().unwrap_or("null");
            let dist = match self.dists.get(json) {
                Some(d) => d.clone(),
                None => {
                    let d = Distribution::from_json_str(&pname, json)
                        .map_err(|e| DbError::Data(format!("trial {tid}: {e}")))?;
                    self.dists.insert(json.to_string(), d.clone());
                    d
                }
            };
            t.params.insert(pname, (dist, internal));
        }
        let mut vals = self.values.remove(&tid).unwrap_or_default();
        vals.sort_by_key(|v| v[1].int().unwrap_or_default());
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
        for v in self.inter.remove(&tid).unwrap_or_default() {
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
        for a in self.uattrs.remove(&tid).unwrap_or_default() {
            let key = text(&a[1]);
            let value = attr_json(&key, &a[2])?;
            t.user_attrs.insert(key, value);
        }
        for a in self.sattrs.remove(&tid).unwrap_or_default() {
            let key = text(&a[1]);
            let value = attr_json(&key, &a[2])?;
            t.system_attrs.insert(key, value);
        }
        Ok(t)
    }
}

/// The condition "trial `t` is one of study `$1`'s with `trial_id >= $2`". On PostgreSQL
/// the study is compared as `study_id + 0`, which no index serves: the trials are then
/// found by the primary key's range, the few new ones, and not by the study's index, all
/// of its trials filtered one by one (what the planner picks when its statistics are
/// stale, as they are while a fresh study fills: a refresh would cost the study's size).
fn trials_since(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "t.study_id = $1 AND t.trial_id >= $2",
        Dialect::Postgres => "t.study_id + 0 = $1 AND t.trial_id >= $2",
    }
}

/// An enum column as text: PostgreSQL's enum types are cast, SQLite stores text already.
pub(crate) fn cast_text(d: Dialect, col: &str) -> String {
    match d {
        Dialect::Sqlite => col.to_string(),
        Dialect::Postgres => format!("CAST({col} AS text)"),
    }
}
