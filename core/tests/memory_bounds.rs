//! Sizes that would exhaust memory are refused up front with a message that names them
//! (the reliability issue's defect 7), instead of aborting on out-of-memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sweeplab_core::Json;
use sweeplab_core::samplers::sampler_from_name;

fn sampler_error(name: &str, kwargs: &str) -> Option<String> {
    sampler_from_name(name, &Json::parse(kwargs).unwrap())
        .err()
        .map(|e| e.to_string())
}

#[test]
fn a_billion_ei_candidates_is_refused_and_a_hundred_thousand_is_not() {
    let e = sampler_error(
        "TPESampler",
        r#"{"n_startup_trials": 0, "n_ei_candidates": 1000000000}"#,
    )
    .expect("refused");
    assert!(
        e.contains("n_ei_candidates") && e.contains("1000000000") && e.contains("100000"),
        "{e}"
    );
    assert_eq!(
        sampler_error("TPESampler", r#"{"n_ei_candidates": 100000}"#),
        None
    );
}

#[test]
fn a_grid_of_twelve_parameters_of_a_hundred_values_is_refused_at_once() {
    let values: Vec<String> = (0..100).map(|v| v.to_string()).collect();
    let space: Vec<String> = (0..12)
        .map(|p| format!(r#""p{p}": [{}]"#, values.join(",")))
        .collect();
    let kwargs = format!(r#"{{"search_space": {{{}}}}}"#, space.join(","));
    let t = std::time::Instant::now();
    let e = sampler_error("GridSampler", &kwargs).expect("refused");
    assert!(t.elapsed().as_secs() < 5);
    assert!(e.contains("over 10^19 points of 12 parameters"), "{e}");
    // 1,000 x 1,000 points of 2 parameters fit.
    let thousand: Vec<String> = (0..1000).map(|v| v.to_string()).collect();
    let fits = format!(
        r#"{{"search_space": {{"a": [{0}], "b": [{0}]}}}}"#,
        thousand.join(",")
    );
    assert_eq!(sampler_error("GridSampler", &fits), None);
}
