import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeightFileError } from '../../../../src/core/errors';
import { ProtoReader, safeNumber, WireType } from '../../../../src/formats/tf/protobuf';

test('int64 varints decode exactly beyond 2^53 and negative int64 uses all 10 bytes', () => {
  // field 4 (varint) = 2^60 + 1: 2^60+1 in LEB128
  const big = (1n << 60n) + 1n;
  const bytes: number[] = [0x20];
  let x = big;
  while (x > 0x7fn) {
    bytes.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  bytes.push(Number(x));
  const r = new ProtoReader(Uint8Array.from(bytes), 'test');
  const [field, wire] = r.tag();
  assert.equal(field, 4);
  assert.equal(r.int64(wire), big);
  // -1 as int64: ff ff ff ff ff ff ff ff ff 01
  const neg = new ProtoReader(Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 'test');
  const [, w] = neg.tag();
  assert.equal(neg.int64(w), -1n);
  assert.ok(neg.done());
});

test('safeNumber refuses int64 values a byte offset cannot hold, naming the value', () => {
  assert.equal(safeNumber(123n, 'offset', 'x.index'), 123);
  assert.throws(() => safeNumber(1n << 60n, 'offset', 'x.index'), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /offset 1152921504606846976 is out of range/.test(ex.message));
  assert.throws(() => safeNumber(-5n, 'size', 'x.index'), /size -5 is out of range/);
});

test('absurd varints, overlong lengths and bad wire types are corrupt errors, not crashes', () => {
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /longer than 10 bytes/],
    [Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), /declares 4294967295 bytes but only 0 remain/],
    [Uint8Array.of(0x0f), /invalid field tag 15/],
    [Uint8Array.of(0x08), /runs past the end/],
    [Uint8Array.of(0x0d, 0x01, 0x02), /runs past the end/],
  ];
  for (const [bytes, re] of cases) {
    const r = new ProtoReader(bytes, 'ckpt.index: entry');
    assert.throws(
      () => {
        while (!r.done()) {
          const [, wire] = r.tag();
          r.skip(wire);
        }
      },
      (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.startsWith('ckpt.index: entry: malformed protobuf') && re.test(ex.message),
      re.source,
    );
  }
});

test('typed readers check the wire type', () => {
  const r = new ProtoReader(Uint8Array.of(0x0a, 0x00), 'ctx');
  const [, wire] = r.tag();
  assert.equal(wire, WireType.LengthDelimited);
  assert.throws(() => r.int32(wire), /wire type 2 where 0 was expected/);
});

test('packed and unpacked repeated varints both decode', () => {
  const packed = new ProtoReader(Uint8Array.of(0x1a, 0x03, 0x01, 0x02, 0x03), 'ctx');
  const [, w1] = packed.tag();
  assert.deepEqual(packed.repeatedInt64(w1), [1n, 2n, 3n]);
  const single = new ProtoReader(Uint8Array.of(0x18, 0x05), 'ctx');
  const [, w2] = single.tag();
  assert.deepEqual(single.repeatedInt64(w2), [5n]);
});
