/**
 * Diagnostics and fingerprints start a fresh worker thread per file: all files' together run at
 * most weightscope.workerCount at once, however many files are opened (or expanded in the tree).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type * as WorkerThreads from 'node:worker_threads';
import { api, copyExample, tempDir, waitFor } from './helpers';

suite('diagnostics and fingerprint workers', () => {
  test('five files opened at once run at most weightscope.workerCount check and fingerprint workers at a time', async function () {
    this.timeout(120_000);
    const a = await api();
    const config = vscode.workspace.getConfiguration('weightscope');
    await config.update('workerCount', 1, vscode.ConfigurationTarget.Workspace);
    // The extension's bundle looks the Worker class up on the module each time it starts one.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const threads = require('node:worker_threads') as { Worker: typeof WorkerThreads.Worker };
    const RealWorker = threads.Worker;
    let alive = 0;
    let peak = 0;
    let started = 0;
    threads.Worker = class extends RealWorker {
      constructor(script: string | URL, options?: WorkerThreads.WorkerOptions) {
        super(script, options);
        if (/(check|fingerprint)Worker\.js$/.test(String(script))) {
          started++;
          peak = Math.max(peak, ++alive);
          this.once('exit', () => alive--);
        }
      }
    };
    const root = tempDir('weightscope-worker-limit-');
    const leases = ['a', 'b', 'c', 'd', 'e'].map((n) => a.store.acquire(vscode.Uri.file(copyExample('good-init-glorot-uniform', path.join(root, n)))));
    try {
      const docs = leases.map((l) => l.document);
      await Promise.all(docs.map((d) => d.whenOpened()));
      for (const d of docs) {
        void d.analyze();
      }
      await waitFor(
        'every file diagnosed and fingerprinted',
        () => docs.every((d) => d.diagnosticsStatus.state === 'done' && d.fingerprintStatus.state === 'done'),
        90_000,
      );
      assert.equal(started, 10, 'a check and a fingerprint worker per file');
      assert.equal(peak, 1, `at most one worker at a time (weightscope.workerCount 1); ${peak} ran at once`);
    } finally {
      threads.Worker = RealWorker;
      for (const l of leases) {
        l.dispose();
      }
      await config.update('workerCount', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
