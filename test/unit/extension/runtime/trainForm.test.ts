/**
 * The Train Model form's checks (trainForm.ts): answers are held to a run spec file's bounds, and
 * the assembled spec is validated as the JSON it is saved as.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../../src/core/errors';
import { readRunSpec } from '../../../../src/runtime/runSpec';
import { checkedFormSpec, formNumberMessage, parseOverrides } from '../../../../src/extension/runtime/trainForm';
import type { RunSpec } from '../../../../src/runtime/training';
import { makeTempDir } from '../../helpers/fixtures';

const spec = (over: Partial<Record<keyof RunSpec, unknown>>): RunSpec => ({ model: 'm/model.json', optimizer: 'adam', learningRate: 0.001, epochs: 5, batchSize: 32, validationSplit: 0.2, ...over }) as RunSpec;

test('the Train Model form refuses answers a run spec file would refuse, as they are typed', () => {
  assert.equal(formNumberMessage('learningRate', '0.01'), undefined);
  for (const text of ['Infinity', '1e400', 'NaN', '', '0', '-1']) {
    assert.equal(formNumberMessage('learningRate', text), text === '' ? 'Enter a value.' : 'Enter a number in (0, 1000000].', text);
  }
  assert.equal(formNumberMessage('epochs', '100001'), 'Enter a whole number in [1, 100000].');
  assert.equal(formNumberMessage('epochs', '2.5'), 'Enter a whole number in [1, 100000].');
  assert.equal(formNumberMessage('validationSplit', '0.95'), undefined);
  assert.deepEqual(parseOverrides(' l2=0.01  dropout=0.2 '), { overrides: { l2: 0.01, dropout: 0.2 } });
  assert.deepEqual(parseOverrides(''), { overrides: {} });
  assert.deepEqual(parseOverrides('dropout=1.5'), { message: 'dropout takes a number in [0, 0.95].' });
  assert.deepEqual(parseOverrides('l2=-1'), { message: 'l2 takes a number in [0, 10].' });
  assert.deepEqual(parseOverrides('l1=1e400'), { message: 'l1 takes a number in [0, 10].' });
  assert.deepEqual(parseOverrides('l2=0.1 momentum=0.9'), { message: 'Use l1=X l2=X dropout=X.' });
});

test("the form's spec is validated as it will be saved, so a saved spec is one that Run again accepts", async () => {
  const file = path.join(makeTempDir(), 'm.run.json');
  for (const [field, value] of [['learningRate', Infinity], ['learningRate', NaN], ['dropout', 1.5], ['l2', -1], ['epochs', 100001]] as const) {
    assert.throws(
      () => checkedFormSpec(spec({ [field]: value }), file),
      (ex: unknown) => WeightFileError.is(ex, 'corrupt') && ex.message.startsWith(`${file}: "${field}" is `),
      `${field} = ${value}`,
    );
  }
  const ok = checkedFormSpec(spec({ l2: 0.01 }), file);
  fs.writeFileSync(file, `${JSON.stringify(ok, null, 2)}\n`);
  assert.deepEqual(await readRunSpec(file), ok);
});
