/**
 * Activation and contributions: the extension activates, every command of package.json is
 * registered, and the Weights view and custom editors are contributed.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, extensionId, repoRoot } from './helpers';

interface Manifest {
  contributes: { commands: { command: string; title: string; category: string }[]; customEditors: { viewType: string; priority: string }[] };
  activationEvents: string[];
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;

suite('activation', () => {
  test('the extension activates and returns its API', async () => {
    const a = await api();
    assert.ok(vscode.extensions.getExtension(extensionId)?.isActive);
    assert.equal(typeof a.store.acquire, 'function');
    assert.equal(typeof a.panels.show, 'function');
  });

  test('every contributed command is registered', async () => {
    await api();
    const registered = new Set(await vscode.commands.getCommands(true));
    const contributed = manifest.contributes.commands.map((c) => c.command);
    assert.deepEqual(
      contributed.filter((c) => !registered.has(c)),
      [],
      'contributed but not registered',
    );
    for (const id of ['weightscope.openFile', 'weightscope.inspect', 'weightscope.refresh', 'weightscope.exportReport', 'weightscope.showOutput']) {
      assert.ok(registered.has(id), `${id} is registered`);
    }
    const titles = manifest.contributes.commands.filter((c) => c.category === 'Weightscope').map((c) => c.title);
    for (const t of ['Open Weights File...', 'Inspect Weights', 'Refresh', 'Export Report', 'Show Output']) {
      assert.ok(titles.includes(t), `palette title '${t}'`);
    }
  });

  test('the panel serializer activation event and both custom editors are contributed', () => {
    assert.ok(manifest.activationEvents.includes('onWebviewPanel:weightscope.weightsPanel'));
    const editors = Object.fromEntries(manifest.contributes.customEditors.map((e) => [e.viewType, e.priority]));
    assert.equal(editors['weightscope.weightsEditor'], 'default');
    assert.equal(editors['weightscope.weightsEditor.json'], 'option');
  });

  test('Show Output runs without error', async () => {
    await api();
    await vscode.commands.executeCommand('weightscope.showOutput');
  });
});
