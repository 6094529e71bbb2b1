import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../src/runtime/backend';
import { runExperiment } from '../../../src/runtime/experiments';
import { BackendHolds } from '../../../src/runtime/backendHolds';
import { probeFile, type ProbeReport } from '../../../src/runtime/probeReport';
import { ensureGradientBackend, probeModel } from '../../../src/runtime/probe';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';
import type { TrainEvent } from '../../../src/runtime/training';
import { makeTempDir } from '../helpers/fixtures';
import { saveModel } from '../helpers/runtimeData';

// This file runs in its own process (node --test), so the WASM backend chosen here is not shared.
let tf: Tf;
let tfl: Tfl;
let wasm: BackendInfo;
before(async () => {
  ({ tf, tfl, info: wasm } = await initLayers({ preferred: 'wasm' }));
});

/** [6, 6, 1] images -> Conv2D(4, 3x3) -> Flatten -> Dense(3, softmax), seeded. */
function convNet(): LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'conv' }));
  m.add(tfl.layers.flatten({ name: 'flat' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'out' }));
  return m;
}

/**
 * Runs `fn` with `kernel` taken out of the WASM backend's registry, as if the backend lacked it
 * (it has every gradient kernel Keras layers need since Weightscope registers the missing ones;
 * this is how the fallback for a kernel it lacks is exercised).
 */
async function withoutWasmKernel<T>(kernel: string, fn: () => Promise<T>): Promise<T> {
  const config = tf.getKernel(kernel, 'wasm');
  assert.ok(config, `the WASM backend has ${kernel}`);
  tf.unregisterKernel(kernel, 'wasm');
  try {
    return await fn();
  } finally {
    tf.registerKernel(config);
  }
}

function denseNet(): LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [5], units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), name: 'out' }));
  return m;
}

test('a model whose gradients need a kernel the WASM backend lacks: the probe falls back to the CPU backend and says so', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  await withoutWasmKernel('Conv2DBackpropFilter', () => convNetFallsBack());
});

async function convNetFallsBack(): Promise<void> {
  const m = convNet();
  // the premise: on WASM the conv net's gradients cannot be computed
  await assert.rejects(probeModel(m, tf, tfl, { batchSize: 2 }), /Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
  const weightsBefore = m.getWeights().map((w) => Array.from(w.dataSync()));
  const numTensors = tf.memory().numTensors;
  const used = await ensureGradientBackend(tf, wasm, m);
  assert.equal(used.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.match(used.fallbacks.at(-1)!, /has no 'Conv2DBackpropFilter' kernel, which this model's gradients need, so the CPU backend is used/);
  assert.equal(tf.memory().numTensors, numTensors, 'the trial pass leaves no tensors behind');
  assert.deepEqual(m.getWeights().map((w) => Array.from(w.dataSync())), weightsBefore, 'the weights moved to the CPU backend unchanged');
  const p = await probeModel(m, tf, tfl, { batchSize: 2 });
  assert.deepEqual(p.layers.filter((l) => l.hasWeights).map((l) => l.layer), ['conv', 'out']);
  assert.ok(p.layers.filter((l) => l.hasWeights).every((l) => l.gradNorm !== null && l.gradNorm > 0));
  m.dispose();
  // the next model (dense only) gets the WASM backend back: its gradients run there
  const d = denseNet();
  assert.deepEqual(await ensureGradientBackend(tf, wasm, d), wasm);
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok((await probeModel(d, tf, tfl, { batchSize: 2 })).layers[0]!.gradNorm! > 0);
  d.dispose();
}

test('probe and training of a model file whose gradients need a kernel the WASM backend lacks run on the CPU backend, recorded in the report and the checkpoints', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  await withoutWasmKernel('Conv2DBackpropFilter', () => convFileFallsBack());
});

async function convFileFallsBack(): Promise<void> {
  const dir = makeTempDir();
  const report = await probeFile(await saveModel(tf, convNet(), path.join(dir, 'model')), { backend: 'wasm', batchSize: 4 });
  assert.equal(report.backend.name, 'cpu');
  assert.match(report.backend.fallbacks.join(' '), /Conv2DBackpropFilter/);
  assert.ok(report.probe.layers.find((l) => l.layer === 'conv')!.gradNorm! > 0);

  const specFile = path.join(dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 20, seed: 1 }, epochs: 1, batchSize: 5, outDir: 'run' }));
  const events: TrainEvent[] = [];
  const done = await trainFromSpec(await readRunSpec(specFile), dir, { backend: 'wasm', onEvent: (e) => events.push(e) });
  assert.equal(done.stopped, undefined);
  const start = events.find((e) => e.type === 'start');
  assert.equal(start?.type === 'start' ? start.backend.name : undefined, 'cpu');
  assert.ok(Number.isFinite(done.history[0]!.loss));
  const meta = JSON.parse(fs.readFileSync(path.join(done.checkpoints[1]!, 'model.json'), 'utf8')) as { userDefinedMetadata: { weightscope: { backend: string } } };
  assert.equal(meta.userDefinedMetadata.weightscope.backend, 'cpu');
}

test('an experiment after a run that fell back to the CPU backend runs on the chosen backend again', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  const m = convNet();
  assert.equal((await withoutWasmKernel('Conv2DBackpropFilter', () => ensureGradientBackend(tf, wasm, m))).name, 'cpu');
  m.dispose();
  assert.equal(tf.getBackend(), 'cpu');
  const result = await runExperiment('precision', { outDir: makeTempDir(), backend: 'wasm', epochs: 1 });
  assert.equal(result.backend.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm', 'the experiment ran where its result says');
  const meta = JSON.parse(fs.readFileSync(path.join(result.variants[0]!.checkpoints[1]!, 'model.json'), 'utf8')) as { userDefinedMetadata: { weightscope: { backend: string } } };
  assert.equal(meta.userDefinedMetadata.weightscope.backend, 'wasm');
});

test('jobs side by side (as in the extension’s worker): a run that falls back to the CPU backend keeps it while a probe asking for WASM waits for the run to end, then probes on WASM', async (t) => {
  if (wasm.name !== 'wasm') {
    t.skip(`the WASM backend is not available here: ${wasm.fallbacks.join(' ')}`);
    return;
  }
  await withoutWasmKernel('Conv2DBackpropFilter', () => sideBySide());
});

async function sideBySide(): Promise<void> {
  const dir = makeTempDir();
  await saveModel(tf, convNet(), path.join(dir, 'conv'));
  const denseFile = await saveModel(tf, denseNet(), path.join(dir, 'dense'));
  const specFile = path.join(dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ model: 'conv/model.json', synthetic: { samples: 60, seed: 1 }, epochs: 3, batchSize: 5, outDir: 'run' }));
  const holds = new BackendHolds();
  const order: string[] = [];
  const runHold = holds.open((held) => order.push(`run waits for ${held}`));
  let probing: Promise<ProbeReport> | undefined;
  const probeHold = holds.open((held) => order.push(`probe waits for ${held}`));
  const run = trainFromSpec(await readRunSpec(specFile), dir, {
    backend: 'wasm',
    hold: runHold,
    onEvent: (e) => {
      if (e.type === 'start') {
        order.push(`run starts on ${e.backend.name}`);
        // the probe comes while the run trains on the CPU backend
        probing = probeFile(denseFile, { backend: 'wasm', batchSize: 4, hold: probeHold }).finally(() => probeHold.close());
      }
    },
  }).finally(() => {
    order.push(`run ended on ${tf.getBackend()}`);
    runHold.close();
  });
  const done = await run;
  assert.equal(done.stopped, undefined);
  assert.equal(done.history.length, 3, 'every epoch ran, on the CPU backend that has the kernel');
  assert.ok(done.history.every((h) => Number.isFinite(h.loss)));
  const meta = JSON.parse(fs.readFileSync(path.join(done.checkpoints.at(-1)!, 'model.json'), 'utf8')) as { userDefinedMetadata: { weightscope: { backend: string } } };
  assert.equal(meta.userDefinedMetadata.weightscope.backend, 'cpu');
  assert.ok(probing, 'the probe started during the run');
  const report = await probing;
  assert.equal(report.backend.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm', 'the probe ran where its report says');
  assert.ok(report.probe.layers.find((l) => l.layer === 'out')!.gradNorm! > 0);
  assert.deepEqual(order, ['run starts on cpu', 'probe waits for cpu', 'run ended on cpu']);
  assert.deepEqual(holds.held(), []);
}
