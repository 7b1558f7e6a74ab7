//! `cargo xtask bench-browser`: the browser peer benchmark. Builds sweeplab's bench module
//! (`sweeplab-web` with the `bench` feature, as `serve` builds the training workers:
//! `release-wasm`, SIMD, LTO), installs the pinned TensorFlow.js packages with `npm ci`
//! from `bench/browser/package-lock.json`, puts the page, the module, TensorFlow.js's dist
//! files and MNIST-10k in `<target>/bench-browser/site/`, serves it on 127.0.0.1 and runs
//! `bench/browser/run.mjs` (playwright-core driving Debian's Chromium), which prints the
//! tables and writes `<target>/bench-browser/results.json` and `page.png`.
//!
//! A benchmark, never a test: CI does not run it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{self, root};
use crate::web::{self, BuildOptions, StaticServer};

const USAGE: &str = "usage: cargo xtask bench-browser [build options] [benchmark options]

build options (this command):
  --burn-features LIST   extra burn features for the bench module, e.g. fusion or fusion,autotune
  --variants LIST        also build the module with other burn features, side by side in the same
                         page: e.g. fusion,autotune,fusion-autotune (a name is burn features joined
                         by -); run them as sweeplab-webgpu@fusion, burn-webgpu@fusion, ...
  --quick-build          build the module without LTO (quicker; not what the playground ships)
  --no-build             reuse the last built module
  --no-isolate           serve without COOP/COEP (TF.js's wasm backend then runs single-threaded)
  --serve-only           build and serve the page, print its URL and wait (open it in any browser)
  --port N               port for --serve-only (default 8090)

benchmark options (bench/browser/run.mjs; `--help` there lists them all):
  --models mlp,cnn,lm  --batches 32,128  --lm-batch 16  --backends sweeplab-flex,sweeplab-webgpu,tfjs-wasm,tfjs-cpu,tfjs-webgpu
  --steps N  --gpu-steps N  --warmup N  --repeats N  --no-study  --no-profile  --gpu-flags \"...\"  --headed

environment: CHROMIUM=/path/to/chrome drives another Chromium-based browser (default /usr/bin/chromium)";

/// The files of the site, relative to `bench/browser/node_modules/@tensorflow/`, that go to
/// `site/tfjs/`.
const TFJS_FILES: &[&str] = &[
    "tfjs/dist/tf.es2017.min.js",
    "tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js",
    "tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
    "tfjs-backend-webgpu/dist/tf-backend-webgpu.es2017.min.js",
];

/// The TF.js version `bench/browser/package.json` pins.
const TFJS_VERSION: &str = "4.22.0";

/// Runs `npm ci` in `bench/browser` unless the pinned packages are installed already.
fn ensure_npm_packages() -> Result<()> {
    let dir = root().join("bench/browser");
    let installed = std::fs::read_to_string(dir.join("node_modules/@tensorflow/tfjs/package.json"))
        .unwrap_or_default();
    let have_tfjs = installed.contains(&format!("\"version\": \"{TFJS_VERSION}\""));
    if have_tfjs && dir.join("node_modules/playwright-core").exists() {
        return Ok(());
    }
    // No install scripts: none of these packages needs one.
    util::run(Command::new("npm").args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--prefix",
        "bench/browser",
    ]))
}

/// `["a","b"]`'s inside: each string quoted (the names are plain ASCII).
fn json_strings(items: &[String]) -> String {
    items
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(",")
}

/// Copies `from` to `to`, creating `to`'s folder.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Puts the page, TF.js and the data into `site` (the module is built into `site/pkg`).
fn assemble_site(site: &Path) -> Result<()> {
    let src = root().join("bench/browser");
    for f in ["index.html", "bench.js"] {
        copy(&src.join(f), &site.join(f))?;
    }
    let modules = src.join("node_modules/@tensorflow");
    for f in TFJS_FILES {
        let from = modules.join(f);
        let name = from.file_name().context("a TF.js file without a name")?;
        copy(&from, &site.join("tfjs").join(name))?;
    }
    let data = root().join("static/data/mnist10k");
    for f in [
        "mnist10k-images-idx3-ubyte.gz",
        "mnist10k-labels-idx1-ubyte.gz",
    ] {
        copy(&data.join(f), &site.join("data/mnist10k").join(f))?;
    }
    // The language model's corpus and shipped base (model `lm`).
    let lm = root().join("static/data/lm");
    for f in ["devils-dictionary.txt", "base.safetensors"] {
        copy(&lm.join(f), &site.join("data/lm").join(f))?;
    }
    Ok(())
}

/// `cargo xtask bench-browser [options]` (see [`USAGE`]).
pub fn run(args: &[String]) -> Result<()> {
    let mut burn_features: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    let mut quick = false;
    let mut build = true;
    let mut isolate = true;
    let mut serve_only = false;
    let mut port = 8090u16;
    let mut forward: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--burn-features" => {
                let v = it
                    .next()
                    .context("--burn-features needs a list, e.g. fusion")?;
                burn_features.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(|f| format!("burn/{}", f.trim_start_matches("burn/"))),
                );
            }
            "--variants" => {
                let v = it
                    .next()
                    .context("--variants needs a list, e.g. fusion,autotune")?;
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if !name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    {
                        bail!(
                            "variant `{name}`: use burn feature names joined by `-`, e.g. fusion-autotune"
                        );
                    }
                    variants.push(name.to_string());
                }
            }
            "--quick-build" => quick = true,
            "--no-build" => build = false,
            "--no-isolate" => isolate = false,
            "--serve-only" => serve_only = true,
            "--port" => {
                let v = it.next().context("--port needs a number")?;
                port = v.parse().with_context(|| format!("bad port `{v}`"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => forward.push(a.clone()),
        }
    }
    // `CHROMIUM=/path/to/chrome` picks another browser (e.g. on a machine with a GPU and no
    // Debian Chromium); otherwise Debian's Chromium, installed when missing.
    if std::env::var_os("CHROMIUM").is_none() && !serve_only {
        web::ensure_chromium()?;
    }
    ensure_npm_packages()?;
    let out = web::target_dir().join("bench-browser");
    let site = out.join("site");
    let pkg = site.join("pkg");
    let info_file = pkg.join("build.json");
    let build_info = if build {
        let opts = BuildOptions {
            quick_workers: quick,
            ..BuildOptions::default()
        };
        let mut variant_info = Vec::new();
        // The variants first, so the main module is the last build (what `--no-build` and a
        // later plain build find in the target directory).
        for name in &variants {
            let features: Vec<String> = name.split('-').map(|f| format!("burn/{f}")).collect();
            let dir = site.join(format!("pkg-{name}"));
            let (raw, gz) = web::build_bench_module(&features, &opts, &dir)?;
            println!(
                "bench module, variant {name} ({}): {:.1} KiB, {:.1} KiB gzip",
                features.join(", "),
                raw as f64 / 1024.0,
                gz as f64 / 1024.0
            );
            variant_info.push(format!(
                "{{\"name\":\"{name}\",\"burn_features\":[{}],\"module_bytes\":{raw},\"module_gzip_bytes\":{gz}}}",
                json_strings(&features)
            ));
        }
        let (raw, gz) = web::build_bench_module(&burn_features, &opts, &pkg)?;
        let info = format!(
            "{{\"burn_features\":[{}],\"module_bytes\":{raw},\"module_gzip_bytes\":{gz},\"lto\":{},\"variants\":[{}]}}",
            json_strings(&burn_features),
            !quick,
            variant_info.join(","),
        );
        std::fs::write(&info_file, &info)?;
        println!(
            "bench module: {:.1} KiB, {:.1} KiB gzip (extra burn features: {})",
            raw as f64 / 1024.0,
            gz as f64 / 1024.0,
            if burn_features.is_empty() {
                "none".to_string()
            } else {
                burn_features.join(", ")
            }
        );
        info
    } else {
        std::fs::read_to_string(&info_file).with_context(|| {
            format!(
                "{} is missing: run without --no-build first",
                info_file.display()
            )
        })?
    };
    assemble_site(&site)?;

    if serve_only {
        let server = StaticServer::bind(port)?.cross_origin_isolated(isolate);
        println!(
            "sweeplab browser benchmark page: http://127.0.0.1:{}/",
            server.port
        );
        println!(
            "(the page loads and waits; drive it with bench/browser/run.mjs --url URL, or call window.bench from the console)"
        );
        server.serve(&site);
        return Ok(());
    }
    let server = StaticServer::bind(0)?.cross_origin_isolated(isolate);
    server.spawn(site.clone());
    let res = util::run(
        Command::new("node")
            .arg("bench/browser/run.mjs")
            .args(&forward)
            .env("BASE_URL", format!("http://127.0.0.1:{}/", server.port))
            .env("BENCH_OUT", &out)
            .env("BENCH_BUILD", build_info)
            .env("BENCH_ISOLATED", if isolate { "1" } else { "0" }),
    );
    server.stop();
    res
}
