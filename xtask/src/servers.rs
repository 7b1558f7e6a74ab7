//! Throw-away database servers for the tests: Debian's PostgreSQL in a temporary
//! directory on a loopback port, with a password (so wrong credentials can be tested), and
//! stopped and removed when dropped. Installed with apt-get when missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util;

/// A free loopback port (the OS's choice; closed again before the server takes it).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
    util::output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// Runs `cmd` as the `postgres` user when this is root (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

/// The newest installed PostgreSQL's `bin` directory.
fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// A PostgreSQL server of its own, stopped and deleted on drop.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

const USER: &str = "sweeplab";
const PASSWORD: &str = "sweeplab-test";

impl Postgres {
    /// Installs (Debian's `postgresql`) if needed, creates a cluster in a temporary
    /// directory and starts it on a free loopback port.
    pub fn start() -> Result<Postgres> {
        let bin = match pg_bin() {
            Some(b) => b,
            None => {
                crate::util::apt_install(&["postgresql"])?;
                pg_bin().context("PostgreSQL was installed but no initdb was found")?
            }
        };
        let dir = std::env::temp_dir().join(format!("sweeplab-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD)?;
        if is_root() {
            util::run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
            )?;
        }
        let data = dir.join("data");
        let data_s = data.display().to_string();
        util::run(&mut as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data_s,
                "-U",
                USER,
                &format!("--pwfile={}", pwfile.display()),
                "-A",
                "scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        ))?;
        let port = free_port()?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            dir.display()
        );
        let log = dir.join("log").display().to_string();
        util::run(&mut as_postgres(
            &bin.join("pg_ctl"),
            &["-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"],
        ))?;
        eprintln!("xtask: PostgreSQL ({}) on 127.0.0.1:{port}", bin.display());
        Ok(Postgres { bin, dir, port })
    }

    /// The server's maintenance database, as a storage URL with the test user's password.
    pub fn url(&self) -> String {
        format!(
            "postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
        )
        .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis server of its own (no persistence), killed and deleted on drop.
pub struct Redis {
    child: std::process::Child,
    dir: PathBuf,
    port: u16,
}

impl Redis {
    /// Installs (Debian's `redis-server`) if needed and starts one on a free loopback
    /// port; returns once it accepts connections.
    pub fn start() -> Result<Redis> {
        let have = |p: &str| Path::new(p).is_file();
        if !have("/usr/bin/redis-server") {
            crate::util::apt_install(&["redis-server"])?;
        }
        let dir = std::env::temp_dir().join(format!("sweeplab-redis-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        let server = Redis { child, dir, port };
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > std::time::Duration::from_secs(30) {
                bail!("redis-server did not accept connections on port {port} within 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("xtask: Redis on 127.0.0.1:{port}");
        Ok(server)
    }

    /// The server's database 0, as a storage URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
