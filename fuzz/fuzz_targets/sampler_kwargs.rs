//! `sweeplab ask --sampler-kwargs`: arbitrary UTF-8 as the JSON arguments of TPESampler,
//! RandomSampler and GridSampler. Kwargs that a sampler takes build it, and it asks (and is
//! told) a few trials of a small space without panicking; outside the grid, every sampled
//! value lies in its distribution.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_core::json::Json;
use sweeplab_core::samplers::sampler_from_name;
use sweeplab_core::{Distribution, SearchSpace, Study, StudyDirection};

fn space() -> SearchSpace {
    let mut s = SearchSpace::new();
    s.insert("x".into(), Distribution::float(-1.0, 1.0));
    s.insert("lr".into(), Distribution::float_log(1e-5, 1.0));
    s.insert("n".into(), Distribution::int(1, 8));
    s.insert("c".into(), Distribution::categorical(["a", "b", "c"]));
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(kwargs) = Json::parse(text) else {
        return;
    };
    let space = space();
    for name in ["TPESampler", "RandomSampler", "GridSampler"] {
        let Ok(sampler) = sampler_from_name(name, &kwargs) else {
            continue;
        };
        let Ok(mut study) = Study::create("fuzz", StudyDirection::Minimize, sampler) else {
            continue;
        };
        for n in 0..5u64 {
            // The grid refuses a parameter it does not hold; that is an answer, not a bug.
            let Ok((number, _)) = study.ask_with(&space) else {
                break;
            };
            if name != "GridSampler" {
                let trial = &study.trials()[number as usize];
                for (param, dist, internal) in trial.params_internal() {
                    assert!(
                        dist.contains(internal),
                        "{name}: `{param}` = {internal} lies outside {}",
                        dist.describe()
                    );
                }
            }
            let _ = study.tell_value(number, ((n * 7) % 5) as f64);
        }
    }
});
