// `npm run package`: a production build and a .vsix (bundled code, media, the runtime packages the
// bundles load: h5wasm and TensorFlow.js with its WASM binaries; tfjs-node stays an optional
// dependency users install themselves). Prints the package size and what it holds.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, `${pkg.name}-${pkg.version}.vsix`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run(process.execPath, ['scripts/build.mjs', '--dist-only', '--production']);
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
run(process.execPath, [vsce, 'package', '--out', out, '--skip-license']);
const size = fs.statSync(out).size;
console.log(`\n${path.basename(out)}: ${(size / 1024 / 1024).toFixed(1)} MiB`);
