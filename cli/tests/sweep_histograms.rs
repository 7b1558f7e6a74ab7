//! `sweeplab sweep` records every layer's weight and gradient histograms after each epoch by
//! default, writes them into the TensorBoard and W&B logs it keeps, and records none with
//! `--no-histograms` (a trial of over 100 epochs records 100 evenly spaced ones); each epoch
//! logs the process's CPU and memory, and each trial where it trained.
#![cfg(feature = "train")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::files_under;
use common::tmpdir as tmp;

use std::path::Path;
use std::process::Stdio;

use sweeplab_core::histogram::{has_histograms, trial_histograms};
use sweeplab_core::storage::file::JournalFile;
use sweeplab_core::{FrozenTrial, TrialState};

/// The sweep conformance checks with TensorBoard and wandb (two trials of two epochs).
const CONFIG: &str = include_str!("../../tests/conformance/hist-sweep.yaml");

fn run(out: &Path, extra: &[&str]) -> Vec<FrozenTrial> {
    run_config(CONFIG, out, extra)
}

fn run_config(yaml: &str, out: &Path, extra: &[&str]) -> Vec<FrozenTrial> {
    let config = out.with_extension("yaml");
    std::fs::write(&config, yaml).unwrap();
    let o = common::sweeplab()
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .arg("sweep")
        .arg(&config)
        .arg("--out")
        .arg(out)
        .args(["--backend", "cpu", "--quiet"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st = JournalFile::new(out.join("journal.log")).load().unwrap();
    st.study_by_name("hist").unwrap().trials.clone()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_sweep_records_histograms_by_default_and_none_when_told_not_to() {
    let dir = tmp("histograms");
    let trials = run(&dir.join("on"), &[]);
    assert_eq!(trials.len(), 2);
    for t in &trials {
        assert_eq!(t.state, TrialState::Complete);
        let h = trial_histograms(t);
        for name in ["hidden.0.weight", "hidden.0.bias", "out.weight", "out.bias"] {
            for kind in ["weights", "gradients"] {
                let steps: Vec<i64> = h[&format!("{kind}/{name}")]
                    .iter()
                    .map(|p| p.step)
                    .collect();
                assert_eq!(steps, [1, 2], "trial {} {kind}/{name}", t.number);
            }
        }
    }
    // Each epoch also logs this process's CPU and memory (W&B's `system/` charts), and each
    // trial records where it trained (W&B's run config).
    for t in &trials {
        for name in [
            "system/cpu_percent",
            "system/memory_rss_mb",
            "system/memory_percent",
        ] {
            let steps: Vec<i64> = t.series[name].iter().map(|p| p.step).collect();
            assert_eq!(steps, [1, 2], "trial {} {name}", t.number);
        }
        assert!(
            t.series["system/memory_rss_mb"]
                .iter()
                .all(|p| p.value > 1.0)
        );
        let config = sweeplab_core::trial::run_config(t);
        let get = |k: &str| {
            config
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("backend"), Some("flex"), "{config:?}");
        assert_eq!(get("engine"), Some("burn"));
        assert!(get("platform").is_some_and(|p| p.starts_with("native")));
    }
    // The logs the sweep keeps carry them: TensorBoard's event files and W&B's runs.
    let files = files_under(&dir.join("on"));
    let tb: Vec<_> = files
        .iter()
        .filter(|p| {
            p.to_string_lossy().contains("tfevents") && p.to_string_lossy().contains("trial-")
        })
        .collect();
    assert_eq!(tb.len(), 2, "{files:?}");
    for f in tb {
        assert!(
            contains(&std::fs::read(f).unwrap(), "gradients/out.weight"),
            "{f:?}"
        );
    }
    let wb: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wandb"))
        .collect();
    assert_eq!(wb.len(), 2, "{files:?}");
    for f in wb {
        let bytes = std::fs::read(f).unwrap();
        assert!(contains(&bytes, "weights/hidden.0.weight"), "{f:?}");
        assert!(contains(&bytes, "histogram"), "{f:?}");
    }

    let off = run(&dir.join("off"), &["--no-histograms"]);
    assert_eq!(off.len(), 2);
    assert!(off.iter().all(|t| !has_histograms(t)));
}

#[test]
fn a_long_trial_records_histograms_at_evenly_spaced_epochs_and_its_last() {
    let yaml = CONFIG
        .replace("run_cap: 2", "run_cap: 1")
        .replace("epochs: {value: 2}", "epochs: {value: 150}");
    assert_ne!(yaml, CONFIG);
    let dir = tmp("histograms-long");
    let trials = run_config(&yaml, &dir.join("long"), &[]);
    assert_eq!(trials.len(), 1);
    let t = &trials[0];
    assert_eq!(t.state, TrialState::Complete);
    let h = trial_histograms(t);
    // ceil(150 / 100) = every second epoch: 75 sets, the last one the trial's end.
    let want: Vec<i64> = (1..=75).map(|i| 2 * i).collect();
    for (tag, points) in &h {
        let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
        assert_eq!(steps, want, "{tag}");
    }
    assert_eq!(h.len(), 8, "{:?}", h.keys().collect::<Vec<_>>());
    // The system metrics and the validation loss keep every epoch.
    assert_eq!(t.series["system/cpu_percent"].len(), 150);
    assert_eq!(t.intermediate_values.len(), 150);
}
