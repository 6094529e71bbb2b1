/**
 * Access to the shared real-file fixtures (`../shared/fixtures` next to the repository). Tests
 * that need them call `fixtureOrSkip`, which marks the test skipped, with the reason, when the
 * folder is absent.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

/** Repository root (this file is out/test/unit/helpers/fixtures.js once built). */
export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

/** The shared fixtures folder. */
export const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures');

/** True when the shared fixtures are present. */
export const haveFixtures = fs.existsSync(path.join(fixturesDir, 'README.md'));

/** Why fixture tests are skipped. */
export const missingFixturesReason = `shared fixtures not found at ../shared/fixtures; real-file tests skipped`;

/** Absolute path of a fixture, or undefined (and the test marked skipped) when fixtures are absent. */
export function fixtureOrSkip(t: TestContext, relative: string): string | undefined {
  if (!haveFixtures) {
    t.skip(missingFixturesReason);
    return undefined;
  }
  return path.join(fixturesDir, relative);
}

/** Skip option for `test(name, skipUnlessFixtures, fn)`. */
export const skipUnlessFixtures: { skip: string | false } = { skip: haveFixtures ? false : missingFixturesReason };

/** Every file under `dir` (relative path) with its bytes (base64): to show that nothing in it changed. */
export function folderSnapshot(dir: string): Map<string, string> {
  return new Map(
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => fs.statSync(path.join(dir, f)).isFile())
      .map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]),
  );
}

/** Temporary folders made by makeTempDir, removed at exit (one exit listener for all). */
const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** A fresh temporary folder under the OS temp dir, removed by the caller (or at exit). */
export function makeTempDir(prefix = 'weightscope-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of tempDirs) {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
  tempDirs.add(dir);
  return dir;
}

/** Runs `fn` with os.tmpdir() answering a new empty folder (TMPDIR, or TEMP and TMP on Windows), which it is given; restores them after. */
export async function withOwnTmpdir<T>(fn: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = makeTempDir('weightscope-tmpdir-');
  const names = ['TMPDIR', 'TEMP', 'TMP'];
  const saved = names.map((n) => process.env[n]);
  for (const n of names) {
    process.env[n] = tmp;
  }
  try {
    return await fn(tmp);
  } finally {
    names.forEach((n, i) => {
      if (saved[i] === undefined) {
        delete process.env[n];
      } else {
        process.env[n] = saved[i];
      }
    });
  }
}
