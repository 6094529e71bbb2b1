/**
 * File-system failures a root test process cannot provoke (root reads and writes through any
 * permission bits): an error shaped exactly as Node's fs functions throw it, and a temporary patch
 * that makes one `fs.promises` function fail with it for one path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** An error as Node's fs throws it: message, `code`, negative `errno`, `syscall` and `path`. */
export function errnoError(code: keyof typeof os.constants.errno, syscall: string, file: string): NodeJS.ErrnoException {
  const errno = os.constants.errno[code];
  return Object.assign(new Error(`${code}: ${code === 'EACCES' ? 'permission denied' : 'failed'}, ${syscall} '${file}'`), {
    code,
    errno: -errno,
    syscall,
    path: file,
  });
}

/** Makes `fs.promises[name]` fail with `code` when its first argument is `file` or starts with it (a temporary sibling); returns the undo. */
export function failFsCall(name: 'open' | 'readdir' | 'writeFile' | 'stat', file: string, code: keyof typeof os.constants.errno): () => void {
  return failFsCallWhere(name, (p) => p.startsWith(path.resolve(file)), code);
}

/** Makes `fs.promises[name]` fail with `code` when its first argument is a path for which `matches(absolute path)` holds; returns the undo. */
export function failFsCallWhere(name: 'open' | 'readdir' | 'writeFile' | 'stat' | 'rename', matches: (file: string) => boolean, code: keyof typeof os.constants.errno): () => void {
  const api = fs.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = api[name]!;
  api[name] = (...args: unknown[]) => (typeof args[0] === 'string' && matches(path.resolve(args[0])) ? Promise.reject(errnoError(code, name, args[0])) : original(...args));
  return () => {
    api[name] = original;
  };
}

/** Why tests that need permission bits to bite are skipped when the test process runs as root. */
export const rootSkip: { skip: string | false } = {
  skip: process.getuid?.() === 0 ? 'runs as root, which reads and writes through permission bits' : false,
};
