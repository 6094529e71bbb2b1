// Bench section 'runtime': the TF.js gradient probe and one training epoch of the example
// 784-128-128-10 MLP (2,048 synthetic samples, batch 32, Adam) on every backend available here
// (tfjs-node, WASM, CPU), each in its own child process, with ratios against the CPU backend; and
// on the WASM and CPU backends a depthwise CNN's probe (DepthwiseConv2D and SeparableConv2D layers)
// with Weightscope's depthwise gradient kernels against the previous path in the same process:
// TF.js's own CPU kernels (on WASM through the bridge that copies the tensors to the CPU backend).
//
//   npm run bench -- --only runtime
//
// Child mode: node scripts/bench/runtime.mjs --child <backend>  prints one JSON line.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const self = new URL(import.meta.url).pathname;

const depthwiseKernels = ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'];

/** A small MobileNet-like network on 64x64 images: its gradients run through both depthwise kernels. */
function depthwiseModel(tfl) {
  const init = (s) => tfl.initializers.heNormal({ seed: s });
  const layers = tfl.layers;
  return tfl.sequential({
    layers: [
      layers.conv2d({ inputShape: [64, 64, 3], filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: init(2) }),
      layers.conv2d({ filters: 32, kernelSize: 1, activation: 'relu', kernelInitializer: init(3) }),
      layers.separableConv2d({ filters: 64, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', depthwiseInitializer: init(4), pointwiseInitializer: init(5) }),
      layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', depthwiseInitializer: init(6) }),
      layers.separableConv2d({ filters: 128, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', depthwiseInitializer: init(7), pointwiseInitializer: init(8) }),
      layers.globalAveragePooling2d({}),
      layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(9) }),
    ],
  });
}

/** Mean wall time of `reps` probes of `model` (batch 32) after one warm-up probe. */
async function probeMs(probeModel, model, tf, tfl, reps) {
  await probeModel(model, tf, tfl, { batchSize: 32 });
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await probeModel(model, tf, tfl, { batchSize: 32, seed: i + 2 });
  return (performance.now() - t0) / reps;
}

/** Puts the kernel configs in `configs` in place of the ones registered now. */
function install(tf, configs) {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * The depthwise CNN's probe with Weightscope's kernels and with TF.js's own CPU kernels put back
 * (`original`, taken before initLayers replaced them), which on WASM the bridge runs on copies:
 * three rounds of each, alternating so that a busy machine slows both alike; medians.
 */
async function depthwiseProbe(tf, tfl, backend, original, probeModel, registerWasmBridges) {
  const registered = () => depthwiseKernels.flatMap((n) => ['cpu', 'wasm'].map((b) => tf.getKernel(n, b)).filter(Boolean));
  const ours = registered();
  install(tf, depthwiseKernels.map((n) => ({ kernelName: n, backendName: 'cpu', kernelFunc: original[n] })));
  for (const name of depthwiseKernels) tf.unregisterKernel(name, 'wasm');
  if (backend === 'wasm') registerWasmBridges(tf);
  const previous = registered();
  const model = depthwiseModel(tfl);
  const times = { ours: [], previous: [] };
  for (let round = 0; round < 3; round++) {
    install(tf, ours);
    times.ours.push(await probeMs(probeModel, model, tf, tfl, 2));
    install(tf, previous);
    times.previous.push(await probeMs(probeModel, model, tf, tfl, 2));
  }
  install(tf, ours);
  model.dispose();
  return { ours: median(times.ours), previous: median(times.previous) };
}

async function child(backend) {
  const require = createRequire(import.meta.url);
  const tfc = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const original = Object.fromEntries(depthwiseKernels.map((n) => [n, tfc.getKernel(n, 'cpu').kernelFunc]));
  const { initLayers } = require(path.join(root, 'out/src/runtime/backend.js'));
  const { probeModel } = require(path.join(root, 'out/src/runtime/probe.js'));
  const { runTraining } = require(path.join(root, 'out/src/runtime/training.js'));
  const { initializationModel } = require(path.join(root, 'out/src/runtime/experiments.js'));
  const { clusters } = require(path.join(root, 'out/src/runtime/syntheticData.js'));
  const { registerWasmBridges } = require(path.join(root, 'out/src/runtime/wasmBridge.js'));
  const { tf, tfl, info } = await initLayers({ preferred: backend });
  if (info.name !== backend) {
    console.log(JSON.stringify({ backend, unavailable: info.fallbacks.join(' ') }));
    return;
  }
  const model = initializationModel(tfl, 'bench', (s) => tfl.initializers.heNormal({ seed: s }));
  await probeModel(model, tf, tfl, { batchSize: 64 }); // warm-up (kernel compilation)
  let t0 = performance.now();
  const reps = 5;
  for (let i = 0; i < reps; i++) await probeModel(model, tf, tfl, { batchSize: 64, seed: i + 2 });
  const probeMs = (performance.now() - t0) / reps;
  const set = clusters(2048 + 512, 784, 10, 17, 1.0);
  const data = { x: set.x, xShape: [set.n, 784], y: set.y, yShape: [set.n, 10], source: 'bench' };
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-bench-'));
  t0 = performance.now();
  await runTraining({ model: 'bench', epochs: 1, batchSize: 32, validationSplit: 0.2, optimizer: 'adam' }, { tf, tfl, backend: info, model, data, runDir, stepEventEvery: 1000 });
  const epochMs = performance.now() - t0;
  fs.rmSync(runDir, { recursive: true, force: true });
  const depthwise = backend === 'tensorflow' ? undefined : await depthwiseProbe(tf, tfl, backend, original, probeModel, registerWasmBridges);
  console.log(JSON.stringify({ backend, label: info.label, probeMs, epochMs, depthwise }));
}

export const runtimeSection = {
  name: 'runtime',
  description: 'TF.js gradient probe and one training epoch (784-128-128-10, 2,048 samples) per backend, as ratios to CPU; a depthwise CNN probe against the previous depthwise kernels',
  async run(ctx) {
    const results = [];
    for (const backend of ['cpu', 'wasm', 'tensorflow']) {
      const m = ctx.measure(process.execPath, [self, '--child', backend]);
      const r = JSON.parse(m.stdout.trim().split('\n').pop());
      if (r.unavailable) {
        console.log(`  ${backend.padEnd(42)} not available: ${r.unavailable}`);
        continue;
      }
      results.push(r);
      ctx.row(`${r.label}: probe (batch 64)`, { wallMs: r.probeMs });
      ctx.row(`${r.label}: one training epoch`, { wallMs: r.epochMs }, `process peak RSS ${m.maxRssKiB ? `${(m.maxRssKiB / 1024).toFixed(0)} MiB` : 'n/a'}`);
      if (r.depthwise) {
        const via = r.backend === 'wasm' ? ' via the bridge' : '';
        ctx.row(`${r.backend}: depthwise CNN probe, batch 32`, { wallMs: r.depthwise.ours }, 'Weightscope\'s depthwise gradient kernels');
        ctx.row(`${r.backend}: the same, previous kernels`, { wallMs: r.depthwise.previous }, `TF.js's CPU kernels${via}`);
        const ratio = r.depthwise.previous / r.depthwise.ours;
        console.log(`  ${r.label}: depthwise CNN probe ${ratio.toFixed(1)}x faster than with TF.js's CPU depthwise kernels${via}`);
        ctx.target(`${r.backend}: the depthwise CNN probe is faster than with TF.js's CPU depthwise kernels`, ratio > 1, `${ratio.toFixed(2)}x`);
      }
    }
    const cpu = results.find((r) => r.backend === 'cpu');
    for (const r of results.filter((x) => x !== cpu)) {
      const probe = cpu.probeMs / r.probeMs;
      const epoch = cpu.epochMs / r.epochMs;
      console.log(`  ${r.label} vs CPU: probe ${probe.toFixed(1)}x, epoch ${epoch.toFixed(1)}x faster`);
      ctx.target(`${r.backend} trains faster than the CPU backend`, epoch > 1, `${epoch.toFixed(2)}x`);
    }
  },
};

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] === '--child') {
  await child(process.argv[3]);
}
