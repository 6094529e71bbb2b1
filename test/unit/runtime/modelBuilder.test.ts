import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { readAllValues } from '../../../src/core/tensorData';
import { openLocalPath } from '../../../src/formats/registry';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { buildModel, convertKerasConfig, flattenLayers, optionTypeProblem, tfjsReason, wiringProblem } from '../../../src/runtime/modelBuilder';
import { writeTfjsModel, type TfjsArtifacts } from '../../../src/runtime/tfjsArtifacts';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';
import { readStoredMembers, writeZip } from '../formats/helpers/zipWriter';

/** Outputs computed by scripts/reference-runtime.py (h5py + NumPy float64). */
const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'runtime', 'modelBuilder.reference.json'), 'utf8')) as Record<
  string,
  { inputShape: number[]; output: number[][] }
>;

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** The inputs of scripts/reference-runtime.py: sin(0.37 k + 0.1). */
function inputs(shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => Math.sin(0.37 * k + 0.1));
}

async function predict(rel: string, file: string): Promise<{ out: Float32Array; artifacts: TfjsArtifacts; loadedCount: number }> {
  const wf = await openLocalPath(file);
  try {
    const built = await buildModel(wf, tf, tfl);
    // weights equal the stored values exactly
    const variables = new Map(flattenLayers(built.model).flatMap((l) => l.weights.map((w) => [w.originalName, w] as const)));
    for (const entry of built.loaded) {
      const stored = await readAllValues(wf.tensors.find((t) => t.name === entry.tensor)!);
      const got = variables.get(entry.variable)!.read().dataSync();
      assert.deepEqual(Array.from(got), Array.from(Float32Array.from(stored)), `${rel}: ${entry.variable}`);
    }
    const shape = reference[rel]!.inputShape;
    const y = built.model.predict(tf.tensor(inputs(shape), shape)) as ReturnType<Tf['tensor']>;
    let artifacts: TfjsArtifacts = {};
    await built.model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a as TfjsArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    return { out: y.dataSync() as Float32Array, artifacts, loadedCount: built.loaded.length };
  } finally {
    await wf.close();
  }
}

function assertClose(got: Float32Array, want: number[][], what: string): void {
  const flat = want.flat();
  assert.equal(got.length, flat.length, what);
  flat.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= 1e-5 * Math.max(1, Math.abs(w)), `${what}[${i}]: ${got[i]} vs NumPy ${w}`));
}

for (const rel of Object.keys(reference)) {
  test(`rebuilt ${rel} matches its stored weights and the NumPy forward pass`, async (t) => {
    const file = fixtureOrSkip(t, rel);
    if (!file) {return;}
    const { out, loadedCount } = await predict(rel, file);
    assert.ok(loadedCount > 0);
    assertClose(out, reference[rel]!.output, rel);
  });
}

test('a Keras .h5 model and its TF.js twin rebuild to the same outputs bit for bit', async (t) => {
  const rel = 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5';
  const file = fixtureOrSkip(t, rel);
  if (!file) {return;}
  const fromH5 = await predict(rel, file);
  const dir = makeTempDir();
  await writeTfjsModel(dir, fromH5.artifacts);
  const twin = await openLocalPath(path.join(dir, 'model.json'));
  assert.equal(twin.format, 'tfjs-layers');
  const built = await buildModel(twin, tf, tfl);
  const shape = reference[rel]!.inputShape;
  const out = (built.model.predict(tf.tensor(inputs(shape), shape)) as ReturnType<Tf['tensor']>).dataSync();
  assert.deepEqual(Array.from(out), Array.from(fromH5.out));
  await twin.close();
});

test('TF.js layers fixture (Embedding + GRU) rebuilds with every weight loaded by name', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model/model.json');
  if (!file) {return;}
  const wf = await openLocalPath(file);
  const built = await buildModel(wf, tf, tfl);
  assert.deepEqual(built.loaded.map((l) => l.variable).sort(), ['embedding_Embedding2/embeddings', 'gru_GRU1/bias', 'gru_GRU1/kernel', 'gru_GRU1/recurrent_kernel']);
  await wf.close();
});

test('unsupported layers are listed in one message; weights-only files are refused', async (t) => {
  const custom = fixtureOrSkip(t, 'keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras');
  const ckpt = fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index');
  const tflite = fixtureOrSkip(t, 'tflite/har-dnn-tf2.14/model_float16.tflite');
  const graph = fixtureOrSkip(t, 'tfjs-graph/tfjs-e2e-graph-model/model.json');
  if (!custom || !ckpt || !tflite || !graph) {return;}
  for (const [p, re] of [
    [custom, /does not implement.*'NestedDenseModel'/],
    [ckpt, /without a model architecture .*; open the full model file \(saved with its architecture, e\.g\. model\.save\) instead\.$/],
    // These formats have no fuller file to open: the hint names what to probe instead.
    [tflite, /; a TFLite model is a graph of TFLite ops, not of layers, so probe or train the Keras or TF\.js model it was converted from\.$/],
    [graph, /; a TF\.js graph model holds ops, not layers, so probe or train the Keras or TF\.js layers model it was converted from\.$/],
  ] as const) {
    const wf = await openLocalPath(p);
    await assert.rejects(buildModel(wf, tf, tfl), (ex) => WeightFileError.is(ex, 'unsupportedFormat') && re.test(ex.message));
    await wf.close();
  }
  const { unsupported } = convertKerasConfig(
    { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: {} }, { class_name: 'FancyA', config: {} }, { class_name: 'FancyB', config: {} }] } },
    (c) => c === 'Dense',
  );
  assert.deepEqual(unsupported, ['FancyA', 'FancyB']);
});

test('a config TensorFlow.js cannot rebuild is one sentence naming the file and its first line, without TF.js\'s list of possible causes', async () => {
  const dir = makeTempDir('weightscope-rebuild-');
  const model = (activation: unknown): unknown => ({
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, activation, batch_input_shape: [null, 3] } }] } },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }] }],
  });
  fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(32));
  for (const [activation, reason] of [
    ['nope', 'Unknown activation: nope.'],
    [[0, -3], 'activation: Improper config format: [0,-3].'],
  ] as const) {
    const file = path.join(dir, 'model.json');
    fs.writeFileSync(file, JSON.stringify(model(activation)));
    const wf = await openLocalPath(file);
    try {
      await assert.rejects(buildModel(wf, tf, tfl), (ex: unknown) => {
        assert.ok(WeightFileError.is(ex, 'unsupportedFormat'), String(ex));
        assert.equal(ex.message, `${file}: TensorFlow.js could not rebuild the model from its config: ${reason}`);
        return true;
      });
    } finally {
      await wf.close();
    }
  }
  assert.equal(tfjsReason(new Error('If an RNN is stateful, it needs to know its batch size. Specify the batch size of your input tensors: \n- If using a Sequential model')), 'If an RNN is stateful, it needs to know its batch size. Specify the batch size of your input tensors.');
});

/** A functional Keras 2 config: input 'in' [null, 3], then the given layers (name, inputs from). */
function functional(layers: [string | undefined, string[]][]): Record<string, unknown> {
  return {
    class_name: 'Model',
    config: {
      name: 'f',
      layers: [
        { name: 'in', class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 3], dtype: 'float32' }, inbound_nodes: [] },
        ...layers.map(([name, from]) => ({
          ...(name !== undefined ? { name } : {}),
          class_name: 'Dense',
          config: { name: name ?? 'unnamed', units: 3 },
          inbound_nodes: [from.map((f) => [f, 0, 0, {}])],
        })),
      ],
      input_layers: [['in', 0, 0]],
      output_layers: [[layers[layers.length - 1]![0] ?? 'unnamed', 0, 0]],
    },
  };
}

test('functional configs whose wiring TF.js would re-queue forever (a missing, nameless or duplicate layer, a cycle) are named up front', () => {
  assert.equal(wiringProblem(functional([['a', ['in']], ['b', ['a']]])), undefined);
  assert.equal(wiringProblem(functional([['b', ['a']], ['a', ['in']]])), undefined, 'layers listed before their inputs still wire');
  assert.equal(wiringProblem(functional([['a', ['in']], ['b', ['gone']]])), "layer 'b' of model 'f' takes an input from 'gone', which is not a layer of it");
  assert.equal(wiringProblem(functional([['a', ['in']], [undefined, ['a']]])), "layer 3 of model 'f' has no name, so the layers that take its output cannot find it");
  assert.equal(wiringProblem(functional([['a', ['in']], ['a', ['in']]])), "model 'f' has two layers named 'a'");
  assert.equal(
    wiringProblem(functional([['a', ['in', 'b']], ['b', ['a']]])),
    "layer 'a' of model 'f' takes an input from node 0 of 'b', which is never built (the layers' inputs form a cycle or skip a node)",
  );
  // A node without inputs builds nothing in TF.js, so node 0 of 'b' never exists.
  const empty = functional([['a', ['in']], ['b', []], ['c', ['b']]]);
  assert.equal(wiringProblem(empty), "layer 'c' of model 'f' takes an input from node 0 of 'b', which is never built (the layers' inputs form a cycle or skip a node)");
  // Two layers whose configs carry one name: TF.js would build both nodes on the first.
  const sameOwnName = functional([['a', ['in']], ['b', ['in']], ['c', ['b']]]);
  ((sameOwnName['config'] as { layers: { config: { name: string } }[] }).layers[2]!.config.name = 'a');
  assert.equal(wiringProblem(sameOwnName), "model 'f' has two layers named 'a'");
  // A nested model has its own first node, so the config counts its calls from node 1 (Keras and TF.js alike).
  const inner = functional([['d', ['in']]]);
  const outer = functional([['x', ['in']]]);
  const outerLayers = (outer['config'] as { layers: Record<string, unknown>[] }).layers;
  outerLayers.splice(1, 0, { ...inner, name: 'inner', inbound_nodes: [[['in', 0, 0, {}]]] });
  outerLayers[2]!['inbound_nodes'] = [[['inner', 1, 0, {}]]];
  assert.equal(wiringProblem(outer), undefined);
  // A nested functional model is checked too; a Sequential has no wiring to check.
  const nested = { class_name: 'Sequential', config: { name: 's', layers: [functional([['x', ['nope']]])] } };
  assert.equal(wiringProblem(nested), "layer 'x' of model 'f' takes an input from 'nope', which is not a layer of it");
  assert.equal(wiringProblem({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { units: 2 } }] } }), undefined);
});

test('layer options of the wrong type (an epsilon that is a string, a center that is not a boolean) are named up front', () => {
  const bn = (config: Record<string, unknown>): unknown => ({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'BatchNormalization', config: { name: 'bn', ...config } }] } });
  assert.equal(optionTypeProblem(bn({ epsilon: 0.001, center: true, momentum: null })), undefined);
  assert.equal(optionTypeProblem(bn({ epsilon: 'relu' })), `layer 'bn' has epsilon "relu", where a number belongs`);
  assert.equal(optionTypeProblem(bn({ center: '' })), `layer 'bn' has center "", where a boolean belongs`);
  // Nested models are checked too, and the layer a wrapper or an RNN holds.
  assert.equal(optionTypeProblem({ class_name: 'Sequential', config: { name: 'outer', layers: [bn({ units: [3] })] } }), "layer 'bn' has units [3], where a number belongs");
  const bidirectional = { class_name: 'Bidirectional', config: { name: 'bi', layer: { class_name: 'LSTM', config: { name: 'lstm', units: '4' } } } };
  assert.equal(optionTypeProblem({ class_name: 'Sequential', config: { name: 's', layers: [bidirectional] } }), `layer 'lstm' has units "4", where a number belongs`);
  const stacked = { class_name: 'RNN', config: { name: 'rnn', cell: { class_name: 'StackedRNNCells', config: { cells: [{ class_name: 'LSTMCell', config: { name: 'c0', units: 2, dropout: 'x' } }] } } } };
  assert.equal(optionTypeProblem({ class_name: 'Sequential', config: { name: 's', layers: [stacked] } }), `layer 'c0' has dropout "x", where a number belongs`);
});

test('configs TF.js accepts but cannot run are refused in one sentence before a probe starts (never a hang or an internal error)', async () => {
  const dir = makeTempDir('weightscope-damaged-config-');
  fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(48));
  const manifest = [{ paths: ['w.bin'], weights: [{ name: 'a/kernel', shape: [3, 3], dtype: 'float32' }, { name: 'a/bias', shape: [3], dtype: 'float32' }] }];
  const cases: [string, unknown, string, RegExp][] = [
    // Deserializes to a layer, not a model.
    ['layer', { class_name: 'Dense', config: { name: 'a', units: 3 } }, 'corrupt', /: the model config describes one 'Dense' layer, not a model, so there is nothing to run\.$/],
    // An initializer where a constraint belongs: TF.js fails applying it when the weights are set.
    [
      'constraint',
      { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'a', units: 3, batch_input_shape: [null, 3], kernel_constraint: { class_name: 'GlorotUniform', config: {} } } }] } },
      'unsupportedFormat',
      /: TensorFlow\.js could not load layer weight 'a\/kernel': .+\.$/,
    ],
  ];
  for (const [what, modelTopology, reason, message] of cases) {
    const file = path.join(dir, `${what.replace(/ /g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology, weightsManifest: manifest }));
    const wf = await openLocalPath(file);
    const tensorsBefore = tf.memory().numTensors;
    try {
      await assert.rejects(buildModel(wf, tf, tfl), (ex: unknown) => {
        // A model built before the refusal is freed: nothing is left behind.
        assert.equal(tf.memory().numTensors, tensorsBefore, `${what}: tensors left behind`);
        assert.ok(WeightFileError.is(ex, reason as 'corrupt'), `${what}: ${String(ex)}`);
        assert.ok(ex.message.startsWith(file), `${what}: ${ex.message}`);
        assert.match(ex.message, message, what);
        assert.ok(!ex.message.includes('\n'), `${what}: one line`);
        return true;
      });
    } finally {
      await wf.close();
    }
  }
});

// TF.js re-queues a node whose input is never built forever, in one synchronous loop: run in a
// child process that is killed when it hangs, so that a regression fails instead of stopping the suite.
test('probe refuses a functional config whose layers take their inputs in a cycle, which TF.js would wire forever', () => {
  const dir = makeTempDir('weightscope-cycle-');
  const file = path.join(dir, 'model.json');
  const weights = [{ name: 'a/kernel', shape: [3, 3], dtype: 'float32' }, { name: 'a/bias', shape: [3], dtype: 'float32' }];
  fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology: functional([['a', ['in', 'a']]]), weightsManifest: [{ paths: ['w.bin'], weights }] }));
  fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(48));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'probe', file], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'it ends by itself');
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `error[corrupt]: ${file}: the model config is damaged: layer 'a' of model 'f' takes an input from node 0 of 'a', which is never built (the layers' inputs form a cycle or skip a node).\n`);
});

test('a model TF.js rebuilds but cannot run (the Masking + LSTM fixture with a time axis of length 0) is refused before a probe starts', async (t) => {
  const fixture = fixtureOrSkip(t, 'keras3-keras/keras-masking-lstm-3.8/model.keras');
  if (!fixture) {
    return;
  }
  const members = await readStoredMembers(fixture);
  const config = JSON.parse(new TextDecoder().decode(members.get('config.json'))) as { config: { layers: { config: { batch_shape?: number[] } }[] } };
  assert.deepEqual(config.config.layers[0]!.config.batch_shape, [2, 3, 2]);
  config.config.layers[0]!.config.batch_shape = [2, 0, 2];
  const file = path.join(makeTempDir('weightscope-empty-axis-'), 'model.keras');
  fs.writeFileSync(file, writeZip([...members].map(([name, data]) => ({ name, data: name === 'config.json' ? new TextEncoder().encode(JSON.stringify(config)) : data }))));
  const wf = await openLocalPath(file);
  try {
    await assert.rejects(buildModel(wf, tf, tfl), (ex: unknown) => {
      assert.ok(WeightFileError.is(ex, 'unsupportedFormat'), String(ex));
      assert.match(ex.message, /^.*model\.keras: TensorFlow\.js cannot run the rebuilt model: [^\n]+\.$/);
      return true;
    });
  } finally {
    await wf.close();
  }
});

test('Keras 3 functional configs are converted to the Keras 2 JSON TF.js reads', () => {
  const { topology } = convertKerasConfig(
    {
      module: 'keras',
      class_name: 'Functional',
      config: {
        name: 'f',
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', name: 'in', config: { batch_shape: [null, 3], name: 'in' }, inbound_nodes: [] },
          {
            module: 'keras.layers',
            class_name: 'Dense',
            name: 'd',
            config: { name: 'd', units: 2, dtype: { class_name: 'DTypePolicy', config: { name: 'float32' } }, kernel_regularizer: { class_name: 'L2', config: { l2: 0.01 } } },
            inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { shape: [null, 3], keras_history: ['in', 0, 0] } }], kwargs: {} }],
          },
        ],
        input_layers: ['in', 0, 0],
        output_layers: ['d', 0, 0],
      },
    },
    () => true,
  );
  const cfg = topology['config'] as { layers: Record<string, Record<string, unknown>>[]; input_layers: unknown };
  assert.deepEqual(cfg.layers[0]!['config'], { batch_input_shape: [null, 3], name: 'in' });
  assert.deepEqual(cfg.layers[1]!['inbound_nodes'], [[['in', 0, 0, {}]]]);
  assert.deepEqual(cfg.layers[1]!['config']!['kernel_regularizer'], { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } });
  assert.equal(cfg.layers[1]!['config']!['dtype'], 'float32');
  assert.deepEqual(cfg.input_layers, [['in', 0, 0]]);
  assert.equal('module' in topology, false);
});
