/**
 * The signal forecast: activation constants against NumPy Gauss-Hermite quadrature
 * (signalPropagation.reference.json from scripts/reference-signal.py) and the closed-form ones;
 * gains and cumulative products on small models worked out by hand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiagnostics } from '../../../src/analysis/diagnostics/diagnostic';
import { activationConstants, foldedNormalizationOf, forecastSignal } from '../../../src/analysis/signalPropagation';
import { repoRoot } from '../helpers/fixtures';
import { buildModel, statsOf } from './diagnostics/modelBuilder';

const ref = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'signalPropagation.reference.json'), 'utf8')) as {
  constants: Record<string, { forward: number; backward: number }>;
};

test('activation constants match NumPy quadrature and the closed forms', () => {
  for (const [name, c] of Object.entries(ref.constants)) {
    const k = activationConstants(name);
    assert.ok(Math.abs(k.forward - c.forward) < 1e-3 * c.forward, `${name} forward ${k.forward} vs ${c.forward}`);
    assert.ok(Math.abs(k.backward - c.backward) < 1e-3 * c.backward, `${name} backward ${k.backward} vs ${c.backward}`);
  }
  assert.deepEqual([activationConstants('relu').forward, activationConstants('linear').forward, activationConstants('tanh').forward], [0.5, 1, 1]);
  assert.equal(activationConstants('sigmoid').forward, 1 / 16);
  assert.equal(activationConstants('sigmoid').meanShift, 0.5);
  assert.equal(activationConstants('LeakyReLU', 0.3).forward, (1 + 0.09) / 2);
  assert.equal(activationConstants('leaky_relu').backward, (1 + 0.04) / 2);
  assert.equal(activationConstants('silu').forward, activationConstants('swish').forward);
  assert.equal(activationConstants('mystery').basis, 'unknown');
  // Closed form: E[elu'(z)^2] = 1/2 + e^2 Phi(-2).
  assert.ok(Math.abs(activationConstants('elu').backward - (0.5 + Math.E ** 2 * 0.022750131948179195)) < 1e-9);
  // E[selu'(z)^2] = lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) (jump at 0).
  const lambda = 1.0507009873554805;
  const alpha = 1.6732632423543772;
  assert.ok(Math.abs(activationConstants('selu').backward - lambda ** 2 * (0.5 + alpha ** 2 * Math.E ** 2 * 0.022750131948179195)) < 1e-9);
});

/** A matrix whose values are +-s in a fixed pattern: E[w^2] = s^2 exactly. */
function pm(n: number, s: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? s : -s));
}

test('gains and cumulative products through Dense, Activation and BatchNormalization layers', async () => {
  const s1 = Math.fround(0.1);
  const s2 = Math.fround(0.05);
  const file = buildModel([
    { name: 'd1', className: 'Dense', activation: 'linear', weights: [{ weight: 'kernel', shape: [100, 50], values: pm(5000, s1) }] },
    { name: 'act', className: 'Activation', activation: 'relu', weights: [] },
    { name: 'bn', className: 'BatchNormalization', weights: [{ weight: 'gamma', shape: [50], values: new Float32Array(50).fill(2) }] },
    { name: 'd2', className: 'Dense', activation: 'tanh', weights: [{ weight: 'kernel', shape: [50, 10], values: pm(500, s2) }] },
  ]);
  const f = forecastSignal(file, await statsOf(file));
  assert.deepEqual(f.layers.map((l) => [l.name, l.kind]), [['d1', 'weights'], ['act', 'activation'], ['bn', 'normalization'], ['d2', 'weights']]);
  const [d1, act, bn, d2] = f.layers as [typeof f.layers[0], typeof f.layers[0], typeof f.layers[0], typeof f.layers[0]];
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.abs(b), `${what}: ${a} vs ${b}`);
  close(d1.forwardGain, 100 * s1 * s1, 'd1 forward');
  close(d1.backwardGain, 50 * s1 * s1, 'd1 backward');
  close(act.forwardGain, 0.5, 'relu');
  close(act.cumulativeForward, 100 * s1 * s1 * 0.5, 'after relu');
  // BatchNormalization resets the scale to E[gamma^2] = 4.
  close(bn.cumulativeForward, 4, 'after bn');
  close(bn.forwardGain, 4 / (100 * s1 * s1 * 0.5), 'bn gain');
  close(d2.forwardGain, 50 * s2 * s2 * 1, 'd2 forward (tanh small-signal 1)');
  close(d2.cumulativeForward, 4 * 50 * s2 * s2, 'output');
  // Backward: gradient at each layer's pre-activation = c'(own) x product of later backward gains.
  close(d2.cumulativeBackward, 1, 'd2 backward');
  close(bn.cumulativeBackward, d2.backwardGain, 'bn backward');
  close(act.cumulativeBackward, 0.5 * bn.backwardGain * d2.backwardGain, 'act backward');
  close(d1.cumulativeBackward, 1 * act.backwardGain * bn.backwardGain * d2.backwardGain, 'd1 backward');
  assert.deepEqual(f.skipped, []);
});

test('layers without statistics are skipped with a reason; without architecture activations are unknown', async () => {
  const file = buildModel([
    { name: 'a', weights: [{ weight: 'kernel', shape: [4, 4], values: pm(16, 0.5) }] },
    { name: 'b', weights: [{ weight: 'kernel', shape: [4, 4], values: pm(16, 0.5) }] },
  ]);
  const stats = await statsOf(file);
  stats.delete('b/kernel');
  const f = forecastSignal(file, stats);
  assert.deepEqual(f.layers.map((l) => [l.name, l.activation]), [['a', 'unknown']]);
  assert.deepEqual(f.skipped, [{ name: 'b', reason: 'no statistics for its kernel' }]);
});

test("the output layer's sigmoid counts as linear backwards (it cancels against cross-entropy)", async () => {
  const file = buildModel([
    { name: 'h', className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [16, 8], values: pm(128, 0.25) }] },
    { name: 'out', className: 'Dense', activation: 'sigmoid', weights: [{ weight: 'kernel', shape: [8, 1], values: pm(8, 0.5) }] },
  ]);
  const f = forecastSignal(file, await statsOf(file));
  const [h, out] = f.layers as [typeof f.layers[0], typeof f.layers[0]];
  assert.equal(out.cPrime, 1);
  assert.equal(out.cumulativeBackward, 1);
  assert.ok(Math.abs(out.backwardGain - 1 * 0.25) < 1e-7, String(out.backwardGain));
  assert.ok(Math.abs(out.forwardGain - (8 * 0.25) / 16) < 1e-7, 'forward keeps the sigmoid slope 1/16');
  assert.ok(Math.abs(h.cumulativeBackward - 0.5 * 0.25) < 1e-7);
});

test('an embedding lookup starts the chain: token ids have no scale, so a default Embedding does not make the forecast vanish', async () => {
  // Default Embedding initializer U(-0.05, 0.05): E[e^2] = 0.05^2 / 3 = 8.3e-4.
  const e = Math.fround(0.05 / Math.sqrt(3));
  const s = Math.fround(Math.sqrt(1 / 20));
  const file = buildModel([
    { name: 'emb', className: 'Embedding', weights: [{ weight: 'embeddings', shape: [100, 20], values: pm(2000, e) }] },
    { name: 'd', className: 'Dense', activation: 'tanh', weights: [{ weight: 'kernel', shape: [20, 10], values: pm(200, s) }] },
    { name: 'out', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [10, 3], values: pm(30, s) }] },
  ]);
  const stats = await statsOf(file);
  const f = forecastSignal(file, stats);
  const [emb, d, out] = f.layers as [typeof f.layers[0], typeof f.layers[0], typeof f.layers[0]];
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.abs(b), `${what}: ${a} vs ${b}`);
  assert.equal(emb.startsChain, true);
  close(emb.cumulativeForward, 1, 'after the lookup');
  close(emb.meanSquareWeight, e * e, 'E[e^2] kept');
  close(d.cumulativeForward, 20 * s * s, 'dense after the lookup');
  close(out.cumulativeForward, 20 * s * s * 10 * s * s, 'output');
  const diags = runDiagnostics({ file, stats });
  assert.deepEqual(diags.filter((x) => x.code.startsWith('signal-')).map((x) => x.message), []);
});

test('a converter-folded batch normalization is found by name, and TFLite ADD ops count as residual connections', async () => {
  assert.equal(foldedNormalizationOf({ tensors: ['model/conv2d/Conv2D', 'model/activation/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd'] }), 'model/batch_normalization');
  assert.equal(foldedNormalizationOf({ tensors: ['net/conv/BatchNorm/FusedBatchNorm'] }), 'net/conv/BatchNorm');
  assert.equal(foldedNormalizationOf({ tensors: ['dense/MatMul', 'dense/BiasAdd'] }), undefined);
  // A plain ReLU chain that vanishes: a warning, but info once the graph has ADD ops (residual connections).
  const layers = Array.from({ length: 4 }, (_, i) => ({ name: `c${i}`, className: 'Dense', activation: 'relu', weights: [{ weight: 'kernel', shape: [64, 64], values: pm(64 * 64, 0.02) }] }));
  for (const adds of [0, 2]) {
    const file = buildModel(layers, { format: 'tflite', metadata: { opsHistogram: { FULLY_CONNECTED: 4, ADD: adds } } });
    const stats = await statsOf(file);
    assert.equal(forecastSignal(file, stats).residualAdds, adds);
    const v = runDiagnostics({ file, stats }).filter((x) => x.code === 'signal-vanishing');
    assert.ok(v.length > 0);
    assert.deepEqual([...new Set(v.map((x) => x.severity))], [adds ? 'info' : 'warning']);
    if (adds) {
      assert.match(v[0]!.message, /2 ADD ops: residual connections/);
    }
  }
});

const flattenRef = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'signalFlatten.reference.json'), 'utf8')) as {
  model: { convFilters: number; kernelSize: number; positions: number; denseIn: number; denseUnits: number; input: number[] };
  meanSquareWeight: { a: number; b: number; dense: number };
  measuredRelativeWeightGradient: { conv_a: number; conv_b: number };
  coherence: { conv_a: number; conv_b: number };
};

test('across a Flatten, the gradient the convolution kernels see sums over the positions of the map (NumPy Monte Carlo of a fresh CNN)', async () => {
  const { convFilters: c, kernelSize: k, positions, denseIn, denseUnits, input } = flattenRef.model;
  const ms = flattenRef.meanSquareWeight;
  // The Monte Carlo's spatial sums add incoherently: E[(sum_p t_p)^2] = P E[t_p^2].
  assert.ok(Math.abs(flattenRef.coherence.conv_a - 1) < 0.05 && Math.abs(flattenRef.coherence.conv_b - 1) < 0.05, JSON.stringify(flattenRef.coherence));
  const cin = input[2]!;
  const keras = [
    { name: 'conv_a', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [k, k, cin, c], values: pm(k * k * cin * c, Math.sqrt(ms.a)) }] },
    { name: 'conv_b', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [k, k, c, c], values: pm(k * k * c * c, Math.sqrt(ms.b)) }] },
    { name: 'flatten', className: 'Flatten', weights: [] },
    { name: 'dense', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [denseIn, denseUnits], values: pm(denseIn * denseUnits, Math.sqrt(ms.dense)) }] },
  ];
  // The same model as a TFLite graph lists no Flatten (FULLY_CONNECTED flattens its input) and stores OHWI / [out, in].
  const tflite = [
    { ...keras[0]!, weights: [{ weight: 'kernel', shape: [c, k, k, cin], values: keras[0]!.weights[0]!.values }] },
    { ...keras[1]!, weights: [{ weight: 'kernel', shape: [c, k, k, c], values: keras[1]!.weights[0]!.values }] },
    { ...keras[3]!, weights: [{ weight: 'kernel', shape: [denseUnits, denseIn], values: keras[3]!.weights[0]!.values }] },
  ];
  for (const [what, file] of [['keras', buildModel(keras)], ['tflite', buildModel(tflite, { format: 'tflite' })]] as const) {
    const f = forecastSignal(file, await statsOf(file));
    const byName = new Map(f.layers.map((l) => [l.name, l]));
    const dense = byName.get('dense')!;
    assert.equal(dense.flattenedPositions, positions, what);
    const within = (a: number, b: number, label: string) => assert.ok(Math.abs(Math.log(a / b)) < Math.log(1.25), `${what} ${label}: forecast ${a} vs measured ${b}`);
    within(byName.get('conv_b')!.cumulativeBackward, flattenRef.measuredRelativeWeightGradient.conv_b, 'conv_b');
    within(byName.get('conv_a')!.cumulativeBackward, flattenRef.measuredRelativeWeightGradient.conv_a, 'conv_a');
    // Closed form: dense fan_out x E[w^2] x P, then relu's c' = 1/2.
    const close = (a: number, b: number, label: string) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${what} ${label}: ${a} vs ${b}`);
    close(dense.backwardGain, denseUnits * Math.fround(Math.sqrt(ms.dense)) ** 2 * positions, 'dense backward gain');
    close(byName.get('conv_b')!.cumulativeBackward, 0.5 * dense.backwardGain, 'conv_b');
  }
});

test('a fresh default Keras CNN (Conv2D x 2 -> Flatten -> Dense 65536 -> 10) is not called backward-vanishing; a U(-0.01, 0.01) one still is', async () => {
  const glorot = (fanIn: number, fanOut: number) => Math.sqrt(2 / (fanIn + fanOut));
  const cnn = (std: (fanIn: number, fanOut: number) => number) =>
    buildModel([
      { name: 'conv2d', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 3, 64], values: pm(1728, std(27, 576)) }] },
      { name: 'conv2d_1', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 64, 64], values: pm(36864, std(576, 576)) }] },
      { name: 'flatten', className: 'Flatten', weights: [] },
      { name: 'dense', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [65536, 10], values: pm(655360, std(65536, 10)) }] },
    ]);
  const fresh = cnn(glorot);
  const stats = await statsOf(fresh);
  const f = forecastSignal(fresh, stats);
  // 10 x 2/65546 x 1024 positions = 0.312; conv2d_1: x 1/2.
  assert.ok(Math.abs(f.layers[2]!.backwardGain - (10 * 2 * 1024) / 65546) < 1e-4, String(f.layers[2]!.backwardGain));
  assert.deepEqual(runDiagnostics({ file: fresh, stats }).filter((x) => x.code.startsWith('signal-')).map((x) => x.message), []);
  const tiny = cnn(() => 0.01 / Math.sqrt(3));
  const tinyDiags = runDiagnostics({ file: tiny, stats: await statsOf(tiny) }).filter((x) => x.code === 'signal-vanishing');
  assert.deepEqual(tinyDiags.map((x) => x.severity).sort(), ['warning', 'warning']);
});

test('no spatial factor when a Dense reads a global pooling of the map (fan-in = channels) or a map that was never flattened', async () => {
  const file = buildModel([
    { name: 'conv', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 3, 16], values: pm(432, 0.1) }] },
    { name: 'gap', className: 'GlobalAveragePooling2D', weights: [] },
    { name: 'dense', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [16, 4], values: pm(64, 0.2) }] },
    { name: 'dense_1', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [4, 2], values: pm(8, 0.2) }] },
  ]);
  const f = forecastSignal(file, await statsOf(file));
  assert.deepEqual(f.layers.map((l) => l.flattenedPositions), [undefined, undefined, undefined]);
  // Fan-in 64 = 4 x 16 channels, but no Flatten or Reshape in between: not read as a flattened map.
  const unflattened = buildModel([
    { name: 'conv', className: 'Conv2D', activation: 'relu', weights: [{ weight: 'kernel', shape: [3, 3, 3, 16], values: pm(432, 0.1) }] },
    { name: 'dense', className: 'Dense', activation: 'softmax', weights: [{ weight: 'kernel', shape: [64, 4], values: pm(256, 0.2) }] },
  ]);
  const g = forecastSignal(unflattened, await statsOf(unflattened));
  assert.deepEqual(g.layers.map((l) => l.flattenedPositions), [undefined, undefined]);
});
