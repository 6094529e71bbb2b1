/**
 * Broken files open into the error state (custom editor, panel and document), with the reason
 * the readers give, and never crash the extension.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, brokenFile, closeAllEditors, waitFor } from './helpers';

suite('broken files', () => {
  teardown(closeAllEditors);

  const cases: { name: string; reasons: string[]; why: string }[] = [
    { name: 'not-weights.h5', reasons: ['unrecognized'], why: 'text with an .h5 name' },
    { name: 'lfs-pointer.h5', reasons: ['gitLfsPointer'], why: 'a Git LFS pointer' },
    { name: 'empty.safetensors', reasons: ['empty'], why: 'a 0-byte file' },
  ];
  for (const c of cases) {
    test(`${c.why} shows the error state (${c.reasons.join('/')})`, async () => {
      const a = await api();
      const uri = brokenFile(c.name);
      await vscode.commands.executeCommand('vscode.openWith', uri, 'weightscope.weightsEditor');
      const view = await waitFor('the editor view', () => a.views.all().find((v) => v.document.uri.toString() === uri.toString()));
      await view.document.whenOpened();
      assert.equal(view.document.status, 'failed');
      assert.ok(c.reasons.includes(view.document.error!.reason), `reason ${view.document.error!.reason}`);
      assert.ok(view.document.error!.message.includes(c.name), 'the message names the file');
      const snap = view.document.snapshot();
      assert.equal(snap.status, 'failed');
      assert.equal(snap.error?.message, view.document.error!.message);
      assert.deepEqual(snap.tensors, []);
      await waitFor('the webview ready handshake', () => view.readyMessages > 0);
    });
  }

  // Without fixtures the runner writes a bare HDF5 signature instead: still a truncated HDF5 file.
  test('a truncated Keras .h5 fails with truncated/corrupt, not a crash', async () => {
    const a = await api();
    const uri = brokenFile('truncated.h5');
    await vscode.commands.executeCommand('weightscope.inspect', uri);
    const view = await waitFor('the panel', () => a.panels.find(uri));
    await view.document.whenOpened();
    assert.equal(view.document.status, 'failed');
    assert.ok(['truncated', 'corrupt'].includes(view.document.error!.reason), `reason ${view.document.error!.reason}: ${view.document.error!.message}`);
    await waitFor('the webview ready handshake', () => view.readyMessages > 0);
    // The extension is still healthy: another command works.
    await vscode.commands.executeCommand('weightscope.refresh');
  });
});
