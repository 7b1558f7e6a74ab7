//! The browser tests: the playground end to end in headless Chromium, then the web crate's
//! wasm-bindgen tests.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::serve::StaticServer;
use super::target_dir;
use super::wasm::{BuildOptions, build, wasm_bindgen_cli};
use crate::util::{self, cargo, root};

fn have_program(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian's Chromium and its driver when `/usr/bin/chromium` is missing.
pub fn ensure_chromium() -> Result<()> {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    util::run(Command::new("apt-get").arg("update"))?;
    util::run(Command::new("apt-get").args(["install", "-y", "chromium", "chromium-driver"]))
}

/// Installs the browser tests' npm packages (`tests/e2e/package-lock.json`) when missing.
pub fn npm_packages() -> Result<()> {
    let e2e_dir = root().join("tests/e2e");
    let installed = ["playwright-core", "axe-core"]
        .iter()
        .all(|m| e2e_dir.join("node_modules").join(m).exists());
    if !installed {
        util::run(Command::new("npm").args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefix",
            "tests/e2e",
        ]))?;
    }
    Ok(())
}

/// The browser tests: builds the playground, serves it on a free port, and runs
/// `tests/e2e/run.mjs` (playwright-core driving `/usr/bin/chromium`). Screenshots and a
/// metrics file go to `tests/out/e2e/`.
pub fn e2e() -> Result<()> {
    e2e_filtered(None)
}

/// [`e2e`], or with `filter` only the browser tests whose names contain it (`|` separates
/// alternatives) and not the wasm-bindgen tests (`cargo xtask e2e [FILTER]`).
pub fn e2e_filtered(filter: Option<&str>) -> Result<()> {
    ensure_chromium()?;
    if !have_program("wasm-opt") {
        // Optional for serve; used when the distribution's binaryen is recent enough.
        let _ = util::run(Command::new("apt-get").args(["install", "-y", "binaryen"]));
    }
    let report = build(&BuildOptions {
        quick_workers: true,
        ..BuildOptions::default()
    })?;
    npm_packages()?;
    let server = StaticServer::bind(0)?;
    server.spawn(root().join("static"));
    let out = root().join("tests/out/e2e");
    std::fs::create_dir_all(&out)?;
    let mut sizes = String::new();
    for (name, (raw, gz, eager)) in &report.sizes {
        sizes.push_str(&format!("{name}:{raw}:{gz}:{eager},"));
    }
    let res = util::run(
        Command::new("node")
            .arg("tests/e2e/run.mjs")
            .args(filter)
            .env("BASE_URL", format!("http://127.0.0.1:{}/", server.port))
            .env("E2E_OUT", &out)
            .env("WASM_SIZES", sizes)
            .env("TARGET_DIR", target_dir()),
    );
    server.stop();
    eprintln!(
        "xtask: the workers were built without LTO for the tests (serve builds them with it)"
    );
    report.print();
    if filter.is_some() {
        return res;
    }
    // The web-only pieces, with wasm-bindgen-test in headless Chromium.
    let runner = wasm_bindgen_cli()?.with_file_name("wasm-bindgen-test-runner");
    let wbt = util::run(
        cargo()
            .args([
                "test",
                "-p",
                "sweeplab-web",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser",
            ])
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner),
    );
    res.and(wbt)
}
