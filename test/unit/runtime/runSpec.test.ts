import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { closestField, modelBaseName, runDirFor, runSpecFields, validateRunSpec } from '../../../src/runtime/runSpec';

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

/** The corrupt-spec message validateRunSpec throws for `json`, or 'accepted'. */
function refusal(json: unknown): string {
  try {
    validateRunSpec(json, 'spec.json');
    return 'accepted';
  } catch (ex) {
    assert.equal((ex as { reason?: string }).reason, 'corrupt');
    return (ex as Error).message;
  }
}

test('a run spec field that is not one is refused, naming the known field it resembles', () => {
  const fields = 'model, data, synthetic, loss, optimizer, learningRate, epochs, batchSize, validationSplit, l1, l2, dropout, outDir, seed, stopOnNonFinite';
  assert.equal(
    refusal({ model: 'm.json', learning_rate: 5, epochz: 1, epochs: 1 }),
    `spec.json: unknown fields "learning_rate" (did you mean "learningRate"?), "epochz" (did you mean "epochs"?); a run spec's fields are ${fields}.`,
  );
  assert.equal(refusal({ model: 'm.json', lr: 0.1 }), `spec.json: unknown field "lr" (did you mean "learningRate"?); a run spec's fields are ${fields}.`);
  assert.equal(refusal({ model: 'm.json', Batch_Size: 8 }), `spec.json: unknown field "Batch_Size" (did you mean "batchSize"?); a run spec's fields are ${fields}.`);
  assert.equal(refusal({ model: 'm.json', backend: 'cpu' }), `spec.json: unknown field "backend"; a run spec's fields are ${fields}.`);
  assert.equal(refusal({ modle: 'm.json' }), `spec.json: unknown field "modle" (did you mean "model"?); a run spec's fields are ${fields}.`);
  assert.equal(refusal({ model: 'm.json', synthetic: { sample: 10 } }), 'spec.json: in "synthetic", unknown field "sample" (did you mean "samples"?); its fields are samples, seed, spread.');
  assert.equal(closestField('validation_splt', runSpecFields), 'validationSplit');
  assert.equal(closestField('weights', runSpecFields), undefined);
});

test('every field a run spec has is accepted: a spec as Train Model... writes it, and one with every field', () => {
  // the fields askSpec (extension/runtime/runtimeSupport.ts) writes into <model>.run.json
  const written = { model: '../m.h5', data: 'd.csv', loss: 'categoricalCrossentropy', optimizer: 'adam', learningRate: 0.001, epochs: 5, batchSize: 32, validationSplit: 0.2, l2: 0.01, dropout: 0.2, stopOnNonFinite: true };
  assert.equal(refusal(written), 'accepted');
  const all = { ...written, synthetic: { samples: 10, seed: 1, spread: 0.5 }, l1: 0.001, outDir: 'run', seed: 3 };
  assert.deepEqual(Object.keys(all).sort(), [...runSpecFields].sort());
  assert.equal(refusal(all), 'accepted');
});

test('a learning rate must be above 0, as probe --lr requires', () => {
  assert.equal(refusal({ model: 'm.json', learningRate: 0 }), 'spec.json: "learningRate" is 0; expected a number in (0, 1000000].');
  assert.equal(refusal({ model: 'm.json', learningRate: -1 }), 'spec.json: "learningRate" is -1; expected a number in (0, 1000000].');
  assert.equal(refusal({ model: 'm.json', learningRate: 5e-324 }), 'accepted');
  assert.equal(refusal({ model: 'm.json', learningRate: 1e6 }), 'accepted');
  assert.equal(refusal({ model: 'm.json', learningRate: 1e6 + 1 }), 'spec.json: "learningRate" is 1000001; expected a number in (0, 1000000].');
});
