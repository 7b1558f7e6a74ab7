//! "Weights": a trial's weight and gradient histograms over its epochs, as TensorBoard's
//! Distributions and Histograms tabs draw them, from the histograms core's trainer records
//! with the trial ([`sweeplab_core::histogram`]). One parameter at a time; the
//! distribution chart's bands are core's quantiles ([`Histogram::distribution`]).

use std::collections::BTreeMap;

use sweeplab_core::FrozenTrial;
use sweeplab_core::histogram::{Histogram, HistogramPoint, trial_histograms};
use yew::prelude::*;

use super::value_of;
use crate::data::StudyData;
use crate::scale::{Scale, short};

/// Props of [`HistogramView`].
#[derive(Properties, PartialEq)]
pub struct HistogramProps {
    /// The study.
    pub data: StudyData,
    /// The selected trial.
    pub selected: Option<u64>,
}

const W: f64 = 360.0;
const H: f64 = 200.0;
const ML: f64 = 44.0;
const MR: f64 = 10.0;
const MT: f64 = 10.0;
const MB: f64 = 28.0;
/// Epochs the histograms chart stacks at most (the latest ones).
const RIDGES: usize = 24;

/// The trial the view shows: the selected one, else the latest trial that has histograms.
fn shown_trial(data: &StudyData, selected: Option<u64>) -> Option<&FrozenTrial> {
    match selected {
        Some(n) => data.trials.get(n as usize).map(|t| &**t),
        None => data
            .trials
            .iter()
            .rev()
            .map(|t| &**t)
            .find(|t| sweeplab_core::histogram::has_histograms(t)),
    }
}

/// A trial's weights and gradients over its epochs.
#[function_component]
pub fn HistogramView(props: &HistogramProps) -> Html {
    let picked = use_state(|| None::<String>);
    let Some(trial) = shown_trial(&props.data, props.selected) else {
        return html! {
            <div class="chart empty" data-testid="weights">
                { "Each trial's weights and gradients appear here after its first epoch, when \"Record weight and gradient histograms\" is on (step 3)." }
            </div>
        };
    };
    let all = trial_histograms(trial);
    if all.is_empty() {
        return html! {
            <div class="chart empty" data-testid="weights" data-tags="0">
                { format!("Trial {} has no histograms yet: they are recorded after each epoch (at most 100 evenly spaced epochs of a longer trial) when \"Record weight and gradient histograms\" is on (step 3).", trial.number) }
            </div>
        };
    }
    let tag = picked
        .as_ref()
        .filter(|t| all.contains_key(*t))
        .cloned()
        // A layer's weight matrix first, as a person looks at a model.
        .or_else(|| {
            all.keys()
                .find(|k| k.starts_with("weights/") && k.ends_with(".weight"))
                .cloned()
        })
        .or_else(|| all.keys().find(|k| k.starts_with("weights/")).cloned())
        .or_else(|| all.keys().next().cloned())
        .unwrap_or_default();
    let points = all.get(&tag).map(Vec::as_slice).unwrap_or(&[]);
    let onchange = {
        let picked = picked.clone();
        Callback::from(move |e: Event| picked.set(Some(value_of(&e))))
    };
    let last = points.last();
    html! {
        <div class="weights" data-testid="weights" data-tags={all.len().to_string()} data-epochs={points.len().to_string()}>
            <div class="chart-tools">
                <span class="muted small">{ format!("trial {} · ", trial.number) }</span>
                <select aria-label="parameter" data-testid="weights-tag" {onchange}>
                    { for group(&all).into_iter().map(|(kind, tags)| html! {
                        <optgroup label={kind}>
                            { for tags.into_iter().map(|t| html! {
                                <option value={t.clone()} selected={t == tag}>{ t.clone() }</option>
                            }) }
                        </optgroup>
                    }) }
                </select>
                if let Some(p) = last {
                    <span class="muted small" data-testid="weights-summary">{ summary(&p.histogram, p.step) }</span>
                }
            </div>
            <div class="weights-grid">
                { distribution_chart(points) }
                { ridges_chart(points) }
            </div>
        </div>
    }
}

/// The tags by kind ("weights", "gradients"), each in order.
fn group(all: &BTreeMap<String, Vec<HistogramPoint>>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for tag in all.keys() {
        let kind = tag.split_once('/').map_or("other", |(k, _)| k).to_string();
        match out.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, tags)) => tags.push(tag.clone()),
            None => out.push((kind, vec![tag.clone()])),
        }
    }
    // Weights first, as TensorBoard lists a model's parameters before their gradients.
    out.sort_by_key(|(k, _)| k != "weights");
    out
}

/// One line on the latest histogram: its epoch, mean, spread and range.
fn summary(h: &Histogram, epoch: i64) -> String {
    let mean = h.mean();
    let var = (h.sum_squares / h.num.max(1) as f64 - mean * mean).max(0.0);
    format!(
        "epoch {epoch}: {} values, mean {}, std {}, from {} to {}",
        h.num,
        short(mean),
        short(var.sqrt()),
        short(h.min),
        short(h.max)
    )
}

/// TensorBoard's Distributions: over the epochs, bands between the quantile pairs (the
/// outermost from the minimum to the maximum) and the median as a line.
fn distribution_chart(points: &[HistogramPoint]) -> Html {
    let dists: Vec<(f64, [f64; 9])> = points
        .iter()
        .map(|p| (p.step as f64, p.histogram.distribution()))
        .collect();
    let xs = Scale::fit(dists.iter().map(|d| d.0), ML, W - MR, false);
    let ys = Scale::fit(
        dists.iter().flat_map(|d| [d.1[0], d.1[8]]),
        H - MB,
        MT,
        false,
    );
    let band = |lo: usize, hi: usize| -> String {
        let mut path = String::new();
        for (i, (x, q)) in dists.iter().enumerate() {
            let cmd = if i == 0 { 'M' } else { 'L' };
            path.push_str(&format!("{cmd}{:.1},{:.1}", xs.px(*x), ys.px(q[hi])));
        }
        for (x, q) in dists.iter().rev() {
            path.push_str(&format!("L{:.1},{:.1}", xs.px(*x), ys.px(q[lo])));
        }
        path.push('Z');
        path
    };
    let median: String = dists
        .iter()
        .enumerate()
        .map(|(i, (x, q))| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { 'M' } else { 'L' },
                xs.px(*x),
                ys.px(q[4])
            )
        })
        .collect();
    html! {
        <figure class="chart" data-testid="weights-distribution">
            <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" role="img"
                aria-label="the parameter's distribution over the epochs: bands from the minimum to the maximum, the median as a line">
                { for ys.ticks(4).into_iter().map(|v| html! {
                    <g>
                        <line class="grid" x1={ML.to_string()} x2={(W - MR).to_string()} y1={ys.px(v).to_string()} y2={ys.px(v).to_string()} />
                        <text class="tick" x={(ML - 4.0).to_string()} y={(ys.px(v) + 3.0).to_string()} text-anchor="end">{ short(v) }</text>
                    </g>
                }) }
                { for xs.ticks(5).into_iter().filter(|v| v.fract() == 0.0).map(|v| html! {
                    <text class="tick" x={xs.px(v).to_string()} y={(H - MB + 14.0).to_string()} text-anchor="middle">{ short(v) }</text>
                }) }
                { for [(0usize, 8usize), (1, 7), (2, 6), (3, 5)].into_iter().map(|(lo, hi)| html! {
                    <path class="dist-band" d={band(lo, hi)} />
                }) }
                <path class="dist-median" d={median} />
                if dists.len() == 1 {
                    <circle class="dist-median-dot" cx={xs.px(dists[0].0).to_string()} cy={ys.px(dists[0].1[4]).to_string()} r="3" />
                }
                <text class="label" x={((ML + W - MR) / 2.0).to_string()} y={(H - 4.0).to_string()} text-anchor="middle">{ "epoch" }</text>
            </svg>
            <figcaption class="muted small">{ "distribution over epochs (min–max, ±1.5σ, ±1σ, ±0.5σ bands; median)" }</figcaption>
        </figure>
    }
}

/// TensorBoard's Histograms: one histogram per epoch, the latest in front, stacked so that
/// earlier epochs sit higher up (offset mode).
fn ridges_chart(points: &[HistogramPoint]) -> Html {
    let shown = &points[points.len().saturating_sub(RIDGES)..];
    let xs = Scale::fit(
        shown.iter().flat_map(|p| [p.histogram.lo, p.histogram.hi]),
        ML,
        W - MR,
        false,
    );
    // Each epoch's curve is drawn over a band of the height; the bands step upward.
    let n = shown.len().max(1) as f64;
    let step = (H - MB - MT) * 0.55 / n;
    let ridge_h = (H - MB - MT) * 0.45;
    // Small tensors in fewer bins, so each epoch reads as a shape.
    let coarse: Vec<Histogram> = shown
        .iter()
        .map(|p| p.histogram.coarsen(p.histogram.display_bins()))
        .collect();
    let peak = coarse
        .iter()
        .flat_map(|h| h.counts.iter().map(|&c| c as f64 / h.num.max(1) as f64))
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let ridge = |k: usize, h: &Histogram| -> String {
        let base = H - MB - (shown.len() - 1 - k) as f64 * step;
        let edges = h.edges();
        let total = h.num.max(1) as f64;
        let mut d = format!("M{:.1},{:.1}", xs.px(edges[0]), base);
        for (i, &c) in h.counts.iter().enumerate() {
            let y = base - c as f64 / total / peak * ridge_h;
            let mid = (edges[i] + edges[i + 1]) / 2.0;
            d.push_str(&format!("L{:.1},{:.1}", xs.px(mid), y));
        }
        d.push_str(&format!(
            "L{:.1},{:.1}Z",
            xs.px(edges[edges.len() - 1]),
            base
        ));
        d
    };
    html! {
        <figure class="chart" data-testid="weights-histograms" data-ridges={shown.len().to_string()}>
            <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" role="img"
                aria-label="one histogram per epoch, the latest in front">
                { for shown.iter().enumerate().map(|(k, p)| {
                    // Older epochs fade.
                    let age = (shown.len() - 1 - k) as f64 / n;
                    html! { <path class="ridge" style={format!("opacity:{:.2}", 1.0 - 0.6 * age)} d={ridge(k, &coarse[k])}><title>{ format!("epoch {}", p.step) }</title></path> }
                }) }
                { for xs.ticks(5).into_iter().map(|v| html! {
                    <text class="tick" x={xs.px(v).to_string()} y={(H - MB + 14.0).to_string()} text-anchor="middle">{ short(v) }</text>
                }) }
                if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
                    <text class="tick" x={(ML - 4.0).to_string()} y={(H - MB - (shown.len() - 1) as f64 * step).to_string()} text-anchor="end">{ format!("ep {}", first.step) }</text>
                    if shown.len() > 1 {
                        <text class="tick" x={(ML - 4.0).to_string()} y={(H - MB).to_string()} text-anchor="end">{ format!("ep {}", last.step) }</text>
                    }
                }
                <text class="label" x={((ML + W - MR) / 2.0).to_string()} y={(H - 4.0).to_string()} text-anchor="middle">{ "value" }</text>
            </svg>
            <figcaption class="muted small">{ "histogram of each epoch (latest in front)" }</figcaption>
        </figure>
    }
}
