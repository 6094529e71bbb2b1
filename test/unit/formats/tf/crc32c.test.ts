import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { crc32c, crc32cUpdate, maskCrc, unmaskCrc } from '../../../../src/formats/tf/crc32c';
import { repoRoot } from '../../helpers/fixtures';

interface KernelSpec {
  wat: string;
  target: string;
}

/** Bit-by-bit CRC-32C straight from the definition (reflected 0x82F63B78). */
function bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('crc32c matches the standard check value of "123456789"', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('crc32c (slicing-by-8) equals the bitwise definition on random data of every length 0..300 at every alignment', () => {
  let seed = 12345;
  const bytes = new Uint8Array(300);
  for (let i = 0; i < bytes.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes[i] = seed >>> 24;
  }
  for (let off = 0; off < 8; off++) {
    for (let n = 0; n + off <= bytes.length; n++) {
      assert.equal(crc32c(bytes.subarray(off, off + n)), bitwise(bytes.subarray(off, off + n)), `offset ${off}, length ${n}`);
    }
  }
});

test('the committed three-lane module is the compiled crc32c.wat', async () => {
  const { generate, kernels } = (await import(pathToFileURL(path.join(repoRoot, 'scripts', 'make-kernels.mjs')).href)) as { generate(text: string, k: KernelSpec): Promise<string>; kernels: KernelSpec[] };
  const kernel = kernels.find((k) => k.wat.endsWith('crc32c.wat'));
  assert.ok(kernel);
  const committed = fs.readFileSync(path.join(repoRoot, kernel.target), 'utf8');
  assert.equal(committed, await generate(fs.readFileSync(path.join(repoRoot, kernel.wat), 'utf8'), kernel), 'run node scripts/make-kernels.mjs');
});

test('crc32c over more than one staging area of the three-lane loop (480 KiB) equals the bitwise definition', () => {
  let seed = 4242;
  const bytes = new Uint8Array(2 * 491520 + 3 * 12288 + 77);
  for (let i = 0; i < bytes.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes[i] = seed >>> 24;
  }
  assert.equal(crc32c(bytes.subarray(3)), bitwise(bytes.subarray(3)));
});

test('crc32c over three-lane blocks (12 KiB and up) equals the bitwise definition, at every alignment and around block edges', () => {
  let seed = 987654321;
  const bytes = new Uint8Array(3 * 12288 + 64);
  for (let i = 0; i < bytes.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes[i] = seed >>> 24;
  }
  for (const n of [12287, 12288, 12289, 12295, 12296, 24576, 24583, 3 * 12288 + 61]) {
    for (let off = 0; off < 4 && off + n <= bytes.length; off++) {
      const part = bytes.subarray(off, off + n);
      assert.equal(crc32c(part), bitwise(part), `offset ${off}, length ${n}`);
    }
  }
  // Chained over splits that cut a block, and zeros (a shift-table error shows on long zero runs too).
  const whole = bitwise(bytes);
  for (const split of [1, 4095, 4096, 12289, 20000]) {
    assert.equal(crc32cUpdate(crc32cUpdate(0, bytes.subarray(0, split)), bytes.subarray(split)), whole, `split at ${split}`);
  }
  const zeros = new Uint8Array(40000);
  assert.equal(crc32c(zeros), bitwise(zeros));
});

test('crc32cUpdate chains: crc(a ++ b) from crc(a) and b, for unaligned splits', () => {
  const data = new TextEncoder().encode('The quick brown fox jumps over the lazy dog, twice over.');
  for (const split of [0, 1, 7, 8, 9, 23, data.length]) {
    assert.equal(crc32cUpdate(crc32cUpdate(0, data.subarray(0, split)), data.subarray(split)), crc32c(data));
  }
});

test('mask/unmask follow TF (rotate right 15 + 0xa282ead8) and invert each other', () => {
  // Worked example from the keras-lso ckpt.index (notes 1.2): masked 0xcde20cd8 is stored for the object graph.
  for (const v of [0, 1, 0xffffffff, 0xe3069283, 0x12345678]) {
    assert.equal(unmaskCrc(maskCrc(v)), v);
  }
  assert.equal(maskCrc(0), 0xa282ead8);
  assert.equal(maskCrc(0x8000), (0x1 + 0xa282ead8) >>> 0);
});
