//! What storage, samplers and pruners read of a study, below [`crate::study`] so that they
//! need nothing of it: [`StudyDirection`], the read-only [`StudyView`] and the journal key of
//! a metric series ([`series_attr_key`]). `study` and the crate root re-export them.

use crate::trial::{FrozenTrial, TrialState};

/// Whether a study minimises or maximises an objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StudyDirection {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
    /// Not set (Optuna's `NOT_SET`, only seen in foreign journals).
    NotSet,
}

impl StudyDirection {
    /// The journal's integer code (1 = minimise, 2 = maximise, 0 = not set).
    pub fn code(self) -> i64 {
        match self {
            StudyDirection::NotSet => 0,
            StudyDirection::Minimize => 1,
            StudyDirection::Maximize => 2,
        }
    }

    /// Reads the journal's integer code.
    pub fn from_code(c: i64) -> Option<Self> {
        Some(match c {
            0 => StudyDirection::NotSet,
            1 => StudyDirection::Minimize,
            2 => StudyDirection::Maximize,
            _ => return None,
        })
    }

    /// Parses `minimize` / `maximize` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "minimize" | "min" => Some(StudyDirection::Minimize),
            "maximize" | "max" => Some(StudyDirection::Maximize),
            _ => None,
        }
    }

    /// `v` as a loss, where lower is better: negated when maximising.
    pub fn loss(self, v: f64) -> f64 {
        match self {
            StudyDirection::Maximize => -v,
            _ => v,
        }
    }

    /// Whether `a` is strictly better than `b` in this direction.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            StudyDirection::Maximize => a > b,
            _ => a < b,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            StudyDirection::Minimize => "minimize",
            StudyDirection::Maximize => "maximize",
            StudyDirection::NotSet => "not_set",
        }
    }
}

/// A read-only view of a study, given to samplers and pruners.
#[derive(Clone, Debug)]
pub struct StudyView<'a> {
    /// Study name.
    pub name: &'a str,
    /// Objective directions.
    pub directions: &'a [StudyDirection],
    /// The trials the caller may see (all of them, or a Hyperband bracket's).
    pub trials: Vec<&'a FrozenTrial>,
}

impl<'a> StudyView<'a> {
    /// The first direction.
    pub fn direction(&self) -> StudyDirection {
        self.directions
            .first()
            .copied()
            .unwrap_or(StudyDirection::Minimize)
    }

    /// Whether the study has several objectives.
    pub fn is_multi_objective(&self) -> bool {
        self.directions.len() > 1
    }

    /// Trials in one of `states`, in number order.
    pub fn trials_in(&self, states: &[TrialState]) -> Vec<&'a FrozenTrial> {
        self.trials
            .iter()
            .copied()
            .filter(|t| states.contains(&t.state))
            .collect()
    }

    /// Number of trials in one of `states`.
    pub fn count(&self, states: &[TrialState]) -> usize {
        self.trials
            .iter()
            .filter(|t| states.contains(&t.state))
            .count()
    }
}

/// The user-attribute key that stores a metric series in the journal.
pub fn series_attr_key(series: &str) -> String {
    format!("{}{series}", crate::trial::SERIES_ATTR_PREFIX)
}
