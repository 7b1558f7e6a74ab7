//! The study panel: the selected trial's live curves and decision boundary, the study's
//! plots and its best trial.

use std::collections::BTreeMap;
use std::rc::Rc;

use sweeplab_core::samplers::tpe::explain::Explain;
use sweeplab_core::vocab::Objective;
use yew::prelude::*;

use super::{ExplainView, HistogramView, Info, fmt_param, value_of};
use crate::charts::{
    BoundaryView, ContourChart, HistoryChart, ImportanceChart, IntermediateChart, LineChart,
    ParallelChart, Series, SliceCharts,
};
use crate::data::{StudyData, fmt_duration, prune_reason, shown_state};
use crate::scale::precise;
use crate::state::{Action, Live};
use crate::text::{PLOT_TABS, tab_info};

/// Props of [`LivePanel`].
#[derive(Properties, PartialEq)]
pub struct LiveProps {
    /// The trial shown.
    pub selected: Option<u64>,
    /// The study.
    pub data: StudyData,
    /// The running trial's curves.
    pub live: Live,
    /// Decision boundaries by trial.
    pub boundaries: BTreeMap<u64, Rc<Vec<f32>>>,
    /// The boundary grid's side.
    pub boundary_n: usize,
    /// The data set's points (2-D sets).
    pub points: Rc<Vec<(f32, f32, u8)>>,
    /// The data set is 2-D and the study is real: draw the boundary.
    pub show_boundary: bool,
    /// Log-scale y axes.
    pub log_y: bool,
    /// Smoothing weight.
    pub smoothing: f64,
    /// The study's pruner (a pruned trial says which line it crossed).
    pub pruner: sweeplab_core::config::PrunerConfig,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// Trial `n`'s loss and accuracy curves: live while it trains, from its logged series after.
fn curves_of(live: &Live, data: &StudyData, n: u64) -> (Vec<Series>, Vec<Series>) {
    let (train, vl, va) = if live.trial == Some(n) {
        (
            live.train.clone(),
            live.val_loss.clone(),
            live.val_acc.clone(),
        )
    } else if let Some(t) = data.trials.get(n as usize) {
        let pts = |k: &str| {
            t.series
                .get(k)
                .map(|v| v.iter().map(|p| (p.step as f64, p.value)).collect())
                .unwrap_or_default()
        };
        (pts("train/loss"), pts("val/loss"), pts("val/accuracy"))
    } else {
        Default::default()
    };
    // Train loss is per step; plot it in epochs so it lines up with validation.
    let spe = if live.trial == Some(n) {
        live.steps_per_epoch.max(1) as f64
    } else {
        let max_step = train.last().map_or(1.0, |p| p.0);
        let epochs = vl.last().map_or(1.0, |p| p.0).max(1.0);
        (max_step / epochs).max(1.0)
    };
    let loss = vec![
        Series {
            name: "train loss".into(),
            color: "#3b6fd8".into(),
            points: train.iter().map(|p| (p.0 / spe, p.1)).collect(),
            faint: false,
            dashed: false,
        },
        Series {
            name: "val loss".into(),
            color: "#e8743b".into(),
            points: vl,
            faint: false,
            dashed: false,
        },
    ];
    let acc = vec![Series {
        name: "val accuracy".into(),
        color: "#19a979".into(),
        points: va,
        faint: false,
        dashed: false,
    }];
    (loss, acc)
}

/// The selected trial: its state, parameters, curves and decision boundary.
#[function_component]
pub fn LivePanel(props: &LiveProps) -> Html {
    let dispatch = &props.dispatch;
    let sel = props.selected;
    let (loss, acc) = sel
        .map(|n| curves_of(&props.live, &props.data, n))
        .unwrap_or_default();
    let trial = sel.and_then(|n| props.data.trials.get(n as usize));
    let title = match (sel, trial) {
        (Some(n), Some(t)) => format!("Trial {n} · {}", shown_state(t)),
        (Some(n), None) => format!("Trial {n}"),
        _ => "No trial yet".into(),
    };
    let params = trial
        .map(|t| {
            t.params()
                .iter()
                .map(|(k, v)| format!("{k} = {}", fmt_param(v)))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default();
    let boundary = sel.and_then(|n| props.boundaries.get(&n).cloned());
    // A language-model trial's latest text sample: live while it trains, then from the study.
    let sample = sel.and_then(
        |n| match (&props.live.sample, props.live.trial == Some(n)) {
            (Some(live), true) => Some(live.clone()),
            _ => trial.and_then(|t| {
                sweeplab_core::trial::text_samples(t)
                    .pop()
                    .map(|(e, p, x)| (e.max(0) as usize, p, x))
            }),
        },
    );
    html! {
        <section class="card live">
            <div class="card-head">
                <h2 data-testid="live-title">{ title }</h2>
                <div class="tools">
                    <label class="check"><input type="checkbox" data-testid="log-scale" checked={props.log_y} onchange={dispatch.reform(|_| Action::ToggleLog)} />{ "log scale" }</label>
                    <label class="slider">{ "smoothing" }
                        <input type="range" min="0" max="0.95" step="0.05" data-testid="smoothing" value={props.smoothing.to_string()}
                            oninput={dispatch.reform(|e: InputEvent| Action::Smoothing(value_of(e.as_ref()).parse().unwrap_or(0.0)))} />
                        <span class="muted">{ format!("{:.2}", props.smoothing) }</span>
                    </label>
                </div>
            </div>
            if !params.is_empty() { <p class="params muted small" data-testid="live-params">{ params }</p> }
            if let Some(why) = trial.and_then(|t| prune_reason(&props.data, t, &props.pruner)) {
                <p class="prune-reason small" data-testid="prune-reason">{ why }</p>
            }
            if let Some((epoch, prompt, text)) = sample {
                <div class="text-sample" data-testid="text-sample">
                    <p class="muted small">{ format!("what the model writes after evaluation {epoch}") }</p>
                    <pre><strong>{ prompt }</strong>{ text }</pre>
                </div>
            }
            <div class={classes!("live-grid", (!props.show_boundary).then_some("no-boundary"))}>
                <LineChart series={Rc::new(loss)} log_y={props.log_y} smoothing={props.smoothing} x_label="epoch" y_label="loss" id="curve-loss" empty="Loss curves appear as the trial trains" compact=true />
                <LineChart series={Rc::new(acc)} smoothing={props.smoothing} x_label="epoch" y_label="accuracy" id="curve-acc" empty="Validation accuracy appears after the first epoch" compact=true />
                if props.show_boundary {
                    <BoundaryView grid={boundary.unwrap_or_default()} n={props.boundary_n} points={props.points.clone()}
                        caption={AttrValue::from(if sel.is_some() { "decision boundary (orange: class 0, blue: class 1)" } else { "the decision boundary appears as a trial trains" })} />
                }
            </div>
        </section>
    }
}

/// Props of [`StudyPanel`].
#[derive(Properties, PartialEq)]
pub struct StudyProps {
    /// The study.
    pub data: StudyData,
    /// PED-ANOVA importances.
    pub importances: Rc<Vec<(String, f64)>>,
    /// The plot tab.
    pub tab: &'static str,
    /// Log-scale y axes.
    pub log_y: bool,
    /// What the study optimises.
    pub objective: Objective,
    /// The study's pruner (the intermediate values show its line).
    pub pruner: Option<sweeplab_core::config::PrunerConfig>,
    /// The selected trial ("Why this trial" explains it).
    pub selected: Option<u64>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// The study's plots (history, intermediate values, parallel coordinates, slices,
/// importances, contour, why TPE proposed the selected trial) and its best trial with the counts by state.
#[function_component]
pub fn StudyPanel(props: &StudyProps) -> Html {
    let dispatch = &props.dispatch;
    let on_select = dispatch.reform(Action::Select);
    let best = props.data.best();
    let tabs = PLOT_TABS;
    let data = &props.data;
    let body = match props.tab {
        "intermediate" => {
            html! { <IntermediateChart data={data.clone()} log_y={props.log_y} pruner={props.pruner.clone()} /> }
        }
        "parallel" => html! { <ParallelChart data={data.clone()} log_y={props.log_y} /> },
        "slice" => html! { <SliceCharts data={data.clone()} log_y={props.log_y} /> },
        "importance" => html! { <ImportanceChart importances={props.importances.clone()} /> },
        "contour" => html! { <ContourChart data={data.clone()} /> },
        "explain" => html! { <ExplainView data={data.clone()} selected={props.selected} /> },
        "weights" => html! { <HistogramView data={data.clone()} selected={props.selected} /> },
        _ => {
            // The selected trial's TPE split, if it has one: its good group is ringed.
            let marked: Vec<u64> = props
                .selected
                .and_then(|n| data.trials.get(n as usize))
                .and_then(|t| {
                    Explain::of_trial(t).into_iter().find_map(|r| match r {
                        Explain::Tpe(e) => Some(e.below),
                        Explain::Startup { .. } => None,
                    })
                })
                .unwrap_or_default();
            html! { <HistoryChart data={data.clone()} log_y={props.log_y} on_select={on_select} marked={Rc::new(marked)} marked_for={props.selected} /> }
        }
    };
    html! {
        <div class="study-row">
            <section class="card plots">
                <div class="tabs-row">
                    <div class="tabs" role="tablist" aria-label="study plots">
                        { for tabs.iter().map(|(id, label)| {
                            let id = *id;
                            html! {
                                <button role="tab" class={classes!("tab", (props.tab == id).then_some("active"))} data-testid={format!("tab-{id}")}
                                    title={tab_info(id)} aria-selected={(props.tab == id).to_string()} onclick={dispatch.reform(move |_| Action::Tab(id))}>{ *label }</button>
                            }
                        }) }
                    </div>
                    <Info topic={format!("the {} plot", tabs.iter().find(|(id, _)| *id == props.tab).map_or("History", |t| t.1))} text={tab_info(props.tab)} />
                </div>
                { body }
            </section>
            <section class="card best" data-testid="best-card">
                <h2>{ "Best trial" }</h2>
                if let Some(b) = best {
                    <div class="best-value">{ precise(b.value().unwrap_or(f64::NAN)) }</div>
                    <div class="muted small">{ format!("{} · trial {}", props.objective.label(), b.number) }</div>
                    <table class="kv">
                        { for b.params().iter().map(|(k, v)| html! { <tr><th>{ k.clone() }</th><td>{ fmt_param(v) }</td></tr> }) }
                        if let Some(d) = b.duration() {
                            <tr><th>{ "duration" }</th><td>{ fmt_duration(d.as_seconds_f64()) }</td></tr>
                        }
                    </table>
                    <button class="btn small ghost" onclick={dispatch.reform({ let n = b.number; move |_| Action::Select(n) })}>{ "Show its curves" }</button>
                } else {
                    <p class="muted">{ "The best trial appears when one completes." }</p>
                }
                <div class="counts">
                    { for ["complete", "pruned", "fail", "stopped", "running"].iter().filter_map(|st| {
                        let n = data.trials.iter().filter(|t| shown_state(t) == *st).count();
                        // "stopped" only when a Stop or a closed page ended a trial.
                        (n > 0 || *st != "stopped").then(|| html! {
                            <span class={classes!("pill", *st)} data-testid={format!("count-{st}")}>{ format!("{n} {st}") }</span>
                        })
                    }) }
                </div>
            </section>
        </div>
    }
}
