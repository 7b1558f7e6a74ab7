//! The Baselines card of a language-model study: the best trial beside what its budget gives
//! with the base left as it is, with every weight trained, and with the base held in other
//! precisions (f32, int8, int4: val/loss against memory), from the study's `baselines`
//! attribute (the core's `run_baselines` trains them once the trials are done).

use std::rc::Rc;

use sweeplab_core::FrozenTrial;
use sweeplab_core::baselines::{Baseline, memory_text};
use sweeplab_core::json::Json;
use yew::prelude::*;

use crate::data::StudyData;

/// Props of [`BaselinesCard`].
#[derive(Properties, PartialEq)]
pub struct BaselinesProps {
    /// The study.
    pub data: StudyData,
    /// The baselines the study keeps.
    pub baselines: Rc<Vec<Baseline>>,
    /// The baseline training now: its name, index and the count.
    #[prop_or_default]
    pub phase: Option<(String, usize, usize)>,
    /// Whether the next run trains them (the setup's checkbox).
    pub enabled: bool,
}

/// A row of the table.
struct Row {
    what: String,
    kind: &'static str,
    val_loss: Option<f64>,
    memory: Option<u64>,
    trainable: Option<u64>,
    budget: String,
    lr: Option<f64>,
    note: Option<String>,
}

/// The best trial's row: its last val/loss (what the baselines report), memory and trained
/// weights as it recorded them.
fn best_row(t: &FrozenTrial) -> Row {
    let attr = |k: &str| {
        t.user_attrs
            .get(k)
            .and_then(Json::as_i64)
            .map(|v| v.max(0) as u64)
    };
    let params = t.params();
    let base = params
        .get("base_quant")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|q| q != "none")
        .unwrap_or_else(|| "f32".into());
    // Searched, or the page's fixed budget.
    let steps = params
        .get("steps")
        .and_then(|v| v.as_f64())
        .unwrap_or(crate::setup::LORA_STEPS as f64);
    let batch = params
        .get("batch_size")
        .and_then(|v| v.as_f64())
        .unwrap_or(crate::setup::LORA_BATCH as f64);
    Row {
        what: format!("best trial #{} (LoRA, {base} base)", t.number),
        kind: "best",
        val_loss: t
            .series
            .get("val/loss")
            .and_then(|s| s.last())
            .map(|p| p.value),
        memory: attr("base_memory_bytes"),
        trainable: attr("trainable_params"),
        budget: format!("{steps} × {batch}"),
        lr: params.get("lr").and_then(|v| v.as_f64()),
        note: None,
    }
}

fn baseline_row(b: &Baseline) -> Row {
    Row {
        what: b.name.clone(),
        kind: match b.kind.as_str() {
            "frozen" => "frozen",
            "finetune" => "finetune",
            _ => "lora",
        },
        val_loss: b.val_loss,
        memory: Some(b.base_memory_bytes),
        trainable: Some(b.trainable_params),
        budget: if b.steps == 0 {
            "no training".into()
        } else {
            format!("{} × {}", b.steps, b.batch_size)
        },
        lr: (b.steps > 0).then_some(b.lr),
        note: b.note.clone(),
    }
}

/// The study's best trial beside its baselines: val/loss and perplexity, the difference to
/// the best trial, the base's memory, the weights that trained, the budget and the rate.
#[function_component]
pub fn BaselinesCard(props: &BaselinesProps) -> Html {
    let best = props.data.best().map(best_row);
    let best_loss = best.as_ref().and_then(|b| b.val_loss);
    let rows: Vec<Row> = best
        .into_iter()
        .chain(props.baselines.iter().map(baseline_row))
        .collect();
    let cell = |v: Option<String>| v.unwrap_or_else(|| "–".into());
    html! {
        <section class="card baselines" data-testid="baselines">
            <h2>{ "Baselines" }</h2>
            if let Some((name, index, count)) = &props.phase {
                <p class="small" data-testid="baselines-phase">
                    { format!("Training baseline {} of {count} with the best trial's budget: {name}…", index + 1) }
                </p>
            }
            if props.baselines.is_empty() && props.phase.is_none() {
                <p class="muted small" data-testid="baselines-empty">
                    { if props.enabled {
                        "Once every trial is done, the baselines train with the best trial's budget: the frozen base as it is, full fine-tuning of every weight, and the best trial's adapters over the base held in the other precisions (f32, int8, int4), so its val/loss reads against each, and against the memory each base takes."
                    } else {
                        "Tick \"Train the baselines\" in step 3 to compare the best trial with the frozen base, full fine-tuning and quantized bases once the trials are done."
                    } }
                </p>
            }
            if rows.len() > 1 || !props.baselines.is_empty() {
                <table class="baselines-table" data-testid="baselines-table">
                    <thead><tr>
                        <th>{ "" }</th><th>{ "val/loss" }</th><th>{ "perplexity" }</th><th>{ "vs best" }</th>
                        <th>{ "base memory" }</th><th>{ "trained weights" }</th><th>{ "steps × batch" }</th><th>{ "lr" }</th>
                    </tr></thead>
                    <tbody>
                        { for rows.iter().map(|r| html! {
                            <tr data-testid="baseline-row" data-kind={r.kind} class={classes!((r.kind == "best").then_some("best"))}>
                                <td>{ &r.what }
                                    if let Some(n) = &r.note { <small class="muted">{ format!(" ({n})") }</small> }
                                </td>
                                <td data-testid="baseline-loss">{ cell(r.val_loss.map(|v| format!("{v:.4}"))) }</td>
                                <td>{ cell(r.val_loss.map(|v| format!("{:.2}", v.exp()))) }</td>
                                <td>{ cell(match (r.kind, r.val_loss, best_loss) {
                                    ("best", _, _) => None,
                                    (_, Some(v), Some(b)) => Some(format!("{:+.4}", v - b)),
                                    _ => None,
                                }) }</td>
                                <td data-testid="baseline-memory">{ cell(r.memory.map(memory_text)) }</td>
                                <td>{ cell(r.trainable.map(|n| n.to_string())) }</td>
                                <td>{ &r.budget }</td>
                                <td>{ cell(r.lr.map(|v| format!("{v:.4}"))) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
                <p class="muted small">{ "val/loss in nats per byte on the validation text (lower is better); perplexity is its exponential. Full fine-tuning uses the best trial's rate, at most 0.003 (the base's pretraining peak)." }</p>
            }
        </section>
    }
}
