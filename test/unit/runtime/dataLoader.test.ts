import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError, type WeightFileErrorReason } from '../../../src/core/errors';
import { loadDataSet } from '../../../src/runtime/dataLoader';
import { makeTempDir } from '../helpers/fixtures';
import { writeNpz } from '../helpers/runtimeData';
import { buildNpy } from '../helpers/zipBuilder';

/** 4 samples of 3 features: 0, 1, 2, ... 11, with `patch` values put in by flat index. */
function features(patch: Record<number, number> = {}): number[] {
  const v = Array.from({ length: 12 }, (_, i) => i);
  for (const [i, x] of Object.entries(patch)) {
    v[Number(i)] = x;
  }
  return v;
}

/** Asserts that loading `file` rejects with `reason` and a message matching every pattern. */
async function rejects(file: string, reason: WeightFileErrorReason, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(loadDataSet(file), (ex: unknown) => {
    assert.ok(WeightFileError.is(ex), String(ex));
    assert.equal(ex.reason, reason, ex.message);
    assert.ok(ex.message.startsWith(file), ex.message);
    for (const p of patterns) {
      assert.match(ex.message, p);
    }
    return true;
  });
}

test('NaN or Infinity in data is corrupt, naming the file, the array and the first offending sample', async () => {
  const dir = makeTempDir();
  const y = { descr: '<i8' as const, shape: [4], values: [0, 1, 2, 0] };
  // x[2, 1] = flat index 7; x[3, 0] (index 9) is bad too, but later
  await rejects(writeNpz(path.join(dir, 'nan.npz'), { x: { shape: [4, 3], values: features({ 7: NaN, 9: NaN }) }, y }), 'corrupt', /NaN at 'x'\[2, 1\] \(sample 2/);
  await rejects(writeNpz(path.join(dir, 'inf.npz'), { x: { shape: [4, 3], values: features({ 3: -Infinity }) }, y }), 'corrupt', /-Infinity at 'x'\[1, 0\] \(sample 1/);
  // a float64 value beyond float32's range becomes Infinity when the data is taken as float32
  await rejects(writeNpz(path.join(dir, 'big.npz'), { x: { descr: '<f8', shape: [4, 3], values: features({ 11: 1e39 }) }, y }), 'corrupt', /Infinity at 'x'\[3, 2\]/);
  await rejects(
    writeNpz(path.join(dir, 'ynan.npz'), { features: { shape: [4, 3], values: features() }, labels: { descr: '<f8', shape: [4, 1], values: [0, 1, NaN, 1] } }),
    'corrupt',
    /NaN at 'labels'\[2, 0\] \(sample 2/,
  );
  const csv = path.join(dir, 'd.csv');
  fs.writeFileSync(csv, 'a,b,label\n1,2,0\n3,Infinity,1\n');
  await rejects(csv, 'corrupt', /line 3 holds 'Infinity' in column 'b', which is not a finite number/);
  fs.writeFileSync(csv, '1,2,0\n3,4,1e39\n');
  await rejects(csv, 'corrupt', /line 2 holds '1e39' in column 3, which is not a finite number/);
  fs.writeFileSync(csv, 'a,b,label\n1,2,0\n3,nan,1\n');
  await rejects(csv, 'corrupt', /line 3 holds 'nan' in column 'b', which is not a number/);
  // NaN in the first row is data to refuse, not a header's names; blank lines count in the line numbers.
  fs.writeFileSync(csv, '1,NaN,0\n3,4,1\n');
  await rejects(csv, 'corrupt', /d\.csv line 1 holds 'NaN' in column 2, which is not a number/);
  fs.writeFileSync(csv, 'a,b,label\n\n1,2,0\n\n3,x,1\n');
  await rejects(csv, 'corrupt', /d\.csv line 5 holds 'x' in column 'b', which is not a number/);
  fs.writeFileSync(csv, '1,2,0\n\n3,4\n');
  await rejects(csv, 'corrupt', /d\.csv line 3 has 2 columns instead of 3/);
  const json = path.join(dir, 'd.json');
  fs.writeFileSync(json, '{"x": [[1, 2], [3, -1e39]], "y": [0, 1]}');
  await rejects(json, 'corrupt', /-Infinity at 'x'\[1, 1\]/);
  // finite data loads as it is
  const ok = await loadDataSet(writeNpz(path.join(dir, 'ok.npz'), { x: { shape: [4, 3], values: features() }, y }));
  assert.deepEqual(Array.from(ok.x), features());
  assert.deepEqual(Array.from(ok.y!), [0, 1, 2, 0]);
});

test('data without samples is empty, in an .npz and an .npy', async () => {
  const dir = makeTempDir();
  await rejects(writeNpz(path.join(dir, 'rows0.npz'), { x: { shape: [0, 20], values: [] }, y: { descr: '<i8', shape: [0], values: [] } }), 'empty', /holds no samples \('x' has shape \[0, 20\]\)/);
  const npy = path.join(dir, 'rows0.npy');
  fs.writeFileSync(npy, buildNpy('<f4', [0, 5], new Uint8Array(0)));
  await rejects(npy, 'empty', /holds no samples/);
});

test('an .npz whose x and y hold different numbers of samples is corrupt, as in JSON', async () => {
  const dir = makeTempDir();
  const file = writeNpz(path.join(dir, 'mismatch.npz'), { x: { shape: [4, 3], values: features() }, y: { descr: '<i8', shape: [3], values: [0, 1, 2] } });
  await rejects(file, 'corrupt', /has 4 samples in 'x' but 3 in 'y'\.$/);
});

test('an .npy the reader cannot take gives the reader\'s own reason, and a huge claimed shape is refused before any allocation', async () => {
  const dir = makeTempDir();
  // A Fortran-order array is read in row-major order (a pandas frame's to_numpy() is often stored so) ...
  const fortran = path.join(dir, 'fortran.npy');
  fs.writeFileSync(fortran, buildNpy('<f4', [2, 3], new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer), { fortranOrder: true }));
  const loaded = await loadDataSet(fortran);
  assert.deepEqual([...loaded.x], [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(loaded.xShape, [2, 3]);
  // ... unless it is one the reader cannot reorder (over 256 MiB with three dimensions): its own reason.
  const wide = path.join(dir, 'wide.npy');
  fs.writeFileSync(wide, buildNpy('<f4', [80, 1024, 1024], new Uint8Array(16), { fortranOrder: true }));
  await rejects(wide, 'unsupportedFormat', /Fortran \(column-major\) order and is too large to reorder here/);
  const cut = path.join(dir, 'cut.npy');
  fs.writeFileSync(cut, buildNpy('<f4', [40, 20], new Uint8Array(100)));
  await rejects(cut, 'truncated', /needs 3200 data bytes/);
  const huge = path.join(dir, 'huge.npy');
  fs.writeFileSync(huge, buildNpy('<f4', [100_000_000_000, 20], new Uint8Array(16)));
  await rejects(huge, 'tooLarge', /shape \[100000000000, 20\]/);
});

test('ragged JSON arrays are corrupt, naming the file and the first sub-array of another length', async () => {
  const dir = makeTempDir();
  const write = (name: string, json: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, json);
    return file;
  };
  // 6 values in all, as many as a [3, 2] array holds, but the samples would shift
  await rejects(write('rows.json', '{"x": [[1, 2], [3], [4, 5, 6]]}'), 'corrupt', /ragged array in 'x': x\[1\] has 1 entry, x\[0\] has 2\.$/);
  await rejects(write('deep.json', '{"x": [[[1, 2], [3, 4]], [[5, 6], [7, 8, 9]]]}'), 'corrupt', /x\[1\]\[1\] has 3 entries, x\[0\]\[0\] has 2/);
  await rejects(write('mixed.json', '{"x": [[1, 2], [3, 4]], "y": [[1], 0]}'), 'corrupt', /ragged array in 'y': y\[1\] is not an array where y\[0\] is one/);
  await rejects(write('records.json', '[{"x": [1, 2]}, {"x": [[3], 4]}]'), 'corrupt', /x\[1\]\[0\] is an array where x\[0\]\[0\] is a number/);
  // a rectangular array still loads
  const ok = await loadDataSet(write('ok.json', '{"x": [[1, 2], [3, 4], [5, 6]]}'));
  assert.deepEqual(ok.xShape, [3, 2]);
});
