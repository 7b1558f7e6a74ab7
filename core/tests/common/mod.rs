//! Helpers shared by the core's integration tests.
// Each test binary uses a part of this module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sweeplab_core::{RandomSampler, Study, StudyDirection};

/// A new study named `name` in `direction`, sampled by the random sampler seeded with `seed`.
pub fn random_study(name: &str, direction: StudyDirection, seed: u64) -> Study {
    Study::create(name, direction, Box::new(RandomSampler::new(Some(seed)))).unwrap()
}

// Not every test binary that builds with `train` trains.
#[cfg(feature = "train")]
#[allow(unused_imports)]
pub use train::*;

#[cfg(feature = "train")]
mod train {
    use burn::tensor::Device;
    use futures_lite::future::block_on;
    use sweeplab_core::Study;
    use sweeplab_core::train::trainer::TrainHooks;
    use sweeplab_core::train::{
        Activation, CancelToken, DataSet, ModelSpec, Objective, OptimizerKind, ProgressEvent,
        TrialOutcome, TrialPlan, train_trial,
    };

    /// Hooks that keep every progress event and ask for histograms when `histograms`.
    #[derive(Default)]
    pub struct Recording {
        /// The events, in order.
        pub events: Vec<ProgressEvent>,
        /// Whether trials record weight and gradient histograms.
        pub histograms: bool,
        /// How long every `yield_now` waits (a page slowed down for watching).
        pub wait: std::time::Duration,
    }

    impl TrainHooks for Recording {
        fn progress(&mut self, event: &ProgressEvent) {
            self.events.push(event.clone());
        }

        fn wants_histograms(&self) -> bool {
            self.histograms
        }

        fn yield_now(&mut self) -> impl std::future::Future<Output = ()> {
            std::thread::sleep(self.wait);
            std::future::ready(())
        }
    }

    /// Like [`ask_and_train`], with `hooks`.
    pub fn ask_and_train_with(
        study: &mut Study,
        plan: &TrialPlan,
        data: &DataSet,
        device: &Device,
        hooks: &mut Recording,
    ) -> TrialOutcome {
        let number = study.ask().unwrap();
        block_on(train_trial(
            study,
            number,
            plan,
            data,
            device,
            Objective::ValLoss,
            hooks,
            &CancelToken::new(),
        ))
        .unwrap()
    }

    /// An MLP of `layers` hidden layers of `width` units.
    pub fn mlp(layers: usize, width: usize, activation: Activation, dropout: f64) -> ModelSpec {
        ModelSpec::Mlp {
            layers,
            width,
            activation,
            dropout,
        }
    }

    /// A plan for `model`: `optimizer` at learning rate `lr` (no weight decay, momentum 0.9),
    /// `epochs` epochs of batches of `batch` samples, seeded with `seed`.
    pub fn plan_of(
        model: ModelSpec,
        optimizer: OptimizerKind,
        lr: f64,
        batch: usize,
        epochs: usize,
        seed: u64,
    ) -> TrialPlan {
        TrialPlan {
            model,
            optimizer,
            lr,
            weight_decay: 0.0,
            momentum: 0.9,
            batch_size: batch,
            epochs,
            seed,
        }
    }

    /// Asks `study` for a trial and trains it with `plan` on `data` on `device` towards
    /// `objective`, with no hooks and never cancelled; the trainer must not fail.
    pub fn ask_and_train(
        study: &mut Study,
        plan: &TrialPlan,
        data: &DataSet,
        device: &Device,
        objective: Objective,
    ) -> TrialOutcome {
        let number = study.ask().unwrap();
        let mut hooks = |_: &ProgressEvent| {};
        block_on(train_trial(
            study,
            number,
            plan,
            data,
            device,
            objective,
            &mut hooks,
            &CancelToken::new(),
        ))
        .unwrap()
    }
}
