/**
 * Weight files at a git revision: "Compare with HEAD" and "Compare with Previous Commit" extract
 * the file and its companions (TF.js shards, checkpoint data files, a SavedModel's variables/) as
 * they were in a commit into a temporary folder, by running the `git` executable.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeFolder } from '../../core/atomicWrite';
import { WeightFileError } from '../../core/errors';

/** Largest total size extracted from one revision, in bytes. */
export const maxRevisionBytes = 4 * 1024 * 1024 * 1024;

/** Most files extracted from one revision. */
const maxRevisionFiles = 2000;

/** Name prefix of the temporary folders extractAtRevision makes in the OS temp folder. */
export const revisionFolderPrefix = 'weightscope-rev-';

/**
 * The temporary folder made by extractAtRevision that holds `file` (a folder of `tmpDir` named
 * with revisionFolderPrefix), or undefined when `file` is not in one.
 */
export function revisionFolderOf(file: string, tmpDir: string = os.tmpdir()): string | undefined {
  const base = path.resolve(tmpDir);
  const rel = path.relative(base, path.resolve(file));
  const first = rel.split(path.sep)[0] ?? '';
  if (rel === '' || path.isAbsolute(rel) || first === '..' || !first.startsWith(revisionFolderPrefix) || first === revisionFolderPrefix) {
    return undefined;
  }
  return path.join(base, first);
}

/** Runs git and returns stdout as a Buffer. */
function git(cwd: string, args: string[], maxBuffer = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, encoding: 'buffer', maxBuffer, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        const msg = Buffer.isBuffer(stderr) ? stderr.toString('utf8').trim().split('\n')[0] : '';
        reject(new WeightFileError('notFound', `git ${args[0]} failed in ${cwd}: ${msg || err.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** The work tree root and the file's path relative to it (POSIX separators). */
export async function gitLocation(file: string): Promise<{ root: string; rel: string }> {
  const dir = fs.statSync(file).isDirectory() ? file : path.dirname(file);
  const root = (await git(dir, ['rev-parse', '--show-toplevel'])).toString('utf8').trim();
  const rel = path.relative(fs.realpathSync(root), fs.realpathSync(file)).split(path.sep).join('/');
  return { root, rel };
}

/**
 * The commits that changed any of `rels` (newest first), at most `n`. Pass every file of the
 * checkpoint: a TF.js model.json often stays the same while its weight shards change.
 */
export async function commitsTouching(root: string, rels: readonly string[], n: number): Promise<string[]> {
  const out = (await git(root, ['log', `-n${n}`, '--format=%H', '--', ...rels])).toString('utf8').trim();
  return out ? out.split('\n') : [];
}

/** Short description of a commit ("abc1234 subject"). */
export async function describeCommit(root: string, rev: string): Promise<string> {
  return (await git(root, ['log', '-n1', '--format=%h %s', rev])).toString('utf8').trim();
}

/** Paths (relative to the root) of the files that belong with `rel`: its folder, and a SavedModel's variables/. */
async function companions(root: string, rev: string, rel: string): Promise<{ path: string; size: number }[]> {
  const dir = path.posix.dirname(rel);
  const prefix = dir === '.' ? '' : `${dir}/`;
  const listing = (await git(root, ['ls-tree', '-r', '-l', '-z', rev, '--', prefix || '.'])).toString('utf8');
  const out: { path: string; size: number }[] = [];
  for (const entry of listing.split('\0')) {
    const m = /^\d+ blob [0-9a-f]+\s+(\d+|-)\t(.*)$/s.exec(entry);
    if (!m) {
      continue;
    }
    const p = m[2]!;
    const inner = p.slice(prefix.length);
    const depth = inner.split('/').length;
    if (depth === 1 || (depth <= 3 && inner.startsWith('variables/'))) {
      out.push({ path: p, size: m[1] === '-' ? 0 : Number(m[1]) });
    }
  }
  if (!out.some((f) => f.path === rel)) {
    throw new WeightFileError('notFound', `${rel} does not exist in commit ${rev.slice(0, 10)}.`, { file: rel });
  }
  return out;
}

/**
 * Writes `rel` and its companions as of `rev` into a new temporary folder; returns the path of
 * the extracted file and a cleanup function.
 */
export async function extractAtRevision(root: string, rev: string, rel: string): Promise<{ file: string; cleanup: () => void }> {
  const files = await companions(root, rev, rel);
  const total = files.reduce((s, f) => s + f.size, 0);
  if (files.length > maxRevisionFiles || total > maxRevisionBytes) {
    throw new WeightFileError('tooLarge', `${rel} at ${rev.slice(0, 10)}: its folder holds ${files.length} files and ${total} bytes, more than a comparison extracts.`, { file: rel });
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), revisionFolderPrefix));
  const cleanup = (): void => fs.rmSync(tmp, { recursive: true, force: true });
  try {
    for (const f of files) {
      const bytes = await git(root, ['cat-file', 'blob', `${rev}:${f.path}`], Math.max(1024, f.size + 1024));
      const target = path.join(tmp, ...f.path.split('/'));
      await makeFolder(path.dirname(target));
      fs.writeFileSync(target, bytes);
    }
  } catch (ex) {
    cleanup();
    throw ex;
  }
  return { file: path.join(tmp, ...rel.split('/')), cleanup };
}
