import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { diffLocalFiles } from '../../../../src/analysis/diffPool';
import { commitsTouching, extractAtRevision, gitLocation, revisionFolderOf } from '../../../../src/extension/diff/gitRevisions';
import { makeTempDir } from '../../helpers/fixtures';
import { loadDiffReference, trainingRunDir } from '../../analysis/helpers/trainingRun';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });
}

test('Compare with HEAD / Previous Commit: a TF.js checkpoint and its shards come back as committed', async (t) => {
  try {
    execFileSync('git', ['--version']);
  } catch {
    t.skip('git is not installed');
    return;
  }
  const run = await trainingRunDir();
  const repo = makeTempDir('weightscope-git-repo-');
  git(repo, 'init', '-q');
  const ckpt = path.join(repo, 'models', 'latest');
  fs.cpSync(path.join(run, 'epoch-000'), ckpt, { recursive: true });
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'epoch 0');
  fs.cpSync(path.join(run, 'epoch-001'), ckpt, { recursive: true });
  git(repo, 'commit', '-q', '-am', 'epoch 1');
  fs.cpSync(path.join(run, 'epoch-003'), ckpt, { recursive: true }); // working tree, not committed

  const file = path.join(ckpt, 'model.json');
  const { root, rel } = await gitLocation(file);
  assert.equal(rel, 'models/latest/model.json');
  // model.json is the same in every epoch: only the shard changes, so history must follow it too.
  assert.equal((await commitsTouching(root, [rel], 2)).length, 1);
  const commits = await commitsTouching(root, [rel, 'models/latest/weights.bin'], 2);
  assert.equal(commits.length, 2);

  const head = await extractAtRevision(root, 'HEAD', rel);
  const [newer, older] = [await extractAtRevision(root, commits[0]!, rel), await extractAtRevision(root, commits[1]!, rel)];
  try {
    assert.ok(fs.existsSync(path.join(path.dirname(head.file), 'weights.bin')), 'the shard is extracted next to model.json');
    const folder = revisionFolderOf(head.file);
    assert.ok(folder !== undefined && head.file.startsWith(folder + path.sep) && fs.existsSync(folder), `the extracted copy's temporary folder: ${folder}`);
    assert.equal(revisionFolderOf(file), undefined, 'the work tree file is not in one');
    const ref = loadDiffReference();
    // Previous commit -> last commit = epoch-000 -> epoch-001.
    const prev = await diffLocalFiles(older.file, newer.file, { workers: 0 });
    const expected = ref.pairs.find((p) => p.a === 'epoch-000' && p.b === 'epoch-001')!;
    assert.ok(Math.abs(prev.summary.relL2! - expected.relL2) < 1e-12);
    // HEAD (epoch-001) -> working tree (epoch-003).
    const vsHead = await diffLocalFiles(head.file, file, { workers: 0 });
    const e2 = ref.pairs.find((p) => p.a === 'epoch-001' && p.b === 'epoch-003')!;
    assert.ok(Math.abs(vsHead.summary.relL2! - e2.relL2) < 1e-12);
  } finally {
    head.cleanup();
    newer.cleanup();
    older.cleanup();
  }
  assert.ok(!fs.existsSync(head.file), 'cleanup removes the extracted copy');
  await assert.rejects(extractAtRevision(root, commits[1]!, 'models/other/model.json'), { reason: 'notFound' });
});

test('revisionFolderOf: finds the temporary folder of an extracted file (a restored diff panel removes it), and nothing else', () => {
  const tmp = path.resolve('/tmp/t');
  assert.equal(revisionFolderOf(path.join(tmp, 'weightscope-rev-a1B2c3', 'models', 'latest', 'model.json'), tmp), path.join(tmp, 'weightscope-rev-a1B2c3'));
  assert.equal(revisionFolderOf(path.join(tmp, 'weightscope-rev-a1B2c3'), tmp), path.join(tmp, 'weightscope-rev-a1B2c3'));
  for (const other of [
    path.join(tmp, 'models', 'model.json'), // not made by extractAtRevision
    path.join(tmp, 'weightscope-rev-'), // the bare prefix
    tmp,
    path.resolve('/tmp/weightscope-rev-x/model.json'), // beside, not in, the temp folder given
    path.resolve('/home/u/weightscope-rev-x/model.json'),
    path.join(tmp, '..', 'weightscope-rev-x', 'model.json'),
  ]) {
    assert.equal(revisionFolderOf(other, tmp), undefined, other);
  }
});
