// Bench section 'runtime': the TF.js gradient probe and one training epoch of the seed's
// 784-128-128-10 MLP (2,048 synthetic samples, batch 32, Adam) on every backend available here
// (tfjs-node, WASM, CPU), each in its own child process, with ratios against the CPU backend.
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

async function child(backend) {
  const require = createRequire(import.meta.url);
  const { initLayers } = require(path.join(root, 'out/src/runtime/backend.js'));
  const { probeModel } = require(path.join(root, 'out/src/runtime/probe.js'));
  const { runTraining } = require(path.join(root, 'out/src/runtime/training.js'));
  const { initializationModel } = require(path.join(root, 'out/src/runtime/experiments.js'));
  const { clusters } = require(path.join(root, 'out/src/runtime/syntheticData.js'));
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
  console.log(JSON.stringify({ backend, label: info.label, probeMs, epochMs }));
}

export const runtimeSection = {
  name: 'runtime',
  description: 'TF.js gradient probe and one training epoch (784-128-128-10, 2,048 samples) per backend, as ratios to CPU',
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
