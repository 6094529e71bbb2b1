/**
 * weightscope.workerCount is read the same way by every worker pool: a value out of range or not
 * whole (written by hand in settings.json) is clamped and rounded, never used as it is.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api } from './helpers';

suite('worker count setting', () => {
  test('the compare pool clamps weightscope.workerCount to 1..32 and rounds it', async () => {
    const a = await api();
    const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('weightscope');
    const set = async (value: number | undefined): Promise<void> => {
      await config().update('workerCount', value, vscode.ConfigurationTarget.Workspace);
      assert.equal(config().inspect('workerCount')?.workspaceValue, value);
    };
    try {
      await set(1000);
      assert.equal(a.diff.pool().size, 32);
      await set(2.4);
      assert.equal(a.diff.pool().size, 2);
      await set(-3);
      assert.ok(a.diff.pool().size >= 1 && a.diff.pool().size <= 4, `automatic: ${a.diff.pool().size}`);
    } finally {
      await set(undefined);
    }
  });
});
