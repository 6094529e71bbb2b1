/**
 * Tests of the report renderings (CSV, Markdown, JSON) and of the atomic export write.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildFileReport, type FileReport } from '../../../src/analysis/report';
import { inputFilesOf, renderReport, reportToCsv, reportToMarkdown, restrictReport, tableFormatOf, writeFileAtomic } from '../../../src/extension/reportExport';
import { openLocalPath } from '../../../src/formats/registry';
import { writeUnknownShapeCheckpoint } from '../formats/helpers/bundleWriter';
import { makeTempDir } from '../helpers/fixtures';

function report(): FileReport {
  return {
    schemaVersion: 1,
    format: 'tfjs-layers',
    formatName: 'TensorFlow.js layers model',
    path: '/m/model.json',
    modelClass: 'Sequential',
    params: 6,
    bytes: 24,
    metadata: {},
    warnings: [{ reason: 'missingCompanionFile', message: "model.json: shard 'b.bin' is missing." }],
    tensors: [
      {
        name: 'a,"b"|c',
        layer: 'a',
        role: 'kernel',
        group: 'model',
        dtype: 'float32',
        shape: [2, 2],
        byteLength: 16,
        stats: {
          count: 4,
          nanCount: 1,
          posInfCount: 0,
          negInfCount: 0,
          zeroCount: 1,
          mean: 0.5,
          std: 0.25,
          min: -1,
          max: 2,
          l1: 3,
          l2: 2.5,
          absMax: 2,
          skewness: null,
          kurtosis: null,
          nearZeroFraction: 0.25,
          percentiles: { 'p0.1': -1, p1: -1, p5: -1, p25: 0, p50: 0.5, p75: 1, p95: 2, p99: 2, 'p99.9': 2 },
          percentileErrorBound: 0,
          histogram: { edges: [-1, 2], counts: [3] },
          logHistogram: { edges: [0, 1], counts: [2] },
        },
      },
      {
        name: '=HYPERLINK("x")',
        layer: 'b',
        role: 'bias',
        group: 'model',
        dtype: 'float32',
        shape: [2],
        byteLength: 8,
        stats: null,
        error: { reason: 'missingCompanionFile', message: "model.json: shard 'b.bin' is missing." },
      },
    ],
    layers: [
      { name: 'a', className: 'Dense', params: 4, tensors: ['a,"b"|c'] } as FileReport['layers'][number],
      { name: 'b', className: 'Dense', params: 2, tensors: ['=HYPERLINK("x")'] } as FileReport['layers'][number],
    ],
  };
}

test('CSV: RFC 4180 quoting, CRLF, formula-looking names defused, empty cells for missing stats', () => {
  const lines = reportToCsv(report()).split('\r\n');
  assert.equal(lines[0], 'name,layer,role,group,dtype,storage_dtype,shape,params,bytes,mean,std,min,max,abs_max,zero_fraction,nan,pos_inf,neg_inf,error');
  assert.equal(lines[1], '"a,""b""|c",a,kernel,model,float32,,"[2,2]",4,16,0.5,0.25,-1,2,2,0.25,1,0,0,');
  assert.equal(lines[2], `"'=HYPERLINK(""x"")",b,bias,model,float32,,[2],2,8,,,,,,,,,,missingCompanionFile: model.json: shard 'b.bin' is missing.`);
  assert.equal(lines[3], '');
  assert.equal(lines.length, 4);
});

test('Markdown: pipes escaped, warnings and layers listed', () => {
  const md = reportToMarkdown(report());
  assert.ok(md.startsWith('# model.json\n'));
  assert.ok(md.includes('| a,"b"\\|c | float32 | [2, 2] | 4 | 0.5 | 0.25 | -1 | 2 | 25.0% | 1 |  |'), md);
  assert.ok(md.includes("- `missingCompanionFile`: model.json: shard 'b.bin' is missing."));
  assert.ok(md.includes('| a | Dense |  | 4 | 1 |'));
});

test('Markdown and CSV of a checkpoint with entries of unknown shape: "?" shapes, no element count, totals say what they leave out', async () => {
  const file = await openLocalPath(writeUnknownShapeCheckpoint(makeTempDir('weightscope-export-shape-')));
  try {
    const r = buildFileReport(file, new Map());
    const md = reportToMarkdown(r);
    assert.ok(md.includes('- Parameters: 9 (excludes 2 tensors of unknown shape)'), md);
    assert.match(md, /\| dense\/scale \| float32 \| \[\?, 3\] \| \? \|/);
    assert.match(md, /\| dense\/state \| float32 \| \? \| \? \|/);
    assert.match(md, /\| dense\/kernel \| float32 \| \[2, 3\] \| 6 \|/);
    const csv = new Map(reportToCsv(r).split('\r\n').map((l) => [l.split(',')[0], l]));
    assert.match(csv.get('dense/scale')!, /^dense\/scale,dense,[a-z_]+,model,float32,,"\[\?,3\]",,12,/);
    assert.match(csv.get('dense/state')!, /^dense\/state,dense,[a-z_]+,model,float32,,\?,,16,/);
  } finally {
    await file.close();
  }
});

test('JSON keeps the report shape; restrictReport keeps only the named tensors and their layers', () => {
  const r = restrictReport(report(), ['a,"b"|c']);
  assert.deepEqual(
    r.tensors.map((t) => t.name),
    ['a,"b"|c'],
  );
  assert.deepEqual(
    r.layers.map((l) => l.name),
    ['a'],
  );
  const parsed = JSON.parse(renderReport(r, 'json')) as FileReport;
  assert.deepEqual(parsed, r);
  assert.equal(restrictReport(report(), undefined).tensors.length, 2);
});

test('writeFileAtomic: writes, replaces, leaves no temporary file, refuses the input path', async () => {
  const dir = makeTempDir();
  const target = path.join(dir, 'out.csv');
  await writeFileAtomic(target, 'one');
  await writeFileAtomic(target, 'two');
  assert.equal(fs.readFileSync(target, 'utf8'), 'two');
  assert.deepEqual(fs.readdirSync(dir), ['out.csv']);
  const input = path.join(dir, 'model.h5');
  fs.writeFileSync(input, 'weights');
  await assert.rejects(writeFileAtomic(input, 'report', [input]), /Refusing to overwrite the input file/);
  assert.equal(fs.readFileSync(input, 'utf8'), 'weights');
  await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'x.json'), '{}'), { code: 'ENOENT' });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['model.h5', 'out.csv']);
});

test('tableFormatOf: takes the three export formats; anything else from a webview message is refused naming it, never rendered as undefined', () => {
  for (const f of ['json', 'markdown', 'csv'] as const) {
    assert.equal(tableFormatOf(f), f);
    assert.equal(typeof renderReport(report(), tableFormatOf(f)), 'string');
  }
  for (const bad of ['xml', 'toString', '__proto__', '', undefined, null, 3, { format: 'csv' }, ['csv']]) {
    assert.throws(() => tableFormatOf(bad), (ex: unknown) => ex instanceof RangeError && /Unknown report format .*expected json, markdown, csv/.test(ex.message), String(bad));
  }
  assert.throws(() => tableFormatOf('xml'), /format "xml"/);
});

test("inputFilesOf: an export never replaces a companion of the opened checkpoint (a TF.js shard, a .data file), opened as a file or as its folder", async () => {
  const dir = makeTempDir();
  const tfjs = path.join(dir, 'tfjs');
  fs.mkdirSync(tfjs);
  fs.writeFileSync(path.join(tfjs, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }] }));
  fs.writeFileSync(path.join(tfjs, 'group1-shard1of1.bin'), 'weights');
  const shard = path.join(tfjs, 'group1-shard1of1.bin');
  for (const opened of [path.join(tfjs, 'model.json'), tfjs]) {
    const inputs = await inputFilesOf(opened);
    assert.ok(inputs.includes(shard) && inputs.includes(path.join(tfjs, 'model.json')), `${opened}: ${inputs.join(', ')}`);
    await assert.rejects(writeFileAtomic(shard, 'report', inputs), /Refusing to overwrite the input file/);
  }
  assert.equal(fs.readFileSync(shard, 'utf8'), 'weights');
  const ckpt = path.join(dir, 'ckpt');
  fs.mkdirSync(ckpt);
  fs.writeFileSync(path.join(ckpt, 'model.index'), 'index');
  fs.writeFileSync(path.join(ckpt, 'model.data-00000-of-00001'), 'data');
  assert.ok((await inputFilesOf(path.join(ckpt, 'model.index'))).includes(path.join(ckpt, 'model.data-00000-of-00001')));
  // Nothing to list (a missing path): the path itself is still protected.
  assert.deepEqual(await inputFilesOf(path.join(dir, 'gone.h5')), [path.join(dir, 'gone.h5')]);
});
