//! The study plots, drawn as SVG (and one canvas, the decision boundary): live curves with
//! hover values, optimisation history, intermediate values, parallel coordinates, slices,
//! importances and a contour. Each chart is a component whose props compare by the study
//! snapshot's version, so a chart redraws only when its data changed; dense layers are
//! drawn as a few paths (one per colour bucket) so 1,000 trials stay cheap.

use std::rc::Rc;

use sweeplab_core::TrialState;
use sweeplab_core::config::PrunerConfig;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::data::{Axis, StudyData, contour};
use crate::scale::{Scale, palette, precise, ramp, short, smooth};

const W: f64 = 560.0;
const H: f64 = 240.0;
const ML: f64 = 52.0;
const MR: f64 = 14.0;
const MT: f64 = 12.0;
const MB: f64 = 34.0;

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// CSS colour.
    pub color: String,
    /// `(x, y)` points in x order.
    pub points: Vec<(f64, f64)>,
    /// Drawn thin and translucent (one of many).
    pub faint: bool,
    /// Drawn dashed.
    pub dashed: bool,
}

/// Props of [`LineChart`].
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct LineChartProps {
    /// The lines.
    pub series: Rc<Vec<Series>>,
    /// Logarithmic y axis.
    #[prop_or_default]
    pub log_y: bool,
    /// TensorBoard-style smoothing weight in [0, 1).
    #[prop_or_default]
    pub smoothing: f64,
    /// X axis label.
    pub x_label: AttrValue,
    /// Y axis label.
    pub y_label: AttrValue,
    /// Test id of the chart.
    #[prop_or_default]
    pub id: AttrValue,
    /// Shown when there is nothing to draw.
    #[prop_or(AttrValue::from("No data yet"))]
    pub empty: AttrValue,
    /// A smaller drawing area (larger text when the chart is narrow).
    #[prop_or_default]
    pub compact: bool,
}

fn frame(x: &Scale, y: &Scale, x_label: &str, y_label: &str, x_ticks: usize) -> Html {
    frame_sized((W, H), x, y, x_label, y_label, x_ticks, None, None)
}

/// Ticks of an axis: the choices of a categorical one, round numbers otherwise.
fn axis_ticks(s: &Scale, labels: Option<Vec<String>>, n: usize) -> Vec<(f64, String)> {
    match labels {
        Some(l) => l
            .into_iter()
            .enumerate()
            .map(|(k, l)| (k as f64, l))
            .collect(),
        None => s.ticks(n).into_iter().map(|v| (v, short(v))).collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn frame_sized(
    (w, h): (f64, f64),
    x: &Scale,
    y: &Scale,
    x_label: &str,
    y_label: &str,
    x_ticks: usize,
    x_labels: Option<Vec<String>>,
    y_labels: Option<Vec<String>>,
) -> Html {
    let yt = axis_ticks(y, y_labels, 5);
    // Trial numbers and epochs are whole: a fractional tick there reads as nonsense.
    let whole = matches!(x_label, "trial" | "epoch");
    let xt: Vec<(f64, String)> = axis_ticks(x, x_labels, x_ticks)
        .into_iter()
        .filter(|(v, _)| !whole || v.fract() == 0.0)
        .collect();
    html! {
        <g class="frame">
            { for yt.iter().map(|(v, label)| {
                let py = y.px(*v);
                html! { <g>
                    <line class="grid" x1={ML.to_string()} x2={(w - MR).to_string()} y1={py.to_string()} y2={py.to_string()} />
                    <text class="tick" x={(ML - 6.0).to_string()} y={(py + 4.0).to_string()} text-anchor="end">{ label.clone() }</text>
                </g> }
            }) }
            { for xt.iter().map(|(v, label)| {
                let px = x.px(*v);
                html! { <text class="tick" x={px.to_string()} y={(h - MB + 16.0).to_string()} text-anchor="middle">{ label.clone() }</text> }
            }) }
            <line class="axis" x1={ML.to_string()} x2={(w - MR).to_string()} y1={(h - MB).to_string()} y2={(h - MB).to_string()} />
            <line class="axis" x1={ML.to_string()} x2={ML.to_string()} y1={MT.to_string()} y2={(h - MB).to_string()} />
            <text class="label" x={((ML + w - MR) / 2.0).to_string()} y={(h - 4.0).to_string()} text-anchor="middle">{ x_label.to_string() }</text>
            <text class="label" transform={format!("translate(12 {}) rotate(-90)", (MT + h - MB) / 2.0)} text-anchor="middle">{ y_label.to_string() }</text>
        </g>
    }
}

/// Appends an SVG coordinate with one decimal, through integer formatting: paths of
/// thousands of points are rebuilt on every new trial, and `format!("{:.1}")` on an `f64`
/// is the exact (slow) float formatter.
fn push_px(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    // Far beyond any view box: clamped, so the integer cannot overflow.
    let tenths = (v.clamp(-1e9, 1e9) * 10.0).round() as i64;
    if tenths < 0 {
        out.push('-');
    }
    let abs = tenths.unsigned_abs();
    out.push_str(itoa::Buffer::new().format(abs / 10));
    out.push('.');
    out.push(char::from(b'0' + (abs % 10) as u8));
}

/// Appends a path command and its point: `M12.5,40.0`.
fn push_pt(out: &mut String, cmd: char, x: f64, y: f64) {
    out.push(cmd);
    push_px(out, x);
    out.push(',');
    push_px(out, y);
}

/// Appends a dot at a point: a zero-length segment that the `dots` class strokes with a
/// round cap (a fifth of an arc-drawn circle's path text, and cheaper to draw).
fn push_dot(out: &mut String, x: f64, y: f64) {
    push_pt(out, 'M', x, y);
    out.push_str("h0");
}

/// [`push_px`] as a string.
fn px_text(v: f64) -> String {
    let mut s = String::new();
    push_px(&mut s, v);
    s
}

fn path_of(points: &[(f64, f64)], x: &Scale, y: &Scale, log_y: bool) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for &(px, py) in points {
        if !py.is_finite() || (log_y && py <= 0.0) {
            pen_down = false;
            continue;
        }
        push_pt(&mut d, if pen_down { 'L' } else { 'M' }, x.px(px), y.px(py));
        pen_down = true;
    }
    d
}

/// A dot on every drawable point of a line when it has at most [`MARKERS_UP_TO`] of them,
/// otherwise only on isolated points (no drawable neighbour, so no line reaches them).
fn markers_of(points: &[(f64, f64)], x: &Scale, y: &Scale, log_y: bool) -> String {
    let ok = |p: &(f64, f64)| p.1.is_finite() && !(log_y && p.1 <= 0.0);
    let all = points.iter().filter(|p| ok(p)).count() <= MARKERS_UP_TO;
    let mut d = String::new();
    for (i, p) in points.iter().enumerate() {
        if !ok(p) {
            continue;
        }
        let before = i > 0 && ok(&points[i - 1]);
        let after = points.get(i + 1).is_some_and(ok);
        if all || !(before || after) {
            push_dot(&mut d, x.px(p.0), y.px(p.1));
        }
    }
    d
}

/// Lines with at most this many points get a marker on each.
const MARKERS_UP_TO: usize = 24;

/// The item of `items` drawn nearest to `at` (view-box coordinates), within `radius`; `pos`
/// gives where an item is drawn.
fn nearest<T: Copy>(
    items: &[T],
    at: (f64, f64),
    radius: f64,
    pos: impl Fn(&T) -> (f64, f64),
) -> Option<T> {
    items
        .iter()
        .map(|p| {
            let (px, py) = pos(p);
            (p, (px - at.0).powi(2) + (py - at.1).powi(2))
        })
        .filter(|(_, d2)| *d2 < radius * radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| *p)
}

/// Mouse-move and mouse-leave handlers that keep the pointer's view-box position (of a
/// `size` view box) in `hover`.
fn hover_handlers(
    hover: &UseStateHandle<Option<(f64, f64)>>,
    size: (f64, f64),
) -> (Callback<MouseEvent>, Callback<MouseEvent>) {
    let on_move = {
        let hover = hover.clone();
        Callback::from(move |e: MouseEvent| hover.set(svg_point(&e, size)))
    };
    let on_leave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    (on_move, on_leave)
}

/// The SVG coordinates of a mouse event over an element drawn with a `W × H` view box.
fn svg_point(e: &MouseEvent, (w, h): (f64, f64)) -> Option<(f64, f64)> {
    let el: web_sys::Element = e.current_target()?.dyn_into().ok()?;
    let r = el.get_bounding_client_rect();
    if r.width() <= 0.0 || r.height() <= 0.0 {
        return None;
    }
    Some((
        (f64::from(e.client_x()) - r.left()) * w / r.width(),
        (f64::from(e.client_y()) - r.top()) * h / r.height(),
    ))
}

/// Above this many dots, a chart draws them as squares without anti-aliasing (class
/// `many`).
const MANY_DOTS: usize = 1000;

/// The most lines a chart draws as one `<path>` each: with thousands of trials, every
/// element would be diffed, restyled and drawn on every new one.
const MAX_LINE_ELEMENTS: usize = 160;

/// A line chart with hover values, log scale and smoothing.
#[function_component(LineChart)]
pub fn line_chart(props: &LineChartProps) -> Html {
    let (w, h) = if props.compact {
        (400.0, 250.0)
    } else {
        (W, H)
    };
    let hover = use_state(|| None::<f64>);
    let smoothed: Rc<Vec<Series>> = {
        let w = props.smoothing;
        use_memo(
            (props.series.clone(), (w * 1000.0) as i64),
            move |(s, _)| {
                s.iter()
                    .map(|s| {
                        let ys: Vec<f64> = s.points.iter().map(|p| p.1).collect();
                        let ys = smooth(&ys, w);
                        Series {
                            points: s.points.iter().zip(ys).map(|(p, y)| (p.0, y)).collect(),
                            ..s.clone()
                        }
                    })
                    .collect()
            },
        )
    };
    let all = || smoothed.iter().flat_map(|s| s.points.iter());
    if all().next().is_none() {
        return html! { <div class="chart empty" data-testid={props.id.clone()}>{ props.empty.clone() }</div> };
    }
    let x = Scale::fit(all().map(|p| p.0), ML, w - MR, false);
    let y = Scale::fit(all().map(|p| p.1), h - MB, MT, props.log_y);
    let onmove = {
        let hover = hover.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some((px, _)) = svg_point(&e, (w, h)) {
                hover.set((ML..=w - MR).contains(&px).then(|| x.invert(px)));
            }
        })
    };
    let onleave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    let many = smoothed.len() > 8;
    // Many faint lines: the more there are, the lighter each one.
    let faint_opacity = (8.0 / smoothed.len().max(1) as f64).clamp(0.04, 0.45);
    // Beyond MAX_LINE_ELEMENTS lines, neighbouring lines of one style share a path (see
    // `bundles`); the bundles overlap like faint lines do.
    let bundle_opacity = (8.0 / MAX_LINE_ELEMENTS as f64).clamp(0.04, 0.45);
    let bundles = |series: &[Series]| -> Vec<(Series, String)> {
        let per = series.len().div_ceil(MAX_LINE_ELEMENTS / 2).max(1);
        // Lines of one style, in order, then `per` of them to a path.
        let mut styles: Vec<(&Series, Vec<&Series>)> = Vec::new();
        for s in series {
            match styles
                .iter_mut()
                .find(|(k, _)| k.color == s.color && k.dashed == s.dashed && k.faint == s.faint)
            {
                Some((_, v)) => v.push(s),
                None => styles.push((s, vec![s])),
            }
        }
        let mut out = Vec::new();
        for (style, lines) in styles {
            for chunk in lines.chunks(per) {
                let mut d = String::new();
                for s in chunk {
                    d.push_str(&path_of(&s.points, &x, &y, props.log_y));
                }
                let look = Series {
                    points: Vec::new(),
                    ..style.clone()
                };
                out.push((look, d));
            }
        }
        out
    };
    let tooltip = (*hover).map(|hx| {
        // For each series, the point nearest the cursor's x.
        let mut rows: Vec<(String, String, f64, f64)> = Vec::new();
        for s in smoothed.iter() {
            if let Some(p) = s
                .points
                .iter()
                .filter(|p| p.1.is_finite())
                .min_by(|a, b| (a.0 - hx).abs().total_cmp(&(b.0 - hx).abs()))
            {
                rows.push((s.name.clone(), s.color.clone(), p.0, p.1));
            }
        }
        if many {
            // Many lines: show the few closest to the cursor's x, best first.
            rows.sort_by(|a, b| (a.2 - hx).abs().total_cmp(&(b.2 - hx).abs()));
            rows.truncate(6);
        }
        let snap = rows.first().map_or(hx, |r| r.2);
        let px = x.px(snap);
        let left = px < w / 2.0;
        let bx = if left { px + 8.0 } else { px - 8.0 - 170.0 };
        let bh = 18.0 + 15.0 * rows.len() as f64;
        html! {
            <g class="hover" pointer-events="none">
                <line class="crosshair" x1={px.to_string()} x2={px.to_string()} y1={MT.to_string()} y2={(h - MB).to_string()} />
                { for rows.iter().map(|r| html! {
                    <circle cx={x.px(r.2).to_string()} cy={y.px(r.3).to_string()} r="3.5" fill={r.1.clone()} />
                }) }
                <rect class="tip" x={bx.to_string()} y={(MT + 2.0).to_string()} width="170" height={bh.to_string()} rx="4" />
                <text class="tip-title" x={(bx + 8.0).to_string()} y={(MT + 15.0).to_string()}>{ format!("{} {}", props.x_label, short(snap)) }</text>
                { for rows.iter().enumerate().map(|(i, r)| html! {
                    <text class="tip-row" x={(bx + 8.0).to_string()} y={(MT + 30.0 + 15.0 * i as f64).to_string()}>
                        <tspan fill={r.1.clone()}>{ "● " }</tspan>{ format!("{}: {}", r.0, precise(r.3)) }
                    </text>
                }) }
            </g>
        }
    });
    html! {
        <div class="chart" data-testid={props.id.clone()}>
            <svg viewBox={format!("0 0 {w} {h}")} style={format!("aspect-ratio:{w}/{h}")} preserveAspectRatio="none" onmousemove={onmove} onmouseleave={onleave}>
                { frame_sized((w, h), &x, &y, &props.x_label, &props.y_label, 6, None, None) }
                if smoothed.len() > MAX_LINE_ELEMENTS {
                    { for bundles(&smoothed).iter().map(|(s, d)| html! {
                        <path class={classes!("line", s.faint.then_some("faint"), s.dashed.then_some("dashed"))}
                            d={d.clone()} stroke={s.color.clone()}
                            style={s.faint.then(|| format!("stroke-opacity:{bundle_opacity:.3}"))} />
                    }) }
                } else {
                    { for smoothed.iter().map(|s| html! {
                        <path class={classes!("line", s.faint.then_some("faint"), s.dashed.then_some("dashed"))}
                            d={path_of(&s.points, &x, &y, props.log_y)} stroke={s.color.clone()}
                            style={s.faint.then(|| format!("stroke-opacity:{faint_opacity:.3}"))} />
                    }) }
                }
                // Markers on every point while there are few, and always on a point that
                // has no neighbour to draw a line to (a series of one epoch).
                { for smoothed.iter().filter(|_| !many).map(|s| html! {
                    <path class="dots markers" stroke={s.color.clone()} d={markers_of(&s.points, &x, &y, props.log_y)} />
                }) }
                { tooltip.unwrap_or_default() }
            </svg>
            if !many && smoothed.len() > 1 {
                <div class="legend">
                    { for smoothed.iter().map(|s| html! {
                        <span><i style={format!("background:{}", s.color)}></i>{ s.name.clone() }</span>
                    }) }
                </div>
            }
        </div>
    }
}

/// Props of the study charts.
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct StudyChartProps {
    /// The study snapshot.
    pub data: StudyData,
    /// Logarithmic objective axis.
    #[prop_or_default]
    pub log_y: bool,
    /// Called with a trial number when a point is clicked.
    #[prop_or_default]
    pub on_select: Callback<u64>,
    /// The study's pruner: the intermediate values show the line it judges trials by.
    #[prop_or_default]
    pub pruner: Option<PrunerConfig>,
    /// Trials the history rings: TPE's good group when the selected trial was proposed.
    #[prop_or_default]
    pub marked: Rc<Vec<u64>>,
    /// The trial whose good group `marked` is.
    #[prop_or_default]
    pub marked_for: Option<u64>,
}

/// The line a median or percentile pruner judges trials by, at every step it checks: the
/// core pruner's own threshold over the COMPLETE trials ([`PercentilePruner::threshold`]).
/// Empty for the other pruners and before the pruner judges any trial.
///
/// [`PercentilePruner::threshold`]: sweeplab_core::PercentilePruner::threshold
pub fn pruner_line(d: &StudyData, pruner: Option<&PrunerConfig>) -> Option<Series> {
    let p = pruner?.percentile_pruner()?;
    let completed: Vec<&sweeplab_core::FrozenTrial> = d
        .trials
        .iter()
        .map(|t| &**t)
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    let steps: std::collections::BTreeSet<i64> = completed
        .iter()
        .flat_map(|t| t.intermediate_values.keys().copied())
        .collect();
    let points: Vec<(f64, f64)> = steps
        .into_iter()
        .filter_map(|step| {
            p.threshold(&completed, step, d.direction)
                .map(|(v, _)| (step as f64, v))
        })
        .collect();
    (!points.is_empty()).then(|| Series {
        name: if p.is_median() {
            "the pruner's median".into()
        } else {
            "the pruner's percentile".into()
        },
        // The text colour: dark on the light page, light on the dark one.
        color: "currentColor".into(),
        points,
        faint: false,
        dashed: true,
    })
}

/// Successive halving's or Hyperband's rung cuts (core's [`PrunerConfig::rung_cuts`]): per
/// bracket and rung, a short level mark at the rung's epoch at the value a trial must reach
/// there to go on. Empty for the other pruners and before a trial completed a rung.
pub fn rung_cut_lines(d: &StudyData, pruner: Option<&PrunerConfig>) -> Vec<Series> {
    let Some(p) = pruner else {
        return Vec::new();
    };
    let trials: Vec<&sweeplab_core::FrozenTrial> = d.trials.iter().map(|t| &**t).collect();
    let cuts = p.rung_cuts(&trials, d.direction);
    let n_brackets = cuts.iter().map(|c| c.bracket + 1).max().unwrap_or(0);
    // Each cut is a short level mark at its rung's epoch: between rungs there is no cut.
    let last = d
        .trials
        .iter()
        .filter_map(|t| t.last_step())
        .max()
        .unwrap_or(1) as f64;
    let half = (last * 0.025).max(0.3);
    cuts.iter()
        .map(|c| Series {
            name: if n_brackets > 1 {
                format!("rung cut, bracket {}, rung {}", c.bracket, c.rung)
            } else {
                format!("rung cut, rung {}", c.rung)
            },
            color: "currentColor".into(),
            points: vec![
                (c.step as f64 - half, c.cutoff),
                (c.step as f64 + half, c.cutoff),
            ],
            faint: false,
            dashed: false,
        })
        .collect()
}

/// Optimisation history: every COMPLETE trial's value and the best so far. The points are
/// one path (cheap with 1,000 trials); hovering shows the nearest trial, clicking selects it.
#[function_component(HistoryChart)]
pub fn history_chart(props: &StudyChartProps) -> Html {
    let hover = use_state(|| None::<(f64, f64)>);
    let h = use_memo(props.data.clone(), |d| d.history());
    let pruned = use_memo(props.data.clone(), |d| d.pruned_points());
    if h.is_empty() && pruned.is_empty() {
        return html! { <div class="chart empty" data-testid="history">{ "The history appears when a trial completes or is pruned" }</div> };
    }
    let n_max = props.data.trials.len().max(1) as f64;
    let x = Scale::range(0.0, n_max - 1.0, ML, W - MR, false, 0.03);
    let y = Scale::fit(
        h.iter().map(|p| p.1).chain(pruned.iter().map(|p| p.1)),
        H - MB,
        MT,
        props.log_y,
    );
    let mut pruned_dots = String::new();
    for &(n, v) in pruned.iter() {
        push_dot(&mut pruned_dots, x.px(n as f64), y.px(v));
    }
    // TPE's good group of the selected trial, ringed (complete and pruned members).
    let rings: Vec<(f64, f64)> = props
        .marked
        .iter()
        .filter_map(|m| {
            h.iter()
                .find(|p| p.0 == *m)
                .map(|p| (p.0, p.1))
                .or_else(|| pruned.iter().find(|p| p.0 == *m).copied())
        })
        .map(|(n, v)| (x.px(n as f64), y.px(v)))
        .collect();
    let mut best = String::new();
    let mut dots = String::new();
    for (i, &(n, v, b)) in h.iter().enumerate() {
        if i == 0 {
            push_pt(&mut best, 'M', x.px(n as f64), y.px(b));
        } else {
            best.push('H');
            push_px(&mut best, x.px(n as f64));
            best.push('V');
            push_px(&mut best, y.px(b));
        }
        push_dot(&mut dots, x.px(n as f64), y.px(v));
    }
    // Extend the best line to the last trial.
    if !best.is_empty() {
        best.push('H');
        push_px(&mut best, x.px(n_max - 1.0));
    }
    let trial_at = {
        let h = h.clone();
        move |at: (f64, f64)| nearest(&h, at, 12.0, |p| (x.px(p.0 as f64), y.px(p.1)))
    };
    let near = (*hover).and_then(&trial_at);
    let (onmove, onleave) = hover_handlers(&hover, (W, H));
    let onclick = {
        let on_select = props.on_select.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(p) = svg_point(&e, (W, H)).and_then(&trial_at) {
                on_select.emit(p.0);
            }
        })
    };
    html! {
        <div class="chart" data-testid="history" data-points={h.len().to_string()} data-pruned={pruned.len().to_string()}>
            <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" onmousemove={onmove} onmouseleave={onleave} {onclick}>
                { frame(&x, &y, "trial", &props.data.objective, 6) }
                <path class={classes!("dots", "pruned-dots", (pruned.len() > MANY_DOTS).then_some("many"))} d={pruned_dots} />
                <path class="line best" d={best} />
                <path class={classes!("dots", "history-dots", (h.len() > MANY_DOTS).then_some("many"))} d={dots} />
                <g class="history-marks" data-testid="history-marks" data-marks={rings.len().to_string()}>
                    { for rings.iter().map(|(cx, cy)| html! { <circle cx={format!("{cx:.1}")} cy={format!("{cy:.1}")} r="6.5" /> }) }
                </g>
                if let Some((n, v, _)) = near {
                    <g pointer-events="none">
                        <circle class="pt-hover" cx={format!("{:.1}", x.px(n as f64))} cy={format!("{:.1}", y.px(v))} r="6" />
                        <text class="tip-row" x={if x.px(n as f64) > W / 2.0 { (x.px(n as f64) - 10.0).to_string() } else { (x.px(n as f64) + 10.0).to_string() }}
                            y={(y.px(v) - 8.0).max(12.0).to_string()} text-anchor={if x.px(n as f64) > W / 2.0 { "end" } else { "start" }}>
                            { format!("trial {n}: {} (click to show its curves)", precise(v)) }
                        </text>
                    </g>
                }
            </svg>
            <div class="legend">
                <span><i class="dot"></i>{ "objective value" }</span>
                <span><i style="background:#e8743b"></i>{ "best so far" }</span>
                if !pruned.is_empty() {
                    <span><i class="dot pruned"></i>{ "pruned (its last reported value)" }</span>
                }
                if let (false, Some(n)) = (rings.is_empty(), props.marked_for) {
                    <span><i class="dot" style="background:transparent;border:2px solid #19a979"></i>{ format!("TPE's good group when it proposed trial {n} (see Why this trial)") }</span>
                }
            </div>
        </div>
    }
}

/// Intermediate values of every trial (one line each), pruned ones highlighted.
#[function_component(IntermediateChart)]
pub fn intermediate_chart(props: &StudyChartProps) -> Html {
    let series = use_memo((props.data.clone(), props.pruner.clone()), |(d, pruner)| {
        let line = pruner_line(d, pruner.as_ref());
        let cuts = rung_cut_lines(d, pruner.as_ref());
        d.trials
            .iter()
            .filter(|t| !t.intermediate_values.is_empty())
            .map(|t| Series {
                name: format!("trial {}", t.number),
                color: match t.state {
                    TrialState::Pruned => "#c8553d".into(),
                    TrialState::Running => "#19a979".into(),
                    TrialState::Fail => "#999".into(),
                    _ => "#3b6fd8".into(),
                },
                points: t
                    .intermediate_values
                    .iter()
                    .map(|(s, v)| (*s as f64, *v))
                    .collect(),
                faint: d.trials.len() > 8,
                dashed: t.state == TrialState::Pruned,
            })
            // The pruner's lines last, so they are drawn over the trials.
            .chain(line)
            .chain(cuts)
            .collect::<Vec<_>>()
    });
    let line = series
        .iter()
        .find(|s| s.name.starts_with("the pruner's"))
        .map(|s| (s.name.clone(), s.points.len()));
    let rungs = series
        .iter()
        .filter(|s| s.name.starts_with("rung cut"))
        .count();
    html! {
        <>
            <LineChart series={series} log_y={props.log_y} x_label="epoch" y_label={props.data.objective.clone()}
                id="intermediate" empty="Intermediate values appear as trials report" />
            <div class="legend">
                <span><i style="background:#3b6fd8"></i>{ "complete" }</span>
                <span><i style="background:#c8553d"></i>{ "pruned" }</span>
                <span><i style="background:#19a979"></i>{ "running" }</span>
                if let Some((name, n)) = line {
                    <span data-testid="pruner-line" data-steps={n.to_string()}>
                        <i class="dashed-key"></i>{ format!("{name} of the completed trials: a trial whose best value so far is worse at a checked epoch is pruned") }
                    </span>
                }
                if rungs > 0 {
                    <span data-testid="rung-cut" data-rungs={rungs.to_string()}>
                        <i style="background:currentColor"></i>{ "rung cuts: at each rung's epoch a trial must be at least this good to go on (the best 1/reduction factor of the trials there)" }
                    </span>
                }
            </div>
        </>
    }
}

/// Parallel coordinates: one axis per parameter plus the objective; one polyline per
/// COMPLETE trial coloured by its value (best is yellow).
#[function_component(ParallelChart)]
pub fn parallel_chart(props: &StudyChartProps) -> Html {
    let d = &props.data;
    let axes = d.axes();
    let empty = d.completed().next().is_none() || axes.is_empty();
    let canvas = use_node_ref();
    let drawn = use_mut_ref(|| None::<DrawnLines>);
    {
        let canvas = canvas.clone();
        use_effect_with((d.clone(), props.log_y), move |(d, log_y)| {
            let mut held = drawn.borrow_mut();
            if empty {
                // The canvas is gone: the next one starts blank.
                *held = None;
            } else {
                draw_parallel_lines(&canvas, d, *log_y, &mut held);
            }
        });
    }
    if empty {
        return html! { <div class="chart empty" data-testid="parallel">{ "Parallel coordinates appear when a trial completes" }</div> };
    }
    let n_axes = axes.len() + 1;
    let gap = (W - 2.0 * 40.0) / (n_axes - 1).max(1) as f64;
    let ax_x = |i: usize| 40.0 + gap * i as f64;
    let (top, bottom) = (MT + 8.0, H - MB);
    let (obj, scales) = parallel_scales(d, props.log_y);
    let axis = |i: usize, name: &str, ticks: Vec<(f64, String)>| {
        let xx = ax_x(i);
        html! {
            <g class="paxis">
                <line class="axis" x1={xx.to_string()} x2={xx.to_string()} y1={top.to_string()} y2={bottom.to_string()} />
                { for ticks.iter().map(|(py, label)| html! {
                    <text class="tick" x={(xx + 4.0).to_string()} y={(py + 3.0).to_string()}>{ label.clone() }</text>
                }) }
                <text class="label" x={xx.to_string()} y={(H - 12.0).to_string()} text-anchor="middle">{ name.to_string() }</text>
            </g>
        }
    };
    html! {
        <div class="chart parallel" data-testid="parallel" data-lines={d.completed().count().to_string()}>
            <canvas ref={canvas} class="plines" aria-hidden="true"></canvas>
            <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none">
                { for axes.iter().zip(&scales).enumerate().map(|(i, (a, s))| {
                    let ticks = match a.labels() {
                        Some(l) => l.into_iter().enumerate().map(|(k, l)| (s.px(k as f64), l)).collect(),
                        None => s.ticks(4).into_iter().map(|v| (s.px(v), short(v))).collect(),
                    };
                    axis(i, &a.name, ticks)
                }) }
                { axis(n_axes - 1, &d.objective, obj.ticks(4).into_iter().map(|v| (obj.px(v), short(v))).collect()) }
            </svg>
        </div>
    }
}

/// The objective's scale and each parameter axis's scale of the parallel-coordinates chart
/// (view-box pixels).
fn parallel_scales(d: &StudyData, log_y: bool) -> (Scale, Vec<Scale>) {
    let (top, bottom) = (MT + 8.0, H - MB);
    let obj = Scale::fit(d.completed().filter_map(|t| t.value()), bottom, top, log_y);
    let scales = d
        .axes()
        .iter()
        .map(|a| {
            let (lo, hi) = a.bounds();
            Scale::range(lo, hi, bottom, top, a.log(), 0.04)
        })
        .collect();
    (obj, scales)
}

/// What the parallel-coordinates canvas holds: the lines of these trials, drawn with these
/// scales and colours at this size. A new snapshot with the same scales, colours and size
/// draws only its new trials' lines; anything else redraws them all.
struct DrawnLines {
    /// The canvas's backing size, the scales and the value range the colours come from.
    signature: String,
    /// Which trial numbers have their line drawn.
    drawn: Vec<bool>,
}

/// Colour buckets of a full redraw (one path each).
const LINE_BUCKETS: usize = 12;

/// Draws the trials' lines of the parallel-coordinates chart on its canvas: every line when
/// the canvas is new or its scales, colours or size changed, otherwise only the lines of
/// trials completed since the last draw (a new trial among 5,000 draws one line).
fn draw_parallel_lines(
    canvas: &NodeRef,
    d: &StudyData,
    log_y: bool,
    held: &mut Option<DrawnLines>,
) -> Option<()> {
    let c: web_sys::HtmlCanvasElement = canvas.cast()?;
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let (cw, ch) = (
        (f64::from(c.client_width()) * ratio).round().max(1.0),
        (f64::from(c.client_height()) * ratio).round().max(1.0),
    );
    let ctx: web_sys::CanvasRenderingContext2d = c.get_context("2d").ok()??.dyn_into().ok()?;
    let (obj, scales) = parallel_scales(d, log_y);
    let axes = d.axes();
    let signature = format!(
        "{cw}x{ch}|{obj:?}|{scales:?}|{:?}|{:?}",
        d.value_range(),
        axes.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
    // Another study (fewer trials than lines drawn) or other scales: everything again.
    let full = held
        .as_ref()
        .is_none_or(|h| h.signature != signature || h.drawn.len() > d.trials.len());
    if full {
        // Setting the size clears the canvas.
        c.set_width(cw as u32);
        c.set_height(ch as u32);
        *held = Some(DrawnLines {
            signature,
            drawn: Vec::new(),
        });
    }
    let held = held.as_mut()?;
    let n_axes = axes.len() + 1;
    let (sx, sy) = (cw / W, ch / H);
    let gap = (W - 2.0 * 40.0) / (n_axes - 1).max(1) as f64;
    let ax_x = |i: usize| (40.0 + gap * i as f64) * sx;
    let goodness = d.goodness_fn();
    let mut paths = vec![String::new(); LINE_BUCKETS];
    let mut new_lines = 0usize;
    for t in d.completed() {
        let n = t.number as usize;
        if held.drawn.get(n).copied().unwrap_or(false) {
            continue;
        }
        if held.drawn.len() <= n {
            held.drawn.resize(n + 1, false);
        }
        held.drawn[n] = true;
        new_lines += 1;
        let v = t.value().unwrap_or(f64::NAN);
        let b = ((goodness(v) * (LINE_BUCKETS - 1) as f64).round() as usize).min(LINE_BUCKETS - 1);
        let p = &mut paths[b];
        let mut first = true;
        for (i, (c, s)) in d.coords(t).into_iter().zip(&scales).enumerate() {
            if let Some(c) = c {
                push_pt(p, if first { 'M' } else { 'L' }, ax_x(i), s.px(c) * sy);
                first = false;
            }
        }
        push_pt(
            p,
            if first { 'M' } else { 'L' },
            ax_x(n_axes - 1),
            obj.px(v) * sy,
        );
    }
    if new_lines == 0 {
        return Some(());
    }
    // Hairlines, translucent where thousands overlap.
    ctx.set_line_width(ratio.max(1.0));
    ctx.set_global_alpha(if d.trials.len() > 1000 { 0.35 } else { 0.6 });
    ctx.set_line_join("round");
    for (b, p) in paths.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let path = web_sys::Path2d::new_with_path_string(p).ok()?;
        ctx.set_stroke_style_str(&ramp(b as f64 / (LINE_BUCKETS - 1) as f64));
        ctx.stroke_with_path(&path);
    }
    ctx.set_global_alpha(1.0);
    Some(())
}

/// Props of one slice plot.
#[derive(Clone, Debug, PartialEq, Properties)]
struct SliceProps {
    data: StudyData,
    axis: Axis,
    log_y: bool,
    /// `(trial number, coordinate, value)` of the COMPLETE trials that have the parameter.
    pts: Rc<Vec<(u64, f64, f64)>>,
}

const SW: f64 = 260.0;
const SH: f64 = 170.0;

/// One parameter against the objective. Points are drawn as one path per colour bucket
/// (cheap with 1,000 trials); hovering shows the nearest trial.
#[function_component(Slice)]
fn slice(props: &SliceProps) -> Html {
    let d = &props.data;
    let a = &props.axis;
    let hover = use_state(|| None::<(f64, f64)>);
    let pts = &props.pts;
    let y = Scale::fit(pts.iter().map(|p| p.2), SH - 28.0, 8.0, props.log_y);
    let (lo, hi) = a.bounds();
    let x = Scale::range(lo, hi, 40.0, SW - 8.0, a.log(), 0.06);
    let n = d.trials.len().max(2) as f64;
    const BUCKETS: usize = 10;
    let mut paths = vec![String::new(); BUCKETS];
    for &(num, c, v) in pts.iter() {
        let b = ((num as f64 / (n - 1.0)) * (BUCKETS - 1) as f64).round() as usize;
        push_dot(&mut paths[b.min(BUCKETS - 1)], x.px(c), y.px(v));
    }
    let onmove = {
        let hover = hover.clone();
        Callback::from(move |e: MouseEvent| {
            let Some(el) = e
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let r = el.get_bounding_client_rect();
            if r.width() > 0.0 {
                hover.set(Some((
                    (f64::from(e.client_x()) - r.left()) * SW / r.width(),
                    (f64::from(e.client_y()) - r.top()) * SH / r.height(),
                )));
            }
        })
    };
    let onleave = {
        let hover = hover.clone();
        Callback::from(move |_| hover.set(None))
    };
    let near = (*hover).and_then(|at| nearest(pts, at, 10.0, |p| (x.px(p.1), y.px(p.2))));
    let ticks = axis_ticks(&x, a.labels(), 4);
    html! {
        <div class="slice">
            <svg viewBox={format!("0 0 {SW} {SH}")} onmousemove={onmove} onmouseleave={onleave}>
                { for y.ticks(4).iter().map(|v| html! {
                    <g>
                        <line class="grid" x1="40" x2={(SW - 8.0).to_string()} y1={y.px(*v).to_string()} y2={y.px(*v).to_string()} />
                        <text class="tick" x="36" y={(y.px(*v) + 3.0).to_string()} text-anchor="end">{ short(*v) }</text>
                    </g>
                }) }
                { for ticks.iter().map(|(v, l)| html! {
                    <text class="tick" x={x.px(*v).to_string()} y={(SH - 14.0).to_string()} text-anchor="middle">{ l.clone() }</text>
                }) }
                { for paths.iter().enumerate().filter(|(_, p)| !p.is_empty()).map(|(b, p)| html! {
                    <path class={classes!("dots", (pts.len() > MANY_DOTS).then_some("many"))} d={p.clone()} style={format!("stroke:{}", ramp(b as f64 / (BUCKETS - 1) as f64))} />
                }) }
                if let Some((num, c, v)) = near {
                    <g pointer-events="none">
                        <circle cx={format!("{:.1}", x.px(c))} cy={format!("{:.1}", y.px(v))} r="5" class="pt-hover" />
                        <text class="tip-row" x={if x.px(c) > SW / 2.0 { (x.px(c) - 8.0).to_string() } else { (x.px(c) + 8.0).to_string() }}
                            y={(y.px(v) - 8.0).max(10.0).to_string()} text-anchor={if x.px(c) > SW / 2.0 { "end" } else { "start" }}>
                            { format!("trial {num}: {} = {}, value {}", a.name, precise(c), precise(v)) }
                        </text>
                    </g>
                }
                <text class="label" x={((40.0 + SW) / 2.0).to_string()} y={(SH - 1.0).to_string()} text-anchor="middle">{ a.name.clone() }</text>
            </svg>
        </div>
    }
}

/// One small scatter per parameter: parameter value against the objective.
#[function_component(SliceCharts)]
pub fn slice_charts(props: &StudyChartProps) -> Html {
    let d = &props.data;
    // Every slice's points in one pass over the trials (a merge of each trial's
    // parameters with the axes, not a lookup per axis and trial).
    let per_axis = use_memo(d.clone(), |d| {
        let mut out = vec![Vec::new(); d.axes().len()];
        for t in d.completed() {
            let Some(v) = t.value() else { continue };
            for (i, c) in d.coords(t).into_iter().enumerate() {
                if let Some(c) = c {
                    out[i].push((t.number, c, v));
                }
            }
        }
        out.into_iter().map(Rc::new).collect::<Vec<_>>()
    });
    if d.completed().next().is_none() {
        return html! { <div class="chart empty" data-testid="slice">{ "Slice plots appear when a trial completes" }</div> };
    }
    html! {
        <div class="slices" data-testid="slice">
            { for d.axes().iter().zip(per_axis.iter()).map(|(a, pts)| html! {
                <Slice data={d.clone()} axis={a.clone()} pts={pts.clone()} log_y={props.log_y} />
            }) }
            <div class="slice-note">{ "colour: trial number (dark = early, yellow = late); hover a point for its trial" }</div>
        </div>
    }
}

/// Props of [`ImportanceChart`].
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct ImportanceProps {
    /// `(parameter, share)` most important first.
    pub importances: Rc<Vec<(String, f64)>>,
}

/// Horizontal bars of the parameter importances (PED-ANOVA, normalised).
#[function_component(ImportanceChart)]
pub fn importance_chart(props: &ImportanceProps) -> Html {
    if props.importances.is_empty() {
        return html! { <div class="chart empty" data-testid="importance">{ "Importances need a few completed trials" }</div> };
    }
    let max = props
        .importances
        .iter()
        .map(|i| i.1)
        .fold(0.0, f64::max)
        .max(1e-12);
    html! {
        <div class="bars" data-testid="importance">
            { for props.importances.iter().map(|(name, v)| html! {
                <div class="bar-row">
                    <span class="bar-name">{ name.clone() }</span>
                    <span class="bar-track"><span class="bar" style={format!("width:{:.1}%", v / max * 100.0)}></span></span>
                    <span class="bar-val">{ format!("{:.2}", v) }</span>
                </div>
            }) }
        </div>
    }
}

/// Cells per side of the contour's surface.
const CONTOUR_N: usize = 28;

/// A contour of the objective over two chosen parameters (inverse-distance weighted),
/// with the trials on top.
#[function_component(ContourChart)]
pub fn contour_chart(props: &StudyChartProps) -> Html {
    let d = &props.data;
    let axes = d.axes();
    // Start with two numeric parameters when there are.
    let numeric: Vec<usize> = axes
        .iter()
        .enumerate()
        .filter(|(_, a)| a.labels().is_none())
        .map(|(i, _)| i)
        .collect();
    let first = (
        numeric.first().copied().unwrap_or(0),
        numeric
            .get(1)
            .copied()
            .unwrap_or(if numeric.first() == Some(&1) { 0 } else { 1 }),
    );
    let pick = use_state(move || first);
    let hover = use_state(|| None::<(f64, f64)>);
    // The surface is redrawn only when the study or the chosen pair changes (not on hover).
    let grid = use_memo((d.clone(), *pick), |(d, (xi, yi))| {
        let axes = d.axes();
        let last = axes.len().saturating_sub(1);
        match (axes.get((*xi).min(last)), axes.get((*yi).min(last))) {
            (Some(ax), Some(ay)) => contour(d, ax, ay, CONTOUR_N).unwrap_or_default(),
            _ => Vec::new(),
        }
    });
    if axes.len() < 2 || d.completed().count() < 2 {
        return html! { <div class="chart empty" data-testid="contour">{ "The contour needs two parameters and two completed trials" }</div> };
    }
    let (xi, yi) = (pick.0.min(axes.len() - 1), pick.1.min(axes.len() - 1));
    let select = |which: usize, cur: usize| {
        let pick = pick.clone();
        let onchange = Callback::from(move |e: Event| {
            if let Some(s) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
            {
                let i: usize = s.value().parse().unwrap_or(0);
                let (a, b) = *pick;
                pick.set(if which == 0 { (i, b) } else { (a, i) });
            }
        });
        html! {
            <select {onchange} aria-label={if which == 0 { "x parameter" } else { "y parameter" }}>
                { for axes.iter().enumerate().map(|(i, a)| html! {
                    <option value={i.to_string()} selected={i == cur}>{ a.name.clone() }</option>
                }) }
            </select>
        }
    };
    const N: usize = CONTOUR_N;
    let (ax, ay) = (&axes[xi], &axes[yi]);
    let (xlo, xhi) = ax.bounds();
    let (ylo, yhi) = ay.bounds();
    let x = Scale::range(xlo, xhi, ML, W - MR, ax.log(), 0.0);
    let y = Scale::range(ylo, yhi, H - MB, MT, ay.log(), 0.0);
    let cw = (W - MR - ML) / N as f64;
    let ch = (H - MB - MT) / N as f64;
    let goodness = d.goodness_fn();
    let cells = grid.iter().enumerate().map(|(k, v)| {
        let (i, j) = (k % N, k / N);
        html! {
            <rect x={format!("{:.1}", ML + i as f64 * cw)} y={format!("{:.1}", H - MB - (j + 1) as f64 * ch)}
                width={format!("{:.1}", cw + 0.6)} height={format!("{:.1}", ch + 0.6)} fill={ramp(goodness(*v))} />
        }
    });
    let same = xi == yi;
    // The trials: one path (thousands of elements would each be diffed on every new trial);
    // hovering names the nearest.
    let pts: Vec<(u64, f64, f64, f64)> = d
        .completed()
        .filter_map(|t| Some((t.number, ax.coord(t)?, ay.coord(t)?, t.value()?)))
        .collect();
    let mut dots = String::new();
    for &(_, cx, cy, _) in &pts {
        push_dot(&mut dots, x.px(cx), y.px(cy));
    }
    let near = (*hover).and_then(|at| nearest(&pts, at, 12.0, |p| (x.px(p.1), y.px(p.2))));
    let many = (pts.len() > MANY_DOTS).then_some("many");
    let (onmove, onleave) = hover_handlers(&hover, (W, H));
    html! {
        <div class="chart" data-testid="contour">
            <div class="chart-tools">{ "x " }{ select(0, xi) }{ " y " }{ select(1, yi) }</div>
            if same {
                <div class="chart empty">{ "Choose two different parameters" }</div>
            } else {
                <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" onmousemove={onmove} onmouseleave={onleave}>
                    { for cells }
                    <g class="over-heat">{ frame_sized((W, H), &x, &y, &ax.name, &ay.name, 5, ax.labels(), ay.labels()) }</g>
                    <path class={classes!("dots", "contour-edge", many)} d={dots.clone()} />
                    <path class={classes!("dots", "contour-dots", many)} d={dots} data-points={pts.len().to_string()} />
                    if let Some((n, cx, cy, v)) = near {
                        <g pointer-events="none">
                            <circle class="pt-hover" cx={px_text(x.px(cx))} cy={px_text(y.px(cy))} r="6" />
                            <text class="tip-row" x={if x.px(cx) > W / 2.0 { (x.px(cx) - 10.0).to_string() } else { (x.px(cx) + 10.0).to_string() }}
                                y={(y.px(cy) - 8.0).max(12.0).to_string()} text-anchor={if x.px(cx) > W / 2.0 { "end" } else { "start" }}>
                                { format!("trial {n}: {} = {}, {} = {}, value {}", ax.name, precise(cx), ay.name, precise(cy), precise(v)) }
                            </text>
                        </g>
                    }
                </svg>
            }
            <div class="legend"><span class="ramp"></span>{ "worse → better" }</div>
        </div>
    }
}

/// Props of [`BoundaryView`].
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct BoundaryProps {
    /// Class-1 probability on an `n × n` grid over [-1, 1]², row-major from the top.
    pub grid: Rc<Vec<f32>>,
    /// Grid side.
    pub n: usize,
    /// Data points `(x, y, label)` in [-1, 1]².
    pub points: Rc<Vec<(f32, f32, u8)>>,
    /// Caption.
    pub caption: AttrValue,
}

/// The decision boundary of a 2-D classifier as a heatmap with the data on top (canvas).
#[function_component(BoundaryView)]
pub fn boundary_view(props: &BoundaryProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let p = props.clone();
        use_effect_with((props.grid.clone(), props.points.clone()), move |_| {
            draw_boundary(&canvas, &p);
        });
    }
    html! {
        <figure class="boundary" data-testid="boundary">
            <canvas ref={canvas} width="240" height="240"></canvas>
            <figcaption>{ props.caption.clone() }</figcaption>
        </figure>
    }
}

fn draw_boundary(canvas: &NodeRef, p: &BoundaryProps) -> Option<()> {
    let c: web_sys::HtmlCanvasElement = canvas.cast()?;
    let ctx: web_sys::CanvasRenderingContext2d = c.get_context("2d").ok()??.dyn_into().ok()?;
    let size = 240usize;
    // Orange (class 0) ↔ white ↔ blue (class 1), like TensorFlow Playground.
    const STOPS: [(f64, f64, f64); 3] = [
        (245.0, 147.0, 34.0),
        (232.0, 234.0, 235.0),
        (8.0, 119.0, 189.0),
    ];
    if p.n > 0 && p.grid.len() == p.n * p.n {
        let mut px = vec![0u8; size * size * 4];
        for yy in 0..size {
            for xx in 0..size {
                let gi = (yy * p.n / size) * p.n + xx * p.n / size;
                let v = f64::from(p.grid[gi]);
                let (r, g, b) = crate::scale::ramp_rgb(v, &STOPS);
                let o = (yy * size + xx) * 4;
                px[o] = r;
                px[o + 1] = g;
                px[o + 2] = b;
                px[o + 3] = 200;
            }
        }
        let img = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
            wasm_bindgen::Clamped(&px),
            size as u32,
            size as u32,
        )
        .ok()?;
        ctx.put_image_data(&img, 0.0, 0.0).ok()?;
    } else {
        ctx.set_fill_style_str("#f3f4f6");
        ctx.fill_rect(0.0, 0.0, size as f64, size as f64);
    }
    let half = size as f64 / 2.0;
    for &(x, y, label) in p.points.iter() {
        ctx.begin_path();
        let _ = ctx.arc(
            half + f64::from(x) * half * 0.95,
            half - f64::from(y) * half * 0.95,
            2.6,
            0.0,
            std::f64::consts::TAU,
        );
        ctx.set_fill_style_str(if label == 0 { "#f59322" } else { "#0877bd" });
        ctx.fill();
        ctx.set_stroke_style_str("#fff");
        ctx.set_line_width(0.8);
        ctx.stroke();
    }
    Some(())
}

/// A palette colour for live-curve series `i`.
pub fn series_color(i: usize) -> String {
    palette(i).to_string()
}

#[cfg(test)]
mod tests {
    use super::{push_dot, px_text};

    #[test]
    fn coordinates_are_written_with_one_decimal() {
        let shown: Vec<String> = [0.0, 1.04, 1.06, -0.04, -2.36, 123.96, f64::NAN, 1e12]
            .iter()
            .map(|v| px_text(*v))
            .collect();
        assert_eq!(
            shown,
            [
                "0.0",
                "1.0",
                "1.1",
                "0.0",
                "-2.4",
                "124.0",
                "0",
                "1000000000.0"
            ]
        );
        for v in [0.3, 17.26, -9.99, 640.0, 0.05] {
            assert_eq!(px_text(v), format!("{v:.1}"));
        }
        let mut d = String::new();
        push_dot(&mut d, 1.0, -2.5);
        push_dot(&mut d, 10.25, 3.0);
        assert_eq!(d, "M1.0,-2.5h0M10.3,3.0h0");
    }
}
