/**
 * Reading, editing and creating a checkpoint's metadata sidecar for the panels (the diff panel and
 * the weights panel share this): the sidecar as a SidecarDto, the checks an edit from a webview
 * must pass (notes, tags, parent path, metrics), and writes through updateSidecar (atomic, never
 * touching the checkpoint) with a clear message when the folder cannot be written. No `vscode`
 * import: unit-tested in plain Node.
 */
import * as path from 'node:path';
import { summarizeError, WeightFileError, type ErrorSummary } from '../core/errors';
import { readSidecar, sidecarPath, updateSidecar, type Sidecar, type SidecarFingerprints } from '../core/sidecar';
import type { SidecarDto, SidecarEditDto } from '../protocol/sidecar';

/** Longest notes accepted, in characters. */
export const maxNotesChars = 100_000;

/** Most tags accepted. */
export const maxTags = 100;

/** Longest tag or metric name accepted, in characters. */
export const maxNameChars = 200;

/** Most metrics accepted. */
export const maxMetrics = 500;

/** Longest parent path accepted, in characters. */
export const maxParentChars = 4096;

/** The sidecar of `checkpointFile` as the panels show it (`s` undefined: there is none yet). */
export function toSidecarDto(s: Sidecar | undefined, checkpointFile: string): SidecarDto {
  return {
    notes: s?.notes ?? '',
    tags: s?.tags ?? [],
    parent: s?.parent ?? '',
    metrics: s?.metrics ?? {},
    ...(s?.created !== undefined ? { created: s.created } : {}),
    ...(s?.gitCommit !== undefined ? { gitCommit: s.gitCommit } : {}),
    ...(s?.fingerprints?.model !== undefined ? { modelFingerprint: s.fingerprints.model } : {}),
    ...(s?.epoch !== undefined ? { epoch: s.epoch } : {}),
    ...(s?.step !== undefined ? { step: s.step } : {}),
    path: sidecarPath(checkpointFile),
    exists: s !== undefined,
  };
}

/** Quotes a value from a webview for a message (short, JSON). */
function quote(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

/** Tags of an edit: trimmed, empty ones dropped, duplicates dropped; a comma or an over-long tag is refused. */
export function validateTags(tags: unknown): string[] {
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
    throw new RangeError(`Tags must be a list of text, not ${quote(tags)}.`);
  }
  const out: string[] = [];
  for (const raw of tags) {
    const t = raw.trim();
    if (t === '' || out.includes(t)) {
      continue;
    }
    if (t.includes(',') || /[\r\n]/.test(t)) {
      throw new RangeError(`Tag ${quote(t)} contains a comma or a line break; tags are separated by commas.`);
    }
    if (t.length > maxNameChars) {
      throw new RangeError(`Tag ${quote(t)} is longer than ${maxNameChars} characters.`);
    }
    out.push(t);
  }
  if (out.length > maxTags) {
    throw new RangeError(`${out.length} tags are more than the ${maxTags} a sidecar holds.`);
  }
  return out;
}

/** Metrics of an edit: names without spaces or '=' (the form writes name=value), finite numbers only. */
export function validateMetrics(metrics: unknown): Record<string, number> {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw new RangeError(`Metrics must be an object of name: number, not ${quote(metrics)}.`);
  }
  const entries = Object.entries(metrics as Record<string, unknown>);
  if (entries.length > maxMetrics) {
    throw new RangeError(`${entries.length} metrics are more than the ${maxMetrics} a sidecar holds.`);
  }
  const out: Record<string, number> = {};
  for (const [name, value] of entries) {
    if (name === '' || /[\s=]/.test(name) || name.length > maxNameChars) {
      throw new RangeError(`Metric name ${quote(name)} must be 1 to ${maxNameChars} characters without spaces or '='.`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RangeError(`Metric '${name}' must be a finite number, not ${quote(value)}.`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * The parent checkpoint of an edit, relative to the checkpoint's folder with '/' separators ('' for
 * none). An absolute path is made relative; the checkpoint itself, a NUL byte or an over-long path
 * is refused.
 */
export function validateParent(parent: unknown, checkpointFile: string): string {
  if (typeof parent !== 'string') {
    throw new RangeError(`The parent checkpoint must be a path, not ${quote(parent)}.`);
  }
  const p = parent.trim();
  if (p === '') {
    return '';
  }
  if (p.includes('\0') || p.length > maxParentChars) {
    throw new RangeError(`The parent checkpoint ${quote(p)} is not a usable path.`);
  }
  const dir = path.dirname(path.resolve(checkpointFile));
  const absolute = path.resolve(dir, p);
  if (absolute === path.resolve(checkpointFile)) {
    throw new RangeError(`The parent checkpoint ${quote(p)} is this checkpoint itself.`);
  }
  const relative = path.isAbsolute(p) ? path.relative(dir, absolute) : p;
  return path.posix.normalize(relative.split(path.sep).join('/').replace(/\\/g, '/'));
}

/** Checks an edit sent by a webview and turns it into a sidecar patch (empty fields remove their keys). */
export function validateSidecarEdit(edit: unknown, checkpointFile: string): Partial<Sidecar> {
  if (typeof edit !== 'object' || edit === null) {
    throw new RangeError(`The metadata to save must be an object, not ${quote(edit)}.`);
  }
  const e = edit as Partial<Record<keyof SidecarEditDto, unknown>>;
  if (typeof e.notes !== 'string') {
    throw new RangeError(`Notes must be text, not ${quote(e.notes)}.`);
  }
  if (e.notes.length > maxNotesChars) {
    throw new RangeError(`The notes have ${e.notes.length} characters, more than the ${maxNotesChars} a sidecar holds.`);
  }
  const tags = validateTags(e.tags);
  const metrics = validateMetrics(e.metrics);
  const parent = validateParent(e.parent, checkpointFile);
  return {
    notes: e.notes.trim() === '' ? undefined : e.notes,
    tags: tags.length > 0 ? tags : undefined,
    parent: parent !== '' ? parent : undefined,
    metrics: Object.keys(metrics).length > 0 ? metrics : undefined,
  };
}

/** Node error codes of a folder that cannot be written. */
const readOnlyCodes: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * The error to show when writing a sidecar failed: a WeightFileError (corrupt sidecar, missing
 * checkpoint) as it is; a read-only folder, a full disk or another system error as one clear sentence.
 */
export function saveFailure(error: unknown, sidecarFile: string): Error {
  // A write the file system refused (permissionDenied, see fileSystemError) is told from its cause.
  const ex = WeightFileError.is(error, 'permissionDenied') && (error.cause as NodeJS.ErrnoException | undefined)?.code ? error.cause : error;
  if (ex instanceof WeightFileError || ex instanceof RangeError) {
    return ex;
  }
  const code = (ex as NodeJS.ErrnoException | undefined)?.code;
  const dir = path.dirname(sidecarFile);
  if (code !== undefined && readOnlyCodes.has(code)) {
    return new Error(`Cannot save the metadata: the folder ${dir} is read-only (${code}), so ${path.basename(sidecarFile)} was not written; the checkpoint is unchanged.`, { cause: ex });
  }
  if (code === 'ENOSPC') {
    return new Error(`Cannot save the metadata: the disk holding ${dir} is full (${code}); the checkpoint is unchanged.`, { cause: ex });
  }
  return new Error(`Cannot save the metadata to ${sidecarFile}: ${ex instanceof Error ? ex.message : String(ex)}`, { cause: ex });
}

/** Saves an edit from a panel into the checkpoint's sidecar (created when absent) and returns the result. */
export async function saveSidecarEdit(checkpointFile: string, edit: unknown): Promise<SidecarDto> {
  const patch = validateSidecarEdit(edit, checkpointFile);
  try {
    return toSidecarDto(await updateSidecar(checkpointFile, patch), checkpointFile);
  } catch (ex) {
    throw saveFailure(ex, sidecarPath(checkpointFile));
  }
}

/**
 * Creates the checkpoint's sidecar with its creation time and the workspace's git commit (filled
 * in by updateSidecar) and, when given, the fingerprints; an existing sidecar is returned unchanged.
 */
export async function createSidecar(checkpointFile: string, fingerprints?: SidecarFingerprints): Promise<SidecarDto> {
  try {
    const existing = await readSidecar(checkpointFile);
    if (existing) {
      return toSidecarDto(existing, checkpointFile);
    }
    return toSidecarDto(await updateSidecar(checkpointFile, fingerprints ? { fingerprints } : {}), checkpointFile);
  } catch (ex) {
    throw saveFailure(ex, sidecarPath(checkpointFile));
  }
}

/** The sidecar of a checkpoint for a panel, or why it cannot be read (corrupt JSON, too large ...). */
export async function readSidecarDto(checkpointFile: string): Promise<{ sidecar: SidecarDto } | { error: ErrorSummary; path: string }> {
  try {
    return { sidecar: toSidecarDto(await readSidecar(checkpointFile), checkpointFile) };
  } catch (ex) {
    return { error: summarizeError(ex), path: sidecarPath(checkpointFile) };
  }
}
