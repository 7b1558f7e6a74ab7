//! TensorBoard event files: TFRecord framing with masked CRC32C, `tensorboard.Event`
//! protobufs, scalars in the TF2 tensor form, and the HParams plugin's summaries.
//!
//! [`EventFile`] builds one event file record by record (any content: scalars, text,
//! histograms, hparams); [`logdir`] lays out a whole study as the HParams tab expects: the
//! root run `.` holds `_hparams_/experiment`, and one run `trial-NNN/` per trial holds
//! `_hparams_/session_start_info` (the params), every metric series, the intermediate
//! values and the objective as scalars, and `_hparams_/session_end_info` (the status).
//! [`read_events`] reads a file back, naming the byte offset of any damage.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::proto::hparams as hp;
use super::proto::tb;
use super::{
    ExportError, ExportFile, ExportOptions, INTERMEDIATE_TAG, objective_tags, started_trials,
    study_start, trial_end, trial_points, trial_run_name, trial_start,
};
use crate::distributions::{Distribution, ParamValue};
use crate::storage::journal::StudyRecord;
use crate::trial::{FrozenTrial, TrialState};

/// The `file_version` every modern writer puts in the first record.
pub const FILE_VERSION: &str = "brain.Event:2";
/// Tag of the experiment summary (root run).
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// Tag of a session's start summary (its presence makes a run a session).
pub const SESSION_START_TAG: &str = "_hparams_/session_start_info";
/// Tag of a session's end summary.
pub const SESSION_END_TAG: &str = "_hparams_/session_end_info";
/// Tag of the text summary holding a trial's Optuna state.
pub const STATE_TEXT_TAG: &str = "trial/state";
/// The tag of a language-model trial's text samples.
pub const SAMPLES_TEXT_TAG: &str = "samples/text";

/// LevelDB's CRC mask, as TFRecord uses it: rotate right by 15, add `0xa282ead8`.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Appends one TFRecord: length, masked CRC of the length, data, masked CRC of the data.
pub fn write_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Checks that `crc` (4 bytes, little-endian) is the masked CRC-32C of `data`; else the file
/// is corrupt at `offset`, as `what` says.
fn check_crc(
    file: &str,
    offset: usize,
    data: &[u8],
    crc: &[u8],
    what: &str,
) -> Result<(), ExportError> {
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if masked_crc32c(data) != want {
        return Err(ExportError::Corrupt {
            file: file.to_string(),
            offset: offset as u64,
            what: what.to_string(),
        });
    }
    Ok(())
}

/// Splits a TFRecord file into its records' data, checking both CRCs of every record.
pub fn read_records<'a>(file: &str, bytes: &'a [u8]) -> Result<Vec<&'a [u8]>, ExportError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < bytes.len() {
        let header = bytes
            .get(off..off + 12)
            .ok_or_else(|| ExportError::Truncated {
                file: file.to_string(),
                offset: off as u64,
                what: format!("record header needs 12 bytes, {} left", bytes.len() - off),
            })?;
        let (len_bytes, len_crc) = header.split_at(8);
        check_crc(file, off, len_bytes, len_crc, "bad length CRC")?;
        let mut lb = [0u8; 8];
        lb.copy_from_slice(len_bytes);
        let len = u64::from_le_bytes(lb);
        let data_start = off + 12;
        let data_end = usize::try_from(len)
            .ok()
            .and_then(|l| data_start.checked_add(l))
            .filter(|e| e.checked_add(4).is_some_and(|e4| e4 <= bytes.len()))
            .ok_or_else(|| ExportError::Truncated {
                file: file.to_string(),
                offset: off as u64,
                what: format!(
                    "record of {len} bytes (+4 CRC) but only {} bytes follow its header",
                    bytes.len() - data_start
                ),
            })?;
        let data = &bytes[data_start..data_end];
        let crc = &bytes[data_end..data_end + 4];
        check_crc(file, data_start, data, crc, "bad data CRC")?;
        out.push(data);
        off = data_end + 4;
    }
    Ok(out)
}

/// Reads an event file: every record framed and CRC-checked, every payload a valid Event,
/// the first one the `file_version` record.
pub fn read_events(file: &str, bytes: &[u8]) -> Result<Vec<tb::Event>, ExportError> {
    let mut events = Vec::new();
    let mut off = 0u64;
    for data in read_records(file, bytes)? {
        let ev = tb::Event::decode(data).map_err(|e| ExportError::Corrupt {
            file: file.to_string(),
            offset: off + 12,
            what: format!("record is not a tensorboard.Event: {e}"),
        })?;
        if events.is_empty() && !matches!(ev.what, Some(tb::EventWhat::FileVersion(_))) {
            return Err(ExportError::Corrupt {
                file: file.to_string(),
                offset: 12,
                what: "the first record is not the file_version record".to_string(),
            });
        }
        events.push(ev);
        off += data.len() as u64 + 16;
    }
    Ok(events)
}

/// The summary metadata of a TF2 scalar.
fn scalar_metadata() -> tb::SummaryMetadata {
    tb::SummaryMetadata {
        plugin_data: Some(tb::PluginData {
            plugin_name: "scalars".to_string(),
            content: Vec::new(),
        }),
        data_class: tb::DATA_CLASS_SCALAR,
        ..Default::default()
    }
}

/// A TF2 scalar value (`DT_FLOAT`, rank 0, one `float_val`); TensorBoard scalars are f32.
pub fn scalar_value(tag: &str, value: f64, with_metadata: bool) -> tb::SummaryValue {
    tb::SummaryValue {
        tag: tag.to_string(),
        value: Some(tb::ValueKind::Tensor(tb::TensorProto {
            dtype: tb::DT_FLOAT,
            tensor_shape: Some(tb::TensorShapeProto::default()),
            float_val: vec![value as f32],
            ..Default::default()
        })),
        metadata: with_metadata.then(scalar_metadata),
    }
}

/// A TF1 scalar (`simple_value`, no metadata).
pub fn simple_scalar_value(tag: &str, value: f64) -> tb::SummaryValue {
    tb::SummaryValue {
        tag: tag.to_string(),
        value: Some(tb::ValueKind::SimpleValue(value as f32)),
        metadata: None,
    }
}

/// A text summary: one markdown string (a rank-0 `DT_STRING` tensor, plugin `text`).
pub fn text_value(tag: &str, markdown: &str) -> tb::SummaryValue {
    tb::SummaryValue {
        tag: tag.to_string(),
        value: Some(tb::ValueKind::Tensor(tb::TensorProto {
            dtype: tb::DT_STRING,
            tensor_shape: Some(tb::TensorShapeProto::default()),
            string_val: vec![markdown.as_bytes().to_vec()],
            ..Default::default()
        })),
        metadata: Some(tb::SummaryMetadata {
            plugin_data: Some(tb::PluginData {
                plugin_name: "text".to_string(),
                content: Vec::new(),
            }),
            data_class: tb::DATA_CLASS_TENSOR,
            ..Default::default()
        }),
    }
}

/// `h` as a `HistogramProto` with PyTorch's right-edge buckets
/// ([`crate::histogram::Histogram::bucket_limits`]).
pub fn histogram_proto(h: &crate::histogram::Histogram) -> tb::HistogramProto {
    let (bucket_limit, bucket) = h.bucket_limits();
    tb::HistogramProto {
        min: h.min,
        max: h.max,
        num: h.num as f64,
        sum: h.sum,
        sum_squares: h.sum_squares,
        bucket_limit,
        bucket,
    }
}

/// A legacy histogram value (`Summary.Value.histo`), which both loaders convert.
pub fn histogram_value(tag: &str, histo: tb::HistogramProto) -> tb::SummaryValue {
    tb::SummaryValue {
        tag: tag.to_string(),
        value: Some(tb::ValueKind::Histo(histo)),
        metadata: None,
    }
}

/// An HParams plugin summary value: the null tensor with the plugin data as metadata.
pub fn hparams_value(tag: &str, data: hp::PluginDataKind) -> tb::SummaryValue {
    let content = hp::HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    tb::SummaryValue {
        tag: tag.to_string(),
        value: Some(tb::ValueKind::Tensor(tb::TensorProto {
            dtype: tb::DT_FLOAT,
            tensor_shape: Some(tb::TensorShapeProto {
                dim: vec![tb::TensorShapeDim { size: 0 }],
            }),
            ..Default::default()
        })),
        metadata: Some(tb::SummaryMetadata {
            plugin_data: Some(tb::PluginData {
                plugin_name: "hparams".to_string(),
                content,
            }),
            data_class: tb::DATA_CLASS_TENSOR,
            ..Default::default()
        }),
    }
}

/// One event file being built: records are appended in order.
#[derive(Clone, Debug)]
pub struct EventFile {
    bytes: Vec<u8>,
    tags_seen: BTreeSet<String>,
}

impl EventFile {
    /// A file that starts with the `file_version` record at `wall_time`.
    pub fn new(wall_time: f64) -> Self {
        let mut f = EventFile {
            bytes: Vec::new(),
            tags_seen: BTreeSet::new(),
        };
        f.push(&tb::Event {
            wall_time,
            step: 0,
            what: Some(tb::EventWhat::FileVersion(FILE_VERSION.to_string())),
        });
        f
    }

    /// Appends an event.
    pub fn push(&mut self, event: &tb::Event) {
        write_record(&mut self.bytes, &event.encode_to_vec());
    }

    /// Appends a summary event with the given values.
    pub fn push_summary(&mut self, wall_time: f64, step: i64, values: Vec<tb::SummaryValue>) {
        self.push(&tb::Event {
            wall_time,
            step,
            what: Some(tb::EventWhat::Summary(tb::Summary { value: values })),
        });
    }

    /// Appends an HParams plugin summary (at step 0) tagged `tag`: the session start or end.
    pub fn push_hparams(&mut self, wall_time: f64, tag: &str, data: hp::PluginDataKind) {
        self.push_summary(wall_time, 0, vec![hparams_value(tag, data)]);
    }

    /// Appends TF2 scalars logged together; the `scalars` metadata goes on the first value
    /// of each tag in this file only, as TensorBoard's writers do.
    pub fn push_scalars(&mut self, wall_time: f64, step: i64, values: &[(&str, f64)]) {
        let vals = values
            .iter()
            .map(|(tag, v)| {
                let first = self.tags_seen.insert((*tag).to_string());
                scalar_value(tag, *v, first)
            })
            .collect();
        self.push_summary(wall_time, step, vals);
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The conventional event-file name: `events.out.tfevents.<%010d secs>.<host>.0.0`.
pub fn event_file_name(wall_time: f64, host: &str) -> String {
    let host: String = host
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    format!(
        "events.out.tfevents.{:010}.{host}.0.0",
        wall_time.max(0.0).floor() as u64
    )
}

/// An hparam's type and domain, merged over the trials' distributions.
#[derive(Clone, Debug, PartialEq)]
enum Domain {
    Interval(f64, f64),
    Strings(Vec<String>),
    Bools(Vec<bool>),
    Numbers(Vec<f64>),
}

fn categorical_domain(choices: &[ParamValue]) -> Domain {
    if choices.iter().all(|c| matches!(c, ParamValue::Bool(_))) {
        Domain::Bools(
            choices
                .iter()
                .filter_map(|c| match c {
                    ParamValue::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect(),
        )
    } else if choices
        .iter()
        .all(|c| matches!(c, ParamValue::Int(_) | ParamValue::Float(_)))
    {
        Domain::Numbers(choices.iter().filter_map(ParamValue::as_f64).collect())
    } else {
        Domain::Strings(choices.iter().map(|c| c.to_string()).collect())
    }
}

fn merge_domain(old: Option<Domain>, dist: &Distribution) -> Domain {
    let new = match dist {
        Distribution::Float(f) => Domain::Interval(f.low, f.high),
        Distribution::Int(i) => Domain::Interval(i.low as f64, i.high as f64),
        Distribution::Categorical(c) => categorical_domain(&c.choices),
    };
    match (old, new) {
        (Some(Domain::Interval(a, b)), Domain::Interval(c, d)) => {
            Domain::Interval(a.min(c), b.max(d))
        }
        (Some(old), _) => old,
        (None, new) => new,
    }
}

/// An hparam value as TensorBoard wants it for the domain's type.
fn hparam_value(domain: &Domain, v: &ParamValue) -> hp::Value {
    let kind = match (domain, v) {
        (Domain::Bools(_), ParamValue::Bool(b)) => hp::ValueKind::BoolValue(*b),
        (Domain::Strings(_), v) => hp::ValueKind::StringValue(v.to_string()),
        (_, v) => match v.as_f64() {
            Some(x) => hp::ValueKind::NumberValue(x),
            None => hp::ValueKind::StringValue(v.to_string()),
        },
    };
    hp::Value { kind: Some(kind) }
}

fn hparam_info(name: &str, domain: &Domain) -> hp::HParamInfo {
    let list = |values: Vec<hp::ValueKind>| {
        hp::Domain::DomainDiscrete(hp::ListValue {
            values: values
                .into_iter()
                .map(|k| hp::Value { kind: Some(k) })
                .collect(),
        })
    };
    let (ty, dom) = match domain {
        Domain::Interval(lo, hi) => (
            hp::DATA_TYPE_FLOAT64,
            hp::Domain::DomainInterval(hp::Interval {
                min_value: *lo,
                max_value: *hi,
            }),
        ),
        Domain::Strings(s) => (
            hp::DATA_TYPE_STRING,
            list(s.iter().cloned().map(hp::ValueKind::StringValue).collect()),
        ),
        Domain::Bools(b) => (
            hp::DATA_TYPE_BOOL,
            list(b.iter().copied().map(hp::ValueKind::BoolValue).collect()),
        ),
        Domain::Numbers(n) => (
            hp::DATA_TYPE_FLOAT64,
            list(n.iter().copied().map(hp::ValueKind::NumberValue).collect()),
        ),
    };
    hp::HParamInfo {
        name: name.to_string(),
        r#type: ty,
        domain: Some(dom),
        ..Default::default()
    }
}

/// The `_hparams_/experiment` plugin data.
pub fn experiment(
    time_created_secs: f64,
    hparam_infos: Vec<hp::HParamInfo>,
    metric_tags: &[String],
) -> hp::PluginDataKind {
    hp::PluginDataKind::Experiment(hp::Experiment {
        time_created_secs,
        hparam_infos,
        metric_infos: metric_tags
            .iter()
            .map(|tag| hp::MetricInfo {
                name: Some(hp::MetricName {
                    group: String::new(),
                    tag: tag.clone(),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// The HParams status of a trial state.
pub fn status_of(state: TrialState) -> i32 {
    match state {
        TrialState::Complete => hp::STATUS_SUCCESS,
        TrialState::Fail => hp::STATUS_FAILURE,
        TrialState::Running | TrialState::Waiting => hp::STATUS_RUNNING,
        // TensorBoard has no "stopped early" status; the text `trial/state` says PRUNED.
        TrialState::Pruned => hp::STATUS_UNKNOWN,
    }
}

/// What every file of a study's logdir depends on besides its own trial: the study's start
/// (the event files' name and first record), the hparams' domains over all trials, and the
/// objective's tags. [`LogdirContext::trial_file`] and [`LogdirContext::root_file`] build
/// the logdir piece by piece, so that a live writer re-encodes only the trials that changed
/// while the context stays the same (`export::fs::SweepLogs`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LogdirContext {
    t0: f64,
    file_name: String,
    domains: BTreeMap<String, Domain>,
    objective: Vec<String>,
}

impl LogdirContext {
    /// The context of `study`'s logdir.
    pub(crate) fn new(study: &StudyRecord, options: &ExportOptions) -> Self {
        let t0 = study_start(study);
        let mut domains: BTreeMap<String, Domain> = BTreeMap::new();
        for t in started_trials(study) {
            for (name, dist, _) in t.params_internal() {
                let merged = merge_domain(domains.remove(name), dist);
                domains.insert(name.to_string(), merged);
            }
        }
        LogdirContext {
            t0,
            file_name: event_file_name(t0, &options.host),
            domains,
            objective: objective_tags(study),
        }
    }

    /// Trial `t`'s event file (in its run's folder), and the metric tags it logs.
    pub(crate) fn trial_file(
        &self,
        study: &StudyRecord,
        t: &FrozenTrial,
    ) -> (ExportFile, Vec<String>) {
        let t0 = self.t0;
        let start = trial_start(t, t0);
        let end = trial_end(t, start);
        let run = trial_run_name(t);
        let mut f = EventFile::new(t0);
        let hparams = self
            .domains
            .iter()
            .filter_map(|(name, dom)| Some((name.clone(), hparam_value(dom, &t.param(name)?))))
            .collect();
        let session = hp::SessionStartInfo {
            hparams,
            group_name: run.clone(),
            start_time_secs: start,
            ..Default::default()
        };
        f.push_hparams(
            start,
            SESSION_START_TAG,
            hp::PluginDataKind::SessionStartInfo(session),
        );
        let points = trial_points(study, t, start, end);
        let mut i = 0;
        while i < points.len() {
            let (step, wall) = (points[i].step, points[i].wall);
            let mut j = i;
            while j < points.len() && points[j].step == step && points[j].wall == wall {
                j += 1;
            }
            let group: Vec<(&str, f64)> = points[i..j]
                .iter()
                .map(|p| (p.tag.as_str(), p.value))
                .collect();
            f.push_scalars(wall, step, &group);
            i = j;
        }
        let mut metric_tags: Vec<String> = Vec::new();
        for p in &points {
            if !metric_tags.contains(&p.tag) {
                metric_tags.push(p.tag.clone());
            }
        }
        // A language-model trial's text samples, at the evaluation that wrote each (its
        // val/loss point's time), in the Text tab.
        for (epoch, prompt, text) in crate::trial::text_samples(t) {
            let wall = points
                .iter()
                .find(|p| p.step == epoch && p.tag == "val/loss")
                .map_or(end, |p| p.wall);
            let markdown = format!("```\n{prompt}{text}\n```");
            f.push_summary(wall, epoch, vec![text_value(SAMPLES_TEXT_TAG, &markdown)]);
        }
        // Weight and gradient histograms, one event per epoch, as PyTorch's SummaryWriter
        // writes them (the Histograms and Distributions tabs).
        let mut epochs: BTreeMap<i64, (f64, Vec<tb::SummaryValue>)> = BTreeMap::new();
        for (tag, points) in crate::histogram::trial_histograms(t) {
            for p in points {
                let wall = if p.wall_time > 0.0 { p.wall_time } else { end };
                let entry = epochs.entry(p.step).or_insert((wall, Vec::new()));
                entry
                    .1
                    .push(histogram_value(&tag, histogram_proto(&p.histogram)));
            }
        }
        for (step, (wall, values)) in epochs {
            f.push_summary(wall, step, values);
        }
        f.push_summary(end, 0, vec![text_value(STATE_TEXT_TAG, t.state.name())]);
        let end_time_secs = if t.state.is_finished() { end } else { 0.0 };
        let session = hp::SessionEndInfo {
            status: status_of(t.state),
            end_time_secs,
        };
        f.push_hparams(
            end,
            SESSION_END_TAG,
            hp::PluginDataKind::SessionEndInfo(session),
        );
        let file = ExportFile {
            path: format!("{run}/{}", self.file_name),
            bytes: f.into_bytes(),
        };
        (file, metric_tags)
    }

    /// The logdir's top event file: the hparams experiment, over the metric tags the
    /// trials log (each at most once, in any order).
    pub(crate) fn root_file<'a>(&self, tags: impl IntoIterator<Item = &'a String>) -> ExportFile {
        // Metrics: the objective(s) first, then the intermediate values, then the series.
        let objective = &self.objective;
        let mut metric_tags: Vec<String> = tags.into_iter().cloned().collect();
        metric_tags.sort_by_key(|tag| {
            let rank = match objective.iter().position(|o| o == tag) {
                Some(i) => i,
                None if tag == INTERMEDIATE_TAG => objective.len(),
                None => objective.len() + 1,
            };
            (rank, tag.clone())
        });
        metric_tags.dedup();
        let infos = self
            .domains
            .iter()
            .map(|(name, dom)| hparam_info(name, dom))
            .collect();
        let mut root = EventFile::new(self.t0);
        root.push_summary(
            self.t0,
            0,
            vec![hparams_value(
                EXPERIMENT_TAG,
                experiment(self.t0, infos, &metric_tags),
            )],
        );
        ExportFile {
            path: self.file_name.clone(),
            bytes: root.into_bytes(),
        }
    }
}

/// A study as a TensorBoard logdir (see the module documentation).
pub fn logdir(study: &StudyRecord, options: &ExportOptions) -> Vec<ExportFile> {
    let context = LogdirContext::new(study, options);
    let mut files = Vec::new();
    let mut metric_tags: Vec<String> = Vec::new();
    for t in started_trials(study) {
        let (file, tags) = context.trial_file(study, t);
        files.push(file);
        for tag in tags {
            if !metric_tags.contains(&tag) {
                metric_tags.push(tag);
            }
        }
    }
    files.insert(0, context.root_file(&metric_tags));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    // The check value of CRC32C, and masked CRCs as TensorBoard's own `masked_crc32c`
    // computes them.
    #[test]
    fn masked_crc_matches_the_reference_vectors() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc32c(&24u64.to_le_bytes()), 0x224b_7fa3);
        assert_eq!(masked_crc32c(b"\x1a\x11CRC test, one two"), 0x5794_d08a);
        let zeros = [0u8; 32];
        let crc = 0x8a91_36aau32;
        assert_eq!(
            masked_crc32c(&zeros),
            crc.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    // The bytes TensorBoard's writer produces for `Event{wall_time: 1.7e9, file_version}`.
    #[test]
    fn file_version_record_is_the_reference_bytes() {
        let f = EventFile::new(1_700_000_000.0).into_bytes();
        let data = [
            0x09, 0x00, 0x00, 0x00, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x1a, 0x0d, b'b', b'r', b'a',
            b'i', b'n', b'.', b'E', b'v', b'e', b'n', b't', b':', b'2',
        ];
        assert_eq!(&f[12..36], &data);
        assert_eq!(&f[36..40], &0x9d8f_edecu32.to_le_bytes());
    }

    #[test]
    fn reader_reports_offsets_of_damage() {
        let mut f = EventFile::new(1.0);
        f.push_scalars(2.0, 1, &[("loss", 0.5)]);
        let bytes = f.into_bytes();
        assert_eq!(read_events("x", &bytes).unwrap().len(), 2);
        let second = 16 + 24;
        // Truncated in the second record's data.
        match read_events("x", &bytes[..bytes.len() - 3]) {
            Err(ExportError::Truncated { file, offset, .. }) => {
                assert_eq!(file, "x");
                assert_eq!(offset, second as u64);
            }
            other => panic!("expected truncation, got {other:?}"),
        }
        // A flipped data byte.
        let mut bad = bytes.clone();
        bad[second + 14] ^= 0x40;
        match read_events("x", &bad) {
            Err(ExportError::Corrupt { offset, what, .. }) => {
                assert_eq!(offset, second as u64 + 12);
                assert!(what.contains("data CRC"), "{what}");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        // A flipped length byte.
        let mut bad = bytes;
        bad[second] ^= 1;
        let err = read_events("y.tfevents", &bad).unwrap_err().to_string();
        assert!(
            err.contains("y.tfevents") && err.contains("length CRC"),
            "{err}"
        );
    }
}
