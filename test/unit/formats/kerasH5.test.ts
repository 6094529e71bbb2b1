import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { WeightFile } from '../../../src/core/model';
import { NodeFileSet, NodeFileSource } from '../../../src/core/nodeFileSource';
import { readAllValues } from '../../../src/core/tensorData';
import { Hdf5File } from '../../../src/formats/hdf5';
import { kerasH5Reader } from '../../../src/formats/kerasH5';
import { detectFormat, openLocalPath } from '../../../src/formats/registry';
import { fixtureOrSkip, makeTempDir, withOwnTmpdir } from '../helpers/fixtures';
import { assertMutationsFailCleanly } from '../helpers/mutate';
import { assertMatchesReference, fixturesOfFormat, kerasReference } from './helpers/kerasReference';

const soupFull = 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5';
const soupWeights = 'keras-h5/alphabet-soup-charity-keras2.15/model_weights.h5';
const teachable = 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5';
const resnet = 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5';

async function withFile<T>(file: WeightFile, fn: (f: WeightFile) => Promise<T>): Promise<T> {
  try {
    return await fn(file);
  } finally {
    await file.close();
  }
}

function tensor(file: WeightFile, name: string) {
  const t = file.tensors.find((x) => x.name === name);
  assert.ok(t, `tensor '${name}' is listed`);
  return t;
}

for (const rel of fixturesOfFormat('keras-h5', 'keras-weights-h5')) {
  test(`${rel}: names, order, shapes, dtypes and values match h5py`, async (t) => {
    const p = fixtureOrSkip(t, rel);
    if (!p) {
      return;
    }
    await withFile(await openLocalPath(p), (f) => assertMatchesReference(f, kerasReference.fixtures[rel]!));
  });
}

test('legacy full model: config, layers, training config, optimizer slots (Keras 2.15, vlen strings)', async (t) => {
  const p = fixtureOrSkip(t, soupFull);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.format, 'keras-h5');
    assert.equal(f.modelClass, 'Sequential');
    assert.equal(f.metadata.kerasVersion, '2.15.0');
    assert.equal(f.metadata.backend, 'tensorflow');
    assert.equal(f.metadata.hasOptimizerWeights, true);
    assert.equal(f.trainingConfig?.loss, 'binary_crossentropy');
    assert.equal((f.modelConfig?.config as { name?: string }).name, 'sequential');
    const dense = f.layers.filter((l) => l.className === 'Dense');
    assert.deepEqual(
      dense.map((l) => [l.name, l.activation, l.units, l.tensors]),
      [
        ['dense', 'relu', 80, ['dense/dense/kernel:0', 'dense/dense/bias:0']],
        ['dense_1', 'relu', 30, ['dense_1/dense_1/kernel:0', 'dense_1/dense_1/bias:0']],
        ['dense_2', 'sigmoid', 1, ['dense_2/dense_2/kernel:0', 'dense_2/dense_2/bias:0']],
      ],
    );
    const kernel = tensor(f, 'dense/dense/kernel:0');
    assert.deepEqual([kernel.layer, kernel.weight, kernel.role, kernel.group, kernel.trainable], ['dense', 'kernel', 'kernel', 'model', true]);
    assert.equal(tensor(f, 'dense_2/dense_2/bias:0').role, 'bias');
    const step = tensor(f, 'optimizer_weights/iteration:0');
    assert.deepEqual([step.role, step.group, step.dtype], ['step', 'optimizer', 'int64']);
    assert.deepEqual([...(await readAllValues(step))], [80400]);
    const m = tensor(f, 'optimizer_weights/Adam/m/dense/kernel:0');
    assert.deepEqual(m.slotOf, { variable: 'dense/kernel', slot: 'm' });
    assert.deepEqual([m.role, m.group, [...m.shape]], ['optimizer_state', 'optimizer', [43, 80]]);
    assert.deepEqual(tensor(f, 'optimizer_weights/Adam/v/dense_2/bias:0').slotOf, { variable: 'dense_2/bias', slot: 'v' });
    // Every slot names a model variable that exists as layer/weight.
    const variables = new Set(f.tensors.filter((x) => x.group === 'model').map((x) => `${x.layer}/${x.weight}`));
    const slots = f.tensors.filter((x) => x.slotOf);
    assert.equal(slots.length, 12);
    assert.ok(slots.every((x) => variables.has(x.slotOf!.variable)));
  });
});

test('legacy weights-only file: root layer_names, no config', async (t) => {
  const p = fixtureOrSkip(t, soupWeights);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.format, 'keras-weights-h5');
    assert.equal(f.modelConfig, undefined);
    assert.equal(f.modelClass, undefined);
    assert.equal(f.metadata.kerasVersion, '2.15.0');
    assert.deepEqual(
      f.layers.map((l) => [l.name, l.tensors.length]),
      [
        ['dense', 2],
        ['dense_1', 2],
        ['dense_2', 2],
      ],
    );
    assert.deepEqual(
      f.tensors.map((x) => `${x.layer}:${x.weight}:${x.role}`),
      ['dense:kernel:kernel', 'dense:bias:bias', 'dense_1:kernel:kernel', 'dense_1:bias:bias', 'dense_2:kernel:kernel', 'dense_2:bias:bias'],
    );
  });
});

test('nested models with fixed-length NULLPAD weight_names map to the inner layers (Teachable Machine, Keras 2.4)', async (t) => {
  const p = fixtureOrSkip(t, teachable);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.tensors.length, 263);
    const conv = tensor(f, 'sequential_1/Conv1/kernel:0');
    assert.deepEqual([conv.layer, conv.weight, conv.role, [...conv.shape]], ['Conv1', 'kernel', 'kernel', [3, 3, 3, 16]]);
    const convLayer = f.layers.find((l) => l.name === 'Conv1');
    assert.equal(convLayer?.className, 'Conv2D');
    assert.equal(convLayer?.parent, 'model1');
    assert.deepEqual(convLayer?.tensors, ['sequential_1/Conv1/kernel:0']);
    const dw = tensor(f, 'sequential_1/expanded_conv_depthwise/depthwise_kernel:0');
    assert.equal(dw.role, 'depthwise_kernel');
    const variance = tensor(f, 'sequential_1/bn_Conv1/moving_variance:0');
    assert.deepEqual([variance.role, variance.trainable], ['moving_variance', false]);
    const head = tensor(f, 'sequential_3/dense_Dense2/kernel:0');
    assert.deepEqual([head.layer, [...head.shape]], ['dense_Dense2', [100, 2]]);
    assert.equal(f.layers.find((l) => l.name === 'dense_Dense2')?.parent, 'sequential_3');
    // Every model tensor belongs to a layer from the config.
    const configured = new Set(f.layers.filter((l) => l.className !== undefined).map((l) => l.name));
    assert.ok(f.tensors.every((x) => configured.has(x.layer)));
  });
});

test('older optimizer naming (Adam/<var>/m:0, Adam/iter:0) and BatchNorm in a Functional model (Keras 2.4)', async (t) => {
  const p = fixtureOrSkip(t, resnet);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.modelClass, 'Functional');
    const iter = tensor(f, 'optimizer_weights/Adam/iter:0');
    assert.deepEqual([iter.role, iter.group], ['step', 'optimizer']);
    assert.deepEqual(tensor(f, 'optimizer_weights/Adam/conv2d/kernel/m:0').slotOf, { variable: 'conv2d/kernel', slot: 'm' });
    const bn = f.layers.find((l) => l.name === 'batch_normalization');
    assert.equal(bn?.className, 'BatchNormalization');
    assert.deepEqual(
      bn?.tensors.map((n) => tensor(f, n).role),
      ['gamma', 'beta', 'moving_mean', 'moving_variance'],
    );
  });
});

test('values stream in bounded slabs in row-major order (chunkElements 7 on a [43,80] kernel)', async (t) => {
  const p = fixtureOrSkip(t, soupFull);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    const kernel = tensor(f, 'dense/dense/kernel:0');
    const chunks: number[] = [];
    for await (const c of kernel.readValues({ chunkElements: 7 })) {
      chunks.push(c.length);
    }
    assert.ok(chunks.length > 1 && chunks.every((n) => n <= 7), `chunk sizes ${chunks.slice(0, 5).join(',')}...`);
    assert.equal(chunks.reduce((a, b) => a + b, 0), 43 * 80);
    // Same values whatever the slab size: compare against the reference with rows of 80 and with 7-element slabs.
    await assertMatchesReference(f, kerasReference.fixtures[soupFull]!, 7);
    await assertMatchesReference(f, kerasReference.fixtures[soupFull]!, 100);
  });
});

test('reads after close fail with a clear error instead of crashing', async (t) => {
  const p = fixtureOrSkip(t, soupWeights);
  if (!p) {
    return;
  }
  const f = await openLocalPath(p);
  const kernel = tensor(f, 'dense/dense/kernel:0');
  await f.close();
  await assert.rejects(readAllValues(kernel), (ex: unknown) => WeightFileError.is(ex, 'cancelled') && /closed/.test((ex as Error).message));
  await f.close(); // closing twice is harmless
});

test('sniff: HDF5 signature claims the file, .h5 names score higher', () => {
  const head = new Uint8Array(64);
  head.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(kerasH5Reader.sniff({ fileName: 'model.h5', size: 64, head, tail: head }), 100);
  assert.equal(kerasH5Reader.sniff({ fileName: 'weights.bin', size: 64, head, tail: head }), 90);
  const userBlock = new Uint8Array(1100);
  userBlock.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 1024);
  assert.equal(kerasH5Reader.sniff({ fileName: 'x.hdf5', size: 1100, head: userBlock, tail: head }), 100);
  assert.equal(kerasH5Reader.sniff({ fileName: 'x.h5', size: 4, head: new Uint8Array([1, 2, 3, 4]), tail: head }), undefined);
});

test('bad input: the first half of a real .h5 opens with a truncated warning: the model weights it holds read as h5py reads them, the optimizer slots past the cut are truncated errors', async (t) => {
  const p = fixtureOrSkip(t, soupFull);
  if (!p) {
    return;
  }
  const ref = kerasReference.fixtures[soupFull]!;
  const dir = makeTempDir();
  const bytes = fs.readFileSync(p);
  const cut = path.join(dir, 'half.h5');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await withFile(await openLocalPath(cut), async (file) => {
    assert.equal(file.warnings[0]?.reason, 'truncated');
    assert.match(file.warnings[0]!.message, /^.*half\.h5: the HDF5 file is truncated: its superblock records an end of file at byte \d+ but the file has \d+ bytes/);
    assert.deepEqual(
      file.tensors.map((x) => x.name),
      ref.tensors.map((x) => x.name),
    );
    let cutOff = 0;
    for (const r of ref.tensors) {
      const x = tensor(file, r.name);
      if (r.group === 'model') {
        assert.equal(x.unavailable, undefined, `${r.name}: its bytes are in the first half`);
        const values = await readAllValues(x);
        assert.deepEqual([...values.subarray(0, 8)], r.first, `${r.name}: first values`);
      } else if (x.unavailable) {
        assert.equal(x.unavailable.reason, 'truncated', `${r.name}: ${x.unavailable.message}`);
        cutOff++;
      }
    }
    assert.ok(cutOff > 0, 'some optimizer slots lie in the missing half');
  });
  // Cut before the groups can be listed, nothing opens: the file's error says why.
  const head = path.join(dir, 'head.h5');
  fs.writeFileSync(head, bytes.subarray(0, 2000));
  await assert.rejects(openLocalPath(head), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex, 'truncated'), String(ex));
    assert.match((ex as Error).message, /head\.h5: .*the file is truncated/);
    return true;
  });
});

test('bad input: wrong magic in a .h5 file is not recognized as any format', async () => {
  const dir = makeTempDir();
  const p = path.join(dir, 'fake.h5');
  fs.writeFileSync(p, 'this is not an HDF5 file at all, just text');
  await assert.rejects(openLocalPath(p), (ex: unknown) => WeightFileError.is(ex, 'unrecognized') && (ex as Error).message.includes('fake.h5'));
});

test('bad input: HDF5 signature followed by garbage fails with a clear reason', async () => {
  const dir = makeTempDir();
  const p = path.join(dir, 'garbage.h5');
  const bytes = new Uint8Array(4096);
  bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let i = 8; i < bytes.length; i++) {
    bytes[i] = (i * 7919) & 0xff;
  }
  fs.writeFileSync(p, bytes);
  const source = await NodeFileSource.open(p);
  assert.equal((await detectFormat(source, 'garbage.h5')).id, 'keras-h5');
  await assert.rejects(kerasH5Reader.open(source, new NodeFileSet(dir)), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex), String(ex));
    assert.ok(['corrupt', 'truncated', 'unrecognized'].includes((ex as WeightFileError).reason), (ex as WeightFileError).reason);
    assert.match((ex as Error).message, /garbage\.h5/);
    return true;
  });
  await source.close();
});

test('an HDF5 source without a local path (a remote or virtual file system) opens through a temporary copy, removed on close', async (t) => {
  const p = fixtureOrSkip(t, soupWeights);
  if (!p) {
    return;
  }
  await withOwnTmpdir(async (tempRoot) => {
    const source = new MemoryByteSource('virtual/model_weights.h5', fs.readFileSync(p));
    await withFile(await kerasH5Reader.open(source, new MemoryFileSet('virtual', new Map())), async (f) => {
      assert.equal(fs.readdirSync(tempRoot).filter((n) => n.startsWith('weightscope-h5-')).length, 1);
      await assertMatchesReference(f, kerasReference.fixtures[soupWeights]!);
    });
    assert.deepEqual(fs.readdirSync(tempRoot), [], 'the copy is removed on close');
  });
});

test('a Keras HDF5 file behind a user block past the sniffed head (16 and 64 KiB, as h5jam writes) reads as h5py reads it, in place and through a temporary copy', async (t) => {
  const p = fixtureOrSkip(t, soupFull);
  if (!p) {
    return;
  }
  const body = fs.readFileSync(p);
  const dir = makeTempDir();
  for (const size of [16384, 65536]) {
    const userBlock = Buffer.alloc(size);
    userBlock.write('a user block: any bytes an application keeps before the HDF5 data\n');
    const bytes = Buffer.concat([userBlock, body]);
    const file = path.join(dir, `soup-${size}.h5`);
    fs.writeFileSync(file, bytes);
    await withFile(await openLocalPath(file), (f) => assertMatchesReference(f, kerasReference.fixtures[soupFull]!));
    await withOwnTmpdir(async (tempRoot) => {
      const source = new MemoryByteSource(`virtual/soup-${size}.h5`, bytes);
      assert.equal((await detectFormat(source, `soup-${size}.h5`)).id, 'keras-h5');
      await withFile(await kerasH5Reader.open(source, new MemoryFileSet('virtual', new Map())), async (f) => {
        const copies = fs.readdirSync(tempRoot).filter((n) => n.startsWith('weightscope-h5-'));
        assert.equal(copies.length, 1);
        assert.equal(fs.statSync(path.join(tempRoot, copies[0]!, 'member.h5')).size, bytes.length, 'the user block and the whole file are copied');
        await assertMatchesReference(f, kerasReference.fixtures[soupFull]!);
      });
    });
  }
  // A signature at an offset that is no user-block size is not HDF5's (the library would not find it).
  const stray = Buffer.alloc(20000);
  stray.set(body.subarray(0, 8), 5000);
  await assert.rejects(detectFormat(new MemoryByteSource('virtual/stray.h5', stray), 'stray.h5'), (ex: unknown) => WeightFileError.is(ex, 'unrecognized'));
});

type H5wasm = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
type H5Group = InstanceType<H5wasm['Group']>;

test('legacy nested model: optimizer slots named by the full path map to the inner layer variable', async () => {
  const h5 = await import('h5wasm/node');
  await h5.ready;
  const p = path.join(makeTempDir(), 'nested.h5');
  const f = new h5.File(p, 'w');
  try {
    const config = {
      class_name: 'Sequential',
      config: { name: 'outer', layers: [{ class_name: 'Sequential', config: { name: 'inner', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 2 } }] } }] },
    };
    f.create_attribute('model_config', JSON.stringify(config));
    f.create_attribute('keras_version', '2.15.0');
    const mw = f.create_group('model_weights');
    mw.create_attribute('layer_names', ['inner']);
    const inner = mw.create_group('inner');
    inner.create_attribute('weight_names', ['dense/kernel:0', 'dense/bias:0']);
    const dense: H5Group = inner.create_group('dense');
    dense.create_dataset({ name: 'kernel:0', data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] });
    dense.create_dataset({ name: 'bias:0', data: new Float32Array([5, 6]), shape: [2] });
    const ow = f.create_group('optimizer_weights');
    ow.create_attribute('weight_names', ['Adam/m/inner/dense/kernel:0']);
    ow.create_group('Adam').create_group('m').create_group('inner').create_group('dense').create_dataset({ name: 'kernel:0', data: new Float32Array([0, 0, 0, 1]), shape: [2, 2] });
  } finally {
    f.close();
  }
  await withFile(await openLocalPath(p), async (file) => {
    assert.deepEqual(
      file.tensors.map((t) => `${t.name}=${t.layer}:${t.weight}`),
      ['inner/dense/kernel:0=dense:kernel', 'inner/dense/bias:0=dense:bias', 'optimizer_weights/Adam/m/inner/dense/kernel:0=optimizer:dense/kernel/m'],
    );
    assert.deepEqual(file.tensors[2]!.slotOf, { variable: 'dense/kernel', slot: 'm' });
    assert.equal(file.layers.find((l) => l.name === 'dense')?.parent, 'inner');
    assert.deepEqual([...(await readAllValues(file.tensors[2]!))], [0, 0, 0, 1]);
  });
});

test('a real .h5 cut by 1, 16 or 100 bytes (no dataset reaches them) opens with one truncated warning and every value as h5py reads the whole file, in TypeScript and through the HDF5 library alike', async (t) => {
  const p = fixtureOrSkip(t, teachable);
  if (!p) {
    return;
  }
  const ref = kerasReference.fixtures[teachable]!;
  const whole = fs.readFileSync(p);
  // The intact file ends exactly at its superblock's end-of-file address (h5py opens it; a shorter copy it refuses).
  const storedEnd = whole.length;
  const dir = makeTempDir();
  for (const cut of [1, 16, 100]) {
    const copy = path.join(dir, `keras_model-${cut}.h5`);
    fs.writeFileSync(copy, whole.subarray(0, whole.length - cut));
    await withFile(await openLocalPath(copy), async (file) => {
      assert.equal(file.warnings.length, 1, `cut ${cut}: one warning`);
      const w = file.warnings[0]!;
      assert.equal(w.reason, 'truncated');
      assert.equal(w.tensor, undefined, 'about the whole file');
      assert.ok(w.message.startsWith(`${copy}: `), w.message);
      assert.match(w.message, new RegExp(`end of file at byte ${storedEnd} but the file has ${storedEnd - cut} bytes \\(${cut} missing\\)`));
      assert.deepEqual(
        file.tensors.map((x) => x.name),
        ref.tensors.map((x) => x.name),
      );
      const lib = await Hdf5File.openLocal(copy, copy, undefined, undefined, { library: true });
      try {
        assert.equal(lib.backend, 'library');
        assert.deepEqual(lib.fileWarnings(), [...file.warnings], 'the library path warns the same');
        for (let i = 0; i < ref.tensors.length; i++) {
          const r = ref.tensors[i]!;
          const tensorInfo = file.tensors[i]!;
          assert.equal(tensorInfo.unavailable, undefined, `${r.name} available`);
          const values = await readAllValues(tensorInfo);
          assert.deepEqual([...values.subarray(0, 8)], r.first, `${r.name}: first values`);
          let sum = 0;
          for (const v of values) {
            sum += v;
          }
          assert.ok(Math.abs(sum - r.sum) <= 1e-9 * Math.max(1, Math.abs(r.sum)), `${r.name}: sum ${sum} vs ${r.sum}`);
          const info = lib.dataset((tensorInfo.extra as { hdf5Path: string }).hdf5Path);
          assert.equal(info.cut, undefined);
          assert.deepEqual(await readAllValues({ readValues: (o) => lib.readValues(info, o) }), values, `${r.name}: the library reads the same values`);
        }
      } finally {
        await lib.close();
      }
    });
  }
});

test('damaged Keras HDF5 files (bytes changed, mostly in the metadata; some cut short) open or fail with a WeightFileError naming the file', async (t) => {
  const weightsOnly = fixtureOrSkip(t, 'keras-h5/alphabet-soup-charity-keras2.15');
  const v3 = fixtureOrSkip(t, 'keras3-weights-h5/diabetes-simple-model');
  if (!weightsOnly || !v3) {
    return;
  }
  const dir = makeTempDir('weightscope-h5-mutations-');
  for (const [source, name, seed] of [
    [path.join(weightsOnly, 'model_weights.h5'), 'model_weights.h5', 11],
    [path.join(v3, 'model.weights.h5'), 'model.weights.h5', 12],
  ] as const) {
    const target = path.join(dir, name);
    const open = (bytes: Uint8Array): Promise<WeightFile> => {
      fs.writeFileSync(target, bytes);
      return openLocalPath(target);
    };
    // HDF5 metadata of these small files lies in their first 4 KiB and between the datasets.
    const summary = await assertMutationsFailCleanly(name, fs.readFileSync(source), open, 150, seed, { headBytes: 4096, chunkElements: 64 });
    assert.ok(summary.opened > 0 && summary.refused > 0, `${name}: ${JSON.stringify(summary)}`);
  }
});
