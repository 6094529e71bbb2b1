/**
 * Small files for the probe and training tests: float32 .npy data written by hand, whether the
 * optional tfjs-node backend can be loaded here, and the check that two probes agree.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Tf, Tfl } from '../../../src/runtime/backend';
import type { ProbeResult } from '../../../src/runtime/probe';
import { writeTfjsModel } from '../../../src/runtime/tfjsArtifacts';
import { modelArtifacts } from '../../../src/runtime/training';
import { makeTempDir } from './fixtures';
import { buildNpy, buildZip } from './zipBuilder';

/** Writes a float32 .npy (format 1.0) of the given shape holding 0, 0.001, 0.002, ...; returns the path. */
export function writeNpy(file: string, shape: number[]): string {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 63 - ((10 + header.length) % 64);
  const head = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.alloc(2), Buffer.from(`${header}${' '.repeat(pad)}\n`)]);
  head.writeUInt16LE(head.length - 10, 8);
  const count = shape.reduce((a, b) => a * b, 1);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(Float32Array.from({ length: count }, (_, i) => i / 1000).buffer)]));
  return file;
}

/** Skip option for tests of a missing tfjs-node: a reason when it is installed here. */
export const skipWithTfjsNode: { skip: string | false } = (() => {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return { skip: 'tfjs-node is installed here' };
  } catch {
    return { skip: false };
  }
})();

/** One array of an .npz written by writeNpz: its numpy descr ('<f4', '<f8', '<i8'), shape and values (row-major). */
export interface NpzArray {
  /** numpy descr; '<f4' when absent. */
  descr?: '<f4' | '<f8' | '<i8';
  /** Shape. */
  shape: number[];
  /** Values, row-major (as many as the shape holds, unless a test wants otherwise). */
  values: readonly number[];
}

/** The little-endian bytes of `values` in a numpy descr, encoded by hand with DataView. */
function npyBytes(descr: '<f4' | '<f8' | '<i8', values: readonly number[]): Uint8Array {
  const size = descr === '<f4' ? 4 : 8;
  const view = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => (descr === '<f4' ? view.setFloat32(i * size, v, true) : descr === '<f8' ? view.setFloat64(i * size, v, true) : view.setBigInt64(i * size, BigInt(v), true)));
  return new Uint8Array(view.buffer);
}

/** Writes an uncompressed .npz (as np.savez does) holding `arrays` by name; returns the path. */
export function writeNpz(file: string, arrays: Record<string, NpzArray>): string {
  const members = Object.entries(arrays).map(([name, a]) => ({ name: `${name}.npy`, data: buildNpy(a.descr ?? '<f4', a.shape, npyBytes(a.descr ?? '<f4', a.values)), method: 0 as const }));
  fs.writeFileSync(file, buildZip(members));
  return file;
}

/**
 * Asserts that two probes of one model measured the same gradient norm (to 1e-4 relative, and not
 * zero) for each of `layers`: `a` on one backend or with one set of kernels, `b` on the reference.
 */
export function assertSameGradNorms(a: ProbeResult, b: ProbeResult, layers: readonly string[], what: { a: string; b: string }): void {
  for (const name of layers) {
    const x = a.layers.find((l) => l.layer === name)!.gradNorm!;
    const y = b.layers.find((l) => l.layer === name)!.gradNorm!;
    assert.ok(x > 0 && Math.abs(x - y) <= 1e-4 * y, `${name}: ${x} ${what.a}, ${y} ${what.b}`);
  }
}

/**
 * A 6-`hidden`-3 softmax classifier (ReLU hidden layers, He-normal kernels seeded 1, 2, ..., a
 * Glorot-uniform output seeded after them) saved as TF.js in `<folder>/model`, in a fresh folder;
 * returns the folder. One hidden layer is named 'hidden', several 'hidden1', 'hidden2', ...
 */
export async function savedClassifier(tf: Tf, tfl: Tfl, hidden: number | readonly number[]): Promise<string> {
  const widths = typeof hidden === 'number' ? [hidden] : hidden;
  const m = tfl.sequential();
  widths.forEach((units, i) =>
    m.add(tfl.layers.dense({ ...(i === 0 ? { inputShape: [6] } : {}), units, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: i + 1 }), name: widths.length === 1 ? 'hidden' : `hidden${i + 1}` })),
  );
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: widths.length + 1 }), name: 'out' }));
  const dir = makeTempDir();
  await saveModel(tf, m, path.join(dir, 'model'));
  return dir;
}

/** Saves `m` as a TF.js model in the folder `dir` and disposes it; returns the path of its model.json. */
export async function saveModel(tf: Tf, m: LayersModel, dir: string): Promise<string> {
  try {
    await writeTfjsModel(dir, await modelArtifacts(tf, m));
  } finally {
    m.dispose();
  }
  return path.join(dir, 'model.json');
}
