/**
 * The numbers a training run reports, on one-weight models whose steps are worked out by hand:
 * the update ratio |Δw|/|w| of a step (against the weights before it), epoch loss/accuracy as
 * means over samples (a smaller last batch weighs less), and a run that stops itself mid-epoch
 * (the partial epoch gets no checkpoint and is marked in the history).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../src/runtime/backend';
import type { DataSet } from '../../../src/runtime/dataLoader';
import { runTraining, type RunSpec, type TrainEvent } from '../../../src/runtime/training';
import { makeTempDir } from '../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;
let info: BackendInfo;
before(async () => {
  ({ tf, tfl, info } = await initLayers({ preferred: 'cpu' }));
});

/** y = w·x: one Dense unit on one input, no bias, kernel `w`. */
function oneWeight(w: number): LayersModel {
  const m = tfl.sequential({ name: 'one' });
  m.add(tfl.layers.dense({ inputShape: [1], units: 1, useBias: false, kernelInitializer: tfl.initializers.constant({ value: w }), name: 'dense' }));
  return m;
}

function data(x: number[], y: number[]): DataSet {
  return { x: new Float32Array(x), xShape: [x.length, 1], y: new Float32Array(y), yShape: [y.length, 1], source: 'test' };
}

async function run(model: LayersModel, set: DataSet, spec: Omit<RunSpec, 'model'>): Promise<{ events: TrainEvent[]; done: Extract<TrainEvent, { type: 'done' }>; runDir: string }> {
  const runDir = makeTempDir();
  const events: TrainEvent[] = [];
  try {
    const done = await runTraining({ model: 'one', validationSplit: 0, ...spec }, { tf, tfl, backend: info, model, data: set, runDir, stepEventEvery: 1, onEvent: (e) => events.push(e) });
    return { events, done, runDir };
  } finally {
    model.dispose();
  }
}

test('the update ratio of a step is |Δw| over the weight norm before the step', async () => {
  // By hand: MSE over x = [1, 2], y = [0, 0] at w = 0.5: dL/dw = mean(2·x·(w·x - y)) = (1 + 4)/2 = 2.5;
  // SGD lr 1 takes w to 0.5 - 2.5 = -2, so |Δw|/|w_before| = 2.5/0.5 = 5 (against |w_after|: 1.25).
  const grow = await run(oneWeight(0.5), data([1, 2], [0, 0]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 1, epochs: 1, batchSize: 2, stopOnNonFinite: false });
  const step = grow.events.find((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step')!;
  assert.equal(step.layers.length, 1);
  assert.ok(Math.abs(step.layers[0]!.updateRatio! - 5) < 1e-5, String(step.layers[0]!.updateRatio));
  assert.ok(Math.abs(step.layers[0]!.gradNorm! - 2.5) < 1e-5, String(step.layers[0]!.gradNorm));
  assert.ok(Math.abs(step.layers[0]!.weightNorm! - 2) < 1e-5, String(step.layers[0]!.weightNorm)); // after the step
  const warning = grow.events.find((e): e is Extract<TrainEvent, { type: 'warning' }> => e.type === 'warning')!;
  assert.equal(warning.diagnostic.message, "At epoch 1, step 1, one update changed layer 'dense' by 5.00x its own norm.");
  // By hand: x = 1, y = 0.1, w = 1: dL/dw = 2·(1 - 0.1) = 1.8; lr 0.5 takes w to 0.1: the step changed w
  // by 0.9 of its norm, which is no explosion (against |w_after| it would read 9x).
  const shrink = await run(oneWeight(1), data([1], [0.1]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 0.5, epochs: 1, batchSize: 1, stopOnNonFinite: true });
  const ratio = shrink.events.find((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step')!.layers[0]!.updateRatio!;
  assert.ok(Math.abs(ratio - 0.9) < 1e-5, String(ratio));
  assert.deepEqual(shrink.events.filter((e) => e.type === 'warning'), []);
  assert.equal(shrink.done.stopped, undefined);
});

test('epoch loss and accuracy are means over samples: a last batch of 1 sample weighs 1/5, not 1/2', async () => {
  // sigmoid(0·x + 2) = 0.8808 for every sample (kernel 0, bias 2, a learning rate too small to move it);
  // targets [1, 1, 1, 1, 0] in batches of 4 and 1: accuracy 4/5 = 0.8 over samples, and the binary
  // cross-entropy over samples (numpy): mean([log(1 + e^-2)] * 4 + [log(1 + e^2)]) = 0.5269280110.
  // Means of batch means would give (3/4 + 1)/2 or (1 + 0)/2 for the accuracy, depending on the shuffle.
  const m = tfl.sequential({ name: 'one' });
  m.add(tfl.layers.dense({ inputShape: [1], units: 1, activation: 'sigmoid', kernelInitializer: 'zeros', biasInitializer: tfl.initializers.constant({ value: 2 }), name: 'dense' }));
  const { done } = await run(m, data([0.5, -1, 2, 1, 0.25], [1, 1, 1, 1, 0]), { loss: 'binaryCrossentropy', optimizer: 'sgd', learningRate: 1e-9, epochs: 2, batchSize: 4 });
  assert.equal(done.history.length, 2);
  for (const h of done.history) {
    assert.ok(Math.abs(h.acc! - 0.8) < 1e-9, String(h.acc));
    assert.ok(Math.abs(h.loss! - 0.526928011) < 1e-5, String(h.loss));
  }
});

test('a run that stops itself mid-epoch does not checkpoint the partial epoch, and marks it in the history', async () => {
  // x = 1, y = 0, w = 0.5, batches of 1: the first step moves w by lr·2·0.5 = 1, twice its norm: exploding.
  const { events, done, runDir } = await run(oneWeight(0.5), data([1, 1, 1, 1], [0, 0, 0, 0]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 1, epochs: 3, batchSize: 1, stopOnNonFinite: true });
  assert.equal(done.stopped, 'exploding');
  assert.deepEqual(events.filter((e) => e.type === 'epoch'), []);
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'run.json']);
  assert.equal(done.checkpoints.length, 1);
  // the epoch's metrics are kept, marked partial: 1 of its 4 steps ran (loss by hand: (0.5·1 - 0)^2 = 0.25)
  assert.equal(done.history.length, 1);
  assert.equal(done.history[0]!.partialSteps, 1);
  assert.ok(Math.abs(done.history[0]!.loss! - 0.25) < 1e-6, String(done.history[0]!.loss));
  const file = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { stopped: string; checkpoints: string[]; history: { partialSteps?: number }[] };
  assert.equal(file.stopped, 'exploding');
  assert.deepEqual(file.checkpoints, ['epoch-000']);
  assert.equal(file.history[0]!.partialSteps, 1);
});

/** The float32 weights of a checkpoint folder. */
function checkpointWeights(dir: string): number[] {
  const b = fs.readFileSync(path.join(dir, 'weights.bin'));
  return Array.from(new Float32Array(b.buffer, b.byteOffset, b.length / 4));
}

test("a NaN/Inf step is caught before its update: it is skipped, the run stops, and the epoch it ends is not checkpointed", async () => {
  // x = 3e38, w = 1: the prediction is finite but its square (the MSE loss) is Infinity, on an epoch's only step
  const inf = await run(oneWeight(1), data([3e38, 3e38], [0, 0]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 0.1, epochs: 2, batchSize: 2, stopOnNonFinite: true });
  assert.equal(inf.done.stopped, 'nonFinite');
  assert.deepEqual(fs.readdirSync(inf.runDir).sort(), ['epoch-000', 'run.json']);
  assert.deepEqual(inf.events.filter((e) => e.type === 'epoch'), []);
  assert.equal(inf.done.history[0]!.partialSteps, 1);
  const warning = inf.events.find((e): e is Extract<TrainEvent, { type: 'warning' }> => e.type === 'warning')!;
  assert.equal(warning.diagnostic.message, 'At epoch 1, step 1, the training loss became Infinity; the update was skipped.');
  // w = 1e-38, x = 3e38: the loss (w·x)² = 9 is finite, its gradient 2·3·3e38 is not
  const grad = await run(oneWeight(1e-38), data([3e38], [0]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 0.1, epochs: 2, batchSize: 1, stopOnNonFinite: true });
  assert.equal(grad.done.stopped, 'nonFinite');
  assert.deepEqual(fs.readdirSync(grad.runDir).sort(), ['epoch-000', 'run.json']);
  assert.match(grad.events.find((e): e is Extract<TrainEvent, { type: 'warning' }> => e.type === 'warning')!.diagnostic.message, /the gradients became NaN or Infinity \(loss 9\); the update was skipped\.$/);
  // without stopOnNonFinite the run goes on, skipping such steps: every checkpoint keeps finite weights
  const go = await run(oneWeight(1), data([3e38, 3e38], [0, 0]), { loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 0.1, epochs: 2, batchSize: 2, stopOnNonFinite: false });
  assert.equal(go.done.stopped, undefined);
  assert.equal(go.done.checkpoints.length, 3);
  for (const c of go.done.checkpoints) {
    assert.deepEqual(checkpointWeights(c), [1], c);
  }
});

test('an exploding update is caught on any step, not only on the steps that report their numbers', async () => {
  // y = 0.9, x = 1, w = 1, lr = 1.5, one step per epoch: w - y is multiplied by -2 each step, so the
  // update ratios |Δw|/|w| are 0.3, 0.857, 0.923, then 24 in epoch 4; only step 0 reports (stepEventEvery 1000)
  const model = oneWeight(1);
  const runDir = makeTempDir();
  const events: TrainEvent[] = [];
  const tensors = tf.memory().numTensors;
  try {
    const done = await runTraining(
      { model: 'one', validationSplit: 0, loss: 'meanSquaredError', optimizer: 'sgd', learningRate: 1.5, epochs: 6, batchSize: 1, stopOnNonFinite: true },
      { tf, tfl, backend: info, model, data: data([1], [0.9]), runDir, stepEventEvery: 1000, onEvent: (e) => events.push(e) },
    );
    assert.equal(done.stopped, 'exploding');
    assert.deepEqual(done.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']);
    assert.equal(events.filter((e) => e.type === 'step').length, 1);
    const warning = events.find((e): e is Extract<TrainEvent, { type: 'warning' }> => e.type === 'warning')!;
    assert.match(warning.diagnostic.message, /^At epoch 4, step 1, one update changed layer 'dense' by 24\.\dx its own norm\.$/);
    assert.equal(tf.memory().numTensors, tensors, 'the measurements leave no tensors behind');
  } finally {
    model.dispose();
  }
});
