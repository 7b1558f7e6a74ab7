//! Data sets: TensorFlow-Playground-style 2-D classification sets generated from a seed, and
//! MNIST-10k parsed from its IDX files.
//!
//! Everything is generated or parsed in memory with a portable RNG (ChaCha8), so the same seed
//! gives the same points natively and in the browser, and nothing touches the network.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::TrainError;
use crate::json::Json;

mod load;

/// One split of a data set: `len` samples of `dim` features each, row-major, plus labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Features, `len * dim` values, sample after sample.
    pub features: Vec<f32>,
    /// Class labels, `len` values in `0..classes`.
    pub labels: Vec<i64>,
    /// Features per sample.
    pub dim: usize,
}

impl Samples {
    /// No samples.
    pub fn empty() -> Samples {
        Samples {
            features: Vec::new(),
            labels: Vec::new(),
            dim: 0,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }
}

/// The shape of one input sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputShape {
    /// A flat vector of this many features (the 2-D sets: 2).
    Flat(usize),
    /// A one-channel image, `height x width` (MNIST: 28 x 28).
    Image {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
    },
}

impl InputShape {
    /// Features per sample.
    pub fn numel(self) -> usize {
        match self {
            InputShape::Flat(n) => n,
            InputShape::Image { height, width } => height * width,
        }
    }
}

/// A data set split into training and validation samples.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    /// The data set's name (`spiral`, `mnist`, …).
    pub name: String,
    /// Training samples.
    pub train: Samples,
    /// Validation samples.
    pub valid: Samples,
    /// The shape of one sample.
    pub shape: InputShape,
    /// Number of classes.
    pub classes: usize,
    /// A text set's corpus and the pretrained base it fine-tunes (then `train` and `valid`
    /// are empty).
    pub text: Option<std::sync::Arc<TextSet>>,
}

/// A text data set: the corpus as byte tokens and the language model's pretrained base.
#[derive(Clone, Debug, PartialEq)]
pub struct TextSet {
    /// The corpus, split into training and validation text.
    pub corpus: crate::train::lm::train::Corpus,
    /// The base's safetensors file.
    pub base: Vec<u8>,
    /// Its SHA-256, checked when a trial loads it.
    pub base_sha256: String,
    /// The prompt each evaluation's text sample continues.
    pub prompt: String,
}

/// The 2-D classification problems of TensorFlow Playground.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toy2d {
    /// A disc of one class inside a ring of the other.
    Circle,
    /// The four quadrants, alternating classes.
    Xor,
    /// Two Gaussian blobs.
    Gauss,
    /// Two interleaved spirals.
    Spiral,
}

impl Toy2d {
    /// All four, in the Playground's order.
    pub const ALL: [Toy2d; 4] = [Toy2d::Circle, Toy2d::Xor, Toy2d::Gauss, Toy2d::Spiral];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Toy2d::Circle => "circle",
            Toy2d::Xor => "xor",
            Toy2d::Gauss => "gauss",
            Toy2d::Spiral => "spiral",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Option<Toy2d> {
        Toy2d::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

/// Which data set to load, with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// A generated 2-D set.
    Toy {
        /// Which problem.
        kind: Toy2d,
        /// Total points (train + validation).
        samples: usize,
        /// Noise level, 0 (clean) to 0.5 (the Playground's maximum).
        noise: f64,
        /// Fraction of the points used for validation, in (0, 1).
        valid_fraction: f64,
        /// Seed of the generator.
        seed: u64,
    },
    /// MNIST-10k: the first 8,000 samples train, the last 2,000 validate.
    Mnist,
    /// A text corpus for the language model (see [`TextCorpus`]).
    Text(TextCorpus),
}

/// The text corpora the language model fine-tunes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextCorpus {
    /// Ambrose Bierce's *The Devil's Dictionary* (1911; public domain), the entries from
    /// ABASEMENT to ZOOLOGY: the last 10% validate.
    DevilsDictionary,
}

impl TextCorpus {
    /// The name in configurations.
    pub fn name(self) -> &'static str {
        match self {
            TextCorpus::DevilsDictionary => "devils-dictionary",
        }
    }

    /// The file `static/data/lm/` holds it in.
    pub fn file(self) -> &'static str {
        match self {
            TextCorpus::DevilsDictionary => "devils-dictionary.txt",
        }
    }

    /// The prompt of the text samples: the start of an entry.
    pub fn prompt(self) -> &'static str {
        match self {
            TextCorpus::DevilsDictionary => "LEARNING, n.  ",
        }
    }

    /// The fraction of the text that validates.
    pub fn valid_fraction(self) -> f64 {
        0.1
    }
}

/// The settings a data set entry of a sweep config may carry.
pub const DATA_KEYS: &[&str] = &["name", "samples", "noise", "valid_fraction", "seed"];

impl DataSpec {
    /// A toy set with the Playground's defaults (500 points, noise 0.1, 20% validation).
    pub fn toy(kind: Toy2d, seed: u64) -> Self {
        DataSpec::Toy {
            kind,
            samples: 500,
            noise: 0.1,
            valid_fraction: 0.2,
            seed,
        }
    }

    /// The data set's name.
    pub fn name(&self) -> &'static str {
        match self {
            DataSpec::Toy { kind, .. } => kind.name(),
            DataSpec::Mnist => "mnist",
            DataSpec::Text(c) => c.name(),
        }
    }

    /// Reads a data set entry: a name (`spiral`, `mnist`, …) or an object
    /// `{name, samples, noise, valid_fraction, seed}`. `default_seed` is used when the entry
    /// has no seed.
    pub fn from_json(v: &Json, default_seed: u64) -> Result<DataSpec, TrainError> {
        let (name, opts): (&str, BTreeMap<String, Json>) = match v {
            Json::Str(s) => (s.as_str(), BTreeMap::new()),
            Json::Object(m) => {
                let name = v.get("name").and_then(Json::as_str).ok_or_else(|| {
                    TrainError::Config(
                        "dataset: an object needs a `name` (circle, xor, gauss, spiral, mnist or devils-dictionary)"
                            .into(),
                    )
                })?;
                (name, m.iter().cloned().collect())
            }
            other => {
                return Err(TrainError::Config(format!(
                    "dataset must be a name or an object, not {}",
                    other.to_python_default()
                )));
            }
        };
        for key in opts.keys() {
            if !DATA_KEYS.contains(&key.as_str()) {
                return Err(TrainError::Config(format!(
                    "dataset: unknown key `{key}`; supported: {}",
                    DATA_KEYS.join(", ")
                )));
            }
        }
        if name.eq_ignore_ascii_case("mnist") || name.eq_ignore_ascii_case("mnist10k") {
            if let Some(k) = opts.keys().find(|k| k.as_str() != "name") {
                return Err(TrainError::Config(format!(
                    "dataset: `{k}` does not apply to mnist (its split is fixed: 8,000 train, 2,000 validation)"
                )));
            }
            return Ok(DataSpec::Mnist);
        }
        if name.eq_ignore_ascii_case("devils-dictionary") {
            if let Some(k) = opts.keys().find(|k| k.as_str() != "name") {
                return Err(TrainError::Config(format!(
                    "dataset: `{k}` does not apply to devils-dictionary (its split is fixed: the last 10% validates)"
                )));
            }
            return Ok(DataSpec::Text(TextCorpus::DevilsDictionary));
        }
        let kind = Toy2d::parse(name).ok_or_else(|| {
            TrainError::Config(format!(
                "dataset: unknown data set `{name}`; supported: circle, xor, gauss, spiral, mnist, devils-dictionary"
            ))
        })?;
        let num = |key: &str| -> Result<Option<f64>, TrainError> {
            match opts.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                    TrainError::Config(format!(
                        "dataset: `{key}` must be a number, not {}",
                        v.to_python_default()
                    ))
                }),
            }
        };
        let samples = num("samples")?.unwrap_or(500.0);
        if !(samples.fract() == 0.0 && (10.0..=1_000_000.0).contains(&samples)) {
            return Err(TrainError::Config(format!(
                "dataset: `samples` must be a whole number from 10 to 1000000, not {samples}"
            )));
        }
        let noise = num("noise")?.unwrap_or(0.1);
        if !(0.0..=0.5).contains(&noise) {
            return Err(TrainError::Config(format!(
                "dataset: `noise` must be between 0 and 0.5, not {noise}"
            )));
        }
        let valid_fraction = num("valid_fraction")?.unwrap_or(0.2);
        if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
            return Err(TrainError::Config(format!(
                "dataset: `valid_fraction` must be between 0 and 1 (exclusive), not {valid_fraction}"
            )));
        }
        let seed = match num("seed")? {
            Some(s) if s >= 0.0 && s.fract() == 0.0 => s as u64,
            Some(s) => {
                return Err(TrainError::Config(format!(
                    "dataset: `seed` must be a non-negative whole number, not {s}"
                )));
            }
            None => default_seed,
        };
        Ok(DataSpec::Toy {
            kind,
            samples: samples as usize,
            noise,
            valid_fraction,
            seed,
        })
    }
}

/// Radius of the Playground's plane; points are scaled by it to about [-1, 1].
const RADIUS: f64 = 5.0;

/// Generates a 2-D set: `samples` points (half of each class), noise in [0, 0.5], the last
/// `valid_fraction` of a shuffled order held out for validation.
pub fn generate_toy(
    kind: Toy2d,
    samples: usize,
    noise: f64,
    valid_fraction: f64,
    seed: u64,
) -> DataSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut points: Vec<([f64; 2], i64)> = Vec::with_capacity(samples);
    let half = samples / 2;
    match kind {
        Toy2d::Circle => {
            for i in 0..samples {
                let label = i64::from(i >= half);
                // Class 0 inside half the radius, class 1 on a ring from 0.7 to 1.
                let (lo, hi) = if label == 0 { (0.0, 0.5) } else { (0.7, 1.0) };
                let r = RADIUS * rng.random_range(lo..hi);
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                let x = r * angle.sin() + rng.random_range(-RADIUS..RADIUS) * noise;
                let y = r * angle.cos() + rng.random_range(-RADIUS..RADIUS) * noise;
                points.push(([x, y], label));
            }
        }
        Toy2d::Xor => {
            const PAD: f64 = 0.3;
            for _ in 0..samples {
                let mut x = rng.random_range(-RADIUS..RADIUS);
                let mut y = rng.random_range(-RADIUS..RADIUS);
                x += if x > 0.0 { PAD } else { -PAD };
                y += if y > 0.0 { PAD } else { -PAD };
                let nx = x + rng.random_range(-RADIUS..RADIUS) * noise;
                let ny = y + rng.random_range(-RADIUS..RADIUS) * noise;
                // The class follows the true quadrant; noise only moves the point.
                let label = i64::from(x * y < 0.0);
                points.push(([nx, ny], label));
            }
        }
        Toy2d::Gauss => {
            // Noise widens the blobs: standard deviation from 0.5 (clean) to 2 (noise 0.5).
            let sd = 0.5 + 3.0 * noise;
            for i in 0..samples {
                let label = i64::from(i >= half);
                let c = if label == 0 { 2.0 } else { -2.0 };
                let (g1, g2) = gaussian_pair(&mut rng);
                points.push(([c + sd * g1, c + sd * g2], label));
            }
        }
        Toy2d::Spiral => {
            let n = half.max(1);
            for i in 0..samples {
                let label = i64::from(i >= half);
                let j = if label == 0 { i } else { i - half };
                let delta = if label == 0 {
                    0.0
                } else {
                    std::f64::consts::PI
                };
                let frac = j as f64 / n as f64;
                let r = frac * RADIUS;
                let t = 1.75 * frac * std::f64::consts::TAU + delta;
                let x = r * t.sin() + rng.random_range(-1.0..1.0) * noise * RADIUS * 0.2;
                let y = r * t.cos() + rng.random_range(-1.0..1.0) * noise * RADIUS * 0.2;
                points.push(([x, y], label));
            }
        }
    }
    shuffle(&mut points, &mut rng);
    let n_valid = ((samples as f64 * valid_fraction).round() as usize).clamp(1, samples - 1);
    let n_train = samples - n_valid;
    let to_samples = |pts: &[([f64; 2], i64)]| Samples {
        features: pts
            .iter()
            .flat_map(|(p, _)| [(p[0] / RADIUS) as f32, (p[1] / RADIUS) as f32])
            .collect(),
        labels: pts.iter().map(|(_, l)| *l).collect(),
        dim: 2,
    };
    DataSet {
        name: kind.name().to_string(),
        train: to_samples(&points[..n_train]),
        valid: to_samples(&points[n_train..]),
        shape: InputShape::Flat(2),
        classes: 2,
        text: None,
    }
}

/// Two independent standard normal draws (Box–Muller).
fn gaussian_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f64::consts::TAU * u2;
    (r * t.cos(), r * t.sin())
}

/// Fisher–Yates shuffle with the given RNG (portable: same order on every platform).
pub fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_sets_are_deterministic_balanced_and_split() {
        for kind in Toy2d::ALL {
            let a = generate_toy(kind, 400, 0.2, 0.25, 7);
            let b = generate_toy(kind, 400, 0.2, 0.25, 7);
            let c = generate_toy(kind, 400, 0.2, 0.25, 8);
            assert_eq!(a, b, "{kind:?}");
            assert_ne!(a.train.features, c.train.features, "{kind:?}");
            assert_eq!(a.train.len(), 300);
            assert_eq!(a.valid.len(), 100);
            let ones: i64 = a.train.labels.iter().chain(&a.valid.labels).sum();
            if kind == Toy2d::Xor {
                // Quadrants are drawn at random: about half.
                assert!((150..=250).contains(&ones), "{kind:?}: {ones} of 400");
            } else {
                assert_eq!(ones, 200, "{kind:?}: half the points in each class");
            }
            assert!(
                a.train
                    .features
                    .iter()
                    .all(|v| v.is_finite() && v.abs() < 4.0),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn clean_circle_separates_by_radius() {
        let d = generate_toy(Toy2d::Circle, 200, 0.0, 0.5, 1);
        for i in 0..d.train.len() {
            let p = d.train.row(i);
            let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
            if d.train.labels[i] == 0 {
                assert!(r <= 0.5 + 1e-6);
            } else {
                assert!(r >= 0.7 - 1e-6);
            }
        }
    }

    #[test]
    fn data_spec_parses_and_rejects() {
        let spec = DataSpec::from_json(&Json::Str("Spiral".into()), 3).unwrap();
        assert_eq!(spec, DataSpec::toy(Toy2d::Spiral, 3));
        let spec = DataSpec::from_json(
            &Json::parse(r#"{"name": "xor", "noise": 0.3, "samples": 100}"#).unwrap(),
            0,
        )
        .unwrap();
        assert!(matches!(spec, DataSpec::Toy { samples: 100, .. }));
        let err = DataSpec::from_json(&Json::Str("moons".into()), 0).unwrap_err();
        assert!(err.to_string().contains("moons"), "{err}");
        let err = DataSpec::from_json(&Json::parse(r#"{"name": "xor", "noise": 2}"#).unwrap(), 0)
            .unwrap_err();
        assert!(err.to_string().contains("noise"), "{err}");
        let err = DataSpec::from_json(&Json::parse(r#"{"name": "xor", "nois": 0.1}"#).unwrap(), 0)
            .unwrap_err();
        assert!(err.to_string().contains("nois"), "{err}");
    }
}
