/**
 * A run of TF1 checkpoints made at test time from the shared houseprices fixture (a V2 tensor
 * bundle of 12 model variables, one per layer: Variable, Variable_1 ... Variable_11): the same
 * bundle saved as model.ckpt-1, model.ckpt-2 ..., with a `checkpoint` state file listing them, and
 * some data files cut short so that the tensors past the cut cannot be read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixturesDir, makeTempDir } from '../../helpers/fixtures';

/** The fixture bundle copied (relative to the shared fixtures). */
export const houseprices = path.join('tf1-checkpoint', 'mattchubb-houseprices-tf1.10');

/** Its data file holds 1284 bytes once cut to this: no model variable can be read. */
export const noVariableReadableBytes = 1284;

/** Its data file holds Variable ([0, 3200)) and Variable_1 ([9600, 10000)) whole once cut to this, no other model variable. */
export const twoVariablesReadableBytes = 10000;

/**
 * Writes `cuts.length` checkpoints model.ckpt-1 ... into a new temp folder; `cuts[k]`, when given,
 * is the size its data file is cut to. Returns the folder (needs the shared fixtures).
 */
export function writeTfCheckpointRun(cuts: readonly (number | undefined)[]): string {
  const src = path.join(fixturesDir, houseprices);
  const dir = makeTempDir('weightscope-tf1-run-');
  const prefixes = cuts.map((_, k) => `model.ckpt-${k + 1}`);
  cuts.forEach((cut, k) => {
    for (const [from, to] of [
      ['model.ckpt.index', `${prefixes[k]}.index`],
      ['model.ckpt.data-00000-of-00001', `${prefixes[k]}.data-00000-of-00001`],
    ] as const) {
      fs.copyFileSync(path.join(src, from), path.join(dir, to));
      fs.chmodSync(path.join(dir, to), 0o644); // the fixtures are read-only
    }
    if (cut !== undefined) {
      fs.truncateSync(path.join(dir, `${prefixes[k]}.data-00000-of-00001`), cut);
    }
  });
  const state = [`model_checkpoint_path: "${prefixes.at(-1)}"`, ...prefixes.map((p) => `all_model_checkpoint_paths: "${p}"`)];
  fs.writeFileSync(path.join(dir, 'checkpoint'), `${state.join('\n')}\n`);
  return dir;
}
