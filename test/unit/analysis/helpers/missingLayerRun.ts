/**
 * A three-checkpoint run of small safetensors files in which the middle checkpoint lacks the
 * layer `bn` (as a TFLite conversion lacks folded BatchNorm layers). The values are small
 * integers so that every norm and distance of the history can be worked out by hand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from '../../helpers/fixtures';

/** Tensor values per checkpoint file (float32, shape [2]). */
export const missingLayerRun: Record<string, Record<string, number[]>> = {
  'ckpt-1.safetensors': { 'dense/kernel': [3, 4], 'bn/gamma': [1, 1], 'out/kernel': [0, 2] },
  'ckpt-2.safetensors': { 'dense/kernel': [3, 0], 'out/kernel': [0, 4] },
  'ckpt-3.safetensors': { 'dense/kernel': [3, 4], 'bn/gamma': [2, 2], 'out/kernel': [0, 6] },
};

/** Writes the run into a new temp folder; returns the folder. */
export function writeMissingLayerRun(): string {
  return writeSafetensorsRun(missingLayerRun);
}

/**
 * A three-checkpoint run whose middle file is cut 4 bytes short, so that its last tensor,
 * `out/kernel` ([0, 4], the last 8 data bytes), cannot be read; returns the folder.
 */
export function writeCutTensorRun(): string {
  const dir = writeSafetensorsRun({
    'ckpt-1.safetensors': { 'dense/kernel': [3, 4], 'out/kernel': [0, 2] },
    'ckpt-2.safetensors': { 'dense/kernel': [3, 0], 'out/kernel': [0, 4] },
    'ckpt-3.safetensors': { 'dense/kernel': [3, 4], 'out/kernel': [0, 6] },
  });
  const cut = path.join(dir, 'ckpt-2.safetensors');
  fs.truncateSync(cut, fs.statSync(cut).size - 4);
  return dir;
}

/** Writes one float32 safetensors file per entry (tensor name -> values) into a new temp folder; returns the folder. */
export function writeSafetensorsRun(files: Record<string, Record<string, number[]>>): string {
  const dir = makeTempDir('weightscope-safetensors-run-');
  for (const [file, tensors] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), safetensors(tensors));
  }
  return dir;
}

/** A safetensors file (u64 LE header length, JSON header padded to 8 bytes, packed float32 data). */
function safetensors(tensors: Record<string, number[]>): Buffer {
  const header: Record<string, unknown> = {};
  const data: Buffer[] = [];
  let at = 0;
  for (const [name, values] of Object.entries(tensors)) {
    const bytes = Buffer.from(Float32Array.from(values).buffer);
    header[name] = { dtype: 'F32', shape: [values.length], data_offsets: [at, at + bytes.length] };
    data.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...data]);
}
