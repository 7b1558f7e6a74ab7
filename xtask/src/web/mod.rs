//! The playground: `cargo xtask serve` builds the wasm modules and serves `static/`, and
//! [`e2e()`] runs the browser tests against that build in headless Chromium.
//!
//! - `wasm`: the wasm builds (the page and its training workers, the browser benchmark's
//!   module), with the locked `wasm-bindgen` CLI and `wasm-opt`;
//! - `serve`: the static file server and `cargo xtask serve`;
//! - `e2e`: the browser tests (`cargo xtask e2e`, and the last stage of `cargo xtask test`).

use std::path::PathBuf;

use crate::util::root;

mod e2e;
mod serve;
mod wasm;

pub use e2e::{e2e, e2e_filtered, ensure_chromium, npm_packages};
pub use serve::{StaticServer, serve};
pub use wasm::{BuildOptions, build_bench_module, wasm_bindgen_cli};

/// The cargo target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_absolute() { p } else { root().join(p) }
        }
        None => root().join("target"),
    }
}
