/**
 * TF.js runtime in the extension host: Run Experiment (Precision) runs in the worker thread and
 * writes its variants' checkpoints into the workspace; the host's event loop stays responsive
 * while it trains.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, workspaceDir } from './helpers';

suite('runtime', () => {
  test('Run Experiment (precision) trains in the worker and writes float32, float16 and uint8 checkpoints', async function () {
    this.timeout(240_000);
    await api();
    const out = path.join(workspaceDir(), 'weightscope-runs', 'experiments', 'precision');
    fs.rmSync(out, { recursive: true, force: true });
    // The host must keep ticking while TF.js trains in the worker.
    let ticks = 0;
    let worstGapMs = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
      ticks++;
    }, 20);
    try {
      await vscode.commands.executeCommand('weightscope.runExperiment', 'precision');
    } finally {
      clearInterval(timer);
    }
    for (const dir of ['float32/epoch-000', 'float32/epoch-010', 'float16', 'uint8']) {
      assert.ok(fs.existsSync(path.join(out, dir, 'model.json')), `${dir}/model.json written`);
    }
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'uint8', 'model.json'), 'utf8')) as { weightsManifest: { weights: { quantization?: { dtype: string } }[] }[]; userDefinedMetadata: { weightscope: { experiment: string } } };
    assert.equal(meta.userDefinedMetadata.weightscope.experiment, 'precision');
    assert.ok(meta.weightsManifest[0]!.weights.every((w) => w.quantization?.dtype === 'uint8'));
    assert.ok(ticks > 10, `the host event loop ticked ${ticks} times during the run`);
    assert.ok(worstGapMs < 2000, `longest host event-loop stall ${worstGapMs} ms`);
  });
});
