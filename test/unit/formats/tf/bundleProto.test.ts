import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeightFileError } from '../../../../src/core/errors';
import { decodeBundleEntry, decodeBundleHeader, encodeTensorNameSlice, tfDataTypeName, tfDataTypeToDType } from '../../../../src/formats/tf/bundleProto';
import { encodeEntry, encodeHeader, sliceKey } from '../helpers/bundleWriter';

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

test('the worked example of notes 1.2: the object-graph entry of the keras-lso ckpt.index', () => {
  // 08 07 12 00 28 d0 0a 35 d8 0c e2 cd: dtype 7, empty shape, size 1360, crc32c 0xcde20cd8.
  const e = decodeBundleEntry(Uint8Array.of(0x08, 0x07, 0x12, 0x00, 0x28, 0xd0, 0x0a, 0x35, 0xd8, 0x0c, 0xe2, 0xcd), 'ckpt.index');
  assert.deepEqual(e, { dtypeCode: 7, shape: [], unknownRank: false, shardId: 0, offset: 0, size: 1360, crc32c: 0xcde20cd8, slices: [] });
  // and its header 08 02 1a 02 08 01 = num_shards 2, version.producer 1
  assert.deepEqual(decodeBundleHeader(Uint8Array.of(0x08, 0x02, 0x1a, 0x02, 0x08, 0x01), 'ckpt.index'), {
    numShards: 2,
    endianness: 'little',
    producer: 1,
    minConsumer: 0,
    badConsumers: [],
  });
});

test('int64 offsets beyond 4 GiB decode exactly; beyond 2^53 they are a corrupt error quoting the value', () => {
  const e = decodeBundleEntry(encodeEntry({ dtype: 1, shape: [3, 1 << 20], shardId: 4, offset: 5n * 2n ** 32n + 7n, size: 12n * 2n ** 20n, crc: 1 }), 'x.index');
  assert.equal(e.offset, 5 * 2 ** 32 + 7);
  assert.equal(e.size, 12 * 2 ** 20);
  assert.deepEqual(e.shape, [3, 1 << 20]);
  assert.equal(e.shardId, 4);
  assert.throws(
    () => decodeBundleEntry(encodeEntry({ dtype: 1, shape: [], shardId: 0, offset: 2n ** 62n, size: 4 }), 'x.index'),
    (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /offset 4611686018427387904 is out of range/.test(ex.message),
  );
});

test('big-endian header, and version checks (min_consumer > 1 or bad consumer 1 is unsupported)', () => {
  assert.equal(decodeBundleHeader(encodeHeader(1, true), 'x').endianness, 'big');
  assert.throws(() => decodeBundleHeader(encodeHeader(1, false, { producer: 5, minConsumer: 2 }), 'x.index'), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat') && /min_consumer 2/.test(ex.message));
  assert.throws(() => decodeBundleHeader(encodeHeader(1, false, { producer: 1, badConsumers: [1] }), 'x.index'), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat'));
});

test('DataType names and dtypes, including _REF twins and types without a decoder', () => {
  assert.equal(tfDataTypeName(1), 'DT_FLOAT');
  assert.equal(tfDataTypeName(19), 'DT_HALF');
  assert.equal(tfDataTypeName(101), 'DT_FLOAT_REF');
  assert.equal(tfDataTypeName(999), 'DataType(999)');
  assert.equal(tfDataTypeToDType(14), 'bfloat16');
  assert.equal(tfDataTypeToDType(114), 'bfloat16');
  assert.equal(tfDataTypeToDType(10), 'bool');
  assert.equal(tfDataTypeToDType(23), 'uint64');
  assert.equal(tfDataTypeToDType(26), undefined); // FLOAT8_E4M3FNUZ
  assert.equal(tfDataTypeToDType(0), undefined);
});

test('slice keys: OrderedCode bytes by hand (notes 1.5) and agreement with the independent test writer', () => {
  const name = new TextEncoder().encode('w');
  // 00 | 'w' 00 01 | rank 01 02 | start 0 -> 80, length 2 -> 82 | start 0 -> 80, length -1 -> 7f
  assert.equal(hex(encodeTensorNameSlice(name, [{ start: 0, length: 2 }, { start: 0, length: -1 }])), '00 77 00 01 01 02 80 82 80 7f');
  // Two-byte forms: 100 -> c0 64, -100 -> 3f 9c; 2^20 (21 bits) needs four bytes, header f0: f0 10 00 00
  assert.equal(hex(encodeTensorNameSlice(name, [{ start: 100, length: -100 }])), '00 77 00 01 01 01 c0 64 3f 9c');
  assert.equal(hex(encodeTensorNameSlice(name, [{ start: 2 ** 20, length: 5 }])), '00 77 00 01 01 01 f0 10 00 00 85');
  // Names with 00 / ff bytes are escaped.
  assert.equal(hex(encodeTensorNameSlice(Uint8Array.of(0x61, 0x00, 0xff), [])), '00 61 00 ff ff 00 00 01 00');
  for (const extents of [[{ start: 3, length: 7 }], [{ start: 0, length: -1 }, { start: 4000, length: 63 }], [{ start: 64, length: -65 }]]) {
    assert.equal(hex(encodeTensorNameSlice(new TextEncoder().encode('layer/kernel'), extents)), hex(sliceKey('layer/kernel', extents)));
  }
});
