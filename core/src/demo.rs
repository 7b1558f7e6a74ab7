//! Studies built without training, from an analytic objective: the playground's
//! `#synthetic=N` page (thousands of trials in a second, to see how the plots behave) and
//! tests that need a realistic study quickly.

use crate::distributions::SearchSpace;
use crate::samplers::RandomSampler;
use crate::study::{Study, StudyError};
use crate::view::StudyDirection;

/// Epochs each synthetic trial reports.
pub const EPOCHS: i64 = 5;

/// A study named `name` of `n` trials sampled at random (seed 1) from `space`, maximising a
/// validation accuracy that follows a smooth function of `lr` (best near 10^-2.5),
/// `dropout` (best at 0.25) and `optimizer` (`sgd` a little worse), plus a small
/// deterministic noise. Every trial logs `val/accuracy` and `val/loss` and reports the
/// accuracy for [`EPOCHS`] epochs, then completes with its last accuracy. Parameters the
/// space lacks take neutral values.
pub fn synthetic_study(name: &str, space: &SearchSpace, n: usize) -> Result<Study, StudyError> {
    let mut study = Study::create(
        name,
        StudyDirection::Maximize,
        Box::new(RandomSampler::new(Some(1))),
    )?;
    for _ in 0..n {
        let (k, p) = study.ask_with(space)?;
        let lr = p.get("lr").and_then(|v| v.as_f64()).unwrap_or(1e-3);
        let drop = p.get("dropout").and_then(|v| v.as_f64()).unwrap_or(0.2);
        let sgd = p.get("optimizer").and_then(|v| v.as_str()) == Some("sgd");
        let peak = 0.98
            - 0.08 * (lr.log10() + 2.5).powi(2) / 6.0
            - 0.1 * (drop - 0.25).abs()
            - if sgd { 0.04 } else { 0.0 };
        let noise = ((k as f64 * 12.9898).sin() * 43758.5453).fract() * 0.01;
        let mut acc = 0.0;
        for e in 1..=EPOCHS {
            acc = (peak * (1.0 - (-(e as f64) / 1.5).exp()) + noise).clamp(0.0, 1.0);
            study.log_metric(k, "val/accuracy", e, acc)?;
            study.log_metric(k, "val/loss", e, (1.0 - acc) * 2.0)?;
            study.report(k, e, acc)?;
        }
        study.tell_value(k, acc)?;
    }
    Ok(study)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::Distribution;
    use crate::trial::TrialState;

    #[test]
    fn every_trial_completes_with_its_curves_and_the_best_lr_is_near_the_peak() {
        let mut space = SearchSpace::new();
        space.insert("lr".into(), Distribution::float_log(1e-5, 1e-1));
        let study = synthetic_study("s", &space, 200).unwrap();
        assert_eq!(study.trials().len(), 200);
        assert!(
            study
                .trials()
                .iter()
                .all(|t| t.state == TrialState::Complete
                    && t.intermediate_values.len() == EPOCHS as usize)
        );
        let best = study.best_trial().unwrap();
        let lr = best.params()["lr"].as_f64().unwrap();
        assert!((lr.log10() + 2.5).abs() < 0.5, "best lr {lr}");
    }
}
