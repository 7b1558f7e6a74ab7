//! The training engine (feature `train`): data sets, models and a training loop on burn,
//! driven by a [`Study`](crate::Study)'s trials.
//!
//! - [`data`]: TensorFlow-Playground-style 2-D sets (circle, xor, gauss, spiral) generated
//!   from a seed, and MNIST-10k ([`mnist`]) parsed from its IDX bytes.
//! - [`model`]: an MLP and the classic MNIST CNN, built from a trial's parameters.
//! - [`trainer`]: our own async loop on burn's autodiff and optimisers (adam, adamw, sgd with
//!   momentum), logging `train/loss`, `val/loss` and `val/accuracy`, reporting to the
//!   pruner, failing a trial on a non-finite loss, cancellable between steps.
//! - [`backend`]: wgpu or the CPU backend (Flex), chosen at run time with a reason.
//! - [`runner`]: the study loop every front end drives (resume, ask, train, tell, end).
//! - [`bench`]: the benchmarks' workloads (the spiral study, the MNIST models), shared by the
//!   native and the browser benchmarks.
//!
//! The backends are cargo features: `flex` (CPU) and `wgpu` (WebGPU in the browser, native
//! GPU APIs). The same code runs natively and on `wasm32-unknown-unknown`.

pub mod backend;
pub mod bench;
mod cnn_cpu;
mod cpu_adam;
mod cpu_gemm;
pub mod data;
pub mod estimate;
#[cfg(feature = "fused")]
pub mod fused;
mod histograms;
pub mod lm;
pub mod mnist;
pub mod model;
pub mod runner;
pub mod trainer;

pub use crate::vocab::{Objective, OptimizerKind, PlanError, TrialPlan};
pub use backend::{BackendChoice, BackendKind, SelectedBackend, select_backend};
pub use data::{DataSet, DataSpec, InputShape, Samples, TextCorpus, TextSet, Toy2d};
pub use estimate::{CostEstimate, estimate_cost, typical_params};
pub use mnist::Mnist;
pub use model::{Activation, Model, ModelSpec};
pub use runner::{
    Engine, RunnerError, StudyEnd, SweepHooks, SweepSpec, TrialEnd, counted, fail_interrupted,
    open_study, resume, run_baselines, run_study,
};
pub use trainer::{
    CancelToken, FAIL_REASON_ATTR, INTERRUPTED_ATTR, ProgressEvent, TrainHooks, TrialOutcome,
    train_trial,
};

use crate::study::StudyError;

/// Errors of the training engine.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A bad setting or parameter (names it and says what is allowed).
    #[error("{0}")]
    Config(String),
    /// A data set could not be loaded.
    #[error("{0}")]
    Data(String),
    /// A malformed IDX (or gzip) file.
    #[error("{file}: byte {offset}: {reason}")]
    Idx {
        /// The file's name.
        file: String,
        /// Byte offset of the problem (in the gzip stream for gzip errors).
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// No usable backend.
    #[error("{0}")]
    Backend(String),
    /// The device failed while training (e.g. a read-back).
    #[error("device error: {0}")]
    Device(String),
    /// The study refused an operation.
    #[error(transparent)]
    Study(#[from] StudyError),
}

impl From<PlanError> for TrainError {
    fn from(e: PlanError) -> Self {
        TrainError::Config(e.0)
    }
}
