import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { fingerprintFile, fingerprintModel, fingerprintTensor } from '../../../src/analysis/fingerprint';
import { memoryWeightFile, seededValues } from './helpers/memoryWeightFile';

test('a tensor fingerprint is SHA-256 over the documented canonical bytes', async () => {
  const values = Float32Array.from([1.5, -2, 0.25]);
  const expected = createHash('sha256')
    .update(Buffer.concat([Buffer.from('weightscope-fp-v1\0tensor\0float32\x003\0'), Buffer.from(values.buffer)]))
    .digest('hex');
  const file = memoryWeightFile([{ name: 'x', shape: [3], values }], { chunkElements: 2 });
  assert.equal(await fingerprintTensor(file.tensors[0]!), expected);
});

test('fingerprints ignore names, chunking and float64 carriers of float32 values, but not shape or dtype', async () => {
  const v = seededValues(24, 5);
  const fp = async (spec: Parameters<typeof memoryWeightFile>[0][number], chunk: number) => fingerprintTensor(memoryWeightFile([spec], { chunkElements: chunk }).tensors[0]!);
  const base = await fp({ name: 'a/kernel', shape: [4, 6], values: v }, 5);
  assert.equal(await fp({ name: 'renamed/kernel', shape: [4, 6], values: Float64Array.from(v) }, 24), base);
  assert.notEqual(await fp({ name: 'a/kernel', shape: [6, 4], values: v }, 5), base);
  assert.notEqual(await fp({ name: 'a/kernel', shape: [4, 6], dtype: 'float64', values: Float64Array.from(v) }, 5), base);
});

test('the model fingerprint covers model tensors in any order and marks unreadable ones as partial', async () => {
  const specs = [
    { name: 'd/kernel', shape: [3, 2], values: seededValues(6, 1) },
    { name: 'd/bias', shape: [2], values: seededValues(2, 2) },
    { name: 'opt/m', shape: [2], values: seededValues(2, 3), group: 'optimizer' as const },
  ];
  const a = await fingerprintFile(memoryWeightFile(specs));
  const b = await fingerprintFile(memoryWeightFile([specs[1]!, specs[0]!]));
  assert.equal(a.model, b.model, 'optimizer state and order do not change the model fingerprint');
  assert.equal(a.modelTensorCount, 2);
  assert.equal(a.model, fingerprintModel([a.tensors[1]!.fingerprint!, a.tensors[0]!.fingerprint!]));
  const broken = memoryWeightFile(specs);
  Object.assign(broken.tensors[0]!, { unavailable: { reason: 'missingCompanionFile', message: 'shard 2 is missing' } });
  const c = await fingerprintFile(broken);
  assert.equal(c.partial, true);
  assert.equal(c.tensors[0]!.error?.reason, 'missingCompanionFile');
});
