import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { expandInput } from '../../../src/cli/inputs';
import { runCli } from '../../../src/cli/main';
import { folderEntryName, resolveLocalEntry } from '../../../src/formats/registry';
import { captureIo } from '../helpers/captureIo';
import { fixturesDir, makeTempDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';
import { failFsCall, rootSkip } from '../helpers/fsFailure';
import { buildSafetensors } from '../helpers/safetensors';

/** Datasets of model.weights.h5 as h5py lists them (visititems, Dataset.shape). */
const diabetesDatasets: [string, number[]][] = [
  ['layers/dense/vars/0', [8, 12]], ['layers/dense/vars/1', [12]], ['layers/dense_1/vars/0', [12, 8]], ['layers/dense_1/vars/1', [8]],
  ['layers/dense_2/vars/0', [8, 1]], ['layers/dense_2/vars/1', [1]], ['optimizer/vars/0', []], ['optimizer/vars/1', []],
  ['optimizer/vars/10', [8, 1]], ['optimizer/vars/11', [8, 1]], ['optimizer/vars/12', [1]], ['optimizer/vars/13', [1]],
  ['optimizer/vars/2', [8, 12]], ['optimizer/vars/3', [8, 12]], ['optimizer/vars/4', [12]], ['optimizer/vars/5', [12]],
  ['optimizer/vars/6', [12, 8]], ['optimizer/vars/7', [12, 8]], ['optimizer/vars/8', [8]], ['optimizer/vars/9', [8]],
];

/** Runs the command and returns its exit code and output lines. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const io = captureIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr };
}

test('a folder with a Keras model.json config beside model.weights.h5 opens the weights, not the config as TF.js', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'keras3-weights-h5', 'diabetes-simple-model');
  assert.equal(await resolveLocalEntry(dir), path.join(dir, 'model.weights.h5'));
  const r = await run(['inspect', dir, '--json', '--no-stats']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const report = JSON.parse(r.out);
  assert.deepEqual(
    report.tensors.map((t: { name: string; shape: number[] }) => [t.name, t.shape]).sort(),
    diabetesDatasets.map(([n, s]) => [n, s]).sort(),
  );
  // Scanning a tree lists the weights file and not the config beside it.
  const all = (await expandInput(fixturesDir)).entries;
  assert.ok(all.includes(path.join(dir, 'model.weights.h5')));
  assert.ok(!all.includes(path.join(dir, 'model.json')));
  // Every fixture reads but the legacy V1 checkpoint, which is named with its reason (exit 2).
  for (const cmd of ['inspect', 'fingerprint']) {
    const whole = await run([cmd, fixturesDir, ...(cmd === 'inspect' ? ['--no-stats'] : [])]);
    assert.equal(whole.code, 2, cmd);
    assert.equal(whole.err.length, 1, `${cmd}: ${whole.err.join('\n')}`);
    assert.match(whole.err[0]!, /^error\[unsupportedFormat\]: .*tf1-checkpoint-v1-format.*export-00000-of-00001: this is a legacy V1 checkpoint/, cmd);
  }
});

test('folderEntryName: the file that opens a folder, by name, a Keras config beside one .weights.h5 giving way to it', async () => {
  const keras = JSON.stringify({ class_name: 'Sequential', config: { layers: [] } });
  const tfjs = JSON.stringify({ format: 'layers-model', weightsManifest: [] });
  const texts: Record<string, string> = { 'kcfg.json': keras, 'model.json': keras, 'config.json': keras, 'tfjs.json': tfjs };
  const read: string[] = [];
  const readText = async (name: string): Promise<string> => {
    read.push(name);
    if (name === 'broken.json' || !(name in texts)) {
      throw new Error(`cannot read ${name}`);
    }
    return texts[name]!;
  };
  const cases: [string[], Record<string, string>, string | undefined][] = [
    [['saved_model.pb', 'model.json', 'x.index'], {}, 'saved_model.pb'],
    [['checkpoint', 'model.json'], {}, 'checkpoint'],
    [['model.json', 'weights.bin'], { 'model.json': tfjs }, 'model.json'],
    [['model.json', 'model.weights.h5'], { 'model.json': keras }, 'model.weights.h5'],
    [['config.json', 'metadata.json', 'model.weights.h5'], { 'config.json': keras }, 'model.weights.h5'],
    [['model.json', 'model.weights.h5'], { 'model.json': tfjs }, 'model.json'],
    [['model.json', 'a.weights.h5', 'b.weights.h5'], { 'model.json': keras }, undefined],
    [['model.json', 'model.weights.h5'], { 'model.json': '{not json' }, 'model.json'],
    [['ckpt-1.index', 'ckpt-1.data-00000-of-00001'], {}, 'ckpt-1.index'],
    [['a.index', 'b.index'], {}, undefined],
    [['a.safetensors', 'b.h5'], {}, undefined],
    // A config.json claims its folder only as a TF.js model; others leave the folder to be searched.
    [['config.json', 'group1-shard1of1.bin'], { 'config.json': tfjs }, 'config.json'],
    [['config.json', 'model.safetensors'], { 'config.json': JSON.stringify({ architectures: ['BertModel'], model_type: 'bert' }) }, undefined],
    [['config.json', 'model.h5'], { 'config.json': keras }, undefined],
    [['config.json', 'ckpt-1.index', 'ckpt-1.data-00000-of-00001'], { 'config.json': keras }, 'ckpt-1.index'],
    [['broken.json', 'config.json', 'model.safetensors'], { 'config.json': '{not json' }, undefined],
  ];
  for (const [names, given, expected] of cases) {
    Object.assign(texts, given);
    assert.equal(await folderEntryName(names, readText), expected, names.join(', '));
  }
  texts['config.json'] = keras;
  // Without a .weights.h5 beside it, a config is not read at all.
  read.length = 0;
  assert.equal(await folderEntryName(['model.json', 'weights.bin'], readText), 'model.json');
  assert.deepEqual(read, []);
  // A config that cannot be read is left to be opened (which says what is wrong with it).
  assert.equal(await folderEntryName(['broken.json', 'config.json', 'model.weights.h5'], readText), 'model.weights.h5');
  assert.equal(await folderEntryName(['model.json', 'model.weights.h5'], async () => Promise.reject(new Error('EACCES'))), 'model.json');
});

test('a folder with a Hugging Face config.json beside its safetensors files is searched, not opened as a TF.js model', async () => {
  const dir = makeTempDir('weightscope-hf-folder-');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['TinyModel'], hidden_size: 2, model_type: 'tiny' }));
  const values = new Float32Array([1, -2, 3, 4]);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), buildSafetensors([{ name: 'dense.weight', dtype: 'F32', shape: [2, 2], bytes: new Uint8Array(values.buffer) }]));
  const r = await run(['inspect', dir, '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const reports = JSON.parse(r.out) as { format: string; path: string; tensors: { name: string; stats: { min: number; max: number } }[] }[];
  assert.deepEqual(
    reports.map((rep) => [path.basename(rep.path), rep.format, rep.tensors.map((t) => [t.name, t.stats.min, t.stats.max])]),
    [['model.safetensors', 'safetensors', [['dense.weight', -2, 4]]]],
  );
});

test('a TF.js model.json still claims its folder when a .weights.h5 is beside it', async () => {
  const dir = makeTempDir('weightscope-tfjs-beside-keras-');
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const f of ['model.json', 'weights.bin']) {
    fs.copyFileSync(path.join(example, f), path.join(dir, f));
  }
  fs.writeFileSync(path.join(dir, 'other.weights.h5'), '');
  assert.equal(await resolveLocalEntry(dir), path.join(dir, 'model.json'));
});

test('a folder holding only a legacy V1 checkpoint gives the unsupportedFormat error of its file, in every command', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'tf1-checkpoint-v1-format', 'serving-session-bundle-half-plus-two', '00000123');
  const other = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const argv of [['inspect', dir], ['check', dir], ['probe', dir], ['diff', dir, other], ['diff', other, dir]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.err.length, 1, r.err.join(' | '));
    assert.match(r.err[0]!, new RegExp(`^error\\[unsupportedFormat\\]: ${path.join(dir, 'export-00000-of-00001')}: this is a legacy V1 checkpoint`), argv.join(' '));
  }
});

test('the commands that open one model name the weight files in the sub-folders of a folder that is not one (a TF Serving base folder)', async () => {
  const dir = makeTempDir('weightscope-nested-');
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const version of ['1', '2']) {
    fs.mkdirSync(path.join(dir, version));
    for (const f of ['model.json', 'weights.bin']) {
      fs.copyFileSync(path.join(example, f), path.join(dir, version, f));
    }
  }
  const two = `error[unrecognized]: ${dir}: the folder holds no SavedModel, checkpoint or model.json to open; 2 weight files are below it (${path.join('1', 'model.json')}, ${path.join('2', 'model.json')}), so name one of them.`;
  for (const argv of [['probe', dir], ['diff', dir, path.join(dir, '1')]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.deepEqual(r.err, [two], argv.join(' '));
  }
  // check takes a folder of models: it checks both versions
  const checked = await run(['check', dir, '--json', '--no-precision']);
  assert.equal(checked.code, 0, checked.err.join(' | '));
  assert.deepEqual((JSON.parse(checked.out) as { file: string }[]).map((x) => x.file), ['1', '2'].map((v) => path.join(dir, v, 'model.json')));
  fs.rmSync(path.join(dir, '2'), { recursive: true });
  const r = await run(['probe', dir]);
  assert.deepEqual(r.err, [`error[unrecognized]: ${dir}: the folder holds no SavedModel, checkpoint or model.json to open; the weight file ${path.join('1', 'model.json')} is below it, so name that.`]);
});

test('a legacy V1 checkpoint in a sub-folder gives its unsupportedFormat error for the folder above', skipUnlessFixtures, async () => {
  const dir = path.join(fixturesDir, 'tf1-checkpoint-v1-format', 'serving-session-bundle-half-plus-two');
  const r = await run(['inspect', dir]);
  assert.equal(r.code, 2);
  assert.equal(r.err.length, 1, r.err.join(' | '));
  assert.match(r.err[0]!, new RegExp(`^error\\[unsupportedFormat\\]: ${path.join(dir, '00000123', 'export-00000-of-00001')}: this is a legacy V1 checkpoint`));
});

test('a folder scan lists a legacy V1 checkpoint beside readable models and says why it cannot read it (inspect, fingerprint)', skipUnlessFixtures, async () => {
  const dir = makeTempDir('weightscope-scan-v1-');
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  fs.cpSync(example, path.join(dir, 'good'), { recursive: true });
  fs.cpSync(path.join(fixturesDir, 'tf1-checkpoint-v1-format', 'serving-session-bundle-half-plus-two', '00000123'), path.join(dir, 'v1'), { recursive: true });
  // A V2 checkpoint's MetaGraph (X.meta beside X.index) is not a V1 one.
  fs.writeFileSync(path.join(dir, 'good', 'model.ckpt.meta'), '');
  fs.writeFileSync(path.join(dir, 'good', 'model.ckpt.index'), '');
  for (const argv of [['inspect', dir, '--no-stats'], ['fingerprint', dir]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.ok(r.out.includes(path.join(dir, 'good', 'model.json')), `${argv[0]} lists the readable model`);
    const v1 = r.err.filter((l) => l.startsWith(`error[unsupportedFormat]: ${path.join(dir, 'v1', 'export-00000-of-00001')}: this is a legacy V1 checkpoint`));
    assert.equal(v1.length, 1, `${argv[0]}: ${r.err.join(' | ')}`);
  }
  // A folder named like the MetaGraph's prefix is no V1 checkpoint file.
  const other = makeTempDir('weightscope-scan-meta-dir-');
  fs.cpSync(path.join(dir, 'good'), path.join(other, 'good'), { recursive: true });
  fs.writeFileSync(path.join(other, 'export.meta'), '');
  fs.mkdirSync(path.join(other, 'export'));
  const entries = (await expandInput(other)).entries;
  assert.ok(!entries.includes(path.join(other, 'export')), entries.join(', '));
  assert.deepEqual(entries, [...entries].sort(), 'the entries are sorted');
  // The commands that open one model still give the V1 file's own reason for its folder.
  const one = await run(['check', path.join(dir, 'v1')]);
  assert.equal(one.code, 2);
  assert.match(one.err[0]!, /^error\[unsupportedFormat\]: .*export-00000-of-00001: this is a legacy V1 checkpoint/);
});

test('a folder that is not one model names the weight files it holds for the commands that open one model', async () => {
  const dir = makeTempDir('weightscope-not-one-model-');
  const message = async (): Promise<string[]> => {
    const r = await run(['probe', dir]);
    assert.equal(r.code, 2);
    return r.err;
  };
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a weight file');
  assert.deepEqual(await message(), [`error[unrecognized]: ${dir}: the folder holds no SavedModel, checkpoint or model.json to open.`]);
  fs.writeFileSync(path.join(dir, 'model.h5'), '');
  assert.deepEqual(await message(), [`error[unrecognized]: ${dir}: the folder holds no SavedModel, checkpoint or model.json to open; it holds the weight file model.h5, so name that file.`]);
  for (const name of ['b.tflite', 'a.keras', 'c.safetensors']) {
    fs.writeFileSync(path.join(dir, name), '');
  }
  assert.deepEqual(await message(), [
    `error[unrecognized]: ${dir}: the folder holds no SavedModel, checkpoint or model.json to open; it holds 4 weight files (a.keras, b.tflite, c.safetensors and 1 more), so name one of them.`,
  ]);
  const diff = await run(['diff', dir, path.join(dir, 'a.keras')]);
  assert.equal(diff.code, 2);
  assert.match(diff.err.join('\n'), /it holds 4 weight files \(a\.keras, b\.tflite, c\.safetensors and 1 more\), so name one of them\.$/);
  // check takes the folder: each (empty) file gets its error line
  const check = await run(['check', dir]);
  assert.equal(check.code, 2);
  assert.deepEqual(
    check.err.map((l) => /^error\[\w+\]: (.*?): /.exec(l)?.[1]),
    ['a.keras', 'b.tflite', 'c.safetensors', 'model.h5'].map((f) => path.join(dir, f)),
  );
});

test('an unreadable folder is reported as permissionDenied', async () => {
  const dir = makeTempDir('weightscope-noread-');
  const undo = failFsCall('readdir', dir, 'EACCES');
  try {
    const r = await run(['inspect', dir]);
    assert.equal(r.code, 2);
    assert.deepEqual(r.err, [`error[permissionDenied]: ${dir}: cannot list the folder: permission denied.`]);
  } finally {
    undo();
  }
});

test('a file in a folder that may not be searched is reported as permissionDenied, not as missing', async () => {
  const dir = makeTempDir('weightscope-nosearch-');
  const file = path.join(dir, 'model.tflite');
  const undo = failFsCall('stat', file, 'EACCES');
  try {
    for (const cmd of ['inspect', 'check', 'fingerprint']) {
      const r = await run([cmd, file]);
      assert.equal(r.code, 2, cmd);
      assert.deepEqual(r.err, [`error[permissionDenied]: ${file}: cannot read the file: permission denied.`], cmd);
    }
    const missing = await run(['inspect', path.join(dir, 'absent.tflite')]);
    assert.deepEqual(missing.err, [`error[notFound]: ${path.join(dir, 'absent.tflite')}: the file does not exist or cannot be read.`]);
  } finally {
    undo();
  }
});

test('without read permission: a folder, a weight file and a shard are reported as permissionDenied', rootSkip, async () => {
  const dir = makeTempDir('weightscope-chmod-');
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const f of ['model.json', 'weights.bin']) {
    fs.copyFileSync(path.join(example, f), path.join(dir, f));
  }
  const entry = path.join(dir, 'model.json');
  const shard = path.join(dir, 'weights.bin');
  fs.chmodSync(shard, 0);
  const tensors = await run(['inspect', entry, '--json', '--workers', '1']);
  const report = JSON.parse(tensors.out);
  assert.ok(report.tensors.length > 0);
  for (const t of report.tensors) {
    assert.deepEqual(t.error, { reason: 'permissionDenied', message: `${shard}: cannot read the file: permission denied.` });
  }
  fs.chmodSync(entry, 0);
  assert.deepEqual((await run(['inspect', entry])).err, [`error[permissionDenied]: ${entry}: cannot read the file: permission denied.`]);
  fs.chmodSync(dir, 0);
  try {
    assert.deepEqual((await run(['inspect', dir])).err, [`error[permissionDenied]: ${dir}: cannot list the folder: permission denied.`]);
  } finally {
    fs.chmodSync(dir, 0o755);
  }
});

test('the bundled command refuses a FIFO (weights alone or in a folder, probe data, a run spec, a diff mapping) and passes over a FIFO checkpoint state file, without waiting for a writer', { skip: spawnSync('mkfifo', ['--version']).status === 0 ? false : 'no mkfifo' }, () => {
  const dir = makeTempDir('weightscope-cli-fifo-');
  const fifo = path.join(dir, 'fifo.h5');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  const [dataFifo, specFifo] = [path.join(dir, 'data.csv'), path.join(dir, 'spec.json')];
  assert.equal(spawnSync('mkfifo', [dataFifo, specFifo]).status, 0);
  for (const [argv, lastLine] of [
    [['inspect', fifo], `error[notRegularFile]: ${fifo}: is not a regular file (a FIFO).`],
    [['probe', model, '--data', dataFifo, '--backend', 'cpu'], `error[notRegularFile]: ${dataFifo}: is not a regular file (a FIFO).`],
    [['train', specFifo, '--backend', 'cpu'], `error[notRegularFile]: ${specFifo}: is not a regular file (a FIFO).`],
    [['diff', model, model, '--map-file', specFifo], `error[notRegularFile]: ${specFifo}: is not a regular file (a FIFO).`],
    [['inspect', dir], `error[notRegularFile]: ${fifo}: is not a regular file (a FIFO).`],
    [['check', fifo], `error[notRegularFile]: ${fifo}: is not a regular file (a FIFO).`],
  ] as const) {
    const r = spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `${argv.join(' ')} did not hang`);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').at(-1), lastLine);
  }
  // a FIFO named like TF's checkpoint state file is passed over; the checkpoints are still ordered
  const runs = path.join(dir, 'runs');
  for (const e of ['epoch-001', 'epoch-002']) {
    fs.cpSync(model, path.join(runs, e), { recursive: true });
  }
  assert.equal(spawnSync('mkfifo', [path.join(runs, 'checkpoint')]).status, 0);
  const r = spawnSync(process.execPath, [cli, 'history', runs, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'history did not hang');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { checkpoints: { epoch: number }[] }).checkpoints.map((c) => c.epoch), [1, 2]);
});
