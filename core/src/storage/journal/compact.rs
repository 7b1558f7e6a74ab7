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

/// What must be unchanged for a finished trial's compact line to be reused.
#[derive(Clone, Debug, PartialEq)]
struct TrialStamp {
    trial_id: u64,
    state: crate::trial::TrialState,
    values: Option<Vec<u64>>,
    datetime_complete: Option<time::OffsetDateTime>,
    sizes: [usize; 4],
}

impl TrialStamp {
    fn of(t: &FrozenTrial) -> Self {
        TrialStamp {
            trial_id: t.trial_id,
            state: t.state,
            values: t
                .values
                .as_ref()
                .map(|v| v.iter().map(|x| x.to_bits()).collect()),
            datetime_complete: t.datetime_complete,
            sizes: [
                t.params_internal().count(),
                t.user_attrs.len(),
                t.system_attrs.len(),
                t.intermediate_values.len(),
            ],
        }
    }
}

/// [`JournalStorage::to_compact_journal`] for a storage that is written again and again
/// as it grows (the playground saves its study after every trial): each finished trial's
/// line is kept from the last call, so a save writes only the new and unfinished trials'
/// lines and copies the rest. The text is the same as `to_compact_journal`'s.
#[derive(Clone, Debug, Default)]
pub struct CompactWriter {
    /// Per study name: its id in the last text written and, per trial position, the
    /// finished trial's stamp and line.
    studies: std::collections::HashMap<String, (u64, Vec<Option<CachedLine>>)>,
}

/// A finished trial's stamp and its compact line.
type CachedLine = (TrialStamp, String);

impl CompactWriter {
    /// The compact journal of `storage`, as [`JournalStorage::to_compact_journal`] writes it.
    pub fn write(&mut self, storage: &JournalStorage, worker_id: &str) -> String {
        let mut out = String::new();
        let mut seen = std::collections::HashSet::new();
        for (new_id, s) in storage.studies().enumerate() {
            let study_id = new_id as u64;
            seen.insert(s.name.clone());
            let (id, lines) = self
                .studies
                .entry(s.name.clone())
                .or_insert_with(|| (study_id, Vec::new()));
            if *id != study_id {
                // The study moved in the file: every line names its id.
                *id = study_id;
                lines.clear();
            }
            lines.resize(s.trials.len(), None);
            let ops = study_compact_ops_head(s, study_id);
            for op in &ops {
                out.push_str(&op.to_line(worker_id));
            }
            for (t, cached) in s.trials.iter().zip(lines.iter_mut()) {
                let stamp = TrialStamp::of(t);
                match cached {
                    Some((seen_stamp, line)) if *seen_stamp == stamp => out.push_str(line),
                    _ => {
                        let line = JournalOp::CreateTrial {
                            study_id,
                            template: Box::new(template_of(t, s.directions.len())),
                        }
                        .to_line(worker_id);
                        out.push_str(&line);
                        *cached = t.state.is_finished().then_some((stamp, line));
                    }
                }
            }
        }
        self.studies.retain(|name, _| seen.contains(name));
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
    let mut out = study_compact_ops_head(s, study_id);
    for t in &s.trials {
        out.push(JournalOp::CreateTrial {
            study_id,
            template: Box::new(template_of(t, s.directions.len())),
        });
    }
    out
}

/// The operations of [`study_compact_ops`] before the trials': the study and its attributes.
fn study_compact_ops_head(s: &StudyRecord, study_id: u64) -> Vec<JournalOp> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distribution, RandomSampler, Study, StudyDirection};

    fn run(study: &mut Study, n: usize) {
        for _ in 0..n {
            let k = study.ask().unwrap();
            let x = study
                .suggest(k, "x", &Distribution::float(-1.0, 1.0))
                .unwrap()
                .as_f64()
                .unwrap();
            study.tell_value(k, x * x).unwrap();
        }
    }

    #[test]
    fn the_writer_writes_what_compaction_writes_as_the_study_grows_and_changes() {
        let mut study = Study::create(
            "a",
            StudyDirection::Minimize,
            Box::new(RandomSampler::new(Some(3))),
        )
        .unwrap();
        let mut writer = CompactWriter::default();
        run(&mut study, 5);
        let running = study.ask().unwrap();
        assert_eq!(
            writer.write(study.storage(), "w"),
            study.storage().to_compact_journal("w")
        );
        // New trials, and the running one finished.
        run(&mut study, 3);
        study.tell_value(running, 0.5).unwrap();
        let text = writer.write(study.storage(), "w");
        assert_eq!(text, study.storage().to_compact_journal("w"));
        // Behind another study its lines name id 1; with that one deleted, id 0 again.
        let b = JournalOp::CreateStudy {
            study_name: "b".into(),
            directions: vec![StudyDirection::Maximize],
        }
        .to_line("w");
        let mut two =
            JournalStorage::from_text(&(b + &text.replace("\"study_id\":0", "\"study_id\":1")))
                .unwrap();
        let written = writer.write(&two, "w");
        assert_eq!(written, two.to_compact_journal("w"));
        assert!(written.contains("\"study_id\":1"), "{written}");
        two.apply(&JournalOp::DeleteStudy { study_id: 0 }).unwrap();
        assert_eq!(writer.write(&two, "w"), text);
    }
}
