import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignTensors, normalizeTensorPath, type AlignableTensor } from '../../../src/analysis/alignTensors';

const t = (name: string, shape: number[], extra: Partial<AlignableTensor> = {}): AlignableTensor => {
  const i = name.lastIndexOf('/');
  const weight = name.slice(i + 1).replace(/:0$/, '');
  return { name, layer: name.slice(0, i), weight, role: weight === 'kernel' || weight === 'bias' ? weight : 'other', group: 'model', shape, dtype: 'float32', ...extra };
};

test('normalizeTensorPath drops format decorations', () => {
  assert.equal(normalizeTensorPath('model_weights/dense/dense/kernel:0'), 'dense/kernel');
  assert.equal(normalizeTensorPath('dense/kernel/.ATTRIBUTES/VARIABLE_VALUE'), 'dense/kernel');
  assert.equal(normalizeTensorPath('dense/kernel'), 'dense/kernel');
});

test('Keras .h5 names meet TF.js names by normalized path', () => {
  const h5 = [t('dense/dense/kernel:0', [4, 3]), t('dense/dense/bias:0', [3])];
  const js = [t('dense/kernel', [4, 3]), t('dense/bias', [3])];
  const r = alignTensors(h5, js);
  assert.deepEqual(r.pairs.map((p) => [p.a, p.b, p.matchedBy]), [
    ['dense/dense/kernel:0', 'dense/kernel', 'path'],
    ['dense/dense/bias:0', 'dense/bias', 'path'],
  ]);
  assert.deepEqual(r.added, []);
  assert.deepEqual(r.removed, []);
});

test('overrides win over every other rule, and null forces removal', () => {
  const a = [t('a/kernel', [2, 2]), t('b/kernel', [2, 2])];
  const b = [t('a/kernel', [2, 2]), t('b/kernel', [2, 2])];
  const r = alignTensors(a, b, new Map([['a/kernel', 'b/kernel'], ['b/kernel', null]]));
  assert.deepEqual(r.pairs.map((p) => [p.a, p.b, p.matchedBy]), [['a/kernel', 'b/kernel', 'override']]);
  assert.deepEqual(r.removed, ['b/kernel']);
  assert.deepEqual(r.added, ['a/kernel']);
});

test('order matching never pairs different roles or groups', () => {
  assert.deepEqual(alignTensors([t('x/kernel', [3])], [t('y/bias', [3])]).pairs, []);
  assert.deepEqual(alignTensors([t('x/m', [3], { group: 'optimizer' })], [t('y/m', [3])]).pairs, []);
  assert.deepEqual(
    alignTensors([t('x/m', [3], { group: 'optimizer' })], [t('y/m', [3], { group: 'optimizer' })]).pairs.map((p) => p.matchedBy),
    ['order'],
  );
});

test('TFLite tensors meet their Keras layer by layer and role, transposed shapes included', () => {
  const keras = [t('conv2d/conv2d/kernel:0', [3, 3, 3, 16]), t('conv2d/conv2d/bias:0', [16]), t('dense/dense/kernel:0', [64, 10])];
  const tflite = [
    t('model/dense/MatMul', [10, 64], { layer: 'model/dense', role: 'kernel' }),
    t('model/activation/Relu;model/conv2d/BiasAdd', [16], { layer: 'model/conv2d', role: 'bias' }),
    t('model/conv2d/Conv2D', [16, 3, 3, 3], { layer: 'model/conv2d', role: 'kernel' }),
  ];
  const r = alignTensors(keras, tflite);
  assert.deepEqual(r.pairs.map((p) => [p.a, p.b, p.matchedBy]), [
    ['conv2d/conv2d/kernel:0', 'model/conv2d/Conv2D', 'layer'],
    ['conv2d/conv2d/bias:0', 'model/activation/Relu;model/conv2d/BiasAdd', 'layer'],
    ['dense/dense/kernel:0', 'model/dense/MatMul', 'layer'],
  ]);
});

test('renamed layers whose tensors two files store in different orders pair up in the files\' layer order', () => {
  // The tensor orders of the har-dnn fixtures model_dynamic.tflite and stripped_sparse_float16.tflite
  // (as listed in their subgraphs): the second was converted from a copy with every layer renamed.
  const layer = (name: string, role: 'kernel' | 'bias', shape: number[]): AlignableTensor =>
    t(name, shape, { layer: name.split('/').slice(0, 2).join('/'), weight: name.split('/').slice(2).join('/'), role });
  const a = [
    layer('sequential/dense_3/MatMul', 'kernel', [6, 64]),
    layer('sequential/dense_1/BiasAdd/ReadVariableOp', 'bias', [128]),
    layer('sequential/dense_2/BiasAdd/ReadVariableOp', 'bias', [64]),
    layer('sequential/dense_3/BiasAdd/ReadVariableOp', 'bias', [6]),
    layer('sequential/dense/BiasAdd/ReadVariableOp', 'bias', [256]),
    layer('sequential/dense/MatMul', 'kernel', [256, 561]),
    layer('sequential/dense_1/MatMul', 'kernel', [128, 256]),
    layer('sequential/dense_2/MatMul', 'kernel', [64, 128]),
  ];
  const b = [
    layer('sequential_1/dense_7/BiasAdd/ReadVariableOp', 'bias', [6]),
    layer('sequential_1/dense_6/BiasAdd/ReadVariableOp', 'bias', [64]),
    layer('sequential_1/dense_5/BiasAdd/ReadVariableOp', 'bias', [128]),
    layer('sequential_1/dense_4/BiasAdd/ReadVariableOp', 'bias', [256]),
    layer('sequential_1/dense_4/MatMul1', 'kernel', [256, 561]),
    layer('sequential_1/dense_5/MatMul1', 'kernel', [128, 256]),
    layer('sequential_1/dense_6/MatMul1', 'kernel', [64, 128]),
    layer('sequential_1/dense_7/MatMul1', 'kernel', [6, 64]),
  ];
  const layers = {
    a: ['sequential/dense', 'sequential/dense_1', 'sequential/dense_2', 'sequential/dense_3'],
    b: ['sequential_1/dense_4', 'sequential_1/dense_5', 'sequential_1/dense_6', 'sequential_1/dense_7'],
  };
  const r = alignTensors(a, b, undefined, layers);
  assert.deepEqual(r.removed, []);
  assert.deepEqual(r.added, []);
  const rename = (n: string): string => n.replace(/^sequential\/dense(_\d)?/, (_m, k: string | undefined) => `sequential_1/dense_${4 + Number(k?.slice(1) ?? 0)}`).replace(/MatMul$/, 'MatMul1');
  assert.deepEqual(
    r.pairs.map((p) => [p.a, p.b]),
    a.map((x) => [x.name, rename(x.name)]),
  );
  assert.ok(r.pairs.every((p) => p.matchedBy === 'order'));
});
