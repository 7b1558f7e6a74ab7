//! The study setup a user edits: data set, model, search space, sampler, pruner, budget
//! and backend. It is plain data (serde), so it round-trips through the URL hash and
//! IndexedDB; [`Setup::search_space`], [`Setup::sampler`] and [`Setup::pruner`] turn it
//! into the core's objects and report the core's validation errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sweeplab_core::config::{PrunerConfig, SweepMethod};
use sweeplab_core::distributions::{CategoricalDistribution, FloatDistribution, IntDistribution};
use sweeplab_core::vocab::{MAX_EPOCHS, ModelSpec, TRAIN_KEYS, canonical, is_train_key};
use sweeplab_core::{
    Distribution, GridSampler, ParamValue, Pruner, RandomSampler, Sampler, SearchSpace,
    TpeDefaults, TpeSampler,
};

/// The data sets the playground trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Two interleaved spirals (2-D, 2 classes).
    Spiral,
    /// XOR quadrants (2-D, 2 classes).
    Xor,
    /// A disc inside a ring (2-D, 2 classes).
    Circle,
    /// Two Gaussian blobs (2-D, 2 classes).
    Gauss,
    /// 10,000 MNIST digits (28×28, 10 classes).
    Mnist,
    /// Ambrose Bierce's *The Devil's Dictionary*: text for the language model.
    #[serde(rename = "devils-dictionary")]
    DevilsDictionary,
}

impl Dataset {
    /// Every data set, in menu order.
    pub const ALL: [Dataset; 6] = [
        Dataset::Spiral,
        Dataset::Xor,
        Dataset::Circle,
        Dataset::Gauss,
        Dataset::Mnist,
        Dataset::DevilsDictionary,
    ];

    /// The identifier used in URLs and files.
    pub fn id(self) -> &'static str {
        match self {
            Dataset::Spiral => "spiral",
            Dataset::Xor => "xor",
            Dataset::Circle => "circle",
            Dataset::Gauss => "gauss",
            Dataset::Mnist => "mnist",
            Dataset::DevilsDictionary => "devils-dictionary",
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            Dataset::Spiral => "Spiral",
            Dataset::Xor => "XOR",
            Dataset::Circle => "Circle",
            Dataset::Gauss => "Gaussian blobs",
            Dataset::Mnist => "MNIST (10k digits)",
            Dataset::DevilsDictionary => "The Devil's Dictionary (text)",
        }
    }

    /// Whether the set is text, for the language model.
    pub fn is_text(self) -> bool {
        self == Dataset::DevilsDictionary
    }

    /// Whether points are 2-D (the decision boundary can be drawn).
    pub fn is_2d(self) -> bool {
        !matches!(self, Dataset::Mnist | Dataset::DevilsDictionary)
    }

    /// Parses [`Dataset::id`].
    pub fn parse(s: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.id() == s)
    }
}

/// The model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A multi-layer perceptron.
    Mlp,
    /// A small convolutional network (MNIST).
    Cnn,
    /// The pretrained language model with LoRA adapters.
    Lora,
}

impl ModelKind {
    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Mlp => "MLP",
            ModelKind::Cnn => "CNN",
            ModelKind::Lora => "LoRA (language model)",
        }
    }

    /// The core's name of the model (`mlp`, `cnn`, `lora`).
    pub fn id(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Cnn => "cnn",
            ModelKind::Lora => "lora",
        }
    }

    /// The model named `id`.
    pub fn parse(id: &str) -> Option<ModelKind> {
        [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lora]
            .into_iter()
            .find(|m| m.id() == id)
    }
}

/// The sampler: the core's search method and, for TPE (`bayes`), the defaults it starts
/// from. In URLs and saved setups it is its menu id: `tpe`, `tpe-optuna`, `random`, `grid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SamplerChoice {
    /// Grid, random or TPE.
    pub method: SweepMethod,
    /// TPE's defaults (the default for the other methods, where it means nothing).
    pub tpe: TpeDefaults,
}

impl SamplerChoice {
    /// Tree-structured Parzen Estimator, sweeplab's tuning of Optuna 5's TPE.
    pub const TPE: SamplerChoice = SamplerChoice::tpe(TpeDefaults::Sweeplab);
    /// Tree-structured Parzen Estimator with exactly Optuna 5.0's defaults.
    pub const TPE_OPTUNA: SamplerChoice = SamplerChoice::tpe(TpeDefaults::Optuna);
    /// Uniform random search.
    pub const RANDOM: SamplerChoice = SamplerChoice {
        method: SweepMethod::Random,
        tpe: TpeDefaults::Sweeplab,
    };
    /// Every point of a grid (floats need a step).
    pub const GRID: SamplerChoice = SamplerChoice {
        method: SweepMethod::Grid,
        tpe: TpeDefaults::Sweeplab,
    };

    /// Every sampler, in menu order.
    pub const ALL: [SamplerChoice; 4] = [
        SamplerChoice::TPE,
        SamplerChoice::TPE_OPTUNA,
        SamplerChoice::RANDOM,
        SamplerChoice::GRID,
    ];

    /// `method`, with `tpe`'s defaults when it is TPE (`bayes`).
    pub fn new(method: SweepMethod, tpe: TpeDefaults) -> Self {
        match method {
            SweepMethod::Bayes => SamplerChoice::tpe(tpe),
            SweepMethod::Random => SamplerChoice::RANDOM,
            SweepMethod::Grid => SamplerChoice::GRID,
        }
    }

    /// TPE from `defaults`.
    pub const fn tpe(defaults: TpeDefaults) -> Self {
        SamplerChoice {
            method: SweepMethod::Bayes,
            tpe: defaults,
        }
    }

    /// The menu id.
    pub fn id(self) -> &'static str {
        match (self.method, self.tpe) {
            (SweepMethod::Bayes, TpeDefaults::Sweeplab) => "tpe",
            (SweepMethod::Bayes, TpeDefaults::Optuna) => "tpe-optuna",
            (SweepMethod::Random, _) => "random",
            (SweepMethod::Grid, _) => "grid",
        }
    }

    /// Reads [`SamplerChoice::id`].
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match (self.method, self.tpe) {
            (SweepMethod::Bayes, TpeDefaults::Sweeplab) => "TPE (tuned)",
            (SweepMethod::Bayes, TpeDefaults::Optuna) => "TPE (Optuna 5)",
            (SweepMethod::Random, _) => "Random",
            (SweepMethod::Grid, _) => "Grid",
        }
    }
}

impl TryFrom<String> for SamplerChoice {
    type Error = String;

    fn try_from(id: String) -> Result<Self, String> {
        SamplerChoice::from_id(&id)
            .ok_or_else(|| format!("unknown sampler `{id}`; use tpe, tpe-optuna, random or grid"))
    }
}

impl From<SamplerChoice> for String {
    fn from(k: SamplerChoice) -> String {
        k.id().to_string()
    }
}

/// The pruner: the core's [`PrunerConfig`]. Saved setups and links from before it held its
/// arguments name it by kind (`"median"`); those read as that pruner with Optuna 5.0's
/// defaults.
fn pruner_or_legacy_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PrunerConfig, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Name(String),
        Config(PrunerConfig),
    }
    match Wire::deserialize(d)? {
        Wire::Config(p) => Ok(p),
        Wire::Name(n) => PrunerConfig::with_defaults(&n)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown pruner `{n}`"))),
    }
}

/// Where trials train: the core's [`BackendChoice`] (`auto`, `gpu`, `cpu`).
pub use sweeplab_core::vocab::BackendChoice;

/// What the study optimises: the core's objective (`val_loss`, `val_accuracy`, `train_loss`).
pub use sweeplab_core::vocab::Objective;

/// A parameter's type in the editor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// A float range.
    Float,
    /// An integer range.
    Int,
    /// A list of choices.
    Categorical,
}

impl ParamKind {
    /// The identifier.
    pub fn id(self) -> &'static str {
        match self {
            ParamKind::Float => "float",
            ParamKind::Int => "int",
            ParamKind::Categorical => "categorical",
        }
    }

    /// Parses [`ParamKind::id`].
    pub fn parse(s: &str) -> Option<ParamKind> {
        match s {
            "float" => Some(ParamKind::Float),
            "int" => Some(ParamKind::Int),
            "categorical" => Some(ParamKind::Categorical),
            _ => None,
        }
    }
}

/// One row of the search-space editor. Numbers stay text so that what the user types is
/// kept as typed; [`ParamSpec::distribution`] parses and validates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The parameter's name (`lr`, `batch_size`, …).
    pub name: String,
    /// Its type.
    pub kind: ParamKind,
    /// Lower bound (float/int).
    #[serde(default)]
    pub low: String,
    /// Upper bound (float/int).
    #[serde(default)]
    pub high: String,
    /// Sample on a log scale.
    #[serde(default)]
    pub log: bool,
    /// Grid step; empty for none.
    #[serde(default)]
    pub step: String,
    /// Comma-separated choices (categorical).
    #[serde(default)]
    pub choices: String,
}

impl ParamSpec {
    /// A float range.
    pub fn float(name: &str, low: f64, high: f64, log: bool) -> Self {
        ParamSpec {
            name: name.into(),
            kind: ParamKind::Float,
            low: fmt_num(low),
            high: fmt_num(high),
            log,
            step: String::new(),
            choices: String::new(),
        }
    }

    /// An integer range.
    pub fn int(name: &str, low: i64, high: i64, log: bool) -> Self {
        ParamSpec {
            name: name.into(),
            kind: ParamKind::Int,
            low: low.to_string(),
            high: high.to_string(),
            log,
            step: String::new(),
            choices: String::new(),
        }
    }

    /// A categorical parameter.
    pub fn categorical(name: &str, choices: &[&str]) -> Self {
        ParamSpec {
            name: name.into(),
            kind: ParamKind::Categorical,
            low: String::new(),
            high: String::new(),
            log: false,
            step: String::new(),
            choices: choices.join(", "),
        }
    }

    /// The core distribution, or the message to show next to the row.
    pub fn distribution(&self) -> Result<Distribution, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("the parameter needs a name".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '/')
        {
            return Err(format!(
                "parameter `{name}`: use letters, digits and _ . - / in names"
            ));
        }
        let dist = match self.kind {
            ParamKind::Float => {
                let low = parse_f64(name, "low", &self.low)?;
                let high = parse_f64(name, "high", &self.high)?;
                let step = if self.step.trim().is_empty() {
                    None
                } else {
                    Some(parse_f64(name, "step", &self.step)?)
                };
                Distribution::Float(FloatDistribution {
                    low,
                    high,
                    log: self.log,
                    step,
                })
            }
            ParamKind::Int => {
                let low = parse_i64(name, "low", &self.low)?;
                let high = parse_i64(name, "high", &self.high)?;
                let step = if self.step.trim().is_empty() {
                    1
                } else {
                    parse_i64(name, "step", &self.step)?
                };
                Distribution::Int(IntDistribution {
                    low,
                    high,
                    log: self.log,
                    step,
                })
            }
            ParamKind::Categorical => {
                let choices = parse_choices(&self.choices);
                let mut seen = Vec::new();
                for c in &choices {
                    if seen.contains(c) {
                        return Err(format!("parameter `{name}`: choice {c} is listed twice"));
                    }
                    seen.push(c.clone());
                }
                Distribution::Categorical(CategoricalDistribution { choices })
            }
        };
        dist.validate(name).map_err(|e| e.to_string())?;
        Ok(dist)
    }

    /// The editor row of a core distribution.
    pub fn from_distribution(name: &str, d: &Distribution) -> Self {
        match d {
            Distribution::Float(f) => ParamSpec {
                step: f.step.map(fmt_num).unwrap_or_default(),
                ..ParamSpec::float(name, f.low, f.high, f.log)
            },
            Distribution::Int(i) => ParamSpec {
                step: if i.step == 1 {
                    String::new()
                } else {
                    i.step.to_string()
                },
                ..ParamSpec::int(name, i.low, i.high, i.log)
            },
            Distribution::Categorical(c) => ParamSpec {
                choices: c
                    .choices
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                ..ParamSpec::categorical(name, &[])
            },
        }
    }
}

/// Formats a number the short way (`0.001`, `1e-05`).
pub fn fmt_num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        let s = format!("{x}");
        s
    }
}

fn parse_f64(param: &str, what: &str, s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("parameter `{param}`: {what} is empty"));
    }
    t.parse::<f64>()
        .map_err(|_| format!("parameter `{param}`: {what} `{t}` is not a number"))
}

fn parse_i64(param: &str, what: &str, s: &str) -> Result<i64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("parameter `{param}`: {what} is empty"));
    }
    t.parse::<i64>()
        .map_err(|_| format!("parameter `{param}`: {what} `{t}` is not an integer"))
}

/// Parses comma-separated choices: integers, floats, `true`/`false`, `none`, else strings.
pub fn parse_choices(s: &str) -> Vec<ParamValue> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            if let Ok(i) = c.parse::<i64>() {
                ParamValue::Int(i)
            } else if let Ok(f) = c.parse::<f64>() {
                ParamValue::Float(f)
            } else {
                match c {
                    "true" | "True" => ParamValue::Bool(true),
                    "false" | "False" => ParamValue::Bool(false),
                    "none" | "None" | "null" => ParamValue::Null,
                    _ => ParamValue::Str(c.trim_matches(['"', '\'']).to_string()),
                }
            }
        })
        .collect()
}

/// Whether the editor may search `name`: a trainer key or one of its aliases
/// ([`canonical`]), except `model` and `epochs`, which the setup sets in their own fields.
pub fn is_searchable(name: &str) -> bool {
    is_train_key(name) && !matches!(canonical(name), "model" | "epochs")
}

/// The whole setup of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The preset it started from (informational).
    #[serde(default)]
    pub preset: String,
    /// The data set.
    pub dataset: Dataset,
    /// The model family.
    pub model: ModelKind,
    /// Epochs per trial.
    pub epochs: u32,
    /// What the study optimises.
    pub objective: Objective,
    /// The search space, in editor order.
    pub params: Vec<ParamSpec>,
    /// The sampler.
    pub sampler: SamplerChoice,
    /// The sampler's seed; `None` draws one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The pruner and its arguments.
    #[serde(deserialize_with = "pruner_or_legacy_name")]
    pub pruner: PrunerConfig,
    /// How many trials to run.
    pub n_trials: u32,
    /// Stop starting trials after this many seconds (0: no limit).
    #[serde(default)]
    pub time_limit_s: u32,
    /// Where trials train.
    pub backend: BackendChoice,
}

/// A preset: an id, a title, a one-line description and its setup.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// Identifier (URL form).
    pub id: &'static str,
    /// Menu title.
    pub title: &'static str,
    /// One line on what it teaches.
    pub blurb: &'static str,
}

/// The presets, in menu order.
pub const PRESETS: [Preset; 7] = [
    Preset {
        id: "spiral-mlp",
        title: "Spiral · MLP",
        blurb: "Two interleaved spirals: width, depth and learning rate all matter.",
    },
    Preset {
        id: "xor-mlp",
        title: "XOR · MLP",
        blurb: "Four quadrants: one hidden layer is enough if the learning rate is right.",
    },
    Preset {
        id: "circle-mlp",
        title: "Circle · MLP",
        blurb: "A disc inside a ring: easy, so most trials should converge.",
    },
    Preset {
        id: "gauss-mlp",
        title: "Gaussian blobs · MLP",
        blurb: "Two noisy clusters: the learning rate decides almost everything.",
    },
    Preset {
        id: "mnist-mlp",
        title: "MNIST · MLP",
        blurb: "Handwritten digits with a 784-128-10 network.",
    },
    Preset {
        id: "mnist-cnn",
        title: "MNIST · CNN",
        blurb: "The classic Optuna study: lr, batch size, dropout and optimizer for a small CNN.",
    },
    Preset {
        id: "lora-finetune",
        title: "LoRA fine-tune · language model",
        blurb: "Adapt a small model pretrained on Jane Austen to The Devil's Dictionary: rank, alpha and learning rate.",
    },
];

/// The LoRA fine-tune's search space: LoRA's rank and scale, the learning rate and which
/// projections get adapters.
fn lora_space() -> Vec<ParamSpec> {
    vec![
        ParamSpec {
            kind: ParamKind::Categorical,
            choices: "2, 4, 8, 16".into(),
            ..ParamSpec::categorical("lora_r", &[])
        },
        ParamSpec::int("lora_alpha", 1, 64, true),
        ParamSpec::float("lr", 1e-3, 3e-2, true),
        ParamSpec::categorical("lora_targets", &["qv", "qkvo", "all"]),
    ]
}

/// Optimiser steps of a LoRA trial in the page, spread over its epochs (evaluations).
pub const LORA_STEPS: i64 = 120;
/// Windows of 64 bytes per step of a LoRA trial in the page.
pub const LORA_BATCH: i64 = 8;

fn two_d_space() -> Vec<ParamSpec> {
    vec![
        ParamSpec::float("lr", 1e-3, 0.3, true),
        ParamSpec::int("hidden_units", 2, 32, true),
        ParamSpec::int("hidden_layers", 1, 4, false),
        ParamSpec::categorical("activation", &["relu", "tanh"]),
    ]
}

fn classic_space() -> Vec<ParamSpec> {
    vec![
        ParamSpec::float("lr", 1e-5, 1e-1, true),
        ParamSpec {
            kind: ParamKind::Categorical,
            choices: "32, 64, 128".into(),
            ..ParamSpec::categorical("batch_size", &[])
        },
        ParamSpec::float("dropout", 0.1, 0.5, false),
        ParamSpec::categorical("optimizer", &["adam", "sgd"]),
    ]
}

/// The Spiral MLP preset, where the page starts.
impl Default for Setup {
    fn default() -> Self {
        Setup::preset("spiral-mlp")
    }
}

/// Epochs the 2-D presets' median pruner lets every trial train before judging it.
pub const TWO_D_WARMUP_EPOCHS: i64 = 5;

/// The quick variant of a heavy preset: this many trials ...
pub const QUICK_TRIALS: u32 = 5;
/// ... of this many epochs.
pub const QUICK_EPOCHS: u32 = 1;

impl Setup {
    /// What decides a trial's cost on a device: the data, the model, the search space and
    /// the backend asked for (not the number of trials or epochs, which only multiply it).
    pub fn cost_key(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{}",
            self.dataset.id(),
            self.model,
            self.params,
            self.backend.name()
        )
    }

    /// Whether the setup trains on MNIST: minutes per trial on a CPU, where the 2-D sets
    /// take seconds. The page offers a quick variant of such a setup.
    pub fn is_heavy(&self) -> bool {
        matches!(self.dataset, Dataset::Mnist | Dataset::DevilsDictionary)
    }

    /// The quick variant: [`QUICK_TRIALS`] trials of [`QUICK_EPOCHS`] epoch, the rest as is.
    pub fn make_quick(&mut self) {
        self.n_trials = QUICK_TRIALS;
        self.epochs = QUICK_EPOCHS;
    }

    /// Whether this is already the quick variant (or smaller).
    pub fn is_quick(&self) -> bool {
        self.n_trials <= QUICK_TRIALS && self.epochs <= QUICK_EPOCHS
    }

    /// How the study searches, in one line: "TPE (tuned) · Median pruner · 30 trials · auto
    /// backend".
    pub fn summary(&self) -> String {
        let pruner = match self.pruner {
            PrunerConfig::None => "no pruning".to_string(),
            ref p => format!("{} pruner", p.label()),
        };
        let trials = match self.n_trials {
            1 => "1 trial".to_string(),
            n => format!("{n} trials"),
        };
        let epochs = match self.epochs {
            1 => "1 epoch each".to_string(),
            n => format!("{n} epochs each"),
        };
        let backend = match self.backend {
            BackendChoice::Auto => "GPU if available",
            BackendChoice::Cpu => "CPU",
            BackendChoice::Gpu => "WebGPU",
        };
        format!(
            "{} · {pruner} · {trials} · {epochs} · {backend}",
            self.sampler.label()
        )
    }

    /// The setup of a preset (`spiral-mlp` for an unknown id).
    pub fn preset(id: &str) -> Setup {
        let two_d = |dataset: Dataset, epochs: u32| Setup {
            preset: id.to_string(),
            dataset,
            model: ModelKind::Mlp,
            epochs,
            objective: Objective::ValLoss,
            params: two_d_space(),
            sampler: SamplerChoice::TPE,
            seed: Some(0),
            // A warm-up, so the pruner judges a trial on a few epochs, not on its first.
            pruner: PrunerConfig::Median {
                n_startup_trials: 5,
                n_warmup_steps: TWO_D_WARMUP_EPOCHS,
                interval_steps: 1,
                n_min_trials: 1,
            },
            n_trials: 30,
            time_limit_s: 0,
            backend: BackendChoice::Auto,
        };
        let mnist = |model: ModelKind| Setup {
            preset: id.to_string(),
            dataset: Dataset::Mnist,
            model,
            epochs: 3,
            objective: Objective::ValAccuracy,
            params: classic_space(),
            sampler: SamplerChoice::TPE,
            seed: Some(0),
            pruner: PrunerConfig::with_defaults("median").unwrap_or(PrunerConfig::None),
            n_trials: 20,
            time_limit_s: 0,
            backend: BackendChoice::Auto,
        };
        match id {
            "lora-finetune" => Setup {
                preset: id.to_string(),
                dataset: Dataset::DevilsDictionary,
                model: ModelKind::Lora,
                epochs: 4,
                objective: Objective::ValLoss,
                params: lora_space(),
                sampler: SamplerChoice::TPE,
                seed: Some(0),
                pruner: PrunerConfig::Median {
                    n_startup_trials: 3,
                    n_warmup_steps: 1,
                    interval_steps: 1,
                    n_min_trials: 1,
                },
                n_trials: 10,
                time_limit_s: 0,
                backend: BackendChoice::Auto,
            },
            "xor-mlp" => two_d(Dataset::Xor, 15),
            "circle-mlp" => two_d(Dataset::Circle, 15),
            "gauss-mlp" => two_d(Dataset::Gauss, 10),
            "mnist-mlp" => mnist(ModelKind::Mlp),
            "mnist-cnn" => mnist(ModelKind::Cnn),
            _ => Setup {
                preset: "spiral-mlp".into(),
                ..two_d(Dataset::Spiral, 20)
            },
        }
    }

    /// One message per invalid row (row index, message), plus setup-level problems under
    /// `usize::MAX`.
    pub fn problems(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            let name = p.name.trim();
            if let Err(e) = p.distribution() {
                out.push((i, e));
            } else if names.contains(&name) {
                out.push((i, format!("parameter `{name}` is defined twice")));
            } else if !is_searchable(name) {
                let keys: Vec<&str> = TRAIN_KEYS
                    .iter()
                    .copied()
                    .filter(|k| is_searchable(k))
                    .collect();
                out.push((
                    i,
                    format!(
                        "the trainer has no parameter `{name}`; use {}",
                        keys.join(", ")
                    ),
                ));
            } else if self.model != ModelKind::Mlp
                && ModelSpec::MLP_ONLY_KEYS.contains(&canonical(name))
            {
                out.push((
                    i,
                    format!(
                        "`{name}` does not apply to the {} (its architecture is fixed)",
                        if self.model == ModelKind::Cnn {
                            "CNN"
                        } else {
                            "language model"
                        }
                    ),
                ));
            } else if self.model != ModelKind::Lora
                && ModelSpec::LM_ONLY_KEYS.contains(&canonical(name))
            {
                out.push((
                    i,
                    format!("`{name}` applies to the LoRA language model only"),
                ));
            }
            names.push(p.name.trim());
        }
        if self.params.is_empty() {
            out.push((usize::MAX, "add at least one parameter to search".into()));
        }
        if self.n_trials == 0 {
            out.push((usize::MAX, "the number of trials must be at least 1".into()));
        }
        if self.epochs == 0 {
            out.push((usize::MAX, "epochs must be at least 1".into()));
        } else if self.epochs as usize > MAX_EPOCHS {
            // Found here, before a study starts, not by the worker at its first trial.
            out.push((
                usize::MAX,
                format!("epochs must be at most {MAX_EPOCHS}, not {}", self.epochs),
            ));
        }
        if self.model == ModelKind::Cnn && self.dataset != Dataset::Mnist {
            out.push((usize::MAX, "the CNN needs image data (MNIST)".into()));
        }
        if (self.model == ModelKind::Lora) != self.dataset.is_text() {
            out.push((
                usize::MAX,
                "the LoRA language model and the text data set (The Devil's Dictionary) go together"
                    .into(),
            ));
        }
        if out.is_empty()
            && let Err(e) = self.sampler(0)
        {
            out.push((usize::MAX, e));
        }
        if let Err(e) = self.pruner() {
            out.push((usize::MAX, e));
        }
        out
    }

    /// The core search space.
    pub fn search_space(&self) -> Result<SearchSpace, String> {
        let mut space = SearchSpace::new();
        for p in &self.params {
            let d = p.distribution()?;
            if space.insert(p.name.trim().to_string(), d).is_some() {
                return Err(format!("parameter `{}` is defined twice", p.name.trim()));
            }
        }
        Ok(space)
    }

    /// The sampler; `fallback_seed` is used when the setup has none.
    pub fn sampler(&self, fallback_seed: u64) -> Result<Box<dyn Sampler>, String> {
        let seed = self.seed.unwrap_or(fallback_seed);
        Ok(match self.sampler.method {
            SweepMethod::Bayes => Box::new(TpeSampler::new(self.sampler.tpe.config(Some(seed)))),
            SweepMethod::Random => Box::new(RandomSampler::new(Some(seed))),
            SweepMethod::Grid => {
                let grid = self.grid()?;
                Box::new(GridSampler::new(grid, Some(seed)).map_err(|e| e.to_string())?)
            }
        })
    }

    /// The grid's values per parameter (floats need a step; at most 100,000 points, what
    /// a browser study can visit).
    pub fn grid(&self) -> Result<BTreeMap<String, Vec<ParamValue>>, String> {
        GridSampler::grid_of(&self.search_space()?, 100_000).map_err(|e| e.to_string())
    }

    /// The number of grid points (when the sampler is the grid and the space is valid).
    pub fn grid_points(&self) -> Option<usize> {
        (self.sampler.method == SweepMethod::Grid)
            .then(|| self.grid().ok())
            .flatten()
            .map(|g| g.values().map(Vec::len).product())
    }

    /// The pruner (Optuna's argument checks apply: a bad argument is named).
    pub fn pruner(&self) -> Result<Box<dyn Pruner>, String> {
        self.pruner.build().map_err(|e| format!("pruner: {e}"))
    }

    /// The setup as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`Setup::to_json`]'s form.
    pub fn from_json(text: &str) -> Result<Setup, String> {
        serde_json::from_str(text).map_err(|e| format!("the setup is not valid: {e}"))
    }

    /// The URL hash (without `#`) that restores this setup.
    pub fn to_hash(&self) -> String {
        format!("setup={}", encode_component(&self.to_json()))
    }

    /// Reads a URL hash (with or without `#`); `Ok(None)` when it holds no setup.
    pub fn from_hash(hash: &str) -> Result<Option<Setup>, String> {
        let hash = hash.trim_start_matches('#');
        for part in hash.split('&') {
            if let Some(v) = part.strip_prefix("setup=") {
                let json = decode_component(v)
                    .ok_or_else(|| "the link's setup is not properly encoded".to_string())?;
                return Setup::from_json(&json)
                    .map(Some)
                    .map_err(|e| format!("the link's setup could not be read: {e}"));
            }
            if let Some(v) = part.strip_prefix("preset=") {
                return Ok(Some(Setup::preset(v)));
            }
        }
        Ok(None)
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986) and a few safe ones.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:,[]{}!*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` for malformed input.
pub fn decode_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lora_preset_survives_a_link() {
        let s = Setup::preset("lora-finetune");
        assert!(
            s.to_json().contains("\"devils-dictionary\""),
            "{}",
            s.to_json()
        );
        let back = Setup::from_hash(&s.to_hash()).unwrap().unwrap();
        assert_eq!(back, s);
        assert_eq!(Dataset::parse(s.dataset.id()), Some(s.dataset));
    }

    #[test]
    fn every_preset_is_valid() {
        for p in PRESETS {
            let s = Setup::preset(p.id);
            assert_eq!(s.preset, p.id);
            assert!(s.problems().is_empty(), "{}: {:?}", p.id, s.problems());
            assert!(s.search_space().is_ok());
        }
    }

    #[test]
    fn the_classic_study_matches_the_brief() {
        let s = Setup::preset("mnist-cnn");
        let space = s.search_space().unwrap();
        assert_eq!(space["lr"], Distribution::float_log(1e-5, 1e-1));
        assert_eq!(
            space["batch_size"],
            Distribution::categorical([32i64, 64, 128])
        );
        assert_eq!(space["dropout"], Distribution::float(0.1, 0.5));
        assert_eq!(
            space["optimizer"],
            Distribution::categorical(["adam", "sgd"])
        );
        assert_eq!(s.sampler, SamplerChoice::TPE);
        assert_eq!(s.pruner.kind(), "median");
    }

    #[test]
    fn parameter_names_are_the_trainers_keys_and_aliases() {
        let mut s = Setup::preset("spiral-mlp");
        s.params = vec![ParamSpec::float("learning_rate", 1e-4, 1e-1, true)];
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        for bad in ["lrr", "epochs", "model"] {
            s.params = vec![ParamSpec::float(bad, 1e-4, 1e-1, true)];
            let problems = s.problems();
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(
                problems[0].1.contains(&format!("no parameter `{bad}`"))
                    && problems[0].1.contains("weight_decay"),
                "{problems:?}"
            );
        }
        let mut s = Setup::preset("mnist-cnn");
        for mlp_only in ["hidden_units", "n_layers", "activation"] {
            s.params = vec![ParamSpec::int(mlp_only, 1, 4, false)];
            assert!(
                s.problems()[0].1.contains("does not apply to the CNN"),
                "{mlp_only}: {:?}",
                s.problems()
            );
        }
    }

    #[test]
    fn invalid_rows_show_the_cores_message() {
        let mut s = Setup::preset("spiral-mlp");
        s.params[0].low = "0".into();
        let problems = s.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, 0);
        assert!(
            problems[0].1.contains("log scale needs low > 0"),
            "{problems:?}"
        );
        s.params[0].low = "abc".into();
        assert!(s.problems()[0].1.contains("is not a number"));
        s.params[0] = ParamSpec::int("x", 5, 1, false);
        assert!(s.problems()[0].1.contains("low must be <= high"));
        s.params[0] = ParamSpec::categorical("x", &[]);
        assert!(s.problems()[0].1.contains("at least one choice"));
        s.params[0] = ParamSpec::float("hidden_units", 0.0, 1.0, false);
        assert!(
            s.problems()[0].1.contains("defined twice")
                || s.problems()[1].1.contains("defined twice")
        );
    }

    #[test]
    fn both_tpe_choices_build_and_survive_a_reload() {
        let ids: Vec<&str> = SamplerChoice::ALL.iter().map(|k| k.id()).collect();
        assert_eq!(ids, ["tpe", "tpe-optuna", "random", "grid"]);
        for defaults in TpeDefaults::ALL {
            let kind = SamplerChoice::tpe(defaults);
            let mut s = Setup::preset("spiral-mlp");
            s.sampler = kind;
            assert_eq!(s.sampler(0).unwrap().name(), "TPESampler");
            let json = s.to_json();
            assert!(
                json.contains(&format!("\"sampler\":\"{}\"", kind.id())),
                "{json}"
            );
            assert_eq!(Setup::from_json(&json).unwrap().sampler, kind);
        }
        assert_eq!(SamplerChoice::RANDOM.method, SweepMethod::Random);
        assert!(SamplerChoice::TPE.label().contains("tuned"));
        assert!(SamplerChoice::TPE_OPTUNA.label().contains("Optuna"));
        let bad = Setup::preset("spiral-mlp")
            .to_json()
            .replace("\"tpe\"", "\"cmaes\"");
        assert!(Setup::from_json(&bad).unwrap_err().contains("cmaes"));
    }

    #[test]
    fn the_pruner_is_the_cores_with_optunas_defaults_and_old_links_still_read() {
        // The median pruner means Optuna's MedianPruner() here as in the CLI.
        let s = Setup::preset("mnist-cnn");
        assert_eq!(
            s.pruner,
            PrunerConfig::Median {
                n_startup_trials: 5,
                n_warmup_steps: 0,
                interval_steps: 1,
                n_min_trials: 1
            }
        );
        // Every pruner and its arguments survive a link.
        let mut s = Setup::preset("spiral-mlp");
        s.pruner = PrunerConfig::Percentile {
            percentile: 40.0,
            n_startup_trials: 2,
            n_warmup_steps: 1,
            interval_steps: 1,
            n_min_trials: 1,
        };
        assert_eq!(Setup::from_hash(&s.to_hash()).unwrap().unwrap(), s);
        // A link from before: the pruner by name.
        let old = s
            .to_json()
            .replace(&serde_json::to_string(&s.pruner).unwrap(), "\"hyperband\"");
        assert_eq!(
            Setup::from_json(&old).unwrap().pruner,
            PrunerConfig::with_defaults("hyperband").unwrap()
        );
        // A bad argument is a problem shown with the setup, never a silent "no pruner".
        s.pruner = PrunerConfig::Hyperband {
            min_resource: 1,
            max_resource: Some(10),
            reduction_factor: 1,
            bootstrap_count: 0,
        };
        let problems = s.problems();
        assert!(
            problems.iter().any(|(i, m)| *i == usize::MAX
                && m.starts_with("pruner:")
                && m.contains("reduction_factor")),
            "{problems:?}"
        );
        assert!(s.pruner().is_err());
    }

    #[test]
    fn grid_needs_steps_for_floats() {
        let mut s = Setup::preset("xor-mlp");
        s.sampler = SamplerChoice::GRID;
        assert!(
            s.problems()[0].1.contains("needs a step"),
            "{:?}",
            s.problems()
        );
        s.params = vec![
            ParamSpec {
                step: "0.25".into(),
                ..ParamSpec::float("dropout", 0.0, 1.0, false)
            },
            ParamSpec::categorical("optimizer", &["adam", "sgd"]),
        ];
        assert!(s.problems().is_empty());
        assert_eq!(s.grid_points(), Some(10));
    }

    #[test]
    fn the_url_hash_round_trips() {
        let mut s = Setup::preset("mnist-cnn");
        s.params[1].choices = "a b, c&d, é".into();
        s.seed = Some(42);
        let h = s.to_hash();
        assert!(
            !h.contains('&') && !h.contains('#') && !h.contains(' '),
            "{h}"
        );
        assert_eq!(Setup::from_hash(&format!("#{h}")).unwrap(), Some(s));
        assert_eq!(Setup::from_hash("").unwrap(), None);
        assert!(Setup::from_hash("#setup=%7Bbroken").is_err());
        assert!(Setup::from_hash("#setup=%ZZ").is_err());
        assert_eq!(
            Setup::from_hash("#preset=xor-mlp")
                .unwrap()
                .unwrap()
                .dataset,
            Dataset::Xor
        );
    }

    #[test]
    fn choices_keep_their_types() {
        assert_eq!(
            parse_choices("1, 2.5, true, none, adam"),
            vec![
                ParamValue::Int(1),
                ParamValue::Float(2.5),
                ParamValue::Bool(true),
                ParamValue::Null,
                ParamValue::Str("adam".into())
            ]
        );
    }

    #[test]
    fn rows_round_trip_through_distributions() {
        for d in [
            Distribution::float_log(1e-5, 0.1),
            Distribution::float_step(0.0, 1.0, 0.25),
            Distribution::int_step(2, 10, 2),
            Distribution::categorical(["a", "b"]),
        ] {
            let row = ParamSpec::from_distribution("p", &d);
            assert_eq!(row.distribution().unwrap(), d);
        }
    }
}
