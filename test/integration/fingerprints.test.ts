/**
 * Fingerprints and the statistics cache in the extension host: an opened file gets its model and
 * tensor fingerprints (computed in a worker after the statistics, equal to hashlib's over the
 * canonical bytes and to fingerprintFile), a reopened unchanged file takes its statistics and
 * fingerprints from the cache in globalStorage, a changed one is analysed again; the same model as
 * Keras .h5 and TF.js shows equal model fingerprints; identical files are grouped in the tree.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { normalizeTensorPath } from '../../src/analysis/alignTensors';
import { fingerprintFile } from '../../src/analysis/fingerprint';
import type { WeightsDocument } from '../../src/extension/weightsDocument';
import type { DuplicateTreeNode, WeightsTreeElement } from '../../src/extension/weightsTree';
import { openLocalPath } from '../../src/formats/registry';
import { api, fixtureOrSkip, repoRoot, tempDir, waitFor, workspaceDir } from './helpers';

/** The committed example copied by the tests (examples/initialization). */
const example = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

/** hashlib fingerprints of the examples over the documented canonical bytes (scripts/reference-fingerprint.py). */
const reference = (
  JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'fingerprint.reference.json'), 'utf8')) as Record<
    string,
    { model: string; modelTensorCount: number; tensors: Record<string, string> }
  >
)['examples/initialization/good-init-glorot-uniform/model.json']!;

/** A fresh copy of the example model in a temporary folder (outside the workspace). */
function freshCopy(): string {
  const dir = tempDir('weightscope-fp-');
  for (const f of ['model.json', 'weights.bin']) {
    fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(example, f)));
  }
  return path.join(dir, 'model.json');
}

/** Waits until the document's statistics and fingerprints are done. */
async function settled(doc: WeightsDocument): Promise<void> {
  await doc.whenOpened();
  await waitFor('the statistics', () => doc.analysis.state === 'done', 60_000);
  await waitFor('the fingerprints', () => doc.fingerprintStatus.state === 'done' || doc.fingerprintStatus.state === 'failed', 60_000);
  assert.equal(doc.fingerprintStatus.state, 'done', JSON.stringify(doc.fingerprintStatus.error));
}

/** The model fingerprint fingerprintFile computes in this thread. */
async function modelFingerprintOf(p: string): Promise<string> {
  const file = await openLocalPath(p);
  try {
    return (await fingerprintFile(file)).model;
  } finally {
    await file.close();
  }
}

suite('fingerprints and the statistics cache', () => {
  test('the panel carries the model fingerprint; reopening the unchanged file is answered from the cache in globalStorage', async function () {
    this.timeout(180_000);
    const a = await api();
    const input = freshCopy();
    const uri = vscode.Uri.file(input);
    const cache = a.statsCache();
    assert.ok(cache.directory && cache.directory.includes('globalStorage'), `the disk cache lives in globalStorage: ${cache.directory}`);

    const view = a.panels.show(uri);
    const doc = view.document;
    await settled(doc);
    assert.equal(doc.statsFromCache, 0, 'a new file is computed');
    const snap = doc.snapshot();
    assert.equal(snap.fingerprint.model, reference.model, 'model fingerprint = hashlib over the canonical bytes');
    assert.equal(snap.fingerprint.model, await modelFingerprintOf(input), 'model fingerprint = fingerprintFile of the same file');
    assert.equal(snap.fingerprint.modelTensorCount, 6);
    assert.equal(snap.fingerprint.partial, false);
    assert.deepEqual(Object.fromEntries(snap.tensors.map((r) => [r.name, r.fingerprint])), reference.tensors, 'every row carries its tensor fingerprint');
    // The cache entries are in globalStorage, keyed by this file; nothing was written next to it.
    assert.deepEqual(fs.readdirSync(path.dirname(input)).sort(), ['model.json', 'weights.bin']);
    const entries = fs
      .readdirSync(cache.directory!)
      .map((f) => JSON.parse(fs.readFileSync(path.join(cache.directory!, f), 'utf8')) as { key: { path: string; histogramBins: number }; tensors: object; model?: { model: string } })
      .filter((e) => e.key.path === input);
    assert.equal(entries.length, 2, 'a statistics entry and a fingerprint entry');
    assert.equal(entries.find((e) => e.key.histogramBins === 0)?.model?.model, reference.model);
    assert.equal(Object.keys(entries.find((e) => e.key.histogramBins !== 0)!.tensors).length, 6);

    // Close the panel (the document goes), forget the memory cache (as a new session would), reopen.
    view.panel.dispose();
    await waitFor('the document to close', () => a.store.find(uri) === undefined);
    cache.clearMemory();
    const hitsBefore = cache.counters.statsHits;
    const again = a.panels.show(uri);
    const doc2 = again.document;
    assert.notEqual(doc2, doc, 'a new document');
    await settled(doc2);
    assert.equal(doc2.statsFromCache, 6, 'all six tensors from the disk cache');
    assert.equal(cache.counters.statsHits - hitsBefore, 6);
    assert.equal(doc2.fingerprintStatus.fromCache, 6, 'fingerprints from the cache too');
    assert.equal(doc2.snapshot().fingerprint.model, reference.model);
    const kernel = doc2.results.get('hidden1/kernel');
    assert.ok(kernel?.ok && kernel.stats.count === 784 * 128, 'cached stats are complete');

    // A newer mtime on the weights shard is a new file version: analysed again.
    fs.utimesSync(path.join(path.dirname(input), 'weights.bin'), new Date(), new Date(Date.now() + 10_000));
    await doc2.reload();
    void doc2.analyzeIfSmall();
    await settled(doc2);
    assert.equal(doc2.statsFromCache, 0, 'the changed file is recomputed');
    assert.equal(doc2.fingerprintStatus.fromCache, 0);
    assert.equal(doc2.fingerprintStatus.model, reference.model, 'same values, same fingerprint');
    again.panel.dispose();
  });

  test('a model none of whose tensors can be read has no model fingerprint (not the hash of nothing)', async function () {
    this.timeout(120_000);
    const a = await api();
    const input = freshCopy();
    fs.rmSync(path.join(path.dirname(input), 'weights.bin'));
    const view = a.panels.show(vscode.Uri.file(input));
    const doc = view.document;
    await doc.whenOpened();
    await waitFor('the fingerprints', () => doc.fingerprintStatus.state === 'done' || doc.fingerprintStatus.state === 'failed', 60_000);
    const f = doc.fingerprintStatus;
    assert.deepEqual([f.state, f.model, f.modelTensorCount, f.partial], ['done', undefined, 0, true], JSON.stringify(f));
    assert.equal(a.fingerprints.get(vscode.Uri.file(input)), undefined, 'the tree has no fingerprint for it');
    view.panel.dispose();
  });

  test('the same model saved as Keras .h5 and as TF.js shows equal model fingerprints in the panel', async function () {
    this.timeout(180_000);
    const h5 = fixtureOrSkip(this, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5');
    // The TF.js twin: the model weights under the converter's names (no ':0'), same float32 values.
    const dir = tempDir('weightscope-twin-');
    const file = await openLocalPath(h5.fsPath);
    try {
      const weights: { name: string; shape: number[]; dtype: string }[] = [];
      const parts: Buffer[] = [];
      for (const t of file.tensors.filter((x) => x.group === 'model')) {
        weights.push({ name: normalizeTensorPath(t.name), shape: [...t.shape], dtype: 'float32' });
        for await (const chunk of t.readValues()) {
          const f = chunk instanceof Float32Array ? chunk : Float32Array.from(chunk);
          parts.push(Buffer.from(f.buffer, f.byteOffset, f.byteLength));
        }
      }
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(parts));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: null, weightsManifest: [{ paths: ['weights.bin'], weights }] }));
    } finally {
      await file.close();
    }
    const a = await api();
    const views = [a.panels.show(h5), a.panels.show(vscode.Uri.file(path.join(dir, 'model.json')))];
    try {
      for (const v of views) {
        await settled(v.document);
      }
      const [pa, pb] = views.map((v) => v.document.snapshot().fingerprint);
      assert.equal(views[0]!.document.weightFile?.format, 'keras-h5');
      assert.equal(views[1]!.document.weightFile?.format, 'tfjs-layers');
      assert.equal(pa!.model, pb!.model, 'equal model fingerprints across formats');
      assert.equal(pa!.model, await modelFingerprintOf(h5.fsPath));
      // fixtures/README.md: 9 Conv2D (kernel, bias) + 7 BatchNormalization (4 each) + Dense (kernel, bias).
      assert.equal(pa!.modelTensorCount, 9 * 2 + 7 * 4 + 2);
    } finally {
      views.forEach((v) => v.panel.dispose());
    }
  });

  test('identical files are grouped under Duplicates in the tree, by opened documents and by Find Duplicate Weights', async function () {
    this.timeout(300_000);
    const a = await api();
    const copies = ['copy-a', 'copy-b'].map((c) => vscode.Uri.file(path.join(workspaceDir(), 'duplicates', c, 'model.json')));
    assert.ok(copies.every((u) => fs.existsSync(u.fsPath)), 'the runner made duplicates/copy-a and copy-b');
    a.tree.refresh();
    const leases = copies.map((u) => a.store.acquire(u));
    try {
      for (const l of leases) {
        void l.document.analyze();
        await settled(l.document);
      }
      const roots = await waitFor('the Duplicates node', async () => {
        const r = await a.tree.getChildren();
        return r[0]?.kind === 'duplicates' ? r : undefined;
      });
      const groups = (await a.tree.getChildren(roots[0])) as DuplicateTreeNode[];
      const group = groups.find((g) => g.kind === 'duplicateGroup' && g.fingerprint === reference.model);
      assert.ok(group, `a group with the example's fingerprint: ${JSON.stringify(groups.map((g) => g.kind))}`);
      const members = (await a.tree.getChildren(group)) as WeightsTreeElement[];
      assert.deepEqual(
        members.map((m) => (m.kind === 'duplicateFile' ? path.relative(workspaceDir(), m.uri.fsPath) : m.kind)).sort(),
        ['duplicates/copy-a/model.json', 'duplicates/copy-b/model.json'],
      );
      assert.equal(a.tree.getTreeItem(group!).label, reference.model.slice(0, 12));
      const fileNode = roots.find((n) => n.kind === 'file' && n.uri.fsPath === copies[0]!.fsPath)!;
      assert.ok(fileNode, 'copy-a is listed');
      const item = a.tree.getTreeItem(fileNode);
      assert.match(String(item.description), /same weights as duplicates\/copy-b\/model\.json/);
      const tooltip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : String(item.tooltip);
      assert.ok(tooltip.includes(reference.model), 'the tooltip carries the full model fingerprint');
    } finally {
      leases.forEach((l) => l.dispose());
    }
    // Find Duplicate Weights (quiet: no quick pick) reports the same pair through the same index.
    const found = (await vscode.commands.executeCommand('weightscope.findDuplicates', 'quiet')) as { fingerprint: string; files: vscode.Uri[] }[] | undefined;
    const pair = found?.find((g) => g.fingerprint === reference.model);
    assert.ok(pair, `Find Duplicate Weights found the example pair: ${JSON.stringify(found?.map((g) => g.files.length))}`);
    assert.deepEqual(pair.files.map((u) => path.relative(workspaceDir(), u.fsPath)).sort(), ['duplicates/copy-a/model.json', 'duplicates/copy-b/model.json']);
  });
});
