/**
 * `weightscope fingerprint <file-or-dir>... [--json] [--tensors] [--save]`
 */
import { fingerprintedModel, fingerprintFile, groupByModelFingerprint, modelTensors, type FileFingerprint } from '../../analysis/fingerprint';
import { ReadableTally } from '../../analysis/report';
import { isNumericDType } from '../../core/dtypes';
import { WeightFileError } from '../../core/errors';
import { checkpointStamp } from '../../analysis/checkpointFiles';
import { readSidecar, updateSidecar } from '../../core/sidecar';
import { openLocalPath } from '../../formats/registry';
import { parseArgs, UsageError } from '../args';
import { expandInput } from '../inputs';
import { writeError, type CliIo } from '../io';

/** Usage text of the command. */
export const fingerprintUsage = `weightscope fingerprint <file-or-dir>... [options]

SHA-256 fingerprints of the weights: per tensor over (dtype, shape, little-endian values) and per
model over the sorted tensor fingerprints, so the same weights saved in two formats get the same
model fingerprint. Files with equal model fingerprints are listed as duplicates (files with no
model tensors or with unreadable tensors never count as duplicates; a file without numeric tensors
shows '-'). An input that cannot be read, or none of whose tensors can, gets an error line on
stderr; the others are still listed, and the exit code is then 2.

Options:
  --json                 print JSON
  --tensors              also list every tensor's fingerprint ('-' for a tensor without numeric
                         values, such as a string)
  --save                 store the fingerprints in each checkpoint's <file>.weightscope.json sidecar
                         (the checkpoint itself is never written; a partial fingerprint is not stored)`;

const spec = { json: false, tensors: false, save: false, help: false } as const;

/** One file's result. */
interface Entry {
  /** Entry path. */
  path: string;
  /** Fingerprints. */
  fingerprint: FileFingerprint;
  /** True when they came from a valid sidecar cache. */
  cached: boolean;
  /** Tensors without numeric values (e.g. a TF2 checkpoint's string object graph): name -> dtype. */
  nonNumeric: Map<string, string>;
}

/** Runs the command; returns the exit code. */
export async function runFingerprint(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, spec);
  if (args.options.has('help')) {
    io.out(fingerprintUsage);
    return 0;
  }
  if (args.positionals.length === 0) {
    throw new UsageError('fingerprint takes at least one <file-or-dir>.');
  }
  // A bad input is reported on its own line; the others are still fingerprinted and printed.
  let failed = 0;
  const report = (ex: unknown): void => {
    if (!WeightFileError.is(ex)) {
      throw ex;
    }
    writeError(io, ex);
    failed++;
  };
  const entries: string[] = [];
  for (const p of args.positionals) {
    try {
      entries.push(...(await expandInput(p)).entries);
    } catch (ex) {
      report(ex);
    }
  }
  const results: Entry[] = [];
  for (const entry of entries) {
    try {
      results.push(await fingerprintEntry(entry, args.options.has('save')));
    } catch (ex) {
      report(ex);
    }
  }
  if (results.length === 0) {
    return 2;
  }
  const duplicates = groupByModelFingerprint(results.map((r) => ({ ...r.fingerprint, key: r.path }))).map((g) => g.keys);
  if (args.options.has('json')) {
    io.out(
      JSON.stringify(
        {
          files: results.map((r) => ({
            path: r.path,
            model: fingerprintedModel(r.fingerprint) ?? null,
            modelTensorCount: r.fingerprint.modelTensorCount,
            partial: r.fingerprint.partial,
            ...(args.options.has('tensors') ? { tensors: r.fingerprint.tensors } : {}),
          })),
          duplicates,
        },
        null,
        2,
      ),
    );
  } else {
    for (const r of results) {
      const model = fingerprintedModel(r.fingerprint);
      io.out(`${model ?? '-'.padEnd(64)}  ${r.path}${r.fingerprint.partial ? '  (partial: some tensors unreadable)' : model === undefined ? '  (no numeric tensors)' : ''}`);
      if (args.options.has('tensors')) {
        for (const t of r.fingerprint.tensors) {
          // A tensor without numeric values (a string, such as a TF2 object graph) has no fingerprint by design.
          const dtype = t.fingerprint === undefined ? r.nonNumeric.get(t.name) : undefined;
          io.out(dtype !== undefined ? `  ${'-'.padEnd(64)}  ${t.name}  (no numeric values: ${dtype})` : `  ${t.fingerprint ?? `error[${t.error?.reason}]`}  ${t.name}`);
        }
      }
    }
    for (const g of duplicates) {
      io.out(`duplicates: ${g.join(', ')}`);
    }
  }
  return failed > 0 ? 2 : 0;
}

async function fingerprintEntry(entry: string, save: boolean): Promise<Entry> {
  const st = await checkpointStamp(entry);
  const sidecar = await readSidecar(entry).catch(() => undefined);
  const cached = sidecar?.fingerprints;
  const file = await openLocalPath(entry);
  try {
    const valid = cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs;
    const known = valid ? new Map(Object.entries(cached.tensors)) : undefined;
    const fingerprint = await fingerprintFile(file, { known });
    // A model none of whose tensors could be read has no fingerprint: it is an input that cannot be read.
    const byName = new Map(fingerprint.tensors.map((t) => [t.name, t]));
    const tally = new ReadableTally();
    modelTensors(file.tensors).forEach((t) => tally.add(byName.get(t.name) ?? {}));
    const unreadable = tally.unreadableError(entry);
    if (unreadable) {
      throw unreadable;
    }
    // Only a complete fingerprint is stored, as the extension does.
    if (save && !fingerprint.partial) {
      const tensors: Record<string, string> = {};
      for (const t of fingerprint.tensors) {
        if (t.fingerprint) {
          tensors[t.name] = t.fingerprint;
        }
      }
      await updateSidecar(entry, { fingerprints: { model: fingerprint.model, size: st.size, mtimeMs: st.mtimeMs, tensors } });
    }
    const nonNumeric = new Map(file.tensors.filter((t) => !t.unavailable && !isNumericDType(t.dtype)).map((t) => [t.name, t.dtype]));
    return { path: entry, fingerprint, cached: Boolean(valid), nonNumeric };
  } finally {
    await file.close();
  }
}
