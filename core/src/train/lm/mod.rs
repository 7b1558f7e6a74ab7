//! A small decoder-only language model with LoRA adapters: the model of the "LoRA
//! fine-tune" study, where TPE tunes LoRA's rank `r`, its scale `alpha` and the learning
//! rate of a pretrained base.
//!
//! - Byte-level tokens (vocabulary 256: any text is input, nothing to ship beside the
//!   weights), learned positions, pre-norm blocks (RMSNorm, causal multi-head
//!   self-attention, a SwiGLU MLP) and an output head. Parameters carry llama-style names
//!   (`layers.N.self_attn.q_proj`, `layers.N.mlp.gate_proj`, …).
//! - [`LoraLinear`]: a projection whose base weight `W` is frozen and that adds
//!   `dropout(x) · Aᵀ · Bᵀ · alpha / r`, with `A` (r × in) drawn like a linear layer's weight
//!   and `B` (out × r) zero, so that a new adapter computes exactly the base (as in
//!   Hugging Face PEFT's `LoraLayer`, `peft/tuners/lora/layer.py`).
//! - [`LoraSettings::targets`]: which projections get adapters: `qv` (the default of PEFT and
//!   of the LoRA paper's GPT-3 experiments), `qkvo`, or `all` (the MLP too).
//!
//! The frozen base gets no gradient and therefore no optimiser state: only the adapters
//! train ([`TinyLm::trainable_params`]).

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, RmsNorm,
    RmsNormConfig,
};
use burn::optim::GradientsParams;
use burn::tensor::activation::{log_softmax, silu, softmax};
use burn::tensor::module::linear;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::TrainError;

pub mod baselines;
mod cpu;
pub mod stack;
pub mod stack_sweep;
pub mod train;
pub mod trial;
pub mod weights;

/// Tokens are bytes.
pub const VOCAB: usize = 256;

/// The projections of a block, in the order [`Layer`] lists them (and a forward pass reads
/// them).
pub const PROJECTIONS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// The shipped base's file name in `static/data/lm/`.
pub const BASE_FILE: &str = "base.safetensors";
/// The SHA-256 of the shipped base (`cargo xtask pretrain-lm` makes it; a file with any
/// other checksum is refused).
pub const BASE_SHA256: &str = "8e6987408eeb436567336d21c393d03e125325d38f87a914fc82f66dc24ec221";
/// The shipped base's validation loss on the Devil's Dictionary before any fine-tuning
/// (nats per byte, [`trial::evaluate_lm`] over [`trial::EVAL_WINDOWS`] windows): the
/// frozen-base baseline of the LoRA study.
pub const BASE_DEVILS_VAL_LOSS: f64 = 2.0444;

/// The shape of a [`TinyLm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LmConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of blocks.
    pub layers: usize,
    /// Attention heads (dividing `d_model`).
    pub heads: usize,
    /// Width of the MLP's hidden layer.
    pub d_ff: usize,
    /// The longest input, in tokens (learned positions).
    pub context: usize,
}

impl LmConfig {
    /// Checks the sizes: each from 1 to a bound that keeps a model in a browser tab's
    /// memory, and heads dividing the width.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bounded = [
            ("d_model", self.d_model, 1024),
            ("layers", self.layers, 24),
            ("heads", self.heads, 64),
            ("d_ff", self.d_ff, 8192),
            ("context", self.context, 4096),
        ];
        for (name, v, max) in bounded {
            if !(1..=max).contains(&v) {
                return Err(TrainError::Config(format!(
                    "{name} must be from 1 to {max}, not {v}"
                )));
            }
        }
        if !self.d_model.is_multiple_of(self.heads) {
            return Err(TrainError::Config(format!(
                "heads ({}) must divide d_model ({})",
                self.heads, self.d_model
            )));
        }
        Ok(())
    }

    /// A model with freshly initialised weights on `device` (from its RNG), no adapters.
    pub fn init(&self, device: &Device) -> Result<TinyLm, TrainError> {
        self.validate()?;
        let proj = |d_in: usize, d_out: usize| LoraLinear {
            base: LinearConfig::new(d_in, d_out).with_bias(false).init(device),
            adapter: None,
        };
        let (d, f) = (self.d_model, self.d_ff);
        let layers = (0..self.layers)
            .map(|_| Layer {
                input_layernorm: RmsNormConfig::new(d).init(device),
                self_attn: Attention {
                    q_proj: proj(d, d),
                    k_proj: proj(d, d),
                    v_proj: proj(d, d),
                    o_proj: proj(d, d),
                    heads: self.heads,
                },
                post_attention_layernorm: RmsNormConfig::new(d).init(device),
                mlp: FeedForward {
                    gate_proj: proj(d, f),
                    up_proj: proj(d, f),
                    down_proj: proj(f, d),
                },
            })
            .collect();
        let embed = |n: usize| {
            EmbeddingConfig::new(n, d)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device)
        };
        Ok(TinyLm {
            embed_tokens: embed(VOCAB),
            embed_positions: embed(self.context),
            layers,
            norm: RmsNormConfig::new(d).init(device),
            lm_head: LinearConfig::new(d, VOCAB).with_bias(false).init(device),
            context: self.context,
        })
    }
}

pub use crate::vocab::{BaseQuant, LoraSettings, LoraTargets};

/// Values per scale of the quantized base.
pub const QUANT_BLOCK: usize = 32;

/// burn's quantization scheme for `q`: symmetric integers of its width, one f32 scale per
/// block of [`QUANT_BLOCK`] values, packed into `u32`s.
pub fn quant_scheme(q: BaseQuant) -> burn::tensor::quantization::QuantScheme {
    use burn::tensor::quantization::{QuantScheme, QuantValue, ScaleDtype};
    QuantScheme::default()
        .with_value(match q {
            BaseQuant::Int8 => QuantValue::Q8S,
            BaseQuant::Int4 => QuantValue::Q4S,
        })
        .per_block([QUANT_BLOCK as u8], ScaleDtype::F32)
}

/// Whether projection `proj` belongs to the MLP (its adapters' names say `mlp`).
fn is_mlp(proj: &str) -> bool {
    matches!(proj, "gate_proj" | "up_proj" | "down_proj")
}

/// A linear projection (no bias) with an optional LoRA adapter.
#[derive(Module, Debug)]
pub struct LoraLinear {
    /// The base weight, `[in, out]` (burn's row layout).
    pub base: Linear,
    /// The adapter, where the projection is a target.
    pub adapter: Option<Adapter>,
}

/// A LoRA adapter: `A` (`[r, in]`) and `B` (`[out, r]`), as PEFT stores them.
#[derive(Module, Debug)]
pub struct Adapter {
    /// `lora_A.weight`, `[r, in]`.
    pub a: Param<Tensor<2>>,
    /// `lora_B.weight`, `[out, r]`, zero when new.
    pub b: Param<Tensor<2>>,
    dropout: Dropout,
    /// `alpha / r`.
    scale: f64,
}

impl LoraLinear {
    /// `x · W (+ dropout(x) · Aᵀ · Bᵀ · scale)` on the last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = linear(x.clone(), self.base_weight(), None);
        let Some(ad) = &self.adapter else {
            return y;
        };
        let h = linear(ad.dropped(x), ad.a.val().transpose(), None);
        let update = linear(h, ad.b.val().transpose(), None);
        y + update.mul_scalar(ad.scale)
    }

    /// The projection with its adapter merged into the weight: `W + (B · A)ᵀ · scale`
    /// (what serving a fine-tuned model without the adapter path computes).
    pub fn merged(&self) -> Linear {
        let weight = self.base_weight();
        let weight = match &self.adapter {
            Some(ad) => {
                weight
                    + ad.a
                        .val()
                        .transpose()
                        .matmul(ad.b.val().transpose())
                        .mul_scalar(ad.scale)
            }
            None => weight,
        };
        Linear {
            weight: Param::from_tensor(weight),
            bias: None,
        }
    }

    /// The base weight in f32, `[in, out]`: dequantized (a new leaf without gradients) when
    /// the base is held quantized.
    pub fn base_weight(&self) -> Tensor<2> {
        let w = self.base.weight.val();
        if matches!(w.dtype(), burn::tensor::DType::QFloat(_)) {
            w.dequantize()
        } else {
            w
        }
    }

    /// `(in, out)`.
    fn dims(&self) -> (usize, usize) {
        let [d_in, d_out] = self.base.weight.dims();
        (d_in, d_out)
    }

    /// A new adapter on this projection: `A` drawn as burn draws a linear layer's weight
    /// (Kaiming-uniform, PEFT's default for `lora_A`), `B` zero.
    fn with_adapter(self, spec: &LoraSettings, device: &Device) -> LoraLinear {
        let (d_in, d_out) = self.dims();
        let a = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        }
        .init_with([spec.r, d_in], Some(d_in), Some(spec.r), device);
        let b = Initializer::Zeros.init([d_out, spec.r], device);
        LoraLinear {
            base: self.base,
            adapter: Some(Adapter {
                a,
                b,
                dropout: DropoutConfig::new(spec.dropout).init(),
                scale: spec.scale(),
            }),
        }
    }
}

impl Adapter {
    /// The adapter's input after its training-time dropout, as `Dropout` applies it. On Flex
    /// the mask comes from one ChaCha8 stream seeded from the device's RNG (48 bits) and
    /// scales the kept values in the same pass: burn's dropout draws each element through a
    /// new sampler and then multiplies twice, about a twentieth of a LoRA step. Elsewhere (a
    /// GPU, where nothing may be read back here) it is `Dropout` itself.
    fn dropped<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let d = &self.dropout;
        if !d.training.is_enabled() || !x.device().is_autodiff() || d.prob <= 0.0 || d.prob >= 1.0 {
            return d.forward(x);
        }
        match flex_dropout_mask(&x, d.prob) {
            Some(mask) => x * mask,
            None => d.forward(x),
        }
    }
}

/// On Flex, the dropout mask for `x` (`1 / (1 - p)` where a value is kept, else 0), on `x`'s
/// device without gradients; `None` elsewhere.
fn flex_dropout_mask<const D: usize>(x: &Tensor<D>, p: f64) -> Option<Tensor<D>> {
    flex_dropout_masks(x, &[p])
}

/// [`flex_dropout_mask`] with `x`'s elements in `probs.len()` equal consecutive blocks, block
/// `k` dropped with probability `probs[k]` (a LoRA stack's trials, one block each).
fn flex_dropout_masks<const D: usize>(x: &Tensor<D>, probs: &[f64]) -> Option<Tensor<D>> {
    let device = x.device().inner();
    if !crate::train::backend::on_flex(&device) {
        return None;
    }
    let shape = x.shape();
    let n = shape.num_elements();
    let mask = dropout_mask_blocks(&device, n, probs)?;
    Some(Tensor::from_data(TensorData::new(mask, shape), &x.device()))
}

/// `n` dropout-mask values in `probs.len()` equal consecutive blocks (the last takes the
/// rest), block `k` dropped with probability `probs[k]`: one ChaCha8 stream seeded from the
/// Flex `device`'s RNG (as the CNN's CPU path seeds its dropout), a value kept (scaled by
/// `1 / (1 - p)`) where a uniform u32 is at least `p · 2^32`, else 0. The model's forward
/// pass and the CPU path (`lm::cpu`) draw their masks here, so both draw the same ones.
fn dropout_mask_blocks(device: &Device, n: usize, probs: &[f64]) -> Option<Vec<f32>> {
    use rand::{Rng, SeedableRng};
    let seed = crate::train::model::seed_from_device(device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let block = n / probs.len().max(1);
    let mut mask = Vec::with_capacity(n);
    for (k, p) in probs.iter().enumerate() {
        let threshold = (p * 4_294_967_296.0) as u64;
        let scale = (1.0 / (1.0 - p)) as f32;
        let len = if k + 1 == probs.len() {
            n - k * block
        } else {
            block
        };
        mask.extend((0..len).map(|_| {
            if u64::from(rng.next_u32()) >= threshold {
                scale
            } else {
                0.0
            }
        }));
    }
    Some(mask)
}

/// Causal multi-head self-attention.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: LoraLinear,
    /// Key projection.
    pub k_proj: LoraLinear,
    /// Value projection.
    pub v_proj: LoraLinear,
    /// Output projection.
    pub o_proj: LoraLinear,
    heads: usize,
}

/// How a block applies projection `name` (its adapter, or adapters held elsewhere) to `x`.
type Project<'a> = &'a dyn Fn(&'static str, &LoraLinear, Tensor<3>) -> Tensor<3>;

impl Attention {
    fn forward(&self, x: Tensor<3>, project: Project) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let split = |name, p: &LoraLinear| {
            project(name, p, x.clone())
                .reshape([b, t, h, dh])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (
            split("q_proj", &self.q_proj),
            split("k_proj", &self.k_proj),
            split("v_proj", &self.v_proj),
        );
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (dh as f64).sqrt());
        // True above the diagonal: a position sees itself and what came before.
        let future = Tensor::<2, Bool>::tril_mask([t, t], 0, &x.device())
            .unsqueeze::<4>()
            .expand([b, h, t, t]);
        // -inf, not a large negative number: exp(-inf) is 0 at once, while exp of a finite
        // number below about -104 underflows through libm's slow path (half of the scores).
        let weights = softmax(scores.mask_fill(future, f32::NEG_INFINITY), 3);
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        project("o_proj", &self.o_proj, out)
    }
}

/// The MLP: `down(silu(gate(x)) * up(x))`.
#[derive(Module, Debug)]
pub struct FeedForward {
    /// Gate projection.
    pub gate_proj: LoraLinear,
    /// Up projection.
    pub up_proj: LoraLinear,
    /// Down projection.
    pub down_proj: LoraLinear,
}

impl FeedForward {
    fn forward(&self, x: Tensor<3>, project: Project) -> Tensor<3> {
        let gate = silu(project("gate_proj", &self.gate_proj, x.clone()));
        let up = project("up_proj", &self.up_proj, x);
        project("down_proj", &self.down_proj, gate * up)
    }
}

/// A pre-norm block.
#[derive(Module, Debug)]
pub struct Layer {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Attention.
    pub self_attn: Attention,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
    /// The MLP.
    pub mlp: FeedForward,
}

impl Layer {
    fn forward(&self, x: Tensor<3>, project: Project) -> Tensor<3> {
        let x = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), project);
        x.clone()
            + self
                .mlp
                .forward(self.post_attention_layernorm.forward(x), project)
    }

    /// Every projection of the block, with its name inside the block.
    fn projections_mut(&mut self) -> [(&'static str, &mut LoraLinear); 7] {
        [
            ("q_proj", &mut self.self_attn.q_proj),
            ("k_proj", &mut self.self_attn.k_proj),
            ("v_proj", &mut self.self_attn.v_proj),
            ("o_proj", &mut self.self_attn.o_proj),
            ("gate_proj", &mut self.mlp.gate_proj),
            ("up_proj", &mut self.mlp.up_proj),
            ("down_proj", &mut self.mlp.down_proj),
        ]
    }

    fn projections(&self) -> [(&'static str, &LoraLinear); 7] {
        [
            ("q_proj", &self.self_attn.q_proj),
            ("k_proj", &self.self_attn.k_proj),
            ("v_proj", &self.self_attn.v_proj),
            ("o_proj", &self.self_attn.o_proj),
            ("gate_proj", &self.mlp.gate_proj),
            ("up_proj", &self.mlp.up_proj),
            ("down_proj", &self.mlp.down_proj),
        ]
    }
}

/// The language model.
#[derive(Module, Debug)]
pub struct TinyLm {
    /// Token embeddings, `[256, d_model]`.
    pub embed_tokens: Embedding,
    /// Learned position embeddings, `[context, d_model]`.
    pub embed_positions: Embedding,
    /// The blocks.
    pub layers: Vec<Layer>,
    /// The final norm.
    pub norm: RmsNorm,
    /// The output head, `[d_model, 256]`.
    pub lm_head: Linear,
    context: usize,
}

impl TinyLm {
    /// The longest input, in tokens.
    pub fn context(&self) -> usize {
        self.context
    }

    /// `[batch, time]` tokens → logits `[batch, time, 256]`. `time` must be at most
    /// [`TinyLm::context`].
    ///
    /// Without autodiff on Flex (evaluations, text samples) it runs on the CPU path
    /// (`lm::cpu`), the same function up to float rounding.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        if !tokens.device().is_autodiff()
            && let Some(logits) = cpu::logits(self, &tokens)
        {
            return logits;
        }
        self.forward_with(tokens, &|_, _, p, x| p.forward(x))
    }

    /// [`TinyLm::forward`] with `project(block, name, projection, x)` applying each
    /// projection (the LoRA stack applies its stacked adapters there).
    pub(crate) fn forward_with(
        &self,
        tokens: Tensor<2, Int>,
        project: &dyn Fn(usize, &'static str, &LoraLinear, Tensor<3>) -> Tensor<3>,
    ) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &tokens.device())
            .unsqueeze::<2>()
            .expand([b, t]);
        let mut x = self.embed_tokens.forward(tokens) + self.embed_positions.forward(positions);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, &|name, p, x| project(i, name, p, x));
        }
        self.lm_head.forward(self.norm.forward(x))
    }

    /// Mean cross-entropy (nats per token) of predicting `tokens[:, 1..]` from
    /// `tokens[:, ..t-1]`, as a one-element tensor. `tokens` is `[batch, time + 1]`.
    pub fn loss(&self, tokens: Tensor<2, Int>) -> Tensor<1> {
        let [b, t1] = tokens.dims();
        let t = t1 - 1;
        let input = tokens.clone().narrow(1, 0, t);
        let target = tokens.narrow(1, 1, t).reshape([b * t, 1]);
        let logits = self.forward(input).reshape([b * t, VOCAB]);
        next_byte_loss(logits, target.reshape([b * t]))
    }

    /// The mean cross-entropy of `tokens` (as [`TinyLm::loss`], without autodiff) and the
    /// gradients of every trainable parameter, for an optimiser step. On Flex under autodiff
    /// the step runs on the CPU path (`lm::cpu`: forward and backward by hand on plain
    /// buffers, the same function up to float rounding, the same dropout masks); elsewhere
    /// on burn's autodiff.
    pub fn loss_and_grads(&self, tokens: Tensor<2, Int>) -> (Tensor<1>, GradientsParams) {
        if let Some(step) = cpu::loss_and_grads(self, &tokens) {
            return step;
        }
        let loss = self.loss(tokens);
        let grads = GradientsParams::from_grads(loss.backward(), self);
        (loss.detach().inner(), grads)
    }

    /// The base frozen (no gradients, so no optimiser state) and adapters added to the
    /// projections `spec` targets. Adapters already present are replaced.
    pub fn with_lora(self, spec: &LoraSettings, device: &Device) -> Result<TinyLm, TrainError> {
        spec.validate()?;
        let mut model = self.no_grad();
        for layer in &mut model.layers {
            for (name, proj) in layer.projections_mut() {
                let plain = LoraLinear {
                    base: proj.base.clone(),
                    adapter: None,
                };
                *proj = if spec.targets.covers(name) {
                    plain.with_adapter(spec, device)
                } else {
                    plain
                };
            }
        }
        Ok(model)
    }

    /// The base's projections held quantized as `q` says (QLoRA's frozen base; embeddings,
    /// norms and the head stay f32, as there). Call after [`TinyLm::with_lora`]: the
    /// quantized weights take no gradients.
    pub fn quantize_base(mut self, q: BaseQuant) -> Result<TinyLm, TrainError> {
        let scheme = quant_scheme(q);
        for layer in &self.layers {
            for (name, proj) in layer.projections() {
                let (d_in, d_out) = proj.dims();
                if !d_in.is_multiple_of(QUANT_BLOCK) || !d_out.is_multiple_of(QUANT_BLOCK) {
                    return Err(TrainError::Config(format!(
                        "base_quant needs every projection's sizes to be multiples of {QUANT_BLOCK}; {name} is {d_in} x {d_out}"
                    )));
                }
            }
        }
        for layer in &mut self.layers {
            for (_, proj) in layer.projections_mut() {
                let w = proj.base.weight.val().quantize_dynamic(&scheme);
                proj.base.weight = Param::from_tensor(w).set_require_grad(false);
            }
        }
        Ok(self)
    }

    /// How the base's projections are held: quantized as [`TinyLm::quantize_base`] made
    /// them, or `None` in f32.
    pub fn base_quant(&self) -> Option<BaseQuant> {
        let w = self.layers.first()?.self_attn.q_proj.base.weight.val();
        match w.dtype() {
            burn::tensor::DType::QFloat(scheme) => match scheme.value.size_bits() {
                8 => Some(BaseQuant::Int8),
                4 => Some(BaseQuant::Int4),
                _ => None,
            },
            _ => None,
        }
    }

    /// Bytes the base's weights take as held: f32 parameters at 4 bytes, quantized ones at
    /// their packed width plus an f32 scale per block (adapters not counted).
    pub fn base_bytes(&self) -> u64 {
        let mut quantized = 0u64;
        let mut quantized_f32 = 0u64;
        for layer in &self.layers {
            for (_, proj) in layer.projections() {
                let w = proj.base.weight.val();
                if let burn::tensor::DType::QFloat(scheme) = w.dtype() {
                    let n = w.dims().iter().product::<usize>() as u64;
                    let bits = scheme.value.size_bits() as u64;
                    quantized += n * bits / 8 + n.div_ceil(QUANT_BLOCK as u64) * 4;
                    quantized_f32 += n * 4;
                }
            }
        }
        let adapters: u64 = self
            .adapter_tensors()
            .iter()
            .map(|(_, t)| t.dims().iter().product::<usize>() as u64 * 4)
            .sum();
        (self.num_params() as u64 * 4)
            .saturating_sub(adapters)
            .saturating_sub(quantized_f32)
            + quantized
    }

    /// The model with every adapter merged into its projection's weight (no adapters
    /// left).
    pub fn merged(&self) -> TinyLm {
        let mut model = self.clone();
        for layer in &mut model.layers {
            for (_, proj) in layer.projections_mut() {
                *proj = LoraLinear {
                    base: proj.merged(),
                    adapter: None,
                };
            }
        }
        model
    }

    /// The number of parameters that train: the adapters' with LoRA, every one without.
    pub fn trainable_params(&self) -> usize {
        let adapters: usize = self
            .layers
            .iter()
            .flat_map(|l| l.projections())
            .filter_map(|(_, p)| p.adapter.as_ref())
            .map(|a| {
                a.a.val().dims().iter().product::<usize>()
                    + a.b.val().dims().iter().product::<usize>()
            })
            .sum();
        if adapters > 0 {
            adapters
        } else {
            self.num_params()
        }
    }

    /// The adapters' names (PEFT's, e.g. `layers.0.self_attn.q_proj.lora_A.weight`) with
    /// their tensors.
    pub fn adapter_tensors(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, proj) in layer.projections() {
                if let Some(ad) = &proj.adapter {
                    let kind = if is_mlp(name) { "mlp" } else { "self_attn" };
                    let prefix = format!("layers.{i}.{kind}.{name}");
                    out.push((format!("{prefix}.lora_A.weight"), ad.a.val()));
                    out.push((format!("{prefix}.lora_B.weight"), ad.b.val()));
                }
            }
        }
        out
    }
}

/// `n` bytes sampled from `model` after `prompt` (temperature `temperature`; 0 takes the
/// most likely byte), from `seed`: the same model, prompt and seed give the same text. Each
/// byte is one forward pass over the last [`TinyLm::context`] bytes, read back
/// asynchronously. Returns the new text only (bytes that are not UTF-8 shown as U+FFFD).
pub async fn generate(
    model: &TinyLm,
    prompt: &str,
    n: usize,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Result<String, TrainError> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tokens = tokenize(prompt);
    if tokens.is_empty() {
        tokens.push(i64::from(b'\n'));
    }
    let start = tokens.len();
    for _ in 0..n {
        let from = tokens.len().saturating_sub(model.context());
        let window = &tokens[from..];
        let t = window.len();
        let input = Tensor::<2, Int>::from_data(TensorData::new(window.to_vec(), [1, t]), device);
        let logits = model.forward(input).narrow(1, t - 1, 1).reshape([VOCAB]);
        let logits = logits
            .into_data_async()
            .await
            .map_err(|e| TrainError::Device(format!("{e:?}")))?
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Device(format!("{e:?}")))?;
        let next = if temperature <= 0.0 {
            logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        } else {
            let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let weights: Vec<f64> = logits
                .iter()
                .map(|l| (f64::from(l - top) / temperature).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            let mut u = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
            let mut pick = VOCAB - 1;
            for (i, w) in weights.iter().enumerate() {
                if u < *w {
                    pick = i;
                    break;
                }
                u -= w;
            }
            pick
        };
        tokens.push(next as i64);
    }
    let bytes: Vec<u8> = tokens[start..].iter().map(|b| *b as u8).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Mean cross-entropy of `logits` (`[n, 256]`) against the bytes `target` (`[n]`).
pub fn next_byte_loss(logits: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1)
        .gather(1, target.reshape([n, 1]))
        .mean()
        .neg()
}

/// Byte tokens of `text`.
pub fn tokenize(text: &str) -> Vec<i64> {
    text.bytes().map(i64::from).collect()
}

/// A batch of `starts.len()` windows of `len + 1` tokens of `tokens`, each beginning at its
/// start (which must leave room for the window).
pub fn windows(tokens: &[i64], starts: &[usize], len: usize, device: &Device) -> Tensor<2, Int> {
    let mut data = Vec::with_capacity(starts.len() * (len + 1));
    for &s in starts {
        data.extend_from_slice(&tokens[s..s + len + 1]);
    }
    Tensor::from_data(TensorData::new(data, [starts.len(), len + 1]), device)
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};

    /// Flex draws from one random number generator per process: these tests (and
    /// `stack`'s) seed it and train, so they take turns (as `tests/train_lm.rs` does).
    pub(super) fn flex_rng() -> std::sync::MutexGuard<'static, ()> {
        static FLEX_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        FLEX_RNG.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The adapters' dropout on Flex keeps each value scaled by 1 / (1 - p) or zeroes it,
    /// about a fraction p of them, the same way for the same seed of the device's RNG, and
    /// passes gradients only where it kept a value.
    #[test]
    #[cfg(feature = "flex")]
    fn adapter_dropout_on_flex_masks_as_dropout_does_and_follows_the_seed() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        let (rows, cols, p) = (200, 200, 0.25);
        let x = || Tensor::<2>::ones([rows, cols], &device).require_grad();
        let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
        let adapter = Adapter {
            a: Param::from_tensor(Tensor::zeros([1, cols], &device)),
            b: Param::from_tensor(Tensor::zeros([cols, 1], &device)),
            dropout: DropoutConfig::new(p).init(),
            scale: 1.0,
        };
        device.seed(7);
        let input = x();
        let dropped = adapter.dropped(input.clone());
        let grad = dropped.clone().sum().backward();
        let g = values(input.grad(&grad).unwrap());
        let v = values(dropped.inner());
        let scale = (1.0 / (1.0 - p)) as f32;
        assert!(
            v.iter().all(|x| *x == 0.0 || *x == scale),
            "values 0 or {scale}"
        );
        let zeros = v.iter().filter(|x| **x == 0.0).count() as f64 / v.len() as f64;
        assert!((zeros - p).abs() < 0.02, "a fraction {zeros} dropped");
        assert_eq!(g, v, "the gradient of the sum is the mask");
        device.seed(7);
        assert_eq!(
            values(adapter.dropped(x()).inner()),
            v,
            "same seed, same mask"
        );
        device.seed(8);
        assert_ne!(
            values(adapter.dropped(x()).inner()),
            v,
            "another seed, another mask"
        );
        // Without autodiff (evaluation) nothing is dropped.
        let plain = Tensor::<2>::ones([rows, cols], &Device::flex());
        assert!(values(adapter.dropped(plain)).iter().all(|x| *x == 1.0));
    }

    fn small() -> LmConfig {
        LmConfig {
            d_model: 16,
            layers: 2,
            heads: 2,
            d_ff: 32,
            context: 12,
        }
    }

    fn spec(targets: LoraTargets) -> LoraSettings {
        LoraSettings {
            r: 4,
            alpha: 8.0,
            dropout: 0.0,
            targets,
        }
    }

    pub(super) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    pub(super) fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn tokens(device: &Device) -> Tensor<2, Int> {
        let t = tokenize("the quick brown fox jumps over the lazy dog!");
        windows(&t, &[0, 5, 17], 11, device)
    }

    /// Gives every adapter's B random values, so that the adapters change the output.
    fn perturb(model: TinyLm, device: &Device) -> TinyLm {
        let mut model = model;
        for layer in &mut model.layers {
            for (_, proj) in layer.projections_mut() {
                if let Some(ad) = &mut proj.adapter {
                    let dims = ad.b.val().dims();
                    ad.b = Param::from_tensor(Tensor::random(
                        dims,
                        burn::tensor::Distribution::Normal(0.0, 0.3),
                        device,
                    ));
                }
            }
        }
        model
    }

    #[test]
    fn a_new_adapter_computes_exactly_the_base() {
        let _turn = flex_rng();
        let device = Device::flex();
        device.seed(1);
        let base = small().init(&device).unwrap();
        let x = tokens(&device).narrow(1, 0, 11);
        let want = to_vec(base.forward(x.clone()));
        for targets in LoraTargets::ALL {
            let adapted = base.clone().with_lora(&spec(targets), &device).unwrap();
            assert!(!adapted.adapter_tensors().is_empty());
            assert_eq!(to_vec(adapted.forward(x.clone())), want, "{targets:?}");
        }
    }

    #[test]
    fn merged_weights_compute_what_the_adapter_path_does() {
        let _turn = flex_rng();
        let device = Device::flex();
        device.seed(2);
        let base = small().init(&device).unwrap();
        let x = tokens(&device).narrow(1, 0, 11);
        let base_out = to_vec(base.forward(x.clone()));
        for targets in LoraTargets::ALL {
            let adapted = perturb(
                base.clone().with_lora(&spec(targets), &device).unwrap(),
                &device,
            );
            let path = to_vec(adapted.forward(x.clone()));
            assert!(
                max_diff(&path, &base_out) > 1e-3,
                "the adapters change the output"
            );
            let merged = to_vec(adapted.merged().forward(x.clone()));
            assert!(
                max_diff(&path, &merged) < 1e-4,
                "{targets:?}: {}",
                max_diff(&path, &merged)
            );
        }
    }

    #[test]
    fn gradients_reach_only_the_adapters() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(3);
        let base = small().init(&device).unwrap();
        let full = base.num_params();
        for (targets, projections) in [
            (LoraTargets::Qv, 2),
            (LoraTargets::Qkvo, 4),
            (LoraTargets::All, 7),
        ] {
            let model = perturb(
                base.clone().with_lora(&spec(targets), &device).unwrap(),
                &device,
            );
            let grads = GradientsParams::from_grads(model.loss(tokens(&device)).backward(), &model);
            let adapters = model.adapter_tensors();
            assert_eq!(adapters.len(), 2 * projections * 2, "{targets:?}");
            // Exactly the adapters' A and B have gradients, and the counts agree.
            assert_eq!(grads.len(), adapters.len(), "{targets:?}");
            for layer in &model.layers {
                for (name, proj) in layer.projections() {
                    assert!(
                        grads.get::<2>(proj.base.weight.id).is_none(),
                        "{name} is frozen"
                    );
                    if let Some(ad) = &proj.adapter {
                        let g = grads.get::<2>(ad.a.id).expect("A has a gradient");
                        assert!(to_vec(g).iter().any(|v| *v != 0.0), "{name}: A's gradient");
                        assert!(grads.get::<2>(ad.b.id).is_some(), "{name}: B's gradient");
                    }
                }
            }
            let d = 16;
            let per_layer = match targets {
                LoraTargets::Qv => 2 * (4 * d + d * 4),
                LoraTargets::Qkvo => 4 * (4 * d + d * 4),
                LoraTargets::All => 4 * (4 * d + d * 4) + 2 * (4 * d + 32 * 4) + (4 * 32 + d * 4),
            };
            assert_eq!(model.trainable_params(), 2 * per_layer, "{targets:?}");
            assert!(model.trainable_params() < full / 4);
        }
        assert_eq!(base.trainable_params(), full);
    }

    #[test]
    fn a_quantized_base_stays_close_to_f32_is_smaller_and_trains_only_adapters() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(6);
        let config = LmConfig {
            d_model: 32,
            d_ff: 64,
            ..small()
        };
        let base = config.init(&device).unwrap();
        let adapted = perturb(
            base.clone()
                .with_lora(&spec(LoraTargets::All), &device)
                .unwrap(),
            &device,
        );
        let x = tokens(&device).narrow(1, 0, 11);
        let want = to_vec(adapted.forward(x.clone()).inner());
        let f32_bytes = adapted.base_bytes();
        assert_eq!(f32_bytes, (base.num_params() * 4) as u64);
        // Random weights (drawn on rayon's threads, so not the same every run) put the
        // largest logit error of int8 between 1% and 3% of the largest logit, of int4 between
        // 13% and 53%: the bounds leave room for every draw. The shipped base's loss is held to
        // 0.005 and 0.05 nats in `tests/train_lm.rs`.
        for (q, tolerance, ratio) in [(BaseQuant::Int8, 0.05, 0.3), (BaseQuant::Int4, 0.8, 0.2)] {
            let quantized = perturb(
                base.clone()
                    .with_lora(&spec(LoraTargets::All), &device)
                    .unwrap(),
                &device,
            );
            // The same adapters as `adapted`, on a quantized base.
            let mut quantized = quantized.quantize_base(q).unwrap();
            for (l, r) in quantized.layers.iter_mut().zip(&adapted.layers) {
                for ((_, p), (_, o)) in l.projections_mut().into_iter().zip(r.projections()) {
                    if let (Some(a), Some(b)) = (&mut p.adapter, &o.adapter) {
                        a.a = Param::from_tensor(b.a.val());
                        a.b = Param::from_tensor(b.b.val());
                    }
                }
            }
            let got = to_vec(quantized.forward(x.clone()).inner());
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let diff = max_diff(&got, &want);
            eprintln!("{q:?}: max |logit diff| {diff} (largest logit {scale})");
            assert!(diff < tolerance * scale, "{q:?}: {diff} vs {scale}");
            // The projections' weights shrink to their width (plus a scale per 32 values);
            // embeddings, norms and the head stay f32.
            let projections: u64 = quantized
                .layers
                .iter()
                .flat_map(|l| l.projections())
                .map(|(_, p)| p.base.weight.val().dims().iter().product::<usize>() as u64)
                .sum();
            let want_bytes = f32_bytes - projections * 4
                + projections * q.bits() / 8
                + projections.div_ceil(QUANT_BLOCK as u64) * 4;
            assert_eq!(quantized.base_bytes(), want_bytes, "{q:?}");
            assert!(projections * q.bits() / 8 < (ratio * (projections * 4) as f64) as u64);
            // Only the adapters get gradients.
            let grads =
                GradientsParams::from_grads(quantized.loss(tokens(&device)).backward(), &quantized);
            assert_eq!(grads.len(), quantized.adapter_tensors().len(), "{q:?}");
        }
        let e = small()
            .init(&device)
            .unwrap()
            .quantize_base(BaseQuant::Int8)
            .unwrap_err();
        assert!(e.to_string().contains("multiples of 32"), "{e}");
    }

    #[test]
    fn a_position_sees_only_what_came_before() {
        let _turn = flex_rng();
        let device = Device::flex();
        device.seed(4);
        let model = small().init(&device).unwrap();
        let a = tokenize("abcdefghij");
        let mut b = a.clone();
        b[7] = i64::from(b'Z');
        let la = to_vec(model.forward(windows(&a, &[0], 9, &device).narrow(1, 0, 10)));
        let lb = to_vec(model.forward(windows(&b, &[0], 9, &device).narrow(1, 0, 10)));
        let before = 7 * VOCAB;
        assert_eq!(
            la[..before],
            lb[..before],
            "positions 0..7 do not see position 7"
        );
        assert!(max_diff(&la[before..], &lb[before..]) > 1e-4);
    }

    /// Trains `model` on `batch` for `steps` Adam steps at `lr`; returns it with the loss
    /// before and after.
    fn fit(model: TinyLm, batch: &Tensor<2, Int>, steps: usize, lr: f64) -> (TinyLm, f32, f32) {
        let mut model = model;
        let mut optim = AdamConfig::new().init();
        let first = to_vec(model.loss(batch.clone()).inner())[0];
        for _ in 0..steps {
            let loss = model.loss(batch.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let last = to_vec(model.loss(batch.clone()).inner())[0];
        (model, first, last)
    }

    #[test]
    fn a_tiny_corpus_is_overfit_and_lora_adapts_the_base_to_another() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(5);
        let config = LmConfig {
            d_model: 32,
            d_ff: 64,
            ..small()
        };
        // Full training: from about ln 256 = 5.5 nats per byte to near zero.
        let text = tokenize("hello world, hello lora. ");
        let batch = windows(&text, &[0, 4, 9, 13], 11, &device);
        let (base, first, last) = fit(config.init(&device).unwrap(), &batch, 200, 1e-2);
        assert!(first > 4.0 && last < 0.1, "{first} -> {last}");
        // LoRA on that base learns another text of the same letters; the base does not move.
        let other = tokenize("world, hello lora hello. ");
        let other = windows(&other, &[0, 4, 9, 13], 11, &device);
        let q_before = to_vec(base.layers[0].self_attn.q_proj.base.weight.val());
        let spec = LoraSettings {
            r: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: LoraTargets::All,
        };
        let adapted = base.with_lora(&spec, &device).unwrap();
        let (adapted, first, last) = fit(adapted, &other, 300, 2e-2);
        assert!(first > 3.0 && last < first / 4.0, "{first} -> {last}");
        let q_after = to_vec(adapted.layers[0].self_attn.q_proj.base.weight.val());
        assert_eq!(q_before, q_after, "the base is frozen");
    }

    /// Every parameter of `model` with its rank: (name, id, 1 or 2).
    fn param_ids(model: &TinyLm) -> Vec<(String, burn::module::ParamId, usize)> {
        let mut out = vec![
            ("embed_tokens".to_string(), model.embed_tokens.weight.id, 2),
            (
                "embed_positions".to_string(),
                model.embed_positions.weight.id,
                2,
            ),
            ("norm".to_string(), model.norm.gamma.id, 1),
            ("lm_head".to_string(), model.lm_head.weight.id, 2),
        ];
        for (i, layer) in model.layers.iter().enumerate() {
            out.push((
                format!("{i}.input_layernorm"),
                layer.input_layernorm.gamma.id,
                1,
            ));
            out.push((
                format!("{i}.post_attention_layernorm"),
                layer.post_attention_layernorm.gamma.id,
                1,
            ));
            for (name, p) in layer.projections() {
                out.push((format!("{i}.{name}"), p.base.weight.id, 2));
                if let Some(ad) = &p.adapter {
                    out.push((format!("{i}.{name}.lora_A"), ad.a.id, 2));
                    out.push((format!("{i}.{name}.lora_B"), ad.b.id, 2));
                }
            }
        }
        out
    }

    /// The CPU path's step (`lm::cpu`) computes the loss and gradients burn's autodiff does,
    /// on the same model and batch: full fine-tuning, LoRA on every target set with and
    /// without dropout (the same masks from the same device RNG), and over an int8 base.
    #[test]
    fn the_cpu_step_computes_the_loss_and_gradients_of_autodiff() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(7);
        // A model of its own: clones share their parameters' lazy initialisation, and
        // `with_lora` freezes the clones below.
        let full = small().init(&device).unwrap();
        let base = small().init(&device).unwrap();
        let mut cases = vec![("full fine-tuning".to_string(), full)];
        for targets in LoraTargets::ALL {
            for dropout in [0.0, 0.25] {
                let s = LoraSettings {
                    dropout,
                    ..spec(targets)
                };
                let model = perturb(base.clone().with_lora(&s, &device).unwrap(), &device);
                cases.push((format!("LoRA {targets:?}, dropout {dropout}"), model));
            }
        }
        // Quantization wants sizes in multiples of 32.
        let wide = LmConfig {
            d_model: 32,
            layers: 1,
            heads: 4,
            d_ff: 64,
            context: 12,
        };
        let s = LoraSettings {
            dropout: 0.1,
            ..spec(LoraTargets::All)
        };
        let int8 = perturb(
            wide.init(&device).unwrap().with_lora(&s, &device).unwrap(),
            &device,
        )
        .quantize_base(BaseQuant::Int8)
        .unwrap();
        cases.push(("LoRA over an int8 base".to_string(), int8));
        for (case, model) in cases {
            assert_cpu_step_is_autodiffs(&case, &model, &tokens(&device), &device);
        }
    }

    /// The same on shapes at the edges: one head, one token, a batch that leaves a short
    /// last chunk, rank 1, a context longer than the windows, full fine-tuning and LoRA.
    #[test]
    fn the_cpu_step_matches_autodiff_on_odd_shapes() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(9);
        let text = tokenize("a byte-level model reads any text at all, even this one. ");
        let shapes = [
            (
                LmConfig {
                    d_model: 8,
                    layers: 1,
                    heads: 1,
                    d_ff: 8,
                    context: 4,
                },
                1,
                9,
            ),
            (
                LmConfig {
                    d_model: 12,
                    layers: 2,
                    heads: 3,
                    d_ff: 20,
                    context: 16,
                },
                5,
                6,
            ),
            (
                LmConfig {
                    d_model: 16,
                    layers: 1,
                    heads: 4,
                    d_ff: 16,
                    context: 32,
                },
                7,
                1,
            ),
        ];
        for (i, (shape, t, batch)) in shapes.into_iter().enumerate() {
            let starts: Vec<usize> = (0..batch).map(|b| 3 * b).collect();
            let toks = windows(&text, &starts, t, &device);
            let full = shape.init(&device).unwrap();
            assert_cpu_step_is_autodiffs(&format!("shape {i}, full"), &full, &toks, &device);
            let s = LoraSettings {
                r: 1,
                alpha: 3.0,
                dropout: 0.2,
                targets: LoraTargets::All,
            };
            let lora = perturb(
                shape.init(&device).unwrap().with_lora(&s, &device).unwrap(),
                &device,
            );
            assert_cpu_step_is_autodiffs(&format!("shape {i}, LoRA"), &lora, &toks, &device);
        }
    }

    /// Asserts that the CPU path's step computes burn's autodiff loss (within 1e-5) and
    /// gradients (within 1e-4 of each one's largest value) for `model` on `toks`.
    fn assert_cpu_step_is_autodiffs(
        case: &str,
        model: &TinyLm,
        toks: &Tensor<2, Int>,
        device: &Device,
    ) {
        // A parameter still to be initialised draws from the device's RNG when first
        // read, which the two paths do at different points: a step reads them all first.
        cpu::loss_and_grads(model, toks).expect("the CPU path applies");
        // Both draw their dropout masks from the process's one Flex RNG, seeded the same
        // way; a test elsewhere in the binary (without this module's lock) may draw from
        // it in between, so a mismatch is retried (different masks never match).
        let mut attempt = 0;
        let (loss, grads, want_loss, want_grads) = loop {
            device.seed(11);
            let (loss, grads) = cpu::loss_and_grads(model, toks).expect("the CPU path applies");
            device.seed(11);
            let want = model.loss(toks.clone());
            let want_grads = GradientsParams::from_grads(want.backward(), model);
            let want_loss = to_vec(want.inner())[0];
            let loss = to_vec(loss)[0];
            attempt += 1;
            if (loss - want_loss).abs() < 1e-5 || attempt == 5 {
                break (loss, grads, want_loss, want_grads);
            }
        };
        assert!(
            (loss - want_loss).abs() < 1e-5,
            "{case}: loss {loss} vs {want_loss}"
        );
        assert_eq!(grads.len(), want_grads.len(), "{case}: gradients");
        for (name, id, rank) in param_ids(model) {
            let (got, want) = match rank {
                1 => (
                    grads.get::<1>(id).map(to_vec),
                    want_grads.get::<1>(id).map(to_vec),
                ),
                _ => (
                    grads.get::<2>(id).map(to_vec),
                    want_grads.get::<2>(id).map(to_vec),
                ),
            };
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => {
                    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    // (A gradient may be exactly zero: with one token, the attention's
                    // softmax is constant, and q and k get none.)
                    let diff = max_diff(&g, &w);
                    assert!(
                        diff <= 1e-4 * scale + 1e-7,
                        "{case}: {name} differs by {diff} (scale {scale})"
                    );
                }
                (g, w) => panic!(
                    "{case}: {name}: a gradient on one side only ({} vs {})",
                    g.is_some(),
                    w.is_some()
                ),
            }
        }
    }

    /// Without autodiff (evaluations, text samples) the CPU path's logits are burn's
    /// modules' (`forward_with`), with and without adapters, over an int8 base too.
    #[test]
    fn the_cpu_forward_computes_the_logits_of_burns_modules() {
        let _turn = flex_rng();
        let device = Device::flex();
        device.seed(5);
        let base = small().init(&device).unwrap();
        let s = LoraSettings {
            dropout: 0.3,
            ..spec(LoraTargets::All)
        };
        let adapted = perturb(
            small()
                .init(&device)
                .unwrap()
                .with_lora(&s, &device)
                .unwrap(),
            &device,
        );
        let wide = LmConfig {
            d_model: 32,
            layers: 1,
            heads: 4,
            d_ff: 64,
            context: 12,
        };
        let int8 = perturb(
            wide.init(&device).unwrap().with_lora(&s, &device).unwrap(),
            &device,
        )
        .quantize_base(BaseQuant::Int8)
        .unwrap();
        let x = tokens(&device).narrow(1, 0, 11);
        for (case, model) in [("base", base), ("LoRA", adapted), ("int8 base", int8)] {
            let got = to_vec(cpu::logits(&model, &x).expect("the CPU path applies"));
            let want = to_vec(model.forward_with(x.clone(), &|_, _, p, x| p.forward(x)));
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let diff = max_diff(&got, &want);
            assert!(diff <= 1e-5 * scale.max(1.0), "{case}: {diff}");
            assert_eq!(
                to_vec(model.forward(x.clone())),
                got,
                "{case}: forward takes it"
            );
        }
    }

    /// The shipped base's shape (3 blocks, width 96, 4 heads, MLP 256, 64-byte context)
    /// takes the CPU path, for training (LoRA on each target set, over int8 and int4 bases,
    /// full fine-tuning) and for evaluation, so a trial does not fall back to autodiff.
    #[test]
    fn the_shipped_shape_takes_the_cpu_path() {
        let _turn = flex_rng();
        let device = Device::flex().autodiff();
        device.seed(3);
        let shape = LmConfig {
            d_model: 96,
            layers: 3,
            heads: 4,
            d_ff: 256,
            context: 64,
        };
        let text = tokenize(&"the quick brown fox jumps over the lazy dog. ".repeat(4));
        let batch = windows(&text, &[0, 7, 30, 50, 90], 64, &device);
        let s = LoraSettings {
            r: 8,
            alpha: 16.0,
            dropout: 0.05,
            targets: LoraTargets::Qv,
        };
        let mut models = vec![("full fine-tuning".to_string(), shape.init(&device).unwrap())];
        for targets in LoraTargets::ALL {
            let lora = LoraSettings { targets, ..s };
            let m = shape
                .init(&device)
                .unwrap()
                .with_lora(&lora, &device)
                .unwrap();
            models.push((format!("LoRA {targets:?}"), m));
        }
        for q in [BaseQuant::Int8, BaseQuant::Int4] {
            let m = shape.init(&device).unwrap().with_lora(&s, &device).unwrap();
            models.push((format!("LoRA over {q:?}"), m.quantize_base(q).unwrap()));
        }
        for (case, model) in models {
            assert!(
                cpu::loss_and_grads(&model, &batch).is_some(),
                "{case}: training"
            );
            let input = batch.clone().inner().narrow(1, 0, 64);
            assert!(
                cpu::logits(&model.valid(), &input).is_some(),
                "{case}: evaluation"
            );
        }
    }
}
