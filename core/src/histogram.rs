//! Weight and gradient histograms: what TensorBoard's Histograms and Distributions tabs, W&B's
//! `wandb.watch` charts and the playground's distribution view show for each layer of a trial.
//!
//! A trial's trainer computes one [`Histogram`] per parameter tensor and kind (`weights/…`,
//! `gradients/…`) after an epoch ([`records_epoch`]: each epoch of a trial of up to
//! [`MAX_HISTOGRAM_EPOCHS`], evenly spaced ones and the last of a longer one) and records the epoch's set with
//! [`crate::Study::log_histograms`] as one system attribute, `sweeplab:histograms:<epoch>`
//! (see [`epoch_to_json`]), so it travels with the trial through every storage (journal,
//! SQLite, PostgreSQL, Redis) and reaches the page live. [`trial_histograms`] reads them back.
//!
//! Bins are [`BINS`] equal-width bins over the values' range, like `wandb.watch`'s 64 bins;
//! [`Histogram::bucket_limits`] turns them into right-edge buckets the way PyTorch's
//! `SummaryWriter.add_histogram` writes them (empty buckets at both ends dropped, one empty
//! bucket kept in front whose limit is the first bin's left edge).

use std::collections::BTreeMap;

use crate::json::{Json, obj};
use crate::trial::FrozenTrial;

/// The prefix of the system attributes that hold a trial's histograms, one per epoch.
pub const HISTOGRAMS_PREFIX: &str = "sweeplab:histograms:";

/// The most epochs of one trial that record histograms. A histogram set is a few KiB per
/// epoch, so a 400-epoch trial would otherwise keep several MiB of them in the study (most
/// of its journal, read by every worker and page); TensorBoard shows at most 500 steps of a
/// histogram tag anyway (its event loader's default sampling).
pub const MAX_HISTOGRAM_EPOCHS: usize = 100;

/// Whether epoch `epoch` (1-based) of a trial of `epochs` records its histograms: every
/// epoch of a trial of up to [`MAX_HISTOGRAM_EPOCHS`]; for a longer one every
/// `ceil(epochs / MAX_HISTOGRAM_EPOCHS)`-th epoch and the last.
pub fn records_epoch(epoch: usize, epochs: usize) -> bool {
    let stride = epochs.div_ceil(MAX_HISTOGRAM_EPOCHS).max(1);
    epoch == epochs || epoch.is_multiple_of(stride)
}

/// Bins per histogram (as `wandb.watch`).
pub const BINS: usize = 64;

/// The fractions TensorBoard's Distributions tab draws as bands (its basis points 0, 668,
/// 1587, 3085, 5000, 6915, 8413, 9332 and 10000: the minimum, ±1.5σ, ±1σ, ±0.5σ of a normal
/// distribution, the median and the maximum).
pub const DISTRIBUTION_QUANTILES: [f64; 9] = [
    0.0, 0.0668, 0.1587, 0.3085, 0.5, 0.6915, 0.8413, 0.9332, 1.0,
];

/// The tag of a parameter's weight histogram, e.g. `weights/fc1.weight`.
pub fn weights_tag(param: &str) -> String {
    format!("weights/{param}")
}

/// The tag of a parameter's gradient histogram, e.g. `gradients/fc1.weight`.
pub fn gradients_tag(param: &str) -> String {
    format!("gradients/{param}")
}

/// The distribution of one tensor's values.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many values (finite ones; see [`Histogram::from_values`]).
    pub num: u64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_squares: f64,
    /// The left edge of the first bin.
    pub lo: f64,
    /// The right edge of the last bin.
    pub hi: f64,
    /// Counts of equal-width bins from `lo` to `hi`; a value on an inner edge counts in the
    /// bin to its right, `hi` in the last bin (NumPy's `histogram`).
    pub counts: Vec<u64>,
}

impl Histogram {
    /// The histogram of `values` in `bins` equal bins over their range. Values that are not
    /// finite are left out (a diverged tensor); `None` when no finite value remains or
    /// `bins` is 0. When every value is the same, the range is that value ± 0.5 (NumPy's).
    pub fn from_values(values: &[f32], bins: usize) -> Option<Histogram> {
        if bins == 0 {
            return None;
        }
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut num, mut sum, mut sum_squares) = (0u64, 0.0f64, 0.0f64);
        for &v in values {
            if !v.is_finite() {
                continue;
            }
            let v = f64::from(v);
            min = min.min(v);
            max = max.max(v);
            num += 1;
            sum += v;
            sum_squares += v * v;
        }
        if num == 0 {
            return None;
        }
        let (lo, hi) = if max > min {
            (min, max)
        } else {
            (min - 0.5, max + 0.5)
        };
        let scale = bins as f64 / (hi - lo);
        let mut counts = vec![0u64; bins];
        for &v in values {
            if !v.is_finite() {
                continue;
            }
            let i = ((f64::from(v) - lo) * scale).floor();
            let i = if i.is_finite() && i > 0.0 {
                (i as usize).min(bins - 1)
            } else {
                0
            };
            counts[i] += 1;
        }
        Some(Histogram {
            min,
            max,
            num,
            sum,
            sum_squares,
            lo,
            hi,
            counts,
        })
    }

    /// The `counts.len() + 1` bin edges from `lo` to `hi`.
    pub fn edges(&self) -> Vec<f64> {
        let n = self.counts.len();
        let w = (self.hi - self.lo) / n.max(1) as f64;
        (0..=n)
            .map(|i| {
                if i == n {
                    self.hi
                } else {
                    self.lo + w * i as f64
                }
            })
            .collect()
    }

    /// Right-edge buckets as PyTorch's `SummaryWriter` writes a `HistogramProto`: the
    /// `(bucket_limit, bucket)` lists with the empty bins at both ends dropped and one empty
    /// bucket in front whose limit is the left edge of the first non-empty bin.
    pub fn bucket_limits(&self) -> (Vec<f64>, Vec<f64>) {
        let edges = self.edges();
        let first = self.counts.iter().position(|&c| c > 0);
        let last = self.counts.iter().rposition(|&c| c > 0);
        let (Some(first), Some(last)) = (first, last) else {
            return (Vec::new(), Vec::new());
        };
        let mut limits = vec![edges[first]];
        let mut buckets = vec![0.0];
        for i in first..=last {
            limits.push(edges[i + 1]);
            buckets.push(self.counts[i] as f64);
        }
        (limits, buckets)
    }

    /// The mean of the values.
    pub fn mean(&self) -> f64 {
        self.sum / self.num.max(1) as f64
    }

    /// The value below which a fraction `q` (0 to 1) of the values lie, interpolated within
    /// its bin (what TensorBoard's Distributions tab draws for its bands).
    pub fn quantile(&self, q: f64) -> f64 {
        let target = q.clamp(0.0, 1.0) * self.num as f64;
        let edges = self.edges();
        let mut below = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            let c = c as f64;
            if c > 0.0 && below + c >= target {
                let f = ((target - below) / c).clamp(0.0, 1.0);
                let x = edges[i] + f * (edges[i + 1] - edges[i]);
                return x.clamp(self.min, self.max);
            }
            below += c;
        }
        self.max
    }

    /// The same values in at most `bins` bins: neighbouring bins merged in groups, so a
    /// small tensor's histogram reads as a shape rather than single spikes. Asking for at
    /// least as many bins as there are returns the histogram as it is.
    pub fn coarsen(&self, bins: usize) -> Histogram {
        let n = self.counts.len();
        if bins == 0 || bins >= n {
            return self.clone();
        }
        let group = n.div_ceil(bins);
        let counts: Vec<u64> = self.counts.chunks(group).map(|c| c.iter().sum()).collect();
        // The last group may be short: its right edge stays `hi`, and the edges of the
        // merged bins are the original edges at multiples of `group`.
        let width = (self.hi - self.lo) / n as f64;
        let hi = if n.is_multiple_of(group) {
            self.hi
        } else {
            self.lo + width * (counts.len() * group) as f64
        };
        Histogram {
            counts,
            hi,
            ..self.clone()
        }
    }

    /// The bins a display shows for this histogram: about twice the square root of the
    /// number of values, from 8 to all of them.
    pub fn display_bins(&self) -> usize {
        let n = self.counts.len();
        ((2.0 * (self.num as f64).sqrt()).ceil() as usize).clamp(8.min(n), n)
    }

    /// The values at [`DISTRIBUTION_QUANTILES`], smallest first.
    pub fn distribution(&self) -> [f64; 9] {
        DISTRIBUTION_QUANTILES.map(|q| self.quantile(q))
    }

    /// The JSON form kept in the trial: `{"min", "max", "num", "sum", "sum_squares", "lo",
    /// "hi", "counts"}`.
    pub fn to_json(&self) -> Json {
        obj([
            ("min", Json::Float(self.min)),
            ("max", Json::Float(self.max)),
            ("num", Json::Int(self.num as i64)),
            ("sum", Json::Float(self.sum)),
            ("sum_squares", Json::Float(self.sum_squares)),
            ("lo", Json::Float(self.lo)),
            ("hi", Json::Float(self.hi)),
            (
                "counts",
                Json::Array(self.counts.iter().map(|&c| Json::Int(c as i64)).collect()),
            ),
        ])
    }

    /// Reads [`Histogram::to_json`]'s form; `None` if `v` is not one (a count that is not a
    /// whole number, counts that do not add up to `num`, edges out of order).
    pub fn from_json(v: &Json) -> Option<Histogram> {
        let f = |k: &str| v.get(k).and_then(Json::as_f64);
        let counts = v
            .get("counts")?
            .as_array()?
            .iter()
            .map(|c| u64::try_from(c.as_i64()?).ok())
            .collect::<Option<Vec<u64>>>()?;
        let num = u64::try_from(v.get("num")?.as_i64()?).ok()?;
        let h = Histogram {
            min: f("min")?,
            max: f("max")?,
            num,
            sum: f("sum")?,
            sum_squares: f("sum_squares")?,
            lo: f("lo")?,
            hi: f("hi")?,
            counts,
        };
        let total = h.counts.iter().try_fold(0u64, |a, &c| a.checked_add(c))?;
        let ordered = h.lo.is_finite() && h.hi.is_finite() && h.lo < h.hi && h.min <= h.max;
        (ordered && total == h.num && !h.counts.is_empty()).then_some(h)
    }
}

/// One epoch's histograms as the system attribute's value:
/// `{"wall_time": seconds since the Unix epoch, "histograms": {tag: histogram, …}}`.
pub fn epoch_to_json(wall_time: f64, histograms: &[(String, Histogram)]) -> Json {
    obj([
        ("wall_time", Json::Float(wall_time)),
        (
            "histograms",
            Json::Object(
                histograms
                    .iter()
                    .map(|(tag, h)| (tag.clone(), h.to_json()))
                    .collect(),
            ),
        ),
    ])
}

/// One point of a histogram series: the epoch, when it was taken and the histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    /// The epoch (the step the exports write it at).
    pub step: i64,
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The histogram.
    pub histogram: Histogram,
}

/// A trial's histograms by tag, each in epoch order. Attributes that are not of
/// [`epoch_to_json`]'s form, and histograms that do not read, are left out.
pub fn trial_histograms(t: &FrozenTrial) -> BTreeMap<String, Vec<HistogramPoint>> {
    let mut out: BTreeMap<String, Vec<HistogramPoint>> = BTreeMap::new();
    for (key, value) in &t.system_attrs {
        let Some(step) = key
            .strip_prefix(HISTOGRAMS_PREFIX)
            .and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        let wall_time = value.get("wall_time").and_then(Json::as_f64).unwrap_or(0.0);
        let Some(items) = value.get("histograms").and_then(Json::as_object) else {
            continue;
        };
        for (tag, h) in items {
            if let Some(histogram) = Histogram::from_json(h) {
                out.entry(tag.clone()).or_default().push(HistogramPoint {
                    step,
                    wall_time,
                    histogram,
                });
            }
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.step);
    }
    out
}

/// Whether a trial has any histogram attribute.
pub fn has_histograms(t: &FrozenTrial) -> bool {
    t.system_attrs
        .keys()
        .any(|k| k.starts_with(HISTOGRAMS_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_count_every_finite_value_like_numpy() {
        // NumPy: np.histogram([0, 1, 2, 3, 4], bins=4) → [1, 1, 1, 2], edges 0, 1, 2, 3, 4.
        let h = Histogram::from_values(&[0.0, 1.0, 2.0, 3.0, 4.0, f32::NAN], 4).unwrap();
        assert_eq!(h.counts, vec![1, 1, 1, 2]);
        assert_eq!(h.edges(), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!((h.min, h.max, h.num), (0.0, 4.0, 5));
        assert_eq!((h.sum, h.sum_squares), (10.0, 30.0));
        assert_eq!(h.mean(), 2.0);
    }

    #[test]
    fn one_value_spreads_over_plus_minus_a_half() {
        let h = Histogram::from_values(&[3.0; 7], 64).unwrap();
        assert_eq!((h.lo, h.hi), (2.5, 3.5));
        assert_eq!(h.counts.iter().sum::<u64>(), 7);
        assert_eq!(h.counts[32], 7, "3.0 is the 33rd bin's left edge");
        assert!(Histogram::from_values(&[], 64).is_none());
        assert!(Histogram::from_values(&[f32::INFINITY], 64).is_none());
        assert!(Histogram::from_values(&[1.0], 0).is_none());
    }

    #[test]
    fn bucket_limits_are_pytorchs_right_edges() {
        // PyTorch's make_histogram on np.histogram's counts [0, 0, 3, 1, 0] with edges
        // 0..5 gives bucket [0, 3, 1] and bucket_limit [2, 3, 4].
        let h = Histogram {
            min: 2.0,
            max: 3.5,
            num: 4,
            sum: 0.0,
            sum_squares: 0.0,
            lo: 0.0,
            hi: 5.0,
            counts: vec![0, 0, 3, 1, 0],
        };
        assert_eq!(
            h.bucket_limits(),
            (vec![2.0, 3.0, 4.0], vec![0.0, 3.0, 1.0])
        );
        // A first bin with values keeps one empty bucket in front at the lowest edge.
        let h = Histogram::from_values(&[0.0, 0.0, 1.0], 2).unwrap();
        assert_eq!(
            h.bucket_limits(),
            (vec![0.0, 0.5, 1.0], vec![0.0, 2.0, 1.0])
        );
    }

    #[test]
    fn coarsening_merges_neighbouring_bins_and_keeps_every_value() {
        let values: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let h = Histogram::from_values(&values, 64).unwrap();
        let c = h.coarsen(16);
        assert_eq!(c.counts, vec![4; 16]);
        assert_eq!((c.lo, c.hi, c.num), (h.lo, h.hi, 64));
        assert_eq!(h.coarsen(64), h);
        assert_eq!(h.coarsen(100), h);
        // 64 bins in groups of 3: 22 bins, the last one short and its edge moved out.
        let c = h.coarsen(22);
        assert_eq!(c.counts.len(), 22);
        assert_eq!(c.counts.iter().sum::<u64>(), 64);
        assert!((c.hi - (h.lo + (h.hi - h.lo) / 64.0 * 66.0)).abs() < 1e-9);
        assert_eq!(
            Histogram::from_values(&values[..14], 64)
                .unwrap()
                .display_bins(),
            8
        );
        assert_eq!(h.display_bins(), 16);
        assert_eq!(
            Histogram::from_values(&vec![0.5; 5000], 64)
                .unwrap()
                .display_bins(),
            64
        );
    }

    #[test]
    fn long_trials_record_at_most_the_cap_of_evenly_spaced_epochs() {
        let recorded = |epochs: usize| -> Vec<usize> {
            (1..=epochs).filter(|&e| records_epoch(e, epochs)).collect()
        };
        assert_eq!(recorded(7), (1..=7).collect::<Vec<_>>());
        assert_eq!(recorded(MAX_HISTOGRAM_EPOCHS).len(), MAX_HISTOGRAM_EPOCHS);
        let r = recorded(400);
        assert_eq!(r.len(), 100);
        assert_eq!((r[0], r[1], r[99]), (4, 8, 400));
        // 250 epochs: every third, and the last (250 is not a multiple of 3).
        let r = recorded(250);
        assert_eq!((r[0], r.len(), r[r.len() - 1]), (3, 84, 250));
        assert!(r.len() <= MAX_HISTOGRAM_EPOCHS);
        assert!(recorded(0).is_empty());
    }

    #[test]
    fn quantiles_interpolate_within_bins() {
        let values: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let h = Histogram::from_values(&values, 64).unwrap();
        assert!(
            (h.quantile(0.5) - 499.5).abs() < 16.0,
            "{}",
            h.quantile(0.5)
        );
        assert_eq!(h.quantile(0.0), 0.0);
        assert_eq!(h.quantile(1.0), 999.0);
        let d = h.distribution();
        assert_eq!((d[0], d[8]), (0.0, 999.0));
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
        assert!((d[2] - 158.7).abs() < 16.0, "{d:?}");
    }

    #[test]
    fn json_round_trips_and_rejects_what_does_not_add_up() {
        let h = Histogram::from_values(&[-1.0, 0.25, 0.5, 2.0], 8).unwrap();
        let j = Json::parse(&h.to_json().to_compact()).unwrap();
        assert_eq!(Histogram::from_json(&j), Some(h.clone()));
        let mut bad = h.to_json();
        if let Json::Object(items) = &mut bad {
            for (k, v) in items.iter_mut() {
                if k == "num" {
                    *v = Json::Int(5);
                }
            }
        }
        assert_eq!(
            Histogram::from_json(&bad),
            None,
            "counts add up to 4, not 5"
        );
        assert_eq!(Histogram::from_json(&Json::Int(1)), None);
    }

    #[test]
    fn a_trials_epochs_read_back_by_tag_in_epoch_order() {
        let mut t = FrozenTrial::new(0, 0, crate::TrialState::Complete);
        let w = Histogram::from_values(&[1.0, 2.0], 4).unwrap();
        let g = Histogram::from_values(&[-0.5, 0.5], 4).unwrap();
        for epoch in [2, 1, 10] {
            t.system_attrs.insert(
                format!("{HISTOGRAMS_PREFIX}{epoch}"),
                epoch_to_json(
                    100.0 + epoch as f64,
                    &[
                        (weights_tag("fc.weight"), w.clone()),
                        (gradients_tag("fc.weight"), g.clone()),
                    ],
                ),
            );
        }
        t.system_attrs
            .insert(format!("{HISTOGRAMS_PREFIX}x"), Json::Int(0));
        assert!(has_histograms(&t));
        let all = trial_histograms(&t);
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            vec!["gradients/fc.weight", "weights/fc.weight"]
        );
        let steps: Vec<i64> = all["weights/fc.weight"].iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![1, 2, 10]);
        assert_eq!(all["gradients/fc.weight"][2].wall_time, 110.0);
        assert_eq!(all["gradients/fc.weight"][0].histogram, g);
    }
}
