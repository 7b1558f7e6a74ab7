//! Loading a [`DataSpec`]: the toy sets are generated here, MNIST comes from its parsed IDX
//! files ([`Mnist`]). Kept apart from the data-set types so that they need nothing of
//! `mnist`, which builds its [`DataSet`] from them.

use super::{DataSet, DataSpec, InputShape, Samples, TextSet, generate_toy};

/// The longest context a text set must hold more than, in each part.
const LM_CONTEXT_MAX: usize = 512;
use crate::train::TrainError;
use crate::train::mnist::Mnist;

impl DataSpec {
    /// Builds the data set. MNIST needs its two gzip files' bytes (`mnist`); the toy sets
    /// ignore it.
    pub fn load(&self, mnist: Option<&Mnist>) -> Result<DataSet, TrainError> {
        match self {
            DataSpec::Toy {
                kind,
                samples,
                noise,
                valid_fraction,
                seed,
            } => Ok(generate_toy(
                *kind,
                *samples,
                *noise,
                *valid_fraction,
                *seed,
            )),
            DataSpec::Mnist => {
                let m = mnist.ok_or_else(|| {
                    TrainError::Data("the mnist data set was not loaded".to_string())
                })?;
                Ok(m.split(8_000))
            }
            DataSpec::Text(c) => Err(TrainError::Data(format!(
                "the {} data set needs its text and the base weights (DataSpec::load_text)",
                c.name()
            ))),
        }
    }

    /// Builds a text data set from the corpus's `text` and the base's safetensors file
    /// `base` (checked against `base_sha256` by each trial that loads it).
    pub fn load_text(
        &self,
        text: &str,
        base: Vec<u8>,
        base_sha256: &str,
    ) -> Result<DataSet, TrainError> {
        let DataSpec::Text(c) = self else {
            return Err(TrainError::Data(format!(
                "{} is not a text data set",
                self.name()
            )));
        };
        let corpus =
            crate::train::lm::train::Corpus::split(text, c.valid_fraction(), LM_CONTEXT_MAX)?;
        Ok(DataSet {
            name: c.name().to_string(),
            train: Samples::empty(),
            valid: Samples::empty(),
            shape: InputShape::Flat(0),
            classes: crate::train::lm::VOCAB,
            text: Some(std::sync::Arc::new(TextSet {
                corpus,
                base,
                base_sha256: base_sha256.to_string(),
                prompt: c.prompt().to_string(),
            })),
        })
    }
}
