//! The study as this process last read it, brought up to date by reading only what may have
//! changed: trials created since, and trials that were not finished (Optuna's
//! `_CachedStorage` reads the same). A finished trial never changes again.

use sweeplab_core::FrozenTrial;
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::{JournalOp, TrialTemplate};

use std::collections::HashSet;

use super::load::{
    self, Children, attrs_and_trial_rows, attrs_and_trial_rows_sql, check_number,
    parse_attrs_and_trial_rows,
};
use super::sql::{Conn, Val};
use super::{DbError, Loaded};

/// One study as the database held it at the last read or write of this process.
#[derive(Debug)]
pub(crate) struct Replica {
    /// The study (local id 0) and its trials.
    pub loaded: Loaded,
    /// Trials this process created and has not seen finished: only their owner writes
    /// their params, values and attributes, so while their state is unchanged nothing of
    /// them needs reading again (another worker may only fail them as stale, which their
    /// row shows).
    own: HashSet<i64>,
    /// Whether the last refresh found trials to read again (other workers are busy): the
    /// next one then asks for their rows in the same round trip as the trials.
    busy: bool,
}

impl Replica {
    /// Reads study `name` whole; `None` when it does not exist.
    pub fn read(conn: &mut Conn, name: &str) -> Result<Option<Replica>, DbError> {
        let loaded = load::study(conn, name)?;
        if loaded.study_ids.is_empty() {
            return Ok(None);
        }
        Ok(Some(Replica {
            loaded,
            own: HashSet::new(),
            busy: false,
        }))
    }

    /// A replica of a study this process has just created (its rows written in `loaded`).
    pub fn created(loaded: Loaded) -> Replica {
        Replica {
            loaded,
            own: HashSet::new(),
            busy: false,
        }
    }

    /// The study and the trials this process owns.
    pub fn into_parts(self) -> (Loaded, Option<(HashSet<i64>, bool)>) {
        (self.loaded, Some((self.own, self.busy)))
    }

    /// [`Replica::into_parts`] back together.
    pub fn from_parts(loaded: Loaded, own: HashSet<i64>, busy: bool) -> Replica {
        Replica { loaded, own, busy }
    }

    /// Records that this process created trials `ids`.
    pub fn own(&mut self, ids: impl IntoIterator<Item = i64>) {
        self.own.extend(ids);
    }

    /// Reads what may have changed since, applies it, and returns the operations that
    /// did (as a journal replay would see other writers' lines).
    pub fn refresh(&mut self, conn: &mut Conn) -> Result<Vec<JournalOp>, DbError> {
        let Some(&sid) = self.loaded.study_ids.first() else {
            return Ok(Vec::new());
        };
        let record = self
            .loaded
            .storage
            .study(0)
            .ok_or_else(|| DbError::Data("the study's replica is empty".into()))?;
        let name = record.name.clone();
        // From the first trial that was not finished, or else the first new one.
        let open = record
            .trials
            .iter()
            .position(|t| !t.state.is_finished())
            .unwrap_or(record.trials.len());
        let db_id = |t: &sweeplab_core::FrozenTrial| {
            self.loaded.trial_ids.get(t.trial_id as usize).copied()
        };
        let first_open = record.trials.get(open).and_then(db_id);
        let next_new = self.loaded.trial_ids.last().map_or(0, |id| id + 1);
        let from = first_open.map_or(next_new, |f| f.min(next_new));
        let mut ops = Vec::new();
        // When other workers are busy, the rows of their trials go in the same round trip
        // as the trials (read after them, as `load::trials_from` explains).
        let (attrs, rows, mut children) = if self.busy {
            // Where other workers' trials may have changed: from their first unfinished
            // one, or else the first new one (this worker's own trials change only if
            // another one fails them as stale).
            let foreign_from = record.trials[open..]
                .iter()
                .filter(|t| !t.state.is_finished())
                .filter_map(db_id)
                .find(|id| !self.own.contains(id))
                .map_or(next_new, |f| f.min(next_new));
            let d = conn.dialect();
            let (trials_sql, children_sql) = (attrs_and_trial_rows_sql(d), Children::sql(d));
            let mut both = conn
                .queries(&[
                    (&trials_sql, &[Val::Int(sid), Val::Int(from)]),
                    (&children_sql, &[Val::Int(sid), Val::Int(foreign_from)]),
                ])?
                .into_iter();
            let trials = both.next().unwrap_or_default();
            let children = Children::from_rows(both.next().unwrap_or_default());
            let (attrs, rows) = parse_attrs_and_trial_rows(trials, 0)?;
            (attrs, rows, Some((foreign_from, children)))
        } else {
            let (attrs, rows) = attrs_and_trial_rows(conn, sid, 0, from)?;
            (attrs, rows, None)
        };
        for op in attrs {
            let changed = match &op {
                JournalOp::SetStudyUserAttr { key, value, .. } => {
                    record.user_attrs.get(key) != Some(value)
                }
                JournalOp::SetStudySystemAttr { key, value, .. } => {
                    record.system_attrs.get(key) != Some(value)
                }
                _ => false,
            };
            if changed {
                ops.push(op);
            }
        }
        for op in &ops {
            self.loaded.storage.apply(op)?;
        }
        // Which trials need their rows read: new ones, changed ones, and other workers'
        // unfinished ones (a Python worker sets params and reports as it goes).
        let stale: Vec<bool> = rows
            .iter()
            .map(|row| match self.loaded.trial_ids.binary_search(&row.tid) {
                Err(_) => true,
                Ok(local) => {
                    let known = self.loaded.storage.trial(local as u64).map(|t| t.state);
                    known != Some(row.state)
                        || (!row.state.is_finished() && !self.own.contains(&row.tid))
                }
            })
            .collect();
        let Some(first) = rows
            .iter()
            .zip(&stale)
            .find(|(_, s)| **s)
            .map(|(r, _)| r.tid)
        else {
            self.busy = false;
            return Ok(ops);
        };
        self.busy = true;
        let mut children = match children.take() {
            Some((read_from, children)) if read_from <= first => children,
            _ => Children::read(conn, sid, first)?,
        };
        for (row, stale) in rows.into_iter().zip(stale) {
            if !stale {
                continue;
            }
            let (tid, number) = (row.tid, row.number);
            if row.state.is_finished() {
                self.own.remove(&tid);
            }
            let template = children.template(row)?;
            match self.loaded.trial_ids.binary_search(&tid) {
                Ok(local) => {
                    let Some(old) = self.loaded.storage.trial(local as u64).cloned() else {
                        continue;
                    };
                    for op in diff(&old, &template) {
                        self.loaded.storage.apply(&op).map_err(|e| {
                            DbError::Data(format!(
                                "re-reading trial {}: {e} ({op:?}; had {:?} {:?})",
                                old.number, old.state, old.values
                            ))
                        })?;
                        ops.push(op);
                    }
                }
                Err(_) => {
                    let index = self.loaded.trial_ids.len();
                    check_number(&name, tid, number, index)?;
                    let op = JournalOp::CreateTrial {
                        study_id: 0,
                        template: Box::new(template),
                    };
                    self.loaded.storage.apply(&op)?;
                    self.loaded.trial_ids.push(tid);
                    ops.push(op);
                }
            }
        }
        Ok(ops)
    }
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The operations that turn trial `old` into `new` (the same trial read again).
fn diff(old: &FrozenTrial, new: &TrialTemplate) -> Vec<JournalOp> {
    let id = old.trial_id;
    let mut ops = Vec::new();
    let known: std::collections::BTreeMap<&str, f64> =
        old.params_internal().map(|(k, _, v)| (k, v)).collect();
    for (name, (dist, v)) in &new.params {
        if !known.contains_key(name.as_str()) {
            ops.push(JournalOp::SetTrialParam {
                trial_id: id,
                name: name.clone(),
                internal: *v,
                distribution: dist.clone(),
            });
        }
    }
    for (step, v) in &new.intermediate_values {
        if !old
            .intermediate_values
            .get(step)
            .is_some_and(|o| same_f64(*o, *v))
        {
            ops.push(JournalOp::SetTrialIntermediateValue {
                trial_id: id,
                step: *step,
                value: *v,
            });
        }
    }
    let attrs = |old: &std::collections::BTreeMap<String, Json>,
                 new: &std::collections::BTreeMap<String, Json>,
                 user: bool,
                 ops: &mut Vec<JournalOp>| {
        for (k, v) in new {
            if old.get(k) != Some(v) {
                ops.push(if user {
                    JournalOp::SetTrialUserAttr {
                        trial_id: id,
                        key: k.clone(),
                        value: v.clone(),
                    }
                } else {
                    JournalOp::SetTrialSystemAttr {
                        trial_id: id,
                        key: k.clone(),
                        value: v.clone(),
                    }
                });
            }
        }
    };
    attrs(&old.user_attrs, &new.user_attrs, true, &mut ops);
    attrs(&old.system_attrs, &new.system_attrs, false, &mut ops);
    // A trial's state changes once (to RUNNING from WAITING, or to a finished state), and
    // its values with it.
    let state = new.state.unwrap_or(old.state);
    if state != old.state {
        ops.push(JournalOp::SetTrialStateValues {
            trial_id: id,
            state,
            values: new.values.clone(),
            datetime_start: new.datetime_start,
            datetime_complete: new.datetime_complete,
        });
    }
    ops
}
