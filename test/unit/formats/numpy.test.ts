import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import { countUnknownShapes, knownElementCount, type TensorInfo, type WeightFile } from '../../../src/core/model';
import { readAllValues } from '../../../src/core/tensorData';
import { fingerprintTensor } from '../../../src/analysis/fingerprint';
import { buildFileReport } from '../../../src/analysis/report';
import { npyReader, npzReader, parsePythonLiteral, readFortranValues, readNpyHeader } from '../../../src/formats/numpy';
import { detectFormat, openLocalPath } from '../../../src/formats/registry';
import { makeTempDir } from '../helpers/fixtures';
import { assertMutationsFailCleanly } from '../helpers/mutate';
import { buildNpy, buildZip, concatBytes } from '../helpers/zipBuilder';

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
}

async function openNpy(bytes: Uint8Array, name = 'array.npy'): Promise<WeightFile> {
  return npyReader.open(new MemoryByteSource(name, bytes), new MemoryFileSet('mem', new Map()));
}

async function openNpz(bytes: Uint8Array, name = 'arrays.npz'): Promise<WeightFile> {
  return npzReader.open(new MemoryByteSource(name, bytes), new MemoryFileSet('mem', new Map()));
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

/** Big-endian bytes of int16 values. */
function beInt16(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt16(2 * i, x, false));
  return b;
}

/** Big-endian bytes of float64 values. */
function beFloat64(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 8);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat64(8 * i, x, false));
  return b;
}

test('parsePythonLiteral reads .npy header dicts (tuples, trailing commas, True/False, Python 2 longs)', () => {
  assert.deepEqual(parsePythonLiteral("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), { descr: '<f4', fortran_order: false, shape: [2, 3] });
  assert.deepEqual(parsePythonLiteral("{'descr': '|b1', 'fortran_order': True, 'shape': (5,), }"), { descr: '|b1', fortran_order: true, shape: [5] });
  assert.deepEqual(parsePythonLiteral("{'shape': (), 'descr': \"<i8\", 'fortran_order': False}"), { shape: [], descr: '<i8', fortran_order: false });
  assert.deepEqual(parsePythonLiteral("{'descr': [('a', '<f4'), ('b', '<i4')], 'shape': (3L, 4L), 'x': None}"), { descr: [['a', '<f4'], ['b', '<i4']], shape: [3, 4], x: null });
  assert.throws(() => parsePythonLiteral("{'descr': '<f4' 'shape': (1,)}"), /expected ',' or '}'/);
  assert.throws(() => parsePythonLiteral("{'descr': '<f4', 'shape': __import__('os')}"), /unexpected token/);
  assert.throws(() => parsePythonLiteral('['.repeat(100)), /nesting too deep/);
});

test('.npy v1/v2/v3, little and big endian, every numeric descr: values read back exactly', async () => {
  const cases: { descr: string; shape: number[]; data: Uint8Array; expected: number[]; dtype: string; version?: 1 | 2 | 3 }[] = [
    { descr: '<f4', shape: [2, 3], data: bytesOf(new Float32Array([0.5, -1, NaN, Infinity, -0, 3.25])), expected: [0.5, -1, NaN, Infinity, -0, 3.25], dtype: 'float32' },
    { descr: '>f8', shape: [3], data: beFloat64([Math.E, -1e-310, 1e308]), expected: [Math.E, -1e-310, 1e308], dtype: 'float64', version: 2 },
    { descr: '>i2', shape: [4], data: beInt16([-32768, -1, 1, 32767]), expected: [-32768, -1, 1, 32767], dtype: 'int16', version: 3 },
    { descr: '<f2', shape: [3], data: bytesOf(new Uint16Array([0x3c00, 0x0001, 0xfc00])), expected: [1, 2 ** -24, -Infinity], dtype: 'float16' },
    { descr: '|u1', shape: [2], data: new Uint8Array([0, 255]), expected: [0, 255], dtype: 'uint8' },
    { descr: '|i1', shape: [2], data: bytesOf(new Int8Array([-128, 127])), expected: [-128, 127], dtype: 'int8' },
    { descr: '|b1', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]), expected: [1, 0, 0, 1], dtype: 'bool' },
    { descr: '<u2', shape: [1], data: bytesOf(new Uint16Array([65535])), expected: [65535], dtype: 'uint16' },
    { descr: '<i4', shape: [2], data: bytesOf(new Int32Array([-5, 2147483647])), expected: [-5, 2147483647], dtype: 'int32' },
    { descr: '<u4', shape: [1], data: bytesOf(new Uint32Array([4294967295])), expected: [4294967295], dtype: 'uint32' },
    { descr: '<i8', shape: [2], data: bytesOf(new BigInt64Array([-(2n ** 53n), 12n])), expected: [-(2 ** 53), 12], dtype: 'int64' },
    { descr: '<u8', shape: [1], data: bytesOf(new BigUint64Array([2n ** 53n])), expected: [2 ** 53], dtype: 'uint64' },
    { descr: '<c8', shape: [1], data: bytesOf(new Float32Array([1, -1])), expected: [1, -1], dtype: 'complex64' },
    { descr: '<c16', shape: [1], data: bytesOf(new Float64Array([0.1, 0.2])), expected: [0.1, 0.2], dtype: 'complex128' },
    { descr: '<f4', shape: [], data: bytesOf(new Float32Array([7])), expected: [7], dtype: 'float32' },
    { descr: '<f4', shape: [0, 5], data: new Uint8Array(0), expected: [], dtype: 'float32' },
  ];
  for (const c of cases) {
    const wf = await openNpy(buildNpy(c.descr, c.shape, c.data, { version: c.version ?? 1 }), 'w.npy');
    assert.equal(wf.format, 'npy');
    assert.equal(wf.formatName, `NumPy array (.npy ${c.version ?? 1}.0)`);
    const t = wf.tensors[0]!;
    assert.equal(t.name, 'w');
    assert.equal(t.dtype, c.dtype, c.descr);
    assert.deepEqual([...t.shape], c.shape);
    assert.equal(t.byteLength, c.data.length);
    assert.deepEqual(wf.warnings, []);
    for (const chunkElements of [1, 3, 100]) {
      assertSame(await readAllValues(t, { chunkElements }), c.expected, `${c.descr} chunk ${chunkElements}`);
    }
  }
});

test('.npy: Fortran order (column-major) reads in row-major order; 1-D Fortran arrays read as they are', async () => {
  const data = bytesOf(new Float32Array([1, 2, 3, 4, 5, 6]));
  // Shape (2, 3) in Fortran order: element (i, j) is stored at i + 2j, so the rows are 1 3 5 and 2 4 6.
  const wf = await openNpy(buildNpy('<f4', [2, 3], data, { fortranOrder: true }), 'f.npy');
  const t = wf.tensors[0]!;
  assert.equal(t.unavailable, undefined);
  assert.deepEqual(wf.warnings, []);
  for (const chunkElements of [1, 4, 100]) {
    assertSame(await readAllValues(t, { chunkElements }), [1, 3, 5, 2, 4, 6], `Fortran (2, 3), chunk ${chunkElements}`);
  }
  // Shape (2, 3, 2): element (i, j, k) at i + 2j + 6k.
  const twelve = Array.from({ length: 12 }, (_, i) => i);
  const cube = await openNpy(buildNpy('<f8', [2, 3, 2], bytesOf(new Float64Array(twelve)), { fortranOrder: true }), 'c.npy');
  const rowMajor: number[] = [];
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 2; k++) {
        rowMajor.push(i + 2 * j + 6 * k);
      }
    }
  }
  assertSame(await readAllValues(cube.tensors[0]!, { chunkElements: 5 }), rowMajor, 'Fortran (2, 3, 2)');
  const flat = await openNpy(buildNpy('<f4', [6], data, { fortranOrder: true }), 'g.npy');
  assertSame(await readAllValues(flat.tensors[0]!), [1, 2, 3, 4, 5, 6], '1-D Fortran');
  const column = await openNpy(buildNpy('<f4', [6, 1], data, { fortranOrder: true }), 'h.npy');
  assert.equal(column.tensors[0]!.unavailable, undefined, 'a (6, 1) array has the same order either way');
});

test('.npy bad input: wrong magic, truncated header or data, bad dict, absurd header length, unknown descr', async () => {
  await rejectsWith(openNpy(new TextEncoder().encode('PK\x03\x04 not an npy at all'), 'x.npy'), 'unrecognized', /x\.npy: not a \.npy file \(starts with bytes 50 4b 03 04 20 6e/);
  await rejectsWith(openNpy(new Uint8Array([0x93, 0x4e, 0x55]), 'x.npy'), 'truncated', /3 bytes is too short/);
  const good = buildNpy('<f4', [4], bytesOf(new Float32Array([1, 2, 3, 4])));
  await rejectsWith(openNpy(good.subarray(0, 40), 'x.npy'), 'truncated', /x\.npy: the \.npy header claims 118 bytes but only 30 follow/);
  const cut = await openNpy(good.subarray(0, good.length - 3), 'x.npy');
  assert.equal(cut.tensors[0]!.unavailable?.reason, 'truncated');
  assert.match(cut.tensors[0]!.unavailable!.message, /array 'x' needs 16 data bytes after its header but only 13 are stored/);
  await rejectsWith(openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader: "{'descr': '<f4', 'shape': (2," }), 'x.npy'), 'corrupt', /is not a Python dict literal/);
  await rejectsWith(openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }" }), 'x.npy'), 'corrupt', /shape \(-2,\), expected a tuple of non-negative integers/);
  await rejectsWith(openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader: "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }" }), 'x.npy'), 'corrupt', /fortran_order 0/);
  const huge = new Uint8Array(16);
  huge.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0x7f]);
  await rejectsWith(openNpy(huge, 'x.npy'), 'tooLarge', /claims 2147483647 bytes/);
  const v9 = buildNpy('<f4', [1], new Uint8Array(4));
  v9[6] = 9;
  await rejectsWith(openNpy(v9, 'x.npy'), 'unsupportedFormat', /version 9\.0/);
  const obj = await openNpy(buildNpy('|O', [2], new Uint8Array(16)), 'o.npy');
  assert.equal(obj.tensors[0]!.unavailable?.reason, 'unsupportedDtype');
  assert.match(obj.tensors[0]!.unavailable!.message, /descr "\|O"/);
  assert.equal(obj.tensors[0]!.dtype, 'variant', 'an object array is not shown as numbers of some dtype');
  const structured = await openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }" }), 's.npy');
  assert.equal(structured.tensors[0]!.unavailable?.reason, 'unsupportedDtype');
  assert.equal(structured.tensors[0]!.dtype, 'variant');
  const strings = await openNpy(buildNpy('<U3', [2], new Uint8Array(24)), 'u.npy');
  assert.equal(strings.tensors[0]!.dtype, 'string');
  assert.equal(strings.tensors[0]!.byteLength, 24);
  await rejectsWith(readAllValues(strings.tensors[0]!), 'unsupportedDtype');
});

test('.npy bad header dicts are named in words: a missing key, too many dimensions, a dimension past 2^53 as written', async () => {
  const header = async (rawHeader: string): Promise<string> => {
    try {
      await openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader }), 'x.npy');
    } catch (ex) {
      assert.ok(WeightFileError.is(ex, 'corrupt'), String(ex));
      return ex.message;
    }
    throw new Error(`${rawHeader} opened`);
  };
  // numpy refuses a header without one of its three keys; the message named the value 'undefined'.
  assert.equal(await header("{'descr': '<f4', 'shape': (3,), }"), `x.npy: the .npy header "{'descr': '<f4', 'shape': (3,), }" has no 'fortran_order' key.`);
  assert.equal(await header("{'descr': '<f4', 'fortran_order': False, }"), `x.npy: the .npy header "{'descr': '<f4', 'fortran_order': False, }" has no 'shape' key.`);
  assert.equal(await header("{'fortran_order': False, 'shape': (3,), }"), `x.npy: the .npy header "{'fortran_order': False, 'shape': (3,), }" has no 'descr' key.`);
  // 5000 dimensions: one short sentence, where the message quoted all 5000 of them (10 kB).
  const deep = await header(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'1,'.repeat(5000)}), }`);
  assert.equal(deep, 'x.npy: the .npy header has a shape of 5000 dimensions, more than the 64 Weightscope reads.');
  // 2^64 - 1 as written, where the message showed it rounded (18446744073709552000).
  assert.equal(
    await header("{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615,), }"),
    'x.npy: the .npy header has shape (18446744073709551615,), expected a tuple of non-negative integers.',
  );
  const long = await header(`{'descr': '<f4', 'fortran_order': False, 'shape': 'x${'y'.repeat(5000)}', }`);
  assert.ok(long.length < 200, long);
});

test('a shape of more elements than a safe integer holds counts no parameters and no bytes: the totals leave it out and say so', async () => {
  // 2^93 elements: the totals were 9,903,520,314,283,042,000,000,000,000 parameters and 36028797018963968.0 TiB.
  const file = await openNpy(buildNpy('', [], new Uint8Array(0), { rawHeader: "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648, 2147483648), }" }), 'x.npy');
  const t = file.tensors[0]!;
  assert.equal(t.unavailable?.reason, 'corrupt');
  assert.deepEqual(t.shape, [2 ** 31, 2 ** 31, 2 ** 31]);
  assert.equal(t.byteLength, 0);
  assert.equal(knownElementCount(t), undefined);
  assert.equal(countUnknownShapes(file.tensors), 1);
  const report = buildFileReport(file, new Map());
  assert.deepEqual([report.params, report.unknownShapeTensors, report.bytes], [0, 1, 0]);
  assert.equal(knownElementCount({ shape: [2 ** 26, 2 ** 27] }), undefined, '2^53 is not a safe integer');
  assert.equal(knownElementCount({ shape: [2 ** 26, 2 ** 26] }), 2 ** 52);
});

test('.npz with STORED and DEFLATED members (np.savez / np.savez_compressed layouts), ZIP64 records', async () => {
  const kernel = new Float32Array(5000).map((_, i) => (i % 97) * 0.25 - 12);
  const members = [
    { name: 'dense/kernel.npy', data: buildNpy('<f4', [50, 100], bytesOf(kernel)) },
    { name: 'dense/bias.npy', data: buildNpy('<f8', [3], bytesOf(new Float64Array([0.5, NaN, -Infinity]))) },
    { name: 'step.npy', data: buildNpy('<i8', [], bytesOf(new BigInt64Array([1234n]))) },
  ];
  for (const method of [0, 8] as const) {
    for (const zip64 of [false, true]) {
      const wf = await openNpz(buildZip(members.map((m) => ({ ...m, method })), { zip64 }));
      assert.equal(wf.format, 'npz');
      assert.equal(wf.formatName, method === 8 ? 'NumPy archive (.npz, compressed)' : 'NumPy archive (.npz)');
      assert.deepEqual(wf.warnings, []);
      assert.deepEqual(
        wf.tensors.map((t) => [t.name, t.layer, t.weight, t.role, t.dtype, [...t.shape]]),
        [
          ['dense/kernel', 'dense', 'kernel', 'kernel', 'float32', [50, 100]],
          ['dense/bias', 'dense', 'bias', 'bias', 'float64', [3]],
          ['step', '', 'step', 'step', 'int64', []],
        ],
      );
      assert.deepEqual(wf.layers, [{ name: 'dense', tensors: ['dense/kernel', 'dense/bias'] }]);
      for (const chunkElements of [7, 1 << 20]) {
        assertSame(await readAllValues(tensor(wf, 'dense/kernel'), { chunkElements }), [...kernel], `kernel method ${method} zip64 ${zip64}`);
      }
      assertSame(await readAllValues(tensor(wf, 'dense/bias')), [0.5, NaN, -Infinity], 'bias');
      assertSame(await readAllValues(tensor(wf, 'step')), [1234], 'step');
      await wf.close();
    }
  }
});

test('.npz damage stays on its member: bad npy header, truncated deflate stream, non-npy member, encrypted member', async () => {
  const good = buildNpy('<f4', [2], bytesOf(new Float32Array([1, 2])));
  const zip = buildZip([
    { name: 'good.npy', data: good, method: 8 },
    { name: 'bad.npy', data: new TextEncoder().encode('not numpy at all'), method: 0 },
    { name: 'README.txt', data: new TextEncoder().encode('hello'), method: 0 },
  ]);
  const wf = await openNpz(zip);
  assertSame(await readAllValues(tensor(wf, 'good')), [1, 2], 'good');
  assert.equal(tensor(wf, 'bad').unavailable?.reason, 'unrecognized');
  assert.match(tensor(wf, 'bad').unavailable!.message, /arrays\.npz\/bad\.npy: not a \.npy file/);
  assert.ok(wf.warnings.some((w) => /member 'README\.txt' is not a \.npy array/.test(w.message)));
  // A DEFLATED member whose compressed bytes were damaged after the header.
  const big = buildNpy('<f8', [4000], bytesOf(new Float64Array(4000).map((_, i) => Math.sin(i))));
  const damaged = buildZip([{ name: 'x.npy', data: big, method: 8 }]);
  const dataStart = 30 + 'x.npy'.length;
  for (let i = dataStart + 200; i < dataStart + 400; i++) {
    damaged[i] = 0xff;
  }
  const wf2 = await openNpz(damaged);
  const x = tensor(wf2, 'x');
  if (x.unavailable) {
    assert.equal(x.unavailable.reason, 'corrupt');
  } else {
    await rejectsWith(readAllValues(x), 'corrupt', /cannot be inflated/);
  }
  // A DEFLATED member whose recorded CRC-32 does not match its data: the array fails when read in full.
  const crcZip = buildZip([{ name: 'k.npy', data: big, method: 8 }]);
  const crcAt = crcZip.length - 22 - (46 + 'k.npy'.length) + 16;
  crcZip[crcAt] = crcZip[crcAt]! ^ 0x55;
  const wf4 = await openNpz(crcZip);
  assert.equal(tensor(wf4, 'k').unavailable, undefined, 'the header alone cannot show the damage');
  await rejectsWith(readAllValues(tensor(wf4, 'k'), { chunkElements: 500 }), 'checksumMismatch', /arrays\.npz\/k\.npy: the inflated bytes have CRC-32/);
  // Encrypted flag set on the member.
  const encrypted = buildZip([{ name: 'e.npy', data: good, method: 0 }]);
  encrypted[6] = 1;
  const cd = encrypted.length - 22 - (46 + 'e.npy'.length);
  encrypted[cd + 8] = 1;
  const wf3 = await openNpz(encrypted);
  assert.equal(tensor(wf3, 'e').unavailable?.reason, 'unsupportedFormat');
  assert.match(tensor(wf3, 'e').unavailable!.message, /is encrypted/);
});

test('.npz archive-level damage: no end record, truncated central directory', async () => {
  await rejectsWith(openNpz(new TextEncoder().encode('PK\x03\x04'.padEnd(100, 'x'))), 'unrecognized', /arrays\.npz: no ZIP end-of-central-directory record/);
  const zip = buildZip([{ name: 'a.npy', data: buildNpy('<f4', [1], new Uint8Array(4)), method: 0 }]);
  const broken = concatBytes([zip.subarray(0, zip.length - 22 - 10), zip.subarray(zip.length - 22)]);
  await rejectsWith(openNpz(broken), 'truncated');
});

test('sniffing: \\x93NUMPY magic, ZIP named .npz, ZIP whose first member is .npy', async () => {
  const npy = buildNpy('<f4', [1], new Uint8Array(4));
  const zip = buildZip([{ name: 'arr_0.npy', data: npy, method: 0 }]);
  const input = (fileName: string, b: Uint8Array) => ({ fileName, size: b.length, head: b.subarray(0, 4096), tail: b.subarray(Math.max(0, b.length - 64)) });
  assert.equal(npyReader.sniff(input('weights.bin', npy)), 100);
  assert.equal(npzReader.sniff(input('arrays.npz', zip)), 100);
  assert.equal(npzReader.sniff(input('arrays.zip', zip)), 90);
  assert.equal(npzReader.sniff(input('model.keras', buildZip([{ name: 'metadata.json', data: new Uint8Array(2), method: 0 }]))), undefined);
  assert.equal(npyReader.sniff(input('arrays.npz', zip)), undefined);
  assert.equal(await detectFormat(new MemoryByteSource('a.npy', npy), 'a.npy'), npyReader);
  assert.equal(await detectFormat(new MemoryByteSource('a.npz', zip), 'a.npz'), npzReader);
});

/** Python with NumPy, when this machine has it (CI may not: those tests then skip with the reason). */
const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0);

test('files written by NumPy itself (np.save, np.savez, np.savez_compressed) read back as NumPy reports', { skip: python ? false : 'python3 with numpy not available; NumPy-written file test skipped' }, async () => {
  const dir = makeTempDir('weightscope-numpy-');
  const script = `
import json, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(7)
a = rng.normal(size=(30, 40)).astype('<f4')
b = np.array([1, -2, 3], dtype='>i4')
c = np.arange(12, dtype='<f8').reshape(3, 4)
h = np.array([0.1, 65504, -0.0, 1e-7], dtype='<f2')
np.save(d + '/a.npy', a)
np.save(d + '/b.npy', b)
np.savez(d + '/plain.npz', a=a, b=b, c=c)
np.savez_compressed(d + '/packed.npz', a=a, h=h, big=np.zeros(300000, dtype='<f4'))
out = {k: [float(x) for x in v.ravel()] for k, v in dict(a=a, b=b, c=c, h=h).items()}
json.dump(out, open(d + '/expected.json', 'w'))
`;
  const r = spawnSync(python!, ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, number[]>;
  const a = await openLocalPath(path.join(dir, 'a.npy'));
  assertSame(await readAllValues(a.tensors[0]!), expected.a!, 'a.npy');
  await a.close();
  const b = await openLocalPath(path.join(dir, 'b.npy'));
  assertSame(await readAllValues(b.tensors[0]!), expected.b!, 'b.npy (big-endian)');
  await b.close();
  const plain = await openLocalPath(path.join(dir, 'plain.npz'));
  assert.deepEqual(
    plain.tensors.map((t) => t.name),
    ['a', 'b', 'c'],
  );
  for (const t of plain.tensors) {
    assertSame(await readAllValues(t), expected[t.name]!, `plain.npz ${t.name}`);
  }
  await plain.close();
  const packed = await openLocalPath(path.join(dir, 'packed.npz'));
  assert.equal(packed.formatName, 'NumPy archive (.npz, compressed)');
  assertSame(await readAllValues(tensor(packed, 'a'), { chunkElements: 100 }), expected.a!, 'packed a');
  assertSame(await readAllValues(tensor(packed, 'h')), expected.h!, 'packed h (float16)');
  const big = await readAllValues(tensor(packed, 'big'), { chunkElements: 65536 });
  assert.equal(big.length, 300000);
  assert.ok(big.every((v) => v === 0));
  await packed.close();
});

test('damaged variants of valid .npy and .npz files open or fail with a WeightFileError, never crash or hang', async () => {
  const npy = buildNpy('>f8', [3, 4], beFloat64([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const npySummary = await assertMutationsFailCleanly('m.npy', npy, (b) => openNpy(b, 'm.npy'), 800);
  assert.ok(npySummary.opened > 0 && npySummary.refused > 0, JSON.stringify(npySummary));
  const npz = buildZip([
    { name: 'a.npy', data: buildNpy('<f4', [40], bytesOf(new Float32Array(40).map((_, i) => i))), method: 8 },
    { name: 'b/c.npy', data: npy, method: 0 },
  ]);
  const npzSummary = await assertMutationsFailCleanly('m.npz', npz, (b) => openNpz(b, 'm.npz'), 800, 7);
  assert.ok(npzSummary.opened > 0 && npzSummary.refused > 0, JSON.stringify(npzSummary));
});

test('Fortran-order arrays written by NumPy read as NumPy ravels them (C order), in memory and a block of rows at a time', { skip: python ? false : 'python3 with numpy not available; NumPy-written file test skipped' }, async () => {
  const dir = makeTempDir('weightscope-fortran-');
  const script = `
import json, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(11)
w = np.asfortranarray(rng.normal(size=(37, 53)).astype('<f4'))
t = np.asfortranarray(np.arange(2 * 3 * 4, dtype='>i2').reshape(2, 3, 4))
h = rng.normal(size=(8, 5)).astype('<f2').T  # a transposed view: np.save writes it in Fortran order
np.save(d + '/w.npy', w)
np.save(d + '/wc.npy', np.ascontiguousarray(w))
np.save(d + '/t.npy', t)
np.save(d + '/h.npy', h)
np.savez(d + '/stored.npz', w=w, t=t)
np.savez_compressed(d + '/packed.npz', w=w, h=h)
flags = {k: bool(np.load(d + '/' + k + '.npy').flags.f_contiguous) for k in ['w', 't', 'h']}
json.dump({'flags': flags, 'w': [float(x) for x in w.ravel()], 't': [float(x) for x in t.ravel()], 'h': [float(x) for x in h.ravel()]}, open(d + '/expected.json', 'w'))
`;
  const r = spawnSync(python!, ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { flags: Record<string, boolean> } & Record<'w' | 't' | 'h', number[]>;
  assert.deepEqual(expected.flags, { w: true, t: true, h: true }, 'NumPy wrote every array in Fortran order');
  for (const name of ['w', 't', 'h'] as const) {
    const f = await openLocalPath(path.join(dir, `${name}.npy`));
    assert.equal(f.tensors[0]!.extra?.['fortranOrder'], true);
    assertSame(await readAllValues(f.tensors[0]!, { chunkElements: 100 }), expected[name], `${name}.npy`);
    await f.close();
  }
  // The same values saved in C order fingerprint the same (fingerprints hash the row-major values).
  const [fw, fc] = await Promise.all(['w.npy', 'wc.npy'].map((f) => openLocalPath(path.join(dir, f))));
  assert.equal(fc!.tensors[0]!.extra?.['fortranOrder'], false);
  assert.equal(await fingerprintTensor(fw!.tensors[0]!), await fingerprintTensor(fc!.tensors[0]!));
  await Promise.all([fw!.close(), fc!.close()]);
  for (const archive of ['stored.npz', 'packed.npz']) {
    const f = await openLocalPath(path.join(dir, archive));
    for (const t of f.tensors) {
      assertSame(await readAllValues(t), expected[t.name as 'w' | 't' | 'h'], `${archive} ${t.name}`);
    }
    await f.close();
  }
  // The path for arrays too large to reorder in memory: a block of rows at a time (hold limit 0).
  const source = new MemoryByteSource('w.npy', fs.readFileSync(path.join(dir, 'w.npy')));
  const header = await readNpyHeader(source);
  for (const chunkElements of [53, 200, 10_000]) {
    const blocks: number[] = [];
    for await (const chunk of readFortranValues(source, header, 'float32', 37 * 53 * 4, { chunkElements }, 0)) {
      blocks.push(...chunk);
    }
    assertSame(blocks, expected.w, `w.npy by row blocks, chunk ${chunkElements}`);
  }
});
