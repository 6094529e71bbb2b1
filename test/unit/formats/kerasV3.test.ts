import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemoryFileSet } from '../../../src/core/byteSource';
import { WeightFileError } from '../../../src/core/errors';
import type { WeightFile } from '../../../src/core/model';
import { readAllValues } from '../../../src/core/tensorData';
import { reserveTempSpace } from '../../../src/formats/hdf5';
import { kerasV3Reader, toSnakeCase } from '../../../src/formats/kerasV3';
import { openLocalPath } from '../../../src/formats/registry';
import { fixtureOrSkip, makeTempDir, withOwnTmpdir } from '../helpers/fixtures';
import { assertMutationsFailCleanly } from '../helpers/mutate';
import { assertMatchesReference, fixturesOfFormat, kerasReference } from './helpers/kerasReference';
import { readStoredMembers, writeZip } from './helpers/zipWriter';

const nested = 'keras3-keras/keras-nested-container-3.15/pre_pr22362_nested_container.keras';
const lstm = 'keras3-keras/keras-masking-lstm-3.8/model.keras';
const custom = 'keras3-keras/keras-custom-layer-3.13/fixed_model.keras';
const diabetes = 'keras3-weights-h5/diabetes-simple-model/model.weights.h5';

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

for (const rel of fixturesOfFormat('keras-v3', 'keras-v3-weights')) {
  test(`${rel}: names, order, shapes, dtypes and values match h5py`, async (t) => {
    const p = fixtureOrSkip(t, rel);
    if (!p) {
      return;
    }
    await withFile(await openLocalPath(p), (f) => assertMatchesReference(f, kerasReference.fixtures[rel]!));
  });
}

test('.keras: layer names from the vars name attribute, roles by Dense variable order, metadata.json', async (t) => {
  const p = fixtureOrSkip(t, nested);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.format, 'keras-v3');
    assert.equal(f.modelClass, 'NestedDenseModel');
    assert.equal(f.metadata.kerasVersion, '3.15.0');
    assert.equal(f.metadata.dateSaved, '2026-05-13@21:23:40');
    assert.deepEqual(
      f.tensors.map((x) => `${x.name}=${x.layer}:${x.weight}:${x.role}`),
      [
        'layers/dense/vars/0=d_0:kernel:kernel',
        'layers/dense_1/vars/0=d_1:kernel:kernel',
        'layers/dense_2/vars/0=d_2:kernel:kernel',
        'layers/dense_3/vars/0=dense:kernel:kernel',
        'layers/dense_3/vars/1=dense:bias:bias',
      ],
    );
    // The reference records the same name attributes h5py sees.
    const ref = kerasReference.fixtures[nested]!;
    assert.deepEqual(
      f.tensors.map((x) => x.layer),
      ref.tensors.map((r) => r.varsName),
    );
    assert.deepEqual(
      f.layers.map((l) => [l.name, l.tensors.length]),
      [
        ['d_0', 1],
        ['d_1', 1],
        ['d_2', 1],
        ['dense', 2],
      ],
    );
  });
});

test('.keras: LSTM cell variables belong to the LSTM layer as kernel, recurrent_kernel, bias', async (t) => {
  const p = fixtureOrSkip(t, lstm);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.modelClass, 'Sequential');
    assert.deepEqual(
      f.tensors.map((x) => [x.layer, x.weight, x.role, [...x.shape], x.trainable]),
      [
        ['lstm', 'kernel', 'kernel', [2, 4], true],
        ['lstm', 'recurrent_kernel', 'recurrent_kernel', [1, 4], true],
        ['lstm', 'bias', 'bias', [4], true],
      ],
    );
    const layer = f.layers.find((l) => l.name === 'lstm');
    assert.equal(layer?.className, 'LSTM');
    assert.equal(layer?.units, 1);
    assert.deepEqual(layer?.tensors, ['layers/lstm/cell/vars/0', 'layers/lstm/cell/vars/1', 'layers/lstm/cell/vars/2']);
    assert.deepEqual(f.layers.find((l) => l.name === 'masking')?.tensors, []);
    // unit_forget_bias: the forget-gate quarter of the bias is 1.
    assert.deepEqual([...(await readAllValues(tensor(f, 'layers/lstm/cell/vars/2')))], [0, 1, 0, 0]);
  });
});

test('.keras: nested custom layers and Adam slots mapped to trainable variables (interleaved m, v)', async (t) => {
  const p = fixtureOrSkip(t, custom);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.modelClass, 'TestModel');
    assert.equal((f.trainingConfig?.optimizer as { class_name?: string }).class_name, 'Adam');
    const model = f.tensors.filter((x) => x.group === 'model');
    assert.deepEqual(
      model.map((x) => `${x.layer}/${x.weight}`),
      ['dense_6/kernel', 'dense_6/bias', 'dense_7/kernel', 'dense_7/bias', 'dense_8/kernel', 'dense_8/bias'],
    );
    assert.ok(f.layers.filter((l) => l.name.startsWith('dense_')).every((l) => l.parent === 'test_layer'));
    const iterations = tensor(f, 'optimizer/vars/0');
    assert.deepEqual([iterations.weight, iterations.role, iterations.dtype, iterations.group], ['iterations', 'step', 'int64', 'optimizer']);
    assert.deepEqual([...(await readAllValues(iterations))], [25]);
    assert.equal(tensor(f, 'optimizer/vars/1').weight, 'learning_rate');
    assert.deepEqual(tensor(f, 'optimizer/vars/2').slotOf, { variable: 'dense_6/kernel', slot: 'momentum' });
    assert.deepEqual(tensor(f, 'optimizer/vars/3').slotOf, { variable: 'dense_6/kernel', slot: 'velocity' });
    assert.deepEqual(tensor(f, 'optimizer/vars/13').slotOf, { variable: 'dense_8/bias', slot: 'velocity' });
    for (const slot of f.tensors.filter((x) => x.slotOf)) {
      const variable = model.find((m) => `${m.layer}/${m.weight}` === slot.slotOf!.variable)!;
      assert.deepEqual([...slot.shape], [...variable.shape], `${slot.name} has its variable's shape`);
    }
    assert.equal(f.tensors.filter((x) => x.slotOf).length, 12);
  });
});

test('.weights.h5: sibling model.json gives the architecture; without it the vars names still name layers', async (t) => {
  const p = fixtureOrSkip(t, diabetes);
  if (!p) {
    return;
  }
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.format, 'keras-v3-weights');
    assert.equal(f.metadata.configFile, 'model.json');
    assert.equal(f.modelClass, 'Sequential');
    const dense = f.layers.filter((l) => l.className === 'Dense');
    assert.deepEqual(
      dense.map((l) => [l.name, l.units, l.tensors]),
      [
        ['dense', 12, ['layers/dense/vars/0', 'layers/dense/vars/1']],
        ['dense_1', 8, ['layers/dense_1/vars/0', 'layers/dense_1/vars/1']],
        ['dense_2', 1, ['layers/dense_2/vars/0', 'layers/dense_2/vars/1']],
      ],
    );
    assert.deepEqual(tensor(f, 'optimizer/vars/10').slotOf, { variable: 'dense_2/kernel', slot: 'momentum' });
  });
  // Alone in a folder (copied at test time): no config, same tensors, names from the file.
  const dir = makeTempDir();
  const alone = path.join(dir, 'model.weights.h5');
  fs.copyFileSync(p, alone);
  await withFile(await openLocalPath(alone), async (f) => {
    assert.equal(f.format, 'keras-v3-weights');
    assert.equal(f.modelClass, undefined);
    assert.equal(f.metadata.configFile, undefined);
    assert.deepEqual(
      f.tensors.filter((x) => x.group === 'model').map((x) => `${x.layer}:${x.weight}`),
      ['dense:kernel', 'dense:bias', 'dense_1:kernel', 'dense_1:bias', 'dense_2:kernel', 'dense_2:bias'],
    );
    await assertMatchesReference(f, kerasReference.fixtures[diabetes]!);
  });
});

test('.keras: a local STORED weights member is read in place; without a local path it goes through a temporary copy that close() deletes', async (t) => {
  const p = fixtureOrSkip(t, nested);
  if (!p) {
    return;
  }
  const tmp = makeTempDir();
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    const local = await openLocalPath(p);
    assert.deepEqual(fs.readdirSync(tmp), [], 'no copy for a local archive');
    await assertMatchesReference(local, kerasReference.fixtures[nested]!);
    await local.close();
    const virtual = await kerasV3Reader.open(new MemoryByteSource('memory/nested.keras', fs.readFileSync(p)), new MemoryFileSet('memory', new Map()));
    const dirs = fs.readdirSync(tmp).filter((d) => d.startsWith('weightscope-h5-'));
    assert.equal(dirs.length, 1);
    assert.equal(fs.statSync(path.join(tmp, dirs[0]!, 'member.h5')).size, 17288);
    await assertMatchesReference(virtual, kerasReference.fixtures[nested]!);
    await virtual.close();
    assert.deepEqual(fs.readdirSync(tmp), []);
  } finally {
    if (saved === undefined) {
      delete process.env.TMPDIR;
    } else {
      process.env.TMPDIR = saved;
    }
  }
});

test('.keras read in place: two archives open at once, each member clipped to its own bytes', async (t) => {
  const a = fixtureOrSkip(t, lstm);
  const b = fixtureOrSkip(t, custom);
  if (!a || !b) {
    return;
  }
  const fa = await openLocalPath(a);
  const fb = await openLocalPath(b);
  try {
    await assertMatchesReference(fb, kerasReference.fixtures[custom]!, 300);
    await assertMatchesReference(fa, kerasReference.fixtures[lstm]!);
  } finally {
    await fa.close();
    await fb.close();
  }
  // After close the virtual member paths are gone: reads fail cleanly.
  await assert.rejects(readAllValues(fa.tensors[0]!), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
});

test('.keras from a source without a local path and with a DEFLATED weights member still opens', async (t) => {
  const p = fixtureOrSkip(t, custom);
  if (!p) {
    return;
  }
  const members = await readStoredMembers(p);
  const zip = writeZip([...members].map(([name, data]) => ({ name, data, deflate: true })));
  const source = new MemoryByteSource('memory/fixed_model.keras', zip);
  await withFile(await kerasV3Reader.open(source, new MemoryFileSet('memory', new Map())), (f) => assertMatchesReference(f, kerasReference.fixtures[custom]!, 50));
});

test('.keras whose DEFLATED weights member is HDF5 followed by 64 MiB of filler: only the bytes its superblock records are copied, and it opens', async (t) => {
  const p = fixtureOrSkip(t, custom);
  if (!p) {
    return;
  }
  const members = await readStoredMembers(p);
  const h5 = members.get('model.weights.h5')!;
  const padded = new Uint8Array(h5.length + 64 * 1024 * 1024);
  padded.set(h5);
  const zip = writeZip([...members].map(([name, data]) => ({ name, data: name === 'model.weights.h5' ? padded : data, deflate: true })));
  assert.ok(zip.length < 1024 * 1024, `the archive is small (${zip.length} bytes)`);
  await withOwnTmpdir(async (tempRoot) => {
    const file = await kerasV3Reader.open(new MemoryByteSource('memory/padded.keras', zip), new MemoryFileSet('memory', new Map()));
    await withFile(file, async (f) => {
      const copies = fs.readdirSync(tempRoot).filter((n) => n.startsWith('weightscope-h5-'));
      assert.equal(copies.length, 1, copies.join(', '));
      assert.equal(fs.statSync(path.join(tempRoot, copies[0]!, 'member.h5')).size, h5.length);
      await assertMatchesReference(f, kerasReference.fixtures[custom]!, 50);
    });
    assert.deepEqual(fs.readdirSync(tempRoot), [], 'the copy is removed on close');
  });
});

test('a temporary copy that would leave less than 64 MiB free in the temporary folder is refused as tooLarge, naming the sizes', () => {
  const mib = 2 ** 20;
  reserveTempSpace('a.keras/model.weights.h5', 100 * mib, '/tmp', 165 * mib).release();
  reserveTempSpace('a.keras/model.weights.h5', 100 * mib, '/tmp', undefined).release();
  assert.throws(
    () => reserveTempSpace('a.keras/model.weights.h5', 100 * mib, '/tmp', 163 * mib),
    (ex: unknown) => WeightFileError.is(ex, 'tooLarge') && ex.message === 'a.keras/model.weights.h5: reading it needs a 100 MiB copy in the temporary folder /tmp, which has 163 MiB free.',
  );
});

test('copies in progress count against the free space of the next one until they have written their bytes or are released', () => {
  const mib = 2 ** 20;
  // 400 MiB free: room for 336 MiB of copies past the 64 MiB reserve.
  const a = reserveTempSpace('a.keras/model.weights.h5', 200 * mib, '/tmp', 400 * mib);
  assert.throws(
    () => reserveTempSpace('b.keras/model.weights.h5', 200 * mib, '/tmp', 400 * mib),
    (ex: unknown) =>
      WeightFileError.is(ex, 'tooLarge') &&
      ex.message === 'b.keras/model.weights.h5: reading it needs a 200 MiB copy in the temporary folder /tmp, which has 400 MiB free, of which other copies in progress still need 200 MiB.',
  );
  // Once a has written 150 MiB the file system shows them; only its last 50 MiB are still claimed.
  a.wrote(150 * mib);
  const b = reserveTempSpace('b.keras/model.weights.h5', 200 * mib, '/tmp', 250 * mib + 200 * mib);
  assert.throws(() => reserveTempSpace('c.keras/model.weights.h5', 40 * mib, '/tmp', 250 * mib + 40 * mib), (ex: unknown) => WeightFileError.is(ex, 'tooLarge') && ex.message.includes('still need 250 MiB'));
  a.release();
  a.release();
  b.wrote(10 * mib);
  b.release();
  // Nothing is claimed any more: a copy that exactly fits passes.
  reserveTempSpace('d.keras/model.weights.h5', 100 * mib, '/tmp', 164 * mib).release();
});

test('.keras whose DEFLATED weights member is not HDF5 (64 MiB of zeros, a ZIP bomb in small) is refused from its first bytes, with no temporary copy', async () => {
  const zip = writeZip([
    { name: 'config.json', data: new TextEncoder().encode('{"class_name": "Sequential", "config": {"name": "s", "layers": []}}'), deflate: true },
    { name: 'metadata.json', data: new TextEncoder().encode('{"keras_version": "3.0.0"}'), deflate: true },
    { name: 'model.weights.h5', data: new Uint8Array(64 * 1024 * 1024), deflate: true },
  ]);
  assert.ok(zip.length < 1024 * 1024, `the archive is small (${zip.length} bytes)`);
  // In a temporary folder of its own: test files running alongside make their own folders in the shared one.
  await withOwnTmpdir(async (tempRoot) => {
    const source = new MemoryByteSource('memory/bomb.keras', zip);
    await assert.rejects(kerasV3Reader.open(source, new MemoryFileSet('memory', new Map())), (ex: unknown) => {
      assert.ok(WeightFileError.is(ex, 'unrecognized'), String(ex));
      assert.equal((ex as Error).message, 'memory/bomb.keras/model.weights.h5: is not an HDF5 file (no HDF5 signature at its start or after a user block).');
      return true;
    });
    assert.deepEqual(fs.readdirSync(tempRoot), [], 'no temporary copy was made');
  });
});

test('sniff: ZIP magic with a .keras name, or a ZIP starting with Keras members', () => {
  const zip = writeZip([{ name: 'metadata.json', data: new TextEncoder().encode('{}') }]);
  const input = { fileName: 'model.keras', size: zip.length, head: zip.subarray(0, 4096), tail: zip.subarray(-64) };
  assert.equal(kerasV3Reader.sniff(input), 100);
  assert.equal(kerasV3Reader.sniff({ ...input, fileName: 'download.zip' }), 70);
  const other = writeZip([{ name: 'arr_0.npy', data: new Uint8Array(4) }]);
  assert.equal(kerasV3Reader.sniff({ fileName: 'x.npz', size: other.length, head: other, tail: other }), undefined);
  assert.equal(toSnakeCase('BatchNormalization'), 'batch_normalization');
  assert.equal(toSnakeCase('Conv2D'), 'conv2d');
  assert.equal(toSnakeCase('LSTM'), 'lstm');
});

test('bad input: a .keras archive without model.weights.h5 is reported with its members', async (t) => {
  const p = fixtureOrSkip(t, nested);
  if (!p) {
    return;
  }
  const members = await readStoredMembers(p);
  const dir = makeTempDir();
  const noWeights = path.join(dir, 'no-weights.keras');
  fs.writeFileSync(noWeights, writeZip([{ name: 'metadata.json', data: members.get('metadata.json')! }, { name: 'config.json', data: members.get('config.json')! }]));
  await assert.rejects(openLocalPath(noWeights), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex, 'corrupt'), String(ex));
    assert.match((ex as Error).message, /no-weights\.keras.*without 'model\.weights\.h5'.*'config\.json'/);
    return true;
  });
  const npz = path.join(dir, 'npz.keras');
  fs.writeFileSync(npz, writeZip([{ name: 'config.json', data: members.get('config.json')! }, { name: 'model.weights.npz', data: new Uint8Array(10) }]));
  await assert.rejects(openLocalPath(npz), (ex: unknown) => WeightFileError.is(ex, 'unsupportedFormat') && /model\.weights\.npz/.test((ex as Error).message));
});

test('bad input: a truncated .keras archive (first half) is reported as truncated', async (t) => {
  const p = fixtureOrSkip(t, lstm);
  if (!p) {
    return;
  }
  const dir = makeTempDir();
  const bytes = fs.readFileSync(p);
  const cut = path.join(dir, 'cut.keras');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(openLocalPath(cut), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex, 'truncated'), String(ex));
    assert.match((ex as Error).message, /cut\.keras/);
    return true;
  });
});

test('bad input: a .keras whose model.weights.h5 member is not HDF5 fails with a clear reason', async (t) => {
  const p = fixtureOrSkip(t, lstm);
  if (!p) {
    return;
  }
  const members = await readStoredMembers(p);
  const h5 = members.get('model.weights.h5')!;
  const dir = makeTempDir();
  const broken = path.join(dir, 'broken.keras');
  // The member keeps its first half only (its superblock then points past the end).
  fs.writeFileSync(broken, writeZip([{ name: 'config.json', data: members.get('config.json')! }, { name: 'model.weights.h5', data: h5.subarray(0, h5.length >> 1) }]));
  await assert.rejects(openLocalPath(broken), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex, 'truncated'), String(ex));
    assert.match((ex as Error).message, /broken\.keras\/model\.weights\.h5/);
    return true;
  });
});

type H5wasm = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
type H5Group = InstanceType<H5wasm['Group']>;

/** Writes an HDF5 file with h5wasm (write mode) at `p`. */
async function writeH5(p: string, build: (root: H5Group) => void): Promise<void> {
  const h5 = await import('h5wasm/node');
  await h5.ready;
  const f = new h5.File(p, 'w');
  try {
    build(f);
  } finally {
    f.close();
  }
}

function addVars(root: H5Group, objPath: string, shapes: number[][]): void {
  let g = root;
  for (const part of [...objPath.split('/'), 'vars']) {
    g = (g.get(part) as H5Group | null) ?? g.create_group(part);
  }
  shapes.forEach((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    g.create_dataset({ name: String(i), data: new Float32Array(n).map((_, k) => i * 100 + k), shape });
  });
}

test('.weights.h5 without name attributes: keys map to config layers by class position, config order, use_bias/center, RMSprop slot blocks', async () => {
  const dir = makeTempDir();
  const config = {
    class_name: 'Sequential',
    config: {
      name: 'seq',
      layers: [
        { class_name: 'InputLayer', config: { name: 'in', batch_shape: [null, 4] } },
        { class_name: 'Dense', config: { name: 'my_dense', units: 3, use_bias: false, trainable: true } },
        { class_name: 'BatchNormalization', config: { name: 'bn', center: false, trainable: true } },
        { class_name: 'Dense', config: { name: 'head', units: 2, trainable: true } },
      ],
    },
    compile_config: { optimizer: { class_name: 'RMSprop', config: { momentum: 0.9 } }, loss: 'mse' },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const p = path.join(dir, 'model.weights.h5');
  await writeH5(p, (f) => {
    addVars(f, 'layers/dense', [[4, 3]]);
    addVars(f, 'layers/batch_normalization', [[3], [3], [3]]);
    addVars(f, 'layers/dense_1', [[3, 2], [2]]);
    // iterations, learning_rate, then velocities of the 4 trainable variables, then their momentums.
    addVars(f, 'optimizer', [[], [], [4, 3], [3], [3, 2], [2], [4, 3], [3], [3, 2], [2]]);
  });
  await withFile(await openLocalPath(p), async (f) => {
    assert.equal(f.metadata.configFile, 'config.json');
    assert.equal(f.trainingConfig?.loss, 'mse');
    assert.deepEqual(
      f.tensors.filter((t) => t.group === 'model').map((t) => `${t.name}=${t.layer}:${t.weight}:${t.role}:${t.trainable}`),
      [
        'layers/dense/vars/0=my_dense:kernel:kernel:true',
        'layers/batch_normalization/vars/0=bn:gamma:gamma:true',
        'layers/batch_normalization/vars/1=bn:moving_mean:moving_mean:false',
        'layers/batch_normalization/vars/2=bn:moving_variance:moving_variance:false',
        'layers/dense_1/vars/0=head:kernel:kernel:true',
        'layers/dense_1/vars/1=head:bias:bias:true',
      ],
    );
    assert.deepEqual(
      f.tensors.filter((t) => t.slotOf).map((t) => `${t.name}=${t.slotOf!.variable}:${t.slotOf!.slot}`),
      [
        'optimizer/vars/2=my_dense/kernel:velocity',
        'optimizer/vars/3=bn/gamma:velocity',
        'optimizer/vars/4=head/kernel:velocity',
        'optimizer/vars/5=head/bias:velocity',
        'optimizer/vars/6=my_dense/kernel:momentum',
        'optimizer/vars/7=bn/gamma:momentum',
        'optimizer/vars/8=head/kernel:momentum',
        'optimizer/vars/9=head/bias:momentum',
      ],
    );
    assert.deepEqual([...(await readAllValues(f.tensors.find((t) => t.name === 'layers/dense_1/vars/1')!))], [100, 101]);
  });
});

test('.keras from Keras 2.13-2.15 (_layer_checkpoint_dependencies keyed by layer name)', async () => {
  const dir = makeTempDir();
  const h5Path = path.join(dir, 'model.weights.h5');
  await writeH5(h5Path, (f) => {
    addVars(f, '_layer_checkpoint_dependencies/my_dense', [[3, 2], [2]]);
  });
  const config = { class_name: 'Sequential', config: { name: 'sequential', layers: [{ class_name: 'Dense', config: { name: 'my_dense', units: 2, activation: 'relu' } }] } };
  const archive = path.join(dir, 'old.keras');
  fs.writeFileSync(
    archive,
    writeZip([
      { name: 'metadata.json', data: new TextEncoder().encode('{"keras_version": "2.15.0", "date_saved": "2024-01-01@00:00:00"}') },
      { name: 'config.json', data: new TextEncoder().encode(JSON.stringify(config)) },
      { name: 'model.weights.h5', data: fs.readFileSync(h5Path) },
    ]),
  );
  await withFile(await openLocalPath(archive), async (f) => {
    assert.equal(f.format, 'keras-v3');
    assert.equal(f.metadata.kerasVersion, '2.15.0');
    assert.deepEqual(
      f.tensors.map((t) => `${t.layer}:${t.weight}:${t.role}`),
      ['my_dense:kernel:kernel', 'my_dense:bias:bias'],
    );
    const layer = f.layers.find((l) => l.name === 'my_dense');
    assert.deepEqual([layer?.className, layer?.activation, layer?.tensors.length], ['Dense', 'relu', 2]);
  });
});

test('nested sublayers of unknown classes: name attribute, parent, kernel/bias by trailing shape (EinsumDense in attention)', async () => {
  const p = path.join(makeTempDir(), 'attention.weights.h5');
  await writeH5(p, (f) => {
    addVars(f, 'layers/multi_head_attention', []);
    addVars(f, 'layers/multi_head_attention/_query_dense', [
      [4, 2, 3],
      [2, 3],
    ]);
    addVars(f, 'layers/multi_head_attention/_unknown', [[5], [7]]);
    (f.get('layers/multi_head_attention/vars') as H5Group).create_attribute('name', 'mha');
    (f.get('layers/multi_head_attention/_query_dense/vars') as H5Group).create_attribute('name', 'query');
  });
  await withFile(await openLocalPath(p), async (f) => {
    assert.deepEqual(
      f.tensors.map((t) => `${t.name}=${t.layer}:${t.weight}:${t.role}`),
      [
        'layers/multi_head_attention/_query_dense/vars/0=query:kernel:kernel',
        'layers/multi_head_attention/_query_dense/vars/1=query:bias:bias',
        'layers/multi_head_attention/_unknown/vars/0=mha/_unknown:0:other',
        'layers/multi_head_attention/_unknown/vars/1=mha/_unknown:1:other',
      ],
    );
    assert.equal(f.layers.find((l) => l.name === 'query')?.parent, 'mha');
  });
});

test('damaged .keras archives (ZIP records, config.json or the weights member changed; some cut short) open or fail with a WeightFileError naming the file', async (t) => {
  const fixture = fixtureOrSkip(t, 'keras3-keras/keras-masking-lstm-3.8');
  if (!fixture) {
    return;
  }
  const target = path.join(makeTempDir('weightscope-keras-mutations-'), 'model.keras');
  const open = (bytes: Uint8Array): Promise<WeightFile> => {
    fs.writeFileSync(target, bytes);
    return openLocalPath(target);
  };
  const base = fs.readFileSync(path.join(fixture, 'model.keras'));
  const anywhere = await assertMutationsFailCleanly('model.keras', base, open, 150, 21, { chunkElements: 64 });
  // The first members (metadata.json, config.json) and the start of model.weights.h5.
  const front = await assertMutationsFailCleanly('model.keras', base, open, 150, 22, { headBytes: 6144, chunkElements: 64 });
  for (const summary of [anywhere, front]) {
    assert.ok(summary.opened > 0 && summary.refused > 0, JSON.stringify(summary));
  }
});
