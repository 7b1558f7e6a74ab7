//! [`TinyLm`] weights and LoRA adapters as safetensors files.
//!
//! - The base: Hugging Face llama-style names (`model.embed_tokens.weight`,
//!   `model.layers.N.self_attn.q_proj.weight`, …, `lm_head.weight`), linear weights as
//!   `[out, in]` like PyTorch's, f32 little-endian, and the model's shape in the header's
//!   metadata (`format`, `d_model`, `layers`, `heads`, `d_ff`, `context`).
//! - An adapter: PEFT's `adapter_model.safetensors` names
//!   (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, `[r, in]`, and
//!   `…lora_B.weight`, `[out, r]`) beside a JSON config in the shape of PEFT's
//!   `adapter_config.json` (`r`, `lora_alpha`, `lora_dropout`, `target_modules`), with the
//!   SHA-256 of the base it was trained on.
//!
//! Every file read is checked: its checksum when one is expected, its format, every
//! tensor's name, dtype and shape; a mismatch is an error naming the tensor and what was
//! expected, never a panic.

use std::collections::{BTreeMap, HashMap};

use burn::module::Param;
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use sha2::{Digest, Sha256};

use super::{
    Attention, FeedForward, Layer, LmConfig, LoraLinear, LoraSettings, LoraTargets, TinyLm, VOCAB,
};
use crate::train::TrainError;

/// The `format` a base file's metadata carries.
pub const BASE_FORMAT: &str = "sweeplab-tinylm-1";
/// PEFT's prefix of an adapter's tensor names for a causal language model.
const PEFT_PREFIX: &str = "base_model.model.model.";
/// RMSNorm's epsilon.
const NORM_EPS: f64 = 1e-5;

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad(file: &str, why: impl std::fmt::Display) -> TrainError {
    TrainError::Data(format!("{file}: {why}"))
}

/// Little-endian bytes of `v`.
fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A safetensors file of `tensors` (name, shape, values) with `metadata`.
fn serialize(
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    metadata: HashMap<String, String>,
    file: &str,
) -> Result<Vec<u8>, TrainError> {
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(file, e))?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| bad(file, e))?;
    canonical_header(bytes).map_err(|e| bad(file, e))
}

/// One entry of a safetensors header.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum HeaderEntry {
    Tensor {
        dtype: String,
        shape: Vec<usize>,
        data_offsets: [usize; 2],
    },
    Metadata(BTreeMap<String, String>),
}

/// `bytes` with its header's keys in sorted order (the crate writes the metadata in a hash
/// map's order), so that the same weights always make the same file and checksum. The
/// header keeps its length (padded with spaces, as the format allows).
fn canonical_header(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let n = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or("no header")? as usize;
    let end = 8usize
        .checked_add(n)
        .filter(|e| *e <= bytes.len())
        .ok_or("short header")?;
    let header: BTreeMap<String, HeaderEntry> =
        serde_json::from_slice(&bytes[8..end]).map_err(|e| e.to_string())?;
    let mut text = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    if text.len() > n {
        return Err("the sorted header is longer than the crate's".into());
    }
    text.resize(n, b' ');
    bytes[8..end].copy_from_slice(&text);
    Ok(bytes)
}

/// The base's tensors by file name, in the file's layout (linear weights `[out, in]`,
/// norms as `[1, d]`), adapters merged in.
fn base_entries(model: &TinyLm) -> Vec<(String, Tensor<2>)> {
    let mut out = vec![
        (
            "model.embed_tokens.weight".to_string(),
            model.embed_tokens.weight.val(),
        ),
        (
            "model.embed_positions.weight".to_string(),
            model.embed_positions.weight.val(),
        ),
    ];
    for (i, layer) in model.layers.iter().enumerate() {
        let p = format!("model.layers.{i}");
        out.push((
            format!("{p}.input_layernorm.weight"),
            layer.input_layernorm.gamma.val().unsqueeze(),
        ));
        out.push((
            format!("{p}.post_attention_layernorm.weight"),
            layer.post_attention_layernorm.gamma.val().unsqueeze(),
        ));
        for (name, proj) in layer.projections() {
            out.push((
                format!("{p}.{}.{name}.weight", group(name)),
                proj.merged().weight.val().transpose(),
            ));
        }
    }
    out.push((
        "model.norm.weight".to_string(),
        model.norm.gamma.val().unsqueeze(),
    ));
    out.push((
        "lm_head.weight".to_string(),
        model.lm_head.weight.val().transpose(),
    ));
    out
}

/// `self_attn` or `mlp`: the group a projection belongs to.
fn group(proj: &str) -> &'static str {
    if super::is_mlp(proj) {
        "mlp"
    } else {
        "self_attn"
    }
}

/// The model's weights (adapters merged in) as a base file, with `config`'s shape and
/// `extra` in its metadata.
pub async fn save_base(
    model: &TinyLm,
    config: &LmConfig,
    extra: &[(&str, String)],
) -> Result<Vec<u8>, TrainError> {
    let mut tensors = Vec::new();
    for (name, t) in base_entries(model) {
        let mut shape = t.dims().to_vec();
        if name.ends_with("norm.weight") {
            shape = vec![shape[1]];
        }
        tensors.push((
            name,
            shape,
            le_bytes(&crate::train::trainer::read_f32(t).await?),
        ));
    }
    let mut meta: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    meta.insert("format".into(), BASE_FORMAT.into());
    for (k, v) in [
        ("d_model", config.d_model),
        ("layers", config.layers),
        ("heads", config.heads),
        ("d_ff", config.d_ff),
        ("context", config.context),
    ] {
        meta.insert(k.into(), v.to_string());
    }
    serialize(&tensors, meta, "base weights")
}

/// A parsed file: its tensors and metadata.
struct Parsed<'a> {
    file: &'a str,
    tensors: SafeTensors<'a>,
    metadata: BTreeMap<String, String>,
}

impl<'a> Parsed<'a> {
    fn new(bytes: &'a [u8], file: &'a str) -> Result<Parsed<'a>, TrainError> {
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(file, format!("not a safetensors file ({e})")))?;
        let metadata = meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(file, format!("not a safetensors file ({e})")))?;
        Ok(Parsed {
            file,
            tensors,
            metadata,
        })
    }

    fn meta_usize(&self, key: &str) -> Result<usize, TrainError> {
        let v = self
            .metadata
            .get(key)
            .ok_or_else(|| bad(self.file, format!("the metadata has no `{key}`")))?;
        v.parse()
            .map_err(|_| bad(self.file, format!("metadata `{key}` is `{v}`, not a count")))
    }

    /// Tensor `name`'s f32 values, checked against `shape`.
    fn f32s(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, TrainError> {
        let t = self
            .tensors
            .tensor(name)
            .map_err(|_| bad(self.file, format!("tensor `{name}` is missing")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(
                self.file,
                format!("tensor `{name}` is {:?}, not F32", t.dtype()),
            ));
        }
        if t.shape() != shape {
            return Err(bad(
                self.file,
                format!(
                    "tensor `{name}` has shape {:?} where the model needs {shape:?}",
                    t.shape()
                ),
            ));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// An error naming the first tensor of the file that `expected` does not hold.
    fn no_extra(&self, expected: &[String]) -> Result<(), TrainError> {
        let mut names = self.tensors.names();
        names.sort_unstable();
        match names.into_iter().find(|n| !expected.iter().any(|e| e == n)) {
            Some(extra) => Err(bad(
                self.file,
                format!("tensor `{extra}` is not part of the model"),
            )),
            None => Ok(()),
        }
    }
}

/// The base model in `bytes` (a file [`save_base`] wrote), on `device`, with its shape and
/// metadata. With `expected_sha256`, the file must have that checksum.
pub fn load_base(
    bytes: &[u8],
    file: &str,
    expected_sha256: Option<&str>,
    device: &Device,
) -> Result<(TinyLm, LmConfig, BTreeMap<String, String>), TrainError> {
    if let Some(want) = expected_sha256 {
        let got = sha256_hex(bytes);
        if got != want {
            return Err(bad(
                file,
                format!(
                    "checksum mismatch: SHA-256 {got}, expected {want} (a damaged or different file)"
                ),
            ));
        }
    }
    let p = Parsed::new(bytes, file)?;
    match p.metadata.get("format") {
        Some(f) if f == BASE_FORMAT => {}
        Some(f) => {
            return Err(bad(
                file,
                format!("format `{f}`, not sweeplab's `{BASE_FORMAT}`"),
            ));
        }
        None => {
            return Err(bad(
                file,
                format!("no `format` in the metadata (sweeplab writes `{BASE_FORMAT}`)"),
            ));
        }
    }
    let config = LmConfig {
        d_model: p.meta_usize("d_model")?,
        layers: p.meta_usize("layers")?,
        heads: p.meta_usize("heads")?,
        d_ff: p.meta_usize("d_ff")?,
        context: p.meta_usize("context")?,
    };
    config.validate().map_err(|e| bad(file, e))?;
    let (d, f) = (config.d_model, config.d_ff);
    let names = std::cell::RefCell::new(Vec::new());
    // Tensor `name`, stored with `file_shape`, as a `shape` matrix on the device.
    let take = |name: String, shape: [usize; 2], file_shape: &[usize]| {
        let v = p.f32s(&name, file_shape)?;
        names.borrow_mut().push(name);
        Ok::<_, TrainError>(Tensor::<2>::from_data(TensorData::new(v, shape), device))
    };
    let matrix = |name: String, shape: [usize; 2]| take(name, shape, &shape);
    let vector = |name: String| take(name, [1, d], &[d]);
    let embed = |t: Tensor<2>| Embedding {
        weight: Param::from_tensor(t),
    };
    // A linear layer from its `[out, in]` weight.
    let linear = |t: Tensor<2>| Linear {
        weight: Param::from_tensor(t.transpose()),
        bias: None,
    };
    let norm = |t: Tensor<2>| RmsNorm {
        gamma: Param::from_tensor(t.squeeze_dim(0)),
        epsilon: NORM_EPS,
    };
    let proj = |t: Tensor<2>| LoraLinear {
        base: linear(t),
        adapter: None,
    };
    let embed_tokens = embed(matrix("model.embed_tokens.weight".into(), [VOCAB, d])?);
    let embed_positions = embed(matrix(
        "model.embed_positions.weight".into(),
        [config.context, d],
    )?);
    let mut layers = Vec::with_capacity(config.layers);
    for i in 0..config.layers {
        let pre = format!("model.layers.{i}");
        let input_layernorm = norm(vector(format!("{pre}.input_layernorm.weight"))?);
        let post_attention_layernorm =
            norm(vector(format!("{pre}.post_attention_layernorm.weight"))?);
        let w = |name: &str, out: usize, inp: usize| {
            matrix(format!("{pre}.{}.{name}.weight", group(name)), [out, inp])
        };
        layers.push(Layer {
            input_layernorm,
            self_attn: Attention {
                q_proj: proj(w("q_proj", d, d)?),
                k_proj: proj(w("k_proj", d, d)?),
                v_proj: proj(w("v_proj", d, d)?),
                o_proj: proj(w("o_proj", d, d)?),
                heads: config.heads,
            },
            post_attention_layernorm,
            mlp: FeedForward {
                gate_proj: proj(w("gate_proj", f, d)?),
                up_proj: proj(w("up_proj", f, d)?),
                down_proj: proj(w("down_proj", d, f)?),
            },
        });
    }
    let final_norm = norm(vector("model.norm.weight".into())?);
    let lm_head = linear(matrix("lm_head.weight".into(), [VOCAB, d])?);
    p.no_extra(&names.borrow())?;
    let model = TinyLm {
        embed_tokens,
        embed_positions,
        layers,
        norm: final_norm,
        lm_head,
        context: config.context,
    };
    Ok((model, config, p.metadata.clone()))
}

/// An adapter's settings in the shape of PEFT's `adapter_config.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdapterConfig {
    /// Always `LORA`.
    pub peft_type: String,
    /// Always `CAUSAL_LM`.
    pub task_type: String,
    /// The rank.
    pub r: usize,
    /// The scale's numerator.
    pub lora_alpha: f64,
    /// Dropout on the adapter's input while training.
    pub lora_dropout: f64,
    /// The projections with adapters (`q_proj`, …).
    pub target_modules: Vec<String>,
    /// sweeplab's name of the target set (`qv`, `qkvo`, `all`).
    pub lora_targets: String,
    /// The SHA-256 of the base file the adapter was trained on.
    pub base_sha256: String,
    /// How that base was held while the adapter trained (`int8`, `int4`; absent: f32), so
    /// that the adapter runs on the same weights it learned on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_quant: Option<String>,
}

impl AdapterConfig {
    /// The config of `spec`'s adapters on the base with checksum `base_sha256`.
    pub fn new(spec: &LoraSettings, base_sha256: &str) -> AdapterConfig {
        let target_modules = super::PROJECTIONS
            .into_iter()
            .filter(|p| spec.targets.covers(p))
            .map(String::from)
            .collect();
        AdapterConfig {
            peft_type: "LORA".into(),
            task_type: "CAUSAL_LM".into(),
            r: spec.r,
            lora_alpha: spec.alpha,
            lora_dropout: spec.dropout,
            target_modules,
            lora_targets: spec.targets.name().into(),
            base_sha256: base_sha256.into(),
            base_quant: None,
        }
    }

    /// The settings, checked.
    pub fn spec(&self) -> Result<LoraSettings, TrainError> {
        if self.peft_type != "LORA" {
            return Err(TrainError::Data(format!(
                "adapter config: peft_type is `{}`, not LORA",
                self.peft_type
            )));
        }
        let spec = LoraSettings {
            r: self.r,
            alpha: self.lora_alpha,
            dropout: self.lora_dropout,
            targets: LoraTargets::parse(&self.lora_targets)?,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The model's adapters as PEFT's `adapter_model.safetensors`, with their config as JSON.
/// An error when the model has no adapters.
pub async fn save_adapter(
    model: &TinyLm,
    spec: &LoraSettings,
    base_sha256: &str,
) -> Result<(Vec<u8>, String), TrainError> {
    let entries = model.adapter_tensors();
    if entries.is_empty() {
        return Err(TrainError::Config("the model has no LoRA adapters".into()));
    }
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, t) in entries {
        let shape = t.dims().to_vec();
        tensors.push((
            format!("{PEFT_PREFIX}{name}"),
            shape,
            le_bytes(&crate::train::trainer::read_f32(t).await?),
        ));
    }
    let bytes = serialize(&tensors, HashMap::new(), "adapter")?;
    let mut config = AdapterConfig::new(spec, base_sha256);
    config.base_quant = model.base_quant().map(|q| q.name().to_string());
    let json = serde_json::to_string_pretty(&config)
        .map_err(|e| TrainError::Data(format!("adapter config: {e}")))?;
    Ok((bytes, json))
}

/// `base` (the file with checksum `base_sha256`) with the adapters of `bytes` and
/// `config_json` (what [`save_adapter`] wrote). The adapter must have been trained on that
/// base.
pub fn load_adapter(
    base: TinyLm,
    base_sha256: &str,
    bytes: &[u8],
    config_json: &str,
    device: &Device,
) -> Result<TinyLm, TrainError> {
    let config: AdapterConfig = serde_json::from_str(config_json)
        .map_err(|e| TrainError::Data(format!("adapter config: {e}")))?;
    if config.base_sha256 != base_sha256 {
        return Err(TrainError::Data(format!(
            "the adapter was trained on the base with SHA-256 {}, not on this one ({base_sha256})",
            config.base_sha256
        )));
    }
    let spec = config.spec()?;
    let mut model = base.with_lora(&spec, device)?;
    if let Some(q) = &config.base_quant {
        let q = crate::vocab::BaseQuant::parse(q)?.ok_or_else(|| {
            TrainError::Data(format!(
                "adapter config: base_quant `{q}` is not int8 or int4"
            ))
        })?;
        model = model.quantize_base(q)?;
    }
    let p = Parsed::new(bytes, "adapter")?;
    let mut names = Vec::new();
    for (i, layer) in model.layers.iter_mut().enumerate() {
        for (name, proj) in layer.projections_mut() {
            let (d_in, d_out) = proj.dims();
            let Some(ad) = &mut proj.adapter else {
                continue;
            };
            let pre = format!("{PEFT_PREFIX}layers.{i}.{}.{name}", group(name));
            let (a, b) = (
                format!("{pre}.lora_A.weight"),
                format!("{pre}.lora_B.weight"),
            );
            let av = p.f32s(&a, &[spec.r, d_in])?;
            let bv = p.f32s(&b, &[d_out, spec.r])?;
            ad.a = Param::from_tensor(Tensor::from_data(
                TensorData::new(av, [spec.r, d_in]),
                device,
            ));
            ad.b = Param::from_tensor(Tensor::from_data(
                TensorData::new(bv, [d_out, spec.r]),
                device,
            ));
            names.push(a);
            names.push(b);
        }
    }
    p.no_extra(&names)?;
    Ok(model)
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    use super::*;
    use crate::train::lm::{tokenize, windows};
    use burn::tensor::Int;
    use futures_lite::future::block_on;

    fn config() -> LmConfig {
        LmConfig {
            d_model: 16,
            layers: 2,
            heads: 2,
            d_ff: 24,
            context: 10,
        }
    }

    fn input(device: &Device) -> Tensor<2, Int> {
        windows(&tokenize("weights, saved and read"), &[0, 7], 9, device).narrow(1, 0, 9)
    }

    fn out(model: &TinyLm, device: &Device) -> Vec<f32> {
        model
            .forward(input(device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    fn err(r: Result<impl std::fmt::Debug, TrainError>) -> String {
        r.expect_err("an error").to_string()
    }

    #[test]
    fn a_base_reads_back_as_it_was_written_and_its_checksum_is_checked() {
        let device = Device::flex();
        device.seed(11);
        let model = config().init(&device).unwrap();
        let bytes = block_on(save_base(&model, &config(), &[("val_loss", "1.5".into())])).unwrap();
        let sum = sha256_hex(&bytes);
        let (read, cfg, meta) = load_base(&bytes, "base", Some(&sum), &device).unwrap();
        assert_eq!(cfg, config());
        assert_eq!(meta.get("val_loss").map(String::as_str), Some("1.5"));
        assert_eq!(out(&read, &device), out(&model, &device));
        // The same bytes again (deterministic), and the checksum refuses a changed byte.
        assert_eq!(
            block_on(save_base(&read, &cfg, &[("val_loss", "1.5".into())])).unwrap(),
            bytes
        );
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(
            err(load_base(&damaged, "base", Some(&sum), &device)).contains("checksum mismatch")
        );
        assert!(
            err(load_base(&bytes[..40], "base", None, &device)).contains("not a safetensors file")
        );
        assert!(err(load_base(b"", "base", None, &device)).contains("not a safetensors file"));
    }

    /// A file with `tensors` and the metadata of `config()`.
    fn crafted(tensors: Vec<(String, Vec<usize>, Dtype)>, format: &str) -> Vec<u8> {
        let data: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, s, d)| vec![0u8; s.iter().product::<usize>() * d.bitsize() / 8])
            .collect();
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .zip(&data)
            .map(|((n, s, d), b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let c = config();
        let meta: HashMap<String, String> = [
            ("format", format.to_string()),
            ("d_model", c.d_model.to_string()),
            ("layers", c.layers.to_string()),
            ("heads", c.heads.to_string()),
            ("d_ff", c.d_ff.to_string()),
            ("context", c.context.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        safetensors::serialize(views, Some(meta)).unwrap()
    }

    /// Every tensor a `config()` base holds, as (name, shape, F32).
    fn full() -> Vec<(String, Vec<usize>, Dtype)> {
        let device = Device::flex();
        base_entries(&config().init(&device).unwrap())
            .into_iter()
            .map(|(n, t)| {
                let mut shape = t.dims().to_vec();
                if n.ends_with("norm.weight") {
                    shape = vec![shape[1]];
                }
                (n, shape, Dtype::F32)
            })
            .collect()
    }

    #[test]
    fn a_mismatched_file_names_the_tensor_and_what_was_expected() {
        let device = Device::flex();
        assert!(load_base(&crafted(full(), BASE_FORMAT), "f", None, &device).is_ok());
        let q = "model.layers.1.self_attn.q_proj.weight";
        let mut shape = full();
        shape.iter_mut().find(|t| t.0 == q).unwrap().1 = vec![16, 8];
        let e = err(load_base(&crafted(shape, BASE_FORMAT), "f", None, &device));
        assert!(
            e.contains(q) && e.contains("[16, 8]") && e.contains("[16, 16]"),
            "{e}"
        );
        let mut missing = full();
        missing.retain(|t| t.0 != q);
        let e = err(load_base(
            &crafted(missing, BASE_FORMAT),
            "f",
            None,
            &device,
        ));
        assert!(e.contains(q) && e.contains("missing"), "{e}");
        let mut extra = full();
        extra.push((
            "model.layers.2.mlp.up_proj.weight".into(),
            vec![2, 2],
            Dtype::F32,
        ));
        let e = err(load_base(&crafted(extra, BASE_FORMAT), "f", None, &device));
        assert!(
            e.contains("model.layers.2.mlp.up_proj.weight") && e.contains("not part"),
            "{e}"
        );
        let mut half = full();
        half.iter_mut().find(|t| t.0 == q).unwrap().2 = Dtype::F16;
        let e = err(load_base(&crafted(half, BASE_FORMAT), "f", None, &device));
        assert!(e.contains(q) && e.contains("F16"), "{e}");
        let e = err(load_base(&crafted(full(), "gpt2"), "f", None, &device));
        assert!(e.contains("format `gpt2`"), "{e}");
    }

    #[test]
    fn an_adapter_reads_back_onto_its_base_only() {
        let device = Device::flex();
        device.seed(12);
        let base = config().init(&device).unwrap();
        let bytes = block_on(save_base(&base, &config(), &[])).unwrap();
        let sum = sha256_hex(&bytes);
        let spec = LoraSettings {
            r: 2,
            alpha: 5.0,
            dropout: 0.1,
            targets: LoraTargets::Qkvo,
        };
        let mut adapted = base.clone().with_lora(&spec, &device).unwrap();
        for layer in &mut adapted.layers {
            for (_, proj) in layer.projections_mut() {
                if let Some(ad) = &mut proj.adapter {
                    let dims = ad.b.val().dims();
                    ad.b = Param::from_tensor(Tensor::random(
                        dims,
                        burn::tensor::Distribution::Normal(0.0, 0.5),
                        &device,
                    ));
                }
            }
        }
        let (file, json) = block_on(save_adapter(&adapted, &spec, &sum)).unwrap();
        let cfg: AdapterConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(cfg.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj"]);
        assert_eq!((cfg.r, cfg.lora_alpha), (2, 5.0));
        let (read_base, _, _) = load_base(&bytes, "base", Some(&sum), &device).unwrap();
        let read = load_adapter(read_base, &sum, &file, &json, &device).unwrap();
        let want = out(&adapted, &device);
        assert_eq!(out(&read, &device), want);
        assert_ne!(want, out(&base, &device));
        // Another base, or no adapters, is refused.
        let e = err(load_adapter(
            base.clone(),
            &"0".repeat(64),
            &file,
            &json,
            &device,
        ));
        assert!(e.contains("trained on the base"), "{e}");
        assert!(err(block_on(save_adapter(&base, &spec, &sum))).contains("no LoRA adapters"));
        let narrower = json.replace("\"r\": 2", "\"r\": 4");
        let e = err(load_adapter(base, &sum, &file, &narrower, &device));
        assert!(e.contains("lora_A.weight") && e.contains("[2, 16]"), "{e}");
    }
}
