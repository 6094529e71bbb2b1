/**
 * Restoring a training panel after a reload: the saved webview state is checked field by field,
 * and run folders written by a real training run (runTraining on the CPU backend) complete it;
 * a run that was still going is shown as interrupted, one that finished as done.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { epochsFromRunFile, parseSavedState, probeDto, readRunFile, restoreTrainingState, trainingEndMessage } from '../../../../src/extension/runtime/trainingPanelState';
import type { TrainingPanelStateDto } from '../../../../src/protocol/trainingPanel';
import { initLayers, type BackendInfo, type Tf, type Tfl } from '../../../../src/runtime/backend';
import type { ProbeReport } from '../../../../src/runtime/probeReport';
import { runTraining, type EpochMetrics, type TrainEvent } from '../../../../src/runtime/training';
import { makeTempDir } from '../../helpers/fixtures';

let tf: Tf;
let tfl: Tfl;
let info: BackendInfo;
before(async () => {
  ({ tf, tfl, info } = await initLayers({ preferred: 'cpu' }));
});

/** Trains a 4-8-2 model on synthetic clusters for `epochs` epochs; `onEpoch` sees each epoch event. */
async function train(runDir: string, epochs: number, onEpoch?: (e: Extract<TrainEvent, { type: 'epoch' }>) => void): Promise<EpochMetrics[]> {
  const model = tfl.sequential({ name: 'small' });
  model.add(tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'hidden' }));
  model.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), name: 'output' }));
  try {
    const done = await runTraining(
      { model: 'small', epochs, batchSize: 16, synthetic: { samples: 64 } },
      { tf, tfl, backend: info, model, runDir, onEvent: (e) => (e.type === 'epoch' ? onEpoch?.(e) : undefined) },
    );
    return done.history;
  } finally {
    model.dispose();
  }
}

/** The snapshot a panel held after `epochs` epoch events of a run in `runDir`. */
function snapshot(runDir: string, history: EpochMetrics[], epochs: number, status: TrainingPanelStateDto['status']): TrainingPanelStateDto {
  return {
    title: 'Training: small.h5',
    mode: 'train',
    backend: 'CPU (plain JavaScript)',
    fallbacks: [],
    status,
    message: `small.h5: epoch ${epochs} done, checkpoint written`,
    runs: [
      {
        name: 'small.h5',
        layers: ['hidden', 'output'],
        steps: [{ step: 0, epoch: 1, loss: 0.7, acc: 0.5, layers: [[1.5, 0.2, 0.01], [0.9, 0.1, null]] }],
        epochs: history.slice(0, epochs).map((h, i) => ({
          epoch: i + 1,
          loss: h.loss,
          acc: h.acc ?? null,
          valLoss: h.val_loss ?? null,
          valAcc: h.val_acc ?? null,
          checkpoint: path.join(runDir, `epoch-00${i + 1}`),
        })),
        runDir,
      },
    ],
    warnings: [{ severity: 'warning', code: 'gradient-exploding', layer: 'hidden', message: 'm' }],
    probe: null,
  };
}

test('parseSavedState: a snapshot survives the JSON round trip of setState; foreign or malformed state is refused or trimmed', () => {
  const s = snapshot('/runs/small-1', [{ loss: 0.69, acc: 0.5, val_loss: 0.7, val_acc: 0.4 }], 1, 'done');
  s.data = 'iris.csv: 150 samples, 4 features, 3 classes';
  assert.deepEqual(parseSavedState(JSON.parse(JSON.stringify(s))), s);
  for (const bad of [undefined, null, 'state', [], { title: 'x' }, { title: 'x', mode: 'inspect' }, { mode: 'train' }]) {
    assert.equal(parseSavedState(bad), undefined, JSON.stringify(bad));
  }
  const odd = parseSavedState({
    title: 'Experiment: initialization',
    mode: 'experiment',
    status: 'paused',
    runs: [{ name: 'a', layers: ['l', 3], steps: [{ step: 'x', epoch: 1 }, { step: 2, epoch: 1, loss: 'NaN', layers: [[1, '2', null]] }], epochs: 'none', runDir: 5 }, { layers: [] }],
    warnings: [{ severity: 'fatal', code: 'c', message: 'm' }, { code: 1 }],
    probe: 'no',
  });
  assert.deepEqual(odd, {
    title: 'Experiment: initialization',
    mode: 'experiment',
    backend: null,
    fallbacks: [],
    status: 'interrupted',
    message: '',
    runs: [{ name: 'a', layers: ['l'], steps: [{ step: 2, epoch: 1, loss: null, acc: null, layers: [[1, null, null]] }], epochs: [], runDir: '' }],
    warnings: [{ severity: 'info', code: 'c', message: 'm' }],
    probe: null,
  });
});

test('a finished run restores as done with every epoch of its run.json, even when the saved snapshot missed the last ones', async () => {
  const runDir = path.join(makeTempDir('ws-restore-'), 'small-done');
  const history = await train(runDir, 3);
  const file = await readRunFile(runDir);
  assert.ok(file);
  assert.equal(file.history.length, 3);
  assert.deepEqual(file.checkpoints, ['epoch-000', 'epoch-001', 'epoch-002', 'epoch-003']);
  assert.equal(file.epochs, 3);
  // the webview last saved a snapshot after epoch 1, while the job still ran
  const restored = await restoreTrainingState(JSON.parse(JSON.stringify(snapshot(runDir, history, 1, 'running'))));
  assert.ok(restored);
  assert.equal(restored.status, 'done');
  assert.equal(restored.restored, true);
  assert.match(restored.message, /^Finished before the window reloaded: 3 epochs, last checkpoint epoch-003\.$/);
  const epochs = restored.runs[0]!.epochs;
  assert.deepEqual(epochs.map((e) => e.epoch), [1, 2, 3]);
  assert.deepEqual(epochs.map((e) => e.loss), history.map((h) => h.loss));
  assert.deepEqual(epochs.map((e) => e.valAcc), history.map((h) => h.val_acc));
  for (const e of epochs) {
    assert.ok(fs.existsSync(path.join(e.checkpoint, 'model.json')), `${e.checkpoint} exists`);
  }
  assert.equal(restored.runs[0]!.steps.length, 1, 'the saved steps stay');
});

test('a run that was going when the window reloaded restores as interrupted, with the epochs its run folder holds', async () => {
  const root = makeTempDir('ws-restore-');
  const runDir = path.join(root, 'small-live');
  const midDir = path.join(root, 'small-mid');
  // copy the run folder as it was on disk right after epoch 2 (what a reload at that moment leaves behind)
  const history = await train(runDir, 5, (e) => {
    if (e.epoch === 2) {
      fs.cpSync(runDir, midDir, { recursive: true });
    }
  });
  const file = await readRunFile(midDir);
  assert.equal(file?.history.length, 2);
  assert.equal(file?.stopped, undefined);
  const restored = await restoreTrainingState(JSON.parse(JSON.stringify(snapshot(midDir, history, 1, 'running'))));
  assert.ok(restored);
  assert.equal(restored.status, 'interrupted');
  assert.equal(restored.message, 'Interrupted: the window reloaded while this ran, which stopped it. Checkpoints were kept (up to epoch-002).');
  assert.deepEqual(restored.runs[0]!.epochs.map((e) => [e.epoch, e.loss]), [[1, history[0]!.loss], [2, history[1]!.loss]]);
  assert.deepEqual(epochsFromRunFile(midDir, file!).map((e) => path.basename(e.checkpoint)), ['epoch-001', 'epoch-002']);

  // the extension shutting down for the reload stopped the worker, and marked the run (stoppedRuns.ts): still interrupted, not finished
  const runFile = path.join(midDir, 'run.json');
  fs.writeFileSync(runFile, `${JSON.stringify({ ...(JSON.parse(fs.readFileSync(runFile, 'utf8')) as object), stopped: 'interrupted' }, null, 2)}\n`);
  assert.equal((await readRunFile(midDir))?.stopped, 'interrupted');
  const marked = await restoreTrainingState(JSON.parse(JSON.stringify(snapshot(midDir, history, 1, 'running'))));
  assert.equal(marked?.status, 'interrupted');
  assert.equal(marked?.message, 'Interrupted: the window reloaded while this ran, which stopped it. Checkpoints were kept (up to epoch-002).');
});

test('probe and experiment panels: done stays done, running becomes interrupted; missing run folders keep the saved epochs', async () => {
  const probe: TrainingPanelStateDto = {
    title: 'Gradient probe: model.json',
    mode: 'probe',
    backend: 'WebAssembly',
    fallbacks: [],
    status: 'done',
    message: 'Probe done in 40 ms',
    runs: [],
    warnings: [],
    probe: {
      loss: 'categoricalCrossentropy (output activation) = 2.3',
      batch: '32 samples, synthetic normal, lr 0.01',
      layers: [{ layer: 'hidden1', className: 'Dense', activation: 'relu', gradNorm: 1e-6, gradWeightRatio: 1e-5, activationStd: 0.01, deadReluFraction: 0, saturatedFraction: null }],
      diagnostics: [{ severity: 'warning', code: 'gradient-vanishing', layer: 'hidden1', message: 'The signal vanishes.' }],
      forecastDiagnostics: [],
      firstNonFiniteLayer: null,
    },
  };
  const done = await restoreTrainingState(JSON.parse(JSON.stringify(probe)));
  assert.deepEqual(done, { ...probe, restored: true });
  const running = await restoreTrainingState({ ...probe, status: 'running', probe: null });
  assert.equal(running?.status, 'interrupted');
  assert.equal(running?.message, 'Interrupted: the window reloaded while the probe ran; run Probe Gradients again.');

  const gone = path.join(makeTempDir('ws-restore-'), 'deleted');
  const experiment = snapshot(gone, [{ loss: 1 }, { loss: 0.5 }], 2, 'running');
  experiment.mode = 'experiment';
  experiment.runs.push({ ...experiment.runs[0]!, name: 'he-normal', epochs: [] });
  experiment.runs[0]!.name = 'uniform-0.01';
  const exp = await restoreTrainingState(experiment);
  assert.equal(exp?.status, 'interrupted');
  assert.deepEqual(exp?.runs[0]!.epochs.map((e) => e.loss), [1, 0.5]);
  assert.equal(exp?.message, 'Interrupted: the window reloaded while this ran, which stopped it. Checkpoints were kept (uniform-0.01 up to epoch-002).');
});

test('trainingEndMessage: done, stopped at an epoch end, and stopped inside an epoch whose steps were not saved', () => {
  const dir = path.join('runs', 'mlp');
  const checkpoints = [0, 1, 2].map((e) => path.join(dir, `epoch-00${e}`));
  const epoch = (loss: number, partialSteps?: number): EpochMetrics => ({ loss, ...(partialSteps !== undefined ? { partialSteps } : {}) });
  assert.deepEqual(trainingEndMessage({ checkpoints, history: [epoch(1), epoch(0.5)] }, 'spec'), { status: 'done', message: `Done: 3 checkpoints in ${dir}.` });
  assert.deepEqual(trainingEndMessage({ stopped: 'exploding', checkpoints, history: [epoch(1), epoch(9)] }, 'spec'), { status: 'stopped', message: `Stopped (exploding); 3 checkpoints in ${dir} kept.` });
  assert.deepEqual(trainingEndMessage({ stopped: 'nonFinite', checkpoints, history: [epoch(1), epoch(2), epoch(NaN, 7)] }, 'spec'), {
    status: 'stopped',
    message: `Stopped (nonFinite) in epoch 3 after 7 steps, which was not saved; 3 checkpoints in ${dir} kept.`,
  });
  assert.deepEqual(trainingEndMessage({ stopped: 'cancelled', checkpoints: [], history: [epoch(1, 1)] }, 'spec'), {
    status: 'cancelled',
    message: 'Stopped (cancelled) in epoch 1 after 1 step, which was not saved; 0 checkpoints in spec kept.',
  });
});

test('the probe the panel shows: its loss to 4 significant digits, as the training steps’ losses, or "not finite"', () => {
  const report = (loss: number | null): ProbeReport =>
    ({
      file: 'm.h5',
      formatName: 'Keras HDF5',
      backend: { name: 'cpu', label: 'CPU', fallbacks: [] },
      probeMs: 12,
      diagnostics: [],
      forecastDiagnostics: [{ severity: 'warning', code: 'signal-vanishing', layer: 'dense', message: 'vanishes', evidence: {} }],
      forecast: null,
      probe: { lossName: 'categoricalCrossentropy', lossSource: 'output activation', loss, batchSize: 16, inputSource: 'normal', targetSource: 'synthetic', learningRate: 0.01, layers: [] },
    }) as unknown as ProbeReport;
  assert.equal(probeDto(report(1.5262606143951416)).loss, 'categoricalCrossentropy (output activation) = 1.526');
  assert.equal(probeDto(report(0.000123456)).loss, 'categoricalCrossentropy (output activation) = 0.0001235');
  assert.equal(probeDto(report(null)).loss, 'categoricalCrossentropy (output activation) = not finite');
  assert.deepEqual(probeDto(report(1)).forecastDiagnostics, [{ severity: 'warning', code: 'signal-vanishing', layer: 'dense', message: 'vanishes' }]);
  assert.equal(probeDto(report(1)).batch, '16 samples, synthetic normal, lr 0.01');
});
