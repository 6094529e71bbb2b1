import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkpointFiles, checkpointStamp } from '../../../src/analysis/checkpointFiles';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';

test('a .weights.h5 checkpoint includes the configs its reader may take layer names from, so one written beside it changes its stamp', async (t) => {
  const fixture = fixtureOrSkip(t, 'keras3-weights-h5/diabetes-simple-model');
  if (!fixture) {
    return;
  }
  const dir = makeTempDir('weightscope-ckpt-files-');
  const entry = path.join(dir, 'run.weights.h5');
  fs.copyFileSync(path.join(fixture, 'model.weights.h5'), entry);
  assert.deepEqual(
    (await checkpointFiles(entry)).map((f) => path.basename(f)),
    ['run.weights.h5', 'run.json', 'run.config.json', 'config.json', 'model.json'],
  );
  const before = await checkpointStamp(entry);
  fs.copyFileSync(path.join(fixture, 'model.json'), path.join(dir, 'config.json'));
  const after = await checkpointStamp(entry);
  assert.notDeepEqual(after, before);
  assert.equal(after.size - before.size, fs.statSync(path.join(dir, 'config.json')).size + 1, 'a missing file counted -1, now its size');
});
