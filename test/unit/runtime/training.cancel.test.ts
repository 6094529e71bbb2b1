/**
 * A cancel that lands while the model is rebuilt or its weights are loaded: the job stops there, as
 * cancelled, with every tensor freed, and a training run takes no run folder and writes no
 * checkpoint. Each test lands the cancel at every point the job looks for one, in turn.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { openLocalPath } from '../../../src/formats/registry';
import { initLayers, type Tf, type Tfl } from '../../../src/runtime/backend';
import { buildModel } from '../../../src/runtime/modelBuilder';
import { probeFile } from '../../../src/runtime/probeReport';
import { readRunSpec, trainFromSpec } from '../../../src/runtime/runSpec';
import { savedClassifier } from '../helpers/runtimeData';

let tf: Tf;
let tfl: Tfl;
before(async () => {
  ({ tf, tfl } = await initLayers({ preferred: 'cpu' }));
});

/** A 6-16-16-3 softmax classifier saved as TF.js in `<folder>/model`; returns the folder. */
const modelFolder = (): Promise<string> => savedClassifier(tf, tfl, [16, 16]);

/**
 * A real AbortSignal that is aborted (listeners told) right after the `after`-th time a job looks
 * at it, that look still seeing it go on: as a Cancel that arrives while the job does whatever comes
 * next, which sees it at its next look. `onAbort` runs at that moment.
 */
function cancelAfterCheck(after: number, onAbort: () => void = () => undefined): AbortSignal {
  const controller = new AbortController();
  let checks = 0;
  const cancel = (): void => {
    onAbort();
    controller.abort();
  };
  if (after === 0) {
    cancel();
  }
  Object.defineProperty(controller.signal, 'aborted', {
    get: () => {
      checks++;
      if (checks === after) {
        cancel(); // this look still saw the job go on
        return false;
      }
      return checks > after;
    },
  });
  return controller.signal;
}

test('buildModel cancelled at any of its checks rejects as cancelled and frees the model', async () => {
  const dir = await modelFolder();
  const wf = await openLocalPath(path.join(dir, 'model', 'model.json'));
  try {
    (await buildModel(wf, tf, tfl)).model.dispose(); // warm-up
    const before = tf.memory().numTensors;
    for (let at = 0; ; at++) {
      const outcome = await buildModel(wf, tf, tfl, { signal: cancelAfterCheck(at) }).then(
        (built) => built,
        (ex: unknown) => ex as Error,
      );
      if (!(outcome instanceof Error)) {
        // the cancel came after the last check: the model was built; every earlier one was a cancel
        assert.ok(at > 2, `buildModel looked for a cancel ${at} times`);
        outcome.model.dispose();
        break;
      }
      assert.ok(WeightFileError.is(outcome, 'cancelled'), `cancel after check ${at}: ${String(outcome)}`);
      assert.equal(tf.memory().numTensors, before, `cancel after check ${at}`);
    }
    assert.equal(tf.memory().numTensors, before);
  } finally {
    await wf.close();
  }
});

test('a training run cancelled while its model is built or loaded stops as cancelled before it takes a run folder; later, it keeps what it wrote', async () => {
  const dir = await modelFolder();
  const file = path.join(dir, 'spec.json');
  fs.writeFileSync(file, JSON.stringify({ model: 'model/model.json', synthetic: { samples: 48, seed: 3 }, batchSize: 16, epochs: 1, outDir: 'run' }));
  const spec = await readRunSpec(file);
  const runDir = path.join(dir, 'run');
  const warm = await trainFromSpec(spec, dir, { backend: 'cpu' });
  assert.equal(warm.stopped, undefined);
  fs.rmSync(runDir, { recursive: true });
  const before = tf.memory().numTensors;
  let rejected = 0;
  for (let at = 0; ; at++) {
    let folderAtCancel: boolean | undefined;
    const signal = cancelAfterCheck(at, () => {
      folderAtCancel = fs.existsSync(runDir);
    });
    const outcome = await trainFromSpec(spec, dir, { backend: 'cpu', signal }).then(
      (done) => done,
      (ex: unknown) => ex as Error,
    );
    assert.equal(tf.memory().numTensors, before, `cancel after check ${at}`);
    if (outcome instanceof Error) {
      assert.ok(WeightFileError.is(outcome, 'cancelled'), `cancel after check ${at}: ${String(outcome)}`);
      rejected++;
    } else if (outcome.stopped === undefined) {
      // the cancel came after the run's last look (during the last save; the CLI exits 130 on it all the same)
      assert.equal(folderAtCancel, true);
      break;
    } else {
      assert.equal(outcome.stopped, 'cancelled');
      assert.ok(outcome.checkpoints.length > 0 && outcome.checkpoints.every((c) => fs.existsSync(path.join(c, 'model.json'))), 'the checkpoints written so far stay');
    }
    if (folderAtCancel === false) {
      // the cancel came before the run folder was taken: nothing was made
      assert.ok(outcome instanceof Error, `cancel after check ${at} (before the run folder was made) ended the run as ${JSON.stringify(outcome)}, not as cancelled`);
      assert.equal(fs.existsSync(runDir), false, `cancel after check ${at}: no run folder`);
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  }
  assert.ok(rejected > 2, `the build looked for a cancel ${rejected} times`);
});

test('a probe cancelled while its model is built or loaded rejects as cancelled and frees every tensor', async () => {
  const dir = await modelFolder();
  const model = path.join(dir, 'model', 'model.json');
  await probeFile(model, { backend: 'cpu', batchSize: 8 }); // warm-up
  const before = tf.memory().numTensors;
  for (let at = 0; at <= 5; at++) {
    await assert.rejects(probeFile(model, { backend: 'cpu', batchSize: 8, signal: cancelAfterCheck(at) }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
    assert.equal(tf.memory().numTensors, before, `cancel after check ${at}`);
  }
});
