/**
 * Weightscope's depthwise-convolution gradient kernels (src/runtime/depthwiseGrad.ts) against
 * TF.js's own CPU kernels (an independent implementation, taken from the registry before initLayers
 * replaces them) on randomized shapes, strides, paddings, rounding modes and channel multipliers,
 * and against NumPy (scripts/reference-depthwise.py) on dilated convolutions, which TF.js's CPU
 * kernels do not handle; on the CPU and WebAssembly backends. And what they change: a depthwise
 * network's gradients on the WebAssembly backend equal those of TF.js's own CPU kernels.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../src/runtime/backend';
import { registerDepthwiseGradKernels } from '../../../src/runtime/depthwiseGrad';
import { ensureGradientBackend, probeModel } from '../../../src/runtime/probe';
import { assertSameGradNorms } from '../helpers/runtimeData';
import { registerWasmBridges } from '../../../src/runtime/wasmBridge';

// This file runs in its own process (node --test): the registry seen here is its own.
type KernelFunc = (args: { inputs: Record<string, unknown>; attrs: unknown; backend: unknown }) => { dataId: object; shape: number[] };
const kernelNames = ['DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const;
const original = Object.fromEntries(kernelNames.map((n) => [n, tfc.getKernel(n, 'cpu')!.kernelFunc as unknown as KernelFunc])) as Record<(typeof kernelNames)[number], KernelFunc>;
let tf: Tf;
let tfl: Tfl;
let wasm: BackendInfo;
before(async () => {
  ({ tf, tfl, info: wasm } = await initLayers({ preferred: 'wasm' }));
});

/** Numbers from a fixed seed: values in [-0.5, 0.5) with some zeros (as after a ReLU), or whole numbers in [0, n). */
function lcg(seed: number): (n?: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) >>> 0;
    const u = s / 2 ** 32;
    return n === undefined ? (u < 0.2 ? 0 : u - 0.5) : Math.floor(u * n);
  };
}

type Pad = 'valid' | 'same' | number | number[][];

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Random depthwise convolutions with dilation 1 (what TF.js's CPU kernels compute), each padding kind. */
function randomCases(count: number): Case[] {
  const r = lcg(11);
  const out: Case[] = [];
  while (out.length < count) {
    const [h, w, kh, kw] = [1 + r(9), 1 + r(9), 1 + r(4), 1 + r(4)];
    const c: Case = { x: [1 + r(3), h, w, 1 + r(5)], filter: [kh, kw, 0, 1 + r(3)], strides: [1 + r(3), 1 + r(3)], dilations: [1, 1], pad: 'same' };
    c.filter[2] = c.x[3];
    const kind = out.length % 4;
    if (kind === 1 && h >= kh && w >= kw) {
      c.pad = 'valid';
    } else if (kind === 2 && h + 2 >= kh && w + 2 >= kw) {
      c.pad = 1 + r(2);
      c.dimRoundingMode = (['floor', 'round', 'ceil'] as const)[r(3)];
    } else if (kind === 3 && h + 2 >= kh && w + 2 >= kw) {
      c.pad = [[0, 0], [r(2), 2 - r(2)], [r(3), 1], [0, 0]];
      if (h + (c.pad[1]![0]! + c.pad[1]![1]!) < kh || w + (c.pad[2]![0]! + c.pad[2]![1]!) < kw) {
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Both kernels' results for `c` on the current backend, from inputs x, dy and w. */
function gradients(c: Case, dyShape: number[], xv: ArrayLike<number>, dyv: ArrayLike<number>, wv: ArrayLike<number>): { dW: Float32Array; dx: Float32Array } {
  const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.dimRoundingMode };
  return tf.tidy(() => {
    const [x, dy, w] = [tf.tensor4d(Float32Array.from(xv), c.x), tf.tensor(Float32Array.from(dyv), dyShape), tf.tensor4d(Float32Array.from(wv), c.filter)];
    const dW = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: c.filter } as never) as tfc.Tensor;
    const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x } as never) as tfc.Tensor;
    return { dW: dW.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

function assertClose(got: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(got.length, expected.length, what);
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(expected[i]! - got[i]!));
  }
  assert.ok(worst <= 1e-5 * scale, `${what}: largest difference ${worst} of ${scale}`);
}

test('both depthwise gradient kernels equal TF.js\'s own CPU kernels (within 1e-5 relative) on 40 random convolutions, on the CPU and WebAssembly backends', async () => {
  const backends = wasm.name === 'wasm' ? ['cpu', 'wasm'] : ['cpu'];
  const kinds = new Set<string>();
  for (const [i, c] of randomCases(40).entries()) {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad as never, c.dimRoundingMode, true);
    const dyShape = [c.x[0], info.outHeight, info.outWidth, info.outChannels];
    const r = lcg(100 + i);
    const [xv, dyv, wv] = [c.x, dyShape, c.filter].map((s) => Float32Array.from({ length: size(s) }, () => r())) as [Float32Array, Float32Array, Float32Array];
    kinds.add(`${typeof c.pad === 'object' ? 'explicit' : typeof c.pad === 'number' ? c.dimRoundingMode : c.pad} multiplier ${c.filter[3]} stride ${Math.max(...c.strides)}`);
    const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, dimRoundingMode: c.dimRoundingMode };
    await tf.setBackend('cpu');
    const cpu = tf.engine().findBackend('cpu') as unknown as { readSync(id: object): Float32Array };
    const [x, dy, w] = [tf.tensor4d(xv, c.x), tf.tensor(dyv, dyShape), tf.tensor4d(wv, c.filter)];
    const dW = original.DepthwiseConv2dNativeBackpropFilter({ inputs: { x, dy }, attrs: { ...attrs, filterShape: c.filter }, backend: cpu });
    const dx = original.DepthwiseConv2dNativeBackpropInput({ inputs: { dy, filter: w }, attrs: { ...attrs, inputShape: c.x }, backend: cpu });
    const expected = { dW: cpu.readSync(dW.dataId), dx: cpu.readSync(dx.dataId) };
    tf.dispose([x, dy, w]);
    for (const backend of backends) {
      await tf.setBackend(backend);
      const got = gradients(c, dyShape, xv, dyv, wv);
      assertClose(got.dW, expected.dW, `dW ${backend} ${JSON.stringify(c)}`);
      assertClose(got.dx, expected.dx, `dx ${backend} ${JSON.stringify(c)}`);
    }
  }
  await tf.setBackend(wasm.name);
  assert.ok(kinds.size >= 20, `the random cases cover paddings, multipliers and strides: ${[...kinds].join('; ')}`);
});

interface Reference extends Case {
  dyShape: number[];
  dW: number[];
  dx: number[];
}

test('dilated and explicitly padded depthwise convolutions with channel multipliers: both gradients equal NumPy\'s (scripts/reference-depthwise.py), on the CPU and WebAssembly backends', async () => {
  const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'runtime', 'depthwiseGrad.reference.json'), 'utf8')) as Reference[];
  assert.ok(reference.some((c) => c.dilations.some((d) => d > 1)) && reference.some((c) => c.filter[3] > 1));
  const backends = wasm.name === 'wasm' ? ['cpu', 'wasm'] : ['cpu'];
  const seq = (shape: number[], f: (k: number) => number) => Float32Array.from({ length: size(shape) }, (_, k) => f(k));
  for (const c of reference) {
    const [xv, dyv, wv] = [seq(c.x, (k) => Math.sin(0.37 * k + 0.1)), seq(c.dyShape, (k) => Math.cos(0.23 * k + 0.2)), seq(c.filter, (k) => Math.sin(0.11 * k + 0.3))];
    for (const backend of backends) {
      await tf.setBackend(backend);
      const got = gradients(c, c.dyShape, xv, dyv, wv);
      assertClose(got.dW, c.dW, `dW ${backend} ${JSON.stringify(c.x)} ${JSON.stringify(c.filter)}`);
      assertClose(got.dx, c.dx, `dx ${backend} ${JSON.stringify(c.x)} ${JSON.stringify(c.filter)}`);
    }
  }
  await tf.setBackend(wasm.name);
});

test('a call these kernels leave alone (int32 data) goes to the kernel registered before: TF.js\'s own on the CPU backend, and on the WebAssembly backend, which has none, a clear error', async () => {
  const attrs = { strides: 1, dilations: 1, pad: 'same', filterShape: [2, 2, 1, 1] };
  await tf.setBackend('cpu');
  const inputs = () => ({ x: tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1], 'int32'), dy: tf.tensor4d([1, 0, 2, 1], [1, 2, 2, 1], 'int32') });
  const got = tf.tidy(() => Array.from((tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', inputs(), attrs as never) as tfc.Tensor).dataSync()));
  // dW[kh, kw] = sum over positions of x[oy + kh, ox + kw] * dy[oy, ox] ('same' pads bottom and right)
  assert.deepEqual(got, [1 * 1 + 3 * 2 + 4 * 1 + 2 * 0, 2 * 1 + 4 * 2, 3 * 1 + 4 * 0, 4 * 1]);
  if (wasm.name === 'wasm') {
    await tf.setBackend('wasm');
    assert.throws(() => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', inputs(), attrs as never)), /Kernel 'DepthwiseConv2dNativeBackpropFilter' not registered for backend 'wasm' \(data other than float32\)/);
  }
  await tf.setBackend(wasm.name);
});

test('a depthwise network (DepthwiseConv2D with a channel multiplier, SeparableConv2D) computes its gradients on the WebAssembly backend, with the gradient norms of TF.js\'s own CPU kernels', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'c1' }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', depthwiseInitializer: tfl.initializers.heNormal({ seed: 2 }), name: 'dw' }),
      tfl.layers.separableConv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', depthwiseInitializer: tfl.initializers.heNormal({ seed: 3 }), pointwiseInitializer: tfl.initializers.heNormal({ seed: 4 }), name: 'sep' }),
      tfl.layers.depthwiseConv2d({ kernelSize: 2, padding: 'valid', activation: 'relu', depthwiseInitializer: tfl.initializers.heNormal({ seed: 5 }), name: 'dw2' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }), name: 'out' }),
    ],
  });
  assert.deepEqual(await ensureGradientBackend(tf, wasm, m), wasm);
  const onWasm = await probeModel(m, tf, tfl, { batchSize: 4, seed: 7 });
  // the CPU backend with TF.js's own depthwise kernels back in place for this one probe
  const ours = kernelNames.map((n) => tf.getKernel(n, 'cpu')!);
  const swap = (configs: { kernelName: string; kernelFunc: unknown }[]) => {
    for (const k of configs) {
      tf.unregisterKernel(k.kernelName, 'cpu');
      tf.registerKernel({ kernelName: k.kernelName, backendName: 'cpu', kernelFunc: k.kernelFunc as never });
    }
  };
  await tf.setBackend('cpu');
  swap(kernelNames.map((n) => ({ kernelName: n, kernelFunc: original[n] })));
  try {
    const onCpu = await probeModel(m, tf, tfl, { batchSize: 4, seed: 7 });
    assertSameGradNorms(onWasm, onCpu, ['c1', 'dw', 'sep', 'dw2', 'out'], { a: 'on WebAssembly', b: "with TF.js's CPU kernels" });
  } finally {
    swap(ours);
    await tf.setBackend('wasm');
    m.dispose();
  }
});

test('registering the kernels again (backend selection runs once per choice of backend) leaves the registered ones in place, and the WebAssembly bridge leaves them alone', () => {
  const registered = () => kernelNames.flatMap((n) => ['cpu', 'wasm'].map((b) => tf.getKernel(n, b)?.kernelFunc));
  const before = registered();
  registerDepthwiseGradKernels(tf);
  registerWasmBridges(tf);
  assert.deepEqual(registered(), before);
  for (const n of kernelNames) {
    assert.notEqual(tf.getKernel(n, 'cpu')!.kernelFunc, original[n], `the CPU backend's own ${n} stays replaced`);
  }
});
