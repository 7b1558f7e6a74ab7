//! The setup panel: the problem, the search space and how to search.

use std::rc::Rc;

use yew::prelude::*;

use sweeplab_core::config::PrunerConfig;

use super::{Info, edit, value_of};
use crate::plain_quotes;
use crate::setup::{
    BackendChoice, Dataset, ModelKind, Objective, PRESETS, ParamKind, ParamSpec, QUICK_EPOCHS,
    QUICK_TRIALS, SamplerChoice, Setup,
};
use crate::state::{Action, YamlBox};
use crate::text::{objective_info, pruner_info, sampler_info, sampler_note};

/// Props of [`SetupPanel`].
#[derive(Properties, PartialEq)]
pub struct SetupProps {
    /// The setup being edited.
    pub setup: Setup,
    /// A run is in progress: the setup is read-only.
    pub locked: bool,
    /// The W&B sweep YAML box.
    pub yaml: YamlBox,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
    /// A YAML file was chosen (the page reads it and sends its text).
    pub on_yaml_file: Callback<web_sys::File>,
    /// What the study will take on this device, when measured.
    #[prop_or_default]
    pub estimate: Option<AttrValue>,
    /// A narrow screen: steps 2 and 3 start collapsed.
    #[prop_or_default]
    pub narrow: bool,
    /// Trials record weight and gradient histograms.
    #[prop_or_default]
    pub histograms: bool,
    /// A language-model study trains its baselines after its trials.
    #[prop_or_default]
    pub baselines: bool,
}

/// Presets, data set, model, epochs and objective; the search space; sampler, seed,
/// pruner, budget and backend. Every problem of the setup is shown where it is.
#[function_component]
pub fn SetupPanel(props: &SetupProps) -> Html {
    let dispatch = &props.dispatch;
    let s = &props.setup;
    let problems = s.problems();
    let global: Vec<&String> = problems
        .iter()
        .filter(|(i, _)| *i == usize::MAX)
        .map(|(_, m)| m)
        .collect();
    let preset_blurb = PRESETS
        .iter()
        .find(|p| p.id == s.preset)
        .map(|p| p.blurb)
        .unwrap_or("A custom setup.");
    let on_yaml_file = props.on_yaml_file.clone();
    html! {
        <fieldset class="setup" disabled={props.locked}>
            <section data-testid="step-problem">
                <h2>{ "1 · Pick a problem" }</h2>
                <div class="presets" role="group" aria-label="presets">
                    { for PRESETS.iter().map(|p| {
                        let id = p.id;
                        html! {
                            <button class={classes!("chip", (s.preset == p.id).then_some("active"))}
                                data-testid={format!("preset-{id}")}
                                onclick={dispatch.reform(move |_| Action::Preset(id))}>{ p.title }</button>
                        }
                    }) }
                </div>
                <p class="muted small">{ preset_blurb }</p>
                if props.estimate.is_some() || (s.is_heavy() && !s.is_quick()) {
                    <p class="cost small" data-testid="setup-estimate">
                        if let Some(e) = &props.estimate {
                            <span>{ format!("{} trials × {} epochs: {e}", s.n_trials, s.epochs) }</span>
                        }
                        if s.is_heavy() && !s.is_quick() {
                            <button class="btn small ghost" data-testid="make-quick"
                                onclick={dispatch.reform(|_| Action::Edit(Rc::new(|s: &mut Setup| s.make_quick())))}>
                                { format!("Quick version: {QUICK_TRIALS} trials × {QUICK_EPOCHS} epoch") }
                            </button>
                        }
                    </p>
                }
                <div class="grid2">
                    <label>{ "Data set" }
                        <select data-testid="dataset" onchange={edit(dispatch, |s, v| if let Some(d) = Dataset::parse(&v) { s.dataset = d; if !d.is_2d() { s.objective = Objective::ValAccuracy } })}>
                            { for Dataset::ALL.iter().map(|d| html! { <option value={d.id()} selected={*d == s.dataset}>{ d.label() }</option> }) }
                        </select>
                    </label>
                    <label>{ "Model" }
                        <select data-testid="model" onchange={edit(dispatch, |s, v| s.model = ModelKind::parse(&v).unwrap_or(ModelKind::Mlp))}>
                            { for [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lora].iter().map(|m| html! {
                                <option value={m.id()} selected={s.model == *m}>{ m.label() }</option>
                            }) }
                        </select>
                    </label>
                    <label>{ "Epochs per trial" }
                        <input type="number" min="1" max="1000" data-testid="epochs" value={s.epochs.to_string()}
                            oninput={edit(dispatch, |s, v| s.epochs = v.trim().parse().unwrap_or(0))} />
                    </label>
                    <div class="field">
                        <div class="field-head"><label for="objective">{ "Objective" }</label><Info topic="the objective" text={objective_info(s.objective)} /></div>
                        <select id="objective" data-testid="objective" onchange={edit(dispatch, |s, v| if let Ok(o) = Objective::parse(&v) { s.objective = o })}>
                            { for Objective::ALL.iter().map(|o| html! {
                                <option value={o.series()} selected={s.objective == *o}>{ o.short_label() }</option>
                            }) }
                        </select>
                    </div>
                </div>
                if s.dataset == Dataset::Mnist {
                    <p class="muted small">{ "MNIST (10,000 digits) by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0." }</p>
                }
                if s.dataset.is_text() {
                    <p class="muted small" data-testid="lm-credit">{ "A byte-level transformer pretrained on Jane Austen's novels (public domain) learns Ambrose Bierce's The Devil's Dictionary (1911, public domain). val/loss is in nats per byte; the frozen base scores 2.04." }</p>
                }
            </section>
            <details class="step" open={!props.narrow} data-testid="step-space">
                <summary><h2>{ "2 · Define the search space" }</h2></summary>
                <SpaceEditor params={s.params.clone()} problems={problems.clone()} dispatch={dispatch.clone()} />
                <div class="row">
                    <button class="btn small" data-testid="add-param" onclick={dispatch.reform(|_| Action::Edit(Rc::new(|s: &mut Setup| {
                        let n = s.params.len();
                        let name = ["weight_decay", "momentum", "dropout", "lr"].iter()
                            .find(|c| !s.params.iter().any(|p| p.name == **c)).map_or(format!("param_{n}"), |c| c.to_string());
                        s.params.push(ParamSpec::float(&name, 0.0, 0.1, false));
                    })))}>{ "+ Add parameter" }</button>
                    <button class="btn small ghost" data-testid="yaml-toggle" onclick={dispatch.reform(|_| Action::ToggleYaml)}>{ "Import W&B sweep YAML" }</button>
                </div>
                if props.yaml.open {
                    <div class="yaml">
                        <p class="muted small">{ "Paste a W&B sweep file (or upload one). Its parameters, method and early termination replace the search space and sampler above." }</p>
                        <textarea data-testid="yaml-text" rows="10" aria-label="W&B sweep YAML" placeholder={crate::yaml::SAMPLE}
                            value={props.yaml.text.clone()}
                            oninput={dispatch.reform(|e: InputEvent| Action::YamlText(value_of(e.as_ref())))} />
                        <div class="row">
                            <button class="btn small" data-testid="yaml-apply" onclick={dispatch.reform(|_| Action::YamlApply)}>{ "Replace the setup with this sweep" }</button>
                            <label class="btn small ghost file">{ "Upload .yaml" }
                                <input type="file" accept=".yaml,.yml,text/yaml" data-testid="yaml-file"
                                    onchange={Callback::from(move |e: Event| {
                                        use wasm_bindgen::JsCast;
                                        if let Some(f) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                                            .and_then(|i| i.files()).and_then(|f| f.get(0)) {
                                            on_yaml_file.emit(f);
                                        }
                                    })} />
                            </label>
                        </div>
                        if let Some(e) = &props.yaml.error {
                            <p class="error-text" role="alert" data-testid="yaml-error">{ plain_quotes(e) }</p>
                        }
                    </div>
                }
            </details>
            <details class="step" id="how-to-search" open={!props.narrow} data-testid="step-search">
                <summary><h2>{ "3 · Choose how to search" }</h2></summary>
                <div class="grid2">
                    <div class="field">
                        <div class="field-head"><label for="sampler">{ "Sampler" }</label><Info topic="the sampler" text={sampler_info(s.sampler)} /></div>
                        <select id="sampler" data-testid="sampler" onchange={edit(dispatch, |s, v| s.sampler = SamplerChoice::from_id(&v).unwrap_or(SamplerChoice::TPE))}>
                            { for SamplerChoice::ALL.iter().map(|k| html! { <option value={k.id()} selected={*k == s.sampler}>{ k.label() }</option> }) }
                        </select>
                    </div>
                    <label>{ "Seed" }
                        <input type="number" min="0" data-testid="seed" placeholder="random" value={s.seed.map(|v| v.to_string()).unwrap_or_default()}
                            oninput={edit(dispatch, |s, v| s.seed = v.trim().parse().ok())} />
                    </label>
                    <div class="field">
                        <div class="field-head"><label for="pruner">{ "Pruner" }</label><Info topic="the pruner" text={pruner_info(&s.pruner)} /></div>
                        <select id="pruner" data-testid="pruner" onchange={edit(dispatch, |s, v| if let Some(p) = PrunerConfig::with_defaults(&v) { s.pruner = p })}>
                            { for PrunerConfig::KINDS.iter().filter_map(|k| PrunerConfig::with_defaults(k)).map(|p| html! {
                                <option value={p.kind()} selected={p.kind() == s.pruner.kind()}>{ p.label() }</option>
                            }) }
                        </select>
                    </div>
                    <label>{ "Trials" }
                        <input type="number" min="1" max="10000" data-testid="n-trials" value={s.n_trials.to_string()}
                            oninput={edit(dispatch, |s, v| s.n_trials = v.trim().parse().unwrap_or(0))} />
                    </label>
                    <label>{ "Time limit (s, 0 = none)" }
                        <input type="number" min="0" data-testid="time-limit" value={s.time_limit_s.to_string()}
                            oninput={edit(dispatch, |s, v| s.time_limit_s = v.trim().parse().unwrap_or(0))} />
                    </label>
                    <label>{ "Backend" }
                        <select data-testid="backend" onchange={edit(dispatch, |s, v| s.backend = BackendChoice::parse(&v).unwrap_or_default())}>
                            { for BackendChoice::ALL.iter().map(|k| html! { <option value={k.name()} selected={*k == s.backend}>{ k.label() }</option> }) }
                        </select>
                    </label>
                </div>
                <label class="check" title="After every epoch, each layer's weights and gradients as histograms: the Weights tab, TensorBoard's Histograms and Distributions, W&B's histogram charts">
                    <input type="checkbox" data-testid="histograms" checked={props.histograms} disabled={props.locked}
                        onchange={dispatch.reform(|e: Event| Action::Histograms(super::value_of(&e) == "true"))} />
                    { "Record weight and gradient histograms" }
                </label>
                if s.dataset.is_text() {
                    <label class="check" title="With the best trial's budget: the frozen base evaluated, full fine-tuning of every weight, and the best trial's adapters over the base in the other precisions (f32, int8, int4); the Baselines card shows them">
                        <input type="checkbox" data-testid="baselines-check" checked={props.baselines} disabled={props.locked}
                            onchange={dispatch.reform(|e: Event| Action::Baselines(super::value_of(&e) == "true"))} />
                        { "Train the baselines after the trials (about three trials more)" }
                    </label>
                }
                <PrunerArgs pruner={s.pruner.clone()} dispatch={dispatch.clone()} />
                if let Some(note) = sampler_note(s.sampler) {
                    <p class="muted small" data-testid="sampler-note">{ note }</p>
                }
                if let Some(n) = s.grid_points() {
                    <p class="muted small">{ format!("The grid has {n} points; the study stops when all are visited.") }</p>
                }
            </details>
            { for global.iter().map(|m| html! { <p class="error-text" role="alert" data-testid="setup-error">{ plain_quotes(m) }</p> }) }
        </fieldset>
    }
}

/// Props of [`SpaceEditor`].
#[derive(Properties, PartialEq)]
pub struct SpaceProps {
    /// The parameters, in editor order.
    pub params: Vec<ParamSpec>,
    /// The setup's problems: `(row, message)`, `usize::MAX` for the setup as a whole.
    pub problems: Vec<(usize, String)>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// One row per searched parameter: name, type, range or choices, and its problem.
#[function_component]
pub fn SpaceEditor(props: &SpaceProps) -> Html {
    let dispatch = &props.dispatch;
    html! {
        <div class="space" data-testid="space">
            { for props.params.iter().enumerate().map(|(i, p)| {
                let err = props.problems.iter().find(|(k, _)| *k == i).map(|(_, m)| m.clone());
                let numeric = p.kind != ParamKind::Categorical;
                // What a screen reader says for each control: "lr, low", not just "low".
                let who = if p.name.trim().is_empty() { format!("parameter {}", i + 1) } else { p.name.trim().to_string() };
                let aria = |what: &str| format!("{who}, {what}");
                html! {
                    <div class={classes!("param", err.is_some().then_some("invalid"))} data-testid="param-row">
                        <div class="param-line">
                            <input class="pname" aria-label={format!("parameter {}, name", i + 1)} data-testid="param-name" value={p.name.clone()}
                                oninput={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.name = v })} />
                            <select aria-label={aria("type")} data-testid="param-kind" onchange={edit(dispatch, move |s, v| if let (Some(p), Some(k)) = (s.params.get_mut(i), ParamKind::parse(&v)) {
                                p.kind = k;
                                if k == ParamKind::Categorical && p.choices.is_empty() { p.choices = "a, b".into() }
                                if k == ParamKind::Int { p.log = p.log && p.low.parse::<i64>().is_ok_and(|l| l >= 1); }
                            })}>
                                { for [ParamKind::Float, ParamKind::Int, ParamKind::Categorical].iter().map(|k| html! {
                                    <option value={k.id()} selected={*k == p.kind}>{ k.id() }</option>
                                }) }
                            </select>
                            <button class="icon" title="remove" aria-label={format!("remove {who}")} data-testid="param-remove"
                                onclick={dispatch.reform(move |_| Action::Edit(Rc::new(move |s: &mut Setup| { if i < s.params.len() { s.params.remove(i); } })))}>{ "×" }</button>
                        </div>
                        if numeric {
                            <div class="param-line">
                                <label class="mini">{ "low" }<input aria-label={aria("low")} data-testid="param-low" value={p.low.clone()}
                                    oninput={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.low = v })} /></label>
                                <label class="mini">{ "high" }<input aria-label={aria("high")} data-testid="param-high" value={p.high.clone()}
                                    oninput={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.high = v })} /></label>
                                <label class="mini">{ "step" }<input aria-label={aria("step")} data-testid="param-step" placeholder={if p.kind == ParamKind::Int { "1" } else { "none" }} value={p.step.clone()}
                                    oninput={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.step = v })} /></label>
                                <label class="check"><input type="checkbox" aria-label={aria("log scale")} data-testid="param-log" checked={p.log}
                                    onchange={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.log = v == "true" })} />{ "log" }</label>
                            </div>
                        } else {
                            <div class="param-line">
                                <label class="mini wide">{ "choices" }<input aria-label={aria("choices")} data-testid="param-choices" value={p.choices.clone()} placeholder="adam, sgd"
                                    oninput={edit(dispatch, move |s, v| if let Some(p) = s.params.get_mut(i) { p.choices = v })} /></label>
                            </div>
                        }
                        if let Some(e) = err {
                            <p class="error-text" role="alert" data-testid="param-error">{ plain_quotes(&e) }</p>
                        }
                    </div>
                }
            }) }
        </div>
    }
}

/// Props of [`PrunerArgs`].
#[derive(Properties, PartialEq)]
pub struct PrunerArgsProps {
    /// The pruner.
    pub pruner: PrunerConfig,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// One input per argument of the chosen pruner, named as Optuna names them (read from the
/// core's `PrunerConfig` as serde data, so a new argument shows up here by itself); an empty
/// resource input is Optuna's `"auto"`. What Optuna would refuse is shown as a setup
/// problem; what is not a number is not taken.
#[function_component]
pub fn PrunerArgs(props: &PrunerArgsProps) -> Html {
    let Ok(serde_json::Value::Object(args)) = serde_json::to_value(&props.pruner) else {
        return html! {};
    };
    let args: Vec<(String, String)> = args
        .into_iter()
        .filter(|(name, _)| name != "type")
        .map(|(name, v)| {
            (
                name,
                if v.is_null() {
                    String::new()
                } else {
                    v.to_string()
                },
            )
        })
        .collect();
    if args.is_empty() {
        return html! {};
    }
    html! {
        <div class="grid2 pruner-args" data-testid="pruner-args">
            { for args.into_iter().map(|(name, value)| html! {
                <label>{ name.clone() }
                    <input data-testid={format!("pruner-{name}")} value={value}
                        placeholder={if name.ends_with("resource") { "auto" } else { "" }}
                        oninput={edit(&props.dispatch, move |s, v| set_arg(&mut s.pruner, &name, &v))} />
                </label>
            }) }
        </div>
    }
}

/// Sets argument `name` of `pruner` to the number `text` (empty: `null`, Optuna's
/// `"auto"`); leaves it unchanged when the result is not a valid `PrunerConfig`.
fn set_arg(pruner: &mut PrunerConfig, name: &str, text: &str) {
    let value = match text.trim() {
        "" => serde_json::Value::Null,
        t => match serde_json::from_str::<serde_json::Value>(t) {
            Ok(v @ serde_json::Value::Number(_)) => v,
            _ => return,
        },
    };
    if let Ok(serde_json::Value::Object(mut args)) = serde_json::to_value(&*pruner) {
        args.insert(name.to_string(), value);
        if let Ok(p) = serde_json::from_value(serde_json::Value::Object(args)) {
            *pruner = p;
        }
    }
}
