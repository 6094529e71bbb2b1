/**
 * The files a checkpoint consists of (its entry file plus companions: TF.js weight shards, a
 * tensor bundle's data shards, a SavedModel's variables/, the configs beside a `.weights.h5`), and
 * a stamp over them (total size, latest mtime) that tells whether cached results such as
 * fingerprints are still valid.
 */
import * as path from 'node:path';
import { listDir, readRegularTextFile, statPath } from '../core/nodeFileSource';
import { configCandidates } from '../formats/kerasV3';

/** Largest model.json parsed for its manifest paths, in bytes. */
const maxManifestBytes = 64 * 1024 * 1024;

/** Paths of the files that make up the checkpoint opened through `entry` (entry first). */
export async function checkpointFiles(entry: string): Promise<string[]> {
  const dir = path.dirname(entry);
  const base = path.basename(entry);
  const out = [entry];
  if (base.endsWith('.json')) {
    try {
      const json = JSON.parse(await readRegularTextFile(entry, maxManifestBytes)) as { weightsManifest?: { paths?: unknown }[] };
      for (const group of json.weightsManifest ?? []) {
        for (const p of Array.isArray(group.paths) ? group.paths : []) {
          if (typeof p === 'string') {
            out.push(path.resolve(dir, p));
          }
        }
      }
    } catch {
      // unreadable, too large or not JSON: only the entry itself
    }
  } else if (base.endsWith('.index')) {
    const prefix = base.slice(0, -'.index'.length);
    for (const e of await listDir(dir)) {
      if (!e.isDir && e.name.startsWith(`${prefix}.data-`)) {
        out.push(path.join(dir, e.name));
      }
    }
  } else if (/\.weights\.h5$/i.test(base)) {
    // The sibling configs its reader may take layer names from (present or not: one that appears counts).
    out.push(...configCandidates(base).map((name) => path.join(dir, name)));
  } else if (base === 'saved_model.pb') {
    const vars = path.join(dir, 'variables');
    for (const e of await listDir(vars).catch(() => [])) {
      if (!e.isDir) {
        out.push(path.join(vars, e.name));
      }
    }
  }
  return out;
}

/** Total size and latest mtime of a checkpoint's files (missing files count as size -1). */
export async function checkpointStamp(entry: string): Promise<{ size: number; mtimeMs: number }> {
  let size = 0;
  let mtimeMs = 0;
  for (const f of await checkpointFiles(entry)) {
    const st = await statPath(f);
    size += st ? st.size : -1;
    mtimeMs = Math.max(mtimeMs, st?.mtimeMs ?? 0);
  }
  return { size, mtimeMs };
}
