/**
 * Folders of other file systems (a non-`file:` workspace) open as local folders do: the model file
 * is chosen by the same rule, a Keras config beside a `.weights.h5` included (HDF5 is read through
 * a temporary copy), and a folder that is not one model names its weight files.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, assertClose, closeAllEditors, fixtureOrSkip, MemoryFs, referenceKey, referenceOf, waitFor } from './helpers';

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
});
