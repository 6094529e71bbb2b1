import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet, type ByteSource } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { NodeFileSet, NodeFileSource } from '../../../src/core/nodeFileSource';
import { readAllValues } from '../../../src/core/tensorData';
import { detectFormat, openLocalPath, readSniffInput } from '../../../src/formats/registry';
import { tfjsReader } from '../../../src/formats/tfjs';
import { fixtureOrSkip, makeTempDir, repoRoot } from '../helpers/fixtures';
import { assertMutationsFailCleanly } from '../helpers/mutate';

type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

interface FixtureTensorRef {
  name: string;
  shape: number[];
  dtype: string;
  storageDtype: string;
  byteLength: number;
  count: number;
  sum: number;
  min: JsonNumber | null;
  max: JsonNumber | null;
  head: JsonNumber[];
  last: JsonNumber | null;
}

interface Reference {
  fixtures: Record<string, { format: string | null; tensors: FixtureTensorRef[]; architecture?: { modelClass: string; layers: [string, string][] } }>;
  quantizedCases: { entry: { name: string; shape: number[]; dtype: string; quantization: Record<string, unknown> }; bytesBase64: string; expected: JsonNumber[] }[];
}

/** Written by scripts/reference-tfjs.py (plain JSON + NumPy), never by the code under test. */
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'tfjs.reference.json'), 'utf8')) as Reference;

function fromJson(v: JsonNumber): number {
  return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === '-0' ? -0 : v;
}

/** Exact comparison that treats NaN as equal to NaN and keeps -0 distinct from 0. */
function assertSameValues(actual: ArrayLike<number>, expected: readonly JsonNumber[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: element count`);
  for (let i = 0; i < expected.length; i++) {
    const e = fromJson(expected[i]!);
    const a = actual[i]!;
    assert.ok(Object.is(a, e), `${label}[${i}]: got ${a}, expected ${e}`);
  }
}

function enc(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Opens a model.json held in memory with its shards. */
async function openMemory(modelJson: unknown, shards: Record<string, Uint8Array> = {}, name = 'model.json'): Promise<WeightFile> {
  const bytes = typeof modelJson === 'string' ? enc(modelJson) : enc(JSON.stringify(modelJson));
  return tfjsReader.open(new MemoryByteSource(name, bytes), new MemoryFileSet('mem', new Map(Object.entries(shards))));
}

async function rejectsWith(promise: Promise<unknown>, reason: string, pattern?: RegExp): Promise<WeightFileError> {
  try {
    await promise;
  } catch (ex) {
    assert.ok(WeightFileError.is(ex), `expected a WeightFileError, got ${String(ex)}`);
    assert.equal(ex.reason, reason, ex.message);
    if (pattern) {
      assert.match(ex.message, pattern);
    }
    return ex;
  }
  assert.fail(`expected a '${reason}' WeightFileError`);
}

function tensor(file: WeightFile, name: string): TensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  assert.ok(t, `tensor ${name} is listed`);
  return t;
}

function f32(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

// ---------------------------------------------------------------------------------------------
// Real fixtures

for (const [rel, ref] of Object.entries(reference.fixtures)) {
  test(`fixture ${rel}: tensors, shapes, dtypes and values match the NumPy reference`, async (t) => {
    const file = fixtureOrSkip(t, rel);
    if (!file) {
      return;
    }
    const wf = await openLocalPath(file);
    try {
      assert.equal(wf.format, ref.format === 'graph-model' ? 'tfjs-graph' : 'tfjs-layers');
      assert.deepEqual(wf.warnings, []);
      assert.deepEqual(
        wf.tensors.map((x) => [x.name, [...x.shape], x.dtype, x.storageDtype, x.byteLength]),
        ref.tensors.map((x) => [x.name, x.shape, x.dtype, x.storageDtype, x.byteLength]),
      );
      for (const [i, r] of ref.tensors.entries()) {
        const values = await readAllValues(wf.tensors[i]!);
        assert.equal(values.length, r.count, r.name);
        let sum = 0;
        let min = Infinity;
        let max = -Infinity;
        for (const v of values) {
          sum += v;
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        assert.ok(Math.abs(sum - r.sum) <= 1e-9 * Math.max(1, Math.abs(r.sum)) + 1e-9, `${r.name}: sum ${sum} vs ${r.sum}`);
        if (r.count > 0) {
          assert.equal(min, fromJson(r.min!), `${r.name} min`);
          assert.equal(max, fromJson(r.max!), `${r.name} max`);
          assert.equal(values[values.length - 1], fromJson(r.last!), `${r.name} last`);
        }
        assertSameValues(values.subarray(0, r.head.length), r.head, r.name);
      }
      if (ref.architecture) {
        assert.equal(wf.modelClass, ref.architecture.modelClass);
        assert.deepEqual(
          wf.layers.filter((l) => l.className !== undefined).map((l) => [l.name, l.className]),
          ref.architecture.layers,
        );
        assert.ok(wf.modelConfig, 'layers models expose their Keras model config');
      }
    } finally {
      await wf.close();
    }
  });
}

test('fixture tfjs-e2e-layers-model: weights attach to topology layers with roles', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model/model.json');
  if (!file) {
    return;
  }
  const wf = await openLocalPath(file);
  await wf.close();
  assert.equal(wf.formatName, 'TensorFlow.js layers model');
  assert.deepEqual(
    wf.tensors.map((x) => [x.layer, x.weight, x.role, x.group]),
    [
      ['embedding_Embedding2', 'embeddings', 'embeddings', 'model'],
      ['gru_GRU1', 'kernel', 'kernel', 'model'],
      ['gru_GRU1', 'recurrent_kernel', 'recurrent_kernel', 'model'],
      ['gru_GRU1', 'bias', 'bias', 'model'],
    ],
  );
  const gru = wf.layers.find((l) => l.name === 'gru_GRU1');
  assert.deepEqual(gru?.tensors, ['gru_GRU1/kernel', 'gru_GRU1/recurrent_kernel', 'gru_GRU1/bias']);
  assert.equal(gru?.units, 4);
  assert.equal(gru?.activation, 'tanh');
  assert.deepEqual(gru?.recurrentInitializer, { className: 'Orthogonal', config: { gain: 1, seed: null } });
  assert.equal(wf.metadata.generatedBy, 'TensorFlow.js tfjs-layers v0.0.0');
  assert.equal(wf.metadata.kerasVersion, 'tfjs-layers 0.0.0');
});

test('fixture nsfwjs (pre-1.0 converter, uint8): 266 quantized weights, old quantization form, no format field', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json');
  if (!file) {
    return;
  }
  const wf = await openLocalPath(file);
  await wf.close();
  assert.equal(wf.format, 'tfjs-layers');
  assert.equal(wf.formatName, 'TensorFlow.js layers model (pre-1.0 converter)');
  assert.equal(wf.tensors.length, 266);
  assert.ok(wf.tensors.every((x) => x.storageDtype === 'uint8' && x.dtype === 'float32' && x.quantization?.scheme === 'tfjs-affine'));
  const conv1 = tensor(wf, 'Conv1/kernel');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { weightsManifest: { weights: { name: string; quantization: { min: number; scale: number } }[] }[] };
  const q = raw.weightsManifest[0]!.weights.find((w) => w.name === 'Conv1/kernel')!.quantization;
  assert.deepEqual(conv1.quantization, { storageDtype: 'uint8', scheme: 'tfjs-affine', scale: [q.scale], min: q.min });
  assert.equal(conv1.layer, 'Conv1');
  assert.equal(conv1.role, 'kernel');
  assert.equal(tensor(wf, 'bn_Conv1/moving_variance').role, 'moving_variance');
  assert.equal(tensor(wf, 'expanded_conv_depthwise/depthwise_kernel').role, 'depthwise_kernel');
  assert.equal(conv1.trainable, false, 'Conv1 is frozen in the topology');
  const trainableLayers = new Set(wf.layers.filter((l) => l.trainable === true).map((l) => l.name));
  assert.deepEqual(
    [...new Set(wf.tensors.filter((x) => x.trainable).map((x) => x.layer))].sort(),
    wf.layers
      .filter((l) => trainableLayers.has(l.name) && l.tensors.length > 0)
      .map((l) => l.name)
      .sort(),
    'tensors are trainable exactly in the layers the topology marks trainable',
  );
  assert.ok(trainableLayers.size > 0 && trainableLayers.size < wf.layers.length);
  assert.equal(wf.modelClass, 'Model');
  assert.equal(wf.metadata.kerasVersion, '2.2.4');
  assert.deepEqual(wf.metadata.inputShapes, [[null, 224, 224, 3]]);
  assert.equal(wf.trainingConfig?.loss, 'categorical_crossentropy');
  assert.equal(wf.layers.filter((l) => l.tensors.length > 0).length, 107);
});

test('fixture tfjs-move-lstm (graph model): layers from node names, int32 constants grouped as other, signature', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-graph/tfjs-move-lstm/model.json');
  if (!file) {
    return;
  }
  const wf = await openLocalPath(file);
  await wf.close();
  assert.equal(wf.format, 'tfjs-graph');
  assert.equal(wf.tensors.filter((x) => x.dtype === 'int32').length + wf.tensors.filter((x) => x.dtype === 'float32').length, 75);
  const kernel = tensor(wf, 'StatefulPartitionedCall/model_1/lstm_4/Read/ReadVariableOp');
  assert.deepEqual([kernel.layer, kernel.weight, kernel.group], ['StatefulPartitionedCall/model_1/lstm_4', 'Read', 'model']);
  const bias = tensor(wf, 'StatefulPartitionedCall/model_1/class/BiasAdd/ReadVariableOp');
  assert.deepEqual([bias.layer, bias.weight, bias.role], ['StatefulPartitionedCall/model_1/class', 'BiasAdd', 'bias']);
  const shape = tensor(wf, 'StatefulPartitionedCall/model_1/class/Tensordot/Reshape/shape');
  assert.deepEqual([shape.layer, shape.group], ['StatefulPartitionedCall/model_1/class', 'other']);
  const layer = wf.layers.find((l) => l.name === 'StatefulPartitionedCall/model_1/class');
  assert.ok(layer?.tensors.includes('StatefulPartitionedCall/model_1/class/Tensordot/ReadVariableOp'));
  assert.equal(wf.modelClass, undefined);
  assert.equal(wf.metadata.convertedBy, 'TensorFlow.js Converter v2.8.1');
  assert.equal(wf.metadata.generatedBy, '2.5.0');
  assert.deepEqual(wf.metadata.signatureInputs, [{ key: 'input_2:0', name: 'input_2:0', dtype: 'DT_FLOAT', shape: [1, 1, 51] }]);
  assert.equal(wf.metadata.graphFunctionCount, 8);
});

test('fixture tfjs-e2e-graph-model: signature from userDefinedMetadata, folder opens through model.json', async (t) => {
  const dir = fixtureOrSkip(t, 'tfjs-graph/tfjs-e2e-graph-model');
  if (!dir) {
    return;
  }
  const wf = await openLocalPath(dir);
  await wf.close();
  assert.equal(wf.format, 'tfjs-graph');
  assert.deepEqual(wf.metadata.signatureOutputs, [{ key: 'MatMul:0', name: 'MatMul:0', dtype: 'DT_FLOAT', shape: [2, 2] }]);
  assert.ok(wf.metadata.userDefinedMetadata);
  assert.equal(wf.metadata.convertedBy, 'TensorFlow.js Converter v1.7.4r1');
});

// ---------------------------------------------------------------------------------------------
// Models written by TensorFlow.js itself at test time (scripts/make-tfjs-cases.mjs)

interface CaseExpected {
  tensors: Record<string, { shape: number[]; dtype: string; values?: JsonNumber[]; byteLength?: number }>;
  order: string[];
  optimizer?: string[];
  shardBytes?: number;
  totalBytes?: number;
}

let casesDir: string | undefined;
function generatedCases(): string {
  if (!casesDir) {
    casesDir = makeTempDir('weightscope-tfjs-cases-');
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'make-tfjs-cases.mjs'), casesDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return casesDir;
}

function expectedOf(name: string): CaseExpected {
  return JSON.parse(fs.readFileSync(path.join(generatedCases(), name, 'expected.json'), 'utf8')) as CaseExpected;
}

async function checkCase(name: string, chunkElements?: number): Promise<WeightFile> {
  const expected = expectedOf(name);
  const wf = await openLocalPath(path.join(generatedCases(), name));
  assert.deepEqual(
    wf.tensors.map((x) => x.name),
    expected.order,
  );
  for (const x of wf.tensors) {
    const e = expected.tensors[x.name]!;
    assert.deepEqual([...x.shape], e.shape, `${x.name} shape`);
    assert.equal(x.dtype, e.dtype, `${x.name} dtype`);
    if (e.values) {
      assertSameValues(await readAllValues(x, chunkElements ? { chunkElements } : {}), e.values, x.name);
    }
  }
  return wf;
}

test('TF.js-saved layers model with known weights (NaN/Inf included) reads back exactly', async () => {
  const wf = await checkCase('known');
  await wf.close();
  assert.equal(wf.format, 'tfjs-layers');
  assert.deepEqual(wf.warnings, []);
  assert.equal(wf.modelClass, 'Sequential');
  const dense = wf.layers.find((l) => l.name === 'dense_a');
  assert.deepEqual(dense?.tensors, ['dense_a/kernel', 'dense_a/bias']);
  assert.equal(dense?.activation, 'relu');
  assert.deepEqual(dense?.kernelRegularizer, { className: 'L1L2', config: { l1: 0, l2: 0.01 } });
  assert.deepEqual(
    wf.tensors.map((x) => [x.name, x.layer, x.role]),
    [
      ['dense_a/kernel', 'dense_a', 'kernel'],
      ['dense_a/bias', 'dense_a', 'bias'],
      ['bn/gamma', 'bn', 'gamma'],
      ['bn/beta', 'bn', 'beta'],
      ['dense_b/kernel', 'dense_b', 'kernel'],
      ['dense_b/bias', 'dense_b', 'bias'],
      ['bn/moving_mean', 'bn', 'moving_mean'],
      ['bn/moving_variance', 'bn', 'moving_variance'],
    ],
    'TF.js saves trainable weights first, then non-trainable ones',
  );
});

test('weights split into 1001-byte shards: tensors and float32 elements straddle shards, any chunk size', async () => {
  const expected = expectedOf('sharded');
  for (const chunk of [undefined, 1, 3, 7, 1 << 20]) {
    const wf = await checkCase('sharded', chunk);
    await wf.close();
  }
  const wf = await openLocalPath(path.join(generatedCases(), 'sharded', 'model.json'));
  await wf.close();
  const straddling = wf.tensors.filter((x) => {
    const start = x.extra?.streamOffset as number;
    return start < expected.shardBytes! && start + x.byteLength > expected.shardBytes!;
  });
  assert.equal(straddling.length, 1, 'exactly one tensor crosses the shard boundary');
  assert.notEqual((straddling[0]!.extra?.streamOffset as number) % 4, expected.shardBytes! % 4, 'an element straddles the boundary');
  assert.deepEqual((wf.metadata.shards as { path: string }[][])[0]!.map((s) => s.path), ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
});

test('model saved with includeOptimizer: optimizer group, slots, step and training config', async () => {
  const expected = expectedOf('trained');
  const wf = await checkCase('trained');
  await wf.close();
  assert.deepEqual(
    wf.tensors.filter((x) => x.group === 'optimizer').map((x) => x.name),
    expected.optimizer,
  );
  assert.equal(tensor(wf, 'iter').role, 'step');
  assert.equal(tensor(wf, 'dense_t/kernel/m').role, 'optimizer_state');
  assert.deepEqual(tensor(wf, 'dense_t/kernel/v').slotOf, { variable: 'dense_t/kernel', slot: 'v' });
  assert.equal(tensor(wf, 'dense_t/kernel').group, 'model');
  assert.equal(tensor(wf, 'dense_t/kernel').trainable, true);
  assert.equal(tensor(wf, 'dense_t/kernel/m').trainable, undefined);
  assert.equal(wf.trainingConfig?.loss, 'mean_squared_error');
  assert.deepEqual(wf.layers.find((l) => l.name === 'dense_t')?.tensors, ['dense_t/kernel', 'dense_t/bias']);
});

test('encodeWeights output: NaN/Inf, empty tensor, 0-d scalar, int32, bool, complex64 and a string weight', async () => {
  const expected = expectedOf('special');
  const wf = await checkCase('special', 2);
  await wf.close();
  assert.equal(wf.format, 'tfjs-graph');
  assert.equal(tensor(wf, 'special/empty').byteLength, 0);
  assert.equal(tensor(wf, 'special/scalar').byteLength, 4);
  assert.equal(tensor(wf, 'special/bool').byteLength, 4);
  assert.equal(tensor(wf, 'special/complex').byteLength, 16);
  const labels = tensor(wf, 'special/labels');
  assert.equal(labels.dtype, 'string');
  assert.equal(labels.byteLength, expected.tensors['special/labels']!.byteLength);
  assert.equal(labels.unavailable, undefined);
  await rejectsWith(readAllValues(labels), 'unsupportedDtype', /strings/);
  assert.equal(tensor(wf, 'special/int32').group, 'other', 'non-float graph constants are not model weights');
});

// ---------------------------------------------------------------------------------------------
// Quantized weights written the converter's way (bytes and expected values from NumPy)

function quantizedModel(shardSplit?: number): { json: unknown; shards: Record<string, Uint8Array> } {
  const parts = reference.quantizedCases.map((c) => Buffer.from(c.bytesBase64, 'base64'));
  const all = Buffer.concat(parts);
  const shards: Record<string, Uint8Array> = {};
  const paths: string[] = [];
  if (shardSplit === undefined) {
    shards['group1-shard1of1'] = all;
    paths.push('group1-shard1of1');
  } else {
    const n = Math.ceil(all.length / shardSplit);
    for (let i = 0; i < n; i++) {
      const p = `group1-shard${i + 1}of${n}`;
      shards[p] = all.subarray(i * shardSplit, (i + 1) * shardSplit);
      paths.push(p);
    }
  }
  return { json: { format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths, weights: reference.quantizedCases.map((c) => c.entry) }] }, shards };
}

test('uint8/uint16/float16 quantized weights (old and new forms, int32 originals, float16 subnormals) dequantize exactly', async () => {
  for (const split of [undefined, 5, 33]) {
    const { json, shards } = quantizedModel(split);
    const wf = await openMemory(json, shards);
    assert.deepEqual(wf.warnings, []);
    for (const c of reference.quantizedCases) {
      const x = tensor(wf, c.entry.name);
      const storage = c.entry.quantization.dtype as string;
      assert.equal(x.storageDtype, storage);
      assert.equal(x.dtype, c.entry.dtype);
      assert.equal(x.quantization?.scheme, storage === 'float16' ? 'float16' : 'tfjs-affine');
      if (storage !== 'float16') {
        assert.deepEqual(x.quantization?.scale, [c.entry.quantization.scale]);
        assert.equal(x.quantization?.min, c.entry.quantization.min);
      }
      for (const chunkElements of [1, 4, 1000]) {
        const chunks = [];
        for await (const chunk of x.readValues({ chunkElements })) {
          assert.ok(c.entry.dtype === 'int32' ? chunk instanceof Int32Array : chunk instanceof Float32Array, `${c.entry.name} chunk type`);
          chunks.push(...chunk);
        }
        assertSameValues(chunks, c.expected, `${c.entry.name} (split ${split}, chunk ${chunkElements})`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Sniffing and bad input

test('sniff: weightsManifest in the head, modelTopology, model.json by name, legacy manifest arrays', () => {
  const sniff = (fileName: string, text: string) => tfjsReader.sniff({ fileName, size: text.length, head: enc(text), tail: enc('') });
  assert.equal(sniff('x.json', '  {"weightsManifest": []}'), 100);
  assert.equal(sniff('anything', '\ufeff{"format":"layers-model","weightsManifest":[]}'), 100);
  assert.equal(sniff('big.json', '{"modelTopology": {"node": ['), 90);
  assert.equal(sniff('big.json', '{"format": "graph-model", "signature": {"inputs": '), 90);
  assert.equal(sniff('model.json', '{"class_name": "Sequential"'), 40);
  assert.equal(sniff('weights_manifest.json', '[{"paths": ["a"], "weights": []}]'), 80);
  assert.equal(sniff('config.json', '{"class_name": "Sequential"}'), undefined);
  assert.equal(sniff('model.json', '\x89HDF\r\n'), undefined);
  assert.equal(sniff('weights.bin', '[1, 2, 3]'), undefined);
});

test('zero-byte model.json: registry says empty, the reader too', async () => {
  const source = new MemoryByteSource('model.json', new Uint8Array(0));
  await rejectsWith(detectFormat(source, 'model.json'), 'empty', /model\.json/);
  await rejectsWith(tfjsReader.open(source, new MemoryFileSet('mem', new Map())), 'empty');
});

test('not JSON: corrupt with the parse position', async () => {
  const err = await rejectsWith(openMemory('{"weightsManifest": [ {"paths": ["a.bin"], oops'), 'corrupt', /model\.json: the model\.json is not valid JSON at position \d+/);
  assert.equal(typeof err.details.offset, 'number');
});

test('a model.json nested thousands of levels deep is corrupt, never a stack overflow', async () => {
  const deep = `${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}`;
  await rejectsWith(openMemory(`{"weightsManifest": [], "userDefinedMetadata": ${deep}}`), 'corrupt', /model\.json: the model\.json is not valid JSON.*nested 10001 levels deep/);
});

test('JSON without weightsManifest: unrecognized (or corrupt when it has a topology); manifest not a list: corrupt', async () => {
  await rejectsWith(openMemory({ class_name: 'Sequential', config: {} }), 'unrecognized', /^model\.json: a Keras model config \('Sequential'\) holds no weights; open the Keras file that holds its weights\.$/);
  const beside = { 'b.weights.h5': new Uint8Array(0), 'a.h5': new Uint8Array(0), 'c.keras': new Uint8Array(0), 'd.hdf5': new Uint8Array(0), 'e.bin': new Uint8Array(0) };
  await rejectsWith(
    openMemory({ class_name: 'Functional', config: { layers: [] } }, beside),
    'unrecognized',
    /^model\.json: a Keras model config \('Functional'\) holds no weights; open the weights beside it \(a\.h5, b\.weights\.h5, c\.keras and 1 more\)\.$/,
  );
  await rejectsWith(openMemory({ class_name: 'Sequential', config: 'x' }), 'unrecognized', /without a 'weightsManifest'.*class_name/);
  await rejectsWith(openMemory({ modelTopology: { node: [] } }), 'corrupt', /modelTopology but no 'weightsManifest'/);
  await rejectsWith(openMemory({ weightsManifest: { paths: [] } }), 'corrupt', /'weightsManifest' is an object/);
  await rejectsWith(openMemory({ weightsManifest: [{ paths: 'a.bin', weights: [] }] }), 'corrupt', /^model\.json: the 'paths' of weightsManifest\[0\] is the string "a\.bin", expected a list\.$/);
  await rejectsWith(openMemory({ weightsManifest: [{ paths: [], weights: [] }, { paths: ['b.bin'] }] }), 'corrupt', /^model\.json: the 'weights' of weightsManifest\[1\] is missing, expected a list\.$/);
  await rejectsWith(openMemory({ weightsManifest: [7] }), 'corrupt', /^model\.json: weightsManifest\[0\] is the number 7, expected \{paths: \[\.\.\.\], weights: \[\.\.\.\]\}\.$/);
  await rejectsWith(openMemory('42'), 'unrecognized', /the number 42/);
});

test('model.json above 64 MiB: tooLarge before reading', async () => {
  const huge: ByteSource = {
    name: 'huge/model.json',
    size: 64 * 1024 * 1024 + 1,
    read: async () => assert.fail('must not read'),
    close: async () => undefined,
  };
  await rejectsWith(tfjsReader.open(huge, new MemoryFileSet('mem', new Map())), 'tooLarge', /huge\/model\.json: 67108865 bytes/);
});

const threeWeights = [
  { name: 'a/kernel', shape: [2, 2], dtype: 'float32' },
  { name: 'b/kernel', shape: [3], dtype: 'float32' },
  { name: 'c/bias', shape: [2], dtype: 'float32' },
];

test('manifest entries past the shards end: those tensors truncated, the others read fine', async () => {
  const bytes = f32([1, 2, 3, 4, 5, 6, 7, 8, 9]); // c/bias needs 2 floats but only 0 remain after b
  const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights: threeWeights }] }, { 'w.bin': bytes.subarray(0, 7 * 4 + 2) });
  assert.deepEqual([...(await readAllValues(tensor(wf, 'a/kernel')))], [1, 2, 3, 4]);
  assert.deepEqual([...(await readAllValues(tensor(wf, 'b/kernel')))], [5, 6, 7]);
  const c = tensor(wf, 'c/bias');
  assert.equal(c.unavailable?.reason, 'truncated');
  assert.match(c.unavailable!.message, /model\.json: weight 'c\/bias' needs bytes 28\.\.36 of its shards but they hold only 30 bytes/);
  await rejectsWith(readAllValues(c), 'truncated');
  assert.deepEqual(
    wf.warnings.map((w) => [w.tensor, w.reason]),
    [['c/bias', 'truncated']],
  );
});

test('a missing shard: its tensors unavailable (missingCompanionFile), the rest opens, a FileWarning', async () => {
  const bytes = f32([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const json = { weightsManifest: [{ paths: ['s1.bin', 's2.bin', 's3.bin'], weights: threeWeights }] };
  // s2 missing: 16 + 12 + 8 = 36 bytes expected, s1 = 16 and s3 = 8 bytes known, so s2 is 12 bytes and c/bias is still found.
  const wf = await openMemory(json, { 's1.bin': bytes.subarray(0, 16), 's3.bin': bytes.subarray(28, 36) });
  assert.deepEqual([...(await readAllValues(tensor(wf, 'a/kernel')))], [1, 2, 3, 4]);
  assert.equal(tensor(wf, 'b/kernel').unavailable?.reason, 'missingCompanionFile');
  assert.match(tensor(wf, 'b/kernel').unavailable!.message, /missing shard 's2\.bin'/);
  await rejectsWith(readAllValues(tensor(wf, 'b/kernel')), 'missingCompanionFile');
  assert.deepEqual([...(await readAllValues(tensor(wf, 'c/bias')))], [8, 9]);
  assert.ok(wf.warnings.some((w) => w.reason === 'missingCompanionFile' && /weight shard 's2\.bin' \(group 1\) is missing/.test(w.message)));
  // Two missing shards: positions after the first missing one are unknown.
  const wf2 = await openMemory(json, { 's1.bin': bytes.subarray(0, 16) });
  assert.equal(tensor(wf2, 'a/kernel').unavailable, undefined);
  assert.equal(tensor(wf2, 'b/kernel').unavailable?.reason, 'missingCompanionFile');
  assert.equal(tensor(wf2, 'c/bias').unavailable?.reason, 'missingCompanionFile');
});

test('shapes with negative, non-integer or absurd dims: corrupt on that tensor, no allocation; a shape that is not sizes is unknown', async () => {
  // What the tensor's shape becomes: -1 for each dimension that is not a size, [] when the rank is not known either.
  const listed = new Map<unknown, [number[], boolean | undefined]>([
    ['[-1,2]', [[-1, 2], true]],
    ['[1.5]', [[-1], true]],
    ['["3"]', [[-1], true]],
    ['[10000000000,10000000000,10000000000]', [[1e10, 1e10, 1e10], undefined]],
    ['"x"', [[], true]],
    [JSON.stringify(Array(65).fill(1)), [[], true]],
  ]);
  for (const shape of [[-1, 2], [1.5], ['3'], [1e10, 1e10, 1e10], 'x', Array(65).fill(1)]) {
    const weights = [threeWeights[0], { name: 'bad', shape, dtype: 'float32' }, threeWeights[2]];
    const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': f32([1, 2, 3, 4, 5, 6]) });
    assert.deepEqual([...(await readAllValues(tensor(wf, 'a/kernel')))], [1, 2, 3, 4]);
    const bad = tensor(wf, 'bad');
    assert.equal(bad.unavailable?.reason, 'corrupt', JSON.stringify(shape));
    assert.match(bad.unavailable!.message, /model\.json: weight 'bad' has shape/);
    assert.deepEqual([bad.shape, bad.shapeUnknown], listed.get(JSON.stringify(shape)), JSON.stringify(shape));
    await rejectsWith(readAllValues(bad), 'corrupt');
    assert.equal(tensor(wf, 'c/bias').unavailable?.reason, 'corrupt', 'a tensor after an unsized one cannot be located');
  }
  // A huge but representable shape is simply past the end of the shard.
  const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'huge', shape: [1e12], dtype: 'float32' }] }] }, { 'w.bin': f32([1]) });
  assert.equal(tensor(wf, 'huge').unavailable?.reason, 'truncated');
});

test('unknown dtype: unsupportedDtype on that tensor, earlier tensors fine', async () => {
  const weights = [threeWeights[0], { name: 'd', shape: [2], dtype: 'float64' }, threeWeights[2]];
  const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': f32([1, 2, 3, 4, 5, 6, 7, 8]) });
  assert.deepEqual([...(await readAllValues(tensor(wf, 'a/kernel')))], [1, 2, 3, 4]);
  assert.equal(tensor(wf, 'd').unavailable?.reason, 'unsupportedDtype');
  assert.match(tensor(wf, 'd').unavailable!.message, /has dtype "float64"/);
  await rejectsWith(readAllValues(tensor(wf, 'd')), 'unsupportedDtype');
  const bad = [
    { name: 'q', shape: [2], dtype: 'float32', quantization: { dtype: 'int8', min: 0, scale: 1 } },
    { name: 'r', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8', min: 0 } },
  ];
  const after = { name: 'after', shape: [2], dtype: 'int32' };
  const wf2 = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights: [bad[1], after, bad[0], after] }] }, { 'w.bin': new Uint8Array([9, 9, 5, 0, 0, 0, 6, 0, 0, 0]) });
  assert.equal(tensor(wf2, 'r').unavailable?.reason, 'corrupt', 'uint8 without scale');
  assert.match(tensor(wf2, 'r').unavailable!.message, /its min is 0 and its scale missing; both must be finite numbers/);
  assert.deepEqual([...(await readAllValues(tensor(wf2, 'after')))], [5, 6], 'a weight of known size does not block the next one');
  assert.equal(tensor(wf2, 'q').unavailable?.reason, 'unsupportedDtype');
  assert.equal(tensor(wf2, 'after#2').unavailable?.reason, 'unsupportedDtype', 'after an unknown storage dtype nothing can be located');
  assert.ok(wf2.warnings.some((w) => /appears more than once/.test(w.message)));
});

test('a manifest entry without its dtype, shape or quantization fields says which is missing, never \'undefined\'', async () => {
  const weights = [
    { name: 'no_dtype', shape: [1] },
    { name: 'no_shape', dtype: 'float32' },
    { name: 'no_storage', shape: [1], dtype: 'float32', quantization: { min: 0, scale: 1 } },
    { name: 'no_original', shape: [1], quantization: { dtype: 'uint8', min: 0, scale: 1 } },
    { name: 'no_min', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5 } },
  ];
  const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': new Uint8Array(64) });
  const messages = Object.fromEntries(weights.map((w) => [w.name, tensor(wf, w.name).unavailable?.message]));
  assert.deepEqual(messages, {
    no_dtype: "model.json: weight 'no_dtype' has no dtype.",
    no_shape: "model.json: weight 'no_shape' has no shape, expected a list of at most 64 dimensions.",
    no_storage: "model.json: weight 'no_storage' has no quantization dtype; expected uint8, uint16 or float16.",
    no_original: "model.json: weight 'no_original' has no quantized original dtype; only float32 and int32 weights are quantized.",
    no_min: "model.json: weight 'no_min' is uint8-quantized but its min is missing and its scale 0.5; both must be finite numbers.",
  });
});

test('string weights: truncated element lengths are reported on that tensor and the ones after it', async () => {
  const good = new Uint8Array([2, 0, 0, 0, 0x68, 0x69]);
  const weights = [
    { name: 's', shape: [2], dtype: 'string' },
    { name: 'after', shape: [1], dtype: 'int32' },
  ];
  const lying = new Uint8Array([...good, 0xff, 0xff, 0, 0, 1, 2, 3]);
  const wf = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': lying });
  assert.equal(tensor(wf, 's').unavailable?.reason, 'truncated');
  assert.match(tensor(wf, 's').unavailable!.message, /string element 1 of weight 's' claims 65535 bytes/);
  assert.equal(tensor(wf, 'after').unavailable?.reason, 'corrupt');
  const ok = new Uint8Array([...good, 0, 0, 0, 0, 7, 0, 0, 0]);
  const wf2 = await openMemory({ weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': ok });
  assert.equal(tensor(wf2, 's').byteLength, 10);
  assert.deepEqual([...(await readAllValues(tensor(wf2, 'after')))], [7]);
});

test('shard paths that leave the model folder are refused with that reason, never read; the shards inside still are', async (t) => {
  const fixture = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model');
  if (!fixture) {
    return;
  }
  // The fixture's one shard split in two: the embeddings (100 x 20 float32 = 8000 bytes) inside the
  // model's folder, the GRU weights in a file beside it, which a manifest path could reach.
  const weights = fs.readFileSync(path.join(fixture, 'weights.bin'));
  const root = makeTempDir('weightscope-tfjs-outside-');
  const dir = path.join(root, 'model');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), weights.subarray(0, 8000));
  fs.writeFileSync(path.join(root, 'group1-shard2of2.bin'), weights.subarray(8000));
  const embeddings = [...new Float32Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + 8000))];
  const model = JSON.parse(fs.readFileSync(path.join(fixture, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  for (const outside of ['../group1-shard2of2.bin', path.join(root, 'group1-shard2of2.bin'), '..%2Fgroup1-shard2of2.bin', 'sub/../../group1-shard2of2.bin']) {
    model.weightsManifest[0]!.paths = ['group1-shard1of2.bin', outside];
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model));
    const wf = await openLocalPath(path.join(dir, 'model.json'));
    try {
      assert.deepEqual([...(await readAllValues(tensor(wf, 'embedding_Embedding2/embeddings')))], embeddings, outside);
      for (const name of ['gru_GRU1/kernel', 'gru_GRU1/recurrent_kernel', 'gru_GRU1/bias']) {
        const u = tensor(wf, name).unavailable;
        assert.equal(u?.reason, 'corrupt', `${outside}: ${name}`);
        assert.equal(u!.message, `${path.join(dir, 'model.json')}: weight '${name}' cannot be read: its shard path '${outside}' points outside the model's folder.`);
        await rejectsWith(readAllValues(tensor(wf, name)), 'corrupt');
      }
      assert.ok(
        wf.warnings.some((w) => w.reason === 'corrupt' && w.tensor === undefined && w.message.endsWith(`: the shard path '${outside}' of weightsManifest[0] points outside the model's folder, so it is not read.`)),
        JSON.stringify(wf.warnings),
      );
      assert.ok(!wf.warnings.some((w) => w.reason === 'missingCompanionFile'), 'not reported as a missing shard');
    } finally {
      await wf.close();
    }
  }
});

test('a shard path that is not a file name (an object, a number, empty) makes its weights corrupt with the path as JSON, not a missing shard', async () => {
  for (const [bad, shown, json] of [[{}, '{}', '{}'], [-1, '-1', '-1'], ['', '', '""'], [null, 'null', 'null']] as const) {
    const wf = await openMemory({ weightsManifest: [{ paths: ['a.bin', bad], weights: [{ name: 'a', shape: [2], dtype: 'float32' }, { name: 'b', shape: [2], dtype: 'float32' }] }] }, { 'a.bin': f32([1, 2]) });
    assert.deepEqual([...(await readAllValues(tensor(wf, 'a')))], [1, 2]);
    const u = tensor(wf, 'b').unavailable;
    assert.equal(u?.reason, 'corrupt', shown);
    assert.equal(u!.message, `model.json: weight 'b' cannot be read: its shard path '${shown}' does not name a file.`);
    assert.ok(wf.warnings.some((w) => w.reason === 'corrupt' && w.message === `model.json: weightsManifest[0] shard path ${json} does not name a file next to model.json.`), JSON.stringify(wf.warnings));
    assert.ok(!wf.warnings.some((w) => w.reason === 'missingCompanionFile'), 'not reported as a missing shard');
  }
});

test('legacy bare weights manifest array and old converter topology without format', async () => {
  const legacy = await openMemory([{ paths: ['group1-shard1of1'], weights: [{ name: 'conv/weights', shape: [2], dtype: 'float32' }] }], { 'group1-shard1of1': f32([0.5, -0.5]) }, 'weights_manifest.json');
  assert.equal(legacy.format, 'tfjs-graph');
  assert.equal(legacy.formatName, 'TensorFlow.js weights manifest (converter 0.x)');
  assert.deepEqual([...(await readAllValues(legacy.tensors[0]!))], [0.5, -0.5]);
  const old = await openMemory(
    {
      modelTopology: {
        keras_version: '2.1.4',
        backend: 'tensorflow',
        model_config: { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { name: 'dense_1', units: 2, activation: 'relu' } }] },
        training_config: '{"loss": "mse", "optimizer_config": {"class_name": "SGD"}}',
      },
      weightsManifest: [{ paths: ['group1-shard1of1'], weights: [{ name: 'dense_1/kernel', shape: [1, 2], dtype: 'float32' }] }],
    },
    { 'group1-shard1of1': f32([1, 2]) },
  );
  assert.equal(old.format, 'tfjs-layers');
  assert.equal(old.formatName, 'TensorFlow.js layers model (pre-1.0 converter)');
  assert.deepEqual(old.trainingConfig, { loss: 'mse', optimizer_config: { class_name: 'SGD' } });
  assert.deepEqual(old.layers.map((l) => [l.name, l.tensors]), [['dense_1', ['dense_1/kernel']]]);
  assert.equal(old.modelConfig?.class_name, 'Sequential');
});

test('nested layer paths map to the architecture (prefix and inner segment matches)', async () => {
  const topology = {
    class_name: 'Sequential',
    config: {
      name: 'outer',
      layers: [
        { class_name: 'Sequential', config: { name: 'sequential_1', layers: [{ class_name: 'Conv2D', config: { name: 'Conv1', filters: 1, kernel_size: [1, 1] } }] } },
        { class_name: 'LSTM', config: { name: 'lstm', units: 1 } },
      ],
    },
  };
  const weights = [
    { name: 'sequential_1/Conv1/kernel', shape: [1], dtype: 'float32' },
    { name: 'lstm/lstm_cell/recurrent_kernel', shape: [1], dtype: 'float32' },
    { name: 'unknown_layer/w', shape: [1], dtype: 'float32' },
  ];
  const wf = await openMemory({ format: 'layers-model', modelTopology: topology, weightsManifest: [{ paths: ['w.bin'], weights }] }, { 'w.bin': f32([1, 2, 3]) });
  assert.deepEqual(
    wf.tensors.map((x) => [x.layer, x.weight, x.role]),
    [
      ['Conv1', 'kernel', 'kernel'],
      ['lstm', 'recurrent_kernel', 'recurrent_kernel'],
      ['unknown_layer', 'w', 'kernel'],
    ],
  );
  assert.deepEqual(wf.layers.find((l) => l.name === 'Conv1')?.parent, 'sequential_1');
  assert.deepEqual(wf.layers.find((l) => l.name === 'unknown_layer')?.tensors, ['unknown_layer/w']);
});

test('cancelled before opening: cancelled', async () => {
  const controller = new AbortController();
  controller.abort();
  await rejectsWith(
    tfjsReader.open(new MemoryByteSource('model.json', enc('{"weightsManifest": []}')), new MemoryFileSet('mem', new Map()), { signal: controller.signal }),
    'cancelled',
  );
});

test('real files open through NodeFileSource/NodeFileSet and the registry sniff', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json');
  if (!file) {
    return;
  }
  const source = await NodeFileSource.open(file);
  const sniffed = await readSniffInput(source, 'model.json');
  assert.equal(tfjsReader.sniff(sniffed), 90, 'nsfwjs puts weightsManifest after a long topology');
  assert.equal(await detectFormat(source, 'model.json'), tfjsReader);
  const wf = await tfjsReader.open(source, new NodeFileSet(path.dirname(file)));
  assert.equal(wf.tensors.length, 266);
  await wf.close();
});

// ---------------------------------------------------------------------------------------------
// Cross-check against tfjs-core's own decoder (io.decodeWeights), the implementation the format is defined by

async function tfjsDecode(bytes: Uint8Array, specs: unknown[]): Promise<Record<string, ArrayLike<number>>> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, specs as Parameters<typeof tf.io.decodeWeights>[1]);
  const out: Record<string, ArrayLike<number>> = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = (await t.data()) as ArrayLike<number>;
    t.dispose();
  }
  return out;
}

test('quantized cases: tfjs-core io.decodeWeights, the NumPy reference and the reader agree bit for bit', async () => {
  const { json, shards } = quantizedModel();
  const decoded = await tfjsDecode(shards['group1-shard1of1']!, reference.quantizedCases.map((c) => c.entry));
  const wf = await openMemory(json, shards);
  for (const c of reference.quantizedCases) {
    assertSameValues(decoded[c.entry.name]!, c.expected, `tfjs-core vs NumPy: ${c.entry.name}`);
    assertSameValues(await readAllValues(tensor(wf, c.entry.name)), c.expected, `reader vs NumPy: ${c.entry.name}`);
  }
});

test('fixture nsfwjs: every dequantized value equals tfjs-core io.decodeWeights', async (t) => {
  const file = fixtureOrSkip(t, 'tfjs-quantized/nsfwjs-mobilenet-v2-uint8/model.json');
  if (!file) {
    return;
  }
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { weightsManifest: { paths: string[]; weights: { name: string }[] }[] };
  const group = json.weightsManifest[0]!;
  const bytes = new Uint8Array(fs.readFileSync(path.join(path.dirname(file), group.paths[0]!)));
  const decoded = await tfjsDecode(bytes, group.weights);
  const wf = await openLocalPath(file);
  try {
    for (const spec of group.weights) {
      const mine = await readAllValues(tensor(wf, spec.name), { chunkElements: 10000 });
      const theirs = decoded[spec.name]!;
      assert.equal(mine.length, theirs.length, spec.name);
      for (let i = 0; i < mine.length; i++) {
        if (!Object.is(mine[i], theirs[i])) {
          assert.fail(`${spec.name}[${i}]: reader ${mine[i]} vs tfjs-core ${theirs[i]}`);
        }
      }
    }
  } finally {
    await wf.close();
  }
});

test('a real Keras 3 model.json (to_json config, no weights) is not taken for a TF.js model', async (t) => {
  const file = fixtureOrSkip(t, 'keras3-weights-h5/diabetes-simple-model/model.json');
  if (!file) {
    return;
  }
  await rejectsWith(openLocalPath(file), 'unrecognized', /model\.json: a Keras model config \('Sequential'\) holds no weights; open the weights beside it \(model\.weights\.h5\)\.$/);
});

test('damaged variants of a model.json (and of its shards) open or fail with a WeightFileError, never crash', async () => {
  const json = enc(
    JSON.stringify({
      format: 'layers-model',
      modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 2 } }] } },
      weightsManifest: [
        {
          paths: ['w.bin', 'x.bin'],
          weights: [
            { name: 'd/kernel', shape: [2, 2], dtype: 'float32' },
            { name: 'labels', shape: [2], dtype: 'string' },
            { name: 'q', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.1 } },
            { name: 'h', shape: [2], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
          ],
        },
      ],
    }),
  );
  const shards: Record<string, Uint8Array> = {
    'w.bin': new Uint8Array([0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 1, 0, 0, 0, 97]),
    'x.bin': new Uint8Array([0, 0, 0, 0, 1, 2, 3, 0, 60, 0, 188]),
  };
  const summary = await assertMutationsFailCleanly('model.json', json, (b) => openMemory(new TextDecoder().decode(b), shards), 800);
  assert.ok(summary.opened > 0 && summary.refused > 0, JSON.stringify(summary));
  const good = await openMemory(new TextDecoder().decode(json), shards);
  assert.deepEqual(good.warnings, []);
  assertSameValues(await readAllValues(tensor(good, 'h')), [1, -1], 'h');
  for (const shard of Object.keys(shards)) {
    const damaged = await assertMutationsFailCleanly('model.json', shards[shard]!, (b) => openMemory(new TextDecoder().decode(json), { ...shards, [shard]: b }), 400, 3);
    assert.ok(damaged.opened > 0, JSON.stringify(damaged));
  }
});

// Matching a weight path to the architecture's layers once tried every sub-path (cubic in the
// number of segments): a crafted name of thousands of segments hung the open. Run in a child
// process that is killed when it hangs, so a regression fails instead of stopping the suite.
test('weight names of thousands of path segments open at once and still find their layer', () => {
  const deep = 'x/'.repeat(3000);
  const modelJson = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 2 } }] } },
    weightsManifest: [
      {
        paths: ['w.bin'],
        weights: [
          { name: `${deep}dense/kernel`, shape: [2, 2], dtype: 'float32' },
          { name: `${deep}y`, shape: [1], dtype: 'float32' },
        ],
      },
    ],
  };
  const dir = makeTempDir('weightscope-deep-names-');
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(20));
  const registry = path.join(repoRoot, 'out', 'src', 'formats', 'registry.js');
  const child = `require(${JSON.stringify(registry)}).openLocalPath(${JSON.stringify(path.join(dir, 'model.json'))}).then(
    (f) => console.log(JSON.stringify(f.tensors.map((t) => t.layer))), (ex) => console.log(String(ex)));`;
  const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'the open did not hang');
  assert.deepEqual(JSON.parse(r.stdout), ['dense', `${deep}y`.slice(0, -2)]);
});
