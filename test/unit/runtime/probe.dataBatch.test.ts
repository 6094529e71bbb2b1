import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { probeFile } from '../../../src/runtime/probeReport';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir } from '../helpers/fixtures';
import { saveModel, writeNpz } from '../helpers/runtimeData';

let tf: Tf;
let tfl: Tfl;
let modelFile: string;
let dataFile: string;

/**
 * Dense(2 -> 1) with zero kernel and bias, so every prediction is 0 and the MSE loss is the mean of
 * y² over the samples probed. The data: 50 samples; y = 1 for samples 0-7, 2 for 8-31, 3 for 32-49.
 */
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1, kernelInitializer: 'zeros', biasInitializer: 'zeros' })] });
  const dir = makeTempDir();
  modelFile = await saveModel(tf, m, path.join(dir, 'model'));
  const y = Array.from({ length: 50 }, (_, i) => (i < 8 ? 1 : i < 32 ? 2 : 3));
  dataFile = writeNpz(path.join(dir, 'd.npz'), { x: { shape: [50, 2], values: Array.from({ length: 100 }, (_, i) => i / 100) }, y: { shape: [50, 1], values: y } });
});

test('probe --data takes the first --batch samples of the data, or as many as the automatic batch, not every row', async () => {
  const eight = await probeFile(modelFile, { data: dataFile, batchSize: 8, backend: 'cpu' });
  assert.equal(eight.probe.batchSize, 8);
  assert.equal(eight.probe.inputSource, 'data');
  assert.equal(eight.probe.targetSource, 'data');
  assert.equal(eight.dataRows, 50);
  assert.ok(Math.abs(eight.probe.loss! - 1) < 1e-6, String(eight.probe.loss)); // mean of 1² over samples 0-7
  // without --batch: the automatic batch, 32 for this small model (the CPU budget's cut uses the same size, see syntheticBatch)
  const auto = await probeFile(modelFile, { data: dataFile, backend: 'cpu' });
  assert.equal(auto.probe.batchSize, 32);
  assert.equal(auto.dataRows, 50);
  assert.ok(Math.abs(auto.probe.loss! - (8 * 1 + 24 * 4) / 32) < 1e-6, String(auto.probe.loss));
  const all = await probeFile(modelFile, { data: dataFile, batchSize: 64, backend: 'cpu' });
  assert.equal(all.probe.batchSize, 50);
  assert.equal(all.dataRows, undefined);
  assert.ok(Math.abs(all.probe.loss! - (8 * 1 + 24 * 4 + 18 * 9) / 50) < 1e-5, String(all.probe.loss));
  const io = captureIo();
  assert.equal(await runCli(['probe', modelFile, '--data', dataFile, '--batch', '8', '--backend', 'cpu'], io), 0, io.stderr.join('\n'));
  assert.match(io.stdout.join('\n'), /batch: 8 from data \(its first 8 of 50 samples\)/);
});

test('a probe refused for its data, or cancelled, frees the rebuilt model', async () => {
  await probeFile(modelFile, { data: dataFile, batchSize: 4, backend: 'cpu' }); // warm-up
  const before = tf.memory().numTensors;
  const narrow = writeNpz(path.join(makeTempDir(), 'narrow.npz'), { x: { shape: [4, 3], values: Array.from({ length: 12 }, () => 0) } });
  await assert.rejects(probeFile(modelFile, { data: narrow, backend: 'cpu' }), /samples of shape \[3\]/);
  assert.equal(tf.memory().numTensors, before);
  let checks = 0;
  const signal = { get aborted() { return ++checks >= 3; } } as unknown as AbortSignal;
  await assert.rejects(probeFile(modelFile, { data: dataFile, backend: 'cpu', signal }), /cancelled/);
  assert.equal(tf.memory().numTensors, before);
});
