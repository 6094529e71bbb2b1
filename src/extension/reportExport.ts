/**
 * Renders a FileReport (the `weightscope inspect --json` shape) as JSON, Markdown or CSV, and
 * writes exports atomically to new files. No `vscode` import: unit-tested in plain Node.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkpointFiles } from '../analysis/checkpointFiles';
import type { FileReport } from '../analysis/report';
import { knownElementCount, shapeText, unknownShapeNote } from '../core/model';
import { resolveLocalEntry } from '../formats/registry';
import type { TableFormat } from '../protocol/weightsPanel';

/** File extension per export format. */
export const formatExtensions: Readonly<Record<TableFormat, string>> = { json: 'json', markdown: 'md', csv: 'csv' };

/**
 * The file name an export suggests: `<name without its extension>.weightscope.<ext>` for a file,
 * `<name>.weightscope.<ext>` for a folder (a SavedModel or checkpoint folder, whose name's dots, as
 * in `model-tf2.2`, are no extension).
 */
export function exportFileName(name: string, isFolder: boolean, format: TableFormat): string {
  const base = (isFolder ? name : name.replace(/\.[^.]*$/, '')) || 'weights';
  return `${base}.weightscope.${formatExtensions[format]}`;
}

/**
 * The export format named by `value` (a webview message or a command argument, so untrusted);
 * throws a RangeError naming the value and the formats there are.
 */
export function tableFormatOf(value: unknown): TableFormat {
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(formatExtensions, value)) {
    return value as TableFormat;
  }
  const shown = JSON.stringify(value) ?? String(value);
  throw new RangeError(`Unknown report format ${shown.length > 40 ? `${shown.slice(0, 39)}…` : shown}; expected ${Object.keys(formatExtensions).join(', ')}.`);
}

/** Keeps only the named tensors (and the layers that still have some), in report order. */
export function restrictReport(report: FileReport, names: readonly string[] | undefined): FileReport {
  if (!names) {
    return report;
  }
  const keep = new Set(names);
  return {
    ...report,
    tensors: report.tensors.filter((t) => keep.has(t.name)),
    layers: report.layers.map((l) => ({ ...l, tensors: l.tensors.filter((n) => keep.has(n)) })).filter((l) => l.tensors.length > 0),
  };
}

/** Column headers of the CSV export. */
export const csvColumns = [
  'name',
  'layer',
  'role',
  'group',
  'dtype',
  'storage_dtype',
  'shape',
  'params',
  'bytes',
  'mean',
  'std',
  'min',
  'max',
  'abs_max',
  'zero_fraction',
  'nan',
  'pos_inf',
  'neg_inf',
  'error',
] as const;


/** A number as text with full precision ('' when absent). */
function num(v: number | null | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

/** One CSV field: quoted when needed; text that a spreadsheet would run as a formula is defused. */
function csvField(v: string, isText: boolean): string {
  let s = v;
  if (isText && /^[=+\-@\t\r]/.test(s)) {
    s = `'${s}`;
  }
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The tensors of a report as CSV (RFC 4180, CRLF line ends, header row). */
export function reportToCsv(report: FileReport): string {
  const rows = [csvColumns.join(',')];
  for (const t of report.tensors) {
    const s = t.stats;
    const cells: [string, boolean][] = [
      [t.name, true],
      [t.layer, true],
      [t.role, true],
      [t.group, true],
      [t.dtype, true],
      [t.storageDtype ?? '', true],
      [shapeText(t), false],
      [num(knownElementCount(t)), false],
      [String(t.byteLength), false],
      [num(s?.mean), false],
      [num(s?.std), false],
      [num(s?.min), false],
      [num(s?.max), false],
      [num(s?.absMax), false],
      [s && s.count > 0 ? String(s.zeroCount / s.count) : '', false],
      [num(s?.nanCount), false],
      [num(s?.posInfCount), false],
      [num(s?.negInfCount), false],
      [t.error ? `${t.error.reason}: ${t.error.message}` : '', true],
    ];
    rows.push(cells.map(([v, text]) => csvField(v, text)).join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

/** Escapes text for a Markdown table cell (pipes, backslashes, line breaks, HTML). */
function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A number for humans: 4 significant digits, '' when absent. */
function short(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (v === 0) {
    return '0';
  }
  return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

/** The report as a Markdown document: summary, warnings, layer table, tensor table. */
export function reportToMarkdown(report: FileReport): string {
  const out: string[] = [];
  out.push(`# ${mdCell(path.basename(report.path))}`, '');
  out.push(`- Format: ${mdCell(report.formatName)} (\`${report.format}\`)`);
  if (report.modelClass) {
    out.push(`- Model: ${mdCell(report.modelClass)}`);
  }
  out.push(`- Tensors: ${report.tensors.length}`, `- Parameters: ${report.params}${unknownShapeNote(report.unknownShapeTensors)}`, `- Bytes: ${report.bytes}`, '');
  if (report.warnings.length > 0) {
    out.push('## Warnings', '');
    for (const w of report.warnings) {
      out.push(`- \`${w.reason}\`: ${mdCell(w.message)}`);
    }
    out.push('');
  }
  if (report.layers.length > 0) {
    out.push('## Layers', '', '| layer | class | activation | params | tensors |', '|---|---|---|--:|--:|');
    for (const l of report.layers) {
      out.push(`| ${mdCell(l.name)} | ${mdCell(l.className ?? '')} | ${mdCell(l.activation ?? '')} | ${l.params} | ${l.tensors.length} |`);
    }
    out.push('');
  }
  out.push('## Tensors', '', '| name | dtype | shape | params | mean | std | min | max | zeros | NaN/Inf | error |', '|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const t of report.tensors) {
    const s = t.stats;
    const nonFinite = s ? s.nanCount + s.posInfCount + s.negInfCount : undefined;
    out.push(
      `| ${mdCell(t.name)} | ${t.dtype}${t.storageDtype ? ` (${t.storageDtype})` : ''} | ${shapeText(t, ', ')} | ${knownElementCount(t) ?? '?'} | ${short(s?.mean)} | ${short(s?.std)} | ${short(s?.min)} | ${short(s?.max)} | ${
        s && s.count > 0 ? `${((100 * s.zeroCount) / s.count).toFixed(1)}%` : ''
      } | ${nonFinite ?? ''} | ${t.error ? mdCell(`${t.error.reason}: ${t.error.message}`) : ''} |`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** The report in the requested format. */
export function renderReport(report: FileReport, format: TableFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'markdown':
      return reportToMarkdown(report);
    case 'csv':
      return reportToCsv(report);
  }
}

/**
 * The files an export must not replace: the checkpoint opened from `localPath` (a file or a model
 * folder), its entry file and its companions (TF.js shards, `.data-*` files, a SavedModel's
 * variables/); just `localPath` when they cannot be listed.
 */
export async function inputFilesOf(localPath: string): Promise<string[]> {
  try {
    return [localPath, ...(await checkpointFiles(await resolveLocalEntry(localPath)))];
  } catch {
    return [localPath];
  }
}

/**
 * Writes `text` to `target` atomically: a temporary file in the same folder, then a rename, so a
 * reader never sees half a file. Refuses to overwrite any of `protectedPaths` (the inputs).
 */
export async function writeFileAtomic(target: string, text: string, protectedPaths: readonly string[] = []): Promise<void> {
  const resolved = path.resolve(target);
  if (protectedPaths.some((p) => path.resolve(p) === resolved)) {
    throw new Error(`Refusing to overwrite the input file ${resolved}; choose a new file for the export.`);
  }
  const tmp = path.join(path.dirname(resolved), `.${path.basename(resolved)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.promises.writeFile(tmp, text, { encoding: 'utf8', flag: 'wx' });
    await fs.promises.rename(tmp, resolved);
  } catch (ex) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined); // best-effort cleanup; the original error matters
    throw ex;
  }
}
