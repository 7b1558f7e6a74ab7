//! # sweeplab-core
//!
//! The platform-free heart of sweeplab: search spaces and studies with Optuna's semantics,
//! the Random, Grid and TPE samplers (faithful to Optuna 5.0), the pruners, PED-ANOVA
//! importances, and Optuna's journal storage. Nothing here blocks or touches the browser;
//! the same code runs natively and on `wasm32-unknown-unknown`.
//!
//! ```
//! use sweeplab_core::{Distribution, Study, StudyDirection, TpeSampler};
//!
//! let mut study = Study::create("demo", StudyDirection::Minimize, Box::new(TpeSampler::seeded(0)))?;
//! for _ in 0..20 {
//!     let n = study.ask()?;
//!     let x = study.suggest(n, "x", &Distribution::float(-10.0, 10.0))?.as_f64().unwrap_or(0.0);
//!     study.tell_value(n, (x - 2.0).powi(2))?;
//! }
//! assert!(study.best_value().unwrap() < 10.0);
//! # Ok::<(), sweeplab_core::StudyError>(())
//! ```

pub mod baselines;
pub mod config;
pub mod demo;
pub mod distributions;
pub mod export;
pub mod histogram;
pub mod importance;
pub mod json;
pub mod pruners;
pub mod samplers;
pub mod search_space;
pub mod storage;
pub mod store;
pub mod study;
#[cfg(feature = "train")]
pub mod train;
pub mod trial;
mod view;
pub mod vocab;

pub use distributions::{Distribution, ParamValue, SearchSpace, SpaceError};
pub use json::Json;
pub use pruners::{HyperbandPruner, NopPruner, PercentilePruner, Pruner, SuccessiveHalvingPruner};
pub use samplers::{GridSampler, RandomSampler, Sampler, TpeConfig, TpeDefaults, TpeSampler};
pub use study::{Study, StudyDirection, StudyError, StudyView, TellResult};
pub use trial::{FrozenTrial, MetricPoint, TrialState};
