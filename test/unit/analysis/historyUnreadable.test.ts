/**
 * Histories of TF1 checkpoints some of which cannot read their tensors (data files cut short),
 * made at test time from the shared houseprices fixture (see helpers/tfCheckpointRun.ts): every
 * readable checkpoint keeps its own numbers, whichever checkpoint is unreadable; only the
 * comparisons with an unreadable one are unavailable (null).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { computeHistory, type HistoryResult, type LayerPoint } from '../../../src/analysis/history';
import { readAllValues } from '../../../src/core/tensorData';
import { openLocalPath } from '../../../src/formats/registry';
import { fixturesDir, repoRoot, skipUnlessFixtures } from '../helpers/fixtures';
import { houseprices, noVariableReadableBytes, twoVariablesReadableBytes, writeTfCheckpointRun } from './helpers/tfCheckpointRun';

const variables = ['Variable', ...Array.from({ length: 11 }, (_, i) => `Variable_${i + 1}`)];
const options = { workers: 0, histogramBins: 8 } as const;

/** A variable's numbers over its own values, as a checkpoint alone gives them. */
interface OwnExpected {
  count: number;
  norm: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/**
 * Each model variable's numbers, from the fixture alone: count, sum (so the mean), min and max are
 * NumPy's (tfCheckpoint.reference.json, scripts/reference-tf.py); the norm and std are computed here
 * in float64, two passes, over the values the reader yields (which match NumPy's sum, min and max).
 */
async function fixtureStats(): Promise<Map<string, OwnExpected>> {
  const reference = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'formats', 'tfCheckpoint.reference.json'), 'utf8')) as Record<string, { tensors: Record<string, { count: number; sum: number; min: number; max: number }> }>)[
    `${houseprices.split(path.sep).join('/')}/model.ckpt.index`
  ]!.tensors;
  const wf = await openLocalPath(path.join(fixturesDir, houseprices, 'model.ckpt.index'));
  try {
    const out = new Map<string, OwnExpected>();
    for (const t of wf.tensors.filter((x) => x.group === 'model')) {
      const ref = reference[t.name]!;
      const values = await readAllValues(t);
      let sum = 0;
      for (const v of values) {
        sum += v;
      }
      const mean = sum / values.length;
      let sq = 0;
      let dev = 0;
      for (const v of values) {
        sq += v * v;
        dev += (v - mean) ** 2;
      }
      assert.equal(values.length, ref.count, `${t.name} count`);
      assert.ok(Math.abs(sum - ref.sum) <= 1e-9 * Math.max(1, Math.abs(ref.sum)), `${t.name} sum: ${sum} vs NumPy's ${ref.sum}`);
      out.set(t.layer, { count: ref.count, norm: Math.sqrt(sq), mean: ref.sum / ref.count, std: Math.sqrt(dev / values.length), min: ref.min, max: ref.max });
    }
    return out;
  } finally {
    await wf.close();
  }
}

function near(actual: number | null | undefined, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, what);
    return;
  }
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${String(actual)} vs ${expected}`);
}

/** A point's own numbers (those of the checkpoint alone): everything but the comparisons. */
function ownNumbers(p: LayerPoint | null): unknown {
  if (p === null) {
    return null;
  }
  const { distanceFromFirst: _d, relDistanceFromFirst: _r, relStepChange: _s, ...own } = p;
  return own;
}

/** Checks a point against the variable's statistics read from the fixture alone. */
function assertOwnNumbers(p: LayerPoint | null | undefined, expected: OwnExpected, what: string): void {
  assert.ok(p, `${what} has numbers`);
  assert.equal(p.count, expected.count, `${what} count`);
  assert.deepEqual(p.missingTensors, [], `${what} missing tensors`);
  near(p.norm, expected.norm, `${what} norm`);
  near(p.mean, expected.mean, `${what} mean`);
  near(p.std, expected.std, `${what} std`);
  assert.equal(p.min, expected.min, `${what} min`);
  assert.equal(p.max, expected.max, `${what} max`);
  assert.equal(p.nonFiniteCount, 0, `${what} NaN/Inf`);
  assert.equal(
    p.histogram.reduce((a, b) => a + b, 0),
    expected.count,
    `${what}: every value lands in a bin`,
  );
}

test('a first checkpoint whose tensors cannot be read leaves the others their own numbers, and no distance from it (null, not 0)', skipUnlessFixtures, async () => {
  const stats = await fixtureStats();
  const h = await computeHistory(writeTfCheckpointRun([noVariableReadableBytes, undefined, undefined]), options);
  // The same two readable checkpoints without the damaged one.
  const clean = await computeHistory(writeTfCheckpointRun([undefined, undefined]), options);
  assert.deepEqual(h.checkpoints.map((c) => c.label), ['model.ckpt-1.index', 'model.ckpt-2.index', 'model.ckpt-3.index']);
  assert.deepEqual(h.layers.map((l) => l.layer), variables);
  for (const l of h.layers) {
    const expected = stats.get(l.layer)!;
    assert.equal(l.count, expected.count, `${l.layer} count (from the shapes)`);
    assert.deepEqual(l.unreadable, [0], `${l.layer}: only the first checkpoint is unreadable`);
    assert.equal(l.points[0], null, `${l.layer}@1 has no numbers`);
    assertOwnNumbers(l.points[1], expected, `${l.layer}@2`);
    assertOwnNumbers(l.points[2], expected, `${l.layer}@3`);
    const c = clean.layers.find((x) => x.layer === l.layer)!;
    assert.deepEqual(l.histogramEdges, c.histogramEdges, `${l.layer} histogram edges`);
    assert.deepEqual(l.points.slice(1).map(ownNumbers), c.points.map(ownNumbers), `${l.layer}: the numbers of a history without the damaged checkpoint`);
    // Distances from an unreadable first checkpoint are unknown, not 0; the step from 2 to 3 is known.
    assert.deepEqual(l.points.map((p) => p && [p.distanceFromFirst, p.relDistanceFromFirst, p.relStepChange]), [null, [null, null, null], [null, null, 0]], l.layer);
  }
  assert.deepEqual(h.relDistanceFromFirst, [null, null, null]);
  assert.deepEqual(h.relStepChange, [null, null, 0]);
  const unreadable = h.warnings.filter((w) => w.kind === 'unreadable');
  assert.deepEqual(unreadable.map((w) => [w.layer, w.checkpoint]), variables.map((v) => [v, 'model.ckpt-1.index']));
  assert.match(unreadable[0]!.message, /^Checkpoint model\.ckpt-1\.index: 'Variable' could not be read \(truncated: .*\); layer 'Variable' is left out of the comparisons there, so its distance from the first checkpoint is unavailable in every checkpoint\.$/);
  assert.deepEqual(h.warnings.filter((w) => w.kind !== 'unreadable').map((w) => [w.kind, w.checkpoint]), [['unchanged', 'model.ckpt-3.index']]);
});

test('a first checkpoint reading only some layers and an unreadable middle one: own numbers everywhere else, distances and changes only where both sides read', skipUnlessFixtures, async () => {
  const stats = await fixtureStats();
  // model.ckpt-1 reads Variable and Variable_1 only; model.ckpt-3 none; model.ckpt-2 and -4 all.
  const h: HistoryResult = await computeHistory(writeTfCheckpointRun([twoVariablesReadableBytes, undefined, noVariableReadableBytes, undefined]), options);
  for (const l of h.layers) {
    const expected = stats.get(l.layer)!;
    const firstReads = l.layer === 'Variable' || l.layer === 'Variable_1';
    assert.deepEqual(l.unreadable, firstReads ? [2] : [0, 2], l.layer);
    assert.equal(l.points[2], null, `${l.layer}@3 has no numbers`);
    for (const k of firstReads ? [0, 1, 3] : [1, 3]) {
      assertOwnNumbers(l.points[k], expected, `${l.layer}@${k + 1}`);
    }
    const comparisons = l.points.map((p) => p && [p.distanceFromFirst, p.relDistanceFromFirst, p.relStepChange]);
    // The copies are identical: a distance or change that can be computed is 0; one with an unreadable side is null.
    assert.deepEqual(comparisons, firstReads ? [[0, 0, null], [0, 0, 0], null, [0, 0, null]] : [null, [null, null, null], null, [null, null, null]], l.layer);
  }
  // Model: over the tensors both checkpoints read (the first reads two variables; the third none).
  assert.deepEqual(h.relDistanceFromFirst, [0, 0, null, 0]);
  assert.deepEqual(h.relStepChange, [null, 0, null, null]);
  const warning = (layer: string): string => h.warnings.find((w) => w.kind === 'unreadable' && w.layer === layer)!.message;
  assert.match(warning('Variable'), /^Checkpoint model\.ckpt-3\.index: 'Variable' could not be read \(truncated: .*\); layer 'Variable' is left out of the comparisons there\.$/);
  assert.match(warning('Variable_2'), /^Checkpoint model\.ckpt-1\.index \(and 1 more checkpoint: model\.ckpt-3\.index\): 'Variable_2' could not be read \(truncated: .*\); layer 'Variable_2' is left out of the comparisons there, so its distance from the first checkpoint is unavailable in every checkpoint\.$/);
  assert.deepEqual(h.warnings.filter((w) => w.kind === 'missing' || w.kind === 'partial' || w.kind === 'blowup'), []);
});
