//! Arbitrary UTF-8 as a W&B sweep YAML (`sweeplab sweep --config`, the page's YAML box): it
//! parses or is refused, and a config that parses builds its search space, sampler and
//! pruner (or says why not) and asks one trial inside its space.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_core::config::SweepConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = SweepConfig::from_yaml_str(text) else {
        return;
    };
    let space = cfg.search_space();
    let _ = cfg.pruner_config();
    let sampler = cfg.build_sampler();
    let pruner = cfg.build_pruner();
    if sampler.is_err() || pruner.is_err() {
        return;
    }
    let Ok(mut study) = cfg.create_study("fuzz") else {
        return;
    };
    if let Ok((number, _)) = study.ask_with(&space) {
        let trial = &study.trials()[number as usize];
        for (name, dist, internal) in trial.params_internal() {
            // The grid may hold points outside a range (Optuna allows it); the others not.
            if !matches!(cfg.method, sweeplab_core::config::SweepMethod::Grid) {
                assert!(
                    dist.contains(internal),
                    "`{name}` = {internal} lies outside {}",
                    dist.describe()
                );
            }
        }
    }
});
