//! Optuna's journal storage: the operations of `JournalStorage`, their JSON-lines form, and a
//! replay that gives the same studies and trials as Optuna's `JournalStorageReplayResult`.
//!
//! The same replay serves the `sweeplab` CLI (a journal file shared with Python Optuna), the
//! headless sweep and the browser (an in-memory journal that downloads as a file).
//!
//! - `op`: the operations ([`JournalOp`], [`TrialTemplate`], [`op_code`]);
//! - `codec`: one operation ↔ one JSON line, whole journal texts, Optuna's time format;
//! - `replay`: applying operations to the studies and trials ([`JournalStorage`]);
//! - `compact`: writing a state back as the shortest journal that replays to it.

mod codec;
mod compact;
mod op;
mod replay;

pub use codec::{format_datetime, now, parse_datetime, parse_journal};
pub use compact::{CompactWriter, study_compact_ops, study_to_compact_journal, template_of};
pub use op::{JournalOp, TrialTemplate, op_code};
pub use replay::{JournalStorage, StudyRecord};

use crate::trial::TrialState;

/// A journal line that could not be understood, or an operation that may not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JournalError {
    /// The line is not valid JSON.
    #[error("line {line}: invalid JSON: {msg}")]
    BadJson {
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        msg: String,
    },
    /// The line is JSON but not a valid operation.
    #[error("line {line}: {msg}")]
    BadOp {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// An operation code this version does not know.
    #[error(
        "line {line}: unknown journal op_code {code} (known: 0-10); the journal was written by a newer tool"
    )]
    UnknownOp {
        /// 1-based line number.
        line: usize,
        /// The code.
        code: i64,
    },
    /// The last line has no newline: a write was cut off.
    #[error(
        "line {line}: the last line is incomplete (no trailing newline): a torn write; repair or remove it"
    )]
    TornLine {
        /// 1-based line number.
        line: usize,
    },
    /// No study of that name.
    #[error("no study named `{0}` in the storage")]
    UnknownStudy(String),
    /// A study of that name exists already.
    #[error("a study named `{0}` already exists")]
    DuplicateStudy(String),
    /// No trial with that id or number.
    #[error("no trial {0}")]
    UnknownTrial(String),
    /// The trial has finished and cannot change.
    #[error("trial {number} is already finished ({state}); finished trials cannot be updated")]
    FinishedTrial {
        /// Trial number.
        number: u64,
        /// Its state.
        state: TrialState,
    },
    /// A parameter's distribution conflicts with earlier trials.
    #[error(
        "parameter `{param}`: distribution {new} is incompatible with {old} used by earlier trials"
    )]
    IncompatibleDistribution {
        /// Parameter name.
        param: String,
        /// Earlier distribution.
        old: String,
        /// New distribution.
        new: String,
    },
    /// A WAITING trial was taken by another worker first.
    #[error("trial {0} is not waiting any more")]
    NotWaiting(u64),
}
