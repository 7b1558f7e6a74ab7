//! "Why this trial": what TPE computed when it proposed the selected trial's values, drawn
//! from the record core's sampler stored with the trial (`samplers::tpe::explain`). The
//! densities come from the recorded estimators through core's `log_pdf`
//! ([`TpeExplain::curve`], [`TpeExplain::pair`]); nothing of TPE is computed here.

use std::rc::Rc;

use sweeplab_core::distributions::Distribution;
use sweeplab_core::samplers::tpe::explain::{
    Explain, TpeExplain, list_numbers as numbers, trials as trials_word,
};
use sweeplab_core::samplers::tpe::parzen::Kernel;
use sweeplab_core::{FrozenTrial, ParamValue, TrialState};
use yew::prelude::*;

use super::value_of;
use crate::data::StudyData;
use crate::scale::{Scale, precise, ramp, short};

/// Props of [`ExplainView`].
#[derive(Properties, PartialEq)]
pub struct ExplainProps {
    /// The study.
    pub data: StudyData,
    /// The selected trial.
    pub selected: Option<u64>,
}

const DW: f64 = 360.0;
const DH: f64 = 170.0;
const DL: f64 = 10.0;
const DR: f64 = 10.0;
const DT: f64 = 10.0;
/// Room under the plot: axis ticks, then one strip of l's and one of g's components.
const DB: f64 = 62.0;
const L_COLOR: &str = "#19a979";
const G_COLOR: &str = "#d8513b";

/// A parameter's internal value as people read it (the choice of a categorical).
fn label(dist: Option<&Distribution>, x: f64) -> String {
    match dist.map(|d| d.to_external(x)) {
        Some(ParamValue::Float(f)) => short(f),
        Some(v) => v.to_string(),
        None => short(x),
    }
}

/// The selected trial's explanation, or what to do to get one.
#[function_component]
pub fn ExplainView(props: &ExplainProps) -> Html {
    let Some(n) = props.selected else {
        return html! { <div class="chart empty" data-testid="explain">{ "Select a trial (in the history or the table) to see why TPE proposed its values." }</div> };
    };
    let Some(trial) = props.data.trials.get(n as usize).cloned() else {
        return html! { <div class="chart empty" data-testid="explain">{ format!("Trial {n} is not in this study.") }</div> };
    };
    let records = Explain::of_trial(&trial);
    if records.is_empty() {
        return html! {
            <div class="chart empty" data-testid="explain" data-records="0">
                { format!("Trial {n} has no explanation: its values were not proposed by TPE (random or grid search, or a study recorded before sweeplab kept TPE's reasons).") }
            </div>
        };
    }
    let startup: Vec<&Explain> = records
        .iter()
        .filter(|r| matches!(r, Explain::Startup { .. }))
        .collect();
    let tpe: Vec<&TpeExplain> = records
        .iter()
        .filter_map(|r| match r {
            Explain::Tpe(e) => Some(&**e),
            Explain::Startup { .. } => None,
        })
        .collect();
    html! {
        <div class="explain" data-testid="explain" data-records={records.len().to_string()}>
            if let Some(Explain::Startup { n_finished, n_startup_trials, .. }) = startup.first() {
                <p class="explain-startup" data-testid="explain-startup">
                    <strong>{ "Random: n < n_startup_trials. " }</strong>
                    { format!("When trial {n} started, {} had finished, fewer than the {n_startup_trials} TPE waits for, so {} drawn at random from the search space. TPE learns from the trials that finished once {n_startup_trials} have.",
                        trials_word(*n_finished),
                        if startup.len() == records.len() { "every value was" } else { "these values were" }) }
                    { format!(" ({})", startup.iter().flat_map(|r| r.params().iter().cloned()).collect::<Vec<_>>().join(", ")) }
                </p>
            }
            { for tpe.iter().enumerate().map(|(i, e)| html! {
                <TpeRecord key={i} data={props.data.clone()} trial={trial.clone()} record={Rc::new((*e).clone())} first={i == 0} />
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct RecordProps {
    data: StudyData,
    trial: Rc<FrozenTrial>,
    record: Rc<TpeExplain>,
    /// The first TPE record of the trial (it draws the split; later ones share it mostly).
    first: bool,
}

/// One TPE proposal: the split, each parameter's densities, and for a joint sample the
/// 2-D view of two parameters.
#[function_component]
fn TpeRecord(props: &RecordProps) -> Html {
    let e = &props.record;
    let t = &props.trial;
    let (chosen, next) = e.chosen_and_next_best();
    let how = if e.multivariate && e.params.len() > 1 {
        format!("{} jointly (multivariate TPE)", e.params.join(", "))
    } else {
        e.params.join(", ")
    };
    let maximize = props.data.direction == sweeplab_core::StudyDirection::Maximize;
    let threshold = e.threshold_phrase(maximize, &precise);
    let liars = if e.liars.is_empty() {
        String::new()
    } else {
        format!(
            "; running and counted as bad by the constant liar: {}",
            numbers(&e.liars, 6)
        )
    };
    html! {
        <div class="explain-record" data-testid="explain-record" data-params={e.params.join(",")}>
            <p class="explain-head">
                { format!("TPE proposed {how} from {} finished trials. ", e.n_finished) }
                <span class="l-word">{ format!("Good group l(x): {} ({}){threshold}", trials_word(e.below.len()), numbers(&e.below, 8)) }</span>
                { "; " }
                <span class="g-word">{ format!("the other {} build g(x){liars}.", trials_word(e.above.len())) }</span>
                { format!(" It drew {} candidates from l(x) and kept the one with the largest log l(x) − log g(x): {} (next best {}).",
                    e.log_l.len(), short(chosen), short(next)) }
            </p>
            if props.first {
                <SplitChart data={props.data.clone()} record={e.clone()} trial={t.number} />
            }
            if e.l.is_none() {
                <p class="muted small">{ "This study is too large for the densities to have been recorded; the split and the scores are above." }</p>
            }
            <div class="explain-grid">
                { for e.params.iter().enumerate().map(|(d, name)| html! {
                    <Density key={name.clone()} record={e.clone()} dim={d} name={name.clone()} dist={t.distribution(name).cloned().map(Rc::new)} />
                }) }
            </div>
            if e.multivariate && e.params.len() > 1 && e.l.is_some() {
                <PairView record={e.clone()} trial={t.clone()} />
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct SplitProps {
    data: StudyData,
    record: Rc<TpeExplain>,
    trial: u64,
}

/// The history the sampler saw: the good group's values in green, the others grey, the
/// threshold between them and the trials the constant liar counted as bad.
#[function_component]
fn SplitChart(props: &SplitProps) -> Html {
    let e = &props.record;
    let value = |n: u64| {
        props
            .data
            .trials
            .get(n as usize)
            .and_then(|t| match t.state {
                TrialState::Complete => t.value(),
                TrialState::Pruned => t.intermediate_values.values().next_back().copied(),
                _ => None,
            })
            .filter(|v| v.is_finite())
    };
    let good: Vec<(u64, f64)> = e
        .below
        .iter()
        .filter_map(|n| value(*n).map(|v| (*n, v)))
        .collect();
    let rest: Vec<(u64, f64)> = e
        .above
        .iter()
        .filter_map(|n| value(*n).map(|v| (*n, v)))
        .collect();
    let (w, h) = (560.0, 150.0);
    // y: the objective; x: trial numbers, ending at the trial proposed.
    let x = Scale::range(0.0, props.trial as f64, 44.0, w - 10.0, false, 0.03);
    let y = Scale::fit(good.iter().chain(&rest).map(|p| p.1), h - 26.0, 10.0, false);
    let dot = |(n, v): &(u64, f64), class: &'static str| {
        html! { <circle class={class} cx={format!("{:.1}", x.px(*n as f64))} cy={format!("{:.1}", y.px(*v))} r="4"><title>{ format!("trial {n}: {}", precise(*v)) }</title></circle> }
    };
    html! {
        <div class="chart explain-split" data-testid="explain-split" data-good={good.len().to_string()} data-rest={rest.len().to_string()}>
            <svg viewBox={format!("0 0 {w} {h}")}>
                { for y.ticks(3).iter().map(|v| html! {
                    <g>
                        <line class="grid" x1="44" x2={(w - 10.0).to_string()} y1={y.px(*v).to_string()} y2={y.px(*v).to_string()} />
                        <text class="tick" x="40" y={(y.px(*v) + 3.0).to_string()} text-anchor="end">{ short(*v) }</text>
                    </g>
                }) }
                if let Some(t) = e.threshold {
                    <line class="threshold" x1="44" x2={(w - 10.0).to_string()} y1={y.px(t).to_string()} y2={y.px(t).to_string()} />
                }
                { for rest.iter().map(|p| dot(p, "rest")) }
                { for good.iter().map(|p| dot(p, "good")) }
                { for e.liars.iter().map(|n| html! {
                    <g class="liar"><line x1={x.px(*n as f64).to_string()} x2={x.px(*n as f64).to_string()} y1="10" y2={(h - 26.0).to_string()} /><title>{ format!("trial {n}: running, counted as bad") }</title></g>
                }) }
                { for x.ticks(6).iter().filter(|v| v.fract() == 0.0 && **v >= 0.0).map(|v| html! {
                    <text class="tick" x={x.px(*v).to_string()} y={(h - 12.0).to_string()} text-anchor="middle">{ short(*v) }</text>
                }) }
                <line class="proposed" x1={x.px(props.trial as f64).to_string()} x2={x.px(props.trial as f64).to_string()} y1="6" y2={(h - 22.0).to_string()} />
                <text class="tick" x={(x.px(props.trial as f64) - 4.0).to_string()} y="16" text-anchor="end">{ format!("trial {} proposed here", props.trial) }</text>
            </svg>
            <div class="legend">
                <span><i class="dot" style={format!("background:{L_COLOR}")}></i>{ "good group: builds l(x)" }</span>
                <span><i class="dot" style="background:#9aa0a6"></i>{ "the others: build g(x)" }</span>
                if e.threshold.is_some() { <span><i style="background:currentColor"></i>{ "threshold" }</span> }
                if !e.liars.is_empty() { <span><i style="background:#e8a33b"></i>{ "running, counted as bad" }</span> }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct DensityProps {
    record: Rc<TpeExplain>,
    dim: usize,
    name: String,
    dist: Option<Rc<Distribution>>,
}

/// One parameter: l(x) and g(x) along its axis (bars for a categorical or a short grid),
/// their mixture components, the candidates coloured by score and the chosen one.
#[function_component]
fn Density(props: &DensityProps) -> Html {
    let e = &props.record;
    let d = props.dim;
    let dist = props.dist.as_deref();
    let Some(curve) = e.curve(d, 120) else {
        return html! {};
    };
    let kernel_l = e.l.as_ref().and_then(|m| m.kernels.get(d));
    let kernel_g = e.g.as_ref().and_then(|m| m.kernels.get(d));
    let (log, bars) = match kernel_l {
        Some(Kernel::Numerical { log, step, .. }) => (*log, *step > 0.0 && curve.x.len() <= 40),
        _ => (false, true),
    };
    let l: Vec<f64> = curve.log_l.iter().map(|v| v.exp()).collect();
    let g: Vec<f64> = curve.log_g.iter().map(|v| v.exp()).collect();
    let top = l.iter().chain(&g).copied().fold(0.0, f64::max).max(1e-300);
    let lo = curve.x.first().copied().unwrap_or(0.0);
    let hi = curve.x.last().copied().unwrap_or(1.0);
    let x = if bars {
        Scale::range(
            lo,
            hi,
            DL,
            DW - DR,
            false,
            0.5 / (curve.x.len().max(2) - 1) as f64 + 0.02,
        )
    } else {
        Scale::range(lo, hi, DL, DW - DR, log, 0.0)
    };
    let base = DH - DB;
    let y = |v: f64| base - (v / top) * (base - DT);
    let pick = e.chosen_values().get(d).copied().unwrap_or(f64::NAN);
    let scores = e.scores();
    let (smin, smax) = scores
        .iter()
        .filter(|s| s.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
            (a.min(*s), b.max(*s))
        });
    let shade = |s: f64| {
        if smax > smin && s.is_finite() {
            (s - smin) / (smax - smin)
        } else {
            1.0
        }
    };
    let column = e.candidates.get(d).cloned().unwrap_or_default();
    let body = if bars {
        let step = if curve.x.len() > 1 {
            (x.px(curve.x[1]) - x.px(curve.x[0])).abs()
        } else {
            DW - DL - DR
        };
        let bw = (step * 0.38).max(1.0);
        html! {
            <g>
                { for curve.x.iter().enumerate().map(|(i, xi)| {
                    let cx = x.px(*xi);
                    let hit = (*xi - pick).abs() < 1e-9 * xi.abs().max(1.0);
                    let n_cand = column.iter().filter(|c| (**c - xi).abs() < 1e-9 * xi.abs().max(1.0)).count();
                    html! {
                        <g class={classes!("bar-pair", hit.then_some("chosen"))}>
                            <rect class="l-bar" x={format!("{:.1}", cx - bw)} y={format!("{:.1}", y(l[i]))} width={format!("{bw:.1}")} height={format!("{:.1}", base - y(l[i]))}><title>{ format!("{}: l = {:.3}", label(dist, *xi), l[i]) }</title></rect>
                            <rect class="g-bar" x={format!("{cx:.1}")} y={format!("{:.1}", y(g[i]))} width={format!("{bw:.1}")} height={format!("{:.1}", base - y(g[i]))}><title>{ format!("{}: g = {:.3}", label(dist, *xi), g[i]) }</title></rect>
                            if n_cand > 0 {
                                <text class="tick cand-count" x={format!("{cx:.1}")} y={format!("{:.1}", (y(l[i].max(g[i])) - 4.0).max(DT + 2.0))} text-anchor="middle">{ format!("×{n_cand}") }</text>
                            }
                            <text class="tick" x={format!("{cx:.1}")} y={format!("{:.1}", base + 13.0)} text-anchor="middle">{ label(dist, *xi) }</text>
                        </g>
                    }
                }) }
            </g>
        }
    } else {
        let path = |v: &[f64]| {
            let mut s = String::new();
            for (i, xi) in curve.x.iter().enumerate() {
                s.push_str(&format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { 'M' } else { 'L' },
                    x.px(*xi),
                    y(v[i])
                ));
            }
            s
        };
        let area = format!(
            "{}L{:.1},{base:.1}L{:.1},{base:.1}Z",
            path(&l),
            x.px(hi),
            x.px(lo)
        );
        let ticks: Vec<f64> = x.ticks(4);
        html! {
            <g>
                <path class="l-area" d={area} />
                <path class="l-line" d={path(&l)} />
                <path class="g-line" d={path(&g)} />
                { for ticks.iter().map(|v| html! {
                    <text class="tick" x={format!("{:.1}", x.px(*v))} y={format!("{:.1}", base + 13.0)} text-anchor="middle">{ short(*v) }</text>
                }) }
                // The candidates, coloured by score (the best in the ramp's good end).
                { for column.iter().zip(&scores).map(|(c, s)| html! {
                    <line class="cand" x1={format!("{:.1}", x.px(*c))} x2={format!("{:.1}", x.px(*c))} y1={format!("{:.1}", base - 7.0)} y2={format!("{base:.1}")}
                        style={format!("stroke:{}", ramp(shade(*s)))} />
                }) }
                <line class="chosen-line" x1={format!("{:.1}", x.px(pick))} x2={format!("{:.1}", x.px(pick))} y1={DT.to_string()} y2={format!("{base:.1}")} />
            </g>
        }
    };
    // The mixture components: centre and ± one bandwidth, opacity by weight; the prior (the
    // last component) dashed.
    let strip = |k: Option<&Kernel>,
                 weights: Option<&Vec<f64>>,
                 row: f64,
                 class: &'static str|
     -> Html {
        let (Some(Kernel::Numerical { mu, sigma, log, .. }), Some(w)) = (k, weights) else {
            return html! {};
        };
        if bars {
            return html! {};
        }
        let to_x = |m: f64| if *log { m.exp() } else { m };
        let wmax = w.iter().copied().fold(0.0, f64::max).max(1e-300);
        let yy = base + 22.0 + row * 12.0;
        let last = mu.len().saturating_sub(1);
        html! {
            <g class={classes!("components", class)}>
                { for mu.iter().zip(sigma).zip(w).enumerate().map(|(i, ((m, s), wi))| {
                    let (a, b, c) = (x.px(to_x(m - s)).max(DL), x.px(to_x(m + s)).min(DW - DR), x.px(to_x(*m)));
                    html! {
                        <g class={classes!((i == last).then_some("prior"))} style={format!("opacity:{:.2}", 0.25 + 0.75 * wi / wmax)}>
                            <line x1={format!("{a:.1}")} x2={format!("{b:.1}")} y1={format!("{yy:.1}")} y2={format!("{yy:.1}")} />
                            <circle cx={format!("{c:.1}")} cy={format!("{yy:.1}")} r="2.2" />
                            <title>{ if i == last { format!("prior: centre {}, bandwidth {}, weight {:.3}", short(to_x(*m)), short(*s), wi) } else { format!("centre {}, bandwidth {}, weight {:.3}", short(to_x(*m)), short(*s), wi) } }</title>
                        </g>
                    }
                }) }
            </g>
        }
    };
    let chosen_label = label(dist, pick);
    html! {
        <div class="chart explain-density" data-testid={format!("explain-density-{}", props.name)} data-chosen={chosen_label.clone()}
            data-points={curve.x.len().to_string()} data-candidates={column.len().to_string()}>
            <div class="explain-title">
                <strong>{ props.name.clone() }</strong>
                { format!(" = {chosen_label}") }
                if log { <span class="muted small">{ " (log axis)" }</span> }
            </div>
            <svg viewBox={format!("0 0 {DW} {DH}")}>
                <line class="axis" x1={DL.to_string()} x2={(DW - DR).to_string()} y1={base.to_string()} y2={base.to_string()} />
                { body }
                { strip(kernel_l, e.l.as_ref().map(|m| &m.weights), 0.0, "l") }
                { strip(kernel_g, e.g.as_ref().map(|m| &m.weights), 1.0, "g") }
            </svg>
            <div class="legend">
                <span><i style={format!("background:{L_COLOR}")}></i>{ "l(x), good" }</span>
                <span><i style={format!("background:{G_COLOR}")}></i>{ "g(x), the others" }</span>
                if !bars { <span><i style="background:currentColor"></i>{ "chosen" }</span> }
                if !bars { <span class="muted">{ "ticks: candidates by score; rows: components (± bandwidth), prior dashed" }</span> }
                if bars { <span class="muted">{ "×n: candidates drawn there; outlined: chosen" }</span> }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct PairProps {
    record: Rc<TpeExplain>,
    trial: Rc<FrozenTrial>,
}

/// Two parameters of a joint sample: log l − log g over their plane (marginal over the
/// others), the candidates and the chosen point.
#[function_component]
fn PairView(props: &PairProps) -> Html {
    let e = &props.record;
    let pair = use_state(|| (0usize, 1usize));
    let (a, b) = *pair;
    let (a, b) = if a < e.params.len() && b < e.params.len() && a != b {
        (a, b)
    } else {
        (0, 1)
    };
    let grid = use_memo((props.record.clone(), a, b), |(r, a, b)| r.pair(*a, *b, 28));
    let Some(grid) = grid.as_ref() else {
        return html! {};
    };
    let dist = |i: usize| props.trial.distribution(&e.params[i]).cloned();
    let (da, db) = (dist(a), dist(b));
    let is_log = |i: usize| {
        matches!(
            e.l.as_ref().and_then(|m| m.kernels.get(i)),
            Some(Kernel::Numerical { log: true, .. })
        )
    };
    let (w, h, ml, mb) = (380.0, 300.0, 52.0, 36.0);
    let (nx, ny) = (grid.x.len().max(1), grid.y.len().max(1));
    let cw = (w - ml - 8.0) / nx as f64;
    let ch = (h - mb - 8.0) / ny as f64;
    let score: Vec<f64> = grid
        .log_l
        .iter()
        .zip(&grid.log_g)
        .map(|(l, g)| l - g)
        .collect();
    let (smin, smax) = score
        .iter()
        .filter(|s| s.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(p, q), s| {
            (p.min(*s), q.max(*s))
        });
    let shade = |s: f64| {
        if smax > smin && s.is_finite() {
            (s - smin) / (smax - smin)
        } else {
            0.5
        }
    };
    // Cell centres are evenly spaced in pixels (log axes are evenly spaced in log space).
    let px_of = |vals: &[f64], v: f64, p0: f64, step: f64, log: bool| {
        let t = |x: f64| if log && x > 0.0 { x.ln() } else { x };
        let (lo, hi) = (t(vals[0]), t(*vals.last().unwrap_or(&vals[0])));
        let f = if hi > lo {
            (t(v) - lo) / (hi - lo)
        } else {
            0.5
        };
        p0 + step * 0.5 + f * step * (vals.len() - 1) as f64
    };
    let cx = |v: f64| px_of(&grid.x, v, ml, cw, is_log(a));
    let cy = |v: f64| h - mb - px_of(&grid.y, v, 0.0, ch, is_log(b));
    let options = |sel: usize, other: usize, set: Rc<dyn Fn(usize)>| {
        html! {
            <select onchange={Callback::from(move |ev: Event| { if let Ok(i) = value_of(&ev).parse() { set(i) } })}>
                { for e.params.iter().enumerate().filter(|(i, _)| *i != other).map(|(i, p)| html! {
                    <option value={i.to_string()} selected={i == sel}>{ p.clone() }</option>
                }) }
            </select>
        }
    };
    let set_a: Rc<dyn Fn(usize)> = {
        let pair = pair.clone();
        Rc::new(move |i| pair.set((i, b)))
    };
    let set_b: Rc<dyn Fn(usize)> = {
        let pair = pair.clone();
        Rc::new(move |i| pair.set((a, i)))
    };
    let ca = e.candidates.get(a).cloned().unwrap_or_default();
    let cb = e.candidates.get(b).cloned().unwrap_or_default();
    let chosen = e.chosen_values();
    html! {
        <div class="chart explain-pair" data-testid="explain-pair" data-cells={score.len().to_string()}>
            <div class="explain-title">
                <strong>{ "Two parameters together: " }</strong>
                { options(a, b, set_a) }{ " × " }{ options(b, a, set_b) }
                <span class="muted small">{ " colour: log l − log g (the score TPE maximises), marginal over the others" }</span>
            </div>
            <svg viewBox={format!("0 0 {w} {h}")}>
                { for grid.x.iter().enumerate().flat_map(|(i, _)| grid.y.iter().enumerate().map(move |(j, _)| (i, j))).map(|(i, j)| {
                    let s = score[i * ny + j];
                    html! { <rect x={format!("{:.1}", ml + i as f64 * cw)} y={format!("{:.1}", h - mb - (j + 1) as f64 * ch)} width={format!("{:.2}", cw + 0.3)} height={format!("{:.2}", ch + 0.3)} style={format!("fill:{}", ramp(shade(s)))} /> }
                }) }
                { for ca.iter().zip(&cb).map(|(p, q)| html! {
                    <circle class="cand-dot" cx={format!("{:.1}", cx(*p))} cy={format!("{:.1}", cy(*q))} r="2.5" />
                }) }
                <circle class="chosen-dot" cx={format!("{:.1}", cx(chosen[a]))} cy={format!("{:.1}", cy(chosen[b]))} r="6" />
                <text class="tick" x={ml.to_string()} y={(h - mb + 14.0).to_string()}>{ label(da.as_ref(), grid.x[0]) }</text>
                <text class="tick" x={(w - 8.0).to_string()} y={(h - mb + 14.0).to_string()} text-anchor="end">{ label(da.as_ref(), *grid.x.last().unwrap_or(&grid.x[0])) }</text>
                <text class="label" x={((ml + w) / 2.0).to_string()} y={(h - 4.0).to_string()} text-anchor="middle">{ e.params[a].clone() }</text>
                <text class="tick" x={(ml - 4.0).to_string()} y={(h - mb).to_string()} text-anchor="end">{ label(db.as_ref(), grid.y[0]) }</text>
                <text class="tick" x={(ml - 4.0).to_string()} y="16" text-anchor="end">{ label(db.as_ref(), *grid.y.last().unwrap_or(&grid.y[0])) }</text>
                <text class="label" transform={format!("translate(12 {}) rotate(-90)", (h - mb) / 2.0)} text-anchor="middle">{ e.params[b].clone() }</text>
            </svg>
            <div class="legend">
                <span><i class="dot" style="background:#fff;border:1px solid #333"></i>{ "candidates" }</span>
                <span><i class="dot" style="background:#111"></i>{ format!("chosen: {} = {}, {} = {}", e.params[a], label(da.as_ref(), chosen[a]), e.params[b], label(db.as_ref(), chosen[b])) }</span>
            </div>
        </div>
    }
}
