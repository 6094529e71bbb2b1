/**
 * Weightscope: Refresh. The Weights view's title-bar button (no argument) refreshes the file list
 * only; it never reloads the last active weights panel (whose statistics a reload would discard).
 * Given a file, it reloads that file's document.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, closeAllEditors, waitFor, workspaceDir } from './helpers';

suite('refresh', () => {
  teardown(closeAllEditors);

  test("the view's Refresh (no argument) keeps the active panel's statistics; Refresh of a file reloads it", async function () {
    this.timeout(60_000);
    const a = await api();
    const uri = vscode.Uri.file(path.join(workspaceDir(), 'duplicates', 'copy-a', 'model.json'));
    const view = a.panels.show(uri);
    const doc = view.document;
    await doc.whenOpened();
    await waitFor('the analysis to finish', () => doc.analysis.state === 'done', 30_000);
    await waitFor('the panel to be the active weights view', () => a.views.active === view);
    let reloads = 0;
    const sub = doc.onDidChangeModel(() => reloads++);
    try {
      const analysed = doc.results.size;
      assert.ok(analysed > 0);
      await vscode.commands.executeCommand('weightscope.refresh');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reloads, 0, 'the document was not reloaded');
      assert.equal(doc.analysis.state, 'done');
      assert.equal(doc.results.size, analysed);

      await vscode.commands.executeCommand('weightscope.refresh', uri);
      assert.ok(reloads > 0, 'refreshing the file reloads it');
    } finally {
      sub.dispose();
    }
  });

  test('a changed weightscope.histogramBins leaves an open panel as it is until its Refresh, which analyses with the new bins', async function () {
    this.timeout(60_000);
    const a = await api();
    const uri = vscode.Uri.file(path.join(workspaceDir(), 'duplicates', 'copy-b', 'model.json'));
    const view = a.panels.show(uri);
    const doc = view.document;
    await doc.whenOpened();
    await waitFor('the analysis to finish', () => doc.analysis.state === 'done', 30_000);
    // the histograms' bins (those of an all-zero bias have none)
    const bins = (): number[] => [...doc.results.values()].flatMap((r) => (r.ok ? [r.stats.histogram.counts.length, r.stats.logHistogram.counts.length].filter((n) => n > 0) : []));
    const before = vscode.workspace.getConfiguration('weightscope').get<number>('histogramBins');
    assert.ok(bins().length > 0 && bins().every((n) => n === before), `bins ${bins().join(',')} (setting ${before})`);
    const config = vscode.workspace.getConfiguration('weightscope');
    await config.update('histogramBins', 16, vscode.ConfigurationTarget.Global);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(bins().every((n) => n === before), 'the open panel keeps its histograms');
      await vscode.commands.executeCommand('weightscope.refresh', uri);
      await waitFor('the analysis with the new bins', () => doc.analysis.state === 'done' && bins().length > 0 && bins().every((n) => n === 16), 30_000);
    } finally {
      await config.update('histogramBins', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
