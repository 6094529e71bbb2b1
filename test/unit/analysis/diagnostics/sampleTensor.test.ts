/**
 * Value samples: whole rows at a uniform stride for matrices (so the sample is a submatrix), a
 * uniform element stride for vectors, everything for small tensors; independent of chunking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleLayout, sampleTensor } from '../../../../src/analysis/diagnostics/sampleTensor';
import { buildModel } from './modelBuilder';

function tensor(shape: number[], chunk: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  return buildModel([{ name: 'l', weights: [{ weight: 'kernel', shape, values: Float64Array.from({ length: n }, (_, i) => i) }] }], { chunkElements: chunk }).tensors[0]!;
}

test('small tensors are sampled whole', async () => {
  const s = await sampleTensor(tensor([10, 7], 3), 100);
  assert.deepEqual([...s], Array.from({ length: 70 }, (_, i) => i));
  assert.deepEqual(sampleLayout([10, 7], 100), { kind: 'all', stride: 1, cols: 7, rows: 10, size: 70, sampleRows: 10 });
});

for (const chunk of [1, 7, 64, 100000]) {
  test(`matrices are sampled as whole rows at a stride (chunks of ${chunk})`, async () => {
    // 100 rows of 9: budget 200 -> 22 rows wanted -> stride 5 -> rows 0, 5, ..., 95.
    const plan = sampleLayout([100, 9], 200);
    assert.deepEqual(plan, { kind: 'rows', stride: 5, cols: 9, rows: 100, size: 180, sampleRows: 20 });
    const s = await sampleTensor(tensor([100, 9], chunk), 200);
    const expected: number[] = [];
    for (let r = 0; r < 100; r += 5) {
      for (let c = 0; c < 9; c++) {
        expected.push(r * 9 + c);
      }
    }
    assert.deepEqual([...s], expected);
  });

  test(`vectors are sampled at an element stride (chunks of ${chunk})`, async () => {
    const s = await sampleTensor(tensor([1000], chunk), 300);
    assert.deepEqual(sampleLayout([1000], 300), { kind: 'elements', stride: 4, cols: 1, rows: 1000, size: 250 });
    assert.deepEqual([...s], Array.from({ length: 250 }, (_, i) => 4 * i));
  });
}

test('rows longer than the budget fall back to an element stride', async () => {
  const s = await sampleTensor(tensor([3, 500], 64), 100);
  assert.equal(s.length, 100);
  assert.deepEqual([...s.subarray(0, 3)], [0, 15, 30]);
});

test('cancellation stops the read', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(sampleTensor(tensor([100, 100], 10), 1000, ac.signal), (e: Error & { reason?: string }) => e.reason === 'cancelled');
});
