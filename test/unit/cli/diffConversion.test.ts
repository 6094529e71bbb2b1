/**
 * `weightscope diff model.h5 model.tflite`: the conversion check in the text report and in --json,
 * with the per-layer numbers of the NumPy reference (test/unit/analysis/conversionCheck.reference.json).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ConversionCheck } from '../../../src/analysis/conversionCheck';
import type { CliIo } from '../../../src/cli/io';
import { runCli } from '../../../src/cli/main';
import { fixtureOrSkip, repoRoot } from '../helpers/fixtures';

function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), progress: () => () => undefined };
}

const reference = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'conversionCheck.reference.json'), 'utf8')) as Record<
  string,
  { layers: { opIndex: number; relL2: number; sqnrDb: number | null }[] }
>;

test('weightscope diff pretrainedResnet.h5 pretrainedResnet_quant.tflite: conversion table and --json numbers equal NumPy (pairs in a worker)', async (t) => {
  const h5 = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5');
  const tfl = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite');
  if (!h5 || !tfl) {
    return;
  }
  const io = captureIo();
  assert.equal(await runCli(['diff', h5, tfl, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /conversion check: .*pretrainedResnet_quant\.tflite against its float source .*pretrainedResnet\.h5 \(full-integer\)/);
  assert.match(text, /model\/dense +FULLY_CONNECTED +dense +- +int8-per-tensor +0\.007386 +42\.6 /);
  assert.match(text, /no layer stands out/);

  const io2 = captureIo();
  assert.equal(await runCli(['diff', tfl, h5, '--json', '--workers', '1'], io2), 0, io2.stderr.join('\n'));
  const c = (JSON.parse(io2.stdout.join('\n')) as { conversion: ConversionCheck }).conversion;
  assert.equal(c.tfliteSide, 'a');
  const ref = reference['mlperf-tiny-resnet8-tf2.4/pretrainedResnet_quant.tflite']!.layers;
  assert.equal(c.layers.length, ref.length);
  for (const r of ref) {
    const l = c.layers.find((x) => x.opIndex === r.opIndex)!;
    assert.ok(Math.abs(l.relL2! - r.relL2) <= 1e-6 * r.relL2, `${l.layer}: ${l.relL2} vs NumPy ${r.relL2}`);
    assert.ok(Math.abs(l.sqnrDb! - r.sqnrDb!) <= 1e-6, `${l.layer}: ${l.sqnrDb} vs NumPy ${r.sqnrDb}`);
  }
});

test('weightscope diff of two float files has no conversion check', async (t) => {
  const h5 = fixtureOrSkip(t, 'tflite/mlperf-tiny-resnet8-tf2.4/pretrainedResnet.h5');
  if (!h5) {
    return;
  }
  const io = captureIo();
  assert.equal(await runCli(['diff', h5, h5, '--json', '--workers', '0'], io), 0, io.stderr.join('\n'));
  assert.equal((JSON.parse(io.stdout.join('\n')) as { conversion?: unknown }).conversion, undefined);
});
