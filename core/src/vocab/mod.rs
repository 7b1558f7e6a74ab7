//! The words every front end shares: what a trial trains ([`TrialPlan`], [`ModelSpec`],
//! [`Activation`], [`OptimizerKind`]), what a study optimises ([`Objective`]), the trainer's
//! setting names and their aliases ([`TRAIN_KEYS`], [`canonical`]), and what the trainer
//! reports while it runs ([`ProgressEvent`], [`BackendKind`]).
//!
//! None of it needs burn: the page, the CLI and the importers read and check these without
//! the `train` feature, and the trainer (`train`) builds models and runs from them. Each type
//! is serde data, so the browser's worker protocol carries it as is.

mod backend;
mod model;
mod objective;
mod plan;
mod progress;

pub use backend::{AdapterProbe, BackendChoice};
pub use model::{Activation, BaseQuant, LoraSettings, LoraTargets, ModelSpec};
pub use objective::{Objective, OptimizerKind};
pub use plan::{MAX_EPOCHS, TRAIN_KEYS, TrialPlan, canonical, human_bytes, is_train_key};
pub use progress::{BackendKind, ProgressEvent};

/// A setting, parameter or name the trainer cannot use; the message names it and says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);
