//! The replay: operations applied in journal order to the studies and trials they build,
//! with Optuna's rules for what is ignored.

use std::collections::BTreeMap;

use super::JournalError;
use super::codec::parse_journal;
use super::op::JournalOp;
use crate::json::Json;
use crate::trial::{FrozenTrial, TrialState};
use crate::view::StudyDirection;

/// One study as the replay sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyRecord {
    /// Storage id (0, 1, … in creation order).
    pub study_id: u64,
    /// Name.
    pub name: String,
    /// Directions, one per objective.
    pub directions: Vec<StudyDirection>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, Json>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, Json>,
    /// Trials in number order.
    pub trials: Vec<FrozenTrial>,
}

/// The replayed state of a journal: studies, trials and the id counters.
#[derive(Clone, Debug, Default)]
pub struct JournalStorage {
    studies: BTreeMap<u64, StudyRecord>,
    next_study_id: u64,
    /// trial_id → (study_id, number)
    trial_index: Vec<(u64, u64)>,
}

impl JournalStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replays parsed lines. Operations that Optuna would ignore (on a finished trial, a
    /// duplicate study name, …) are ignored here too.
    pub fn replay(lines: &[(String, JournalOp)]) -> Self {
        let mut s = Self::new();
        for (_, op) in lines {
            let _ = s.apply(op);
        }
        s
    }

    /// Parses and replays a journal text.
    pub fn from_text(text: &str) -> Result<Self, JournalError> {
        Ok(Self::replay(&parse_journal(text)?))
    }

    /// All live studies, in id order.
    pub fn studies(&self) -> impl Iterator<Item = &StudyRecord> {
        self.studies.values()
    }

    /// A study by name.
    pub fn study_by_name(&self, name: &str) -> Option<&StudyRecord> {
        self.studies.values().find(|s| s.name == name)
    }

    /// A study by id.
    pub fn study(&self, study_id: u64) -> Option<&StudyRecord> {
        self.studies.get(&study_id)
    }

    /// Where a trial id lives: (study_id, number).
    pub fn locate(&self, trial_id: u64) -> Option<(u64, u64)> {
        self.trial_index.get(trial_id as usize).copied()
    }

    /// A trial by id.
    pub fn trial(&self, trial_id: u64) -> Option<&FrozenTrial> {
        let (sid, num) = self.locate(trial_id)?;
        self.studies.get(&sid)?.trials.get(num as usize)
    }

    fn trial_mut(&mut self, trial_id: u64) -> Result<&mut FrozenTrial, JournalError> {
        let (sid, num) = self
            .locate(trial_id)
            .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))?;
        self.studies
            .get_mut(&sid)
            .and_then(|s| s.trials.get_mut(num as usize))
            .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))
    }

    fn updatable(&mut self, trial_id: u64) -> Result<&mut FrozenTrial, JournalError> {
        let t = self.trial_mut(trial_id)?;
        if t.state.is_finished() {
            return Err(JournalError::FinishedTrial {
                number: t.number,
                state: t.state,
            });
        }
        Ok(t)
    }

    /// A trial by study and number, mutably (for data that is not journalled, such as
    /// metric series while a trial runs).
    pub(crate) fn trial_by_number_mut(
        &mut self,
        study_id: u64,
        number: u64,
    ) -> Option<&mut FrozenTrial> {
        self.studies
            .get_mut(&study_id)?
            .trials
            .get_mut(number as usize)
    }

    /// The id the next CREATE_TRIAL will get.
    pub fn next_trial_id(&self) -> u64 {
        self.trial_index.len() as u64
    }

    /// The id the next CREATE_STUDY will get.
    pub fn next_study_id(&self) -> u64 {
        self.next_study_id
    }

    /// Applies one operation. An `Err` means Optuna would have ignored the operation from
    /// another worker (or raised for its own); the state is then unchanged.
    pub fn apply(&mut self, op: &JournalOp) -> Result<(), JournalError> {
        match op {
            JournalOp::CreateStudy {
                study_name,
                directions,
            } => {
                if self.study_by_name(study_name).is_some() {
                    return Err(JournalError::DuplicateStudy(study_name.clone()));
                }
                let id = self.next_study_id;
                self.next_study_id += 1;
                self.studies.insert(
                    id,
                    StudyRecord {
                        study_id: id,
                        name: study_name.clone(),
                        directions: directions.clone(),
                        user_attrs: BTreeMap::new(),
                        system_attrs: BTreeMap::new(),
                        trials: Vec::new(),
                    },
                );
            }
            JournalOp::DeleteStudy { study_id } => {
                self.studies
                    .remove(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
            }
            JournalOp::SetStudyUserAttr {
                study_id,
                key,
                value,
            } => {
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                s.user_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::SetStudySystemAttr {
                study_id,
                key,
                value,
            } => {
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                s.system_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::CreateTrial { study_id, template } => {
                let trial_id = self.trial_index.len() as u64;
                let s = self
                    .studies
                    .get_mut(study_id)
                    .ok_or_else(|| JournalError::UnknownStudy(format!("with id {study_id}")))?;
                let number = s.trials.len() as u64;
                let mut t = FrozenTrial::new(
                    number,
                    trial_id,
                    template.state.unwrap_or(TrialState::Running),
                );
                t.datetime_start = template.datetime_start;
                t.datetime_complete = template.datetime_complete;
                t.values = match (template.value, &template.values) {
                    (Some(v), _) => Some(vec![v]),
                    (None, Some(vs)) => Some(vs.clone()),
                    (None, None) => None,
                };
                for (name, (d, v)) in &template.params {
                    t.set_param_internal(name, d.clone(), *v);
                }
                t.user_attrs = template.user_attrs.clone();
                for (k, v) in &template.user_attrs {
                    restore_series(&mut t, k, v);
                }
                t.system_attrs = template.system_attrs.clone();
                t.intermediate_values = template.intermediate_values.clone();
                s.trials.push(t);
                self.trial_index.push((*study_id, number));
            }
            JournalOp::SetTrialParam {
                trial_id,
                name,
                internal,
                distribution,
            } => {
                let (sid, _) = self
                    .locate(*trial_id)
                    .ok_or_else(|| JournalError::UnknownTrial(format!("with id {trial_id}")))?;
                self.updatable(*trial_id)?;
                if let Some(s) = self.studies.get(&sid)
                    && let Some(old) = s.trials.iter().find_map(|t| t.distribution(name))
                    && !old.compatible_with(distribution)
                {
                    return Err(JournalError::IncompatibleDistribution {
                        param: name.clone(),
                        old: old.describe(),
                        new: distribution.describe(),
                    });
                }
                let t = self.updatable(*trial_id)?;
                t.set_param_internal(name, distribution.clone(), *internal);
            }
            JournalOp::SetTrialStateValues {
                trial_id,
                state,
                values,
                datetime_start,
                datetime_complete,
            } => {
                let t = self.updatable(*trial_id)?;
                if *state == TrialState::Running && t.state == TrialState::Running {
                    return Err(JournalError::NotWaiting(t.number));
                }
                if *state == TrialState::Running {
                    t.datetime_start = *datetime_start;
                }
                if state.is_finished() {
                    t.datetime_complete = *datetime_complete;
                }
                t.state = *state;
                if let Some(v) = values {
                    t.values = Some(v.clone());
                }
            }
            JournalOp::SetTrialIntermediateValue {
                trial_id,
                step,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                t.intermediate_values.insert(*step, *value);
            }
            JournalOp::SetTrialUserAttr {
                trial_id,
                key,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                restore_series(t, key, value);
                t.user_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::SetTrialSystemAttr {
                trial_id,
                key,
                value,
            } => {
                let t = self.updatable(*trial_id)?;
                t.system_attrs.insert(key.clone(), value.clone());
            }
            JournalOp::DiscardTrials(_) => {}
        }
        Ok(())
    }

    /// Trials of a study (empty for an unknown id).
    pub fn trials(&self, study_id: u64) -> &[FrozenTrial] {
        self.studies
            .get(&study_id)
            .map_or(&[], |s| s.trials.as_slice())
    }
}

fn restore_series(t: &mut FrozenTrial, key: &str, value: &Json) {
    if let Some(name) = key.strip_prefix(crate::trial::SERIES_ATTR_PREFIX)
        && let Some(points) = crate::trial::series_from_json(value)
    {
        t.series.insert(name.to_string(), points);
    }
}
