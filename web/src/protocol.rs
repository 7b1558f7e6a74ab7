//! Messages between the page and the training worker, as JSON text.
//!
//! The page owns the saved study and the charts; the worker owns the running [`Study`]
//! (sampler, pruner, trainer). The page starts the worker with the setup and the study's
//! journal; the worker streams progress, and after every trial the journal lines it wrote,
//! which the page applies to its copy of the study and saves.
//!
//! [`Study`]: sweeplab_core::Study

use serde::{Deserialize, Serialize};

use sweeplab_core::TrialState;
use sweeplab_core::vocab::{BackendKind, ProgressEvent};

use crate::setup::Setup;

/// The user attribute of a study that holds its setup (JSON).
pub const SETUP_ATTR: &str = "sweeplab:setup";

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Run (or resume) a study.
    Start {
        /// The study's name.
        study: String,
        /// Its setup.
        setup: Setup,
        /// Its journal so far (empty for a new study).
        journal: String,
        /// The CPU (`flex`) or WebGPU (`wgpu`): the page has already decided.
        backend: BackendKind,
        /// The seed used when the setup has none.
        seed: u64,
        /// Step mode: pause after each trial ([`FromWorker::Paused`]); trials train one at
        /// a time (not on the fused kernels).
        #[serde(default)]
        step: bool,
        /// Milliseconds to wait after every training step (0: full speed), so a class
        /// can watch a small model learn.
        #[serde(default)]
        step_delay_ms: u32,
        /// Record each layer's weight and gradient histograms after every epoch (at most
        /// [`sweeplab_core::histogram::MAX_HISTOGRAM_EPOCHS`] evenly spaced epochs of a trial).
        #[serde(default)]
        histograms: bool,
        /// A language-model study: once every trial ran, train its baselines with the best
        /// trial's budget (the core's `run_baselines`).
        #[serde(default)]
        baselines: bool,
    },
    /// Hold training after the current step.
    Pause,
    /// Continue after a pause, in continuous mode.
    Resume,
    /// Run one more trial, then pause again (step mode).
    Next,
    /// Wait this many milliseconds after every training step from now on (0: full speed).
    Speed {
        /// The delay.
        step_delay_ms: u32,
    },
    /// Stop: the running trial ends as FAIL (interrupted) and no new trial starts.
    Stop,
    /// Measure what a study of `setup` would cost on `backend` (a few training steps of its
    /// typical trial); the answer is [`FromWorker::Estimated`].
    Estimate {
        /// The setup.
        setup: Setup,
        /// The backend Start would use.
        backend: BackendKind,
    },
}

/// Worker → page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's module is loaded.
    Ready,
    /// The backend that runs, and why.
    Backend {
        /// Which backend.
        kind: BackendKind,
        /// One sentence for the page.
        reason: String,
        /// The adapter's name, if any.
        adapter: Option<String>,
    },
    /// How trials train: one at a time on burn, or many at once on the fused WGSL kernels.
    Engine {
        /// Trials that train at once (1 for burn, one trial at a time).
        slots: usize,
        /// One sentence for the page: which engine runs and why.
        reason: String,
    },
    /// The 2-D data set's points (a sample), for the decision-boundary view.
    Points {
        /// `(x, y, class)` in about [-1, 1]².
        points: Vec<(f32, f32, u8)>,
    },
    /// Journal lines the worker's study wrote since the last batch.
    Ops {
        /// Optuna journal lines.
        lines: String,
    },
    /// The trainer's progress: a trial starts, a step (at most ~10 per second per trial),
    /// an epoch evaluated. A trial's end comes as [`FromWorker::TrialEnd`], after its
    /// journal lines.
    Progress {
        /// The trainer's event, as the core reports it.
        event: ProgressEvent,
    },
    /// Class-1 probabilities of the current model on a grid (2-D data sets).
    Boundary {
        /// Trial number.
        trial: u64,
        /// Grid side.
        n: usize,
        /// `n × n` values, row-major from the top.
        grid: Vec<f32>,
    },
    /// In step mode, a trial ended and the run paused itself before the next one.
    Paused,
    /// A trial ended.
    TrialEnd {
        /// Trial number.
        trial: u64,
        /// `COMPLETE`, `PRUNED` or `FAIL`.
        state: TrialState,
        /// Its value.
        value: Option<f64>,
        /// Why it failed, if it did.
        reason: Option<String>,
    },
    /// The run ended.
    Finished {
        /// Why (all trials done, stopped, time limit, grid exhausted).
        reason: String,
        /// The page's Stop ended it (the study is not done: Resume continues it).
        #[serde(default)]
        stopped: bool,
    },
    /// What a study of the setup [`ToWorker::Estimate`] named costs on this device.
    Estimated {
        /// The backend that was measured.
        kind: BackendKind,
        /// Training samples per second of the typical trial.
        samples_per_sec: f64,
        /// Seconds per epoch of the typical trial (training and validation).
        secs_per_epoch: f64,
    },
    /// A LoRA trial ended COMPLETE or PRUNED: its adapters as PEFT writes them.
    Adapter {
        /// Trial number.
        trial: u64,
        /// `adapter_model.safetensors` (base64 in the message).
        #[serde(with = "base64_bytes")]
        safetensors: Vec<u8>,
        /// `adapter_config.json`.
        config: String,
    },
    /// The study's trials are done and baseline `index` of `count` starts training
    /// (`index` 0 is the frozen base's evaluation). The results reach the page as the
    /// study's `baselines` user attribute, in [`FromWorker::Ops`].
    Baseline {
        /// What it is ("full fine-tuning", "LoRA, int8 base", …).
        name: String,
        /// Which, from 0.
        index: usize,
        /// How many.
        count: usize,
    },
    /// The GPU device failed; the page should continue on the CPU.
    DeviceLost {
        /// What happened.
        message: String,
    },
    /// A problem that ends the run.
    Error {
        /// What happened.
        message: String,
    },
}

impl ToWorker {
    /// The message as JSON text. Fails only if serde_json cannot represent a value; the
    /// caller reports that instead of sending anything.
    pub fn to_text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parses [`ToWorker::to_text`].
    pub fn from_text(s: &str) -> Result<ToWorker, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message to the worker: {e}"))
    }
}

impl FromWorker {
    /// The message as JSON text. Fails only if serde_json cannot represent a value; the
    /// caller reports that instead of sending anything.
    pub fn to_text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parses [`FromWorker::to_text`].
    pub fn from_text(s: &str) -> Result<FromWorker, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message from the worker: {e}"))
    }
}

/// Bytes as standard base64 text in a message.
mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let m = ToWorker::Start {
            study: "s".into(),
            setup: Setup::preset("spiral-mlp"),
            journal: String::new(),
            backend: BackendKind::Flex,
            seed: 3,
            step: true,
            step_delay_ms: 20,
            histograms: true,
            baselines: true,
        };
        assert_eq!(ToWorker::from_text(&m.to_text().unwrap()).unwrap(), m);
        let b = FromWorker::Baseline {
            name: "full fine-tuning".into(),
            index: 1,
            count: 4,
        };
        assert_eq!(FromWorker::from_text(&b.to_text().unwrap()).unwrap(), b);
        // An adapter's bytes travel as base64 and come back the same.
        let a = FromWorker::Adapter {
            trial: 3,
            safetensors: (0..=255u8).collect(),
            config: "{\"r\": 8}".into(),
        };
        let text = a.to_text().unwrap();
        assert!(text.contains("\"AAECAwQF"), "{text}");
        assert_eq!(FromWorker::from_text(&text).unwrap(), a);
        let f = FromWorker::Progress {
            event: ProgressEvent::Epoch {
                trial: 1,
                epoch: 2,
                epochs: 3,
                train_loss: 0.5,
                val_loss: 0.4,
                val_accuracy: 0.9,
                value: 0.4,
                samples_per_sec: 1000.0,
            },
        };
        assert_eq!(FromWorker::from_text(&f.to_text().unwrap()).unwrap(), f);
        let end = FromWorker::TrialEnd {
            trial: 4,
            state: TrialState::Pruned,
            value: Some(0.5),
            reason: None,
        };
        let text = end.to_text().unwrap();
        assert!(text.contains(r#""state":"PRUNED""#), "{text}");
        assert_eq!(FromWorker::from_text(&text).unwrap(), end);
        // An unknown state or backend is an error, not a string carried along.
        assert!(
            FromWorker::from_text(
                r#"{"type":"trial_end","trial":1,"state":"DONE","value":null,"reason":null}"#
            )
            .is_err()
        );
        assert!(FromWorker::from_text("{\"type\":\"nope\"}").is_err());
    }
}
