/**
 * Export Report: JSON in the `weightscope inspect --json` shape, Markdown and CSV, written to new
 * files; stats checked against independent NumPy values.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, assertClose, closeAllEditors, fixtureOrSkip, referenceOf, tempDir, waitFor } from './helpers';

suite('export report', () => {
  let outDir: string;
  suiteSetup(() => {
    outDir = tempDir('ws-export-');
  });
  suiteTeardown(() => fs.rmSync(outDir, { recursive: true, force: true }));

  test('JSON report of a TF.js layers model has the inspect --json shape and reference stats', async function () {
    this.timeout(60_000);
    const rel = 'tfjs-layers/tfjs-e2e-layers-model/model.json';
    const uri = fixtureOrSkip(this, rel);
    await api();
    const target = vscode.Uri.file(path.join(outDir, 'report.json'));
    const written = await vscode.commands.executeCommand<string | null>('weightscope.exportReport', uri, 'json', target);
    assert.equal(written, target.fsPath);
    const report = JSON.parse(fs.readFileSync(target.fsPath, 'utf8')) as {
      format: string;
      path: string;
      tensors: { name: string; layer: string; role: string; group: string; dtype: string; shape: number[]; byteLength: number; stats: { mean: number; std: number; count: number } | null }[];
      layers: { name: string }[];
    };
    assert.equal(report.format, 'tfjs-layers');
    assert.ok(report.path.endsWith('model.json'));
    const ref = referenceOf(rel);
    assert.deepEqual(report.tensors.map((t) => t.name).sort(), Object.keys(ref).sort());
    for (const t of report.tensors) {
      for (const k of ['name', 'layer', 'role', 'group', 'dtype', 'shape', 'byteLength', 'stats'] as const) {
        assert.ok(k in t, `tensor field ${k}`);
      }
      assert.ok(t.stats, `stats of ${t.name}`);
      assert.equal(t.stats.count, ref[t.name]!.stats.count);
      assertClose(t.stats.mean, ref[t.name]!.stats.mean, 1e-9, `mean of ${t.name}`);
      assertClose(t.stats.std, ref[t.name]!.stats.std, 1e-9, `std of ${t.name}`);
    }
    assert.deepEqual(report.layers.map((l) => l.name), ['embedding_Embedding2', 'gru_GRU1']);
    assert.deepEqual(fs.readdirSync(outDir), ['report.json'], 'no temporary file left behind');
  });

  test('Markdown and CSV reports list every tensor', async function () {
    this.timeout(60_000);
    const rel = 'tfjs-layers/tfjs-e2e-layers-model/model.json';
    const uri = fixtureOrSkip(this, rel);
    await api();
    const ref = referenceOf(rel);
    const md = vscode.Uri.file(path.join(outDir, 'report.md'));
    await vscode.commands.executeCommand('weightscope.exportReport', uri, 'markdown', md);
    const mdText = fs.readFileSync(md.fsPath, 'utf8');
    assert.ok(mdText.startsWith('# model.json\n'));
    for (const name of Object.keys(ref)) {
      assert.ok(mdText.includes(`| ${name} |`), `markdown row of ${name}`);
    }
    const csv = vscode.Uri.file(path.join(outDir, 'report.csv'));
    await vscode.commands.executeCommand('weightscope.exportReport', uri, 'csv', csv);
    const lines = fs.readFileSync(csv.fsPath, 'utf8').trimEnd().split('\r\n');
    assert.equal(lines[0]!.split(',')[0], 'name');
    assert.equal(lines.length, 1 + Object.keys(ref).length);
  });

  test("Export Report in a weights panel's title bar exports the panel's file, not the panel's own URI", async function () {
    this.timeout(60_000);
    const uri = fixtureOrSkip(this, 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite');
    const ext = await api();
    await vscode.commands.executeCommand('weightscope.inspect', uri);
    await waitFor('the Inspect panel of hello_world_float.tflite to be active', () => ext.views.active?.document.uri.fsPath === uri.fsPath);
    // The editor title bar runs its commands with the active editor's resource; a webview panel's is
    // a webview-panel: URI of the panel itself (seen in the workbench), not a file to export.
    const panelResource = vscode.Uri.from({ scheme: 'webview-panel', path: 'webview-panel/webview-3f1c2a40-0d2e-4b8e-9a55-7d1e0c6b2f11' });
    const target = vscode.Uri.file(path.join(outDir, 'panel-title.json'));
    try {
      const written = await vscode.commands.executeCommand<string | null | undefined>('weightscope.exportReport', panelResource, 'json', target);
      assert.equal(written, target.fsPath, 'the report of the active panel is written');
      const report = JSON.parse(fs.readFileSync(target.fsPath, 'utf8')) as { format: string; path: string; tensors: unknown[] };
      assert.equal(report.format, 'tflite');
      assert.equal(path.basename(report.path), 'hello_world_float.tflite');
    } finally {
      await closeAllEditors();
    }
  });

  test('the save dialog suggests <file name without extension> for a file and the whole name for a model folder', async function () {
    this.timeout(60_000);
    const folder = fixtureOrSkip(this, 'tf-savedmodel/keras-lso-savedmodel-tf2.2');
    const file = fixtureOrSkip(this, 'keras-h5/alphabet-soup-charity-keras2.15/AlphabetSoupCharity.h5');
    await api();
    const window = vscode.window as { showSaveDialog: unknown };
    const realShowSaveDialog = window.showSaveDialog;
    const suggested: string[] = [];
    // The dialog is not shown: its suggestion is noted and the export cancelled.
    window.showSaveDialog = async (options?: vscode.SaveDialogOptions) => {
      suggested.push(options?.defaultUri?.fsPath ?? '(none)');
      return undefined;
    };
    try {
      assert.equal(await vscode.commands.executeCommand('weightscope.exportReport', folder, 'json'), null);
      assert.equal(await vscode.commands.executeCommand('weightscope.exportReport', file, 'csv'), null);
    } finally {
      window.showSaveDialog = realShowSaveDialog;
    }
    // The folder's name holds a dot ('tf2.2') that is no file extension.
    assert.deepEqual(suggested, [
      path.join(path.dirname(folder.fsPath), 'keras-lso-savedmodel-tf2.2.weightscope.json'),
      path.join(path.dirname(file.fsPath), 'AlphabetSoupCharity.weightscope.csv'),
    ]);
  });

  test('export refuses to overwrite the input file', async function () {
    this.timeout(60_000);
    const uri = fixtureOrSkip(this, 'tflite/tflm-hello-world-tf2.11/hello_world_float.tflite');
    await api();
    const before = fs.readFileSync(uri.fsPath);
    const written = await vscode.commands.executeCommand<string | null | undefined>('weightscope.exportReport', uri, 'json', uri);
    assert.equal(written, undefined, 'the command failed instead of writing');
    assert.deepEqual(fs.readFileSync(uri.fsPath), before, 'the input file is unchanged');
  });
});
