/**
 * Small files for the probe and training tests: float32 .npy data written by hand, and whether
 * the optional tfjs-node backend can be loaded here.
 */
import * as fs from 'node:fs';

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
