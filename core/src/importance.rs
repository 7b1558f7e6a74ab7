//! Parameter importances: PED-ANOVA, Optuna 5.0's default evaluator
//! (`optuna/importance/_ped_anova/evaluator.py` and `scott_parzen_estimator.py`).
//!
//! For each parameter, the distribution of the top 10% of COMPLETE trials is compared with
//! that of all of them on a grid of at most 50 cells (Parzen estimators with Scott's rule),
//! and the Pearson χ² divergence is the importance. [`param_importances`] normalises the
//! result to sum 1, like `optuna.importance.get_param_importances`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::distributions::Distribution;
use crate::samplers::tpe::parzen::{Kernel, Mixture};
use crate::trial::{FrozenTrial, TrialState};
use crate::view::{StudyDirection, StudyView};

const N_STEPS: usize = 50;
const PRIOR_WEIGHT: f64 = 1.0;
const MIN_TRIALS_IN_REGIME: usize = 2;

/// PED-ANOVA settings (`target_quantile`, `region_quantile`).
#[derive(Clone, Copy, Debug)]
pub struct PedAnova {
    /// Share of best trials forming the "top" set (γ').
    pub target_quantile: f64,
    /// Share of trials forming the region (γ).
    pub region_quantile: f64,
}

impl Default for PedAnova {
    fn default() -> Self {
        PedAnova {
            target_quantile: 0.1,
            region_quantile: 1.0,
        }
    }
}

fn top_quantile<'a>(
    trials: &[&'a FrozenTrial],
    quantile: f64,
    dir: StudyDirection,
) -> Vec<&'a FrozenTrial> {
    if quantile >= 1.0 {
        return trials.to_vec();
    }
    let losses: Vec<f64> = trials
        .iter()
        .map(|t| dir.loss(t.value().unwrap_or(f64::NAN)))
        .collect();
    let cutoff_index = ((quantile * losses.len() as f64).ceil() as usize).saturating_sub(1);
    let mut sorted = losses.clone();
    sorted.sort_by(f64::total_cmp);
    let cutoff = sorted[cutoff_index.min(sorted.len() - 1)];
    trials
        .iter()
        .zip(&losses)
        .filter(|(_, l)| **l <= cutoff)
        .map(|(t, _)| *t)
        .collect()
}

/// Grid cell counts of a parameter over `trials`.
fn counts_on_grid(name: &str, dist: &Distribution, trials: &[&FrozenTrial]) -> Vec<f64> {
    match dist {
        Distribution::Categorical(c) => {
            let mut counts = vec![0.0; c.choices.len()];
            for t in trials {
                if let Some(v) = t.param_internal(name) {
                    let i = (v as usize).min(counts.len() - 1);
                    counts[i] += 1.0;
                }
            }
            counts
        }
        Distribution::Float(_) | Distribution::Int(_) => {
            let (low, high, log, step) = match dist {
                Distribution::Float(f) => (f.low, f.high, f.log, f.step),
                Distribution::Int(i) => (i.low as f64, i.high as f64, i.log, Some(i.step as f64)),
                Distribution::Categorical(_) => (0.0, 0.0, false, None),
            };
            let mut n_steps = N_STEPS;
            let is_int_log = matches!(dist, Distribution::Int(i) if i.log);
            if is_int_log {
                let log2_size = (libm::log(high - low + 1.0) / libm::log(2.0)).ceil() as usize + 1;
                n_steps = n_steps.min(log2_size);
            } else if let Some(s) = step {
                n_steps = n_steps.min(((high - low) / s).round() as usize + 1);
            }
            let (lo, hi) = if log {
                (libm::log(low), libm::log(high))
            } else {
                (low, high)
            };
            let mut counts = vec![0.0; n_steps.max(1)];
            if n_steps <= 1 {
                counts[0] = trials.len() as f64;
                return counts;
            }
            let step_size = (hi - lo) / (n_steps - 1) as f64;
            for t in trials {
                if let Some(v) = t.param_internal(name) {
                    let x = if log { libm::log(v) } else { v };
                    let idx = ((x - lo) / step_size - 0.5).ceil();
                    let idx = idx.clamp(0.0, (n_steps - 1) as f64) as usize;
                    counts[idx] += 1.0;
                }
            }
            counts
        }
    }
}

/// Optuna's `ScottParzenEstimator` on grid indices; returns the pdf of every cell.
fn scott_pdf(counts: &[f64], categorical: bool) -> Vec<f64> {
    let size = counts.len();
    let obs: Vec<f64> = (0..size)
        .filter(|&i| counts[i] > 0.0)
        .map(|i| i as f64)
        .collect();
    let w: Vec<f64> = obs.iter().map(|&i| counts[i as usize]).collect();
    let mut weights: Vec<f64> = if obs.is_empty() {
        vec![1.0]
    } else {
        let mut v = w.clone();
        v.push(PRIOR_WEIGHT);
        v
    };
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|x| *x /= total);
    let kernel = if categorical {
        if obs.is_empty() {
            Kernel::Categorical {
                n_choices: size,
                weights: vec![1.0 / size as f64; size],
            }
        } else {
            let k = obs.len() + 1;
            let fill = PRIOR_WEIGHT / k as f64;
            let mut rows = vec![fill; k * size];
            for (r, o) in obs.iter().enumerate() {
                rows[r * size + *o as usize] += 1.0;
            }
            for row in rows.chunks_mut(size) {
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= s);
            }
            Kernel::Categorical {
                n_choices: size,
                weights: rows,
            }
        }
    } else {
        let (low, high) = (0.0, (size - 1) as f64);
        let wsum: f64 = w.iter().sum();
        let mut mus = obs.clone();
        let mut sigmas = Vec::new();
        if !obs.is_empty() {
            let mean = obs.iter().zip(&w).map(|(o, w)| o * w).sum::<f64>() / wsum;
            let var = obs
                .iter()
                .zip(&w)
                .map(|(o, w)| (o - mean) * (o - mean) * w)
                .sum::<f64>()
                / (wsum - 1.0).max(1.0);
            let mut sigma_est = var.sqrt();
            let mut cum = Vec::with_capacity(w.len());
            let mut acc = 0.0;
            for x in &w {
                acc += x;
                cum.push(acc);
            }
            let q1 = (wsum / 4.0).floor();
            let q3 = (wsum * 3.0 / 4.0).floor();
            let q1_idx = cum.partition_point(|c| *c < q1);
            let q3_idx = cum.partition_point(|c| *c <= q3);
            let iqr = obs[q3_idx.min(obs.len() - 1)] - obs[q1_idx.min(obs.len() - 1)];
            sigma_est = 1.059 * (iqr / 1.34).min(sigma_est) * wsum.powf(-0.2);
            let sigma_min = 0.5 / 1.64;
            sigmas = vec![sigma_est.max(sigma_min); obs.len()];
        }
        mus.push((low + high) / 2.0);
        sigmas.push(high - low + 1.0);
        Kernel::numerical(mus, sigmas, (low, high), 1.0, false)
    };
    let m = Mixture {
        weights,
        kernels: vec![kernel],
    };
    let grid: Vec<f64> = (0..size).map(|i| i as f64).collect();
    m.log_pdf(&[grid]).into_iter().map(libm::exp).collect()
}

fn pearson_divergence(
    name: &str,
    dist: &Distribution,
    top: &[&FrozenTrial],
    region: &[&FrozenTrial],
) -> f64 {
    let cat = dist.is_categorical();
    let p_top = scott_pdf(&counts_on_grid(name, dist, top), cat);
    let p_region = scott_pdf(&counts_on_grid(name, dist, region), cat);
    p_top
        .iter()
        .zip(&p_region)
        .map(|(t, r)| {
            let (t, r) = (t + 1e-12, r + 1e-12);
            r * (t / r - 1.0) * (t / r - 1.0)
        })
        .sum()
}

impl PedAnova {
    /// Raw (unnormalised) importances of every parameter seen in a COMPLETE trial.
    pub fn evaluate(&self, study: &StudyView<'_>) -> BTreeMap<String, f64> {
        let completed: Vec<&FrozenTrial> = study
            .trials
            .iter()
            .copied()
            .filter(|t| t.state == TrialState::Complete)
            .collect();
        let params: Vec<String> = completed
            .iter()
            .flat_map(|t| t.params_internal().map(|(k, _, _)| k))
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let trials: Vec<&FrozenTrial> = completed
            .into_iter()
            .filter(|t| {
                t.values
                    .as_ref()
                    .is_some_and(|v| v.iter().all(|x| x.is_finite()))
            })
            .collect();
        let mut out: BTreeMap<String, f64> = params.iter().map(|p| (p.clone(), 0.0)).collect();
        if trials.len() <= 1 {
            return out;
        }
        let dir = study.direction();
        let top = top_quantile(&trials, self.target_quantile, dir);
        let region = top_quantile(&trials, self.region_quantile, dir);
        if top.is_empty() {
            return out;
        }
        let quantile = top.len() as f64 / region.len() as f64;
        let top_ids: HashSet<u64> = top.iter().map(|t| t.trial_id).collect();
        for name in &params {
            // Regimes: trials grouped by the parameter's distribution.
            let mut regimes: Vec<(Distribution, Vec<&FrozenTrial>)> = Vec::new();
            for t in &region {
                if let Some(d) = t.distribution(name) {
                    match regimes.iter_mut().find(|(rd, _)| rd == d) {
                        Some((_, v)) => v.push(t),
                        None => regimes.push((d.clone(), vec![t])),
                    }
                }
            }
            let mut total = 0.0;
            for (dist, region_regime) in regimes {
                if region_regime.len() < MIN_TRIALS_IN_REGIME || dist.single() {
                    continue;
                }
                let top_regime: Vec<&FrozenTrial> = region_regime
                    .iter()
                    .copied()
                    .filter(|t| top_ids.contains(&t.trial_id))
                    .collect();
                if top_regime.is_empty() {
                    continue;
                }
                let alpha = top_regime.len() as f64 / top.len() as f64;
                let beta = region_regime.len() as f64 / region.len() as f64;
                total += alpha * alpha / beta
                    * pearson_divergence(name, &dist, &top_regime, &region_regime);
            }
            out.insert(name.clone(), total * quantile * quantile);
        }
        out
    }
}

/// Importances normalised to sum 1 (equal shares when all are 0), most important first.
pub fn param_importances(study: &StudyView<'_>) -> Vec<(String, f64)> {
    let raw = PedAnova::default().evaluate(study);
    let total: f64 = raw.values().sum();
    let n = raw.len();
    let mut out: Vec<(String, f64)> = raw
        .into_iter()
        .map(|(k, v)| {
            let share = if total > 0.0 {
                v / total
            } else {
                1.0 / n as f64
            };
            (k, share)
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::RandomSampler;
    use crate::study::Study;

    /// A new study minimised with the random sampler (seed 3).
    fn study() -> Study {
        Study::create(
            "imp",
            StudyDirection::Minimize,
            Box::new(RandomSampler::new(Some(3))),
        )
        .unwrap()
    }

    #[test]
    fn the_parameter_that_matters_dominates() {
        let mut study = study();
        let dx = Distribution::float(-5.0, 5.0);
        let dy = Distribution::float(-5.0, 5.0);
        let dc = Distribution::categorical(["a", "b", "c"]);
        for _ in 0..200 {
            let n = study.ask().unwrap();
            let x = study.suggest(n, "x", &dx).unwrap().as_f64().unwrap();
            let _y = study.suggest(n, "y", &dy).unwrap();
            let _c = study.suggest(n, "c", &dc).unwrap();
            study.tell_value(n, x * x).unwrap();
        }
        let imp = param_importances(&study.view());
        let total: f64 = imp.iter().map(|(_, v)| v).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(imp[0].0, "x", "{imp:?}");
        assert!(imp[0].1 > 0.8, "{imp:?}");
    }

    #[test]
    fn too_few_trials_give_equal_shares() {
        let mut study = study();
        let n = study.ask().unwrap();
        study
            .suggest(n, "x", &Distribution::float(0.0, 1.0))
            .unwrap();
        study
            .suggest(n, "y", &Distribution::float(0.0, 1.0))
            .unwrap();
        study.tell_value(n, 1.0).unwrap();
        let imp = param_importances(&study.view());
        assert_eq!(imp.len(), 2);
        assert!(imp.iter().all(|(_, v)| (*v - 0.5).abs() < 1e-12));
    }
}
