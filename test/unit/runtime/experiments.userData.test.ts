/**
 * The experiments on the user's data: a small CSV written here (three classes, five features,
 * sorted by class, header row, label column in the middle) is read, standardized, shuffled and
 * one-hot encoded; each experiment trains its variants with input/output layers sized from it
 * and writes checkpoints whose stored kernels have those sizes.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { WeightFileError } from '../../../src/core/errors';
import { parseCsv, parseJsonData } from '../../../src/runtime/dataLoader';
import { prepareExperimentData, runExperiment, type ExperimentEvent } from '../../../src/runtime/experiments';
import { makeTempDir } from '../helpers/fixtures';

const features = 5;
const classes = 3;
const perClass = 40;

/** Rows [f0..f4, label] of three well separated classes, deterministic (no PRNG of the code under test). */
function rawRows(): number[][] {
  const out: number[][] = [];
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      // class c sits around 10*c on every feature (+ a per-feature offset), with a spread of about 1
      out.push([...Array.from({ length: features }, (_, j) => 10 * c + 3 * j + Math.sin(7.1 * i + 1.3 * j + c)), c]);
    }
  }
  return out;
}

/** The CSV text: header, label as the third column (found by its name), sorted by class. */
function csvText(): string {
  const header = ['f0', 'f1', 'label', 'f2', 'f3', 'f4'];
  const lines = rawRows().map((r) => [r[0], r[1], r[5], r[2], r[3], r[4]].join(','));
  return `${header.join(',')}\n${lines.join('\n')}\n`;
}

function writeCsv(): string {
  const dir = makeTempDir('ws-exp-data-');
  const file = path.join(dir, 'three-classes.csv');
  fs.writeFileSync(file, csvText());
  return file;
}

test('prepareExperimentData: standardized features, one-hot labels matching their rows, every class in the validation rows', () => {
  const raw = rawRows();
  const set = prepareExperimentData(parseCsv(csvText(), 'three-classes.csv'));
  assert.equal(set.n, classes * perClass);
  assert.equal(set.d, features);
  assert.equal(set.k, classes);
  assert.equal(set.source, 'three-classes.csv: 120 samples, 5 features, 3 classes');
  // per-feature mean and std of the raw file, computed here in float64
  const mean = Array.from({ length: features }, (_, j) => raw.reduce((a, r) => a + r[j]!, 0) / raw.length);
  const std = mean.map((m, j) => Math.sqrt(raw.reduce((a, r) => a + (r[j]! - m) ** 2, 0) / raw.length));
  for (let j = 0; j < features; j++) {
    let s = 0;
    let q = 0;
    for (let i = 0; i < set.n; i++) {
      s += set.x[i * features + j]!;
      q += set.x[i * features + j]! ** 2;
    }
    assert.ok(Math.abs(s / set.n) < 1e-5, `feature ${j} mean ${s / set.n}`);
    assert.ok(Math.abs(q / set.n - 1) < 1e-4, `feature ${j} variance ${q / set.n}`);
  }
  // every prepared row is one raw row (un-standardized), with that row's label one-hot
  const seen = new Set<number>();
  for (let i = 0; i < set.n; i++) {
    const back = Array.from({ length: features }, (_, j) => set.x[i * features + j]! * std[j]! + mean[j]!);
    const match = raw.findIndex((r) => back.every((v, j) => Math.abs(v - r[j]!) < 1e-3));
    assert.ok(match >= 0, `row ${i} is a row of the file`);
    seen.add(match);
    const onehot = Array.from(set.y.subarray(i * classes, (i + 1) * classes));
    assert.deepEqual(onehot, [0, 1, 2].map((c) => (c === raw[match]![5] ? 1 : 0)));
  }
  assert.equal(seen.size, set.n, 'a permutation of the rows');
  // the file is sorted by class; after the shuffle the last 20% (validation) holds every class
  const valClasses = new Set<number>();
  for (let i = Math.floor(set.n * 0.8); i < set.n; i++) {
    valClasses.add(Array.from(set.y.subarray(i * classes, (i + 1) * classes)).indexOf(1));
  }
  assert.deepEqual([...valClasses].sort(), [0, 1, 2]);
});

test('prepareExperimentData: one-hot targets keep their width; non-class targets and unlabelled data are refused', () => {
  const json = JSON.stringify({
    x: Array.from({ length: 12 }, (_, i) => [i, i % 3]),
    y: Array.from({ length: 12 }, (_, i) => [0, 0, 0, 0].map((_v, c) => (c === i % 4 ? 1 : 0))),
  });
  const set = prepareExperimentData(parseJsonData(json, 'onehot.json'));
  assert.equal(set.k, 4);
  assert.equal(set.d, 2);
  const regression = JSON.stringify({ x: Array.from({ length: 12 }, (_, i) => [i]), y: Array.from({ length: 12 }, (_, i) => i * 0.5) });
  assert.throws(
    () => prepareExperimentData(parseJsonData(regression, 'regression.json')),
    (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /regression\.json holds the target 0\.5 in sample 2/.test((ex as Error).message),
  );
  // Rows that are not one-hot (soft labels, two ones, none) are refused, naming where.
  const rows = (row: (i: number) => number[]): string => JSON.stringify({ x: Array.from({ length: 12 }, (_, i) => [i]), y: Array.from({ length: 12 }, (_, i) => row(i)) });
  assert.throws(
    () => prepareExperimentData(parseJsonData(rows((i) => (i === 5 ? [0.75, 0.25] : [1, 0])), 'soft.json')),
    (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /soft\.json holds the target 0\.75 at 'y'\[5, 0\] \(sample 5, counting from 0\); an experiment needs class ids 0, 1, 2, \.\.\. or one-hot rows/.test((ex as Error).message),
  );
  for (const [bad, ones] of [[[1, 1, 0], 2], [[0, 0, 0], 0]] as const) {
    assert.throws(
      () => prepareExperimentData(parseJsonData(rows((i) => (i === 7 ? [...bad] : [0, 1, 0])), 'rows.json')),
      (ex: unknown) => WeightFileError.is(ex, 'corrupt') && new RegExp(`rows\\.json holds a target row of ${ones} ones at 'y'\\[7, 0\\]`).test((ex as Error).message),
      `a row of ${ones} ones`,
    );
  }
  const unlabelled = JSON.stringify({ x: Array.from({ length: 12 }, (_, i) => [i]) });
  assert.throws(() => prepareExperimentData(parseJsonData(unlabelled, 'x-only.json')), (ex: unknown) => WeightFileError.is(ex, 'corrupt') && /x-only\.json has no targets/.test((ex as Error).message));
});

/** Input and output widths of the Dense kernels stored in a checkpoint's model.json. */
function kernelShapes(dir: string): number[][] {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
  return m.weightsManifest.flatMap((g) => g.weights).filter((w) => w.name.endsWith('kernel')).map((w) => w.shape);
}

test('initialization on a CSV: three variants sized 5-128-128-3, probed, trained, with per-epoch checkpoints and curves', async () => {
  const file = writeCsv();
  const outDir = path.join(path.dirname(file), 'out');
  const events: ExperimentEvent[] = [];
  const r = await runExperiment('initialization', { outDir, dataFile: file, epochs: 2, backend: 'cpu', onEvent: (e) => events.push(e) });
  assert.equal(r.data, 'three-classes.csv: 120 samples, 5 features, 3 classes');
  assert.deepEqual(r.variants.map((v) => v.name), ['uniform-0.01', 'glorot-uniform', 'he-normal']);
  for (const v of r.variants) {
    assert.equal(v.history.length, 2, `${v.name} trained 2 epochs`);
    for (const h of v.history) {
      assert.ok(h.loss !== null && Number.isFinite(h.loss) && h.val_loss !== null && h.val_loss !== undefined && h.val_acc !== undefined, `${v.name} curves: ${JSON.stringify(h)}`);
    }
    assert.deepEqual(v.checkpoints.map((c) => path.basename(c)), ['epoch-000', 'epoch-001', 'epoch-002']);
    assert.deepEqual(kernelShapes(v.checkpoints[2]!), [[5, 128], [128, 128], [128, 3]]);
    const run = JSON.parse(fs.readFileSync(path.join(outDir, 'initialization', v.name, 'run.json'), 'utf8')) as { history: unknown[] };
    assert.equal(run.history.length, 2);
    assert.ok(events.some((e) => e.variant === v.name && e.event.type === 'epoch'), `${v.name} epoch events`);
  }
  // the probe ran on the data's batch: the tiny uniform init is flagged, He (made for ReLU) is not
  // (Glorot's fan average shrinks the signal of a 5-feature input by 128-unit layers too, so it is not asserted)
  assert.ok(r.variants[0]!.diagnostics.some((d) => d.code === 'gradient-vanishing'), JSON.stringify(r.variants[0]!.diagnostics));
  assert.deepEqual(r.variants[2]!.diagnostics.filter((d) => d.code.startsWith('gradient-')), [], JSON.stringify(r.variants[2]!.diagnostics));
  // well separated classes: with He init six SGD steps already beat chance (1/3) by far and lower the loss
  const he = r.variants[2]!.history;
  assert.ok((he[1]!.val_acc ?? 0) > 0.6, `he-normal val_acc ${he[1]!.val_acc}`);
  assert.ok(he[1]!.loss! < he[0]!.loss!, `he-normal loss ${he[0]!.loss} -> ${he[1]!.loss}`);
});

test('regularization and precision on a CSV: layers sized from the data, validation curves, quantized copies', async () => {
  const file = writeCsv();
  const outDir = path.join(path.dirname(file), 'out');
  const reg = await runExperiment('regularization', { outDir, dataFile: file, epochs: 2, backend: 'cpu' });
  assert.deepEqual(reg.variants.map((v) => v.name), ['plain', 'l2-dropout']);
  for (const v of reg.variants) {
    assert.equal(v.history.length, 2);
    assert.ok(v.history.every((h) => typeof h.val_loss === 'number' && Number.isFinite(h.val_loss)), JSON.stringify(v.history));
    assert.deepEqual(kernelShapes(v.checkpoints.at(-1)!), [[5, 256], [256, 256], [256, 3]]);
  }
  const prec = await runExperiment('precision', { outDir, dataFile: file, epochs: 2, backend: 'cpu' });
  assert.deepEqual(prec.variants.map((v) => v.name), ['float32', 'float16', 'int8 (uint8 affine)']);
  assert.deepEqual(kernelShapes(prec.variants[0]!.checkpoints.at(-1)!), [[5, 64], [64, 64], [64, 3]]);
  assert.equal(prec.variants[0]!.outputDrift, 0);
  for (const v of prec.variants.slice(1)) {
    assert.ok(fs.existsSync(path.join(v.checkpoints[0]!, 'weights.bin')), `${v.name} written`);
    assert.ok(v.outputDrift !== undefined && v.outputDrift > 0 && v.outputDrift < 0.1, `${v.name} drift ${v.outputDrift}`);
    assert.ok(v.accuracy !== undefined && v.accuracy >= 0 && v.accuracy <= 1);
  }
  assert.deepEqual(kernelShapes(prec.variants[2]!.checkpoints[0]!), [[5, 64], [64, 64], [64, 3]]);
});
