import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource } from '../../../../src/core/byteSource';
import { WeightFileError } from '../../../../src/core/errors';
import { NodeFileSource } from '../../../../src/core/nodeFileSource';
import { parseBlock, TableReader } from '../../../../src/formats/tf/sstable';
import { fixtureOrSkip, repoRoot } from '../../helpers/fixtures';
import { buildTable } from '../helpers/bundleWriter';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'tfCheckpoint.reference.json'), 'utf8')) as Record<
  string,
  { dataBlocks: { compression: number; restarts: number; entries: number }[] }
>;

function makeEntries(n: number): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < n; i++) {
    out.push([enc(`layer_${String(i).padStart(4, '0')}/kernel`), enc(`value-${i}-${'z'.repeat(i % 40)}`)]);
  }
  return out;
}

async function readAllEntries(bytes: Uint8Array, name = 'gen.index'): Promise<{ table: TableReader; entries: [string, string][] }> {
  const table = await TableReader.open(new MemoryByteSource(name, bytes));
  const entries: [string, string][] = [];
  for await (const e of table.entries()) {
    entries.push([dec(e.key), dec(e.value)]);
  }
  return { table, entries };
}

test('several data blocks with prefix-compressed keys and restart points read back in order', async () => {
  const input = makeEntries(700);
  for (const snappy of [false, true]) {
    const { table, entries } = await readAllEntries(buildTable(input, { blockSizeBytes: 2048, restartInterval: 16, snappy }));
    assert.ok(table.dataBlocks.length >= 10, `${table.dataBlocks.length} data blocks`);
    assert.deepEqual(
      entries,
      input.map(([k, v]) => [dec(k), dec(v)]),
    );
  }
});

test('real fixtures: block counts, Snappy blocks and restart arrays agree with the Python parser', async (t) => {
  for (const rel of [
    'tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index',
    'tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/variables/variables.index',
    'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index',
  ]) {
    const p = fixtureOrSkip(t, rel);
    if (!p) {
      return;
    }
    const ref = reference[rel]!;
    const src = await NodeFileSource.open(p);
    const { table, entries } = await readAllEntries(await src.read(0, src.size), rel);
    await src.close();
    assert.equal(table.dataBlocks.length, ref.dataBlocks.length, rel);
    assert.equal(entries.length, ref.dataBlocks.reduce((a, b) => a + b.entries, 0), rel);
    assert.equal(entries[0]![0], '', 'the header key comes first');
  }
});

test('a flipped byte inside a data block is a block-CRC error naming the block and both CRCs', async () => {
  const bytes = buildTable(makeEntries(100), { blockSizeBytes: 1024 });
  const { table } = await readAllEntries(bytes);
  const second = table.dataBlocks[1]!.handle;
  const bad = bytes.slice();
  bad[second.offset + 10]! ^= 0x01;
  await assert.rejects(readAllEntries(bad), (ex: unknown) => WeightFileError.is(ex, 'checksumMismatch') && new RegExp(`data block 1 at offset ${second.offset} fails its CRC32C check \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)`).test(ex.message));
});

test('a truncated index and a wrong magic are clear errors that quote the footer bytes', async () => {
  const bytes = buildTable(makeEntries(10));
  await assert.rejects(TableReader.open(new MemoryByteSource('cut.index', bytes.subarray(0, bytes.length - 7))), (ex: unknown) => WeightFileError.is(ex, 'truncated') && /does not end with the table magic/.test(ex.message));
  await assert.rejects(TableReader.open(new MemoryByteSource('cut.index', bytes.subarray(0, 30))), (ex: unknown) => WeightFileError.is(ex, 'truncated') && /30 bytes is shorter than the 48-byte table footer/.test(ex.message));
  const wrong = bytes.slice();
  wrong[wrong.length - 1] = 0xdc;
  await assert.rejects(TableReader.open(new MemoryByteSource('wrong.index', wrong)), (ex: unknown) => WeightFileError.is(ex) && /found 57 fb 80 8b 24 75 47 dc/.test(ex.message));
});

test('footer handles past the end and absurd footer varints are corrupt errors', async () => {
  const bytes = buildTable(makeEntries(10));
  const footerAt = bytes.length - 48;
  // Replace the footer's handles with an index handle far past the end.
  const past = bytes.slice();
  past.fill(0, footerAt, footerAt + 40);
  past.set([0x00, 0x08, 0xff, 0xff, 0x03, 0x10], footerAt); // metaindex (0, 8), index (65535, 16)
  await assert.rejects(TableReader.open(new MemoryByteSource('past.index', past)), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /index block handle \(offset 65535, size 16\) points past the end/.test(ex.message));
  const absurd = bytes.slice();
  absurd.fill(0xff, footerAt, footerAt + 40);
  await assert.rejects(TableReader.open(new MemoryByteSource('absurd.index', absurd)), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /footer is malformed, a varint at byte 0 is longer than 10 bytes/.test(ex.message));
});

test('malformed blocks: absurd restart counts, bad shared lengths, unordered keys, cut entries', () => {
  const fail = (d: string): WeightFileError => new WeightFileError('corrupt', d);
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const cases: [string, number[], RegExp][] = [
    ['restart count larger than the block', [...u32(0), ...u32(1000)], /num_restarts 1000 does not fit/],
    ['shared bytes without a previous key', [0x03, 0x01, 0x00, 0x61, ...u32(0), ...u32(1)], /shares 3 key bytes but the previous key has 0/],
    ['keys out of order', [0x00, 0x01, 0x00, 0x62, 0x00, 0x01, 0x00, 0x61, ...u32(0), ...u32(1)], /does not sort after the previous key/],
    ['entry longer than the block', [0x00, 0x7f, 0x00, 0x61, ...u32(0), ...u32(1)], /declares 127 key and 0 value bytes/],
    ['absurd varint in an entry', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...u32(0), ...u32(1)], /longer than 5 bytes|runs past the end/],
    ['too short for a restart count', [0x00, 0x01], /too short/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => parseBlock(Uint8Array.from(bytes), fail), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && re.test(ex.message), what);
  }
});
