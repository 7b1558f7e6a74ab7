//! The Parzen estimator of TPE: a mixture of product kernels, one component per observation
//! plus the prior, built as Optuna 5.0's `_ParzenEstimator` builds it
//! (`optuna/samplers/_tpe/parzen_estimator.py`, kernels from `probability_distributions.py`).
//!
//! - this module: the mixture ([`Mixture`]: its kernels and weights), its construction and
//!   sampling;
//! - `kernels`: one dimension's kernels (Optuna's bandwidth rule, the working space);
//! - `log_pdf`: the mixture's log density ([`Mixture::log_pdf`], fast with bounds and
//!   skipping, and the full sum it equals, [`Mixture::log_pdf_reference`]).

use rand::{Rng, RngExt};

use super::truncnorm;
use crate::distributions::Distribution;

mod kernels;
mod log_pdf;

pub use kernels::bandwidths;
#[cfg(test)]
pub(crate) use kernels::stable_order;
pub(crate) use kernels::{total_order_key, working_value};
pub use log_pdf::{LogPdfScratch, SKIP_NATS};

use kernels::build_kernel;

/// Settings shared by every estimator of one sampler.
#[derive(Clone, Copy, Debug)]
pub struct ParzenParams {
    /// Mixture weight of the prior component before normalisation.
    pub prior_weight: f64,
    /// Lower-bound the bandwidths by `R / min(100, n + 2)`.
    pub consider_magic_clip: bool,
    /// Let the outermost observations see the domain bounds when choosing bandwidths.
    pub consider_endpoints: bool,
}

/// Why an estimator could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParzenError {
    /// `prior_weight` was negative.
    #[error("prior_weight must be non-negative, but got {0}")]
    NegativePriorWeight(f64),
    /// The weights function returned something unusable.
    #[error("the weights function returned {what} {values:?} for n = {n}")]
    BadWeights {
        /// What is wrong with them.
        what: &'static str,
        /// The values it returned.
        values: Vec<f64>,
        /// Its argument.
        n: usize,
    },
}

/// Kernels of one dimension, one row per mixture component.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// A categorical dimension: `weights[k * n_choices + c]` is P(choice c | component k).
    Categorical {
        /// Number of choices.
        n_choices: usize,
        /// Row-major probabilities, one row per component.
        weights: Vec<f64>,
    },
    /// A numerical dimension: truncated normals (discrete when `step > 0`).
    Numerical {
        /// Centres in the working space (log space for log parameters).
        mu: Vec<f64>,
        /// Bandwidths.
        sigma: Vec<f64>,
        /// The distribution's lower bound (external scale).
        low: f64,
        /// The distribution's upper bound (external scale).
        high: f64,
        /// Grid step, 0 for continuous parameters.
        step: f64,
        /// Whether the working space is logarithmic.
        log: bool,
    },
}

impl Kernel {
    /// A numerical kernel: components centred at `mu` with bandwidths `sigma` (working
    /// space), for a parameter on `bounds = (low, high)` (external scale) with grid `step` (0
    /// when continuous), log-scaled or not.
    pub fn numerical(
        mu: Vec<f64>,
        sigma: Vec<f64>,
        (low, high): (f64, f64),
        step: f64,
        log: bool,
    ) -> Kernel {
        Kernel::Numerical {
            mu,
            sigma,
            low,
            high,
            step,
            log,
        }
    }

    /// The kernel's vectors, emptied, for reuse.
    fn into_buffers(self) -> (Vec<f64>, Vec<f64>) {
        let (mut a, mut b) = match self {
            Kernel::Categorical { weights, .. } => (weights, Vec::new()),
            Kernel::Numerical { mu, sigma, .. } => (mu, sigma),
        };
        a.clear();
        b.clear();
        (a, b)
    }

    fn adapted_bounds(&self) -> (f64, f64) {
        match self {
            Kernel::Numerical {
                low,
                high,
                step,
                log,
                ..
            } => {
                let (l, h) = (low - step / 2.0, high + step / 2.0);
                if *log {
                    (libm::log(l), libm::log(h))
                } else {
                    (l, h)
                }
            }
            Kernel::Categorical { .. } => (0.0, 0.0),
        }
    }

    /// `x` (external scale) in a numerical kernel's working space: its log for a log
    /// parameter.
    fn to_working(&self, x: f64) -> f64 {
        match self {
            Kernel::Numerical { log: true, .. } => libm::log(x),
            _ => x,
        }
    }

    /// A numerical kernel's working-space value `x` back on the external scale (exp for a
    /// log parameter), rounded onto the grid (ties to even) and clamped to [low, high].
    fn to_external(&self, x: f64) -> f64 {
        let Kernel::Numerical {
            low,
            high,
            step,
            log,
            ..
        } = self
        else {
            return x;
        };
        let x = if *log { libm::exp(x) } else { x };
        if *step > 0.0 {
            let r = ((x - low) / step).round_ties_even();
            (low + r * step).clamp(*low, *high)
        } else {
            x.clamp(*low, *high)
        }
    }
}

/// A mixture of product distributions over the dimensions of a search space.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// Normalised component weights (observations first, prior last).
    pub weights: Vec<f64>,
    /// One kernel set per dimension, in search-space order.
    pub kernels: Vec<Kernel>,
}

/// Optuna's `default_weights(n)`: ones, with a linear ramp on the oldest `n - 25`.
pub fn default_weights(n: usize) -> Vec<f64> {
    if n == 0 {
        Vec::new()
    } else if n < 25 {
        vec![1.0; n]
    } else {
        let m = n - 25;
        let start = 1.0 / n as f64;
        let mut w: Vec<f64> = (0..m)
            .map(|i| {
                if m == 1 {
                    start
                } else {
                    start + (1.0 - start) * i as f64 / (m - 1) as f64
                }
            })
            .collect();
        w.extend(std::iter::repeat_n(1.0, 25));
        w
    }
}

/// Checks a weights vector as Optuna's `_call_weights_func` does.
pub fn validate_weights(w: &[f64], n: usize) -> Result<(), ParzenError> {
    if w.iter().any(|x| *x < 0.0) {
        return Err(ParzenError::BadWeights {
            what: "negative values",
            values: w.to_vec(),
            n,
        });
    }
    if !w.is_empty() && w.iter().sum::<f64>() <= 0.0 {
        return Err(ParzenError::BadWeights {
            what: "all-zero values",
            values: w.to_vec(),
            n,
        });
    }
    if w.iter().any(|x| !x.is_finite()) {
        return Err(ParzenError::BadWeights {
            what: "infinite or NaN values",
            values: w.to_vec(),
            n,
        });
    }
    Ok(())
}

impl Mixture {
    /// Builds the estimator.
    ///
    /// `observations[d]` holds the internal values of dimension `d` (all dimensions have the
    /// same length `n`); `obs_weights` holds the `n` weights, already validated.
    pub fn build(
        observations: &[Vec<f64>],
        space: &[&Distribution],
        obs_weights: &[f64],
        params: &ParzenParams,
    ) -> Result<Mixture, ParzenError> {
        Self::build_ordered(observations, space, obs_weights, params, &[])
    }

    /// [`Mixture::build`] with, per dimension where it is known, the ascending order of the
    /// observations' working-space values ([`working_value`]; ties in observation order, as
    /// [`stable_order`](kernels::stable_order) gives them), which saves sorting them again.
    pub(crate) fn build_ordered(
        observations: &[Vec<f64>],
        space: &[&Distribution],
        obs_weights: &[f64],
        params: &ParzenParams,
        orders: &[Option<Vec<usize>>],
    ) -> Result<Mixture, ParzenError> {
        let mut m = Mixture::empty();
        m.rebuild(observations, space, obs_weights, params, orders)?;
        Ok(m)
    }

    /// A mixture without components, to [`Mixture::rebuild`] into.
    pub(crate) fn empty() -> Mixture {
        Mixture {
            weights: Vec::new(),
            kernels: Vec::new(),
        }
    }

    /// [`Mixture::build_ordered`] in place of this estimator, reusing its vectors (a new
    /// estimator per call would allocate, and fault in, fresh memory every time).
    pub(crate) fn rebuild(
        &mut self,
        observations: &[Vec<f64>],
        space: &[&Distribution],
        obs_weights: &[f64],
        params: &ParzenParams,
        orders: &[Option<Vec<usize>>],
    ) -> Result<(), ParzenError> {
        if params.prior_weight < 0.0 || params.prior_weight.is_nan() {
            return Err(ParzenError::NegativePriorWeight(params.prior_weight));
        }
        let n = observations.first().map_or(0, Vec::len);
        let weights = &mut self.weights;
        weights.clear();
        if n == 0 {
            weights.push(1.0);
        } else {
            weights.extend_from_slice(&obs_weights[..n]);
            weights.push(params.prior_weight);
        }
        let total: f64 = weights.iter().sum();
        for w in weights.iter_mut() {
            *w /= total;
        }
        let mut old = std::mem::take(&mut self.kernels).into_iter();
        self.kernels = space
            .iter()
            .enumerate()
            .map(|(d, dist)| {
                let obs: &[f64] = observations.get(d).map_or(&[], Vec::as_slice);
                let order = orders.get(d).and_then(Option::as_deref);
                let buffers = old.next().map(Kernel::into_buffers).unwrap_or_default();
                build_kernel(obs, dist, params, order, buffers)
            })
            .collect();
        Ok(())
    }

    /// Number of mixture components.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Draws `size` joint samples; returns one vector of internal values per dimension.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, size: usize) -> Vec<Vec<f64>> {
        // 1. Component indices, by inverting the cumulative weights.
        let mut cdf = Vec::with_capacity(self.weights.len());
        let mut acc = 0.0;
        for w in &self.weights {
            acc += w;
            cdf.push(acc);
        }
        let last = acc;
        let active: Vec<usize> = (0..size)
            .map(|_| {
                let u: f64 = rng.random::<f64>() * last;
                cdf.partition_point(|c| *c <= u).min(self.weights.len() - 1)
            })
            .collect();

        let mut out = vec![vec![0.0; size]; self.kernels.len()];
        // 2. Categorical dimensions, in order.
        for (d, kernel) in self.kernels.iter().enumerate() {
            if let Kernel::Categorical { n_choices, weights } = kernel {
                for (i, &k) in active.iter().enumerate() {
                    let u: f64 = rng.random();
                    let row = &weights[k * n_choices..(k + 1) * n_choices];
                    let mut cum = 0.0;
                    let mut idx = 0;
                    for (c, p) in row.iter().enumerate() {
                        cum += p;
                        // The last cumulative probability is forced to 1 (numerical safety).
                        let cum_c = if c + 1 == *n_choices { 1.0 } else { cum };
                        if cum_c < u {
                            idx += 1;
                        }
                    }
                    out[d][i] = idx.min(n_choices - 1) as f64;
                }
            }
        }
        // 3. Numerical dimensions: inverse CDF of the active component's truncated normal.
        for (d, kernel) in self.kernels.iter().enumerate() {
            if let Kernel::Numerical { mu, sigma, .. } = kernel {
                let (alow, ahigh) = kernel.adapted_bounds();
                // Per component, the part of the inverse CDF that does not depend on q.
                let mut setups: Vec<Option<truncnorm::PpfSetup>> = vec![None; mu.len()];
                for (i, &k) in active.iter().enumerate() {
                    let q: f64 = rng.random();
                    let (m, s) = (mu[k], sigma[k]);
                    let (a, b) = ((alow - m) / s, (ahigh - m) / s);
                    let setup = *setups[k].get_or_insert_with(|| truncnorm::PpfSetup::new(a, b));
                    let z = truncnorm::ppf_with(q, a, b, &setup);
                    out[d][i] = kernel.to_external(z * s + m);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A numerical kernel of a parameter that is not log-scaled.
    fn linear_kernel(mu: Vec<f64>, sigma: Vec<f64>, (low, high): (f64, f64), step: f64) -> Kernel {
        Kernel::numerical(mu, sigma, (low, high), step, false)
    }

    pub(super) fn p(clip: bool, endpoints: bool) -> ParzenParams {
        ParzenParams {
            prior_weight: 1.0,
            consider_magic_clip: clip,
            consider_endpoints: endpoints,
        }
    }

    pub(super) fn numerical(k: &Kernel) -> (&[f64], &[f64]) {
        match k {
            Kernel::Numerical { mu, sigma, .. } => (mu, sigma),
            Kernel::Categorical { .. } => panic!("numerical expected"),
        }
    }

    pub(super) fn assert_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }

    // The full 7-parameter example of Optuna's test_parzen_estimator.py: one observation at 1
    // (index 1).
    #[test]
    fn seven_distribution_example() {
        use crate::distributions::ParamValue;
        let dists = [
            Distribution::float(1.0, 100.0),
            Distribution::float_log(1.0, 100.0),
            Distribution::float_step(1.0, 100.0, 3.0),
            Distribution::int(1, 100),
            Distribution::int_log(1, 100),
            Distribution::categorical([0i64, 1, 2]),
            Distribution::Categorical(crate::distributions::CategoricalDistribution {
                choices: vec![
                    ParamValue::Int(0),
                    ParamValue::Int(1),
                    ParamValue::Float(f64::INFINITY),
                    ParamValue::Null,
                ],
            }),
        ];
        let refs: Vec<&Distribution> = dists.iter().collect();
        let obs: Vec<Vec<f64>> = vec![vec![1.0]; 7];
        let m = Mixture::build(&obs, &refs, &[1.0], &p(false, false)).unwrap();
        assert_close(&m.weights, &[0.5, 0.5]);
        let ln100 = 100f64.ln();
        let (mu, s) = numerical(&m.kernels[0]);
        assert_close(mu, &[1.0, 50.5]);
        assert_close(s, &[99.0, 99.0]);
        let (mu, s) = numerical(&m.kernels[1]);
        assert_close(mu, &[0.0, ln100 / 2.0]);
        assert_close(s, &[ln100, ln100]);
        let (mu, s) = numerical(&m.kernels[2]);
        assert_close(mu, &[1.0, 50.5]);
        assert_close(s, &[100.5, 102.0]);
        let (_, s) = numerical(&m.kernels[3]);
        assert_close(s, &[99.5, 100.0]);
        let (mu, s) = numerical(&m.kernels[4]);
        let (l, h) = (0.5f64.ln(), 100.5f64.ln());
        assert_close(mu, &[0.0, (l + h) / 2.0]);
        assert_close(s, &[h, h - l]);
        match &m.kernels[5] {
            Kernel::Categorical { weights, .. } => {
                assert_close(weights, &[0.2, 0.6, 0.2, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0])
            }
            _ => panic!(),
        }
        match &m.kernels[6] {
            Kernel::Categorical { weights, .. } => assert_close(
                weights,
                &[1.0 / 6.0, 0.5, 1.0 / 6.0, 1.0 / 6.0, 0.25, 0.25, 0.25, 0.25],
            ),
            _ => panic!(),
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x = m.sample(&mut rng, 10);
        for (d, dist) in dists.iter().enumerate() {
            for v in &x[d] {
                assert!(dist.contains(*v), "{v} not in {}", dist.describe());
            }
        }
        assert_eq!(m.log_pdf(&x).len(), 10);
    }

    #[test]
    fn component_count_is_observations_plus_one() {
        for pw in [1.0, 0.01, 100.0] {
            for (clip, ep) in [(true, true), (true, false), (false, true), (false, false)] {
                for n in 0..4 {
                    let params = ParzenParams {
                        prior_weight: pw,
                        consider_magic_clip: clip,
                        consider_endpoints: ep,
                    };
                    let obs = vec![(0..n).map(|i| i as f64 * 0.3).collect::<Vec<_>>()];
                    let num = Distribution::float(0.0, 1.0);
                    let m = Mixture::build(&obs, &[&num], &vec![1.0; n], &params).unwrap();
                    assert_eq!(m.n_components(), n + 1);
                    let obs = vec![(0..n).map(|i| (i % 3) as f64).collect::<Vec<_>>()];
                    let cat = Distribution::categorical(["a", "b", "c"]);
                    let m = Mixture::build(&obs, &[&cat], &vec![1.0; n], &params).unwrap();
                    assert_eq!(m.n_components(), n + 1);
                }
            }
        }
        let neg = ParzenParams {
            prior_weight: -1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        };
        let num = Distribution::float(0.0, 1.0);
        assert!(Mixture::build(&[vec![0.5]], &[&num], &[1.0], &neg).is_err());
    }

    #[test]
    fn bad_weights_are_rejected() {
        for w in [
            vec![0.0, 0.0],
            vec![-1.0, 2.0],
            vec![f64::INFINITY, 1.0],
            vec![f64::NAN, 1.0],
        ] {
            assert!(validate_weights(&w, 2).is_err(), "{w:?}");
        }
        assert!(validate_weights(&[1.0, 0.0], 2).is_ok());
    }

    #[test]
    fn default_weights_ramp() {
        assert!(default_weights(0).is_empty());
        assert_eq!(default_weights(3), vec![1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!((w[4] - 1.0).abs() < 1e-12);
        assert!(w[25..].iter().all(|x| *x == 1.0));
    }

    // As Optuna's test_probability_distributions.py: mixture of (trunc-norm, discrete
    // trunc-norm, categorical).
    #[test]
    fn mixture_sampling_shape_bounds_and_seed() {
        let m = Mixture {
            weights: vec![0.3, 0.7],
            kernels: vec![
                linear_kernel(vec![0.0, 0.5], vec![1.0, 0.2], (-1.0, 1.0), 0.0),
                linear_kernel(vec![1.0, 3.0], vec![2.0, 1.0], (0.0, 4.0), 0.5),
                Kernel::Categorical {
                    n_choices: 3,
                    weights: vec![0.2, 0.3, 0.5, 0.1, 0.1, 0.8],
                },
            ],
        };
        let mut r1 = ChaCha8Rng::seed_from_u64(1);
        let mut r2 = ChaCha8Rng::seed_from_u64(1);
        let mut r3 = ChaCha8Rng::seed_from_u64(2);
        let a = m.sample(&mut r1, 5);
        let b = m.sample(&mut r2, 5);
        let c = m.sample(&mut r3, 5);
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|d| d.len() == 5));
        assert_eq!(a, b);
        assert_ne!(a, c);
        #[allow(clippy::needless_range_loop)]
        for i in 0..5 {
            assert!((-1.0..=1.0).contains(&a[0][i]));
            assert!((0.0..=4.0).contains(&a[1][i]));
            assert_eq!((a[1][i] / 0.5).fract(), 0.0);
            assert_eq!(a[2][i].fract(), 0.0);
            assert!(a[2][i] < 3.0);
        }
        assert_eq!(m.log_pdf(&a).len(), 5);
    }

    // As Optuna's test_probability_distributions.py: weights [1, 0] with sigma 1e-10 sample the
    // mode; elsewhere log pdf < -100.
    #[test]
    fn extreme_bandwidth_gives_mode_and_no_nan() {
        let m = Mixture {
            weights: vec![1.0, 0.0],
            kernels: vec![
                linear_kernel(vec![0.2, 0.7], vec![1e-10, 1e-10], (0.0, 1.0), 0.0),
                linear_kernel(vec![2.0, 4.0], vec![1e-10, 1e-10], (0.0, 5.0), 1.0),
                Kernel::Categorical {
                    n_choices: 3,
                    weights: vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
                },
            ],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let s = m.sample(&mut rng, 8);
        #[allow(clippy::needless_range_loop)]
        for i in 0..8 {
            assert!((s[0][i] - 0.2).abs() < 1e-8);
            assert_eq!(s[1][i], 2.0);
            assert_eq!(s[2][i], 1.0);
        }
        let off = vec![vec![0.5, 0.2], vec![3.0, 2.0], vec![1.0, 0.0]];
        let lp = m.log_pdf(&off);
        assert!(lp.iter().all(|v| !v.is_nan()));
        assert!(lp[0] < -100.0 && lp[1] < -100.0, "{lp:?}");
    }
}
