//! The Parzen estimator of TPE: a mixture of product kernels, one component per observation
//! plus the prior, built as Optuna 5.0's `_ParzenEstimator` builds it (spec §4–5).

use rand::{Rng, RngExt};

use super::truncnorm;
use crate::distributions::Distribution;

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
#[derive(Clone, Debug)]
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
}

/// A mixture of product distributions over the dimensions of a search space.
#[derive(Clone, Debug)]
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
    /// [`stable_order`] gives them), which saves sorting them again.
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
            if let Kernel::Numerical {
                mu,
                sigma,
                low,
                high,
                step,
                log,
            } = kernel
            {
                let (alow, ahigh) = kernel.adapted_bounds();
                // Per component, the part of the inverse CDF that does not depend on q.
                let mut setups: Vec<Option<truncnorm::PpfSetup>> = vec![None; mu.len()];
                for (i, &k) in active.iter().enumerate() {
                    let q: f64 = rng.random();
                    let (m, s) = (mu[k], sigma[k]);
                    let (a, b) = ((alow - m) / s, (ahigh - m) / s);
                    let setup = *setups[k].get_or_insert_with(|| truncnorm::PpfSetup::new(a, b));
                    let z = truncnorm::ppf_with(q, a, b, &setup);
                    let mut x = z * s + m;
                    if *log {
                        x = libm::exp(x);
                    }
                    if *step > 0.0 {
                        let r = ((x - low) / step).round_ties_even();
                        x = (low + r * step).clamp(*low, *high);
                    } else {
                        x = x.clamp(*low, *high);
                    }
                    out[d][i] = x;
                }
            }
        }
        out
    }

    /// log density of each joint sample (`x[d][i]`, internal values) under the mixture.
    ///
    /// Equal to [`Mixture::log_pdf_reference`] up to the last bits: per sample, a cheap upper
    /// bound of every component's log density is computed first, and components whose bound
    /// lies more than [`SKIP_NATS`] below the best exact one are skipped. They contribute
    /// less than `K·e^-64` of the total, far below f64 resolution; the expensive truncated
    /// normal masses are computed only for the components that matter.
    pub fn log_pdf(&self, x: &[Vec<f64>]) -> Vec<f64> {
        self.log_pdf_with(x, &mut LogPdfScratch::default())
    }

    /// [`Mixture::log_pdf`] with working buffers kept by the caller between calls.
    pub fn log_pdf_with(&self, x: &[Vec<f64>], scratch: &mut LogPdfScratch) -> Vec<f64> {
        let n = x.first().map_or(0, Vec::len);
        let kc = self.weights.len();
        let LogPdfScratch {
            log_w,
            log_w_bound,
            ub,
            terms,
            dims: buffers,
        } = scratch;
        // The bounds start from a cheap upper bound of ln w; the exact logarithm is taken
        // only for the components evaluated exactly (NaN: not yet).
        log_w.clear();
        log_w.resize(kc, f64::NAN);
        log_w_bound.clear();
        log_w_bound.extend(self.weights.iter().map(|w| ln_upper_bound(*w)));
        buffers.resize_with(self.kernels.len().max(buffers.len()), DimBuffers::default);
        let mut dims: Vec<DimEval<'_>> = self
            .kernels
            .iter()
            .zip(x)
            .zip(buffers.iter_mut())
            .map(|((k, xd), buf)| DimEval::new(k, xd, kc, std::mem::take(buf)))
            .collect();
        let mut out = Vec::with_capacity(n);
        ub.clear();
        ub.resize(kc, 0.0);
        for i in 0..n {
            ub.copy_from_slice(log_w_bound);
            for d in &mut dims {
                d.add_bounds(i, ub);
            }
            let kstar = first_max(ub);
            let weights = &self.weights;
            let mut exact_of = |k: usize, dims: &mut Vec<DimEval<'_>>| -> f64 {
                if log_w[k].is_nan() {
                    log_w[k] = libm::log(weights[k]);
                }
                let mut v = log_w[k];
                for d in dims.iter_mut() {
                    v += d.exact(i, k);
                    if v == f64::NEG_INFINITY {
                        break;
                    }
                }
                v
            };
            let vstar = exact_of(kstar, &mut dims);
            let threshold = vstar - SKIP_NATS;
            // The log densities of the components evaluated exactly, in order.
            terms.clear();
            let mut max = f64::NEG_INFINITY;
            // Components at or above the threshold, or with a NaN bound; whole chunks
            // without one are skipped at once.
            const CHUNK: usize = 8;
            for (c, chunk) in ub.chunks(CHUNK).enumerate() {
                let base = c * CHUNK;
                // `u >= threshold || u.is_nan()` is "not less" when the threshold is a
                // number; a NaN threshold keeps only NaN bounds, tested one by one. Full
                // chunks are tested as fixed-size arrays (the test vectorises).
                let not_less = |any: bool, u: &f64| any | (*u >= threshold) | u.is_nan();
                let any = threshold.is_nan()
                    || (base..base + chunk.len()).contains(&kstar)
                    || match <&[f64; CHUNK]>::try_from(chunk) {
                        Ok(full) => full.iter().fold(false, not_less),
                        Err(_) => chunk.iter().fold(false, not_less),
                    };
                if !any {
                    continue;
                }
                for (j, u) in chunk.iter().enumerate() {
                    let k = base + j;
                    let v = if k == kstar {
                        vstar
                    } else if *u >= threshold || u.is_nan() {
                        exact_of(k, &mut dims)
                    } else {
                        continue;
                    };
                    // A skipped or -inf component adds exactly 0 to the sum below.
                    if v != f64::NEG_INFINITY {
                        terms.push(v);
                    }
                    if v > max {
                        max = v;
                    }
                }
            }
            let m = if max == f64::NEG_INFINITY { 0.0 } else { max };
            let s: f64 = terms.iter().map(|v| libm::exp(v - m)).sum();
            out.push(libm::log(s) + m);
        }
        for (buf, d) in buffers.iter_mut().zip(dims) {
            *buf = d.buf;
        }
        out
    }

    /// log density of each joint sample, evaluating every component of every sample (the
    /// straightforward form of Optuna's `log_pdf`; [`Mixture::log_pdf`] is the fast one).
    pub fn log_pdf_reference(&self, x: &[Vec<f64>]) -> Vec<f64> {
        let n = x.first().map_or(0, Vec::len);
        let k_count = self.weights.len();
        // acc[i * K + k] = Σ_d log kernel_{k,d}(x_i)
        let mut acc = vec![0.0f64; n * k_count];
        for (d, kernel) in self.kernels.iter().enumerate() {
            let xd = &x[d];
            match kernel {
                Kernel::Categorical { n_choices, weights } => {
                    let logw: Vec<f64> = weights.iter().map(|w| libm::log(*w)).collect();
                    for (i, xi) in xd.iter().enumerate() {
                        let c = (*xi as usize).min(n_choices - 1);
                        let row = &mut acc[i * k_count..(i + 1) * k_count];
                        for (k, slot) in row.iter_mut().enumerate() {
                            *slot += logw[k * n_choices + c];
                        }
                    }
                }
                Kernel::Numerical {
                    mu,
                    sigma,
                    step,
                    log,
                    ..
                } => {
                    let (alow, ahigh) = kernel.adapted_bounds();
                    // Per component: the normaliser of its truncated normal.
                    let norm: Vec<f64> = mu
                        .iter()
                        .zip(sigma)
                        .map(|(m, s)| truncnorm::log_gauss_mass((alow - m) / s, (ahigh - m) / s))
                        .collect();
                    if *step == 0.0 {
                        let consts: Vec<f64> = norm
                            .iter()
                            .zip(sigma)
                            .map(|(lm, s)| -lm - libm::log(*s) - truncnorm::LN_SQRT_2PI)
                            .collect();
                        let a: Vec<f64> =
                            mu.iter().zip(sigma).map(|(m, s)| (alow - m) / s).collect();
                        let b: Vec<f64> =
                            mu.iter().zip(sigma).map(|(m, s)| (ahigh - m) / s).collect();
                        for (i, xi) in xd.iter().enumerate() {
                            let v = if *log { libm::log(*xi) } else { *xi };
                            let row = &mut acc[i * k_count..(i + 1) * k_count];
                            for k in 0..k_count {
                                let z = (v - mu[k]) / sigma[k];
                                row[k] += if z < a[k] || z > b[k] {
                                    f64::NEG_INFINITY
                                } else {
                                    -0.5 * z * z + consts[k]
                                };
                            }
                        }
                    } else {
                        // Discrete: the mass of the grid cell, evaluated once per unique value.
                        let mut uniq: Vec<f64> = xd.clone();
                        uniq.sort_by(f64::total_cmp);
                        uniq.dedup();
                        let mut cell = vec![0.0f64; uniq.len() * k_count];
                        for (u, xv) in uniq.iter().enumerate() {
                            let (mut left, mut right) = (xv - step / 2.0, xv + step / 2.0);
                            if *log {
                                left = libm::log(left);
                                right = libm::log(right);
                            }
                            for k in 0..k_count {
                                cell[u * k_count + k] = truncnorm::log_gauss_mass(
                                    (left - mu[k]) / sigma[k],
                                    (right - mu[k]) / sigma[k],
                                ) - norm[k];
                            }
                        }
                        for (i, xi) in xd.iter().enumerate() {
                            let u = uniq.partition_point(|v| v.total_cmp(xi).is_lt());
                            let row = &mut acc[i * k_count..(i + 1) * k_count];
                            for (slot, c) in row.iter_mut().zip(&cell[u * k_count..]) {
                                *slot += c;
                            }
                        }
                    }
                }
            }
        }
        let logw: Vec<f64> = self.weights.iter().map(|w| libm::log(*w)).collect();
        (0..n)
            .map(|i| {
                let row = &mut acc[i * k_count..(i + 1) * k_count];
                let mut max = f64::NEG_INFINITY;
                for (slot, lw) in row.iter_mut().zip(&logw) {
                    *slot += lw;
                    if *slot > max {
                        max = *slot;
                    }
                }
                if max == f64::NEG_INFINITY {
                    max = 0.0;
                }
                let s: f64 = row.iter().map(|v| libm::exp(v - max)).sum();
                libm::log(s) + max
            })
            .collect()
    }
}

/// The index of the first maximum of `v`, ignoring NaNs; 0 if no value is above -inf.
fn first_max(v: &[f64]) -> usize {
    // The maximum first, in independent lanes (f64::max ignores NaN like `>` does), then
    // its first position: the same index as one pass keeping the first strict maximum.
    const LANES: usize = 4;
    let mut lanes = [f64::NEG_INFINITY; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, x) in lanes.iter_mut().zip(c) {
            *m = m.max(*x);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f64::NEG_INFINITY, |m, x| m.max(*x));
    let max = lanes.iter().fold(tail, |m, x| m.max(*x));
    if max == f64::NEG_INFINITY {
        return 0;
    }
    // Its first position: whole chunks are tested at once (a branch-free fold that
    // vectorises), then the first chunk holding it is searched.
    const CHUNK: usize = 16;
    v.chunks(CHUNK)
        .position(|c| c.iter().fold(false, |hit, x| hit | (*x == max)))
        .and_then(|i| {
            let c = &v[i * CHUNK..];
            c.iter().position(|x| *x == max).map(|j| i * CHUNK + j)
        })
        .unwrap_or(0)
}

/// An upper bound of `ln x` without a logarithm, for the bounds of [`Mixture::log_pdf`]:
/// with `x = 2^e · m`, `m ∈ [1, 2)`, `ln x = e ln 2 + ln m ≤ e ln 2 + (m - 1)` (at most
/// 0.31 above). Zero gives -inf; subnormal, infinite and NaN inputs take `ln` itself.
fn ln_upper_bound(x: f64) -> f64 {
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if !x.is_normal() || x < 0.0 {
        return libm::log(x);
    }
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    e as f64 * std::f64::consts::LN_2 + (m - 1.0)
}

/// Components more than this many nats below the best one are skipped by
/// [`Mixture::log_pdf`] (e^-64 ≈ 1.6e-28 of the largest term).
pub const SKIP_NATS: f64 = 64.0;

/// -ln(Φ(0.5) - 0.5): an upper bound on -ln(mass of the working interval) for a component
/// whose centre lies inside it (its bandwidth is at most the interval's length).
const INSIDE_MASS_BOUND: f64 = 1.654;

/// Working buffers of [`Mixture::log_pdf_with`], kept between calls so that the evaluation
/// does not allocate (and fault in) fresh memory every time.
#[derive(Clone, Debug, Default)]
pub struct LogPdfScratch {
    log_w: Vec<f64>,
    log_w_bound: Vec<f64>,
    ub: Vec<f64>,
    terms: Vec<f64>,
    dims: Vec<DimBuffers>,
}

/// The buffers of one [`DimEval`].
#[derive(Clone, Debug, Default)]
struct DimBuffers {
    /// Categorical: per choice, the log probability of every component (empty: not yet).
    cat_cols: Vec<Vec<f64>>,
    /// Numerical: working-space value of each sample.
    v: Vec<f64>,
    /// Numerical: 1 / σ per component.
    inv_sigma: Vec<f64>,
    /// Numerical: memoised (ln σ, -ln mass of the working interval) per component (NaN:
    /// not computed yet).
    memo: Vec<(f64, f64)>,
    /// Numerical: the bound of -ln(mass) per component, when some centre lies outside the
    /// working interval (empty: all inside, the bound is [`INSIDE_MASS_BOUND`]).
    neg_norm_bound: Vec<f64>,
    /// Continuous: the bound constant -ln min σ - ln √(2π) + bound of -ln(mass), per
    /// component where `neg_norm_bound` is not empty.
    cont_const: Vec<f64>,
    /// Discrete: the sorted unique sample values, each sample's index into them, and the
    /// working-space cell of each unique value.
    uniq: Vec<f64>,
    which: Vec<usize>,
    cells: Vec<(f64, f64)>,
    /// Numerical: memoised `log_gauss_mass(a, b)`, direct-mapped by the bits of (a, b).
    /// Components often share a centre and bandwidth (repeated values of a discrete
    /// parameter, clipped bandwidths), and so the same standardised cells and ranges.
    mass_memo: Vec<MassMemo>,
}

/// One slot of the log-mass memo (empty while `value` is NaN).
#[derive(Clone, Copy, Debug)]
struct MassMemo {
    a: u64,
    b: u64,
    value: f64,
}

const EMPTY_MASS: MassMemo = MassMemo {
    a: 0,
    b: 0,
    value: f64::NAN,
};

/// Slots of the log-mass memo (a power of two).
const MASS_MEMO_BITS: u32 = 10;

/// One dimension of [`Mixture::log_pdf`]: per-component constants, memoised exact terms,
/// and cheap upper bounds.
struct DimEval<'a> {
    kernel: &'a Kernel,
    x: &'a [f64],
    /// Numerical: the adapted working-space bounds, and -ln min σ.
    alow: f64,
    ahigh: f64,
    neg_ln_min_sigma: f64,
    buf: DimBuffers,
}

impl<'a> DimEval<'a> {
    fn new(kernel: &'a Kernel, x: &'a [f64], kc: usize, mut buf: DimBuffers) -> Self {
        buf.v.clear();
        buf.inv_sigma.clear();
        buf.memo.clear();
        buf.neg_norm_bound.clear();
        buf.cont_const.clear();
        buf.uniq.clear();
        buf.which.clear();
        buf.cells.clear();
        buf.mass_memo.clear();
        let mut d = DimEval {
            kernel,
            x,
            alow: 0.0,
            ahigh: 0.0,
            neg_ln_min_sigma: 0.0,
            buf,
        };
        match kernel {
            Kernel::Categorical { n_choices, .. } => {
                d.buf.cat_cols.resize_with(*n_choices, Vec::new);
                for col in &mut d.buf.cat_cols {
                    col.clear();
                }
            }
            Kernel::Numerical {
                mu,
                sigma,
                step,
                log,
                ..
            } => {
                (d.alow, d.ahigh) = kernel.adapted_bounds();
                let b = &mut d.buf;
                b.v.extend(x.iter().map(|xi| if *log { libm::log(*xi) } else { *xi }));
                b.inv_sigma.extend(sigma.iter().map(|s| 1.0 / s));
                // For the bounds, -ln σ_k <= -ln min σ (ln σ itself is computed on demand).
                let min_sigma = sigma.iter().copied().fold(f64::INFINITY, f64::min);
                d.neg_ln_min_sigma = -libm::log(min_sigma);
                b.memo.resize(kc, (f64::NAN, f64::NAN));
                b.mass_memo.resize(1 << MASS_MEMO_BITS, EMPTY_MASS);
                let (alow, ahigh) = (d.alow, d.ahigh);
                if !mu.iter().all(|m| *m >= alow && *m <= ahigh) {
                    // Rare: a centre outside the range (e.g. after a range change).
                    for (k, m) in mu.iter().enumerate() {
                        let nb = if *m >= alow && *m <= ahigh {
                            INSIDE_MASS_BOUND
                        } else {
                            d.neg_norm(k)
                        };
                        d.buf.neg_norm_bound.push(nb);
                    }
                }
                let b = &mut d.buf;
                if *step > 0.0 {
                    b.uniq.extend_from_slice(x);
                    b.uniq.sort_by(f64::total_cmp);
                    b.uniq.dedup();
                    let uniq = &b.uniq;
                    b.which.extend(
                        x.iter()
                            .map(|xi| uniq.partition_point(|v| v.total_cmp(xi).is_lt())),
                    );
                    b.cells.extend(uniq.iter().map(|xv| {
                        let (l, r) = (xv - step / 2.0, xv + step / 2.0);
                        if *log {
                            (libm::log(l), libm::log(r))
                        } else {
                            (l, r)
                        }
                    }));
                } else if !b.neg_norm_bound.is_empty() {
                    let c = d.neg_ln_min_sigma - truncnorm::LN_SQRT_2PI;
                    b.cont_const
                        .extend(b.neg_norm_bound.iter().map(|nb| c + nb));
                }
            }
        }
        d
    }

    /// The standardised working bounds of component `k`.
    fn standard_bounds(&self, k: usize) -> (f64, f64) {
        match self.kernel {
            Kernel::Numerical { mu, sigma, .. } => (
                (self.alow - mu[k]) / sigma[k],
                (self.ahigh - mu[k]) / sigma[k],
            ),
            Kernel::Categorical { .. } => (0.0, 0.0),
        }
    }

    fn ln_sigma(&mut self, k: usize) -> f64 {
        if self.buf.memo[k].0.is_nan()
            && let Kernel::Numerical { sigma, .. } = self.kernel
        {
            self.buf.memo[k].0 = libm::log(sigma[k]);
        }
        self.buf.memo[k].0
    }

    fn neg_norm(&mut self, k: usize) -> f64 {
        if self.buf.memo[k].1.is_nan() {
            let (a, b) = self.standard_bounds(k);
            self.buf.memo[k].1 = -self.log_mass(a, b);
        }
        self.buf.memo[k].1
    }

    /// The log probabilities of choice `c` under every component.
    fn cat_column(&mut self, c: usize) -> &[f64] {
        if let Kernel::Categorical { n_choices, weights } = self.kernel
            && self.buf.cat_cols[c].is_empty()
        {
            log_column(weights, *n_choices, c, &mut self.buf.cat_cols[c]);
        }
        &self.buf.cat_cols[c]
    }

    /// `truncnorm::log_gauss_mass(a, b)`, memoised by the bits of its arguments (a pure
    /// function, so the memo changes no value).
    fn log_mass(&mut self, a: f64, b: f64) -> f64 {
        let (ab, bb) = (a.to_bits(), b.to_bits());
        let hash = (ab ^ bb.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (hash >> (64 - MASS_MEMO_BITS)) as usize;
        let m = self.buf.mass_memo[slot];
        if m.a == ab && m.b == bb && !m.value.is_nan() {
            return m.value;
        }
        let value = truncnorm::log_gauss_mass(a, b);
        self.buf.mass_memo[slot] = MassMemo {
            a: ab,
            b: bb,
            value,
        };
        value
    }

    /// The log mass of sample `i`'s grid cell under component `k` (discrete dimensions).
    fn cell_log_mass(&mut self, i: usize, k: usize) -> f64 {
        match self.kernel {
            Kernel::Numerical { mu, sigma, .. } => {
                let (l, r) = self.buf.cells[self.buf.which[i]];
                self.log_mass((l - mu[k]) / sigma[k], (r - mu[k]) / sigma[k])
            }
            Kernel::Categorical { .. } => f64::NAN,
        }
    }

    /// Adds an upper bound of this dimension's log kernel to `ub[k]` for sample `i`.
    fn add_bounds(&mut self, i: usize, ub: &mut [f64]) {
        match self.kernel {
            Kernel::Categorical { n_choices, .. } => {
                let c = (self.x[i] as usize).min(n_choices - 1);
                for (slot, l) in ub.iter_mut().zip(self.cat_column(c)) {
                    *slot += l;
                }
            }
            Kernel::Numerical { mu, step, .. } => {
                let b = &self.buf;
                // The bounds ignore truncation (a point outside is -inf exactly later).
                if *step == 0.0 {
                    let v = b.v[i];
                    let per_k = mu.iter().zip(&b.inv_sigma);
                    if b.cont_const.is_empty() {
                        let c = self.neg_ln_min_sigma - truncnorm::LN_SQRT_2PI + INSIDE_MASS_BOUND;
                        for (slot, (m, inv_s)) in ub.iter_mut().zip(per_k) {
                            let z = (v - m) * inv_s;
                            *slot += -0.5 * z * z + c;
                        }
                    } else {
                        for (slot, ((m, inv_s), c)) in ub.iter_mut().zip(per_k.zip(&b.cont_const)) {
                            let z = (v - m) * inv_s;
                            *slot += -0.5 * z * z + c;
                        }
                    }
                } else {
                    let (l, r) = b.cells[b.which[i]];
                    // ln(b - a) = ln(r - l) - ln σ <= ln(r - l) - ln min σ.
                    let ln_width = libm::log(r - l) + self.neg_ln_min_sigma;
                    // mass([a, b]) <= min(1, (b - a) φ(c)), c the point of [a, b] nearest 0:
                    // a if a > 0, else b if b < 0, else 0. As max/min (a <= b since σ > 0)
                    // the loop vectorises; NaN bounds give the same c, and ±0 the same φ.
                    let bound = |m: f64, inv_s: f64| {
                        let a = (l - m) * inv_s;
                        let b = (r - m) * inv_s;
                        let c = a.max(0.0).min(b);
                        (ln_width + truncnorm::norm_logpdf(c)).min(0.0)
                    };
                    let per_k = mu.iter().zip(&b.inv_sigma);
                    if b.neg_norm_bound.is_empty() {
                        for (slot, (m, inv_s)) in ub.iter_mut().zip(per_k) {
                            *slot += bound(*m, *inv_s) + INSIDE_MASS_BOUND;
                        }
                    } else {
                        let per_k = per_k.zip(&b.neg_norm_bound);
                        for (slot, ((m, inv_s), nb)) in ub.iter_mut().zip(per_k) {
                            *slot += bound(*m, *inv_s) + nb;
                        }
                    }
                }
            }
        }
    }

    /// The exact log kernel of component `k` at sample `i`.
    fn exact(&mut self, i: usize, k: usize) -> f64 {
        match self.kernel {
            Kernel::Categorical { n_choices, .. } => {
                let c = (self.x[i] as usize).min(n_choices - 1);
                self.cat_column(c)[k]
            }
            Kernel::Numerical {
                mu, sigma, step, ..
            } => {
                if *step == 0.0 {
                    let z = (self.buf.v[i] - mu[k]) / sigma[k];
                    let (a, b) = self.standard_bounds(k);
                    if z < a || z > b {
                        f64::NEG_INFINITY
                    } else {
                        -0.5 * z * z - self.ln_sigma(k) - truncnorm::LN_SQRT_2PI + self.neg_norm(k)
                    }
                } else {
                    self.cell_log_mass(i, k) + self.neg_norm(k)
                }
            }
        }
    }
}

/// `ln P(choice c | component k)` for every component `k` of a categorical kernel, into
/// `out`.
///
/// The rows hold only a few distinct probabilities (the observed choice's and the others',
/// per observed choice, and the prior's), so the logarithms are memoised by the bits of
/// their argument; `log` is a pure function, so the values are the same as computing each.
fn log_column(weights: &[f64], n_choices: usize, c: usize, out: &mut Vec<f64>) {
    const MEMO: usize = 16;
    let mut memo: [(u64, f64); MEMO] = [(0, 0.0); MEMO];
    let mut len = 0;
    out.clear();
    out.extend(weights.iter().skip(c).step_by(n_choices).map(|w| {
        let bits = w.to_bits();
        if let Some((_, l)) = memo[..len].iter().find(|(b, _)| *b == bits) {
            return *l;
        }
        let l = libm::log(*w);
        if len < MEMO {
            memo[len] = (bits, l);
            len += 1;
        }
        l
    }));
}

/// Builds one dimension's kernels into `buffers` (two empty vectors, reused).
fn build_kernel(
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
    Kernel::Numerical {
        mu,
        sigma,
        low,
        high,
        step,
        log,
    }
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

/// The per-dimension neighbour rule of Optuna 5 (spec §4.2).
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
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn p(clip: bool, endpoints: bool) -> ParzenParams {
        ParzenParams {
            prior_weight: 1.0,
            consider_magic_clip: clip,
            consider_endpoints: endpoints,
        }
    }

    fn numerical(k: &Kernel) -> (&[f64], &[f64]) {
        match k {
            Kernel::Numerical { mu, sigma, .. } => (mu, sigma),
            Kernel::Categorical { .. } => panic!("numerical expected"),
        }
    }

    fn assert_close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }

    // The bandwidth cases of Optuna's test_parzen_estimator.py (spec §4.2).
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

    // The full 7-parameter example of spec §12.6: one observation at 1 (index 1).
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
    fn fast_log_pdf_equals_the_full_sum() {
        use crate::distributions::Distribution;
        let dists = [
            Distribution::float(-5.0, 5.0),
            Distribution::float_log(1e-4, 1.0),
            Distribution::int(0, 100),
            Distribution::int_log(1, 64),
            Distribution::float_step(-2.0, 2.0, 0.25),
            Distribution::categorical(["a", "b", "c", "d"]),
        ];
        let refs: Vec<&Distribution> = dists.iter().collect();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for n in [0usize, 1, 7, 40, 400] {
            let obs: Vec<Vec<f64>> = dists
                .iter()
                .map(|d| {
                    (0..n)
                        .map(|_| crate::samplers::RandomSampler::draw(&mut rng, d))
                        .collect()
                })
                .collect();
            for clip in [true, false] {
                let params = ParzenParams {
                    prior_weight: 1.0,
                    consider_magic_clip: clip,
                    consider_endpoints: false,
                };
                let m = Mixture::build(&obs, &refs, &default_weights(n), &params).unwrap();
                let x = m.sample(&mut rng, 24);
                let fast = m.log_pdf(&x);
                let full = m.log_pdf_reference(&x);
                for (a, b) in fast.iter().zip(&full) {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        "n={n} {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn ln_upper_bound_bounds_ln_within_a_third_of_a_nat() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..10_000 {
            let x = libm::exp(rng.random_range(-700.0..700.0));
            let (ub, ln) = (ln_upper_bound(x), libm::log(x));
            assert!(ub >= ln && ub - ln <= 0.31, "{x}: {ub} vs {ln}");
        }
        assert_eq!(ln_upper_bound(0.0), f64::NEG_INFINITY);
        assert_eq!(ln_upper_bound(1.0), 0.0);
        assert_eq!(ln_upper_bound(f64::INFINITY), f64::INFINITY);
        assert!(ln_upper_bound(f64::NAN).is_nan());
        assert_eq!(ln_upper_bound(5e-324), libm::log(5e-324));
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

    // Spec §12.7: mixture of (trunc-norm, discrete trunc-norm, categorical).
    #[test]
    fn mixture_sampling_shape_bounds_and_seed() {
        let m = Mixture {
            weights: vec![0.3, 0.7],
            kernels: vec![
                Kernel::Numerical {
                    mu: vec![0.0, 0.5],
                    sigma: vec![1.0, 0.2],
                    low: -1.0,
                    high: 1.0,
                    step: 0.0,
                    log: false,
                },
                Kernel::Numerical {
                    mu: vec![1.0, 3.0],
                    sigma: vec![2.0, 1.0],
                    low: 0.0,
                    high: 4.0,
                    step: 0.5,
                    log: false,
                },
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

    // Spec §12.7: weights [1, 0] with sigma 1e-10 sample the mode; elsewhere log pdf < -100.
    #[test]
    fn extreme_bandwidth_gives_mode_and_no_nan() {
        let m = Mixture {
            weights: vec![1.0, 0.0],
            kernels: vec![
                Kernel::Numerical {
                    mu: vec![0.2, 0.7],
                    sigma: vec![1e-10, 1e-10],
                    low: 0.0,
                    high: 1.0,
                    step: 0.0,
                    log: false,
                },
                Kernel::Numerical {
                    mu: vec![2.0, 4.0],
                    sigma: vec![1e-10, 1e-10],
                    low: 0.0,
                    high: 5.0,
                    step: 1.0,
                    log: false,
                },
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
