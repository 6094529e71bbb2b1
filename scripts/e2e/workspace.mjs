// Builds the throwaway workspace the integration and e2e tests open: copies of the shared
// fixtures (never committed, never symlinked into the repository) plus broken files made here.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root. */
export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
/** The shared fixtures folder next to the repository. */
export const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures');
/** True when the shared fixtures are present (WEIGHTSCOPE_E2E_NO_FIXTURES=1 simulates their absence). */
export const haveFixtures = !process.env.WEIGHTSCOPE_E2E_NO_FIXTURES && fs.existsSync(path.join(fixturesDir, 'README.md'));
/** Why fixture-based tests are skipped. */
export const missingFixturesReason = 'shared fixtures not found at ../shared/fixtures; fixture-based tests skipped';

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      copyTree(src, dst);
    } else if (e.isFile()) {
      // Written fresh (not copyFile) so the copies are writable and removable like any temp file.
      fs.writeFileSync(dst, fs.readFileSync(src));
    }
  }
}

/**
 * Fills `dir` with `fixtures/` (a copy of ../shared/fixtures, when present), `broken/` (files
 * that must show an error state) and `duplicates/` (two copies of one example model). Returns
 * what was made.
 */
export function makeWorkspace(dir) {
  fs.mkdirSync(dir, { recursive: true });
  if (haveFixtures) {
    copyTree(fixturesDir, path.join(dir, 'fixtures'));
  }
  const broken = path.join(dir, 'broken');
  fs.mkdirSync(broken, { recursive: true });
  // A Keras file cut after its HDF5 superblock signature: recognisable, then truncated.
  const hdf5Signature = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  const truncatedH5 = haveFixtures
    ? fs.readFileSync(path.join(fixturesDir, 'keras-h5', 'alphabet-soup-charity-keras2.15', 'AlphabetSoupCharity.h5')).subarray(0, 1000)
    : Buffer.concat([hdf5Signature, Buffer.alloc(40)]);
  fs.writeFileSync(path.join(broken, 'truncated.h5'), truncatedH5);
  fs.writeFileSync(path.join(broken, 'not-weights.h5'), 'these are not weights, just a line of text\n');
  fs.writeFileSync(
    path.join(broken, 'lfs-pointer.h5'),
    'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n',
  );
  fs.writeFileSync(path.join(broken, 'empty.safetensors'), '');
  // Two byte-identical copies of a committed example model: the same weights twice, for the
  // fingerprint grouping (Duplicates in the Weights tree, Find Duplicate Weights).
  const duplicates = path.join(dir, 'duplicates');
  copyTree(path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform'), path.join(duplicates, 'copy-a'));
  copyTree(path.join(repoRoot, 'examples', 'initialization', 'good-init-glorot-uniform'), path.join(duplicates, 'copy-b'));
  return { dir, fixtures: haveFixtures ? path.join(dir, 'fixtures') : undefined, broken, duplicates };
}
