import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { TensorInfo, WeightFile } from '../../../src/core/model';
import { readAllValues } from '../../../src/core/tensorData';
import { runInspect } from '../../../src/cli/commands/inspect';
import { openLocalPath, resolveLocalEntry } from '../../../src/formats/registry';
import { parseCheckpointState, tfCheckpointReader } from '../../../src/formats/tfCheckpoint';
import { captureIo } from '../helpers/captureIo';
import { fixtureOrSkip, fixturesDir, makeTempDir, repoRoot } from '../helpers/fixtures';
import { BundleWriter, encodeKerasMetadata, encodeObjectGraph, encodeSavedModel, sliceKey, writeUnknownShapeCheckpoint } from './helpers/bundleWriter';

interface RefTensor {
  dtype: string;
  shape: number[];
  shard: number;
  offset: number;
  size: number;
  crcOk: boolean;
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  values?: number[];
  first?: number[];
}
interface RefSignatureTensor {
  name: string;
  dtypeCode: number;
  shape?: number[];
}
interface RefSignature {
  methodName: string;
  inputs: Record<string, RefSignatureTensor>;
  outputs: Record<string, RefSignatureTensor>;
}
interface RefBundle {
  dataBlocks: { compression: number; restarts: number; entries: number }[];
  numShards: number;
  tensors: Record<string, RefTensor>;
  objectGraph?: { nodes: number; keys: Record<string, { node: number; fullName: string; attribute: string }>; slots: { variableNode: number; slot: string; slotNode: number }[] };
  signatures?: Record<string, RefSignature>;
  /** SavedModels: the Keras model of the root object's metadata (null for plain TF graphs). */
  kerasModel?: { className: string; layers: string[]; loss: unknown } | null;
}

/** Reference values from scripts/reference-tf.py (an independent Python + NumPy parser). */
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'tfCheckpoint.reference.json'), 'utf8')) as Record<string, RefBundle>;

const dtNames: Record<number, string> = { 0: 'DT_INVALID', 1: 'DT_FLOAT', 3: 'DT_INT32', 7: 'DT_STRING', 9: 'DT_INT64' };

/** Entry point used for each reference bundle (covers the index, a SavedModel folder, a checkpoint file). */
const entryPoints: Record<string, { open: string; format: string }> = {
  'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index': { open: 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index', format: 'tf-checkpoint' },
  'tf-savedmodel/keras-lso-savedmodel-tf2.2/variables/variables.index': { open: 'tf-savedmodel/keras-lso-savedmodel-tf2.2', format: 'tf-savedmodel' },
  'tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/variables/variables.index': { open: 'tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/saved_model.pb', format: 'tf-savedmodel' },
  'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index': { open: 'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index', format: 'tf-savedmodel' },
  'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123/variables/variables.index': { open: 'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123', format: 'tf-savedmodel' },
  'tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index': { open: 'tf1-checkpoint/mattchubb-houseprices-tf1.10/checkpoint', format: 'tf-checkpoint' },
  'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model/variables/variables.index': { open: 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model', format: 'tf-savedmodel' },
};

/** A tensor by its listed name or by its stored checkpoint key. */
function tensor(file: WeightFile, name: string): TensorInfo {
  const t = file.tensors.find((x) => x.name === name) ?? file.tensors.find((x) => x.extra?.checkpointKey === name);
  assert.ok(t, `tensor '${name}' listed`);
  return t;
}

/** The stored key of a listed tensor. */
function keyOf(t: TensorInfo): string {
  return typeof t.extra?.checkpointKey === 'string' ? t.extra.checkpointKey : t.name;
}

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

for (const [rel, ref] of Object.entries(reference)) {
  test(`corpus ${rel}: names, dtypes, shapes, offsets, values and every CRC match the Python reference`, async (t) => {
    const entry = entryPoints[rel]!;
    const p = fixtureOrSkip(t, entry.open);
    if (!p) {
      return;
    }
    const file = await openLocalPath(p);
    try {
      assert.equal(file.format, entry.format);
      assert.deepEqual(file.tensors.map(keyOf).sort(), Object.keys(ref.tensors).sort());
      assert.equal(new Set(file.tensors.map((x) => x.name)).size, file.tensors.length, 'listed names are unique');
      assert.equal((file.metadata.bundle as { dataBlocks: number }).dataBlocks, ref.dataBlocks.length);
      assert.equal((file.metadata.bundle as { numShards: number }).numShards, ref.numShards);
      for (const [name, r] of Object.entries(ref.tensors)) {
        const x = tensor(file, name);
        assert.equal(x.extra?.tfDtype, r.dtype, name);
        assert.deepEqual([...x.shape], r.shape, name);
        assert.equal(x.byteLength, r.size, name);
        assert.equal(x.extra?.shard, r.shard, name);
        assert.equal(x.extra?.offset, r.offset, name);
        assert.equal(x.unavailable, undefined, name);
        assert.ok(r.crcOk, `the reference itself verified ${name}`);
        if (r.dtype === 'DT_STRING') {
          await assert.rejects(readAllValues(x), (ex: unknown) => WeightFileError.is(ex, 'unsupportedDtype'));
          if (name === '_CHECKPOINTABLE_OBJECT_GRAPH') {
            assert.equal(x.extra?.checksum, 'ok', 'the object graph CRC is verified when it is parsed at open');
          }
          continue;
        }
        assert.equal(x.extra?.checksum, 'unverified', 'open() reads no tensor data');
        const v = await readAllValues(x, { chunkElements: 37 });
        assert.equal(x.extra?.checksum, 'ok', `${name}: CRC verified on the first full read`);
        assert.equal(v.length, r.count, name);
        close(v.reduce((a, b) => a + b, 0), r.sum!, `${name} sum`);
        if (v.length) {
          assert.equal(Math.min(...v), r.min, name);
          assert.equal(Math.max(...v), r.max, name);
        }
        if (r.values) {
          assert.deepEqual([...v], r.values, name);
        } else {
          assert.deepEqual([...v.subarray(0, 8)], r.first, name);
        }
      }
      assert.equal(file.warnings.length, 0);
      if (ref.objectGraph) {
        assert.equal(file.metadata.objectGraphNodes, ref.objectGraph.nodes);
        for (const [key, info] of Object.entries(ref.objectGraph.keys)) {
          const x = tensor(file, key);
          assert.equal(x.extra?.fullName, info.fullName.replace(/:\d+$/, ''), key);
        }
        // Every slot variable of the graph is attached to its variable.
        const byNode = new Map(Object.entries(ref.objectGraph.keys).map(([k, i]) => [i.node, k]));
        for (const s of ref.objectGraph.slots) {
          const slotKey = byNode.get(s.slotNode)!;
          const x = tensor(file, slotKey);
          assert.equal(x.group, 'optimizer');
          assert.deepEqual(x.slotOf, { variable: tensor(file, byNode.get(s.variableNode)!).name, slot: s.slot }, slotKey);
        }
      }
      if (ref.kerasModel) {
        // A Keras SavedModel carries its model config (to rebuild it) and training config.
        const mc = file.modelConfig as { class_name: string; config: { layers: { config: { name: string } }[] } } | undefined;
        assert.equal(mc?.class_name, ref.kerasModel.className);
        assert.deepEqual(mc.config.layers.map((l) => l.config.name), ref.kerasModel.layers);
        assert.deepEqual(file.trainingConfig?.['loss'], ref.kerasModel.loss);
      } else {
        assert.equal(file.modelConfig, undefined, 'no model config without Keras metadata');
        assert.equal(file.trainingConfig, undefined);
      }
      if (ref.signatures) {
        const sigs = file.metadata.signatures as { key: string; methodName: string; inputs: { key: string; name: string; dtype: string; shape?: number[] }[]; outputs: { key: string; name: string; dtype: string; shape?: number[] }[] }[];
        assert.deepEqual(sigs.map((s) => s.key), Object.keys(ref.signatures).sort());
        for (const s of sigs) {
          const r: RefSignature = ref.signatures[s.key]!;
          assert.equal(s.methodName, r.methodName);
          for (const [side, list] of [['inputs', s.inputs], ['outputs', s.outputs]] as const) {
            assert.deepEqual(
              list.map((i) => [i.key, i.name, i.dtype, i.shape]),
              Object.entries(r[side])
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([k, i]: [string, RefSignatureTensor]) => [k, i.name, dtNames[i.dtypeCode] ?? String(i.dtypeCode), i.shape]),
              `${s.key} ${side}`,
            );
          }
        }
      }
    } finally {
      await file.close();
    }
  });
}

test('half_plus_two: a=0.5, b=2.0, c=3.0 from the Snappy-compressed (TF 2.14, TF 1.14) and the uncompressed (TF 1.12) SavedModels', async (t) => {
  // TF 2.14 stores a/.ATTRIBUTES/VARIABLE_VALUE with full name 'a'; TF1 stores 'a'. Both list as 'a'.
  for (const rel of ['tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123', 'tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123', 'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123']) {
    const p = fixtureOrSkip(t, rel);
    if (!p) {
      return;
    }
    const file = await openLocalPath(p);
    const values = await Promise.all(['a', 'b', 'c'].map(async (n) => [...(await readAllValues(file.tensors.find((x) => x.name === n)!))]));
    assert.deepEqual(values, [[0.5], [2], [3]], rel);
    await file.close();
  }
  assert.equal(reference['tf-savedmodel/serving-half-plus-two-tf2-cpu-tf2.14/00000123/variables/variables.index']!.dataBlocks[0]!.compression, 1);
  assert.equal(reference['tf-savedmodel/serving-half-plus-two-cpu-tf1.14/00000123/variables/variables.index']!.dataBlocks[0]!.compression, 1);
  assert.equal(reference['tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123/variables/variables.index']!.dataBlocks[0]!.compression, 0);
});

test('TF2 object-based names: layer_with_weights-0/kernel is layer dense, weight kernel, full name sequential/dense/kernel; momentum slots attach to it', async (t) => {
  const p = fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index');
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  const k = tensor(file, 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE');
  assert.deepEqual([k.name, k.layer, k.weight, k.role, k.group, k.extra?.fullName], ['sequential/dense/kernel', 'dense', 'kernel', 'kernel', 'model', 'sequential/dense/kernel']);
  const slot = tensor(file, 'layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/base_optimizer/momentum/.ATTRIBUTES/VARIABLE_VALUE');
  assert.deepEqual(slot.slotOf, { variable: 'sequential/dense/kernel', slot: 'momentum' });
  assert.equal(slot.name, 'SGD/sequential/dense/kernel/momentum');
  assert.equal(slot.group, 'optimizer');
  assert.equal(slot.role, 'optimizer_state');
  const iter = tensor(file, 'optimizer/base_optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE');
  assert.deepEqual([iter.group, iter.role, iter.dtype], ['optimizer', 'step', 'int64']);
  assert.deepEqual(
    file.layers.map((l) => [l.name, l.tensors.length]),
    [['dense', 2]],
  );
  assert.equal(file.formatName, 'TensorFlow checkpoint (TF2 object-based)');
  assert.deepEqual(file.metadata.checkpointState, undefined);
  await file.close();
});

test('Keras SavedModel: layer names and classes from the SavedObjectGraph metadata, architecture from the root config', async (t) => {
  const p = fixtureOrSkip(t, 'tf-savedmodel/keras-lso-savedmodel-tf2.2');
  const q = fixtureOrSkip(t, 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model');
  if (!p || !q) {
    return;
  }
  const file = await openLocalPath(p);
  assert.equal(file.modelClass, 'Sequential');
  const dense = file.layers.find((l) => l.name === 'dense');
  assert.ok(dense);
  assert.equal(dense.className, 'Dense');
  assert.deepEqual(dense.tensors.sort(), ['sequential/dense/bias', 'sequential/dense/kernel']);
  assert.equal((file.metadata.savedModel as { tensorflowVersion: string }).tensorflowVersion, '2.2.0-rc2');
  const metric = tensor(file, 'keras_api/metrics/0/total/.ATTRIBUTES/VARIABLE_VALUE');
  assert.equal(metric.group, 'other');
  assert.equal(metric.name, 'total', 'a unique full name is the listed name');
  await file.close();

  const kws = await openLocalPath(q);
  assert.equal(kws.modelClass, 'Functional');
  const modelTensors = kws.tensors.filter((x) => x.group === 'model');
  const layerIndex = modelTensors.map((x) => Number(/^layer_with_weights-(\d+)\//.exec(keyOf(x))![1]));
  assert.deepEqual(layerIndex, [...layerIndex].sort((a, b) => a - b), 'tensors in layer order');
  assert.equal(kws.tensors.findIndex((x) => x.group !== 'model'), modelTensors.length, 'model weights come first');
  assert.ok(modelTensors.length > 30);
  for (const x of modelTensors) {
    assert.ok(kws.layers.some((l) => l.name === x.layer && l.tensors.includes(x.name)), `${x.name} sits in layer '${x.layer}'`);
    assert.equal(x.name, `${x.layer}/${x.weight}`, keyOf(x));
  }
  const slots = kws.tensors.filter((x) => x.slotOf);
  assert.equal(slots.length, 2 * kws.tensors.filter((x) => x.group === 'model' && x.trainable !== false && kws.tensors.some((s) => s.slotOf?.variable === x.name)).length);
  assert.deepEqual([...new Set(slots.map((s) => s.slotOf!.slot))].sort(), ['m', 'v']);
  // keras_api/metrics/0/total and /1/total share the full name 'total': both keep their keys.
  assert.ok(tensor(kws, 'keras_api/metrics/1/total/.ATTRIBUTES/VARIABLE_VALUE').name.startsWith('keras_api/metrics/1/total'));
  const conv = kws.layers.find((l) => l.name === 'conv2d');
  assert.equal(conv?.className, 'Conv2D');
  await kws.close();
});

test('TF1 Saver names are split on "/", and var/Adam, var/Adam_1 become the m and v slots of var', async (t) => {
  const p = fixtureOrSkip(t, 'tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index');
  if (!p) {
    return;
  }
  const file = await openLocalPath(p);
  const vars = file.tensors.filter((x) => x.group === 'model').map((x) => x.name);
  assert.deepEqual(vars, Array.from({ length: 12 }, (_, i) => (i === 0 ? 'Variable' : `Variable_${i}`)), 'model weights first, in natural order');
  const ref = reference['tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index']!;
  const withSlots = vars.filter((v) => `${v}/Adam` in ref.tensors);
  assert.equal(withSlots.length, 10);
  assert.equal(file.tensors.filter((x) => x.slotOf).length, 20);
  for (const v of withSlots) {
    assert.deepEqual(tensor(file, `${v}/Adam`).slotOf, { variable: v, slot: 'm' });
    assert.deepEqual(tensor(file, `${v}/Adam_1`).slotOf, { variable: v, slot: 'v' });
  }
  assert.deepEqual([tensor(file, 'Variable').layer, tensor(file, 'Variable').weight], ['Variable', 'Variable'], 'a standalone variable is its own layer');
  assert.equal(file.layers.length, 12);
  for (const n of ['beta1_power', 'beta2_power']) {
    assert.equal(tensor(file, n).group, 'optimizer');
  }
  const mkl = fixtureOrSkip(t, 'tf-savedmodel/serving-half-plus-two-mkl-tf1.12/00000123');
  if (mkl) {
    const m = await openLocalPath(mkl);
    const k = tensor(m, 'conv2d_1/kernel');
    assert.deepEqual([k.layer, k.weight, k.role], ['conv2d_1', 'kernel', 'kernel']);
    await m.close();
  }
  await file.close();
});

test('entry points: the checkpoint file and its folder, any .data shard, saved_model.pb, variables.index', async (t) => {
  const dir = fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2');
  if (!dir) {
    return;
  }
  assert.equal(await resolveLocalEntry(dir), path.join(dir, 'checkpoint'));
  const viaState = await openLocalPath(dir);
  assert.deepEqual(viaState.metadata.checkpointState, { latest: 'ckpt', all: ['ckpt'], available: ['ckpt'], opened: 'ckpt.index' });
  assert.equal(viaState.tensors.length, 11);
  await viaState.close();
  for (const shard of ['ckpt.data-00000-of-00002', 'ckpt.data-00001-of-00002']) {
    const f = await openLocalPath(path.join(dir, shard));
    assert.equal(f.tensors.length, 11, shard);
    assert.equal(f.format, 'tf-checkpoint');
    await f.close();
  }
  const sm = path.join(fixturesDir, 'tf-savedmodel/keras-lso-savedmodel-tf2.2');
  for (const entry of [sm, path.join(sm, 'saved_model.pb'), path.join(sm, 'variables/variables.index'), path.join(sm, 'variables/variables.data-00001-of-00002')]) {
    const f = await openLocalPath(entry);
    assert.equal(f.format, 'tf-savedmodel', entry);
    assert.equal(f.tensors.length, 13, entry);
    assert.equal(f.layers.find((l) => l.name === 'dense')?.className, 'Dense', entry);
    await f.close();
  }
});

test('the legacy V1 checkpoint is recognised and answered with a clear message, also through a checkpoint state file', async (t) => {
  const p = fixtureOrSkip(t, 'tf1-checkpoint-v1-format/serving-session-bundle-half-plus-two/00000123/export-00000-of-00001');
  if (!p) {
    return;
  }
  await assert.rejects(openLocalPath(p), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat') && /legacy V1 checkpoint \(SavedTensorSlices/.test(ex.message) && ex.message.includes('export-00000-of-00001'));
  const dir = copyFixture('tf1-checkpoint-v1-format/serving-session-bundle-half-plus-two/00000123');
  fs.writeFileSync(path.join(dir, 'checkpoint'), 'model_checkpoint_path: "export-00000-of-00001"\n');
  await assert.rejects(openLocalPath(dir), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat') && /checkpoint -> export-00000-of-00001: this is a legacy V1 checkpoint/.test(ex.message));
});

test('a checkpoint state file naming several checkpoints opens the latest and lists which are present', async () => {
  const files = new Map<string, Uint8Array>();
  for (const step of [1, 2, 3]) {
    const w = new BundleWriter(`ckpt-${step}`);
    w.add('w', 'float32', [1], [step]);
    if (step !== 2) {
      for (const [n, b] of w.files()) {
        files.set(n, b);
      }
    }
  }
  const state = new TextEncoder().encode(
    'model_checkpoint_path: "/old/machine/run/ckpt-3"\nall_model_checkpoint_paths: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-2"\nall_model_checkpoint_paths: "/old/machine/run/ckpt-3"\n',
  );
  files.set('checkpoint', state);
  const file = await tfCheckpointReader.open(new MemoryByteSource('run/checkpoint', state), new MemoryFileSet('run', files));
  assert.deepEqual(file.metadata.checkpointState, {
    latest: '/old/machine/run/ckpt-3',
    all: ['ckpt-1', 'ckpt-2', '/old/machine/run/ckpt-3'],
    available: ['ckpt-1', '/old/machine/run/ckpt-3'],
    opened: 'ckpt-3.index',
  });
  assert.deepEqual([...(await readAllValues(tensor(file, 'w')))], [3], 'the latest checkpoint (absolute path taken relative to the folder)');
  await file.close();
  files.delete('ckpt-3.index');
  await assert.rejects(
    tfCheckpointReader.open(new MemoryByteSource('run/checkpoint', state), new MemoryFileSet('run', files)),
    (ex: unknown) => WeightFileError.is(ex, 'missingCompanionFile') && /run\/checkpoint: the latest checkpoint named in it, 'ckpt-3\.index' is missing/.test(ex.message),
  );
});

test('a damaged saved_model.pb costs the names and signatures, not the variables', async (t) => {
  if (!fixtureOrSkip(t, 'tf-savedmodel/keras-lso-savedmodel-tf2.2')) {
    return;
  }
  const dir = copyFixture('tf-savedmodel/keras-lso-savedmodel-tf2.2');
  const pb = path.join(dir, 'saved_model.pb');
  fs.writeFileSync(pb, fs.readFileSync(pb).subarray(0, 1000)); // cut inside the first MetaGraphDef
  const file = await openLocalPath(dir);
  assert.equal(file.format, 'tf-savedmodel');
  assert.equal(file.tensors.length, 13);
  assert.equal(tensor(file, 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE').name, 'sequential/dense/kernel', 'names from the checkpoint object graph');
  assert.deepEqual(file.warnings.map((w) => w.reason), ['corrupt']);
  assert.match(file.warnings[0]!.message, /saved_model\.pb: malformed protobuf, field 2 at byte \d+ runs past the end/);
  assert.equal(file.metadata.signatures, undefined);
  await file.close();
});

test('checkpoint state files: text-format escapes, absolute paths and a missing model_checkpoint_path', () => {
  const s = parseCheckpointState('model_checkpoint_path: "ckpt-3"\nall_model_checkpoint_paths: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-3"\nall_model_checkpoint_timestamps: 1.5e9\n', 'checkpoint');
  assert.deepEqual(s, { latest: 'ckpt-3', all: ['ckpt-1', 'ckpt-3'] });
  assert.equal(parseCheckpointState('model_checkpoint_path: "dir\\\\with \\"q\\"\\303\\251"', 'checkpoint').latest, 'dir\\with "q"é');
  assert.throws(() => parseCheckpointState('garbage', 'ckpts/checkpoint'), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /ckpts\/checkpoint: .*no model_checkpoint_path line \(it starts 'garbage'\)\.$/.test(ex.message));
  assert.throws(() => parseCheckpointState('\u0000\u0001binary', 'checkpoint'), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /no model_checkpoint_path line \(it is not text\)\.$/.test(ex.message));
});

// ---------------------------------------------------------------------------------------------
// Damaged copies of real fixtures (copied to a temp folder; the originals are never written).

function copyFixture(rel: string): string {
  const dir = makeTempDir('weightscope-tf-');
  fs.cpSync(path.join(fixturesDir, rel), dir, { recursive: true });
  for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
    fs.chmodSync(path.join(dir, f), 0o644);
  }
  fs.chmodSync(dir, 0o755);
  return dir;
}

test('one flipped byte in a data shard: exactly that tensor reports checksumMismatch, the others read fine', async (t) => {
  if (!fixtureOrSkip(t, 'tf1-checkpoint/mattchubb-houseprices-tf1.10')) {
    return;
  }
  const dir = copyFixture('tf1-checkpoint/mattchubb-houseprices-tf1.10');
  const ref = reference['tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index']!;
  const victim = ref.tensors['Variable_2']!;
  const data = path.join(dir, 'model.ckpt.data-00000-of-00001');
  const bytes = fs.readFileSync(data);
  bytes[victim.offset + 123]! ^= 0x40;
  fs.writeFileSync(data, bytes);
  const file = await openLocalPath(path.join(dir, 'model.ckpt.index'));
  assert.equal(file.warnings.length, 0, 'nothing is read at open');
  for (const x of file.tensors) {
    if (x.name === 'Variable_2') {
      await assert.rejects(readAllValues(x), (ex: unknown) => WeightFileError.is(ex, 'checksumMismatch') && ex.message.includes("tensor 'Variable_2' at offset") && ex.details.tensor === 'Variable_2');
      assert.equal(x.extra?.checksum, 'mismatch');
      // A second read fails at once with the same reason.
      await assert.rejects(readAllValues(x), (ex: unknown) => WeightFileError.is(ex, 'checksumMismatch'));
    } else {
      const v = await readAllValues(x);
      assert.equal(v.length, ref.tensors[x.name]!.count);
      assert.equal(x.extra?.checksum, 'ok', x.name);
    }
  }
  assert.deepEqual(
    file.warnings.map((w) => [w.reason, w.tensor]),
    [['checksumMismatch', 'Variable_2']],
  );
  await file.close();
});

test('a damaged checkpoint state file is reported as such, for the folder and for the file', async (t) => {
  if (!fixtureOrSkip(t, 'tf1-checkpoint/mattchubb-houseprices-tf1.10')) {
    return;
  }
  const dir = copyFixture('tf1-checkpoint/mattchubb-houseprices-tf1.10');
  const state = path.join(dir, 'checkpoint');
  const bytes = fs.readFileSync(state);
  assert.equal(bytes.subarray(0, 22).toString(), 'model_checkpoint_path:');
  bytes[5] = 0x58; // model_checkpoint_path -> modelXcheckpoint_path
  fs.writeFileSync(state, bytes);
  for (const target of [dir, state]) {
    await assert.rejects(openLocalPath(target), (ex: unknown) =>
      WeightFileError.is(ex, 'corrupt') && ex.message === `${state}: the checkpoint state file has no model_checkpoint_path line (it starts 'modelXcheckpoint_path: "model.ckpt" all_...').`,
    );
  }
});

test('one flipped byte in the index: a clear block-CRC error', async (t) => {
  if (!fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2')) {
    return;
  }
  const dir = copyFixture('tf-checkpoint-v2/keras-lso-ckpt-tf2.2');
  const idx = path.join(dir, 'ckpt.index');
  const bytes = fs.readFileSync(idx);
  bytes[40]! ^= 0x01; // inside data block 0
  fs.writeFileSync(idx, bytes);
  await assert.rejects(openLocalPath(dir), (ex: unknown) => WeightFileError.is(ex, 'checksumMismatch') && /ckpt\.index: the data block 0 at offset 0 fails its CRC32C check/.test(ex.message));
});

test('a missing shard marks its tensors unavailable; the object graph in the other shard still names them', async (t) => {
  if (!fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2')) {
    return;
  }
  const dir = copyFixture('tf-checkpoint-v2/keras-lso-ckpt-tf2.2');
  fs.rmSync(path.join(dir, 'ckpt.data-00001-of-00002'));
  const file = await openLocalPath(path.join(dir, 'ckpt.index'));
  const kernel = tensor(file, 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE');
  assert.equal(kernel.layer, 'dense');
  assert.equal(kernel.unavailable?.reason, 'missingCompanionFile');
  assert.match(kernel.unavailable!.message, /ckpt\.data-00001-of-00002' is missing/);
  assert.equal(kernel.name, 'sequential/dense/kernel', 'names still come from the object graph in shard 0');
  await assert.rejects(readAllValues(kernel), (ex: unknown) => WeightFileError.is(ex, 'missingCompanionFile'));
  assert.equal(file.tensors.filter((x) => x.unavailable).length, 10);
  assert.equal(tensor(file, '_CHECKPOINTABLE_OBJECT_GRAPH').unavailable, undefined);
  assert.deepEqual(file.warnings.map((w) => w.reason), ['missingCompanionFile']);
  await file.close();
});

test('a truncated data shard makes only the tensors past its end unavailable (truncated)', async (t) => {
  if (!fixtureOrSkip(t, 'tf1-checkpoint/mattchubb-houseprices-tf1.10')) {
    return;
  }
  const dir = copyFixture('tf1-checkpoint/mattchubb-houseprices-tf1.10');
  const data = path.join(dir, 'model.ckpt.data-00000-of-00001');
  const cut = 9000;
  fs.truncateSync(data, cut);
  const ref = reference['tf1-checkpoint/mattchubb-houseprices-tf1.10/model.ckpt.index']!;
  const file = await openLocalPath(path.join(dir, 'model.ckpt.index'));
  for (const x of file.tensors) {
    const r = ref.tensors[x.name]!;
    const broken = r.offset + r.size > cut;
    assert.equal(x.unavailable?.reason, broken ? 'truncated' : undefined, x.name);
    if (!broken) {
      assert.equal((await readAllValues(x)).length, r.count);
    }
  }
  assert.ok(file.warnings.length > 0 && file.warnings.every((w) => w.reason === 'truncated'));
  await file.close();
});

// ---------------------------------------------------------------------------------------------
// Generated bundles (test/unit/formats/helpers/bundleWriter.ts).

async function openGenerated(w: BundleWriter, extra: [string, Uint8Array][] = [], entry = `${w.prefix}.index`): Promise<WeightFile> {
  const files = new Map([...w.files(), ...extra]);
  const bytes = files.get(entry)!;
  const fileSet = new MemoryFileSet('gen', files);
  return tfCheckpointReader.open(new MemoryByteSource(`gen/${entry}`, bytes), fileSet);
}

test('all numeric dtypes, little- and big-endian bundles', async () => {
  for (const bigEndian of [false, true]) {
    const w = new BundleWriter('all', { bigEndian });
    w.add('f32', 'float32', [3], [1.5, -2.25, 3e38]);
    w.add('f64', 'float64', [2], [Math.PI, -1e300]);
    w.add('i8', 'int8', [3], [-128, 0, 127]);
    w.add('u8', 'uint8', [2], [0, 255]);
    w.add('i16', 'int16', [2], [-32768, 32767]);
    w.add('u16', 'uint16', [2], [0, 65535]);
    w.add('i32', 'int32', [2], [-2147483648, 2147483647]);
    w.add('u32', 'uint32', [1], [4294967295]);
    w.add('i64', 'int64', [2], [-(2n ** 52n), 2n ** 53n]);
    w.add('u64', 'uint64', [1], [2n ** 53n]);
    w.add('flag', 'bool', [3], [1, 0, 1]);
    // float16 bit patterns: 1.0, -2.0, 65504 (max), +inf, smallest subnormal 2^-24
    w.add('half', 'float16', [5], [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001]);
    // bfloat16: 1.0, 3.140625, -0.0
    w.add('bf16', 'bfloat16', [3], [0x3f80, 0x4049, 0x8000]);
    w.add('scalar', 'float32', [], [42]);
    w.add('empty', 'float32', [0, 4], []);
    const file = await openGenerated(w);
    const got: Record<string, number[]> = {};
    for (const x of file.tensors) {
      got[x.name] = [...(await readAllValues(x))];
      assert.equal(x.extra?.checksum, 'ok', x.name);
    }
    assert.deepEqual(got, {
      f32: [1.5, -2.25, Math.fround(3e38)],
      f64: [Math.PI, -1e300],
      i8: [-128, 0, 127],
      u8: [0, 255],
      i16: [-32768, 32767],
      u16: [0, 65535],
      i32: [-2147483648, 2147483647],
      u32: [4294967295],
      i64: [-(2 ** 52), 2 ** 53],
      u64: [2 ** 53],
      flag: [1, 0, 1],
      half: [1, -2, 65504, Infinity, 2 ** -24],
      bf16: [1, 3.140625, -0],
      scalar: [42],
      empty: [],
    });
    assert.equal((file.metadata.bundle as { endianness: string }).endianness, bigEndian ? 'big' : 'little');
    const dtypes = { bf16: 'bfloat16', empty: 'float32', f32: 'float32', f64: 'float64', flag: 'bool', half: 'float16', i16: 'int16', i32: 'int32', i64: 'int64', i8: 'int8', scalar: 'float32', u16: 'uint16', u32: 'uint32', u64: 'uint64', u8: 'uint8' };
    assert.deepEqual(Object.fromEntries(file.tensors.map((x) => [x.name, x.dtype])), dtypes);
    assert.deepEqual(
      file.tensors.map((x) => x.name),
      ['bf16', 'empty', 'f32', 'f64', 'flag', 'half', 'i8', 'i16', 'i32', 'i64', 'scalar', 'u8', 'u16', 'u32', 'u64'],
      'natural order of the keys',
    );
    await file.close();
  }
});

test('hundreds of tensors over several Snappy-compressed data blocks, with alignment padding and 3 shards', async () => {
  const w = new BundleWriter('many', { blockSizeBytes: 1500, restartInterval: 16, snappy: true, numShards: 3, alignment: 64 });
  for (let i = 0; i < 400; i++) {
    w.add(`block_${Math.floor(i / 4)}/conv_${i % 4}/kernel`, 'float32', [2, 3], Array.from({ length: 6 }, (_, k) => i * 10 + k), i % 3);
  }
  const file = await openGenerated(w);
  assert.equal(file.tensors.length, 400);
  assert.ok((file.metadata.bundle as { dataBlocks: number }).dataBlocks >= 5);
  for (const x of file.tensors) {
    const i = Number(/block_(\d+)\/conv_(\d)/.exec(x.name)!.slice(1).reduce((a, b) => String(Number(a) * 4 + Number(b))));
    assert.deepEqual([...(await readAllValues(x))], Array.from({ length: 6 }, (_, k) => i * 10 + k), x.name);
    assert.equal(x.layer, `block_${Math.floor(i / 4)}/conv_${i % 4}`);
    assert.equal(x.role, 'kernel');
  }
  await file.close();
});

test('partitioned variables: row blocks stream in order, column slices are assembled; a missing slice is reported', async () => {
  const full = Array.from({ length: 6 * 4 }, (_, i) => i); // [6, 4] row-major
  const rows = (a: number, b: number): number[] => full.slice(a * 4, b * 4);
  const cols = (a: number, b: number): number[] => Array.from({ length: 6 }, (_, r) => full.slice(r * 4 + a, r * 4 + b)).flat();
  const w = new BundleWriter('part', { numShards: 2 });
  w.addSliced('rows', 'float32', [6, 4], [
    { extents: [{ start: 2, length: 3 }, { start: 0, length: -1 }], values: rows(2, 5) },
    { extents: [{ start: 0, length: 2 }, { start: 0, length: -1 }], values: rows(0, 2) },
    { extents: [{ start: 5, length: 1 }, { start: 0, length: -1 }], values: rows(5, 6) },
  ], 1);
  w.addSliced('cols', 'float32', [6, 4], [
    { extents: [{ start: 0, length: -1 }, { start: 0, length: 1 }], values: cols(0, 1) },
    { extents: [{ start: 0, length: -1 }, { start: 1, length: 3 }], values: cols(1, 4) },
  ]);
  w.addSliced('gap', 'float32', [4], [{ extents: [{ start: 0, length: 2 }], values: [1, 2] }, { extents: [{ start: 2, length: 2 }], values: [3, 4] }]);
  const files = w.files();
  // Drop the second slice entry of 'gap' by renaming its key in a rebuilt writer: simplest is a writer without it.
  const w2 = new BundleWriter('part', { numShards: 2 });
  w2.addSliced('rows', 'float32', [6, 4], [{ extents: [{ start: 0, length: 6 }, { start: 0, length: -1 }], values: full }], 1);
  w2.put('gap', { dtype: 1, shape: [4], shardId: 0, offset: 0, size: 0, slices: [[{ start: 0, length: 2 }], [{ start: 2, length: 2 }]] });
  w2.addRaw(sliceKey('gap', [{ start: 0, length: 2 }]), 1, [2], new Uint8Array(8));

  const file = await tfCheckpointReader.open(new MemoryByteSource('gen/part.index', files.get('part.index')!), new MemoryFileSet('gen', files));
  assert.deepEqual(file.tensors.map((x) => x.name), ['cols', 'gap', 'rows'], 'slice entries are folded into their tensor');
  assert.deepEqual([...(await readAllValues(tensor(file, 'rows'), { chunkElements: 5 }))], full);
  assert.deepEqual([...(await readAllValues(tensor(file, 'cols'), { chunkElements: 5 }))], full);
  assert.deepEqual([...(await readAllValues(tensor(file, 'gap')))], [1, 2, 3, 4]);
  assert.deepEqual(tensor(file, 'rows').extra?.slices, ['2,3:-', '0,2:-', '5,1:-']);
  assert.equal(tensor(file, 'rows').extra?.checksum, 'ok');
  assert.equal(tensor(file, 'cols').extra?.assembled, 'assembled in memory on read');
  await file.close();

  const broken = await openGenerated(w2);
  const gap = tensor(broken, 'gap');
  assert.equal(gap.unavailable?.reason, 'corrupt');
  assert.match(gap.unavailable!.message, /partitioned tensor 'gap' lacks the entry of its slice 2,2/);
  assert.deepEqual([...(await readAllValues(tensor(broken, 'rows')))], full);
  await broken.close();
});

test('a long tensor streams in chunks and still reports a flipped byte at the end of its first read', async () => {
  const n = 50_000;
  const w = new BundleWriter('long');
  w.add('big', 'float32', [n], Array.from({ length: n }, (_, i) => i));
  w.add('ok', 'float32', [2], [1, 2]);
  const files = w.files();
  const shard = files.get('long.data-00000-of-00001')!;
  shard[4 * 40_000 + 1]! ^= 0x10;
  const file = await tfCheckpointReader.open(new MemoryByteSource('gen/long.index', files.get('long.index')!), new MemoryFileSet('gen', files));
  let chunks = 0;
  await assert.rejects(
    (async () => {
      for await (const c of tensor(file, 'big').readValues({ chunkElements: 4096 })) {
        chunks += c.length > 0 ? 1 : 0;
      }
    })(),
    (ex: unknown) => WeightFileError.is(ex, 'checksumMismatch'),
  );
  assert.ok(chunks >= 12, `streamed ${chunks} chunks before the CRC verdict`);
  assert.deepEqual([...(await readAllValues(tensor(file, 'ok')))], [1, 2]);
  await file.close();
});

test('strings are listed, not analysed; unknown dtypes and size/shape mismatches stay confined to their tensor', async () => {
  const w = new BundleWriter('odd');
  w.addStrings('vocab', [3], ['a', 'bc', ''].map((s) => new TextEncoder().encode(s)));
  w.addRaw('fnuz', 26, [2], new Uint8Array(2));
  w.addRaw('short', 1, [4], new Uint8Array(12));
  w.add('fine', 'int32', [1], [7]);
  const file = await openGenerated(w);
  assert.equal(tensor(file, 'vocab').dtype, 'string');
  await assert.rejects(readAllValues(tensor(file, 'vocab')), (ex: unknown) => WeightFileError.is(ex, 'unsupportedDtype') && /listed but not analysed/.test(ex.message));
  assert.equal(tensor(file, 'fnuz').unavailable?.reason, 'unsupportedDtype');
  assert.match(tensor(file, 'fnuz').unavailable!.message, /DT_FLOAT8_E4M3FNUZ/);
  assert.equal(tensor(file, 'short').unavailable?.reason, 'corrupt');
  assert.match(tensor(file, 'short').unavailable!.message, /stores 12 bytes but float32 \[4\] needs 16/);
  assert.deepEqual([...(await readAllValues(tensor(file, 'fine')))], [7]);
  assert.deepEqual(file.warnings.map((x) => x.tensor).sort(), ['fnuz', 'short']);
  await file.close();
});

test('bad indexes: entry with absurd varints, shard id out of range, missing header, truncated / wrong-magic / handle past the end', async () => {
  const base = (): BundleWriter => {
    const w = new BundleWriter('bad');
    w.add('x', 'float32', [1], [1]);
    return w;
  };
  // A damaged entry is confined to its tensor (unknown shape, not analysed); the others still read.
  const confined = async (w: BundleWriter, name: string, message: string): Promise<void> => {
    const file = await openGenerated(w);
    try {
      const bad = tensor(file, name);
      assert.equal(bad.unavailable?.reason, 'corrupt');
      assert.equal(bad.unavailable?.message, message);
      assert.equal(bad.shapeUnknown, true);
      assert.deepEqual(
        file.warnings.map((x) => [x.tensor, x.message]),
        [[name, message]],
      );
      assert.deepEqual([...(await readAllValues(tensor(file, 'x')))], [1]);
      await assert.rejects(readAllValues(bad), (ex: unknown) => WeightFileError.is(ex, 'corrupt'));
    } finally {
      await file.close();
    }
  };
  const absurd = base();
  absurd.putValue('y', Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
  await confined(absurd, 'y', "gen/bad.index: entry 'y': malformed protobuf, a varint at byte 1 is longer than 10 bytes.");
  const shard = base();
  shard.put('z', { dtype: 1, shape: [1], shardId: 7, offset: 0, size: 4 });
  await confined(shard, 'z', "gen/bad.index: entry 'z' is in shard 7 but the header declares 1 shards.");
  const negative = base();
  negative.put('n', { dtype: 1, shape: [1], shardId: 0, offset: -1, size: 4 });
  await confined(negative, 'n', "gen/bad.index: entry 'n': offset -1 is out of range.");

  const good = base().files();
  const index = good.get('bad.index')!;
  const open = (bytes: Uint8Array): Promise<WeightFile> => tfCheckpointReader.open(new MemoryByteSource('gen/bad.index', bytes), new MemoryFileSet('gen', new Map([...good, ['bad.index', bytes]])));
  await assert.rejects(open(index.subarray(0, index.length - 20)), (ex: unknown) => WeightFileError.is(ex, 'truncated') && /gen\/bad\.index: the file does not end with the table magic/.test(ex.message));
  const wrongMagic = index.slice();
  wrongMagic[wrongMagic.length - 8] = 0x58;
  await assert.rejects(open(wrongMagic), (ex: unknown) => WeightFileError.is(ex) && /found 58 fb 80 8b 24 75 47 db/.test(ex.message));
  const past = index.slice();
  const footer = past.length - 48;
  past.fill(0, footer, footer + 40);
  past.set([0x00, 0x08, 0x80, 0x80, 0x04, 0x10], footer);
  await assert.rejects(open(past), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /index block handle \(offset 65536, size 16\) points past the end/.test(ex.message));
  await assert.rejects(
    tfCheckpointReader.open(new MemoryByteSource('gen/bad.data-00000-of-00001', good.get('bad.data-00000-of-00001')!), new MemoryFileSet('gen', new Map([['bad.data-00000-of-00001', good.get('bad.data-00000-of-00001')!]]))),
    (ex: unknown) => WeightFileError.is(ex, 'missingCompanionFile') && /'bad\.index' is missing/.test(ex.message),
  );
});

test('a generated TF2 object graph: escaped names, nested layers, Adam slots, save_counter', async () => {
  const w = new BundleWriter('ckpt-1');
  const k = 'model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE';
  const odd = 'model/layer_with_weights-1/w.S1..x/.ATTRIBUTES/VARIABLE_VALUE';
  const m = 'model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE';
  const v = 'model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE';
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([
      { children: [[1, 'model'], [5, 'optimizer'], [8, 'save_counter']] },
      { children: [[2, 'layer_with_weights-0'], [3, 'layer_with_weights-1']] },
      { children: [[4, 'kernel']] },
      { children: [[9, 'w/1.x']] },
      { attributes: [['VARIABLE_VALUE', 'encoder/dense_3/kernel', k]] },
      { children: [[6, 'iter']], slots: [[4, 'm', 10], [4, 'v', 11]] },
      { attributes: [['VARIABLE_VALUE', 'Adam/iter', 'optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE']] },
      {},
      { attributes: [['VARIABLE_VALUE', 'save_counter', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE']] },
      { attributes: [['VARIABLE_VALUE', 'encoder/norm/w/1.x', odd]] },
      { attributes: [['VARIABLE_VALUE', 'Adam/m', m]] },
      { attributes: [['VARIABLE_VALUE', 'Adam/v', v]] },
    ]),
  ]);
  w.add(k, 'float32', [2], [1, 2]);
  w.add(odd, 'float32', [1], [3]);
  w.add(m, 'float32', [2], [0.1, 0.2]);
  w.add(v, 'float32', [2], [0.01, 0.02]);
  w.add('optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE', 'int64', [], [10n]);
  w.add('save_counter/.ATTRIBUTES/VARIABLE_VALUE', 'int64', [], [1n]);
  const file = await openGenerated(w);
  assert.equal(file.metadata.objectGraphNodes, 12);
  const kernel = tensor(file, k);
  // All model full names sit under 'encoder/': taken as the model name and dropped from layer names.
  assert.deepEqual([kernel.layer, kernel.weight, kernel.extra?.fullName], ['dense_3', 'kernel', 'encoder/dense_3/kernel']);
  assert.equal(kernel.name, 'encoder/dense_3/kernel');
  assert.deepEqual(tensor(file, m).slotOf, { variable: 'encoder/dense_3/kernel', slot: 'm' });
  assert.deepEqual(tensor(file, v).slotOf, { variable: 'encoder/dense_3/kernel', slot: 'v' });
  assert.equal(tensor(file, m).name, 'Adam/m');
  assert.equal(tensor(file, m).weight, 'encoder/dense_3/kernel/m');
  // The local name 'w/1.x' (escaped as 'w.S1..x' in the key) is the weight; its full name gives the layer.
  assert.deepEqual([tensor(file, odd).layer, tensor(file, odd).weight], ['norm', 'w/1.x']);
  const iter = tensor(file, 'optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE');
  assert.deepEqual([iter.group, iter.role], ['optimizer', 'step']);
  assert.equal(tensor(file, 'save_counter/.ATTRIBUTES/VARIABLE_VALUE').group, 'other');
  await file.close();
});

// ---------------------------------------------------------------------------------------------
// The CLI on every TF fixture (same JSON report schema as the other formats).

async function inspectJson(target: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runInspect(['--json', '--workers', '1', target], { out: (x) => out.push(x), err: (x) => err.push(x), progress: () => () => undefined });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('weightscope inspect --json on every TF fixture: stats for every numeric tensor, counts from the reference', async (t) => {
  for (const [rel, ref] of Object.entries(reference)) {
    const p = fixtureOrSkip(t, entryPoints[rel]!.open);
    if (!p) {
      return;
    }
    const opened = await openLocalPath(p);
    const keyByName = new Map(opened.tensors.map((x) => [x.name, keyOf(x)]));
    await opened.close();
    const { code, out } = await inspectJson(p);
    assert.equal(code, 0, rel);
    const report = JSON.parse(out) as { format: string; tensors: { name: string; dtype: string; stats: { count: number; min: number | null; max: number | null } | null; error?: unknown }[]; warnings: unknown[] };
    assert.equal(report.format, entryPoints[rel]!.format);
    assert.equal(report.tensors.length, Object.keys(ref.tensors).length);
    assert.deepEqual(report.warnings, []);
    for (const x of report.tensors) {
      const r = ref.tensors[keyByName.get(x.name)!]!;
      if (r.dtype === 'DT_STRING') {
        assert.equal(x.stats, null, x.name);
        continue;
      }
      assert.equal(x.error, undefined, x.name);
      assert.equal(x.stats?.count, r.count, x.name);
      if (r.count) {
        assert.equal(x.stats?.min, r.min, x.name);
        assert.equal(x.stats?.max, r.max, x.name);
      }
    }
  }
});

test('weightscope inspect on a folder holding a checkpoint file, and on the legacy V1 file (exit 2, clear reason)', async (t) => {
  const dir = fixtureOrSkip(t, 'tf1-checkpoint/mattchubb-houseprices-tf1.10');
  const v1 = fixtureOrSkip(t, 'tf1-checkpoint-v1-format/serving-session-bundle-half-plus-two/00000123/export-00000-of-00001');
  if (!dir || !v1) {
    return;
  }
  const ok = await inspectJson(dir);
  assert.equal(ok.code, 0);
  const report = JSON.parse(ok.out) as { path: string; params: number; tensors: unknown[] };
  assert.equal(report.tensors.length, 34);
  assert.ok(report.path.endsWith('checkpoint'));
  assert.equal(report.params, 800 + 100 + 500 + 5 + 25 + 5 + 50 + 10 + 10 + 1 + 1 + 1);
  await assert.rejects(inspectJson(v1), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat') && /legacy V1 checkpoint/.test(ex.message));
});

test('entries of unknown shape (an unknown rank, a dimension of -1) are shown as unknown and left out of the parameter counts', async () => {
  const index = writeUnknownShapeCheckpoint(makeTempDir('weightscope-tf-shape-'));

  const file = await openLocalPath(index);
  assert.deepEqual([tensor(file, 'dense/scale').shape, tensor(file, 'dense/scale').shapeUnknown], [[-1, 3], true]);
  assert.deepEqual([tensor(file, 'dense/state').shape, tensor(file, 'dense/state').shapeUnknown], [[], true]);
  assert.equal(tensor(file, 'dense/kernel').shapeUnknown, undefined);
  assert.match(tensor(file, 'dense/scale').unavailable!.message, /model\.ckpt\.index: tensor 'dense\/scale' has an unknown shape \[\?, 3\]\.$/);
  assert.match(tensor(file, 'dense/state').unavailable!.message, /tensor 'dense\/state' has an unknown rank\.$/);
  await file.close();

  const json = await inspectJson(index);
  assert.equal(json.code, 0);
  const report = JSON.parse(json.out) as { params: number; unknownShapeTensors?: number; tensors: { name: string; shape: number[]; shapeUnknown?: boolean; error?: { reason: string } }[]; layers: { name: string; params: number }[] };
  assert.equal(report.params, 6 + 3, 'only the kernel and the bias count');
  assert.equal(report.unknownShapeTensors, 2);
  assert.deepEqual(report.layers.map((l) => [l.name, l.params]), [['dense', 9]]);
  const byName = new Map(report.tensors.map((t) => [t.name, t]));
  const scale = byName.get('dense/scale')!;
  assert.deepEqual([scale.shape, scale.shapeUnknown, scale.error?.reason], [[-1, 3], true, 'corrupt']);
  assert.deepEqual([byName.get('dense/state')!.shape, byName.get('dense/state')!.shapeUnknown], [[], true]);
  assert.ok(!('shapeUnknown' in byName.get('dense/bias')!), 'no shapeUnknown key on a known shape');

  const io = captureIo();
  assert.equal(await runInspect(['--workers', '1', index], io), 0);
  const table = io.stdout.join('\n');
  assert.match(table, /params: 9 \(excludes 2 tensors of unknown shape\)/);
  const row = (name: string): string[] => table.split('\n').find((l) => l.trim().startsWith(`${name} `))!.trim().split(/\s+/);
  assert.deepEqual(row('scale').slice(0, 4), ['scale', '[?,3]', 'float32', '?']);
  assert.deepEqual(row('state').slice(0, 4), ['state', '?', 'float32', '?']);
  assert.deepEqual(row('kernel').slice(0, 4), ['kernel', '[2,3]', 'float32', '6']);
  assert.deepEqual(row('dense').slice(0, 2), ['dense', '9'], 'the layer row counts 9 parameters');
});

test('cancellation: an aborted open and an aborted read end with cancelled', async () => {
  const w = new BundleWriter('c', { blockSizeBytes: 512 });
  for (let i = 0; i < 50; i++) {
    w.add(`t${i}`, 'float32', [1000], Array.from({ length: 1000 }, (_, k) => k));
  }
  const files = w.files();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    tfCheckpointReader.open(new MemoryByteSource('gen/c.index', files.get('c.index')!), new MemoryFileSet('gen', files), { signal: ac.signal }),
    (ex: unknown) => WeightFileError.is(ex, 'cancelled'),
  );
  const file = await openGenerated(w);
  await assert.rejects(readAllValues(file.tensors[0]!, { signal: ac.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  assert.equal(file.tensors[0]!.extra?.checksum, 'unverified', 'a cancelled read settles no checksum');
  await file.close();
});

test('a generated Keras SavedModel without a root config: layer classes and configs from each layer\'s metadata; signatures', async () => {
  const kKey = 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE';
  const bKey = 'layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE';
  const w = new BundleWriter('variables/variables');
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([
      { children: [[1, 'layer_with_weights-0'], [1, 'layer-0']] },
      { children: [[2, 'kernel'], [3, 'bias']] },
      { attributes: [['VARIABLE_VALUE', 'my_model/head/kernel', kKey]] },
      { attributes: [['VARIABLE_VALUE', 'my_model/head/bias', bKey]] },
    ]),
  ]);
  w.add(kKey, 'float32', [2, 3], [1, 2, 3, 4, 5, 6]);
  w.add(bKey, 'float32', [3], [0, 0, 0]);
  const layerMeta = { class_name: 'Dense', name: 'head', config: { name: 'head', units: 3, activation: 'relu', kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } } } };
  const pb = encodeSavedModel(
    [
      { identifier: '_tf_keras_model', metadata: JSON.stringify({ class_name: 'MyModel', name: 'my_model' }), children: [[1, 'layer_with_weights-0']] },
      { identifier: '_tf_keras_layer', metadata: JSON.stringify(layerMeta), children: [[2, 'kernel'], [3, 'bias']] },
      { variableName: 'my_model/head/kernel:0' },
      { variableName: 'my_model/head/bias:0' },
    ],
    { serving_default: { inputs: { x: ['serving_default_x:0', 1, [-1, 2]] }, outputs: { y: ['StatefulPartitionedCall:0', 1, null] } } },
  );
  const file = await openGenerated(w, [['saved_model.pb', pb]], 'saved_model.pb');
  assert.equal(file.format, 'tf-savedmodel');
  const head = file.layers.find((l) => l.name === 'head');
  assert.ok(head, `layers: ${file.layers.map((l) => l.name).join(', ')}`);
  assert.deepEqual([head.className, head.units, head.activation, head.kernelInitializer?.className], ['Dense', 3, 'relu', 'GlorotUniform']);
  assert.deepEqual(head.tensors, ['my_model/head/kernel', 'my_model/head/bias']);
  assert.equal(tensor(file, kKey).trainable, true);
  assert.deepEqual(file.metadata.signatures, [
    {
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ key: 'x', name: 'serving_default_x:0', dtype: 'DT_FLOAT', shape: [-1, 2] }],
      outputs: [{ key: 'y', name: 'StatefulPartitionedCall:0', dtype: 'DT_FLOAT' }],
    },
  ]);
  assert.equal((file.metadata.savedModel as { tensorflowVersion: string }).tensorflowVersion, '2.9.1');
  await file.close();
});

test('tf.keras 2.5+ SavedModels: the architecture comes from keras_metadata.pb when the object graph carries no metadata', async () => {
  const kKey = 'layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE';
  const w = new BundleWriter('variables/variables');
  w.addStrings('_CHECKPOINTABLE_OBJECT_GRAPH', [], [
    encodeObjectGraph([{ children: [[1, 'layer_with_weights-0']] }, { children: [[2, 'kernel']] }, { attributes: [['VARIABLE_VALUE', 'conv/kernel', kKey]] }]),
  ]);
  w.add(kKey, 'float32', [1, 1, 1, 2], [0.5, -0.5]);
  const pb = encodeSavedModel([{ identifier: '_tf_keras_sequential', children: [[1, 'layer_with_weights-0']] }, { identifier: '_tf_keras_layer', children: [[2, 'kernel']] }, { variableName: 'conv/kernel:0' }]);
  const root = { class_name: 'Sequential', name: 'seq', config: { name: 'seq', layers: [{ class_name: 'Conv2D', config: { name: 'conv', filters: 2, kernel_size: [1, 1], activation: 'tanh' } }] } };
  const km = encodeKerasMetadata([
    { nodeId: 0, nodePath: 'root', identifier: '_tf_keras_sequential', metadata: JSON.stringify(root) },
    { nodeId: 1, nodePath: 'root.layer_with_weights-0', identifier: '_tf_keras_layer', metadata: JSON.stringify({ class_name: 'Conv2D', name: 'conv', config: root.config.layers[0]!.config }) },
  ]);
  const file = await openGenerated(w, [['saved_model.pb', pb], ['keras_metadata.pb', km]], 'saved_model.pb');
  assert.equal(file.modelClass, 'Sequential');
  const conv = file.layers.find((l) => l.name === 'conv');
  assert.deepEqual([conv?.className, conv?.filters, conv?.activation, conv?.tensors], ['Conv2D', 2, 'tanh', ['conv/kernel']]);
  assert.equal(file.warnings.length, 0);
  await file.close();
});
