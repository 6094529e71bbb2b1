import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intOption, parseArgs, UsageError } from '../../../src/cli/args';
import { startStatsWorkersFor } from '../../../src/cli/startEarly';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';

const spec = { json: false, tensor: true, bins: true, map: 'repeat' } as const;

test('a value option followed by another option is a usage error; --name=--value passes a value with dashes', () => {
  assert.throws(() => parseArgs(['f', '--tensor', '--json'], spec), { name: 'UsageError', message: "Option '--tensor' needs a value." });
  assert.throws(() => parseArgs(['f', '--tensor'], spec), { name: 'UsageError', message: "Option '--tensor' needs a value." });
  assert.equal(parseArgs(['f', '--tensor=--json'], spec).options.get('tensor'), '--json');
  assert.equal(parseArgs(['f', '--tensor', '-x'], spec).options.get('tensor'), '-x');
});

test('a single-value option given twice is a usage error; a repeatable one collects every value', () => {
  assert.throws(() => parseArgs(['--bins', '8', '--bins', '16'], spec), { name: 'UsageError', message: "Option '--bins' is given more than once." });
  assert.throws(() => parseArgs(['--bins=8', '--bins', '8'], spec), UsageError);
  assert.deepEqual(parseArgs(['--map', 'a=b', '--map=c=', '--map', 'e=f'], spec).repeated.get('map'), ['a=b', 'c=', 'e=f']);
  assert.equal(parseArgs(['f'], spec).repeated.get('map'), undefined);
});

test('integer options take plain decimal digits only', () => {
  for (const text of ['0x10', '1e1', '1.0', '', ' 8', '8 ', '+8', '-1', '0b1', 'Infinity']) {
    assert.throws(() => intOption(parseArgs([`--bins=${text}`], spec), 'bins', 64, 1, 4096), UsageError, `'${text}'`);
  }
  assert.equal(intOption(parseArgs(['--bins', '16'], spec), 'bins', 64, 1, 4096), 16);
  assert.equal(intOption(parseArgs(['--bins', '0016'], spec), 'bins', 64, 1, 4096), 16);
  assert.equal(intOption(parseArgs([], spec), 'bins', 64, 1, 4096), 64);
  // The early worker start reads --workers the same way: a count it would reject starts no workers.
  assert.equal(startStatsWorkersFor(['inspect', 'f', '--workers', '0x2'], '.'), 0);
  assert.equal(startStatsWorkersFor(['inspect', 'f', '--workers=2.0'], '.'), 0);
});

test('inspect <file> --tensor --json is a usage error, not an empty table', async () => {
  const io = captureIo();
  assert.equal(await runCli(['inspect', 'model.h5', '--tensor', '--json'], io), 2);
  assert.equal(io.stdout.length, 0);
  assert.match(io.stderr[0]!, /^error\[usage\]: Option '--tensor' needs a value\.$/);
  const twice = captureIo();
  assert.equal(await runCli(['inspect', 'model.h5', '--bins', '8', '--bins', '16'], twice), 2);
  assert.match(twice.stderr[0]!, /^error\[usage\]: Option '--bins' is given more than once\.$/);
});
