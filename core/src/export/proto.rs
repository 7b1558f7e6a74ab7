//! The protobuf messages the exporters write, declared by hand with `prost` (no protoc).
//!
//! Only the fields sweeplab writes or checks are declared; unknown fields of foreign files
//! are skipped by prost when decoding. Field numbers follow the public `.proto` files
//! (tensorboard `event.proto`, `summary.proto`, `tensor.proto`, the hparams plugin's
//! `api.proto`/`plugin_data.proto`, `google/protobuf/struct.proto`, and wandb's
//! `wandb_internal.proto`; `docs/export-formats.md` says where each lives). prost writes
//! fields in ascending field number and omits proto3 defaults, which is protobuf's
//! deterministic serialization.

/// `tensorboard` package: events, summaries and tensors.
pub mod tb {
    /// `tensorboard.Event`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        /// `wall_time` (field 1).
        #[prost(double, tag = "1")]
        pub wall_time: f64,
        /// `step` (field 2).
        #[prost(int64, tag = "2")]
        pub step: i64,
        /// `what` (field 3, 5).
        #[prost(oneof = "EventWhat", tags = "3, 5")]
        pub what: Option<EventWhat>,
    }

    /// The `what` oneof of [`Event`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum EventWhat {
        /// The `FileVersion` case (field 3).
        #[prost(string, tag = "3")]
        FileVersion(String),
        /// The `Summary` case (field 5).
        #[prost(message, tag = "5")]
        Summary(Summary),
    }

    /// `tensorboard.Summary`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        /// `value` (field 1).
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<SummaryValue>,
    }

    /// `tensorboard.Summary.Value`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryValue {
        /// `tag` (field 1).
        #[prost(string, tag = "1")]
        pub tag: String,
        /// `value` (field 2, 5, 8).
        #[prost(oneof = "ValueKind", tags = "2, 5, 8")]
        pub value: Option<ValueKind>,
        /// `metadata` (field 9).
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<SummaryMetadata>,
    }

    /// The `value` oneof of [`SummaryValue`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ValueKind {
        /// The `SimpleValue` case (field 2).
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        /// The `Histo` case (field 5).
        #[prost(message, tag = "5")]
        Histo(HistogramProto),
        /// The `Tensor` case (field 8).
        #[prost(message, tag = "8")]
        Tensor(TensorProto),
    }

    /// `tensorboard.SummaryMetadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryMetadata {
        /// `plugin_data` (field 1).
        #[prost(message, optional, tag = "1")]
        pub plugin_data: Option<PluginData>,
        /// `display_name` (field 2).
        #[prost(string, tag = "2")]
        pub display_name: String,
        /// `summary_description` (field 3).
        #[prost(string, tag = "3")]
        pub summary_description: String,
        /// `data_class` (field 4).
        #[prost(int32, tag = "4")]
        pub data_class: i32,
    }

    /// `tensorboard.SummaryMetadata.PluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        /// `plugin_name` (field 1).
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        /// `content` (field 2).
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
        /// `min` (field 1).
        #[prost(double, tag = "1")]
        pub min: f64,
        /// `max` (field 2).
        #[prost(double, tag = "2")]
        pub max: f64,
        /// `num` (field 3).
        #[prost(double, tag = "3")]
        pub num: f64,
        /// `sum` (field 4).
        #[prost(double, tag = "4")]
        pub sum: f64,
        /// `sum_squares` (field 5).
        #[prost(double, tag = "5")]
        pub sum_squares: f64,
        /// `bucket_limit` (field 6).
        #[prost(double, repeated, tag = "6")]
        pub bucket_limit: Vec<f64>,
        /// `bucket` (field 7).
        #[prost(double, repeated, tag = "7")]
        pub bucket: Vec<f64>,
    }

    /// `tensorboard.TensorProto` (the fields sweeplab uses).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        /// `dtype` (field 1).
        #[prost(int32, tag = "1")]
        pub dtype: i32,
        /// `tensor_shape` (field 2).
        #[prost(message, optional, tag = "2")]
        pub tensor_shape: Option<TensorShapeProto>,
        /// `tensor_content` (field 4).
        #[prost(bytes = "vec", tag = "4")]
        pub tensor_content: Vec<u8>,
        /// `float_val` (field 5).
        #[prost(float, repeated, tag = "5")]
        pub float_val: Vec<f32>,
        /// `double_val` (field 6).
        #[prost(double, repeated, tag = "6")]
        pub double_val: Vec<f64>,
        /// `string_val` (field 8).
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
        /// `dim` (field 2).
        #[prost(message, repeated, tag = "2")]
        pub dim: Vec<TensorShapeDim>,
    }

    /// `tensorboard.TensorShapeProto.Dim`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorShapeDim {
        /// `size` (field 1).
        #[prost(int64, tag = "1")]
        pub size: i64,
    }
}

/// `tensorboard.hparams` package and the `google.protobuf` struct types it uses.
pub mod hparams {
    /// `tensorboard.hparams.HParamsPluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HParamsPluginData {
        /// `version` (field 1).
        #[prost(int32, tag = "1")]
        pub version: i32,
        /// `data` (field 2, 3, 4).
        #[prost(oneof = "PluginDataKind", tags = "2, 3, 4")]
        pub data: Option<PluginDataKind>,
    }

    /// The `data` oneof of [`HParamsPluginData`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum PluginDataKind {
        /// The `Experiment` case (field 2).
        #[prost(message, tag = "2")]
        Experiment(Experiment),
        /// The `SessionStartInfo` case (field 3).
        #[prost(message, tag = "3")]
        SessionStartInfo(SessionStartInfo),
        /// The `SessionEndInfo` case (field 4).
        #[prost(message, tag = "4")]
        SessionEndInfo(SessionEndInfo),
    }

    /// `tensorboard.hparams.Experiment`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Experiment {
        /// `description` (field 1).
        #[prost(string, tag = "1")]
        pub description: String,
        /// `user` (field 2).
        #[prost(string, tag = "2")]
        pub user: String,
        /// `time_created_secs` (field 3).
        #[prost(double, tag = "3")]
        pub time_created_secs: f64,
        /// `hparam_infos` (field 4).
        #[prost(message, repeated, tag = "4")]
        pub hparam_infos: Vec<HParamInfo>,
        /// `metric_infos` (field 5).
        #[prost(message, repeated, tag = "5")]
        pub metric_infos: Vec<MetricInfo>,
        /// `name` (field 6).
        #[prost(string, tag = "6")]
        pub name: String,
    }

    /// `tensorboard.hparams.HParamInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HParamInfo {
        /// `name` (field 1).
        #[prost(string, tag = "1")]
        pub name: String,
        /// `display_name` (field 2).
        #[prost(string, tag = "2")]
        pub display_name: String,
        /// `description` (field 3).
        #[prost(string, tag = "3")]
        pub description: String,
        /// `type` (field 4).
        #[prost(int32, tag = "4")]
        pub r#type: i32,
        /// `domain` (field 5, 6).
        #[prost(oneof = "Domain", tags = "5, 6")]
        pub domain: Option<Domain>,
    }

    /// The `domain` oneof of [`HParamInfo`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Domain {
        /// The `DomainDiscrete` case (field 5).
        #[prost(message, tag = "5")]
        DomainDiscrete(ListValue),
        /// The `DomainInterval` case (field 6).
        #[prost(message, tag = "6")]
        DomainInterval(Interval),
    }

    /// `tensorboard.hparams.Interval`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Interval {
        /// `min_value` (field 1).
        #[prost(double, tag = "1")]
        pub min_value: f64,
        /// `max_value` (field 2).
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
        /// `name` (field 1).
        #[prost(message, optional, tag = "1")]
        pub name: Option<MetricName>,
        /// `display_name` (field 3).
        #[prost(string, tag = "3")]
        pub display_name: String,
        /// `description` (field 4).
        #[prost(string, tag = "4")]
        pub description: String,
        /// `dataset_type` (field 5).
        #[prost(int32, tag = "5")]
        pub dataset_type: i32,
    }

    /// `tensorboard.hparams.MetricName`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricName {
        /// `group` (field 1).
        #[prost(string, tag = "1")]
        pub group: String,
        /// `tag` (field 2).
        #[prost(string, tag = "2")]
        pub tag: String,
    }

    /// `tensorboard.hparams.SessionStartInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionStartInfo {
        /// `hparams` (field 1).
        #[prost(btree_map = "string, message", tag = "1")]
        pub hparams: std::collections::BTreeMap<String, Value>,
        /// `model_uri` (field 2).
        #[prost(string, tag = "2")]
        pub model_uri: String,
        /// `monitor_url` (field 3).
        #[prost(string, tag = "3")]
        pub monitor_url: String,
        /// `group_name` (field 4).
        #[prost(string, tag = "4")]
        pub group_name: String,
        /// `start_time_secs` (field 5).
        #[prost(double, tag = "5")]
        pub start_time_secs: f64,
    }

    /// `tensorboard.hparams.SessionEndInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionEndInfo {
        /// `status` (field 1).
        #[prost(int32, tag = "1")]
        pub status: i32,
        /// `end_time_secs` (field 2).
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
        /// `kind` (field 1, 2, 3, 4).
        #[prost(oneof = "ValueKind", tags = "1, 2, 3, 4")]
        pub kind: Option<ValueKind>,
    }

    /// The `kind` oneof of [`Value`].
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ValueKind {
        /// The `NullValue` case (field 1).
        #[prost(int32, tag = "1")]
        NullValue(i32),
        /// The `NumberValue` case (field 2).
        #[prost(double, tag = "2")]
        NumberValue(f64),
        /// The `StringValue` case (field 3).
        #[prost(string, tag = "3")]
        StringValue(String),
        /// The `BoolValue` case (field 4).
        #[prost(bool, tag = "4")]
        BoolValue(bool),
    }

    /// `google.protobuf.ListValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListValue {
        /// `values` (field 1).
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<Value>,
    }
}

/// `wandb_internal` package: the records of a `.wandb` transaction log.
pub mod wandb {
    /// `wandb_internal.Record`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Record {
        /// `num` (field 1).
        #[prost(int64, tag = "1")]
        pub num: i64,
        /// `record_type` (field 2, 3, 5, 17, 18, 20, 21).
        #[prost(oneof = "RecordType", tags = "2, 3, 5, 17, 18, 20, 21")]
        pub record_type: Option<RecordType>,
    }

    /// The `record_type` oneof of [`Record`] (the kinds sweeplab writes).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum RecordType {
        /// The `History` case (field 2).
        #[prost(message, tag = "2")]
        History(HistoryRecord),
        /// The `Summary` case (field 3).
        #[prost(message, tag = "3")]
        Summary(SummaryRecord),
        /// The `Config` case (field 5).
        #[prost(message, tag = "5")]
        Config(ConfigRecord),
        /// The `Run` case (field 17).
        #[prost(message, tag = "17")]
        Run(RunRecord),
        /// The `Exit` case (field 18).
        #[prost(message, tag = "18")]
        Exit(RunExitRecord),
        /// The `Final` case (field 20).
        #[prost(message, tag = "20")]
        Final(FinalRecord),
        /// The `Header` case (field 21).
        #[prost(message, tag = "21")]
        Header(HeaderRecord),
    }

    /// `wandb_internal.HeaderRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HeaderRecord {
        /// `version_info` (field 1).
        #[prost(message, optional, tag = "1")]
        pub version_info: Option<VersionInfo>,
    }

    /// `wandb_internal.HeaderRecord.VersionInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionInfo {
        /// `producer` (field 1).
        #[prost(string, tag = "1")]
        pub producer: String,
        /// `min_consumer` (field 2).
        #[prost(string, tag = "2")]
        pub min_consumer: String,
    }

    /// `wandb_internal.RunRecord` (the fields sweeplab writes).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunRecord {
        /// `run_id` (field 1).
        #[prost(string, tag = "1")]
        pub run_id: String,
        /// `entity` (field 2).
        #[prost(string, tag = "2")]
        pub entity: String,
        /// `project` (field 3).
        #[prost(string, tag = "3")]
        pub project: String,
        /// `config` (field 4).
        #[prost(message, optional, tag = "4")]
        pub config: Option<ConfigRecord>,
        /// `run_group` (field 6).
        #[prost(string, tag = "6")]
        pub run_group: String,
        /// `job_type` (field 7).
        #[prost(string, tag = "7")]
        pub job_type: String,
        /// `display_name` (field 8).
        #[prost(string, tag = "8")]
        pub display_name: String,
        /// `notes` (field 9).
        #[prost(string, tag = "9")]
        pub notes: String,
        /// `tags` (field 10).
        #[prost(string, repeated, tag = "10")]
        pub tags: Vec<String>,
        /// `start_time` (field 17).
        #[prost(message, optional, tag = "17")]
        pub start_time: Option<Timestamp>,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// `seconds` (field 1).
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// `nanos` (field 2).
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// `wandb_internal.ConfigRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConfigRecord {
        /// `update` (field 1).
        #[prost(message, repeated, tag = "1")]
        pub update: Vec<ConfigItem>,
    }

    /// `wandb_internal.ConfigItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConfigItem {
        /// `key` (field 1).
        #[prost(string, tag = "1")]
        pub key: String,
        /// `nested_key` (field 2).
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        /// `value_json` (field 16).
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.HistoryRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryRecord {
        /// `item` (field 1).
        #[prost(message, repeated, tag = "1")]
        pub item: Vec<HistoryItem>,
        /// `step` (field 2).
        #[prost(message, optional, tag = "2")]
        pub step: Option<HistoryStep>,
    }

    /// `wandb_internal.HistoryItem` (JSON-valued form).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryItem {
        /// `key` (field 1).
        #[prost(string, tag = "1")]
        pub key: String,
        /// `nested_key` (field 2).
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        /// `value_json` (field 16).
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.HistoryStep`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistoryStep {
        /// `num` (field 1).
        #[prost(int64, tag = "1")]
        pub num: i64,
    }

    /// `wandb_internal.SummaryRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryRecord {
        /// `update` (field 1).
        #[prost(message, repeated, tag = "1")]
        pub update: Vec<SummaryItem>,
    }

    /// `wandb_internal.SummaryItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryItem {
        /// `key` (field 1).
        #[prost(string, tag = "1")]
        pub key: String,
        /// `nested_key` (field 2).
        #[prost(string, repeated, tag = "2")]
        pub nested_key: Vec<String>,
        /// `value_json` (field 16).
        #[prost(string, tag = "16")]
        pub value_json: String,
    }

    /// `wandb_internal.RunExitRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunExitRecord {
        /// `exit_code` (field 1).
        #[prost(int32, tag = "1")]
        pub exit_code: i32,
        /// `runtime` (field 2).
        #[prost(int32, tag = "2")]
        pub runtime: i32,
    }

    /// `wandb_internal.FinalRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FinalRecord {}
}
