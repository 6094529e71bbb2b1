/**
 * The registry's record of companion files: every file a reader opened or looked for next to the
 * main file (what the extension watches so that a rewritten shard reloads an open panel).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openLocalPath } from '../../../src/formats/registry';
import { fixtureOrSkip, makeTempDir } from '../helpers/fixtures';

/** The companions recorded when opening `p`, sorted. */
async function companionsOf(p: string): Promise<string[]> {
  const file = await openLocalPath(p);
  try {
    assert.ok(file.companionFiles, 'the registry records the companions');
    return [...file.companionFiles].sort();
  } finally {
    await file.close();
  }
}

test('companion files: a TF.js model.json names its weight shard', async (t) => {
  const dir = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model');
  if (!dir) {
    return;
  }
  assert.deepEqual(await companionsOf(path.join(dir, 'model.json')), ['weights.bin']);
});

test("companion files: a checkpoint folder names the latest checkpoint's index and both data shards", async (t) => {
  const dir = fixtureOrSkip(t, 'tf-checkpoint-v2/keras-lso-ckpt-tf2.2');
  if (!dir) {
    return;
  }
  assert.deepEqual(await companionsOf(dir), ['ckpt.data-00000-of-00002', 'ckpt.data-00001-of-00002', 'ckpt.index']);
});

test("companion files: a SavedModel names variables/ and the Keras metadata it looked for; its index names the folder's saved_model.pb", async (t) => {
  const dir = fixtureOrSkip(t, 'tf-savedmodel/keras-lso-savedmodel-tf2.2');
  if (!dir) {
    return;
  }
  assert.deepEqual(await companionsOf(dir), ['keras_metadata.pb', 'variables/variables.data-00000-of-00002', 'variables/variables.data-00001-of-00002', 'variables/variables.index']);
  assert.deepEqual(await companionsOf(path.join(dir, 'variables', 'variables.index')), ['../keras_metadata.pb', '../saved_model.pb', 'variables.data-00000-of-00002', 'variables.data-00001-of-00002']);
});

test('companion files: a Keras .weights.h5 names the sibling config it read', async (t) => {
  const dir = fixtureOrSkip(t, 'keras3-weights-h5/diabetes-simple-model');
  if (!dir) {
    return;
  }
  assert.deepEqual(await companionsOf(path.join(dir, 'model.weights.h5')), ['model.json']);
});

test('companion files: a missing TF.js shard is recorded too (creating it changes the model)', async (t) => {
  const src = fixtureOrSkip(t, 'tfjs-layers/tfjs-e2e-layers-model');
  if (!src) {
    return;
  }
  const dir = makeTempDir();
  fs.copyFileSync(path.join(src, 'model.json'), path.join(dir, 'model.json'));
  const file = await openLocalPath(path.join(dir, 'model.json'));
  try {
    assert.deepEqual(file.companionFiles, ['weights.bin']);
    assert.ok(file.warnings.some((w) => w.reason === 'missingCompanionFile'));
  } finally {
    await file.close();
  }
});
