//! Samplers: where suggestions come from.
//!
//! The [`Sampler`] trait mirrors Optuna's `BaseSampler`: an optional joint ("relative") sample
//! over a search space inferred from past trials, and an independent sample for every other
//! parameter. Values cross the trait as *internal* representations (`f64`; categorical
//! indices), exactly what the journal stores.
//!
//! Seeding: a seeded sampler derives a fresh random state for every trial from the seed and
//! the trial number (see [`trial_rng`]). The same seed and history therefore give the same
//! suggestions in any process and on any platform, and a study driven one `ask` per process
//! (the CLI) never repeats itself.

mod grid;
mod partial_fixed;
mod random;
pub mod tpe;

use std::collections::BTreeMap;

pub use grid::GridSampler;
pub use partial_fixed::PartialFixedSampler;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
pub use random::RandomSampler;
pub use tpe::{Gamma, TpeConfig, TpeDefaults, TpeSampler, Weights};

use crate::distributions::{Distribution, SearchSpace, SpaceError};
use crate::json::Json;
use crate::trial::{FrozenTrial, TrialState};
use crate::view::StudyView;

/// The random generator every sampler uses (portable and reproducible everywhere).
pub type SamplerRng = ChaCha8Rng;

/// Errors raised by samplers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplerError {
    /// A bad sampler setting.
    #[error("{0}")]
    Config(String),
    /// The Parzen estimator rejected its inputs.
    #[error(transparent)]
    Parzen(#[from] tpe::parzen::ParzenError),
    /// The grid has no value for a parameter.
    #[error("GridSampler: parameter `{0}` is not in the grid's search space; add it to the grid")]
    NotInGrid(String),
    /// A value could not be represented in its distribution.
    #[error(transparent)]
    Space(#[from] SpaceError),
}

/// A sampler (see the module documentation).
pub trait Sampler {
    /// The class name, as Optuna spells it (`TPESampler`, …).
    fn name(&self) -> &'static str;

    /// The space to sample jointly for `trial` (empty: sample everything independently).
    fn infer_relative_search_space(
        &mut self,
        _study: &StudyView<'_>,
        _trial: &FrozenTrial,
    ) -> SearchSpace {
        SearchSpace::new()
    }

    /// A joint sample over `space` (internal values); may be empty.
    fn sample_relative(
        &mut self,
        _study: &StudyView<'_>,
        _trial: &FrozenTrial,
        _space: &SearchSpace,
    ) -> Result<BTreeMap<String, f64>, SamplerError> {
        Ok(BTreeMap::new())
    }

    /// An independent sample of one parameter (internal value).
    fn sample_independent(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64, SamplerError>;

    /// Called when a trial starts; returns system attributes to set on it.
    fn before_trial(
        &mut self,
        _study: &StudyView<'_>,
        _trial: &FrozenTrial,
    ) -> Result<Vec<(String, Json)>, SamplerError> {
        Ok(Vec::new())
    }

    /// Called when a trial ends; returns `true` to ask the study to stop.
    fn after_trial(
        &mut self,
        _study: &StudyView<'_>,
        _trial: &FrozenTrial,
        _state: TrialState,
        _values: Option<&[f64]>,
    ) -> bool {
        false
    }

    /// Whether joint samples are published in `tpe:relative_params:*` system attributes
    /// (TPE's constant liar), so other workers can see a running trial's configuration.
    fn stores_relative_params(&self) -> bool {
        false
    }

    /// System attributes explaining the values sampled since the last call (for a trial's
    /// record of why it got its values; see [`tpe::explain`]), taken out of the sampler.
    fn take_explain(&mut self) -> Vec<(String, Json)> {
        Vec::new()
    }
}

/// SplitMix64: a well-mixed 64-bit hash step.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random state of one trial: derived from the seed, the trial number and a stream id
/// (so a sampler's inner samplers draw independent numbers).
pub fn trial_rng(seed: u64, number: u64, stream: u64) -> SamplerRng {
    let s = splitmix64(splitmix64(seed) ^ splitmix64(number.wrapping_add(0x5EED)) ^ stream);
    SamplerRng::seed_from_u64(s)
}

/// A seed from the clock and a counter, for unseeded samplers.
pub fn entropy_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    splitmix64(nanos ^ splitmix64(COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// Builds a sampler by Optuna class name with `--sampler-kwargs`-style JSON arguments.
pub fn sampler_from_name(name: &str, kwargs: &Json) -> Result<Box<dyn Sampler>, SamplerError> {
    let pairs = match kwargs {
        Json::Object(p) => p.as_slice(),
        Json::Null => &[],
        other => {
            return Err(SamplerError::Config(format!(
                "sampler kwargs must be a JSON object, got {}",
                other.to_compact()
            )));
        }
    };
    match name {
        "TPESampler" | "tpe" | "TPE" => {
            Ok(Box::new(TpeSampler::new(TpeConfig::from_kwargs(pairs)?)))
        }
        "RandomSampler" | "random" => {
            let mut seed = None;
            for (k, v) in pairs {
                match k.as_str() {
                    "seed" => seed = parse_seed(v)?,
                    other => {
                        return Err(SamplerError::Config(format!(
                            "RandomSampler: unknown argument `{other}`; supported: seed"
                        )));
                    }
                }
            }
            Ok(Box::new(RandomSampler::new(seed)))
        }
        "GridSampler" | "grid" => Ok(Box::new(GridSampler::from_kwargs(pairs)?)),
        other => Err(SamplerError::Config(format!(
            "unknown sampler `{other}`; supported: TPESampler, RandomSampler, GridSampler"
        ))),
    }
}

/// Reads a `seed` argument (an integer or null).
pub(crate) fn parse_seed(v: &Json) -> Result<Option<u64>, SamplerError> {
    match v {
        Json::Null => Ok(None),
        other => other
            .as_i64()
            .and_then(|i| u64::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| {
                SamplerError::Config(format!(
                    "seed must be a non-negative integer, got {}",
                    other.to_compact()
                ))
            }),
    }
}
