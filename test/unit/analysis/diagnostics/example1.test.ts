/**
 * The initialization examples: 784-128-128-10 MLPs (ReLU, ReLU, softmax) built and saved with TF.js at
 * test time, kernels drawn by RandomUniform(-0.01, 0.01) (bad) or GlorotUniform / HeNormal (good),
 * opened from model.json + weights.bin by the TF.js reader. The bad one gets the initializer
 * error and a vanishing forecast; the good ones get neither.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shouldFail, type CheckReport } from '../../../../src/analysis/diagnostics/check';
import { makeTempDir } from '../../helpers/fixtures';
import { checkLocalPath } from './modelBuilder';

/* eslint-disable @typescript-eslint/no-require-imports -- TF.js is loaded at run time like in src/runtime */
const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers') as typeof import('@tensorflow/tfjs-layers');
/* eslint-enable @typescript-eslint/no-require-imports */

type InitFactory = (seed: number) => ReturnType<typeof tfl.initializers.glorotUniform>;

const variants: Record<string, InitFactory> = {
  'uniform-0.01': (seed) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed }),
  glorotUniform: (seed) => tfl.initializers.glorotUniform({ seed }),
  heNormal: (seed) => tfl.initializers.heNormal({ seed }),
};

/** Builds and saves the MLP as model.json + weights.bin (the layout of tfjs-node's file:// handler). */
async function saveMlp(dir: string, init: InitFactory): Promise<string> {
  await tf.setBackend('cpu');
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: init(1), name: 'hidden1' }));
  m.add(tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2), name: 'hidden2' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3), name: 'output' }));
  let artifacts: import('@tensorflow/tfjs-core').io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  m.dispose();
  const a = artifacts!;
  const data = a.weightData;
  const bytes = Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : Buffer.from(data as ArrayBuffer);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), bytes);
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({ format: 'layers-model', generatedBy: a.generatedBy, convertedBy: null, modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
  );
  return path.join(dir, 'model.json');
}

async function check(name: string): Promise<CheckReport> {
  return checkLocalPath(await saveMlp(path.join(makeTempDir('weightscope-example1-'), name), variants[name]!));
}

test('Example 1, RandomUniform(-0.01, 0.01): initializer errors and a vanishing forecast', async () => {
  const r = await check('uniform-0.01');
  if (process.env['WEIGHTSCOPE_SHOW']) {
    console.log(r.diagnostics.map((d) => `${d.severity} ${d.code} ${d.layer ?? ''}: ${d.message}`).join('\n'));
  }
  const scale = r.diagnostics.filter((d) => d.code === 'initializer-scale');
  assert.deepEqual(scale.map((d) => [d.layer, d.severity]), [
    ['hidden1', 'error'],
    ['hidden2', 'error'],
    ['output', 'error'],
  ]);
  // std of U(-0.01, 0.01) is 0.01/sqrt(3); He for fan_in 784 is sqrt(2/784).
  const h1 = scale[0]!;
  assert.ok(Math.abs((h1.evidence['ratio'] as number) - 0.01 / Math.sqrt(3) / Math.sqrt(2 / 784)) < 0.01, String(h1.evidence['ratio']));
  assert.match(h1.message, /fan_in 784/);
  assert.match(h1.message, /vanish/);
  assert.match(scale[2]!.message, /softmax/);
  const match = r.diagnostics.filter((d) => d.code === 'initializer-match');
  assert.deepEqual(match.map((d) => d.evidence['candidate']), ['configured', 'configured', 'configured'], 'the configured RandomUniform(-0.01, 0.01) fits');
  assert.ok(match.every((d) => d.evidence['atInit'] === true));
  const vanishing = r.diagnostics.filter((d) => d.code === 'signal-vanishing');
  assert.deepEqual(vanishing.map((d) => d.evidence['direction']).sort(), ['backward', 'forward']);
  assert.ok(vanishing.every((d) => d.severity === 'warning'));
  const fwd = vanishing.find((d) => d.evidence['direction'] === 'forward')!;
  // hidden1 alone: 784 x 0.01^2/3 x 1/2 = 0.013, still in the band; hidden2 takes it out.
  assert.equal(fwd.layer, 'hidden2');
  assert.match(fwd.evidence['responsible'] as string, /hidden2/);
  // Closed form: 784*v*1/2 * 128*v*1/2 * 128*v*1 with v = 0.01^2/3, within float32 sampling of Var(W).
  const v = 0.01 ** 2 / 3;
  const expected = 784 * v * 0.5 * 128 * v * 0.5 * 128 * v;
  assert.ok(Math.abs(Math.log((fwd.evidence['cumulativeAtOutput'] as number) / expected)) < 0.05, `${fwd.evidence['cumulativeAtOutput']} vs ${expected}`);
  assert.ok(r.diagnostics.some((d) => d.code === 'untrained-layer' && d.layer === undefined));
  assert.equal(shouldFail(r, 'error'), true);
  assert.equal(JSON.stringify(r).includes('NaN'), false);
});

for (const name of ['glorotUniform', 'heNormal']) {
  test(`Example 1, ${name}: no initializer error and no vanishing forecast`, async () => {
    const r = await check(name);
    assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.deepEqual(r.diagnostics.filter((d) => d.code === 'initializer-scale' || d.code.startsWith('signal-')), []);
    const match = r.diagnostics.filter((d) => d.code === 'initializer-match');
    const want = name === 'glorotUniform' ? ['glorot_uniform'] : ['he_normal_tfjs'];
    for (const d of match) {
      assert.ok(want.includes(String(d.evidence['candidate'])) || d.evidence['candidate'] === 'configured' || String(d.evidence['equivalent'] ?? '').includes(want[0]!), `${d.layer}: ${d.message}`);
      assert.equal(d.evidence['atInit'], true, d.message);
    }
    const f = r.forecast.layers;
    assert.deepEqual(f.map((l) => l.name), ['hidden1', 'hidden2', 'output']);
    for (const l of f) {
      assert.ok(l.cumulativeForward > 1e-2 && l.cumulativeForward < 1e2, `${l.name} forward ${l.cumulativeForward}`);
      assert.ok(l.cumulativeBackward > 1e-2 && l.cumulativeBackward < 1e2, `${l.name} backward ${l.cumulativeBackward}`);
    }
    assert.equal(shouldFail(r, 'error'), false);
  });
}
