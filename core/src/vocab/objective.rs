//! What a study optimises and which optimiser a trial uses.

use serde::{Deserialize, Serialize};

use super::PlanError;
use crate::StudyDirection;

/// The optimisers the trainer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (weight decay added to the gradient, as PyTorch's `Adam`).
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    AdamW,
    /// Stochastic gradient descent with momentum.
    Sgd,
}

impl OptimizerKind {
    /// Every optimiser, in menu order.
    pub const ALL: [OptimizerKind; 3] = [
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
        OptimizerKind::Sgd,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::Sgd => "sgd",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Result<OptimizerKind, PlanError> {
        match s.to_ascii_lowercase().as_str() {
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            "sgd" => Ok(OptimizerKind::Sgd),
            _ => Err(PlanError(format!(
                "optimizer `{s}` is not supported; use adam, adamw or sgd"
            ))),
        }
    }
}

/// The metric a study optimises, computed by the trainer each epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Mean cross-entropy on the validation split (`val/loss`, minimise).
    #[default]
    ValLoss,
    /// Accuracy on the validation split (`val/accuracy`, maximise).
    ValAccuracy,
    /// Mean training loss of the epoch (`train/loss`, minimise).
    TrainLoss,
}

impl Objective {
    /// Every objective, in menu order.
    pub const ALL: [Objective; 3] = [
        Objective::ValLoss,
        Objective::ValAccuracy,
        Objective::TrainLoss,
    ];

    /// The metric's series name (`val/loss`, `val/accuracy`, `train/loss`).
    pub fn series(self) -> &'static str {
        match self {
            Objective::ValLoss => "val/loss",
            Objective::ValAccuracy => "val/accuracy",
            Objective::TrainLoss => "train/loss",
        }
    }

    /// Parses a metric name: `val/loss` (also `val_loss`, `loss`), `val/accuracy` (also
    /// `val_accuracy`, `accuracy`, `val/acc`) or `train/loss` (also `train_loss`).
    pub fn parse(name: &str) -> Result<Objective, PlanError> {
        match name.to_ascii_lowercase().as_str() {
            "val/loss" | "val_loss" | "loss" | "validation/loss" => Ok(Objective::ValLoss),
            "val/accuracy" | "val_accuracy" | "accuracy" | "val/acc" | "val_acc" => {
                Ok(Objective::ValAccuracy)
            }
            "train/loss" | "train_loss" => Ok(Objective::TrainLoss),
            _ => Err(PlanError(format!(
                "metric `{name}` is not one the trainer computes; use val/loss, val/accuracy or train/loss"
            ))),
        }
    }

    /// Whether larger values are better.
    pub fn maximize(self) -> bool {
        matches!(self, Objective::ValAccuracy)
    }

    /// The study direction that optimises it.
    pub fn direction(self) -> StudyDirection {
        if self.maximize() {
            StudyDirection::Maximize
        } else {
            StudyDirection::Minimize
        }
    }

    /// A human label, with its direction: `validation loss (minimize)`.
    pub fn label(self) -> &'static str {
        match self {
            Objective::ValLoss => "validation loss (minimize)",
            Objective::ValAccuracy => "validation accuracy (maximize)",
            Objective::TrainLoss => "training loss (minimize)",
        }
    }

    /// A short label for menus: `val loss (min)`.
    pub fn short_label(self) -> &'static str {
        match self {
            Objective::ValLoss => "val loss (min)",
            Objective::ValAccuracy => "val accuracy (max)",
            Objective::TrainLoss => "train loss (min)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for o in Objective::ALL {
            assert_eq!(Objective::parse(o.series()), Ok(o));
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<Objective>(&json).unwrap(), o);
        }
        assert_eq!(Objective::parse("val_acc"), Ok(Objective::ValAccuracy));
        assert_eq!(
            serde_json::to_string(&Objective::ValLoss).unwrap(),
            "\"val_loss\""
        );
        assert!(Objective::parse("f1").unwrap_err().0.contains("f1"));
        for k in OptimizerKind::ALL {
            assert_eq!(OptimizerKind::parse(&k.name().to_uppercase()), Ok(k));
        }
        assert_eq!(Objective::ValAccuracy.direction(), StudyDirection::Maximize);
    }
}
