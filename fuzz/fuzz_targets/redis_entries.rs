//! Entries of Optuna's `JournalRedisBackend` (`{prefix}:log:{n}`) as a server may hold them:
//! each line of the input is one entry. Reading them back never panics; a log that reads
//! compacts to a journal that replays to the same studies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_core::storage::JournalStorage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let entries: Vec<String> = text.split('\n').map(str::to_string).collect();
    let first = i64::from(data.first().copied().unwrap_or(0));
    let mut replica = JournalStorage::new();
    if sweeplab_storage::redis_log::apply_entries(&mut replica, first, &entries).is_err() {
        return;
    }
    let compact = replica.to_compact_journal("fuzz");
    let again = match JournalStorage::from_text(&compact) {
        Ok(s) => s,
        Err(e) => panic!("the compact journal of a Redis log does not load: {e}\n{compact}"),
    };
    assert_eq!(
        again.studies().count(),
        replica.studies().count(),
        "studies lost in compaction"
    );
});
