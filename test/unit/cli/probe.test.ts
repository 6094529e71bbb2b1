import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/cli/main';
import { captureIo } from '../helpers/captureIo';
import { makeTempDir, repoRoot } from '../helpers/fixtures';

/** The seed's 784-128-128-10 classifier. */
const model = path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform');

/** A float32 .npy (format 1.0) of the given shape with values 0, 0.001, 0.002, ... */
function writeNpy(file: string, shape: number[]): string {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 63 - ((10 + header.length) % 64);
  const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.alloc(2), Buffer.from(`${header}${' '.repeat(pad)}\n`)]);
  head.writeUInt16LE(head.length - 10, 8);
  const count = shape.reduce((a, b) => a * b, 1);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(Float32Array.from({ length: count }, (_, i) => i / 1000).buffer)]));
  return file;
}

test('probe --data with a missing file exits 2 with error[notFound] naming the file', async () => {
  const missing = path.join(makeTempDir(), 'nonexistent.npy');
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--data', missing, '--backend', 'cpu'], io), 2);
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.equal(io.stderr[0], `error[notFound]: ${missing}: the file does not exist or cannot be read.`);
});

test('probe --data whose samples do not fit the model input exits 2 naming the file and both shapes', async () => {
  const dir = makeTempDir();
  const narrow = writeNpy(path.join(dir, 'x10.npy'), [5, 10]);
  const io = captureIo();
  assert.equal(await runCli(['probe', model, '--data', narrow, '--backend', 'cpu'], io), 2);
  assert.equal(io.stderr.length, 1, io.stderr.join('\n'));
  assert.equal(io.stderr[0], `error[corrupt]: ${narrow} holds samples of shape [10] but the model's input takes samples of shape [784].`);
  // samples of 28 x 28 = 784 values are laid out as the input's 784
  const images = writeNpy(path.join(dir, 'images.npy'), [3, 28, 28]);
  const ok = captureIo();
  assert.equal(await runCli(['probe', model, '--data', images, '--backend', 'cpu', '--json'], ok), 0, ok.stderr.join('\n'));
  const report = JSON.parse(ok.stdout.join('\n'));
  assert.equal(report.probe.inputSource, 'data');
  assert.equal(report.probe.batchSize, 3);
});
