//! The language model's training step on the CPU backend (Flex), forward and backward by hand.
//!
//! burn's autodiff runs a [`TinyLm`] step as several hundred tensor operations, each a fresh
//! buffer and a pass through memory; on the CPU most of the step is that per-operation work,
//! not the matrix products. Here the same step runs on plain `f32` buffers: every projection
//! (and its LoRA adapter), the causal attention, RMSNorm, the SwiGLU MLP, the head and the
//! cross-entropy, forward and then backward, with the products through `gemm`
//! ([`crate::train::cpu_gemm`]). The gradients of the trainable parameters (the adapters'
//! with LoRA, every weight's without) are handed to burn's optimiser as
//! [`GradientsParams`], so the optimisers, their state and everything after the step stay
//! burn's. The adapters' dropout draws the same masks, from the same device RNG and in the
//! same order, as the model's own forward pass on Flex (`Adapter::dropped`).
//!
//! The batch runs in chunks of [`SEQS`] sequences; natively the chunks run on rayon's pool
//! and their gradients are summed in chunk order (the sums do not depend on the thread
//! count); in the browser one chunk after another. [`TinyLm::loss_and_grads`] takes this path
//! on Flex and burn's autodiff elsewhere; the tests check the two against each other.
//!
//! Layouts: activations `[rows, width]` row-major (a row per token, the batch's sequences one
//! after another); projection weights `[in, out]` (burn's `Linear`); `A` `[r, in]` and `B`
//! `[out, r]` (PEFT's).

use burn::module::{Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{LoraLinear, TinyLm, VOCAB, dropout_mask_blocks};
use crate::train::backend::on_flex;
use crate::train::cpu_gemm::{Dst, Src, map_chunks, matmul, matmul_scaled};

/// Sequences per chunk of the batch.
const SEQS: usize = 4;

/// A parameter's values, read out of its tensor.
struct Weight {
    id: ParamId,
    shape: Vec<usize>,
    values: Vec<f32>,
    /// Whether it trains (takes a gradient).
    train: bool,
}

/// A LoRA adapter: indices of `A` and `B` in [`Lm::params`].
struct AdapterIx {
    a: usize,
    b: usize,
    r: usize,
    scale: f32,
}

/// A projection: its base weight's index in [`Lm::params`], sizes, and adapter.
struct ProjIx {
    w: usize,
    d_in: usize,
    d_out: usize,
    adapter: Option<AdapterIx>,
    /// The adapter's dropout mask for this step's input (kept values' scale, or 0).
    mask: Option<Vec<f32>>,
}

/// A block's parameters; projections in the order q, k, v, o, gate, up, down.
struct LayerIx {
    norm1: usize,
    eps1: f32,
    proj: Vec<ProjIx>,
    norm2: usize,
    eps2: f32,
}

/// Index of each projection in [`LayerIx::proj`].
const Q: usize = 0;
const K: usize = 1;
const V: usize = 2;
const O: usize = 3;
const GATE: usize = 4;
const UP: usize = 5;
const DOWN: usize = 6;

/// The model as plain buffers.
struct Lm {
    params: Vec<Weight>,
    tok: usize,
    pos: usize,
    layers: Vec<LayerIx>,
    norm: usize,
    eps: f32,
    head: usize,
    d: usize,
    heads: usize,
    d_ff: usize,
    context: usize,
}

/// One gradient per parameter of [`Lm::params`] (empty where it does not train).
type Grads = Vec<Vec<f32>>;

fn read<const D: usize>(p: &Param<Tensor<D>>) -> Option<Weight> {
    let t = p.val();
    let train = t.is_require_grad();
    read_tensor(p.id, t, train)
}

fn read_tensor<const D: usize>(id: ParamId, t: Tensor<D>, train: bool) -> Option<Weight> {
    let shape = t.dims().to_vec();
    let values = t
        .inner()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .ok()?;
    Some(Weight {
        id,
        shape,
        values,
        train,
    })
}

impl Lm {
    /// The model's buffers for a step of `rows` tokens, with the adapters' dropout masks
    /// drawn on `device` (none without a device: an evaluation); `None` where the path does not apply (a bias on the head, an adapter
    /// whose dropout is not a probability below 1, values that do not read as f32).
    ///
    /// The masks are drawn in the order the model's forward pass draws them, and the
    /// parameters read in that order too.
    fn new(model: &TinyLm, rows: usize, device: Option<&Device>) -> Option<Lm> {
        if model.lm_head.bias.is_some() {
            return None;
        }
        let [vocab, d] = model.embed_tokens.weight.dims();
        let [context, d_pos] = model.embed_positions.weight.dims();
        let [d_head, v_head] = model.lm_head.weight.dims();
        if vocab != VOCAB || d_pos != d || d_head != d || v_head != VOCAB {
            return None;
        }
        let mut params = Vec::new();
        let mut push = |w: Weight| {
            params.push(w);
            params.len() - 1
        };
        let tok = push(read(&model.embed_tokens.weight)?);
        let pos = push(read(&model.embed_positions.weight)?);
        let mut layers = Vec::with_capacity(model.layers.len());
        let (mut heads, mut d_ff) = (1, 0);
        for layer in &model.layers {
            heads = layer.self_attn.heads;
            let [q, k, v, o, gate, up, down] = layer.projections();
            let norm1 = push(read(&layer.input_layernorm.gamma)?);
            let mut proj = Vec::with_capacity(7);
            for (_, p) in [q, k, v, o] {
                proj.push(Self::projection(p, rows, device, &mut push)?);
            }
            let norm2 = push(read(&layer.post_attention_layernorm.gamma)?);
            for (_, p) in [gate, up, down] {
                proj.push(Self::projection(p, rows, device, &mut push)?);
            }
            d_ff = proj[GATE].d_out;
            layers.push(LayerIx {
                norm1,
                eps1: layer.input_layernorm.epsilon as f32,
                proj,
                norm2,
                eps2: layer.post_attention_layernorm.epsilon as f32,
            });
        }
        let norm = push(read(&model.norm.gamma)?);
        let head = push(read(&model.lm_head.weight)?);
        if heads == 0 || !d.is_multiple_of(heads) {
            return None;
        }
        let lm = Lm {
            params,
            tok,
            pos,
            layers,
            norm,
            eps: model.norm.epsilon as f32,
            head,
            d,
            heads,
            d_ff,
            context,
        };
        lm.shapes_agree().then_some(lm)
    }

    /// A projection's base weight (dequantized where held quantized), its adapter's mask
    /// for `rows` rows, then the adapter (the order `LoraLinear::forward` reads them in).
    fn projection(
        p: &LoraLinear,
        rows: usize,
        device: Option<&Device>,
        push: &mut impl FnMut(Weight) -> usize,
    ) -> Option<ProjIx> {
        let (d_in, d_out) = p.dims();
        if p.base.bias.is_some() {
            return None;
        }
        let train = p.base.weight.val().is_require_grad();
        let w = push(read_tensor(p.base.weight.id, p.base_weight(), train)?);
        let Some(ad) = &p.adapter else {
            return Some(ProjIx {
                w,
                d_in,
                d_out,
                adapter: None,
                mask: None,
            });
        };
        let dropout = &ad.dropout;
        let prob = if dropout.training.is_enabled() && dropout.prob > 0.0 {
            dropout.prob
        } else {
            0.0
        };
        if prob >= 1.0 {
            return None;
        }
        let mask = match device {
            Some(device) if prob > 0.0 => Some(dropout_mask_blocks(device, rows * d_in, &[prob])?),
            _ => None,
        };
        let (a, b) = (push(read(&ad.a)?), push(read(&ad.b)?));
        let ([r, a_in], [b_out, b_r]) = (ad.a.dims(), ad.b.dims());
        if a_in != d_in || b_out != d_out || b_r != r {
            return None;
        }
        Some(ProjIx {
            w,
            d_in,
            d_out,
            adapter: Some(AdapterIx {
                a,
                b,
                r,
                scale: ad.scale as f32,
            }),
            mask,
        })
    }

    /// Whether every buffer has the length its shape says (so no product below can fail).
    fn shapes_agree(&self) -> bool {
        let (d, f) = (self.d, self.d_ff);
        let len = |i: usize| self.params[i].values.len();
        let blocks = self.layers.iter().all(|l| {
            let sizes = [(d, d), (d, d), (d, d), (d, d), (d, f), (d, f), (f, d)];
            len(l.norm1) == d
                && len(l.norm2) == d
                && l.proj.len() == 7
                && l.proj.iter().zip(sizes).all(|(p, (i, o))| {
                    p.d_in == i
                        && p.d_out == o
                        && len(p.w) == i * o
                        && p.adapter
                            .as_ref()
                            .is_none_or(|a| len(a.a) == a.r * i && len(a.b) == o * a.r)
                })
        });
        blocks
            && len(self.tok) == VOCAB * d
            && len(self.pos) == self.context * d
            && len(self.norm) == d
            && len(self.head) == d * VOCAB
    }

    fn w(&self, i: usize) -> &[f32] {
        &self.params[i].values
    }

    /// Zeroed gradients for the trainable parameters.
    fn zero_grads(&self) -> Grads {
        self.params
            .iter()
            .map(|p| {
                if p.train {
                    vec![0.0; p.values.len()]
                } else {
                    Vec::new()
                }
            })
            .collect()
    }
}

/// An operand of [`mm`]: a row-major buffer read as it is (`N`) or transposed (`T`).
#[derive(Clone, Copy)]
enum Op<'a> {
    N(&'a [f32]),
    T(&'a [f32]),
}

use Op::{N, T};

/// `c = scale · a · b` (or `c +=` with `acc`), row-major: `a` is `[m, k]` (stored `[k, m]`
/// when transposed), `b` `[k, n]` (stored `[n, k]`), `c` `[m, n]`.
fn mm(
    c: &mut [f32],
    a: Op<'_>,
    b: Op<'_>,
    (m, k, n): (usize, usize, usize),
    acc: bool,
    scale: f32,
) -> Option<()> {
    let (a, sa) = match a {
        N(a) => (a, [k, 1]),
        T(a) => (a, [1, m]),
    };
    let (b, sb) = match b {
        N(b) => (b, [n, 1]),
        T(b) => (b, [1, k]),
    };
    matmul_scaled(
        Dst::new(c, 0, [m, n], [n, 1]),
        Src::new(a, 0, [m, k], sa),
        Src::new(b, 0, [k, n], sb),
        acc,
        scale,
    )
}

/// RMSNorm of each row of `x` (`[rows, d]`) with gain `g`: `x / rms(x) · g`, as burn's
/// `RmsNorm`; returns the output and each row's rms.
fn rms_norm(x: &[f32], g: &[f32], eps: f32, d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut y = vec![0.0f32; x.len()];
    let mut rms = Vec::with_capacity(x.len() / d);
    for (row, out) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
        let r = (ms + eps).sqrt();
        for ((o, v), gi) in out.iter_mut().zip(row).zip(g) {
            *o = v / r * gi;
        }
        rms.push(r);
    }
    (y, rms)
}

/// The backward pass of [`rms_norm`]: adds the input's gradient to `dx` and the gain's to
/// `dg` (when it trains).
fn rms_norm_backward(
    x: &[f32],
    rms: &[f32],
    g: &[f32],
    dy: &[f32],
    d: usize,
    dx: &mut [f32],
    dg: &mut [f32],
) {
    let rows = x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(rms);
    for (((x, dy), r), dx) in rows.zip(dx.chunks_exact_mut(d)) {
        let s = 1.0 / r;
        let dot: f32 = x.iter().zip(dy).zip(g).map(|((x, dy), g)| x * dy * g).sum();
        let c = dot * s * s * s / d as f32;
        for (((dx, x), dy), g) in dx.iter_mut().zip(x).zip(dy).zip(g) {
            *dx += s * g * dy - x * c;
        }
        if !dg.is_empty() {
            for ((dg, x), dy) in dg.iter_mut().zip(x).zip(dy) {
                *dg += dy * x * s;
            }
        }
    }
}

/// What a projection's forward pass keeps for its backward pass, where it has an adapter.
struct AdapterTape {
    /// The adapter's input after dropout (absent without dropout: the projection's input).
    dropped: Option<Vec<f32>>,
    /// `dropped · Aᵀ`, `[rows, r]`.
    h: Vec<f32>,
}

/// `x · W (+ dropout(x) · Aᵀ · Bᵀ · scale)` for `rows` rows; `mask` is the dropout's
/// (kept values' scale, or 0).
fn project(
    lm: &Lm,
    p: &ProjIx,
    x: &[f32],
    mask: Option<&[f32]>,
    rows: usize,
) -> Option<(Vec<f32>, Option<AdapterTape>)> {
    let mut y = vec![0.0f32; rows * p.d_out];
    mm(
        &mut y,
        N(x),
        N(lm.w(p.w)),
        (rows, p.d_in, p.d_out),
        false,
        1.0,
    )?;
    let Some(ad) = &p.adapter else {
        return Some((y, None));
    };
    let dropped: Option<Vec<f32>> = mask.map(|m| x.iter().zip(m).map(|(v, m)| v * m).collect());
    let input = dropped.as_deref().unwrap_or(x);
    let mut h = vec![0.0f32; rows * ad.r];
    mm(
        &mut h,
        N(input),
        T(lm.w(ad.a)),
        (rows, p.d_in, ad.r),
        false,
        1.0,
    )?;
    // y += scale · h · Bᵀ, scaled as gemm accumulates.
    mm(
        &mut y,
        N(&h),
        T(lm.w(ad.b)),
        (rows, ad.r, p.d_out),
        true,
        ad.scale,
    )?;
    Some((y, Some(AdapterTape { dropped, h })))
}

/// The backward pass of [`project`]: adds the input's gradient to `dx`, and the gradients of
/// the trainable weights to `grads`.
#[allow(clippy::too_many_arguments)]
fn project_backward(
    lm: &Lm,
    p: &ProjIx,
    x: &[f32],
    tape: Option<&AdapterTape>,
    mask: Option<&[f32]>,
    dy: &[f32],
    rows: usize,
    dx: &mut [f32],
    grads: &mut Grads,
) -> Option<()> {
    let (d_in, d_out) = (p.d_in, p.d_out);
    mm(dx, N(dy), T(lm.w(p.w)), (rows, d_out, d_in), true, 1.0)?;
    if !grads[p.w].is_empty() {
        mm(&mut grads[p.w], T(x), N(dy), (d_in, rows, d_out), true, 1.0)?;
    }
    let (Some(ad), Some(tape)) = (&p.adapter, tape) else {
        return Some(());
    };
    let r = ad.r;
    // The update's gradient is scale · dy; the scale rides in the products.
    if !grads[ad.b].is_empty() {
        mm(
            &mut grads[ad.b],
            T(dy),
            N(&tape.h),
            (d_out, rows, r),
            true,
            ad.scale,
        )?;
    }
    let mut dh = vec![0.0f32; rows * r];
    mm(
        &mut dh,
        N(dy),
        N(lm.w(ad.b)),
        (rows, d_out, r),
        false,
        ad.scale,
    )?;
    let input = tape.dropped.as_deref().unwrap_or(x);
    if !grads[ad.a].is_empty() {
        mm(
            &mut grads[ad.a],
            T(&dh),
            N(input),
            (r, rows, d_in),
            true,
            1.0,
        )?;
    }
    match mask {
        None => mm(dx, N(&dh), N(lm.w(ad.a)), (rows, r, d_in), true, 1.0)?,
        Some(m) => {
            let mut d_dropped = vec![0.0f32; rows * d_in];
            mm(
                &mut d_dropped,
                N(&dh),
                N(lm.w(ad.a)),
                (rows, r, d_in),
                false,
                1.0,
            )?;
            for ((dx, v), m) in dx.iter_mut().zip(&d_dropped).zip(m) {
                *dx += v * m;
            }
        }
    }
    Some(())
}

/// What a block's forward pass keeps for its backward pass.
struct LayerTape {
    x: Vec<f32>,
    rms1: Vec<f32>,
    r1: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Attention weights, `[seqs, heads, t, t]`.
    att: Vec<f32>,
    o: Vec<f32>,
    mid: Vec<f32>,
    rms2: Vec<f32>,
    r2: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    m: Vec<f32>,
    adapters: Vec<Option<AdapterTape>>,
}

/// The dropout masks of one chunk: per block, per projection (absent without dropout).
type Masks<'a> = Vec<Vec<Option<&'a [f32]>>>;

/// Sizes of a chunk's attention: `seqs` sequences of `t` tokens, `heads` heads of `dh`.
#[derive(Clone, Copy)]
struct AttSizes {
    seqs: usize,
    t: usize,
    heads: usize,
    dh: usize,
    d: usize,
}

/// Causal attention of `q`, `k`, `v` (`[seqs * t, d]`, heads side by side): the output and
/// the attention weights.
fn attention(q: &[f32], k: &[f32], v: &[f32], s: AttSizes) -> Option<(Vec<f32>, Vec<f32>)> {
    let AttSizes {
        seqs,
        t,
        heads,
        dh,
        d,
    } = s;
    let scale = (1.0 / (dh as f64).sqrt()) as f32;
    let mut att = vec![0.0f32; seqs * heads * t * t];
    let mut out = vec![0.0f32; seqs * t * d];
    for b in 0..seqs {
        for h in 0..heads {
            let at = b * t * d + h * dh;
            let w = &mut att[(b * heads + h) * t * t..][..t * t];
            matmul(
                Dst::new(w, 0, [t, t], [t, 1]),
                Src::new(q, at, [t, dh], [d, 1]),
                Src::new(k, at, [dh, t], [1, d]),
                false,
            )?;
            for (i, row) in w.chunks_exact_mut(t).enumerate() {
                let (seen, future) = row.split_at_mut(i + 1);
                let mut max = f32::NEG_INFINITY;
                for x in seen.iter_mut() {
                    *x *= scale;
                    max = max.max(*x);
                }
                let mut sum = 0.0f32;
                for x in seen.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                for x in seen.iter_mut() {
                    *x /= sum;
                }
                future.fill(0.0);
            }
            matmul(
                Dst::new(&mut out, at, [t, dh], [d, 1]),
                Src::new(w, 0, [t, t], [t, 1]),
                Src::new(v, at, [t, dh], [d, 1]),
                false,
            )?;
        }
    }
    Some((out, att))
}

/// The backward pass of [`attention`]: the gradients of `q`, `k` and `v` from the output's.
#[allow(clippy::type_complexity)]
fn attention_backward(
    tape: &LayerTape,
    d_out: &[f32],
    s: AttSizes,
) -> Option<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let AttSizes {
        seqs,
        t,
        heads,
        dh,
        d,
    } = s;
    let scale = (1.0 / (dh as f64).sqrt()) as f32;
    let n = seqs * t * d;
    let (mut dq, mut dk, mut dv) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    let mut ds = vec![0.0f32; t * t];
    for b in 0..seqs {
        for h in 0..heads {
            let at = b * t * d + h * dh;
            let w = &tape.att[(b * heads + h) * t * t..][..t * t];
            // dW = dO · Vᵀ, dV = Wᵀ · dO.
            matmul(
                Dst::new(&mut ds, 0, [t, t], [t, 1]),
                Src::new(d_out, at, [t, dh], [d, 1]),
                Src::new(&tape.v, at, [dh, t], [1, d]),
                false,
            )?;
            matmul(
                Dst::new(&mut dv, at, [t, dh], [d, 1]),
                Src::new(w, 0, [t, t], [1, t]),
                Src::new(d_out, at, [t, dh], [d, 1]),
                false,
            )?;
            // Through the softmax (zero above the diagonal, where the weights are), and the
            // scale of the scores.
            for (dw, w) in ds.chunks_exact_mut(t).zip(w.chunks_exact(t)) {
                let dot: f32 = dw.iter().zip(w).map(|(a, b)| a * b).sum();
                for (dw, w) in dw.iter_mut().zip(w) {
                    *dw = w * (*dw - dot) * scale;
                }
            }
            // dQ = dS · K, dK = dSᵀ · Q.
            matmul(
                Dst::new(&mut dq, at, [t, dh], [d, 1]),
                Src::new(&ds, 0, [t, t], [t, 1]),
                Src::new(&tape.k, at, [t, dh], [d, 1]),
                false,
            )?;
            matmul(
                Dst::new(&mut dk, at, [t, dh], [d, 1]),
                Src::new(&ds, 0, [t, t], [1, t]),
                Src::new(&tape.q, at, [t, dh], [d, 1]),
                false,
            )?;
        }
    }
    Some((dq, dk, dv))
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// What a chunk's forward pass computed: each block's tape (when kept), the final norm's
/// input, output and rms, and the logits (`[rows, 256]`).
struct Forward {
    tapes: Vec<LayerTape>,
    x: Vec<f32>,
    rf: Vec<f32>,
    rms_f: Vec<f32>,
    logits: Vec<f32>,
}

/// One chunk's forward pass: `tokens` holds windows of `stride` bytes, each's first `t` the
/// input; with `keep`, each block's tape for the backward pass.
fn forward_chunk(
    lm: &Lm,
    tokens: &[usize],
    stride: usize,
    t: usize,
    masks: &Masks<'_>,
    keep: bool,
) -> Option<Forward> {
    let d = lm.d;
    let seqs = tokens.len() / stride;
    let rows = seqs * t;
    let sizes = AttSizes {
        seqs,
        t,
        heads: lm.heads,
        dh: d / lm.heads,
        d,
    };
    let (tok_w, pos_w) = (lm.w(lm.tok), lm.w(lm.pos));
    let mut x = vec![0.0f32; rows * d];
    for (b, window) in tokens.chunks_exact(stride).enumerate() {
        for (i, &tk) in window[..t].iter().enumerate() {
            let row = &mut x[(b * t + i) * d..][..d];
            let (te, pe) = (&tok_w[tk * d..][..d], &pos_w[i * d..][..d]);
            for ((x, a), p) in row.iter_mut().zip(te).zip(pe) {
                *x = a + p;
            }
        }
    }
    let mut tapes = Vec::with_capacity(if keep { lm.layers.len() } else { 0 });
    for (l, masks) in lm.layers.iter().zip(masks) {
        let (r1, rms1) = rms_norm(&x, lm.w(l.norm1), l.eps1, d);
        let (q, tq) = project(lm, &l.proj[Q], &r1, masks[Q], rows)?;
        let (k, tk) = project(lm, &l.proj[K], &r1, masks[K], rows)?;
        let (v, tv) = project(lm, &l.proj[V], &r1, masks[V], rows)?;
        let (o, att) = attention(&q, &k, &v, sizes)?;
        let (a, to) = project(lm, &l.proj[O], &o, masks[O], rows)?;
        let mid: Vec<f32> = x.iter().zip(&a).map(|(x, a)| x + a).collect();
        let (r2, rms2) = rms_norm(&mid, lm.w(l.norm2), l.eps2, d);
        let (gate, tg) = project(lm, &l.proj[GATE], &r2, masks[GATE], rows)?;
        let (up, tu) = project(lm, &l.proj[UP], &r2, masks[UP], rows)?;
        let m: Vec<f32> = gate
            .iter()
            .zip(&up)
            .map(|(g, u)| g * sigmoid(*g) * u)
            .collect();
        let (y, td) = project(lm, &l.proj[DOWN], &m, masks[DOWN], rows)?;
        let next: Vec<f32> = mid.iter().zip(&y).map(|(m, y)| m + y).collect();
        let x_in = std::mem::replace(&mut x, next);
        if !keep {
            continue;
        }
        tapes.push(LayerTape {
            x: x_in,
            rms1,
            r1,
            q,
            k,
            v,
            att,
            o,
            mid,
            rms2,
            r2,
            gate,
            up,
            m,
            adapters: vec![tq, tk, tv, to, tg, tu, td],
        });
    }
    let (rf, rms_f) = rms_norm(&x, lm.w(lm.norm), lm.eps, d);
    let mut logits = vec![0.0f32; rows * VOCAB];
    mm(
        &mut logits,
        N(&rf),
        N(lm.w(lm.head)),
        (rows, d, VOCAB),
        false,
        1.0,
    )?;
    Some(Forward {
        tapes,
        x,
        rf,
        rms_f,
        logits,
    })
}

/// One chunk's forward and backward pass: `tokens` holds `seqs` windows of `t + 1` bytes.
/// Returns the chunk's summed cross-entropy and its gradients of the mean loss over `total`
/// predicted bytes (the whole batch's).
fn chunk_step(
    lm: &Lm,
    tokens: &[usize],
    t: usize,
    total: usize,
    masks: &Masks<'_>,
) -> Option<(f64, Grads)> {
    let d = lm.d;
    let rows = tokens.len() / (t + 1) * t;
    let sizes = AttSizes {
        seqs: tokens.len() / (t + 1),
        t,
        heads: lm.heads,
        dh: d / lm.heads,
        d,
    };
    let Forward {
        tapes,
        x,
        rf,
        rms_f,
        mut logits,
    } = forward_chunk(lm, tokens, t + 1, t, masks, true)?;
    // Cross-entropy, and its gradient (softmax minus one-hot, over the batch's mean).
    let mut loss = 0.0f64;
    let inv_total = 1.0 / total as f32;
    let targets = tokens.chunks_exact(t + 1).flat_map(|w| &w[1..]);
    for (row, &target) in logits.chunks_exact_mut(VOCAB).zip(targets) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        loss += f64::from(lse - row[target]);
        for v in row.iter_mut() {
            *v = (*v - lse).exp() * inv_total;
        }
        row[target] -= inv_total;
    }
    let dlogits = logits;
    let mut grads = lm.zero_grads();
    if !grads[lm.head].is_empty() {
        mm(
            &mut grads[lm.head],
            T(&rf),
            N(&dlogits),
            (d, rows, VOCAB),
            true,
            1.0,
        )?;
    }
    let mut d_rf = vec![0.0f32; rows * d];
    mm(
        &mut d_rf,
        N(&dlogits),
        T(lm.w(lm.head)),
        (rows, VOCAB, d),
        false,
        1.0,
    )?;
    let mut dx = vec![0.0f32; rows * d];
    rms_norm_backward(
        &x,
        &rms_f,
        lm.w(lm.norm),
        &d_rf,
        d,
        &mut dx,
        &mut grads[lm.norm],
    );
    for ((l, tape), masks) in lm.layers.iter().zip(&tapes).zip(masks).rev() {
        // The MLP: dx flows on through the residual, and into the block.
        let mut dm = vec![0.0f32; rows * lm.d_ff];
        let p = &l.proj[DOWN];
        let td = tape.adapters[DOWN].as_ref();
        project_backward(
            lm,
            p,
            &tape.m,
            td,
            masks[DOWN],
            &dx,
            rows,
            &mut dm,
            &mut grads,
        )?;
        let mut d_gate = vec![0.0f32; rows * lm.d_ff];
        let mut d_up = vec![0.0f32; rows * lm.d_ff];
        for i in 0..dm.len() {
            let (g, u) = (tape.gate[i], tape.up[i]);
            let s = sigmoid(g);
            d_up[i] = dm[i] * g * s;
            d_gate[i] = dm[i] * u * s * (1.0 + g * (1.0 - s));
        }
        let mut d_r2 = vec![0.0f32; rows * d];
        for (j, dy) in [(GATE, &d_gate), (UP, &d_up)] {
            let ta = tape.adapters[j].as_ref();
            project_backward(
                lm, &l.proj[j], &tape.r2, ta, masks[j], dy, rows, &mut d_r2, &mut grads,
            )?;
        }
        let g2 = lm.w(l.norm2);
        rms_norm_backward(
            &tape.mid,
            &tape.rms2,
            g2,
            &d_r2,
            d,
            &mut dx,
            &mut grads[l.norm2],
        );
        // Attention.
        let mut d_o = vec![0.0f32; rows * d];
        let to = tape.adapters[O].as_ref();
        project_backward(
            lm, &l.proj[O], &tape.o, to, masks[O], &dx, rows, &mut d_o, &mut grads,
        )?;
        let (dq, dk, dv) = attention_backward(tape, &d_o, sizes)?;
        let mut d_r1 = vec![0.0f32; rows * d];
        for (j, dy) in [(Q, &dq), (K, &dk), (V, &dv)] {
            let ta = tape.adapters[j].as_ref();
            project_backward(
                lm, &l.proj[j], &tape.r1, ta, masks[j], dy, rows, &mut d_r1, &mut grads,
            )?;
        }
        let g1 = lm.w(l.norm1);
        rms_norm_backward(
            &tape.x,
            &tape.rms1,
            g1,
            &d_r1,
            d,
            &mut dx,
            &mut grads[l.norm1],
        );
    }
    // The embeddings.
    for (b, window) in tokens.chunks_exact(t + 1).enumerate() {
        for (i, &tk) in window[..t].iter().enumerate() {
            let g = &dx[(b * t + i) * d..][..d];
            if let Some(dt) = grads[lm.tok].get_mut(tk * d..(tk + 1) * d) {
                dt.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
            if let Some(dp) = grads[lm.pos].get_mut(i * d..(i + 1) * d) {
                dp.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
        }
    }
    Some((loss, grads))
}

/// The mean cross-entropy of `tokens` (`[batch, time + 1]`, on an autodiff Flex device) and
/// the gradients of `model`'s trainable parameters, on the CPU path; `None` where it does
/// not apply (not Flex, no autodiff, sizes or values it does not handle).
pub(super) fn loss_and_grads(
    model: &TinyLm,
    tokens: &Tensor<2, Int>,
) -> Option<(Tensor<1>, GradientsParams)> {
    let ad_device = tokens.device();
    if !ad_device.is_autodiff() {
        return None;
    }
    let device = ad_device.inner();
    if !on_flex(&device) {
        return None;
    }
    let [batch, t1] = tokens.dims();
    let t = t1.checked_sub(1).filter(|t| *t > 0)?;
    let [context, _] = model.embed_positions.weight.dims();
    if t > context || batch == 0 {
        return None;
    }
    let tokens = token_values(tokens, batch * t1)?;
    let rows = batch * t;
    let lm = Lm::new(model, rows, Some(&device))?;
    let chunks: Vec<(usize, &[usize])> = tokens.chunks(SEQS * t1).enumerate().collect();
    let results = map_chunks(chunks, |(c, toks)| {
        let first = c * SEQS * t;
        let n = toks.len() / t1 * t;
        let masks: Masks<'_> = lm
            .layers
            .iter()
            .map(|l| {
                l.proj
                    .iter()
                    .map(|p| {
                        let range = first * p.d_in..(first + n) * p.d_in;
                        p.mask.as_deref().and_then(|m| m.get(range))
                    })
                    .collect()
            })
            .collect();
        chunk_step(&lm, toks, t, rows, &masks)
    });
    let mut loss = 0.0f64;
    let mut grads: Option<Grads> = None;
    for r in results {
        let (l, g) = r?;
        loss += l;
        match &mut grads {
            None => grads = Some(g),
            Some(acc) => {
                for (a, b) in acc.iter_mut().zip(&g) {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
            }
        }
    }
    let mut out = GradientsParams::new();
    for (p, g) in lm.params.iter().zip(grads?) {
        if !p.train {
            continue;
        }
        match p.shape[..] {
            [n] => out.register(
                p.id,
                Tensor::<1>::from_data(TensorData::new(g, [n]), &device),
            ),
            [a, b] => out.register(
                p.id,
                Tensor::<2>::from_data(TensorData::new(g, [a, b]), &device),
            ),
            _ => return None,
        }
    }
    let loss = (loss / rows as f64) as f32;
    Some((
        Tensor::<1>::from_data(TensorData::new(vec![loss], [1]), &device),
        out,
    ))
}

/// The logits (`[batch, time, 256]`) of `tokens` (`[batch, time]`) without autodiff on
/// Flex, on the CPU path (evaluations and text samples); `None` where it does not apply.
pub(super) fn logits(model: &TinyLm, tokens: &Tensor<2, Int>) -> Option<Tensor<3>> {
    let device = tokens.device();
    if !on_flex(&device) {
        return None;
    }
    let [batch, t] = tokens.dims();
    let [context, _] = model.embed_positions.weight.dims();
    if t == 0 || t > context || batch == 0 {
        return None;
    }
    let tokens = token_values(tokens, batch * t)?;
    let lm = Lm::new(model, batch * t, None)?;
    let masks: Masks<'_> = lm.layers.iter().map(|l| vec![None; l.proj.len()]).collect();
    let chunks: Vec<&[usize]> = tokens.chunks(SEQS * t).collect();
    let parts = map_chunks(chunks, |toks| {
        forward_chunk(&lm, toks, t, t, &masks, false).map(|f| f.logits)
    });
    let mut out = Vec::with_capacity(batch * t * VOCAB);
    for p in parts {
        out.extend_from_slice(&p?);
    }
    Some(Tensor::from_data(
        TensorData::new(out, [batch, t, VOCAB]),
        &device,
    ))
}

/// The values of a `[batch, time]` token tensor, each a byte; `None` unless there are
/// `n` of them, all bytes.
fn token_values(tokens: &Tensor<2, Int>, n: usize) -> Option<Vec<usize>> {
    let data = tokens.clone().inner().into_data().convert::<i64>();
    let values: Vec<usize> = data
        .try_to_vec::<i64>()
        .ok()?
        .into_iter()
        .map(|v| usize::try_from(v).ok().filter(|v| *v < VOCAB))
        .collect::<Option<_>>()?;
    (values.len() == n).then_some(values)
}
