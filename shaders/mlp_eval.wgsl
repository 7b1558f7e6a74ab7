// sweeplab fused MLP engine: `evaluate` computes every active slot's mean validation
// cross-entropy and accuracy (no dropout) into `out`, and rewinds the slot's epoch cursor for
// the next epoch. One workgroup per slot, one validation sample per thread at a time, the
// forward pass in registers. Needs mlp_common.wgsl in front.

@compute @workgroup_size(64)
fn evaluate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let k = wid.x;
    if (k >= g.slots) {
        return;
    }
    let tr = trials[k];
    if (tr.live == 0u) {
        return;
    }
    let pbase = k * g.state_stride;
    let ind = g.in_dim;
    let c_n = g.classes;
    var loss_sum = 0.0;
    var hits = 0.0;
    for (var s = tid; s < g.n_valid; s = s + WG) {
        var h: array<f32, 32>;
        var o: array<f32, 32>;
        for (var f = 0u; f < ind; f = f + 1u) {
            h[f] = data[g.valid_x + s * ind + f];
        }
        var fi = ind;
        var w = pbase;
        for (var l = 0u; l <= tr.layers; l = l + 1u) {
            let fo = fan_out(tr, l);
            for (var j = 0u; j < fo; j = j + 1u) {
                var acc = 0.0;
                for (var i = 0u; i < fi; i = i + 1u) {
                    acc = acc + h[i] * state[w + i * fo + j];
                }
                o[j] = acc + state[w + fi * fo + j];
            }
            if (l < tr.layers) {
                for (var j = 0u; j < fo; j = j + 1u) {
                    h[j] = activate(tr.act, o[j]);
                }
            }
            w = w + fi * fo + fo;
            fi = fo;
        }
        var m = o[0];
        var best = 0u;
        for (var c = 1u; c < c_n; c = c + 1u) {
            if (o[c] > m) {
                m = o[c];
                best = c;
            }
        }
        var se = 0.0;
        for (var c = 0u; c < c_n; c = c + 1u) {
            se = se + exp(o[c] - m);
        }
        let y = u32(data[g.valid_y + s]);
        loss_sum = loss_sum + (m + log(se) - o[y]);
        hits = hits + select(0.0, 1.0, best == y);
    }
    let pp = k * g.scratch_stride + partial_offset(tr);
    scratch[pp + tid] = loss_sum;
    scratch[pp + WG + tid] = hits;
    storageBarrier();
    if (tid == 0u) {
        var l_total = 0.0;
        var h_total = 0.0;
        for (var i = 0u; i < WG; i = i + 1u) {
            l_total = l_total + scratch[pp + i];
            h_total = h_total + scratch[pp + WG + i];
        }
        let n = f32(max(g.n_valid, 1u));
        let o_base = k * g.out_stride + g.loss_bins;
        out[o_base] = l_total / n;
        out[o_base + 1u] = h_total / n;
        counters[k * 4u] = 0u;
    }
}
