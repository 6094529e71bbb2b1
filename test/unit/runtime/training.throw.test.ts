/**
 * A training step that throws frees every tensor it made (its batch, the weight copies it measures
 * the update against, its accuracy, the tape of its gradient pass): the extension's TF.js worker
 * lives on after a failed run, and what a step left would stay in its memory.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Tensor } from '@tensorflow/tfjs-core';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { runTraining, type RunSpec, type TrainContext } from '../../../src/runtime/training';
import { makeTempDir } from '../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

test('a training step that throws in its gradient pass leaves no tensors behind, on the first step and on a later one', async () => {
  // An L2 penalty that fails on its `throwAt`-th use: the step throws after the forward pass and
  // the accuracy, inside the gradient pass, as a kernel that fails on some batch would.
  const l2 = tfl.regularizers.l2({ l2: 0.01 });
  let uses = 0;
  let throwAt = Infinity;
  const failing = Object.create(l2) as typeof l2;
  failing.apply = (x: Tensor) => {
    if (++uses === throwAt) {
      throw new Error('forced failure of the penalty');
    }
    return l2.apply(x);
  };
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), kernelRegularizer: failing, name: 'hidden' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'out' }));
  const n = 24;
  const x = Float32Array.from({ length: n * 6 }, (_, i) => Math.cos(1.7 * i));
  const y = Float32Array.from({ length: n }, (_, i) => i % 3);
  const spec: RunSpec = { model: 'm', epochs: 1, batchSize: 8, validationSplit: 0, optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' };
  // steps 0, 1, 2: the first reports its numbers (weights read to the host), the others measure on the device (weight copies)
  const ctx = (): TrainContext => ({ tf, tfl, backend: { name: 'cpu', label: 'CPU', fallbacks: [] }, model: m, data: { x, xShape: [n, 6], y, yShape: [n], source: 'test' }, runDir: path.join(makeTempDir(), 'run'), stepEventEvery: 10 });
  const done = await runTraining(spec, ctx()); // warm-up: what TF.js makes once is not the step's
  assert.equal(done.history.length, 1);
  const before = tf.memory().numTensors;
  for (const step of [1, 2]) {
    uses = 0;
    throwAt = step;
    await assert.rejects(runTraining(spec, ctx()), /forced failure of the penalty/);
    assert.equal(uses, step);
    assert.equal(tf.memory().numTensors, before, `a throw on step ${step - 1}`);
  }
  // the engine is usable afterwards: a gradient pass completes and frees its tape
  throwAt = Infinity;
  assert.equal((await runTraining(spec, ctx())).history.length, 1);
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});
