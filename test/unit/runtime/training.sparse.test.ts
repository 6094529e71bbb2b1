import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { openDimSize } from '../../../src/runtime/modelBuilder';
import { chooseLoss, lossFromLogits, lossFromTrainingConfig, probeModel, targetsForLoss } from '../../../src/runtime/probe';
import { probeFile } from '../../../src/runtime/probeReport';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';
import { modelArtifacts, syntheticDataFor, type TrainEvent } from '../../../src/runtime/training';
import { writeTfjsModel } from '../../../src/runtime/tfjsArtifacts';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';
import { saveModel } from '../helpers/runtimeData';

const kws = 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** A 6-16-4 classifier (seeded weights) ending in softmax, or in plain logits. */
function tinyClassifier(output: 'softmax' | 'linear' = 'softmax'): ReturnType<Tfl['sequential']> {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [6], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 4 }), name: 'hidden' }));
  m.add(tfl.layers.dense({ units: 4, activation: output, kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }), name: 'out' }));
  return m;
}

/** The tiny classifier saved as TF.js model.json with the given training config; returns the folder holding `model/`. */
async function tinyModelFile(trainingConfig: Record<string, unknown>, output: 'softmax' | 'linear' = 'softmax'): Promise<string> {
  const dir = makeTempDir();
  const m = tinyClassifier(output);
  await writeTfjsModel(path.join(dir, 'model'), { ...(await modelArtifacts(tf, m)), trainingConfig });
  m.dispose();
  return dir;
}

/**
 * A batch of 8 samples for the 6-input, 4-output classifier `m`, class ids for them, and its sparse
 * categorical cross-entropy from the outputs as logits, computed here in float64:
 * -mean(z[c] - log(sum(exp(z)))).
 */
function logitsBatch(m: ReturnType<Tfl['sequential']>): { x: Float32Array; ids: number[]; want: number } {
  const x = Float32Array.from({ length: 8 * 6 }, (_, i) => 2 * Math.cos(1.3 * i + 0.2));
  const ids = [1, 0, 3, 2, 2, 1, 0, 3];
  const z = (m.predict(tf.tensor(x, [8, 6])) as ReturnType<Tf['tensor']>).dataSync();
  assert.ok(Array.from(z).some((v) => v < 0), 'the outputs are logits (some negative)');
  let want = 0;
  ids.forEach((c, i) => {
    const row = Array.from(z.subarray(i * 4, i * 4 + 4));
    want -= row[c]! - Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
  });
  return { x, ids, want: want / 8 };
}

async function train(dir: string, spec: Record<string, unknown>): Promise<{ done: Awaited<ReturnType<typeof trainFromSpec>>; events: TrainEvent[] }> {
  const file = path.join(dir, `${String(spec['outDir'])}.json`);
  fs.writeFileSync(file, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 80, seed: 6 }, batchSize: 16, optimizer: 'sgd', learningRate: 0.1, ...spec }));
  const events: TrainEvent[] = [];
  const done = await trainFromSpec(await readRunSpec(file), dir, { backend: 'cpu', onEvent: (e) => events.push(e) });
  return { done, events };
}

test('the loss spellings Keras writes in a training config are read as sparse categorical cross-entropy', () => {
  for (const loss of [
    'sparse_categorical_crossentropy', // Keras 2 function name
    'sparseCategoricalCrossentropy', // TF.js
    'SparseCategoricalCrossentropy',
    { class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: false } }, // tf.keras 2.3 SavedModel (the KWS DS-CNN)
    { module: 'keras.losses', class_name: 'function', config: 'sparse_categorical_crossentropy', registered_name: 'sparse_categorical_crossentropy' }, // Keras 3 compile_config
    { module: 'keras.losses', class_name: 'SparseCategoricalCrossentropy', config: { name: 'sparse_categorical_crossentropy' }, registered_name: null },
    ['sparse_categorical_crossentropy'],
    { output_1: 'sparse_categorical_crossentropy' }, // per-output map
  ]) {
    assert.equal(lossFromTrainingConfig({ loss }), 'sparseCategoricalCrossentropy', JSON.stringify(loss));
  }
  assert.equal(lossFromTrainingConfig({ loss: { module: 'keras.losses', class_name: 'function', config: 'categorical_crossentropy', registered_name: null } }), 'categoricalCrossentropy');
  assert.equal(lossFromTrainingConfig({ loss: 'kullback_leibler_divergence' }), undefined);
  assert.equal(lossFromTrainingConfig({}), undefined);
});

test('targets are arranged for the loss: one-hot rows to class ids for a sparse loss, class ids to one-hot rows for a categorical one', () => {
  const oneHot = new Float32Array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0.1, 0.2, 0.7]);
  const sparse = targetsForLoss(oneHot, [4, 3], 3, 'sparseCategoricalCrossentropy');
  assert.deepEqual(sparse.yShape, [4, 1]);
  assert.deepEqual(Array.from(sparse.y), [2, 0, 1, 2]);
  const ids = new Float32Array([2, 0, 1]);
  const dense = targetsForLoss(ids, [3], 3, 'categoricalCrossentropy');
  assert.deepEqual(dense.yShape, [3, 3]);
  assert.deepEqual(Array.from(dense.y), [0, 0, 1, 1, 0, 0, 0, 1, 0]);
  assert.deepEqual(targetsForLoss(ids, [3], 3, 'sparseCategoricalCrossentropy').yShape, [3]);
  assert.deepEqual(targetsForLoss(ids, [3], 1, 'meanSquaredError').yShape, [3, 1]);
  // class ids per time step ([n, T] for an output [n, T, k]) stay as they are
  const steps = new Float32Array([0, 2, 1, 1, 0, 2]);
  assert.deepEqual(targetsForLoss(steps, [2, 3], 4, 'sparseCategoricalCrossentropy'), { y: steps, yShape: [2, 3] });
});

test('synthetic data for a sparse loss holds the class ids of the same clusters as the one-hot data', () => {
  const m = tinyClassifier();
  const spec = { model: 'm', synthetic: { samples: 50, seed: 9 } };
  const dense = syntheticDataFor(m, spec, 'categoricalCrossentropy');
  const sparse = syntheticDataFor(m, spec, 'sparseCategoricalCrossentropy');
  assert.deepEqual(dense.yShape, [50, 4]);
  assert.deepEqual(sparse.yShape, [50, 1]);
  assert.deepEqual(Array.from(sparse.x), Array.from(dense.x));
  const ids = Array.from({ length: 50 }, (_, i) => Array.from(dense.y!.subarray(i * 4, i * 4 + 4)).indexOf(1));
  assert.ok(ids.every((c) => c >= 0 && c < 4));
  assert.deepEqual(Array.from(sparse.y!), ids);
  assert.ok(new Set(ids).size > 1, 'more than one class');
  m.dispose();
});

test('synthetic data: an open sequence length takes the probe\'s size; an output that is not [batch, units] is refused naming the model and its shape', () => {
  const rnn = tfl.sequential({ layers: [tfl.layers.simpleRNN({ inputShape: [null, 3] as unknown as number[], units: 2, recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
  const data = syntheticDataFor(rnn, { model: 'rnn/model.json', synthetic: { samples: 5 } });
  assert.deepEqual(data.xShape, [5, openDimSize, 3]);
  assert.equal(data.x.length, 5 * openDimSize * 3);
  rnn.dispose();
  const fcn = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [null, null, 3] as unknown as number[], filters: 2, kernelSize: 3 })] });
  assert.throws(
    () => syntheticDataFor(fcn, { model: 'fcn/model.json' }),
    (ex: unknown) =>
      WeightFileError.is(ex, 'unsupportedFormat') &&
      ex.message === 'fcn/model.json: synthetic data is made for a model whose output is [batch, units], and this one\'s is [null, null, null, 2]; give the run spec a "data" file.',
  );
  fcn.dispose();
});

test('a generated model whose training config names a sparse loss trains on synthetic data like its categorical twin', async () => {
  const sparseDir = await tinyModelFile({ loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const denseDir = await tinyModelFile({ loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  const sparse = await train(sparseDir, { epochs: 2, outDir: 'run' });
  const dense = await train(denseDir, { epochs: 2, outDir: 'run' });
  const start = sparse.events.find((e) => e.type === 'start');
  assert.equal(start?.type === 'start' ? start.loss : undefined, 'sparseCategoricalCrossentropy');
  assert.equal(sparse.done.stopped, undefined);
  assert.equal(sparse.done.history.length, 2);
  // Sparse cross-entropy on class ids is categorical cross-entropy on the matching one-hot rows:
  // the same clusters, shuffles and initial weights give the same run.
  sparse.done.history.forEach((h, i) => {
    const d = dense.done.history[i]!;
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc'] as const) {
      const a = h[key];
      const b = d[key];
      assert.ok(typeof a === 'number' && Number.isFinite(a), `epoch ${i + 1} ${key}: ${a}`);
      assert.ok(typeof b === 'number' && Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `epoch ${i + 1} ${key}: sparse ${a} vs categorical ${b}`);
    }
    assert.ok(h.acc! >= 0 && h.acc! <= 1 && h.val_acc! >= 0 && h.val_acc! <= 1);
  });
  assert.ok(sparse.done.history[1]!.loss! < sparse.done.history[0]!.loss!, `the loss falls: ${sparse.done.history.map((h) => h.loss).join(', ')}`);
});

test('the probe with one-hot data on a sparse-loss model gives the loss of the same data as class ids', async () => {
  const m = tinyClassifier();
  const x = Float32Array.from({ length: 8 * 6 }, (_, i) => Math.sin(0.7 * i + 0.3));
  const ids = new Float32Array([0, 3, 1, 2, 2, 0, 1, 3]);
  const oneHot = new Float32Array(8 * 4);
  ids.forEach((c, i) => (oneHot[i * 4 + c] = 1));
  const trainingConfig = { loss: 'sparse_categorical_crossentropy' };
  const a = await probeModel(m, tf, tfl, { trainingConfig, data: { x, xShape: [8, 6], y: oneHot, yShape: [8, 4] } });
  const b = await probeModel(m, tf, tfl, { trainingConfig, data: { x, xShape: [8, 6], y: ids, yShape: [8] } });
  assert.equal(a.lossName, 'sparseCategoricalCrossentropy');
  // reference: -mean(log p[class]) of the model's own softmax outputs, summed in float64 here
  const p = (m.predict(tf.tensor(x, [8, 6])) as ReturnType<Tf['tensor']>).dataSync();
  const want = -Array.from(ids).reduce((s, c, i) => s + Math.log(p[i * 4 + c]!), 0) / 8;
  assert.ok(a.loss !== null && Math.abs(a.loss - want) <= 1e-5, `one-hot: ${a.loss} vs ${want}`);
  assert.ok(b.loss !== null && Math.abs(b.loss - want) <= 1e-5, `class ids: ${b.loss} vs ${want}`);
  assert.deepEqual(a.layers.map((l) => l.gradNorm), b.layers.map((l) => l.gradNorm));
  m.dispose();
});

test('from_logits in the training config: the loss takes the outputs as logits', async () => {
  const logitsConfig = { loss: { class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: true } } };
  assert.equal(lossFromLogits(logitsConfig), true);
  assert.equal(lossFromLogits({ loss: { class_name: 'SparseCategoricalCrossentropy', config: { from_logits: false } } }), false);
  assert.equal(lossFromLogits({ loss: 'sparse_categorical_crossentropy' }), false);
  const m = tinyClassifier('linear');
  assert.deepEqual(chooseLoss(m, { trainingConfig: logitsConfig }), { name: 'sparseCategoricalCrossentropy', source: 'training config, from logits', fromLogits: true });
  assert.equal(chooseLoss(m, { trainingConfig: logitsConfig, loss: 'meanSquaredError' }).fromLogits, false, 'another loss than the config one');

  const { x, ids, want } = logitsBatch(m);
  const p = await probeModel(m, tf, tfl, { trainingConfig: logitsConfig, data: { x, xShape: [8, 6], y: Float32Array.from(ids), yShape: [8] } });
  assert.equal(p.lossSource, 'training config, from logits');
  assert.equal(p.fromLogits, true);
  assert.ok(p.loss !== null && Math.abs(p.loss - want) <= 1e-5, `${p.loss} vs ${want}`);

  // binary cross-entropy from logits on a one-unit output: mean(log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0)
  const b = tfl.sequential();
  b.add(tfl.layers.dense({ inputShape: [6], units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }), name: 'logit' }));
  const yb = [1, 0, 0, 1, 1, 0, 1, 0];
  const zb = (b.predict(tf.tensor(x, [8, 6])) as ReturnType<Tf['tensor']>).dataSync();
  const wantB = yb.reduce((a, y, i) => a + Math.log1p(Math.exp(y === 1 ? -zb[i]! : zb[i]!)), 0) / 8;
  const pb = await probeModel(b, tf, tfl, { trainingConfig: { loss: { class_name: 'BinaryCrossentropy', config: { from_logits: true } } }, data: { x, xShape: [8, 6], y: Float32Array.from(yb), yShape: [8] } });
  assert.equal(pb.lossName, 'binaryCrossentropy');
  assert.ok(pb.loss !== null && Math.abs(pb.loss - wantB) <= 1e-5, `${pb.loss} vs ${wantB}`);
  m.dispose();
  b.dispose();
});

test('a logits model trained with from_logits follows the same run as its softmax twin', async () => {
  const logitsDir = await tinyModelFile({ loss: { class_name: 'SparseCategoricalCrossentropy', config: { from_logits: true } } }, 'linear');
  const softmaxDir = await tinyModelFile({ loss: 'sparse_categorical_crossentropy' });
  const a = await train(logitsDir, { epochs: 2, outDir: 'run' });
  const b = await train(softmaxDir, { epochs: 2, outDir: 'run' });
  assert.equal(a.done.stopped, undefined);
  a.done.history.forEach((h, i) => {
    const d = b.done.history[i]!;
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc'] as const) {
      assert.ok(typeof h[key] === 'number' && Math.abs(h[key] - d[key]!) <= 1e-4 * Math.max(1, Math.abs(d[key]!)), `epoch ${i + 1} ${key}: logits ${h[key]} vs softmax ${d[key]}`);
    }
  });
});

test('one synthetic training epoch on the KWS DS-CNN SavedModel (sparse loss) ends with a finite loss and an accuracy in [0, 1]', async (t) => {
  const dir = fixtureOrSkip(t, kws);
  if (!dir) {
    return;
  }
  const work = makeTempDir();
  const specFile = path.join(work, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ model: dir, epochs: 1, batchSize: 4, synthetic: { samples: 20, seed: 3 }, outDir: 'run' }));
  const events: TrainEvent[] = [];
  const done = await trainFromSpec(await readRunSpec(specFile), work, { backend: 'cpu', onEvent: (e) => events.push(e) });
  const start = events.find((e) => e.type === 'start');
  assert.equal(start?.type === 'start' ? start.loss : undefined, 'sparseCategoricalCrossentropy', 'the loss of the training config');
  assert.equal(done.stopped, undefined);
  assert.equal(done.history.length, 1);
  const h = done.history[0]!;
  assert.ok(typeof h.loss === 'number' && Number.isFinite(h.loss) && h.loss > 0, `loss ${h.loss}`);
  for (const key of ['acc', 'val_acc'] as const) {
    const v = h[key];
    assert.ok(typeof v === 'number' && v >= 0 && v <= 1, `${key} ${v}`);
  }
  assert.ok(typeof h.val_loss === 'number' && Number.isFinite(h.val_loss), `val_loss ${h.val_loss}`);
  assert.ok(events.some((e) => e.type === 'step' && e.acc !== null && e.acc >= 0 && e.acc <= 1), 'per-step accuracy');
  assert.deepEqual(done.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001']);
});

test('from_logits belongs to the outputs: a cross-entropy chosen instead of the config\'s own still takes them as logits', () => {
  const linear = tinyClassifier('linear');
  const softmax = tinyClassifier('softmax');
  const categoricalLogits = { loss: { class_name: 'CategoricalCrossentropy', config: { from_logits: true } } };
  const sparseLogits = { loss: { class_name: 'SparseCategoricalCrossentropy', config: { from_logits: true } } };
  // the config says the outputs are logits: so for the other cross-entropies too
  assert.deepEqual(chooseLoss(linear, { trainingConfig: categoricalLogits, loss: 'sparseCategoricalCrossentropy' }), { name: 'sparseCategoricalCrossentropy', source: 'option, from logits', fromLogits: true });
  assert.equal(chooseLoss(linear, { trainingConfig: sparseLogits, loss: 'categoricalCrossentropy' }).fromLogits, true);
  assert.equal(chooseLoss(linear, { trainingConfig: sparseLogits, loss: 'binaryCrossentropy' }).fromLogits, true);
  assert.equal(chooseLoss(linear, { trainingConfig: categoricalLogits, loss: 'meanSquaredError' }).fromLogits, false, 'mean squared error takes no logits');
  // ... but not on outputs a softmax made probabilities, unless the loss is the config's own (Keras applies it as written)
  assert.equal(chooseLoss(softmax, { trainingConfig: sparseLogits, loss: 'categoricalCrossentropy' }).fromLogits, false);
  assert.equal(chooseLoss(softmax, { trainingConfig: sparseLogits }).fromLogits, true);
  // a config that says probabilities (from_logits false, given or by default) is believed for every cross-entropy
  assert.equal(chooseLoss(linear, { trainingConfig: { loss: { class_name: 'CategoricalCrossentropy', config: { from_logits: false } } }, loss: 'sparseCategoricalCrossentropy' }).fromLogits, false);
  assert.equal(chooseLoss(linear, { trainingConfig: { loss: 'categorical_crossentropy' }, loss: 'sparseCategoricalCrossentropy' }).fromLogits, false);
  // no cross-entropy in the config: a linear output gives logits, a softmax output probabilities
  assert.deepEqual(chooseLoss(linear, { loss: 'categoricalCrossentropy' }), { name: 'categoricalCrossentropy', source: 'option, from logits', fromLogits: true });
  assert.equal(chooseLoss(linear, { trainingConfig: { loss: 'mse' }, loss: 'sparseCategoricalCrossentropy' }).fromLogits, true);
  assert.equal(chooseLoss(softmax, { loss: 'sparseCategoricalCrossentropy' }).fromLogits, false);
  assert.deepEqual(chooseLoss(linear, {}), { name: 'meanSquaredError', source: 'output activation', fromLogits: false });
  // an output layer without an activation of its own (a Reshape after a softmax) is not taken for logits
  const reshaped = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 4, activation: 'softmax' }), tfl.layers.reshape({ targetShape: [4] })] });
  assert.equal(chooseLoss(reshaped, { loss: 'categoricalCrossentropy' }).fromLogits, false);
  for (const m of [linear, softmax, reshaped]) {
    m.dispose();
  }
});

test('a probe with the other cross-entropy than the config\'s from_logits one computes it from logits, and says so', async () => {
  const m = tinyClassifier('linear');
  const { x, ids, want } = logitsBatch(m);
  const p = await probeModel(m, tf, tfl, {
    trainingConfig: { loss: { class_name: 'CategoricalCrossentropy', config: { from_logits: true } } },
    loss: 'sparseCategoricalCrossentropy',
    data: { x, xShape: [8, 6], y: Float32Array.from(ids), yShape: [8] },
  });
  assert.equal(p.lossName, 'sparseCategoricalCrossentropy');
  assert.equal(p.lossSource, 'option, from logits');
  assert.equal(p.fromLogits, true);
  assert.ok(p.loss !== null && Math.abs(p.loss - want) <= 1e-5, `${p.loss} vs ${want}`);
  m.dispose();
});

test('a logits model trained with the other cross-entropy than its config\'s follows the same run as its softmax twin', async () => {
  const logitsDir = await tinyModelFile({ loss: { class_name: 'CategoricalCrossentropy', config: { from_logits: true } } }, 'linear');
  const softmaxDir = await tinyModelFile({ loss: 'categorical_crossentropy' });
  const a = await train(logitsDir, { epochs: 2, outDir: 'run', loss: 'sparseCategoricalCrossentropy' });
  const b = await train(softmaxDir, { epochs: 2, outDir: 'run', loss: 'sparseCategoricalCrossentropy' });
  const start = a.events[0];
  assert.ok(start?.type === 'start' && start.loss === 'sparseCategoricalCrossentropy' && start.fromLogits === true, JSON.stringify(start));
  assert.equal(a.done.stopped, undefined);
  a.done.history.forEach((h, i) => {
    const d = b.done.history[i]!;
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc'] as const) {
      assert.ok(typeof h[key] === 'number' && Math.abs(h[key] - d[key]!) <= 1e-4 * Math.max(1, Math.abs(d[key]!)), `epoch ${i + 1} ${key}: logits ${h[key]} vs softmax ${d[key]}`);
    }
  });
});

test('a checkpoint records the loss its run trained with, logits included, and a probe or run of that checkpoint takes it', async () => {
  // no training config; a cross-entropy on a linear output takes the outputs as logits
  const dir = makeTempDir();
  await saveModel(tf, tinyClassifier('linear'), path.join(dir, 'model'));
  const { done } = await train(dir, { outDir: 'logits', loss: 'sparseCategoricalCrossentropy', epochs: 1 });
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'logits', 'run.json'), 'utf8')) as { loss: string; fromLogits?: boolean };
  assert.deepEqual([run.loss, run.fromLogits], ['sparseCategoricalCrossentropy', true]);
  const checkpoint = path.join(done.checkpoints.at(-1)!, 'model.json');
  const meta = (JSON.parse(fs.readFileSync(checkpoint, 'utf8')) as { userDefinedMetadata: { weightscope: { loss: string; fromLogits?: boolean } } }).userDefinedMetadata.weightscope;
  assert.deepEqual([meta.loss, meta.fromLogits], ['sparseCategoricalCrossentropy', true]);
  // the checkpoint's linear output alone would be probed with the mean squared error
  const report = await probeFile(checkpoint, { backend: 'cpu' });
  assert.equal(report.probe.lossName, 'sparseCategoricalCrossentropy');
  assert.equal(report.probe.lossSource, 'training config, from logits');
  // and a run from the checkpoint trains with it too
  fs.writeFileSync(path.join(dir, 'again.json'), JSON.stringify({ model: path.relative(dir, checkpoint), synthetic: { samples: 80, seed: 6 }, batchSize: 16, epochs: 1, outDir: 'again' }));
  const events: TrainEvent[] = [];
  await trainFromSpec(await readRunSpec(path.join(dir, 'again.json')), dir, { backend: 'cpu', onEvent: (e) => events.push(e) });
  const start = events.find((e) => e.type === 'start') as Extract<TrainEvent, { type: 'start' }>;
  assert.deepEqual([start.loss, start.fromLogits], ['sparseCategoricalCrossentropy', true]);
});
