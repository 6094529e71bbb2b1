import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { diffWeightFiles, pairHistograms, permutationsMapping, transpose } from '../../../src/analysis/diff';
import { memoryWeightFile, seededValues } from './helpers/memoryWeightFile';

const close = (actual: number | null, expected: number, tol = 1e-12): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);
};

test('per-tensor metrics equal hand-computed values, with different chunk sizes on each side', async () => {
  const a = memoryWeightFile([{ name: 'd/kernel', shape: [2, 2], values: [1, -2, 3, 4] }], { chunkElements: 3 });
  const b = memoryWeightFile([{ name: 'd/kernel', shape: [2, 2], values: [1, 2, 3, 5] }], { chunkElements: 2 });
  const r = await diffWeightFiles(a, b);
  const t = r.tensors[0]!;
  assert.equal(t.status, 'changed');
  assert.equal(t.matchedBy, 'name');
  assert.equal(t.count, 4);
  close(t.relL2, Math.sqrt(17 / 30));
  close(t.cosine, 26 / Math.sqrt(30 * 39));
  close(t.maxAbsDiff, 4);
  close(t.meanAbsDiff, 5 / 4);
  close(t.changedFraction, 0.5);
  close(t.signFlipFraction, 0.25);
  close(t.meanA, 1.5);
  close(t.meanB, 2.75);
  close(t.stdA, Math.sqrt(5.25));
  close(t.stdB, Math.sqrt(2.1875));
  close(r.summary.relL2, Math.sqrt(17 / 30));
  assert.deepEqual(r.topLayers, ['d']);
});

test('NaN and infinities are excluded from the norms and counted; NaN equals NaN', async () => {
  const a = memoryWeightFile([{ name: 'x', shape: [4], values: [NaN, Infinity, 1, 2] }]);
  const b = memoryWeightFile([{ name: 'x', shape: [4], values: [NaN, 3, 1, 2] }]);
  const t = (await diffWeightFiles(a, b)).tensors[0]!;
  assert.equal(t.nonFiniteCount, 2);
  close(t.changedFraction, 0.25);
  close(t.relL2, 0);
  close(t.normA, Math.sqrt(5));
  assert.equal(JSON.parse(JSON.stringify(t)).relL2, 0);
});

const base = (seed = 1) => [
  { name: 'dense/kernel', shape: [4, 3], values: seededValues(12, seed) },
  { name: 'dense/bias', shape: [3], values: seededValues(3, seed + 1) },
  { name: 'dense_1/kernel', shape: [3, 2], values: seededValues(6, seed + 2) },
  { name: 'dense_1/bias', shape: [2], values: seededValues(2, seed + 3) },
  { name: 'dense_2/kernel', shape: [2, 1], values: seededValues(2, seed + 4) },
  { name: 'dense_2/bias', shape: [1], values: seededValues(1, seed + 5) },
];

test('a renamed layer is paired by architecture order and reported as renamed', async () => {
  const specs = base();
  const renamed = specs.map((s) => ({ ...s, name: s.name.replace('dense_1/', 'head/') }));
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(renamed));
  const k = r.tensors.find((t) => t.a === 'dense_1/kernel')!;
  assert.equal(k.b, 'head/kernel');
  assert.equal(k.matchedBy, 'order');
  assert.equal(k.renamed, true);
  assert.equal(k.status, 'identical');
  assert.equal(r.summary.renamed, 2);
  assert.equal(r.summary.added, 0);
  assert.equal(r.summary.removed, 0);
  assert.equal(r.summary.modelFingerprintA, r.summary.modelFingerprintB);
});

test('a transposed kernel is detected with its permutation and compared after transposing', async () => {
  const specs = base();
  const k = specs[0]!;
  const t = Float32Array.from(transpose(k.values, [4, 3], [1, 0]));
  t[5] = t[5]! + 0.5; // one real change on top of the transpose
  const b = specs.map((s) => (s === k ? { ...s, shape: [3, 4], values: t } : s));
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(b));
  const d = r.tensors.find((x) => x.a === 'dense/kernel')!;
  assert.equal(d.shapeChange, 'transposed');
  assert.deepEqual(d.permutation, [1, 0]);
  assert.equal(d.status, 'changed');
  close(d.changedFraction, 1 / 12);
  close(d.maxAbsDiff, 0.5, 1e-6);
  assert.equal(r.summary.shapeChanged, 1);
});

test('an added layer is reported as added while renamed neighbours still pair up', async () => {
  const specs = base();
  const b = [
    ...specs.slice(0, 2).map((s) => ({ ...s, name: s.name.replace('dense/', 'dense_Dense1/') })),
    { name: 'extra/kernel', shape: [3, 3], values: seededValues(9, 99) },
    { name: 'extra/bias', shape: [3], values: seededValues(3, 98) },
    ...specs.slice(2).map((s) => ({ ...s, name: s.name.replace(/^dense_(\d)/, (_m, d: string) => `dense_Dense${Number(d) + 1}`) })),
  ];
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(b));
  assert.deepEqual(
    r.tensors.filter((t) => t.status === 'added').map((t) => t.b),
    ['extra/kernel', 'extra/bias'],
  );
  assert.equal(r.tensors.find((t) => t.a === 'dense_1/kernel')!.b, 'dense_Dense2/kernel');
  assert.equal(r.tensors.find((t) => t.a === 'dense_2/bias')!.b, 'dense_Dense3/bias');
  assert.equal(r.summary.added, 2);
  assert.equal(r.summary.removed, 0);
  assert.equal(r.summary.identical, 6);
  assert.equal(r.layers.find((l) => l.layer === 'extra')!.status, 'added');
});

test('a changed dtype is reported even when the values are equal', async () => {
  const specs = base();
  const b = specs.map((s) => (s.name === 'dense/bias' ? { ...s, dtype: 'float64' as const, values: Float64Array.from(s.values) } : s));
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(b));
  const d = r.tensors.find((x) => x.a === 'dense/bias')!;
  assert.equal(d.dtypeChanged, true);
  assert.equal(d.dtypeA, 'float32');
  assert.equal(d.dtypeB, 'float64');
  assert.equal(d.status, 'changed');
  close(d.changedFraction, 0);
  assert.equal(r.summary.dtypeChanged, 1);
});

test('incompatible shapes, unreadable tensors and short streams are reported on that tensor only', async () => {
  const specs = base();
  const broken = memoryWeightFile(specs);
  const bias = broken.tensors[1]!;
  Object.assign(bias, {
    async *readValues() {
      throw new WeightFileError('truncated', 'b.bin: the shard ends at offset 12.');
    },
  });
  const short = broken.tensors[2]!;
  Object.assign(short, {
    async *readValues() {
      yield new Float32Array(3);
    },
  });
  const b = memoryWeightFile([...specs.slice(0, 4), { name: 'dense_2/kernel', shape: [3, 1], values: seededValues(3, 7) }, specs[5]!]);
  const r = await diffWeightFiles(memoryWeightFile(specs), broken);
  assert.equal(r.tensors[1]!.status, 'incomparable');
  assert.equal(r.tensors[1]!.error?.reason, 'truncated');
  assert.equal(r.tensors[2]!.status, 'incomparable');
  assert.equal(r.tensors[2]!.error?.reason, 'corrupt');
  assert.equal(r.tensors[0]!.status, 'identical');
  const r2 = await diffWeightFiles(memoryWeightFile(specs), b);
  const inc = r2.tensors.find((t) => t.a === 'dense_2/kernel')!;
  assert.equal(inc.shapeChange, 'incompatible');
  assert.equal(inc.status, 'incomparable');
  assert.equal(inc.relL2, null);
  assert.ok(inc.normB !== null && inc.normB > 0);
});

test('pairs with known equal fingerprints are not read again', async () => {
  const specs = base();
  const a = memoryWeightFile(specs);
  const b = memoryWeightFile(specs);
  const first = await diffWeightFiles(a, b);
  assert.equal(first.summary.identicalModels, true);
  const fps = (side: 'a' | 'b') => new Map(first.tensors.map((t) => [t[side]!, (side === 'a' ? t.fingerprintA : t.fingerprintB)!]));
  let reads = 0;
  for (const t of [...a.tensors, ...b.tensors]) {
    const orig = t.readValues.bind(t);
    Object.assign(t, {
      readValues: (o?: object) => {
        reads++;
        return orig(o);
      },
    });
  }
  const second = await diffWeightFiles(a, b, { known: { a: fps('a'), b: fps('b') } });
  assert.equal(reads, 0);
  assert.ok(second.tensors.every((t) => t.identicalBy === 'fingerprint'));
  assert.equal(second.summary.identicalModels, true);
});

test('transpose matches NumPy semantics and permutationsMapping lists only real permutations', () => {
  // np.arange(24).reshape(2,3,4).transpose(2,0,1).ravel()[:8] = [0,4,8,12,16,20,1,5]
  const t = transpose(Float64Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], [2, 0, 1]);
  assert.deepEqual([...t.subarray(0, 8)], [0, 4, 8, 12, 16, 20, 1, 5]);
  assert.deepEqual(permutationsMapping([3, 3, 1, 8], [8, 3, 3, 1]), [[3, 0, 1, 2], [3, 1, 0, 2]]);
  assert.deepEqual(permutationsMapping([2, 3], [2, 3]), []);
});

test('pairHistograms bins both sides on shared edges like np.histogram', async () => {
  const a = memoryWeightFile([{ name: 'x', shape: [5], values: [0, 1, 2, 3, 4] }]).tensors[0]!;
  const b = memoryWeightFile([{ name: 'x', shape: [5], values: [4, 4, 8, NaN, 6] }]).tensors[0]!;
  // np.histogram([0,1,2,3,4], bins=4, range=(0,8)) -> [2,2,1,0]; [4,4,8,6] -> [0,0,2,2]
  const h = await pairHistograms(a, b, 4);
  assert.deepEqual(h.edges, [0, 2, 4, 6, 8]);
  assert.deepEqual(h.countsA, [2, 2, 1, 0]);
  assert.deepEqual(h.countsB, [0, 0, 2, 2]);
  const only = await pairHistograms(undefined, b, 2, { range: [4, 8] });
  assert.deepEqual(only.countsA, []);
  assert.deepEqual(only.countsB, [2, 2]);
});

test('finite values whose difference overflows float64 stay finite pairs; a flip from -Inf to +Inf is a sign flip', async () => {
  const a = memoryWeightFile([{ name: 'x', shape: [5], dtype: 'float64', values: Float64Array.from([1.5e308, -1.5e308, 1, 2, -Infinity]) }]);
  const b = memoryWeightFile([{ name: 'x', shape: [5], dtype: 'float64', values: Float64Array.from([-1.5e308, 1.5e308, 1, 2.5, Infinity]) }]);
  const t = (await diffWeightFiles(a, b)).tensors[0]!;
  assert.equal(t.nonFiniteCount, 1);
  assert.equal(t.nonFiniteChanged, 1);
  close(t.changedFraction, 4 / 5);
  close(t.signFlipFraction, 3 / 5);
  assert.deepEqual([t.minA, t.maxA, t.minB, t.maxB], [-1.5e308, 1.5e308, -1.5e308, 1.5e308]);
  // |b-a| = 3e308 and the sums of squares exceed the float64 range: null, never a wrong finite number
  assert.equal(t.maxAbsDiff, null);
  assert.equal(t.diffNorm, null);
  assert.equal(t.relL2, null);
  assert.equal(t.cosine, null);
});

test('a layer whose values became NaN leads the layers that moved most', async () => {
  const a = memoryWeightFile([
    { name: 'calm/kernel', shape: [4], values: [1, 2, 3, 4] },
    { name: 'broken/kernel', shape: [3], values: [1, -1, 0.5] },
    { name: 'moved/kernel', shape: [2], values: [1, 1] },
  ]);
  const b = memoryWeightFile([
    { name: 'calm/kernel', shape: [4], values: [1, 2, 3, 4] },
    { name: 'broken/kernel', shape: [3], values: [NaN, NaN, NaN] },
    { name: 'moved/kernel', shape: [2], values: [1, 3] },
  ]);
  const r = await diffWeightFiles(a, b);
  assert.deepEqual(r.topLayers, ['broken', 'moved']);
  const broken = r.layers.find((l) => l.layer === 'broken')!;
  assert.equal(broken.nonFiniteChanged, 3);
  const t = r.tensors.find((x) => x.a === 'broken/kernel')!;
  assert.equal(t.status, 'changed');
  assert.equal(t.nonFiniteCount, 3);
  assert.equal(t.nonFiniteChanged, 3);
  close(t.changedFraction, 1);
  assert.equal(r.layers.find((l) => l.layer === 'moved')!.nonFiniteChanged, 0);
});

test('shapes that are a permutation of each other but hold the same element order are compared as a reshape', async () => {
  const values = seededValues(12, 7);
  const a = memoryWeightFile([{ name: 'k', shape: [3, 4], values }]);
  const b = memoryWeightFile([{ name: 'k', shape: [4, 3], values: values.map((v, i) => (i === 5 ? v + 0.25 : v)) }]);
  const t = (await diffWeightFiles(a, b)).tensors[0]!;
  assert.equal(t.shapeChange, 'reshaped');
  assert.equal(t.permutation, undefined);
  close(t.changedFraction, 1 / 12);
  close(t.maxAbsDiff, 0.25, 1e-6);
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0));
  close(t.relL2, 0.25 / norm, 1e-6);
});

test('when no pair could be compared, the model and layer changes are null, not 0, and the models are not identical', async () => {
  // The only pair has incompatible shapes ([2,3] against [4]): each side is read on its own, nothing is compared.
  const a = memoryWeightFile([{ name: 'dense/kernel', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] }]);
  const b = memoryWeightFile([{ name: 'dense/kernel', shape: [4], values: [1, 2, 3, 4] }]);
  const r = await diffWeightFiles(a, b);
  assert.equal(r.tensors[0]!.status, 'incomparable');
  close(r.tensors[0]!.normA, Math.sqrt(91));
  assert.equal(r.summary.compared, 0);
  assert.equal(r.summary.relL2, null);
  assert.equal(r.summary.identicalModels, false);
  assert.equal(r.layers[0]!.compared, 0);
  assert.equal(r.layers[0]!.relL2, null);
  assert.equal(r.layers[0]!.status, 'incomparable');
  // Two files without tensors: nothing to call identical either.
  const empty = await diffWeightFiles(memoryWeightFile([]), memoryWeightFile([]));
  assert.equal(empty.summary.relL2, null);
  assert.equal(empty.summary.identicalModels, false);
});

test('a pair known identical by fingerprint still counts its ||A|| in the relative change when another pair changed', async () => {
  // ||frozen||^2 = 9 + 16 = 25; the trained kernel moves by (0, 0, 0, 2): ||A||^2 = 1 + 4 + 9 + 16 = 30, ||B-A|| = 2.
  const a = memoryWeightFile([
    { name: 'frozen/kernel', shape: [2], values: [3, -4] },
    { name: 'trained/kernel', shape: [2, 2], values: [1, -2, 3, 4] },
  ]);
  const b = memoryWeightFile([
    { name: 'frozen/kernel', shape: [2], values: [3, -4] },
    { name: 'trained/kernel', shape: [2, 2], values: [1, -2, 3, 6] },
  ]);
  const known = new Map([['frozen/kernel', 'e'.repeat(64)]]);
  const r = await diffWeightFiles(a, b, { known: { a: known, b: known } });
  const frozen = r.tensors.find((t) => t.a === 'frozen/kernel')!;
  assert.equal(frozen.identicalBy, 'fingerprint');
  assert.equal(frozen.normA, 5);
  assert.ok(Math.abs(r.summary.relL2! - 2 / Math.sqrt(55)) < 1e-12, String(r.summary.relL2));
  // With nothing changed, the known-identical pairs are not read at all.
  let reads = 0;
  const same = memoryWeightFile([{ name: 'frozen/kernel', shape: [2], values: [3, -4] }]);
  const orig = same.tensors[0]!.readValues.bind(same.tensors[0]!);
  Object.assign(same.tensors[0]!, { readValues: (o?: object) => (reads++, orig(o)) });
  const unchanged = await diffWeightFiles(same, memoryWeightFile([{ name: 'frozen/kernel', shape: [2], values: [3, -4] }]), { known: { a: known, b: known } });
  assert.equal(unchanged.summary.relL2, 0);
  assert.equal(reads, 0);
});

test('pairs known identical by fingerprint count as compared: the model change is 0', async () => {
  const specs = base();
  const fp = new Map(specs.map((s) => [s.name, 'f'.repeat(64)]));
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(specs), { known: { a: fp, b: fp } });
  assert.equal(r.summary.compared, specs.length);
  assert.equal(r.summary.relL2, 0);
  assert.equal(r.summary.identicalModels, true);
});

test('tensors without numeric values are left out of the comparison and listed apart; a self-diff stays identical', async () => {
  const specs = base();
  const withText = (): ReturnType<typeof memoryWeightFile> => {
    const f = memoryWeightFile(specs);
    // A string scalar like a TF2 checkpoint's object graph (reading it would fail: strings have no values).
    const graph = {
      ...f.tensors[0]!,
      name: '_CHECKPOINTABLE_OBJECT_GRAPH',
      layer: '',
      weight: '_CHECKPOINTABLE_OBJECT_GRAPH',
      role: 'other' as const,
      group: 'other' as const,
      dtype: 'string' as const,
      storageDtype: 'string' as const,
      shape: [],
      readValues: () => {
        throw new Error('string tensors have no values');
      },
    };
    return { ...f, tensors: [graph, ...f.tensors] };
  };
  const r = await diffWeightFiles(withText(), withText());
  assert.equal(r.summary.incomparable, 0);
  assert.equal(r.summary.identicalModels, true);
  assert.equal(r.tensors.length, specs.length);
  assert.ok(r.tensors.every((t) => t.status === 'identical' && !t.error));
  assert.equal(r.summary.tensorsA, specs.length + 1);
  assert.deepEqual(r.nonNumeric, { a: [{ name: '_CHECKPOINTABLE_OBJECT_GRAPH', dtype: 'string' }], b: [{ name: '_CHECKPOINTABLE_OBJECT_GRAPH', dtype: 'string' }] });
  // Against a file without it: not "removed" either, and the weights are still identical.
  const r2 = await diffWeightFiles(withText(), memoryWeightFile(specs));
  assert.equal(r2.summary.removed, 0);
  assert.deepEqual(r2.nonNumeric.b, []);
  assert.equal(r2.summary.identicalModels, true);
});

/** The documented canonical fingerprint of float32 tensors and of their model (src/analysis/fingerprint.ts), by hand. */
function handModelFingerprint(specs: { shape: number[]; values: Float32Array }[]): string {
  const fps = specs.map((s) => {
    const h = createHash('sha256');
    h.update(`weightscope-fp-v1\0tensor\0float32\0${s.shape.join(',')}\0`);
    h.update(new Uint8Array(s.values.buffer, s.values.byteOffset, s.values.byteLength));
    return h.digest('hex');
  });
  fps.sort();
  return createHash('sha256').update(`weightscope-fp-v1\0model\0${fps.length}\0`).update(fps.join('\n')).digest('hex');
}

test('both model fingerprints are reported also when tensors are removed, added or unreadable on the other side', async () => {
  const specs = base();
  const fewer = specs.filter((s) => !s.name.startsWith('dense_2/'));
  const more = [...specs, { name: 'extra/kernel', shape: [2], values: seededValues(2, 9) }];
  const r = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(fewer));
  assert.equal(r.summary.removed, 2);
  assert.equal(r.summary.modelFingerprintA, handModelFingerprint(specs));
  assert.equal(r.summary.modelFingerprintB, handModelFingerprint(fewer));
  const r2 = await diffWeightFiles(memoryWeightFile(specs), memoryWeightFile(more));
  assert.equal(r2.summary.added, 1);
  assert.equal(r2.summary.modelFingerprintB, handModelFingerprint(more));
  // B's dense/bias cannot be read: A's fingerprint is still complete, B has none.
  const broken = memoryWeightFile(specs);
  Object.assign(broken.tensors[1]!, {
    async *readValues() {
      throw new WeightFileError('truncated', 'b.bin: the shard ends at offset 12.');
    },
  });
  const r3 = await diffWeightFiles(memoryWeightFile(specs), broken);
  assert.equal(r3.tensors[1]!.status, 'incomparable');
  assert.equal(r3.summary.modelFingerprintA, handModelFingerprint(specs));
  assert.equal(r3.summary.modelFingerprintB, undefined);
});
