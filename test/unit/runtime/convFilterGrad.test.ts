/**
 * Weightscope's Conv2DBackpropFilter kernel (src/runtime/convFilterGrad.ts) against TF.js's own CPU
 * kernel (an independent implementation, taken from the registry before initLayers replaces it) on
 * strides, paddings, rounding modes and shapes; and on the WebAssembly backend, where TF.js has
 * none: a convolutional network's gradients are computed there now.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../src/runtime/backend';
import { registerConvFilterGradKernels } from '../../../src/runtime/convFilterGrad';
import { ensureGradientBackend, probeModel } from '../../../src/runtime/probe';
import { assertSameGradNorms } from '../helpers/runtimeData';
import { registerSegmentSumKernels } from '../../../src/runtime/segmentSum';
import { registerWasmBridges } from '../../../src/runtime/wasmBridge';

// This file runs in its own process (node --test): the registry seen here is its own.
type KernelFunc = (args: { inputs: Record<string, unknown>; attrs: unknown; backend: unknown }) => { dataId: object; shape: number[] };
const original = tfc.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc as unknown as KernelFunc;
let tf: Tf;
let tfl: Tfl;
let wasm: BackendInfo;
before(async () => {
  ({ tf, tfl, info: wasm } = await initLayers({ preferred: 'wasm' }));
});

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    const v = s / 2 ** 32 - 0.5;
    return v < -0.3 ? 0 : v; // some zeros, as after a ReLU
  });
}

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const cases: Case[] = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 5], strides: [1, 1], pad: 'same' },
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 5], strides: [1, 1], pad: 'valid' },
  { x: [1, 9, 8, 2], filter: [3, 2, 2, 4], strides: [2, 2], pad: 'same' },
  { x: [3, 9, 8, 2], filter: [2, 3, 2, 4], strides: [2, 3], pad: 'valid' },
  { x: [1, 5, 5, 4], filter: [1, 1, 4, 6], strides: [1, 1], pad: 'valid' },
  { x: [2, 4, 3, 1], filter: [5, 5, 1, 2], strides: [1, 1], pad: 'same' },
  { x: [1, 8, 8, 2], filter: [3, 3, 2, 3], strides: [2, 2], pad: 1, dimRoundingMode: 'floor' },
  { x: [1, 8, 7, 2], filter: [3, 3, 2, 3], strides: [3, 2], pad: 2, dimRoundingMode: 'ceil' },
];

test('Conv2DBackpropFilter equals TF.js\'s own CPU kernel (float64 sums: within 1e-5 relative), on the CPU and WebAssembly backends', async () => {
  const backends = wasm.name === 'wasm' ? ['cpu', 'wasm'] : ['cpu'];
  for (const c of cases) {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.dimRoundingMode);
    const dyShape = [c.x[0], info.outHeight, info.outWidth, c.filter[3]];
    const xv = seeded(c.x.reduce((a, b) => a * b, 1), 3);
    const dyv = seeded(dyShape.reduce((a, b) => a * b, 1), 7);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode, filterShape: c.filter };
    await tf.setBackend('cpu');
    const cpu = tf.engine().findBackend('cpu') as unknown as { readSync(id: object): Float32Array };
    const [x, dy] = [tf.tensor4d(xv, c.x), tf.tensor(dyv, dyShape)];
    const expected = cpu.readSync(original({ inputs: { x, dy }, attrs, backend: cpu }).dataId);
    tf.dispose([x, dy]);
    for (const backend of backends) {
      await tf.setBackend(backend);
      const got = tf.tidy(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(xv, c.x), dy: tf.tensor(dyv, dyShape) }, attrs as never) as tfc.Tensor).dataSync();
      assert.equal(got.length, expected.length);
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-12);
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i]!)), 0);
      assert.ok(worst <= 1e-5 * scale, `${backend} ${JSON.stringify(c)}: largest difference ${worst} of ${scale}`);
    }
  }
  await tf.setBackend(wasm.name);
});

test('a convolutional network (with a depthwise convolution) computes its gradients on the WebAssembly backend, with the CPU backend\'s gradient norms', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'c1' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      // its gradients: depthwiseGrad.ts (depthwiseGrad.test.ts checks them against TF.js's own CPU kernels)
      tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: tfl.initializers.heNormal({ seed: 4 }), name: 'dw' }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 2 }), name: 'c2' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), name: 'out' }),
    ],
  });
  assert.deepEqual(await ensureGradientBackend(tf, wasm, m), wasm);
  const onWasm = await probeModel(m, tf, tfl, { batchSize: 4, seed: 5 });
  await tf.setBackend('cpu');
  const onCpu = await probeModel(m, tf, tfl, { batchSize: 4, seed: 5 });
  await tf.setBackend('wasm');
  assertSameGradNorms(onWasm, onCpu, ['c1', 'dw', 'c2', 'out'], { a: 'on WebAssembly', b: 'on the CPU backend' });
  m.dispose();
});

test('registering the kernels again (backend selection runs once per choice of backend) leaves the registered ones in place', () => {
  const names = ['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'DepthwiseConv2dNativeBackpropFilter'];
  const before = names.flatMap((n) => ['cpu', 'wasm'].map((b) => tf.getKernel(n, b)?.kernelFunc));
  registerConvFilterGradKernels(tf);
  registerSegmentSumKernels(tf);
  registerWasmBridges(tf);
  assert.deepEqual(names.flatMap((n) => ['cpu', 'wasm'].map((b) => tf.getKernel(n, b)?.kernelFunc)), before);
  assert.notEqual(tf.getKernel('Conv2DBackpropFilter', 'cpu')!.kernelFunc, original, 'the CPU backend\'s own kernel stays replaced');
});
