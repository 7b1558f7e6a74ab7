//! The playground's wasm builds.
//!
//! Build steps: `cargo build -p sweeplab-web --target wasm32-unknown-unknown` (profile
//! `release-wasm`, SIMD on) once for the page and once per training worker, then the
//! `wasm-bindgen` CLI at exactly the version of the `wasm-bindgen` crate in `Cargo.lock`
//! (installed under `<target>/tools` when missing), then `wasm-opt -Oz` when binaryen is
//! installed. The output goes to `static/pkg/`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::target_dir;
use crate::util::{self, cargo, root};

/// One wasm module of the playground: the page itself or a training worker.
struct Module {
    /// The name of the files in `static/pkg/` (`<out_name>.js`, `<out_name>_bg.wasm`).
    out_name: &'static str,
    /// `--features` for `cargo build` (with `--no-default-features` unless empty).
    features: &'static str,
    /// Whether the page needs it before it is interactive.
    eager: bool,
}

/// The page module, then the workers it loads when training starts.
fn modules() -> Vec<Module> {
    let mut out = vec![Module {
        out_name: "sweeplab_web",
        features: "",
        eager: true,
    }];
    out.extend(worker_modules());
    out
}

/// The modules loaded on demand: the training workers (the web crate's `worker-cpu` and
/// `worker-gpu` features) and the `study.db` download's SQLite module (`export-sqlite`).
fn worker_modules() -> Vec<Module> {
    vec![
        Module {
            out_name: "sweeplab_export_sqlite",
            features: "export-sqlite",
            eager: false,
        },
        Module {
            out_name: "sweeplab_worker_cpu",
            features: "worker-cpu",
            eager: false,
        },
        Module {
            out_name: "sweeplab_worker_gpu",
            features: "worker-gpu",
            eager: false,
        },
    ]
}

/// Options of a playground build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Cargo profile (`release-wasm` by default; `dev` for quick debug builds).
    pub profile: String,
    /// Skip `wasm-opt` even when it is installed.
    pub no_opt: bool,
    /// Build only the page, not the training workers (quick iteration on the UI).
    pub page_only: bool,
    /// Build the workers without LTO and with parallel codegen (the browser tests: much
    /// quicker to build, a little larger and slower; the page itself is built as served).
    pub quick_workers: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            profile: "release-wasm".into(),
            no_opt: false,
            page_only: false,
            quick_workers: false,
        }
    }
}

/// What a build produced: per module, the wasm size raw and gzipped.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    /// `out_name` → (bytes, gzip bytes, eager).
    pub sizes: BTreeMap<String, (u64, u64, bool)>,
}

impl BuildReport {
    /// Gzip bytes the page loads before it is interactive.
    pub fn eager_gzip(&self) -> u64 {
        self.sizes
            .values()
            .filter(|(_, _, e)| *e)
            .map(|(_, g, _)| g)
            .sum()
    }

    /// Prints a size table.
    pub fn print(&self) {
        for (name, (raw, gz, eager)) in &self.sizes {
            println!(
                "  {name}_bg.wasm: {:>7.1} KiB, {:>7.1} KiB gzip{}",
                *raw as f64 / 1024.0,
                *gz as f64 / 1024.0,
                if *eager {
                    " (loaded before interactive)"
                } else {
                    " (loaded on demand)"
                }
            );
        }
        println!(
            "  before interactive: {:.1} KiB gzip",
            self.eager_gzip() as f64 / 1024.0
        );
    }
}

/// The `wasm-bindgen` crate version in `Cargo.lock`.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next()
            && let Some(rest) = v.trim().strip_prefix("version = \"")
        {
            return Ok(rest.trim_end_matches('"').to_string());
        }
    }
    bail!("Cargo.lock has no `wasm-bindgen` package; is the web crate in the workspace?")
}

/// The `wasm-bindgen` CLI at exactly the locked version, installed under
/// `<target>/tools` when missing.
pub fn wasm_bindgen_cli() -> Result<PathBuf> {
    let version = locked_wasm_bindgen_version()?;
    let tools = target_dir().join("tools");
    let bin = tools.join("bin").join("wasm-bindgen");
    let have = if bin.exists() {
        util::output(Command::new(&bin).arg("--version")).unwrap_or_default()
    } else {
        String::new()
    };
    if have.split_whitespace().nth(1) != Some(version.as_str()) {
        eprintln!(
            "xtask: installing wasm-bindgen-cli {version} into {}",
            tools.display()
        );
        util::run(
            cargo()
                .args([
                    "install",
                    "wasm-bindgen-cli",
                    "--version",
                    &version,
                    "--root",
                ])
                .arg(&tools),
        )?;
    }
    Ok(bin)
}

/// The installed `wasm-opt`'s version number, if any (`wasm-opt version 116` → 116).
fn wasm_opt_version() -> Option<u32> {
    let out = Command::new("wasm-opt").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.trim_start_matches('v').parse::<u32>().ok())
}

/// Binaryen releases older than this misread the reference-types and bulk-memory code that
/// current rustc emits for wasm32 (Debian 12 ships 108) and write a module browsers reject.
const MIN_WASM_OPT: u32 = 116;

/// Gzip size of a file (level 9, as a server would send it).
pub fn gzip_size(path: &Path) -> Result<u64> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&data)?;
    Ok(enc.finish()?.len() as u64)
}

/// Whether `wasm-opt` runs in a build with these options (it must be recent enough); says
/// why not when it is skipped.
fn use_wasm_opt(opts: &BuildOptions) -> bool {
    let opt_version = wasm_opt_version();
    let use_opt =
        !opts.no_opt && opts.profile != "dev" && opt_version.is_some_and(|v| v >= MIN_WASM_OPT);
    if !use_opt && !opts.no_opt && opts.profile != "dev" {
        match opt_version {
            None => eprintln!("xtask: wasm-opt not found (binaryen); skipping it"),
            Some(v) => eprintln!(
                "xtask: wasm-opt {v} is older than {MIN_WASM_OPT} and would corrupt the module; skipping it"
            ),
        }
    }
    use_opt
}

/// Builds every wasm module into `static/pkg/`.
pub fn build(opts: &BuildOptions) -> Result<BuildReport> {
    util::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    let bindgen = wasm_bindgen_cli()?;
    let pkg = root().join("static/pkg");
    std::fs::create_dir_all(&pkg)?;
    let use_opt = use_wasm_opt(opts);
    let mut report = BuildReport::default();
    for m in modules().into_iter().filter(|m| m.eager || !opts.page_only) {
        let (raw, gz) = build_module(&m, &[], opts, &bindgen, &pkg, use_opt)?;
        report
            .sizes
            .insert(m.out_name.to_string(), (raw, gz, m.eager));
    }
    Ok(report)
}

/// Builds the browser benchmark's module (`sweeplab-web` with the `bench` feature, plus
/// `extra_features`, e.g. `burn/fusion`) exactly as `serve` builds the training workers,
/// into `<out_dir>/sweeplab_bench{.js,_bg.wasm}`. Returns its size, raw and gzipped.
pub fn build_bench_module(
    extra_features: &[String],
    opts: &BuildOptions,
    out_dir: &Path,
) -> Result<(u64, u64)> {
    util::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    let bindgen = wasm_bindgen_cli()?;
    std::fs::create_dir_all(out_dir)?;
    let use_opt = use_wasm_opt(opts);
    let m = Module {
        out_name: "sweeplab_bench",
        features: "bench",
        eager: false,
    };
    build_module(&m, extra_features, opts, &bindgen, out_dir, use_opt)
}

/// Builds one module (with `extra_features` added to its own) and writes it to `pkg`;
/// returns its size, raw and gzipped.
fn build_module(
    m: &Module,
    extra_features: &[String],
    opts: &BuildOptions,
    bindgen: &Path,
    pkg: &Path,
    use_opt: bool,
) -> Result<(u64, u64)> {
    let started = Instant::now();
    let mut cmd = cargo();
    cmd.args([
        "build",
        "-p",
        "sweeplab-web",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        &opts.profile,
    ]);
    if !m.features.is_empty() {
        let mut features = vec![m.features.to_string()];
        features.extend(extra_features.iter().cloned());
        cmd.args(["--no-default-features", "--features", &features.join(",")]);
        if opts.quick_workers && opts.profile == "release-wasm" {
            cmd.env("CARGO_PROFILE_RELEASE_WASM_LTO", "off")
                .env("CARGO_PROFILE_RELEASE_WASM_CODEGEN_UNITS", "16");
        }
    }
    if m.features.contains("export-sqlite") {
        cmd.env("CC_wasm32_unknown_unknown", util::wasm_cc()?);
    }
    let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    if !rustflags.contains("simd128") {
        rustflags.push_str(" -C target-feature=+simd128");
    }
    cmd.env("RUSTFLAGS", rustflags.trim());
    util::run(&mut cmd)?;
    let profile_dir = if opts.profile == "dev" {
        "debug"
    } else {
        opts.profile.as_str()
    };
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join(profile_dir)
        .join("sweeplab_web.wasm");
    let mut bindgen_cmd = Command::new(bindgen);
    bindgen_cmd
        .arg("--target")
        .arg("web")
        .arg("--no-typescript");
    if opts.profile != "dev" {
        // The function-name section is debug information (names in a browser's wasm stack
        // traces; our panic messages do not need it): 1.5 MB of the CPU worker's 4.7 MB.
        bindgen_cmd.arg("--remove-name-section");
    }
    util::run(
        bindgen_cmd
            .arg("--out-dir")
            .arg(pkg)
            .arg("--out-name")
            .arg(m.out_name)
            .arg(&wasm),
    )?;
    let out_wasm = pkg.join(format!("{}_bg.wasm", m.out_name));
    if use_opt {
        let tmp = pkg.join(format!("{}_opt.wasm", m.out_name));
        let res = util::run(
            Command::new("wasm-opt")
                .arg("-Oz")
                .arg("--all-features")
                .arg(&out_wasm)
                .arg("-o")
                .arg(&tmp),
        );
        match res {
            Ok(()) => std::fs::rename(&tmp, &out_wasm)?,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                eprintln!("xtask: wasm-opt failed, keeping the unoptimised module: {e:#}");
            }
        }
    }
    let raw = std::fs::metadata(&out_wasm)?.len();
    let gz = gzip_size(&out_wasm)?;
    eprintln!("xtask: built {} in {:.0?}", m.out_name, started.elapsed());
    Ok((raw, gz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locked_wasm_bindgen_is_found() {
        let v = locked_wasm_bindgen_version().unwrap();
        assert!(v.starts_with("0.2."), "{v}");
    }
}
