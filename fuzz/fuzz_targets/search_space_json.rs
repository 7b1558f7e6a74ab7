//! `sweeplab ask --search-space`: arbitrary UTF-8 as Optuna's distribution JSON (name →
//! distribution, as an object or as the string Optuna writes). A space that parses is asked,
//! with RandomSampler and with TPESampler (past its start-up trials), on an in-memory study,
//! and every sampled value lies in its distribution.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_core::distributions::search_space_from_json;
use sweeplab_core::json::Json;
use sweeplab_core::samplers::sampler_from_name;
use sweeplab_core::{SearchSpace, Study, StudyDirection};

fn ask_all(name: &str, kwargs: &str, space: &SearchSpace, trials: u64) {
    let Ok(kwargs) = Json::parse(kwargs) else {
        return;
    };
    let Ok(sampler) = sampler_from_name(name, &kwargs) else {
        return;
    };
    let Ok(mut study) = Study::create("fuzz", StudyDirection::Minimize, sampler) else {
        return;
    };
    for n in 0..trials {
        let (number, params) = match study.ask_with(space) {
            Ok(x) => x,
            Err(e) => panic!("{name}: ask failed on a valid space: {e}"),
        };
        for (param, dist) in space {
            let value = &params[param];
            if let Err(e) = dist.to_internal(param, value) {
                panic!("{name}: `{param}` = {value} is not a value of its distribution: {e}")
            }
            // Checked on the external value: an int grid point beyond 2^53 has no exact f64.
            assert!(
                dist.contains_value(value),
                "{name}: `{param}` = {value} lies outside {}",
                dist.describe()
            );
        }
        // Some spread in the values, so TPE's split has two sides.
        let _ = study.tell_value(number, ((n * 7) % 5) as f64);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(space) = search_space_from_json(text) else {
        return;
    };
    ask_all("RandomSampler", r#"{"seed": 1}"#, &space, 1);
    ask_all(
        "TPESampler",
        r#"{"seed": 1, "n_startup_trials": 2, "n_ei_candidates": 8}"#,
        &space,
        4,
    );
    ask_all(
        "TPESampler",
        r#"{"seed": 2, "n_startup_trials": 2, "n_ei_candidates": 8, "multivariate": true}"#,
        &space,
        4,
    );
});
