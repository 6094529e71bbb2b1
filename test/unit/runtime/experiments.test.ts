import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { dequantized, initializationModel, runExperiment } from '../../../src/runtime/experiments';
import { gradientDiagnostics } from '../../../src/runtime/gradientRules';
import { probeModel } from '../../../src/runtime/probe';
import { folderSnapshot as snapshot, makeTempDir } from '../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

test("Example 1's probes: RandomUniform(-0.01, 0.01) vanishes, GlorotUniform and HeNormal do not", async () => {
  const verdicts: Record<string, string[]> = {};
  for (const [name, init] of [
    ['uniform', (s: number) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: s })],
    ['glorot', (s: number) => tfl.initializers.glorotUniform({ seed: s })],
    ['he', (s: number) => tfl.initializers.heNormal({ seed: s })],
  ] as const) {
    const m = initializationModel(tfl, name, init);
    const p = await probeModel(m, tf, tfl, { batchSize: 32, learningRate: 0.05, seed: 2 });
    verdicts[name] = gradientDiagnostics(p).map((d) => d.code);
    m.dispose();
  }
  assert.ok(verdicts['uniform']!.includes('gradient-vanishing'), JSON.stringify(verdicts));
  assert.deepEqual(verdicts['glorot']!.filter((c) => c.startsWith('gradient-')), []);
  assert.deepEqual(verdicts['he']!.filter((c) => c.startsWith('gradient-')), []);
});

test('quantization round trips: float16 error below half an ulp, uint8 error below half a step', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.3);
  const f16 = dequantized(values, 'float16');
  const u8 = dequantized(values, 'uint8');
  let maxRel16 = 0;
  let maxAbs8 = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Math.abs(v) > 1e-4) {maxRel16 = Math.max(maxRel16, Math.abs(f16[i]! - v) / Math.abs(v));}
    maxAbs8 = Math.max(maxAbs8, Math.abs(u8[i]! - v));
  }
  assert.ok(maxRel16 <= 2 ** -11, `float16 relative error ${maxRel16}`);
  const step = (0.3 + 0.3) / 255; // range of sin * 0.3 over 1000 samples is about [-0.3, 0.3]
  assert.ok(maxAbs8 <= step / 2 + 1e-7 && maxAbs8 > 0, `uint8 error ${maxAbs8} vs half step ${step / 2}`);
});

test('a rerun of an experiment on one folder writes beside the earlier run, never over it; two at once get one folder each', async () => {
  const out = makeTempDir();
  const first = await runExperiment('precision', { outDir: out, epochs: 1, backend: 'cpu' });
  assert.equal(first.outDir, path.join(out, 'precision'));
  const before = snapshot(first.outDir);
  assert.ok(before.has(path.join('float32', 'epoch-001', 'weights.bin')), [...before.keys()].join(' '));
  const [second, third] = await Promise.all([1, 2].map(() => runExperiment('precision', { outDir: out, epochs: 1, backend: 'cpu' })));
  assert.deepEqual([second!.outDir, third!.outDir].sort(), [path.join(out, 'precision-2'), path.join(out, 'precision-3')]);
  assert.deepEqual(snapshot(first.outDir), before, 'the first run is as it was');
  for (const r of [second!, third!]) {
    for (const v of r.variants) {
      for (const c of v.checkpoints) {
        assert.ok(c.startsWith(r.outDir + path.sep), `${c} is inside ${r.outDir}`);
        assert.ok(fs.existsSync(path.join(c, 'model.json')), c);
      }
    }
  }
});

test('an experiment, finished or cancelled, leaves no tensors behind', async () => {
  const out = makeTempDir();
  await runExperiment('precision', { outDir: out, epochs: 1, backend: 'cpu' }); // warm-up
  const before = tf.memory().numTensors;
  await runExperiment('precision', { outDir: out, epochs: 1, backend: 'cpu' });
  assert.equal(tf.memory().numTensors, before, 'after the precision experiment');
  // cancelled at its first checks, with a variant's model already built
  for (const after of [2, 3]) {
    let checks = 0;
    const signal = { get aborted() { return ++checks >= after; }, addEventListener() {}, removeEventListener() {} } as unknown as AbortSignal;
    await assert.rejects(runExperiment('regularization', { outDir: out, epochs: 1, backend: 'cpu', signal }), /cancelled/);
    assert.equal(tf.memory().numTensors, before, `cancelled at check ${after}`);
  }
});
