//! The command line's own errors: one line on stderr and exit status 2 (clap's several-line
//! messages are folded), `--help` unchanged, and `--values -inf` read as a value.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;
use common::run;

fn assert_one_line_error(args: &[&str], needle: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("sweeplab: error: ") && stderr.contains(needle),
        "{args:?}: {needle}: {stderr}"
    );
}

#[test]
fn argument_errors_are_one_line_with_status_2() {
    assert_one_line_error(&[], "no command given");
    assert_one_line_error(&["frobnicate"], "frobnicate");
    assert_one_line_error(&["ask"], "--storage");
    assert_one_line_error(&["tell", "--storage", "x", "--bogus"], "--bogus");
    assert_one_line_error(
        &[
            "tell",
            "--storage",
            "x",
            "--study-name",
            "s",
            "--trial-number",
            "minus one",
        ],
        "minus one",
    );
}

#[test]
fn help_and_version_print_as_before() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Usage:") && text.lines().count() > 5,
        "{text}"
    );
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sweeplab "));
}

#[test]
fn negative_infinity_is_a_value() {
    let dir = common::tmpdir("args");
    let journal = dir.join("j.log");
    let s = journal.to_str().unwrap();
    assert!(
        run(&["create-study", "--storage", s, "--study-name", "n"])
            .status
            .success()
    );
    let space = r#"{"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}}}"#;
    for (number, values) in [(0, vec!["-inf"]), (1, vec!["-Infinity"]), (2, vec!["-1.5"])] {
        let out = run(&[
            "ask",
            "--storage",
            s,
            "--study-name",
            "n",
            "--search-space",
            space,
        ]);
        assert!(out.status.success(), "{out:?}");
        let mut args = vec![
            "tell",
            "--storage",
            s,
            "--study-name",
            "n",
            "--trial-number",
        ];
        let n = number.to_string();
        args.push(&n);
        args.push("--values");
        args.extend(values);
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let st = sweeplab_core::storage::journal::JournalStorage::from_text(
        &std::fs::read_to_string(&journal).unwrap(),
    )
    .unwrap();
    let trials = &st.study_by_name("n").unwrap().trials;
    assert_eq!(trials[0].values, Some(vec![f64::NEG_INFINITY]));
    assert_eq!(trials[1].values, Some(vec![f64::NEG_INFINITY]));
    assert_eq!(trials[2].values, Some(vec![-1.5]));
    // `--values` with no number after it is still an error naming the option.
    assert_one_line_error(
        &[
            "tell",
            "--storage",
            s,
            "--study-name",
            "n",
            "--trial-number",
            "0",
            "--values",
        ],
        "--values",
    );
}
