import * as assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { test } from 'node:test';
import { MemoryByteSource, type ByteSource } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import { NodeFileSource } from '../../../src/core/nodeFileSource';
import { inflateRawStream, looksLikeZip, openZipEntry, readZipDirectory } from '../../../src/core/zip';
import { fixtureOrSkip } from '../helpers/fixtures';
import { buildZip, concatBytes, crc32 } from '../helpers/zipBuilder';

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

/** Deterministic bytes that compress somewhat (a repeating ramp with noise). */
function sample(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (i % 251) ^ (x >>> 28);
  }
  return out;
}

/** A source that records the largest single read. */
function watched(bytes: Uint8Array, name = 'a.zip'): ByteSource & { largestRead: number } {
  const s = {
    name,
    size: bytes.length,
    largestRead: 0,
    read: async (offset: number, length: number) => {
      s.largestRead = Math.max(s.largestRead, length);
      return new MemoryByteSource(name, bytes).read(offset, length);
    },
    close: async () => undefined,
  };
  return s;
}

test('readZipDirectory lists STORED and DEFLATED members with sizes, CRCs and flags', async () => {
  const a = sample(1000);
  const b = sample(70000);
  const zip = buildZip(
    [
      { name: 'dir/a.bin', data: a, method: 0 },
      { name: 'b.bin', data: b, method: 8 },
      { name: 'empty.txt', data: new Uint8Array(0), method: 8 },
    ],
    { comment: 'archive comment' },
  );
  assert.ok(looksLikeZip(zip));
  const entries = await readZipDirectory(new MemoryByteSource('a.zip', zip));
  assert.deepEqual(
    entries.map((e) => [e.name, e.method, e.uncompressedSize, e.crc32, e.isDirectory]),
    [
      ['dir/a.bin', 0, 1000, crc32(a), false],
      ['b.bin', 8, 70000, crc32(b), false],
      ['empty.txt', 8, 0, 0, false],
    ],
  );
  assert.equal(entries[1]!.compressedSize, zlib.deflateRawSync(b).length);
});

test('openZipEntry: STORED members are slices, DEFLATED members inflate forward and restart for backward reads', async () => {
  const a = sample(5000);
  const b = sample(300000);
  const zip = buildZip([
    { name: 'a.bin', data: a, method: 0 },
    { name: 'b.bin', data: b, method: 8 },
  ]);
  const source = watched(zip);
  const [ea, eb] = await readZipDirectory(source);
  const sa = await openZipEntry(source, ea!);
  assert.equal(sa.name, 'a.zip/a.bin');
  assert.deepEqual(await sa.read(100, 50), a.subarray(100, 150));
  const sb = await openZipEntry(source, eb!);
  assert.equal(sb.size, 300000);
  source.largestRead = 0;
  // Forward reads of odd sizes, then a backward read (restart), then a read at the very end.
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < b.length; off += 7777) {
    pieces.push(await sb.read(off, Math.min(7777, b.length - off)));
  }
  assert.deepEqual(concatBytes(pieces), b);
  assert.ok(source.largestRead <= 16 * 1024, `compressed bytes are read in small chunks (largest ${source.largestRead})`);
  assert.deepEqual(await sb.read(10, 20), b.subarray(10, 30));
  assert.deepEqual(await sb.read(299990, 10), b.subarray(299990));
  await rejectsWith(sb.read(299995, 10), 'truncated');
  await sb.close();
  assert.deepEqual(await sb.read(0, 4), b.subarray(0, 4), 'a closed inflating member reopens on read');
});

test('ZIP64 end records and extra fields, and an archive appended after other bytes', async () => {
  const data = sample(4000);
  const zip64 = buildZip([{ name: 'x.bin', data, method: 8 }], { zip64: true });
  const [e] = await readZipDirectory(new MemoryByteSource('z64.zip', zip64));
  assert.equal(e!.uncompressedSize, 4000);
  assert.deepEqual(await (await openZipEntry(new MemoryByteSource('z64.zip', zip64), e!)).read(0, 4000), data);
  for (const z of [buildZip([{ name: 'x.bin', data, method: 0 }]), zip64]) {
    // Prepended bytes (e.g. a TFLite FlatBuffer with its associated files appended): offsets shift.
    const prefixed = concatBytes([sample(333), z]);
    const source = new MemoryByteSource('prefixed.tflite', prefixed);
    const [p] = await readZipDirectory(source);
    assert.deepEqual(await (await openZipEntry(source, p!)).read(0, 4000), data);
  }
});

test('bad archives: no end record, short file, truncated central directory, bad local header, encrypted, unknown method, STORED size mismatch', async () => {
  await rejectsWith(readZipDirectory(new MemoryByteSource('x.zip', new Uint8Array(10))), 'truncated', /x\.zip: 10 bytes is too short for a ZIP archive/);
  await rejectsWith(readZipDirectory(new MemoryByteSource('x.zip', sample(5000))), 'unrecognized', /no ZIP end-of-central-directory record/);
  const zip = buildZip([{ name: 'a.bin', data: sample(100), method: 0 }]);
  const cdCut = concatBytes([zip.subarray(0, zip.length - 22 - 20), zip.subarray(zip.length - 22)]);
  await rejectsWith(readZipDirectory(new MemoryByteSource('x.zip', cdCut)), 'truncated', /central directory should span bytes/);
  const badLocal = zip.slice();
  badLocal[0] = 0x51;
  const [e] = await readZipDirectory(new MemoryByteSource('x.zip', badLocal));
  await rejectsWith(openZipEntry(new MemoryByteSource('x.zip', badLocal), e!), 'corrupt', /local header of 'a\.bin' at byte 0 has signature/);
  await rejectsWith(openZipEntry(new MemoryByteSource('x.zip', zip), { ...e!, flags: 1 }), 'unsupportedFormat', /'a\.bin' is encrypted/);
  await rejectsWith(openZipEntry(new MemoryByteSource('x.zip', zip), { ...e!, method: 12 }), 'unsupportedFormat', /compression method 12/);
  await rejectsWith(openZipEntry(new MemoryByteSource('x.zip', zip), { ...e!, uncompressedSize: 101 }), 'corrupt', /compressed size 100 but uncompressed size 101/);
  await rejectsWith(openZipEntry(new MemoryByteSource('x.zip', zip), { ...e!, compressedSize: 1e9, uncompressedSize: 1e9 }), 'truncated');
  const lying = zip.slice();
  new DataView(lying.buffer).setUint16(lying.length - 22 + 10, 5000, true);
  await rejectsWith(readZipDirectory(new MemoryByteSource('x.zip', lying)), 'corrupt', /lists 5000 members but the central directory has only 51 bytes/);
});

test('damaged or short DEFLATE data: corrupt or truncated, never a hang', async () => {
  const data = sample(200000);
  const zip = buildZip([{ name: 'd.bin', data, method: 8 }]);
  const [e] = await readZipDirectory(new MemoryByteSource('d.zip', zip));
  const damaged = zip.slice();
  for (let i = 40; i < 4000; i++) {
    damaged[i] = (damaged[i]! * 7 + 3) & 0xff;
  }
  const member = await openZipEntry(new MemoryByteSource('d.zip', damaged), e!);
  await assert.rejects(
    (async () => {
      for (let off = 0; off < member.size; off += 65536) {
        await member.read(off, Math.min(65536, member.size - off));
      }
    })(),
    (ex: unknown) => WeightFileError.is(ex) && ex.reason === 'corrupt',
  );
  await rejectsWith(member.read(member.size - 10, 10), 'corrupt', /cannot be inflated/);
  // The archive says the member is longer than its compressed data inflates to.
  const short = await openZipEntry(new MemoryByteSource('d.zip', zip), { ...e!, uncompressedSize: 200010 });
  await rejectsWith(short.read(199990, 20), 'truncated', /the compressed data ends after 200000 bytes but the archive declares 200010/);
});

test('DEFLATED members are checked against their CRC-32 once fully inflated', async () => {
  const data = sample(50000);
  const zip = buildZip([{ name: 'c.bin', data, method: 8 }]);
  const source = new MemoryByteSource('c.zip', zip);
  const [e] = await readZipDirectory(source);
  const good = await openZipEntry(source, e!);
  assert.deepEqual(await good.read(0, 50000), data);
  const wrong = await openZipEntry(source, { ...e!, crc32: (e!.crc32 ^ 1) >>> 0 });
  assert.deepEqual(await wrong.read(0, 1000), data.subarray(0, 1000), 'a partial read cannot be checked yet');
  await rejectsWith(wrong.read(1000, 49000), 'checksumMismatch', /c\.zip\/c\.bin: the inflated bytes have CRC-32 0x[0-9a-f]{8} but the archive records 0x[0-9a-f]{8}/);
  await rejectsWith(wrong.read(0, 50000), 'checksumMismatch');
  const longer = await openZipEntry(source, { ...e!, uncompressedSize: 40000 });
  await rejectsWith(longer.read(30000, 10000), 'corrupt', /inflates to more than the 40000 bytes/);
});

test('inflateRawStream honours cancellation', async () => {
  const data = sample(100000);
  const deflated = new Uint8Array(zlib.deflateRawSync(data));
  const controller = new AbortController();
  const chunks: Uint8Array[] = [];
  await rejectsWith(
    (async () => {
      for await (const chunk of inflateRawStream(new MemoryByteSource('c.bin', deflated), 0, deflated.length, controller.signal)) {
        chunks.push(chunk);
        controller.abort();
      }
    })(),
    'cancelled',
  );
  assert.equal(chunks.length, 1);
  const all: Uint8Array[] = [];
  for await (const chunk of inflateRawStream(new MemoryByteSource('c.bin', deflated), 0, deflated.length)) {
    all.push(chunk);
  }
  assert.deepEqual(concatBytes(all), data);
});

test('real Keras 3 .keras archives (STORED members) list and read in place', async (t) => {
  const file = fixtureOrSkip(t, 'keras3-keras/keras-masking-lstm-3.8/model.keras');
  if (!file) {
    return;
  }
  const source = await NodeFileSource.open(file);
  try {
    const entries = await readZipDirectory(source);
    assert.deepEqual(
      entries.map((e) => [e.name, e.method]),
      [
        ['metadata.json', 0],
        ['config.json', 0],
        ['model.weights.h5', 0],
      ],
    );
    const meta = await openZipEntry(source, entries[0]!);
    const json = JSON.parse(new TextDecoder().decode(await meta.read(0, meta.size))) as { keras_version: string };
    assert.equal(json.keras_version, '3.8.0');
    const h5 = await openZipEntry(source, entries[2]!);
    assert.deepEqual([...(await h5.read(0, 8))], [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(crc32(await h5.read(0, h5.size)), entries[2]!.crc32);
  } finally {
    await source.close();
  }
});
