//! `cargo xtask test`: every check and test, in the order CI runs them.

use anyhow::Result;

use crate::util::{self, cargo};

/// Runs the whole suite. `--quick` skips the slow browser and conformance stages.
pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    util::run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    util::run(std::process::Command::new("rustup").args([
        "target",
        "add",
        "wasm32-unknown-unknown",
    ]))?;
    util::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    util::run(cargo().args([
        "clippy",
        "-p",
        "sweeplab-core",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;
    util::run(cargo().args([
        "build",
        "-p",
        "sweeplab-core",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    util::run(cargo().args(["test", "--workspace"]))?;
    let _ = quick;
    (!quick).then(crate::web::e2e).transpose()?;
    Ok(())
}
