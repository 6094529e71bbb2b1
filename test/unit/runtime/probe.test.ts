import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { gradientDiagnostics } from '../../../src/runtime/gradientRules';
import { activationsPerSample, macsPerSample, probeModel, syntheticBatch } from '../../../src/runtime/probe';
import { openDimSize } from '../../../src/runtime/modelBuilder';

let tf: Tf;
let tfl: Tfl;

before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' })); // CPU: deterministic
});

type Init = (seed: number) => ReturnType<Tfl['initializers']['zeros']>;

/** depth Dense layers of `width` units (the last a 10-way softmax) on 32 inputs. */
function deepNet(depth: number, width: number, activation: 'sigmoid' | 'relu', init: Init): LayersModel {
  const m = tfl.sequential();
  for (let i = 0; i < depth - 1; i++) {
    m.add(tfl.layers.dense({ ...(i === 0 ? { inputShape: [32] } : {}), units: width, activation, kernelInitializer: init(i + 1), name: `d${i}` }));
  }
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(99), name: 'out' }));
  return m;
}

const codes = (m: LayersModel, lr = 0.01) =>
  probeModel(m, tf, tfl, { learningRate: lr, batchSize: 64 }).then((p) => ({ p, d: gradientDiagnostics(p), c: gradientDiagnostics(p).map((x) => x.code) }));

test('a 10-layer sigmoid net with U(-0.01, 0.01) weights is flagged vanishing', async () => {
  const { p, d, c } = await codes(deepNet(10, 32, 'sigmoid', (s) => tfl.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: s })));
  assert.ok(c.includes('gradient-vanishing'), JSON.stringify(d));
  assert.ok(!c.includes('gradient-exploding'));
  const v = d.find((x) => x.code === 'gradient-vanishing')!;
  assert.equal(v.layer, 'd0');
  assert.ok((v.evidence['firstToLastRatio'] as number) < 1e-3, JSON.stringify(v.evidence));
  // gradient norms decrease monotonically from the output toward the input
  const g = p.layers.map((l) => l.gradNorm!);
  for (let i = 1; i < g.length; i++) {assert.ok(g[i - 1]! < g[i]!, `layer ${i}: ${g.join(', ')}`);}
});

test('a deep ReLU net with N(0, 1) weights is flagged exploding', async () => {
  const { d, c } = await codes(deepNet(10, 32, 'relu', (s) => tfl.initializers.randomNormal({ mean: 0, stddev: 1, seed: s })));
  assert.ok(c.includes('gradient-exploding'), JSON.stringify(d));
  assert.ok(!c.includes('gradient-vanishing'));
  const e = d.find((x) => x.code === 'gradient-exploding')!;
  assert.ok((e.evidence['activationGrowthPerLayer'] as number) > 2, JSON.stringify(e.evidence));
});

test('a He-initialized ReLU net is not flagged', async () => {
  const { p, c } = await codes(deepNet(10, 32, 'relu', (s) => tfl.initializers.heNormal({ seed: s })));
  assert.deepEqual(c.filter((x) => x.startsWith('gradient-')), []);
  assert.equal(p.firstNonFiniteLayer, undefined);
  assert.ok(p.layers.every((l) => l.gradNorm !== null && l.gradNorm > 0));
});

test('a NaN injected into one weight names the layer where non-finite values start', async () => {
  const m = deepNet(6, 16, 'relu', (s) => tfl.initializers.heNormal({ seed: s }));
  const target = m.getLayer('d3');
  const [kernel, bias] = target.getWeights();
  const values = kernel!.dataSync().slice();
  values[5] = NaN;
  target.setWeights([tf.tensor(values, kernel!.shape), bias!]);
  const p = await probeModel(m, tf, tfl, { batchSize: 8 });
  assert.equal(p.firstNonFiniteLayer, 'd3');
  assert.equal(p.layers.find((l) => l.layer === 'd2')!.nonFiniteActivation, false);
  const d = gradientDiagnostics(p);
  assert.equal(d[0]!.code, 'gradient-non-finite');
  assert.equal(d[0]!.layer, 'd3');
  assert.equal(d[0]!.severity, 'error');
  assert.match(d[0]!.message, /'d3' \(its weights\)/);
});

test('dead ReLU and saturation fractions are measured', async () => {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: 'heNormal', biasInitializer: tfl.initializers.constant({ value: -100 }), name: 'dead' }));
  m.add(tfl.layers.dense({ units: 8, activation: 'sigmoid', kernelInitializer: 'zeros', biasInitializer: tfl.initializers.constant({ value: 10 }), name: 'sat' }));
  m.add(tfl.layers.dense({ units: 1, name: 'out' }));
  const p = await probeModel(m, tf, tfl, { batchSize: 16 });
  assert.equal(p.layers[0]!.deadReluFraction, 1);
  assert.equal(p.layers[1]!.saturatedFraction, 1);
  assert.equal(p.lossName, 'meanSquaredError');
  const c = gradientDiagnostics(p).map((x) => x.code);
  assert.ok(c.includes('activation-dead-relu') && c.includes('activation-saturated'), c.join());
  // On a batch of 1 a live unit is 0 for "the whole batch" half the time: no dead-ReLU verdict then.
  const one = await probeModel(m, tf, tfl, { batchSize: 1 });
  assert.equal(one.layers[0]!.deadReluFraction, 1);
  assert.ok(!gradientDiagnostics(one).some((x) => x.code === 'activation-dead-relu'));
});

/**
 * Independent float64 reference: forward pass of Dense(tanh) -> Dense(linear) with MSE written out
 * by hand, and central finite differences of the loss for every weight.
 */
function referenceGradNorms(x: Float64Array, y: Float64Array, n: number, weights: Float64Array[], dims: [number, number, number]): number[] {
  const [din, dh, dout] = dims;
  const loss = (w: Float64Array[]): number => {
    const [k1, b1, k2, b2] = w as [Float64Array, Float64Array, Float64Array, Float64Array];
    let total = 0;
    for (let s = 0; s < n; s++) {
      const h = new Float64Array(dh);
      for (let j = 0; j < dh; j++) {
        let z = b1[j]!;
        for (let i = 0; i < din; i++) {z += x[s * din + i]! * k1[i * dh + j]!;}
        h[j] = Math.tanh(z);
      }
      for (let o = 0; o < dout; o++) {
        let z = b2[o]!;
        for (let j = 0; j < dh; j++) {z += h[j]! * k2[j * dout + o]!;}
        total += (z - y[s * dout + o]!) ** 2;
      }
    }
    return total / (n * dout);
  };
  const eps = 1e-6;
  const sq = weights.map((w) => {
    let s = 0;
    for (let i = 0; i < w.length; i++) {
      const keep = w[i]!;
      w[i] = keep + eps;
      const up = loss(weights);
      w[i] = keep - eps;
      const down = loss(weights);
      w[i] = keep;
      s += ((up - down) / (2 * eps)) ** 2;
    }
    return s;
  });
  return [Math.sqrt(sq[0]! + sq[1]!), Math.sqrt(sq[2]! + sq[3]!)];
}

test('probe gradient norms agree with finite differences on a tiny model', async () => {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [3], units: 4, activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }), biasInitializer: tfl.initializers.randomNormal({ seed: 4, stddev: 0.1 }), name: 'h' }));
  m.add(tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotNormal({ seed: 5 }), name: 'o' }));
  const n = 5;
  const x = Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i + 1));
  const y = Float32Array.from({ length: n * 2 }, (_, i) => Math.cos(2 * i));
  const p = await probeModel(m, tf, tfl, { data: { x, xShape: [n, 3], y, yShape: [n, 2] } });
  const weights = m.getWeights().map((w) => Float64Array.from(w.dataSync()));
  const ref = referenceGradNorms(Float64Array.from(x), Float64Array.from(y), n, weights, [3, 4, 2]);
  assert.equal(p.inputSource, 'data');
  for (let i = 0; i < 2; i++) {
    const got = p.layers[i]!.gradNorm!;
    assert.ok(Math.abs(got - ref[i]!) / ref[i]! < 1e-4, `layer ${i}: probe ${got} vs finite differences ${ref[i]}`);
  }
  const wn = Math.sqrt([...weights[0]!, ...weights[1]!].reduce((s, v) => s + v * v, 0));
  assert.ok(Math.abs(p.layers[0]!.weightNorm! - wn) / wn < 1e-6);
});

test('the default synthetic batch: 32, or on the CPU backend as many samples as its budget of multiply-adds allows (at least 1)', () => {
  // conv 3x3x3 -> 8 'same' on 16x16 (224 parameters at 256 positions), Dense 2048 -> 10 (20,490 at one position)
  const small = tfl.sequential({
    layers: [tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, padding: 'same' }), tfl.layers.flatten(), tfl.layers.dense({ units: 10 })],
  });
  assert.equal(macsPerSample(small), 224 * 256 + 20_490);
  // conv 3x3x64 -> 128 'same' on 112x112 (73,856 parameters at 12,544 positions) inside a nested model
  const inner = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [112, 112, 64], filters: 128, kernelSize: 3, padding: 'same' })] });
  const input = tfl.input({ shape: [112, 112, 64] });
  const big = tfl.model({ inputs: input, outputs: tfl.layers.globalAveragePooling2d({}).apply(inner.apply(input)) as never });
  assert.equal(macsPerSample(big), 926_449_664); // 73,856 x 12,544
  assert.deepEqual(syntheticBatch(small, 'cpu'), { size: 32 });
  assert.deepEqual(syntheticBatch(big, 'wasm'), { size: 32 });
  assert.deepEqual(syntheticBatch(big, 'tensorflow'), { size: 32 });
  // 926 million multiply-adds per sample: one sample is already beyond the CPU backend's budget
  assert.deepEqual(syntheticBatch(big, 'cpu'), { size: 1, reduced: '1 instead of 32: about 926 million multiply-adds per sample on the CPU backend' });
  // 21.3 million per sample (a 3x3x32 -> 32 conv on 48x48: 9,248 parameters at 2,304 positions): 6e8 / 21,307,392 = 28.2
  const mid = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [48, 48, 32], filters: 32, kernelSize: 3, padding: 'same' })] });
  assert.equal(macsPerSample(mid), 21_307_392);
  assert.deepEqual(syntheticBatch(mid, 'cpu'), { size: 28, reduced: '28 instead of 32: about 21.3 million multiply-adds per sample on the CPU backend' });
  mid.dispose();
  small.dispose();
  big.dispose();
  // An Embedding of 100,000 x 64 on 32 positions looks up 32 rows of 64 (2,048), then Dense 2048 -> 10 (20,490)
  const embedded = tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 100_000, outputDim: 64, inputLength: 32 }), tfl.layers.flatten(), tfl.layers.dense({ units: 10 })] });
  assert.equal(macsPerSample(embedded), 32 * 64 + 20_490);
  assert.deepEqual(syntheticBatch(embedded, 'cpu'), { size: 32 });
  embedded.dispose();
});

test('the default synthetic batch on the WebAssembly backend: as many samples as its memory holds (16 bytes per output value, 2.5 GiB)', () => {
  // input 224x224x32 (1,605,632 values), conv 'same' -> 128 (6,422,528), global pooling (128): 8,028,288 values per sample
  const input = tfl.input({ shape: [224, 224, 32] });
  const conv = tfl.layers.conv2d({ filters: 128, kernelSize: 3, padding: 'same' }).apply(input);
  const wide = tfl.model({ inputs: input, outputs: tfl.layers.globalAveragePooling2d({}).apply(conv) as never });
  assert.equal(activationsPerSample(wide), 1_605_632 + 6_422_528 + 128);
  // 2.5 GiB / (8,028,288 x 16 bytes = 122.5 MiB) = 20.9 samples
  assert.deepEqual(syntheticBatch(wide, 'wasm'), {
    size: 20,
    reduced: '20 instead of 32: about 123 MiB per sample for the layers\' outputs and gradients, and the WebAssembly backend has at most 4 GiB',
  });
  assert.deepEqual(syntheticBatch(wide, 'tensorflow'), { size: 32 }, 'tfjs-node has no such limit');
  wide.dispose();
});

test('a second output head, off the path of the loss (taken on the first output), gets no gradient and no verdict', async () => {
  const input = tfl.input({ shape: [8] });
  const hidden = tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'd1' }).apply(input);
  const o1 = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'o1' }).apply(hidden);
  const o2 = tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), name: 'o2' }).apply(hidden);
  const m = tfl.model({ inputs: input, outputs: [o1 as never, o2 as never] });
  const { p, d } = await codes(m);
  const byName = new Map(p.layers.map((l) => [l.layer, l]));
  assert.equal(byName.get('o2')!.offLossPath, true);
  assert.equal(byName.get('o2')!.gradNorm, null);
  for (const name of ['d1', 'o1']) {
    assert.equal(byName.get(name)!.offLossPath, undefined, name);
    assert.ok(byName.get(name)!.gradNorm! > 0, name);
  }
  assert.deepEqual(d.filter((x) => x.code.startsWith('gradient-')), [], JSON.stringify(d));
  m.dispose();
});

test('a vanishing verdict from the first update ratio alone says so, not that gradients shrink toward the input', () => {
  const layer = (name: string, depth: number, gradNorm: number, weightNorm: number) => ({
    layer: name, className: 'Dense', activation: 'relu', depth, hasWeights: true, gradNorm, weightNorm, gradWeightRatio: gradNorm / weightNorm,
    activationMean: 0.5, activationStd: 1, nonFiniteActivation: false, nonFiniteGradient: false, nonFiniteWeight: false,
  });
  // Gradients grow toward the input (2x), but lr * g/w of the first layer is 1e-6 * 0.054 = 5.4e-8 < 1e-7.
  const probe = {
    loss: 1, lossName: 'categoricalCrossentropy', lossSource: 'output activation', batchSize: 32, inputSource: 'normal', inputStd: 1, learningRate: 1e-6,
    layers: [layer('dense', 0, 0.54, 10), layer('dense_1', 1, 0.4, 10), layer('dense_2', 2, 0.27, 10)],
  } as unknown as Parameters<typeof gradientDiagnostics>[0];
  const v = gradientDiagnostics(probe).filter((x) => x.code === 'gradient-vanishing');
  assert.equal(v.length, 1);
  assert.equal(v[0]!.message, "The first layer barely learns: one SGD step at lr=0.000001 would change layer 'dense' by only 5.40e-8x its own norm (below 1.00e-7).");
});

test('a fully convolutional network (open height and width) is probed on inputs of the open size, its targets shaped like its output', async () => {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [null, null, 3] as unknown as number[], filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'c1' }));
  m.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'valid', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'c2' }));
  const p = await probeModel(m, tf, tfl, { batchSize: 4 });
  assert.deepEqual(p.openInputShape, [openDimSize, openDimSize, 3]);
  assert.deepEqual(p.layers.map((l) => l.layer), ['c1', 'c2']);
  for (const l of p.layers) {
    assert.ok(l.gradNorm !== null && l.gradNorm > 0, `${l.layer}: gradient norm ${String(l.gradNorm)}`);
  }
  // A model without open dimensions says nothing of them.
  const dense = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 1 })] });
  assert.equal((await probeModel(dense, tf, tfl, { batchSize: 4 })).openInputShape, undefined);
});

/** A signal that reads as aborted from its `after`-th check on (so a cancel lands mid-probe). */
function abortsAfter(after: number): AbortSignal {
  let checks = 0;
  return { get aborted() { return ++checks >= after; } } as unknown as AbortSignal;
}

test('a probe cancelled between layers leaves no tensors behind', async () => {
  const m = deepNet(6, 16, 'relu', (s) => tfl.initializers.heNormal({ seed: s }));
  await probeModel(m, tf, tfl, { batchSize: 8 }); // warm-up: lazily made tensors are not the probe's
  const before = tf.memory().numTensors;
  await assert.rejects(probeModel(m, tf, tfl, { batchSize: 8, signal: abortsAfter(4) }), /cancelled/);
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});

test('a probe whose gradient pass throws leaves no tensors behind (not the tape of its forward pass either)', async () => {
  const m = deepNet(4, 8, 'relu', (s) => tfl.initializers.heNormal({ seed: s }));
  const x = Float32Array.from({ length: 8 * 32 }, (_, i) => Math.sin(0.7 * i));
  await probeModel(m, tf, tfl, { loss: 'meanSquaredError', data: { x, xShape: [8, 32], y: new Float32Array(8 * 10), yShape: [8, 10] } }); // warm-up
  const before = tf.memory().numTensors;
  // targets of 9 values per sample against 10 outputs: the loss cannot be taken, after the forward pass ran
  await assert.rejects(probeModel(m, tf, tfl, { loss: 'meanSquaredError', data: { x, xShape: [8, 32], y: new Float32Array(8 * 9), yShape: [8, 9] } }), /could not be broadcast/);
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});
