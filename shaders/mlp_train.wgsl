// sweeplab fused MLP engine: `train` runs up to `steps_per_dispatch` optimiser steps of every
// active slot's current epoch: gather the batch, forward, softmax cross-entropy, backward and
// the optimiser update, fused in one workgroup per trial. Needs mlp_common.wgsl in front.
//
// Control flow that reaches a barrier depends only on uniform values (the workgroup id, the
// uniform buffer, read-only storage, and `workgroupUniformLoad`), as WGSL requires.

var<workgroup> wg_cursor: u32;
var<workgroup> wg_time: u32;

// Forward pass of linear layer `l` for the `len` samples of the batch.
fn forward_layer(tr: Trial, l: u32, t: u32, len: u32, pbase: u32, sbase: u32, tid: u32) {
    let fi = fan_in(tr, l);
    let fo = fan_out(tr, l);
    let w = pbase + param_offset(tr, l);
    let a_in = sbase + input_offset(tr, l);
    let hidden = l < tr.layers;
    var z_out = sbase + logits_offset(tr);
    if (hidden) {
        z_out = sbase + pre_offset(tr, l + 1u);
    }
    let a_out = z_out + tr.batch * tr.width;
    let n = len * fo;
    for (var idx = tid; idx < n; idx = idx + WG) {
        let b = idx / fo;
        let j = idx - b * fo;
        let row = a_in + b * fi;
        var acc = 0.0;
        for (var i = 0u; i < fi; i = i + 1u) {
            acc = acc + scratch[row + i] * state[w + i * fo + j];
        }
        let z = acc + state[w + fi * fo + j];
        scratch[z_out + idx] = z;
        if (hidden) {
            var a = activate(tr.act, z);
            if (tr.dropout > 0.0) {
                a = a * dropout_scale(tr, t, l + 1u, b, j);
            }
            scratch[a_out + idx] = a;
        }
    }
}

// Softmax cross-entropy: turns the logits into d loss / d logits (mean over the batch) and
// leaves each thread's sum of per-sample losses in the partial sums.
fn loss_layer(k: u32, tr: Trial, start: u32, len: u32, sbase: u32, tid: u32) {
    let lg = sbase + logits_offset(tr);
    let c_n = g.classes;
    let inv = 1.0 / f32(len);
    var part = 0.0;
    for (var b = tid; b < len; b = b + WG) {
        let row = lg + b * c_n;
        let lse = logit_stats(row, c_n).lse;
        let sample = perm[k * g.n_train + start + b];
        let y = u32(data[g.train_y + sample]);
        part = part + (lse - scratch[row + y]);
        for (var c = 0u; c < c_n; c = c + 1u) {
            let p = exp(scratch[row + c] - lse);
            scratch[row + c] = (p - select(0.0, 1.0, c == y)) * inv;
        }
    }
    scratch[sbase + partial_offset(tr) + tid] = part;
}

// d loss / d Z_h for hidden layer h (the input of linear layer h), from layer h's output
// deltas and its weights (before they are updated).
fn hidden_delta(tr: Trial, h: u32, t: u32, len: u32, pbase: u32, sbase: u32, tid: u32) {
    let fi = tr.width;
    let fo = fan_out(tr, h);
    let w = pbase + param_offset(tr, h);
    var d_out = sbase + logits_offset(tr);
    if (h < tr.layers) {
        d_out = sbase + delta_offset(tr, h + 1u);
    }
    let z = sbase + pre_offset(tr, h);
    let d = sbase + delta_offset(tr, h);
    let n = len * fi;
    for (var idx = tid; idx < n; idx = idx + WG) {
        let b = idx / fi;
        let i = idx - b * fi;
        let drow = d_out + b * fo;
        let wrow = w + i * fo;
        var acc = 0.0;
        for (var j = 0u; j < fo; j = j + 1u) {
            acc = acc + state[wrow + j] * scratch[drow + j];
        }
        var grad = acc * activate_grad(tr.act, scratch[z + idx]);
        if (tr.dropout > 0.0) {
            grad = grad * dropout_scale(tr, t, h, b, i);
        }
        scratch[d + idx] = grad;
    }
}

// Gradients of linear layer `l`'s weights and biases over the batch, and their update.
fn update_layer(tr: Trial, l: u32, len: u32, pbase: u32, sbase: u32, tid: u32, bc2s: f32, c1: f32, c2: f32) {
    let fi = fan_in(tr, l);
    let fo = fan_out(tr, l);
    let w = pbase + param_offset(tr, l);
    let a_in = sbase + input_offset(tr, l);
    var d_out = sbase + logits_offset(tr);
    if (l < tr.layers) {
        d_out = sbase + delta_offset(tr, l + 1u);
    }
    let nw = fi * fo;
    let n = nw + fo;
    for (var idx = tid; idx < n; idx = idx + WG) {
        var grad = 0.0;
        if (idx < nw) {
            let i = idx / fo;
            let j = idx - i * fo;
            for (var b = 0u; b < len; b = b + 1u) {
                grad = grad + scratch[a_in + b * fi + i] * scratch[d_out + b * fo + j];
            }
        } else {
            let j = idx - nw;
            for (var b = 0u; b < len; b = b + 1u) {
                grad = grad + scratch[d_out + b * fo + j];
            }
        }
        apply_update(tr, w + idx, grad, bc2s, c1, c2);
    }
}

// One optimiser step: step `step` of the epoch, optimiser time `t` (from 1).
fn train_step(k: u32, tr: Trial, step: u32, t: u32, tid: u32) {
    let start = step * tr.batch;
    let len = min(tr.batch, g.n_train - start);
    let sbase = k * g.scratch_stride;
    let pbase = k * g.state_stride;
    let ind = g.in_dim;

    // Gather the batch's features.
    let nx = len * ind;
    for (var idx = tid; idx < nx; idx = idx + WG) {
        let b = idx / ind;
        let f = idx - b * ind;
        let sample = perm[k * g.n_train + start + b];
        scratch[sbase + idx] = data[g.train_x + sample * ind + f];
    }
    storageBarrier();

    for (var l = 0u; l <= tr.layers; l = l + 1u) {
        forward_layer(tr, l, t, len, pbase, sbase, tid);
        storageBarrier();
    }

    loss_layer(k, tr, start, len, sbase, tid);
    storageBarrier();

    // The batch's mean loss into this step's loss bin.
    if (tid == 0u) {
        let pp = sbase + partial_offset(tr);
        var total = 0.0;
        for (var i = 0u; i < WG; i = i + 1u) {
            total = total + scratch[pp + i];
        }
        let loss = total / f32(len);
        let o = k * g.out_stride + step / tr.group;
        if (step % tr.group == 0u) {
            out[o] = loss;
        } else {
            out[o] = out[o] + loss;
        }
    }

    let tf = f32(t);
    let c1 = 1.0 - pow(tr.beta1, tf);
    let c2 = 1.0 - pow(tr.beta2, tf);
    let bc2s = sqrt(c2);
    if (tr.layers >= 1u) {
        hidden_delta(tr, tr.layers, t, len, pbase, sbase, tid);
    }
    storageBarrier();
    for (var r = 0u; r <= tr.layers; r = r + 1u) {
        let l = tr.layers - r;
        update_layer(tr, l, len, pbase, sbase, tid, bc2s, c1, c2);
        if (l >= 2u) {
            hidden_delta(tr, l - 1u, t, len, pbase, sbase, tid);
        }
        storageBarrier();
    }
}

@compute @workgroup_size(64)
fn train(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let k = wid.x;
    if (k >= g.slots) {
        return;
    }
    let tr = trials[k];
    if (tr.live == 0u) {
        return;
    }
    if (tid == 0u) {
        wg_cursor = counters[k * 4u];
        wg_time = counters[k * 4u + 1u];
    }
    let cursor = workgroupUniformLoad(&wg_cursor);
    let t0 = workgroupUniformLoad(&wg_time);
    if (cursor >= tr.steps) {
        return;
    }
    let n = min(g.steps_per_dispatch, tr.steps - cursor);
    for (var s = 0u; s < n; s = s + 1u) {
        train_step(k, tr, cursor + s, t0 + s + 1u, tid);
    }
    if (tid == 0u) {
        counters[k * 4u] = cursor + n;
        counters[k * 4u + 1u] = t0 + n;
    }
}
