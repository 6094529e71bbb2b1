/**
 * Tests of the weights panel's naming check: which name of a file is checked, and the states
 * (off, match with parsed fields, mismatch, ambiguous, invalid pattern, pattern problems).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNaming, checkpointLabel } from '../../../src/extension/namingCheck';

const pattern = '{model}-e{epoch:03d}-{val_loss:.3f}';

test('checkpointLabel: the file name, or the folder name for generic entry files', () => {
  assert.equal(checkpointLabel('/runs/resnet-e003-0.412.h5'), 'resnet-e003-0.412.h5');
  assert.equal(checkpointLabel('/runs/resnet-e003-0.412/model.json'), 'resnet-e003-0.412');
  assert.equal(checkpointLabel('/runs/sm-e010-0.100/saved_model.pb'), 'sm-e010-0.100');
  assert.equal(checkpointLabel('/runs/sm-e010-0.100/variables/variables.index'), 'sm-e010-0.100');
  assert.equal(checkpointLabel('/runs/ckpt-5.index'), 'ckpt-5.index');
  assert.equal(checkpointLabel('/runs/sm-e010-0.100'), 'sm-e010-0.100', 'a SavedModel folder is its own name');
});

test('no convention configured: the check is off', () => {
  assert.deepEqual(checkNaming('', 'anything.h5'), { state: 'off', pattern: '', name: 'anything.h5', problems: [] });
  assert.equal(checkNaming('   ', 'anything.h5').state, 'off');
});

test('a matching name gives its fields in pattern order, numbers as numbers', () => {
  const r = checkNaming(pattern, 'resnet-e003-0.412.h5');
  assert.equal(r.state, 'match');
  assert.equal(r.message, undefined);
  assert.deepEqual(r.fields, [
    { name: 'model', value: 'resnet' },
    { name: 'epoch', value: 3 },
    { name: 'val_loss', value: 0.412 },
  ]);
  assert.deepEqual(r.problems, []);
  // `.weights.h5` and folder labels are stripped and checked the same way.
  assert.deepEqual(checkNaming(pattern, 'mlp-e120-1.000.weights.h5').fields?.map((f) => f.value), ['mlp', 120, 1]);
});

test('a name that does not follow the convention is a mismatch quoting the name and the pattern', () => {
  const r = checkNaming(pattern, 'resnet-final.h5');
  assert.equal(r.state, 'mismatch');
  assert.equal(r.message, `'resnet-final.h5' does not follow the naming convention '${pattern}'.`);
  assert.equal(r.fields, undefined);
  // Two digits where the pattern wants at least three.
  assert.equal(checkNaming(pattern, 'resnet-e03-0.412.h5').state, 'mismatch');
});

test('a name that parses two ways is ambiguous, with the first reading', () => {
  const r = checkNaming('{model}-{run}', 'a-b-c.h5');
  assert.equal(r.state, 'ambiguous');
  assert.equal(r.message, `'a-b-c.h5' can be read two ways under '{model}-{run}': {model} is 'a' or 'a-b'.`);
  assert.deepEqual(r.fields, [
    { name: 'model', value: 'a' },
    { name: 'run', value: 'b-c' },
  ]);
});

test('a pattern that cannot be parsed, and problems of a usable pattern, are reported', () => {
  const bad = checkNaming('{model}-e{epoch:x}', 'net-e1.h5');
  assert.equal(bad.state, 'invalidPattern');
  assert.match(bad.message ?? '', /the format spec 'x' of '\{epoch\}' is not supported/);
  const adjacent = checkNaming('{model}{epoch:d}', 'net12.h5');
  assert.equal(adjacent.problems.length, 1);
  assert.match(adjacent.problems[0]!, /Pattern '\{model\}\{epoch:d\}': The placeholders before '\{epoch\}' have no separator/);
});
