import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import { MemoryByteSource, MemoryFileSet } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { WeightFile } from '../../../src/core/model';
import { readAllValues } from '../../../src/core/tensorData';
import { openLocalPath } from '../../../src/formats/registry';
import { tfCheckpointReader } from '../../../src/formats/tfCheckpoint';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { buildModel, flattenLayers, type BuiltModel } from '../../../src/runtime/modelBuilder';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';
import type { TrainEvent } from '../../../src/runtime/training';
import { BundleWriter, encodeKerasMetadata, encodeObjectGraph, encodeSavedModel } from '../formats/helpers/bundleWriter';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';

/** Outputs and variable sums computed by scripts/reference-runtime.py (scripts/reference-tf.py's bundle reader + NumPy float64). */
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'runtime', 'modelBuilder.reference.json'), 'utf8')) as Record<
  string,
  { inputShape: number[]; output: number[][]; variables?: Record<string, { shape: number[]; sum: number }> }
>;

const lso = 'tf-savedmodel/keras-lso-savedmodel-tf2.2';
const kws = 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** Values of a rebuilt model's variable. */
function variableValues(built: BuiltModel, name: string): Float32Array {
  const v = flattenLayers(built.model)
    .flatMap((l) => l.weights)
    .find((w) => w.originalName === name);
  assert.ok(v, `variable ${name}`);
  return v.read().dataSync() as Float32Array;
}

for (const rel of [lso, kws]) {
  test(`Keras SavedModel ${rel}: every model variable is loaded (none of the optimizer slots or metrics), with the values the Python bundle reader finds`, async (t) => {
    const dir = fixtureOrSkip(t, rel);
    if (!dir) {
      return;
    }
    const ref = reference[rel]!.variables!;
    const wf = await openLocalPath(dir);
    try {
      assert.equal(wf.format, 'tf-savedmodel');
      const built = await buildModel(wf, tf, tfl);
      const byName = new Map(wf.tensors.map((x) => [x.name, x]));
      const loaded = built.loaded.map((l) => byName.get(l.tensor)!);
      assert.ok(loaded.every((x) => x.group === 'model'), 'only model weights are loaded');
      assert.deepEqual(loaded.map((x) => String(x.extra?.fullName)).sort(), Object.keys(ref).sort(), 'the loaded tensors are exactly the model variables');
      assert.equal(new Set(built.loaded.map((l) => l.tensor)).size, built.loaded.length, 'no tensor is loaded twice');
      for (const entry of built.loaded) {
        const info = byName.get(entry.tensor)!;
        const r = ref[String(info.extra?.fullName)]!;
        const got = variableValues(built, entry.variable);
        assert.deepEqual(Array.from(got), Array.from(Float32Array.from(await readAllValues(info))), `${entry.variable} holds the stored values`);
        assert.deepEqual(info.shape, r.shape);
        const sum = got.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - r.sum) <= 1e-6 * Math.max(1, Math.abs(r.sum)), `${entry.variable}: sum ${sum} vs NumPy ${r.sum}`);
      }
      built.model.dispose();
    } finally {
      await wf.close();
    }
  });
}

test('the TF 2.2 SavedModel and the TF 2.2 checkpoint of the same model rebuild to the same weights', async (t) => {
  const dir = fixtureOrSkip(t, lso);
  const ckptPath = fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index');
  if (!dir || !ckptPath) {
    return;
  }
  const sm = await openLocalPath(dir);
  const ckpt = await openLocalPath(ckptPath);
  try {
    const built = await buildModel(sm, tf, tfl);
    assert.equal(built.loaded.length, 2);
    for (const entry of built.loaded) {
      const [layer, weight] = entry.variable.split('/');
      const twin = ckpt.tensors.find((x) => x.group === 'model' && x.layer === layer && x.weight === weight);
      assert.ok(twin, `checkpoint tensor of ${entry.variable}`);
      assert.deepEqual(Array.from(variableValues(built, entry.variable)), Array.from(Float32Array.from(await readAllValues(twin))), entry.variable);
    }
    built.model.dispose();
  } finally {
    await sm.close();
    await ckpt.close();
  }
});

test('SavedModels of plain TensorFlow graphs are refused in one sentence naming the folder and the reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123', /plain TensorFlow graph \(root object '_generic_user_object'\), not a Keras model/],
    ['tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index', /plain TensorFlow graph without an object graph \(as TF1 writes\), not a Keras model/],
    ['tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123/saved_model.pb', /plain TensorFlow graph without an object graph/],
  ];
  for (const [rel, reason] of cases) {
    const p = fixtureOrSkip(t, rel);
    if (!p) {
      return;
    }
    const folder = p.replace(/[\\/](saved_model\.pb|variables[\\/]variables\.index)$/, '');
    const wf = await openLocalPath(p);
    try {
      await assert.rejects(buildModel(wf, tf, tfl), (ex) => {
        assert.ok(WeightFileError.is(ex, 'unsupportedFormat'), String(ex));
        assert.ok(ex.message.startsWith(`${folder} is a SavedModel of a plain TensorFlow graph`), ex.message);
        assert.match(ex.message, reason);
        assert.match(ex.message, /so it cannot be rebuilt\.$/);
        assert.equal(ex.message.split('. ').length, 1, `one sentence: ${ex.message}`);
        return true;
      });
    } finally {
      await wf.close();
    }
  }
});

/** Opens an in-memory SavedModel folder. */
async function openGenerated(w: BundleWriter, extra: [string, Uint8Array][]): Promise<WeightFile> {
  const files = new Map([...w.files(), ...extra]);
  return tfCheckpointReader.open(new MemoryByteSource('gen/saved_model.pb', files.get('saved_model.pb')!), new MemoryFileSet('gen', files));
}

test('a tf.keras 2.5+ SavedModel (architecture only in keras_metadata.pb, input shape only as TensorShape build_input_shape) rebuilds and runs', async () => {
  const kKey = 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE';
  const bKey = 'layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE';
  const kernel = [0.5, -1, 0.25, 2, -0.75, 1.5]; // [3, 2]
  const bias = [0.1, -0.2];
  const w = new BundleWriter('variables/variables');
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([
      { children: [[1, 'layer_with_weights-0'], [1, 'layer-0']] },
      { children: [[2, 'kernel'], [3, 'bias']] },
      { attributes: [['VARIABLE_VALUE', 'head/kernel', kKey]] },
      { attributes: [['VARIABLE_VALUE', 'head/bias', bKey]] },
    ]),
  ]);
  w.add(kKey, 'float32', [3, 2], kernel);
  w.add(bKey, 'float32', [2], bias);
  const pb = encodeSavedModel([
    { identifier: '_tf_keras_sequential', children: [[1, 'layer_with_weights-0']] },
    { identifier: '_tf_keras_layer', children: [[2, 'kernel'], [3, 'bias']] },
    { variableName: 'head/kernel:0' },
    { variableName: 'head/bias:0' },
  ]);
  const dense = { name: 'head', units: 2, activation: 'tanh', use_bias: true, kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } } };
  const root = {
    class_name: 'Sequential',
    name: 'seq',
    config: { name: 'seq', layers: [{ class_name: 'Dense', config: dense }], build_input_shape: { class_name: 'TensorShape', items: [null, 3] } },
    training_config: { loss: 'mse' },
  };
  const km = encodeKerasMetadata([
    { nodeId: 0, nodePath: 'root', identifier: '_tf_keras_sequential', metadata: JSON.stringify(root) },
    { nodeId: 1, nodePath: 'root.layer_with_weights-0', identifier: '_tf_keras_layer', metadata: JSON.stringify({ class_name: 'Dense', name: 'head', config: dense }) },
  ]);
  const file = await openGenerated(w, [['saved_model.pb', pb], ['keras_metadata.pb', km]]);
  assert.deepEqual(file.trainingConfig, { loss: 'mse' });
  const built = await buildModel(file, tf, tfl);
  assert.deepEqual(built.loaded.map((l) => [l.variable, file.tensors.find((x) => x.name === l.tensor)?.extra?.checkpointKey]), [['head/kernel', kKey], ['head/bias', bKey]]);
  const x = [[1, 2, 3], [-0.5, 0, 4]];
  const got = (built.model.predict(tf.tensor(x)) as ReturnType<Tf['tensor']>).arraySync() as number[][];
  const want = x.map((row) => [0, 1].map((j) => Math.tanh(row.reduce((a, v, i) => a + v * kernel[i * 2 + j]!, bias[j]!))));
  got.flat().forEach((g, i) => assert.ok(Math.abs(g - want.flat()[i]!) <= 1e-6, `${g} vs ${want.flat()[i]}`));
  built.model.dispose();
  await file.close();
});

test('a Keras SavedModel whose root metadata lists no layers (subclassed model) is refused with that reason', async () => {
  const kKey = 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE';
  const w = new BundleWriter('variables/variables');
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([{ children: [[1, 'layer_with_weights-0']] }, { children: [[2, 'kernel']] }, { attributes: [['VARIABLE_VALUE', 'my_model/head/kernel', kKey]] }]),
  ]);
  w.add(kKey, 'float32', [2, 3], [1, 2, 3, 4, 5, 6]);
  const pb = encodeSavedModel([
    { identifier: '_tf_keras_model', metadata: JSON.stringify({ class_name: 'MyModel', name: 'my_model' }), children: [[1, 'layer_with_weights-0']] },
    { identifier: '_tf_keras_layer', metadata: JSON.stringify({ class_name: 'Dense', name: 'head', config: { name: 'head', units: 3 } }), children: [[2, 'kernel']] },
    { variableName: 'my_model/head/kernel:0' },
  ]);
  const file = await openGenerated(w, [['saved_model.pb', pb]]);
  assert.equal(file.modelConfig, undefined);
  await assert.rejects(buildModel(file, tf, tfl), (ex) => WeightFileError.is(ex, 'unsupportedFormat') && /^gen is a Keras SavedModel \(root object '_tf_keras_model'\) whose metadata lists no layers/.test(ex.message));
  await file.close();
});

/** A CliIo collecting standard output. */
function collect(): { io: CliIo; out: string[] } {
  const out: string[] = [];
  return { out, io: { out: (s) => out.push(s), err: () => undefined, progress: () => () => undefined } };
}

/** A JSON data set for the DS-CNN: 10 inputs [49, 10, 1] of sin(0.37 k + 0.1) and class indices k mod 12. */
function kwsData(file: string): void {
  let k = 0;
  const x = Array.from({ length: 10 }, () => Array.from({ length: 49 }, () => Array.from({ length: 10 }, () => [Math.sin(0.37 * k++ + 0.1)])));
  fs.writeFileSync(file, JSON.stringify({ x, y: x.map((_, i) => i % 12) }));
}

test('weightscope probe runs on both Keras SavedModel folders, and one training epoch runs on each', async (t) => {
  const lsoDir = fixtureOrSkip(t, lso);
  const kwsDir = fixtureOrSkip(t, kws);
  if (!lsoDir || !kwsDir) {
    return;
  }
  // The DS-CNN's training config names a sparse categorical loss: it trains on class indices from a data file.
  for (const [dir, layers, loss, data] of [
    [lsoDir, ['dense'], 'meanSquaredError', undefined],
    [kwsDir, ['conv2d', 'dense'], 'sparseCategoricalCrossentropy', 'data.json'],
  ] as const) {
    const { io, out } = collect();
    assert.equal(await runCli(['probe', dir, '--json', '--backend', 'cpu', '--batch', '2'], io), 0);
    const report = JSON.parse(out.join('\n')) as { formatName: string; probe: { lossName: string; lossSource: string; layers: { layer: string; gradNorm: number | null }[] } };
    assert.equal(report.formatName, 'TensorFlow SavedModel');
    assert.equal(report.probe.lossName, loss);
    assert.equal(report.probe.lossSource, 'training config');
    for (const name of layers) {
      const l = report.probe.layers.find((x) => x.layer === name);
      assert.ok(l && l.gradNorm !== null && l.gradNorm > 0, `${dir}: gradient of ${name}`);
    }

    const work = makeTempDir();
    const specFile = path.join(work, 'spec.json');
    if (data) {
      kwsData(path.join(work, data));
    }
    fs.writeFileSync(specFile, JSON.stringify({ model: dir, epochs: 1, batchSize: 4, ...(data ? { data } : { synthetic: { samples: 10, seed: 2 } }), outDir: 'run' }));
    const events: TrainEvent[] = [];
    const done = await trainFromSpec(await readRunSpec(specFile), work, { backend: 'cpu', onEvent: (e) => events.push(e) });
    assert.equal(done.stopped, undefined);
    const start = events.find((e) => e.type === 'start');
    assert.equal(start?.type === 'start' ? start.loss : undefined, loss, 'the loss of the training config');
    assert.equal(done.history.length, 1);
    assert.ok(Number.isFinite(done.history[0]!.loss), `${dir}: loss ${done.history[0]!.loss}`);
    assert.deepEqual(done.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001']);
    const trained = await openLocalPath(path.join(done.checkpoints[1]!, 'model.json'));
    assert.equal(trained.format, 'tfjs-layers');
    assert.ok(trained.tensors.some((x) => x.layer === 'dense'));
    await trained.close();
  }
});

test('an LSTM in a SavedModel keeps its weights under its cell node: they load into the TF.js LSTM by their full names', async () => {
  const keys = ['kernel', 'recurrent_kernel', 'bias'].map((w) => `layer_with_weights-0/cell/${w}/.ATTRIBUTES/VARIABLE_VALUE`);
  const units = 2;
  const kernel = Array.from({ length: 4 * units }, (_, i) => 0.3 * Math.sin(i + 1)); // [1, 8]
  const recurrent = Array.from({ length: units * 4 * units }, (_, i) => 0.2 * Math.cos(i + 2)); // [2, 8]
  const bias = Array.from({ length: 4 * units }, (_, i) => 0.05 * i - 0.1);
  const w = new BundleWriter('variables/variables');
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([
      { children: [[1, 'layer_with_weights-0'], [1, 'layer-0']] },
      { children: [[2, 'cell']] },
      { children: [[3, 'kernel'], [4, 'recurrent_kernel'], [5, 'bias']] },
      { attributes: [['VARIABLE_VALUE', 'lstm/lstm_cell/kernel', keys[0]!]] },
      { attributes: [['VARIABLE_VALUE', 'lstm/lstm_cell/recurrent_kernel', keys[1]!]] },
      { attributes: [['VARIABLE_VALUE', 'lstm/lstm_cell/bias', keys[2]!]] },
    ]),
  ]);
  w.add(keys[0]!, 'float32', [1, 4 * units], kernel);
  w.add(keys[1]!, 'float32', [units, 4 * units], recurrent);
  w.add(keys[2]!, 'float32', [4 * units], bias);
  const lstm = { name: 'lstm', units, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, return_sequences: false, batch_input_shape: [null, 3, 1], recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1, seed: null } } };
  const root = { class_name: 'Sequential', name: 'seq', config: { name: 'seq', layers: [{ class_name: 'LSTM', config: lstm }] } };
  const pb = encodeSavedModel([
    { identifier: '_tf_keras_sequential', metadata: JSON.stringify(root), children: [[1, 'layer_with_weights-0']] },
    { identifier: '_tf_keras_rnn_layer', metadata: JSON.stringify({ class_name: 'LSTM', name: 'lstm', config: lstm }), children: [[2, 'cell']] },
    { identifier: '_tf_keras_layer', metadata: JSON.stringify({ class_name: 'LSTMCell', name: 'lstm_cell', config: { name: 'lstm_cell', units } }), children: [[3, 'kernel'], [4, 'recurrent_kernel'], [5, 'bias']] },
    { variableName: 'lstm/lstm_cell/kernel:0' },
    { variableName: 'lstm/lstm_cell/recurrent_kernel:0' },
    { variableName: 'lstm/lstm_cell/bias:0' },
  ]);
  const file = await openGenerated(w, [['saved_model.pb', pb]]);
  assert.ok(file.tensors.filter((x) => x.group === 'model').every((x) => x.layer === 'lstm_cell'), 'the reader lists the weights under the cell');
  const built = await buildModel(file, tf, tfl);
  assert.deepEqual(built.loaded.map((l) => l.variable), ['lstm/kernel', 'lstm/recurrent_kernel', 'lstm/bias']);
  // The Keras LSTM step written out (gates i, f, c, o), for one sequence x = [0.5, -1, 2].
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  let h = [0, 0];
  let c = [0, 0];
  for (const xt of [0.5, -1, 2]) {
    const z = Array.from({ length: 4 * units }, (_, j) => xt * kernel[j]! + h.reduce((a, hv, r) => a + hv * recurrent[r * 4 * units + j]!, 0) + bias[j]!);
    const gate = (g: number, u: number): number => z[g * units + u]!;
    c = c.map((cv, u) => sig(gate(1, u)) * cv + sig(gate(0, u)) * Math.tanh(gate(2, u)));
    h = c.map((cv, u) => sig(gate(3, u)) * Math.tanh(cv));
  }
  const got = (built.model.predict(tf.tensor([[[0.5], [-1], [2]]])) as ReturnType<Tf['tensor']>).dataSync();
  h.forEach((want, u) => assert.ok(Math.abs(got[u]! - want) <= 1e-6, `h[${u}]: ${got[u]} vs ${want}`));
  built.model.dispose();
  await file.close();
});
