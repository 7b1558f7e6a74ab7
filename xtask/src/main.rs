//! `cargo xtask`: build, serve and test sweeplab.
//!
//! * `cargo xtask serve` builds the playground (wasm) and serves `static/` on 127.0.0.1.
//! * `cargo xtask bench-browser` runs the browser peer benchmark (sweeplab against
//!   TensorFlow.js in headless Chromium); never part of `test`.
//! * `cargo xtask fuzz` runs the cargo-fuzz targets in `fuzz/` for a while each (nightly).
//! * `cargo xtask test` runs every check and test; it installs what it needs itself
//!   (rustup targets, pinned CLI tools, Python venvs from pinned requirements, Chromium).

mod background;
mod bench_browser;
mod fuzz;
mod lm;
mod servers;
mod test;
mod util;
mod web;

use anyhow::{Result, bail};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain on one line, never a backtrace (CI may set RUST_BACKTRACE).
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    match cmd {
        "test" => test::run(rest),
        "serve" => web::serve(rest),
        "e2e" => web::e2e_filtered(rest.first().map(String::as_str)),
        "bench-browser" => bench_browser::run(rest),
        "fuzz" => fuzz::run(rest),
        "lm-data" => lm::lm_data(),
        "pretrain-lm" => lm::pretrain_lm(),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|serve> [options]\n");
            println!("  test [--quick]   run every check and test (installs what it needs)");
            println!(
                "  serve [--port N] build the playground and serve it on 127.0.0.1 (default port 8080)"
            );
            println!(
                "  e2e [FILTER]     build the playground and run its browser tests (those whose names contain FILTER)"
            );
            println!(
                "  bench-browser    the browser peer benchmark: sweeplab vs TensorFlow.js in Chromium (--help)"
            );
            println!(
                "  fuzz [--seconds N] [--target NAME]  run the fuzz targets, N s each (default 60; nightly)"
            );
            println!(
                "  lm-data          the language model's public-domain corpora, from Debian's archive"
            );
            println!(
                "  pretrain-lm      lm-data, then pretrain static/data/lm/base.safetensors (release, minutes)"
            );
            Ok(())
        }
        other => bail!("unknown xtask command `{other}`; try `cargo xtask help`"),
    }
}
