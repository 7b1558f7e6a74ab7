//! One dimension's kernels: categorical rows, or truncated normals whose bandwidths follow
//! Optuna 5's neighbour rule, in the working space (log space for log parameters).

use super::{Kernel, ParzenParams};
use crate::distributions::Distribution;

/// Builds one dimension's kernels into `buffers` (two empty vectors, reused).
pub(super) fn build_kernel(
    obs: &[f64],
    dist: &Distribution,
    params: &ParzenParams,
    order: Option<&[usize]>,
    buffers: (Vec<f64>, Vec<f64>),
) -> Kernel {
    let (mut a, b) = buffers;
    match dist {
        Distribution::Categorical(c) => {
            let n_choices = c.choices.len();
            if obs.is_empty() {
                a.resize(n_choices, 1.0 / n_choices as f64);
                return Kernel::Categorical {
                    n_choices,
                    weights: a,
                };
            }
            let n_kernels = obs.len() + 1;
            let fill = params.prior_weight / n_kernels as f64;
            let mut weights = a;
            weights.resize(n_kernels * n_choices, fill);
            for (k, o) in obs.iter().enumerate() {
                let c = (*o as usize).min(n_choices - 1);
                weights[k * n_choices + c] += 1.0;
            }
            for row in weights.chunks_mut(n_choices) {
                let s: f64 = row.iter().sum();
                let s = if s == 0.0 { 1.0 } else { s };
                for v in row {
                    *v /= s;
                }
            }
            Kernel::Categorical { n_choices, weights }
        }
        Distribution::Float(f) => numerical_kernel(
            obs,
            (f.low, f.high, f.step.unwrap_or(0.0), f.log),
            params,
            order,
            (a, b),
        ),
        Distribution::Int(i) => numerical_kernel(
            obs,
            (i.low as f64, i.high as f64, i.step as f64, i.log),
            params,
            order,
            (a, b),
        ),
    }
}

/// A numerical dimension's kernels; `(low, high, step, log)` describe its distribution.
fn numerical_kernel(
    obs: &[f64],
    (low, high, step, log): (f64, f64, f64, bool),
    params: &ParzenParams,
    order: Option<&[usize]>,
    (mut mu, mut sigma): (Vec<f64>, Vec<f64>),
) -> Kernel {
    let (mut wl, mut wh) = (low - step / 2.0, high + step / 2.0);
    // Room for the prior component, pushed last.
    mu.reserve(obs.len() + 1);
    mu.extend_from_slice(obs);
    if log {
        wl = libm::log(wl);
        wh = libm::log(wh);
        for m in &mut mu {
            *m = libm::log(*m);
        }
    }
    match order {
        Some(order) if order.len() == mu.len() => {
            bandwidths_into(&mu, order, wl, wh, params, &mut sigma)
        }
        _ => bandwidths_into(&mu, &stable_order(&mu), wl, wh, params, &mut sigma),
    }
    mu.push(0.5 * (wl + wh));
    sigma.push(wh - wl);
    Kernel::numerical(mu, sigma, (low, high), step, log)
}

/// The value a numerical kernel works with for an internal value: its logarithm for log
/// parameters, itself otherwise; `None` for categorical parameters.
pub(crate) fn working_value(dist: &Distribution, internal: f64) -> Option<f64> {
    match dist {
        Distribution::Categorical(_) => None,
        Distribution::Float(f) if f.log => Some(libm::log(internal)),
        Distribution::Int(i) if i.log => Some(libm::log(internal)),
        _ => Some(internal),
    }
}

/// A `u64` whose unsigned order is `f64::total_cmp`'s order of `x`.
pub(crate) fn total_order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The indices of `values` in ascending `total_cmp` order, ties in index order (what a stable
/// sort of the indices gives), by sorting `(key, index)` integers.
pub(crate) fn stable_order(values: &[f64]) -> Vec<usize> {
    let mut keyed: Vec<u128> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (u128::from(total_order_key(*v)) << 64) | i as u128)
        .collect();
    keyed.sort_unstable();
    keyed
        .iter()
        .map(|k| (k & u128::from(u64::MAX)) as usize)
        .collect()
}

/// The per-dimension neighbour rule of Optuna 5 (`optuna/samplers/_tpe/parzen_estimator.py`).
pub fn bandwidths(mus: &[f64], low: f64, high: f64, params: &ParzenParams) -> Vec<f64> {
    let mut sigmas = Vec::new();
    bandwidths_into(mus, &stable_order(mus), low, high, params, &mut sigmas);
    sigmas
}

/// [`bandwidths`] into `sigmas` (emptied first), given `order`, the [`stable_order`] of
/// `mus`; `sigmas` gets room for one more (the prior's).
fn bandwidths_into(
    mus: &[f64],
    order: &[usize],
    low: f64,
    high: f64,
    params: &ParzenParams,
    sigmas: &mut Vec<f64>,
) {
    debug_assert_eq!(order, stable_order(mus).as_slice());
    sigmas.clear();
    let n = mus.len();
    if n == 0 {
        return;
    }
    let maxsigma = high - low;
    let minsigma = if params.consider_magic_clip {
        (high - low) / 100f64.min(1.0 + (n + 1) as f64)
    } else {
        1e-12
    };
    sigmas.reserve(n + 1);
    sigmas.resize(n, 0.0);
    // Walk [low, sorted mus.., high] with the observation `here` between its neighbours.
    let mut left = low;
    let mut here = mus[order[0]];
    for (j, &i) in order.iter().enumerate() {
        let right = order.get(j + 1).map_or(high, |&next| mus[next]);
        let sorted_sigma = if !params.consider_endpoints && n >= 2 && j == 0 {
            right - here
        } else if !params.consider_endpoints && n >= 2 && j == n - 1 {
            here - left
        } else {
            (here - left).max(right - here)
        };
        sigmas[i] = sorted_sigma.max(minsigma).min(maxsigma);
        left = here;
        here = right;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::tpe::parzen::tests::{assert_close, p};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    // The bandwidth cases of Optuna's tests/samplers_tests/tpe_tests/test_parzen_estimator.py.
    #[test]
    fn neighbour_rule_cases() {
        let s = bandwidths(&[-0.4, 0.4, 0.41, 0.42], -1.0, 1.0, &p(false, true));
        assert_close(&s, &[0.8, 0.8, 0.01, 0.58]);
        let s = bandwidths(&[-0.4, 0.4, 0.41, 0.42], -1.0, 1.0, &p(true, true));
        assert_close(&s, &[0.8, 0.8, 1.0 / 3.0, 0.58]);
        let s = bandwidths(&[-0.3, 0.3], -1.0, 1.0, &p(false, false));
        assert_close(&s, &[0.6, 0.6]);
        let s = bandwidths(&[-0.3, 0.3], -1.0, 1.0, &p(false, true));
        assert_close(&s, &[0.7, 0.7]);
        let s = bandwidths(&[0.4], -1.0, 1.0, &p(false, false));
        assert_close(&s, &[1.4]);
    }

    #[test]
    fn stable_order_is_a_stable_total_cmp_sort() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for n in [0usize, 1, 2, 17, 300] {
            let v: Vec<f64> = (0..n)
                .map(|_| match rng.random_range(0..4) {
                    0 => specials[rng.random_range(0..specials.len())],
                    1 => f64::from(rng.random_range(-3i32..3)),
                    _ => rng.random::<f64>() * 10.0 - 5.0,
                })
                .collect();
            let mut expected: Vec<usize> = (0..n).collect();
            expected.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
            assert_eq!(stable_order(&v), expected, "{v:?}");
        }
    }
}
