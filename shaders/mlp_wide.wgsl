// sweeplab fused MLP engine, wide kernels: MLPs too big for one workgroup per trial (inputs
// such as MNIST's 784 pixels, hidden layers of up to 512 units). Each phase of a step is one
// dispatch over every slot (`workgroup_id.z` is the slot), tiled 32 x 32 per workgroup with a
// 4 x 4 block per thread: the forward pass of each linear layer (bias, activation and dropout
// fused), the softmax cross-entropy (the batch's loss into its bin), each hidden layer's
// delta, each layer's gradient with the optimiser update fused, and an `advance` that moves
// the slot's cursor. Evaluation reuses the forward and loss kernels on chunks of `batch`
// validation samples. Needs mlp_common.wgsl in front. See shaders/README.md.
//
// No kernel here has a barrier except `wide_loss`, whose early return depends only on uniform
// values (the workgroup id, the uniform buffers, read-only storage, `workgroupUniformLoad`).

// What one dispatch does (group 1, bound with a dynamic offset; one 256-byte record each).
struct Job {
    // The linear layer (forward, update) or hidden layer (delta) this dispatch works on.
    layer: u32,
    // 0: a training step; 1: a chunk of the validation set.
    eval: u32,
    _p0: u32,
    _p1: u32,
}

@group(1) @binding(0) var<uniform> job: Job;

// Rows and columns of a workgroup's tile; each of its 8 x 8 threads computes 4 x 4 of them.
const TILE: u32 = 32u;
// `counters[k * 4 + 2]` (the validation chunk) once the slot's evaluation is complete.
const DONE: u32 = 0xffffffffu;

// ---- scratch layout (rows of `batch` samples) ----------------------------------------------
//   per hidden layer h = 1..=layers: Z_h, A_h, D_h [batch][width]; then logits [batch][classes]

fn w_pre(tr: Trial, h: u32) -> u32 {
    return (h - 1u) * 3u * tr.batch * tr.width;
}

fn w_act(tr: Trial, h: u32) -> u32 {
    return w_pre(tr, h) + tr.batch * tr.width;
}

fn w_delta(tr: Trial, h: u32) -> u32 {
    return w_pre(tr, h) + 2u * tr.batch * tr.width;
}

fn w_logits(tr: Trial) -> u32 {
    return tr.layers * 3u * tr.batch * tr.width;
}

// d loss / d (outputs of linear layer l): the logits' deltas or the next hidden layer's.
fn w_out_delta(tr: Trial, l: u32) -> u32 {
    if (l == tr.layers) {
        return w_logits(tr);
    }
    return w_delta(tr, l + 1u);
}

// The rows this dispatch works on for slot k: (first sample, count); a count of 0 means none
// (the slot has finished its epoch's steps, or its evaluation).
fn w_rows(k: u32, tr: Trial) -> vec2<u32> {
    if (job.eval == 0u) {
        let cursor = counters[k * 4u];
        if (cursor >= tr.steps) {
            return vec2<u32>(0u, 0u);
        }
        let start = cursor * tr.batch;
        return vec2<u32>(start, min(tr.batch, g.n_train - start));
    }
    let chunk = counters[k * 4u + 2u];
    if (chunk == DONE) {
        return vec2<u32>(0u, 0u);
    }
    let start = chunk * tr.batch;
    if (start >= g.n_valid) {
        return vec2<u32>(0u, 0u);
    }
    return vec2<u32>(start, min(tr.batch, g.n_valid - start));
}

// Offset in `data` of the features of row r (training: through the slot's shuffled order).
fn w_x_row(k: u32, start: u32, r: u32) -> u32 {
    if (job.eval == 0u) {
        return g.train_x + perm[k * g.n_train + start + r] * g.in_dim;
    }
    return g.valid_x + (start + r) * g.in_dim;
}

fn w_label(k: u32, start: u32, r: u32) -> u32 {
    if (job.eval == 0u) {
        return u32(data[g.train_y + perm[k * g.n_train + start + r]]);
    }
    return u32(data[g.valid_y + start + r]);
}

// Dropout multiplier of unit j of row r in hidden layer h at optimiser step t (recomputed in
// the backward pass).
fn w_dropout(tr: Trial, t: u32, h: u32, r: u32, j: u32) -> f32 {
    let x = hash32(tr.seed ^ hash32(t ^ hash32((h * 2654435769u) ^ hash32(r * tr.width + j))));
    let u = f32(x >> 8u) * (1.0 / 16777216.0);
    return select(0.0, 1.0 / (1.0 - tr.dropout), u >= tr.dropout);
}

// Four column indices from c0, clamped to n - 1 (for loads; stores check c < n).
fn w_cols(c0: u32, n: u32) -> vec4<u32> {
    let m = n - 1u;
    return vec4<u32>(min(c0, m), min(c0 + 1u, m), min(c0 + 2u, m), min(c0 + 3u, m));
}

// ---- the tiled kernels' common start -------------------------------------------------------

// What one thread of `wide_forward`, `wide_delta` or `wide_update` works on: the slot `k` and
// its trial, this dispatch's rows (`start`, `len`), and the first row and column of the
// thread's 4 x 4 block. `ok` is false when the slot has nothing to do in this dispatch (empty,
// no layer `job.layer`, no rows left).
struct Tile {
    ok: bool,
    k: u32,
    tr: Trial,
    start: u32,
    len: u32,
    r0: u32,
    c0: u32,
}

fn w_tile(wid: vec3<u32>, lid: vec3<u32>) -> Tile {
    var t: Tile;
    t.ok = false;
    t.k = wid.z;
    if (t.k >= g.slots) {
        return t;
    }
    t.tr = trials[t.k];
    if (t.tr.live == 0u || job.layer > t.tr.layers) {
        return t;
    }
    let rows = w_rows(t.k, t.tr);
    t.start = rows.x;
    t.len = rows.y;
    t.r0 = wid.y * TILE + lid.y * 4u;
    t.c0 = wid.x * TILE + lid.x * 4u;
    t.ok = t.len > 0u;
    return t;
}

// ---- forward ---------------------------------------------------------------------------

// One row of a forward tile: pre-activations (or logits) z for columns c0..c0+3.
fn w_forward_store(k: u32, tr: Trial, l: u32, t: u32, r: u32, c0: u32, fo: u32, z: vec4<f32>) {
    let sb = k * g.scratch_stride;
    for (var c = 0u; c < 4u; c = c + 1u) {
        let col = c0 + c;
        if (col >= fo) {
            break;
        }
        if (l == tr.layers) {
            scratch[sb + w_logits(tr) + r * fo + col] = z[c];
        } else {
            let zi = sb + w_pre(tr, l + 1u) + r * fo + col;
            scratch[zi] = z[c];
            var a = activate(tr.act, z[c]);
            if (job.eval == 0u && tr.dropout > 0.0) {
                a = a * w_dropout(tr, t, l + 1u, r, col);
            }
            scratch[zi + tr.batch * tr.width] = a;
        }
    }
}

// Linear layer `job.layer`: Z = A W + b, then (hidden layers) the activation and dropout.
@compute @workgroup_size(8, 8)
fn wide_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = w_tile(wid, lid);
    let k = tile.k;
    let tr = tile.tr;
    let l = job.layer;
    let start = tile.start;
    let len = tile.len;
    let r0 = tile.r0;
    let c0 = tile.c0;
    let fi = fan_in(tr, l);
    let fo = fan_out(tr, l);
    if (!tile.ok || r0 >= len || c0 >= fo) {
        return;
    }
    let w = k * g.state_stride + param_offset(tr, l);
    let cl = w_cols(c0, fo);
    let r1 = min(r0 + 1u, len - 1u);
    let r2 = min(r0 + 2u, len - 1u);
    let r3 = min(r0 + 3u, len - 1u);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    if (l == 0u) {
        let x0 = w_x_row(k, start, r0);
        let x1 = w_x_row(k, start, r1);
        let x2 = w_x_row(k, start, r2);
        let x3 = w_x_row(k, start, r3);
        for (var i = 0u; i < fi; i = i + 1u) {
            let wr = w + i * fo;
            let wv = vec4<f32>(state[wr + cl.x], state[wr + cl.y], state[wr + cl.z], state[wr + cl.w]);
            a0 = a0 + data[x0 + i] * wv;
            a1 = a1 + data[x1 + i] * wv;
            a2 = a2 + data[x2 + i] * wv;
            a3 = a3 + data[x3 + i] * wv;
        }
    } else {
        let ab = k * g.scratch_stride + w_act(tr, l);
        let x0 = ab + r0 * fi;
        let x1 = ab + r1 * fi;
        let x2 = ab + r2 * fi;
        let x3 = ab + r3 * fi;
        for (var i = 0u; i < fi; i = i + 1u) {
            let wr = w + i * fo;
            let wv = vec4<f32>(state[wr + cl.x], state[wr + cl.y], state[wr + cl.z], state[wr + cl.w]);
            a0 = a0 + scratch[x0 + i] * wv;
            a1 = a1 + scratch[x1 + i] * wv;
            a2 = a2 + scratch[x2 + i] * wv;
            a3 = a3 + scratch[x3 + i] * wv;
        }
    }
    let bw = w + fi * fo;
    let bias = vec4<f32>(state[bw + cl.x], state[bw + cl.y], state[bw + cl.z], state[bw + cl.w]);
    let t = counters[k * 4u + 1u] + 1u;
    w_forward_store(k, tr, l, t, r0, c0, fo, a0 + bias);
    if (r0 + 1u < len) {
        w_forward_store(k, tr, l, t, r0 + 1u, c0, fo, a1 + bias);
    }
    if (r0 + 2u < len) {
        w_forward_store(k, tr, l, t, r0 + 2u, c0, fo, a2 + bias);
    }
    if (r0 + 3u < len) {
        w_forward_store(k, tr, l, t, r0 + 3u, c0, fo, a3 + bias);
    }
}

// ---- loss --------------------------------------------------------------------------------

var<workgroup> wl_start: u32;
var<workgroup> wl_len: u32;
var<workgroup> wl_loss: array<f32, 64>;
var<workgroup> wl_hits: array<f32, 64>;

// Softmax cross-entropy of the logits. Training: the logits become d loss / d logits (mean
// over the batch) and the batch's mean loss goes into the step's loss bin. Evaluation: the
// chunk's loss and hits are added up; the last chunk turns the sums into means.
@compute @workgroup_size(64)
fn wide_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let k = wid.z;
    if (k >= g.slots) {
        return;
    }
    let tr = trials[k];
    if (tr.live == 0u) {
        return;
    }
    if (tid == 0u) {
        let rows = w_rows(k, tr);
        wl_start = rows.x;
        wl_len = rows.y;
    }
    let start = workgroupUniformLoad(&wl_start);
    let len = workgroupUniformLoad(&wl_len);
    if (len == 0u) {
        return;
    }
    let lg = k * g.scratch_stride + w_logits(tr);
    let c_n = g.classes;
    let inv = 1.0 / f32(len);
    var loss = 0.0;
    var hits = 0.0;
    for (var r = tid; r < len; r = r + WG) {
        let row = lg + r * c_n;
        let st = logit_stats(row, c_n);
        let lse = st.lse;
        let y = w_label(k, start, r);
        loss = loss + (lse - scratch[row + y]);
        hits = hits + select(0.0, 1.0, st.best == y);
        if (job.eval == 0u) {
            for (var c = 0u; c < c_n; c = c + 1u) {
                let p = exp(scratch[row + c] - lse);
                scratch[row + c] = (p - select(0.0, 1.0, c == y)) * inv;
            }
        }
    }
    wl_loss[tid] = loss;
    wl_hits[tid] = hits;
    workgroupBarrier();
    if (tid == 0u) {
        var total = 0.0;
        var hit_total = 0.0;
        for (var i = 0u; i < WG; i = i + 1u) {
            total = total + wl_loss[i];
            hit_total = hit_total + wl_hits[i];
        }
        if (job.eval == 0u) {
            let step = counters[k * 4u];
            let o = k * g.out_stride + step / tr.group;
            let mean = total / f32(len);
            if (step % tr.group == 0u) {
                out[o] = mean;
            } else {
                out[o] = out[o] + mean;
            }
        } else {
            let ob = k * g.out_stride + g.loss_bins;
            if (counters[k * 4u + 2u] == 0u) {
                out[ob] = total;
                out[ob + 1u] = hit_total;
            } else {
                out[ob] = out[ob] + total;
                out[ob + 1u] = out[ob + 1u] + hit_total;
            }
            if (start + len >= g.n_valid) {
                let n = f32(g.n_valid);
                out[ob] = out[ob] / n;
                out[ob + 1u] = out[ob + 1u] / n;
            }
        }
    }
}

// ---- backward ------------------------------------------------------------------------------

fn w_delta_store(k: u32, tr: Trial, h: u32, t: u32, r: u32, c0: u32, acc: vec4<f32>) {
    let sb = k * g.scratch_stride;
    let n = tr.width;
    for (var c = 0u; c < 4u; c = c + 1u) {
        let i = c0 + c;
        if (i >= n) {
            break;
        }
        let idx = r * n + i;
        var grad = acc[c] * activate_grad(tr.act, scratch[sb + w_pre(tr, h) + idx]);
        if (tr.dropout > 0.0) {
            grad = grad * w_dropout(tr, t, h, r, i);
        }
        scratch[sb + w_delta(tr, h) + idx] = grad;
    }
}

// D_h = (D_out W_h^T) * act'(Z_h) (* the dropout mask) for hidden layer h = `job.layer`, from
// linear layer h's output deltas and its weights before they are updated.
@compute @workgroup_size(8, 8)
fn wide_delta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let tile = w_tile(wid, lid);
    let k = tile.k;
    let tr = tile.tr;
    let h = job.layer;
    let len = tile.len;
    let r0 = tile.r0;
    let c0 = tile.c0;
    let fi = tr.width;
    let fo = fan_out(tr, h);
    if (!tile.ok || h == 0u || r0 >= len || c0 >= fi) {
        return;
    }
    let w = k * g.state_stride + param_offset(tr, h);
    let d = k * g.scratch_stride + w_out_delta(tr, h);
    let il = w_cols(c0, fi) * fo;
    let x0 = d + r0 * fo;
    let x1 = d + min(r0 + 1u, len - 1u) * fo;
    let x2 = d + min(r0 + 2u, len - 1u) * fo;
    let x3 = d + min(r0 + 3u, len - 1u) * fo;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var j = 0u; j < fo; j = j + 1u) {
        let wj = w + j;
        let wv = vec4<f32>(state[wj + il.x], state[wj + il.y], state[wj + il.z], state[wj + il.w]);
        a0 = a0 + scratch[x0 + j] * wv;
        a1 = a1 + scratch[x1 + j] * wv;
        a2 = a2 + scratch[x2 + j] * wv;
        a3 = a3 + scratch[x3 + j] * wv;
    }
    let t = counters[k * 4u + 1u] + 1u;
    w_delta_store(k, tr, h, t, r0, c0, a0);
    if (r0 + 1u < len) {
        w_delta_store(k, tr, h, t, r0 + 1u, c0, a1);
    }
    if (r0 + 2u < len) {
        w_delta_store(k, tr, h, t, r0 + 2u, c0, a2);
    }
    if (r0 + 3u < len) {
        w_delta_store(k, tr, h, t, r0 + 3u, c0, a3);
    }
}

fn w_update_row(tr: Trial, w: u32, i: u32, fi: u32, c0: u32, fo: u32, grad: vec4<f32>, bc2s: f32, c1: f32, c2: f32) {
    if (i > fi) {
        return;
    }
    for (var c = 0u; c < 4u; c = c + 1u) {
        let j = c0 + c;
        if (j >= fo) {
            break;
        }
        apply_update(tr, w + i * fo + j, grad[c], bc2s, c1, c2);
    }
}

// Gradients of linear layer `job.layer` over the batch (row `fan_in` of the parameter matrix
// is the bias: its input is 1) and the optimiser update of those parameters.
@compute @workgroup_size(8, 8)
fn wide_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    // Rows of this tile are parameter rows (input features, then the bias).
    let tile = w_tile(wid, lid);
    let k = tile.k;
    let tr = tile.tr;
    let l = job.layer;
    let start = tile.start;
    let len = tile.len;
    let p0 = tile.r0;
    let c0 = tile.c0;
    let fi = fan_in(tr, l);
    let fo = fan_out(tr, l);
    if (!tile.ok || p0 > fi || c0 >= fo) {
        return;
    }
    let w = k * g.state_stride + param_offset(tr, l);
    let d = k * g.scratch_stride + w_out_delta(tr, l);
    let cl = w_cols(c0, fo);
    // Input features p0..p0+3, clamped for loads; index fi is the bias (input 1).
    let last = fi - 1u;
    let i0 = min(p0, last);
    let i1 = min(p0 + 1u, last);
    let i2 = min(p0 + 2u, last);
    let i3 = min(p0 + 3u, last);
    let one = vec4<bool>(p0 >= fi, p0 + 1u >= fi, p0 + 2u >= fi, p0 + 3u >= fi);
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var r = 0u; r < len; r = r + 1u) {
        let dr = d + r * fo;
        let dv = vec4<f32>(scratch[dr + cl.x], scratch[dr + cl.y], scratch[dr + cl.z], scratch[dr + cl.w]);
        var x: vec4<f32>;
        if (l == 0u) {
            let xr = w_x_row(k, start, r);
            x = vec4<f32>(data[xr + i0], data[xr + i1], data[xr + i2], data[xr + i3]);
        } else {
            let xr = k * g.scratch_stride + w_act(tr, l) + r * fi;
            x = vec4<f32>(scratch[xr + i0], scratch[xr + i1], scratch[xr + i2], scratch[xr + i3]);
        }
        x = select(x, vec4<f32>(1.0), one);
        a0 = a0 + x.x * dv;
        a1 = a1 + x.y * dv;
        a2 = a2 + x.z * dv;
        a3 = a3 + x.w * dv;
    }
    let tf = f32(counters[k * 4u + 1u] + 1u);
    let c1 = 1.0 - pow(tr.beta1, tf);
    let c2 = 1.0 - pow(tr.beta2, tf);
    let bc2s = sqrt(c2);
    w_update_row(tr, w, p0, fi, c0, fo, a0, bc2s, c1, c2);
    w_update_row(tr, w, p0 + 1u, fi, c0, fo, a1, bc2s, c1, c2);
    w_update_row(tr, w, p0 + 2u, fi, c0, fo, a2, bc2s, c1, c2);
    w_update_row(tr, w, p0 + 3u, fi, c0, fo, a3, bc2s, c1, c2);
}

// ---- cursor --------------------------------------------------------------------------------

// After a training step: the next step, one more optimiser step taken, evaluation armed.
// After a validation chunk: the next chunk; after the last, evaluation done and the epoch
// cursor rewound.
@compute @workgroup_size(1)
fn wide_advance(@builtin(workgroup_id) wid: vec3<u32>) {
    let k = wid.z;
    if (k >= g.slots) {
        return;
    }
    let tr = trials[k];
    if (tr.live == 0u) {
        return;
    }
    let c = k * 4u;
    if (job.eval == 0u) {
        let cursor = counters[c];
        if (cursor < tr.steps) {
            counters[c] = cursor + 1u;
            counters[c + 1u] = counters[c + 1u] + 1u;
            counters[c + 2u] = 0u;
        }
        return;
    }
    let chunk = counters[c + 2u];
    if (chunk == DONE) {
        return;
    }
    let next = chunk + 1u;
    if (next * tr.batch >= g.n_valid) {
        counters[c + 2u] = DONE;
        counters[c] = 0u;
    } else {
        counters[c + 2u] = next;
    }
}
