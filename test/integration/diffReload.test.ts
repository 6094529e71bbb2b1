/**
 * An open diff panel runs again when what it compares changes on disk: a comparison follows a
 * rewritten weight shard of either side (copying A's shard over B's makes the models identical,
 * which the byte-equal files decide independently of the comparison), and a history follows a
 * checkpoint added to or removed from its run folder, but not a metadata sidecar or a training log
 * written there, except a sidecar whose epoch orders a checkpoint whose name carries none.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, copyExample, tempDir, waitFor, watchersStarted } from './helpers';

/** Two TF.js models of the same architecture with different weights. */
const [first, second] = ['good-init-glorot-uniform', 'bad-init-uniform-0.01'];

suite('open diff panels run again when their files change on disk', () => {
  test('a comparison follows a rewritten weight shard: B given A\'s shard compares as identical', async function () {
    this.timeout(120_000);
    const a = await api();
    const root = tempDir('weightscope-diff-reload-');
    const fileA = copyExample(first, path.join(root, 'a'));
    const fileB = copyExample(second, path.join(root, 'b'));
    const diff = a.diff.panels.open({ mode: 'diff', a: vscode.Uri.file(fileA), b: vscode.Uri.file(fileB), labelA: 'A', labelB: 'B' });
    try {
      const before = await waitFor('the comparison', () => diff.diffResult, 60_000);
      assert.equal(before.summary.paired, 6);
      assert.equal(before.summary.identicalModels, false, 'the two examples differ');
      const watched = await waitFor('the watched files', () => diff.watchedSources);
      assert.deepEqual(watched.split('\n').map((u) => path.relative(root, vscode.Uri.parse(u).fsPath)).sort(), [
        path.join('a', 'model.json'),
        path.join('a', 'weights.bin'),
        path.join('b', 'model.json'),
        path.join('b', 'weights.bin'),
      ]);
      await watchersStarted();
      fs.copyFileSync(path.join(root, 'a', 'weights.bin'), path.join(root, 'b', 'weights.bin'));
      assert.ok(fs.readFileSync(path.join(root, 'a', 'weights.bin')).equals(fs.readFileSync(path.join(root, 'b', 'weights.bin'))));
      const after = await waitFor('the comparison of the rewritten shard', () => diff.diffResult !== before && diff.diffResult, 60_000);
      assert.equal(after.summary.identicalModels, true, 'byte-equal shards under the same model.json compare as identical');
      assert.ok(after.tensors.every((t) => t.status === 'identical'), 'every pair identical');
    } finally {
      diff.panel.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a history follows a checkpoint added to or removed from its run folder, not a sidecar or a training log written there', async function () {
    this.timeout(120_000);
    const a = await api();
    const run = tempDir('weightscope-history-reload-');
    copyExample(first, path.join(run, 'epoch-001'));
    copyExample(second, path.join(run, 'epoch-002'));
    fs.mkdirSync(path.join(run, 'logs', 'train'), { recursive: true }); // made when training starts, as TensorBoard's callback does
    const view = a.diff.panels.open({ mode: 'history', dir: vscode.Uri.file(run), label: 'run' });
    try {
      const before = await waitFor('the history', () => view.historyResult, 60_000);
      assert.equal(before.checkpoints.length, 2);
      await watchersStarted();

      // A sidecar written beside a checkpoint is metadata, and training logs are no weights: no new reading.
      fs.writeFileSync(path.join(run, 'epoch-001', 'model.json.weightscope.json'), JSON.stringify({ version: 1, notes: 'first epoch' }));
      fs.writeFileSync(path.join(run, 'logs', 'train', 'events.out.tfevents.1700000000.host.1.v2'), Buffer.alloc(64, 7));
      fs.writeFileSync(path.join(run, 'training.csv'), 'epoch,loss\n1,0.5\n');
      await new Promise((r) => setTimeout(r, 2500)); // longer than the history's quiet time
      assert.equal(view.historyResult, before, 'a sidecar or a log does not read the history again');

      copyExample(first, path.join(run, 'epoch-003'));
      const after = await waitFor('the history with the new checkpoint', () => view.historyResult !== before && view.historyResult?.checkpoints.length === 3 && view.historyResult, 60_000);
      assert.deepEqual(after.checkpoints.map((c) => c.label), ['epoch-001', 'epoch-002', 'epoch-003']);

      // A checkpoint folder removed (reported as the folder alone): read again without it.
      fs.rmSync(path.join(run, 'epoch-001'), { recursive: true });
      const removed = await waitFor('the history without the removed checkpoint', () => view.historyResult !== after && view.historyResult?.checkpoints.length === 2 && view.historyResult, 60_000);
      assert.deepEqual(removed.checkpoints.map((c) => c.label), ['epoch-002', 'epoch-003']);
    } finally {
      view.panel.dispose();
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
  test('a history re-orders when the sidecar epoch of a checkpoint whose name carries none is written or edited', async function () {
    this.timeout(120_000);
    const a = await api();
    const run = tempDir('weightscope-history-order-');
    const alpha = copyExample(first, path.join(run, 'alpha'));
    const beta = copyExample(second, path.join(run, 'beta'));
    const setEpoch = (entry: string, epoch: number): void => fs.writeFileSync(`${entry}.weightscope.json`, JSON.stringify({ version: 1, epoch }));
    setEpoch(alpha, 2);
    const view = a.diff.panels.open({ mode: 'history', dir: vscode.Uri.file(run), label: 'run' });
    try {
      // One checkpoint without an epoch: ordered by time, until the other gets one.
      const before = await waitFor('the history', () => view.historyResult, 60_000);
      assert.equal(before.orderedBy, 'time');
      await watchersStarted();

      setEpoch(beta, 1);
      const byEpoch = await waitFor('the history ordered by the sidecar epochs', () => view.historyResult !== before && view.historyResult?.orderedBy === 'epoch' && view.historyResult, 60_000);
      assert.deepEqual(byEpoch.checkpoints.map((c) => `${c.label}@${c.epoch}`), ['beta@1', 'alpha@2']);

      setEpoch(alpha, 0);
      const edited = await waitFor('the history re-ordered by the edited epoch', () => view.historyResult !== byEpoch && view.historyResult, 60_000);
      assert.deepEqual(edited.checkpoints.map((c) => `${c.label}@${c.epoch}`), ['alpha@0', 'beta@1']);
    } finally {
      view.panel.dispose();
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});
