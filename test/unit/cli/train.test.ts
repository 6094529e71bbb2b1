import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { trainUsage } from '../../../src/cli/commands/train';
import { numberRange, readRunSpec, RunFolderTakenError, runSpecFields, trainFromSpec, validateRunSpec } from '../../../src/runtime/runSpec';
import { runDefaults } from '../../../src/runtime/training';
import { captureIo } from '../helpers/captureIo';
import { failFsCall, failFsCallWhere } from '../helpers/fsFailure';
import { fixtureOrSkip, folderSnapshot as snapshot, makeTempDir, repoRoot } from '../helpers/fixtures';
import { skipWithTfjsNode, writeNpy } from '../helpers/runtimeData';

/** The 784-128-128-10 example classifier (examples/initialization). */
const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform', 'model.json');

/** A run spec in a fresh folder: one short epoch on 32 synthetic samples. */
function writeSpec(spec: Record<string, unknown>): { dir: string; file: string } {
  const dir = makeTempDir();
  const file = path.join(dir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model, synthetic: { samples: 32, seed: 3 }, batchSize: 16, epochs: 1, ...spec }));
  return { dir, file };
}

test('train on data without targets exits 2 with one sentence naming the data file, and creates no run folder', async () => {
  const { dir, file } = writeSpec({ data: 'x.npy', outDir: 'run' });
  const data = writeNpy(path.join(dir, 'x.npy'), [8, 784]);
  const io = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], io), 2);
  assert.deepEqual(io.stderr, [`error[empty]: ${data} holds inputs but no targets, which training needs (arrays 'x' and 'y' in an .npz, a label column in a CSV, or 'y' in JSON).`]);
  assert.equal(fs.existsSync(path.join(dir, 'run')), false);
});

test('train refuses an outDir that already holds a run, leaving every file as it was, until --overwrite', async () => {
  const { dir, file } = writeSpec({ outDir: 'run' });
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'notes.txt'), 'mine');
  const first = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], first), 0, first.stderr.join('\n')); // a folder without a run is fine
  const before = snapshot(runDir);
  assert.deepEqual([...before.keys()].filter((f) => !f.includes(path.sep)).sort(), ['notes.txt', 'run.json']);
  const again = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], again), 2);
  assert.equal(again.stderr[0], `error[usage]: ${runDir} already holds a training run (epoch-000, epoch-001, run.json); give the run spec another outDir, or allow overwriting it (train --overwrite).`);
  assert.deepEqual(snapshot(runDir), before);
  const time = () => JSON.parse(fs.readFileSync(path.join(runDir, 'epoch-001', 'model.json'), 'utf8')).userDefinedMetadata.weightscope.time as string;
  const firstTime = time();
  const overwrite = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--overwrite'], overwrite), 0, overwrite.stderr.join('\n'));
  assert.notEqual(time(), firstTime, 'the checkpoint was written again');
  assert.equal(fs.readFileSync(path.join(runDir, 'notes.txt'), 'utf8'), 'mine');
});

test('of two runs started together on one outDir only one trains; two on the default folder get one folder each', async () => {
  const { dir, file } = writeSpec({ outDir: 'run' });
  const spec = await readRunSpec(file);
  const both = await Promise.allSettled([trainFromSpec(spec, dir, { backend: 'cpu' }), trainFromSpec(spec, dir, { backend: 'cpu' })]);
  assert.equal(both.filter((r) => r.status === 'fulfilled').length, 1);
  const refused = both.find((r) => r.status === 'rejected');
  assert.ok(refused && refused.reason instanceof RunFolderTakenError, String(refused && refused.reason));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'run', 'run.json'), 'utf8')).checkpoints, ['epoch-000', 'epoch-001']);

  const fresh = writeSpec({});
  const freshSpec = await readRunSpec(fresh.file);
  const now = new Date('2026-01-02T03:04:05Z');
  const runs = await Promise.all([trainFromSpec(freshSpec, fresh.dir, { backend: 'cpu', now }), trainFromSpec(freshSpec, fresh.dir, { backend: 'cpu', now })]);
  const folders = runs.map((r) => path.relative(fresh.dir, path.dirname(r.checkpoints[0]!))).sort();
  assert.deepEqual(folders, [path.join('runs', 'good-init-glorot-uniform-2026-01-02T03-04-05'), path.join('runs', 'good-init-glorot-uniform-2026-01-02T03-04-05-2')]);
});

test('train --backend tensorflow without tfjs-node warns once on stderr naming the backend in use', skipWithTfjsNode, async () => {
  const { file } = writeSpec({});
  const io = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'tensorflow', '--json'], io), 0, io.stderr.join('\n'));
  const start = JSON.parse(io.stdout[0]!);
  assert.equal(start.type, 'start');
  assert.equal(start.backend.requested, 'tensorflow');
  assert.notEqual(start.backend.name, 'tensorflow');
  assert.deepEqual(io.stderr, [`warning[backend]: The tensorflow backend was asked for but ${start.backend.label} is used: ${start.backend.fallbacks.join(' ')}`]);
});

// mkdir -p in Node.js retries a folder under /proc forever at full CPU: run in a child that is killed when it hangs.
test('train into an outDir whose parent takes no new folders exits 2 with one line, at once, with or without --overwrite', { skip: fs.existsSync('/proc/self') ? false : 'no /proc' }, () => {
  for (const extra of [[], ['--overwrite']]) {
    const { file } = writeSpec({ outDir: '/proc/weightscope-nope/run' });
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'train', file, '--backend', 'cpu', ...extra], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `did not hang (${extra.join(' ')})`);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'error[permissionDenied]: /proc/weightscope-nope: cannot create the folder: its parent takes no new folders.\n');
  }
});

test('train into an outDir that refuses new files exits 2 with one line naming the run file, not an internal error', async () => {
  const { dir, file } = writeSpec({ outDir: 'run' });
  const runJson = path.join(dir, 'run', 'run.json');
  const undo = failFsCall('writeFile', runJson, 'EACCES');
  try {
    const io = captureIo();
    assert.equal(await runCli(['train', file, '--backend', 'cpu'], io), 2);
    assert.deepEqual(io.stderr, [`error[permissionDenied]: ${runJson}: cannot write the file: permission denied.`]);
  } finally {
    undo();
  }
});

test('a run that stops itself mid-epoch exits 4 and prints the epoch as partial and not saved, without a checkpoint', async () => {
  // SGD at lr 1e5 on the example classifier: the first update moves a layer by far more than its norm
  const { dir, file } = writeSpec({ outDir: 'run', optimizer: 'sgd', learningRate: 1e5, epochs: 2, batchSize: 8 });
  const io = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu'], io), 4, io.stderr.join('\n'));
  assert.match(io.stderr.join('\n'), /warning\[gradient-exploding\] \S+: At epoch 1, step 1, one update changed layer/);
  // 32 samples, 6 held out for validation: 26 training samples in 4 steps of 8
  assert.deepEqual(io.stdout.filter((l) => l.startsWith('epoch ')).map((l) => l.replace(/: loss .*/, '')), ['epoch 1 (partial, 1 of 4 steps, not saved)']);
  assert.equal(io.stdout.at(-1), 'stopped (exploding); 1 checkpoints kept');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'run')).sort(), ['epoch-000', 'run.json']);
});

test('train --overwrite removes the earlier run (its run.json and listed checkpoints) and nothing the user put there', async () => {
  const { dir, file } = writeSpec({ outDir: 'run' });
  const runDir = path.join(dir, 'run');
  const first = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '2'], first), 0, first.stderr.join('\n'));
  // the user's own files: next to the run and inside a checkpoint folder
  fs.writeFileSync(path.join(runDir, 'notes.txt'), 'mine');
  fs.writeFileSync(path.join(runDir, 'epoch-002', 'notes.txt'), 'about epoch 2');
  const again = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '1', '--overwrite'], again), 0, again.stderr.join('\n'));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).checkpoints, ['epoch-000', 'epoch-001']);
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'epoch-001', 'epoch-002', 'notes.txt', 'run.json']);
  assert.deepEqual(fs.readdirSync(path.join(runDir, 'epoch-002')), ['notes.txt'], 'the old checkpoint is gone, the note stays');
  assert.equal(fs.readFileSync(path.join(runDir, 'epoch-002', 'notes.txt'), 'utf8'), 'about epoch 2');
  assert.equal(fs.readFileSync(path.join(runDir, 'notes.txt'), 'utf8'), 'mine');
  // with nothing of the user's left in it, an old checkpoint folder goes entirely
  fs.rmSync(path.join(runDir, 'epoch-002', 'notes.txt'));
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '2', '--overwrite'], captureIo()), 0);
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '1', '--overwrite'], captureIo()), 0);
  assert.equal(fs.existsSync(path.join(runDir, 'epoch-002')), false);
});

test('train --overwrite refuses, touching nothing, a folder whose epoch-NNN entries the earlier run did not write, a link named like a checkpoint, or a run.json that is not a run\'s', async () => {
  const { dir, file } = writeSpec({ outDir: 'run' });
  const runDir = path.join(dir, 'run');
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '1'], captureIo()), 0);
  const runJson = fs.readFileSync(path.join(runDir, 'run.json'), 'utf8');
  const refused = async (why: string): Promise<void> => {
    const before = snapshot(dir);
    const io = captureIo();
    assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '3', '--overwrite'], io), 2, io.stderr.join('\n'));
    assert.equal(io.stderr[0], `error[usage]: ${runDir} cannot be overwritten: ${why}; move it out of the folder, or give the run spec another outDir.`);
    assert.deepEqual(snapshot(dir), before, why);
  };
  // an epoch-NNN folder the run file does not list, holding a model.json the new run's epoch 2 would write over
  fs.mkdirSync(path.join(runDir, 'epoch-002'));
  fs.writeFileSync(path.join(runDir, 'epoch-002', 'model.json'), '{}');
  await refused('epoch-002 holds a model.json but is not one of the checkpoints its run.json lists');
  fs.rmSync(path.join(runDir, 'epoch-002'), { recursive: true });
  // a link named like a checkpoint, even one the run file lists: the new checkpoint would land outside the run folder
  const elsewhere = path.join(dir, 'kept');
  fs.cpSync(path.join(runDir, 'epoch-001'), elsewhere, { recursive: true });
  fs.symlinkSync(elsewhere, path.join(runDir, 'epoch-003'));
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ ...JSON.parse(runJson), checkpoints: ['epoch-000', 'epoch-001', 'epoch-003'] }));
  await refused('epoch-003 is a link, and a new checkpoint would be written wherever it points');
  fs.rmSync(path.join(runDir, 'epoch-003'));
  // a run.json that is not a training run's
  fs.writeFileSync(path.join(runDir, 'run.json'), '{"name": "my notes"}');
  await refused('its run.json is not the record of a training run');
  // with the run's own files only, --overwrite goes ahead
  fs.writeFileSync(path.join(runDir, 'run.json'), runJson);
  const ok = captureIo();
  assert.equal(await runCli(['train', file, '--backend', 'cpu', '--epochs', '3', '--overwrite'], ok), 0, ok.stderr.join('\n'));
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003', 'run.json']);
  assert.ok(fs.existsSync(path.join(elsewhere, 'model.json')));
});

test('train on the WebAssembly backend with a batch that overruns its 4 GiB: one error[tooLarge] line naming the model and the batch, exit 2', (t) => {
  const model = fixtureOrSkip(t, 'keras-h5/teachable-machine-nested-keras2.4/keras_model.h5');
  if (!model) {
    return;
  }
  const dir = makeTempDir('weightscope-train-wasm-oom-');
  const spec = path.join(dir, 'spec.json');
  // A MobileNet at 224x224 holds about 140 MB per sample during a step: 32 samples do not fit.
  fs.writeFileSync(spec, JSON.stringify({ model, synthetic: { samples: 64, seed: 1 }, epochs: 1, batchSize: 32, outDir: 'out' }));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'train', spec, '--backend', 'wasm'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(
    r.stderr,
    `error[tooLarge]: ${model}: the WebAssembly backend ran out of memory (it has 4 GiB at most) training on batches of 32 samples; give the run spec a smaller batchSize, or train on the cpu backend.\n`,
  );
});

/** Emits SIGINT once train has put up its handler, or when `when` says so (the handler's listener is then in place). */
function sigintWhen(when: () => boolean): void {
  const baseline = process.listenerCount('SIGINT');
  const poll = (): void => {
    if (process.listenerCount('SIGINT') > baseline && when()) {
      process.emit('SIGINT');
    } else {
      setImmediate(poll);
    }
  };
  setImmediate(poll);
}

test('train exits 130 on Ctrl-C before the training loop starts and during the last epoch\'s save', async () => {
  const early = writeSpec({ outDir: 'early' });
  const io = captureIo();
  sigintWhen(() => true); // while the model is loaded and rebuilt
  assert.equal(await runCli(['train', early.file, '--backend', 'cpu'], io), 130, io.stderr.join('\n'));
  assert.deepEqual(io.stderr, ['interrupted before training started; no checkpoint was written']);
  // after the last step: the final epoch's validation and save go on, and the exit says it was interrupted
  const late = writeSpec({ outDir: 'late', validationSplit: 0.25 });
  const io2 = captureIo();
  let sent = false;
  const io3 = { ...io2, progress: () => (done: number, total: number) => {
    if (!sent && total > 0 && done >= total) {
      sent = true;
      process.emit('SIGINT');
    }
  } };
  assert.equal(await runCli(['train', late.file, '--backend', 'cpu'], io3), 130, io2.stderr.join('\n'));
});

test('a failure after Ctrl-C (run.json cannot be written: the disk is full) is reported as that failure, exit 2, not as an interruption', async () => {
  const { dir, file } = writeSpec({ outDir: 'run', epochs: 3 });
  const io = captureIo();
  let undo: (() => void) | undefined;
  const io2 = { ...io, progress: () => (done: number) => {
    if (!undo && done >= 1) {
      // from the first step on, run.json cannot be written; then Ctrl-C
      undo = failFsCallWhere('writeFile', (f) => path.basename(f).startsWith('run.json'), 'ENOSPC');
      process.emit('SIGINT');
    }
  } };
  try {
    assert.equal(await runCli(['train', file, '--backend', 'cpu'], io2), 2, io.stderr.join('\n'));
  } finally {
    undo?.();
  }
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.match(io.stderr[0]!, new RegExp(`^error\\[\\w+\\]: .*${path.join(dir, 'run', 'run.json').replace(/[.\\/]/g, '\\$&')}`));
});

test('train whose output is closed early (| head) stops as Ctrl-C does: exit 141, run.json records the stop, no file left half written', async () => {
  const { dir, file } = writeSpec({ outDir: 'run', epochs: 1000 });
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'train', file, '--backend', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill(), 120_000);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // The reader goes away once the first checkpoint is reported, as `| head -4` does.
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (/^epoch 1: /m.test(stdout)) {
      child.stdout.destroy();
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, `it ended by itself; stdout: ${stdout}`);
  assert.equal(code, 141, stderr);
  assert.equal(stderr, '');
  const runDir = path.join(dir, 'run');
  const run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { stopped?: string; checkpoints: string[]; history: unknown[] };
  assert.equal(run.stopped, 'cancelled');
  assert.ok(run.checkpoints.length >= 1 && run.checkpoints.length < 1000, String(run.checkpoints.length));
  for (const c of run.checkpoints) {
    const weights = JSON.parse(fs.readFileSync(path.join(runDir, c, 'model.json'), 'utf8')) as { weightsManifest: { weights: { shape: number[] }[] }[] };
    const floats = weights.weightsManifest.flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(fs.statSync(path.join(runDir, c, 'weights.bin')).size, 4 * floats, `${c}/weights.bin holds every weight`);
  }
  const entries = fs.readdirSync(runDir);
  assert.deepEqual(entries.filter((e) => !/^(run\.json|epoch-\d{3})$/.test(e)), [], 'no temporary file left');
  assert.deepEqual(entries.filter((e) => e.startsWith('epoch-')).sort(), [...run.checkpoints].sort());
});

test('train --help lists every run spec field, with the range the spec check enforces and the default the run uses', () => {
  const help = trainUsage;
  const listed = [...help.matchAll(/^ {2}(\w+(?:, \w+)?) {2,}/gm)].flatMap((m) => m[1]!.split(', '));
  assert.deepEqual(listed.filter((f) => !f.startsWith('-')), [...runSpecFields]);
  const lineOf = (field: string): string => help.split('\n').find((l) => new RegExp(`^ {2}(\\w+, )?${field}\\b`).test(l))!;
  for (const field of ['learningRate', 'epochs', 'batchSize', 'validationSplit', 'l1', 'l2', 'dropout', 'seed'] as const) {
    assert.ok(lineOf(field).includes(numberRange(field)), `${field}: ${numberRange(field)}`);
    // A value at the edge of the range the help gives passes the spec check; one beyond it does not.
    const max = Number(/, ([\d.e+]+)\]/.exec(numberRange(field))![1]);
    assert.doesNotThrow(() => validateRunSpec({ model: 'm.json', [field]: max }, 'spec.json'), field);
    assert.throws(() => validateRunSpec({ model: 'm.json', [field]: max * 2 }, 'spec.json'), new RegExp(`"${field}"`));
  }
  for (const field of ['optimizer', 'learningRate', 'epochs', 'batchSize', 'validationSplit', 'seed'] as const) {
    assert.ok(lineOf(field).includes(`(default ${runDefaults[field]})`), `${field} default ${runDefaults[field]}: ${lineOf(field)}`);
  }
});
