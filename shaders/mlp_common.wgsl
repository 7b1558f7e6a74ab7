// sweeplab fused MLP engine: bindings, layout helpers and activations shared by
// `mlp_train.wgsl` and `mlp_eval.wgsl` (the host concatenates this file in front of each).
//
// One workgroup trains one trial ("slot"); `workgroup_id.x` is the slot. See
// shaders/README.md for the memory layout.

// Threads per workgroup. The host's `WORKGROUP_SIZE` must match.
const WG: u32 = 64u;
// Widest layer (hidden width, input features, classes).
const MAX_UNITS: u32 = 32u;

// Whole-run settings (one uniform buffer).
struct Globals {
    n_train: u32,
    n_valid: u32,
    in_dim: u32,
    classes: u32,
    // Offsets (in f32s) into `data` of the four arrays.
    train_x: u32,
    train_y: u32,
    valid_x: u32,
    valid_y: u32,
    // f32s per slot in `state` (3 * max_params: parameters, first moments, second moments).
    state_stride: u32,
    max_params: u32,
    // f32s per slot in `scratch`.
    scratch_stride: u32,
    // f32s per slot in `out` (loss_bins + 2).
    out_stride: u32,
    loss_bins: u32,
    // Optimiser steps each slot runs per dispatch of `train`, at most.
    steps_per_dispatch: u32,
    slots: u32,
    _pad: u32,
}

// One trial's settings (80 bytes, array stride 80).
struct Trial {
    live: u32,
    // Hidden layers (0..=6) and their width (1..=32).
    layers: u32,
    width: u32,
    // 0 relu, 1 tanh, 2 gelu, 3 sigmoid.
    act: u32,
    // 0 adam, 1 adamw, 2 sgd.
    optim: u32,
    // Samples per step (already clamped to n_train) and steps per epoch.
    batch: u32,
    steps: u32,
    // Steps summed into one loss bin.
    group: u32,
    lr: f32,
    // L2 penalty added to the gradient (adam, sgd); unused by adamw.
    weight_decay: f32,
    // SGD momentum (0 = plain SGD).
    momentum: f32,
    // Dropout probability after each hidden activation.
    dropout: f32,
    seed: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    // AdamW's decoupled decay factor 1 - lr * weight_decay (computed in f64 on the host).
    decay: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> g: Globals;
@group(0) @binding(1) var<storage, read> trials: array<Trial>;
// Features and labels (labels stored as exact f32 integers).
@group(0) @binding(2) var<storage, read> data: array<f32>;
// Per slot, n_train sample indices: this epoch's shuffled order.
@group(0) @binding(3) var<storage, read> perm: array<u32>;
// Per slot: parameters | first moments (or SGD velocity) | second moments.
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
// Per slot: activations, pre-activations and deltas of the current step.
@group(0) @binding(5) var<storage, read_write> scratch: array<f32>;
// Per slot, 4 words: [step within the epoch, optimiser steps taken, 0, 0].
@group(0) @binding(6) var<storage, read_write> counters: array<u32>;
// Per slot: loss bins, then validation loss and accuracy.
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

// ---- layer geometry ------------------------------------------------------------------

// Inputs of linear layer `l` (0..=layers; layer `layers` is the output layer).
fn fan_in(tr: Trial, l: u32) -> u32 {
    return select(tr.width, g.in_dim, l == 0u);
}

// Outputs of linear layer `l`.
fn fan_out(tr: Trial, l: u32) -> u32 {
    return select(tr.width, g.classes, l == tr.layers);
}

// Offset of layer `l`'s weights within the slot's parameters: each layer is a row-major
// [fan_in][fan_out] weight matrix followed by its fan_out biases (burn's Linear layout).
fn param_offset(tr: Trial, l: u32) -> u32 {
    var off = 0u;
    for (var m = 0u; m < l; m = m + 1u) {
        let fi = fan_in(tr, m);
        let fo = fan_out(tr, m);
        off = off + fi * fo + fo;
    }
    return off;
}

// Scratch layout of a slot, rows of `batch` samples:
//   X [batch][in_dim], then per hidden layer h = 1..=layers: Z_h, A_h, D_h [batch][width],
//   then logits/dlogits [batch][classes], then 2 * WG partial sums.
fn input_offset(tr: Trial, l: u32) -> u32 {
    if (l == 0u) {
        return 0u;
    }
    return tr.batch * g.in_dim + (l - 1u) * 3u * tr.batch * tr.width + tr.batch * tr.width;
}

fn pre_offset(tr: Trial, h: u32) -> u32 {
    return tr.batch * g.in_dim + (h - 1u) * 3u * tr.batch * tr.width;
}

fn delta_offset(tr: Trial, h: u32) -> u32 {
    return pre_offset(tr, h) + 2u * tr.batch * tr.width;
}

fn logits_offset(tr: Trial) -> u32 {
    return tr.batch * g.in_dim + tr.layers * 3u * tr.batch * tr.width;
}

fn partial_offset(tr: Trial) -> u32 {
    return logits_offset(tr) + tr.batch * g.classes;
}

// ---- activations -----------------------------------------------------------------------

// tanh without overflow for large |x|.
fn tanh_stable(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    let t = (1.0 - e) / (1.0 + e);
    return select(-t, t, x >= 0.0);
}

fn sigmoid_stable(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// erf by the rational approximation of Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * exp(-a * a);
    return select(-y, y, x >= 0.0);
}

fn activate(act: u32, z: f32) -> f32 {
    switch act {
        case 1u: {
            return tanh_stable(z);
        }
        case 2u: {
            return 0.5 * z * (1.0 + erf_approx(z * 0.70710678118654752));
        }
        case 3u: {
            return sigmoid_stable(z);
        }
        default: {
            return max(z, 0.0);
        }
    }
}

// d act / d z at pre-activation z.
fn activate_grad(act: u32, z: f32) -> f32 {
    switch act {
        case 1u: {
            let a = tanh_stable(z);
            return 1.0 - a * a;
        }
        case 2u: {
            let cdf = 0.5 * (1.0 + erf_approx(z * 0.70710678118654752));
            let pdf = exp(-0.5 * z * z) * 0.39894228040143268;
            return cdf + z * pdf;
        }
        case 3u: {
            let s = sigmoid_stable(z);
            return s * (1.0 - s);
        }
        default: {
            return select(0.0, 1.0, z > 0.0);
        }
    }
}

// ---- softmax ------------------------------------------------------------------------------

// The largest of `n` logits, the index of its first occurrence, and their log-sum-exp.
struct LogitStats {
    top: f32,
    best: u32,
    lse: f32,
}

// Statistics of the `n` logits at `scratch[row..row + n]`.
fn logit_stats(row: u32, n: u32) -> LogitStats {
    var st: LogitStats;
    st.top = scratch[row];
    st.best = 0u;
    for (var c = 1u; c < n; c = c + 1u) {
        let v = scratch[row + c];
        if (v > st.top) {
            st.top = v;
            st.best = c;
        }
    }
    var s = 0.0;
    for (var c = 0u; c < n; c = c + 1u) {
        s = s + exp(scratch[row + c] - st.top);
    }
    st.lse = st.top + log(s);
    return st;
}

// ---- dropout -----------------------------------------------------------------------------

// A 32-bit integer hash (PCG output permutation).
fn hash32(x: u32) -> u32 {
    let s = x * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// Dropout multiplier of unit `j` of sample row `b` in hidden layer `h` at optimiser step `t`:
// 0 with probability `dropout`, else 1 / (1 - dropout). Recomputed in the backward pass.
fn dropout_scale(tr: Trial, t: u32, h: u32, b: u32, j: u32) -> f32 {
    let r = hash32(tr.seed ^ hash32(t ^ hash32((h * 2654435769u) ^ hash32(b * MAX_UNITS + j))));
    let u = f32(r >> 8u) * (1.0 / 16777216.0);
    return select(0.0, 1.0 / (1.0 - tr.dropout), u >= tr.dropout);
}

// ---- optimisers ---------------------------------------------------------------------------

// One parameter's optimiser update from its gradient. `bc2s` = sqrt(1 - beta2^t),
// `c1` = 1 - beta1^t, `c2` = 1 - beta2^t (t from 1).
fn apply_update(tr: Trial, pi: u32, grad_in: f32, bc2s: f32, c1: f32, c2: f32) {
    let mi = pi + g.max_params;
    let vi = mi + g.max_params;
    let p = state[pi];
    var grad = grad_in;
    switch tr.optim {
        case 1u: {
            // AdamW: moments of the raw gradient, decoupled decay.
            let m = state[mi] * tr.beta1 + grad * (1.0 - tr.beta1);
            let v = state[vi] * tr.beta2 + (grad * grad) * (1.0 - tr.beta2);
            state[mi] = m;
            state[vi] = v;
            let step = (m / c1) / (sqrt(v / c2) + tr.eps);
            state[pi] = p * tr.decay - step * tr.lr;
        }
        case 2u: {
            // SGD with optional momentum (dampening 0, no Nesterov) and L2 penalty.
            if (tr.weight_decay > 0.0) {
                grad = p * tr.weight_decay + grad;
            }
            if (tr.momentum > 0.0) {
                let vel = grad + state[mi] * tr.momentum;
                state[mi] = vel;
                grad = vel;
            }
            state[pi] = p - grad * tr.lr;
        }
        default: {
            // Adam with the L2 penalty added to the gradient.
            if (tr.weight_decay > 0.0) {
                grad = p * tr.weight_decay + grad;
            }
            let m = state[mi] * tr.beta1 + grad * (1.0 - tr.beta1);
            let v = state[vi] * tr.beta2 + (grad * grad) * (1.0 - tr.beta2);
            state[mi] = m;
            state[vi] = v;
            let cf = bc2s / c1;
            let step = (m * cf) / (sqrt(v) + tr.eps * bc2s);
            state[pi] = p - step * tr.lr;
        }
    }
}
