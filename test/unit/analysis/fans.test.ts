/**
 * Fans by Keras's rules (keras.initializers `_compute_fans`: rank 2 [in, out], rank >= 3
 * receptive field x the last two dims) and the signal fans per layer kind; TFLite layouts mapped
 * back to Keras first. Expected values are worked out by hand from those rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeFans, kerasFans } from '../../../src/analysis/fans';
import type { TensorRole } from '../../../src/core/model';

const t = (shape: number[], role: TensorRole = 'kernel') => ({ shape, role });

test('generic Keras rule', () => {
  assert.deepEqual(kerasFans([784, 128]), { fanIn: 784, fanOut: 128, receptiveField: 1 });
  assert.deepEqual(kerasFans([3, 3, 16, 32]), { fanIn: 144, fanOut: 288, receptiveField: 9 });
  assert.deepEqual(kerasFans([5, 24, 40]), { fanIn: 120, fanOut: 200, receptiveField: 5 });
  assert.deepEqual(kerasFans([2, 3, 3, 4, 8]), { fanIn: 72, fanOut: 144, receptiveField: 18 });
  assert.deepEqual(kerasFans([10]), { fanIn: 10, fanOut: 10, receptiveField: 1 });
});

test('dense, conv, depthwise, transposed conv, embedding, recurrent', () => {
  const dense = computeFans(t([784, 128]), { className: 'Dense' });
  assert.deepEqual([dense.initFanIn, dense.initFanOut, dense.signalFanIn, dense.signalFanOut, dense.rule], [784, 128, 784, 128, 'dense']);
  const conv = computeFans(t([3, 3, 16, 32]), { className: 'Conv2D' });
  assert.deepEqual([conv.initFanIn, conv.initFanOut, conv.signalFanIn, conv.signalFanOut, conv.rule], [144, 288, 144, 288, 'conv']);
  // Depthwise [kh, kw, C, M]: the initializer sees C*kh*kw; one output sees kh*kw inputs.
  const dw = computeFans(t([3, 3, 64, 1], 'depthwise_kernel'), { className: 'DepthwiseConv2D' });
  assert.deepEqual([dw.initFanIn, dw.initFanOut, dw.signalFanIn, dw.signalFanOut, dw.rule], [576, 9, 9, 9, 'depthwise']);
  // Conv2DTranspose kernel [kh, kw, filters, in_channels]: Keras's rule reads it backwards.
  const tr = computeFans(t([3, 3, 8, 16]), { className: 'Conv2DTranspose' });
  assert.deepEqual([tr.initFanIn, tr.initFanOut, tr.signalFanIn, tr.signalFanOut], [72, 144, 144, 72]);
  const emb = computeFans(t([1000, 32], 'embeddings'), { className: 'Embedding' });
  assert.deepEqual([emb.initFanIn, emb.initFanOut, emb.signalFanIn, emb.signalFanOut], [1000, 32, 1, 1]);
  const rec = computeFans(t([32, 128], 'recurrent_kernel'), { className: 'LSTM' });
  assert.deepEqual([rec.initFanIn, rec.initFanOut, rec.signalFanIn, rec.signalFanOut, rec.rule], [32, 128, 32, 128, 'recurrent']);
});

test('attention projections (EinsumDense kernels)', () => {
  const q = computeFans(t([64, 4, 16]), { className: 'MultiHeadAttention' });
  assert.deepEqual([q.initFanIn, q.initFanOut, q.signalFanIn, q.signalFanOut, q.rule], [256, 1024, 64, 64, 'attention-projection']);
  const o = computeFans(t([4, 16, 64]), { className: 'MultiHeadAttention' });
  assert.deepEqual([o.initFanIn, o.initFanOut, o.signalFanIn, o.signalFanOut, o.rule], [64, 256, 64, 64, 'attention-output']);
  // Without a class a rank-3 kernel is a Conv1D.
  assert.equal(computeFans(t([5, 24, 40])).rule, 'conv');
});

test('TFLite layouts: FULLY_CONNECTED [out, in], CONV_2D OHWI, DEPTHWISE [1, kh, kw, C*M]', () => {
  const fc = computeFans(t([10, 64]), undefined, 'tflite');
  assert.deepEqual(fc.kerasShape, [64, 10]);
  assert.deepEqual([fc.initFanIn, fc.initFanOut], [64, 10]);
  const conv = computeFans(t([8, 3, 3, 4]), undefined, 'tflite');
  assert.deepEqual(conv.kerasShape, [3, 3, 4, 8]);
  assert.deepEqual([conv.initFanIn, conv.initFanOut], [36, 72]);
  const dw = computeFans(t([1, 3, 3, 64], 'depthwise_kernel'), undefined, 'tflite');
  assert.deepEqual(dw.kerasShape, [3, 3, 64, 1]);
  assert.deepEqual([dw.signalFanIn, dw.signalFanOut], [9, 9]);
});
