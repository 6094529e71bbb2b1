import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readSidecar, sidecarPath, updateSidecar, workspaceGitCommit } from '../../../src/core/sidecar';
import { makeTempDir, repoRoot } from '../helpers/fixtures';
import { failFsCall, rootSkip } from '../helpers/fsFailure';

test('updateSidecar creates <file>.weightscope.json atomically and never touches the checkpoint', async () => {
  const dir = makeTempDir('weightscope-sidecar-');
  const ckpt = path.join(dir, 'model-e003.h5');
  fs.writeFileSync(ckpt, Buffer.from([1, 2, 3]));
  const mtime = fs.statSync(ckpt).mtimeMs;
  const s = await updateSidecar(ckpt, { notes: 'first try', tags: ['baseline'], metrics: { val_loss: 0.25 }, parent: 'model-e002.h5', epoch: 3 });
  assert.equal(s.version, 1);
  assert.ok(!Number.isNaN(Date.parse(s.created!)));
  assert.equal(sidecarPath(ckpt), `${ckpt}.weightscope.json`);
  const again = await updateSidecar(ckpt, { notes: 'edited', tags: undefined, custom: { keep: true } });
  assert.equal(again.notes, 'edited');
  assert.equal(again.tags, undefined);
  assert.equal(again.created, s.created, 'created is kept');
  assert.deepEqual((await readSidecar(ckpt))?.metrics, { val_loss: 0.25 });
  assert.deepEqual((await readSidecar(ckpt))?.['custom'], { keep: true });
  assert.deepEqual(fs.readFileSync(ckpt), Buffer.from([1, 2, 3]));
  assert.equal(fs.statSync(ckpt).mtimeMs, mtime);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model-e003.h5', 'model-e003.h5.weightscope.json'], 'no temporary files left');
});

test('bad sidecars are reported as corrupt with the offending value', async () => {
  const dir = makeTempDir('weightscope-sidecar-bad-');
  const ckpt = path.join(dir, 'w.h5');
  fs.writeFileSync(ckpt, 'x');
  assert.equal(await readSidecar(ckpt), undefined);
  fs.writeFileSync(sidecarPath(ckpt), '{"notes": ');
  await assert.rejects(readSidecar(ckpt), { reason: 'corrupt', message: /w\.h5\.weightscope\.json: the sidecar is not valid JSON/ });
  fs.writeFileSync(sidecarPath(ckpt), JSON.stringify({ metrics: { loss: 'low' } }));
  await assert.rejects(readSidecar(ckpt), { reason: 'corrupt', message: /field 'metrics' has an invalid value '\{"loss":"low"\}'/ });
  await assert.rejects(updateSidecar(path.join(dir, 'missing.h5'), { notes: 'x' }), { reason: 'notFound' });
  await assert.rejects(updateSidecar(ckpt, { epoch: -1 }), { reason: 'corrupt' });
});

test('workspaceGitCommit reads HEAD of the enclosing work tree without running git', async (t) => {
  const commit = await workspaceGitCommit(path.join(repoRoot, 'src', 'core'));
  if (!fs.existsSync(path.join(repoRoot, '.git'))) {
    t.skip('the repository is not a git work tree here');
    return;
  }
  assert.match(commit ?? '', /^[0-9a-f]{40}$/);
  const fake = makeTempDir('weightscope-git-');
  fs.mkdirSync(path.join(fake, '.git', 'refs', 'heads'), { recursive: true });
  fs.writeFileSync(path.join(fake, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  fs.writeFileSync(path.join(fake, '.git', 'packed-refs'), `# pack-refs\n${'ab'.repeat(20)} refs/heads/main\n`);
  fs.mkdirSync(path.join(fake, 'runs'));
  assert.equal(await workspaceGitCommit(path.join(fake, 'runs')), 'ab'.repeat(20));
});

test('a sidecar that cannot be written is a permissionDenied error naming it; nothing is left behind', async () => {
  const dir = makeTempDir('weightscope-sidecar-eacces-');
  const ckpt = path.join(dir, 'w.h5');
  fs.writeFileSync(ckpt, Buffer.from([1, 2, 3]));
  const undo = failFsCall('writeFile', sidecarPath(ckpt), 'EACCES');
  try {
    await assert.rejects(updateSidecar(ckpt, { notes: 'x' }), { reason: 'permissionDenied', message: `${sidecarPath(ckpt)}: cannot write the file: permission denied.` });
  } finally {
    undo();
  }
  assert.deepEqual(fs.readdirSync(dir), ['w.h5']);
});

test('a sidecar in a read-only folder is a permissionDenied error naming it', rootSkip, async () => {
  const dir = makeTempDir('weightscope-sidecar-ro-');
  const ckpt = path.join(dir, 'w.h5');
  fs.writeFileSync(ckpt, Buffer.from([1, 2, 3]));
  fs.chmodSync(dir, 0o555);
  try {
    await assert.rejects(updateSidecar(ckpt, { notes: 'x' }), { reason: 'permissionDenied', message: `${sidecarPath(ckpt)}: cannot write the file: permission denied.` });
  } finally {
    fs.chmodSync(dir, 0o755);
  }
});
