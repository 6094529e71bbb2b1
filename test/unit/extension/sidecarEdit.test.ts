/**
 * Tests of the sidecar edits the panels share: the DTO, the checks of notes, tags, metrics and
 * the parent path, saving and creating next to a copy of a committed example model (its bytes
 * hashed before and after), the git commit recorded (compared with `git rev-parse HEAD`), and the
 * message when the folder cannot be written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readSidecar, sidecarPath, type Sidecar } from '../../../src/core/sidecar';
import {
  createSidecar,
  readSidecarDto,
  saveFailure,
  saveSidecarEdit,
  toSidecarDto,
  validateMetrics,
  validateParent,
  validateSidecarEdit,
  validateTags,
} from '../../../src/extension/sidecarEdit';
import { makeTempDir, repoRoot } from '../helpers/fixtures';

/** The committed example model copied by the tests (a TF.js layers model: model.json + weights.bin). */
const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

/** A copy of the example in a new temporary folder; returns the path of its model.json. */
function exampleCopy(prefix: string): string {
  const dir = makeTempDir(prefix);
  for (const f of ['model.json', 'weights.bin']) {
    fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(example, f)));
  }
  return path.join(dir, 'model.json');
}

/** SHA-256 of the files of a checkpoint folder other than sidecars (folders such as .git skipped). */
function hashCheckpoint(entry: string): Record<string, string> {
  const dir = path.dirname(entry);
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).filter((n) => !n.endsWith('.weightscope.json') && fs.statSync(path.join(dir, n)).isFile()).sort()) {
    out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  }
  return out;
}

test('toSidecarDto: defaults when there is no sidecar, every shown field when there is', () => {
  const file = path.join('/data', 'run', 'model-e003.h5');
  assert.deepEqual(toSidecarDto(undefined, file), { notes: '', tags: [], parent: '', metrics: {}, path: `${file}.weightscope.json`, exists: false });
  const s: Sidecar = {
    version: 1,
    notes: 'lr 0.01',
    tags: ['baseline'],
    parent: 'model-e002.h5',
    metrics: { val_loss: 0.31 },
    created: '2026-01-02T03:04:05.000Z',
    gitCommit: null,
    epoch: 3,
    fingerprints: { model: 'ab'.repeat(32), size: 10, mtimeMs: 1, tensors: {} },
    custom: 1,
  };
  // Shown as they are: notes, tags, parent, metrics, created, gitCommit (null kept), epoch; the
  // fingerprint cache as the model fingerprint only; version and unknown keys not at all.
  const { version: _version, fingerprints: _fingerprints, custom: _custom, ...shown } = s;
  assert.deepEqual(toSidecarDto(s, file), { ...shown, modelFingerprint: 'ab'.repeat(32), path: `${file}.weightscope.json`, exists: true });
});

test('validateTags trims, drops empty and repeated tags, refuses commas and non-text', () => {
  assert.deepEqual(validateTags([' baseline ', '', 'lr-0.01', 'baseline', '  ']), ['baseline', 'lr-0.01']);
  assert.deepEqual(validateTags([]), []);
  assert.throws(() => validateTags(['a,b']), /Tag "a,b" contains a comma/);
  assert.throws(() => validateTags(['ok', 3]), /Tags must be a list of text, not \["ok",3\]/);
  assert.throws(() => validateTags('baseline'), /Tags must be a list of text, not "baseline"/);
  assert.throws(() => validateTags(['x'.repeat(201)]), /longer than 200 characters/);
  assert.throws(() => validateTags(Array.from({ length: 101 }, (_, i) => `t${i}`)), /101 tags are more than the 100/);
});

test('validateMetrics keeps finite numbers and refuses the rest, quoting the value', () => {
  assert.deepEqual(validateMetrics({ val_loss: 0.31, acc: 1, lr: -1e-3 }), { val_loss: 0.31, acc: 1, lr: -1e-3 });
  assert.deepEqual(validateMetrics({}), {});
  // NaN arrives from a webview as null (JSON), Infinity likewise.
  assert.throws(() => validateMetrics({ val_loss: null }), /Metric 'val_loss' must be a finite number, not null/);
  assert.throws(() => validateMetrics({ acc: '0.9' }), /Metric 'acc' must be a finite number, not "0.9"/);
  assert.throws(() => validateMetrics({ acc: Number.POSITIVE_INFINITY }), /Metric 'acc' must be a finite number/);
  assert.throws(() => validateMetrics({ 'val loss': 1 }), /Metric name "val loss" must be 1 to 200 characters without spaces or '='/);
  assert.throws(() => validateMetrics({ 'a=b': 1 }), /Metric name "a=b"/);
  assert.throws(() => validateMetrics([1, 2]), /Metrics must be an object of name: number, not \[1,2\]/);
  assert.throws(() => validateMetrics(null), /not null/);
});

test('validateParent: relative paths normalised, absolute ones made relative, the checkpoint itself refused', () => {
  const ckpt = path.join(path.sep, 'data', 'runs', 'epoch-003', 'model.json');
  assert.equal(validateParent('', ckpt), '');
  assert.equal(validateParent('   ', ckpt), '');
  assert.equal(validateParent(' ../epoch-002/model.json ', ckpt), '../epoch-002/model.json');
  assert.equal(validateParent('./a/../model-e002.h5', ckpt), 'model-e002.h5');
  assert.equal(validateParent(path.join(path.sep, 'data', 'runs', 'epoch-002', 'model.json'), ckpt), '../epoch-002/model.json');
  assert.throws(() => validateParent('./model.json', ckpt), /The parent checkpoint "\.\/model\.json" is this checkpoint itself/);
  assert.throws(() => validateParent(ckpt, ckpt), /is this checkpoint itself/);
  assert.throws(() => validateParent('a\0b', ckpt), /is not a usable path/);
  assert.throws(() => validateParent(null, ckpt), /must be a path, not null/);
});

test('validateSidecarEdit: empty fields remove their keys, bad input is refused', () => {
  const ckpt = path.join(path.sep, 'data', 'w.h5');
  assert.deepEqual(validateSidecarEdit({ notes: ' ', tags: [], parent: '', metrics: {} }, ckpt), { notes: undefined, tags: undefined, parent: undefined, metrics: undefined });
  assert.deepEqual(validateSidecarEdit({ notes: 'n', tags: ['t'], parent: 'p.h5', metrics: { m: 2 } }, ckpt), { notes: 'n', tags: ['t'], parent: 'p.h5', metrics: { m: 2 } });
  assert.throws(() => validateSidecarEdit({ notes: 3, tags: [], parent: '', metrics: {} }, ckpt), /Notes must be text, not 3/);
  assert.throws(() => validateSidecarEdit({ notes: 'x'.repeat(100_001), tags: [], parent: '', metrics: {} }, ckpt), /100001 characters/);
  assert.throws(() => validateSidecarEdit('notes', ckpt), /must be an object, not "notes"/);
});

test('saveSidecarEdit writes the sidecar next to the checkpoint, keeps unknown keys, and never changes the checkpoint', async () => {
  const entry = exampleCopy('weightscope-sidecar-edit-');
  const before = hashCheckpoint(entry);
  const saved = await saveSidecarEdit(entry, { notes: 'first run', tags: ['baseline', ' glorot '], parent: '../epoch-002/model.json', metrics: { val_loss: 0.3125 } });
  assert.equal(saved.exists, true);
  assert.equal(saved.path, sidecarPath(entry));
  assert.deepEqual([saved.notes, saved.tags, saved.parent, saved.metrics], ['first run', ['baseline', 'glorot'], '../epoch-002/model.json', { val_loss: 0.3125 }]);
  assert.ok(saved.created !== undefined && Math.abs(Date.parse(saved.created) - Date.now()) < 60_000, `created is now: ${saved.created}`);
  assert.equal(saved.gitCommit, null, 'a temporary folder is not in a git work tree');
  const onDisk = JSON.parse(fs.readFileSync(sidecarPath(entry), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(onDisk['tags'], ['baseline', 'glorot']);
  // A key written by another version survives an edit; clearing a field removes its key.
  fs.writeFileSync(sidecarPath(entry), JSON.stringify({ ...onDisk, futureKey: { kept: true } }));
  const again = await saveSidecarEdit(entry, { notes: '', tags: ['baseline'], parent: '', metrics: { val_loss: 0.25 } });
  assert.equal(again.notes, '');
  assert.equal(again.created, saved.created, 'created is kept');
  const read = await readSidecar(entry);
  assert.equal(read?.notes, undefined);
  assert.equal(read?.parent, undefined);
  assert.deepEqual(read?.['futureKey'], { kept: true });
  assert.deepEqual(hashCheckpoint(entry), before, 'model.json and weights.bin are byte for byte unchanged');
  assert.deepEqual(fs.readdirSync(path.dirname(entry)).sort(), ['model.json', 'model.json.weightscope.json', 'weights.bin'], 'no temporary files left');
  await assert.rejects(saveSidecarEdit(entry, { notes: 'x', tags: ['a,b'], parent: '', metrics: {} }), /contains a comma/);
  assert.equal((await readSidecar(entry))?.notes, undefined, 'a refused edit writes nothing');
});

test('createSidecar records the creation time, the git commit of the work tree and the fingerprints; an existing sidecar is kept', async (t) => {
  const git = spawnSync('git', ['--version']);
  if (git.status !== 0) {
    t.skip('git is not installed');
    return;
  }
  const entry = exampleCopy('weightscope-sidecar-git-');
  const dir = path.dirname(entry);
  const run = (...args: string[]): string => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  run('init', '-q');
  run('add', 'model.json', 'weights.bin');
  run('commit', '-q', '-m', 'example');
  const head = run('rev-parse', 'HEAD');
  const before = hashCheckpoint(entry);
  const fingerprints = { model: 'cd'.repeat(32), size: 123, mtimeMs: 456, tensors: { 'hidden1/kernel': 'ef'.repeat(32) } };
  const created = await createSidecar(entry, fingerprints);
  assert.equal(created.exists, true);
  assert.equal(created.gitCommit, head, 'the commit git rev-parse HEAD names');
  assert.equal(created.modelFingerprint, fingerprints.model);
  assert.deepEqual((await readSidecar(entry))?.fingerprints, fingerprints);
  const text = fs.readFileSync(sidecarPath(entry), 'utf8');
  const again = await createSidecar(entry, { ...fingerprints, model: '00'.repeat(32) });
  assert.equal(again.modelFingerprint, fingerprints.model, 'an existing sidecar is returned as it is');
  assert.equal(fs.readFileSync(sidecarPath(entry), 'utf8'), text, 'and not rewritten');
  assert.deepEqual(hashCheckpoint(entry), before);
});

test('readSidecarDto reports a sidecar that is not valid JSON instead of hiding it', async () => {
  const entry = exampleCopy('weightscope-sidecar-corrupt-');
  fs.writeFileSync(sidecarPath(entry), '{"notes": ');
  const r = await readSidecarDto(entry);
  assert.ok('error' in r);
  assert.equal(r.error.reason, 'corrupt');
  assert.match(r.error.message, /model\.json\.weightscope\.json: the sidecar is not valid JSON/);
  assert.equal(r.path, sidecarPath(entry));
  await assert.rejects(saveSidecarEdit(entry, { notes: 'x', tags: [], parent: '', metrics: {} }), { reason: 'corrupt' });
});

/** Makes `dir` unwritable: chattr +i (root ignores modes), else chmod 0555; undefined when neither works. */
function makeReadOnly(dir: string): (() => void) | undefined {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    if (spawnSync('chattr', ['+i', dir]).status === 0) {
      return () => void spawnSync('chattr', ['-i', dir]);
    }
    return undefined;
  }
  fs.chmodSync(dir, 0o555);
  return () => fs.chmodSync(dir, 0o755);
}

test('saving into a read-only folder fails with a clear message and leaves everything as it was', async (t) => {
  const entry = exampleCopy('weightscope-sidecar-ro-');
  const dir = path.dirname(entry);
  const before = hashCheckpoint(entry);
  const restore = makeReadOnly(dir);
  if (!restore) {
    t.skip('cannot make a folder read-only here (running as root without chattr)');
    return;
  }
  try {
    await assert.rejects(saveSidecarEdit(entry, { notes: 'x', tags: [], parent: '', metrics: {} }), (ex: Error) => {
      assert.match(ex.message, /^Cannot save the metadata: the folder .* is read-only \((EACCES|EPERM|EROFS)\), so model\.json\.weightscope\.json was not written; the checkpoint is unchanged\.$/);
      return true;
    });
    await assert.rejects(createSidecar(entry), /is read-only/);
  } finally {
    restore();
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  assert.deepEqual(hashCheckpoint(entry), before);
});

test('saveFailure: a full disk and other system errors become one sentence; checks and file errors pass through', () => {
  const file = path.join(path.sep, 'data', 'w.h5.weightscope.json');
  const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  assert.match(saveFailure(enospc, file).message, /the disk holding .*data is full \(ENOSPC\)/);
  const other = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
  assert.equal(saveFailure(other, file).message, `Cannot save the metadata to ${file}: EIO: i/o error`);
  const check = new RangeError('Tag "a,b" contains a comma.');
  assert.equal(saveFailure(check, file), check);
});
