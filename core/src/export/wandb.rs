//! W&B offline runs: the `.wandb` transaction log (LevelDB-style 32 KiB blocks with
//! unmasked CRC-32 chunks, `wandb_internal.Record` protobufs) that `wandb sync` uploads.
//!
//! [`RunLog`] describes one run's records; [`encode_run`] writes them as the minimal
//! sequence `header, run(config), history×N, summary, exit, final` that both the Go and the
//! older Python `wandb sync` accept (see `docs/export-formats.md`). [`offline_runs`] makes
//! one `wandb/offline-run-YYYYMMDD_HHMMSS-<id>/run-<id>.wandb` per started trial: config =
//! the params, group = the study name, one history row per step with `_step`, `_runtime`
//! and `_timestamp`, the summary, and an exit record with the trial's outcome (exit code 0
//! for COMPLETE and PRUNED, 1 for FAIL; none while the trial is still RUNNING).
//! [`read_log`] reads a log back, naming the byte offset of any damage.

use std::collections::BTreeMap;

use prost::Message;
use time::OffsetDateTime;
use time::macros::format_description;

use super::proto::wandb as pb;
use super::{
    ExportError, ExportFile, ExportOptions, objective_tags, param_json, started_trials,
    study_start, trial_end, trial_points, trial_run_name, trial_start,
};
use crate::json::Json;
use crate::storage::journal::StudyRecord;
use crate::trial::{FrozenTrial, TrialState};

/// Size of a block of the log.
pub const BLOCK_SIZE: usize = 32768;
/// Size of a chunk header: CRC-32 (4), length (2), type (1).
pub const CHUNK_HEADER: usize = 7;
/// The file header: `:W&B`, magic `0xBEE1` little-endian, version 0.
pub const FILE_HEADER: [u8; 7] = [b':', b'W', b'&', b'B', 0xe1, 0xbe, 0x00];

/// Chunk types.
const FULL: u8 = 1;
const FIRST: u8 = 2;
const MIDDLE: u8 = 3;
const LAST: u8 = 4;

/// A `.wandb` log being written.
#[derive(Clone, Debug)]
pub struct LogWriter {
    bytes: Vec<u8>,
}

impl Default for LogWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl LogWriter {
    /// A log holding only the file header.
    pub fn new() -> Self {
        LogWriter {
            bytes: FILE_HEADER.to_vec(),
        }
    }

    fn left_in_block(&self) -> usize {
        BLOCK_SIZE - self.bytes.len() % BLOCK_SIZE
    }

    fn chunk(&mut self, kind: u8, data: &[u8]) {
        let mut h = crc32fast::Hasher::new();
        h.update(&[kind]);
        h.update(data);
        self.bytes.extend_from_slice(&h.finalize().to_le_bytes());
        self.bytes
            .extend_from_slice(&(data.len() as u16).to_le_bytes());
        self.bytes.push(kind);
        self.bytes.extend_from_slice(data);
    }

    /// Appends one record's bytes, split into chunks that never cross a block boundary.
    pub fn append(&mut self, record: &[u8]) {
        let mut rest = record;
        let mut first = true;
        loop {
            let left = self.left_in_block();
            if left < CHUNK_HEADER {
                self.bytes.resize(self.bytes.len() + left, 0);
                continue;
            }
            let room = left - CHUNK_HEADER;
            if rest.len() <= room {
                self.chunk(if first { FULL } else { LAST }, rest);
                return;
            }
            let (now, later) = rest.split_at(room);
            self.chunk(if first { FIRST } else { MIDDLE }, now);
            rest = later;
            first = false;
        }
    }

    /// Appends a record message.
    pub fn append_record(&mut self, record: &pb::Record) {
        self.append(&record.encode_to_vec());
    }

    /// The log's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads a `.wandb` log into its records' bytes, checking the header, the block layout and
/// every chunk's CRC (wandb-core would silently skip a damaged block; this does not).
pub fn read_chunks(file: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>, ExportError> {
    let corrupt = |offset: usize, what: String| ExportError::Corrupt {
        file: file.to_string(),
        offset: offset as u64,
        what,
    };
    let truncated = |offset: usize, what: String| ExportError::Truncated {
        file: file.to_string(),
        offset: offset as u64,
        what,
    };
    if bytes.len() < FILE_HEADER.len() {
        return Err(truncated(
            0,
            "the 7-byte `:W&B` file header is incomplete".into(),
        ));
    }
    if bytes[..4] != FILE_HEADER[..4] {
        return Err(corrupt(
            0,
            "not a W&B log: the file does not start with `:W&B`".into(),
        ));
    }
    if bytes[4..7] != FILE_HEADER[4..7] {
        return Err(corrupt(
            4,
            format!(
                "unsupported magic/version {:02x} {:02x} {:02x} (expected e1 be 00)",
                bytes[4], bytes[5], bytes[6]
            ),
        ));
    }
    let mut records = Vec::new();
    let mut pending: Option<(usize, Vec<u8>)> = None;
    let mut off = FILE_HEADER.len();
    while off < bytes.len() {
        let left = BLOCK_SIZE - off % BLOCK_SIZE;
        if left < CHUNK_HEADER {
            // The block trailer must be zeros.
            let end = (off + left).min(bytes.len());
            if bytes[off..end].iter().any(|b| *b != 0) {
                return Err(corrupt(off, "non-zero bytes in a block trailer".into()));
            }
            off = end;
            continue;
        }
        let Some(h) = bytes.get(off..off + CHUNK_HEADER) else {
            return Err(truncated(off, "chunk header is incomplete".into()));
        };
        let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let len = u16::from_le_bytes([h[4], h[5]]) as usize;
        let kind = h[6];
        if crc == 0 && len == 0 && kind == 0 {
            // Zero padding: skip the rest of the block.
            let end = (off + left).min(bytes.len());
            if bytes[off..end].iter().any(|b| *b != 0) {
                return Err(corrupt(off, "zero chunk header followed by data".into()));
            }
            off = end;
            continue;
        }
        if len > left - CHUNK_HEADER {
            return Err(corrupt(
                off,
                format!("chunk of {len} bytes crosses the block boundary"),
            ));
        }
        let data_start = off + CHUNK_HEADER;
        let Some(data) = bytes.get(data_start..data_start + len) else {
            return Err(truncated(
                off,
                format!(
                    "chunk of {len} bytes but only {} bytes follow its header",
                    bytes.len() - data_start
                ),
            ));
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&[kind]);
        hasher.update(data);
        if hasher.finalize() != crc {
            return Err(corrupt(off, "chunk CRC-32 mismatch".into()));
        }
        match (kind, pending.take()) {
            (FULL, None) => records.push(data.to_vec()),
            (FIRST, None) => pending = Some((off, data.to_vec())),
            (MIDDLE, Some((start, mut buf))) => {
                buf.extend_from_slice(data);
                pending = Some((start, buf));
            }
            (LAST, Some((_, mut buf))) => {
                buf.extend_from_slice(data);
                records.push(buf);
            }
            (FULL | FIRST, Some((start, _))) => {
                return Err(corrupt(
                    start,
                    "a record split over chunks was never finished".into(),
                ));
            }
            (MIDDLE | LAST, None) => {
                return Err(corrupt(
                    off,
                    "continuation chunk without a first chunk".into(),
                ));
            }
            (other, _) => return Err(corrupt(off, format!("unknown chunk type {other}"))),
        }
        off = data_start + len;
    }
    if let Some((start, _)) = pending {
        return Err(truncated(
            start,
            "the last record's chunks end early".into(),
        ));
    }
    Ok(records)
}

/// Reads a `.wandb` log into records (see [`read_chunks`]); every record must decode.
pub fn read_log(file: &str, bytes: &[u8]) -> Result<Vec<pb::Record>, ExportError> {
    let mut out = Vec::new();
    for (i, data) in read_chunks(file, bytes)?.iter().enumerate() {
        let r = pb::Record::decode(data.as_slice()).map_err(|e| ExportError::Corrupt {
            file: file.to_string(),
            offset: 0,
            what: format!("record {} is not a wandb_internal.Record: {e}", i + 1),
        })?;
        out.push(r);
    }
    Ok(out)
}

/// One history row: user keys in order, then `_step`, `_runtime`, `_timestamp`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    /// `_step` (also the record's `step.num`).
    pub step: i64,
    /// `_runtime`: seconds since the run started.
    pub runtime: f64,
    /// `_timestamp`: seconds since the epoch.
    pub timestamp: f64,
    /// The logged values, as `(key, JSON value)`.
    pub items: Vec<(String, Json)>,
}

impl HistoryRow {
    /// All keys of the row, the three `_` keys last, as W&B's SDK writes them.
    pub fn all_items(&self) -> Vec<(String, Json)> {
        let mut items = self.items.clone();
        items.push(("_step".to_string(), Json::Int(self.step)));
        items.push(("_runtime".to_string(), Json::Float(self.runtime)));
        items.push(("_timestamp".to_string(), Json::Float(self.timestamp)));
        items
    }
}

/// Everything one run's log holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLog {
    /// `header.version_info.producer`.
    pub producer: String,
    /// The run id (also in the file and directory names).
    pub run_id: String,
    /// The W&B project.
    pub project: String,
    /// The run group (the study name).
    pub group: String,
    /// The job type (`trial`).
    pub job_type: String,
    /// The display name (`trial-000`).
    pub display_name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Start time, seconds since the epoch.
    pub start_time: f64,
    /// The config (`key`, JSON value).
    pub config: Vec<(String, Json)>,
    /// History rows, `_step` non-decreasing.
    pub history: Vec<HistoryRow>,
    /// The summary (`key`, JSON value).
    pub summary: Vec<(String, Json)>,
    /// The exit record: `(exit_code, runtime seconds)`, or `None` for a run still going.
    pub exit: Option<(i32, i32)>,
}

fn json_text(v: &Json) -> String {
    v.to_python_default()
}

/// Encodes a run as `header, run, history×N, summary, exit, final` with `num` 1, 2, 3, ….
pub fn encode_run(run: &RunLog) -> Vec<u8> {
    use pb::RecordType as R;
    let mut records = vec![
        R::Header(pb::HeaderRecord {
            version_info: Some(pb::VersionInfo {
                producer: run.producer.clone(),
                min_consumer: String::new(),
            }),
        }),
        R::Run(pb::RunRecord {
            run_id: run.run_id.clone(),
            project: run.project.clone(),
            config: Some(pb::ConfigRecord {
                update: run
                    .config
                    .iter()
                    .map(|(k, v)| pb::ConfigItem {
                        key: k.clone(),
                        nested_key: Vec::new(),
                        value_json: json_text(v),
                    })
                    .collect(),
            }),
            run_group: run.group.clone(),
            job_type: run.job_type.clone(),
            display_name: run.display_name.clone(),
            tags: run.tags.clone(),
            start_time: Some(timestamp(run.start_time)),
            ..Default::default()
        }),
    ];
    for row in &run.history {
        records.push(R::History(pb::HistoryRecord {
            item: row
                .all_items()
                .iter()
                .map(|(k, v)| pb::HistoryItem {
                    key: k.clone(),
                    nested_key: Vec::new(),
                    value_json: json_text(v),
                })
                .collect(),
            step: Some(pb::HistoryStep { num: row.step }),
        }));
    }
    records.push(R::Summary(pb::SummaryRecord {
        update: run
            .summary
            .iter()
            .map(|(k, v)| pb::SummaryItem {
                key: k.clone(),
                nested_key: Vec::new(),
                value_json: json_text(v),
            })
            .collect(),
    }));
    if let Some((exit_code, runtime)) = run.exit {
        records.push(R::Exit(pb::RunExitRecord { exit_code, runtime }));
    }
    records.push(R::Final(pb::FinalRecord {}));
    let mut log = LogWriter::new();
    for (i, r) in records.into_iter().enumerate() {
        log.append_record(&pb::Record {
            num: i as i64 + 1,
            record_type: Some(r),
        });
    }
    log.into_bytes()
}

fn timestamp(secs: f64) -> pb::Timestamp {
    let s = secs.floor();
    let nanos = ((secs - s) * 1e9).round().clamp(0.0, 999_999_999.0) as i32;
    pb::Timestamp {
        seconds: s as i64,
        nanos,
    }
}

/// The directory of a run: `offline-run-YYYYMMDD_HHMMSS-<id>` (UTC).
pub fn run_dir_name(start_time: f64, run_id: &str) -> String {
    let t = OffsetDateTime::from_unix_timestamp(start_time.floor() as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let f = format_description!("[year][month][day]_[hour][minute][second]");
    let stamp = t
        .format(&f)
        .unwrap_or_else(|_| "19700101_000000".to_string());
    format!("offline-run-{stamp}-{run_id}")
}

/// A run id for a trial: a short hash of the study name (so two studies exported into one
/// project do not collide) and the trial number, e.g. `k3x9qa-trial007`. Only `[a-z0-9-]`.
pub fn run_id(study_name: &str, number: u64) -> String {
    let mut h = crc32fast::hash(study_name.as_bytes());
    let mut s = String::new();
    for _ in 0..6 {
        let d = (h % 36) as u8;
        s.push(if d < 10 {
            (b'0' + d) as char
        } else {
            (b'a' + d - 10) as char
        });
        h /= 36;
    }
    format!("{s}-trial{number:03}")
}

/// `h` as a W&B histogram item: `{"_type": "histogram", "values": counts, "bins": edges}`
/// (what `wandb.Histogram` writes; `bins` has one edge more than `values`).
pub fn histogram_json(h: &crate::histogram::Histogram) -> Json {
    crate::json::obj([
        ("_type", Json::Str("histogram".into())),
        (
            "values",
            Json::Array(h.counts.iter().map(|&c| Json::Int(c as i64)).collect()),
        ),
        (
            "bins",
            Json::Array(h.edges().into_iter().map(Json::Float).collect()),
        ),
    ])
}

/// A study's trials as W&B offline runs (see the module documentation).
pub fn offline_runs(study: &StudyRecord, options: &ExportOptions) -> Vec<ExportFile> {
    let t0 = study_start(study);
    let objective = objective_tags(study);
    started_trials(study)
        .map(|t| run_file(study, t, t0, &objective, options))
        .collect()
}

/// Trial `t`'s offline run, in a study that started at `t0` (Unix seconds) and whose
/// objective logs as `objective`.
pub(crate) fn run_file(
    study: &StudyRecord,
    t: &FrozenTrial,
    t0: f64,
    objective: &[String],
    options: &ExportOptions,
) -> ExportFile {
    let start = trial_start(t, t0);
    let end = trial_end(t, start);
    let mut rows: BTreeMap<i64, HistoryRow> = BTreeMap::new();
    for p in trial_points(study, t, start, end) {
        let row = rows.entry(p.step).or_insert_with(|| HistoryRow {
            step: p.step,
            runtime: 0.0,
            timestamp: p.wall,
            items: Vec::new(),
        });
        row.timestamp = row.timestamp.max(p.wall);
        row.runtime = row.timestamp - start;
        match row.items.iter_mut().find(|(k, _)| *k == p.tag) {
            Some(slot) => slot.1 = Json::Float(p.value),
            None => row.items.push((p.tag, Json::Float(p.value))),
        }
    }
    // A language-model trial's text samples, in the row of the evaluation that wrote each.
    for (epoch, prompt, text) in crate::trial::text_samples(t) {
        let row = rows.entry(epoch).or_insert_with(|| HistoryRow {
            step: epoch,
            runtime: end - start,
            timestamp: end,
            items: Vec::new(),
        });
        row.items.push((
            crate::export::tensorboard::SAMPLES_TEXT_TAG.to_string(),
            Json::Str(format!("{prompt}{text}")),
        ));
    }
    // Weight and gradient histograms in the row of their epoch, as `wandb.watch` logs
    // them (`{"_type": "histogram", "values", "bins"}`, 64 bins).
    for (tag, points) in crate::histogram::trial_histograms(t) {
        for p in points {
            let wall = if p.wall_time > 0.0 { p.wall_time } else { end };
            let row = rows.entry(p.step).or_insert_with(|| HistoryRow {
                step: p.step,
                runtime: wall - start,
                timestamp: wall,
                items: Vec::new(),
            });
            row.items.push((tag.clone(), histogram_json(&p.histogram)));
        }
    }
    let history: Vec<HistoryRow> = rows.into_values().collect();
    let mut summary: Vec<(String, Json)> = Vec::new();
    for row in &history {
        for (k, v) in row.all_items() {
            match summary.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => summary.push((k, v)),
            }
        }
    }
    if let Some(values) = &t.values {
        for (tag, v) in objective.iter().zip(values) {
            if !summary.iter().any(|(k, _)| k == tag) {
                summary.push((tag.clone(), Json::Float(*v)));
            }
        }
    }
    summary.push(("trial_state".to_string(), Json::Str(t.state.name().into())));
    let exit = match t.state {
        TrialState::Complete | TrialState::Pruned => Some(0),
        TrialState::Fail => Some(1),
        TrialState::Running | TrialState::Waiting => None,
    }
    .map(|code| (code, (end - start).max(0.0).round() as i32));
    let id = run_id(&study.name, t.number);
    let run = RunLog {
        producer: options.producer.clone(),
        run_id: id.clone(),
        project: options.wandb_project.clone(),
        group: study.name.clone(),
        job_type: "trial".to_string(),
        display_name: trial_run_name(t),
        tags: vec!["sweeplab".to_string()],
        start_time: start,
        // The trial's parameters, then where it trained (`sweeplab/backend`, …).
        config: t
            .params()
            .keys()
            .map(|k| (k.clone(), param_json(t, k)))
            .chain(
                crate::trial::run_config(t)
                    .into_iter()
                    .map(|(k, v)| (format!("sweeplab/{k}"), Json::Str(v))),
            )
            .collect(),
        history,
        summary,
        exit,
    };
    ExportFile {
        path: format!("wandb/{}/run-{id}.wandb", run_dir_name(start, &id)),
        bytes: encode_run(&run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_records_split_into_first_middle_last_and_read_back() {
        let mut log = LogWriter::new();
        let small = vec![7u8; 100];
        let big: Vec<u8> = (0..80_000u32).map(|i| (i % 251) as u8).collect();
        log.append(&small);
        log.append(&big);
        log.append(&small);
        let bytes = log.into_bytes();
        // header + chunk(100) + FIRST filling block 0 + MIDDLE (block 1) + LAST (block 2)
        assert_eq!(bytes[7 + 6], FULL);
        let first = 7 + 7 + 100;
        assert_eq!(bytes[first + 6], FIRST);
        assert_eq!(bytes[BLOCK_SIZE + 6], MIDDLE);
        assert_eq!(bytes[2 * BLOCK_SIZE + 6], LAST);
        let records = read_chunks("t.wandb", &bytes).unwrap();
        assert_eq!(records, vec![small.clone(), big, small]);
    }

    #[test]
    fn block_trailers_are_zero_filled() {
        let mut log = LogWriter::new();
        // Leave exactly 3 bytes in block 0: 7 (header) + 7 + n = 32765.
        let n = BLOCK_SIZE - 3 - 14;
        log.append(&vec![1u8; n]);
        log.append(b"next");
        let bytes = log.into_bytes();
        assert_eq!(&bytes[BLOCK_SIZE - 3..BLOCK_SIZE], &[0, 0, 0]);
        assert_eq!(bytes[BLOCK_SIZE + 6], FULL);
        let records = read_chunks("t", &bytes).unwrap();
        assert_eq!(records[1], b"next");
    }

    #[test]
    fn reader_names_file_and_offset() {
        let mut log = LogWriter::new();
        log.append(b"hello");
        log.append(b"world");
        let bytes = log.into_bytes();
        let mut bad = bytes.clone();
        bad[7 + 7 + 5 + 7 + 2] ^= 0x20;
        let err = read_chunks("run-x.wandb", &bad).unwrap_err();
        assert!(
            matches!(&err, ExportError::Corrupt { offset: 19, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("run-x.wandb"));
        let err = read_chunks("run-x.wandb", &bytes[..bytes.len() - 2]).unwrap_err();
        assert!(
            matches!(err, ExportError::Truncated { offset: 19, .. }),
            "{err:?}"
        );
        let err = read_chunks("f", b":W&B\xe1\xbe\x01").unwrap_err();
        assert!(err.to_string().contains("unsupported"), "{err}");
        let err = read_chunks("f", b"PK\x03\x04abc").unwrap_err();
        assert!(err.to_string().contains("`:W&B`"), "{err}");
    }

    #[test]
    fn run_ids_are_valid_wandb_ids() {
        let id = run_id("my study: v2", 7);
        assert!(id.ends_with("-trial007"));
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(run_id("a", 0), run_id("b", 0));
    }
}
