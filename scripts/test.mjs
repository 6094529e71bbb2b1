// Runs the whole suite: build, unit tests (node:test), then integration and e2e tests in a real
// VS Code workbench (scripts/e2e/run.mjs), then the e2e scenarios again against the packaged .vsix.
//   node scripts/test.mjs            everything
//   node scripts/test.mjs --unit     build + unit tests only
//   node scripts/test.mjs --unit test/unit/formats/tfjs.test.ts   selected unit test files
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const unitOnly = argv.includes('--unit');
const selected = argv.filter((a) => !a.startsWith('--'));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function listTests(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTests(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

if (run(process.execPath, ['scripts/build.mjs']) !== 0) process.exit(1);

const files = selected.length
  ? selected.map((f) => path.join(root, 'out', f.replace(/\.ts$/, '.js')))
  : listTests(path.join(root, 'out', 'test', 'unit'));
let status = run(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files]);

if (!unitOnly) {
  // Integration suites and e2e scenarios in a real workbench, against the development folder ...
  status = run(process.execPath, ['scripts/e2e/run.mjs']) || status;
  // ... and once more against the packaged .vsix installed into the workbench.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const vsix = path.join(root, `${pkg.name}-${pkg.version}.vsix`);
  const packaged = run(process.execPath, ['scripts/package.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  status = (packaged || run(process.execPath, ['scripts/e2e/run.mjs', '--vsix', vsix])) || status;
  // package.mjs rebuilt dist/ for production; rebuild the development bundles for later runs.
  run(process.execPath, ['scripts/build.mjs', '--dist-only']);
}
process.exit(status);
