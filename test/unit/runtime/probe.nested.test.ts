import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { probeModel } from '../../../src/runtime/probe';
import { probeFile } from '../../../src/runtime/probeReport';
import { fixtureOrSkip } from '../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;

before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

test('the probe measures the Teachable Machine export, a Sequential of two nested Sequentials (one holding a MobileNet Functional), one row per nested model', async (t) => {
  const file = fixtureOrSkip(t, 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5');
  if (!file) {
    return;
  }
  // batch 1 keeps the CPU backward pass through the MobileNet short
  const r = await probeFile(file, { backend: 'cpu', batchSize: 1 });
  // model_weights/layer_names, and the L2 norm of each one's trainable weights (every dataset but
  // BatchNormalization's moving_mean/moving_variance), read with h5py
  const want: [string, number][] = [
    ['sequential_1', 381.8711697197435],
    ['sequential_3', 9.602490020765673],
  ];
  assert.deepEqual(r.probe.layers.map((l) => [l.layer, l.className, l.hasWeights]), want.map(([name]) => [name, 'Sequential', true]));
  for (const [name, weightNorm] of want) {
    const l = r.probe.layers.find((x) => x.layer === name)!;
    assert.ok(l.gradNorm !== null && Number.isFinite(l.gradNorm) && l.gradNorm > 0, `${name}: gradient norm ${l.gradNorm}`);
    assert.ok(Math.abs(l.weightNorm! - weightNorm) / weightNorm < 1e-5, `${name}: weight norm ${l.weightNorm} vs ${weightNorm}`);
    assert.ok(!l.nonFiniteActivation && !l.nonFiniteGradient && !l.nonFiniteWeight, name);
  }
  // the output is the nested dense_Dense2's softmax over 2 classes
  assert.equal(r.probe.lossName, 'categoricalCrossentropy');
  assert.equal(r.probe.lossSource, 'output activation');
  assert.ok(r.probe.loss !== null && Number.isFinite(r.probe.loss));
  assert.equal(r.probe.firstNonFiniteLayer, undefined);
});

/** Dense a (4 -> 3, relu), b (3 -> 3, tanh) and c (3 -> 2, linear); seeded weights. */
function dense(name: 'a' | 'b' | 'c', inputShape?: number[]) {
  const [units, activation, seed] = ({ a: [3, 'relu', 1], b: [3, 'tanh', 2], c: [2, 'linear', 3] } as const)[name];
  return tfl.layers.dense({
    ...(inputShape ? { inputShape } : {}),
    units,
    activation,
    name,
    kernelInitializer: tfl.initializers.glorotNormal({ seed }),
    biasInitializer: tfl.initializers.randomNormal({ stddev: 0.5, seed: seed + 10 }),
  });
}

/** The chain a -> b -> c with a and b inside a nested model 'inner', built three ways. */
const nestings: Record<string, () => LayersModel> = {
  'Sequential inside Functional': () => {
    const input = tfl.input({ shape: [4] });
    const inner = tfl.sequential({ layers: [dense('a', [4]), dense('b')], name: 'inner' });
    return tfl.model({ inputs: input, outputs: dense('c').apply(inner.apply(input)) as ReturnType<Tfl['input']> });
  },
  'Functional first in a Sequential': () => {
    const input = tfl.input({ shape: [4] });
    const inner = tfl.model({ inputs: input, outputs: dense('b').apply(dense('a').apply(input)) as ReturnType<Tfl['input']>, name: 'inner' });
    return tfl.sequential({ layers: [inner, dense('c')] });
  },
  'Functional after an InputLayer in a Sequential': () => {
    const input = tfl.input({ shape: [4] });
    const inner = tfl.model({ inputs: input, outputs: dense('b').apply(dense('a').apply(input)) as ReturnType<Tfl['input']>, name: 'inner' });
    return tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [4] }), inner, dense('c')] });
  },
};

/** Float64 forward pass of the chain a -> b -> c on n samples; weights [aK, aB, bK, bB, cK, cB]. */
function forward(x: Float64Array, n: number, w: Float64Array[]): { hidden: Float64Array; out: Float64Array } {
  const layer = (input: Float64Array, k: Float64Array, b: Float64Array, fanIn: number, units: number, act: (v: number) => number) => {
    const out = new Float64Array(n * units);
    for (let s = 0; s < n; s++) {
      for (let u = 0; u < units; u++) {
        let v = b[u]!;
        for (let i = 0; i < fanIn; i++) {
          v += input[s * fanIn + i]! * k[i * units + u]!;
        }
        out[s * units + u] = act(v);
      }
    }
    return out;
  };
  const hidden = layer(layer(x, w[0]!, w[1]!, 4, 3, (v) => Math.max(0, v)), w[2]!, w[3]!, 3, 3, Math.tanh);
  return { hidden, out: layer(hidden, w[4]!, w[5]!, 3, 2, (v) => v) };
}

for (const [nesting, build] of Object.entries(nestings)) {
  test(`the probe measures a nested model as one layer: ${nesting}`, async () => {
    const m = build();
    const n = 6;
    const x = Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(1.3 * i + 0.5));
    const y = Float32Array.from({ length: n * 2 }, (_, i) => Math.cos(0.7 * i));
    const p = await probeModel(m, tf, tfl, { data: { x, xShape: [n, 4], y, yShape: [n, 2] } });
    assert.deepEqual(p.layers.map((l) => [l.layer, l.hasWeights]), [['inner', true], ['c', true]]);
    assert.equal(p.lossName, 'meanSquaredError');

    // reference: float64 forward pass, mean squared error, central differences per weight
    const weights = m.getWeights().map((v) => Float64Array.from(v.dataSync()));
    const x64 = Float64Array.from(x);
    const mse = (): number => forward(x64, n, weights).out.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / (n * 2);
    const gradSq = weights.map((w) => {
      let s = 0;
      for (let i = 0; i < w.length; i++) {
        const keep = w[i]!;
        w[i] = keep + 1e-6;
        const up = mse();
        w[i] = keep - 1e-6;
        const down = mse();
        w[i] = keep;
        s += ((up - down) / 2e-6) ** 2;
      }
      return s;
    });
    const wantGrad = [Math.sqrt(gradSq.slice(0, 4).reduce((a, b) => a + b)), Math.sqrt(gradSq[4]! + gradSq[5]!)];
    const hidden = forward(x64, n, weights).hidden;
    const hiddenMean = hidden.reduce((a, b) => a + b) / hidden.length;
    p.layers.forEach((l, i) => {
      assert.ok(Math.abs(l.gradNorm! - wantGrad[i]!) / wantGrad[i]! < 1e-3, `${l.layer}: probe ${l.gradNorm} vs finite differences ${wantGrad[i]}`);
    });
    assert.ok(Math.abs(p.layers[0]!.activationMean! - hiddenMean) < 1e-5, `inner output mean ${p.layers[0]!.activationMean} vs ${hiddenMean}`);
    m.dispose();
  });
}

test('the loss follows the activation of the last layer inside a nested output model', async () => {
  const input = tfl.input({ shape: [4] });
  const head = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 3, activation: 'softmax' })] });
  const m = tfl.model({ inputs: input, outputs: head.apply(dense('a').apply(input)) as ReturnType<Tfl['input']> });
  const p = await probeModel(m, tf, tfl, { batchSize: 4 });
  assert.equal(p.lossName, 'categoricalCrossentropy');
  assert.equal(p.lossSource, 'output activation');
  assert.ok(p.layers.every((l) => l.gradNorm !== null && Number.isFinite(l.gradNorm)), JSON.stringify(p.layers));
  m.dispose();
});
