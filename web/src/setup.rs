//! The study setup a user edits: data set, model, search space, sampler, pruner, budget
//! and backend. It is plain data (serde), so it round-trips through the URL hash and
//! IndexedDB; [`Setup::search_space`], [`Setup::sampler`] and [`Setup::pruner`] turn it
//! into the core's objects and report the core's validation errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sweeplab_core::distributions::{CategoricalDistribution, FloatDistribution, IntDistribution};
use sweeplab_core::{
    Distribution, GridSampler, HyperbandPruner, NopPruner, ParamValue, PercentilePruner, Pruner,
    RandomSampler, Sampler, SearchSpace, StudyDirection, TpeDefaults, TpeSampler,
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
}

impl Dataset {
    /// Every data set, in menu order.
    pub const ALL: [Dataset; 5] = [
        Dataset::Spiral,
        Dataset::Xor,
        Dataset::Circle,
        Dataset::Gauss,
        Dataset::Mnist,
    ];

    /// The identifier used in URLs and files.
    pub fn id(self) -> &'static str {
        match self {
            Dataset::Spiral => "spiral",
            Dataset::Xor => "xor",
            Dataset::Circle => "circle",
            Dataset::Gauss => "gauss",
            Dataset::Mnist => "mnist",
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
        }
    }

    /// Whether points are 2-D (the decision boundary can be drawn).
    pub fn is_2d(self) -> bool {
        !matches!(self, Dataset::Mnist)
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
}

impl ModelKind {
    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Mlp => "MLP",
            ModelKind::Cnn => "CNN",
        }
    }
}

/// The sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplerKind {
    /// Tree-structured Parzen Estimator, sweeplab's tuning of Optuna 5's TPE
    /// ([`TpeDefaults::Sweeplab`]).
    Tpe,
    /// Tree-structured Parzen Estimator with exactly Optuna 5.0's defaults.
    #[serde(rename = "tpe-optuna")]
    TpeOptuna,
    /// Uniform random search.
    Random,
    /// Every point of a grid (floats need a step).
    Grid,
}

impl SamplerKind {
    /// Every sampler, in menu order.
    pub const ALL: [SamplerKind; 4] = [
        SamplerKind::Tpe,
        SamplerKind::TpeOptuna,
        SamplerKind::Random,
        SamplerKind::Grid,
    ];

    /// The identifier.
    pub fn id(self) -> &'static str {
        match self {
            SamplerKind::Tpe => "tpe",
            SamplerKind::TpeOptuna => "tpe-optuna",
            SamplerKind::Random => "random",
            SamplerKind::Grid => "grid",
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            SamplerKind::Tpe => "TPE (tuned)",
            SamplerKind::TpeOptuna => "TPE (Optuna 5)",
            SamplerKind::Random => "Random",
            SamplerKind::Grid => "Grid",
        }
    }

    /// The TPE entry for `defaults`.
    pub fn tpe(defaults: TpeDefaults) -> Self {
        match defaults {
            TpeDefaults::Sweeplab => SamplerKind::Tpe,
            TpeDefaults::Optuna => SamplerKind::TpeOptuna,
        }
    }

    /// The defaults a TPE entry starts from (`None` for the other samplers).
    pub fn tpe_defaults(self) -> Option<TpeDefaults> {
        match self {
            SamplerKind::Tpe => Some(TpeDefaults::Sweeplab),
            SamplerKind::TpeOptuna => Some(TpeDefaults::Optuna),
            SamplerKind::Random | SamplerKind::Grid => None,
        }
    }

    /// What the TPE choices are, for the line under the menu.
    pub fn note(self) -> Option<&'static str> {
        match self {
            SamplerKind::Tpe => Some(
                "sweeplab's tuning of Optuna 5's TPE, two settings changed: a larger \"good\" group (the best \
                 20% of the trials, up to 25, instead of 10%) and 48 candidates per trial \
                 instead of 24. It exploits more, and found better optima than Optuna's \
                 defaults on the benchmark functions.",
            ),
            SamplerKind::TpeOptuna => Some(
                "Exactly Optuna 5.0's TPESampler() defaults: the trials sample as Python \
                 Optuna's would.",
            ),
            SamplerKind::Random | SamplerKind::Grid => None,
        }
    }
}

/// The pruner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrunerKind {
    /// Never prune.
    None,
    /// Optuna's `MedianPruner`.
    Median,
    /// Optuna's `HyperbandPruner` (resource = epochs).
    Hyperband,
}

impl PrunerKind {
    /// Every pruner, in menu order.
    pub const ALL: [PrunerKind; 3] = [PrunerKind::None, PrunerKind::Median, PrunerKind::Hyperband];

    /// The identifier.
    pub fn id(self) -> &'static str {
        match self {
            PrunerKind::None => "none",
            PrunerKind::Median => "median",
            PrunerKind::Hyperband => "hyperband",
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            PrunerKind::None => "None",
            PrunerKind::Median => "Median",
            PrunerKind::Hyperband => "Hyperband",
        }
    }
}

/// Where trials train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// WebGPU on a hardware adapter, the CPU otherwise.
    Auto,
    /// WebGPU, whatever the adapter.
    Gpu,
    /// The CPU (burn's Flex backend in wasm).
    Cpu,
}

impl Backend {
    /// Every backend, in menu order.
    pub const ALL: [Backend; 3] = [Backend::Auto, Backend::Gpu, Backend::Cpu];

    /// The identifier.
    pub fn id(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Gpu => "gpu",
            Backend::Cpu => "cpu",
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Auto => "Auto",
            Backend::Gpu => "WebGPU",
            Backend::Cpu => "CPU",
        }
    }
}

/// What the study optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Minimise the validation loss.
    ValLoss,
    /// Maximise the validation accuracy.
    ValAccuracy,
}

impl Objective {
    /// The study direction.
    pub fn direction(self) -> StudyDirection {
        match self {
            Objective::ValLoss => StudyDirection::Minimize,
            Objective::ValAccuracy => StudyDirection::Maximize,
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            Objective::ValLoss => "validation loss (minimize)",
            Objective::ValAccuracy => "validation accuracy (maximize)",
        }
    }

    /// A short label for menus.
    pub fn short_label(self) -> &'static str {
        match self {
            Objective::ValLoss => "val loss (min)",
            Objective::ValAccuracy => "val accuracy (max)",
        }
    }

    /// The metric series it reads.
    pub fn series(self) -> &'static str {
        match self {
            Objective::ValLoss => "val/loss",
            Objective::ValAccuracy => "val/accuracy",
        }
    }
}

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
    pub sampler: SamplerKind,
    /// The sampler's seed; `None` draws one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The pruner.
    pub pruner: PrunerKind,
    /// How many trials to run.
    pub n_trials: u32,
    /// Stop starting trials after this many seconds (0: no limit).
    #[serde(default)]
    pub time_limit_s: u32,
    /// Where trials train.
    pub backend: Backend,
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
pub const PRESETS: [Preset; 6] = [
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
];

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

impl Setup {
    /// The setup of a preset (`spiral-mlp` for an unknown id).
    pub fn preset(id: &str) -> Setup {
        let two_d = |dataset: Dataset, epochs: u32| Setup {
            preset: id.to_string(),
            dataset,
            model: ModelKind::Mlp,
            epochs,
            objective: Objective::ValLoss,
            params: two_d_space(),
            sampler: SamplerKind::Tpe,
            seed: Some(0),
            pruner: PrunerKind::Median,
            n_trials: 30,
            time_limit_s: 0,
            backend: Backend::Auto,
        };
        let mnist = |model: ModelKind| Setup {
            preset: id.to_string(),
            dataset: Dataset::Mnist,
            model,
            epochs: 3,
            objective: Objective::ValAccuracy,
            params: classic_space(),
            sampler: SamplerKind::Tpe,
            seed: Some(0),
            pruner: PrunerKind::Median,
            n_trials: 20,
            time_limit_s: 0,
            backend: Backend::Auto,
        };
        match id {
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
            } else if !crate::protocol::TRAINER_PARAMS.contains(&name) {
                out.push((
                    i,
                    format!(
                        "the trainer has no parameter `{name}`; use lr, batch_size, dropout, \
                         optimizer, weight_decay, momentum, activation, hidden_layers or hidden_units"
                    ),
                ));
            } else if self.model == ModelKind::Cnn
                && matches!(
                    name,
                    "layers"
                        | "hidden_layers"
                        | "n_layers"
                        | "num_layers"
                        | "width"
                        | "hidden_units"
                        | "units"
                        | "hidden_size"
                        | "activation"
                )
            {
                out.push((
                    i,
                    format!("`{name}` does not apply to the CNN (its architecture is fixed)"),
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
        }
        if self.model == ModelKind::Cnn && self.dataset != Dataset::Mnist {
            out.push((usize::MAX, "the CNN needs image data (MNIST)".into()));
        }
        if out.is_empty()
            && let Err(e) = self.sampler(0)
        {
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
        Ok(match self.sampler {
            SamplerKind::Tpe | SamplerKind::TpeOptuna => {
                let defaults = self.sampler.tpe_defaults().unwrap_or_default();
                Box::new(TpeSampler::new(defaults.config(Some(seed))))
            }
            SamplerKind::Random => Box::new(RandomSampler::new(Some(seed))),
            SamplerKind::Grid => {
                let grid = self.grid()?;
                Box::new(GridSampler::new(grid, Some(seed)).map_err(|e| e.to_string())?)
            }
        })
    }

    /// The grid's values per parameter (floats need a step; at most 100,000 points).
    pub fn grid(&self) -> Result<BTreeMap<String, Vec<ParamValue>>, String> {
        let mut grid = BTreeMap::new();
        let mut points: f64 = 1.0;
        for (name, d) in self.search_space()? {
            let values: Vec<ParamValue> = match &d {
                Distribution::Categorical(c) => c.choices.clone(),
                Distribution::Int(i) => {
                    let n = (i.high - i.low) / i.step + 1;
                    if n > 10_000 {
                        return Err(format!(
                            "grid: parameter `{name}` has {n} values; raise its step"
                        ));
                    }
                    (0..n)
                        .map(|k| ParamValue::Int(i.low + k * i.step))
                        .collect()
                }
                Distribution::Float(f) => {
                    let Some(step) = f.step else {
                        return Err(format!(
                            "grid: float parameter `{name}` needs a step (or make it categorical)"
                        ));
                    };
                    let n = ((f.high - f.low) / step).round() as i64 + 1;
                    if n > 10_000 {
                        return Err(format!(
                            "grid: parameter `{name}` has {n} values; raise its step"
                        ));
                    }
                    (0..n)
                        .map(|k| ParamValue::Float(f.low + k as f64 * step))
                        .collect()
                }
            };
            points *= values.len() as f64;
            grid.insert(name, values);
        }
        if points > 100_000.0 {
            return Err(format!(
                "grid: {points} points is too many for a browser study; narrow it"
            ));
        }
        Ok(grid)
    }

    /// The number of grid points (when the sampler is the grid and the space is valid).
    pub fn grid_points(&self) -> Option<usize> {
        (self.sampler == SamplerKind::Grid)
            .then(|| self.grid().ok())
            .flatten()
            .map(|g| g.values().map(Vec::len).product())
    }

    /// The pruner.
    pub fn pruner(&self) -> Box<dyn Pruner> {
        match self.pruner {
            PrunerKind::None => Box::new(NopPruner),
            PrunerKind::Median => match PercentilePruner::median(3, 1, 1, 1) {
                Ok(p) => Box::new(p),
                Err(_) => Box::new(PercentilePruner::median_default()),
            },
            PrunerKind::Hyperband => {
                match HyperbandPruner::new(1, Some(i64::from(self.epochs.max(1))), 3, 0) {
                    Ok(p) => Box::new(p),
                    Err(_) => Box::new(NopPruner),
                }
            }
        }
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
        assert_eq!(s.sampler, SamplerKind::Tpe);
        assert_eq!(s.pruner, PrunerKind::Median);
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
        let ids: Vec<&str> = SamplerKind::ALL.iter().map(|k| k.id()).collect();
        assert_eq!(ids, ["tpe", "tpe-optuna", "random", "grid"]);
        for kind in [SamplerKind::Tpe, SamplerKind::TpeOptuna] {
            let defaults = kind.tpe_defaults().unwrap();
            assert_eq!(SamplerKind::tpe(defaults), kind);
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
        assert_eq!(SamplerKind::Random.tpe_defaults(), None);
        assert_eq!(SamplerKind::Grid.tpe_defaults(), None);
        assert!(SamplerKind::Tpe.label().contains("tuned"));
        assert!(SamplerKind::TpeOptuna.label().contains("Optuna"));
    }

    #[test]
    fn grid_needs_steps_for_floats() {
        let mut s = Setup::preset("xor-mlp");
        s.sampler = SamplerKind::Grid;
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
