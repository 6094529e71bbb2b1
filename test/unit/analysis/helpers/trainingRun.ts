/**
 * The deterministic TF.js training run of scripts/diff-training-run.cjs, written into a temp
 * folder at test time, and the NumPy reference values computed on the same bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, repoRoot } from '../../helpers/fixtures';

/** NumPy reference (test/unit/analysis/diff.reference.json, from scripts/reference-diff.py). */
export interface DiffReference {
  sha256: Record<string, string>;
  pairs: { a: string; b: string; tensors: Record<string, Record<string, number | null>>; layers: Record<string, number | null>; topLayers: string[]; relL2: number }[];
  history: Record<string, { checkpoint: string; norm: number; mean: number; std: number; distanceFromFirst: number }[]>;
}

/** Loads the stored reference. */
export function loadDiffReference(): DiffReference {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'unit', 'analysis', 'diff.reference.json'), 'utf8')) as DiffReference;
}

let written: Promise<string> | undefined;

/** Writes the run once per process; returns its folder (epoch-000 ... epoch-003 inside). */
export function trainingRunDir(): Promise<string> {
  written ??= (async () => {
    const dir = makeTempDir('weightscope-diff-run-');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gen = require(path.join(repoRoot, 'scripts', 'diff-training-run.cjs')) as { writeDiffTrainingRun(out: string): Promise<string[]> };
    await gen.writeDiffTrainingRun(dir);
    return dir;
  })();
  return written;
}

/** SHA-256 of every file of the run, keyed like the reference ('epoch-000/weights.bin'). */
export function runHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    for (const name of fs.readdirSync(path.join(dir, f)).sort()) {
      out[`${f}/${name}`] = createHash('sha256').update(fs.readFileSync(path.join(dir, f, name))).digest('hex');
    }
  }
  return out;
}
