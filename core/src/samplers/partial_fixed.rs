//! Optuna's `PartialFixedSampler`: some parameters fixed, the rest from a base sampler.

use std::collections::BTreeMap;

use super::{Sampler, SamplerError};
use crate::distributions::{Distribution, ParamValue, SearchSpace};
use crate::json::Json;
use crate::trial::{FrozenTrial, TrialState};
use crate::view::StudyView;

/// Wraps a sampler and pins the given parameters to fixed values.
pub struct PartialFixedSampler {
    fixed: BTreeMap<String, ParamValue>,
    base: Box<dyn Sampler>,
}

impl PartialFixedSampler {
    /// Fixes `fixed`; everything else comes from `base`.
    pub fn new(fixed: BTreeMap<String, ParamValue>, base: Box<dyn Sampler>) -> Self {
        PartialFixedSampler { fixed, base }
    }
}

impl Sampler for PartialFixedSampler {
    fn name(&self) -> &'static str {
        "PartialFixedSampler"
    }

    fn infer_relative_search_space(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
    ) -> SearchSpace {
        let mut space = self.base.infer_relative_search_space(study, trial);
        space.retain(|k, _| !self.fixed.contains_key(k));
        space
    }

    fn sample_relative(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
        space: &SearchSpace,
    ) -> Result<BTreeMap<String, f64>, SamplerError> {
        self.base.sample_relative(study, trial, space)
    }

    fn sample_independent(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64, SamplerError> {
        match self.fixed.get(name) {
            // A fixed value outside the distribution is used anyway, as in Optuna.
            Some(v) => Ok(dist.to_internal(name, v)?),
            None => self.base.sample_independent(study, trial, name, dist),
        }
    }

    fn before_trial(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
    ) -> Result<Vec<(String, Json)>, SamplerError> {
        self.base.before_trial(study, trial)
    }

    fn after_trial(
        &mut self,
        study: &StudyView<'_>,
        trial: &FrozenTrial,
        state: TrialState,
        values: Option<&[f64]>,
    ) -> bool {
        self.base.after_trial(study, trial, state, values)
    }

    fn stores_relative_params(&self) -> bool {
        self.base.stores_relative_params()
    }

    fn take_explain(&mut self) -> Vec<(String, Json)> {
        self.base.take_explain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::{Gamma, TpeConfig, TpeSampler};
    use crate::study::{Study, StudyDirection};

    #[test]
    fn fixed_parameters_stay_fixed_under_tpe() {
        for m in [Some(true), Some(false)] {
            let tpe = TpeSampler::new(TpeConfig {
                seed: Some(1),
                multivariate: m,
                n_startup_trials: 3,
                ..TpeConfig::default()
            });
            let mut fixed = BTreeMap::new();
            fixed.insert("y".to_string(), ParamValue::Float(0.5));
            let s = PartialFixedSampler::new(fixed, Box::new(tpe));
            let mut study = Study::create("p", StudyDirection::Minimize, Box::new(s)).unwrap();
            for _ in 0..12 {
                let n = study.ask().unwrap();
                let x = study
                    .suggest(n, "x", &Distribution::float(-1.0, 1.0))
                    .unwrap();
                let y = study
                    .suggest(n, "y", &Distribution::float(0.0, 1.0))
                    .unwrap();
                assert_eq!(y, ParamValue::Float(0.5));
                study.tell_value(n, x.as_f64().unwrap().powi(2)).unwrap();
            }
        }
    }

    #[test]
    fn hyperopt_settings_optimise_with_and_without_hyperband() {
        for hyperband in [false, true] {
            let tpe = TpeSampler::new(TpeConfig {
                seed: Some(0),
                n_startup_trials: 20,
                gamma: Gamma::Hyperopt,
                ..TpeConfig::default()
            });
            let mut study = Study::create("h", StudyDirection::Minimize, Box::new(tpe)).unwrap();
            if hyperband {
                study.set_pruner(Box::new(
                    crate::pruners::HyperbandPruner::new(1, None, 3, 0).unwrap(),
                ));
            }
            for _ in 0..50 {
                let n = study.ask().unwrap();
                let x = study
                    .suggest(n, "x", &Distribution::float(-10.0, 10.0))
                    .unwrap();
                let v = (x.as_f64().unwrap() - 2.0).powi(2);
                study.report(n, 0, v).unwrap();
                if study.should_prune(n).unwrap() {
                    study.tell(n, crate::study::TellResult::Pruned).unwrap();
                } else {
                    study.tell_value(n, v).unwrap();
                }
            }
            assert!(
                study.best_value().unwrap() < 0.5,
                "{:?}",
                study.best_value()
            );
        }
    }
}
