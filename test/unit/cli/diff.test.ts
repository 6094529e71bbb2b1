import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/io';
import { readSidecar } from '../../../src/core/sidecar';
import { makeTempDir } from '../helpers/fixtures';
import { loadDiffReference, trainingRunDir } from '../analysis/helpers/trainingRun';
import { writeUnknownShapeCheckpoint } from '../formats/helpers/bundleWriter';

function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), progress: () => () => undefined };
}

const ref = loadDiffReference();

test('weightscope diff --json reports the NumPy numbers and the most-changed layer', async () => {
  const dir = await trainingRunDir();
  const pair = ref.pairs[0]!;
  const io = captureIo();
  const code = await runCli(['diff', path.join(dir, pair.a), path.join(dir, pair.b), '--json', '--workers', '1'], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  const r = JSON.parse(io.stdout.join('\n'));
  assert.equal(r.topLayers[0], pair.topLayers[0]);
  const k = r.tensors.find((t: { a: string }) => t.a === 'dense/kernel');
  assert.ok(Math.abs(k.relL2 - pair.tensors['dense/kernel']!['relL2']!) < 1e-12);
});

/** The training run, and a new folder whose 'renamed' is its epoch-001 with layer dense_1 named hidden. */
async function renamedCopy(): Promise<{ dir: string; work: string }> {
  const dir = await trainingRunDir();
  const work = makeTempDir('weightscope-cli-diff-');
  fs.cpSync(path.join(dir, 'epoch-001'), path.join(work, 'renamed'), { recursive: true });
  const mj = path.join(work, 'renamed', 'model.json');
  fs.writeFileSync(mj, fs.readFileSync(mj, 'utf8').replaceAll('dense_1', 'hidden'));
  return { dir, work };
}

test('weightscope diff prints a table with renamed tensors and honours --map-file', async () => {
  const { dir, work } = await renamedCopy();
  const io = captureIo();
  assert.equal(await runCli(['diff', path.join(dir, 'epoch-001'), path.join(work, 'renamed'), '--workers', '0'], io), 0);
  const text = io.stdout.join('\n');
  assert.match(text, /renamed 2/);
  assert.match(text, /renamed dense_1\/kernel -> hidden\/kernel/);
  assert.match(text, /\(identical weights\)/);

  const map = path.join(work, 'map.json');
  fs.writeFileSync(map, JSON.stringify({ 'dense_1/kernel': null }));
  const io2 = captureIo();
  assert.equal(await runCli(['diff', path.join(dir, 'epoch-001'), path.join(work, 'renamed'), '--workers', '0', '--json', '--map-file', map], io2), 0);
  const r = JSON.parse(io2.stdout.join('\n'));
  assert.equal(r.summary.removed, 1);
  assert.equal(r.summary.added, 1);

  // --map repeats: every pairing counts (dense_1 is called hidden in the copy).
  const io3 = captureIo();
  const maps = ['--map', 'dense_1/kernel=', '--map', 'dense_1/bias='];
  assert.equal(await runCli(['diff', path.join(dir, 'epoch-001'), path.join(work, 'renamed'), '--workers', '0', '--json', ...maps], io3), 0, io3.stderr.join('\n'));
  const r3 = JSON.parse(io3.stdout.join('\n'));
  assert.deepEqual(r3.tensors.filter((t: { status: string }) => t.status === 'removed').map((t: { a: string }) => t.a).sort(), ['dense_1/bias', 'dense_1/kernel']);
  assert.deepEqual(r3.tensors.filter((t: { status: string }) => t.status === 'added').map((t: { b: string }) => t.b).sort(), ['hidden/bias', 'hidden/kernel']);

  // A pairing that names no tensor of its file, and a missing mapping file, are errors naming them.
  const a = path.join(dir, 'epoch-001');
  const b = path.join(work, 'renamed');
  const bad: [string[], RegExp][] = [
    [['--map', 'dense_1/kernl=hidden/kernel'], /^error\[usage\]: .*'dense_1\/kernl'.* of .*epoch-001\.$/],
    [['--map', 'dense_1/kernel=hiden/kernel'], /^error\[usage\]: .*'hiden\/kernel'.* of .*renamed\.$/],
    [['--map', 'dense_1/kernel=hidden/kernel', '--map', 'nothing='], /^error\[usage\]: .*'nothing'.* of .*epoch-001\.$/],
    [['--map-file', path.join(work, 'missing.json')], /^error\[notFound\]: .*missing\.json/],
  ];
  for (const [extra, expected] of bad) {
    const io4 = captureIo();
    assert.equal(await runCli(['diff', a, b, '--workers', '0', ...extra], io4), 2, extra.join(' '));
    assert.equal(io4.stdout.length, 0);
    assert.match(io4.stderr[0]!, expected);
  }
});

test('weightscope diff: usage errors and unreadable files exit 2 with a reason', async () => {
  const io = captureIo();
  assert.equal(await runCli(['diff', 'only-one'], io), 2);
  assert.match(io.stderr[0]!, /^error\[usage\]/);
  const io2 = captureIo();
  assert.equal(await runCli(['diff', 'missing-a.h5', 'missing-b.h5'], io2), 2);
  assert.match(io2.stderr[0]!, /^error\[notFound\]: missing-a\.h5/);
});

test('weightscope history --json lists the run in epoch order with per-layer points', async () => {
  const dir = await trainingRunDir();
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--json', '--workers', '0', '--naming', 'epoch-{epoch:03d}'], io), 0, io.stderr.join('\n'));
  const h = JSON.parse(io.stdout.join('\n'));
  assert.deepEqual(h.checkpoints.map((c: { epoch: number }) => c.epoch), [0, 1, 2, 3]);
  assert.deepEqual(h.namingWarnings, []);
  const dense = h.layers.find((l: { layer: string }) => l.layer === 'dense');
  assert.ok(Math.abs(dense.points[3].norm - ref.history['dense']![3]!.norm) < 1e-9);
  const io2 = captureIo();
  assert.equal(await runCli(['history', dir, '--naming', '{a}{b}-{epoch:.2q}'], io2), 2);
  assert.match(io2.stderr[0]!, /format spec '\.2q'/);
});

test('weightscope fingerprint groups duplicates and --save caches fingerprints in the sidecar only', async () => {
  const dir = await trainingRunDir();
  const work = makeTempDir('weightscope-cli-fp-');
  fs.cpSync(path.join(dir, 'epoch-002'), path.join(work, 'copy'), { recursive: true });
  const weights = path.join(work, 'copy', 'weights.bin');
  const before = fs.readFileSync(weights);
  const io = captureIo();
  assert.equal(await runCli(['fingerprint', path.join(dir, 'epoch-002'), path.join(work, 'copy'), path.join(dir, 'epoch-003'), '--json', '--save'], io), 0, io.stderr.join('\n'));
  const out = JSON.parse(io.stdout.join('\n'));
  assert.equal(out.files.length, 3);
  assert.equal(out.duplicates.length, 1);
  assert.equal(out.duplicates[0].length, 2);
  assert.notEqual(out.files[0].model, out.files[2].model);
  const side = await readSidecar(path.join(work, 'copy', 'model.json'));
  assert.equal(side?.fingerprints?.model, out.files[1].model);
  assert.equal(Object.keys(side?.fingerprints?.tensors ?? {}).length, 6);
  assert.deepEqual(fs.readFileSync(weights), before, 'the checkpoint is never written');
});

test('weightscope fingerprint with an unreadable input lists the good ones, reports the bad one and exits 2', async () => {
  const dir = await trainingRunDir();
  const missing = path.join(makeTempDir('weightscope-cli-fp-missing-'), 'nonexistent');
  const good = [path.join(dir, 'epoch-001'), path.join(dir, 'epoch-002')];
  const io = captureIo();
  assert.equal(await runCli(['fingerprint', good[0]!, missing, good[1]!, '--json'], io), 2);
  assert.deepEqual(JSON.parse(io.stdout.join('\n')).files.map((f: { path: string }) => path.dirname(f.path)), good);
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.ok(io.stderr[0]!.startsWith(`error[notFound]: ${missing}`), io.stderr[0]);
  const text = captureIo();
  assert.equal(await runCli(['fingerprint', missing, good[0]!], text), 2);
  assert.match(text.stdout.join('\n'), /^[0-9a-f]{64} {2}.*epoch-001/);
  const alone = captureIo();
  assert.equal(await runCli(['fingerprint', missing], alone), 2);
  assert.deepEqual(alone.stdout, []);
  assert.equal(alone.stderr.length, 1);
});

test('after fingerprint --save on both files, diff skips the identical tensors without reading them', async () => {
  const dir = await trainingRunDir();
  const work = makeTempDir('weightscope-cli-known-');
  fs.cpSync(path.join(dir, 'epoch-001'), path.join(work, 'a'), { recursive: true });
  fs.cpSync(path.join(dir, 'epoch-001'), path.join(work, 'b'), { recursive: true });
  // B: change only dense_2/bias (the last 3 floats of weights.bin).
  const wb = path.join(work, 'b', 'weights.bin');
  const bytes = fs.readFileSync(wb);
  bytes.writeFloatLE(bytes.readFloatLE(bytes.length - 4) + 0.5, bytes.length - 4);
  fs.writeFileSync(wb, bytes);
  const io0 = captureIo();
  assert.equal(await runCli(['fingerprint', path.join(work, 'a'), path.join(work, 'b'), '--save'], io0), 0, io0.stderr.join('\n'));
  const io = captureIo();
  assert.equal(await runCli(['diff', path.join(work, 'a'), path.join(work, 'b'), '--json', '--workers', '0'], io), 0);
  const r = JSON.parse(io.stdout.join('\n'));
  const byFp = r.tensors.filter((t: { identicalBy?: string }) => t.identicalBy === 'fingerprint').map((t: { a: string }) => t.a);
  assert.deepEqual(byFp.sort(), ['dense/bias', 'dense/kernel', 'dense_1/bias', 'dense_1/kernel', 'dense_2/kernel']);
  const changed = r.tensors.find((t: { a: string }) => t.a === 'dense_2/bias');
  assert.equal(changed.status, 'changed');
  assert.ok(Math.abs(changed.maxAbsDiff - 0.5) < 1e-6);

  // Editing B's weights.bin (model.json untouched) invalidates B's cached fingerprints.
  bytes.writeFloatLE(bytes.readFloatLE(0) + 0.25, 0);
  fs.writeFileSync(wb, bytes);
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(wb, later, later);
  const io2 = captureIo();
  assert.equal(await runCli(['diff', path.join(work, 'a'), path.join(work, 'b'), '--json', '--workers', '0'], io2), 0);
  const r2 = JSON.parse(io2.stdout.join('\n'));
  assert.ok(r2.tensors.every((t: { identicalBy?: string }) => t.identicalBy !== 'fingerprint'));
  assert.equal(r2.tensors.find((t: { a: string }) => t.a === 'dense/kernel').status, 'changed');
});

test('weightscope fingerprint never lists files without model tensors as duplicates', async () => {
  const work = makeTempDir('weightscope-cli-fp-empty-');
  for (const name of ['a', 'b']) {
    fs.mkdirSync(path.join(work, name));
    fs.writeFileSync(path.join(work, name, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: null, weightsManifest: [] }));
  }
  const io = captureIo();
  assert.equal(await runCli(['fingerprint', path.join(work, 'a', 'model.json'), path.join(work, 'b', 'model.json'), '--json'], io), 0, io.stderr.join('\n'));
  const out = JSON.parse(io.stdout.join('\n'));
  assert.equal(out.files.length, 2);
  assert.equal(out.files[0].model, out.files[1].model, 'both hash the same empty tensor list');
  assert.deepEqual(out.duplicates, []);
});

test('weightscope diff refuses pairings that contradict each other instead of dropping one silently', async () => {
  const { dir, work } = await renamedCopy();
  const a = path.join(dir, 'epoch-001');
  const b = path.join(work, 'renamed');
  const map = path.join(work, 'map.json');
  fs.writeFileSync(map, JSON.stringify({ 'dense_1/kernel': null }));
  const bad: [string[], RegExp][] = [
    // Two tensors of A paired with one tensor of B.
    [['--map', 'dense/kernel=hidden/kernel', '--map', 'dense_1/kernel=hidden/kernel'], /^error\[usage\]: The mapping pairs 'hidden\/kernel' of .*renamed with two tensors of .*epoch-001: 'dense\/kernel' and 'dense_1\/kernel'\.$/],
    // One tensor of A given two different partners (here: by --map and by --map-file).
    [['--map', 'dense_1/kernel=hidden/kernel', '--map', 'dense_1/kernel='], /^error\[usage\]: The mapping names 'dense_1\/kernel' of .*epoch-001 twice: paired with 'hidden\/kernel' and marked as removed\.$/],
    [['--map', 'dense_1/kernel=hidden/kernel', '--map-file', map], /^error\[usage\]: The mapping names 'dense_1\/kernel' of .*epoch-001 twice: paired with 'hidden\/kernel' and marked as removed\.$/],
  ];
  for (const [extra, expected] of bad) {
    const io = captureIo();
    assert.equal(await runCli(['diff', a, b, '--workers', '0', ...extra], io), 2, extra.join(' '));
    assert.equal(io.stdout.length, 0);
    assert.match(io.stderr[0]!, expected);
  }
  // The same pairing given twice is no contradiction.
  const io = captureIo();
  assert.equal(await runCli(['diff', a, b, '--workers', '0', '--json', '--map', 'dense_1/kernel=hidden/kernel', '--map', 'dense_1/kernel=hidden/kernel'], io), 0, io.stderr.join('\n'));
  const r = JSON.parse(io.stdout.join('\n'));
  assert.equal(r.tensors.find((t: { a: string }) => t.a === 'dense_1/kernel').b, 'hidden/kernel');
});

test('weightscope diff: a tensor whose shape the checkpoint leaves unknown shows that shape with ? and is not compared', async () => {
  const a = writeUnknownShapeCheckpoint(makeTempDir('weightscope-cli-diff-shape-a-'));
  const b = writeUnknownShapeCheckpoint(makeTempDir('weightscope-cli-diff-shape-b-'));
  const io = captureIo();
  const code = await runCli(['diff', a, b, '--all', '--workers', '1'], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  const row = (name: string): string => text.split('\n').find((l) => l.trim().startsWith(`${name} `)) ?? '';
  assert.match(row('dense/scale'), /\[\?,3\]/, text);
  assert.doesNotMatch(text, /[[,]-1[],]/, 'no -1 dimension is shown');
  assert.match(row('dense/kernel'), /\[2,3\]/);
});
