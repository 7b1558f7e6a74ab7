// The browser benchmark page's logic (served by `cargo xtask bench-browser`, driven by
// bench/browser/run.mjs). It loads sweeplab's bench module (web/src/bench.rs, built with the
// `bench` feature: the WebGPU worker's trainer plus the fused engine) and TensorFlow.js 4.22
// (script tags in index.html, from the local npm install), and exposes `window.bench`:
//
//   await bench.ready                      -> environment info
//   await bench.train(cfg)                 -> one timed repeat of one cell
//   await bench.profile(cfg)               -> WebGPU calls per step of one cell
//   await bench.study(cfg)                 -> one run of the spiral study
//
// Model `lm` is the language model of the LoRA fine-tune study (core/src/train/lm): LoRA on
// its query and value projections over the frozen base, 64-byte windows of the same training
// split; its rate is predicted bytes (tokens) per second.
//   bench.render(summary)                  -> fills the page's tables
//
// Both libraries run here, on the page's main thread, on the same data: sweeplab's training
// split (MNIST-10k, first 8,000 images, normalised with MNIST's mean and std) handed over
// from the wasm module, the same batch order, the same architecture, initialisation
// distribution (U(-1/sqrt(fan_in), +1/sqrt(fan_in)) for weights and biases, as burn), Adam
// (lr 1e-3, betas 0.9/0.999, eps 1e-5, burn's defaults) and cross-entropy.

import init, * as sw from './pkg/sweeplab_bench.js';


// ---- WebGPU call counters (for `bench.profile`) ----------------------------------------
// Wrapping the prototypes counts the calls of both libraries alike (wgpu's wasm bindings and
// TF.js both call these methods). The wrapper costs a branch per call when not counting.
const counts = {};
let counting = false;
function wrap(proto, name, key) {
  if (!proto || typeof proto[name] !== 'function') return;
  const orig = proto[name];
  proto[name] = function (...args) {
    if (counting) counts[key] = (counts[key] || 0) + 1;
    return orig.apply(this, args);
  };
}
// The calls counted: per WebGPU interface, its methods and the count each adds to.
const COUNTED = {
  GPUComputePassEncoder: {
    dispatchWorkgroups: 'dispatches',
    dispatchWorkgroupsIndirect: 'dispatches',
  },
  GPUQueue: { submit: 'submits', writeBuffer: 'writes' },
  GPUBuffer: { mapAsync: 'maps' },
  GPUDevice: {
    createBuffer: 'buffers',
    createBindGroup: 'bindGroups',
    createComputePipeline: 'pipelines',
    createComputePipelineAsync: 'pipelines',
    createShaderModule: 'shaders',
    createCommandEncoder: 'encoders',
  },
  GPUCommandEncoder: { beginComputePass: 'passes', copyBufferToBuffer: 'copies' },
};
if (globalThis.GPUDevice) {
  for (const [iface, methods] of Object.entries(COUNTED)) {
    for (const [name, key] of Object.entries(methods)) wrap(globalThis[iface].prototype, name, key);
  }
}
function resetCounts() {
  for (const k of Object.keys(counts)) delete counts[k];
  kernels.clear();
}

// Which kernels run, for `bench.profile`: per pipeline, its label or entry point, workgroup
// size (from the WGSL) and the dispatches' workgroup counts.
const shaderCode = new WeakMap();
const pipelineInfo = new WeakMap();
const passPipeline = new WeakMap();
const kernels = new Map(); // key -> {name, workgroup, grids: Map(grid -> count), count}
function wrapResult(proto, name, fn) {
  if (!proto || typeof proto[name] !== 'function') return;
  const orig = proto[name];
  proto[name] = function (...args) {
    const r = orig.apply(this, args);
    try { fn(args, r); } catch (_) { /* diagnostics only */ }
    return r;
  };
}
function describePipeline(desc) {
  const code = shaderCode.get(desc?.compute?.module) || '';
  const wg = code.match(/@workgroup_size\(([^)]*)\)/);
  const entry = desc?.compute?.entryPoint || (code.match(/@compute[^\n]*\n?\s*fn\s+(\w+)/) || [])[1] || 'main';
  const fnName = desc?.label || entry;
  return { name: fnName, workgroup: wg ? wg[1].replace(/\s+/g, '') : '?', codeLength: code.length };
}
if (globalThis.GPUDevice) {
  wrapResult(GPUDevice.prototype, 'createShaderModule', ([d], m) => shaderCode.set(m, d?.code || ''));
  wrapResult(GPUDevice.prototype, 'createComputePipeline', ([d], p) => pipelineInfo.set(p, describePipeline(d)));
  wrapResult(GPUDevice.prototype, 'createComputePipelineAsync', ([d], pr) => pr.then((p) => pipelineInfo.set(p, describePipeline(d))));
  const setPipeline = GPUComputePassEncoder.prototype.setPipeline;
  GPUComputePassEncoder.prototype.setPipeline = function (p) {
    passPipeline.set(this, p);
    return setPipeline.call(this, p);
  };
  const dispatch = GPUComputePassEncoder.prototype.dispatchWorkgroups;
  GPUComputePassEncoder.prototype.dispatchWorkgroups = function (x, y = 1, z = 1) {
    if (counting) {
      const info = pipelineInfo.get(passPipeline.get(this)) || { name: '?', workgroup: '?' };
      const key = `${info.name}|${info.workgroup}|${info.codeLength}`;
      let k = kernels.get(key);
      if (!k) kernels.set(key, (k = { key, name: info.name, workgroup: info.workgroup, count: 0, grids: {} }));
      k.count++;
      const g = `${x}x${y}x${z}`;
      k.grids[g] = (k.grids[g] || 0) + 1;
    }
    return dispatch.call(this, x, y, z);
  };
}

// ---- GPU time per kernel (`bench.kernelTimes`, page URL `?timestamps=1`) -------------------
// Every compute pass is recorded and replayed as one pass per dispatch with timestamp
// writes, so each dispatch's GPU time is read back and summed per kernel. Devices get the
// `timestamp-query` feature; Chromium quantises timestamps unless started with
// --enable-webgpu-developer-features. A diagnostic: the replay changes how work is batched.
const TIMESTAMPS = new URL(location.href).searchParams.get('timestamps') === '1';
let timing = false;
const gpuTimes = new Map(); // kernel key -> {name, workgroup, count, ns}
let pendingReads = [];
const encoderDevice = new WeakMap();
const encoderReads = new WeakMap();
const bufferReads = new WeakMap();
const kernelKey = (p) => {
  const info = pipelineInfo.get(p) || { name: '?', workgroup: '?', codeLength: 0 };
  return [`${info.name}|${info.workgroup}|${info.codeLength}`, info];
};
if (TIMESTAMPS && globalThis.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (desc = {}) {
    if (this.features.has('timestamp-query')) {
      const features = new Set(desc.requiredFeatures || []);
      features.add('timestamp-query');
      desc = { ...desc, requiredFeatures: [...features] };
    }
    return requestDevice.call(this, desc);
  };
  const createEncoder = GPUDevice.prototype.createCommandEncoder;
  GPUDevice.prototype.createCommandEncoder = function (...args) {
    const enc = createEncoder.apply(this, args);
    encoderDevice.set(enc, this);
    return enc;
  };
  const beginPass = GPUCommandEncoder.prototype.beginComputePass;
  GPUCommandEncoder.prototype.beginComputePass = function (desc) {
    const dev = encoderDevice.get(this);
    if (!timing || !dev || !dev.features.has('timestamp-query')) return beginPass.call(this, desc);
    const enc = this;
    const ops = [];
    let pipeline = null;
    const groups = [];
    return {
      label: '',
      setPipeline(p) { pipeline = p; },
      setBindGroup(...args) { groups[args[0]] = args; },
      dispatchWorkgroups(x, y = 1, z = 1) { ops.push({ pipeline, groups: groups.slice(), grid: [x, y, z] }); },
      dispatchWorkgroupsIndirect(buffer, offset) { ops.push({ pipeline, groups: groups.slice(), indirect: [buffer, offset] }); },
      pushDebugGroup() {},
      popDebugGroup() {},
      insertDebugMarker() {},
      end() {
        if (!ops.length) return;
        const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * ops.length });
        ops.forEach((op, i) => {
          const pass = beginPass.call(enc, {
            timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
          });
          pass.setPipeline(op.pipeline);
          for (const g of op.groups) if (g) pass.setBindGroup(...g);
          if (op.indirect) pass.dispatchWorkgroupsIndirect(...op.indirect);
          else pass.dispatchWorkgroups(...op.grid);
          pass.end();
        });
        const bytes = 16 * ops.length;
        const resolve = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
        const read = dev.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        enc.resolveQuerySet(qs, 0, 2 * ops.length, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
        if (!encoderReads.has(enc)) encoderReads.set(enc, []);
        encoderReads.get(enc).push({ read, resolve, qs, keys: ops.map((op) => kernelKey(op.pipeline)) });
      },
    };
  };
  const finish = GPUCommandEncoder.prototype.finish;
  GPUCommandEncoder.prototype.finish = function (...args) {
    const cb = finish.apply(this, args);
    if (encoderReads.has(this)) bufferReads.set(cb, encoderReads.get(this));
    return cb;
  };
  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (cbs) {
    const r = submit.call(this, cbs);
    for (const cb of cbs || []) {
      for (const rd of bufferReads.get(cb) || []) {
        pendingReads.push(rd.read.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(rd.read.getMappedRange());
          rd.keys.forEach(([key, info], i) => {
            const ns = t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) : 0;
            let k = gpuTimes.get(key);
            if (!k) gpuTimes.set(key, (k = { key, name: info.name, workgroup: info.workgroup, count: 0, ns: 0 }));
            k.count++;
            k.ns += ns;
          });
          rd.read.unmap();
          rd.read.destroy();
          rd.resolve.destroy();
          rd.qs.destroy();
        }, () => {}));
      }
    }
    return r;
  };
}
const status = (text) => {
  const el = document.getElementById('status');
  if (el) el.textContent = text;
};

// ---- Data ----------------------------------------------------------------------------
let data = null; // {features, labels, n, dim}
const orders = new Map();
function order(seed) {
  if (!orders.has(seed)) orders.set(seed, sw.bench_order(seed, data.n));
  return orders.get(seed);
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// ---- sweeplab ---------------------------------------------------------------------------
// Build variants (`cargo xtask bench-browser --variants fusion,...`): the same module built
// with other burn features, in pkg-<variant>/, loaded on first use. A backend or study engine
// named `<name>@<variant>` runs on that module.
let mnistBytes = null;
let lmFiles = null; // [corpus text, base bytes] from data/lm/
const lmLoaded = new WeakSet();
let lmTrain = null; // the training split's bytes, for TF.js's windows
const modules = new Map();
const gpuInfo = {};
async function moduleFor(variant) {
  if (!variant) return sw;
  if (!modules.has(variant)) {
    const m = await import(`./pkg-${variant}/sweeplab_bench.js`);
    await m.default();
    m.sweeplab_init();
    m.bench_load_mnist(mnistBytes[0], mnistBytes[1]);
    modules.set(variant, m);
  }
  return modules.get(variant);
}
const splitVariant = (name) => {
  const i = name.indexOf('@');
  return i < 0 ? [name, ''] : [name.slice(0, i), name.slice(i + 1)];
};

// The language model's corpus and base, read by a module on its first `lm` cell.
async function lmData(m) {
  if (!lmFiles) {
    const r = await fetch('data/lm/devils-dictionary.txt');
    if (!r.ok) throw new Error(`data/lm/devils-dictionary.txt: HTTP ${r.status}`);
    lmFiles = [await r.text(), await fetchBytes('data/lm/base.safetensors')];
  }
  if (!lmLoaded.has(m)) {
    m.bench_load_lm(lmFiles[0], lmFiles[1]);
    lmLoaded.add(m);
  }
  if (!lmTrain) lmTrain = m.bench_lm_train_bytes();
}

async function sweeplabTrain(cfg) {
  const [base, variant] = splitVariant(cfg.backend);
  const m = await moduleFor(variant);
  if (cfg.model === 'lm') {
    await lmData(m);
    const backend = base === 'sweeplab-webgpu' ? 'webgpu' : 'flex';
    if (backend === 'webgpu' && !gpuInfo[variant]) gpuInfo[variant] = JSON.parse(await m.bench_gpu_init());
    const r = JSON.parse(await m.bench_train_lm(backend, LM.variant, cfg.batch, cfg.warmup, cfg.steps));
    return { samples_per_sec: r.tokens_per_sec, seconds: r.seconds, losses: r.losses };
  }
  if (base === 'sweeplab-fused') {
    // Whole epochs on the fused engine's wide kernels: `steps` is rounded up to epochs.
    const perEpoch = Math.ceil(8000 / cfg.batch);
    const r = JSON.parse(await m.bench_train_fused(cfg.model, cfg.batch, Math.max(1, Math.ceil(cfg.steps / perEpoch))));
    return { samples_per_sec: r.samples_per_sec, seconds: r.seconds, losses: r.losses, steps: r.steps };
  }
  const backend = base === 'sweeplab-webgpu' ? 'webgpu' : 'flex';
  if (backend === 'webgpu' && !gpuInfo[variant]) gpuInfo[variant] = JSON.parse(await m.bench_gpu_init());
  const r = JSON.parse(
    await m.bench_train(backend, cfg.model, cfg.batch, cfg.warmup, cfg.steps, cfg.readEvery),
  );
  return { samples_per_sec: r.samples_per_sec, seconds: r.seconds, losses: r.losses };
}

// ---- TensorFlow.js ---------------------------------------------------------------------
const TFJS_BACKENDS = { 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu', 'tfjs-webgpu': 'webgpu', 'tfjs-webgl': 'webgl' };
const tfInfo = {};

async function useTfBackend(name) {
  if (name === 'wasm' && !tfInfo.wasmPaths) {
    tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
    tfInfo.wasmPaths = true;
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`TF.js backend ${name} failed to initialise`);
  }
  await tf.ready();
  if (name === 'wasm' && tfInfo.wasm === undefined) {
    tfInfo.wasm = {
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      threads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    };
  }
}

// Weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as burn's Linear and Conv2d.
function uniform(fanIn, seed) {
  const lim = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -lim, maxval: lim, seed });
}

function tfModel(kind) {
  const m = tf.sequential();
  if (kind === 'mlp') {
    m.add(tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu',
      kernelInitializer: uniform(784, 1), biasInitializer: uniform(784, 2) }));
    m.add(tf.layers.dense({ units: 10, kernelInitializer: uniform(128, 3), biasInitializer: uniform(128, 4) }));
  } else {
    // conv 3x3 32 -> relu -> conv 3x3 64 -> relu -> max-pool 2 -> dropout 0.25 -> fc 128
    // -> relu -> dropout 0.25 -> fc 10 (core/src/train/model.rs's Cnn, NHWC here).
    m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu',
      kernelInitializer: uniform(9, 1), biasInitializer: uniform(9, 2) }));
    m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu',
      kernelInitializer: uniform(32 * 9, 3), biasInitializer: uniform(32 * 9, 4) }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.dropout({ rate: 0.25 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 128, activation: 'relu',
      kernelInitializer: uniform(9216, 5), biasInitializer: uniform(9216, 6) }));
    m.add(tf.layers.dropout({ rate: 0.25 }));
    m.add(tf.layers.dense({ units: 10, kernelInitializer: uniform(128, 7), biasInitializer: uniform(128, 8) }));
  }
  return m;
}

// Reads back the losses of `pending` (one-element tensors) in one transfer, and frees them.
async function readLosses(pending) {
  const stacked = tf.stack(pending);
  const v = await stacked.data();
  stacked.dispose();
  for (const t of pending) t.dispose();
  return Array.from(v);
}

async function tfjsTrain(cfg) {
  await useTfBackend(TFJS_BACKENDS[cfg.backend]);
  const { n, dim } = data;
  const batch = Math.min(cfg.batch, n);
  const scope = [];
  const keep = (t) => { scope.push(t); return t; };
  const xAll = keep(tf.tensor2d(data.features, [n, dim]));
  const yAll = keep(tf.tensor1d(data.labels, 'int32'));
  const perm = keep(tf.tensor1d(order(0), 'int32'));
  const model = tfModel(cfg.model);
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-5);
  const step = (s) => tf.tidy(() => {
    const idx = perm.slice(sw.bench_batch_start(s, batch, n), batch);
    let x = tf.gather(xAll, idx);
    if (cfg.model === 'cnn') x = x.reshape([batch, 28, 28, 1]);
    const y = tf.oneHot(tf.gather(yAll, idx), 10);
    return opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })),
      true,
    );
  });
  const read = readLosses;
  try {
    let pending = [];
    const losses = [];
    let t0 = performance.now();
    for (let s = 0; s < cfg.warmup + cfg.steps; s++) {
      if (s === cfg.warmup) {
        if (pending.length) await read(pending.splice(0));
        t0 = performance.now();
      }
      pending.push(step(s));
      if (pending.length >= Math.max(1, cfg.readEvery)) {
        const v = await read(pending.splice(0));
        if (s >= cfg.warmup) losses.push(...v);
      }
    }
    if (pending.length) losses.push(...(await read(pending.splice(0))));
    const seconds = (performance.now() - t0) / 1000;
    return { samples_per_sec: (cfg.steps * batch) / Math.max(seconds, 1e-9), seconds, losses };
  } finally {
    model.dispose();
    opt.dispose();
    for (const t of scope) t.dispose();
  }
}

// ---- The language model in TF.js ------------------------------------------------------
// The same transformer as core/src/train/lm, written against TF.js ops: byte embeddings and
// learned positions (width 96, 64-byte context), 3 pre-norm blocks (RMSNorm, eps 1e-5; causal
// attention with 4 heads; SwiGLU MLP of 256), a final RMSNorm and an untied head, no biases.
// LoRA (PEFT's form: A Kaiming-uniform, B zero, scale alpha / r, dropout on the adapter's
// input) on q and v with r 8, alpha 16, dropout 0.05; the base is frozen (not trainable, so
// no gradients or Adam state for it). Adam at 1e-3 (betas 0.9/0.999, eps 1e-5, burn's), mean
// cross-entropy of the next byte. The base here is random (the shipped base's values do not
// change the work); the windows are random 65-byte slices of sweeplab's training split.
const LM = { variant: 'lora-qv', d: 96, layers: 3, heads: 4, ff: 256, ctx: 64, vocab: 256, r: 8, alpha: 16, dropout: 0.05, targets: ['q', 'v'] };

function lmWeights() {
  let seed = 11;
  const uni = (shape, fanIn, trainable) => {
    const lim = 1 / Math.sqrt(fanIn);
    return tf.variable(tf.randomUniform(shape, -lim, lim, 'float32', seed++), trainable);
  };
  const { d, ff, vocab, ctx, r } = LM;
  const proj = (name, din, dout) => {
    const p = { w: uni([din, dout], din, false) };
    if (LM.targets.includes(name)) {
      p.a = uni([din, r], din, true); // [in, r]: A transposed, for x · A
      p.b = tf.variable(tf.zeros([r, dout]), true);
    }
    return p;
  };
  const w = {
    tok: tf.variable(tf.randomNormal([vocab, d], 0, 0.02, 'float32', seed++), false),
    pos: tf.variable(tf.randomNormal([ctx, d], 0, 0.02, 'float32', seed++), false),
    layers: [],
    norm: tf.variable(tf.ones([d]), false),
    head: uni([d, vocab], d, false),
  };
  for (let l = 0; l < LM.layers; l++) {
    w.layers.push({
      n1: tf.variable(tf.ones([d]), false), q: proj('q', d, d), k: proj('k', d, d), v: proj('v', d, d), o: proj('o', d, d),
      n2: tf.variable(tf.ones([d]), false), gate: proj('gate', d, ff), up: proj('up', d, ff), down: proj('down', ff, d),
    });
  }
  return w;
}

function lmVariables(w) {
  const all = [w.tok, w.pos, w.norm, w.head];
  for (const L of w.layers) {
    all.push(L.n1, L.n2);
    for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) all.push(...[L[k].w, L[k].a, L[k].b].filter(Boolean));
  }
  return all;
}

// Mean cross-entropy of predicting x[:, 1:] from x[:, :-1]; x is int32 [batch, 65].
function lmLoss(w, x, batch, mask) {
  const { d, heads, vocab, ctx: t } = LM;
  const dh = d / heads;
  const input = x.slice([0, 0], [batch, t]).reshape([batch * t]);
  const target = x.slice([0, 1], [batch, t]).reshape([batch * t]);
  const rms = (h, g) => h.mul(tf.rsqrt(h.square().mean(-1, true).add(1e-5))).mul(g);
  const lin = (h, p) => {
    const y = tf.matMul(h, p.w);
    if (!p.a) return y;
    return y.add(tf.matMul(tf.matMul(tf.dropout(h, LM.dropout), p.a), p.b).mul(LM.alpha / LM.r));
  };
  const split = (y) => y.reshape([batch, t, heads, dh]).transpose([0, 2, 1, 3]);
  let h = tf.gather(w.tok, input).add(tf.tile(w.pos, [batch, 1])); // [batch * t, d]
  for (const L of w.layers) {
    const n = rms(h, L.n1);
    const scores = tf.matMul(split(lin(n, L.q)), split(lin(n, L.k)), false, true).mul(1 / Math.sqrt(dh)).add(mask);
    const att = tf.matMul(tf.softmax(scores), split(lin(n, L.v))).transpose([0, 2, 1, 3]).reshape([batch * t, d]);
    h = h.add(lin(att, L.o));
    const n2 = rms(h, L.n2);
    const gate = lin(n2, L.gate);
    h = h.add(lin(gate.mul(tf.sigmoid(gate)).mul(lin(n2, L.up)), L.down));
  }
  const logits = tf.matMul(rms(h, w.norm), w.head);
  return tf.losses.softmaxCrossEntropy(tf.oneHot(target, vocab), logits);
}

async function tfjsTrainLm(cfg) {
  await useTfBackend(TFJS_BACKENDS[cfg.backend]);
  if (!lmTrain) await lmData(sw);
  const batch = cfg.batch;
  const t = LM.ctx;
  const w = tf.tidy(() => lmWeights());
  const vars = lmVariables(w).filter((v) => v.trainable);
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-5);
  // 0 where a position may look (itself and before), -1e9 above the diagonal.
  const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([t, t]), -1, 0).sub(1).mul(1e9));
  let state = 0x9e3779b9; // xorshift32: the windows' starts
  const rand = () => {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const windows = () => {
    const buf = new Int32Array(batch * (t + 1));
    for (let b = 0; b < batch; b++) {
      const start = Math.floor(rand() * (lmTrain.length - t - 1));
      for (let j = 0; j <= t; j++) buf[b * (t + 1) + j] = lmTrain[start + j];
    }
    return tf.tensor2d(buf, [batch, t + 1], 'int32');
  };
  const read = readLosses;
  try {
    let pending = [];
    let t0 = performance.now();
    for (let s = 0; s < cfg.warmup + cfg.steps; s++) {
      if (s === cfg.warmup) {
        if (pending.length) await read(pending.splice(0));
        t0 = performance.now();
      }
      const x = windows();
      pending.push(opt.minimize(() => lmLoss(w, x, batch, mask), true, vars));
      x.dispose();
    }
    // As sweeplab's side: the timed steps' losses read back once, at the end.
    const losses = await read(pending.splice(0));
    const seconds = (performance.now() - t0) / 1000;
    return { samples_per_sec: (cfg.steps * batch * t) / Math.max(seconds, 1e-9), seconds, losses };
  } finally {
    opt.dispose();
    mask.dispose();
    for (const v of lmVariables(w)) v.dispose();
  }
}

// TF.js's wasm backend has no Conv2DBackpropFilter (and so cannot train a CNN); report such
// a cell as unsupported rather than failing the run.
function unsupported(e) {
  const m = String(e && e.message ? e.message : e);
  return /not registered|not implemented|not supported/i.test(m) ? m : null;
}

async function train(cfg) {
  const lib = cfg.backend.startsWith('sweeplab') ? sweeplabTrain : cfg.model === 'lm' ? tfjsTrainLm : tfjsTrain;
  status(`${cfg.model} batch ${cfg.batch} ${cfg.backend}: ${cfg.steps} steps…`);
  try {
    const r = await lib(cfg);
    return { status: 'ok', ...r };
  } catch (e) {
    const why = unsupported(e);
    if (why) return { status: 'unsupported', error: why };
    return { status: 'error', error: String(e && e.stack ? e.stack : e) };
  }
}

// WebGPU calls per step: two runs of the same cell, `1` and `1 + steps` timed steps, with the
// counters on; the difference divided by `steps` leaves out model set-up and data upload.
async function profile(cfg) {
  const once = async (steps) => {
    resetCounts();
    counting = true;
    try {
      const r = await train({ ...cfg, steps });
      if (r.status !== 'ok') throw new Error(r.error);
      return { counts: { ...counts }, seconds: r.seconds, kernels: [...kernels.values()] };
    } finally {
      counting = false;
    }
  };
  try {
    const a = await once(1);
    const b = await once(1 + cfg.steps);
    const per = {};
    for (const k of new Set([...Object.keys(a.counts), ...Object.keys(b.counts)])) {
      per[k] = ((b.counts[k] || 0) - (a.counts[k] || 0)) / cfg.steps;
    }
    // Kernels per step, by the same difference.
    const before = new Map(a.kernels.map((k) => [k.key, k.count]));
    const perKernel = b.kernels
      .map((k) => ({ ...k, per_step: (k.count - (before.get(k.key) || 0)) / cfg.steps }))
      .filter((k) => k.per_step > 0)
      .sort((x, y) => y.per_step - x.per_step);
    return { status: 'ok', per_step: per, ms_per_step: ((b.seconds - a.seconds) * 1000) / cfg.steps, total: b.counts, kernels: perKernel };
  } catch (e) {
    const why = unsupported(e);
    return { status: why ? 'unsupported' : 'error', error: why || String(e) };
  }
}

// GPU time per kernel and step: as `profile`, two runs (`1` and `1 + steps` timed steps)
// with every dispatch timed; the difference divided by `steps`.
async function kernelTimes(cfg) {
  if (!TIMESTAMPS) return { status: 'error', error: 'open the page with ?timestamps=1' };
  const once = async (steps) => {
    gpuTimes.clear();
    pendingReads = [];
    timing = true;
    try {
      const t0 = performance.now();
      const r = await train({ ...cfg, steps });
      if (r.status !== 'ok') throw new Error(r.error);
      await Promise.all(pendingReads);
      return { kernels: [...gpuTimes.values()].map((k) => ({ ...k })), wall_ms: performance.now() - t0 };
    } finally {
      timing = false;
    }
  };
  try {
    const a = await once(1);
    const b = await once(1 + cfg.steps);
    const before = new Map(a.kernels.map((k) => [k.key, k]));
    const per = b.kernels.map((k) => {
      const o = before.get(k.key) || { count: 0, ns: 0 };
      return { name: k.name, workgroup: k.workgroup, per_step: (k.count - o.count) / cfg.steps, gpu_ms_per_step: (k.ns - o.ns) / 1e6 / cfg.steps };
    }).filter((k) => k.per_step > 0).sort((x, y) => y.gpu_ms_per_step - x.gpu_ms_per_step);
    const total = per.reduce((a, k) => a + k.gpu_ms_per_step, 0);
    const timed = b.kernels.reduce((a, k) => a + k.count, 0) > 0;
    return { status: timed ? 'ok' : 'error', error: timed ? null : 'no timestamps (no timestamp-query on this adapter?)', gpu_ms_per_step: total, wall_ms_per_step: (b.wall_ms - a.wall_ms) / cfg.steps, kernels: per };
  } catch (e) {
    return { status: 'error', error: String(e) };
  }
}

async function study(cfg) {
  status(`spiral study: ${cfg.engine}, ${cfg.trials} trials…`);
  try {
    const [engine, variant] = splitVariant(cfg.engine);
    const m = await moduleFor(variant);
    const r = JSON.parse(await m.bench_study(engine, cfg.trials, cfg.epochs, cfg.slots, cfg.stepsPerDispatch));
    return { status: 'ok', ...r };
  } catch (e) {
    return { status: 'error', error: String(e && e.stack ? e.stack : e) };
  }
}

// ---- Rendering ---------------------------------------------------------------------------
const fmt = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ratio = (v) => (v ? `${v.toFixed(2)}x` : '–');

function row(tbody, cells, cls) {
  const tr = document.createElement('tr');
  if (cls) tr.className = cls;
  for (const [text, c] of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    if (c) td.className = c;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function render(summary) {
  const t = document.querySelector('#train tbody');
  t.innerHTML = '';
  for (const c of summary.cells || []) {
    const good = (r, goal) => (r ? (r >= goal ? 'good' : 'bad') : '');
    row(t, [
      [c.model, 'l'], [String(c.batch)], [c.backend, 'l'], [String(c.steps)],
      [c.status === 'ok' ? fmt(c.samples_per_sec) : c.status, c.status === 'ok' ? '' : 'bad'],
      [String(c.repeats ?? '–')], [fmt(c.final_loss, 4)],
      [ratio(c.vs_best_tfjs), c.backend.startsWith('sweeplab-flex') ? good(c.vs_best_tfjs, 3) : ''],
      [ratio(c.vs_best_tfjs_gpu), /^sweeplab-(webgpu|fused)/.test(c.backend) ? good(c.vs_best_tfjs_gpu, 1.5) : ''],
    ], c.backend.startsWith('sweeplab') ? 'sweeplab' : '');
  }
  const p = document.querySelector('#profile tbody');
  p.innerHTML = '';
  for (const c of summary.profile || []) {
    const s = c.per_step || {};
    row(p, [
      [c.model, 'l'], [String(c.batch)], [c.backend, 'l'],
      [c.status === 'ok' ? fmt(c.ms_per_step, 1) : c.status], [fmt(s.dispatches, 1)], [fmt(s.submits, 2)],
      [fmt(s.maps, 2)], [fmt(s.buffers, 1)], [fmt(s.writes, 1)], [fmt(s.bindGroups, 1)],
      [fmt((c.total || {}).pipelines)],
    ], c.backend.startsWith('sweeplab') ? 'sweeplab' : '');
  }
  const s = document.querySelector('#study tbody');
  s.innerHTML = '';
  for (const c of summary.study || []) {
    row(s, [
      [c.engine, 'l'], [String(c.trials)], [String(c.epochs)],
      [c.status === 'ok' ? fmt(c.median_seconds, 2) : c.status], [fmt(c.trials_per_sec, 2)],
      [String(c.repeats ?? '–')], [fmt(c.mean_val_loss, 4)], [fmt(c.mean_val_loss_first, 4)], [ratio(c.vs_burn_webgpu)],
    ], c.engine.startsWith('fused') ? 'sweeplab' : '');
  }
  document.getElementById('env').textContent = JSON.stringify(summary.env || {}, null, 2);
  if (summary.done) status(summary.done);
}

// ---- Start-up -----------------------------------------------------------------------------
async function start() {
  await init();
  // Runs the module's static constructors once (web/src/init.rs); absent in older builds.
  sw.sweeplab_init();
  const dir = 'data/mnist10k/';
  const [images, labels] = (mnistBytes = await Promise.all([
    fetchBytes(`${dir}mnist10k-images-idx3-ubyte.gz`),
    fetchBytes(`${dir}mnist10k-labels-idx1-ubyte.gz`),
  ]));
  const info = JSON.parse(sw.bench_load_mnist(images, labels));
  data = sw.bench_train_data();
  let adapter = null;
  if (navigator.gpu) {
    try {
      const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (a) {
        const i = a.info || {};
        adapter = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
          fallback: a.isFallbackAdapter ?? i.isFallbackAdapter ?? null };
      }
    } catch (e) {
      adapter = { error: String(e) };
    }
  }
  status('ready');
  return {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    webgpu: !!navigator.gpu,
    adapter,
    tfjs: tf.version.tfjs,
    mnist: info,
  };
}

const ready = start();
window.bench = {
  ready,
  train,
  profile,
  kernelTimes,
  study,
  render,
  sweeplabGpu: () => ({ ...gpuInfo }),
  tfInfo: () => ({ ...tfInfo }),
};
