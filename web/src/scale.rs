//! Axis scales, tick placement, smoothing and colour ramps for the charts. Pure functions,
//! tested natively.

/// A 1-D mapping from data to pixels, linear or logarithmic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Data minimum.
    pub lo: f64,
    /// Data maximum.
    pub hi: f64,
    /// Pixel at `lo`.
    pub p0: f64,
    /// Pixel at `hi`.
    pub p1: f64,
    /// Logarithmic (base 10).
    pub log: bool,
}

impl Scale {
    /// A scale over `values` (ignoring non-finite ones, and non-positive ones when `log`),
    /// padded by 8% of the span, so a dot at the lowest or highest value clears the axis.
    pub fn fit(values: impl IntoIterator<Item = f64>, p0: f64, p1: f64, log: bool) -> Scale {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for v in values {
            if !v.is_finite() || (log && v <= 0.0) {
                continue;
            }
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = if log { (0.1, 10.0) } else { (0.0, 1.0) };
        }
        Scale::range(lo, hi, p0, p1, log, 0.08)
    }

    /// A scale over `[lo, hi]` padded by `pad` (a fraction of the span).
    pub fn range(lo: f64, hi: f64, p0: f64, p1: f64, log: bool, pad: f64) -> Scale {
        let (mut a, mut b) = if log {
            (
                lo.max(f64::MIN_POSITIVE).log10(),
                hi.max(f64::MIN_POSITIVE).log10(),
            )
        } else {
            (lo, hi)
        };
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        if (b - a).abs() < 1e-12 {
            let d = if a.abs() > 1e-9 { a.abs() * 0.1 } else { 0.5 };
            a -= d;
            b += d;
        } else {
            let d = (b - a) * pad;
            a -= d;
            b += d;
        }
        let (lo, hi) = if log {
            (10f64.powf(a), 10f64.powf(b))
        } else {
            (a, b)
        };
        Scale {
            lo,
            hi,
            p0,
            p1,
            log,
        }
    }

    fn t(&self, v: f64) -> f64 {
        if self.log {
            let (a, b) = (self.lo.log10(), self.hi.log10());
            (v.max(f64::MIN_POSITIVE).log10() - a) / (b - a)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The pixel of a data value (clamped to a little outside the range).
    pub fn px(&self, v: f64) -> f64 {
        let t = self.t(v).clamp(-0.05, 1.05);
        self.p0 + t * (self.p1 - self.p0)
    }

    /// The data value at a pixel.
    pub fn invert(&self, p: f64) -> f64 {
        let t = (p - self.p0) / (self.p1 - self.p0);
        if self.log {
            let (a, b) = (self.lo.log10(), self.hi.log10());
            10f64.powf(a + t * (b - a))
        } else {
            self.lo + t * (self.hi - self.lo)
        }
    }

    /// About `n` round tick values inside the range.
    pub fn ticks(&self, n: usize) -> Vec<f64> {
        if self.log {
            let a = self.lo.log10().ceil() as i32;
            let b = self.hi.log10().floor() as i32;
            if b >= a {
                let stride = (((b - a + 1) as f64) / n.max(1) as f64).ceil().max(1.0) as i32;
                return (a..=b)
                    .step_by(stride as usize)
                    .map(|e| 10f64.powi(e))
                    .collect();
            }
            // Less than a decade: fall back to linear ticks in the range.
        }
        nice_ticks(self.lo, self.hi, n)
    }
}

/// Round tick values covering `[lo, hi]`, about `n` of them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || hi.is_nan() || lo.is_nan() || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    (start..=end)
        .take(50)
        .map(|k| {
            // Round away float noise (3 × 0.2 = 0.6000000000000001).
            let digits = (1 - step.log10().floor() as i32).clamp(0, 15);
            let p = 10f64.powi(digits);
            let v = (k as f64 * step * p).round() / p;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// A short label for a number (`0.001`, `1e-5`, `12.3k`).
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim_zeros(format!("{v:.2}"))
    } else {
        trim_zeros(format!("{v:.3}"))
    }
}

/// A longer label for hover text (4 significant digits).
pub fn precise(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        let digits = if a == 0.0 {
            4
        } else {
            (3 - a.log10().floor() as i32).clamp(0, 6) as usize
        };
        trim_zeros(format!("{v:.digits$}"))
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// TensorBoard's smoothing: a debiased exponential moving average with weight `w` in [0, 1).
pub fn smooth(values: &[f64], w: f64) -> Vec<f64> {
    let w = w.clamp(0.0, 0.999);
    if w == 0.0 {
        return values.to_vec();
    }
    let mut last = 0.0;
    let mut n = 0;
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * w + (1.0 - w) * v;
            n += 1;
            let debias = 1.0 - w.powi(n);
            last / debias
        })
        .collect()
}

/// A colour on a perceptual blue→yellow ramp (viridis-like) for `t` in [0, 1].
pub fn ramp(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let (r, g, b) = ramp_rgb(t, &STOPS);
    format!("rgb({r},{g},{b})")
}

/// RGB of a piecewise-linear ramp.
pub fn ramp_rgb(t: f64, stops: &[(f64, f64, f64)]) -> (u8, u8, u8) {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if stops.len() < 2 {
        return (0, 0, 0);
    }
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round().clamp(0.0, 255.0) as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A distinct colour for series `i`.
pub fn palette(i: usize) -> &'static str {
    const P: [&str; 8] = [
        "#3b6fd8", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4", "#bf399e", "#6c8893",
    ];
    P[i % P.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_scales_map_and_invert() {
        let s = Scale::range(0.0, 10.0, 0.0, 100.0, false, 0.0);
        assert_eq!(s.px(5.0), 50.0);
        assert!((s.invert(25.0) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn log_scales_map_decades_evenly() {
        let s = Scale::range(1e-4, 1e-1, 0.0, 300.0, true, 0.0);
        assert!((s.px(1e-3) - 100.0).abs() < 1e-9);
        assert!((s.invert(200.0) - 1e-2).abs() < 1e-12);
        assert_eq!(s.ticks(10), vec![1e-4, 1e-3, 1e-2, 1e-1]);
    }

    #[test]
    fn the_extremes_clear_the_frame() {
        let s = Scale::fit([0.25, 0.75], 200.0, 0.0, false);
        assert!(s.px(0.25) < 200.0 - 12.0 && s.px(0.75) > 12.0, "{s:?}");
    }

    #[test]
    fn degenerate_ranges_get_a_span() {
        let s = Scale::fit([3.0, 3.0], 0.0, 10.0, false);
        assert!(s.hi > s.lo);
        let e = Scale::fit(std::iter::empty(), 0.0, 10.0, true);
        assert!(e.hi > e.lo && e.lo > 0.0);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(3.0, 27.0, 3), vec![10.0, 20.0]);
    }

    #[test]
    fn smoothing_is_debiased() {
        assert_eq!(smooth(&[1.0, 2.0], 0.0), vec![1.0, 2.0]);
        let s = smooth(&[5.0, 5.0, 5.0], 0.9);
        assert!(s.iter().all(|v| (v - 5.0).abs() < 1e-9), "{s:?}");
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short(0.00001), "1e-5");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(1234.0), "1234");
        assert_eq!(precise(0.123456), "0.1235");
        assert_eq!(ramp(0.0), "rgb(68,1,84)");
        assert_eq!(ramp(1.0), "rgb(253,231,37)");
    }
}
