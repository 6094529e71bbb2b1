/**
 * An open weights panel follows every file its content was read from: a TF.js model.json copied
 * outside the workspace (so no tree watcher covers it) reloads when its weight shard is rewritten,
 * once for a write of several files, and when the shard is deleted and written again. The numbers
 * before and after are checked against NumPy's statistics of the fixture (doubling float32 values
 * is exact, so the rewritten shard's mean, min and max are twice NumPy's). A panel opened on a
 * folder also follows the folder's entries: a model copied into it, or removed.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WeightsDocument } from '../../src/extension/weightsDocument';
import { api, assertClose, fixtureOrSkip, referenceOf, tempDir, waitFor, watchersStarted, workspaceDir } from './helpers';

/** The TF.js layers model with its weight shard (weights.bin, float32 only). */
const fixture = 'tfjs-layers/tfjs-e2e-layers-model';

/** The tensor checked (2000 float32 values). */
const tensor = 'embedding_Embedding2/embeddings';

/** The tensor's row stats in what the panel is sent (the snapshot), once analysed. */
function rowStats(doc: WeightsDocument): { mean: number | null; min: number | null; max: number | null } | undefined {
  return doc.snapshot().tensors.find((t) => t.name === tensor)?.stats;
}

suite('open panels reload when any file they were read from changes', () => {
  test('a TF.js model outside the workspace: rewriting, deleting and restoring its weight shard reloads the panel', async function () {
    this.timeout(180_000);
    const src = fixtureOrSkip(this, fixture).fsPath;
    const ref = referenceOf(`${fixture}/model.json`)[tensor]!.stats;
    const a = await api();
    const dir = tempDir('weightscope-reload-');
    assert.ok(path.relative(workspaceDir(), dir).startsWith('..'), 'the copy lies outside the workspace');
    for (const f of ['model.json', 'weights.bin']) {
      fs.copyFileSync(path.join(src, f), path.join(dir, f));
    }
    const shard = path.join(dir, 'weights.bin');
    const view = a.panels.show(vscode.Uri.file(path.join(dir, 'model.json')));
    const doc = view.document;
    let opens = 0;
    const sub = doc.onDidChangeModel(() => {
      if (doc.status === 'open') {
        opens++;
      }
    });
    try {
      await doc.whenOpened();
      assert.deepEqual(
        doc.sourceFiles.map((u) => path.basename(u.fsPath)),
        ['model.json', 'weights.bin'],
      );
      const before = await waitFor('the statistics', () => rowStats(doc));
      assertClose(before.mean, ref.mean, 1e-6, 'mean before');
      assertClose(before.max, ref.max, 1e-6, 'max before');
      await watchersStarted();

      // A re-export: every float32 value doubled in the shard, then model.json written again, back to back.
      const bytes = fs.readFileSync(shard);
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).map((v) => v * 2);
      opens = 0;
      fs.writeFileSync(shard, new Uint8Array(values.buffer));
      fs.writeFileSync(path.join(dir, 'model.json'), fs.readFileSync(path.join(src, 'model.json')));
      const after = await waitFor('the statistics of the rewritten shard', () => {
        const s = rowStats(doc);
        return s && s.mean !== before.mean ? s : undefined;
      });
      assertClose(after.mean, 2 * ref.mean!, 1e-6, 'mean after');
      assertClose(after.min, 2 * ref.min!, 1e-6, 'min after');
      assertClose(after.max, 2 * ref.max!, 1e-6, 'max after');
      await new Promise((r) => setTimeout(r, 2000)); // longer than the watcher's quiet time: a second reload would have come
      assert.equal(opens, 1, 'two files written together reload the panel once');

      // Deleted: the tensors are unavailable (missing shard); written again: the original numbers are back.
      fs.rmSync(shard);
      await waitFor('the missing shard to be reported', () => doc.snapshot().warnings.some((w) => w.reason === 'missingCompanionFile'));
      fs.copyFileSync(path.join(src, 'weights.bin'), shard);
      const restored = await waitFor('the statistics of the restored shard', () => {
        const s = rowStats(doc);
        return s && s.mean !== after.mean ? s : undefined;
      });
      assertClose(restored.mean, ref.mean, 1e-6, 'mean restored');
    } finally {
      sub.dispose();
      view.panel.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a panel opened on a folder follows its entries: a model copied into a folder that held none opens, and its removal shows why', async function () {
    this.timeout(120_000);
    const src = fixtureOrSkip(this, fixture).fsPath;
    const a = await api();
    const dir = tempDir('weightscope-folder-reload-');
    const view = a.panels.show(vscode.Uri.file(dir));
    const doc = view.document;
    try {
      await doc.whenOpened();
      assert.equal(doc.status, 'failed');
      assert.equal(doc.error?.reason, 'unrecognized', doc.error?.message);
      await watchersStarted();

      // The shard first, then model.json: the folder becomes this TF.js model.
      fs.copyFileSync(path.join(src, 'weights.bin'), path.join(dir, 'weights.bin'));
      fs.copyFileSync(path.join(src, 'model.json'), path.join(dir, 'model.json'));
      await waitFor('the model copied into the folder', () => doc.status === 'open' && doc.weightFile?.tensors.some((t) => t.name === tensor), 60_000);
      assert.equal(doc.weightFile!.format, 'tfjs-layers');

      fs.rmSync(path.join(dir, 'model.json'));
      await waitFor('the folder without its model', () => doc.status === 'failed', 60_000);
    } finally {
      view.panel.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
