//! Storage: Optuna's journal (operations, replay) and, natively, the shared journal file.

#[cfg(not(target_arch = "wasm32"))]
pub mod file;
pub mod journal;

pub use journal::{JournalError, JournalOp, JournalStorage};
