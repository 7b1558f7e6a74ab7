//! The static file server (127.0.0.1, optionally cross-origin isolated) and
//! `cargo xtask serve`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::wasm::{BuildOptions, build};
use crate::util::root;

/// The MIME type of a file, by extension.
pub fn mime_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("yaml" | "yml") => "text/yaml; charset=utf-8",
        Some("gz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under `dir`, refusing anything that leaves it.
pub fn resolve(dir: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let mut out = dir.to_path_buf();
    for part in path.split('/') {
        let part = percent_decode(part)?;
        match part.as_str() {
            "" | "." => {}
            ".." => return None,
            p if p.contains(['\\', '\0']) => return None,
            p => out.push(p),
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A static file server on 127.0.0.1.
pub struct StaticServer {
    server: std::sync::Arc<tiny_http::Server>,
    /// The port it listens on.
    pub port: u16,
    isolated: bool,
}

impl StaticServer {
    /// Binds 127.0.0.1:`port` (0 picks a free port).
    pub fn bind(port: u16) -> Result<Self> {
        let server = tiny_http::Server::http(("127.0.0.1", port))
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .context("the server has no IP address")?;
        Ok(StaticServer {
            server: std::sync::Arc::new(server),
            port,
            isolated: false,
        })
    }

    /// Sends `Cross-Origin-Opener-Policy: same-origin` and
    /// `Cross-Origin-Embedder-Policy: require-corp` with every file, so pages are
    /// cross-origin isolated (`SharedArrayBuffer`, wasm threads).
    pub fn cross_origin_isolated(mut self, on: bool) -> Self {
        self.isolated = on;
        self
    }

    /// Serves `dir` until the process ends.
    pub fn serve(&self, dir: &Path) {
        for req in self.server.incoming_requests() {
            handle(dir, req, self.isolated);
        }
    }

    /// Serves `dir` on a background thread.
    pub fn spawn(&self, dir: PathBuf) {
        let server = self.server.clone();
        let isolated = self.isolated;
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                handle(&dir, req, isolated);
            }
        });
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.unblock();
    }
}

fn handle(dir: &Path, req: tiny_http::Request, isolated: bool) {
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok();
    let result = match resolve(dir, req.url()) {
        Some(path) if path.is_file() => match std::fs::read(&path) {
            Ok(body) => {
                let mut resp = tiny_http::Response::from_data(body);
                let isolation = [
                    ("Cross-Origin-Opener-Policy", "same-origin"),
                    ("Cross-Origin-Embedder-Policy", "require-corp"),
                ];
                for h in [
                    header("Content-Type", mime_type(&path)),
                    header("Cache-Control", "no-cache"),
                    header("X-Content-Type-Options", "nosniff"),
                ]
                .into_iter()
                .chain(
                    isolation
                        .iter()
                        .filter(|_| isolated)
                        .map(|(k, v)| header(k, v)),
                )
                .flatten()
                {
                    resp.add_header(h);
                }
                req.respond(resp)
            }
            Err(_) => {
                req.respond(tiny_http::Response::from_string("read error").with_status_code(500))
            }
        },
        _ => req.respond(tiny_http::Response::from_string("not found").with_status_code(404)),
    };
    if let Err(e) = result {
        eprintln!("xtask serve: {e}");
    }
}

/// `cargo xtask serve [--port N] [--dev] [--no-build] [--no-opt]`.
pub fn serve(args: &[String]) -> Result<()> {
    let mut port = 8080u16;
    let mut opts = BuildOptions::default();
    let mut build_first = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let v = it.next().context("--port needs a number")?;
                port = v.parse().with_context(|| format!("bad port `{v}`"))?;
            }
            "--dev" => opts.profile = "dev".into(),
            "--no-opt" => opts.no_opt = true,
            "--no-build" => build_first = false,
            "--page-only" => opts.page_only = true,
            other => bail!(
                "unknown serve option `{other}`; usage: cargo xtask serve [--port N] [--dev] [--no-opt] [--page-only] [--no-build]"
            ),
        }
    }
    if build_first {
        let report = build(&opts)?;
        println!("wasm sizes:");
        report.print();
    }
    let server = StaticServer::bind(port)?;
    println!("sweeplab playground: http://127.0.0.1:{}/", server.port);
    server.serve(&root().join("static"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_cover_the_page() {
        assert_eq!(mime_type(Path::new("a/b.wasm")), "application/wasm");
        assert_eq!(
            mime_type(Path::new("x.JS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(mime_type(Path::new("s.css")), "text/css; charset=utf-8");
        assert_eq!(mime_type(Path::new("noext")), "application/octet-stream");
    }

    #[test]
    fn paths_stay_inside_the_served_folder() {
        let dir = Path::new("/srv/static");
        assert_eq!(
            resolve(dir, "/pkg/a.js?v=1"),
            Some(PathBuf::from("/srv/static/pkg/a.js"))
        );
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/%2e%2e/etc/passwd"), None);
        assert_eq!(
            resolve(dir, "/a%20b.txt"),
            Some(PathBuf::from("/srv/static/a b.txt"))
        );
        assert_eq!(resolve(dir, "/bad%zz"), None);
    }
}
