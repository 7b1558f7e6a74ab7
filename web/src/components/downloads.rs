//! The downloads card.

use sweeplab_core::export::ExportFormat;
use yew::prelude::*;

use crate::state::Action;

/// Props of [`Downloads`].
#[derive(Properties, PartialEq)]
pub struct DownloadsProps {
    /// There is a study with trials to download.
    pub enabled: bool,
    /// The best trial's number when this page holds its LoRA adapters.
    #[prop_or_default]
    pub adapter: Option<u64>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// One button per export format.
#[function_component]
pub fn Downloads(props: &DownloadsProps) -> Html {
    let items: [(ExportFormat, &str, &str); 6] = [
        (
            ExportFormat::Zip,
            "Everything (zip)",
            "all of the formats below in one file",
        ),
        (
            ExportFormat::TensorBoard,
            "TensorBoard logdir",
            "tensorboard --logdir",
        ),
        (ExportFormat::Wandb, "W&B offline runs", "wandb sync"),
        (
            ExportFormat::Mlflow,
            "MLflow runs (mlruns/)",
            "mlflow migrate-filestore",
        ),
        (
            ExportFormat::Optuna,
            "Optuna journal",
            "optuna-dashboard, JournalStorage",
        ),
        (ExportFormat::Csv, "CSV", "pandas, spreadsheets"),
    ];
    html! {
        <section class="card downloads">
            <h2>{ "Keep it" }</h2>
            <div class="dl-row">
                { for items.iter().map(|(f, label, hint)| {
                    let f = *f;
                    html! {
                        <button class="btn dl" disabled={!props.enabled} data-testid={format!("download-{}", f.name())}
                            onclick={props.dispatch.reform(move |_| Action::Download(f))}>
                            <span>{ *label }</span><small>{ *hint }</small>
                        </button>
                    }
                }) }
                <button class="btn dl" disabled={!props.enabled} data-testid="download-sqlite"
                    onclick={props.dispatch.reform(|_| Action::DownloadSqlite)}>
                    <span>{ "Optuna SQLite (study.db)" }</span><small>{ "optuna-dashboard, load_study" }</small>
                </button>
                if let Some(trial) = props.adapter {
                    <button class="btn dl" data-testid="download-adapter"
                        title="adapter_model.safetensors and adapter_config.json, as PEFT writes them; sweeplab generate --adapter, or PeftModel.from_pretrained on the same base"
                        onclick={props.dispatch.reform(|_| Action::DownloadAdapter)}>
                        <span>{ "Best LoRA adapter (PEFT)" }</span><small>{ format!("trial {trial} · sweeplab generate --adapter") }</small>
                    </button>
                }
            </div>
            <p class="muted small">{ "Studies are saved in this browser after every trial; Share link copies a URL with the whole setup." }</p>
        </section>
    }
}
