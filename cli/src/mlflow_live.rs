//! `sweep --mlflow-uri URL`: each trial logged to an MLflow tracking server through its REST
//! API (`/api/2.0/mlflow/…`) as the sweep runs. One experiment named after the study; one
//! run per trial, created RUNNING when the trial starts, with its objective after every
//! epoch as it trains; when the trial ends, its params, the full history of every metric
//! series, the intermediate values and the objective (core's MLflow export, the same runs
//! `export --format mlflow` writes), Optuna's integration's tags, and its status (FINISHED,
//! KILLED for a pruned trial, FAILED).
//!
//! The server is never on the sweep's critical path for data: the journal (or database)
//! holds everything. A request that fails is retried (three tries, 0.5 s and 1 s apart);
//! if it still fails the sweep prints one warning, goes on, and leaves the server alone for
//! 20 s; at every later trial end the logger catches up on the trials the server does not
//! have finished yet. A rerun of
//! the sweep finds the runs already on the server by their `number` tag.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sweeplab_core::export::mlflow::{mlflow_key, run_file_parts};
use sweeplab_core::json::{Json, obj};
use sweeplab_core::storage::journal::StudyRecord;

/// The most metrics MLflow's `log-batch` takes per request (and entities in all).
const BATCH: usize = 1000;
/// The most params or tags per `log-batch`.
const BATCH_SMALL: usize = 100;

/// What the logger knows of one trial's run.
#[derive(Default)]
struct RunState {
    id: String,
    /// The server has the whole trial and its final status.
    finished: bool,
    /// Epoch objectives logged while it trained (steps), so the end does not repeat them.
    live_steps: Vec<i64>,
}

/// A sweep's MLflow logger.
pub struct MlflowLive {
    base: String,
    agent: ureq::Agent,
    study: String,
    experiment: Option<String>,
    runs: BTreeMap<u64, RunState>,
    /// A warning was printed since the server last answered.
    warned: bool,
    /// After a request failed (with its retries), the server is left alone until then, so
    /// an outage does not slow the sweep down.
    quiet_until: Option<std::time::Instant>,
}

/// How long the logger leaves a failing server alone.
const BACK_OFF: Duration = Duration::from_secs(20);

fn num(v: f64) -> Json {
    if v.is_finite() {
        Json::Float(v)
    } else if v.is_nan() {
        Json::Str("NaN".into())
    } else if v > 0.0 {
        Json::Str("Infinity".into())
    } else {
        Json::Str("-Infinity".into())
    }
}

fn kv(k: &str, v: &str) -> Json {
    obj([("key", Json::Str(k.into())), ("value", Json::Str(v.into()))])
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl MlflowLive {
    /// A logger for study `study` on the server at `uri` (`http://host:port`, or https).
    /// Nothing is sent yet.
    pub fn new(uri: &str, study: &str) -> Result<MlflowLive> {
        let base = uri.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!(
                "--mlflow-uri `{uri}`: give the tracking server as http://HOST:PORT or https://…"
            );
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build();
        Ok(MlflowLive {
            base,
            agent: config.into(),
            study: study.to_string(),
            experiment: None,
            runs: BTreeMap::new(),
            warned: false,
            quiet_until: None,
        })
    }

    /// One request, without retries: the response body as JSON, or why not.
    fn call_once(&self, method: &str, path: &str, body: &Json) -> Result<(u16, Json)> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let mut resp = if method == "GET" {
            self.agent.get(&url).call()
        } else {
            self.agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_compact())
        }
        .map_err(|e| anyhow!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| anyhow!("{method} {url}: reading the answer: {e}"))?;
        let json = Json::parse(&text).unwrap_or(Json::Null);
        Ok((status, json))
    }

    /// A request, tried three times (a server error or no answer is tried again; a 4xx is
    /// final).
    fn call(&self, method: &str, path: &str, body: &Json) -> Result<(u16, Json)> {
        let mut last = anyhow!("no attempt");
        for attempt in 0..3u32 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << (attempt - 1)));
            }
            match self.call_once(method, path, body) {
                Ok((status, json)) if status < 500 => return Ok((status, json)),
                Ok((status, json)) => {
                    last = anyhow!("{path}: HTTP {status}: {}", json.to_compact());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// [`MlflowLive::call`] that must succeed with 200.
    fn ok(&self, method: &str, path: &str, body: &Json) -> Result<Json> {
        let (status, json) = self.call(method, path, body)?;
        if status != 200 {
            bail!("{path}: HTTP {status}: {}", json.to_compact());
        }
        Ok(json)
    }

    /// The study's experiment (found or created), and the runs already there by trial
    /// number.
    fn experiment(&mut self) -> Result<String> {
        if let Some(id) = &self.experiment {
            return Ok(id.clone());
        }
        let name = self.study.clone();
        let by_name = format!("experiments/get-by-name?experiment_name={}", percent(&name));
        let (status, json) = self.call("GET", &by_name, &Json::Null)?;
        let id = match json
            .get("experiment")
            .and_then(|e| e.get("experiment_id"))
            .and_then(Json::as_str)
        {
            Some(id) if status == 200 => id.to_string(),
            _ => {
                let created = self.ok(
                    "POST",
                    "experiments/create",
                    &obj([("name", Json::Str(name.clone()))]),
                )?;
                created
                    .get("experiment_id")
                    .and_then(Json::as_str)
                    .context("experiments/create gave no experiment_id")?
                    .to_string()
            }
        };
        // Runs a previous sweep of this study logged.
        let mut token: Option<String> = None;
        loop {
            let mut body = vec![
                ("experiment_ids", Json::Array(vec![Json::Str(id.clone())])),
                ("max_results", Json::Int(1000)),
            ];
            if let Some(t) = &token {
                body.push(("page_token", Json::Str(t.clone())));
            }
            let page = self.ok("POST", "runs/search", &obj(body))?;
            for run in page
                .get("runs")
                .and_then(Json::as_array)
                .unwrap_or_default()
            {
                let info = run.get("info");
                let run_id = info.and_then(|i| i.get("run_id")).and_then(Json::as_str);
                let status = info.and_then(|i| i.get("status")).and_then(Json::as_str);
                let number = run
                    .get("data")
                    .and_then(|d| d.get("tags"))
                    .and_then(Json::as_array)
                    .unwrap_or_default()
                    .iter()
                    .find(|t| t.get("key").and_then(Json::as_str) == Some("number"))
                    .and_then(|t| t.get("value").and_then(Json::as_str))
                    .and_then(|v| v.parse::<u64>().ok());
                if let (Some(run_id), Some(n)) = (run_id, number) {
                    self.runs.entry(n).or_insert(RunState {
                        id: run_id.to_string(),
                        finished: status.is_some_and(|s| s != "RUNNING"),
                        live_steps: Vec::new(),
                    });
                }
            }
            token = page
                .get("next_page_token")
                .and_then(Json::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        self.experiment = Some(id.clone());
        Ok(id)
    }

    /// The run of trial `number`, created RUNNING if the server has none.
    fn run_of(&mut self, number: u64, start_ms: i64) -> Result<String> {
        let experiment = self.experiment()?;
        if let Some(r) = self.runs.get(&number) {
            return Ok(r.id.clone());
        }
        let body = obj([
            ("experiment_id", Json::Str(experiment)),
            ("run_name", Json::Str(format!("trial-{number:03}"))),
            ("start_time", Json::Int(start_ms)),
            (
                "tags",
                Json::Array(vec![
                    kv("number", &number.to_string()),
                    kv("state", "RUNNING"),
                ]),
            ),
        ]);
        let created = self.ok("POST", "runs/create", &body)?;
        let id = created
            .get("run")
            .and_then(|r| r.get("info"))
            .and_then(|i| i.get("run_id"))
            .and_then(Json::as_str)
            .context("runs/create gave no run_id")?
            .to_string();
        self.runs.insert(
            number,
            RunState {
                id: id.clone(),
                ..RunState::default()
            },
        );
        Ok(id)
    }

    /// Whether the server is being left alone after a failure.
    fn resting(&self) -> bool {
        self.quiet_until
            .is_some_and(|t| std::time::Instant::now() < t)
    }

    /// Prints one warning per outage and leaves the server alone for a while; the sweep
    /// goes on.
    fn warn(&mut self, what: &str, e: &anyhow::Error) {
        self.quiet_until = Some(std::time::Instant::now() + BACK_OFF);
        if !self.warned {
            eprintln!(
                "sweeplab: warning: MLflow ({}): {what}: {e:#}; the sweep goes on, the study keeps everything, and later trials (or `sweeplab export --format mlflow`) catch up",
                self.base
            );
            self.warned = true;
        }
    }

    /// Trial `number` started: its run, RUNNING.
    pub fn trial_started(&mut self, number: u64) {
        if self.resting() {
            return;
        }
        match self.run_of(number, now_ms()) {
            Ok(_) => self.warned = false,
            Err(e) => self.warn(&format!("starting the run of trial {number}"), &e),
        }
    }

    /// Trial `trial` finished epoch `epoch` with objective `value`.
    pub fn epoch(&mut self, trial: u64, epoch: i64, value: f64) {
        if self.resting() {
            return;
        }
        let Some(run) = self.runs.get(&trial).map(|r| r.id.clone()) else {
            return;
        };
        let body = obj([
            ("run_id", Json::Str(run)),
            (
                "metrics",
                Json::Array(vec![obj([
                    ("key", Json::Str("intermediate_value".into())),
                    ("value", num(value)),
                    ("timestamp", Json::Int(now_ms())),
                    ("step", Json::Int(epoch)),
                ])]),
            ),
        ]);
        match self.ok("POST", "runs/log-batch", &body) {
            Ok(_) => {
                if let Some(r) = self.runs.get_mut(&trial) {
                    r.live_steps.push(epoch);
                }
            }
            Err(e) => self.warn(&format!("logging trial {trial}'s epoch {epoch}"), &e),
        }
    }

    /// A trial ended: log it whole, and every earlier trial the server does not have
    /// finished (after an outage, or from before a restart).
    pub fn sync(&mut self, study: &StudyRecord) {
        if self.resting() {
            return;
        }
        let pending: Vec<u64> = study
            .trials
            .iter()
            .filter(|t| t.state.is_finished())
            .filter(|t| !self.runs.get(&t.number).is_some_and(|r| r.finished))
            .map(|t| t.number)
            .collect();
        for number in pending {
            match self.log_trial(study, number) {
                Ok(()) => self.warned = false,
                Err(e) => {
                    self.warn(&format!("logging trial {number}"), &e);
                    return;
                }
            }
        }
    }

    /// Logs finished trial `number` whole and sets its final status.
    fn log_trial(&mut self, study: &StudyRecord, number: u64) -> Result<()> {
        let parts = run_file_parts(study, number)
            .with_context(|| format!("trial {number} is not in the study"))?;
        let run = self.run_of(number, parts.start_ms)?;
        let live = self
            .runs
            .get(&number)
            .map(|r| r.live_steps.clone())
            .unwrap_or_default();
        let metrics: Vec<Json> = parts
            .points
            .iter()
            .filter(|p| !(p.key == "intermediate_value" && live.contains(&p.step)))
            .map(|p| {
                obj([
                    ("key", Json::Str(mlflow_key(&p.key))),
                    ("value", num(p.value)),
                    ("timestamp", Json::Int(p.timestamp_ms)),
                    ("step", Json::Int(p.step)),
                ])
            })
            .collect();
        let params: Vec<Json> = parts.params.iter().map(|(k, v)| kv(k, v)).collect();
        let tags: Vec<Json> = parts.tags.iter().map(|(k, v)| kv(k, v)).collect();
        for chunk in params.chunks(BATCH_SMALL) {
            self.log_batch(&run, Vec::new(), chunk.to_vec(), Vec::new())?;
        }
        for chunk in tags.chunks(BATCH_SMALL) {
            self.log_batch(&run, Vec::new(), Vec::new(), chunk.to_vec())?;
        }
        for chunk in metrics.chunks(BATCH) {
            self.log_batch(&run, chunk.to_vec(), Vec::new(), Vec::new())?;
        }
        let mut update = vec![
            ("run_id", Json::Str(run.clone())),
            ("status", Json::Str(parts.status.into())),
        ];
        if let Some(end) = parts.end_ms {
            update.push(("end_time", Json::Int(end)));
        }
        self.ok("POST", "runs/update", &obj(update))?;
        if let Some(r) = self.runs.get_mut(&number) {
            r.finished = true;
        }
        Ok(())
    }

    fn log_batch(
        &self,
        run: &str,
        metrics: Vec<Json>,
        params: Vec<Json>,
        tags: Vec<Json>,
    ) -> Result<()> {
        let body = obj([
            ("run_id", Json::Str(run.into())),
            ("metrics", Json::Array(metrics)),
            ("params", Json::Array(params)),
            ("tags", Json::Array(tags)),
        ]);
        self.ok("POST", "runs/log-batch", &body).map(|_| ())
    }
}

/// `s` percent-encoded for a query string.
fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
