/**
 * Diagnostics in the extension host: opening the badly initialized example model (uniform(-0.01,
 * 0.01) kernels) computes its statistics, then runs the check in the worker thread; the document's
 * report carries the initializer-scale errors, and the tree shows them on the layers and the file.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WeightsTreeNode } from '../../src/extension/weightsTree';
import { api, repoRoot, waitFor } from './helpers';

/** Committed example (examples/initialization): a 784-128-128-10 MLP whose kernels are uniform(-0.01, 0.01). */
const badInit = path.join(repoRoot, 'examples', 'initialization', 'bad-init-uniform-0.01', 'model.json');

/** Root mean square of each kernel (the scale the rule compares, `observedRms`), NumPy float64 over weights.bin: np.sqrt((a * a).mean()). */
const numpyRms: Record<string, number> = {
  'hidden1/kernel': 0.005744457776815924,
  'hidden2/kernel': 0.005803681586128423,
  'output/kernel': 0.0056890218368547095,
};

/** A tooltip's text without the escapes MarkdownString.appendText adds (backslashes, &nbsp;). */
function plain(tooltip: string | vscode.MarkdownString | undefined): string {
  return tooltip instanceof vscode.MarkdownString ? tooltip.value.replace(/&nbsp;/g, ' ').replace(/\\/g, '') : String(tooltip);
}

suite('diagnostics', () => {
  test('the bad-init model is diagnosed in the worker: initializer-scale errors on every kernel', async function () {
    this.timeout(120_000);
    const a = await api();
    const uri = vscode.Uri.file(badInit);
    const lease = a.store.acquire(uri);
    try {
      const doc = lease.document;
      await doc.whenOpened();
      assert.equal(doc.weightFile?.format, 'tfjs-layers');
      void doc.analyze();
      await waitFor('the diagnostics report', () => doc.diagnosticsStatus.state === 'done' || doc.diagnosticsStatus.state === 'failed', 90_000);
      assert.equal(doc.diagnosticsStatus.state, 'done', JSON.stringify(doc.diagnosticsStatus.error));
      const report = doc.diagnosticsReport!;
      const scale = report.diagnostics.filter((d) => d.code === 'initializer-scale');
      assert.deepEqual(scale.map((d) => d.tensor).sort(), Object.keys(numpyRms).sort());
      for (const d of scale) {
        assert.equal(d.severity, 'error', d.message);
        const observed = d.evidence.observedRms;
        const expected = numpyRms[d.tensor!]!;
        assert.equal(typeof observed, 'number');
        assert.ok(Math.abs((observed as number) - expected) <= 1e-5 * expected, `${d.tensor} observedRms ${String(observed)} vs NumPy ${expected}`);
      }
      // hidden1: fan_in 784 before relu, He std sqrt(2/784).
      const h1 = scale.find((d) => d.tensor === 'hidden1/kernel')!;
      assert.equal(h1.evidence.fanIn, 784);
      assert.ok(Math.abs((h1.evidence.expectedStd as number) - Math.sqrt(2 / 784)) < 1e-5, String(h1.evidence.expectedStd));
      assert.equal(report.summary.errors, report.diagnostics.filter((d) => d.severity === 'error').length);
      assert.ok(report.forecast.layers.length === 3, 'one forecast layer per Dense layer');
      assert.equal(doc.diagnosticsSnapshot().report, report, 'the panel snapshot carries the full report');

      // The tree: the layer gets the error icon and the message, the file its counts.
      const layer: WeightsTreeNode = { kind: 'layer', uri, layer: 'hidden1', tensors: ['hidden1/kernel', 'hidden1/bias'], params: 784 * 128 + 128 };
      const item = a.tree.getTreeItem(layer);
      assert.ok(item.iconPath instanceof vscode.ThemeIcon && item.iconPath.id === 'error', 'error icon on hidden1');
      assert.ok(plain(item.tooltip).includes('initializer-scale: hidden1/kernel'), plain(item.tooltip));
      const tensorItem = a.tree.getTreeItem({ kind: 'tensor', uri, tensor: 'output/kernel', layer: 'output' });
      assert.ok(tensorItem.iconPath instanceof vscode.ThemeIcon && tensorItem.iconPath.id === 'error', 'error icon on output/kernel');
      const fileItem = a.tree.getTreeItem({ kind: 'file', uri });
      assert.ok(plain(fileItem.tooltip).includes(`Diagnostics: ${report.summary.errors} errors, ${report.summary.warnings} warnings`), plain(fileItem.tooltip));
      assert.match(String(fileItem.description), new RegExp(`${report.summary.errors} errors`), 'the counts in the description');
    } finally {
      lease.dispose();
    }
  });
});
