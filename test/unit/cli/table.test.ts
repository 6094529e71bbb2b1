import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCount, formatNumber, renderTable, shortName } from '../../../src/cli/table';

test('formatCount groups digits as toLocaleString(en-US) does', () => {
  const values = [0, -0, 1, -1, 12, 999, 1000, -1000, 12345, 123456, 1234567, 10 ** 15, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 1.5, -2.25, NaN, Infinity, -Infinity];
  for (let i = 0; i < 2000; i++) {
    values.push(Math.floor((Math.random() - 0.5) * 10 ** (1 + (i % 16))));
  }
  for (const v of values) {
    assert.equal(formatCount(v), v.toLocaleString('en-US'), String(v));
  }
});

test('renderTable aligns columns (">" right-aligned), trims line ends, and takes any number of rows', () => {
  const text = renderTable(['name', '>n', 'note'], [
    ['a', '1', ''],
    ['longer', '1,000', 'x'],
  ]);
  assert.equal(text, ['name        n  note', '------  -----  ----', 'a           1', 'longer  1,000  x'].join('\n'));
  // More rows than a spread of arguments could take.
  const rows = Array.from({ length: 400_000 }, (_, i) => [`t${i}`, String(i)]);
  const lines = renderTable(['name', '>i'], rows).split('\n');
  assert.equal(lines.length, rows.length + 2);
  assert.equal(lines[lines.length - 1], 't399999  399999');
  assert.equal(lines[2], 't0            0');
});

test('formatNumber: four significant digits that never pass a rounded number off as exact', () => {
  const cases: [number | null, string][] = [
    [null, '-'],
    [0, '0'],
    [32768, '32768'],
    [-1280, '-1280'],
    [32768.5, '3.277e+4'],
    [12345.6, '1.235e+4'],
    [9968.098, '9968'],
    [0.123456, '0.1235'],
    [1.5, '1.5'],
    [123456, '1.235e+5'],
    [0.0001234, '1.234e-4'],
  ];
  for (const [v, text] of cases) {
    assert.equal(formatNumber(v), text, String(v));
  }
});

test('shortName: a name up to the limit is whole; a longer one keeps its first and last ;-joined names, else its two ends around …', () => {
  assert.equal(shortName('a'.repeat(64)), 'a'.repeat(64));
  const fused = 'model/activation/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd/ReadVariableOp/resource;model/conv2d/Conv2D';
  assert.equal(shortName(fused), 'model/activation/Relu;…;model/conv2d/Conv2D');
  const long = `${'x'.repeat(40)}/${'y'.repeat(40)}`;
  const short = shortName(long, 21);
  assert.equal(short, `${'x'.repeat(10)}…${'y'.repeat(10)}`);
  // Two names only, or ends that do not fit: the middle goes.
  assert.equal(shortName(`${'p'.repeat(30)};${'q'.repeat(30)}`, 11), 'ppppp…qqqqq');
  assert.equal(shortName(`${'a'.repeat(50)};b;${'c'.repeat(50)}`, 11), 'aaaaa…ccccc');
});
