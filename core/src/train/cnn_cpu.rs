//! The MNIST CNN's convolutions and pooling for the CPU backend (Flex), forward and backward.
//!
//! burn's generic convolution backward (a transposed convolution for the input gradient and a
//! convolution whose kernel is the whole output map for the weight gradient), its pooling and
//! the layout copies between them are slow on Flex. Here the two convolutions are matrix
//! products on the samples' own buffers, through the `gemm` crate Flex itself multiplies with
//! (no tensor round trips, no im2col of the large layer), written out by hand for the backward
//! pass too. Natively the batch runs in fixed chunks on rayon's pool (so the sums do not depend
//! on the thread count); in the browser (wasm32) one chunk after another.
//!
//! Layouts, per sample: channels-first planes, row-major. The first convolution (one input
//! channel in the MNIST model, so few rows) is im2col'd, with a row of ones so its bias rides
//! in the product. The second is computed "wide": its output rows span the full width `w1` of
//! its input, so for each kernel tap `(di, dj)` the input it reads is the first layer's planes
//! shifted by `di * w1 + dj` — a strided view, not a copy — and the layer is `k * k` products
//! of `c2 x c1` by `c1 x (h2 * w1)` summed into one output. The `k - 1` extra columns of each
//! output row are never read forward and get zero gradient backward, so the values they read
//! past a plane's end (the next plane, or a zero pad after the last) never matter.
//!
//! The pooling runs before the second convolution's bias and relu: both are monotonic, so
//! `max(relu(y + b)) = relu(max(y) + b)` exactly, with the same maximum (the first in the
//! window, as `max_pool2d` picks it) and the same gradients, on a quarter of the values.

use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cpu_gemm::{Dst, Src, map_chunks, matmul};

/// A window whose pooled value the relu cut (no gradient flows back through it).
const DEAD: u8 = u8::MAX;

/// Samples per chunk of the batch: chunks run in parallel natively and are summed in order.
const CHUNK: usize = 4;

/// The sizes of the stack: conv `k x k` (`c0` → `c1` channels), relu, conv `k x k` (`c1` →
/// `c2`), relu, 2x2 max pooling, on `h x w` images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub c0: usize,
    pub c1: usize,
    pub c2: usize,
    pub k: usize,
    pub h: usize,
    pub w: usize,
}

impl Dims {
    /// First convolution's output height and width.
    fn hw1(&self) -> (usize, usize) {
        (self.h + 1 - self.k, self.w + 1 - self.k)
    }

    /// Values per plane of the first layer's output.
    fn n1(&self) -> usize {
        let (h1, w1) = self.hw1();
        h1 * w1
    }

    /// The first layer's output per sample: `c1` planes and a zero pad of `k - 1` values that
    /// the last plane's shifted views read past its end.
    fn a1_len(&self) -> usize {
        self.c1 * self.n1() + self.k - 1
    }

    /// Second convolution's output height and (valid) width.
    fn hw2(&self) -> (usize, usize) {
        let (h1, w1) = self.hw1();
        (h1 + 1 - self.k, w1 + 1 - self.k)
    }

    /// Columns of the second convolution's wide output: its rows at the full width `w1`.
    fn n2(&self) -> usize {
        let (h2, _) = self.hw2();
        let (_, w1) = self.hw1();
        h2 * w1
    }

    /// Pooled height and width.
    fn hwp(&self) -> (usize, usize) {
        let (h2, w2) = self.hw2();
        (h2 / 2, w2 / 2)
    }

    /// Input values per sample.
    fn input_len(&self) -> usize {
        self.c0 * self.h * self.w
    }

    /// Features per sample after the pooling (`c2` maps, channels-first).
    pub(crate) fn features(&self) -> usize {
        let (ph, pw) = self.hwp();
        self.c2 * ph * pw
    }

    /// Rows of the first convolution's im2col (one per weight, and one for the bias).
    pub(crate) fn rows1(&self) -> usize {
        self.c0 * self.k * self.k + 1
    }

    /// Weights of the second convolution, `[c2, c1, k, k]`.
    pub(crate) fn w2_len(&self) -> usize {
        self.c2 * self.c1 * self.k * self.k
    }
}

/// The two convolutions' parameters, read out of their tensors.
pub(crate) struct Params {
    /// `[c1, c0*k*k + 1]`: the first weight, one row per output channel, bias last.
    w1: Vec<f32>,
    /// `[c2, c1, k, k]`, as burn stores it.
    w2: Vec<f32>,
    /// The second bias, `[c2]`.
    b2: Vec<f32>,
    dims: Dims,
    device: Device,
}

impl Params {
    /// The parameters from the layers' tensors: weights `[c1, c0, k, k]` and `[c2, c1, k, k]`,
    /// biases `[c1]` and `[c2]`, on the device the stack runs on, for `h x w` images. `None`
    /// where the shapes are not such a stack or the values cannot be read as f32.
    pub(crate) fn new(
        w1: Tensor<4>,
        b1: Tensor<1>,
        w2: Tensor<4>,
        b2: Tensor<1>,
        h: usize,
        w: usize,
    ) -> Option<Params> {
        let [c1, c0, k, k_] = w1.dims();
        let [c2, c1_, k2, k2_] = w2.dims();
        // Two valid convolutions and a 2x2 pooling must leave at least one pooled value.
        if k == 0 || k != k_ || k2 != k || k2_ != k || c1_ != c1 || h < 2 * k || w < 2 * k {
            return None;
        }
        let dims = Dims {
            c0,
            c1,
            c2,
            k,
            h,
            w,
        };
        let device = w1.device();
        let kk = c0 * k * k;
        let w1 = w1.into_data().try_to_vec::<f32>().ok()?;
        let b1 = b1.into_data().try_to_vec::<f32>().ok()?;
        if w1.len() != c1 * kk || b1.len() != c1 {
            return None;
        }
        let mut w1b = Vec::with_capacity(c1 * (kk + 1));
        for (row, b) in w1.chunks_exact(kk).zip(&b1) {
            w1b.extend_from_slice(row);
            w1b.push(*b);
        }
        let w2 = w2.into_data().try_to_vec::<f32>().ok()?;
        let b2 = b2.into_data().try_to_vec::<f32>().ok()?;
        if w2.len() != dims.w2_len() || b2.len() != c2 {
            return None;
        }
        Some(Params {
            w1: w1b,
            w2,
            b2,
            dims,
            device,
        })
    }

    /// The stack's sizes.
    pub(crate) fn dims(&self) -> Dims {
        self.dims
    }

    /// The device the stack runs on (without autodiff).
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }
}

/// Training-time dropout of the pooled values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dropout {
    /// The probability of zeroing a value, in (0, 1).
    pub p: f64,
    /// The seed of the masks' random streams.
    pub seed: u64,
}

/// What the forward pass of a batch keeps for its backward pass.
pub(crate) struct Tape {
    /// The scale of the values dropout kept (1 without dropout).
    scale: f32,
    /// The input images.
    x: Vec<f32>,
    /// Per sample, the first layer's output after its relu ([`Dims::a1_len`] values).
    a1: Vec<f32>,
    /// Per pooled value, the window position (0..4, row-major) of its maximum, or [`DEAD`].
    arg: Vec<u8>,
    batch: usize,
}

/// The gradients of the stack's parameters, summed over a batch.
pub(crate) struct Grads {
    /// `[c1, c0*k*k + 1]`: the first weight's, then its bias's.
    pub w1: Vec<f32>,
    /// `[c2, c1, k, k]`.
    pub w2: Vec<f32>,
    /// `[c2]`.
    pub b2: Vec<f32>,
}

/// The forward pass of `batch` samples (`x`: `batch` images of `c0` planes `h x w`, row-major)
/// into their pooled features (`batch` rows of [`Dims::features`], channels-first), with what
/// the backward pass needs when `keep` is set (an evaluation pass keeps nothing), and `dropout`
/// applied to them. `None` where `x` is too short.
pub(crate) fn forward(
    p: &Params,
    x: Vec<f32>,
    batch: usize,
    keep: bool,
    dropout: Option<Dropout>,
) -> Option<(Vec<f32>, Option<Tape>)> {
    let d = p.dims;
    let (n_in, nf, na) = (d.input_len(), d.features(), d.a1_len());
    if x.len() < batch * n_in {
        return None;
    }
    let n_chunks = batch.div_ceil(CHUNK);
    let mut features = vec![0.0f32; batch * nf];
    let mut arg = vec![0u8; batch * nf];
    let mut a1 = vec![0.0f32; if keep { batch * na } else { 0 }];
    let a1_chunks: Vec<&mut [f32]> = if keep {
        a1.chunks_mut(CHUNK * na).collect()
    } else {
        (0..n_chunks).map(|_| <&mut [f32]>::default()).collect()
    };
    let chunks: Vec<_> = x
        .chunks(CHUNK * n_in)
        .zip(features.chunks_mut(CHUNK * nf))
        .zip(arg.chunks_mut(CHUNK * nf))
        .zip(a1_chunks)
        .take(n_chunks)
        .enumerate()
        .collect();
    let dropout = dropout.filter(|d| d.p > 0.0 && d.p < 1.0);
    let scale = dropout.map_or(1.0, |d| (1.0 / (1.0 - d.p)) as f32);
    let ok = map_chunks(chunks, |(chunk, (((x, f), t), a))| {
        let mut cols1 = vec![0.0f32; d.rows1() * d.n1()];
        let mut y2 = vec![0.0f32; d.c2 * d.n2()];
        // Without a tape, one sample's first layer at a time (its pad stays zero).
        let mut own = if a.is_empty() {
            vec![0.0f32; na]
        } else {
            Vec::new()
        };
        let samples = x.chunks_exact(n_in).zip(f.chunks_exact_mut(nf));
        for (i, ((x, f), t)) in samples.zip(t.chunks_exact_mut(nf)).enumerate() {
            let a1 = match a.get_mut(i * na..(i + 1) * na) {
                Some(a1) => a1,
                None => &mut own[..],
            };
            forward_sample(p, x, &mut cols1, a1, &mut y2, f, t)?;
        }
        if let Some(d) = dropout {
            // Keep a value when a uniform u32 is at least p * 2^32: probability 1 - p.
            let threshold = (d.p * 4_294_967_296.0) as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(d.seed);
            rng.set_stream(chunk as u64);
            for (v, t) in f.iter_mut().zip(t.iter_mut()) {
                let keep = u64::from(rng.next_u32()) >= threshold;
                *v = if keep { *v * scale } else { 0.0 };
                *t = if keep { *t } else { DEAD };
            }
        }
        Some(())
    });
    ok.into_iter().collect::<Option<Vec<()>>>()?;
    let tape = keep.then_some(Tape {
        scale,
        x,
        a1,
        arg,
        batch,
    });
    Some((features, tape))
}

/// One sample: `x` → `a1` (the first layer, relu'd) → `y2` (the second, wide, before its
/// bias) → pooled `features` and the pooling's `arg`.
fn forward_sample(
    p: &Params,
    x: &[f32],
    cols1: &mut [f32],
    a1: &mut [f32],
    y2: &mut [f32],
    features: &mut [f32],
    arg: &mut [u8],
) -> Option<()> {
    let d = p.dims;
    let (n1, n2) = (d.n1(), d.n2());
    im2col(x, d, cols1);
    // a1[c1 x n1] = w1[c1 x rows1] · cols1[rows1 x n1]
    matmul(
        Dst::new(a1, 0, [d.c1, n1], [n1, 1]),
        Src::new(&p.w1, 0, [d.c1, d.rows1()], [d.rows1(), 1]),
        Src::new(cols1, 0, [d.rows1(), n1], [n1, 1]),
        false,
    )?;
    for v in &mut a1[..d.c1 * n1] {
        // `v <= 0` is false for NaN, which passes through, as burn's relu passes it.
        if *v <= 0.0 {
            *v = 0.0;
        }
    }
    // y2[c2 x n2] = sum over taps of w2[:, :, di, dj][c2 x c1] · shift(a1)[c1 x n2]
    let (kk, ckk, w1) = (d.k * d.k, d.c1 * d.k * d.k, d.hw1().1);
    for tap in 0..kk {
        let shift = (tap / d.k) * w1 + tap % d.k;
        matmul(
            Dst::new(y2, 0, [d.c2, n2], [n2, 1]),
            Src::new(&p.w2, tap, [d.c2, d.c1], [ckk, kk]),
            Src::new(a1, shift, [d.c1, n2], [n1, 1]),
            tap > 0,
        )?;
    }
    let (h2, w2) = d.hw2();
    pool_bias_relu(y2, &p.b2, [h2, w1, w2], features, arg);
    Some(())
}

/// The gradients of the stack's parameters given the gradient `g` of its features (`batch`
/// rows of [`Dims::features`]), summed over the samples. `None` where `g` is too short.
pub(crate) fn backward(p: &Params, tape: &Tape, g: &[f32]) -> Option<Grads> {
    let d = p.dims;
    let (n_in, nf, na) = (d.input_len(), d.features(), d.a1_len());
    if g.len() < tape.batch * nf {
        return None;
    }
    let chunks: Vec<_> = tape
        .x
        .chunks(CHUNK * n_in)
        .zip(tape.a1.chunks(CHUNK * na))
        .zip(tape.arg.chunks(CHUNK * nf).zip(g.chunks(CHUNK * nf)))
        .take(tape.batch.div_ceil(CHUNK))
        .collect();
    let per_chunk = map_chunks(chunks, |((x, a), (t, g))| {
        let mut acc = Grads {
            w1: vec![0.0f32; d.c1 * d.rows1()],
            w2: vec![0.0f32; d.w2_len()],
            b2: vec![0.0f32; d.c2],
        };
        let mut scratch = Scratch {
            cols1: vec![0.0f32; d.rows1() * d.n1()],
            gy: vec![0.0f32; d.c2 * d.n2()],
            ga1: vec![0.0f32; na],
        };
        let samples = x.chunks_exact(n_in).zip(a.chunks_exact(na));
        for ((x, a), (t, g)) in samples.zip(t.chunks_exact(nf).zip(g.chunks_exact(nf))) {
            backward_sample(p, tape.scale, x, a, t, g, &mut scratch, &mut acc)?;
        }
        Some(acc)
    });
    let mut out = Grads {
        w1: vec![0.0f32; d.c1 * d.rows1()],
        w2: vec![0.0f32; d.w2_len()],
        b2: vec![0.0f32; d.c2],
    };
    for acc in per_chunk {
        let acc = acc?;
        add_into(&mut out.w1, &acc.w1);
        add_into(&mut out.w2, &acc.w2);
        add_into(&mut out.b2, &acc.b2);
    }
    // The chunks sum the second weight's gradient tap-major, `[k*k][c1][c2]`, so that its
    // products run with `c2` as gemm's long dimension; back to burn's `[c2, c1, k, k]`.
    let kk = d.k * d.k;
    let mut w2 = vec![0.0f32; d.w2_len()];
    for (i, v) in out.w2.iter().enumerate() {
        let (tap, ci, o) = (i / (d.c1 * d.c2), (i / d.c2) % d.c1, i % d.c2);
        w2[(o * d.c1 + ci) * kk + tap] = *v;
    }
    out.w2 = w2;
    Some(out)
}

/// Buffers one chunk's backward pass reuses from sample to sample.
struct Scratch {
    cols1: Vec<f32>,
    gy: Vec<f32>,
    ga1: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn backward_sample(
    p: &Params,
    scale: f32,
    x: &[f32],
    a1: &[f32],
    arg: &[u8],
    g: &[f32],
    s: &mut Scratch,
    acc: &mut Grads,
) -> Option<()> {
    let d = p.dims;
    let (n1, n2) = (d.n1(), d.n2());
    let (kk, ckk, w1) = (d.k * d.k, d.c1 * d.k * d.k, d.hw1().1);
    let (h2, w2) = d.hw2();
    pool_bias_relu_backward(g, arg, scale, [h2, w1, w2], &mut s.gy, &mut acc.b2);
    s.ga1.fill(0.0);
    for tap in 0..kk {
        let shift = (tap / d.k) * w1 + tap % d.k;
        // gw2[:, :, di, dj][c2 x c1] += gy[c2 x n2] · shift(a1)ᵀ[n2 x c1], kept tap-major
        // (`[k*k][c1][c2]`, see `backward`).
        matmul(
            Dst::new(&mut acc.w2, tap * d.c1 * d.c2, [d.c2, d.c1], [1, d.c2]),
            Src::new(&s.gy, 0, [d.c2, n2], [n2, 1]),
            Src::new(a1, shift, [n2, d.c1], [1, n1]),
            true,
        )?;
        // shift(ga1)[c1 x n2] += w2[:, :, di, dj]ᵀ[c1 x c2] · gy[c2 x n2]
        matmul(
            Dst::new(&mut s.ga1, shift, [d.c1, n2], [n1, 1]),
            Src::new(&p.w2, tap, [d.c1, d.c2], [kk, ckk]),
            Src::new(&s.gy, 0, [d.c2, n2], [n2, 1]),
            true,
        )?;
    }
    for (g, a) in s.ga1.iter_mut().zip(a1).take(d.c1 * n1) {
        if *a <= 0.0 {
            *g = 0.0;
        }
    }
    im2col(x, d, &mut s.cols1);
    // gw1[c1 x rows1] += ga1[c1 x n1] · cols1ᵀ[n1 x rows1]
    matmul(
        Dst::new(&mut acc.w1, 0, [d.c1, d.rows1()], [d.rows1(), 1]),
        Src::new(&s.ga1, 0, [d.c1, n1], [n1, 1]),
        Src::new(&s.cols1, 0, [n1, d.rows1()], [1, n1]),
        true,
    )?;
    Some(())
}

fn add_into(acc: &mut [f32], v: &[f32]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += *b;
    }
}

/// im2col of one sample (`c0` planes of `h x w`) for the first `k x k` valid convolution into
/// `out` (`[rows1, h1 * w1]`): row `(ci, di, dj)` holds `x[ci][i + di][j + dj]` for the outputs
/// `(i, j)`, row-major; the last row is ones (the bias).
fn im2col(x: &[f32], d: Dims, out: &mut [f32]) {
    let (oh, ow) = d.hw1();
    let mut rows = out.chunks_exact_mut(oh * ow);
    for plane in x.chunks_exact(d.h * d.w).take(d.c0) {
        for di in 0..d.k {
            for dj in 0..d.k {
                let Some(row) = rows.next() else {
                    return;
                };
                for (i, dst) in row.chunks_exact_mut(ow).enumerate() {
                    let s = (i + di) * d.w + dj;
                    dst.copy_from_slice(&plane[s..s + ow]);
                }
            }
        }
    }
    if let Some(ones) = rows.next() {
        ones.fill(1.0);
    }
}

/// 2x2 max pooling, stride 2, of maps of `rows` rows at row stride `stride` with `cols` valid
/// columns (an odd last row or column is dropped), then `+ bias` per map and relu. Writes the
/// pooled maps to `out` (row-major per map) and per pooled value the window position of its
/// maximum (the first, as `max_pool2d` picks it; a NaN wins, as there) or [`DEAD`] where the
/// relu zeroed it.
fn pool_bias_relu(
    y: &[f32],
    bias: &[f32],
    [rows, stride, cols]: [usize; 3],
    out: &mut [f32],
    arg: &mut [u8],
) {
    let (ph, pw) = (rows / 2, cols / 2);
    let mut o = out.iter_mut().zip(arg.iter_mut());
    for (map, &b) in y.chunks_exact(rows * stride).zip(bias) {
        for i in 0..ph {
            let r0 = &map[2 * i * stride..2 * i * stride + 2 * pw];
            let r1 = &map[(2 * i + 1) * stride..(2 * i + 1) * stride + 2 * pw];
            for (top, bottom) in r0.chunks_exact(2).zip(r1.chunks_exact(2)) {
                // Branch-free (the comparisons are data-dependent and unpredictable).
                let (mut m, mut t) = (top[0], 0u8);
                for (v, pos) in [(top[1], 1u8), (bottom[0], 2), (bottom[1], 3)] {
                    let take = (v > m) | v.is_nan();
                    m = if take { v } else { m };
                    t = if take { pos } else { t };
                }
                let s = m + b;
                // `s <= 0` is false for NaN, which passes through, as burn's relu passes it.
                let dead = s <= 0.0;
                if let Some((slot, a)) = o.next() {
                    *slot = if dead { 0.0 } else { s };
                    *a = if dead { DEAD } else { t };
                }
            }
        }
    }
}

/// The backward pass of [`pool_bias_relu`] and the dropout after it: writes the gradient of
/// `y` into `gy` (zero except at each live window's maximum) from the gradient `g` of the
/// dropped-out pooled values (kept ones scaled by `scale`), adding the bias gradient to `gb`.
fn pool_bias_relu_backward(
    g: &[f32],
    arg: &[u8],
    scale: f32,
    [rows, stride, cols]: [usize; 3],
    gy: &mut [f32],
    gb: &mut [f32],
) {
    let (ph, pw) = (rows / 2, cols / 2);
    gy.fill(0.0);
    let pooled = g.chunks_exact(ph * pw).zip(arg.chunks_exact(ph * pw));
    for ((map, (g, arg)), gb) in gy.chunks_exact_mut(rows * stride).zip(pooled).zip(gb) {
        let mut sum = 0.0f32;
        for i in 0..ph {
            // The two rows of window row i, written densely and branch-free: each window's
            // four values get the gradient at its maximum and zeros elsewhere (all zeros
            // where the window is dead).
            let (top, rest) = map[2 * i * stride..].split_at_mut(stride);
            let (top, bottom) = (&mut top[..2 * pw], &mut rest[..2 * pw]);
            let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            let pooled = g[i * pw..(i + 1) * pw]
                .iter()
                .zip(&arg[i * pw..(i + 1) * pw]);
            for ((tp, bt), (g, &t)) in windows.zip(pooled) {
                let v = if t == DEAD { 0.0 } else { g * scale };
                sum += v;
                tp[0] = if t == 0 { v } else { 0.0 };
                tp[1] = if t == 1 { v } else { 0.0 };
                bt[0] = if t == 2 { v } else { 0.0 };
                bt[1] = if t == 3 { v } else { 0.0 };
            }
        }
        *gb += sum;
    }
}

// The tests compare with burn's autodiff on Flex, like `model`'s.
#[cfg(test)]
#[cfg(feature = "flex")]
pub(crate) mod tests {
    use burn::tensor::TensorData;

    use super::*;

    /// Deterministic values in [-1, 1) (a small LCG), so the tests need no RNG crate.
    pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// A 3 -> 5 -> 4 channel stack on 12 x 10 images, random weights.
    fn params() -> Params {
        let device = Device::flex();
        let t4 = |shape: [usize; 4], seed| {
            let n = shape.iter().product();
            Tensor::<4>::from_data(TensorData::new(values(n, seed), shape), &device)
        };
        let t1 =
            |n: usize, seed| Tensor::<1>::from_data(TensorData::new(values(n, seed), [n]), &device);
        Params::new(
            t4([5, 3, 3, 3], 1),
            t1(5, 2),
            t4([4, 5, 3, 3], 3),
            t1(4, 4),
            12,
            10,
        )
        .expect("a valid stack")
    }

    /// Dropout keeps each pooled value scaled by 1 / (1 - p) or zeroes it, about a fraction p
    /// of them, the same way for the same seed, and its backward pass is the plain one with the
    /// gradient masked and scaled the same way.
    #[test]
    fn dropout_masks_values_and_their_gradients() {
        let p = params();
        let d = p.dims();
        let batch = 9;
        let x = values(batch * d.input_len(), 5);
        let (plain, plain_tape) = forward(&p, x.clone(), batch, true, None).expect("forward");
        let dropout = Dropout { p: 0.25, seed: 42 };
        let (dropped, tape) = forward(&p, x.clone(), batch, true, Some(dropout)).expect("forward");
        let (again, _) = forward(&p, x.clone(), batch, true, Some(dropout)).expect("forward");
        assert_eq!(dropped, again, "the same seed gives the same mask");
        let (other, _) =
            forward(&p, x, batch, true, Some(Dropout { p: 0.25, seed: 43 })).expect("forward");
        assert_ne!(dropped, other, "another seed gives another mask");

        let scale = 1.0 / 0.75;
        let (mut live, mut cut) = (0, 0);
        let mask: Vec<f32> = plain
            .iter()
            .zip(&dropped)
            .map(|(a, b)| {
                if *a == 0.0 {
                    assert_eq!(*b, 0.0);
                    0.0
                } else if *b == 0.0 {
                    cut += 1;
                    0.0
                } else {
                    assert!((b - a * scale).abs() <= 1e-6 * a.abs());
                    live += 1;
                    scale
                }
            })
            .collect();
        let frac = f64::from(cut) / f64::from(cut + live);
        assert!(
            live + cut > 300,
            "enough live values to count: {}",
            live + cut
        );
        assert!((0.15..0.35).contains(&frac), "dropped fraction {frac}");

        let g = values(dropped.len(), 6);
        let masked: Vec<f32> = g.iter().zip(&mask).map(|(g, m)| g * m).collect();
        let got = backward(&p, &tape.expect("a tape"), &g).expect("backward");
        let want = backward(&p, &plain_tape.expect("a tape"), &masked).expect("backward");
        for (name, a, b) in [
            ("w1", &got.w1, &want.w1),
            ("w2", &got.w2, &want.w2),
            ("b2", &got.b2, &want.b2),
        ] {
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let diff = a
                .iter()
                .zip(b)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(diff <= 1e-5 * scale.max(1.0), "{name}: diff {diff}");
        }
    }
}
