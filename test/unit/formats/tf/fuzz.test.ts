import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet } from '../../../../src/core/byteSource';
import { WeightFileError } from '../../../../src/core/errors';
import { readAllValues } from '../../../../src/core/tensorData';
import { decodeBundleEntry } from '../../../../src/formats/tf/bundleProto';
import { decodeTrackableObjectGraph } from '../../../../src/formats/tf/objectGraph';
import { readSavedModel } from '../../../../src/formats/tf/savedModel';
import { SnappyError, snappyDecompress } from '../../../../src/formats/tf/snappy';
import { parseBlock } from '../../../../src/formats/tf/sstable';
import { tfCheckpointReader } from '../../../../src/formats/tfCheckpoint';
import { BundleWriter, buildTable, encodeObjectGraph, encodeSavedModel, snappyCompressSimple } from '../helpers/bundleWriter';

/** Deterministic xorshift PRNG. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = bytes.slice();
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * out.length);
    out[at] = rand() < 0.5 ? out[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
  }
  return rand() < 0.2 ? out.subarray(0, Math.floor(rand() * out.length)) : out;
}

/** Only WeightFileErrors (or the named parser error) may escape; anything else is a crash. */
function expectClean(fn: () => unknown, what: string, also?: new (...a: never[]) => Error): void {
  try {
    fn();
  } catch (ex) {
    assert.ok(WeightFileError.is(ex) || (also !== undefined && ex instanceof also), `${what}: unexpected ${String(ex)}`);
  }
}

test('fuzz: mutated protobuf entries, object graphs, blocks and Snappy streams only ever throw clean errors', () => {
  const rand = rng(20261129);
  const entry = new BundleWriter('x');
  entry.add('k', 'float32', [3, 4], new Array(12).fill(1));
  const graph = encodeObjectGraph([{ children: [[1, 'a']] }, { attributes: [['VARIABLE_VALUE', 'a', 'a/.ATTRIBUTES/VARIABLE_VALUE']], slots: [[1, 'm', 0]] }]);
  const table = buildTable(
    Array.from({ length: 40 }, (_, i) => [new TextEncoder().encode(`key_${String(i).padStart(3, '0')}`), new Uint8Array(i)] as [Uint8Array, Uint8Array]),
    { restartInterval: 4 },
  );
  const block = table.subarray(0, table.length - 48 - 30);
  const packed = snappyCompressSimple(new TextEncoder().encode('abcabcabcabc'.repeat(50) + 'z'.repeat(200)));
  const entryBytes = [...entry.files().get('x.index')!];
  for (let i = 0; i < 3000; i++) {
    expectClean(() => decodeBundleEntry(mutate(Uint8Array.from(entryBytes.slice(10, 40)), rand), 'fuzz'), 'entry');
    expectClean(() => decodeTrackableObjectGraph(mutate(graph, rand), 'fuzz'), 'graph');
    expectClean(() => parseBlock(mutate(block, rand), (d) => new WeightFileError('corrupt', d)), 'block');
    expectClean(() => snappyDecompress(mutate(packed, rand), 1 << 16), 'snappy', SnappyError);
  }
});

test('fuzz: mutated bundles (index and shards) open or fail with a WeightFileError, and reads stay confined', async () => {
  const rand = rng(7);
  const w = new BundleWriter('m', { blockSizeBytes: 300, restartInterval: 3, snappy: true, numShards: 2 });
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [encodeObjectGraph([{ children: [[1, 'v']] }, { attributes: [['VARIABLE_VALUE', 'net/v', 'v/.ATTRIBUTES/VARIABLE_VALUE']] }])]);
  for (let i = 0; i < 30; i++) {
    w.add(`scope_${i}/w`, i % 2 ? 'float32' : 'int64', [i + 1], Array.from({ length: i + 1 }, (_, k) => (i % 2 ? k / 3 : BigInt(k))), i % 2);
  }
  w.add('v/.ATTRIBUTES/VARIABLE_VALUE', 'float32', [2], [1, 2]);
  const files = w.files();
  let opened = 0;
  for (let i = 0; i < 200; i++) {
    const mutated = new Map(files);
    const target = rand() < 0.6 ? 'm.index' : rand() < 0.5 ? 'm.data-00000-of-00002' : 'm.data-00001-of-00002';
    mutated.set(target, mutate(files.get(target)!, rand));
    try {
      const file = await tfCheckpointReader.open(new MemoryByteSource('fuzz/m.index', mutated.get('m.index')!), new MemoryFileSet('fuzz', mutated));
      opened++;
      for (const t of file.tensors) {
        try {
          await readAllValues(t);
        } catch (ex) {
          assert.ok(WeightFileError.is(ex), `read ${t.name}: unexpected ${String(ex)}`);
        }
      }
      await file.close();
    } catch (ex) {
      assert.ok(WeightFileError.is(ex), `open: unexpected ${String(ex)}`);
    }
  }
  assert.ok(opened > 25, `${opened} of 200 mutated bundles opened (shard damage stays confined)`);
});

test('fuzz: mutated saved_model.pb files are read or refused with a WeightFileError', async () => {
  const rand = rng(99);
  const pb = encodeSavedModel(
    [{ identifier: '_tf_keras_model', metadata: '{"class_name":"Sequential","name":"s"}', children: [[1, 'layer-0']] }, { variableName: 'dense/kernel' }],
    { serving_default: { inputs: { x: ['x:0', 1, [-1, 4]] }, outputs: { y: ['y:0', 1, null] } } },
  );
  for (let i = 0; i < 600; i++) {
    try {
      await readSavedModel(new MemoryByteSource('fuzz/saved_model.pb', mutate(pb, rand)));
    } catch (ex) {
      assert.ok(WeightFileError.is(ex), `unexpected ${String(ex)}`);
    }
  }
});
