//! Jobs that `cargo xtask test` starts at its beginning and later stages wait for: the
//! downloads and installs (Python venvs, npm packages) and the tool builds (wasm-bindgen-cli,
//! cargo-fuzz, the fuzz targets) that a fresh clone needs before its late stages. They run
//! beside the clippy and test builds: the installs wait on the network, and the tool builds
//! run under `nice -n 19`, so they take only the CPU time the builds leave idle (linking, a
//! single crate compiling alone). Each job writes its commands' output to a log under
//! `<target>/xtask-background/`, whose tail a failure shows.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use anyhow::{Result, anyhow};

use crate::util;
use crate::web::target_dir;

/// A job running on its own thread; [`Job::wait`] waits for its outcome (from any thread:
/// a job may wait for another before it starts its own work).
#[derive(Clone)]
pub struct Job(Arc<Shared>);

struct Shared {
    name: &'static str,
    log: PathBuf,
    started: Instant,
    /// The outcome, once the job is done (an error holds the tail of its log).
    outcome: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

impl Job {
    /// Starts `work` on a thread whose commands write to `<target>/xtask-background/<log>.log`
    /// (at the lowest CPU priority when `nice`).
    pub fn start(
        name: &'static str,
        log: &str,
        nice: bool,
        work: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<Job> {
        let dir = target_dir().join("xtask-background");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{log}.log"));
        let file = File::create(&path)?;
        eprintln!(
            "xtask: started in the background: {name} (log: {})",
            path.display()
        );
        let job = Job(Arc::new(Shared {
            name,
            log: path,
            started: Instant::now(),
            outcome: Mutex::new(None),
            done: Condvar::new(),
        }));
        let shared = Arc::clone(&job.0);
        std::thread::spawn(move || {
            util::run_in_background(file, nice);
            let outcome =
                work().map_err(|e| format!("{}: {e:#}\n{}", shared.name, tail(&shared.log)));
            if let Ok(mut slot) = shared.outcome.lock() {
                *slot = Some(outcome);
            }
            shared.done.notify_all();
        });
        Ok(job)
    }

    /// Waits for the job to finish; its error, with the tail of its log, if it failed.
    pub fn wait(&self) -> Result<()> {
        let shared = &self.0;
        let waited = Instant::now();
        let mut slot = shared
            .outcome
            .lock()
            .map_err(|_| anyhow!("{}: its thread panicked", shared.name))?;
        let mut blocked = false;
        while slot.is_none() {
            blocked = true;
            slot = shared
                .done
                .wait(slot)
                .map_err(|_| anyhow!("{}: its thread panicked", shared.name))?;
        }
        if blocked {
            eprintln!(
                "xtask: background job `{}` done after {:.0} s (waited {:.0} s for it)",
                shared.name,
                shared.started.elapsed().as_secs_f64(),
                waited.elapsed().as_secs_f64()
            );
        }
        match slot.as_ref() {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(anyhow!("{e}")),
            None => Err(anyhow!("{}: no outcome", shared.name)),
        }
    }
}

/// The last lines of a job's log.
fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    format!(
        "last lines of {}:\n{}",
        log.display(),
        lines[from..].join("\n")
    )
}
