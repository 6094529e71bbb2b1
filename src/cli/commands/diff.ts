/**
 * `weightscope diff <a> <b> [--json] [--all] [--map A=B ...] [--map-file F] [--top N] [--workers N]`
 */
import type { DiffResult, TensorDiff } from '../../analysis/diff';
import { diffLocalFiles } from '../../analysis/diffPool';
import { WeightFileError } from '../../core/errors';
import { parseFileJson } from '../../core/json';
import { shapeText } from '../../core/model';
import { readRegularTextFile } from '../../core/nodeFileSource';
import { intOption, parseArgs, UsageError, workersOption } from '../args';
import { renderConversionCheck } from '../conversionReport';
import { resolveModelEntry } from '../inputs';
import { writeError, type CliIo } from '../io';
import { formatNumber, renderTable, shortenedNote, shortName } from '../table';

/** Usage text of the command. */
export const diffUsage = `weightscope diff <a> <b> [options]

Compares two weight files layer by layer (any formats, e.g. a Keras .h5 against its TF.js
conversion): relative L2 change, cosine similarity, max/mean |b-a|, changed and sign-flipped
fractions, dtype and shape changes, added, removed and renamed tensors. Tensors without numeric
values (strings, such as a TF2 checkpoint's object graph) are not compared; they are listed
apart. Both model fingerprints (as 'weightscope fingerprint' prints them) are shown whenever
every model tensor of the file can be read.
When one file is a .tflite and the other the float model it was converted from (.h5, .keras,
SavedModel, TF.js), also runs the conversion check: per layer the error of the TFLite weights
against the float ones (BatchNorm folded, layouts transposed), SQNR, and the SQNR the precision
analysis predicts for the storage the converter chose.

Options:
  --json                 print the JSON result instead of tables
  --all                  list every tensor (default: changed, added, removed and renamed ones)
  --map A=B              pair tensor A of <a> with tensor B of <b>; 'A=' marks A as removed;
                         repeat it for several pairings
  --map-file FILE        several pairings: a JSON object {"A": "B" | null, ...}
                         (a name that is no tensor of its file is an error, and so are
                         pairings that contradict each other: A given two partners, or
                         two tensors of <a> paired with one B)
  --top N                layers listed as moved most (default: 10)
  --workers N            worker threads (default: none when the files hold under 32 MiB, else
                         one per CPU, at most 4; 0 = none)`;

const spec = { json: false, all: false, map: 'repeat', 'map-file': true, top: true, workers: true, help: false } as const;

/** Runs the command; returns the exit code. */
export async function runDiff(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(diffUsage);
    return 0;
  }
  if (args.positionals.length !== 2) {
    throw new UsageError('diff takes exactly two files: <a> <b>.');
  }
  const [pathA, pathB] = args.positionals as [string, string];
  // Pairings that contradict each other are refused (alignTensors would keep one and drop the other).
  const overrides = new Map<string, string | null>();
  const aOfB = new Map<string, string>();
  const addOverride = (a: string, b: string | null): void => {
    if (overrides.has(a) && overrides.get(a) !== b) {
      const what = (x: string | null | undefined): string => (x ? `paired with '${x}'` : 'marked as removed');
      throw new UsageError(`The mapping names '${a}' of ${pathA} twice: ${what(overrides.get(a))} and ${what(b)}.`);
    }
    if (b !== null && aOfB.has(b) && aOfB.get(b) !== a) {
      throw new UsageError(`The mapping pairs '${b}' of ${pathB} with two tensors of ${pathA}: '${aOfB.get(b)}' and '${a}'.`);
    }
    overrides.set(a, b);
    if (b !== null) {
      aOfB.set(b, a);
    }
  };
  for (const mapArg of args.repeated.get('map') ?? []) {
    const eq = mapArg.indexOf('=');
    if (eq <= 0) {
      throw new UsageError(`Option '--map' must look like A=B; got '${mapArg}'.`);
    }
    addOverride(mapArg.slice(0, eq), mapArg.slice(eq + 1) || null);
  }
  const mapFile = args.options.get('map-file');
  if (mapFile !== undefined) {
    for (const [k, v] of Object.entries(await readMapFile(mapFile))) {
      addOverride(k, v);
    }
  }
  const top = intOption(args, 'top', 10, 1, 10_000);
  const workers = workersOption(args);
  // Each side must be one model; a folder that is not says why (as check does) before anything is read.
  await resolveModelEntry(pathA);
  await resolveModelEntry(pathB);
  const progress = io.progress('comparing');
  const result = await diffLocalFiles(pathA, pathB, {
    overrides,
    workers,
    callerIdle: true,
    topLayerCount: top,
    onTensor: (_d, done, total) => progress(done, total),
  });
  progress(1, 1, true);
  checkOverrides(overrides, result, pathA, pathB);
  if (args.options.has('json')) {
    io.out(JSON.stringify(result, null, 2));
  } else {
    io.out(renderDiff(result, args.options.has('all')));
  }
  // A side none of whose tensors could be read makes the comparison say nothing: its error, exit 2.
  const unreadable = [result.a.unreadable, result.b.unreadable].filter((e) => e !== undefined);
  for (const e of unreadable) {
    writeError(io, e);
  }
  return unreadable.length > 0 ? 2 : 0;
}

/**
 * Rejects a pairing that names a tensor A or B does not have (alignTensors skips such pairings).
 * Checked on the result, which lists every tensor of both files: no extra opening of the files.
 */
function checkOverrides(overrides: ReadonlyMap<string, string | null>, result: DiffResult, pathA: string, pathB: string): void {
  const namesA = new Set(result.tensors.map((t) => t.a));
  const namesB = new Set(result.tensors.map((t) => t.b));
  const check = (name: string, names: Set<string | null>, nonNumeric: DiffResult['nonNumeric']['a'], file: string): void => {
    if (names.has(name)) {
      return;
    }
    const text = nonNumeric.find((t) => t.name === name);
    throw new UsageError(
      text
        ? `The mapping names '${name}' of ${file}, which holds no numeric values (dtype '${text.dtype}') and is not compared.`
        : `The mapping names '${name}', which is no tensor of ${file}.`,
    );
  };
  for (const [a, b] of overrides) {
    check(a, namesA, result.nonNumeric.a, pathA);
    if (b !== null) {
      check(b, namesB, result.nonNumeric.b, pathB);
    }
  }
}

/** Largest --map-file read, in bytes. */
const maxMapFileBytes = 64 * 1024 * 1024;

async function readMapFile(file: string): Promise<Record<string, string | null>> {
  let text: string;
  try {
    text = await readRegularTextFile(file, maxMapFileBytes);
  } catch (ex) {
    throw WeightFileError.is(ex, 'notFound') ? new WeightFileError('notFound', `${file}: the mapping file does not exist or cannot be read.`, { file }, { cause: ex }) : ex;
  }
  let json: unknown;
  try {
    json = parseFileJson(text);
  } catch (ex) {
    throw new WeightFileError('corrupt', `${file}: the mapping file is not valid JSON (${(ex as Error).message}).`, { file });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !Object.values(json).every((v) => v === null || typeof v === 'string')) {
    throw new WeightFileError('corrupt', `${file}: the mapping file must be a JSON object of tensor names to names or null.`, { file });
  }
  return json as Record<string, string | null>;
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(100 * x).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;
}

/** A side's shape ('-' when the side has no such tensor); a dimension the file leaves unknown (-1) shows as '?'. */
function shapeOf(s: number[] | null): string {
  return s ? shapeText({ shape: s, shapeUnknown: s.some((d) => d < 0) }) : '-';
}

/** What changed about a tensor, in words. */
export function describeChange(t: TensorDiff): string {
  const parts: string[] = [];
  if (t.status === 'added' || t.status === 'removed') {
    return t.status;
  }
  if (t.renamed) {
    parts.push(`renamed ${t.a} -> ${t.b}`);
  }
  if (t.shapeChange === 'transposed') {
    parts.push(`transposed ${shapeOf(t.shapeA)} -> ${shapeOf(t.shapeB)} (axes ${t.permutation?.join(',')})`);
  } else if (t.shapeChange && t.shapeChange !== 'same') {
    parts.push(`${t.shapeChange} ${shapeOf(t.shapeA)} -> ${shapeOf(t.shapeB)}`);
  }
  if (t.dtypeChanged) {
    parts.push(`dtype ${t.dtypeA} -> ${t.dtypeB}`);
  }
  if (t.nonFiniteChanged > 0) {
    parts.push(`${t.nonFiniteChanged} NaN/Inf changed`);
  }
  if (t.error) {
    parts.push(`error[${t.error.reason}]`);
  }
  if (parts.length === 0) {
    parts.push(t.status);
  }
  return parts.join('; ');
}

/** The human-readable report of a diff. */
export function renderDiff(r: DiffResult, all = false): string {
  const s = r.summary;
  const lines: string[] = [];
  lines.push(`A: ${r.a.path} (${r.a.formatName}, ${r.a.tensorCount} tensors)`);
  lines.push(`B: ${r.b.path} (${r.b.formatName}, ${r.b.tensorCount} tensors)`);
  for (const w of r.warnings) {
    lines.push(`warning[${w.reason}]: ${w.message}`);
  }
  if (r.conversion) {
    lines.push('', renderConversionCheck(r.conversion), '', 'name-based tensor diff (no BatchNorm folding):');
  }
  lines.push(
    `paired ${s.paired}: identical ${s.identical}, changed ${s.changed}, incomparable ${s.incomparable}; added ${s.added}, removed ${s.removed}, renamed ${s.renamed}, shape changes ${s.shapeChanged}, dtype changes ${s.dtypeChanged}`,
  );
  const noneCompared = s.compared === 0 ? '  (no model tensor pair could be compared)' : '';
  lines.push(`model relative L2 change ||B-A||/||A||: ${formatNumber(s.relL2)}${s.identicalModels ? '  (identical weights)' : noneCompared}`);
  const shown = 5;
  const nonNumeric = (list: DiffResult['nonNumeric']['a']): string =>
    list.length === 0
      ? 'none'
      : list
          .slice(0, shown)
          .map((t) => `${t.name} (${t.dtype})`)
          .join(', ') + (list.length > shown ? ` and ${list.length - shown} more` : '');
  if (r.nonNumeric.a.length + r.nonNumeric.b.length > 0) {
    lines.push(`not compared, no numeric values: A: ${nonNumeric(r.nonNumeric.a)}; B: ${nonNumeric(r.nonNumeric.b)}`);
  }
  if (s.modelFingerprintA || s.modelFingerprintB) {
    lines.push(`fingerprint A: ${s.modelFingerprintA ?? '-'}`);
    lines.push(`fingerprint B: ${s.modelFingerprintB ?? '-'}`);
  }
  if (r.topLayers.length > 0) {
    lines.push('');
    lines.push('layers that moved most:');
    const rows = r.topLayers.map((name) => {
      const l = r.layers.find((x) => x.layer === name)!;
      return [name || '(no layer)', formatNumber(l.relL2), formatNumber(l.diffNorm), String(l.nonFiniteChanged), l.status];
    });
    lines.push(renderTable(['layer', '>rel L2', '>||B-A||', '>NaN/Inf changed', 'status'], rows));
  }
  const listed = r.tensors.filter((t) => all || t.status !== 'identical' || t.renamed);
  if (listed.length > 0) {
    lines.push('');
    lines.push(
      renderTable(
        ['tensor', 'shape', '>rel L2', '>cosine', '>max|B-A|', '>mean|B-A|', '>changed', '>sign flips', '>std A', '>std B', 'change'],
        listed.map((t) => [
          shortName(t.a ?? t.b ?? ''),
          shapeOf(t.shapeA ?? t.shapeB),
          formatNumber(t.relL2),
          formatNumber(t.cosine, 6),
          formatNumber(t.maxAbsDiff),
          formatNumber(t.meanAbsDiff),
          pct(t.changedFraction),
          pct(t.signFlipFraction),
          formatNumber(t.stdA),
          formatNumber(t.stdB),
          describeChange(t),
        ]),
      ),
    );
  }
  if (listed.some((t) => shortName(t.a ?? t.b ?? '') !== (t.a ?? t.b ?? ''))) {
    lines.push(`  (${shortenedNote})`);
  }
  for (const t of r.tensors.filter((x) => x.error)) {
    lines.push(`  ${t.a ?? t.b}: error[${t.error!.reason}]: ${t.error!.message}`);
  }
  lines.push('');
  return lines.join('\n');
}
