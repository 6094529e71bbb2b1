import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snappyDecompress, SnappyError } from '../../../../src/formats/tf/snappy';
import { snappyCompressSimple } from '../helpers/bundleWriter';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

test('snappy: literal then overlapping 1-byte-offset copy (hand-assembled per format_description.txt)', () => {
  // preamble 12; literal len 4 "abcd" (tag (4-1)<<2 = 0x0c); copy-1: len 8 (bits 2..4 = 8-4), offset 4 -> tag 0x11, 0x04
  const stream = Uint8Array.of(12, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x11, 0x04);
  assert.equal(str(snappyDecompress(stream, 100)), 'abcdabcdabcd');
});

test('snappy: 2-byte and 4-byte offset copies and a long literal with a 1-byte length', () => {
  const lit = 'x'.repeat(70) + 'HELLO';
  // literal of 75 bytes: tag 60<<2, length-1 = 74
  const head = [75 + 10, 60 << 2, 74, ...text(lit)];
  // copy-2: len 5, offset 5 -> tag ((5-1)<<2)|2 = 0x12, 05 00
  const c2 = [0x12, 5, 0];
  // copy-4: len 5, offset 10 -> tag 0x13, 0a 00 00 00
  const c4 = [0x13, 10, 0, 0, 0];
  const out = snappyDecompress(Uint8Array.from([...head, ...c2, ...c4]), 1000);
  assert.equal(str(out), lit + 'HELLO' + 'HELLOHELLO'.slice(0, 5));
});

test('snappy round-trips the literal/run compressor used by the test bundle writer', () => {
  const input = new Uint8Array(100_000);
  for (let i = 0; i < input.length; i++) {
    input[i] = i % 1000 < 500 ? 7 : (i * 31) & 0xff;
  }
  const packed = snappyCompressSimple(input);
  assert.ok(packed.length < input.length * 0.6, 'runs were turned into copies');
  assert.deepEqual(snappyDecompress(packed, input.length), input);
});

test('snappy rejects malformed streams with a SnappyError, never over-allocating', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['declared length above the cap', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), /exceeds the limit/],
    ['length preamble longer than 5 bytes', Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /longer than 5 bytes/],
    ['copy before any output', Uint8Array.of(4, 0x01, 0x01), /offset 1 with only 0 bytes/],
    ['literal past the input', Uint8Array.of(10, 0x24, 0x61), /runs past the end/],
    ['output shorter than declared', Uint8Array.of(5, 0x00, 0x61), /decoded to 1 bytes but declared 5/],
    ['literal overflowing the declared length', Uint8Array.of(1, 0x04, 0x61, 0x62), /overflows the declared length/],
    ['cut copy element', Uint8Array.of(4, 0x00, 0x61, 0x02, 0x01), /cut off/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => snappyDecompress(bytes, 1 << 20), (ex: unknown) => ex instanceof SnappyError && re.test(ex.message), what);
  }
});
