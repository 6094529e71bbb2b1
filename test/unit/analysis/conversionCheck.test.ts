/**
 * Conversion check against NumPy (test/unit/analysis/conversionCheck.reference.json, written by
 * scripts/reference-conversion.py from h5py, the tensor-bundle reader of reference-tf.py and a
 * flatbuffers decode of the .tflite): ResNet-8 .h5 vs its float and int8 .tflite, the KWS
 * SavedModel vs its two .tflite. Plus hand-built models for order pairing, BatchNorm folding from a
 * Sequential config, depthwise layouts, damaged tensors, the diff integration and cancellation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { checkConversion, conversionPairSide, nameCandidates, type ConversionCheck, type ConversionLayerCheck } from '../../../src/analysis/conversionCheck';
import { diffWeightFiles } from '../../../src/analysis/diff';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { openLocalPath } from '../../../src/formats/registry';
import { renderConversionCheck } from '../../../src/cli/conversionReport';
import { fixtureOrSkip, repoRoot } from '../helpers/fixtures';
import { buildModel, type TestLayer } from './diagnostics/modelBuilder';

interface RefLayer {
  opIndex: number;
  floatLayer: string;
  batchNorm: string | null;
  relL2: number;
  sqnrDb: number | null;
  maxAbsError: number;
  kernelSqnrDb: number | null;
  predictedSqnrDb?: number | null;
  predictedScheme?: string;
}

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'conversionCheck.reference.json'), 'utf8')) as Record<
  string,
  { float: string; layers: RefLayer[] }
>;

function close(actual: number | null, expected: number | null, tol: { rel?: number; abs?: number }, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: got null, NumPy ${expected}`);
  const bound = Math.max(tol.abs ?? 0, (tol.rel ?? 0) * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= bound, `${what}: ${actual} vs NumPy ${expected}`);
}

async function runFixture(t: TestContext, tfliteRel: string): Promise<{ check: ConversionCheck; ref: RefLayer[] } | undefined> {
  const entry = reference[tfliteRel]!;
  const tflitePath = fixtureOrSkip(t, path.join('tflite', tfliteRel));
  const floatPath = fixtureOrSkip(t, path.join('tflite', entry.float));
  if (!tflitePath || !floatPath) {
    return undefined;
  }
  const tfl = await openLocalPath(tflitePath);
  const flt = await openLocalPath(floatPath);
  try {
    return { check: await checkConversion(tfl, flt), ref: entry.layers };
  } finally {
    await tfl.close();
    await flt.close();
  }
}

/** Every layer's numbers equal NumPy's; returns the layers keyed by op index. */
function assertMatchesReference(check: ConversionCheck, ref: RefLayer[], what: string): void {
  assert.equal(check.layers.length, ref.length, `${what}: layer count`);
  for (const r of ref) {
    const l = check.layers.find((x) => x.opIndex === r.opIndex);
    assert.ok(l, `${what}: no layer for op ${r.opIndex}`);
    const w = `${what} ${l.layer}`;
    assert.ok(l.tensors.every((x) => !x.error), `${w}: ${JSON.stringify(l.tensors.map((x) => x.error))}`);
    assert.equal(l.foldedBatchNorm !== null, r.batchNorm !== null, `${w}: BatchNorm folded`);
    close(l.relL2, r.relL2, { rel: 1e-6, abs: 1e-15 }, `${w} relL2`);
    close(l.sqnrDb, r.sqnrDb, { abs: 1e-6 }, `${w} SQNR`);
    close(l.kernelSqnrDb, r.kernelSqnrDb, { abs: 1e-6 }, `${w} kernel SQNR`);
    close(l.maxAbsError, r.maxAbsError, { rel: 1e-9, abs: 1e-15 }, `${w} max error`);
    if (r.predictedScheme) {
      assert.equal(l.predicted?.scheme, r.predictedScheme, `${w} predicted scheme`);
      close(l.predicted!.sqnrDb, r.predictedSqnrDb ?? null, { abs: 1e-6 }, `${w} predicted SQNR`);
    } else {
      assert.equal(l.predicted, null, `${w}: no prediction for float32 storage`);
    }
  }
}

test('ResNet-8 .h5 vs its float .tflite: BatchNorm folded, error at float32 rounding everywhere, unfolded layers bit-identical (NumPy)', async (t) => {
  const r = await runFixture(t, 'mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite');
  if (!r) {
    return;
  }
  assertMatchesReference(r.check, r.ref, 'resnet float');
  for (const l of r.check.layers) {
    assert.equal(l.matchedBy, 'name');
    assert.equal(l.floatLayer, l.layer.replace(/^model\//, ''));
    assert.ok(l.relL2 !== null && l.relL2 < 1e-6, `${l.layer}: relL2 ${l.relL2}`);
    if (l.foldedBatchNorm) {
      assert.equal(l.foldedBatchNorm.source, 'graph');
      assert.equal(l.foldedBatchNorm.epsilon, 0.001);
    }
  }
  // README: conv2d_5, conv2d_8 and the Dense are bit-identical after transposition
  for (const name of ['model/conv2d_5', 'model/conv2d_8', 'model/dense']) {
    const l: ConversionLayerCheck = r.check.layers.find((x) => x.layer === name)!;
    assert.equal(l.foldedBatchNorm, null);
    assert.equal(l.maxAbsError, 0, name);
    assert.equal(l.sqnrDb, null, `${name}: exact`);
  }
  // conv2d_4 (not conv2d_5, which comes right before batch_normalization_4 in the layer list) carries batch_normalization_4
  assert.equal(r.check.layers.find((x) => x.layer === 'model/conv2d_4')!.foldedBatchNorm?.layer, 'batch_normalization_4');
  assert.deepEqual(r.check.outliers, []);
  assert.equal(r.check.sourceMismatch, false);
  assert.deepEqual(r.check.unmatchedFloatLayers, []);
  assert.equal(r.check.conversionMode, 'float32');
});

test('ResNet-8 .h5 vs its int8 .tflite: per-layer SQNR equals NumPy and the predicted per-channel int8 SQNR matches the measured one', async (t) => {
  const r = await runFixture(t, 'mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite');
  if (!r) {
    return;
  }
  assertMatchesReference(r.check, r.ref, 'resnet int8');
  for (const l of r.check.layers) {
    const kernel = l.tensors.find((x) => x.weight === 'kernel')!;
    assert.equal(kernel.storage, l.op === 'FULLY_CONNECTED' ? 'int8-per-tensor' : 'int8-per-channel');
    // the converter quantizes the folded kernel symmetrically: prediction and measurement agree to 0.01 dB
    assert.ok(Math.abs(l.predicted!.sqnrDb! - l.kernelSqnrDb!) < 0.01, `${l.layer}: predicted ${l.predicted!.sqnrDb} vs measured ${l.kernelSqnrDb}`);
    assert.ok(l.sqnrDb! > 40, `${l.layer}: ${l.sqnrDb} dB`);
  }
  assert.deepEqual(r.check.outliers, []);
  assert.equal(r.check.conversionMode, 'full-integer');
  const text = renderConversionCheck(r.check);
  assert.match(text, /model\/conv2d_7 +CONV_2D +conv2d_7 +batch_normalization_6 +int8-per-channel/);
  assert.match(text, /no layer stands out/);
});

for (const file of ['kws_ref_model.tflite', 'kws_ref_model_float32.tflite']) {
  test(`KWS SavedModel vs ${file}: per-layer errors equal NumPy; the SavedModel is not the converted model, every layer stands out`, async (t) => {
    const r = await runFixture(t, `mlperf-tiny-kws-dscnn-tf2.3/${file}`);
    if (!r) {
      return;
    }
    assertMatchesReference(r.check, r.ref, file);
    // NumPy paired by position; the check paired by name: both give the same layer sequence
    assert.deepEqual(
      r.check.layers.map((l) => l.floatLayer),
      ['conv2d', 'depthwise_conv2d', 'conv2d_1', 'depthwise_conv2d_1', 'conv2d_2', 'depthwise_conv2d_2', 'conv2d_3', 'depthwise_conv2d_3', 'conv2d_4', 'dense'],
    );
    // the SavedModel's Keras metadata carries the Functional graph: each BN is the one its inbound node names
    assert.ok(r.check.layers.filter((l) => l.foldedBatchNorm).every((l) => l.foldedBatchNorm!.source === 'graph'));
    // the fixture's weights and the .tflite files come from different training runs (Dense, without BN: cosine 0.08)
    assert.equal(r.check.sourceMismatch, true);
    assert.equal(r.check.outliers.length, 10);
    const depthwise = r.check.layers.find((l) => l.layer === 'functional_1/depthwise_conv2d')!;
    assert.equal(depthwise.tensors[0]!.storage, file === 'kws_ref_model.tflite' ? 'int8-per-channel' : 'float32');
    assert.deepEqual(depthwise.tensors[0]!.shapeKeras, [3, 3, 64, 1]);
  });
}

/** Every number is finite (NaN and infinities do not survive postMessage). */
function assertJsonSafe(x: unknown, where: string): void {
  if (typeof x === 'number') {
    assert.ok(Number.isFinite(x), `${where}: ${x}`);
  } else if (Array.isArray(x)) {
    x.forEach((v, i) => assertJsonSafe(v, `${where}[${i}]`));
  } else if (x !== null && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) {
      assertJsonSafe(v, `${where}.${k}`);
    }
  }
}

// ---- hand-built models ----

const range = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

/** A TFLite-like file: one layer per op with kerasLayout extras, names that do not match the float side. */
function tfliteModel(layers: { name: string; op: string; opIndex: number; weights: { weight: string; shape: number[]; values: Float32Array; permutation: number[]; kerasShape: number[]; kerasWeight: string; damaged?: boolean }[] }[]): WeightFile {
  const base = buildModel(
    layers.map((l) => ({ name: l.name, className: l.op, config: { op: l.op, opIndex: l.opIndex }, weights: l.weights.map((w) => ({ weight: w.weight, shape: w.shape, values: w.values })) }) as TestLayer),
    { format: 'tflite', chunkElements: 3 },
  );
  type W = (typeof layers)[number]['weights'][number];
  const extras = new Map<string, W>(layers.flatMap((l) => l.weights.map((w): [string, W] => [`${l.name}/${w.weight}`, w])));
  const tensors = base.tensors.map((t): TensorInfo => {
    const w = extras.get(t.name)!;
    const info: TensorInfo = { ...t, extra: { kerasLayout: { permutation: w.permutation, kerasShape: w.kerasShape, reshape: false, kerasWeight: w.kerasWeight } } };
    return w.damaged ? { ...info, unavailable: { reason: 'truncated', message: `${t.name}: data past the end.` } } : info;
  });
  return { ...base, tensors };
}

/** OHWI [O,1,1,I] values from an HWIO [1,1,I,O] array. */
function ohwiFromHwio(hwio: Float32Array, i: number, o: number): Float32Array {
  return range(i * o, (k) => hwio[(k % i) * o + Math.floor(k / i)]!);
}

test('names that do not survive: layers paired by op order and shape, kernels transposed (Conv OHWI, Dense [out,in])', async () => {
  const conv = range(6, (k) => 0.1 * (k + 1)); // HWIO [1,1,3,2]
  const dense = range(8, (k) => k - 3.5); // [in=2, out=4]
  const float = buildModel([
    { name: 'c1', className: 'Conv2D', weights: [{ weight: 'kernel', shape: [1, 1, 3, 2], values: conv }, { weight: 'bias', shape: [2], values: Float32Array.of(1, 2) }] },
    { name: 'd1', className: 'Dense', weights: [{ weight: 'kernel', shape: [2, 4], values: dense }, { weight: 'bias', shape: [4], values: new Float32Array(4) }] },
  ]);
  const denseOutIn = range(8, (k) => dense[(k % 2) * 4 + Math.floor(k / 2)]!); // [4, 2]
  denseOutIn[5] = denseOutIn[5]! + 0.5; // one error of 0.5
  const tfl = tfliteModel([
    {
      name: 'conv_2d_0',
      op: 'CONV_2D',
      opIndex: 0,
      weights: [
        { weight: 'w', shape: [2, 1, 1, 3], values: ohwiFromHwio(conv, 3, 2), permutation: [1, 2, 3, 0], kerasShape: [1, 1, 3, 2], kerasWeight: 'kernel' },
        { weight: 'b', shape: [2], values: Float32Array.of(1, 2), permutation: [0], kerasShape: [2], kerasWeight: 'bias' },
      ],
    },
    { name: 'fully_connected_1', op: 'FULLY_CONNECTED', opIndex: 1, weights: [{ weight: 'w', shape: [4, 2], values: denseOutIn, permutation: [1, 0], kerasShape: [2, 4], kerasWeight: 'kernel' }] },
  ]);
  const c = await checkConversion(tfl, float);
  assert.deepEqual(c.layers.map((l) => [l.layer, l.floatLayer, l.matchedBy]), [
    ['conv_2d_0', 'c1', 'order'],
    ['fully_connected_1', 'd1', 'order'],
  ]);
  assert.equal(c.layers[0]!.maxAbsError, 0);
  assert.equal(c.layers[0]!.relL2, 0);
  const d = c.layers[1]!;
  assert.equal(d.maxAbsError, 0.5);
  const norm2 = dense.reduce((s, v) => s + v * v, 0); // 42
  assert.equal(d.relL2, Math.sqrt(0.25 / norm2));
  assert.equal(d.sqnrDb, 10 * Math.log10(norm2 / 0.25));
  assert.equal(d.predicted, null, 'float32 storage has no prediction');
  // a relative error of 0.077 with a median of 0.039 (2x) does not stand out by ratio; its SQNR of 22 dB does
  assert.equal(d.standsOut, true);
  assert.match(d.why!, /below 30 dB/);
  assert.deepEqual(c.outliers, ['fully_connected_1']);
});

test('BatchNorm folding from a Sequential config: W*gamma/sqrt(var+eps) per output channel, beta+(b-mean)*g; epsilon from the layer', async () => {
  const kernel = range(6, (k) => k + 1); // HWIO [1,1,3,2]: output channel = k % 2
  const float = {
    ...buildModel([
      { name: 'c1', className: 'Conv2D', weights: [{ weight: 'kernel', shape: [1, 1, 3, 2], values: kernel }, { weight: 'bias', shape: [2], values: Float32Array.of(5, 7) }] },
      {
        name: 'bn',
        className: 'BatchNormalization',
        config: { epsilon: 0.5 },
        weights: [
          { weight: 'gamma', shape: [2], values: Float32Array.of(2, 4) },
          { weight: 'beta', shape: [2], values: Float32Array.of(0, 3) },
          { weight: 'moving_mean', shape: [2], values: Float32Array.of(1, 1) },
          { weight: 'moving_variance', shape: [2], values: Float32Array.of(3.5, 3.5) },
        ],
      },
    ]),
    modelConfig: { class_name: 'Sequential', config: { layers: [{ class_name: 'Conv2D', config: { name: 'c1' } }, { class_name: 'BatchNormalization', config: { name: 'bn', epsilon: 0.5 } }] } },
  };
  // g = [2, 4] / sqrt(3.5 + 0.5) = [1, 2]; b' = [0 + (5-1)*1, 3 + (7-1)*2] = [4, 15]
  const folded = range(6, (k) => kernel[k]! * (k % 2 === 0 ? 1 : 2));
  const tfl = tfliteModel([
    {
      name: 'seq/c1',
      op: 'CONV_2D',
      opIndex: 0,
      weights: [
        { weight: 'w', shape: [2, 1, 1, 3], values: ohwiFromHwio(folded, 3, 2), permutation: [1, 2, 3, 0], kerasShape: [1, 1, 3, 2], kerasWeight: 'kernel' },
        { weight: 'b', shape: [2], values: Float32Array.of(4, 15), permutation: [0], kerasShape: [2], kerasWeight: 'bias' },
      ],
    },
  ]);
  const c = await checkConversion(tfl, float);
  const l = c.layers[0]!;
  assert.equal(l.matchedBy, 'name');
  assert.deepEqual(l.foldedBatchNorm, { layer: 'bn', epsilon: 0.5, source: 'graph' });
  assert.equal(l.maxAbsError, 0);
  assert.equal(l.relL2, 0);
  assert.deepEqual(c.unmatchedFloatLayers, []);
  // without the config the BN is still found (right after the layer) and gives the same result
  const noGraph = await checkConversion(tfl, { ...float, modelConfig: undefined });
  assert.equal(noGraph.layers[0]!.foldedBatchNorm?.source, 'layer-order');
  assert.equal(noGraph.layers[0]!.maxAbsError, 0);
});

test('depthwise [1,kh,kw,C*M] against Keras [kh,kw,C,M] with a BN over the C*M channels; a damaged TFLite bias is reported on that tensor only', async () => {
  const dw = range(16, (k) => (k % 5) - 2); // [1,2,C=2,M=4]: channel = k % 8... use C*M = 8
  const float = buildModel([
    { name: 'dw', className: 'DepthwiseConv2D', weights: [{ weight: 'depthwise_kernel', shape: [1, 2, 2, 4], values: dw }, { weight: 'bias', shape: [8], values: new Float32Array(8) }] },
    {
      name: 'bn',
      className: 'BatchNormalization',
      weights: [
        { weight: 'gamma', shape: [8], values: range(8, (c) => c + 1) },
        { weight: 'moving_mean', shape: [8], values: new Float32Array(8) },
        { weight: 'moving_variance', shape: [8], values: range(8, () => 1 - 0.001) },
      ],
    },
  ]);
  // g = gamma / sqrt(0.999 + 0.001) = c + 1; no beta
  const folded = range(16, (k) => dw[k]! * ((k % 8) + 1));
  const tfl = tfliteModel([
    {
      name: 'model/dw',
      op: 'DEPTHWISE_CONV_2D',
      opIndex: 3,
      weights: [
        { weight: 'w', shape: [1, 1, 2, 8], values: folded, permutation: [1, 2, 3, 0], kerasShape: [1, 2, 2, 4], kerasWeight: 'depthwise_kernel' },
        { weight: 'b', shape: [8], values: new Float32Array(8), permutation: [0], kerasShape: [8], kerasWeight: 'bias', damaged: true },
      ],
    },
  ]);
  const c = await checkConversion(tfl, float);
  const l = c.layers[0]!;
  assert.equal(l.floatLayer, 'dw');
  assert.equal(l.foldedBatchNorm?.layer, 'bn');
  assert.ok(Math.abs(l.maxAbsError!) < 1e-5, `max error ${l.maxAbsError}`);
  assert.equal(l.count, 16, 'kernel compared');
  assert.equal(l.tensors[1]!.error?.reason, 'truncated');
  assert.equal(l.tensors[0]!.error, undefined);
});

test('float16 storage: the prediction is the float16 rounding error of the float kernel (1 + 2^-11 rounds to 1, ties to even)', async () => {
  const float = buildModel([{ name: 'd', className: 'Dense', weights: [{ weight: 'kernel', shape: [3, 1], values: Float32Array.of(1 + 2 ** -11, 2, 3) }] }]);
  const tfl = tfliteModel([{ name: 'model/d', op: 'FULLY_CONNECTED', opIndex: 0, weights: [{ weight: 'w', shape: [1, 3], values: Float32Array.of(1, 2, 3), permutation: [1, 0], kerasShape: [3, 1], kerasWeight: 'kernel' }] }]);
  const f16 = { ...tfl, tensors: tfl.tensors.map((t): TensorInfo => ({ ...t, storageDtype: 'float16', quantization: { storageDtype: 'float16', scheme: 'float16' } })) };
  const l = (await checkConversion(f16, float)).layers[0]!;
  const expected = 10 * Math.log10(((1 + 2 ** -11) ** 2 + 4 + 9) / 2 ** -22);
  assert.equal(l.tensors[0]!.storage, 'float16');
  assert.equal(l.maxAbsError, 2 ** -11);
  assert.ok(Math.abs(l.kernelSqnrDb! - expected) < 1e-9, `measured ${l.kernelSqnrDb} vs ${expected}`);
  assert.equal(l.predicted?.scheme, 'float16');
  assert.ok(Math.abs(l.predicted.sqnrDb! - expected) < 1e-9, `predicted ${l.predicted.sqnrDb} vs ${expected}`);
});

test('a TFLite layer without a float counterpart is listed with a notFound reason; conversionPairSide and nameCandidates', async () => {
  const float = buildModel([{ name: 'd1', className: 'Dense', weights: [{ weight: 'kernel', shape: [3, 3], values: range(9, (k) => k) }] }]);
  const tfl = tfliteModel([{ name: 'fc', op: 'FULLY_CONNECTED', opIndex: 0, weights: [{ weight: 'w', shape: [4, 3], values: range(12, (k) => k), permutation: [1, 0], kerasShape: [3, 4], kerasWeight: 'kernel' }] }]);
  const c = await checkConversion(tfl, float);
  assert.equal(c.layers[0]!.floatLayer, null);
  assert.equal(c.layers[0]!.tensors[0]!.error?.reason, 'notFound');
  assert.deepEqual(c.unmatchedFloatLayers, ['d1']);
  assert.equal(c.medianRelL2, null);
  assert.equal(conversionPairSide(float, tfl), 'b');
  assert.equal(conversionPairSide(tfl, float), 'a');
  assert.equal(conversionPairSide(float, float), null);
  assert.equal(conversionPairSide({ format: 'npz' }, tfl), null);
  assert.deepEqual(nameCandidates('model/block/conv2d_3 (op 7)'), ['model/block/conv2d_3', 'block/conv2d_3', 'conv2d_3']);
  await assert.rejects(checkConversion(float, tfl), (ex: unknown) => WeightFileError.is(ex, 'unrecognized'));
});

test('diffWeightFiles attaches the conversion check to a .h5/.tflite pair (either order) and not to other pairs; cancellation stops it', async (t) => {
  const h5 = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5');
  const tf = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite');
  if (!h5 || !tf) {
    return;
  }
  const a = await openLocalPath(h5);
  const b = await openLocalPath(tf);
  try {
    const ab = await diffWeightFiles(a, b);
    assert.equal(ab.conversion?.tfliteSide, 'b');
    assert.equal(ab.conversion?.layers.length, 10);
    const ba = await diffWeightFiles(b, a);
    assert.equal(ba.conversion?.tfliteSide, 'a');
    assert.deepEqual(
      ba.conversion?.layers.map((l) => l.relL2),
      ab.conversion?.layers.map((l) => l.relL2),
    );
    assert.equal((await diffWeightFiles(a, a)).conversion, undefined);
    assertJsonSafe(ab.conversion, 'conversion');
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(checkConversion(b, a, { signal: ac.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  } finally {
    await a.close();
    await b.close();
  }
});
