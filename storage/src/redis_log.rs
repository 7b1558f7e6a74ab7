//! The entries of Optuna's `JournalRedisBackend` read back: each `{prefix}:log:{n}` holds
//! one journal operation as JSON, applied in order as a journal replay applies its lines.
//! This part needs no server (the fuzz target `redis_entries` drives it).

use sweeplab_core::json::Json;
use sweeplab_core::storage::JournalStorage;
use sweeplab_core::storage::journal::JournalOp;

/// A log entry that is not a journal operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLog {
    /// Its number `n` (the key `{prefix}:log:{n}`).
    pub number: i64,
    /// What is wrong with it.
    pub why: String,
}

/// Parses the entries numbered `first`, `first + 1`, … and applies each to `replica`
/// (an operation that does not apply is skipped, as a replay skips it); returns them.
pub fn apply_entries(
    replica: &mut JournalStorage,
    first: i64,
    entries: &[String],
) -> Result<Vec<JournalOp>, BadLog> {
    let mut ops = Vec::with_capacity(entries.len());
    for (i, text) in entries.iter().enumerate() {
        let number = first.saturating_add(i as i64);
        let bad = |why: String| BadLog { number, why };
        let json = Json::parse(text).map_err(|e| bad(e.to_string()))?;
        let line = usize::try_from(number).unwrap_or(0).saturating_add(1);
        let (_, op) = JournalOp::from_json(&json, line).map_err(|e| bad(e.to_string()))?;
        let _ = replica.apply(&op);
        ops.push(op);
    }
    Ok(ops)
}
