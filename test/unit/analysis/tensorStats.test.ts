import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { decodeValues, type DType, type NumericArray } from '../../../src/core/dtypes';
import { WeightFileError } from '../../../src/core/errors';
import type { ReadValuesOptions } from '../../../src/core/model';
import { computeArrayStats, computeTensorStats } from '../../../src/analysis/tensorStats';
import { kernelsAvailable, setKernelsEnabled } from '../../../src/analysis/statsKernels';
import { percentileKeys, type TensorStats } from '../../../src/analysis/statsTypes';
import { repoRoot } from '../helpers/fixtures';

/** One case of scripts/reference-stats.py. */
interface ReferenceCase {
  name: string;
  dtype: DType;
  base64?: string;
  formula?: { kind: string; n: number };
  /** True when mean/std/skewness/kurtosis are exact rational-arithmetic values (NumPy float64 loses digits there). */
  exactMoments?: boolean;
  stats: TensorStats;
}

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'stats.reference.json'), 'utf8')) as {
  bins: number;
  cases: ReferenceCase[];
};

/** The case's values exactly as NumPy saw them (same bytes, or the same integer formula). */
function valuesOf(c: ReferenceCase): NumericArray {
  if (c.base64 !== undefined) {
    const bytes = new Uint8Array(Buffer.from(c.base64, 'base64'));
    return decodeValues(c.dtype, bytes.slice()); // copy: aligned buffer
  }
  const { kind, n } = c.formula!;
  switch (kind) {
    case 'narrow-f32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = 1 + ((i * 7919) % 65536) * 2 ** -23;
      }
      return out;
    }
    case 'narrow-f64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = 1 + ((i * 7919) % 100003) * 2 ** -40;
      }
      return out;
    }
    case 'sparse-f32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = i % 10 < 7 ? 0 : (((i * 7919) % 2001) - 1000) / 1000;
      }
      return out;
    }
    case 'int-ramp-i32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = ((i * 7919) % 1000) - 500;
      }
      return out;
    }
  }
  throw new Error(`unknown formula ${kind}`);
}

/** A tensor whose readValues streams `values` in chunks of the requested size. */
function fakeTensor(name: string, dtype: DType, values: NumericArray, reads?: { count: number }) {
  return {
    name,
    dtype,
    shape: [values.length],
    async *readValues(options?: ReadValuesOptions): AsyncIterable<NumericArray> {
      if (reads) {
        reads.count++;
      }
      const step = options?.chunkElements ?? 1 << 20;
      for (let at = 0; at < values.length; at += step) {
        yield values.subarray(at, at + step);
      }
    },
  };
}

function close(actual: number | null, expected: number | null, rel: number, absFloor: number, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  const tol = Math.max(rel * Math.abs(expected), absFloor);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs NumPy ${expected} (|diff| ${Math.abs(actual - expected)} > ${tol})`);
}

/** Compares with the NumPy reference: 1e-9 relative for moments, exact counts, extremes and histograms. */
function compare(name: string, s: TensorStats, r: TensorStats): void {
  for (const k of ['count', 'nanCount', 'posInfCount', 'negInfCount', 'zeroCount'] as const) {
    assert.equal(s[k], r[k], `${name}.${k}`);
  }
  assert.equal(s.min, r.min, `${name}.min`);
  assert.equal(s.max, r.max, `${name}.max`);
  assert.equal(s.absMax, r.absMax, `${name}.absMax`);
  const scale = r.absMax ?? 0;
  close(s.mean, r.mean, 1e-9, 1e-15 * scale, `${name}.mean`);
  close(s.std, r.std, 1e-9, 1e-15 * scale, `${name}.std`);
  close(s.l1, r.l1, 1e-9, 0, `${name}.l1`);
  close(s.l2, r.l2, 1e-9, 0, `${name}.l2`);
  close(s.skewness, r.skewness, 1e-9, 1e-12, `${name}.skewness`);
  close(s.kurtosis, r.kurtosis, 1e-9, 1e-12, `${name}.kurtosis`);
  assert.equal(s.nearZeroFraction, r.nearZeroFraction, `${name}.nearZeroFraction`);
  for (const k of percentileKeys) {
    const a = s.percentiles[k];
    const b = r.percentiles[k];
    if (s.percentileErrorBound === 0) {
      assert.equal(a, b, `${name}.percentiles.${k} (exact)`);
    } else {
      assert.ok(a !== null && b !== null && Math.abs(a - b) <= s.percentileErrorBound, `${name}.percentiles.${k}: ${a} vs ${b}, bound ${s.percentileErrorBound}`);
    }
  }
  assert.deepEqual(s.histogram.counts, r.histogram.counts, `${name}.histogram.counts`);
  assert.deepEqual(s.histogram.edges, r.histogram.edges, `${name}.histogram.edges`);
  assert.deepEqual(s.logHistogram.counts, r.logHistogram.counts, `${name}.logHistogram.counts`);
  assert.deepEqual(s.logHistogram.edges, r.logHistogram.edges, `${name}.logHistogram.edges`);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(s)));
  assert.ok(!JSON.stringify(s).includes('NaN') && !JSON.stringify(s).includes('Infinity'), `${name}: JSON-safe`);
}

test('the reference covers the promised cases', () => {
  const names = reference.cases.map((c) => c.name);
  for (const n of ['normal-f64', 'heavy-tails-t2-f32', 'constant-f32', 'all-zero-f32', 'int8', 'int32', 'float16-subnormals', 'nan-inf-mixed-f32', 'empty-f32', 'single-value-f32']) {
    assert.ok(names.includes(n), n);
  }
});

for (const c of reference.cases) {
  test(`computeTensorStats streaming 1000-element chunks matches NumPy: ${c.name}`, async () => {
    const values = valuesOf(c);
    assert.equal(values.length, c.stats.count);
    const stats = await computeTensorStats(fakeTensor(c.name, c.dtype, values), { chunkElements: 1000, histogramBins: reference.bins });
    compare(c.name, stats, c.stats);
  });
}

test('computeArrayStats matches NumPy on every case (one chunk and 777-element chunks)', () => {
  for (const c of reference.cases) {
    compare(c.name, computeArrayStats(valuesOf(c)), c.stats);
    compare(`${c.name}/777`, computeArrayStats(valuesOf(c), { chunkElements: 777 }), c.stats);
  }
});

test('a plain number[] is analysed in float64', () => {
  const c = reference.cases.find((x) => x.name === 'normal-f64')!;
  compare(c.name, computeArrayStats(Array.from(valuesOf(c))), c.stats);
});

test('tensors above the in-memory limit are streamed twice and give the same result', async () => {
  const c = reference.cases.find((x) => x.name === 'nan-inf-mixed-f32')!;
  const reads = { count: 0 };
  const stats = await computeTensorStats(fakeTensor(c.name, c.dtype, valuesOf(c), reads), { chunkElements: 1000, holdLimitBytes: 0 });
  assert.equal(reads.count, 2);
  compare(c.name, stats, c.stats);
  const held = { count: 0 };
  await computeTensorStats(fakeTensor(c.name, c.dtype, valuesOf(c), held), { chunkElements: 1000 });
  assert.equal(held.count, 1);
});

test('a reader that refills one buffer still gives exact results (values are copied for pass 2)', async () => {
  const c = reference.cases.find((x) => x.name === 'normal-f32')!;
  const values = valuesOf(c) as Float32Array;
  let reads = 0;
  const recycling = {
    name: c.name,
    dtype: c.dtype,
    shape: [values.length],
    async *readValues(options?: ReadValuesOptions): AsyncIterable<NumericArray> {
      reads++;
      const step = options?.chunkElements ?? 1 << 20;
      const buffer = new Float32Array(step);
      for (let at = 0; at < values.length; at += step) {
        const part = values.subarray(at, at + step);
        buffer.set(part);
        yield buffer.subarray(0, part.length);
      }
    },
  };
  const stats = await computeTensorStats(recycling, { chunkElements: 1000 });
  assert.equal(reads, 1);
  compare(c.name, stats, c.stats);
});

test('the engine asks for reused chunks and never keeps one: a reader that spoils each chunk once the next is requested gives exact results', async () => {
  const c = reference.cases.find((x) => x.name === 'nan-inf-mixed-f32')!;
  const values = valuesOf(c) as Float32Array;
  const asked: boolean[] = [];
  const spoiling = {
    name: c.name,
    dtype: c.dtype,
    shape: [values.length],
    async *readValues(options?: ReadValuesOptions): AsyncIterable<NumericArray> {
      asked.push(options?.reuseChunks === true);
      const step = options?.chunkElements ?? 1 << 20;
      const buffer = new Float32Array(step);
      for (let at = 0; at < values.length; at += step) {
        const part = values.subarray(at, at + step);
        buffer.set(part);
        yield buffer.subarray(0, part.length);
        buffer.fill(12345.5); // the consumer is done with the chunk now
      }
    },
  };
  compare(`${c.name}/held`, await computeTensorStats(spoiling, { chunkElements: 1000 }), c.stats);
  compare(`${c.name}/read twice`, await computeTensorStats(spoiling, { chunkElements: 1000, holdLimitBytes: 0 }), c.stats);
  assert.deepEqual(asked, [true, true, true]);
});

test('float32 percentiles are exact even when one radix bin holds 300001 values', () => {
  const c = reference.cases.find((x) => x.name === 'narrow-f32')!;
  const s = computeArrayStats(valuesOf(c));
  assert.equal(s.percentileErrorBound, 0);
  assert.deepEqual(s.percentiles, c.stats.percentiles);
});

test('float64 values differing only in the low word report a small, honest percentile bound', () => {
  const c = reference.cases.find((x) => x.name === 'narrow-f64')!;
  const s = computeArrayStats(valuesOf(c));
  assert.ok(s.percentileErrorBound > 0 && s.percentileErrorBound < 1e-6, `bound ${s.percentileErrorBound}`);
});

test('a histogram with other bin counts follows numpy edges', () => {
  // np.histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3): edges [0, 3.333.., 6.666.., 10], counts [4, 3, 4]
  const s = computeArrayStats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { histogramBins: 3 });
  assert.deepEqual(s.histogram.counts, [4, 3, 4]);
  assert.deepEqual(s.histogram.edges, [0, 10 / 3, 2 * (10 / 3), 10]);
  // A constant widens to [c - 0.5, c + 0.5] like NumPy and lands in the middle bin.
  const k = computeArrayStats(new Float32Array([2, 2, 2]), { histogramBins: 4 });
  assert.deepEqual(k.histogram.edges, [1.5, 1.75, 2, 2.25, 2.5]);
  assert.deepEqual(k.histogram.counts, [0, 0, 3, 0]);
  assert.equal(k.std, 0);
  assert.equal(k.skewness, null);
});

test('values of non-numeric dtypes and wrong counts are reported, not analysed', async () => {
  await assert.rejects(
    computeTensorStats({ name: 's', dtype: 'string', shape: [2], readValues: fakeTensor('s', 'float32', new Float32Array(2)).readValues }),
    (ex: unknown) => WeightFileError.is(ex, 'unsupportedDtype'),
  );
  const t = { ...fakeTensor('short', 'float32', new Float32Array(5)), shape: [6] };
  await assert.rejects(computeTensorStats(t), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /'short' yielded 5 values/.test((ex as Error).message));
});

test('an aborted signal stops the computation with `cancelled`', async () => {
  const controller = new AbortController();
  let chunks = 0;
  const tensor = {
    name: 'endless',
    dtype: 'float32' as DType,
    shape: [1e12],
    async *readValues(): AsyncIterable<NumericArray> {
      for (;;) {
        chunks++;
        if (chunks === 3) {
          controller.abort();
        }
        yield new Float32Array(1000).fill(chunks);
      }
    },
  };
  await assert.rejects(computeTensorStats(tensor, { signal: controller.signal }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  assert.equal(chunks, 3);
});

test('the WebAssembly float32 kernels are available here, and the JS loops they replace match NumPy too', async () => {
  assert.ok(kernelsAvailable(), 'WebAssembly SIMD kernels should load in Node 20 on a little-endian host');
  setKernelsEnabled(false);
  try {
    for (const c of reference.cases) {
      compare(`${c.name}/js`, computeArrayStats(valuesOf(c), { chunkElements: 777 }), c.stats);
      const stats = await computeTensorStats(fakeTensor(c.name, c.dtype, valuesOf(c)), { chunkElements: 1001, histogramBins: reference.bins });
      compare(`${c.name}/js-streamed`, stats, c.stats);
    }
  } finally {
    setKernelsEnabled(true);
  }
});

test('kernels and JS loops agree on float32 chunks larger than the kernel buffer, odd lengths, zeros, subnormals and NaN/Inf', () => {
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const big = new Float32Array(700_003);
  for (let i = 0; i < big.length; i++) {
    const u = rand() || 1e-12;
    big[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) * 0.05 + (i % 97 === 0 ? 0 : 0.001);
  }
  big[5] = -0;
  big[77] = 1e-42; // subnormal
  big[300_000] = -3.5;
  const withSpecials = big.slice(0, 200_001);
  withSpecials[150_000] = NaN;
  withSpecials[150_001] = Infinity;
  const cases: Array<[string, Float32Array, number]> = [
    ['big', big, 1 << 20],
    ['big/ragged chunks', big, 65_539],
    ['specials', withSpecials, 100_003],
    ['seven values', big.slice(0, 7), 3],
  ];
  for (const [name, values, chunkElements] of cases) {
    const fast = computeArrayStats(values, { chunkElements });
    setKernelsEnabled(false);
    let slow: TensorStats;
    try {
      slow = computeArrayStats(values, { chunkElements });
    } finally {
      setKernelsEnabled(true);
    }
    for (const k of ['mean', 'std', 'l1', 'l2', 'skewness', 'kurtosis'] as const) {
      close(fast[k], slow[k], 1e-12, k === 'skewness' || k === 'kurtosis' ? 1e-12 : 0, `${name}.${k} (kernel vs JS loops)`);
    }
    assert.deepEqual({ ...fast, mean: 0, std: 0, l1: 0, l2: 0, skewness: 0, kurtosis: 0 }, { ...slow, mean: 0, std: 0, l1: 0, l2: 0, skewness: 0, kurtosis: 0 }, name);
  }
});

test('a cancelled float32 computation hands its kernel on, and the next one on that kernel matches NumPy', async () => {
  const c = reference.cases.find((x) => x.dtype === 'float32' && valuesOf(x).length >= 64);
  assert.ok(c, 'a float32 reference case');
  // The engine offers its kernel's value buffer to the reader (chunkBuffer): that names the kernel.
  const kernelOf = (options?: ReadValuesOptions): ArrayBufferLike | undefined => options?.chunkBuffer?.buffer;
  const controller = new AbortController();
  let cancelledOn: ArrayBufferLike | undefined;
  const cancelled = {
    name: 'cancelled',
    dtype: 'float32' as DType,
    shape: [4096],
    async *readValues(options?: ReadValuesOptions): AsyncIterable<NumericArray> {
      cancelledOn = kernelOf(options);
      yield new Float32Array(1024).fill(3); // pass 1 has counted into the kernel's tables
      controller.abort();
      yield new Float32Array(1024).fill(5);
    },
  };
  await assert.rejects(computeTensorStats(cancelled, { signal: controller.signal, chunkElements: 1024 }), (ex: unknown) => WeightFileError.is(ex, 'cancelled'));
  assert.ok(cancelledOn, 'the cancelled computation had a kernel');
  const next = fakeTensor(c.name, c.dtype, valuesOf(c));
  let nextOn: ArrayBufferLike | undefined;
  const stats = await computeTensorStats(
    {
      ...next,
      readValues: (options?: ReadValuesOptions) => {
        nextOn ??= kernelOf(options);
        return next.readValues(options);
      },
    },
    { chunkElements: 1001, histogramBins: reference.bins },
  );
  assert.equal(nextOn, cancelledOn, 'the next computation reused the kernel of the cancelled one');
  compare(`${c.name}/after-cancel`, stats, c.stats);
});

test('tensors of a few values, analysed one after another on reused kernels between large ones, match NumPy', async () => {
  // Small float32-mode tensors clear only the radix bins their values touched; every later tensor,
  // small or large, must still start from clean tables.
  const order = [...reference.cases, ...[...reference.cases].reverse(), ...reference.cases.filter((c) => valuesOf(c).length <= 4096)];
  for (const [i, c] of order.entries()) {
    const chunkElements = i % 2 === 0 ? 1 << 20 : 1001;
    const stats = await computeTensorStats(fakeTensor(c.name, c.dtype, valuesOf(c)), { chunkElements, histogramBins: reference.bins });
    compare(`${c.name}#${i}`, stats, c.stats);
  }
});

test('every pair of few-value tensors analysed back to back on reused work arrays matches NumPy (kernels and JS loops)', async () => {
  // The second tensor of each pair starts from what the first left in the reused radix keys,
  // collected percentile values, log tables and cached log edges.
  const few = reference.cases.filter((c) => valuesOf(c).length <= 4096);
  assert.ok(few.filter((c) => c.dtype === 'float32').length >= 5, 'several float32 cases of a few values');
  for (const a of few) {
    for (const b of few) {
      await computeTensorStats(fakeTensor(a.name, a.dtype, valuesOf(a)), { histogramBins: reference.bins });
      const stats = await computeTensorStats(fakeTensor(b.name, b.dtype, valuesOf(b)), { histogramBins: reference.bins });
      compare(`${a.name} then ${b.name}`, stats, b.stats);
      computeArrayStats(valuesOf(a));
      compare(`${a.name} then ${b.name} (array)`, computeArrayStats(valuesOf(b)), b.stats);
    }
  }
  setKernelsEnabled(false);
  try {
    for (const a of few) {
      for (const b of few) {
        computeArrayStats(valuesOf(a));
        compare(`${a.name} then ${b.name} (JS loops)`, computeArrayStats(valuesOf(b)), b.stats);
      }
    }
  } finally {
    setKernelsEnabled(true);
  }
});
