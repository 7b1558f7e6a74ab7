//! Loading a [`DataSpec`]: the toy sets are generated here, MNIST comes from its parsed IDX
//! files ([`Mnist`]). Kept apart from the data-set types so that they need nothing of
//! `mnist`, which builds its [`DataSet`] from them.

use super::{DataSet, DataSpec, generate_toy};
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
        }
    }
}
