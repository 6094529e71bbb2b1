import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { MemoryByteSource, MemoryFileSet, type ByteSource } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { readAllValues } from '../../../src/core/tensorData';
import { checkWeightFile } from '../../../src/analysis/diagnostics/check';
import type { TensorStats } from '../../../src/analysis/statsTypes';
import { computeTensorStats } from '../../../src/analysis/tensorStats';
import { detectFormat, openLocalPath, openWeightSource } from '../../../src/formats/registry';
import { maxInMemoryBytes, openTflite, tfliteReader, type TfliteConsumer, type TfliteIoTensor, type TfliteModelSummary, type TfliteTensorExtra } from '../../../src/formats/tflite';
import { kerasLayoutFor, type KerasLayout } from '../../../src/formats/tflite/kerasLayout';
import type { QuantizedCodeSummary } from '../../../src/formats/tflite/quantizedCodeSummary';
import { builtinOperatorNames } from '../../../src/formats/tflite/schemaTables';
import { layerScopeFromName } from '../../../src/formats/tflite/weightRole';
import { fixtureOrSkip, fixturesDir, makeTempDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';
import { assertMutationsFailCleanly } from '../helpers/mutate';
import { writeFlatBuffer, type Field, type TableSpec } from './helpers/flatBufferWriter';

// ---------------------------------------------------------------------------------------------
// Reference values: written by scripts/reference-tflite.py (python3-flatbuffers + NumPy), never by
// the code under test.

interface RefQuant {
  scale: number[] | null;
  zeroPoint: number[] | null;
  min: number[] | null;
  max: number[] | null;
  dim: number;
}
interface RefStats {
  count: number;
  zeroCount: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  l2: number;
  first: number[];
}
interface RefTensor {
  index: number;
  name: string;
  type: string;
  shape: number[] | null;
  buffer: number;
  quant?: RefQuant;
}
interface RefConstant extends RefTensor {
  byteLength: number;
  consumers: { op: number; code: number; slot: number }[];
  sparse: boolean;
  storedValues?: number;
  stats: RefStats;
  int8?: { channelMin: number[]; channelMax: number[]; atMinus128: number; at127: number };
}
interface RefFile {
  version: number;
  description: string | null;
  bufferCount: number;
  operatorCodes: { code: number; custom: string | null; version: number }[];
  subgraphs: {
    name: string | null;
    tensorCount: number;
    operatorCount: number;
    opHistogram: Record<string, number>;
    inputs: RefTensor[];
    outputs: RefTensor[];
    constants: RefConstant[];
  }[];
  metadata: Record<string, unknown>;
  metadataBuffer: { buffer: number; byteLength: number; identifier: string }[] | null;
  signatureDefs: { key: string; subgraphIndex: number; inputs: { name: string; tensorIndex: number }[]; outputs: { name: string; tensorIndex: number }[] }[];
}

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'tflite.reference.json'), 'utf8')) as {
  files: Record<string, RefFile>;
};

const quantizedTypes = new Set(['int8', 'uint8', 'int16', 'int32', 'int64']);

/** Float64 statistics of a tensor's values, the same definitions as the reference script. */
function statsOf(values: Float64Array): RefStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sq = 0;
  let zeros = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    sq += v * v;
    if (v === 0) {
      zeros++;
    }
  }
  const n = values.length;
  const mean = n ? sum / n : null;
  let varSum = 0;
  for (const v of values) {
    varSum += (v - mean!) ** 2;
  }
  return {
    count: n,
    zeroCount: zeros,
    min: n ? min : null,
    max: n ? max : null,
    mean,
    std: n ? Math.sqrt(varSum / n) : null,
    l2: Math.sqrt(sq),
    first: [...values.subarray(0, 4)],
  };
}

function close(actual: number | null, expected: number | null, rel: number, what: string): void {
  if (expected === null || actual === null) {
    assert.equal(actual, expected, what);
    return;
  }
  const tol = rel * Math.max(1e-30, Math.abs(expected)) + 1e-15;
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs reference ${expected}`);
}

function tflitePaths(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
      } else if (e.name.endsWith('.tflite')) {
        out.push(path.relative(fixturesDir, p).split(path.sep).join('/'));
      }
    }
  };
  walk(path.join(fixturesDir, 'tflite'));
  return out.sort();
}

/** The TFLite model summary of an opened file. */
function metaOf(wf: WeightFile): TfliteModelSummary {
  return wf.metadata as TfliteModelSummary;
}
/** The TFLite facts of a tensor. */
function extraOf(t: TensorInfo): TfliteTensorExtra {
  return t.extra as TfliteTensorExtra;
}

const opened = new Map<string, Promise<WeightFile>>();
function openFixture(rel: string): Promise<WeightFile> {
  let p = opened.get(rel);
  if (!p) {
    p = openLocalPath(path.join(fixturesDir, rel));
    opened.set(rel, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Corpus: every .tflite fixture against the independent decoder.

test('the reference JSON covers every .tflite fixture', skipUnlessFixtures, () => {
  assert.deepEqual(Object.keys(reference.files).sort(), tflitePaths());
  assert.equal(tflitePaths().length, 12);
});

for (const [rel, ref] of Object.entries(reference.files)) {
  test(`corpus ${rel}: counts, names, dtypes, shapes, quantization and dequantized stats match the reference decoder`, async (t) => {
    if (!fixtureOrSkip(t, rel)) {
      return;
    }
    const wf = await openFixture(rel);
    assert.equal(wf.format, 'tflite');
    assert.deepEqual(wf.warnings, []);
    const meta = metaOf(wf);
    assert.equal(meta.schemaVersion, ref.version);
    assert.equal(meta.description ?? null, ref.description);
    assert.equal(meta.bufferCount, ref.bufferCount);
    assert.deepEqual(
      (meta.operatorCodes as { builtinCode: number; version: number }[]).map((c) => [c.builtinCode, c.version]),
      ref.operatorCodes.map((c) => [c.code, c.version]),
    );
    assert.equal(meta.subgraphs.length, ref.subgraphs.length);
    const sg = ref.subgraphs[0]!;
    assert.equal(meta.subgraphs[0]!.name, sg.name);
    assert.equal(meta.subgraphs[0]!.tensorCount, sg.tensorCount);
    assert.equal(meta.subgraphs[0]!.operatorCount, sg.operatorCount);
    assert.equal(meta.subgraphs[0]!.constantCount, sg.constants.length);
    // ops histogram: names from the generated table, counts by code from the reference
    const expectedHistogram = Object.fromEntries(Object.entries(sg.opHistogram).map(([code, n]) => [builtinOperatorNames[Number(code)], n]));
    assert.deepEqual(meta.opsHistogram, expectedHistogram);

    // inputs / outputs
    for (const [mine, theirs] of [
      [meta.inputs, sg.inputs],
      [meta.outputs, sg.outputs],
    ] as [TfliteIoTensor[], RefTensor[]][]) {
      assert.equal(mine.length, theirs.length);
      mine.forEach((io, i) => {
        const r = theirs[i]!;
        assert.equal(io.tensorIndex, r.index);
        assert.equal(io.name, r.name);
        assert.equal(io.dtype, r.type);
        assert.deepEqual(io.shape, r.shape);
        if (r.quant?.scale && r.quant.scale.length > 0) {
          assert.deepEqual(io.quantization!.scale, r.quant.scale);
          assert.deepEqual(io.quantization!.zeroPoint, r.quant.zeroPoint ?? [0]);
        } else {
          assert.equal(io.quantization, undefined, `${io.name} is not quantized (min/max without scale)`);
        }
      });
    }

    // signature defs and metadata
    assert.deepEqual(
      meta.signatureDefs.map((s) => ({ key: s.key, subgraphIndex: s.subgraphIndex, inputs: s.inputs.map((x) => ({ name: x.name, tensorIndex: x.tensorIndex })), outputs: s.outputs.map((x) => ({ name: x.name, tensorIndex: x.tensorIndex })) })),
      ref.signatureDefs,
    );
    assert.equal(meta.minRuntimeVersion, ref.metadata.min_runtime_version);
    const cm = ref.metadata.CONVERSION_METADATA as Record<string, unknown> | undefined;
    if (cm) {
      assert.equal(meta.conversionMetadata!.tensorflowVersion, cm.tensorflowVersion);
      assert.equal(meta.conversionMetadata!.apiVersion, cm.apiVersion);
      assert.equal(meta.conversionMetadata!.modelType, cm.modelType);
      assert.deepEqual(meta.conversionMetadata!.modelOptimizationModes, cm.modelOptimizationModes);
    } else {
      assert.equal(meta.conversionMetadata, undefined);
    }
    if (ref.metadataBuffer) {
      assert.deepEqual(
        meta.deprecatedMetadataBuffers!.map((b) => ({ buffer: b.buffer, byteLength: b.byteLength, identifier: b.identifier })),
        ref.metadataBuffer,
      );
    } else {
      assert.equal(meta.deprecatedMetadataBuffers, undefined);
    }

    // constants = tensors, in tensor order
    assert.equal(wf.tensors.length, sg.constants.length);
    for (let i = 0; i < sg.constants.length; i++) {
      const r = sg.constants[i]!;
      const tensor = wf.tensors[i]!;
      const what = `${rel} tensor ${r.index} ${r.name}`;
      const extra = extraOf(tensor);
      assert.equal(extra.tensorIndex, r.index, what);
      assert.equal(tensor.name, r.name, what);
      assert.equal(tensor.storageDtype, r.type, what);
      // An absent `shape` on a constant (TOCO scalars) is read as a scalar and flagged.
      assert.deepEqual(tensor.shape, r.shape ?? [], what);
      assert.equal(extra.shapeAbsent, r.shape === null ? true : undefined, what);
      assert.equal(extra.buffer, r.buffer, what);
      assert.equal(tensor.byteLength, r.byteLength, what);
      assert.deepEqual(
        (extra.consumers as TfliteConsumer[]).map((c) => ({ op: c.op, code: builtinOperatorNames.indexOf(c.opName), slot: c.slot })),
        r.consumers,
        `${what} consumers`,
      );
      const quantized = quantizedTypes.has(r.type) && !!r.quant?.scale && r.quant.scale.length > 0;
      if (quantized) {
        const q = tensor.quantization!;
        assert.equal(tensor.dtype, 'float32', what);
        assert.equal(q.scheme, 'tflite-affine', what);
        assert.equal(q.storageDtype, r.type, what);
        assert.deepEqual(q.scale, r.quant!.scale, what);
        assert.deepEqual(q.zeroPoint, r.quant!.zeroPoint ?? r.quant!.scale!.map(() => 0), what);
        assert.equal(q.axis, r.quant!.scale!.length > 1 ? r.quant!.dim : undefined, what);
        if (r.quant!.min) {
          assert.deepEqual(extra.quantizationRange!.min, r.quant!.min, what);
          assert.deepEqual(extra.quantizationRange!.max, r.quant!.max, what);
        }
      } else if (r.type === 'float16' && r.consumers.length > 0 && extra.consumers.some((c: TfliteConsumer) => c.via.includes('DEQUANTIZE'))) {
        assert.equal(tensor.dtype, 'float32', what);
        assert.deepEqual(tensor.quantization, { storageDtype: 'float16', scheme: 'float16' }, what);
      } else {
        assert.equal(tensor.dtype, r.type, what);
        assert.equal(tensor.quantization, undefined, what);
      }
      if (r.sparse) {
        assert.equal(extra.sparsity!.storedValues, r.storedValues, what);
        assert.equal(extra.sparsity!.denseElements, r.stats.count, what);
      } else {
        assert.equal(extra.sparsity, undefined, what);
      }
      // dequantized (and densified) values
      const values = await readAllValues(tensor);
      const s = statsOf(values);
      assert.equal(s.count, r.stats.count, what);
      assert.equal(s.zeroCount, r.stats.zeroCount, `${what} zeros`);
      assert.equal(s.min, r.stats.min, `${what} min`);
      assert.equal(s.max, r.stats.max, `${what} max`);
      close(s.mean, r.stats.mean, 1e-9, `${what} mean`);
      close(s.std, r.stats.std, 1e-9, `${what} std`);
      close(s.l2, r.stats.l2, 1e-12, `${what} l2`);
      assert.deepEqual(s.first, r.stats.first, `${what} first values`);
      // raw int8 code summary
      if (r.int8) {
        const codes = extra.quantizedCodes as QuantizedCodeSummary;
        assert.deepEqual(codes.channelMinCode, r.int8.channelMin, what);
        assert.deepEqual(codes.channelMaxCode, r.int8.channelMax, what);
        assert.equal(codes.saturatedLowCount, r.int8.atMinus128, what);
        assert.equal(codes.saturatedHighCount, r.int8.at127, what);
        assert.deepEqual(codes.codeRange, [-128, 127]);
        assert.deepEqual(
          codes.channelRangeUse,
          r.int8.channelMin.map((mn, c) => (r.int8!.channelMax[c]! - mn) / 255),
        );
      } else if (r.type !== 'int8') {
        assert.equal(extra.quantizedCodes, undefined, what);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Hand-checked facts from fixtures/README.md and notes/weight-formats.md section 7.

test('the generated operator table has the schema values the reader relies on', () => {
  const expected: Record<number, string> = {
    0: 'ADD',
    3: 'CONV_2D',
    4: 'DEPTHWISE_CONV_2D',
    6: 'DEQUANTIZE',
    7: 'EMBEDDING_LOOKUP',
    9: 'FULLY_CONNECTED',
    16: 'LSTM',
    22: 'RESHAPE',
    25: 'SOFTMAX',
    32: 'CUSTOM',
    36: 'GATHER',
    44: 'UNIDIRECTIONAL_SEQUENCE_LSTM',
    67: 'TRANSPOSE_CONV',
    114: 'QUANTIZE',
    124: 'DENSIFY',
    126: 'BATCH_MATMUL',
    127: 'PLACEHOLDER_FOR_GREATER_OP_CODES',
    129: 'CALL_ONCE',
    132: 'CONV_3D',
    142: 'VAR_HANDLE',
    143: 'READ_VARIABLE',
    144: 'ASSIGN_VARIABLE',
  };
  for (const [code, name] of Object.entries(expected)) {
    assert.equal(builtinOperatorNames[Number(code)], name, `code ${code}`);
  }
  assert.ok(builtinOperatorNames.length >= 200);
});

test('hello-world int8: layers per FULLY_CONNECTED, activations, signature, per-tensor int8 kernels', async (t) => {
  if (!fixtureOrSkip(t, 'tflite/tflm-hello-world-tf2.11/hello_world_int8.tflite')) {
    return;
  }
  const wf = await openFixture('tflite/tflm-hello-world-tf2.11/hello_world_int8.tflite');
  assert.deepEqual(
    wf.layers.map((l) => [l.name, l.className, l.activation, l.units]),
    [
      ['sequential/dense', 'Dense', 'relu', 16],
      ['sequential/dense_1', 'Dense', 'relu', 16],
      ['sequential/dense_2', 'Dense', 'linear', 1],
    ],
  );
  const dense1 = wf.layers[1]!;
  assert.deepEqual(dense1.tensors, ['sequential/dense_1/MatMul', 'sequential/dense_1/BiasAdd/ReadVariableOp']);
  const kernel = wf.tensors.find((x) => x.name === 'sequential/dense_1/MatMul')!;
  assert.equal(kernel.role, 'kernel');
  assert.equal(kernel.layer, 'sequential/dense_1');
  assert.equal(kernel.quantization?.zeroPoint?.[0], 0);
  assert.deepEqual(extraOf(kernel).kerasLayout, { permutation: [1, 0], kerasShape: [16, 16], reshape: false, kerasWeight: 'kernel' });
  const meta = metaOf(wf);
  assert.deepEqual(meta.signatureDefs[0]!.inputs, [{ name: 'dense_input', tensorIndex: 0, tensorName: 'serving_default_dense_input:0' }]);
  assert.deepEqual(meta.signatureDefs[0]!.outputs, [{ name: 'dense_2', tensorIndex: 9, tensorName: 'StatefulPartitionedCall:0' }]);
  assert.equal(meta.minRuntimeVersion, '1.14.0');
  assert.deepEqual(meta.conversionMetadata!.modelOptimizationModeNames, ['PTQ_FULL_INTEGER']);
  assert.equal(meta.conversionMetadata!.modelTypeName, 'KERAS_MODEL');
  assert.deepEqual(meta.conversionMode, { mode: 'full-integer', source: 'CONVERSION_METADATA' });
  assert.equal(meta.inputs[0]!.quantization!.zeroPoint[0], -128);
  assert.equal(meta.operatorCodes[0]!.version, 4);
});

test('ResNet-8: conv layers named by scope, per-channel int8 on dim 0, dequantized within half a step of the float twin', async (t) => {
  const floatRel = 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite';
  const quantRel = 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite';
  if (!fixtureOrSkip(t, quantRel)) {
    return;
  }
  const [f, q] = await Promise.all([openFixture(floatRel), openFixture(quantRel)]);
  const names = ['model/conv2d', ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `model/conv2d_${i}`), 'model/dense'];
  assert.deepEqual(q.layers.map((l) => l.name).sort(), names.sort());
  assert.deepEqual(f.layers.map((l) => l.name).sort(), names.sort());
  const conv5 = q.layers.find((l) => l.name === 'model/conv2d_5')!;
  assert.equal(conv5.className, 'Conv2D');
  assert.equal(conv5.filters, 32);
  assert.deepEqual(conv5.kernelSize, [1, 1]);
  assert.equal(metaOf(q).minRuntimeVersion, '1.5.0');
  assert.deepEqual(metaOf(q).conversionMode, { mode: 'full-integer', source: 'weights' });
  assert.deepEqual(metaOf(f).conversionMode, { mode: 'float32', source: 'weights' });
  // Every int8 filter: per-channel on dim 0 with zero point 0, and within scale/2 of the float model's filter.
  let checked = 0;
  for (const qt of q.tensors.filter((x) => x.storageDtype === 'int8')) {
    const ft = f.tensors.find((x) => x.layer === qt.layer && x.role === qt.role)!;
    assert.ok(ft, `float twin of ${qt.name}`);
    const scale = qt.quantization!.scale!;
    const isConv = qt.layer.includes('conv2d');
    assert.equal(qt.quantization!.axis, isConv ? 0 : undefined, qt.name);
    assert.equal(scale.length, isConv ? qt.shape[0] : 1);
    const a = await readAllValues(qt);
    const b = await readAllValues(ft);
    const inner = qt.shape.slice(1).reduce((x, y) => x * y, 1);
    for (let i = 0; i < a.length; i++) {
      const s = scale.length === 1 ? scale[0]! : scale[Math.floor(i / inner)]!;
      assert.ok(Math.abs(a[i]! - b[i]!) <= s / 2 + 1e-7 * Math.abs(b[i]!), `${qt.name}[${i}]: ${a[i]} vs ${b[i]} (scale ${s})`);
    }
    const codes = extraOf(qt).quantizedCodes as QuantizedCodeSummary;
    assert.equal(codes.saturatedLowCount, 0, 'symmetric int8 weights never use -128');
    checked++;
  }
  assert.equal(checked, 10);
});

test('KWS DS-CNN: depthwise filters per-channel on dim 3 with a Keras [kh,kw,C,M] view; BN-fused names resolve to the right layer', async (t) => {
  const rel = 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model.tflite';
  if (!fixtureOrSkip(t, rel)) {
    return;
  }
  const wf = await openFixture(rel);
  const dw = wf.tensors.filter((x) => x.role === 'depthwise_kernel');
  assert.equal(dw.length, 4);
  for (const x of dw) {
    assert.equal(x.quantization!.axis, 3);
    assert.equal(x.quantization!.scale!.length, 64);
    assert.deepEqual(extraOf(x).kerasLayout, { permutation: [1, 2, 3, 0], kerasShape: [3, 3, 64, 1], reshape: true, kerasWeight: 'depthwise_kernel' });
    assert.match(x.layer, /^functional_1\/depthwise_conv2d(_\d)?$/);
  }
  assert.deepEqual(
    wf.layers.map((l) => l.className),
    ['Conv2D', 'DepthwiseConv2D', 'Conv2D', 'DepthwiseConv2D', 'Conv2D', 'DepthwiseConv2D', 'Conv2D', 'DepthwiseConv2D', 'Conv2D', 'Dense'],
  );
  // The first conv's bias name mentions conv2d_4 too; the consumer op decides its layer.
  const bias0 = wf.tensors.find((x) => x.name.startsWith('functional_1/activation/Relu;'))!;
  assert.equal(bias0.layer, 'functional_1/conv2d');
  assert.equal(wf.tensors.find((x) => x.name === 'functional_1/flatten/Const')!.group, 'other');
  const dyn = await openFixture('tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model_float32.tflite');
  assert.deepEqual(metaOf(dyn).conversionMode, { mode: 'dynamic-range', source: 'weights' });
});

test('float16 and sparse float16 HAR models: DEQUANTIZE and DENSIFY are followed to the FULLY_CONNECTED consumer', async (t) => {
  const rel = 'tflite/har-dnn-tf2.14/stripped_sparse_float16.tflite';
  if (!fixtureOrSkip(t, rel)) {
    return;
  }
  const wf = await openFixture(rel);
  const kernel = wf.tensors.find((x) => x.name === 'sequential_1/dense_4/MatMul1')!;
  assert.deepEqual(
    extraOf(kernel).consumers.map((c: TfliteConsumer) => [c.opName, c.slot, c.via]),
    [['FULLY_CONNECTED', 1, ['DENSIFY', 'DEQUANTIZE']]],
  );
  assert.equal(kernel.layer, 'sequential_1/dense_4');
  assert.equal(kernel.byteLength, 91498);
  assert.equal(extraOf(kernel).sparsity!.storedValues, 45749);
  const values = await readAllValues(kernel, { chunkElements: 1000 });
  assert.equal(values.length, 256 * 561);
  assert.ok(values.length - statsOf(values).zeroCount <= 45749, 'at most the stored values are non-zero');
  assert.deepEqual([...values], [...(await readAllValues(kernel))], 'chunking does not change the densified values');
  const meta = metaOf(wf);
  assert.deepEqual(meta.conversionMetadata!.modelOptimizationModes, [1001, 3001]);
  assert.equal(meta.reducedPrecisionSupport, 'fp16accfp32');
  assert.equal(meta.minRuntimeVersion, '2.2.0'); // DENSIFY needs a newer runtime than the dense float16 twin (1.15.0)
  const dense = await openFixture('tflite/har-dnn-tf2.14/model_float16.tflite');
  assert.equal(metaOf(dense).minRuntimeVersion, '1.15.0');
  const f16kernel = dense.tensors.find((x) => x.name === 'sequential/dense/MatMul')!;
  assert.deepEqual(extraOf(f16kernel).consumers.map((c: TfliteConsumer) => [c.opName, c.slot, c.via]), [['FULLY_CONNECTED', 1, ['DEQUANTIZE']]]);
  assert.equal(f16kernel.dtype, 'float32');
  assert.equal(f16kernel.storageDtype, 'float16');
});

test('BlazeFace (TOCO): deprecated metadata_buffer blobs listed as opaque, no runtime version, TOCO names give layers', async (t) => {
  const rel = 'tflite/mediapipe-blazeface-toco/face_detection_front.tflite';
  if (!fixtureOrSkip(t, rel)) {
    return;
  }
  const wf = await openFixture(rel);
  const meta = metaOf(wf);
  assert.deepEqual(meta.deprecatedMetadataBuffers, [
    { buffer: 86, byteLength: 392, identifier: 'FDMD', opaque: true },
    { buffer: 87, byteLength: 84, identifier: 'MSMD', opaque: true },
  ]);
  assert.equal(meta.minRuntimeVersion, undefined);
  assert.equal(wf.layers.length, 21 + 16);
  assert.equal(wf.layers[0]!.name, 'conv2d');
  assert.deepEqual(wf.layers[0]!.tensors, ['conv2d/Kernel', 'conv2d/Bias']);
  assert.equal(wf.tensors.length, 85);
  assert.equal(meta.outputs.map((o) => o.name).join(','), 'regressors,classificators');
});

test('style transfer (TOCO): bare 5-byte min_runtime_version, FLOAT16 constants through DEQUANTIZE, output without shape', async (t) => {
  const rel = 'tflite/tflite-style-transfer-toco/style_transfer_f16_384.tflite';
  if (!fixtureOrSkip(t, rel)) {
    return;
  }
  const wf = await openFixture(rel);
  const meta = metaOf(wf);
  assert.equal(meta.minRuntimeVersion, '1.6.0');
  assert.equal(meta.producer, 'TOCO (TF 1.x)');
  const f16 = wf.tensors.filter((x) => x.storageDtype === 'float16');
  assert.equal(f16.length, 88);
  assert.ok(f16.every((x) => x.quantization?.scheme === 'float16' && x.dtype === 'float32'));
  assert.deepEqual(meta.conversionMode.mode, 'float16');
  const dyn = await openFixture('tflite/tflite-style-transfer-toco/style_transfer_quantized_dynamic.tflite');
  assert.equal(metaOf(dyn).outputs[0]!.shape, null);
});

// ---------------------------------------------------------------------------------------------
// Lazy reading and chunking.

/** A ByteSource that records every read. */
class RecordingSource implements ByteSource {
  readonly reads: [number, number][] = [];
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.size = bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return new MemoryByteSource(this.name, this.bytes).read(offset, length);
  }
  async close(): Promise<void> {}
}

const emptyFiles = new MemoryFileSet('mem', new Map());

test('tensor values are read lazily by byte range, and chunked per-channel dequantization equals a single read', async (t) => {
  const file = fixtureOrSkip(t, 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model.tflite');
  if (!file) {
    return;
  }
  const src = new RecordingSource('kws.tflite', new Uint8Array(fs.readFileSync(file)));
  const wf = await openTflite(src, emptyFiles);
  assert.deepEqual(src.reads, [[0, src.size]], 'open reads the FlatBuffer once');
  src.reads.length = 0;
  const conv = wf.tensors.find((x) => x.name === 'functional_1/conv2d/Conv2D')!;
  const whole = await readAllValues(conv);
  const offset = extraOf(conv).byteOffset as number;
  assert.deepEqual(src.reads, [[offset, conv.byteLength]], 'readValues reads only the buffer range');
  const chunked = await readAllValues(conv, { chunkElements: 7 });
  assert.deepEqual([...chunked], [...whole]);
  assert.ok(src.reads.length > 100, 'small chunks give many ranged reads');
});

test('a file over the in-memory limit whose tables lie past the decoded prefix is refused with tooLarge after one prefix read', async (t) => {
  const file = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite'); // 318 KB, tables at the end
  if (!file) {
    return;
  }
  const src = new RecordingSource('resnet.tflite', new Uint8Array(fs.readFileSync(file)));
  const limits = { maxInMemoryBytes: 100_000, tablePrefixBytes: 64_000 };
  await assert.rejects(
    openTflite(src, emptyFiles, {}, limits),
    (ex: unknown) => WeightFileError.is(ex, 'tooLarge') && ex.message.includes('beyond the first 64000 bytes decoded') && ex.message.includes(String(src.size)),
  );
  assert.deepEqual(src.reads, [[0, 64_000]]);
  assert.equal(maxInMemoryBytes, 256 * 1024 * 1024);
});

// ---------------------------------------------------------------------------------------------
// Broken files, built in memory from a copy of a real fixture.

/** Absolute position of field `id` of the table at `table`, following the FlatBuffers vtable rules by hand. */
function fieldPos(b: Uint8Array, table: number, id: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const vt = table - dv.getInt32(table, true);
  const rel = dv.getUint16(vt + 4 + 2 * id, true);
  assert.ok(rel > 0, `field ${id} present`);
  return table + rel;
}
function deref(b: Uint8Array, pos: number): number {
  return pos + new DataView(b.buffer, b.byteOffset).getUint32(pos, true);
}
/** Position of the table at element i of the table vector whose uoffset is at `pos`. */
function vecTable(b: Uint8Array, pos: number, i: number): number {
  const v = deref(b, pos);
  return deref(b, v + 4 + 4 * i);
}

async function helloBytes(t: import('node:test').TestContext): Promise<Uint8Array | undefined> {
  const file = fixtureOrSkip(t, 'tflite/tflm-hello-world-tf2.11/hello_world_int8.tflite');
  return file ? new Uint8Array(fs.readFileSync(file)) : undefined;
}

function openBytes(bytes: Uint8Array, name = 'broken.tflite'): Promise<WeightFile> {
  return openTflite(new MemoryByteSource(name, bytes), emptyFiles);
}

test('broken: wrong file identifier is unrecognized, quoting the identifier', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  b.set([0x54, 0x46, 0x4c, 0x32], 4); // "TFL2"
  await assert.rejects(openBytes(b), (ex: unknown) => WeightFileError.is(ex, 'unrecognized') && ex.message.includes('"TFL2"') && ex.message.includes('broken.tflite'));
  assert.equal(tfliteReader.sniff({ fileName: 'x.bin', size: b.length, head: b.subarray(0, 4096), tail: b.subarray(-64) }), undefined);
  // An HTML page saved as .tflite reaches the reader by name and is refused clearly.
  const html = new TextEncoder().encode('<!DOCTYPE html><html><body>not a model</body></html>');
  await assert.rejects(openWeightSource(new MemoryByteSource('page.tflite', html), 'page.tflite', emptyFiles), (ex: unknown) => WeightFileError.is(ex, 'unrecognized'));
});

test('broken: truncated files give truncated, naming the file and the byte past the end', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  for (const n of [5, 27, Math.floor(b.length / 2), b.length - 1]) {
    await assert.rejects(
      openBytes(b.slice(0, n)),
      (ex: unknown) => WeightFileError.is(ex, 'truncated') && ex.message.startsWith('broken.tflite: ') && ex.message.includes(String(n)),
      `cut at ${n}`,
    );
  }
});

test('broken: a cut inside the tables names what it cut (an offset, a field of a table), not "a 32-bit value"', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const cut = async (n: number): Promise<string> => {
    try {
      await openBytes(b.slice(0, n));
    } catch (ex) {
      assert.ok(WeightFileError.is(ex, 'truncated'), String(ex));
      return ex.message;
    }
    throw new Error(`cut at ${n} opened`);
  };
  // The root table's operator_codes offset lies at byte 48, the first operator code's builtin_code (field 3) at byte 2700.
  const root = deref(b, 0);
  assert.equal(fieldPos(b, root, 1), 48);
  assert.equal(await cut(44), 'broken.tflite: the offset to the root table.operator_codes at byte 48 needs 4 bytes but the file ends at byte 44; the file might be truncated.');
  assert.equal(fieldPos(b, vecTable(b, 48, 0), 3), 2700);
  assert.equal(await cut(2696), 'broken.tflite: the int32 field 3 of the operator_codes[0] at byte 2700 needs 4 bytes but the file ends at byte 2696; the file might be truncated.');
});

test('broken: a tensor buffer index out of range makes that tensor unavailable; the rest of the file opens', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const root = deref(b, 0);
  const sg = vecTable(b, fieldPos(b, root, 2), 0);
  const tensorsField = fieldPos(b, sg, 0);
  // find the tensor named sequential/dense_1/MatMul
  const count = new DataView(b.buffer).getUint32(deref(b, tensorsField), true);
  let target = -1;
  for (let i = 0; i < count; i++) {
    const tt = vecTable(b, tensorsField, i);
    const np = deref(b, fieldPos(b, tt, 3));
    const len = new DataView(b.buffer).getUint32(np, true);
    if (new TextDecoder().decode(b.subarray(np + 4, np + 4 + len)) === 'sequential/dense_1/MatMul') {
      target = tt;
    }
  }
  assert.ok(target > 0);
  new DataView(b.buffer).setUint32(fieldPos(b, target, 2), 9999, true);
  const wf = await openBytes(b);
  assert.equal(wf.tensors.length, 6);
  const bad = wf.tensors.find((x) => x.name === 'sequential/dense_1/MatMul')!;
  assert.equal(bad.unavailable?.reason, 'corrupt');
  assert.match(bad.unavailable!.message, /buffer index 9999 is out of range \(the model has 13 buffers\)/);
  assert.deepEqual(wf.warnings.map((w) => [w.reason, w.tensor]), [['corrupt', 'sequential/dense_1/MatMul']]);
  assert.equal(bad.layer, 'sequential/dense_1', 'the damaged tensor keeps the layer of its consumer op');
  assert.equal(bad.role, 'kernel');
  await assert.rejects(readAllValues(bad), (ex: unknown) => WeightFileError.is(ex, 'corrupt'));
  for (const ok of wf.tensors.filter((x) => x !== bad)) {
    assert.equal((await readAllValues(ok)).length, ok.shape.reduce((x, y) => x * y, 1));
  }
});

test('broken: an offset past the end and a vtable before the start are reported with the offending byte', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const root = deref(b, 0);
  const subgraphsField = fieldPos(b, root, 2);
  const c1 = b.slice();
  new DataView(c1.buffer).setUint32(subgraphsField, 0x7ffffff0, true);
  await assert.rejects(
    openBytes(c1),
    (ex: unknown) => WeightFileError.is(ex, 'truncated') && ex.message.includes(`byte ${subgraphsField + 0x7ffffff0}`) && ex.message.includes('past the end of the file'),
  );
  const c2 = b.slice();
  new DataView(c2.buffer).setInt32(root, root + 1000, true); // vtable at root - (root + 1000) < 0
  await assert.rejects(openBytes(c2), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.includes('before the start of the file'));
  const c3 = b.slice();
  const tensor0 = vecTable(c3, fieldPos(c3, vecTable(c3, subgraphsField, 0), 0), 0);
  new DataView(c3.buffer).setUint32(fieldPos(c3, tensor0, 2), 0, true); // tensor 0 now points at the empty sentinel: not a constant
  const wf = await openBytes(c3);
  assert.ok(wf.tensors.length >= 5);
});

test('broken: absurd vector lengths are rejected before any allocation', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const root = deref(b, 0);
  const sg = vecTable(b, fieldPos(b, root, 2), 0);
  const c1 = b.slice();
  new DataView(c1.buffer).setUint32(deref(c1, fieldPos(c1, sg, 0)), 0xfffffff0, true); // tensors count
  await assert.rejects(openBytes(c1), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.includes('claims 4294967280 elements'));
  const c2 = b.slice();
  const tensor0 = vecTable(c2, fieldPos(c2, sg, 0), 0);
  new DataView(c2.buffer).setUint32(deref(c2, fieldPos(c2, tensor0, 0)), 1_000_000, true); // shape length
  await assert.rejects(openBytes(c2), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.includes('claims 1000000 elements'));
});

test('broken: a constant whose shape disagrees with its buffer length is unavailable with both sizes quoted', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const wfOk = await openBytes(b.slice());
  const kernel = wfOk.tensors.find((x) => x.name === 'sequential/dense_1/MatMul')!;
  const idx = extraOf(kernel).tensorIndex as number;
  const root = deref(b, 0);
  const sg = vecTable(b, fieldPos(b, root, 2), 0);
  const tt = vecTable(b, fieldPos(b, sg, 0), idx);
  const shape = deref(b, fieldPos(b, tt, 0));
  new DataView(b.buffer).setInt32(shape + 4, 17, true); // [16,16] -> [17,16]
  const wf = await openBytes(b);
  const bad = wf.tensors.find((x) => x.name === 'sequential/dense_1/MatMul')!;
  assert.equal(bad.unavailable?.reason, 'corrupt');
  assert.match(bad.unavailable!.message, /needs 272 bytes but its buffer \d+ holds 256/);
  assert.equal(wf.warnings.length, 1);
});

test('broken: a constant with a negative dimension or without a shape (its buffer not one element) has an unknown shape, not a scalar one', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const name = 'sequential/dense_1/MatMul';
  const wfOk = await openBytes(b.slice());
  const idx = extraOf(wfOk.tensors.find((x) => x.name === name)!).tensorIndex as number;
  const kernelTable = (c: Uint8Array): number => vecTable(c, fieldPos(c, vecTable(c, fieldPos(c, deref(c, 0), 2), 0), 0), idx);

  const negative = b.slice();
  new DataView(negative.buffer).setInt32(deref(negative, fieldPos(negative, kernelTable(negative), 0)) + 4, -1, true); // [16,16] -> [-1,16]
  const bad = (await openBytes(negative)).tensors.find((x) => x.name === name)!;
  assert.deepEqual([bad.shape, bad.shapeUnknown, bad.unavailable?.reason], [[-1, 16], true, 'corrupt']);
  assert.match(bad.unavailable!.message, /has an invalid shape \[-1, 16\]/);

  // No `shape` field (its vtable slot 0): a 256-byte buffer is no scalar, so the shape is unknown.
  const absent = b.slice();
  const table = kernelTable(absent);
  const dv = new DataView(absent.buffer);
  dv.setUint16(table - dv.getInt32(table, true) + 4, 0, true);
  const none = (await openBytes(absent)).tensors.find((x) => x.name === name)!;
  assert.deepEqual([none.shape, none.shapeUnknown, none.unavailable?.reason], [[], true, 'corrupt']);
  assert.match(none.unavailable!.message, /of shape \[\] \(none stored, read as a scalar\) and type INT8 needs 1 bytes but its buffer \d+ holds 256/);
  assert.equal(wfOk.tensors.find((x) => x.name === name)!.shapeUnknown, undefined);
});

// ---------------------------------------------------------------------------------------------
// Pure functions.

test('layerScopeFromName picks the op-specific segment of ;-joined names', () => {
  const fused = 'model/activation/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd/ReadVariableOp/resource;model/conv2d/BiasAdd;model/conv2d_2/Conv2D;model/conv2d/Conv2D';
  assert.equal(layerScopeFromName(fused, 3), 'model/conv2d');
  assert.equal(layerScopeFromName('sequential_1/dense_4/MatMul1', 9), 'sequential_1/dense_4');
  assert.equal(layerScopeFromName('style/Conv/weights/read', 3), 'style/Conv');
  assert.equal(layerScopeFromName('conv2d/Kernel', 3), 'conv2d');
  assert.equal(layerScopeFromName('transformer/residual/residual1/conv1/StyleNorm/batchnorm/add/y', 0), 'transformer/residual/residual1/conv1/StyleNorm/batchnorm');
  assert.equal(layerScopeFromName('model/bn/mul_1/y', 18), 'model/bn');
  assert.equal(layerScopeFromName(undefined, 3), undefined);
});

test('kerasLayoutFor describes the transposes as data', () => {
  const fc: KerasLayout | undefined = kerasLayoutFor(9, 1, [10, 64]);
  assert.deepEqual(fc, { permutation: [1, 0], kerasShape: [64, 10], reshape: false, kerasWeight: 'kernel' });
  assert.deepEqual(kerasLayoutFor(3, 1, [32, 3, 3, 16])?.kerasShape, [3, 3, 16, 32]);
  assert.deepEqual(kerasLayoutFor(4, 1, [1, 3, 3, 48], 24), { permutation: [1, 2, 3, 0], kerasShape: [3, 3, 24, 2], reshape: true, kerasWeight: 'depthwise_kernel' });
  assert.deepEqual(kerasLayoutFor(67, 1, [8, 3, 3, 4])?.kerasShape, [3, 3, 8, 4]);
  assert.equal(kerasLayoutFor(22, 1, [2]), undefined);
});

test('sniff: a real TFLite file scores 100 by its identifier', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  assert.equal(tfliteReader.sniff({ fileName: 'model.bin', size: b.length, head: b.subarray(0, 4096), tail: b.subarray(-64) }), 100);
  const reader = await detectFormat(new MemoryByteSource('m.tflite', b), 'm.tflite');
  assert.equal(reader.id, 'tflite');
});

// ---------------------------------------------------------------------------------------------
// A synthetic model built in memory: every TensorType, the > 2 GB offset layout, per-channel
// FULLY_CONNECTED, duplicate names, a second subgraph. Expected values are known by construction.

function bytesOf(kind: 'f32' | 'f64' | 'i32' | 'u32' | 'i16' | 'u16' | 'i64' | 'u64', values: (number | bigint)[]): number[] {
  const size = { f32: 4, f64: 8, i32: 4, u32: 4, i16: 2, u16: 2, i64: 8, u64: 8 }[kind];
  const dv = new DataView(new ArrayBuffer(size * values.length));
  values.forEach((v, i) => {
    const at = i * size;
    const setters: Record<typeof kind, () => void> = {
      f32: () => dv.setFloat32(at, Number(v), true),
      f64: () => dv.setFloat64(at, Number(v), true),
      i32: () => dv.setInt32(at, Number(v), true),
      u32: () => dv.setUint32(at, Number(v), true),
      i16: () => dv.setInt16(at, Number(v), true),
      u16: () => dv.setUint16(at, Number(v), true),
      i64: () => dv.setBigInt64(at, BigInt(v), true),
      u64: () => dv.setBigUint64(at, BigInt(v), true),
    };
    setters[kind]();
  });
  return [...new Uint8Array(dv.buffer)];
}

interface SynthTensor {
  name: string;
  type: number;
  shape?: number[];
  data?: number[];
  external?: { offset: number; size: number };
  quant?: { scale: number[]; zeroPoint?: number[]; dim?: number };
  isVariable?: boolean;
}

/** Extra operators for a synthetic model: builtin code, input and output tensor names. */
interface SynthOp {
  code: number;
  inputs: string[];
  outputs: string[];
}

/** Builds a TFLite model: subgraph 0 holds `tensors`, one FULLY_CONNECTED and `extraOps`; subgraph 1 one constant. */
function synthModel(tensors: SynthTensor[], trailing: number[] = [], extraOps: SynthOp[] = [], extraMetadata: { name: string; bytes: Uint8Array }[] = []): Uint8Array {
  const buffers: TableSpec[] = [[]];
  const tensorTables = tensors.map((t): TableSpec => {
    let buffer = 0;
    if (t.data || t.external) {
      buffer = buffers.length;
      buffers.push(
        t.data
          ? [{ id: 0, kind: 'vec', elem: 'u8', value: t.data }]
          : [
              { id: 1, kind: 'u64', value: t.external!.offset },
              { id: 2, kind: 'u64', value: t.external!.size },
            ],
      );
    }
    const spec: TableSpec = [
      ...(t.shape ? [{ id: 0, kind: 'vec', elem: 'i32', value: t.shape } as Field] : []),
      { id: 1, kind: 'i8', value: t.type },
      { id: 2, kind: 'u32', value: buffer },
      { id: 3, kind: 'string', value: t.name },
    ];
    if (t.quant) {
      spec.push({
        id: 4,
        kind: 'table',
        value: [
          { id: 2, kind: 'vec', elem: 'f32', value: t.quant.scale },
          { id: 3, kind: 'vec', elem: 'i64', value: t.quant.zeroPoint ?? t.quant.scale.map(() => 0) },
          { id: 6, kind: 'i32', value: t.quant.dim ?? 0 },
        ],
      });
    }
    if (t.isVariable) {
      spec.push({ id: 5, kind: 'bool', value: 1 });
    }
    return spec;
  });
  const idx = (name: string): number => tensors.findIndex((t) => t.name === name);
  buffers.push([{ id: 0, kind: 'vec', elem: 'u8', value: [...new TextEncoder().encode('2.9.0'), 0, 0, 0] }]);
  const runtimeBuffer = buffers.length - 1;
  buffers.push([{ id: 0, kind: 'vec', elem: 'u8', value: bytesOf('f32', [9]) }]);
  const sub1Buffer = buffers.length - 1;
  const metadataEntries: TableSpec[] = [[{ id: 0, kind: 'string', value: 'min_runtime_version' }, { id: 1, kind: 'u32', value: runtimeBuffer }]];
  for (const m of extraMetadata) {
    buffers.push([{ id: 0, kind: 'vec', elem: 'u8', value: m.bytes }]);
    metadataEntries.push([{ id: 0, kind: 'string', value: m.name }, { id: 1, kind: 'u32', value: buffers.length - 1 }]);
  }
  const model: TableSpec = [
    { id: 0, kind: 'u32', value: 3 },
    {
      id: 1,
      kind: 'tables',
      value: [
        [{ id: 0, kind: 'i8', value: 9 }, { id: 2, kind: 'i32', value: 9 }, { id: 3, kind: 'i32', value: 9 }],
        ...extraOps.map((o): TableSpec => [{ id: 0, kind: 'i8', value: Math.min(o.code, 127) }, { id: 3, kind: 'i32', value: o.code }]),
      ],
    },
    {
      id: 2,
      kind: 'tables',
      value: [
        [
          { id: 0, kind: 'tables', value: tensorTables },
          { id: 1, kind: 'vec', elem: 'i32', value: [idx('x')] },
          { id: 2, kind: 'vec', elem: 'i32', value: [idx('fc_out')] },
          {
            id: 3,
            kind: 'tables',
            value: [
              [
                { id: 0, kind: 'u32', value: 0 },
                { id: 1, kind: 'vec', elem: 'i32', value: [idx('x'), idx('dense_x/MatMul'), -1] },
                { id: 2, kind: 'vec', elem: 'i32', value: [idx('fc_out')] },
                { id: 3, kind: 'u8', value: 8 }, // FullyConnectedOptions
                { id: 4, kind: 'table', value: [{ id: 0, kind: 'i8', value: 1 }] }, // fused_activation_function RELU
              ],
              ...extraOps.map((o, i): TableSpec => [
                { id: 0, kind: 'u32', value: i + 1 },
                { id: 1, kind: 'vec', elem: 'i32', value: o.inputs.map(idx) },
                { id: 2, kind: 'vec', elem: 'i32', value: o.outputs.map(idx) },
              ]),
            ],
          },
          { id: 4, kind: 'string', value: 'main' },
        ],
        [{ id: 0, kind: 'tables', value: [[{ id: 0, kind: 'vec', elem: 'i32', value: [1] }, { id: 2, kind: 'u32', value: sub1Buffer }, { id: 3, kind: 'string', value: 'w' }]] }],
      ],
    },
    { id: 3, kind: 'string', value: 'synthetic' },
    { id: 4, kind: 'tables', value: buffers },
    { id: 6, kind: 'tables', value: metadataEntries },
  ];
  const fb = writeFlatBuffer(model, 'TFL3');
  const out = new Uint8Array(fb.length + trailing.length);
  out.set(fb);
  out.set(trailing, fb.length);
  return out;
}

function synthTensors(externalOffset: number): SynthTensor[] {
  return [
    { name: 'x', type: 0, shape: [1, 3] },
    { name: 'f32', type: 0, shape: [2, 3], data: bytesOf('f32', [1.5, -2, 0, 3.25, 0.125, -7]) },
    { name: 'f16', type: 1, shape: [4], data: bytesOf('u16', [0x3c00, 0xc000, 0x0001, 0x7c00]) },
    { name: 'i32', type: 2, shape: [3], data: bytesOf('i32', [-5, 0, 2147483647]) },
    { name: 'u8q', type: 3, shape: [4], data: [0, 128, 255, 130], quant: { scale: [0.5], zeroPoint: [128] } },
    { name: 'i64', type: 4, shape: [2], data: bytesOf('i64', [-3, 2 ** 40]) },
    { name: 'bool', type: 6, shape: [3], data: [1, 0, 1] },
    { name: 'i16q', type: 7, shape: [3], data: bytesOf('i16', [-32768, 0, 32767]), quant: { scale: [0.001] } },
    { name: 'c64', type: 8, shape: [2], data: bytesOf('f32', [1, 2, 3, 4]) },
    { name: 'dense_x/MatMul', type: 9, shape: [2, 3], data: [0x81, 0, 127, 1, 0x80, 2], quant: { scale: [0.1, 0.2], dim: 0 } },
    { name: 'f64', type: 10, shape: [2], data: bytesOf('f64', [Math.PI, -0.5]) },
    { name: 'u64', type: 12, shape: [1], data: bytesOf('u64', [12345678901n]) },
    { name: 'u32', type: 15, shape: [2], data: bytesOf('u32', [4294967295, 7]) },
    { name: 'u16', type: 16, shape: [2], data: bytesOf('u16', [65535, 1]) },
    { name: 'i4q', type: 17, shape: [5], data: [0x78, 0xf0, 0x03], quant: { scale: [0.25] } },
    { name: 'bf16', type: 18, shape: [2], data: bytesOf('u16', [0x3f80, 0xc020]) },
    { name: 'str', type: 5, shape: [2], data: [...bytesOf('i32', [2, 16, 18, 19]), 0x61, 0x62, 0x63] },
    { name: 'int2', type: 19, shape: [4], data: [0x1b] },
    { name: 'f8', type: 21, shape: [2], data: [0x38, 0xc0] },
    { name: 'ext', type: 0, shape: [2], external: { offset: externalOffset, size: 8 } },
    { name: 'ext_bad', type: 0, shape: [2], external: { offset: 1 << 30, size: 8 } },
    { name: 'dup', type: 0, shape: [1], data: bytesOf('f32', [1]) },
    { name: 'dup', type: 0, shape: [1], data: bytesOf('f32', [2]) },
    { name: 'dw_bias', type: 2, shape: [3], data: bytesOf('i32', [1, 1, 1]), quant: { scale: [1, 2, 3], dim: 3 } },
    { name: 'fc_out', type: 0, shape: [1, 2] },
    { name: 'var', type: 0, shape: [1], data: bytesOf('f32', [0]), isVariable: true },
  ];
}

test('synthetic model: every TensorType, offset-layout buffers, per-channel FULLY_CONNECTED, duplicate names, two subgraphs', async () => {
  // Build once to learn the FlatBuffer size, then place the external data 16-aligned after it.
  const size = synthModel(synthTensors(0)).length;
  const extOffset = Math.ceil(size / 16) * 16;
  const trailing = [...new Array<number>(extOffset - size).fill(0), ...bytesOf('f32', [0.5, -0.25])];
  const bytes = synthModel(synthTensors(extOffset), trailing);
  const wf = await openBytes(bytes, 'synthetic.tflite');
  const byName = new Map(wf.tensors.map((x) => [x.name, x]));
  const values = async (name: string): Promise<number[]> => [...(await readAllValues(byName.get(name)!))];

  assert.deepEqual(
    wf.tensors.map((x) => x.name),
    ['f32', 'f16', 'i32', 'u8q', 'i64', 'bool', 'i16q', 'c64', 'dense_x/MatMul', 'f64', 'u64', 'u32', 'u16', 'i4q', 'bf16', 'str', 'int2', 'f8', 'ext', 'ext_bad', 'dup', 'dup (tensor 22)', 'dw_bias', 'var', 'subgraph_1/w'],
  );
  assert.deepEqual(await values('f32'), [1.5, -2, 0, 3.25, 0.125, -7]);
  assert.equal(byName.get('f16')!.dtype, 'float16', 'a float16 constant not feeding DEQUANTIZE keeps its dtype');
  assert.deepEqual(await values('f16'), [1, -2, 2 ** -24, Infinity]);
  assert.deepEqual(await values('i32'), [-5, 0, 2147483647]);
  assert.equal(byName.get('i32')!.quantization, undefined);
  assert.deepEqual(await values('u8q'), [-64, 0, 63.5, 1], 'legacy uint8: scale 0.5, zero point 128');
  assert.equal(byName.get('u8q')!.dtype, 'float32');
  assert.deepEqual(await values('i64'), [-3, 2 ** 40]);
  assert.deepEqual(await values('bool'), [1, 0, 1]);
  const s001 = Math.fround(0.001);
  assert.deepEqual(await values('i16q'), [-32768 * s001, 0, 32767 * s001]);
  assert.deepEqual(await values('c64'), [1, 2, 3, 4]);
  const s1 = Math.fround(0.1);
  const s2 = Math.fround(0.2);
  assert.deepEqual(await values('dense_x/MatMul'), [-127 * s1, 0, 127 * s1, 1 * s2, -128 * s2, 2 * s2]);
  assert.deepEqual(await values('f64'), [Math.PI, -0.5]);
  assert.deepEqual(await values('u64'), [12345678901]);
  assert.deepEqual(await values('u32'), [4294967295, 7]);
  assert.deepEqual(await values('u16'), [65535, 1]);
  assert.deepEqual(await values('i4q'), [-2, 1.75, 0, -0.25, 0.75], 'int4 packed low nibble first, 5 values in 3 bytes');
  assert.deepEqual(await values('bf16'), [1, -2.5]);
  assert.deepEqual(await values('f8'), [1, -2]);
  assert.deepEqual(await values('ext'), [0.5, -0.25]);
  assert.equal(extraOf(byName.get('ext')!).bufferLayout, 'offset');
  assert.deepEqual(await values('dup'), [1]);
  assert.deepEqual(await values('dup (tensor 22)'), [2]);
  assert.deepEqual(await values('dw_bias'), [1, 2, 3], 'quantized_dimension past the rank falls back to axis 0');
  assert.deepEqual(await values('subgraph_1/w'), [9]);

  // data-less or undecodable types are confined to their tensor
  await assert.rejects(readAllValues(byName.get('str')!), (ex: unknown) => WeightFileError.is(ex, 'unsupportedDtype'));
  assert.equal(byName.get('str')!.storageDtype, 'string');
  assert.equal(byName.get('int2')!.unavailable?.reason, 'unsupportedDtype');
  assert.match(byName.get('int2')!.unavailable!.message, /TensorType 19 \(INT2\)/);
  assert.equal(byName.get('ext_bad')!.unavailable?.reason, 'truncated');
  assert.match(byName.get('ext_bad')!.unavailable!.message, /bytes 1073741824\.\.1073741832/);
  assert.deepEqual(wf.warnings.map((w) => [w.reason, w.tensor]), [
    ['unsupportedDtype', 'int2'],
    ['truncated', 'ext_bad'],
  ]);

  // per-channel FULLY_CONNECTED kernel, its layer and raw-code summary
  const kernel = byName.get('dense_x/MatMul')!;
  assert.deepEqual(kernel.quantization, { storageDtype: 'int8', scheme: 'tflite-affine', scale: [s1, s2], zeroPoint: [0, 0], axis: 0 });
  assert.deepEqual(extraOf(kernel).quantizedCodes, {
    storageDtype: 'int8',
    codeRange: [-128, 127],
    axis: 0,
    channelMinCode: [-127, -128],
    channelMaxCode: [127, 2],
    channelRangeUse: [254 / 255, 130 / 255],
    minRangeUse: 130 / 255,
    meanRangeUse: (254 / 255 + 130 / 255) / 2,
    saturatedLowCount: 1,
    saturatedHighCount: 1,
    zeroPoints: [0, 0],
    codeCount: 6,
  });
  assert.deepEqual(extraOf(kernel).kerasLayout, { permutation: [1, 0], kerasShape: [3, 2], reshape: false, kerasWeight: 'kernel' });
  assert.deepEqual(wf.layers, [
    { name: 'dense_x', className: 'Dense', activation: 'relu', units: 2, tensors: ['dense_x/MatMul'], config: { op: 'FULLY_CONNECTED', opIndex: 0, subgraph: 0, opVersion: 9 } },
  ]);
  assert.equal(kernel.group, 'model');
  assert.equal(byName.get('f32')!.group, 'other', 'a constant no op consumes is not a weight');
  assert.equal(byName.get('var')!.group, 'other');
  assert.equal(extraOf(byName.get('var')!).isVariable, true);

  const meta = metaOf(wf);
  assert.equal(meta.minRuntimeVersion, '2.9.0');
  assert.equal(meta.description, 'synthetic');
  assert.deepEqual(meta.subgraphs.map((s) => [s.name, s.tensorCount, s.constantCount]), [
    ['main', 26, 24],
    [null, 1, 1],
  ]);
  assert.deepEqual(meta.opsHistogram, { FULLY_CONNECTED: 1 });
  assert.deepEqual(meta.inputs, [{ tensorIndex: 0, name: 'x', dtype: 'float32', shape: [1, 3] }]);
});

test('broken: a sparse index outside the dense shape makes that tensor\'s readValues throw corrupt; the others still read', async (t) => {
  const file = fixtureOrSkip(t, 'tflite/har-dnn-tf2.14/stripped_sparse_float16.tflite');
  if (!file) {
    return;
  }
  const b = new Uint8Array(fs.readFileSync(file));
  const wfOk = await openBytes(b.slice());
  const idx = extraOf(wfOk.tensors.find((x) => x.name === 'sequential_1/dense_4/MatMul1')!).tensorIndex;
  const root = deref(b, 0);
  const sg = vecTable(b, fieldPos(b, root, 2), 0);
  const tt = vecTable(b, fieldPos(b, sg, 0), idx);
  const sparsity = deref(b, fieldPos(b, tt, 6));
  const dim1 = vecTable(b, fieldPos(b, sparsity, 2), 1);
  assert.equal(b[fieldPos(b, dim1, 4)], 2, 'array_indices is a Uint16Vector');
  const values = deref(b, fieldPos(b, deref(b, fieldPos(b, dim1, 5)), 0));
  new DataView(b.buffer).setUint16(values + 4, 60000, true); // first column index
  const wf = await openBytes(b);
  const bad = wf.tensors.find((x) => x.name === 'sequential_1/dense_4/MatMul1')!;
  await assert.rejects(readAllValues(bad), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.includes('index 60000 outside dimension 1 of size 561'));
  for (const ok of wf.tensors.filter((x) => x !== bad)) {
    assert.ok((await readAllValues(ok)).length > 0, ok.name);
  }
});

test('cancellation: an aborted signal stops open and readValues with cancelled', async (t) => {
  const b = await helloBytes(t);
  if (!b) {
    return;
  }
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(openTflite(new MemoryByteSource('c.tflite', b), emptyFiles, { signal: controller.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  const wf = await openBytes(b);
  await assert.rejects(readAllValues(wf.tensors[1]!, { signal: controller.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
});

test('the bytes read at open are released: an opened file keeps only byte ranges', async (t) => {
  const file = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite');
  if (!file) {
    return;
  }
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const data = new Uint8Array(fs.readFileSync(file));
  let whole: WeakRef<Uint8Array> | undefined;
  const src: ByteSource = {
    name: 'resnet.tflite',
    size: data.length,
    read: async (offset, length) => {
      const copy = data.slice(offset, offset + length);
      if (length === data.length) {
        whole = new WeakRef(copy);
      }
      return copy;
    },
    close: async () => {},
  };
  const wf = await openTflite(src, emptyFiles);
  for (let i = 0; i < 3 && whole?.deref(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  assert.ok(whole, 'open read the whole file once');
  assert.equal(whole.deref(), undefined, 'the whole-file bytes were collected while the WeightFile is alive');
  assert.equal((await readAllValues(wf.tensors.find((x) => x.name === 'model/conv2d_8/Conv2D')!)).length, 64 * 32);
});

test('damaged graphs: DEQUANTIZE ops that loop back are followed once, not forever', async () => {
  const tensors: SynthTensor[] = [
    { name: 'x', type: 0, shape: [1, 3] },
    { name: 'dense_x/MatMul', type: 1, shape: [2, 3], data: bytesOf('u16', [0x3c00, 0, 0, 0, 0, 0x3c00]) },
    { name: 'a', type: 0, shape: [2, 3] },
    { name: 'fc_out', type: 0, shape: [1, 2] },
  ];
  // 40 DEQUANTIZE ops all reading the constant and 'a', all writing 'a': a cycle with fan-out.
  const ops: SynthOp[] = Array.from({ length: 40 }, () => ({ code: 6, inputs: ['dense_x/MatMul', 'a'], outputs: ['a'] }));
  const started = Date.now();
  const wf = await openBytes(synthModel(tensors, [], ops), 'loop.tflite');
  assert.ok(Date.now() - started < 2000, 'opens promptly');
  const kernel = wf.tensors.find((x) => x.name === 'dense_x/MatMul')!;
  assert.equal(extraOf(kernel).consumers.filter((c) => c.opName === 'FULLY_CONNECTED').length, 1);
  assert.deepEqual(await readAllValues(kernel), new Float64Array([1, 0, 0, 0, 0, 1]));
});

test('> 2 GB buffer layout past the in-memory limit: tables decoded from the prefix, data read lazily by Buffer.offset', async () => {
  // The FlatBuffer (a few KB) then, far beyond the decoded prefix, the data of 'ext'; bytes in between read as zeros.
  const extOffset = 3 * 1024 * 1024;
  const fbBytes = synthModel(synthTensors(extOffset));
  const data = new Uint8Array(bytesOf('f32', [0.5, -0.25]));
  const size = extOffset + 4096;
  const reads: [number, number][] = [];
  const src: ByteSource = {
    name: 'big.tflite',
    size,
    read: async (offset, length) => {
      reads.push([offset, length]);
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        const p = offset + i;
        out[i] = p < fbBytes.length ? fbBytes[p]! : p >= extOffset && p < extOffset + data.length ? data[p - extOffset]! : 0;
      }
      return out;
    },
    close: async () => {},
  };
  const wf = await openTflite(src, emptyFiles, {}, { maxInMemoryBytes: 1024 * 1024, tablePrefixBytes: 64 * 1024 });
  assert.deepEqual(reads, [[0, 64 * 1024]]);
  const ext = wf.tensors.find((x) => x.name === 'ext')!;
  assert.equal(extraOf(ext).bufferLayout, 'offset');
  assert.deepEqual([...(await readAllValues(ext))], [0.5, -0.25]);
  assert.deepEqual(reads[1], [extOffset, 8]);
  assert.deepEqual([...(await readAllValues(wf.tensors.find((x) => x.name === 'dense_x/MatMul')!))].length, 6);
  assert.equal(wf.tensors.find((x) => x.name === 'ext_bad')!.unavailable?.reason, 'truncated');
});

test('TFLITE_METADATA (M001) descriptive fields are decoded and an appended associated-files ZIP is noticed', async () => {
  const m001 = writeFlatBuffer(
    [
      { id: 0, kind: 'string', value: 'Sine model' },
      { id: 1, kind: 'string', value: 'Predicts sin(x).' },
      { id: 2, kind: 'string', value: 'v2' },
      { id: 3, kind: 'tables', value: [[{ id: 0, kind: 'string', value: 'main' }]] },
      { id: 4, kind: 'string', value: 'Weightscope tests' },
      { id: 5, kind: 'string', value: 'Apache-2.0' },
      { id: 6, kind: 'tables', value: [[{ id: 0, kind: 'string', value: 'labels.txt' }, { id: 2, kind: 'i8', value: 3 }]] },
      { id: 7, kind: 'string', value: '1.0.0' },
    ],
    'M001',
  );
  const eocd = [0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)];
  const wf = await openBytes(synthModel(synthTensors(0), eocd, [], [{ name: 'TFLITE_METADATA', bytes: m001 }]), 'meta.tflite');
  assert.deepEqual(metaOf(wf).modelMetadata, {
    name: 'Sine model',
    description: 'Predicts sin(x).',
    version: 'v2',
    author: 'Weightscope tests',
    license: 'Apache-2.0',
    minParserVersion: '1.0.0',
    subgraphs: ['main'],
    associatedFiles: [{ name: 'labels.txt', type: 3 }],
  });
  assert.equal(metaOf(wf).appendedZip, true);
  const broken = m001.slice();
  broken.set([0x4d, 0x30, 0x30, 0x39], 4); // "M009"
  const wf2 = await openBytes(synthModel(synthTensors(0), [], [], [{ name: 'TFLITE_METADATA', bytes: broken }]), 'meta2.tflite');
  assert.equal(metaOf(wf2).modelMetadata, undefined);
  assert.equal(metaOf(wf2).appendedZip, undefined);
  assert.ok(wf2.warnings.some((w) => w.reason === 'corrupt' && w.message.includes('"M009"')));
});

test('a real .tflite cut by 1 to 4 bytes (the empty buffer table its activations share) lists the same constants with their values and warns once; cut into the tables before it, the file is truncated', skipUnlessFixtures, async () => {
  const rel = 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.tflite';
  const ref = reference.files[rel]!.subgraphs[0]!;
  const whole = fs.readFileSync(path.join(fixturesDir, rel));
  // The file's last 4 bytes are one table (soffset 4 back to the 4-byte empty vtable before it): the empty Buffer.
  const tableAt = whole.length - 4;
  assert.equal(whole.readInt32LE(tableAt), 4);
  assert.deepEqual([...whole.subarray(tableAt - 4, tableAt)], [4, 0, 4, 0]);
  const dir = makeTempDir();
  for (const cut of [1, 2, 3, 4]) {
    const copy = path.join(dir, `resnet-${cut}.tflite`);
    fs.writeFileSync(copy, whole.subarray(0, whole.length - cut));
    const file = await openLocalPath(copy);
    try {
      assert.deepEqual(
        file.tensors.map((t) => (t.extra as TfliteTensorExtra).tensorIndex),
        ref.constants.map((c) => c.index),
        `cut ${cut}: the constants of the whole file, no activation`,
      );
      assert.equal(file.warnings.length, 1, `cut ${cut}: ${JSON.stringify(file.warnings)}`);
      const w = file.warnings[0]!;
      assert.equal(w.reason, 'truncated');
      assert.equal(w.tensor, undefined);
      assert.ok(w.message.startsWith(`${copy}: the file is truncated: `), w.message);
      assert.match(w.message, new RegExp(`byte ${tableAt}\\b`));
      assert.match(w.message, new RegExp(`byte ${whole.length - cut}\\b`));
      for (const c of ref.constants) {
        const t = file.tensors.find((x) => (x.extra as TfliteTensorExtra).tensorIndex === c.index)!;
        assert.equal(t.unavailable, undefined, c.name);
        const values = await readAllValues(t);
        assert.equal(values.length, c.stats.count, c.name);
        assert.deepEqual([...values.subarray(0, c.stats.first.length)], c.stats.first, `${c.name}: first values`);
      }
    } finally {
      await file.close();
    }
  }
  const deeper = path.join(dir, 'resnet-5.tflite');
  fs.writeFileSync(deeper, whole.subarray(0, whole.length - 5));
  await assert.rejects(openLocalPath(deeper), (ex: unknown) => WeightFileError.is(ex, 'truncated') && (ex as Error).message.startsWith(`${deeper}: `));
});

test('damaged TFLite models (bytes changed anywhere, some cut short) open or fail with a WeightFileError naming the file', async (t) => {
  const dir = fixtureOrSkip(t, 'tflite');
  if (!dir) {
    return;
  }
  for (const [rel, seed] of [
    ['tflm-hello-world-tf2.11/hello_world_int8.tflite', 31],
    ['mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model.tflite', 32],
  ] as const) {
    const name = path.basename(rel);
    const bytes = fs.readFileSync(path.join(dir, rel));
    const summary = await assertMutationsFailCleanly(name, bytes, (b) => openWeightSource(new MemoryByteSource(name, b), name, emptyFiles), 300, seed, { chunkElements: 256 });
    assert.ok(summary.opened > 0 && summary.refused > 0, `${name}: ${JSON.stringify(summary)}`);
  }
});

test('the op that reads a filter decides its output-channel axis: a CONV_2D with one filter [1, 3, 3, 8] is not taken for a DEPTHWISE_CONV_2D', async () => {
  // Same shape and values for both filters; input channel 5 (the last axis) is 10x larger.
  const filter = Array.from({ length: 72 }, (_, i) => ((i % 7) - 3) * 0.01 * (i % 8 === 5 ? 10 : 1));
  const tensors: SynthTensor[] = [
    { name: 'x', type: 0, shape: [1, 3] },
    { name: 'dense_x/MatMul', type: 0, shape: [2, 3], data: bytesOf('f32', [0.5, -0.25, 0.125, 1, -1, 0.75]) },
    { name: 'fc_out', type: 0, shape: [1, 2] },
    { name: 'img', type: 0, shape: [1, 4, 4, 8] },
    { name: 'model/conv/Conv2D', type: 0, shape: [1, 3, 3, 8], data: bytesOf('f32', filter) },
    { name: 'conv_out', type: 0, shape: [1, 2, 2, 1] },
    { name: 'model/dw/depthwise', type: 0, shape: [1, 3, 3, 8], data: bytesOf('f32', filter) },
    { name: 'dw_out', type: 0, shape: [1, 2, 2, 8] },
  ];
  const ops: SynthOp[] = [
    { code: 3, inputs: ['img', 'model/conv/Conv2D'], outputs: ['conv_out'] }, // CONV_2D
    { code: 4, inputs: ['img', 'model/dw/depthwise'], outputs: ['dw_out'] }, // DEPTHWISE_CONV_2D
  ];
  const wf = await openBytes(synthModel(tensors, [], ops), 'one-filter.tflite');
  const classOf = (tensor: string) => wf.layers.find((l) => l.tensors.includes(tensor))?.className;
  assert.equal(classOf('model/conv/Conv2D'), 'Conv2D');
  assert.equal(classOf('model/dw/depthwise'), 'DepthwiseConv2D');
  const stats = new Map<string, TensorStats>();
  for (const t of wf.tensors) {
    if (t.group === 'model') {
      stats.set(t.name, await computeTensorStats(t));
    }
  }
  const report = await checkWeightFile(wf, stats);
  const perChannel = (tensor: string) => {
    const p = report.precision.find((x) => x.tensor === tensor)!.int8PerChannel!;
    return { axis: p.axis, channels: p.channels };
  };
  assert.deepEqual(perChannel('model/conv/Conv2D'), { axis: 0, channels: 1 });
  assert.deepEqual(perChannel('model/dw/depthwise'), { axis: 3, channels: 8 });
  // The one-filter convolution has one output channel, so its large input channel 5 is no outlier channel.
  const outliers = (tensor: string) => report.precision.find((x) => x.tensor === tensor)!.outlierChannels?.indices ?? [];
  assert.deepEqual(outliers('model/conv/Conv2D'), []);
  assert.deepEqual(outliers('model/dw/depthwise'), [5]);
});
