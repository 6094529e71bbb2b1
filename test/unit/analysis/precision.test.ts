/**
 * Precision analysis against NumPy (test/unit/analysis/precision.reference.json, written by
 * scripts/reference-precision.py): float16 via NumPy's own conversion, bfloat16 by frexp/rint
 * rounding, int8 and TF.js uint8 re-implemented there. Also an exhaustive float16 round-trip
 * against the core decoder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzePrecision, channelLayout, tfjsAffineRange, toBfloat16, toFloat16, type PrecisionReport } from '../../../src/analysis/precision';
import { float16BitsToNumber } from '../../../src/core/dtypes';
import type { TensorInfo } from '../../../src/core/model';
import { repoRoot } from '../helpers/fixtures';
import { buildModel } from './diagnostics/modelBuilder';

interface RefCase {
  name: string;
  shape: number[];
  values: number[];
  absMax: number;
  fp16: Record<string, number>;
  bf16: Record<string, number>;
  int8PerTensor: { sqnrDb: number | null; maxAbsError: number; scale: number; zeroedFraction: number };
  int8PerChannel: { sqnrDb: number | null; maxAbsError: number; scale: number; channels: number; zeroedFraction: number };
  uint8Affine: { sqnrDb: number | null; maxAbsError: number; scale: number; min: number; zeroedFraction: number };
  outlierChannels: { count: number; indices: number[]; worstRatio: number };
}

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'precision.reference.json'), 'utf8')) as { cases: RefCase[] };

function close(actual: number | null, expected: number | null, rel: number, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(actual !== null, `${what}: got null, expected ${expected}`);
  const tol = rel * Math.max(1e-300, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs NumPy ${expected}`);
}

function tensorOf(c: RefCase): TensorInfo {
  const file = buildModel([{ name: c.name, className: c.shape.length === 4 ? 'Conv2D' : 'Dense', weights: [{ weight: 'kernel', shape: c.shape, values: Float32Array.from(c.values) }] }], { chunkElements: 333 });
  return file.tensors[0]!;
}

test('reference cases are stored', () => {
  assert.deepEqual(
    reference.cases.map((c) => c.name),
    ['normal-outlier-channel', 'float16-edges', 'uniform-0.01', 'positive-only', 'constant', 'conv-heavy-tails'],
  );
});

for (const c of reference.cases) {
  test(`precision of '${c.name}' matches NumPy`, async () => {
    const r: PrecisionReport = await analyzePrecision(tensorOf(c));
    assert.equal(r.count, c.values.length);
    close(r.absMax, c.absMax, 0, 'absMax');
    for (const [fmt, ref] of [['fp16', c.fp16], ['bf16', c.bf16]] as const) {
      const got = r[fmt];
      assert.equal(got.overflowCount, ref['overflowCount'], `${fmt} overflow`);
      assert.equal(got.underflowCount, ref['underflowCount'], `${fmt} underflow`);
      assert.equal(got.subnormalCount, ref['subnormalCount'], `${fmt} subnormal`);
      close(got.relativeL2Error, ref['relativeL2Error']!, 1e-9, `${fmt} relative L2`);
      close(got.maxAbsError, ref['maxAbsError']!, 1e-12, `${fmt} max error`);
    }
    close(r.int8PerTensor.sqnrDb, c.int8PerTensor.sqnrDb, 1e-9, 'int8 per-tensor SQNR');
    close(r.int8PerTensor.maxAbsError, c.int8PerTensor.maxAbsError, 1e-9, 'int8 per-tensor max error');
    close(r.int8PerTensor.scale, c.int8PerTensor.scale, 1e-12, 'int8 scale');
    assert.equal(r.int8PerTensor.zeroedFraction, c.int8PerTensor.zeroedFraction, 'int8 per-tensor zeroed');
    assert.equal(r.int8PerChannel?.zeroedFraction, c.int8PerChannel.zeroedFraction, 'int8 per-channel zeroed');
    assert.equal(r.uint8Affine.zeroedFraction, c.uint8Affine.zeroedFraction, 'uint8 zeroed');
    assert.ok(r.int8PerChannel);
    assert.equal(r.int8PerChannel.channels, c.int8PerChannel.channels);
    close(r.int8PerChannel.sqnrDb, c.int8PerChannel.sqnrDb, 1e-9, 'int8 per-channel SQNR');
    close(r.int8PerChannel.maxAbsError, c.int8PerChannel.maxAbsError, 1e-9, 'int8 per-channel max error');
    close(r.uint8Affine.sqnrDb, c.uint8Affine.sqnrDb, 1e-9, 'uint8 affine SQNR');
    close(r.uint8Affine.maxAbsError, c.uint8Affine.maxAbsError, 1e-9, 'uint8 affine max error');
    close(r.uint8Affine.scale, c.uint8Affine.scale, 1e-12, 'uint8 affine scale');
    close(r.uint8Affine.min, c.uint8Affine.min, 1e-12, 'uint8 affine min');
    assert.ok(r.outlierChannels);
    assert.equal(r.outlierChannels.count, c.outlierChannels.count);
    assert.deepEqual(r.outlierChannels.indices, c.outlierChannels.indices);
    close(r.outlierChannels.worstRatio, c.outlierChannels.worstRatio, 1e-12, 'worst channel ratio');
    assert.doesNotThrow(() => JSON.stringify(r));
    assert.equal(/NaN|Infinity/.test(JSON.stringify(r)), false);
  });
}

test('recommendations follow the thresholds', async () => {
  const rec = async (name: string): Promise<string> => (await analyzePrecision(tensorOf(reference.cases.find((c) => c.name === name)!))).recommendation;
  // One channel x40: per-tensor int8 is 29 dB (< 30), per channel 44 dB.
  assert.equal(await rec('normal-outlier-channel'), 'int8-per-channel');
  // A 3.4e38 value: float16 overflows and int8 rounds the other values of its grid to 0, even
  // though the SQNR (carried by that one value) looks excellent.
  assert.equal(await rec('float16-edges'), 'keep-fp32');
  assert.equal(await rec('uniform-0.01'), 'int8-per-tensor');
});

test('toFloat16 keeps every float16 value and rounds every midpoint to even', () => {
  for (let h = 0; h < 0x7c00; h++) {
    const v = float16BitsToNumber(h);
    assert.equal(toFloat16(v), v);
    assert.equal(toFloat16(-v), -v);
    if (h + 1 < 0x7c00) {
      const next = float16BitsToNumber(h + 1);
      const mid = (v + next) / 2;
      assert.equal(toFloat16(mid), h % 2 === 0 ? v : next, `midpoint after 0x${h.toString(16)}`);
    }
  }
  assert.equal(toFloat16(65519.99), 65504);
  assert.equal(toFloat16(65520), Infinity);
  assert.equal(toFloat16(2 ** -25), 0);
  assert.equal(toFloat16(2 ** -25 * 1.0001), 2 ** -24);
  // float64 inputs that float32 cannot hold take the exact double path.
  assert.equal(toFloat16(1 + 2 ** -11 + 2 ** -40), 1 + 2 ** -10);
  assert.equal(toFloat16(1 + 2 ** -11), 1);
});

test('toBfloat16 rounds float32 bits to nearest even', () => {
  const f = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;
  assert.equal(toBfloat16(f(0x3f808000)), f(0x3f800000)); // tie, even stays
  assert.equal(toBfloat16(f(0x3f818000)), f(0x3f820000)); // tie, odd rounds up
  assert.equal(toBfloat16(f(0x3f808001)), f(0x3f810000));
  assert.equal(toBfloat16(f(0x7f7fffff)), Infinity);
  assert.equal(toBfloat16(1), 1);
});

test('channel layouts: Keras last axis, depthwise C*M, TFLite output-first', () => {
  assert.deepEqual(channelLayout([784, 128]), { axis: 1, channels: 128, inner: 1 });
  assert.deepEqual(channelLayout([3, 3, 16, 32], { className: 'Conv2D' }), { axis: 3, channels: 32, inner: 1 });
  assert.deepEqual(channelLayout([3, 3, 16, 2], { className: 'DepthwiseConv2D' }), { axis: 2, channels: 32, inner: 1 });
  assert.deepEqual(channelLayout([64, 10, 4, 1], { format: 'tflite' }), { axis: 0, channels: 64, inner: 40 });
  assert.deepEqual(channelLayout([1, 3, 3, 64], { format: 'tflite' }), { axis: 3, channels: 64, inner: 1 });
  assert.equal(channelLayout([10]), null);
});

test('TFLite channel layouts follow the op that reads the tensor: a CONV_2D with one filter is not depthwise', () => {
  // CONV_2D OHWI with a single filter [1, kh, kw, C]: one output channel, on axis 0.
  assert.deepEqual(channelLayout([1, 3, 3, 8], { format: 'tflite', className: 'Conv2D' }), { axis: 0, channels: 1, inner: 72 });
  assert.deepEqual(channelLayout([1, 3, 3, 8], { format: 'tflite', className: 'DepthwiseConv2D' }), { axis: 3, channels: 8, inner: 1 });
  // FULLY_CONNECTED [out, in] with one output unit.
  assert.deepEqual(channelLayout([1, 16], { format: 'tflite', className: 'Dense' }), { axis: 0, channels: 1, inner: 16 });
  // CONV_3D filters are DHWIO: output channels last.
  assert.deepEqual(channelLayout([2, 3, 3, 4, 6], { format: 'tflite', className: 'Conv3D' }), { axis: 4, channels: 6, inner: 1 });
  // An op without a known kernel layout (or none at all) falls back to the shape rule.
  assert.deepEqual(channelLayout([1, 1, 1, 8], { format: 'tflite', className: 'Multiply' }), { axis: 3, channels: 8, inner: 1 });
  assert.deepEqual(channelLayout([1, 3, 3, 8], { format: 'tflite' }), { axis: 3, channels: 8, inner: 1 });
});

test('TF.js affine range nudges zero onto the grid', () => {
  const r = tfjsAffineRange(-1, 3);
  assert.equal(r.scale, 4 / 255);
  const zeroQ = -r.min / r.scale;
  assert.ok(Math.abs(zeroQ - Math.round(zeroQ)) < 1e-9);
  assert.deepEqual(tfjsAffineRange(1, 2), { scale: 1 / 255, min: 1, max: 2 });
});

test('a tensor whose data cannot be read rejects with its own error', async () => {
  const t = tensorOf(reference.cases[4]!);
  const broken: TensorInfo = {
    ...t,
    async *readValues() {
      yield new Float32Array([1]);
      throw new Error('shard missing');
    },
  };
  await assert.rejects(analyzePrecision(broken), /shard missing/);
});

test('stored quantization counts the levels of its storage type (int32 TFLite biases have 2^32, int8 256)', async () => {
  const c = reference.cases.find((x) => x.name === 'uniform-0.01')!;
  const base = tensorOf(c);
  const stored = async (storageDtype: 'int32' | 'int8' | 'int16', scale: number) =>
    (await analyzePrecision({ ...base, quantization: { storageDtype, scheme: 'tflite-affine', scale: [scale], zeroPoint: [0] } })).stored!;
  const s32 = await stored('int32', 1e-6);
  assert.equal(s32.levels, 4294967296);
  close(s32.rangeLow, -2147483648e-6, 1e-15, 'int32 low');
  close(s32.rangeHigh, 2147483647e-6, 1e-15, 'int32 high');
  assert.match(s32.implication, /^Stored as int32 with 2\^32 levels, step 0\.00000100 /);
  const s16 = await stored('int16', 1e-4);
  assert.equal(s16.levels, 65536);
  close(s16.rangeHigh, 32767e-4, 1e-15, 'int16 high');
  const s8 = await stored('int8', 1e-4);
  assert.equal(s8.levels, 256);
  close(s8.rangeLow, -128e-4, 1e-15, 'int8 low');
  assert.match(s8.implication, /^Stored as int8 with 256 levels/);
});
