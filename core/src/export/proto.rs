//! The protobuf messages the exporters write, declared by hand with `prost` (no protoc).
//!
//! Only the fields sweeplab writes or checks are declared; unknown fields of foreign files
//! are skipped by prost when decoding. Field numbers follow the public `.proto` files
//! (tensorboard `event.proto`, `summary.proto`, `tensor.proto`, the hparams plugin's
//! `api.proto`/`plugin_data.proto`, `google/protobuf/struct.proto`, and wandb's
//! `wandb_internal.proto`), as listed in the export spec. prost writes fields in ascending
//! field number and omits proto3 defaults, which is protobuf's deterministic serialization.

#![allow(missing_docs)]
// The message fields mirror the .proto files; their meaning is documented there and in the
// export spec, so they are not documented one by one here.

/// `tensorboard` package: events, summaries and tensors.
pub mod tb {
    /// `tensorboard.Event`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        #[prost(double, tag = "1")]
        pub wall_time: f64,
        #[prost(int64, tag = "2")]
        pub step: i64,
        #[prost(oneof = "EventWhat", tags = "3, 5")]
        pub what: Option<EventWhat>,
    }

    /// The `what` oneof of [`Event`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum EventWhat {
        #[prost(string, tag = "3")]
        FileVersion(String),
        #[prost(message, tag = "5")]
        Summary(Summary),
    }

    /// `tensorboard.Summary`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<SummaryValue>,
    }

    /// `tensorboard.Summary.Value`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryValue {
        #[prost(string, tag = "1")]
        pub tag: String,
        #[prost(oneof = "ValueKind", tags = "2, 5, 8")]
        pub value: Option<ValueKind>,
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<SummaryMetadata>,
    }

    /// The `value` oneof of [`SummaryValue`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ValueKind {
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        #[prost(message, tag = "5")]
        Histo(HistogramProto),
        #[prost(message, tag = "8")]
        Tensor(TensorProto),
    }

    /// `tensorboard.SummaryMetadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryMetadata {
        #[prost(message, optional, tag = "1")]
        pub plugin_data: Option<PluginData>,
        #[prost(string, tag = "2")]
        pub display_name: String,
        #[prost(string, tag = "3")]
        pub summary_description: String,
        #[prost(int32, tag = "4")]
        pub data_class: i32,
    }

    /// `tensorboard.SummaryMetadata.PluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
    }

    /// `DataClass` values.
    pub const DATA_CLASS_SCALAR: i32 = 1;
    /// `DataClass` values.
    pub const DATA_CLASS_TENSOR: i32 = 2;

    /// `tensorboard.HistogramProto`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistogramProto {
        #[prost(double, tag = "1")]
        pub min: f64,
        #[prost(double, tag = "2")]
        pub max: f64,
        #[prost(double, tag = "3")]
        pub num: f64,
        #[prost(double, tag = "4")]
        pub sum: f64,
        #[prost(double, tag = "5")]
        pub sum_squares: f64,
        #[prost(double, repeated, tag = "6")]
        pub bucket_limit: Vec<f64>,
        #[prost(double, repeated, tag = "7")]
        pub bucket: Vec<f64>,
    }

    /// `tensorboard.TensorProto` (the fields sweeplab uses).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        #[prost(int32, tag = "1")]
        pub dtype: i32,
        #[prost(message, optional, tag = "2")]
        pub tensor_shape: Option<TensorShapeProto>,
        #[prost(bytes = "vec", tag = "4")]
        pub tensor_content: Vec<u8>,
        #[prost(float, repeated, tag = "5")]
        pub float_val: Vec<f32>,
        #[prost(double, repeated, tag = "6")]
        pub double_val: Vec<f64>,
        #[prost(bytes = "vec", repeated, tag = "8")]
        pub string_val: Vec<Vec<u8>>,
    }

    /// `DataType` values.
    pub const DT_FLOAT: i32 = 1;
    /// `DataType` values.
    pub const DT_STRING: i32 = 7;

    /// `tensorboard.TensorShapeProto`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeProto {
        #[prost(message, repeated, tag = "2")]
        pub dim: Vec<TensorShapeDim>,
    }

    /// `tensorboard.TensorShapeProto.Dim`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeDim {
        #[prost(int64, tag = "1")]
        pub size: i64,
    }
}

/// `tensorboard.hparams` package and the `google.protobuf` struct types it uses.
pub mod hparams {
    /// `tensorboard.hparams.HParamsPluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HParamsPluginData {
        #[prost(int32, tag = "1")]
        pub version: i32,
        #[prost(oneof = "PluginDataKind", tags = "2, 3, 4")]
        pub data: Option<PluginDataKind>,
    }

    /// The `data` oneof of [`HParamsPluginData`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum PluginDataKind {
        #[prost(message, tag = "2")]
        Experiment(Experiment),
        #[prost(message, tag = "3")]
        SessionStartInfo(SessionStartInfo),
        #[prost(message, tag = "4")]
        SessionEndInfo(SessionEndInfo),
    }

    /// `tensorboard.hparams.Experiment`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Experiment {
        #[prost(string, tag = "1")]
        pub description: String,
        #[prost(string, tag = "2")]
        pub user: String,
        #[prost(double, tag = "3")]
        pub time_created_secs: f64,
        #[prost(message, repeated, tag = "4")]
        pub hparam_infos: Vec<HParamInfo>,
        #[prost(message, repeated, tag = "5")]
        pub metric_infos: Vec<MetricInfo>,
        #[prost(string, tag = "6")]
        pub name: String,
    }

    /// `tensorboard.hparams.HParamInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HParamInfo {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub display_name: String,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(int32, tag = "4")]
        pub r#type: i32,
        #[prost(oneof = "Domain", tags = "5, 6")]
        pub domain: Option<Domain>,
    }

    /// The `domain` oneof of [`HParamInfo`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Domain {
        #[prost(message, tag = "5")]
        DomainDiscrete(ListValue),
        #[prost(message, tag = "6")]
        DomainInterval(Interval),
    }

    /// `tensorboard.hparams.Interval`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Interval {
        #[prost(double, tag = "1")]
        pub min_value: f64,
        #[prost(double, tag = "2")]
        pub max_value: f64,
    }

    /// `DataType` values of the hparams API.
    pub const DATA_TYPE_STRING: i32 = 1;
    /// `DataType` values of the hparams API.
    pub const DATA_TYPE_BOOL: i32 = 2;
    /// `DataType` values of the hparams API.
    pub const DATA_TYPE_FLOAT64: i32 = 3;

    /// `tensorboard.hparams.MetricInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricInfo {
        #[prost(message, optional, tag = "1")]
        pub name: Option<MetricName>,
        #[prost(string, tag = "3")]
        pub display_name: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(int32, tag = "5")]
        pub dataset_type: i32,
    }

    /// `tensorboard.hparams.MetricName`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricName {
        #[prost(string, tag = "1")]
        pub group: String,
        #[prost(string, tag = "2")]
        pub tag: String,
    }

    /// `tensorboard.hparams.SessionStartInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionStartInfo {
        #[prost(btree_map = "string, message", tag = "1")]
        pub hparams: std::collections::BTreeMap<String, Value>,
        #[prost(string, tag = "2")]
        pub model_uri: String,
        #[prost(string, tag = "3")]
        pub monitor_url: String,
        #[prost(string, tag = "4")]
        pub group_name: String,
        #[prost(double, tag = "5")]
        pub start_time_secs: f64,
    }

    /// `tensorboard.hparams.SessionEndInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionEndInfo {
        #[prost(int32, tag = "1")]
        pub status: i32,
        #[prost(double, tag = "2")]
        pub end_time_secs: f64,
    }

    /// `Status` values.
    pub const STATUS_UNKNOWN: i32 = 0;
    /// `Status` values.
    pub const STATUS_SUCCESS: i32 = 1;
    /// `Status` values.
    pub const STATUS_FAILURE: i32 = 2;
    /// `Status` values.
    pub const STATUS_RUNNING: i32 = 3;

    /// `google.protobuf.Value`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(oneof = "ValueKind", tags = "1, 2, 3, 4")]
        pub kind: Option<ValueKind>,
    }

    /// The `kind` oneof of [`Value`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ValueKind {
        #[prost(int32, tag = "1")]
        NullValue(i32),
        #[prost(double, tag = "2")]
        NumberValue(f64),
        #[prost(string, tag = "3")]
        StringValue(String),
        #[prost(bool, tag = "4")]
        BoolValue(bool),
    }

    /// `google.protobuf.ListValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListValue {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<Value>,
    }
}

/// `wandb_internal` package: the records of a `.wandb` transaction log.
pub mod wandb {
    /// `wandb_internal.Record`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Record {
        #[prost(int64, tag = "1")]
        pub num: i64,
        #[prost(oneof = "RecordType", tags = "2, 3, 5, 17, 18, 20, 21")]
        pub record_type: Option<RecordType>,
    }

    /// The `record_type` oneof of [`Record`] (the kinds sweeplab writes).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum RecordType {
        #[prost(message, tag = "2")]
        History(HistoryRecord),
        #[prost(message, tag = "3")]
        Summary(SummaryRecord),
        #[prost(message, tag = "5")]
        Config(ConfigRecord),
        #[prost(message, tag = "17")]
        Run(RunRecord),
        #[prost(message, tag = "18")]
        Exit(RunExitRecord),
        #[prost(message, tag = "20")]
        Final(FinalRecord),
        #[prost(message, tag = "21")]
        Header(HeaderRecord),
    }

    /// `wandb_internal.HeaderRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HeaderRecord {
        #[prost(message, optional, tag = "1")]
        pub version_info: Option<VersionInfo>,
    }

    /// `wandb_internal.HeaderRecord.VersionInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionInfo {
        #[prost(string, tag = "1")]
        pub producer: String,
        #[prost(string, tag = "2")]
        pub min_consumer: String,
    }

    /// `wandb_internal.RunRecord` (the fields sweeplab writes).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunRecord {
        #[prost(string, tag = "1")]
        pub run_id: String,
        #[prost(string, tag = "2")]
        pub entity: String,
        #[prost(string, tag = "3")]
        pub project: String,
        #[prost(message, optional, tag = "4")]
        pub config: Option<ConfigRecord>,
        #[prost(string, tag = "6")]
        pub run_group: String,
        #[prost(string, tag = "7")]
        pub job_type: String,
        #[prost(string, tag = "8")]
        pub display_name: String,
        #[prost(string, tag = "9")]
        pub notes: String,
        #[prost(string, repeated, tag = "10")]
        pub tags: Vec<String>,
        #[prost(message, optional, tag = "17")]
        pub start_time: Option<Timestamp>,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// `wandb_internal.ConfigRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConfigRecord {
        #[prost(message, repeated, tag = "1")]
        pub update: Vec<ConfigItem>,
    }

    /// `wandb_internal.ConfigItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConfigItem {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.HistoryRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryRecord {
        #[prost(message, repeated, tag = "1")]
        pub item: Vec<HistoryItem>,
        #[prost(message, optional, tag = "2")]
        pub step: Option<HistoryStep>,
    }

    /// `wandb_internal.HistoryItem` (JSON-valued form).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryItem {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.HistoryStep`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryStep {
        #[prost(int64, tag = "1")]
        pub num: i64,
    }

    /// `wandb_internal.SummaryRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryRecord {
        #[prost(message, repeated, tag = "1")]
        pub update: Vec<SummaryItem>,
    }

    /// `wandb_internal.SummaryItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryItem {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.RunExitRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunExitRecord {
        #[prost(int32, tag = "1")]
        pub exit_code: i32,
        #[prost(int32, tag = "2")]
        pub runtime: i32,
    }

    /// `wandb_internal.FinalRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FinalRecord {}
}
