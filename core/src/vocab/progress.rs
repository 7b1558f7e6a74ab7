//! What the trainer reports while it runs, and on which backend.

use serde::{Deserialize, Serialize};

use crate::trial::TrialState;

/// The backend that trains: burn's Flex on the CPU, or wgpu (WebGPU in the browser; Vulkan,
/// Metal or DX12 natively).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's Flex CPU backend.
    Flex,
    /// burn's wgpu backend (or the fused WGSL kernels, on the same wgpu).
    Wgpu,
}

impl BackendKind {
    /// `flex` or `wgpu`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

/// What the trainer tells its host while it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A trial starts training.
    TrialStart {
        /// Trial number.
        trial: u64,
        /// Epochs planned.
        epochs: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
    },
    /// An optimiser step was queued.
    Step {
        /// Trial number.
        trial: u64,
        /// Epoch, from 1.
        epoch: usize,
        /// Step within the epoch, from 1.
        epoch_step: usize,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// Global step, from 1.
        step: u64,
        /// The latest training loss read back, if any has been.
        loss: Option<f64>,
        /// Training throughput of the trial so far.
        samples_per_sec: f64,
    },
    /// An epoch ended and was evaluated.
    Epoch {
        /// Trial number.
        trial: u64,
        /// Epoch, from 1.
        epoch: usize,
        /// Epochs planned.
        epochs: usize,
        /// Mean training loss of the epoch.
        train_loss: f64,
        /// Validation loss.
        val_loss: f64,
        /// Validation accuracy.
        val_accuracy: f64,
        /// The study's metric at this epoch.
        value: f64,
        /// Training throughput of the epoch.
        samples_per_sec: f64,
    },
    /// A language-model trial continued its prompt after an evaluation.
    TextSample {
        /// Trial number.
        trial: u64,
        /// Epoch (evaluation), from 1.
        epoch: usize,
        /// The prompt.
        prompt: String,
        /// What the model wrote after it.
        text: String,
    },
    /// The trial ended.
    TrialEnd {
        /// Trial number.
        trial: u64,
        /// How it ended.
        state: TrialState,
        /// Its value, when it has one.
        value: Option<f64>,
    },
}

impl ProgressEvent {
    /// The trial the event is about.
    pub fn trial(&self) -> u64 {
        match self {
            ProgressEvent::TrialStart { trial, .. }
            | ProgressEvent::Step { trial, .. }
            | ProgressEvent::Epoch { trial, .. }
            | ProgressEvent::TextSample { trial, .. }
            | ProgressEvent::TrialEnd { trial, .. } => *trial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_json() {
        let events = [
            ProgressEvent::TrialStart {
                trial: 3,
                epochs: 4,
                steps_per_epoch: 10,
            },
            ProgressEvent::Step {
                trial: 3,
                epoch: 1,
                epoch_step: 2,
                steps_per_epoch: 10,
                step: 2,
                loss: None,
                samples_per_sec: 1.5,
            },
            ProgressEvent::TrialEnd {
                trial: 3,
                state: TrialState::Pruned,
                value: Some(0.25),
            },
        ];
        for e in events {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<ProgressEvent>(&text).unwrap(), e);
        }
        let end = serde_json::to_string(&ProgressEvent::TrialEnd {
            trial: 0,
            state: TrialState::Fail,
            value: None,
        })
        .unwrap();
        assert!(end.contains(r#""state":"FAIL""#), "{end}");
        assert_eq!(
            serde_json::to_string(&BackendKind::Wgpu).unwrap(),
            "\"wgpu\""
        );
    }
}
