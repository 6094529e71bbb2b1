/**
 * Opening each fixture format through the custom editor: the editor tab appears, its webview
 * loads and says `ready` (the bundled script ran under the CSP), the shared document opens with
 * the expected format and tensors, and the statistics match independent NumPy/h5py values.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { WeightscopeApi } from '../../src/extension/extension';
import type { WeightsView } from '../../src/extension/weightsView';
import { api, assertClose, closeAllEditors, fixtureOrSkip, referenceKey, referenceOf, waitFor } from './helpers';

/** One fixture per format: file, expected format id, editor view type, and independent expectations. */
const cases: { file: string; format: string; viewType: string; reference?: boolean; expectNames?: Record<string, number[]>; tensorCount?: number }[] = [
  { file: 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5', format: 'keras-h5', viewType: 'weightscope.weightsEditor', reference: true },
  { file: 'keras3-keras/keras-masking-lstm-3.8/model.keras', format: 'keras-v3', viewType: 'weightscope.weightsEditor', reference: true },
  { file: 'keras3-weights-h5/diabetes-simple-model/model.weights.h5', format: 'keras-v3-weights', viewType: 'weightscope.weightsEditor', reference: true },
  { file: 'tfjs-layers/tfjs-e2e-layers-model/model.json', format: 'tfjs-layers', viewType: 'weightscope.weightsEditor.json', reference: true },
  { file: 'tfjs-graph/tfjs-e2e-graph-model/model.json', format: 'tfjs-graph', viewType: 'weightscope.weightsEditor.json', reference: true },
  // README: Sequential([Dense(2)]) written by TF 2.2; the object graph names the variables sequential/dense/*.
  {
    file: 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2/ckpt.index',
    format: 'tf-checkpoint',
    viewType: 'weightscope.weightsEditor',
    expectNames: { 'sequential/dense/kernel': [2, 2], 'sequential/dense/bias': [2] },
  },
  {
    file: 'tf-savedmodel/keras-lso-savedmodel-tf2.2/saved_model.pb',
    format: 'tf-savedmodel',
    viewType: 'weightscope.weightsEditor',
    expectNames: { 'sequential/dense/kernel': [2, 2], 'sequential/dense/bias': [2] },
  },
  // README: 6 constants, kernels [16,1], [16,16], [1,16] plus biases.
  { file: 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite', format: 'tflite', viewType: 'weightscope.weightsEditor', tensorCount: 6 },
];

/** The view of `uri` created by the custom editor. */
function editorView(a: WeightscopeApi, uri: vscode.Uri): WeightsView | undefined {
  return a.views.all().find((v) => v.document.uri.toString() === uri.toString() && v.panel.viewType.includes('weightscope.weightsEditor'));
}

suite('custom editor', () => {
  teardown(closeAllEditors);

  for (const c of cases) {
    test(`opens ${c.format}: ${c.file}`, async function () {
      this.timeout(90_000);
      const uri = fixtureOrSkip(this, c.file);
      const a = await api();
      await vscode.commands.executeCommand('vscode.openWith', uri, c.viewType);
      const tab = await waitFor('the custom editor tab', () =>
        vscode.window.tabGroups.all
          .flatMap((g) => g.tabs)
          .find((t) => t.input instanceof vscode.TabInputCustom && t.input.uri.toString() === uri.toString() && t.input.viewType === c.viewType),
      );
      assert.ok(tab.label.length > 0);
      const view = await waitFor('the editor view', () => editorView(a, uri));
      const doc = view.document;
      await doc.whenOpened();
      assert.equal(doc.status, 'open', `opened without error: ${doc.error?.message ?? ''}`);
      const file = doc.weightFile!;
      assert.equal(file.format, c.format);
      await waitFor('the webview ready handshake', () => view.readyMessages > 0);
      if (c.reference) {
        const ref = referenceOf(c.file);
        assert.deepEqual(new Set(file.tensors.map(referenceKey)), new Set(Object.keys(ref)), 'tensors equal the h5py/JSON reference');
        for (const t of file.tensors) {
          assert.deepEqual([...t.shape], ref[referenceKey(t)]!.shape, `shape of ${t.name}`);
        }
      }
      if (c.expectNames) {
        const byName = new Map(file.tensors.map((t) => [t.name, t]));
        for (const [name, shape] of Object.entries(c.expectNames)) {
          assert.deepEqual([...(byName.get(name)?.shape ?? [])], shape, `tensor ${name}`);
        }
      }
      if (c.tensorCount !== undefined) {
        assert.equal(file.tensors.length, c.tensorCount);
      }
      // Small files are analysed on open, in worker threads.
      await waitFor('the analysis to finish', () => doc.analysis.state === 'done', 60_000);
      const analysable = file.tensors.filter((t) => !t.unavailable && t.dtype !== 'string' && t.dtype !== 'bool');
      assert.ok(analysable.length > 0);
      for (const t of analysable) {
        const r = doc.results.get(t.name);
        assert.ok(r?.ok, `stats of ${t.name}: ${r && !r.ok ? r.error.message : 'missing'}`);
      }
      if (c.reference) {
        const ref = referenceOf(c.file);
        for (const t of analysable) {
          const r = doc.results.get(t.name)!;
          assert.ok(r.ok);
          const expected = ref[referenceKey(t)]!.stats;
          assert.equal(r.stats.count, expected.count, `count of ${t.name}`);
          assert.equal(r.stats.zeroCount, expected.zeroCount, `zeros of ${t.name}`);
          assertClose(r.stats.mean, expected.mean, 1e-9, `mean of ${t.name}`);
          assertClose(r.stats.std, expected.std, 1e-9, `std of ${t.name}`);
          assertClose(r.stats.min, expected.min, 0, `min of ${t.name}`);
          assertClose(r.stats.max, expected.max, 0, `max of ${t.name}`);
        }
      }
    });
  }

  test('one shared document per file across editor and panel', async function () {
    this.timeout(60_000);
    const uri = fixtureOrSkip(this, 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite');
    const a = await api();
    await vscode.commands.executeCommand('vscode.openWith', uri, 'weightscope.weightsEditor');
    const editor = await waitFor('the editor view', () => editorView(a, uri));
    await vscode.commands.executeCommand('weightscope.inspect', uri);
    const panel = await waitFor('the inspect panel', () => a.panels.find(uri));
    assert.equal(panel.document, editor.document, 'the panel and the editor share one WeightsDocument');
    assert.equal(a.store.all().filter((d) => d.uri.toString() === uri.toString()).length, 1);
    await waitFor('the panel webview ready', () => panel.readyMessages > 0);
    await waitFor('a webview tab for the panel', () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes('weightscope.weightsPanel')),
    );
  });
});
