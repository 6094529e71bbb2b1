import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { modelBaseName, runDirFor } from '../../../src/runtime/runSpec';

const now = new Date('2026-03-04T05:06:07.890Z');
const specDir = path.resolve('work', 'weightscope-runs');
const stamp = '2026-03-04T05-06-07';

test('runDirFor names the run folder after the model: a SavedModel and a TF.js model by their folder, other files by their name', () => {
  const cases: [string, string][] = [
    ['../models/kws_ref_model/saved_model.pb', 'kws_ref_model'],
    ['../models/keras-lso-savedmodel-tf2.2/saved_model.pb', 'keras-lso-savedmodel-tf2.2'],
    ['../models/kws_ref_model', 'kws_ref_model'], // the SavedModel folder itself
    ['../models/kws_ref_model/', 'kws_ref_model'],
    ['../models/keras-lso-savedmodel-tf2.2', 'keras-lso-savedmodel-tf2.2'], // a dot in a folder name is not an extension
    [path.resolve('elsewhere', 'iris-tfjs', 'model.json'), 'iris-tfjs'], // absolute
    ['../models/iris-tfjs/model.json', 'iris-tfjs'],
    ['../models/AlphabetSoupCharity.h5', 'AlphabetSoupCharity'],
    ['../models/small.weights.h5', 'small.weights'],
    ['../models/model.keras', 'model'],
    ['../models/net.hdf5', 'net'],
  ];
  for (const [model, base] of cases) {
    assert.equal(runDirFor({ model }, specDir, now), path.join(specDir, 'runs', `${base}-${stamp}`), model);
  }
  // a model.json or saved_model.pb given relative to the spec folder takes the spec folder's name
  assert.equal(runDirFor({ model: 'saved_model.pb' }, specDir, now), path.join(specDir, 'runs', `weightscope-runs-${stamp}`));
});

test('runDirFor keeps an explicit outDir, relative to the spec folder', () => {
  assert.equal(runDirFor({ model: 'm/saved_model.pb', outDir: 'my-run' }, specDir, now), path.join(specDir, 'my-run'));
  const abs = path.resolve('tmp', 'abs-run');
  assert.equal(runDirFor({ model: 'm/saved_model.pb', outDir: abs }, specDir, now), abs);
});

test('modelBaseName: the run spec name of a model file or SavedModel folder', () => {
  assert.equal(modelBaseName(path.join('a', 'kws_ref_model', 'saved_model.pb')), 'kws_ref_model');
  assert.equal(modelBaseName(path.join('a', 'kws_ref_model')), 'kws_ref_model');
  assert.equal(modelBaseName(path.join('a', 'tfjs', 'model.json')), 'tfjs');
  assert.equal(modelBaseName(path.join('a', 'weights.json')), 'weights');
  assert.equal(modelBaseName(path.join('a', 'frozen_graph.pb')), 'frozen_graph');
});
