//! The truncated normal distribution as Optuna's `_truncnorm` computes it: a log-space
//! normal CDF with an asymptotic series in the far left tail, the log of the Gaussian mass
//! of an interval without catastrophic cancellation, and an inverse CDF by Newton iteration
//! on log Φ.
//!
//! All transcendental functions come from the `libm` crate, so results are bit-identical on
//! every platform (native and wasm32), which keeps seeded searches reproducible everywhere.

use libm::{erf, erfc, exp, expm1, log, log1p, sqrt};

/// ln √(2π).
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7; // ln(sqrt(2π))
const SQRT_3_OVER_PI: f64 = 0.551_328_895_421_792_1; // sqrt(3)/π
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// Φ(a) with the tails computed through erfc (Optuna's `_ndtr_single`).
fn ndtr_single(a: f64) -> f64 {
    let x = a * FRAC_1_SQRT_2;
    if x < -FRAC_1_SQRT_2 {
        0.5 * erfc(-x)
    } else if x < FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        1.0 - 0.5 * erfc(x)
    }
}

/// Φ(a) = 0.5 + 0.5 erf(a/√2) (Optuna's vectorised `_ndtr`).
pub fn ndtr(a: f64) -> f64 {
    0.5 + 0.5 * erf(a * FRAC_1_SQRT_2)
}

/// log Φ(a), accurate far into both tails.
pub fn log_ndtr(a: f64) -> f64 {
    if a > 6.0 {
        return -ndtr_single(-a);
    }
    if a > -20.0 {
        return log(ndtr_single(a));
    }
    // Asymptotic series for the far left tail.
    let log_lhs = -0.5 * a * a - log(-a) - LN_SQRT_2PI;
    let mut last_total: f64 = 0.0;
    let mut rhs: f64 = 1.0;
    let mut numerator = 1.0;
    let mut denom_factor = 1.0;
    let denom_cons = 1.0 / (a * a);
    let mut sign = 1.0;
    let mut i = 0.0;
    while (last_total - rhs).abs() > f64::EPSILON {
        i += 1.0;
        last_total = rhs;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2.0 * i - 1.0;
        rhs += sign * numerator * denom_factor;
    }
    log_lhs + log(rhs)
}

/// log φ(x) for the standard normal.
#[inline]
pub fn norm_logpdf(x: f64) -> f64 {
    -0.5 * x * x - LN_SQRT_2PI
}

fn log_sum(log_p: f64, log_q: f64) -> f64 {
    // numpy.logaddexp
    if log_p == log_q {
        return log_p + std::f64::consts::LN_2;
    }
    let m = log_p.max(log_q);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + log1p(exp(-(log_p - log_q).abs()))
}

fn log_diff(log_p: f64, log_q: f64) -> f64 {
    log_p + log1p(-exp(log_q - log_p))
}

/// log of the standard normal mass on [a, b].
pub fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if b <= 0.0 {
        log_diff(log_ndtr(b), log_ndtr(a))
    } else if a > 0.0 {
        log_diff(log_ndtr(-a), log_ndtr(-b))
    } else if a <= -9.0 && b >= 9.0 {
        // Both tails are below half an ulp of 1: erf(±9/√2) is ±1.0 exactly, so Φ(a) and
        // Φ(-b) are 0.0 and the line below gives log1p(-0.0) = -0.0. Skip the work.
        -0.0
    } else {
        log1p(-ndtr(a) - ndtr(-b))
    }
}

/// The x with log Φ(x) = y (Optuna's `_ndtri_exp`).
pub fn ndtri_exp(y: f64) -> f64 {
    let flipped = y > -1e-2;
    let z = if flipped { log(-expm1(y)) } else { y };
    let mut x = if z < -5.0 {
        -sqrt(-2.0 * (z + LN_SQRT_2PI))
    } else {
        -SQRT_3_OVER_PI * log(expm1(-z))
    };
    for _ in 0..100 {
        let log_ndtr_x = log_ndtr(x);
        let log_norm_pdf_x = -0.5 * x * x - LN_SQRT_2PI;
        let dx = (log_ndtr_x - z) * exp(log_ndtr_x - log_norm_pdf_x);
        x -= dx;
        if dx.abs() < 1e-8 * x.abs() {
            break;
        }
    }
    if flipped { -x } else { x }
}

/// The inverse CDF at `q` of the standard normal truncated to [a, b].
pub fn ppf(q: f64, a: f64, b: f64) -> f64 {
    ppf_with(q, a, b, &PpfSetup::new(a, b))
}

/// The part of [`ppf`] that depends only on the interval [a, b], to reuse for many `q`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PpfSetup {
    log_mass: f64,
    /// log Φ(a) when a < 0, log Φ(-b) otherwise.
    log_tail: f64,
}

impl PpfSetup {
    /// The setup for the interval [a, b].
    pub fn new(a: f64, b: f64) -> Self {
        PpfSetup {
            log_mass: log_gauss_mass(a, b),
            log_tail: if a < 0.0 { log_ndtr(a) } else { log_ndtr(-b) },
        }
    }
}

/// [`ppf`] with the interval's [`PpfSetup`] (the same value, bit for bit).
pub fn ppf_with(q: f64, a: f64, b: f64, setup: &PpfSetup) -> f64 {
    if a == b {
        return f64::NAN;
    }
    if q == 0.0 {
        return a;
    }
    if q == 1.0 {
        return b;
    }
    if a < 0.0 {
        let log_phi_x = log_sum(setup.log_tail, log(q) + setup.log_mass);
        ndtri_exp(log_phi_x)
    } else {
        let log_phi_x = log_sum(setup.log_tail, log1p(-q) + setup.log_mass);
        -ndtri_exp(log_phi_x)
    }
}

/// log density at `x` of N(loc, scale²) truncated to the standardised interval [a, b].
pub fn logpdf(x: f64, a: f64, b: f64, loc: f64, scale: f64) -> f64 {
    let z = (x - loc) / scale;
    if a == b {
        return f64::NAN;
    }
    if z < a || z > b {
        return f64::NEG_INFINITY;
    }
    norm_logpdf(z) - log_gauss_mass(a, b) - log(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rtol: f64) -> bool {
        (a - b).abs() <= rtol * b.abs().max(1e-300) || a == b
    }

    // Reference values from SciPy 1.17 (scipy.special.log_ndtr / ndtri_exp,
    // scipy.stats.truncnorm.ppf / logpdf), as Optuna's tests compare against.
    #[test]
    fn wide_intervals_take_the_short_cut_with_the_same_bits() {
        for (a, b) in [
            (-9.0, 9.0),
            (-9.5, 40.0),
            (-1e3, 9.0),
            (-f64::INFINITY, f64::INFINITY),
        ] {
            let full = log1p(-ndtr(a) - ndtr(-b));
            assert_eq!(log_gauss_mass(a, b).to_bits(), full.to_bits(), "[{a}, {b}]");
        }
        // Just inside the cut the tails still count.
        assert!(log_gauss_mass(-8.0, 8.0) < 0.0);
    }

    #[test]
    fn log_ndtr_matches_scipy() {
        let cases = [
            (0.0, -std::f64::consts::LN_2),
            (1.0, -0.172_753_779_023_449_9),
            (-1.0, -1.841_021_645_009_264_3),
            (-10.0, -53.231_285_150_512_48),
            (-30.0, -454.321_243_956_343_27),
            (10.0, -7.619_853_024_160_47e-24),
        ];
        for (a, want) in cases {
            assert!(
                close(log_ndtr(a), want, 1e-12),
                "log_ndtr({a}) = {}",
                log_ndtr(a)
            );
        }
    }

    #[test]
    fn ndtri_exp_inverts_log_ndtr() {
        for y in [
            -1e-300, -1e-20, -1e-5, -0.01, -0.5, -1.0, -10.0, -100.0, -1e4, -1e9,
        ] {
            let x = ndtri_exp(y);
            let back = log_ndtr(x);
            assert!(close(back, y, 1e-7), "y={y} x={x} back={back}");
        }
    }

    #[test]
    fn ppf_matches_scipy() {
        // scipy.stats.truncnorm.ppf(q, a, b)
        let cases = [
            (0.5, -1.0, 1.0, 0.0),
            (0.25, -1.0, 1.0, -0.441_770_546_686_581_44),
            (0.9, -10.0, 10.0, 1.281_551_565_544_600_4),
            (0.1, 10.0, 100.0, 10.010_428_370_091_844),
            (0.7, -100.0, -10.0, -10.035_260_039_598_791),
            (0.3, -1e-3, 1e-3, -3.999_999_439_999_28e-4),
        ];
        for (q, a, b, want) in cases {
            let got = ppf(q, a, b);
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "ppf({q},{a},{b}) = {got}, want {want}"
            );
        }
        assert!(ppf(0.3, 0.0, 0.0).is_nan());
        assert_eq!(ppf(0.0, -2.0, 3.0), -2.0);
        assert_eq!(ppf(1.0, -2.0, 3.0), 3.0);
        // Monotone and inside the bounds, including the tails of q.
        let mut prev = f64::NEG_INFINITY;
        for i in 1..1000 {
            let q = i as f64 / 1000.0;
            let x = ppf(q, -3.0, 0.5);
            assert!((-3.0..=0.5).contains(&x) && x > prev);
            prev = x;
        }
        let tiny = ppf(f64::MIN_POSITIVE, -1.0, 1.0);
        assert!((tiny + 1.0).abs() < 1e-12);
        let top = ppf(1.0 - f64::EPSILON, -1.0, 1.0);
        assert!((top - 1.0).abs() < 1e-12);
    }

    #[test]
    fn logpdf_matches_scipy() {
        // scipy.stats.truncnorm.logpdf(x, a, b, loc, scale) with a,b standardised.
        let want = -0.763_772_238_880_210_1; // x=0.3, a=-1, b=2, loc=0, scale=1
        assert!(close(logpdf(0.3, -1.0, 2.0, 0.0, 1.0), want, 1e-12));
        let want2 = -2.859_808_479_896_592_4; // x=12, a=-1, b=1, loc=10, scale=10
        assert!(close(logpdf(12.0, -1.0, 1.0, 10.0, 10.0), want2, 1e-12));
        assert_eq!(logpdf(2000.0, -1.0, 1.0, 0.0, 1.0), f64::NEG_INFINITY);
        assert_eq!(logpdf(-2000.0, -1.0, 1.0, 0.0, 1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn log_gauss_mass_matches_scipy() {
        // Optuna 5.0's `_truncnorm._log_gauss_mass`.
        let cases = [
            (-1.0, 1.0, -0.381_715_146_302_126_16),
            (1.0, 2.0, -1.995_798_269_180_755_4),
            (-2.0, -1.0, -1.995_798_269_180_755_4),
            (-40.0, -30.0, -454.321_243_956_343_15),
            (-1e-3, 1e-3, -7.133_546_798_293_504),
        ];
        for (a, b, want) in cases {
            let got = log_gauss_mass(a, b);
            assert!(close(got, want, 1e-9), "mass({a},{b}) = {got}, want {want}");
        }
    }
}
