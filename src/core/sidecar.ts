/**
 * Metadata sidecars: `<checkpoint file>.weightscope.json` next to a checkpoint holds notes, tags,
 * the parent checkpoint, metrics, the creation time, the workspace's git commit and cached
 * fingerprints. The checkpoint itself is never opened for writing; the sidecar is replaced
 * atomically (temporary sibling + rename).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from './atomicWrite';
import { WeightFileError } from './errors';
import { readRegularTextFile } from './nodeFileSource';
import { parseFileJson } from './json';

/** Suffix appended to a checkpoint's file name to get its sidecar. */
export const sidecarSuffix = '.weightscope.json';

/** Largest sidecar read, in bytes. */
export const maxSidecarBytes = 4 * 1024 * 1024;

/** Cached fingerprints, valid while the checkpoint's files keep their total size and latest mtime. */
export interface SidecarFingerprints {
  /** Model fingerprint (SHA-256 hex). */
  model: string;
  /** Total size in bytes of the checkpoint's files (entry and companions) when computed. */
  size: number;
  /** Latest mtime in ms of the checkpoint's files when computed. */
  mtimeMs: number;
  /** Per-tensor fingerprints by tensor name. */
  tensors: Record<string, string>;
}

/** The content of a sidecar. Unknown keys are kept when it is rewritten. */
export interface Sidecar {
  /** Schema version (1). */
  version: 1;
  /** Free-form notes. */
  notes?: string;
  /** Tags. */
  tags?: string[];
  /** The checkpoint this one was trained from, relative to this checkpoint's folder. */
  parent?: string | null;
  /** Metrics at save time, e.g. {val_loss: 0.31}. */
  metrics?: Record<string, number>;
  /** Creation time, ISO 8601. */
  created?: string;
  /** Git commit of the workspace when the sidecar was created, when it is a git work tree. */
  gitCommit?: string | null;
  /** Training epoch of the checkpoint, when known. */
  epoch?: number;
  /** Training step of the checkpoint, when known. */
  step?: number;
  /** Cached fingerprints. */
  fingerprints?: SidecarFingerprints;
  /** Other keys written by newer versions, kept as they are. */
  [key: string]: unknown;
}

/** The sidecar path of a checkpoint file. */
export function sidecarPath(checkpointFile: string): string {
  return `${checkpointFile}${sidecarSuffix}`;
}

/** True for sidecar file names (so folder scans skip them). */
export function isSidecarName(name: string): boolean {
  return name.endsWith(sidecarSuffix);
}

/** Reads and validates a checkpoint's sidecar; undefined when there is none. Throws `corrupt` for bad JSON. */
export async function readSidecar(checkpointFile: string): Promise<Sidecar | undefined> {
  const file = sidecarPath(checkpointFile);
  let text: string;
  try {
    text = await readRegularTextFile(file, maxSidecarBytes);
  } catch (ex) {
    if (WeightFileError.is(ex, 'notFound')) {
      return undefined;
    }
    throw ex;
  }
  let json: unknown;
  try {
    json = parseFileJson(text);
  } catch (ex) {
    throw new WeightFileError('corrupt', `${file}: the sidecar is not valid JSON (${(ex as Error).message}).`, { file }, { cause: ex });
  }
  return validateSidecar(json, file);
}

/** Checks the shape of parsed sidecar JSON; throws `corrupt` quoting the first bad field. */
export function validateSidecar(json: unknown, file: string): Sidecar {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new WeightFileError('corrupt', `${file}: the sidecar must be a JSON object, not '${String(JSON.stringify(json)).slice(0, 40)}'.`, { file });
  }
  const o = json as Record<string, unknown>;
  const bad = (field: string): never => {
    throw new WeightFileError('corrupt', `${file}: sidecar field '${field}' has an invalid value '${String(JSON.stringify(o[field])).slice(0, 60)}'.`, { file });
  };
  if (o['version'] !== undefined && o['version'] !== 1) {
    bad('version');
  }
  if (o['notes'] !== undefined && typeof o['notes'] !== 'string') {
    bad('notes');
  }
  if (o['tags'] !== undefined && !(Array.isArray(o['tags']) && o['tags'].every((t) => typeof t === 'string'))) {
    bad('tags');
  }
  if (o['parent'] !== undefined && o['parent'] !== null && typeof o['parent'] !== 'string') {
    bad('parent');
  }
  const metrics = o['metrics'];
  if (metrics !== undefined && (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics) || !Object.values(metrics).every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    bad('metrics');
  }
  if (o['created'] !== undefined && (typeof o['created'] !== 'string' || Number.isNaN(Date.parse(o['created'])))) {
    bad('created');
  }
  if (o['gitCommit'] !== undefined && o['gitCommit'] !== null && !(typeof o['gitCommit'] === 'string' && /^[0-9a-f]{7,64}$/.test(o['gitCommit']))) {
    bad('gitCommit');
  }
  for (const k of ['epoch', 'step']) {
    if (o[k] !== undefined && !(typeof o[k] === 'number' && Number.isInteger(o[k]) && (o[k] as number) >= 0)) {
      bad(k);
    }
  }
  const fp = o['fingerprints'];
  if (fp !== undefined) {
    const f = fp as Record<string, unknown>;
    if (typeof fp !== 'object' || fp === null || typeof f['model'] !== 'string' || typeof f['size'] !== 'number' || typeof f['mtimeMs'] !== 'number' || typeof f['tensors'] !== 'object' || f['tensors'] === null) {
      bad('fingerprints');
    }
  }
  return { ...o, version: 1 } as Sidecar;
}

/**
 * Merges `patch` into the checkpoint's sidecar (creating it with `created` and `gitCommit`
 * filled in) and writes it atomically. Keys set to undefined in the patch are removed.
 * Refuses to write when the checkpoint does not exist.
 */
export async function updateSidecar(checkpointFile: string, patch: Partial<Sidecar>): Promise<Sidecar> {
  try {
    await fs.promises.stat(checkpointFile);
  } catch (ex) {
    throw new WeightFileError('notFound', `${checkpointFile}: the checkpoint does not exist, so no sidecar is written for it.`, { file: checkpointFile }, { cause: ex });
  }
  const current = (await readSidecar(checkpointFile)) ?? {
    version: 1 as const,
    created: new Date().toISOString(),
    gitCommit: (await workspaceGitCommit(path.dirname(path.resolve(checkpointFile)))) ?? null,
  };
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) {
      delete next[k];
    } else {
      next[k] = v;
    }
  }
  const checked = validateSidecar(next, sidecarPath(checkpointFile));
  await writeFileAtomic(sidecarPath(checkpointFile), `${JSON.stringify(checked, null, 2)}\n`);
  return checked;
}

/** Largest git ref or HEAD file read, in bytes. */
const maxRefBytes = 64 * 1024 * 1024;

/**
 * The commit checked out in the git work tree containing `dir` (read from `.git` without running
 * git: HEAD, loose refs, packed-refs, worktree `gitdir:` files); undefined outside a work tree.
 */
export async function workspaceGitCommit(dir: string): Promise<string | undefined> {
  let d = path.resolve(dir);
  for (;;) {
    const dotGit = path.join(d, '.git');
    const st = await fs.promises.stat(dotGit).catch(() => undefined);
    if (st) {
      let gitDir = dotGit;
      if (st.isFile()) {
        const m = /^gitdir:\s*(.+)$/m.exec((await readSmallFile(dotGit)) ?? '');
        if (!m) {
          return undefined;
        }
        gitDir = path.resolve(d, m[1]!.trim());
      }
      return resolveHead(gitDir);
    }
    const up = path.dirname(d);
    if (up === d) {
      return undefined;
    }
    d = up;
  }
}

/** A small regular file's text (at most maxRefBytes); undefined when it is anything else. */
function readSmallFile(p: string): Promise<string | undefined> {
  return readRegularTextFile(p, maxRefBytes).catch(() => undefined);
}

async function resolveHead(gitDir: string): Promise<string | undefined> {
  const head = (await readSmallFile(path.join(gitDir, 'HEAD')))?.trim();
  if (!head) {
    return undefined;
  }
  if (/^[0-9a-f]{40,64}$/.test(head)) {
    return head;
  }
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) {
    return undefined;
  }
  // Linked worktrees keep refs in the common dir.
  const common = (await readSmallFile(path.join(gitDir, 'commondir')))?.trim();
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const g of dirs) {
    const loose = (await readSmallFile(path.join(g, ref)))?.trim();
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) {
      return loose;
    }
    const packed = await readSmallFile(path.join(g, 'packed-refs'));
    const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line) {
      return line.split(' ')[0];
    }
  }
  return undefined;
}
