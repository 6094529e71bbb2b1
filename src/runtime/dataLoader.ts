/**
 * Loads a user's data set for probes and training runs: NumPy `.npy` (features only) and `.npz`
 * (arrays `x`/`y`, else the first two arrays) through the NumPy readers of src/formats, CSV
 * (numbers, optional header; the target is the column named y/label/target/class, else the last
 * column) and JSON (`{"x": [[...]], "y": [...]}`, or an array of `{x, y}` rows).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WeightFileError } from '../core/errors';
import { parseFileJson } from '../core/json';
import { checkRegularFile, fileSystemError, readRegularTextFile } from '../core/nodeFileSource';
import { openLocalPath } from '../formats/registry';
import { readFloat32 } from './modelBuilder';

/** A data set: flat features and targets with their shapes (batch first). */
export interface DataSet {
  /** Features, row-major. */
  x: Float32Array;
  /** Shape of x. */
  xShape: number[];
  /** Targets, row-major (absent: none in the file). */
  y?: Float32Array;
  /** Shape of y. */
  yShape?: number[];
  /** Where it came from, for the UI. */
  source: string;
  /** How messages name the features: the array's name in an .npz/.npy/JSON ('x'), absent for a CSV. */
  xName?: string;
  /** How messages name the targets: the array's name ('y', 'labels'), or for a CSV its label column ("column 'label'"). */
  yName?: string;
  /** CSV only: the line number (from 1) each sample is on, blank lines and the header counted. */
  lines?: readonly number[];
}

/** Largest data file read into memory, in bytes (data sets are held whole for training). */
export const maxDataBytes = 512 * 1024 * 1024;

const targetNames = new Set(['y', 'label', 'labels', 'target', 'targets', 'class']);

/** Loads a data file by extension (.npy, .npz, .csv, .json). */
export async function loadDataSet(file: string, signal?: AbortSignal): Promise<DataSet> {
  const ext = path.extname(file).toLowerCase();
  let size: number;
  try {
    const st = await fs.promises.stat(file);
    checkRegularFile(st, file); // a FIFO or device would block the read below, or never end
    size = st.size;
  } catch (ex) {
    throw (ex as NodeJS.ErrnoException).code === 'ENOENT'
      ? new WeightFileError('notFound', `${file}: the file does not exist or cannot be read.`, { file }, { cause: ex })
      : fileSystemError(ex, file, 'read the file');
  }
  if (size > maxDataBytes) {
    throw new WeightFileError('tooLarge', `${file} holds ${size} bytes of data; at most ${maxDataBytes} are loaded for training.`, { file });
  }
  if (ext === '.npy' || ext === '.npz') {
    return checkDataValues(await loadNumpy(file, signal), file);
  }
  const text = await readRegularTextFile(file, maxDataBytes);
  if (ext === '.csv') {
    return parseCsv(text, file);
  }
  if (ext === '.json') {
    return checkDataValues(parseJsonData(text, file), file);
  }
  throw new WeightFileError('unrecognized', `${file} is not a data file Weightscope reads (extension '${ext}'; expected .npy, .npz, .csv or .json).`, { file });
}

/**
 * The shape the features of `data` (from `file`) take for a model input of shape `inputShape`
 * (batch first, null = any size): their own shape when it fits, else the input's when each sample
 * holds as many values as the input needs (e.g. CSV rows of 784 values for a [28, 28] input).
 * Throws a `corrupt` WeightFileError naming both shapes otherwise.
 */
export function inputShapeFor(data: DataSet, inputShape: readonly (number | null)[], file: string): number[] {
  const want = inputShape.slice(1);
  const have = data.xShape.slice(1);
  if (have.length === want.length && have.every((d, i) => want[i] === null || want[i] === d)) {
    return [...data.xShape];
  }
  const perSample = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  if (want.every((d): d is number => d !== null) && perSample(want) === perSample(have)) {
    return [data.xShape[0] ?? 0, ...want];
  }
  const show = (dims: readonly (number | null)[]) => `[${dims.map((d) => d ?? 'any').join(', ')}]`;
  throw new WeightFileError('corrupt', `${file} holds samples of shape ${show(have)} but the model's input takes samples of shape ${show(want)}.`, { file });
}

/** Throws an `empty` WeightFileError when `data` (from `file`) has no targets, which training needs. */
export function requireTargets(data: DataSet, file: string): asserts data is DataSet & { y: Float32Array } {
  if (!data.y) {
    throw new WeightFileError('empty', `${file} holds inputs but no targets, which training needs (arrays 'x' and 'y' in an .npz, a label column in a CSV, or 'y' in JSON).`, { file });
  }
}

async function loadNumpy(file: string, signal?: AbortSignal): Promise<DataSet> {
  const wf = await openLocalPath(file);
  try {
    // arrays the reader could not take (Fortran order, cut short, strings ...) are chosen too, so that their own reason is reported
    const arrays = wf.tensors;
    const find = (names: string[]) => arrays.find((t) => names.includes(t.name.replace(/\.npy$/, '').toLowerCase()));
    const xt = find(['x', 'features', 'inputs', 'x_train']) ?? arrays[0];
    const yt = find(['y', 'labels', 'targets', 'y_train']) ?? arrays.find((t) => t !== xt);
    if (!xt) {
      throw new WeightFileError('empty', `${file} holds no array.`, { file });
    }
    for (const t of yt && yt !== xt ? [xt, yt] : [xt]) {
      // the header's shape, not the file's size, is what a read would allocate
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (count * Float32Array.BYTES_PER_ELEMENT > maxDataBytes) {
        throw new WeightFileError('tooLarge', `${file}: array '${t.name}' has shape [${t.shape.join(', ')}], ${count} values, more than the ${maxDataBytes / 2 ** 20} MiB of float32 values a data set may take.`, { file, tensor: t.name });
      }
      if (t.unavailable) {
        throw new WeightFileError(t.unavailable.reason === 'internal' ? 'corrupt' : t.unavailable.reason, t.unavailable.message, { file, tensor: t.name });
      }
    }
    if (xt.shape.length === 0) {
      throw new WeightFileError('corrupt', `${file}: array '${xt.name}' holds a single value (shape []), not samples.`, { file, tensor: xt.name });
    }
    if (yt && yt !== xt && yt.shape[0] !== xt.shape[0]) {
      throw new WeightFileError('corrupt', `${file} has ${xt.shape[0]} samples in '${xt.name}' but ${yt.shape[0] ?? 'a single value'} in '${yt.name}'.`, { file });
    }
    const x = await readFloat32(xt, signal);
    const out: DataSet = { x, xShape: [...xt.shape], source: path.basename(file), xName: xt.name };
    if (yt && yt !== xt) {
      out.y = await readFloat32(yt, signal);
      out.yShape = [...yt.shape];
      out.yName = yt.name;
    }
    return out;
  } finally {
    await wf.close();
  }
}

/**
 * Checks what every use of a data set needs, whatever the model: at least one sample with at least
 * one value, and no NaN or Infinity among the features or targets (they would turn every weight
 * they reach into NaN). Throws `empty` or `corrupt` naming the file, the array and the first
 * offending position; returns `data`.
 */
export function checkDataValues(data: DataSet, file: string): DataSet {
  const rows = data.xShape[0] ?? 0;
  if (rows === 0 || data.x.length === 0) {
    throw new WeightFileError('empty', `${file} holds no samples ('${data.xName ?? 'x'}' has shape [${data.xShape.join(', ')}]).`, { file });
  }
  for (const field of ['x', 'y'] as const) {
    const values = field === 'x' ? data.x : data.y;
    const shape = field === 'x' ? data.xShape : data.yShape;
    if (!values || !shape) {
      continue;
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new WeightFileError('corrupt', `${file} holds ${formatValue(values[i]!)} at ${positionIn(data, field, i)}; inputs and targets must be finite numbers (as float32).`, { file });
      }
    }
  }
  return data;
}

/** A value as a message quotes it (NaN, Infinity, -Infinity, 0.5). */
function formatValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/**
 * Where the value at flat index `i` of `data`'s features or targets sits, for messages: numpy-style
 * indices for arrays ("'x'[17, 3]", 0-based), the line and column for a CSV ("line 19, column 'label'").
 */
export function positionIn(data: DataSet, field: 'x' | 'y', i: number): string {
  const shape = (field === 'x' ? data.xShape : data.yShape) ?? [];
  const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
  const row = Math.floor(i / Math.max(1, perRow));
  if (data.lines !== undefined) {
    return field === 'y' ? `line ${data.lines[row]}, ${data.yName ?? 'the label column'}` : `line ${data.lines[row]}`;
  }
  const index: number[] = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    index.unshift(rest % shape[d]!);
    rest = Math.floor(rest / shape[d]!);
  }
  return `'${(field === 'x' ? data.xName : data.yName) ?? field}'[${index.join(', ')}] (sample ${row}, counting from 0)`;
}

/** Spellings of NaN and infinities in numeric CSV: data (refused below as not finite), not a header's names. */
const nonFiniteSpelling = /^[+-]?(nan|inf|infinity)$/i;

/** Parses numeric CSV; a first row with non-numbers (other than NaN/Inf spellings) is a header. */
export function parseCsv(text: string, name: string): DataSet {
  const lines: number[] = [];
  const rows = text
    .split(/\r?\n/)
    .map((l, i) => ({ l: l.trim(), line: i + 1 }))
    .filter(({ l }) => l.length > 0)
    .map(({ l, line }) => {
      lines.push(line);
      return l.split(',').map((c) => c.trim());
    });
  let header: string[] | undefined;
  if (rows[0] && rows[0].some((c) => c !== '' && Number.isNaN(Number(c)) && !nonFiniteSpelling.test(c))) {
    header = rows.shift();
    lines.shift();
  }
  const width = rows[0]?.length ?? 0;
  if (rows.length === 0 || width < 2) {
    throw new WeightFileError('empty', `${name} has no data rows with at least two columns.`, { file: name });
  }
  let target = width - 1;
  if (header) {
    const i = header.findIndex((h) => targetNames.has(h.toLowerCase()));
    target = i >= 0 ? i : target;
  }
  const x = new Float32Array(rows.length * (width - 1));
  const y = new Float32Array(rows.length);
  rows.forEach((row, r) => {
    if (row.length !== width) {
      throw new WeightFileError('corrupt', `${name} line ${lines[r]} has ${row.length} columns instead of ${width}.`, { file: name });
    }
    let at = 0;
    row.forEach((cell, c) => {
      const v = Number(cell);
      const column = (): string => (header?.[c] !== undefined ? `column '${header[c]}'` : `column ${c + 1}`);
      if (cell === '' || Number.isNaN(v)) {
        throw new WeightFileError('corrupt', `${name} line ${lines[r]} holds '${cell}' in ${column()}, which is not a number.`, { file: name });
      }
      if (!Number.isFinite(Math.fround(v))) {
        throw new WeightFileError('corrupt', `${name} line ${lines[r]} holds '${cell}' in ${column()}, which is not a finite number (as float32); inputs and targets must be finite.`, { file: name });
      }
      if (c === target) {
        y[r] = v;
      } else {
        x[r * (width - 1) + at++] = v;
      }
    });
  });
  const yName = header?.[target] !== undefined ? `column '${header[target]}'` : `column ${target + 1} (the last)`;
  return { x, xShape: [rows.length, width - 1], y, yShape: [rows.length], source: path.basename(name), yName, lines };
}

/** Parses `{x, y}` JSON (nested arrays) or an array of `{x, y}` rows. */
export function parseJsonData(text: string, name: string): DataSet {
  let json: unknown;
  try {
    json = parseFileJson(text);
  } catch (ex) {
    throw new WeightFileError('corrupt', `${name} is not valid JSON (${ex instanceof Error ? ex.message : String(ex)}).`, { file: name });
  }
  let xs: unknown;
  let ys: unknown;
  if (Array.isArray(json)) {
    xs = json.map((r) => (typeof r === 'object' && r !== null ? (r as Record<string, unknown>)['x'] : undefined));
    ys = json.map((r) => (typeof r === 'object' && r !== null ? (r as Record<string, unknown>)['y'] : undefined));
  } else if (typeof json === 'object' && json !== null) {
    xs = (json as Record<string, unknown>)['x'];
    ys = (json as Record<string, unknown>)['y'];
  }
  const x = flatten(xs, name, 'x');
  const out: DataSet = { x: x.values, xShape: x.shape, source: path.basename(name), xName: 'x' };
  if (ys !== undefined && !(Array.isArray(ys) && ys.every((v) => v === undefined))) {
    const y = flatten(ys, name, 'y');
    if (y.shape[0] !== x.shape[0]) {
      throw new WeightFileError('corrupt', `${name} has ${x.shape[0]} samples in 'x' but ${y.shape[0]} in 'y'.`, { file: name });
    }
    out.y = y.values;
    out.yShape = y.shape;
    out.yName = 'y';
  }
  return out;
}

function flatten(v: unknown, name: string, field: string): { values: Float32Array; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = v;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  if (shape.length === 0 || shape[0] === 0) {
    throw new WeightFileError('empty', `${name} has no array '${field}'.`, { file: name });
  }
  checkRectangular(v as unknown[], shape, name, field);
  const flat = (v as unknown[]).flat(shape.length - 1) as unknown[];
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected || flat.some((n) => typeof n !== 'number')) {
    throw new WeightFileError('corrupt', `${name}: '${field}' is not a rectangular array of numbers (shape [${shape.join(', ')}]).`, { file: name });
  }
  return { values: Float32Array.from(flat as number[]), shape };
}

/**
 * Refuses a ragged array: every sub-array at each depth must have as many entries as the first one
 * there (`shape`, read along the first elements), else the flattened values would shift between
 * samples. Names the first sub-array that differs and the one it is compared with.
 */
function checkRectangular(top: unknown[], shape: number[], name: string, field: string): void {
  const entries = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`;
  const ragged = (detail: string): WeightFileError => new WeightFileError('corrupt', `${name} holds a ragged array in '${field}': ${detail}.`, { file: name });
  const visit = (a: unknown[], at: string, depth: number): void => {
    const last = depth === shape.length - 1;
    for (let i = 0; i < a.length; i++) {
      const item = a[i];
      const itemAt = `${at}[${i}]`;
      const reference = `${field}${'[0]'.repeat(depth + 1)}`;
      if (last) {
        if (Array.isArray(item)) {
          throw ragged(`${itemAt} is an array where ${reference} is a number`);
        }
        continue;
      }
      if (!Array.isArray(item)) {
        throw ragged(`${itemAt} is not an array where ${reference} is one`);
      }
      if (item.length !== shape[depth + 1]) {
        throw ragged(`${itemAt} has ${entries(item.length)}, ${reference} has ${shape[depth + 1]}`);
      }
      visit(item as unknown[], itemAt, depth + 1);
    }
  };
  visit(top, field, 0);
}
