import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DType } from '../../../src/core/dtypes';
import type { LayerInfo, TensorGroup, TensorInfo, WeightFile } from '../../../src/core/model';
import { openLocalPath } from '../../../src/formats/registry';
import { summarizeLayers } from '../../../src/analysis/layerSummary';
import { fixtureOrSkip } from '../helpers/fixtures';

test('TF.js fixture: Embedding [100,20] and GRU kernel [20,12] + recurrent [4,12] + bias [12]', async (t) => {
  const p = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model/model.json');
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  try {
    const layers = summarizeLayers(file);
    // Shapes from shared/fixtures/README.md; weights.bin holds 9200 bytes of float32.
    assert.deepEqual(
      layers.map((l) => [l.name, l.className, l.params, l.bytes]),
      [
        ['embedding_Embedding2', 'Embedding', 100 * 20, 100 * 20 * 4],
        ['gru_GRU1', 'GRU', 20 * 12 + 4 * 12 + 12, (20 * 12 + 4 * 12 + 12) * 4],
      ],
    );
    assert.equal(layers.reduce((a, l) => a + l.bytes, 0), 9200);
    assert.deepEqual(layers[1]!.tensors, ['gru_GRU1/kernel', 'gru_GRU1/recurrent_kernel', 'gru_GRU1/bias']);
    assert.equal(layers[1]!.activation, 'tanh');
  } finally {
    await file.close();
  }
});

function tensor(name: string, layer: string, shape: number[], group: TensorGroup, dtype: DType = 'float32'): TensorInfo {
  return {
    name,
    layer,
    weight: name.split('/').pop()!,
    role: 'other',
    group,
    dtype,
    storageDtype: dtype,
    shape,
    byteLength: shape.reduce((a, b) => a * b, 1) * 4,
    readValues: async function* () {
      yield new Float32Array(0);
    },
  };
}

test('optimizer state is listed but not counted; tensors outside the LayerInfo list are added', () => {
  const layers: LayerInfo[] = [
    { name: 'dense', className: 'Dense', activation: 'relu', trainable: false, tensors: ['dense/kernel'] },
    { name: 'flatten', className: 'Flatten', tensors: [] },
  ];
  const file: WeightFile = {
    format: 'keras-h5',
    formatName: 'test',
    path: 'x.h5',
    tensors: [
      tensor('dense/kernel', 'dense', [3, 4], 'model'),
      tensor('dense/bias', 'dense', [4], 'model'),
      tensor('Adam/m/dense/kernel', 'dense', [3, 4], 'optimizer'),
      tensor('iteration', '', [], 'optimizer'),
    ],
    layers,
    metadata: {},
    warnings: [],
    close: async () => undefined,
  };
  assert.deepEqual(summarizeLayers(file), [
    { name: 'dense', className: 'Dense', activation: 'relu', trainable: false, params: 16, bytes: 64, tensors: ['dense/kernel', 'dense/bias', 'Adam/m/dense/kernel'] },
    { name: 'flatten', className: 'Flatten', params: 0, bytes: 0, tensors: [] },
  ]);
});
