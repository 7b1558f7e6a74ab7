//! Writing the study loop's journal operations as rows of Optuna's tables, the way
//! Optuna's `RDBStorage` writes them.

use sweeplab_core::TrialState;
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalError, JournalOp, TrialTemplate, now};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::sql::{Conn, Dialect, Val};
use super::{DbError, Loaded};

/// Naive UTC, as Optuna 5's `TrialModel` stores datetimes (the time as written where UTC
/// cannot name the instant: 9999-12-31T23:30-01:00 is in year 10000).
fn naive_utc(t: OffsetDateTime) -> PrimitiveDateTime {
    let u = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    PrimitiveDateTime::new(u.date(), u.time())
}

fn time_val(t: Option<OffsetDateTime>) -> Val {
    t.map_or(Val::Null, |t| Val::Time(naive_utc(t)))
}

/// `json.dumps(value)`, as Optuna writes `value_json`.
fn dumps(v: &Json) -> Val {
    Val::Text(v.to_python_default())
}

/// A trial value as Optuna's `TrialValueModel.value_to_stored_repr`.
fn stored_value(v: f64) -> (Val, &'static str) {
    if v == f64::INFINITY {
        (Val::Null, "INF_POS")
    } else if v == f64::NEG_INFINITY {
        (Val::Null, "INF_NEG")
    } else {
        (Val::Real(v), "FINITE")
    }
}

/// An intermediate value as `TrialIntermediateValueModel.intermediate_value_to_stored_repr`.
fn stored_intermediate(v: f64) -> (Val, &'static str) {
    if v.is_nan() {
        (Val::Null, "NAN")
    } else {
        stored_value(v)
    }
}

fn db_trial(loaded: &Loaded, local: u64) -> Result<i64, DbError> {
    loaded
        .trial_ids
        .get(local as usize)
        .copied()
        .ok_or_else(|| JournalError::UnknownTrial(format!("with id {local}")).into())
}

fn db_study(loaded: &Loaded, local: u64) -> Result<i64, DbError> {
    loaded
        .study_ids
        .get(local as usize)
        .copied()
        .ok_or_else(|| JournalError::UnknownStudy(format!("with id {local}")).into())
}

/// Applies `ops` to `loaded` (which checks them as a journal replay would) and writes each;
/// returns whether it has committed the transaction too.
///
/// On PostgreSQL a transaction whose only write is an asked trial, or a trial's state and
/// values, sends that statement with `COMMIT` (one round trip, see
/// [`Conn::query_and_commit`]): written so that it writes nothing when its check (the
/// trial's number, the trial still running) fails, and the check is read after the commit.
pub(crate) fn apply(
    conn: &mut Conn,
    loaded: &mut Loaded,
    ops: &[JournalOp],
    beat: bool,
) -> Result<bool, DbError> {
    // Whether a statement that writes has run in this transaction.
    let mut wrote = false;
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        i += 1;
        // A run of params set on one trial (a trial being asked) goes in one statement.
        if let JournalOp::SetTrialParam { trial_id, .. } = op {
            let mut run = vec![op];
            while let Some(next @ JournalOp::SetTrialParam { trial_id: t, .. }) = ops.get(i) {
                if t != trial_id {
                    break;
                }
                run.push(next);
                i += 1;
            }
            let mut rows = Vec::with_capacity(run.len());
            for op in run {
                loaded
                    .storage
                    .apply(op)
                    .map_err(|e| DbError::Data(format!("{e} (writing {op:?})")))?;
                if let JournalOp::SetTrialParam {
                    name,
                    internal,
                    distribution,
                    ..
                } = op
                {
                    rows.push((name.as_str(), *internal, distribution.to_optuna_json()));
                }
            }
            let id = db_trial(loaded, *trial_id)?;
            set_params(conn, id, &rows)?;
            wrote = true;
            continue;
        }
        // An asked trial: its row and the params set on it right after go in together.
        if let JournalOp::CreateTrial { study_id, template } = op {
            loaded
                .storage
                .apply(op)
                .map_err(|e| DbError::Data(format!("{e} (writing {op:?})")))?;
            let new_local = loaded.trial_ids.len() as u64;
            let mut extra = Vec::new();
            while let Some(
                next @ JournalOp::SetTrialParam {
                    trial_id,
                    name,
                    internal,
                    distribution,
                },
            ) = ops.get(i)
            {
                if *trial_id != new_local || extra.len() >= 200 {
                    break;
                }
                loaded
                    .storage
                    .apply(next)
                    .map_err(|e| DbError::Data(format!("{e} (writing {next:?})")))?;
                extra.push((name.as_str(), *internal, distribution.to_optuna_json()));
                i += 1;
            }
            let only_write = !wrote && i == ops.len();
            if create_trial(conn, loaded, *study_id, template, extra, beat, only_write)? {
                return Ok(true);
            }
            wrote = true;
            continue;
        }
        match op {
            // A study another worker created first: the replay ignores a second
            // CreateStudy, and so does the database.
            JournalOp::CreateStudy { study_name, .. }
                if loaded.storage.study_by_name(study_name).is_some() =>
            {
                continue;
            }
            // Optuna 5's DISCARD_TRIALS has no RDB counterpart.
            JournalOp::DiscardTrials(_) => continue,
            _ => {}
        }
        loaded
            .storage
            .apply(op)
            .map_err(|e| DbError::Data(format!("{e} (writing {op:?})")))?;
        let only_write = !wrote && i == ops.len();
        if one(conn, loaded, op, beat, only_write)? {
            return Ok(true);
        }
        wrote = true;
    }
    Ok(false)
}

fn upsert_attr(
    conn: &mut Conn,
    table: &str,
    owner: &str,
    id: i64,
    key: &str,
    value: &Json,
) -> Result<(), DbError> {
    conn.execute(
        &format!(
            "INSERT INTO {table} ({owner}, key, value_json) VALUES ($1, $2, $3) ON CONFLICT ({owner}, key) DO UPDATE SET value_json = excluded.value_json"
        ),
        &[Val::Int(id), key.into(), dumps(value)],
    )?;
    Ok(())
}

fn set_value(conn: &mut Conn, trial: i64, objective: usize, v: f64) -> Result<(), DbError> {
    let (value, kind) = stored_value(v);
    conn.execute(
        "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value, value_type = excluded.value_type",
        &[Val::Int(trial), Val::Int(objective as i64), value, kind.into()],
    )?;
    Ok(())
}

fn set_intermediate(conn: &mut Conn, trial: i64, step: i64, v: f64) -> Result<(), DbError> {
    let (value, kind) = stored_intermediate(v);
    conn.execute(
        "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, step) DO UPDATE SET intermediate_value = excluded.intermediate_value, intermediate_value_type = excluded.intermediate_value_type",
        &[Val::Int(trial), Val::Int(step), value, kind.into()],
    )?;
    Ok(())
}

/// Inserts a trial's params, up to 200 rows per statement (one round trip where Optuna
/// makes one per param).
fn set_params(conn: &mut Conn, trial: i64, params: &[(&str, f64, String)]) -> Result<(), DbError> {
    for chunk in params.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES ",
        );
        let mut args = Vec::with_capacity(chunk.len() * 3 + 1);
        args.push(Val::Int(trial));
        for (i, (name, internal, json)) in chunk.iter().enumerate() {
            let n = 2 + 3 * i;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, ${n}, ${}, ${})", n + 1, n + 2));
            args.push((*name).into());
            args.push(Val::Real(*internal));
            args.push(json.clone().into());
        }
        conn.execute(&sql, &args)?;
    }
    Ok(())
}

/// Inserts a trial (with `extra_params`); returns whether it committed (see [`apply`]:
/// `only_write`, the transaction writes nothing else).
fn create_trial(
    conn: &mut Conn,
    loaded: &mut Loaded,
    local_study: u64,
    template: &TrialTemplate,
    extra_params: Vec<(&str, f64, String)>,
    beat: bool,
    only_write: bool,
) -> Result<bool, DbError> {
    let study = db_study(loaded, local_study)?;
    let state = template.state.unwrap_or(TrialState::Running);
    // Optuna's `_get_prepared_new_trial`: a trial without a template starts now.
    let start = if template.full {
        template.datetime_start
    } else {
        template.datetime_start.or_else(|| Some(now()))
    };
    let mut params: Vec<(&str, f64, String)> = template
        .params
        .iter()
        .map(|(name, (dist, internal))| (name.as_str(), *internal, dist.to_optuna_json()))
        .collect();
    params.extend(extra_params);
    let local_id = loaded.trial_ids.len() as u64;
    let expected = loaded
        .storage
        .trial(local_id)
        .map(|t| t.number as i64)
        .unwrap_or(-1);
    // The number is the count of the study's earlier trials (`count_past_trials`); the
    // study row is held, so no other writer adds one meanwhile. A database this writer
    // fills alone takes the number it knows.
    let insert = if loaded.alone {
        "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) VALUES ($5, $1, $2, $3, $4) RETURNING trial_id, number"
    } else {
        "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) VALUES ((SELECT COUNT(*) FROM trials WHERE study_id = $1), $1, $2, $3, $4) RETURNING trial_id, number"
    };
    let mut args = vec![
        Val::Int(study),
        state.name().into(),
        time_val(start),
        time_val(template.datetime_complete),
    ];
    if loaded.alone {
        args.push(Val::Int(expected));
    }
    // On PostgreSQL the trial and its params are one statement (one round trip while the
    // study is held); SQLite has no INSERT in WITH, and no round trips to save.
    let together = conn.dialect() == Dialect::Postgres && !params.is_empty() && params.len() <= 200;
    // A plain asked trial (no values or attributes of its own) that is the transaction's
    // only write goes with COMMIT, its heartbeat with it: numbered as the database knows
    // the study only where that is the number sweeplab expects, else not written at all
    // (the check is read after the commit).
    let with_commit = together
        && only_write
        && template.values.is_none()
        && template.value.is_none()
        && template.user_attrs.is_empty()
        && template.system_attrs.is_empty()
        && template.intermediate_values.is_empty();
    let insert = if with_commit {
        if !loaded.alone {
            args.push(Val::Int(expected));
        }
        "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) SELECT CAST($5 AS integer), $1, CAST($2 AS trialstate), CAST($3 AS timestamp), CAST($4 AS timestamp) WHERE (SELECT COUNT(*) FROM trials WHERE study_id = $1) = $5 RETURNING trial_id, number"
    } else {
        insert
    };
    let beats = beat && state == TrialState::Running;
    let sql = if together {
        let mut values = Vec::with_capacity(params.len());
        for (name, internal, json) in &params {
            let n = args.len() + 1;
            values.push(format!(
                "(CAST(${n} AS text), CAST(${} AS double precision), CAST(${} AS text))",
                n + 1,
                n + 2
            ));
            args.push((*name).into());
            args.push(Val::Real(*internal));
            args.push(json.clone().into());
        }
        let heartbeat = if with_commit && beats {
            ", h AS (INSERT INTO trial_heartbeats (trial_id, heartbeat) SELECT t.trial_id, CURRENT_TIMESTAMP FROM t)"
        } else {
            ""
        };
        format!(
            "WITH t AS ({insert}), p AS (INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) SELECT t.trial_id, v.n, v.x, v.d FROM t, (VALUES {}) AS v(n, x, d)){heartbeat} SELECT t.trial_id, t.number FROM t",
            values.join(", ")
        )
    } else {
        insert.to_string()
    };
    let rows = if with_commit {
        conn.query_and_commit(&sql, &args)?
    } else {
        conn.query(&sql, &args)?
    };
    let row = rows.into_iter().next().ok_or_else(|| {
        DbError::Data(if with_commit {
            format!(
                "the database holds another count of trials than sweeplab read before numbering the new one {expected}: another writer changed the study without holding it (nothing was written)"
            )
        } else {
            "INSERT INTO trials returned no row".into()
        })
    })?;
    let (Some(id), Some(number)) = (row[0].int(), row[1].int()) else {
        return Err(DbError::Data("INSERT INTO trials returned no id".into()));
    };
    if number != expected {
        return Err(DbError::Data(format!(
            "the database numbered the new trial {number} where sweeplab expected {expected}: another writer changed the study without holding it"
        )));
    }
    loaded.trial_ids.push(id);
    if with_commit {
        return Ok(true);
    }
    match (&template.values, template.value) {
        (Some(vs), _) => {
            for (i, v) in vs.iter().enumerate() {
                set_value(conn, id, i, *v)?;
            }
        }
        (None, Some(v)) => set_value(conn, id, 0, v)?,
        (None, None) => {}
    }
    if !together {
        set_params(conn, id, &params)?;
    }
    for (k, v) in &template.user_attrs {
        upsert_attr(conn, "trial_user_attributes", "trial_id", id, k, v)?;
    }
    for (k, v) in &template.system_attrs {
        upsert_attr(conn, "trial_system_attributes", "trial_id", id, k, v)?;
    }
    for (step, v) in &template.intermediate_values {
        set_intermediate(conn, id, *step, *v)?;
    }
    if beats {
        conn.execute(
            "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, CURRENT_TIMESTAMP)",
            &[Val::Int(id)],
        )?;
    }
    Ok(false)
}

/// Writes one operation; returns whether it committed (see [`apply`]: `only_write`, the
/// transaction writes nothing else).
fn one(
    conn: &mut Conn,
    loaded: &mut Loaded,
    op: &JournalOp,
    beat: bool,
    only_write: bool,
) -> Result<bool, DbError> {
    match op {
        JournalOp::CreateStudy {
            study_name,
            directions,
        } => {
            let id = conn
                .query_one(
                    "INSERT INTO studies (study_name) VALUES ($1) RETURNING study_id",
                    &[study_name.as_str().into()],
                )?
                .and_then(|v| v.int())
                .ok_or_else(|| DbError::Data("INSERT INTO studies returned no id".into()))?;
            for (i, d) in directions.iter().enumerate() {
                conn.execute(
                    "INSERT INTO study_directions (direction, study_id, objective) VALUES ($1, $2, $3)",
                    &[
                        d.name().to_ascii_uppercase().into(),
                        Val::Int(id),
                        Val::Int(i as i64),
                    ],
                )?;
            }
            loaded.study_ids.push(id);
        }
        JournalOp::DeleteStudy { study_id } => {
            let id = db_study(loaded, *study_id)?;
            for table in [
                "trial_params",
                "trial_values",
                "trial_intermediate_values",
                "trial_user_attributes",
                "trial_system_attributes",
                "trial_heartbeats",
            ] {
                conn.execute(
                    &format!(
                        "DELETE FROM {table} WHERE trial_id IN (SELECT trial_id FROM trials WHERE study_id = $1)"
                    ),
                    &[Val::Int(id)],
                )?;
            }
            for table in [
                "trials",
                "study_directions",
                "study_user_attributes",
                "study_system_attributes",
                "studies",
            ] {
                conn.execute(
                    &format!("DELETE FROM {table} WHERE study_id = $1"),
                    &[Val::Int(id)],
                )?;
            }
        }
        JournalOp::SetStudyUserAttr {
            study_id,
            key,
            value,
        } => {
            let id = db_study(loaded, *study_id)?;
            upsert_attr(conn, "study_user_attributes", "study_id", id, key, value)?;
        }
        JournalOp::SetStudySystemAttr {
            study_id,
            key,
            value,
        } => {
            let id = db_study(loaded, *study_id)?;
            upsert_attr(conn, "study_system_attributes", "study_id", id, key, value)?;
        }
        JournalOp::CreateTrial { study_id, template } => {
            return create_trial(
                conn,
                loaded,
                *study_id,
                template,
                Vec::new(),
                beat,
                only_write,
            );
        }
        JournalOp::SetTrialParam {
            trial_id,
            name,
            internal,
            distribution,
        } => {
            let id = db_trial(loaded, *trial_id)?;
            set_params(
                conn,
                id,
                &[(name, *internal, distribution.to_optuna_json())],
            )?;
        }
        JournalOp::SetTrialStateValues {
            trial_id,
            state,
            values,
            datetime_start,
            datetime_complete,
        } => {
            let id = db_trial(loaded, *trial_id)?;
            // Only a trial that is still running (or waiting) changes, as Optuna's
            // `check_trial_is_updatable` demands; the row is locked by the UPDATE, so a
            // worker failing stale trials and this tell cannot both win.
            let from = if *state == TrialState::Running {
                "state = 'WAITING'"
            } else {
                "state IN ('RUNNING', 'WAITING')"
            };
            let update = format!(
                "UPDATE trials SET state = $2, datetime_start = COALESCE($3, datetime_start), datetime_complete = COALESCE($4, datetime_complete) WHERE trial_id = $1 AND {from}"
            );
            let mut args = vec![
                Val::Int(id),
                state.name().into(),
                time_val(*datetime_start),
                time_val(*datetime_complete),
            ];
            let vs = values.as_deref().unwrap_or_default();
            // On PostgreSQL the state and the values are one statement (the values are
            // written only if the state changed); on SQLite two.
            let together = conn.dialect() == Dialect::Postgres && !vs.is_empty();
            // The transaction's only write goes with COMMIT: it writes nothing where the
            // trial is no longer updatable, and that is read after the commit.
            let with_commit = conn.dialect() == Dialect::Postgres && only_write;
            let changed = if together || with_commit {
                let mut rows = Vec::with_capacity(vs.len());
                for (i, v) in vs.iter().enumerate() {
                    let (value, kind) = stored_value(*v);
                    let n = args.len() + 1;
                    rows.push(format!(
                        "(CAST(${n} AS integer), CAST(${} AS double precision), CAST(${} AS text))",
                        n + 1,
                        n + 2
                    ));
                    args.push(Val::Int(i as i64));
                    args.push(value);
                    args.push(kind.into());
                }
                let sql = if rows.is_empty() {
                    format!("WITH u AS ({update} RETURNING trial_id) SELECT COUNT(*) FROM u")
                } else {
                    format!(
                        "WITH u AS ({update} RETURNING trial_id), w AS (INSERT INTO trial_values (trial_id, objective, value, value_type) SELECT u.trial_id, v.o, v.x, CAST(v.k AS trialvaluetype) FROM u, (VALUES {}) AS v(o, x, k) ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value, value_type = excluded.value_type) SELECT COUNT(*) FROM u",
                        rows.join(", ")
                    )
                };
                let rows = if with_commit {
                    conn.query_and_commit(&sql, &args)?
                } else {
                    conn.query(&sql, &args)?
                };
                rows.into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.int())
                    .unwrap_or(0) as u64
            } else {
                conn.execute(&update, &args)?
            };
            let number = loaded.storage.trial(*trial_id).map_or(0, |t| t.number);
            if changed == 0 {
                return Err(if *state == TrialState::Running {
                    JournalError::NotWaiting(number).into()
                } else {
                    DbError::Data(format!(
                        "trial {number} was finished by another worker (e.g. failed as stale) before this change could be written"
                    ))
                });
            }
            if with_commit {
                return Ok(true);
            }
            if !together {
                for (i, v) in vs.iter().enumerate() {
                    set_value(conn, id, i, *v)?;
                }
            }
        }
        JournalOp::SetTrialIntermediateValue {
            trial_id,
            step,
            value,
        } => {
            let id = db_trial(loaded, *trial_id)?;
            set_intermediate(conn, id, *step, *value)?;
        }
        JournalOp::SetTrialUserAttr {
            trial_id,
            key,
            value,
        } => {
            let id = db_trial(loaded, *trial_id)?;
            upsert_attr(conn, "trial_user_attributes", "trial_id", id, key, value)?;
        }
        JournalOp::SetTrialSystemAttr {
            trial_id,
            key,
            value,
        } => {
            let id = db_trial(loaded, *trial_id)?;
            upsert_attr(conn, "trial_system_attributes", "trial_id", id, key, value)?;
        }
        JournalOp::DiscardTrials(_) => {}
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_beyond_utcs_years_are_stored_as_written_not_a_panic() {
        let t = OffsetDateTime::parse(
            "9999-12-31T23:30:00-01:00",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let n = naive_utc(t);
        assert_eq!((n.year(), n.hour(), n.minute()), (9999, 23, 30));
        let ordinary = OffsetDateTime::parse(
            "2026-01-02T03:04:05+02:00",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(naive_utc(ordinary).hour(), 1);
    }
}
