// Runs the whole suite: build, unit tests (node:test), then integration and e2e tests in a real
// VS Code workbench (scripts/e2e/run.mjs).
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

if (!unitOnly && fs.existsSync(path.join(root, 'scripts', 'e2e', 'run.mjs'))) {
  const e2e = run(process.execPath, ['scripts/e2e/run.mjs']);
  status = status || e2e;
}
process.exit(status);
