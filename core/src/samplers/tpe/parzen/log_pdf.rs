//! The mixture's log density: per sample, a cheap upper bound of every component's log
//! density first, then exact terms only for the components within [`SKIP_NATS`] of the best
//! (with memoised truncated-normal masses); and the full sum it equals.

use super::{Kernel, Mixture};
use crate::samplers::tpe::truncnorm;

impl Mixture {
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
        let arch = pulp::Arch::new();
        for i in 0..n {
            arch.dispatch(Bounds {
                i,
                ub,
                log_w_bound,
                dims: &mut dims,
            });
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
                    mu, sigma, step, ..
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
                            let v = kernel.to_working(*xi);
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
                            let left = kernel.to_working(xv - step / 2.0);
                            let right = kernel.to_working(xv + step / 2.0);
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

/// Upper bounds of every component's log density at sample `i`, into `ub`: run under
/// [`pulp::Arch::dispatch`], so that the loops vectorise with the CPU's widest SIMD (the
/// same operations in the same order: the same bits on every CPU).
struct Bounds<'s, 'd, 'k> {
    i: usize,
    ub: &'s mut [f64],
    log_w_bound: &'s [f64],
    dims: &'d mut [DimEval<'k>],
}

impl pulp::WithSimd for Bounds<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        self.ub.copy_from_slice(self.log_w_bound);
        for d in self.dims.iter_mut() {
            d.add_bounds(self.i, self.ub);
        }
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
                mu, sigma, step, ..
            } => {
                (d.alow, d.ahigh) = kernel.adapted_bounds();
                let b = &mut d.buf;
                b.v.extend(x.iter().map(|xi| kernel.to_working(*xi)));
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
                        (kernel.to_working(l), kernel.to_working(r))
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
    #[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::tpe::parzen::{ParzenParams, default_weights};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
}
