import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { readRawValues } from '../../../src/core/tensorData';
import { makeTempDir } from '../helpers/fixtures';

/** A file of 7 header bytes followed by `values` as little-endian float32. */
function writeRaw(values: number[]): string {
  const file = path.join(makeTempDir('weightscope-raw-'), 'raw.bin');
  const body = Buffer.alloc(7 + 4 * values.length);
  values.forEach((v, i) => body.writeFloatLE(v, 7 + 4 * i));
  fs.writeFileSync(file, body);
  return file;
}

test('readRawValues reads plain bytes at an offset in chunks, into the caller’s buffer when given one that fits', async () => {
  const values = [1.5, -2, 0.25, 3, -0.125, 8, 9.5];
  const file = writeRaw(values);
  const raw = { localPath: file, offset: 7, byteLength: 4 * values.length };
  const given = new Uint8Array(new ArrayBuffer(64), 16, 32);
  const seen: number[] = [];
  for await (const chunk of readRawValues(raw, 'float32', { chunkElements: 3, reuseChunks: true, chunkBuffer: given })) {
    assert.ok(chunk instanceof Float32Array);
    assert.equal(chunk.buffer, given.buffer, 'a view of the given buffer');
    assert.equal(chunk.byteOffset, 16);
    seen.push(...chunk);
  }
  assert.deepEqual(seen, values);
  // Too small for a chunk, or without reuseChunks: the reader uses its own buffers.
  for (const options of [{ chunkElements: 3, reuseChunks: true, chunkBuffer: new Uint8Array(8) }, { chunkElements: 3, chunkBuffer: given }]) {
    const got: number[] = [];
    for await (const chunk of readRawValues(raw, 'float32', options)) {
      assert.notEqual(chunk.buffer, given.buffer);
      got.push(...chunk); // copied at once: a reused chunk is overwritten by the next read
    }
    assert.deepEqual(got, values);
  }
});

test('readRawValues reports a file that ends early as truncated, naming the file', async () => {
  const file = writeRaw([1, 2, 3]);
  const raw = { localPath: file, offset: 7, byteLength: 4 * 5 };
  await assert.rejects(
    async () => {
      for await (const chunk of readRawValues(raw, 'float32', { chunkElements: 2, reuseChunks: true, chunkBuffer: new Uint8Array(64) })) {
        void chunk;
      }
    },
    (ex: unknown) => ex instanceof WeightFileError && ex.reason === 'truncated' && ex.message.includes(file),
  );
});
