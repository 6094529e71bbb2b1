import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { LayerInfo } from '../../../src/core/model';
import { parseKerasModelConfig, roleFromWeightName, splitWeightName } from '../../../src/formats/kerasConfig';
import { fixtureOrSkip, repoRoot } from '../helpers/fixtures';

interface ReferenceLayer {
  name: string;
  className: string;
  parent: string | null;
  activation: string | null;
  units: number | null;
  filters: number | null;
  kernelSize: number[] | null;
  trainable: boolean | null;
  dropoutRate: number | null;
}

interface ReferenceEntry {
  source: { path: string; json?: string; h5attr?: string };
  expected: { modelClass: string; modelName: string | null; inputShapes: (number | null)[][] | null; layers: ReferenceLayer[] };
}

/** Written by scripts/reference-keras-config.py (h5py + plain JSON), never by the code under test. */
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'kerasConfig.reference.json'), 'utf8')) as ReferenceEntry[];

/** Reads a string attribute of an HDF5 file with h5wasm (independent of the project's readers). */
async function readH5StringAttr(file: string, attr: string): Promise<string> {
  const h5wasm = await import('h5wasm/node');
  await h5wasm.ready;
  const f = new h5wasm.File(file, 'r');
  try {
    const value = f.attrs[attr]?.value;
    assert.equal(typeof value, 'string', `${attr} of ${file} is a string attribute`);
    return value as string;
  } finally {
    f.close();
  }
}

function pick(l: LayerInfo): ReferenceLayer {
  return {
    name: l.name,
    className: l.className ?? '',
    parent: l.parent ?? null,
    activation: l.activation ?? null,
    units: l.units ?? null,
    filters: l.filters ?? null,
    kernelSize: l.kernelSize ?? null,
    trainable: l.trainable ?? null,
    dropoutRate: l.dropoutRate ?? null,
  };
}

for (const entry of reference) {
  test(`parseKerasModelConfig matches the h5py/JSON reference for ${entry.source.path}`, async (t) => {
    const file = fixtureOrSkip(t, entry.source.path);
    if (!file) {
      return;
    }
    let config: unknown;
    if (entry.source.h5attr) {
      config = JSON.parse(await readH5StringAttr(file, entry.source.h5attr));
    } else {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      config = entry.source.json ? json[entry.source.json] : json;
    }
    const arch = parseKerasModelConfig(config);
    assert.equal(arch.modelClass, entry.expected.modelClass);
    assert.equal(arch.modelName ?? null, entry.expected.modelName);
    assert.deepEqual(arch.inputShapes ?? null, entry.expected.inputShapes);
    assert.equal(arch.layers.length, entry.expected.layers.length);
    arch.layers.forEach((l, i) => assert.deepEqual(pick(l), entry.expected.layers[i], `layer ${i}`));
    for (const l of arch.layers) {
      assert.deepEqual(l.tensors, []);
      assert.ok(l.config && typeof l.config === 'object', `${l.name} keeps its raw config`);
    }
    const names = arch.layers.map((l) => l.name);
    assert.equal(new Set(names).size, names.length, 'layer names are unique');
  });
}

test('Teachable Machine nesting: Sequential ⊃ Sequential ⊃ Functional MobileNetV2 keeps parents', async (t) => {
  const file = fixtureOrSkip(t, 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5');
  if (!file) {
    return;
  }
  const arch = parseKerasModelConfig(JSON.parse(await readH5StringAttr(file, 'model_config')));
  const byName = new Map(arch.layers.map((l) => [l.name, l]));
  assert.equal(arch.modelName, 'sequential_4');
  assert.equal(byName.get('sequential_1')?.className, 'Sequential');
  assert.equal(byName.get('sequential_1')?.parent, undefined);
  assert.equal(byName.get('model1')?.className, 'Functional');
  assert.equal(byName.get('model1')?.parent, 'sequential_1');
  assert.equal(byName.get('Conv1')?.parent, 'model1');
  assert.equal(byName.get('dense_Dense2')?.parent, 'sequential_3');
  assert.equal(arch.layers.filter((l) => l.parent === 'model1').length, 155);
});

test('Keras 1 Sequential with a list config, init/W_regularizer/output_dim/nb_filter fields', () => {
  const arch = parseKerasModelConfig({
    class_name: 'Sequential',
    config: [
      {
        class_name: 'Convolution2D',
        config: { name: 'conv_1', nb_filter: 16, nb_row: 3, nb_col: 5, init: 'glorot_uniform', activation: 'relu', W_regularizer: { name: 'WeightRegularizer', l2: 0.01 }, batch_input_shape: [null, 1, 28, 28] },
      },
      { class_name: 'Dropout', config: { name: 'dropout_1', p: 0.25 } },
      { class_name: 'Dense', config: { name: 'dense_1', output_dim: 10, init: 'he_normal', activation: 'softmax', b_regularizer: null } },
      { class_name: 'LSTM', config: { name: 'lstm_1', output_dim: 8, inner_init: 'orthogonal', dropout_W: 0.1, dropout_U: 0.2 } },
    ],
  });
  assert.equal(arch.modelClass, 'Sequential');
  assert.equal(arch.modelName, undefined);
  assert.deepEqual(arch.inputShapes, [[null, 1, 28, 28]]);
  const [conv, drop, dense, lstm] = arch.layers;
  assert.equal(conv?.filters, 16);
  assert.deepEqual(conv?.kernelSize, [3, 5]);
  assert.deepEqual(conv?.kernelInitializer, { className: 'glorot_uniform', config: {} });
  assert.equal(conv?.activation, 'relu');
  assert.deepEqual(conv?.kernelRegularizer, { className: 'WeightRegularizer', config: { l2: 0.01 } });
  assert.deepEqual((conv?.config as Record<string, unknown>).W_regularizer, { name: 'WeightRegularizer', l2: 0.01 }, 'raw config kept');
  assert.equal(drop?.dropoutRate, 0.25);
  assert.equal(dense?.units, 10);
  assert.equal(dense?.activation, 'softmax');
  assert.equal(lstm?.units, 8);
  assert.deepEqual(lstm?.recurrentInitializer, { className: 'orthogonal', config: {} });
  assert.equal(lstm?.dropoutRate, 0.1);
  assert.equal(lstm?.recurrentDropoutRate, 0.2);
});

test('Keras 3 objects: initializers/regularizers as {module, class_name, config}, activation objects → names', () => {
  const arch = parseKerasModelConfig({
    module: 'keras',
    class_name: 'Functional',
    config: {
      name: 'm',
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { name: 'in', batch_shape: [null, 4] }, name: 'in' },
        {
          module: 'keras.layers',
          class_name: 'Dense',
          name: 'd',
          config: {
            name: 'd',
            units: 3,
            activation: { module: 'keras.activations', class_name: 'function', config: 'gelu', registered_name: 'gelu' },
            kernel_initializer: { module: 'keras.initializers', class_name: 'HeNormal', config: { seed: 7 }, registered_name: null },
            kernel_regularizer: { module: 'keras.regularizers', class_name: 'L2', config: { l2: 0.001 }, registered_name: null },
            activity_regularizer: { module: 'keras.regularizers', class_name: 'L1', config: { l1: 0.5 }, registered_name: null },
            bias_initializer: 'zeros',
          },
        },
        { module: 'keras.layers', class_name: 'Dense', name: 'e', config: { name: 'e', units: 1, activation: null } },
      ],
    },
    registered_name: 'Functional',
  });
  assert.equal(arch.modelClass, 'Functional');
  assert.deepEqual(arch.inputShapes, [[null, 4]]);
  const d = arch.layers[1];
  assert.equal(d?.activation, 'gelu');
  assert.deepEqual(d?.kernelInitializer, { className: 'HeNormal', config: { seed: 7 } });
  assert.deepEqual(d?.kernelRegularizer, { className: 'L2', config: { l2: 0.001 } });
  assert.deepEqual(d?.activityRegularizer, { className: 'L1', config: { l1: 0.5 } });
  assert.deepEqual(d?.biasInitializer, { className: 'zeros', config: {} });
  assert.equal(arch.layers[2]?.activation, undefined, 'null activation is undefined');
});

test('separable convs, Bidirectional/TimeDistributed wrappers and RNN cells fill fields from the inner config', () => {
  const arch = parseKerasModelConfig({
    class_name: 'Sequential',
    config: {
      name: 's',
      layers: [
        {
          class_name: 'SeparableConv2D',
          config: {
            name: 'sep',
            filters: 8,
            kernel_size: [3, 3],
            depthwise_initializer: { class_name: 'GlorotUniform', config: { seed: 1 } },
            pointwise_initializer: { class_name: 'GlorotNormal', config: { seed: 2 } },
            depthwise_regularizer: { class_name: 'L1L2', config: { l1: 0, l2: 0.02 } },
          },
        },
        {
          class_name: 'Bidirectional',
          config: {
            name: 'bidi',
            merge_mode: 'concat',
            layer: { class_name: 'LSTM', config: { name: 'lstm', units: 5, activation: 'tanh', recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1 } }, dropout: 0.3, recurrent_dropout: 0.4 } },
          },
        },
        { class_name: 'TimeDistributed', config: { name: 'td', layer: { class_name: 'Dense', config: { name: 'inner', units: 2, activation: 'sigmoid' } } } },
        { class_name: 'RNN', config: { name: 'rnn', cell: { class_name: 'GRUCell', config: { name: 'gru_cell', units: 6, activation: 'relu' } } } },
        {
          class_name: 'RNN',
          config: {
            name: 'stacked',
            cell: { class_name: 'StackedRNNCells', config: { cells: [{ class_name: 'SimpleRNNCell', config: { units: 7, kernel_initializer: { class_name: 'Ones', config: {} } } }] } },
          },
        },
        { class_name: 'Conv1D', config: { name: 'c1', filters: 4, kernel_size: 5 } },
      ],
    },
  });
  const byName = new Map(arch.layers.map((l) => [l.name, l]));
  const sep = byName.get('sep');
  assert.deepEqual(sep?.depthwiseInitializer, { className: 'GlorotUniform', config: { seed: 1 } });
  assert.deepEqual(sep?.kernelInitializer, { className: 'GlorotNormal', config: { seed: 2 } }, 'pointwise initializer is the kernel initializer');
  assert.deepEqual(sep?.kernelRegularizer, { className: 'L1L2', config: { l1: 0, l2: 0.02 } });
  const bidi = byName.get('bidi');
  assert.equal(bidi?.className, 'Bidirectional');
  assert.equal(bidi?.units, 5);
  assert.equal(bidi?.activation, 'tanh');
  assert.equal(bidi?.dropoutRate, 0.3);
  assert.equal(bidi?.recurrentDropoutRate, 0.4);
  assert.deepEqual(bidi?.recurrentInitializer, { className: 'Orthogonal', config: { gain: 1 } });
  assert.equal(byName.get('td')?.units, 2);
  assert.equal(byName.get('td')?.activation, 'sigmoid');
  assert.equal(byName.get('rnn')?.units, 6);
  assert.equal(byName.get('rnn')?.activation, 'relu');
  assert.equal(byName.get('stacked')?.units, 7);
  assert.deepEqual(byName.get('stacked')?.kernelInitializer, { className: 'Ones', config: {} });
  assert.deepEqual(byName.get('c1')?.kernelSize, [5], 'a bare kernel_size number is a 1-D kernel');
  assert.equal(arch.layers.length, 6, 'wrapped layers and cells are not separate layers');
});

test('nested models: repeated names become outer/inner, unique names stay short, parents point at final names', () => {
  const inner = (name: string) => ({ class_name: 'Sequential', config: { name, layers: [{ class_name: 'Dense', config: { name: 'dense', units: 1 } }, { class_name: 'Dense', config: { name: `only_in_${name}`, units: 2 } }] } });
  const arch = parseKerasModelConfig({ class_name: 'Functional', config: { name: 'outer', layers: [inner('a'), inner('b'), { class_name: 'Dense', config: { name: 'head', units: 3 } }] } });
  assert.deepEqual(
    arch.layers.map((l) => [l.name, l.parent ?? null]),
    [
      ['a', null],
      ['a/dense', 'a'],
      ['only_in_a', 'a'],
      ['b', null],
      ['b/dense', 'b'],
      ['only_in_b', 'b'],
      ['head', null],
    ],
  );
});

test('TF.js topologies: {keras_version, backend, model_config, training_config} and {class_name, config, keras_version}', () => {
  const modelConfig = { class_name: 'Sequential', config: { name: 'seq', layers: [{ class_name: 'Dense', config: { name: 'dense_Dense1', units: 4, activation: 'linear' } }] } };
  const converted = parseKerasModelConfig({ keras_version: '2.2.4', backend: 'tensorflow', model_config: modelConfig, training_config: { loss: 'mse' } });
  const saved = parseKerasModelConfig({ ...modelConfig, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' });
  const fromString = parseKerasModelConfig(JSON.stringify(modelConfig));
  for (const arch of [converted, saved, fromString]) {
    assert.equal(arch.modelClass, 'Sequential');
    assert.equal(arch.modelName, 'seq');
    assert.deepEqual(arch.layers.map((l) => [l.name, l.className, l.units, l.activation]), [['dense_Dense1', 'Dense', 4, 'linear']]);
  }
});

test('unknown shapes never throw and keep what they can', () => {
  for (const input of [undefined, null, 42, 'not json', [], {}, { class_name: 'Sequential', config: 'x' }, { class_name: 'Custom', config: { layers: [null, 3, { config: null }] } }]) {
    const arch = parseKerasModelConfig(input);
    assert.ok(Array.isArray(arch.layers));
  }
  const custom = parseKerasModelConfig({ module: null, class_name: 'NestedDenseModel', config: { units: 4, trainable: true }, registered_name: 'Custom>NestedDenseModel' });
  assert.equal(custom.modelClass, 'NestedDenseModel');
  assert.deepEqual(custom.layers, []);
  const unknownLayer = parseKerasModelConfig({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'MyLayer', config: { name: 'mine', strange: { deep: [1, 2] } } }] } });
  assert.deepEqual(unknownLayer.layers[0]?.config, { name: 'mine', strange: { deep: [1, 2] } });
  assert.equal(unknownLayer.layers[0]?.className, 'MyLayer');
});

test('roleFromWeightName maps Keras 1/2/3 and TF.js weight names to roles', () => {
  const cases: [string, string][] = [
    ['kernel', 'kernel'],
    ['bias', 'bias'],
    ['recurrent_kernel', 'recurrent_kernel'],
    ['depthwise_kernel', 'depthwise_kernel'],
    ['pointwise_kernel', 'pointwise_kernel'],
    ['embeddings', 'embeddings'],
    ['gamma', 'gamma'],
    ['beta', 'beta'],
    ['moving_mean', 'moving_mean'],
    ['moving_variance', 'moving_variance'],
    ['alpha', 'alpha'],
    ['dense_1/kernel:0', 'kernel'],
    ['bn/moving_variance:0', 'moving_variance'],
    ['dense_1_W', 'kernel'],
    ['dense_1_b', 'bias'],
    ['lstm_1_U_i', 'recurrent_kernel'],
    ['lstm_1_W_f', 'kernel'],
    ['batchnormalization_1_running_mean', 'moving_mean'],
    ['batchnormalization_1_running_std', 'moving_variance'],
    ['Adam/m/dense/kernel', 'optimizer_state'],
    ['optimizer/dense/kernel/rms', 'optimizer_state'],
    ['training/Adam/Variable_3:0', 'optimizer_state'],
    ['optimizer/iter', 'step'],
    ['iteration:0', 'step'],
    ['Adam/iterations:0', 'step'],
    ['something_else', 'other'],
    ['vars/0', 'other'],
  ];
  for (const [name, role] of cases) {
    assert.equal(roleFromWeightName(name), role, name);
  }
});

test('splitWeightName strips :0 and splits at the last slash (or a Keras 1 suffix)', () => {
  assert.deepEqual(splitWeightName('dense_1/kernel:0'), { layer: 'dense_1', weight: 'kernel' });
  assert.deepEqual(splitWeightName('model/dense/kernel'), { layer: 'model/dense', weight: 'kernel' });
  assert.deepEqual(splitWeightName('lstm/lstm_cell/recurrent_kernel:0'), { layer: 'lstm/lstm_cell', weight: 'recurrent_kernel' });
  assert.deepEqual(splitWeightName('dense_1_W'), { layer: 'dense_1', weight: 'W' });
  assert.deepEqual(splitWeightName('lstm_2_U_o'), { layer: 'lstm_2', weight: 'U_o' });
  assert.deepEqual(splitWeightName('iteration:0'), { layer: '', weight: 'iteration' });
  assert.deepEqual(splitWeightName('w'), { layer: '', weight: 'w' });
});
