//! Training a [`TinyLm`]: a byte corpus split into training and validation text, random
//! training windows, the validation loss over fixed windows, and the pretraining loop
//! (AdamW, linear warm-up then cosine decay) that makes the shipped base.

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{LmConfig, TinyLm, tokenize, windows};
use crate::train::TrainError;

/// A corpus as byte tokens, split into training and validation text.
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// The training text.
    pub train: Vec<i64>,
    /// The validation text (the end of the corpus).
    pub valid: Vec<i64>,
}

impl Corpus {
    /// `text` split at the first line break after `1 - valid_fraction` of its bytes: the
    /// rest is the validation text. Each part must hold more than `context` tokens.
    pub fn split(text: &str, valid_fraction: f64, context: usize) -> Result<Corpus, TrainError> {
        if !(0.0..1.0).contains(&valid_fraction) || valid_fraction == 0.0 {
            return Err(TrainError::Config(format!(
                "the validation fraction must be in (0, 1), not {valid_fraction}"
            )));
        }
        let at = ((text.len() as f64) * (1.0 - valid_fraction)) as usize;
        let cut = text
            .get(at..)
            .and_then(|rest| rest.find('\n'))
            .map_or(text.len(), |i| at + i + 1);
        let (train, valid) = (tokenize(&text[..cut]), tokenize(&text[cut..]));
        for (name, part) in [("training", &train), ("validation", &valid)] {
            if part.len() <= context + 1 {
                return Err(TrainError::Data(format!(
                    "the corpus's {name} text has {} bytes; it needs more than {} (the context and one)",
                    part.len(),
                    context + 1
                )));
            }
        }
        Ok(Corpus { train, valid })
    }
}

/// `batch` random window starts for windows of `len + 1` tokens in `n` tokens.
pub fn random_starts(rng: &mut ChaCha8Rng, n: usize, len: usize, batch: usize) -> Vec<usize> {
    (0..batch).map(|_| rng.random_range(0..n - len)).collect()
}

/// A one-element tensor's value, read back asynchronously.
pub async fn read_scalar(t: Tensor<1>) -> Result<f64, TrainError> {
    crate::train::trainer::read_f32(t)
        .await?
        .first()
        .map(|x| f64::from(*x))
        .ok_or_else(|| TrainError::Device("an empty loss".into()))
}

/// The settings of a pretraining run.
#[derive(Clone, Copy, Debug)]
pub struct PretrainSpec {
    /// The model's shape.
    pub config: LmConfig,
    /// Optimiser steps.
    pub steps: usize,
    /// Windows per step.
    pub batch: usize,
    /// The peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps before the cosine decay to a tenth of the peak.
    pub warmup: usize,
    /// AdamW's weight decay.
    pub weight_decay: f64,
    /// The seed of the initial weights and of the batches.
    pub seed: u64,
    /// Evaluate every this many steps (and at the end).
    pub eval_every: usize,
}

impl PretrainSpec {
    /// The learning rate at `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.lr * (step + 1) as f64 / self.warmup as f64;
        }
        let span = (self.steps - self.warmup).max(1) as f64;
        let t = ((step - self.warmup) as f64 / span).min(1.0);
        let floor = self.lr / 10.0;
        floor + (self.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// What [`pretrain`] reports as it goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PretrainProgress {
    /// Steps done.
    pub step: usize,
    /// The mean training loss since the last report.
    pub train_loss: f64,
    /// The validation loss.
    pub val_loss: f64,
}

/// Trains a new model of `spec.config` on `corpus` from `spec.seed` (the same seed, corpus
/// and device give the same weights), calling `report` at each evaluation. Returns the
/// model (without autodiff) and its final validation loss.
pub async fn pretrain(
    spec: &PretrainSpec,
    corpus: &Corpus,
    device: &Device,
    mut report: impl FnMut(PretrainProgress),
) -> Result<(TinyLm, f64), TrainError> {
    let ad = device.clone().autodiff();
    ad.seed(spec.seed);
    let mut model = spec.config.init(&ad)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(spec.weight_decay as f32)
        .init();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x1a_2b3c);
    let len = spec.config.context;
    let mut pending = Vec::new();
    let mut val_loss = f64::NAN;
    for step in 0..spec.steps {
        let starts = random_starts(&mut rng, corpus.train.len(), len, spec.batch);
        let loss = model.loss(windows(&corpus.train, &starts, len, &ad));
        pending.push(loss.clone().detach().inner());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(spec.lr_at(step), model, grads);
        let done = step + 1;
        if done % spec.eval_every.max(1) == 0 || done == spec.steps {
            let n = pending.len();
            let train_loss =
                read_scalar(Tensor::cat(std::mem::take(&mut pending), 0).sum()).await? / n as f64;
            val_loss = super::trial::evaluate_lm(&model.valid(), &corpus.valid, 64, device)
                .await?
                .0;
            if !(train_loss.is_finite() && val_loss.is_finite()) {
                return Err(TrainError::Config(format!(
                    "pretraining diverged at step {done} (train/loss {train_loss}); lower the learning rate"
                )));
            }
            report(PretrainProgress {
                step: done,
                train_loss,
                val_loss,
            });
        }
    }
    Ok((model.valid(), val_loss))
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    use super::*;

    #[test]
    fn a_corpus_splits_at_a_line_break_and_refuses_a_tiny_part() {
        let text = "line one\nline two\nline three\nline four\n";
        let c = Corpus::split(text, 0.3, 4).unwrap();
        assert_eq!(c.train.len() + c.valid.len(), text.len());
        assert_eq!(c.valid, tokenize("line four\n"));
        let e = Corpus::split(text, 0.3, 20).unwrap_err().to_string();
        assert!(e.contains("validation text has 10 bytes"), "{e}");
        assert!(Corpus::split(text, 0.0, 4).is_err());
    }

    #[test]
    fn the_learning_rate_warms_up_then_decays_to_a_tenth() {
        let spec = PretrainSpec {
            config: LmConfig {
                d_model: 8,
                layers: 1,
                heads: 1,
                d_ff: 8,
                context: 4,
            },
            steps: 110,
            batch: 1,
            lr: 1.0,
            warmup: 10,
            weight_decay: 0.0,
            seed: 0,
            eval_every: 10,
        };
        assert!((spec.lr_at(0) - 0.1).abs() < 1e-12);
        assert!((spec.lr_at(9) - 1.0).abs() < 1e-12);
        assert!((spec.lr_at(10) - 1.0).abs() < 1e-12);
        assert!((spec.lr_at(60) - 0.55).abs() < 1e-12);
        assert!((spec.lr_at(110) - 0.1).abs() < 1e-12);
    }
}
