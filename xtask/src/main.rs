//! `cargo xtask`: build, serve and test sweeplab.
//!
//! * `cargo xtask serve` builds the playground (wasm) and serves `static/` on 127.0.0.1.
//! * `cargo xtask test` runs every check and test; it installs what it needs itself
//!   (rustup targets, pinned CLI tools, Python venvs from pinned requirements, Chromium).

mod test;
mod util;
mod web;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    match cmd {
        "test" => test::run(rest),
        "serve" => web::serve(rest),
        "e2e" => web::e2e(),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|serve> [options]\n");
            println!("  test [--quick]   run every check and test (installs what it needs)");
            println!(
                "  serve [--port N] build the playground and serve it on 127.0.0.1 (default port 8080)"
            );
            println!("  e2e              build the playground and run its browser tests");
            Ok(())
        }
        other => bail!("unknown xtask command `{other}`; try `cargo xtask help`"),
    }
}
