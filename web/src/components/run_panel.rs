//! The run panel: Start, Pause, Resume, Stop, the progress and the notices.

use yew::prelude::*;

use crate::data::fmt_duration;
use crate::plain_quotes;
use crate::scale::short;
use crate::state::{Action, Notice, Progress, RunState};

/// Props of [`RunPanel`].
#[derive(Properties, PartialEq)]
pub struct RunProps {
    /// Where the run is.
    pub run: RunState,
    /// The run's progress.
    pub progress: Progress,
    /// The trial training right now when trials train one at a time.
    pub live_trial: Option<u64>,
    /// Trials that count so far.
    pub n_done: usize,
    /// The trial budget.
    pub total: usize,
    /// The time limit in seconds (0: none).
    pub time_limit_s: u32,
    /// Start continues the current study.
    pub resumable: bool,
    /// The setup has no problem: Start is enabled.
    pub valid: bool,
    /// Messages above the charts.
    pub notices: Vec<Notice>,
    /// Which backend trains, and why.
    pub backend_note: Option<String>,
    /// The CPU trains because no usable GPU was there: say it in plain words first.
    pub cpu_fallback: bool,
    /// The search settings in one line ("TPE · median pruner · 30 trials · CPU").
    pub summary: AttrValue,
    /// What the study will cost on this device, when measured.
    pub estimate: Option<AttrValue>,
    /// Which engine trains, and why.
    pub engine_note: Option<String>,
    /// `performance.now()` at this render (elapsed and remaining time count from it).
    pub now_ms: f64,
    /// Milliseconds the trainer waits after every step (0: full speed).
    pub step_delay_ms: u32,
    /// What the throughput counts: `samples/s`, or `tokens/s` for the language model.
    #[prop_or(AttrValue::Static("samples/s"))]
    pub throughput_unit: AttrValue,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// The controls, the trial and epoch progress with elapsed and remaining time, the
/// backend and engine notes and the notices.
#[function_component]
pub fn RunPanel(props: &RunProps) -> Html {
    let dispatch = &props.dispatch;
    let (n_done, total) = (props.n_done, props.total);
    let start_label = if props.resumable {
        format!("Resume study ({n_done}/{total})")
    } else {
        "Start".to_string()
    };
    let p = &props.progress;
    let run = props.run;
    let running = matches!(
        run,
        RunState::Running | RunState::Paused | RunState::Stopping
    );
    let elapsed = if running {
        p.elapsed_s(props.now_ms)
    } else {
        0.0
    };
    let epoch_frac = if !running {
        // Between runs no trial trains: the bar is empty, not the last trial's.
        0.0
    } else if p.parallel() {
        // The mean progress of the trials training at once.
        let n = p.running.len().max(1) as f64;
        p.running
            .values()
            .map(|(e, _)| *e as f64 / p.epochs.max(1) as f64)
            .sum::<f64>()
            / n
    } else if p.epochs > 0 && p.steps_per_epoch > 0 {
        ((p.epoch.saturating_sub(1)) as f64 + p.epoch_step as f64 / p.steps_per_epoch as f64)
            / p.epochs as f64
    } else {
        0.0
    };
    let in_flight = if p.parallel() {
        p.running.len()
    } else {
        usize::from(props.live_trial.is_some())
    };
    let epoch_label = match (
        p.parallel(),
        p.running.values().map(|(e, _)| *e).min(),
        p.running.values().map(|(e, _)| *e).max(),
    ) {
        (true, Some(lo), Some(hi)) if lo != hi => format!("epochs {lo}–{hi}/{}", p.epochs),
        (true, Some(e), _) => format!("epoch {e}/{}", p.epochs),
        (true, None, _) => "starting trials".to_string(),
        (false, ..) => format!("epoch {}/{}", p.epoch, p.epochs),
    };
    let mut remaining = if p.parallel() {
        // Trials end at the run's rate; the running ones are partly done.
        let left = total.saturating_sub(n_done) as f64 - epoch_frac * in_flight as f64;
        let rate = p.ended as f64 / elapsed.max(1e-9);
        if p.ended > 0 {
            left.max(0.0) / rate
        } else {
            f64::NAN
        }
    } else {
        let left = total.saturating_sub(n_done) as f64;
        let per = if p.durations.is_empty() {
            if epoch_frac > 0.02 {
                p.trial_elapsed_s(props.now_ms) / epoch_frac
            } else {
                f64::NAN
            }
        } else {
            p.durations.iter().sum::<f64>() / p.durations.len() as f64
        };
        per * (left - epoch_frac).max(0.0)
    };
    if props.time_limit_s > 0 {
        remaining = remaining.min((f64::from(props.time_limit_s) - elapsed).max(0.0));
    }
    let count = if total == 0 {
        "Set the number of trials".to_string()
    } else {
        format!("{n_done}/{total} trials done")
    };
    let reveal = Callback::from(|_: MouseEvent| reveal_search_settings());
    let epoch_pct = epoch_frac * 100.0;
    let study_pct = n_done as f64 / total.max(1) as f64 * 100.0;
    html! {
        <section class="status card" aria-label="run">
            <div class="controls">
                if run == RunState::Idle {
                    <button class="btn primary" data-testid="start" disabled={!props.valid}
                        title={if props.valid { "" } else { "fix the setup first" }}
                        onclick={dispatch.reform(|_| Action::Start)}>{ start_label }</button>
                    <button class="btn step" data-testid="next-trial" disabled={!props.valid}
                        title="run one trial, then pause: talk it through, then the next"
                        onclick={dispatch.reform(|_| Action::NextTrial)}>{ "Next trial" }</button>
                } else {
                    if run == RunState::Paused {
                        <button class="btn primary" data-testid="resume" onclick={dispatch.reform(|_| Action::Resume)}>{ "Resume" }</button>
                        if !p.parallel() {
                            <button class="btn step" data-testid="next-trial" title="run one more trial, then pause"
                                onclick={dispatch.reform(|_| Action::NextTrial)}>{ "Next trial" }</button>
                        }
                    } else {
                        <button class="btn" data-testid="pause" disabled={run != RunState::Running} onclick={dispatch.reform(|_| Action::Pause)}>{ "Pause" }</button>
                    }
                    <button class="btn danger" data-testid="stop" disabled={run == RunState::Stopping} onclick={dispatch.reform(|_| Action::Stop)}>{ if run == RunState::Stopping { "Stopping…" } else { "Stop" } }</button>
                }
                <div class="progress" data-testid="progress">
                    <div class="progress-line">
                        <span data-testid="trial-count"><strong>{ count }</strong></span>
                        if running && p.parallel() {
                            <span data-testid="in-flight">{ format!("{in_flight} at once") }</span>
                        }
                        if let (true, Some(n)) = (running, props.live_trial) {
                            <span data-testid="live-trial">{ format!("trial {n} training") }</span>
                        }
                        if running {
                            <span>{ epoch_label }</span>
                            <span data-testid="elapsed">{ format!("elapsed {}", fmt_duration(elapsed)) }</span>
                            <span>{ format!("remaining {}", if remaining.is_finite() { fmt_duration(remaining) } else { "–".into() }) }</span>
                            <span data-testid="throughput">{ format!("{} {}", short(p.samples_per_sec), props.throughput_unit) }</span>
                        }
                        <span class={classes!("state", format!("state-{run:?}").to_lowercase())} data-testid="run-state">{ match run {
                            RunState::Idle => "idle",
                            RunState::Starting => "starting…",
                            RunState::Running => "training",
                            RunState::Paused => "paused",
                            RunState::Stopping => "stopping",
                        } }</span>
                    </div>
                    <div class="bar-line">
                        <span class="bar-label">{ if p.parallel() { "these trials" } else { "this trial" } }</span>
                        <div class="bar-outer" role="progressbar" aria-label="epochs of the training trial" aria-valuemin="0" aria-valuemax="100" aria-valuenow={format!("{epoch_pct:.0}")}>
                            <div class="bar-inner" style={format!("width:{epoch_pct:.1}%")}></div>
                        </div>
                    </div>
                    <div class="bar-line">
                        <span class="bar-label">{ "study" }</span>
                        <div class="bar-outer thin" role="progressbar" aria-label="trials done" aria-valuemin="0" aria-valuemax="100" aria-valuenow={format!("{study_pct:.0}")}>
                            <div class="bar-inner alt" style={format!("width:{study_pct:.1}%")}></div>
                        </div>
                    </div>
                </div>
            </div>
            <p class="summary small" data-testid="search-summary">
                <span>{ props.summary.clone() }</span>
                if let Some(e) = &props.estimate {
                    <span class="estimate" data-testid="estimate">{ e.clone() }</span>
                }
                <button class="link" data-testid="change-search" onclick={reveal}>{ "change" }</button>
                <label class="speed">{ "speed" }
                    <select data-testid="speed" title="slow the training down to watch a model learn"
                        onchange={dispatch.reform(|e: Event| Action::Speed(super::value_of(&e).parse().unwrap_or(0)))}>
                        { for [(0u32, "full"), (20, "slow"), (80, "very slow")].iter().map(|(ms, label)| html! {
                            <option value={ms.to_string()} selected={props.step_delay_ms == *ms}>{ *label }</option>
                        }) }
                    </select>
                </label>
            </p>
            if let Some(note) = &props.backend_note {
                if props.cpu_fallback {
                    <div class="backend-note fallback" data-testid="backend-note">
                        <span>{ "No GPU available to this browser: training on the CPU, which is slower. " }</span>
                        <a href="https://developer.chrome.com/docs/web-platform/webgpu/troubleshooting-tips" target="_blank" rel="noopener">{ "How to enable WebGPU →" }</a>
                        <details><summary>{ "Details" }</summary><span>{ note.clone() }</span></details>
                    </div>
                } else {
                    <p class="backend-note" data-testid="backend-note">{ note.clone() }</p>
                }
            }
            if let Some(note) = &props.engine_note {
                <p class="backend-note" data-testid="engine-note">{ note.clone() }</p>
            }
            { for props.notices.iter().map(|n| {
                let id = n.id;
                html! {
                    <div class={classes!("notice", n.level)} role={if n.level == "error" { "alert" } else { "status" }} data-testid={format!("notice-{}", n.id)}>
                        <span>{ plain_quotes(&n.text) }</span>
                        <button class="icon" aria-label="dismiss" onclick={dispatch.reform(move |_| Action::Dismiss(id))}>{ "×" }</button>
                    </div>
                }
            }) }
        </section>
    }
}

/// Opens step 3 of the setup (sampler, pruner, trials, backend), scrolls to it and puts the
/// focus on its first control.
fn reveal_search_settings() {
    use wasm_bindgen::JsCast;
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(step) = doc.get_element_by_id("how-to-search") else {
        return;
    };
    if let Some(d) = step.dyn_ref::<web_sys::HtmlDetailsElement>() {
        d.set_open(true);
    }
    step.scroll_into_view();
    if let Some(first) = step
        .query_selector("select")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = first.focus();
    }
}
