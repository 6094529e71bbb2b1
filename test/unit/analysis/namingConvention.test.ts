import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNames, compileNamingConvention, formatCheckpointName, parseCheckpointName } from '../../../src/analysis/namingConvention';

test('a Keras-style pattern parses names back into typed fields', () => {
  const c = compileNamingConvention('{model}-e{epoch:03d}-{val_loss:.3f}');
  assert.deepEqual(parseCheckpointName(c, 'resnet8-e012-0.345.h5'), { model: 'resnet8', epoch: 12, val_loss: 0.345 });
  assert.deepEqual(parseCheckpointName(c, 'my-net-e003-1.250.weights.h5'), { model: 'my-net', epoch: 3, val_loss: 1.25 });
  assert.equal(parseCheckpointName(c, 'resnet8-e12-0.345.h5'), undefined);
  assert.equal(formatCheckpointName(c, { model: 'resnet8', epoch: 7, val_loss: 0.12345 }), 'resnet8-e007-0.123');
});

test('checkNames reports mismatches, ambiguous names and duplicate epochs', () => {
  const c = compileNamingConvention('{model}-e{epoch:03d}-{val_loss:.3f}');
  // Anchored numeric fields leave one reading even when the model name repeats the pattern.
  const w = checkNames(c, ['net-e001-0.500.h5', 'net-e001-0.400.h5', 'net-final.h5', 'a-e002-0.100-e003-0.200.h5']);
  assert.deepEqual(
    w.map((x) => [x.kind, x.name]),
    [
      ['duplicate', 'net-e001-0.400.h5'],
      ['mismatch', 'net-final.h5'],
    ],
  );
  assert.deepEqual(parseCheckpointName(c, 'a-e002-0.100-e003-0.200.h5'), { model: 'a-e002-0.100', epoch: 3, val_loss: 0.2 });
  const two = compileNamingConvention('{model}-{run}-e{epoch:03d}');
  const amb = checkNames(two, ['resnet-lr-0.1-e004.keras', 'resnet-base-e005.keras']);
  assert.deepEqual(amb.map((x) => [x.kind, x.name]), [['ambiguous', 'resnet-lr-0.1-e004.keras']]);
  assert.match(amb[0]!.message, /\{model\} is 'resnet' or 'resnet-lr'/);
});

test('patterns with adjacent placeholders or unknown specs are flagged or refused', () => {
  const c = compileNamingConvention('{model}{epoch:d}');
  assert.equal(checkNames(c, [])[0]?.kind, 'pattern');
  assert.throws(() => compileNamingConvention('{epoch:x}'), /format spec 'x'/);
  assert.throws(() => compileNamingConvention('{a}-{a}'), /twice/);
  assert.throws(() => compileNamingConvention('e{epoch'), /unmatched/);
});
