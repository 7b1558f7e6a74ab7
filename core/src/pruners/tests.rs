//! Pruner semantics of Optuna's `optuna/pruners/_percentile.py` (and `_median.py`),
//! `_successive_halving.py` and `_hyperband.py`, checked through real studies.

use super::*;
use crate::config::PrunerConfig;
use crate::distributions::Distribution;
use crate::samplers::RandomSampler;
use crate::study::{Study, TellResult};

fn study(dir: StudyDirection, pruner: Box<dyn Pruner>) -> Study {
    Study::create("hb", dir, Box::new(RandomSampler::new(Some(0))))
        .unwrap()
        .with_pruner(pruner)
}

/// A minimised study pruned by `MedianPruner(n_startup_trials, n_warmup_steps,
/// interval_steps, n_min_trials)`.
fn median_study(startup: usize, warmup: i64, interval: i64, min_trials: usize) -> Study {
    let pruner = PercentilePruner::median(startup, warmup, interval, min_trials).unwrap();
    study(StudyDirection::Minimize, Box::new(pruner))
}

/// Runs a trial reporting `curve` (step i → curve[i]), completing it.
fn complete(study: &mut Study, curve: &[f64]) {
    let n = study.ask().unwrap();
    for (i, v) in curve.iter().enumerate() {
        study.report(n, i as i64, *v).unwrap();
    }
    study.tell_value(n, *curve.last().unwrap()).unwrap();
}

/// Starts a trial and reports `curve` as a training loop would: stops at the first "prune".
/// Returns the trial number and whether it was pruned.
fn verdict(study: &mut Study, curve: &[f64]) -> (u64, bool) {
    let n = study.ask().unwrap();
    for (i, v) in curve.iter().enumerate() {
        study.report(n, i as i64, *v).unwrap();
        if study.should_prune(n).unwrap() {
            return (n, true);
        }
    }
    (n, false)
}

#[test]
fn median_prunes_worse_than_median_at_the_same_step() {
    let mut s = median_study(2, 0, 1, 1);
    let (_, p) = verdict(&mut s, &[5.0]);
    assert!(!p, "no completed trials yet");
    complete(&mut s, &[1.0, 1.0]);
    let (_, p) = verdict(&mut s, &[5.0]);
    assert!(!p, "fewer than n_startup_trials complete trials");
    complete(&mut s, &[3.0, 3.0]);
    // Median of step-0 values [1, 3] is 2.
    let (n, p) = verdict(&mut s, &[2.5]);
    assert!(p, "2.5 > median 2");
    s.tell(n, TellResult::Pruned).unwrap();
    let (_, p) = verdict(&mut s, &[1.5]);
    assert!(!p, "1.5 < median 2");
    // The best value over all steps is what counts.
    let (_, p) = verdict(&mut s, &[0.5, 9.0]);
    assert!(!p);
}

#[test]
fn pruned_trial_carries_its_last_intermediate_value() {
    let mut s = study(StudyDirection::Minimize, Box::new(NopPruner));
    let n = s.ask().unwrap();
    s.report(n, 0, 4.0).unwrap();
    s.report(n, 1, 3.0).unwrap();
    s.report(n, 1, 99.0).unwrap(); // a repeated step is ignored
    s.tell(n, TellResult::Pruned).unwrap();
    let t = s.trial(n).unwrap();
    assert_eq!(t.state, TrialState::Pruned);
    assert_eq!(t.values, Some(vec![3.0]));
    assert!(
        s.report(n, 2, 1.0).is_err(),
        "a finished trial cannot report"
    );
}

#[test]
fn median_respects_warmup_interval_and_min_trials() {
    let mut s = median_study(1, 2, 1, 1);
    complete(&mut s, &[1.0, 1.0, 1.0, 1.0]);
    let (_, p) = verdict(&mut s, &[9.0, 9.0]);
    assert!(!p, "steps 0 and 1 are warm-up");
    let (_, p) = verdict(&mut s, &[9.0, 9.0, 9.0]);
    assert!(p, "step 2 is past the warm-up");

    let mut s = median_study(1, 0, 2, 1);
    complete(&mut s, &[1.0, 1.0, 1.0, 1.0]);
    let n = s.ask().unwrap();
    s.report(n, 0, 9.0).unwrap();
    assert!(s.should_prune(n).unwrap(), "step 0 starts an interval");
    s.report(n, 1, 9.0).unwrap();
    assert!(!s.should_prune(n).unwrap(), "step 1 is inside the interval");
    s.report(n, 2, 9.0).unwrap();
    assert!(
        s.should_prune(n).unwrap(),
        "step 2 starts the next interval"
    );

    let mut s = median_study(1, 0, 1, 2);
    complete(&mut s, &[1.0]);
    let (_, p) = verdict(&mut s, &[9.0]);
    assert!(
        !p,
        "only one completed trial reported at step 0 (n_min_trials = 2)"
    );
}

#[test]
fn nan_is_pruned_and_maximize_flips_the_percentile() {
    let mut s = median_study(1, 0, 1, 1);
    complete(&mut s, &[1.0]);
    let (_, p) = verdict(&mut s, &[f64::NAN]);
    assert!(p);

    // 25th percentile of [1, 2, 3, 10] is 1.75; when maximising it uses the 75th (4.75).
    let mut s = study(
        StudyDirection::Maximize,
        Box::new(PercentilePruner::new(25.0, 1, 0, 1, 1).unwrap()),
    );
    for v in [1.0, 2.0, 3.0, 10.0] {
        complete(&mut s, &[v]);
    }
    let (_, p) = verdict(&mut s, &[4.0]);
    assert!(p, "4 < 4.75");
    let (_, p) = verdict(&mut s, &[5.0]);
    assert!(!p);
    assert!((nanpercentile(&[1.0, 2.0, 3.0, 10.0], 80.0) - 5.8).abs() < 1e-12);
    assert!((nanpercentile(&[1.0, f64::NAN, 3.0], 50.0) - 2.0).abs() < 1e-12);
}

#[test]
fn invalid_pruner_settings_are_rejected() {
    assert!(PercentilePruner::new(101.0, 5, 0, 1, 1).is_err());
    assert!(PercentilePruner::new(50.0, 5, -1, 1, 1).is_err());
    assert!(PercentilePruner::new(50.0, 5, 0, 0, 1).is_err());
    assert!(PercentilePruner::new(50.0, 5, 0, 1, 0).is_err());
    assert!(SuccessiveHalvingPruner::new(Some(0), 4, 0, 0).is_err());
    assert!(SuccessiveHalvingPruner::new(None, 1, 0, 0).is_err());
    assert!(SuccessiveHalvingPruner::new(None, 4, 0, 1).is_err());
    assert!(HyperbandPruner::new(1, None, 3, 1).is_err());
    assert!(HyperbandPruner::new(5, Some(2), 3, 0).is_err());
}

#[test]
fn successive_halving_promotes_the_best_and_records_rungs() {
    let sha = SuccessiveHalvingPruner::new(Some(1), 2, 0, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(sha));
    // Trial 0 passes rung 0 at step 1 (alone, it is the best).
    let (a, p) = verdict(&mut s, &[1.0, 1.0]);
    assert!(!p);
    assert_eq!(
        s.trial(a).unwrap().system_attrs.get("completed_rung_0"),
        Some(&Json::Float(1.0))
    );
    // Trial 1 is worse at rung 0: the top len/η = 1 of [1, 2] is 1 → pruned.
    let (_, p) = verdict(&mut s, &[2.0, 2.0]);
    assert!(p);
    // Trial 2 is better → promoted past rung 0.
    let (_, p) = verdict(&mut s, &[0.5, 0.5]);
    assert!(!p);
    // NaN at a promotion step prunes.
    let (_, p) = verdict(&mut s, &[f64::NAN, f64::NAN]);
    assert!(p);
}

#[test]
fn successive_halving_auto_waits_for_a_completed_trial() {
    let mut s = study(
        StudyDirection::Minimize,
        Box::new(SuccessiveHalvingPruner::default()),
    );
    let (_, p) = verdict(&mut s, &[9.0, 9.0, 9.0]);
    assert!(!p, "min_resource is unknown until a trial completes");
    complete(&mut s, &[1.0, 1.0, 1.0]);
    // min_resource = max(2 // 100, 1) = 1: rung 0 is decided at step 1.
    let (_, p) = verdict(&mut s, &[9.0, 9.0]);
    assert!(!p, "the first value stored at rung 0 is promoted");
    let (_, p) = verdict(&mut s, &[19.0, 19.0, 19.0, 19.0, 19.0]);
    assert!(p);
}

#[test]
fn bootstrap_count_prunes_until_enough_values() {
    let sha = SuccessiveHalvingPruner::new(Some(1), 2, 0, 2).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(sha));
    let (_, p) = verdict(&mut s, &[1.0, 1.0]);
    assert!(p, "1 value <= bootstrap_count 2");
    let (_, p) = verdict(&mut s, &[1.0, 1.0]);
    assert!(p, "2 values <= bootstrap_count 2");
}

#[test]
fn hyperband_brackets_follow_optunas_crc32_assignment() {
    let mut hb = HyperbandPruner::new(1, Some(9), 3, 0).unwrap();
    let trials: Vec<FrozenTrial> = Vec::new();
    let dirs = [StudyDirection::Minimize];
    hb.try_init(&StudyView {
        name: "hb",
        directions: &dirs,
        trials: trials.iter().collect(),
    });
    assert_eq!(hb.n_brackets(), 3);
    assert_eq!(hb.budgets, vec![9, 5, 3]);
    // Reference: Python `binascii.crc32(f"hb_{n}".encode()) % 17` walked through the budgets.
    let want = [0, 0, 2, 2, 1, 1, 1, 2, 1, 0, 1, 0];
    for (n, b) in want.iter().enumerate() {
        assert_eq!(hb.bracket_id("hb", n as u64), *b, "trial {n}");
    }
}

#[test]
fn hyperband_sampler_sees_only_the_bracket() {
    let hb = HyperbandPruner::new(1, Some(9), 3, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(hb));
    let d = Distribution::float(0.0, 1.0);
    for _ in 0..12 {
        let n = s.ask().unwrap();
        s.suggest(n, "x", &d).unwrap();
        s.report(n, 0, 1.0).unwrap();
        s.should_prune(n).unwrap(); // initialises the brackets
        s.tell_value(n, 1.0).unwrap();
    }
    let view = super::super::study::tests_support::view_for(&s, 2);
    let brackets: Vec<usize> = view
        .trials
        .iter()
        .map(|t| s.pruner().bracket_of("hb", t.number).unwrap())
        .collect();
    assert!(!brackets.is_empty());
    assert!(brackets.iter().all(|b| *b == 2), "{brackets:?}");
    assert!(view.trials.len() < 12);
}

#[test]
fn hyperband_auto_max_resource_and_pruning() {
    let hb = HyperbandPruner::new(1, None, 3, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(hb));
    let (_, p) = verdict(&mut s, &[5.0, 5.0]);
    assert!(!p, "nothing is pruned before a trial completes");
    for _ in 0..6 {
        // Good trials train to the end, consulting the pruner like any training loop.
        let (n, p) = verdict(&mut s, &[1.0; 9]);
        assert!(!p);
        s.tell_value(n, 1.0).unwrap();
    }
    let mut pruned = 0;
    for _ in 0..10 {
        let (n, p) = verdict(&mut s, &[50.0; 9]);
        if p {
            pruned += 1;
            s.tell(n, TellResult::Pruned).unwrap();
        } else {
            s.tell_value(n, 50.0).unwrap();
        }
    }
    assert!(
        pruned >= 5,
        "bad trials are pruned in most brackets ({pruned}/10)"
    );
}

#[test]
fn the_threshold_shown_is_the_line_the_pruner_judges_by() {
    let pruner = PercentilePruner::median(2, 1, 2, 1).unwrap();
    let mut s = median_study(2, 1, 2, 1);
    complete(&mut s, &[1.0, 1.0, 4.0, 4.0]);
    let trials = s.trials().to_vec();
    let completed: Vec<&FrozenTrial> = trials.iter().collect();
    assert_eq!(
        pruner.threshold(&completed, 1, StudyDirection::Minimize),
        None,
        "fewer than n_startup_trials complete trials"
    );
    complete(&mut s, &[3.0, 3.0, 2.0, 2.0]);
    let trials = s.trials().to_vec();
    let completed: Vec<&FrozenTrial> = trials.iter().collect();
    let dir = StudyDirection::Minimize;
    assert_eq!(pruner.threshold(&completed, 0, dir), None, "warm-up");
    assert_eq!(pruner.threshold(&completed, 1, dir), Some((2.0, 2)));
    assert_eq!(pruner.threshold(&completed, 2, dir), None, "between checks");
    assert_eq!(pruner.threshold(&completed, 3, dir), Some((3.0, 2)));
    // Maximising flips the percentile; the median stays the median.
    assert_eq!(
        pruner.threshold(&completed, 3, StudyDirection::Maximize),
        Some((3.0, 2))
    );
    // A trial above the line at step 1 (its best so far 2.5 > 2) is pruned there; one below
    // it at every check goes on.
    let (n, pruned) = verdict(&mut s, &[9.0, 2.5]);
    assert!(pruned);
    s.tell(n, TellResult::Pruned).unwrap();
    let (_, pruned) = verdict(&mut s, &[9.0, 1.5, 9.0, 9.0]);
    assert!(!pruned);
    let p = PercentilePruner::new(25.0, 1, 0, 1, 1).unwrap();
    assert!(!p.is_median() && pruner.is_median());
}

#[test]
fn a_pruned_trial_records_why_when_the_pruner_decides() {
    // Median: 2.5 > the median 2 of two completed trials at step 0.
    let mut s = median_study(2, 0, 1, 1);
    complete(&mut s, &[1.0, 1.0]);
    complete(&mut s, &[3.0, 3.0]);
    let (n, p) = verdict(&mut s, &[2.5]);
    assert!(p);
    let t = s.trial(n).unwrap();
    let reason = PruneReason::of_trial(t).unwrap();
    assert_eq!(
        reason,
        PruneReason::Percentile {
            median: true,
            percentile: 50.0,
            step: 0,
            best: 2.5,
            threshold: 2.0,
            n_trials: 2,
            maximize: false,
        }
    );
    assert_eq!(
        reason.describe("val/loss", &|v| format!("{v}")),
        "Pruned at epoch 0: its best val/loss so far, 2.5, > the median 2 of 2 completed trials at epoch 0."
    );
    // Kept as it was decided, though later trials move the median.
    s.tell(n, TellResult::Pruned).unwrap();
    complete(&mut s, &[0.1, 0.1]);
    assert_eq!(PruneReason::of_trial(s.trial(n).unwrap()), Some(reason));
    // A trial that is not pruned records nothing.
    let (m, p) = verdict(&mut s, &[0.05]);
    assert!(!p);
    assert!(PruneReason::of_trial(s.trial(m).unwrap()).is_none());
    // NaN.
    let (k, p) = verdict(&mut s, &[f64::NAN]);
    assert!(p);
    assert_eq!(
        PruneReason::of_trial(s.trial(k).unwrap()),
        Some(PruneReason::NotANumber { step: 0 })
    );
}

#[test]
fn a_rung_cut_is_recorded_with_its_cutoff() {
    // SHA with min_resource 1, reduction factor 2: at rung 0 (step 1) the best half goes on.
    let sha = SuccessiveHalvingPruner::new(Some(1), 2, 0, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(sha));
    for v in [1.0, 2.0, 3.0] {
        let (n, _) = verdict(&mut s, &[v, v]);
        s.tell_value(n, v).unwrap();
    }
    let (n, p) = verdict(&mut s, &[9.0, 9.0]);
    assert!(p);
    let reason = PruneReason::of_trial(s.trial(n).unwrap()).unwrap();
    let PruneReason::Rung {
        rung,
        step,
        value,
        cutoff,
        n_trials,
        reduction_factor,
        maximize,
    } = reason.clone()
    else {
        panic!("{reason:?}")
    };
    assert_eq!(
        (rung, step, value, n_trials, reduction_factor, maximize),
        (0, 1, 9.0, 4, 2, false)
    );
    // Four values at the rung [1, 2, 3, 9]: the best 4/2 = 2 go on, so the cut is 2.
    assert_eq!(cutoff, 2.0);
    assert!(
        reason
            .describe("loss", &|v| format!("{v}"))
            .contains("9 > 2, the cut for the best 1/2 of the 4 trials")
    );
    assert_eq!(PruneReason::from_json(&reason.to_json()), Some(reason));
}

#[test]
fn rung_cuts_are_the_line_successive_halving_judges_by() {
    let sha = SuccessiveHalvingPruner::new(Some(1), 2, 0, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(sha));
    for v in [1.0, 2.0, 3.0, 0.5, 4.0] {
        let (n, p) = verdict(&mut s, &[v, v, v, v]);
        if p {
            s.tell(n, TellResult::Pruned).unwrap();
        } else {
            s.tell_value(n, v).unwrap();
        }
    }
    let trials: Vec<&FrozenTrial> = s.trials().iter().collect();
    let cuts = rung_cuts(&trials, 2, 0, StudyDirection::Minimize);
    let rung0 = cuts.iter().find(|c| c.rung == 0).unwrap();
    assert_eq!((rung0.bracket, rung0.step, rung0.n_trials), (0, 1, 5));
    // Five values at rung 0 [0.5, 1, 2, 3, 4]; with the next trial six: the best 3 go on,
    // so the next trial must be at most the third best, 2.
    assert_eq!(rung0.cutoff, 2.0);
    // The cut is the pruner's own: a trial just above it is pruned, one at it goes on.
    let (_, p) = verdict(&mut s, &[2.01, 2.01]);
    assert!(p);
    let trials: Vec<&FrozenTrial> = s.trials().iter().collect();
    let cut = rung_cuts(&trials, 2, 0, StudyDirection::Minimize)[0].cutoff;
    let (_, p) = verdict(&mut s, &[cut, cut]);
    assert!(!p, "at the cut {cut}");
    // Maximising mirrors it; no rung values, no cut.
    assert!(rung_cuts(&[], 2, 0, StudyDirection::Maximize).is_empty());
}

#[test]
fn hyperband_rung_cuts_come_per_bracket() {
    let hb = HyperbandPruner::new(1, Some(9), 3, 0).unwrap();
    let mut s = study(StudyDirection::Minimize, Box::new(hb));
    for i in 0..40u32 {
        let v = f64::from((i * 7) % 11) + 0.5;
        let curve: Vec<f64> = (0..10).map(|k| v - 0.01 * f64::from(k)).collect();
        let (n, p) = verdict(&mut s, &curve);
        if p {
            s.tell(n, TellResult::Pruned).unwrap();
        } else {
            s.tell_value(n, *curve.last().unwrap()).unwrap();
        }
    }
    let trials: Vec<&FrozenTrial> = s.trials().iter().collect();
    let cuts = PrunerConfig::Hyperband {
        min_resource: 1,
        max_resource: Some(9),
        reduction_factor: 3,
        bootstrap_count: 0,
    }
    .rung_cuts(&trials, StudyDirection::Minimize);
    let brackets: std::collections::BTreeSet<usize> = cuts.iter().map(|c| c.bracket).collect();
    assert!(brackets.len() >= 2, "{cuts:?}");
    for b in brackets {
        let steps: Vec<i64> = cuts
            .iter()
            .filter(|c| c.bracket == b)
            .map(|c| c.step)
            .collect();
        assert!(
            steps.windows(2).all(|w| w[0] < w[1]),
            "bracket {b}: {steps:?}"
        );
    }
    // Each bracket's first rung lies at min_resource · 3^bracket: 1, 3 or 9.
    let firsts: Vec<i64> = cuts
        .iter()
        .filter(|c| c.rung == 0)
        .map(|c| c.step)
        .collect();
    assert!(firsts.iter().all(|s| [1, 3, 9].contains(s)), "{firsts:?}");
}
