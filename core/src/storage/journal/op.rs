//! The journal's operations: Optuna's `JournalOperation` codes and what each carries.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::distributions::Distribution;
use crate::json::Json;
use crate::trial::TrialState;
use crate::view::StudyDirection;

/// The `op_code`s of Optuna's `JournalOperation`.
pub mod op_code {
    /// CREATE_STUDY
    pub const CREATE_STUDY: i64 = 0;
    /// DELETE_STUDY
    pub const DELETE_STUDY: i64 = 1;
    /// SET_STUDY_USER_ATTR
    pub const SET_STUDY_USER_ATTR: i64 = 2;
    /// SET_STUDY_SYSTEM_ATTR
    pub const SET_STUDY_SYSTEM_ATTR: i64 = 3;
    /// CREATE_TRIAL
    pub const CREATE_TRIAL: i64 = 4;
    /// SET_TRIAL_PARAM
    pub const SET_TRIAL_PARAM: i64 = 5;
    /// SET_TRIAL_STATE_VALUES
    pub const SET_TRIAL_STATE_VALUES: i64 = 6;
    /// SET_TRIAL_INTERMEDIATE_VALUE
    pub const SET_TRIAL_INTERMEDIATE_VALUE: i64 = 7;
    /// SET_TRIAL_USER_ATTR
    pub const SET_TRIAL_USER_ATTR: i64 = 8;
    /// SET_TRIAL_SYSTEM_ATTR
    pub const SET_TRIAL_SYSTEM_ATTR: i64 = 9;
    /// DISCARD_TRIALS (Optuna 5 reads and skips it; we never write it)
    pub const DISCARD_TRIALS: i64 = 10;
}

/// The fields of a CREATE_TRIAL operation (Optuna's "template trial").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrialTemplate {
    /// Start time (`null` allowed).
    pub datetime_start: Option<OffsetDateTime>,
    /// Initial state; RUNNING when absent.
    pub state: Option<TrialState>,
    /// Single objective value.
    pub value: Option<f64>,
    /// Objective values (multi-objective form).
    pub values: Option<Vec<f64>>,
    /// Completion time.
    pub datetime_complete: Option<OffsetDateTime>,
    /// Parameters as (distribution, internal value), by name.
    pub params: BTreeMap<String, (Distribution, f64)>,
    /// User attributes.
    pub user_attrs: BTreeMap<String, Json>,
    /// System attributes.
    pub system_attrs: BTreeMap<String, Json>,
    /// Intermediate values.
    pub intermediate_values: BTreeMap<i64, f64>,
    /// Whether the line carried the template keys (`distributions`, `params`, … ); a bare
    /// `{"study_id", "datetime_start"}` line has none.
    pub full: bool,
}

/// One journal operation.
#[derive(Clone, Debug, PartialEq)]
pub enum JournalOp {
    /// Create a study (ignored if the name exists).
    CreateStudy {
        /// Name.
        study_name: String,
        /// Directions.
        directions: Vec<StudyDirection>,
    },
    /// Delete a study.
    DeleteStudy {
        /// Study id.
        study_id: u64,
    },
    /// Set one study user attribute.
    SetStudyUserAttr {
        /// Study id.
        study_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Set one study system attribute.
    SetStudySystemAttr {
        /// Study id.
        study_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Create a trial.
    CreateTrial {
        /// Study id.
        study_id: u64,
        /// The trial's initial contents.
        template: Box<TrialTemplate>,
    },
    /// Set a parameter.
    SetTrialParam {
        /// Trial id.
        trial_id: u64,
        /// Parameter name.
        name: String,
        /// Internal value.
        internal: f64,
        /// Distribution.
        distribution: Distribution,
    },
    /// Change state (and values).
    SetTrialStateValues {
        /// Trial id.
        trial_id: u64,
        /// New state.
        state: TrialState,
        /// Values (`null` allowed).
        values: Option<Vec<f64>>,
        /// Start time (with RUNNING).
        datetime_start: Option<OffsetDateTime>,
        /// Completion time (with a finished state).
        datetime_complete: Option<OffsetDateTime>,
    },
    /// Report an intermediate value.
    SetTrialIntermediateValue {
        /// Trial id.
        trial_id: u64,
        /// Step.
        step: i64,
        /// Value (NaN allowed).
        value: f64,
    },
    /// Set one trial user attribute.
    SetTrialUserAttr {
        /// Trial id.
        trial_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Set one trial system attribute.
    SetTrialSystemAttr {
        /// Trial id.
        trial_id: u64,
        /// Key.
        key: String,
        /// Value.
        value: Json,
    },
    /// Optuna 5's DISCARD_TRIALS, kept verbatim and skipped on replay.
    DiscardTrials(Json),
}

impl JournalOp {
    /// The trial an operation changes, for the operations that change one existing trial.
    pub fn trial_id(&self) -> Option<u64> {
        match self {
            JournalOp::SetTrialParam { trial_id, .. }
            | JournalOp::SetTrialStateValues { trial_id, .. }
            | JournalOp::SetTrialIntermediateValue { trial_id, .. }
            | JournalOp::SetTrialUserAttr { trial_id, .. }
            | JournalOp::SetTrialSystemAttr { trial_id, .. } => Some(*trial_id),
            _ => None,
        }
    }

    /// Whether the operation's effect depends on its position in the journal: it creates a
    /// study or a trial (ids are handed out in replay order), deletes a study, or discards
    /// trials. Operations that change one existing trial (see [`JournalOp::trial_id`]) and
    /// study attributes do not.
    pub fn depends_on_order(&self) -> bool {
        matches!(
            self,
            JournalOp::CreateStudy { .. }
                | JournalOp::DeleteStudy { .. }
                | JournalOp::CreateTrial { .. }
                | JournalOp::DiscardTrials(_)
        )
    }

    /// The operation's `op_code`.
    pub fn code(&self) -> i64 {
        use op_code::*;
        match self {
            JournalOp::CreateStudy { .. } => CREATE_STUDY,
            JournalOp::DeleteStudy { .. } => DELETE_STUDY,
            JournalOp::SetStudyUserAttr { .. } => SET_STUDY_USER_ATTR,
            JournalOp::SetStudySystemAttr { .. } => SET_STUDY_SYSTEM_ATTR,
            JournalOp::CreateTrial { .. } => CREATE_TRIAL,
            JournalOp::SetTrialParam { .. } => SET_TRIAL_PARAM,
            JournalOp::SetTrialStateValues { .. } => SET_TRIAL_STATE_VALUES,
            JournalOp::SetTrialIntermediateValue { .. } => SET_TRIAL_INTERMEDIATE_VALUE,
            JournalOp::SetTrialUserAttr { .. } => SET_TRIAL_USER_ATTR,
            JournalOp::SetTrialSystemAttr { .. } => SET_TRIAL_SYSTEM_ATTR,
            JournalOp::DiscardTrials(_) => DISCARD_TRIALS,
        }
    }
}
