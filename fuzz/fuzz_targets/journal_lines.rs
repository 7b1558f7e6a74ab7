//! Arbitrary bytes as an Optuna journal (a file another tool wrote, or one a crash tore):
//! parsing and replay never panic, and a journal that loads compacts to one that replays to
//! the same studies and trials. What the page reads back from trials' attributes (explain
//! records, prune reasons, histograms) never panics. The input is also cut at an arbitrary point (a torn write)
//! and its two parts replayed alone and with their lines interleaved (two writers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_core::pruners::PruneReason;
use sweeplab_core::samplers::tpe::explain::Explain;
use sweeplab_core::storage::journal::{JournalStorage, StudyRecord, parse_journal};
use time::{OffsetDateTime, UtcOffset};

const WORKER: &str = "fuzz";

/// A study as the replay sees it, without the ids compaction renumbers (study ids shift when
/// a deleted study vanishes, trial ids with them) and with times in UTC (the journal writes
/// them so). `Debug` writes NaN as `NaN`, so equal states give equal strings even where `==`
/// on f64 would not.
fn canonical(s: &StudyRecord) -> String {
    let mut s = s.clone();
    s.study_id = 0;
    for t in &mut s.trials {
        t.trial_id = 0;
        t.datetime_start = t.datetime_start.map(utc);
        t.datetime_complete = t.datetime_complete.map(utc);
    }
    format!("{s:?}")
}

/// The same instant in UTC, where UTC can name it (9999-12-31T23:30-01:00 it cannot).
fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(UtcOffset::UTC).unwrap_or(t)
}

fn check(text: &str) {
    let parsed = parse_journal(text);
    let Ok(first) = JournalStorage::from_text(text) else {
        assert!(
            parsed.is_err(),
            "parse_journal accepted what from_text refused"
        );
        return;
    };
    let compact = first.to_compact_journal(WORKER);
    let again = match JournalStorage::from_text(&compact) {
        Ok(s) => s,
        Err(e) => panic!("the compact journal does not load: {e}\n{compact}"),
    };
    // What the playground and `sweeplab explain` read back from a trial's attributes:
    // explain records and prune reasons, from anyone's journal, never panic.
    for study in first.studies() {
        for t in &study.trials {
            // Histograms: read back, binned for display, quantiles and TensorBoard's buckets.
            for points in sweeplab_core::histogram::trial_histograms(t).values() {
                for p in points {
                    let h = &p.histogram;
                    let _ = (h.distribution(), h.bucket_limits(), h.coarsen(h.display_bins()));
                }
            }
            for r in Explain::of_trial(t) {
                let _ = r.render_text(t, false);
                if let Explain::Tpe(e) = &r {
                    for d in 0..e.params.len() {
                        let _ = e.curve(d, 16);
                    }
                    let _ = e.pair(0, 1, 8);
                }
            }
            if let Some(p) = PruneReason::of_trial(t) {
                let _ = p.describe("value", &|v| format!("{v}"));
            }
        }
    }
    let a: Vec<String> = first.studies().map(canonical).collect();
    let b: Vec<String> = again.studies().map(canonical).collect();
    assert_eq!(
        a, b,
        "the compact journal replays to other studies:\n{compact}"
    );
    assert_eq!(
        again.to_compact_journal(WORKER),
        compact,
        "compaction is not a fixed point"
    );
}

/// Lines of `a` and `b` taken in turn, as two workers appending to one file.
fn interleave(a: &str, b: &str) -> String {
    let mut out = String::with_capacity(a.len() + b.len() + 2);
    let (mut la, mut lb) = (a.split_inclusive('\n'), b.split_inclusive('\n'));
    loop {
        match (la.next(), lb.next()) {
            (None, None) => break,
            (x, y) => {
                for line in [x, y].into_iter().flatten() {
                    out.push_str(line);
                    if !line.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // Journals are bytes; the core reads text (the CLI and the page decode lossily).
    let text = String::from_utf8_lossy(data);
    check(&text);
    // A cut at a point the first two bytes choose, on a char boundary.
    if data.len() < 2 {
        return;
    }
    let at = usize::from(u16::from_le_bytes([data[0], data[1]])) % (text.len() + 1);
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let (head, tail) = text.split_at(at);
    check(head);
    check(tail);
    check(&interleave(head, tail));
});
