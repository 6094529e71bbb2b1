/**
 * Checks a user's data set against the model it is to probe or train, before any TF.js work (and
 * before a run folder is created): inputs that an Embedding/CategoryEncoding takes as indices must
 * be whole numbers in range, and the targets must be what the loss takes for the model's first
 * output (README, "targets must be class ids 0..k−1 or one-hot rows"):
 * - sparse/categorical cross-entropy: class ids, whole numbers in [0, k−1], or one-hot rows of
 *   exactly k columns of 0/1 with one 1 (soft labels are not taken: the README promises one-hot rows);
 * - binary cross-entropy: one value per output unit, each in [0, 1];
 * - mean squared error: one value per output value.
 * Anything else TF.js would broadcast silently, or gather out of range into a loss of 0.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { WeightFileError } from '../core/errors';
import { positionIn, type DataSet } from './dataLoader';
import { inputIndexRange, type LossName } from './probe';

/**
 * Throws a `corrupt` WeightFileError naming `file` when `data` does not fit `model` with `loss`
 * (see the module comment); `data.xShape` must already be the shape the input takes (inputShapeFor).
 */
export function checkDataForModel(data: DataSet, model: LayersModel, loss: LossName, file: string): void {
  const range = inputIndexRange(model);
  if (range !== undefined) {
    checkIndices(data, range, file);
  }
  if (data.y && data.yShape) {
    const out = model.outputs[0]?.shape.slice(1) ?? [];
    checkTargets(data, out, loss, file);
  }
}

function checkIndices(data: DataSet, range: number, file: string): void {
  for (let i = 0; i < data.x.length; i++) {
    const v = data.x[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= range) {
      throw new WeightFileError(
        'corrupt',
        `${file}: the inputs hold ${v} at ${positionIn(data, 'x', i)}, but the model's input takes indices into an Embedding (or CategoryEncoding) of ${range}: whole numbers from 0 to ${range - 1}.`,
        { file },
      );
    }
  }
}

/** Whether `have` (per-sample dims of y) equals `want` (per-sample dims of the output, null = any). */
function sameDims(have: readonly number[], want: readonly (number | null)[]): boolean {
  return have.length === want.length && have.every((d, i) => want[i] === null || want[i] === d);
}

function show(dims: readonly (number | null)[]): string {
  return `[${dims.map((d) => d ?? 'any').join(', ')}]`;
}

function checkTargets(data: DataSet, out: readonly (number | null)[], loss: LossName, file: string): void {
  const y = data.y!;
  const yDims = data.yShape!.slice(1);
  const k = out[out.length - 1] ?? null;
  const fail = (what: string): never => {
    throw new WeightFileError('corrupt', `${file}: ${what}.`, { file });
  };
  const takes = `${loss} on the model's output of shape ${show(out)} takes`;
  const badValue = (i: number, want: string): never => fail(`the targets hold ${y[i]} at ${positionIn(data, 'y', i)}, but ${takes} ${want}`);
  const wrongShape = (want: string): never => fail(`the targets${data.yName ? ` (${data.lines === undefined ? `'${data.yName}'` : data.yName})` : ''} have shape ${show(yDims)} per sample, but ${takes} ${want}`);

  if (loss === 'sparseCategoricalCrossentropy' || loss === 'categoricalCrossentropy') {
    if (k === null) {
      return; // an output of unknown width: nothing to check the classes against
    }
    const idsWant = `class ids (whole numbers from 0 to ${k - 1})`;
    const oneHotWant = `one-hot rows of ${k} columns (0s and a single 1)`;
    // class ids: one per output position for the sparse loss; one per sample for the categorical
    // loss on a [batch, k] output (turned into one-hot rows, see targetsForLoss)
    const idDims = out.slice(0, -1);
    const ids = loss === 'sparseCategoricalCrossentropy' ? sameDims(yDims, idDims) || sameDims(yDims, [...idDims, 1]) : out.length === 1 && k > 1 && yDims.length <= 1 && (yDims[0] ?? 1) === 1;
    // one-hot rows: as wide as the output (for the sparse loss only on a [batch, k] output, whose rows become class ids)
    const oneHot = !ids && sameDims(yDims.length === 0 ? [1] : yDims, out) && (loss === 'categoricalCrossentropy' || out.length === 1);
    if (ids) {
      for (let i = 0; i < y.length; i++) {
        const v = y[i]!;
        if (!Number.isInteger(v) || v < 0 || v >= k) {
          badValue(i, k > 1 && out.length === 1 ? `${idsWant} or ${oneHotWant}` : idsWant);
        }
      }
    } else if (oneHot) {
      for (let row = 0; row < y.length / k; row++) {
        let ones = 0;
        for (let c = 0; c < k; c++) {
          const v = y[row * k + c]!;
          if (v !== 0 && v !== 1) {
            badValue(row * k + c, oneHotWant);
          }
          ones += v;
        }
        if (ones !== 1) {
          fail(`the targets hold a row of ${ones} ones at ${positionIn(data, 'y', row * k)}, but ${takes} ${oneHotWant}`);
        }
      }
    } else {
      wrongShape(out.length === 1 && k > 1 ? `${idsWant} or ${oneHotWant}` : loss === 'sparseCategoricalCrossentropy' ? idsWant : oneHotWant);
    }
    return;
  }
  // a flat [n] is taken as [n, 1]
  if (!sameDims(yDims.length === 0 ? [1] : yDims, out.length === 0 ? [1] : out)) {
    wrongShape(`one ${loss === 'binaryCrossentropy' ? 'value from 0 to 1' : 'value'} per output value (shape ${show(out)} per sample)`);
  }
  if (loss === 'binaryCrossentropy') {
    for (let i = 0; i < y.length; i++) {
      if (!(y[i]! >= 0 && y[i]! <= 1)) {
        badValue(i, 'values from 0 to 1 (0/1 labels or probabilities)');
      }
    }
  }
}
