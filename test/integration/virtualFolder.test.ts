/**
 * Folders of other file systems (a non-`file:` workspace) open as local folders do: the model file
 * is chosen by the same rule, a Keras config beside a `.weights.h5` included (HDF5 is read through
 * a temporary copy), and a folder that is not one model names its weight files. Work that needs the
 * files on the local disk (training, gradient probes, comparisons, history, duplicate search) refuses
 * them with one sentence instead of using their paths as local ones.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, assertClose, captureMessages, closeAllEditors, fixtureOrSkip, MemoryFs, referenceKey, referenceOf, waitFor, workspaceDir } from './helpers';

suite('folders of other file systems', () => {
  teardown(closeAllEditors);

  test('a Keras config beside model.weights.h5 gives way to the weights file; a folder of two weight files names them', async function () {
    this.timeout(60_000);
    const folder = fixtureOrSkip(this, 'keras3-weights-h5/diabetes-simple-model').fsPath;
    const files = new Map<string, Uint8Array>();
    for (const f of ['model.json', 'model.weights.h5']) {
      files.set(`/k3/${f}`, fs.readFileSync(path.join(folder, f)));
    }
    files.set('/two/a.safetensors', new Uint8Array(8));
    files.set('/two/b.h5', new Uint8Array(8));
    const provider = vscode.workspace.registerFileSystemProvider('weightscope-memfolder', new MemoryFs(files), { isReadonly: true });
    const a = await api();
    try {
      // The folder opens its weights file, not the config as a TF.js model; HDF5 from another file
      // system is read through a temporary copy, and its statistics are those of h5py + NumPy.
      const view = a.panels.show(vscode.Uri.from({ scheme: 'weightscope-memfolder', path: '/k3' }));
      await view.document.whenOpened();
      assert.equal(view.document.status, 'open', JSON.stringify(view.document.error));
      const file = view.document.weightFile!;
      assert.equal(file.format, 'keras-v3-weights');
      const ref = referenceOf('keras3-weights-h5/diabetes-simple-model/model.weights.h5');
      assert.deepEqual(new Set(file.tensors.map(referenceKey)), new Set(Object.keys(ref)));
      await waitFor('the analysis to finish', () => view.document.analysis.state === 'done', 60_000);
      for (const t of file.tensors) {
        const r = view.document.results.get(t.name);
        assert.ok(r?.ok, `stats of ${t.name}`);
        const expected = ref[referenceKey(t)]!.stats;
        assert.equal(r.stats.count, expected.count, `count of ${t.name}`);
        assertClose(r.stats.mean, expected.mean, 1e-9, `mean of ${t.name}`);
        assertClose(r.stats.max, expected.max, 0, `max of ${t.name}`);
      }
      view.panel.dispose();

      const two = a.panels.show(vscode.Uri.from({ scheme: 'weightscope-memfolder', path: '/two' }));
      await two.document.whenOpened();
      assert.equal(two.document.status, 'failed');
      assert.equal(two.document.error?.reason, 'unrecognized');
      assert.match(two.document.error!.message, /holds 2 weight files \(a\.safetensors, b\.h5\), so name one of them\.$/);
      two.panel.dispose();
    } finally {
      provider.dispose();
    }
  });

  test('Train Model, Probe Gradients, compare and history refuse files of other file systems with one sentence; Find Duplicate Weights says how many it left out', async function () {
    this.timeout(60_000);
    const files = new Map<string, Uint8Array>([
      ['/o/r/model.h5', new Uint8Array(8)],
      ['/o/r/other.h5', new Uint8Array(8)],
      ['/o/r/kws.run.json', new TextEncoder().encode('{"model": "model.h5"}')],
    ]);
    const scheme = 'weightscope-memfolder';
    const provider = vscode.workspace.registerFileSystemProvider(scheme, new MemoryFs(files), { isReadonly: true });
    const uri = (p: string): vscode.Uri => vscode.Uri.from({ scheme, path: p });
    const a = await api();
    const panelsBefore = a.diff.panels.all().length;
    const runsDirs = [path.join(path.sep, 'o', 'r', 'weightscope-runs'), path.join(workspaceDir(), 'weightscope-runs', 'model.run.json')];
    const existedBefore = runsDirs.map((d) => fs.existsSync(d));
    const messages = captureMessages();
    const realFindFiles = vscode.workspace.findFiles;
    try {
      const refusal = (p: string, work: string): string => `Weightscope: ${scheme}:${p}: ${work} works on local files only (scheme '${scheme}').`;
      // A run spec is run without questions, so nothing waits for an answer here.
      await vscode.commands.executeCommand('weightscope.trainModel', uri('/o/r/kws.run.json'));
      assert.deepEqual(messages.errors, [refusal('/o/r/kws.run.json', 'training')]);
      const report = await vscode.commands.executeCommand('weightscope.probeGradients', uri('/o/r/model.h5'), { distribution: 'normal' });
      assert.equal(report, undefined);
      assert.deepEqual(messages.errors.slice(1), [refusal('/o/r/model.h5', 'probing gradients')]);
      // Refused before a panel opens.
      await vscode.commands.executeCommand('weightscope.compareWeights', uri('/o/r/model.h5'), [uri('/o/r/model.h5'), uri('/o/r/other.h5')]);
      await vscode.commands.executeCommand('weightscope.showHistory', uri('/o/r'));
      assert.deepEqual(messages.errors.slice(2), [refusal('/o/r/model.h5', 'comparing'), refusal('/o/r', 'showing a weight history')]);
      assert.equal(a.diff.panels.all().length, panelsBefore, 'no diff panel opened');
      assert.deepEqual(runsDirs.map((d) => fs.existsSync(d)), existedBefore, 'no run folder or spec written for the virtual model');
      assert.ok(!vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => /^(Gradient probe|Training|Diff|History): /.test(t.label))), 'no panel opened');

      // The Weights view offers its comparison items on local files only (package.json's view/item/context).
      assert.equal(a.tree.getTreeItem({ kind: 'file', uri: uri('/o/r/model.h5') }).contextValue, 'weightscope.virtualFile');
      assert.equal(a.tree.getTreeItem({ kind: 'file', uri: vscode.Uri.file(path.join(workspaceDir(), 'model.h5')) }).contextValue, 'weightscope.file');

      // A virtual workspace's search finds files of its own scheme: they are counted, not silently dropped.
      (vscode.workspace as { findFiles: unknown }).findFiles = async () => [uri('/o/r/model.h5'), uri('/o/r/other.h5')];
      const groups = await vscode.commands.executeCommand('weightscope.findDuplicates');
      assert.deepEqual(groups, []);
      assert.deepEqual(messages.infos, ['Weightscope: no duplicate weights among 0 local weight files; 2 weight files not on the local file system were left out.']);
    } finally {
      (vscode.workspace as { findFiles: unknown }).findFiles = realFindFiles;
      messages.restore();
      provider.dispose();
    }
  });
});
