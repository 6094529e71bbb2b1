import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { giveKernel, kernelPickCapacity, kernelValueCapacity, takeKernel } from '../../../src/analysis/statsKernels';
import { repoRoot } from '../helpers/fixtures';

/** Top 16 bits of the order-preserving key of a float32 (the radix bin), computed independently of the kernels. */
function radixBin(x: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x, true);
  const bits = view.getUint32(0, true);
  const key = bits >= 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
  return key >>> 16;
}

test('the committed kernel module is the compiled statsKernels.wat', async () => {
  const { generate } = (await import(pathToFileURL(path.join(repoRoot, 'scripts', 'make-kernels.mjs')).href)) as { generate(text: string): Promise<string> };
  const wat = fs.readFileSync(path.join(repoRoot, 'src', 'analysis', 'statsKernels.wat'), 'utf8');
  const committed = fs.readFileSync(path.join(repoRoot, 'src', 'analysis', 'statsKernels.wasm.ts'), 'utf8');
  assert.equal(committed, await generate(wat), 'run node scripts/make-kernels.mjs');
});

test('pass1 gives the power sums, l1, extremes, zeros and radix counts of its values', () => {
  const kernel = takeKernel();
  assert.ok(kernel);
  try {
    const values = new Float32Array([1.5, -2.25, 0, -0, 3e-3, 7, 1e-44, -0.5, 0.125, 2, -7.75, 0]);
    const shift = 0.25;
    kernel.acc[6] = 5; // min so far
    kernel.acc[7] = -Infinity; // max so far
    kernel.acc[8] = Infinity; // smallest non-zero |x| so far
    kernel.pass1(kernel.place(values), values.length, shift);
    const xs = Array.from(values);
    const sum = (f: (x: number) => number): number => xs.reduce((s, x) => s + f(x), 0);
    const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    near(kernel.acc[0]!, sum((x) => x - shift), 's1');
    near(kernel.acc[1]!, sum((x) => (x - shift) ** 2), 's2');
    near(kernel.acc[2]!, sum((x) => (x - shift) ** 3), 's3');
    near(kernel.acc[3]!, sum((x) => (x - shift) ** 4), 's4');
    near(kernel.acc[5]!, sum((x) => Math.abs(x)), 'l1');
    assert.equal(kernel.acc[6], -7.75);
    assert.equal(kernel.acc[7], 7);
    assert.equal(kernel.acc[8], Math.fround(1e-44));
    assert.equal(kernel.acc[9], 3);
    for (let i = 0; i < values.length; i++) {
      const table: Uint32Array = i % 2 === 0 ? kernel.radixEven : kernel.radixOdd;
      const expected = xs.filter((x, j) => j % 2 === i % 2 && radixBin(x) === radixBin(xs[i]!)).length;
      assert.equal(table[radixBin(xs[i]!)], expected, `radix count of element ${i}`);
    }
    assert.equal(kernel.radixEven.reduce((a, b) => a + b, 0) + kernel.radixOdd.reduce((a, b) => a + b, 0), values.length);
  } finally {
    giveKernel(kernel);
  }
});

test('pass2 picks, in order, the values whose radix bin has a code, over a whole pick block; a given-back kernel comes back cleared', () => {
  const kernel = takeKernel()!;
  const values = new Float32Array(kernelPickCapacity);
  for (let i = 0; i < values.length; i++) {
    values[i] = ((i * 7919) % 1001) / 100 - 5;
  }
  // Percentile-target codes: pass 2 lists those values for the caller, in order.
  kernel.special[radixBin(-5)] = 8;
  kernel.special[radixBin(4.5)] = 8;
  kernel.linCounts(4);
  kernel.pass2(kernel.place(values), values.length, -5, 0.4, 1e-9, 0, 4, false);
  const expected = [...values.keys()].filter((i) => radixBin(values[i]!) === radixBin(-5) || radixBin(values[i]!) === radixBin(4.5));
  assert.ok(expected.length > 100);
  assert.deepEqual(Array.from(kernel.targetList.subarray(0, kernel.listLengths[0]!)), expected);
  kernel.pass1(kernel.place(values), 16, 0);
  giveKernel(kernel);
  const again = takeKernel()!;
  assert.equal(again, kernel, 'the spare instance is reused');
  assert.ok(again.special.every((c) => c === 0) && again.radixEven.every((c) => c === 0) && again.radixOdd.every((c) => c === 0));
  giveKernel(again);
});

test('values already in the kernel buffer are used in place; others are copied there', () => {
  const kernel = takeKernel()!;
  try {
    const inside = kernel.values.subarray(0, 8);
    assert.equal(kernel.place(inside), inside.byteOffset);
    const outside = new Float32Array([1, 2, 3, 4]);
    const at = kernel.place(outside);
    assert.deepEqual(Array.from(kernel.memF32.subarray(at / 4, at / 4 + 4)), [1, 2, 3, 4]);
    assert.equal(kernel.values.length, kernelValueCapacity);
  } finally {
    giveKernel(kernel);
  }
});

test('pass2 bins the picked values by their codes and lists the edge and target values for the caller', () => {
  const kernel = takeKernel()!;
  try {
    const bins = 4;
    const values = new Float32Array(4096);
    for (let i = 0; i < values.length; i++) {
      values[i] = ((i * 7919) % 4096) / 4096; // every multiple of 1/4096 in [0, 1) once
    }
    // Codes: linear histogram for every bin of [0, 0.5), near-zero for [0.5, 0.75), target for [0.75, 1).
    for (const x of values) {
      kernel.special[radixBin(x)] = x < 0.5 ? 1 : x < 0.75 ? 4 : 8;
    }
    const lin = kernel.linCounts(bins);
    kernel.logCounts(bins);
    const first = 0;
    const norm = bins; // bin width 0.25
    const tol = 1e-9;
    const thr = 0.7;
    const nz = kernel.pass2(kernel.place(values), values.length, first, norm, tol, thr, bins, false);
    const xs = Array.from(values);
    const code = (x: number): number => kernel.special[radixBin(x)]!;
    assert.equal(nz, xs.filter((x) => code(x) === 4 && x < thr).length);
    // 0 and 0.25 sit on edges (fractional part 0 < tol): the caller bins those.
    const edges = Array.from(kernel.edgeList.subarray(0, kernel.listLengths[1]!)).map((i) => values[i]!);
    assert.deepEqual(edges.sort((a, b) => a - b), [0, 0.25]);
    const expectedLin = [0, 0, 0, 0];
    for (const x of xs) {
      if (code(x) === 1 && x !== 0 && x !== 0.25) {
        const k = Math.floor(x * 4);
        expectedLin[k] = expectedLin[k]! + 1;
      }
    }
    assert.deepEqual(Array.from(lin), expectedLin);
    const targets = Array.from(kernel.targetList.subarray(0, kernel.listLengths[0]!));
    assert.deepEqual(targets, [...values.keys()].filter((i) => code(values[i]!) === 8));
  } finally {
    giveKernel(kernel);
  }
});

test('sum, mergeRadix and nonzeroBins: the float64 sum, the merged radix tables and the occupied bins', () => {
  const kernel = takeKernel()!;
  try {
    const values = new Float32Array(1000);
    for (let i = 0; i < values.length; i++) {
      values[i] = Math.fround(Math.sin(i) * 10 ** ((i % 7) - 3));
    }
    const expected = Array.from(values).reduce((s, x) => s + x, 0);
    assert.ok(Math.abs(kernel.sum(kernel.place(values), values.length) - expected) <= 1e-12 * Array.from(values).reduce((s, x) => s + Math.abs(x), 0));
    kernel.pass1(kernel.place(values), values.length, 0);
    kernel.mergeRadix();
    assert.ok(kernel.radixOdd.every((c) => c === 0), 'odd table zeroed');
    const bins = new Map<number, number>();
    for (const x of values) {
      bins.set(radixBin(x), (bins.get(radixBin(x)) ?? 0) + 1);
    }
    const occupied = Array.from(kernel.nonzeroBins());
    assert.deepEqual(occupied, [...bins.keys()].sort((a, b) => a - b));
    for (const k of occupied) {
      assert.equal(kernel.radixEven[k], bins.get(k), `bin ${k}`);
    }
  } finally {
    giveKernel(kernel);
  }
});
