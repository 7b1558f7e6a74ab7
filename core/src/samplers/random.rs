//! Optuna's `RandomSampler`: uniform in the transformed space of each distribution.

use rand::RngExt;

use super::{Sampler, SamplerError, SamplerRng, entropy_seed, trial_rng};
use crate::distributions::Distribution;
use crate::trial::FrozenTrial;
use crate::view::StudyView;

/// Samples every parameter independently and uniformly (log-uniformly for log parameters).
#[derive(Debug, Clone)]
pub struct RandomSampler {
    seed: Option<u64>,
    stream: u64,
    rng: SamplerRng,
    rng_trial: Option<u64>,
}

impl RandomSampler {
    /// A random sampler; `None` draws its seed from the clock.
    pub fn new(seed: Option<u64>) -> Self {
        Self::with_stream(seed, 0)
    }

    /// A random sampler drawing from stream `stream` of the seed (used inside TPE so its
    /// numbers are independent of TPE's own).
    pub fn with_stream(seed: Option<u64>, stream: u64) -> Self {
        let base = seed.unwrap_or_else(entropy_seed);
        RandomSampler {
            seed: Some(base),
            stream,
            rng: trial_rng(base, u64::MAX, stream),
            rng_trial: None,
        }
    }

    /// The seed in use.
    pub fn seed_value(&self) -> Option<u64> {
        self.seed
    }

    /// The generator for `trial`, re-derived when the trial changes.
    fn rng_for(&mut self, trial: &FrozenTrial) -> &mut SamplerRng {
        if self.rng_trial != Some(trial.number) {
            self.rng = trial_rng(self.seed.unwrap_or(0), trial.number, self.stream);
            self.rng_trial = Some(trial.number);
        }
        &mut self.rng
    }

    /// Draws one internal value of `dist` from `rng`.
    pub fn draw(rng: &mut SamplerRng, dist: &Distribution) -> f64 {
        let mut uniform = |a: f64, b: f64| a + (b - a) * rng.random::<f64>();
        match dist {
            Distribution::Float(d) => if let Some(step) = d.step {
                let u = uniform(d.low - 0.5 * step, d.high + 0.5 * step);
                ((u - d.low) / step).round_ties_even() * step + d.low
            } else if d.log {
                let u = uniform(libm::log(d.low), libm::log(d.high));
                let v = libm::exp(u);
                if d.low == d.high {
                    v
                } else {
                    v.min(d.high.next_down())
                }
            } else {
                let u = uniform(d.low, d.high);
                if d.low == d.high {
                    u
                } else {
                    u.min(d.high.next_down())
                }
            }
            .clamp(d.low, d.high),
            Distribution::Int(d) => {
                let (low, high, step) = (d.low as f64, d.high as f64, d.step as f64);
                if d.log {
                    let u = uniform(libm::log(low - 0.5), libm::log(high + 0.5));
                    libm::exp(u).round_ties_even().clamp(low, high)
                } else {
                    let u = uniform(low - 0.5 * step, high + 0.5 * step);
                    let idx = ((u - low) / step + 0.5).floor();
                    (idx * step + low).clamp(low, high)
                }
            }
            Distribution::Categorical(c) => {
                let n = c.choices.len().max(1);
                // argmax of n uniforms: a uniform index.
                let mut best = 0;
                let mut best_u = -1.0;
                for i in 0..n {
                    let u: f64 = rng.random();
                    if u > best_u {
                        best_u = u;
                        best = i;
                    }
                }
                best as f64
            }
        }
    }
}

impl Sampler for RandomSampler {
    fn name(&self) -> &'static str {
        "RandomSampler"
    }

    fn sample_independent(
        &mut self,
        _study: &StudyView<'_>,
        trial: &FrozenTrial,
        _name: &str,
        dist: &Distribution,
    ) -> Result<f64, SamplerError> {
        let rng = self.rng_for(trial);
        Ok(Self::draw(rng, dist))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::ParamValue;
    use crate::study::{Study, StudyDirection};

    #[test]
    fn samples_stay_in_domain_and_on_grid() {
        let dists = [
            Distribution::float(-1.0, 1.0),
            Distribution::float(0.0, 1.0),
            Distribution::float(-1.0, 0.0),
            Distribution::float_log(1e-7, 1.0),
            Distribution::float_step(-10.0, 10.0, 0.1),
            Distribution::float_step(-10.2, 10.2, 0.1),
            Distribution::int(-10, 10),
            Distribution::int(0, 10),
            Distribution::int(-10, 0),
            Distribution::int_step(-10, 10, 2),
            Distribution::int_step(0, 10, 2),
            Distribution::int_step(-10, 0, 2),
            Distribution::int_log(1, 100),
            Distribution::categorical([1i64, 2, 3]),
            Distribution::categorical(["a", "b", "c"]),
        ];
        let mut rng = trial_rng(7, 0, 0);
        for d in &dists {
            for _ in 0..100 {
                let v = RandomSampler::draw(&mut rng, d);
                assert!(d.contains(v), "{v} not in {}", d.describe());
            }
        }
    }

    #[test]
    fn int_ranges_wider_than_f64_give_grid_points_in_range() {
        // Found by the search_space_json fuzz target: on int[i64::MIN, 1024] step 3 the
        // external value is an exact grid point that `f64` cannot hold, so it must be
        // checked as an int, not through its rounded internal value.
        let space: crate::SearchSpace = [
            ("i", Distribution::int_step(i64::MIN, 1024, 3)),
            ("j", Distribution::int_step(-(7 << 57), 7 << 57, 7)),
            ("k", Distribution::int(i64::MIN, i64::MAX)),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
        for seed in 0..20 {
            let mut study = Study::create(
                "s",
                StudyDirection::Minimize,
                Box::new(RandomSampler::new(Some(seed))),
            )
            .unwrap();
            let (_, params) = study.ask_with(&space).unwrap();
            for (name, d) in &space {
                let v = &params[name];
                assert!(d.contains_value(v), "{name} = {v} not in {}", d.describe());
            }
        }
        let d = Distribution::int_step(i64::MIN, 1024, 3);
        let on_grid = ParamValue::Int(-4_362_690_922_589_860_865);
        assert!(d.contains_value(&on_grid));
        assert!(!d.contains_value(&ParamValue::Int(-4_362_690_922_589_860_864)));
        assert!(!d.contains_value(&ParamValue::Int(1025)));
        assert!(!d.contains_value(&ParamValue::Str("x".into())));
    }

    #[test]
    fn log_uniform_is_uniform_in_log_space() {
        let d = Distribution::float_log(1e-4, 1.0);
        let mut rng = trial_rng(1, 0, 0);
        let below = (0..4000)
            .filter(|_| RandomSampler::draw(&mut rng, &d) < 1e-2)
            .count();
        // Half of the log range lies below 1e-2.
        assert!((1800..2200).contains(&below), "{below}");
    }

    #[test]
    fn seeded_cli_style_asks_do_not_repeat_and_replay_identically() {
        let run = || {
            let mut study = Study::create(
                "s",
                StudyDirection::Minimize,
                Box::new(RandomSampler::new(Some(0))),
            )
            .unwrap();
            let d = Distribution::float(0.0, 1.0);
            (0..20)
                .map(|_| {
                    let n = study.ask().unwrap();
                    study.suggest(n, "x", &d).unwrap().as_f64().unwrap()
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        let mut uniq = a.clone();
        uniq.sort_by(f64::total_cmp);
        uniq.dedup();
        assert_eq!(uniq.len(), 20);
        assert_eq!(a, run());
    }
}
