//! `cargo xtask test`: every check and test, in the order CI runs them. It installs what it
//! needs itself: the wasm32 target, the wasm-bindgen CLI at Cargo.lock's version, Mesa's
//! software Vulkan driver (for the native GPU path), the pinned Python venv of the
//! conformance and interop tests, and Debian's Chromium for the browser tests.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::background::Job;
use crate::util::{self, cargo, root};
use crate::web;

/// One stage of the suite: a name and what it runs.
struct Stage {
    name: &'static str,
    run: Box<dyn FnOnce() -> Result<()>>,
}

fn stage(name: &'static str, run: impl FnOnce() -> Result<()> + 'static) -> Stage {
    Stage {
        name,
        run: Box::new(run),
    }
}

/// Clippy, warnings denied, on the web crate's training worker module for wasm32, built with
/// `features` alone (the module `cargo xtask serve` builds with them).
fn worker_clippy(name: &'static str, features: &'static str) -> Stage {
    stage(name, move || {
        cargo_args(&[
            "clippy",
            "-p",
            "sweeplab-web",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--no-default-features",
            "--features",
            features,
            "--",
            "-D",
            "warnings",
        ])
    })
}

/// `s`, run once `jobs` are done (a stage that needs what a background job installs).
fn after(jobs: &[&Job], s: Stage) -> Stage {
    let jobs: Vec<Job> = jobs.iter().map(|j| (*j).clone()).collect();
    let Stage { name, run } = s;
    stage(name, move || {
        for job in &jobs {
            job.wait()?;
        }
        run()
    })
}

fn cargo_args(args: &[&str]) -> Result<()> {
    util::run(cargo().args(args))
}

/// Installs Mesa's lavapipe (software Vulkan) so the native wgpu path can be tested. Best
/// effort: without it the GPU tests say they were skipped.
fn ensure_lavapipe() -> Result<()> {
    let have = std::path::Path::new("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json").exists()
        || std::path::Path::new("/usr/share/vulkan/icd.d/lvp_icd.json").exists();
    if have {
        return Ok(());
    }
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-q", "mesa-vulkan-drivers", "libvulkan1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        let _ = Command::new("apt-get").arg("update").status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-q", "mesa-vulkan-drivers", "libvulkan1"])
            .status();
    }
    Ok(())
}

/// The conformance venv's python (tests/conformance/venv.sh creates it from pinned
/// requirements).
fn python() -> Result<String> {
    let out = util::output(Command::new("bash").arg("tests/conformance/venv.sh"))?;
    match out.lines().last() {
        Some(p) if !p.trim().is_empty() => Ok(p.trim().to_string()),
        _ => bail!("tests/conformance/venv.sh printed no python path"),
    }
}

fn sweeplab_bin() -> PathBuf {
    web::target_dir().join("debug").join("sweeplab")
}

/// A stage that runs the Python test `script` (the conformance venv's python) on the
/// debug `sweeplab`.
fn python_stage(name: &'static str, script: &'static str) -> Stage {
    stage(name, move || {
        let py = python()?;
        util::run(Command::new(py).arg(script).arg(sweeplab_bin()))
    })
}

/// Runs the whole suite. `--quick` skips the browser stage.
pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let xdg = web::target_dir().join("xdg-runtime");
    std::fs::create_dir_all(&xdg)?;
    // What the late stages need and a fresh clone lacks starts now, beside the builds
    // (see `background`): the venvs and npm packages download while clippy runs, and the
    // tools build at the lowest priority in the CPU time the builds leave idle.
    let setup = Job::start("Python venvs and npm packages", "setup", false, move || {
        util::run(Command::new("bash").arg("tests/conformance/venv.sh"))?;
        util::run(
            Command::new("bash")
                .arg("tests/conformance/venv.sh")
                .arg("mlflow"),
        )?;
        if !quick {
            web::npm_packages()?;
        }
        Ok(())
    })?;
    let bindgen = Job::start("wasm-bindgen CLI (nice 19)", "wasm-bindgen", true, || {
        web::wasm_bindgen_cli().map(|_| ())
    })?;
    // After wasm-bindgen (needed sooner), not beside it.
    let fuzz = Job::start("cargo-fuzz and the fuzz targets (nice 19)", "fuzz", true, {
        let bindgen = bindgen.clone();
        move || {
            let _ = bindgen.wait();
            crate::fuzz::prebuild()
        }
    })?;
    // wgpu/Vulkan want a runtime dir (the tests run headless).
    let mut stages = vec![
        stage("install: wasm32 target, lavapipe", || {
            util::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
            ensure_lavapipe()
        }),
        stage("cargo fmt --check", || {
            cargo_args(&["fmt", "--all", "--", "--check"])
        }),
        stage("clippy (host, all targets, all features)", || {
            cargo_args(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ])
        }),
        // One wasm32 check of everything the browser runs: the page, both workers and the
        // bench module share one dependency build (burn with Flex and wgpu, the fused
        // kernels); the lean CPU worker, whose burn has no wgpu, is checked on its own.
        stage(
            "clippy (wasm32: core and web with all features: page, workers, bench)",
            || {
                util::run(
                    cargo()
                        .args([
                            "clippy",
                            "-p",
                            "sweeplab-core",
                            "-p",
                            "sweeplab-web",
                            "--target",
                            "wasm32-unknown-unknown",
                            "--all-features",
                            "--",
                            "-D",
                            "warnings",
                        ])
                        // `export-sqlite` compiles SQLite's C sources for wasm32.
                        .env("CC_wasm32_unknown_unknown", util::wasm_cc()?),
                )
            },
        ),
        worker_clippy(
            "clippy (wasm32: the CPU training worker alone)",
            "worker-cpu",
        ),
        stage("core builds for wasm32 (no features)", || {
            cargo_args(&[
                "build",
                "-p",
                "sweeplab-core",
                "--target",
                "wasm32-unknown-unknown",
            ])
        }),
        // The CLI's default feature `train` brings in the training engine (Flex and wgpu);
        // `fused` adds our WGSL kernels. wgpu tests run on Mesa's lavapipe here.
        stage(
            "cargo test --workspace (training on Flex and lavapipe)",
            move || {
                util::run(
                    cargo()
                        .args(["test", "--workspace", "--features", "sweeplab-core/fused"])
                        .env("XDG_RUNTIME_DIR", &xdg),
                )
            },
        ),
        after(
            &[&bindgen],
            stage("core tests on wasm32 (Node.js)", || {
                let runner = web::wasm_bindgen_cli()?.with_file_name("wasm-bindgen-test-runner");
                util::run(
                    cargo()
                        .args([
                            "test",
                            "-p",
                            "sweeplab-core",
                            "--target",
                            "wasm32-unknown-unknown",
                            "--test",
                            "reproducible",
                        ])
                        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner),
                )
            }),
        ),
        after(
            &[&setup],
            stage(
                "conformance: TensorBoard, wandb, Optuna, optuna-dashboard read our exports",
                || {
                    let py = python()?;
                    util::run(
                        Command::new("bash")
                            .arg("tests/conformance/run.sh")
                            .arg(sweeplab_bin())
                            .env("SWEEPLAB_PYTHON", &py),
                    )
                },
            ),
        ),
        after(
            &[&setup],
            stage(
                "MLflow: a sweep logs to a real tracking server as it runs, and catches up after an outage",
                || {
                    util::run(
                        Command::new("bash")
                            .arg("tests/conformance/mlflow_live.sh")
                            .arg(sweeplab_bin()),
                    )
                },
            ),
        ),
        after(
            &[&setup],
            python_stage(
                "interop: Python Optuna 5.0 and sweeplab on one journal",
                "tests/interop/optuna_interop.py",
            ),
        ),
        after(
            &[&setup],
            python_stage(
                "faults: 100 SIGKILLs of a sweep, and a full disk (Optuna, TensorBoard, wandb read what is left)",
                "tests/interop/kill_storm.py",
            ),
        ),
        after(
            &[&setup],
            stage(
                "interop: Python Optuna 5.0 and sweeplab on SQLite, PostgreSQL and Redis",
                || {
                    let py = python()?;
                    let pg = crate::servers::Postgres::start()?;
                    let redis = crate::servers::Redis::start()?;
                    util::run(
                        Command::new(py)
                            .arg("tests/interop/optuna_rdb.py")
                            .arg(sweeplab_bin())
                            .arg(pg.url())
                            .arg(redis.url()),
                    )
                },
            ),
        ),
    ];
    // Skips itself, with a printed line, where the nightly toolchain is missing.
    stages.push(after(
        &[&fuzz],
        stage("fuzz: a 10-second smoke pass per target", || {
            crate::fuzz::run(&["--seconds".into(), "10".into()])
        }),
    ));
    if !quick {
        stages.push(after(
            &[&setup, &bindgen],
            stage(
                "browser: playground end to end in headless Chromium",
                web::e2e,
            ),
        ));
    }

    let total = stages.len();
    let mut report = Vec::new();
    let mut failed = 0;
    for s in stages {
        eprintln!("\nxtask: ── {} ──", s.name);
        let t0 = Instant::now();
        let res = (s.run)();
        let secs = t0.elapsed().as_secs_f64();
        match &res {
            Ok(()) => report.push(format!("  ok    {:>7.1}s  {}", secs, s.name)),
            Err(e) => {
                failed += 1;
                report.push(format!("  FAIL  {:>7.1}s  {}: {e:#}", secs, s.name));
            }
        }
        // Later stages build on earlier ones; stop at the first failure.
        if res.is_err() {
            break;
        }
    }
    println!("\nxtask test summary ({}):", root().display());
    for line in &report {
        println!("{line}");
    }
    let passed = report.len() - failed;
    let not_run = total - report.len();
    println!("stages: {passed} passed, {failed} failed, {not_run} not run (after a failure)");
    if failed > 0 || passed != total {
        bail!("{} of {total} stages did not pass", total - passed);
    }
    Ok(())
}
