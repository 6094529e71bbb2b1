import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet, type ByteSource } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { readAllValues, readRawValues } from '../../../src/core/tensorData';
import { detectFormat, openLocalPath } from '../../../src/formats/registry';
import { isSafetensorsFile, safetensorsReader } from '../../../src/formats/safetensors';
import { makeTempDir } from '../helpers/fixtures';
import { buildSafetensors, u64, type BuildTensor } from '../helpers/safetensors';
import { concatBytes as concat } from '../helpers/zipBuilder';
import { assertMutationsFailCleanly } from '../helpers/mutate';

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
}

function u16(values: number[]): Uint8Array {
  return bytesOf(new Uint16Array(values));
}

async function open(bytes: Uint8Array, name = 'model.safetensors'): Promise<WeightFile> {
  return safetensorsReader.open(new MemoryByteSource(name, bytes), new MemoryFileSet('mem', new Map()));
}

function tensor(file: WeightFile, name: string): TensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  assert.ok(t, `tensor ${name} is listed`);
  return t;
}

async function rejectsWith(promise: Promise<unknown>, reason: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (ex: unknown) => {
    assert.ok(WeightFileError.is(ex), `expected a WeightFileError, got ${String(ex)}`);
    assert.equal(ex.reason, reason, ex.message);
    if (pattern) {
      assert.match(ex.message, pattern);
    }
    return true;
  });
}

function assertSame(actual: ArrayLike<number>, expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], expected[i]), `${label}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

// Exact values of the chosen bit patterns, from the IEEE/OCP definitions:
//   float16 0x3c00 = 1, 0xc000 = -2, 0x3555 = (1 + 341/1024) * 2^(13-15) = 0.333251953125,
//   0x0001 = 2^-24 (smallest subnormal), 0x03ff = 1023 * 2^-24 (largest subnormal), 0x7bff = 65504, 0x7c00 = +Inf, 0xfc00 = -Inf, 0x8000 = -0
//   bfloat16 = upper half of float32: 0x3f80 = 1, 0xc0a0 = -5, 0x0001 = 2^-133, 0x7f80 = +Inf
//   float8 E4M3FN: 0x38 = 1 (exp 7 = bias), 0x01 = 2^-9, 0x7e = 448, 0xfe = -448, 0x7f = NaN
//   float8 E5M2: 0x3c = 1, 0x7b = 57344, 0x7c = +Inf, 0x01 = 2^-16
const f16Bits = [0x3c00, 0xc000, 0x3555, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000];
const f16Values = [1, -2, 0.333251953125, 2 ** -24, 1023 * 2 ** -24, 65504, Infinity, -Infinity, -0];

test('all decodable dtypes read back exactly, in file order, with metadata', async () => {
  const i64 = new BigInt64Array([-(2n ** 53n), -1n, 0n, 2n ** 53n - 1n]);
  const u64s = new BigUint64Array([0n, 1n, 2n ** 53n]);
  const tensors: BuildTensor[] = [
    { name: 'model.layers.0.mlp.weight', dtype: 'F32', shape: [2, 3], bytes: bytesOf(new Float32Array([0.5, -1.25, 3, NaN, Infinity, -0])) },
    { name: 'model.embed_tokens.weight', dtype: 'F64', shape: [2, 2], bytes: bytesOf(new Float64Array([Math.PI, -1e300, 5e-324, 0])) },
    { name: 'h16', dtype: 'F16', shape: [3, 3], bytes: u16(f16Bits) },
    { name: 'b16', dtype: 'BF16', shape: [4], bytes: u16([0x3f80, 0xc0a0, 0x0001, 0x7f80]) },
    { name: 'e4m3', dtype: 'F8_E4M3', shape: [5], bytes: new Uint8Array([0x38, 0x01, 0x7e, 0xfe, 0x7f]) },
    { name: 'e5m2', dtype: 'F8_E5M2', shape: [4], bytes: new Uint8Array([0x3c, 0x7b, 0x7c, 0x01]) },
    { name: 'i8', dtype: 'I8', shape: [3], bytes: bytesOf(new Int8Array([-128, 0, 127])) },
    { name: 'u8', dtype: 'U8', shape: [2], bytes: new Uint8Array([0, 255]) },
    { name: 'i16', dtype: 'I16', shape: [2], bytes: bytesOf(new Int16Array([-32768, 32767])) },
    { name: 'u16', dtype: 'U16', shape: [1], bytes: u16([65535]) },
    { name: 'i32', dtype: 'I32', shape: [2], bytes: bytesOf(new Int32Array([-2147483648, 7])) },
    { name: 'u32', dtype: 'U32', shape: [1], bytes: bytesOf(new Uint32Array([4294967295])) },
    { name: 'i64', dtype: 'I64', shape: [4], bytes: bytesOf(i64) },
    { name: 'u64', dtype: 'U64', shape: [3], bytes: bytesOf(u64s) },
    { name: 'flags', dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
    { name: 'c64', dtype: 'C64', shape: [1], bytes: bytesOf(new Float32Array([1.5, -2.5])) },
    { name: 'scalar', dtype: 'F32', shape: [], bytes: bytesOf(new Float32Array([42])) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
  ];
  const wf = await open(buildSafetensors(tensors, { format: 'pt', note: 'chosen values' }));
  assert.equal(wf.format, 'safetensors');
  assert.deepEqual(wf.warnings, []);
  assert.deepEqual(
    wf.tensors.map((t) => t.name),
    tensors.map((t) => t.name),
  );
  assert.deepEqual(wf.metadata.userMetadata, { format: 'pt', note: 'chosen values' });
  assert.equal(wf.metadata.framework, 'pt');
  const expected: Record<string, number[]> = {
    'model.layers.0.mlp.weight': [0.5, -1.25, 3, NaN, Infinity, -0],
    'model.embed_tokens.weight': [Math.PI, -1e300, 5e-324, 0],
    h16: f16Values,
    b16: [1, -5, 2 ** -133, Infinity],
    e4m3: [1, 2 ** -9, 448, -448, NaN],
    e5m2: [1, 57344, Infinity, 2 ** -16],
    i8: [-128, 0, 127],
    u8: [0, 255],
    i16: [-32768, 32767],
    u16: [65535],
    i32: [-2147483648, 7],
    u32: [4294967295],
    i64: [-(2 ** 53), -1, 0, 2 ** 53 - 1],
    u64: [0, 1, 2 ** 53],
    flags: [1, 0, 1],
    c64: [1.5, -2.5],
    scalar: [42],
    empty: [],
  };
  for (const t of tensors) {
    const x = tensor(wf, t.name);
    assert.deepEqual([...x.shape], t.shape);
    assert.equal(x.byteLength, t.bytes.length);
    assert.equal(x.unavailable, undefined);
    for (const chunkElements of [1, 2, 1000]) {
      assertSame(await readAllValues(x, { chunkElements }), expected[t.name]!, `${t.name} (chunk ${chunkElements})`);
    }
  }
  assert.deepEqual(
    ['h16', 'b16', 'e4m3', 'e5m2', 'i64', 'flags', 'c64'].map((n) => tensor(wf, n).dtype),
    ['float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2', 'int64', 'bool', 'complex64'],
  );
  const mlp = tensor(wf, 'model.layers.0.mlp.weight');
  assert.deepEqual([mlp.layer, mlp.weight, mlp.role], ['model.layers.0.mlp', 'weight', 'kernel']);
  assert.equal(tensor(wf, 'model.embed_tokens.weight').role, 'embeddings');
  await wf.close();
});

test('a local file: every readable tensor is plain bytes (rawSource) reading as its values; isSafetensorsFile says which files are safetensors', async () => {
  const i64 = new BigInt64Array([-(2n ** 53n), 7n]);
  const tensors: BuildTensor[] = [
    { name: 'dense/kernel', dtype: 'F32', shape: [2, 2], bytes: bytesOf(new Float32Array([0.5, -1.25, NaN, -0])) },
    { name: 'h16', dtype: 'F16', shape: [9], bytes: u16(f16Bits) },
    { name: 'b16', dtype: 'BF16', shape: [2], bytes: u16([0x3f80, 0x0001]) },
    { name: 'i64', dtype: 'I64', shape: [2], bytes: bytesOf(i64) },
    { name: 'flags', dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
    { name: 'empty', dtype: 'F32', shape: [0], bytes: new Uint8Array(0) },
    { name: 'short', dtype: 'F32', shape: [3], bytes: bytesOf(new Float32Array([1, 2])) },
  ];
  const expected: Record<string, number[]> = {
    'dense/kernel': [0.5, -1.25, NaN, -0],
    h16: f16Values,
    b16: [1, 2 ** -133],
    i64: [-(2 ** 53), 7],
    flags: [1, 0, 1],
    empty: [],
  };
  const dir = makeTempDir();
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, buildSafetensors(tensors));
  const wf = await openLocalPath(file);
  try {
    for (const name of Object.keys(expected)) {
      const t = tensor(wf, name);
      const raw = t.rawSource?.();
      assert.ok(raw, `${name} has a rawSource`);
      assert.equal(raw.localPath, file);
      assert.equal(raw.byteLength, t.byteLength);
      assertSame(await readAllValues(t), expected[name]!, `${name} (readValues)`);
      assertSame(await readAllValues({ readValues: (o) => readRawValues(raw, t.dtype, o) }), expected[name]!, `${name} (raw bytes)`);
    }
    // A tensor the file cannot hold has none.
    assert.ok(tensor(wf, 'short').unavailable);
    assert.equal(tensor(wf, 'short').rawSource?.(), undefined);
  } finally {
    await wf.close();
  }
  // A file opened from memory has no local path: no rawSource.
  const mem = await open(buildSafetensors(tensors.slice(0, 1)));
  assert.equal(mem.tensors[0]!.rawSource?.(), undefined);
  await mem.close();
  assert.equal(isSafetensorsFile(file), true);
  const other = path.join(dir, 'model.json');
  fs.writeFileSync(other, '{"format": "layers-model"}');
  assert.equal(isSafetensorsFile(other), false);
  assert.equal(isSafetensorsFile(path.join(dir, 'absent.safetensors')), false);
  assert.equal(isSafetensorsFile(dir), false);
});

test('Keras-style names and the registry sniff', async () => {
  const bytes = buildSafetensors([
    { name: 'dense/kernel', dtype: 'F32', shape: [1, 2], bytes: bytesOf(new Float32Array([1, 2])) },
    { name: 'dense/bias', dtype: 'F32', shape: [2], bytes: bytesOf(new Float32Array([0, 0])) },
  ]);
  const wf = await open(bytes);
  assert.deepEqual(
    wf.tensors.map((t) => [t.layer, t.weight, t.role]),
    [
      ['dense', 'kernel', 'kernel'],
      ['dense', 'bias', 'bias'],
    ],
  );
  assert.deepEqual(wf.layers, [{ name: 'dense', tensors: ['dense/kernel', 'dense/bias'] }]);
  const source = new MemoryByteSource('weights.bin', bytes);
  assert.equal(await detectFormat(source, 'weights.bin'), safetensorsReader, 'found by content without the extension');
  const sniff = (fileName: string, b: Uint8Array) => safetensorsReader.sniff({ fileName, size: b.length, head: b.subarray(0, 4096), tail: new Uint8Array(0) });
  assert.equal(sniff('x.safetensors', bytes), 100);
  assert.equal(sniff('x.bin', bytes), 85);
  assert.equal(sniff('x.bin', concat([u64(1e12), new Uint8Array([0x7b])])), undefined);
  assert.equal(sniff('x.safetensors', concat([u64(1e12), new Uint8Array([0x7b])])), 50);
});

test('tensors stored in a different order than listed: sorted by offset, values follow the offsets', async () => {
  const a = bytesOf(new Float32Array([1, 2]));
  const b = bytesOf(new Float32Array([3]));
  const bytes = buildSafetensors([
    { name: 'z_second', dtype: 'F32', shape: [1], bytes: b, offsets: [8, 12] },
    { name: 'a_first', dtype: 'F32', shape: [2], bytes: a, offsets: [0, 8] },
  ]);
  // buildSafetensors writes the bytes in list order (b then a); rebuild the buffer as the offsets say.
  const headerEnd = bytes.length - 12;
  const fixed = concat([bytes.subarray(0, headerEnd), a, b]);
  const wf = await open(fixed);
  assert.deepEqual(
    wf.tensors.map((t) => t.name),
    ['a_first', 'z_second'],
  );
  assertSame(await readAllValues(tensor(wf, 'z_second')), [3], 'z_second');
  assert.deepEqual(wf.warnings, []);
});

test('truncated file, wrong magic (length), header past EOF, terabyte header: clear errors, no allocation', async () => {
  await rejectsWith(open(new Uint8Array([1, 2, 3])), 'truncated', /model\.safetensors: 3 bytes is too short/);
  await rejectsWith(open(concat([u64(1000), new TextEncoder().encode('{"a":1}')])), 'truncated', /claims 1000 bytes but the file has only 7/);
  // A header length of 4 TB must be refused before any read of that size.
  let largestRead = 0;
  const claimsTerabytes = concat([u64(4n * 1024n ** 4n), new TextEncoder().encode('{}')]);
  const watching: ByteSource = {
    name: 'huge.safetensors',
    size: claimsTerabytes.length,
    read: async (offset, length) => {
      largestRead = Math.max(largestRead, length);
      return claimsTerabytes.subarray(offset, offset + length);
    },
    close: async () => undefined,
  };
  await rejectsWith(safetensorsReader.open(watching, new MemoryFileSet('mem', new Map())), 'tooLarge', /huge\.safetensors: the header length field claims 4398046511104 bytes/);
  assert.ok(largestRead <= 8, `read at most the 8-byte length, read ${largestRead}`);
  await rejectsWith(open(concat([u64(2n ** 64n - 1n), new Uint8Array(8)])), 'tooLarge', /18446744073709551615/);
  // "Wrong magic": a PNG named .safetensors.
  await rejectsWith(open(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])), 'tooLarge');
});

test('header that is not JSON, not UTF-8, or not an object: corrupt', async () => {
  const header = (text: string | Uint8Array) => {
    const b = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    return concat([u64(b.length), b]);
  };
  await rejectsWith(open(header('{"a": {"dtype": "F32", ')), 'corrupt', /the header is not valid JSON .*starts with "\{\\"a\\": \{\\"dtype\\": \\"F32\\", "/);
  await rejectsWith(open(header(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))), 'corrupt', /not UTF-8/);
  await rejectsWith(open(header('[1, 2]')), 'corrupt', /the header is \[1,2\], not a JSON object/);
});

test('a header nested thousands of levels deep (anywhere: the root, an entry, __metadata__) is corrupt, never a stack overflow', async () => {
  const header = (text: string) => {
    const b = new TextEncoder().encode(text);
    return concat([u64(b.length), b]);
  };
  const deep = (n: number, open: string, close: string) => `${open.repeat(n)}${close.repeat(n)}`;
  await rejectsWith(open(header(deep(10000, '[', ']'))), 'corrupt', /not valid JSON \(nested 10000 levels deep, more than the 512 accepted\)/);
  await rejectsWith(open(header(`{"t": ${deep(10000, '[', ']')}}`)), 'corrupt', /nested 10001 levels deep/);
  await rejectsWith(open(header(`{"__metadata__": ${deep(10000, '{"a":', '}').replace('{"a":}', '{"a":1}')}}`)), 'corrupt', /nested 10001 levels deep/);
});

test('offsets not tiling the buffer: gaps and overlaps are warnings, per-tensor size mismatches and overruns stay on the tensor', async () => {
  const four = bytesOf(new Float32Array([1, 2, 3, 4]));
  const gap = await open(
    buildSafetensors([
      { name: 'a', dtype: 'F32', shape: [1], bytes: four.subarray(0, 4), offsets: [0, 4] },
      { name: 'b', dtype: 'F32', shape: [1], bytes: four.subarray(4, 16), offsets: [8, 12] },
    ]),
  );
  assert.ok(gap.warnings.some((w) => w.tensor === 'b' && /starts at data byte 8 but the previous tensor ends at 4.*gap/.test(w.message)));
  assert.ok(gap.warnings.some((w) => /the tensors end at data byte 12 but the data buffer has 16 bytes/.test(w.message)));
  assertSame(await readAllValues(tensor(gap, 'b')), [3], 'b reads at its own offsets');

  const overlap = await open(
    buildSafetensors([
      { name: 'a', dtype: 'F32', shape: [2], bytes: four.subarray(0, 8), offsets: [0, 8] },
      { name: 'b', dtype: 'F32', shape: [2], bytes: four.subarray(8, 12), offsets: [4, 12] },
    ]),
  );
  assert.ok(overlap.warnings.some((w) => w.tensor === 'b' && /overlap/.test(w.message)));

  const bad = await open(
    buildSafetensors([
      { name: 'ok', dtype: 'F32', shape: [1], bytes: four.subarray(0, 4) },
      { name: 'size_mismatch', dtype: 'F32', shape: [2], bytes: four.subarray(4, 8), offsets: [4, 8] },
      { name: 'past_end', dtype: 'F32', shape: [100], bytes: four.subarray(8, 16), offsets: [8, 408] },
      { name: 'bad_offsets', dtype: 'F32', shape: [1], bytes: new Uint8Array(0), offsets: [5, 1] },
      { name: 'neg_shape', dtype: 'F32', shape: [-1], bytes: new Uint8Array(0), offsets: [0, 0] },
      { name: 'odd_dtype', dtype: 'Q4_K', shape: [1], bytes: new Uint8Array(0), offsets: [0, 0] },
      { name: 'fp4', dtype: 'F4', shape: [3], bytes: new Uint8Array(0), offsets: [16, 18] },
    ]),
  );
  assertSame(await readAllValues(tensor(bad, 'ok')), [1], 'ok');
  const reasons = Object.fromEntries(bad.tensors.map((t) => [t.name, t.unavailable?.reason ?? null]));
  assert.deepEqual(reasons, {
    ok: null,
    size_mismatch: 'corrupt',
    past_end: 'truncated',
    bad_offsets: 'corrupt',
    neg_shape: 'corrupt',
    odd_dtype: 'unsupportedDtype',
    fp4: 'truncated',
  });
  assert.match(tensor(bad, 'size_mismatch').unavailable!.message, /model\.safetensors: tensor 'size_mismatch' has data_offsets \[4,8\] \(4 bytes\) but shape \[2\] of F32 needs 8 bytes/);
  assert.match(tensor(bad, 'odd_dtype').unavailable!.message, /has dtype "Q4_K"/);
  // a dtype Weightscope does not know is listed as opaque ('variant'), its name kept, never as uint8
  assert.equal(tensor(bad, 'odd_dtype').dtype, 'variant');
  assert.equal(tensor(bad, 'odd_dtype').extra?.safetensorsDtype, 'Q4_K');
  await rejectsWith(readAllValues(tensor(bad, 'past_end')), 'truncated');
  assert.ok(bad.warnings.some((w) => w.tensor === 'neg_shape' && w.reason === 'corrupt'));
});

test('a tensor with damaged data_offsets is listed with the dtype and shape its header gives, not as a uint8 scalar', async () => {
  const file = await open(
    buildSafetensors([
      { name: 'ok', dtype: 'F32', shape: [1], bytes: bytesOf(new Float32Array([1])) },
      { name: 'negative', dtype: 'F32', shape: [8], bytes: new Uint8Array(0), offsets: [-8, 8] },
      { name: 'reversed', dtype: 'F16', shape: [2, 3], bytes: new Uint8Array(0), offsets: [8, 4] },
      { name: 'fraction', dtype: 'I64', shape: [], bytes: new Uint8Array(0), offsets: [0.5, 4] },
      { name: 'no_shape', dtype: 'BF16', shape: 'x' as unknown as number[], bytes: new Uint8Array(0), offsets: [0.5, 4] },
    ]),
  );
  const listed = file.tensors.map((t) => [t.name, t.dtype, t.shape, t.shapeUnknown ?? false, t.unavailable?.reason ?? null]);
  assert.deepEqual(listed, [
    ['ok', 'float32', [1], false, null],
    ['negative', 'float32', [8], false, 'corrupt'],
    ['reversed', 'float16', [2, 3], false, 'corrupt'],
    ['fraction', 'int64', [], false, 'corrupt'],
    ['no_shape', 'bfloat16', [], true, 'corrupt'],
  ]);
  assert.equal(tensor(file, 'negative').unavailable!.message, "model.safetensors: tensor 'negative' has data_offsets [-8,8], expected [begin, end] with 0 <= begin <= end.");
  assertSame(await readAllValues(tensor(file, 'ok')), [1], 'ok');
});

test('an entry without its dtype, shape or data_offsets says which is missing, never \'undefined\'', async () => {
  const json = JSON.stringify({
    ok: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    no_dtype: { shape: [1], data_offsets: [4, 8] },
    no_shape: { dtype: 'F32', data_offsets: [8, 12] },
    no_offsets: { dtype: 'F32', shape: [1] },
  });
  const file = await open(concat([u64(json.length), new TextEncoder().encode(json), new Uint8Array(12)]));
  const messages = Object.fromEntries(file.tensors.map((t) => [t.name, t.unavailable?.message ?? null]));
  assert.deepEqual(messages, {
    ok: null,
    no_dtype: "model.safetensors: tensor 'no_dtype' has no dtype.",
    no_shape: "model.safetensors: tensor 'no_shape' has no shape, expected a list of non-negative integers.",
    no_offsets: "model.safetensors: tensor 'no_offsets' has no data_offsets, expected [begin, end] with 0 <= begin <= end.",
  });
});

test('the microscaling dtypes (F4, F6_E2M3, F6_E3M2, F8_E8M0) are listed under their own dtype, with their packed size, but not decoded', async () => {
  const wf = await open(
    buildSafetensors([
      { name: 'fp4', dtype: 'F4', shape: [3], bytes: new Uint8Array([0x21, 0x03]) },
      { name: 'fp6a', dtype: 'F6_E2M3', shape: [4], bytes: new Uint8Array(3) },
      { name: 'fp6b', dtype: 'F6_E3M2', shape: [5], bytes: new Uint8Array(4) },
      { name: 'scale', dtype: 'F8_E8M0', shape: [2], bytes: new Uint8Array([127, 128]) },
      { name: 'w', dtype: 'F32', shape: [1], bytes: bytesOf(new Float32Array([1.5])) },
    ]),
  );
  const expected: [string, string, string, number][] = [
    // name, file dtype, listed dtype (ml_dtypes' names), bytes = ceil(count * bits / 8)
    ['fp4', 'F4', 'float4_e2m1fn', 2],
    ['fp6a', 'F6_E2M3', 'float6_e2m3fn', 3],
    ['fp6b', 'F6_E3M2', 'float6_e3m2fn', 4],
    ['scale', 'F8_E8M0', 'float8_e8m0fnu', 2],
  ];
  for (const [name, fileDtype, dtype, bytes] of expected) {
    const t = tensor(wf, name);
    assert.equal(t.dtype, dtype, name);
    assert.equal(t.storageDtype, dtype, name);
    assert.equal(t.byteLength, bytes, name);
    assert.equal(t.unavailable?.reason, 'unsupportedDtype', name);
    assert.match(t.unavailable!.message, new RegExp(`tensor '${name}' has dtype ${fileDtype}, which Weightscope lists but cannot decode\\.$`));
    assert.equal(t.extra?.safetensorsDtype, fileDtype);
    await rejectsWith(readAllValues(t), 'unsupportedDtype');
  }
  assertSame(await readAllValues(tensor(wf, 'w')), [1.5], 'the F32 tensor beside them');
});

test('damaged variants of a valid file open or fail with a WeightFileError, never crash', async () => {
  const base = buildSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 2], bytes: bytesOf(new Float32Array([1, 2, 3, 4])) },
      { name: 'b', dtype: 'BF16', shape: [3], bytes: u16([0x3f80, 0, 1]) },
      { name: 'c', dtype: 'I64', shape: [1], bytes: bytesOf(new BigInt64Array([5n])) },
    ],
    { format: 'pt' },
  );
  const summary = await assertMutationsFailCleanly('m.safetensors', base, (b) => open(b, 'm.safetensors'), 1500);
  assert.ok(summary.opened > 0 && summary.refused > 0, JSON.stringify(summary));
});
