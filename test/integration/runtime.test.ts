/**
 * TF.js runtime in the extension host: Run Experiment (Precision) runs in the worker thread and
 * writes its variants' checkpoints into the workspace; the host's event loop stays responsive
 * while it trains. Probe Gradients and Train Model run on a tf.keras SavedModel (the KWS DS-CNN,
 * whose training config names a sparse categorical loss).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProbeReport } from '../../src/runtime/probeReport';
import type { EpochMetrics } from '../../src/runtime/training';
import { api, fixtureOrSkip, repoRoot, workspaceDir } from './helpers';

/** The DS-CNN SavedModel folder (fixtures/README.md: 5 Conv2D, 4 DepthwiseConv2D, BatchNormalization after each, one Dense). */
const kws = 'tflite/mlperf-tiny-kws-dscnn-tf2.3/kws_ref_model';

/** Layers holding variables in the DS-CNN, from the variable names scripts/reference-runtime.py read with its own bundle reader. */
function kwsLayersWithWeights(): string[] {
  const file = path.join(repoRoot, 'test', 'unit', 'runtime', 'modelBuilder.reference.json');
  const ref = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { variables?: Record<string, unknown> }>;
  return [...new Set(Object.keys(ref[kws]?.variables ?? {}).map((v) => v.split('/')[0]!))].sort();
}

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

  test('Probe Gradients on the KWS DS-CNN saved_model.pb reports a gradient norm for every layer with weights', async function () {
    this.timeout(240_000);
    await api();
    const model = vscode.Uri.joinPath(fixtureOrSkip(this, kws), 'saved_model.pb');
    // with an options object nothing is asked; the command resolves to the report the panel shows
    const report = await vscode.commands.executeCommand<ProbeReport | undefined>('weightscope.probeGradients', model, { distribution: 'normal' });
    assert.ok(report, 'the probe finished with a report');
    assert.equal(report.formatName, 'TensorFlow SavedModel');
    assert.equal(report.probe.lossName, 'sparseCategoricalCrossentropy');
    assert.equal(report.probe.lossSource, 'training config');
    assert.ok(report.probe.loss !== null && report.probe.loss > 0, `loss ${report.probe.loss}`);
    const weighted = report.probe.layers.filter((l) => l.hasWeights);
    const expected = kwsLayersWithWeights();
    assert.equal(expected.length, 19, 'reference: 5 Conv2D + 4 DepthwiseConv2D + 9 BatchNormalization + 1 Dense');
    assert.deepEqual(weighted.map((l) => l.layer).sort(), expected);
    for (const l of weighted) {
      assert.ok(l.gradNorm !== null && Number.isFinite(l.gradNorm) && l.gradNorm > 0, `${l.layer}: gradient norm ${l.gradNorm}`);
      assert.ok(l.weightNorm !== null && l.weightNorm > 0, `${l.layer}: weight norm ${l.weightNorm}`);
    }
    assert.equal(report.probe.firstNonFiniteLayer, undefined);
    // the convolution gradients the WebAssembly backend lacks are supplied: no fallback for a missing kernel
    assert.ok(!report.backend.fallbacks.some((f) => /has no '[^']+' kernel/.test(f)), report.backend.fallbacks.join(' '));
    if (report.backend.name === 'cpu') {
      assert.ok(report.backend.fallbacks.length > 0, 'the report says why the CPU backend is used');
    }
    assert.deepEqual(report.probe.layers.filter((l) => !l.hasWeights).map((l) => l.gradNorm), report.probe.layers.filter((l) => !l.hasWeights).map(() => null));
  });

  test('Train Model on the KWS DS-CNN SavedModel folder with synthetic data (sparse loss) writes a run named after the folder', async function () {
    this.timeout(240_000);
    await api();
    const folder = fixtureOrSkip(this, kws);
    const specDir = path.join(workspaceDir(), 'weightscope-runs');
    const runs = path.join(specDir, 'runs');
    const before = new Set(fs.existsSync(runs) ? fs.readdirSync(runs) : []);
    fs.mkdirSync(specDir, { recursive: true });
    const specFile = path.join(specDir, 'kws-synthetic.run.json');
    const spec = { model: path.relative(specDir, folder.fsPath), synthetic: { samples: 24, seed: 2 }, epochs: 1, batchSize: 8 };
    fs.writeFileSync(specFile, JSON.stringify(spec));
    // a run spec is run as it is, without questions
    await vscode.commands.executeCommand('weightscope.trainModel', vscode.Uri.file(specFile));
    const made = fs.readdirSync(runs).filter((d) => !before.has(d));
    assert.equal(made.length, 1, `one new run folder (got ${made.join(', ')})`);
    assert.match(made[0]!, /^kws_ref_model-\d{4}-\d{2}-\d{2}T/);
    const run = JSON.parse(fs.readFileSync(path.join(runs, made[0]!, 'run.json'), 'utf8')) as { loss: string; history: EpochMetrics[]; checkpoints: string[]; stopped?: string };
    assert.equal(run.stopped, undefined);
    assert.equal(run.loss, 'sparseCategoricalCrossentropy');
    assert.deepEqual(run.checkpoints, ['epoch-000', 'epoch-001']);
    const h = run.history[0]!;
    assert.ok(typeof h.loss === 'number' && Number.isFinite(h.loss), `loss ${h.loss}`);
    assert.ok(typeof h.acc === 'number' && h.acc >= 0 && h.acc <= 1, `acc ${h.acc}`);
    fs.rmSync(path.join(runs, made[0]!), { recursive: true, force: true });
    fs.rmSync(specFile, { force: true });
  });
});
