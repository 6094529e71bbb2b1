/**
 * Epoch checkpoints are written whole or not at all: a save that fails (or is killed) half way
 * leaves no epoch-NNN folder whose model.json and weights.bin do not belong together, and the
 * temporary folders such a save leaves are never listed and are removed when the folder is taken again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WeightFileError } from '../../../src/core/errors';
import { readAllValues } from '../../../src/core/tensorData';
import { openLocalPath } from '../../../src/formats/registry';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { readRunSpec, removeCheckpointLeftovers, RunFolderTakenError, trainFromSpec } from '../../../src/runtime/runSpec';
import { errnoError, failFsCallWhere } from '../helpers/fsFailure';
import { savedClassifier } from '../helpers/runtimeData';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

const tinyModel = (): Promise<string> => savedClassifier(tf, tfl, 8);

async function train(dir: string, spec: Record<string, unknown>, overwrite = false): ReturnType<typeof trainFromSpec> {
  const file = path.join(dir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 48, seed: 3 }, batchSize: 16, ...spec }));
  return trainFromSpec(await readRunSpec(file), dir, { backend: 'cpu', overwrite });
}

/** The epoch a checkpoint folder's model.json says it holds, after checking that its weights.bin is the size its manifest says. */
function checkpointEpoch(folder: string): number {
  const json = JSON.parse(fs.readFileSync(path.join(folder, 'model.json'), 'utf8')) as {
    weightsManifest: { weights: { shape: number[] }[] }[];
    userDefinedMetadata: { weightscope: { epoch: number } };
  };
  const values = json.weightsManifest[0]!.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  assert.equal(fs.statSync(path.join(folder, 'weights.bin')).size, 4 * values, `${folder}: weights.bin holds every weight of its model.json`);
  return json.userDefinedMetadata.weightscope.epoch;
}

test('a save that fails half way (the disk fills while model.json is written) leaves no epoch folder and no temporary one', async () => {
  const dir = await tinyModel();
  const runDir = path.join(dir, 'run');
  // epoch 1's weights.bin is written, its model.json is not: wherever the save writes that folder
  const undo = failFsCallWhere('writeFile', (file) => path.dirname(file).includes('epoch-001') && path.basename(file).startsWith('model.json'), 'ENOSPC');
  try {
    await assert.rejects(train(dir, { epochs: 2, outDir: 'run' }), (ex: unknown) => {
      assert.ok(WeightFileError.is(ex, 'tooLarge'), String(ex));
      assert.equal(ex.message, `${path.join(runDir, 'epoch-001')}: cannot write the checkpoint: the disk is full.`);
      return true;
    });
  } finally {
    undo();
  }
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'run.json'], 'only the complete checkpoint, no epoch-001 with a weights.bin alone');
  assert.equal(checkpointEpoch(path.join(runDir, 'epoch-000')), 0);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { checkpoints: string[] }).checkpoints, ['epoch-000']);
});

test('the temporary folders of saves that were cut short are never listed, and go when the folder is taken again; a link of that name and user files stay', async () => {
  const dir = await tinyModel();
  const runDir = path.join(dir, 'run');
  await train(dir, { epochs: 1, outDir: 'run' });
  // what a run killed while saving epoch 2 leaves: a cut weights.bin and the temporary file of its model.json
  const leftover = path.join(runDir, '.epoch-002.tmp-4242');
  fs.mkdirSync(leftover);
  fs.writeFileSync(path.join(leftover, 'weights.bin'), Buffer.alloc(40));
  fs.writeFileSync(path.join(leftover, 'model.json.4242.lq3x9a2b7c.tmp'), '{"format": "layers-mo');
  // one holding a file of the user's, and a link named like one (pointing out of the run folder)
  const withNote = path.join(runDir, '.epoch-003.tmp-4242');
  fs.mkdirSync(withNote);
  fs.writeFileSync(path.join(withNote, 'weights.bin'), Buffer.alloc(8));
  fs.writeFileSync(path.join(withNote, 'notes.txt'), 'mine');
  const elsewhere = path.join(dir, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'model.json'), '{}');
  fs.symlinkSync(elsewhere, path.join(runDir, '.epoch-004.tmp-4242'));

  // without --overwrite the folder is refused for the run in it, the leftovers are not named
  await assert.rejects(train(dir, { epochs: 1, outDir: 'run' }), (ex: unknown) => ex instanceof RunFolderTakenError && ex.message.includes('(epoch-000, epoch-001, run.json)'));
  const done = await train(dir, { epochs: 2, outDir: 'run' }, true);
  assert.deepEqual(done.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001', 'epoch-002']);
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['.epoch-003.tmp-4242', '.epoch-004.tmp-4242', 'epoch-000', 'epoch-001', 'epoch-002', 'run.json']);
  assert.deepEqual(fs.readdirSync(withNote), ['notes.txt'], 'the cut weights.bin went, the note stays');
  assert.ok(fs.lstatSync(path.join(runDir, '.epoch-004.tmp-4242')).isSymbolicLink());
  assert.deepEqual(fs.readdirSync(elsewhere), ['model.json']);
  assert.deepEqual(['epoch-000', 'epoch-001', 'epoch-002'].map((n) => checkpointEpoch(path.join(runDir, n))), [0, 1, 2]);

  // a new run claiming a folder that holds only a leftover removes it too
  const fresh = path.join(dir, 'fresh');
  fs.mkdirSync(path.join(fresh, '.epoch-001.tmp-77'), { recursive: true });
  fs.writeFileSync(path.join(fresh, '.epoch-001.tmp-77', 'weights.bin'), Buffer.alloc(12));
  await train(dir, { epochs: 1, outDir: 'fresh' });
  assert.deepEqual(fs.readdirSync(fresh).sort(), ['epoch-000', 'epoch-001', 'run.json']);
});

test('an epoch folder an overwritten run kept for the user\'s files takes the new checkpoint beside them', async () => {
  const dir = await tinyModel();
  const runDir = path.join(dir, 'run');
  await train(dir, { epochs: 2, outDir: 'run' });
  fs.writeFileSync(path.join(runDir, 'epoch-002', 'notes.txt'), 'about epoch 2');
  const done = await train(dir, { epochs: 2, outDir: 'run', seed: 5 }, true);
  assert.equal(path.basename(done.checkpoints[2]!), 'epoch-002');
  assert.deepEqual(fs.readdirSync(path.join(runDir, 'epoch-002')).sort(), ['model.json', 'notes.txt', 'weights.bin']);
  assert.equal(checkpointEpoch(path.join(runDir, 'epoch-002')), 2);
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'epoch-001', 'epoch-002', 'run.json'], 'no temporary folder left');
  // the TF.js reader opens it, with the weights the run ended with
  const wf = await openLocalPath(path.join(runDir, 'epoch-002', 'model.json'));
  try {
    assert.equal((await readAllValues(wf.tensors[0]!)).length, 6 * 8);
  } finally {
    await wf.close();
  }
});

test('when model.json cannot follow weights.bin into a kept epoch folder, the weights.bin goes too: the folder keeps only the user\'s files, and the next --overwrite takes it', async () => {
  const dir = await tinyModel();
  const runDir = path.join(dir, 'run');
  await train(dir, { epochs: 2, outDir: 'run' });
  fs.writeFileSync(path.join(runDir, 'epoch-002', 'notes.txt'), 'about epoch 2');
  const kept = path.join(runDir, 'epoch-002');
  const undo = failFsCallWhere('rename', (file) => file.includes('.epoch-002.tmp-') && path.basename(file) === 'model.json', 'EACCES');
  try {
    await assert.rejects(train(dir, { epochs: 2, outDir: 'run', seed: 5 }, true), (ex: unknown) => WeightFileError.is(ex) && ex.message.includes(path.join(kept, 'model.json')));
  } finally {
    undo();
  }
  assert.deepEqual(fs.readdirSync(kept), ['notes.txt'], 'no weights.bin without its model.json, no older model.json beside the new weights');
  // nothing refuses the folder now: the next --overwrite run writes the checkpoint beside the notes
  await train(dir, { epochs: 2, outDir: 'run', seed: 6 }, true);
  assert.deepEqual(fs.readdirSync(kept).sort(), ['model.json', 'notes.txt', 'weights.bin']);
  assert.equal(checkpointEpoch(kept), 2);
});

test('a worker stopped while it saves a checkpoint (a Cancel it did not answer in time) leaves no epoch folder that is not whole', { timeout: 120_000 }, async () => {
  // weights of some 9 MB, so that a save takes a while
  const dir = await savedClassifier(tf, tfl, [1500, 1500]);
  const specFile = path.join(dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 32, seed: 3 }, batchSize: 16, epochs: 3, optimizer: 'sgd', outDir: 'run' }));
  const runDir = path.join(dir, 'run');
  const worker = new Worker(path.join(__dirname, '..', 'helpers', 'trainInWorker.js'), { workerData: { specFile } });
  let finished = false;
  worker.on('message', () => {
    finished = true;
  });
  // stop it the moment the save of epoch 1 starts (its folder, or the temporary one, appears)
  let seen = '';
  while (!finished && seen === '') {
    seen = (fs.existsSync(runDir) ? fs.readdirSync(runDir) : []).find((n) => n.includes('epoch-001')) ?? '';
    if (seen === '') {
      await new Promise((r) => setImmediate(r));
    }
  }
  await worker.terminate();
  assert.equal(finished, false, 'the run was stopped before it ended');
  const names = fs.readdirSync(runDir);
  const listed = (JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { checkpoints: string[] }).checkpoints;
  for (const name of names.filter((n) => /^epoch-\d+$/.test(n))) {
    assert.ok(fs.existsSync(path.join(runDir, name, 'model.json')), `${name} has a model.json (stopped as ${seen} appeared; the folder holds ${fs.readdirSync(path.join(runDir, name)).join(', ') || 'nothing'})`);
    assert.equal(checkpointEpoch(path.join(runDir, name)), Number(name.slice(6)));
  }
  assert.ok(listed.every((n) => names.includes(n)), `run.json lists only written checkpoints: ${listed.join(', ')}`);
  assert.ok(names.includes('epoch-000'));
  // what the extension does once the stopped worker is gone: the hidden folder of the cut save goes, the checkpoints stay
  await removeCheckpointLeftovers(runDir);
  assert.deepEqual(fs.readdirSync(runDir).sort(), names.filter((n) => !n.startsWith('.')).sort());
  assert.equal(checkpointEpoch(path.join(runDir, 'epoch-000')), 0);
});

test('a run folder another run gives back (removes) between its creation here and run.json is made again, and the run goes on there', async () => {
  const dir = await tinyModel();
  const runDir = path.join(dir, 'run');
  const api = fs.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = api['writeFile']!;
  let removed = false;
  api['writeFile'] = (...args: unknown[]) => {
    if (!removed && args[0] === path.join(runDir, 'run.json')) {
      removed = true;
      fs.rmSync(runDir, { recursive: true });
      return Promise.reject(errnoError('ENOENT', 'open', args[0]));
    }
    return original(...args);
  };
  try {
    const done = await train(dir, { epochs: 1, outDir: 'run' });
    assert.ok(removed, 'the folder was taken away once');
    assert.deepEqual(done.checkpoints.map((c) => path.relative(dir, c)), [path.join('run', 'epoch-000'), path.join('run', 'epoch-001')]);
  } finally {
    api['writeFile'] = original;
  }
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'epoch-001', 'run.json']);
});
