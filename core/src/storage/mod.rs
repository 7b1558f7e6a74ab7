//! Storage: Optuna's journal (operations, replay) and, natively, the journal file with
//! Optuna's lock. It knows nothing of the study that writes it: the study loop persists a
//! study through a [`StudyStore`](crate::store::StudyStore), which sits above both.

#[cfg(not(target_arch = "wasm32"))]
pub mod file;
pub mod journal;

pub use journal::{JournalError, JournalOp, JournalStorage};
