import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { openRegularFileSync } from '../../../src/core/nodeFileSource';
import { RawFileReads, readRawValues } from '../../../src/core/tensorData';
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

test('RawFileReads serves reads through a block read ahead: the file’s bytes at any offset, short only at its end; readRawValues reads through it', async () => {
  const dir = makeTempDir('weightscope-raw-');
  const file = path.join(dir, 'bytes.bin');
  const bytes = new Uint8Array(10_000);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = (i * 131 + (i >> 8)) & 0xff;
  }
  fs.writeFileSync(file, bytes);
  const reads = new RawFileReads(openRegularFileSync(file), 1024);
  try {
    // Forward, backward, across block ends, larger than half a block (read directly), at and past the end.
    for (const [offset, length] of [[0, 16], [16, 64], [1000, 100], [5, 3], [2000, 600], [9990, 10], [9995, 10], [10_000, 4], [3000, 1], [0, 1024]] as const) {
      const into = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const got = reads.read(into.subarray(done), offset + done);
        if (got === 0) {
          break;
        }
        done += got;
      }
      const expected = bytes.subarray(offset, Math.min(bytes.length, offset + length));
      assert.equal(done, expected.length, `[${offset}, +${length}) read ${done} bytes`);
      assert.deepEqual(into.subarray(0, done), expected, `[${offset}, +${length})`);
    }
    const values = [1.5, -2, 0.25, 3];
    const rawFile = writeRaw(values);
    const shared = new RawFileReads(openRegularFileSync(rawFile));
    try {
      for (let k = 0; k < 2; k++) {
        const seen: number[] = [];
        for await (const chunk of readRawValues({ localPath: rawFile, offset: 7, byteLength: 16 }, 'float32', { chunkElements: 3 }, shared)) {
          seen.push(...chunk);
        }
        assert.deepEqual(seen, values, 'the file stays open for the next read');
      }
    } finally {
      shared.close();
    }
  } finally {
    reads.close();
  }
});
