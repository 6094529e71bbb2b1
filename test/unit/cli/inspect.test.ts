import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { fixturesDir, makeTempDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';

/** NumPy statistics of the fixtures (scripts/make-reference.py). */
const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'corpus.reference.json'), 'utf8'));

test('inspect --json: the documented schema, with statistics equal to NumPy', skipUnlessFixtures, async () => {
  const rel = 'tfjs-layers/tfjs-e2e-layers-model/model.json';
  // --workers 0: no worker threads, the main thread computes every tensor.
  for (const workers of ['2', '0']) {
    const io = captureIo();
    assert.equal(await runCli(['inspect', path.join(fixturesDir, rel), '--json', '--workers', workers], io), 0, io.stderr.join('\n'));
    const r = JSON.parse(io.stdout.join('\n'));
    assert.equal(r.schemaVersion, 1);
    assert.equal(r.format, 'tfjs-layers');
    assert.equal(r.params, 100 * 20 + 20 * 12 + 4 * 12 + 12);
    assert.deepEqual(
      r.layers.map((l: { name: string; className: string }) => [l.name, l.className]),
      [['embedding_Embedding2', 'Embedding'], ['gru_GRU1', 'GRU']],
    );
    for (const t of r.tensors) {
      for (const key of ['name', 'layer', 'role', 'group', 'dtype', 'shape', 'byteLength', 'stats']) {
        assert.ok(key in t, `tensor field ${key}`);
      }
      const ref = reference[rel][t.name].stats;
      assert.equal(t.stats.count, ref.count);
      assert.equal(t.stats.min, ref.min);
      assert.equal(t.stats.max, ref.max);
      assert.ok(Math.abs(t.stats.std - ref.std) <= 1e-9 * Math.max(ref.std, 1e-30) + 1e-15, `${t.name} std`);
      assert.deepEqual(t.stats.histogram.counts, ref.histogram.counts);
      assert.equal(t.stats.histogram.edges.length, 65);
      assert.deepEqual(Object.keys(t.stats.percentiles), ['p0.1', 'p1', 'p5', 'p25', 'p50', 'p75', 'p95', 'p99', 'p99.9']);
    }
    assert.ok(!io.stdout.join('\n').includes('NaN'), 'no NaN in the JSON');
  }
});

test('inspect table: a tensor under its layer heading drops the layer name, one without a heading keeps its full name (Keras 3 optimizer slots)', skipUnlessFixtures, async () => {
  const file = path.join(fixturesDir, 'keras3-weights-h5/diabetes-simple-model/model.weights.h5');
  const io = captureIo();
  assert.equal(await runCli(['inspect', file, '--no-stats'], io), 0, io.stderr.join('\n'));
  const names = io.stdout
    .join('\n')
    .split('\n')
    .map((l) => /^(\s*)(\S+)\s+\[/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}${m[2]}`);
  assert.ok(names.includes('  layers/dense/vars/0'), names.join(', '));
  // The Adam slots and the step counter have no layer heading above them.
  const slots = names.filter((n) => !n.startsWith(' '));
  assert.equal(slots.length, 14, slots.join(', '));
  assert.ok(slots.every((n) => /^optimizer\/vars\/\d+$/.test(n)), slots.join(', '));
});

test('inspect table: TFLite fused constant names are shortened to their first and last names, with a note; --json and --tensor keep them whole', skipUnlessFixtures, async () => {
  const file = path.join(fixturesDir, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite');
  const io = captureIo();
  assert.equal(await runCli(['inspect', file, '--no-stats'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^ {2}model\/activation\/Relu;…;model\/conv2d\/Conv2D +\[16\] /m);
  assert.ok(text.includes('(names longer than 64 characters are shortened in the middle (…); --json gives them whole)'));
  assert.ok(text.split('\n').every((l) => l.length <= 140), 'no row is wider than 140 characters');
  const full = 'model/activation/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd/ReadVariableOp/resource;model/conv2d/BiasAdd;model/conv2d_2/Conv2D;model/conv2d/Conv2D';
  const one = captureIo();
  assert.equal(await runCli(['inspect', file, '--no-stats', '--json', '--tensor', full], one), 0, one.stderr.join('\n'));
  assert.deepEqual(JSON.parse(one.stdout.join('\n')).tensors.map((t: { name: string }) => t.name), [full]);
});

test('inspect prints a per-layer table, filters by group and by tensor', skipUnlessFixtures, async () => {
  const file = path.join(fixturesDir, 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5');
  const io = captureIo();
  assert.equal(await runCli(['inspect', file], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /dense_1 \(Dense, relu\)/);
  assert.match(text, /\[43,80\]/);
  const opt = captureIo();
  assert.equal(await runCli(['inspect', file, '--json', '--group', 'optimizer', '--no-stats'], opt), 0);
  const r = JSON.parse(opt.stdout.join('\n'));
  assert.ok(r.tensors.length > 0 && r.tensors.every((t: { group: string; stats: unknown }) => t.group === 'optimizer' && t.stats === null));
  const one = captureIo();
  assert.equal(await runCli(['inspect', file, '--json', '--tensor', 'dense_2/dense_2/kernel:0'], one), 0);
  assert.deepEqual(JSON.parse(one.stdout.join('\n')).tensors.map((t: { name: string }) => t.name), ['dense_2/dense_2/kernel:0']);
});

test('inspect --tensor: an exact name, else every name containing it; no match is error[notFound] naming the file', async () => {
  const entry = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform', 'model.json');
  const names = JSON.parse(fs.readFileSync(entry, 'utf8')).weightsManifest.flatMap((g: { weights: { name: string }[] }) => g.weights.map((w) => w.name));
  const listed = async (tensor: string): Promise<string[]> => {
    const io = captureIo();
    assert.equal(await runCli(['inspect', entry, '--json', '--no-stats', '--tensor', tensor], io), 0, io.stderr.join('\n'));
    return JSON.parse(io.stdout.join('\n')).tensors.map((t: { name: string }) => t.name);
  };
  assert.deepEqual(await listed('hidden1/kernel'), ['hidden1/kernel']);
  assert.deepEqual(await listed('kernel'), names.filter((n: string) => n.includes('kernel')));
  for (const argv of [['--tensor', 'nomatch'], ['--tensor', 'Kernel'], ['--tensor', 'nomatch', '--json']]) {
    const io = captureIo();
    assert.equal(await runCli(['inspect', entry, ...argv], io), 2, argv.join(' '));
    assert.deepEqual(io.stdout, []);
    assert.deepEqual(io.stderr, [`error[notFound]: No tensor of ${entry} matches '${argv[1]}'.`]);
  }
});

test('inspect --tensor on a folder lists the files holding a match and leaves the others out; none anywhere is one error naming the folder', async () => {
  const dir = path.join(repoRoot, 'examples');
  const manifests = (sub: string): string[] =>
    fs.readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? manifests(path.join(sub, e.name)) : e.name === 'model.json' ? [path.join(dir, sub, e.name)] : []));
  const holding = manifests('')
    .filter((f) => JSON.parse(fs.readFileSync(f, 'utf8')).weightsManifest.some((g: { weights: { name: string }[] }) => g.weights.some((w) => w.name === 'hidden1/kernel')))
    .sort();
  assert.ok(holding.length > 0 && holding.length < manifests('').length, 'some example files hold the tensor, some do not');
  const io = captureIo();
  assert.equal(await runCli(['inspect', dir, '--json', '--no-stats', '--tensor', 'hidden1/kernel'], io), 0, io.stderr.join('\n'));
  assert.deepEqual(io.stderr, []);
  const reports = JSON.parse(io.stdout.join('\n')) as { path: string; tensors: { name: string }[] }[];
  assert.deepEqual(reports.map((r) => path.resolve(r.path)).sort(), holding);
  assert.ok(reports.every((r) => r.tensors.length === 1 && r.tensors[0]!.name === 'hidden1/kernel'));
  const none = captureIo();
  assert.equal(await runCli(['inspect', dir, '--no-stats', '--tensor', 'nomatch'], none), 2);
  assert.deepEqual(none.stdout, []);
  assert.deepEqual(none.stderr, [`error[notFound]: No tensor of ${dir} matches 'nomatch'.`]);
});

test('inspect on a folder of checkpoints reports every weight file in it', async () => {
  const io = captureIo();
  assert.equal(await runCli(['inspect', path.join(repoRoot, 'examples', 'training-run'), '--json', '--no-stats'], io), 0, io.stderr.join('\n'));
  const reports = JSON.parse(io.stdout.join('\n'));
  assert.ok(Array.isArray(reports));
  assert.deepEqual(
    reports.map((r: { path: string }) => path.basename(path.dirname(r.path))),
    ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003', 'epoch-004', 'epoch-005'],
  );
});

test('inspect --json of a folder writes each report as its statistics come: the same text through out and outBytes, canonical JSON, errors on stderr', async () => {
  const dir = makeTempDir();
  const run = path.join(repoRoot, 'examples', 'training-run');
  for (const epoch of ['epoch-000', 'epoch-003']) {
    fs.cpSync(path.join(run, epoch), path.join(dir, epoch), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, 'empty.h5'), '');
  const asText = captureIo();
  assert.equal(await runCli(['inspect', dir, '--json'], asText), 2, 'one file of three is unreadable');
  const chunks: Buffer[] = [];
  const asBytes = { ...captureIo(), outBytes: (b: Uint8Array) => chunks.push(Buffer.from(b)) };
  assert.equal(await runCli(['inspect', dir, '--json'], asBytes), 2);
  assert.deepEqual(asBytes.stdout, [], 'JSON goes through outBytes when there is one');
  const text = Buffer.concat(chunks).toString('utf8');
  assert.equal(text, asText.stdout.map((l) => `${l}\n`).join(''));
  const reports = JSON.parse(text) as { path: string; tensors: { name: string; stats: unknown }[] }[];
  assert.equal(text, `${JSON.stringify(reports, null, 2)}\n`, 'indented as JSON.stringify(value, null, 2)');
  assert.deepEqual(asText.stderr, asBytes.stderr);
  assert.equal(asText.stderr.length, 1);
  assert.match(asText.stderr[0]!, /^error\[empty\]: .*empty\.h5/);
  assert.equal(reports.length, 2);
  for (const r of reports) {
    // Each report of the folder is the report of its file alone.
    const alone = captureIo();
    assert.equal(await runCli(['inspect', r.path, '--json'], alone), 0);
    assert.deepEqual(r, JSON.parse(alone.stdout.join('\n')));
    assert.ok(r.tensors.length > 0 && r.tensors.every((t) => t.stats !== null), r.path);
  }
});

test('unreadable inputs exit 2 with error[<reason>] and one sentence naming the file', async () => {
  const dir = makeTempDir();
  fs.writeFileSync(path.join(dir, 'empty.h5'), '');
  fs.writeFileSync(path.join(dir, 'lfs.h5'), 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 123456\n');
  fs.writeFileSync(path.join(dir, 'page.tflite'), '<!DOCTYPE html><html><body>404</body></html>');
  const cases: [string, string][] = [
    ['empty.h5', 'empty'],
    ['lfs.h5', 'gitLfsPointer'],
    ['page.tflite', 'unrecognized'],
    ['missing.keras', 'notFound'],
  ];
  for (const [name, reason] of cases) {
    const io = captureIo();
    assert.equal(await runCli(['inspect', path.join(dir, name)], io), 2, name);
    assert.equal(io.stderr.length, 1, `${name}: one line (${io.stderr.join(' | ')})`);
    assert.match(io.stderr[0]!, new RegExp(`^error\\[${reason}\\]: .*${name.replace('.', '\\.')}.*\\.$`));
  }
});

test('a file of no known format is described by its first bytes: an excerpt when they are text, else in hex', async () => {
  const dir = makeTempDir();
  const text = path.join(dir, 'notes.h5');
  fs.writeFileSync(text, 'These are\n\n  my training notes, not weights.\n');
  const binary = path.join(dir, 'blob.h5');
  fs.writeFileSync(binary, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  for (const [file, why] of [
    [text, "it is text starting 'These are my training no...'"],
    [binary, 'starts with bytes 00 01 02 03 04 05 06 07'],
  ] as const) {
    const io = captureIo();
    assert.equal(await runCli(['inspect', file], io), 2);
    assert.deepEqual(io.stderr, [`error[unrecognized]: ${file}: not a weight file Weightscope can read (${why}).`]);
  }
});

test('invalid usage exits 2 with an error[usage] line and a pointer to the help', async () => {
  for (const argv of [['inspect'], ['inspect', 'a', '--bogus'], ['inspect', 'a', '--group', 'weights'], ['nosuchcommand']]) {
    const io = captureIo();
    assert.equal(await runCli(argv, io), 2, argv.join(' '));
    assert.match(io.stderr[0]!, /^error\[usage\]/);
    assert.equal(io.stderr.length, 2, io.stderr.join('\n'));
    assert.match(io.stderr[1]!, /^Run 'weightscope (inspect )?--help' for /);
  }
  const help = captureIo();
  assert.equal(await runCli(['--help'], help), 0);
  for (const c of ['inspect', 'check', 'diff', 'history', 'fingerprint']) {
    assert.match(help.stdout.join('\n'), new RegExp(`\\n  ${c} `), `help lists ${c}`);
  }
});

test('the table header says when --tensor shows part of the file, whose params and size it gives', async () => {
  const dir = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  const weights = (JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { shape: number[] }[] }[] }).weightsManifest.flatMap((g) => g.weights);
  const params = weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0).toLocaleString('en-US');
  const size = `${(fs.statSync(path.join(dir, 'weights.bin')).size / 1024).toFixed(1)} KiB`;
  const header = async (...extra: string[]): Promise<string> => {
    const io = captureIo();
    assert.equal(await runCli(['inspect', dir, '--no-stats', ...extra], io), 0, io.stderr.join('\n'));
    return io.stdout.join('\n').split('\n')[1]!;
  };
  assert.equal(await header(), `  format: TensorFlow.js layers model  model: Sequential  tensors: ${weights.length}  params: ${params}  size: ${size}`);
  assert.equal(await header('--tensor', 'hidden1/kernel'), `  format: TensorFlow.js layers model  model: Sequential  tensors: 1 of ${weights.length}  file params: ${params}  file size: ${size}`);
});

test("inspect --json writes each layer's fields in the order the README documents", async () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const documented = /^ {2}"layers": \[\{ (.*) \}\]$/m.exec(readme)?.[1]?.match(/"(\w+)":/g)?.map((k) => k.slice(1, -2));
  assert.deepEqual(documented, ['name', 'className', 'activation', 'params', 'bytes', 'trainable', 'tensors']);
  const io = captureIo();
  const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform', 'model.json');
  assert.equal(await runCli(['inspect', model, '--json', '--no-stats'], io), 0, io.stderr.join('\n'));
  const layers = (JSON.parse(io.stdout.join('\n')) as { layers: object[] }).layers;
  assert.ok(layers.length > 0);
  for (const l of layers) {
    const keys = Object.keys(l);
    assert.deepEqual(keys, documented.filter((k) => keys.includes(k)), JSON.stringify(l));
    assert.ok(['name', 'className', 'activation', 'params', 'bytes', 'tensors'].every((k) => keys.includes(k)), 'a TF.js layers model names class and activation');
  }
});

test('inspect --cache DIR that cannot be a folder exits 2 naming it, also with --no-stats (nothing to cache)', async () => {
  const dir = makeTempDir('weightscope-inspect-badcache-');
  const aFile = path.join(dir, 'a-file');
  fs.writeFileSync(aFile, 'not a folder');
  const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform', 'model.json');
  for (const extra of [['--no-stats'], ['--json', '--workers', '0']]) {
    const io = captureIo();
    assert.equal(await runCli(['inspect', model, ...extra, '--cache', path.join(aFile, 'cache')], io), 2, extra.join(' '));
    assert.deepEqual(io.stdout, [], 'no report is written');
    assert.deepEqual(io.stderr, [`error[notFound]: ${path.join(aFile, 'cache')}: cannot create the folder: a part of its path is not a folder.`]);
  }
});

test('inspect --cache DIR: the second run is answered from the cache with the same JSON; a touched file is read again', async () => {
  const dir = makeTempDir('weightscope-inspect-cache-');
  const modelDir = path.join(dir, 'model');
  fs.mkdirSync(modelDir);
  const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');
  for (const f of ['model.json', 'weights.bin']) {
    fs.writeFileSync(path.join(modelDir, f), fs.readFileSync(path.join(example, f)));
  }
  const entry = path.join(modelDir, 'model.json');
  const cacheDir = path.join(dir, 'cache');
  const run = async (): Promise<{ tensors: { name: string; stats: { mean: number } }[] }> => {
    const io = captureIo();
    assert.equal(await runCli(['inspect', entry, '--json', '--workers', '1', '--cache', cacheDir], io), 0, io.stderr.join('\n'));
    return JSON.parse(io.stdout.join('\n'));
  };
  const plain = captureIo();
  assert.equal(await runCli(['inspect', entry, '--json', '--workers', '1'], plain), 0);
  const first = await run();
  assert.deepEqual(first, JSON.parse(plain.stdout.join('\n')), 'the JSON output is the same with and without --cache');
  assert.deepEqual(fs.readdirSync(modelDir).sort(), ['model.json', 'weights.bin'], 'nothing written next to the input');
  const [entryName, ...rest] = fs.readdirSync(cacheDir);
  assert.equal(rest.length, 0, 'one cache entry');
  // Mark the cached mean of one tensor: a run that prints the mark was answered from the cache.
  const cached = JSON.parse(fs.readFileSync(path.join(cacheDir, entryName!), 'utf8'));
  cached.tensors['hidden1/bias'].mean = 12345;
  fs.writeFileSync(path.join(cacheDir, entryName!), JSON.stringify(cached));
  const second = await run();
  assert.equal(second.tensors.find((t) => t.name === 'hidden1/bias')!.stats.mean, 12345);
  // A newer mtime on the weights shard is a new file version: computed again.
  fs.utimesSync(path.join(modelDir, 'weights.bin'), new Date(), new Date(Date.now() + 5000));
  const third = await run();
  assert.deepEqual(third, first);
});

test('the bundled command (dist/cli.js, which starts its workers before the rest loads) reports what runCli reports', skipUnlessFixtures, async (t) => {
  const cli = path.join(repoRoot, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) {
    t.skip('dist/cli.js is not built (npm run build)');
    return;
  }
  const file = path.join(fixturesDir, 'keras-h5', 'alphabet-soup-charity-keras2.15', 'AlphabetSoupCharity.h5');
  const io = captureIo();
  assert.equal(await runCli(['inspect', file, '--json'], io), 0, io.stderr.join('\n'));
  // A preloaded script reports each worker thread the bundle starts, and whether startWorkersEarly did.
  const preload = path.join(makeTempDir('weightscope-preload-'), 'countWorkers.js');
  fs.writeFileSync(
    preload,
    [
      "const wt = require('node:worker_threads');",
      'const Original = wt.Worker;',
      'wt.Worker = class extends Original {',
      '  constructor(...args) {',
      '    super(...args);',
      "    process.stderr.write(new Error().stack.includes('startWorkersEarly') ? 'worker:early\\n' : 'worker:pool\\n');",
      '  }',
      '};',
    ].join('\n'),
  );
  const defaultWorkers = Math.min(4, Math.max(1, os.availableParallelism() - 1));
  for (const [workers, count] of [
    [[], defaultWorkers],
    [['--workers', '2'], 2],
    [['--workers', '0'], 0],
  ] as const) {
    const r = spawnSync(process.execPath, ['-r', preload, cli, 'inspect', file, '--json', ...workers], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(io.stdout.join('\n')), `dist/cli.js ${workers.join(' ')}`);
    const started = r.stderr.split('\n').filter((l) => l.startsWith('worker:'));
    assert.deepEqual(started, Array<string>(count).fill('worker:early'), 'every statistics worker was started early');
  }
  // Commands without statistics start none.
  const listed = spawnSync(process.execPath, ['-r', preload, cli, 'inspect', file, '--json', '--no-stats'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(listed.status, 0, listed.stderr);
  assert.ok(!listed.stderr.includes('worker:'), listed.stderr);
});

test('a file holding only whitespace is described as such, not as text starting with nothing', async () => {
  const dir = makeTempDir();
  for (const name of ['model.json', 'blank.h5']) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, ' \n\t\n');
    const io = captureIo();
    assert.equal(await runCli(['inspect', file], io), 2);
    assert.deepEqual(io.stderr, [`error[unrecognized]: ${file}: not a weight file Weightscope can read (it holds only whitespace).`]);
  }
});
