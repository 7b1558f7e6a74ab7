//! Compaction: a replayed state written back as the shortest journal Optuna replays to the
//! same studies and trials (one CREATE_STUDY per study, one CREATE_TRIAL template per trial).

use super::op::{JournalOp, TrialTemplate};
use super::replay::{JournalStorage, StudyRecord};
use crate::trial::FrozenTrial;

impl JournalStorage {
    /// Writes the whole state as a compact journal: one CREATE_STUDY (plus its attributes)
    /// per study and one CREATE_TRIAL template per trial. Optuna replays it to the same
    /// studies and trials (`JournalStorageReplayResult` in
    /// `optuna/storages/journal/_storage.py`; see also `docs/export-formats.md`).
    pub fn to_compact_journal(&self, worker_id: &str) -> String {
        let mut out = String::new();
        // Ids are positional, so studies are written in id order and deleted ones vanish;
        // the rewritten ids are consistent within the new file.
        for (new_id, s) in self.studies().enumerate() {
            out.push_str(&study_to_compact_journal(s, new_id as u64, worker_id));
        }
        out
    }
}

/// The compact journal lines of one study (CREATE_STUDY, its attributes, one CREATE_TRIAL
/// template per trial), with `study_id` as the id the study gets in the file being written.
pub fn study_to_compact_journal(s: &StudyRecord, study_id: u64, worker_id: &str) -> String {
    study_compact_ops(s, study_id)
        .iter()
        .map(|op| op.to_line(worker_id))
        .collect()
}

/// The operations of [`study_to_compact_journal`]: what recreates study `s` as study
/// `study_id` of another storage (a journal file, or a database).
pub fn study_compact_ops(s: &StudyRecord, study_id: u64) -> Vec<JournalOp> {
    let mut out =
        Vec::with_capacity(1 + s.user_attrs.len() + s.system_attrs.len() + s.trials.len());
    out.push(JournalOp::CreateStudy {
        study_name: s.name.clone(),
        directions: s.directions.clone(),
    });
    for (k, v) in &s.user_attrs {
        out.push(JournalOp::SetStudyUserAttr {
            study_id,
            key: k.clone(),
            value: v.clone(),
        });
    }
    for (k, v) in &s.system_attrs {
        out.push(JournalOp::SetStudySystemAttr {
            study_id,
            key: k.clone(),
            value: v.clone(),
        });
    }
    for t in &s.trials {
        out.push(JournalOp::CreateTrial {
            study_id,
            template: Box::new(template_of(t, s.directions.len())),
        });
    }
    out
}

/// The CREATE_TRIAL template that recreates `t`.
pub fn template_of(t: &FrozenTrial, n_objectives: usize) -> TrialTemplate {
    let (value, values) = match &t.values {
        Some(v) if n_objectives <= 1 && v.len() == 1 => (Some(v[0]), None),
        Some(v) => (None, Some(v.clone())),
        None => (None, None),
    };
    // Metric series ride in user attributes; a trial that has not been told yet (or one
    // built in memory) may hold series that are not there yet.
    let mut user_attrs = t.user_attrs.clone();
    for (name, points) in &t.series {
        user_attrs
            .entry(crate::view::series_attr_key(name))
            .or_insert_with(|| crate::trial::series_to_json(points));
    }
    TrialTemplate {
        datetime_start: t.datetime_start,
        state: Some(t.state),
        value,
        values,
        datetime_complete: t.datetime_complete,
        params: t
            .params_internal()
            .map(|(k, d, v)| (k.to_string(), (d.clone(), v)))
            .collect(),
        user_attrs,
        system_attrs: t.system_attrs.clone(),
        intermediate_values: t.intermediate_values.clone(),
        full: true,
    }
}
