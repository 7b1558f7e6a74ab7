// The browser peer benchmark's driver: opens the benchmark page (bench/browser/index.html,
// served by `cargo xtask bench-browser`) in Debian's Chromium through playwright-core, runs
// every cell in that one page, prints markdown tables and writes results.json and page.png.
//
//   cargo xtask bench-browser [options]           # builds, serves, then runs this
//   BASE_URL=http://127.0.0.1:8090/ node bench/browser/run.mjs [options]   # against a served page
//
// A benchmark, never a test. `--help` lists the options.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

// sweeplab-fused: the fused engine's wide WGSL kernels (the MLP only; whole epochs, each one
// submit with its validation pass), what the playground runs for an MNIST MLP study on WebGPU.
// TF.js runs every backend it has, so "best TF.js" is the best of wasm, cpu, webgl and webgpu,
// and "best TF.js GPU" the better of webgl (its most mature GPU backend) and webgpu.
const ALL_BACKENDS = ['sweeplab-flex', 'sweeplab-fused', 'sweeplab-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'tfjs-webgl', 'tfjs-webgpu'];
const TFJS_GPU = new Set(['tfjs-webgl', 'tfjs-webgpu']);
const GPU_BACKENDS = new Set(['sweeplab-fused', 'sweeplab-webgpu', 'tfjs-webgpu', 'tfjs-webgl']);
const WEBGPU_ROWS = new Set(['sweeplab-fused', 'sweeplab-webgpu']);
// Chromium's WebGPU on SwiftShader (the CPU), as the e2e tests run it. On a machine with a
// GPU, pass e.g. --gpu-flags "--enable-features=Vulkan" (Linux) or --gpu-flags "" (others).
const SWIFTSHADER_FLAGS = '--enable-features=Vulkan --use-angle=swiftshader --use-webgpu-adapter=swiftshader';
// Defaults per model: timed steps on the CPU backends and on the WebGPU ones (SwiftShader
// is slow), warm-up steps, and steps of the counting runs. A CNN step at batch 128 takes
// about a minute on TF.js's cpu and webgpu backends here, so the CNN gets one timed step.
// The language model (`lm`: LoRA on q and v over the frozen base, batch --lm-batch windows
// of 64 bytes) takes tens of milliseconds a step on the CPU backends and seconds on TF.js's.
const DEFAULT_STEPS = {
  mlp: { cpu: 100, gpu: 20, warmup: 2, profile: 8 },
  cnn: { cpu: 1, gpu: 1, warmup: 1, profile: 1 },
  lm: { cpu: 10, gpu: 3, warmup: 2, profile: 2 },
};
const base = (name) => name.split('@')[0];
const isGpu = (name) => GPU_BACKENDS.has(base(name));

const HELP = `usage: node bench/browser/run.mjs [options]   (normally via cargo xtask bench-browser)

  --models LIST          mlp,cnn,lm (default all three; lm: the LoRA fine-tune study's language
                         model, LoRA on q and v, rated in predicted bytes (tokens) per second)
  --batches LIST         32,128 (default; mlp and cnn)
  --lm-batch N           64-byte windows per step of the lm cells (default 16, as lora_bench)
  --backends LIST        ${ALL_BACKENDS.join(',')} (default);
                         NAME@VARIANT runs sweeplab's module built with --variants VARIANT
  --steps N              timed steps of the CPU backends (default mlp ${DEFAULT_STEPS.mlp.cpu}, cnn ${DEFAULT_STEPS.cnn.cpu})
  --gpu-steps N          timed steps of the WebGPU backends (default mlp ${DEFAULT_STEPS.mlp.gpu}, cnn ${DEFAULT_STEPS.cnn.gpu})
  --warmup N             untimed steps before each timed run (default mlp ${DEFAULT_STEPS.mlp.warmup}, cnn ${DEFAULT_STEPS.cnn.warmup})
  --repeats N            timed runs per cell, interleaved across backends; the median counts (default 3)
  --cell-seconds S       stop repeating a cell once its runs took S seconds in all (default 30; at least one run)
  --read-every N         read the losses back every N steps, as the trainer does (default 16)
  --no-profile           skip counting WebGPU calls per step
  --kernel-times         also time every WebGPU dispatch (timestamp queries; a diagnostic that
                         replays each pass as one pass per dispatch) and print GPU ms per kernel
  --profile-steps N      steps of the counting runs (default mlp ${DEFAULT_STEPS.mlp.profile}, cnn ${DEFAULT_STEPS.cnn.profile})
  --no-study             skip the spiral study (fused kernels vs burn one trial at a time)
  --study-trials N       trials of the fused study (default 64)
  --study-burn-trials N  the first N of those trials trained by burn, one at a time (default 8)
  --study-epochs N       epochs per trial (default 10, as fused_bench)
  --study-slots N        trials the fused engine trains at once (default 64)
  --study-repeats N      runs per engine (default 3 fused, burn 1; --study-burn-repeats N)
  --study-engines LIST   fused,burn-webgpu,burn-flex (default all three; NAME@VARIANT as for --backends)
  --gpu-flags "FLAGS"    Chromium's GPU flags instead of SwiftShader's ("${SWIFTSHADER_FLAGS}")
  --headed               show the browser window (needs a display)
  --url URL              the page (default $BASE_URL)
  --out DIR              results.json and page.png (default $BENCH_OUT or target/bench-browser)`;

function parseArgs(argv) {
  const o = {
    models: ['mlp', 'cnn', 'lm'], batches: [32, 128], lmBatch: 16, backends: ALL_BACKENDS, steps: null, gpuSteps: null,
    warmup: null, repeats: 3, cellSeconds: 30, readEvery: 16, profile: true, profileSteps: null, study: true,
    studyTrials: 64, studyBurnTrials: 8, studyEpochs: 10, studySlots: 64, studyRepeats: 3,
    studyBurnRepeats: 1, studyEngines: ['fused', 'burn-webgpu', 'burn-flex'],
    stepsPerDispatch: 64, gpuFlags: SWIFTSHADER_FLAGS, headed: false, kernelTimes: false,
    url: process.env.BASE_URL || 'http://127.0.0.1:8090/',
    out: process.env.BENCH_OUT || path.join(root, 'target/bench-browser'),
  };
  const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number, not \`${v}\``);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null];
    const val = () => {
      if (inline !== null) return inline;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--models': o.models = list(val()); break;
      case '--batches': o.batches = list(val()).map((b) => int('--batches', b)); break;
      case '--lm-batch': o.lmBatch = Math.max(1, int(flag, val())); break;
      case '--backends': o.backends = list(val()); break;
      case '--steps': o.steps = int(flag, val()); break;
      case '--gpu-steps': o.gpuSteps = int(flag, val()); break;
      case '--warmup': o.warmup = int(flag, val()); break;
      case '--repeats': o.repeats = Math.max(1, int(flag, val())); break;
      case '--cell-seconds': o.cellSeconds = int(flag, val()); break;
      case '--read-every': o.readEvery = Math.max(1, int(flag, val())); break;
      case '--no-profile': o.profile = false; break;
      case '--kernel-times': o.kernelTimes = true; break;
      case '--profile-steps': o.profileSteps = Math.max(1, int(flag, val())); break;
      case '--no-study': o.study = false; break;
      case '--study-trials': o.studyTrials = Math.max(1, int(flag, val())); break;
      case '--study-burn-trials': o.studyBurnTrials = Math.max(1, int(flag, val())); break;
      case '--study-epochs': o.studyEpochs = Math.max(1, int(flag, val())); break;
      case '--study-slots': o.studySlots = Math.max(1, int(flag, val())); break;
      case '--study-repeats': o.studyRepeats = Math.max(1, int(flag, val())); break;
      case '--study-burn-repeats': o.studyBurnRepeats = Math.max(1, int(flag, val())); break;
      case '--study-engines': o.studyEngines = list(val()); break;
      case '--steps-per-dispatch': o.stepsPerDispatch = Math.max(1, int(flag, val())); break;
      case '--gpu-flags': o.gpuFlags = val(); break;
      case '--headed': o.headed = true; break;
      case '--url': o.url = val(); break;
      case '--out': o.out = path.resolve(val()); break;
      case '-h': case '--help': console.log(HELP); process.exit(0); break;
      default: throw new Error(`unknown option \`${a}\`\n${HELP}`);
    }
  }
  for (const m of o.models) if (!DEFAULT_STEPS[m]) throw new Error(`unknown model \`${m}\`; use mlp, cnn, lm`);
  const variants = (JSON.parse(process.env.BENCH_BUILD || '{}').variants || []).map((v) => v.name);
  const checkVariant = (name) => {
    const v = name.split('@')[1];
    if (v !== undefined && !variants.includes(v)) {
      throw new Error(`\`${name}\`: no build variant \`${v}\` (built: ${variants.join(', ') || 'none'}; add --variants ${v})`);
    }
  };
  for (const b of o.backends) {
    if (!ALL_BACKENDS.includes(base(b))) throw new Error(`unknown backend \`${b}\`; use ${ALL_BACKENDS.join(', ')}`);
    if (b.includes('@') && !b.startsWith('sweeplab-')) throw new Error(`\`${b}\`: only sweeplab's backends have build variants`);
    checkVariant(b);
  }
  for (const e of o.studyEngines) {
    if (!['fused', 'burn-webgpu', 'burn-flex'].includes(base(e))) throw new Error(`unknown study engine \`${e}\``);
    checkVariant(e);
  }
  return o;
}

let o;
try {
  o = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`bench-browser: ${e.message}`);
  process.exit(2);
}
fs.mkdirSync(o.out, { recursive: true });
const build = JSON.parse(process.env.BENCH_BUILD || '{}');

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const stepsFor = (model, backend) => (isGpu(backend)
  ? o.gpuSteps ?? DEFAULT_STEPS[model].gpu
  : o.steps ?? DEFAULT_STEPS[model].cpu);
const warmupFor = (model) => o.warmup ?? DEFAULT_STEPS[model].warmup;
const profileStepsFor = (model) => o.profileSteps ?? DEFAULT_STEPS[model].profile;
// The final loss: mean of the last (up to) 10 timed steps' losses.
const tailLoss = (losses) => mean(losses.slice(-Math.min(10, losses.length)));
const log = (s) => process.stderr.write(`${s}\n`);

// Kernel families: names without the type suffixes and hash (cubecl: `matmul_entry_lhs_f32…`
// → `matmul_entry`; TF.js's names are its programs').
function families(kernels) {
  const m = new Map();
  for (const k of kernels) {
    const fam = k.name.replace(/_(c|lhs|in|t|e|f|b)_(f32|i32|u32|bool)[\s\S]*$/, '').replace(/_[0-9a-f]{8}$/, '');
    const e = m.get(fam) || { family: fam, per_step: 0, gpu_ms_per_step: 0 };
    e.per_step += k.per_step;
    e.gpu_ms_per_step += k.gpu_ms_per_step;
    m.set(fam, e);
  }
  return [...m.values()].sort((a, b) => b.gpu_ms_per_step - a.gpu_ms_per_step);
}

// Self time of a CDP CPU profile by category: idle, GC, program (the browser's own work
// outside JS) and the top JS/wasm functions.
function summariseProfile(p) {
  const self = new Map();
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const dt = (p.timeDeltas[i] || 0) / 1000;
    const f = n.callFrame;
    const key = f.url && f.url.endsWith('.wasm') ? `wasm ${f.functionName}` : `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}` : ''}`;
    self.set(key, (self.get(key) || 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const pick = (k) => self.get(k) || 0;
  const wasm = [...self.entries()].filter(([k]) => k.startsWith('wasm ')).reduce((a, [, v]) => a + v, 0);
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => [k, Math.round(v)]);
  return {
    total_ms: Math.round(total),
    idle_pct: Math.round((100 * pick('(idle)')) / total),
    program_pct: Math.round((100 * pick('(program)')) / total),
    gc_pct: Math.round((100 * pick('(garbage collector)')) / total),
    wasm_pct: Math.round((100 * wasm) / total),
    top,
  };
}

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweeplab-bench-'));
const args = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  ...o.gpuFlags.split(/\s+/).filter(Boolean),
  // As tests/e2e/run.mjs: nothing talks to the network.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
  // Keep the page at full speed for the whole run.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  // Unquantised timestamp queries for --kernel-times.
  ...(o.kernelTimes ? ['--enable-webgpu-developer-features'] : []),
];
const context = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: !o.headed,
  viewport: { width: 1280, height: 900 },
  args,
});
const page = context.pages()[0] || (await context.newPage());
const problems = [];
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(m.text());
});
page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));

const results = {
  when: new Date().toISOString(),
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gb: Math.round(os.totalmem() / 2 ** 30) },
  options: o,
  chromium_args: args,
  build,
  env: null,
  cells: [],
  profile: [],
  kernel_times: [],
  study: [],
};
const summary = () => ({ cells: results.cells, profile: results.profile, study: results.study, env: results.env });
const render = async (done) => page.evaluate((s) => window.bench.render(s), { ...summary(), done }).catch(() => {});
const save = () => fs.writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

let exitCode = 0;
try {
  await page.goto(o.kernelTimes ? `${o.url}${o.url.includes('?') ? '&' : '?'}timestamps=1` : o.url);
  await page.waitForFunction(() => window.bench && window.bench.ready, null, { timeout: 120_000 });
  results.env = await page.evaluate(() => window.bench.ready);
  results.env.browser = context.browser()?.version() ?? null;
  log(`page ready: ${results.env.userAgent}`);
  log(`adapter: ${JSON.stringify(results.env.adapter)}; cross-origin isolated: ${results.env.crossOriginIsolated}`);
  const t0 = Date.now();

  // ---- Training throughput: per (model, batch), repeats interleaved across backends. ----
  const batchesOf = (model) => (model === 'lm' ? [o.lmBatch] : o.batches);
  for (const model of o.models) {
    for (const batch of batchesOf(model)) {
      const cells = o.backends.filter((b) => model === 'mlp' || base(b) !== 'sweeplab-fused').map((backend) => ({
        model, batch, backend, steps: stepsFor(model, backend), warmup: warmupFor(model), read_every: o.readEvery,
        status: 'ok', runs: [], error: null, wall_s: 0,
      }));
      for (let r = 0; r < o.repeats; r++) {
        for (const c of cells) {
          if (c.status !== 'ok') continue;
          if (r > 0 && c.wall_s > o.cellSeconds) continue; // slow cell: fewer repeats
          const cfg = { backend: c.backend, model, batch, steps: c.steps, warmup: c.warmup, readEvery: o.readEvery };
          const started = Date.now();
          const res = await page.evaluate((cfg) => window.bench.train(cfg), cfg);
          c.wall_s += (Date.now() - started) / 1000;
          if (res.status !== 'ok') {
            c.status = res.status;
            c.error = res.error;
            log(`${model} b${batch} ${c.backend}: ${res.status}: ${String(res.error).split('\n')[0]}`);
            continue;
          }
          if (res.steps) c.steps = res.steps;
          c.runs.push({ samples_per_sec: res.samples_per_sec, seconds: res.seconds, final_loss: tailLoss(res.losses), first_loss: res.losses[0] });
          log(`${model} b${batch} ${c.backend} #${r + 1}: ${res.samples_per_sec.toFixed(0)} samples/s, ${res.seconds.toFixed(2)} s, final loss ${tailLoss(res.losses).toFixed(4)}`);
        }
      }
      for (const c of cells) {
        c.repeats = c.runs.length;
        c.samples_per_sec = c.runs.length ? median(c.runs.map((x) => x.samples_per_sec)) : null;
        c.final_loss = c.runs.length ? mean(c.runs.map((x) => x.final_loss)) : null;
      }
      const tf = cells.filter((c) => c.backend.startsWith('tfjs') && c.samples_per_sec);
      const best = tf.reduce((b, c) => (!b || c.samples_per_sec > b.samples_per_sec ? c : b), null);
      const tfGpu = tf.filter((c) => TFJS_GPU.has(c.backend))
        .reduce((b, c) => (!b || c.samples_per_sec > b.samples_per_sec ? c : b), null);
      for (const c of cells) {
        c.best_tfjs = best ? best.backend : null;
        c.vs_best_tfjs = best && c.samples_per_sec ? c.samples_per_sec / best.samples_per_sec : null;
        // GPU against GPU: sweeplab's WebGPU rows against TF.js's best GPU backend.
        c.best_tfjs_gpu = tfGpu ? tfGpu.backend : null;
        c.vs_best_tfjs_gpu = WEBGPU_ROWS.has(base(c.backend)) && tfGpu && c.samples_per_sec ? c.samples_per_sec / tfGpu.samples_per_sec : null;
      }
      results.cells.push(...cells);
      save();
      await render();
    }
  }

  // ---- WebGPU calls per step (the smallest batch of each model). ----
  if (o.profile) {
    // Per-step counts by difference of two runs; the fused cell trains whole epochs.
    const gpu = o.backends.filter((b) => isGpu(b) && base(b) !== 'sweeplab-fused');
    for (const model of o.models) {
      const batch = Math.min(...batchesOf(model));
      for (const backend of gpu) {
        const cfg = { backend, model, batch, steps: profileStepsFor(model), warmup: warmupFor(model), readEvery: o.readEvery };
        // The page's main thread meanwhile (a CPU profile): busy in wasm/JS encoding work,
        // or idle while the GPU process runs the kernels.
        const cdp = await context.newCDPSession(page);
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
        await cdp.send('Profiler.start');
        const res = await page.evaluate((cfg) => window.bench.profile(cfg), cfg);
        const { profile } = await cdp.send('Profiler.stop');
        await cdp.detach();
        const name = `cpu-${model}-b${batch}-${backend}.cpuprofile`;
        fs.writeFileSync(path.join(o.out, name), JSON.stringify(profile));
        res.main_thread = summariseProfile(profile);
        res.main_thread.file = name;
        results.profile.push({ model, batch, backend, steps: profileStepsFor(model), ...res });
        log(`profile ${model} b${batch} ${backend}: ${JSON.stringify(res.per_step ?? res.error)}`);
        log(`  main thread: ${JSON.stringify(res.main_thread)}`);
        for (const k of (res.kernels || []).slice(0, 40)) log(`  ${k.per_step.toFixed(2)}/step ${k.name} wg(${k.workgroup}) grids ${JSON.stringify(k.grids)}`);
        save();
        await render();
      }
    }
  }

  // ---- GPU time per kernel (timestamp queries), the smallest batch of each model. ----
  if (o.kernelTimes) {
    for (const model of o.models) {
      const batch = Math.min(...batchesOf(model));
      for (const backend of o.backends.filter((b) => isGpu(b) && base(b) !== 'sweeplab-fused')) {
        const cfg = { backend, model, batch, steps: profileStepsFor(model), warmup: warmupFor(model), readEvery: o.readEvery };
        const res = await page.evaluate((cfg) => window.bench.kernelTimes(cfg), cfg);
        res.families = families(res.kernels || []);
        results.kernel_times.push({ model, batch, backend, ...res });
        log(`kernel times ${model} b${batch} ${backend}: ${res.status === 'ok' ? `GPU ${res.gpu_ms_per_step.toFixed(1)} ms/step, wall ${res.wall_ms_per_step.toFixed(1)} ms/step` : res.error}`);
        for (const k of (res.kernels || []).slice(0, 15)) log(`  ${k.gpu_ms_per_step.toFixed(2)} ms/step  ${k.per_step}x ${k.name} wg(${k.workgroup})`);
        save();
      }
    }
  }

  // ---- The spiral study: fused kernels vs burn one trial at a time. ----
  if (o.study) {
    const rows = [];
    for (const engine of o.studyEngines) {
      const burn = base(engine) !== 'fused';
      const trials = burn ? Math.min(o.studyBurnTrials, o.studyTrials) : o.studyTrials;
      const row = { engine, trials, epochs: o.studyEpochs, slots: burn ? 1 : o.studySlots, status: 'ok', runs: [], error: null };
      const cfg = { engine, trials, epochs: o.studyEpochs, slots: o.studySlots, stepsPerDispatch: o.stepsPerDispatch };
      // An untimed warm-up: 2 trials of 1 epoch (pipelines compiled, device started).
      const warm = await page.evaluate((cfg) => window.bench.study(cfg), { ...cfg, trials: 2, epochs: 1 });
      if (warm.status !== 'ok') {
        row.status = warm.status;
        row.error = warm.error;
        log(`study ${engine}: ${warm.error}`);
      }
      const repeats = burn ? o.studyBurnRepeats : o.studyRepeats;
      for (let r = 0; r < repeats && row.status === 'ok'; r++) {
        const res = await page.evaluate((cfg) => window.bench.study(cfg), cfg);
        if (res.status !== 'ok') {
          row.status = res.status;
          row.error = res.error;
          break;
        }
        row.runs.push(res);
        log(`study ${engine} #${r + 1}: ${trials} trials in ${res.seconds.toFixed(2)} s (${res.complete} complete)`);
      }
      rows.push(row);
    }
    // Equal work: burn trains the first N trials of the fused study's sequence (same
    // sampler seed), so the mean final val loss over those N trials is compared.
    const nBurn = Math.min(o.studyBurnTrials, o.studyTrials);
    for (const row of rows) {
      row.repeats = row.runs.length;
      row.median_seconds = row.runs.length ? median(row.runs.map((r) => r.seconds)) : null;
      row.trials_per_sec = row.median_seconds ? row.trials / row.median_seconds : null;
      const losses = row.runs.length ? row.runs[0].val_loss : [];
      row.mean_val_loss = losses.length ? mean(losses.filter((v) => v !== null)) : null;
      row.mean_val_loss_first = losses.length ? mean(losses.slice(0, nBurn).filter((v) => v !== null)) : null;
      row.complete = row.runs.length ? row.runs[0].complete : 0;
    }
    const burnGpu = rows.find((r) => r.engine === 'burn-webgpu' && r.trials_per_sec) || rows.find((r) => base(r.engine) === 'burn-webgpu' && r.trials_per_sec);
    for (const row of rows) row.vs_burn_webgpu = burnGpu && row.trials_per_sec ? row.trials_per_sec / burnGpu.trials_per_sec : null;
    results.study = rows;
    save();
  }
  results.seconds = (Date.now() - t0) / 1000;
  results.sweeplab_gpu = await page.evaluate(() => window.bench.sweeplabGpu());
  results.tfjs_info = await page.evaluate(() => window.bench.tfInfo());
  results.page_problems = problems;
  save();
  await render(`done in ${results.seconds.toFixed(0)} s`);
  await page.screenshot({ path: path.join(o.out, 'page.png'), fullPage: true });
} catch (e) {
  exitCode = 1;
  console.error(`bench-browser: ${e.stack || e}`);
  results.error = String(e);
  results.page_problems = problems;
  save();
} finally {
  await context.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}

// ---- Tables (markdown) ----
const f0 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const f = (v, d) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
const x = (v) => (v ? `${v.toFixed(2)}x` : '–');
const out = [];
out.push(`sweeplab browser benchmark — ${results.env?.userAgent?.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}, adapter ${results.env?.adapter?.description || results.env?.adapter?.vendor || results.env?.adapter?.architecture || 'none'}; TF.js ${results.env?.tfjs ?? '?'} (wasm: ${JSON.stringify(results.tfjs_info?.wasm ?? null)}); ${results.host.cpus} CPUs; bench module ${build.module_gzip_bytes ? `${(build.module_gzip_bytes / 1024).toFixed(0)} KiB gzip` : '?'}${(build.burn_features || []).length ? ` (+${build.burn_features.join(',')})` : ''}${(build.variants || []).map((v) => `; variant ${v.name}: ${(v.module_gzip_bytes / 1024).toFixed(0)} KiB gzip`).join('')}`);
out.push('');
out.push('| model | batch | backend | steps | runs | samples/s | final loss | vs best TF.js | vs best TF.js GPU |');
out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|');
for (const c of results.cells) {
  const gpuRatio = c.vs_best_tfjs_gpu ? `${x(c.vs_best_tfjs_gpu)} (${c.best_tfjs_gpu})` : '–';
  out.push(`| ${c.model} | ${c.batch} | ${c.backend} | ${c.steps} | ${c.repeats} | ${c.status === 'ok' ? f0(c.samples_per_sec) : c.status} | ${f(c.final_loss, 4)} | ${x(c.vs_best_tfjs)} | ${gpuRatio} |`);
}
out.push('');
out.push(`samples/s: median of up to ${o.repeats} timed runs (repeats interleaved across backends; fewer when a cell's runs passed ${o.cellSeconds} s), each after the warm-up steps (mlp ${warmupFor('mlp')}, cnn ${warmupFor('cnn')}, lm ${warmupFor('lm')}) and ending with the loss read back; losses read every ${o.readEvery} steps (lm: once, at the end); final loss = mean of the last 10 steps (compare rows with equal steps). lm rows count predicted bytes (tokens), not samples: batch is 64-byte windows; LoRA r 8 on q and v over the frozen base (sweeplab's shipped base; TF.js's is random, same shapes).`);
if (results.profile.length) {
  out.push('');
  out.push('| model | batch | backend | ms/step | dispatches/step | submits/step | map reads/step | buffers created/step | writeBuffer/step | bind groups/step | pipelines (run) |');
  out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of results.profile) {
    const s = p.per_step || {};
    out.push(`| ${p.model} | ${p.batch} | ${p.backend} | ${p.status === 'ok' ? f(p.ms_per_step, 1) : p.status} | ${f(s.dispatches, 1)} | ${f(s.submits, 2)} | ${f(s.maps, 2)} | ${f(s.buffers, 1)} | ${f(s.writes, 1)} | ${f(s.bindGroups, 1)} | ${p.total?.pipelines ?? '–'} |`);
  }
}
if (results.kernel_times.length) {
  out.push('');
  out.push('| model | batch | backend | GPU ms/step (timed) | wall ms/step (timing on) | top kernels by GPU time (ms/step, dispatches/step) |');
  out.push('|---|---:|---|---:|---:|---|');
  for (const k of results.kernel_times) {
    const top = (k.families || []).slice(0, 4).map((f) => `${f.family} ${f.gpu_ms_per_step.toFixed(1)} (${f.per_step})`).join(', ');
    out.push(`| ${k.model} | ${k.batch} | ${k.backend} | ${k.status === 'ok' ? f(k.gpu_ms_per_step, 1) : k.status} | ${f(k.wall_ms_per_step, 1)} | ${top} |`);
  }
}
if (results.study.length) {
  out.push('');
  out.push('| engine | trials | epochs | repeats | median s | trials/s | mean val loss (all) | mean val loss (first N) | vs burn webgpu |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results.study) {
    out.push(`| ${r.engine} | ${r.trials} | ${r.epochs} | ${r.repeats} | ${r.status === 'ok' ? f(r.median_seconds, 2) : r.status} | ${f(r.trials_per_sec, 3)} | ${f(r.mean_val_loss, 4)} | ${f(r.mean_val_loss_first, 4)} | ${x(r.vs_burn_webgpu)} |`);
  }
  out.push('');
  out.push(`spiral study as fused_bench (500 points, layers 1-4, width 4-32, 4 activations, lr 1e-3..0.1, batch 10/16/32, Adam, random sampler seed 0, no pruner). burn trains the first ${Math.min(o.studyBurnTrials, o.studyTrials)} trials of the same sequence one at a time; "first N" compares the same trials.`);
}
if (problems.length) {
  out.push('');
  out.push(`page console errors (${problems.length}): ${problems.slice(0, 5).join(' | ')}`);
}
out.push('');
out.push(`results: ${path.join(o.out, 'results.json')}; screenshot: ${path.join(o.out, 'page.png')}`);
console.log(out.join('\n'));
process.exit(exitCode);
