//! What a study will cost on this device, before it runs: a typical trial of the sweep
//! (every parameter in the middle of its range) trains for a fraction of a second, and its
//! throughput gives the time per epoch. The playground shows the result next to Start.

use std::collections::BTreeMap;

use burn::tensor::Device;

use super::TrainError;
use super::data::DataSet;
use super::runner::SweepSpec;
use super::trainer::measure_training;
use crate::distributions::{Distribution, ParamValue, SearchSpace};

/// Evaluating a sample costs about this fraction of training on it (a forward pass, no
/// backward pass or optimiser step).
const EVAL_COST: f64 = 1.0 / 3.0;

/// How long the timed measurement aims to train, in seconds.
const TARGET_SECS: f64 = 0.5;

/// The most timed steps the measurement takes.
const MAX_STEPS: usize = 64;

/// A study's cost on one device, measured by [`estimate_cost`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostEstimate {
    /// Training samples per second of the typical trial.
    pub samples_per_sec: f64,
    /// Seconds one epoch of the typical trial takes: its training split, and its validation
    /// split at a third of the cost.
    pub secs_per_epoch: f64,
}

impl CostEstimate {
    /// Seconds `trials` trials of `epochs` epochs take when none is pruned.
    pub fn study_secs(&self, trials: u32, epochs: u32) -> f64 {
        self.secs_per_epoch * f64::from(trials) * f64::from(epochs)
    }
}

/// A typical trial of `space`: a float or int parameter in the middle of its range (the
/// geometric middle on a log scale, snapped to its step), a categorical one at its middle
/// choice.
pub fn typical_params(space: &SearchSpace) -> BTreeMap<String, ParamValue> {
    space
        .iter()
        .map(|(name, d)| {
            let v = match d {
                Distribution::Float(f) => {
                    let mid = if f.log && f.low > 0.0 {
                        (f.low * f.high).sqrt()
                    } else {
                        (f.low + f.high) / 2.0
                    };
                    let mid = match f.step {
                        Some(s) if s > 0.0 => f.low + ((mid - f.low) / s).round() * s,
                        _ => mid,
                    };
                    ParamValue::Float(mid.clamp(f.low, f.high))
                }
                Distribution::Int(i) => {
                    let (lo, hi) = (i.low as f64, i.high as f64);
                    let mid = if i.log && i.low > 0 {
                        (lo * hi).sqrt()
                    } else {
                        (lo + hi) / 2.0
                    };
                    d.to_external(mid.round())
                }
                Distribution::Categorical(c) => d.to_external((c.choices.len() / 2) as f64),
            };
            (name.clone(), v)
        })
        .collect()
}

/// Measures the sweep's typical trial ([`typical_params`]) on `device`: one untimed step,
/// then enough timed steps for about half a second (at most 64), and turns the throughput
/// into seconds per epoch of `data`.
pub async fn estimate_cost(
    spec: &SweepSpec,
    data: &DataSet,
    device: &Device,
) -> Result<CostEstimate, TrainError> {
    let plan = spec.plan(0, &typical_params(&spec.space))?;
    if let Some(text) = &data.text {
        let (tokens_per_sec, secs_per_epoch) =
            super::lm::trial::measure_lm(&plan, text, device, 1, 3).await?;
        return Ok(CostEstimate {
            samples_per_sec: tokens_per_sec,
            secs_per_epoch,
        });
    }
    let n_train = data.train.len();
    let batch = plan.batch_size.clamp(1, n_train.max(1));
    // A first, short measurement sizes the second.
    let first = measure_training(&plan, data, device, 1, 2, 2).await?;
    let steps = (TARGET_SECS * first.samples_per_sec / batch as f64).ceil();
    let measured = if steps > 2.0 {
        let steps = (steps as usize).min(MAX_STEPS);
        measure_training(&plan, data, device, 0, steps, steps.min(16)).await?
    } else {
        first
    };
    let sps = measured.samples_per_sec.max(1e-9);
    let samples = n_train as f64 + data.valid.len() as f64 * EVAL_COST;
    Ok(CostEstimate {
        samples_per_sec: sps,
        secs_per_epoch: samples / sps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typical_trial_sits_in_the_middle() {
        let mut s = SearchSpace::new();
        s.insert("lr".into(), Distribution::float_log(1e-4, 1e-2));
        s.insert("hidden_units".into(), Distribution::int(4, 16));
        s.insert(
            "batch_size".into(),
            Distribution::categorical([16i64, 32, 64, 128].map(ParamValue::Int)),
        );
        let p = typical_params(&s);
        match p["lr"] {
            ParamValue::Float(v) => assert!((v - 1e-3).abs() < 1e-12, "{v}"),
            ref other => panic!("{other:?}"),
        }
        assert_eq!(p["hidden_units"], ParamValue::Int(10));
        assert_eq!(p["batch_size"], ParamValue::Int(64));
    }
}
