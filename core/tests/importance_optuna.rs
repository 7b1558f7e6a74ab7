//! PED-ANOVA importances equal Optuna 5.0's on the same study (raw values and the
//! normalised shares of `get_param_importances`), for minimise and maximise, with int, log,
//! stepped, categorical and conditional parameters. Expected values were computed by
//! optuna 5.0.0 itself (`tests/fixtures/importance/make_expected.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::PathBuf;

use sweeplab_core::importance::{PedAnova, param_importances};
use sweeplab_core::json::Json;
use sweeplab_core::storage::journal::JournalStorage;
use sweeplab_core::{RandomSampler, Study};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/importance")
        .join(name)
}

#[test]
fn ped_anova_matches_optuna() {
    let text = std::fs::read_to_string(fixture("study.log")).unwrap();
    let expected =
        Json::parse(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    for name in ["imp-min", "imp-max"] {
        let storage = JournalStorage::from_text(&text).unwrap();
        let study = Study::load(storage, name, Box::new(RandomSampler::new(Some(0)))).unwrap();
        let want = expected.get(name).unwrap();
        let raw = PedAnova::default().evaluate(&study.view());
        let want_raw = want.get("raw").and_then(Json::as_object).unwrap();
        assert_eq!(raw.len(), want_raw.len(), "{name}: {raw:?}");
        for (k, v) in want_raw {
            let got = raw[k];
            let w = v.as_f64().unwrap();
            assert!(
                (got - w).abs() <= 1e-9 * w.abs().max(1e-12),
                "{name} {k}: {got} vs {w}"
            );
        }
        let norm = param_importances(&study.view());
        let want_norm = want.get("normalised").and_then(Json::as_object).unwrap();
        // Same order (most important first) and the same shares.
        let order: Vec<&str> = norm.iter().map(|(k, _)| k.as_str()).collect();
        let want_order: Vec<&str> = want_norm.iter().map(|(k, _)| k.as_str()).collect();
        let mut sorted_want: Vec<(&str, f64)> = want_norm
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_f64().unwrap()))
            .collect();
        sorted_want.sort_by(|a, b| b.1.total_cmp(&a.1));
        let want_sorted: Vec<&str> = sorted_want.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, want_sorted, "{name} ({want_order:?})");
        for (k, v) in &norm {
            let w = want_norm
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .as_f64()
                .unwrap();
            assert!((v - w).abs() <= 1e-9, "{name} {k}: {v} vs {w}");
        }
    }
}
