import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { writeMissingLayerRun } from '../analysis/helpers/missingLayerRun';
import { captureIo } from '../helpers/captureIo';

test('weightscope history shows a layer a checkpoint lacks as absent (null in JSON), with a missing warning and no stalled one', async () => {
  const dir = writeMissingLayerRun();
  const io = captureIo();
  assert.equal(await runCli(['history', dir, '--workers', '0'], io), 0, io.stderr.join('\n'));
  const text = io.stdout.join('\n');
  assert.match(text, /^warning\[missing\]: Layer 'bn' is missing from 1 of 3 checkpoints/m);
  assert.doesNotMatch(text, /warning\[stalled\]/);
  assert.match(text, /^ckpt-2\.safetensors\s+absent\s+-\s+-\s+-\s+-$/m);
  const json = captureIo();
  assert.equal(await runCli(['history', dir, '--json', '--workers', '0'], json), 0, json.stderr.join('\n'));
  const h = JSON.parse(json.stdout.join('\n')) as { layers: { layer: string; points: unknown[] }[] };
  assert.equal(h.layers.find((l) => l.layer === 'bn')!.points[1], null);
});

test('weightscope history of a file is a usage error naming the file; of a missing path, notFound', async () => {
  const dir = writeMissingLayerRun();
  const file = path.join(dir, 'ckpt-1.safetensors');
  const io = captureIo();
  assert.equal(await runCli(['history', file], io), 2);
  assert.equal(io.stderr[0], `error[usage]: history takes a folder of checkpoints, and ${file} is a file.`);
  const missing = path.join(dir, 'no-such-run');
  assert.ok(!fs.existsSync(missing));
  const io2 = captureIo();
  assert.equal(await runCli(['history', missing], io2), 2);
  assert.deepEqual(io2.stderr, [`error[notFound]: ${missing}: no such folder.`]);
});
